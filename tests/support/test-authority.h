/*
 * test-authority.h: the key server's part in lock tests: a site key, users with
 * reservation and device key pairs, and the signed frames made from them (management
 * messages, e-keys, shared keys, answers to challenges). Built on lib/signer.
 */
#ifndef PARK_TEST_AUTHORITY_H
#define PARK_TEST_AUTHORITY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "../../lockfw/proto/proto.h"

struct test_site {
	uint32_t site_id;
	EVP_PKEY *key;
	uint8_t pub[PROTO_PUBKEY_LEN];
	uint32_t seq;           /* last management sequence used */
	uint32_t revoke_serial; /* last revocation serial used */
};

struct test_user {
	uint32_t user_id;
	EVP_PKEY *reservation; /* held by the server in real life */
	EVP_PKEY *device;      /* held by the phone */
	uint8_t res_pub[PROTO_PUBKEY_LEN];
	uint8_t device_pub[PROTO_PUBKEY_LEN];
};

void test_site_init(struct test_site *s, uint32_t site_id);
void test_site_free(struct test_site *s);
void test_user_init(struct test_user *u, uint32_t user_id);
void test_user_free(struct test_user *u);

/* A PROVISION frame. Returns its length. */
size_t test_frame_provision(uint32_t site_id, uint32_t spot_id, const uint8_t site_pub[64],
			    uint8_t *frame, size_t cap);

/*
 * A signed MGMT frame with the next sequence number (or revocation serial), or with
 * `seq` when it is not 0. Returns its length.
 */
size_t test_site_mgmt(struct test_site *s, uint8_t mtype, uint32_t target, uint32_t seq,
		      const union proto_mgmt_payload *p, uint8_t *frame, size_t cap);

/* The credential the server installs for `u`'s key `key_id`. */
struct proto_cred test_cred(const struct test_user *u, uint32_t key_id, uint32_t not_before,
			    uint32_t not_after, uint16_t max_unlocks, uint8_t flags);

/* An e-key for `u`, signed with u's reservation key, bound to u's device key. */
struct proto_ekey test_ekey(const struct test_user *u, uint32_t key_id, uint32_t spot_id,
			    uint32_t not_before, uint32_t not_after, uint16_t max_unlocks);

/* A shared key for `to`, signed with the sharer's reservation key, bound to to's device. */
struct proto_skey test_skey(const struct test_user *sharer, const struct test_user *to,
			    uint32_t share_id, uint32_t parent_key_id, uint32_t spot_id,
			    uint32_t not_before, uint32_t not_after, uint16_t max_unlocks,
			    uint8_t mode);

/* An OPERATE frame answering `nonce`, signed with `signer`'s device key. Returns its length. */
size_t test_frame_operate(const struct test_user *signer, uint32_t user_id,
			  const struct proto_ekey *k, uint8_t op, const uint8_t nonce[32],
			  uint32_t site_id, uint32_t spot_id, uint8_t tag, uint8_t *frame,
			  size_t cap);

/* An OPERATE_SHARED frame, likewise. */
size_t test_frame_operate_shared(const struct test_user *signer, uint32_t user_id,
				 const struct proto_skey *k, uint8_t op, const uint8_t nonce[32],
				 uint32_t site_id, uint32_t spot_id, uint8_t tag, uint8_t *frame,
				 size_t cap);

/* A frame of a message without crypto (HELLO, CHALLENGE_REQ, STATUS_REQ, LOG_REQ, ...). */
size_t test_frame(const struct proto_msg *m, uint8_t *frame, size_t cap);

#endif
