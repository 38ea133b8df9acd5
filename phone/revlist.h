/*
 * revlist.h: the revocation lists a phone carries (patent [0052]; PROTOCOL.md 5.3): for
 * each site it holds keys at, the newest site-signed REVOKE frame the server gave it,
 * handed to each lock of that site on the phone's next connection, so that a lock
 * whose gateway is down learns of revocations too. The phone cannot check the site's
 * signature (the lock does); it keeps a frame only when it decodes as a site-wide REVOKE
 * whose serial is newer than the one held: an older list is ignored. Kept in one file,
 * written atomically. Not thread-safe: phoned.c holds its lock around every call.
 */
#ifndef PARK_PHONE_REVLIST_H
#define PARK_PHONE_REVLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lockfw/proto/proto.h"

#define REVLIST_SITES_MAX 16
#define REVLIST_LOCKS_MAX 64 /* locks remembered as having a site's newest list */

struct revlist_site {
	uint32_t site_id;
	uint32_t serial;
	size_t len;
	uint8_t frame[PROTO_FRAME_MAX];
};

struct revlist {
	size_t nsites;
	struct revlist_site sites[REVLIST_SITES_MAX];
	/* Which lock has which serial (in memory: after a restart each is handed once more). */
	size_t ngiven;
	uint32_t given_spot[REVLIST_LOCKS_MAX], given_serial[REVLIST_LOCKS_MAX];
};

/*
 * Keeps frame[0..len) as site_id's list when it is a site-wide REVOKE with a serial
 * newer than the one held. Returns 1 when kept, 0 when not newer, -1 when it is not a
 * REVOKE frame or there is no room (nothing changed then).
 */
int revlist_put(struct revlist *r, uint32_t site_id, const uint8_t *frame, size_t len);

/* The list to hand to lock `spot` of `site_id` now, or NULL when it has it already. */
const struct revlist_site *revlist_due(const struct revlist *r, uint32_t site_id, uint32_t spot);

/* Notes that lock `spot` has `serial` now. */
void revlist_given(struct revlist *r, uint32_t spot, uint32_t serial);

/* Whether `id` (a key or share ID) is on site_id's list. */
bool revlist_names(const struct revlist *r, uint32_t site_id, uint32_t id);

/* Loads `path` (missing: empty). 0, or -1 with err and *r empty when it is corrupt. */
int revlist_load(struct revlist *r, const char *path, char *err, size_t errlen);

/* Writes *r's lists to `path` (0600) atomically. 0 or -1 with errno. */
int revlist_save(const struct revlist *r, const char *path);

#endif
