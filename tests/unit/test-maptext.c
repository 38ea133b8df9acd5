/*
 * test-maptext.c: lib/maptext through its public API, on the demo site
 * (assets/demo/site.json) as a spot map of B1-05 with its routes: level B1 at 80 x 20
 * shows E, X, the lane and the ramp end, every spot's symbol at its place (and
 * maptext_spot_at() finds it there), the route laid over, labels where they fit (Chinese
 * ones two cells wide), the cursor; the ASCII set; spots sharing cells on a tiny grid;
 * 2,000 spots laid out in well under 5 ms; the legend; the printer, plain and coloured.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../lib/maptext.h"

#define DEMO_SITE "assets/demo/site.json"

/* Spot 105 (B1-05 at 25, 20; its node B1-A25 at 25, 12) in from E, out to X. */
static const char demo_routes[] =
	"{\"in\":{\"nodes\":[\"E\",\"B1-A05\",\"B1-A10\",\"B1-A15\",\"B1-A20\",\"B1-A25\"],"
	"\"points\":[{\"level\":\"B1\",\"x\":0,\"y\":12},{\"level\":\"B1\",\"x\":25,\"y\":12},"
	"{\"level\":\"B1\",\"x\":25,\"y\":20}],\"length_m\":33,\"sentences\":[\"In.\"]},"
	"\"out\":{\"nodes\":[\"B1-A25\",\"B1-A55\",\"X\"],"
	"\"points\":[{\"level\":\"B1\",\"x\":25,\"y\":20},{\"level\":\"B1\",\"x\":25,\"y\":12},"
	"{\"level\":\"B1\",\"x\":60,\"y\":12}],\"length_m\":43,\"sentences\":[\"Out.\"]}}";

static void demo_map(struct sitemap *m)
{
	json_object *root = json_object_new_object();
	char err[256] = "";

	json_object_object_add(root, "map", json_object_from_file(DEMO_SITE));
	json_object_object_add(root, "spot", json_tokener_parse("{\"id\":105,\"locked\":true,"
								"\"occupied\":false,\"online\":true,\"taken\":false}"));
	json_object_object_add(root, "routes", json_tokener_parse(demo_routes));
	if (sitemap_parse_spot_map(root, m, err, sizeof(err)) != 0)
		fail_msg("demo spot map: %s", err);
	json_object_put(root);
}

static const struct maptext_cell *cell(const struct maptext_grid *g, size_t col, size_t row)
{
	const struct maptext_cell *c = maptext_cell_at(g, col, row);

	assert_non_null(c);
	return c;
}

/* The cells of a style, counted. */
static size_t count_style(const struct maptext_grid *g, enum maptext_style style)
{
	size_t col, row, n = 0;

	for (row = 0; row < g->height; row++)
		for (col = 0; col < g->width; col++)
			n += cell(g, col, row)->style == style;
	return n;
}

/* Row `row` as one string (empty glyphs add nothing). */
static void row_text(const struct maptext_grid *g, size_t row, char *out, size_t cap)
{
	size_t col, len = 0;

	out[0] = '\0';
	for (col = 0; col < g->width; col++) {
		const char *glyph = cell(g, col, row)->glyph;

		assert_true(len + strlen(glyph) < cap);
		memcpy(out + len, glyph, strlen(glyph) + 1);
		len += strlen(glyph);
	}
}

/* Where a node was drawn: the one cell of `style`. */
static void find_style(const struct maptext_grid *g, enum maptext_style style, size_t *col,
		       size_t *row)
{
	size_t c, r, n = 0;

	for (r = 0; r < g->height; r++)
		for (c = 0; c < g->width; c++)
			if (cell(g, c, r)->style == style) {
				*col = c;
				*row = r;
				n++;
			}
	assert_int_equal(n, 1);
}

static void test_demo_level(void **state)
{
	const struct maptext_options o = { false, false, MAPTEXT_ROUTE_IN, SITEMAP_NONE };
	struct maptext_grid g;
	struct sitemap m;
	const size_t *list;
	size_t n, i, col, row, ecol, erow, xcol, xrow;

	(void)state;
	demo_map(&m);
	m.spots[sitemap_spot_find(&m, 102)].state.occupied = SITEMAP_YES;
	m.spots[sitemap_spot_find(&m, 103)].state.alarm = SITEMAP_ALARM_JAMMED;
	m.spots[sitemap_spot_find(&m, 113)].state.online = SITEMAP_NO;
	m.spots[sitemap_spot_find(&m, 114)].state.taken = SITEMAP_YES;
	assert_int_equal(maptext_grid_init(&g, 80, 20), 0);
	assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
	/* The entrance on the west edge, the exit on the east, on one row with the lane. */
	find_style(&g, MAPTEXT_ENTRANCE, &ecol, &erow);
	find_style(&g, MAPTEXT_EXIT, &xcol, &xrow);
	assert_string_equal(cell(&g, ecol, erow)->glyph, "E");
	assert_string_equal(cell(&g, xcol, xrow)->glyph, "X");
	assert_int_equal(ecol, 0);
	assert_int_equal(xcol, 79);
	assert_int_equal(erow, xrow);
	assert_int_equal(count_style(&g, MAPTEXT_RAMP), 1);
	/* The way in runs along the aisle from E, then up to the marked spot. */
	assert_int_equal(cell(&g, 1, erow)->style, MAPTEXT_ROUTE);
	assert_string_equal(cell(&g, 1, erow)->glyph, "━");
	assert_int_equal(cell(&g, 60, erow)->style, MAPTEXT_LANE);
	assert_string_equal(cell(&g, 60, erow)->glyph, "─");
	assert_true(count_style(&g, MAPTEXT_ROUTE) > 30);
	/* Every spot of B1 where its plan place says, with its state's symbol. */
	list = sitemap_level_spots(&m, 0, &n);
	assert_int_equal(g.nplaces, 20);
	for (i = 0; i < n; i++) {
		const struct sitemap_spot *s = &m.spots[list[i]];
		const struct maptext_cell *c;

		assert_int_equal(maptext_spot_cell(&g, list[i], &col, &row), 0);
		assert_int_equal(maptext_spot_at(&g, col, row), list[i]);
		/* 8 m from the aisle: 5.3 rows either side, rounded. */
		assert_true(s->y > 12 ? erow - row >= 5 && erow - row <= 6 :
					row - erow >= 5 && row - erow <= 6);
		if (i > 0 && i != 10) /* one row each side */
			assert_int_equal(row, g.places[i - 1].row);
		c = cell(&g, col, row);
		if (s->id == 105)
			assert_string_equal(c->glyph, "◉");
		else if (s->id == 102)
			assert_string_equal(c->glyph, "■");
		else if (s->id == 103)
			assert_string_equal(c->glyph, "!");
		else if (s->id == 113)
			assert_string_equal(c->glyph, "×");
		else if (s->id == 114)
			assert_string_equal(c->glyph, "◆");
		else
			assert_string_equal(c->glyph, "?"); /* the demo file has no live state */
		if (i > 0 && i != 10) /* west to east along each row */
			assert_true(col > g.places[i - 1].col);
	}
	assert_int_equal(maptext_spot_cell(&g, sitemap_spot_find(&m, 201), &col, &row),
			 -MAPTEXT_E_INVALID);
	assert_int_equal(maptext_spot_at(&g, 1, erow), SITEMAP_NONE);
	assert_int_equal(maptext_spot_at(&g, 80, 0), SITEMAP_NONE);
	assert_null(maptext_cell_at(&g, 0, 20));
	maptext_grid_free(&g);
	sitemap_free(&m);
}

static void test_route_out_and_b2(void **state)
{
	struct maptext_options o = { false, false, MAPTEXT_ROUTE_OUT, SITEMAP_NONE };
	struct maptext_grid g;
	struct sitemap m;
	size_t col, row;

	(void)state;
	demo_map(&m);
	assert_int_equal(maptext_grid_init(&g, 80, 20), 0);
	assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
	find_style(&g, MAPTEXT_EXIT, &col, &row);
	assert_int_equal(cell(&g, col - 1, row)->style, MAPTEXT_ROUTE);
	assert_int_equal(cell(&g, 1, row)->style, MAPTEXT_LANE); /* west of the spot: no route */
	/* B2: no entrance or exit, no route, a ramp end, its own 20 spots. */
	o.route = MAPTEXT_ROUTE_IN;
	assert_int_equal(maptext_layout(&g, &m, 1, &o), 0);
	assert_int_equal(g.level, 1);
	assert_int_equal(count_style(&g, MAPTEXT_ENTRANCE) + count_style(&g, MAPTEXT_EXIT), 0);
	assert_int_equal(count_style(&g, MAPTEXT_ROUTE), 0);
	assert_int_equal(count_style(&g, MAPTEXT_RAMP), 1);
	assert_int_equal(count_style(&g, MAPTEXT_SPOT_UNKNOWN), 20);
	assert_int_equal(maptext_layout(&g, &m, 2, &o), -MAPTEXT_E_INVALID);
	maptext_grid_free(&g);
	sitemap_free(&m);
}

static void test_ascii_and_cursor(void **state)
{
	struct maptext_options o = { true, false, MAPTEXT_ROUTE_IN, SITEMAP_NONE };
	struct maptext_grid g;
	struct sitemap m;
	size_t col, row, ecol, erow, s101;

	(void)state;
	demo_map(&m);
	s101 = sitemap_spot_find(&m, 101);
	m.spots[s101].state.locked = SITEMAP_YES;
	o.selected = s101;
	assert_int_equal(maptext_grid_init(&g, 80, 20), 0);
	assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
	find_style(&g, MAPTEXT_ENTRANCE, &ecol, &erow);
	assert_string_equal(cell(&g, 1, erow)->glyph, "*");
	assert_string_equal(cell(&g, 60, erow)->glyph, "-");
	assert_int_equal(maptext_spot_cell(&g, s101, &col, &row), 0);
	assert_int_equal(cell(&g, col, row)->style, MAPTEXT_SPOT_SELECTED);
	assert_string_equal(cell(&g, col, row)->glyph, "o"); /* free, shown as the cursor */
	assert_int_equal(maptext_spot_cell(&g, m.marked, &col, &row), 0);
	assert_string_equal(cell(&g, col, row)->glyph, "@");
	for (row = 0; row < g.height; row++) /* every glyph one ASCII byte */
		for (col = 0; col < g.width; col++)
			assert_int_equal(strlen(cell(&g, col, row)->glyph), 1);
	maptext_grid_free(&g);
	sitemap_free(&m);
}

static void test_labels(void **state)
{
	const struct maptext_options o = { false, true, MAPTEXT_ROUTE_NONE, SITEMAP_NONE };
	struct maptext_grid g;
	struct sitemap m;
	char text[1024];
	size_t row, col, srow, scol, found = 0;

	(void)state;
	demo_map(&m);
	snprintf(m.spots[sitemap_spot_find(&m, 101)].name, SITEMAP_NAME_MAX, "车位一");
	assert_int_equal(maptext_grid_init(&g, 80, 20), 0);
	assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
	for (row = 0; row < g.height; row++) {
		row_text(&g, row, text, sizeof(text));
		found += strstr(text, "B1-02") != NULL && strstr(text, "B1-10") != NULL;
		found += strstr(text, "B1-11") != NULL && strstr(text, "B1-20") != NULL;
	}
	assert_int_equal(found, 2);
	/* The Chinese name: one character a cell, each followed by an empty one. */
	assert_int_equal(maptext_spot_cell(&g, sitemap_spot_find(&m, 101), &scol, &srow), 0);
	for (col = 0; col + 1 < g.width; col++)
		if (strcmp(cell(&g, col, srow - 1)->glyph, "车") == 0)
			break;
	assert_true(col + 5 < g.width);
	assert_int_equal(cell(&g, col, srow - 1)->style, MAPTEXT_LABEL);
	assert_string_equal(cell(&g, col + 1, srow - 1)->glyph, "");
	assert_string_equal(cell(&g, col + 2, srow - 1)->glyph, "位");
	assert_string_equal(cell(&g, col + 4, srow - 1)->glyph, "一");
	assert_string_equal(cell(&g, col + 5, srow - 1)->glyph, "");
	/* Narrower: spots 5 cells apart, so only some names fit, never two run together. */
	maptext_grid_free(&g);
	snprintf(m.spots[sitemap_spot_find(&m, 101)].name, SITEMAP_NAME_MAX, "B1-01");
	assert_int_equal(maptext_grid_init(&g, 56, 20), 0);
	assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
	assert_true(count_style(&g, MAPTEXT_LABEL) >= 5 * 8);
	assert_true(count_style(&g, MAPTEXT_LABEL) % 5 == 0);
	for (row = 0; row < g.height; row++) {
		size_t run = 0;

		for (col = 0; col <= g.width; col++) {
			if (col < g.width && cell(&g, col, row)->style == MAPTEXT_LABEL) {
				run++;
				continue;
			}
			assert_true(run == 0 || run == 5);
			run = 0;
		}
	}
	/* A name broken after parsing (a cut UTF-8 sequence) is drawn byte by byte. */
	snprintf(m.spots[sitemap_spot_find(&m, 101)].name, SITEMAP_NAME_MAX, "B\xe8\xbd");
	assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
	/* No room for labels on a narrow grid: none written, spots all there. */
	maptext_grid_free(&g);
	assert_int_equal(maptext_grid_init(&g, 20, 6), 0);
	assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
	assert_int_equal(g.nplaces, 20);
	maptext_grid_free(&g);
	sitemap_free(&m);
}

static void test_styles(void **state)
{
	struct sitemap_spot s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.state = (struct sitemap_state){ SITEMAP_UNKNOWN, SITEMAP_UNKNOWN, SITEMAP_UNKNOWN,
					  SITEMAP_UNKNOWN, -1, -1, SITEMAP_ALARM_NONE, -1, 0 };
	assert_int_equal(maptext_spot_style(&s), MAPTEXT_SPOT_UNKNOWN);
	s.state.locked = SITEMAP_YES;
	assert_int_equal(maptext_spot_style(&s), MAPTEXT_SPOT_FREE);
	s.state.locked = SITEMAP_NO;
	assert_int_equal(maptext_spot_style(&s), MAPTEXT_SPOT_UNLOCKED);
	s.state.taken = SITEMAP_YES;
	assert_int_equal(maptext_spot_style(&s), MAPTEXT_SPOT_KEYED);
	s.state.occupied = SITEMAP_YES;
	assert_int_equal(maptext_spot_style(&s), MAPTEXT_SPOT_OCCUPIED);
	s.state.online = SITEMAP_NO;
	assert_int_equal(maptext_spot_style(&s), MAPTEXT_SPOT_OFFLINE);
	s.state.alarm = SITEMAP_ALARM_FORCED;
	assert_int_equal(maptext_spot_style(&s), MAPTEXT_SPOT_ALARM);
}

/* Two spots that round to one cell: the second goes next door, both findable. */
static void test_nudged(void **state)
{
	struct maptext_grid g;
	struct sitemap m;
	size_t a, b, ca, ra, cb, rb;

	(void)state;
	demo_map(&m);
	a = sitemap_spot_find(&m, 101);
	b = sitemap_spot_find(&m, 102);
	m.spots[b].x = m.spots[a].x + 0.2;
	assert_int_equal(maptext_grid_init(&g, 80, 20), 0);
	assert_int_equal(maptext_layout(&g, &m, 0, NULL), 0);
	assert_int_equal(maptext_spot_cell(&g, a, &ca, &ra), 0);
	assert_int_equal(maptext_spot_cell(&g, b, &cb, &rb), 0);
	assert_true(ca != cb || ra != rb);
	assert_true(labs((long)ca - (long)cb) <= 1 && labs((long)ra - (long)rb) <= 1);
	assert_int_equal(maptext_spot_at(&g, ca, ra), a);
	assert_int_equal(maptext_spot_at(&g, cb, rb), b);
	maptext_grid_free(&g);
	sitemap_free(&m);
}

/* 40 spots on 4 x 3 cells: they share cells, each keeps a place, the alarm shows. */
static void test_crowded(void **state)
{
	const struct maptext_options o = { false, true, MAPTEXT_ROUTE_NONE, SITEMAP_NONE };
	struct maptext_grid g;
	struct sitemap m;
	size_t i, col, row, alarmed;

	(void)state;
	demo_map(&m);
	alarmed = sitemap_spot_find(&m, 110);
	m.spots[alarmed].state.alarm = SITEMAP_ALARM_FORCED;
	assert_int_equal(maptext_grid_init(&g, 4, 3), 0);
	assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
	assert_int_equal(g.nplaces, 20);
	for (i = 0; i < g.nplaces; i++) {
		assert_int_equal(maptext_spot_cell(&g, g.places[i].spot, &col, &row), 0);
		assert_true(col < 4 && row < 3);
		assert_int_not_equal(maptext_spot_at(&g, col, row), SITEMAP_NONE);
	}
	assert_int_equal(maptext_spot_cell(&g, alarmed, &col, &row), 0);
	assert_int_equal(maptext_spot_at(&g, col, row), alarmed);
	assert_int_equal(count_style(&g, MAPTEXT_LABEL), 0);
	maptext_grid_free(&g);
	/* A one-cell grid still works; the driver's own spot outranks an alarm. */
	assert_int_equal(maptext_grid_init(&g, 1, 1), 0);
	assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
	assert_int_equal(maptext_spot_at(&g, 0, 0), m.marked);
	assert_string_equal(cell(&g, 0, 0)->glyph, "◉");
	maptext_grid_free(&g);
	sitemap_free(&m);
}

/* ---- 2,000 spots ---- */

static json_object *big_site(size_t n)
{
	json_object *site = json_tokener_parse(
		"{\"site_id\":9,\"name\":\"Big\",\"levels\":[{\"id\":\"L\",\"name\":\"L\","
		"\"width\":200,\"height\":100}],\"nodes\":[{\"id\":\"E\",\"level\":\"L\",\"x\":0,"
		"\"y\":50,\"kind\":\"entrance\"},{\"id\":\"X\",\"level\":\"L\",\"x\":200,\"y\":50,"
		"\"kind\":\"exit\"}],\"lanes\":[[\"E\",\"X\"]]}");
	json_object *spots = json_object_new_array();
	char name[32];
	size_t i;

	for (i = 0; i < n; i++) {
		json_object *s = json_object_new_object();

		snprintf(name, sizeof(name), "S-%04zu", i);
		json_object_object_add(s, "id", json_object_new_int64((int64_t)(1000 + i)));
		json_object_object_add(s, "name", json_object_new_string(name));
		json_object_object_add(s, "level", json_object_new_string("L"));
		json_object_object_add(s, "x", json_object_new_double(2.0 + (double)(i % 50) * 3.9));
		json_object_object_add(s, "y", json_object_new_double(1.0 + (double)(i / 50) * 2.4));
		json_object_object_add(s, "node", json_object_new_string("E"));
		json_object_object_add(s, "locked", json_object_new_boolean(i % 3 != 0));
		json_object_object_add(s, "occupied", json_object_new_boolean(i % 5 == 0));
		json_object_object_add(s, "online", json_object_new_boolean(i % 97 != 0));
		json_object_array_add(spots, s);
	}
	json_object_object_add(site, "spots", spots);
	return site;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_two_thousand(void **state)
{
	const struct maptext_options o = { false, true, MAPTEXT_ROUTE_NONE, 5 };
	json_object *site = big_site(2000);
	struct maptext_grid g;
	struct sitemap m;
	char err[256] = "";
	double t0, best = 1e9, t;
	int k;

	(void)state;
	assert_int_equal(sitemap_parse_site(site, &m, err, sizeof(err)), 0);
	json_object_put(site);
	assert_int_equal(maptext_grid_init(&g, 200, 60), 0);
	for (k = 0; k < 20; k++) {
		t0 = now_ms();
		assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
		t = now_ms() - t0;
		best = t < best ? t : best;
	}
	print_message("2,000 spots at 200 x 60: %.3f ms a layout\n", best);
	assert_true(best < 5.0);
	assert_int_equal(g.nplaces, 2000);
	assert_true(count_style(&g, MAPTEXT_SPOT_OFFLINE) > 0);
	assert_int_equal(count_style(&g, MAPTEXT_SPOT_SELECTED), 1);
	maptext_grid_free(&g);
	sitemap_free(&m);
}

/* ---- legend and printing ---- */

static void test_legend(void **state)
{
	bool seen[MAPTEXT_STYLE_COUNT] = { false };
	const struct maptext_legend_row *rows;
	size_t n, i;

	(void)state;
	rows = maptext_legend(&n);
	assert_true(n >= 12);
	for (i = 0; i < n; i++) {
		assert_true(rows[i].style < MAPTEXT_STYLE_COUNT);
		assert_true(strlen(rows[i].name) > 0);
		assert_int_equal(strlen(rows[i].ascii), 1);
		assert_true(strlen(rows[i].glyph) >= 1 && strlen(rows[i].glyph) < MAPTEXT_GLYPH_MAX);
		seen[rows[i].style] = true;
	}
	for (i = MAPTEXT_SPOT_FREE; i <= MAPTEXT_MARKED_SPOT; i++)
		assert_true(seen[i]);
	assert_true(seen[MAPTEXT_ENTRANCE] && seen[MAPTEXT_EXIT] && seen[MAPTEXT_ROUTE]);
}

static char *print_to_string(const struct maptext_grid *g, bool colour)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(maptext_print(f, g, colour), 0);
	fclose(f);
	return buf;
}

static void test_print(void **state)
{
	const struct maptext_options o = { false, true, MAPTEXT_ROUTE_IN, SITEMAP_NONE };
	struct maptext_grid g;
	struct sitemap m;
	char *plain, *colour;

	(void)state;
	demo_map(&m);
	assert_int_equal(maptext_grid_init(&g, 80, 20), 0);
	plain = print_to_string(&g, false); /* nothing laid out: nothing printed */
	assert_string_equal(plain, "");
	free(plain);
	assert_int_equal(maptext_layout(&g, &m, 0, &o), 0);
	plain = print_to_string(&g, false);
	colour = print_to_string(&g, true);
	assert_non_null(strstr(plain, "E━━━"));
	assert_non_null(strstr(plain, "B1-05"));
	assert_non_null(strstr(plain, "◉ your spot"));
	assert_non_null(strstr(plain, "E entrance"));
	assert_null(strstr(plain, "selected")); /* the legend tells only what is shown */
	assert_null(strstr(plain, "\x1b["));
	assert_null(strstr(plain, " \n")); /* trailing blanks cut */
	assert_non_null(strstr(colour, "\x1b[0;1;32mE"));
	assert_non_null(strstr(colour, "\x1b[0m"));
	free(plain);
	free(colour);
	assert_int_equal(maptext_print(NULL, &g, false), -MAPTEXT_E_INVALID);
	maptext_grid_free(&g);
	sitemap_free(&m);
}

static void test_bad_grids(void **state)
{
	struct maptext_grid g;
	struct sitemap m;

	(void)state;
	assert_int_equal(maptext_grid_init(&g, 0, 10), -MAPTEXT_E_INVALID);
	assert_null(g.cells);
	assert_int_equal(maptext_grid_init(&g, 10, MAPTEXT_SIDE_MAX + 1), -MAPTEXT_E_INVALID);
	maptext_grid_free(&g);
	maptext_grid_free(NULL);
	demo_map(&m);
	assert_int_equal(maptext_layout(&g, &m, 0, NULL), -MAPTEXT_E_INVALID); /* freed grid */
	assert_int_equal(maptext_grid_init(&g, 10, 10), 0);
	assert_int_equal(maptext_layout(&g, NULL, 0, NULL), -MAPTEXT_E_INVALID);
	assert_int_equal(maptext_layout(&g, &m, SITEMAP_NONE, NULL), -MAPTEXT_E_INVALID);
	assert_int_equal(maptext_layout(&g, &m, 1, NULL), 0);
	maptext_grid_free(&g);
	sitemap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_level),
		cmocka_unit_test(test_route_out_and_b2),
		cmocka_unit_test(test_ascii_and_cursor),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_styles),
		cmocka_unit_test(test_nudged),
		cmocka_unit_test(test_crowded),
		cmocka_unit_test(test_two_thousand),
		cmocka_unit_test(test_legend),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_bad_grids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
