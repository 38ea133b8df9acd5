/*
 * test-hook.c: server/hook through its public API: the three forms parse and every other
 * spec is refused; the file form appends whole lines to a 0600 file; the command form
 * passes each argument as one (no shell), and a failing or missing program fails with a
 * sentence that names it but not the message. The webhook form is test-notify.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../server/hook.h"

#define SECRET "123456 is your code"

struct fixture {
	char dir[64];
	char spec[256];
	struct hook hook;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-hook.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	int r;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	r = system(cmd);
	free(f);
	return r == 0 ? 0 : -1;
}

/* The whole of a small file into buf; its length. */
static size_t slurp(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, cap - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return n;
}

static void test_parse(void **state)
{
	static const char *const bad[] = {
		"", "file:", "command:", "webhook:", "mail:x", "File:/tmp/x", "file", " file:/x",
		"sms:+8613800000001",
	};
	char err[200], *long_spec;
	struct hook h;
	size_t i;

	(void)state;
	assert_int_equal(hook_parse("file:/tmp/x", &h, err, sizeof(err)), 0);
	assert_int_equal(h.kind, HOOK_FILE);
	assert_string_equal(h.target, "/tmp/x");
	assert_int_equal(hook_parse("command:/bin/true", &h, err, sizeof(err)), 0);
	assert_int_equal(h.kind, HOOK_COMMAND);
	assert_string_equal(h.target, "/bin/true");
	assert_int_equal(hook_parse("webhook:https://example.org/hook?a=1", &h, err,
				    sizeof(err)), 0);
	assert_int_equal(h.kind, HOOK_WEBHOOK);
	assert_string_equal(h.target, "https://example.org/hook?a=1");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (hook_parse(bad[i], &h, err, sizeof(err)) != -1)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(strlen(err) > 0);
	}
	assert_int_equal(hook_parse(NULL, &h, err, sizeof(err)), -1);

	/* A target of HOOK_TARGET_MAX - 1 bytes fits; one more does not. */
	long_spec = malloc(HOOK_TARGET_MAX + 16);
	assert_non_null(long_spec);
	memcpy(long_spec, "file:", 5);
	memset(long_spec + 5, 'a', HOOK_TARGET_MAX - 1);
	long_spec[5 + HOOK_TARGET_MAX - 1] = '\0';
	assert_int_equal(hook_parse(long_spec, &h, err, sizeof(err)), 0);
	assert_int_equal(strlen(h.target), HOOK_TARGET_MAX - 1);
	long_spec[5 + HOOK_TARGET_MAX - 1] = 'a';
	long_spec[5 + HOOK_TARGET_MAX] = '\0';
	assert_int_equal(hook_parse(long_spec, &h, err, sizeof(err)), -1);
	free(long_spec);
}

/* A hook that was never parsed sends nothing. */
static void test_unparsed_refused(void **state)
{
	struct hook_message m = { "x", NULL, "{}" };
	struct hook h;
	char err[200];

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(hook_send(&h, &m, err, sizeof(err)), -1);
	assert_true(strlen(err) > 0);
}

static void test_file(void **state)
{
	struct fixture *f = *state;
	struct hook_message m = { "+8613800000001 " SECRET, NULL, "{}" };
	char path[128], text[512], err[200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/sms.txt", f->dir);
	snprintf(f->spec, sizeof(f->spec), "file:%s", path);
	assert_int_equal(hook_parse(f->spec, &f->hook, err, sizeof(err)), 0);
	assert_int_equal(hook_send(&f->hook, &m, err, sizeof(err)), 0);
	m.line = "{\"a\":1}";
	assert_int_equal(hook_send(&f->hook, &m, err, sizeof(err)), 0);
	slurp(path, text, sizeof(text));
	assert_string_equal(text, "+8613800000001 " SECRET "\n{\"a\":1}\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* A directory that does not exist: the path is named, the message is not. */
	snprintf(f->spec, sizeof(f->spec), "file:%s/missing/sms.txt", f->dir);
	assert_int_equal(hook_parse(f->spec, &f->hook, err, sizeof(err)), 0);
	m.line = SECRET;
	assert_int_equal(hook_send(&f->hook, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/missing/sms.txt"));
	assert_null(strstr(err, "123456"));
}

static void test_command(void **state)
{
	struct fixture *f = *state;
	const char *args[] = { "+8613800000001", SECRET, NULL };
	struct hook_message m = { "unused", args, "{}" };
	char script[128], out[128], text[512], err[200];
	FILE *fp;

	snprintf(script, sizeof(script), "%s/send.sh", f->dir);
	snprintf(out, sizeof(out), "%s/cmd.out", f->dir);
	fp = fopen(script, "w");
	assert_non_null(fp);
	/* Each argument arrives whole; a shell would have split the message at spaces. */
	fprintf(fp, "#!/bin/sh\n[ $# -eq 2 ] || exit 3\nprintf '[%%s][%%s]\\n' \"$1\" \"$2\" "
		">> '%s'\n", out);
	fclose(fp);
	assert_int_equal(chmod(script, 0700), 0);
	snprintf(f->spec, sizeof(f->spec), "command:%s", script);
	assert_int_equal(hook_parse(f->spec, &f->hook, err, sizeof(err)), 0);
	assert_int_equal(hook_send(&f->hook, &m, err, sizeof(err)), 0);
	slurp(out, text, sizeof(text));
	assert_string_equal(text, "[+8613800000001][" SECRET "]\n");

	/* Another count of arguments: the script exits 3, and that is a failure. */
	args[1] = NULL;
	assert_int_equal(hook_send(&f->hook, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, script));
	assert_non_null(strstr(err, "failed"));

	/* More arguments than HOOK_ARGS_MAX: refused before anything runs. */
	{
		const char *many[HOOK_ARGS_MAX + 2];
		size_t i;

		for (i = 0; i < HOOK_ARGS_MAX + 1; i++)
			many[i] = "x";
		many[HOOK_ARGS_MAX + 1] = NULL;
		m.args = many;
		assert_int_equal(hook_send(&f->hook, &m, err, sizeof(err)), -1);
		m.args = args;
	}
	slurp(out, text, sizeof(text));
	assert_string_equal(text, "[+8613800000001][" SECRET "]\n");

	/* A program that does not exist. */
	snprintf(f->spec, sizeof(f->spec), "command:%s/missing-program", f->dir);
	assert_int_equal(hook_parse(f->spec, &f->hook, err, sizeof(err)), 0);
	args[1] = SECRET;
	assert_int_equal(hook_send(&f->hook, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing-program"));
	assert_null(strstr(err, "123456"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_unparsed_refused),
		cmocka_unit_test_setup_teardown(test_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
