/*
 * notify.h: telling a spot's managers (its owners, the attendants and administrators of
 * its site) of what happens at the spot, through the configured hook, for SMS or push:
 *   "file:PATH"    appends one JSON line per notification to PATH (created 0600);
 *   "command:PATH" runs PATH with the JSON as its one argument (no shell);
 *   "webhook:URL"  POSTs the JSON; 2xx is success.
 * Notifications are rows written with their event (event.c); a worker thread sends the
 * pending ones, so a slow hook never delays the API, and retries with backoff.
 */
#ifndef PARK_NOTIFY_H
#define PARK_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define NOTIFY_TIMEOUT_S 10    /* a command or webhook that takes longer has failed */
#define NOTIFY_ATTEMPTS 5      /* then the notification is given up as 'failed' */
#define NOTIFY_BATCH 32        /* notifications sent per pass, at most */

struct server;
struct notify;

/* Whether events of this kind (proto_event_kind) notify: unlocked, locked, car_arrived,
 * car_left, forced, jammed, low_battery, lockout. */
bool notify_kind(uint8_t kind);

/* Whether `hook` has one of the three forms above (and is not empty). */
bool notify_hook_valid(const char *hook);

/*
 * Sends one JSON text (a NUL-terminated object) through `hook`. Blocks up to
 * NOTIFY_TIMEOUT_S. Returns 0, or -1 with a sentence in err[0..cap) (no secret in it).
 */
int notify_send(const char *hook, const char *json, char *err, size_t cap);

/*
 * One pass over the pending notifications due at `now` (up to NOTIFY_BATCH, oldest
 * first): each is sent to the spot's managers as
 *   {"notification":ID,"event":{...},"spot":{"id","name","site"},
 *    "to":[{"user_id","phone"}],"text":"B1-01: a car arrived."}
 * and marked 'sent'; one with no manager is 'skipped'; a failure is retried later with
 * backoff, up to NOTIFY_ATTEMPTS, then 'failed'. `db` is the caller's own connection
 * (the pass holds it while hooks run). Returns the number handled, or -1 on a storage
 * error.
 */
int notify_pass(struct db *db, const char *hook, int64_t now);

/*
 * Starts the worker thread of `srv` for `hook` on a database connection of its own.
 * Returns 0 with *out set, or -1 after logging why.
 */
int notify_start(struct server *srv, const char *hook, struct notify **out);

/* New notifications were stored: the worker looks now rather than at its next tick. */
void notify_kick(struct notify *n);

/* Stops the worker (a hook in progress finishes first) and frees n; NULL is fine. */
void notify_stop(struct notify *n);

#endif
