/*
 * delivery.c: the server's end of management-message delivery (see delivery.h). The
 * queue rows are written by whoever signs a message (key.c for credentials); this file
 * hands them to the gateways that cover their locks and closes them on a verified ack.
 * An ack is believed only after the lock's device signature over it checks out.
 */
#include "delivery.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../lib/hex.h"
#include "../lib/signer.h"
#include "../lockfw/proto/proto.h"

#define DELIVERY_FRAME_HEX_MAX (2 * PROTO_FRAME_MAX + 1)

static json_object *delivery_hex(const void *p, size_t len)
{
	char buf[DELIVERY_FRAME_HEX_MAX];

	if (p == NULL || len > PROTO_FRAME_MAX || hex_encode(p, len, buf, sizeof(buf)) < 0)
		return NULL;
	return json_object_new_string(buf);
}

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

json_object *delivery_pending(struct db *db, int64_t gateway_id, size_t max)
{
	json_object *arr = json_object_new_array();
	struct db_stmt *st;
	int r = -1;

	if (arr == NULL)
		return NULL;
	if (max > DELIVERY_BATCH_MAX)
		max = DELIVERY_BATCH_MAX;
	/* IDs grow with time and, per lock, with the sequence: oldest first is seq order. */
	st = db_prepare(db, "SELECT q.id, q.spot_id, q.seq, q.frame FROM mgmt_queue q "
			"JOIN gateway_covers c ON c.spot_id = q.spot_id "
			"WHERE c.gateway_id = $1 AND q.state = 'pending' ORDER BY q.id LIMIT $2");
	if (st == NULL || db_bind_int(st, 1, gateway_id) != 0 ||
	    db_bind_int(st, 2, (int64_t)max) != 0)
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

/* What delivery_ack needs of a message and its lock. */
struct delivery_msg {
	int64_t spot_id, site_id, seq;
	uint8_t mtype;
	bool acked;
	char result[32];
	uint8_t device_pub[64];
};

static int delivery_err_of(int dbr)
{
	return dbr == -DB_E_BUSY ? -DELIVERY_E_BUSY : -DELIVERY_E_INTERNAL;
}

static int delivery_load(struct db *db, int64_t id, struct delivery_msg *m)
{
	struct db_stmt *st;
	struct proto_msg frame_msg;
	const void *frame, *pub;
	size_t frame_len = 0, pub_len = 0;
	int r;

	memset(m, 0, sizeof(*m));
	st = db_prepare(db, "SELECT q.spot_id, s.site_id, q.seq, q.state, q.result, q.frame, "
			"l.device_pub FROM mgmt_queue q JOIN locks l ON l.spot_id = q.spot_id "
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
	m->spot_id = db_col_int(st, 0);
	m->site_id = db_col_int(st, 1);
	m->seq = db_col_int(st, 2);
	m->acked = strcmp(db_col_text(st, 3), "pending") != 0;
	snprintf(m->result, sizeof(m->result), "%s",
		 db_col_null(st, 4) ? db_col_text(st, 3) : db_col_text(st, 4));
	frame = db_col_blob(st, 5, &frame_len);
	pub = db_col_blob(st, 6, &pub_len);
	r = -DELIVERY_E_INTERNAL;
	/* The stored frame is ours; it must decode, or the queue is corrupt. */
	if (frame == NULL || proto_decode(frame, frame_len, &frame_msg) != 0 ||
	    frame_msg.type != PROTO_MGMT || pub == NULL || pub_len != 64)
		goto out;
	m->mtype = frame_msg.u.mgmt.mtype;
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

int delivery_ack(struct db *db, int64_t gateway_id, int64_t now, int64_t message_id,
		 const uint8_t *ack, size_t ack_len, const char *error, char result[32])
{
	struct delivery_msg m;
	struct proto_msg a;
	int r;

	if ((r = delivery_load(db, message_id, &m)) != 0)
		return r;
	r = delivery_covers(db, gateway_id, m.spot_id);
	if (r <= 0)
		return r < 0 ? r : -DELIVERY_E_FORBIDDEN;
	r = db_exec(db, "UPDATE gateways SET last_seen_at = $1 WHERE id = $2", "ii", now,
		    gateway_id);
	if (r != 0)
		return delivery_err_of(r);
	if (error != NULL) {
		/* Not delivered: the message stays as it is, for the next attempt. */
		snprintf(result, 32, "%s", m.acked ? m.result : "pending");
		return 0;
	}
	if ((r = delivery_check_ack(&m, ack, ack_len, &a)) != 0)
		return r;
	if (m.acked) {
		snprintf(result, 32, "%s", m.result);
		return 0;
	}
	snprintf(result, 32, "%s", proto_status_name(a.u.ack.result));
	r = db_exec(db, "UPDATE mgmt_queue SET state = 'acked', result = $1, acked_at = $2, "
		    "ack = $3, gateway_id = $4 WHERE id = $5 AND state = 'pending'", "sibii",
		    result, now, (const void *)ack, ack_len, gateway_id, message_id);
	return r == 0 ? 0 : delivery_err_of(r);
}
