/*
 * test-hex.c: lib/hex through its public API: known encodings, exact capacity limits,
 * both cases accepted, and every malformed input refused without writing a byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../lib/hex.h"

static void test_encode_known(void **state)
{
	static const uint8_t in[] = { 0x00, 0x01, 0x7f, 0x80, 0x9a, 0xbc, 0xde, 0xff };
	char out[17];

	(void)state;
	assert_int_equal(hex_encode(in, sizeof(in), out, sizeof(out)), 16);
	assert_string_equal(out, "00017f809abcdeff");
	assert_int_equal(hex_encode(in, 0, out, 1), 0);
	assert_string_equal(out, "");
}

static void test_encode_every_byte(void **state)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t in[256];
	char out[513];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	assert_int_equal(hex_encode(in, sizeof(in), out, sizeof(out)), 512);
	for (i = 0; i < sizeof(in); i++) {
		assert_int_equal(out[2 * i], digits[i >> 4]);
		assert_int_equal(out[2 * i + 1], digits[i & 15]);
	}
	assert_int_equal(out[512], '\0');
}

static void test_encode_capacity(void **state)
{
	static const uint8_t in[] = { 0xab, 0xcd };
	char out[8];

	(void)state;
	memset(out, 'x', sizeof(out));
	/* Four digits need five bytes: four is one short, and nothing is written. */
	assert_int_equal(hex_encode(in, 2, out, 4), -1);
	assert_int_equal(out[0], 'x');
	assert_int_equal(hex_encode(in, 0, out, 0), -1);
	assert_int_equal(hex_encode(in, 2, out, 5), 4);
	assert_string_equal(out, "abcd");
	assert_int_equal(out[5], 'x');
	/* A length whose digit count overflows is refused, not wrapped. */
	assert_int_equal(hex_encode(in, (size_t)-1 / 2 + 1, out, sizeof(out)), -1);
}

static void test_decode_both_cases(void **state)
{
	static const uint8_t want[] = { 0x00, 0x01, 0x7f, 0x80, 0x9a, 0xbc, 0xde, 0xff };
	uint8_t out[8];

	(void)state;
	assert_int_equal(hex_decode("00017f809abcdeff", out, sizeof(out)), 8);
	assert_memory_equal(out, want, 8);
	memset(out, 0, sizeof(out));
	assert_int_equal(hex_decode("00017F809ABCDEFF", out, sizeof(out)), 8);
	assert_memory_equal(out, want, 8);
	memset(out, 0, sizeof(out));
	assert_int_equal(hex_decode("00017f809AbCdEfF", out, sizeof(out)), 8);
	assert_memory_equal(out, want, 8);
	assert_int_equal(hex_decode("", out, 0), 0);
}

static void test_decode_every_byte(void **state)
{
	uint8_t in[256], out[256];
	char text[513];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(255 - i);
	assert_int_equal(hex_encode(in, sizeof(in), text, sizeof(text)), 512);
	assert_int_equal(hex_decode(text, out, sizeof(out)), 256);
	assert_memory_equal(out, in, sizeof(in));
}

/* Every character that is not a hex digit, in each position, is refused untouched. */
static void test_decode_rejects_non_hex(void **state)
{
	uint8_t out[2];
	char s[5];
	int c;
	size_t pos;

	(void)state;
	for (c = 1; c < 256; c++) {
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
			continue;
		for (pos = 0; pos < 4; pos++) {
			memcpy(s, "a1B2", 5);
			s[pos] = (char)c;
			memset(out, 0x55, sizeof(out));
			assert_int_equal(hex_decode(s, out, sizeof(out)), -1);
			assert_int_equal(out[0], 0x55);
			assert_int_equal(out[1], 0x55);
		}
	}
}

static void test_decode_rejects_shapes(void **state)
{
	uint8_t out[4];

	(void)state;
	memset(out, 0x55, sizeof(out));
	assert_int_equal(hex_decode("abc", out, sizeof(out)), -1);        /* odd */
	assert_int_equal(hex_decode("0x12", out, sizeof(out)), -1);       /* prefix */
	assert_int_equal(hex_decode("12 34", out, sizeof(out)), -1);      /* space */
	assert_int_equal(hex_decode("1234\n", out, sizeof(out)), -1);     /* newline */
	assert_int_equal(hex_decode("0011223344", out, sizeof(out)), -1); /* too long */
	assert_int_equal(out[0], 0x55);
	assert_int_equal(hex_decode("00112233", out, sizeof(out)), 4);    /* exactly fits */
	assert_int_equal(out[3], 0x33);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_known),
		cmocka_unit_test(test_encode_every_byte),
		cmocka_unit_test(test_encode_capacity),
		cmocka_unit_test(test_decode_both_cases),
		cmocka_unit_test(test_decode_every_byte),
		cmocka_unit_test(test_decode_rejects_non_hex),
		cmocka_unit_test(test_decode_rejects_shapes),
	};

	return cmocka_run_group_tests_name("hex", tests, NULL, NULL);
}
