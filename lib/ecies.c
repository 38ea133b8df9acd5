/*
 * ecies.c: ECIES on P-256 as ecies.h specifies it: ECDH with a one-time key, HKDF-SHA-256,
 * AES-256-GCM, all through OpenSSL 3's EVP API. It owns only that composition; key
 * parsing and point checks are p256.c's. Derived keys and plaintext copies are wiped
 * before return, and a failed decryption never writes to the caller's buffer.
 */
#include "ecies.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "p256.h"

#define ECIES_PUB_LEN 64
#define ECIES_TAG_LEN 16
#define ECIES_KEY_LEN 32
#define ECIES_IV_LEN 12
#define ECIES_SHARED_LEN 32
#define ECIES_INFO "parking-ecies-v1"

_Static_assert(ECIES_OVERHEAD == ECIES_PUB_LEN + ECIES_TAG_LEN, "ECIES_OVERHEAD layout");

/* The AES key then the GCM nonce, as HKDF delivers them in one 44-byte output. */
struct ecies_keys {
	uint8_t b[ECIES_KEY_LEN + ECIES_IV_LEN];
};

/*
 * ECDH: the shared point's X coordinate, 32 bytes, from our private and their public key.
 * `peer` comes from p256.c, which has checked the point, so OpenSSL is
 * not asked to check it a second time.
 */
static int ecies_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t shared[ECIES_SHARED_LEN])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	size_t len = ECIES_SHARED_LEN;
	int r = -1;

	if (ctx == NULL)
		goto out;
	if (EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) != 1)
		goto out;
	if (EVP_PKEY_derive(ctx, shared, &len) != 1 || len != ECIES_SHARED_LEN)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/*
 * HKDF-SHA-256(ikm = shared, salt = eph_pub || recipient_pub, info = ECIES_INFO). `shared`
 * is not const only because OSSL_PARAM takes a plain pointer; it is not written.
 */
static int ecies_kdf(uint8_t shared[ECIES_SHARED_LEN], const uint8_t eph_pub[ECIES_PUB_LEN],
		     const uint8_t recipient_pub[ECIES_PUB_LEN], struct ecies_keys *keys)
{
	uint8_t salt[2 * ECIES_PUB_LEN];
	char digest[] = "SHA256";
	char info[] = ECIES_INFO;
	OSSL_PARAM params[5];
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	int r = -1;

	memcpy(salt, eph_pub, ECIES_PUB_LEN);
	memcpy(salt + ECIES_PUB_LEN, recipient_pub, ECIES_PUB_LEN);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, shared,
						      ECIES_SHARED_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, strlen(info));
	params[4] = OSSL_PARAM_construct_end();

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (kdf == NULL)
		goto out;
	ctx = EVP_KDF_CTX_new(kdf);
	if (ctx == NULL)
		goto out;
	if (EVP_KDF_derive(ctx, keys->b, sizeof(keys->b), params) != 1)
		goto out;
	r = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

/*
 * AES-256-GCM, no associated data (the ephemeral key is already bound in by the KDF's
 * salt). Encrypts or decrypts in[0..len) to out; on decryption `tag` is checked, on
 * encryption written. 0 or -1.
 */
static int ecies_gcm(int encrypt, const struct ecies_keys *keys, const uint8_t *in, size_t len,
		     uint8_t *out, uint8_t tag[ECIES_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	EVP_CIPHER *cipher = NULL;
	int n = 0, fin = 0;
	int r = -1;

	if (ctx == NULL || len > INT_MAX)
		goto out;
	cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (cipher == NULL)
		goto out;
	/* GCM's default nonce length is 12, which is ours: no IVLEN control needed. */
	if (EVP_CipherInit_ex2(ctx, cipher, keys->b, keys->b + ECIES_KEY_LEN, encrypt, NULL) != 1)
		goto out;
	if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!encrypt &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ECIES_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &fin) != 1)
		goto out;
	if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ECIES_TAG_LEN, tag) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_free(cipher);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int ecies_encrypt(const uint8_t recipient_pub[64], const uint8_t *msg, size_t len,
		  uint8_t *out, size_t cap)
{
	uint8_t shared[ECIES_SHARED_LEN];
	struct ecies_keys keys;
	EVP_PKEY *recipient = NULL, *eph = NULL;
	int r = -1;

	if (len > (size_t)INT_MAX - ECIES_OVERHEAD || cap < len + ECIES_OVERHEAD)
		return -1;
	if (len > 0 && msg == NULL)
		return -1;
	eph = p256_generate();
	if (eph == NULL)
		goto out;
	recipient = p256_public_like(eph, recipient_pub);
	if (recipient == NULL)
		goto out;
	if (p256_public_raw(eph, out) != 0)
		goto out;
	if (ecies_ecdh(eph, recipient, shared) != 0)
		goto out;
	if (ecies_kdf(shared, out, recipient_pub, &keys) != 0)
		goto out;
	if (ecies_gcm(1, &keys, msg, len, out + ECIES_PUB_LEN, out + ECIES_PUB_LEN + len) != 0)
		goto out;
	r = (int)(len + ECIES_OVERHEAD);
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(&keys, sizeof(keys));
	EVP_PKEY_free(eph);
	EVP_PKEY_free(recipient);
	return r;
}

int ecies_decrypt(EVP_PKEY *recipient, const uint8_t *ct, size_t len, uint8_t *out, size_t cap)
{
	uint8_t shared[ECIES_SHARED_LEN];
	uint8_t recipient_pub[ECIES_PUB_LEN];
	uint8_t tag[ECIES_TAG_LEN];
	struct ecies_keys keys;
	EVP_PKEY *eph = NULL;
	uint8_t *plain = NULL;
	size_t plen = 0;
	int r = -1;

	if (recipient == NULL || ct == NULL || len < ECIES_OVERHEAD || len > INT_MAX)
		return -1;
	plen = len - ECIES_OVERHEAD;
	if (plen > cap)
		return -1;
	/* The plaintext goes to a private buffer until the tag has been checked. */
	plain = malloc(plen > 0 ? plen : 1);
	if (plain == NULL)
		return -1;
	eph = p256_public_like(recipient, ct); /* refuses points off the curve */
	if (eph == NULL)
		goto out;
	if (p256_public_raw(recipient, recipient_pub) != 0)
		goto out;
	if (ecies_ecdh(recipient, eph, shared) != 0)
		goto out;
	if (ecies_kdf(shared, ct, recipient_pub, &keys) != 0)
		goto out;
	memcpy(tag, ct + len - ECIES_TAG_LEN, ECIES_TAG_LEN);
	if (ecies_gcm(0, &keys, ct + ECIES_PUB_LEN, plen, plain, tag) != 0)
		goto out;
	if (plen > 0)
		memcpy(out, plain, plen);
	r = (int)plen;
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(&keys, sizeof(keys));
	OPENSSL_cleanse(plain, plen > 0 ? plen : 1);
	free(plain);
	EVP_PKEY_free(eph);
	return r;
}
