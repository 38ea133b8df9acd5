/*
 * reqsig.h: the gateway request signature's digest and header names, as server/API.md
 * "Gateways" defines them. The gateway signs this digest (gateway/gwauth.c) and the key
 * server verifies it (server/gateway-auth.c): one definition, so the two cannot drift.
 * It neither signs nor verifies, and parses no header: keys and checks stay with them.
 */
#ifndef PARK_REQSIG_H
#define PARK_REQSIG_H

#include <stddef.h>
#include <stdint.h>

#define REQSIG_HEADER_GATEWAY "X-Park-Gateway"     /* the gateway's ID, decimal */
#define REQSIG_HEADER_TIME "X-Park-Time"           /* Unix seconds, decimal */
#define REQSIG_HEADER_SIGNATURE "X-Park-Signature" /* hex r || s over the digest */
#define REQSIG_DIGEST_LEN 32

/*
 * The to-be-signed digest into out: SHA-256("PKG1" || method || "\n" || target || "\n"
 * || time || "\n" || SHA-256(body)), the body's hash as its 32 raw bytes. `target` is
 * the request target as sent (path and query, still %-encoded); `time` the X-Park-Time
 * text exactly as sent. A NULL body is the empty one (body_len is then ignored).
 * Returns 0, or -1 when method, target or time is NULL or the hash fails (out is then
 * unspecified).
 */
int reqsig_digest(const char *method, const char *target, const char *time,
		  const uint8_t *body, size_t body_len, uint8_t out[REQSIG_DIGEST_LEN]);

#endif
