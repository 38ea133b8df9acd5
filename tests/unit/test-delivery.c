/*
 * test-delivery.c: server/delivery on the test site with credentials queued by
 * server/key and acknowledged by in-process lock cores: each gateway sees only the
 * locks and messages it covers, oldest first and bounded; a real MGMT_ACK closes its
 * message (again harmlessly), and forged, foreign, mismatched or uncovered acks change
 * nothing; a refusal by the lock is stored as its status name; an error word leaves the
 * message pending.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../lib/ecies.h"
#include "../../lib/log.h"
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
	r = delivery_ack(f->t->db, gateway, NOW + 10, id, a, len, error, result);
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
	assert_string_equal(state_of(f, first, buf), "acked");
	/* An error word after the ack does not reopen it. */
	assert_int_equal(ack(f, 1, first, NULL, 0, "unreachable", result), 0);
	assert_string_equal(result, "stale_sequence");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_locks_per_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_per_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_closes_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_acks_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_and_error_word, setup, teardown),
	};

	log_init("test-delivery", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
