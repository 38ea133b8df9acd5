/*
 * frame.h: what surrounds every screen: the title bar (site, level, user, STALE), the
 * status line (the live link, or the latest news), the key bar of the current screen,
 * an open prompt drawn over it, and the "terminal too small" notice that replaces it
 * all below 80x24. Also the word wrapping the screens use for longer texts.
 */
#ifndef PARK_TUI_FRAME_H
#define PARK_TUI_FRAME_H

#include "console.h"
#include "ui.h"

/* Draws the whole terminal: the frame and the current screen inside it. */
void frame_draw(struct console *c);

/*
 * Paints text wrapped at spaces into rows y .. y+maxrows-1 from column x, cols wide (a
 * word longer than a row is cut). Returns the rows used.
 */
int frame_wrap(struct console *c, int y, int x, int cols, int maxrows, const char *text,
	       enum ui_role role);

/*
 * Paints cells[0..n) of a table's row y: cell i from column xs[i] up to the next one's
 * (the last up to the right edge), each cut to fit, in roles[i].
 */
void frame_cells(struct console *c, int y, const int *xs, size_t n, const char *const *cells,
		 const enum ui_role *roles);

/* "HH:MM:SS" (today) or "MM-DD HH:MM" of Unix time t into buf; "-" for t <= 0. */
const char *frame_time(int64_t t, char *buf, size_t cap);

/* The end of a key or share's validity as frame_time(), or "no end" for HOLDERS_NO_END. */
const char *frame_until(int64_t not_after, char *buf, size_t cap);

#endif
