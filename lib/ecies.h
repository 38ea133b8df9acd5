/*
 * ecies.h: public-key encryption to a P-256 key, as the phone encrypts the spot ID to
 * its reservation public key and the key server decrypts it (DESIGN.md section 4).
 *
 * Ciphertext = ephemeral public key X || Y (64) || AES-256-GCM ciphertext || tag (16).
 * Key = HKDF-SHA-256(ikm = ECDH shared X, salt = ephemeral public key || recipient
 * public key, info = "parking-ecies-v1"), 32 bytes of AES key then 12 bytes of nonce.
 * Every ephemeral key is used once, so the derived nonce never repeats under a key.
 */
#ifndef PARK_ECIES_H
#define PARK_ECIES_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define ECIES_OVERHEAD (64 + 16)

/*
 * Encrypts msg[0..len) to `recipient_pub` (X || Y) into out[0..cap). Returns the
 * ciphertext length (len + ECIES_OVERHEAD) or -1.
 */
int ecies_encrypt(const uint8_t recipient_pub[64], const uint8_t *msg, size_t len,
		  uint8_t *out, size_t cap);

/*
 * Decrypts with the recipient's private key into out[0..cap). Returns the plaintext
 * length, or -1 when the ciphertext is malformed, forged, or for another key (nothing
 * is written to out then).
 */
int ecies_decrypt(EVP_PKEY *recipient, const uint8_t *ct, size_t len, uint8_t *out, size_t cap);

#endif
