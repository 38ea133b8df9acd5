/*
 * maptext.c: lays a level of a sitemap out on a grid of cells and prints it (see
 * maptext.h). Drawing goes in layers, each over the one before: lanes, the route, nodes,
 * spots, and labels into what is still blank. Lines are walked cell to cell without
 * diagonal steps so that box-drawing glyphs chosen from each cell's links join up.
 * No curses here: parkconsole paints the cells itself.
 */
#include "maptext.h"

#include <libintl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_(s) s

/* A cell's links to its neighbours, for the line glyphs. */
enum {
	LINK_N = 1,
	LINK_E = 2,
	LINK_S = 4,
	LINK_W = 8,
};

/* Line glyphs by links (N E S W bits); a lone end reads as its line. */
static const char *const maptext_light[16] = {
	" ", "│", "─", "└", "│", "│", "┌", "├", "─", "┘", "─", "┴", "┐", "┤", "┬", "┼",
};
static const char *const maptext_heavy[16] = {
	" ", "┃", "━", "┗", "┃", "┃", "┏", "┣", "━", "┛", "━", "┻", "┓", "┫", "┳", "╋",
};

/* Glyphs of the fixed styles: Unicode, ASCII. Lines and labels are drawn otherwise. */
static const struct {
	const char *glyph;
	const char *ascii;
} maptext_glyphs[MAPTEXT_STYLE_COUNT] = {
	[MAPTEXT_BLANK] = { " ", " " },
	[MAPTEXT_LANE] = { "─", "-" },
	[MAPTEXT_RAMP] = { "R", "R" },
	[MAPTEXT_ENTRANCE] = { "E", "E" },
	[MAPTEXT_EXIT] = { "X", "X" },
	[MAPTEXT_ROUTE] = { "━", "*" },
	[MAPTEXT_SPOT_FREE] = { "□", "o" },
	[MAPTEXT_SPOT_UNLOCKED] = { "▽", "v" },
	[MAPTEXT_SPOT_OCCUPIED] = { "■", "#" },
	[MAPTEXT_SPOT_KEYED] = { "◆", "k" },
	[MAPTEXT_SPOT_OFFLINE] = { "×", "~" },
	[MAPTEXT_SPOT_ALARM] = { "!", "!" },
	[MAPTEXT_SPOT_UNKNOWN] = { "?", "?" },
	[MAPTEXT_SPOT_SELECTED] = { "□", "o" },
	[MAPTEXT_MARKED_SPOT] = { "◉", "@" },
	[MAPTEXT_LABEL] = { " ", " " }, /* a label writes its own characters */
};

static const struct maptext_legend_row maptext_legend_rows[] = {
	{ "E", "E", MAPTEXT_ENTRANCE, N_("entrance") },
	{ "X", "X", MAPTEXT_EXIT, N_("exit") },
	{ "─", "-", MAPTEXT_LANE, N_("lane") },
	{ "R", "R", MAPTEXT_RAMP, N_("ramp to another level") },
	{ "━", "*", MAPTEXT_ROUTE, N_("route") },
	{ "◉", "@", MAPTEXT_MARKED_SPOT, N_("your spot") },
	{ "□", "o", MAPTEXT_SPOT_FREE, N_("free") },
	{ "▽", "v", MAPTEXT_SPOT_UNLOCKED, N_("unlocked") },
	{ "■", "#", MAPTEXT_SPOT_OCCUPIED, N_("occupied") },
	{ "◆", "k", MAPTEXT_SPOT_KEYED, N_("key given out") },
	{ "×", "~", MAPTEXT_SPOT_OFFLINE, N_("offline") },
	{ "!", "!", MAPTEXT_SPOT_ALARM, N_("alarm") },
	{ "?", "?", MAPTEXT_SPOT_UNKNOWN, N_("not heard from yet") },
	{ "□", "o", MAPTEXT_SPOT_SELECTED, N_("selected") },
};

/* ANSI SGR parameters per style for maptext_print(). */
static const char *const maptext_sgr[MAPTEXT_STYLE_COUNT] = {
	[MAPTEXT_BLANK] = "0",
	[MAPTEXT_LANE] = "2",
	[MAPTEXT_RAMP] = "1;35",
	[MAPTEXT_ENTRANCE] = "1;32",
	[MAPTEXT_EXIT] = "1;31",
	[MAPTEXT_ROUTE] = "1;36",
	[MAPTEXT_SPOT_FREE] = "32",
	[MAPTEXT_SPOT_UNLOCKED] = "33",
	[MAPTEXT_SPOT_OCCUPIED] = "1;34",
	[MAPTEXT_SPOT_KEYED] = "35",
	[MAPTEXT_SPOT_OFFLINE] = "90",
	[MAPTEXT_SPOT_ALARM] = "1;37;41",
	[MAPTEXT_SPOT_UNKNOWN] = "37",
	[MAPTEXT_SPOT_SELECTED] = "7",
	[MAPTEXT_MARKED_SPOT] = "1;33",
	[MAPTEXT_LABEL] = "0",
};

/* How urgent a spot's look is when several share a cell. */
static const uint8_t maptext_urgency[MAPTEXT_STYLE_COUNT] = {
	[MAPTEXT_SPOT_UNKNOWN] = 1,
	[MAPTEXT_SPOT_FREE] = 2,
	[MAPTEXT_SPOT_UNLOCKED] = 3,
	[MAPTEXT_SPOT_KEYED] = 4,
	[MAPTEXT_SPOT_OCCUPIED] = 5,
	[MAPTEXT_SPOT_OFFLINE] = 6,
	[MAPTEXT_SPOT_ALARM] = 7,
	[MAPTEXT_MARKED_SPOT] = 8,
	[MAPTEXT_SPOT_SELECTED] = 9,
};

/* ---- the grid ---- */

int maptext_grid_init(struct maptext_grid *g, size_t width, size_t height)
{
	size_t n = width * height;

	memset(g, 0, sizeof(*g));
	g->level = SITEMAP_NONE;
	if (width < 1 || height < 1 || width > MAPTEXT_SIDE_MAX || height > MAPTEXT_SIDE_MAX)
		return -MAPTEXT_E_INVALID;
	g->width = width;
	g->height = height;
	g->cells = calloc(n, sizeof(*g->cells));
	g->links = calloc(n, sizeof(*g->links));
	g->route_links = calloc(n, sizeof(*g->route_links));
	g->spot_of_cell = calloc(n, sizeof(*g->spot_of_cell));
	if (g->cells == NULL || g->links == NULL || g->route_links == NULL ||
	    g->spot_of_cell == NULL) {
		maptext_grid_free(g);
		return -MAPTEXT_E_NOMEM;
	}
	return 0;
}

void maptext_grid_free(struct maptext_grid *g)
{
	if (g == NULL)
		return;
	free(g->cells);
	free(g->links);
	free(g->route_links);
	free(g->spot_of_cell);
	free(g->places);
	free(g->place_of_spot);
	memset(g, 0, sizeof(*g));
	g->level = SITEMAP_NONE;
}

static void cell_set(struct maptext_cell *c, const char *glyph, enum maptext_style style)
{
	snprintf(c->glyph, sizeof(c->glyph), "%s", glyph);
	c->style = (uint8_t)style;
}

static void grid_clear(struct maptext_grid *g)
{
	size_t i, n = g->width * g->height;

	for (i = 0; i < n; i++) {
		g->cells[i].glyph[0] = ' ';
		g->cells[i].glyph[1] = '\0';
		g->cells[i].style = MAPTEXT_BLANK;
		g->spot_of_cell[i] = SITEMAP_NONE;
	}
	memset(g->links, 0, n);
	memset(g->route_links, 0, n);
	g->nplaces = 0;
}

/* Room for the places of a map's spots; the arrays only grow. */
static int grid_reserve(struct maptext_grid *g, size_t nspots, size_t nplaces)
{
	void *p;

	if (nspots > g->place_of_spot_cap) {
		if ((p = realloc(g->place_of_spot, nspots * sizeof(*g->place_of_spot))) == NULL)
			return -MAPTEXT_E_NOMEM;
		g->place_of_spot = p;
		g->place_of_spot_cap = nspots;
	}
	if (nplaces > g->places_cap) {
		if ((p = realloc(g->places, nplaces * sizeof(*g->places))) == NULL)
			return -MAPTEXT_E_NOMEM;
		g->places = p;
		g->places_cap = nplaces;
	}
	/* All ones is SITEMAP_NONE: no spot placed yet, stale ones of an earlier map too. */
	memset(g->place_of_spot, 0xff, g->place_of_spot_cap * sizeof(*g->place_of_spot));
	return 0;
}

/* The plan's scale and margins: the whole level in the grid, cells twice as tall as wide. */
static void grid_scale(struct maptext_grid *g, const struct sitemap_level *l)
{
	double cols = (double)(g->width - 1), rows = (double)(g->height - 1);
	double sx = fmin(cols / l->width, 2.0 * rows / l->height);

	g->scale_x = sx;
	g->scale_y = sx / 2.0;
	g->origin_col = (cols - l->width * g->scale_x) / 2.0;
	g->origin_row = (rows - l->height * g->scale_y) / 2.0;
}

/* The cell of plan point (x, y) on a level of height h, clamped into the grid. */
static void grid_cell(const struct maptext_grid *g, double h, double x, double y, long *col,
		      long *row)
{
	long c = lround(g->origin_col + x * g->scale_x);
	long r = lround(g->origin_row + (h - y) * g->scale_y);

	*col = c < 0 ? 0 : c >= (long)g->width ? (long)g->width - 1 : c;
	*row = r < 0 ? 0 : r >= (long)g->height ? (long)g->height - 1 : r;
}

/* ---- lines ---- */

/*
 * Links the cells on the way from (c0, r0) to (c1, r1), one horizontal or vertical step
 * at a time, taking whichever keeps closest to the straight line.
 */
static void grid_line(struct maptext_grid *g, uint8_t *links, long c0, long r0, long c1,
		      long r1)
{
	long dx = labs(c1 - c0), dy = labs(r1 - r0), ix = 0, iy = 0;
	long sx = c1 > c0 ? 1 : -1, sy = r1 > r0 ? 1 : -1, c = c0, r = r0;
	size_t w = g->width;

	while (ix < dx || iy < dy) {
		if ((1 + 2 * ix) * dy < (1 + 2 * iy) * dx) {
			links[(size_t)r * w + (size_t)c] |= sx > 0 ? LINK_E : LINK_W;
			c += sx;
			links[(size_t)r * w + (size_t)c] |= sx > 0 ? LINK_W : LINK_E;
			ix++;
		} else {
			links[(size_t)r * w + (size_t)c] |= sy > 0 ? LINK_S : LINK_N;
			r += sy;
			links[(size_t)r * w + (size_t)c] |= sy > 0 ? LINK_N : LINK_S;
			iy++;
		}
	}
}

static void draw_lanes(struct maptext_grid *g, const struct sitemap *map, size_t level)
{
	double h = map->levels[level].height;
	long c0, r0, c1, r1;
	size_t i;

	for (i = 0; i < map->nlanes; i++) {
		const struct sitemap_node *a = &map->nodes[map->lanes[i].a];
		const struct sitemap_node *b = &map->nodes[map->lanes[i].b];

		if (a->level != level || b->level != level)
			continue;
		grid_cell(g, h, a->x, a->y, &c0, &r0);
		grid_cell(g, h, b->x, b->y, &c1, &r1);
		grid_line(g, g->links, c0, r0, c1, r1);
	}
}

static void draw_route(struct maptext_grid *g, const struct sitemap *map, size_t level,
		       const struct sitemap_route *rt)
{
	double h = map->levels[level].height;
	long c0, r0, c1, r1;
	size_t i;

	for (i = 1; i < rt->npoints; i++) {
		const struct sitemap_point *p = &rt->points[i - 1], *q = &rt->points[i];

		if (p->level != level || q->level != level)
			continue;
		grid_cell(g, h, p->x, p->y, &c0, &r0);
		grid_cell(g, h, q->x, q->y, &c1, &r1);
		grid_line(g, g->route_links, c0, r0, c1, r1);
	}
}

/* Turns the links into line glyphs; route over lane. */
static void draw_links(struct maptext_grid *g)
{
	size_t i, n = g->width * g->height;
	uint8_t k;

	for (i = 0; i < n; i++) {
		if ((k = g->route_links[i]) != 0)
			cell_set(&g->cells[i], g->ascii ? "*" : maptext_heavy[k], MAPTEXT_ROUTE);
		else if ((k = g->links[i]) != 0)
			cell_set(&g->cells[i], !g->ascii ? maptext_light[k] :
					       (k & (LINK_N | LINK_S)) == 0 ? "-" :
					       (k & (LINK_E | LINK_W)) == 0 ? "|" : "+",
				 MAPTEXT_LANE);
	}
}

/* ---- nodes and spots ---- */

static const char *style_glyph(const struct maptext_grid *g, enum maptext_style s)
{
	return g->ascii ? maptext_glyphs[s].ascii : maptext_glyphs[s].glyph;
}

/* Entrances, exits, and the ends of ramps to other levels. */
static void draw_nodes(struct maptext_grid *g, const struct sitemap *map, size_t level)
{
	double h = map->levels[level].height;
	long c, r;
	size_t i;

	for (i = 0; i < map->nlanes; i++) {
		const struct sitemap_node *a = &map->nodes[map->lanes[i].a];
		const struct sitemap_node *b = &map->nodes[map->lanes[i].b];
		const struct sitemap_node *here = a->level == level ? a : b;

		if (a->level == b->level || here->level != level)
			continue;
		grid_cell(g, h, here->x, here->y, &c, &r);
		cell_set(&g->cells[(size_t)r * g->width + (size_t)c], style_glyph(g, MAPTEXT_RAMP),
			 MAPTEXT_RAMP);
	}
	for (i = 0; i < map->nnodes; i++) {
		const struct sitemap_node *n = &map->nodes[i];
		enum maptext_style s = n->kind == SITEMAP_ENTRANCE ? MAPTEXT_ENTRANCE : MAPTEXT_EXIT;

		if (n->level != level || n->kind == SITEMAP_JUNCTION)
			continue;
		grid_cell(g, h, n->x, n->y, &c, &r);
		cell_set(&g->cells[(size_t)r * g->width + (size_t)c], style_glyph(g, s), s);
	}
}

enum maptext_style maptext_spot_style(const struct sitemap_spot *spot)
{
	const struct sitemap_state *st = &spot->state;

	if (st->alarm != SITEMAP_ALARM_NONE)
		return MAPTEXT_SPOT_ALARM;
	if (st->online == SITEMAP_NO)
		return MAPTEXT_SPOT_OFFLINE;
	if (st->occupied == SITEMAP_YES)
		return MAPTEXT_SPOT_OCCUPIED;
	if (st->taken == SITEMAP_YES)
		return MAPTEXT_SPOT_KEYED;
	if (st->locked == SITEMAP_NO)
		return MAPTEXT_SPOT_UNLOCKED;
	if (st->locked == SITEMAP_UNKNOWN && st->occupied == SITEMAP_UNKNOWN)
		return MAPTEXT_SPOT_UNKNOWN;
	return MAPTEXT_SPOT_FREE;
}

/* A spot's glyph and style: its state's, or marked; the cursor keeps the glyph. */
static enum maptext_style spot_look(const struct maptext_grid *g, const struct sitemap *map,
				    size_t spot, const struct maptext_options *o,
				    const char **glyph)
{
	enum maptext_style s = map->marked == spot ? MAPTEXT_MARKED_SPOT :
			       maptext_spot_style(&map->spots[spot]);

	*glyph = style_glyph(g, s);
	return o->selected == spot ? MAPTEXT_SPOT_SELECTED : s;
}

/* A blank cell next to (c, r) for a spot that found its own taken, or -1. */
static long spot_nudge(const struct maptext_grid *g, long c, long r)
{
	const signed char step[8][2] = {
		{ 1, 0 }, { -1, 0 }, { 0, -1 }, { 0, 1 }, { 1, -1 }, { -1, -1 }, { 1, 1 }, { -1, 1 },
	};
	size_t k;

	for (k = 0; k < 8; k++) {
		long cc = c + step[k][0], rr = r + step[k][1];
		size_t i = (size_t)rr * g->width + (size_t)cc;

		if (cc >= 0 && rr >= 0 && cc < (long)g->width && rr < (long)g->height &&
		    g->cells[i].style == MAPTEXT_BLANK && g->spot_of_cell[i] == SITEMAP_NONE)
			return (long)i;
	}
	return -1;
}

static void draw_spot(struct maptext_grid *g, const struct sitemap *map, size_t spot,
		      const struct maptext_options *o)
{
	const struct sitemap_spot *s = &map->spots[spot];
	const char *glyph;
	enum maptext_style style = spot_look(g, map, spot, o, &glyph);
	struct maptext_place *pl = &g->places[g->nplaces];
	long c, r, nudged;
	size_t i, shown;

	grid_cell(g, map->levels[s->level].height, s->x, s->y, &c, &r);
	i = (size_t)r * g->width + (size_t)c;
	if (g->spot_of_cell[i] != SITEMAP_NONE && (nudged = spot_nudge(g, c, r)) >= 0)
		i = (size_t)nudged;
	pl->spot = spot;
	pl->col = (uint16_t)(i % g->width);
	pl->row = (uint16_t)(i / g->width);
	g->place_of_spot[spot] = g->nplaces++;
	shown = g->spot_of_cell[i];
	if (shown != SITEMAP_NONE && maptext_urgency[g->cells[i].style] >= maptext_urgency[style])
		return;
	g->spot_of_cell[i] = spot;
	cell_set(&g->cells[i], glyph, style);
}

/* ---- labels ---- */

/* The character of UTF-8 s at i: its bytes' count and its width in cells (1, 2), or 0
 * width for one a cell cannot hold alone (combining, zero-width). Names come checked
 * from sitemap, but a broken sequence still counts as one byte. */
static size_t utf8_next(const char *s, size_t i, int *width)
{
	const unsigned char *u = (const unsigned char *)s + i;
	size_t n = u[0] < 0x80 ? 1 : u[0] < 0xe0 ? 2 : u[0] < 0xf0 ? 3 : 4;
	uint32_t c = n == 1 ? u[0] : n == 2 ? (u[0] & 0x1fu) : n == 3 ? (u[0] & 0x0fu) :
		     (u[0] & 0x07u);
	size_t k;

	for (k = 1; k < n; k++) {
		if ((u[k] & 0xc0) != 0x80) { /* broken: one byte, one cell, never past the NUL */
			*width = 1;
			return 1;
		}
		c = c << 6 | (u[k] & 0x3fu);
	}
	*width = 1;
	if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) ||
	    (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0x1ab0 && c <= 0x1aff) ||
	    (c >= 0x20d0 && c <= 0x20ff))
		*width = 0;
	else if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f) ||
		 (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
		 (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
		 (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
		 (c >= 0x20000 && c <= 0x3fffd))
		*width = 2;
	return n;
}

/* A name's width in cells, or 0 when it has a character a cell cannot hold alone. */
static size_t label_width(const char *name)
{
	size_t i = 0, w = 0;
	int cw;

	while (name[i] != '\0') {
		i += utf8_next(name, i, &cw);
		if (cw == 0)
			return 0;
		w += (size_t)cw;
	}
	return w;
}

/* Cells [lo, hi) of row r, clipped to the grid, are all blank. */
static bool row_blank(const struct maptext_grid *g, long r, long lo, long hi)
{
	long c;

	if (r < 0 || r >= (long)g->height)
		return false;
	for (c = lo < 0 ? 0 : lo; c < hi && c < (long)g->width; c++)
		if (g->cells[(size_t)r * g->width + (size_t)c].style != MAPTEXT_BLANK)
			return false;
	return true;
}

static void label_write(struct maptext_grid *g, const char *name, long r, long c)
{
	struct maptext_cell *cell = &g->cells[(size_t)r * g->width + (size_t)c];
	size_t i = 0, n;
	int cw;

	while (name[i] != '\0') {
		n = utf8_next(name, i, &cw);
		memcpy(cell->glyph, name + i, n);
		cell->glyph[n] = '\0';
		cell->style = MAPTEXT_LABEL;
		cell++;
		if (cw == 2) {
			cell->glyph[0] = '\0';
			cell->style = MAPTEXT_LABEL;
			cell++;
		}
		i += n;
	}
}

/* A spot's name above, below, right or left of it, with a blank cell between labels. */
static void draw_label(struct maptext_grid *g, const char *name, const struct maptext_place *p)
{
	long w = (long)label_width(name), c = p->col, r = p->row, k;
	const long at[4][2] = { /* row, first column */
		{ r - 1, c - w / 2 }, { r + 1, c - w / 2 }, { r, c + 1 }, { r, c - w },
	};

	if (w == 0)
		return;
	for (k = 0; k < 4; k++) {
		long row = at[k][0], lo = at[k][1], hi = lo + w;

		if (lo < 0 || hi > (long)g->width)
			continue;
		if (row_blank(g, row, k == 2 ? lo : lo - 1, k == 3 ? hi : hi + 1)) {
			label_write(g, name, row, lo);
			return;
		}
	}
}

/* ---- the layout ---- */

int maptext_layout(struct maptext_grid *g, const struct sitemap *map, size_t level,
		   const struct maptext_options *opts)
{
	const struct maptext_options none = { false, false, MAPTEXT_ROUTE_NONE, SITEMAP_NONE };
	const struct maptext_options *o = opts != NULL ? opts : &none;
	const size_t *list;
	size_t i, n;

	if (g == NULL || g->cells == NULL || map == NULL || level >= map->nlevels)
		return -MAPTEXT_E_INVALID;
	grid_clear(g);
	g->level = SITEMAP_NONE;
	list = sitemap_level_spots(map, level, &n);
	if (grid_reserve(g, map->nspots, n) != 0)
		return -MAPTEXT_E_NOMEM;
	g->level = level;
	g->ascii = o->ascii;
	grid_scale(g, &map->levels[level]);
	draw_lanes(g, map, level);
	if (o->route == MAPTEXT_ROUTE_IN && map->route_in.present)
		draw_route(g, map, level, &map->route_in);
	else if (o->route == MAPTEXT_ROUTE_OUT && map->route_out.present)
		draw_route(g, map, level, &map->route_out);
	draw_links(g);
	draw_nodes(g, map, level);
	for (i = 0; i < n; i++)
		draw_spot(g, map, list[i], o);
	for (i = 0; o->labels && i < g->nplaces; i++)
		draw_label(g, map->spots[g->places[i].spot].name, &g->places[i]);
	return 0;
}

const struct maptext_cell *maptext_cell_at(const struct maptext_grid *g, size_t col,
					   size_t row)
{
	if (g == NULL || g->cells == NULL || col >= g->width || row >= g->height)
		return NULL;
	return &g->cells[row * g->width + col];
}

size_t maptext_spot_at(const struct maptext_grid *g, size_t col, size_t row)
{
	if (g == NULL || g->spot_of_cell == NULL || col >= g->width || row >= g->height)
		return SITEMAP_NONE;
	return g->spot_of_cell[row * g->width + col];
}

int maptext_spot_cell(const struct maptext_grid *g, size_t spot, size_t *col, size_t *row)
{
	size_t k;

	if (g == NULL || g->level == SITEMAP_NONE || spot >= g->place_of_spot_cap ||
	    (k = g->place_of_spot[spot]) == SITEMAP_NONE || k >= g->nplaces)
		return -MAPTEXT_E_INVALID;
	*col = g->places[k].col;
	*row = g->places[k].row;
	return 0;
}

const struct maptext_legend_row *maptext_legend(size_t *count)
{
	*count = sizeof(maptext_legend_rows) / sizeof(maptext_legend_rows[0]);
	return maptext_legend_rows;
}

/* ---- printing ---- */

/* Switches the terminal to a style's colours. */
static void print_sgr(FILE *f, int style)
{
	if (strcmp(maptext_sgr[style], "0") == 0)
		fputs("\x1b[0m", f);
	else
		fprintf(f, "\x1b[0;%sm", maptext_sgr[style]);
}

static int print_row(FILE *f, const struct maptext_grid *g, size_t row, bool colour,
		     bool present[MAPTEXT_STYLE_COUNT])
{
	const struct maptext_cell *cells = &g->cells[row * g->width];
	size_t end = g->width, c;
	int style = -1;

	while (end > 0 && cells[end - 1].style == MAPTEXT_BLANK)
		end--;
	for (c = 0; c < end; c++) {
		present[cells[c].style] = true;
		if (colour && cells[c].style != style) {
			style = cells[c].style;
			print_sgr(f, style);
		}
		fputs(cells[c].glyph, f);
	}
	if (colour && style != -1)
		fputs("\x1b[0m", f);
	return putc('\n', f) == EOF ? -MAPTEXT_E_IO : 0;
}

/* The legend rows of the styles the grid shows, several to a line. */
static void print_legend(FILE *f, const struct maptext_grid *g, bool colour,
			 const bool present[MAPTEXT_STYLE_COUNT])
{
	size_t n, i, used = 0, width = g->width < 40 ? 40 : g->width;
	const struct maptext_legend_row *rows = maptext_legend(&n);

	for (i = 0; i < n; i++) {
		const char *name = gettext(rows[i].name);
		size_t len = strlen(name) + 5;

		if (!present[rows[i].style])
			continue;
		if (used > 0 && used + len > width) {
			putc('\n', f);
			used = 0;
		}
		fputs(used > 0 ? "   " : "", f);
		if (colour)
			fprintf(f, "\x1b[0;%sm%s\x1b[0m %s", maptext_sgr[rows[i].style],
				g->ascii ? rows[i].ascii : rows[i].glyph, name);
		else
			fprintf(f, "%s %s", g->ascii ? rows[i].ascii : rows[i].glyph, name);
		used += len;
	}
	if (used > 0)
		putc('\n', f);
}

int maptext_print(FILE *f, const struct maptext_grid *g, bool colour)
{
	bool present[MAPTEXT_STYLE_COUNT] = { false };
	size_t row;
	int r = 0;

	if (f == NULL || g == NULL || g->cells == NULL)
		return -MAPTEXT_E_INVALID;
	if (g->level == SITEMAP_NONE)
		return 0;
	for (row = 0; r == 0 && row < g->height; row++)
		r = print_row(f, g, row, colour, present);
	if (r == 0) {
		putc('\n', f);
		print_legend(f, g, colour, present);
	}
	return r != 0 || fflush(f) != 0 || ferror(f) ? -MAPTEXT_E_IO : 0;
}
