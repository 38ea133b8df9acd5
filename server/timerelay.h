/*
 * timerelay.h: signed time for the locks. A lock has no clock it can trust (DESIGN.md
 * section 4): it takes the time only from a site-signed SET_TIME. This module queues one
 * for every lock of a site right after the site's import, so that a fresh lock can check
 * time-limited keys, and, from a background thread of parkd, again for every lock whose
 * newest is older than time_relay_s, never beside one still pending. The queue and its
 * signatures are delivery.c's; no HTTP here.
 */
#ifndef PARK_TIMERELAY_H
#define PARK_TIMERELAY_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define TIMERELAY_TICK_MAX_S 60 /* the thread looks for due locks at least this often */

struct server;

enum timerelay_err {
	TIMERELAY_E_BUSY = 1,     /* the database is busy: retry the transaction */
	TIMERELAY_E_INTERNAL = 2, /* storage, the site key or signing failed: see the log */
};

/*
 * Queues a SET_TIME carrying `now` (the server's clock as it signs) for every lock of
 * site `site_id` (0: of every site) that has no SET_TIME pending and none queued less
 * than `max_age_s` seconds before `now` (0: whatever came before), each under the lock's
 * next management sequence and signed with its site's key, opened under `master`. A
 * lock whose sequences are spent is skipped (logged). Runs in the caller's transaction;
 * the caller wakes the gateways after the commit. Returns 0 with *queued (may be NULL)
 * the number queued, or -TIMERELAY_E_BUSY / -TIMERELAY_E_INTERNAL (roll back then).
 */
int timerelay_queue(struct db *db, const uint8_t master[32], int64_t site_id, int64_t now,
		    int64_t max_age_s, size_t *queued);

/*
 * One pass of the background thread at server_now(): timerelay_queue() with the
 * configured time_relay_s for each site, in a transaction per site (retried while
 * busy), then a wake-up of the gateways' long polls when anything was queued. Returns
 * the number queued, or -1 after logging (sites done before the failure keep theirs).
 */
int timerelay_pass(struct server *srv);

/*
 * The module's start and stop hooks (routes.c): a thread that runs a pass at once and
 * then every min(time_relay_s, TIMERELAY_TICK_MAX_S) seconds, on pooled database
 * connections held only during a pass. start returns 0, or -1 after logging why; stop
 * ends the thread (a pass in progress finishes first) and is safe when not started.
 */
int timerelay_start(struct server *srv);
void timerelay_stop(struct server *srv);

#endif
