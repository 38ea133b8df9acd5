/*
 * test-http.c: parkd's HTTP layer (http.h, http-stream.h) over real sockets, with a
 * route table of its own: this file defines routes_count() and routes_get(), so the
 * server's routes.c is not linked in. Captures, query and headers, 404/405/413/400/401
 * and a handler that forgets its reply, waiting handlers that block nobody else (and
 * run at once, however many), replies deferred by a handler on the event loop and
 * resumed from another thread (also when the client has gone; a stop waits for them,
 * and refuses a deferral that comes while it waits), event streams (pushed, ended, kept
 * alive, abandoned by the client, dropped when too slow, replaced by an error), and a
 * stop that lets a request in progress finish.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "../../server/config.h"
#include "../../server/http-stream.h"
#include "../../server/http.h"
#include "../../server/routes.h"
#include "../../server/server.h"

static char dir[64];
static struct config cfg;
static struct server *srv;
static struct http_server *hs;

/* The stream the last /stream request made, for the test to push into. */
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static void *slot; /* a struct http_stream * */
static atomic_int closed_calls;

/* The request the last /defer handler deferred, for the test to resume. */
static void *deferred; /* a struct http_request * */
static atomic_int cleanups;   /* cleanup() calls of deferred work */
static atomic_int finishes;   /* finish() calls */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- the test's routes ---- */

static json_object *str_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static void h_echo(struct server *s, struct http_request *req, struct http_reply *rep)
{
	json_object *o = json_object_new_object();

	(void)s;
	json_object_object_add(o, "a", str_or_null(req->params[0]));
	json_object_object_add(o, "b", str_or_null(req->params[1]));
	json_object_object_add(o, "q", str_or_null(http_query(req, "q")));
	json_object_object_add(o, "h", str_or_null(http_header(req, "x-test")));
	json_object_object_add(o, "target", str_or_null(req->target));
	json_object_object_add(o, "peer", str_or_null(req->peer));
	json_object_object_add(o, "len", json_object_new_int64((int64_t)req->body_len));
	json_object_object_add(o, "token", str_or_null(req->token));
	http_reply_json(rep, 200, o);
}

static void h_json(struct server *s, struct http_request *req, struct http_reply *rep)
{
	(void)s;
	http_reply_json(rep, 201, json_object_get(req->json));
}

static void h_none(struct server *s, struct http_request *req, struct http_reply *rep)
{
	(void)s;
	(void)req;
	(void)rep;
}

static void h_text(struct server *s, struct http_request *req, struct http_reply *rep)
{
	(void)s;
	(void)req;
	http_reply_text(rep, 200, "text/plain; charset=utf-8", strdup("hello\n"), 6);
}

static void h_busy(struct server *s, struct http_request *req, struct http_reply *rep)
{
	(void)s;
	(void)req;
	http_reply_error(rep, 503, "busy", "Busy; try again in %d seconds.", 7);
	rep->retry_after = 7;
}

static void h_user(struct server *s, struct http_request *req, struct http_reply *rep)
{
	(void)s;
	(void)req;
	rep->status = 204;
}

static void h_wait(struct server *s, struct http_request *req, struct http_reply *rep)
{
	json_object *o = json_object_new_object();
	uint64_t gen = 0;

	(void)req;
	(void)server_wait_gateways(s, 0, 0, &gen);
	json_object_object_add(o, "woken", json_object_new_int(server_wait_gateways(s, gen, 5000,
										   &gen)));
	http_reply_json(rep, 200, o);
}

static void h_slow(struct server *s, struct http_request *req, struct http_reply *rep)
{
	(void)s;
	(void)req;
	sleep_ms(300);
	http_reply_json(rep, 200, json_object_new_object());
}

static void on_closed(void *ctx, struct http_stream *st)
{
	(void)ctx;
	(void)st;
	atomic_fetch_add(&closed_calls, 1);
}

static void h_stream(struct server *s, struct http_request *req, struct http_reply *rep)
{
	struct http_stream *st;

	(void)s;
	(void)req;
	st = http_reply_stream(rep, on_closed, NULL);
	assert_non_null(st);
	pthread_mutex_lock(&slot_lock);
	assert_null(slot);
	slot = st;
	pthread_mutex_unlock(&slot_lock);
}

static void h_stream_refused(struct server *s, struct http_request *req, struct http_reply *rep)
{
	h_stream(s, req, rep);
	http_reply_error(rep, 403, "forbidden", "Not yours.");
}

/* The deferred work: a number the finish step replies with. */
static void defer_cleanup(void *work)
{
	free(work);
	atomic_fetch_add(&cleanups, 1);
}

static void h_defer_finish(struct server *s, struct http_request *req, struct http_reply *rep)
{
	json_object *o = json_object_new_object();

	(void)s;
	atomic_fetch_add(&finishes, 1);
	json_object_object_add(o, "work", json_object_new_int(*(int *)req->work));
	/* A finish may not defer again: the reply is due now. */
	json_object_object_add(o, "again", json_object_new_int(http_defer(req, h_defer_finish,
									   NULL, NULL)));
	http_reply_json(rep, 200, o);
}

static void h_defer(struct server *s, struct http_request *req, struct http_reply *rep)
{
	int *work = malloc(sizeof(*work));

	(void)s;
	assert_non_null(work);
	*work = 42;
	if (http_defer(req, h_defer_finish, work, defer_cleanup) != 0) {
		free(work);
		http_reply_error(rep, 409, "not_deferred", "http_defer refused.");
		return;
	}
	pthread_mutex_lock(&slot_lock);
	assert_null(deferred);
	deferred = req;
	pthread_mutex_unlock(&slot_lock);
}

static const struct http_route test_routes[] = {
	{ "GET", "/t/{a}/x/{b}", h_echo, 0, "echo", 0 },
	{ "POST", "/t/{a}/x/{b}", h_echo, 0, "echo", 0 },
	{ "POST", "/json", h_json, HTTP_JSON_BODY, "json back", 0 },
	{ "GET", "/none", h_none, 0, "no reply", 0 },
	{ "GET", "/text", h_text, 0, "text", 0 },
	{ "GET", "/busy", h_busy, 0, "503", 0 },
	{ "GET", "/user", h_user, HTTP_AUTH_USER, "needs a session", 0 },
	{ "GET", "/gw", h_user, HTTP_AUTH_GATEWAY, "needs a gateway", 0 },
	{ "GET", "/wait", h_wait, 0, "long poll", 0 },
	{ "GET", "/slow", h_slow, 0, "slow", 0 },
	{ "GET", "/stream", h_stream, 0, "events", 0 },
	{ "GET", "/stream-refused", h_stream_refused, 0, "events, then an error", 0 },
	{ "GET", "/defer", h_defer, HTTP_NO_WAIT, "deferred on the loop", 0 },
	{ "GET", "/defer-pool", h_defer, 0, "deferred from the pool: refused", 0 },
	{ "GET", "/loop-echo", h_echo, HTTP_NO_WAIT, "echo on the loop", 0 },
};

size_t routes_count(void)
{
	return sizeof(test_routes) / sizeof(test_routes[0]);
}

const struct http_route *routes_get(size_t i)
{
	return i < routes_count() ? &test_routes[i] : NULL;
}

/* ---- a client ---- */

struct resp {
	long status;
	char body[8192];
	size_t len;
	char hdrs[2048];
	size_t hlen;
	json_object *json;
	atomic_bool stop; /* a stream reader: abort at the next data */
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct resp *r = ctx;
	size_t len = size * n, room = sizeof(r->body) - 1 - r->len;

	if (atomic_load(&r->stop))
		return 0;
	memcpy(r->body + r->len, p, len < room ? len : room);
	r->len += len < room ? len : room;
	r->body[r->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct resp *r = ctx;
	size_t len = size * n, room = sizeof(r->hdrs) - 1 - r->hlen;

	memcpy(r->hdrs + r->hlen, p, len < room ? len : room);
	r->hlen += len < room ? len : room;
	r->hdrs[r->hlen] = '\0';
	return len;
}

static int xferinfo(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct resp *r = ctx;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return atomic_load(&r->stop) ? 1 : 0;
}

static long request(const char *method, const char *path, const char *hdr, const char *body,
		    size_t len, struct resp *r)
{
	struct curl_slist *h = NULL;
	char url[512];
	CURL *c = curl_easy_init();

	memset(r->body, 0, sizeof(r->body));
	r->len = r->hlen = 0;
	r->status = 0;
	r->json = NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)http_port(hs), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	h = curl_slist_append(h, "Expect:");
	if (hdr != NULL)
		h = curl_slist_append(h, hdr);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	r->json = json_tokener_parse(r->body);
	return r->status;
}

static const char *field(struct resp *r, const char *key)
{
	json_object *v;

	if (r->json == NULL || !json_object_object_get_ex(r->json, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static void expect_error(struct resp *r, long status, const char *code)
{
	if (r->status != status || field(r, "error") == NULL ||
	    strcmp(field(r, "error"), code) != 0)
		fail_msg("wanted %ld %s, got %ld %s", status, code, r->status, r->body);
	json_object_put(r->json);
	r->json = NULL;
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
	char err[CONFIG_ERR_MAX];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/test-http.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	config_defaults(&cfg);
	if (config_set(&cfg, "data_dir", dir, err, sizeof(err)) != 0 ||
	    config_set(&cfg, "listen", "127.0.0.1:0", err, sizeof(err)) != 0 ||
	    config_set(&cfg, "stream_keepalive_s", "1", err, sizeof(err)) != 0 ||
	    config_finish(&cfg, err, sizeof(err)) != 0)
		return -1;
	log_init("test-http", LOG_ERROR);
	if (server_open(&cfg, &srv) != 0)
		return -1;
	hs = http_start(srv);
	return hs != NULL && http_port(hs) != 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	server_stop(srv);
	http_stop(hs, 2000);
	server_close(srv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests ---- */

static void test_captures_query_headers(void **state)
{
	struct resp r = { 0 };

	(void)state;
	assert_int_equal(request("GET", "/t/one/x/t%77o?q=a%20b&z=1", "X-Test: yes", NULL, 0, &r),
			 200);
	assert_string_equal(field(&r, "a"), "one");
	assert_string_equal(field(&r, "b"), "two");
	assert_string_equal(field(&r, "q"), "a b");
	assert_string_equal(field(&r, "h"), "yes");
	assert_string_equal(field(&r, "target"), "/t/one/x/t%77o?q=a%20b&z=1");
	assert_string_equal(field(&r, "peer"), "127.0.0.1");
	assert_string_equal(field(&r, "len"), "0");
	assert_null(field(&r, "token"));
	assert_non_null(strstr(r.hdrs, "Cache-Control: no-store"));
	json_object_put(r.json);
	assert_int_equal(request("POST", "/t/1/x/2", "Authorization: bearer  tok", "abc", 3, &r),
			 200);
	assert_string_equal(field(&r, "len"), "3");
	assert_string_equal(field(&r, "token"), "tok");
	json_object_put(r.json);
}

static void test_routing_errors(void **state)
{
	struct resp r = { 0 };

	(void)state;
	request("GET", "/t/one/x", NULL, NULL, 0, &r);
	expect_error(&r, 404, "not_found");
	request("GET", "/t//x/b", NULL, NULL, 0, &r);
	expect_error(&r, 404, "not_found");
	request("GET", "/t/a/x/b/c", NULL, NULL, 0, &r);
	expect_error(&r, 404, "not_found");
	request("DELETE", "/t/a/x/b", NULL, NULL, 0, &r);
	assert_non_null(strstr(r.hdrs, "Allow: GET, POST"));
	expect_error(&r, 405, "method_not_allowed");
	request("GET", "/none", NULL, NULL, 0, &r);
	expect_error(&r, 500, "internal");
	request("GET", "/user", NULL, NULL, 0, &r);
	expect_error(&r, 401, "unauthenticated");
	request("GET", "/gw", "X-Park-Gateway: 1", NULL, 0, &r);
	expect_error(&r, 401, "unauthenticated");
	request("GET", "/busy", NULL, NULL, 0, &r);
	assert_non_null(strstr(r.hdrs, "Retry-After: 7"));
	expect_error(&r, 503, "busy");
	assert_int_equal(request("GET", "/text", NULL, NULL, 0, &r), 200);
	assert_string_equal(r.body, "hello\n");
	assert_non_null(strstr(r.hdrs, "Content-Type: text/plain"));
	json_object_put(r.json);
}

static void test_json_bodies(void **state)
{
	static char big[HTTP_BODY_MAX + 2];
	struct resp r = { 0 };

	(void)state;
	assert_int_equal(request("POST", "/json", NULL, "{\"a\":[1,{\"b\":null}]} \n", 22, &r),
			 201);
	assert_string_equal(r.body, "{\"a\":[1,{\"b\":null}]}");
	json_object_put(r.json);
	request("POST", "/json", NULL, "{\"a\":1}\0", 8, &r);
	expect_error(&r, 400, "bad_json");
	request("POST", "/json", NULL, "{\"a\":1", 6, &r);
	expect_error(&r, 400, "bad_json");
	request("POST", "/json", NULL, "1", 1, &r);
	expect_error(&r, 400, "bad_json");
	request("POST", "/json", NULL, NULL, 0, &r);
	expect_error(&r, 400, "bad_json");
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[HTTP_BODY_MAX - 1] = '}';
	assert_int_equal(request("POST", "/json", NULL, big, HTTP_BODY_MAX, &r), 201);
	json_object_put(r.json);
	big[HTTP_BODY_MAX] = '}';
	big[HTTP_BODY_MAX - 1] = ' ';
	request("POST", "/json", NULL, big, HTTP_BODY_MAX + 1, &r);
	expect_error(&r, 413, "body_too_large");
	/* Too large for a route that does not exist: 413 all the same, nothing routed. */
	request("POST", "/nowhere", NULL, big, HTTP_BODY_MAX + 1, &r);
	expect_error(&r, 413, "body_too_large");
}

/* Runs `sql` on the server's database file through a connection of the test's. */
static void db_run(const char *sql)
{
	char path[128];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/parkd.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* Sessions that cannot be read are the server's trouble: 503, never a 401 that logs out. */
static void test_sessions_unreadable_not_401(void **state)
{
	/* Well formed (SESSION_TOKEN_HEX hex digits), so that it is looked up. */
	static const char bearer[] = "Authorization: Bearer "
				     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct resp r = { 0 };

	(void)state;
	db_run("ALTER TABLE sessions RENAME TO sessions_away");
	request("GET", "/user", bearer, NULL, 0, &r);
	if (strstr(r.hdrs, "Retry-After: 1") == NULL)
		fail_msg("no Retry-After: %ld %s %s", r.status, r.hdrs, r.body);
	expect_error(&r, 503, "unavailable");
	db_run("ALTER TABLE sessions_away RENAME TO sessions");
	request("GET", "/user", bearer, NULL, 0, &r);
	expect_error(&r, 401, "unauthenticated");
}

struct bg {
	const char *path;
	struct resp r;
	pthread_t th;
	atomic_bool done;  /* r is complete: read it only then, or after the join */
};

static void *bg_request(void *arg)
{
	struct bg *b = arg;

	request("GET", b->path, NULL, NULL, 0, &b->r);
	atomic_store(&b->done, true);
	return NULL;
}

static void test_waiting_handler_blocks_nobody(void **state)
{
	struct bg b = { .path = "/wait" };
	struct resp r = { 0 };

	(void)state;
	assert_int_equal(pthread_create(&b.th, NULL, bg_request, &b), 0);
	sleep_ms(100);
	assert_int_equal(request("GET", "/text", NULL, NULL, 0, &r), 200);
	json_object_put(r.json);
	server_wake_gateways(srv);
	pthread_join(b.th, NULL);
	assert_int_equal(b.r.status, 200);
	assert_string_equal(field(&b.r, "woken"), "1");
	json_object_put(b.r.json);
}

/* Waits until a handler has left its pointer in *place (under slot_lock); takes it. */
static void *take_from(void **place)
{
	void *p = NULL;
	int i;

	for (i = 0; i < 500 && p == NULL; i++) {
		pthread_mutex_lock(&slot_lock);
		p = *place;
		*place = NULL;
		pthread_mutex_unlock(&slot_lock);
		if (p == NULL)
			sleep_ms(10);
	}
	assert_non_null(p);
	return p;
}

/* The stream of the last /stream request. */
static struct http_stream *take_slot(void)
{
	return take_from(&slot);
}

static void wait_body(struct resp *r, const char *want)
{
	int i;

	for (i = 0; i < 500 && strstr(r->body, want) == NULL; i++)
		sleep_ms(10);
	if (strstr(r->body, want) == NULL)
		fail_msg("the stream did not deliver '%s' (got '%s')", want, r->body);
}

/* Waits (up to 5 s) for *count to move on from `from`, then wants it exactly one more. */
static void wait_one_more(atomic_int *count, int from)
{
	int i;

	for (i = 0; i < 500 && atomic_load(count) == from; i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(count), from + 1);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Handlers that wait each get a thread: eight 300 ms waits take about 300 ms, not 2.4 s. */
static void test_waiting_handlers_run_at_once(void **state)
{
	struct bg b[8];
	struct timespec t0;
	size_t i;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 8; i++) {
		b[i] = (struct bg){ .path = "/slow" };
		assert_int_equal(pthread_create(&b[i].th, NULL, bg_request, &b[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(b[i].th, NULL);
		assert_int_equal(b[i].r.status, 200);
		json_object_put(b[i].r.json);
	}
	if (ms_since(&t0) >= 1500)
		fail_msg("8 waiting handlers took %ld ms: they ran one after another", ms_since(&t0));
}

/* The request the last /defer handler deferred. */
static struct http_request *take_deferred(void)
{
	return take_from(&deferred);
}

/* A deferred reply holds no thread of the loop: others are answered meanwhile. */
static void test_deferred_reply(void **state)
{
	struct bg b = { .path = "/defer" };
	struct http_request *req;
	struct resp r = { 0 };
	int c0 = atomic_load(&cleanups), f0 = atomic_load(&finishes), i;

	(void)state;
	assert_int_equal(pthread_create(&b.th, NULL, bg_request, &b), 0);
	req = take_deferred();
	/* More requests than the loops have threads, on the loop, while it waits. */
	for (i = 0; i < 8; i++) {
		assert_int_equal(request("GET", "/loop-echo?q=x", NULL, NULL, 0, &r), 200);
		assert_string_equal(field(&r, "q"), "x");
		json_object_put(r.json);
	}
	assert_false(atomic_load(&b.done)); /* still waiting */
	assert_int_equal(atomic_load(&finishes), f0);
	http_resume(req);
	pthread_join(b.th, NULL);
	assert_int_equal(b.r.status, 200);
	assert_string_equal(field(&b.r, "work"), "42");
	assert_string_equal(field(&b.r, "again"), "-1");
	json_object_put(b.r.json);
	assert_int_equal(atomic_load(&finishes), f0 + 1);
	wait_one_more(&cleanups, c0);
}

/* The client leaves before the work is done: the work is still cleaned up, once. */
static void test_deferred_client_gone(void **state)
{
	struct bg b = { .path = "/defer" };
	struct http_request *req;
	int c0 = atomic_load(&cleanups);

	(void)state;
	assert_int_equal(pthread_create(&b.th, NULL, bg_request, &b), 0);
	req = take_deferred();
	atomic_store(&b.r.stop, true); /* curl gives up at its next progress call */
	pthread_join(b.th, NULL);
	assert_int_equal(atomic_load(&cleanups), c0);
	http_resume(req);
	wait_one_more(&cleanups, c0);
}

/* Only a handler on the loop may defer: one on the pool is refused, and replies itself. */
static void test_defer_refused_off_the_loop(void **state)
{
	struct resp r = { 0 };
	int c0 = atomic_load(&cleanups);

	(void)state;
	request("GET", "/defer-pool", NULL, NULL, 0, &r);
	expect_error(&r, 409, "not_deferred");
	assert_int_equal(atomic_load(&cleanups), c0);
}

/* A stream with nothing to say sends a keepalive comment (stream_keepalive_s is 1 here). */
static void test_stream_keepalive(void **state)
{
	struct bg b = { .path = "/stream" };
	struct http_stream *st;
	struct timespec t0;
	int before = atomic_load(&closed_calls);

	(void)state;
	assert_int_equal(pthread_create(&b.th, NULL, bg_request, &b), 0);
	st = take_slot();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wait_body(&b.r, ": keepalive\n\n");
	if (ms_since(&t0) < 500)
		fail_msg("a keepalive came after %ld ms, before the stream was idle 1 s",
			 ms_since(&t0));
	/* Events still come after it. */
	assert_int_equal(http_stream_push(st, "event: a\n\n"), 0);
	wait_body(&b.r, "event: a\n\n");
	http_stream_end(st);
	pthread_join(b.th, NULL);
	assert_int_equal(b.r.status, 200);
	/* Closed before the next test counts closings. */
	wait_one_more(&closed_calls, before);
	http_stream_release(st);
}

static void test_stream_pushed_and_ended(void **state)
{
	struct bg b = { .path = "/stream" };
	struct http_stream *st;
	int before = atomic_load(&closed_calls);

	(void)state;
	assert_int_equal(pthread_create(&b.th, NULL, bg_request, &b), 0);
	st = take_slot();
	assert_false(http_stream_closed(st));
	assert_int_equal(http_stream_push(st, "event: a\ndata: {\"n\":1}\n\n"), 0);
	wait_body(&b.r, "data: {\"n\":1}\n\n");
	assert_int_equal(http_stream_push(st, "event: b\ndata: {\"n\":2}\n\n"), 0);
	assert_int_equal(http_stream_push(st, "event: c\ndata: {\"n\":3}\n\n"), 0);
	http_stream_end(st);
	assert_int_equal(http_stream_push(st, "event: d\n\n"), -1);
	pthread_join(b.th, NULL);
	assert_int_equal(b.r.status, 200);
	assert_non_null(strstr(b.r.hdrs, "Content-Type: text/event-stream"));
	assert_string_equal(b.r.body, "event: a\ndata: {\"n\":1}\n\nevent: b\ndata: {\"n\":2}\n\n"
			    "event: c\ndata: {\"n\":3}\n\n");
	/* The connection ended: the owner was told once, then lets go. */
	wait_one_more(&closed_calls, before);
	assert_true(http_stream_closed(st));
	http_stream_release(st);
	assert_int_equal(atomic_load(&closed_calls), before + 1);
}

static void test_stream_client_gone(void **state)
{
	struct bg b = { .path = "/stream" };
	struct http_stream *st;
	int before = atomic_load(&closed_calls), i;

	(void)state;
	assert_int_equal(pthread_create(&b.th, NULL, bg_request, &b), 0);
	st = take_slot();
	assert_int_equal(http_stream_push(st, "event: a\n\n"), 0);
	wait_body(&b.r, "event: a\n\n");
	atomic_store(&b.r.stop, true);
	assert_int_equal(http_stream_push(st, "event: b\n\n"), 0); /* the client aborts on it */
	pthread_join(b.th, NULL);
	/* Writing to the closed connection fails; the owner hears of it. */
	for (i = 0; i < 500 && atomic_load(&closed_calls) == before; i++) {
		(void)http_stream_push(st, "event: c\n\n");
		sleep_ms(10);
	}
	assert_int_equal(atomic_load(&closed_calls), before + 1);
	assert_true(http_stream_closed(st));
	assert_int_equal(http_stream_push(st, "event: d\n\n"), -1);
	http_stream_release(st);
}

static void test_stream_slow_client_dropped(void **state)
{
	struct sockaddr_in sa;
	struct http_stream *st;
	char chunk[1025], req[128];
	int fd, small = 2048, i, r = 0, before = atomic_load(&closed_calls);

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(http_port(hs));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	st = take_slot();
	memset(chunk, 'x', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\0';
	/* The client reads nothing: once the socket buffers are full, the queue fills. */
	for (i = 0; i < 100000 && r == 0; i++)
		r = http_stream_push(st, chunk);
	assert_int_equal(r, -1);
	assert_true(http_stream_closed(st));
	http_stream_release(st);
	/* Its connection goes when the client does. */
	close(fd);
	wait_one_more(&closed_calls, before);
}

static void test_stream_then_error(void **state)
{
	struct http_stream *st;
	struct resp r = { 0 };
	int before = atomic_load(&closed_calls);

	(void)state;
	request("GET", "/stream-refused", NULL, NULL, 0, &r);
	expect_error(&r, 403, "forbidden");
	st = take_slot();
	assert_true(http_stream_closed(st));
	assert_int_equal(atomic_load(&closed_calls), before + 1);
	assert_int_equal(http_stream_push(st, "event: a\n\n"), -1);
	http_stream_release(st);
}

struct stopper {
	pthread_t th;
	atomic_bool returned;
};

static void *stop_main(void *arg)
{
	struct stopper *st = arg;

	http_stop(hs, 100);
	atomic_store(&st->returned, true);
	return NULL;
}

/* A stop waits for a deferred reply, however long, since its writer will resume it. */
static void test_stop_waits_for_deferred(void **state)
{
	struct bg b = { .path = "/defer" };
	struct stopper st = { 0 };
	struct http_request *req;
	int c0 = atomic_load(&cleanups);

	(void)state;
	assert_int_equal(pthread_create(&b.th, NULL, bg_request, &b), 0);
	req = take_deferred();
	assert_int_equal(pthread_create(&st.th, NULL, stop_main, &st), 0);
	sleep_ms(400); /* well past the grace of 100 ms */
	assert_false(atomic_load(&st.returned));
	http_resume(req);
	pthread_join(st.th, NULL);
	hs = NULL;
	pthread_join(b.th, NULL);
	json_object_put(b.r.json);
	wait_one_more(&cleanups, c0);
	/* For the tests after it. */
	hs = http_start(srv);
	assert_non_null(hs);
}

/* A connected socket to the server, or fails the test. */
static int raw_connect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_port = htons(http_port(hs));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/*
 * A request whose headers came before the stop and whose body ends while the stop waits
 * for its last deferred replies is not deferred (libmicrohttpd would abort on a
 * connection suspended at its stop): its handler is refused and answers at once.
 */
static void test_stop_refuses_late_defer(void **state)
{
	static const char head[] = "GET /defer HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
				   "Connection: close\r\n\r\n";
	struct bg b = { .path = "/defer" };
	struct stopper st = { 0 };
	struct http_request *req, *late = NULL;
	char reply[512] = "";
	ssize_t n;
	size_t got = 0;
	int fd, i;

	(void)state;
	assert_int_equal(pthread_create(&b.th, NULL, bg_request, &b), 0);
	req = take_deferred();
	fd = raw_connect();
	assert_int_equal(write(fd, head, sizeof(head) - 1), (ssize_t)(sizeof(head) - 1));
	sleep_ms(100);
	assert_int_equal(pthread_create(&st.th, NULL, stop_main, &st), 0);
	sleep_ms(400); /* past the grace: the stop waits for the first reply only */
	assert_int_equal(write(fd, "x", 1), 1);
	/* Until the reply is whole (the server closes), or the request was deferred. */
	for (i = 0, n = -1; i < 300 && late == NULL && n != 0; i++) {
		pthread_mutex_lock(&slot_lock);
		late = deferred;
		deferred = NULL;
		pthread_mutex_unlock(&slot_lock);
		n = recv(fd, reply + got, sizeof(reply) - 1 - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		else if (n < 0)
			sleep_ms(10);
	}
	if (late != NULL)
		http_resume(late); /* deferred after all: let the stop end, then fail */
	http_resume(req);
	pthread_join(st.th, NULL);
	hs = NULL;
	pthread_join(b.th, NULL);
	json_object_put(b.r.json);
	close(fd);
	assert_null(late);
	assert_non_null(strstr(reply, "409"));
	assert_non_null(strstr(reply, "not_deferred"));
	hs = http_start(srv);
	assert_non_null(hs);
}

static void test_stop_lets_requests_finish(void **state)
{
	struct bg slow = { .path = "/slow" }, stream = { .path = "/stream" };
	struct http_stream *st;

	(void)state;
	assert_int_equal(pthread_create(&stream.th, NULL, bg_request, &stream), 0);
	st = take_slot();
	assert_int_equal(pthread_create(&slow.th, NULL, bg_request, &slow), 0);
	sleep_ms(100);
	/* The stream ends, the slow request completes, then the server is gone. */
	server_stop(srv);
	http_stop(hs, 5000);
	hs = NULL;
	pthread_join(slow.th, NULL);
	pthread_join(stream.th, NULL);
	assert_int_equal(slow.r.status, 200);
	assert_int_equal(stream.r.status, 200);
	assert_true(http_stream_closed(st));
	http_stream_release(st);
	json_object_put(slow.r.json);
	/* For the group's teardown. */
	hs = http_start(srv);
	assert_non_null(hs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captures_query_headers),
		cmocka_unit_test(test_routing_errors),
		cmocka_unit_test(test_json_bodies),
		cmocka_unit_test(test_sessions_unreadable_not_401),
		cmocka_unit_test(test_waiting_handler_blocks_nobody),
		cmocka_unit_test(test_waiting_handlers_run_at_once),
		cmocka_unit_test(test_deferred_reply),
		cmocka_unit_test(test_deferred_client_gone),
		cmocka_unit_test(test_defer_refused_off_the_loop),
		cmocka_unit_test(test_stream_keepalive),
		cmocka_unit_test(test_stream_pushed_and_ended),
		cmocka_unit_test(test_stream_client_gone),
		cmocka_unit_test(test_stream_slow_client_dropped),
		cmocka_unit_test(test_stream_then_error),
		cmocka_unit_test(test_stop_waits_for_deferred),
		cmocka_unit_test(test_stop_refuses_late_defer),
		cmocka_unit_test(test_stop_lets_requests_finish),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("http", tests, group_setup, group_teardown);
}
