/*
 * test-log.c: lib/log through its public API: level names, level filtering, and the
 * exact shape of the line on stderr (captured by pointing fd 2 at a temporary file
 * only while logging, so that cmocka's own failure messages still reach the terminal).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/log.h"

#define CAPTURE_MAX 4096

struct capture {
	char path[64];
	int fd;       /* the temporary file */
	int saved_fd; /* the real stderr */
};

static int capture_start(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	snprintf(c->path, sizeof(c->path), "/tmp/test-log-XXXXXX");
	c->fd = mkstemp(c->path);
	assert_true(c->fd >= 0);
	c->saved_fd = dup(STDERR_FILENO);
	assert_true(c->saved_fd >= 0);
	log_init("/usr/sbin/parklockd", LOG_INFO);
	*state = c;
	return 0;
}

static int capture_stop(void **state)
{
	struct capture *c = *state;

	close(c->saved_fd);
	close(c->fd);
	unlink(c->path);
	free(c);
	return 0;
}

static void redirect(const struct capture *c)
{
	assert_int_equal(dup2(c->fd, STDERR_FILENO), STDERR_FILENO);
}

/*
 * Gives stderr back and returns everything logged since capture_start(),
 * NUL-terminated, in buf[0..CAPTURE_MAX).
 */
static size_t captured(const struct capture *c, char *buf)
{
	ssize_t n;

	assert_int_equal(dup2(c->saved_fd, STDERR_FILENO), STDERR_FILENO);
	n = pread(c->fd, buf, CAPTURE_MAX - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	return (size_t)n;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void test_level_parse(void **state)
{
	static const struct {
		const char *s;
		int ret;
		enum log_level level;
	} cases[] = {
		{ "error", 0, LOG_ERROR }, { "warn", 0, LOG_WARN },
		{ "info", 0, LOG_INFO },   { "debug", 0, LOG_DEBUG },
		{ "", -1, LOG_WARN },      { "ERROR", -1, LOG_WARN },
		{ "warning", -1, LOG_WARN }, { "inf", -1, LOG_WARN },
		{ "debug ", -1, LOG_WARN }, { "trace", -1, LOG_WARN },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum log_level got = LOG_WARN; /* left alone on error */

		assert_int_equal(log_level_parse(cases[i].s, &got), cases[i].ret);
		assert_int_equal(got, cases[i].level);
	}
}

static void test_line_format(void **state)
{
	struct capture *c = *state;
	char buf[CAPTURE_MAX], want[64];
	regex_t re;
	regmatch_t m[2];
	struct tm tm = { 0 };
	time_t now = time(NULL), stamp;

	redirect(c);
	log_info("spot %d opened by user %s", 42, "u7");
	captured(c, buf);
	assert_int_equal(regcomp(&re, "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})"
				 "\\.[0-9]{3}Z parklockd\\[[0-9]+\\] info: "
				 "spot 42 opened by user u7\n$", REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, buf, 2, m, 0), 0);
	regfree(&re);
	snprintf(want, sizeof(want), "parklockd[%ld] info:", (long)getpid());
	assert_non_null(strstr(buf, want));
	/* The stamp is UTC and now. */
	assert_int_equal(sscanf(buf, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
				&tm.tm_hour, &tm.tm_min, &tm.tm_sec), 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	stamp = timegm(&tm);
	assert_true(stamp >= now - 5 && stamp <= now + 5);
}

static void test_levels_filter(void **state)
{
	struct capture *c = *state;
	char buf[CAPTURE_MAX];

	redirect(c);
	log_init(NULL, LOG_WARN); /* NULL keeps the name */
	log_debug("d");
	log_info("i");
	log_warn("w");
	log_error("e");
	captured(c, buf);
	assert_int_equal(count_lines(buf), 2);
	assert_non_null(strstr(buf, "parklockd["));
	assert_non_null(strstr(buf, "] warn: w\n"));
	assert_non_null(strstr(buf, "] error: e\n"));
	assert_null(strstr(buf, "info"));

	redirect(c);
	log_init("gw", LOG_DEBUG);
	log_debug("now %s", "visible");
	captured(c, buf);
	assert_int_equal(count_lines(buf), 3);
	assert_non_null(strstr(buf, " gw["));
	assert_non_null(strstr(buf, "] debug: now visible\n"));
}

static void test_one_line_always(void **state)
{
	struct capture *c = *state;
	char buf[CAPTURE_MAX];
	char big[3000];

	redirect(c);
	log_warn("peer said %s", "hello\nXXXX-XX-XX fake[1] error: forged\r\x1b[2J");
	captured(c, buf);
	assert_int_equal(count_lines(buf), 1);
	assert_non_null(strstr(buf, "warn: peer said hello?XXXX-XX-XX fake[1] error: "
				    "forged??[2J\n"));

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	redirect(c);
	log_error("%s", big);
	assert_true(captured(c, buf) < 1200);
	assert_int_equal(count_lines(buf), 2);
	assert_int_equal(buf[strlen(buf) - 1], '\n');
}

static void test_errno_preserved(void **state)
{
	struct capture *c = *state;
	char buf[CAPTURE_MAX];
	int e1, e2;

	redirect(c);
	errno = ENOSPC;
	log_error("disk full");
	e1 = errno;
	errno = EINTR;
	log_debug("filtered");
	e2 = errno;
	captured(c, buf);
	assert_int_equal(e1, ENOSPC);
	assert_int_equal(e2, EINTR);
	assert_int_equal(count_lines(buf), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test_setup_teardown(test_line_format, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(test_levels_filter, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(test_one_line_always, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(test_errno_preserved, capture_start, capture_stop),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
