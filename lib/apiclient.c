/*
 * apiclient.c: parkd's API client on libcurl and json-c; see apiclient.h. One easy
 * handle per client keeps its connection alive between requests. TLS peers are always
 * verified: the options that would turn that off are set here, once, to "verify".
 * It owns no route and no retry queue of its own beyond one call's attempts.
 */
#include "apiclient.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define APICLIENT_CONNECT_MS 5000
#define APICLIENT_TIMEOUT_MS 30000
#define APICLIENT_BACKOFF_MS 200
#define APICLIENT_BACKOFF_MAX_MS 5000
#define APICLIENT_SLEEP_SLICE_MS 50
#define APICLIENT_SSE_LINE_MAX 65536

struct apiclient_buf {
	char *p;
	size_t len;
	size_t cap;
	bool overflow; /* the reply passed APICLIENT_REPLY_MAX */
};

/* The parse state of a server-sent event stream. */
struct apiclient_sse {
	struct apiclient *c;
	apiclient_event_fn fn;
	void *arg;
	struct apiclient_buf line;  /* the line being read */
	struct apiclient_buf data;  /* data: lines of the event so far */
	char event[64];             /* event: name, "" for "message" */
	bool stopped;               /* fn asked to end */
	bool error_reply;           /* the status is not 2xx: collect the body instead */
	struct apiclient_buf body;
};

struct apiclient {
	CURL *curl;
	char *base_url;
	char *ca_file;
	char *token;
	struct apiclient_opts opts; /* with the strings above */
	uint64_t rng;               /* jitter only: no secret depends on it */
	char errbuf[CURL_ERROR_SIZE];
	struct apiclient_buf reply;
	struct apiclient_sse *sse;  /* during apiclient_stream() */
};

static pthread_once_t apiclient_once = PTHREAD_ONCE_INIT;
static CURLcode apiclient_global_rc = CURLE_FAILED_INIT;

static void apiclient_global_init(void)
{
	apiclient_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool cancelled(const struct apiclient *c)
{
	return c->opts.cancel != NULL && atomic_load(c->opts.cancel) != 0;
}

/* ---- buffers ---- */

static int buf_append(struct apiclient_buf *b, const char *p, size_t n, size_t max)
{
	char *np;
	size_t cap;

	if (n > max || b->len > max - n) {
		b->overflow = true;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap != 0 ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static void buf_reset(struct apiclient_buf *b)
{
	b->len = 0;
	b->overflow = false;
	if (b->p != NULL)
		b->p[0] = '\0';
}

static void buf_free(struct apiclient_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- libcurl callbacks ---- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct apiclient *c = arg;

	if (buf_append(&c->reply, p, size * n, APICLIENT_REPLY_MAX) != 0)
		return 0; /* libcurl stops the transfer with CURLE_WRITE_ERROR */
	return size * n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return cancelled(arg) ? 1 : 0;
}

/* ---- the client ---- */

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

struct apiclient *apiclient_new(const struct apiclient_opts *opts)
{
	struct apiclient *c = NULL;
	struct timespec ts;
	const char *u = opts->base_url;

	if (u == NULL || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
		return NULL;
	if (pthread_once(&apiclient_once, apiclient_global_init) != 0 ||
	    apiclient_global_rc != CURLE_OK)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->opts = *opts;
	c->base_url = strdup(u);
	c->ca_file = dup_or_null(opts->ca_file);
	c->curl = curl_easy_init();
	if (c->base_url == NULL || (opts->ca_file != NULL && c->ca_file == NULL) ||
	    c->curl == NULL)
		goto fail;
	/* A trailing '/' would double the path's own. */
	while (strlen(c->base_url) > 8 && c->base_url[strlen(c->base_url) - 1] == '/')
		c->base_url[strlen(c->base_url) - 1] = '\0';
	c->opts.base_url = c->base_url;
	c->opts.ca_file = c->ca_file;
	if (c->opts.connect_timeout_ms <= 0)
		c->opts.connect_timeout_ms = APICLIENT_CONNECT_MS;
	if (c->opts.timeout_ms <= 0)
		c->opts.timeout_ms = APICLIENT_TIMEOUT_MS;
	if (c->opts.backoff_ms <= 0)
		c->opts.backoff_ms = APICLIENT_BACKOFF_MS;
	if (c->opts.backoff_max_ms <= 0)
		c->opts.backoff_max_ms = APICLIENT_BACKOFF_MAX_MS;
	clock_gettime(CLOCK_REALTIME, &ts);
	c->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)c;
	if (c->rng == 0)
		c->rng = 0x9e3779b97f4a7c15u;

	/* Set once: every request of this handle verifies its peer. */
	if (curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    (c->ca_file != NULL &&
	     curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file) != CURLE_OK) ||
	    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
			     c->opts.connect_timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c) != CURLE_OK)
		goto fail;
	return c;
fail:
	apiclient_free(c);
	return NULL;
}

void apiclient_free(struct apiclient *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c->base_url);
	free(c->ca_file);
	if (c->token != NULL) {
		memset(c->token, 0, strlen(c->token));
		free(c->token);
	}
	buf_free(&c->reply);
	free(c);
}

int apiclient_set_token(struct apiclient *c, const char *token)
{
	char *t = NULL;

	if (token != NULL) {
		/* A token is one header value: no line breaks may ride in it. */
		if (strpbrk(token, "\r\n") != NULL || strlen(token) > 256)
			return -1;
		t = strdup(token);
		if (t == NULL)
			return -1;
	}
	if (c->token != NULL) {
		memset(c->token, 0, strlen(c->token));
		free(c->token);
	}
	c->token = t;
	return 0;
}

int apiclient_header_add(struct apiclient_headers *h, const char *name, const char *value)
{
	int n;

	if (h->count >= APICLIENT_HEADERS_MAX || strpbrk(name, "\r\n:") != NULL ||
	    strpbrk(value, "\r\n") != NULL)
		return -1;
	n = snprintf(h->line[h->count], APICLIENT_HEADER_LEN, "%s: %s", name, value);
	if (n < 0 || n >= APICLIENT_HEADER_LEN)
		return -1;
	h->count++;
	return 0;
}

/* ---- backoff ---- */

static uint64_t next_random(struct apiclient *c)
{
	uint64_t x = c->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	c->rng = x;
	return x;
}

long apiclient_backoff_ms(struct apiclient *c, unsigned attempt)
{
	long d = c->opts.backoff_ms;
	unsigned i;

	for (i = 0; i < attempt && d < c->opts.backoff_max_ms; i++)
		d *= 2;
	if (d > c->opts.backoff_max_ms)
		d = c->opts.backoff_max_ms;
	return d / 2 + (long)(next_random(c) % (uint64_t)(d / 2 + 1));
}

int apiclient_sleep(struct apiclient *c, long ms)
{
	struct timespec ts;
	long step;

	while (ms > 0) {
		if (cancelled(c))
			return -APICLIENT_E_CANCELLED;
		step = ms < APICLIENT_SLEEP_SLICE_MS ? ms : APICLIENT_SLEEP_SLICE_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		ms -= step;
	}
	return cancelled(c) ? -APICLIENT_E_CANCELLED : 0;
}

/* ---- one request ---- */

static void set_error(struct apiclient_error *err, int status, const char *code,
		      const char *detail)
{
	if (err == NULL)
		return;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->detail, sizeof(err->detail), "%s", detail);
}

/* Fills err from an error reply body {"error":..,"detail":..}, or a generic sentence. */
static void parse_error_reply(const char *body, int status, struct apiclient_error *err)
{
	json_object *j = body != NULL ? json_tokener_parse(body) : NULL;
	json_object *code, *detail;
	char generic[96];

	snprintf(generic, sizeof(generic), "The server answered HTTP %d without an error code.",
		 status);
	if (j != NULL && json_object_is_type(j, json_type_object) &&
	    json_object_object_get_ex(j, "error", &code) &&
	    json_object_is_type(code, json_type_string)) {
		set_error(err, status, json_object_get_string(code),
			  json_object_object_get_ex(j, "detail", &detail) &&
				  json_object_is_type(detail, json_type_string) ?
			  json_object_get_string(detail) : "");
	} else {
		set_error(err, status, "", generic);
	}
	json_object_put(j);
}

/* The request's header list, or NULL when out of memory or the signer refused. */
static struct curl_slist *make_headers(struct apiclient *c, const char *method,
				       const char *target, const char *body, size_t body_len,
				       bool json_accept)
{
	struct apiclient_headers extra;
	struct curl_slist *h = NULL, *t;
	char auth[300];
	unsigned i;

#define ADD(line) do { \
		t = curl_slist_append(h, (line)); \
		if (t == NULL) \
			goto fail; \
		h = t; \
	} while (0)
	ADD(json_accept ? "Accept: application/json" : "Accept: text/event-stream");
	ADD("Expect:"); /* no 100-continue round trip for small bodies */
	if (body != NULL)
		ADD("Content-Type: application/json");
	if (c->token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
		ADD(auth);
		memset(auth, 0, sizeof(auth));
	}
	if (c->opts.sign != NULL) {
		memset(&extra, 0, sizeof(extra));
		if (c->opts.sign(c->opts.sign_arg, method, target, (const uint8_t *)body, body_len,
				 &extra) != 0)
			goto fail;
		for (i = 0; i < extra.count; i++)
			ADD(extra.line[i]);
	}
#undef ADD
	return h;
fail:
	curl_slist_free_all(h);
	return NULL;
}

static bool is_idempotent(const char *method, unsigned flags)
{
	return (flags & APICLIENT_IDEMPOTENT) != 0 || strcmp(method, "GET") == 0 ||
	       strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0;
}

/* Sets the method, URL and body of the next transfer. 0 or -1. */
static int prepare(struct apiclient *c, const char *method, const char *path,
		   const char *body, size_t body_len, long timeout_ms, char **url_out)
{
	size_t n = strlen(c->base_url) + strlen(path) + 1;
	char *url = malloc(n);

	if (url == NULL)
		return -1;
	snprintf(url, n, "%s%s", c->base_url, path);
	/* HTTPGET first: it undoes the previous transfer's body and method. */
	if (curl_easy_setopt(c->curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK) {
		free(url);
		return -1;
	}
	if (body != NULL &&
	    (curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) !=
		     CURLE_OK ||
	     curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body) != CURLE_OK)) {
		free(url);
		return -1;
	}
	if (strcmp(method, body != NULL ? "POST" : "GET") != 0 &&
	    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK) {
		free(url);
		return -1;
	}
	*url_out = url;
	return 0;
}

/*
 * One attempt. Returns the HTTP status (> 0) with the body in c->reply, or a negative
 * error with err filled.
 */
static int attempt(struct apiclient *c, const char *method, const char *path,
		   const char *body, size_t body_len, long timeout_ms, struct apiclient_error *err)
{
	struct curl_slist *headers = NULL;
	char *url = NULL;
	CURLcode rc;
	long status = 0;
	int r = -APICLIENT_E_ARG;

	buf_reset(&c->reply);
	c->errbuf[0] = '\0';
	headers = make_headers(c, method, path, body, body_len, true);
	if (headers == NULL) {
		set_error(err, 0, "", "The request could not be prepared or signed.");
		goto out;
	}
	if (prepare(c, method, path, body, body_len, timeout_ms, &url) != 0 ||
	    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c) != CURLE_OK) {
		set_error(err, 0, "", "The request could not be prepared.");
		goto out;
	}
	rc = curl_easy_perform(c->curl);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		set_error(err, 0, "", "The request was cancelled.");
		r = -APICLIENT_E_CANCELLED;
		goto out;
	}
	if (rc == CURLE_WRITE_ERROR && c->reply.overflow) {
		set_error(err, 0, "", "The server's reply is larger than the client accepts.");
		r = -APICLIENT_E_REPLY;
		goto out;
	}
	if (rc != CURLE_OK) {
		set_error(err, 0, "", c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc));
		r = -APICLIENT_E_NET;
		goto out;
	}
	(void)curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	r = (int)status;
out:
	/* The handle keeps the pointers until the next transfer: clear what we free. */
	(void)curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	free(url);
	return r;
}

static bool retryable(int r)
{
	return r == -APICLIENT_E_NET || r == 502 || r == 503 || r == 504;
}

int apiclient_call(struct apiclient *c, const char *method, const char *path,
		   json_object *body, unsigned flags, long timeout_ms, json_object **reply,
		   struct apiclient_error *err)
{
	const char *text = NULL;
	size_t text_len = 0;
	json_object *j = NULL;
	unsigned tries = 0;
	int r;

	if (reply != NULL)
		*reply = NULL;
	if (path == NULL || path[0] != '/' || method == NULL) {
		set_error(err, 0, "", "A request needs a method and a path that starts with '/'.");
		return -APICLIENT_E_ARG;
	}
	if (body != NULL) {
		text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
		if (text == NULL) {
			set_error(err, 0, "", "The request body could not be written as JSON.");
			return -APICLIENT_E_ARG;
		}
		text_len = strlen(text);
	}
	if (timeout_ms <= 0)
		timeout_ms = c->opts.timeout_ms;
	(void)curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 0L);
	for (;;) {
		r = attempt(c, method, path, text, text_len, timeout_ms, err);
		if (!retryable(r) || !is_idempotent(method, flags) || tries >= c->opts.retries)
			break;
		if (apiclient_sleep(c, apiclient_backoff_ms(c, tries)) != 0) {
			set_error(err, 0, "", "The request was cancelled.");
			return -APICLIENT_E_CANCELLED;
		}
		tries++;
	}
	if (r < 0)
		return r;
	if (r < 200 || r > 299) {
		parse_error_reply(c->reply.p, r, err);
		return -APICLIENT_E_HTTP;
	}
	if (c->reply.len > 0) {
		j = json_tokener_parse(c->reply.p);
		if (j == NULL || !json_object_is_type(j, json_type_object)) {
			json_object_put(j);
			set_error(err, r, "", "The server's reply is not a JSON object.");
			return -APICLIENT_E_REPLY;
		}
	}
	if (reply != NULL)
		*reply = j;
	else
		json_object_put(j);
	return r;
}

/* ---- server-sent events ---- */

/* One whole line of the stream (without its newline). 0, or -1 to stop. */
static int sse_line(struct apiclient_sse *s, char *line)
{
	const char *field = line, *value = "";
	char *colon;
	int r;

	if (line[0] == '\0') {
		if (s->data.len == 0 && s->event[0] == '\0')
			return 0;
		r = s->fn(s->arg, s->event[0] != '\0' ? s->event : "message",
			  s->data.p != NULL ? s->data.p : "");
		buf_reset(&s->data);
		s->event[0] = '\0';
		if (r != 0) {
			s->stopped = true;
			return -1;
		}
		return 0;
	}
	if (line[0] == ':')
		return 0; /* a comment: the server's keep-alive */
	colon = strchr(line, ':');
	if (colon != NULL) {
		*colon = '\0';
		value = colon + 1;
		if (*value == ' ')
			value++;
	}
	if (strcmp(field, "event") == 0) {
		snprintf(s->event, sizeof(s->event), "%s", value);
	} else if (strcmp(field, "data") == 0) {
		if ((s->data.len > 0 && buf_append(&s->data, "\n", 1, APICLIENT_REPLY_MAX) != 0) ||
		    buf_append(&s->data, value, strlen(value), APICLIENT_REPLY_MAX) != 0)
			return -1;
	}
	return 0;
}

static size_t on_stream(char *p, size_t size, size_t n, void *arg)
{
	struct apiclient_sse *s = arg;
	size_t len = size * n, i;
	long status = 0;

	(void)curl_easy_getinfo(s->c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		s->error_reply = true;
		return buf_append(&s->body, p, len, 65536) == 0 ? len : 0;
	}
	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			size_t l = s->line.len;

			if (l > 0 && s->line.p[l - 1] == '\r')
				s->line.p[--s->line.len] = '\0';
			if (sse_line(s, s->line.p != NULL ? s->line.p : (char[1]){ '\0' }) != 0)
				return 0;
			buf_reset(&s->line);
		} else if (buf_append(&s->line, p + i, 1, APICLIENT_SSE_LINE_MAX) != 0) {
			return 0;
		}
	}
	return len;
}

int apiclient_stream(struct apiclient *c, const char *path, long idle_ms,
		     apiclient_event_fn fn, void *arg, struct apiclient_error *err)
{
	struct apiclient_sse s;
	struct curl_slist *headers = NULL;
	char *url = NULL;
	CURLcode rc;
	long status = 0;
	int r = -APICLIENT_E_ARG;

	memset(&s, 0, sizeof(s));
	s.c = c;
	s.fn = fn;
	s.arg = arg;
	if (path == NULL || path[0] != '/') {
		set_error(err, 0, "", "A stream needs a path that starts with '/'.");
		return -APICLIENT_E_ARG;
	}
	headers = make_headers(c, "GET", path, NULL, 0, false);
	if (headers == NULL || prepare(c, "GET", path, NULL, 0, 0, &url) != 0 ||
	    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_stream) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, idle_ms > 0 ? 1L : 0L) !=
		    CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME,
			     idle_ms > 0 ? (idle_ms + 999) / 1000 : 0L) != CURLE_OK) {
		set_error(err, 0, "", "The request could not be prepared or signed.");
		goto out;
	}
	rc = curl_easy_perform(c->curl);
	(void)curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (s.error_reply || (rc == CURLE_OK && (status < 200 || status > 299))) {
		parse_error_reply(s.body.p, (int)status, err);
		r = -APICLIENT_E_HTTP;
	} else if (s.stopped || rc == CURLE_OK) {
		r = 0;
	} else if (rc == CURLE_ABORTED_BY_CALLBACK) {
		set_error(err, 0, "", "The stream was cancelled.");
		r = -APICLIENT_E_CANCELLED;
	} else {
		set_error(err, (int)status, "",
			  c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc));
		r = -APICLIENT_E_NET;
	}
out:
	(void)curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	(void)curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	(void)curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	(void)curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 0L);
	(void)curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 0L);
	curl_slist_free_all(headers);
	free(url);
	buf_free(&s.line);
	buf_free(&s.data);
	buf_free(&s.body);
	return r;
}
