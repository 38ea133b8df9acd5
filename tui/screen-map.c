/*
 * screen-map.c: the live garage map: one level laid out by lib/maptext over the screen,
 * each spot a cell whose symbol and colour say its state, the selected spot in reverse,
 * and beside it the legend and the selected spot's state. Arrows move between spots,
 * PgUp and PgDn between levels, / finds a spot or an owner, Enter opens the spot, o
 * overrides its lock (attendants). The layout is maptext's; this file only paints it.
 */
#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "frame.h"
#include "i18n.h"
#include "text.h"
#include "ui.h"

#define MAP_PANEL_COLS 26 /* the legend and the selected spot, at the right */

static const struct screen_key map_keys[] = {
	{ "\xe2\x86\x90\xe2\x86\x91\xe2\x86\x93\xe2\x86\x92", N_("move"), SCREEN_KEY_ANYONE },
	{ "PgUp/PgDn", N_("level"), SCREEN_KEY_ANYONE },
	{ "Enter", N_("spot"), SCREEN_KEY_ANYONE },
	{ "/", N_("find"), SCREEN_KEY_ANYONE },
	{ "o", N_("override"), SCREEN_KEY_STAFF },
	{ "n", N_("next match"), SCREEN_KEY_ANYONE },
};

/* The map's own legend rows that the console's map can show. */
static bool map_legend_shown(enum maptext_style s)
{
	return s != MAPTEXT_ROUTE && s != MAPTEXT_MARKED_SPOT && s != MAPTEXT_SPOT_SELECTED;
}

/* The glyph maptext uses for a style, in the console's glyph set. */
static const char *map_glyph(const struct console *c, enum maptext_style style)
{
	const struct maptext_legend_row *rows;
	size_t i, n;

	rows = maptext_legend(&n);
	for (i = 0; i < n; i++)
		if (rows[i].style == style)
			return c->ascii ? rows[i].ascii : rows[i].glyph;
	return "?";
}

/* (Re)makes the grid when the map area changed size. 0 or -1. */
static int map_grid(struct console *c, size_t width, size_t height)
{
	if (c->grid_ok && c->grid.width == width && c->grid.height == height)
		return 0;
	maptext_grid_free(&c->grid);
	c->grid_ok = maptext_grid_init(&c->grid, width, height) == 0;
	return c->grid_ok ? 0 : -1;
}

/* Paints one cell of the laid-out grid at screen (y, x). */
static void map_cell(struct console *c, int y, int x, size_t col, size_t row)
{
	const struct maptext_cell *cell = maptext_cell_at(&c->grid, col, row);
	size_t spot = maptext_spot_at(&c->grid, col, row);
	enum maptext_style style;
	const char *glyph;
	int attr;

	if (cell == NULL || cell->glyph[0] == '\0' || cell->style == MAPTEXT_BLANK)
		return;
	style = (enum maptext_style)cell->style;
	glyph = cell->glyph;
	if (spot != SITEMAP_NONE && style >= MAPTEXT_SPOT_FREE && style <= MAPTEXT_SPOT_UNKNOWN &&
	    model_spot_look(&c->model, spot) == MAPTEXT_SPOT_ALARM &&
	    style != MAPTEXT_SPOT_ALARM) {
		style = MAPTEXT_SPOT_ALARM; /* an alarm the server holds (low battery, ...) */
		glyph = map_glyph(c, style);
	}
	attr = ui_style_attr(c->colour, style, c->model.stale);
	if (spot != SITEMAP_NONE && spot == c->model.selected && style != MAPTEXT_LABEL)
		attr |= A_REVERSE | A_BOLD;
	attrset(attr);
	mvaddstr(y, x, glyph);
}

static void map_paint(struct console *c, int top, int cols, int rows)
{
	struct maptext_options o;
	size_t col, row;

	if (map_grid(c, (size_t)cols, (size_t)rows) != 0)
		return;
	memset(&o, 0, sizeof(o));
	o.ascii = c->ascii;
	o.labels = true;
	o.route = MAPTEXT_ROUTE_NONE;
	o.selected = SITEMAP_NONE; /* the selection is drawn in reverse, its state kept */
	if (maptext_layout(&c->grid, &c->model.map, c->model.level, &o) != 0)
		return;
	for (row = 0; row < c->grid.height; row++)
		for (col = 0; col < c->grid.width; col++)
			map_cell(c, top + (int)row, (int)col, col, row);
	attrset(A_NORMAL);
}

/* A yes/no/unknown state as a word. */
static const char *map_flag(enum sitemap_flag f, const char *yes, const char *no)
{
	return f == SITEMAP_YES ? _(yes) : f == SITEMAP_NO ? _(no) : _("unknown");
}

/* The legend and the selected spot, in the panel from column x. Returns rows used. */
static void map_panel(struct console *c, int top, int x, int rows)
{
	const struct maptext_legend_row *legend = NULL;
	const struct sitemap_spot *s = model_selected(&c->model);
	char line[CONSOLE_MESSAGE_LEN], at[32];
	size_t i, n = 0;
	int y = top, w = COLS - x;

	ui_text(c->colour, y++, x, w, _("Legend"), UI_HEADING);
	legend = maptext_legend(&n);
	for (i = 0; i < n && y < top + rows; i++) {
		if (!map_legend_shown((enum maptext_style)legend[i].style))
			continue;
		ui_text_attr(y, x, 1, c->ascii ? legend[i].ascii : legend[i].glyph,
			     ui_style_attr(c->colour, (enum maptext_style)legend[i].style, false));
		ui_text(c->colour, y++, x + 2, w - 2, _(legend[i].name), UI_NORMAL);
	}
	if (s == NULL || y + 6 >= top + rows)
		return;
	y++;
	snprintf(line, sizeof(line), "%s (%" PRIu32 ")", s->name, s->id);
	ui_text(c->colour, y++, x, w, line, UI_HEADING);
	snprintf(line, sizeof(line), _("lock: %s"), map_flag(s->state.locked, N_("locked"),
							     N_("unlocked")));
	ui_text(c->colour, y++, x, w, line, UI_NORMAL);
	snprintf(line, sizeof(line), _("car: %s"), map_flag(s->state.occupied, N_("present"),
							    N_("none")));
	ui_text(c->colour, y++, x, w, line, UI_NORMAL);
	snprintf(line, sizeof(line), _("link: %s"), map_flag(s->state.online, N_("online"),
							     N_("offline")));
	ui_text(c->colour, y++, x, w, line, UI_NORMAL);
	if (s->state.battery >= 0)
		snprintf(line, sizeof(line), _("battery: %d%%"), s->state.battery);
	else
		snprintf(line, sizeof(line), _("battery: unknown"));
	ui_text(c->colour, y++, x, w, line, UI_NORMAL);
	snprintf(line, sizeof(line), _("heard: %s"), frame_time(s->state.last_event_at, at,
								sizeof(at)));
	if (y < top + rows)
		ui_text(c->colour, y++, x, w, line, UI_NORMAL);
}

static void map_draw(struct console *c, int top, int rows)
{
	const struct model *m = &c->model;
	int cols = COLS - MAP_PANEL_COLS - 1;

	if (!m->have_map) {
		frame_wrap(c, top + 1, 2, COLS - 4, rows - 2, m->map_error[0] != '\0' ?
			   m->map_error : m->link == MODEL_DOWN ?
			   _("No map yet: the server cannot be reached.") :
			   _("Reading the site's map..."), m->map_error[0] != '\0' ? UI_ERROR :
			   UI_WARN);
		return;
	}
	map_paint(c, top, cols, rows);
	mvvline(top, cols, ACS_VLINE, rows);
	map_panel(c, top, cols + 2, rows);
}

static void map_open_spot(struct console *c)
{
	if (model_selected(&c->model) == NULL) {
		console_say(c, true, _("Select a spot first (arrow keys)."));
		return;
	}
	console_show(c, SCREEN_SPOT);
}

static bool map_find_next(struct console *c)
{
	size_t idx;

	if (c->find_last[0] == '\0') {
		console_ask(c, PROMPT_FIND, _("Find a spot (name or number) or an owner "
					      "(owner:USER)"), false);
		return true;
	}
	idx = model_find(&c->model, c->find_last);
	if (idx == SITEMAP_NONE)
		console_say(c, true, _("No spot or owner matches."));
	else
		model_select(&c->model, idx);
	return true;
}

static bool map_key(struct console *c, unsigned long ch, bool fkey)
{
	static const struct {
		unsigned long key;
		int dx, dy;
	} moves[] = {
		{ KEY_UP, 0, 1 }, { KEY_DOWN, 0, -1 }, { KEY_LEFT, -1, 0 }, { KEY_RIGHT, 1, 0 },
	};
	size_t i;

	for (i = 0; fkey && i < sizeof(moves) / sizeof(moves[0]); i++)
		if (ch == moves[i].key) {
			(void)model_move(&c->model, moves[i].dx, moves[i].dy);
			return true;
		}
	if (fkey && (ch == KEY_NPAGE || ch == KEY_PPAGE)) {
		if (!model_level_step(&c->model, ch == KEY_NPAGE ? 1 : -1))
			console_say(c, false, ch == KEY_NPAGE ? _("This is the last level.") :
				    _("This is the first level."));
		return true;
	}
	if ((fkey && ch == KEY_ENTER) || (!fkey && (ch == '\r' || ch == '\n'))) {
		map_open_spot(c);
		return true;
	}
	if (fkey)
		return false;
	if (ch == '/') {
		console_ask(c, PROMPT_FIND, _("Find a spot (name or number) or an owner "
					      "(owner:USER)"), false);
		return true;
	}
	if (ch == 'n')
		return map_find_next(c);
	if (ch == 'o' && c->sess.staff) {
		console_override(c, c->model.selected);
		return true;
	}
	return false;
}

const struct screen screen_map = {
	.title = N_("Map"),
	.draw = map_draw,
	.key = map_key,
	.keys = map_keys,
	.nkeys = sizeof(map_keys) / sizeof(map_keys[0]),
};
