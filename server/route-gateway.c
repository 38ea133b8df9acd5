/*
 * route-gateway.c: the routes a gateway calls (server/API.md "Gateways"), every one
 * behind the gateway signature (HTTP_AUTH_GATEWAY: req->gateway_id is the verified
 * gateway): the locks it covers, the long poll for their management messages, the acks
 * it reports, and which of its locks it reaches. delivery.c and event.c do the work;
 * events are another module's route.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hex.h"
#include "../lib/log.h"
#include "../lib/signer.h"
#include "../lockfw/proto/proto.h"
#include "config.h"
#include "delivery.h"
#include "event.h"
#include "json-field.h"
#include "routes.h"
#include "server.h"

#define ROUTE_GATEWAY_WAIT_MAX_S 60
#define ROUTE_GATEWAY_TRIES 3

static void route_gateway_unavailable(struct http_reply *rep)
{
	http_reply_error(rep, 503, "unavailable", "The database is unavailable; try again.");
	rep->retry_after = 1;
}

static void route_gateway_locks(struct server *srv, struct http_request *req,
				struct http_reply *rep)
{
	struct db *db = server_db_get(srv);
	json_object *list, *o;

	if (db == NULL) {
		route_gateway_unavailable(rep);
		return;
	}
	list = delivery_locks(db, req->gateway_id);
	server_db_put(srv, db);
	if (list == NULL) {
		http_reply_error(rep, 500, "internal", "The locks could not be read; try again.");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "locks", list);
	http_reply_json(rep, 200, o);
}

/* ?wait=N, 0..60 seconds (absent: 0). -1 with the 400 reply set. */
static int route_gateway_wait(const struct http_request *req, struct http_reply *rep)
{
	const char *s = http_query(req, "wait");
	char *end = NULL;
	long v;

	if (s == NULL)
		return 0;
	v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || v < 0 || v > ROUTE_GATEWAY_WAIT_MAX_S) {
		http_reply_error(rep, 400, "bad_field", "wait must be a number of seconds from 0 "
				 "to %d.", ROUTE_GATEWAY_WAIT_MAX_S);
		return -1;
	}
	return (int)v;
}

/* ?resume=0 or 1 (absent: 0). -1 with the 400 reply set. */
static int route_gateway_resume(const struct http_request *req, struct http_reply *rep)
{
	const char *s = http_query(req, "resume");

	if (s == NULL || strcmp(s, "0") == 0)
		return 0;
	if (strcmp(s, "1") == 0)
		return 1;
	http_reply_error(rep, 400, "bad_field", "resume must be 0 or 1 (1: the gateway has just "
			 "started and wants every pending message).");
	return -1;
}

/* The site of `spot`, or 0. */
static int64_t route_gateway_site_of(struct db *db, int64_t spot)
{
	struct db_stmt *st = db_prepare(db, "SELECT site_id FROM spots WHERE id = $1");
	int64_t site = 0;

	if (st != NULL && db_bind_int(st, 1, spot) == 0 && db_step(st) == DB_ROW)
		site = db_col_int(st, 0);
	db_finalize(st);
	return site;
}

/*
 * Re-signs one message's frame with `now` when it is a SET_TIME older than that, in
 * place. 0 (re-signed, or nothing to do), or -1 (left as it was).
 */
static int route_gateway_fresh_time(struct server *srv, struct db *db, json_object *msg,
				    uint32_t now)
{
	uint8_t frame[PROTO_FRAME_MAX];
	char hex[2 * PROTO_FRAME_MAX + 1];
	union proto_mgmt_payload p;
	json_object *v, *spot;
	struct proto_msg m;
	EVP_PKEY *key = NULL;
	int64_t site;
	int n;

	if (!json_object_object_get_ex(msg, "frame", &v) ||
	    !json_object_object_get_ex(msg, "spot", &spot) ||
	    (n = hex_decode(json_object_get_string(v), frame, sizeof(frame))) <= 0 ||
	    proto_decode(frame, (size_t)n, &m) != 0 || m.type != PROTO_MGMT)
		return -1;
	if (m.u.mgmt.mtype != PROTO_MGMT_SET_TIME)
		return 0; /* only a time goes stale while it waits */
	if (proto_mgmt_decode_payload(m.u.mgmt.mtype, m.u.mgmt.payload, m.u.mgmt.plen, &p) != 0)
		return -1;
	if (p.time >= now)
		return 0;
	site = route_gateway_site_of(db, json_object_get_int64(spot));
	if (site <= 0 || server_site_key(srv, db, site, &key) != 0)
		return -1;
	p.time = now;
	n = signer_mgmt_frame(key, (uint32_t)site, 0, PROTO_MGMT_SET_TIME, m.u.mgmt.target_spot,
			      m.u.mgmt.seq, &p, frame, sizeof(frame));
	EVP_PKEY_free(key);
	if (n <= 0 || hex_encode(frame, (size_t)n, hex, sizeof(hex)) < 0)
		return -1;
	json_object_object_add(msg, "frame", json_object_new_string(hex));
	return 0;
}

/*
 * A SET_TIME carries the server's clock when it leaves, not when it was queued: one that
 * waited (for the lock's provisioning, a gateway that was down) would set the lock's
 * clock behind by as long, and a key would outlive its end at that lock by as much.
 * Each is signed again with the time now, under the same sequence.
 */
static void route_gateway_fresh_times(struct server *srv, struct db *db, json_object *list)
{
	uint32_t now = (uint32_t)server_now(srv);
	size_t i, n = json_object_array_length(list);

	for (i = 0; i < n; i++)
		if (route_gateway_fresh_time(srv, db, json_object_array_get_idx(list, i), now) != 0)
			log_warn("gateway: a SET_TIME could not be signed afresh; sent as queued");
}

/*
 * The long poll: the messages due for this gateway at once if there are any (each given
 * out at most once per redeliver_s, or all of them after the gateway's restart), else a
 * wait for a wake-up (new messages queued), the next message that falls due again, or
 * the time-out. The database connection goes back to the pool before every wait.
 */
static void route_gateway_messages(struct server *srv, struct http_request *req,
				   struct http_reply *rep)
{
	int wait_s = route_gateway_wait(req, rep), resume;
	int64_t deadline_ms, now_ms, left_ms, next_due = 0;
	uint64_t gen = 0;
	json_object *list = NULL, *o;
	struct db *db;

	if (wait_s < 0 || (resume = route_gateway_resume(req, rep)) < 0)
		return;
	deadline_ms = server_now(srv) * 1000 + (int64_t)wait_s * 1000;
	/* The generation before the first look: a wake-up from then on is not missed. */
	(void)server_wait_gateways(srv, 0, 0, &gen);
	for (;;) {
		db = server_db_get(srv);
		if (db == NULL) {
			route_gateway_unavailable(rep);
			return;
		}
		list = delivery_give(db, req->gateway_id, server_now(srv),
				     server_config(srv)->redeliver_s, resume != 0,
				     DELIVERY_BATCH_MAX, &next_due);
		if (list != NULL)
			route_gateway_fresh_times(srv, db, list);
		server_db_put(srv, db);
		if (list == NULL) {
			http_reply_error(rep, 500, "internal",
					 "The messages could not be read; try again.");
			return;
		}
		now_ms = server_now(srv) * 1000;
		left_ms = deadline_ms - now_ms;
		if (json_object_array_length(list) > 0 || left_ms <= 0)
			break;
		json_object_put(list);
		list = NULL;
		resume = 0; /* everything pending was just given: nothing more to resume */
		if (next_due > 0 && next_due * 1000 - now_ms < left_ms)
			left_ms = next_due * 1000 - now_ms > 0 ? next_due * 1000 - now_ms : 1;
		if (server_wait_gateways(srv, gen, (int)left_ms, &gen) < 0)
			break;
	}
	/*
	 * Nothing goes to a lock that a power cut could still take back: every commit the
	 * read could see is durable before the reply.
	 */
	server_durable_wait(srv);
	o = json_object_new_object();
	json_object_object_add(o, "messages", list != NULL ? list : json_object_new_array());
	http_reply_json(rep, 200, o);
}

/* One ack of the report, checked for shape before anything is stored. */
struct route_gateway_ack {
	int64_t id;
	uint8_t frame[PROTO_FRAME_MAX];
	int frame_len;   /* -1 when the gateway reports an error word instead */
	const char *error;
};

/* Reads {"acks":[...]}: every entry {"id", "frame"} or {"id", "error"}. -1 with the 400 set. */
static int route_gateway_read_acks(json_object *body, struct route_gateway_ack **out, size_t *n,
				   struct http_reply *rep)
{
	json_object *arr = NULL;
	struct route_gateway_ack *acks;
	size_t i;

	if (!json_object_object_get_ex(body, "acks", &arr) || arr == NULL) {
		http_reply_error(rep, 400, "missing_field", "acks is missing: send "
				 "{\"acks\":[{\"id\":..,\"frame\":\"<hex MGMT_ACK>\"}]}.");
		return -1;
	}
	if (!json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) > DELIVERY_ACKS_MAX) {
		http_reply_error(rep, 400, "bad_field", "acks must be an array of at most %d "
				 "entries.", DELIVERY_ACKS_MAX);
		return -1;
	}
	*n = json_object_array_length(arr);
	acks = calloc(*n + 1, sizeof(*acks));
	if (acks == NULL) {
		http_reply_error(rep, 500, "internal", "Out of memory.");
		return -1;
	}
	for (i = 0; i < *n; i++) {
		json_object *a = json_object_array_get_idx(arr, i);
		bool has_frame = json_field_present(a, "frame");
		bool has_error = json_field_present(a, "error");

		if (!json_object_is_type(a, json_type_object) || has_frame == has_error) {
			http_reply_error(rep, 400, "bad_field", "acks[%zu] must be an object with "
					 "an id and either a frame or an error.", i);
			goto fail;
		}
		if (json_field_int(a, "id", 1, INT64_MAX - 1, &acks[i].id, rep) != 0)
			goto fail;
		acks[i].frame_len = -1;
		if (has_frame) {
			acks[i].frame_len = json_field_hex(a, "frame", acks[i].frame, 1,
							   sizeof(acks[i].frame), rep);
			if (acks[i].frame_len < 0)
				goto fail;
		} else {
			acks[i].error = json_field_string(a, "error", 1, DELIVERY_ERROR_MAX, rep);
			if (acks[i].error == NULL)
				goto fail;
		}
	}
	*out = acks;
	return 0;
fail:
	free(acks);
	return -1;
}

static const struct {
	int err;
	const char *code;
} route_gateway_ack_errors[] = {
	{ DELIVERY_E_NOTFOUND, "not_found" },
	{ DELIVERY_E_FORBIDDEN, "forbidden" },
	{ DELIVERY_E_BAD_ACK, "bad_ack" },
};

static const char *route_gateway_ack_code(int err)
{
	size_t i;

	for (i = 0; i < sizeof(route_gateway_ack_errors) / sizeof(route_gateway_ack_errors[0]); i++)
		if (route_gateway_ack_errors[i].err == -err)
			return route_gateway_ack_errors[i].code;
	return "rejected";
}

/*
 * Applies every ack in one transaction. Acks refused for their own reasons (unknown,
 * not covered, not verifying) are listed in *rejected and change nothing; a storage
 * failure undoes the whole report. 0, or -DELIVERY_E_BUSY / -DELIVERY_E_INTERNAL.
 */
static int route_gateway_apply(struct server *srv, struct db *db, const struct http_request *req,
			       const struct route_gateway_ack *acks, size_t n, size_t *accepted,
			       size_t *resent, json_object *rejected)
{
	char result[32], detail[160], again[48];
	int64_t resent_id;
	size_t i;
	int r;

	*accepted = 0;
	*resent = 0;
	for (i = 0; i < n; i++) {
		const struct route_gateway_ack *a = &acks[i];

		r = delivery_ack(db, server_master_key(srv), req->gateway_id, server_now(srv),
				 a->id, a->frame_len >= 0 ? a->frame : NULL,
				 a->frame_len >= 0 ? (size_t)a->frame_len : 0, a->error, result,
				 &resent_id);
		if (r == -DELIVERY_E_BUSY || r == -DELIVERY_E_INTERNAL)
			return r;
		if (r != 0) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "id", json_object_new_int64(a->id));
			json_object_object_add(o, "error",
					       json_object_new_string(route_gateway_ack_code(r)));
			json_object_array_add(rejected, o);
			continue;
		}
		again[0] = '\0';
		if (resent_id > 0) {
			snprintf(again, sizeof(again), ", sent again as message %lld",
				 (long long)resent_id);
			(*resent)++;
		}
		snprintf(detail, sizeof(detail), "message %lld via gateway %lld: %s%s%s",
			 (long long)a->id, (long long)req->gateway_id,
			 a->error != NULL ? "not delivered, " : "",
			 a->error != NULL ? a->error : result, again);
		server_audit_request(srv, db, req, 0, "delivery", detail);
		(*accepted)++;
	}
	return 0;
}

static void route_gateway_acks(struct server *srv, struct http_request *req,
			       struct http_reply *rep)
{
	struct route_gateway_ack *acks = NULL;
	json_object *rejected = NULL, *o;
	struct db *db;
	size_t n = 0, accepted = 0, resent = 0;
	int r = -DELIVERY_E_BUSY, tries;

	if (route_gateway_read_acks(req->json, &acks, &n, rep) != 0)
		return;
	db = server_db_get(srv);
	if (db == NULL) {
		free(acks);
		route_gateway_unavailable(rep);
		return;
	}
	for (tries = 0; tries < ROUTE_GATEWAY_TRIES && r == -DELIVERY_E_BUSY; tries++) {
		json_object_put(rejected);
		rejected = json_object_new_array();
		if (db_begin(db) != 0)
			continue;
		r = route_gateway_apply(srv, db, req, acks, n, &accepted, &resent, rejected);
		if (r == 0 && db_commit(db) != 0)
			r = -DELIVERY_E_BUSY;
		if (r != 0)
			db_rollback(db);
	}
	server_db_put(srv, db);
	free(acks);
	if (r != 0) {
		json_object_put(rejected);
		if (r == -DELIVERY_E_BUSY) {
			route_gateway_unavailable(rep);
			return;
		}
		log_msg(LOG_ERROR, "acks of gateway %lld could not be stored",
			(long long)req->gateway_id);
		http_reply_error(rep, 500, "internal",
				 "The acks could not be stored; send them again.");
		return;
	}
	if (resent > 0) {
		server_count(srv, "parkd_mgmt_resends_total", resent);
		server_wake_gateways(srv);
	}
	o = json_object_new_object();
	json_object_object_add(o, "accepted", json_object_new_int64((int64_t)accepted));
	json_object_object_add(o, "rejected", rejected);
	http_reply_json(rep, 200, o);
}

/*
 * Which locks the gateway reaches: stored whole or not at all (event.c), then each
 * change goes to the event streams and, going offline, counts as an alarm.
 */
static void route_gateway_status(struct server *srv, struct http_request *req,
				 struct http_reply *rep)
{
	struct event_online_in *in = NULL;
	struct event_stored *out = NULL;
	struct event_error err;
	struct db *db = NULL;
	json_object *o, *kind;
	size_t i, nout = 0;
	int n;

	in = calloc(EVENT_ONLINE_MAX, sizeof(*in));
	out = calloc(EVENT_ONLINE_MAX, sizeof(*out));
	if (in == NULL || out == NULL) {
		http_reply_error(rep, 500, "internal", "The server is out of memory; try again.");
		goto out;
	}
	n = event_online_parse(req->json, in, EVENT_ONLINE_MAX, rep);
	if (n < 0)
		goto out;
	db = server_db_get(srv);
	if (db == NULL) {
		route_gateway_unavailable(rep);
		goto out;
	}
	if (event_online(db, req->gateway_id, server_now(srv),
			 server_config(srv)->notify_hook[0] != '\0', in, (size_t)n, out, &nout,
			 &err) != 0) {
		http_reply_error(rep, err.status, err.code, "%s", err.detail);
		goto out;
	}
	server_db_put(srv, db);
	db = NULL;
	for (i = 0; i < nout; i++) {
		server_publish(srv, out[i].site_id, out[i].spot_id, out[i].json);
		if (json_object_object_get_ex(out[i].json, "kind", &kind) &&
		    strcmp(json_object_get_string(kind), "offline") == 0)
			server_count(srv, "parkd_locks_offline_total", 1);
	}
	o = json_object_new_object();
	json_object_object_add(o, "accepted", json_object_new_int64(n));
	json_object_object_add(o, "changed", json_object_new_int64((int64_t)nout));
	http_reply_json(rep, 200, o);
out:
	if (db != NULL)
		server_db_put(srv, db);
	if (out != NULL)
		event_stored_free(out, nout);
	free(out);
	free(in);
}

const struct http_route gateway_routes[] = {
	{ "GET", "/v1/gateway/locks", route_gateway_locks, HTTP_AUTH_GATEWAY,
	  "Gateway: the locks it covers, with the newest event sequence stored from each", 0 },
	{ "GET", "/v1/gateway/messages", route_gateway_messages, HTTP_AUTH_GATEWAY,
	  "Gateway: long poll (?wait=0..60 s, resume=1 after its start) for management "
	  "messages to its locks", 0 },
	{ "POST", "/v1/gateway/acks", route_gateway_acks, HTTP_AUTH_GATEWAY | HTTP_JSON_BODY,
	  "Gateway: the locks' signed MGMT_ACKs (or delivery errors) for messages", 0 },
	{ "POST", "/v1/gateway/status", route_gateway_status, HTTP_AUTH_GATEWAY | HTTP_JSON_BODY,
	  "Gateway: which of its locks it reaches (online) and which are out of reach", 0 },
};
const size_t gateway_routes_count = sizeof(gateway_routes) / sizeof(gateway_routes[0]);
