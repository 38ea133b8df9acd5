/*
 * route-otp.c: the one-time-code routes: enrol (a new secret for the caller's
 * authenticator app; replacing an active one needs a code from it) and confirm (a code
 * from the new secret makes it the one asked for from then on). otp.c does the work
 * and the checks; this file runs them in a write transaction and replies. The secret is
 * shown once, in the enrolment's reply, and never logged or audited.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "../lib/log.h"
#include "json-field.h"
#include "otp.h"
#include "routes.h"
#include "server.h"

#define ROUTE_OTP_TRIES 3 /* transactions tried when the database is busy */

/* An enrolment as the write transaction runs it. */
struct route_otp_enrol {
	struct server *srv;
	const struct http_request *req;
	char secret[TOTP_BASE32_MAX];
	char uri[OTP_URI_MAX];
};

static int route_otp_enrol_run(struct db *db, void *ctx)
{
	struct route_otp_enrol *e = ctx;
	int r;

	r = otp_enrol(db, server_master_key(e->srv), e->req->user->user_id, e->req->user->phone,
		      server_now(e->srv), e->secret, e->uri);
	if (r == 0)
		server_audit_request(e->srv, db, e->req, e->req->user->user_id, "otp_enrol",
				     "a new secret, not active until confirmed");
	return r;
}

static void route_otp_enrol(struct server *srv, struct http_request *req,
			    struct http_reply *rep)
{
	struct route_otp_enrol e;
	const char *code = NULL;
	struct db *db;
	int64_t retry = 0;
	json_object *o;
	int r, fr = 0;

	memset(&e, 0, sizeof(e));
	e.srv = srv;
	e.req = req;
	if (otp_request_code(req, rep, &code) != 0)
		return;
	db = server_db_get(srv);
	if (db == NULL) {
		http_reply_error(rep, 503, "unavailable", "The database is unavailable; try "
				 "again.");
		rep->retry_after = 1;
		return;
	}
	/* An enrolled user proves the old secret first: a stolen session cannot swap it. */
	r = otp_guarded_write(srv, db, req->user->user_id, code, route_otp_enrol_run, &e, &fr,
			      &retry);
	server_db_put(srv, db);
	if (r == 0 && fr != 0)
		r = fr;
	if (r != 0) {
		otp_reply_error(rep, r, retry);
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "secret", json_object_new_string(e.secret));
		json_object_object_add(o, "uri", json_object_new_string(e.uri));
		json_object_object_add(o, "digits", json_object_new_int(TOTP_DIGITS));
		json_object_object_add(o, "period", json_object_new_int(TOTP_PERIOD_S));
		json_object_object_add(o, "confirmed", json_object_new_boolean(false));
		http_reply_json(rep, 201, o);
	}
	OPENSSL_cleanse(&e, sizeof(e));
}

static void route_otp_confirm(struct server *srv, struct http_request *req,
			      struct http_reply *rep)
{
	const char *code;
	struct db *db;
	int64_t retry = 0;
	json_object *o;
	int r = -OTP_E_BUSY, tries;

	code = json_field_string(req->json, "code", 1, 16, rep);
	if (code == NULL)
		return;
	if (strlen(code) != TOTP_DIGITS || strspn(code, "0123456789") != TOTP_DIGITS) {
		http_reply_error(rep, 400, "bad_field", "The field 'code' must be the %d digits "
				 "your authenticator app shows.", TOTP_DIGITS);
		return;
	}
	db = server_db_get(srv);
	if (db == NULL) {
		http_reply_error(rep, 503, "unavailable", "The database is unavailable; try "
				 "again.");
		rep->retry_after = 1;
		return;
	}
	for (tries = 0; tries < ROUTE_OTP_TRIES && r == -OTP_E_BUSY; tries++) {
		server_write_begin(srv);
		if (db_begin(db) != 0) {
			server_write_end(srv);
			continue;
		}
		r = otp_confirm(db, server_master_key(srv), req->user->user_id, code,
				server_now(srv), &retry);
		if (r == 0)
			server_audit_request(srv, db, req, req->user->user_id, "otp_confirmed",
					     NULL);
		else if (r == -OTP_E_WRONG)
			server_audit_request(srv, db, req, req->user->user_id, "otp_wrong",
					     "confirming the enrolment");
		/* A wrong code stays counted and audited; any other failure leaves no trace. */
		if ((r == 0 || r == -OTP_E_WRONG) && db_commit(db) != 0 && r == 0)
			r = -OTP_E_BUSY;
		if (r != 0)
			db_rollback(db);
		server_write_end(srv);
	}
	server_db_put(srv, db);
	if (r != 0) {
		otp_reply_error(rep, r, retry);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "otp", json_object_new_boolean(true));
	http_reply_json(rep, 200, o);
}

const struct http_route otp_routes[] = {
	{ "POST", "/v1/otp/enrol", route_otp_enrol, HTTP_AUTH_USER,
	  "A new one-time-code secret for an authenticator app (a code if enrolled)", 0 },
	{ "POST", "/v1/otp/confirm", route_otp_confirm, HTTP_AUTH_USER | HTTP_JSON_BODY,
	  "Confirm the new secret with a code from it: codes are asked from then on", 0 },
};
const size_t otp_routes_count = sizeof(otp_routes) / sizeof(otp_routes[0]);
