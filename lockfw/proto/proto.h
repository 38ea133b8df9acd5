/*
 * proto.h: the shared firmware protocol between a client (phone, gateway, installer)
 * and a parking lock: message types, field sizes, status codes, and the codec.
 *
 * The specification with worked examples is PROTOCOL.md beside this file; the two must
 * agree, and tests/unit/test-proto.c decodes every example in it. This module only
 * converts between bytes and structs and builds the byte strings that get signed; it
 * does no crypto and keeps no state. Fragmentation to the ATT MTU lives in frag.h.
 */
#ifndef PARK_PROTO_H
#define PARK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define PROTO_VERSION 1

/* Sizes, in bytes. */
#define PROTO_HDR_LEN 3          /* version, type, tag */
#define PROTO_FRAME_MAX 1024     /* a whole reassembled frame, header included */
#define PROTO_BODY_MAX (PROTO_FRAME_MAX - PROTO_HDR_LEN)
#define PROTO_PUBKEY_LEN 64      /* P-256 point, X || Y, big-endian, no 0x04 prefix */
#define PROTO_SIG_LEN 64         /* ECDSA P-256 over SHA-256, r || s, big-endian */
#define PROTO_HASH_LEN 32        /* SHA-256 */
#define PROTO_NONCE_LEN 32       /* lock challenge */
#define PROTO_CNONCE_LEN 16      /* client nonce for signed status and log reads */
#define PROTO_EVENT_LEN 20
#define PROTO_EKEY_TBS_LEN 87    /* signed part of an e-key */
#define PROTO_EKEY_LEN (PROTO_EKEY_TBS_LEN + PROTO_SIG_LEN)
#define PROTO_SKEY_TBS_LEN 96    /* signed part of a shared key */
#define PROTO_SKEY_LEN (PROTO_SKEY_TBS_LEN + PROTO_SIG_LEN)
#define PROTO_CRED_LEN 83        /* credential payload of INSTALL_CRED */
#define PROTO_SHARE_LEN 28       /* authorisation-code payload of INSTALL_SHARE */
#define PROTO_REMOTE_OPERATE_LEN 17 /* payload of REMOTE_OPERATE */
#define PROTO_REASON_DIGEST_LEN 8 /* first bytes of SHA-256 of an override's reason text */
#define PROTO_MGMT_HDR_LEN 11    /* mtype, target spot, seq, payload length */
#define PROTO_REVOKE_MAX 128     /* key IDs in one revocation list */
#define PROTO_LOG_PAGE_MAX 32    /* events in one LOG reply */

/* ATT MTU bounds; a GATT write or notification carries at most MTU - 3 bytes. */
#define PROTO_MTU_MIN 23
#define PROTO_MTU_MAX 247
#define PROTO_ATT_OVERHEAD 3

/* "No limit" values for key limits. */
#define PROTO_TIME_NONE_BEFORE 0u
#define PROTO_TIME_NONE_AFTER 0xFFFFFFFFu
#define PROTO_UNLIMITED_USES 0u
#define PROTO_USES_LEFT_UNLIMITED 0xFFFFu

/* Message types. Requests have the high bit clear, replies and notifications set. */
enum proto_type {
	PROTO_HELLO = 0x01,
	PROTO_CHALLENGE_REQ = 0x02,
	PROTO_OPERATE = 0x03,
	PROTO_OPERATE_SHARED = 0x04,
	PROTO_STATUS_REQ = 0x05,
	PROTO_LOG_REQ = 0x06,
	PROTO_PROVISION = 0x07,
	PROTO_MGMT = 0x10,
	PROTO_INFO = 0x81,
	PROTO_CHALLENGE = 0x82,
	PROTO_RESULT = 0x83,
	PROTO_STATUS = 0x85,
	PROTO_LOG = 0x86,
	PROTO_EVENT = 0x88,
	PROTO_MGMT_ACK = 0x90,
	PROTO_ERROR = 0xFF,
};

/*
 * Status codes: the result byte of RESULT, MGMT_ACK and ERROR. Functions of the protocol
 * and of the lock core return 0 or the negated code. Values are stable; never reuse one.
 */
enum proto_code {
	PROTO_OK = 0,
	PROTO_E_VERSION = 1,       /* unknown protocol version */
	PROTO_E_LENGTH = 2,        /* truncated, oversized or inconsistent length */
	PROTO_E_TYPE = 3,          /* unknown message type */
	PROTO_E_FRAGMENT = 4,      /* fragment out of sequence or malformed */
	PROTO_E_VALUE = 5,         /* a field holds a value outside its range */
	PROTO_E_UNPROVISIONED = 6, /* the lock has no site key yet */
	PROTO_E_PROVISIONED = 7,   /* plain PROVISION refused: use a signed REPROVISION */
	PROTO_E_CHALLENGE = 8,     /* no fresh challenge: never asked, used or expired */
	PROTO_E_UNKNOWN_KEY = 9,   /* no credential or authorisation code for this user/key */
	PROTO_E_KEY_SIG = 10,      /* e-key or shared key signature invalid */
	PROTO_E_WRONG_SPOT = 11,   /* the key is for another spot */
	PROTO_E_DEVICE_SIG = 12,   /* device signature over the challenge invalid */
	PROTO_E_NOT_YET = 13,      /* before not-before */
	PROTO_E_EXPIRED = 14,      /* after not-after */
	PROTO_E_USED_UP = 15,      /* maximum unlocks reached */
	PROTO_E_REVOKED = 16,      /* key on the revocation list */
	PROTO_E_TRANSFERRED = 17,  /* key handed on by a transfer share */
	PROTO_E_WRONG_USER = 18,   /* user ID does not match the key or recipient */
	PROTO_E_LOCKED_OUT = 19,   /* this device failed too often; wait */
	PROTO_E_SITE_SIG = 20,     /* management signature invalid */
	PROTO_E_STALE = 21,        /* management sequence or revocation serial not newer */
	PROTO_E_TIME_BACK = 22,    /* time may not go backwards */
	PROTO_E_FULL = 23,         /* a fixed table is full */
	PROTO_E_BUSY = 24,         /* the barrier is moving */
	PROTO_E_JAMMED = 25,       /* the barrier did not reach its end stop */
	PROTO_E_FLASH = 26,        /* persistent storage failed; nothing changed */
	PROTO_E_TIME_UNSET = 27,   /* time-limited key, but the lock has no time yet */
	PROTO_E_TARGET = 28,       /* management message addressed to another lock */
	PROTO_E_INTERNAL = 29,     /* a port call failed */
	PROTO_E_OCCUPIED = 30,     /* a car is over the spot: the barrier will not rise */
};
#define PROTO_STATUS_COUNT 31

/* Operations a key may ask for. */
enum proto_op {
	PROTO_OP_UNLOCK = 1, /* lower the barrier */
	PROTO_OP_LOCK = 2,   /* raise the barrier */
};

/* Barrier states as reported in RESULT and STATUS. */
enum proto_barrier {
	PROTO_BARRIER_UP = 0,      /* raised: spot locked */
	PROTO_BARRIER_DOWN = 1,    /* lowered: spot open */
	PROTO_BARRIER_LOWERING = 2,
	PROTO_BARRIER_RAISING = 3,
	PROTO_BARRIER_JAMMED = 4,  /* did not reach its end stop; motor stopped */
};

/* Event kinds of the lock's log. */
enum proto_event_kind {
	PROTO_EV_BOOT = 1,
	PROTO_EV_UNLOCKED = 2,    /* arg8: how (proto_ev_how); user_id, key_id; arg16: uses */
	PROTO_EV_LOCKED = 3,      /* arg8: how; user_id, key_id when a key asked */
	PROTO_EV_CAR_ARRIVED = 4,
	PROTO_EV_CAR_LEFT = 5,
	PROTO_EV_FORCED = 6,      /* barrier pushed down without the motor */
	PROTO_EV_JAMMED = 7,      /* arg8: the proto_op that jammed */
	PROTO_EV_LOW_BATTERY = 8, /* arg16: percent */
	PROTO_EV_LOCKOUT = 9,     /* user_id: claimed user; arg16: lockout minutes */
	PROTO_EV_MGMT = 10,       /* arg8: mgmt type; arg16: status; key_id: sequence */
	PROTO_EV_TIME_SET = 11,   /* key_id: previous time */
	PROTO_EV_OVERRIDE = 12,   /* arg8: op; arg16: reason digest bytes 0-1; user_id: the */
				  /* attendant; key_id: the REMOTE_OPERATE's sequence */
};
#define PROTO_EV_KIND_MAX 12

enum proto_ev_how {
	PROTO_HOW_KEY = 1,    /* a holder's own e-key */
	PROTO_HOW_SHARED = 2, /* a shared key through an authorisation code */
	PROTO_HOW_AUTO = 3,   /* the lock itself (car left) */
	PROTO_HOW_OVERRIDE = 4, /* an attendant's REMOTE_OPERATE: user_id the attendant, */
				/* key_id its management sequence */
};

/* INFO and STATUS flags. */
#define PROTO_INFO_PROVISIONED 0x01
#define PROTO_INFO_TIME_SET 0x02

/* Credential flags (install and e-key). */
#define PROTO_CRED_OWNER 0x01     /* the spot owner's own key */
#define PROTO_CRED_MAY_SHARE 0x02 /* the holder may share it (checked by the server) */

/* Share modes and flags. */
enum proto_share_mode {
	PROTO_SHARE_COSHARE = 1,  /* the sharer keeps the key */
	PROTO_SHARE_TRANSFER = 2, /* the sharer's key stops working */
};
#define PROTO_SHARE_MAY_RESHARE 0x01

/* Management message types (inside PROTO_MGMT). */
enum proto_mgmt_type {
	PROTO_MGMT_INSTALL_CRED = 1,
	PROTO_MGMT_INSTALL_SHARE = 2,
	PROTO_MGMT_REVOKE = 3,
	PROTO_MGMT_SET_TIME = 4,
	PROTO_MGMT_SET_LOCKOUT = 5,
	PROTO_MGMT_REPROVISION = 6,
	PROTO_MGMT_REMOTE_OPERATE = 7,
};
#define PROTO_MGMT_TYPE_MAX 7

/* A target spot of 0 addresses every lock of the site (REVOKE only). */
#define PROTO_TARGET_ALL 0u

/* ---- message bodies ---- */

struct proto_hello {
	uint16_t mtu; /* the client's ATT MTU, PROTO_MTU_MIN..PROTO_MTU_MAX */
};

struct proto_info {
	uint8_t version;  /* highest protocol version the lock speaks */
	uint16_t mtu;     /* ATT MTU the lock will use on this link */
	uint8_t flags;    /* PROTO_INFO_* */
	uint32_t site_id; /* 0 when unprovisioned */
	uint32_t spot_id; /* 0 when unprovisioned */
	uint8_t device_pub[PROTO_PUBKEY_LEN];
	uint16_t fw_version;
};

struct proto_challenge {
	uint8_t nonce[PROTO_NONCE_LEN];
	uint32_t lock_time; /* lock's Unix time in seconds, 0 if unset */
	uint16_t ttl_s;     /* seconds the challenge stays valid */
};

/* An e-key: the server's signature, with the holder's reservation key, over the fields. */
struct proto_ekey {
	uint32_t key_id;
	uint32_t user_id;
	uint32_t spot_id;
	uint32_t not_before; /* Unix seconds; PROTO_TIME_NONE_BEFORE for none */
	uint32_t not_after;  /* Unix seconds; PROTO_TIME_NONE_AFTER for none */
	uint16_t max_unlocks; /* PROTO_UNLIMITED_USES for none */
	uint8_t flags;        /* PROTO_CRED_* */
	uint8_t device_pub[PROTO_PUBKEY_LEN]; /* the holder's device key */
	uint8_t sig[PROTO_SIG_LEN];
};

/* A shared key: signed with the sharer's reservation key, bound to the recipient's device. */
struct proto_skey {
	uint32_t share_id;
	uint32_t parent_key_id;
	uint32_t sharer_id;
	uint32_t recipient_id;
	uint32_t spot_id;
	uint32_t not_before;
	uint32_t not_after;
	uint16_t max_unlocks;
	uint8_t mode;  /* proto_share_mode */
	uint8_t flags; /* PROTO_SHARE_* */
	uint8_t device_pub[PROTO_PUBKEY_LEN];
	uint8_t sig[PROTO_SIG_LEN];
};

struct proto_operate {
	uint8_t op;       /* proto_op */
	uint32_t user_id; /* who asks; the credential is looked up by it */
	struct proto_ekey ekey;
	uint8_t device_sig[PROTO_SIG_LEN]; /* over proto_tbs_operate() */
};

struct proto_operate_shared {
	uint8_t op;
	uint32_t user_id; /* the recipient */
	struct proto_skey skey;
	uint8_t device_sig[PROTO_SIG_LEN];
};

struct proto_result {
	uint8_t status; /* proto_code */
	uint8_t op;
	uint8_t barrier;    /* proto_barrier after the operation */
	uint16_t uses_left; /* PROTO_USES_LEFT_UNLIMITED when unlimited */
	uint32_t lock_time;
};

struct proto_status_req {
	uint8_t nonce[PROTO_CNONCE_LEN];
};

struct proto_status {
	uint32_t site_id;
	uint32_t spot_id;
	uint8_t barrier;  /* proto_barrier */
	uint8_t occupied; /* 1 when the proximity sensor sees a car */
	uint8_t battery;  /* percent */
	uint8_t flags;    /* PROTO_INFO_* */
	uint32_t lock_time;
	uint32_t event_head;    /* sequence number of the newest event, 0 if none */
	uint32_t mgmt_seq;      /* newest management sequence applied */
	uint32_t revoke_serial; /* newest revocation list applied */
	uint32_t total_unlocks;
	uint8_t creds;  /* credentials stored */
	uint8_t shares; /* authorisation codes stored */
	uint8_t sig[PROTO_SIG_LEN]; /* device key over proto_tbs_status() */
};

struct proto_log_req {
	uint8_t nonce[PROTO_CNONCE_LEN];
	uint32_t from_seq; /* first sequence wanted; older than the oldest kept gives the oldest */
	uint8_t max;       /* 1..PROTO_LOG_PAGE_MAX */
};

struct proto_event {
	uint32_t seq; /* 1, 2, ... never reused, survives reboot */
	uint32_t time;
	uint8_t kind; /* proto_event_kind */
	uint8_t arg8;
	uint16_t arg16;
	uint32_t user_id;
	uint32_t key_id;
};

struct proto_log {
	uint32_t head_seq;               /* newest event in the lock */
	uint8_t anchor[PROTO_HASH_LEN];  /* chain hash before the first event of the page */
	uint8_t count;
	struct proto_event ev[PROTO_LOG_PAGE_MAX];
	uint8_t sig[PROTO_SIG_LEN];      /* device key over proto_tbs_log() */
};

struct proto_provision {
	uint32_t site_id;
	uint32_t spot_id;
	uint8_t site_pub[PROTO_PUBKEY_LEN];
};

/* Management envelope. `payload` points into the decoded frame. */
struct proto_mgmt {
	uint8_t mtype;        /* proto_mgmt_type */
	uint32_t target_spot; /* PROTO_TARGET_ALL or one spot */
	uint32_t seq;         /* per-lock sequence; for REVOKE the list serial */
	uint16_t plen;
	const uint8_t *payload;
	const uint8_t *signed_body; /* the envelope bytes the site key signs ... */
	size_t signed_len;          /* ... = PROTO_MGMT_HDR_LEN + plen */
	uint8_t sig[PROTO_SIG_LEN];
};

struct proto_cred {
	uint32_t key_id;
	uint32_t user_id;
	uint8_t res_pub[PROTO_PUBKEY_LEN]; /* the user's reservation public key */
	uint32_t not_before;
	uint32_t not_after;
	uint16_t max_unlocks;
	uint8_t flags;
};

struct proto_share {
	uint32_t share_id;
	uint32_t parent_key_id;
	uint32_t sharer_id;
	uint32_t recipient_id;
	uint32_t not_before;
	uint32_t not_after;
	uint16_t max_unlocks;
	uint8_t mode;
	uint8_t flags;
};

struct proto_revoke {
	uint16_t count; /* 0..PROTO_REVOKE_MAX */
	uint32_t key_ids[PROTO_REVOKE_MAX];
};

struct proto_lockout {
	uint8_t max_failures; /* 1..255 failures within the window lock a device out */
	uint16_t window_s;    /* 1..65535 */
	uint32_t lockout_s;   /* 1..604800 */
};

/*
 * An attendant's override: the site asks the lock to move its barrier as a key holder's
 * OPERATE would, for a driver who is stuck. The lock keeps the evidence (who, which op,
 * a digest of the reason); the server keeps the reason's text.
 */
struct proto_remote_operate {
	uint8_t op;         /* proto_op */
	uint32_t user_id;   /* the attendant, != 0 */
	uint32_t not_after; /* lock time after which it is refused; PROTO_TIME_NONE_AFTER: never */
	uint8_t reason[PROTO_REASON_DIGEST_LEN]; /* SHA-256(reason text)[0..8) */
};

union proto_mgmt_payload {
	struct proto_cred cred;
	struct proto_share share;
	struct proto_revoke revoke;
	uint32_t time;
	struct proto_lockout lockout;
	struct proto_provision provision;
	struct proto_remote_operate remote;
};

struct proto_mgmt_ack {
	uint32_t spot_id;
	uint32_t seq;
	uint8_t mtype;
	uint8_t result; /* proto_code */
	uint32_t lock_time;
	uint8_t sig[PROTO_SIG_LEN]; /* device key over proto_tbs_ack() */
};

struct proto_error {
	uint8_t code;     /* proto_code */
	uint8_t req_type; /* the type of the frame refused, 0 if unknown */
};

/* One decoded frame. Pointers inside (mgmt) point into the decoded buffer. */
struct proto_msg {
	uint8_t type; /* proto_type */
	uint8_t tag;  /* chosen by the requester, echoed in the reply; 0 in notifications */
	union {
		struct proto_hello hello;
		struct proto_info info;
		struct proto_challenge challenge;
		struct proto_operate operate;
		struct proto_operate_shared operate_shared;
		struct proto_result result;
		struct proto_status_req status_req;
		struct proto_status status;
		struct proto_log_req log_req;
		struct proto_log log;
		struct proto_event event;
		struct proto_provision provision;
		struct proto_mgmt mgmt;
		struct proto_mgmt_ack ack;
		struct proto_error error;
	} u;
};

/*
 * Decodes one whole frame. Returns 0, or -PROTO_E_VERSION, -PROTO_E_TYPE, -PROTO_E_LENGTH
 * (too short, trailing bytes, or a count beyond its maximum) or -PROTO_E_VALUE. The
 * version, type and tag are filled in `out` even on error when the header was readable,
 * so that an ERROR reply can name the request. `frame` must outlive `out` (mgmt points in).
 */
int proto_decode(const uint8_t *frame, size_t len, struct proto_msg *out);

/*
 * Encodes `m` as a whole frame into buf[0..cap). Returns the frame length (> 0), or
 * -PROTO_E_LENGTH when it does not fit, or -PROTO_E_TYPE for an unknown type. For
 * PROTO_MGMT, m->u.mgmt.payload/plen are copied as they are.
 */
int proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap);

/* Management payloads: decode checks exact length per type; encode appends to `w`. */
int proto_mgmt_decode_payload(uint8_t mtype, const uint8_t *p, size_t len,
			      union proto_mgmt_payload *out);
void proto_mgmt_encode_payload(struct wire_writer *w, uint8_t mtype,
			       const union proto_mgmt_payload *in);

/* Minimum body length of a message type, or -1 when the type is unknown. */
int proto_min_body(uint8_t type);

/* Name of a status code for logs and docs ("key_expired"); "unknown" when out of range. */
const char *proto_status_name(int status);

/*
 * Whether the lock's ERROR with this code to a management frame may not come again when
 * the same frame is sent later: the lock was not provisioned yet, its storage or a port
 * call failed, or the frame's fragments came garbled over the radio (the gateway checks
 * a frame is whole before it sends it) (PROTOCOL.md, section 6). Any other ERROR is its
 * last word on the frame. For the gateway and the server; the firmware does not call it.
 */
static inline bool proto_error_passes(int code)
{
	return code == PROTO_E_UNPROVISIONED || code == PROTO_E_FLASH ||
	       code == PROTO_E_INTERNAL || code == PROTO_E_FRAGMENT || code == PROTO_E_LENGTH;
}
/* Name of an event kind ("unlocked"); "unknown" when out of range. */
const char *proto_event_name(uint8_t kind);

/*
 * To-be-signed byte strings. Each writes the exact bytes whose SHA-256 is signed, with a
 * 4-byte domain tag first so that no signature can be replayed as another kind. A writer
 * of PROTO_FRAME_MAX + 16 bytes always suffices.
 */
void proto_tbs_ekey(struct wire_writer *w, const struct proto_ekey *k);
void proto_tbs_skey(struct wire_writer *w, const struct proto_skey *k);
void proto_tbs_operate(struct wire_writer *w, const uint8_t nonce[PROTO_NONCE_LEN],
		       uint32_t site_id, uint32_t spot_id, uint8_t op, uint32_t user_id,
		       uint32_t key_id);
/* Management: the domain tag and site ID; the envelope bytes (signed_body) follow. */
void proto_tbs_mgmt_prefix(struct wire_writer *w, uint32_t site_id);
void proto_tbs_status(struct wire_writer *w, const uint8_t nonce[PROTO_CNONCE_LEN],
		      const struct proto_status *s);
void proto_tbs_log(struct wire_writer *w, const uint8_t nonce[PROTO_CNONCE_LEN],
		   uint32_t site_id, uint32_t spot_id, uint32_t head_seq, uint8_t count,
		   const uint8_t last_hash[PROTO_HASH_LEN]);
void proto_tbs_ack(struct wire_writer *w, uint32_t site_id, const struct proto_mgmt_ack *a);

/* The 20 wire bytes of an event, as hashed into the log chain. */
void proto_event_encode(uint8_t out[PROTO_EVENT_LEN], const struct proto_event *e);
void proto_event_decode(const uint8_t in[PROTO_EVENT_LEN], struct proto_event *e);

#endif
