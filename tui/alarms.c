/*
 * alarms.c: the site's open alarms (see alarms.h). The server decides what an alarm is
 * and when it ends; the console only keeps its last list and the selection.
 */
#include "alarms.h"

#include <stdio.h>
#include <string.h>

void alarms_init(struct alarms *a)
{
	memset(a, 0, sizeof(*a));
}

static bool alarms_int(json_object *o, const char *key, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

static bool alarms_parse(json_object *o, struct alarms_entry *e)
{
	json_object *kind;

	memset(e, 0, sizeof(*e));
	if (!json_object_is_type(o, json_type_object) || !alarms_int(o, "id", &e->id) ||
	    !alarms_int(o, "spot", &e->spot) || e->id < 1 || e->spot < 1 ||
	    !json_object_object_get_ex(o, "kind", &kind) ||
	    !json_object_is_type(kind, json_type_string) ||
	    strlen(json_object_get_string(kind)) >= sizeof(e->kind))
		return false;
	snprintf(e->kind, sizeof(e->kind), "%s", json_object_get_string(kind));
	if (!alarms_int(o, "since", &e->since) || e->since < 0)
		e->since = 0;
	if (!alarms_int(o, "event_seq", &e->event_seq) || e->event_seq < 0)
		e->event_seq = 0;
	return true;
}

int alarms_set(struct alarms *a, json_object *reply)
{
	const struct alarms_entry *sel = alarms_selected(a);
	int64_t keep = sel != NULL ? sel->id : 0;
	json_object *arr;
	size_t i, n;

	if (reply == NULL || !json_object_object_get_ex(reply, "alarms", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return -1;
	a->count = 0;
	a->dropped = 0;
	a->selected = 0;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		if (a->count == ALARMS_MAX) {
			a->dropped++;
			continue;
		}
		if (alarms_parse(json_object_array_get_idx(arr, i), &a->a[a->count]))
			a->count++;
	}
	for (i = 0; i < a->count; i++)
		if (a->a[i].id == keep)
			a->selected = i;
	a->known = true;
	a->unsupported = false;
	return (int)a->count;
}

const struct alarms_entry *alarms_selected(const struct alarms *a)
{
	return a->count > 0 && a->selected < a->count ? &a->a[a->selected] : NULL;
}

void alarms_move(struct alarms *a, int delta)
{
	long s = (long)a->selected + delta;

	if (a->count == 0) {
		a->selected = 0;
		return;
	}
	if (s < 0)
		s = 0;
	if (s >= (long)a->count)
		s = (long)a->count - 1;
	a->selected = (size_t)s;
}

bool alarms_spot(const struct alarms *a, int64_t spot)
{
	size_t i;

	for (i = 0; i < a->count; i++)
		if (a->a[i].spot == spot)
			return true;
	return false;
}

bool alarms_remove(struct alarms *a, int64_t id)
{
	size_t i;

	for (i = 0; i < a->count; i++)
		if (a->a[i].id == id)
			break;
	if (i == a->count)
		return false;
	memmove(&a->a[i], &a->a[i + 1], (a->count - i - 1) * sizeof(a->a[0]));
	a->count--;
	if (a->selected >= a->count && a->count > 0)
		a->selected = a->count - 1;
	return true;
}

bool alarms_event_relevant(const char *kind)
{
	static const char *const kinds[] = {
		"forced", "jammed", "low_battery", "lockout", "offline", "online", "car_arrived",
		"car_left", "unlocked", "locked", "boot", "alarm", "alarm_ack", NULL,
	};
	size_t i;

	for (i = 0; kinds[i] != NULL; i++)
		if (strcmp(kinds[i], kind) == 0)
			return true;
	return false;
}
