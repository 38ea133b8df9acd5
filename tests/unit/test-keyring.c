/*
 * test-keyring.c: unit tests of phone/keyring.c: the e-key's bytes decode through the
 * protocol codec and must be bound to this device; the keys file round-trips, is written
 * 0600 and atomically, and a corrupt or foreign file is refused whole with nothing
 * loaded; the phone's own checks of not-before, not-after and the unlock count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/p256.h"
#include "../../lib/signer.h"
#include "../../lockfw/proto/wire.h"
#include "../../phone/keyring.h"
#include "../support/test-proc.h"

struct fixture {
	char dir[64], path[96];
	EVP_PKEY *device, *reservation;
	uint8_t pub[64];
	struct keyring *kr;
};

/* An e-key's 151 bytes for key_id at spot, with the given limits, bound to pub. */
static void make_ekey(struct fixture *f, uint32_t key_id, uint32_t spot, uint32_t nb,
		      uint32_t na, uint16_t max, const uint8_t pub[64], uint8_t raw[PROTO_EKEY_LEN])
{
	uint8_t tbs[4 + PROTO_EKEY_TBS_LEN];
	struct proto_ekey k;
	struct wire_writer w;

	memset(&k, 0, sizeof(k));
	k.key_id = key_id;
	k.user_id = 42;
	k.spot_id = spot;
	k.not_before = nb;
	k.not_after = na;
	k.max_unlocks = max;
	memcpy(k.device_pub, pub, 64);
	assert_int_equal(signer_ekey(f->reservation, &k), 0);
	/* On the wire: the signed fields without the string's 4-byte domain tag, then the
	 * signature (as server/key.c writes it). */
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_ekey(&w, &k);
	assert_false(w.error);
	assert_int_equal(w.off, sizeof(tbs));
	memcpy(raw, tbs + 4, PROTO_EKEY_TBS_LEN);
	memcpy(raw + PROTO_EKEY_TBS_LEN, k.sig, PROTO_SIG_LEN);
}

static void make_key(struct fixture *f, struct phone_key *k, uint32_t key_id, uint32_t spot,
		     uint32_t nb, uint32_t na, uint16_t max)
{
	uint8_t raw[PROTO_EKEY_LEN];
	char err[200];

	memset(k, 0, sizeof(*k));
	make_ekey(f, key_id, spot, nb, na, max, f->pub, raw);
	assert_int_equal(phone_key_set_raw(k, raw, sizeof(raw), f->pub, err, sizeof(err)), 0);
	k->site_id = 1;
	snprintf(k->spot_name, sizeof(k->spot_name), "B1-%02u", spot % 100);
	snprintf(k->address, sizeof(k->address), "/run/locks/%u.sock", spot);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-keyring.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/keys.json", f->dir);
	f->device = p256_generate();
	f->reservation = p256_generate();
	assert_non_null(f->device);
	assert_non_null(f->reservation);
	assert_int_equal(p256_public_raw(f->device, f->pub), 0);
	f->kr = calloc(1, sizeof(*f->kr));
	assert_non_null(f->kr);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	EVP_PKEY_free(f->device);
	EVP_PKEY_free(f->reservation);
	free(f->kr);
	free(f);
	return 0;
}

static void test_decode_and_binding(void **state)
{
	struct fixture *f = *state;
	uint8_t raw[PROTO_EKEY_LEN], other[64];
	struct phone_key k;
	EVP_PKEY *o = p256_generate();
	char err[200];

	make_ekey(f, 7, 101, 100, 200, 3, f->pub, raw);
	memset(&k, 0, sizeof(k));
	assert_int_equal(phone_key_set_raw(&k, raw, sizeof(raw), f->pub, err, sizeof(err)), 0);
	assert_int_equal(k.ekey.key_id, 7);
	assert_int_equal(k.ekey.spot_id, 101);
	assert_int_equal(k.ekey.not_before, 100);
	assert_int_equal(k.ekey.not_after, 200);
	assert_int_equal(k.ekey.max_unlocks, 3);
	assert_memory_equal(k.raw, raw, sizeof(raw));
	/* Bound to another device: refused, k unchanged. */
	assert_non_null(o);
	assert_int_equal(p256_public_raw(o, other), 0);
	EVP_PKEY_free(o);
	make_ekey(f, 8, 102, 0, PROTO_TIME_NONE_AFTER, 0, other, raw);
	assert_int_equal(phone_key_set_raw(&k, raw, sizeof(raw), f->pub, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another device"));
	assert_int_equal(k.ekey.key_id, 7);
	/* Short: refused. */
	assert_int_equal(phone_key_set_raw(&k, raw, sizeof(raw) - 1, f->pub, err, sizeof(err)), -1);
	assert_int_equal(k.ekey.key_id, 7);
}

static void test_round_trip_and_mode(void **state)
{
	struct fixture *f = *state;
	struct phone_key k;
	struct stat st;
	char err[200];

	make_key(f, &k, 1, 101, 0, PROTO_TIME_NONE_AFTER, 0);
	assert_int_equal(keyring_put(f->kr, &k), 0);
	make_key(f, &k, 2, 102, 10, 20, 5);
	k.used = 4;
	k.delivered = true;
	assert_int_equal(keyring_put(f->kr, &k), 0);
	assert_int_equal(keyring_save(f->kr, f->path), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	memset(f->kr, 0xAA, sizeof(*f->kr));
	assert_int_equal(keyring_load(f->kr, f->path, f->pub, err, sizeof(err)), 0);
	assert_int_equal(f->kr->count, 2);
	assert_int_equal(keyring_find(f->kr, 2)->used, 4);
	assert_true(keyring_find(f->kr, 2)->delivered);
	assert_false(keyring_find(f->kr, 1)->delivered);
	assert_string_equal(keyring_find(f->kr, 2)->address, "/run/locks/102.sock");
	assert_null(keyring_find(f->kr, 3));
}

static void test_missing_file_is_empty(void **state)
{
	struct fixture *f = *state;
	char err[200];

	f->kr->count = 5;
	assert_int_equal(keyring_load(f->kr, f->path, f->pub, err, sizeof(err)), 0);
	assert_int_equal(f->kr->count, 0);
}

static void test_corrupt_files_refused_whole(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"",
		"not json",
		"{\"version\":2,\"keys\":[]}",
		"{\"version\":1}",
		"{\"version\":1,\"keys\":{}}",
		"{\"version\":1,\"keys\":[{\"site_id\":1,\"used\":0}]}",
		"{\"version\":1,\"keys\":[{\"ekey\":\"00\",\"site_id\":1,\"used\":0}]}",
		"{\"version\":1,\"keys\":[{\"ekey\":7,\"site_id\":1,\"used\":0}]}",
	};
	struct phone_key k;
	char err[200];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(test_write_file(f->path, bad[i]), 0);
		f->kr->count = 3;
		err[0] = '\0';
		assert_int_equal(keyring_load(f->kr, f->path, f->pub, err, sizeof(err)), -1);
		assert_int_equal(f->kr->count, 0);
		assert_non_null(strstr(err, "corrupt"));
	}
	/* A good key followed by a bad one: nothing of it is loaded. */
	f->kr->count = 0;
	make_key(f, &k, 1, 101, 0, PROTO_TIME_NONE_AFTER, 0);
	assert_int_equal(keyring_put(f->kr, &k), 0);
	assert_int_equal(keyring_save(f->kr, f->path), 0);
	{
		char text[4096], *end;

		test_read_file(f->path, text, sizeof(text));
		end = strrchr(text, ']');
		assert_non_null(end);
		snprintf(end, sizeof(text) - (size_t)(end - text), ",{\"ekey\":\"zz\"}]}");
		assert_int_equal(test_write_file(f->path, text), 0);
	}
	assert_int_equal(keyring_load(f->kr, f->path, f->pub, err, sizeof(err)), -1);
	assert_int_equal(f->kr->count, 0);
}

static void test_another_devices_file_refused(void **state)
{
	struct fixture *f = *state;
	struct phone_key k;
	uint8_t other[64];
	char err[200];

	make_key(f, &k, 1, 101, 0, PROTO_TIME_NONE_AFTER, 0);
	assert_int_equal(keyring_put(f->kr, &k), 0);
	assert_int_equal(keyring_save(f->kr, f->path), 0);
	memcpy(other, f->pub, sizeof(other));
	other[5] ^= 1;
	assert_int_equal(keyring_load(f->kr, f->path, other, err, sizeof(err)), -1);
	assert_int_equal(f->kr->count, 0);
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	struct phone_key k;
	char text[256];

	make_key(f, &k, 1, 101, 1000, 2000, 2);
	assert_int_equal(phone_key_check(&k, 999), KEY_NOT_YET);
	assert_int_equal(phone_key_check(&k, 1000), KEY_OK);
	assert_int_equal(phone_key_check(&k, 2000), KEY_OK);
	assert_int_equal(phone_key_check(&k, 2001), KEY_EXPIRED);
	k.used = 1;
	assert_int_equal(phone_key_check(&k, 1500), KEY_OK);
	k.used = 2;
	assert_int_equal(phone_key_check(&k, 1500), KEY_USED_UP);
	phone_key_explain(&k, KEY_USED_UP, text, sizeof(text));
	assert_non_null(strstr(text, "2 of 2"));
	phone_key_explain(&k, KEY_EXPIRED, text, sizeof(text));
	assert_non_null(strstr(text, "expired"));
	/* Unlimited: no bound holds. */
	make_key(f, &k, 2, 101, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER,
		 PROTO_UNLIMITED_USES);
	k.used = 60000;
	assert_int_equal(phone_key_check(&k, 0), KEY_OK);
	assert_int_equal(phone_key_check(&k, UINT32_MAX), KEY_OK);
}

static void test_for_spot_and_put(void **state)
{
	struct fixture *f = *state;
	struct phone_key k;
	size_t i;

	make_key(f, &k, 1, 101, 0, 100, 0); /* expired at 500 */
	assert_int_equal(keyring_put(f->kr, &k), 0);
	make_key(f, &k, 2, 101, 0, 1000, 0);
	assert_int_equal(keyring_put(f->kr, &k), 0);
	make_key(f, &k, 3, 101, 0, 100, 0); /* the newest, but expired */
	assert_int_equal(keyring_put(f->kr, &k), 0);
	assert_int_equal(keyring_for_spot(f->kr, 101, 500)->ekey.key_id, 2);
	assert_int_equal(keyring_for_spot(f->kr, 101, 5000)->ekey.key_id, 3);
	assert_null(keyring_for_spot(f->kr, 102, 500));
	/* Putting a key again keeps the larger use count. */
	keyring_find(f->kr, 2)->used = 9;
	make_key(f, &k, 2, 101, 0, 1000, 0);
	assert_int_equal(keyring_put(f->kr, &k), 0);
	assert_int_equal(f->kr->count, 3);
	assert_int_equal(keyring_find(f->kr, 2)->used, 9);
	/* Full: refused, nothing changed. */
	for (i = f->kr->count; i < KEYRING_MAX; i++) {
		f->kr->keys[i] = k;
		f->kr->keys[i].ekey.key_id = (uint32_t)(1000 + i);
	}
	f->kr->count = KEYRING_MAX;
	k.ekey.key_id = 99999;
	assert_int_equal(keyring_put(f->kr, &k), -1);
	assert_int_equal(f->kr->count, KEYRING_MAX);
}

/* A shared key's 160 bytes: share 50 of key 7 at spot 101 for recipient 43, to pub. */
static void make_skey(struct fixture *f, const uint8_t pub[64], uint8_t raw[PROTO_SKEY_LEN])
{
	uint8_t tbs[4 + PROTO_SKEY_TBS_LEN];
	struct proto_skey k;
	struct wire_writer w;

	memset(&k, 0, sizeof(k));
	k.share_id = 50;
	k.parent_key_id = 7;
	k.sharer_id = 42;
	k.recipient_id = 43;
	k.spot_id = 101;
	k.not_before = 100;
	k.not_after = 300;
	k.max_unlocks = 2;
	k.mode = PROTO_SHARE_TRANSFER;
	memcpy(k.device_pub, pub, 64);
	assert_int_equal(signer_skey(f->reservation, &k), 0);
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_skey(&w, &k);
	assert_false(w.error);
	assert_int_equal(w.off, sizeof(tbs));
	memcpy(raw, tbs + 4, PROTO_SKEY_TBS_LEN);
	memcpy(raw + PROTO_SKEY_TBS_LEN, k.sig, PROTO_SIG_LEN);
}

static void test_shared_key(void **state)
{
	struct fixture *f = *state;
	uint8_t raw[PROTO_SKEY_LEN], other[64];
	struct phone_key k;
	char err[200];

	make_skey(f, f->pub, raw);
	memset(&k, 0, sizeof(k));
	assert_int_equal(phone_key_set_shared(&k, raw, sizeof(raw), f->pub, err, sizeof(err)), 0);
	assert_true(k.shared);
	/* One shape for every check: the share's ID, recipient, spot and limits. */
	assert_int_equal(k.ekey.key_id, 50);
	assert_int_equal(k.ekey.user_id, 43);
	assert_int_equal(k.ekey.spot_id, 101);
	assert_int_equal(k.skey.parent_key_id, 7);
	assert_int_equal(k.skey.mode, PROTO_SHARE_TRANSFER);
	assert_int_equal(phone_key_check(&k, 200), KEY_OK);
	assert_int_equal(phone_key_check(&k, 301), KEY_EXPIRED);
	k.used = 2;
	assert_int_equal(phone_key_check(&k, 200), KEY_USED_UP);
	/* Round trip through the file as a shared key. */
	k.used = 1;
	k.site_id = 1;
	assert_int_equal(keyring_put(f->kr, &k), 0);
	assert_int_equal(keyring_save(f->kr, f->path), 0);
	assert_int_equal(keyring_load(f->kr, f->path, f->pub, err, sizeof(err)), 0);
	assert_int_equal(f->kr->count, 1);
	assert_true(f->kr->keys[0].shared);
	assert_memory_equal(f->kr->keys[0].raw, raw, sizeof(raw));
	assert_int_equal(f->kr->keys[0].used, 1);
	/* For another device: refused, k unchanged; a cut key: refused. */
	memcpy(other, f->pub, sizeof(other));
	other[0] ^= 0x80;
	assert_int_equal(phone_key_set_shared(&k, raw, sizeof(raw), other, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another device"));
	assert_int_equal(phone_key_set_shared(&k, raw, sizeof(raw) - 1, f->pub, err, sizeof(err)),
			 -1);
	assert_int_equal(k.ekey.key_id, 50);
	/* Removing it. */
	assert_int_equal(keyring_remove(f->kr, 50), 0);
	assert_int_equal(keyring_remove(f->kr, 50), -1);
	assert_int_equal(f->kr->count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_decode_and_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_and_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_files_refused_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_another_devices_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_for_spot_and_put, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_key, setup, teardown),
	};

	return cmocka_run_group_tests_name("keyring", tests, NULL, NULL);
}
