/*
 * screen-members.c: the members of an owner's spots: who holds a live key to each, and
 * whom they shared it with (active and frozen shares), read from GET
 * /v1/spots/{id}/keys for every spot the user owns. f freezes a share and u unfreezes
 * it, d removes one, x revokes a key (its shares end with it); removing and revoking ask
 * for a yes first, and the server may ask for the owner's one-time code
 * (console_act()). r reads it all again.
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

static const struct screen_key members_keys[] = {
	{ "\xe2\x86\x91\xe2\x86\x93", N_("select"), SCREEN_KEY_ANYONE },
	{ "f", N_("freeze"), SCREEN_KEY_OWNER },
	{ "u", N_("unfreeze"), SCREEN_KEY_OWNER },
	{ "d", N_("remove share"), SCREEN_KEY_OWNER },
	{ "x", N_("revoke key"), SCREEN_KEY_OWNER },
	{ "r", N_("refresh"), SCREEN_KEY_ANYONE },
};

enum { MEM_COL_SPOT, MEM_COL_WHAT, MEM_COL_HOLDER, MEM_COL_STATE, MEM_COL_UNTIL,
       MEM_COL_UNLOCKS, MEM_COL_FROM, MEM_COLS };
static const int members_col_x[MEM_COLS] = { 1, 10, 23, 38, 52, 64, 74 };

static void members_load(struct console *c)
{
	json_object *replies[SESSION_SPOTS_MAX];
	const struct session_roles *roles = &c->sess.roles;
	struct apiclient_error err;
	size_t i, n = 0;
	int r;

	c->members.error[0] = '\0';
	if (!console_owner(c))
		return;
	for (i = 0; i < roles->nowned; i++) {
		memset(&err, 0, sizeof(err));
		r = session_spot_keys(&c->sess, roles->owned[i], &replies[n], &err);
		if (r == 0)
			n++;
		else if (c->members.error[0] == '\0')
			snprintf(c->members.error, sizeof(c->members.error),
				 _("The keys of spot %" PRId64 " could not be read: %s"),
				 roles->owned[i], err.detail);
	}
	if (n > 0 && holders_set(&c->members.list, replies, n, HOLDERS_MEMBERS, roles->owned,
				 roles->nowned, (int64_t)time(NULL)) < 0)
		snprintf(c->members.error, sizeof(c->members.error), "%s",
			 _("The server's list of keys could not be read."));
	for (i = 0; i < n; i++)
		json_object_put(replies[i]);
}

static void members_row(struct console *c, int y, const struct holders_entry *e,
			bool selected)
{
	enum ui_role n = selected ? UI_SELECTED : UI_NORMAL;
	enum ui_role state = selected ? n : e->status == HOLDERS_LIVE ? UI_GOOD : UI_WARN;
	const enum ui_role roles[MEM_COLS] = { n, n, n, state, n, n, selected ? n : UI_DIM };
	char what[64], until[32], unlocks[32];
	const char *cells[MEM_COLS];

	if (selected)
		ui_fill(c->colour, y, 0, COLS, UI_SELECTED);
	cells[MEM_COL_SPOT] = e->spot_name[0] != '\0' ? e->spot_name : "-";
	cells[MEM_COL_WHAT] = holders_what(e, what, sizeof(what));
	cells[MEM_COL_HOLDER] = e->holder[0] != '\0' ? e->holder : "-";
	cells[MEM_COL_STATE] = holders_status_label(e->status);
	cells[MEM_COL_UNTIL] = frame_until(e->not_after, until, sizeof(until));
	cells[MEM_COL_UNLOCKS] = holders_unlocks(e, unlocks, sizeof(unlocks));
	cells[MEM_COL_FROM] = e->kind == HOLDERS_SHARE && e->sharer[0] != '\0' ? e->sharer : "";
	frame_cells(c, y, members_col_x, MEM_COLS, cells, roles);
}

static void members_draw(struct console *c, int top, int rows)
{
	static const char *const heads[MEM_COLS] = {
		N_("Spot"), N_("Key"), N_("Holder"), N_("State"), N_("Until"), N_("Unlocks"),
		N_("Shared by"),
	};
	const struct holders *h = &c->members.list;
	const char *cells[MEM_COLS];
	enum ui_role roles[MEM_COLS];
	char line[CONSOLE_MESSAGE_LEN];
	int y = top + 2, end = top + rows, k;
	size_t i, first = 0;

	if (!console_owner(c)) {
		frame_wrap(c, top + 1, 2, COLS - 4, rows - 2, _("Members are for spot owners: you "
							     "own no spot."), UI_DIM);
		return;
	}
	if (c->members.error[0] != '\0') {
		end -= 2;
		frame_wrap(c, end, 1, COLS - 2, 2, c->members.error, UI_ERROR);
	}
	if (!h->known) {
		if (c->members.error[0] == '\0')
			ui_text(c->colour, top + 1, 2, COLS - 4, _("Reading the members..."),
				UI_WARN);
		return;
	}
	snprintf(line, sizeof(line), _("Live keys and shares on your spots: %zu"),
		 h->count + h->dropped);
	ui_text(c->colour, top, 1, COLS - 2, line, UI_HEADING);
	for (k = 0; k < MEM_COLS; k++) {
		cells[k] = _(heads[k]);
		roles[k] = UI_HEADING;
	}
	frame_cells(c, top + 1, members_col_x, MEM_COLS, cells, roles);
	if (h->count == 0 && y < end)
		ui_text(c->colour, y, 1, COLS - 2, _("Nobody holds a key to your spots."), UI_DIM);
	if (end - y > 0 && h->selected >= (size_t)(end - y))
		first = h->selected - (size_t)(end - y) + 1;
	for (i = first; i < h->count && y < end; i++)
		members_row(c, y++, &h->e[i], i == h->selected);
}

/* "share 15 to +8613800000004" or "key 12 of +8613800000003", for the messages. */
static void members_what(const struct holders_entry *e, char *buf, size_t cap)
{
	const char *who = e->holder[0] != '\0' ? e->holder : "?";

	if (e->kind == HOLDERS_SHARE)
		snprintf(buf, cap, _("share %" PRId64 " to %s"), e->id, who);
	else
		snprintf(buf, cap, _("key %" PRId64 " of %s"), e->id, who);
}

/* f and u: freeze or unfreeze the selected share. */
static void members_freeze(struct console *c, bool freeze)
{
	const struct holders_entry *e = holders_selected(&c->members.list);
	char what[ACTION_WHAT_LEN];
	struct action a;

	if (e == NULL)
		return;
	members_what(e, what, sizeof(what));
	if (e->kind != HOLDERS_SHARE) {
		console_say(c, true, "%s", freeze ? _("f freezes a share; x revokes a key.") :
			    _("u unfreezes a share."));
		return;
	}
	if (freeze && e->status == HOLDERS_FROZEN) {
		console_say(c, true, _("%s is frozen already; u unfreezes it."), what);
		return;
	}
	if (!freeze && e->status != HOLDERS_FROZEN) {
		console_say(c, true, _("%s is not frozen."), what);
		return;
	}
	action_init(&a, freeze ? ACTION_FREEZE : ACTION_UNFREEZE, e->id, what);
	console_act(c, &a);
}

static void members_remove(struct console *c)
{
	const struct holders_entry *e = holders_selected(&c->members.list);
	char what[ACTION_WHAT_LEN], question[PROMPT_TITLE_LEN];
	struct action a;

	if (e == NULL)
		return;
	if (e->kind != HOLDERS_SHARE) {
		console_say(c, true, "%s", _("d removes a share; x revokes a key."));
		return;
	}
	members_what(e, what, sizeof(what));
	action_init(&a, ACTION_REMOVE, e->id, what);
	snprintf(question, sizeof(question), _("Remove %s? It stops opening the lock."), what);
	console_confirm(c, &a, question);
}

static void members_revoke(struct console *c)
{
	const struct holders_entry *e = holders_selected(&c->members.list);
	char what[ACTION_WHAT_LEN], question[PROMPT_TITLE_LEN];
	struct action a;

	if (e == NULL)
		return;
	if (e->kind != HOLDERS_KEY) {
		console_say(c, true, "%s", _("x revokes a key; d removes a share."));
		return;
	}
	members_what(e, what, sizeof(what));
	action_init(&a, ACTION_REVOKE, e->id, what);
	snprintf(question, sizeof(question), _("Revoke %s? Its shares end with it."), what);
	console_confirm(c, &a, question);
}

static bool members_key(struct console *c, unsigned long ch, bool fkey)
{
	if (!console_owner(c))
		return false;
	if (fkey && (ch == KEY_UP || ch == KEY_DOWN))
		holders_move(&c->members.list, ch == KEY_UP ? -1 : 1);
	else if (fkey && (ch == KEY_HOME || ch == KEY_END))
		holders_move(&c->members.list, ch == KEY_HOME ? -HOLDERS_MAX : HOLDERS_MAX);
	else if (fkey)
		return false;
	else if (ch == 'f' || ch == 'u')
		members_freeze(c, ch == 'f');
	else if (ch == 'd')
		members_remove(c);
	else if (ch == 'x')
		members_revoke(c);
	else if (ch == 'r')
		members_load(c);
	else
		return false;
	return true;
}

const struct screen screen_members = {
	.title = N_("Members"),
	.enter = members_load,
	.draw = members_draw,
	.key = members_key,
	.keys = members_keys,
	.nkeys = sizeof(members_keys) / sizeof(members_keys[0]),
	.reload = members_load,
};
