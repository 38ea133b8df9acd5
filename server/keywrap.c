/*
 * keywrap.c: seals and opens private keys under the master key (AES-256-GCM, random
 * nonce, purpose label as associated data), and converts P-256 keys to and from the DER
 * that gets sealed. It never stores, logs or returns key bytes unsealed except into the
 * caller's buffer, and wipes every intermediate copy.
 */
#include "keywrap.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "../lib/p256.h"

#define KEYWRAP_DER_MAX (KEYWRAP_KEY_MAX - KEYWRAP_OVERHEAD)

/*
 * AES-256-GCM over in[0..len) with associated data `label`. Encrypts (writing the tag)
 * or decrypts (checking it) into out. 0 or -1.
 */
static int keywrap_gcm(int encrypt, const uint8_t key[KEYWRAP_MASTER_LEN],
		       const uint8_t nonce[KEYWRAP_NONCE_LEN], const char *label,
		       const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[KEYWRAP_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	EVP_CIPHER *cipher = NULL;
	size_t label_len = strlen(label);
	int n = 0, fin = 0;
	int r = -1;

	if (ctx == NULL || len > INT_MAX || label_len > INT_MAX)
		goto out;
	cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (cipher == NULL)
		goto out;
	if (EVP_CipherInit_ex2(ctx, cipher, key, nonce, encrypt, NULL) != 1)
		goto out;
	if (EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)label, (int)label_len) != 1)
		goto out;
	if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!encrypt &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KEYWRAP_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + (len > 0 ? n : 0), &fin) != 1)
		goto out;
	if (encrypt &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KEYWRAP_TAG_LEN, tag) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_free(cipher);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int keywrap_seal(const uint8_t master[KEYWRAP_MASTER_LEN], const char *label,
		 const uint8_t *plain, size_t len, uint8_t *out, size_t cap)
{
	if (master == NULL || label == NULL || label[0] == '\0' || out == NULL)
		return -1;
	if (len > (size_t)INT_MAX - KEYWRAP_OVERHEAD || cap < len + KEYWRAP_OVERHEAD)
		return -1;
	if (len > 0 && plain == NULL)
		return -1;
	if (RAND_bytes(out, KEYWRAP_NONCE_LEN) != 1)
		return -1;
	if (keywrap_gcm(1, master, out, label, plain, len, out + KEYWRAP_NONCE_LEN,
			out + KEYWRAP_NONCE_LEN + len) != 0) {
		OPENSSL_cleanse(out, len + KEYWRAP_OVERHEAD);
		return -1;
	}
	return (int)(len + KEYWRAP_OVERHEAD);
}

int keywrap_open(const uint8_t master[KEYWRAP_MASTER_LEN], const char *label,
		 const uint8_t *wrapped, size_t len, uint8_t *out, size_t cap)
{
	uint8_t tag[KEYWRAP_TAG_LEN];
	uint8_t *plain;
	size_t plen;
	int r = -1;

	if (master == NULL || label == NULL || label[0] == '\0' || wrapped == NULL)
		return -1;
	if (len < KEYWRAP_OVERHEAD || len > INT_MAX)
		return -1;
	plen = len - KEYWRAP_OVERHEAD;
	if (plen > cap || (plen > 0 && out == NULL))
		return -1;
	/* Decrypt aside: `out` sees nothing until the tag has been checked. */
	plain = malloc(plen > 0 ? plen : 1);
	if (plain == NULL)
		return -1;
	memcpy(tag, wrapped + len - KEYWRAP_TAG_LEN, KEYWRAP_TAG_LEN);
	if (keywrap_gcm(0, master, wrapped, label, wrapped + KEYWRAP_NONCE_LEN, plen, plain,
			tag) != 0)
		goto out;
	if (plen > 0)
		memcpy(out, plain, plen);
	r = (int)plen;
out:
	OPENSSL_clear_free(plain, plen > 0 ? plen : 1);
	return r;
}

int keywrap_seal_key(const uint8_t master[KEYWRAP_MASTER_LEN], const char *label,
		     EVP_PKEY *key, uint8_t *out, size_t cap)
{
	unsigned char *der = NULL;
	uint8_t pub[64];
	int len, r = -1;

	if (key == NULL || p256_public_raw(key, pub) != 0)
		return -1;
	len = i2d_PrivateKey(key, &der);
	if (len <= 0 || len > KEYWRAP_DER_MAX)
		goto out;
	r = keywrap_seal(master, label, der, (size_t)len, out, cap);
out:
	if (der != NULL)
		OPENSSL_clear_free(der, len > 0 ? (size_t)len : 0);
	return r;
}

EVP_PKEY *keywrap_open_key(const uint8_t master[KEYWRAP_MASTER_LEN], const char *label,
			   const uint8_t *wrapped, size_t len)
{
	uint8_t der[KEYWRAP_DER_MAX];
	const unsigned char *p = der;
	EVP_PKEY *key = NULL;
	uint8_t pub[64];
	int n;

	n = keywrap_open(master, label, wrapped, len, der, sizeof(der));
	if (n <= 0)
		goto out;
	key = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, n);
	/* Only a whole, P-256 private key with its public half will do. */
	if (key == NULL || p != der + n || p256_public_raw(key, pub) != 0) {
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	OPENSSL_cleanse(der, sizeof(der));
	return key;
}

int keywrap_label(char label[KEYWRAP_LABEL_MAX], const char *purpose, int64_t id)
{
	int n = snprintf(label, KEYWRAP_LABEL_MAX, "%s:%lld", purpose, (long long)id);

	return n > 0 && n < KEYWRAP_LABEL_MAX ? 0 : -1;
}
