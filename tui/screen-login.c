/*
 * screen-login.c: the login screen: phone number and password typed into a form (or
 * --phone and --password-file at start), checked by the server. Also where an idle
 * kiosk returns. The password is wiped from the form once sent.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "frame.h"
#include "i18n.h"
#include "text.h"
#include "ui.h"

#define LOGIN_COLS 64
#define LOGIN_ROWS 14

static const struct screen_key login_keys[] = {
	{ "Tab", N_("next field"), SCREEN_KEY_ANYONE },
	{ "Enter", N_("log in"), SCREEN_KEY_ANYONE },
	{ "F1", N_("help"), SCREEN_KEY_ANYONE },
	{ "F10", N_("quit"), SCREEN_KEY_ANYONE },
};

static void login_enter(struct console *c)
{
	struct console_login *l = &c->login;

	if (l->phone.purpose == PROMPT_NONE) {
		prompt_open(&l->phone, PROMPT_EXIT_PHONE, "", false);
		snprintf(l->phone.text, sizeof(l->phone.text), "%s", c->cfg->phone);
	}
	prompt_open(&l->password, PROMPT_EXIT_PASSWORD, "", true);
	l->field = l->phone.text[0] != '\0' ? 1 : 0;
}

static void login_field(struct console *c, int y, int x, int cols, const char *label,
			const struct prompt *p, bool focus)
{
	char shown[PROMPT_TEXT_LEN];
	size_t i, n;
	int w;

	ui_text(c->colour, y, x, 12, label, focus ? UI_HEADING : UI_NORMAL);
	if (p->secret) {
		n = strlen(p->text) < sizeof(shown) - 1 ? strlen(p->text) : sizeof(shown) - 1;
		for (i = 0; i < n; i++)
			shown[i] = '*';
		shown[n] = '\0';
	} else {
		snprintf(shown, sizeof(shown), "%s", p->text);
	}
	ui_fill(c->colour, y, x + 12, cols - 12, focus ? UI_SELECTED : UI_DIM);
	w = ui_text_attr(y, x + 12, cols - 13, shown, ui_attr(c->colour, focus ? UI_SELECTED :
								 UI_NORMAL));
	if (focus)
		ui_text_attr(y, x + 12 + w, 1, "_", ui_attr(c->colour, UI_SELECTED) | A_BOLD);
}

static void login_draw(struct console *c, int top, int rows)
{
	struct console_login *l = &c->login;
	int x = (COLS - LOGIN_COLS) / 2, y = top + (rows - LOGIN_ROWS) / 2;
	char line[CONSOLE_MESSAGE_LEN];

	ui_box(c->colour, y, x, LOGIN_ROWS, LOGIN_COLS, c->cfg->kiosk ?
	       _("Garage console (kiosk): log in") : _("Garage console: log in"));
	snprintf(line, sizeof(line), _("Server: %s"), c->cfg->server);
	ui_text(c->colour, y + 2, x + 3, LOGIN_COLS - 6, line, UI_DIM);
	login_field(c, y + 4, x + 3, LOGIN_COLS - 6, _("Phone"), &l->phone, l->field == 0);
	login_field(c, y + 6, x + 3, LOGIN_COLS - 6, _("Password"), &l->password, l->field == 1);
	if (c->message[0] != '\0')
		frame_wrap(c, y + 8, x + 3, LOGIN_COLS - 6, 4, c->message,
			   c->message_error ? UI_ERROR : UI_WARN);
	else
		ui_text(c->colour, y + 8, x + 3, LOGIN_COLS - 6,
			_("Attendants see the whole garage; owners see their spots."), UI_DIM);
}

static void login_submit(struct console *c)
{
	struct console_login *l = &c->login;
	char phone[PROMPT_TEXT_LEN];

	if (text_blank(l->phone.text)) {
		l->field = 0;
		console_say(c, true, _("Type your phone number, e.g. +8613800000001."));
		return;
	}
	if (l->password.text[0] == '\0') {
		l->field = 1;
		console_say(c, true, _("Type your password."));
		return;
	}
	console_say(c, false, _("Logging in..."));
	frame_draw(c);
	snprintf(phone, sizeof(phone), "%s", l->phone.text);
	if (console_login(c, phone, l->password.text) != 0)
		l->field = 1;
	prompt_edit(&l->password, PROMPT_KEY_KILL);
}

static bool login_key(struct console *c, unsigned long ch, bool fkey)
{
	struct console_login *l = &c->login;
	struct prompt *p = l->field == 0 ? &l->phone : &l->password;

	if (fkey && (ch == KEY_UP || ch == KEY_DOWN || ch == KEY_BTAB)) {
		l->field = !l->field;
	} else if (fkey && (ch == KEY_BACKSPACE || ch == KEY_DC)) {
		prompt_edit(p, PROMPT_KEY_BACKSPACE);
	} else if (fkey && ch == KEY_ENTER) {
		return login_key(c, '\r', false);
	} else if (fkey) {
		return false;
	} else if (ch == '\t') {
		l->field = !l->field;
	} else if (ch == '\r' || ch == '\n') {
		if (l->field == 0)
			l->field = 1;
		else
			login_submit(c);
	} else if (ch == 127 || ch == 8) {
		prompt_edit(p, PROMPT_KEY_BACKSPACE);
	} else if (ch == 21) {
		prompt_edit(p, PROMPT_KEY_KILL);
	} else if (ch >= 0x20) {
		prompt_type(p, ch);
	} else {
		return false;
	}
	return true;
}

const struct screen screen_login = {
	.title = N_("Log in"),
	.enter = login_enter,
	.draw = login_draw,
	.key = login_key,
	.keys = login_keys,
	.nkeys = sizeof(login_keys) / sizeof(login_keys[0]),
};
