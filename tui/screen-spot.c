/*
 * screen-spot.c: one spot in detail (Enter on the map): what GET /v1/spots/{id} says
 * (owner, policy, key limits, whether a key is out), the lock's live state from the
 * model, the spot's latest events, and below them every key and share on the spot with
 * its holder, limits and state (GET /v1/spots/{id}/keys: for the owner and the
 * attendants). o overrides the lock (attendants), r reads it all again, e shows all its
 * events, Up and Down scroll the keys. Changing a share or key is the members screen's.
 */
#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "console.h"
#include "frame.h"
#include "i18n.h"
#include "text.h"
#include "ui.h"

#define SPOT_LABEL_COLS 14
#define SPOT_EVENTS_MAX 64

static const struct screen_key spot_keys[] = {
	{ "Esc", N_("back"), SCREEN_KEY_ANYONE },
	{ "r", N_("refresh"), SCREEN_KEY_ANYONE },
	{ "e", N_("events"), SCREEN_KEY_ANYONE },
	{ "o", N_("override"), SCREEN_KEY_STAFF },
	{ "\xe2\x86\x91\xe2\x86\x93", N_("scroll keys"), SCREEN_KEY_ANYONE },
};

/* The columns of the keys and shares: x and width (the last one takes the rest). */
enum { SPOT_COL_WHAT, SPOT_COL_HOLDER, SPOT_COL_STATE, SPOT_COL_UNTIL, SPOT_COL_UNLOCKS,
       SPOT_COL_LOCK, SPOT_COLS };
static const int spot_col_x[SPOT_COLS] = { 2, 15, 30, 48, 60, 70 };

/* Every key and share of spot `id`, or why not, into c->spot. */
static void spot_load_keys(struct console *c, int64_t id)
{
	struct apiclient_error err;
	json_object *reply = NULL;
	int r;

	holders_init(&c->spot.keys);
	c->spot.keys_error[0] = '\0';
	c->spot.keys_top = 0;
	memset(&err, 0, sizeof(err));
	r = session_spot_keys(&c->sess, id, &reply, &err);
	if (r == 0 && holders_set(&c->spot.keys, &reply, 1, HOLDERS_EVERYTHING, NULL, 0,
				  (int64_t)time(NULL)) < 0)
		snprintf(c->spot.keys_error, sizeof(c->spot.keys_error), "%s",
			 _("The server's list of keys could not be read."));
	else if (r == -APICLIENT_E_HTTP && err.status == 403)
		snprintf(c->spot.keys_error, sizeof(c->spot.keys_error), "%s",
			 _("Only the spot's owner and the garage's attendants see its keys and "
			   "shares."));
	else if (r == -APICLIENT_E_HTTP && err.status == 404)
		snprintf(c->spot.keys_error, sizeof(c->spot.keys_error), "%s",
			 _("This server does not list a spot's keys (GET /v1/spots/ID/keys is "
			   "missing)."));
	else if (r != 0)
		snprintf(c->spot.keys_error, sizeof(c->spot.keys_error),
			 _("The spot's keys could not be read: %s"), err.detail);
	json_object_put(reply);
}

static void spot_load(struct console *c)
{
	const struct sitemap_spot *s = model_selected(&c->model);
	struct apiclient_error err;
	int r;

	json_object_put(c->spot.detail);
	c->spot.detail = NULL;
	c->spot.error[0] = '\0';
	if (s == NULL)
		return;
	c->spot.id = s->id;
	memset(&err, 0, sizeof(err));
	r = session_spot(&c->sess, s->id, &c->spot.detail, &err);
	if (r != 0)
		snprintf(c->spot.error, sizeof(c->spot.error), _("The spot's details could not be "
								 "read: %s"), err.detail);
	else /* the freshest state, "taken" (a key out) included, for the map too */
		(void)sitemap_spot_update(&c->model.map, s->id, c->spot.detail);
	spot_load_keys(c, s->id);
}

/* A member of the details as text into buf ("-" when absent or null). */
static const char *spot_member(const struct console *c, const char *key, char *buf,
			       size_t cap)
{
	json_object *v;

	if (c->spot.detail == NULL || !json_object_object_get_ex(c->spot.detail, key, &v) ||
	    v == NULL) {
		snprintf(buf, cap, "-");
		return buf;
	}
	if (json_object_is_type(v, json_type_string))
		snprintf(buf, cap, "%s", json_object_get_string(v));
	else
		snprintf(buf, cap, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	return buf;
}

static int64_t spot_int(const struct console *c, const char *key, int64_t dflt)
{
	json_object *v;

	if (c->spot.detail == NULL || !json_object_object_get_ex(c->spot.detail, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return dflt;
	return json_object_get_int64(v);
}

static void spot_row(struct console *c, int *y, const char *label, const char *value,
		     enum ui_role role)
{
	ui_text(c->colour, *y, 2, SPOT_LABEL_COLS, label, UI_DIM);
	ui_text(c->colour, (*y)++, 2 + SPOT_LABEL_COLS, COLS / 2 - SPOT_LABEL_COLS - 3, value,
		role);
}

/* The server's part: owner, policy, limits, keys. */
static void spot_server(struct console *c, int *y)
{
	char a[CONSOLE_MESSAGE_LEN], b[CONSOLE_MESSAGE_LEN], line[CONSOLE_MESSAGE_LEN];
	int64_t valid = spot_int(c, "key_valid_s", -1), uses = spot_int(c, "key_max_unlocks", -1);

	if (c->spot.detail == NULL)
		return;
	spot_member(c, "owner_name", a, sizeof(a));
	if (strcmp(a, "-") == 0)
		spot_member(c, "owner", a, sizeof(a));
	if (strcmp(a, "-") == 0)
		spot_member(c, "owner_id", a, sizeof(a));
	spot_row(c, y, _("Owner"), a, UI_NORMAL);
	spot_member(c, "policy", a, sizeof(a));
	spot_member(c, "region", b, sizeof(b));
	snprintf(line, sizeof(line), strcmp(b, "-") != 0 ? "%s (%s)" : "%s", a, b);
	spot_row(c, y, _("Policy"), line, UI_NORMAL);
	if (valid > 0)
		snprintf(line, sizeof(line), _("%" PRId64 " s per key"), valid);
	else
		snprintf(line, sizeof(line), _("keys do not expire"));
	spot_row(c, y, _("Key validity"), line, UI_NORMAL);
	if (uses > 0)
		snprintf(line, sizeof(line), _("%" PRId64 " unlocks per key"), uses);
	else
		snprintf(line, sizeof(line), _("unlimited unlocks"));
	spot_row(c, y, _("Key uses"), line, UI_NORMAL);
	spot_member(c, "taken", a, sizeof(a));
	spot_row(c, y, _("Key out"), strcmp(a, "true") == 0 ? _("yes, a driver holds a key") :
		 _("no"), UI_NORMAL);
}

static const char *spot_flag(enum sitemap_flag f, const char *yes, const char *no)
{
	return f == SITEMAP_YES ? _(yes) : f == SITEMAP_NO ? _(no) : _("unknown");
}

/* The live part, from the model: lock, car, link, battery, alarm. */
static void spot_live(struct console *c, const struct sitemap_spot *s, int *y)
{
	static const char *const alarms[] = {
		[SITEMAP_ALARM_NONE] = N_("none"),
		[SITEMAP_ALARM_FORCED] = N_("barrier forced"),
		[SITEMAP_ALARM_JAMMED] = N_("barrier jammed"),
		[SITEMAP_ALARM_LOCKOUT] = N_("lockout"),
	};
	char line[CONSOLE_MESSAGE_LEN], at[32];

	spot_row(c, y, _("Lock"), spot_flag(s->state.locked, N_("locked (barrier up)"),
					    N_("unlocked (barrier down)")), UI_NORMAL);
	spot_row(c, y, _("Car"), spot_flag(s->state.occupied, N_("present"), N_("none")),
		 UI_NORMAL);
	spot_row(c, y, _("Link"), spot_flag(s->state.online, N_("online"), N_("offline")),
		 s->state.online == SITEMAP_NO ? UI_ERROR : UI_NORMAL);
	if (s->state.battery >= 0)
		snprintf(line, sizeof(line), "%d%%", s->state.battery);
	else
		snprintf(line, sizeof(line), "%s", _("unknown"));
	spot_row(c, y, _("Battery"), line, s->state.battery >= 0 && s->state.battery < 20 ?
		 UI_ERROR : UI_NORMAL);
	spot_row(c, y, _("Alarm"), _(alarms[s->state.alarm <= SITEMAP_ALARM_LOCKOUT ?
					   s->state.alarm : SITEMAP_ALARM_NONE]),
		 s->state.alarm != SITEMAP_ALARM_NONE ? UI_ERROR : UI_NORMAL);
	spot_row(c, y, _("Last heard"), frame_time(s->state.last_event_at, at, sizeof(at)),
		 UI_NORMAL);
}

/* The spot's latest events, in the right half. */
static void spot_events(struct console *c, const struct sitemap_spot *s, int top, int rows)
{
	const struct eventlist_entry *ev[SPOT_EVENTS_MAX];
	struct eventlist_filter f = { .spot = s->id, .kind = "" };
	char line[CONSOLE_MESSAGE_LEN], at[32];
	int x = COLS / 2 + 1, w = COLS - x - 1;
	size_t i, n;

	ui_text(c->colour, top, x, w, _("Latest events"), UI_HEADING);
	n = eventlist_select(&c->model.events, &f, ev, SPOT_EVENTS_MAX);
	if (n == 0)
		ui_text(c->colour, top + 1, x, w, _("none since the console connected"), UI_DIM);
	for (i = 0; i < n && (int)i + 1 < rows; i++) {
		snprintf(line, sizeof(line), "%s  %s", frame_time(ev[i]->time, at, sizeof(at)),
			 console_kind_label(ev[i]->kind));
		ui_text(c->colour, top + 1 + (int)i, x, w, line, UI_NORMAL);
	}
}

/* One key or share of the list at row y. */
static void spot_key_row(struct console *c, int y, const struct holders_entry *e)
{
	enum ui_role state = e->status == HOLDERS_LIVE ? UI_GOOD :
		e->status == HOLDERS_PENDING || e->status == HOLDERS_FROZEN ? UI_WARN : UI_DIM;
	enum ui_role other = state == UI_DIM ? UI_DIM : UI_NORMAL;
	const enum ui_role roles[SPOT_COLS] = { other, other, state, other, other, other };
	char what[64], until[32], unlocks[32], lock[64];
	const char *cells[SPOT_COLS];

	cells[SPOT_COL_WHAT] = holders_what(e, what, sizeof(what));
	cells[SPOT_COL_HOLDER] = e->holder[0] != '\0' ? e->holder : "-";
	cells[SPOT_COL_STATE] = holders_status_label(e->status);
	cells[SPOT_COL_UNTIL] = frame_until(e->not_after, until, sizeof(until));
	cells[SPOT_COL_UNLOCKS] = holders_unlocks(e, unlocks, sizeof(unlocks));
	cells[SPOT_COL_LOCK] = holders_delivery_label(e, lock, sizeof(lock));
	frame_cells(c, y, spot_col_x, SPOT_COLS, cells, roles);
}

/* Every key and share on the spot, rows y .. end-1, scrolled by keys_top. */
static void spot_keys_draw(struct console *c, int y, int end)
{
	static const char *const heads[SPOT_COLS] = {
		N_("Key"), N_("Holder"), N_("State"), N_("Until"), N_("Unlocks"), N_("Lock"),
	};
	const struct holders *h = &c->spot.keys;
	const char *cells[SPOT_COLS];
	enum ui_role roles[SPOT_COLS];
	char line[CONSOLE_MESSAGE_LEN];
	size_t i, shown;
	int k;

	if (y >= end)
		return;
	if (c->spot.keys_error[0] != '\0') {
		frame_wrap(c, y, 2, COLS - 4, end - y, c->spot.keys_error, UI_DIM);
		return;
	}
	if (!h->known)
		return;
	snprintf(line, sizeof(line), _("Keys and shares (%zu)"), h->count + h->dropped);
	ui_text(c->colour, y++, 2, COLS - 4, line, UI_HEADING);
	if (h->count == 0) {
		if (y < end)
			ui_text(c->colour, y, 2, COLS - 4,
				_("No key was ever issued for this spot."), UI_DIM);
		return;
	}
	if (y < end) {
		for (k = 0; k < SPOT_COLS; k++) {
			cells[k] = _(heads[k]);
			roles[k] = UI_HEADING;
		}
		frame_cells(c, y++, spot_col_x, SPOT_COLS, cells, roles);
	}
	shown = end > y ? (size_t)(end - y) : 0;
	if (c->spot.keys_top + shown > h->count)
		c->spot.keys_top = h->count > shown ? h->count - shown : 0;
	for (i = c->spot.keys_top; i < h->count && y < end; i++)
		spot_key_row(c, y++, &h->e[i]);
}

static void spot_draw(struct console *c, int top, int rows)
{
	const struct sitemap_spot *s = model_selected(&c->model);
	char line[CONSOLE_MESSAGE_LEN];
	int y = top + 1;

	if (s == NULL || (int64_t)s->id != c->spot.id) {
		ui_text(c->colour, y, 2, COLS - 4, _("No spot selected."), UI_WARN);
		return;
	}
	snprintf(line, sizeof(line), _("Spot %s (%" PRIu32 "), level %s"), s->name, s->id,
		 c->model.map.levels[s->level].name);
	ui_text(c->colour, y++, 2, COLS / 2 - 3, line, UI_HEADING);
	y++;
	if (c->spot.error[0] != '\0')
		y += frame_wrap(c, y, 2, COLS / 2 - 3, 3, c->spot.error, UI_ERROR);
	spot_server(c, &y);
	y++;
	spot_live(c, s, &y);
	spot_events(c, s, top + 1, y - top - 1);
	spot_keys_draw(c, y + 1, top + rows);
}

static bool spot_key(struct console *c, unsigned long ch, bool fkey)
{
	if (fkey && ch == KEY_UP) {
		if (c->spot.keys_top > 0)
			c->spot.keys_top--;
		return true;
	}
	if (fkey && ch == KEY_DOWN) {
		c->spot.keys_top++; /* clamped when drawn */
		return true;
	}
	if (fkey)
		return false;
	if (ch == 'r') {
		spot_load(c);
		return true;
	}
	if (ch == 'e') {
		c->model.events.filter.spot = c->spot.id;
		c->events_top = 0;
		console_show(c, SCREEN_EVENTS);
		return true;
	}
	if (ch == 'o' && c->sess.staff) {
		console_override(c, c->model.selected);
		return true;
	}
	return false;
}

const struct screen screen_spot = {
	.title = N_("Spot"),
	.enter = spot_load,
	.draw = spot_draw,
	.key = spot_key,
	.keys = spot_keys,
	.nkeys = sizeof(spot_keys) / sizeof(spot_keys[0]),
	.reload = spot_load,
};
