/*
 * audit.c: writes audit rows. It cleans what it is given (one line, bounded), so a
 * detail quoting client input cannot forge or bloat the trail; keeping secrets out of
 * details is the caller's job.
 */
#include "audit.h"

#include <string.h>

/* Copies src into dst[0..AUDIT_DETAIL_MAX] as one bounded line. */
static void audit_clean(char *dst, const char *src)
{
	size_t n = strlen(src);
	size_t i;

	if (n > AUDIT_DETAIL_MAX) {
		n = AUDIT_DETAIL_MAX;
		/* Back up over UTF-8 continuation bytes so no character is cut in half. */
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[n] = '\0';
}

int audit_append(struct db *db, int64_t at, int64_t user_id, const char *action,
		 const char *detail, const char *peer)
{
	char clean[AUDIT_DETAIL_MAX + 1];
	struct db_stmt *st;
	int r = -DB_E_IO;

	audit_clean(clean, detail != NULL ? detail : "");
	st = db_prepare(db, "INSERT INTO audit (at, user_id, action, detail, peer) "
			"VALUES ($1, $2, $3, $4, $5)");
	if (st == NULL)
		goto out;
	if (db_bind_int(st, 1, at) != 0 ||
	    (user_id != 0 ? db_bind_int(st, 2, user_id) : db_bind_null(st, 2)) != 0 ||
	    db_bind_text(st, 3, action) != 0 || db_bind_text(st, 4, clean) != 0 ||
	    db_bind_text(st, 5, peer) != 0)
		goto out;
	r = db_step(st);
out:
	db_finalize(st);
	return r;
}
