/*
 * test-lock-lockout.c: locking out a device after repeated failed unlocks (DESIGN.md
 * section 4): the threshold, the server's policy and its window, the LOCKOUT event,
 * survival across reboot, the end of a lockout, and which refusals count. The table
 * itself (lockout.c) is reached only through the lock's radio.
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
#define KEY_ONCE 5010    /* A's key with max_unlocks 1 */
#define KEY_EXPIRED 5011 /* A's key whose not_after has passed */
#define NONE_AFTER PROTO_TIME_NONE_AFTER

struct fx {
	struct test_lock t;
	struct test_user a, b, c;
};

struct snap {
	uint32_t total_unlocks;
	uint16_t uses[CREDENTIAL_SLOTS];
	uint8_t barrier;
	uint32_t position_ms;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_lock_init_ready(&f->t);
	test_user_init(&f->a, USER_A);
	test_user_init(&f->b, USER_B);
	test_user_init(&f->c, USER_C);
	assert_int_equal(test_lock_install(&f->t, &f->a, KEY_A, 0, NONE_AFTER, 0), PROTO_OK);
	assert_int_equal(test_lock_install(&f->t, &f->b, KEY_B, 0, NONE_AFTER, 0), PROTO_OK);
	test_port_drain(&f->t.tp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	test_user_free(&f->a);
	test_user_free(&f->b);
	test_user_free(&f->c);
	test_lock_free(&f->t);
	free(f);
	return 0;
}

static void snap_take(struct fx *f, struct snap *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->total_unlocks = f->t.lock.cfg.total_unlocks;
	for (i = 0; i < CREDENTIAL_SLOTS; i++)
		s->uses[i] = f->t.lock.creds.slot[i].uses;
	s->barrier = f->t.lock.barrier;
	s->position_ms = f->t.tp.hw.position_ms;
}

static void assert_unchanged(struct fx *f, const struct snap *before)
{
	struct snap now;

	snap_take(f, &now);
	assert_int_equal(now.total_unlocks, before->total_unlocks);
	assert_memory_equal(now.uses, before->uses, sizeof(now.uses));
	assert_int_equal(now.barrier, before->barrier);
	assert_int_equal(now.position_ms, before->position_ms);
	assert_int_equal(f->t.tp.hw.motor, PORT_MOTOR_STOP);
}

/* A's device presents an e-key in A's name that C's reservation key signed. */
static int fail_a(struct fx *f)
{
	struct test_user forger = f->a;
	struct proto_ekey k;

	forger.reservation = f->c.reservation;
	k = test_ekey(&forger, KEY_A, TEST_SPOT_ID, 0, NONE_AFTER, 0);
	return test_lock_operate(&f->t, &f->a, USER_A, &k, PROTO_OP_UNLOCK);
}

static void fail_a_times(struct fx *f, int n)
{
	int i;

	for (i = 0; i < n; i++)
		assert_int_equal(fail_a(f), PROTO_E_KEY_SIG);
}

static int op_key(struct fx *f, const struct test_user *u, uint32_t key_id, uint8_t op)
{
	struct proto_ekey k = test_ekey(u, key_id, TEST_SPOT_ID, 0, NONE_AFTER, 0);

	return test_lock_operate(&f->t, u, u->user_id, &k, op);
}

/* A valid unlock (and lock again, so the next one moves the barrier); its status. */
static int cycle(struct fx *f, const struct test_user *u, uint32_t key_id)
{
	int r = op_key(f, u, key_id, PROTO_OP_UNLOCK);

	if (r == PROTO_OK)
		assert_int_equal(op_key(f, u, key_id, PROTO_OP_LOCK), PROTO_OK);
	return r;
}

static void set_policy(struct fx *f, uint8_t max_failures, uint16_t window_s,
		       uint32_t lockout_s)
{
	union proto_mgmt_payload p;

	p.lockout.max_failures = max_failures;
	p.lockout.window_s = window_s;
	p.lockout.lockout_s = lockout_s;
	assert_int_equal(test_lock_mgmt(&f->t, PROTO_MGMT_SET_LOCKOUT, TEST_SPOT_ID, 0, &p),
			 PROTO_OK);
	test_port_drain(&f->t.tp);
}

/* Steps whole seconds, ticking the lock, until its clock reads `t`. */
static void advance_to(struct fx *f, uint32_t t)
{
	while (lock_time(&f->t.lock) < t) {
		test_port_advance(&f->t.tp, 1000);
		lock_tick(&f->t.lock);
	}
	test_port_drain(&f->t.tp);
	assert_int_equal(lock_time(&f->t.lock), t);
}

static void test_max_failures_lock_the_device_out_even_for_a_valid_request(void **state)
{
	struct fx *f = *state;
	struct snap before;

	fail_a_times(f, LOCKOUT_DEFAULT_FAILURES);
	snap_take(f, &before);
	assert_int_equal(op_key(f, &f->a, KEY_A, PROTO_OP_UNLOCK), PROTO_E_LOCKED_OUT);
	assert_int_equal(fail_a(f), PROTO_E_LOCKED_OUT);
	assert_unchanged(f, &before);
	/* Another device is not concerned. */
	assert_int_equal(cycle(f, &f->b, KEY_B), PROTO_OK);
}

static void test_one_failure_fewer_than_max_does_not_lock_out(void **state)
{
	struct fx *f = *state;

	fail_a_times(f, LOCKOUT_DEFAULT_FAILURES - 1);
	assert_int_equal(cycle(f, &f->a, KEY_A), PROTO_OK);
	assert_int_equal(test_lock_count_events(&f->t, PROTO_EV_LOCKOUT), 0);
}

static void test_lockout_is_logged_once(void **state)
{
	struct fx *f = *state;
	struct proto_event e;
	uint8_t before[PROTO_HASH_LEN];
	uint32_t seq;

	fail_a_times(f, LOCKOUT_DEFAULT_FAILURES);
	for (seq = f->t.lock.log.head_seq; seq > 0; seq--) {
		assert_int_equal(evlog_read(&f->t.lock.log, seq, &e, before), 0);
		if (e.kind == PROTO_EV_LOCKOUT)
			break;
	}
	assert_true(seq > 0);
	assert_int_equal(e.user_id, USER_A);
	assert_int_equal(e.key_id, KEY_A);
	assert_int_equal(e.arg16, LOCKOUT_DEFAULT_LOCKOUT_S / 60);
	/* More attempts while locked out log nothing more. */
	assert_int_equal(fail_a(f), PROTO_E_LOCKED_OUT);
	assert_int_equal(fail_a(f), PROTO_E_LOCKED_OUT);
	assert_int_equal(op_key(f, &f->a, KEY_A, PROTO_OP_UNLOCK), PROTO_E_LOCKED_OUT);
	assert_int_equal(test_lock_count_events(&f->t, PROTO_EV_LOCKOUT), 1);
}

static void test_lockout_survives_reboot(void **state)
{
	struct fx *f = *state;
	struct snap before;

	fail_a_times(f, LOCKOUT_DEFAULT_FAILURES);
	assert_int_equal(test_lock_reboot(&f->t), 0);
	test_port_drain(&f->t.tp);
	snap_take(f, &before);
	assert_int_equal(op_key(f, &f->a, KEY_A, PROTO_OP_UNLOCK), PROTO_E_LOCKED_OUT);
	assert_unchanged(f, &before);
	assert_int_equal(test_lock_count_events(&f->t, PROTO_EV_LOCKOUT), 1);
	assert_int_equal(cycle(f, &f->b, KEY_B), PROTO_OK);
}

static void test_lockout_ends_after_lockout_s(void **state)
{
	struct fx *f = *state;
	uint32_t start;

	fail_a_times(f, LOCKOUT_DEFAULT_FAILURES);
	start = lock_time(&f->t.lock);
	advance_to(f, start + LOCKOUT_DEFAULT_LOCKOUT_S - 1);
	assert_int_equal(op_key(f, &f->a, KEY_A, PROTO_OP_UNLOCK), PROTO_E_LOCKED_OUT);
	advance_to(f, start + LOCKOUT_DEFAULT_LOCKOUT_S);
	assert_int_equal(cycle(f, &f->a, KEY_A), PROTO_OK);
}

static void test_server_policy_sets_failures_and_lockout_time(void **state)
{
	struct fx *f = *state;
	struct proto_event e;
	uint8_t before[PROTO_HASH_LEN];
	uint32_t start;

	set_policy(f, 2, 60, 120);
	fail_a_times(f, 2);
	start = lock_time(&f->t.lock);
	assert_int_equal(op_key(f, &f->a, KEY_A, PROTO_OP_UNLOCK), PROTO_E_LOCKED_OUT);
	assert_int_equal(test_lock_count_events(&f->t, PROTO_EV_LOCKOUT), 1);
	assert_int_equal(evlog_read(&f->t.lock.log, f->t.lock.log.head_seq, &e, before), 0);
	assert_int_equal(e.kind, PROTO_EV_LOCKOUT);
	assert_int_equal(e.arg16, 2);
	advance_to(f, start + 119);
	assert_int_equal(op_key(f, &f->a, KEY_A, PROTO_OP_UNLOCK), PROTO_E_LOCKED_OUT);
	advance_to(f, start + 120);
	assert_int_equal(cycle(f, &f->a, KEY_A), PROTO_OK);
}

static void test_failures_further_apart_than_window_do_not_add_up(void **state)
{
	struct fx *f = *state;
	uint32_t t0;

	set_policy(f, 2, 60, 120);
	fail_a_times(f, 1);
	t0 = lock_time(&f->t.lock);
	advance_to(f, t0 + 60);
	fail_a_times(f, 1);
	assert_int_equal(op_key(f, &f->a, KEY_A, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(op_key(f, &f->a, KEY_A, PROTO_OP_LOCK), PROTO_OK);
	/* The same two failures within the window do. */
	fail_a_times(f, 1);
	t0 = lock_time(&f->t.lock);
	advance_to(f, t0 + 59);
	fail_a_times(f, 1);
	assert_int_equal(op_key(f, &f->a, KEY_A, PROTO_OP_UNLOCK), PROTO_E_LOCKED_OUT);
}

static void test_success_resets_failure_count(void **state)
{
	struct fx *f = *state;

	fail_a_times(f, LOCKOUT_DEFAULT_FAILURES - 1);
	assert_int_equal(cycle(f, &f->a, KEY_A), PROTO_OK);
	fail_a_times(f, LOCKOUT_DEFAULT_FAILURES - 1);
	assert_int_equal(cycle(f, &f->a, KEY_A), PROTO_OK);
	assert_int_equal(test_lock_count_events(&f->t, PROTO_EV_LOCKOUT), 0);
}

/*
 * A holder whose key has run out or expired is who they say they are: those refusals
 * are not attacks and never lock the device out.
 */
static void test_expired_and_used_up_refusals_do_not_count_toward_lockout(void **state)
{
	struct fx *f = *state;
	int i;

	assert_int_equal(test_lock_install(&f->t, &f->a, KEY_ONCE, 0, NONE_AFTER, 1), PROTO_OK);
	assert_int_equal(test_lock_install(&f->t, &f->a, KEY_EXPIRED, 0, TEST_NOW - 1, 0),
			 PROTO_OK);
	test_port_drain(&f->t.tp);
	assert_int_equal(cycle(f, &f->a, KEY_ONCE), PROTO_OK);
	for (i = 0; i < 2 * LOCKOUT_DEFAULT_FAILURES; i++) {
		assert_int_equal(op_key(f, &f->a, KEY_ONCE, PROTO_OP_UNLOCK), PROTO_E_USED_UP);
		assert_int_equal(op_key(f, &f->a, KEY_EXPIRED, PROTO_OP_UNLOCK), PROTO_E_EXPIRED);
	}
	assert_int_equal(cycle(f, &f->a, KEY_A), PROTO_OK);
	assert_int_equal(test_lock_count_events(&f->t, PROTO_EV_LOCKOUT), 0);
}

/*
 * A device key is public (it rides in every e-key over the air). Requests that the
 * device did not sign are not that device's failures: C replaying A's e-key, or
 * forging one that names A's device, must not lock A out.
 */
static void test_failures_not_signed_by_the_device_do_not_lock_it_out(void **state)
{
	struct fx *f = *state;
	struct proto_ekey recorded = test_ekey(&f->a, KEY_A, TEST_SPOT_ID, 0, NONE_AFTER, 0);
	struct test_user forger = f->a;
	struct proto_ekey forged;
	int i;

	forger.reservation = f->c.reservation;
	forged = test_ekey(&forger, KEY_A, TEST_SPOT_ID, 0, NONE_AFTER, 0);
	for (i = 0; i < LOCKOUT_DEFAULT_FAILURES; i++) {
		assert_int_equal(test_lock_operate(&f->t, &f->c, USER_A, &recorded,
						   PROTO_OP_UNLOCK),
				 PROTO_E_DEVICE_SIG);
		assert_int_equal(test_lock_operate(&f->t, &f->c, USER_A, &forged,
						   PROTO_OP_UNLOCK),
				 PROTO_E_KEY_SIG);
	}
	assert_int_equal(cycle(f, &f->a, KEY_A), PROTO_OK);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_max_failures_lock_the_device_out_even_for_a_valid_request),
		T(test_one_failure_fewer_than_max_does_not_lock_out),
		T(test_lockout_is_logged_once),
		T(test_lockout_survives_reboot),
		T(test_lockout_ends_after_lockout_s),
		T(test_server_policy_sets_failures_and_lockout_time),
		T(test_failures_further_apart_than_window_do_not_add_up),
		T(test_success_resets_failure_count),
		T(test_expired_and_used_up_refusals_do_not_count_toward_lockout),
		T(test_failures_not_signed_by_the_device_do_not_lock_it_out),
	};

	return cmocka_run_group_tests_name("lock-lockout", tests, NULL, NULL);
}
