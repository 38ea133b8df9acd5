/*
 * test-apiclient.c: unit tests of lib/apiclient.c against a tiny HTTP/1.1 server written
 * here (one thread, loopback, scripted replies): JSON both ways, error replies, retries
 * and what is never retried, connection reuse, the signer hook, time-outs, cancelling,
 * server-sent events, and that an https URL to a peer without a certificate fails.
 */
#define _GNU_SOURCE /* strcasestr */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/apiclient.h"

#define SCRIPT_MAX 8
#define REQ_MAX 16

struct canned {
	int status;
	const char *body;      /* reply body (Content-Length framed), or an SSE stream */
	int delay_ms;          /* before the reply */
	int close;             /* close the connection after the reply */
	int sse;               /* send body without length, then close */
};

struct seen_req {
	char method[8];
	char target[256];
	char headers[2048];
	char body[4096];
};

struct server {
	int listen_fd;
	int port;
	pthread_t thread;
	pthread_mutex_t mu;
	int stop;
	struct canned script[SCRIPT_MAX];
	int nscript, next;
	struct seen_req req[REQ_MAX];
	int nreq;
	int connections;
};

static struct server srv;

/* ---- the server ---- */

static int read_request(int fd, char *buf, size_t cap, size_t *have, size_t *hdr_end,
			size_t *body_len)
{
	char *end, *cl;
	ssize_t n;

	for (;;) {
		buf[*have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL) {
			*hdr_end = (size_t)(end - buf) + 4;
			cl = strcasestr(buf, "\r\nContent-Length:");
			*body_len = cl != NULL && cl < end ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
			if (*have >= *hdr_end + *body_len)
				return 0;
		}
		if (*have + 1 >= cap)
			return -1;
		n = recv(fd, buf + *have, cap - 1 - *have, 0);
		if (n <= 0)
			return -1;
		*have += (size_t)n;
	}
}

static void send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0 && (w = send(fd, p, n, MSG_NOSIGNAL)) > 0) {
		p += w;
		n -= (size_t)w;
	}
}

static void serve_connection(int fd)
{
	static char buf[65536];
	struct canned c;
	struct seen_req *r;
	size_t have = 0, hdr_end, body_len, used;
	char head[256];
	struct timespec ts;

	for (;;) {
		if (read_request(fd, buf, sizeof(buf), &have, &hdr_end, &body_len) != 0)
			return;
		pthread_mutex_lock(&srv.mu);
		c = srv.next < srv.nscript ? srv.script[srv.next++] :
					     (struct canned){ 200, "{}", 0, 0, 0 };
		if (srv.nreq < REQ_MAX) {
			r = &srv.req[srv.nreq++];
			sscanf(buf, "%7s %255s", r->method, r->target);
			snprintf(r->headers, sizeof(r->headers), "%.*s", (int)hdr_end, buf);
			snprintf(r->body, sizeof(r->body), "%.*s", (int)body_len, buf + hdr_end);
		}
		pthread_mutex_unlock(&srv.mu);
		used = hdr_end + body_len;
		memmove(buf, buf + used, have - used);
		have -= used;
		if (c.delay_ms > 0) {
			ts.tv_sec = c.delay_ms / 1000;
			ts.tv_nsec = (c.delay_ms % 1000) * 1000000L;
			nanosleep(&ts, NULL);
		}
		if (c.sse) {
			snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: "
				 "text/event-stream\r\nConnection: close\r\n\r\n", c.status);
			send_all(fd, head, strlen(head));
			send_all(fd, c.body, strlen(c.body));
			return;
		}
		snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n%s\r\n", c.status, strlen(c.body),
			 c.close ? "Connection: close\r\n" : "");
		send_all(fd, head, strlen(head));
		send_all(fd, c.body, strlen(c.body));
		if (c.close)
			return;
	}
}

static void *server_main(void *arg)
{
	struct pollfd p;
	int fd;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&srv.mu);
		if (srv.stop) {
			pthread_mutex_unlock(&srv.mu);
			return NULL;
		}
		pthread_mutex_unlock(&srv.mu);
		p.fd = srv.listen_fd;
		p.events = POLLIN;
		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(srv.listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&srv.mu);
		srv.connections++;
		pthread_mutex_unlock(&srv.mu);
		serve_connection(fd);
		close(fd);
	}
}

static void script(const struct canned *c, int n)
{
	pthread_mutex_lock(&srv.mu);
	if (n > 0)
		memcpy(srv.script, c, (size_t)n * sizeof(*c));
	srv.nscript = n;
	srv.next = 0;
	srv.nreq = 0;
	srv.connections = 0;
	pthread_mutex_unlock(&srv.mu);
}

static int setup(void **state)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	(void)state;
	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.mu, NULL);
	srv.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (srv.listen_fd < 0 || bind(srv.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(srv.listen_fd, 8) != 0 ||
	    getsockname(srv.listen_fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	srv.port = ntohs(sa.sin_port);
	return pthread_create(&srv.thread, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	pthread_mutex_lock(&srv.mu);
	srv.stop = 1;
	pthread_mutex_unlock(&srv.mu);
	pthread_join(srv.thread, NULL);
	close(srv.listen_fd);
	return 0;
}

/* ---- the client side ---- */

static char base[64];

static struct apiclient *client(unsigned retries, long timeout_ms, apiclient_sign_fn sign,
				void *arg, const atomic_int *cancel)
{
	struct apiclient_opts o;
	struct apiclient *c;

	memset(&o, 0, sizeof(o));
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", srv.port);
	o.base_url = base;
	o.retries = retries;
	o.timeout_ms = timeout_ms;
	o.backoff_ms = 10;
	o.backoff_max_ms = 40;
	o.sign = sign;
	o.sign_arg = arg;
	o.cancel = cancel;
	c = apiclient_new(&o);
	assert_non_null(c);
	return c;
}

static void test_get_json(void **state)
{
	struct canned c[] = { { 200, "{\"a\":1,\"b\":\"x\"}", 0, 0, 0 } };
	struct apiclient *api;
	json_object *reply = NULL, *v;

	(void)state;
	script(c, 1);
	api = client(0, 0, NULL, NULL, NULL);
	assert_int_equal(apiclient_call(api, "GET", "/v1/me?x=1", NULL, 0, 0, &reply, NULL), 200);
	assert_non_null(reply);
	assert_true(json_object_object_get_ex(reply, "a", &v));
	assert_int_equal(json_object_get_int(v), 1);
	json_object_put(reply);
	assert_int_equal(srv.nreq, 1);
	assert_string_equal(srv.req[0].method, "GET");
	assert_string_equal(srv.req[0].target, "/v1/me?x=1");
	assert_non_null(strcasestr(srv.req[0].headers, "Accept: application/json"));
	apiclient_free(api);
}

static void test_post_json_and_token(void **state)
{
	struct canned c[] = { { 201, "{\"ok\":true}", 0, 0, 0 }, { 204, "", 0, 0, 0 } };
	struct apiclient *api;
	json_object *body = json_object_new_object(), *reply = (json_object *)1;

	(void)state;
	script(c, 2);
	api = client(0, 0, NULL, NULL, NULL);
	assert_int_equal(apiclient_set_token(api, "tok123"), 0);
	assert_int_equal(apiclient_set_token(api, "bad\r\ntoken"), -1);
	json_object_object_add(body, "phone", json_object_new_string("+1"));
	assert_int_equal(apiclient_call(api, "POST", "/v1/sessions", body, 0, 0, &reply, NULL),
			 201);
	json_object_put(reply);
	assert_string_equal(srv.req[0].method, "POST");
	assert_string_equal(srv.req[0].body, "{\"phone\":\"+1\"}");
	assert_non_null(strcasestr(srv.req[0].headers, "Content-Type: application/json"));
	assert_non_null(strcasestr(srv.req[0].headers, "Authorization: Bearer tok123"));
	/* A DELETE after a POST on the same handle carries no body and is a DELETE. */
	assert_int_equal(apiclient_call(api, "DELETE", "/v1/sessions/current", NULL, 0, 0,
					&reply, NULL), 204);
	assert_null(reply);
	assert_string_equal(srv.req[1].method, "DELETE");
	assert_string_equal(srv.req[1].body, "");
	json_object_put(body);
	apiclient_free(api);
}

static void test_error_reply(void **state)
{
	struct canned c[] = {
		{ 404, "{\"error\":\"not_found\",\"detail\":\"No such spot.\"}", 0, 0, 0 },
		{ 500, "oops", 0, 0, 0 },
	};
	struct apiclient_error e;
	struct apiclient *api;
	json_object *reply = (json_object *)1;

	(void)state;
	script(c, 2);
	api = client(3, 0, NULL, NULL, NULL);
	assert_int_equal(apiclient_call(api, "GET", "/v1/spots/9", NULL, 0, 0, &reply, &e),
			 -APICLIENT_E_HTTP);
	assert_null(reply);
	assert_int_equal(e.status, 404);
	assert_string_equal(e.code, "not_found");
	assert_string_equal(e.detail, "No such spot.");
	/* 500 is not retried (only 502, 503, 504 and network failures are). */
	assert_int_equal(apiclient_call(api, "GET", "/v1/x", NULL, 0, 0, NULL, &e),
			 -APICLIENT_E_HTTP);
	assert_int_equal(e.status, 500);
	assert_string_equal(e.code, "");
	assert_non_null(strstr(e.detail, "500"));
	assert_int_equal(srv.nreq, 2);
	apiclient_free(api);
}

static void test_retry_idempotent_only(void **state)
{
	struct canned c[] = {
		{ 503, "{\"error\":\"internal\",\"detail\":\"busy\"}", 0, 0, 0 },
		{ 502, "{}", 0, 0, 0 },
		{ 200, "{\"n\":3}", 0, 0, 0 },
	};
	struct apiclient_error e;
	struct apiclient *api;
	json_object *body = json_object_new_object();

	(void)state;
	script(c, 3);
	api = client(3, 0, NULL, NULL, NULL);
	assert_int_equal(apiclient_call(api, "GET", "/v1/keys", NULL, 0, 0, NULL, &e), 200);
	assert_int_equal(srv.nreq, 3);

	/* A POST is not retried unless the caller says it is idempotent. */
	script(c, 3);
	assert_int_equal(apiclient_call(api, "POST", "/v1/ekeys", body, 0, 0, NULL, &e),
			 -APICLIENT_E_HTTP);
	assert_int_equal(e.status, 503);
	assert_int_equal(srv.nreq, 1);
	script(c, 3);
	assert_int_equal(apiclient_call(api, "POST", "/v1/gateway/events", body,
					APICLIENT_IDEMPOTENT, 0, NULL, &e), 200);
	assert_int_equal(srv.nreq, 3);

	/* Retries run out. */
	script(c, 2);
	apiclient_free(api);
	api = client(1, 0, NULL, NULL, NULL);
	assert_int_equal(apiclient_call(api, "GET", "/v1/keys", NULL, 0, 0, NULL, &e),
			 -APICLIENT_E_HTTP);
	assert_int_equal(e.status, 502);
	assert_int_equal(srv.nreq, 2);
	json_object_put(body);
	apiclient_free(api);
}

static void test_connection_reused(void **state)
{
	struct apiclient *api;
	int i;

	(void)state;
	script(NULL, 0);
	api = client(0, 0, NULL, NULL, NULL);
	for (i = 0; i < 5; i++)
		assert_int_equal(apiclient_call(api, "GET", "/v1/me", NULL, 0, 0, NULL, NULL), 200);
	assert_int_equal(srv.nreq, 5);
	assert_int_equal(srv.connections, 1);
	apiclient_free(api);
}

static int signs;

static int test_signer(void *arg, const char *method, const char *target, const uint8_t *body,
		       size_t body_len, struct apiclient_headers *out)
{
	char v[300];

	assert_ptr_equal(arg, &signs);
	signs++;
	snprintf(v, sizeof(v), "%s %s %zu %.*s", method, target, body_len, (int)body_len,
		 body != NULL ? (const char *)body : "");
	return apiclient_header_add(out, "X-Test", v);
}

static void test_signer_every_attempt(void **state)
{
	struct canned c[] = { { 503, "{}", 0, 0, 0 }, { 200, "{}", 0, 0, 0 } };
	struct apiclient_headers h;
	struct apiclient *api;
	json_object *body = json_object_new_object();

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(apiclient_header_add(&h, "Bad:Name", "x"), -1);
	assert_int_equal(apiclient_header_add(&h, "Name", "line\nbreak"), -1);
	assert_int_equal(h.count, 0);
	script(c, 2);
	signs = 0;
	api = client(2, 0, test_signer, &signs, NULL);
	json_object_object_add(body, "k", json_object_new_int(1));
	assert_int_equal(apiclient_call(api, "POST", "/v1/gateway/acks?x=1", body,
					APICLIENT_IDEMPOTENT, 0, NULL, NULL), 200);
	assert_int_equal(signs, 2);
	assert_non_null(strstr(srv.req[1].headers,
			       "X-Test: POST /v1/gateway/acks?x=1 7 {\"k\":1}"));
	json_object_put(body);
	apiclient_free(api);
}

static void test_timeout_and_bad_reply(void **state)
{
	struct canned c[] = { { 200, "{}", 600, 0, 0 }, { 200, "[1,2]", 0, 0, 0 },
			      { 200, "not json", 0, 0, 0 } };
	struct apiclient_error e;
	struct apiclient *api;

	(void)state;
	script(c, 3);
	api = client(0, 100, NULL, NULL, NULL);
	assert_int_equal(apiclient_call(api, "GET", "/slow", NULL, 0, 0, NULL, &e),
			 -APICLIENT_E_NET);
	assert_int_equal(e.status, 0);
	assert_true(strlen(e.detail) > 0);
	apiclient_free(api);
	api = client(0, 2000, NULL, NULL, NULL);
	assert_int_equal(apiclient_call(api, "GET", "/arr", NULL, 0, 0, NULL, &e),
			 -APICLIENT_E_REPLY);
	assert_int_equal(apiclient_call(api, "GET", "/text", NULL, 0, 0, NULL, &e),
			 -APICLIENT_E_REPLY);
	apiclient_free(api);
}

static void test_refused_connection_retried(void **state)
{
	struct apiclient_opts o;
	struct apiclient_error e;
	struct apiclient *api;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64];
	struct timespec t0, t1;

	(void)state;
	/* A port nobody listens on: bind, read the port, close. */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	memset(&o, 0, sizeof(o));
	o.base_url = url;
	o.retries = 3;
	o.backoff_ms = 20;
	o.backoff_max_ms = 40;
	api = apiclient_new(&o);
	assert_non_null(api);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(apiclient_call(api, "GET", "/v1/me", NULL, 0, 0, NULL, &e),
			 -APICLIENT_E_NET);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Three backoffs of at least 10, 20 and 20 ms. */
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 50);
	apiclient_free(api);
}

static void test_https_needs_a_certificate(void **state)
{
	struct apiclient_opts o;
	struct apiclient_error e;
	struct apiclient *api;
	char url[64];

	(void)state;
	script(NULL, 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", srv.port);
	memset(&o, 0, sizeof(o));
	o.base_url = url;
	o.timeout_ms = 500;
	api = apiclient_new(&o);
	assert_non_null(api);
	assert_int_equal(apiclient_call(api, "GET", "/v1/me", NULL, 0, 0, NULL, &e),
			 -APICLIENT_E_NET);
	apiclient_free(api);
	o.base_url = "ftp://127.0.0.1";
	assert_null(apiclient_new(&o));
	o.base_url = NULL;
	assert_null(apiclient_new(&o));
}

static void test_cancel(void **state)
{
	struct canned c[] = { { 503, "{}", 0, 0, 0 } };
	struct apiclient_error e;
	struct apiclient *api;
	atomic_int cancel = 1;

	(void)state;
	script(c, 1);
	api = client(5, 0, NULL, NULL, &cancel);
	assert_int_equal(apiclient_call(api, "GET", "/v1/me", NULL, 0, 0, NULL, &e),
			 -APICLIENT_E_CANCELLED);
	assert_int_equal(apiclient_sleep(api, 1000), -APICLIENT_E_CANCELLED);
	apiclient_free(api);
}

struct sse_seen {
	int n;
	char event[4][32];
	char data[4][64];
	int stop_after;
};

static int on_sse(void *arg, const char *event, const char *data)
{
	struct sse_seen *s = arg;

	if (s->n < 4) {
		snprintf(s->event[s->n], sizeof(s->event[0]), "%s", event);
		snprintf(s->data[s->n], sizeof(s->data[0]), "%s", data);
	}
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static void test_stream(void **state)
{
	struct canned c[] = {
		{ 200, ": hello\n\nevent: lock\ndata: {\"a\":1}\r\ndata: x\n\n: ka\n\ndata: c\n\n"
		  "data: d\n\n", 0, 0, 1 },
		{ 200, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 0, 0, 1 },
		{ 403, "{\"error\":\"forbidden\",\"detail\":\"Not yours.\"}", 0, 1, 0 },
	};
	struct apiclient_error e;
	struct apiclient *api;
	struct sse_seen s;

	(void)state;
	script(c, 3);
	api = client(0, 0, NULL, NULL, NULL);
	memset(&s, 0, sizeof(s));
	assert_int_equal(apiclient_stream(api, "/v1/events", 2000, on_sse, &s, &e), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.event[0], "lock");
	assert_string_equal(s.data[0], "{\"a\":1}\nx");
	assert_string_equal(s.event[1], "message");
	assert_string_equal(s.data[1], "c");
	assert_non_null(strcasestr(srv.req[0].headers, "Accept: text/event-stream"));
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(apiclient_stream(api, "/v1/events", 2000, on_sse, &s, &e), 0);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(apiclient_stream(api, "/v1/events?site=2", 2000, on_sse, &s, &e),
			 -APICLIENT_E_HTTP);
	assert_int_equal(e.status, 403);
	assert_string_equal(e.code, "forbidden");
	assert_int_equal(s.n, 0);
	/* The handle works for plain calls afterwards. */
	script(NULL, 0);
	assert_int_equal(apiclient_call(api, "GET", "/v1/me", NULL, 0, 0, NULL, &e), 200);
	apiclient_free(api);
}

static void test_backoff_bounds(void **state)
{
	struct apiclient *api;
	long d;
	unsigned i;

	(void)state;
	api = client(0, 0, NULL, NULL, NULL); /* base 10, max 40 */
	for (i = 0; i < 200; i++) {
		d = apiclient_backoff_ms(api, i % 6);
		assert_true(d >= 5);
		assert_true(d <= 40);
		if (i % 6 == 0)
			assert_true(d <= 10);
		if (i % 6 >= 2)
			assert_true(d >= 20);
	}
	apiclient_free(api);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_json),
		cmocka_unit_test(test_post_json_and_token),
		cmocka_unit_test(test_error_reply),
		cmocka_unit_test(test_retry_idempotent_only),
		cmocka_unit_test(test_connection_reused),
		cmocka_unit_test(test_signer_every_attempt),
		cmocka_unit_test(test_timeout_and_bad_reply),
		cmocka_unit_test(test_refused_connection_retried),
		cmocka_unit_test(test_https_needs_a_certificate),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_backoff_bounds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
