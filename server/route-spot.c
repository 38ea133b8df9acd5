/*
 * route-spot.c: the spot routes: the list with filters, one spot, the owner's settings
 * (policy, limits, sharing), the owner's list of authorised users ([0034]), every key
 * and share on the spot for its owner and the site's staff, and the garage map with the
 * routes to and from the spot (claim 10). The work is spot.c's and site.c's; this file
 * turns requests into calls and results into replies, and asks an owner enrolled for
 * one-time codes for one before the authorised list changes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "event.h"
#include "json-field.h"
#include "otp.h"
#include "routes.h"
#include "server.h"
#include "share.h"
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

static bool is_owner(const struct http_request *req, const struct spot *s)
{
	return s->owner_id != 0 && s->owner_id == req->user->user_id;
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

/* An optional boolean setting: 1 or 0 into *v, or -1 left there when absent. */
static int read_flag(json_object *body, const char *name, int *v, struct http_reply *rep)
{
	bool b = false;

	*v = -1;
	if (!json_field_given(body, name))
		return 0;
	if (json_field_bool(body, name, &b, rep) != 0)
		return -1;
	*v = b ? 1 : 0;
	return 0;
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
	int may_share, approval;
	struct db *db;
	struct spot s;
	int r;

	if (read_settings(req->json, &policy, &region, &valid_s, &max_unlocks, rep) != 0 ||
	    read_flag(req->json, "renters_may_share", &may_share, rep) != 0 ||
	    read_flag(req->json, "require_share_approval", &approval, rep) != 0)
		return;
	db = server_db_get(srv);
	if (load(db, req, rep, &s) != 0)
		goto out;
	if (!may_manage(req, &s)) {
		http_reply_error(rep, 403, "forbidden", "Only the spot's owner may change it.");
		goto out;
	}
	/* The settings and the audit line together, or nothing. */
	server_write_begin(srv);
	r = db_begin(db) == 0 ? 0 : -SPOT_E_INTERNAL;
	if (r == 0)
		r = spot_set_policy(db, s.id, policy, region, valid_s, max_unlocks);
	if (r == 0 && (may_share >= 0 || approval >= 0))
		r = spot_set_sharing(db, s.id, may_share, approval);
	if (r == 0)
		server_audit(srv, db, req->user->user_id, "spot_policy", s.name);
	if (r == 0 && db_commit(db) != 0)
		r = -SPOT_E_INTERNAL;
	if (r != 0)
		db_rollback(db);
	server_write_end(srv);
	if (r == -SPOT_E_INVALID) {
		http_reply_error(rep, 400, "bad_field", "policy must be anyone, region (with a "
				 "region) or authorised.");
		goto out;
	}
	if (r != 0 || spot_get(db, s.id, &s) != 0) {
		http_reply_error(rep, 500, "internal", "The spot could not be changed; try again.");
		goto out;
	}
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

/* ---- the authorised list ---- */

/* Loads the spot of the request for its owner, or sets the reply (404, 403). */
static int load_owned(struct db *db, struct http_request *req, struct http_reply *rep,
		      struct spot *s)
{
	if (load(db, req, rep, s) != 0)
		return -1;
	if (!is_owner(req, s)) {
		http_reply_error(rep, 403, "forbidden", "Only the owner of spot %" PRId64 " keeps "
				 "its list of authorised users.", s->id);
		return -1;
	}
	return 0;
}

static void authorised_list(struct server *srv, struct http_request *req,
			    struct http_reply *rep)
{
	struct db *db = server_db_get(srv);
	json_object *list, *o;
	struct spot s;

	if (load_owned(db, req, rep, &s) == 0) {
		list = spot_authorised_list(db, s.id);
		if (list == NULL) {
			http_reply_error(rep, 500, "internal", "The list could not be read; try "
					 "again.");
		} else {
			o = json_object_new_object();
			json_object_object_add(o, "spot_id", json_object_new_int64(s.id));
			json_object_object_add(o, "users", list);
			http_reply_json(rep, 200, o);
		}
	}
	server_db_put(srv, db);
}

#define AUTHORISED_E_REVOKE 100 /* a removed user's key could not be revoked: see err */
#define AUTHORISED_KEYS_MAX 64  /* live keys of one user on one spot revoked per round */

/* A change of the list as the guarded write transaction runs it. */
struct authorised_call {
	struct server *srv;
	const struct http_request *req;
	int64_t spot_id;
	const char *phone;   /* add this account, or ... */
	int64_t user_id;     /* ... remove this user (and the one added) */
	bool added;
	struct share_actor actor; /* the owner; site_key set when removing revokes keys */
	int revoked;              /* keys of the removed user revoked */
	struct share_error err;   /* why one could not be */
};

static int authorised_add_run(struct db *db, void *ctx)
{
	struct authorised_call *c = ctx;
	char detail[96];
	int r = spot_authorised_add(db, c->spot_id, c->phone, &c->user_id, &c->added);

	if (r == 0 && c->added) {
		snprintf(detail, sizeof(detail), "spot %" PRId64 ": user %" PRId64, c->spot_id,
			 c->user_id);
		server_audit_request(c->srv, db, c->req, c->req->user->user_id,
				     "authorised_added", detail);
	}
	return r;
}

/* Up to `cap` live e-keys of the removed user on the spot into ids. Their count, or -1. */
static int authorised_live_keys(struct db *db, const struct authorised_call *c, int64_t *ids,
				int cap)
{
	struct db_stmt *st = db_prepare(db, "SELECT key_id FROM ekeys WHERE spot_id = $1 AND "
					"user_id = $2 AND revoked = 0 AND not_after >= $3 "
					"ORDER BY key_id LIMIT $4");
	int n = 0, r = -1;

	if (st != NULL && db_bind_int(st, 1, c->spot_id) == 0 &&
	    db_bind_int(st, 2, c->user_id) == 0 && db_bind_int(st, 3, c->actor.now) == 0 &&
	    db_bind_int(st, 4, cap) == 0) {
		while ((r = db_step(st)) == DB_ROW)
			ids[n++] = db_col_int(st, 0);
	}
	db_finalize(st);
	return r == DB_DONE ? n : -1;
}

/*
 * A user taken off the list of a spot whose policy is 'authorised' may not use it any
 * more: their live e-keys of the spot are revoked as their owner would (revocation list,
 * their shares ended). 0, -SPOT_E_INTERNAL, or -AUTHORISED_E_REVOKE with c->err.
 */
static int authorised_revoke_keys(struct db *db, struct authorised_call *c)
{
	int64_t ids[AUTHORISED_KEYS_MAX];
	struct share_outcome out;
	int i, n;

	while ((n = authorised_live_keys(db, c, ids, AUTHORISED_KEYS_MAX)) > 0) {
		for (i = 0; i < n; i++) {
			if (share_key_revoke(db, &c->actor, ids[i], &out, &c->err) != 0)
				return -AUTHORISED_E_REVOKE;
			c->revoked++;
		}
	}
	return n == 0 ? 0 : -SPOT_E_INTERNAL;
}

static int authorised_remove_run(struct db *db, void *ctx)
{
	struct authorised_call *c = ctx;
	char detail[96];
	int r;

	c->revoked = 0; /* a retried transaction starts over */
	r = spot_authorised_remove(db, c->spot_id, c->user_id);
	if (r == 0 && c->actor.site_key != NULL)
		r = authorised_revoke_keys(db, c);
	if (r == 0) {
		snprintf(detail, sizeof(detail), "spot %" PRId64 ": user %" PRId64 " (%d key%s "
			 "revoked)", c->spot_id, c->user_id, c->revoked, c->revoked == 1 ? "" : "s");
		server_audit_request(c->srv, db, c->req, c->req->user->user_id,
				     "authorised_removed", detail);
	}
	return r;
}

/* Runs a change of the list for the owner of the request's spot; 0 or -1 (reply set). */
static int authorised_change(struct server *srv, struct db *db, struct http_request *req,
			     struct http_reply *rep, int (*fn)(struct db *, void *),
			     struct authorised_call *c)
{
	const char *code = NULL;
	struct spot s;
	int64_t retry = 0;
	int r, fr = 0;

	if (otp_request_code(req, rep, &code) != 0 || load_owned(db, req, rep, &s) != 0)
		return -1;
	c->srv = srv;
	c->req = req;
	c->spot_id = s.id;
	c->actor.user_id = req->user->user_id;
	c->actor.peer = req->peer;
	c->actor.now = server_now(srv);
	c->actor.master = server_master_key(srv);
	c->actor.keys = server_keys(srv);
	/* Only under 'authorised' does leaving the list take the spot away. */
	if (fn == authorised_remove_run && strcmp(s.policy, "authorised") == 0 &&
	    server_site_key(srv, db, s.site_id, &c->actor.site_key) != 0) {
		http_reply_error(rep, 500, "internal", "The revocation could not be signed; try "
				 "again.");
		return -1;
	}
	r = otp_guarded_write(srv, db, req->user->user_id, code, fn, c, &fr, &retry);
	EVP_PKEY_free(c->actor.site_key);
	c->actor.site_key = NULL;
	if (r != 0) {
		otp_reply_error(rep, r, retry);
		return -1;
	}
	if (fr == -AUTHORISED_E_REVOKE) {
		http_reply_error(rep, c->err.status != 0 ? c->err.status : 500,
				 c->err.code != NULL ? c->err.code : "internal", "%s",
				 c->err.detail[0] != '\0' ? c->err.detail :
				 "The user's keys could not be revoked; try again.");
		return -1;
	}
	if (c->revoked > 0)
		server_wake_gateways(srv);
	if (fr == -SPOT_E_NOUSER)
		http_reply_error(rep, 404, "not_found", "There is no account with the phone "
				 "number %s.", c->phone);
	else if (fr == -SPOT_E_NOTFOUND)
		http_reply_error(rep, 404, "not_found", "User %" PRId64 " is not on the list of "
				 "spot %" PRId64 ".", c->user_id, s.id);
	else if (fr != 0)
		http_reply_error(rep, 500, "internal", "The list could not be changed; try again.");
	return fr == 0 ? 0 : -1;
}

static void authorised_add(struct server *srv, struct http_request *req,
			   struct http_reply *rep)
{
	struct authorised_call c;
	struct db *db;
	json_object *o;

	memset(&c, 0, sizeof(c));
	c.phone = json_field_string(req->json, "phone", 1, 32, rep);
	if (c.phone == NULL)
		return;
	if (!account_phone_valid(c.phone)) {
		http_reply_error(rep, 400, "bad_field", "The field 'phone' must be an E.164 number "
				 "(+8613800000001).");
		return;
	}
	db = server_db_get(srv);
	if (authorised_change(srv, db, req, rep, authorised_add_run, &c) == 0) {
		o = json_object_new_object();
		json_object_object_add(o, "user_id", json_object_new_int64(c.user_id));
		json_object_object_add(o, "phone", json_object_new_string(c.phone));
		http_reply_json(rep, c.added ? 201 : 200, o);
	}
	server_db_put(srv, db);
}

static void authorised_remove(struct server *srv, struct http_request *req,
			      struct http_reply *rep)
{
	const char *u = req->params[1];
	struct authorised_call c;
	struct db *db;
	char *end;

	memset(&c, 0, sizeof(c));
	c.user_id = u != NULL ? strtoll(u, &end, 10) : 0;
	if (u == NULL || *u == '\0' || *end != '\0' || c.user_id < 1) {
		http_reply_error(rep, 404, "not_found", "There is no user %s on the list.",
				 u != NULL ? u : "");
		return;
	}
	db = server_db_get(srv);
	if (authorised_change(srv, db, req, rep, authorised_remove_run, &c) == 0)
		rep->status = 204;
	server_db_put(srv, db);
}

/* ---- keys and shares ---- */

/* GET /v1/spots/{id}/keys: the spot's owner, and the attendants and administrators of
 * its site (server administrators too). */
static void spot_holders(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	struct db *db = server_db_get(srv);
	json_object *keys = NULL, *shares = NULL, *o;
	int64_t now = server_now(srv);
	struct spot s;
	int may;

	if (load(db, req, rep, &s) != 0)
		goto out;
	may = is_owner(req, &s) ? 1 : event_may_watch_site(db, req->user->user_id,
							    req->user->admin, s.site_id);
	if (may < 0) {
		http_reply_error(rep, 500, "internal", "The roles could not be read; try again.");
		goto out;
	}
	if (may == 0) {
		http_reply_error(rep, 403, "forbidden", "Only the owner of spot %" PRId64 " and "
				 "the attendants of its site see its keys.", s.id);
		goto out;
	}
	keys = spot_keys(db, s.id, now);
	shares = keys != NULL ? spot_shares(db, s.id, now) : NULL;
	if (shares == NULL) {
		http_reply_error(rep, 500, "internal", "The keys could not be read; try again.");
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "spot_id", json_object_new_int64(s.id));
	json_object_object_add(o, "spot_name", json_object_new_string(s.name));
	json_object_object_add(o, "keys", keys);
	json_object_object_add(o, "shares", shares);
	keys = shares = NULL; /* transferred */
	http_reply_json(rep, 200, o);
out:
	json_object_put(keys);
	json_object_put(shares);
	server_db_put(srv, db);
}

const struct http_route spot_routes[] = {
	{ "GET", "/v1/spots", spots_list, HTTP_AUTH_USER,
	  "Spots, filtered by ?site=, ?level= and ?free=1", 0 },
	{ "GET", "/v1/spots/{id}", spot_show, HTTP_AUTH_USER,
	  "One spot: place, policy, default key limits, live state", 0 },
	{ "PATCH", "/v1/spots/{id}", spot_update, HTTP_AUTH_USER | HTTP_JSON_BODY,
	  "The owner sets the policy, region, default key limits and sharing rules", 0 },
	{ "GET", "/v1/spots/{id}/authorised", authorised_list, HTTP_AUTH_USER,
	  "The owner: the users authorised for the spot (policy authorised)", 0 },
	{ "POST", "/v1/spots/{id}/authorised", authorised_add, HTTP_AUTH_USER | HTTP_JSON_BODY,
	  "The owner authorises a user by phone (one-time code if enrolled)", 0 },
	{ "DELETE", "/v1/spots/{id}/authorised/{user_id}", authorised_remove, HTTP_AUTH_USER,
	  "The owner takes a user off the authorised list (one-time code if enrolled)", 0 },
	{ "GET", "/v1/spots/{id}/keys", spot_holders, HTTP_AUTH_USER,
	  "The owner and the site's staff: every key and share on the spot", 0 },
	{ "GET", "/v1/spots/{id}/map", spot_map, HTTP_AUTH_USER,
	  "The garage map with the spot and the routes from the entrance and to the exit", 0 },
};
const size_t spot_routes_count = sizeof(spot_routes) / sizeof(spot_routes[0]);
