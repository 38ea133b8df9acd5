/*
 * gwauth.c: the gateway key pair and the request signature (see gwauth.h). Key files
 * are written by lib/p256 (atomic, 0600); this file only decides when to make one and
 * builds the string the server checks. It never logs or returns private key bytes.
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
	uint8_t body_hash[32];
	EVP_MD_CTX *md = NULL;
	char head[32];
	int n, r = -1;

	if (p256_sha256(body != NULL ? body : (const uint8_t *)"", body != NULL ? body_len : 0,
			body_hash) != 0)
		return -1;
	n = snprintf(head, sizeof(head), "%" PRId64, time);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, "PKG1", 4) != 1 ||
	    EVP_DigestUpdate(md, method, strlen(method)) != 1 ||
	    EVP_DigestUpdate(md, "\n", 1) != 1 ||
	    EVP_DigestUpdate(md, target, strlen(target)) != 1 ||
	    EVP_DigestUpdate(md, "\n", 1) != 1 ||
	    EVP_DigestUpdate(md, head, (size_t)n) != 1 ||
	    EVP_DigestUpdate(md, "\n", 1) != 1 ||
	    EVP_DigestUpdate(md, body_hash, sizeof(body_hash)) != 1 ||
	    EVP_DigestFinal_ex(md, digest, NULL) != 1)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}

int gwauth_sign(void *arg, const char *method, const char *target, const uint8_t *body,
		size_t body_len, struct apiclient_headers *out)
{
	const struct gwauth *a = arg;
	uint8_t digest[32], sig[64];
	char id[24], now[24], sig_hex[2 * sizeof(sig) + 1];
	int64_t t = (int64_t)time(NULL);

	if (a->key == NULL || gwauth_digest(method, target, t, body, body_len, digest) != 0 ||
	    p256_sign_digest(a->key, digest, sig) != 0 ||
	    hex_encode(sig, sizeof(sig), sig_hex, sizeof(sig_hex)) < 0)
		return -1;
	snprintf(id, sizeof(id), "%" PRId64, a->gateway_id);
	snprintf(now, sizeof(now), "%" PRId64, t);
	if (apiclient_header_add(out, "X-Park-Gateway", id) != 0 ||
	    apiclient_header_add(out, "X-Park-Time", now) != 0 ||
	    apiclient_header_add(out, "X-Park-Signature", sig_hex) != 0)
		return -1;
	return 0;
}
