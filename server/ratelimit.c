/*
 * ratelimit.c: the counters of ratelimit.h, each one row per (scope, subject). Every
 * change is a single statement, atomic on SQLite and PostgreSQL alike; nothing is held
 * between statements.
 */
#include "ratelimit.h"

int ratelimit_take(struct db *db, const struct ratelimit_rule *rule, const char *subject,
		   int64_t now, int64_t *retry_after)
{
	struct db_stmt *st;
	int64_t start, hits;
	int r = -DB_E_IO;

	/* A window that has ended restarts at `now` with this attempt as its first. */
	st = db_prepare(db,
		"INSERT INTO rate_limits (scope, subject, window_start, hits) "
		"VALUES ($1, $2, $3, 1) "
		"ON CONFLICT (scope, subject) DO UPDATE SET "
		"window_start = CASE WHEN rate_limits.window_start + $4 <= $3 THEN $3 "
		"ELSE rate_limits.window_start END, "
		"hits = CASE WHEN rate_limits.window_start + $4 <= $3 THEN 1 "
		"ELSE rate_limits.hits + 1 END "
		"RETURNING window_start, hits");
	if (st == NULL)
		goto out;
	if (db_bind_text(st, 1, rule->scope) != 0 || db_bind_text(st, 2, subject) != 0 ||
	    db_bind_int(st, 3, now) != 0 || db_bind_int(st, 4, rule->window_s) != 0)
		goto out;
	r = db_step(st);
	if (r != DB_ROW) {
		r = r < 0 ? r : -DB_E_IO;
		goto out;
	}
	start = db_col_int(st, 0);
	hits = db_col_int(st, 1);
	/* Step to the end: SQLite finishes the statement's write only there. */
	r = db_step(st);
	if (r < 0)
		goto out;
	r = 0;
	if (hits > rule->max) {
		*retry_after = start + rule->window_s - now;
		if (*retry_after < 1)
			*retry_after = 1;
		r = 1;
	}
out:
	db_finalize(st);
	return r;
}

int ratelimit_give_back(struct db *db, const struct ratelimit_rule *rule, const char *subject)
{
	return db_exec(db, "UPDATE rate_limits SET hits = hits - 1 "
		       "WHERE scope = $1 AND subject = $2 AND hits > 0", "ss", rule->scope,
		       subject);
}

int ratelimit_clear(struct db *db, const struct ratelimit_rule *rule, const char *subject)
{
	return db_exec(db, "DELETE FROM rate_limits WHERE scope = $1 AND subject = $2", "ss",
		       rule->scope, subject);
}

int ratelimit_expire(struct db *db, int64_t now, int64_t older_than_s)
{
	return db_exec(db, "DELETE FROM rate_limits WHERE window_start < $1", "i",
		       now - older_than_s);
}
