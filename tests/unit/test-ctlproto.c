/*
 * test-ctlproto.c: unit tests of phone/ctlproto.c over a socketpair: lines split across
 * reads and several in one read, an overlong line skipped up to its newline without
 * losing the next one, EOF and time-out, replies that are not JSON objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../phone/ctlproto.h"

struct fixture {
	int fd[2];
	struct ctl_reader *r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->fd), 0);
	f->r = malloc(sizeof(*f->r));
	assert_non_null(f->r);
	ctl_reader_init(f->r, f->fd[0]);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->fd[0]);
	if (f->fd[1] >= 0)
		close(f->fd[1]);
	free(f->r);
	free(f);
	return 0;
}

static void put(struct fixture *f, const char *text)
{
	assert_int_equal(write(f->fd[1], text, strlen(text)), (ssize_t)strlen(text));
}

static void expect_line(struct fixture *f, const char *want)
{
	char *line;

	assert_int_equal(ctl_read_line(f->r, &line, 1000), CTL_READ_LINE);
	assert_string_equal(line, want);
}

static void test_lines_split_and_joined(void **state)
{
	struct fixture *f = *state;

	put(f, "{\"a\":");
	put(f, "1}\n{\"b\":2}\n{\"c\"");
	expect_line(f, "{\"a\":1}");
	expect_line(f, "{\"b\":2}");
	put(f, ":3}\n\n");
	expect_line(f, "{\"c\":3}");
	expect_line(f, "");
}

struct writer {
	int fd;
	const char *p;
	size_t len;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;
	ssize_t n;

	while (off < w->len && (n = write(w->fd, w->p + off, w->len - off)) > 0)
		off += (size_t)n;
	return NULL;
}

static void test_overlong_line_skipped(void **state)
{
	struct fixture *f = *state;
	size_t len = CTL_LINE_MAX + 50;
	char *big = malloc(len + 64), *line;
	struct writer w = { f->fd[1], big, 0 };
	unsigned toolong = 0;
	pthread_t t;
	int k;

	assert_non_null(big);
	memset(big, 'x', len);
	memcpy(big + len, "\n{\"after\":1}\n", 14);
	w.len = len + 14;
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	/* The long line is reported once, and the line after it comes through whole. */
	while ((k = ctl_read_line(f->r, &line, 2000)) == CTL_READ_TOOLONG)
		toolong++;
	assert_int_equal(k, CTL_READ_LINE);
	assert_string_equal(line, "{\"after\":1}");
	assert_int_equal(toolong, 1);
	pthread_join(t, NULL);
	free(big);
}

static void test_eof_and_timeout(void **state)
{
	struct fixture *f = *state;
	char *line;

	assert_int_equal(ctl_read_line(f->r, &line, 50), CTL_READ_ERROR);
	assert_int_equal(errno, ETIMEDOUT);
	put(f, "partial");
	close(f->fd[1]);
	f->fd[1] = -1;
	assert_int_equal(ctl_read_line(f->r, &line, 1000), CTL_READ_EOF);
}

static void test_call_and_replies(void **state)
{
	struct fixture *f = *state;
	struct ctl_reader *peer = malloc(sizeof(*peer));
	json_object *req = json_object_new_object(), *reply = NULL, *e;
	char err[200], *line;

	assert_non_null(peer);
	ctl_reader_init(peer, f->fd[1]);
	json_object_object_add(req, "cmd", json_object_new_string("status"));
	/* The daemon's side answers before the call reads: the socket buffers it. */
	put(f, "");
	e = ctl_ok();
	assert_int_equal(ctl_write(f->fd[1], e), 0);
	json_object_put(e);
	assert_int_equal(ctl_call(f->r, req, &reply, 1000, err, sizeof(err)), 0);
	assert_non_null(reply);
	json_object_put(reply);
	assert_int_equal(ctl_read_line(peer, &line, 1000), CTL_READ_LINE);
	assert_string_equal(line, "{\"cmd\":\"status\"}");
	/* A reply that is not a JSON object is an error, with no reply object. */
	put(f, "[1,2]\n");
	assert_int_equal(ctl_call(f->r, req, &reply, 1000, err, sizeof(err)), -1);
	assert_null(reply);
	assert_non_null(strstr(err, "not a JSON object"));
	/* The error reply's shape. */
	e = ctl_error("no_key", "you hold no key for spot %d", 7);
	assert_string_equal(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN),
			    "{\"ok\":false,\"error\":\"no_key\",\"detail\":\"you hold no key for "
			    "spot 7\"}");
	json_object_put(e);
	json_object_put(req);
	free(peer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_split_and_joined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlong_line_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_and_replies, setup, teardown),
	};

	return cmocka_run_group_tests_name("ctlproto", tests, NULL, NULL);
}
