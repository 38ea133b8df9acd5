/*
 * screen-events.c: the site's live event log, newest first, filtered by spot (s) and by
 * kind (k steps through the kinds, c clears both). The log is the model's; this file
 * words each event and scrolls.
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

#define EVENTS_SHOWN_MAX 512 /* rows looked at: a screen shows far fewer */

static const struct screen_key events_keys[] = {
	{ "\xe2\x86\x91\xe2\x86\x93", N_("scroll"), SCREEN_KEY_ANYONE },
	{ "s", N_("spot filter"), SCREEN_KEY_ANYONE },
	{ "k", N_("kind filter"), SCREEN_KEY_ANYONE },
	{ "c", N_("clear"), SCREEN_KEY_ANYONE },
};

/* What an event's arguments say, into buf. */
static const char *events_detail(const struct eventlist_entry *e, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (strcmp(e->kind, "low_battery") == 0 || strcmp(e->kind, "boot") == 0)
		snprintf(buf, cap, _("battery %d%%"), e->arg16);
	else if ((strcmp(e->kind, "unlocked") == 0 || strcmp(e->kind, "locked") == 0) &&
		 e->user_id != 0)
		snprintf(buf, cap, _("user %" PRId64 ", key %" PRId64), e->user_id, e->key_id);
	else if (strcmp(e->kind, "unlocked") == 0 && e->arg8 == 3)
		snprintf(buf, cap, "%s", _("by the lock itself"));
	else if (strcmp(e->kind, "override") == 0 && strcmp(e->op, "unlock") == 0)
		snprintf(buf, cap, _("unlock by user %" PRId64), e->user_id);
	else if (strcmp(e->kind, "override") == 0 && strcmp(e->op, "lock") == 0)
		snprintf(buf, cap, _("lock by user %" PRId64), e->user_id);
	else if (strcmp(e->kind, "lockout") == 0)
		snprintf(buf, cap, _("user %" PRId64 ", %d min"), e->user_id, e->arg16);
	if (e->seq > 0 && strlen(buf) + 16 < cap)
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s#%" PRId64,
			 buf[0] != '\0' ? "  " : "", e->seq);
	return buf;
}

/* Whether an event of this kind is trouble (shown as an error). */
static bool events_alarming(const char *kind)
{
	static const char *const kinds[] = {
		"forced", "jammed", "low_battery", "lockout", "offline", NULL,
	};
	size_t i;

	for (i = 0; kinds[i] != NULL; i++)
		if (strcmp(kinds[i], kind) == 0)
			return true;
	return false;
}

static void events_filter_line(struct console *c, int y)
{
	const struct eventlist_filter *f = &c->model.events.filter;
	char line[CONSOLE_MESSAGE_LEN], spot[SITEMAP_NAME_MAX];

	snprintf(line, sizeof(line), _("Filter: spot %s, kind %s"),
		 f->spot != 0 ? console_spot_name(c, f->spot, spot, sizeof(spot)) : _("all"),
		 f->kind[0] != '\0' ? console_kind_label(f->kind) : _("all"));
	ui_text(c->colour, y, 1, COLS - 2, line, f->spot != 0 || f->kind[0] != '\0' ? UI_WARN :
		UI_DIM);
}

static void events_draw(struct console *c, int top, int rows)
{
	static const int widths[] = { 16, 18, 22 };
	const struct eventlist_entry *ev[EVENTS_SHOWN_MAX];
	char at[32], spot[SITEMAP_NAME_MAX], detail[CONSOLE_MESSAGE_LEN];
	size_t i, n = eventlist_view(&c->model.events, ev, EVENTS_SHOWN_MAX);
	int y = top + 2, x;

	events_filter_line(c, top);
	ui_text(c->colour, top + 1, 1, widths[0], _("Time"), UI_HEADING);
	ui_text(c->colour, top + 1, 1 + widths[0], widths[1], _("Spot"), UI_HEADING);
	ui_text(c->colour, top + 1, 1 + widths[0] + widths[1], widths[2], _("Event"), UI_HEADING);
	ui_text(c->colour, top + 1, 1 + widths[0] + widths[1] + widths[2], COLS, _("Details"),
		UI_HEADING);
	if (n == 0)
		ui_text(c->colour, y, 1, COLS - 2, _("No events yet (or none pass the filter)."),
			UI_DIM);
	if (c->events_top >= n)
		c->events_top = n > 0 ? n - 1 : 0;
	for (i = c->events_top; i < n && y < top + rows; i++, y++) {
		x = 1;
		ui_text(c->colour, y, x, widths[0] - 1, frame_time(ev[i]->time, at, sizeof(at)),
			UI_NORMAL);
		x += widths[0];
		ui_text(c->colour, y, x, widths[1] - 1, console_spot_name(c, ev[i]->spot, spot,
									   sizeof(spot)), UI_NORMAL);
		x += widths[1];
		ui_text(c->colour, y, x, widths[2] - 1, console_kind_label(ev[i]->kind),
			events_alarming(ev[i]->kind) ? UI_ERROR : UI_NORMAL);
		x += widths[2];
		ui_text(c->colour, y, x, COLS - x - 1, events_detail(ev[i], detail, sizeof(detail)),
			UI_DIM);
	}
}

static void events_scroll(struct console *c, long delta)
{
	long top = (long)c->events_top + delta;

	c->events_top = top < 0 ? 0 : (size_t)top;
}

static bool events_key(struct console *c, unsigned long ch, bool fkey)
{
	struct eventlist_filter *f = &c->model.events.filter;
	long page = LINES - 6;

	if (fkey && (ch == KEY_UP || ch == KEY_DOWN))
		events_scroll(c, ch == KEY_UP ? -1 : 1);
	else if (fkey && (ch == KEY_PPAGE || ch == KEY_NPAGE))
		events_scroll(c, ch == KEY_PPAGE ? -page : page);
	else if (fkey && ch == KEY_HOME)
		c->events_top = 0;
	else if (fkey)
		return false;
	else if (ch == 's')
		console_ask(c, PROMPT_FILTER_SPOT, _("Show events of spot (name or number; empty: "
						    "all spots)"), false);
	else if (ch == 'k')
		eventlist_next_kind(&c->model.events);
	else if (ch == 'c')
		memset(f, 0, sizeof(*f));
	else
		return false;
	return true;
}

const struct screen screen_events = {
	.title = N_("Events"),
	.draw = events_draw,
	.key = events_key,
	.keys = events_keys,
	.nkeys = sizeof(events_keys) / sizeof(events_keys[0]),
};
