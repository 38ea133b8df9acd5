/*
 * override.c: an attendant's override on the key server (see override.h). The message is
 * signed and queued by delivery.c like every management message; this file builds its
 * payload, and writes the reason, the audit row and the notification beside it in the
 * same transaction, so an override is either wholly on its way or not at all.
 */
#include "override.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "../lib/log.h"
#include "audit.h"
#include "delivery.h"

#define OVERRIDE_U32_MAX 4294967295LL

const char *override_op_name(uint8_t op)
{
	return op == PROTO_OP_UNLOCK ? "unlock" : op == PROTO_OP_LOCK ? "lock" : NULL;
}

uint8_t override_op_parse(const char *name)
{
	if (name == NULL)
		return 0;
	if (strcmp(name, "unlock") == 0)
		return PROTO_OP_UNLOCK;
	if (strcmp(name, "lock") == 0)
		return PROTO_OP_LOCK;
	return 0;
}

/* ---- typed text ---- */

/* Unicode white space, and the invisible characters a blank reason could hide behind. */
static bool override_blank_char(uint32_t c)
{
	return c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200B) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x2060 ||
	       c == 0x3000 || c == 0xFEFF;
}

int override_text_check(const char *s, size_t len, size_t max_chars, int blank_ok)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, chars = 0, n, k;
	bool visible = false;
	uint32_t c;

	if (s == NULL)
		return blank_ok ? OVERRIDE_TEXT_OK : OVERRIDE_TEXT_BLANK;
	while (i < len) {
		c = p[i];
		if (c < 0x80) {
			n = 0;
		} else if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			c &= 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			c &= 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			c &= 0x07;
		} else {
			return OVERRIDE_TEXT_UTF8;
		}
		if (n > len - i - 1)
			return OVERRIDE_TEXT_UTF8;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return OVERRIDE_TEXT_UTF8;
			c = c << 6 | (p[i + k] & 0x3F);
		}
		if ((n == 2 && c < 0x800) || (n == 3 && (c < 0x10000 || c > 0x10FFFF)) ||
		    (c >= 0xD800 && c <= 0xDFFF))
			return OVERRIDE_TEXT_UTF8;
		if (c < 0x20 || (c >= 0x7F && c <= 0x9F))
			return OVERRIDE_TEXT_CONTROL;
		visible = visible || !override_blank_char(c);
		chars++;
		i += n + 1;
	}
	if (chars > max_chars)
		return OVERRIDE_TEXT_LONG;
	return visible || blank_ok ? OVERRIDE_TEXT_OK : OVERRIDE_TEXT_BLANK;
}

/* ---- the request ---- */

static int override_err_of(int dbr)
{
	return dbr == -DB_E_BUSY ? -OVERRIDE_E_BUSY : -OVERRIDE_E_INTERNAL;
}

/* The one integer of a query's one row (bound by the caller, finalized here). 0 or < 0. */
static int override_one_int(struct db_stmt *st, int64_t *v)
{
	int r = db_step(st);

	if (r == DB_ROW) {
		*v = db_col_int(st, 0);
		r = 0;
	} else {
		r = r == DB_DONE ? -OVERRIDE_E_INTERNAL : override_err_of(r);
	}
	db_finalize(st);
	return r;
}

static int override_delivery_err(int r)
{
	switch (r) {
	case -DELIVERY_E_NOTFOUND:
		return -OVERRIDE_E_NOLOCK;
	case -DELIVERY_E_SPENT:
		return -OVERRIDE_E_SPENT;
	case -DELIVERY_E_BUSY:
		return -OVERRIDE_E_BUSY;
	default:
		return -OVERRIDE_E_INTERNAL;
	}
}

/* The overrides row of a queued message. 0 with *id, or -OVERRIDE_E_*. */
static int override_store(struct db *db, const struct override_in *in, int64_t now,
			  const struct override_out *out, int64_t *id)
{
	struct db_stmt *st;

	st = db_prepare(db, "INSERT INTO overrides (spot_id, user_id, op, reason, reason_digest, "
			"message_id, seq, not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, "
			"$7, $8, $9) RETURNING id");
	if (st == NULL || db_bind_int(st, 1, in->spot_id) != 0 ||
	    db_bind_int(st, 2, in->user_id) != 0 ||
	    db_bind_text(st, 3, override_op_name(in->op)) != 0 ||
	    db_bind_text(st, 4, in->reason) != 0 ||
	    db_bind_blob(st, 5, out->reason_digest, sizeof(out->reason_digest)) != 0 ||
	    db_bind_int(st, 6, out->message_id) != 0 || db_bind_int(st, 7, out->seq) != 0 ||
	    db_bind_int(st, 8, out->not_after) != 0 || db_bind_int(st, 9, now) != 0) {
		db_finalize(st);
		return -OVERRIDE_E_INTERNAL;
	}
	return override_one_int(st, id);
}

int override_request(struct db *db, EVP_PKEY *site_key, const struct override_in *in,
		     int64_t now, struct override_out *out)
{
	struct delivery_msg_spec spec = { in->spot_id, in->site_id, PROTO_MGMT_REMOTE_OPERATE,
					  "override", 0 };
	uint8_t digest[SHA256_DIGEST_LENGTH];
	union proto_mgmt_payload p;
	struct db_stmt *st;
	char detail[AUDIT_DETAIL_MAX + 1];
	int64_t seq = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (override_op_name(in->op) == NULL || in->reason == NULL || in->user_id < 1 ||
	    in->user_id > OVERRIDE_U32_MAX || now < 1 || now > OVERRIDE_U32_MAX - OVERRIDE_TTL_S)
		return -OVERRIDE_E_INTERNAL;
	SHA256((const unsigned char *)in->reason, strlen(in->reason), digest);
	memcpy(out->reason_digest, digest, sizeof(out->reason_digest));
	out->not_after = (uint32_t)(now + OVERRIDE_TTL_S);
	memset(&p, 0, sizeof(p));
	p.remote.op = in->op;
	p.remote.user_id = (uint32_t)in->user_id;
	p.remote.not_after = out->not_after;
	memcpy(p.remote.reason, out->reason_digest, PROTO_REASON_DIGEST_LEN);

	r = delivery_queue(db, site_key, &spec, &p, now, &out->message_id);
	if (r != 0)
		return override_delivery_err(r);
	st = db_prepare(db, "SELECT seq FROM mgmt_queue WHERE id = $1");
	if (st == NULL || db_bind_int(st, 1, out->message_id) != 0) {
		db_finalize(st);
		return -OVERRIDE_E_INTERNAL;
	}
	r = override_one_int(st, &seq);
	if (r != 0)
		return r;
	out->seq = (uint32_t)seq;
	r = override_store(db, in, now, out, &out->override_id);
	if (r != 0)
		return r;
	snprintf(detail, sizeof(detail), "spot %" PRId64 " %s, message %" PRId64 " sequence %u: %s",
		 in->spot_id, override_op_name(in->op), out->message_id, out->seq, in->reason);
	r = audit_append(db, now, in->user_id, "override", detail, in->peer);
	if (r == 0)
		r = db_exec(db, "INSERT INTO notifications (kind, spot_id, created_at) "
			    "VALUES ('override', $1, $2)", "ii", in->spot_id, now);
	if (r != 0) {
		log_error("override: spot %" PRId64 ": the audit or the notification could not be "
			  "stored: %s", in->spot_id, db_errmsg(db));
		return override_err_of(r);
	}
	return 0;
}
