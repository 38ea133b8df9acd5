/*
 * route-site.c: the site routes: import a site description (admin), the site's map, and
 * the provisioning data an installer loads into each lock (admin). The work is site.c's;
 * this file checks who asks, runs the import in one transaction with its audit line and
 * each new lock's first signed time (timerelay.c), and turns results into replies.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../lib/log.h"
#include "routes.h"
#include "server.h"
#include "site.h"
#include "timerelay.h"

#define ROUTE_SITE_TRIES 3 /* transactions tried when the database is busy */

/* The {id} parameter as a site ID, or 0 with a 404 reply set. */
static int64_t route_site_id(const struct http_request *req, struct http_reply *rep)
{
	const char *s = req->params[0];
	char *end = NULL;
	long long id = s != NULL ? strtoll(s, &end, 10) : 0;

	if (s == NULL || *s == '\0' || *end != '\0' || id < 1 || id > SITE_U32_MAX) {
		http_reply_error(rep, 404, "not_found", "There is no site %s.", s != NULL ? s : "");
		return 0;
	}
	return id;
}

static int route_site_admin(const struct http_request *req, struct http_reply *rep)
{
	if (req->user != NULL && req->user->admin)
		return 0;
	http_reply_error(rep, 403, "forbidden", "Only an administrator may do this.");
	return -1;
}

static void route_site_fail(struct http_reply *rep, struct site_error *e)
{
	http_reply_error(rep, e->status != 0 ? e->status : 500,
			 e->code != NULL ? e->code : "internal", "%s",
			 e->detail[0] != '\0' ? e->detail : "The server failed; try again.");
	if (rep->json != NULL && e->field[0] != '\0')
		json_object_object_add(rep->json, "field", json_object_new_string(e->field));
	if (rep->json != NULL && e->uncovered != NULL) {
		json_object_object_add(rep->json, "uncovered", e->uncovered);
		e->uncovered = NULL; /* transferred */
	}
	if (e->status == 503)
		rep->retry_after = 1;
}

/* Queues the new site's SET_TIMEs in the import's transaction. 0, or -SITE_E_* with *e set. */
static int route_site_time(struct server *srv, struct db *db, int64_t site_id, size_t *queued,
			   struct site_error *e)
{
	int r = timerelay_queue(db, server_master_key(srv), site_id, server_now(srv), 0, queued);

	if (r == 0)
		return 0;
	e->status = r == -TIMERELAY_E_BUSY ? 503 : 500;
	e->code = r == -TIMERELAY_E_BUSY ? "busy" : "internal";
	snprintf(e->detail, sizeof(e->detail), "%s", r == -TIMERELAY_E_BUSY ?
		 "The database is busy; try again." : "The locks' time could not be signed.");
	return r == -TIMERELAY_E_BUSY ? -SITE_E_BUSY : -SITE_E_INTERNAL;
}

static void route_site_create(struct server *srv, struct http_request *req,
			      struct http_reply *rep)
{
	struct site_error err = { 0 };
	struct db *db;
	json_object *o;
	char detail[128];
	int64_t site_id = 0;
	size_t timed = 0;
	int r = -SITE_E_BUSY, tries;

	if (route_site_admin(req, rep) != 0)
		return;
	db = server_db_get(srv);
	if (db == NULL) {
		http_reply_error(rep, 503, "unavailable",
				 "The database is unavailable; try again.");
		return;
	}
	for (tries = 0; tries < ROUTE_SITE_TRIES && r == -SITE_E_BUSY; tries++) {
		site_error_clear(&err);
		if (db_begin(db) != 0) {
			r = -SITE_E_BUSY;
			continue;
		}
		r = site_import(db, server_master_key(srv), server_now(srv), req->json, &site_id,
				&err);
		/* A fresh lock can check time-limited keys only once it has a signed time. */
		if (r == 0)
			r = route_site_time(srv, db, site_id, &timed, &err);
		if (r == 0) {
			snprintf(detail, sizeof(detail), "site %lld imported, time queued for %zu "
				 "locks", (long long)site_id, timed);
			server_audit_request(srv, db, req, req->user->user_id, "site_imported",
					     detail);
			if (db_commit(db) != 0) {
				db_rollback(db);
				r = -SITE_E_BUSY;
			}
		} else {
			db_rollback(db);
		}
	}
	server_db_put(srv, db);
	if (r != 0) {
		if (r == -SITE_E_INTERNAL)
			log_msg(LOG_ERROR, "site import: %s", err.detail);
		route_site_fail(rep, &err);
		site_error_clear(&err);
		return;
	}
	server_wake_gateways(srv);
	o = json_object_new_object();
	json_object_object_add(o, "site_id", json_object_new_int64(site_id));
	http_reply_json(rep, 201, o);
}

static void route_site_view(struct server *srv, struct http_request *req, struct http_reply *rep,
			    int (*view)(struct db *, int64_t, json_object **))
{
	int64_t id = route_site_id(req, rep);
	json_object *o = NULL;
	struct db *db;
	int r;

	if (id == 0)
		return;
	db = server_db_get(srv);
	if (db == NULL) {
		http_reply_error(rep, 503, "unavailable",
				 "The database is unavailable; try again.");
		return;
	}
	r = view(db, id, &o);
	server_db_put(srv, db);
	if (r == -SITE_E_NOTFOUND)
		http_reply_error(rep, 404, "not_found", "There is no site %lld.", (long long)id);
	else if (r != 0)
		http_reply_error(rep, 500, "internal", "The site could not be read; try again.");
	else
		http_reply_json(rep, 200, o);
}

static void route_site_show(struct server *srv, struct http_request *req,
			    struct http_reply *rep)
{
	route_site_view(srv, req, rep, site_map);
}

static void route_site_provisioning(struct server *srv, struct http_request *req,
				    struct http_reply *rep)
{
	if (route_site_admin(req, rep) == 0)
		route_site_view(srv, req, rep, site_provisioning);
}

const struct http_route site_routes[] = {
	{ "POST", "/v1/sites", route_site_create, HTTP_AUTH_USER | HTTP_JSON_BODY,
	  "Admin: import a site description (server/SITE-FORMAT.md)", SITE_BODY_MAX },
	{ "GET", "/v1/sites/{id}", route_site_show, HTTP_AUTH_USER,
	  "The site's map: levels, nodes, lanes, spots with live state, gateways", 0 },
	{ "GET", "/v1/sites/{id}/provisioning", route_site_provisioning, HTTP_AUTH_USER,
	  "Admin: per lock, the spot ID, site ID and site public key an installer loads", 0 },
};
const size_t site_routes_count = sizeof(site_routes) / sizeof(site_routes[0]);
