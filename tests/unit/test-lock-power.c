/*
 * test-lock-power.c: the lock's stores survive a power cut at any byte of any flash
 * write (issue 2). An install, an unlock (also one that compacts the store), a shared
 * unlock, a revocation, a transfer share, a time set and a reprovision are each cut at
 * every flash operation and byte; after a reboot the state must be wholly old or wholly
 * new, a counted use is never given back, and the lock goes on working.
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

#define KEY_A 11    /* user a's key: A_MAX unlocks, one used when the rig is prepared */
#define A_MAX 2
#define KEY_B 12    /* installed by the install operation */
#define KEY_FILL 13 /* a's unlimited key: raises the barrier, fills the store */
#define SHARE_ID 31 /* the transfer share to b */
#define COSHARE_ID 32
#define NEW_TIME (TEST_NOW + 5000)
#define NEW_SITE 8
#define NEW_SPOT 202
#define OPS_MAX 64
#define BYTES_ALL 128 /* writes up to this long are cut at every byte; longer ones sampled */

/* The flash operations of a dry run: each one's length, or that it was an erase. */
struct oplog {
	unsigned count;
	size_t len[OPS_MAX];
	bool erase[OPS_MAX];
};

static struct oplog *recording;

/* A lock prepared once, restored before each cut, and the material to act on it. */
struct rig {
	struct test_lock t;
	struct test_user a, b;
	struct proto_ekey key_a, key_fill;
	struct proto_skey skey_b;
	uint8_t *flash;   /* the prepared flash */
	struct sim_hw hw; /* ... and hardware */
	uint64_t now_ms;
	uint32_t seq;     /* the prepared mgmt_seq */
	uint32_t total;   /* the prepared total_unlocks */
	uint32_t time0;   /* the lock's time when an operation starts */
	uint8_t frame[PROTO_FRAME_MAX]; /* the management message of the operation */
	size_t frame_len;
};

typedef int (*rig_op_fn)(struct rig *r);
typedef void (*rig_check_fn)(struct rig *r, int result);

/* ---- recording and cutting ---- */

static int rec_write(void *ctx, uint32_t addr, const uint8_t *buf, size_t len)
{
	struct test_port *tp = ctx;
	uint64_t before = tp->hw.flash_writes;
	int r = sim_hw_flash_write(&tp->hw, addr, buf, len);

	if (recording != NULL && tp->hw.flash_writes != before && recording->count < OPS_MAX) {
		recording->len[recording->count] = len;
		recording->erase[recording->count++] = false;
	}
	return r;
}

static int rec_erase(void *ctx, uint32_t page)
{
	struct test_port *tp = ctx;
	uint64_t before = tp->hw.flash_writes;
	int r = sim_hw_flash_erase(&tp->hw, page);

	if (recording != NULL && tp->hw.flash_writes != before && recording->count < OPS_MAX) {
		recording->len[recording->count] = 0;
		recording->erase[recording->count++] = true;
	}
	return r;
}

/* Back to the prepared lock, rebooted; returns with power on and nothing armed. */
static void rig_restore(struct rig *r)
{
	struct test_port *tp = &r->t.tp;

	memcpy(tp->flash, r->flash, (size_t)tp->hw.page_size * tp->hw.pages);
	tp->hw = r->hw;
	tp->now_ms = r->now_ms;
	assert_int_equal(test_lock_reboot(&r->t), 0);
	r->time0 = lock_time(&r->t.lock);
}

static void rig_save(struct rig *r)
{
	struct test_port *tp = &r->t.tp;
	size_t n = (size_t)tp->hw.page_size * tp->hw.pages;

	r->flash = malloc(n);
	assert_non_null(r->flash);
	memcpy(r->flash, tp->flash, n);
	r->hw = tp->hw;
	r->now_ms = tp->now_ms;
	r->seq = r->t.lock.cfg.mgmt_seq;
	r->total = r->t.lock.cfg.total_unlocks;
}

static int cred_slot(struct rig *r, uint32_t key_id)
{
	return credential_find_key(&r->t.lock.creds, key_id);
}

static uint16_t uses_of(struct rig *r, uint32_t key_id)
{
	int i = cred_slot(r, key_id);

	assert_true(i >= 0);
	return r->t.lock.creds.slot[i].uses;
}

static int unlock_a(struct rig *r)
{
	return test_lock_operate(&r->t, &r->a, r->a.user_id, &r->key_a, PROTO_OP_UNLOCK);
}

/* Raises the barrier if it is down (a cut may have left it so). */
static void raise_barrier(struct rig *r)
{
	if (r->t.lock.barrier != PROTO_BARRIER_UP)
		assert_int_equal(test_lock_operate(&r->t, &r->a, r->a.user_id, &r->key_fill,
						   PROTO_OP_LOCK), PROTO_OK);
	assert_int_equal(r->t.lock.barrier, PROTO_BARRIER_UP);
}

/* Sends the rig's management frame; returns the ACK's result or the ERROR's code. */
static int send_mgmt(struct rig *r)
{
	int type;

	test_lock_send(&r->t, 0, r->frame, r->frame_len);
	type = test_lock_next(&r->t, 0, false);
	assert_true(type == PROTO_MGMT_ACK || type == PROTO_ERROR);
	return type == PROTO_MGMT_ACK ? r->t.reply.u.ack.result : r->t.reply.u.error.code;
}

static void rig_mgmt_frame(struct rig *r, uint8_t mtype, const union proto_mgmt_payload *p)
{
	uint32_t seq = mtype == PROTO_MGMT_REVOKE ? r->t.lock.cfg.revoke_serial + 1
						  : r->t.lock.cfg.mgmt_seq + 1;

	r->frame_len = test_site_mgmt(&r->t.site, mtype, TEST_SPOT_ID, seq, p, r->frame,
				      sizeof(r->frame));
}

/*
 * The prepared lock: provisioned, time set, user a's key A (A_MAX unlocks, one used)
 * and an unlimited key for a, barrier up.
 */
static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	test_lock_init_ready(&r->t);
	r->t.tp.port.flash_write = rec_write;
	r->t.tp.port.flash_erase = rec_erase;
	test_user_init(&r->a, 1001);
	test_user_init(&r->b, 1002);
	r->key_a = test_ekey(&r->a, KEY_A, TEST_SPOT_ID, 0, PROTO_TIME_NONE_AFTER, 0);
	r->key_fill = test_ekey(&r->a, KEY_FILL, TEST_SPOT_ID, 0, PROTO_TIME_NONE_AFTER, 0);
	r->skey_b = test_skey(&r->a, &r->b, SHARE_ID, KEY_A, TEST_SPOT_ID, 0,
			      PROTO_TIME_NONE_AFTER, 0, PROTO_SHARE_TRANSFER);
	assert_int_equal(test_lock_install(&r->t, &r->a, KEY_A, 0, PROTO_TIME_NONE_AFTER, A_MAX),
			 PROTO_OK);
	assert_int_equal(test_lock_install(&r->t, &r->a, KEY_FILL, 0, PROTO_TIME_NONE_AFTER, 0),
			 PROTO_OK);
	assert_int_equal(unlock_a(r), PROTO_OK);
	raise_barrier(r);
	test_port_drain(&r->t.tp);
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	rig_init(r);
	*state = r;
	return 0;
}

/* A teardown, so that a failing sweep still frees everything. */
static int rig_teardown(void **state)
{
	struct rig *r = *state;

	free(r->flash);
	test_user_free(&r->a);
	test_user_free(&r->b);
	test_lock_free(&r->t);
	free(r);
	return 0;
}

/* Cut points of one write of `len` bytes: every byte when short, else a sample. */
static size_t cut_bytes(size_t len, size_t out[BYTES_ALL + 1])
{
	size_t n = 0, i;

	if (len <= BYTES_ALL) {
		for (i = 0; i <= len; i++)
			out[n++] = i;
		return n;
	}
	out[n++] = 0;
	out[n++] = 1;
	out[n++] = 2;
	out[n++] = len / 4;
	out[n++] = len / 2;
	out[n++] = len / 2 + 1;
	out[n++] = 3 * len / 4;
	out[n++] = len - 2;
	out[n++] = len - 1;
	out[n++] = len;
	return n;
}

/*
 * Runs `op` once to count its flash operations, then again from the prepared state with
 * a cut at each operation and sampled byte, checking the rebooted lock with `check`.
 * Returns the number of cuts made.
 */
static unsigned sweep(struct rig *r, rig_op_fn op, rig_check_fn check)
{
	struct oplog log;
	unsigned n, cuts = 0;

	rig_save(r);
	rig_restore(r);
	memset(&log, 0, sizeof(log));
	recording = &log;
	(void)op(r);
	recording = NULL;
	assert_true(log.count > 0 && log.count < OPS_MAX);
	for (n = 1; n <= log.count; n++) {
		size_t bytes[BYTES_ALL + 1];
		size_t k, nb = log.erase[n - 1] ? 1 : cut_bytes(log.len[n - 1], bytes);

		if (log.erase[n - 1])
			bytes[0] = 0;
		for (k = 0; k < nb; k++) {
			int result;

			rig_restore(r);
			sim_hw_arm_cut(&r->t.tp.hw, n, bytes[k]);
			result = op(r);
			assert_false(r->t.tp.hw.powered); /* the cut did happen */
			assert_int_equal(test_lock_reboot(&r->t), 0);
			check(r, result);
			cuts++;
		}
	}
	return cuts;
}

/* ---- (a) INSTALL_CRED ---- */

static void prepare_install(struct rig *r)
{
	union proto_mgmt_payload p;

	p.cred = test_cred(&r->b, KEY_B, TEST_NOW - 10, TEST_NOW + 100000, 4, PROTO_CRED_OWNER);
	rig_mgmt_frame(r, PROTO_MGMT_INSTALL_CRED, &p);
}

static int op_mgmt(struct rig *r)
{
	return send_mgmt(r);
}

/* Key A is as prepared: one use of A_MAX, and its key still opens. */
static void check_a_as_prepared(struct rig *r)
{
	int i = cred_slot(r, KEY_A);

	assert_true(i >= 0);
	assert_int_equal(r->t.lock.creds.slot[i].user_id, r->a.user_id);
	assert_int_equal(r->t.lock.creds.slot[i].max_unlocks, A_MAX);
	assert_int_equal(r->t.lock.creds.slot[i].uses, 1);
	assert_int_equal(r->t.lock.cfg.total_unlocks, r->total);
}

static void check_b_installed(struct rig *r)
{
	const struct credential *c;
	uint8_t pub[PROTO_PUBKEY_LEN];
	int i = cred_slot(r, KEY_B);

	assert_true(i >= 0);
	c = &r->t.lock.creds.slot[i];
	assert_int_equal(c->user_id, r->b.user_id);
	assert_int_equal(c->not_before, TEST_NOW - 10);
	assert_int_equal(c->not_after, TEST_NOW + 100000);
	assert_int_equal(c->max_unlocks, 4);
	assert_int_equal(c->flags, PROTO_CRED_OWNER);
	assert_int_equal(c->uses, 0);
	assert_false(c->transferred);
	assert_int_equal(credential_pubkey(&r->t.lock.creds, &r->t.lock.store, i, pub), 0);
	assert_memory_equal(pub, r->b.res_pub, PROTO_PUBKEY_LEN);
}

static void check_install(struct rig *r, int result)
{
	struct proto_ekey kb = test_ekey(&r->b, KEY_B, TEST_SPOT_ID, 0, PROTO_TIME_NONE_AFTER, 0);
	bool applied = r->t.lock.cfg.mgmt_seq == r->seq + 1;

	assert_true(applied || r->t.lock.cfg.mgmt_seq == r->seq);
	check_a_as_prepared(r);
	if (applied || result == PROTO_OK)
		check_b_installed(r);
	if (cred_slot(r, KEY_B) >= 0)
		check_b_installed(r);
	else
		assert_int_equal(r->t.lock.creds.count, 2);
	/* The server resends what it saw no ACK for; either way B ends installed. */
	if (!applied) {
		assert_int_equal(send_mgmt(r), PROTO_OK);
		check_b_installed(r);
	}
	assert_int_equal(test_lock_operate(&r->t, &r->b, r->b.user_id, &kb, PROTO_OP_UNLOCK),
			 PROTO_OK);
	assert_int_equal(uses_of(r, KEY_B), 1);
}

static void test_cut_install_cred(void **state)
{
	struct rig *r = *state;

	prepare_install(r);
	assert_true(sweep(r, op_mgmt, check_install) >= 3);
}

/* ---- (b) unlock ---- */

static int op_unlock(struct rig *r)
{
	return unlock_a(r);
}

static void check_unlock(struct rig *r, int result)
{
	uint16_t uses = uses_of(r, KEY_A);
	bool moved = r->t.tp.hw.position_ms > 0;

	assert_true(uses == 1 || uses == 2);
	if (result == PROTO_OK || moved)
		assert_int_equal(uses, 2);
	/* The lock's unlock total moves with the count, never behind it. */
	assert_int_equal(r->t.lock.cfg.total_unlocks, r->total + (uses - 1u));
	assert_int_equal(r->t.lock.barrier, moved ? PROTO_BARRIER_DOWN : PROTO_BARRIER_UP);
	raise_barrier(r);
	if (uses < A_MAX) {
		assert_int_equal(unlock_a(r), PROTO_OK);
		assert_int_equal(r->t.reply.u.result.uses_left, 0);
		assert_int_equal(uses_of(r, KEY_A), uses + 1);
	} else {
		assert_int_equal(unlock_a(r), PROTO_E_USED_UP);
		assert_int_equal(uses_of(r, KEY_A), uses);
	}
}

static void test_cut_unlock(void **state)
{
	struct rig *r = *state;

	assert_true(sweep(r, op_unlock, check_unlock) >= 2);
}

/* Fills the store's active area until the next use counter does not fit. */
static void fill_store(struct rig *r)
{
	const struct store *s = &r->t.lock.store;
	union proto_mgmt_payload p;

	/* A time set writes two 104-byte config records, an unlock one 20-byte counter. */
	while (s->area_bytes - s->write_off >= 20) {
		if (s->area_bytes - s->write_off >= 20 + 2 * 104 + 20) {
			p.time = lock_time(&r->t.lock) + 1;
			assert_int_equal(test_lock_mgmt(&r->t, PROTO_MGMT_SET_TIME, TEST_SPOT_ID, 0,
							&p), PROTO_OK);
		} else {
			assert_int_equal(test_lock_operate(&r->t, &r->a, r->a.user_id, &r->key_fill,
							   PROTO_OP_UNLOCK), PROTO_OK);
			raise_barrier(r);
		}
	}
	test_port_drain(&r->t.tp);
}

static void test_cut_unlock_compacting(void **state)
{
	struct rig *r = *state;
	uint8_t gen;

	fill_store(r);
	gen = (uint8_t)r->t.lock.store.gen;
	/* The fill's unlocks count into the total; check_unlock compares with the rig's. */
	assert_true(sweep(r, op_unlock, check_unlock) >= 8);
	/* ... and the dry run did compact. */
	rig_restore(r);
	assert_int_equal(unlock_a(r), PROTO_OK);
	assert_int_equal((uint8_t)r->t.lock.store.gen, (uint8_t)(gen + 1));
}

/* ---- (c) REVOKE ---- */

static void prepare_revoke(struct rig *r)
{
	union proto_mgmt_payload p;

	memset(&p, 0, sizeof(p));
	p.revoke.count = 1;
	p.revoke.key_ids[0] = KEY_A;
	rig_mgmt_frame(r, PROTO_MGMT_REVOKE, &p);
}

static void check_revoke(struct rig *r, int result)
{
	bool applied = r->t.lock.cfg.revoke_serial == 1;
	bool listed = r->t.lock.revoked_count == 1 && r->t.lock.revoked[0] == KEY_A;
	int code;

	assert_true(applied || r->t.lock.cfg.revoke_serial == 0);
	assert_true(listed || r->t.lock.revoked_count == 0);
	if (applied || result == PROTO_OK) {
		assert_true(listed);
		assert_int_equal(cred_slot(r, KEY_A), -1);
	}
	if (!listed)
		check_a_as_prepared(r); /* wholly old: A still opens */
	code = unlock_a(r);
	if (listed)
		assert_true(code == PROTO_E_REVOKED || code == PROTO_E_UNKNOWN_KEY);
	else
		assert_int_equal(code, PROTO_OK);
	raise_barrier(r);
	/* The resent list completes whatever the cut interrupted. */
	assert_int_equal(send_mgmt(r), applied ? PROTO_E_STALE : PROTO_OK);
	assert_int_equal(cred_slot(r, KEY_A), -1);
	assert_int_equal(r->t.lock.cfg.revoke_serial, 1);
	code = unlock_a(r);
	assert_true(code == PROTO_E_REVOKED || code == PROTO_E_UNKNOWN_KEY);
}

static void test_cut_revoke(void **state)
{
	struct rig *r = *state;

	prepare_revoke(r);
	assert_true(sweep(r, op_mgmt, check_revoke) >= 3);
}

/* ---- (d) INSTALL_SHARE, transfer mode ---- */

static void prepare_share(struct rig *r)
{
	union proto_mgmt_payload p;

	memset(&p, 0, sizeof(p));
	p.share.share_id = SHARE_ID;
	p.share.parent_key_id = KEY_A;
	p.share.sharer_id = r->a.user_id;
	p.share.recipient_id = r->b.user_id;
	p.share.not_before = 0;
	p.share.not_after = PROTO_TIME_NONE_AFTER;
	p.share.max_unlocks = 0;
	p.share.mode = PROTO_SHARE_TRANSFER;
	rig_mgmt_frame(r, PROTO_MGMT_INSTALL_SHARE, &p);
}

static int unlock_b_shared(struct rig *r)
{
	return test_lock_operate_shared(&r->t, &r->b, r->b.user_id, &r->skey_b, PROTO_OP_UNLOCK);
}

/*
 * The share record and the parent's transfer must land together: while the code is
 * stored the sharer's key no longer opens, and while it is not the sharer's key still
 * opens and the recipient's does not.
 */
static void check_share(struct rig *r, int result)
{
	bool applied = r->t.lock.cfg.mgmt_seq == r->seq + 1;
	int share = share_find(&r->t.lock.shares, SHARE_ID);

	assert_true(applied || r->t.lock.cfg.mgmt_seq == r->seq);
	assert_int_equal(uses_of(r, KEY_A), 1);
	if (applied || result == PROTO_OK)
		assert_true(share >= 0);
	if (share >= 0) {
		const struct share *sh = &r->t.lock.shares.slot[share];

		assert_int_equal(sh->parent_key_id, KEY_A);
		assert_int_equal(sh->sharer_id, r->a.user_id);
		assert_int_equal(sh->recipient_id, r->b.user_id);
		assert_int_equal(sh->mode, PROTO_SHARE_TRANSFER);
		assert_int_equal(sh->uses, 0);
		assert_int_equal(unlock_a(r), PROTO_E_TRANSFERRED);
		assert_int_equal(unlock_b_shared(r), PROTO_OK);
	} else {
		assert_false(r->t.lock.creds.slot[cred_slot(r, KEY_A)].transferred);
		assert_int_equal(unlock_a(r), PROTO_OK);
		assert_int_equal(unlock_b_shared(r), PROTO_E_UNKNOWN_KEY);
	}
	raise_barrier(r);
	/* The resend: taken now, or answered again when it was applied (its ack lost). */
	assert_int_equal(send_mgmt(r), PROTO_OK);
	assert_true(share_find(&r->t.lock.shares, SHARE_ID) >= 0);
	assert_int_equal(unlock_a(r), PROTO_E_TRANSFERRED);
}

static void test_cut_install_share_transfer(void **state)
{
	struct rig *r = *state;

	prepare_share(r);
	assert_true(sweep(r, op_mgmt, check_share) >= 4);
}

/* ---- (e) SET_TIME ---- */

static void prepare_time(struct rig *r)
{
	union proto_mgmt_payload p;

	p.time = NEW_TIME;
	rig_mgmt_frame(r, PROTO_MGMT_SET_TIME, &p);
}

static void check_time(struct rig *r, int result)
{
	bool applied = r->t.lock.cfg.mgmt_seq == r->seq + 1;
	uint32_t now = lock_time(&r->t.lock);
	int resend;

	assert_true(applied || r->t.lock.cfg.mgmt_seq == r->seq);
	assert_true(r->t.lock.cfg.time_known);
	/*
	 * Never backwards; wholly the old clock or wholly the new one, resumed at most one
	 * checkpoint interval ahead (the resume point is kept that far ahead).
	 */
	assert_true(now >= r->time0);
	if (applied || result == PROTO_OK)
		assert_true(now >= NEW_TIME);
	if (now < NEW_TIME)
		assert_true(now <= r->time0 + LOCK_TIME_CHECKPOINT_S + 1);
	else
		assert_true(now <= NEW_TIME + LOCK_TIME_CHECKPOINT_S + 1);
	/*
	 * The server resends what was not acknowledged. A cut between the clock's record and
	 * the sequence's leaves the clock already at the new time: the resend is then
	 * refused as going backwards, and the ACK's lock_time tells the server so.
	 */
	resend = send_mgmt(r);
	if (applied)
		assert_int_equal(resend, PROTO_OK); /* answered again, not applied twice */
	else if (now >= NEW_TIME)
		assert_true(resend == PROTO_OK || resend == PROTO_E_TIME_BACK);
	else
		assert_int_equal(resend, PROTO_OK);
	assert_true(lock_time(&r->t.lock) >= NEW_TIME);
	check_a_as_prepared(r);
	assert_int_equal(unlock_a(r), PROTO_OK);
}

static void test_cut_set_time(void **state)
{
	struct rig *r = *state;

	prepare_time(r);
	assert_true(sweep(r, op_mgmt, check_time) >= 3);
}

/* ---- (f) a shared unlock: it counts against the share and the parent ---- */

static void prepare_coshare(struct rig *r)
{
	union proto_mgmt_payload p;

	memset(&p, 0, sizeof(p));
	p.share.share_id = COSHARE_ID;
	p.share.parent_key_id = KEY_A;
	p.share.sharer_id = r->a.user_id;
	p.share.recipient_id = r->b.user_id;
	p.share.not_after = PROTO_TIME_NONE_AFTER;
	p.share.max_unlocks = 3;
	p.share.mode = PROTO_SHARE_COSHARE;
	assert_int_equal(test_lock_mgmt(&r->t, PROTO_MGMT_INSTALL_SHARE, TEST_SPOT_ID, 0, &p),
			 PROTO_OK);
	r->skey_b = test_skey(&r->a, &r->b, COSHARE_ID, KEY_A, TEST_SPOT_ID, 0,
			      PROTO_TIME_NONE_AFTER, 0, PROTO_SHARE_COSHARE);
	test_port_drain(&r->t.tp);
}

static uint16_t share_uses(struct rig *r)
{
	int i = share_find(&r->t.lock.shares, COSHARE_ID);

	assert_true(i >= 0);
	return r->t.lock.shares.slot[i].uses;
}

static int op_shared_unlock(struct rig *r)
{
	return unlock_b_shared(r);
}

/* Either count may run ahead of the motor, the share's never ahead of the parent's. */
static void check_shared_unlock(struct rig *r, int result)
{
	uint16_t parent = uses_of(r, KEY_A), share = share_uses(r);
	bool moved = r->t.tp.hw.position_ms > 0;

	assert_true(parent == 1 || parent == 2);
	assert_true(share == 0 || share == 1);
	if (share == 1)
		assert_int_equal(parent, 2);
	if (result == PROTO_OK || moved) {
		assert_int_equal(parent, 2);
		assert_int_equal(share, 1);
	}
	assert_int_equal(r->t.lock.cfg.total_unlocks, r->total + (parent - 1u));
	raise_barrier(r);
	if (parent < A_MAX) {
		assert_int_equal(unlock_b_shared(r), PROTO_OK);
		assert_int_equal(share_uses(r), share + 1);
		assert_int_equal(uses_of(r, KEY_A), parent + 1);
	} else {
		assert_int_equal(unlock_b_shared(r), PROTO_E_USED_UP);
	}
}

static void test_cut_shared_unlock(void **state)
{
	struct rig *r = *state;

	prepare_coshare(r);
	assert_true(sweep(r, op_shared_unlock, check_shared_unlock) >= 3);
}

/* ---- (g) REPROVISION ---- */

/* The new site's key: user b's reservation key stands in for it. */
static struct test_site new_site(struct rig *r)
{
	struct test_site s;

	memset(&s, 0, sizeof(s));
	s.site_id = NEW_SITE;
	s.key = r->b.reservation;
	memcpy(s.pub, r->b.res_pub, PROTO_PUBKEY_LEN);
	return s;
}

static void prepare_reprovision(struct rig *r)
{
	union proto_mgmt_payload p;

	p.provision.site_id = NEW_SITE;
	p.provision.spot_id = NEW_SPOT;
	memcpy(p.provision.site_pub, r->b.res_pub, PROTO_PUBKEY_LEN);
	rig_mgmt_frame(r, PROTO_MGMT_REPROVISION, &p);
}

/* Moved wholly (new site, no keys), or not moved with whatever keys are left intact. */
static void check_reprovision(struct rig *r, int result)
{
	const struct lock_config *cfg = &r->t.lock.cfg;
	bool moved = cfg->site_id == NEW_SITE;
	struct test_site next = new_site(r);
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX];
	size_t n;

	if (result == PROTO_OK)
		assert_true(moved);
	if (!moved) {
		assert_int_equal(cfg->site_id, TEST_SITE_ID);
		assert_int_equal(cfg->spot_id, TEST_SPOT_ID);
		assert_memory_equal(cfg->site_pub, r->t.site.pub, PROTO_PUBKEY_LEN);
		assert_int_equal(cfg->mgmt_seq, r->seq);
		if (cred_slot(r, KEY_A) >= 0) {
			check_a_as_prepared(r);
			assert_int_equal(unlock_a(r), PROTO_OK);
			raise_barrier(r);
		} else {
			assert_int_equal(unlock_a(r), PROTO_E_UNKNOWN_KEY);
		}
		assert_int_equal(send_mgmt(r), PROTO_OK);
	} else {
		assert_int_equal(send_mgmt(r), PROTO_E_SITE_SIG); /* the old key is a stranger */
	}
	assert_int_equal(cfg->site_id, NEW_SITE);
	assert_int_equal(cfg->spot_id, NEW_SPOT);
	assert_memory_equal(cfg->site_pub, r->b.res_pub, PROTO_PUBKEY_LEN);
	assert_int_equal(cfg->mgmt_seq, 0);
	assert_int_equal(cfg->revoke_serial, 0);
	assert_int_equal(r->t.lock.creds.count, 0);
	assert_int_equal(r->t.lock.shares.count, 0);
	/* The new site is in charge. */
	p.time = NEW_TIME;
	n = test_site_mgmt(&next, PROTO_MGMT_SET_TIME, NEW_SPOT, 0, &p, frame, sizeof(frame));
	test_lock_send(&r->t, 0, frame, n);
	assert_int_equal(test_lock_next(&r->t, 0, false), PROTO_MGMT_ACK);
	assert_int_equal(r->t.reply.u.ack.result, PROTO_OK);
	assert_int_equal(cfg->mgmt_seq, 1);
}

static void test_cut_reprovision(void **state)
{
	struct rig *r = *state;

	prepare_coshare(r);
	prepare_reprovision(r);
	assert_true(sweep(r, op_mgmt, check_reprovision) >= 6);
}

#define CUT_TEST(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		CUT_TEST(test_cut_install_cred),
		CUT_TEST(test_cut_unlock),
		CUT_TEST(test_cut_unlock_compacting),
		CUT_TEST(test_cut_revoke),
		CUT_TEST(test_cut_install_share_transfer),
		CUT_TEST(test_cut_set_time),
		CUT_TEST(test_cut_shared_unlock),
		CUT_TEST(test_cut_reprovision),
	};

	return cmocka_run_group_tests_name("lock-power", tests, NULL, NULL);
}
