/*
 * test-notify.c: unit tests of server/notify.c on the test site's database: the file
 * hook gets exactly one JSON line per notifying event, for the spot's managers only; a
 * spot without managers is skipped; the command hook runs its program with the JSON as
 * argument (no shell); a failing hook is retried with backoff and then given up; a
 * webhook gets the JSON by POST (a one-shot HTTP server written here). The hook forms
 * themselves are test-hook.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../server/event.h"
#include "../../server/hook.h"
#include "../../server/notify.h"
#include "../support/test-site-db.h"

#define NOW 1800000100

struct fixture {
	struct test_site_db *t;
	int64_t owner, attendant;
	struct hook hook; /* file:OUT */
	char out[192];
};

/* PREFIX TARGET, parsed into *h. */
static void parse_hook(const char *prefix, const char *target, struct hook *h)
{
	char spec[256], err[200];

	snprintf(spec, sizeof(spec), "%s%s", prefix, target);
	must(hook_parse(spec, h, err, sizeof(err)) == 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->t = test_site_db_new();
	test_site_db_import_good(f->t);
	f->owner = test_site_db_user(f->t, 1);
	f->attendant = test_site_db_user(f->t, 2);
	must(db_exec(f->t->db, "UPDATE spots SET owner_id = $1 WHERE id = 101", "i",
		     f->owner) == 0);
	snprintf(f->out, sizeof(f->out), "%s/notes.jsonl", f->t->dir);
	parse_hook("file:", f->out, &f->hook);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_site_db_free(f->t);
	free(f);
	return 0;
}

static void store(struct fixture *f, int64_t gw, int64_t spot, int64_t seq, uint8_t kind)
{
	struct event_stored out[1];
	struct event_error err;
	struct event_in e;
	size_t n;
	int64_t dups;

	memset(&e, 0, sizeof(e));
	e.spot = spot;
	e.seq = seq;
	e.kind = kind;
	e.user_id = 42;
	e.key_id = 9;
	assert_int_equal(event_ingest(f->t->db, gw, NOW, true, &e, 1, out, &n, &dups, &err), 0);
	event_stored_free(out, n);
}

/* The lines of a file, counted; the text into buf. */
static int lines(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;
	int count = 0;

	buf[0] = '\0';
	if (fp == NULL)
		return 0;
	n = fread(buf, 1, cap - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		count += buf[i] == '\n';
	return count;
}

static void test_kinds(void **state)
{
	(void)state;
	assert_true(notify_kind(PROTO_EV_UNLOCKED));
	assert_true(notify_kind(PROTO_EV_LOCKED));
	assert_true(notify_kind(PROTO_EV_CAR_ARRIVED));
	assert_true(notify_kind(PROTO_EV_CAR_LEFT));
	assert_true(notify_kind(PROTO_EV_FORCED));
	assert_true(notify_kind(PROTO_EV_JAMMED));
	assert_true(notify_kind(PROTO_EV_LOW_BATTERY));
	assert_true(notify_kind(PROTO_EV_LOCKOUT));
	assert_false(notify_kind(PROTO_EV_BOOT));
	assert_false(notify_kind(PROTO_EV_MGMT));
	assert_false(notify_kind(PROTO_EV_TIME_SET));
	assert_false(notify_kind(0));
	assert_false(notify_kind(200));
}

static void test_file_once_per_event(void **state)
{
	struct fixture *f = *state;
	char text[8192];
	json_object *j, *v, *to;

	store(f, 1, 101, 1, PROTO_EV_BOOT);        /* does not notify */
	store(f, 1, 101, 2, PROTO_EV_CAR_ARRIVED);
	store(f, 1, 101, 3, PROTO_EV_UNLOCKED);
	store(f, 1, 102, 1, PROTO_EV_CAR_ARRIVED); /* no manager */
	assert_int_equal(notify_pass(f->t->db, &f->hook, NOW), 3);
	assert_int_equal(lines(f->out, text, sizeof(text)), 2);
	/* Again: nothing new. */
	assert_int_equal(notify_pass(f->t->db, &f->hook, NOW + 100), 0);
	assert_int_equal(lines(f->out, text, sizeof(text)), 2);
	assert_int_equal(test_site_db_int(f->t->db, "SELECT count(*) FROM notifications WHERE "
					  "state = 'sent'"), 2);
	assert_int_equal(test_site_db_int(f->t->db, "SELECT count(*) FROM notifications WHERE "
					  "state = 'skipped'"), 1);

	*strchr(text, '\n') = '\0';
	j = json_tokener_parse(text);
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "event", &v));
	assert_true(json_object_object_get_ex(v, "kind", &v));
	assert_string_equal(json_object_get_string(v), "car_arrived");
	assert_true(json_object_object_get_ex(j, "text", &v));
	assert_string_equal(json_object_get_string(v), "B1-01: a car arrived.");
	assert_true(json_object_object_get_ex(j, "to", &to));
	assert_int_equal(json_object_array_length(to), 1);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(to, 0), "phone", &v));
	assert_string_equal(json_object_get_string(v), "+8613800000001");
	json_object_put(j);

	/* An attendant of the site is told too, from then on. */
	must(db_exec(f->t->db, "INSERT INTO roles (user_id, role, site_id) VALUES ($1, "
		     "'attendant', $2)", "ii", f->attendant, (int64_t)TEST_SITE_DB_SITE_ID) == 0);
	store(f, 1, 102, 2, PROTO_EV_FORCED);
	assert_int_equal(notify_pass(f->t->db, &f->hook, NOW), 1);
	assert_int_equal(lines(f->out, text, sizeof(text)), 3);
	assert_non_null(strstr(text, "+8613800000002"));
	assert_non_null(strstr(text, "B1-02: the barrier was pushed down by force."));
}

/* A server notification for one user (a share's requester) goes to that user only. */
static void test_one_user(void **state)
{
	struct fixture *f = *state;
	int64_t requester = test_site_db_user(f->t, 3);
	char text[8192];

	must(db_exec(f->t->db, "INSERT INTO notifications (kind, spot_id, user_id, created_at) "
		     "VALUES ('share_approved', 101, $1, $2)", "ii", requester,
		     (int64_t)NOW) == 0);
	must(db_exec(f->t->db, "INSERT INTO notifications (kind, spot_id, created_at) "
		     "VALUES ('share_pending', 101, $1)", "i", (int64_t)NOW) == 0);
	assert_int_equal(notify_pass(f->t->db, &f->hook, NOW), 2);
	assert_int_equal(lines(f->out, text, sizeof(text)), 2);
	/* The decision to the requester alone; the pending share to the spot's owner. */
	assert_non_null(strstr(text, "B1-01: the owner approved your share."));
	assert_non_null(strstr(text, "B1-01: a share of the spot waits for your approval."));
	assert_non_null(strstr(text, "\"to\":[{\"user_id\":"));
	assert_int_equal(test_site_db_int(f->t->db, "SELECT count(*) FROM notifications WHERE "
					  "recipients = '[' || (SELECT id FROM users WHERE "
					  "phone = '+8613800000003') || ']'"), 1);
	assert_int_equal(test_site_db_int(f->t->db, "SELECT count(*) FROM notifications WHERE "
					  "recipients = '[' || (SELECT owner_id FROM spots WHERE "
					  "id = 101) || ']'"), 1);
}

static void test_command_hook(void **state)
{
	struct fixture *f = *state;
	char script[192], out[192], text[8192];
	struct hook hook;
	FILE *fp;

	snprintf(script, sizeof(script), "%s/hook.sh", f->t->dir);
	snprintf(out, sizeof(out), "%s/cmd.out", f->t->dir);
	fp = fopen(script, "w");
	assert_non_null(fp);
	/* The JSON arrives as one argument; a shell would have split it at spaces. */
	fprintf(fp, "#!/bin/sh\n[ $# -eq 1 ] || exit 3\nprintf '%%s\\n' \"$1\" >> '%s'\n", out);
	fclose(fp);
	assert_int_equal(chmod(script, 0700), 0);
	parse_hook("command:", script, &hook);
	store(f, 1, 101, 1, PROTO_EV_LOCKOUT);
	store(f, 1, 101, 2, PROTO_EV_JAMMED);
	assert_int_equal(notify_pass(f->t->db, &hook, NOW), 2);
	assert_int_equal(lines(out, text, sizeof(text)), 2);
	assert_non_null(strstr(text, "\"kind\":\"lockout\""));
	assert_non_null(strstr(text, "\"kind\":\"jammed\""));
}

static void test_failing_hook_retried_then_given_up(void **state)
{
	struct fixture *f = *state;
	char missing[192];
	struct hook hook;
	int64_t now = NOW;
	int i;

	snprintf(missing, sizeof(missing), "%s/missing-program", f->t->dir);
	parse_hook("command:", missing, &hook);
	store(f, 1, 101, 1, PROTO_EV_CAR_LEFT);
	assert_int_equal(notify_pass(f->t->db, &hook, now), 1);
	assert_int_equal(test_site_db_int(f->t->db, "SELECT attempts FROM notifications"), 1);
	/* Not due again at once. */
	assert_int_equal(notify_pass(f->t->db, &hook, now), 0);
	for (i = 1; i < NOTIFY_ATTEMPTS; i++) {
		now += 10000;
		assert_int_equal(notify_pass(f->t->db, &hook, now), 1);
	}
	assert_int_equal(test_site_db_int(f->t->db, "SELECT count(*) FROM notifications WHERE "
					  "state = 'failed'"), 1);
	assert_int_equal(notify_pass(f->t->db, &hook, now + 100000), 0);
	/* The next one, with a working hook, goes out. */
	store(f, 1, 101, 2, PROTO_EV_CAR_ARRIVED);
	assert_int_equal(notify_pass(f->t->db, &f->hook, now), 1);
	assert_int_equal(test_site_db_int(f->t->db, "SELECT count(*) FROM notifications WHERE "
					  "state = 'sent'"), 1);
}

/* ---- a one-shot webhook receiver ---- */

struct receiver {
	int fd;
	char body[4096];
	char head[2048];
};

static void *receive_one(void *arg)
{
	struct receiver *r = arg;
	char buf[8192], *end, *cl;
	size_t have = 0, len = 0;
	ssize_t n;
	int c = accept(r->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	for (;;) {
		n = recv(c, buf + have, sizeof(buf) - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end == NULL)
			continue;
		cl = strstr(buf, "Content-Length:");
		len = cl != NULL ? strtoul(cl + 15, NULL, 10) : 0;
		if (have >= (size_t)(end - buf) + 4 + len) {
			snprintf(r->head, sizeof(r->head), "%.*s", (int)(end - buf), buf);
			snprintf(r->body, sizeof(r->body), "%.*s", (int)len, end + 4);
			break;
		}
	}
	send(c, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 46, MSG_NOSIGNAL);
	close(c);
	return NULL;
}

static void test_webhook(void **state)
{
	struct fixture *f = *state;
	struct receiver r;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	pthread_t th;
	char url[128];
	struct hook hook;

	memset(&r, 0, sizeof(r));
	r.fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(r.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(r.fd, 1), 0);
	assert_int_equal(getsockname(r.fd, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(pthread_create(&th, NULL, receive_one, &r), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/notify", ntohs(sa.sin_port));
	parse_hook("webhook:", url, &hook);
	store(f, 1, 101, 1, PROTO_EV_LOW_BATTERY);
	assert_int_equal(notify_pass(f->t->db, &hook, NOW), 1);
	pthread_join(th, NULL);
	close(r.fd);
	assert_non_null(strstr(r.head, "POST /notify"));
	assert_non_null(strstr(r.head, "Content-Type: application/json"));
	assert_non_null(strstr(r.body, "\"kind\":\"low_battery\""));
	assert_int_equal(test_site_db_int(f->t->db, "SELECT count(*) FROM notifications WHERE "
					  "state = 'sent'"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test_setup_teardown(test_file_once_per_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_hook_retried_then_given_up, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_webhook, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
