/*
 * session.h: the console's user at parkd, for the UI thread: logging in and out, the
 * roles of GET /v1/me and the site they lead to, and the calls the screens make (a
 * spot's details and its keys and shares, the alarms, acknowledging one, the shares an
 * owner decides on, and the decisive actions of action.h). One API client, used by the
 * UI thread only (the live link has its own). It keeps the session token, never the
 * password.
 */
#ifndef PARK_TUI_SESSION_H
#define PARK_TUI_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "../lib/apiclient.h"
#include "action.h"

#define SESSION_TOKEN_LEN 256
#define SESSION_PHONE_LEN 32
#define SESSION_SITES_MAX 32
#define SESSION_SPOTS_MAX 64

/* Errors, returned negated; the apiclient's (-APICLIENT_E_*) pass through as they are. */
enum session_err {
	SESSION_E_NOSITE = 10,   /* no site to show: give --site */
	SESSION_E_NOTSTAFF = 11, /* the user is not an attendant or administrator of the site */
};

/* What GET /v1/me says about the user. */
struct session_roles {
	int64_t user_id;
	bool admin;                              /* a server administrator */
	int64_t staff[SESSION_SITES_MAX];        /* sites where an attendant or administrator */
	size_t nstaff;
	int64_t owned[SESSION_SPOTS_MAX];        /* spots owned */
	size_t nowned;
};

struct session {
	struct apiclient *api;
	char token[SESSION_TOKEN_LEN];           /* "" when logged out */
	char phone[SESSION_PHONE_LEN];
	struct session_roles roles;
	int64_t site_id;                         /* the site shown, after session_pick_site() */
	bool staff;                              /* may watch all of site_id, override, ack */
};

struct session_opts {
	const char *base_url;  /* required */
	const char *ca_file;   /* or NULL for the system's */
	long timeout_ms;       /* per request; 0: 10000 */
};

/*
 * Makes s's API client (logged out). Returns 0, or -1 when the URL is not http(s)://
 * or libcurl cannot start.
 */
int session_open(struct session *s, const struct session_opts *o);

/* Logs out (when logged in), frees the client, wipes the token. */
void session_close(struct session *s);

/*
 * Parses GET /v1/me's reply into *out. Roles with unknown names are ignored; lists past
 * their maximum are cut. Returns 0, or -1 when `me` has no integer user_id or no roles
 * array.
 */
int session_roles_parse(json_object *me, struct session_roles *out);

/* Whether the roles make the user staff (attendant or administrator) of site_id. */
bool session_roles_staff(const struct session_roles *r, int64_t site_id);

/*
 * POST /v1/sessions with phone and password, then GET /v1/me. Returns 0 (logged in, the
 * roles read), or a negative error with *err saying what happened (401: wrong phone or
 * password).
 */
int session_login(struct session *s, const char *phone, const char *password,
		  struct apiclient_error *err);

/*
 * Chooses the site to show: `wanted` when it is not 0, else the first site the user is
 * staff of, else the site of the first spot they own (GET /v1/spots/ID), else for a
 * server administrator the site of the first spot listed. Sets s->site_id and
 * s->staff. Returns 0, -SESSION_E_NOSITE, or an API error with *err set.
 */
int session_pick_site(struct session *s, int64_t wanted, struct apiclient_error *err);

/* DELETE /v1/sessions/current (errors ignored) and forgets the token and roles. */
void session_logout(struct session *s);

/* GET /v1/spots/{id} into *out (the caller frees it). 0 or a negative error. */
int session_spot(struct session *s, int64_t spot, json_object **out,
		 struct apiclient_error *err);

/* GET /v1/sites/{site}/alarms into *out. 0 or a negative error. */
int session_alarms(struct session *s, json_object **out, struct apiclient_error *err);

/* POST /v1/sites/{site}/alarms/{id}/ack {"note": note}. 0 or a negative error. */
int session_ack(struct session *s, int64_t alarm_id, const char *note,
		struct apiclient_error *err);

/*
 * GET /v1/spots/{id}/keys (every key and share on the spot: its owner and the site's
 * staff) into *out, which the caller frees. 0 or a negative error (403 for others).
 */
int session_spot_keys(struct session *s, int64_t spot, json_object **out,
		      struct apiclient_error *err);

/* GET /v1/shares (made by, to, and on the spots of the user) into *out. 0 or an error. */
int session_shares(struct session *s, json_object **out, struct apiclient_error *err);

/*
 * Runs decisive action a (action.h: a share decided on, a key revoked, an override),
 * with the one-time code `code` (NULL: none). Returns the HTTP status (2xx) or a
 * negative error with *err set; action_result() says whether the server wants a code.
 * For an override the caller has checked the reason is not blank.
 */
int session_act(struct session *s, const struct action *a, const char *code,
		struct apiclient_error *err);

/*
 * Whether phone/password belong to staff of site_id (0: of any site), asked of the
 * server with a session of their own (ended at once). Returns 0 (yes), -SESSION_E_NOTSTAFF, or an API error
 * (401: wrong phone or password) with *err set.
 */
int session_verify_staff(const struct session_opts *o, const char *phone,
			 const char *password, int64_t site_id, struct apiclient_error *err);

#endif
