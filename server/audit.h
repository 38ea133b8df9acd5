/*
 * audit.h: the append-only audit trail (table `audit` of 001-accounts.sql): who did
 * what, when, from where. Rows are only ever inserted. server_audit() is the way
 * handlers write to it; this is the storage underneath.
 */
#ifndef PARK_AUDIT_H
#define PARK_AUDIT_H

#include <stdint.h>

#include "db.h"

#define AUDIT_DETAIL_MAX 256 /* bytes kept of a detail; longer ones are cut */

/*
 * Appends one row in db's current transaction (or on its own). `action` is a short
 * snake_case word ("login", "key_issued"); `detail` a sentence that never holds a
 * secret (NULL for none): control characters in it become '?' and it is cut to
 * AUDIT_DETAIL_MAX bytes on a UTF-8 boundary. user_id 0 and peer NULL record "none".
 * Returns 0 or -DB_E_*.
 */
int audit_append(struct db *db, int64_t at, int64_t user_id, const char *action,
		 const char *detail, const char *peer);

#endif
