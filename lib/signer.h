/*
 * signer.h: the host side of the protocol's signatures. It makes what the key server
 * signs (e-keys, shared keys, management frames) and what a phone signs (the answer to
 * a challenge), and checks what a lock signs (status, log pages, management acks).
 *
 * Built on proto.h's to-be-signed strings and p256.h; used by the server, the phone,
 * the gateway and the tests, so that no program writes these byte layouts twice.
 */
#ifndef PARK_SIGNER_H
#define PARK_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "../lockfw/proto/proto.h"

/* Fills k->sig with `reservation_key`'s signature over the e-key's fields. 0 or -1. */
int signer_ekey(EVP_PKEY *reservation_key, struct proto_ekey *k);

/* Fills k->sig with the sharer's reservation-key signature over the shared key. 0 or -1. */
int signer_skey(EVP_PKEY *sharer_key, struct proto_skey *k);

/*
 * Builds a whole MGMT frame (header, envelope, payload, site signature) into
 * frame[0..cap). Returns the frame length, or -1 when it does not fit or signing fails.
 */
int signer_mgmt_frame(EVP_PKEY *site_key, uint32_t site_id, uint8_t tag, uint8_t mtype,
		      uint32_t target_spot, uint32_t seq, const union proto_mgmt_payload *p,
		      uint8_t *frame, size_t cap);

/* The device signature that answers a lock's challenge for `op`. 0 or -1. */
int signer_operate(EVP_PKEY *device_key, const uint8_t nonce[PROTO_NONCE_LEN],
		   uint32_t site_id, uint32_t spot_id, uint8_t op, uint32_t user_id,
		   uint32_t key_id, uint8_t sig[PROTO_SIG_LEN]);

/* Checks a STATUS reply against the lock's device key and the nonce asked with. 0 or -1. */
int signer_check_status(const uint8_t device_pub[PROTO_PUBKEY_LEN],
			const uint8_t nonce[PROTO_CNONCE_LEN], const struct proto_status *s);

/*
 * Checks a LOG page: recomputes the hash chain from log->anchor over the events, and
 * the device signature over the result. On success writes the chain hash after the last
 * event to last_hash (may be NULL), so that the next page's anchor can be compared. 0 or -1.
 */
int signer_check_log(const uint8_t device_pub[PROTO_PUBKEY_LEN],
		     const uint8_t nonce[PROTO_CNONCE_LEN], uint32_t site_id, uint32_t spot_id,
		     const struct proto_log *log, uint8_t last_hash[PROTO_HASH_LEN]);

/* Checks a MGMT_ACK against the lock's device key. 0 or -1. */
int signer_check_ack(const uint8_t device_pub[PROTO_PUBKEY_LEN], uint32_t site_id,
		     const struct proto_mgmt_ack *a);

/* The log chain step: next = SHA-256(prev || event's 20 wire bytes). 0 or -1. */
int signer_chain_step(const uint8_t prev[PROTO_HASH_LEN], const struct proto_event *e,
		      uint8_t next[PROTO_HASH_LEN]);

#endif
