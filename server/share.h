/*
 * share.h: sharing on the key server (DESIGN.md 4, claims 5-7, [0044]-[0046]): a key
 * holder offers another user a share of their e-key (co-share, or transfer: the
 * sharer's key stops), within limits never wider than the key's; the spot's owner may
 * require to approve shares first; the recipient accepts it with their device key and
 * gets the shared key (PROTOCOL.md 4.6) signed with the key holder's reservation key,
 * while the lock gets the site-signed INSTALL_SHARE (5.2) through the gateways. A share
 * held may be shared on (reshared) when its may_reshare flag allows. Rights end by
 * giving up, freezing, removing or revoking, which puts the IDs on the site's
 * revocation list (revocation.h); revoking a key ends its shares. Every change is
 * audited in the caller's transaction. No HTTP here: errors come back as a struct
 * share_error that route-share.c replies.
 */
#ifndef PARK_SERVER_SHARE_H
#define PARK_SERVER_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "../lockfw/proto/proto.h"
#include "db.h"
#include "keycache.h"

#define SHARE_CHAIN_MAX 32 /* reshares deep, at most: a deeper one is refused */

enum share_err {
	SHARE_E_INVALID = 1,     /* 400 bad_field: a value no share can have */
	SHARE_E_TOO_WIDE = 2,    /* 400 too_wide: limits wider than the parent's */
	SHARE_E_NOTFOUND = 3,    /* 404 not_found: no such key, share or account for the caller */
	SHARE_E_FORBIDDEN = 4,   /* 403 forbidden: a party to the share, without this right */
	SHARE_E_NOT_ALLOWED = 5, /* 403 not_allowed: no right to share, or the spot's policy */
	SHARE_E_CONFLICT = 6,    /* 409 conflict: the state does not allow it */
	SHARE_E_FULL = 7,        /* 409 revocation_list_full (revocation.h) */
	SHARE_E_BUSY = 8,        /* 503 busy: retry the transaction */
	SHARE_E_INTERNAL = 9,    /* 500 internal: storage or crypto failed (logged) */
};

/* What went wrong, ready for an error reply: HTTP status, stable code, a sentence. */
struct share_error {
	int status;
	const char *code;
	char detail[200];
};

/* Who acts, when, and with which keys. */
struct share_actor {
	int64_t user_id;         /* the caller, 1..2^32-1 */
	const char *peer;        /* the client's address for the audit rows, or NULL */
	int64_t now;             /* Unix seconds */
	const uint8_t *master;   /* the 32-byte master key: reservation keys are sealed under it */
	struct keycache *keys;   /* unsealed reservation keys kept, or NULL */
	EVP_PKEY *site_key;      /* the private key of the site of the key or share acted on */
};

/* A share as asked for (POST /v1/shares). */
struct share_request {
	int64_t key_id;        /* the caller's e-key to share, or 0 ... */
	int64_t share_id;      /* ... a share the caller holds (exactly one of the two) */
	const char *phone;     /* the recipient's account */
	uint8_t mode;          /* PROTO_SHARE_COSHARE or PROTO_SHARE_TRANSFER */
	int64_t not_before;    /* 0..2^32-1, or -1: the parent's own */
	int64_t not_after;     /* 0..2^32-1, or -1: the parent's own */
	int64_t max_unlocks;   /* 0..65535 (0 unlimited), or -1: the parent's own */
	int may_reshare;       /* 1 or 0; -1: no */
};

/* What a change did. */
struct share_outcome {
	int64_t share_id;        /* the share made or changed (0 for a key) */
	bool pending;            /* an offer waits for the owner's approval */
	int64_t message_id;      /* the INSTALL_SHARE queued, 0 when none */
	uint32_t serial;         /* the new revocation list's serial, 0 when none was made */
};

/*
 * The site of key or share `id` (one number space): 0 with *site_id, or -SHARE_E_NOTFOUND
 * / -SHARE_E_INTERNAL. Read it before the write transaction, to open the site's key.
 */
int share_site_of(struct db *db, int64_t id, int64_t *site_id);

/*
 * Offers a share, in the caller's write transaction (commit only on 0). Decides, in this
 * order: the parent exists and is the caller's (404 not_found); the caller may share it
 * (the spot's owner always; a renter's key only with the may-share flag; a share only
 * with may_reshare: 403 not_allowed); it is live (not revoked, transferred, frozen or
 * expired: 409 conflict); the recipient's account exists (404 not_found) and is not the
 * caller (400 bad_field); the limits (absent: the parent's) are no wider than the
 * parent's (400 too_wide) and make sense (not_before <= not_after, not_after not past:
 * 400 bad_field); when the caller is not the owner, the spot's policy admits the
 * recipient (403 not_allowed). Then takes a share ID from the key-ID counter and stores
 * the share 'offered', or 'pending_approval' (out->pending, and a notification of the
 * spot's managers) when the spot requires approval and the caller is not its owner.
 * Returns 0 with *out, or -SHARE_E_* with *err.
 */
int share_offer(struct db *db, const struct share_actor *a, const struct share_request *in,
		struct share_outcome *out, struct share_error *err);

/*
 * The recipient accepts an offered share with their device key (X || Y): the shared key
 * is signed with the key holder's reservation key, bound to `device_pub`, and stored;
 * the INSTALL_SHARE (site-signed with a->site_key) is queued for the lock; a transfer
 * of a key marks the key transferred and ends its other shares, a transfer of a share
 * ends that share and what was reshared from it (a new revocation list). Errors: 404
 * not_found, 403 forbidden (the sharer or owner), 409 conflict (not offered, expired,
 * the parent ended, the spot has no lock), 400 bad_field (device key), 409
 * revocation_list_full.
 */
int share_accept(struct db *db, const struct share_actor *a, int64_t share_id,
		 const uint8_t device_pub[PROTO_PUBKEY_LEN], struct share_outcome *out,
		 struct share_error *err);

/*
 * The spot's owner approves (`approve`: it becomes 'offered') or refuses ('refused') a
 * share pending approval; the sharer is notified. Errors: 404, 403 forbidden (a party but
 * not the owner), 409 conflict (not pending, or approving one whose parent ended).
 */
int share_decide(struct db *db, const struct share_actor *a, int64_t share_id, bool approve,
		 struct share_outcome *out, struct share_error *err);

/*
 * The recipient gives a share up (offered, active or frozen): it and its reshares end,
 * and those the lock may hold go on the revocation list. Errors: 404, 403, 409, 409 full.
 */
int share_give_up(struct db *db, const struct share_actor *a, int64_t share_id,
		  struct share_outcome *out, struct share_error *err);

/*
 * The spot's owner freezes an active share (`freeze`), which puts it and its reshares on
 * the revocation list, or unfreezes a frozen one: off the list again, and its
 * INSTALL_SHARE (and its live reshares') queued anew, since a lock deletes what a list
 * names. Errors: 404, 403, 409, 409 full.
 */
int share_freeze(struct db *db, const struct share_actor *a, int64_t share_id, bool freeze,
		 struct share_outcome *out, struct share_error *err);

/*
 * The spot's owner removes a share in any state: it is no longer listed anywhere, it and
 * its reshares end, and what the lock may hold goes on the revocation list.
 * Errors: 404, 403, 409 (removed already), 409 full.
 */
int share_delete(struct db *db, const struct share_actor *a, int64_t share_id,
		 struct share_outcome *out, struct share_error *err);

/*
 * Revokes e-key `key_id`, by its holder or the spot's owner (only the owner once the key
 * was handed on by a transfer): the key goes on the revocation list, and its shares end
 * (the lock ends them itself, as their parent is listed). Errors: 404 not_found (no such
 * key for the caller), 409 conflict (revoked already, or transferred), 409 full.
 */
int share_key_revoke(struct db *db, const struct share_actor *a, int64_t key_id,
		     struct share_outcome *out, struct share_error *err);

/*
 * One share as `viewer` may see it (GET /v1/shares): {"share_id", "parent_key_id",
 * "parent_share_id", "spot_id", "spot_name", "lock_address", "site_id", "sharer_id",
 * "sharer_phone", "key_holder_id", "recipient_id", "recipient_phone", "mode",
 * "not_before", "not_after", "max_unlocks",
 * "may_reshare", "state", "transferred", "live", "created_at", "accepted_at",
 * "delivery": {"state", "result", "acked_at"}}, and "skey" (hex, 160 bytes) for the
 * recipient of an active or frozen share. NULL when there is no such share, it is
 * removed, or the viewer is neither its sharer, its recipient nor the spot's owner; or
 * on a storage error.
 */
json_object *share_json(struct db *db, int64_t share_id, int64_t viewer, int64_t now);

/*
 * The shares the user made, those made to them, and every share on the spots they own,
 * newest first, as share_json() shows each (removed ones left out). A new array, or NULL
 * on a storage error.
 */
json_object *share_list(struct db *db, int64_t user_id, int64_t now);

/*
 * Whether `user_id` holds or held a key or a share on site `site_id`, or owns a spot
 * there: who may fetch the site's revocation list to carry it to the locks. 1, 0, or -1
 * on a storage error.
 */
int share_site_member(struct db *db, int64_t user_id, int64_t site_id);

/* "co-share" / "transfer" for a proto_share_mode, or NULL; and back (0 for anything else). */
const char *share_mode_name(uint8_t mode);
uint8_t share_mode_parse(const char *name);

#endif
