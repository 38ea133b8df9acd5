/*
 * gwauth.h: the gateway's identity towards the key server: its P-256 key pair (a PEM
 * file in the data directory, mode 0600, made on first start) and the signature of
 * every request over lib/reqsig's digest. It sends nothing itself: the API client calls
 * gwauth_sign() through its request-signer hook.
 */
#ifndef PARK_GWAUTH_H
#define PARK_GWAUTH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "../lib/apiclient.h"

#define GWAUTH_KEY_FILE "gateway.key" /* in the data directory: the private key, PEM */
#define GWAUTH_PUB_FILE "gateway.pub" /* beside it: the public key, 128 hex digits */

struct gwauth {
	int64_t gateway_id; /* the server's ID of this gateway (X-Park-Gateway), > 0 */
	EVP_PKEY *key;      /* owned */
	uint8_t pub[64];    /* X || Y */
};

/*
 * Loads DIR/gateway.key, or makes a new key pair and writes it there (0600, atomically)
 * when the file does not exist; (re)writes DIR/gateway.pub for the site description.
 * Returns 0 with a->key set (free with gwauth_free), or -1 with errno set (EINVAL for a
 * key file that exists but is not a P-256 private key: it is never overwritten).
 */
int gwauth_open(struct gwauth *a, const char *dir, int64_t gateway_id);
void gwauth_free(struct gwauth *a);

/*
 * reqsig_digest() with the time as a number (written in decimal, as gwauth_sign() sends
 * it in X-Park-Time). Returns 0 or -1.
 */
int gwauth_digest(const char *method, const char *target, int64_t time,
		  const uint8_t *body, size_t body_len, uint8_t digest[32]);

/*
 * An apiclient_sign_fn: `arg` is a struct gwauth. Adds the three REQSIG_HEADER_* headers:
 * the gateway's ID, the time (now) and the signature (hex r || s). Returns 0 or -1.
 */
int gwauth_sign(void *arg, const char *method, const char *target, const uint8_t *body,
		size_t body_len, struct apiclient_headers *out);

#endif
