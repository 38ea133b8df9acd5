/*
 * alarm.c: a site's alarms, their numbers and their acknowledgements (see alarm.h). Each
 * kind is one SELECT over the stored events and the spots' live state, yielding (spot,
 * kind, since, event_seq, occurrence), where an occurrence changes exactly when the
 * alarm comes again; their union is what is open now, so an alarm closes by itself when
 * its condition ends. A row of table alarms only numbers an occurrence and keeps its
 * acknowledgement.
 */
#include "alarm.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"

/*
 * Every open alarm of site $1 at time $2 (battery threshold $3), acknowledged or not.
 * The newest event of a kind is the one with the highest sequence of the spot.
 */
#define ALARM_NEWEST(kind) \
	"e.seq = (SELECT MAX(f.seq) FROM events f WHERE f.spot_id = e.spot_id " \
	"AND f.kind = '" kind "')"
#define ALARM_SOURCES \
	"SELECT e.spot_id AS spot, 'forced' AS kind, e.received_at AS since, " \
	"e.seq AS event_seq, e.seq AS occurrence " \
	"FROM events e JOIN spots s ON s.id = e.spot_id " \
	"WHERE s.site_id = $1 AND e.kind = 'forced' AND " ALARM_NEWEST("forced") " " \
	"AND NOT EXISTS (SELECT 1 FROM events c WHERE c.spot_id = e.spot_id AND c.seq > e.seq " \
	"AND (c.kind = 'locked' OR (c.kind = 'boot' AND c.arg8 = 0))) " \
	"UNION ALL " \
	"SELECT e.spot_id, 'jammed', e.received_at, e.seq, e.seq " \
	"FROM events e JOIN spots s ON s.id = e.spot_id " \
	"WHERE s.site_id = $1 AND e.kind = 'jammed' AND " ALARM_NEWEST("jammed") " " \
	"AND NOT EXISTS (SELECT 1 FROM events c WHERE c.spot_id = e.spot_id AND c.seq > e.seq " \
	"AND (c.kind IN ('unlocked', 'locked') OR (c.kind = 'boot' AND c.arg8 IN (0, 1)))) " \
	"UNION ALL " \
	"SELECT s.id, 'car_without_key', COALESCE(e.received_at, s.last_event_at, 0), " \
	"COALESCE(e.seq, 0), COALESCE(e.seq, 0) " \
	"FROM spots s LEFT JOIN events e ON e.spot_id = s.id AND e.kind = 'car_arrived' " \
	"AND " ALARM_NEWEST("car_arrived") " " \
	"WHERE s.site_id = $1 AND s.occupied = 1 AND NOT EXISTS (SELECT 1 FROM ekeys k " \
	"WHERE k.spot_id = s.id AND k.revoked = 0 AND k.not_before <= $2 AND k.not_after >= $2) " \
	"AND NOT EXISTS (SELECT 1 FROM shares sh WHERE sh.spot_id = s.id " \
	"AND sh.state = 'active' AND sh.not_before <= $2 AND sh.not_after >= $2) " \
	"UNION ALL " \
	"SELECT o.spot, 'offline', o.since, 0, o.since FROM (SELECT s.id AS spot, " \
	"COALESCE((SELECT MAX(r.changed_at) FROM gateway_reach r WHERE r.spot_id = s.id), " \
	"s.last_event_at, 0) AS since FROM spots s WHERE s.site_id = $1 AND s.online = 0 " \
	"AND (s.last_event_at IS NOT NULL OR EXISTS (SELECT 1 FROM gateway_reach r " \
	"WHERE r.spot_id = s.id))) o " \
	"UNION ALL " \
	"SELECT s.id, 'low_battery', COALESCE(e.received_at, s.last_event_at, 0), " \
	"COALESCE(e.seq, 0), COALESCE(e.seq, 0) " \
	"FROM spots s LEFT JOIN events e ON e.spot_id = s.id AND e.kind = 'low_battery' " \
	"AND " ALARM_NEWEST("low_battery") " " \
	"WHERE s.site_id = $1 AND s.battery IS NOT NULL AND s.battery <= $3 " \
	"UNION ALL " \
	"SELECT e.spot_id, 'lockout', e.received_at, e.seq, e.seq " \
	"FROM events e JOIN spots s ON s.id = e.spot_id " \
	"WHERE s.site_id = $1 AND e.kind = 'lockout' AND e.received_at + e.arg16 * 60 > $2"

/* Whether an open alarm (a row `a` of ALARM_SOURCES) has its number. */
#define ALARM_NUMBERED(x) \
	"EXISTS (SELECT 1 FROM alarms " x " WHERE " x ".spot_id = a.spot " \
	"AND " x ".kind = a.kind AND " x ".occurrence = a.occurrence)"

static const char alarm_unnumbered_sql[] =
	"SELECT COUNT(*) FROM (" ALARM_SOURCES ") a WHERE NOT " ALARM_NUMBERED("x");

static const char alarm_number_sql[] =
	"INSERT INTO alarms (spot_id, kind, occurrence, since, event_seq, listed_at) "
	"SELECT a.spot, a.kind, a.occurrence, a.since, a.event_seq, $2 FROM (" ALARM_SOURCES
	") a WHERE NOT " ALARM_NUMBERED("x");

static const char alarm_list_sql[] =
	"SELECT x.id, x.spot_id, x.kind, x.since, x.event_seq FROM (" ALARM_SOURCES ") a "
	"JOIN alarms x ON x.spot_id = a.spot AND x.kind = a.kind AND x.occurrence = a.occurrence "
	"WHERE x.acked_by IS NULL ORDER BY x.since DESC, x.spot_id, x.kind, x.id";

static int alarm_err_of(int dbr)
{
	return dbr == -DB_E_BUSY || dbr == -DB_E_CONSTRAINT ? -ALARM_E_BUSY : -ALARM_E_INTERNAL;
}

/* Prepares `sql` with the three parameters every alarm SELECT takes. NULL on error. */
static struct db_stmt *alarm_prepare(struct db *db, const char *sql, int64_t site_id,
				     int64_t now)
{
	struct db_stmt *st = db_prepare(db, sql);

	if (st == NULL || db_bind_int(st, 1, site_id) != 0 || db_bind_int(st, 2, now) != 0 ||
	    db_bind_int(st, 3, ALARM_LOW_BATTERY_PERCENT) != 0) {
		db_finalize(st);
		return NULL;
	}
	return st;
}

int64_t alarm_unnumbered(struct db *db, int64_t site_id, int64_t now)
{
	struct db_stmt *st = alarm_prepare(db, alarm_unnumbered_sql, site_id, now);
	int64_t n = -1;

	if (st != NULL && db_step(st) == DB_ROW)
		n = db_col_int(st, 0);
	db_finalize(st);
	return n;
}

int alarm_number(struct db *db, int64_t site_id, int64_t now)
{
	struct db_stmt *st = alarm_prepare(db, alarm_number_sql, site_id, now);
	int r;

	if (st == NULL)
		return -ALARM_E_INTERNAL;
	r = db_step(st);
	db_finalize(st);
	return r == DB_DONE ? 0 : r < 0 ? alarm_err_of(r) : -ALARM_E_INTERNAL;
}

static json_object *alarm_json(int64_t id, int64_t spot, const char *kind, int64_t since,
			       int64_t event_seq)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "spot", json_object_new_int64(spot));
	json_object_object_add(o, "kind", json_object_new_string(kind != NULL ? kind : ""));
	json_object_object_add(o, "since", json_object_new_int64(since));
	json_object_object_add(o, "event_seq", json_object_new_int64(event_seq));
	return o;
}

json_object *alarm_list(struct db *db, int64_t site_id, int64_t now)
{
	struct db_stmt *st = alarm_prepare(db, alarm_list_sql, site_id, now);
	json_object *list;
	int r;

	if (st == NULL)
		return NULL;
	list = json_object_new_array();
	while ((r = db_step(st)) == DB_ROW)
		json_object_array_add(list, alarm_json(db_col_int(st, 0), db_col_int(st, 1),
						       db_col_text(st, 2), db_col_int(st, 3),
						       db_col_int(st, 4)));
	db_finalize(st);
	if (r != DB_DONE) {
		json_object_put(list);
		return NULL;
	}
	return list;
}

int alarm_ack(struct db *db, int64_t site_id, int64_t alarm_id, int64_t user_id,
	      const char *note, const char *peer, int64_t now, json_object **out)
{
	struct db_stmt *st;
	char detail[AUDIT_DETAIL_MAX + 1];
	json_object *o;
	int r;

	*out = NULL;
	st = db_prepare(db, "SELECT x.spot_id, x.kind, x.since, x.event_seq, x.acked_by, "
			"x.acked_at, x.note FROM alarms x JOIN spots s ON s.id = x.spot_id "
			"WHERE x.id = $1 AND s.site_id = $2");
	if (st == NULL || db_bind_int(st, 1, alarm_id) != 0 || db_bind_int(st, 2, site_id) != 0) {
		db_finalize(st);
		return -ALARM_E_INTERNAL;
	}
	r = db_step(st);
	if (r != DB_ROW) {
		db_finalize(st);
		return r == DB_DONE ? -ALARM_E_NOTFOUND : alarm_err_of(r);
	}
	o = alarm_json(alarm_id, db_col_int(st, 0), db_col_text(st, 1), db_col_int(st, 2),
		       db_col_int(st, 3));
	if (!db_col_null(st, 4)) {
		/* Seen to before: the first acknowledgement stands. */
		json_object_object_add(o, "acked_by", json_object_new_int64(db_col_int(st, 4)));
		json_object_object_add(o, "acked_at", json_object_new_int64(db_col_int(st, 5)));
		json_object_object_add(o, "note", db_col_null(st, 6) ? NULL :
				       json_object_new_string(db_col_text(st, 6)));
		db_finalize(st);
		*out = o;
		return 0;
	}
	snprintf(detail, sizeof(detail), "alarm %" PRId64 " (%s, spot %" PRId64 ")%s%s",
		 alarm_id, db_col_text(st, 1), db_col_int(st, 0), note != NULL ? ": " : "",
		 note != NULL ? note : "");
	db_finalize(st);
	r = db_exec(db, "UPDATE alarms SET acked_by = $1, acked_at = $2, note = $3 "
		    "WHERE id = $4 AND acked_by IS NULL", "iisi", user_id, now, note, alarm_id);
	if (r == 0 && db_changes(db) != 1)
		r = -DB_E_BUSY; /* acknowledged meanwhile: read it again */
	if (r == 0)
		r = audit_append(db, now, user_id, "alarm_ack", detail, peer);
	if (r != 0) {
		json_object_put(o);
		return alarm_err_of(r);
	}
	json_object_object_add(o, "acked_by", json_object_new_int64(user_id));
	json_object_object_add(o, "acked_at", json_object_new_int64(now));
	json_object_object_add(o, "note", note != NULL ? json_object_new_string(note) : NULL);
	*out = o;
	return 0;
}
