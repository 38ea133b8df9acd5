/*
 * test-frag.c: unit tests of lockfw/proto/frag.c: fragmenting at every ATT MTU and
 * reassembling, and the receiver's refusals (sequence, missing FIRST, bad totals, excess
 * bytes, oversize fragments), each of which must drop the partial frame.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../lockfw/proto/frag.h"

static uint8_t frame[PROTO_FRAME_MAX];

static int setup_frame(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7 + (i >> 8) + 1);
	return 0;
}

/* Fragments counted as the spec says: the first carries mtu-6 bytes, the rest mtu-4. */
static size_t expected_fragments(size_t len, unsigned mtu)
{
	size_t first = mtu - 3 - 3, next = mtu - 3 - 1;

	if (len <= first)
		return 1;
	return 1 + (len - first + next - 1) / next;
}

/* Sends frame[0..len) through frag_tx at `mtu` into frag_rx and checks every fragment. */
static void roundtrip(size_t len, unsigned mtu)
{
	struct frag_tx tx;
	struct frag_rx rx;
	uint8_t out[FRAG_PAYLOAD_MAX];
	size_t count = 0;
	int n, done = 0;

	assert_int_equal(frag_tx_init(&tx, frame, len, (uint16_t)mtu), 0);
	frag_rx_reset(&rx);
	while ((n = frag_tx_next(&tx, out, sizeof(out))) > 0) {
		bool last;

		assert_true((size_t)n <= mtu - 3);
		assert_false(done);
		assert_int_equal(out[0] & FRAG_SEQ_MASK, count % 64);
		assert_int_equal(!!(out[0] & FRAG_FIRST), count == 0);
		if (count == 0)
			assert_int_equal(wire_load_u16(out + 1), len);
		last = (out[0] & FRAG_LAST) != 0;
		done = frag_rx_feed(&rx, out, (size_t)n);
		assert_int_equal(done, last ? 1 : 0);
		count++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(done, 1);
	assert_int_equal(count, expected_fragments(len, mtu));
	assert_int_equal(rx.total, len);
	assert_memory_equal(rx.buf, frame, len);
	assert_false(rx.active);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 0); /* stays finished */
}

static void test_roundtrip_every_mtu(void **state)
{
	unsigned mtu;

	(void)state;
	for (mtu = PROTO_MTU_MIN; mtu <= PROTO_MTU_MAX; mtu++) {
		size_t p = mtu - 3;
		/* around the end of the first fragment and of the second, and sizes of note */
		size_t lens[] = { 1, 2, p - 4, p - 3, p - 2, 2 * p - 5, 2 * p - 4, 2 * p - 3,
				  100, 255, 256, 500, 777, 1000, 1023, PROTO_FRAME_MAX };
		size_t i;

		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
			roundtrip(lens[i], mtu);
	}
}

static void test_roundtrip_every_length(void **state)
{
	static const unsigned mtus[] = { 23, 24, 64, 185, 246, 247 };
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++)
		for (len = 1; len <= PROTO_FRAME_MAX; len++)
			roundtrip(len, mtus[i]);
}

static void test_single_fragment_bytes(void **state)
{
	static const uint8_t f[] = { 0x01, 0x01, 0x2A, 0x00, 0xF7 };
	static const uint8_t want[] = { 0xC0, 0x00, 0x05, 0x01, 0x01, 0x2A, 0x00, 0xF7 };
	struct frag_tx tx;
	uint8_t out[FRAG_PAYLOAD_MAX];

	(void)state;
	assert_int_equal(frag_tx_init(&tx, f, sizeof(f), 23), 0);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 0);
}

static void test_fragment_bytes_mtu23(void **state)
{
	struct frag_tx tx;
	uint8_t out[FRAG_PAYLOAD_MAX];

	(void)state;
	assert_int_equal(frag_tx_init(&tx, frame, 40, 23), 0);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 20);
	assert_int_equal(out[0], 0x80);
	assert_int_equal(out[1], 0x00);
	assert_int_equal(out[2], 40);
	assert_memory_equal(out + 3, frame, 17);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 20);
	assert_int_equal(out[0], 0x01);
	assert_memory_equal(out + 1, frame + 17, 19);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 5);
	assert_int_equal(out[0], 0x42);
	assert_memory_equal(out + 1, frame + 36, 4);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 0);
}

static void test_tx_mtu_clamped(void **state)
{
	struct frag_tx tx;
	uint8_t out[FRAG_PAYLOAD_MAX];

	(void)state;
	assert_int_equal(frag_tx_init(&tx, frame, 1000, 0), 0);
	assert_int_equal(tx.payload_max, PROTO_MTU_MIN - 3);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), PROTO_MTU_MIN - 3);
	assert_int_equal(frag_tx_init(&tx, frame, 1000, 22), 0);
	assert_int_equal(tx.payload_max, PROTO_MTU_MIN - 3);
	assert_int_equal(frag_tx_init(&tx, frame, 1000, 248), 0);
	assert_int_equal(tx.payload_max, FRAG_PAYLOAD_MAX);
	assert_int_equal(frag_tx_init(&tx, frame, 1000, 0xFFFF), 0);
	assert_int_equal(tx.payload_max, FRAG_PAYLOAD_MAX);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), FRAG_PAYLOAD_MAX);
}

static void test_tx_bad_length(void **state)
{
	struct frag_tx tx;
	uint8_t out[FRAG_PAYLOAD_MAX];

	(void)state;
	assert_int_equal(frag_tx_init(&tx, frame, 0, 23), -PROTO_E_LENGTH);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 0);
	assert_int_equal(frag_tx_init(&tx, frame, PROTO_FRAME_MAX + 1, 23), -PROTO_E_LENGTH);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 0);
	assert_int_equal(frag_tx_init(&tx, frame, SIZE_MAX, 23), -PROTO_E_LENGTH);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 0);
	assert_int_equal(frag_tx_init(&tx, NULL, 5, 23), -PROTO_E_LENGTH);
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 0);
}

static void test_tx_small_buffer(void **state)
{
	struct frag_tx tx;
	uint8_t out[FRAG_PAYLOAD_MAX + 1];
	size_t cap;

	(void)state;
	assert_int_equal(frag_tx_init(&tx, frame, 300, 247), 0);
	memset(out, 0xEE, sizeof(out));
	for (cap = 0; cap < FRAG_PAYLOAD_MAX; cap++) {
		assert_int_equal(frag_tx_next(&tx, out, cap), -PROTO_E_LENGTH);
		assert_int_equal(tx.off, 0);
		assert_int_equal(tx.seq, 0);
	}
	assert_int_equal(out[0], 0xEE);
	assert_int_equal(frag_tx_next(&tx, NULL, 1000), -PROTO_E_LENGTH);
	assert_int_equal(frag_tx_next(&tx, out, FRAG_PAYLOAD_MAX), FRAG_PAYLOAD_MAX);
	assert_int_equal(out[0], FRAG_FIRST);
	assert_int_equal(out[FRAG_PAYLOAD_MAX], 0xEE);
	/* 300 - 241 = 59 left: the second fragment needs exactly 60 bytes. */
	assert_int_equal(frag_tx_next(&tx, out, 59), -PROTO_E_LENGTH);
	assert_int_equal(frag_tx_next(&tx, out, 60), 60);
	assert_int_equal(out[0], FRAG_LAST | 1);
	assert_int_equal(frag_tx_next(&tx, out, 0), 0);
}

/* ---- receiver refusals */

static void feed_ok(struct frag_rx *rx, const uint8_t *f, size_t len, int want)
{
	assert_int_equal(frag_rx_feed(rx, f, len), want);
}

/* After a refusal nothing of the partial frame may survive. */
static void assert_dropped(const struct frag_rx *rx)
{
	assert_false(rx->active);
	assert_int_equal(rx->got, 0);
	assert_int_equal(rx->total, 0);
	assert_int_equal(rx->next_seq, 0);
}

/* A FIRST fragment announcing `total` and carrying `n` bytes of frame. */
static size_t first(uint8_t *out, uint8_t ctl, uint16_t total, size_t n)
{
	out[0] = ctl;
	wire_store_u16(out + 1, total);
	memcpy(out + 3, frame, n);
	return 3 + n;
}

static size_t next(uint8_t *out, uint8_t ctl, size_t from, size_t n)
{
	out[0] = ctl;
	memcpy(out + 1, frame + from, n);
	return 1 + n;
}

static void test_rx_out_of_sequence(void **state)
{
	struct frag_rx rx;
	uint8_t f[FRAG_PAYLOAD_MAX];
	size_t n;

	(void)state;
	frag_rx_reset(&rx);
	n = first(f, FRAG_FIRST, 50, 17);
	feed_ok(&rx, f, n, 0);
	n = next(f, 2, 17, 19); /* 1 was expected */
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	assert_dropped(&rx);
	/* The right continuation is now refused too: its frame is gone. */
	n = next(f, 1, 17, 19);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	assert_dropped(&rx);

	/* A repeated fragment is out of sequence as well. */
	n = first(f, FRAG_FIRST, 50, 17);
	feed_ok(&rx, f, n, 0);
	n = next(f, 1, 17, 19);
	feed_ok(&rx, f, n, 0);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	assert_dropped(&rx);
}

static void test_rx_missing_first(void **state)
{
	struct frag_rx rx;
	uint8_t f[FRAG_PAYLOAD_MAX];
	size_t n;

	(void)state;
	frag_rx_reset(&rx);
	n = next(f, 0, 0, 10);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	n = next(f, FRAG_LAST | 0, 0, 10);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	assert_dropped(&rx);

	/* After a complete frame, a stray continuation has no FIRST either. */
	n = first(f, FRAG_FIRST | FRAG_LAST, 5, 5);
	feed_ok(&rx, f, n, 1);
	n = next(f, 1, 0, 3);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	assert_dropped(&rx);
}

static void test_rx_first_with_sequence(void **state)
{
	struct frag_rx rx;
	uint8_t f[FRAG_PAYLOAD_MAX];
	size_t n;

	(void)state;
	frag_rx_reset(&rx);
	n = first(f, FRAG_FIRST | FRAG_LAST | 1, 5, 5);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	assert_dropped(&rx);
}

static void test_rx_bad_total(void **state)
{
	struct frag_rx rx;
	uint8_t f[FRAG_PAYLOAD_MAX];
	size_t n;

	(void)state;
	frag_rx_reset(&rx);
	n = first(f, FRAG_FIRST, PROTO_FRAME_MAX + 1, 17);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_LENGTH);
	assert_dropped(&rx);
	n = first(f, FRAG_FIRST, 0xFFFF, 17);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_LENGTH);
	n = first(f, FRAG_FIRST | FRAG_LAST, 0, 1);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_LENGTH);
	assert_dropped(&rx);
	/* PROTO_FRAME_MAX itself is fine. */
	n = first(f, FRAG_FIRST, PROTO_FRAME_MAX, 17);
	feed_ok(&rx, f, n, 0);
	assert_true(rx.active);
}

static void test_rx_excess_bytes(void **state)
{
	struct frag_rx rx;
	uint8_t f[FRAG_PAYLOAD_MAX];
	size_t n;

	(void)state;
	frag_rx_reset(&rx);
	n = first(f, FRAG_FIRST | FRAG_LAST, 5, 6);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_LENGTH);
	assert_dropped(&rx);

	n = first(f, FRAG_FIRST, 20, 17);
	feed_ok(&rx, f, n, 0);
	n = next(f, FRAG_LAST | 1, 17, 4); /* 3 left */
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_LENGTH);
	assert_dropped(&rx);
}

static void test_rx_last_flag_must_match(void **state)
{
	struct frag_rx rx;
	uint8_t f[FRAG_PAYLOAD_MAX];
	size_t n;

	(void)state;
	frag_rx_reset(&rx);
	/* complete without LAST */
	n = first(f, FRAG_FIRST, 5, 5);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	assert_dropped(&rx);
	/* LAST before complete */
	n = first(f, FRAG_FIRST | FRAG_LAST, 30, 17);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	assert_dropped(&rx);
	n = first(f, FRAG_FIRST, 30, 17);
	feed_ok(&rx, f, n, 0);
	n = next(f, FRAG_LAST | 1, 17, 12);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	assert_dropped(&rx);
}

static void test_rx_fragment_size(void **state)
{
	struct frag_rx rx;
	uint8_t f[FRAG_PAYLOAD_MAX + 1];
	size_t n;

	(void)state;
	frag_rx_reset(&rx);
	/* FRAG_PAYLOAD_MAX bytes is the largest accepted, at any MTU */
	n = first(f, FRAG_FIRST | FRAG_LAST, FRAG_PAYLOAD_MAX - 3, FRAG_PAYLOAD_MAX - 3);
	assert_int_equal(n, FRAG_PAYLOAD_MAX);
	feed_ok(&rx, f, n, 1);
	n = first(f, FRAG_FIRST | FRAG_LAST, FRAG_PAYLOAD_MAX - 2, FRAG_PAYLOAD_MAX - 2);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_LENGTH);
	assert_dropped(&rx);

	n = first(f, FRAG_FIRST, 600, FRAG_PAYLOAD_MAX - 3);
	feed_ok(&rx, f, n, 0);
	n = next(f, 1, FRAG_PAYLOAD_MAX - 3, FRAG_PAYLOAD_MAX);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_LENGTH);
	assert_dropped(&rx);
}

static void test_rx_short_fragments(void **state)
{
	struct frag_rx rx;
	uint8_t f[8] = { FRAG_FIRST | FRAG_LAST, 0, 5, 1, 2, 3, 4, 5 };

	(void)state;
	frag_rx_reset(&rx);
	assert_int_equal(frag_rx_feed(&rx, f, 0), -PROTO_E_LENGTH);
	assert_int_equal(frag_rx_feed(&rx, NULL, 8), -PROTO_E_LENGTH);
	assert_int_equal(frag_rx_feed(&rx, f, 1), -PROTO_E_LENGTH);
	assert_int_equal(frag_rx_feed(&rx, f, 2), -PROTO_E_LENGTH);
	assert_int_equal(frag_rx_feed(&rx, f, 3), -PROTO_E_LENGTH); /* no frame bytes */
	assert_dropped(&rx);

	/* an empty continuation is refused and drops the frame */
	f[0] = FRAG_FIRST;
	f[2] = 10;
	feed_ok(&rx, f, 8, 0);
	f[0] = 1;
	assert_int_equal(frag_rx_feed(&rx, f, 1), -PROTO_E_LENGTH);
	assert_dropped(&rx);
}

static void test_rx_first_restarts(void **state)
{
	struct frag_rx rx;
	uint8_t f[FRAG_PAYLOAD_MAX];
	uint8_t g[FRAG_PAYLOAD_MAX];
	size_t n;

	(void)state;
	frag_rx_reset(&rx);
	n = first(f, FRAG_FIRST, 100, 17);
	feed_ok(&rx, f, n, 0);
	n = next(f, 1, 17, 19);
	feed_ok(&rx, f, n, 0);
	/* a new frame starts: 30 bytes of a different content */
	g[0] = FRAG_FIRST;
	wire_store_u16(g + 1, 30);
	memset(g + 3, 0x5C, 17);
	feed_ok(&rx, g, 20, 0);
	assert_int_equal(rx.got, 17);
	assert_int_equal(rx.total, 30);
	assert_int_equal(rx.next_seq, 1);
	g[0] = FRAG_LAST | 1;
	memset(g + 1, 0x5D, 13);
	feed_ok(&rx, g, 14, 1);
	assert_int_equal(rx.total, 30);
	assert_int_equal(rx.buf[0], 0x5C);
	assert_int_equal(rx.buf[16], 0x5C);
	assert_int_equal(rx.buf[17], 0x5D);
	assert_int_equal(rx.buf[29], 0x5D);

	/* a malformed FIRST mid-frame drops the partial frame too */
	n = first(f, FRAG_FIRST, 100, 17);
	feed_ok(&rx, f, n, 0);
	n = first(f, FRAG_FIRST, 0, 17);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_LENGTH);
	assert_dropped(&rx);
}

static void test_rx_recovers_after_error(void **state)
{
	struct frag_rx rx;
	uint8_t f[FRAG_PAYLOAD_MAX];
	size_t n;

	(void)state;
	frag_rx_reset(&rx);
	n = next(f, 5, 0, 10);
	assert_int_equal(frag_rx_feed(&rx, f, n), -PROTO_E_FRAGMENT);
	n = first(f, FRAG_FIRST | FRAG_LAST, 12, 12);
	feed_ok(&rx, f, n, 1);
	assert_int_equal(rx.total, 12);
	assert_memory_equal(rx.buf, frame, 12);
}

/* One-byte fragments: more than 64 of them, so the sequence must wrap to 0. */
static void test_rx_sequence_wraps(void **state)
{
	struct frag_rx rx;
	uint8_t f[4];
	size_t i, total = 150;

	(void)state;
	frag_rx_reset(&rx);
	feed_ok(&rx, f, first(f, FRAG_FIRST, (uint16_t)total, 1), 0);
	for (i = 1; i < total; i++) {
		uint8_t ctl = (uint8_t)(i % 64);

		if (i == total - 1)
			ctl |= FRAG_LAST;
		feed_ok(&rx, f, next(f, ctl, i, 1), i == total - 1 ? 1 : 0);
	}
	assert_int_equal(rx.total, total);
	assert_memory_equal(rx.buf, frame, total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_mtu),
		cmocka_unit_test(test_roundtrip_every_length),
		cmocka_unit_test(test_single_fragment_bytes),
		cmocka_unit_test(test_fragment_bytes_mtu23),
		cmocka_unit_test(test_tx_mtu_clamped),
		cmocka_unit_test(test_tx_bad_length),
		cmocka_unit_test(test_tx_small_buffer),
		cmocka_unit_test(test_rx_out_of_sequence),
		cmocka_unit_test(test_rx_missing_first),
		cmocka_unit_test(test_rx_first_with_sequence),
		cmocka_unit_test(test_rx_bad_total),
		cmocka_unit_test(test_rx_excess_bytes),
		cmocka_unit_test(test_rx_last_flag_must_match),
		cmocka_unit_test(test_rx_fragment_size),
		cmocka_unit_test(test_rx_short_fragments),
		cmocka_unit_test(test_rx_first_restarts),
		cmocka_unit_test(test_rx_recovers_after_error),
		cmocka_unit_test(test_rx_sequence_wraps),
	};

	return cmocka_run_group_tests_name("frag", tests, setup_frame, NULL);
}
