/*
 * frame.c: the frame around the screens (see frame.h). The key bar is made from the
 * screen's table of keys and the global ones, so what it shows is what works.
 */
#include "frame.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "i18n.h"
#include "text.h"

#define FRAME_LINE_LEN 1024
#define FRAME_PROMPT_COLS 76

/* The keys of every screen once logged in, after the screen's own. */
static const struct screen_key frame_global_keys[] = {
	{ "1", N_("map"), SCREEN_KEY_ANYONE },
	{ "2", N_("events"), SCREEN_KEY_ANYONE },
	{ "3", N_("alarms"), SCREEN_KEY_ANYONE },
	{ "4", N_("requests"), SCREEN_KEY_OWNER },
	{ "5", N_("members"), SCREEN_KEY_OWNER },
};

/* Kept in sight at the right end of the key bar, however narrow the terminal. */
static const struct screen_key frame_fixed_keys[] = {
	{ "?", N_("help"), SCREEN_KEY_ANYONE },
	{ "q", N_("quit"), SCREEN_KEY_ANYONE },
};

const char *frame_time(int64_t t, char *buf, size_t cap)
{
	time_t now = time(NULL), tt = (time_t)t;
	struct tm tm, today;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL || localtime_r(&now, &today) == NULL) {
		snprintf(buf, cap, "-");
		return buf;
	}
	if (tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday)
		strftime(buf, cap, "%H:%M:%S", &tm);
	else
		strftime(buf, cap, "%m-%d %H:%M", &tm);
	return buf;
}

const char *frame_until(int64_t not_after, char *buf, size_t cap)
{
	if (not_after >= HOLDERS_NO_END) {
		snprintf(buf, cap, "%s", _("no end"));
		return buf;
	}
	return frame_time(not_after, buf, cap);
}

int frame_wrap(struct console *c, int y, int x, int cols, int maxrows, const char *text,
	       enum ui_role role)
{
	char line[FRAME_LINE_LEN], word[FRAME_LINE_LEN];
	const char *p = text;
	int rows = 0, w;
	size_t n;

	line[0] = '\0';
	while (rows < maxrows) {
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n >= sizeof(word))
			n = sizeof(word) - 1;
		memcpy(word, p, n);
		word[n] = '\0';
		w = text_width(line);
		if (n == 0 || (w > 0 && w + 1 + text_width(word) > cols)) {
			ui_text(c->colour, y + rows++, x, cols, line, role);
			line[0] = '\0';
			if (n == 0)
				break;
			continue;
		}
		if (strlen(line) + n + 2 < sizeof(line)) {
			if (line[0] != '\0')
				strcat(line, " ");
			strcat(line, word);
		}
		p += n;
	}
	return rows;
}

void frame_cells(struct console *c, int y, const int *xs, size_t n, const char *const *cells,
		 const enum ui_role *roles)
{
	size_t i;

	for (i = 0; i < n; i++)
		ui_text(c->colour, y, xs[i], (i + 1 < n ? xs[i + 1] : COLS) - xs[i] - 1, cells[i],
			roles[i]);
}

static void frame_too_small(struct console *c)
{
	char text[CONSOLE_MESSAGE_LEN];

	snprintf(text, sizeof(text), _("Terminal too small: need %dx%d, have %dx%d. Enlarge "
				       "the window."), CONSOLE_MIN_COLS, CONSOLE_MIN_ROWS, COLS,
		 LINES);
	frame_wrap(c, 0, 0, COLS, LINES, text, UI_ERROR);
}

static void frame_title(struct console *c)
{
	const struct model *m = &c->model;
	char left[FRAME_LINE_LEN], right[FRAME_LINE_LEN];
	int rw;

	ui_fill(c->colour, 0, 0, COLS, UI_TITLE);
	if (c->logged_in && m->have_map)
		snprintf(left, sizeof(left), " parkconsole | %s | %s %s (%zu/%zu) | %s", m->map.name,
			 m->map.levels[m->level].id, m->map.levels[m->level].name, m->level + 1,
			 m->map.nlevels, _(console_screens[c->screen]->title));
	else
		snprintf(left, sizeof(left), " parkconsole | %s",
			 _(console_screens[c->screen]->title));
	if (c->logged_in)
		snprintf(right, sizeof(right), "%s %s%s ", c->sess.phone, c->sess.staff ?
			 _("attendant") : _("owner"), c->cfg->kiosk ? _(" (kiosk)") : "");
	else
		snprintf(right, sizeof(right), "%s ", c->cfg->kiosk ? _("kiosk") : "");
	rw = text_width(right);
	ui_text(c->colour, 0, 0, COLS - rw - 1, left, UI_TITLE);
	ui_text(c->colour, 0, COLS - rw, rw, right, UI_TITLE);
	if (m->stale)
		ui_text_attr(0, COLS - rw - 9, 8, _(" STALE "),
			     ui_attr(c->colour, UI_ERROR) | A_REVERSE | A_BOLD);
}

static void frame_status(struct console *c)
{
	const struct model *m = &c->model;
	char text[FRAME_LINE_LEN], at[32];
	enum ui_role role = UI_NORMAL;
	int y = LINES - 2;

	if (c->message[0] != '\0' && c->screen == SCREEN_LOGIN)
		return; /* the login screen shows it whole, in its form */
	if (c->message[0] != '\0') {
		ui_text(c->colour, y, 0, COLS, c->message, c->message_error ? UI_ERROR : UI_GOOD);
		return;
	}
	if (!c->logged_in)
		return;
	if (m->link == MODEL_LIVE) {
		snprintf(text, sizeof(text), _("Live: %s"), c->cfg->server);
		role = UI_GOOD;
	} else if (m->link == MODEL_CONNECTING) {
		snprintf(text, sizeof(text), _("Connecting to %s..."), c->cfg->server);
		role = UI_WARN;
	} else {
		snprintf(text, sizeof(text), _("Server unreachable since %s; showing the last "
					       "known state; reconnecting (next try in %ld s). %s"),
			 frame_time(m->link_since, at, sizeof(at)), (m->retry_ms + 999) / 1000,
			 m->link_detail);
		role = UI_ERROR;
	}
	ui_text(c->colour, y, 0, COLS, text, role);
}

/* The columns one key of the bar takes. */
static int frame_key_width(const struct screen_key *k)
{
	return text_width(k->key) + 1 + text_width(_(k->what)) + 1;
}

/* One key of the bar at x, if it fits before column `end`; returns the new x, or -1. */
static int frame_key(struct console *c, int x, int end, const struct screen_key *k)
{
	if (x < 0 || x + frame_key_width(k) - 1 > end)
		return -1;
	x += ui_text(c->colour, LINES - 1, x, end - x, k->key, UI_KEY);
	x += 1 + ui_text(c->colour, LINES - 1, x + 1, end - x - 1, _(k->what), UI_KEYLABEL);
	return x + 1;
}

static void frame_keys(struct console *c)
{
	const struct screen *s = console_screens[c->screen];
	size_t i, nfixed = sizeof(frame_fixed_keys) / sizeof(frame_fixed_keys[0]);
	int x = 0, end = COLS;

	if (c->logged_in) {
		for (i = 0; i < nfixed; i++)
			end -= frame_key_width(&frame_fixed_keys[i]);
		for (i = 0, x = end; i < nfixed; i++)
			x = frame_key(c, x, COLS, &frame_fixed_keys[i]);
		x = 0;
	}
	for (i = 0; i < s->nkeys && x >= 0; i++)
		if (console_key_shown(c, &s->keys[i]))
			x = frame_key(c, x, end, &s->keys[i]);
	for (i = 0; c->logged_in && i < sizeof(frame_global_keys) / sizeof(frame_global_keys[0]) &&
	     x >= 0; i++)
		if (console_key_shown(c, &frame_global_keys[i]))
			x = frame_key(c, x, end, &frame_global_keys[i]);
}

static void frame_prompt(struct console *c)
{
	const struct prompt *p = &c->prompt;
	char shown[PROMPT_TEXT_LEN * 2];
	const char *tail;
	int cols = COLS - 4 < FRAME_PROMPT_COLS ? COLS - 4 : FRAME_PROMPT_COLS;
	int x = (COLS - cols) / 2, y = LINES - 8, w;
	size_t i, n;

	ui_box(c->colour, y, x, 6, cols, p->title);
	if (p->secret) {
		n = (size_t)text_width(p->text);
		for (i = 0; i < n && i + 1 < sizeof(shown); i++)
			shown[i] = '*';
		shown[i] = '\0';
	} else {
		snprintf(shown, sizeof(shown), "%s", p->text);
	}
	ui_text(c->colour, y + 2, x + 2, 2, ">", UI_HEADING);
	/* The end of a long text stays in sight: whole characters drop off the front. */
	tail = shown;
	while (text_width(tail) > cols - 8) {
		tail++;
		while (((unsigned char)*tail & 0xc0) == 0x80)
			tail++;
	}
	w = ui_text(c->colour, y + 2, x + 4, cols - 7, tail, UI_NORMAL);
	ui_text_attr(y + 2, x + 4 + w, 1, " ", A_REVERSE);
	if (p->error[0] != '\0')
		ui_text(c->colour, y + 3, x + 2, cols - 4, p->error, UI_ERROR);
	ui_text(c->colour, y + 4, x + 2, cols - 4, p->purpose == PROMPT_CONFIRM ?
		_("y: yes; any other key: no") : p->one_key ? _("Esc cancels") :
		_("Enter to confirm, Esc to cancel"), UI_DIM);
}

void frame_draw(struct console *c)
{
	erase();
	if (COLS < CONSOLE_MIN_COLS || LINES < CONSOLE_MIN_ROWS) {
		frame_too_small(c);
		refresh();
		return;
	}
	frame_title(c);
	console_screens[c->screen]->draw(c, 1, LINES - 3);
	frame_status(c);
	frame_keys(c);
	if (prompt_active(&c->prompt))
		frame_prompt(c);
	refresh();
}
