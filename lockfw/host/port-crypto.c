/*
 * port-crypto.c: the lock port's crypto on OpenSSL 3's EVP API: SHA-256 and HMAC over
 * scattered parts, ECDSA verification and the device key through lib/p256, random
 * bytes from RAND_bytes. The device key's private half stays in this module's EVP_PKEY
 * and its 0600 file; callers only get the public key and signatures.
 */
#include "port-crypto.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "../../lib/p256.h"

int port_crypto_sha256(void *ctx, const struct port_buf *parts, size_t nparts, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	size_t i;
	int r = -1;

	(void)ctx;
	if (md == NULL || EVP_DigestInit_ex2(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (i = 0; i < nparts; i++) {
		if (EVP_DigestUpdate(md, parts[i].p, parts[i].len) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != 32)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}

int port_crypto_hmac_sha256(void *ctx, const uint8_t *key, size_t key_len,
			    const struct port_buf *parts, size_t nparts, uint8_t out[32])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *mctx = NULL;
	/* HMAC's init treats a NULL key as "keep the old key", so an empty key needs a pointer. */
	uint8_t empty = 0;
	size_t len = 0, i;
	int r = -1;

	(void)ctx;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	mctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	if (mctx == NULL)
		goto out;
	if (EVP_MAC_init(mctx, key_len > 0 ? key : &empty, key_len, params) != 1)
		goto out;
	for (i = 0; i < nparts; i++) {
		if (EVP_MAC_update(mctx, parts[i].p, parts[i].len) != 1)
			goto out;
	}
	if (EVP_MAC_final(mctx, out, &len, 32) != 1 || len != 32)
		goto out;
	r = 0;
out:
	EVP_MAC_CTX_free(mctx); /* wipes the keyed state */
	EVP_MAC_free(mac);
	return r;
}

int port_crypto_ecdsa_verify(void *ctx, const uint8_t pub[64], const uint8_t digest[32],
			     const uint8_t sig[64])
{
	(void)ctx;
	return p256_verify_digest(pub, digest, sig);
}

int port_crypto_random(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	if (len > INT_MAX)
		return -1;
	if (len == 0)
		return 0;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

void port_device_key_setup(struct port_device_key *k, const char *path)
{
	k->pkey = NULL;
	/*
	 * A path too long to keep is stored cut to the full buffer, which init refuses:
	 * a cut path would silently put the key somewhere else.
	 */
	snprintf(k->path, sizeof(k->path), "%s", path != NULL ? path : "");
}

/* A fresh pair, written to the key's file when it has one. */
static int port_device_key_create(struct port_device_key *k)
{
	EVP_PKEY *key = p256_generate();
	int r = -1;

	if (key == NULL)
		goto out;
	if (k->path[0] != '\0' && p256_save_private(key, k->path) != 0)
		goto out;
	k->pkey = key;
	key = NULL; /* transferred */
	r = 0;
out:
	EVP_PKEY_free(key);
	return r;
}

int port_device_key_init(struct port_device_key *k)
{
	struct stat st;

	if (k->pkey != NULL)
		return 0;
	if (k->path[0] == '\0')
		return port_device_key_create(k);
	if (strnlen(k->path, sizeof(k->path)) >= sizeof(k->path) - 1)
		return -1;
	/*
	 * Only a missing file makes a new key. Anything else that fails to load (corrupt,
	 * another algorithm, unreadable) is kept for a human to look at: overwriting it
	 * would change the lock's identity.
	 */
	if (lstat(k->path, &st) != 0)
		return errno == ENOENT ? port_device_key_create(k) : -1;
	k->pkey = p256_load_private(k->path);
	return k->pkey != NULL ? 0 : -1;
}

int port_device_key_pubkey(struct port_device_key *k, uint8_t pub[64])
{
	if (k->pkey == NULL)
		return -1;
	return p256_public_raw(k->pkey, pub);
}

int port_device_key_sign(struct port_device_key *k, const uint8_t digest[32], uint8_t sig[64])
{
	if (k->pkey == NULL)
		return -1;
	return p256_sign_digest(k->pkey, digest, sig);
}

void port_device_key_free(struct port_device_key *k)
{
	EVP_PKEY_free(k->pkey); /* clears the private scalar */
	k->pkey = NULL;
}
