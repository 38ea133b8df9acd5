/*
 * model.c: the console's screen model (see model.h). It decides what the screens show,
 * never how: no curses here.
 */
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->map.marked = SITEMAP_NONE;
	m->selected = SITEMAP_NONE;
	m->link = MODEL_CONNECTING;
	eventlist_init(&m->events);
	alarms_init(&m->alarms);
}

void model_free(struct model *m)
{
	if (m->have_map)
		sitemap_free(&m->map);
	model_init(m);
}

int model_set_site(struct model *m, json_object *site)
{
	struct sitemap fresh;
	char level[SITEMAP_ID_MAX] = "";
	int64_t spot = 0;
	size_t i;
	int r;

	r = sitemap_parse_site(site, &fresh, m->map_error, sizeof(m->map_error));
	if (r != 0)
		return r;
	if (m->have_map) {
		snprintf(level, sizeof(level), "%s", m->map.levels[m->level].id);
		if (m->selected != SITEMAP_NONE)
			spot = m->map.spots[m->selected].id;
		sitemap_free(&m->map);
	}
	m->map = fresh;
	m->have_map = true;
	m->map_error[0] = '\0';
	m->stale = false;
	i = sitemap_level_find(&m->map, level);
	m->level = i != SITEMAP_NONE ? i : 0;
	m->selected = spot != 0 ? sitemap_spot_find(&m->map, spot) : SITEMAP_NONE;
	if (m->selected != SITEMAP_NONE)
		m->level = m->map.spots[m->selected].level;
	return 0;
}

size_t model_apply_event(struct model *m, json_object *ev)
{
	struct eventlist_entry e;
	json_object *replayed;
	long r;

	if (eventlist_parse(ev, &e) != 0)
		return SITEMAP_NONE;
	eventlist_add(&m->events, &e);
	/* A replayed event is history: the map's state came afresh when the stream began. */
	if (!m->have_map || (json_object_object_get_ex(ev, "replayed", &replayed) &&
			     json_object_get_boolean(replayed)))
		return SITEMAP_NONE;
	r = sitemap_spot_update(&m->map, e.spot, ev);
	return r >= 0 ? (size_t)r : SITEMAP_NONE;
}

size_t model_set_spots(struct model *m, json_object *reply)
{
	json_object *spots, *o, *id;
	size_t i, n, done = 0;

	if (!m->have_map || reply == NULL || !json_object_object_get_ex(reply, "spots", &spots) ||
	    !json_object_is_type(spots, json_type_array))
		return 0;
	n = json_object_array_length(spots);
	for (i = 0; i < n; i++) {
		o = json_object_array_get_idx(spots, i);
		if (json_object_object_get_ex(o, "id", &id) &&
		    json_object_is_type(id, json_type_int) &&
		    sitemap_spot_update(&m->map, json_object_get_int64(id), o) >= 0)
			done++;
	}
	return done;
}

void model_set_alarms(struct model *m, json_object *reply)
{
	if (reply == NULL) {
		alarms_init(&m->alarms);
		m->alarms.unsupported = true;
		return;
	}
	(void)alarms_set(&m->alarms, reply);
}

void model_set_link(struct model *m, enum model_link link, const char *detail, long retry_ms,
		    int64_t now)
{
	if (link != m->link)
		m->link_since = now;
	m->link = link;
	m->retry_ms = retry_ms;
	snprintf(m->link_detail, sizeof(m->link_detail), "%s", detail != NULL ? detail : "");
	/* What is shown stays until a fresh map replaces it, marked as the last known. */
	if (link != MODEL_LIVE && m->have_map)
		m->stale = true;
}

enum maptext_style model_spot_look(const struct model *m, size_t idx)
{
	if (!m->have_map || idx >= m->map.nspots)
		return MAPTEXT_SPOT_UNKNOWN;
	if (alarms_spot(&m->alarms, m->map.spots[idx].id))
		return MAPTEXT_SPOT_ALARM;
	return maptext_spot_style(&m->map.spots[idx]);
}

const struct sitemap_spot *model_selected(const struct model *m)
{
	if (!m->have_map || m->selected >= m->map.nspots)
		return NULL;
	return &m->map.spots[m->selected];
}

/* The first spot of the shown level, or SITEMAP_NONE when it has none. */
static size_t model_level_first(const struct model *m)
{
	size_t n = 0;
	const size_t *spots = sitemap_level_spots(&m->map, m->level, &n);

	return n > 0 ? spots[0] : SITEMAP_NONE;
}

bool model_move(struct model *m, int dx, int dy)
{
	size_t next;

	if (!m->have_map)
		return false;
	if (m->selected == SITEMAP_NONE || m->map.spots[m->selected].level != m->level)
		next = model_level_first(m);
	else
		next = sitemap_spot_neighbour(&m->map, m->selected, dx, dy);
	if (next == SITEMAP_NONE || next == m->selected)
		return false;
	m->selected = next;
	return true;
}

bool model_level_step(struct model *m, int delta)
{
	long l;

	if (!m->have_map)
		return false;
	l = (long)m->level + delta;
	if (l < 0 || l >= (long)m->map.nlevels)
		return false;
	m->level = (size_t)l;
	m->selected = model_level_first(m);
	return true;
}

void model_select(struct model *m, size_t idx)
{
	if (!m->have_map || idx >= m->map.nspots)
		return;
	m->selected = idx;
	m->level = m->map.spots[idx].level;
}

/* Parses a whole decimal number 1..2^32-1 (as IDs are), or returns 0. */
static int64_t model_number(const char *s)
{
	char *end;
	long long v;

	if (s[0] < '0' || s[0] > '9')
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	return *end == '\0' && errno == 0 && v >= 1 && v <= 4294967295LL ? v : 0;
}

static bool model_matches(const struct sitemap_spot *s, const char *query, int64_t number,
			  int64_t owner)
{
	if (owner != 0)
		return s->owner_id == owner;
	if (number != 0 && (s->id == number || s->owner_id == number))
		return true;
	return text_contains(s->name, query);
}

size_t model_find(const struct model *m, const char *query)
{
	int64_t number, owner = 0;
	size_t i, idx, start;

	if (!m->have_map || query == NULL || text_blank(query))
		return SITEMAP_NONE;
	if (strncmp(query, "owner:", 6) == 0 && (owner = model_number(query + 6)) == 0)
		return SITEMAP_NONE;
	number = model_number(query);
	start = m->selected != SITEMAP_NONE ? m->selected + 1 : 0;
	for (i = 0; i < m->map.nspots; i++) {
		idx = (start + i) % m->map.nspots;
		if (model_matches(&m->map.spots[idx], query, number, owner))
			return idx;
	}
	return SITEMAP_NONE;
}
