/*
 * route-spot.c: the spot routes: the list with filters, one spot, the owner's settings,
 * and the garage map with the routes to and from the spot (claim 10). The work is
 * spot.c's and site.c's; this file turns requests into calls and results into replies.
 */
#include <stdlib.h>
#include <string.h>

#include "json-field.h"
#include "routes.h"
#include "server.h"
#include "site.h"
#include "spot.h"

/* The {id} parameter as a spot ID, or 0 with a 404 reply set. */
static int64_t spot_param(struct http_request *req, struct http_reply *rep)
{
	const char *s = req->params[0];
	char *end;
	long long id;

	id = s != NULL ? strtoll(s, &end, 10) : 0;
	if (s == NULL || *s == '\0' || *end != '\0' || id < 1 || id > 4294967295LL) {
		http_reply_error(rep, 404, "not_found", "There is no spot %s.", s ? s : "");
		return 0;
	}
	return id;
}

/* Loads the spot of the request, or sets the reply. */
static int load(struct db *db, struct http_request *req, struct http_reply *rep, struct spot *s)
{
	int64_t id = spot_param(req, rep);
	int r;

	if (id == 0)
		return -1;
	r = spot_get(db, id, s);
	if (r == -SPOT_E_NOTFOUND)
		http_reply_error(rep, 404, "not_found", "There is no spot %lld.", (long long)id);
	else if (r != 0)
		http_reply_error(rep, 500, "internal", "The spot could not be read; try again.");
	return r;
}

static bool may_manage(const struct http_request *req, const struct spot *s)
{
	return req->user->admin || (s->owner_id != 0 && s->owner_id == req->user->user_id);
}

static void spots_list(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	const char *site = http_query(req, "site"), *level = http_query(req, "level");
	const char *free_q = http_query(req, "free");
	struct db *db;
	json_object *list, *o;
	char *end = NULL;
	long long site_id = 0;

	if (site != NULL) {
		site_id = strtoll(site, &end, 10);
		if (*site == '\0' || *end != '\0' || site_id < 1 || site_id > 4294967295LL) {
			http_reply_error(rep, 400, "bad_field", "site must be a site ID.");
			return;
		}
	}
	if (level != NULL && (level[0] == '\0' || strlen(level) >= SPOT_TEXT_MAX)) {
		http_reply_error(rep, 400, "bad_field", "level must be a level ID such as B1.");
		return;
	}
	db = server_db_get(srv);
	list = spot_list(db, site_id, level, free_q != NULL && strcmp(free_q, "1") == 0,
			 server_now(srv));
	server_db_put(srv, db);
	if (list == NULL) {
		http_reply_error(rep, 500, "internal", "The spots could not be read; try again.");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "spots", list);
	http_reply_json(rep, 200, o);
}

static void spot_show(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	struct db *db = server_db_get(srv);
	struct spot s;
	json_object *o;

	if (load(db, req, rep, &s) == 0) {
		o = spot_json(db, &s, may_manage(req, &s), server_now(srv));
		if (o != NULL)
			http_reply_json(rep, 200, o);
		else
			http_reply_error(rep, 500, "internal", "The spot could not be read; try again.");
	}
	server_db_put(srv, db);
}

/*
 * Reads the optional settings of a PATCH (a null one is absent, and left as it is); -1
 * with the reply set on a bad field.
 */
static int read_settings(json_object *body, const char **policy, const char **region,
			 int64_t *valid_s, int64_t *max_unlocks, struct http_reply *rep)
{
	*policy = *region = NULL;
	*valid_s = *max_unlocks = -1;
	if (json_field_given(body, "policy") &&
	    (*policy = json_field_string(body, "policy", 5, 10, rep)) == NULL)
		return -1;
	if (json_field_given(body, "region") &&
	    (*region = json_field_string(body, "region", 1, SPOT_NAME_MAX - 1, rep)) == NULL)
		return -1;
	if (json_field_given(body, "key_valid_s") &&
	    json_field_int(body, "key_valid_s", 0, 366LL * 24 * 3600, valid_s, rep) != 0)
		return -1;
	if (json_field_given(body, "key_max_unlocks") &&
	    json_field_int(body, "key_max_unlocks", 0, 65535, max_unlocks, rep) != 0)
		return -1;
	return 0;
}

static void spot_update(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	const char *policy, *region;
	int64_t valid_s, max_unlocks;
	struct db *db;
	struct spot s;
	int r;

	if (read_settings(req->json, &policy, &region, &valid_s, &max_unlocks, rep) != 0)
		return;
	db = server_db_get(srv);
	if (load(db, req, rep, &s) != 0)
		goto out;
	if (!may_manage(req, &s)) {
		http_reply_error(rep, 403, "forbidden", "Only the spot's owner may change it.");
		goto out;
	}
	r = spot_set_policy(db, s.id, policy, region, valid_s, max_unlocks);
	if (r == -SPOT_E_INVALID) {
		http_reply_error(rep, 400, "bad_field", "policy must be anyone, region (with a "
				 "region) or authorised.");
		goto out;
	}
	if (r != 0 || spot_get(db, s.id, &s) != 0) {
		http_reply_error(rep, 500, "internal", "The spot could not be changed; try again.");
		goto out;
	}
	server_audit(srv, db, req->user->user_id, "spot_policy", s.name);
	http_reply_json(rep, 200, spot_json(db, &s, true, server_now(srv)));
out:
	server_db_put(srv, db);
}

static void spot_map(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	struct db *db = server_db_get(srv);
	json_object *map = NULL, *routes = NULL, *o;
	struct spot s;
	int r;

	if (load(db, req, rep, &s) != 0)
		goto out;
	if (site_map(db, s.site_id, &map) != 0) {
		http_reply_error(rep, 500, "internal", "The site map could not be read; try again.");
		goto out;
	}
	r = spot_directions(db, &s, &routes);
	if (r == -SPOT_E_NOROUTE) {
		http_reply_error(rep, 409, "no_route", "No lane leads from an entrance to spot %s "
				 "and on to an exit; the site description must be fixed.", s.name);
		goto out;
	}
	if (r != 0) {
		http_reply_error(rep, 500, "internal", "The routes could not be found; try again.");
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "spot", spot_json(db, &s, false, server_now(srv)));
	json_object_object_add(o, "map", map);
	json_object_object_add(o, "routes", routes);
	map = routes = NULL;
	http_reply_json(rep, 200, o);
out:
	json_object_put(map);
	json_object_put(routes);
	server_db_put(srv, db);
}

const struct http_route spot_routes[] = {
	{ "GET", "/v1/spots", spots_list, HTTP_AUTH_USER,
	  "Spots, filtered by ?site=, ?level= and ?free=1", 0 },
	{ "GET", "/v1/spots/{id}", spot_show, HTTP_AUTH_USER,
	  "One spot: place, policy, default key limits, live state", 0 },
	{ "PATCH", "/v1/spots/{id}", spot_update, HTTP_AUTH_USER | HTTP_JSON_BODY,
	  "The owner sets the policy, region and default key limits", 0 },
	{ "GET", "/v1/spots/{id}/map", spot_map, HTTP_AUTH_USER,
	  "The garage map with the spot and the routes from the entrance and to the exit", 0 },
};
const size_t spot_routes_count = sizeof(spot_routes) / sizeof(spot_routes[0]);
