/*
 * eventlist.c: the console's log of live events (see eventlist.h): a fixed ring, no heap,
 * so that a stream of any length costs the same memory.
 */
#include "eventlist.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *const eventlist_kinds[] = {
	"unlocked", "locked", "car_arrived", "car_left", "forced", "jammed", "low_battery",
	"lockout", "offline", "online", "override", "boot", "mgmt", "time_set", "share", NULL,
};

void eventlist_init(struct eventlist *l)
{
	memset(l, 0, sizeof(*l));
}

/* The integer member `key` of o within [lo, hi], or `dflt` when absent or out of range. */
static int64_t eventlist_int(json_object *o, const char *key, int64_t lo, int64_t hi,
			     int64_t dflt)
{
	json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return dflt;
	errno = 0;
	x = json_object_get_int64(v);
	return errno == 0 && x >= lo && x <= hi ? x : dflt;
}

int eventlist_parse(json_object *ev, struct eventlist_entry *out)
{
	json_object *kind, *op;
	const char *k;

	if (ev == NULL || !json_object_is_type(ev, json_type_object))
		return -1;
	memset(out, 0, sizeof(*out));
	out->spot = eventlist_int(ev, "spot", 1, 4294967295LL, 0);
	if (out->spot == 0 || !json_object_object_get_ex(ev, "kind", &kind) ||
	    !json_object_is_type(kind, json_type_string))
		return -1;
	k = json_object_get_string(kind);
	if (k[0] == '\0' || strlen(k) >= sizeof(out->kind))
		return -1;
	snprintf(out->kind, sizeof(out->kind), "%s", k);
	out->seq = eventlist_int(ev, "seq", 1, 4294967295LL, 0);
	out->time = eventlist_int(ev, "time", 1, 4294967295LL, 0);
	if (out->time == 0)
		out->time = eventlist_int(ev, "received_at", 0, INT64_MAX, 0);
	out->user_id = eventlist_int(ev, "user_id", 0, 4294967295LL, 0);
	out->key_id = eventlist_int(ev, "key_id", 0, 4294967295LL, 0);
	out->arg8 = (int)eventlist_int(ev, "arg8", 0, 255, 0);
	out->arg16 = (int)eventlist_int(ev, "arg16", 0, 65535, 0);
	if (json_object_object_get_ex(ev, "op", &op) && json_object_is_type(op, json_type_string) &&
	    strlen(json_object_get_string(op)) < sizeof(out->op))
		snprintf(out->op, sizeof(out->op), "%s", json_object_get_string(op));
	return 0;
}

void eventlist_add(struct eventlist *l, const struct eventlist_entry *e)
{
	if (l->count < EVENTLIST_MAX) {
		l->e[(l->head + l->count) % EVENTLIST_MAX] = *e;
		l->count++;
		return;
	}
	l->e[l->head] = *e;
	l->head = (l->head + 1) % EVENTLIST_MAX;
}

bool eventlist_match(const struct eventlist_filter *f, const struct eventlist_entry *e)
{
	return (f->spot == 0 || f->spot == e->spot) &&
	       (f->kind[0] == '\0' || strcmp(f->kind, e->kind) == 0);
}

size_t eventlist_select(const struct eventlist *l, const struct eventlist_filter *f,
			const struct eventlist_entry **out, size_t max)
{
	const struct eventlist_entry *e;
	size_t i, n = 0;

	for (i = l->count; i > 0 && n < max; i--) {
		e = &l->e[(l->head + i - 1) % EVENTLIST_MAX];
		if (eventlist_match(f, e))
			out[n++] = e;
	}
	return n;
}

size_t eventlist_view(const struct eventlist *l, const struct eventlist_entry **out,
		      size_t max)
{
	return eventlist_select(l, &l->filter, out, max);
}

void eventlist_next_kind(struct eventlist *l)
{
	size_t i;

	if (l->filter.kind[0] == '\0') {
		snprintf(l->filter.kind, sizeof(l->filter.kind), "%s", eventlist_kinds[0]);
		return;
	}
	for (i = 0; eventlist_kinds[i] != NULL; i++)
		if (strcmp(eventlist_kinds[i], l->filter.kind) == 0)
			break;
	if (eventlist_kinds[i] == NULL || eventlist_kinds[i + 1] == NULL)
		l->filter.kind[0] = '\0';
	else
		snprintf(l->filter.kind, sizeof(l->filter.kind), "%s", eventlist_kinds[i + 1]);
}
