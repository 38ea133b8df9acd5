/*
 * route-alarm.c: the alarm screen of the attendants' console: GET /v1/sites/{id}/alarms
 * (the site's open alarms nobody has seen to, new ones numbered first) and POST
 * /v1/sites/{id}/alarms/{alarm}/ack.
 * Only the site's attendants and administrators, and the server's administrators, may
 * use them. alarm.c reads and stores; this file checks and replies.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alarm.h"
#include "event.h"
#include "json-field.h"
#include "override.h"
#include "routes.h"
#include "server.h"
#include "site.h"

#define ROUTE_ALARM_TRIES 3 /* transactions tried when the database is busy */

/* The {id} parameter as a site ID, or 0 with a 404 reply set. */
static int64_t route_alarm_site(struct http_request *req, struct http_reply *rep)
{
	const char *s = req->params[0];
	char *end;
	long long id = s != NULL ? strtoll(s, &end, 10) : 0;

	if (s == NULL || *s == '\0' || *end != '\0' || id < 1 || id > 4294967295LL) {
		http_reply_error(rep, 404, "not_found", "There is no site %s.", s != NULL ? s : "");
		return 0;
	}
	return id;
}

/*
 * The database for a request on site `site` by a caller who works there: the pooled
 * connection (give it back), or NULL with the reply set (404, 403, 500, 503).
 */
static struct db *route_alarm_open(struct server *srv, struct http_request *req,
				   struct http_reply *rep, int64_t site)
{
	struct db *db = server_db_get(srv);
	int r;

	if (db == NULL) {
		http_reply_error(rep, 503, "unavailable", "The database is unavailable; try "
				 "again.");
		rep->retry_after = 1;
		return NULL;
	}
	r = site_exists(db, site);
	if (r == 0) {
		http_reply_error(rep, 404, "not_found", "There is no site %" PRId64 ".", site);
	} else if (r == 1) {
		r = event_may_watch_site(db, req->user->user_id, req->user->admin, site);
		if (r == 0)
			http_reply_error(rep, 403, "forbidden", "Only the attendants and "
					 "administrators of site %" PRId64 " may see its alarms.",
					 site);
	}
	if (r < 0)
		http_reply_error(rep, 500, "internal", "The site could not be read; try again.");
	if (r != 1) {
		server_db_put(srv, db);
		return NULL;
	}
	return db;
}

/* Numbers the site's new alarms, in a write transaction only when there are any. */
static int route_alarm_number(struct server *srv, struct db *db, int64_t site)
{
	int64_t now = server_now(srv), n = alarm_unnumbered(db, site, now);
	int r = -ALARM_E_BUSY, tries;

	if (n <= 0)
		return n == 0 ? 0 : -ALARM_E_INTERNAL;
	for (tries = 0; tries < ROUTE_ALARM_TRIES && r == -ALARM_E_BUSY; tries++) {
		server_write_begin(srv);
		if (db_begin(db) != 0) {
			server_write_end(srv);
			continue;
		}
		r = alarm_number(db, site, now);
		if (r == 0 && db_commit(db) != 0)
			r = -ALARM_E_BUSY;
		if (r != 0)
			db_rollback(db);
		server_write_end(srv);
	}
	return r;
}

static void route_alarm_list(struct server *srv, struct http_request *req,
			     struct http_reply *rep)
{
	int64_t site = route_alarm_site(req, rep);
	json_object *list = NULL, *o;
	struct db *db;
	int r;

	if (site == 0 || (db = route_alarm_open(srv, req, rep, site)) == NULL)
		return;
	r = route_alarm_number(srv, db, site);
	if (r == 0)
		list = alarm_list(db, site, server_now(srv));
	server_db_put(srv, db);
	if (r == -ALARM_E_BUSY) {
		http_reply_error(rep, 503, "busy", "The database is busy; try again.");
		rep->retry_after = 1;
		return;
	}
	if (list == NULL) {
		http_reply_error(rep, 500, "internal", "The alarms could not be read; try again.");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "site", json_object_new_int64(site));
	json_object_object_add(o, "alarms", list);
	http_reply_json(rep, 200, o);
}

/* The optional note: NULL when absent or null, else checked. 0, or -1 with the reply set. */
static int route_alarm_note(struct http_request *req, struct http_reply *rep, const char **note)
{
	int why;

	*note = NULL;
	if (!json_field_given(req->json, "note"))
		return 0;
	*note = json_field_string(req->json, "note", 0, HTTP_BODY_MAX, rep);
	if (*note == NULL)
		return -1;
	why = override_text_check(*note, strlen(*note), OVERRIDE_TEXT_MAX_CHARS, 1);
	if (why == OVERRIDE_TEXT_LONG)
		http_reply_error(rep, 400, "bad_field", "The field 'note' must be at most %d "
				 "characters.", OVERRIDE_TEXT_MAX_CHARS);
	else if (why != OVERRIDE_TEXT_OK)
		http_reply_error(rep, 400, "bad_field", "The field 'note' must be one line of "
				 "UTF-8 text, without control characters.");
	if (why != OVERRIDE_TEXT_OK)
		return -1;
	if ((*note)[0] == '\0')
		*note = NULL; /* an empty note is none */
	return 0;
}

static void route_alarm_ack(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	int64_t site = route_alarm_site(req, rep), alarm;
	const char *note, *s = req->params[1];
	json_object *o = NULL;
	struct db *db;
	char *end;
	int r = -ALARM_E_BUSY, tries;

	if (site == 0)
		return;
	alarm = s != NULL ? strtoll(s, &end, 10) : 0;
	if (s == NULL || *s < '1' || *s > '9' || *end != '\0' || alarm < 1 ||
	    alarm >= INT64_MAX) {
		http_reply_error(rep, 404, "not_found", "Site %" PRId64 " has no alarm %.24s.",
				 site, s != NULL ? s : "");
		return;
	}
	if ((db = route_alarm_open(srv, req, rep, site)) == NULL)
		return;
	if (route_alarm_note(req, rep, &note) != 0) {
		server_db_put(srv, db);
		return;
	}
	for (tries = 0; tries < ROUTE_ALARM_TRIES && r == -ALARM_E_BUSY; tries++) {
		server_write_begin(srv);
		if (db_begin(db) != 0) {
			server_write_end(srv);
			continue;
		}
		r = alarm_ack(db, site, alarm, req->user->user_id, note, req->peer,
			      server_now(srv), &o);
		if (r == 0 && db_commit(db) != 0)
			r = -ALARM_E_BUSY;
		if (r != 0) {
			db_rollback(db);
			json_object_put(o);
			o = NULL;
		}
		server_write_end(srv);
	}
	server_db_put(srv, db);
	if (r == -ALARM_E_NOTFOUND) {
		http_reply_error(rep, 404, "not_found", "Site %" PRId64 " has no alarm %" PRId64
				 "; list them again.", site, alarm);
	} else if (r == -ALARM_E_BUSY) {
		http_reply_error(rep, 503, "busy", "The database is busy; try again.");
		rep->retry_after = 1;
	} else if (r != 0) {
		http_reply_error(rep, 500, "internal", "The alarm could not be acknowledged; try "
				 "again.");
	} else {
		http_reply_json(rep, 200, o);
	}
}

const struct http_route alarm_routes[] = {
	{ "GET", "/v1/sites/{id}/alarms", route_alarm_list, HTTP_AUTH_USER,
	  "Site attendants: the open alarms nobody has acknowledged", 0 },
	{ "POST", "/v1/sites/{id}/alarms/{alarm}/ack", route_alarm_ack,
	  HTTP_AUTH_USER | HTTP_JSON_BODY, "Site attendants: acknowledge an alarm {note}", 0 },
};
const size_t alarm_routes_count = sizeof(alarm_routes) / sizeof(alarm_routes[0]);
