/*
 * test-lock-barrier.c: the barrier and the sensors through the lock core on the
 * simulated hardware: travel to the end stops, jams, a barrier forced by hand, the car
 * sensor, the automatic raise and back-off, low battery, EVENT notifications on every
 * link, busy while moving, the signed STATUS, and the MTU that HELLO negotiates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "../../lib/signer.h"
#include "../support/test-lock.h"

#define KEY_ID 5001

/* A ready lock and one user with an unlimited key. */
struct rig {
	struct test_lock t;
	struct test_user u;
	struct proto_ekey k;
};

static void rig_init(struct rig *r)
{
	test_lock_init_ready(&r->t);
	test_user_init(&r->u, 1001);
	assert_int_equal(test_lock_install(&r->t, &r->u, KEY_ID, 0, PROTO_TIME_NONE_AFTER, 0),
			 PROTO_OK);
	r->k = test_ekey(&r->u, KEY_ID, TEST_SPOT_ID, 0, PROTO_TIME_NONE_AFTER, 0);
	test_port_drain(&r->t.tp);
}

static void rig_free(struct rig *r)
{
	test_user_free(&r->u);
	test_lock_free(&r->t);
}

static int operate(struct rig *r, uint8_t op)
{
	return test_lock_operate(&r->t, &r->u, r->u.user_id, &r->k, op);
}

/*
 * Sends an OPERATE on `conn` answering a fresh challenge, without running the motor.
 * Returns lock_receive's result: 0, or the negated status of a refusal.
 */
static int start_operate(struct rig *r, uint8_t conn, uint8_t op)
{
	uint8_t nonce[PROTO_NONCE_LEN];
	size_t n;

	test_lock_challenge(&r->t, conn, nonce);
	n = test_frame_operate(&r->u, r->u.user_id, &r->k, op, nonce, TEST_SITE_ID, TEST_SPOT_ID,
			       6, r->t.frame, sizeof(r->t.frame));
	return test_lock_send(&r->t, conn, r->t.frame, n);
}

/* Steps the clock by `ms` and ticks once. */
static void step(struct rig *r, uint64_t ms)
{
	test_port_advance(&r->t.tp, ms);
	lock_tick(&r->t.lock);
}

/* Pops frames on `conn` until an EVENT of `kind`; false when none is waiting. */
static bool pop_event(struct rig *r, uint8_t conn, uint8_t kind)
{
	int type;

	while ((type = test_lock_next(&r->t, conn, true)) != 0)
		if (type == PROTO_EVENT && r->t.reply.u.event.kind == kind)
			return true;
	return false;
}

static struct proto_info hello(struct rig *r, uint8_t conn, uint16_t mtu)
{
	struct proto_msg m;
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.tag = 1;
	m.u.hello.mtu = mtu;
	n = test_frame(&m, r->t.frame, sizeof(r->t.frame));
	test_lock_send(&r->t, conn, r->t.frame, n);
	assert_int_equal(test_lock_next(&r->t, conn, false), PROTO_INFO);
	return r->t.reply.u.info;
}

/* ---- movement ---- */

static void test_unlock_reaches_end_stop_then_result(void **state)
{
	struct rig r;
	uint64_t start;

	(void)state;
	rig_init(&r);
	start = r.t.tp.now_ms;
	assert_int_equal(start_operate(&r, 0, PROTO_OP_UNLOCK), 0);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_LOWERING);
	assert_int_equal(r.t.tp.hw.motor, PORT_MOTOR_DOWN);
	step(&r, SIM_HW_TRAVEL_MS / 2);
	assert_int_equal(test_lock_next(&r.t, 0, false), 0); /* no RESULT before the end stop */
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_LOWERING);
	test_lock_run(&r.t, 10000);
	assert_int_equal(test_lock_next(&r.t, 0, false), PROTO_RESULT);
	assert_int_equal(r.t.reply.u.result.status, PROTO_OK);
	assert_int_equal(r.t.reply.u.result.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(r.t.reply.u.result.uses_left, PROTO_USES_LEFT_UNLIMITED);
	assert_true(r.t.tp.now_ms - start >= SIM_HW_TRAVEL_MS);
	assert_int_equal(sim_hw_endstop(&r.t.tp.hw), PORT_ENDSTOP_DOWN);
	assert_int_equal(r.t.tp.hw.motor, PORT_MOTOR_STOP);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_UNLOCKED), 1);
	/* ... and back up. */
	assert_int_equal(operate(&r, PROTO_OP_LOCK), PROTO_OK);
	assert_int_equal(r.t.reply.u.result.barrier, PROTO_BARRIER_UP);
	assert_int_equal(sim_hw_endstop(&r.t.tp.hw), PORT_ENDSTOP_UP);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_LOCKED), 1);
	rig_free(&r);
}

static void test_jam_reports_jammed(void **state)
{
	struct rig r;
	uint64_t start;

	(void)state;
	rig_init(&r);
	sim_hw_set_jam(&r.t.tp.hw, true);
	start = r.t.tp.now_ms;
	assert_int_equal(operate(&r, PROTO_OP_UNLOCK), PROTO_E_JAMMED);
	assert_int_equal(r.t.reply.u.result.barrier, PROTO_BARRIER_JAMMED);
	assert_true(r.t.tp.now_ms - start >= LOCK_MOTOR_TIMEOUT_MS);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_JAMMED);
	assert_int_equal(r.t.tp.hw.motor, PORT_MOTOR_STOP);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_JAMMED), 1);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_UNLOCKED), 0);
	/* Freed, the barrier works again. */
	sim_hw_set_jam(&r.t.tp.hw, false);
	assert_int_equal(operate(&r, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_JAMMED), 1);
	rig_free(&r);
}

static void test_jam_event_reaches_link(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	sim_hw_set_jam(&r.t.tp.hw, true);
	assert_int_equal(start_operate(&r, 0, PROTO_OP_UNLOCK), 0);
	test_lock_run(&r.t, 10000);
	assert_true(pop_event(&r, 0, PROTO_EV_JAMMED));
	assert_int_equal(r.t.reply.u.event.arg8, PROTO_OP_UNLOCK);
	assert_int_equal(r.t.reply.u.event.user_id, r.u.user_id);
	assert_int_equal(r.t.reply.u.event.key_id, KEY_ID);
	rig_free(&r);
}

static void test_forced_down_reported_once(void **state)
{
	struct rig r;
	int i;

	(void)state;
	rig_init(&r);
	sim_hw_force_down(&r.t.tp.hw);
	for (i = 0; i < 10; i++)
		step(&r, 1000);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_FORCED), 1);
	assert_true(pop_event(&r, 0, PROTO_EV_FORCED));
	assert_false(pop_event(&r, 0, PROTO_EV_FORCED));
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_DOWN);
	/* Raised again, a new forcing is a new event. */
	assert_int_equal(operate(&r, PROTO_OP_LOCK), PROTO_OK);
	sim_hw_force_down(&r.t.tp.hw);
	for (i = 0; i < 5; i++)
		step(&r, 1000);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_FORCED), 2);
	rig_free(&r);
}

/* ---- the car sensor ---- */

static void test_car_arrival_and_departure_logged(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	sim_hw_set_car(&r.t.tp.hw, true);
	step(&r, 1000);
	assert_true(r.t.lock.occupied);
	assert_true(pop_event(&r, 0, PROTO_EV_CAR_ARRIVED));
	step(&r, 1000);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_CAR_ARRIVED), 1);
	sim_hw_set_car(&r.t.tp.hw, false);
	step(&r, 1000);
	assert_false(r.t.lock.occupied);
	assert_true(pop_event(&r, 0, PROTO_EV_CAR_LEFT));
	/* The barrier was up: nothing moves. */
	assert_false(r.t.lock.motion.active);
	assert_int_equal(r.t.tp.hw.motor, PORT_MOTOR_STOP);
	rig_free(&r);
}

static void test_car_leaving_open_spot_raises_barrier(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	assert_int_equal(operate(&r, PROTO_OP_UNLOCK), PROTO_OK);
	sim_hw_set_car(&r.t.tp.hw, true);
	step(&r, 1000);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_DOWN); /* not while the car is there */
	test_port_drain(&r.t.tp);
	sim_hw_set_car(&r.t.tp.hw, false);
	step(&r, 1000);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_RAISING);
	test_lock_run(&r.t, 10000);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_UP);
	assert_int_equal(sim_hw_endstop(&r.t.tp.hw), PORT_ENDSTOP_UP);
	assert_true(pop_event(&r, 0, PROTO_EV_LOCKED));
	assert_int_equal(r.t.reply.u.event.arg8, PROTO_HOW_AUTO);
	/* Nobody asked, so nobody gets a RESULT. */
	test_port_drain(&r.t.tp);
	assert_int_equal(test_lock_next(&r.t, 0, false), 0);
	rig_free(&r);
}

/* A car rolls under a rising barrier: it stops, says occupied, and goes back down. */
static void test_car_under_rising_barrier_backs_off(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	assert_int_equal(operate(&r, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(start_operate(&r, 0, PROTO_OP_LOCK), 0);
	step(&r, SIM_HW_TRAVEL_MS / 3);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_RAISING);
	sim_hw_set_car(&r.t.tp.hw, true);
	step(&r, 20);
	assert_int_equal(test_lock_next(&r.t, 0, false), PROTO_RESULT);
	assert_int_equal(r.t.reply.u.result.status, PROTO_E_OCCUPIED);
	assert_int_equal(r.t.reply.u.result.op, PROTO_OP_LOCK);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_LOWERING);
	test_lock_run(&r.t, 10000);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(sim_hw_endstop(&r.t.tp.hw), PORT_ENDSTOP_DOWN);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_LOCKED), 0);
	/* Going back down is the lock's own doing: no use is counted for it. */
	assert_int_equal(r.t.lock.cfg.total_unlocks, 1);
	rig_free(&r);
}

/* Opened and never used, the spot closes again after LOCK_RELOCK_IDLE_MS. */
static void test_open_empty_spot_closes_after_idle(void **state)
{
	struct rig r;
	uint64_t opened;

	(void)state;
	rig_init(&r);
	assert_int_equal(operate(&r, PROTO_OP_UNLOCK), PROTO_OK);
	opened = r.t.tp.now_ms;
	while (r.t.tp.now_ms - opened + 1000 < LOCK_RELOCK_IDLE_MS)
		step(&r, 1000);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_DOWN);
	step(&r, 2000);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_RAISING);
	test_lock_run(&r.t, 10000);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_UP);
	assert_true(pop_event(&r, 0, PROTO_EV_LOCKED));
	assert_int_equal(r.t.reply.u.event.arg8, PROTO_HOW_AUTO);
	rig_free(&r);
}

/* A car that came keeps the spot open as long as it stays. */
static void test_occupied_spot_stays_open(void **state)
{
	struct rig r;
	int i;

	(void)state;
	rig_init(&r);
	assert_int_equal(operate(&r, PROTO_OP_UNLOCK), PROTO_OK);
	sim_hw_set_car(&r.t.tp.hw, true);
	for (i = 0; i < 3 * LOCK_RELOCK_IDLE_MS / 1000; i++)
		step(&r, 1000);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_LOCKED), 0);
	rig_free(&r);
}

static void test_raise_refused_while_occupied(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	assert_int_equal(operate(&r, PROTO_OP_UNLOCK), PROTO_OK);
	sim_hw_set_car(&r.t.tp.hw, true);
	step(&r, 1000);
	assert_int_equal(operate(&r, PROTO_OP_LOCK), PROTO_E_OCCUPIED);
	assert_int_equal(r.t.reply.u.result.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(sim_hw_endstop(&r.t.tp.hw), PORT_ENDSTOP_DOWN);
	assert_int_equal(r.t.tp.hw.motor, PORT_MOTOR_STOP);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_LOCKED), 0);
	rig_free(&r);
}

/* ---- battery ---- */

static void battery(struct rig *r, uint8_t percent)
{
	sim_hw_set_battery(&r->t.tp.hw, percent);
	step(r, 1000);
}

static void test_low_battery_logged_once_until_recovered(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	battery(&r, LOCK_LOW_BATTERY + 1);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_LOW_BATTERY), 0);
	battery(&r, LOCK_LOW_BATTERY);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_LOW_BATTERY), 1);
	assert_true(pop_event(&r, 0, PROTO_EV_LOW_BATTERY));
	assert_int_equal(r.t.reply.u.event.arg16, LOCK_LOW_BATTERY);
	battery(&r, 15);
	battery(&r, 10);
	battery(&r, 25); /* not above 25: still the same low spell */
	battery(&r, 18);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_LOW_BATTERY), 1);
	battery(&r, 26);
	battery(&r, 19);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_LOW_BATTERY), 2);
	rig_free(&r);
}

static void test_low_battery_at_boot_logged_once(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	sim_hw_set_battery(&r.t.tp.hw, 12);
	assert_int_equal(test_lock_reboot(&r.t), 0);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_LOW_BATTERY), 1);
	battery(&r, 11);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_LOW_BATTERY), 1);
	rig_free(&r);
}

/* ---- links ---- */

static void test_events_reach_every_link(void **state)
{
	struct rig r;
	uint32_t seq;

	(void)state;
	rig_init(&r);
	sim_hw_set_car(&r.t.tp.hw, true);
	step(&r, 1000);
	assert_int_equal(test_lock_next(&r.t, 0, true), PROTO_EVENT);
	assert_int_equal(r.t.reply.u.event.kind, PROTO_EV_CAR_ARRIVED);
	assert_int_equal(r.t.reply.tag, 0);
	seq = r.t.reply.u.event.seq;
	assert_int_equal(seq, r.t.lock.log.head_seq);
	assert_int_equal(test_lock_next(&r.t, 1, true), PROTO_EVENT);
	assert_int_equal(r.t.reply.u.event.kind, PROTO_EV_CAR_ARRIVED);
	assert_int_equal(r.t.reply.u.event.seq, seq);
	/* A link that went away hears nothing more. */
	lock_disconnect(&r.t.lock, 1);
	sim_hw_set_car(&r.t.tp.hw, false);
	step(&r, 1000);
	assert_true(pop_event(&r, 0, PROTO_EV_CAR_LEFT));
	assert_int_equal(test_lock_next(&r.t, 1, true), 0);
	rig_free(&r);
}

static void test_request_while_moving_busy(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	assert_int_equal(start_operate(&r, 0, PROTO_OP_UNLOCK), 0);
	assert_true(r.t.lock.motion.active);
	assert_int_equal(start_operate(&r, 1, PROTO_OP_UNLOCK), -PROTO_E_BUSY);
	assert_int_equal(test_lock_next(&r.t, 1, false), PROTO_RESULT);
	assert_int_equal(r.t.reply.u.result.status, PROTO_E_BUSY);
	assert_int_equal(start_operate(&r, 1, PROTO_OP_LOCK), -PROTO_E_BUSY);
	assert_int_equal(test_lock_next(&r.t, 1, false), PROTO_RESULT);
	assert_int_equal(r.t.reply.u.result.status, PROTO_E_BUSY);
	test_lock_run(&r.t, 10000);
	assert_int_equal(test_lock_next(&r.t, 0, false), PROTO_RESULT);
	assert_int_equal(r.t.reply.u.result.status, PROTO_OK);
	assert_int_equal(r.t.lock.barrier, PROTO_BARRIER_DOWN);
	/* The refused requests counted nothing. */
	assert_int_equal(r.t.lock.creds.slot[credential_find_key(&r.t.lock.creds, KEY_ID)].uses, 1);
	assert_int_equal(r.t.lock.cfg.total_unlocks, 1);
	rig_free(&r);
}

/* ---- STATUS ---- */

static void status_req(struct rig *r, const uint8_t nonce[PROTO_CNONCE_LEN])
{
	struct proto_msg m;
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_STATUS_REQ;
	m.tag = 8;
	memcpy(m.u.status_req.nonce, nonce, PROTO_CNONCE_LEN);
	n = test_frame(&m, r->t.frame, sizeof(r->t.frame));
	test_lock_send(&r->t, 0, r->t.frame, n);
	assert_int_equal(test_lock_next(&r->t, 0, false), PROTO_STATUS);
}

static void test_status_signed_and_accurate(void **state)
{
	struct rig r;
	struct proto_info info;
	struct proto_status s;
	uint8_t nonce[PROTO_CNONCE_LEN], other[PROTO_CNONCE_LEN];
	uint8_t frame[PROTO_FRAME_MAX];
	size_t i, n;

	(void)state;
	rig_init(&r);
	info = hello(&r, 0, PROTO_MTU_MIN);
	assert_int_equal(operate(&r, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(operate(&r, PROTO_OP_LOCK), PROTO_OK);
	assert_int_equal(operate(&r, PROTO_OP_UNLOCK), PROTO_OK);
	sim_hw_set_car(&r.t.tp.hw, true);
	sim_hw_set_battery(&r.t.tp.hw, 57);
	step(&r, 1000);
	memset(nonce, 0x5A, sizeof(nonce));
	status_req(&r, nonce);
	s = r.t.reply.u.status;
	assert_int_equal(signer_check_status(info.device_pub, nonce, &s), 0);
	assert_int_equal(s.site_id, TEST_SITE_ID);
	assert_int_equal(s.spot_id, TEST_SPOT_ID);
	assert_int_equal(s.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(s.occupied, 1);
	assert_int_equal(s.battery, 57);
	assert_int_equal(s.total_unlocks, 2);
	assert_int_equal(s.flags, PROTO_INFO_PROVISIONED | PROTO_INFO_TIME_SET);
	assert_int_equal(s.event_head, r.t.lock.log.head_seq);
	assert_int_equal(s.mgmt_seq, r.t.site.seq);
	assert_int_equal(s.creds, 1);
	assert_int_equal(s.lock_time, lock_time(&r.t.lock));
	/* Another nonce, or any changed byte, and it no longer verifies. */
	memcpy(other, nonce, sizeof(other));
	other[15] ^= 0x01;
	assert_int_not_equal(signer_check_status(info.device_pub, other, &s), 0);
	n = r.t.frame_len;
	for (i = PROTO_HDR_LEN; i < n; i++) {
		struct proto_msg m;

		memcpy(frame, r.t.frame, n);
		frame[i] ^= 0x01;
		assert_int_equal(proto_decode(frame, n, &m), 0);
		assert_int_not_equal(signer_check_status(info.device_pub, nonce, &m.u.status), 0);
	}
	rig_free(&r);
}

/* ---- MTU ---- */

/* Asks for a LOG page of up to 32 events on `conn`: a reply of several fragments. */
static void big_reply(struct rig *r, uint8_t conn)
{
	struct proto_msg m;
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_LOG_REQ;
	m.tag = 9;
	m.u.log_req.from_seq = 1;
	m.u.log_req.max = PROTO_LOG_PAGE_MAX;
	n = test_frame(&m, r->t.frame, sizeof(r->t.frame));
	r->t.tp.link[conn].largest_fragment = 0;
	test_lock_send(&r->t, conn, r->t.frame, n);
	assert_int_equal(test_lock_next(&r->t, conn, false), PROTO_LOG);
	assert_true(r->t.frame_len > PROTO_MTU_MAX);
	assert_false(r->t.tp.link[conn].bad_fragment);
}

static void test_hello_negotiates_mtu(void **state)
{
	struct rig r;
	int i;

	(void)state;
	rig_init(&r);
	for (i = 0; i < 12; i++) { /* events enough for a LOG page above 247 bytes */
		sim_hw_set_car(&r.t.tp.hw, i % 2 == 0);
		step(&r, 1000);
	}
	assert_int_equal(hello(&r, 0, 100).mtu, 100);
	big_reply(&r, 0);
	assert_int_equal(r.t.tp.link[0].largest_fragment, 100 - PROTO_ATT_OVERHEAD);
	assert_int_equal(hello(&r, 0, PROTO_MTU_MAX).mtu, PROTO_MTU_MAX);
	big_reply(&r, 0);
	assert_int_equal(r.t.tp.link[0].largest_fragment, PROTO_MTU_MAX - PROTO_ATT_OVERHEAD);
	/* Link 1 never said hello: it stays at the minimum. */
	big_reply(&r, 1);
	assert_int_equal(r.t.tp.link[1].largest_fragment, PROTO_MTU_MIN - PROTO_ATT_OVERHEAD);
	/* A radio that takes less caps it. */
	r.t.tp.port.radio_mtu = 185;
	assert_int_equal(hello(&r, 0, PROTO_MTU_MAX).mtu, 185);
	big_reply(&r, 0);
	assert_int_equal(r.t.tp.link[0].largest_fragment, 185 - PROTO_ATT_OVERHEAD);
	assert_int_equal(hello(&r, 0, 60).mtu, 60);
	rig_free(&r);
}

static void test_hello_bad_mtu_refused(void **state)
{
	struct rig r;
	struct proto_msg m;
	const uint16_t bad[] = { 0, PROTO_MTU_MIN - 1, PROTO_MTU_MAX + 1, 0xFFFF };
	size_t i, n;

	(void)state;
	rig_init(&r);
	assert_int_equal(hello(&r, 0, 100).mtu, 100);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.type = PROTO_HELLO;
		m.tag = 4;
		m.u.hello.mtu = PROTO_MTU_MIN;
		n = test_frame(&m, r.t.frame, sizeof(r.t.frame));
		r.t.frame[3] = (uint8_t)(bad[i] >> 8); /* the codec would refuse to write it */
		r.t.frame[4] = (uint8_t)bad[i];
		test_lock_send(&r.t, 0, r.t.frame, n);
		assert_int_equal(test_lock_next(&r.t, 0, false), PROTO_ERROR);
		assert_int_equal(r.t.reply.u.error.code, PROTO_E_VALUE);
		assert_int_equal(r.t.reply.u.error.req_type, PROTO_HELLO);
		assert_int_equal(r.t.lock.conn[0].mtu, 100);
	}
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlock_reaches_end_stop_then_result),
		cmocka_unit_test(test_jam_reports_jammed),
		cmocka_unit_test(test_jam_event_reaches_link),
		cmocka_unit_test(test_forced_down_reported_once),
		cmocka_unit_test(test_car_arrival_and_departure_logged),
		cmocka_unit_test(test_car_leaving_open_spot_raises_barrier),
		cmocka_unit_test(test_raise_refused_while_occupied),
		cmocka_unit_test(test_car_under_rising_barrier_backs_off),
		cmocka_unit_test(test_open_empty_spot_closes_after_idle),
		cmocka_unit_test(test_occupied_spot_stays_open),
		cmocka_unit_test(test_low_battery_logged_once_until_recovered),
		cmocka_unit_test(test_low_battery_at_boot_logged_once),
		cmocka_unit_test(test_events_reach_every_link),
		cmocka_unit_test(test_request_while_moving_busy),
		cmocka_unit_test(test_status_signed_and_accurate),
		cmocka_unit_test(test_hello_negotiates_mtu),
		cmocka_unit_test(test_hello_bad_mtu_refused),
	};

	return cmocka_run_group_tests_name("lock-barrier", tests, NULL, NULL);
}
