/*
 * test-wire.c: unit tests of lockfw/proto/wire.c, the bounded big-endian cursors.
 * Every getter and putter is driven to the exact edge of its buffer and one byte past
 * it: a failed access must set the sticky error, consume nothing and touch nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../lockfw/proto/wire.h"

static const uint8_t seq8[8] = { 0x01, 0x02, 0x03, 0x04, 0xF5, 0xE6, 0xD7, 0xC8 };

static void test_init(void **state)
{
	struct wire_reader r;
	struct wire_writer w;
	uint8_t buf[4];

	(void)state;
	wire_reader_init(&r, seq8, sizeof(seq8));
	assert_ptr_equal(r.buf, seq8);
	assert_int_equal(r.len, 8);
	assert_int_equal(r.off, 0);
	assert_false(r.error);
	assert_int_equal(wire_left(&r), 8);

	/* A NULL buffer is an empty one, whatever length the caller claims. */
	wire_reader_init(&r, NULL, 100);
	assert_int_equal(wire_left(&r), 0);
	assert_int_equal(wire_get_u8(&r), 0);
	assert_true(r.error);

	wire_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(w.cap, 4);
	assert_int_equal(w.off, 0);
	assert_false(w.error);
	wire_writer_init(&w, NULL, 100);
	assert_int_equal(w.cap, 0);
	wire_put_u8(&w, 1);
	assert_true(w.error);
	assert_int_equal(w.off, 0);
}

static void test_get_values_big_endian(void **state)
{
	struct wire_reader r;

	(void)state;
	wire_reader_init(&r, seq8, sizeof(seq8));
	assert_int_equal(wire_get_u8(&r), 0x01);
	assert_int_equal(wire_get_u16(&r), 0x0203);
	assert_int_equal(wire_get_u32(&r), 0x04F5E6D7u);
	assert_int_equal(wire_get_u8(&r), 0xC8);
	assert_int_equal(wire_left(&r), 0);
	assert_false(r.error);

	/* High bits must not sign-extend. */
	wire_reader_init(&r, seq8 + 4, 4);
	assert_int_equal(wire_get_u16(&r), 0xF5E6);
	assert_int_equal(wire_get_u16(&r), 0xD7C8);
	wire_reader_init(&r, seq8 + 4, 4);
	assert_int_equal(wire_get_u32(&r), 0xF5E6D7C8u);
}

/* Reads `n` bytes from a buffer of exactly `avail` bytes, positioned at offset `pre`. */
static void check_get_edge(size_t width)
{
	uint8_t buf[16];
	size_t pre, avail;

	memset(buf, 0xAB, sizeof(buf));
	for (pre = 0; pre < 4; pre++) {
		for (avail = 0; avail <= width; avail++) {
			struct wire_reader r;
			uint32_t v = 0;
			uint8_t out[8];

			wire_reader_init(&r, buf, pre + avail);
			r.off = pre;
			memset(out, 0x5A, sizeof(out));
			switch (width) {
			case 1: v = wire_get_u8(&r); break;
			case 2: v = wire_get_u16(&r); break;
			case 4: v = wire_get_u32(&r); break;
			default: wire_get_bytes(&r, out, width); break;
			}
			if (avail == width) {
				assert_false(r.error);
				assert_int_equal(r.off, pre + width);
				if (width <= 4)
					assert_int_not_equal(v, 0);
				else
					assert_memory_equal(out, buf, width);
			} else {
				assert_true(r.error);
				assert_int_equal(r.off, pre); /* consumed nothing */
				assert_int_equal(v, 0);
				assert_int_equal(out[0], 0x5A); /* wrote nothing */
			}
		}
	}
}

static void test_get_at_edge(void **state)
{
	(void)state;
	check_get_edge(1);
	check_get_edge(2);
	check_get_edge(4);
	check_get_edge(8);
}

static void test_get_error_is_sticky(void **state)
{
	struct wire_reader r;
	uint8_t out[2] = { 0x77, 0x77 };

	(void)state;
	wire_reader_init(&r, seq8, 3);
	assert_int_equal(wire_get_u32(&r), 0);
	assert_true(r.error);
	/* Even a read that would fit now fails, so a decoder may test the flag once. */
	assert_int_equal(wire_get_u8(&r), 0);
	assert_int_equal(wire_get_u16(&r), 0);
	wire_get_bytes(&r, out, 1);
	assert_int_equal(out[0], 0x77);
	assert_null(wire_get_view(&r, 0));
	assert_int_equal(r.off, 0);
	assert_int_equal(wire_left(&r), 3);
}

static void test_get_huge_count_cannot_wrap(void **state)
{
	struct wire_reader r;
	uint8_t out[1] = { 0x42 };

	(void)state;
	wire_reader_init(&r, seq8, sizeof(seq8));
	assert_int_equal(wire_get_u8(&r), 0x01);
	wire_get_bytes(&r, out, SIZE_MAX);
	assert_true(r.error);
	assert_int_equal(r.off, 1);
	assert_int_equal(out[0], 0x42);

	wire_reader_init(&r, seq8, sizeof(seq8));
	r.off = 5;
	assert_null(wire_get_view(&r, SIZE_MAX - 2));
	assert_true(r.error);
	assert_int_equal(r.off, 5);
}

static void test_get_bytes_zero(void **state)
{
	struct wire_reader r;
	uint8_t out[1] = { 0x42 };

	(void)state;
	wire_reader_init(&r, seq8, sizeof(seq8));
	r.off = 8;
	wire_get_bytes(&r, out, 0);
	assert_false(r.error);
	assert_int_equal(out[0], 0x42);
	assert_ptr_equal(wire_get_view(&r, 0), seq8 + 8);
	assert_false(r.error);
}

static void test_get_view(void **state)
{
	struct wire_reader r;
	const uint8_t *p;

	(void)state;
	wire_reader_init(&r, seq8, sizeof(seq8));
	p = wire_get_view(&r, 3);
	assert_ptr_equal(p, seq8);
	p = wire_get_view(&r, 5);
	assert_ptr_equal(p, seq8 + 3);
	assert_int_equal(wire_left(&r), 0);
	assert_false(r.error);
	assert_null(wire_get_view(&r, 1));
	assert_true(r.error);
	assert_int_equal(r.off, 8);
}

static void test_put_values_big_endian(void **state)
{
	uint8_t buf[11];
	struct wire_writer w;
	static const uint8_t want[11] = { 0xC8, 0x01, 0x02, 0xF5, 0xE6, 0xD7, 0xC8,
					  0xAA, 0xBB, 0xCC, 0x00 };

	(void)state;
	memset(buf, 0, sizeof(buf));
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, 0xC8);
	wire_put_u16(&w, 0x0102);
	wire_put_u32(&w, 0xF5E6D7C8u);
	wire_put_bytes(&w, (const uint8_t *)"\xAA\xBB\xCC", 3);
	wire_put_bytes(&w, NULL, 0);
	assert_false(w.error);
	assert_int_equal(w.off, 10);
	assert_memory_equal(buf, want, sizeof(want));
}

static void check_put_edge(size_t width)
{
	uint8_t buf[16];
	static const uint8_t src[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	size_t pre, room, i;

	for (pre = 0; pre < 4; pre++) {
		for (room = 0; room <= width; room++) {
			struct wire_writer w;

			memset(buf, 0xEE, sizeof(buf));
			wire_writer_init(&w, buf, pre + room);
			w.off = pre;
			switch (width) {
			case 1: wire_put_u8(&w, 0x11); break;
			case 2: wire_put_u16(&w, 0x1122); break;
			case 4: wire_put_u32(&w, 0x11223344u); break;
			default: wire_put_bytes(&w, src, width); break;
			}
			if (room == width) {
				assert_false(w.error);
				assert_int_equal(w.off, pre + width);
				assert_int_not_equal(buf[pre], 0xEE);
			} else {
				assert_true(w.error);
				assert_int_equal(w.off, pre);
				for (i = 0; i < sizeof(buf); i++)
					assert_int_equal(buf[i], 0xEE); /* wrote nothing */
			}
		}
	}
}

static void test_put_at_edge(void **state)
{
	(void)state;
	check_put_edge(1);
	check_put_edge(2);
	check_put_edge(4);
	check_put_edge(8);
}

static void test_put_error_is_sticky(void **state)
{
	uint8_t buf[4];
	struct wire_writer w;

	(void)state;
	memset(buf, 0, sizeof(buf));
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, 9);
	wire_put_u32(&w, 0xFFFFFFFFu);
	assert_true(w.error);
	wire_put_u8(&w, 7);
	wire_put_u16(&w, 7);
	assert_int_equal(w.off, 1);
	assert_int_equal(buf[1], 0);
	wire_put_bytes(&w, buf, SIZE_MAX);
	assert_int_equal(w.off, 1);
}

static void test_put_huge_count_cannot_wrap(void **state)
{
	uint8_t buf[4];
	struct wire_writer w;

	(void)state;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, 1);
	wire_put_bytes(&w, buf, SIZE_MAX);
	assert_true(w.error);
	assert_int_equal(w.off, 1);
}

static void test_load_store(void **state)
{
	uint8_t b[4];

	(void)state;
	wire_store_u16(b, 0xBEEF);
	assert_int_equal(b[0], 0xBE);
	assert_int_equal(b[1], 0xEF);
	assert_int_equal(wire_load_u16(b), 0xBEEF);
	wire_store_u32(b, 0xDEADBEEFu);
	assert_int_equal(b[0], 0xDE);
	assert_int_equal(b[3], 0xEF);
	assert_int_equal(wire_load_u32(b), 0xDEADBEEFu);
	wire_store_u32(b, 0);
	assert_int_equal(wire_load_u32(b), 0);
	assert_int_equal(wire_load_u16(seq8 + 6), 0xD7C8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_get_values_big_endian),
		cmocka_unit_test(test_get_at_edge),
		cmocka_unit_test(test_get_error_is_sticky),
		cmocka_unit_test(test_get_huge_count_cannot_wrap),
		cmocka_unit_test(test_get_bytes_zero),
		cmocka_unit_test(test_get_view),
		cmocka_unit_test(test_put_values_big_endian),
		cmocka_unit_test(test_put_at_edge),
		cmocka_unit_test(test_put_error_is_sticky),
		cmocka_unit_test(test_put_huge_count_cannot_wrap),
		cmocka_unit_test(test_load_store),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
