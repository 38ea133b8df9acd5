/*
 * route-account.c: the account routes: register a phone, verify it with the SMS code
 * and a password, log in, log out, and who am I. Handlers check the body's fields
 * (json-field.h), call account.c, and turn its errors into replies through one table.
 */
#include <stdio.h>
#include <string.h>

#include "../lib/log.h"
#include "account.h"
#include "json-field.h"
#include "otp.h"
#include "routes.h"
#include "server.h"
#include "session.h"

static const struct {
	int err;
	int status;
	const char *code;
	const char *detail;
} route_account_errors[] = {
	{ ACCOUNT_E_INTERNAL, 500, "internal", "The server failed; try again later." },
	{ ACCOUNT_E_RATE_LIMITED, 429, "rate_limited",
	  "Too many attempts; wait the seconds in Retry-After, then try again." },
	{ ACCOUNT_E_SMS, 503, "sms_unavailable",
	  "The SMS code could not be sent; try again later." },
	{ ACCOUNT_E_NO_CODE, 403, "code_expired",
	  "There is no live code for this number (none was asked for, it expired, or it "
	  "was used): ask for a new one with POST /v1/accounts." },
	{ ACCOUNT_E_CODE_WRONG, 403, "code_wrong",
	  "The code is wrong: check the SMS and try again." },
	{ ACCOUNT_E_CODE_TRIES, 403, "code_exhausted",
	  "The code was entered wrong too often: ask for a new one with POST /v1/accounts." },
	{ ACCOUNT_E_CREDENTIALS, 401, "bad_credentials",
	  "The phone number or the password is wrong." },
	{ ACCOUNT_E_BAD_INPUT, 400, "bad_field",
	  "A field is out of bounds; see the API reference." },
};

static void route_account_fail(struct http_reply *rep, int err, const struct account_result *res)
{
	size_t i;

	for (i = 0; i < sizeof(route_account_errors) / sizeof(route_account_errors[0]); i++) {
		if (-err != route_account_errors[i].err)
			continue;
		http_reply_error(rep, route_account_errors[i].status, route_account_errors[i].code,
				 "%s", route_account_errors[i].detail);
		if (-err == ACCOUNT_E_RATE_LIMITED)
			rep->retry_after = (int)res->retry_after;
		return;
	}
	http_reply_error(rep, 500, "internal", "The server failed; try again later.");
}

/* The "phone" field, E.164; NULL with the 400 set. */
static const char *route_account_phone(json_object *body, struct http_reply *rep)
{
	const char *phone = json_field_string(body, "phone", 1, 32, rep);

	if (phone != NULL && !account_phone_valid(phone)) {
		http_reply_error(rep, 400, "bad_field", "The field 'phone' must be an E.164 "
				 "number: '+', then the country code and number, 8 to 15 "
				 "digits (+8613800000001).");
		return NULL;
	}
	return phone;
}

static void route_account_register(struct server *srv, struct http_request *req,
				   struct http_reply *rep)
{
	struct account_result res = { 0 };
	const char *phone;
	json_object *o;
	int r;

	phone = route_account_phone(req->json, rep);
	if (phone == NULL)
		return;
	r = account_register(srv, phone, req->peer, &res);
	if (r != 0) {
		route_account_fail(rep, r, &res);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("code_sent"));
	json_object_object_add(o, "expires_in", json_object_new_int(ACCOUNT_CODE_TTL_S));
	http_reply_json(rep, 202, o);
}

static void route_account_verify(struct server *srv, struct http_request *req,
				 struct http_reply *rep)
{
	struct account_result res = { 0 };
	const char *phone, *code, *password;
	json_object *o;
	int r;

	phone = route_account_phone(req->json, rep);
	if (phone == NULL)
		return;
	code = json_field_string(req->json, "code", ACCOUNT_CODE_DIGITS, ACCOUNT_CODE_DIGITS, rep);
	if (code == NULL)
		return;
	if (strspn(code, "0123456789") != ACCOUNT_CODE_DIGITS) {
		http_reply_error(rep, 400, "bad_field", "The field 'code' must be the %d digits of "
				 "the SMS.", ACCOUNT_CODE_DIGITS);
		return;
	}
	password = json_field_string(req->json, "password", ACCOUNT_PASSWORD_MIN,
				     ACCOUNT_PASSWORD_MAX, rep);
	if (password == NULL)
		return;
	r = account_verify(srv, phone, code, password, req->peer, &res);
	if (r != 0) {
		route_account_fail(rep, r, &res);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "user_id", json_object_new_int64(res.user_id));
	json_object_object_add(o, "created", json_object_new_boolean(res.created));
	http_reply_json(rep, res.created ? 201 : 200, o);
}

static void route_account_login(struct server *srv, struct http_request *req,
				struct http_reply *rep)
{
	struct account_result res = { 0 };
	const char *phone, *password;
	json_object *o;
	int r;

	phone = route_account_phone(req->json, rep);
	if (phone == NULL)
		return;
	password = json_field_string(req->json, "password", 1, ACCOUNT_PASSWORD_MAX, rep);
	if (password == NULL)
		return;
	r = account_login(srv, phone, password, req->peer, &res);
	if (r != 0) {
		route_account_fail(rep, r, &res);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(res.token));
	json_object_object_add(o, "expires_at", json_object_new_int64(res.expires_at));
	json_object_object_add(o, "user_id", json_object_new_int64(res.user_id));
	http_reply_json(rep, 201, o);
}

static void route_account_logout(struct server *srv, struct http_request *req,
				 struct http_reply *rep)
{
	struct db *db = server_db_get(srv);
	int r;

	if (db == NULL) {
		http_reply_error(rep, 500, "internal", "The server failed; try again later.");
		return;
	}
	r = session_delete(db, req->token);
	if (r == 0 || r == -DB_E_NOTFOUND) {
		/* NOTFOUND: a concurrent logout of the same session won; the result is the same. */
		server_audit_request(srv, db, req, req->user->user_id, "logout", NULL);
		rep->status = 204;
	} else {
		log_error("logout: %s", db_errmsg(db));
		http_reply_error(rep, 500, "internal", "The server failed; try again later.");
	}
	server_db_put(srv, db);
}

static void route_account_me(struct server *srv, struct http_request *req,
			     struct http_reply *rep)
{
	struct db *db = server_db_get(srv);
	json_object *o, *roles = NULL;
	int otp = -1;

	if (db == NULL || account_roles(db, req->user, &roles) != 0 ||
	    (otp = otp_enrolled(db, req->user->user_id)) < 0) {
		json_object_put(roles);
		http_reply_error(rep, 500, "internal", "The server failed; try again later.");
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "user_id", json_object_new_int64(req->user->user_id));
	json_object_object_add(o, "phone", json_object_new_string(req->user->phone));
	json_object_object_add(o, "admin", json_object_new_boolean(req->user->admin));
	json_object_object_add(o, "roles", roles);
	/* Whether decisive actions ask this user for a one-time code (route-otp.c). */
	json_object_object_add(o, "otp", json_object_new_boolean(otp == 1));
	http_reply_json(rep, 200, o);
out:
	server_db_put(srv, db);
}

#define ROUTE_ACCOUNT_REGION_MAX 63 /* bytes of a region's name */

/* The account of `phone`: 0 with *id, -DB_E_NOTFOUND, or another -DB_E_*. */
static int route_account_user(struct db *db, const char *phone, int64_t *id)
{
	struct db_stmt *st = db_prepare(db, "SELECT id FROM users WHERE phone = $1");
	int r;

	if (st == NULL)
		return -DB_E_IO;
	r = db_bind_text(st, 1, phone);
	if (r == 0)
		r = db_step(st);
	if (r == DB_ROW)
		*id = db_col_int(st, 0);
	db_finalize(st);
	return r == DB_ROW ? 0 : r == DB_DONE ? -DB_E_NOTFOUND : r < 0 ? r : -DB_E_IO;
}

/* Sets (region a string) or clears (region null) user_id's region: 0 or -DB_E_*. */
static int route_account_set_region(struct db *db, int64_t user_id, const char *region)
{
	int r = db_begin(db);

	if (r == 0)
		r = db_exec(db, "DELETE FROM user_regions WHERE user_id = $1", "i", user_id);
	if (r == 0 && region != NULL)
		r = db_exec(db, "INSERT INTO user_regions (user_id, region) VALUES ($1, $2)", "is",
			    user_id, region);
	if (r == 0)
		r = db_commit(db);
	if (r != 0)
		db_rollback(db);
	return r;
}

/*
 * POST /v1/users/region: an administrator records where a user lives (patent [0034]: a
 * spot whose policy is "region" takes only users of its region). {"phone","region"}; a
 * null region clears it.
 */
static void route_account_region(struct server *srv, struct http_request *req,
				 struct http_reply *rep)
{
	const char *phone, *region = NULL;
	json_object *o;
	struct db *db;
	int64_t user_id;
	int r;

	if (!req->user->admin) {
		http_reply_error(rep, 403, "forbidden", "Only an administrator may set a user's "
				 "region.");
		return;
	}
	if ((phone = json_field_string(req->json, "phone", 9, 16, rep)) == NULL)
		return;
	if (!json_object_object_get_ex(req->json, "region", &o)) {
		http_reply_error(rep, 400, "missing_field", "The field 'region' is missing: give "
				 "the region's name, or null to clear it.");
		return;
	}
	if (o != NULL && (region = json_field_string(req->json, "region", 1,
						     ROUTE_ACCOUNT_REGION_MAX, rep)) == NULL)
		return;
	if (!account_phone_valid(phone)) {
		http_reply_error(rep, 400, "bad_field", "The field 'phone' must be an E.164 number: "
				 "'+', then the country code and number (+8613800000001).");
		return;
	}
	db = server_db_get(srv);
	if (db == NULL) {
		http_reply_error(rep, 503, "unavailable", "The database is busy; try again.");
		return;
	}
	r = route_account_user(db, phone, &user_id);
	if (r == -DB_E_NOTFOUND) {
		http_reply_error(rep, 404, "not_found", "No account has this phone number.");
		goto out;
	}
	if (r == 0)
		r = route_account_set_region(db, user_id, region);
	if (r != 0) {
		http_reply_error(rep, 500, "internal", "The region could not be stored; try again.");
		goto out;
	}
	server_audit_request(srv, db, req, req->user->user_id, "region_set",
			     region != NULL ? region : "(none)");
	o = json_object_new_object();
	json_object_object_add(o, "user_id", json_object_new_int64(user_id));
	json_object_object_add(o, "phone", json_object_new_string(phone));
	json_object_object_add(o, "region", region != NULL ? json_object_new_string(region) : NULL);
	http_reply_json(rep, 200, o);
out:
	server_db_put(srv, db);
}

const struct http_route account_routes[] = {
	{ "POST", "/v1/accounts", route_account_register, HTTP_JSON_BODY,
	  "register a phone number: a 6-digit code goes out by SMS", 0 },
	{ "POST", "/v1/accounts/verify", route_account_verify, HTTP_JSON_BODY,
	  "check the SMS code and set the password (new account or new password)", 0 },
	{ "POST", "/v1/sessions", route_account_login, HTTP_JSON_BODY,
	  "log in with phone and password for a session token", 0 },
	{ "DELETE", "/v1/sessions/current", route_account_logout, HTTP_AUTH_USER,
	  "log out: end the session of the token", 0 },
	{ "GET", "/v1/me", route_account_me, HTTP_AUTH_USER,
	  "the caller's account, roles, and whether one-time codes are on", 0 },
	{ "POST", "/v1/users/region", route_account_region, HTTP_AUTH_USER | HTTP_JSON_BODY,
	  "an administrator sets (or clears with null) the region a user lives in", 0 },
};
const size_t account_routes_count = sizeof(account_routes) / sizeof(account_routes[0]);
