/*
 * eventlist.h: the console's log of live events: the newest EVENTLIST_MAX events of the
 * site as the stream brought them (server/event.c's JSON), oldest dropped first, and the
 * filter the events screen shows them through (one spot, one kind, or both). Plain data
 * with no curses and no I/O: the events screen draws it, the tests drive it.
 */
#ifndef PARK_TUI_EVENTLIST_H
#define PARK_TUI_EVENTLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define EVENTLIST_MAX 1024     /* events kept */
#define EVENTLIST_KIND_LEN 24  /* "low_battery" and the like, with the NUL */

/* One event as the stream gave it. */
struct eventlist_entry {
	int64_t spot;                  /* spot ID, >= 1 */
	int64_t seq;                   /* the lock's sequence, 0 for the server's own events */
	int64_t time;                  /* Unix s: the lock's time, else when parkd received it */
	int64_t user_id, key_id;       /* 0 when none */
	int arg8, arg16;               /* the protocol's arguments (see lockfw/proto/proto.h) */
	char kind[EVENTLIST_KIND_LEN]; /* "unlocked", "car_arrived", "offline", ... */
	char op[8];                    /* an override's "unlock" or "lock", else "" */
};

struct eventlist_filter {
	int64_t spot;                  /* 0: every spot */
	char kind[EVENTLIST_KIND_LEN]; /* "": every kind */
};

struct eventlist {
	struct eventlist_entry e[EVENTLIST_MAX]; /* a ring: the oldest at `head` */
	size_t head, count;
	struct eventlist_filter filter;
};

/* The event kinds a filter can step through, in order, ending with NULL. */
extern const char *const eventlist_kinds[];

void eventlist_init(struct eventlist *l);

/*
 * Parses one event of the stream into *out. Returns 0, or -1 when `ev` is not an object
 * with a spot ID (1..2^32-1) and a kind string (then *out is unspecified).
 */
int eventlist_parse(json_object *ev, struct eventlist_entry *out);

/* Adds e as the newest event, dropping the oldest when full. */
void eventlist_add(struct eventlist *l, const struct eventlist_entry *e);

/* Whether e passes f. */
bool eventlist_match(const struct eventlist_filter *f, const struct eventlist_entry *e);

/*
 * The events passing the list's filter, newest first: up to `max` pointers into the
 * list, stored in out (valid until the next eventlist_add). Returns how many.
 */
size_t eventlist_view(const struct eventlist *l, const struct eventlist_entry **out,
		      size_t max);

/* Events passing `f` (not the list's own filter), newest first, as eventlist_view(). */
size_t eventlist_select(const struct eventlist *l, const struct eventlist_filter *f,
			const struct eventlist_entry **out, size_t max);

/* Steps the kind filter to the next kind of eventlist_kinds (after the last: every kind). */
void eventlist_next_kind(struct eventlist *l);

#endif
