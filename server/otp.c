/*
 * otp.c: enrolment and checks of one-time codes; see otp.h. The secret is made with
 * OpenSSL's RAND_bytes, kept sealed by keywrap.c (label "otp:<user>") and unsealed only
 * for the moment of a check; the codes themselves are totp.c's. The replay guard is one
 * conditional UPDATE, so two requests with one code cannot both pass.
 */
#include "otp.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "../lib/log.h"
#include "json-field.h"
#include "keywrap.h"
#include "ratelimit.h"
#include "server.h"

#define OTP_SEALED_MAX (TOTP_SECRET_LEN + KEYWRAP_OVERHEAD + 16)
#define OTP_TRIES 3 /* write transactions tried when the database is busy */

static const struct ratelimit_rule otp_rule = { "otp-account", OTP_WRONG_MAX,
						 OTP_WRONG_WINDOW_S };

static int otp_err_of(int dbr)
{
	return dbr == -DB_E_BUSY ? -OTP_E_BUSY : -OTP_E_INTERNAL;
}

int otp_enrolled(struct db *db, int64_t user_id)
{
	struct db_stmt *st = db_prepare(db, "SELECT 1 FROM otp_secrets WHERE user_id = $1 "
					"AND secret IS NOT NULL");
	int r;

	if (st == NULL || db_bind_int(st, 1, user_id) != 0) {
		db_finalize(st);
		return -OTP_E_INTERNAL;
	}
	r = db_step(st);
	db_finalize(st);
	if (r < 0)
		return otp_err_of(r);
	return r == DB_ROW ? 1 : 0;
}

int otp_enrol(struct db *db, const uint8_t master[32], int64_t user_id, const char *phone,
	      int64_t now, char secret[TOTP_BASE32_MAX], char uri[OTP_URI_MAX])
{
	uint8_t raw[TOTP_SECRET_LEN], sealed[OTP_SEALED_MAX];
	char label[KEYWRAP_LABEL_MAX], who[40];
	const char *p;
	size_t n = 0;
	int len, r = -OTP_E_INTERNAL;

	secret[0] = uri[0] = '\0';
	if (RAND_bytes(raw, sizeof(raw)) != 1 || keywrap_label(label, "otp", user_id) != 0 ||
	    (len = keywrap_seal(master, label, raw, sizeof(raw), sealed, sizeof(sealed))) < 0 ||
	    totp_base32(raw, sizeof(raw), secret, TOTP_BASE32_MAX) < 0)
		goto out;
	/* The account name of the URI's label: the phone, its '+' percent-encoded. */
	for (p = phone; p != NULL && *p != '\0' && n + 4 < sizeof(who); p++) {
		if (*p == '+') {
			memcpy(who + n, "%2B", 3);
			n += 3;
		} else {
			who[n++] = *p;
		}
	}
	who[n] = '\0';
	snprintf(uri, OTP_URI_MAX, "otpauth://totp/Parking:%s?secret=%s&issuer=Parking&digits=%d"
		 "&period=%d", who, secret, TOTP_DIGITS, TOTP_PERIOD_S);
	r = db_exec(db, "INSERT INTO otp_secrets (user_id, pending, created_at) VALUES ($1, $2, "
		    "$3) ON CONFLICT (user_id) DO UPDATE SET pending = $2, created_at = $3", "ibi",
		    user_id, (const void *)sealed, (size_t)len, now);
	r = r == 0 ? 0 : otp_err_of(r);
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	if (r != 0) {
		OPENSSL_cleanse(secret, TOTP_BASE32_MAX);
		uri[0] = '\0';
	}
	return r;
}

/*
 * The user's secret (`pending` when asked, else the confirmed one), unsealed into
 * raw[0..TOTP_SECRET_LEN), with last_step. 1 found, 0 none, or -OTP_E_*.
 */
static int otp_load(struct db *db, const uint8_t master[32], int64_t user_id, bool pending,
		    uint8_t raw[TOTP_SECRET_LEN], uint64_t *last_step)
{
	char label[KEYWRAP_LABEL_MAX];
	struct db_stmt *st;
	const void *sealed;
	size_t len = 0;
	int r;

	st = db_prepare(db, pending ? "SELECT pending, last_step FROM otp_secrets WHERE "
			"user_id = $1 AND pending IS NOT NULL" : "SELECT secret, last_step FROM "
			"otp_secrets WHERE user_id = $1 AND secret IS NOT NULL");
	if (st == NULL || db_bind_int(st, 1, user_id) != 0) {
		db_finalize(st);
		return -OTP_E_INTERNAL;
	}
	r = db_step(st);
	if (r != DB_ROW) {
		db_finalize(st);
		return r == DB_DONE ? 0 : otp_err_of(r);
	}
	sealed = db_col_blob(st, 0, &len);
	*last_step = (uint64_t)db_col_int(st, 1);
	r = -OTP_E_INTERNAL;
	if (sealed != NULL && keywrap_label(label, "otp", user_id) == 0 &&
	    keywrap_open(master, label, sealed, len, raw, TOTP_SECRET_LEN) == TOTP_SECRET_LEN)
		r = 1;
	db_finalize(st);
	if (r != 1)
		log_error("otp: the secret of user %" PRId64 " does not open", user_id);
	return r;
}

/*
 * Counts the attempt, matches `code` against raw's window after last_step, and on a
 * match uses the step up and gives the attempt back. 0 with *step, or -OTP_E_*.
 */
static int otp_try(struct db *db, int64_t user_id, const uint8_t raw[TOTP_SECRET_LEN],
		   uint64_t last_step, const char *code, int64_t now, int64_t *retry_after,
		   uint64_t *step)
{
	char subject[24];
	int r;

	snprintf(subject, sizeof(subject), "%" PRId64, user_id);
	r = ratelimit_take(db, &otp_rule, subject, now, retry_after);
	if (r != 0)
		return r == 1 ? -OTP_E_RATE_LIMITED : otp_err_of(r);
	r = totp_match(raw, TOTP_SECRET_LEN, now, code, last_step, step);
	if (r < 0)
		return -OTP_E_INTERNAL;
	if (r == TOTP_NO_MATCH)
		return -OTP_E_WRONG;
	/* A replay is a right code used twice (a double submit, or an onlooker): not a guess. */
	if (ratelimit_give_back(db, &otp_rule, subject) != 0)
		return -OTP_E_INTERNAL;
	if (r == TOTP_REPLAYED)
		return -OTP_E_REPLAYED;
	r = db_exec(db, "UPDATE otp_secrets SET last_step = $2 WHERE user_id = $1 AND "
		    "last_step < $2", "ii", user_id, (int64_t)*step);
	if (r != 0)
		return otp_err_of(r);
	return db_changes(db) == 1 ? 0 : -OTP_E_REPLAYED;
}

int otp_confirm(struct db *db, const uint8_t master[32], int64_t user_id, const char *code,
		int64_t now, int64_t *retry_after)
{
	uint8_t raw[TOTP_SECRET_LEN];
	uint64_t last = 0, step = 0;
	int r;

	*retry_after = 0;
	r = otp_load(db, master, user_id, true, raw, &last);
	if (r <= 0)
		return r == 0 ? -OTP_E_NOT_PENDING : r;
	r = otp_try(db, user_id, raw, last, code, now, retry_after, &step);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (r != 0)
		return r;
	r = db_exec(db, "UPDATE otp_secrets SET secret = pending, pending = NULL, "
		    "confirmed_at = $2 WHERE user_id = $1", "ii", user_id, now);
	return r == 0 ? 0 : otp_err_of(r);
}

int otp_check(struct db *db, const uint8_t master[32], int64_t user_id, const char *code,
	      int64_t now, int64_t *retry_after)
{
	uint8_t raw[TOTP_SECRET_LEN];
	uint64_t last = 0, step = 0;
	int r;

	*retry_after = 0;
	r = otp_load(db, master, user_id, false, raw, &last);
	if (r <= 0)
		return r; /* not enrolled: 0, nothing to check */
	r = code == NULL ? -OTP_E_REQUIRED :
		otp_try(db, user_id, raw, last, code, now, retry_after, &step);
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

/* ---- requests ---- */

/* Parses a body the route left unparsed: NULL for an empty one, else an object or -1. */
static int otp_parse_body(struct http_request *req, struct http_reply *rep, json_object **out)
{
	*out = NULL;
	if (req->body == NULL || req->body_len == 0 ||
	    strspn((const char *)req->body, " \t\r\n") == req->body_len)
		return 0;
	if (req->body_len > HTTP_BODY_MAX) {
		http_reply_error(rep, 413, "body_too_large", "The body is larger than %d bytes.",
				 HTTP_BODY_MAX);
		return -1;
	}
	return http_json_object((const uint8_t *)req->body, req->body_len, out, rep);
}

int otp_request_code(struct http_request *req, struct http_reply *rep, const char **code)
{
	json_object *v;

	*code = NULL;
	if (req->json == NULL && otp_parse_body(req, rep, &req->json) != 0)
		return -1;
	/* The parsed body now belongs to the request: whoever frees req->json frees it. */
	if (req->json != NULL && json_object_object_get_ex(req->json, "otp", &v) &&
	    v != NULL) {
		if (!json_object_is_type(v, json_type_string)) {
			http_reply_error(rep, 400, "bad_field", "The field 'otp' must be the %d "
					 "digits of your authenticator app, as a string.",
					 TOTP_DIGITS);
			return -1;
		}
		*code = json_object_get_string(v);
		return 0;
	}
	*code = http_header(req, OTP_HEADER);
	return 0;
}

void otp_reply_error(struct http_reply *rep, int err, int64_t retry_after)
{
	switch (err) {
	case -OTP_E_REQUIRED:
		http_reply_error(rep, 401, "otp_required", "This needs a one-time code: send the "
				 "%d digits your authenticator app shows as \"otp\" in the body "
				 "or in the " OTP_HEADER " header.", TOTP_DIGITS);
		break;
	case -OTP_E_WRONG:
		http_reply_error(rep, 401, "otp_wrong", "The one-time code is wrong: check the "
				 "time on your phone and send the code your app shows now.");
		break;
	case -OTP_E_REPLAYED:
		http_reply_error(rep, 401, "otp_replayed", "This one-time code was used already: "
				 "wait for the next one (at most %d seconds).", TOTP_PERIOD_S);
		break;
	case -OTP_E_RATE_LIMITED:
		http_reply_error(rep, 429, "rate_limited", "Too many wrong one-time codes; wait "
				 "the seconds in Retry-After, then try again.");
		rep->retry_after = retry_after > 0 ? (int)retry_after : 1;
		break;
	case -OTP_E_NOT_PENDING:
		http_reply_error(rep, 409, "conflict", "There is no enrolment to confirm: enrol "
				 "first (POST /v1/otp/enrol).");
		break;
	case -OTP_E_BUSY:
		http_reply_error(rep, 503, "busy", "The database is busy; try again.");
		rep->retry_after = 1;
		break;
	default:
		http_reply_error(rep, 500, "internal", "The one-time code could not be checked; "
				 "try again.");
		break;
	}
}

int otp_guarded_write(struct server *srv, struct db *db, int64_t user_id, const char *code,
		      int (*fn)(struct db *db, void *ctx), void *ctx, int *fn_result,
		      int64_t *retry_after)
{
	int r = -OTP_E_BUSY, tries;

	*fn_result = 0;
	for (tries = 0; tries < OTP_TRIES && r == -OTP_E_BUSY; tries++) {
		server_write_begin(srv);
		if (db_begin(db) != 0) {
			server_write_end(srv);
			continue;
		}
		r = otp_check(db, server_master_key(srv), user_id, code, server_now(srv),
			      retry_after);
		if (r == 0) {
			*fn_result = fn(db, ctx);
			if (*fn_result == 0 && db_commit(db) != 0)
				r = -OTP_E_BUSY;
		} else if (r == -OTP_E_WRONG) {
			/* Keep the count and the trace; should the commit fail, the refusal stands. */
			server_audit(srv, db, user_id, "otp_wrong", "a wrong one-time code");
			db_commit(db);
		}
		if (r != 0 || *fn_result != 0)
			db_rollback(db);
		server_write_end(srv);
	}
	return r;
}
