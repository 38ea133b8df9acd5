/*
 * route-gateway.c: the routes a gateway calls (server/API.md "Gateways"), every one
 * behind the gateway signature (HTTP_AUTH_GATEWAY: req->gateway_id is the verified
 * gateway): the locks it covers, the long poll for their management messages, and the
 * acks it reports. delivery.c does the work; events are another module's route.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lockfw/proto/proto.h"
#include "delivery.h"
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

/*
 * The long poll: pending messages at once if there are any, else wait for a wake-up
 * (new messages queued) or the time-out. The database connection goes back to the pool
 * before every wait.
 */
static void route_gateway_messages(struct server *srv, struct http_request *req,
				   struct http_reply *rep)
{
	int wait_s = route_gateway_wait(req, rep);
	int64_t deadline_ms, left_ms;
	uint64_t gen = 0;
	json_object *list = NULL, *o;
	struct db *db;

	if (wait_s < 0)
		return;
	deadline_ms = server_now(srv) * 1000 + (int64_t)wait_s * 1000;
	for (;;) {
		db = server_db_get(srv);
		if (db == NULL) {
			route_gateway_unavailable(rep);
			return;
		}
		list = delivery_pending(db, req->gateway_id, DELIVERY_BATCH_MAX);
		server_db_put(srv, db);
		if (list == NULL) {
			http_reply_error(rep, 500, "internal",
					 "The messages could not be read; try again.");
			return;
		}
		left_ms = deadline_ms - server_now(srv) * 1000;
		if (json_object_array_length(list) > 0 || left_ms <= 0)
			break;
		json_object_put(list);
		list = NULL;
		/* A wake-up between the read above and this wait is kept by the generation. */
		if (server_wait_gateways(srv, gen, (int)left_ms, &gen) < 0)
			break;
	}
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
			       json_object *rejected)
{
	char result[32], detail[160];
	size_t i;
	int r;

	*accepted = 0;
	for (i = 0; i < n; i++) {
		const struct route_gateway_ack *a = &acks[i];

		r = delivery_ack(db, req->gateway_id, server_now(srv), a->id,
				 a->frame_len >= 0 ? a->frame : NULL,
				 a->frame_len >= 0 ? (size_t)a->frame_len : 0, a->error, result);
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
		snprintf(detail, sizeof(detail), "message %lld via gateway %lld: %s%s",
			 (long long)a->id, (long long)req->gateway_id,
			 a->error != NULL ? "not delivered, " : "",
			 a->error != NULL ? a->error : result);
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
	size_t n = 0, accepted = 0;
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
		r = route_gateway_apply(srv, db, req, acks, n, &accepted, rejected);
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
	o = json_object_new_object();
	json_object_object_add(o, "accepted", json_object_new_int64((int64_t)accepted));
	json_object_object_add(o, "rejected", rejected);
	http_reply_json(rep, 200, o);
}

const struct http_route gateway_routes[] = {
	{ "GET", "/v1/gateway/locks", route_gateway_locks, HTTP_AUTH_GATEWAY,
	  "Gateway: the locks it covers, with the newest event sequence stored from each" },
	{ "GET", "/v1/gateway/messages", route_gateway_messages, HTTP_AUTH_GATEWAY,
	  "Gateway: long poll (?wait=0..60 s) for management messages to its locks" },
	{ "POST", "/v1/gateway/acks", route_gateway_acks, HTTP_AUTH_GATEWAY | HTTP_JSON_BODY,
	  "Gateway: the locks' signed MGMT_ACKs (or delivery errors) for messages" },
};
const size_t gateway_routes_count = sizeof(gateway_routes) / sizeof(gateway_routes[0]);
