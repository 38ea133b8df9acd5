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

#include <openssl/evp.h>

#include "db.h"
#include "http.h"

struct server;
struct config;
struct keycache;
struct hook;

/*
 * A connection for the current request, from a pool; give it back with server_db_put.
 * Waits while every pooled connection is in use (waiters are served in arrival order),
 * so never hold one across a wait (a long poll, a stream). NULL only when the database
 * cannot be opened (logged).
 */
struct db *server_db_get(struct server *srv);
void server_db_put(struct server *srv, struct db *db);

/*
 * Marks the calling thread as one that must never wait (an HTTP event loop): from then
 * on server_db_get() gives it a connection of its own beside the pool (opened on first
 * use, closed when the thread ends), so that it never queues behind threads that hold
 * pooled connections while they wait. Such a thread only reads: a write would wait for
 * the write lock. A second get before the put takes its turn for the pool.
 */
void server_thread_never_waits(struct server *srv);

/*
 * Brackets a write transaction (db_begin() .. db_commit() or db_rollback()) so that the
 * server's writers take the database's write lock one at a time in arrival order,
 * instead of polling for it in SQLite's busy handler, whose backoff sleeps leave the
 * lock idle and serve waiters in no order. Other processes are still kept out by the
 * backend's busy wait. server_write_end() must follow every server_write_begin() on the
 * same thread; hold no other server lock and wait for nothing else in between (the
 * pooled connection is taken before).
 */
void server_write_begin(struct server *srv);
void server_write_end(struct server *srv);

/*
 * Group commit: runs fn(db, ctx) on the server's writer thread, inside one write
 * transaction shared with the other calls queued meanwhile (at most SERVER_BATCH_MAX,
 * bracketed by server_write_begin/end), each call in its own savepoint: fn's changes
 * stay when it returns 0 and are undone when it returns anything else. Returns when
 * that transaction has ended: 0 when it committed (durably: fn's changes, if kept, are
 * on disk), with *result set to fn's return; or -DB_E_BUSY / -DB_E_IO when it could not
 * begin or commit, and then nothing fn did is stored (fn may have run; it may be queued
 * again). fn runs on another thread while the caller waits, so ctx may point into the
 * caller's stack; fn must not begin, commit or roll back, take a pooled connection, or
 * wait for anything. The writer has its own connection, beyond db_pool.
 */
#define SERVER_BATCH_MAX 64
int server_write_batched(struct server *srv, int (*fn)(struct db *db, void *ctx), void *ctx,
			 int *result);

/*
 * The same in three steps, for writes that sign what they store: decide(db, ctx) on the
 * writer in its savepoint as fn above (reads, decisions, numbers taken, rows the other
 * calls of the batch must see); sign(ctx) with no database on a signer thread (one
 * per other core) as soon as the call has decided, while the writer decides the next
 * ones, and on the writer for those left once all have decided; then store(db, ctx) on
 * the writer, in the same transaction, before the commit. sign and store run only when decide returned 0. A sign that
 * returns nonzero, or a store that returns a -DB_E_*, undoes the whole transaction:
 * every call of the batch gets -DB_E_IO (or that error) and may be queued again.
 */
struct server_write_ops {
	int (*decide)(struct db *db, void *ctx);
	int (*sign)(void *ctx);                  /* NULL: decide is all there is */
	int (*store)(struct db *db, void *ctx);
};
int server_write_staged(struct server *srv, const struct server_write_ops *ops, void *ctx,
			int *result);

/*
 * server_write_staged() for a caller that must not wait (an HTTP event loop): queues the
 * call and returns 0 at once, or -DB_E_IO (nothing queued) when the server is stopping or
 * out of memory. Once the call's transaction has ended, on_done(ctx, status, result) runs
 * on the server's syncer thread (or its writer) with no lock held, exactly once, with
 * what server_write_staged() would have returned and set; it must not wait for anything,
 * and may queue the call again. ctx must live until then.
 */
typedef void (*server_write_done_fn)(void *ctx, int status, int result);
int server_write_async(struct server *srv, const struct server_write_ops *ops, void *ctx,
		       server_write_done_fn on_done);

/*
 * The writer's commits are made durable by a thread of their own (one sync for all the
 * transactions committed meanwhile), so that the writer goes on to its next
 * transaction; a call returns once its transaction is durable. Other connections may
 * see a commit a moment before that: what is handed on outside the server (messages
 * for locks) waits here first, until every commit made before the call is durable.
 */
void server_durable_wait(struct server *srv);

/*
 * The server's cache of unsealed private keys (keycache.h): site keys, and reservation
 * keys for key_request_open(). The process holds the master key anyway, so a key
 * unsealed in its memory gives one who can read that memory nothing more; keeping it
 * saves an AES-GCM open and a DER parse at each use. Freed at server_close().
 */
struct keycache *server_keys(struct server *srv);

/*
 * The private key of site `site_id`, for signing: from server_keys(), else opened with
 * site_key() from `db` and kept (site keys never change: site_import() refuses a stored
 * ID, and no site is ever deleted). Call it outside any transaction that stored the
 * site. Returns 0 with *key a new reference the caller frees with EVP_PKEY_free(), or
 * site_key()'s -SITE_E_NOTFOUND / -SITE_E_INTERNAL. Thread-safe.
 */
int server_site_key(struct server *srv, struct db *db, int64_t site_id, EVP_PKEY **key);

/* The configuration the server runs with (read-only). */
const struct config *server_config(const struct server *srv);

/* The 32-byte master key that wraps private keys at rest (site, reservation keys). */
const uint8_t *server_master_key(const struct server *srv);

/* The SMS sender (sms_sender, parsed at server_open), or NULL when none is configured. */
const struct hook *server_sms_sender(const struct server *srv);

/* Seconds since the epoch; one clock for the whole server. */
int64_t server_now(const struct server *srv);

/* The caller of an HTTP_AUTH_USER route (filled by the dispatcher before the handler). */
struct auth_user {
	int64_t user_id;
	char phone[32];
	bool admin;
};
/*
 * 0 when the request carries a live session, -1 when it does not, or
 * -SERVER_E_UNAVAILABLE when the sessions could not be read (the database failed: the
 * caller is told to try again, not to log in again).
 */
#define SERVER_E_UNAVAILABLE 2
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

/*
 * Waits until server_wake_gateways() is called after the wake-up numbered `generation`
 * was seen, or `timeout_ms` passes, or the server stops. Pass 0 the first time; pass the
 * *new_generation of the last call afterwards, so that a wake-up between two waits is
 * not missed (check the queue, then wait with the generation read before the check). A
 * timeout_ms of 0 does not wait: it reads the current generation. Returns 1 when woken
 * (the generation moved), 0 on time-out, -1 when the server is stopping; sets
 * *new_generation in every case.
 */
int server_wait_gateways(struct server *srv, uint64_t generation, int timeout_ms,
			 uint64_t *new_generation);

/*
 * Registers the events module's publisher: server_publish() then calls fn(ctx, site,
 * spot, ev) (ev borrowed). Call at start-up (a routes_hooks start function), before the
 * server serves; NULL unregisters.
 */
void server_set_publisher(struct server *srv,
			  void (*fn)(void *ctx, int64_t site_id, int64_t spot_id, json_object *ev),
			  void *ctx);

/* server_audit() with the request's peer address recorded too. */
void server_audit_request(struct server *srv, struct db *db, const struct http_request *req,
			  int64_t user_id, const char *action, const char *detail);

/*
 * Brackets CPU- and memory-heavy work (argon2id hashing): at most the configured
 * heavy_workers run at once, the others wait here. Never hold a database transaction
 * across server_heavy_begin().
 */
void server_heavy_begin(struct server *srv);
void server_heavy_end(struct server *srv);

/* ---- metrics ---- */

/*
 * Counts for /metrics: name must be a static string ("parkd_ekeys_issued_total").
 * Thread-safe. Names outside server.c's table get a slot on first use (32 at most).
 */
void server_count(struct server *srv, const char *name, uint64_t n);

struct server_metric {
	const char *name;  /* "parkd_http_requests_total" */
	const char *help;  /* one line */
	uint64_t value;
};

/*
 * Copies up to `cap` counters (every counter of the fixed table, then any other name
 * counted so far) into out. Returns how many were copied.
 */
size_t server_metrics(struct server *srv, struct server_metric *out, size_t cap);

/* ---- for main.c and tests: the server's life ---- */

/*
 * Opens the server for `cfg` (which must outlive it): creates data_dir if missing
 * (0700), loads or makes the master key, opens the database and runs the migrations.
 * Serves nothing yet (see http_start()). Returns 0 with *out set, or -1 after logging
 * why.
 */
int server_open(const struct config *cfg, struct server **out);

/*
 * Marks the server stopping: gateway waits return -1 at once, and so do new ones (event
 * streams end in http_stop()). Thread-safe; for the signal-handling thread, before
 * http_stop().
 */
void server_stop(struct server *srv);
bool server_stopping(struct server *srv);

/* Closes the database connections and wipes the master key. No request may be running. */
void server_close(struct server *srv);

#endif
