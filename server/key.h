/*
 * key.h: the e-key flow of DESIGN.md section 4 on the key server: a reservation key pair
 * per user (private half sealed at rest), the e-key request (spot ID decrypted with that
 * key, policy and "spot taken" checks, limits, the signed e-key) and the site-signed
 * INSTALL_CRED frame queued for the lock, and a user's keys with their delivery state.
 * No HTTP here: errors come back as a struct key_error that route-key.c replies.
 */
#ifndef PARK_KEY_H
#define PARK_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "../lockfw/proto/proto.h"
#include "db.h"

/* Seconds a time-limited key starts before its issue, for locks whose clock is behind. */
#define KEY_CLOCK_SLACK_S 300

enum key_err {
	KEY_E_INVALID = 1,   /* the request is wrong (bad ciphertext, bad device key) */
	KEY_E_NOTFOUND = 2,  /* no such spot */
	KEY_E_FORBIDDEN = 3, /* the spot's policy does not let this user in */
	KEY_E_CONFLICT = 4,  /* spot taken, or no reservation key yet */
	KEY_E_BUSY = 5,      /* the database is busy: retry the transaction */
	KEY_E_INTERNAL = 6,  /* storage or crypto failed: see the log */
};

/* What went wrong, ready for an error reply: HTTP status, stable code, a sentence. */
struct key_error {
	int status;
	const char *code;
	char detail[200];
};

/* An issued e-key and what was queued for its lock. */
struct key_issued {
	struct proto_ekey ekey;          /* signed with the holder's reservation key */
	uint8_t wire[PROTO_EKEY_LEN];    /* its 151-byte encoding (PROTOCOL.md 4.5) */
	int64_t site_id;
	int64_t mgmt_id;                 /* the mgmt_queue row of the INSTALL_CRED frame */
	uint32_t mgmt_seq;               /* that frame's management sequence */
	bool owner;                      /* issued to the spot's owner: no limits */
};

/*
 * The user's reservation public key, made (P-256, private half sealed under `master`
 * for "reservation:<user>") on the first call and the same on every later one.
 * Runs in the caller's transaction, if any. Returns 0 with pub filled and *created
 * telling whether this call made it, or -KEY_E_BUSY / -KEY_E_INTERNAL.
 */
int key_reservation(struct db *db, const uint8_t master[32], int64_t user_id, int64_t now,
		    uint8_t pub[64], bool *created);

/*
 * The e-key request: decrypts spot_ct (ECIES to the user's reservation key, 4-byte
 * big-endian spot ID), checks that the spot exists, that its policy admits the user
 * (the owner always; 'anyone'; 'authorised': listed in authorised_users; 'region': the
 * user has no region or the spot's), and that no other user but the owner holds a live
 * key for it; then allocates a key ID, signs the e-key bound to device_pub, stores it,
 * and queues the INSTALL_CRED frame signed by the site key with the lock's next
 * management sequence. The owner's key has no limits; others get the spot's defaults.
 *
 * Runs inside the caller's transaction (db_begin() before; commit only on 0, else roll
 * back). Returns 0 with *out filled, or -KEY_E_* with *err filled:
 *   400 bad_ciphertext, 400 bad_field (device key), 404 not_found, 403 not_allowed,
 *   409 spot_taken, 409 no_reservation_key, 503 busy, 500 internal.
 */
int key_issue(struct db *db, const uint8_t master[32], int64_t user_id, int64_t now,
	      const uint8_t *spot_ct, size_t spot_ct_len, const uint8_t device_pub[64],
	      struct key_issued *out, struct key_error *err);

/*
 * The user's e-keys, newest first, with their limits, whether each is live at `now`,
 * the e-key itself (hex) and the delivery of its credential to the lock ("pending",
 * "acked" with the lock's result, or "failed"). Returns a new array, or NULL on a
 * storage error.
 */
json_object *key_list(struct db *db, int64_t user_id, int64_t now);

/* The 151-byte encoding of a signed e-key (PROTOCOL.md 4.5). 0 or -1. */
int key_encode(const struct proto_ekey *k, uint8_t out[PROTO_EKEY_LEN]);

#endif
