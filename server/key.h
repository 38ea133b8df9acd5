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
#include <openssl/evp.h>

#include "../lockfw/proto/proto.h"
#include "db.h"
#include "keycache.h"

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

#define KEY_MGMT_FRAME_MAX 256 /* an INSTALL_CRED frame is 3 + 75 + 83 = 161 bytes */

/* An issued e-key and what was queued for its lock. */
struct key_issued {
	struct proto_ekey ekey;          /* signed with the holder's reservation key */
	uint8_t wire[PROTO_EKEY_LEN];    /* its 151-byte encoding (PROTOCOL.md 4.5) */
	int64_t site_id;
	int64_t mgmt_id;                 /* the mgmt_queue row of the INSTALL_CRED frame */
	uint32_t mgmt_seq;               /* that frame's management sequence */
	bool owner;                      /* issued to the spot's owner: no limits */
	uint8_t cred[KEY_MGMT_FRAME_MAX];  /* the signed INSTALL_CRED frame */
	size_t cred_len;                   /* 0 until signed */
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
 * An e-key request checked and decrypted outside the write transaction (key_request_open),
 * to be issued inside it (key_request_issue). Owns its two key handles: free it with
 * key_request_free() on every path.
 */
struct key_request {
	int64_t user_id;               /* 1 .. 2^32 - 1 */
	int64_t spot_id;               /* decrypted from the request: 0 .. 2^32 - 1 */
	int64_t site_id;               /* the spot's site when it was read */
	uint8_t res_pub[64];           /* the user's reservation public key, X || Y */
	uint8_t device_pub[64];        /* the phone's device key, checked to be on P-256 */
	EVP_PKEY *res;                 /* the user's reservation private key, unsealed */
	EVP_PKEY *site;                /* site_id's private key, or NULL: issuing opens it */
};

/*
 * The part of the e-key request that needs no write lock, in the order the refusals are
 * decided: the device key is a P-256 point, the user has a reservation key, spot_ct
 * decrypts with it (ECIES, 4-byte big-endian spot ID), the spot exists and its policy
 * admits the user (see key_request_issue). Reads only, in the caller's transaction if
 * any, else each read on its own. The reservation key comes from `keys` when kept there,
 * and is kept there once unsealed; pass NULL for no cache, and always inside a
 * transaction that may have made the key (see keycache_put). Leaves req->site NULL; the
 * caller may set it to site_id's private key (key_request_free() frees it). Returns 0
 * with *req filled, or -KEY_E_* with *err filled and nothing to free:
 *   400 bad_field (device key), 409 no_reservation_key, 400 bad_ciphertext,
 *   404 not_found, 403 not_allowed, 503 busy, 500 internal.
 */
int key_request_open(struct db *db, const uint8_t master[32], struct keycache *keys,
		     int64_t user_id, const uint8_t *spot_ct, size_t spot_ct_len,
		     const uint8_t device_pub[64], struct key_request *req,
		     struct key_error *err);

/*
 * Issues the e-key of an opened request inside the caller's write transaction
 * (db_begin() before; commit only on 0, else roll back). Decides again what may have
 * changed since key_request_open(): the spot exists and its policy admits the user (the
 * owner always; 'anyone'; 'authorised': listed in authorised_users; 'region': the user
 * has no region or the spot's), and no other user but the owner holds a live key for it.
 * Then takes the lock's next management sequence, allocates a key ID, signs the e-key
 * bound to device_pub, stores it, and queues the INSTALL_CRED frame signed by the site
 * key (req->site, or opened from `db` under `master` when NULL). The owner's key has no
 * limits; others get the spot's defaults, and the may-share flag when the spot's owner
 * lets renters share (spots.renters_may_share). Returns 0 with *out filled, or -KEY_E_* with
 * *err filled: 404 not_found, 403 not_allowed, 409 spot_taken, 503 busy, 500 internal.
 * `req` is left as it was: the caller may retry with it after a busy rollback.
 */
int key_request_issue(struct db *db, const uint8_t master[32], const struct key_request *req,
		      int64_t now, struct key_issued *out, struct key_error *err);

/*
 * key_request_issue() in its three steps, for a writer that must not spend its time on
 * signatures (server_write_staged()). All three in one transaction, in this order:
 * decide (the checks, the sequence and key ID, the e-key's row with its bytes still
 * blank, so that a later decision in the same transaction sees the key): 0 or -KEY_E_*
 * with *err as key_request_issue(); sign (both signatures, no database, any thread): 0
 * or -1; store (the e-key's bytes, the queued INSTALL_CRED frame, signed here with the
 * site key from `db` when sign could not): 0 or -DB_E_*. After a failed sign or store
 * the transaction must be rolled back.
 */
int key_request_decide(struct db *db, const struct key_request *req, int64_t now,
		       struct key_issued *out, struct key_error *err);
int key_request_sign(const struct key_request *req, struct key_issued *out);
int key_request_store(struct db *db, const uint8_t master[32], const struct key_request *req,
		      int64_t now, struct key_issued *out);

/* Frees the key handles of a request and wipes it. Fine after a failed open, and twice. */
void key_request_free(struct key_request *req);

/*
 * The whole e-key request in one go: key_request_open() then key_request_issue() in the
 * caller's transaction, with the same errors. For callers that need no concurrency.
 */
int key_issue(struct db *db, const uint8_t master[32], int64_t user_id, int64_t now,
	      const uint8_t *spot_ct, size_t spot_ct_len, const uint8_t device_pub[64],
	      struct key_issued *out, struct key_error *err);

/*
 * The user's e-keys, newest first, with their limits, whether each is revoked,
 * handed on by a transfer share ("transferred") or live at `now` (neither, and not
 * expired), whether its holder may share it ("may_share": the owner's key, or the
 * may-share flag), the e-key itself (hex) and the delivery of its credential to the
 * lock ("pending", "acked" with the lock's result, or "failed"). Returns a new array,
 * or NULL on a storage error.
 */
json_object *key_list(struct db *db, int64_t user_id, int64_t now);

/*
 * The reservation key pair of `user_id` for signing on their behalf (a shared key of
 * their e-key): from `keys` when kept there (NULL for no cache), else unsealed under
 * `master` and kept. Returns 0 with *key (a new reference the caller frees) and pub,
 * or -KEY_E_NOTFOUND (none made yet), -KEY_E_BUSY, -KEY_E_INTERNAL.
 */
int key_reservation_private(struct db *db, const uint8_t master[32], struct keycache *keys,
			    int64_t user_id, EVP_PKEY **key, uint8_t pub[64]);

/*
 * Whether the policy of spot `spot_id` admits `user_id` as key_request_issue() decides
 * it (the owner; 'anyone'; 'authorised': on the spot's authorised list; 'region'). For
 * a share's recipient, when the sharer is not the owner. Returns 1, 0, or -KEY_E_NOTFOUND
 * / -KEY_E_BUSY / -KEY_E_INTERNAL.
 */
int key_policy_admits(struct db *db, int64_t spot_id, int64_t user_id);

/* The 151-byte encoding of a signed e-key (PROTOCOL.md 4.5). 0 or -1. */
int key_encode(const struct proto_ekey *k, uint8_t out[PROTO_EKEY_LEN]);

#endif
