/*
 * gwauth.c: the gateway key pair and the request signature (see gwauth.h). Key files
 * are written by lib/p256 (atomic, 0600) and the signed digest is lib/reqsig's; this file
 * only decides when to make a key and signs. It never logs or returns private key bytes.
 */
#include "gwauth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../lib/hex.h"
#include "../lib/p256.h"
#include "../lib/reqsig.h"

#define GWAUTH_PATH_MAX 4096

int gwauth_open(struct gwauth *a, const char *dir, int64_t gateway_id)
{
	char path[GWAUTH_PATH_MAX];
	struct stat st;
	EVP_PKEY *key = NULL;
	int n, r = -1;

	memset(a, 0, sizeof(*a));
	n = snprintf(path, sizeof(path), "%s/%s", dir, GWAUTH_KEY_FILE);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	if (stat(path, &st) == 0) {
		key = p256_load_private(path);
		if (key == NULL) {
			errno = EINVAL;
			goto out;
		}
	} else if (errno == ENOENT) {
		key = p256_generate();
		if (key == NULL || p256_save_private(key, path) != 0) {
			if (key != NULL && errno == 0)
				errno = EIO;
			goto out;
		}
	} else {
		goto out;
	}
	if (p256_public_raw(key, a->pub) != 0) {
		errno = EINVAL;
		goto out;
	}
	n = snprintf(path, sizeof(path), "%s/%s", dir, GWAUTH_PUB_FILE);
	if (n < 0 || (size_t)n >= sizeof(path) || p256_save_public_hex(a->pub, path) != 0)
		goto out;
	a->gateway_id = gateway_id;
	a->key = key;
	key = NULL; /* transferred */
	r = 0;
out:
	EVP_PKEY_free(key);
	return r;
}

void gwauth_free(struct gwauth *a)
{
	EVP_PKEY_free(a->key);
	memset(a, 0, sizeof(*a));
}

int gwauth_digest(const char *method, const char *target, int64_t time,
		  const uint8_t *body, size_t body_len, uint8_t digest[32])
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRId64, time);
	return reqsig_digest(method, target, text, body, body_len, digest);
}

int gwauth_sign(void *arg, const char *method, const char *target, const uint8_t *body,
		size_t body_len, struct apiclient_headers *out)
{
	const struct gwauth *a = arg;
	uint8_t digest[32], sig[64];
	char id[24], now[24], sig_hex[2 * sizeof(sig) + 1];
	int64_t t = (int64_t)time(NULL);

	/* The time is signed as the very text that X-Park-Time carries. */
	snprintf(id, sizeof(id), "%" PRId64, a->gateway_id);
	snprintf(now, sizeof(now), "%" PRId64, t);
	if (a->key == NULL || reqsig_digest(method, target, now, body, body_len, digest) != 0 ||
	    p256_sign_digest(a->key, digest, sig) != 0 ||
	    hex_encode(sig, sizeof(sig), sig_hex, sizeof(sig_hex)) < 0)
		return -1;
	if (apiclient_header_add(out, REQSIG_HEADER_GATEWAY, id) != 0 ||
	    apiclient_header_add(out, REQSIG_HEADER_TIME, now) != 0 ||
	    apiclient_header_add(out, REQSIG_HEADER_SIGNATURE, sig_hex) != 0)
		return -1;
	return 0;
}
