/*
 * alarm.h: the alarms of a site for its attendants' console. Whether an alarm is open is
 * read from the locks' stored events and the spots' live state, never stored; each
 * occurrence a console is shown gets a number (table alarms, 007-override-alarms.sql)
 * by which it is acknowledged, and an acknowledged one is not listed again until it
 * comes again. Who may see and acknowledge is the route's question (route-alarm.c); no
 * HTTP here.
 *
 * The kinds, each open while its condition holds:
 *   forced           the newest `forced` event has no `locked` event (nor a boot with the
 *                    barrier up) after it; occurrence: the event's sequence
 *   jammed           the newest `jammed` event has no `unlocked` or `locked` event (nor a
 *                    boot at an end stop) after it; occurrence: the event's sequence
 *   car_without_key  the spot is occupied and nobody holds a live (unrevoked, within its
 *                    validity) e-key for it; occurrence: the newest `car_arrived` event
 *   offline          no gateway reaches the lock, which was heard of before; occurrence:
 *                    the time the last gateway lost it
 *   low_battery      the lock's battery, as last reported, is ALARM_LOW_BATTERY_PERCENT or
 *                    less; occurrence: the newest `low_battery` event (0 when none)
 *   lockout          a device is locked out: a `lockout` event whose minutes (arg16) have
 *                    not passed since it was received; occurrence: the event's sequence
 */
#ifndef PARK_ALARM_H
#define PARK_ALARM_H

#include <stdint.h>

#include <json-c/json.h>

#include "db.h"

/* At or below this battery percent a lock is an alarm: the lock's own low-battery level. */
#define ALARM_LOW_BATTERY_PERCENT 20

enum alarm_err {
	ALARM_E_NOTFOUND = 1, /* no alarm with this ID at the site */
	ALARM_E_BUSY = 2,     /* the database is busy: retry the transaction */
	ALARM_E_INTERNAL = 3,
};

/*
 * How many open alarms of site `site_id` at `now` have no number yet: when none, the
 * list needs no write. Reads only. Returns the count, or -1 on a storage error.
 */
int64_t alarm_unnumbered(struct db *db, int64_t site_id, int64_t now);

/*
 * Numbers every open alarm of the site that has none, in the caller's transaction.
 * Returns 0 or -ALARM_E_BUSY / -ALARM_E_INTERNAL.
 */
int alarm_number(struct db *db, int64_t site_id, int64_t now);

/*
 * The open, numbered alarms of site `site_id` at `now` that nobody acknowledged, newest
 * first: [{"id":12,"spot":101,"kind":"forced","since":..,"event_seq":57}], where `since`
 * is when the server learnt of it (Unix seconds) and event_seq the lock event that
 * raised it (0 for the server's own view: offline, a battery with no event). Reads only;
 * number them first (alarm_number). Returns a new array, or NULL on a storage error.
 */
json_object *alarm_list(struct db *db, int64_t site_id, int64_t now);

/*
 * Acknowledges alarm `alarm_id` of site `site_id` at `now` for `user_id`, with `note`
 * (NULL for none; the caller checked it), and appends an "alarm_ack" audit row from
 * `peer` (may be NULL), in the caller's transaction. An alarm that closed after it was
 * listed may still be acknowledged; one acknowledged before is not acknowledged again:
 * *out then tells the first acknowledgement. Returns 0 with *out a new object
 * {"id","spot","kind","since","event_seq","acked_by","acked_at","note"} (note null when
 * none), or -ALARM_E_NOTFOUND (no such alarm at this site), -ALARM_E_BUSY or
 * -ALARM_E_INTERNAL.
 */
int alarm_ack(struct db *db, int64_t site_id, int64_t alarm_id, int64_t user_id,
	      const char *note, const char *peer, int64_t now, json_object **out);

#endif
