/*
 * share.h: the lock's table of share authorisation codes (claims 5-7): which recipient
 * may open this spot through which sharer's credential, with what limits, and whether
 * the share is a co-share or a transfer.
 *
 * Like credential.h, every change is durable before it is visible.
 */
#ifndef PARK_SHARE_H
#define PARK_SHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "store.h"

#define SHARE_SLOTS 32

struct share {
	bool used;
	uint8_t mode;  /* proto_share_mode */
	uint8_t flags; /* PROTO_SHARE_* */
	uint16_t max_unlocks;
	uint16_t uses;
	uint32_t share_id;
	uint32_t parent_key_id;
	uint32_t sharer_id;
	uint32_t recipient_id;
	uint32_t not_before;
	uint32_t not_after;
};

struct share_table {
	struct share slot[SHARE_SLOTS];
	uint8_t count;
	uint32_t total_seen; /* highest lock unlock total found in a use record at load */
};

/* Loads the table from the store. 0 or -PROTO_E_FLASH. */
int share_load(struct share_table *t, struct store *s);

/* The slot holding share_id, or -1. */
int share_find(const struct share_table *t, uint32_t share_id);

/*
 * Installs `p`; a code with the same share ID is replaced and keeps its count.
 * 0, -PROTO_E_FULL or -PROTO_E_FLASH (nothing changed).
 */
int share_install(struct share_table *t, struct store *s, const struct proto_share *p);

/* Counts one use of slot `i` durably; see credential_count_use(). */
int share_count_use(struct share_table *t, struct store *s, int i, uint32_t total);

/* Removes slot `i` durably. 0 or -PROTO_E_FLASH. */
int share_remove(struct share_table *t, struct store *s, int i);

#endif
