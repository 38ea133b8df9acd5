/*
 * server.h: what every parkd route handler may ask of the running server: a database
 * connection, its configuration, the authenticated caller, the audit trail, the live
 * event hub, and a wake-up for gateways waiting on their long poll. The struct itself
 * is server.c's own.
 */
#ifndef PARK_SERVER_H
#define PARK_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

struct server;

/* A connection for the current request, from a pool; give it back with server_db_put. */
struct db *server_db_get(struct server *srv);
void server_db_put(struct server *srv, struct db *db);

/* The 32-byte master key that wraps private keys at rest (site, reservation keys). */
const uint8_t *server_master_key(const struct server *srv);

/* Seconds since the epoch; one clock for the whole server. */
int64_t server_now(const struct server *srv);

/* The caller of an HTTP_AUTH_USER route (filled by the dispatcher before the handler). */
struct auth_user {
	int64_t user_id;
	char phone[32];
	bool admin;
};
/* 0 when the request carries a live session, else -1 (and the handler was not called). */
int server_caller(struct server *srv, const struct http_request *req, struct auth_user *out);

/* The gateway of an HTTP_AUTH_GATEWAY route. */
int server_gateway(struct server *srv, const struct http_request *req, int64_t *gateway_id);

/*
 * Appends to the audit trail in `db`'s current transaction (or on its own when none):
 * who (user or 0), what ("login", "key_issued", "delivery", "event", "override", ...),
 * and a short detail that never holds a secret.
 */
void server_audit(struct server *srv, struct db *db, int64_t user_id, const char *action,
		  const char *detail);

/*
 * A lock event the server has just stored (once): goes to the event-stream
 * subscribers entitled to it and to the notification hook. `json` is borrowed.
 */
void server_publish(struct server *srv, int64_t site_id, int64_t spot_id, json_object *json);

/* New management messages are queued: wake the gateways' long polls. */
void server_wake_gateways(struct server *srv);

/* Counts for /metrics: name must be a static string ("parkd_ekeys_issued_total"). */
void server_count(struct server *srv, const char *name, uint64_t n);

#endif
