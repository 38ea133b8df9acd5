/*
 * gateway-auth.c: verifies gateway request signatures (see gateway-auth.h). Headers are
 * parsed strictly (decimal digits only, exact hex length) before any crypto, and the
 * signature is checked before the caller acts on anything the request says.
 */
#include "gateway-auth.h"

#include <string.h>

#include "../lib/hex.h"
#include "../lib/p256.h"
#include "../lib/reqsig.h"

#define GATEWAY_AUTH_ID_MAX 4294967295LL
#define GATEWAY_AUTH_TIME_MAX 99999999999LL /* 11 digits: far beyond any real clock */

/* A plain decimal of 1..18 digits, no sign, no spaces, at most max. -1 otherwise. */
static int64_t gateway_auth_decimal(const char *s, int64_t max)
{
	int64_t v = 0;
	size_t i, n;

	if (s == NULL)
		return -1;
	n = strlen(s);
	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* The gateway's public key. 0, or -1 when unknown or on a storage error. */
static int gateway_auth_key(struct db *db, int64_t id, uint8_t pub[64])
{
	struct db_stmt *st = db_prepare(db, "SELECT public_key FROM gateways WHERE id = $1");
	const void *p;
	size_t len = 0;
	int r = -1;

	if (st == NULL)
		return -1;
	if (db_bind_int(st, 1, id) != 0 || db_step(st) != DB_ROW)
		goto out;
	p = db_col_blob(st, 0, &len);
	if (p == NULL || len != 64)
		goto out;
	memcpy(pub, p, 64);
	r = 0;
out:
	db_finalize(st);
	return r;
}

int gateway_auth_verify(struct db *db, const char *method, const char *target,
			const uint8_t *body, size_t body_len, const struct gateway_auth_headers *h,
			int64_t now, int64_t *gateway_id)
{
	uint8_t sig[64], pub[64], digest[32];
	int64_t id, t;

	id = gateway_auth_decimal(h->gateway, GATEWAY_AUTH_ID_MAX);
	t = gateway_auth_decimal(h->time, GATEWAY_AUTH_TIME_MAX);
	if (id < 1 || t < 0 || t < now - GATEWAY_AUTH_SKEW_S || t > now + GATEWAY_AUTH_SKEW_S)
		return -1;
	if (h->signature == NULL || strlen(h->signature) != 128 ||
	    hex_decode(h->signature, sig, sizeof(sig)) != 64)
		return -1;
	if (gateway_auth_key(db, id, pub) != 0 ||
	    reqsig_digest(method, target, h->time, body, body_len, digest) != 0 ||
	    p256_verify_digest(pub, digest, sig) != 0)
		return -1;
	*gateway_id = id;
	return 0;
}

int gateway_auth_check(struct db *db, const struct http_request *req, int64_t now,
		       int64_t *gateway_id)
{
	struct gateway_auth_headers h;

	h.gateway = http_header(req, REQSIG_HEADER_GATEWAY);
	h.time = http_header(req, REQSIG_HEADER_TIME);
	h.signature = http_header(req, REQSIG_HEADER_SIGNATURE);
	return gateway_auth_verify(db, req->method, req->target, req->body, req->body_len, &h,
				   now, gateway_id);
}
