/*
 * override.h: an attendant's override of a lock on the key server: the reason checked,
 * the site-signed REMOTE_OPERATE (PROTOCOL.md 5.7) queued for the gateways that cover
 * the lock through delivery.c, the reason kept with its digest, the audit row and the
 * notification of the spot's managers, all in the caller's transaction. Who may
 * override is the route's question (route-override.c); no HTTP here.
 */
#ifndef PARK_OVERRIDE_H
#define PARK_OVERRIDE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "../lockfw/proto/proto.h"
#include "db.h"

#define OVERRIDE_TEXT_MAX_CHARS 200 /* a reason or a note, in characters (code points) */
#define OVERRIDE_TTL_S 900          /* a lock refuses an override this long after it is signed */

enum override_err {
	OVERRIDE_E_NOLOCK = 1,   /* the spot has no lock row */
	OVERRIDE_E_SPENT = 2,    /* the lock's management sequences are used up */
	OVERRIDE_E_BUSY = 3,     /* the database is busy: retry the transaction */
	OVERRIDE_E_INTERNAL = 4, /* storage or signing failed: see the log */
};

/* What is wrong with a text an attendant typed (override_text_check). */
enum override_text {
	OVERRIDE_TEXT_OK = 0,
	OVERRIDE_TEXT_BLANK = 1,    /* empty, or only spaces, tabs and other white space */
	OVERRIDE_TEXT_LONG = 2,     /* more than the maximum characters */
	OVERRIDE_TEXT_CONTROL = 3,  /* a control character (line breaks included) */
	OVERRIDE_TEXT_UTF8 = 4,     /* not well-formed UTF-8 */
};

/*
 * The rule for what an attendant types at the console (an override's reason, an
 * alarm's note): s[0..len) well-formed UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF), no C0 or C1 control character nor DEL, at most `max_chars`
 * code points and, unless `blank_ok`, at least one that is not white space.
 * Returns OVERRIDE_TEXT_*.
 */
int override_text_check(const char *s, size_t len, size_t max_chars, int blank_ok);

/* An override as the route asks for it. */
struct override_in {
	int64_t spot_id;    /* 1..2^32-1, an existing spot */
	int64_t site_id;    /* the spot's site: the key signs for it */
	int64_t user_id;    /* the attendant, 1..2^32-1 */
	uint8_t op;         /* PROTO_OP_UNLOCK or PROTO_OP_LOCK */
	const char *reason; /* checked with override_text_check(), NUL-terminated */
	const char *peer;   /* the client's address for the audit row, or NULL */
};

/* What was queued. */
struct override_out {
	int64_t override_id; /* the overrides row */
	int64_t message_id;  /* the mgmt_queue row of the REMOTE_OPERATE */
	uint32_t seq;        /* its management sequence */
	uint32_t not_after;  /* now + OVERRIDE_TTL_S */
	uint8_t reason_digest[PROTO_REASON_DIGEST_LEN];
};

/*
 * Inside the caller's write transaction (commit only on 0, else roll back): signs the
 * REMOTE_OPERATE of `in` with `site_key` under the lock's next management sequence and
 * queues it (delivery_queue(), kind "override"), stores the reason, appends the
 * "override" audit row (who, spot, op, reason) and a pending notification of kind
 * "override" for the spot's managers. The caller wakes the gateways after the commit.
 * Returns 0 with *out filled, or -OVERRIDE_E_*.
 */
int override_request(struct db *db, EVP_PKEY *site_key, const struct override_in *in,
		     int64_t now, struct override_out *out);

/* "unlock" or "lock" for a proto_op; NULL for anything else. */
const char *override_op_name(uint8_t op);

/* The proto_op of "unlock" or "lock"; 0 for anything else (NULL included). */
uint8_t override_op_parse(const char *name);

#endif
