/*
 * gateway-auth.h: the key server's check of a gateway's request signature, as
 * server/API.md "Gateways" defines it: X-Park-Gateway (ID), X-Park-Time (Unix seconds,
 * within GATEWAY_AUTH_SKEW_S of ours) and X-Park-Signature (hex r || s by the gateway's
 * key, stored at site import) over SHA-256("PKG1" || method || "\n" || target || "\n" ||
 * time || "\n" || SHA-256(body)). It reads the key from the database and nothing else.
 */
#ifndef PARK_GATEWAY_AUTH_H
#define PARK_GATEWAY_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

#define GATEWAY_AUTH_SKEW_S 300

/* The three header values as received (any may be NULL: refused). */
struct gateway_auth_headers {
	const char *gateway;   /* X-Park-Gateway: decimal ID */
	const char *time;      /* X-Park-Time: decimal Unix seconds */
	const char *signature; /* X-Park-Signature: 128 hex digits */
};

/*
 * The to-be-signed digest. `target` is the request target as sent (path and query,
 * still %-encoded); `time` the X-Park-Time header text exactly. 0 or -1.
 */
int gateway_auth_digest(const char *method, const char *target, const char *time,
			const uint8_t *body, size_t body_len, uint8_t digest[32]);

/*
 * Checks a request's signature against the stored key of the gateway it names. Returns
 * 0 with *gateway_id set, or -1 when any header is missing or malformed, the time is
 * more than GATEWAY_AUTH_SKEW_S from `now`, the gateway is unknown, the signature does
 * not verify, or the database fails. It never says which: a refused gateway learns
 * nothing.
 */
int gateway_auth_verify(struct db *db, const char *method, const char *target,
			const uint8_t *body, size_t body_len, const struct gateway_auth_headers *h,
			int64_t now, int64_t *gateway_id);

/*
 * gateway_auth_verify() on an HTTP request (method, target, body and the three headers
 * through http_header()): what server_gateway() does for HTTP_AUTH_GATEWAY routes.
 */
int gateway_auth_check(struct db *db, const struct http_request *req, int64_t now,
		       int64_t *gateway_id);

#endif
