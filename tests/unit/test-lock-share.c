/*
 * test-lock-share.c: claims 5-7 at the lock: a shared key opens only through a stored
 * authorisation code and the sharer's credential, only for the named recipient, never
 * wider than its parent key; co-share and transfer; revocation of the share and of its
 * parent. How the server decides who may share is not the lock's business.
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

#define USER_A 1001 /* the sharer */
#define USER_B 1002 /* the recipient */
#define USER_C 1003 /* a third user, with a key of their own */
#define KEY_A 5001
#define KEY_A2 5002 /* A's second key */
#define KEY_C 5003
#define SHARE_ID 7001
#define NONE_AFTER PROTO_TIME_NONE_AFTER
#define RUN_MS 10000

/* Frame offset of the shared key in OPERATE_SHARED: header 3, op 1, user_id 4. */
#define SHARED_SKEY_OFF (PROTO_HDR_LEN + 5)
#define SKEY_IDS_LEN 16 /* share, parent, sharer, recipient: flipping them changes lookups */

struct fx {
	struct test_lock t;
	struct test_user a, b, c;
};

struct snap {
	uint32_t total_unlocks;
	uint16_t cred_uses[CREDENTIAL_SLOTS];
	uint16_t share_uses[SHARE_SLOTS];
	bool transferred[CREDENTIAL_SLOTS];
	uint8_t creds;
	uint8_t shares;
	uint8_t barrier;
	uint32_t position_ms;
	uint32_t event_head;
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
	assert_int_equal(test_lock_install(&f->t, &f->c, KEY_C, 0, NONE_AFTER, 0), PROTO_OK);
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
	const struct lock *l = &f->t.lock;
	int i;

	memset(s, 0, sizeof(*s));
	s->total_unlocks = l->cfg.total_unlocks;
	for (i = 0; i < CREDENTIAL_SLOTS; i++) {
		s->cred_uses[i] = l->creds.slot[i].uses;
		s->transferred[i] = l->creds.slot[i].transferred;
	}
	for (i = 0; i < SHARE_SLOTS; i++)
		s->share_uses[i] = l->shares.slot[i].uses;
	s->creds = l->creds.count;
	s->shares = l->shares.count;
	s->barrier = l->barrier;
	s->position_ms = f->t.tp.hw.position_ms;
	s->event_head = l->log.head_seq;
}

static void assert_unchanged(struct fx *f, const struct snap *before)
{
	struct snap now;

	snap_take(f, &now);
	assert_int_equal(now.total_unlocks, before->total_unlocks);
	assert_memory_equal(now.cred_uses, before->cred_uses, sizeof(now.cred_uses));
	assert_memory_equal(now.share_uses, before->share_uses, sizeof(now.share_uses));
	assert_memory_equal(now.transferred, before->transferred, sizeof(now.transferred));
	assert_int_equal(now.creds, before->creds);
	assert_int_equal(now.shares, before->shares);
	assert_int_equal(now.barrier, before->barrier);
	assert_int_equal(now.position_ms, before->position_ms);
	assert_int_equal(now.event_head, before->event_head);
	assert_int_equal(f->t.tp.hw.motor, PORT_MOTOR_STOP);
}

static int install_share(struct fx *f, uint32_t share_id, uint32_t parent, uint32_t sharer,
			 uint32_t not_after, uint16_t max_unlocks, uint8_t mode)
{
	union proto_mgmt_payload p;
	int r;

	memset(&p, 0, sizeof(p));
	p.share.share_id = share_id;
	p.share.parent_key_id = parent;
	p.share.sharer_id = sharer;
	p.share.recipient_id = USER_B;
	p.share.not_before = PROTO_TIME_NONE_BEFORE;
	p.share.not_after = not_after;
	p.share.max_unlocks = max_unlocks;
	p.share.mode = mode;
	r = test_lock_mgmt(&f->t, PROTO_MGMT_INSTALL_SHARE, TEST_SPOT_ID, 0, &p);
	test_port_drain(&f->t.tp);
	return r;
}

static void coshare(struct fx *f)
{
	assert_int_equal(install_share(f, SHARE_ID, KEY_A, USER_A, NONE_AFTER, 0,
				       PROTO_SHARE_COSHARE),
			 PROTO_OK);
}

static int revoke(struct fx *f, uint32_t id)
{
	union proto_mgmt_payload p;
	int r;

	memset(&p, 0, sizeof(p));
	p.revoke.count = 1;
	p.revoke.key_ids[0] = id;
	r = test_lock_mgmt(&f->t, PROTO_MGMT_REVOKE, TEST_SPOT_ID, 0, &p);
	test_port_drain(&f->t.tp);
	return r;
}

/* A's shared key for B, as the server signs it. */
static struct proto_skey skey_for_b(struct fx *f, uint32_t not_after, uint16_t max_unlocks,
				    uint8_t mode)
{
	return test_skey(&f->a, &f->b, SHARE_ID, KEY_A, TEST_SPOT_ID, 0, not_after, max_unlocks,
			 mode);
}

static int op_b(struct fx *f, const struct proto_skey *k, uint8_t op)
{
	return test_lock_operate_shared(&f->t, &f->b, USER_B, k, op);
}

/* B unlocks and locks again; returns the unlock's status. */
static int cycle_b(struct fx *f, const struct proto_skey *k)
{
	int r = op_b(f, k, PROTO_OP_UNLOCK);

	if (r == PROTO_OK)
		assert_int_equal(op_b(f, k, PROTO_OP_LOCK), PROTO_OK);
	return r;
}

static int op_a(struct fx *f, uint8_t op)
{
	struct proto_ekey k = test_ekey(&f->a, KEY_A, TEST_SPOT_ID, 0, NONE_AFTER, 0);

	return test_lock_operate(&f->t, &f->a, USER_A, &k, op);
}

static int cycle_a(struct fx *f)
{
	int r = op_a(f, PROTO_OP_UNLOCK);

	if (r == PROTO_OK)
		assert_int_equal(op_a(f, PROTO_OP_LOCK), PROTO_OK);
	return r;
}

static uint16_t parent_uses(struct fx *f)
{
	int i = credential_find(&f->t.lock.creds, USER_A, KEY_A);

	assert_true(i >= 0);
	return f->t.lock.creds.slot[i].uses;
}

static uint16_t share_uses(struct fx *f)
{
	int i = share_find(&f->t.lock.shares, SHARE_ID);

	assert_true(i >= 0);
	return f->t.lock.shares.slot[i].uses;
}

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

/* ---- the shared unlock ---- */

static void test_shared_key_unlocks_through_authorisation_code(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct proto_event e;
	uint8_t before[PROTO_HASH_LEN];

	coshare(f);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(f->t.reply.u.result.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(f->t.lock.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(sim_hw_endstop(&f->t.tp.hw), PORT_ENDSTOP_DOWN);
	assert_int_equal(evlog_read(&f->t.lock.log, f->t.lock.log.head_seq, &e, before), 0);
	assert_int_equal(e.kind, PROTO_EV_UNLOCKED);
	assert_int_equal(e.arg8, PROTO_HOW_SHARED);
	assert_int_equal(e.arg16, 1);
	assert_int_equal(e.user_id, USER_B);
	assert_int_equal(e.key_id, SHARE_ID);
	assert_int_equal(share_uses(f), 1);
	assert_int_equal(parent_uses(f), 1);
	assert_int_equal(f->t.lock.cfg.total_unlocks, 1);
}

static void test_coshare_sharer_keeps_the_key(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);

	coshare(f);
	assert_int_equal(cycle_b(f, &k), PROTO_OK);
	assert_int_equal(cycle_a(f), PROTO_OK);
	assert_int_equal(cycle_b(f, &k), PROTO_OK);
	assert_int_equal(parent_uses(f), 3);
	assert_int_equal(share_uses(f), 2);
}

static void test_third_user_with_recipients_key_is_refused(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	coshare(f);
	snap_take(f, &before);
	/* C claims to be C: the code names B. */
	assert_int_equal(test_lock_operate_shared(&f->t, &f->c, USER_C, &k, PROTO_OP_UNLOCK),
			 PROTO_E_WRONG_USER);
	/* C claims to be B: C's device cannot answer for B's. */
	assert_int_equal(test_lock_operate_shared(&f->t, &f->c, USER_B, &k, PROTO_OP_UNLOCK),
			 PROTO_E_DEVICE_SIG);
	assert_unchanged(f, &before);
}

/* The sharer signs a shared key for C under B's code: the code names B, not C. */
static void test_shared_key_for_other_than_the_codes_recipient_is_wrong_user(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = test_skey(&f->a, &f->c, SHARE_ID, KEY_A, TEST_SPOT_ID, 0,
					NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	coshare(f);
	snap_take(f, &before);
	assert_int_equal(test_lock_operate_shared(&f->t, &f->c, USER_C, &k, PROTO_OP_UNLOCK),
			 PROTO_E_WRONG_USER);
	assert_unchanged(f, &before);
}

/* A validly signed shared key whose parent is another of A's keys than the code's. */
static void test_shared_key_naming_another_parent_than_its_code_is_unknown_key(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = test_skey(&f->a, &f->b, SHARE_ID, KEY_A2, TEST_SPOT_ID, 0,
					NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	assert_int_equal(test_lock_install(&f->t, &f->a, KEY_A2, 0, NONE_AFTER, 0), PROTO_OK);
	coshare(f);
	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_UNKNOWN_KEY);
	assert_unchanged(f, &before);
}

static void test_shared_key_signed_by_other_than_sharer_is_bad_key_signature(void **state)
{
	struct fx *f = *state;
	struct test_user forger = f->a; /* A's IDs, another reservation key */
	struct proto_skey k;
	struct snap before;

	coshare(f);
	snap_take(f, &before);
	forger.reservation = f->c.reservation;
	k = test_skey(&forger, &f->b, SHARE_ID, KEY_A, TEST_SPOT_ID, 0, NONE_AFTER, 0,
		      PROTO_SHARE_COSHARE);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_KEY_SIG);
	/* The recipient cannot sign their own either. */
	forger.reservation = f->b.reservation;
	k = test_skey(&forger, &f->b, SHARE_ID, KEY_A, TEST_SPOT_ID, 0, NONE_AFTER, 0,
		      PROTO_SHARE_COSHARE);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_KEY_SIG);
	assert_unchanged(f, &before);
}

static void test_shared_key_without_authorisation_code_is_unknown_key(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_UNKNOWN_KEY);
	assert_unchanged(f, &before);
}

static void test_shared_key_for_another_spot_is_wrong_spot(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = test_skey(&f->a, &f->b, SHARE_ID, KEY_A, TEST_SPOT_ID + 1, 0,
					NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	coshare(f);
	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_WRONG_SPOT);
	assert_unchanged(f, &before);
}

/* ---- limits: a share is never wider than its code, its key or its parent ---- */

static void test_code_max_unlocks_stricter_than_shared_key_wins(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 5, PROTO_SHARE_COSHARE);
	struct snap before;

	assert_int_equal(install_share(f, SHARE_ID, KEY_A, USER_A, NONE_AFTER, 2,
				       PROTO_SHARE_COSHARE),
			 PROTO_OK);
	assert_int_equal(cycle_b(f, &k), PROTO_OK);
	assert_int_equal(cycle_b(f, &k), PROTO_OK);
	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_USED_UP);
	assert_unchanged(f, &before);
}

static void test_shared_key_max_unlocks_stricter_than_code_wins(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 2, PROTO_SHARE_COSHARE);
	struct snap before;

	assert_int_equal(install_share(f, SHARE_ID, KEY_A, USER_A, NONE_AFTER, 5,
				       PROTO_SHARE_COSHARE),
			 PROTO_OK);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(f->t.reply.u.result.uses_left, 1);
	assert_int_equal(op_b(f, &k, PROTO_OP_LOCK), PROTO_OK);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(f->t.reply.u.result.uses_left, 0);
	assert_int_equal(op_b(f, &k, PROTO_OP_LOCK), PROTO_OK);
	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_USED_UP);
	assert_unchanged(f, &before);
}

static void test_code_not_after_in_past_is_expired(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	assert_int_equal(install_share(f, SHARE_ID, KEY_A, USER_A, TEST_NOW - 1, 0,
				       PROTO_SHARE_COSHARE),
			 PROTO_OK);
	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_EXPIRED);
	assert_unchanged(f, &before);
}

static void test_shared_key_not_after_in_past_is_expired(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, TEST_NOW - 1, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	coshare(f);
	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_EXPIRED);
	assert_unchanged(f, &before);
}

static void test_parent_expiry_ends_the_share(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	coshare(f);
	assert_int_equal(test_lock_install(&f->t, &f->a, KEY_A, 0, TEST_NOW - 1, 0), PROTO_OK);
	test_port_drain(&f->t.tp);
	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_EXPIRED);
	assert_unchanged(f, &before);
}

static void test_shared_uses_count_against_parent_max_unlocks(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	assert_int_equal(test_lock_install(&f->t, &f->a, KEY_A, 0, NONE_AFTER, 3), PROTO_OK);
	coshare(f);
	assert_int_equal(cycle_a(f), PROTO_OK);
	assert_int_equal(cycle_b(f, &k), PROTO_OK);
	assert_int_equal(cycle_b(f, &k), PROTO_OK);
	assert_int_equal(parent_uses(f), 3);
	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_USED_UP);
	assert_int_equal(op_a(f, PROTO_OP_UNLOCK), PROTO_E_USED_UP);
	assert_unchanged(f, &before);
}

/* What RESULT tells the recipient is left can never be more than the parent has left. */
static void test_shared_uses_left_is_never_more_than_parent_has_left(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);

	assert_int_equal(test_lock_install(&f->t, &f->a, KEY_A, 0, NONE_AFTER, 3), PROTO_OK);
	coshare(f);
	assert_int_equal(cycle_a(f), PROTO_OK);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(f->t.reply.u.result.uses_left, 1);
	assert_int_equal(op_b(f, &k, PROTO_OP_LOCK), PROTO_OK);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(f->t.reply.u.result.uses_left, 0);
}

/* ---- installing, transferring and revoking ---- */

static void test_install_share_without_parent_credential_is_unknown_key(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	uint32_t seq = f->t.lock.cfg.mgmt_seq;
	struct snap before;

	snap_take(f, &before);
	assert_int_equal(install_share(f, SHARE_ID, 5999, USER_A, NONE_AFTER, 0,
				       PROTO_SHARE_COSHARE),
			 PROTO_E_UNKNOWN_KEY);
	/* The parent exists, but is not the named sharer's. */
	assert_int_equal(install_share(f, SHARE_ID, KEY_C, USER_A, NONE_AFTER, 0,
				       PROTO_SHARE_COSHARE),
			 PROTO_E_UNKNOWN_KEY);
	assert_int_equal(f->t.lock.shares.count, 0);
	assert_true(share_find(&f->t.lock.shares, SHARE_ID) < 0);
	assert_int_equal(f->t.lock.cfg.mgmt_seq, seq);
	before.event_head = f->t.lock.log.head_seq; /* each signed message logs a MGMT event */
	assert_unchanged(f, &before);
	assert_int_equal(test_lock_reboot(&f->t), 0);
	test_port_drain(&f->t.tp);
	assert_int_equal(f->t.lock.shares.count, 0);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_UNKNOWN_KEY);
}

static void test_transfer_refuses_sharers_own_key_and_opens_for_recipient(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_TRANSFER);
	struct snap before;

	assert_int_equal(install_share(f, SHARE_ID, KEY_A, USER_A, NONE_AFTER, 0,
				       PROTO_SHARE_TRANSFER),
			 PROTO_OK);
	snap_take(f, &before);
	assert_int_equal(op_a(f, PROTO_OP_UNLOCK), PROTO_E_TRANSFERRED);
	assert_unchanged(f, &before);
	assert_int_equal(cycle_b(f, &k), PROTO_OK);
	/* The transfer is in flash, not only in RAM. */
	assert_int_equal(test_lock_reboot(&f->t), 0);
	test_port_drain(&f->t.tp);
	assert_int_equal(op_a(f, PROTO_OP_UNLOCK), PROTO_E_TRANSFERRED);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_OK);
}

static void test_revoking_parent_key_removes_the_share(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	coshare(f);
	assert_int_equal(revoke(f, KEY_A), PROTO_OK);
	assert_int_equal(f->t.lock.shares.count, 0);
	assert_true(share_find(&f->t.lock.shares, SHARE_ID) < 0);
	assert_true(credential_find_key(&f->t.lock.creds, KEY_A) < 0);
	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_REVOKED);
	assert_int_equal(op_a(f, PROTO_OP_UNLOCK), PROTO_E_REVOKED);
	assert_unchanged(f, &before);
}

static void test_revoking_only_the_share_leaves_sharer_working(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	struct snap before;

	coshare(f);
	assert_int_equal(revoke(f, SHARE_ID), PROTO_OK);
	assert_int_equal(f->t.lock.shares.count, 0);
	snap_take(f, &before);
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_E_REVOKED);
	assert_unchanged(f, &before);
	assert_int_equal(cycle_a(f), PROTO_OK);
}

/*
 * Each byte of the shared key flipped in turn; the recipient's device then answers for
 * the altered key, so that only the shared key is wrong. A flip the codec refuses
 * (the mode byte) must be an ERROR; past the IDs, a signature must be what fails.
 */
static void test_shared_key_every_byte_flipped_is_refused(void **state)
{
	struct fx *f = *state;
	struct proto_skey k = skey_for_b(f, NONE_AFTER, 0, PROTO_SHARE_COSHARE), altered;
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	struct proto_msg m;
	struct snap before;
	size_t n, i;
	int st, type;

	coshare(f);
	relax_lockout(f);
	snap_take(f, &before);
	for (i = 0; i < PROTO_SKEY_LEN; i++) {
		test_lock_challenge(&f->t, 0, nonce);
		n = test_frame_operate_shared(&f->b, USER_B, &k, PROTO_OP_UNLOCK, nonce,
					      TEST_SITE_ID, TEST_SPOT_ID, 5, buf, sizeof(buf));
		buf[SHARED_SKEY_OFF + i] ^= 0x01;
		if (proto_decode(buf, n, &m) == 0) {
			altered = m.u.operate_shared.skey;
			n = test_frame_operate_shared(&f->b, USER_B, &altered, PROTO_OP_UNLOCK,
						      nonce, TEST_SITE_ID, TEST_SPOT_ID, 5, buf,
						      sizeof(buf));
		}
		test_lock_send(&f->t, 0, buf, n);
		test_lock_run(&f->t, RUN_MS);
		type = test_lock_next(&f->t, 0, false);
		assert_true(type == PROTO_RESULT || type == PROTO_ERROR);
		st = type == PROTO_RESULT ? f->t.reply.u.result.status : f->t.reply.u.error.code;
		if (st == PROTO_OK)
			fail_msg("shared key byte %zu flipped, and the lock opened", i);
		if (type == PROTO_RESULT && i >= SKEY_IDS_LEN && st != PROTO_E_KEY_SIG &&
		    st != PROTO_E_DEVICE_SIG)
			fail_msg("shared key byte %zu flipped: %s before any signature failed", i,
				 proto_status_name(st));
		assert_unchanged(f, &before);
	}
	assert_int_equal(op_b(f, &k, PROTO_OP_UNLOCK), PROTO_OK);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_shared_key_unlocks_through_authorisation_code),
		T(test_coshare_sharer_keeps_the_key),
		T(test_third_user_with_recipients_key_is_refused),
		T(test_shared_key_for_other_than_the_codes_recipient_is_wrong_user),
		T(test_shared_key_naming_another_parent_than_its_code_is_unknown_key),
		T(test_shared_key_signed_by_other_than_sharer_is_bad_key_signature),
		T(test_shared_key_without_authorisation_code_is_unknown_key),
		T(test_shared_key_for_another_spot_is_wrong_spot),
		T(test_code_max_unlocks_stricter_than_shared_key_wins),
		T(test_shared_key_max_unlocks_stricter_than_code_wins),
		T(test_code_not_after_in_past_is_expired),
		T(test_shared_key_not_after_in_past_is_expired),
		T(test_parent_expiry_ends_the_share),
		T(test_shared_uses_count_against_parent_max_unlocks),
		T(test_shared_uses_left_is_never_more_than_parent_has_left),
		T(test_install_share_without_parent_credential_is_unknown_key),
		T(test_transfer_refuses_sharers_own_key_and_opens_for_recipient),
		T(test_revoking_parent_key_removes_the_share),
		T(test_revoking_only_the_share_leaves_sharer_working),
		T(test_shared_key_every_byte_flipped_is_refused),
	};

	return cmocka_run_group_tests_name("lock-share", tests, NULL, NULL);
}
