/*
 * revocation.h: a site's revocation list on the key server (PROTOCOL.md 5.3, 9, 10.4):
 * why each key or share ID is on it, and the complete, serial-numbered, site-signed
 * REVOKE (target 0: every lock of the site) made from it, queued for every lock's
 * gateways and handed to any phone that holds a key on the site, which carries it to
 * the locks it meets. Which IDs lose their right is share.c's decision; this file keeps
 * the list small enough for the lock (PROTO_REVOKE_MAX) and signs it. No HTTP here.
 */
#ifndef PARK_SERVER_REVOCATION_H
#define PARK_SERVER_REVOCATION_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "../lockfw/proto/proto.h"
#include "db.h"

/*
 * An entry leaves the list this long after its ID's not_after: by then every lock
 * refuses it by time anyway, even one whose clock lags (a lock without time refuses
 * every time-limited key).
 */
#define REVOCATION_EXPIRY_SLACK_S 3600

enum revocation_err {
	REVOCATION_E_FULL = 1,     /* more than PROTO_REVOKE_MAX IDs still need the list */
	REVOCATION_E_SPENT = 2,    /* the site's serials are used up */
	REVOCATION_E_BUSY = 3,     /* the database is busy: retry the transaction */
	REVOCATION_E_INTERNAL = 4, /* storage or signing failed */
};

/* Why one ID is on the list. */
struct revocation_entry {
	int64_t id;        /* the key or share ID, 1..2^32-1 */
	int64_t cause;     /* the key or share whose change put it there (id itself, or a
			      share it derives from) */
	bool frozen;       /* unfreezing `cause` takes it off again */
	int64_t spot_id;   /* the spot whose lock holds (or could hold) it */
	int64_t not_after; /* the latest it could open anything (Unix seconds) */
};

/*
 * Records entry `e` of `site_id` at `now`, for the next revocation_publish() (in the
 * caller's transaction); an entry that is there already stays as it is. 0 or
 * -REVOCATION_E_*.
 */
int revocation_add(struct db *db, int64_t site_id, const struct revocation_entry *e,
		   int64_t now);

/* Deletes the frozen entries of `cause` (an unfreeze). 0 or -REVOCATION_E_*. */
int revocation_unfreeze(struct db *db, int64_t site_id, int64_t cause);

/* True when `id` has an entry of `site_id` (for any cause). 1, 0 or -REVOCATION_E_*. */
int revocation_listed(struct db *db, int64_t site_id, int64_t id);

/*
 * Makes the site's next list, inside the caller's write transaction: drops the entries
 * that open nothing any more (expired: not_after + REVOCATION_EXPIRY_SLACK_S before
 * `now`; retired: their lock has acknowledged a list holding them, and every install
 * of the ID it could still apply is older than a message it applied, so that it can
 * never come back), signs the REVOKE of every remaining ID (ascending, serial = the last
 * one + 1, target 0) with `site_key`, stores it as the site's list, closes the older
 * lists still pending for the site's locks as failed ("superseded"), and queues the new
 * one for every lock of the site. The caller wakes the gateways after the commit.
 * Returns 0 with *serial and *count (either may be NULL), or -REVOCATION_E_FULL (more
 * than PROTO_REVOKE_MAX IDs remain: the caller rolls back what it added), SPENT, BUSY
 * or INTERNAL.
 */
int revocation_publish(struct db *db, EVP_PKEY *site_key, int64_t site_id, int64_t now,
		       uint32_t *serial, uint16_t *count);

/*
 * The site's list as the phones fetch it: {"site_id", "serial", "frame": hex MGMT REVOKE
 * frame or null, "ids": [..], "created_at"}, serial 0 and no frame before the first.
 * Returns a new object, or NULL on a storage error.
 */
json_object *revocation_json(struct db *db, int64_t site_id);

#endif
