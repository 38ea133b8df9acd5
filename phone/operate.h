/*
 * operate.h: one unlock or lock of a lock with an e-key or a shared key, over any
 * transport: connect, HELLO (the lock must say it is the key's spot and site), hand over
 * the site's newest revocation list when the caller carries one (so that a lock whose
 * gateway is down learns it too), ask a challenge, answer it with the device key (the
 * signature covers nonce, site, spot, operation, user and key or share), send OPERATE
 * or OPERATE_SHARED with the key's bytes as issued, and wait for the RESULT the lock
 * sends once the barrier reached its end stop. It does not check the key's limits: the
 * caller does, before any radio traffic; the lock checks them again itself.
 */
#ifndef PARK_PHONE_OPERATE_H
#define PARK_PHONE_OPERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "../lib/transport.h"
#include "keyring.h"

#define OPERATE_CONNECT_MS 5000 /* to find and connect the lock */
#define OPERATE_REPLY_MS 3000   /* for INFO and CHALLENGE */
#define OPERATE_RESULT_MS 10000 /* for RESULT: the barrier's travel, with room */

enum operate_kind {
	OPERATE_DONE = 0,      /* the lock did it: the barrier reached its end stop */
	OPERATE_REFUSED,       /* the lock said no: lock_code says why */
	OPERATE_UNREACHABLE,   /* no link, or no answer in time */
	OPERATE_WRONG_LOCK,    /* the lock that answered is not the key's spot or site */
	OPERATE_PROTO,         /* a malformed reply, or signing failed */
};

/* A site-signed REVOKE frame (PROTOCOL.md 5.3) the phone carries to the lock. */
struct operate_carry {
	const uint8_t *frame;  /* NULL: none */
	size_t len;
	bool taken;            /* out: the lock has it now (applied, or had a newer one) */
};

struct operate_outcome {
	enum operate_kind kind;
	int lock_code;        /* PROTO_OK or the lock's proto_code */
	uint8_t barrier;      /* proto_barrier after a RESULT */
	uint16_t uses_left;   /* from the RESULT */
	int64_t connect_ms, total_ms; /* time to the link, and in all */
	char detail[200];     /* a sentence for anything but DONE */
};

/*
 * Runs `op` (PROTO_OP_UNLOCK or PROTO_OP_LOCK) on the lock of key k at `address` (k's
 * own when NULL) through t. Returns 0 when the lock did it, else -1; *out says what
 * happened either way. t is disconnected again before it returns.
 */
int phone_operate(struct transport *t, const char *address, const struct phone_key *k,
		  EVP_PKEY *device, uint8_t op, struct operate_carry *carry,
		  struct operate_outcome *out);

#endif
