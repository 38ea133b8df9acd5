/*
 * test-lock.c: the in-process lock driver; see test-lock.h. A broken set-up aborts.
 */
#include "test-lock.h"

#include <stdlib.h>
#include <string.h>

#include "test-must.h"

void test_lock_init(struct test_lock *t)
{
	memset(t, 0, sizeof(*t));
	test_port_init_default(&t->tp);
	test_site_init(&t->site, TEST_SITE_ID);
	t->mtu = PROTO_MTU_MIN;
	must(lock_boot(&t->lock, &t->tp.port) == 0);
	lock_connect(&t->lock, 0);
	lock_connect(&t->lock, 1);
}

void test_lock_init_ready(struct test_lock *t)
{
	union proto_mgmt_payload p;
	size_t n;

	test_lock_init(t);
	n = test_frame_provision(TEST_SITE_ID, TEST_SPOT_ID, t->site.pub, t->frame,
				 sizeof(t->frame));
	must(test_lock_send(t, 0, t->frame, n) == 0);
	must(test_lock_next(t, 0, false) == PROTO_INFO);
	p.time = TEST_NOW;
	must(test_lock_mgmt(t, PROTO_MGMT_SET_TIME, TEST_SPOT_ID, 0, &p) == PROTO_OK);
	test_port_drain(&t->tp);
}

void test_lock_free(struct test_lock *t)
{
	test_site_free(&t->site);
	test_port_free(&t->tp);
}

int test_lock_reboot(struct test_lock *t)
{
	int r;

	sim_hw_power_on(&t->tp.hw);
	test_port_drain(&t->tp);
	r = lock_boot(&t->lock, &t->tp.port);
	lock_connect(&t->lock, 0);
	lock_connect(&t->lock, 1);
	return r;
}

int test_lock_send(struct test_lock *t, uint8_t conn, const uint8_t *frame, size_t len)
{
	struct frag_tx tx;
	uint8_t frag[FRAG_PAYLOAD_MAX];
	int n, r = 0;

	must(frag_tx_init(&tx, frame, len, t->mtu) == 0);
	while ((n = frag_tx_next(&tx, frag, sizeof(frag))) > 0)
		r = lock_receive(&t->lock, conn, frag, (size_t)n);
	return r;
}

int test_lock_next(struct test_lock *t, uint8_t conn, bool want_events)
{
	for (;;) {
		t->frame_len = test_port_pop(&t->tp, conn, t->frame, sizeof(t->frame));
		if (t->frame_len == 0)
			return 0;
		memset(&t->reply, 0, sizeof(t->reply));
		must(proto_decode(t->frame, t->frame_len, &t->reply) == 0);
		if (want_events || t->reply.type != PROTO_EVENT)
			return t->reply.type;
	}
}

void test_lock_run(struct test_lock *t, uint32_t max_ms)
{
	uint32_t spent = 0;

	lock_tick(&t->lock);
	while (t->lock.motion.active && spent < max_ms) {
		test_port_advance(&t->tp, 20);
		spent += 20;
		lock_tick(&t->lock);
	}
}

void test_lock_challenge(struct test_lock *t, uint8_t conn, uint8_t nonce[PROTO_NONCE_LEN])
{
	struct proto_msg m;
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_CHALLENGE_REQ;
	m.tag = 3;
	n = test_frame(&m, t->frame, sizeof(t->frame));
	must(test_lock_send(t, conn, t->frame, n) == 0);
	must(test_lock_next(t, conn, false) == PROTO_CHALLENGE);
	memcpy(nonce, t->reply.u.challenge.nonce, PROTO_NONCE_LEN);
}

int test_lock_mgmt(struct test_lock *t, uint8_t mtype, uint32_t target, uint32_t seq,
		   const union proto_mgmt_payload *p)
{
	uint8_t frame[PROTO_FRAME_MAX];
	size_t n = test_site_mgmt(&t->site, mtype, target, seq, p, frame, sizeof(frame));
	int type;

	test_lock_send(t, 0, frame, n);
	type = test_lock_next(t, 0, false);
	if (type == PROTO_MGMT_ACK)
		return t->reply.u.ack.result;
	must(type == PROTO_ERROR);
	return t->reply.u.error.code;
}

int test_lock_install(struct test_lock *t, const struct test_user *u, uint32_t key_id,
		      uint32_t not_before, uint32_t not_after, uint16_t max_unlocks)
{
	union proto_mgmt_payload p;

	p.cred = test_cred(u, key_id, not_before, not_after, max_unlocks, 0);
	return test_lock_mgmt(t, PROTO_MGMT_INSTALL_CRED, TEST_SPOT_ID, 0, &p);
}

/* Sends a prepared OPERATE(_SHARED) frame and waits for its RESULT. */
static int run_operate(struct test_lock *t, size_t n)
{
	int type;

	test_lock_send(t, 0, t->frame, n);
	test_lock_run(t, 10000);
	type = test_lock_next(t, 0, false);
	if (type == PROTO_ERROR)
		return t->reply.u.error.code;
	must(type == PROTO_RESULT);
	return t->reply.u.result.status;
}

int test_lock_operate(struct test_lock *t, const struct test_user *signer, uint32_t user_id,
		      const struct proto_ekey *k, uint8_t op)
{
	uint8_t nonce[PROTO_NONCE_LEN];
	size_t n;

	test_lock_challenge(t, 0, nonce);
	n = test_frame_operate(signer, user_id, k, op, nonce, TEST_SITE_ID, TEST_SPOT_ID, 5,
			       t->frame, sizeof(t->frame));
	return run_operate(t, n);
}

int test_lock_operate_shared(struct test_lock *t, const struct test_user *signer,
			     uint32_t user_id, const struct proto_skey *k, uint8_t op)
{
	uint8_t nonce[PROTO_NONCE_LEN];
	size_t n;

	test_lock_challenge(t, 0, nonce);
	n = test_frame_operate_shared(signer, user_id, k, op, nonce, TEST_SITE_ID, TEST_SPOT_ID,
				      5, t->frame, sizeof(t->frame));
	return run_operate(t, n);
}

unsigned test_lock_count_events(struct test_lock *t, uint8_t kind)
{
	struct proto_event e;
	uint8_t before[PROTO_HASH_LEN];
	unsigned count = 0;
	uint32_t seq;

	for (seq = 1; seq <= t->lock.log.head_seq; seq++)
		if (evlog_read(&t->lock.log, seq, &e, before) == 0 && e.kind == kind)
			count++;
	return count;
}

struct test_lock *test_lock_snapshot(void)
{
	static struct test_lock t;
	static uint8_t *image;
	static size_t len;

	if (image == NULL) {
		struct test_user u;

		test_lock_init_ready(&t);
		test_user_init(&u, 42);
		must(test_lock_install(&t, &u, 9, 0, PROTO_TIME_NONE_AFTER, 3) == PROTO_OK);
		test_user_free(&u);
		len = (size_t)t.tp.hw.page_size * t.tp.hw.pages;
		image = malloc(len);
		must(image != NULL);
		memcpy(image, t.tp.flash, len);
	}
	memcpy(t.tp.flash, image, len);
	must(test_lock_reboot(&t) == 0);
	return &t;
}
