/*
 * apiclient.h: the one client of parkd's HTTP/JSON API (server/API.md), linked by the
 * gateway, the phone and the console. One client object = one libcurl easy handle, so
 * successive requests reuse one kept-alive connection. Certificates are always verified
 * (there is deliberately no switch to turn that off); idempotent requests are retried
 * with exponential backoff and jitter; error replies come back as {status, code, detail}.
 * It knows no route: callers pass paths and JSON. One client per thread.
 */
#ifndef PARK_APICLIENT_H
#define PARK_APICLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Errors, returned negated. */
enum apiclient_err {
	APICLIENT_E_HTTP = 1,      /* the server answered with a non-2xx status: see the error */
	APICLIENT_E_NET = 2,       /* no answer: connect, TLS, time-out or a broken connection */
	APICLIENT_E_REPLY = 3,     /* a 2xx reply that is not a JSON object, or too large */
	APICLIENT_E_CANCELLED = 4, /* the cancel flag was raised */
	APICLIENT_E_ARG = 5,       /* a bad argument or out of memory */
};

#define APICLIENT_HEADERS_MAX 4
#define APICLIENT_HEADER_LEN 320
#define APICLIENT_REPLY_MAX (8u << 20) /* bigger replies are APICLIENT_E_REPLY */

/* Extra request headers, "Name: value" each, filled by a request signer. */
struct apiclient_headers {
	unsigned count;
	char line[APICLIENT_HEADERS_MAX][APICLIENT_HEADER_LEN];
};

/*
 * Adds "name: value" to h. Returns 0, or -1 when h is full or the line does not fit
 * (h is then unchanged).
 */
int apiclient_header_add(struct apiclient_headers *h, const char *name, const char *value);

/*
 * Called before every attempt of every request (retries are signed afresh, so a time in
 * the signature stays fresh): `method` ("GET"), `target` (path and query as sent, e.g.
 * "/v1/gateway/messages?wait=25"), the exact body bytes (body_len may be 0). Adds its
 * headers to `out`. Returns 0, or -1 to fail the request with APICLIENT_E_ARG.
 */
typedef int (*apiclient_sign_fn)(void *arg, const char *method, const char *target,
				 const uint8_t *body, size_t body_len,
				 struct apiclient_headers *out);

struct apiclient_opts {
	const char *base_url;   /* "https://host:port" or "http://host:port", no path; required */
	const char *ca_file;    /* PEM CA bundle to trust, or NULL for the system's */
	long connect_timeout_ms; /* 0: 5000 */
	long timeout_ms;        /* whole request unless a call says otherwise; 0: 30000 */
	unsigned retries;       /* extra attempts of an idempotent request (default 0) */
	long backoff_ms;        /* first retry delay before jitter; 0: 200 */
	long backoff_max_ms;    /* cap of the delay; 0: 5000 */
	apiclient_sign_fn sign; /* may be NULL */
	void *sign_arg;
	const atomic_int *cancel; /* non-zero: requests and waits stop at once; may be NULL */
};

/* What a failed request got: the HTTP status (0 when no reply) and the server's error. */
struct apiclient_error {
	int status;       /* HTTP status, or 0 */
	char code[64];    /* the reply's stable "error" code, or "" */
	char detail[256]; /* the reply's "detail", or a sentence saying what went wrong */
};

struct apiclient;

/* Call flags. */
#define APICLIENT_IDEMPOTENT 0x01 /* may be retried (GET, PUT and DELETE always may) */

/*
 * A client for opts->base_url. The strings in opts are copied. Returns NULL when the
 * URL is missing or does not start with http:// or https://, or libcurl fails to start.
 * Safe to call from several threads (libcurl's global start-up runs once).
 */
struct apiclient *apiclient_new(const struct apiclient_opts *opts);

/* Frees c and closes its connection; NULL is fine. */
void apiclient_free(struct apiclient *c);

/* Sets or clears (NULL) the "Authorization: Bearer" token of later requests. 0 or -1. */
int apiclient_set_token(struct apiclient *c, const char *token);

/*
 * Sends `method` `path` (starting with '/', may carry a query) with `body` as JSON (NULL:
 * no body; borrowed) and waits for the reply, up to timeout_ms (0: the client's) per
 * attempt. On a 2xx reply returns the status; *reply (when not NULL) is then the parsed
 * JSON object, or NULL for an empty body (204); the caller frees it with json_object_put.
 * Network failures and 502/503/504 replies are retried (opts.retries times, with
 * backoff) when the request is idempotent: GET, PUT, DELETE, or `flags` has
 * APICLIENT_IDEMPOTENT. On failure returns -APICLIENT_E_*, *reply is NULL, and *err
 * (may be NULL) says what happened.
 */
int apiclient_call(struct apiclient *c, const char *method, const char *path,
		   json_object *body, unsigned flags, long timeout_ms, json_object **reply,
		   struct apiclient_error *err);

/*
 * Called for each event of a server-sent event stream: the `event:` name (or "message")
 * and the `data:` lines joined by '\n'. Returns 0 to go on, non-zero to end the stream.
 */
typedef int (*apiclient_event_fn)(void *arg, const char *event, const char *data);

/*
 * GETs `path` as a server-sent event stream and calls `fn` for each event until fn
 * returns non-zero (then 0 is returned), the server closes the stream (0), the cancel
 * flag rises (-APICLIENT_E_CANCELLED), or nothing arrives for idle_ms (0: no limit;
 * -APICLIENT_E_NET). A non-2xx reply is -APICLIENT_E_HTTP with *err filled. Not retried.
 */
int apiclient_stream(struct apiclient *c, const char *path, long idle_ms,
		     apiclient_event_fn fn, void *arg, struct apiclient_error *err);

/*
 * The client's delay before the attempt-th retry (0-based), in ms: min(max, base *
 * 2^attempt), of which a random part is kept ("equal jitter": between half and all of
 * it), so that many clients that failed together do not come back together.
 */
long apiclient_backoff_ms(struct apiclient *c, unsigned attempt);

/*
 * Sleeps `ms`, waking early when the cancel flag rises. Returns 0, or
 * -APICLIENT_E_CANCELLED. For callers that keep their own queue and retry at the
 * client's pace.
 */
int apiclient_sleep(struct apiclient *c, long ms);

#endif
