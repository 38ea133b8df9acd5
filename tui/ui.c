/*
 * ui.c: the console's terminal (see ui.h). Colours are data: one table of roles and one
 * of map styles, each with a colour pair and the attributes that stand in for it on a
 * monochrome terminal (where the map's symbols, which differ per state, carry the
 * meaning too).
 */
#include "ui.h"

#include <curses.h>
#include <string.h>

#include "text.h"

#define UI_LINE_MAX 1024 /* bytes of one painted piece of text */
#define UI_STYLE_PAIR0 16  /* map styles use pairs 16.. ; roles 1.. */

struct ui_look {
	short fg, bg;   /* the colour pair (-1: the terminal's default) */
	int colour_attr; /* added to the pair */
	int mono_attr;  /* without colours */
};

static const struct ui_look ui_roles[UI_ROLES] = {
	[UI_NORMAL] = { -1, -1, A_NORMAL, A_NORMAL },
	[UI_TITLE] = { COLOR_WHITE, COLOR_BLUE, A_BOLD, A_REVERSE },
	[UI_KEY] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
	[UI_KEYLABEL] = { -1, -1, A_NORMAL, A_NORMAL },
	[UI_ERROR] = { COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	[UI_GOOD] = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
	[UI_WARN] = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
	[UI_HEADING] = { -1, -1, A_BOLD | A_UNDERLINE, A_BOLD | A_UNDERLINE },
	[UI_SELECTED] = { -1, -1, A_REVERSE, A_REVERSE },
	[UI_DIM] = { -1, -1, A_DIM, A_DIM },
};

static const struct ui_look ui_styles[MAPTEXT_STYLE_COUNT] = {
	[MAPTEXT_BLANK] = { -1, -1, A_NORMAL, A_NORMAL },
	[MAPTEXT_LANE] = { COLOR_WHITE, -1, A_DIM, A_DIM },
	[MAPTEXT_RAMP] = { COLOR_CYAN, -1, A_NORMAL, A_NORMAL },
	[MAPTEXT_ENTRANCE] = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
	[MAPTEXT_EXIT] = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
	[MAPTEXT_ROUTE] = { COLOR_CYAN, -1, A_BOLD, A_BOLD },
	[MAPTEXT_SPOT_FREE] = { COLOR_GREEN, -1, A_BOLD, A_NORMAL },
	[MAPTEXT_SPOT_UNLOCKED] = { COLOR_YELLOW, -1, A_BOLD, A_UNDERLINE },
	[MAPTEXT_SPOT_OCCUPIED] = { COLOR_BLUE, -1, A_BOLD, A_BOLD },
	[MAPTEXT_SPOT_KEYED] = { COLOR_MAGENTA, -1, A_BOLD, A_BOLD },
	[MAPTEXT_SPOT_OFFLINE] = { COLOR_WHITE, -1, A_DIM, A_DIM },
	[MAPTEXT_SPOT_ALARM] = { COLOR_WHITE, COLOR_RED, A_BOLD, A_BOLD | A_REVERSE },
	[MAPTEXT_SPOT_UNKNOWN] = { -1, -1, A_DIM, A_DIM },
	[MAPTEXT_SPOT_SELECTED] = { -1, -1, A_REVERSE, A_REVERSE },
	[MAPTEXT_MARKED_SPOT] = { COLOR_CYAN, -1, A_REVERSE, A_REVERSE },
	[MAPTEXT_LABEL] = { -1, -1, A_NORMAL, A_NORMAL },
};

int ui_start(bool mono, bool *colour)
{
	short i;

	if (initscr() == NULL)
		return -1;
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(50);
	(void)curs_set(0);
	*colour = !mono && has_colors();
	if (*colour && start_color() == OK) {
		(void)use_default_colors();
		for (i = 0; i < UI_ROLES; i++)
			init_pair((short)(i + 1), ui_roles[i].fg, ui_roles[i].bg);
		for (i = 0; i < MAPTEXT_STYLE_COUNT; i++)
			init_pair((short)(UI_STYLE_PAIR0 + i), ui_styles[i].fg, ui_styles[i].bg);
	} else {
		*colour = false;
	}
	return 0;
}

void ui_stop(void)
{
	if (!isendwin())
		endwin();
}

int ui_attr(bool colour, enum ui_role role)
{
	const struct ui_look *l = &ui_roles[role < UI_ROLES ? role : UI_NORMAL];

	if (!colour)
		return l->mono_attr;
	return l->fg == -1 && l->bg == -1 ? l->colour_attr :
		(int)COLOR_PAIR(role + 1) | l->colour_attr;
}

int ui_style_attr(bool colour, enum maptext_style style, bool stale)
{
	const struct ui_look *l = &ui_styles[style < MAPTEXT_STYLE_COUNT ? style : MAPTEXT_BLANK];
	int a;

	if (!colour)
		a = l->mono_attr;
	else if (l->fg == -1 && l->bg == -1)
		a = l->colour_attr;
	else
		a = (int)COLOR_PAIR(UI_STYLE_PAIR0 + style) | l->colour_attr;
	/* Stale: the last known state, all of it dimmed and without emphasis. */
	return stale ? (int)(((unsigned)a & ~(unsigned)A_BOLD) | (unsigned)A_DIM) : a;
}

int ui_text_attr(int y, int x, int cols, const char *s, int attr)
{
	char buf[UI_LINE_MAX];
	int used;

	if (cols <= 0 || y < 0 || x < 0 || y >= LINES || x >= COLS)
		return 0;
	if (cols > COLS - x)
		cols = COLS - x;
	used = text_fit(s, cols, true, buf, sizeof(buf));
	attrset(attr);
	mvaddstr(y, x, buf);
	attrset(A_NORMAL);
	return used;
}

int ui_text(bool colour, int y, int x, int cols, const char *s, enum ui_role role)
{
	return ui_text_attr(y, x, cols, s, ui_attr(colour, role));
}

void ui_fill(bool colour, int y, int x, int cols, enum ui_role role)
{
	int i;

	if (y < 0 || y >= LINES)
		return;
	attrset(ui_attr(colour, role));
	for (i = 0; i < cols && x + i < COLS; i++)
		mvaddch(y, x + i, ' ');
	attrset(A_NORMAL);
}

void ui_box(bool colour, int y, int x, int rows, int cols, const char *title)
{
	int i;

	for (i = 0; i < rows; i++)
		ui_fill(colour, y + i, x, cols, UI_NORMAL);
	attrset(A_NORMAL);
	mvhline(y, x + 1, ACS_HLINE, cols - 2);
	mvhline(y + rows - 1, x + 1, ACS_HLINE, cols - 2);
	mvvline(y + 1, x, ACS_VLINE, rows - 2);
	mvvline(y + 1, x + cols - 1, ACS_VLINE, rows - 2);
	mvaddch(y, x, ACS_ULCORNER);
	mvaddch(y, x + cols - 1, ACS_URCORNER);
	mvaddch(y + rows - 1, x, ACS_LLCORNER);
	mvaddch(y + rows - 1, x + cols - 1, ACS_LRCORNER);
	if (title != NULL && title[0] != '\0') {
		mvaddch(y, x + 1, ' ');
		x += 2 + ui_text(colour, y, x + 2, cols - 4, title, UI_HEADING);
		mvaddch(y, x, ' ');
	}
}
