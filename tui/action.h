/*
 * action.h: the decisive actions of the console, those the server may guard with the
 * user's one-time code (server/API.md, POST /v1/otp/confirm): an owner approves,
 * refuses, freezes, unfreezes or removes a share or revokes a key; an attendant
 * overrides a lock. One table row per action: its request, its question for the code,
 * its news once done. Whether an answer asks for a code, and whether a typed code looks
 * like one, are decided here too. No curses and no I/O: session.c sends the requests,
 * console.c asks and tells.
 */
#ifndef PARK_TUI_ACTION_H
#define PARK_TUI_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "../lib/apiclient.h"

#define ACTION_REASON_LEN 256 /* bytes of an override's reason, the NUL included */
#define ACTION_WHAT_LEN 96
#define ACTION_CODE_LEN 7     /* six digits and the NUL */
#define ACTION_PATH_LEN 96

enum action_kind {
	ACTION_APPROVE,   /* share: POST /v1/shares/{id}/approve */
	ACTION_DENY,      /* share: POST /v1/shares/{id}/deny */
	ACTION_FREEZE,    /* share: POST /v1/shares/{id}/freeze */
	ACTION_UNFREEZE,  /* share: POST /v1/shares/{id}/unfreeze */
	ACTION_REMOVE,    /* share: DELETE /v1/shares/{id} */
	ACTION_REVOKE,    /* key: POST /v1/keys/{id}/revoke */
	ACTION_UNLOCK,    /* spot: POST /v1/spots/{id}/override {"op":"unlock","reason"} */
	ACTION_LOCK,      /* spot: the same with "op":"lock" */
	ACTION_KINDS
};

struct action {
	enum action_kind kind;
	int64_t id;                      /* the share, key or spot acted on, >= 1 */
	char reason[ACTION_REASON_LEN];  /* ACTION_UNLOCK, ACTION_LOCK: why (not blank) */
	char what[ACTION_WHAT_LEN];      /* how messages name the target ("share 15", "B1-01") */
};

/* How an answer to an action came out. */
enum action_result {
	ACTION_DONE,         /* 2xx */
	ACTION_CODE_NEEDED,  /* 401 otp_required: the user is enrolled; ask for a code */
	ACTION_CODE_WRONG,   /* 401 otp_wrong: ask again */
	ACTION_CODE_USED,    /* 401 otp_replayed: that time step's code was used; the next one */
	ACTION_FAILED,       /* anything else: the error says why */
};

/* Fills *a for `kind` on `id`, named `what` (copied, cut to fit); reason "". */
void action_init(struct action *a, enum action_kind kind, int64_t id, const char *what);

/*
 * The request of action a: *method (static), the path into path[0..cap), and *body, a
 * new object the caller puts ({"op","reason"} for an override, else {}), with "otp":
 * code when code is not NULL. Returns 0, or -1 for a kind out of range or a path that
 * does not fit.
 */
int action_request(const struct action *a, const char *code, const char **method, char *path,
		   size_t cap, json_object **body);

/* What an answer means: r is apiclient_call()'s return (>= 0 a 2xx status), err its error. */
enum action_result action_result(int r, const struct apiclient_error *err);

/*
 * Whether `text` is a one-time code as a user types it: six ASCII digits, spaces
 * anywhere ignored ("123 456"). On true the digits are in code. text may be NULL.
 */
bool action_code_parse(const char *text, char code[ACTION_CODE_LEN]);

/* The question for the code, translated, with a->what in it, into buf. Returns buf. */
const char *action_code_question(const struct action *a, char *buf, size_t cap);

/* The news once a is done, translated, with a->what in it, into buf. Returns buf. */
const char *action_done_message(const struct action *a, char *buf, size_t cap);

#endif
