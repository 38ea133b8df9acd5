/*
 * p256.h: P-256 key pairs, ECDSA and SHA-256 on OpenSSL 3's EVP API, in the protocol's
 * raw formats (public key X || Y, 64 bytes; signature r || s, 64 bytes).
 *
 * Every host program links this one module for its P-256 work; nothing else in the
 * tree calls OpenSSL's EC functions. Private keys are EVP_PKEY handles the caller frees
 * with EVP_PKEY_free(); their bytes only ever go to a 0600 file.
 */
#ifndef PARK_P256_H
#define PARK_P256_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* A new key pair, or NULL. */
EVP_PKEY *p256_generate(void);

/* The public half as X || Y. Returns 0 or -1. */
int p256_public_raw(const EVP_PKEY *key, uint8_t pub[64]);

/* A public-key handle from X || Y; NULL when the point is not on the curve. */
EVP_PKEY *p256_from_public_raw(const uint8_t pub[64]);

/*
 * The same from a P-256 key the caller already holds, whose curve is copied rather than
 * built again: about a third of p256_from_public_raw()'s cost, for hot paths (ECIES
 * decryption, the server's checks of device keys). Refuses the same points.
 */
EVP_PKEY *p256_public_like(const EVP_PKEY *like, const uint8_t pub[64]);

/* ECDSA over a SHA-256 digest, signature as r || s. Returns 0 or -1. */
int p256_sign_digest(EVP_PKEY *key, const uint8_t digest[32], uint8_t sig[64]);

/*
 * Verifies r || s over a digest with X || Y. Returns 0 when valid, -1 when invalid
 * (bad point, r or s out of range, or mismatch).
 */
int p256_verify_digest(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64]);

/* SHA-256 of buf[0..len). Returns 0 or -1. */
int p256_sha256(const uint8_t *buf, size_t len, uint8_t out[32]);

/*
 * Writes the private key as PKCS#8 PEM to `path`, mode 0600, atomically (temporary file,
 * fsync, rename). Returns 0 or -1 with errno set.
 */
int p256_save_private(EVP_PKEY *key, const char *path);
/* Loads a private key written by p256_save_private(); NULL when missing, unreadable, or not P-256. */
EVP_PKEY *p256_load_private(const char *path);

/* Writes / reads a public key as one line of 128 hex digits. Return 0 or -1. */
int p256_save_public_hex(const uint8_t pub[64], const char *path);
int p256_load_public_hex(const char *path, uint8_t pub[64]);

#endif
