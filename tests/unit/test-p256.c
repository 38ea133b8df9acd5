/*
 * test-p256.c: lib/p256 through its public API: sign/verify round trips, rejection of
 * every flipped signature and digest byte and of out-of-range scalars and off-curve
 * points, RFC 6979 known answers, and the key files (mode, atomicity, refusal of
 * missing, damaged and foreign keys).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../lib/hex.h"
#include "../../lib/p256.h"

/* The group order n of P-256. */
static const char order_hex[] =
	"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

/* RFC 6979 A.2.5: the P-256 key and its deterministic signatures with SHA-256. */
static const char kat_pub_hex[] =
	"60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
	"7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299";
static const char kat_sample_sig_hex[] =
	"EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
	"F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8";
static const char kat_test_sig_hex[] =
	"F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367"
	"019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083";

struct fixture {
	EVP_PKEY *key;
	uint8_t pub[64];
	uint8_t digest[32];
	uint8_t sig[64];
	char dir[64];
};

static void unhex(const char *s, uint8_t *out, size_t len)
{
	assert_int_equal(hex_decode(s, out, len), (int)len);
}

static int setup(void **state)
{
	static const char msg[] = "open spot 42";
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->key = p256_generate();
	assert_non_null(f->key);
	assert_int_equal(p256_public_raw(f->key, f->pub), 0);
	assert_int_equal(p256_sha256((const uint8_t *)msg, strlen(msg), f->digest), 0);
	assert_int_equal(p256_sign_digest(f->key, f->digest, f->sig), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-p256-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

/* Removes the files a test left and the directory. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[512];
	struct dirent *de;
	DIR *d = opendir(f->dir);

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(f->dir);
	EVP_PKEY_free(f->key);
	free(f);
	return 0;
}

static void path_in(const struct fixture *f, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", f->dir, name);

	assert_true(n > 0 && (size_t)n < cap);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void write_bytes(const char *path, const void *p, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void write_pem_key(const char *path, EVP_PKEY *key)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(fp), 0);
}

/*
 * Frees `key`, which must be NULL or the key pair of `pub`: the same public half, and
 * a private half whose signatures `pub` verifies.
 */
static void assert_key_absent_or_same(EVP_PKEY *key, const uint8_t pub[64])
{
	uint8_t got[64], digest[32], sig[64];

	if (key == NULL)
		return;
	assert_int_equal(p256_public_raw(key, got), 0);
	assert_memory_equal(got, pub, 64);
	memset(digest, 0x5c, sizeof(digest));
	assert_int_equal(p256_sign_digest(key, digest, sig), 0);
	assert_int_equal(p256_verify_digest(pub, digest, sig), 0);
	EVP_PKEY_free(key);
}

/* ---- signatures ---- */

static void test_sha256_known_answer(void **state)
{
	uint8_t want[32], got[32];

	(void)state;
	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
	assert_int_equal(p256_sha256((const uint8_t *)"abc", 3, got), 0);
	assert_memory_equal(got, want, 32);
	unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
	assert_int_equal(p256_sha256(NULL, 0, got), 0);
	assert_memory_equal(got, want, 32);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t sig2[64];

	assert_int_equal(p256_verify_digest(f->pub, f->digest, f->sig), 0);
	/* ECDSA with a random nonce: a second signature differs and verifies too. */
	assert_int_equal(p256_sign_digest(f->key, f->digest, sig2), 0);
	assert_memory_not_equal(sig2, f->sig, 64);
	assert_int_equal(p256_verify_digest(f->pub, f->digest, sig2), 0);
}

static void test_flipped_signature_bytes(void **state)
{
	struct fixture *f = *state;
	static const uint8_t flips[] = { 0x01, 0x80, 0xff };
	uint8_t sig[64];
	size_t i, j;

	for (i = 0; i < sizeof(sig); i++) {
		for (j = 0; j < sizeof(flips); j++) {
			memcpy(sig, f->sig, sizeof(sig));
			sig[i] ^= flips[j];
			assert_int_equal(p256_verify_digest(f->pub, f->digest, sig), -1);
		}
	}
}

static void test_flipped_digest_bytes(void **state)
{
	struct fixture *f = *state;
	uint8_t digest[32];
	size_t i;

	for (i = 0; i < sizeof(digest); i++) {
		memcpy(digest, f->digest, sizeof(digest));
		digest[i] ^= 0x01;
		assert_int_equal(p256_verify_digest(f->pub, digest, f->sig), -1);
	}
}

static void test_wrong_key(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *other = p256_generate();
	uint8_t pub[64];

	assert_non_null(other);
	assert_int_equal(p256_public_raw(other, pub), 0);
	assert_int_equal(p256_verify_digest(pub, f->digest, f->sig), -1);
	EVP_PKEY_free(other);
}

static void test_scalars_out_of_range(void **state)
{
	struct fixture *f = *state;
	uint8_t n[32], sig[64];

	unhex(order_hex, n, 32);
	memcpy(sig, f->sig, 64);
	memset(sig, 0, 32); /* r = 0 */
	assert_int_equal(p256_verify_digest(f->pub, f->digest, sig), -1);
	memcpy(sig, f->sig, 64);
	memset(sig + 32, 0, 32); /* s = 0 */
	assert_int_equal(p256_verify_digest(f->pub, f->digest, sig), -1);
	memcpy(sig, f->sig, 64);
	memcpy(sig, n, 32); /* r = n */
	assert_int_equal(p256_verify_digest(f->pub, f->digest, sig), -1);
	memcpy(sig, f->sig, 64);
	memcpy(sig + 32, n, 32); /* s = n */
	assert_int_equal(p256_verify_digest(f->pub, f->digest, sig), -1);
	memcpy(sig, f->sig, 64);
	memset(sig, 0xff, 32); /* r > n */
	assert_int_equal(p256_verify_digest(f->pub, f->digest, sig), -1);
	memset(sig, 0, 64);
	assert_int_equal(p256_verify_digest(f->pub, f->digest, sig), -1);
}

/* A signature whose r is r + n (same value mod n) must not pass as the original. */
static void test_r_plus_order_rejected(void **state)
{
	struct fixture *f = *state;
	uint8_t n[32], sig[64];
	unsigned carry = 0;
	int i;

	unhex(order_hex, n, 32);
	memcpy(sig, f->sig, 64);
	for (i = 31; i >= 0; i--) {
		unsigned v = sig[i] + n[i] + carry;

		sig[i] = (uint8_t)v;
		carry = v >> 8;
	}
	/* With a carry the sum does not fit 32 bytes; the truncation is another wrong r. */
	assert_int_equal(p256_verify_digest(f->pub, f->digest, sig), -1);
}

static void test_public_raw_round_trip(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *k = p256_from_public_raw(f->pub);
	uint8_t pub[64], sig[64];

	assert_non_null(k);
	assert_int_equal(p256_public_raw(k, pub), 0);
	assert_memory_equal(pub, f->pub, 64);
	/* A public-only handle cannot sign. */
	assert_int_equal(p256_sign_digest(k, f->digest, sig), -1);
	EVP_PKEY_free(k);
}

static void test_off_curve_points(void **state)
{
	struct fixture *f = *state;
	uint8_t pub[64];

	memcpy(pub, f->pub, 64);
	pub[63] ^= 0x01; /* y + 1 or y - 1: off the curve */
	assert_null(p256_from_public_raw(pub));
	assert_int_equal(p256_verify_digest(pub, f->digest, f->sig), -1);

	memset(pub, 0, 64); /* (0, 0): the usual encoding of infinity */
	assert_null(p256_from_public_raw(pub));
	assert_int_equal(p256_verify_digest(pub, f->digest, f->sig), -1);

	memset(pub, 0xff, 64); /* coordinates >= p */
	assert_null(p256_from_public_raw(pub));
}

/* The handle made on another key's curve: the same point, the same refusals. */
static void test_public_like(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *other = p256_generate(), *x25519, *k;
	uint8_t pub[64];

	assert_non_null(other);
	k = p256_public_like(other, f->pub);
	assert_non_null(k);
	assert_int_equal(p256_public_raw(k, pub), 0);
	assert_memory_equal(pub, f->pub, 64);
	EVP_PKEY_free(k);

	pub[63] ^= 0x01; /* off the curve */
	assert_null(p256_public_like(other, pub));
	memset(pub, 0, 64);
	assert_null(p256_public_like(other, pub));
	memset(pub, 0xff, 64);
	assert_null(p256_public_like(other, pub));
	/* The curve must come from a P-256 key. */
	assert_null(p256_public_like(NULL, f->pub));
	x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(x25519);
	assert_null(p256_public_like(x25519, f->pub));
	EVP_PKEY_free(x25519);
	EVP_PKEY_free(other);
}

static void test_rfc6979_known_answers(void **state)
{
	uint8_t pub[64], sig[64], digest[32];

	(void)state;
	unhex(kat_pub_hex, pub, 64);
	unhex(kat_sample_sig_hex, sig, 64);
	assert_int_equal(p256_sha256((const uint8_t *)"sample", 6, digest), 0);
	assert_int_equal(p256_verify_digest(pub, digest, sig), 0);
	/* The same signature over the other message of the vector set fails... */
	unhex(kat_test_sig_hex, sig, 64);
	assert_int_equal(p256_verify_digest(pub, digest, sig), -1);
	/* ...and verifies over its own. */
	assert_int_equal(p256_sha256((const uint8_t *)"test", 4, digest), 0);
	assert_int_equal(p256_verify_digest(pub, digest, sig), 0);
}

static void test_foreign_keys_cannot_sign(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	uint8_t pub[64], sig[64];

	assert_non_null(p384);
	assert_int_equal(p256_sign_digest(p384, f->digest, sig), -1);
	assert_int_equal(p256_public_raw(p384, pub), -1);
	EVP_PKEY_free(p384);
}

/* ---- files ---- */

static void test_save_load_private(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct stat st;
	EVP_PKEY *loaded;
	uint8_t pub[64], sig[64];

	path_in(f, "device.pem", path, sizeof(path));
	assert_int_equal(p256_save_private(f->key, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_files(f->dir), 1); /* no temporary file left */

	loaded = p256_load_private(path);
	assert_non_null(loaded);
	assert_int_equal(p256_public_raw(loaded, pub), 0);
	assert_memory_equal(pub, f->pub, 64);
	assert_int_equal(p256_sign_digest(loaded, f->digest, sig), 0);
	assert_int_equal(p256_verify_digest(f->pub, f->digest, sig), 0);
	EVP_PKEY_free(loaded);
}

static void test_save_replaces_and_fixes_mode(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *other = p256_generate();
	char path[128];
	struct stat st;
	EVP_PKEY *loaded;
	uint8_t pub[64], want[64];

	assert_non_null(other);
	path_in(f, "key.pem", path, sizeof(path));
	write_bytes(path, "old", 3);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(p256_save_private(other, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	loaded = p256_load_private(path);
	assert_non_null(loaded);
	assert_int_equal(p256_public_raw(loaded, pub), 0);
	assert_int_equal(p256_public_raw(other, want), 0);
	assert_memory_equal(pub, want, 64);
	assert_int_equal(count_files(f->dir), 1);
	EVP_PKEY_free(loaded);
	EVP_PKEY_free(other);
}

static void test_save_fails_cleanly(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	char path[128];

	path_in(f, "no-such-dir/key.pem", path, sizeof(path));
	errno = 0;
	assert_int_equal(p256_save_private(f->key, path), -1);
	assert_int_equal(errno, ENOENT);

	assert_non_null(p384);
	path_in(f, "p384.pem", path, sizeof(path));
	assert_int_equal(p256_save_private(p384, path), -1);
	assert_int_equal(count_files(f->dir), 0);
	EVP_PKEY_free(p384);

	/* The rename fails (a directory is in the way): no temporary file is left. */
	path_in(f, "in-the-way", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	errno = 0;
	assert_int_equal(p256_save_private(f->key, path), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(p256_save_public_hex(f->pub, path), -1);
	assert_int_equal(count_files(f->dir), 1);
	assert_int_equal(rmdir(path), 0);
}

static void test_load_missing_and_corrupt(void **state)
{
	struct fixture *f = *state;
	char path[128];
	char pem[1024] = { 0 };
	FILE *fp;
	size_t len;

	path_in(f, "missing.pem", path, sizeof(path));
	assert_null(p256_load_private(path));

	path_in(f, "garbage.pem", path, sizeof(path));
	write_bytes(path, "not a key\n", 10);
	assert_null(p256_load_private(path));

	path_in(f, "empty.pem", path, sizeof(path));
	write_bytes(path, "", 0);
	assert_null(p256_load_private(path));

	/* A real key file cut in half, and one with a base64 character changed. */
	path_in(f, "whole.pem", path, sizeof(path));
	assert_int_equal(p256_save_private(f->key, path), 0);
	fp = fopen(path, "r");
	assert_non_null(fp);
	len = fread(pem, 1, sizeof(pem) - 1, fp);
	fclose(fp);
	assert_true(len > 100 && len < sizeof(pem) - 1);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));

	path_in(f, "half.pem", path, sizeof(path));
	write_bytes(path, pem, len / 2);
	assert_null(p256_load_private(path));

	/*
	 * Every base64 character changed in turn: the file is refused, or (for a change to
	 * a version field OpenSSL tolerates) it still yields exactly the original key.
	 */
	path_in(f, "flipped.pem", path, sizeof(path));
	for (size_t i = strlen("-----BEGIN PRIVATE KEY-----\n"); pem[i] != '-'; i++) {
		char c = pem[i];

		if (c == '\n')
			continue;
		pem[i] = c == 'A' ? 'B' : 'A';
		write_bytes(path, pem, len);
		assert_key_absent_or_same(p256_load_private(path), f->pub);
		pem[i] = c;
	}

	/* A directory is not a key file. */
	assert_null(p256_load_private(f->dir));
}

static void test_load_foreign_keys(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	char path[128];

	assert_non_null(ed);
	assert_non_null(rsa);
	assert_non_null(p384);
	path_in(f, "ed25519.pem", path, sizeof(path));
	write_pem_key(path, ed);
	assert_null(p256_load_private(path));
	path_in(f, "rsa.pem", path, sizeof(path));
	write_pem_key(path, rsa);
	assert_null(p256_load_private(path));
	path_in(f, "p384.pem", path, sizeof(path));
	write_pem_key(path, p384);
	assert_null(p256_load_private(path));
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
}

static void test_public_hex_files(void **state)
{
	struct fixture *f = *state;
	char path[128], line[140];
	uint8_t pub[64], bad[64];
	struct stat st;

	path_in(f, "site.pub", path, sizeof(path));
	assert_int_equal(p256_save_public_hex(f->pub, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 129);
	assert_int_equal(st.st_mode & 07777, 0644); /* public: readable by all */
	assert_int_equal(p256_load_public_hex(path, pub), 0);
	assert_memory_equal(pub, f->pub, 64);

	/* Without the newline and in upper case it is still one key. */
	assert_int_equal(hex_encode(f->pub, 64, line, sizeof(line)), 128);
	for (size_t i = 0; i < 128; i++)
		line[i] = (char)(line[i] >= 'a' ? line[i] - 32 : line[i]);
	write_bytes(path, line, 128);
	memset(pub, 0, 64);
	assert_int_equal(p256_load_public_hex(path, pub), 0);
	assert_memory_equal(pub, f->pub, 64);

	/* Short, long, not hex, off the curve: refused, output untouched. */
	memset(pub, 0xAA, 64);
	write_bytes(path, line, 126);
	assert_int_equal(p256_load_public_hex(path, pub), -1);
	line[128] = '0';
	line[129] = '0';
	write_bytes(path, line, 130);
	assert_int_equal(p256_load_public_hex(path, pub), -1);
	line[5] = 'g';
	write_bytes(path, line, 128);
	assert_int_equal(p256_load_public_hex(path, pub), -1);
	memcpy(bad, f->pub, 64);
	bad[63] ^= 1;
	assert_int_equal(p256_save_public_hex(bad, path), 0);
	assert_int_equal(p256_load_public_hex(path, pub), -1);
	memset(bad, 0xAA, 64);
	assert_memory_equal(pub, bad, 64);
	path_in(f, "missing.pub", path, sizeof(path));
	assert_int_equal(p256_load_public_hex(path, pub), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_known_answer),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_signature_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_digest_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scalars_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_r_plus_order_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_raw_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off_curve_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_like, setup, teardown),
		cmocka_unit_test(test_rfc6979_known_answers),
		cmocka_unit_test_setup_teardown(test_foreign_keys_cannot_sign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_load_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_replaces_and_fixes_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_fails_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_missing_and_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_foreign_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_hex_files, setup, teardown),
	};

	return cmocka_run_group_tests_name("p256", tests, NULL, NULL);
}
