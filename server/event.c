/*
 * event.c: storing lock events (see event.h). The batch is checked whole before anything
 * is written, and written in one transaction: an event is either stored with its state
 * change, audit row and notification, or not at all. Duplicates are found by the
 * database's UNIQUE (spot_id, seq), never by reading first, so two gateways reporting
 * the same event at once still store it once. The gateways' reports of which locks they
 * reach are stored the same way, whole or not at all.
 */
#include "event.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lockfw/proto/proto.h"
#include "audit.h"
#include "notify.h"

#define EVENT_U32_MAX 4294967295LL
#define EVENT_BUSY_TRIES 5
#define EVENT_STATE_SAME -1 /* a live-state column an event leaves alone */

/* The integer fields of an event: name, range, where it goes; optional ones default to 0. */
static const struct {
	const char *name;
	int64_t lo, hi;
	size_t off;
	bool required;
} event_fields[] = {
	{ "spot", 1, EVENT_U32_MAX, offsetof(struct event_in, spot), true },
	{ "seq", 1, EVENT_U32_MAX, offsetof(struct event_in, seq), true },
	{ "time", 0, EVENT_U32_MAX, offsetof(struct event_in, time), true },
	{ "arg8", 0, 255, offsetof(struct event_in, arg8), false },
	{ "arg16", 0, 65535, offsetof(struct event_in, arg16), false },
	{ "user_id", 0, EVENT_U32_MAX, offsetof(struct event_in, user_id), false },
	{ "key_id", 0, EVENT_U32_MAX, offsetof(struct event_in, key_id), false },
};
#define EVENT_FIELDS (sizeof(event_fields) / sizeof(event_fields[0]))

/*
 * What each kind says about the spot's live state: locked and occupied become 0 or 1
 * (EVENT_STATE_SAME: unchanged); battery_arg16: arg16 is the battery percent. A boot
 * reports the barrier in arg8: up (0) is locked, down (1) is open, anything else says
 * nothing.
 */
static const struct {
	int locked;
	int occupied;
	bool battery_arg16;
} event_effects[PROTO_EV_KIND_MAX + 1] = {
	[PROTO_EV_BOOT] = { EVENT_STATE_SAME, EVENT_STATE_SAME, true },
	[PROTO_EV_UNLOCKED] = { 0, EVENT_STATE_SAME, false },
	[PROTO_EV_LOCKED] = { 1, EVENT_STATE_SAME, false },
	[PROTO_EV_CAR_ARRIVED] = { EVENT_STATE_SAME, 1, false },
	[PROTO_EV_CAR_LEFT] = { EVENT_STATE_SAME, 0, false },
	[PROTO_EV_FORCED] = { 0, EVENT_STATE_SAME, false },
	[PROTO_EV_JAMMED] = { EVENT_STATE_SAME, EVENT_STATE_SAME, false },
	[PROTO_EV_LOW_BATTERY] = { EVENT_STATE_SAME, EVENT_STATE_SAME, true },
	[PROTO_EV_LOCKOUT] = { EVENT_STATE_SAME, EVENT_STATE_SAME, false },
	[PROTO_EV_MGMT] = { EVENT_STATE_SAME, EVENT_STATE_SAME, false },
	[PROTO_EV_TIME_SET] = { EVENT_STATE_SAME, EVENT_STATE_SAME, false },
	[PROTO_EV_OVERRIDE] = { EVENT_STATE_SAME, EVENT_STATE_SAME, false },
};

/* ---- parsing ---- */

/* The kind code of a name, or 0. The names are the codec's (proto_event_name). */
static uint8_t kind_of(const char *name)
{
	unsigned k;

	for (k = 1; k <= PROTO_EV_KIND_MAX; k++)
		if (strcmp(proto_event_name((uint8_t)k), name) == 0)
			return (uint8_t)k;
	return 0;
}

static int parse_one(json_object *o, size_t i, struct event_in *e, struct http_reply *rep)
{
	json_object *v;
	int64_t x;
	size_t f;

	if (!json_object_is_type(o, json_type_object)) {
		http_reply_error(rep, 400, "bad_field", "events[%zu] must be an object.", i);
		return -1;
	}
	memset(e, 0, sizeof(*e));
	for (f = 0; f < EVENT_FIELDS; f++) {
		if (!json_object_object_get_ex(o, event_fields[f].name, &v) || v == NULL) {
			if (!event_fields[f].required)
				continue;
			http_reply_error(rep, 400, "missing_field", "events[%zu].%s is required.",
					 i, event_fields[f].name);
			return -1;
		}
		errno = 0;
		x = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || errno != 0 ||
		    x < event_fields[f].lo || x > event_fields[f].hi) {
			http_reply_error(rep, 400, "bad_field", "events[%zu].%s must be a whole "
					 "number from %" PRId64 " to %" PRId64 ".", i,
					 event_fields[f].name, event_fields[f].lo,
					 event_fields[f].hi);
			return -1;
		}
		*(int64_t *)(void *)((char *)e + event_fields[f].off) = x;
	}
	if (!json_object_object_get_ex(o, "kind", &v) || v == NULL) {
		http_reply_error(rep, 400, "missing_field", "events[%zu].kind is required.", i);
		return -1;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    (e->kind = kind_of(json_object_get_string(v))) == 0) {
		http_reply_error(rep, 400, "bad_field", "events[%zu].kind must be an event kind of "
				 "the lock protocol, such as \"unlocked\" or \"car_arrived\".", i);
		return -1;
	}
	return 0;
}

int event_parse(json_object *body, struct event_in *out, size_t max, struct http_reply *rep)
{
	json_object *arr;
	size_t i, n;

	if (!json_object_object_get_ex(body, "events", &arr) || arr == NULL) {
		http_reply_error(rep, 400, "missing_field", "events is required: an array of "
				 "events.");
		return -1;
	}
	if (!json_object_is_type(arr, json_type_array)) {
		http_reply_error(rep, 400, "bad_field", "events must be an array of events.");
		return -1;
	}
	n = json_object_array_length(arr);
	if (n > max || n > EVENT_BATCH_MAX) {
		http_reply_error(rep, 413, "body_too_large", "Send at most %d events at a time.",
				 EVENT_BATCH_MAX);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (parse_one(json_object_array_get_idx(arr, i), i, &out[i], rep) != 0)
			return -1;
	return (int)n;
}

/* ---- storing ---- */

static void set_error(struct event_error *err, int status, const char *code, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));

static void set_error(struct event_error *err, int status, const char *code, const char *fmt,
		      ...)
{
	va_list ap;

	err->status = status;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

/*
 * The site of `spot` when `gateway_id` covers it. Returns 1, 0 with *err set (no such
 * spot, or not covered), or -1 on a storage error.
 */
static int covered_site(struct db *db, int64_t gateway_id, int64_t spot, int64_t *site,
			struct event_error *err)
{
	struct db_stmt *st;
	int r;

	st = db_prepare(db, "SELECT s.site_id, c.gateway_id FROM spots s "
			"LEFT JOIN gateway_covers c ON c.spot_id = s.id AND c.gateway_id = $1 "
			"WHERE s.id = $2");
	if (st == NULL || db_bind_int(st, 1, gateway_id) != 0 || db_bind_int(st, 2, spot) != 0) {
		db_finalize(st);
		return -1;
	}
	r = db_step(st);
	if (r == DB_ROW && !db_col_null(st, 1)) {
		*site = db_col_int(st, 0);
		r = 1;
	} else if (r == DB_ROW) {
		set_error(err, 403, "forbidden", "Gateway %" PRId64 " does not cover spot %" PRId64
			  "; no event of this batch was stored.", gateway_id, spot);
		r = 0;
	} else if (r == DB_DONE) {
		set_error(err, 404, "not_found", "There is no spot %" PRId64 " (gateway %" PRId64
			  "); no event of this batch was stored.", spot, gateway_id);
		r = 0;
	} else {
		r = -1;
	}
	db_finalize(st);
	return r;
}

/* Inserts e unless its (spot, seq) is known. Returns 1 with *id, 0 for a duplicate, or < 0. */
static int insert_event(struct db *db, int64_t gateway_id, int64_t now,
			const struct event_in *e, int64_t *id)
{
	struct db_stmt *st;
	int r;

	st = db_prepare(db, "INSERT INTO events (spot_id, seq, time, kind, arg8, arg16, user_id, "
			"key_id, gateway_id, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
			"$9, $10) ON CONFLICT (spot_id, seq) DO NOTHING RETURNING id");
	if (st == NULL || db_bind_int(st, 1, e->spot) != 0 || db_bind_int(st, 2, e->seq) != 0 ||
	    db_bind_int(st, 3, e->time) != 0 ||
	    db_bind_text(st, 4, proto_event_name(e->kind)) != 0 ||
	    db_bind_int(st, 5, e->arg8) != 0 || db_bind_int(st, 6, e->arg16) != 0 ||
	    db_bind_int(st, 7, e->user_id) != 0 || db_bind_int(st, 8, e->key_id) != 0 ||
	    db_bind_int(st, 9, gateway_id) != 0 || db_bind_int(st, 10, now) != 0) {
		db_finalize(st);
		return -DB_E_IO;
	}
	r = db_step(st);
	if (r == DB_ROW) {
		*id = db_col_int(st, 0);
		r = db_step(st) == DB_DONE ? 1 : -DB_E_IO;
	} else if (r == DB_DONE) {
		r = 0;
	}
	db_finalize(st);
	return r;
}

/*
 * Moves the spot's live state on for a new event e from gateway_id. 0 or -DB_E_*. The
 * event says the lock is there, unless that gateway has reported it out of reach: then
 * it was read before, and comes late (from the gateway's queue after an outage).
 */
static int update_state(struct db *db, int64_t gateway_id, int64_t now,
			const struct event_in *e)
{
	struct db_stmt *st;
	int locked = event_effects[e->kind].locked, occupied = event_effects[e->kind].occupied;
	bool newest;
	int r;

	/* Only the newest event of a lock speaks for its state: a late one must not undo it. */
	r = db_exec(db, "UPDATE locks SET event_seq = $1 WHERE spot_id = $2 AND event_seq < $1",
		    "ii", e->seq, e->spot);
	if (r != 0)
		return r;
	newest = db_changes(db) > 0;
	if (e->kind == PROTO_EV_BOOT)
		locked = e->arg8 == PROTO_BARRIER_UP ? 1 :
			 e->arg8 == PROTO_BARRIER_DOWN ? 0 : EVENT_STATE_SAME;
	st = db_prepare(db, "UPDATE spots SET locked = COALESCE($2, locked), "
			"occupied = COALESCE($3, occupied), battery = COALESCE($4, battery), "
			"online = CASE WHEN EXISTS (SELECT 1 FROM gateway_reach WHERE "
			"gateway_id = $6 AND spot_id = $1 AND online = 0) THEN online ELSE 1 END, "
			"last_event_at = $5 WHERE id = $1");
	if (st == NULL || db_bind_int(st, 1, e->spot) != 0 ||
	    db_bind_int(st, 6, gateway_id) != 0 ||
	    (newest && locked != EVENT_STATE_SAME ? db_bind_int(st, 2, locked) :
						     db_bind_null(st, 2)) != 0 ||
	    (newest && occupied != EVENT_STATE_SAME ? db_bind_int(st, 3, occupied) :
						       db_bind_null(st, 3)) != 0 ||
	    (newest && event_effects[e->kind].battery_arg16 && e->arg16 <= 100 ?
		     db_bind_int(st, 4, e->arg16) : db_bind_null(st, 4)) != 0 ||
	    db_bind_int(st, 5, now) != 0) {
		db_finalize(st);
		return -DB_E_IO;
	}
	r = db_step(st);
	db_finalize(st);
	return r == DB_DONE ? 0 : r < 0 ? r : -DB_E_IO;
}

static json_object *event_json(int64_t id, int64_t site, int64_t now, const struct event_in *e)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "site", json_object_new_int64(site));
	json_object_object_add(o, "spot", json_object_new_int64(e->spot));
	json_object_object_add(o, "seq", json_object_new_int64(e->seq));
	json_object_object_add(o, "time", json_object_new_int64(e->time));
	json_object_object_add(o, "kind", json_object_new_string(proto_event_name(e->kind)));
	json_object_object_add(o, "arg8", json_object_new_int64(e->arg8));
	json_object_object_add(o, "arg16", json_object_new_int64(e->arg16));
	json_object_object_add(o, "user_id", json_object_new_int64(e->user_id));
	json_object_object_add(o, "key_id", json_object_new_int64(e->key_id));
	json_object_object_add(o, "received_at", json_object_new_int64(now));
	return o;
}

void event_stored_free(struct event_stored *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_object_put(out[i].json);
		out[i].json = NULL;
	}
}

/*
 * One attempt at the whole batch inside a transaction the caller opened. Returns 0,
 * 1 when refused (*err set), or -DB_E_*.
 */
static int ingest_once(struct db *db, int64_t gateway_id, int64_t now, bool notify,
		       const struct event_in *ev, size_t n, struct event_stored *out,
		       size_t *nout, int64_t *duplicates, struct event_error *err)
{
	int64_t *sites, id = 0;
	char detail[160];
	size_t i;
	int r = 0;

	sites = calloc(n + 1, sizeof(*sites));
	if (sites == NULL)
		return -DB_E_IO;
	/* Every spot first: a refused batch stores nothing. */
	for (i = 0; i < n && r == 0; i++) {
		r = covered_site(db, gateway_id, ev[i].spot, &sites[i], err);
		r = r == 1 ? 0 : r == 0 ? 1 : -DB_E_IO;
	}
	for (i = 0; i < n && r == 0; i++) {
		r = insert_event(db, gateway_id, now, &ev[i], &id);
		if (r == 0) {
			(*duplicates)++;
			continue;
		}
		if (r < 0)
			break;
		snprintf(detail, sizeof(detail), "spot %" PRId64 " seq %" PRId64 " %s user %"
			 PRId64 " key %" PRId64 " via gateway %" PRId64, ev[i].spot, ev[i].seq,
			 proto_event_name(ev[i].kind), ev[i].user_id, ev[i].key_id, gateway_id);
		r = update_state(db, gateway_id, now, &ev[i]);
		if (r == 0)
			r = audit_append(db, now, 0, "event", detail, NULL);
		if (r == 0 && notify && notify_kind(ev[i].kind))
			r = db_exec(db, "INSERT INTO notifications (event_id, spot_id, created_at) "
				    "VALUES ($1, $2, $3)", "iii", id, ev[i].spot, now);
		if (r != 0)
			break;
		out[*nout].site_id = sites[i];
		out[*nout].spot_id = ev[i].spot;
		out[*nout].json = event_json(id, sites[i], now, &ev[i]);
		(*nout)++;
	}
	free(sites);
	return r;
}

int event_ingest(struct db *db, int64_t gateway_id, int64_t now, bool notify,
		 const struct event_in *ev, size_t n, struct event_stored *out, size_t *nout,
		 int64_t *duplicates, struct event_error *err)
{
	unsigned tries;
	int r = -DB_E_IO;

	for (tries = 0; tries < EVENT_BUSY_TRIES; tries++) {
		*nout = 0;
		*duplicates = 0;
		r = db_begin(db);
		if (r == 0)
			r = ingest_once(db, gateway_id, now, notify, ev, n, out, nout, duplicates,
					err);
		if (r == 0)
			r = db_commit(db);
		if (r == 0)
			return 0;
		db_rollback(db);
		event_stored_free(out, *nout);
		*nout = 0;
		if (r == 1)
			return err->status == 403 ? -EVENT_E_FORBIDDEN : -EVENT_E_NOTFOUND;
		if (r != -DB_E_BUSY)
			break;
	}
	log_error("event: storing %zu events of gateway %" PRId64 " failed: %s", n, gateway_id,
		  db_errmsg(db));
	set_error(err, 500, "internal", "The %zu events could not be stored; send them again.",
		  n);
	return -EVENT_E_INTERNAL;
}

/* ---- whether the locks are in reach ---- */

int event_online_parse(json_object *body, struct event_online_in *out, size_t max,
		       struct http_reply *rep)
{
	json_object *arr, *o, *v;
	int64_t spot;
	size_t i, n;

	if (!json_object_object_get_ex(body, "locks", &arr) || arr == NULL) {
		http_reply_error(rep, 400, "missing_field", "locks is required: an array of "
				 "{\"spot\":..,\"online\":true or false}.");
		return -1;
	}
	if (!json_object_is_type(arr, json_type_array)) {
		http_reply_error(rep, 400, "bad_field", "locks must be an array of "
				 "{\"spot\":..,\"online\":true or false}.");
		return -1;
	}
	n = json_object_array_length(arr);
	if (n > max || n > EVENT_ONLINE_MAX) {
		http_reply_error(rep, 413, "body_too_large", "Report at most %d locks at a time.",
				 EVENT_ONLINE_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		o = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(o, json_type_object)) {
			http_reply_error(rep, 400, "bad_field", "locks[%zu] must be an object.", i);
			return -1;
		}
		if (!json_object_object_get_ex(o, "spot", &v) || v == NULL) {
			http_reply_error(rep, 400, "missing_field", "locks[%zu].spot is required.", i);
			return -1;
		}
		errno = 0;
		spot = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || errno != 0 || spot < 1 ||
		    spot > EVENT_U32_MAX) {
			http_reply_error(rep, 400, "bad_field", "locks[%zu].spot must be a spot ID "
					 "(a whole number from 1 to %lld).", i, EVENT_U32_MAX);
			return -1;
		}
		if (!json_object_object_get_ex(o, "online", &v) || v == NULL) {
			http_reply_error(rep, 400, "missing_field", "locks[%zu].online is required.",
					 i);
			return -1;
		}
		if (!json_object_is_type(v, json_type_boolean)) {
			http_reply_error(rep, 400, "bad_field", "locks[%zu].online must be true or "
					 "false.", i);
			return -1;
		}
		out[i].spot = spot;
		out[i].online = json_object_get_boolean(v);
	}
	return (int)n;
}

/* 1 when some gateway that reported on `spot` reaches it, 0 when none, or -DB_E_*. */
static int reached(struct db *db, int64_t spot)
{
	struct db_stmt *st = db_prepare(db, "SELECT 1 FROM gateway_reach "
					"WHERE spot_id = $1 AND online = 1 LIMIT 1");
	int r;

	if (st == NULL || db_bind_int(st, 1, spot) != 0) {
		db_finalize(st);
		return -DB_E_IO;
	}
	r = db_step(st);
	db_finalize(st);
	return r < 0 ? r : r == DB_ROW;
}

static json_object *online_json(int64_t site, int64_t gateway_id, int64_t now,
				const struct event_online_in *e)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "site", json_object_new_int64(site));
	json_object_object_add(o, "spot", json_object_new_int64(e->spot));
	json_object_object_add(o, "kind", json_object_new_string(e->online ? "online" :
								 "offline"));
	json_object_object_add(o, "gateway", json_object_new_int64(gateway_id));
	json_object_object_add(o, "received_at", json_object_new_int64(now));
	return o;
}

/* One attempt at the whole report, as ingest_once. 0, 1 when refused (*err set), or -DB_E_*. */
static int online_once(struct db *db, int64_t gateway_id, int64_t now, bool notify,
		       const struct event_online_in *in, size_t n, struct event_stored *out,
		       size_t *nout, struct event_error *err)
{
	int64_t *sites;
	char detail[160];
	size_t i;
	int r = 0, online;

	sites = calloc(n + 1, sizeof(*sites));
	if (sites == NULL)
		return -DB_E_IO;
	for (i = 0; i < n && r == 0; i++) {
		r = covered_site(db, gateway_id, in[i].spot, &sites[i], err);
		r = r == 1 ? 0 : r == 0 ? 1 : -DB_E_IO;
	}
	for (i = 0; i < n && r == 0; i++) {
		r = db_exec(db, "INSERT INTO gateway_reach (gateway_id, spot_id, online, changed_at) "
			    "VALUES ($1, $2, $3, $4) ON CONFLICT (gateway_id, spot_id) DO UPDATE "
			    "SET changed_at = CASE WHEN gateway_reach.online = excluded.online "
			    "THEN gateway_reach.changed_at ELSE excluded.changed_at END, "
			    "online = excluded.online", "iiii", gateway_id, in[i].spot,
			    (int64_t)in[i].online, now);
		online = r == 0 ? reached(db, in[i].spot) : r;
		if (online < 0) {
			r = online;
			break;
		}
		r = db_exec(db, "UPDATE spots SET online = $1 WHERE id = $2 AND online <> $1", "ii",
			    (int64_t)online, in[i].spot);
		if (r != 0 || db_changes(db) == 0)
			continue;
		snprintf(detail, sizeof(detail), "spot %" PRId64 " %s gateway %" PRId64,
			 in[i].spot, online ? "in reach of" : "out of reach of", gateway_id);
		r = audit_append(db, now, 0, online ? "lock_online" : "lock_offline", detail, NULL);
		/* A lock out of reach is an alarm for those who look after the spot. */
		if (r == 0 && notify && !online)
			r = db_exec(db, "INSERT INTO notifications (kind, spot_id, created_at) "
				    "VALUES ('offline', $1, $2)", "ii", in[i].spot, now);
		if (r != 0)
			break;
		out[*nout].site_id = sites[i];
		out[*nout].spot_id = in[i].spot;
		out[*nout].json = online_json(sites[i], gateway_id, now, &in[i]);
		(*nout)++;
	}
	free(sites);
	return r;
}

int event_online(struct db *db, int64_t gateway_id, int64_t now, bool notify,
		 const struct event_online_in *in, size_t n, struct event_stored *out,
		 size_t *nout, struct event_error *err)
{
	unsigned tries;
	int r = -DB_E_IO;

	for (tries = 0; tries < EVENT_BUSY_TRIES; tries++) {
		*nout = 0;
		r = db_begin(db);
		if (r == 0)
			r = online_once(db, gateway_id, now, notify, in, n, out, nout, err);
		if (r == 0)
			r = db_commit(db);
		if (r == 0)
			return 0;
		db_rollback(db);
		event_stored_free(out, *nout);
		*nout = 0;
		if (r == 1)
			return err->status == 403 ? -EVENT_E_FORBIDDEN : -EVENT_E_NOTFOUND;
		if (r != -DB_E_BUSY)
			break;
	}
	log_error("event: the reach of %zu locks reported by gateway %" PRId64 " could not be "
		  "stored: %s", n, gateway_id, db_errmsg(db));
	set_error(err, 500, "internal", "The state of the %zu locks could not be stored; send "
		  "it again.", n);
	return -EVENT_E_INTERNAL;
}

/* ---- who may watch ---- */

int event_may_watch_site(struct db *db, int64_t user_id, bool admin, int64_t site_id)
{
	struct db_stmt *st;
	int r;

	st = db_prepare(db, "SELECT 1 FROM sites WHERE id = $1 AND ($2 = 1 OR EXISTS ("
			"SELECT 1 FROM roles WHERE user_id = $3 AND site_id = $1 "
			"AND role IN ('admin', 'attendant')))");
	if (st == NULL || db_bind_int(st, 1, site_id) != 0 || db_bind_int(st, 2, admin) != 0 ||
	    db_bind_int(st, 3, user_id) != 0) {
		db_finalize(st);
		return -1;
	}
	r = db_step(st);
	db_finalize(st);
	return r == DB_ROW ? 1 : r == DB_DONE ? 0 : -1;
}

int event_user_spots(struct db *db, int64_t user_id, int64_t **spots, size_t *n)
{
	struct db_stmt *st;
	int64_t *v = NULL, *nv;
	size_t cap = 0, count = 0;
	int r;

	*spots = NULL;
	*n = 0;
	st = db_prepare(db, "SELECT id FROM spots WHERE owner_id = $1 "
			"UNION SELECT spot_id FROM roles WHERE user_id = $1 AND role = 'owner' "
			"AND spot_id IS NOT NULL "
			"UNION SELECT spot_id FROM ekeys WHERE user_id = $1 AND revoked = 0 "
			"ORDER BY 1");
	if (st == NULL || db_bind_int(st, 1, user_id) != 0) {
		db_finalize(st);
		return -1;
	}
	while ((r = db_step(st)) == DB_ROW) {
		if (count == cap) {
			cap = cap != 0 ? 2 * cap : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				r = -1;
				break;
			}
			v = nv;
		}
		v[count++] = db_col_int(st, 0);
	}
	db_finalize(st);
	if (r != DB_DONE) {
		free(v);
		return -1;
	}
	*spots = v;
	*n = count;
	return 0;
}

/* ---- replay ---- */

#define EVENT_SINCE_COLUMNS "SELECT e.id, s.site_id, e.spot_id, e.seq, e.time, e.kind, " \
	"e.arg8, e.arg16, e.user_id, e.key_id, e.received_at FROM events e " \
	"JOIN spots s ON s.id = e.spot_id "

/* The published JSON of the current row of an EVENT_SINCE_COLUMNS query. */
static json_object *event_row_json(struct db_stmt *st)
{
	static const char *const names[] = { "id", "site", "spot", "seq", "time", "kind",
					     "arg8", "arg16", "user_id", "key_id",
					     "received_at" };
	json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; o != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		json_object_object_add(o, names[i], i == 5 ?
				       json_object_new_string(db_col_text(st, 5) != NULL ?
							      db_col_text(st, 5) : "") :
				       json_object_new_int64(db_col_int(st, (int)i)));
	return o;
}

/* Appends the rows of `sql` ($1 scope, $2 after, $3 limit) to `arr`. 0 or -1. */
static int event_since_query(struct db *db, const char *sql, int64_t scope, int64_t after,
			     size_t limit, json_object *arr)
{
	struct db_stmt *st = db_prepare(db, sql);
	json_object *o;
	int r;

	if (st == NULL || db_bind_int(st, 1, scope) != 0 || db_bind_int(st, 2, after) != 0 ||
	    db_bind_int(st, 3, (int64_t)limit) != 0) {
		db_finalize(st);
		return -1;
	}
	while ((r = db_step(st)) == DB_ROW) {
		o = event_row_json(st);
		if (o == NULL || json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			r = -1;
			break;
		}
	}
	db_finalize(st);
	return r == DB_DONE ? 0 : -1;
}

static int64_t event_json_id(json_object *o)
{
	json_object *id = NULL;

	return json_object_object_get_ex(o, "id", &id) ? json_object_get_int64(id) : 0;
}

static int event_cmp_id(const void *a, const void *b)
{
	int64_t x = event_json_id(*(json_object *const *)a);
	int64_t y = event_json_id(*(json_object *const *)b);

	return x < y ? -1 : x > y;
}

int event_since(struct db *db, int64_t after, int64_t site_id, const int64_t *spots, size_t n,
		size_t max, json_object **out, bool *more)
{
	json_object *arr = json_object_new_array();
	size_t i, len;
	int r = 0;

	*out = NULL;
	*more = false;
	if (arr == NULL)
		return -1;
	/* One more than max, to tell "exactly max" from "more". */
	if (site_id > 0)
		r = event_since_query(db, EVENT_SINCE_COLUMNS "WHERE s.site_id = $1 AND e.id > $2 "
				      "ORDER BY e.id LIMIT $3", site_id, after, max + 1, arr);
	for (i = 0; site_id == 0 && r == 0 && i < n; i++)
		r = event_since_query(db, EVENT_SINCE_COLUMNS "WHERE e.spot_id = $1 AND e.id > $2 "
				      "ORDER BY e.id LIMIT $3", spots[i], after, max + 1, arr);
	if (r != 0) {
		json_object_put(arr);
		return -1;
	}
	json_object_array_sort(arr, event_cmp_id);
	len = json_object_array_length(arr);
	if (len > max) {
		*more = true;
		json_object_array_del_idx(arr, max, len - max);
	}
	*out = arr;
	return 0;
}
