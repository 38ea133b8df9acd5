/*
 * account.h: accounts: registering a phone number with an SMS code, setting the
 * password (argon2id), logging in for a session, the first administrator, and a user's
 * roles. Everything here is HTTP-free; route-account.c maps its errors to replies.
 * Wrong codes and passwords are rate-limited per phone number and per client address.
 */
#ifndef PARK_ACCOUNT_H
#define PARK_ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "server.h"
#include "session.h"

#define ACCOUNT_PHONE_MAX 16    /* '+' and at most 15 digits (E.164) */
#define ACCOUNT_PASSWORD_MIN 8  /* bytes */
#define ACCOUNT_PASSWORD_MAX 256
#define ACCOUNT_CODE_DIGITS 6
#define ACCOUNT_CODE_TTL_S 600  /* a code is good for ten minutes */
#define ACCOUNT_CODE_TRIES 5    /* and for five guesses */

enum account_err {
	ACCOUNT_E_INTERNAL = 1,  /* database or crypto failure (logged) */
	ACCOUNT_E_RATE_LIMITED,  /* too many attempts: retry after res->retry_after s */
	ACCOUNT_E_SMS,           /* the SMS could not be sent */
	ACCOUNT_E_NO_CODE,       /* no live code for the phone: never asked, expired, or used */
	ACCOUNT_E_CODE_WRONG,    /* the code does not match (one try used) */
	ACCOUNT_E_CODE_TRIES,    /* the code's tries are used up: ask for a new one */
	ACCOUNT_E_CREDENTIALS,   /* unknown phone or wrong password (not told apart) */
	ACCOUNT_E_BAD_INPUT,     /* not E.164, not 6 digits, or a password out of bounds */
};

/* What a call produced; only the fields its contract names are set. */
struct account_result {
	int64_t user_id;
	bool created;                          /* verify: a new account, not a new password */
	char token[SESSION_TOKEN_HEX + 1];     /* login: the session token */
	int64_t expires_at;                    /* login: the session's absolute expiry */
	int64_t retry_after;                   /* ACCOUNT_E_RATE_LIMITED: seconds */
};

/* True for an E.164 number: '+', a non-zero digit, then 7 to 14 more digits. */
bool account_phone_valid(const char *phone);

/*
 * Sends a new 6-digit code to `phone` (replacing any earlier one), valid for
 * ACCOUNT_CODE_TTL_S and ACCOUNT_CODE_TRIES guesses. It does not tell whether the
 * number has an account. Codes sent are rate-limited per phone and per `peer` address.
 * Returns 0 or -ACCOUNT_E_* (BAD_INPUT, RATE_LIMITED, SMS, INTERNAL).
 */
int account_register(struct server *srv, const char *phone, const char *peer,
		     struct account_result *res);

/*
 * Checks `code` for `phone` and sets `password` (ACCOUNT_PASSWORD_MIN..MAX bytes): a
 * new account (res->created) or a new password for an existing one, whose sessions then
 * end. The code is used up. Returns 0 with res->user_id, or -ACCOUNT_E_* (BAD_INPUT,
 * RATE_LIMITED, NO_CODE, CODE_WRONG, CODE_TRIES, INTERNAL).
 */
int account_verify(struct server *srv, const char *phone, const char *code,
		   const char *password, const char *peer, struct account_result *res);

/*
 * Logs in: 0 with res->user_id, res->token and res->expires_at, or -ACCOUNT_E_*
 * (CREDENTIALS, RATE_LIMITED, INTERNAL). Takes the same time for an unknown phone as
 * for a wrong password.
 */
int account_login(struct server *srv, const char *phone, const char *password,
		  const char *peer, struct account_result *res);

/*
 * Makes `phone` a server-wide administrator with `password`, creating the account if
 * needed (no SMS: for `parkd admin-create` on the server's own console). Returns 0 with
 * res->user_id and res->created, or -ACCOUNT_E_* (BAD_INPUT, INTERNAL).
 */
int account_make_admin(struct server *srv, const char *phone, const char *password,
		       struct account_result *res);

/*
 * The roles of `user` as a JSON array of objects {"role": ..., "site_id"?, "spot_id"?}:
 * "driver" for everyone, "admin" for an administrator, then the rows of `roles`.
 * Returns 0 with *out (owned by the caller), or -DB_E_*.
 */
int account_roles(struct db *db, const struct auth_user *user, json_object **out);

/*
 * Deletes what has expired at `now`: codes, sessions, old rate-limit counters. For
 * start-up and housekeeping. 0 or -DB_E_*.
 */
int account_expire(struct server *srv, struct db *db, int64_t now);

#endif
