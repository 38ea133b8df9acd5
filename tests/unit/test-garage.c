/*
 * test-garage.c: unit tests of lockfw/host/garage.c: a good file with comments and a
 * site key; then every kind of bad line, each of which must name the file and line and
 * leave the caller's struct untouched; and the strict number parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/p256.h"
#include "../../lockfw/host/garage.h"

static char tmpdir[64];
static char conf_path[128];
static char key_path[128];
static uint8_t site_pub[64];

static int setup(void **state)
{
	EVP_PKEY *k;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-garage.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/garage.conf", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/site.pub", tmpdir);
	k = p256_generate();
	if (k == NULL || p256_public_raw(k, site_pub) != 0 ||
	    p256_save_public_hex(site_pub, key_path) != 0)
		return -1;
	EVP_PKEY_free(k);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	unlink(key_path);
	rmdir(tmpdir);
	return 0;
}

static void write_conf(const char *text, size_t len)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_good_file(void **state)
{
	static struct garage g;
	char text[1024], err[GARAGE_ERR_MAX] = "";

	(void)state;
	snprintf(text, sizeof(text),
		 "# the demo\n"
		 "\n"
		 "site 7   # trailing comment\n"
		 "dir run/locks\r\n"
		 "\tsite-key %s\n"
		 "lock 101 B1-001\n"
		 "lock 4294967295 B2_last.x\n"
		 "lock 3 abcdefghijklmnopqrstuvwxyz01234", key_path);
	write_conf(text, strlen(text));
	assert_int_equal(garage_load(conf_path, &g, err, sizeof(err)), 0);
	assert_int_equal(g.site_id, 7);
	assert_string_equal(g.dir, "run/locks");
	assert_true(g.has_site_key);
	assert_memory_equal(g.site_pub, site_pub, 64);
	assert_int_equal(g.count, 3);
	assert_int_equal(g.locks[0].spot_id, 101);
	assert_string_equal(g.locks[0].name, "B1-001");
	assert_int_equal(g.locks[1].spot_id, 4294967295u);
	assert_string_equal(g.locks[1].name, "B2_last.x");
	assert_string_equal(g.locks[2].name, "abcdefghijklmnopqrstuvwxyz01234");
	assert_ptr_equal(garage_find(&g, 101), &g.locks[0]);
	assert_null(garage_find(&g, 102));
}

static void test_no_site_key(void **state)
{
	static struct garage g;
	static const char text[] = "site 1\ndir d\nlock 1 A\n";
	char err[GARAGE_ERR_MAX];

	(void)state;
	write_conf(text, sizeof(text) - 1);
	assert_int_equal(garage_load(conf_path, &g, err, sizeof(err)), 0);
	assert_false(g.has_site_key);
	assert_int_equal(g.count, 1);
}

/* Loads `text` (len bytes) and expects failure at `line` with `what` in the message. */
static void expect_bad(const char *text, size_t len, unsigned line, const char *what)
{
	static struct garage g, before;
	char err[GARAGE_ERR_MAX] = "", prefix[200];

	write_conf(text, len);
	memset(&g, 0xA5, sizeof(g));
	before = g;
	assert_int_equal(garage_load(conf_path, &g, err, sizeof(err)), -1);
	snprintf(prefix, sizeof(prefix), "%s:%u: ", conf_path, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, what) == NULL)
		fail_msg("for %.40s... expected '%s...%s', got '%s'", text, prefix, what, err);
	assert_memory_equal(&g, &before, sizeof(g)); /* a bad file changes nothing */
}

#define BAD(text, line, what) expect_bad(text, sizeof(text) - 1, line, what)

static void test_bad_lines(void **state)
{
	(void)state;
	BAD("site 1\ndir d\nbogus 1\nlock 1 A\n", 3, "unknown keyword");
	BAD("site 0\ndir d\nlock 1 A\n", 1, "site ID");
	BAD("site x\ndir d\nlock 1 A\n", 1, "site ID");
	BAD("site -1\ndir d\nlock 1 A\n", 1, "site ID");
	BAD("site 4294967296\ndir d\nlock 1 A\n", 1, "site ID");
	BAD("site 01\ndir d\nlock 1 A\n", 1, "site ID");
	BAD("site\ndir d\nlock 1 A\n", 1, "expected 'site ID'");
	BAD("site 1 2\ndir d\nlock 1 A\n", 1, "expected 'site ID'");
	BAD("site 1\nsite 2\ndir d\nlock 1 A\n", 2, "first is on line 1");
	BAD("site 1\ndir d\ndir e\nlock 1 A\n", 3, "first is on line 2");
	BAD("site 1\ndir d\nlock 0 A\n", 3, "spot ID");
	BAD("site 1\ndir d\nlock 1x A\n", 3, "spot ID");
	BAD("site 1\ndir d\nlock 1\n", 3, "expected 'lock SPOT_ID NAME'");
	BAD("site 1\ndir d\nlock 1 A B\n", 3, "expected 'lock SPOT_ID NAME'");
	BAD("site 1\ndir d\nlock 1 A\nlock 1 B\n", 4, "spot 1 is listed twice");
	BAD("site 1\ndir d\nlock 1 A\nlock 2 A\n", 4, "used twice");
	BAD("site 1\ndir d\nlock 1 B1/017\n", 3, "letters, digits");
	BAD("site 1\ndir d\nlock 1 \xc3\xa9\n", 3, "letters, digits");
	BAD("site 1\ndir d\nlock 1 abcdefghijklmnopqrstuvwxyz012345\n", 3, "longer than 31");
	BAD("site 1\ndir d\nsite-key /nonexistent/site.pub\nlock 1 A\n", 3, "site public key");
	BAD("site 1\ndir d\nsite-key\nlock 1 A\n", 3, "expected 'site-key FILE'");
	BAD("dir d\nlock 1 A\n", 2, "without a 'site ID' line");
	BAD("site 1\nlock 1 A\n# end\n", 3, "without a 'dir PATH' line");
	BAD("site 1\ndir d\n", 2, "without a 'lock SPOT_ID NAME' line");
	BAD("", 0, "without a 'site ID' line");
	BAD("site 1\ndir d\nlock 1 A\0B\n", 3, "NUL byte");
}

static void test_bad_site_key_content(void **state)
{
	char text[512];
	FILE *f = fopen(key_path, "w");

	(void)state;
	assert_non_null(f);
	fputs("not hex at all\n", f);
	fclose(f);
	snprintf(text, sizeof(text), "site 1\ndir d\nlock 1 A\nsite-key %s\n", key_path);
	expect_bad(text, strlen(text), 4, "128 hex digits");
	assert_int_equal(p256_save_public_hex(site_pub, key_path), 0);
}

static void test_long_dir_and_line(void **state)
{
	char text[2048];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), "site 1\ndir %0*d\nlock 1 A\n",
			     GARAGE_DIR_MAX + 1, 0);
	expect_bad(text, n, 2, "directory path");
	memset(text, 0, sizeof(text));
	strcpy(text, "site 1\n# ");
	memset(text + strlen(text), 'x', GARAGE_LINE_MAX);
	strcat(text, "\ndir d\nlock 1 A\n");
	expect_bad(text, strlen(text), 2, "line longer than");
}

static void test_too_many_locks(void **state)
{
	static char text[GARAGE_LOCKS_MAX * 32 + 64];
	size_t n;
	unsigned i;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), "site 1\ndir d\n");
	for (i = 1; i <= GARAGE_LOCKS_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "lock %u L%u\n", i, i);
	write_conf(text, n);
	{
		static struct garage g;
		char err[GARAGE_ERR_MAX];

		assert_int_equal(garage_load(conf_path, &g, err, sizeof(err)), 0);
		assert_int_equal(g.count, GARAGE_LOCKS_MAX);
	}
	n += (size_t)snprintf(text + n, sizeof(text) - n, "lock 9999 extra\n");
	expect_bad(text, n, GARAGE_LOCKS_MAX + 3, "more than 256 locks");
}

static void test_missing_file(void **state)
{
	static struct garage g;
	char err[GARAGE_ERR_MAX] = "";

	(void)state;
	assert_int_equal(garage_load("/nonexistent/garage.conf", &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/garage.conf"));
}

static void test_parse_u32(void **state)
{
	uint32_t v = 77;

	(void)state;
	assert_int_equal(garage_parse_u32("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(garage_parse_u32("4294967295", &v), 0);
	assert_int_equal(v, 4294967295u);
	v = 77;
	assert_int_equal(garage_parse_u32("4294967296", &v), -1);
	assert_int_equal(garage_parse_u32("", &v), -1);
	assert_int_equal(garage_parse_u32("+1", &v), -1);
	assert_int_equal(garage_parse_u32("-1", &v), -1);
	assert_int_equal(garage_parse_u32("012", &v), -1);
	assert_int_equal(garage_parse_u32("12 ", &v), -1);
	assert_int_equal(garage_parse_u32("99999999999999999999999", &v), -1);
	assert_int_equal(v, 77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_no_site_key),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bad_site_key_content),
		cmocka_unit_test(test_long_dir_and_line),
		cmocka_unit_test(test_too_many_locks),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_parse_u32),
	};

	return cmocka_run_group_tests_name("garage", tests, setup, teardown);
}
