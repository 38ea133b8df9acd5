/*
 * route-share.c: the sharing routes: offer a share of one's key (or of a share one holds),
 * the shares one made, holds or owns the spot of, and what each party may do to one
 * (accept, approve, deny, give up, freeze, unfreeze, remove), revoking a key, and a
 * site's revocation list for the phones to carry. share.c does the work; this file reads
 * bodies, opens the site's key, asks for the one-time code where the owner decides, runs
 * each change in one write transaction, wakes the gateways when something was queued,
 * and replies.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "account.h"
#include "event.h"
#include "json-field.h"
#include "otp.h"
#include "revocation.h"
#include "routes.h"
#include "server.h"
#include "share.h"
#include "site.h"

#define ROUTE_SHARE_U32_MAX 4294967295LL

static void route_share_unavailable(struct http_reply *rep)
{
	http_reply_error(rep, 503, "unavailable", "The database is unavailable; try again.");
	rep->retry_after = 1;
}

/* The {id} parameter: a key, share or site ID; 0 with a 404 reply set. */
static int64_t route_share_param(struct http_request *req, struct http_reply *rep,
				 const char *what)
{
	const char *s = req->params[0];
	char *end;
	long long id = s != NULL ? strtoll(s, &end, 10) : 0;

	if (s == NULL || *s == '\0' || *end != '\0' || id < 1 || id > ROUTE_SHARE_U32_MAX) {
		http_reply_error(rep, 404, "not_found", "There is no %s %s.", what,
				 s != NULL ? s : "");
		return 0;
	}
	return id;
}

static void route_share_error(struct http_reply *rep, const struct share_error *err)
{
	http_reply_error(rep, err->status != 0 ? err->status : 500,
			 err->code != NULL ? err->code : "internal", "%s",
			 err->detail[0] != '\0' ? err->detail : "The change failed; try again.");
	if (rep->status == 503)
		rep->retry_after = 1;
}

static void route_share_reply(struct server *srv, struct db *db, struct http_reply *rep,
			      int status, int64_t share_id, int64_t viewer)
{
	json_object *share = share_json(db, share_id, viewer, server_now(srv)), *o;

	if (share == NULL) {
		http_reply_error(rep, 500, "internal", "The share was stored but could not be "
				 "read; list your shares (GET /v1/shares).");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "share", share);
	http_reply_json(rep, status, o);
}

/* ---- one change of one share or key ---- */

/* What a change needs besides the share or key and the actor. */
struct route_share_args {
	uint8_t device_pub[PROTO_PUBKEY_LEN]; /* accept */
};

typedef int (*route_share_fn)(struct db *db, const struct share_actor *a, int64_t id,
			      const struct route_share_args *args, struct share_outcome *out,
			      struct share_error *err);

static int route_share_accept_fn(struct db *db, const struct share_actor *a, int64_t id,
				 const struct route_share_args *args, struct share_outcome *out,
				 struct share_error *err)
{
	return share_accept(db, a, id, args->device_pub, out, err);
}

static int route_share_approve_fn(struct db *db, const struct share_actor *a, int64_t id,
				  const struct route_share_args *args, struct share_outcome *out,
				  struct share_error *err)
{
	(void)args;
	return share_decide(db, a, id, true, out, err);
}

static int route_share_deny_fn(struct db *db, const struct share_actor *a, int64_t id,
			       const struct route_share_args *args, struct share_outcome *out,
			       struct share_error *err)
{
	(void)args;
	return share_decide(db, a, id, false, out, err);
}

static int route_share_give_up_fn(struct db *db, const struct share_actor *a, int64_t id,
				  const struct route_share_args *args, struct share_outcome *out,
				  struct share_error *err)
{
	(void)args;
	return share_give_up(db, a, id, out, err);
}

static int route_share_freeze_fn(struct db *db, const struct share_actor *a, int64_t id,
				 const struct route_share_args *args, struct share_outcome *out,
				 struct share_error *err)
{
	(void)args;
	return share_freeze(db, a, id, true, out, err);
}

static int route_share_unfreeze_fn(struct db *db, const struct share_actor *a, int64_t id,
				   const struct route_share_args *args,
				   struct share_outcome *out, struct share_error *err)
{
	(void)args;
	return share_freeze(db, a, id, false, out, err);
}

static int route_share_remove_fn(struct db *db, const struct share_actor *a, int64_t id,
				 const struct route_share_args *args, struct share_outcome *out,
				 struct share_error *err)
{
	(void)args;
	return share_delete(db, a, id, out, err);
}

static int route_share_revoke_fn(struct db *db, const struct share_actor *a, int64_t id,
				 const struct route_share_args *args, struct share_outcome *out,
				 struct share_error *err)
{
	(void)args;
	return share_key_revoke(db, a, id, out, err);
}

/* One verb: what it calls, whether the one-time code guards it, how it replies. */
struct route_share_verb {
	const char *what;    /* "share" or "key": the {id} names one */
	route_share_fn fn;
	bool otp;            /* an enrolled caller must give a current one-time code */
	int status;          /* the reply's: 200 with the share, 204, or 200 with the key */
};

enum {
	ROUTE_SHARE_ACCEPT, ROUTE_SHARE_APPROVE, ROUTE_SHARE_DENY, ROUTE_SHARE_GIVE_UP,
	ROUTE_SHARE_FREEZE, ROUTE_SHARE_UNFREEZE, ROUTE_SHARE_REMOVE, ROUTE_SHARE_REVOKE,
};

static const struct route_share_verb route_share_verbs[] = {
	[ROUTE_SHARE_ACCEPT] = { "share", route_share_accept_fn, false, 200 },
	[ROUTE_SHARE_APPROVE] = { "share", route_share_approve_fn, true, 200 },
	[ROUTE_SHARE_DENY] = { "share", route_share_deny_fn, true, 200 },
	[ROUTE_SHARE_GIVE_UP] = { "share", route_share_give_up_fn, false, 200 },
	[ROUTE_SHARE_FREEZE] = { "share", route_share_freeze_fn, true, 200 },
	[ROUTE_SHARE_UNFREEZE] = { "share", route_share_unfreeze_fn, true, 200 },
	[ROUTE_SHARE_REMOVE] = { "share", route_share_remove_fn, true, 204 },
	[ROUTE_SHARE_REVOKE] = { "key", route_share_revoke_fn, true, 200 },
};

/* A change as the write transaction runs it. */
struct route_share_call {
	const struct route_share_verb *verb;
	struct share_actor actor;
	int64_t id;
	struct route_share_args args;
	struct share_outcome out;
	struct share_error err;
};

static int route_share_run(struct db *db, void *ctx)
{
	struct route_share_call *c = ctx;

	return c->verb->fn(db, &c->actor, c->id, &c->args, &c->out, &c->err);
}

/*
 * What the event streams of the share's spot are told when the share changes:
 * {"kind":"share","site","spot","share_id","state","mode","received_at"}, without the
 * people in it (a renter of the spot follows its stream too); the owner's screens read
 * the rest. NULL when `id` is no share the viewer may see (a key's revocation).
 */
static json_object *route_share_news(struct server *srv, struct db *db, int64_t id,
				     int64_t viewer)
{
	static const char *const copied[] = { "site_id", "spot_id", "share_id", "state",
					      "mode" };
	static const char *const as[] = { "site", "spot", "share_id", "state", "mode" };
	json_object *sh = share_json(db, id, viewer, server_now(srv)), *o, *v;
	size_t i;

	if (sh == NULL)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string("share"));
	for (i = 0; o != NULL && i < sizeof(copied) / sizeof(copied[0]); i++)
		if (json_object_object_get_ex(sh, copied[i], &v))
			json_object_object_add(o, as[i], json_object_get(v));
	json_object_put(sh);
	return o;
}

/* Publishes news of route_share_news() (NULL: nothing), stamped now, and drops it. */
static void route_share_publish(struct server *srv, json_object *o)
{
	if (o == NULL)
		return;
	json_object_object_add(o, "received_at", json_object_new_int64(server_now(srv)));
	server_publish(srv, json_object_get_int64(json_object_object_get(o, "site")),
		       json_object_get_int64(json_object_object_get(o, "spot")), o);
	json_object_put(o);
}

static void route_share_actor(struct server *srv, const struct http_request *req,
			      struct share_actor *a)
{
	memset(a, 0, sizeof(*a));
	a->user_id = req->user->user_id;
	a->peer = req->peer;
	a->now = server_now(srv);
	a->master = server_master_key(srv);
	a->keys = server_keys(srv);
}

/* The key reply of a revocation. */
static void route_share_revoked(struct http_reply *rep, const struct route_share_call *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "key_id", json_object_new_int64(c->id));
	json_object_object_add(o, "revoked", json_object_new_boolean(true));
	json_object_object_add(o, "revoked_at", json_object_new_int64(c->actor.now));
	json_object_object_add(o, "revocation_serial", json_object_new_int64(c->out.serial));
	http_reply_json(rep, 200, o);
}

static void route_share_act(struct server *srv, struct http_request *req,
			    struct http_reply *rep, const struct route_share_verb *v)
{
	struct route_share_call c;
	const char *code = NULL;
	struct db *db;
	EVP_PKEY *key = NULL;
	json_object *gone = NULL; /* the news of a share being removed */
	int64_t site_id = 0, retry = 0;
	int r, fr = 0;

	memset(&c, 0, sizeof(c));
	c.verb = v;
	c.id = route_share_param(req, rep, v->what);
	if (c.id == 0)
		return;
	if (v->fn == route_share_accept_fn &&
	    json_field_hex(req->json, "device_pub", c.args.device_pub, PROTO_PUBKEY_LEN,
			   PROTO_PUBKEY_LEN, rep) < 0)
		return;
	/* Every verb's optional body is checked alike; only the guarded ones use the code. */
	if (v->fn != route_share_accept_fn && otp_request_code(req, rep, &code) != 0)
		return;
	if (!v->otp)
		code = NULL;
	db = server_db_get(srv);
	if (db == NULL) {
		route_share_unavailable(rep);
		return;
	}
	r = share_site_of(db, c.id, &site_id);
	if (r != 0) {
		if (r == -SHARE_E_NOTFOUND)
			http_reply_error(rep, 404, "not_found", "There is no %s %" PRId64 ".",
					 v->what, c.id);
		else
			http_reply_error(rep, 500, "internal", "The %s could not be read; try "
					 "again.", v->what);
		goto out;
	}
	if (server_site_key(srv, db, site_id, &key) != 0) {
		log_error("share: the key of site %" PRId64 " does not open", site_id);
		http_reply_error(rep, 500, "internal", "The change could not be signed; try "
				 "again.");
		goto out;
	}
	route_share_actor(srv, req, &c.actor);
	c.actor.site_key = key;
	/* A removed share is listed nowhere afterwards: its news is read before. */
	if (v->fn == route_share_remove_fn)
		gone = route_share_news(srv, db, c.id, req->user->user_id);
	r = otp_guarded_write(srv, db, v->otp ? req->user->user_id : 0, code, route_share_run,
			      &c, &fr, &retry);
	if (r != 0) {
		otp_reply_error(rep, r, retry);
		goto out;
	}
	if (fr != 0) {
		if (fr == -SHARE_E_INTERNAL)
			log_error("share: %s %" PRId64 ": %s", v->what, c.id, c.err.detail);
		route_share_error(rep, &c.err);
		goto out;
	}
	if (c.out.message_id != 0 || c.out.serial != 0)
		server_wake_gateways(srv);
	if (gone != NULL) {
		json_object_object_add(gone, "state", json_object_new_string("removed"));
		route_share_publish(srv, gone);
		gone = NULL;
	} else {
		route_share_publish(srv, route_share_news(srv, db, c.id, req->user->user_id));
	}
	if (v->fn == route_share_accept_fn)
		server_count(srv, "parkd_shares_accepted_total", 1);
	if (c.out.serial != 0)
		server_count(srv, "parkd_revocation_lists_total", 1);
	if (v->status == 204)
		rep->status = 204;
	else if (v->fn == route_share_revoke_fn)
		route_share_revoked(rep, &c);
	else
		route_share_reply(srv, db, rep, v->status, c.id, req->user->user_id);
out:
	json_object_put(gone);
	EVP_PKEY_free(key);
	server_db_put(srv, db);
}

#define ROUTE_SHARE_VERB(name, verb) \
	static void name(struct server *srv, struct http_request *req, struct http_reply *rep) \
	{ \
		route_share_act(srv, req, rep, &route_share_verbs[verb]); \
	}

ROUTE_SHARE_VERB(route_share_accept, ROUTE_SHARE_ACCEPT)
ROUTE_SHARE_VERB(route_share_approve, ROUTE_SHARE_APPROVE)
ROUTE_SHARE_VERB(route_share_deny, ROUTE_SHARE_DENY)
ROUTE_SHARE_VERB(route_share_give_up, ROUTE_SHARE_GIVE_UP)
ROUTE_SHARE_VERB(route_share_freeze, ROUTE_SHARE_FREEZE)
ROUTE_SHARE_VERB(route_share_unfreeze, ROUTE_SHARE_UNFREEZE)
ROUTE_SHARE_VERB(route_share_remove, ROUTE_SHARE_REMOVE)
ROUTE_SHARE_VERB(route_share_revoke, ROUTE_SHARE_REVOKE)

/* ---- offering ---- */

/* An optional integer field into *v (left as it is when absent). 0, or -1 with rep set. */
static int route_share_opt_int(json_object *body, const char *name, int64_t hi, int64_t *v,
			       struct http_reply *rep)
{
	if (!json_field_given(body, name))
		return 0;
	return json_field_int(body, name, 0, hi, v, rep);
}

/* Reads POST /v1/shares into *in. 0, or -1 with the 400 reply set. */
static int route_share_offer_body(json_object *body, struct share_request *in,
				  struct http_reply *rep)
{
	const char *mode;
	bool may = false;

	memset(in, 0, sizeof(*in));
	in->not_before = in->not_after = in->max_unlocks = -1;
	in->may_reshare = -1;
	if (route_share_opt_int(body, "key_id", ROUTE_SHARE_U32_MAX, &in->key_id, rep) != 0 ||
	    route_share_opt_int(body, "share_id", ROUTE_SHARE_U32_MAX, &in->share_id, rep) != 0)
		return -1;
	if (in->key_id != 0 && in->share_id != 0) {
		http_reply_error(rep, 400, "bad_field", "Give key_id (a key you hold) or share_id "
				 "(a share you hold), not both.");
		return -1;
	}
	if (in->key_id == 0 && in->share_id == 0) {
		http_reply_error(rep, 400, json_field_given(body, "key_id") ||
				 json_field_given(body, "share_id") ? "bad_field" : "missing_field",
				 "The field 'key_id' (or 'share_id') must name what you share.");
		return -1;
	}
	in->phone = json_field_string(body, "phone", 1, 32, rep);
	if (in->phone == NULL)
		return -1;
	if (!account_phone_valid(in->phone)) {
		http_reply_error(rep, 400, "bad_field", "The field 'phone' must be the recipient's "
				 "E.164 number (+8613800000001).");
		return -1;
	}
	mode = json_field_string(body, "mode", 1, 16, rep);
	if (mode == NULL)
		return -1;
	in->mode = share_mode_parse(mode);
	if (in->mode == 0) {
		http_reply_error(rep, 400, "bad_field", "The field 'mode' must be \"co-share\" "
				 "(you keep the key) or \"transfer\" (you hand it on).");
		return -1;
	}
	if (route_share_opt_int(body, "not_before", ROUTE_SHARE_U32_MAX, &in->not_before,
				rep) != 0 ||
	    route_share_opt_int(body, "not_after", ROUTE_SHARE_U32_MAX, &in->not_after,
				rep) != 0 ||
	    route_share_opt_int(body, "max_unlocks", 65535, &in->max_unlocks, rep) != 0)
		return -1;
	if (json_field_given(body, "may_reshare")) {
		if (json_field_bool(body, "may_reshare", &may, rep) != 0)
			return -1;
		in->may_reshare = may ? 1 : 0;
	}
	return 0;
}

/* An offer as the write transaction runs it. */
struct route_share_offer_call {
	struct share_actor actor;
	struct share_request in;
	struct share_outcome out;
	struct share_error err;
};

static int route_share_offer_run(struct db *db, void *ctx)
{
	struct route_share_offer_call *c = ctx;

	return share_offer(db, &c->actor, &c->in, &c->out, &c->err);
}

static void route_share_offer(struct server *srv, struct http_request *req,
			      struct http_reply *rep)
{
	struct route_share_offer_call c;
	struct db *db;
	int64_t retry = 0;
	int r, fr = 0;

	memset(&c, 0, sizeof(c));
	if (route_share_offer_body(req->json, &c.in, rep) != 0)
		return;
	db = server_db_get(srv);
	if (db == NULL) {
		route_share_unavailable(rep);
		return;
	}
	route_share_actor(srv, req, &c.actor);
	r = otp_guarded_write(srv, db, 0, NULL, route_share_offer_run, &c, &fr, &retry);
	if (r != 0)
		otp_reply_error(rep, r, retry);
	else if (fr != 0)
		route_share_error(rep, &c.err);
	else {
		route_share_reply(srv, db, rep, c.out.pending ? 202 : 201, c.out.share_id,
				  req->user->user_id);
		route_share_publish(srv, route_share_news(srv, db, c.out.share_id,
							  req->user->user_id));
	}
	server_db_put(srv, db);
}

static void route_share_list(struct server *srv, struct http_request *req,
			     struct http_reply *rep)
{
	struct db *db = server_db_get(srv);
	json_object *list, *o;

	if (db == NULL) {
		route_share_unavailable(rep);
		return;
	}
	list = share_list(db, req->user->user_id, server_now(srv));
	server_db_put(srv, db);
	if (list == NULL) {
		http_reply_error(rep, 500, "internal", "The shares could not be read; try again.");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "shares", list);
	http_reply_json(rep, 200, o);
}

/* ---- the site's revocation list ---- */

static void route_share_revocations(struct server *srv, struct http_request *req,
				    struct http_reply *rep)
{
	int64_t site_id = route_share_param(req, rep, "site");
	struct db *db;
	json_object *o;
	int r;

	if (site_id == 0)
		return;
	db = server_db_get(srv);
	if (db == NULL) {
		route_share_unavailable(rep);
		return;
	}
	r = site_exists(db, site_id);
	if (r <= 0) {
		if (r == 0)
			http_reply_error(rep, 404, "not_found", "There is no site %" PRId64 ".",
					 site_id);
		else
			http_reply_error(rep, 500, "internal", "The site could not be read; try "
					 "again.");
		goto out;
	}
	/* Whoever may open a lock of the site carries its list; and its staff. */
	r = req->user->admin ? 1 : share_site_member(db, req->user->user_id, site_id);
	if (r == 0)
		r = event_may_watch_site(db, req->user->user_id, req->user->admin, site_id);
	if (r <= 0) {
		if (r < 0)
			http_reply_error(rep, 500, "internal", "The keys could not be read; try "
					 "again.");
		else
			http_reply_error(rep, 403, "forbidden", "Only holders of a key or share "
					 "of site %" PRId64 ", its owners and staff get its "
					 "revocation list.", site_id);
		goto out;
	}
	o = revocation_json(db, site_id);
	if (o == NULL)
		http_reply_error(rep, 500, "internal", "The revocation list could not be read; "
				 "try again.");
	else
		http_reply_json(rep, 200, o);
out:
	server_db_put(srv, db);
}

const struct http_route share_routes[] = {
	{ "POST", "/v1/shares", route_share_offer, HTTP_AUTH_USER | HTTP_JSON_BODY,
	  "Share a key (key_id) or a share one holds (share_id) with a user, by phone", 0 },
	{ "GET", "/v1/shares", route_share_list, HTTP_AUTH_USER,
	  "The shares the caller made, holds, or has on the spots they own", 0 },
	{ "POST", "/v1/shares/{id}/accept", route_share_accept, HTTP_AUTH_USER | HTTP_JSON_BODY,
	  "The recipient accepts a share with their device key and gets the shared key", 0 },
	{ "POST", "/v1/shares/{id}/approve", route_share_approve, HTTP_AUTH_USER,
	  "The spot's owner approves a share pending approval (one-time code if enrolled)", 0 },
	{ "POST", "/v1/shares/{id}/deny", route_share_deny, HTTP_AUTH_USER,
	  "The spot's owner refuses a share pending approval (one-time code if enrolled)", 0 },
	{ "POST", "/v1/shares/{id}/give-up", route_share_give_up, HTTP_AUTH_USER,
	  "The recipient gives a share up; the lock learns it from the revocation list", 0 },
	{ "POST", "/v1/shares/{id}/freeze", route_share_freeze, HTTP_AUTH_USER,
	  "The spot's owner freezes an active share (one-time code if enrolled)", 0 },
	{ "POST", "/v1/shares/{id}/unfreeze", route_share_unfreeze, HTTP_AUTH_USER,
	  "The spot's owner unfreezes a frozen share (one-time code if enrolled)", 0 },
	{ "DELETE", "/v1/shares/{id}", route_share_remove, HTTP_AUTH_USER,
	  "The spot's owner removes a share (one-time code if enrolled)", 0 },
	{ "POST", "/v1/keys/{id}/revoke", route_share_revoke, HTTP_AUTH_USER,
	  "The key's holder or the spot's owner revokes an e-key and its shares", 0 },
	{ "GET", "/v1/sites/{id}/revocations", route_share_revocations, HTTP_AUTH_USER,
	  "The site's signed revocation list (REVOKE, target 0) for phones to carry", 0 },
};
const size_t share_routes_count = sizeof(share_routes) / sizeof(share_routes[0]);
