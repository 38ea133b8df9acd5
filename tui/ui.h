/*
 * ui.h: the console's terminal: starting and ending curses (ncursesw, raw keys, wide
 * characters), the colour pairs with a monochrome fallback, and painting UTF-8 text cut
 * to a number of columns. It knows nothing of the model: frame.c and the screens paint
 * through it, console.c reads the keys.
 */
#ifndef PARK_TUI_UI_H
#define PARK_TUI_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/maptext.h"

/* What a piece of text is, which picks its colour or, in monochrome, its attributes. */
enum ui_role {
	UI_NORMAL,
	UI_TITLE,     /* the top bar */
	UI_KEY,       /* a key's name on the key bar */
	UI_KEYLABEL,  /* what it does */
	UI_ERROR,     /* a refusal or failure */
	UI_GOOD,      /* done, live */
	UI_WARN,      /* connecting, stale */
	UI_HEADING,   /* a column or section head */
	UI_SELECTED,  /* the row under the cursor */
	UI_DIM,       /* what is less important, or stale */
	UI_ROLES
};

/*
 * Starts curses on the terminal: raw mode (Ctrl-C and Ctrl-Z come as keys), no echo,
 * function keys decoded, a hidden cursor, non-blocking reads, short Escape delay.
 * Colours unless `mono` or the terminal has none. Returns 0 with *colour set, or -1
 * when the terminal cannot be used (nothing to undo).
 */
int ui_start(bool mono, bool *colour);

/* Ends curses, restoring the terminal. */
void ui_stop(void);

/* The curses attributes of a role. */
int ui_attr(bool colour, enum ui_role role);

/* The curses attributes of a map style; `stale` dims them. */
int ui_style_attr(bool colour, enum maptext_style style, bool stale);

/*
 * Paints s at (y, x) in at most `cols` columns (cut with an ellipsis), with the role's
 * attributes. Returns the columns used.
 */
int ui_text(bool colour, int y, int x, int cols, const char *s, enum ui_role role);

/* Like ui_text() with the given curses attributes. */
int ui_text_attr(int y, int x, int cols, const char *s, int attr);

/* Fills row y from x over cols columns with spaces in the role's attributes. */
void ui_fill(bool colour, int y, int x, int cols, enum ui_role role);

/* Paints a box of the given size with a title, its inside cleared. */
void ui_box(bool colour, int y, int x, int rows, int cols, const char *title);

#endif
