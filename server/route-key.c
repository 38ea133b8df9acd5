/*
 * route-key.c: the key routes: the caller's reservation key, the e-key request, and the
 * caller's keys. key.c does the work, with the audit line in the same transaction; an
 * e-key request opens on the HTTP event loop and is issued on the server's writer
 * thread (group commit, server_write_async) while its connection waits. This file reads
 * the body, retries a busy database, wakes the gateways once a credential is queued,
 * and replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/ecies.h"
#include "../lib/hex.h"
#include "../lib/log.h"
#include "json-field.h"
#include "key.h"
#include "routes.h"
#include "server.h"

#define ROUTE_KEY_TRIES 3        /* transactions tried when the database is busy */
#define ROUTE_KEY_CT_MAX 256     /* the spot ciphertext is 4 + ECIES_OVERHEAD bytes */

static void route_key_unavailable(struct http_reply *rep)
{
	http_reply_error(rep, 503, "unavailable", "The database is unavailable; try again.");
	rep->retry_after = 1;
}

static json_object *route_key_hex(const uint8_t *p, size_t len)
{
	char buf[2 * PROTO_EKEY_LEN + 1];

	if (hex_encode(p, len, buf, sizeof(buf)) < 0)
		return NULL;
	return json_object_new_string(buf);
}

static void route_key_reservation(struct server *srv, struct http_request *req,
				  struct http_reply *rep)
{
	struct db *db = server_db_get(srv);
	uint8_t pub[64];
	json_object *o;
	bool created = false;
	int r = -KEY_E_BUSY, tries;

	if (db == NULL) {
		route_key_unavailable(rep);
		return;
	}
	for (tries = 0; tries < ROUTE_KEY_TRIES && r == -KEY_E_BUSY; tries++) {
		server_write_begin(srv);
		if (db_begin(db) != 0) {
			server_write_end(srv);
			continue;
		}
		r = key_reservation(db, server_master_key(srv), req->user->user_id, server_now(srv),
				    pub, &created);
		if (r == 0 && created)
			server_audit_request(srv, db, req, req->user->user_id, "reservation_key",
					     "made");
		if (r == 0 && db_commit(db) != 0)
			r = -KEY_E_BUSY;
		if (r != 0)
			db_rollback(db);
		server_write_end(srv);
	}
	server_db_put(srv, db);
	if (r != 0) {
		http_reply_error(rep, r == -KEY_E_BUSY ? 503 : 500,
				 r == -KEY_E_BUSY ? "busy" : "internal",
				 "The reservation key could not be made; try again.");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "public_key", route_key_hex(pub, sizeof(pub)));
	http_reply_json(rep, created ? 201 : 200, o);
}

static json_object *route_key_issued(const struct key_issued *k)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "key_id", json_object_new_int64(k->ekey.key_id));
	json_object_object_add(o, "spot_id", json_object_new_int64(k->ekey.spot_id));
	json_object_object_add(o, "site_id", json_object_new_int64(k->site_id));
	json_object_object_add(o, "user_id", json_object_new_int64(k->ekey.user_id));
	json_object_object_add(o, "not_before", json_object_new_int64(k->ekey.not_before));
	json_object_object_add(o, "not_after", json_object_new_int64(k->ekey.not_after));
	json_object_object_add(o, "max_unlocks", json_object_new_int64(k->ekey.max_unlocks));
	json_object_object_add(o, "flags", json_object_new_int64(k->ekey.flags));
	json_object_object_add(o, "owner", json_object_new_boolean(k->owner));
	json_object_object_add(o, "ekey", route_key_hex(k->wire, sizeof(k->wire)));
	json_object_object_add(o, "delivery", json_object_new_string("pending"));
	return o;
}

/*
 * One e-key request from its reading to its reply. The connection waits for the writer
 * holding no thread (http_defer()); the writer's syncer resumes it once the issuance's
 * transaction is durable, or has failed ROUTE_KEY_TRIES times.
 */
struct route_key_issue {
	struct server *srv;
	struct http_request *req;
	struct key_request kr;       /* opened on the event loop, freed with the request */
	int64_t now;                 /* taken by decide, for the whole issuance */
	struct key_issued k;         /* when decide returned 0 */
	struct key_error err;        /* when it did not */
	int tries;                   /* transactions queued */
	int status;                  /* the last one's: 0 committed, or -DB_E_* */
	int result;                  /* decide's return in it */
};

/* The issuance's decisions and numbers, in the writer's transaction. */
static int route_key_decide(struct db *db, void *ctx)
{
	struct route_key_issue *x = ctx;

	x->now = server_now(x->srv);
	return key_request_decide(db, &x->kr, x->now, &x->k, &x->err);
}

/* Its two signatures, by the writer or a signer, outside the database. */
static int route_key_sign(void *ctx)
{
	struct route_key_issue *x = ctx;

	return key_request_sign(&x->kr, &x->k);
}

/* The signed e-key, the queued credential and the audit line, in the same transaction. */
static int route_key_store(struct db *db, void *ctx)
{
	struct route_key_issue *x = ctx;
	char detail[160];
	int r;

	r = key_request_store(db, server_master_key(x->srv), &x->kr, x->now, &x->k);
	if (r != 0)
		return r;
	snprintf(detail, sizeof(detail), "key %u for spot %u%s, credential queued (message "
		 "%lld, sequence %u)", x->k.ekey.key_id, x->k.ekey.spot_id,
		 x->k.owner ? " (owner)" : "", (long long)x->k.mgmt_id, x->k.mgmt_seq);
	server_audit_request(x->srv, db, x->req, x->req->user->user_id, "key_issued", detail);
	return 0;
}

static const struct server_write_ops route_key_ops = {
	.decide = route_key_decide, .sign = route_key_sign, .store = route_key_store,
};

static void route_key_done(void *ctx, int status, int result);

/* Queues the issuance for the writer, or resumes the request with the failure. */
static void route_key_queue(struct route_key_issue *x)
{
	x->tries++;
	x->status = -DB_E_IO;
	if (server_write_async(x->srv, &route_key_ops, x, route_key_done) != 0)
		http_resume(x->req);
}

/*
 * The syncer's answer: done, or queued again when the shared transaction failed or the
 * database was busy in decide.
 */
static void route_key_done(void *ctx, int status, int result)
{
	struct route_key_issue *x = ctx;

	x->status = status;
	x->result = result;
	if ((status != 0 || result == -KEY_E_BUSY) && x->tries < ROUTE_KEY_TRIES)
		route_key_queue(x);
	else
		http_resume(x->req);
}

/* A refused e-key request (key_request_open(), or decide), or 503 when busy. */
static void route_key_refuse(struct http_reply *rep, int r, const struct key_error *err,
			     int64_t user_id)
{
	if (r == -KEY_E_INTERNAL)
		log_msg(LOG_ERROR, "e-key for user %lld: %s", (long long)user_id, err->detail);
	http_reply_error(rep, err->status != 0 ? err->status : 503,
			 err->code != NULL ? err->code : "busy", "%s",
			 err->detail[0] != '\0' ? err->detail : "The database is busy; try again.");
	if (rep->status == 503)
		rep->retry_after = 1;
}

/* Back on the event loop: the reply. */
static void route_key_finish(struct server *srv, struct http_request *req,
			     struct http_reply *rep)
{
	struct route_key_issue *x = req->work;

	if (x->status != 0) {
		http_reply_error(rep, 503, "busy", "The database is busy; try again.");
		rep->retry_after = 1;
		return;
	}
	if (x->result != 0) {
		route_key_refuse(rep, x->result, &x->err, req->user->user_id);
		return;
	}
	server_wake_gateways(srv);
	server_count(srv, "parkd_ekeys_issued_total", 1);
	http_reply_json(rep, 201, route_key_issued(&x->k));
}

static void route_key_cleanup(void *work)
{
	struct route_key_issue *x = work;

	key_request_free(&x->kr);
	free(x);
}

/*
 * On the event loop: the crypto and the reads (no write lock, see key.h), then the
 * decisions and the writes on the writer thread, committed with those of other requests
 * (group commit). The reply waits for the commit, so 201 means durable.
 */
static void route_key_ekey(struct server *srv, struct http_request *req,
			   struct http_reply *rep)
{
	uint8_t ct[ROUTE_KEY_CT_MAX], device_pub[64];
	struct route_key_issue *x;
	struct db *db;
	int n, r = -KEY_E_BUSY, tries;

	n = json_field_hex(req->json, "spot", ct, 1, sizeof(ct), rep);
	if (n < 0 || json_field_hex(req->json, "device_pub", device_pub, 64, 64, rep) < 0)
		return;
	x = calloc(1, sizeof(*x));
	db = x != NULL ? server_db_get(srv) : NULL;
	if (db == NULL) {
		free(x);
		route_key_unavailable(rep);
		return;
	}
	for (tries = 0; tries < ROUTE_KEY_TRIES && r == -KEY_E_BUSY; tries++)
		r = key_request_open(db, server_master_key(srv), server_keys(srv),
				     req->user->user_id, ct, (size_t)n, device_pub, &x->kr,
				     &x->err);
	/* Failing here, issuing opens the key itself and replies as it always did. */
	if (r == 0 && server_site_key(srv, db, x->kr.site_id, &x->kr.site) != 0)
		x->kr.site = NULL;
	server_db_put(srv, db);
	if (r != 0) {
		route_key_refuse(rep, r, &x->err, req->user->user_id);
		free(x); /* key_request_open() freed what it had opened */
		return;
	}
	x->srv = srv;
	x->req = req;
	r = http_defer(req, route_key_finish, x, route_key_cleanup);
	if (r != 0) {
		route_key_cleanup(x);
		if (r == -HTTP_E_STOPPING) {
			http_reply_error(rep, 503, "shutting_down", "The server is stopping; try "
					 "again in a moment.");
			rep->retry_after = 1;
		} else {
			http_reply_error(rep, 500, "internal", "The server failed; try again later.");
		}
		return;
	}
	route_key_queue(x);
}

static void route_key_list(struct server *srv, struct http_request *req,
			   struct http_reply *rep)
{
	struct db *db = server_db_get(srv);
	json_object *list, *o;

	if (db == NULL) {
		route_key_unavailable(rep);
		return;
	}
	list = key_list(db, req->user->user_id, server_now(srv));
	server_db_put(srv, db);
	if (list == NULL) {
		http_reply_error(rep, 500, "internal", "The keys could not be read; try again.");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "keys", list);
	http_reply_json(rep, 200, o);
}

const struct http_route key_routes[] = {
	{ "POST", "/v1/reservation-key", route_key_reservation, HTTP_AUTH_USER,
	  "The caller's reservation public key: made on the first call, the same afterwards", 0 },
	{ "POST", "/v1/ekeys", route_key_ekey, HTTP_AUTH_USER | HTTP_JSON_BODY | HTTP_NO_WAIT,
	  "An e-key for the spot whose ID is encrypted to the reservation key", 0 },
	{ "GET", "/v1/keys", route_key_list, HTTP_AUTH_USER,
	  "The caller's e-keys with their limits and delivery to the lock", 0 },
};
const size_t key_routes_count = sizeof(key_routes) / sizeof(key_routes[0]);
