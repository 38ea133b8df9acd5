/*
 * route-override.c: POST /v1/spots/{id}/override, an attendant lowers or raises a spot's
 * barrier remotely with a typed reason. This file decides who may (the attendants and
 * administrators of the spot's site, and the server's administrators), checks the body
 * and, for a caller enrolled for one-time codes, the code (otp.h), runs override.c's work
 * in one write transaction with that check, then wakes the gateways and tells the event
 * streams and the notification worker.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hex.h"
#include "../lib/log.h"
#include "event.h"
#include "json-field.h"
#include "otp.h"
#include "override.h"
#include "routes.h"
#include "server.h"
#include "spot.h"

#define ROUTE_OVERRIDE_TRIES 3 /* transactions tried when the database is busy */

/* The {id} parameter as a spot ID, or 0 with a 404 reply set. */
static int64_t route_override_spot(struct http_request *req, struct http_reply *rep)
{
	const char *s = req->params[0];
	char *end;
	long long id = s != NULL ? strtoll(s, &end, 10) : 0;

	if (s == NULL || *s == '\0' || *end != '\0' || id < 1 || id > 4294967295LL) {
		http_reply_error(rep, 404, "not_found", "There is no spot %s.", s != NULL ? s : "");
		return 0;
	}
	return id;
}

/* The reply to a reason override_text_check() refused. */
static void route_override_bad_reason(struct http_reply *rep, int why)
{
	switch (why) {
	case OVERRIDE_TEXT_BLANK:
		http_reply_error(rep, 400, "bad_field", "The field 'reason' must say why: it is "
				 "blank.");
		break;
	case OVERRIDE_TEXT_LONG:
		http_reply_error(rep, 400, "bad_field", "The field 'reason' must be at most %d "
				 "characters.", OVERRIDE_TEXT_MAX_CHARS);
		break;
	case OVERRIDE_TEXT_CONTROL:
		http_reply_error(rep, 400, "bad_field", "The field 'reason' must be one line of "
				 "text, without control characters.");
		break;
	default:
		http_reply_error(rep, 400, "bad_field", "The field 'reason' must be UTF-8 text.");
		break;
	}
}

/* Reads and checks {"op","reason"} into *in. 0, or -1 with the 400 reply set. */
static int route_override_body(struct http_request *req, struct http_reply *rep,
			       struct override_in *in)
{
	const char *op, *reason;
	int why;

	op = json_field_string(req->json, "op", 1, 16, rep);
	if (op == NULL)
		return -1;
	in->op = override_op_parse(op);
	if (in->op == 0) {
		http_reply_error(rep, 400, "bad_field", "The field 'op' must be \"unlock\" (lower "
				 "the barrier) or \"lock\" (raise it).");
		return -1;
	}
	reason = json_field_string(req->json, "reason", 0, HTTP_BODY_MAX, rep);
	if (reason == NULL)
		return -1;
	why = override_text_check(reason, strlen(reason), OVERRIDE_TEXT_MAX_CHARS, 0);
	if (why != OVERRIDE_TEXT_OK) {
		route_override_bad_reason(rep, why);
		return -1;
	}
	in->reason = reason;
	return 0;
}

/* An override as the guarded write transaction runs it. */
struct route_override_call {
	struct server *srv;
	EVP_PKEY *key;
	const struct override_in *in;
	struct override_out *out;
};

static int route_override_run(struct db *db, void *ctx)
{
	struct route_override_call *c = ctx;

	return override_request(db, c->key, c->in, server_now(c->srv), c->out);
}

/*
 * The override in one write transaction after the caller's one-time code, retried while
 * the database is busy. Returns override_request()'s result, or 1 with *otp_err (and
 * *retry) when the code was refused.
 */
static int route_override_store(struct server *srv, struct db *db, EVP_PKEY *key,
				const struct override_in *in, const char *code,
				struct override_out *out, int *otp_err, int64_t *retry)
{
	struct route_override_call c = { srv, key, in, out };
	int r = -OVERRIDE_E_BUSY, tries;

	*otp_err = 0;
	for (tries = 0; tries < ROUTE_OVERRIDE_TRIES && r == -OVERRIDE_E_BUSY; tries++) {
		*otp_err = otp_guarded_write(srv, db, in->user_id, code, route_override_run, &c,
					     &r, retry);
		if (*otp_err != 0)
			return 1;
	}
	return r;
}

static void route_override_failed(struct http_reply *rep, int r, int64_t spot)
{
	if (r == -OVERRIDE_E_NOLOCK) {
		http_reply_error(rep, 409, "conflict", "Spot %" PRId64 " has no lock to override.",
				 spot);
	} else if (r == -OVERRIDE_E_SPENT) {
		http_reply_error(rep, 409, "conflict", "The lock of spot %" PRId64 " has used up "
				 "its management sequences; it must be provisioned again.", spot);
	} else if (r == -OVERRIDE_E_BUSY) {
		http_reply_error(rep, 503, "busy", "The database is busy; try again.");
		rep->retry_after = 1;
	} else {
		http_reply_error(rep, 500, "internal", "The override could not be queued; try "
				 "again.");
	}
}

/* What the site's event streams hear: an override is on its way to the lock. */
static void route_override_publish(struct server *srv, const struct override_in *in,
				   const struct override_out *out, int64_t now)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "site", json_object_new_int64(in->site_id));
	json_object_object_add(o, "spot", json_object_new_int64(in->spot_id));
	json_object_object_add(o, "kind", json_object_new_string("override"));
	json_object_object_add(o, "op", json_object_new_string(override_op_name(in->op)));
	json_object_object_add(o, "user_id", json_object_new_int64(in->user_id));
	json_object_object_add(o, "message_id", json_object_new_int64(out->message_id));
	json_object_object_add(o, "seq", json_object_new_int64(out->seq));
	json_object_object_add(o, "received_at", json_object_new_int64(now));
	server_publish(srv, in->site_id, in->spot_id, o);
	json_object_put(o);
}

static void route_override(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	struct override_in in;
	struct override_out out;
	struct spot s;
	struct db *db;
	EVP_PKEY *key = NULL;
	char digest[2 * PROTO_REASON_DIGEST_LEN + 1];
	const char *code = NULL;
	int64_t retry = 0;
	json_object *o;
	int r, otp_err = 0;

	memset(&in, 0, sizeof(in));
	in.spot_id = route_override_spot(req, rep);
	if (in.spot_id == 0)
		return;
	db = server_db_get(srv);
	if (db == NULL) {
		http_reply_error(rep, 503, "unavailable", "The database is unavailable; try "
				 "again.");
		rep->retry_after = 1;
		return;
	}
	r = spot_get(db, in.spot_id, &s);
	if (r != 0) {
		if (r == -SPOT_E_NOTFOUND)
			http_reply_error(rep, 404, "not_found", "There is no spot %" PRId64 ".",
					 in.spot_id);
		else
			http_reply_error(rep, 500, "internal", "The spot could not be read; try "
					 "again.");
		goto out;
	}
	r = event_may_watch_site(db, req->user->user_id, req->user->admin, s.site_id);
	if (r <= 0) {
		if (r < 0)
			http_reply_error(rep, 500, "internal", "The roles could not be read; try "
					 "again.");
		else
			http_reply_error(rep, 403, "forbidden", "Only the attendants and "
					 "administrators of site %" PRId64 " may override its "
					 "locks.", s.site_id);
		goto out;
	}
	if (route_override_body(req, rep, &in) != 0 || otp_request_code(req, rep, &code) != 0)
		goto out;
	in.site_id = s.site_id;
	in.user_id = req->user->user_id;
	in.peer = req->peer;
	if (server_site_key(srv, db, s.site_id, &key) != 0) {
		log_error("override: the key of site %" PRId64 " does not open", s.site_id);
		http_reply_error(rep, 500, "internal", "The override could not be signed; try "
				 "again.");
		goto out;
	}
	r = route_override_store(srv, db, key, &in, code, &out, &otp_err, &retry);
	if (r == 1) {
		otp_reply_error(rep, otp_err, retry);
		goto out;
	}
	if (r != 0) {
		route_override_failed(rep, r, in.spot_id);
		goto out;
	}
	server_wake_gateways(srv);
	route_override_publish(srv, &in, &out, server_now(srv));
	server_count(srv, "parkd_overrides_total", 1);
	hex_encode(out.reason_digest, sizeof(out.reason_digest), digest, sizeof(digest));
	o = json_object_new_object();
	json_object_object_add(o, "message_id", json_object_new_int64(out.message_id));
	json_object_object_add(o, "spot", json_object_new_int64(in.spot_id));
	json_object_object_add(o, "op", json_object_new_string(override_op_name(in.op)));
	json_object_object_add(o, "seq", json_object_new_int64(out.seq));
	json_object_object_add(o, "not_after", json_object_new_int64(out.not_after));
	json_object_object_add(o, "reason_digest", json_object_new_string(digest));
	http_reply_json(rep, 202, o);
out:
	EVP_PKEY_free(key);
	server_db_put(srv, db);
}

const struct http_route override_routes[] = {
	{ "POST", "/v1/spots/{id}/override", route_override, HTTP_AUTH_USER | HTTP_JSON_BODY,
	  "Site attendants: lower or raise the barrier {op: unlock|lock, reason}", 0 },
};
const size_t override_routes_count = sizeof(override_routes) / sizeof(override_routes[0]);
