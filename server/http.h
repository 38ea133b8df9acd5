/*
 * http.h: parkd's HTTP layer on libmicrohttpd: requests collected with a body limit,
 * dispatched through the route table (routes.c: one row per method and path pattern),
 * JSON replies, and error replies that always carry a stable code and a sentence:
 *   {"error":"bad_json","detail":"The body is not valid JSON: ..."}
 * Handlers never see libmicrohttpd; they fill a struct http_reply.
 */
#ifndef PARK_HTTP_H
#define PARK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define HTTP_BODY_MAX 65536 /* larger bodies get 413 body_too_large (a route may differ) */
#define HTTP_PARAMS_MAX 4

struct server;
struct http_stream;
struct auth_user;

struct http_request {
	const char *method;   /* "GET", "POST", ... */
	const char *path;     /* without the query string */
	const char *params[HTTP_PARAMS_MAX]; /* captured {name} segments of the route, in order */
	const uint8_t *body;  /* NUL-terminated copy, body_len bytes before the NUL */
	size_t body_len;
	json_object *json;    /* the body parsed as a JSON object, or NULL (see route flags) */
	const char *token;    /* bearer token of "Authorization: Bearer ...", or NULL */
	char peer[64];        /* client address, for rate limits and the audit trail */
	void *conn;           /* the libmicrohttpd connection: http.c's own */
	const char *target;   /* the request target as sent: path and query, still %-encoded */
	const struct auth_user *user; /* the caller of an HTTP_AUTH_USER route, else NULL */
	int64_t gateway_id;   /* the gateway of an HTTP_AUTH_GATEWAY route, else 0 */
	void *work;           /* what the handler gave http_defer(), for its finish */
};

struct http_reply {
	int status;            /* HTTP status; 0 means "not filled": 500 internal */
	json_object *json;     /* reply body, owned by the reply (freed after sending) */
	const char *content_type; /* for `text` replies, e.g. the Prometheus exposition */
	char *text;            /* malloc'ed non-JSON body, owned by the reply */
	size_t text_len;
	struct http_stream *stream; /* set by http_reply_stream() for server-sent events */
	int retry_after;       /* seconds, sent as Retry-After when > 0 (429, 503) */
};

/* Route flags. */
#define HTTP_JSON_BODY 0x01 /* the body must be a JSON object (else 400 bad_json) */
#define HTTP_AUTH_USER 0x02 /* a valid session token is required (else 401 unauthenticated) */
#define HTTP_AUTH_GATEWAY 0x04 /* a gateway signature is required (else 401) */
/*
 * The handler never waits (no long poll, no password hash, no commit): it runs on the
 * event loop, which serves many connections on each thread, and may defer its reply
 * with http_defer(). Other routes run on a pool thread that may wait.
 */
#define HTTP_NO_WAIT 0x08

typedef void (*http_handler_fn)(struct server *srv, struct http_request *req,
				struct http_reply *rep);

struct http_route {
	const char *method;
	const char *pattern; /* "/v1/spots/{id}/map": {x} captures one path segment */
	http_handler_fn fn;
	unsigned flags;      /* HTTP_* */
	const char *summary; /* one line, for `parkd --routes` and the reference document */
	size_t body_max;     /* request body limit in bytes; 0 means HTTP_BODY_MAX */
};

/*
 * Sets an error reply: status, {"error": code, "detail": printf-formatted sentence}. The
 * code is stable (documented in server/openapi.yaml); the sentence says what to do.
 */
/*
 * Parses body[0..len) as one JSON object the way every JSON route's body is parsed
 * (RFC 8259's tokens only, UTF-8, nothing after it). 0 with *out (the caller's), or -1
 * with rep set to 400 bad_json and *out NULL. For routes whose body is optional.
 */
int http_json_object(const uint8_t *body, size_t len, json_object **out, struct http_reply *rep);

void http_reply_error(struct http_reply *rep, int status, const char *code, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));

/* Sets a JSON reply, taking ownership of `obj`. */
void http_reply_json(struct http_reply *rep, int status, json_object *obj);

/* Sets a non-JSON reply, taking ownership of the malloc'ed `text` (len bytes). */
void http_reply_text(struct http_reply *rep, int status, const char *content_type, char *text,
		     size_t len);

/*
 * The query argument `name` of the request ("?wait=25" gives "25" for "wait"),
 * %-decoded, or NULL. Borrowed: valid until the handler returns.
 */
const char *http_query(const struct http_request *req, const char *name);

/* The request header `name` (case-insensitive), or NULL. Borrowed, as above. */
const char *http_header(const struct http_request *req, const char *name);

/*
 * For an HTTP_NO_WAIT handler whose reply comes once other work is done (an e-key waits
 * for its commit): call http_defer() and return with the reply unset. The connection
 * waits, holding no thread; req->work is `work`. When the work is done, any thread
 * calls http_resume(req) exactly once, and then finish(srv, req, rep) fills the reply
 * on the event loop. cleanup(work), when not NULL, runs when the request ends, whether
 * or not finish ran (the client may be gone). 0, -HTTP_E_STOPPING once the server has
 * stopped taking deferred replies (its last ones are being waited for: reply 503), or -1
 * when deferring is impossible here. On failure the handler replies at once and must not
 * call http_resume().
 */
#define HTTP_E_STOPPING 2
int http_defer(struct http_request *req, http_handler_fn finish, void *work,
	       void (*cleanup)(void *work));
void http_resume(struct http_request *req);

/* ---- for main.c: the listening server ---- */

struct http_server;

/*
 * Starts serving `srv`'s configuration (listen, tls_cert, tls_key, max_connections):
 * an event loop per online core (epoll) reads requests, runs HTTP_NO_WAIT handlers and
 * writes replies and event streams; other handlers run on a pool of threads that grows
 * as they wait (workpool.h), so a handler that waits holds up no other request.
 * Returns NULL after logging why.
 */
struct http_server *http_start(struct server *srv);

/* The port it listens on (the one picked when the configuration said 0). */
uint16_t http_port(const struct http_server *hs);

/*
 * Stops accepting, ends every event stream, waits up to `grace_ms` for the requests in
 * progress to finish, and for the handlers on the pool and every deferred reply however
 * long (the server's writer, still running, answers them all), then closes every
 * connection and frees hs. NULL is a no-op.
 */
void http_stop(struct http_server *hs, int grace_ms);

#endif
