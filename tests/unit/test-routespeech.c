/*
 * test-routespeech.c: phone/routespeech through its public API with PATH pointed at a
 * private directory: a fake espeak-ng there (a shell script) writes down each run's
 * arguments, so the tests see exactly what would be spoken: one run per sentence or one
 * joined run, voice and rate options, the text after "--", Chinese and shell
 * metacharacters passed as they are; a failing run stops the rest; bad arguments run
 * nothing; no espeak-ng (or one not executable) is its own error.
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

#include "../../phone/routespeech.h"

/* Each run appends "RUN", then one argument a line. */
static const char fake_espeak[] =
	"#!/bin/sh\n"
	"{ echo RUN; for a in \"$@\"; do printf '%s\\n' \"$a\"; done; } >>\"$FAKE_RECORD\"\n"
	"exit \"${FAKE_STATUS:-0}\"\n";

struct fixture {
	char dir[64];
	char record[96];
	char *saved_path;
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *path = getenv("PATH");
	char prog[128];

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-routespeech-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->record, sizeof(fx->record), "%s/record", fx->dir);
	snprintf(prog, sizeof(prog), "%s/espeak-ng", fx->dir);
	write_file(prog, fake_espeak, 0755);
	fx->saved_path = path != NULL ? strdup(path) : NULL;
	setenv("PATH", fx->dir, 1);
	setenv("FAKE_RECORD", fx->record, 1);
	unsetenv("FAKE_STATUS");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	if (fx->saved_path != NULL)
		setenv("PATH", fx->saved_path, 1);
	else
		unsetenv("PATH");
	free(fx->saved_path);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

/* What the fake wrote down, or "" when it never ran. */
static char *record(const struct fixture *fx)
{
	FILE *f = fopen(fx->record, "r");
	char *buf = calloc(1, 8192);
	size_t n;

	assert_non_null(buf);
	if (f == NULL)
		return buf;
	n = fread(buf, 1, 8191, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void assert_record(const struct fixture *fx, const char *want)
{
	char *got = record(fx);

	assert_string_equal(got, want);
	free(got);
}

static void test_one_run_a_sentence(void **state)
{
	const struct routespeech_options o = { "en-us", 150, false, true };
	const char *const sentences[] = { "Start at the entrance E.", "",
					  "Turn left onto the ramp." };

	assert_int_equal(routespeech_say(sentences, 3, &o), 0);
	assert_record(*state, "RUN\n-v\nen-us\n-s\n150\n--\nStart at the entrance E.\n"
			      "RUN\n-v\nen-us\n-s\n150\n--\nTurn left onto the ramp.\n");
}

static void test_joined(void **state)
{
	const struct routespeech_options o = { NULL, 0, true, false };
	const char *const sentences[] = { "Drive 20 m.", "到达车位 B1-05。", "", "-v is text." };

	assert_int_equal(routespeech_say(sentences, 4, &o), 0);
	assert_record(*state, "RUN\n--\nDrive 20 m. 到达车位 B1-05。 -v is text.\n");
}

static void test_no_shell(void **state)
{
	const struct fixture *fx = *state;
	const char *const sentences[] = { "$(touch pwned); `touch pwned` | rm -rf / &" };
	char pwned[96];

	assert_int_equal(routespeech_say(sentences, 1, NULL), 0);
	assert_record(fx, "RUN\n--\n$(touch pwned); `touch pwned` | rm -rf / &\n");
	snprintf(pwned, sizeof(pwned), "%s/pwned", fx->dir);
	assert_int_not_equal(access(pwned, F_OK), 0);
	assert_int_not_equal(access("pwned", F_OK), 0);
}

static void test_failed_run(void **state)
{
	const char *const sentences[] = { "One.", "Two." };

	setenv("FAKE_STATUS", "3", 1);
	assert_int_equal(routespeech_say(sentences, 2, NULL), -ROUTESPEECH_E_FAILED);
	unsetenv("FAKE_STATUS");
	assert_record(*state, "RUN\n--\nOne.\n"); /* the rest not spoken */
}

static void test_bad_arguments(void **state)
{
	const char *const sentences[] = { "One.", NULL };
	struct routespeech_options o = { "en; rm -rf /", 0, false, false };
	char *big = malloc(ROUTESPEECH_TEXT_MAX + 1);
	const char *const long_one[] = { big };

	assert_non_null(big);
	memset(big, 'a', ROUTESPEECH_TEXT_MAX);
	big[ROUTESPEECH_TEXT_MAX] = '\0';
	assert_int_equal(routespeech_say(sentences, 2, NULL), -ROUTESPEECH_E_INVALID);
	assert_int_equal(routespeech_say(sentences, 1, &o), -ROUTESPEECH_E_INVALID);
	o.voice = "-x"; /* would read as an option */
	assert_int_equal(routespeech_say(sentences, 1, &o), -ROUTESPEECH_E_INVALID);
	o.voice = "zh+f2";
	assert_int_equal(routespeech_say(sentences, 1, &o), 0);
	o.voice = NULL;
	o.rate = 5;
	assert_int_equal(routespeech_say(sentences, 1, &o), -ROUTESPEECH_E_INVALID);
	assert_int_equal(routespeech_say(NULL, 1, NULL), -ROUTESPEECH_E_INVALID);
	assert_int_equal(routespeech_say(long_one, 1, NULL), -ROUTESPEECH_E_INVALID);
	free(big);
	assert_record(*state, "RUN\n-v\nzh+f2\n--\nOne.\n"); /* the good one only */
	assert_int_equal(routespeech_say(sentences, 0, NULL), 0);
}

static void test_find(void **state)
{
	const struct fixture *fx = *state;
	char path[128], want[128], small[8];

	snprintf(want, sizeof(want), "%s/espeak-ng", fx->dir);
	setenv("PATH", "/nonexistent::", 1); /* an empty entry is the current directory */
	assert_int_equal(routespeech_find(path, sizeof(path)), -ROUTESPEECH_E_NOT_INSTALLED);
	snprintf(path, sizeof(path), "/nonexistent:%s", fx->dir);
	setenv("PATH", path, 1);
	assert_int_equal(routespeech_find(path, sizeof(path)), 0);
	assert_string_equal(path, want);
	assert_int_equal(routespeech_find(small, sizeof(small)), -ROUTESPEECH_E_NOT_INSTALLED);
}

static void test_not_installed(void **state)
{
	const struct fixture *fx = *state;
	const char *const sentences[] = { "Hello." };
	char empty[96], notexec[128];

	snprintf(empty, sizeof(empty), "%s/empty", fx->dir);
	assert_int_equal(mkdir(empty, 0755), 0);
	setenv("PATH", empty, 1);
	assert_int_equal(routespeech_say(sentences, 1, NULL), -ROUTESPEECH_E_NOT_INSTALLED);
	/* A file of that name that cannot be run does not count. */
	snprintf(notexec, sizeof(notexec), "%s/espeak-ng", empty);
	write_file(notexec, fake_espeak, 0644);
	assert_int_equal(routespeech_say(sentences, 1, NULL), -ROUTESPEECH_E_NOT_INSTALLED);
	unsetenv("PATH");
	assert_int_equal(routespeech_say(sentences, 1, NULL), -ROUTESPEECH_E_NOT_INSTALLED);
	assert_record(fx, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_run_a_sentence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_joined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_shell, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_installed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
