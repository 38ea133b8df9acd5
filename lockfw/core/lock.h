/*
 * lock.h: the lock firmware core's public interface.
 *
 * A port owns one `struct lock` (statically on an MCU; one per simulated lock on a
 * host), boots it with lock_boot(), feeds it radio fragments with lock_receive(), and
 * calls lock_tick() at least every lock_next_tick_ms() milliseconds, and also when an end
 * stop is reached if its switch can interrupt (the motor then stops at once, not at the
 * next poll of the switch). The core drives the motor, reads the sensors and answers on
 * the radio through the port table only. It allocates nothing, prints nothing and makes
 * no OS call.
 */
#ifndef PARK_LOCK_H
#define PARK_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../port/port.h"
#include "../proto/frag.h"
#include "../proto/proto.h"
#include "credential.h"
#include "evlog.h"
#include "lockout.h"
#include "share.h"
#include "store.h"

#define LOCK_FW_VERSION 0x0100
#define LOCK_CONNS 2               /* simultaneous radio links (a gateway and a phone) */
#define LOCK_CHALLENGE_TTL_S 30    /* a challenge answers one request within this time */
#define LOCK_MOTOR_TIMEOUT_MS 4000 /* no end stop by then: jammed */
#define LOCK_LOW_BATTERY 20        /* percent at or below which LOW_BATTERY is logged */
#define LOCK_TIME_CHECKPOINT_S 300 /* the clock's saved resume point runs this far ahead */
#define LOCK_RELOCK_IDLE_MS 120000 /* an open spot with no car closes again after this */

/* Flash layout, derived from the port's geometry by lock_boot(). */
#define LOCK_STORE_AREA_BYTES 16384

/* Bytes of a management frame's signature kept to know it again (its retransmission). */
#define LOCK_MGMT_ID_LEN 8

/* Settings that survive reboot, kept in one store record. */
struct lock_config {
	bool provisioned;
	bool time_known;        /* a SET_TIME was ever applied */
	uint32_t site_id;
	uint32_t spot_id;
	uint8_t site_pub[PROTO_PUBKEY_LEN];
	uint32_t mgmt_seq;      /* newest management sequence applied */
	uint8_t mgmt_id[LOCK_MGMT_ID_LEN]; /* its frame's signature, first bytes (0: unknown) */
	uint32_t revoke_serial; /* newest revocation list applied */
	uint32_t time_saved;    /* seconds the clock resumes from after a reboot: ahead of */
				/* any time reported before the next checkpoint (walltime.c) */
	uint32_t total_unlocks;
	struct proto_lockout lockout;
};

/* One radio link. */
struct lock_conn {
	bool up;
	uint16_t mtu;
	struct frag_rx rx;
	bool challenge_live;
	uint8_t challenge[PROTO_NONCE_LEN];
	uint64_t challenge_ms; /* when it was issued, on the port clock */
};

/* A barrier movement whose RESULT is sent when it ends. */
struct lock_motion {
	bool active;
	uint8_t op;      /* proto_op */
	uint8_t conn;    /* link to answer on, or LOCK_NO_CONN */
	uint8_t tag;
	uint16_t uses_left;
	uint64_t start_ms;
	/* event logged when the barrier arrives */
	uint8_t how;
	uint32_t user_id;
	uint32_t key_id;
	uint16_t uses;
};
#define LOCK_NO_CONN 0xFF

/* What the world sees of a lock; for status replies and the simulator. */
struct lock_state {
	bool provisioned;
	uint32_t site_id;
	uint32_t spot_id;
	uint8_t barrier; /* proto_barrier */
	bool occupied;
	uint8_t battery;
	uint32_t time;   /* 0 when unset */
	uint32_t total_unlocks;
	uint32_t event_head;
	uint32_t mgmt_seq;
	uint32_t revoke_serial;
	uint8_t creds;
	uint8_t shares;
	bool halted;
};

struct lock {
	const struct port *port;
	struct store store;
	struct evlog log;
	struct lock_config cfg;
	struct credential_table creds;
	struct share_table shares;
	struct lockout_table lockouts;
	uint16_t revoked_count;
	uint32_t revoked[PROTO_REVOKE_MAX];
	struct lock_conn conn[LOCK_CONNS];
	struct lock_motion motion;
	uint8_t barrier;       /* proto_barrier */
	bool occupied;
	bool low_battery;
	bool forced_reported;
	uint8_t battery;
	uint64_t open_empty_ms; /* port clock since when the barrier is down with no car; 0 = not */
	uint32_t time_base_s;  /* lock seconds at time_base_ms */
	uint64_t time_base_ms; /* port clock when the time was time_base_s */
	uint32_t challenge_count; /* mixed into every challenge */
	uint8_t boot_secret[32];  /* per-boot HMAC key for challenges; never leaves RAM */
	bool halted;           /* a flash write failed: stop until reboot */
	uint8_t tx[PROTO_FRAME_MAX];
};

/*
 * Boots the lock: mounts the store and the event log on the port's flash, loads the
 * tables, makes the device key on first boot, reads the sensors and logs BOOT.
 * Returns 0, -PROTO_E_FLASH (flash unusable or too small) or -PROTO_E_INTERNAL.
 */
int lock_boot(struct lock *l, const struct port *port);

/* A client connected on link `conn` (< LOCK_CONNS), at the minimum MTU. */
void lock_connect(struct lock *l, uint8_t conn);
/* The link dropped: its partial frame and its challenge are forgotten. */
void lock_disconnect(struct lock *l, uint8_t conn);

/*
 * Handles one GATT write on link `conn`. Complete frames are decoded and answered
 * through port->radio_send; bad input is answered with an ERROR frame and changes
 * nothing. Returns 0, or the negated status of a refused frame (for logs and tests).
 */
int lock_receive(struct lock *l, uint8_t conn, const uint8_t *frag, size_t len);

/* Advances timers: motor end stops, sensor changes, challenge expiry, clock checkpoints. */
void lock_tick(struct lock *l);

/* Milliseconds until lock_tick() is next needed (short while the motor moves). */
uint32_t lock_next_tick_ms(const struct lock *l);

/* The lock's Unix time in seconds, 0 when never set. */
uint32_t lock_time(const struct lock *l);

void lock_get_state(const struct lock *l, struct lock_state *out);

/* ---- for the core's own modules only (barrier.c, operate.c, mgmt.c, ...) ---- */

/*
 * Logs an event durably and notifies every connected client. A flash failure halts
 * the lock (it stops acting until rebooted) and returns -PROTO_E_FLASH.
 */
int lock_log(struct lock *l, uint8_t kind, uint8_t arg8, uint16_t arg16, uint32_t user_id,
	     uint32_t key_id);

/* Encodes and sends `m` on link `conn` if it is up; drops it otherwise. */
void lock_send(struct lock *l, uint8_t conn, const struct proto_msg *m);

/* Sends an ERROR naming the refused request type (0 when unknown). */
void lock_send_error(struct lock *l, uint8_t conn, uint8_t tag, uint8_t req_type, int status);

/* Sends a RESULT for `op` with `status` (0 or negative) on `conn`. */
void lock_send_result(struct lock *l, uint8_t conn, uint8_t tag, uint8_t op, int status,
		      uint16_t uses_left);

/* Signs SHA-256 of the parts with the device key. 0 or -PROTO_E_INTERNAL. */
int lock_sign(struct lock *l, const uint8_t *tbs, size_t len, uint8_t sig[PROTO_SIG_LEN]);

/* Marks the lock halted after a failed write (power lost). */
void lock_halt(struct lock *l);

#endif
