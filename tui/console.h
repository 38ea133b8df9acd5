/*
 * console.h: parkconsole's state and its screens. One struct console holds everything
 * the program knows (configuration, session, model, live link, the open prompt, each
 * screen's own few fields); one variable picks the screen, and each screen is a module
 * (screen-*.c) with its draw and key functions and its row of keys, listed in one
 * table (console_screens). console.c runs the loop; ui.c paints.
 */
#ifndef PARK_TUI_CONSOLE_H
#define PARK_TUI_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "../lib/maptext.h"
#include "action.h"
#include "holders.h"
#include "live.h"
#include "model.h"
#include "prompt.h"
#include "session.h"

#define CONSOLE_PATH_LEN 512
#define CONSOLE_PHONE_LEN 32
#define CONSOLE_MESSAGE_LEN 320
#define CONSOLE_MIN_COLS 80
#define CONSOLE_MIN_ROWS 24

/* The program's configuration, from the command line; read-only after start-up. */
struct console_config {
	char server[CONSOLE_PATH_LEN];        /* base URL, required */
	char ca_file[CONSOLE_PATH_LEN];       /* "" for the system's CAs */
	char phone[CONSOLE_PHONE_LEN];        /* "" to ask */
	char password_file[CONSOLE_PATH_LEN]; /* "" to ask */
	char localedir[CONSOLE_PATH_LEN];
	int64_t site_id;                      /* 0: from the user's roles */
	bool kiosk;
	long idle_logout_s;                   /* 0: never */
	bool mono;                            /* no colours even where the terminal has them */
	bool ascii;                           /* ASCII map symbols even in a UTF-8 locale */
	char trace[CONSOLE_PATH_LEN];         /* --trace FILE (a diagnostic), or "" */
};

enum screen_id {
	SCREEN_LOGIN,
	SCREEN_MAP,
	SCREEN_SPOT,
	SCREEN_EVENTS,
	SCREEN_ALARMS,
	SCREEN_REQUESTS,   /* an owner's share requests waiting for approval */
	SCREEN_MEMBERS,    /* an owner's key holders and share members */
	SCREEN_HELP,
	SCREEN_COUNT
};

/* Whom a key is shown to (and works for). */
enum screen_key_user {
	SCREEN_KEY_ANYONE,
	SCREEN_KEY_STAFF,  /* attendants and administrators of the site */
	SCREEN_KEY_OWNER,  /* spot owners */
};

/* A key of a screen: its label on the key bar and what it does (both N_() marked). */
struct screen_key {
	const char *key;
	const char *what;
	enum screen_key_user user;
};

struct console;

/* A screen. `key` gets a character (fkey false) or a curses KEY_* code (fkey true). */
struct screen {
	const char *title;                                   /* N_() marked */
	void (*enter)(struct console *c);                    /* on becoming current; or NULL */
	void (*draw)(struct console *c, int top, int rows);  /* rows top .. top+rows-1 */
	bool (*key)(struct console *c, unsigned long ch, bool fkey); /* true: handled */
	const struct screen_key *keys;
	size_t nkeys;
	void (*reload)(struct console *c); /* after a decisive action was done; or NULL */
};

extern const struct screen screen_login, screen_map, screen_spot, screen_events,
	screen_alarms, screen_requests, screen_members, screen_help;

/* The screens by enum screen_id. */
extern const struct screen *const console_screens[SCREEN_COUNT];

/* The keys that work on every screen, for the help screen. */
extern const struct screen_key console_global_keys[];
extern const size_t console_global_nkeys;

/* The login screen's form. */
struct console_login {
	struct prompt phone, password;
	int field;                      /* 0 phone, 1 password */
	bool auto_tried;                /* --password-file has been used once */
};

/* The spot screen's details, read when it opens. */
struct console_spot {
	int64_t id;
	json_object *detail;            /* GET /v1/spots/{id}, or NULL */
	char error[CONSOLE_MESSAGE_LEN];
	struct holders keys;            /* GET /v1/spots/{id}/keys: every key and share */
	char keys_error[CONSOLE_MESSAGE_LEN]; /* why they are not shown, or "" */
	size_t keys_top;                /* the first row of them shown */
};

/* A list of an owner's screen (requests, members), read when it opens and on r. */
struct console_list {
	struct holders list;
	char error[CONSOLE_MESSAGE_LEN]; /* why (some of) it could not be read, or "" */
};

struct console {
	const struct console_config *cfg;
	struct session_opts api;
	struct session sess;
	bool logged_in;
	struct model model;
	struct live *live;
	enum screen_id screen;
	enum screen_id back;            /* where Esc goes from the spot and help screens */
	struct prompt prompt;           /* a question over the screen, when open */
	char message[CONSOLE_MESSAGE_LEN]; /* the status line's news, or "" */
	bool message_error;
	int64_t last_key_ms;            /* monotonic ms of the last key, for --idle-logout */
	bool quit;
	bool colour;                    /* the terminal shows colours and --mono is off */
	bool ascii;                     /* the map's ASCII symbols */
	struct console_login login;
	struct console_spot spot;
	size_t events_top;              /* the events screen's first row shown (0: newest) */
	size_t help_top;                /* the help screen's first row shown */
	char find_last[PROMPT_TEXT_LEN]; /* the map's last search, for n (next) */
	int64_t override_spot;          /* the spot an override prompt is about */
	char override_op[8];            /* "unlock" or "lock" */
	struct action action;           /* the decisive action being confirmed or given a code */
	struct console_list requests;   /* SCREEN_REQUESTS */
	struct console_list members;    /* SCREEN_MEMBERS */
	char exit_phone[CONSOLE_PHONE_LEN];
	struct maptext_grid grid;       /* the map screen's layout, sized to the screen */
	bool grid_ok;
	FILE *trace;                    /* --trace: open for appending, or NULL */
	struct live_msg *traced;        /* --trace: taken from the link, not yet drawn */
};

/*
 * Runs the console on the terminal until the user leaves: the login, the screens, the
 * live link. Returns the exit status (0, or 1 when the terminal cannot be used).
 */
int console_run(const struct console_config *cfg);

/* ---- for the screens ---- */

/* Makes `id` the current screen (running its enter hook). */
void console_show(struct console *c, enum screen_id id);

/* Sets the status line's message (printf-style, already translated); error: shown as one. */
void console_say(struct console *c, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Opens a prompt over the screen. */
void console_ask(struct console *c, enum prompt_purpose purpose, const char *title,
		 bool secret);

/* Logs in with phone and password: the session, the site, the live link. 0 or -1 (said). */
int console_login(struct console *c, const char *phone, const char *password);

/* Ends the session and the live link and shows the login screen with `why` (may be NULL). */
void console_logout(struct console *c, const char *why);

/* Starts an override of spot index idx (attendants): asks unlock or lock, then why. */
void console_override(struct console *c, size_t idx);

/*
 * Runs decisive action a (copied): when the server asks for the user's one-time code,
 * asks for it in a prompt and runs it again with the code (a wrong one asked again);
 * once done, says so and reloads the current screen (its reload hook).
 */
void console_act(struct console *c, const struct action *a);

/* Asks `question` (y: yes, any other key: no) before console_act(c, a). */
void console_confirm(struct console *c, const struct action *a, const char *question);

/* Says why a request failed (r and *err from the API client), in words a user can act on. */
void console_say_error(struct console *c, int r, const struct apiclient_error *err);

/* Whether the user owns a spot (and so has the owner's screens). */
bool console_owner(const struct console *c);

/* Whether key k of a screen's table is shown to (and works for) this user. */
bool console_key_shown(const struct console *c, const struct screen_key *k);

/* The name of spot `id` when the map has it, else its number, into buf. Returns buf. */
const char *console_spot_name(const struct console *c, int64_t id, char *buf, size_t cap);

/* The translated label of an event or alarm kind ("car_arrived" -> "car arrived"). */
const char *console_kind_label(const char *kind);

#endif
