/*
 * mapsvg.c: draws a sitemap as SVG 1.1 (see mapsvg.h). The spot colours follow
 * maptext_spot_style(), so the picture and the terminal map say the same. Numbers are
 * printed under a C LC_NUMERIC of this thread only (uselocale), so a decimal comma never
 * reaches the file. Saving renders into memory and hands the bytes to atomicfile_write().
 */
#include "mapsvg.h"

#include <errno.h>
#include <libintl.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/atomicfile.h"
#include "../lib/maptext.h"

#define N_(s) s

#define MAPSVG_MARGIN 20.0     /* pixels around everything and between panels */
#define MAPSVG_TITLE_H 36.0    /* pixels of the title line */
#define MAPSVG_CAPTION_H 22.0  /* pixels of a level's name above its panel */
#define MAPSVG_LEGEND_H 64.0   /* pixels of the legend under the panels */
#define MAPSVG_LEGEND_W 790.0  /* pixels the legend's rows take */
#define MAPSVG_LEGEND_STEP 110.0
#define MAPSVG_SPOT_W 2.4      /* metres: a spot's box */
#define MAPSVG_SPOT_H 4.8
#define MAPSVG_SIZE_MAX 1e6    /* pixels: refuse pictures larger than this either way */

/* Fill colours of the spot styles of lib/maptext.h. */
static const struct {
	enum maptext_style style;
	const char *fill;
	const char *name;
} mapsvg_states[] = {
	{ MAPTEXT_SPOT_FREE, "#43a047", N_("free") },
	{ MAPTEXT_SPOT_UNLOCKED, "#fdd835", N_("unlocked") },
	{ MAPTEXT_SPOT_OCCUPIED, "#1e63c8", N_("occupied") },
	{ MAPTEXT_SPOT_KEYED, "#8e24aa", N_("key given out") },
	{ MAPTEXT_SPOT_OFFLINE, "#9e9e9e", N_("offline") },
	{ MAPTEXT_SPOT_ALARM, "#e53935", N_("alarm") },
	{ MAPTEXT_SPOT_UNKNOWN, "#eeeeee", N_("not heard from yet") },
};
#define MAPSVG_STATES (sizeof(mapsvg_states) / sizeof(mapsvg_states[0]))

#define MAPSVG_ROUTE_IN "#1565c0"
#define MAPSVG_ROUTE_OUT "#ef6c00"
#define MAPSVG_MARKED "#d81b60"

/* One drawing: the stream, the scale and where each level's panel starts. */
struct svg {
	FILE *f;
	const struct sitemap *map;
	double scale;  /* pixels per metre */
	bool stacked;  /* levels one under another */
	double width, height;
	double *panel_x, *panel_y; /* per level: the top left of its plan */
};

__attribute__((format(printf, 2, 3)))
static void out(struct svg *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(s->f, fmt, ap);
	va_end(ap);
}

/* ---- text ---- */

/* The length of the valid UTF-8 character at s (1 .. 4), or 0 when it is not one. */
static size_t utf8_char(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 :
		   s[0] < 0xf5 ? 4 : 0;
	size_t k;

	for (k = 1; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0; /* overlong, surrogate, beyond U+10FFFF */
	return n;
}

/*
 * Writes s as XML character data or attribute text: the five markup characters as
 * entities, control characters XML forbids dropped, broken UTF-8 as U+FFFD.
 */
static void out_text(struct svg *s, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n;

	while (*p != '\0') {
		if (*p == '&' || *p == '<' || *p == '>' || *p == '"' || *p == '\'') {
			fputs(*p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" :
			      *p == '"' ? "&quot;" : "&apos;", s->f);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			if (*p == '\t' || *p == '\n')
				putc(*p, s->f);
			p++;
		} else if ((n = utf8_char(p)) == 0) {
			fputs("\xef\xbf\xbd", s->f);
			p++;
		} else {
			fwrite(p, 1, n, s->f);
			p += n;
		}
	}
}

/* ---- geometry ---- */

static double panel_w(const struct svg *s, const struct sitemap_level *l)
{
	return l->width * s->scale;
}

static double panel_h(const struct svg *s, const struct sitemap_level *l)
{
	return l->height * s->scale;
}

/* Places the level panels and sizes the picture. -1 when it would be too large. */
static int svg_place(struct svg *s)
{
	double x = MAPSVG_MARGIN, y = MAPSVG_TITLE_H + MAPSVG_MARGIN, right = 0, bottom = 0;
	size_t i;

	for (i = 0; i < s->map->nlevels; i++) {
		const struct sitemap_level *l = &s->map->levels[i];

		s->panel_x[i] = x;
		s->panel_y[i] = y + MAPSVG_CAPTION_H;
		right = fmax(right, x + panel_w(s, l));
		bottom = fmax(bottom, s->panel_y[i] + panel_h(s, l));
		if (s->stacked)
			y = s->panel_y[i] + panel_h(s, l) + MAPSVG_MARGIN;
		else
			x += panel_w(s, l) + MAPSVG_MARGIN;
	}
	s->width = fmax(right, MAPSVG_LEGEND_W) + MAPSVG_MARGIN;
	s->height = bottom + MAPSVG_MARGIN + MAPSVG_LEGEND_H;
	return s->width > MAPSVG_SIZE_MAX || s->height > MAPSVG_SIZE_MAX ? -1 : 0;
}

/* Plan point (x, y) of level `level` in picture pixels: "X,Y". */
static void out_point(struct svg *s, size_t level, double x, double y)
{
	const struct sitemap_level *l = &s->map->levels[level];

	out(s, "%.2f,%.2f", s->panel_x[level] + x * s->scale,
	    s->panel_y[level] + (l->height - y) * s->scale);
}

/* ---- the parts ---- */

/* The title given, or the site's name and the marked spot's. */
static void out_title(struct svg *s, const char *title)
{
	const struct sitemap *m = s->map;

	if (title != NULL) {
		out_text(s, title);
		return;
	}
	out_text(s, m->name);
	if (m->marked != SITEMAP_NONE) {
		out(s, " \xe2\x80\x94 "); /* an em dash */
		out_text(s, m->spots[m->marked].name);
	}
}

static void draw_head(struct svg *s, const char *title)
{
	out(s, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
	       "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
	       "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
	       "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
	       "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n<title>",
	    s->width, s->height, s->width, s->height);
	out_title(s, title);
	out(s, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
	       "<text x=\"%.0f\" y=\"%.0f\" font-size=\"18\" font-weight=\"bold\">",
	    MAPSVG_MARGIN, MAPSVG_TITLE_H - 8);
	out_title(s, title);
	out(s, "</text>\n");
}

static void draw_lanes(struct svg *s, size_t level)
{
	const struct sitemap *m = s->map;
	size_t i;

	out(s, "<g class=\"lanes\" stroke=\"#b0b0b0\" stroke-width=\"%.2f\" "
	       "stroke-linecap=\"round\">\n", s->scale * 1.5);
	for (i = 0; i < m->nlanes; i++) {
		const struct sitemap_node *a = &m->nodes[m->lanes[i].a];
		const struct sitemap_node *b = &m->nodes[m->lanes[i].b];

		if (a->level != level || b->level != level)
			continue;
		out(s, "<polyline fill=\"none\" points=\"");
		out_point(s, level, a->x, a->y);
		out(s, " ");
		out_point(s, level, b->x, b->y);
		out(s, "\"/>\n");
	}
	out(s, "</g>\n");
}

/* Entrances, exits, and ramp ends (a lane whose other node is on another level). */
static void draw_nodes(struct svg *s, size_t level)
{
	const struct sitemap *m = s->map;
	double r = s->scale * 1.2;
	size_t i;

	for (i = 0; i < m->nlanes; i++) {
		const struct sitemap_node *a = &m->nodes[m->lanes[i].a];
		const struct sitemap_node *b = &m->nodes[m->lanes[i].b];
		const struct sitemap_node *here = a->level == level ? a : b;
		const struct sitemap_node *there = a->level == level ? b : a;

		if (a->level == b->level || here->level != level)
			continue;
		out(s, "<g class=\"ramp\"><title>");
		out_text(s, gettext("ramp to"));
		out(s, " ");
		out_text(s, m->levels[there->level].id);
		out(s, "</title><polygon fill=\"#6d4c41\" points=\"");
		out_point(s, level, here->x - 1.2, here->y - 1.0);
		out(s, " ");
		out_point(s, level, here->x + 1.2, here->y - 1.0);
		out(s, " ");
		out_point(s, level, here->x, here->y + 1.2);
		out(s, "\"/></g>\n");
	}
	for (i = 0; i < m->nnodes; i++) {
		const struct sitemap_node *n = &m->nodes[i];
		bool in = n->kind == SITEMAP_ENTRANCE;
		double cx, cy;

		if (n->level != level || n->kind == SITEMAP_JUNCTION)
			continue;
		cx = s->panel_x[level] + n->x * s->scale;
		cy = s->panel_y[level] + (m->levels[level].height - n->y) * s->scale;
		out(s, "<g class=\"%s\"><circle r=\"%.2f\" fill=\"%s\" cx=\"%.2f\" cy=\"%.2f\"/>"
		       "<text text-anchor=\"middle\" font-size=\"%.2f\" fill=\"#ffffff\" "
		       "x=\"%.2f\" y=\"%.2f\">%s</text></g>\n", in ? "entrance" : "exit", r,
		    in ? "#2e7d32" : "#c62828", cx, cy, r * 1.2, cx, cy + r * 0.4, in ? "E" : "X");
	}
}

static const char *state_fill(enum maptext_style style)
{
	size_t i;

	for (i = 0; i < MAPSVG_STATES; i++)
		if (mapsvg_states[i].style == style)
			return mapsvg_states[i].fill;
	return "#eeeeee";
}

static void draw_spot(struct svg *s, size_t index)
{
	const struct sitemap_spot *p = &s->map->spots[index];
	const struct sitemap_level *l = &s->map->levels[p->level];
	double x = s->panel_x[p->level] + (p->x - MAPSVG_SPOT_W / 2) * s->scale;
	double y = s->panel_y[p->level] + (l->height - p->y - MAPSVG_SPOT_H / 2) * s->scale;
	double font = s->scale * 0.9 < 7 ? 7 : s->scale * 0.9;
	bool marked = s->map->marked == index;

	out(s, "<g class=\"spot%s\"><title>", marked ? " marked" : "");
	out_text(s, p->name);
	out(s, "</title><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
	       "fill=\"%s\" stroke=\"%s\" stroke-width=\"%.2f\"/>", x, y,
	    MAPSVG_SPOT_W * s->scale, MAPSVG_SPOT_H * s->scale,
	    state_fill(maptext_spot_style(p)), marked ? MAPSVG_MARKED : "#424242",
	    marked ? 3.0 : 1.0);
	out(s, "<text text-anchor=\"middle\" font-size=\"%.2f\" x=\"%.2f\" y=\"%.2f\"%s>", font,
	    x + MAPSVG_SPOT_W * s->scale / 2, y + MAPSVG_SPOT_H * s->scale + font,
	    marked ? " font-weight=\"bold\"" : "");
	out_text(s, p->name);
	out(s, "</text></g>\n");
}

/* A route as one polyline per stretch on one level. */
static void draw_route(struct svg *s, const struct sitemap_route *rt, const char *cls,
		       const char *colour, const char *dash)
{
	size_t i, k, start;

	if (!rt->present)
		return;
	out(s, "<g class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\" "
	       "stroke-linejoin=\"round\"%s>\n", cls, colour, s->scale * 0.5 < 2 ? 2.0 :
	    s->scale * 0.5, dash);
	for (start = 0; start < rt->npoints; start = i) {
		for (i = start + 1; i < rt->npoints && rt->points[i].level ==
		     rt->points[start].level; i++)
			;
		if (i - start < 2)
			continue;
		out(s, "<polyline points=\"");
		for (k = start; k < i; k++) {
			fputs(k > start ? " " : "", s->f);
			out_point(s, rt->points[k].level, rt->points[k].x, rt->points[k].y);
		}
		out(s, "\"/>\n");
	}
	out(s, "</g>\n");
}

static void draw_level(struct svg *s, size_t level)
{
	const struct sitemap_level *l = &s->map->levels[level];
	const size_t *list;
	size_t n, i;

	out(s, "<g class=\"level\" id=\"level-%zu\">\n<text x=\"%.2f\" y=\"%.2f\" "
	       "font-size=\"14\">", level, s->panel_x[level], s->panel_y[level] - 6);
	out_text(s, l->id);
	out(s, " \xc2\xb7 ");
	out_text(s, l->name);
	out(s, "</text>\n<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
	       "fill=\"#fafafa\" stroke=\"#616161\"/>\n", s->panel_x[level], s->panel_y[level],
	    panel_w(s, l), panel_h(s, l));
	draw_lanes(s, level);
	list = sitemap_level_spots(s->map, level, &n);
	for (i = 0; i < n; i++)
		draw_spot(s, list[i]);
	draw_nodes(s, level);
	out(s, "</g>\n");
}

/* The legend's swatches. */
enum swatch {
	SWATCH_BOX,    /* a filled spot box */
	SWATCH_LINE,   /* a route */
	SWATCH_DASHED, /* a dashed route */
	SWATCH_FRAME,  /* the marked spot's outline */
};

/* One legend entry at (x, y): its swatch in `colour` and its name, translated. */
static void legend_entry(struct svg *s, double x, double y, enum swatch sw, const char *colour,
			 const char *name)
{
	if (sw == SWATCH_BOX || sw == SWATCH_FRAME)
		out(s, "<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"14\" fill=\"%s\" "
		       "stroke=\"%s\" stroke-width=\"%d\"/>", x, y,
		    sw == SWATCH_BOX ? colour : "none", sw == SWATCH_BOX ? "#424242" : colour,
		    sw == SWATCH_BOX ? 1 : 3);
	else
		out(s, "<path d=\"M%.0f %.0fh12\" stroke=\"%s\" stroke-width=\"3\"%s/>", x,
		    y + 7, colour, sw == SWATCH_DASHED ? " stroke-dasharray=\"4 2\"" : "");
	out(s, "<text x=\"%.0f\" y=\"%.0f\">", x + 16, y + 12);
	out_text(s, gettext(name));
	out(s, "</text>\n");
}

static void draw_legend(struct svg *s)
{
	double x = MAPSVG_MARGIN, y = s->height - MAPSVG_LEGEND_H + 12;
	size_t i;

	out(s, "<g class=\"legend\" font-size=\"12\">\n");
	for (i = 0; i < MAPSVG_STATES; i++, x += MAPSVG_LEGEND_STEP)
		legend_entry(s, x, y, SWATCH_BOX, mapsvg_states[i].fill, mapsvg_states[i].name);
	x = MAPSVG_MARGIN;
	y += 28;
	legend_entry(s, x, y, SWATCH_LINE, MAPSVG_ROUTE_IN, N_("way in"));
	legend_entry(s, x + MAPSVG_LEGEND_STEP, y, SWATCH_DASHED, MAPSVG_ROUTE_OUT, N_("way out"));
	legend_entry(s, x + 2 * MAPSVG_LEGEND_STEP, y, SWATCH_FRAME, MAPSVG_MARKED,
		     N_("this spot"));
	out(s, "</g>\n");
}

/* ---- the document ---- */

static void draw(struct svg *s, const char *title)
{
	size_t i;

	draw_head(s, title);
	for (i = 0; i < s->map->nlevels; i++)
		draw_level(s, i);
	draw_route(s, &s->map->route_out, "route-out", MAPSVG_ROUTE_OUT,
		   " stroke-dasharray=\"6 4\"");
	draw_route(s, &s->map->route_in, "route-in", MAPSVG_ROUTE_IN, "");
	draw_legend(s);
	out(s, "</svg>\n");
}

int mapsvg_write(FILE *f, const struct sitemap *map, const struct mapsvg_options *opts)
{
	struct svg s = { f, map, MAPSVG_SCALE_DEFAULT, opts != NULL && opts->stacked, 0, 0,
			 NULL, NULL };
	locale_t c_numeric = (locale_t)0, old = (locale_t)0;
	int r = -MAPSVG_E_INVALID;

	if (f == NULL || map == NULL || map->nlevels == 0 ||
	    (opts != NULL && !(opts->scale >= 0 && opts->scale <= MAPSVG_SCALE_MAX)))
		return -MAPSVG_E_INVALID;
	if (opts != NULL && opts->scale > 0)
		s.scale = opts->scale;
	s.panel_x = calloc(map->nlevels, sizeof(*s.panel_x));
	s.panel_y = calloc(map->nlevels, sizeof(*s.panel_y));
	c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (s.panel_x == NULL || s.panel_y == NULL || c_numeric == (locale_t)0) {
		r = -MAPSVG_E_IO;
		goto out;
	}
	if (svg_place(&s) != 0)
		goto out;
	old = uselocale(c_numeric);
	draw(&s, opts != NULL ? opts->title : NULL);
	uselocale(old);
	r = fflush(f) != 0 || ferror(f) ? -MAPSVG_E_IO : 0;
out:
	if (c_numeric != (locale_t)0)
		freelocale(c_numeric);
	free(s.panel_x);
	free(s.panel_y);
	return r;
}

int mapsvg_save(const char *path, const struct sitemap *map, const struct mapsvg_options *opts)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int r, saved;

	if (path == NULL || *path == '\0')
		return -MAPSVG_E_INVALID;
	if ((mem = open_memstream(&buf, &len)) == NULL)
		return -MAPSVG_E_IO;
	r = mapsvg_write(mem, map, opts);
	if (fclose(mem) != 0 && r == 0)
		r = -MAPSVG_E_IO;
	if (r == 0 && atomicfile_write(path, (const uint8_t *)buf, len, 0644) != 0)
		r = -MAPSVG_E_IO;
	saved = errno;
	free(buf);
	errno = saved;
	return r;
}
