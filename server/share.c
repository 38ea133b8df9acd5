/*
 * share.c: shares of e-keys and the end of rights; see share.h. The byte layouts come
 * from proto.h and the signatures from lib/signer.c; messages to the locks go through
 * delivery.c and the site's list through revocation.c. This file decides who may do
 * what to which share, and in which state, and keeps the lineage of reshares: the lock
 * knows only the root credential, so every reshare is signed for the root key and its
 * holder, and what ends a share ends what was reshared from it, explicitly.
 */
#include "share.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../lib/hex.h"
#include "../lib/log.h"
#include "../lib/p256.h"
#include "../lib/signer.h"
#include "audit.h"
#include "delivery.h"
#include "key.h"
#include "revocation.h"

#define SHARE_U32_MAX 4294967295LL
#define SHARE_STATE_MAX 20
#define SHARE_DESCENDANTS_MAX 1024 /* reshares of one share handled at once */

/* A stored e-key, as sharing needs it. */
struct share_key {
	int64_t key_id, user_id, spot_id, site_id;
	int64_t not_before, not_after, max_unlocks, flags;
	bool revoked, transferred;
};

/* A stored share. */
struct share_row {
	int64_t id, parent_key_id, parent_share_id; /* parent_share_id 0: a share of the key */
	int64_t spot_id, site_id, sharer_id, key_holder_id, recipient_id;
	uint8_t mode;                   /* PROTO_SHARE_* as asked */
	int64_t wire_mode;              /* as signed, 0 before acceptance */
	int64_t not_before, not_after, max_unlocks;
	bool may_reshare, transferred, installed; /* installed: accepted, the lock was told */
	char state[SHARE_STATE_MAX];
	uint8_t device_pub[PROTO_PUBKEY_LEN];
};

const char *share_mode_name(uint8_t mode)
{
	return mode == PROTO_SHARE_COSHARE ? "co-share" :
		mode == PROTO_SHARE_TRANSFER ? "transfer" : NULL;
}

uint8_t share_mode_parse(const char *name)
{
	if (name == NULL)
		return 0;
	if (strcmp(name, "co-share") == 0)
		return PROTO_SHARE_COSHARE;
	if (strcmp(name, "transfer") == 0)
		return PROTO_SHARE_TRANSFER;
	return 0;
}

/* ---- errors ---- */

__attribute__((format(printf, 5, 6)))
static int share_fail(struct share_error *e, int r, int status, const char *code,
		      const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	return r;
}

/* A storage failure (-DB_E_* or -SHARE_E_*) as a reply. */
static int share_db_fail(struct share_error *e, int r)
{
	if (r == -DB_E_BUSY || r == -SHARE_E_BUSY)
		return share_fail(e, -SHARE_E_BUSY, 503, "busy", "The database is busy; try "
				  "again.");
	return share_fail(e, -SHARE_E_INTERNAL, 500, "internal", "The change could not be "
			  "stored; try again.");
}

static int share_revocation_fail(struct share_error *e, int r, int64_t site_id)
{
	if (r == -REVOCATION_E_FULL)
		return share_fail(e, -SHARE_E_FULL, 409, "revocation_list_full", "More than %d "
				  "keys and shares of site %" PRId64 " are revoked and not yet "
				  "confirmed by their locks; try again once the locks have "
				  "their list.", PROTO_REVOKE_MAX, site_id);
	if (r == -REVOCATION_E_SPENT)
		return share_fail(e, -SHARE_E_INTERNAL, 500, "internal", "Site %" PRId64 " has "
				  "used up its revocation serials.", site_id);
	return share_db_fail(e, r == -REVOCATION_E_BUSY ? -SHARE_E_BUSY : -SHARE_E_INTERNAL);
}

/* ---- reading ---- */

/* The one row of `sql` with $1 = v: DB_ROW with *st open, DB_DONE, or -DB_E_*. */
static int share_row_of(struct db *db, const char *sql, int64_t v, struct db_stmt **st)
{
	int r;

	*st = db_prepare(db, sql);
	if (*st == NULL)
		return -DB_E_IO;
	r = db_bind_int(*st, 1, v);
	if (r == 0)
		r = db_step(*st);
	if (r != DB_ROW) {
		db_finalize(*st);
		*st = NULL;
	}
	return r;
}

/* 0, -DB_E_NOTFOUND, or -DB_E_*. */
static int share_load_key(struct db *db, int64_t key_id, struct share_key *k)
{
	struct db_stmt *st;
	int r = share_row_of(db, "SELECT e.user_id, e.spot_id, s.site_id, e.not_before, "
			     "e.not_after, e.max_unlocks, e.flags, e.revoked, e.transferred "
			     "FROM ekeys e JOIN spots s ON s.id = e.spot_id WHERE e.key_id = $1",
			     key_id, &st);

	if (r != DB_ROW)
		return r == DB_DONE ? -DB_E_NOTFOUND : r;
	memset(k, 0, sizeof(*k));
	k->key_id = key_id;
	k->user_id = db_col_int(st, 0);
	k->spot_id = db_col_int(st, 1);
	k->site_id = db_col_int(st, 2);
	k->not_before = db_col_int(st, 3);
	k->not_after = db_col_int(st, 4);
	k->max_unlocks = db_col_int(st, 5);
	k->flags = db_col_int(st, 6);
	k->revoked = db_col_int(st, 7) != 0;
	k->transferred = db_col_int(st, 8) != 0;
	db_finalize(st);
	return 0;
}

/* The columns share_from_row() reads, of the shares table as `s`. */
#define SHARE_COLUMNS "s.share_id, s.parent_key_id, s.parent_share_id, s.spot_id, " \
	"s.site_id, s.sharer_id, s.key_holder_id, s.recipient_id, s.mode, s.wire_mode, " \
	"s.not_before, s.not_after, s.max_unlocks, s.may_reshare, s.state, s.transferred, " \
	"CASE WHEN s.skey IS NULL THEN 0 ELSE 1 END, s.device_pub"
#define SHARE_NCOLUMNS 18

/* Fills r from a row of SHARE_COLUMNS starting at column 0. */
static void share_from_row(struct db_stmt *st, struct share_row *r)
{
	const void *pub;
	size_t len = 0;

	memset(r, 0, sizeof(*r));
	r->id = db_col_int(st, 0);
	r->parent_key_id = db_col_int(st, 1);
	r->parent_share_id = db_col_null(st, 2) ? 0 : db_col_int(st, 2);
	r->spot_id = db_col_int(st, 3);
	r->site_id = db_col_int(st, 4);
	r->sharer_id = db_col_int(st, 5);
	r->key_holder_id = db_col_int(st, 6);
	r->recipient_id = db_col_int(st, 7);
	r->mode = share_mode_parse(db_col_text(st, 8));
	r->wire_mode = db_col_int(st, 9);
	r->not_before = db_col_int(st, 10);
	r->not_after = db_col_int(st, 11);
	r->max_unlocks = db_col_int(st, 12);
	r->may_reshare = db_col_int(st, 13) != 0;
	snprintf(r->state, sizeof(r->state), "%s", db_col_text(st, 14));
	r->transferred = db_col_int(st, 15) != 0;
	r->installed = db_col_int(st, 16) != 0;
	pub = db_col_blob(st, 17, &len);
	if (pub != NULL && len == PROTO_PUBKEY_LEN)
		memcpy(r->device_pub, pub, PROTO_PUBKEY_LEN);
}

/* 0, -DB_E_NOTFOUND, or -DB_E_*. */
static int share_load(struct db *db, int64_t share_id, struct share_row *r)
{
	struct db_stmt *st;
	int rc = share_row_of(db, "SELECT " SHARE_COLUMNS " FROM shares s WHERE s.share_id = $1",
			      share_id, &st);

	if (rc != DB_ROW)
		return rc == DB_DONE ? -DB_E_NOTFOUND : rc;
	share_from_row(st, r);
	db_finalize(st);
	return 0;
}

/* The spot's owner (0 for none) and whether it requires approval. 0 or -DB_E_*. */
static int share_spot(struct db *db, int64_t spot_id, int64_t *owner, bool *approval)
{
	struct db_stmt *st;
	int r = share_row_of(db, "SELECT owner_id, require_share_approval FROM spots "
			     "WHERE id = $1", spot_id, &st);

	if (r != DB_ROW)
		return r == DB_DONE ? -DB_E_NOTFOUND : r;
	*owner = db_col_null(st, 0) ? 0 : db_col_int(st, 0);
	if (approval != NULL)
		*approval = db_col_int(st, 1) != 0;
	db_finalize(st);
	return 0;
}

int share_site_of(struct db *db, int64_t id, int64_t *site_id)
{
	struct db_stmt *st;
	int r = share_row_of(db, "SELECT site_id FROM shares WHERE share_id = $1 UNION ALL "
			     "SELECT s.site_id FROM ekeys e JOIN spots s ON s.id = e.spot_id "
			     "WHERE e.key_id = $1", id, &st);

	if (r != DB_ROW)
		return r == DB_DONE ? -SHARE_E_NOTFOUND : -SHARE_E_INTERNAL;
	*site_id = db_col_int(st, 0);
	db_finalize(st);
	return 0;
}

static bool share_state_is(const struct share_row *r, const char *state)
{
	return strcmp(r->state, state) == 0;
}

/* Ended for good: nothing brings it back. */
static bool share_ended(const struct share_row *r)
{
	return share_state_is(r, "refused") || share_state_is(r, "revoked") ||
	       share_state_is(r, "given_up") || share_state_is(r, "removed");
}

/*
 * Whether the shares `r` derives from and its root key still give a right at `now`: 1,
 * or 0 with *why (ends a sentence "It ..."), or -DB_E_*. A share handed on by a transfer
 * passes: its right went on to the transfer's lineage, which alone survives it.
 */
static int share_chain_live(struct db *db, const struct share_row *r, int64_t now,
			    const char **why)
{
	struct share_row p;
	struct share_key k;
	int64_t next = r->parent_share_id;
	int depth, rc;

	for (depth = 0; next != 0; depth++) {
		if (depth == SHARE_CHAIN_MAX) {
			*why = "derives from too many reshares";
			return 0;
		}
		rc = share_load(db, next, &p);
		if (rc != 0)
			return rc == -DB_E_NOTFOUND ? -DB_E_IO : rc;
		if (share_state_is(&p, "frozen")) {
			*why = "derives from a frozen share";
			return 0;
		}
		if (!share_state_is(&p, "active") && !p.transferred) {
			*why = "derives from a share that has ended";
			return 0;
		}
		next = p.parent_share_id;
	}
	rc = share_load_key(db, r->parent_key_id, &k);
	if (rc != 0)
		return rc == -DB_E_NOTFOUND ? -DB_E_IO : rc;
	if (k.revoked) {
		*why = "derives from a key that was revoked";
		return 0;
	}
	if (k.not_after < now) {
		*why = "derives from a key that has expired";
		return 0;
	}
	return 1;
}

/* The account of `phone`: 0 with *id, -DB_E_NOTFOUND, or -DB_E_*. */
static int share_user_by_phone(struct db *db, const char *phone, int64_t *id)
{
	struct db_stmt *st = db_prepare(db, "SELECT id FROM users WHERE phone = $1");
	int r;

	if (st == NULL || db_bind_text(st, 1, phone) != 0) {
		db_finalize(st);
		return -DB_E_IO;
	}
	r = db_step(st);
	if (r == DB_ROW)
		*id = db_col_int(st, 0);
	db_finalize(st);
	return r == DB_ROW ? 0 : r == DB_DONE ? -DB_E_NOTFOUND : r;
}

/*
 * The share IDs derived from `share_id` (reshares, and theirs), into ids[0..*n).
 * 0, or -DB_E_* (-DB_E_IO when there are more than SHARE_DESCENDANTS_MAX).
 */
static int share_descendants(struct db *db, int64_t share_id, int64_t *ids, size_t *n)
{
	struct db_stmt *st;
	int r;

	*n = 0;
	st = db_prepare(db, "WITH RECURSIVE d(id) AS (SELECT share_id FROM shares WHERE "
			"parent_share_id = $1 UNION SELECT s.share_id FROM shares s JOIN d ON "
			"s.parent_share_id = d.id) SELECT id FROM d ORDER BY id");
	if (st == NULL || db_bind_int(st, 1, share_id) != 0) {
		db_finalize(st);
		return -DB_E_IO;
	}
	while ((r = db_step(st)) == DB_ROW) {
		if (*n == SHARE_DESCENDANTS_MAX) {
			r = -DB_E_IO;
			break;
		}
		ids[(*n)++] = db_col_int(st, 0);
	}
	db_finalize(st);
	if (r == -DB_E_IO)
		log_error("share: share %" PRId64 " has more than %d reshares", share_id,
			  SHARE_DESCENDANTS_MAX);
	return r == DB_DONE ? 0 : r;
}

/* ---- writing ---- */

static int share_audit(struct db *db, const struct share_actor *a, const char *action,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int share_audit(struct db *db, const struct share_actor *a, const char *action,
		       const char *fmt, ...)
{
	char detail[AUDIT_DETAIL_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return audit_append(db, a->now, a->user_id, action, detail, a->peer);
}

/* A notification of the spot's managers (to_user 0) or of one user, of kind `kind`. */
static int share_notify(struct db *db, int64_t spot_id, const char *kind, int64_t to_user,
			int64_t now)
{
	if (to_user == 0)
		return db_exec(db, "INSERT INTO notifications (kind, spot_id, created_at) "
			       "VALUES ($1, $2, $3)", "sii", kind, spot_id, now);
	return db_exec(db, "INSERT INTO notifications (kind, spot_id, created_at, user_id) "
		       "VALUES ($1, $2, $3, $4)", "siii", kind, spot_id, now, to_user);
}

static int share_set_state(struct db *db, int64_t share_id, const char *state, int64_t now)
{
	bool ends = strcmp(state, "active") != 0 && strcmp(state, "offered") != 0 &&
		    strcmp(state, "frozen") != 0;

	if (ends)
		return db_exec(db, "UPDATE shares SET state = $2, ended_at = $3 WHERE "
			       "share_id = $1", "isi", share_id, state, now);
	return db_exec(db, "UPDATE shares SET state = $2 WHERE share_id = $1", "is", share_id,
		       state);
}

/* The latest `r` (or its root key) could open anything: the earlier of both not_afters. */
static int share_not_after(struct db *db, const struct share_row *r, int64_t *not_after)
{
	struct share_key k;
	int rc = share_load_key(db, r->parent_key_id, &k);

	if (rc != 0)
		return rc;
	*not_after = k.not_after < r->not_after ? k.not_after : r->not_after;
	return 0;
}

/* Puts `r` on the site's list for `cause` when the lock may hold it. 0, or < 0. */
static int share_list_one(struct db *db, const struct share_actor *a, const struct share_row *r,
			  int64_t cause, bool frozen, bool *listed)
{
	struct revocation_entry e;
	int rc;

	if (!r->installed)
		return 0;
	memset(&e, 0, sizeof(e));
	e.id = r->id;
	e.cause = cause;
	e.frozen = frozen;
	e.spot_id = r->spot_id;
	rc = share_not_after(db, r, &e.not_after);
	if (rc != 0)
		return rc;
	rc = revocation_add(db, r->site_id, &e, a->now);
	if (rc != 0)
		return rc == -REVOCATION_E_BUSY ? -DB_E_BUSY : -DB_E_IO;
	*listed = true;
	return 0;
}

/*
 * Ends (or freezes) share `r` and everything reshared from it, except `keep` (a transfer's
 * own share, 0 for none) and its lineage: `state` for r ("frozen" leaves the reshares as
 * they are, since unfreezing brings them back); "revoked" for the reshares that still had
 * a right. Everything the lock may hold goes on the list for cause r. *listed tells
 * whether the list changed. 0, or -DB_E_*.
 */
static int share_end_lineage(struct db *db, const struct share_actor *a,
			     const struct share_row *r, const char *state, int64_t keep,
			     bool *listed)
{
	int64_t *desc = calloc(2 * SHARE_DESCENDANTS_MAX, sizeof(*desc)), *kept;
	size_t n = 0, nk = 0, i, j;
	struct share_row d;
	bool frozen = strcmp(state, "frozen") == 0, spared;
	int rc;

	if (desc == NULL)
		return -DB_E_IO;
	kept = desc + SHARE_DESCENDANTS_MAX;
	rc = share_set_state(db, r->id, state, a->now);
	if (rc == 0 && !frozen)
		/* An end is final: a freeze before it can no longer be undone. */
		rc = db_exec(db, "UPDATE revocations SET frozen = 0 WHERE site_id = $1 AND "
			     "cause = $2", "ii", r->site_id, r->id);
	if (rc == 0)
		rc = share_list_one(db, a, r, r->id, frozen, listed);
	if (rc == 0 && keep != 0)
		rc = share_descendants(db, keep, kept, &nk);
	if (rc == 0)
		rc = share_descendants(db, r->id, desc, &n);
	for (i = 0; rc == 0 && i < n; i++) {
		spared = desc[i] == keep;
		for (j = 0; j < nk && !spared; j++)
			spared = desc[i] == kept[j];
		if (spared)
			continue;
		rc = share_load(db, desc[i], &d);
		if (rc == 0 && !frozen && !share_ended(&d))
			rc = share_set_state(db, d.id, "revoked", a->now);
		if (rc == 0)
			rc = share_list_one(db, a, &d, r->id, frozen, listed);
	}
	free(desc);
	return rc;
}

/* A new list for the site when `listed`. 0, or -SHARE_E_* with *err. */
static int share_publish(struct db *db, const struct share_actor *a, int64_t site_id,
			 bool listed, struct share_outcome *out, struct share_error *err)
{
	int r;

	if (!listed)
		return 0;
	r = revocation_publish(db, a->site_key, site_id, a->now, &out->serial, NULL);
	return r == 0 ? 0 : share_revocation_fail(err, r, site_id);
}

/* The 160-byte encoding of a signed shared key (PROTOCOL.md 4.6). 0 or -1. */
static int share_encode_skey(const struct proto_skey *k, uint8_t out[PROTO_SKEY_LEN])
{
	uint8_t tbs[4 + PROTO_SKEY_TBS_LEN];
	struct wire_writer w;

	/* The signed string is "PKK1" then the shared key's first 96 bytes in wire order. */
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_skey(&w, k);
	if (w.error || w.off != sizeof(tbs))
		return -1;
	memcpy(out, tbs + 4, PROTO_SKEY_TBS_LEN);
	memcpy(out + PROTO_SKEY_TBS_LEN, k->sig, PROTO_SIG_LEN);
	return 0;
}

/* Queues the INSTALL_SHARE of accepted share `r`. 0 with *id, or -SHARE_E_* with *err. */
static int share_queue_install(struct db *db, const struct share_actor *a,
			       const struct share_row *r, int64_t *id, struct share_error *err)
{
	struct delivery_msg_spec spec = { r->spot_id, r->site_id, PROTO_MGMT_INSTALL_SHARE,
					  "install_share", r->id };
	union proto_mgmt_payload p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.share.share_id = (uint32_t)r->id;
	p.share.parent_key_id = (uint32_t)r->parent_key_id;
	p.share.sharer_id = (uint32_t)r->key_holder_id;
	p.share.recipient_id = (uint32_t)r->recipient_id;
	p.share.not_before = (uint32_t)r->not_before;
	p.share.not_after = (uint32_t)r->not_after;
	p.share.max_unlocks = (uint16_t)r->max_unlocks;
	p.share.mode = (uint8_t)r->wire_mode;
	p.share.flags = r->may_reshare ? PROTO_SHARE_MAY_RESHARE : 0;
	rc = delivery_queue(db, a->site_key, &spec, &p, a->now, id);
	if (rc == 0)
		return 0;
	if (rc == -DELIVERY_E_NOTFOUND)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Spot %" PRId64 " has "
				  "no lock to take the share.", r->spot_id);
	if (rc == -DELIVERY_E_SPENT)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "The lock of spot %"
				  PRId64 " has used up its management sequences; it must be "
				  "provisioned again.", r->spot_id);
	return share_db_fail(err, rc == -DELIVERY_E_BUSY ? -SHARE_E_BUSY : -SHARE_E_INTERNAL);
}

/* A share ID from the key-ID counter (one number space). 0 with *id, or -DB_E_*. */
static int share_next_id(struct db *db, int64_t *id)
{
	struct db_stmt *st = db_prepare(db, "UPDATE id_counters SET value = value + 1 WHERE "
					"name = 'key_id' RETURNING value");
	int r;

	if (st == NULL)
		return -DB_E_IO;
	r = db_step(st);
	if (r == DB_ROW) {
		*id = db_col_int(st, 0);
		r = db_step(st) == DB_DONE ? 0 : -DB_E_IO;
	} else if (r == DB_DONE) {
		r = -DB_E_IO;
	}
	db_finalize(st);
	if (r == 0 && (*id < 1 || *id > SHARE_U32_MAX))
		r = -DB_E_IO; /* 2^32 keys and shares: the number space is spent */
	return r;
}

/*
 * The share the caller acts on: loaded, and seen by them (its sharer, its recipient or
 * the spot's owner; removed ones by nobody). 0 with *r and *owner, or -SHARE_E_* with *err.
 */
static int share_visible(struct db *db, const struct share_actor *a, int64_t share_id,
			 struct share_row *r, int64_t *owner, struct share_error *err)
{
	int rc = share_load(db, share_id, r);

	if (rc == 0)
		rc = share_spot(db, r->spot_id, owner, NULL);
	if (rc == -DB_E_NOTFOUND || (rc == 0 && (share_state_is(r, "removed") ||
						 (a->user_id != r->sharer_id &&
						  a->user_id != r->recipient_id &&
						  a->user_id != *owner))))
		return share_fail(err, -SHARE_E_NOTFOUND, 404, "not_found", "You have no share %"
				  PRId64 ".", share_id);
	return rc == 0 ? 0 : share_db_fail(err, rc);
}

static int share_only(struct share_error *err, int64_t share_id, const char *who)
{
	return share_fail(err, -SHARE_E_FORBIDDEN, 403, "forbidden", "Only %s may do this to "
			  "share %" PRId64 ".", who, share_id);
}

static int share_not_in(struct share_error *err, const struct share_row *r, const char *wanted)
{
	return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Share %" PRId64 " is %s%s, "
			  "not %s.", r->id, r->state, r->transferred ? " (handed on)" : "",
			  wanted);
}

/* ---- offering ---- */

/* The parent's limits and what it is, for an offer. */
struct share_parent {
	int64_t spot_id, site_id, key_id, holder, owner;
	int64_t not_before, not_after, max_unlocks;
	bool approval;
};

static int share_parent_key(struct db *db, const struct share_actor *a, int64_t key_id,
			    struct share_parent *p, struct share_error *err)
{
	struct share_key k;
	int r = share_load_key(db, key_id, &k);

	if (r == -DB_E_NOTFOUND || (r == 0 && k.user_id != a->user_id))
		return share_fail(err, -SHARE_E_NOTFOUND, 404, "not_found", "You hold no key %"
				  PRId64 ".", key_id);
	if (r == 0)
		r = share_spot(db, k.spot_id, &p->owner, &p->approval);
	if (r != 0)
		return share_db_fail(err, r == -DB_E_NOTFOUND ? -DB_E_IO : r);
	if (p->owner != a->user_id && (k.flags & (PROTO_CRED_OWNER | PROTO_CRED_MAY_SHARE)) == 0)
		return share_fail(err, -SHARE_E_NOT_ALLOWED, 403, "not_allowed", "Key %" PRId64
				  " may not be shared: the spot's owner did not let renters share "
				  "when it was issued.", key_id);
	if (k.revoked || k.transferred || k.not_after < a->now)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Key %" PRId64 " %s.",
				  key_id, k.revoked ? "was revoked" : k.transferred ?
				  "was handed on by a transfer" : "has expired");
	p->spot_id = k.spot_id;
	p->site_id = k.site_id;
	p->key_id = key_id;
	p->holder = k.user_id;
	p->not_before = k.not_before;
	p->not_after = k.not_after;
	p->max_unlocks = k.max_unlocks;
	return 0;
}

static int share_parent_share(struct db *db, const struct share_actor *a, int64_t share_id,
			      struct share_parent *p, struct share_error *err)
{
	struct share_row s;
	const char *why = NULL;
	int r = share_load(db, share_id, &s);

	if (r == -DB_E_NOTFOUND || (r == 0 && (s.recipient_id != a->user_id ||
					       share_state_is(&s, "removed"))))
		return share_fail(err, -SHARE_E_NOTFOUND, 404, "not_found", "You hold no share %"
				  PRId64 ".", share_id);
	if (r == 0)
		r = share_spot(db, s.spot_id, &p->owner, &p->approval);
	if (r != 0)
		return share_db_fail(err, r == -DB_E_NOTFOUND ? -DB_E_IO : r);
	if (!s.may_reshare)
		return share_fail(err, -SHARE_E_NOT_ALLOWED, 403, "not_allowed", "Share %" PRId64
				  " may not be shared on: its sharer did not allow it.", share_id);
	if (!share_state_is(&s, "active") || s.transferred)
		return share_not_in(err, &s, "active");
	if (s.not_after < a->now)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Share %" PRId64
				  " has expired.", share_id);
	r = share_chain_live(db, &s, a->now, &why);
	if (r < 0)
		return share_db_fail(err, r);
	if (r == 0)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Share %" PRId64 " %s.",
				  share_id, why);
	p->spot_id = s.spot_id;
	p->site_id = s.site_id;
	p->key_id = s.parent_key_id;
	p->holder = s.key_holder_id;
	p->not_before = s.not_before;
	p->not_after = s.not_after;
	p->max_unlocks = s.max_unlocks;
	return 0;
}

/* The share's limits from the request and the parent's: 0, or -SHARE_E_* with *err. */
static int share_limits(const struct share_actor *a, const struct share_request *in,
			const struct share_parent *p, int64_t *nb, int64_t *na, int64_t *max,
			struct share_error *err)
{
	*nb = in->not_before >= 0 ? in->not_before : p->not_before;
	*na = in->not_after >= 0 ? in->not_after : p->not_after;
	*max = in->max_unlocks >= 0 ? in->max_unlocks : p->max_unlocks;
	if (*nb < p->not_before)
		return share_fail(err, -SHARE_E_TOO_WIDE, 400, "too_wide", "not_before may not be "
				  "before the parent's, %" PRId64 ".", p->not_before);
	if (*na > p->not_after)
		return share_fail(err, -SHARE_E_TOO_WIDE, 400, "too_wide", "not_after may not be "
				  "after the parent's, %" PRId64 ".", p->not_after);
	if (p->max_unlocks != 0 && (*max == 0 || *max > p->max_unlocks))
		return share_fail(err, -SHARE_E_TOO_WIDE, 400, "too_wide", "max_unlocks must be 1 "
				  "to the parent's %" PRId64 ".", p->max_unlocks);
	if (*nb > *na)
		return share_fail(err, -SHARE_E_INVALID, 400, "bad_field", "not_before must not "
				  "be after not_after.");
	if (*na < a->now)
		return share_fail(err, -SHARE_E_INVALID, 400, "bad_field", "not_after is past: "
				  "such a share would open nothing.");
	return 0;
}

int share_offer(struct db *db, const struct share_actor *a, const struct share_request *in,
		struct share_outcome *out, struct share_error *err)
{
	struct share_parent p;
	int64_t recipient = 0, id = 0, nb, na, max;
	struct db_stmt *st = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	memset(&p, 0, sizeof(p));
	if ((in->key_id != 0) == (in->share_id != 0) || share_mode_name(in->mode) == NULL ||
	    in->phone == NULL)
		return share_fail(err, -SHARE_E_INVALID, 400, "bad_field", "Give one of key_id and "
				  "share_id, a mode and the recipient's phone.");
	r = in->key_id != 0 ? share_parent_key(db, a, in->key_id, &p, err) :
		share_parent_share(db, a, in->share_id, &p, err);
	if (r != 0)
		return r;
	r = share_user_by_phone(db, in->phone, &recipient);
	if (r == -DB_E_NOTFOUND)
		return share_fail(err, -SHARE_E_NOTFOUND, 404, "not_found", "There is no account "
				  "with the phone number %s.", in->phone);
	if (r != 0)
		return share_db_fail(err, r);
	if (recipient == a->user_id)
		return share_fail(err, -SHARE_E_INVALID, 400, "bad_field", "The field 'phone' is "
				  "your own number: share with someone else.");
	if ((r = share_limits(a, in, &p, &nb, &na, &max, err)) != 0)
		return r;
	if (p.owner != a->user_id) {
		/* The owner's policy governs who uses the spot, whoever hands the key on. */
		r = key_policy_admits(db, p.spot_id, recipient);
		if (r < 0)
			return share_db_fail(err, r == -KEY_E_BUSY ? -SHARE_E_BUSY :
					     -SHARE_E_INTERNAL);
		if (r == 0)
			return share_fail(err, -SHARE_E_NOT_ALLOWED, 403, "not_allowed",
					  "The policy of spot %" PRId64 " does not admit the "
					  "recipient.", p.spot_id);
	}
	out->pending = p.approval && p.owner != a->user_id;
	r = share_next_id(db, &id);
	if (r == 0) {
		st = db_prepare(db, "INSERT INTO shares (share_id, parent_key_id, "
				"parent_share_id, spot_id, site_id, sharer_id, key_holder_id, "
				"recipient_id, mode, not_before, not_after, max_unlocks, "
				"may_reshare, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, "
				"$7, $8, $9, $10, $11, $12, $13, $14, $15)");
		r = st == NULL ? -DB_E_IO : 0;
	}
	if (r == 0 && (db_bind_int(st, 1, id) != 0 || db_bind_int(st, 2, p.key_id) != 0 ||
		       (in->share_id != 0 ? db_bind_int(st, 3, in->share_id) :
			db_bind_null(st, 3)) != 0 ||
		       db_bind_int(st, 4, p.spot_id) != 0 || db_bind_int(st, 5, p.site_id) != 0 ||
		       db_bind_int(st, 6, a->user_id) != 0 || db_bind_int(st, 7, p.holder) != 0 ||
		       db_bind_int(st, 8, recipient) != 0 ||
		       db_bind_text(st, 9, share_mode_name(in->mode)) != 0 ||
		       db_bind_int(st, 10, nb) != 0 || db_bind_int(st, 11, na) != 0 ||
		       db_bind_int(st, 12, max) != 0 ||
		       db_bind_int(st, 13, in->may_reshare == 1) != 0 ||
		       db_bind_text(st, 14, out->pending ? "pending_approval" : "offered") != 0 ||
		       db_bind_int(st, 15, a->now) != 0))
		r = -DB_E_IO;
	if (r == 0)
		r = db_step(st) == DB_DONE ? 0 : -DB_E_IO;
	db_finalize(st);
	if (r == 0)
		r = share_audit(db, a, out->pending ? "share_requested" : "share_offered",
				"share %" PRId64 " of key %" PRId64 " (spot %" PRId64 ") to user %"
				PRId64 ", %s%s%s", id, p.key_id, p.spot_id, recipient,
				share_mode_name(in->mode), in->share_id != 0 ? ", reshare" : "",
				out->pending ? ", waits for the owner" : "");
	if (r == 0 && out->pending)
		r = share_notify(db, p.spot_id, "share_pending", 0, a->now);
	if (r != 0)
		return share_db_fail(err, r);
	out->share_id = id;
	return 0;
}

/* ---- accepting ---- */

/*
 * Marks key `key_id` handed on by share `share_id`, and ends its other shares. 0, 1 when
 * another transfer or a revocation came first (nothing changed), or -DB_E_*.
 */
static int share_transfer_key(struct db *db, const struct share_actor *a, int64_t key_id,
			      int64_t share_id)
{
	int r = db_exec(db, "UPDATE ekeys SET transferred = 1, transferred_at = $2 WHERE "
			"key_id = $1 AND transferred = 0 AND revoked = 0", "ii", key_id, a->now);

	if (r == 0 && db_changes(db) != 1)
		return 1;
	/* The lock refuses them itself once the transfer is installed: the key is marked. */
	if (r == 0)
		r = db_exec(db, "UPDATE shares SET state = 'revoked', ended_at = $3 WHERE "
			    "parent_key_id = $1 AND share_id <> $2 AND state IN ("
			    "'pending_approval', 'offered', 'active', 'frozen')", "iii", key_id,
			    share_id, a->now);
	return r;
}

/* Signs r's shared key with the key holder's reservation key into wire. 0 or -SHARE_E_*. */
static int share_sign(struct db *db, const struct share_actor *a, const struct share_row *r,
		      uint8_t wire[PROTO_SKEY_LEN], struct share_error *err)
{
	struct proto_skey k;
	EVP_PKEY *res = NULL;
	uint8_t pub[PROTO_PUBKEY_LEN];
	int rc;

	rc = key_reservation_private(db, a->master, a->keys, r->key_holder_id, &res, pub);
	if (rc != 0) {
		log_error("share: the reservation key of user %" PRId64 " does not open",
			  r->key_holder_id);
		return share_db_fail(err, rc == -KEY_E_BUSY ? -SHARE_E_BUSY : -SHARE_E_INTERNAL);
	}
	memset(&k, 0, sizeof(k));
	k.share_id = (uint32_t)r->id;
	k.parent_key_id = (uint32_t)r->parent_key_id;
	k.sharer_id = (uint32_t)r->key_holder_id;
	k.recipient_id = (uint32_t)r->recipient_id;
	k.spot_id = (uint32_t)r->spot_id;
	k.not_before = (uint32_t)r->not_before;
	k.not_after = (uint32_t)r->not_after;
	k.max_unlocks = (uint16_t)r->max_unlocks;
	k.mode = (uint8_t)r->wire_mode;
	k.flags = r->may_reshare ? PROTO_SHARE_MAY_RESHARE : 0;
	memcpy(k.device_pub, r->device_pub, PROTO_PUBKEY_LEN);
	rc = signer_skey(res, &k) == 0 && share_encode_skey(&k, wire) == 0 ? 0 : -1;
	EVP_PKEY_free(res);
	if (rc != 0)
		return share_fail(err, -SHARE_E_INTERNAL, 500, "internal", "The shared key could "
				  "not be signed.");
	return 0;
}

int share_accept(struct db *db, const struct share_actor *a, int64_t share_id,
		 const uint8_t device_pub[PROTO_PUBKEY_LEN], struct share_outcome *out,
		 struct share_error *err)
{
	uint8_t wire[PROTO_SKEY_LEN];
	struct share_row r, parent;
	struct share_key k;
	const char *why = NULL;
	bool key_transfer, listed = false;
	int64_t owner = 0;
	EVP_PKEY *dev;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	memset(&parent, 0, sizeof(parent));
	if ((rc = share_visible(db, a, share_id, &r, &owner, err)) != 0)
		return rc;
	if (a->user_id != r.recipient_id)
		return share_only(err, share_id, "its recipient");
	if (!share_state_is(&r, "offered"))
		return share_not_in(err, &r, "offered");
	if (r.not_after < a->now)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Share %" PRId64
				  " has expired.", share_id);
	/* Only a check: the shared key carries the raw key, and the lock uses it. */
	dev = p256_from_public_raw(device_pub);
	if (dev == NULL)
		return share_fail(err, -SHARE_E_INVALID, 400, "bad_field", "device_pub is not a "
				  "P-256 public key (128 hex digits, X || Y).");
	EVP_PKEY_free(dev);
	if (r.parent_share_id != 0) {
		rc = share_load(db, r.parent_share_id, &parent);
		if (rc != 0)
			return share_db_fail(err, rc == -DB_E_NOTFOUND ? -DB_E_IO : rc);
		if (!share_state_is(&parent, "active") || parent.transferred)
			return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "The share it "
					  "derives from, %" PRId64 ", has ended.", parent.id);
	}
	rc = share_chain_live(db, &r, a->now, &why);
	if (rc < 0)
		return share_db_fail(err, rc);
	if (rc == 0)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Share %" PRId64 " %s.",
				  share_id, why);
	rc = share_load_key(db, r.parent_key_id, &k);
	if (rc != 0)
		return share_db_fail(err, rc == -DB_E_NOTFOUND ? -DB_E_IO : rc);
	key_transfer = r.mode == PROTO_SHARE_TRANSFER && r.parent_share_id == 0;
	if (key_transfer && k.transferred)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Key %" PRId64 " was "
				  "handed on already.", k.key_id);
	/*
	 * On the wire a transfer marks the root credential: the key's own transfer, and every
	 * share derived after it (the lock lets only transfer codes use a transferred key). A
	 * reshare handed on ends the share it derives from by the revocation list instead.
	 */
	r.wire_mode = key_transfer || k.transferred ? PROTO_SHARE_TRANSFER : PROTO_SHARE_COSHARE;
	memcpy(r.device_pub, device_pub, PROTO_PUBKEY_LEN);
	r.installed = true;
	if ((rc = share_sign(db, a, &r, wire, err)) != 0)
		return rc;
	/* The state again in the write: of two acceptances at once, one changes it. */
	rc = db_exec(db, "UPDATE shares SET state = 'active', wire_mode = $2, device_pub = $3, "
		     "skey = $4, accepted_at = $5 WHERE share_id = $1 AND state = 'offered'",
		     "iibbi", share_id, r.wire_mode, (const void *)device_pub,
		     (size_t)PROTO_PUBKEY_LEN, (const void *)wire, (size_t)PROTO_SKEY_LEN, a->now);
	if (rc == 0 && db_changes(db) != 1)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Share %" PRId64
				  " was accepted or changed meanwhile.", share_id);
	if (rc != 0)
		return share_db_fail(err, rc);
	if ((rc = share_queue_install(db, a, &r, &out->message_id, err)) != 0)
		return rc;
	if (key_transfer) {
		rc = share_transfer_key(db, a, k.key_id, share_id);
		if (rc == 1)
			return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Key %" PRId64
					  " was handed on or revoked meanwhile.", k.key_id);
	} else if (r.mode == PROTO_SHARE_TRANSFER)
		rc = db_exec(db, "UPDATE shares SET transferred = 1 WHERE share_id = $1", "i",
			     parent.id);
	if (rc == 0 && r.mode == PROTO_SHARE_TRANSFER && !key_transfer) {
		parent.transferred = true;
		rc = share_end_lineage(db, a, &parent, "revoked", share_id, &listed);
	}
	if (rc == 0)
		rc = share_audit(db, a, "share_accepted", "share %" PRId64 " of key %" PRId64
				 " (spot %" PRId64 "), INSTALL_SHARE queued (message %"
				 PRId64 ")%s", share_id, r.parent_key_id, r.spot_id,
				 out->message_id,
				 r.mode == PROTO_SHARE_TRANSFER ? ", handed on" : "");
	if (rc != 0)
		return share_db_fail(err, rc);
	out->share_id = share_id;
	return share_publish(db, a, r.site_id, listed, out, err);
}

/* ---- the owner's decisions ---- */

/*
 * The start of every owner's action on a share: out and err cleared, the share loaded
 * into *r, and the caller the spot's owner. 0, or -SHARE_E_* with *err.
 */
static int share_owner_acts(struct db *db, const struct share_actor *a, int64_t share_id,
			    struct share_row *r, struct share_outcome *out, struct share_error *err)
{
	int64_t owner = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if ((rc = share_visible(db, a, share_id, r, &owner, err)) != 0)
		return rc;
	if (a->user_id != owner)
		return share_only(err, share_id, "the spot's owner");
	return 0;
}

int share_decide(struct db *db, const struct share_actor *a, int64_t share_id, bool approve,
		 struct share_outcome *out, struct share_error *err)
{
	struct share_row r;
	const char *why = NULL;
	int rc;

	if ((rc = share_owner_acts(db, a, share_id, &r, out, err)) != 0)
		return rc;
	if (!share_state_is(&r, "pending_approval"))
		return share_not_in(err, &r, "pending approval");
	if (approve) {
		rc = share_chain_live(db, &r, a->now, &why);
		if (rc < 0)
			return share_db_fail(err, rc);
		if (rc == 0)
			return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Share %" PRId64
					  " %s.", share_id, why);
		rc = db_exec(db, "UPDATE shares SET state = 'offered', decided_at = $2 WHERE "
			     "share_id = $1 AND state = 'pending_approval'", "ii", share_id,
			     a->now);
	} else {
		rc = db_exec(db, "UPDATE shares SET state = 'refused', decided_at = $2, "
			     "ended_at = $2 WHERE share_id = $1 AND state = 'pending_approval'",
			     "ii", share_id, a->now);
	}
	if (rc == 0 && db_changes(db) != 1)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Share %" PRId64
				  " was decided meanwhile.", share_id);
	if (rc == 0)
		rc = share_notify(db, r.spot_id, approve ? "share_approved" : "share_refused",
				  r.sharer_id, a->now);
	if (rc == 0)
		rc = share_audit(db, a, approve ? "share_approved" : "share_refused", "share %"
				 PRId64 " of key %" PRId64 " (spot %" PRId64 ") by user %" PRId64,
				 share_id, r.parent_key_id, r.spot_id, r.sharer_id);
	if (rc != 0)
		return share_db_fail(err, rc);
	out->share_id = share_id;
	return 0;
}

int share_give_up(struct db *db, const struct share_actor *a, int64_t share_id,
		  struct share_outcome *out, struct share_error *err)
{
	struct share_row r;
	int64_t owner = 0;
	bool listed = false;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if ((rc = share_visible(db, a, share_id, &r, &owner, err)) != 0)
		return rc;
	if (a->user_id != r.recipient_id)
		return share_only(err, share_id, "its recipient");
	if (!share_state_is(&r, "offered") && !share_state_is(&r, "active") &&
	    !share_state_is(&r, "frozen"))
		return share_not_in(err, &r, "offered, active or frozen");
	rc = share_end_lineage(db, a, &r, "given_up", 0, &listed);
	if (rc == 0)
		rc = share_audit(db, a, "share_given_up", "share %" PRId64 " of key %" PRId64
				 " (spot %" PRId64 ")", share_id, r.parent_key_id, r.spot_id);
	if (rc != 0)
		return share_db_fail(err, rc);
	out->share_id = share_id;
	return share_publish(db, a, r.site_id, listed, out, err);
}

/* Queues the INSTALL_SHARE of `r` again when it is active and on no list. 0 or -SHARE_E_*. */
static int share_reinstall(struct db *db, const struct share_actor *a, const struct share_row *r,
			   struct share_error *err)
{
	int64_t id = 0;
	int rc;

	if (!share_state_is(r, "active") || !r->installed || r->transferred)
		return 0;
	rc = revocation_listed(db, r->site_id, r->id);
	if (rc < 0)
		return share_db_fail(err, rc == -REVOCATION_E_BUSY ? -SHARE_E_BUSY :
				     -SHARE_E_INTERNAL);
	return rc == 1 ? 0 : share_queue_install(db, a, r, &id, err);
}

/*
 * Unfreezes r: off the list, then (after the new list, so that a lock applies the list
 * first) its code and its live reshares' codes queued anew: the lock deleted them.
 */
static int share_thaw(struct db *db, const struct share_actor *a, struct share_row *r,
		      struct share_outcome *out, struct share_error *err)
{
	int64_t *desc = calloc(SHARE_DESCENDANTS_MAX, sizeof(*desc));
	struct share_row d;
	size_t n = 0, i;
	int rc;

	if (desc == NULL)
		return share_db_fail(err, -DB_E_IO);
	rc = share_set_state(db, r->id, "active", a->now);
	if (rc == 0) {
		rc = revocation_unfreeze(db, r->site_id, r->id);
		if (rc != 0) {
			free(desc);
			return share_revocation_fail(err, rc, r->site_id);
		}
	}
	if (rc == 0)
		rc = share_descendants(db, r->id, desc, &n);
	if (rc != 0) {
		free(desc);
		return share_db_fail(err, rc);
	}
	rc = share_publish(db, a, r->site_id, true, out, err);
	snprintf(r->state, sizeof(r->state), "active");
	if (rc == 0)
		rc = share_reinstall(db, a, r, err);
	for (i = 0; rc == 0 && i < n; i++) {
		if (share_load(db, desc[i], &d) != 0)
			rc = share_db_fail(err, -DB_E_IO);
		else
			rc = share_reinstall(db, a, &d, err);
	}
	free(desc);
	return rc;
}

int share_freeze(struct db *db, const struct share_actor *a, int64_t share_id, bool freeze,
		 struct share_outcome *out, struct share_error *err)
{
	struct share_row r;
	bool listed = false;
	int rc;

	if ((rc = share_owner_acts(db, a, share_id, &r, out, err)) != 0)
		return rc;
	if (!share_state_is(&r, freeze ? "active" : "frozen") || r.transferred)
		return share_not_in(err, &r, freeze ? "active" : "frozen");
	out->share_id = share_id;
	rc = share_audit(db, a, freeze ? "share_frozen" : "share_unfrozen", "share %" PRId64
			 " of key %" PRId64 " (spot %" PRId64 ")", share_id, r.parent_key_id,
			 r.spot_id);
	if (rc != 0)
		return share_db_fail(err, rc);
	if (!freeze)
		return share_thaw(db, a, &r, out, err);
	rc = share_end_lineage(db, a, &r, "frozen", 0, &listed);
	if (rc != 0)
		return share_db_fail(err, rc);
	return share_publish(db, a, r.site_id, listed, out, err);
}

int share_delete(struct db *db, const struct share_actor *a, int64_t share_id,
		 struct share_outcome *out, struct share_error *err)
{
	struct share_row r;
	bool listed = false;
	int rc;

	if ((rc = share_owner_acts(db, a, share_id, &r, out, err)) != 0)
		return rc;
	/* Ended before: its IDs are on the list already, if the lock could hold them. */
	if (share_ended(&r))
		rc = share_set_state(db, share_id, "removed", a->now);
	else
		rc = share_end_lineage(db, a, &r, "removed", 0, &listed);
	if (rc == 0)
		rc = share_audit(db, a, "share_removed", "share %" PRId64 " of key %" PRId64
				 " (spot %" PRId64 "), was %s", share_id, r.parent_key_id,
				 r.spot_id, r.state);
	if (rc != 0)
		return share_db_fail(err, rc);
	out->share_id = share_id;
	return share_publish(db, a, r.site_id, listed, out, err);
}

int share_key_revoke(struct db *db, const struct share_actor *a, int64_t key_id,
		     struct share_outcome *out, struct share_error *err)
{
	struct revocation_entry e;
	struct share_key k;
	int64_t owner = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	rc = share_load_key(db, key_id, &k);
	if (rc == 0)
		rc = share_spot(db, k.spot_id, &owner, NULL);
	if (rc == -DB_E_NOTFOUND || (rc == 0 && a->user_id != k.user_id && a->user_id != owner))
		return share_fail(err, -SHARE_E_NOTFOUND, 404, "not_found", "You have no key %"
				  PRId64 ".", key_id);
	if (rc != 0)
		return share_db_fail(err, rc);
	if (k.revoked)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Key %" PRId64 " is "
				  "revoked already.", key_id);
	/* Its holder handed it on: what it opens now is the recipient's, and the owner's. */
	if (k.transferred && a->user_id != owner)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Key %" PRId64 " was "
				  "handed on by a transfer; only the spot's owner may revoke it.",
				  key_id);
	memset(&e, 0, sizeof(e));
	e.id = key_id;
	e.cause = key_id;
	e.spot_id = k.spot_id;
	e.not_after = k.not_after;
	rc = db_exec(db, "UPDATE ekeys SET revoked = 1, revoked_at = $2 WHERE key_id = $1 AND "
		     "revoked = 0", "ii", key_id, a->now);
	if (rc == 0 && db_changes(db) != 1)
		return share_fail(err, -SHARE_E_CONFLICT, 409, "conflict", "Key %" PRId64 " was "
				  "revoked meanwhile.", key_id);
	if (rc == 0) {
		rc = revocation_add(db, k.site_id, &e, a->now);
		if (rc != 0)
			return share_revocation_fail(err, rc, k.site_id);
	}
	/* The lock ends them itself, as their parent key is listed; the server marks them. */
	if (rc == 0)
		rc = db_exec(db, "UPDATE shares SET state = 'revoked', ended_at = $2 WHERE "
			     "parent_key_id = $1 AND state IN ('pending_approval', 'offered', "
			     "'active', 'frozen')", "ii", key_id, a->now);
	if (rc == 0)
		rc = share_audit(db, a, "key_revoked", "key %" PRId64 " of user %" PRId64 " (spot %"
				 PRId64 ")%s", key_id, k.user_id, k.spot_id,
				 a->user_id == owner && a->user_id != k.user_id ? " by the owner" :
				 "");
	if (rc != 0)
		return share_db_fail(err, rc);
	return share_publish(db, a, k.site_id, true, out, err);
}

/* ---- listing ---- */

#define SHARE_JSON_SQL "SELECT " SHARE_COLUMNS ", a.phone, b.phone, s.created_at, " \
	"s.accepted_at, s.skey, q.state, q.result, q.acked_at, sp.name, l.address " \
	"FROM shares s JOIN spots sp ON sp.id = s.spot_id " \
	"LEFT JOIN locks l ON l.spot_id = s.spot_id LEFT JOIN users a ON a.id = s.sharer_id " \
	"LEFT JOIN users b ON b.id = s.recipient_id LEFT JOIN mgmt_queue q ON q.id = " \
	"(SELECT MAX(id) FROM mgmt_queue WHERE key_id = s.share_id AND kind = 'install_share') " \
	"WHERE s.state <> 'removed' AND (s.sharer_id = $1 OR s.recipient_id = $1 OR " \
	"sp.owner_id = $1) "

static json_object *share_text_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* The share of the current row of SHARE_JSON_SQL as `viewer` sees it. */
static json_object *share_row_json(struct db *db, struct db_stmt *st, int64_t viewer,
				   int64_t now)
{
	char hex[2 * PROTO_SKEY_LEN + 1];
	json_object *o = json_object_new_object(), *dl = json_object_new_object();
	struct share_row r;
	const char *why = NULL;
	const void *skey;
	size_t len = 0;
	bool live;
	int c = SHARE_NCOLUMNS;

	share_from_row(st, &r);
	live = share_state_is(&r, "active") && !r.transferred && r.not_after >= now &&
	       share_chain_live(db, &r, now, &why) == 1;
	json_object_object_add(o, "share_id", json_object_new_int64(r.id));
	json_object_object_add(o, "parent_key_id", json_object_new_int64(r.parent_key_id));
	json_object_object_add(o, "parent_share_id", r.parent_share_id != 0 ?
			       json_object_new_int64(r.parent_share_id) : NULL);
	json_object_object_add(o, "spot_id", json_object_new_int64(r.spot_id));
	json_object_object_add(o, "spot_name", share_text_or_null(db_col_text(st, c + 8)));
	/* Where the recipient's phone finds the lock, as GET /v1/spots/{id} tells it. */
	json_object_object_add(o, "lock_address", share_text_or_null(db_col_text(st, c + 9)));
	json_object_object_add(o, "site_id", json_object_new_int64(r.site_id));
	json_object_object_add(o, "sharer_id", json_object_new_int64(r.sharer_id));
	json_object_object_add(o, "sharer_phone", share_text_or_null(db_col_text(st, c)));
	json_object_object_add(o, "key_holder_id", json_object_new_int64(r.key_holder_id));
	json_object_object_add(o, "recipient_id", json_object_new_int64(r.recipient_id));
	json_object_object_add(o, "recipient_phone", share_text_or_null(db_col_text(st, c + 1)));
	json_object_object_add(o, "mode", share_text_or_null(share_mode_name(r.mode)));
	json_object_object_add(o, "not_before", json_object_new_int64(r.not_before));
	json_object_object_add(o, "not_after", json_object_new_int64(r.not_after));
	json_object_object_add(o, "max_unlocks", json_object_new_int64(r.max_unlocks));
	json_object_object_add(o, "may_reshare", json_object_new_boolean(r.may_reshare));
	json_object_object_add(o, "state", json_object_new_string(r.state));
	json_object_object_add(o, "transferred", json_object_new_boolean(r.transferred));
	json_object_object_add(o, "live", json_object_new_boolean(live));
	json_object_object_add(o, "created_at", json_object_new_int64(db_col_int(st, c + 2)));
	json_object_object_add(o, "accepted_at", db_col_null(st, c + 3) ? NULL :
			       json_object_new_int64(db_col_int(st, c + 3)));
	skey = db_col_blob(st, c + 4, &len);
	if (viewer == r.recipient_id && skey != NULL && len == PROTO_SKEY_LEN &&
	    (share_state_is(&r, "active") || share_state_is(&r, "frozen")) &&
	    hex_encode(skey, len, hex, sizeof(hex)) > 0)
		json_object_object_add(o, "skey", json_object_new_string(hex));
	json_object_object_add(dl, "state", json_object_new_string(
				       db_col_null(st, c + 5) ? "none" : db_col_text(st, c + 5)));
	json_object_object_add(dl, "result", share_text_or_null(db_col_text(st, c + 6)));
	json_object_object_add(dl, "acked_at", db_col_null(st, c + 7) ? NULL :
			       json_object_new_int64(db_col_int(st, c + 7)));
	json_object_object_add(o, "delivery", dl);
	return o;
}

json_object *share_json(struct db *db, int64_t share_id, int64_t viewer, int64_t now)
{
	struct db_stmt *st = db_prepare(db, SHARE_JSON_SQL "AND s.share_id = $2");
	json_object *o = NULL;

	if (st == NULL || db_bind_int(st, 1, viewer) != 0 || db_bind_int(st, 2, share_id) != 0)
		goto out;
	if (db_step(st) == DB_ROW)
		o = share_row_json(db, st, viewer, now);
out:
	db_finalize(st);
	return o;
}

json_object *share_list(struct db *db, int64_t user_id, int64_t now)
{
	struct db_stmt *st = db_prepare(db, SHARE_JSON_SQL "ORDER BY s.share_id DESC");
	json_object *arr = json_object_new_array();
	int r = -1;

	if (arr == NULL || st == NULL || db_bind_int(st, 1, user_id) != 0)
		goto out;
	while ((r = db_step(st)) == DB_ROW)
		json_object_array_add(arr, share_row_json(db, st, user_id, now));
out:
	db_finalize(st);
	if (r != DB_DONE) {
		json_object_put(arr);
		return NULL;
	}
	return arr;
}

int share_site_member(struct db *db, int64_t user_id, int64_t site_id)
{
	struct db_stmt *st = db_prepare(db, "SELECT 1 FROM ekeys e JOIN spots s ON "
					"s.id = e.spot_id WHERE e.user_id = $1 AND "
					"s.site_id = $2 UNION ALL SELECT 1 FROM shares WHERE "
					"recipient_id = $1 AND site_id = $2 UNION ALL SELECT 1 "
					"FROM spots WHERE owner_id = $1 AND site_id = $2 LIMIT 1");
	int r;

	if (st == NULL || db_bind_int(st, 1, user_id) != 0 || db_bind_int(st, 2, site_id) != 0) {
		db_finalize(st);
		return -1;
	}
	r = db_step(st);
	db_finalize(st);
	return r == DB_ROW ? 1 : r == DB_DONE ? 0 : -1;
}
