/*
 * otp.h: one-time codes (TOTP, totp.h) as a second factor for decisive actions: a
 * user's enrolment (a secret made here, sealed under the master key, active once a code
 * from it is confirmed), and the check a route runs, inside its own write transaction,
 * before an enrolled user may approve or refuse a share, freeze, unfreeze or remove
 * one, revoke a key, change a spot's authorised list or override a lock. Each time step
 * is accepted once per user; wrong codes are rate-limited per account. No HTTP here but
 * reading the code from a request and the error replies.
 */
#ifndef PARK_OTP_H
#define PARK_OTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"
#include "totp.h"

#define OTP_WRONG_MAX 5          /* wrong codes per account ... */
#define OTP_WRONG_WINDOW_S 600   /* ... in this many seconds, then 429 */
#define OTP_HEADER "X-Park-OTP"  /* where a code may come instead of the body's "otp" */
#define OTP_URI_MAX 256

struct server;

enum otp_err {
	OTP_E_REQUIRED = 1,     /* enrolled, and no code given */
	OTP_E_WRONG = 2,        /* the code matches no step of the window (counted) */
	OTP_E_REPLAYED = 3,     /* the code's time step was accepted before */
	OTP_E_RATE_LIMITED = 4, /* too many wrong codes: wait */
	OTP_E_NOT_PENDING = 5,  /* confirm without an enrolment waiting */
	OTP_E_BUSY = 6,         /* the database is busy: retry the transaction */
	OTP_E_INTERNAL = 7,     /* storage or crypto failed */
};

/* 1 when the user has confirmed an enrolment, 0 when not, -OTP_E_* on a storage error. */
int otp_enrolled(struct db *db, int64_t user_id);

/*
 * Makes a new secret for `user_id` and stores it, sealed under `master`, as pending
 * (an active one stays active until the new one is confirmed). Runs in the caller's
 * transaction. Returns 0 with secret[0..TOTP_BASE32_MAX) its base32 text and uri the
 * otpauth:// URI for an authenticator app ("Parking:" and `phone`, '+' written %2B),
 * or -OTP_E_BUSY / -OTP_E_INTERNAL. The caller wipes `secret` after replying.
 */
int otp_enrol(struct db *db, const uint8_t master[32], int64_t user_id, const char *phone,
	      int64_t now, char secret[TOTP_BASE32_MAX], char uri[OTP_URI_MAX]);

/*
 * Confirms the pending secret with a code from it: it becomes the user's secret, and
 * the code's step is used up. Wrong codes count as for otp_check(). Runs in the
 * caller's transaction; on -OTP_E_WRONG the caller commits (the count must stay).
 * Returns 0, or -OTP_E_NOT_PENDING / WRONG / RATE_LIMITED (*retry_after set) / BUSY /
 * INTERNAL.
 */
int otp_confirm(struct db *db, const uint8_t master[32], int64_t user_id, const char *code,
		int64_t now, int64_t *retry_after);

/*
 * The check before a decisive action, in the action's write transaction, before it:
 * a user who is not enrolled passes (0). An enrolled user needs `code` (NULL: none
 * given): a code of a step within TOTP_WINDOW of now, not accepted before; it is then
 * used up (the action's rollback gives it back). Every code tried counts against
 * OTP_WRONG_MAX per OTP_WRONG_WINDOW_S, and a right one is given back. Returns 0, or
 * -OTP_E_REQUIRED / WRONG / REPLAYED / RATE_LIMITED (*retry_after set) / BUSY /
 * INTERNAL. On -OTP_E_WRONG the caller commits instead of rolling back, so that the
 * wrong code stays counted; the action has not run.
 */
int otp_check(struct db *db, const uint8_t master[32], int64_t user_id, const char *code,
	      int64_t now, int64_t *retry_after);

/*
 * The code a request carries: the body's "otp" (a string), else the X-Park-OTP header.
 * A body a route did not parse (it has no JSON flag) is parsed here when not empty.
 * Returns 0 with *code borrowed from the request (NULL when none), or -1 with a 400
 * reply set (bad_json, or bad_field for an "otp" that is not a string).
 */
int otp_request_code(struct http_request *req, struct http_reply *rep, const char **code);

/* Sets the error reply of -OTP_E_* `err` (401 otp_required / otp_wrong / otp_replayed,
 * 429 rate_limited with Retry-After, 409 conflict, 503 busy, 500 internal). */
void otp_reply_error(struct http_reply *rep, int err, int64_t retry_after);

/*
 * Runs fn(db, ctx) in one write transaction of `srv` (server_write_begin(), retried
 * while the database is busy) after otp_check() of `user_id`'s `code` (user_id 0 for a
 * route that asks for no code: nobody is user 0, so the check passes): fn's changes
 * are committed when it returns 0 and rolled back otherwise. Returns 0 with *fn_result
 * fn's return when fn ran, or -OTP_E_* (with *retry_after) when the check refused or
 * the transaction could not be had; fn did not run then. The body of a handler that
 * guards its write with a one-time code.
 */
int otp_guarded_write(struct server *srv, struct db *db, int64_t user_id, const char *code,
		      int (*fn)(struct db *db, void *ctx), void *ctx, int *fn_result,
		      int64_t *retry_after);

#endif
