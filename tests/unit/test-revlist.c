/*
 * test-revlist.c: unit tests of phone/revlist.c: only site-wide REVOKE frames are kept,
 * an older or equal serial is ignored, each lock is handed a serial once, the IDs a list
 * names, and the file round-trips while a corrupt one is refused whole.
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

#include "../../lib/p256.h"
#include "../../lib/signer.h"
#include "../../phone/revlist.h"
#include "../support/test-proc.h"

struct fixture {
	EVP_PKEY *site;
	struct revlist *r;
	char dir[64], path[96];
};

/* A REVOKE frame of `serial` naming ids[0..n), to `target` (0: every lock). */
static size_t revoke_frame(struct fixture *f, uint32_t serial, uint32_t target,
			   const uint32_t *ids, uint16_t n, uint8_t *frame)
{
	union proto_mgmt_payload p;
	int len;

	memset(&p, 0, sizeof(p));
	p.revoke.count = n;
	memcpy(p.revoke.key_ids, ids, n * sizeof(ids[0]));
	len = signer_mgmt_frame(f->site, 1, 1, PROTO_MGMT_REVOKE, target, serial, &p, frame,
				PROTO_FRAME_MAX);
	assert_true(len > 0);
	return (size_t)len;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->site = p256_generate();
	f->r = calloc(1, sizeof(*f->r));
	assert_non_null(f->site);
	assert_non_null(f->r);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-revlist.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/revocations.json", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	EVP_PKEY_free(f->site);
	free(f->r);
	free(f);
	return 0;
}

static void test_newer_only(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[PROTO_FRAME_MAX];
	uint32_t ids[] = { 7, 9 };
	size_t len;

	len = revoke_frame(f, 2, 0, ids, 1, frame);
	assert_int_equal(revlist_put(f->r, 1, frame, len), 1);
	assert_true(revlist_names(f->r, 1, 7));
	assert_false(revlist_names(f->r, 1, 9));
	assert_false(revlist_names(f->r, 2, 7));
	/* The same serial, and an older one: ignored, the list held is unchanged. */
	len = revoke_frame(f, 2, 0, ids, 2, frame);
	assert_int_equal(revlist_put(f->r, 1, frame, len), 0);
	len = revoke_frame(f, 1, 0, ids, 2, frame);
	assert_int_equal(revlist_put(f->r, 1, frame, len), 0);
	assert_false(revlist_names(f->r, 1, 9));
	len = revoke_frame(f, 3, 0, ids, 2, frame);
	assert_int_equal(revlist_put(f->r, 1, frame, len), 1);
	assert_true(revlist_names(f->r, 1, 9));
	assert_int_equal(f->r->sites[0].serial, 3);
}

static void test_refuses_other_frames(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	uint32_t ids[] = { 7 };
	size_t len;
	int n;

	/* A list for one lock only is not one a phone carries to all. */
	len = revoke_frame(f, 5, 101, ids, 1, frame);
	assert_int_equal(revlist_put(f->r, 1, frame, len), -1);
	/* Not a REVOKE. */
	memset(&p, 0, sizeof(p));
	p.time = 1800000000;
	n = signer_mgmt_frame(f->site, 1, 1, PROTO_MGMT_SET_TIME, 0, 6, &p, frame, sizeof(frame));
	assert_true(n > 0);
	assert_int_equal(revlist_put(f->r, 1, frame, (size_t)n), -1);
	/* Garbage, and a cut frame. */
	memset(frame, 0xA5, 40);
	assert_int_equal(revlist_put(f->r, 1, frame, 40), -1);
	len = revoke_frame(f, 5, 0, ids, 1, frame);
	assert_int_equal(revlist_put(f->r, 1, frame, len - 1), -1);
	assert_int_equal(f->r->nsites, 0);
}

static void test_handed_once_per_serial(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[PROTO_FRAME_MAX];
	uint32_t ids[] = { 7 };
	size_t len;

	assert_null(revlist_due(f->r, 1, 101));
	len = revoke_frame(f, 4, 0, ids, 1, frame);
	assert_int_equal(revlist_put(f->r, 1, frame, len), 1);
	assert_non_null(revlist_due(f->r, 1, 101));
	revlist_given(f->r, 101, 4);
	assert_null(revlist_due(f->r, 1, 101));
	assert_non_null(revlist_due(f->r, 1, 102));
	len = revoke_frame(f, 5, 0, ids, 1, frame);
	assert_int_equal(revlist_put(f->r, 1, frame, len), 1);
	assert_non_null(revlist_due(f->r, 1, 101));
	/* Many locks: the oldest is forgotten, and handed the list once more. */
	for (uint32_t spot = 1000; spot < 1000 + REVLIST_LOCKS_MAX + 1; spot++)
		revlist_given(f->r, spot, 5);
	assert_int_equal(f->r->ngiven, REVLIST_LOCKS_MAX);
	assert_non_null(revlist_due(f->r, 1, 1000));
	assert_null(revlist_due(f->r, 1, 1000 + REVLIST_LOCKS_MAX));
}

static void test_file_round_trip_and_corrupt(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[PROTO_FRAME_MAX];
	uint32_t ids[] = { 11, 12 };
	struct stat st;
	char err[200];
	size_t len;

	len = revoke_frame(f, 9, 0, ids, 2, frame);
	assert_int_equal(revlist_put(f->r, 3, frame, len), 1);
	assert_int_equal(revlist_save(f->r, f->path), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	memset(f->r, 0x5A, sizeof(*f->r));
	assert_int_equal(revlist_load(f->r, f->path, err, sizeof(err)), 0);
	assert_int_equal(f->r->nsites, 1);
	assert_int_equal(f->r->sites[0].serial, 9);
	assert_true(revlist_names(f->r, 3, 12));
	assert_int_equal(f->r->ngiven, 0);
	assert_int_equal(test_write_file(f->path, "{\"version\":1,\"sites\":[{\"site_id\":3,"
						  "\"frame\":\"0011\"}]}"), 0);
	assert_int_equal(revlist_load(f->r, f->path, err, sizeof(err)), -1);
	assert_int_equal(f->r->nsites, 0);
	assert_int_equal(test_write_file(f->path, "nonsense"), 0);
	assert_int_equal(revlist_load(f->r, f->path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a revocation list"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_newer_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_other_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handed_once_per_serial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_round_trip_and_corrupt, setup, teardown),
	};

	return cmocka_run_group_tests_name("revlist", tests, NULL, NULL);
}
