/*
 * test-keywrap.c: server/keywrap through its public API: seal and open round trips,
 * refusal of another label, another master key, every flipped byte and every truncation
 * (with nothing written), fresh nonces, and P-256 private keys sealed and reopened.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../lib/p256.h"
#include "../../server/keywrap.h"

static const uint8_t master[KEYWRAP_MASTER_LEN] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

static void test_round_trip(void **state)
{
	const uint8_t msg[40] = "the private half of a reservation key";
	uint8_t blob[40 + KEYWRAP_OVERHEAD], out[64];
	size_t n;

	(void)state;
	for (n = 0; n <= sizeof(msg); n += 8) {
		assert_int_equal(keywrap_seal(master, "reservation:42", msg, n, blob, sizeof(blob)),
				 (int)(n + KEYWRAP_OVERHEAD));
		memset(out, 0xee, sizeof(out));
		assert_int_equal(keywrap_open(master, "reservation:42", blob, n + KEYWRAP_OVERHEAD,
					      out, sizeof(out)), (int)n);
		if (n > 0)
			assert_memory_equal(out, msg, n);
		assert_int_equal(out[n], 0xee);
	}
}

static void test_wrong_label_or_master(void **state)
{
	const uint8_t msg[16] = "secret scalar..";
	uint8_t other[KEYWRAP_MASTER_LEN];
	uint8_t blob[16 + KEYWRAP_OVERHEAD], out[16];

	(void)state;
	assert_int_equal(keywrap_seal(master, "site:7", msg, sizeof(msg), blob, sizeof(blob)),
			 (int)sizeof(blob));
	memset(out, 0xee, sizeof(out));
	assert_int_equal(keywrap_open(master, "site:8", blob, sizeof(blob), out, sizeof(out)), -1);
	assert_int_equal(keywrap_open(master, "reservation:7", blob, sizeof(blob), out,
				      sizeof(out)), -1);
	assert_int_equal(keywrap_open(master, "site:7 ", blob, sizeof(blob), out, sizeof(out)), -1);
	assert_int_equal(keywrap_open(master, "", blob, sizeof(blob), out, sizeof(out)), -1);
	memcpy(other, master, sizeof(other));
	other[31] ^= 0x80;
	assert_int_equal(keywrap_open(other, "site:7", blob, sizeof(blob), out, sizeof(out)), -1);
	assert_int_equal(out[0], 0xee);
	assert_int_equal(keywrap_open(master, "site:7", blob, sizeof(blob), out, sizeof(out)), 16);
}

static void test_every_byte_flipped(void **state)
{
	const uint8_t msg[32] = { 0x42 };
	uint8_t blob[32 + KEYWRAP_OVERHEAD], bad[sizeof(blob)], out[32];
	size_t i, k;

	(void)state;
	assert_int_equal(keywrap_seal(master, "site:1", msg, sizeof(msg), blob, sizeof(blob)),
			 (int)sizeof(blob));
	for (i = 0; i < sizeof(blob); i++) {
		memcpy(bad, blob, sizeof(blob));
		bad[i] ^= 0x01;
		memset(out, 0xee, sizeof(out));
		assert_int_equal(keywrap_open(master, "site:1", bad, sizeof(bad), out, sizeof(out)),
				 -1);
		for (k = 0; k < sizeof(out); k++)
			assert_int_equal(out[k], 0xee);
	}
}

static void test_truncated_and_capacity(void **state)
{
	const uint8_t msg[8] = "12345678";
	uint8_t blob[8 + KEYWRAP_OVERHEAD], out[8];
	size_t n;

	(void)state;
	assert_int_equal(keywrap_seal(master, "site:1", msg, sizeof(msg), blob, sizeof(blob) - 1),
			 -1);
	assert_int_equal(keywrap_seal(master, "", msg, sizeof(msg), blob, sizeof(blob)), -1);
	assert_int_equal(keywrap_seal(master, "site:1", msg, sizeof(msg), blob, sizeof(blob)),
			 (int)sizeof(blob));
	for (n = 0; n < sizeof(blob); n++) {
		memset(out, 0xee, sizeof(out));
		assert_int_equal(keywrap_open(master, "site:1", blob, n, out, sizeof(out)), -1);
		assert_int_equal(out[0], 0xee);
	}
	assert_int_equal(keywrap_open(master, "site:1", blob, sizeof(blob), out, 7), -1);
	assert_int_equal(out[0], 0xee);
}

static void test_fresh_nonce(void **state)
{
	const uint8_t msg[8] = "12345678";
	uint8_t a[8 + KEYWRAP_OVERHEAD], b[sizeof(a)];

	(void)state;
	assert_int_equal(keywrap_seal(master, "site:1", msg, sizeof(msg), a, sizeof(a)),
			 (int)sizeof(a));
	assert_int_equal(keywrap_seal(master, "site:1", msg, sizeof(msg), b, sizeof(b)),
			 (int)sizeof(b));
	assert_memory_not_equal(a, b, KEYWRAP_NONCE_LEN);
	assert_memory_not_equal(a + KEYWRAP_NONCE_LEN, b + KEYWRAP_NONCE_LEN, sizeof(msg));
	assert_memory_not_equal(a + KEYWRAP_NONCE_LEN, msg, sizeof(msg));
}

static void test_private_key(void **state)
{
	uint8_t blob[KEYWRAP_KEY_MAX], pub[64], pub2[64], digest[32] = { 7 }, sig[64];
	EVP_PKEY *key = p256_generate(), *back;
	int n;

	(void)state;
	assert_non_null(key);
	assert_int_equal(p256_public_raw(key, pub), 0);
	n = keywrap_seal_key(master, "reservation:9", key, blob, sizeof(blob));
	assert_true(n > KEYWRAP_OVERHEAD && n <= KEYWRAP_KEY_MAX);
	back = keywrap_open_key(master, "reservation:9", blob, (size_t)n);
	assert_non_null(back);
	assert_int_equal(p256_public_raw(back, pub2), 0);
	assert_memory_equal(pub, pub2, 64);
	assert_int_equal(p256_sign_digest(back, digest, sig), 0);
	assert_int_equal(p256_verify_digest(pub, digest, sig), 0);
	EVP_PKEY_free(back);
	assert_null(keywrap_open_key(master, "reservation:10", blob, (size_t)n));
	blob[n - 1] ^= 1;
	assert_null(keywrap_open_key(master, "reservation:9", blob, (size_t)n));
	/* A sealed blob that is not a key is refused as a key. */
	n = keywrap_seal(master, "site:3", (const uint8_t *)"not a key", 9, blob, sizeof(blob));
	assert_true(n > 0);
	assert_null(keywrap_open_key(master, "site:3", blob, (size_t)n));
	assert_int_equal(keywrap_seal_key(master, "site:3", NULL, blob, sizeof(blob)), -1);
	EVP_PKEY_free(key);
}

static void test_label(void **state)
{
	char label[KEYWRAP_LABEL_MAX];

	(void)state;
	assert_int_equal(keywrap_label(label, "site", 7), 0);
	assert_string_equal(label, "site:7");
	assert_int_equal(keywrap_label(label, "reservation", 4294967295LL), 0);
	assert_string_equal(label, "reservation:4294967295");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_label_or_master),
		cmocka_unit_test(test_every_byte_flipped),
		cmocka_unit_test(test_truncated_and_capacity),
		cmocka_unit_test(test_fresh_nonce),
		cmocka_unit_test(test_private_key),
		cmocka_unit_test(test_label),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
