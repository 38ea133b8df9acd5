/*
 * event.h: lock events on the key server (claims 8-9): a gateway's batch checked field
 * by field, each event stored once per (spot, seq), the spot's live state moved on, the
 * audit trail and the notification rows written in the same transaction; the gateways'
 * reports of which locks they reach (spots.online); and who may watch which spots live.
 * No HTTP and no threads here: route-event.c and route-gateway.c answer, the event hub
 * (event-hub.c) pushes streams, notify.c sends notifications.
 */
#ifndef PARK_EVENT_H
#define PARK_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "db.h"
#include "http.h"

#define EVENT_BATCH_MAX 100 /* events in one POST /v1/gateway/events */

enum event_err {
	EVENT_E_NOTFOUND = 1,  /* an event names a spot the server does not have */
	EVENT_E_FORBIDDEN = 2, /* an event's spot is not covered by the reporting gateway */
	EVENT_E_INTERNAL = 3,  /* storage failed (after retries when busy): see the log */
};

/* One event as a gateway reports it, every field checked against its range. */
struct event_in {
	int64_t spot;    /* 1..2^32-1 */
	int64_t seq;     /* 1..2^32-1 */
	int64_t time;    /* 0..2^32-1, the lock's clock */
	uint8_t kind;    /* proto_event_kind, 1..PROTO_EV_KIND_MAX */
	int64_t arg8;    /* 0..255 */
	int64_t arg16;   /* 0..65535 */
	int64_t user_id; /* 0..2^32-1 */
	int64_t key_id;  /* 0..2^32-1 */
};

/* A newly stored event, for the event stream: its JSON (owned) and where it belongs. */
struct event_stored {
	int64_t site_id;
	int64_t spot_id;
	json_object *json; /* {"id","site","spot","seq","time","kind","arg8","arg16",
			      "user_id","key_id","received_at"} */
};

/* The reply a refused batch gets. */
struct event_error {
	int status;        /* 403, 404, 500 */
	const char *code;  /* "forbidden", "not_found", "internal" */
	char detail[160];
};

/*
 * Reads body {"events":[...]}: 0 to EVENT_BATCH_MAX objects, each with the fields of
 * struct event_in ("kind" as its name, e.g. "car_arrived"; spot, seq, time and kind are
 * required, the others 0 when absent or null). Returns the count, with
 * out[0..count) filled, or -1 with rep set to 400 (missing_field, bad_field naming
 * "events[i].field") or 413 body_too_large for more than EVENT_BATCH_MAX.
 */
int event_parse(json_object *body, struct event_in *out, size_t max, struct http_reply *rep);

/*
 * Stores ev[0..n) reported by `gateway_id` in one transaction of its own (retried while
 * the database is busy): every spot must exist and be covered by the gateway, else
 * nothing is stored. Each (spot, seq) is inserted once (a known one counts in
 * *duplicates); for an event newer than any before from its lock, the spot's live state
 * (locked, occupied, battery) follows it; every event marks the spot online with
 * last_event_at = now. Each new event gets an "event" audit row and, when `notify` and
 * notify_kind() wants it, a pending notification. Fills out[0..*nout) with the new
 * events (the caller publishes them after this returns and frees them with
 * event_stored_free). Returns 0, or -EVENT_E_* with *err filled and nothing stored.
 */
int event_ingest(struct db *db, int64_t gateway_id, int64_t now, bool notify,
		 const struct event_in *ev, size_t n, struct event_stored *out, size_t *nout,
		 int64_t *duplicates, struct event_error *err);

/* Frees the JSON of out[0..n). */
void event_stored_free(struct event_stored *out, size_t n);

/* ---- whether the locks are in reach ---- */

#define EVENT_ONLINE_MAX 256 /* locks in one POST /v1/gateway/status */

/* One lock's reachability as its gateway reports it. */
struct event_online_in {
	int64_t spot; /* 1..2^32-1 */
	bool online;  /* the gateway talks to the lock (false: out of reach) */
};

/*
 * Reads body {"locks":[{"spot":101,"online":false}, ...]}: 0 to EVENT_ONLINE_MAX objects,
 * both fields required. Returns the count with out[0..count) filled, or -1 with rep set
 * to 400 (missing_field, bad_field naming "locks[i].field") or 413 body_too_large.
 */
int event_online_parse(json_object *body, struct event_online_in *out, size_t max,
		       struct http_reply *rep);

/*
 * Stores what `gateway_id` says of the reach of its locks in[0..n), in one transaction of
 * its own (retried while the database is busy): every spot must exist and be covered
 * by the gateway, else nothing is stored (as event_ingest). Each gateway's view is kept
 * (table gateway_reach); a spot is online while any gateway that reported on it reaches
 * it, so one gateway losing a lock another still reaches changes nothing. Each spot
 * whose spots.online changes gets an audit row ("lock_online" / "lock_offline") and an
 * entry in out[0..*nout) for the event stream: {"site","spot","kind":"online" or
 * "offline","gateway","received_at"} (out has room for n); going offline is an alarm:
 * when `notify`, it also gets a pending notification (kind 'offline'). Returns 0, or
 * -EVENT_E_* with *err filled and nothing stored.
 */
int event_online(struct db *db, int64_t gateway_id, int64_t now, bool notify,
		 const struct event_online_in *in, size_t n, struct event_stored *out,
		 size_t *nout, struct event_error *err);

/*
 * May `user_id` (`admin`: a server administrator) watch every spot of `site_id`? Site
 * administrators and attendants may. Returns 1, 0, or -1 on a storage error.
 */
int event_may_watch_site(struct db *db, int64_t user_id, bool admin, int64_t site_id);

/*
 * The spots `user_id` may watch: those they own and those they hold an unrevoked key
 * for, ascending, into a malloc'ed array (*spots NULL when none). 0 or -1.
 */
int event_user_spots(struct db *db, int64_t user_id, int64_t **spots, size_t *n);

/*
 * Events a stream asks to have replayed (GET /v1/events after a reconnection): the
 * stored events of site `site_id` (> 0), or of spots[0..n) when site_id is 0, whose IDs
 * are above `after`, oldest first, each the JSON object event_ingest() publishes, at most
 * `max` of them, as a new array in *out; *more is true when there were more. IDs follow
 * the commit order on SQLite (one writer at a time). Returns 0, or -1 on a storage error.
 */
int event_since(struct db *db, int64_t after, int64_t site_id, const int64_t *spots, size_t n,
		size_t max, json_object **out, bool *more);

#endif
