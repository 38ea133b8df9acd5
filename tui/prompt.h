/*
 * prompt.h: a one-line text field: what the console asks for (a search, a reason for an
 * override, a note, a phone number, a password, a one-time code, a yes or no) as the
 * user types it, UTF-8, with a purpose that says what to do with it once submitted.
 * Pure data and editing, no curses: the console maps its keys to prompt_type() and
 * prompt_edit() and draws the result.
 */
#ifndef PARK_TUI_PROMPT_H
#define PARK_TUI_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#define PROMPT_TEXT_LEN 256   /* bytes of typed UTF-8, the NUL included */
#define PROMPT_TITLE_LEN 192
#define PROMPT_ERROR_LEN 192

/* What the submitted text is for; the console has one action per purpose. */
enum prompt_purpose {
	PROMPT_NONE = 0,        /* no prompt open */
	PROMPT_FIND,            /* a spot name, ID or owner to find on the map */
	PROMPT_FILTER_SPOT,     /* the events screen's spot filter */
	PROMPT_OVERRIDE_OP,     /* one key: u (unlock) or l (lock) */
	PROMPT_OVERRIDE_REASON, /* why, required, audited */
	PROMPT_ACK_NOTE,        /* a note for an acknowledged alarm */
	PROMPT_EXIT_PHONE,      /* kiosk: the attendant who lets the console close */
	PROMPT_EXIT_PASSWORD,
	PROMPT_OTP,             /* a one-time code for a decisive action (action.h) */
	PROMPT_CONFIRM,         /* one key: y does the decisive action, anything else not */
	PROMPT_PURPOSES
};

struct prompt {
	enum prompt_purpose purpose;
	char title[PROMPT_TITLE_LEN];  /* the question, translated */
	char text[PROMPT_TEXT_LEN];    /* what was typed */
	char error[PROMPT_ERROR_LEN];  /* why the last submission was refused, or "" */
	bool secret;                   /* shown as '*' */
	bool one_key;                  /* submitted by any single character (PROMPT_OVERRIDE_OP,
					* PROMPT_CONFIRM) */
};

enum prompt_result {
	PROMPT_EDITING,   /* still typing */
	PROMPT_SUBMITTED, /* Enter (or the one key): act on text */
	PROMPT_CANCELLED, /* Esc: closed, text wiped */
};

enum prompt_edit_key {
	PROMPT_KEY_ENTER,
	PROMPT_KEY_ESCAPE,
	PROMPT_KEY_BACKSPACE,
	PROMPT_KEY_KILL,   /* Ctrl-U: clear the line */
};

/* Opens p for `purpose` with the question `title` (copied), empty text. */
void prompt_open(struct prompt *p, enum prompt_purpose purpose, const char *title, bool secret);

/* Closes p (purpose PROMPT_NONE) and wipes what was typed. */
void prompt_close(struct prompt *p);

/* Whether a prompt is open. */
bool prompt_active(const struct prompt *p);

/*
 * A typed character (a Unicode code point). Control characters and characters that do
 * not fit are ignored. Returns PROMPT_SUBMITTED at once for a one-key prompt (text then
 * holds that character), else PROMPT_EDITING.
 */
enum prompt_result prompt_type(struct prompt *p, unsigned long wc);

/* An editing key. Escape closes the prompt (PROMPT_CANCELLED). */
enum prompt_result prompt_edit(struct prompt *p, enum prompt_edit_key key);

/* Sets the refusal shown under the field (copied) and clears the text when `clear`. */
void prompt_refuse(struct prompt *p, const char *error, bool clear);

#endif
