/*
 * revocation.c: the site's revocation list; see revocation.h. The list is rebuilt
 * whole at each change from the revocations table, as the lock takes it (complete,
 * not a delta). An entry is dropped only when no lock could ever be opened with its ID
 * again, so a list that fits PROTO_REVOKE_MAX is never one that forgot a revocation:
 * when more IDs than that still need it, the change is refused instead.
 */
#include "revocation.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hex.h"
#include "../lib/log.h"
#include "../lib/signer.h"

#define REVOCATION_U32_MAX 4294967295LL

static int revocation_err_of(int dbr)
{
	return dbr == -DB_E_BUSY ? -REVOCATION_E_BUSY : -REVOCATION_E_INTERNAL;
}

int revocation_add(struct db *db, int64_t site_id, const struct revocation_entry *e,
		   int64_t now)
{
	int r;

	if (e->id < 1 || e->id > REVOCATION_U32_MAX)
		return -REVOCATION_E_INTERNAL;
	/* added_serial 0: in no list yet; the publish that follows stamps its serial. */
	r = db_exec(db, "INSERT INTO revocations (site_id, id, cause, frozen, spot_id, not_after, "
		    "added_serial, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7) "
		    "ON CONFLICT (site_id, id, cause) DO NOTHING", "iiiiiii", site_id, e->id,
		    e->cause, (int64_t)e->frozen, e->spot_id, e->not_after, now);
	return r == 0 ? 0 : revocation_err_of(r);
}

int revocation_unfreeze(struct db *db, int64_t site_id, int64_t cause)
{
	int r = db_exec(db, "DELETE FROM revocations WHERE site_id = $1 AND cause = $2 AND "
			"frozen = 1", "ii", site_id, cause);

	return r == 0 ? 0 : revocation_err_of(r);
}

int revocation_listed(struct db *db, int64_t site_id, int64_t id)
{
	struct db_stmt *st = db_prepare(db, "SELECT 1 FROM revocations WHERE site_id = $1 AND "
					"id = $2");
	int r;

	if (st == NULL || db_bind_int(st, 1, site_id) != 0 || db_bind_int(st, 2, id) != 0) {
		db_finalize(st);
		return -REVOCATION_E_INTERNAL;
	}
	r = db_step(st);
	db_finalize(st);
	if (r < 0)
		return revocation_err_of(r);
	return r == DB_ROW ? 1 : 0;
}

/*
 * Deletes the entries that can open nothing any more. Retired: the entry's lock
 * acknowledged a list of its serial or later ('ok', or 'stale_sequence': it had a newer
 * one still, made after the entry), so the lock deleted the ID's credential or code;
 * and every install of the ID queued for that lock has a sequence no newer than one the
 * lock applied, so no signed install of it can be applied again (the lock refuses a
 * sequence at or below its own).
 */
static int revocation_prune(struct db *db, int64_t site_id, int64_t now)
{
	int r = db_exec(db, "DELETE FROM revocations WHERE site_id = $1 AND not_after < $2 - $3",
			"iii", site_id, now, (int64_t)REVOCATION_EXPIRY_SLACK_S);

	if (r == 0)
		r = db_exec(db, "DELETE FROM revocations WHERE site_id = $1 AND EXISTS ("
			    "SELECT 1 FROM mgmt_queue q WHERE revocations.added_serial > 0 "
			    "AND q.spot_id = revocations.spot_id "
			    "AND q.kind = 'revoke' AND q.seq >= revocations.added_serial "
			    "AND q.state IN ('acked', 'failed') "
			    "AND q.result IN ('ok', 'stale_sequence')) "
			    "AND COALESCE((SELECT MAX(i.seq) FROM mgmt_queue i WHERE "
			    "i.key_id = revocations.id AND i.spot_id = revocations.spot_id "
			    "AND i.kind IN ('install_cred', 'install_share')), 0) <= "
			    "COALESCE((SELECT MAX(a.seq) FROM mgmt_queue a WHERE "
			    "a.spot_id = revocations.spot_id AND a.kind <> 'revoke' "
			    "AND a.state = 'acked' AND a.result = 'ok'), 0)", "i", site_id);
	return r == 0 ? 0 : revocation_err_of(r);
}

/* The IDs still needed, ascending, into p->revoke. 0, -REVOCATION_E_FULL, or < 0. */
static int revocation_collect(struct db *db, int64_t site_id, union proto_mgmt_payload *p,
			      json_object *ids)
{
	struct db_stmt *st = db_prepare(db, "SELECT DISTINCT id FROM revocations WHERE "
					"site_id = $1 ORDER BY id");
	int r;

	memset(p, 0, sizeof(*p));
	if (st == NULL || db_bind_int(st, 1, site_id) != 0) {
		db_finalize(st);
		return -REVOCATION_E_INTERNAL;
	}
	while ((r = db_step(st)) == DB_ROW) {
		if (p->revoke.count == PROTO_REVOKE_MAX) {
			r = -REVOCATION_E_FULL;
			break;
		}
		p->revoke.key_ids[p->revoke.count++] = (uint32_t)db_col_int(st, 0);
		json_object_array_add(ids, json_object_new_int64(db_col_int(st, 0)));
	}
	db_finalize(st);
	if (r == -REVOCATION_E_FULL)
		return r;
	return r == DB_DONE ? 0 : revocation_err_of(r);
}

/*
 * Takes the site's next serial, in one statement whose row lock serialises the site's
 * publishers (on PostgreSQL too, where they may run at once). 0 with *next, or
 * -REVOCATION_E_SPENT / -REVOCATION_E_*.
 */
static int revocation_next_serial(struct db *db, int64_t site_id, int64_t now, int64_t *next)
{
	static const uint8_t none[1] = { 0 };
	struct db_stmt *st;
	int r;

	st = db_prepare(db, "INSERT INTO revocation_lists (site_id, serial, ids, frame, "
			"created_at) VALUES ($1, 1, '[]', $2, $3) ON CONFLICT (site_id) DO "
			"UPDATE SET serial = revocation_lists.serial + 1 WHERE "
			"revocation_lists.serial < $4 RETURNING serial");
	if (st == NULL || db_bind_int(st, 1, site_id) != 0 || db_bind_blob(st, 2, none, 0) != 0 ||
	    db_bind_int(st, 3, now) != 0 || db_bind_int(st, 4, REVOCATION_U32_MAX) != 0) {
		db_finalize(st);
		return -REVOCATION_E_INTERNAL;
	}
	r = db_step(st);
	if (r == DB_ROW) {
		*next = db_col_int(st, 0);
		r = db_step(st) == DB_DONE ? 0 : -REVOCATION_E_INTERNAL;
	} else {
		r = r == DB_DONE ? -REVOCATION_E_SPENT : revocation_err_of(r);
	}
	db_finalize(st);
	return r;
}

int revocation_publish(struct db *db, EVP_PKEY *site_key, int64_t site_id, int64_t now,
		       uint32_t *serial, uint16_t *count)
{
	uint8_t frame[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	json_object *ids = json_object_new_array();
	int64_t next = 0;
	int len, r;

	if (ids == NULL || site_key == NULL || site_id < 1 || site_id > REVOCATION_U32_MAX) {
		r = -REVOCATION_E_INTERNAL;
		goto out;
	}
	if ((r = revocation_next_serial(db, site_id, now, &next)) != 0)
		goto out;
	r = db_exec(db, "UPDATE revocations SET added_serial = $2 WHERE site_id = $1 AND "
		    "added_serial = 0", "ii", site_id, next);
	if (r != 0) {
		r = revocation_err_of(r);
		goto out;
	}
	if ((r = revocation_prune(db, site_id, now)) != 0 ||
	    (r = revocation_collect(db, site_id, &p, ids)) != 0)
		goto out;
	len = signer_mgmt_frame(site_key, (uint32_t)site_id, (uint8_t)(1 + next % 255),
				PROTO_MGMT_REVOKE, PROTO_TARGET_ALL, (uint32_t)next, &p, frame,
				sizeof(frame));
	if (len < 0) {
		r = -REVOCATION_E_INTERNAL;
		goto out;
	}
	r = db_exec(db, "UPDATE revocation_lists SET ids = $2, frame = $3, created_at = $4 "
		    "WHERE site_id = $1", "isbi", site_id,
		    json_object_to_json_string_ext(ids, JSON_C_TO_STRING_PLAIN),
		    (const void *)frame, (size_t)len, now);
	/* A lock that still waits for an older list needs only the newest. */
	if (r == 0)
		r = db_exec(db, "UPDATE mgmt_queue SET state = 'failed', result = 'superseded' "
			    "WHERE kind = 'revoke' AND state = 'pending' AND spot_id IN ("
			    "SELECT l.spot_id FROM locks l JOIN spots s ON s.id = l.spot_id "
			    "WHERE s.site_id = $1)", "i", site_id);
	if (r == 0)
		r = db_exec(db, "INSERT INTO mgmt_queue (spot_id, seq, kind, frame, created_at, "
			    "state) SELECT l.spot_id, $2, 'revoke', $3, $4, 'pending' FROM locks l "
			    "JOIN spots s ON s.id = l.spot_id WHERE s.site_id = $1 ORDER BY "
			    "l.spot_id", "iibi", site_id, next, (const void *)frame, (size_t)len,
			    now);
	if (r != 0) {
		r = revocation_err_of(r);
		goto out;
	}
	if (serial != NULL)
		*serial = (uint32_t)next;
	if (count != NULL)
		*count = p.revoke.count;
out:
	if (r == -REVOCATION_E_FULL)
		log_warn("revocation: site %" PRId64 " has more than %d IDs to revoke that its "
			 "locks have not confirmed; the change is refused", site_id,
			 PROTO_REVOKE_MAX);
	json_object_put(ids);
	return r;
}

json_object *revocation_json(struct db *db, int64_t site_id)
{
	char hex[2 * PROTO_FRAME_MAX + 1];
	json_object *o = NULL, *ids;
	struct db_stmt *st;
	const void *frame;
	size_t len = 0;
	int r;

	st = db_prepare(db, "SELECT serial, ids, frame, created_at FROM revocation_lists "
			"WHERE site_id = $1");
	if (st == NULL || db_bind_int(st, 1, site_id) != 0)
		goto out;
	r = db_step(st);
	if (r < 0)
		goto out;
	o = json_object_new_object();
	json_object_object_add(o, "site_id", json_object_new_int64(site_id));
	if (r == DB_DONE) {
		json_object_object_add(o, "serial", json_object_new_int64(0));
		json_object_object_add(o, "frame", NULL);
		json_object_object_add(o, "ids", json_object_new_array());
		json_object_object_add(o, "created_at", NULL);
		goto out;
	}
	frame = db_col_blob(st, 2, &len);
	ids = json_tokener_parse(db_col_text(st, 1));
	if (frame == NULL || len > PROTO_FRAME_MAX ||
	    hex_encode(frame, len, hex, sizeof(hex)) < 0 || ids == NULL ||
	    !json_object_is_type(ids, json_type_array)) {
		json_object_put(ids);
		json_object_put(o);
		o = NULL;
		goto out;
	}
	json_object_object_add(o, "serial", json_object_new_int64(db_col_int(st, 0)));
	json_object_object_add(o, "frame", json_object_new_string(hex));
	json_object_object_add(o, "ids", ids);
	json_object_object_add(o, "created_at", json_object_new_int64(db_col_int(st, 3)));
out:
	db_finalize(st);
	return o;
}
