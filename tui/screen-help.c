/*
 * screen-help.c: every key of every screen, from the screens' own tables, and the map's
 * legend, from maptext's: the help cannot disagree with what works. Up and Down scroll
 * when the terminal is too short for it all.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "frame.h"
#include "i18n.h"
#include "text.h"
#include "ui.h"

#define HELP_KEY_COLS 14

static const struct screen_key help_keys[] = {
	{ "\xe2\x86\x91\xe2\x86\x93", N_("scroll"), SCREEN_KEY_ANYONE },
	{ "Esc", N_("back"), SCREEN_KEY_ANYONE },
};

/* One line of the help: a heading, a key and what it does, or a legend symbol. */
struct help_line {
	const char *heading;           /* translated, or NULL */
	const struct screen_key *key;  /* or NULL */
	const struct maptext_legend_row *legend; /* or NULL */
};

#define HELP_LINES_MAX 128

static void help_add(struct help_line *l, size_t *n, const char *heading,
		     const struct screen_key *key, const struct maptext_legend_row *legend)
{
	if (*n == HELP_LINES_MAX)
		return;
	l[*n].heading = heading;
	l[*n].key = key;
	l[*n].legend = legend;
	(*n)++;
}

static size_t help_lines(const struct console *c, struct help_line *l)
{
	const struct maptext_legend_row *legend;
	size_t n = 0, i, k, nlegend = 0;

	help_add(l, &n, _("Everywhere"), NULL, NULL);
	for (i = 0; i < console_global_nkeys; i++)
		if (console_key_shown(c, &console_global_keys[i]))
			help_add(l, &n, NULL, &console_global_keys[i], NULL);
	for (i = 0; i < SCREEN_COUNT; i++) {
		if (i == SCREEN_HELP || (i == SCREEN_LOGIN && c->logged_in) ||
		    ((i == SCREEN_REQUESTS || i == SCREEN_MEMBERS) && !console_owner(c)))
			continue;
		help_add(l, &n, _(console_screens[i]->title), NULL, NULL);
		for (k = 0; k < console_screens[i]->nkeys; k++)
			if (console_key_shown(c, &console_screens[i]->keys[k]))
				help_add(l, &n, NULL, &console_screens[i]->keys[k], NULL);
	}
	help_add(l, &n, _("Map legend"), NULL, NULL);
	legend = maptext_legend(&nlegend);
	for (i = 0; i < nlegend; i++)
		if (legend[i].style != MAPTEXT_ROUTE && legend[i].style != MAPTEXT_MARKED_SPOT &&
		    legend[i].style != MAPTEXT_SPOT_SELECTED)
			help_add(l, &n, NULL, NULL, &legend[i]);
	return n;
}

static void help_line_draw(struct console *c, int y, int x, int w, const struct help_line *l)
{
	if (l->heading != NULL) {
		ui_text(c->colour, y, x, w, l->heading, UI_HEADING);
	} else if (l->key != NULL) {
		ui_text(c->colour, y, x + 1, HELP_KEY_COLS - 2, l->key->key, UI_KEY);
		ui_text(c->colour, y, x + HELP_KEY_COLS, w - HELP_KEY_COLS, _(l->key->what),
			UI_NORMAL);
	} else if (l->legend != NULL) {
		ui_text_attr(y, x + 1, 1, c->ascii ? l->legend->ascii : l->legend->glyph,
			     ui_style_attr(c->colour, (enum maptext_style)l->legend->style, false));
		ui_text(c->colour, y, x + HELP_KEY_COLS, w - HELP_KEY_COLS, _(l->legend->name),
			UI_NORMAL);
	}
}

static void help_draw(struct console *c, int top, int rows)
{
	struct help_line lines[HELP_LINES_MAX];
	size_t n = help_lines(c, lines), i;
	int colw = COLS / 2, per = rows - 1, slot;

	if (c->help_top + (size_t)per * 2 > n + (size_t)per)
		c->help_top = n > (size_t)per * 2 ? n - (size_t)per * 2 : 0;
	for (i = c->help_top; i < n; i++) {
		slot = (int)(i - c->help_top);
		if (slot >= per * 2)
			break;
		help_line_draw(c, top + 1 + slot % per, slot < per ? 1 : colw + 1, colw - 2,
			       &lines[i]);
	}
}

static bool help_key(struct console *c, unsigned long ch, bool fkey)
{
	if (fkey && ch == KEY_UP) {
		if (c->help_top > 0)
			c->help_top--;
		return true;
	}
	if (fkey && ch == KEY_DOWN) {
		c->help_top++;
		return true;
	}
	if (!fkey && (ch == '?' || ch == 'q') && c->logged_in) {
		console_show(c, c->back);
		return true;
	}
	return false;
}

const struct screen screen_help = {
	.title = N_("Help"),
	.draw = help_draw,
	.key = help_key,
	.keys = help_keys,
	.nkeys = sizeof(help_keys) / sizeof(help_keys[0]),
};
