/*
 * credential.h: the lock's table of pairing credentials (claims 1, 3, 4): for each key
 * the server paired with this spot, the user ID, the reservation public key and the
 * limits, and how often it has been used.
 *
 * The table in RAM holds everything but the public keys, which stay in flash and are
 * read when a request needs one. Every change is written to the store before it is
 * visible, so what the lock says it did survives a power cut.
 */
#ifndef PARK_CREDENTIAL_H
#define PARK_CREDENTIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "store.h"

#define CREDENTIAL_SLOTS 64

struct credential {
	bool used;         /* the slot holds a credential */
	bool transferred;  /* handed on by a transfer share: its holder may no longer use it */
	uint8_t flags;     /* PROTO_CRED_* */
	uint16_t max_unlocks; /* PROTO_UNLIMITED_USES for none */
	uint16_t uses;     /* unlocks counted so far, shared unlocks included */
	uint32_t key_id;
	uint32_t user_id;
	uint32_t not_before;
	uint32_t not_after;
};

struct credential_table {
	struct credential slot[CREDENTIAL_SLOTS];
	uint8_t count;
	uint32_t total_seen; /* highest lock unlock total found in a use record at load */
};

/* Loads the table from the store. Returns 0 or -PROTO_E_FLASH. */
int credential_load(struct credential_table *t, struct store *s);

/* The slot holding key_id for user_id, or -1. */
int credential_find(const struct credential_table *t, uint32_t user_id, uint32_t key_id);
/* The slot holding key_id whoever holds it, or -1. */
int credential_find_key(const struct credential_table *t, uint32_t key_id);

/*
 * Installs `c`. A credential with the same key ID is replaced in place and keeps its
 * use count (the server may resend an install). Returns 0, -PROTO_E_FULL, or
 * -PROTO_E_FLASH (nothing changed).
 */
int credential_install(struct credential_table *t, struct store *s, const struct proto_cred *c);

/* Reads the reservation public key of slot `i` from flash. 0 or -PROTO_E_FLASH. */
int credential_pubkey(struct credential_table *t, struct store *s, int i,
		      uint8_t pub[PROTO_PUBKEY_LEN]);

/*
 * Counts one use of slot `i`, durably, before returning 0; `total` is the lock's
 * unlock total after this use, kept alongside. -PROTO_E_FLASH: not counted.
 */
int credential_count_use(struct credential_table *t, struct store *s, int i, uint32_t total);

/* Marks slot `i` transferred, durably. 0 or -PROTO_E_FLASH. */
int credential_mark_transferred(struct credential_table *t, struct store *s, int i);

/* Removes slot `i`, durably. 0 or -PROTO_E_FLASH. */
int credential_remove(struct credential_table *t, struct store *s, int i);

#endif
