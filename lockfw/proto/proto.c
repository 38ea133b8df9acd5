/*
 * proto.c: the protocol codec: frames <-> struct proto_msg, management payloads, the
 * to-be-signed strings, status and event names. One table row per message type holds
 * its body length rule and its codec; PROTOCOL.md is the byte-level specification.
 * No crypto, no state, no heap: every byte goes through wire.h's bounded cursors.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"
#include "wire.h"

/* ---- wire sizes: each is spelled as its fields, then pinned to the number in the spec */

#define WIRE_EKEY_TBS (5 * 4 + 2 + 1 + PROTO_PUBKEY_LEN)
#define WIRE_SKEY_TBS (7 * 4 + 2 + 1 + 1 + PROTO_PUBKEY_LEN)
#define WIRE_CRED (4 + 4 + PROTO_PUBKEY_LEN + 4 + 4 + 2 + 1)
#define WIRE_SHARE (6 * 4 + 2 + 1 + 1)
#define WIRE_EVENT (4 + 4 + 1 + 1 + 2 + 4 + 4)
#define WIRE_STATUS_TBS (4 + 4 + 1 + 1 + 1 + 1 + 4 + 4 + 4 + 4 + 4 + 1 + 1)
#define WIRE_ACK_TBS (4 + 4 + 1 + 1 + 4)
#define WIRE_MGMT_HDR (1 + 4 + 4 + 2)

#define BODY_HELLO 2
#define BODY_INFO (1 + 2 + 1 + 4 + 4 + PROTO_PUBKEY_LEN + 2)
#define BODY_CHALLENGE_REQ 0
#define BODY_CHALLENGE (PROTO_NONCE_LEN + 4 + 2)
#define BODY_OPERATE (1 + 4 + PROTO_EKEY_LEN + PROTO_SIG_LEN)
#define BODY_OPERATE_SHARED (1 + 4 + PROTO_SKEY_LEN + PROTO_SIG_LEN)
#define BODY_RESULT (1 + 1 + 1 + 2 + 4)
#define BODY_STATUS_REQ PROTO_CNONCE_LEN
#define BODY_STATUS (WIRE_STATUS_TBS + PROTO_SIG_LEN)
#define BODY_LOG_REQ (PROTO_CNONCE_LEN + 4 + 1)
#define BODY_LOG_MIN (4 + PROTO_HASH_LEN + 1 + PROTO_SIG_LEN)
#define BODY_EVENT WIRE_EVENT
#define BODY_PROVISION (4 + 4 + PROTO_PUBKEY_LEN)
#define BODY_MGMT_MIN (WIRE_MGMT_HDR + PROTO_SIG_LEN)
#define BODY_MGMT_ACK (WIRE_ACK_TBS + PROTO_SIG_LEN)
#define BODY_ERROR 2

#define PAYLOAD_REVOKE_MIN 2
#define PAYLOAD_SET_TIME 4
#define PAYLOAD_SET_LOCKOUT (1 + 2 + 4)
#define PAYLOAD_REMOTE_OPERATE (1 + 4 + 4 + PROTO_REASON_DIGEST_LEN)
#define LOCKOUT_S_MAX 604800u /* one week */

_Static_assert(WIRE_EKEY_TBS == PROTO_EKEY_TBS_LEN, "e-key signed part is 87 bytes");
_Static_assert(PROTO_EKEY_LEN == 151, "e-key is 151 bytes");
_Static_assert(WIRE_SKEY_TBS == PROTO_SKEY_TBS_LEN, "shared key signed part is 96 bytes");
_Static_assert(PROTO_SKEY_LEN == 160, "shared key is 160 bytes");
_Static_assert(WIRE_CRED == PROTO_CRED_LEN && PROTO_CRED_LEN == 83, "credential is 83 bytes");
_Static_assert(WIRE_SHARE == PROTO_SHARE_LEN && PROTO_SHARE_LEN == 28, "share is 28 bytes");
_Static_assert(PAYLOAD_REMOTE_OPERATE == PROTO_REMOTE_OPERATE_LEN &&
	       PROTO_REMOTE_OPERATE_LEN == 17, "remote operate is 17 bytes");
_Static_assert(WIRE_EVENT == PROTO_EVENT_LEN && PROTO_EVENT_LEN == 20, "event is 20 bytes");
_Static_assert(WIRE_MGMT_HDR == PROTO_MGMT_HDR_LEN, "management envelope header is 11 bytes");
_Static_assert(WIRE_STATUS_TBS == 34 && WIRE_ACK_TBS == 14, "signed parts of STATUS, ACK");
_Static_assert(BODY_INFO == 78 && BODY_CHALLENGE == 38, "INFO, CHALLENGE bodies");
_Static_assert(BODY_OPERATE == 220 && BODY_OPERATE_SHARED == 229, "OPERATE bodies");
_Static_assert(BODY_RESULT == 9 && BODY_STATUS == 98 && BODY_LOG_REQ == 21, "reply bodies");
_Static_assert(BODY_LOG_MIN == 101 && BODY_PROVISION == 72, "LOG, PROVISION bodies");
_Static_assert(BODY_MGMT_MIN == 75 && BODY_MGMT_ACK == 78, "MGMT, MGMT_ACK bodies");
_Static_assert(PROTO_HDR_LEN + BODY_LOG_MIN + PROTO_LOG_PAGE_MAX * PROTO_EVENT_LEN
	       <= PROTO_FRAME_MAX, "a full LOG page fits one frame");
_Static_assert(PROTO_HDR_LEN + BODY_MGMT_MIN + PAYLOAD_REVOKE_MIN + 4 * PROTO_REVOKE_MAX
	       <= PROTO_FRAME_MAX, "a full revocation list fits one frame");
_Static_assert(PROTO_FRAME_MAX <= 0xFFFF, "frame lengths fit the u16 of a first fragment");

/* ---- domain tags of the signed strings */

static void put_tag(struct wire_writer *w, const char tag[4])
{
	wire_put_bytes(w, (const uint8_t *)tag, 4);
}

/* ---- shared pieces: each layout is written once and used by codec and signer alike */

static void get_ekey(struct wire_reader *r, struct proto_ekey *k)
{
	k->key_id = wire_get_u32(r);
	k->user_id = wire_get_u32(r);
	k->spot_id = wire_get_u32(r);
	k->not_before = wire_get_u32(r);
	k->not_after = wire_get_u32(r);
	k->max_unlocks = wire_get_u16(r);
	k->flags = wire_get_u8(r);
	wire_get_bytes(r, k->device_pub, PROTO_PUBKEY_LEN);
	wire_get_bytes(r, k->sig, PROTO_SIG_LEN);
}

static void put_ekey_tbs(struct wire_writer *w, const struct proto_ekey *k)
{
	wire_put_u32(w, k->key_id);
	wire_put_u32(w, k->user_id);
	wire_put_u32(w, k->spot_id);
	wire_put_u32(w, k->not_before);
	wire_put_u32(w, k->not_after);
	wire_put_u16(w, k->max_unlocks);
	wire_put_u8(w, k->flags);
	wire_put_bytes(w, k->device_pub, PROTO_PUBKEY_LEN);
}

static void get_skey(struct wire_reader *r, struct proto_skey *k)
{
	k->share_id = wire_get_u32(r);
	k->parent_key_id = wire_get_u32(r);
	k->sharer_id = wire_get_u32(r);
	k->recipient_id = wire_get_u32(r);
	k->spot_id = wire_get_u32(r);
	k->not_before = wire_get_u32(r);
	k->not_after = wire_get_u32(r);
	k->max_unlocks = wire_get_u16(r);
	k->mode = wire_get_u8(r);
	k->flags = wire_get_u8(r);
	wire_get_bytes(r, k->device_pub, PROTO_PUBKEY_LEN);
	wire_get_bytes(r, k->sig, PROTO_SIG_LEN);
}

static void put_skey_tbs(struct wire_writer *w, const struct proto_skey *k)
{
	wire_put_u32(w, k->share_id);
	wire_put_u32(w, k->parent_key_id);
	wire_put_u32(w, k->sharer_id);
	wire_put_u32(w, k->recipient_id);
	wire_put_u32(w, k->spot_id);
	wire_put_u32(w, k->not_before);
	wire_put_u32(w, k->not_after);
	wire_put_u16(w, k->max_unlocks);
	wire_put_u8(w, k->mode);
	wire_put_u8(w, k->flags);
	wire_put_bytes(w, k->device_pub, PROTO_PUBKEY_LEN);
}

static void get_event(struct wire_reader *r, struct proto_event *e)
{
	e->seq = wire_get_u32(r);
	e->time = wire_get_u32(r);
	e->kind = wire_get_u8(r);
	e->arg8 = wire_get_u8(r);
	e->arg16 = wire_get_u16(r);
	e->user_id = wire_get_u32(r);
	e->key_id = wire_get_u32(r);
}

static void put_event(struct wire_writer *w, const struct proto_event *e)
{
	wire_put_u32(w, e->seq);
	wire_put_u32(w, e->time);
	wire_put_u8(w, e->kind);
	wire_put_u8(w, e->arg8);
	wire_put_u16(w, e->arg16);
	wire_put_u32(w, e->user_id);
	wire_put_u32(w, e->key_id);
}

static void put_status_tbs(struct wire_writer *w, const struct proto_status *s)
{
	wire_put_u32(w, s->site_id);
	wire_put_u32(w, s->spot_id);
	wire_put_u8(w, s->barrier);
	wire_put_u8(w, s->occupied);
	wire_put_u8(w, s->battery);
	wire_put_u8(w, s->flags);
	wire_put_u32(w, s->lock_time);
	wire_put_u32(w, s->event_head);
	wire_put_u32(w, s->mgmt_seq);
	wire_put_u32(w, s->revoke_serial);
	wire_put_u32(w, s->total_unlocks);
	wire_put_u8(w, s->creds);
	wire_put_u8(w, s->shares);
}

static void put_ack_tbs(struct wire_writer *w, const struct proto_mgmt_ack *a)
{
	wire_put_u32(w, a->spot_id);
	wire_put_u32(w, a->seq);
	wire_put_u8(w, a->mtype);
	wire_put_u8(w, a->result);
	wire_put_u32(w, a->lock_time);
}

static void get_provision(struct wire_reader *r, struct proto_provision *p)
{
	p->site_id = wire_get_u32(r);
	p->spot_id = wire_get_u32(r);
	wire_get_bytes(r, p->site_pub, PROTO_PUBKEY_LEN);
}

static void put_provision(struct wire_writer *w, const struct proto_provision *p)
{
	wire_put_u32(w, p->site_id);
	wire_put_u32(w, p->spot_id);
	wire_put_bytes(w, p->site_pub, PROTO_PUBKEY_LEN);
}

/* Site and spot 0 mean "unprovisioned" in INFO and "every lock" as a target. */
static int check_provision(const struct proto_provision *p)
{
	return p->site_id == 0 || p->spot_id == 0 ? -PROTO_E_VALUE : 0;
}

static bool op_valid(uint8_t op)
{
	return op == PROTO_OP_UNLOCK || op == PROTO_OP_LOCK;
}

static bool share_mode_valid(uint8_t mode)
{
	return mode == PROTO_SHARE_COSHARE || mode == PROTO_SHARE_TRANSFER;
}

/* ---- management payloads */

/*
 * A payload decoder runs after its length passed the row's rule and must refuse before
 * it writes to `out`, so that a refused payload leaves the caller's union untouched.
 */
struct mgmt_kind {
	uint8_t mtype;
	uint16_t len;  /* the exact length, or the minimum when !exact */
	bool exact;
	int (*decode)(struct wire_reader *r, union proto_mgmt_payload *out);
	void (*encode)(struct wire_writer *w, const union proto_mgmt_payload *in);
};

static int dec_cred(struct wire_reader *r, union proto_mgmt_payload *out)
{
	struct proto_cred *c = &out->cred;

	c->key_id = wire_get_u32(r);
	c->user_id = wire_get_u32(r);
	wire_get_bytes(r, c->res_pub, PROTO_PUBKEY_LEN);
	c->not_before = wire_get_u32(r);
	c->not_after = wire_get_u32(r);
	c->max_unlocks = wire_get_u16(r);
	c->flags = wire_get_u8(r);
	return 0;
}

static void enc_cred(struct wire_writer *w, const union proto_mgmt_payload *in)
{
	const struct proto_cred *c = &in->cred;

	wire_put_u32(w, c->key_id);
	wire_put_u32(w, c->user_id);
	wire_put_bytes(w, c->res_pub, PROTO_PUBKEY_LEN);
	wire_put_u32(w, c->not_before);
	wire_put_u32(w, c->not_after);
	wire_put_u16(w, c->max_unlocks);
	wire_put_u8(w, c->flags);
}

static int dec_share(struct wire_reader *r, union proto_mgmt_payload *out)
{
	struct proto_share s;

	s.share_id = wire_get_u32(r);
	s.parent_key_id = wire_get_u32(r);
	s.sharer_id = wire_get_u32(r);
	s.recipient_id = wire_get_u32(r);
	s.not_before = wire_get_u32(r);
	s.not_after = wire_get_u32(r);
	s.max_unlocks = wire_get_u16(r);
	s.mode = wire_get_u8(r);
	s.flags = wire_get_u8(r);
	if (!share_mode_valid(s.mode))
		return -PROTO_E_VALUE;
	out->share = s;
	return 0;
}

static void enc_share(struct wire_writer *w, const union proto_mgmt_payload *in)
{
	const struct proto_share *s = &in->share;

	wire_put_u32(w, s->share_id);
	wire_put_u32(w, s->parent_key_id);
	wire_put_u32(w, s->sharer_id);
	wire_put_u32(w, s->recipient_id);
	wire_put_u32(w, s->not_before);
	wire_put_u32(w, s->not_after);
	wire_put_u16(w, s->max_unlocks);
	wire_put_u8(w, s->mode);
	wire_put_u8(w, s->flags);
}

/* The count is a value inside a well-framed payload, so a mismatch is a bad value. */
static int dec_revoke(struct wire_reader *r, union proto_mgmt_payload *out)
{
	uint16_t count = wire_get_u16(r);
	uint16_t i;

	if (count > PROTO_REVOKE_MAX || wire_left(r) != (size_t)count * 4)
		return -PROTO_E_VALUE;
	out->revoke.count = count;
	for (i = 0; i < count; i++)
		out->revoke.key_ids[i] = wire_get_u32(r);
	return 0;
}

static void enc_revoke(struct wire_writer *w, const union proto_mgmt_payload *in)
{
	uint16_t i;

	if (in->revoke.count > PROTO_REVOKE_MAX) {
		w->error = true; /* the array holds no more: refuse rather than read past it */
		return;
	}
	wire_put_u16(w, in->revoke.count);
	for (i = 0; i < in->revoke.count; i++)
		wire_put_u32(w, in->revoke.key_ids[i]);
}

static int dec_time(struct wire_reader *r, union proto_mgmt_payload *out)
{
	out->time = wire_get_u32(r);
	return 0;
}

static void enc_time(struct wire_writer *w, const union proto_mgmt_payload *in)
{
	wire_put_u32(w, in->time);
}

static int dec_lockout(struct wire_reader *r, union proto_mgmt_payload *out)
{
	struct proto_lockout lo;

	lo.max_failures = wire_get_u8(r);
	lo.window_s = wire_get_u16(r);
	lo.lockout_s = wire_get_u32(r);
	if (lo.max_failures == 0 || lo.window_s == 0 || lo.lockout_s == 0 ||
	    lo.lockout_s > LOCKOUT_S_MAX)
		return -PROTO_E_VALUE;
	out->lockout = lo;
	return 0;
}

static void enc_lockout(struct wire_writer *w, const union proto_mgmt_payload *in)
{
	wire_put_u8(w, in->lockout.max_failures);
	wire_put_u16(w, in->lockout.window_s);
	wire_put_u32(w, in->lockout.lockout_s);
}

static int dec_reprovision(struct wire_reader *r, union proto_mgmt_payload *out)
{
	struct proto_provision p;

	get_provision(r, &p);
	if (check_provision(&p) != 0)
		return -PROTO_E_VALUE;
	out->provision = p;
	return 0;
}

static void enc_reprovision(struct wire_writer *w, const union proto_mgmt_payload *in)
{
	put_provision(w, &in->provision);
}

/* The attendant is named: 0 is "nobody" in events, so an override by nobody is refused. */
static int dec_remote(struct wire_reader *r, union proto_mgmt_payload *out)
{
	struct proto_remote_operate o;

	o.op = wire_get_u8(r);
	o.user_id = wire_get_u32(r);
	o.not_after = wire_get_u32(r);
	wire_get_bytes(r, o.reason, PROTO_REASON_DIGEST_LEN);
	if (!op_valid(o.op) || o.user_id == 0)
		return -PROTO_E_VALUE;
	out->remote = o;
	return 0;
}

static void enc_remote(struct wire_writer *w, const union proto_mgmt_payload *in)
{
	const struct proto_remote_operate *o = &in->remote;

	wire_put_u8(w, o->op);
	wire_put_u32(w, o->user_id);
	wire_put_u32(w, o->not_after);
	wire_put_bytes(w, o->reason, PROTO_REASON_DIGEST_LEN);
}

static const struct mgmt_kind mgmt_kinds[] = {
	{ PROTO_MGMT_INSTALL_CRED, PROTO_CRED_LEN, true, dec_cred, enc_cred },
	{ PROTO_MGMT_INSTALL_SHARE, PROTO_SHARE_LEN, true, dec_share, enc_share },
	{ PROTO_MGMT_REVOKE, PAYLOAD_REVOKE_MIN, false, dec_revoke, enc_revoke },
	{ PROTO_MGMT_SET_TIME, PAYLOAD_SET_TIME, true, dec_time, enc_time },
	{ PROTO_MGMT_SET_LOCKOUT, PAYLOAD_SET_LOCKOUT, true, dec_lockout, enc_lockout },
	{ PROTO_MGMT_REPROVISION, BODY_PROVISION, true, dec_reprovision, enc_reprovision },
	{ PROTO_MGMT_REMOTE_OPERATE, PAYLOAD_REMOTE_OPERATE, true, dec_remote, enc_remote },
};
_Static_assert(sizeof(mgmt_kinds) / sizeof(mgmt_kinds[0]) == PROTO_MGMT_TYPE_MAX,
	       "one row per management type");

static const struct mgmt_kind *mgmt_kind_find(uint8_t mtype)
{
	size_t i;

	for (i = 0; i < sizeof(mgmt_kinds) / sizeof(mgmt_kinds[0]); i++)
		if (mgmt_kinds[i].mtype == mtype)
			return &mgmt_kinds[i];
	return NULL;
}

int proto_mgmt_decode_payload(uint8_t mtype, const uint8_t *p, size_t len,
			      union proto_mgmt_payload *out)
{
	const struct mgmt_kind *k = mgmt_kind_find(mtype);
	struct wire_reader r;
	size_t n;

	if (k == NULL)
		return -PROTO_E_TYPE;
	wire_reader_init(&r, p, len);
	n = wire_left(&r); /* 0 when p is NULL, whatever len says */
	if (n < k->len || (k->exact && n != k->len))
		return -PROTO_E_LENGTH;
	return k->decode(&r, out);
}

/* Unknown types and unencodable payloads set w->error and write nothing. */
void proto_mgmt_encode_payload(struct wire_writer *w, uint8_t mtype,
			       const union proto_mgmt_payload *in)
{
	const struct mgmt_kind *k = mgmt_kind_find(mtype);

	if (k == NULL) {
		w->error = true;
		return;
	}
	k->encode(w, in);
}

/* ---- message bodies */

/*
 * A body decoder runs after proto_decode checked the body length against its row, so
 * reads of a fixed body cannot fail. A decoder that can still refuse (a value, a count)
 * decides before it writes to `m`: a refused frame leaves the caller's body untouched.
 * Encoders return 0, or -PROTO_E_LENGTH for a count they cannot write; the writer's
 * error flag reports everything else.
 */
struct proto_kind {
	uint8_t type;
	const char *name;  /* as in PROTOCOL.md */
	uint16_t min_body; /* the exact body length, or the minimum when !exact */
	bool exact;
	int (*decode)(struct wire_reader *r, struct proto_msg *m);
	int (*encode)(struct wire_writer *w, const struct proto_msg *m);
};

static int dec_hello(struct wire_reader *r, struct proto_msg *m)
{
	uint16_t mtu = wire_get_u16(r);

	if (mtu < PROTO_MTU_MIN || mtu > PROTO_MTU_MAX)
		return -PROTO_E_VALUE;
	m->u.hello.mtu = mtu;
	return 0;
}

static int enc_hello(struct wire_writer *w, const struct proto_msg *m)
{
	wire_put_u16(w, m->u.hello.mtu);
	return 0;
}

static int dec_info(struct wire_reader *r, struct proto_msg *m)
{
	struct proto_info *i = &m->u.info;

	i->version = wire_get_u8(r);
	i->mtu = wire_get_u16(r);
	i->flags = wire_get_u8(r);
	i->site_id = wire_get_u32(r);
	i->spot_id = wire_get_u32(r);
	wire_get_bytes(r, i->device_pub, PROTO_PUBKEY_LEN);
	i->fw_version = wire_get_u16(r);
	return 0;
}

static int enc_info(struct wire_writer *w, const struct proto_msg *m)
{
	const struct proto_info *i = &m->u.info;

	wire_put_u8(w, i->version);
	wire_put_u16(w, i->mtu);
	wire_put_u8(w, i->flags);
	wire_put_u32(w, i->site_id);
	wire_put_u32(w, i->spot_id);
	wire_put_bytes(w, i->device_pub, PROTO_PUBKEY_LEN);
	wire_put_u16(w, i->fw_version);
	return 0;
}

static int dec_empty(struct wire_reader *r, struct proto_msg *m)
{
	(void)r;
	(void)m;
	return 0;
}

static int enc_empty(struct wire_writer *w, const struct proto_msg *m)
{
	(void)w;
	(void)m;
	return 0;
}

static int dec_challenge(struct wire_reader *r, struct proto_msg *m)
{
	struct proto_challenge *c = &m->u.challenge;

	wire_get_bytes(r, c->nonce, PROTO_NONCE_LEN);
	c->lock_time = wire_get_u32(r);
	c->ttl_s = wire_get_u16(r);
	return 0;
}

static int enc_challenge(struct wire_writer *w, const struct proto_msg *m)
{
	const struct proto_challenge *c = &m->u.challenge;

	wire_put_bytes(w, c->nonce, PROTO_NONCE_LEN);
	wire_put_u32(w, c->lock_time);
	wire_put_u16(w, c->ttl_s);
	return 0;
}

static int dec_operate(struct wire_reader *r, struct proto_msg *m)
{
	struct proto_operate o;

	o.op = wire_get_u8(r);
	o.user_id = wire_get_u32(r);
	get_ekey(r, &o.ekey);
	wire_get_bytes(r, o.device_sig, PROTO_SIG_LEN);
	if (!op_valid(o.op))
		return -PROTO_E_VALUE;
	m->u.operate = o;
	return 0;
}

static int enc_operate(struct wire_writer *w, const struct proto_msg *m)
{
	const struct proto_operate *o = &m->u.operate;

	wire_put_u8(w, o->op);
	wire_put_u32(w, o->user_id);
	put_ekey_tbs(w, &o->ekey);
	wire_put_bytes(w, o->ekey.sig, PROTO_SIG_LEN);
	wire_put_bytes(w, o->device_sig, PROTO_SIG_LEN);
	return 0;
}

static int dec_operate_shared(struct wire_reader *r, struct proto_msg *m)
{
	struct proto_operate_shared o;

	o.op = wire_get_u8(r);
	o.user_id = wire_get_u32(r);
	get_skey(r, &o.skey);
	wire_get_bytes(r, o.device_sig, PROTO_SIG_LEN);
	if (!op_valid(o.op) || !share_mode_valid(o.skey.mode))
		return -PROTO_E_VALUE;
	m->u.operate_shared = o;
	return 0;
}

static int enc_operate_shared(struct wire_writer *w, const struct proto_msg *m)
{
	const struct proto_operate_shared *o = &m->u.operate_shared;

	wire_put_u8(w, o->op);
	wire_put_u32(w, o->user_id);
	put_skey_tbs(w, &o->skey);
	wire_put_bytes(w, o->skey.sig, PROTO_SIG_LEN);
	wire_put_bytes(w, o->device_sig, PROTO_SIG_LEN);
	return 0;
}

static int dec_result(struct wire_reader *r, struct proto_msg *m)
{
	struct proto_result *res = &m->u.result;

	res->status = wire_get_u8(r);
	res->op = wire_get_u8(r);
	res->barrier = wire_get_u8(r);
	res->uses_left = wire_get_u16(r);
	res->lock_time = wire_get_u32(r);
	return 0;
}

static int enc_result(struct wire_writer *w, const struct proto_msg *m)
{
	const struct proto_result *res = &m->u.result;

	wire_put_u8(w, res->status);
	wire_put_u8(w, res->op);
	wire_put_u8(w, res->barrier);
	wire_put_u16(w, res->uses_left);
	wire_put_u32(w, res->lock_time);
	return 0;
}

static int dec_status_req(struct wire_reader *r, struct proto_msg *m)
{
	wire_get_bytes(r, m->u.status_req.nonce, PROTO_CNONCE_LEN);
	return 0;
}

static int enc_status_req(struct wire_writer *w, const struct proto_msg *m)
{
	wire_put_bytes(w, m->u.status_req.nonce, PROTO_CNONCE_LEN);
	return 0;
}

static int dec_status(struct wire_reader *r, struct proto_msg *m)
{
	struct proto_status *s = &m->u.status;

	s->site_id = wire_get_u32(r);
	s->spot_id = wire_get_u32(r);
	s->barrier = wire_get_u8(r);
	s->occupied = wire_get_u8(r);
	s->battery = wire_get_u8(r);
	s->flags = wire_get_u8(r);
	s->lock_time = wire_get_u32(r);
	s->event_head = wire_get_u32(r);
	s->mgmt_seq = wire_get_u32(r);
	s->revoke_serial = wire_get_u32(r);
	s->total_unlocks = wire_get_u32(r);
	s->creds = wire_get_u8(r);
	s->shares = wire_get_u8(r);
	wire_get_bytes(r, s->sig, PROTO_SIG_LEN);
	return 0;
}

static int enc_status(struct wire_writer *w, const struct proto_msg *m)
{
	put_status_tbs(w, &m->u.status);
	wire_put_bytes(w, m->u.status.sig, PROTO_SIG_LEN);
	return 0;
}

static int dec_log_req(struct wire_reader *r, struct proto_msg *m)
{
	struct proto_log_req q;

	wire_get_bytes(r, q.nonce, PROTO_CNONCE_LEN);
	q.from_seq = wire_get_u32(r);
	q.max = wire_get_u8(r);
	if (q.max == 0 || q.max > PROTO_LOG_PAGE_MAX)
		return -PROTO_E_VALUE;
	m->u.log_req = q;
	return 0;
}

static int enc_log_req(struct wire_writer *w, const struct proto_msg *m)
{
	const struct proto_log_req *q = &m->u.log_req;

	wire_put_bytes(w, q->nonce, PROTO_CNONCE_LEN);
	wire_put_u32(w, q->from_seq);
	wire_put_u8(w, q->max);
	return 0;
}

/* The count sets the body length, so a count past the page maximum is a length error. */
static int dec_log(struct wire_reader *r, struct proto_msg *m)
{
	struct proto_log *lg = &m->u.log;
	uint32_t head_seq = wire_get_u32(r);
	const uint8_t *anchor = wire_get_view(r, PROTO_HASH_LEN);
	uint8_t count = wire_get_u8(r);
	uint8_t i;

	if (count > PROTO_LOG_PAGE_MAX ||
	    wire_left(r) != (size_t)count * PROTO_EVENT_LEN + PROTO_SIG_LEN)
		return -PROTO_E_LENGTH;
	lg->head_seq = head_seq;
	memcpy(lg->anchor, anchor, PROTO_HASH_LEN);
	lg->count = count;
	for (i = 0; i < count; i++)
		get_event(r, &lg->ev[i]);
	wire_get_bytes(r, lg->sig, PROTO_SIG_LEN);
	return 0;
}

static int enc_log(struct wire_writer *w, const struct proto_msg *m)
{
	const struct proto_log *lg = &m->u.log;
	uint8_t i;

	if (lg->count > PROTO_LOG_PAGE_MAX)
		return -PROTO_E_LENGTH;
	wire_put_u32(w, lg->head_seq);
	wire_put_bytes(w, lg->anchor, PROTO_HASH_LEN);
	wire_put_u8(w, lg->count);
	for (i = 0; i < lg->count; i++)
		put_event(w, &lg->ev[i]);
	wire_put_bytes(w, lg->sig, PROTO_SIG_LEN);
	return 0;
}

static int dec_event(struct wire_reader *r, struct proto_msg *m)
{
	get_event(r, &m->u.event);
	return 0;
}

static int enc_event(struct wire_writer *w, const struct proto_msg *m)
{
	put_event(w, &m->u.event);
	return 0;
}

static int dec_provision(struct wire_reader *r, struct proto_msg *m)
{
	struct proto_provision p;

	get_provision(r, &p);
	if (check_provision(&p) != 0)
		return -PROTO_E_VALUE;
	m->u.provision = p;
	return 0;
}

static int enc_provision(struct wire_writer *w, const struct proto_msg *m)
{
	put_provision(w, &m->u.provision);
	return 0;
}

/*
 * The envelope is checked whole, payload included, so that the lock core never acts on
 * a management frame whose payload it would later refuse; the payload is then decoded
 * again by the core, after the signature check, into its own union.
 */
static int dec_mgmt(struct wire_reader *r, struct proto_msg *m)
{
	union proto_mgmt_payload scratch;
	struct proto_mgmt g;
	const uint8_t *envelope = r->buf + r->off;
	int rc;

	g.mtype = wire_get_u8(r);
	g.target_spot = wire_get_u32(r);
	g.seq = wire_get_u32(r);
	g.plen = wire_get_u16(r);
	if (mgmt_kind_find(g.mtype) == NULL)
		return -PROTO_E_TYPE;
	if (wire_left(r) != (size_t)g.plen + PROTO_SIG_LEN)
		return -PROTO_E_LENGTH;
	g.payload = wire_get_view(r, g.plen);
	wire_get_bytes(r, g.sig, PROTO_SIG_LEN);
	rc = proto_mgmt_decode_payload(g.mtype, g.payload, g.plen, &scratch);
	if (rc != 0)
		return rc;
	g.signed_body = envelope;
	g.signed_len = PROTO_MGMT_HDR_LEN + (size_t)g.plen;
	m->u.mgmt = g;
	return 0;
}

static int enc_mgmt(struct wire_writer *w, const struct proto_msg *m)
{
	const struct proto_mgmt *g = &m->u.mgmt;

	if (g->plen > 0 && g->payload == NULL)
		return -PROTO_E_LENGTH;
	wire_put_u8(w, g->mtype);
	wire_put_u32(w, g->target_spot);
	wire_put_u32(w, g->seq);
	wire_put_u16(w, g->plen);
	wire_put_bytes(w, g->payload, g->plen);
	wire_put_bytes(w, g->sig, PROTO_SIG_LEN);
	return 0;
}

static int dec_ack(struct wire_reader *r, struct proto_msg *m)
{
	struct proto_mgmt_ack *a = &m->u.ack;

	a->spot_id = wire_get_u32(r);
	a->seq = wire_get_u32(r);
	a->mtype = wire_get_u8(r);
	a->result = wire_get_u8(r);
	a->lock_time = wire_get_u32(r);
	wire_get_bytes(r, a->sig, PROTO_SIG_LEN);
	return 0;
}

static int enc_ack(struct wire_writer *w, const struct proto_msg *m)
{
	put_ack_tbs(w, &m->u.ack);
	wire_put_bytes(w, m->u.ack.sig, PROTO_SIG_LEN);
	return 0;
}

static int dec_error(struct wire_reader *r, struct proto_msg *m)
{
	m->u.error.code = wire_get_u8(r);
	m->u.error.req_type = wire_get_u8(r);
	return 0;
}

static int enc_error(struct wire_writer *w, const struct proto_msg *m)
{
	wire_put_u8(w, m->u.error.code);
	wire_put_u8(w, m->u.error.req_type);
	return 0;
}

static const struct proto_kind kinds[] = {
	{ PROTO_HELLO, "HELLO", BODY_HELLO, true, dec_hello, enc_hello },
	{ PROTO_CHALLENGE_REQ, "CHALLENGE_REQ", BODY_CHALLENGE_REQ, true, dec_empty, enc_empty },
	{ PROTO_OPERATE, "OPERATE", BODY_OPERATE, true, dec_operate, enc_operate },
	{ PROTO_OPERATE_SHARED, "OPERATE_SHARED", BODY_OPERATE_SHARED, true,
	  dec_operate_shared, enc_operate_shared },
	{ PROTO_STATUS_REQ, "STATUS_REQ", BODY_STATUS_REQ, true, dec_status_req, enc_status_req },
	{ PROTO_LOG_REQ, "LOG_REQ", BODY_LOG_REQ, true, dec_log_req, enc_log_req },
	{ PROTO_PROVISION, "PROVISION", BODY_PROVISION, true, dec_provision, enc_provision },
	{ PROTO_MGMT, "MGMT", BODY_MGMT_MIN, false, dec_mgmt, enc_mgmt },
	{ PROTO_INFO, "INFO", BODY_INFO, true, dec_info, enc_info },
	{ PROTO_CHALLENGE, "CHALLENGE", BODY_CHALLENGE, true, dec_challenge, enc_challenge },
	{ PROTO_RESULT, "RESULT", BODY_RESULT, true, dec_result, enc_result },
	{ PROTO_STATUS, "STATUS", BODY_STATUS, true, dec_status, enc_status },
	{ PROTO_LOG, "LOG", BODY_LOG_MIN, false, dec_log, enc_log },
	{ PROTO_EVENT, "EVENT", BODY_EVENT, true, dec_event, enc_event },
	{ PROTO_MGMT_ACK, "MGMT_ACK", BODY_MGMT_ACK, true, dec_ack, enc_ack },
	{ PROTO_ERROR, "ERROR", BODY_ERROR, true, dec_error, enc_error },
};

static const struct proto_kind *kind_find(uint8_t type)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].type == type)
			return &kinds[i];
	return NULL;
}

int proto_min_body(uint8_t type)
{
	const struct proto_kind *k = kind_find(type);

	return k != NULL ? k->min_body : -1;
}

int proto_decode(const uint8_t *frame, size_t len, struct proto_msg *out)
{
	const struct proto_kind *k;
	struct wire_reader r;
	size_t body;

	out->type = 0;
	out->tag = 0;
	if (frame == NULL || len < PROTO_HDR_LEN)
		return -PROTO_E_LENGTH;
	out->type = frame[1];
	out->tag = frame[2];
	if (frame[0] != PROTO_VERSION)
		return -PROTO_E_VERSION;
	k = kind_find(frame[1]);
	if (k == NULL)
		return -PROTO_E_TYPE;
	if (len > PROTO_FRAME_MAX)
		return -PROTO_E_LENGTH;
	body = len - PROTO_HDR_LEN;
	if (body < k->min_body || (k->exact && body != k->min_body))
		return -PROTO_E_LENGTH;
	wire_reader_init(&r, frame + PROTO_HDR_LEN, body);
	return k->decode(&r, out);
}

int proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap)
{
	const struct proto_kind *k = kind_find(m->type);
	struct wire_writer w;
	int rc;

	if (k == NULL)
		return -PROTO_E_TYPE;
	/* Never emit a frame that no receiver would take, whatever room the caller has. */
	wire_writer_init(&w, buf, cap < PROTO_FRAME_MAX ? cap : PROTO_FRAME_MAX);
	wire_put_u8(&w, PROTO_VERSION);
	wire_put_u8(&w, m->type);
	wire_put_u8(&w, m->tag);
	rc = k->encode(&w, m);
	if (rc != 0)
		return rc;
	if (w.error)
		return -PROTO_E_LENGTH;
	return (int)w.off;
}

/* ---- names */

static const char *const status_names[] = {
	[PROTO_OK] = "ok",
	[PROTO_E_VERSION] = "bad_version",
	[PROTO_E_LENGTH] = "bad_length",
	[PROTO_E_TYPE] = "unknown_type",
	[PROTO_E_FRAGMENT] = "bad_fragment",
	[PROTO_E_VALUE] = "bad_value",
	[PROTO_E_UNPROVISIONED] = "unprovisioned",
	[PROTO_E_PROVISIONED] = "already_provisioned",
	[PROTO_E_CHALLENGE] = "no_challenge",
	[PROTO_E_UNKNOWN_KEY] = "unknown_key",
	[PROTO_E_KEY_SIG] = "bad_key_signature",
	[PROTO_E_WRONG_SPOT] = "wrong_spot",
	[PROTO_E_DEVICE_SIG] = "bad_device_signature",
	[PROTO_E_NOT_YET] = "key_not_yet_valid",
	[PROTO_E_EXPIRED] = "key_expired",
	[PROTO_E_USED_UP] = "key_used_up",
	[PROTO_E_REVOKED] = "key_revoked",
	[PROTO_E_TRANSFERRED] = "key_transferred",
	[PROTO_E_WRONG_USER] = "wrong_user",
	[PROTO_E_LOCKED_OUT] = "locked_out",
	[PROTO_E_SITE_SIG] = "bad_site_signature",
	[PROTO_E_STALE] = "stale_sequence",
	[PROTO_E_TIME_BACK] = "time_backwards",
	[PROTO_E_FULL] = "table_full",
	[PROTO_E_BUSY] = "busy",
	[PROTO_E_JAMMED] = "jammed",
	[PROTO_E_FLASH] = "flash_error",
	[PROTO_E_TIME_UNSET] = "time_unset",
	[PROTO_E_TARGET] = "wrong_target",
	[PROTO_E_INTERNAL] = "internal",
	[PROTO_E_OCCUPIED] = "occupied",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == PROTO_STATUS_COUNT,
	       "a name for every status code");

static const char *const event_names[] = {
	[PROTO_EV_BOOT] = "boot",
	[PROTO_EV_UNLOCKED] = "unlocked",
	[PROTO_EV_LOCKED] = "locked",
	[PROTO_EV_CAR_ARRIVED] = "car_arrived",
	[PROTO_EV_CAR_LEFT] = "car_left",
	[PROTO_EV_FORCED] = "forced",
	[PROTO_EV_JAMMED] = "jammed",
	[PROTO_EV_LOW_BATTERY] = "low_battery",
	[PROTO_EV_LOCKOUT] = "lockout",
	[PROTO_EV_MGMT] = "mgmt",
	[PROTO_EV_TIME_SET] = "time_set",
	[PROTO_EV_OVERRIDE] = "override",
};
_Static_assert(sizeof(event_names) / sizeof(event_names[0]) == PROTO_EV_KIND_MAX + 1,
	       "a name for every event kind");

const char *proto_status_name(int status)
{
	if (status < 0 || status >= PROTO_STATUS_COUNT)
		return "unknown";
	return status_names[status];
}

const char *proto_event_name(uint8_t kind)
{
	if (kind > PROTO_EV_KIND_MAX || event_names[kind] == NULL)
		return "unknown";
	return event_names[kind];
}

/* ---- to-be-signed strings (PROTOCOL.md, section 8) */

void proto_tbs_ekey(struct wire_writer *w, const struct proto_ekey *k)
{
	put_tag(w, "PKE1");
	put_ekey_tbs(w, k);
}

void proto_tbs_skey(struct wire_writer *w, const struct proto_skey *k)
{
	put_tag(w, "PKK1");
	put_skey_tbs(w, k);
}

void proto_tbs_operate(struct wire_writer *w, const uint8_t nonce[PROTO_NONCE_LEN],
		       uint32_t site_id, uint32_t spot_id, uint8_t op, uint32_t user_id,
		       uint32_t key_id)
{
	put_tag(w, "PKO1");
	wire_put_bytes(w, nonce, PROTO_NONCE_LEN);
	wire_put_u32(w, site_id);
	wire_put_u32(w, spot_id);
	wire_put_u8(w, op);
	wire_put_u32(w, user_id);
	wire_put_u32(w, key_id);
}

void proto_tbs_mgmt_prefix(struct wire_writer *w, uint32_t site_id)
{
	put_tag(w, "PKM1");
	wire_put_u32(w, site_id);
}

void proto_tbs_status(struct wire_writer *w, const uint8_t nonce[PROTO_CNONCE_LEN],
		      const struct proto_status *s)
{
	put_tag(w, "PKS1");
	wire_put_bytes(w, nonce, PROTO_CNONCE_LEN);
	put_status_tbs(w, s);
}

void proto_tbs_log(struct wire_writer *w, const uint8_t nonce[PROTO_CNONCE_LEN],
		   uint32_t site_id, uint32_t spot_id, uint32_t head_seq, uint8_t count,
		   const uint8_t last_hash[PROTO_HASH_LEN])
{
	put_tag(w, "PKL1");
	wire_put_bytes(w, nonce, PROTO_CNONCE_LEN);
	wire_put_u32(w, site_id);
	wire_put_u32(w, spot_id);
	wire_put_u32(w, head_seq);
	wire_put_u8(w, count);
	wire_put_bytes(w, last_hash, PROTO_HASH_LEN);
}

void proto_tbs_ack(struct wire_writer *w, uint32_t site_id, const struct proto_mgmt_ack *a)
{
	put_tag(w, "PKA1");
	wire_put_u32(w, site_id);
	put_ack_tbs(w, a);
}

/* ---- events as hashed into the log chain */

void proto_event_encode(uint8_t out[PROTO_EVENT_LEN], const struct proto_event *e)
{
	struct wire_writer w;

	wire_writer_init(&w, out, PROTO_EVENT_LEN);
	put_event(&w, e);
}

void proto_event_decode(const uint8_t in[PROTO_EVENT_LEN], struct proto_event *e)
{
	struct wire_reader r;

	wire_reader_init(&r, in, PROTO_EVENT_LEN);
	get_event(&r, e);
}
