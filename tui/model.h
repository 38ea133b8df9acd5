/*
 * model.h: the console's screen model, apart from every curses call so that it is
 * tested without a terminal: the site map with its live spot states (lib/sitemap), the
 * level shown and the selected spot, the event log with its filter, the alarms, the
 * state of the live link and whether what is shown is stale. The screens read it and
 * change it through these functions; the live link's messages land here.
 */
#ifndef PARK_TUI_MODEL_H
#define PARK_TUI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "../lib/maptext.h"
#include "../lib/sitemap.h"
#include "alarms.h"
#include "eventlist.h"

#define MODEL_DETAIL_LEN 256

enum model_link {
	MODEL_CONNECTING, /* no stream yet (or again) */
	MODEL_LIVE,       /* following the stream over a current map */
	MODEL_DOWN,       /* lost; retrying */
};

struct model {
	struct sitemap map;            /* valid when have_map */
	bool have_map;
	char map_error[MODEL_DETAIL_LEN]; /* why the last map was refused, or "" */
	size_t level;                  /* the level shown: < map.nlevels */
	size_t selected;               /* spot index, or SITEMAP_NONE */
	bool stale;                    /* the map is the last known one, not live */
	enum model_link link;
	int64_t link_since;            /* Unix s of the last link change */
	long retry_ms;                 /* MODEL_DOWN: the wait before the next try */
	char link_detail[MODEL_DETAIL_LEN]; /* MODEL_DOWN: why, untranslated */
	struct eventlist events;
	struct alarms alarms;
};

/* An empty model: no map, connecting. */
void model_init(struct model *m);

/* Frees the map; m is then as after model_init(). */
void model_free(struct model *m);

/*
 * Takes a site map (GET /v1/sites/{id}) as the current one: the level and selection stay
 * on the same level ID and spot ID when the new map has them; stale is cleared. On a
 * map that does not parse, returns a negative enum sitemap_error with map_error set and
 * the previous map (if any) kept as it was; 0 on success.
 */
int model_set_site(struct model *m, json_object *site);

/*
 * One event of the stream: logged, and applied to its spot's state when the map has the
 * spot and the event is not "replayed" (sent again after a reconnection: older than the
 * state read at the stream's start). Returns the spot's index; SITEMAP_NONE when the map
 * does not have the spot, there is no map yet, the event is a replayed one, or it does
 * not parse (then it is not logged either).
 */
size_t model_apply_event(struct model *m, json_object *ev);

/*
 * The spots' states as GET /v1/spots lists them ({"spots":[{"id":..,"taken":..,...}]}),
 * applied over the map's (they say whether a key is out, which the map does not).
 * Returns how many spots of the map were updated; entries for other spots are skipped.
 */
size_t model_set_spots(struct model *m, json_object *reply);

/* The server's alarm list (NULL: the server has no alarms route). */
void model_set_alarms(struct model *m, json_object *reply);

/* The live link changed at `now` (Unix s): connecting, live, or down with why and when. */
void model_set_link(struct model *m, enum model_link link, const char *detail, long retry_ms,
		    int64_t now);

/*
 * How spot `idx` looks on the map: maptext_spot_style() of its state, except that a spot
 * with an open alarm at the server (low battery, a car without a key, ...) is
 * MAPTEXT_SPOT_ALARM too. MAPTEXT_SPOT_UNKNOWN when idx is out of range.
 */
enum maptext_style model_spot_look(const struct model *m, size_t idx);

/* The selected spot, or NULL. */
const struct sitemap_spot *model_selected(const struct model *m);

/*
 * Moves the selection to the nearest spot in direction (dx, dy) on the level (dy > 0 is
 * north, up on the screen); with nothing selected, selects the level's first spot.
 * Returns whether the selection changed.
 */
bool model_move(struct model *m, int dx, int dy);

/* Shows the next (delta 1) or previous (-1) level, selecting its first spot. */
bool model_level_step(struct model *m, int delta);

/* Selects spot index idx (and shows its level). No-op when out of range. */
void model_select(struct model *m, size_t idx);

/*
 * Finds a spot or an owner: the first spot after the selection (wrapping round, the
 * selected one last) whose name contains `query` (ASCII case ignored), whose ID is
 * `query`, or, with "owner:N" or a bare number, whose owner is user N. Returns its
 * index, or SITEMAP_NONE. The selection is not changed.
 */
size_t model_find(const struct model *m, const char *query);

#endif
