/*
 * session.h: login sessions. A token is 32 random bytes given to the client as 64 hex
 * digits; the database keeps only its SHA-256, so a copy of the database opens no
 * session. A session ends at logout, after session_max_s from login, or after
 * session_idle_s without use (use is recorded at most once per SESSION_TOUCH_S, so an
 * idle session may end up to that much early).
 */
#ifndef PARK_SESSION_H
#define PARK_SESSION_H

#include <stdint.h>

#include "config.h"
#include "db.h"
#include "server.h"

#define SESSION_TOKEN_BYTES 32
#define SESSION_TOKEN_HEX (2 * SESSION_TOKEN_BYTES)
#define SESSION_TOUCH_S 60

/*
 * Starts a session for `user_id` at `now`, in db's current transaction or on its own.
 * Writes the token (NUL-terminated hex) and the absolute expiry. 0 or -DB_E_*.
 */
int session_create(struct db *db, const struct config *cfg, int64_t user_id, int64_t now,
		   char token[SESSION_TOKEN_HEX + 1], int64_t *expires_at);

/* The write a lookup leaves: none, the use to record, or an expired session to delete. */
enum session_upkeep_kind { SESSION_KEEP, SESSION_TOUCH, SESSION_DROP };

struct session_upkeep {
	enum session_upkeep_kind kind;
	uint8_t token_hash[32];
	int64_t now;
	int64_t idle_before; /* SESSION_DROP: a use at or before this left the session idle */
};

/*
 * The user of the live session of `token` at `now`: 0 with *out filled, -DB_E_NOTFOUND
 * when the token is malformed, unknown or expired, or another -DB_E_*. The use is
 * recorded when the last one is SESSION_TOUCH_S old, and an expired session is deleted:
 * here when `upkeep` is NULL, else only described in *upkeep (always set), so that a
 * caller that must not wait for the write lock leaves the write to session_upkeep().
 */
int session_lookup(struct db *db, const struct config *cfg, int64_t now, const char *token,
		   struct auth_user *out, struct session_upkeep *upkeep);

/* Does what a lookup left (nothing for SESSION_KEEP). 0 or -DB_E_*. */
int session_upkeep(struct db *db, const struct session_upkeep *u);

/* Ends the session of `token`. 0, -DB_E_NOTFOUND when there is none, or -DB_E_*. */
int session_delete(struct db *db, const char *token);

/* Ends every session of `user_id` (a new password). 0 or -DB_E_*. */
int session_delete_user(struct db *db, int64_t user_id);

/* Deletes the sessions expired at `now`. 0 or -DB_E_*. */
int session_expire(struct db *db, const struct config *cfg, int64_t now);

#endif
