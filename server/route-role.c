/*
 * route-role.c: the site's staff: a server or site administrator lists, grants and
 * withdraws attendant and administrator roles at a site (role.c does the work).
 */
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "json-field.h"
#include "role.h"
#include "routes.h"
#include "server.h"
#include "site.h"

/* The {id} parameter `i` as an ID, or 0 with a 404 reply set. */
static int64_t id_param(struct http_request *req, int i, struct http_reply *rep)
{
	const char *s = req->params[i];
	char *end;
	long long id = s != NULL ? strtoll(s, &end, 10) : 0;

	if (s == NULL || *s == '\0' || *end != '\0' || id < 1 || id > 4294967295LL) {
		http_reply_error(rep, 404, "not_found", "There is no %s %s.",
				 i == 0 ? "site" : "role", s != NULL ? s : "");
		return 0;
	}
	return id;
}

/* The caller administers the site: the server's admin, or the site's. */
static bool may_manage(struct db *db, const struct http_request *req, int64_t site_id)
{
	return req->user->admin || role_is_site_admin(db, req->user->user_id, site_id);
}

static void roles_list(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	int64_t site = id_param(req, 0, rep);
	struct db *db;
	json_object *list, *o;
	int found;

	if (site == 0)
		return;
	db = server_db_get(srv);
	found = site_exists(db, site);
	if (found < 0) {
		http_reply_error(rep, 500, "internal", "The roles could not be read; try again.");
	} else if (found == 0) {
		http_reply_error(rep, 404, "not_found", "There is no site %lld.", (long long)site);
	} else if (!may_manage(db, req, site)) {
		http_reply_error(rep, 403, "forbidden", "Only the site's administrators may see "
				 "its staff.");
	} else if ((list = role_list(db, site)) == NULL) {
		http_reply_error(rep, 500, "internal", "The roles could not be read; try again.");
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "roles", list);
		http_reply_json(rep, 200, o);
	}
	server_db_put(srv, db);
}

static void grant_error(struct http_reply *rep, int r)
{
	if (r == -ROLE_E_INVALID)
		http_reply_error(rep, 400, "bad_field", "role must be attendant or admin.");
	else if (r == -ROLE_E_NOUSER)
		http_reply_error(rep, 404, "not_found", "No account has this phone number; the "
				 "person must register first.");
	else if (r == -ROLE_E_NOSITE)
		http_reply_error(rep, 404, "not_found", "There is no such site.");
	else
		http_reply_error(rep, 500, "internal", "The role could not be granted; try again.");
}

static void roles_grant(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	int64_t site = id_param(req, 0, rep), id = 0;
	const char *phone, *role;
	json_object *o;
	struct db *db;
	int r;

	if (site == 0 || (phone = json_field_string(req->json, "phone", 9, 16, rep)) == NULL ||
	    (role = json_field_string(req->json, "role", 5, 9, rep)) == NULL)
		return;
	if (!account_phone_valid(phone)) {
		http_reply_error(rep, 400, "bad_field", "The field 'phone' must be an E.164 number: "
				 "'+', then the country code and number (+8613800000001).");
		return;
	}
	db = server_db_get(srv);
	if (!may_manage(db, req, site)) {
		http_reply_error(rep, 403, "forbidden", "Only the site's administrators may grant "
				 "roles.");
		goto out;
	}
	r = role_grant(db, phone, role, site, &id);
	if (r != 0) {
		grant_error(rep, r);
		goto out;
	}
	server_audit(srv, db, req->user->user_id, "role_granted", role);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	http_reply_json(rep, 201, o);
out:
	server_db_put(srv, db);
}

static void roles_revoke(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	int64_t site = id_param(req, 0, rep), id;
	struct db *db;
	int r;

	if (site == 0 || (id = id_param(req, 1, rep)) == 0)
		return;
	db = server_db_get(srv);
	if (!may_manage(db, req, site)) {
		http_reply_error(rep, 403, "forbidden", "Only the site's administrators may withdraw "
				 "roles.");
		goto out;
	}
	r = role_revoke(db, site, id);
	if (r == -ROLE_E_NOTFOUND) {
		http_reply_error(rep, 404, "not_found", "The site has no role %lld.", (long long)id);
		goto out;
	}
	if (r != 0) {
		http_reply_error(rep, 500, "internal", "The role could not be withdrawn; try again.");
		goto out;
	}
	server_audit(srv, db, req->user->user_id, "role_withdrawn", req->params[1]);
	rep->status = 204;
out:
	server_db_put(srv, db);
}

const struct http_route role_routes[] = {
	{ "GET", "/v1/sites/{id}/roles", roles_list, HTTP_AUTH_USER,
	  "Site administrators: the site's attendants and administrators", 0 },
	{ "POST", "/v1/sites/{id}/roles", roles_grant, HTTP_AUTH_USER | HTTP_JSON_BODY,
	  "Site administrators: grant {phone, role: attendant|admin}", 0 },
	{ "DELETE", "/v1/sites/{id}/roles/{role}", roles_revoke, HTTP_AUTH_USER,
	  "Site administrators: withdraw a role", 0 },
};
const size_t role_routes_count = sizeof(role_routes) / sizeof(role_routes[0]);
