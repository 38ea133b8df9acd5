/*
 * reqsig.c: the gateway request digest (see reqsig.h), streamed through one SHA-256
 * context so that no copy of the request is made.
 */
#include "reqsig.h"

#include <string.h>

#include <openssl/evp.h>

int reqsig_digest(const char *method, const char *target, const char *time,
		  const uint8_t *body, size_t body_len, uint8_t out[REQSIG_DIGEST_LEN])
{
	uint8_t body_hash[REQSIG_DIGEST_LEN];
	EVP_MD_CTX *md = NULL;
	unsigned int len = 0;
	int r = -1;

	if (method == NULL || target == NULL || time == NULL)
		return -1;
	if (body == NULL) {
		body = (const uint8_t *)"";
		body_len = 0;
	}
	if (EVP_Digest(body, body_len, body_hash, &len, EVP_sha256(), NULL) != 1 ||
	    len != sizeof(body_hash))
		return -1;
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, "PKG1", 4) != 1 ||
	    EVP_DigestUpdate(md, method, strlen(method)) != 1 ||
	    EVP_DigestUpdate(md, "\n", 1) != 1 ||
	    EVP_DigestUpdate(md, target, strlen(target)) != 1 ||
	    EVP_DigestUpdate(md, "\n", 1) != 1 ||
	    EVP_DigestUpdate(md, time, strlen(time)) != 1 ||
	    EVP_DigestUpdate(md, "\n", 1) != 1 ||
	    EVP_DigestUpdate(md, body_hash, sizeof(body_hash)) != 1 ||
	    EVP_DigestFinal_ex(md, out, &len) != 1 || len != REQSIG_DIGEST_LEN)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}
