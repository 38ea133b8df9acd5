/*
 * ctl-map.c: parkctl's map and route verbs (claim 10): the garage map of a spot drawn in
 * the terminal with the spot and the route in marked (or written as an SVG picture a
 * head unit can show), and the turn-by-turn sentences, spoken with espeak-ng on --say.
 * The map comes from parkphoned, which keeps a copy for when there is no server.
 */
#include <libintl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../lib/maptext.h"
#include "../lib/sitemap.h"
#include "mapsvg.h"
#include "parkctl.h"
#include "routespeech.h"

#define _(s) gettext(s)
#define N_(s) s
#define MAP_ROWS_MAX 40

struct map_state {
	const char *svg;
	const char *level;
	bool ascii;
	bool say;
	bool out_route;
	const char *voice;
};

/* Fetches and parses SPOT's map. 0, or 1 after saying why. */
static int load_map(struct parkctl *pc, const char *spot, struct sitemap *map,
		    json_object **reply)
{
	json_object *req = parkctl_request("map"), *r, *m;
	char err[256];

	parkctl_add_spot(req, spot);
	r = parkctl_call(pc, req);
	*reply = r;
	if (r == NULL)
		return 1;
	if (!json_object_object_get_ex(r, "map", &m) ||
	    sitemap_parse_spot_map(m, map, err, sizeof(err)) != 0) {
		fprintf(stderr, _("parkctl: the map of spot %s cannot be drawn: %s\n"), spot,
			json_object_object_get_ex(r, "map", &m) ? err : _("no map in the reply"));
		return 1;
	}
	return 0;
}

static void term_size(size_t *cols, size_t *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20 && ws.ws_row >= 10) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

/* Draws `level` with the route in, sized to the terminal, keeping the plan's shape. */
static int draw(const struct sitemap *map, size_t level, const struct map_state *s)
{
	struct maptext_options o = { s->ascii, true, s->out_route ? MAPTEXT_ROUTE_OUT :
					MAPTEXT_ROUTE_IN, map->marked };
	const struct sitemap_level *lv = &map->levels[level];
	struct maptext_grid g;
	size_t cols, rows, h;
	int r;

	term_size(&cols, &rows);
	/* A terminal cell is about twice as tall as wide. */
	h = (size_t)((double)cols * lv->height / lv->width / 2.0) + 1;
	if (h > MAP_ROWS_MAX)
		h = MAP_ROWS_MAX;
	if (h < 5)
		h = 5;
	if (maptext_grid_init(&g, cols, h) != 0)
		return 1;
	r = maptext_layout(&g, map, level, &o);
	if (r == 0) {
		printf(_("%s, level %s (%s)\n"), map->name, lv->id, lv->name);
		r = maptext_print(stdout, &g, !s->ascii && isatty(STDOUT_FILENO));
	}
	maptext_grid_free(&g);
	return r == 0 ? 0 : 1;
}

static int run_map(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	struct map_state *s = state;
	struct sitemap map;
	json_object *r = NULL;
	size_t level;
	int rc;

	(void)nargs;
	if (load_map(pc, args[0], &map, &r) != 0) {
		json_object_put(r);
		return 1;
	}
	level = s->level != NULL ? sitemap_level_find(&map, s->level) :
				    map.spots[map.marked].level;
	if (level == SITEMAP_NONE) {
		fprintf(stderr, _("parkctl: the site has no level %s\n"), s->level);
		rc = 1;
	} else if (s->svg != NULL) {
		rc = mapsvg_save(s->svg, &map, NULL) == 0 ? 0 : 1;
		if (rc != 0)
			fprintf(stderr, _("parkctl: cannot write %s\n"), s->svg);
		else if (!pc->json)
			printf(_("Wrote the map of spot %s to %s.\n"), args[0], s->svg);
	} else if (pc->json) {
		rc = parkctl_print_json(r);
	} else {
		rc = draw(&map, level, s);
	}
	if (parkctl_int(r, "cached") == 1 && !pc->json)
		printf(_("(the server did not answer: the map kept from before)\n"));
	sitemap_free(&map);
	json_object_put(r);
	return rc;
}

static void print_route(const char *title, const struct sitemap_route *rt)
{
	size_t i;

	if (!rt->present)
		return;
	printf("%s (%.0f m):\n", title, rt->length_m);
	for (i = 0; i < rt->nsentences; i++)
		printf("  %zu. %s\n", i + 1, rt->sentences[i]);
}

static int say(const struct sitemap *map, const struct map_state *s)
{
	struct routespeech_options o = { s->voice, 0, false, true };
	const struct sitemap_route *rt[2] = { &map->route_in, &map->route_out };
	int i, r = 0;

	for (i = 0; i < 2 && r == 0; i++)
		r = routespeech_say((const char *const *)rt[i]->sentences, rt[i]->nsentences, &o);
	if (r == -ROUTESPEECH_E_NOT_INSTALLED)
		fprintf(stderr, _("parkctl: --say needs espeak-ng: install it (apt-get install "
				  "espeak-ng)\n"));
	else if (r != 0)
		fprintf(stderr, _("parkctl: espeak-ng could not speak the route\n"));
	return r == 0 ? 0 : 1;
}

static int run_route(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	struct map_state *s = state;
	struct sitemap map;
	json_object *r = NULL, *m;
	int rc = 0;

	(void)nargs;
	if (load_map(pc, args[0], &map, &r) != 0) {
		json_object_put(r);
		return 1;
	}
	if (pc->json) {
		if (json_object_object_get_ex(r, "map", &m) &&
		    json_object_object_get_ex(m, "routes", &m))
			rc = parkctl_print_json(m);
	} else {
		print_route(_("From the entrance to the spot"), &map.route_in);
		print_route(_("From the spot to the exit"), &map.route_out);
	}
	if (rc == 0 && s->say)
		rc = say(&map, s);
	sitemap_free(&map);
	json_object_put(r);
	return rc;
}

static const struct cli_option map_opts[] = {
	{ "svg", 'o', "FILE", N_("write the map as an SVG picture to FILE") },
	{ "level", 'L', "LEVEL", N_("draw LEVEL (default: the spot's)") },
	{ "ascii", 'a', NULL, N_("plain ASCII characters, no colours") },
	{ "out", 'O', NULL, N_("mark the way out, not the way in") },
};

static int map_option(void *state, int row, const char *arg)
{
	struct map_state *s = state;

	if (row == 0)
		s->svg = arg;
	else if (row == 1)
		s->level = arg;
	else if (row == 2)
		s->ascii = true;
	else
		s->out_route = true;
	return 0;
}

static const struct cli_option route_opts[] = {
	{ "say", 's', NULL, N_("speak the sentences with espeak-ng") },
	{ "voice", 'v', "VOICE", N_("espeak-ng's voice, e.g. en or zh") },
};

static int route_option(void *state, int row, const char *arg)
{
	struct map_state *s = state;

	if (row == 0)
		s->say = true;
	else
		s->voice = arg;
	return 0;
}

const struct parkctl_verb parkctl_verb_map = {
	"map", "SPOT", N_("Draw the garage map with SPOT and the route to it"), 1, 1,
	map_opts, 4, map_option, sizeof(struct map_state), run_map,
};
const struct parkctl_verb parkctl_verb_route = {
	"route", "SPOT", N_("Say the way from the entrance to SPOT and from it to the exit"),
	1, 1, route_opts, 2, route_option, sizeof(struct map_state), run_route,
};
