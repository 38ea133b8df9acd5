/*
 * maptext.h: one level of a struct sitemap laid out on a grid of character cells, for
 * parkconsole's map screen (which paints the cells with curses) and `parkctl map` (which
 * prints them with maptext_print()). The grid is the model only: it knows glyphs and
 * styles, never terminal colours or curses, so tests can read it cell by cell.
 *
 * The level's plan is scaled to fit the grid, north up, a cell counted twice as tall as
 * it is wide. Lanes are lines, entrances E, exits X, ramp ends R, each spot one cell
 * whose glyph and style say its state; a spot map's route can be laid over, and spot
 * names written where they fit. Box drawing and the spot symbols are East Asian
 * "ambiguous" width: terminals set to count them wide want the ASCII set.
 */
#ifndef PARK_MAPTEXT_H
#define PARK_MAPTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sitemap.h"

#define MAPTEXT_SIDE_MAX 4096 /* cells across or down, at most */
#define MAPTEXT_GLYPH_MAX 8   /* one UTF-8 character and its NUL */

enum maptext_error {
	MAPTEXT_E_INVALID = 1, /* a size out of range, a level the map does not have */
	MAPTEXT_E_NOMEM = 2,
	MAPTEXT_E_IO = 3,      /* maptext_print: the stream failed */
};

/* What a cell shows; a curses program picks a colour pair per style. */
enum maptext_style {
	MAPTEXT_BLANK = 0,
	MAPTEXT_LANE,
	MAPTEXT_RAMP,
	MAPTEXT_ENTRANCE,
	MAPTEXT_EXIT,
	MAPTEXT_ROUTE,
	/* The spot states, FREE .. UNKNOWN, stay together in this order. */
	MAPTEXT_SPOT_FREE,     /* locked, empty, no key out: a driver may book it */
	MAPTEXT_SPOT_UNLOCKED, /* barrier down, no car */
	MAPTEXT_SPOT_OCCUPIED, /* a car on it */
	MAPTEXT_SPOT_KEYED,    /* someone holds a live e-key for it */
	MAPTEXT_SPOT_OFFLINE,  /* no gateway reaches the lock */
	MAPTEXT_SPOT_ALARM,    /* forced, jammed or locked out */
	MAPTEXT_SPOT_UNKNOWN,  /* the server has not heard from the lock yet */
	MAPTEXT_SPOT_SELECTED, /* the cursor (maptext_options.selected) */
	MAPTEXT_MARKED_SPOT,   /* a spot map's own spot */
	MAPTEXT_LABEL,         /* a spot's name */
	MAPTEXT_STYLE_COUNT
};

/*
 * One cell: a NUL-terminated UTF-8 character. An empty glyph continues the double-width
 * character in the cell to its left (a Chinese spot name): print nothing for it.
 */
struct maptext_cell {
	char glyph[MAPTEXT_GLYPH_MAX];
	uint8_t style; /* enum maptext_style */
};

/* Which route of a spot map to lay over the level. */
enum maptext_route {
	MAPTEXT_ROUTE_NONE = 0,
	MAPTEXT_ROUTE_IN,
	MAPTEXT_ROUTE_OUT,
};

struct maptext_options {
	bool ascii;               /* '-' '|' '+' and letters, not box drawing and symbols */
	bool labels;              /* spot names where there is room */
	enum maptext_route route; /* overlaid when the map has it */
	size_t selected;          /* spot index drawn as the cursor, or SITEMAP_NONE */
};

/* Where a spot of the laid-out level went. */
struct maptext_place {
	size_t spot;     /* spot index in the map */
	uint16_t col;    /* 0 .. width-1 */
	uint16_t row;    /* 0 .. height-1, 0 at the north */
};

/*
 * A laid-out level. width, height, cells, level, ascii and the places are read by
 * callers; the rest is maptext.c's scratch. Made by maptext_grid_init(), refilled by
 * each maptext_layout(), freed by maptext_grid_free().
 */
struct maptext_grid {
	size_t width, height;        /* cells, 1 .. MAPTEXT_SIDE_MAX */
	struct maptext_cell *cells;  /* width * height, row by row from the north */
	size_t level;                /* the level laid out, or SITEMAP_NONE before any */
	bool ascii;                  /* the glyph set used */
	struct maptext_place *places; /* the level's spots in sitemap_level_spots() order */
	size_t nplaces;
	/* private */
	size_t places_cap;
	uint8_t *links;              /* per cell: lane links north, east, south, west */
	uint8_t *route_links;        /* the same for the route */
	size_t *spot_of_cell;        /* per cell: a spot index or SITEMAP_NONE */
	size_t *place_of_spot;       /* per map spot: index into places, or SITEMAP_NONE */
	size_t place_of_spot_cap;
	double scale_x, scale_y;     /* cells per metre */
	double origin_col, origin_row;
};

/*
 * Makes an empty grid of width x height cells (1 .. MAPTEXT_SIDE_MAX each).
 * 0, -MAPTEXT_E_INVALID or -MAPTEXT_E_NOMEM (then *g holds nothing to free).
 */
int maptext_grid_init(struct maptext_grid *g, size_t width, size_t height);

/* Frees the grid's arrays and zeroes it. NULL is fine. */
void maptext_grid_free(struct maptext_grid *g);

/*
 * Lays out level `level` of `map` over the whole grid (opts may be NULL: Unicode, no
 * labels, no route, no cursor). Spots that would land on one cell go to a free cell
 * next to it when there is one, else share it (the cell shows the most urgent state;
 * every spot still has its place). Allocates only when the map has more spots than any
 * before. 0, -MAPTEXT_E_INVALID (no such level) or -MAPTEXT_E_NOMEM (the grid is then
 * blank). The map must not change while the grid's places are used.
 */
int maptext_layout(struct maptext_grid *g, const struct sitemap *map, size_t level,
		   const struct maptext_options *opts);

/* The cell at (col, row), or NULL outside the grid. */
const struct maptext_cell *maptext_cell_at(const struct maptext_grid *g, size_t col,
					   size_t row);

/* The spot shown at (col, row) (one of them when several share it), or SITEMAP_NONE. */
size_t maptext_spot_at(const struct maptext_grid *g, size_t col, size_t row);

/* Where spot `spot` was drawn: 0 with *col and *row, or -MAPTEXT_E_INVALID when it is
 * not on the laid-out level. */
int maptext_spot_cell(const struct maptext_grid *g, size_t spot, size_t *col, size_t *row);

/* The style that says a spot's state (alarm, offline, occupied, keyed, unlocked, free,
 * unknown in that order of urgency), for lists drawn beside the map. */
enum maptext_style maptext_spot_style(const struct sitemap_spot *spot);

/* A row of the legend: the glyph in each set, its style and an untranslated name. */
struct maptext_legend_row {
	const char *glyph;   /* Unicode set */
	const char *ascii;   /* ASCII set */
	uint8_t style;       /* enum maptext_style */
	const char *name;    /* "free", marked N_(): the caller passes it to gettext */
};

/* The legend, one row per thing the map can show; *count rows. The table is static. */
const struct maptext_legend_row *maptext_legend(size_t *count);

/*
 * Prints the grid (trailing blanks cut) and under it the legend of what it shows, names
 * through gettext, with ANSI colours when `colour`. 0 or -MAPTEXT_E_IO.
 */
int maptext_print(FILE *f, const struct maptext_grid *g, bool colour);

#endif
