/*
 * test-lock-mgmt.c: management messages through the whole lock core (PROTOCOL.md 5, 9,
 * 10): only a valid site signature and a newer sequence are believed (the last message
 * sent again, its ack lost, is answered again and not applied twice, also after a
 * settings record written before that was kept), the target, the revocation list and
 * its own serial, time that never goes back, the lockout policy,
 * provisioning and reprovisioning, the credential table's limit, device-signed ACKs,
 * and an attendant's override (REMOTE_OPERATE): the barrier moves by a key holder's
 * rules, the lock logs who and why, and a power cut at any write leaves it consistent.
 * Every refusal is also checked to have changed nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/signer.h"
#include "../../lockfw/core/layout.h"
#include "../support/test-lock.h"

#define FLASH_BYTES(t) ((size_t)(t)->tp.hw.page_size * (t)->tp.hw.pages)
#define STORE_BYTES (2 * LAYOUT_STORE_AREA_BYTES) /* the store's two areas come first */

#define KEY_A 11
#define KEY_B 12
#define ATTENDANT 5005
#define OPS_MAX 64

static const uint8_t reason_digest[PROTO_REASON_DIGEST_LEN] = { 0x7d, 0x63, 0x90, 0xff,
								0xf5, 0x56, 0x4f, 0x18 };

/* ---- helpers ---- */

/* What a refused message must leave alone: the flash and the lock's view of it. */
struct snapshot {
	uint8_t *flash;
	size_t len;
	uint8_t creds;
	uint8_t shares;
	uint32_t mgmt_seq;
	uint32_t revoke_serial;
	uint32_t site_id;
	uint32_t spot_id;
	uint32_t time;
	uint32_t event_head;
	uint16_t revoked_count;
};

static void snapshot_take(struct test_lock *t, struct snapshot *s)
{
	s->len = FLASH_BYTES(t);
	s->flash = malloc(s->len);
	assert_non_null(s->flash);
	memcpy(s->flash, t->tp.flash, s->len);
	s->creds = t->lock.creds.count;
	s->shares = t->lock.shares.count;
	s->mgmt_seq = t->lock.cfg.mgmt_seq;
	s->revoke_serial = t->lock.cfg.revoke_serial;
	s->site_id = t->lock.cfg.site_id;
	s->spot_id = t->lock.cfg.spot_id;
	s->time = lock_time(&t->lock);
	s->event_head = t->lock.log.head_seq;
	s->revoked_count = t->lock.revoked_count;
}

/*
 * Asserts that nothing the lock keeps changed. `whole_flash`: the event log too (a
 * refusal with a plain ERROR leaves no trace; a signed refusal logs a MGMT event).
 */
static void snapshot_check(struct test_lock *t, struct snapshot *s, bool whole_flash)
{
	assert_int_equal(t->lock.creds.count, s->creds);
	assert_int_equal(t->lock.shares.count, s->shares);
	assert_int_equal(t->lock.cfg.mgmt_seq, s->mgmt_seq);
	assert_int_equal(t->lock.cfg.revoke_serial, s->revoke_serial);
	assert_int_equal(t->lock.cfg.site_id, s->site_id);
	assert_int_equal(t->lock.cfg.spot_id, s->spot_id);
	assert_int_equal(lock_time(&t->lock), s->time);
	assert_int_equal(t->lock.revoked_count, s->revoked_count);
	assert_memory_equal(t->tp.flash, s->flash, whole_flash ? s->len : STORE_BYTES);
	if (whole_flash)
		assert_int_equal(t->lock.log.head_seq, s->event_head);
}

static void snapshot_free(struct snapshot *s)
{
	free(s->flash);
	s->flash = NULL;
}

/* HELLO on link 0: returns the INFO (for the device key). */
static struct proto_info hello(struct test_lock *t)
{
	struct proto_msg m;
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.tag = 1;
	m.u.hello.mtu = PROTO_MTU_MIN;
	n = test_frame(&m, t->frame, sizeof(t->frame));
	assert_int_equal(test_lock_send(t, 0, t->frame, n), 0);
	assert_int_equal(test_lock_next(t, 0, false), PROTO_INFO);
	return t->reply.u.info;
}

/* Sends a prepared frame on link 0; returns the reply's type (ACK or ERROR expected). */
static int send_frame(struct test_lock *t, const uint8_t *frame, size_t n)
{
	test_lock_send(t, 0, frame, n);
	return test_lock_next(t, 0, false);
}

static int install(struct test_lock *t, const struct test_user *u, uint32_t key_id,
		   uint16_t max_unlocks)
{
	return test_lock_install(t, u, key_id, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER,
				 max_unlocks);
}

static int revoke(struct test_lock *t, uint32_t serial, const uint32_t *ids, uint16_t count)
{
	union proto_mgmt_payload p;

	memset(&p, 0, sizeof(p));
	p.revoke.count = count;
	memcpy(p.revoke.key_ids, ids, sizeof(uint32_t) * count);
	return test_lock_mgmt(t, PROTO_MGMT_REVOKE, TEST_SPOT_ID, serial, &p);
}

static int set_time(struct test_lock *t, uint32_t when)
{
	union proto_mgmt_payload p;

	memset(&p, 0, sizeof(p));
	p.time = when;
	return test_lock_mgmt(t, PROTO_MGMT_SET_TIME, TEST_SPOT_ID, 0, &p);
}

/* Unlock with u's key, then raise the barrier again; returns the unlock's status. */
static int unlock_and_relock(struct test_lock *t, const struct test_user *u, uint32_t key_id)
{
	struct proto_ekey k = test_ekey(u, key_id, TEST_SPOT_ID, PROTO_TIME_NONE_BEFORE,
					PROTO_TIME_NONE_AFTER, 0);
	int r = test_lock_operate(t, u, u->user_id, &k, PROTO_OP_UNLOCK);

	if (r == PROTO_OK)
		assert_int_equal(test_lock_operate(t, u, u->user_id, &k, PROTO_OP_LOCK), PROTO_OK);
	return r;
}

static struct proto_provision provision_for(uint32_t site_id, uint32_t spot_id,
					    const uint8_t pub[PROTO_PUBKEY_LEN])
{
	struct proto_provision p;

	p.site_id = site_id;
	p.spot_id = spot_id;
	memcpy(p.site_pub, pub, PROTO_PUBKEY_LEN);
	return p;
}

/* ---- the site signature ---- */

/* Flips each byte of a signed INSTALL_CRED frame with `mask` and expects a plain ERROR. */
static void flip_every_byte(struct test_lock *t, const struct test_user *u, uint8_t mask)
{
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX], bad[PROTO_FRAME_MAX];
	struct snapshot s;
	size_t n, i;

	p.cred = test_cred(u, KEY_A, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER, 3, 0);
	n = test_site_mgmt(&t->site, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID, t->site.seq + 1, &p,
			   frame, sizeof(frame));
	snapshot_take(t, &s);
	for (i = 0; i < n; i++) {
		struct proto_msg m;
		int code;

		if (i == 2)
			continue; /* the tag is the requester's, not signed */
		memcpy(bad, frame, n);
		bad[i] ^= mask;
		assert_int_equal(send_frame(t, bad, n), PROTO_ERROR);
		code = t->reply.u.error.code;
		if (i >= PROTO_HDR_LEN + PROTO_MGMT_HDR_LEN) {
			/* payload and signature: only the signature can say no */
			assert_int_equal(code, PROTO_E_SITE_SIG);
		} else if (proto_decode(bad, n, &m) < 0) {
			assert_true(code == PROTO_E_LENGTH || code == PROTO_E_VALUE ||
				    code == PROTO_E_TYPE || code == PROTO_E_VERSION);
		} else {
			assert_true(code == PROTO_E_SITE_SIG || code == PROTO_E_TYPE);
		}
		snapshot_check(t, &s, true);
	}
	snapshot_free(&s);
	/* The unflipped frame is good: each refusal above was the flip's doing. */
	assert_int_equal(send_frame(t, frame, n), PROTO_MGMT_ACK);
	assert_int_equal(t->reply.u.ack.result, PROTO_OK);
	assert_int_equal(t->lock.creds.count, 1);
}

static void test_every_flipped_bit0_refused(void **state)
{
	struct test_lock t;
	struct test_user u;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	flip_every_byte(&t, &u, 0x01);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_every_flipped_bit7_refused(void **state)
{
	struct test_lock t;
	struct test_user u;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	flip_every_byte(&t, &u, 0x80);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_truncated_or_oversized_refused(void **state)
{
	struct test_lock t;
	struct test_user u;
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX];
	struct snapshot s;
	size_t n, len;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	p.cred = test_cred(&u, KEY_A, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER, 3, 0);
	n = test_site_mgmt(&t.site, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID, 0, &p, frame,
			   sizeof(frame) - 1);
	snapshot_take(&t, &s);
	for (len = 1; len < n; len++) {
		assert_int_equal(send_frame(&t, frame, len), PROTO_ERROR);
		assert_int_equal(t.reply.u.error.code, PROTO_E_LENGTH);
		snapshot_check(&t, &s, true);
	}
	frame[n] = 0;
	assert_int_equal(send_frame(&t, frame, n + 1), PROTO_ERROR);
	assert_int_equal(t.reply.u.error.code, PROTO_E_LENGTH);
	snapshot_check(&t, &s, true);
	snapshot_free(&s);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_other_site_key_refused(void **state)
{
	struct test_lock t;
	struct test_site other;
	struct test_user u;
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX];
	struct snapshot s;
	size_t n;

	(void)state;
	test_lock_init_ready(&t);
	test_site_init(&other, TEST_SITE_ID); /* same site ID, another key */
	test_user_init(&u, 1001);
	p.cred = test_cred(&u, KEY_A, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER, 0, 0);
	n = test_site_mgmt(&other, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID, 50, &p, frame,
			   sizeof(frame));
	snapshot_take(&t, &s);
	assert_int_equal(send_frame(&t, frame, n), PROTO_ERROR);
	assert_int_equal(t.reply.u.error.code, PROTO_E_SITE_SIG);
	snapshot_check(&t, &s, true);
	snapshot_free(&s);
	test_user_free(&u);
	test_site_free(&other);
	test_lock_free(&t);
}

/* The site ID is in the signed string: the right key for another site opens nothing. */
static void test_signed_for_other_site_refused(void **state)
{
	struct test_lock t;
	struct test_user u;
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX];
	struct snapshot s;
	int n;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	p.cred = test_cred(&u, KEY_A, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER, 0, 0);
	n = signer_mgmt_frame(t.site.key, TEST_SITE_ID + 1, 9, PROTO_MGMT_INSTALL_CRED,
			      TEST_SPOT_ID, 50, &p, frame, sizeof(frame));
	assert_true(n > 0);
	snapshot_take(&t, &s);
	assert_int_equal(send_frame(&t, frame, (size_t)n), PROTO_ERROR);
	assert_int_equal(t.reply.u.error.code, PROTO_E_SITE_SIG);
	snapshot_check(&t, &s, true);
	snapshot_free(&s);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_unknown_mtype_refused(void **state)
{
	struct test_lock t;
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX];
	struct snapshot s;
	size_t n;

	(void)state;
	test_lock_init_ready(&t);
	p.time = TEST_NOW + 10;
	n = test_site_mgmt(&t.site, PROTO_MGMT_SET_TIME, TEST_SPOT_ID, 0, &p, frame,
			   sizeof(frame));
	frame[PROTO_HDR_LEN] = PROTO_MGMT_TYPE_MAX + 1;
	snapshot_take(&t, &s);
	assert_int_equal(send_frame(&t, frame, n), PROTO_ERROR);
	assert_int_equal(t.reply.u.error.code, PROTO_E_TYPE);
	snapshot_check(&t, &s, true);
	snapshot_free(&s);
	test_lock_free(&t);
}

/* ---- sequence and target ---- */

/* Installs u's KEY_A through a signed frame, kept in frame[]: its length. */
static size_t install_a(struct test_lock *t, const struct test_user *u, uint8_t *frame)
{
	union proto_mgmt_payload p;
	size_t n;

	p.cred = test_cred(u, KEY_A, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER, 0, 0);
	n = test_site_mgmt(&t->site, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID, 0, &p, frame,
			   PROTO_FRAME_MAX);
	assert_int_equal(send_frame(t, frame, n), PROTO_MGMT_ACK);
	assert_int_equal(t->reply.u.ack.result, PROTO_OK);
	return n;
}

/*
 * The last message applied, sent again (its ack was lost): the same answer, nothing
 * done twice, nothing logged. Another frame under that sequence, or that message once a
 * newer one is applied, is stale.
 */
static void test_replay_answered_again_or_stale(void **state)
{
	struct test_lock t;
	struct test_user u;
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX], other[PROTO_FRAME_MAX];
	struct snapshot s;
	size_t n, n2;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	n = install_a(&t, &u, frame);
	assert_int_equal(t.lock.cfg.mgmt_seq, t.site.seq);
	snapshot_take(&t, &s);
	assert_int_equal(send_frame(&t, frame, n), PROTO_MGMT_ACK);
	assert_int_equal(t.reply.u.ack.result, PROTO_OK);
	assert_int_equal(t.reply.u.ack.seq, t.site.seq);
	snapshot_check(&t, &s, true);
	/* Another frame under the same sequence (a restored server's, say): stale. */
	p.cred = test_cred(&u, KEY_B, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER, 0, 0);
	n2 = test_site_mgmt(&t.site, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID, t.site.seq, &p,
			    other, sizeof(other));
	assert_int_equal(send_frame(&t, other, n2), PROTO_MGMT_ACK);
	assert_int_equal(t.reply.u.ack.result, PROTO_E_STALE);
	snapshot_check(&t, &s, true);
	snapshot_free(&s);
	/* Known again after a reboot; stale once a newer message is applied. */
	assert_int_equal(test_lock_reboot(&t), 0);
	assert_int_equal(send_frame(&t, frame, n), PROTO_MGMT_ACK);
	assert_int_equal(t.reply.u.ack.result, PROTO_OK);
	assert_int_equal(t.lock.creds.count, 1);
	p.time = lock_time(&t.lock) + 60;
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_SET_TIME, TEST_SPOT_ID, 0, &p), PROTO_OK);
	snapshot_take(&t, &s);
	assert_int_equal(send_frame(&t, frame, n), PROTO_MGMT_ACK);
	assert_int_equal(t.reply.u.ack.result, PROTO_E_STALE);
	snapshot_check(&t, &s, false);
	snapshot_free(&s);
	test_user_free(&u);
	test_lock_free(&t);
}

/*
 * The settings record of a firmware that kept no message ID (96 bytes) loads: the
 * numbering goes on, and the last message is only known again once a new one is kept.
 */
static void test_config_without_message_id_loads(void **state)
{
	struct test_lock t;
	struct test_user u;
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX], rec[256];
	static const uint8_t unknown[LOCK_MGMT_ID_LEN];
	size_t n, len = 0;
	uint32_t seq;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	n = install_a(&t, &u, frame);
	seq = t.lock.cfg.mgmt_seq;
	assert_int_equal(store_get(&t.lock.store, LAYOUT_KEY_CONFIG, rec, sizeof(rec), &len), 0);
	assert_int_equal(len, 96 + LOCK_MGMT_ID_LEN);
	assert_int_equal(store_put(&t.lock.store, LAYOUT_KEY_CONFIG, rec, 96), 0);
	assert_int_equal(test_lock_reboot(&t), 0);
	assert_true(t.lock.cfg.provisioned);
	assert_int_equal(t.lock.cfg.mgmt_seq, seq);
	assert_memory_equal(t.lock.cfg.mgmt_id, unknown, LOCK_MGMT_ID_LEN);
	assert_int_equal(send_frame(&t, frame, n), PROTO_MGMT_ACK);
	assert_int_equal(t.reply.u.ack.result, PROTO_E_STALE);
	assert_int_equal(t.lock.creds.count, 1);
	p.time = lock_time(&t.lock) + 60;
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_SET_TIME, TEST_SPOT_ID, 0, &p), PROTO_OK);
	assert_int_equal(store_get(&t.lock.store, LAYOUT_KEY_CONFIG, rec, sizeof(rec), &len), 0);
	assert_int_equal(len, 96 + LOCK_MGMT_ID_LEN);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_older_or_equal_seq_stale_newer_works(void **state)
{
	struct test_lock t;
	struct test_user u;
	union proto_mgmt_payload p;
	struct snapshot s;
	const uint32_t old[] = { 40, 39, 2, 1 };
	size_t i;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	p.time = TEST_NOW + 5;
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_SET_TIME, TEST_SPOT_ID, 40, &p), PROTO_OK);
	assert_int_equal(t.lock.cfg.mgmt_seq, 40);
	p.cred = test_cred(&u, KEY_A, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER, 0, 0);
	snapshot_take(&t, &s);
	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID, old[i],
						&p), PROTO_E_STALE);
		snapshot_check(&t, &s, false);
	}
	snapshot_free(&s);
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID, 41, &p),
			 PROTO_OK);
	assert_int_equal(t.lock.cfg.mgmt_seq, 41);
	assert_int_equal(t.lock.creds.count, 1);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_wrong_target_refused(void **state)
{
	struct test_lock t;
	struct test_user u;
	union proto_mgmt_payload p;
	struct snapshot s;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	p.cred = test_cred(&u, KEY_A, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER, 0, 0);
	snapshot_take(&t, &s);
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID + 1, 0, &p),
			 PROTO_E_TARGET);
	snapshot_check(&t, &s, false);
	snapshot_free(&s);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_target_all_for_revoke_only(void **state)
{
	struct test_lock t;
	struct test_user u;
	union proto_mgmt_payload p;
	struct snapshot s;
	const uint8_t mtypes[] = { PROTO_MGMT_INSTALL_CRED, PROTO_MGMT_SET_TIME,
				   PROTO_MGMT_SET_LOCKOUT };
	size_t i;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	snapshot_take(&t, &s);
	for (i = 0; i < sizeof(mtypes); i++) {
		memset(&p, 0, sizeof(p));
		if (mtypes[i] == PROTO_MGMT_INSTALL_CRED)
			p.cred = test_cred(&u, KEY_A, 0, PROTO_TIME_NONE_AFTER, 0, 0);
		else if (mtypes[i] == PROTO_MGMT_SET_TIME)
			p.time = TEST_NOW + 100;
		else
			p.lockout = (struct proto_lockout){ 2, 10, 20 };
		assert_int_equal(test_lock_mgmt(&t, mtypes[i], PROTO_TARGET_ALL, 0, &p),
				 PROTO_E_TARGET);
		snapshot_check(&t, &s, false);
	}
	snapshot_free(&s);
	memset(&p, 0, sizeof(p));
	p.revoke.count = 1;
	p.revoke.key_ids[0] = KEY_B;
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_REVOKE, PROTO_TARGET_ALL, 0, &p), PROTO_OK);
	assert_int_equal(t.lock.cfg.revoke_serial, t.site.revoke_serial);
	assert_int_equal(t.lock.revoked_count, 1);
	test_user_free(&u);
	test_lock_free(&t);
}

/* ---- the revocation list ---- */

static void test_revoke_serial_apart_from_mgmt_seq(void **state)
{
	struct test_lock t;
	struct test_user u;
	const uint32_t ids[] = { KEY_B };
	uint32_t seq;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	seq = t.lock.cfg.mgmt_seq;
	assert_true(seq >= 1);
	/* Serial 1 is not newer than mgmt_seq, but it counts on its own. */
	assert_int_equal(revoke(&t, 1, ids, 1), PROTO_OK);
	assert_int_equal(t.lock.cfg.revoke_serial, 1);
	assert_int_equal(t.lock.cfg.mgmt_seq, seq);
	/* A high serial does not make the next management sequence stale, nor back. */
	assert_int_equal(revoke(&t, 500, ids, 1), PROTO_OK);
	assert_int_equal(install(&t, &u, KEY_A, 0), PROTO_OK);
	assert_int_equal(t.lock.cfg.mgmt_seq, seq + 1);
	assert_int_equal(t.lock.cfg.revoke_serial, 500);
	assert_int_equal(revoke(&t, 501, ids, 1), PROTO_OK);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_newer_revocation_list_replaces_old(void **state)
{
	struct test_lock t;
	struct test_user u;
	const uint32_t first[] = { KEY_A }, second[] = { KEY_B };

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	assert_int_equal(revoke(&t, 1, first, 1), PROTO_OK);
	assert_int_equal(install(&t, &u, KEY_A, 0), PROTO_E_REVOKED);
	assert_int_equal(revoke(&t, 2, second, 1), PROTO_OK);
	assert_int_equal(t.lock.revoked_count, 1);
	assert_int_equal(install(&t, &u, KEY_A, 0), PROTO_OK);
	assert_int_equal(install(&t, &u, KEY_B, 0), PROTO_E_REVOKED);
	assert_int_equal(t.lock.creds.count, 1);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_revoke_removes_named_credentials(void **state)
{
	struct test_lock t;
	struct test_user a, b;
	const uint32_t ids[] = { KEY_A };
	int r;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&a, 1001);
	test_user_init(&b, 1002);
	assert_int_equal(install(&t, &a, KEY_A, 0), PROTO_OK);
	assert_int_equal(install(&t, &b, KEY_B, 0), PROTO_OK);
	assert_int_equal(unlock_and_relock(&t, &a, KEY_A), PROTO_OK);
	assert_int_equal(revoke(&t, 1, ids, 1), PROTO_OK);
	assert_int_equal(t.lock.creds.count, 1);
	assert_int_equal(credential_find_key(&t.lock.creds, KEY_A), -1);
	r = unlock_and_relock(&t, &a, KEY_A);
	assert_true(r == PROTO_E_REVOKED || r == PROTO_E_UNKNOWN_KEY);
	assert_int_equal(unlock_and_relock(&t, &b, KEY_B), PROTO_OK);
	/* ... and after a reboot. */
	assert_int_equal(test_lock_reboot(&t), 0);
	assert_int_equal(t.lock.creds.count, 1);
	r = unlock_and_relock(&t, &a, KEY_A);
	assert_true(r == PROTO_E_REVOKED || r == PROTO_E_UNKNOWN_KEY);
	test_user_free(&a);
	test_user_free(&b);
	test_lock_free(&t);
}

static void test_older_revocation_serial_stale(void **state)
{
	struct test_lock t;
	const uint32_t ids[] = { KEY_A }, other[] = { KEY_B };
	struct snapshot s;

	(void)state;
	test_lock_init_ready(&t);
	assert_int_equal(revoke(&t, 3, ids, 1), PROTO_OK);
	snapshot_take(&t, &s);
	assert_int_equal(revoke(&t, 2, other, 1), PROTO_E_STALE);
	snapshot_check(&t, &s, false);
	assert_int_equal(revoke(&t, 3, other, 1), PROTO_E_STALE);
	snapshot_check(&t, &s, false);
	assert_true(t.lock.revoked[0] == KEY_A);
	snapshot_free(&s);
	test_lock_free(&t);
}

static void test_install_of_revoked_key_refused(void **state)
{
	struct test_lock t;
	struct test_user u;
	const uint32_t ids[] = { KEY_A };
	struct snapshot s;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	assert_int_equal(revoke(&t, 1, ids, 1), PROTO_OK);
	snapshot_take(&t, &s);
	assert_int_equal(install(&t, &u, KEY_A, 0), PROTO_E_REVOKED);
	snapshot_check(&t, &s, false);
	snapshot_free(&s);
	test_user_free(&u);
	test_lock_free(&t);
}

/* ---- time ---- */

static void test_time_never_goes_backwards(void **state)
{
	struct test_lock t;
	struct snapshot s;

	(void)state;
	test_lock_init_ready(&t);
	assert_int_equal(set_time(&t, TEST_NOW + 1000), PROTO_OK);
	snapshot_take(&t, &s);
	assert_int_equal(set_time(&t, TEST_NOW + 999), PROTO_E_TIME_BACK);
	snapshot_check(&t, &s, false);
	assert_int_equal(set_time(&t, 1), PROTO_E_TIME_BACK);
	snapshot_check(&t, &s, false);
	assert_int_equal(lock_time(&t.lock), TEST_NOW + 1000);
	snapshot_free(&s);
	test_lock_free(&t);
}

static void test_set_time_logs_time_set(void **state)
{
	struct test_lock t;
	struct proto_event e;
	uint8_t before[PROTO_HASH_LEN];
	unsigned n;
	uint32_t seq;

	(void)state;
	test_lock_init_ready(&t);
	n = test_lock_count_events(&t, PROTO_EV_TIME_SET);
	assert_int_equal(set_time(&t, TEST_NOW + 77), PROTO_OK);
	assert_int_equal(test_lock_count_events(&t, PROTO_EV_TIME_SET), n + 1);
	for (seq = t.lock.log.head_seq; seq > 0; seq--)
		if (evlog_read(&t.lock.log, seq, &e, before) == 0 && e.kind == PROTO_EV_TIME_SET)
			break;
	assert_true(seq > 0);
	assert_int_equal(e.key_id, TEST_NOW); /* the time before */
	assert_int_equal(e.time, TEST_NOW + 77);
	/* A refused set logs no TIME_SET. */
	assert_int_equal(set_time(&t, TEST_NOW), PROTO_E_TIME_BACK);
	assert_int_equal(test_lock_count_events(&t, PROTO_EV_TIME_SET), n + 1);
	test_lock_free(&t);
}

/*
 * The clock never goes back, not even across a power cut: it resumes at or after the
 * last time it reported, at most one checkpoint interval ahead.
 */
static void test_time_never_goes_back_across_reboot(void **state)
{
	struct test_lock t;
	uint32_t before, now;
	int i;

	(void)state;
	test_lock_init_ready(&t);
	assert_int_equal(set_time(&t, TEST_NOW + 1000), PROTO_OK);
	test_port_advance(&t.tp, 5000);
	before = lock_time(&t.lock);
	assert_int_equal(before, TEST_NOW + 1005);
	assert_int_equal(test_lock_reboot(&t), 0);
	now = lock_time(&t.lock);
	assert_true(now >= before && now <= before + LOCK_TIME_CHECKPOINT_S);
	assert_true(t.lock.cfg.time_known);
	/* A long run: the resume point keeps ahead of every time the lock reports. */
	for (i = 0; i < 3 * LOCK_TIME_CHECKPOINT_S / 10; i++) {
		test_port_advance(&t.tp, 10000);
		lock_tick(&t.lock);
	}
	before = lock_time(&t.lock);
	assert_int_equal(test_lock_reboot(&t), 0);
	now = lock_time(&t.lock);
	assert_true(now >= before && now <= before + LOCK_TIME_CHECKPOINT_S);
	test_lock_free(&t);
}

/* ---- lockout policy ---- */

static void test_set_lockout_stored_and_survives_reboot(void **state)
{
	struct test_lock t;
	union proto_mgmt_payload p;

	(void)state;
	test_lock_init_ready(&t);
	p.lockout = (struct proto_lockout){ 3, 60, 7200 };
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_SET_LOCKOUT, TEST_SPOT_ID, 0, &p), PROTO_OK);
	assert_int_equal(t.lock.cfg.lockout.max_failures, 3);
	assert_int_equal(t.lock.cfg.lockout.window_s, 60);
	assert_int_equal(t.lock.cfg.lockout.lockout_s, 7200);
	assert_int_equal(test_lock_reboot(&t), 0);
	assert_int_equal(t.lock.cfg.lockout.max_failures, 3);
	assert_int_equal(t.lock.cfg.lockout.window_s, 60);
	assert_int_equal(t.lock.cfg.lockout.lockout_s, 7200);
	test_lock_free(&t);
}

static void test_set_lockout_bad_value_refused(void **state)
{
	struct test_lock t;
	union proto_mgmt_payload p;
	struct snapshot s;

	(void)state;
	test_lock_init_ready(&t);
	snapshot_take(&t, &s);
	p.lockout = (struct proto_lockout){ 0, 60, 7200 };
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_SET_LOCKOUT, TEST_SPOT_ID, 0, &p),
			 PROTO_E_VALUE);
	snapshot_check(&t, &s, false);
	p.lockout = (struct proto_lockout){ 3, 60, 604801 };
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_SET_LOCKOUT, TEST_SPOT_ID, 0, &p),
			 PROTO_E_VALUE);
	snapshot_check(&t, &s, false);
	assert_int_equal(t.lock.cfg.lockout.max_failures, LOCKOUT_DEFAULT_FAILURES);
	snapshot_free(&s);
	test_lock_free(&t);
}

/* ---- provisioning ---- */

static void test_provision_twice_refused(void **state)
{
	struct test_lock t;
	struct test_site other;
	struct snapshot s;
	size_t n;

	(void)state;
	test_lock_init_ready(&t);
	test_site_init(&other, 99);
	n = test_frame_provision(99, 5, other.pub, t.frame, sizeof(t.frame));
	snapshot_take(&t, &s);
	assert_int_equal(send_frame(&t, t.frame, n), PROTO_ERROR);
	assert_int_equal(t.reply.u.error.code, PROTO_E_PROVISIONED);
	assert_int_equal(t.reply.u.error.req_type, PROTO_PROVISION);
	snapshot_check(&t, &s, true);
	assert_memory_equal(t.lock.cfg.site_pub, t.site.pub, PROTO_PUBKEY_LEN);
	snapshot_free(&s);
	test_site_free(&other);
	test_lock_free(&t);
}

static void test_mgmt_before_provisioning_refused(void **state)
{
	struct test_lock t;
	struct snapshot s;

	(void)state;
	test_lock_init(&t);
	snapshot_take(&t, &s);
	assert_int_equal(set_time(&t, TEST_NOW), PROTO_E_UNPROVISIONED);
	assert_int_equal(t.reply.type, PROTO_ERROR);
	snapshot_check(&t, &s, true);
	assert_false(t.lock.cfg.time_known);
	snapshot_free(&s);
	test_lock_free(&t);
}

static void test_reprovision_by_site_key_moves_lock(void **state)
{
	struct test_lock t;
	struct test_site next;
	struct test_user u;
	union proto_mgmt_payload p;
	const uint32_t ids[] = { 999 };
	int r;

	(void)state;
	test_lock_init_ready(&t);
	test_site_init(&next, 8);
	test_user_init(&u, 1001);
	assert_int_equal(install(&t, &u, KEY_A, 0), PROTO_OK);
	assert_int_equal(install(&t, &u, KEY_B, 0), PROTO_OK);
	assert_int_equal(revoke(&t, 4, ids, 1), PROTO_OK);
	p.provision = provision_for(8, 202, next.pub);
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_REPROVISION, TEST_SPOT_ID, 0, &p), PROTO_OK);
	assert_int_equal(test_lock_reboot(&t), 0);
	assert_int_equal(t.lock.cfg.site_id, 8);
	assert_int_equal(t.lock.cfg.spot_id, 202);
	assert_memory_equal(t.lock.cfg.site_pub, next.pub, PROTO_PUBKEY_LEN);
	assert_int_equal(t.lock.creds.count, 0);
	assert_int_equal(t.lock.shares.count, 0);
	assert_int_equal(t.lock.revoked_count, 0);
	assert_int_equal(t.lock.cfg.mgmt_seq, 0);
	assert_int_equal(t.lock.cfg.revoke_serial, 0);
	/* The old site is a stranger now; the new one starts at sequence 1. */
	p.time = TEST_NOW + 1000;
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_SET_TIME, 202, 0, &p), PROTO_E_SITE_SIG);
	test_site_free(&t.site);
	t.site = next;
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_SET_TIME, 202, 0, &p), PROTO_OK);
	assert_int_equal(t.lock.cfg.mgmt_seq, 1);
	r = unlock_and_relock(&t, &u, KEY_A);
	assert_true(r == PROTO_E_UNKNOWN_KEY || r == PROTO_E_DEVICE_SIG);
	test_user_free(&u);
	test_lock_free(&t);
}

/* Moved within its site (same key): numbering goes on, so nothing old can be replayed. */
static void test_reprovision_same_key_keeps_numbering(void **state)
{
	struct test_lock t;
	struct test_user u;
	union proto_mgmt_payload p;
	uint8_t old_install[PROTO_FRAME_MAX];
	const uint32_t ids[] = { KEY_A };
	size_t n;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	p.cred = test_cred(&u, KEY_A, 0, PROTO_TIME_NONE_AFTER, 0, 0);
	n = test_site_mgmt(&t.site, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID + 1, 0, &p, old_install,
			   sizeof(old_install)); /* recorded for the spot the lock will move to */
	assert_int_equal(revoke(&t, 6, ids, 1), PROTO_OK);
	p.provision = provision_for(TEST_SITE_ID, TEST_SPOT_ID + 1, t.site.pub);
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_REPROVISION, TEST_SPOT_ID, 0, &p), PROTO_OK);
	assert_int_equal(test_lock_reboot(&t), 0);
	assert_int_equal(t.lock.cfg.spot_id, TEST_SPOT_ID + 1);
	assert_int_equal(t.lock.cfg.mgmt_seq, t.site.seq);
	assert_int_equal(t.lock.cfg.revoke_serial, 6);
	assert_true(t.lock.revoked_count == 1 && t.lock.revoked[0] == KEY_A);
	/* The install signed before the move is stale now, and its key still revoked. */
	assert_int_equal(send_frame(&t, old_install, n), PROTO_MGMT_ACK);
	assert_int_equal(t.reply.u.ack.result, PROTO_E_STALE);
	assert_int_equal(t.lock.creds.count, 0);
	memset(&p, 0, sizeof(p)); /* an older, empty list would un-revoke KEY_A */
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_REVOKE, PROTO_TARGET_ALL, 6, &p),
			 PROTO_E_STALE);
	assert_int_equal(t.lock.revoked_count, 1);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_reprovision_by_other_key_refused(void **state)
{
	struct test_lock t;
	struct test_site other;
	struct test_user u;
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX];
	struct snapshot s;
	size_t n;

	(void)state;
	test_lock_init_ready(&t);
	test_site_init(&other, TEST_SITE_ID);
	test_user_init(&u, 1001);
	assert_int_equal(install(&t, &u, KEY_A, 0), PROTO_OK);
	p.provision = provision_for(TEST_SITE_ID, 303, other.pub);
	n = test_site_mgmt(&other, PROTO_MGMT_REPROVISION, TEST_SPOT_ID, 100, &p, frame,
			   sizeof(frame));
	snapshot_take(&t, &s);
	assert_int_equal(send_frame(&t, frame, n), PROTO_ERROR);
	assert_int_equal(t.reply.u.error.code, PROTO_E_SITE_SIG);
	snapshot_check(&t, &s, true);
	assert_memory_equal(t.lock.cfg.site_pub, t.site.pub, PROTO_PUBKEY_LEN);
	assert_int_equal(unlock_and_relock(&t, &u, KEY_A), PROTO_OK);
	snapshot_free(&s);
	test_user_free(&u);
	test_site_free(&other);
	test_lock_free(&t);
}

/* ---- ACKs ---- */

/* The ACK just popped verifies, and no longer does with any byte of its body changed. */
static void check_ack_signature(struct test_lock *t, const uint8_t pub[PROTO_PUBKEY_LEN])
{
	uint8_t frame[PROTO_FRAME_MAX];
	size_t n = t->frame_len, i;

	assert_int_equal(t->reply.type, PROTO_MGMT_ACK);
	assert_int_equal(signer_check_ack(pub, t->lock.cfg.site_id, &t->reply.u.ack), 0);
	/* Another site's server cannot take it for its own. */
	assert_int_not_equal(signer_check_ack(pub, t->lock.cfg.site_id + 1, &t->reply.u.ack), 0);
	for (i = PROTO_HDR_LEN; i < n; i++) {
		struct proto_msg m;

		memcpy(frame, t->frame, n);
		frame[i] ^= 0x01;
		assert_int_equal(proto_decode(frame, n, &m), 0);
		assert_int_not_equal(signer_check_ack(pub, t->lock.cfg.site_id, &m.u.ack), 0);
	}
}

static void test_every_ack_signed_by_device_key(void **state)
{
	struct test_lock t;
	struct test_user u, stranger;
	union proto_mgmt_payload p;
	struct proto_info info;
	const uint32_t ids[] = { KEY_B };

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	info = hello(&t);
	assert_int_equal(install(&t, &u, KEY_A, 0), PROTO_OK);
	assert_int_equal(t.reply.u.ack.spot_id, TEST_SPOT_ID);
	assert_int_equal(t.reply.u.ack.seq, t.site.seq);
	assert_int_equal(t.reply.u.ack.mtype, PROTO_MGMT_INSTALL_CRED);
	check_ack_signature(&t, info.device_pub);
	p.cred = test_cred(&u, KEY_A, 0, PROTO_TIME_NONE_AFTER, 0, 0);
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID, 1, &p),
			 PROTO_E_STALE);
	check_ack_signature(&t, info.device_pub);
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_INSTALL_CRED, 5, 0, &p), PROTO_E_TARGET);
	check_ack_signature(&t, info.device_pub);
	assert_int_equal(set_time(&t, 5), PROTO_E_TIME_BACK);
	check_ack_signature(&t, info.device_pub);
	assert_int_equal(revoke(&t, 0, ids, 1), PROTO_OK);
	assert_int_equal(t.reply.u.ack.mtype, PROTO_MGMT_REVOKE);
	check_ack_signature(&t, info.device_pub);
	/* Any other device key did not sign it. */
	test_user_init(&stranger, 1);
	assert_int_not_equal(signer_check_ack(stranger.device_pub, TEST_SITE_ID, &t.reply.u.ack),
			     0);
	test_user_free(&stranger);
	test_user_free(&u);
	test_lock_free(&t);
}

/* ---- the credential table ---- */

static void test_table_full_at_64(void **state)
{
	struct test_lock t;
	struct test_user u;
	struct snapshot s;
	int i;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	for (i = 0; i < CREDENTIAL_SLOTS; i++)
		assert_int_equal(install(&t, &u, 1000 + (uint32_t)i, 0), PROTO_OK);
	assert_int_equal(t.lock.creds.count, CREDENTIAL_SLOTS);
	snapshot_take(&t, &s);
	assert_int_equal(install(&t, &u, 2000, 0), PROTO_E_FULL);
	snapshot_check(&t, &s, false);
	snapshot_free(&s);
	assert_int_equal(credential_find_key(&t.lock.creds, 2000), -1);
	for (i = 0; i < CREDENTIAL_SLOTS; i++) {
		uint32_t key_id = 1000 + (uint32_t)i;

		assert_int_equal(unlock_and_relock(&t, &u, key_id), PROTO_OK);
		assert_int_equal(t.lock.creds.slot[credential_find_key(&t.lock.creds, key_id)].uses,
				 1);
	}
	assert_int_equal(t.lock.cfg.total_unlocks, CREDENTIAL_SLOTS);
	/* All 64 are still there after a reboot. */
	assert_int_equal(test_lock_reboot(&t), 0);
	assert_int_equal(t.lock.creds.count, CREDENTIAL_SLOTS);
	test_user_free(&u);
	test_lock_free(&t);
}

static void test_reinstall_keeps_use_count(void **state)
{
	struct test_lock t;
	struct test_user u;
	struct proto_ekey k;
	int slot;

	(void)state;
	test_lock_init_ready(&t);
	test_user_init(&u, 1001);
	assert_int_equal(install(&t, &u, KEY_A, 3), PROTO_OK);
	assert_int_equal(unlock_and_relock(&t, &u, KEY_A), PROTO_OK);
	assert_int_equal(install(&t, &u, KEY_A, 5), PROTO_OK);
	assert_int_equal(t.lock.creds.count, 1);
	slot = credential_find_key(&t.lock.creds, KEY_A);
	assert_true(slot >= 0);
	assert_int_equal(t.lock.creds.slot[slot].uses, 1);
	assert_int_equal(t.lock.creds.slot[slot].max_unlocks, 5);
	assert_int_equal(test_lock_reboot(&t), 0);
	slot = credential_find_key(&t.lock.creds, KEY_A);
	assert_int_equal(t.lock.creds.slot[slot].uses, 1);
	k = test_ekey(&u, KEY_A, TEST_SPOT_ID, 0, PROTO_TIME_NONE_AFTER, 0);
	assert_int_equal(test_lock_operate(&t, &u, u.user_id, &k, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(t.reply.u.result.uses_left, 3);
	test_user_free(&u);
	test_lock_free(&t);
}

/* ---- an attendant's override (REMOTE_OPERATE) ---- */

static union proto_mgmt_payload remote_payload(uint8_t op, uint32_t not_after)
{
	union proto_mgmt_payload p;

	memset(&p, 0, sizeof(p));
	p.remote.op = op;
	p.remote.user_id = ATTENDANT;
	p.remote.not_after = not_after;
	memcpy(p.remote.reason, reason_digest, sizeof(reason_digest));
	return p;
}

/* Sends an override with the next sequence; returns the ACK's result (or ERROR's code). */
static int remote(struct test_lock *t, uint8_t op, uint32_t not_after)
{
	union proto_mgmt_payload p = remote_payload(op, not_after);

	return test_lock_mgmt(t, PROTO_MGMT_REMOTE_OPERATE, TEST_SPOT_ID, 0, &p);
}

/* The newest event of `kind` in the log; fails when there is none. */
static struct proto_event last_event(struct test_lock *t, uint8_t kind)
{
	struct proto_event e;
	uint8_t before[PROTO_HASH_LEN];
	uint32_t seq;

	for (seq = t->lock.log.head_seq; seq > 0; seq--)
		if (evlog_read(&t->lock.log, seq, &e, before) == 0 && e.kind == kind)
			return e;
	fail_msg("no event of kind %u", kind);
	return e;
}

/* Nothing moves, and nothing will: the barrier where it was and the motor off. */
static void assert_still(struct test_lock *t, uint8_t barrier)
{
	assert_false(t->lock.motion.active);
	assert_int_equal(t->lock.barrier, barrier);
	test_lock_run(t, 1000);
	assert_int_equal(t->lock.barrier, barrier);
}

static void test_remote_unlock_then_lock(void **state)
{
	struct test_lock t;
	struct proto_event e;
	uint32_t total, seq;

	(void)state;
	test_lock_init_ready(&t);
	total = t.lock.cfg.total_unlocks;
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_UP);
	assert_int_equal(remote(&t, PROTO_OP_UNLOCK, PROTO_TIME_NONE_AFTER), PROTO_OK);
	seq = t.site.seq;
	assert_int_equal(t.reply.u.ack.mtype, PROTO_MGMT_REMOTE_OPERATE);
	assert_int_equal(t.reply.u.ack.seq, seq);
	assert_int_equal(t.lock.cfg.mgmt_seq, seq);
	/* The ACK comes as the motor starts; the end stop comes as the lock's event. */
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_LOWERING);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_DOWN);
	e = last_event(&t, PROTO_EV_OVERRIDE);
	assert_int_equal(e.arg8, PROTO_OP_UNLOCK);
	assert_int_equal(e.arg16, 0x7d63);
	assert_int_equal(e.user_id, ATTENDANT);
	assert_int_equal(e.key_id, seq);
	assert_int_equal(e.time, lock_time(&t.lock));
	e = last_event(&t, PROTO_EV_UNLOCKED);
	assert_int_equal(e.arg8, PROTO_HOW_OVERRIDE);
	assert_int_equal(e.user_id, ATTENDANT);
	assert_int_equal(e.key_id, seq);
	/* No key was used. */
	assert_int_equal(t.lock.cfg.total_unlocks, total);

	assert_int_equal(remote(&t, PROTO_OP_LOCK, TEST_NOW + 600), PROTO_OK);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_UP);
	e = last_event(&t, PROTO_EV_LOCKED);
	assert_int_equal(e.arg8, PROTO_HOW_OVERRIDE);
	assert_int_equal(e.key_id, t.site.seq);
	assert_int_equal(last_event(&t, PROTO_EV_OVERRIDE).arg8, PROTO_OP_LOCK);
	assert_int_equal(test_lock_count_events(&t, PROTO_EV_OVERRIDE), 2);
	/* The log is evidence that survives a reboot. */
	assert_int_equal(test_lock_reboot(&t), 0);
	assert_int_equal(test_lock_count_events(&t, PROTO_EV_OVERRIDE), 2);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_UP);
	test_lock_free(&t);
}

/* A barrier already where asked does not move; the override is still taken and logged. */
static void test_remote_already_there(void **state)
{
	struct test_lock t;
	unsigned locked;

	(void)state;
	test_lock_init_ready(&t);
	locked = test_lock_count_events(&t, PROTO_EV_LOCKED);
	assert_int_equal(remote(&t, PROTO_OP_LOCK, PROTO_TIME_NONE_AFTER), PROTO_OK);
	assert_still(&t, PROTO_BARRIER_UP);
	assert_int_equal(test_lock_count_events(&t, PROTO_EV_OVERRIDE), 1);
	assert_int_equal(test_lock_count_events(&t, PROTO_EV_LOCKED), locked);
	test_lock_free(&t);
}

/* A frame signed by another key, or with any signed byte changed, moves nothing. */
static void test_remote_bad_signature_refused(void **state)
{
	struct test_lock t;
	struct test_site other;
	union proto_mgmt_payload p = remote_payload(PROTO_OP_UNLOCK, PROTO_TIME_NONE_AFTER);
	uint8_t frame[PROTO_FRAME_MAX], bad[PROTO_FRAME_MAX];
	struct snapshot s;
	size_t n, i;

	(void)state;
	test_lock_init_ready(&t);
	test_site_init(&other, TEST_SITE_ID);
	n = test_site_mgmt(&other, PROTO_MGMT_REMOTE_OPERATE, TEST_SPOT_ID, 50, &p, frame,
			   sizeof(frame));
	snapshot_take(&t, &s);
	assert_int_equal(send_frame(&t, frame, n), PROTO_ERROR);
	assert_int_equal(t.reply.u.error.code, PROTO_E_SITE_SIG);
	assert_still(&t, PROTO_BARRIER_UP);
	snapshot_check(&t, &s, true);
	/* The site's own frame, each byte flipped in turn (but the unsigned tag). */
	n = test_site_mgmt(&t.site, PROTO_MGMT_REMOTE_OPERATE, TEST_SPOT_ID, t.site.seq + 1, &p,
			   frame, sizeof(frame));
	for (i = 0; i < n; i++) {
		if (i == 2)
			continue;
		memcpy(bad, frame, n);
		bad[i] ^= 0x01;
		assert_int_equal(send_frame(&t, bad, n), PROTO_ERROR);
		assert_still(&t, PROTO_BARRIER_UP);
		snapshot_check(&t, &s, true);
	}
	snapshot_free(&s);
	assert_int_equal(test_lock_count_events(&t, PROTO_EV_OVERRIDE), 0);
	/* The unflipped frame is good. */
	assert_int_equal(send_frame(&t, frame, n), PROTO_MGMT_ACK);
	assert_int_equal(t.reply.u.ack.result, PROTO_OK);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_DOWN);
	test_site_free(&other);
	test_lock_free(&t);
}

/* For another spot, or a sequence already used: a signed refusal, and nothing moves. */
static void test_remote_other_spot_or_replay_refused(void **state)
{
	struct test_lock t;
	union proto_mgmt_payload p = remote_payload(PROTO_OP_UNLOCK, PROTO_TIME_NONE_AFTER);
	uint8_t frame[PROTO_FRAME_MAX];
	struct snapshot s;
	size_t n;

	(void)state;
	test_lock_init_ready(&t);
	snapshot_take(&t, &s);
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_REMOTE_OPERATE, TEST_SPOT_ID + 1, 0, &p),
			 PROTO_E_TARGET);
	assert_still(&t, PROTO_BARRIER_UP);
	snapshot_check(&t, &s, true); /* not even a MGMT event */
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_REMOTE_OPERATE, PROTO_TARGET_ALL, 0, &p),
			 PROTO_E_TARGET);
	snapshot_check(&t, &s, true);
	snapshot_free(&s);

	/* Applied once, then the same frame again: stale, and the barrier stays put. */
	n = test_site_mgmt(&t.site, PROTO_MGMT_REMOTE_OPERATE, TEST_SPOT_ID, 0, &p, frame,
			   sizeof(frame));
	assert_int_equal(send_frame(&t, frame, n), PROTO_MGMT_ACK);
	assert_int_equal(t.reply.u.ack.result, PROTO_OK);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_DOWN);
	p = remote_payload(PROTO_OP_LOCK, PROTO_TIME_NONE_AFTER);
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_REMOTE_OPERATE, TEST_SPOT_ID, 0, &p),
			 PROTO_OK);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_UP);
	snapshot_take(&t, &s);
	assert_int_equal(send_frame(&t, frame, n), PROTO_MGMT_ACK);
	assert_int_equal(t.reply.u.ack.result, PROTO_E_STALE);
	assert_still(&t, PROTO_BARRIER_UP);
	snapshot_check(&t, &s, true);
	/* An older sequence than the newest applied is stale too. */
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_REMOTE_OPERATE, TEST_SPOT_ID,
					t.site.seq - 1, &p), PROTO_E_STALE);
	snapshot_check(&t, &s, true);
	snapshot_free(&s);
	assert_int_equal(test_lock_count_events(&t, PROTO_EV_OVERRIDE), 2);
	test_lock_free(&t);
}

/* The override never raises the barrier onto a car, and backs off from one that comes. */
static void test_remote_raise_onto_car_refused(void **state)
{
	struct test_lock t;
	struct snapshot s;

	(void)state;
	test_lock_init_ready(&t);
	assert_int_equal(remote(&t, PROTO_OP_UNLOCK, PROTO_TIME_NONE_AFTER), PROTO_OK);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_DOWN);
	sim_hw_set_car(&t.tp.hw, true);
	snapshot_take(&t, &s);
	assert_int_equal(remote(&t, PROTO_OP_LOCK, PROTO_TIME_NONE_AFTER), PROTO_E_OCCUPIED);
	assert_still(&t, PROTO_BARRIER_DOWN);
	snapshot_check(&t, &s, false); /* a MGMT event with the refusal, nothing else */
	snapshot_free(&s);
	assert_int_equal(last_event(&t, PROTO_EV_MGMT).arg16, PROTO_E_OCCUPIED);
	assert_int_equal(test_lock_count_events(&t, PROTO_EV_OVERRIDE), 1);

	/* A car that rolls under the rising barrier stops it; it goes down again. */
	sim_hw_set_car(&t.tp.hw, false);
	lock_tick(&t.lock);
	test_lock_run(&t, 10000);
	assert_int_equal(remote(&t, PROTO_OP_UNLOCK, PROTO_TIME_NONE_AFTER), PROTO_OK);
	test_lock_run(&t, 10000);
	assert_int_equal(remote(&t, PROTO_OP_LOCK, PROTO_TIME_NONE_AFTER), PROTO_OK);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_RAISING);
	test_port_advance(&t.tp, 60);
	sim_hw_set_car(&t.tp.hw, true);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_DOWN);
	test_lock_free(&t);
}

static void test_remote_busy_while_moving(void **state)
{
	struct test_lock t;

	(void)state;
	test_lock_init_ready(&t);
	assert_int_equal(remote(&t, PROTO_OP_UNLOCK, PROTO_TIME_NONE_AFTER), PROTO_OK);
	assert_true(t.lock.motion.active);
	assert_int_equal(remote(&t, PROTO_OP_LOCK, PROTO_TIME_NONE_AFTER), PROTO_E_BUSY);
	assert_int_equal(t.lock.cfg.mgmt_seq, t.site.seq - 1); /* refused: not applied */
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(test_lock_count_events(&t, PROTO_EV_OVERRIDE), 1);
	test_lock_free(&t);
}

/* A late override does nothing: past not_after, or not_after with no clock to judge it. */
static void test_remote_expired_refused(void **state)
{
	struct test_lock t;
	union proto_mgmt_payload p = remote_payload(PROTO_OP_UNLOCK, TEST_NOW - 1);
	struct snapshot s;
	size_t n;

	(void)state;
	test_lock_init_ready(&t);
	snapshot_take(&t, &s);
	assert_int_equal(remote(&t, PROTO_OP_UNLOCK, TEST_NOW - 1), PROTO_E_EXPIRED);
	assert_still(&t, PROTO_BARRIER_UP);
	snapshot_check(&t, &s, false);
	snapshot_free(&s);
	assert_int_equal(remote(&t, PROTO_OP_UNLOCK, lock_time(&t.lock)), PROTO_OK);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_DOWN);
	test_lock_free(&t);

	/* A lock that was never given the time. */
	test_lock_init(&t);
	n = test_frame_provision(TEST_SITE_ID, TEST_SPOT_ID, t.site.pub, t.frame, sizeof(t.frame));
	assert_int_equal(send_frame(&t, t.frame, n), PROTO_INFO);
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_REMOTE_OPERATE, TEST_SPOT_ID, 0, &p),
			 PROTO_E_TIME_UNSET);
	assert_still(&t, PROTO_BARRIER_UP);
	p.remote.not_after = PROTO_TIME_NONE_AFTER;
	assert_int_equal(test_lock_mgmt(&t, PROTO_MGMT_REMOTE_OPERATE, TEST_SPOT_ID, 0, &p),
			 PROTO_OK);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_DOWN);
	test_lock_free(&t);
}

/* An override retries a jammed barrier, and a jam it meets is logged as its own. */
static void test_remote_jam_logged(void **state)
{
	struct test_lock t;
	struct proto_event e;

	(void)state;
	test_lock_init_ready(&t);
	sim_hw_set_jam(&t.tp.hw, true);
	assert_int_equal(remote(&t, PROTO_OP_UNLOCK, PROTO_TIME_NONE_AFTER), PROTO_OK);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_JAMMED);
	e = last_event(&t, PROTO_EV_JAMMED);
	assert_int_equal(e.arg8, PROTO_OP_UNLOCK);
	assert_int_equal(e.user_id, ATTENDANT);
	assert_int_equal(e.key_id, t.site.seq);
	sim_hw_set_jam(&t.tp.hw, false);
	assert_int_equal(remote(&t, PROTO_OP_UNLOCK, PROTO_TIME_NONE_AFTER), PROTO_OK);
	test_lock_run(&t, 10000);
	assert_int_equal(t.lock.barrier, PROTO_BARRIER_DOWN);
	test_lock_free(&t);
}

/* ---- a power cut during an override ---- */

/* The flash operations of one dry run: each one's length (0 for an erase). */
struct cut_log {
	unsigned count;
	size_t len[OPS_MAX];
};

static struct cut_log *cut_recording;

static int cut_rec_write(void *ctx, uint32_t addr, const uint8_t *buf, size_t len)
{
	struct test_port *tp = ctx;
	uint64_t before = tp->hw.flash_writes;
	int r = sim_hw_flash_write(&tp->hw, addr, buf, len);

	if (cut_recording != NULL && tp->hw.flash_writes != before &&
	    cut_recording->count < OPS_MAX)
		cut_recording->len[cut_recording->count++] = len;
	return r;
}

static int cut_rec_erase(void *ctx, uint32_t page)
{
	struct test_port *tp = ctx;
	uint64_t before = tp->hw.flash_writes;
	int r = sim_hw_flash_erase(&tp->hw, page);

	if (cut_recording != NULL && tp->hw.flash_writes != before &&
	    cut_recording->count < OPS_MAX)
		cut_recording->len[cut_recording->count++] = 0;
	return r;
}

/* The lock as prepared: flash, hardware and clock, and what it held then. */
struct cut_rig {
	struct test_lock t;
	uint8_t *flash;
	struct sim_hw hw;
	uint64_t now_ms;
	uint32_t seq;    /* mgmt_seq before the override */
	uint32_t total;
	uint8_t creds;
	unsigned overrides;
	uint8_t frame[PROTO_FRAME_MAX]; /* the override, sequence seq + 1 */
	size_t frame_len;
};

static void cut_restore(struct cut_rig *r)
{
	struct test_port *tp = &r->t.tp;

	memcpy(tp->flash, r->flash, FLASH_BYTES(&r->t));
	tp->hw = r->hw;
	tp->now_ms = r->now_ms;
	assert_int_equal(test_lock_reboot(&r->t), 0);
}

/* Delivers the override and runs the motor; the ACK's result, or -1 for no ACK. */
static int cut_op(struct cut_rig *r)
{
	int type;

	test_lock_send(&r->t, 0, r->frame, r->frame_len);
	type = test_lock_next(&r->t, 0, false);
	test_lock_run(&r->t, 10000);
	return type == PROTO_MGMT_ACK ? r->t.reply.u.ack.result : -1;
}

/*
 * After the cut and a reboot: wholly applied (sequence stored, override logged) or not
 * at all as far as the sequence goes; keys and counts untouched; the server's resend
 * (it saw no ACK) is taken, or answered again without moving anything; the lock goes
 * on working.
 */
static void cut_check(struct cut_rig *r, int result)
{
	struct test_lock *t = &r->t;
	bool applied = t->lock.cfg.mgmt_seq == r->seq + 1;
	unsigned overrides = test_lock_count_events(t, PROTO_EV_OVERRIDE);
	int resend;

	assert_true(applied || t->lock.cfg.mgmt_seq == r->seq);
	assert_true(overrides == r->overrides || overrides == r->overrides + 1);
	if (applied || result == PROTO_OK)
		assert_int_equal(overrides, r->overrides + 1); /* the change before the sequence */
	assert_int_equal(t->lock.creds.count, r->creds);
	assert_int_equal(t->lock.cfg.total_unlocks, r->total);
	assert_false(t->lock.halted);
	/* Applied: the resend is answered again and moves nothing; else it is taken now. */
	overrides = test_lock_count_events(t, PROTO_EV_OVERRIDE);
	resend = cut_op(r);
	assert_int_equal(resend, PROTO_OK);
	if (applied)
		assert_int_equal(test_lock_count_events(t, PROTO_EV_OVERRIDE), overrides);
	else
		assert_int_equal(t->lock.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(t->lock.cfg.mgmt_seq, r->seq + 1);
	/* Whatever the barrier did, the next override brings it down and up again. */
	assert_int_equal(remote(t, PROTO_OP_UNLOCK, PROTO_TIME_NONE_AFTER), PROTO_OK);
	test_lock_run(t, 10000);
	assert_int_equal(t->lock.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(remote(t, PROTO_OP_LOCK, PROTO_TIME_NONE_AFTER), PROTO_OK);
	test_lock_run(t, 10000);
	assert_int_equal(t->lock.barrier, PROTO_BARRIER_UP);
}

static void test_remote_power_cut_at_every_write(void **state)
{
	struct cut_rig *r = calloc(1, sizeof(*r));
	union proto_mgmt_payload p = remote_payload(PROTO_OP_UNLOCK, PROTO_TIME_NONE_AFTER);
	struct test_user u;
	struct cut_log log;
	unsigned n, cuts = 0;
	size_t k;

	(void)state;
	assert_non_null(r);
	test_lock_init_ready(&r->t);
	r->t.tp.port.flash_write = cut_rec_write;
	r->t.tp.port.flash_erase = cut_rec_erase;
	test_user_init(&u, 1001);
	assert_int_equal(install(&r->t, &u, KEY_A, 3), PROTO_OK);
	test_user_free(&u);
	test_port_drain(&r->t.tp);
	r->flash = malloc(FLASH_BYTES(&r->t));
	assert_non_null(r->flash);
	memcpy(r->flash, r->t.tp.flash, FLASH_BYTES(&r->t));
	r->hw = r->t.tp.hw;
	r->now_ms = r->t.tp.now_ms;
	r->seq = r->t.lock.cfg.mgmt_seq;
	r->total = r->t.lock.cfg.total_unlocks;
	r->creds = r->t.lock.creds.count;
	r->overrides = test_lock_count_events(&r->t, PROTO_EV_OVERRIDE);
	r->frame_len = test_site_mgmt(&r->t.site, PROTO_MGMT_REMOTE_OPERATE, TEST_SPOT_ID,
				      r->seq + 1, &p, r->frame, sizeof(r->frame));

	/* A dry run counts the writes: the event, the sequence, the MGMT event, the end stop. */
	cut_restore(r);
	memset(&log, 0, sizeof(log));
	cut_recording = &log;
	assert_int_equal(cut_op(r), PROTO_OK);
	cut_recording = NULL;
	assert_true(log.count >= 4 && log.count < OPS_MAX);
	for (n = 1; n <= log.count; n++) {
		for (k = 0; k <= log.len[n - 1]; k++) {
			int result;

			cut_restore(r);
			r->t.site.seq = r->seq + 1; /* the resend and the next ones follow it */
			sim_hw_arm_cut(&r->t.tp.hw, n, k);
			result = cut_op(r);
			assert_false(r->t.tp.hw.powered);
			assert_int_equal(test_lock_reboot(&r->t), 0);
			cut_check(r, result);
			cuts++;
		}
	}
	assert_true(cuts >= log.count);
	free(r->flash);
	test_lock_free(&r->t);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_flipped_bit0_refused),
		cmocka_unit_test(test_every_flipped_bit7_refused),
		cmocka_unit_test(test_truncated_or_oversized_refused),
		cmocka_unit_test(test_other_site_key_refused),
		cmocka_unit_test(test_signed_for_other_site_refused),
		cmocka_unit_test(test_unknown_mtype_refused),
		cmocka_unit_test(test_replay_answered_again_or_stale),
		cmocka_unit_test(test_config_without_message_id_loads),
		cmocka_unit_test(test_older_or_equal_seq_stale_newer_works),
		cmocka_unit_test(test_wrong_target_refused),
		cmocka_unit_test(test_target_all_for_revoke_only),
		cmocka_unit_test(test_revoke_serial_apart_from_mgmt_seq),
		cmocka_unit_test(test_newer_revocation_list_replaces_old),
		cmocka_unit_test(test_revoke_removes_named_credentials),
		cmocka_unit_test(test_older_revocation_serial_stale),
		cmocka_unit_test(test_install_of_revoked_key_refused),
		cmocka_unit_test(test_time_never_goes_backwards),
		cmocka_unit_test(test_set_time_logs_time_set),
		cmocka_unit_test(test_time_never_goes_back_across_reboot),
		cmocka_unit_test(test_set_lockout_stored_and_survives_reboot),
		cmocka_unit_test(test_set_lockout_bad_value_refused),
		cmocka_unit_test(test_provision_twice_refused),
		cmocka_unit_test(test_mgmt_before_provisioning_refused),
		cmocka_unit_test(test_reprovision_by_site_key_moves_lock),
		cmocka_unit_test(test_reprovision_same_key_keeps_numbering),
		cmocka_unit_test(test_reprovision_by_other_key_refused),
		cmocka_unit_test(test_every_ack_signed_by_device_key),
		cmocka_unit_test(test_table_full_at_64),
		cmocka_unit_test(test_reinstall_keeps_use_count),
		cmocka_unit_test(test_remote_unlock_then_lock),
		cmocka_unit_test(test_remote_already_there),
		cmocka_unit_test(test_remote_bad_signature_refused),
		cmocka_unit_test(test_remote_other_spot_or_replay_refused),
		cmocka_unit_test(test_remote_raise_onto_car_refused),
		cmocka_unit_test(test_remote_busy_while_moving),
		cmocka_unit_test(test_remote_expired_refused),
		cmocka_unit_test(test_remote_jam_logged),
		cmocka_unit_test(test_remote_power_cut_at_every_write),
	};

	return cmocka_run_group_tests_name("lock-mgmt", tests, NULL, NULL);
}
