/*
 * ratelimit.h: fixed-window attempt counters kept in the database (table rate_limits),
 * so limits hold across restarts and across parkd instances sharing a database. An
 * attempt is counted before it runs (one atomic upsert), so concurrent attempts cannot
 * slip past the limit together; one that succeeds is then given back.
 */
#ifndef PARK_RATELIMIT_H
#define PARK_RATELIMIT_H

#include <stdint.h>

#include "db.h"

struct ratelimit_rule {
	const char *scope; /* what is counted: "fail-account", "sms-address", ... */
	int64_t max;       /* attempts allowed per window, >= 1 */
	int64_t window_s;  /* window length, seconds, >= 1 */
};

/*
 * Counts one attempt by `subject` (a phone number, an address) at `now`. Returns 0 when
 * it is within rule->max for the current window, 1 when it is over (with *retry_after
 * set to the seconds until the window ends, >= 1), or -DB_E_*.
 */
int ratelimit_take(struct db *db, const struct ratelimit_rule *rule, const char *subject,
		   int64_t now, int64_t *retry_after);

/* Uncounts one attempt that ratelimit_take() counted (it succeeded). 0 or -DB_E_*. */
int ratelimit_give_back(struct db *db, const struct ratelimit_rule *rule, const char *subject);

/* Forgets every attempt of `subject` under the rule's scope. 0 or -DB_E_*. */
int ratelimit_clear(struct db *db, const struct ratelimit_rule *rule, const char *subject);

/* Deletes counters whose window began more than `older_than_s` ago. 0 or -DB_E_*. */
int ratelimit_expire(struct db *db, int64_t now, int64_t older_than_s);

#endif
