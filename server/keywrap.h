/*
 * keywrap.h: private keys at rest (site keys, reservation keys) sealed under the server's
 * 32-byte master key with AES-256-GCM. Each sealed blob is bound to a purpose label
 * ("site:7", "reservation:42") as associated data, so a blob copied to another row or
 * another purpose never opens. Format: nonce (12, random) || ciphertext || tag (16).
 */
#ifndef PARK_KEYWRAP_H
#define PARK_KEYWRAP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define KEYWRAP_MASTER_LEN 32
#define KEYWRAP_NONCE_LEN 12
#define KEYWRAP_TAG_LEN 16
#define KEYWRAP_OVERHEAD (KEYWRAP_NONCE_LEN + KEYWRAP_TAG_LEN)
#define KEYWRAP_LABEL_MAX 64 /* room for "reservation:" and any int64 */
#define KEYWRAP_KEY_MAX 512  /* a sealed P-256 private key is far below this */

/*
 * Seals plain[0..len) under `master` for `label` (a non-empty NUL-terminated string) into
 * out[0..cap). Returns len + KEYWRAP_OVERHEAD, or -1 (cap too small, randomness or
 * cipher failure).
 */
int keywrap_seal(const uint8_t master[KEYWRAP_MASTER_LEN], const char *label,
		 const uint8_t *plain, size_t len, uint8_t *out, size_t cap);

/*
 * Opens a blob made by keywrap_seal() with the same master key and label into
 * out[0..cap). Returns the plaintext length, or -1 when the blob is short, tampered
 * with, sealed for another label or under another key, or cap is too small; nothing is
 * written to `out` then. The caller wipes `out` when done.
 */
int keywrap_open(const uint8_t master[KEYWRAP_MASTER_LEN], const char *label,
		 const uint8_t *wrapped, size_t len, uint8_t *out, size_t cap);

/*
 * Seals a P-256 private key (its DER encoding, wiped afterwards) into out[0..cap).
 * Returns the blob length (at most KEYWRAP_KEY_MAX) or -1.
 */
int keywrap_seal_key(const uint8_t master[KEYWRAP_MASTER_LEN], const char *label,
		     EVP_PKEY *key, uint8_t *out, size_t cap);

/*
 * Opens a blob made by keywrap_seal_key(). Returns a new key handle the caller frees
 * with EVP_PKEY_free(), or NULL when keywrap_open() refuses the blob or it does not hold
 * a P-256 private key.
 */
EVP_PKEY *keywrap_open_key(const uint8_t master[KEYWRAP_MASTER_LEN], const char *label,
			   const uint8_t *wrapped, size_t len);

/* Writes "<purpose>:<id>" into label[0..KEYWRAP_LABEL_MAX). Returns 0 or -1. */
int keywrap_label(char label[KEYWRAP_LABEL_MAX], const char *purpose, int64_t id);

#endif
