/*
 * gateway-auth.h: the key server's check of a gateway's request signature, as
 * server/API.md "Gateways" defines it: X-Park-Gateway (ID), X-Park-Time (Unix seconds,
 * within GATEWAY_AUTH_SKEW_S of ours) and X-Park-Signature (hex r || s by the gateway's
 * key, stored at site import) over lib/reqsig's digest of the request. It reads the key
 * from the database and nothing else.
 */
#ifndef PARK_GATEWAY_AUTH_H
#define PARK_GATEWAY_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

#define GATEWAY_AUTH_SKEW_S 300

/* The three REQSIG_HEADER_* values as received (any may be NULL: refused). */
struct gateway_auth_headers {
	const char *gateway;   /* X-Park-Gateway: decimal ID */
	const char *time;      /* X-Park-Time: decimal Unix seconds */
	const char *signature; /* X-Park-Signature: 128 hex digits */
};

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
