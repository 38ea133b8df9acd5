/*
 * test-keycache.c: server/keycache through its API: a miss, then the key kept under its
 * label as a reference of the cache's own (it outlives the caller's), the first key of a
 * label staying, the least recently used key going when the cache is full, labels that
 * differ only late or collide in no way, and the calls that must do nothing (no cache,
 * no key, a label too long). ASan checks that every reference is dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../lib/p256.h"
#include "../../server/keycache.h"
#include "../../server/keywrap.h"

/* The public half of a key, to tell keys apart. */
static void pub_of(EVP_PKEY *key, uint8_t pub[64])
{
	assert_non_null(key);
	assert_int_equal(p256_public_raw(key, pub), 0);
}

/* Whether the cache holds `want` under `label` (NULL: holds nothing there). */
static void assert_kept(struct keycache *c, const char *label, EVP_PKEY *want)
{
	uint8_t a[64], b[64], kept[64];
	EVP_PKEY *got = keycache_get(c, label, kept);

	if (want == NULL) {
		assert_null(got);
		return;
	}
	pub_of(got, a);
	pub_of(want, b);
	assert_memory_equal(a, b, 64);
	/* The public half kept beside it is the key's own. */
	assert_memory_equal(kept, b, 64);
	EVP_PKEY_free(got);
}

static void test_miss_then_kept(void **state)
{
	struct keycache *c = keycache_new(4);
	EVP_PKEY *k = p256_generate(), *got;
	uint8_t pub[64], again[64];

	(void)state;
	assert_non_null(c);
	assert_null(keycache_get(c, "site:7", NULL));
	pub_of(k, pub);
	keycache_put(c, "site:7", k);
	EVP_PKEY_free(k); /* the cache keeps its own reference */
	got = keycache_get(c, "site:7", NULL);
	pub_of(got, again);
	assert_memory_equal(pub, again, 64);
	/* The caller's reference outlives the cache too. */
	keycache_free(c);
	assert_int_equal(p256_public_raw(got, again), 0);
	EVP_PKEY_free(got);
}

static void test_first_key_stays(void **state)
{
	struct keycache *c = keycache_new(4);
	EVP_PKEY *a = p256_generate(), *b = p256_generate();

	(void)state;
	keycache_put(c, "reservation:42", a);
	keycache_put(c, "reservation:42", b);
	assert_kept(c, "reservation:42", a);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	keycache_free(c);
}

static void test_least_recently_used_goes(void **state)
{
	struct keycache *c = keycache_new(2);
	EVP_PKEY *a = p256_generate(), *b = p256_generate(), *d = p256_generate();

	(void)state;
	keycache_put(c, "site:1", a);
	keycache_put(c, "site:2", b);
	assert_kept(c, "site:1", a); /* site:2 is now the least recently used */
	keycache_put(c, "site:3", d);
	assert_kept(c, "site:2", NULL);
	assert_kept(c, "site:1", a);
	assert_kept(c, "site:3", d);
	/* And again, the other way round: site:1 was used before site:3. */
	assert_kept(c, "site:3", d);
	keycache_put(c, "site:2", b);
	assert_kept(c, "site:1", NULL);
	assert_kept(c, "site:2", b);
	assert_kept(c, "site:3", d);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(d);
	keycache_free(c);
}

static void test_many_labels(void **state)
{
	enum { N = 300 };
	struct keycache *c = keycache_new(N);
	EVP_PKEY *k[2] = { p256_generate(), p256_generate() };
	char label[KEYWRAP_LABEL_MAX];
	int i;

	(void)state;
	/* Labels that share their start and differ in the last digits, in every bucket. */
	for (i = 0; i < N; i++) {
		assert_int_equal(keywrap_label(label, i % 2 ? "site" : "reservation", i), 0);
		keycache_put(c, label, k[i % 2]);
	}
	for (i = 0; i < N; i++) {
		assert_int_equal(keywrap_label(label, i % 2 ? "site" : "reservation", i), 0);
		assert_kept(c, label, k[i % 2]);
		assert_int_equal(keywrap_label(label, i % 2 ? "reservation" : "site", i), 0);
		assert_kept(c, label, NULL);
	}
	EVP_PKEY_free(k[0]);
	EVP_PKEY_free(k[1]);
	keycache_free(c);
}

static void test_calls_that_do_nothing(void **state)
{
	struct keycache *c = keycache_new(2);
	EVP_PKEY *k = p256_generate();
	char long_label[KEYWRAP_LABEL_MAX + 8];

	(void)state;
	assert_null(keycache_new(0));
	assert_null(keycache_get(NULL, "site:1", NULL));
	keycache_put(NULL, "site:1", k);
	keycache_put(c, "site:1", NULL);
	assert_kept(c, "site:1", NULL);
	memset(long_label, 'x', sizeof(long_label) - 1);
	long_label[sizeof(long_label) - 1] = '\0';
	keycache_put(c, long_label, k);
	assert_kept(c, long_label, NULL);
	keycache_free(NULL);
	EVP_PKEY_free(k);
	keycache_free(c);
}

/* A key kept that is not P-256 has no public half to give: asked for one, it is a miss. */
static void test_public_half_only_of_p256(void **state)
{
	struct keycache *c = keycache_new(2);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519"), *got;
	uint8_t pub[64];

	(void)state;
	assert_non_null(c);
	assert_non_null(k);
	keycache_put(c, "site:9", k);
	memset(pub, 0xa5, sizeof(pub));
	assert_null(keycache_get(c, "site:9", pub));
	got = keycache_get(c, "site:9", NULL);
	assert_ptr_equal(got, k);
	EVP_PKEY_free(got);
	EVP_PKEY_free(k);
	keycache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_miss_then_kept),
		cmocka_unit_test(test_first_key_stays),
		cmocka_unit_test(test_least_recently_used_goes),
		cmocka_unit_test(test_many_labels),
		cmocka_unit_test(test_calls_that_do_nothing),
		cmocka_unit_test(test_public_half_only_of_p256),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
