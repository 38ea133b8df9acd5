/*
 * test-evlog.c: the lock's hash-chained event log as a client sees it through LOG_REQ
 * (PROTOCOL.md section 7): signed pages that chain into each other, sequence numbers
 * that survive reboots, a ring that keeps at least the newest 256 events, appends torn
 * by a power cut, and a chain any verifier can recompute from the events alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "../../lib/p256.h"
#include "../../lib/signer.h"
#include "../../lockfw/core/layout.h"
#include "../support/test-lock.h"

struct rig {
	struct test_lock t;
	uint8_t pub[PROTO_PUBKEY_LEN]; /* the lock's device key, from INFO */
	uint8_t nonce[PROTO_CNONCE_LEN];
	struct proto_log page; /* the last page read */
};

static void rig_init(struct rig *r)
{
	struct proto_msg m;
	size_t n;

	memset(r, 0, sizeof(*r));
	test_lock_init_ready(&r->t);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.tag = 1;
	m.u.hello.mtu = PROTO_MTU_MAX;
	n = test_frame(&m, r->t.frame, sizeof(r->t.frame));
	test_lock_send(&r->t, 0, r->t.frame, n);
	assert_int_equal(test_lock_next(&r->t, 0, false), PROTO_INFO);
	memcpy(r->pub, r->t.reply.u.info.device_pub, PROTO_PUBKEY_LEN);
	memset(r->nonce, 0xC3, sizeof(r->nonce));
}

static void rig_free(struct rig *r)
{
	test_lock_free(&r->t);
}

/* One cheap event: the car comes or goes. */
static void toggle_car(struct rig *r)
{
	sim_hw_set_car(&r->t.tp.hw, !r->t.tp.hw.car);
	test_port_advance(&r->t.tp, 1000);
	lock_tick(&r->t.lock);
}

static void add_events(struct rig *r, unsigned n)
{
	while (n-- > 0)
		toggle_car(r);
	test_port_drain(&r->t.tp);
}

/* Reads a LOG page into r->page; the raw frame stays in r->t.frame. */
static void read_page(struct rig *r, uint32_t from, uint8_t max)
{
	struct proto_msg m;
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_LOG_REQ;
	m.tag = 6;
	memcpy(m.u.log_req.nonce, r->nonce, PROTO_CNONCE_LEN);
	m.u.log_req.from_seq = from;
	m.u.log_req.max = max;
	n = test_frame(&m, r->t.frame, sizeof(r->t.frame));
	test_lock_send(&r->t, 0, r->t.frame, n);
	assert_int_equal(test_lock_next(&r->t, 0, false), PROTO_LOG);
	r->page = r->t.reply.u.log;
}

static int check_page(struct rig *r, const struct proto_log *g, uint8_t last[PROTO_HASH_LEN])
{
	return signer_check_log(r->pub, r->nonce, TEST_SITE_ID, TEST_SPOT_ID, g, last);
}

/*
 * Reads every page from `from` to the head, `max` events at a time, checking each page's
 * signature and that it starts where the one before ended. Returns the events read;
 * the first sequence read goes to *first, the chain hash after the last to `last`.
 */
static unsigned read_all(struct rig *r, uint32_t from, uint8_t max, uint32_t *first,
			 uint8_t last[PROTO_HASH_LEN])
{
	uint8_t prev[PROTO_HASH_LEN];
	uint32_t prev_seq = 0;
	unsigned total = 0, i;
	bool started = false;

	for (;;) {
		read_page(r, from, max);
		assert_int_equal(r->page.head_seq, r->t.lock.log.head_seq);
		assert_int_equal(check_page(r, &r->page, last), 0);
		if (r->page.count == 0)
			break;
		if (started)
			assert_memory_equal(r->page.anchor, prev, PROTO_HASH_LEN);
		else
			*first = r->page.ev[0].seq;
		for (i = 0; i < r->page.count; i++) {
			assert_true(r->page.ev[i].seq > prev_seq);
			prev_seq = r->page.ev[i].seq;
		}
		memcpy(prev, last, PROTO_HASH_LEN);
		started = true;
		total += r->page.count;
		from = prev_seq + 1;
	}
	/* The empty page past the head is anchored at the head. */
	if (started)
		assert_memory_equal(r->page.anchor, prev, PROTO_HASH_LEN);
	return total;
}

/* ---- pages ---- */

static void test_pages_verify_and_chain(void **state)
{
	struct rig r;
	uint8_t last[PROTO_HASH_LEN], zero[PROTO_HASH_LEN] = { 0 };
	uint32_t first = 0;

	(void)state;
	rig_init(&r);
	add_events(&r, 40);
	assert_int_equal(read_all(&r, 1, 8, &first, last), r.t.lock.log.head_seq);
	assert_int_equal(first, 1);
	assert_memory_equal(last, r.t.lock.log.head_hash, PROTO_HASH_LEN);
	/* The first page starts from h_0, 32 zero bytes. */
	read_page(&r, 1, 3);
	assert_int_equal(r.page.count, 3);
	assert_memory_equal(r.page.anchor, zero, PROTO_HASH_LEN);
	assert_int_equal(r.page.ev[0].seq, 1);
	assert_int_equal(r.page.ev[0].kind, PROTO_EV_BOOT);
	rig_free(&r);
}

/* Page 2's anchor is page 1's last hash, whatever the page sizes. */
static void test_next_anchor_is_last_hash(void **state)
{
	struct rig r;
	uint8_t last1[PROTO_HASH_LEN], last2[PROTO_HASH_LEN];
	struct proto_log page1;

	(void)state;
	rig_init(&r);
	add_events(&r, 20);
	read_page(&r, 3, 7);
	page1 = r.page;
	assert_int_equal(page1.count, 7);
	assert_int_equal(page1.ev[0].seq, 3);
	assert_int_equal(check_page(&r, &page1, last1), 0);
	read_page(&r, page1.ev[6].seq + 1, 5);
	assert_int_equal(r.page.ev[0].seq, 10);
	assert_memory_equal(r.page.anchor, last1, PROTO_HASH_LEN);
	assert_int_equal(check_page(&r, &r.page, last2), 0);
	/* Pages are signed for the nonce asked with. */
	r.nonce[0] ^= 1;
	assert_int_not_equal(check_page(&r, &r.page, NULL), 0);
	rig_free(&r);
}

static void test_empty_page_anchored_at_head(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	add_events(&r, 3);
	read_page(&r, r.t.lock.log.head_seq + 1, 10);
	assert_int_equal(r.page.count, 0);
	assert_memory_equal(r.page.anchor, r.t.lock.log.head_hash, PROTO_HASH_LEN);
	assert_int_equal(check_page(&r, &r.page, NULL), 0);
	rig_free(&r);
}

static void test_flipped_reply_byte_fails(void **state)
{
	struct rig r;
	uint8_t frame[PROTO_FRAME_MAX];
	size_t n, i;

	(void)state;
	rig_init(&r);
	add_events(&r, 6);
	read_page(&r, 2, 5);
	assert_int_equal(check_page(&r, &r.page, NULL), 0);
	n = r.t.frame_len;
	memcpy(frame, r.t.frame, n);
	for (i = PROTO_HDR_LEN; i < n; i++) {
		struct proto_msg m;

		frame[i] ^= 0x01;
		/* A flip either breaks the frame or the proof; never both survive. */
		if (proto_decode(frame, n, &m) == 0)
			assert_int_not_equal(check_page(&r, &m.u.log, NULL), 0);
		frame[i] ^= 0x01;
	}
	rig_free(&r);
}

static void test_log_req_bad_max_refused(void **state)
{
	struct rig r;
	struct proto_msg m;
	const uint8_t bad[] = { 0, PROTO_LOG_PAGE_MAX + 1, 0xFF };
	uint32_t head;
	size_t i, n;

	(void)state;
	rig_init(&r);
	head = r.t.lock.log.head_seq;
	for (i = 0; i < sizeof(bad); i++) {
		memset(&m, 0, sizeof(m));
		m.type = PROTO_LOG_REQ;
		m.tag = 6;
		m.u.log_req.from_seq = 1;
		m.u.log_req.max = 1;
		n = test_frame(&m, r.t.frame, sizeof(r.t.frame));
		r.t.frame[n - 1] = bad[i]; /* max is the last byte */
		test_lock_send(&r.t, 0, r.t.frame, n);
		assert_int_equal(test_lock_next(&r.t, 0, false), PROTO_ERROR);
		assert_int_equal(r.t.reply.u.error.code, PROTO_E_VALUE);
		assert_int_equal(r.t.reply.u.error.req_type, PROTO_LOG_REQ);
	}
	assert_int_equal(r.t.lock.log.head_seq, head);
	rig_free(&r);
}

/* ---- the chain ---- */

static void test_chain_recomputes_from_events(void **state)
{
	struct rig r;
	uint8_t h[PROTO_HASH_LEN] = { 0 }, buf[PROTO_HASH_LEN + PROTO_EVENT_LEN];
	uint8_t by_hand[PROTO_HASH_LEN], before[PROTO_HASH_LEN];
	struct proto_event e;
	unsigned i;

	(void)state;
	rig_init(&r);
	add_events(&r, 4);
	read_page(&r, 1, PROTO_LOG_PAGE_MAX);
	assert_int_equal(r.page.count, r.t.lock.log.head_seq);
	for (i = 0; i < r.page.count; i++) {
		/* What the lock stored as "before" is the chain so far ... */
		assert_int_equal(evlog_read(&r.t.lock.log, r.page.ev[i].seq, &e, before), 0);
		assert_memory_equal(before, h, PROTO_HASH_LEN);
		/* ... and h_n = SHA-256(h_{n-1} || event), by the library and by hand. */
		memcpy(buf, h, PROTO_HASH_LEN);
		proto_event_encode(buf + PROTO_HASH_LEN, &r.page.ev[i]);
		assert_int_equal(p256_sha256(buf, sizeof(buf), by_hand), 0);
		assert_int_equal(signer_chain_step(h, &r.page.ev[i], h), 0);
		assert_memory_equal(h, by_hand, PROTO_HASH_LEN);
	}
	assert_memory_equal(h, r.t.lock.log.head_hash, PROTO_HASH_LEN);
	/* The same events read again give the same chain. */
	assert_int_equal(test_lock_reboot(&r.t), 0);
	read_page(&r, 1, PROTO_LOG_PAGE_MAX);
	assert_memory_equal(r.page.anchor, (uint8_t[PROTO_HASH_LEN]){ 0 }, PROTO_HASH_LEN);
	for (i = 0; r.page.ev[i].seq < r.t.lock.log.head_seq; i++)
		;
	assert_int_equal(evlog_read(&r.t.lock.log, r.page.ev[i].seq, &e, before), 0);
	assert_memory_equal(before, h, PROTO_HASH_LEN); /* BOOT chains onto the old head */
	rig_free(&r);
}

/* ---- reboots and the ring ---- */

static void test_seq_survives_reboot(void **state)
{
	struct rig r;
	uint8_t last[PROTO_HASH_LEN];
	uint32_t head, first = 0;

	(void)state;
	rig_init(&r);
	add_events(&r, 5);
	head = r.t.lock.log.head_seq;
	assert_int_equal(test_lock_reboot(&r.t), 0);
	assert_int_equal(r.t.lock.log.head_seq, head + 1);
	assert_int_equal(test_lock_reboot(&r.t), 0);
	assert_int_equal(r.t.lock.log.head_seq, head + 2);
	add_events(&r, 1);
	assert_int_equal(test_lock_count_events(&r.t, PROTO_EV_BOOT), 3);
	/* One unbroken chain over both reboots. */
	assert_int_equal(read_all(&r, 1, PROTO_LOG_PAGE_MAX, &first, last), head + 3);
	assert_int_equal(first, 1);
	rig_free(&r);
}

static void test_ring_keeps_newest_256(void **state)
{
	struct rig r;
	uint8_t last[PROTO_HASH_LEN];
	uint32_t head, first = 0, again = 0;
	unsigned kept;

	(void)state;
	rig_init(&r);
	add_events(&r, 500);
	head = r.t.lock.log.head_seq;
	assert_true(head >= 500);
	kept = read_all(&r, 1, PROTO_LOG_PAGE_MAX, &first, last);
	assert_true(kept >= LAYOUT_EVENTS_KEPT);
	assert_int_equal(kept, head - first + 1); /* no hole among those kept */
	assert_true(first > 1);
	/* From seq 1 means from the oldest kept: nothing older is left. */
	read_page(&r, first - 1, 1);
	assert_int_equal(r.page.ev[0].seq, first);
	assert_int_not_equal(evlog_read(&r.t.lock.log, first - 1, &(struct proto_event){ 0 },
					last), 0);
	/* After a reboot the ring is found again, and the chain goes on. */
	assert_int_equal(test_lock_reboot(&r.t), 0);
	assert_int_equal(r.t.lock.log.head_seq, head + 1);
	kept = read_all(&r, 1, PROTO_LOG_PAGE_MAX, &again, last);
	assert_true(kept >= LAYOUT_EVENTS_KEPT);
	assert_true(again >= first);
	assert_memory_equal(last, r.t.lock.log.head_hash, PROTO_HASH_LEN);
	rig_free(&r);
}

/* ---- power cuts ---- */

/* Makes sure the next append is not the first of a flash page (that one erases first). */
static void avoid_page_start(struct rig *r)
{
	while ((r->t.lock.log.next_seq - 1) % r->t.lock.log.per_page == 0)
		add_events(r, 1);
}

/* An append torn at byte `b`: the sequence is burned and the chain spans the gap. */
static void torn_append(size_t b)
{
	struct rig r;
	uint8_t last[PROTO_HASH_LEN];
	struct proto_event e;
	uint32_t head, torn, first = 0;

	rig_init(&r);
	add_events(&r, 3);
	avoid_page_start(&r);
	head = r.t.lock.log.head_seq;
	torn = r.t.lock.log.next_seq;
	sim_hw_arm_cut(&r.t.tp.hw, 1, b);
	toggle_car(&r);
	assert_false(r.t.tp.hw.powered);
	assert_int_equal(r.t.lock.log.head_seq, head);
	assert_int_equal(test_lock_next(&r.t, 0, true), 0); /* no EVENT for what was not logged */
	assert_int_equal(test_lock_reboot(&r.t), 0);
	assert_int_equal(r.t.lock.log.head_seq, torn + 1); /* BOOT: past the torn one */
	assert_int_not_equal(evlog_read(&r.t.lock.log, torn, &e, last), 0);
	add_events(&r, 2);
	assert_int_equal(read_all(&r, 1, 4, &first, last), r.t.lock.log.head_seq - 1);
	assert_memory_equal(last, r.t.lock.log.head_hash, PROTO_HASH_LEN);
	rig_free(&r);
}

static void test_torn_append_burns_seq(void **state)
{
	const size_t bytes[] = { 0, 1, 4, 19, 20, 33, 51, 52, 53, EVLOG_SLOT_LEN - 1 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++)
		torn_append(bytes[i]);
}

static void test_torn_page_erase_keeps_chain(void **state)
{
	struct rig r;
	uint8_t last[PROTO_HASH_LEN];
	uint32_t head, first = 0;

	(void)state;
	rig_init(&r);
	add_events(&r, 1);
	while ((r.t.lock.log.next_seq - 1) % r.t.lock.log.per_page != 0)
		add_events(&r, 1);
	head = r.t.lock.log.head_seq;
	sim_hw_arm_cut(&r.t.tp.hw, 1, 0); /* the page erase */
	toggle_car(&r);
	assert_false(r.t.tp.hw.powered);
	assert_int_equal(test_lock_reboot(&r.t), 0);
	assert_true(r.t.lock.log.head_seq > head);
	add_events(&r, 3);
	assert_true(read_all(&r, 1, PROTO_LOG_PAGE_MAX, &first, last) >= head + 4);
	assert_memory_equal(last, r.t.lock.log.head_hash, PROTO_HASH_LEN);
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages_verify_and_chain),
		cmocka_unit_test(test_next_anchor_is_last_hash),
		cmocka_unit_test(test_empty_page_anchored_at_head),
		cmocka_unit_test(test_flipped_reply_byte_fails),
		cmocka_unit_test(test_log_req_bad_max_refused),
		cmocka_unit_test(test_chain_recomputes_from_events),
		cmocka_unit_test(test_seq_survives_reboot),
		cmocka_unit_test(test_ring_keeps_newest_256),
		cmocka_unit_test(test_torn_append_burns_seq),
		cmocka_unit_test(test_torn_page_erase_keeps_chain),
	};

	return cmocka_run_group_tests_name("evlog", tests, NULL, NULL);
}
