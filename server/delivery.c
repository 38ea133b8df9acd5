/*
 * delivery.c: the server's end of management-message delivery (see delivery.h). The
 * queue rows are written by whoever signs a message (key.c for credentials, timerelay.c
 * for time, through delivery_queue() or on its own); this file hands them to the
 * gateways that cover their locks, at most once per redeliver_s each, and closes them on
 * a verified ack. An ack is believed only after the lock's device signature over it
 * checks out; only then may a stale_sequence answer make a resend.
 */
#include "delivery.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hex.h"
#include "../lib/log.h"
#include "../lib/signer.h"
#include "site.h"

#define DELIVERY_U32_MAX 4294967295LL
#define DELIVERY_BUSY_TRIES 5
#define DELIVERY_FRAME_HEX_MAX (2 * PROTO_FRAME_MAX + 1)

static json_object *delivery_hex(const void *p, size_t len)
{
	char buf[DELIVERY_FRAME_HEX_MAX];

	if (p == NULL || len > PROTO_FRAME_MAX || hex_encode(p, len, buf, sizeof(buf)) < 0)
		return NULL;
	return json_object_new_string(buf);
}

/* ---- queueing ---- */

static int delivery_err_of(int dbr)
{
	return dbr == -DB_E_BUSY ? -DELIVERY_E_BUSY : -DELIVERY_E_INTERNAL;
}

/*
 * Steps `st` (bound, finalized here) to its one row of one integer: 0 with *v,
 * -DELIVERY_E_NOTFOUND for no row, or -DELIVERY_E_*.
 */
static int delivery_one_int(struct db_stmt *st, int64_t *v)
{
	int r = db_step(st);

	if (r == DB_ROW) {
		*v = db_col_int(st, 0);
		r = db_step(st) == DB_DONE ? 0 : -DELIVERY_E_INTERNAL;
	} else {
		r = r == DB_DONE ? -DELIVERY_E_NOTFOUND : delivery_err_of(r);
	}
	db_finalize(st);
	return r;
}

/* Where a new message stands in a chain of resends: none for a first message. */
struct delivery_chain {
	int64_t first;   /* the first message of the chain, 0 for none */
	int64_t resends; /* resends before this one */
};

/*
 * Moves locks.mgmt_seq on by `step` (1, or a margin past a lock that is ahead), signs
 * and queues the message under the new value. 0 with *id, -DELIVERY_E_SPENT when the
 * lock's sequences would pass 2^32-1 (nothing changed), or -DELIVERY_E_*.
 */
static int delivery_insert(struct db *db, EVP_PKEY *site_key, const struct delivery_msg_spec *spec,
			   const union proto_mgmt_payload *p, int64_t now, int64_t step,
			   const struct delivery_chain *chain, int64_t *id)
{
	uint8_t frame[PROTO_FRAME_MAX];
	struct db_stmt *st;
	int64_t seq = 0, new_id = 0;
	int len, r;

	if (spec->mtype == PROTO_MGMT_REVOKE || spec->spot_id < 1 ||
	    spec->spot_id > DELIVERY_U32_MAX || spec->site_id < 1 ||
	    spec->site_id > DELIVERY_U32_MAX || now < 0 || now > DELIVERY_U32_MAX)
		return -DELIVERY_E_INTERNAL;
	/* One statement takes the sequence: its row lock serialises writers on PostgreSQL too. */
	st = db_prepare(db, "UPDATE locks SET mgmt_seq = mgmt_seq + $2 WHERE spot_id = $1 "
			"AND mgmt_seq <= $3 - $2 RETURNING mgmt_seq");
	if (st == NULL || db_bind_int(st, 1, spec->spot_id) != 0 || db_bind_int(st, 2, step) != 0 ||
	    db_bind_int(st, 3, DELIVERY_U32_MAX) != 0) {
		db_finalize(st);
		return -DELIVERY_E_INTERNAL;
	}
	r = delivery_one_int(st, &seq);
	if (r == -DELIVERY_E_NOTFOUND) {
		/* No such lock, or one whose sequences are spent. */
		st = db_prepare(db, "SELECT mgmt_seq FROM locks WHERE spot_id = $1");
		if (st == NULL || db_bind_int(st, 1, spec->spot_id) != 0) {
			db_finalize(st);
			return -DELIVERY_E_INTERNAL;
		}
		r = delivery_one_int(st, &seq);
		return r == 0 ? -DELIVERY_E_SPENT : r;
	}
	if (r != 0)
		return r;
	/* The tag is the requester's and not signed: the gateway may set its own. */
	len = signer_mgmt_frame(site_key, (uint32_t)spec->site_id, (uint8_t)(1 + seq % 255),
				spec->mtype, (uint32_t)spec->spot_id, (uint32_t)seq, p, frame,
				sizeof(frame));
	if (len < 0)
		return -DELIVERY_E_INTERNAL;
	st = db_prepare(db, "INSERT INTO mgmt_queue (spot_id, seq, kind, key_id, frame, "
			"created_at, state, resend_of, resends) VALUES ($1, $2, $3, $4, $5, $6, "
			"'pending', $7, $8) RETURNING id");
	if (st == NULL || db_bind_int(st, 1, spec->spot_id) != 0 ||
	    db_bind_int(st, 2, seq) != 0 || db_bind_text(st, 3, spec->kind) != 0 ||
	    (spec->key_id > 0 ? db_bind_int(st, 4, spec->key_id) : db_bind_null(st, 4)) != 0 ||
	    db_bind_blob(st, 5, frame, (size_t)len) != 0 || db_bind_int(st, 6, now) != 0 ||
	    (chain->first > 0 ? db_bind_int(st, 7, chain->first) : db_bind_null(st, 7)) != 0 ||
	    db_bind_int(st, 8, chain->resends) != 0) {
		db_finalize(st);
		return -DELIVERY_E_INTERNAL;
	}
	r = delivery_one_int(st, &new_id);
	if (r == -DELIVERY_E_NOTFOUND)
		r = -DELIVERY_E_INTERNAL;
	if (r == 0 && id != NULL)
		*id = new_id;
	return r;
}

int delivery_queue(struct db *db, EVP_PKEY *site_key, const struct delivery_msg_spec *spec,
		   const union proto_mgmt_payload *payload, int64_t now, int64_t *id)
{
	static const struct delivery_chain first = { 0, 0 };

	return delivery_insert(db, site_key, spec, payload, now, 1, &first, id);
}

/* ---- what the gateways see ---- */

json_object *delivery_locks(struct db *db, int64_t gateway_id)
{
	json_object *arr = json_object_new_array();
	struct db_stmt *st;
	int r = -1;

	if (arr == NULL)
		return NULL;
	st = db_prepare(db, "SELECT l.spot_id, s.site_id, s.name, l.address, l.device_pub, "
			"l.event_seq FROM gateway_covers c JOIN locks l ON l.spot_id = c.spot_id "
			"JOIN spots s ON s.id = l.spot_id WHERE c.gateway_id = $1 "
			"ORDER BY l.spot_id");
	if (st == NULL || db_bind_int(st, 1, gateway_id) != 0)
		goto out;
	while ((r = db_step(st)) == DB_ROW) {
		json_object *o = json_object_new_object();
		size_t len = 0;
		const void *pub = db_col_blob(st, 4, &len);

		json_object_object_add(o, "spot", json_object_new_int64(db_col_int(st, 0)));
		json_object_object_add(o, "site_id", json_object_new_int64(db_col_int(st, 1)));
		json_object_object_add(o, "name", json_object_new_string(db_col_text(st, 2)));
		json_object_object_add(o, "address", json_object_new_string(db_col_text(st, 3)));
		json_object_object_add(o, "device_pub", delivery_hex(pub, len));
		json_object_object_add(o, "event_seq", json_object_new_int64(db_col_int(st, 5)));
		json_object_array_add(arr, o);
	}
	r = r == DB_DONE ? 0 : -1;
out:
	if (st != NULL)
		db_finalize(st);
	if (r != 0) {
		json_object_put(arr);
		return NULL;
	}
	return arr;
}

/*
 * The pending messages of the gateway's locks, oldest first, up to `max`: every one
 * when `since` is NULL, else those never given out or last given at or before *since.
 * Their IDs go to ids[0..*n) when `ids` is not NULL. A new array, or NULL.
 */
static json_object *delivery_list(struct db *db, int64_t gateway_id, const int64_t *since,
				  size_t max, int64_t *ids, size_t *n)
{
	json_object *arr = json_object_new_array();
	struct db_stmt *st;
	int r = -1;

	if (n != NULL)
		*n = 0;
	if (arr == NULL)
		return NULL;
	if (max > DELIVERY_BATCH_MAX)
		max = DELIVERY_BATCH_MAX;
	/* IDs grow with time and, per lock, with the sequence: oldest first is seq order. */
	st = db_prepare(db, "SELECT q.id, q.spot_id, q.seq, q.frame FROM mgmt_queue q "
			"JOIN gateway_covers c ON c.spot_id = q.spot_id "
			"WHERE c.gateway_id = $1 AND q.state = 'pending' AND ($3 = 0 OR "
			"q.last_given_at IS NULL OR q.last_given_at <= $4) ORDER BY q.id LIMIT $2");
	if (st == NULL || db_bind_int(st, 1, gateway_id) != 0 ||
	    db_bind_int(st, 2, (int64_t)max) != 0 || db_bind_int(st, 3, since != NULL) != 0 ||
	    db_bind_int(st, 4, since != NULL ? *since : 0) != 0)
		goto out;
	while ((r = db_step(st)) == DB_ROW) {
		json_object *o = json_object_new_object();
		size_t len = 0;
		const void *frame = db_col_blob(st, 3, &len);

		json_object_object_add(o, "id", json_object_new_int64(db_col_int(st, 0)));
		json_object_object_add(o, "spot", json_object_new_int64(db_col_int(st, 1)));
		json_object_object_add(o, "seq", json_object_new_int64(db_col_int(st, 2)));
		json_object_object_add(o, "frame", delivery_hex(frame, len));
		json_object_array_add(arr, o);
		if (ids != NULL)
			ids[(*n)++] = db_col_int(st, 0);
	}
	r = r == DB_DONE ? 0 : -1;
out:
	db_finalize(st);
	if (r != 0) {
		json_object_put(arr);
		return NULL;
	}
	return arr;
}

json_object *delivery_pending(struct db *db, int64_t gateway_id, size_t max)
{
	return delivery_list(db, gateway_id, NULL, max, NULL, NULL);
}

/* Marks ids[0..n) given at `now`, in a transaction of its own. 0 or -DB_E_*. */
static int delivery_mark_given(struct db *db, const int64_t *ids, size_t n, int64_t now)
{
	unsigned tries;
	size_t i;
	int r = -DB_E_BUSY;

	for (tries = 0; tries < DELIVERY_BUSY_TRIES && r == -DB_E_BUSY; tries++) {
		r = db_begin(db);
		for (i = 0; i < n && r == 0; i++)
			r = db_exec(db, "UPDATE mgmt_queue SET last_given_at = $1 WHERE id = $2",
				    "ii", now, ids[i]);
		if (r == 0)
			r = db_commit(db);
		if (r != 0)
			db_rollback(db);
	}
	return r;
}

/* When the oldest hand-out still in its quiet time falls due: *next_due, 0 for none. */
static int delivery_next_due(struct db *db, int64_t gateway_id, int64_t since,
			     int64_t redeliver_s, int64_t *next_due)
{
	struct db_stmt *st = db_prepare(db, "SELECT MIN(q.last_given_at) FROM mgmt_queue q "
					"JOIN gateway_covers c ON c.spot_id = q.spot_id "
					"WHERE c.gateway_id = $1 AND q.state = 'pending' "
					"AND q.last_given_at > $2");
	int r;

	if (st == NULL || db_bind_int(st, 1, gateway_id) != 0 || db_bind_int(st, 2, since) != 0) {
		db_finalize(st);
		return -DB_E_IO;
	}
	r = db_step(st);
	if (r == DB_ROW)
		*next_due = db_col_null(st, 0) ? 0 : db_col_int(st, 0) + redeliver_s;
	db_finalize(st);
	return r == DB_ROW ? 0 : r < 0 ? r : -DB_E_IO;
}

json_object *delivery_give(struct db *db, int64_t gateway_id, int64_t now, int64_t redeliver_s,
			   bool resume, size_t max, int64_t *next_due)
{
	int64_t ids[DELIVERY_BATCH_MAX], since = now - redeliver_s;
	json_object *arr;
	size_t n = 0;

	*next_due = 0;
	/*
	 * Read first, write only when there is something to give: most polls find nothing,
	 * and take no write lock for it. Two polls at once may both give a message; the
	 * gateway deduplicates by ID.
	 */
	arr = delivery_list(db, gateway_id, resume ? NULL : &since, max, ids, &n);
	if (arr == NULL)
		goto fail;
	if ((n > 0 && delivery_mark_given(db, ids, n, now) != 0) ||
	    delivery_next_due(db, gateway_id, since, redeliver_s, next_due) != 0) {
		json_object_put(arr);
		goto fail;
	}
	return arr;
fail:
	log_error("delivery: the messages of gateway %" PRId64 " could not be handed out: %s",
		  gateway_id, db_errmsg(db));
	return NULL;
}

/* ---- acks ---- */

/* What delivery_ack needs of a message and its lock. */
struct delivery_msg {
	int64_t id, spot_id, site_id, seq, key_id;
	struct delivery_chain chain; /* of this message: its first, and resends before it */
	char kind[32];
	uint8_t mtype;
	bool acked;                  /* closed: 'acked' or 'failed' */
	char result[32];
	uint8_t device_pub[64];
	uint8_t frame[PROTO_FRAME_MAX];
	size_t frame_len;
};

static int delivery_load(struct db *db, int64_t id, struct delivery_msg *m)
{
	struct db_stmt *st;
	struct proto_msg frame_msg;
	const void *frame, *pub;
	size_t frame_len = 0, pub_len = 0;
	int r;

	memset(m, 0, sizeof(*m));
	st = db_prepare(db, "SELECT q.spot_id, s.site_id, q.seq, q.state, q.result, q.frame, "
			"l.device_pub, q.kind, q.key_id, q.resend_of, q.resends "
			"FROM mgmt_queue q JOIN locks l ON l.spot_id = q.spot_id "
			"JOIN spots s ON s.id = q.spot_id WHERE q.id = $1");
	if (st == NULL)
		return -DELIVERY_E_INTERNAL;
	r = db_bind_int(st, 1, id);
	if (r == 0)
		r = db_step(st);
	if (r != DB_ROW) {
		r = r == DB_DONE ? -DELIVERY_E_NOTFOUND : delivery_err_of(r);
		goto out;
	}
	m->id = id;
	m->spot_id = db_col_int(st, 0);
	m->site_id = db_col_int(st, 1);
	m->seq = db_col_int(st, 2);
	m->acked = strcmp(db_col_text(st, 3), "pending") != 0;
	snprintf(m->result, sizeof(m->result), "%s",
		 db_col_null(st, 4) ? db_col_text(st, 3) : db_col_text(st, 4));
	frame = db_col_blob(st, 5, &frame_len);
	pub = db_col_blob(st, 6, &pub_len);
	snprintf(m->kind, sizeof(m->kind), "%s", db_col_text(st, 7));
	m->key_id = db_col_null(st, 8) ? 0 : db_col_int(st, 8);
	m->chain.first = db_col_null(st, 9) ? id : db_col_int(st, 9);
	m->chain.resends = db_col_int(st, 10);
	r = -DELIVERY_E_INTERNAL;
	/* The stored frame is ours; it must decode, or the queue is corrupt. */
	if (frame == NULL || frame_len > sizeof(m->frame) ||
	    proto_decode(frame, frame_len, &frame_msg) != 0 || frame_msg.type != PROTO_MGMT ||
	    pub == NULL || pub_len != 64)
		goto out;
	m->mtype = frame_msg.u.mgmt.mtype;
	memcpy(m->frame, frame, frame_len);
	m->frame_len = frame_len;
	memcpy(m->device_pub, pub, 64);
	r = 0;
out:
	db_finalize(st);
	return r;
}

/* 1 when the gateway covers the spot, 0 when not, or -DELIVERY_E_*. */
static int delivery_covers(struct db *db, int64_t gateway_id, int64_t spot_id)
{
	struct db_stmt *st = db_prepare(db, "SELECT 1 FROM gateway_covers "
					"WHERE gateway_id = $1 AND spot_id = $2");
	int r;

	if (st == NULL)
		return -DELIVERY_E_INTERNAL;
	r = db_bind_int(st, 1, gateway_id);
	if (r == 0)
		r = db_bind_int(st, 2, spot_id);
	if (r == 0)
		r = db_step(st);
	db_finalize(st);
	if (r < 0)
		return delivery_err_of(r);
	return r == DB_ROW ? 1 : 0;
}

/* The ack is this message's, from this lock: decoded, matched, signature verified. */
static int delivery_check_ack(const struct delivery_msg *m, const uint8_t *ack, size_t len,
			      struct proto_msg *out)
{
	const struct proto_mgmt_ack *a = &out->u.ack;

	if (ack == NULL || proto_decode(ack, len, out) != 0 || out->type != PROTO_MGMT_ACK)
		return -DELIVERY_E_BAD_ACK;
	if (signer_check_ack(m->device_pub, (uint32_t)m->site_id, a) != 0)
		return -DELIVERY_E_BAD_ACK;
	if ((int64_t)a->spot_id != m->spot_id || (int64_t)a->seq != m->seq || a->mtype != m->mtype)
		return -DELIVERY_E_BAD_ACK;
	return 0;
}

/*
 * 1 when the lock applied a message of ours issued after m: then m was refused for
 * coming late, and the lock's sequence is one we issued. 0 when not, or -DELIVERY_E_*.
 */
static int delivery_overtaken(struct db *db, const struct delivery_msg *m)
{
	/* A REVOKE's seq is its list's serial, not the lock's sequence: not comparable. */
	struct db_stmt *st = db_prepare(db, "SELECT 1 FROM mgmt_queue WHERE spot_id = $1 "
					"AND seq > $2 AND state = 'acked' AND result = 'ok' "
					"AND kind <> 'revoke' LIMIT 1");
	int r;

	if (st == NULL || db_bind_int(st, 1, m->spot_id) != 0 || db_bind_int(st, 2, m->seq) != 0) {
		db_finalize(st);
		return -DELIVERY_E_INTERNAL;
	}
	r = db_step(st);
	db_finalize(st);
	if (r < 0)
		return delivery_err_of(r);
	return r == DB_ROW ? 1 : 0;
}

/*
 * Queues m's payload again after a stale_sequence answer, or after a signed refusal
 * for now (`not_applied`: flash_error, internal; see delivery_ack). 0 with *resent_id
 * (0 when no resend is due: the chain is at its end, or the lock's sequences are
 * spent), or -DELIVERY_E_*.
 */
static int delivery_resend(struct db *db, const uint8_t master[32], const struct delivery_msg *m,
			   int64_t now, bool not_applied, int64_t *resent_id)
{
	struct delivery_msg_spec spec = { m->spot_id, m->site_id, m->mtype, m->kind, m->key_id };
	struct delivery_chain chain = { m->chain.first, m->chain.resends + 1 };
	union proto_mgmt_payload p;
	struct proto_msg frame;
	EVP_PKEY *site = NULL;
	int r;

	*resent_id = 0;
	/* A revocation list's seq is its serial, not the lock's sequence: nothing to bump. */
	if (m->mtype == PROTO_MGMT_REVOKE)
		return 0;
	if (m->chain.resends >= DELIVERY_RESENDS_MAX) {
		log_warn("delivery: message %" PRId64 " to lock %" PRId64 " is stale again after "
			 "%" PRId64 " resends; given up", m->id, m->spot_id, m->chain.resends);
		return 0;
	}
	if (proto_decode(m->frame, m->frame_len, &frame) != 0 ||
	    proto_mgmt_decode_payload(m->mtype, frame.u.mgmt.payload, frame.u.mgmt.plen, &p) != 0)
		return -DELIVERY_E_INTERNAL;
	/* A time is the server's clock when signed, never an old one again. */
	if (m->mtype == PROTO_MGMT_SET_TIME)
		p.time = (uint32_t)now;
	/* Not applied: the lock's sequence is below this one, and the next one will do. */
	r = not_applied ? 1 : delivery_overtaken(db, m);
	if (r < 0)
		return r;
	/*
	 * Nothing later applied: either the lock is ahead of a restored database, or it
	 * carried this message out and its ack was lost; or its storage failed after the
	 * motor may have started. A barrier moved twice is not harmless, so an override is
	 * closed as it is, for the attendant to ask again.
	 */
	if ((r == 0 || not_applied) && m->mtype == PROTO_MGMT_REMOTE_OPERATE) {
		log_warn("delivery: override %" PRId64 " to lock %" PRId64 " came back %s and "
			 "may have been carried out; not sent again", m->id, m->spot_id,
			 not_applied ? "refused for now" : "stale");
		return 0;
	}
	if (site_key(db, master, m->site_id, &site) != 0)
		return -DELIVERY_E_INTERNAL;
	r = delivery_insert(db, site, &spec, &p, now, r == 1 ? 1 : DELIVERY_SEQ_MARGIN, &chain,
			    resent_id);
	EVP_PKEY_free(site);
	if (r == -DELIVERY_E_SPENT) {
		log_error("delivery: lock %" PRId64 " has used up its management sequences; "
			  "message %" PRId64 " is not sent again", m->spot_id, m->id);
		return 0;
	}
	return r;
}

/*
 * Whether a gateway's error word is the lock's last word on the frame: the name of an
 * ERROR code that proto_error_passes() does not pass (as the gateway decides), or
 * "bad_frame" (not a management frame at all). Anything else ("unreachable") waits.
 */
static bool delivery_refused_for_good(const char *error)
{
	int code;

	if (strcmp(error, "bad_frame") == 0)
		return true;
	for (code = 1; code < PROTO_STATUS_COUNT; code++)
		if (strcmp(error, proto_status_name(code)) == 0)
			return code != PROTO_E_STALE && !proto_error_passes(code);
	return false;
}

int delivery_ack(struct db *db, const uint8_t master[32], int64_t gateway_id, int64_t now,
		 int64_t message_id, const uint8_t *ack, size_t ack_len, const char *error,
		 char result[32], int64_t *resent_id)
{
	struct delivery_msg *m;
	struct proto_msg a;
	int64_t resent = 0;
	bool stale, again;
	int r;

	m = malloc(sizeof(*m));
	if (m == NULL)
		return -DELIVERY_E_INTERNAL;
	if ((r = delivery_load(db, message_id, m)) != 0)
		goto out;
	r = delivery_covers(db, gateway_id, m->spot_id);
	if (r <= 0) {
		r = r < 0 ? r : -DELIVERY_E_FORBIDDEN;
		goto out;
	}
	r = db_exec(db, "UPDATE gateways SET last_seen_at = $1 WHERE id = $2", "ii", now,
		    gateway_id);
	if (r != 0) {
		r = delivery_err_of(r);
		goto out;
	}
	if (error != NULL && (m->acked || !delivery_refused_for_good(error))) {
		/* Not delivered: the message stays as it is, for the next attempt. */
		snprintf(result, 32, "%s", m->acked ? m->result : "pending");
		goto out;
	}
	if (error != NULL) {
		/* Refused by the lock for good: no later try would do better. */
		snprintf(result, 32, "%s", error);
		r = db_exec(db, "UPDATE mgmt_queue SET state = 'failed', result = $1, "
			    "acked_at = $2, gateway_id = $3 WHERE id = $4 AND state = 'pending'",
			    "siii", result, now, gateway_id, message_id);
		r = r != 0 ? delivery_err_of(r) : 0;
		goto out;
	}
	if ((r = delivery_check_ack(m, ack, ack_len, &a)) != 0)
		goto out;
	if (m->acked) {
		snprintf(result, 32, "%s", m->result);
		goto out;
	}
	snprintf(result, 32, "%s", proto_status_name(a.u.ack.result));
	stale = a.u.ack.result == PROTO_E_STALE;
	/* Signed, but not applied for a reason that may pass (its flash failed): again. */
	again = a.u.ack.result != PROTO_OK && proto_error_passes(a.u.ack.result);
	r = db_exec(db, "UPDATE mgmt_queue SET state = $1, result = $2, acked_at = $3, ack = $4, "
		    "gateway_id = $5 WHERE id = $6 AND state = 'pending'", "ssibii",
		    stale || again ? "failed" : "acked", result, now, (const void *)ack, ack_len,
		    gateway_id, message_id);
	if (r != 0) {
		r = delivery_err_of(r);
		goto out;
	}
	if (stale || again)
		r = delivery_resend(db, master, m, now, again, &resent);
out:
	if (resent_id != NULL)
		*resent_id = r == 0 ? resent : 0;
	free(m);
	return r;
}
