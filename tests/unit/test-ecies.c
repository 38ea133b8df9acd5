/*
 * test-ecies.c: lib/ecies through its public API: round trips of several lengths, a
 * known answer made by an independent implementation (Python's cryptography package,
 * see the comment at the vector), every flipped byte and every truncation refused with
 * nothing written, another recipient's key refused, and the ciphertext's structure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../lib/ecies.h"
#include "../../lib/hex.h"
#include "../../lib/p256.h"

/*
 * Known answer. Recipient: the RFC 6979 A.2.5 key; ephemeral scalar 7d7dc5f7...a534;
 * plaintext 00000065 (spot 101). Made with Python's `cryptography`: ECDH, HKDF-SHA256
 * (salt = eph_pub || recipient_pub, info "parking-ecies-v1", 44 bytes), AESGCM.
 */
static const char kat_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgya+p2EW6dRZrXCFX\n"
	"Z7HWk05Qw9s26JsSe4piKxIPZyGhRANCAARg/tS6JVqdMclh63TGNW1owEm4kjth\n"
	"+mzmaWIuYPKftnkD/hAIuLyZpBrp6VYovGTy8bIMLX6fUXejwpTURiKZ\n"
	"-----END PRIVATE KEY-----\n";
static const char kat_ct_hex[] =
	"ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230"
	"28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141"
	"f7789b32"
	"72c0cc0dec3498205ba91ea68fdaf02b";
static const uint8_t kat_plain[4] = { 0x00, 0x00, 0x00, 0x65 };

struct fixture {
	EVP_PKEY *key;
	EVP_PKEY *other;
	uint8_t pub[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->key = p256_generate();
	f->other = p256_generate();
	assert_non_null(f->key);
	assert_non_null(f->other);
	assert_int_equal(p256_public_raw(f->key, f->pub), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	EVP_PKEY_free(f->key);
	EVP_PKEY_free(f->other);
	free(f);
	return 0;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	static const size_t lens[] = { 0, 1, 4, 15, 16, 17, 100, 1000 };
	uint8_t msg[1000], ct[1000 + ECIES_OVERHEAD], out[1000];
	size_t i, j;

	for (j = 0; j < sizeof(msg); j++)
		msg[j] = (uint8_t)(j * 13 + 5);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];

		assert_int_equal(ecies_encrypt(f->pub, msg, n, ct, sizeof(ct)),
				 (int)(n + ECIES_OVERHEAD));
		memset(out, 0xee, sizeof(out));
		assert_int_equal(ecies_decrypt(f->key, ct, n + ECIES_OVERHEAD, out, sizeof(out)),
				 (int)n);
		if (n > 0)
			assert_memory_equal(out, msg, n);
		if (n < sizeof(out))
			assert_int_equal(out[n], 0xee);
	}
}

static void test_known_answer(void **state)
{
	uint8_t ct[sizeof(kat_ct_hex) / 2], out[16];
	EVP_PKEY *key;
	BIO *bio;

	(void)state;
	bio = BIO_new_mem_buf(kat_pem, -1);
	assert_non_null(bio);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(key);
	assert_int_equal(hex_decode(kat_ct_hex, ct, sizeof(ct)), 4 + ECIES_OVERHEAD);
	assert_int_equal(ecies_decrypt(key, ct, 4 + ECIES_OVERHEAD, out, sizeof(out)), 4);
	assert_memory_equal(out, kat_plain, 4);
	EVP_PKEY_free(key);
}

/* Every byte of a ciphertext, flipped in turn (each bit pattern of one byte), is refused. */
static void test_every_byte_flipped(void **state)
{
	struct fixture *f = *state;
	const uint8_t msg[4] = { 0, 0, 0, 101 };
	uint8_t ct[4 + ECIES_OVERHEAD], bad[sizeof(ct)], out[16];
	size_t i, k;
	unsigned bit;

	assert_int_equal(ecies_encrypt(f->pub, msg, sizeof(msg), ct, sizeof(ct)), (int)sizeof(ct));
	for (i = 0; i < sizeof(ct); i++) {
		for (bit = 0; bit < 8; bit += 7) {
			memcpy(bad, ct, sizeof(ct));
			bad[i] ^= (uint8_t)(1u << bit);
			memset(out, 0xee, sizeof(out));
			assert_int_equal(ecies_decrypt(f->key, bad, sizeof(bad), out,
						       sizeof(out)), -1);
			for (k = 0; k < sizeof(out); k++)
				assert_int_equal(out[k], 0xee);
		}
	}
	/* And the untouched one still opens. */
	assert_int_equal(ecies_decrypt(f->key, ct, sizeof(ct), out, sizeof(out)), 4);
}

static void test_wrong_key(void **state)
{
	struct fixture *f = *state;
	const uint8_t msg[4] = { 0, 0, 0, 101 };
	uint8_t ct[4 + ECIES_OVERHEAD], out[16];

	assert_int_equal(ecies_encrypt(f->pub, msg, sizeof(msg), ct, sizeof(ct)), (int)sizeof(ct));
	memset(out, 0xee, sizeof(out));
	assert_int_equal(ecies_decrypt(f->other, ct, sizeof(ct), out, sizeof(out)), -1);
	assert_int_equal(out[0], 0xee);
	assert_int_equal(ecies_decrypt(NULL, ct, sizeof(ct), out, sizeof(out)), -1);
}

static void test_truncated_and_short_buffers(void **state)
{
	struct fixture *f = *state;
	const uint8_t msg[4] = { 0, 0, 0, 101 };
	uint8_t ct[4 + ECIES_OVERHEAD + 1], out[16];
	size_t n;

	assert_int_equal(ecies_encrypt(f->pub, msg, sizeof(msg), ct, sizeof(ct)),
			 4 + ECIES_OVERHEAD);
	for (n = 0; n < 4 + ECIES_OVERHEAD; n++) {
		memset(out, 0xee, sizeof(out));
		assert_int_equal(ecies_decrypt(f->key, ct, n, out, sizeof(out)), -1);
		assert_int_equal(out[0], 0xee);
	}
	/* A trailing byte is a different (forged) ciphertext. */
	ct[4 + ECIES_OVERHEAD] = 0;
	assert_int_equal(ecies_decrypt(f->key, ct, sizeof(ct), out, sizeof(out)), -1);
	/* Output too small for the plaintext: refused, nothing written. */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(ecies_decrypt(f->key, ct, 4 + ECIES_OVERHEAD, out, 3), -1);
	assert_int_equal(out[0], 0xee);
	/* Encrypt into a buffer one short: refused. */
	assert_int_equal(ecies_encrypt(f->pub, msg, sizeof(msg), ct, 4 + ECIES_OVERHEAD - 1), -1);
}

static void test_structure(void **state)
{
	struct fixture *f = *state;
	const uint8_t msg[4] = { 0, 0, 0, 101 };
	uint8_t a[4 + ECIES_OVERHEAD], b[sizeof(a)], bad_pub[64];
	EVP_PKEY *eph;

	assert_int_equal(ecies_encrypt(f->pub, msg, sizeof(msg), a, sizeof(a)), (int)sizeof(a));
	assert_int_equal(ecies_encrypt(f->pub, msg, sizeof(msg), b, sizeof(b)), (int)sizeof(b));
	/* The first 64 bytes are a fresh point on the curve, different every time. */
	eph = p256_from_public_raw(a);
	assert_non_null(eph);
	EVP_PKEY_free(eph);
	assert_memory_not_equal(a, b, 64);
	assert_memory_not_equal(a + 64, b + 64, sizeof(a) - 64);
	/* The plaintext does not appear as is. */
	assert_memory_not_equal(a + 64, msg, 4);
	/* A recipient key off the curve is refused. */
	memcpy(bad_pub, f->pub, 64);
	bad_pub[63] ^= 1;
	assert_int_equal(ecies_encrypt(bad_pub, msg, sizeof(msg), a, sizeof(a)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test_setup_teardown(test_every_byte_flipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_short_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
