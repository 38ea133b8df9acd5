/*
 * alarms.h: the site's open alarms as GET /v1/sites/{id}/alarms lists them (forced or
 * jammed barrier, car present without a key, lock offline, low battery, lockout), with
 * the selection of the alarms screen. Plain data: no curses, no I/O.
 */
#ifndef PARK_TUI_ALARMS_H
#define PARK_TUI_ALARMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define ALARMS_MAX 512       /* alarms kept; more are counted in `dropped` */
#define ALARMS_KIND_LEN 32

struct alarms_entry {
	int64_t id;                  /* the server's alarm ID, >= 1 */
	int64_t spot;                /* spot ID */
	int64_t since;               /* Unix s, 0 when unknown */
	int64_t event_seq;           /* the lock event that raised it, 0 when none */
	char kind[ALARMS_KIND_LEN];  /* "forced", "jammed", "offline", ... */
};

struct alarms {
	struct alarms_entry a[ALARMS_MAX];
	size_t count;
	size_t dropped;    /* alarms of the last list beyond ALARMS_MAX */
	size_t selected;   /* index into a, < count when count > 0 */
	bool known;        /* a list has been read since the console connected */
	bool unsupported;  /* the server has no alarms route (404 on the list) */
};

void alarms_init(struct alarms *a);

/*
 * Replaces the list with the reply {"alarms":[...]}; entries without an integer id and
 * spot or a kind string are skipped. The selection stays on the same alarm ID when it
 * is still listed. Returns the number kept, or -1 (list unchanged) when the reply has no
 * "alarms" array.
 */
int alarms_set(struct alarms *a, json_object *reply);

/* The selected alarm, or NULL when there is none. */
const struct alarms_entry *alarms_selected(const struct alarms *a);

/* Moves the selection by delta, clamped to the list. */
void alarms_move(struct alarms *a, int delta);

/* Whether spot has an open alarm. */
bool alarms_spot(const struct alarms *a, int64_t spot);

/* Removes the alarm with this ID (once acknowledged). Returns whether it was listed. */
bool alarms_remove(struct alarms *a, int64_t id);

/*
 * Whether an event of this kind may open or close an alarm, so that the list is worth
 * reading again.
 */
bool alarms_event_relevant(const char *kind);

#endif
