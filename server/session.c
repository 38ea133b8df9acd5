/*
 * session.c: session tokens and their rows in `sessions`. Tokens exist in clear only in
 * the reply to a login and in the client's requests; the row is found by the token's
 * hash, which an attacker cannot steer, so the index lookup leaks nothing useful.
 */
#include "session.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "../lib/hex.h"
#include "../lib/p256.h"

/* SHA-256 of the token's bytes; -1 when `token` is not 64 hex digits. */
static int session_hash(const char *token, uint8_t hash[32])
{
	uint8_t raw[SESSION_TOKEN_BYTES];
	int r = -1;

	if (token == NULL || strlen(token) != SESSION_TOKEN_HEX ||
	    hex_decode(token, raw, sizeof(raw)) != SESSION_TOKEN_BYTES)
		goto out;
	r = p256_sha256(raw, sizeof(raw), hash);
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

int session_create(struct db *db, const struct config *cfg, int64_t user_id, int64_t now,
		   char token[SESSION_TOKEN_HEX + 1], int64_t *expires_at)
{
	uint8_t raw[SESSION_TOKEN_BYTES], hash[32];
	int r = -DB_E_IO;

	if (RAND_bytes(raw, sizeof(raw)) != 1 || p256_sha256(raw, sizeof(raw), hash) != 0)
		goto out;
	r = db_exec(db, "INSERT INTO sessions (token_hash, user_id, created_at, last_seen, "
		    "expires_at) VALUES ($1, $2, $3, $3, $4)", "biii", hash, sizeof(hash),
		    user_id, now, now + cfg->session_max_s);
	if (r != 0)
		goto out;
	(void)hex_encode(raw, sizeof(raw), token, SESSION_TOKEN_HEX + 1);
	*expires_at = now + cfg->session_max_s;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

int session_upkeep(struct db *db, const struct session_upkeep *u)
{
	/* Still expired when the drop runs: a use recorded since (a touch) keeps it. */
	if (u->kind == SESSION_DROP)
		return db_exec(db, "DELETE FROM sessions WHERE token_hash = $1 AND "
			       "(expires_at <= $2 OR last_seen <= $3)", "bii", u->token_hash,
			       sizeof(u->token_hash), u->now, u->idle_before);
	if (u->kind == SESSION_TOUCH)
		return db_exec(db, "UPDATE sessions SET last_seen = $1 WHERE token_hash = $2",
			       "ib", u->now, u->token_hash, sizeof(u->token_hash));
	return 0;
}

int session_lookup(struct db *db, const struct config *cfg, int64_t now, const char *token,
		   struct auth_user *out, struct session_upkeep *upkeep)
{
	struct session_upkeep here;
	struct session_upkeep *u = upkeep != NULL ? upkeep : &here;
	struct db_stmt *st = NULL;
	const char *phone;
	uint8_t *hash = u->token_hash;
	int64_t last_seen, expires_at;
	int r = -DB_E_NOTFOUND;

	memset(u, 0, sizeof(*u));
	u->kind = SESSION_KEEP;
	u->now = now;
	u->idle_before = now - cfg->session_idle_s;
	if (session_hash(token, hash) != 0)
		goto out;
	r = -DB_E_IO;
	st = db_prepare(db, "SELECT s.user_id, s.last_seen, s.expires_at, u.phone, u.admin "
			"FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1");
	if (st == NULL || db_bind_blob(st, 1, hash, sizeof(u->token_hash)) != 0)
		goto out;
	r = db_step(st);
	if (r != DB_ROW) {
		r = r < 0 ? r : -DB_E_NOTFOUND;
		goto out;
	}
	last_seen = db_col_int(st, 1);
	expires_at = db_col_int(st, 2);
	if (now >= expires_at || now - last_seen >= cfg->session_idle_s) {
		u->kind = SESSION_DROP;
		r = -DB_E_NOTFOUND;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	out->user_id = db_col_int(st, 0);
	phone = db_col_text(st, 3);
	snprintf(out->phone, sizeof(out->phone), "%s", phone != NULL ? phone : "");
	out->admin = db_col_int(st, 4) != 0;
	db_finalize(st);
	st = NULL;
	r = 0;
	/* One write a minute at most per session, not one per request. */
	if (now - last_seen >= SESSION_TOUCH_S)
		u->kind = SESSION_TOUCH;
out:
	db_finalize(st);
	if (upkeep == NULL)
		(void)session_upkeep(db, u);
	return r;
}

int session_delete(struct db *db, const char *token)
{
	uint8_t hash[32];
	int r;

	if (session_hash(token, hash) != 0)
		return -DB_E_NOTFOUND;
	r = db_exec(db, "DELETE FROM sessions WHERE token_hash = $1", "b", hash, sizeof(hash));
	if (r == 0 && db_changes(db) == 0)
		r = -DB_E_NOTFOUND;
	return r;
}

int session_delete_user(struct db *db, int64_t user_id)
{
	return db_exec(db, "DELETE FROM sessions WHERE user_id = $1", "i", user_id);
}

int session_expire(struct db *db, const struct config *cfg, int64_t now)
{
	return db_exec(db, "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen <= $2", "ii",
		       now, now - cfg->session_idle_s);
}
