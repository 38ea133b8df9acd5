/*
 * test-lock.h: drives one lock core in-process for tests: boots it on a test port,
 * sends it frames through the fragmenter at a chosen MTU, runs the clock until the
 * barrier stops, and decodes what it answers. Lives under tests/ only.
 */
#ifndef PARK_TEST_LOCK_H
#define PARK_TEST_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../lockfw/core/lock.h"
#include "test-authority.h"
#include "test-port.h"

#define TEST_SITE_ID 7
#define TEST_SPOT_ID 101
#define TEST_NOW 1800000000u /* the time the tests set: 2027-01-15 */

struct test_lock {
	struct test_port tp;
	struct lock lock;
	struct test_site site;
	uint16_t mtu;    /* fragments sent to the lock use this MTU */
	uint8_t frame[PROTO_FRAME_MAX];
	size_t frame_len;
	struct proto_msg reply; /* last reply decoded by test_lock_* calls */
};

/* A factory-fresh lock, booted, with link 0 connected at MTU 23. */
void test_lock_init(struct test_lock *t);
/* As above, then provisioned for TEST_SITE_ID / TEST_SPOT_ID and its time set to TEST_NOW. */
void test_lock_init_ready(struct test_lock *t);
void test_lock_free(struct test_lock *t);

/* Reboots the core from the same flash, as after a power cut; link 0 reconnected. */
int test_lock_reboot(struct test_lock *t);

/* Sends frame[0..len) on `conn` in fragments; returns lock_receive's last result. */
int test_lock_send(struct test_lock *t, uint8_t conn, const uint8_t *frame, size_t len);

/*
 * Pops the next frame the lock sent on `conn` into t->frame and decodes it into
 * t->reply, skipping EVENT notifications unless `want_events`. Returns its type, or 0
 * when nothing is waiting.
 */
int test_lock_next(struct test_lock *t, uint8_t conn, bool want_events);

/* Steps the clock in small steps, ticking the lock, until the barrier stops (max ms). */
void test_lock_run(struct test_lock *t, uint32_t max_ms);

/* Asks for a challenge on `conn`; returns the nonce through `nonce`. */
void test_lock_challenge(struct test_lock *t, uint8_t conn, uint8_t nonce[PROTO_NONCE_LEN]);

/* Sends a signed management message; returns the ACK's result (or the ERROR's code). */
int test_lock_mgmt(struct test_lock *t, uint8_t mtype, uint32_t target, uint32_t seq,
		   const union proto_mgmt_payload *p);

/* Installs a credential for `u`; returns the ACK's result. */
int test_lock_install(struct test_lock *t, const struct test_user *u, uint32_t key_id,
		      uint32_t not_before, uint32_t not_after, uint16_t max_unlocks);

/*
 * The whole unlock (or lock) flow with `u`'s e-key `k`, signed by `signer`'s device
 * key: challenge, OPERATE, motor run. Returns the RESULT status (a proto_code).
 */
int test_lock_operate(struct test_lock *t, const struct test_user *signer, uint32_t user_id,
		      const struct proto_ekey *k, uint8_t op);

/* The same with a shared key. */
int test_lock_operate_shared(struct test_lock *t, const struct test_user *signer,
			     uint32_t user_id, const struct proto_skey *k, uint8_t op);

/*
 * A provisioned lock holding one credential (user 42, key 9, at most 3 unlocks), made
 * once and restored from a copy of its flash on every call: a fresh, identical lock for
 * each fuzz input. Returns the shared instance.
 */
struct test_lock *test_lock_snapshot(void);

/* The number of events of `kind` in the lock's log (read through the core's evlog). */
unsigned test_lock_count_events(struct test_lock *t, uint8_t kind);

#endif
