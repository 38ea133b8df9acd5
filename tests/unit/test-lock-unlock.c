/*
 * test-lock-unlock.c: the lock's unlock rules through its radio, one test per rule:
 * claims 1 and 4 (credential by user ID, e-key signature, own spot), the challenge-
 * response (no replay, no stale or foreign challenge), the limits of claims 2 and 7
 * (time, counted uses, counted in flash before the motor), and refused frames.
 * Shared keys and lockout have their own files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../support/test-lock.h"

#define USER_A 1001
#define USER_B 1002
#define USER_C 1003
#define KEY_A 5001
#define KEY_B 5002
#define KEY_LIMITED 5010
#define OTHER_SPOT 202
#define NONE_AFTER PROTO_TIME_NONE_AFTER
#define RUN_MS 10000

/* Frame offsets of OPERATE: header 3, op 1, user_id 4, ekey 151, device_sig 64. */
#define OPERATE_EKEY_OFF (PROTO_HDR_LEN + 5)
#define OPERATE_DEVSIG_OFF (OPERATE_EKEY_OFF + PROTO_EKEY_LEN)
#define EKEY_IDS_LEN 8 /* key_id, user_id: flipping them changes what is looked up */

struct fx {
	struct test_lock t;
	struct test_user a, b, c; /* A and B hold KEY_A and KEY_B; C holds nothing here */
};

/* What a refused request must leave as it was. */
struct snap {
	uint32_t total_unlocks;
	uint16_t uses[CREDENTIAL_SLOTS];
	uint8_t creds;
	uint8_t barrier;
	enum port_endstop endstop;
	uint32_t position_ms;
	uint32_t event_head;
};

static struct fx *fx_new(bool ready)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	if (ready)
		test_lock_init_ready(&f->t);
	else
		test_lock_init(&f->t);
	test_user_init(&f->a, USER_A);
	test_user_init(&f->b, USER_B);
	test_user_init(&f->c, USER_C);
	return f;
}

static void fx_free(struct fx *f)
{
	test_user_free(&f->a);
	test_user_free(&f->b);
	test_user_free(&f->c);
	test_lock_free(&f->t);
	free(f);
}

static int setup(void **state)
{
	struct fx *f = fx_new(true);

	assert_int_equal(test_lock_install(&f->t, &f->a, KEY_A, 0, NONE_AFTER, 0), PROTO_OK);
	assert_int_equal(test_lock_install(&f->t, &f->b, KEY_B, 0, NONE_AFTER, 0), PROTO_OK);
	test_port_drain(&f->t.tp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

static void snap_take(struct fx *f, struct snap *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->total_unlocks = f->t.lock.cfg.total_unlocks;
	for (i = 0; i < CREDENTIAL_SLOTS; i++)
		s->uses[i] = f->t.lock.creds.slot[i].uses;
	s->creds = f->t.lock.creds.count;
	s->barrier = f->t.lock.barrier;
	s->endstop = sim_hw_endstop(&f->t.tp.hw);
	s->position_ms = f->t.tp.hw.position_ms;
	s->event_head = f->t.lock.log.head_seq;
}

static void assert_unchanged(struct fx *f, const struct snap *before)
{
	struct snap now;

	snap_take(f, &now);
	assert_int_equal(now.total_unlocks, before->total_unlocks);
	assert_memory_equal(now.uses, before->uses, sizeof(now.uses));
	assert_int_equal(now.creds, before->creds);
	assert_int_equal(now.barrier, before->barrier);
	assert_int_equal(now.endstop, before->endstop);
	assert_int_equal(now.position_ms, before->position_ms);
	assert_int_equal(now.event_head, before->event_head);
	assert_int_equal(f->t.tp.hw.motor, PORT_MOTOR_STOP);
}

static uint16_t uses_of(struct fx *f, uint32_t user_id, uint32_t key_id)
{
	int i = credential_find(&f->t.lock.creds, user_id, key_id);

	assert_true(i >= 0);
	return f->t.lock.creds.slot[i].uses;
}

static struct proto_ekey ekey_of(const struct test_user *u, uint32_t key_id)
{
	return test_ekey(u, key_id, TEST_SPOT_ID, 0, NONE_AFTER, 0);
}

static size_t frame_operate(const struct test_user *signer, uint32_t user_id,
			    const struct proto_ekey *k, uint8_t op, const uint8_t nonce[32],
			    uint8_t *buf)
{
	return test_frame_operate(signer, user_id, k, op, nonce, TEST_SITE_ID, TEST_SPOT_ID, 5,
				  buf, PROTO_FRAME_MAX);
}

/* Sends a prepared request on `conn`, runs the motor, returns the RESULT status. */
static int send_for_result(struct fx *f, uint8_t conn, const uint8_t *buf, size_t n)
{
	test_lock_send(&f->t, conn, buf, n);
	test_lock_run(&f->t, RUN_MS);
	assert_int_equal(test_lock_next(&f->t, conn, false), PROTO_RESULT);
	return f->t.reply.u.result.status;
}

/* Sends a frame the lock must refuse before acting; returns the ERROR code. */
static int send_for_error(struct fx *f, uint8_t conn, const uint8_t *buf, size_t n)
{
	test_lock_send(&f->t, conn, buf, n);
	assert_int_equal(test_lock_next(&f->t, conn, false), PROTO_ERROR);
	return f->t.reply.u.error.code;
}

static int op_a(struct fx *f, uint8_t op)
{
	struct proto_ekey k = ekey_of(&f->a, KEY_A);

	return test_lock_operate(&f->t, &f->a, USER_A, &k, op);
}

/* Raises the failure threshold so that the many refusals of a sweep stay refusals. */
static void relax_lockout(struct fx *f)
{
	union proto_mgmt_payload p;

	p.lockout.max_failures = 255;
	p.lockout.window_s = 1;
	p.lockout.lockout_s = 1;
	assert_int_equal(test_lock_mgmt(&f->t, PROTO_MGMT_SET_LOCKOUT, TEST_SPOT_ID, 0, &p),
			 PROTO_OK);
	test_port_drain(&f->t.tp);
}

static void install_limited(struct fx *f, uint32_t not_before, uint32_t not_after,
			    uint16_t max_unlocks)
{
	assert_int_equal(test_lock_install(&f->t, &f->a, KEY_LIMITED, not_before, not_after,
					   max_unlocks),
			 PROTO_OK);
	test_port_drain(&f->t.tp);
}

static int op_limited(struct fx *f, uint32_t not_before, uint32_t not_after,
		      uint16_t max_unlocks, uint8_t op)
{
	struct proto_ekey k = test_ekey(&f->a, KEY_LIMITED, TEST_SPOT_ID, not_before, not_after,
					max_unlocks);

	return test_lock_operate(&f->t, &f->a, USER_A, &k, op);
}

static void advance_s(struct fx *f, uint32_t s)
{
	test_port_advance(&f->t.tp, (uint64_t)s * 1000);
	lock_tick(&f->t.lock);
	test_port_drain(&f->t.tp);
}

/* Steps whole seconds until the lock's clock reads `t`. */
static void advance_to(struct fx *f, uint32_t t)
{
	while (lock_time(&f->t.lock) < t)
		advance_s(f, 1);
	assert_int_equal(lock_time(&f->t.lock), t);
}

/* ---- claims 1 and 4 ---- */

static void test_valid_ekey_lowers_barrier_and_answers_at_end_stop(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	size_t n;

	test_lock_challenge(&f->t, 0, nonce);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	test_lock_send(&f->t, 0, buf, n);
	assert_int_equal(f->t.lock.barrier, PROTO_BARRIER_LOWERING);
	assert_int_equal(f->t.tp.hw.motor, PORT_MOTOR_DOWN);
	/* Halfway down: no RESULT yet. */
	test_port_advance(&f->t.tp, SIM_HW_TRAVEL_MS / 2);
	lock_tick(&f->t.lock);
	assert_int_equal(test_lock_next(&f->t, 0, false), 0);
	assert_int_equal(sim_hw_endstop(&f->t.tp.hw), PORT_ENDSTOP_NONE);

	test_lock_run(&f->t, RUN_MS);
	assert_int_equal(test_lock_next(&f->t, 0, false), PROTO_RESULT);
	assert_int_equal(f->t.reply.u.result.status, PROTO_OK);
	assert_int_equal(f->t.reply.u.result.op, PROTO_OP_UNLOCK);
	assert_int_equal(f->t.reply.u.result.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(f->t.reply.u.result.uses_left, PROTO_USES_LEFT_UNLIMITED);
	assert_int_equal(f->t.lock.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(sim_hw_endstop(&f->t.tp.hw), PORT_ENDSTOP_DOWN);
	assert_int_equal(f->t.tp.hw.motor, PORT_MOTOR_STOP);
	assert_int_equal(f->t.lock.cfg.total_unlocks, 1);
	assert_int_equal(uses_of(f, USER_A, KEY_A), 1);
}

static void test_unlock_logs_unlocked_with_user_and_key(void **state)
{
	struct fx *f = *state;
	struct proto_event e;
	uint8_t before[PROTO_HASH_LEN];

	assert_int_equal(op_a(f, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(test_lock_count_events(&f->t, PROTO_EV_UNLOCKED), 1);
	assert_int_equal(evlog_read(&f->t.lock.log, f->t.lock.log.head_seq, &e, before), 0);
	assert_int_equal(e.kind, PROTO_EV_UNLOCKED);
	assert_int_equal(e.arg8, PROTO_HOW_KEY);
	assert_int_equal(e.arg16, 1);
	assert_int_equal(e.user_id, USER_A);
	assert_int_equal(e.key_id, KEY_A);
	assert_int_equal(e.time, TEST_NOW);
	/* ... and every other link was told. */
	assert_int_equal(test_lock_next(&f->t, 1, true), PROTO_EVENT);
	assert_int_equal(f->t.reply.u.event.kind, PROTO_EV_UNLOCKED);
	assert_int_equal(f->t.reply.u.event.user_id, USER_A);
	assert_int_equal(f->t.reply.u.event.key_id, KEY_A);
}

static void test_unknown_user_is_unknown_key(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->c, KEY_A); /* C has no credential */
	struct snap before;

	snap_take(f, &before);
	assert_int_equal(test_lock_operate(&f->t, &f->c, USER_C, &k, PROTO_OP_UNLOCK),
			 PROTO_E_UNKNOWN_KEY);
	assert_unchanged(f, &before);
}

static void test_unknown_key_id_is_unknown_key(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, 5999);
	struct snap before;

	snap_take(f, &before);
	assert_int_equal(test_lock_operate(&f->t, &f->a, USER_A, &k, PROTO_OP_UNLOCK),
			 PROTO_E_UNKNOWN_KEY);
	/* B's key ID under A's user ID is not A's either. */
	k = ekey_of(&f->a, KEY_B);
	assert_int_equal(test_lock_operate(&f->t, &f->a, USER_A, &k, PROTO_OP_UNLOCK),
			 PROTO_E_UNKNOWN_KEY);
	assert_unchanged(f, &before);
}

static void test_ekey_of_another_user_is_wrong_user(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	struct snap before;

	snap_take(f, &before);
	assert_int_equal(test_lock_operate(&f->t, &f->a, USER_B, &k, PROTO_OP_UNLOCK),
			 PROTO_E_WRONG_USER);
	assert_unchanged(f, &before);
}

static void test_validly_signed_ekey_for_another_spot_is_wrong_spot(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = test_ekey(&f->a, KEY_A, OTHER_SPOT, 0, NONE_AFTER, 0);
	struct snap before;

	snap_take(f, &before);
	assert_int_equal(test_lock_operate(&f->t, &f->a, USER_A, &k, PROTO_OP_UNLOCK),
			 PROTO_E_WRONG_SPOT);
	assert_unchanged(f, &before);
}

static void test_ekey_signed_by_another_reservation_key_is_bad_key_signature(void **state)
{
	struct fx *f = *state;
	struct test_user forger = f->a; /* A's IDs and device, B's reservation key */
	struct proto_ekey k;
	struct snap before;

	forger.reservation = f->b.reservation;
	k = ekey_of(&forger, KEY_A);
	snap_take(f, &before);
	assert_int_equal(test_lock_operate(&f->t, &f->a, USER_A, &k, PROTO_OP_UNLOCK),
			 PROTO_E_KEY_SIG);
	assert_unchanged(f, &before);
}

/*
 * Each byte of the e-key flipped in turn, and the device then answers the challenge
 * for the altered key, so that only the e-key is wrong. Past the IDs, the lock must
 * refuse on a signature: believing a spot, a limit or a flag first would be a bug.
 */
static void test_ekey_every_byte_flipped_is_refused(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A), altered;
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	struct proto_msg m;
	struct snap before;
	size_t n, i;
	int st;

	relax_lockout(f);
	snap_take(f, &before);
	for (i = 0; i < PROTO_EKEY_LEN; i++) {
		test_lock_challenge(&f->t, 0, nonce);
		n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
		buf[OPERATE_EKEY_OFF + i] ^= 0x01;
		assert_int_equal(proto_decode(buf, n, &m), 0);
		altered = m.u.operate.ekey;
		n = frame_operate(&f->a, USER_A, &altered, PROTO_OP_UNLOCK, nonce, buf);
		st = send_for_result(f, 0, buf, n);
		if (st == PROTO_OK)
			fail_msg("e-key byte %zu flipped, and the lock opened", i);
		if (i >= EKEY_IDS_LEN && st != PROTO_E_KEY_SIG && st != PROTO_E_DEVICE_SIG)
			fail_msg("e-key byte %zu flipped: %s before any signature failed", i,
				 proto_status_name(st));
		assert_unchanged(f, &before);
	}
	assert_int_equal(op_a(f, PROTO_OP_UNLOCK), PROTO_OK);
}

static void test_device_signature_by_another_device_is_bad_device_signature(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	struct snap before;

	snap_take(f, &before);
	/* B signs the challenge for A's e-key: B's device is not the one A's key names. */
	assert_int_equal(test_lock_operate(&f->t, &f->b, USER_A, &k, PROTO_OP_UNLOCK),
			 PROTO_E_DEVICE_SIG);
	assert_unchanged(f, &before);
}

static void test_device_signature_every_byte_flipped_is_refused(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	struct snap before;
	size_t n, i;
	int st;

	relax_lockout(f);
	snap_take(f, &before);
	for (i = 0; i < PROTO_SIG_LEN; i++) {
		test_lock_challenge(&f->t, 0, nonce);
		n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
		buf[OPERATE_DEVSIG_OFF + i] ^= 0x01;
		st = send_for_result(f, 0, buf, n);
		if (st != PROTO_E_DEVICE_SIG)
			fail_msg("device signature byte %zu flipped: %s", i, proto_status_name(st));
		assert_unchanged(f, &before);
	}
	assert_int_equal(op_a(f, PROTO_OP_UNLOCK), PROTO_OK);
}

/* ---- the challenge ---- */

static void test_replayed_operate_is_no_challenge(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	struct snap before;
	size_t n;

	test_lock_challenge(&f->t, 0, nonce);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_OK);
	assert_int_equal(op_a(f, PROTO_OP_LOCK), PROTO_OK);
	snap_take(f, &before);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_E_CHALLENGE);
	assert_unchanged(f, &before);
}

static void test_recorded_operate_opens_nothing_after_a_new_challenge(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN], fresh[PROTO_NONCE_LEN];
	struct snap before;
	size_t n;

	test_lock_challenge(&f->t, 0, nonce);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_OK);
	assert_int_equal(op_a(f, PROTO_OP_LOCK), PROTO_OK);
	snap_take(f, &before);
	test_lock_challenge(&f->t, 0, fresh); /* the eavesdropper asks, then replays */
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_E_DEVICE_SIG);
	assert_unchanged(f, &before);
}

static void test_refused_answer_uses_the_challenge_up(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	struct snap before;
	size_t n;

	test_lock_challenge(&f->t, 0, nonce);
	n = frame_operate(&f->b, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_E_DEVICE_SIG);
	snap_take(f, &before);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_E_CHALLENGE);
	assert_unchanged(f, &before);
}

static void test_operate_without_challenge_is_no_challenge(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN] = { 0 };
	struct snap before;
	size_t n;

	snap_take(f, &before);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_E_CHALLENGE);
	assert_unchanged(f, &before);
}

static void test_challenge_of_link_1_does_not_serve_link_0(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	struct snap before;
	size_t n;

	test_lock_challenge(&f->t, 1, nonce);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	snap_take(f, &before);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_E_CHALLENGE);
	assert_unchanged(f, &before);
	/* On its own link it still answers. */
	assert_int_equal(send_for_result(f, 1, buf, n), PROTO_OK);
}

static void test_challenge_is_forgotten_on_disconnect(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	struct snap before;
	size_t n;

	test_lock_challenge(&f->t, 0, nonce);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	lock_disconnect(&f->t.lock, 0);
	lock_connect(&f->t.lock, 0);
	snap_take(f, &before);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_E_CHALLENGE);
	assert_unchanged(f, &before);
}

static void test_challenge_older_than_ttl_is_no_challenge(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	struct snap before;
	size_t n;

	test_lock_challenge(&f->t, 0, nonce);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	test_port_advance(&f->t.tp, LOCK_CHALLENGE_TTL_S * 1000 + 1);
	snap_take(f, &before);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_E_CHALLENGE);
	assert_unchanged(f, &before);
}

static void test_challenge_within_ttl_still_answers(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	size_t n;

	test_lock_challenge(&f->t, 0, nonce);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	test_port_advance(&f->t.tp, LOCK_CHALLENGE_TTL_S * 1000);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_OK);
}

static void test_of_two_challenges_only_the_newest_answers(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], first[PROTO_NONCE_LEN], second[PROTO_NONCE_LEN];
	struct snap before;
	size_t n;

	test_lock_challenge(&f->t, 0, first);
	test_lock_challenge(&f->t, 0, second);
	snap_take(f, &before);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, first, buf);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_E_DEVICE_SIG);
	assert_unchanged(f, &before);

	test_lock_challenge(&f->t, 0, first);
	test_lock_challenge(&f->t, 0, second);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, second, buf);
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_OK);
}

static int nonce_cmp(const void *x, const void *y)
{
	return memcmp(x, y, PROTO_NONCE_LEN);
}

static void test_challenges_never_repeat_over_1000_requests(void **state)
{
	struct fx *f = *state;
	enum { COUNT = 1000 };
	uint8_t(*nonces)[PROTO_NONCE_LEN] = calloc(COUNT, PROTO_NONCE_LEN);
	uint8_t zero[PROTO_NONCE_LEN] = { 0 };
	int i;

	assert_non_null(nonces);
	for (i = 0; i < COUNT; i++)
		test_lock_challenge(&f->t, (uint8_t)(i % 2), nonces[i]);
	qsort(nonces, COUNT, PROTO_NONCE_LEN, nonce_cmp);
	for (i = 0; i < COUNT; i++) {
		assert_memory_not_equal(nonces[i], zero, PROTO_NONCE_LEN);
		if (i > 0)
			assert_memory_not_equal(nonces[i - 1], nonces[i], PROTO_NONCE_LEN);
	}
	free(nonces);
}

/* ---- limits (claims 2 and 7) ---- */

static void test_credential_not_before_in_future_is_not_yet_valid(void **state)
{
	struct fx *f = *state;
	struct snap before;

	install_limited(f, TEST_NOW + 3600, NONE_AFTER, 0);
	snap_take(f, &before);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_E_NOT_YET);
	assert_unchanged(f, &before);
}

static void test_credential_not_after_in_past_is_expired(void **state)
{
	struct fx *f = *state;
	struct snap before;

	install_limited(f, 0, TEST_NOW - 1, 0);
	snap_take(f, &before);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_E_EXPIRED);
	assert_unchanged(f, &before);
}

static void test_ekey_not_before_in_future_is_not_yet_valid(void **state)
{
	struct fx *f = *state;
	struct snap before;

	install_limited(f, 0, NONE_AFTER, 0);
	snap_take(f, &before);
	assert_int_equal(op_limited(f, TEST_NOW + 3600, NONE_AFTER, 0, PROTO_OP_UNLOCK),
			 PROTO_E_NOT_YET);
	assert_unchanged(f, &before);
}

static void test_ekey_not_after_in_past_is_expired(void **state)
{
	struct fx *f = *state;
	struct snap before;

	install_limited(f, 0, NONE_AFTER, 0);
	snap_take(f, &before);
	assert_int_equal(op_limited(f, 0, TEST_NOW - 1, 0, PROTO_OP_UNLOCK), PROTO_E_EXPIRED);
	assert_unchanged(f, &before);
}

/* not_before and not_after are the first and last valid second. */
static void test_time_limits_include_their_end_seconds(void **state)
{
	struct fx *f = *state;

	install_limited(f, TEST_NOW + 10, TEST_NOW + 20, 0);
	advance_to(f, TEST_NOW + 9);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_E_NOT_YET);
	advance_to(f, TEST_NOW + 10);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_OK);
	/* Already down: still checked against the limits, but no use counted. */
	advance_to(f, TEST_NOW + 20);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_OK);
	advance_to(f, TEST_NOW + 21);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_E_EXPIRED);
	assert_int_equal(uses_of(f, USER_A, KEY_LIMITED), 1);
}

static void test_stricter_not_after_wins_ekey_or_credential(void **state)
{
	struct fx *f = *state;

	/* The e-key ends first. */
	install_limited(f, 0, TEST_NOW + 1000, 0);
	assert_int_equal(op_limited(f, 0, TEST_NOW + 100, 0, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(op_limited(f, 0, TEST_NOW + 100, 0, PROTO_OP_LOCK), PROTO_OK);
	advance_s(f, 200);
	assert_int_equal(op_limited(f, 0, TEST_NOW + 100, 0, PROTO_OP_UNLOCK), PROTO_E_EXPIRED);
	/* The credential ends first. */
	install_limited(f, 0, TEST_NOW + 150, 0);
	assert_int_equal(op_limited(f, 0, TEST_NOW + 1000, 0, PROTO_OP_UNLOCK), PROTO_E_EXPIRED);
}

static void test_stricter_not_before_wins_ekey_or_credential(void **state)
{
	struct fx *f = *state;

	/* Past the credential's start, not yet the e-key's. */
	install_limited(f, TEST_NOW + 100, NONE_AFTER, 0);
	advance_to(f, TEST_NOW + 150);
	assert_int_equal(op_limited(f, TEST_NOW + 200, NONE_AFTER, 0, PROTO_OP_UNLOCK),
			 PROTO_E_NOT_YET);
	advance_to(f, TEST_NOW + 200);
	assert_int_equal(op_limited(f, TEST_NOW + 200, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(op_limited(f, TEST_NOW + 200, NONE_AFTER, 0, PROTO_OP_LOCK), PROTO_OK);
	/* An e-key that starts earlier than the credential does not widen it. */
	install_limited(f, TEST_NOW + 1000, NONE_AFTER, 0);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_E_NOT_YET);
}

static void test_max_unlocks_allows_exactly_n_and_uses_left_counts_down(void **state)
{
	struct fx *f = *state;
	struct snap before;
	uint16_t i;

	install_limited(f, 0, NONE_AFTER, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_OK);
		assert_int_equal(f->t.reply.u.result.uses_left, 2 - i);
		assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_LOCK), PROTO_OK);
	}
	snap_take(f, &before);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_E_USED_UP);
	assert_int_equal(f->t.reply.u.result.uses_left, 0);
	assert_unchanged(f, &before);
	assert_int_equal(uses_of(f, USER_A, KEY_LIMITED), 3);
}

static void test_stricter_max_unlocks_wins_ekey_or_credential(void **state)
{
	struct fx *f = *state;

	/* The e-key allows 2 of the credential's 5. */
	install_limited(f, 0, NONE_AFTER, 5);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 2, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(f->t.reply.u.result.uses_left, 1);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 2, PROTO_OP_LOCK), PROTO_OK);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 2, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(f->t.reply.u.result.uses_left, 0);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 2, PROTO_OP_LOCK), PROTO_OK);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 2, PROTO_OP_UNLOCK), PROTO_E_USED_UP);
	/* An e-key allowing 9 does not widen a credential of 2 (already used twice). */
	install_limited(f, 0, NONE_AFTER, 2);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 9, PROTO_OP_UNLOCK), PROTO_E_USED_UP);
}

static void test_owner_key_without_limits_works_many_times(void **state)
{
	struct fx *f = *state;
	union proto_mgmt_payload p;
	int i;

	p.cred = test_cred(&f->a, KEY_LIMITED, PROTO_TIME_NONE_BEFORE, NONE_AFTER,
			   PROTO_UNLIMITED_USES, PROTO_CRED_OWNER);
	assert_int_equal(test_lock_mgmt(&f->t, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID, 0, &p),
			 PROTO_OK);
	for (i = 0; i < 12; i++) {
		assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_OK);
		assert_int_equal(f->t.reply.u.result.uses_left, PROTO_USES_LEFT_UNLIMITED);
		assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_LOCK), PROTO_OK);
		advance_s(f, 86400 * 30);
	}
	assert_int_equal(uses_of(f, USER_A, KEY_LIMITED), 12);
	assert_int_equal(f->t.lock.cfg.total_unlocks, 12);
}

static void test_time_limited_key_on_lock_without_time_is_time_unset(void **state)
{
	struct fx *f = fx_new(false);
	struct proto_ekey k;
	uint8_t buf[PROTO_FRAME_MAX];
	struct snap before;
	size_t n;

	(void)state;
	n = test_frame_provision(TEST_SITE_ID, TEST_SPOT_ID, f->t.site.pub, buf, sizeof(buf));
	assert_int_equal(test_lock_send(&f->t, 0, buf, n), 0);
	assert_int_equal(test_lock_next(&f->t, 0, false), PROTO_INFO);
	assert_int_equal(test_lock_install(&f->t, &f->a, KEY_A, 0, TEST_NOW + 3600, 0), PROTO_OK);
	assert_int_equal(test_lock_install(&f->t, &f->b, KEY_B, 0, NONE_AFTER, 0), PROTO_OK);
	test_port_drain(&f->t.tp);
	assert_false(f->t.lock.cfg.time_known);

	snap_take(f, &before);
	k = ekey_of(&f->a, KEY_A);
	assert_int_equal(test_lock_operate(&f->t, &f->a, USER_A, &k, PROTO_OP_UNLOCK),
			 PROTO_E_TIME_UNSET);
	/* A limit in the e-key alone needs the time too. */
	k = test_ekey(&f->b, KEY_B, TEST_SPOT_ID, 0, TEST_NOW + 3600, 0);
	assert_int_equal(test_lock_operate(&f->t, &f->b, USER_B, &k, PROTO_OP_UNLOCK),
			 PROTO_E_TIME_UNSET);
	assert_unchanged(f, &before);
	/* A key without time limits needs no clock. */
	k = ekey_of(&f->b, KEY_B);
	assert_int_equal(test_lock_operate(&f->t, &f->b, USER_B, &k, PROTO_OP_UNLOCK), PROTO_OK);
	fx_free(f);
}

static void test_lock_works_with_used_up_key_only_unlocks_count(void **state)
{
	struct fx *f = *state;

	install_limited(f, 0, NONE_AFTER, 1);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(f->t.reply.u.result.uses_left, 0);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_LOCK), PROTO_OK);
	assert_int_equal(f->t.reply.u.result.barrier, PROTO_BARRIER_UP);
	assert_int_equal(f->t.lock.barrier, PROTO_BARRIER_UP);
	assert_int_equal(sim_hw_endstop(&f->t.tp.hw), PORT_ENDSTOP_UP);
	assert_int_equal(uses_of(f, USER_A, KEY_LIMITED), 1);
	assert_int_equal(f->t.lock.cfg.total_unlocks, 1);
	assert_int_equal(test_lock_count_events(&f->t, PROTO_EV_LOCKED), 1);
}

static void test_lock_with_car_present_is_occupied(void **state)
{
	struct fx *f = *state;
	struct snap before;

	assert_int_equal(op_a(f, PROTO_OP_UNLOCK), PROTO_OK);
	sim_hw_set_car(&f->t.tp.hw, true);
	lock_tick(&f->t.lock);
	test_port_drain(&f->t.tp);
	snap_take(f, &before);
	assert_int_equal(op_a(f, PROTO_OP_LOCK), PROTO_E_OCCUPIED);
	assert_int_equal(f->t.reply.u.result.barrier, PROTO_BARRIER_DOWN);
	assert_unchanged(f, &before);
}

/* The sensor says car: no raise, even when the lock has not ticked since it arrived. */
static void test_lock_with_car_present_is_occupied_before_next_tick(void **state)
{
	struct fx *f = *state;

	assert_int_equal(op_a(f, PROTO_OP_UNLOCK), PROTO_OK);
	sim_hw_set_car(&f->t.tp.hw, true);
	assert_int_equal(op_a(f, PROTO_OP_LOCK), PROTO_E_OCCUPIED);
	assert_int_equal(f->t.lock.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(sim_hw_endstop(&f->t.tp.hw), PORT_ENDSTOP_DOWN);
}

static void test_unlock_when_already_down_is_ok_and_counts_no_use(void **state)
{
	struct fx *f = *state;
	struct snap before;

	install_limited(f, 0, NONE_AFTER, 3);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_OK);
	snap_take(f, &before);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(f->t.reply.u.result.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(f->t.reply.u.result.uses_left, 2);
	assert_unchanged(f, &before);
	assert_int_equal(uses_of(f, USER_A, KEY_LIMITED), 1);
}

static void test_use_is_counted_in_flash_before_the_motor_even_when_jammed(void **state)
{
	struct fx *f = *state;

	install_limited(f, 0, NONE_AFTER, 3);
	sim_hw_set_jam(&f->t.tp.hw, true);
	assert_int_equal(op_limited(f, 0, NONE_AFTER, 0, PROTO_OP_UNLOCK), PROTO_E_JAMMED);
	assert_int_equal(f->t.reply.u.result.barrier, PROTO_BARRIER_JAMMED);
	assert_int_equal(f->t.lock.barrier, PROTO_BARRIER_JAMMED);
	assert_int_equal(sim_hw_endstop(&f->t.tp.hw), PORT_ENDSTOP_UP);
	assert_int_equal(test_lock_count_events(&f->t, PROTO_EV_JAMMED), 1);
	assert_int_equal(test_lock_count_events(&f->t, PROTO_EV_UNLOCKED), 0);
	assert_int_equal(uses_of(f, USER_A, KEY_LIMITED), 1);

	assert_int_equal(test_lock_reboot(&f->t), 0);
	assert_int_equal(uses_of(f, USER_A, KEY_LIMITED), 1);
	assert_int_equal(f->t.lock.cfg.total_unlocks, 1);
}

/* ---- frames the lock refuses ---- */

static void test_unprovisioned_lock_answers_unprovisioned(void **state)
{
	struct fx *f = fx_new(false);
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN] = { 0 };
	struct proto_msg m;
	struct snap before;
	size_t n;

	(void)state;
	test_port_drain(&f->t.tp);
	snap_take(f, &before);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_CHALLENGE_REQ;
	m.tag = 4;
	n = test_frame(&m, buf, sizeof(buf));
	assert_int_equal(send_for_error(f, 0, buf, n), PROTO_E_UNPROVISIONED);
	assert_int_equal(f->t.reply.u.error.req_type, PROTO_CHALLENGE_REQ);
	assert_int_equal(f->t.reply.tag, 4);
	assert_false(f->t.lock.conn[0].challenge_live);

	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	assert_int_equal(send_for_error(f, 0, buf, n), PROTO_E_UNPROVISIONED);
	assert_int_equal(f->t.reply.u.error.req_type, PROTO_OPERATE);
	assert_unchanged(f, &before);
	fx_free(f);
}

static void test_wrong_version_is_bad_version_and_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct proto_ekey k = ekey_of(&f->a, KEY_A);
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	struct snap before;
	size_t n;

	test_lock_challenge(&f->t, 0, nonce);
	n = frame_operate(&f->a, USER_A, &k, PROTO_OP_UNLOCK, nonce, buf);
	snap_take(f, &before);
	buf[0] = PROTO_VERSION + 1;
	assert_int_equal(send_for_error(f, 0, buf, n), PROTO_E_VERSION);
	assert_int_equal(f->t.reply.tag, 5);
	assert_unchanged(f, &before);
	/* The refused frame did not even use the challenge up. */
	buf[0] = PROTO_VERSION;
	assert_int_equal(send_for_result(f, 0, buf, n), PROTO_OK);
}

static void test_unknown_type_is_unknown_type_then_lock_still_answers(void **state)
{
	struct fx *f = *state;
	uint8_t unknown[] = { PROTO_VERSION, 0x7E, 9 };
	uint8_t reply_type[PROTO_HDR_LEN + 9] = { PROTO_VERSION, PROTO_RESULT, 10 };
	struct snap before;

	snap_take(f, &before);
	assert_int_equal(send_for_error(f, 0, unknown, sizeof(unknown)), PROTO_E_TYPE);
	assert_int_equal(f->t.reply.u.error.req_type, 0x7E);
	assert_int_equal(f->t.reply.tag, 9);
	/* A reply type sent to the lock is unknown to it too. */
	assert_int_equal(send_for_error(f, 0, reply_type, sizeof(reply_type)), PROTO_E_TYPE);
	assert_int_equal(f->t.reply.tag, 10);
	assert_unchanged(f, &before);
	assert_int_equal(op_a(f, PROTO_OP_UNLOCK), PROTO_OK);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_valid_ekey_lowers_barrier_and_answers_at_end_stop),
		T(test_unlock_logs_unlocked_with_user_and_key),
		T(test_unknown_user_is_unknown_key),
		T(test_unknown_key_id_is_unknown_key),
		T(test_ekey_of_another_user_is_wrong_user),
		T(test_validly_signed_ekey_for_another_spot_is_wrong_spot),
		T(test_ekey_signed_by_another_reservation_key_is_bad_key_signature),
		T(test_ekey_every_byte_flipped_is_refused),
		T(test_device_signature_by_another_device_is_bad_device_signature),
		T(test_device_signature_every_byte_flipped_is_refused),
		T(test_replayed_operate_is_no_challenge),
		T(test_recorded_operate_opens_nothing_after_a_new_challenge),
		T(test_refused_answer_uses_the_challenge_up),
		T(test_operate_without_challenge_is_no_challenge),
		T(test_challenge_of_link_1_does_not_serve_link_0),
		T(test_challenge_is_forgotten_on_disconnect),
		T(test_challenge_older_than_ttl_is_no_challenge),
		T(test_challenge_within_ttl_still_answers),
		T(test_of_two_challenges_only_the_newest_answers),
		T(test_challenges_never_repeat_over_1000_requests),
		T(test_credential_not_before_in_future_is_not_yet_valid),
		T(test_credential_not_after_in_past_is_expired),
		T(test_ekey_not_before_in_future_is_not_yet_valid),
		T(test_ekey_not_after_in_past_is_expired),
		T(test_time_limits_include_their_end_seconds),
		T(test_stricter_not_after_wins_ekey_or_credential),
		T(test_stricter_not_before_wins_ekey_or_credential),
		T(test_max_unlocks_allows_exactly_n_and_uses_left_counts_down),
		T(test_stricter_max_unlocks_wins_ekey_or_credential),
		T(test_owner_key_without_limits_works_many_times),
		cmocka_unit_test(test_time_limited_key_on_lock_without_time_is_time_unset),
		T(test_lock_works_with_used_up_key_only_unlocks_count),
		T(test_lock_with_car_present_is_occupied),
		T(test_lock_with_car_present_is_occupied_before_next_tick),
		T(test_unlock_when_already_down_is_ok_and_counts_no_use),
		T(test_use_is_counted_in_flash_before_the_motor_even_when_jammed),
		cmocka_unit_test(test_unprovisioned_lock_answers_unprovisioned),
		T(test_wrong_version_is_bad_version_and_changes_nothing),
		T(test_unknown_type_is_unknown_type_then_lock_still_answers),
	};

	return cmocka_run_group_tests_name("lock-unlock", tests, NULL, NULL);
}
