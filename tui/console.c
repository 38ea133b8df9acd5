/*
 * console.c: parkconsole's loop and its state changes: the terminal and the live link
 * watched in one poll() (no timer faster than the idle logout), keys to the open prompt,
 * the screen or the global keys, the live link's messages into the model, logging in
 * and out, decisive actions with their confirmation and one-time code, the kiosk's
 * rules. Drawing is frame.c's and the screens'.
 */
#include "console.h"

#include <curses.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "eventlist.h"
#include "frame.h"
#include "i18n.h"
#include "text.h"
#include "ui.h"

#define CONSOLE_CTRL(c) ((c) & 0x1f)
#define CONSOLE_ESC 27

const struct screen *const console_screens[SCREEN_COUNT] = {
	[SCREEN_LOGIN] = &screen_login,
	[SCREEN_MAP] = &screen_map,
	[SCREEN_SPOT] = &screen_spot,
	[SCREEN_EVENTS] = &screen_events,
	[SCREEN_ALARMS] = &screen_alarms,
	[SCREEN_REQUESTS] = &screen_requests,
	[SCREEN_MEMBERS] = &screen_members,
	[SCREEN_HELP] = &screen_help,
};

const struct screen_key console_global_keys[] = {
	{ "1 2 3, Tab", N_("map, events, alarms; the next of them"), SCREEN_KEY_ANYONE },
	{ "4 5", N_("share requests, members"), SCREEN_KEY_OWNER },
	{ "Esc", N_("back (from a spot or the help)"), SCREEN_KEY_ANYONE },
	{ "? F1", N_("this help"), SCREEN_KEY_ANYONE },
	{ "L", N_("log out"), SCREEN_KEY_ANYONE },
	{ "Ctrl-L", N_("draw the screen again"), SCREEN_KEY_ANYONE },
	{ "q F10", N_("quit (in a kiosk: needs an attendant's password)"), SCREEN_KEY_ANYONE },
	{ "Ctrl-Z", N_("suspend (not in a kiosk)"), SCREEN_KEY_ANYONE },
};
const size_t console_global_nkeys = sizeof(console_global_keys) / sizeof(console_global_keys[0]);

static int64_t console_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void console_show(struct console *c, enum screen_id id)
{
	if (id != SCREEN_HELP && id != SCREEN_SPOT)
		c->back = id;
	c->screen = id;
	if (console_screens[id]->enter != NULL)
		console_screens[id]->enter(c);
}

void console_say(struct console *c, bool error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
	c->message_error = error;
}

void console_ask(struct console *c, enum prompt_purpose purpose, const char *title, bool secret)
{
	prompt_open(&c->prompt, purpose, title, secret);
}

bool console_owner(const struct console *c)
{
	return c->logged_in && c->sess.roles.nowned > 0;
}

bool console_key_shown(const struct console *c, const struct screen_key *k)
{
	return k->user == SCREEN_KEY_STAFF ? c->sess.staff :
	       k->user == SCREEN_KEY_OWNER ? console_owner(c) : true;
}

const char *console_spot_name(const struct console *c, int64_t id, char *buf, size_t cap)
{
	size_t i = c->model.have_map ? sitemap_spot_find(&c->model.map, id) : SITEMAP_NONE;

	if (i != SITEMAP_NONE)
		snprintf(buf, cap, "%s", c->model.map.spots[i].name);
	else
		snprintf(buf, cap, "%" PRId64, id);
	return buf;
}

/* ---- event and alarm kinds ---- */

static const struct {
	const char *kind;
	const char *label;
} console_kinds[] = {
	{ "boot", N_("lock started") },
	{ "unlocked", N_("unlocked") },
	{ "locked", N_("locked") },
	{ "car_arrived", N_("car arrived") },
	{ "car_left", N_("car left") },
	{ "forced", N_("barrier forced") },
	{ "jammed", N_("barrier jammed") },
	{ "low_battery", N_("low battery") },
	{ "lockout", N_("lockout") },
	{ "mgmt", N_("management message") },
	{ "time_set", N_("clock set") },
	{ "online", N_("lock online") },
	{ "offline", N_("lock offline") },
	{ "car_without_key", N_("car without a key") },
	{ "override", N_("attendant override") },
	{ "share", N_("share changed") },
};

const char *console_kind_label(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(console_kinds) / sizeof(console_kinds[0]); i++)
		if (strcmp(console_kinds[i].kind, kind) == 0)
			return _(console_kinds[i].label);
	return kind;
}

/* ---- logging in and out ---- */

void console_say_error(struct console *c, int r, const struct apiclient_error *err)
{
	if (r == -APICLIENT_E_NET)
		console_say(c, true, _("Cannot reach the server at %s: %s. Check --server and "
				       "that parkd is running."), c->cfg->server, err->detail);
	else if (r == -APICLIENT_E_REPLY)
		console_say(c, true, _("The server at %s did not answer as parkd does (%s). Check "
				       "--server."), c->cfg->server, err->detail);
	else if (r == -APICLIENT_E_HTTP && err->status == 401)
		console_say(c, true, _("Wrong phone number or password."));
	else if (r == -APICLIENT_E_HTTP)
		console_say(c, true, _("The server refused (%d %s): %s"), err->status, err->code,
			    err->detail);
	else
		console_say(c, true, _("The request failed: %s"), err->detail);
}

int console_login(struct console *c, const char *phone, const char *password)
{
	struct apiclient_error err;
	struct live_opts lo;
	int r;

	memset(&err, 0, sizeof(err));
	r = session_login(&c->sess, phone, password, &err);
	if (r != 0) {
		console_say_error(c, r, &err);
		return -1;
	}
	r = session_pick_site(&c->sess, c->cfg->site_id, &err);
	if (r != 0) {
		if (r == -SESSION_E_NOSITE)
			console_say(c, true, _("There is no site to show: you are neither an "
					       "attendant nor a spot owner. Give --site ID."));
		else
			console_say_error(c, r, &err);
		session_logout(&c->sess);
		return -1;
	}
	memset(&lo, 0, sizeof(lo));
	lo.base_url = c->cfg->server;
	lo.ca_file = c->api.ca_file;
	lo.token = c->sess.token;
	lo.site_id = c->sess.site_id;
	lo.whole_site = c->sess.staff;
	model_init(&c->model);
	if (live_start(&lo, &c->live) != 0) {
		console_say(c, true, _("The live link could not start (out of memory?)."));
		session_logout(&c->sess);
		return -1;
	}
	c->logged_in = true;
	c->message[0] = '\0';
	c->last_key_ms = console_ms();
	console_show(c, SCREEN_MAP);
	return 0;
}

void console_logout(struct console *c, const char *why)
{
	live_stop(c->live);
	c->live = NULL;
	session_logout(&c->sess);
	model_free(&c->model);
	json_object_put(c->spot.detail);
	memset(&c->spot, 0, sizeof(c->spot));
	holders_init(&c->requests.list);
	c->requests.error[0] = '\0';
	holders_init(&c->members.list);
	c->members.error[0] = '\0';
	memset(&c->action, 0, sizeof(c->action));
	prompt_close(&c->prompt);
	c->logged_in = false;
	c->events_top = 0;
	console_show(c, SCREEN_LOGIN);
	if (why != NULL)
		console_say(c, false, "%s", why);
	else
		c->message[0] = '\0';
}

/* ---- prompts: one action per purpose ---- */

static void console_find(struct console *c, const char *text)
{
	size_t idx = model_find(&c->model, text);

	if (idx == SITEMAP_NONE) {
		prompt_refuse(&c->prompt, _("No spot or owner matches; try part of a spot's name, "
					    "its number, or owner:USER."), false);
		return;
	}
	model_select(&c->model, idx);
	snprintf(c->find_last, sizeof(c->find_last), "%s", text);
	prompt_close(&c->prompt);
	console_say(c, false, _("Found %s."), c->model.map.spots[idx].name);
}

static void console_filter_spot(struct console *c, const char *text)
{
	size_t idx;

	if (text_blank(text)) {
		c->model.events.filter.spot = 0;
		prompt_close(&c->prompt);
		return;
	}
	idx = model_find(&c->model, text);
	if (idx == SITEMAP_NONE) {
		prompt_refuse(&c->prompt, _("No spot matches."), false);
		return;
	}
	c->model.events.filter.spot = c->model.map.spots[idx].id;
	c->events_top = 0;
	prompt_close(&c->prompt);
}

void console_override(struct console *c, size_t idx)
{
	char title[PROMPT_TITLE_LEN];

	if (!c->sess.staff) {
		console_say(c, true, _("Only an attendant may override a lock."));
		return;
	}
	if (!c->model.have_map || idx >= c->model.map.nspots) {
		console_say(c, true, _("Select a spot first."));
		return;
	}
	c->override_spot = c->model.map.spots[idx].id;
	snprintf(title, sizeof(title), _("Override %s: u unlock, l lock, Esc cancel"),
		 c->model.map.spots[idx].name);
	console_ask(c, PROMPT_OVERRIDE_OP, title, false);
}

static void console_override_op(struct console *c, const char *text)
{
	char title[PROMPT_TITLE_LEN], name[SITEMAP_NAME_MAX];

	if (strcmp(text, "u") != 0 && strcmp(text, "l") != 0 && strcmp(text, "U") != 0 &&
	    strcmp(text, "L") != 0) {
		prompt_refuse(&c->prompt, _("Press u to unlock or l to lock."), true);
		return;
	}
	snprintf(c->override_op, sizeof(c->override_op), "%s",
		 text[0] == 'u' || text[0] == 'U' ? "unlock" : "lock");
	console_spot_name(c, c->override_spot, name, sizeof(name));
	snprintf(title, sizeof(title), strcmp(c->override_op, "unlock") == 0 ?
		 _("Why unlock %s? (required, recorded)") : _("Why lock %s? (required, recorded)"),
		 name);
	console_ask(c, PROMPT_OVERRIDE_REASON, title, false);
}

static void console_override_reason(struct console *c, const char *text)
{
	char name[SITEMAP_NAME_MAX];
	struct action a;

	if (text_blank(text)) {
		prompt_refuse(&c->prompt, _("A reason is required."), true);
		return;
	}
	prompt_close(&c->prompt);
	console_spot_name(c, c->override_spot, name, sizeof(name));
	action_init(&a, strcmp(c->override_op, "unlock") == 0 ? ACTION_UNLOCK : ACTION_LOCK,
		    c->override_spot, name);
	snprintf(a.reason, sizeof(a.reason), "%s", text);
	console_act(c, &a);
	memset(&a, 0, sizeof(a));
}

/* ---- decisive actions: confirmation and one-time code ---- */

/* Runs c->action with the one-time code `code` (NULL: none) and acts on the answer. */
static void console_act_code(struct console *c, const char *code)
{
	struct apiclient_error err;
	char text[PROMPT_TITLE_LEN];
	enum action_result res;
	int r;

	memset(&err, 0, sizeof(err));
	r = session_act(&c->sess, &c->action, code, &err);
	res = action_result(r, &err);
	if (res != ACTION_DONE && res != ACTION_FAILED && c->prompt.purpose != PROMPT_OTP)
		console_ask(c, PROMPT_OTP, action_code_question(&c->action, text, sizeof(text)),
			    false);
	switch (res) {
	case ACTION_DONE:
		prompt_close(&c->prompt);
		if (console_screens[c->screen]->reload != NULL)
			console_screens[c->screen]->reload(c);
		console_say(c, false, "%s", action_done_message(&c->action, text, sizeof(text)));
		memset(&c->action, 0, sizeof(c->action));
		break;
	case ACTION_CODE_NEEDED:
		if (code != NULL)
			prompt_refuse(&c->prompt, _("The server wants a one-time code; type the "
						    "one your authenticator app shows."), true);
		break;
	case ACTION_CODE_WRONG:
		prompt_refuse(&c->prompt, _("Wrong code: type the one your authenticator app "
					    "shows now."), true);
		break;
	case ACTION_CODE_USED:
		prompt_refuse(&c->prompt, _("That code was used already: wait for the next one "
					    "and type it."), true);
		break;
	case ACTION_FAILED:
		prompt_close(&c->prompt);
		memset(&c->action, 0, sizeof(c->action));
		if (r == -APICLIENT_E_HTTP && err.status == 401)
			console_say(c, true, _("The server refused (%d %s): %s"), err.status,
				    err.code, err.detail);
		else
			console_say_error(c, r, &err);
		break;
	}
}

void console_act(struct console *c, const struct action *a)
{
	c->action = *a;
	console_act_code(c, NULL);
}

void console_confirm(struct console *c, const struct action *a, const char *question)
{
	c->action = *a;
	console_ask(c, PROMPT_CONFIRM, question, false);
}

static void console_confirmed(struct console *c, const char *text)
{
	prompt_close(&c->prompt);
	if (strcmp(text, "y") == 0 || strcmp(text, "Y") == 0) {
		console_act_code(c, NULL);
		return;
	}
	memset(&c->action, 0, sizeof(c->action));
	console_say(c, false, "%s", _("Nothing was changed."));
}

static void console_otp(struct console *c, const char *text)
{
	char code[ACTION_CODE_LEN];

	if (!action_code_parse(text, code)) {
		prompt_refuse(&c->prompt, _("A one-time code is six digits."), true);
		return;
	}
	console_act_code(c, code);
	OPENSSL_cleanse(code, sizeof(code));
}

static void console_ack_note(struct console *c, const char *text)
{
	const struct alarms_entry *a = alarms_selected(&c->model.alarms);
	struct apiclient_error err;
	json_object *list = NULL;
	bool lock_alarm;
	size_t spot;
	int64_t id;
	int r;

	if (a == NULL) {
		prompt_close(&c->prompt);
		return;
	}
	id = a->id;
	spot = c->model.have_map ? sitemap_spot_find(&c->model.map, a->spot) : SITEMAP_NONE;
	lock_alarm = strcmp(a->kind, "forced") == 0 || strcmp(a->kind, "jammed") == 0 ||
		strcmp(a->kind, "lockout") == 0;
	memset(&err, 0, sizeof(err));
	r = session_ack(&c->sess, id, text, &err);
	prompt_close(&c->prompt);
	if (r < 0) {
		console_say_error(c, r, &err);
		return;
	}
	alarms_remove(&c->model.alarms, id); /* a is gone with it */
	/* Seen: the map stops showing the lock's own alarm (forced, jammed, lockout). */
	if (spot != SITEMAP_NONE && lock_alarm)
		sitemap_spot_clear_alarm(&c->model.map, spot);
	console_say(c, false, _("Alarm %" PRId64 " acknowledged."), id);
	if (session_alarms(&c->sess, &list, &err) == 0)
		model_set_alarms(&c->model, list);
	json_object_put(list);
}

static void console_exit_phone(struct console *c, const char *text)
{
	if (text_blank(text) || strlen(text) >= sizeof(c->exit_phone)) {
		prompt_refuse(&c->prompt, _("Type the attendant's phone number."), true);
		return;
	}
	snprintf(c->exit_phone, sizeof(c->exit_phone), "%s", text);
	console_ask(c, PROMPT_EXIT_PASSWORD, _("Attendant's password"), true);
}

static void console_exit_password(struct console *c, const char *text)
{
	struct apiclient_error err;
	int64_t site = c->sess.site_id != 0 ? c->sess.site_id : c->cfg->site_id;
	int r;

	memset(&err, 0, sizeof(err));
	r = session_verify_staff(&c->api, c->exit_phone, text, site, &err);
	prompt_close(&c->prompt);
	if (r == 0) {
		c->quit = true;
		return;
	}
	if (r == -SESSION_E_NOTSTAFF)
		console_say(c, true, _("%s is not an attendant here; the console stays open."),
			    c->exit_phone);
	else
		console_say_error(c, r, &err);
}

static void (*const console_submit[PROMPT_PURPOSES])(struct console *, const char *) = {
	[PROMPT_FIND] = console_find,
	[PROMPT_FILTER_SPOT] = console_filter_spot,
	[PROMPT_OVERRIDE_OP] = console_override_op,
	[PROMPT_OVERRIDE_REASON] = console_override_reason,
	[PROMPT_ACK_NOTE] = console_ack_note,
	[PROMPT_EXIT_PHONE] = console_exit_phone,
	[PROMPT_EXIT_PASSWORD] = console_exit_password,
	[PROMPT_OTP] = console_otp,
	[PROMPT_CONFIRM] = console_confirmed,
};

/* A key while a prompt is open. */
static void console_prompt_key(struct console *c, unsigned long ch, bool fkey)
{
	enum prompt_result r = PROMPT_EDITING;
	char text[PROMPT_TEXT_LEN];

	if (fkey && (ch == KEY_BACKSPACE || ch == KEY_DC))
		r = prompt_edit(&c->prompt, PROMPT_KEY_BACKSPACE);
	else if (fkey && ch == KEY_ENTER)
		r = prompt_edit(&c->prompt, PROMPT_KEY_ENTER);
	else if (fkey)
		return;
	else if (ch == '\r' || ch == '\n')
		r = prompt_edit(&c->prompt, PROMPT_KEY_ENTER);
	else if (ch == CONSOLE_ESC)
		r = prompt_edit(&c->prompt, PROMPT_KEY_ESCAPE);
	else if (ch == 127 || ch == CONSOLE_CTRL('h'))
		r = prompt_edit(&c->prompt, PROMPT_KEY_BACKSPACE);
	else if (ch == CONSOLE_CTRL('u'))
		r = prompt_edit(&c->prompt, PROMPT_KEY_KILL);
	else
		r = prompt_type(&c->prompt, ch);
	if (r != PROMPT_SUBMITTED)
		return;
	snprintf(text, sizeof(text), "%s", c->prompt.text);
	c->prompt.error[0] = '\0';
	if (console_submit[c->prompt.purpose] != NULL)
		console_submit[c->prompt.purpose](c, text);
	else
		prompt_close(&c->prompt);
	memset(text, 0, sizeof(text));
}

/* ---- keys ---- */

/* q, F10, Ctrl-C: leave; in a kiosk only with an attendant's password. */
static void console_leave(struct console *c)
{
	if (!c->cfg->kiosk) {
		c->quit = true;
		return;
	}
	console_ask(c, PROMPT_EXIT_PHONE, _("To close the console: attendant's phone number"),
		    false);
}

static void console_suspend(struct console *c)
{
	if (c->cfg->kiosk)
		return;
	def_prog_mode();
	endwin();
	(void)raise(SIGSTOP);
	reset_prog_mode();
	clearok(curscr, TRUE);
}

static void console_help(struct console *c)
{
	console_show(c, SCREEN_HELP);
}

static void console_map(struct console *c)
{
	console_show(c, SCREEN_MAP);
}

static void console_events(struct console *c)
{
	console_show(c, SCREEN_EVENTS);
}

static void console_alarms(struct console *c)
{
	console_show(c, SCREEN_ALARMS);
}

static void console_requests(struct console *c)
{
	if (console_owner(c))
		console_show(c, SCREEN_REQUESTS);
}

static void console_members(struct console *c)
{
	if (console_owner(c))
		console_show(c, SCREEN_MEMBERS);
}

/* Tab: map, events, alarms, and for an owner share requests and members, round. */
static void console_next(struct console *c)
{
	static const enum screen_id order[] = {
		SCREEN_MAP, SCREEN_EVENTS, SCREEN_ALARMS, SCREEN_REQUESTS, SCREEN_MEMBERS,
	};
	size_t i, n = console_owner(c) ? 5 : 3;

	for (i = 0; i < n && order[i] != c->screen; i++)
		;
	console_show(c, order[i + 1 < n ? i + 1 : 0]);
}

static void console_back(struct console *c)
{
	if (c->screen != c->back)
		console_show(c, c->back);
}

static void console_logout_key(struct console *c)
{
	console_logout(c, _("Logged out."));
}

/* The keys that work on every screen once the screen has declined them (see the help). */
static const struct {
	unsigned long ch;
	bool fkey;       /* ch is a curses KEY_* code */
	bool logged_in;  /* only with a session */
	void (*act)(struct console *c);
} console_global_actions[] = {
	{ KEY_F(10), true, false, console_leave },
	{ KEY_F(1), true, false, console_help },
	{ '?', false, false, console_help },
	{ 'q', false, false, console_leave },
	{ '1', false, true, console_map },
	{ '2', false, true, console_events },
	{ '3', false, true, console_alarms },
	{ '4', false, true, console_requests },
	{ '5', false, true, console_members },
	{ '\t', false, true, console_next },
	{ CONSOLE_ESC, false, false, console_back },
	{ 'L', false, true, console_logout_key },
};

static void console_global_key(struct console *c, unsigned long ch, bool fkey)
{
	size_t i;

	for (i = 0; i < sizeof(console_global_actions) / sizeof(console_global_actions[0]); i++)
		if (console_global_actions[i].ch == ch && console_global_actions[i].fkey == fkey &&
		    (c->logged_in || !console_global_actions[i].logged_in)) {
			console_global_actions[i].act(c);
			return;
		}
}

static void console_key(struct console *c, unsigned long ch, bool fkey)
{
	if (fkey && ch == KEY_RESIZE)
		return; /* the next frame is drawn at the new size */
	if (!fkey && ch == CONSOLE_CTRL('l')) {
		clearok(curscr, TRUE);
		return;
	}
	if (!fkey && ch == CONSOLE_CTRL('c')) {
		if (!c->cfg->kiosk)
			c->quit = true;
		return;
	}
	if (!fkey && ch == CONSOLE_CTRL('z')) {
		console_suspend(c);
		return;
	}
	if (prompt_active(&c->prompt)) {
		console_prompt_key(c, ch, fkey);
		return;
	}
	if (!fkey && ch < 0x20 && ch != CONSOLE_ESC && ch != '\t' && ch != '\r' && ch != '\n' &&
	    ch != CONSOLE_CTRL('h') && ch != CONSOLE_CTRL('u'))
		return;
	if (!fkey || ch != KEY_F(10))
		c->message[0] = '\0';
	if (console_screens[c->screen]->key(c, ch, fkey))
		return;
	console_global_key(c, ch, fkey);
}

/* Reads every key waiting. */
static void console_keys(struct console *c)
{
	wint_t wc;
	int r;

	while ((r = get_wch(&wc)) != ERR) {
		c->last_key_ms = console_ms();
		console_key(c, (unsigned long)wc, r == KEY_CODE_YES);
		if (c->quit)
			return;
	}
}

/* ---- the live link ---- */

static void console_link(struct console *c, const struct live_msg *m)
{
	static const enum model_link links[] = {
		[LIVE_CONNECTING] = MODEL_CONNECTING,
		[LIVE_UP] = MODEL_LIVE,
		[LIVE_DOWN] = MODEL_DOWN,
		[LIVE_DENIED] = MODEL_DOWN,
	};

	if (m->state == LIVE_DENIED) {
		console_logout(c, _("The server ended the session; log in again."));
		return;
	}
	model_set_link(&c->model, links[m->state], m->detail, m->retry_ms, (int64_t)time(NULL));
}

/* True for a "share" event: a share of a followed spot was made or changed state. */
static bool console_is_share_news(const struct live_msg *m)
{
	json_object *kind;

	return m->kind == LIVE_EVENT && json_object_object_get_ex(m->json, "kind", &kind) &&
	       json_object_is_type(kind, json_type_string) &&
	       strcmp(json_object_get_string(kind), "share") == 0;
}

static void console_live(struct console *c)
{
	struct live_msg *list, *m;
	bool share_news = false;

	if (c->live == NULL)
		return;
	list = live_take(c->live);
	for (m = list; m != NULL && c->live != NULL; m = m->next) {
		share_news |= console_is_share_news(m);
		if (m->kind == LIVE_SITE && model_set_site(&c->model, m->json) != 0)
			console_say(c, true, _("The site's map cannot be shown: %s"),
				    c->model.map_error);
		else if (m->kind == LIVE_EVENT)
			(void)model_apply_event(&c->model, m->json);
		else if (m->kind == LIVE_SPOTS)
			(void)model_set_spots(&c->model, m->json);
		else if (m->kind == LIVE_ALARMS)
			model_set_alarms(&c->model, m->json);
		else if (m->kind == LIVE_LINK)
			console_link(c, m);
	}
	/* An owner's lists of requests and members follow the shares as they change. */
	if (share_news && c->live != NULL &&
	    (c->screen == SCREEN_REQUESTS || c->screen == SCREEN_MEMBERS))
		console_screens[c->screen]->reload(c);
	if (c->trace == NULL) {
		live_msg_free(list);
		return;
	}
	/* Traced once the frame that shows them is drawn (console_trace_drawn). */
	if (c->traced == NULL) {
		c->traced = list;
		return;
	}
	for (m = c->traced; m->next != NULL; m = m->next)
		;
	m->next = list;
}

/*
 * --trace: one line per event applied since the last frame, now that the frame showing
 * it is drawn: wall-clock ms (with microseconds), spot, kind, the lock's sequence. Only
 * what the stream said of the event; never the session or the user.
 */
static void console_trace_drawn(struct console *c)
{
	static const char kind_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
	struct eventlist_entry e;
	struct timespec ts;
	struct live_msg *m;

	if (c->traced == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	for (m = c->traced; m != NULL; m = m->next)
		if (m->kind == LIVE_EVENT && eventlist_parse(m->json, &e) == 0)
			fprintf(c->trace, "%lld.%06ld %" PRId64 " %s %" PRId64 "\n",
				(long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
				(long)(ts.tv_nsec % 1000000), e.spot,
				strspn(e.kind, kind_chars) == strlen(e.kind) ? e.kind : "?", e.seq);
	(void)fflush(c->trace);
	live_msg_free(c->traced);
	c->traced = NULL;
}

/* ---- the loop ---- */

/* Milliseconds poll() may sleep: until the idle logout, or for ever. */
static int console_timeout(const struct console *c)
{
	int64_t left;

	if (!c->logged_in || c->cfg->idle_logout_s <= 0)
		return -1;
	left = c->last_key_ms + (int64_t)c->cfg->idle_logout_s * 1000 - console_ms();
	return left < 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
}

static void console_idle(struct console *c)
{
	char why[CONSOLE_MESSAGE_LEN];

	if (console_timeout(c) != 0)
		return;
	snprintf(why, sizeof(why), _("Logged out after %ld s without a key."),
		 c->cfg->idle_logout_s);
	console_logout(c, why);
}

static void console_signal(struct console *c, int sigfd)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP ||
		    (si.ssi_signo == SIGINT && !c->cfg->kiosk))
			c->quit = true;
}

static void console_loop(struct console *c, int sigfd)
{
	struct pollfd p[3];
	nfds_t n;

	while (!c->quit) {
		frame_draw(c);
		console_trace_drawn(c);
		n = 0;
		p[n].fd = STDIN_FILENO;
		p[n++].events = POLLIN;
		p[n].fd = sigfd;
		p[n++].events = POLLIN;
		if (c->live != NULL) {
			p[n].fd = live_fd(c->live);
			p[n++].events = POLLIN;
		}
		if (poll(p, n, console_timeout(c)) < 0 && errno != EINTR)
			break;
		if (p[0].revents & (POLLHUP | POLLERR))
			break; /* the terminal has gone */
		console_keys(c);
		if (p[1].revents & POLLIN)
			console_signal(c, sigfd);
		if (c->live != NULL && n == 3 && (p[2].revents & POLLIN))
			console_live(c);
		console_idle(c);
	}
}

/* SIGTERM and SIGHUP (and SIGINT outside a kiosk) end the loop through a signalfd. */
static int console_signals(bool kiosk)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	if (kiosk) {
		signal(SIGINT, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
		signal(SIGTSTP, SIG_IGN);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (!kiosk)
		sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* --password-file: logs in once at start. */
static void console_auto_login(struct console *c)
{
	char pw[PROMPT_TEXT_LEN];
	FILE *f;
	size_t n;

	if (c->cfg->password_file[0] == '\0' || c->cfg->phone[0] == '\0')
		return;
	f = fopen(c->cfg->password_file, "r");
	if (f == NULL) {
		console_say(c, true, _("Cannot read the password file %s: %s"),
			    c->cfg->password_file, strerror(errno));
		return;
	}
	if (fgets(pw, sizeof(pw), f) == NULL)
		pw[0] = '\0';
	fclose(f);
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	(void)console_login(c, c->cfg->phone, pw);
	memset(pw, 0, sizeof(pw));
}

int console_run(const struct console_config *cfg)
{
	struct console *c = calloc(1, sizeof(*c));
	int sigfd, r = 1;

	if (c == NULL)
		return 1;
	c->cfg = cfg;
	c->api.base_url = cfg->server;
	c->api.ca_file = cfg->ca_file[0] != '\0' ? cfg->ca_file : NULL;
	c->ascii = cfg->ascii;
	model_init(&c->model);
	sigfd = console_signals(cfg->kiosk);
	if (sigfd < 0 || session_open(&c->sess, &c->api) != 0) {
		fprintf(stderr, _("parkconsole: cannot start (signals or the HTTP client); is "
				  "--server a http:// or https:// URL?\n"));
		goto out;
	}
	if (cfg->trace[0] != '\0' && (c->trace = fopen(cfg->trace, "ae")) == NULL) {
		fprintf(stderr, _("parkconsole: cannot open the trace file %s: %s\n"), cfg->trace,
			strerror(errno));
		goto out;
	}
	if (ui_start(cfg->mono, &c->colour) != 0) {
		fprintf(stderr, _("parkconsole: cannot use this terminal (TERM=%s); run it in a "
				  "terminal such as xterm or tmux.\n"), getenv("TERM") != NULL ?
			getenv("TERM") : "");
		goto out;
	}
	console_show(c, SCREEN_LOGIN);
	console_auto_login(c);
	console_loop(c, sigfd);
	ui_stop();
	r = 0;
out:
	if (c->logged_in)
		console_logout(c, NULL);
	session_close(&c->sess);
	model_free(&c->model);
	maptext_grid_free(&c->grid);
	prompt_close(&c->prompt);
	prompt_close(&c->login.phone);
	prompt_close(&c->login.password);
	live_msg_free(c->traced);
	if (c->trace != NULL)
		fclose(c->trace);
	if (sigfd >= 0)
		close(sigfd);
	free(c);
	return r;
}
