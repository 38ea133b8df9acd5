/*
 * screen-alarms.c: the site's open alarms as the server lists them (forced or jammed
 * barrier, a car without a key, a lock offline, low battery, lockout), oldest first,
 * for an attendant to acknowledge one by one with a note (Enter). g shows the alarm's
 * spot on the map; r reads the list again.
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

static const struct screen_key alarms_keys[] = {
	{ "\xe2\x86\x91\xe2\x86\x93", N_("select"), SCREEN_KEY_ANYONE },
	{ "Enter", N_("acknowledge"), SCREEN_KEY_STAFF },
	{ "g", N_("go to spot"), SCREEN_KEY_ANYONE },
	{ "r", N_("refresh"), SCREEN_KEY_ANYONE },
};

static void alarms_draw_row(struct console *c, int y, const struct alarms_entry *a,
			    bool selected)
{
	char at[32], spot[SITEMAP_NAME_MAX], seq[32];
	enum ui_role role = selected ? UI_SELECTED : UI_NORMAL;

	if (selected)
		ui_fill(c->colour, y, 0, COLS, UI_SELECTED);
	ui_text(c->colour, y, 1, 15, frame_time(a->since, at, sizeof(at)), role);
	ui_text(c->colour, y, 17, 19, console_spot_name(c, a->spot, spot, sizeof(spot)), role);
	ui_text(c->colour, y, 37, 28, console_kind_label(a->kind), selected ? role : UI_ERROR);
	if (a->event_seq > 0) {
		snprintf(seq, sizeof(seq), "#%" PRId64, a->event_seq);
		ui_text(c->colour, y, 66, COLS - 67, seq, selected ? role : UI_DIM);
	}
}

static void alarms_draw(struct console *c, int top, int rows)
{
	const struct alarms *al = &c->model.alarms;
	char line[CONSOLE_MESSAGE_LEN];
	size_t i, first = 0;
	int y = top + 2, shown = rows - 3;

	if (!c->sess.staff) {
		frame_wrap(c, top + 1, 2, COLS - 4, rows - 2, _("Alarms are for the garage's "
							     "attendants; the map shows your spots' "
							     "state."), UI_DIM);
		return;
	}
	if (al->unsupported) {
		frame_wrap(c, top + 1, 2, COLS - 4, rows - 2, _("This server keeps no alarm list "
							     "(GET /v1/sites/ID/alarms is missing). "
							     "The map still marks forced, jammed and "
							     "locked-out locks."), UI_WARN);
		return;
	}
	if (!al->known) {
		ui_text(c->colour, top + 1, 2, COLS - 4, _("Reading the alarms..."), UI_WARN);
		return;
	}
	snprintf(line, sizeof(line), _("%zu open alarms"), al->count + al->dropped);
	ui_text(c->colour, top, 1, COLS - 2, line, al->count > 0 ? UI_ERROR : UI_GOOD);
	ui_text(c->colour, top + 1, 1, 15, _("Since"), UI_HEADING);
	ui_text(c->colour, top + 1, 17, 19, _("Spot"), UI_HEADING);
	ui_text(c->colour, top + 1, 37, 28, _("Alarm"), UI_HEADING);
	ui_text(c->colour, top + 1, 66, COLS - 67, _("Event"), UI_HEADING);
	if (shown > 0 && al->selected >= (size_t)shown)
		first = al->selected - (size_t)shown + 1;
	for (i = first; i < al->count && y < top + rows; i++)
		alarms_draw_row(c, y++, &al->a[i], i == al->selected);
}

static void alarms_refresh(struct console *c)
{
	struct apiclient_error err;
	json_object *list = NULL;
	int r;

	memset(&err, 0, sizeof(err));
	r = session_alarms(&c->sess, &list, &err);
	if (r == 0)
		model_set_alarms(&c->model, list);
	else if (r == -APICLIENT_E_HTTP && err.status == 404)
		model_set_alarms(&c->model, NULL);
	else
		console_say(c, true, _("The alarms could not be read: %s"), err.detail);
	json_object_put(list);
}

static void alarms_ack(struct console *c)
{
	const struct alarms_entry *a = alarms_selected(&c->model.alarms);
	char title[PROMPT_TITLE_LEN], spot[SITEMAP_NAME_MAX];

	if (a == NULL || !c->sess.staff)
		return;
	snprintf(title, sizeof(title), _("Acknowledge \"%s\" at %s: note"),
		 console_kind_label(a->kind), console_spot_name(c, a->spot, spot, sizeof(spot)));
	console_ask(c, PROMPT_ACK_NOTE, title, false);
}

static void alarms_goto(struct console *c)
{
	const struct alarms_entry *a = alarms_selected(&c->model.alarms);
	size_t idx;

	if (a == NULL || !c->model.have_map)
		return;
	idx = sitemap_spot_find(&c->model.map, a->spot);
	if (idx == SITEMAP_NONE)
		return;
	model_select(&c->model, idx);
	console_show(c, SCREEN_MAP);
}

static bool alarms_key(struct console *c, unsigned long ch, bool fkey)
{
	if (fkey && (ch == KEY_UP || ch == KEY_DOWN))
		alarms_move(&c->model.alarms, ch == KEY_UP ? -1 : 1);
	else if (fkey && (ch == KEY_HOME || ch == KEY_END))
		alarms_move(&c->model.alarms, ch == KEY_HOME ? -ALARMS_MAX : ALARMS_MAX);
	else if (fkey && ch == KEY_ENTER)
		alarms_ack(c);
	else if (fkey)
		return false;
	else if (ch == '\r' || ch == '\n')
		alarms_ack(c);
	else if (ch == 'g')
		alarms_goto(c);
	else if (ch == 'r' && c->sess.staff)
		alarms_refresh(c);
	else
		return false;
	return true;
}

const struct screen screen_alarms = {
	.title = N_("Alarms"),
	.draw = alarms_draw,
	.key = alarms_key,
	.keys = alarms_keys,
	.nkeys = sizeof(alarms_keys) / sizeof(alarms_keys[0]),
};
