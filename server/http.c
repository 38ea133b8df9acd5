/*
 * http.c: parkd's HTTP server on libmicrohttpd: an epoll event loop per core reads
 * request bodies up to HTTP_BODY_MAX, matches the route table with {param} captures,
 * authenticates callers and gateways, parses JSON bodies, runs the handlers (on the
 * loop for HTTP_NO_WAIT routes, else on the work pool while the connection is
 * suspended), and writes replies: JSON, text, and server-sent event streams, which
 * suspend while they have nothing to send. A stop lets requests in progress finish.
 * Handlers see only http.h; nothing outside this file sees libmicrohttpd.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "../lib/log.h"
#include "../lib/monocond.h"
#include "config.h"
#include "http-stream.h"
#include "routes.h"
#include "server.h"
#include "workpool.h"

#define HTTP_DISCARD_MAX (1024 * 1024) /* an oversized body up to this is read, then 413 */
#define HTTP_JSON_DEPTH 32
#define HTTP_CONN_TIMEOUT_S 120        /* idle connections close after this */
#define HTTP_STREAM_BLOCK 4096
#define HTTP_TLS_FILE_MAX (1024 * 1024)
#define HTTP_THREAD_NICE 5             /* loops and pool threads (see below) */
#define HTTP_TICK_MS 500               /* how often idle streams are checked for keepalives */

struct http_server {
	struct server *srv;
	struct MHD_Daemon *d;
	uint16_t port;
	char *tls_cert;             /* PEM in memory for libmicrohttpd, or NULL */
	char *tls_key;
	size_t tls_key_len;
	pthread_mutex_t lock;
	pthread_cond_t idle;        /* inflight or deferred dropped to 0; CLOCK_MONOTONIC */
	int64_t inflight;           /* requests begun and not yet completed */
	int64_t deferred;           /* requests between http_defer() and http_resume() */
	bool defer_closed;          /* http_stop() waits for the last deferred replies */
	struct http_stream *streams; /* open streams, for http_stop() and the ticker */
	atomic_bool stopping;       /* read by every request without the lock */
	struct workpool *pool;      /* runs the handlers that may wait */
	pthread_t ticker;           /* wakes idle streams for their keepalive */
	bool ticker_running;
	pthread_cond_t tick;        /* signalled at stop; CLOCK_MONOTONIC */
};

/*
 * Where a request is: when the connection comes back from a suspension, the phase says
 * what to do. Written on the loop, or by the handler on the pool while the loop has the
 * connection suspended (the pool's queue orders the two).
 */
enum http_phase {
	HTTP_READING,               /* headers and body coming in, or handled on the loop */
	HTTP_WORKING,               /* its handler runs on the pool; back: send the reply */
	HTTP_DEFERRED,              /* http_defer() was called; back: finish, then send */
	HTTP_FINISHING,             /* finish runs: it may not defer again */
};

/* One request, from its first line to its completion. */
struct http_conn {
	struct http_server *hs;
	struct http_request req;
	struct http_reply rep;
	struct auth_user user;
	char *target;               /* the request target as sent */
	char *captures;             /* room for the {param} segments of the path */
	uint8_t *body;
	size_t len, cap;
	bool started;               /* the access handler has seen the headers */
	enum http_phase phase;
	const struct http_route *route; /* found when the headers came, or NULL */
	http_handler_fn finish;     /* http_defer()'s */
	void (*cleanup)(void *work);
	size_t body_max;            /* the route's body limit (HTTP_BODY_MAX by default) */
	bool too_large;             /* the body passed body_max: it is discarded */
	size_t discarded;
	char allow[64];             /* methods of the path, for a 405's Allow header */
	struct timespec t0;
};

struct http_stream {
	pthread_mutex_t lock;
	int refs;                   /* the owner's and the connection's */
	char *buf;                  /* queued bytes: buf[off..len) */
	size_t off, len, cap;
	bool ended;                 /* no more pushes: EOF once the queue is drained */
	bool dropped;               /* drop the connection now (too slow, never sent) */
	bool notified;              /* on_closed has been called */
	http_stream_closed_fn on_closed;
	void *ctx;
	struct http_server *hs;     /* set once a connection serves it */
	struct MHD_Connection *conn; /* the connection writing it, once served */
	bool parked;                /* conn is suspended, waiting for something to send */
	bool keepalive_due;         /* the ticker found it idle for stream_keepalive_s */
	int64_t last_sent;          /* CLOCK_MONOTONIC milliseconds */
	struct http_stream *prev, *next; /* in hs->streams */
};

/* ---- replies ---- */

static void http_reply_clear(struct http_reply *rep)
{
	json_object_put(rep->json);
	rep->json = NULL;
	free(rep->text);
	rep->text = NULL;
	rep->text_len = 0;
	rep->content_type = NULL;
}

void http_reply_error(struct http_reply *rep, int status, const char *code, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	http_reply_clear(rep);
	rep->status = status;
	rep->json = json_object_new_object();
	json_object_object_add(rep->json, "error", json_object_new_string(code));
	json_object_object_add(rep->json, "detail", json_object_new_string(detail));
}

void http_reply_json(struct http_reply *rep, int status, json_object *obj)
{
	http_reply_clear(rep);
	rep->status = status;
	rep->json = obj;
}

void http_reply_text(struct http_reply *rep, int status, const char *content_type, char *text,
		     size_t len)
{
	http_reply_clear(rep);
	rep->status = status;
	rep->content_type = content_type;
	rep->text = text;
	rep->text_len = len;
}

const char *http_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* ---- event streams ---- */

static int64_t http_mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct http_stream *http_reply_stream(struct http_reply *rep, http_stream_closed_fn on_closed,
				      void *ctx)
{
	struct http_stream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->refs = 2;
	s->on_closed = on_closed;
	s->ctx = ctx;
	http_reply_clear(rep);
	rep->status = 200;
	rep->stream = s;
	return s;
}

/* There is something for the loop to do: resume a parked stream's connection. Locked. */
static void http_stream_unpark(struct http_stream *s)
{
	if (!s->parked)
		return;
	s->parked = false;
	MHD_resume_connection(s->conn);
}

int http_stream_push(struct http_stream *s, const char *chunk)
{
	size_t n = strlen(chunk);
	char *p;
	int r = -1;

	pthread_mutex_lock(&s->lock);
	if (s->ended || s->dropped)
		goto out;
	if (n > HTTP_STREAM_QUEUE_MAX - (s->len - s->off)) {
		/* The client reads slower than events come: it would only fall further behind. */
		s->dropped = true;
		http_stream_unpark(s);
		goto out;
	}
	if (s->off > 0 && s->len + n > s->cap) {
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	if (s->len + n > s->cap) {
		size_t cap = s->cap != 0 ? s->cap : 1024;

		while (cap < s->len + n)
			cap *= 2;
		p = realloc(s->buf, cap);
		if (p == NULL)
			goto out;
		s->buf = p;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, chunk, n);
	s->len += n;
	http_stream_unpark(s);
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

bool http_stream_closed(struct http_stream *s)
{
	bool closed;

	pthread_mutex_lock(&s->lock);
	closed = s->ended || s->dropped || s->notified;
	pthread_mutex_unlock(&s->lock);
	return closed;
}

void http_stream_end(struct http_stream *s)
{
	pthread_mutex_lock(&s->lock);
	s->ended = true;
	http_stream_unpark(s);
	pthread_mutex_unlock(&s->lock);
}

void http_stream_release(struct http_stream *s)
{
	int left;

	pthread_mutex_lock(&s->lock);
	left = --s->refs;
	pthread_mutex_unlock(&s->lock);
	if (left > 0)
		return;
	free(s->buf);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The connection is done with the stream: tell the owner once, drop the connection's ref. */
static void http_stream_detach(struct http_stream *s)
{
	struct http_server *hs = s->hs;
	bool notify;

	if (hs != NULL) {
		pthread_mutex_lock(&hs->lock);
		if (s->prev != NULL)
			s->prev->next = s->next;
		else
			hs->streams = s->next;
		if (s->next != NULL)
			s->next->prev = s->prev;
		pthread_mutex_unlock(&hs->lock);
	}
	pthread_mutex_lock(&s->lock);
	notify = !s->notified;
	s->notified = true;
	s->dropped = true;
	s->parked = false; /* the connection is gone: nothing may resume it */
	pthread_mutex_unlock(&s->lock);
	if (notify && s->on_closed != NULL)
		s->on_closed(s->ctx, s);
	http_stream_release(s);
}

/*
 * libmicrohttpd's content reader, on the event loop, so it never waits: with nothing to
 * send it suspends the connection (parks the stream) and returns 0; a push, the end, a
 * drop or the ticker's keepalive resumes it, and libmicrohttpd calls again.
 */
static ssize_t http_stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	static const char keepalive[] = ": keepalive\n\n";
	struct http_stream *s = cls;
	ssize_t n = 0;

	(void)pos;
	pthread_mutex_lock(&s->lock);
	if (s->dropped) {
		n = MHD_CONTENT_READER_END_WITH_ERROR;
	} else if (s->off < s->len) {
		n = (ssize_t)(s->len - s->off < max ? s->len - s->off : max);
		memcpy(out, s->buf + s->off, (size_t)n);
		s->off += (size_t)n;
		if (s->off == s->len)
			s->off = s->len = 0;
	} else if (s->ended) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else if (s->keepalive_due && sizeof(keepalive) - 1 <= max) {
		n = (ssize_t)(sizeof(keepalive) - 1);
		memcpy(out, keepalive, (size_t)n);
	} else {
		s->parked = true;
		MHD_suspend_connection(s->conn);
	}
	if (n > 0) {
		s->keepalive_due = false; /* whatever was sent shows the client is there */
		s->last_sent = http_mono_ms();
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void http_stream_free(void *cls)
{
	http_stream_detach(cls);
}

/*
 * The ticker: once every HTTP_TICK_MS, wakes each stream that has sent nothing for
 * the configured stream_keepalive_s so that it sends a keepalive comment (which also
 * finds a client that has gone). Ends at http_stop().
 */
static void *http_ticker_main(void *arg)
{
	struct http_server *hs = arg;
	int64_t every = server_config(hs->srv)->stream_keepalive_s * 1000, now;
	struct http_stream *s;
	struct timespec deadline;

	pthread_mutex_lock(&hs->lock);
	while (!atomic_load(&hs->stopping)) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += HTTP_TICK_MS * 1000000L;
		deadline.tv_sec += deadline.tv_nsec / 1000000000L;
		deadline.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&hs->tick, &hs->lock, &deadline);
		now = http_mono_ms();
		for (s = hs->streams; s != NULL; s = s->next) {
			pthread_mutex_lock(&s->lock);
			if (s->parked && now - s->last_sent >= every) {
				s->keepalive_due = true;
				http_stream_unpark(s);
			}
			pthread_mutex_unlock(&s->lock);
		}
	}
	pthread_mutex_unlock(&hs->lock);
	return NULL;
}

/* ---- requests ---- */

/* Matches `path` against `pattern`, capturing {x} segments into buf and params. */
static bool http_match(const char *pattern, const char *path, char *buf,
		       const char *params[HTTP_PARAMS_MAX])
{
	const char *p = pattern, *s = path, *close;
	size_t n, np = 0;

	while (*p != '\0' && *s != '\0') {
		if (*p == '{') {
			close = strchr(p, '}');
			n = strcspn(s, "/");
			if (close == NULL || n == 0 || np == HTTP_PARAMS_MAX)
				return false;
			memcpy(buf, s, n);
			buf[n] = '\0';
			params[np++] = buf;
			buf += n + 1;
			p = close + 1;
			s += n;
		} else if (*p++ != *s++) {
			return false;
		}
	}
	return *p == '\0' && *s == '\0';
}

/* The route of the request, or NULL with c->allow listing the methods the path has. */
static const struct http_route *http_route_find(struct http_conn *c)
{
	const struct http_route *r;
	const char *params[HTTP_PARAMS_MAX];
	size_t i, n = routes_count(), used;

	c->allow[0] = '\0';
	for (i = 0; i < n; i++) {
		r = routes_get(i);
		/* A route's captures only: none left from another pattern, none unset. */
		memset(params, 0, sizeof(params));
		if (!http_match(r->pattern, c->req.path, c->captures, params))
			continue;
		if (strcmp(r->method, c->req.method) == 0) {
			memcpy(c->req.params, params, sizeof(params));
			return r;
		}
		used = strlen(c->allow);
		snprintf(c->allow + used, sizeof(c->allow) - used, "%s%s", used > 0 ? ", " : "",
			 r->method);
	}
	return NULL;
}

/* The length of the UTF-8 sequence at p[0..n) (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0 when it is not one. */
static size_t http_utf8_len(const uint8_t *p, size_t n)
{
	uint8_t lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 1;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 2;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 3;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (need > n - 1)
		return 0;
	for (i = 1; i <= need; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

/* The length of the RFC 8259 number at p[0..n), or 0 when there is none. */
static size_t http_json_number_len(const uint8_t *p, size_t n)
{
	size_t i = 0, d;

	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0') {
		i++;
	} else {
		for (d = i; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	if (i < n && p[i] == '.') {
		for (d = ++i; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		for (d = i; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	return i;
}

/* Whether the byte ch is one of `set` (never NUL). */
static bool http_in(const char *set, uint8_t ch)
{
	return ch != '\0' && strchr(set, ch) != NULL;
}

/*
 * The tokens of p[0..n) are RFC 8259's: what json-c (0.16) lets through in strict mode
 * is refused here: single-quoted names, NaN and Infinity, "1.", raw control characters
 * in strings, and UTF-8 with overlong forms, surrogates or code points past U+10FFFF.
 * The structure is left to json-c. NULL when the tokens are fine, else what is wrong.
 */
static const char *http_json_tokens(const uint8_t *p, size_t n)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t i = 0, k, len, w;

	while (i < n) {
		if (http_in(" \t\r\n{}[],:", p[i])) {
			i++;
		} else if (p[i] == '-' || (p[i] >= '0' && p[i] <= '9')) {
			len = http_json_number_len(p + i, n - i);
			if (len == 0)
				return "a malformed number";
			i += len;
		} else if (p[i] >= 'a' && p[i] <= 'z') {
			for (k = i; k < n && p[k] >= 'a' && p[k] <= 'z'; k++)
				;
			for (w = 0; w < 3; w++)
				if (strlen(words[w]) == k - i &&
				    memcmp(p + i, words[w], k - i) == 0)
					break;
			if (w == 3)
				return "a word other than true, false and null";
			i = k;
		} else if (p[i] == '"') {
			for (i++; i < n && p[i] != '"'; i += len) {
				len = 1;
				if (p[i] < 0x20)
					return "a control character in a string (escape it)";
				if (p[i] == '\\') {
					len = i + 1 < n && p[i + 1] == 'u' ? 6 : 2;
					if (len > n - i || !http_in("\"\\/bfnrtu", p[i + 1]))
						return "a bad escape in a string";
					for (k = 2; k < len; k++)
						if (!http_in("0123456789abcdefABCDEF", p[i + k]))
							return "a bad escape in a string";
				} else if (p[i] >= 0x80) {
					len = http_utf8_len(p + i, n - i);
					if (len == 0)
						return "a string that is not UTF-8";
				}
			}
			if (i >= n)
				return "an unterminated string";
			i++;
		} else {
			return p[i] >= 0x80 ? "a byte that is not UTF-8 outside a string" :
				"a character JSON does not have here";
		}
	}
	return NULL;
}

int http_json_object(const uint8_t *body, size_t len, json_object **out, struct http_reply *rep)
{
	json_tokener *tok;
	json_object *obj = NULL;
	enum json_tokener_error err;
	const char *bad;
	size_t end;
	int r = -1;

	*out = NULL;
	if (len == 0) {
		http_reply_error(rep, 400, "bad_json", "The body must be a JSON object.");
		return -1;
	}
	if (memchr(body, '\0', len) != NULL) {
		http_reply_error(rep, 400, "bad_json", "The body is not valid JSON: it holds a NUL "
				 "byte.");
		return -1;
	}
	bad = http_json_tokens(body, len);
	if (bad != NULL) {
		http_reply_error(rep, 400, "bad_json", "The body is not valid JSON: it holds %s.",
				 bad);
		return -1;
	}
	tok = json_tokener_new_ex(HTTP_JSON_DEPTH);
	if (tok == NULL) {
		http_reply_error(rep, 500, "internal", "Out of memory; try again.");
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, (const char *)body, (int)len);
	err = json_tokener_get_error(tok);
	if (obj == NULL || err != json_tokener_success) {
		http_reply_error(rep, 400, "bad_json", "The body is not valid JSON: %s.",
				 err == json_tokener_continue ? "it ends too early" :
				 json_tokener_error_desc(err));
		goto out;
	}
	end = json_tokener_get_parse_end(tok);
	if (strspn((const char *)body + end, " \t\r\n") != len - end) {
		http_reply_error(rep, 400, "bad_json", "The body is not valid JSON: something "
				 "follows the value.");
		goto out;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		http_reply_error(rep, 400, "bad_json", "The body must be a JSON object.");
		goto out;
	}
	*out = obj;
	obj = NULL;
	r = 0;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return r;
}

/* Parses the body as a JSON object into req.json; 0, or -1 with the 400 set. */
static int http_parse_json(struct http_conn *c)
{
	return http_json_object(c->body, c->len, &c->req.json, &c->rep);
}

/* A handler that neither replied nor deferred gets a 500. */
static void http_check_reply(struct http_conn *c, struct http_reply *rep)
{
	if (rep->status == 0 && c->phase != HTTP_DEFERRED) {
		log_error("%s %s: the handler set no reply", c->req.method, c->route->pattern);
		http_reply_error(rep, 500, "internal", "The server failed; try again later.");
	}
}

/*
 * Authenticates, parses and calls the route's handler: c->rep is set on return, unless
 * the handler deferred its reply.
 */
static void http_dispatch(struct http_conn *c)
{
	struct server *srv = c->hs->srv;
	struct http_request *req = &c->req;
	struct http_reply *rep = &c->rep;
	const struct http_route *route = c->route;
	int r;

	if (c->too_large) {
		http_reply_error(rep, 413, "body_too_large", "The request body is larger than %zu "
				 "bytes; nothing was done.", c->body_max);
		return;
	}
	if (route == NULL && c->allow[0] != '\0') {
		http_reply_error(rep, 405, "method_not_allowed", "%s is not allowed on %s; use %s.",
				 req->method, req->path, c->allow);
		return;
	}
	if (route == NULL) {
		http_reply_error(rep, 404, "not_found", "There is no %s; see the API reference "
				 "(server/openapi.yaml).", req->path);
		return;
	}
	req->body = c->body;
	req->body_len = c->len;
	if (route->flags & HTTP_AUTH_USER) {
		r = server_caller(srv, req, &c->user);
		if (r == -SERVER_E_UNAVAILABLE) {
			/* Not a 401: a client would drop a session that is still good. */
			http_reply_error(rep, 503, "unavailable", "The sessions cannot be read "
					 "just now; try again in a moment.");
			rep->retry_after = 1;
			return;
		}
		if (r != 0) {
			http_reply_error(rep, 401, "unauthenticated", "Log in (POST "
					 "/v1/sessions) and send the token as 'Authorization: "
					 "Bearer TOKEN'; a session ends at logout or when it "
					 "expires.");
			return;
		}
		req->user = &c->user;
	}
	if ((route->flags & HTTP_AUTH_GATEWAY) &&
	    server_gateway(srv, req, &req->gateway_id) != 0) {
		http_reply_error(rep, 401, "unauthenticated", "A gateway must sign each request "
				 "(X-Park-Gateway, X-Park-Time within 300 s, X-Park-Signature).");
		return;
	}
	if ((route->flags & HTTP_JSON_BODY) && http_parse_json(c) != 0)
		return;
	route->fn(srv, req, rep);
	http_check_reply(c, rep);
}

static const char *http_status_metric(int status)
{
	static const char *const names[] = {
		NULL, NULL, "parkd_http_responses_2xx_total", NULL,
		"parkd_http_responses_4xx_total", "parkd_http_responses_5xx_total",
	};

	return status >= 100 && status < 600 ? names[status / 100] : NULL;
}

/* A response for a stream; it takes the connection's reference. */
static struct MHD_Response *http_stream_response(struct http_conn *c, struct http_stream *s)
{
	struct http_server *hs = c->hs;
	struct MHD_Response *resp;

	pthread_mutex_lock(&hs->lock);
	s->hs = hs;
	s->conn = c->req.conn;
	s->last_sent = http_mono_ms();
	s->next = hs->streams;
	if (hs->streams != NULL)
		hs->streams->prev = s;
	hs->streams = s;
	if (atomic_load(&hs->stopping))
		http_stream_end(s);
	pthread_mutex_unlock(&hs->lock);
	/* From here, libmicrohttpd calls http_stream_free() whatever happens. */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_STREAM_BLOCK,
						 http_stream_read, s, http_stream_free);
	if (resp == NULL) {
		http_stream_detach(s);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	server_count(hs->srv, "parkd_http_streams_total", 1);
	return resp;
}

static enum MHD_Result http_send(struct http_conn *c, struct MHD_Connection *conn)
{
	struct http_reply *rep = &c->rep;
	struct MHD_Response *resp = NULL;
	struct http_stream *s = rep->stream;
	const char *body, *metric;
	char num[24];
	struct timespec t1;
	size_t n;
	enum MHD_Result ret;

	rep->stream = NULL;
	if (s != NULL && rep->status != 200) {
		/* The handler made a stream, then an error reply: the stream never starts. */
		http_stream_detach(s);
		s = NULL;
	}
	if (s != NULL) {
		resp = http_stream_response(c, s);
		if (resp == NULL)
			http_reply_error(rep, 500, "internal", "Out of memory; try again.");
	}
	if (resp == NULL && rep->json != NULL) {
		body = json_object_to_json_string_ext(rep->json, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
		n = strlen(body);
		resp = MHD_create_response_from_buffer(n, (void *)(uintptr_t)body,
						       MHD_RESPMEM_MUST_COPY);
		/* Copied: json-c's text (a session token, say) is not left in the heap. */
		OPENSSL_cleanse((void *)(uintptr_t)body, n);
		if (resp != NULL)
			MHD_add_response_header(resp, "Content-Type", "application/json");
	} else if (resp == NULL && rep->text != NULL) {
		resp = MHD_create_response_from_buffer(rep->text_len, rep->text,
						       MHD_RESPMEM_MUST_FREE);
		if (resp != NULL) {
			rep->text = NULL; /* libmicrohttpd frees it now */
			MHD_add_response_header(resp, "Content-Type", rep->content_type != NULL ?
						rep->content_type : "text/plain; charset=utf-8");
		}
	} else if (resp == NULL) {
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	}
	if (resp == NULL)
		return MHD_NO;
	if (s == NULL)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (rep->retry_after > 0) {
		snprintf(num, sizeof(num), "%d", rep->retry_after);
		MHD_add_response_header(resp, "Retry-After", num);
	}
	if (rep->status == 405)
		MHD_add_response_header(resp, "Allow", c->allow);
	if (atomic_load(&c->hs->stopping))
		MHD_add_response_header(resp, "Connection", "close");
	ret = MHD_queue_response(conn, (unsigned)rep->status, resp);
	MHD_destroy_response(resp);

	server_count(c->hs->srv, "parkd_http_requests_total", 1);
	metric = http_status_metric(rep->status);
	if (metric != NULL)
		server_count(c->hs->srv, metric, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_debug("%s %s %d %lld ms %s", c->req.method, c->req.path, rep->status,
		  (long long)((t1.tv_sec - c->t0.tv_sec) * 1000 +
			      (t1.tv_nsec - c->t0.tv_nsec) / 1000000), c->req.peer);
	return ret;
}

static void http_peer(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, cap, "unknown");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  out, (socklen_t)cap);
}

static const char *http_bearer(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
		return NULL;
	v += 7;
	v += strspn(v, " ");
	return v[0] != '\0' ? v : NULL;
}

/* The headers are in: set the request up, or answer at once. 0, or 1 when answered. */
static int http_begin(struct http_conn *c, struct MHD_Connection *conn, const char *url,
		      const char *method)
{
	const struct http_route *route;
	const char *cl;
	char *end;
	unsigned long long declared;

	c->started = true;
	c->req.method = method;
	c->req.path = url;
	c->req.conn = conn;
	c->req.target = c->target;
	c->req.token = http_bearer(conn);
	http_peer(conn, c->req.peer, sizeof(c->req.peer));
	c->captures = malloc(strlen(url) + HTTP_PARAMS_MAX + 1);
	if (c->captures == NULL) {
		http_reply_error(&c->rep, 500, "internal", "Out of memory; try again.");
		return 1;
	}
	if (atomic_load(&c->hs->stopping)) {
		http_reply_error(&c->rep, 503, "shutting_down", "The server is stopping; try "
				 "again in a moment.");
		c->rep.retry_after = 1;
		return 1;
	}
	/*
	 * A route may take larger bodies (a site description), but only from a caller with
	 * a live session: nobody else makes the server hold more than HTTP_BODY_MAX.
	 */
	route = c->route = http_route_find(c);
	c->body_max = HTTP_BODY_MAX;
	if (route != NULL && route->body_max > HTTP_BODY_MAX && (route->flags & HTTP_AUTH_USER) &&
	    server_caller(c->hs->srv, &c->req, &c->user) == 0) {
		c->body_max = route->body_max;
		c->req.user = &c->user; /* the dispatch does not look the session up again */
	}
	/* A body too large even to read and throw away is refused before it is sent. */
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (cl != NULL) {
		errno = 0;
		declared = strtoull(cl, &end, 10);
		if (errno == 0 && *end == '\0' &&
		    declared > (c->body_max > HTTP_DISCARD_MAX ? c->body_max : HTTP_DISCARD_MAX)) {
			c->too_large = true;
			http_dispatch(c);
			return 1;
		}
	}
	return 0;
}

/* Takes a piece of the body. 0, or -1 to drop a connection that sends too much. */
static int http_take_body(struct http_conn *c, const char *data, size_t n)
{
	uint8_t *p;
	size_t cap;

	if (c->too_large || n > c->body_max - c->len) {
		c->too_large = true;
		c->discarded += n;
		return c->discarded > HTTP_DISCARD_MAX ? -1 : 0;
	}
	if (c->len + n + 1 > c->cap) {
		cap = c->cap != 0 ? c->cap : 1024;
		while (cap < c->len + n + 1)
			cap *= 2;
		/* Not realloc: the old copy (a password, a code) is wiped before it goes. */
		p = malloc(cap);
		if (p == NULL)
			return -1;
		if (c->body != NULL) {
			memcpy(p, c->body, c->len);
			OPENSSL_cleanse(c->body, c->cap);
			free(c->body);
		}
		c->body = p;
		c->cap = cap;
	}
	memcpy(c->body + c->len, data, n);
	c->len += n;
	c->body[c->len] = '\0';
	return 0;
}

/*
 * Lowers the calling thread's scheduling priority once (nice +5, which needs no
 * privilege): when the cores are busy, the journal's checkpointer and the other programs
 * of the machine (a gateway, the demo's locks) go first, and a burst of requests cannot
 * starve them. The writer, its signers and its syncer are started by the first write,
 * from a thread of these, and share its level: started at nice 0 instead, the writer
 * took on half as many issuances per transaction for the same throughput (bench-issue).
 * The flag is the thread's own, as its nice value is.
 */
static void http_thread_yield_priority(void)
{
	static _Thread_local bool done;

	if (done)
		return;
	done = true;
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), HTTP_THREAD_NICE) != 0)
		log_debug("http: request thread keeps its priority: %s", strerror(errno));
}

/* On a pool thread: the handler of a route that may wait; then back to the loop. */
static void http_work(void *arg)
{
	struct http_conn *c = arg;

	http_dispatch(c);
	MHD_resume_connection(c->req.conn);
}

/* The request is all in: its handler runs on the loop, or on the pool while it waits. */
static enum MHD_Result http_run(struct http_conn *c, struct MHD_Connection *conn)
{
	if (c->route != NULL && !(c->route->flags & HTTP_NO_WAIT) && !c->too_large) {
		c->phase = HTTP_WORKING;
		MHD_suspend_connection(conn); /* before the job runs: it resumes conn */
		if (workpool_submit(c->hs->pool, http_work, c) != 0) {
			http_reply_error(&c->rep, 503, "unavailable", "The server cannot take the "
					 "request now; try again.");
			c->rep.retry_after = 1;
			MHD_resume_connection(conn);
		}
		return MHD_YES;
	}
	http_dispatch(c);
	if (c->phase == HTTP_DEFERRED)
		return MHD_YES;
	return http_send(c, conn);
}

static struct http_conn *http_conn_of(struct http_request *req)
{
	return (struct http_conn *)(void *)((char *)req - offsetof(struct http_conn, req));
}

int http_defer(struct http_request *req, http_handler_fn finish, void *work,
	       void (*cleanup)(void *work))
{
	struct http_conn *c = http_conn_of(req);

	/* Only a handler on the loop may suspend its connection, and only once. */
	if (c->route == NULL || !(c->route->flags & HTTP_NO_WAIT) || c->phase != HTTP_READING)
		return -1;
	/* Counted under the lock http_stop() closes them with: none slips past its wait. */
	pthread_mutex_lock(&c->hs->lock);
	if (c->hs->defer_closed) {
		pthread_mutex_unlock(&c->hs->lock);
		return -HTTP_E_STOPPING;
	}
	c->hs->deferred++;
	pthread_mutex_unlock(&c->hs->lock);
	c->finish = finish;
	c->cleanup = cleanup;
	req->work = work;
	c->phase = HTTP_DEFERRED;
	MHD_suspend_connection(req->conn);
	return 0;
}

void http_resume(struct http_request *req)
{
	struct http_server *hs = http_conn_of(req)->hs; /* req may be gone once resumed */

	MHD_resume_connection(req->conn);
	/* Counted down after: http_stop() waits for it before it stops the daemon. */
	pthread_mutex_lock(&hs->lock);
	if (--hs->deferred == 0)
		pthread_cond_broadcast(&hs->idle);
	pthread_mutex_unlock(&hs->lock);
}

/* Once per event-loop thread: nice +5, and a database connection of its own. */
static void http_loop_thread_init(struct http_server *hs)
{
	static _Thread_local bool done;

	if (done)
		return;
	done = true;
	http_thread_yield_priority();
	server_thread_never_waits(hs->srv);
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version,
				   const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct http_conn *c = *con_cls;

	(void)version;
	http_loop_thread_init(cls);
	if (c == NULL)
		return MHD_NO; /* out of memory when the request began */
	if (!c->started) {
		if (http_begin(c, conn, url, method) != 0)
			return http_send(c, conn);
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (http_take_body(c, upload_data, *upload_size) != 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (c->phase == HTTP_WORKING)
		return http_send(c, conn); /* back from the pool */
	if (c->phase == HTTP_DEFERRED) {
		c->phase = HTTP_FINISHING;
		c->finish(c->hs->srv, &c->req, &c->rep);
		http_check_reply(c, &c->rep);
		return http_send(c, conn);
	}
	if (c->body == NULL && http_take_body(c, "", 0) != 0)
		return MHD_NO;
	return http_run(c, conn);
}

/* The first line is in: the request's state begins here, so that every one is freed. */
static void *http_request_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_server *hs = cls;
	struct http_conn *c = calloc(1, sizeof(*c));

	(void)conn;
	if (c == NULL)
		return NULL;
	c->target = strdup(uri);
	if (c->target == NULL) {
		free(c);
		return NULL;
	}
	c->hs = hs;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	pthread_mutex_lock(&hs->lock);
	hs->inflight++;
	pthread_mutex_unlock(&hs->lock);
	return c;
}

static void http_request_end(void *cls, struct MHD_Connection *conn, void **con_cls,
			     enum MHD_RequestTerminationCode code)
{
	struct http_server *hs = cls;
	struct http_conn *c = *con_cls;

	(void)conn;
	(void)code;
	if (c == NULL)
		return;
	*con_cls = NULL;
	if (c->rep.stream != NULL) /* answered without reaching http_send */
		http_stream_detach(c->rep.stream);
	if (c->cleanup != NULL)
		c->cleanup(c->req.work);
	json_object_put(c->req.json);
	http_reply_clear(&c->rep);
	if (c->body != NULL)
		OPENSSL_cleanse(c->body, c->cap); /* passwords and codes are not left in the heap */
	free(c->body);
	free(c->captures);
	free(c->target);
	free(c);
	pthread_mutex_lock(&hs->lock);
	if (--hs->inflight == 0)
		pthread_cond_broadcast(&hs->idle);
	pthread_mutex_unlock(&hs->lock);
}

__attribute__((format(printf, 2, 0)))
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	log_warn("http: %s", line);
}

/* ---- the server ---- */

/* Reads a whole PEM file into a NUL-terminated malloc'ed buffer, or NULL after logging. */
static char *http_read_pem(const char *path, size_t *len_out)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > HTTP_TLS_FILE_MAX) {
		log_error("TLS file %s: %s", path, fd < 0 ? strerror(errno) : "empty or too large");
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto out;
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			log_error("TLS file %s: cannot read", path);
			OPENSSL_cleanse(buf, (size_t)st.st_size);
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len_out = got;
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

static void http_free(struct http_server *hs)
{
	if (hs->tls_key != NULL) {
		OPENSSL_cleanse(hs->tls_key, hs->tls_key_len);
		free(hs->tls_key);
	}
	free(hs->tls_cert);
	workpool_free(hs->pool);
	pthread_cond_destroy(&hs->tick);
	pthread_cond_destroy(&hs->idle);
	pthread_mutex_destroy(&hs->lock);
	free(hs);
}

struct http_server *http_start(struct server *srv)
{
	const struct config *cfg = server_config(srv);
	struct MHD_OptionItem ops[12];
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct http_server *hs;
	unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_ITC | MHD_USE_ERROR_LOG;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = 0, len;
	socklen_t slen;

	if (config_listen_addr(cfg->listen, &ss, &slen) != 0) {
		log_error("listen: cannot parse '%s'", cfg->listen);
		return NULL;
	}
	hs = calloc(1, sizeof(*hs));
	if (hs == NULL)
		return NULL;
	hs->srv = srv;
	pthread_mutex_init(&hs->lock, NULL);
	if (monocond_init(&hs->idle) != 0 || monocond_init(&hs->tick) != 0) {
		log_error("http: out of memory");
		free(hs);
		return NULL;
	}
	hs->pool = workpool_new((size_t)cfg->max_connections, http_thread_yield_priority);
	if (hs->pool == NULL)
		goto fail;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cfg->tls_cert[0] != '\0') {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			log_error("this libmicrohttpd has no TLS: HTTPS is not available");
			goto fail;
		}
		hs->tls_cert = http_read_pem(cfg->tls_cert, &len);
		hs->tls_key = http_read_pem(cfg->tls_key, &hs->tls_key_len);
		if (hs->tls_cert == NULL || hs->tls_key == NULL)
			goto fail;
		flags |= MHD_USE_TLS;
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, hs->tls_cert };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, hs->tls_key };
	}
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
					    cores > 1 ? (intptr_t)cores : 1, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
					    (intptr_t)cfg->max_connections, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, HTTP_CONN_TIMEOUT_S,
					    NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK,
					    (intptr_t)http_request_begin, hs };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
					    (intptr_t)http_request_end, hs };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	/* The logger must come first, or libmicrohttpd logs its own way until it is set. */
	hs->d = MHD_start_daemon(flags, 0, NULL, NULL, http_access, hs,
				 MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL,
				 MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	if (hs->d == NULL) {
		log_error("cannot listen on %s (in use, or not an address of this machine?)",
			  cfg->listen);
		goto fail;
	}
	info = MHD_get_daemon_info(hs->d, MHD_DAEMON_INFO_BIND_PORT);
	hs->port = info != NULL ? info->port : 0;
	if (pthread_create(&hs->ticker, NULL, http_ticker_main, hs) != 0) {
		log_error("http: cannot start a thread");
		MHD_stop_daemon(hs->d);
		goto fail;
	}
	hs->ticker_running = true;
	return hs;
fail:
	http_free(hs);
	return NULL;
}

uint16_t http_port(const struct http_server *hs)
{
	return hs->port;
}

void http_stop(struct http_server *hs, int grace_ms)
{
	struct http_stream *s;
	struct timespec deadline;
	MHD_socket fd;

	if (hs == NULL)
		return;
	fd = MHD_quiesce_daemon(hs->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += grace_ms / 1000;
	deadline.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&hs->lock);
	atomic_store(&hs->stopping, true);
	pthread_cond_signal(&hs->tick);
	for (s = hs->streams; s != NULL; s = s->next)
		http_stream_end(s);
	while (hs->inflight > 0)
		if (pthread_cond_timedwait(&hs->idle, &hs->lock, &deadline) == ETIMEDOUT)
			break;
	if (hs->inflight > 0)
		log_warn("stopping with %lld requests still in progress", (long long)hs->inflight);
	pthread_mutex_unlock(&hs->lock);
	if (hs->ticker_running)
		pthread_join(hs->ticker, NULL);
	/* The pool's handlers end (waits see the server stopping); later ones get a 503. */
	workpool_stop(hs->pool);
	/*
	 * libmicrohttpd cannot stop with a connection suspended, and a deferred reply is
	 * resumed by the writer, which runs until the server closes after this: wait for it.
	 */
	pthread_mutex_lock(&hs->lock);
	/* A request whose body ends now (its headers came before the stop) gets a 503. */
	hs->defer_closed = true;
	if (hs->deferred > 0)
		log_warn("waiting for %lld replies whose writes are not yet durable",
			 (long long)hs->deferred);
	while (hs->deferred > 0)
		pthread_cond_wait(&hs->idle, &hs->lock);
	pthread_mutex_unlock(&hs->lock);
	MHD_stop_daemon(hs->d);
	http_free(hs);
}
