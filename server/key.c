/*
 * key.c: reservation keys, e-key issuance and the INSTALL_CRED frame queued with it, and
 * the list of a user's keys. Byte layouts come from proto.h and signatures from
 * lib/signer.c; this file decides who gets which key and stores it. Transactions are the
 * caller's, so that an issuance and its audit line commit together. An issuance is split
 * so that its costly crypto (unsealing, ECIES) runs before the write transaction, and in
 * it the decisions that can change and the counters (decide), two signatures that need no
 * database (sign, on any thread), and the rows that carry them (store).
 */
#include "key.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../lib/ecies.h"
#include "../lib/hex.h"
#include "../lib/p256.h"
#include "../lib/signer.h"
#include "keywrap.h"
#include "site.h"

#define KEY_U32_MAX 4294967295LL

/* The columns of a spot that issuance needs. */
struct key_spot {
	int64_t id, site_id, owner_id; /* owner 0 for none */
	char policy[16];
	char region[72];
	int64_t valid_s, max_unlocks;
	bool renters_may_share;        /* renters' keys carry PROTO_CRED_MAY_SHARE */
};

__attribute__((format(printf, 5, 6)))
static int key_fail(struct key_error *e, int r, int status, const char *code, const char *fmt,
		    ...)
{
	va_list ap;

	e->status = status;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	return r;
}

static int key_db_fail(struct key_error *e, int dbr)
{
	if (dbr == -DB_E_BUSY)
		return key_fail(e, -KEY_E_BUSY, 503, "busy", "The database is busy; try again.");
	return key_fail(e, -KEY_E_INTERNAL, 500, "internal", "The key could not be issued; "
			"try again.");
}

/*
 * One row of `sql`, with one int parameter unless `v` is NULL: DB_ROW with *st left
 * open, DB_DONE, or -DB_E_*.
 */
static int key_row_opt(struct db *db, const char *sql, const int64_t *v, struct db_stmt **st)
{
	int r = 0;

	*st = db_prepare(db, sql);
	if (*st == NULL)
		return -DB_E_IO;
	if (v != NULL)
		r = db_bind_int(*st, 1, *v);
	if (r == 0)
		r = db_step(*st);
	if (r != DB_ROW) {
		db_finalize(*st);
		*st = NULL;
	}
	return r;
}

static int key_row(struct db *db, const char *sql, int64_t v, struct db_stmt **st)
{
	return key_row_opt(db, sql, &v, st);
}

/* ---- reservation keys ---- */

/* The stored public key: 0, -DB_E_NOTFOUND when none, or -DB_E_*. */
static int key_reservation_pub(struct db *db, int64_t user_id, uint8_t pub[64])
{
	struct db_stmt *st;
	const void *p;
	size_t len = 0;
	int r = key_row(db, "SELECT public_key FROM reservation_keys WHERE user_id = $1", user_id,
			&st);

	if (r != DB_ROW)
		return r == DB_DONE ? -DB_E_NOTFOUND : r;
	p = db_col_blob(st, 0, &len);
	r = p != NULL && len == 64 ? 0 : -DB_E_IO;
	if (r == 0)
		memcpy(pub, p, 64);
	db_finalize(st);
	return r;
}

int key_reservation(struct db *db, const uint8_t master[32], int64_t user_id, int64_t now,
		    uint8_t pub[64], bool *created)
{
	uint8_t sealed[KEYWRAP_KEY_MAX];
	char label[KEYWRAP_LABEL_MAX];
	EVP_PKEY *key = NULL;
	int n, r;

	*created = false;
	r = key_reservation_pub(db, user_id, pub);
	if (r != -DB_E_NOTFOUND)
		goto out;
	r = -DB_E_IO;
	key = p256_generate();
	if (key == NULL || p256_public_raw(key, pub) != 0 ||
	    keywrap_label(label, "reservation", user_id) != 0 ||
	    (n = keywrap_seal_key(master, label, key, sealed, sizeof(sealed))) < 0)
		goto out;
	r = db_exec(db, "INSERT INTO reservation_keys (user_id, public_key, private_key, "
		    "created_at) VALUES ($1, $2, $3, $4)", "ibbi", user_id, (const void *)pub,
		    (size_t)64, (const void *)sealed, (size_t)n, now);
	if (r == -DB_E_CONSTRAINT) {
		/* Another request made it first (PostgreSQL): theirs stands. */
		r = key_reservation_pub(db, user_id, pub);
		goto out;
	}
	*created = r == 0;
out:
	EVP_PKEY_free(key);
	if (r == 0)
		return 0;
	return r == -DB_E_BUSY ? -KEY_E_BUSY : -KEY_E_INTERNAL;
}

/*
 * The user's reservation key pair, unsealed, from `keys` if kept there (NULL for none),
 * else read, unsealed and kept. 0, -DB_E_NOTFOUND, or -DB_E_IO.
 */
static int key_reservation_open(struct db *db, const uint8_t master[32], struct keycache *keys,
				int64_t user_id, EVP_PKEY **key, uint8_t pub[64])
{
	char label[KEYWRAP_LABEL_MAX];
	struct db_stmt *st;
	const void *sealed, *p;
	size_t len = 0, plen = 0;
	int r;

	*key = NULL;
	if (keywrap_label(label, "reservation", user_id) != 0)
		return -DB_E_IO;
	/* The public half is the one stored beside the sealed key: they were made as a pair. */
	*key = keycache_get(keys, label, pub);
	if (*key != NULL)
		return 0;
	r = key_row(db, "SELECT private_key, public_key FROM reservation_keys WHERE user_id = $1",
		    user_id, &st);
	if (r != DB_ROW)
		return r == DB_DONE ? -DB_E_NOTFOUND : r;
	sealed = db_col_blob(st, 0, &len);
	p = db_col_blob(st, 1, &plen);
	if (sealed != NULL && p != NULL && plen == 64)
		*key = keywrap_open_key(master, label, sealed, len);
	if (*key != NULL) {
		memcpy(pub, p, 64);
		keycache_put(keys, label, *key);
	}
	db_finalize(st);
	return *key != NULL ? 0 : -DB_E_IO;
}

int key_reservation_private(struct db *db, const uint8_t master[32], struct keycache *keys,
			    int64_t user_id, EVP_PKEY **key, uint8_t pub[64])
{
	int r = key_reservation_open(db, master, keys, user_id, key, pub);

	if (r == 0)
		return 0;
	return r == -DB_E_NOTFOUND ? -KEY_E_NOTFOUND : r == -DB_E_BUSY ? -KEY_E_BUSY :
		-KEY_E_INTERNAL;
}

/* ---- policy ---- */

/*
 * 1 when `sql` finds a row, 0 when not, -DB_E_* on error. $1 is `a`; $2, if any, is
 * `*b` or `text` (at most one of them not NULL).
 */
static int key_found(struct db *db, const char *sql, int64_t a, const int64_t *b,
		     const char *text)
{
	struct db_stmt *st = db_prepare(db, sql);
	int r;

	if (st == NULL)
		return -DB_E_IO;
	r = db_bind_int(st, 1, a);
	if (r == 0 && b != NULL)
		r = db_bind_int(st, 2, *b);
	else if (r == 0 && text != NULL)
		r = db_bind_text(st, 2, text);
	if (r == 0)
		r = db_step(st);
	db_finalize(st);
	if (r < 0)
		return r;
	return r == DB_ROW ? 1 : 0;
}

typedef int (*key_admit_fn)(struct db *db, const struct key_spot *s, int64_t user_id);

static int key_admit_anyone(struct db *db, const struct key_spot *s, int64_t user_id)
{
	(void)db;
	(void)s;
	(void)user_id;
	return 1;
}

/* Admitted when an administrator recorded the spot's region as the user's (POST
 * /v1/users/region); a user of no recorded region is not in it. */
static int key_admit_region(struct db *db, const struct key_spot *s, int64_t user_id)
{
	return key_found(db, "SELECT 1 FROM user_regions WHERE user_id = $1 AND region = $2",
			 user_id, NULL, s->region);
}

static int key_admit_authorised(struct db *db, const struct key_spot *s, int64_t user_id)
{
	return key_found(db, "SELECT 1 FROM authorised_users WHERE spot_id = $1 AND user_id = $2",
			 s->id, &user_id, NULL);
}

static const struct {
	const char *policy;
	key_admit_fn admit;
	const char *refusal; /* ends the sentence "Spot N ..." a refused user reads */
} key_policies[] = {
	{ "anyone", key_admit_anyone, "" },
	{ "region", key_admit_region, "is only for users of its region." },
	{ "authorised", key_admit_authorised, "is only for users its owner authorised." },
};

static int key_admit(struct db *db, const struct key_spot *s, int64_t user_id,
		     struct key_error *e)
{
	size_t i;
	int r;

	if (s->owner_id != 0 && s->owner_id == user_id)
		return 0;
	for (i = 0; i < sizeof(key_policies) / sizeof(key_policies[0]); i++) {
		if (strcmp(s->policy, key_policies[i].policy) != 0)
			continue;
		r = key_policies[i].admit(db, s, user_id);
		if (r < 0)
			return key_db_fail(e, r);
		if (r == 0)
			return key_fail(e, -KEY_E_FORBIDDEN, 403, "not_allowed", "Spot %lld %s",
					(long long)s->id, key_policies[i].refusal);
		return 0;
	}
	/* The schema's CHECK allows nothing else; a new policy must get a row above. */
	return key_fail(e, -KEY_E_INTERNAL, 500, "internal", "Spot %lld has an unknown policy.",
			(long long)s->id);
}

/* ---- issuance ---- */

static int key_load_spot(struct db *db, int64_t spot_id, struct key_spot *s)
{
	struct db_stmt *st;
	int r = key_row(db, "SELECT site_id, owner_id, policy, region, key_valid_s, "
			"key_max_unlocks, renters_may_share FROM spots WHERE id = $1", spot_id,
			&st);

	if (r != DB_ROW)
		return r == DB_DONE ? -DB_E_NOTFOUND : r;
	memset(s, 0, sizeof(*s));
	s->id = spot_id;
	s->site_id = db_col_int(st, 0);
	s->owner_id = db_col_null(st, 1) ? 0 : db_col_int(st, 1);
	snprintf(s->policy, sizeof(s->policy), "%s", db_col_text(st, 2));
	if (!db_col_null(st, 3))
		snprintf(s->region, sizeof(s->region), "%s", db_col_text(st, 3));
	s->valid_s = db_col_int(st, 4);
	s->max_unlocks = db_col_int(st, 5);
	s->renters_may_share = db_col_int(st, 6) != 0;
	db_finalize(st);
	return 0;
}

int key_policy_admits(struct db *db, int64_t spot_id, int64_t user_id)
{
	struct key_spot s;
	struct key_error e;
	int r = key_load_spot(db, spot_id, &s);

	if (r != 0)
		return r == -DB_E_NOTFOUND ? -KEY_E_NOTFOUND : r == -DB_E_BUSY ? -KEY_E_BUSY :
			-KEY_E_INTERNAL;
	r = key_admit(db, &s, user_id, &e);
	if (r == -KEY_E_FORBIDDEN)
		return 0;
	return r == 0 ? 1 : r;
}

/* An UPDATE ... RETURNING of one integer, `param` as $1 unless NULL. 0 with *v, or -DB_E_*. */
static int key_next(struct db *db, const char *sql, const int64_t *param, int64_t *v)
{
	struct db_stmt *st;
	int r = key_row_opt(db, sql, param, &st);

	if (r != DB_ROW)
		return r == DB_DONE ? -DB_E_NOTFOUND : r;
	*v = db_col_int(st, 0);
	r = db_step(st) == DB_DONE ? 0 : -DB_E_IO;
	db_finalize(st);
	return r;
}

/* The limits of a new key: none for the owner, the spot's defaults for anyone else. */
static void key_limits(const struct key_spot *s, bool owner, int64_t now, struct proto_ekey *k)
{
	int64_t end;

	k->not_before = PROTO_TIME_NONE_BEFORE;
	k->not_after = PROTO_TIME_NONE_AFTER;
	k->max_unlocks = PROTO_UNLIMITED_USES;
	k->flags = owner ? PROTO_CRED_OWNER | PROTO_CRED_MAY_SHARE : 0;
	if (owner)
		return;
	/* The owner's setting when the key is issued: the flag is signed into it. */
	if (s->renters_may_share)
		k->flags |= PROTO_CRED_MAY_SHARE;
	if (s->valid_s > 0) {
		end = now + s->valid_s;
		k->not_before = now > KEY_CLOCK_SLACK_S ? (uint32_t)(now - KEY_CLOCK_SLACK_S) : 1;
		k->not_after = end < (int64_t)PROTO_TIME_NONE_AFTER ? (uint32_t)end :
			PROTO_TIME_NONE_AFTER - 1;
	}
	k->max_unlocks = (uint16_t)s->max_unlocks;
}

int key_encode(const struct proto_ekey *k, uint8_t out[PROTO_EKEY_LEN])
{
	uint8_t tbs[4 + PROTO_EKEY_TBS_LEN];
	struct wire_writer w;

	/* The signed string is "PKE1" then the e-key's first 87 bytes in wire order. */
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_ekey(&w, k);
	if (w.error || w.off != sizeof(tbs))
		return -1;
	memcpy(out, tbs + 4, PROTO_EKEY_TBS_LEN);
	memcpy(out + PROTO_EKEY_TBS_LEN, k->sig, PROTO_SIG_LEN);
	return 0;
}

/* Decrypts the spot ID. 0 with *spot_id, or -1. */
static int key_decrypt_spot(EVP_PKEY *res, const uint8_t *ct, size_t len, int64_t *spot_id)
{
	uint8_t plain[4];

	if (ecies_decrypt(res, ct, len, plain, sizeof(plain)) != (int)sizeof(plain))
		return -1;
	*spot_id = (int64_t)wire_load_u32(plain);
	return 0;
}

/* Signs k's INSTALL_CRED frame with `site` (the key of k->site_id) into k->cred. 0 or -1. */
static int key_sign_cred(EVP_PKEY *site, const uint8_t res_pub[64], struct key_issued *k)
{
	union proto_mgmt_payload p;
	int len;

	memset(&p, 0, sizeof(p));
	p.cred.key_id = k->ekey.key_id;
	p.cred.user_id = k->ekey.user_id;
	memcpy(p.cred.res_pub, res_pub, PROTO_PUBKEY_LEN);
	p.cred.not_before = k->ekey.not_before;
	p.cred.not_after = k->ekey.not_after;
	p.cred.max_unlocks = k->ekey.max_unlocks;
	p.cred.flags = k->ekey.flags;
	/* The tag is the requester's and not signed: the gateway may set its own. */
	len = signer_mgmt_frame(site, (uint32_t)k->site_id, (uint8_t)(1 + k->mgmt_seq % 255),
				PROTO_MGMT_INSTALL_CRED, k->ekey.spot_id, k->mgmt_seq, &p, k->cred,
				sizeof(k->cred));
	k->cred_len = len > 0 ? (size_t)len : 0;
	return len > 0 ? 0 : -1;
}

/* Queues k's signed INSTALL_CRED frame for its lock: 0 with k->mgmt_id, or -DB_E_*. */
static int key_queue_cred(struct db *db, struct key_issued *k, int64_t now)
{
	struct db_stmt *st;
	int r = -DB_E_IO;

	st = db_prepare(db, "INSERT INTO mgmt_queue (spot_id, seq, kind, key_id, frame, "
			"created_at, state) VALUES ($1, $2, 'install_cred', $3, $4, $5, 'pending') "
			"RETURNING id");
	if (st == NULL)
		return r;
	if ((r = db_bind_int(st, 1, k->ekey.spot_id)) != 0 ||
	    (r = db_bind_int(st, 2, k->mgmt_seq)) != 0 ||
	    (r = db_bind_int(st, 3, k->ekey.key_id)) != 0 ||
	    (r = db_bind_blob(st, 4, k->cred, k->cred_len)) != 0 ||
	    (r = db_bind_int(st, 5, now)) != 0)
		goto out;
	r = db_step(st);
	if (r == DB_ROW) {
		k->mgmt_id = db_col_int(st, 0);
		r = db_step(st) == DB_DONE ? 0 : -DB_E_IO;
	} else if (r == DB_DONE) {
		r = -DB_E_IO;
	}
out:
	db_finalize(st);
	return r;
}

/* The spot of a request, and whether its policy admits the user: 0 or -KEY_E_* with *err. */
static int key_spot_admits(struct db *db, int64_t user_id, int64_t spot_id,
			   struct key_spot *spot, struct key_error *err)
{
	int r = key_load_spot(db, spot_id, spot);

	if (r == -DB_E_NOTFOUND)
		return key_fail(err, -KEY_E_NOTFOUND, 404, "not_found", "There is no spot %lld.",
				(long long)spot_id);
	if (r != 0)
		return key_db_fail(err, r);
	return key_admit(db, spot, user_id, err);
}

int key_request_open(struct db *db, const uint8_t master[32], struct keycache *keys,
		     int64_t user_id, const uint8_t *spot_ct, size_t spot_ct_len,
		     const uint8_t device_pub[64], struct key_request *req,
		     struct key_error *err)
{
	struct key_spot spot;
	EVP_PKEY *dev;
	int r;

	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	if (user_id < 1 || user_id > KEY_U32_MAX) {
		r = key_fail(err, -KEY_E_INTERNAL, 500, "internal", "User %lld cannot hold keys.",
			     (long long)user_id);
		goto out;
	}
	req->user_id = user_id;
	memcpy(req->device_pub, device_pub, sizeof(req->device_pub));
	r = key_reservation_open(db, master, keys, user_id, &req->res, req->res_pub);
	/*
	 * Only a check: the e-key carries the raw key, and the lock uses it. Made on the
	 * reservation key's curve when there is one (cheaper), and before any other answer.
	 */
	dev = r == 0 ? p256_public_like(req->res, device_pub) : p256_from_public_raw(device_pub);
	if (dev == NULL) {
		r = key_fail(err, -KEY_E_INVALID, 400, "bad_field",
			     "device_pub is not a P-256 public key (128 hex digits, X || Y).");
		goto out;
	}
	EVP_PKEY_free(dev);
	if (r == -DB_E_NOTFOUND) {
		r = key_fail(err, -KEY_E_CONFLICT, 409, "no_reservation_key",
			     "Ask for your reservation key (POST /v1/reservation-key) first.");
		goto out;
	}
	if (r != 0) {
		r = key_db_fail(err, r);
		goto out;
	}
	if (key_decrypt_spot(req->res, spot_ct, spot_ct_len, &req->spot_id) != 0) {
		r = key_fail(err, -KEY_E_INVALID, 400, "bad_ciphertext",
			     "spot does not decrypt with your reservation key: encrypt the 4-byte "
			     "spot ID to the public key POST /v1/reservation-key returned.");
		goto out;
	}
	/* Refused here, a request never waits for the write lock; issuing decides again. */
	r = key_spot_admits(db, user_id, req->spot_id, &spot, err);
	if (r == 0)
		req->site_id = spot.site_id;
out:
	if (r != 0)
		key_request_free(req);
	return r;
}

void key_request_free(struct key_request *req)
{
	if (req == NULL)
		return;
	EVP_PKEY_free(req->res);
	EVP_PKEY_free(req->site);
	OPENSSL_cleanse(req, sizeof(*req));
}

/* Whether another user than `user_id` and the owner holds a live key for the spot. */
static int key_taken(struct db *db, const struct key_spot *spot, int64_t user_id, int64_t now,
		     bool *taken)
{
	struct db_stmt *st;
	int r = -DB_E_IO;

	st = db_prepare(db, "SELECT COUNT(*) FROM ekeys WHERE spot_id = $1 AND revoked = 0 "
			"AND not_after >= $2 AND user_id <> $3 AND user_id <> $4");
	if (st != NULL && db_bind_int(st, 1, spot->id) == 0 && db_bind_int(st, 2, now) == 0 &&
	    db_bind_int(st, 3, user_id) == 0 && db_bind_int(st, 4, spot->owner_id) == 0 &&
	    (r = db_step(st)) == DB_ROW) {
		*taken = db_col_int(st, 0) > 0;
		r = 0;
	}
	if (st != NULL)
		db_finalize(st);
	return r;
}

int key_request_decide(struct db *db, const struct key_request *req, int64_t now,
		       struct key_issued *out, struct key_error *err)
{
	static const uint8_t unsigned_ekey[PROTO_EKEY_LEN];
	struct key_spot spot;
	int64_t spot_id = req->spot_id, user_id = req->user_id, seq = 0, key_id = 0;
	bool taken = false;
	int r;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if (req->res == NULL)
		return key_fail(err, -KEY_E_INTERNAL, 500, "internal", "The request was not opened.");
	if (user_id < 1 || user_id > KEY_U32_MAX || now < 0 || now > KEY_U32_MAX)
		return key_fail(err, -KEY_E_INTERNAL, 500, "internal",
				"User %lld cannot hold keys.", (long long)user_id);
	/* The spot and its policy again: they may have changed since the request was opened. */
	if ((r = key_spot_admits(db, user_id, spot_id, &spot, err)) != 0)
		return r;
	out->owner = spot.owner_id == user_id;

	/*
	 * Take the lock's next sequence first: the row lock it holds serialises issuances
	 * for this spot on PostgreSQL too, so the "taken" check below sees every key
	 * committed before it (SQLite's write lock does the same from db_begin() on).
	 */
	r = key_next(db, "UPDATE locks SET mgmt_seq = mgmt_seq + 1 WHERE spot_id = $1 "
		     "RETURNING mgmt_seq", &spot_id, &seq);
	if (r == 0 && !out->owner)
		r = key_taken(db, &spot, user_id, now, &taken);
	if (r == 0 && taken)
		return key_fail(err, -KEY_E_CONFLICT, 409, "spot_taken",
				"Another driver holds a key for spot %lld.", (long long)spot_id);
	if (r == 0)
		r = key_next(db, "UPDATE id_counters SET value = value + 1 WHERE name = 'key_id' "
			     "RETURNING value", NULL, &key_id);
	if (r == 0 && (seq < 1 || seq > KEY_U32_MAX || key_id < 1 || key_id > KEY_U32_MAX))
		r = -DB_E_IO; /* 2^32 keys or messages: the number space is spent */
	if (r != 0)
		return key_db_fail(err, r);

	out->site_id = spot.site_id;
	out->mgmt_seq = (uint32_t)seq;
	out->ekey.key_id = (uint32_t)key_id;
	out->ekey.user_id = (uint32_t)user_id;
	out->ekey.spot_id = (uint32_t)spot_id;
	key_limits(&spot, out->owner, now, &out->ekey);
	memcpy(out->ekey.device_pub, req->device_pub, PROTO_PUBKEY_LEN);
	/* The row now, so that the batch's next "taken" check sees it; its bytes at store. */
	r = db_exec(db, "INSERT INTO ekeys (key_id, user_id, spot_id, device_pub, not_before, "
		    "not_after, max_unlocks, flags, ekey, issued_at) VALUES ($1, $2, $3, $4, $5, "
		    "$6, $7, $8, $9, $10)", "iiibiiiibi", key_id, user_id, spot_id,
		    (const void *)req->device_pub, (size_t)64, (int64_t)out->ekey.not_before,
		    (int64_t)out->ekey.not_after, (int64_t)out->ekey.max_unlocks,
		    (int64_t)out->ekey.flags, (const void *)unsigned_ekey, sizeof(unsigned_ekey),
		    now);
	return r != 0 ? key_db_fail(err, r) : 0;
}

int key_request_sign(const struct key_request *req, struct key_issued *out)
{
	if (signer_ekey(req->res, &out->ekey) != 0 || key_encode(&out->ekey, out->wire) != 0)
		return -1;
	/* The credential too when the site key is at hand; else store signs it. */
	if (req->site != NULL && out->site_id == req->site_id)
		return key_sign_cred(req->site, req->res_pub, out);
	return 0;
}

int key_request_store(struct db *db, const uint8_t master[32], const struct key_request *req,
		      int64_t now, struct key_issued *out)
{
	EVP_PKEY *site = NULL;
	int r;

	if (out->cred_len == 0) {
		if (site_key(db, master, out->site_id, &site) != 0)
			return -DB_E_IO;
		r = key_sign_cred(site, req->res_pub, out);
		EVP_PKEY_free(site);
		if (r != 0)
			return -DB_E_IO;
	}
	r = db_exec(db, "UPDATE ekeys SET ekey = $1 WHERE key_id = $2", "bi",
		    (const void *)out->wire, (size_t)PROTO_EKEY_LEN, (int64_t)out->ekey.key_id);
	if (r == 0 && db_changes(db) != 1)
		r = -DB_E_IO;
	return r != 0 ? r : key_queue_cred(db, out, now);
}

int key_request_issue(struct db *db, const uint8_t master[32], const struct key_request *req,
		      int64_t now, struct key_issued *out, struct key_error *err)
{
	int r = key_request_decide(db, req, now, out, err);

	if (r == 0 && key_request_sign(req, out) != 0)
		r = key_fail(err, -KEY_E_INTERNAL, 500, "internal",
			     "The e-key could not be signed.");
	if (r == 0 && (r = key_request_store(db, master, req, now, out)) != 0)
		r = key_db_fail(err, r);
	if (r != 0)
		OPENSSL_cleanse(out, sizeof(*out));
	return r;
}

int key_issue(struct db *db, const uint8_t master[32], int64_t user_id, int64_t now,
	      const uint8_t *spot_ct, size_t spot_ct_len, const uint8_t device_pub[64],
	      struct key_issued *out, struct key_error *err)
{
	struct key_request req;
	int r;

	memset(out, 0, sizeof(*out));
	/* No cache: the caller's transaction may be the one that made the reservation key. */
	r = key_request_open(db, master, NULL, user_id, spot_ct, spot_ct_len, device_pub, &req,
			     err);
	if (r != 0)
		return r;
	r = key_request_issue(db, master, &req, now, out, err);
	key_request_free(&req);
	return r;
}

/* ---- listing ---- */

static json_object *key_hex(const void *p, size_t len)
{
	char buf[2 * PROTO_EKEY_LEN + 1];

	if (p == NULL || len > PROTO_EKEY_LEN || hex_encode(p, len, buf, sizeof(buf)) < 0)
		return NULL;
	return json_object_new_string(buf);
}

json_object *key_list(struct db *db, int64_t user_id, int64_t now)
{
	json_object *arr = json_object_new_array();
	struct db_stmt *st;
	int r;

	if (arr == NULL)
		return NULL;
	/* The newest INSTALL_CRED of each key tells its delivery. */
	st = db_prepare(db, "SELECT e.key_id, e.spot_id, s.site_id, s.name, e.not_before, "
			"e.not_after, e.max_unlocks, e.flags, e.issued_at, e.revoked, e.ekey, "
			"q.state, q.result, q.acked_at, e.transferred FROM ekeys e "
			"JOIN spots s ON s.id = e.spot_id LEFT JOIN mgmt_queue q ON q.id = "
			"(SELECT MAX(id) FROM mgmt_queue WHERE key_id = e.key_id "
			"AND kind = 'install_cred') "
			"WHERE e.user_id = $1 ORDER BY e.key_id DESC");
	if (st == NULL || db_bind_int(st, 1, user_id) != 0) {
		r = -1;
		goto out;
	}
	while ((r = db_step(st)) == DB_ROW) {
		json_object *o = json_object_new_object(), *dl = json_object_new_object();
		const void *ekey;
		size_t len = 0;
		bool revoked = db_col_int(st, 9) != 0;
		bool transferred = db_col_int(st, 14) != 0;
		bool live = !revoked && !transferred && db_col_int(st, 5) >= now;

		ekey = db_col_blob(st, 10, &len);
		json_object_object_add(o, "key_id", json_object_new_int64(db_col_int(st, 0)));
		json_object_object_add(o, "spot_id", json_object_new_int64(db_col_int(st, 1)));
		json_object_object_add(o, "site_id", json_object_new_int64(db_col_int(st, 2)));
		json_object_object_add(o, "spot_name", json_object_new_string(db_col_text(st, 3)));
		json_object_object_add(o, "not_before", json_object_new_int64(db_col_int(st, 4)));
		json_object_object_add(o, "not_after", json_object_new_int64(db_col_int(st, 5)));
		json_object_object_add(o, "max_unlocks", json_object_new_int64(db_col_int(st, 6)));
		json_object_object_add(o, "owner", json_object_new_boolean(
					       (db_col_int(st, 7) & PROTO_CRED_OWNER) != 0));
		json_object_object_add(o, "flags", json_object_new_int64(db_col_int(st, 7)));
		json_object_object_add(o, "issued_at", json_object_new_int64(db_col_int(st, 8)));
		json_object_object_add(o, "revoked", json_object_new_boolean(revoked));
		json_object_object_add(o, "transferred", json_object_new_boolean(transferred));
		json_object_object_add(o, "may_share", json_object_new_boolean(
					       (db_col_int(st, 7) & (PROTO_CRED_OWNER |
								    PROTO_CRED_MAY_SHARE)) != 0));
		json_object_object_add(o, "live", json_object_new_boolean(live));
		json_object_object_add(o, "ekey", key_hex(ekey, len));
		json_object_object_add(dl, "state", json_object_new_string(
					       db_col_null(st, 11) ? "none" : db_col_text(st, 11)));
		json_object_object_add(dl, "result", db_col_null(st, 12) ? NULL :
				       json_object_new_string(db_col_text(st, 12)));
		json_object_object_add(dl, "acked_at", db_col_null(st, 13) ? NULL :
				       json_object_new_int64(db_col_int(st, 13)));
		json_object_object_add(o, "delivery", dl);
		json_object_array_add(arr, o);
	}
	r = r == DB_DONE ? 0 : -1;
out:
	if (st != NULL)
		db_finalize(st);
	if (r != 0) {
		json_object_put(arr);
		return NULL;
	}
	return arr;
}
