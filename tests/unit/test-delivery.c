/*
 * test-delivery.c: server/delivery on the test site with credentials queued by
 * server/key and acknowledged by in-process lock cores: each gateway sees only the
 * locks and messages it covers, oldest first and bounded; a long poll gives each out at
 * most once per redeliver_s, or all again on resume; a real MGMT_ACK closes its message
 * (again harmlessly), and forged, foreign, mismatched or uncovered acks change nothing;
 * a refusal by the lock is stored as its status name; an error word leaves the message
 * pending; stale_sequence makes a bounded number of resends under fresh sequences, just
 * above ours when the lock applied a later message, a margin above when the lock is
 * ahead of the server (a restored database).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../lib/ecies.h"
#include "../../lib/log.h"
#include "../../lib/signer.h"
#include "../../server/delivery.h"
#include "../../server/key.h"
#include "../support/test-site-db.h"

/* The single integer a query returns. */
static int64_t query(struct db *db, const char *sql)
{
	return test_site_db_int(db, sql);
}

#define NOW 1800000000

struct fixture {
	struct test_site_db *t;
	int64_t alice, bob;
	struct test_user dev;
	struct test_lock *lock; /* the lock of spot 101 */
	int64_t resent;         /* the resend the last ack() made, 0 for none */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	must(f != NULL);
	f->t = test_site_db_new();
	f->alice = test_site_db_user(f->t, 1);
	f->bob = test_site_db_user(f->t, 2);
	test_site_db_import_good(f->t);
	test_user_init(&f->dev, (uint32_t)f->alice);
	f->lock = calloc(1, sizeof(*f->lock));
	must(f->lock != NULL);
	test_site_db_attach_lock(f->t, f->lock, 101);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_lock_free(f->lock);
	free(f->lock);
	test_user_free(&f->dev);
	test_site_db_free(f->t);
	free(f);
	return 0;
}

/* Issues a key to `user` for `spot` and returns its queued message's ID. */
static int64_t issue(struct fixture *f, int64_t user, uint32_t spot)
{
	uint8_t pub[64], plain[4], ct[4 + ECIES_OVERHEAD];
	struct key_issued k;
	struct key_error err;
	bool created;

	assert_int_equal(key_reservation(f->t->db, f->t->master, user, NOW, pub, &created), 0);
	wire_store_u32(plain, spot);
	assert_int_equal(ecies_encrypt(pub, plain, 4, ct, sizeof(ct)), (int)sizeof(ct));
	assert_int_equal(db_begin(f->t->db), 0);
	assert_int_equal(key_issue(f->t->db, f->t->master, user, NOW, ct, sizeof(ct),
				   f->dev.device_pub, &k, &err), 0);
	assert_int_equal(db_commit(f->t->db), 0);
	return k.mgmt_id;
}

/* The frame of message `id`, from the gateway's view: hex decoded. */
static size_t pending_frame(json_object *arr, int64_t id, uint8_t *frame, size_t cap)
{
	size_t i;

	for (i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *v;

		assert_true(json_object_object_get_ex(o, "id", &v));
		if (json_object_get_int64(v) != id)
			continue;
		assert_true(json_object_object_get_ex(o, "frame", &v));
		return (size_t)hex_decode(json_object_get_string(v), frame, cap);
	}
	fail_msg("message %lld is not pending", (long long)id);
	return 0;
}

static int ack(struct fixture *f, int64_t gateway, int64_t id, const uint8_t *a, size_t len,
	       const char *error, char result[32])
{
	int r;

	assert_int_equal(db_begin(f->t->db), 0);
	r = delivery_ack(f->t->db, f->t->master, gateway, NOW + 10, id, a, len, error, result,
			 &f->resent);
	if (r == 0)
		assert_int_equal(db_commit(f->t->db), 0);
	else
		db_rollback(f->t->db);
	return r;
}

static const char *state_of(struct fixture *f, int64_t id, char buf[32])
{
	struct db_stmt *st = db_prepare(f->t->db, "SELECT state FROM mgmt_queue WHERE id = $1");

	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, id), 0);
	assert_int_equal(db_step(st), DB_ROW);
	snprintf(buf, 32, "%s", db_col_text(st, 0));
	db_finalize(st);
	return buf;
}

/* An integer column of message `id`. */
static int64_t column(struct fixture *f, const char *col, int64_t id)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT %s FROM mgmt_queue WHERE id = %lld", col,
		 (long long)id);
	return query(f->t->db, sql);
}

/* The stored frame of message `id`, decoded into m (payload into p). */
static void stored_frame(struct fixture *f, int64_t id, uint8_t *frame, size_t *len,
			 struct proto_msg *m, union proto_mgmt_payload *p)
{
	struct db_stmt *st = db_prepare(f->t->db, "SELECT frame FROM mgmt_queue WHERE id = $1");
	const void *b;

	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, id), 0);
	assert_int_equal(db_step(st), DB_ROW);
	b = db_col_blob(st, 0, len);
	assert_true(*len <= PROTO_FRAME_MAX);
	memcpy(frame, b, *len);
	db_finalize(st);
	assert_int_equal(proto_decode(frame, *len, m), 0);
	assert_int_equal(m->type, PROTO_MGMT);
	assert_int_equal(proto_mgmt_decode_payload(m->u.mgmt.mtype, m->u.mgmt.payload,
						   m->u.mgmt.plen, p), 0);
}

/* Delivers stored message `id` to the test lock and reports its ack; the lock's result. */
static int deliver_and_ack(struct fixture *f, int64_t id, char result[32])
{
	uint8_t frame[PROTO_FRAME_MAX], a[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	struct proto_msg m;
	size_t n = 0, alen = 0;
	int lock_result;

	stored_frame(f, id, frame, &n, &m, &p);
	lock_result = test_site_db_deliver(f->lock, frame, n, a, &alen);
	assert_int_equal(ack(f, 1, id, a, alen, NULL, result), 0);
	return lock_result;
}

/* Queues a SET_TIME for spot 101 through delivery_queue(); its message ID. */
static int64_t queue_time(struct fixture *f, uint32_t time)
{
	struct delivery_msg_spec spec = { 101, TEST_SITE_DB_SITE_ID, PROTO_MGMT_SET_TIME,
					  "set_time", 0 };
	union proto_mgmt_payload p;
	EVP_PKEY *key = NULL;
	int64_t id = 0;

	memset(&p, 0, sizeof(p));
	p.time = time;
	assert_int_equal(site_key(f->t->db, f->t->master, TEST_SITE_DB_SITE_ID, &key), 0);
	assert_int_equal(db_begin(f->t->db), 0);
	assert_int_equal(delivery_queue(f->t->db, key, &spec, &p, NOW, &id), 0);
	assert_int_equal(db_commit(f->t->db), 0);
	EVP_PKEY_free(key);
	return id;
}

/*
 * Moves the test lock's management sequence to `seq` with a SET_LOCKOUT the server never
 * issued: the lock as it is after the server's database was restored from a backup.
 */
static void lock_ahead(struct fixture *f, uint32_t seq)
{
	uint8_t frame[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	EVP_PKEY *key = NULL;
	int n;

	memset(&p, 0, sizeof(p));
	p.lockout.max_failures = 5;
	p.lockout.window_s = 60;
	p.lockout.lockout_s = 300;
	assert_int_equal(site_key(f->t->db, f->t->master, TEST_SITE_DB_SITE_ID, &key), 0);
	n = signer_mgmt_frame(key, TEST_SITE_DB_SITE_ID, 1, PROTO_MGMT_SET_LOCKOUT, 101, seq, &p,
			      frame, sizeof(frame));
	EVP_PKEY_free(key);
	assert_true(n > 0);
	assert_int_equal(test_site_db_deliver(f->lock, frame, (size_t)n, NULL, NULL), PROTO_OK);
}

static void test_locks_per_gateway(void **state)
{
	struct fixture *f = *state;
	json_object *l1 = delivery_locks(f->t->db, 1), *l2 = delivery_locks(f->t->db, 2), *v;

	assert_non_null(l1);
	assert_int_equal(json_object_array_length(l1), 2);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(l1, 1), "spot", &v));
	assert_int_equal(json_object_get_int64(v), 102);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(l1, 1), "address", &v));
	assert_string_equal(json_object_get_string(v), "run/locks/102.sock");
	assert_int_equal(json_object_array_length(l2), 2);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(l2, 0), "spot", &v));
	assert_int_equal(json_object_get_int64(v), 201);
	json_object_put(l1);
	json_object_put(l2);
	l1 = delivery_locks(f->t->db, 99);
	assert_int_equal(json_object_array_length(l1), 0);
	json_object_put(l1);
}

static void test_pending_per_gateway(void **state)
{
	struct fixture *f = *state;
	int64_t a = issue(f, f->alice, 101), b = issue(f, f->bob, 201);
	int64_t c = issue(f, f->alice, 102);
	json_object *p1 = delivery_pending(f->t->db, 1, DELIVERY_BATCH_MAX);
	json_object *p2 = delivery_pending(f->t->db, 2, DELIVERY_BATCH_MAX), *v;

	assert_int_equal(json_object_array_length(p1), 2);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(p1, 0), "id", &v));
	assert_int_equal(json_object_get_int64(v), a);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(p1, 1), "id", &v));
	assert_int_equal(json_object_get_int64(v), c);
	assert_int_equal(json_object_array_length(p2), 1);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(p2, 0), "id", &v));
	assert_int_equal(json_object_get_int64(v), b);
	json_object_put(p1);
	json_object_put(p2);
	p1 = delivery_pending(f->t->db, 1, 1);
	assert_int_equal(json_object_array_length(p1), 1);
	json_object_put(p1);
}

static void test_ack_closes_message(void **state)
{
	struct fixture *f = *state;
	int64_t id = issue(f, f->alice, 101);
	json_object *p = delivery_pending(f->t->db, 1, DELIVERY_BATCH_MAX);
	uint8_t frame[PROTO_FRAME_MAX], a[PROTO_FRAME_MAX];
	size_t n = pending_frame(p, id, frame, sizeof(frame)), alen = 0;
	char result[32], buf[32];

	json_object_put(p);
	assert_int_equal(test_site_db_deliver(f->lock, frame, n, a, &alen), PROTO_OK);
	/* Gateway 2 does not cover spot 101; message 999 does not exist. */
	assert_int_equal(ack(f, 2, id, a, alen, NULL, result), -DELIVERY_E_FORBIDDEN);
	assert_int_equal(ack(f, 1, 999, a, alen, NULL, result), -DELIVERY_E_NOTFOUND);
	assert_string_equal(state_of(f, id, buf), "pending");
	/* The real ack from the right gateway. */
	assert_int_equal(ack(f, 1, id, a, alen, NULL, result), 0);
	assert_string_equal(result, "ok");
	assert_string_equal(state_of(f, id, buf), "acked");
	assert_int_equal(query(f->t->db, "SELECT COUNT(*) FROM mgmt_queue WHERE result = 'ok' "
			       "AND acked_at = 1800000010 AND gateway_id = 1 "
			       "AND ack IS NOT NULL"), 1);
	assert_int_equal(query(f->t->db, "SELECT last_seen_at FROM gateways WHERE id = 1"),
			 NOW + 10);
	p = delivery_pending(f->t->db, 1, DELIVERY_BATCH_MAX);
	assert_int_equal(json_object_array_length(p), 0);
	json_object_put(p);
	/* Again (a retry after a lost reply): accepted, nothing changes. */
	assert_int_equal(ack(f, 1, id, a, alen, NULL, result), 0);
	assert_string_equal(result, "ok");
	assert_int_equal(query(f->t->db, "SELECT COUNT(*) FROM mgmt_queue WHERE state = 'acked'"),
			 1);
}

static void test_forged_acks_refused(void **state)
{
	struct fixture *f = *state;
	int64_t id = issue(f, f->alice, 101), other = issue(f, f->alice, 101);
	json_object *p = delivery_pending(f->t->db, 1, DELIVERY_BATCH_MAX);
	uint8_t frame[PROTO_FRAME_MAX], a[PROTO_FRAME_MAX], bad[PROTO_FRAME_MAX];
	size_t n = pending_frame(p, id, frame, sizeof(frame)), alen = 0, i;
	char result[32], buf[32];
	EVP_PKEY *k;
	uint8_t pub[64];

	json_object_put(p);
	assert_int_equal(test_site_db_deliver(f->lock, frame, n, a, &alen), PROTO_OK);
	/* Every byte of the ack, flipped in turn, but the tag (byte 2), which nobody signs. */
	for (i = 0; i < alen; i++) {
		if (i == 2)
			continue;
		memcpy(bad, a, alen);
		bad[i] ^= 0x04;
		assert_int_equal(ack(f, 1, id, bad, alen, NULL, result), -DELIVERY_E_BAD_ACK);
	}
	/* Truncated, empty, or not an ack at all (the message frame itself). */
	assert_int_equal(ack(f, 1, id, a, alen - 1, NULL, result), -DELIVERY_E_BAD_ACK);
	assert_int_equal(ack(f, 1, id, NULL, 0, NULL, result), -DELIVERY_E_BAD_ACK);
	assert_int_equal(ack(f, 1, id, frame, n, NULL, result), -DELIVERY_E_BAD_ACK);
	/* This message's ack offered for another one (another sequence). */
	assert_int_equal(ack(f, 1, other, a, alen, NULL, result), -DELIVERY_E_BAD_ACK);
	assert_string_equal(state_of(f, id, buf), "pending");
	assert_string_equal(state_of(f, other, buf), "pending");
	/* With another device key on record, the lock's real ack does not verify. */
	k = p256_generate();
	assert_int_equal(p256_public_raw(k, pub), 0);
	EVP_PKEY_free(k);
	assert_int_equal(db_exec(f->t->db, "UPDATE locks SET device_pub = $1 WHERE spot_id = 101",
				 "b", (const void *)pub, (size_t)64), 0);
	assert_int_equal(ack(f, 1, id, a, alen, NULL, result), -DELIVERY_E_BAD_ACK);
	assert_string_equal(state_of(f, id, buf), "pending");
}

static void test_refusal_and_error_word(void **state)
{
	struct fixture *f = *state;
	int64_t first = issue(f, f->alice, 101), second = issue(f, f->alice, 101);
	json_object *p = delivery_pending(f->t->db, 1, DELIVERY_BATCH_MAX);
	uint8_t f1[PROTO_FRAME_MAX], f2[PROTO_FRAME_MAX], a[PROTO_FRAME_MAX];
	size_t n1 = pending_frame(p, first, f1, sizeof(f1)), n2 = pending_frame(p, second, f2,
										 sizeof(f2));
	size_t alen = 0;
	char result[32], buf[32];

	json_object_put(p);
	/* The gateway could not reach the lock: still pending. */
	assert_int_equal(ack(f, 1, first, NULL, 0, "unreachable", result), 0);
	assert_string_equal(result, "pending");
	assert_string_equal(state_of(f, first, buf), "pending");
	/* Delivered out of order: sequence 2 first, then 1 is stale on the lock. */
	assert_int_equal(test_site_db_deliver(f->lock, f2, n2, a, &alen), PROTO_OK);
	assert_int_equal(ack(f, 1, second, a, alen, NULL, result), 0);
	assert_string_equal(result, "ok");
	assert_int_equal(test_site_db_deliver(f->lock, f1, n1, a, &alen), PROTO_E_STALE);
	assert_int_equal(ack(f, 1, first, a, alen, NULL, result), 0);
	assert_string_equal(result, "stale_sequence");
	assert_string_equal(state_of(f, first, buf), "failed");
	assert_true(f->resent > 0);
	/* An error word after the ack does not reopen it. */
	assert_int_equal(ack(f, 1, first, NULL, 0, "unreachable", result), 0);
	assert_string_equal(result, "stale_sequence");
	assert_int_equal(f->resent, 0);
}

/*
 * The lock's last word on a frame, reported by the gateway, closes the message as
 * failed; a refusal for now, silence or an unknown word leaves it pending; a closed
 * message stays as it was.
 */
static void test_error_word_for_good(void **state)
{
	struct fixture *f = *state;
	int64_t id = issue(f, f->alice, 101), other = issue(f, f->alice, 101);
	static const char *const waits[] = { "unreachable", "flash_error", "internal",
					     "unprovisioned", "bad_fragment", "bad_length",
					     "stale_sequence", "no_such_word" };
	char result[32], buf[32];
	size_t i;

	for (i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		assert_int_equal(ack(f, 1, id, NULL, 0, waits[i], result), 0);
		assert_string_equal(result, "pending");
		assert_string_equal(state_of(f, id, buf), "pending");
	}
	assert_int_equal(ack(f, 1, id, NULL, 0, "bad_site_signature", result), 0);
	assert_string_equal(result, "bad_site_signature");
	assert_string_equal(state_of(f, id, buf), "failed");
	assert_int_equal(test_site_db_int(f->t->db, "SELECT count(*) FROM mgmt_queue WHERE "
					  "result = 'bad_site_signature' AND ack IS NULL AND "
					  "gateway_id = 1"), 1);
	assert_int_equal(f->resent, 0);
	/* Closed: another word changes nothing. */
	assert_int_equal(ack(f, 1, id, NULL, 0, "bad_frame", result), 0);
	assert_string_equal(result, "bad_site_signature");
	assert_int_equal(ack(f, 1, other, NULL, 0, "bad_frame", result), 0);
	assert_string_equal(state_of(f, other, buf), "failed");
	/* Not the gateway's to close: one that does not cover the lock changes nothing. */
	id = issue(f, f->alice, 101);
	assert_int_not_equal(ack(f, 99, id, NULL, 0, "bad_value", result), 0);
	assert_string_equal(state_of(f, id, buf), "pending");
}

static void test_queue_signs_under_next_sequence(void **state)
{
	struct fixture *f = *state;
	int64_t cred = issue(f, f->alice, 101), t1 = queue_time(f, NOW), t2 = queue_time(f, NOW + 5);
	uint8_t frame[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	struct proto_msg m;
	size_t n = 0;
	char result[32];
	struct delivery_msg_spec bad = { 999, TEST_SITE_DB_SITE_ID, PROTO_MGMT_SET_TIME,
					 "set_time", 0 };
	EVP_PKEY *key = NULL;

	/* One counter per lock, shared with the credentials key.c queues. */
	assert_int_equal(column(f, "seq", cred), 1);
	assert_int_equal(column(f, "seq", t1), 2);
	assert_int_equal(column(f, "seq", t2), 3);
	assert_int_equal(query(f->t->db, "SELECT mgmt_seq FROM locks WHERE spot_id = 101"), 3);
	assert_int_equal(query(f->t->db, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'set_time' "
			       "AND key_id IS NULL AND state = 'pending' AND resends = 0 "
			       "AND resend_of IS NULL AND created_at = 1800000000"), 2);
	stored_frame(f, t2, frame, &n, &m, &p);
	assert_int_equal(m.u.mgmt.mtype, PROTO_MGMT_SET_TIME);
	assert_int_equal(m.u.mgmt.target_spot, 101);
	assert_int_equal(m.u.mgmt.seq, 3);
	assert_int_equal(p.time, NOW + 5);
	/* The lock takes them in order: the site signature is good. */
	assert_int_equal(deliver_and_ack(f, cred, result), PROTO_OK);
	assert_int_equal(deliver_and_ack(f, t1, result), PROTO_OK);
	assert_int_equal(deliver_and_ack(f, t2, result), PROTO_OK);
	assert_string_equal(result, "ok");
	/* No such lock; a REVOKE (its own serial) is not queued per lock. */
	assert_int_equal(site_key(f->t->db, f->t->master, TEST_SITE_DB_SITE_ID, &key), 0);
	assert_int_equal(db_begin(f->t->db), 0);
	assert_int_equal(delivery_queue(f->t->db, key, &bad, &p, NOW, NULL), -DELIVERY_E_NOTFOUND);
	bad.spot_id = 101;
	bad.mtype = PROTO_MGMT_REVOKE;
	assert_int_equal(delivery_queue(f->t->db, key, &bad, &p, NOW, NULL), -DELIVERY_E_INTERNAL);
	db_rollback(f->t->db);
	/* A lock at the end of its sequences gets nothing, and nothing changes. */
	assert_int_equal(db_exec(f->t->db, "UPDATE locks SET mgmt_seq = 4294967295 "
				 "WHERE spot_id = 102", NULL), 0);
	bad.spot_id = 102;
	bad.mtype = PROTO_MGMT_SET_TIME;
	assert_int_equal(db_begin(f->t->db), 0);
	assert_int_equal(delivery_queue(f->t->db, key, &bad, &p, NOW, NULL), -DELIVERY_E_SPENT);
	db_rollback(f->t->db);
	EVP_PKEY_free(key);
}

/* The IDs a give returned, in order, into ids; the count. */
static size_t given(json_object *arr, int64_t *ids, size_t cap)
{
	size_t i, n;
	json_object *v;

	assert_non_null(arr);
	n = json_object_array_length(arr);
	assert_true(n <= cap);
	for (i = 0; i < n; i++) {
		assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, i), "id", &v));
		ids[i] = json_object_get_int64(v);
	}
	json_object_put(arr);
	return n;
}

static void test_give_once_per_redeliver(void **state)
{
	struct fixture *f = *state;
	int64_t a = issue(f, f->alice, 101), b = issue(f, f->bob, 201), c, ids[8], due = -1;
	char result[32];

	/* The first poll gives what is pending, and marks it. */
	assert_int_equal(given(delivery_give(f->t->db, 1, NOW, 30, false, 64, &due), ids, 8), 1);
	assert_int_equal(ids[0], a);
	assert_int_equal(due, NOW + 30);
	assert_int_equal(column(f, "last_given_at", a), NOW);
	/* Again within redeliver_s: nothing, and when it falls due. */
	assert_int_equal(given(delivery_give(f->t->db, 1, NOW + 5, 30, false, 64, &due), ids, 8),
			 0);
	assert_int_equal(due, NOW + 30);
	/* A new message goes out at once; the quiet one does not come with it. */
	c = issue(f, f->alice, 102);
	assert_int_equal(given(delivery_give(f->t->db, 1, NOW + 6, 30, false, 64, &due), ids, 8),
			 1);
	assert_int_equal(ids[0], c);
	assert_int_equal(due, NOW + 30);
	/* A gateway that has just started gets all of them. */
	assert_int_equal(given(delivery_give(f->t->db, 1, NOW + 7, 30, true, 64, &due), ids, 8),
			 2);
	assert_int_equal(ids[0], a);
	assert_int_equal(ids[1], c);
	assert_int_equal(due, NOW + 37);
	/* Once redeliver_s has passed, again; bounded by max. */
	assert_int_equal(given(delivery_give(f->t->db, 1, NOW + 37, 30, false, 1, &due), ids, 8),
			 1);
	assert_int_equal(ids[0], a);
	/* The other gateway's lock is its own affair; pending() still shows everything. */
	assert_int_equal(given(delivery_give(f->t->db, 2, NOW + 37, 30, false, 64, &due), ids, 8),
			 1);
	assert_int_equal(ids[0], b);
	assert_int_equal(given(delivery_pending(f->t->db, 1, 64), ids, 8), 2);
	/* Closed messages are given no more, and nothing is due. */
	assert_int_equal(deliver_and_ack(f, a, result), PROTO_OK);
	assert_int_equal(db_exec(f->t->db, "UPDATE mgmt_queue SET state = 'acked' WHERE id = $1",
				 "i", c), 0);
	assert_int_equal(given(delivery_give(f->t->db, 1, NOW + 100, 30, true, 64, &due), ids, 8),
			 0);
	assert_int_equal(due, 0);
	assert_int_equal(given(delivery_give(f->t->db, 99, NOW + 100, 30, true, 64, &due), ids, 8),
			 0);
}

static void test_stale_after_reorder_resent_above(void **state)
{
	struct fixture *f = *state;
	int64_t first = issue(f, f->alice, 101), second = issue(f, f->alice, 101), again;
	uint8_t frame[PROTO_FRAME_MAX], orig[PROTO_FRAME_MAX];
	union proto_mgmt_payload p, po;
	struct proto_msg m, mo;
	size_t n = 0, no = 0;
	char result[32], buf[32];

	/* Sequence 2 overtook 1 (a message got reordered). */
	assert_int_equal(deliver_and_ack(f, second, result), PROTO_OK);
	assert_int_equal(deliver_and_ack(f, first, result), PROTO_E_STALE);
	assert_string_equal(result, "stale_sequence");
	assert_string_equal(state_of(f, first, buf), "failed");
	again = f->resent;
	assert_true(again > second);
	/* Just above what the server issued: the lock applied one of ours. */
	assert_int_equal(column(f, "seq", again), 3);
	assert_int_equal(query(f->t->db, "SELECT mgmt_seq FROM locks WHERE spot_id = 101"), 3);
	assert_int_equal(column(f, "resend_of", again), first);
	assert_int_equal(column(f, "resends", again), 1);
	assert_int_equal(column(f, "key_id", again), column(f, "key_id", first));
	assert_string_equal(state_of(f, again, buf), "pending");
	/* The same payload, signed again. */
	stored_frame(f, first, orig, &no, &mo, &po);
	stored_frame(f, again, frame, &n, &m, &p);
	assert_int_equal(m.u.mgmt.mtype, PROTO_MGMT_INSTALL_CRED);
	assert_int_equal(p.cred.key_id, po.cred.key_id);
	assert_memory_equal(p.cred.res_pub, po.cred.res_pub, 64);
	assert_int_equal(deliver_and_ack(f, again, result), PROTO_OK);
	assert_string_equal(state_of(f, again, buf), "acked");
	assert_int_equal(f->resent, 0);
	assert_int_equal(query(f->t->db, "SELECT COUNT(*) FROM mgmt_queue"), 3);
}

static void test_stale_lock_ahead_margin_and_cap(void **state)
{
	struct fixture *f = *state;
	int64_t id, ids[DELIVERY_RESENDS_MAX + 1];
	union proto_mgmt_payload p;
	struct proto_msg m;
	uint8_t frame[PROTO_FRAME_MAX];
	size_t n = 0;
	char result[32], buf[32];
	int i;

	/* Restored from a backup: the lock is at 500, the server at 0. */
	lock_ahead(f, 500);
	id = queue_time(f, NOW);
	assert_int_equal(column(f, "seq", id), 1);
	assert_int_equal(deliver_and_ack(f, id, result), PROTO_E_STALE);
	/* A margin above: the lock is past anything the server knows of. */
	assert_int_equal(column(f, "seq", f->resent), 1 + DELIVERY_SEQ_MARGIN);
	/* A time is signed afresh: the server's clock at the resend. */
	stored_frame(f, f->resent, frame, &n, &m, &p);
	assert_int_equal(p.time, NOW + 10);
	assert_int_equal(deliver_and_ack(f, f->resent, result), PROTO_OK);

	/* Far ahead: each resend jumps the margin, and after DELIVERY_RESENDS_MAX it stops. */
	lock_ahead(f, 100000);
	ids[0] = queue_time(f, NOW);
	for (i = 0; i < DELIVERY_RESENDS_MAX; i++) {
		assert_int_equal(deliver_and_ack(f, ids[i], result), PROTO_E_STALE);
		ids[i + 1] = f->resent;
		assert_true(ids[i + 1] > 0);
		assert_int_equal(column(f, "resend_of", ids[i + 1]), ids[0]);
		assert_int_equal(column(f, "resends", ids[i + 1]), i + 1);
		assert_int_equal(column(f, "seq", ids[i + 1]),
				 column(f, "seq", ids[i]) + DELIVERY_SEQ_MARGIN);
	}
	assert_int_equal(deliver_and_ack(f, ids[DELIVERY_RESENDS_MAX], result), PROTO_E_STALE);
	assert_int_equal(f->resent, 0);
	for (i = 0; i <= DELIVERY_RESENDS_MAX; i++)
		assert_string_equal(state_of(f, ids[i], buf), "failed");
	assert_int_equal(query(f->t->db, "SELECT COUNT(*) FROM mgmt_queue "
			       "WHERE state = 'pending'"), 0);
}

/*
 * An override that comes back stale with nothing of the server's applied after it (the
 * lock is ahead: a restored database, or an ack lost before the lock knew a message
 * again) may have moved the barrier: it is closed as failed and not sent again (other
 * kinds, which do the same when applied twice, are).
 */
static void test_stale_override_not_resent(void **state)
{
	struct fixture *f = *state;
	struct delivery_msg_spec spec = { 101, TEST_SITE_DB_SITE_ID, PROTO_MGMT_REMOTE_OPERATE,
					  "override", 0 };
	uint8_t frame[PROTO_FRAME_MAX], a[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	struct proto_msg m;
	EVP_PKEY *key = NULL;
	size_t n = 0, alen = 0;
	int64_t id = 0;
	char result[32], buf[32];

	lock_ahead(f, 1);
	memset(&p, 0, sizeof(p));
	p.remote.op = PROTO_OP_UNLOCK;
	p.remote.user_id = 7;
	p.remote.not_after = PROTO_TIME_NONE_AFTER;
	assert_int_equal(site_key(f->t->db, f->t->master, TEST_SITE_DB_SITE_ID, &key), 0);
	assert_int_equal(db_begin(f->t->db), 0);
	assert_int_equal(delivery_queue(f->t->db, key, &spec, &p, NOW, &id), 0);
	assert_int_equal(db_commit(f->t->db), 0);
	EVP_PKEY_free(key);
	assert_int_equal(column(f, "seq", id), 1);
	stored_frame(f, id, frame, &n, &m, &p);
	assert_int_equal(test_site_db_deliver(f->lock, frame, n, a, &alen), PROTO_E_STALE);
	assert_int_equal(ack(f, 1, id, a, alen, NULL, result), 0);
	assert_string_equal(result, "stale_sequence");
	assert_string_equal(state_of(f, id, buf), "failed");
	assert_int_equal(f->resent, 0);
	assert_int_equal(query(f->t->db, "SELECT COUNT(*) FROM mgmt_queue "
			       "WHERE state = 'pending'"), 0);
}

/*
 * A signed answer that the lock's flash failed (nothing applied) closes the message and
 * queues it again under the next sequence, which the lock takes once it is back.
 */
static void test_flash_error_queued_again(void **state)
{
	struct fixture *f = *state;
	int64_t id = issue(f, f->alice, 101);
	uint8_t frame[PROTO_FRAME_MAX], a[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	struct proto_msg m;
	size_t n = 0, alen = 0;
	char result[32], buf[32];

	stored_frame(f, id, frame, &n, &m, &p);
	sim_hw_arm_cut(&f->lock->tp.hw, 1, 0);
	assert_int_equal(test_site_db_deliver(f->lock, frame, n, a, &alen), PROTO_E_FLASH);
	assert_int_equal(ack(f, 1, id, a, alen, NULL, result), 0);
	assert_string_equal(result, "flash_error");
	assert_string_equal(state_of(f, id, buf), "failed");
	assert_true(f->resent > 0);
	assert_int_equal(column(f, "seq", f->resent), column(f, "seq", id) + 1);
	assert_string_equal(state_of(f, f->resent, buf), "pending");
	sim_hw_power_on(&f->lock->tp.hw);
	assert_int_equal(test_lock_reboot(f->lock), 0);
	assert_int_equal(deliver_and_ack(f, f->resent, result), PROTO_OK);
	assert_int_equal(f->lock->lock.creds.count, 1);
}

static void test_stale_spent_sequence_not_resent(void **state)
{
	struct fixture *f = *state;
	int64_t id;
	char result[32], buf[32];

	lock_ahead(f, 500);
	id = queue_time(f, NOW);
	assert_int_equal(db_exec(f->t->db, "UPDATE locks SET mgmt_seq = 4294967000 "
				 "WHERE spot_id = 101", NULL), 0);
	assert_int_equal(deliver_and_ack(f, id, result), PROTO_E_STALE);
	assert_string_equal(state_of(f, id, buf), "failed");
	assert_int_equal(f->resent, 0);
	assert_int_equal(query(f->t->db, "SELECT mgmt_seq FROM locks WHERE spot_id = 101"),
			 4294967000LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_locks_per_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_per_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_closes_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_acks_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_and_error_word, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_word_for_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_signs_under_next_sequence, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_give_once_per_redeliver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_after_reorder_resent_above, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_lock_ahead_margin_and_cap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_override_not_resent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flash_error_queued_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_spent_sequence_not_resent, setup,
						teardown),
	};

	log_init("test-delivery", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
