/*
 * notify.h: telling a spot's managers (its owners, the attendants and administrators of
 * its site) of what happens at the spot, through the configured hook (hook.h), for SMS
 * or push: a file gets one JSON line per notification, a command the JSON as its one
 * argument, a webhook the JSON by POST.
 * Notifications are rows written with their event or alarm (event.c); a worker thread
 * sends the pending ones, so a slow hook never delays the API, and retries with backoff.
 */
#ifndef PARK_NOTIFY_H
#define PARK_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define NOTIFY_ATTEMPTS 5      /* then the notification is given up as 'failed' */
#define NOTIFY_BATCH 32        /* notifications sent per pass, at most */

struct server;
struct notify;
struct hook;

/* Whether events of this kind (proto_event_kind) notify: unlocked, locked, car_arrived,
 * car_left, forced, jammed, low_battery, lockout. */
bool notify_kind(uint8_t kind);

/*
 * One pass over the pending notifications due at `now` (up to NOTIFY_BATCH, oldest
 * first): each is sent to the spot's managers as
 *   {"notification":ID,"event":{...},"spot":{"id","name","site"},
 *    "to":[{"user_id","phone"}],"text":"B1-01: a car arrived."}
 * (for the server's own alarm, "event" is {"site","spot","kind":"offline","received_at"})
 * and marked 'sent'; one with no manager is 'skipped'; a failure is retried later with
 * backoff, up to NOTIFY_ATTEMPTS, then 'failed'. `db` is the caller's own connection
 * (the pass holds it while hooks run, each up to HOOK_TIMEOUT_S). Returns the number
 * handled, or -1 on a storage error.
 */
int notify_pass(struct db *db, const struct hook *hook, int64_t now);

/*
 * Starts the worker thread of `srv` for the hook spec `hook` (notify_hook, parsed here
 * once) on a database connection of its own. Returns 0 with *out set, or -1 after
 * logging why (a spec that is not one of hook.h's forms among them).
 */
int notify_start(struct server *srv, const char *hook, struct notify **out);

/* New notifications were stored: the worker looks now rather than at its next tick. */
void notify_kick(struct notify *n);

/* Stops the worker (a hook in progress finishes first) and frees n; NULL is fine. */
void notify_stop(struct notify *n);

#endif
