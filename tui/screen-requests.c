/*
 * screen-requests.c: an owner's share requests: the shares others made of keys to the
 * owner's spots that wait for the owner's approval (GET /v1/shares, state
 * pending_approval), newest first, with who shares with whom and the limits asked for.
 * a approves one (the recipient's phone then gets it), d refuses it (after a yes: for
 * good), r reads the list again. The server may ask for the owner's one-time code
 * (console_act()). Attendants decide nothing here: approving is the owner's.
 */
#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "console.h"
#include "frame.h"
#include "i18n.h"
#include "ui.h"

static const struct screen_key requests_keys[] = {
	{ "\xe2\x86\x91\xe2\x86\x93", N_("select"), SCREEN_KEY_ANYONE },
	{ "a", N_("approve"), SCREEN_KEY_OWNER },
	{ "d", N_("refuse"), SCREEN_KEY_OWNER },
	{ "r", N_("refresh"), SCREEN_KEY_ANYONE },
};

enum { REQ_COL_SPOT, REQ_COL_SHARE, REQ_COL_FROM, REQ_COL_TO, REQ_COL_UNTIL, REQ_COL_UNLOCKS,
       REQ_COL_ASKED, REQ_COLS };
static const int requests_col_x[REQ_COLS] = { 1, 11, 24, 39, 54, 66, 76 };

static void requests_load(struct console *c)
{
	struct apiclient_error err;
	json_object *reply = NULL;
	int r;

	c->requests.error[0] = '\0';
	if (!console_owner(c))
		return;
	memset(&err, 0, sizeof(err));
	r = session_shares(&c->sess, &reply, &err);
	if (r == 0 && holders_set(&c->requests.list, &reply, 1, HOLDERS_REQUESTS,
				  c->sess.roles.owned, c->sess.roles.nowned,
				  (int64_t)time(NULL)) < 0)
		snprintf(c->requests.error, sizeof(c->requests.error), "%s",
			 _("The server's list of shares could not be read."));
	else if (r != 0)
		snprintf(c->requests.error, sizeof(c->requests.error),
			 _("The share requests could not be read: %s"), err.detail);
	json_object_put(reply);
}

static void requests_row(struct console *c, int y, const struct holders_entry *e,
			 bool selected)
{
	enum ui_role n = selected ? UI_SELECTED : UI_NORMAL;
	const enum ui_role roles[REQ_COLS] = { n, n, n, n, n, n, selected ? n : UI_DIM };
	char what[64], until[32], unlocks[32], asked[32];
	const char *cells[REQ_COLS];

	if (selected)
		ui_fill(c->colour, y, 0, COLS, UI_SELECTED);
	cells[REQ_COL_SPOT] = e->spot_name[0] != '\0' ? e->spot_name : "-";
	cells[REQ_COL_SHARE] = holders_what(e, what, sizeof(what));
	cells[REQ_COL_FROM] = e->sharer[0] != '\0' ? e->sharer : "-";
	cells[REQ_COL_TO] = e->holder[0] != '\0' ? e->holder : "-";
	cells[REQ_COL_UNTIL] = frame_until(e->not_after, until, sizeof(until));
	cells[REQ_COL_UNLOCKS] = holders_unlocks(e, unlocks, sizeof(unlocks));
	cells[REQ_COL_ASKED] = frame_time(e->since, asked, sizeof(asked));
	frame_cells(c, y, requests_col_x, REQ_COLS, cells, roles);
}

static void requests_draw(struct console *c, int top, int rows)
{
	static const char *const heads[REQ_COLS] = {
		N_("Spot"), N_("Share"), N_("From"), N_("To"), N_("Until"), N_("Unlocks"),
		N_("Asked"),
	};
	const struct holders *h = &c->requests.list;
	const char *cells[REQ_COLS];
	enum ui_role roles[REQ_COLS];
	char line[CONSOLE_MESSAGE_LEN];
	size_t i, first = 0;
	int y = top + 2, shown = rows - 3, k;

	if (!console_owner(c)) {
		frame_wrap(c, top + 1, 2, COLS - 4, rows - 2, _("Share requests are for spot "
							     "owners: you own no spot."), UI_DIM);
		return;
	}
	if (c->requests.error[0] != '\0')
		frame_wrap(c, top + rows - 2, 1, COLS - 2, 2, c->requests.error, UI_ERROR);
	if (!h->known) {
		if (c->requests.error[0] == '\0')
			ui_text(c->colour, top + 1, 2, COLS - 4, _("Reading the share requests..."),
				UI_WARN);
		return;
	}
	if (h->count == 0)
		snprintf(line, sizeof(line), "%s", _("No share waits for your approval."));
	else
		snprintf(line, sizeof(line), _("Waiting for your approval: %zu (a approves, d "
					       "refuses)"), h->count + h->dropped);
	ui_text(c->colour, top, 1, COLS - 2, line, h->count > 0 ? UI_WARN : UI_GOOD);
	for (k = 0; k < REQ_COLS; k++) {
		cells[k] = _(heads[k]);
		roles[k] = UI_HEADING;
	}
	frame_cells(c, top + 1, requests_col_x, REQ_COLS, cells, roles);
	if (shown > 0 && h->selected >= (size_t)shown)
		first = h->selected - (size_t)shown + 1;
	for (i = first; i < h->count && y < top + rows - (c->requests.error[0] ? 2 : 0); i++)
		requests_row(c, y++, &h->e[i], i == h->selected);
}

/* "share 15 to +8613800000004", for the messages. */
static void requests_what(const struct holders_entry *e, char *buf, size_t cap)
{
	snprintf(buf, cap, _("share %" PRId64 " to %s"), e->id, e->holder[0] != '\0' ?
		 e->holder : "?");
}

static void requests_approve(struct console *c)
{
	const struct holders_entry *e = holders_selected(&c->requests.list);
	char what[ACTION_WHAT_LEN];
	struct action a;

	if (e == NULL)
		return;
	requests_what(e, what, sizeof(what));
	action_init(&a, ACTION_APPROVE, e->id, what);
	console_act(c, &a);
}

static void requests_refuse(struct console *c)
{
	const struct holders_entry *e = holders_selected(&c->requests.list);
	char what[ACTION_WHAT_LEN], question[PROMPT_TITLE_LEN];
	struct action a;

	if (e == NULL)
		return;
	requests_what(e, what, sizeof(what));
	action_init(&a, ACTION_DENY, e->id, what);
	snprintf(question, sizeof(question), _("Refuse %s for good?"), what);
	console_confirm(c, &a, question);
}

static bool requests_key(struct console *c, unsigned long ch, bool fkey)
{
	if (!console_owner(c))
		return false;
	if (fkey && (ch == KEY_UP || ch == KEY_DOWN))
		holders_move(&c->requests.list, ch == KEY_UP ? -1 : 1);
	else if (fkey && (ch == KEY_HOME || ch == KEY_END))
		holders_move(&c->requests.list, ch == KEY_HOME ? -HOLDERS_MAX : HOLDERS_MAX);
	else if (fkey)
		return false;
	else if (ch == 'a')
		requests_approve(c);
	else if (ch == 'd')
		requests_refuse(c);
	else if (ch == 'r')
		requests_load(c);
	else
		return false;
	return true;
}

const struct screen screen_requests = {
	.title = N_("Requests"),
	.enter = requests_load,
	.draw = requests_draw,
	.key = requests_key,
	.keys = requests_keys,
	.nkeys = sizeof(requests_keys) / sizeof(requests_keys[0]),
	.reload = requests_load,
};
