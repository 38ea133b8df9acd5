/*
 * port-crypto.h: the port's crypto calls (SHA-256, HMAC, ECDSA P-256 verify, random,
 * and the device key) on OpenSSL's EVP API, for the host port, the tests and the fuzzers.
 *
 * The device key models a secure element: its private half stays inside this module
 * (in an EVP_PKEY, and in a 0600 PEM file when a path is given) and is used only to sign.
 */
#ifndef PARK_PORT_CRYPTO_H
#define PARK_PORT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "../port/port.h"

/* Functions with the port table's signatures; `ctx` is ignored. */
int port_crypto_sha256(void *ctx, const struct port_buf *parts, size_t nparts, uint8_t out[32]);
int port_crypto_hmac_sha256(void *ctx, const uint8_t *key, size_t key_len,
			    const struct port_buf *parts, size_t nparts, uint8_t out[32]);
int port_crypto_ecdsa_verify(void *ctx, const uint8_t pub[64], const uint8_t digest[32],
			     const uint8_t sig[64]);
int port_crypto_random(void *ctx, uint8_t *buf, size_t len);

struct port_device_key {
	void *pkey;     /* EVP_PKEY *, NULL until port_device_key_init() succeeds */
	char path[512]; /* PEM file of the private key; empty = kept in memory only */
};

/* Sets where the key lives (path may be NULL: memory only). Makes nothing yet. */
void port_device_key_setup(struct port_device_key *k, const char *path);
/*
 * Loads the key from its file, or makes a new pair and writes it (atomically, mode
 * 0600) when there is no file yet. Returns 0 or -1 (unreadable or corrupt file, or an
 * OpenSSL failure); a corrupt file is never overwritten.
 */
int port_device_key_init(struct port_device_key *k);
int port_device_key_pubkey(struct port_device_key *k, uint8_t pub[64]);
int port_device_key_sign(struct port_device_key *k, const uint8_t digest[32], uint8_t sig[64]);
void port_device_key_free(struct port_device_key *k);

#endif
