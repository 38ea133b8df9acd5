/*
 * test-revocation.c: server/revocation on the test site: the site's list is complete,
 * ascending and distinct, signed by the site key as a REVOKE with target 0 and the next
 * serial, queued for every lock of the site (older ones still pending superseded), and
 * an in-process lock that gets it refuses the key it names; entries leave the list when
 * they expire or when their lock has confirmed them and can never take them back;
 * unfreezing takes a cause's frozen entries off; more than 128 IDs are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../server/delivery.h"
#include "../../server/revocation.h"
#include "../support/test-site-db.h"

#define NOW 1800000000
#define SITE 7
#define NEVER 4294967295LL

struct fixture {
	struct test_site_db *t;
	EVP_PKEY *site_key;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	must(f != NULL);
	f->t = test_site_db_new();
	test_site_db_import_good(f->t);
	must(site_key(f->t->db, f->t->master, SITE, &f->site_key) == 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	EVP_PKEY_free(f->site_key);
	test_site_db_free(f->t);
	free(f);
	return 0;
}

static int64_t count(struct fixture *f, const char *sql)
{
	return test_site_db_int(f->t->db, sql);
}

static void add(struct fixture *f, int64_t id, int64_t cause, bool frozen, int64_t spot,
		int64_t not_after)
{
	struct revocation_entry e = { id, cause, frozen, spot, not_after };

	must(db_begin(f->t->db) == 0);
	assert_int_equal(revocation_add(f->t->db, SITE, &e, NOW), 0);
	must(db_commit(f->t->db) == 0);
}

/* Publishes the next list at `now` in a transaction of its own; its result. */
static int publish(struct fixture *f, int64_t now, uint32_t *serial, uint16_t *n)
{
	int r;

	must(db_begin(f->t->db) == 0);
	r = revocation_publish(f->t->db, f->site_key, SITE, now, serial, n);
	if (r == 0)
		must(db_commit(f->t->db) == 0);
	else
		db_rollback(f->t->db);
	return r;
}

/* The site's list as the phones get it: its frame decoded into *m and *p. */
static void current(struct fixture *f, uint8_t *frame, size_t *len, struct proto_msg *m,
		    union proto_mgmt_payload *p)
{
	json_object *o = revocation_json(f->t->db, SITE), *v;
	int n;

	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "frame", &v));
	n = hex_decode(json_object_get_string(v), frame, PROTO_FRAME_MAX);
	json_object_put(o);
	assert_true(n > 0);
	*len = (size_t)n;
	assert_int_equal(proto_decode(frame, *len, m), 0);
	assert_int_equal(m->type, PROTO_MGMT);
	assert_int_equal(proto_mgmt_decode_payload(m->u.mgmt.mtype, m->u.mgmt.payload,
						   m->u.mgmt.plen, p), 0);
}

static void test_empty_before_any(void **state)
{
	struct fixture *f = *state;
	json_object *o = revocation_json(f->t->db, SITE), *v;

	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "serial", &v));
	assert_int_equal(json_object_get_int64(v), 0);
	assert_true(json_object_object_get_ex(o, "frame", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "ids", &v));
	assert_int_equal(json_object_array_length(v), 0);
	json_object_put(o);
}

static void test_complete_signed_queued(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[PROTO_FRAME_MAX], digest[32], tbs[PROTO_FRAME_MAX + 16];
	union proto_mgmt_payload p;
	struct proto_msg m;
	struct wire_writer w;
	uint32_t serial = 0;
	uint16_t n = 0;
	size_t len = 0;

	add(f, 30, 30, false, 101, NEVER);
	add(f, 12, 12, false, 102, NOW + 100);
	add(f, 30, 12, false, 101, NEVER); /* the same ID for another cause: listed once */
	add(f, 20, 20, true, 201, NEVER);
	assert_int_equal(publish(f, NOW, &serial, &n), 0);
	assert_int_equal(serial, 1);
	assert_int_equal(n, 3);
	current(f, frame, &len, &m, &p);
	assert_int_equal(m.u.mgmt.mtype, PROTO_MGMT_REVOKE);
	assert_int_equal(m.u.mgmt.target_spot, PROTO_TARGET_ALL);
	assert_int_equal(m.u.mgmt.seq, 1);
	assert_int_equal(p.revoke.count, 3);
	assert_int_equal(p.revoke.key_ids[0], 12);
	assert_int_equal(p.revoke.key_ids[1], 20);
	assert_int_equal(p.revoke.key_ids[2], 30);
	/* The site key signed it, for this site. */
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_mgmt_prefix(&w, SITE);
	wire_put_bytes(&w, m.u.mgmt.signed_body, m.u.mgmt.signed_len);
	assert_false(w.error);
	assert_int_equal(p256_sha256(tbs, w.off, digest), 0);
	{
		uint8_t pub[64];

		assert_int_equal(p256_public_raw(f->site_key, pub), 0);
		assert_int_equal(p256_verify_digest(pub, digest, m.u.mgmt.sig), 0);
	}
	/* One copy for each lock of the site, to deliver through its gateways. */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'revoke' AND "
			       "seq = 1 AND state = 'pending' AND key_id IS NULL"), 4);
	assert_int_equal(count(f, "SELECT COUNT(DISTINCT spot_id) FROM mgmt_queue WHERE "
			       "kind = 'revoke'"), 4);

	/* The next one supersedes the copies still waiting. */
	add(f, 40, 40, false, 202, NEVER);
	assert_int_equal(publish(f, NOW, &serial, &n), 0);
	assert_int_equal(serial, 2);
	assert_int_equal(n, 4);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'revoke' AND "
			       "seq = 1 AND state = 'failed' AND result = 'superseded'"), 4);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'revoke' AND "
			       "seq = 2 AND state = 'pending'"), 4);
	assert_int_equal(count(f, "SELECT serial FROM revocation_lists"), 2);
}

static void test_expiry_and_unfreeze(void **state)
{
	struct fixture *f = *state;
	uint32_t serial = 0;
	uint16_t n = 0;

	add(f, 11, 11, false, 101, NOW - REVOCATION_EXPIRY_SLACK_S - 1); /* opens nothing now */
	add(f, 12, 12, false, 101, NOW - REVOCATION_EXPIRY_SLACK_S + 1); /* a slow clock: kept */
	add(f, 13, 13, false, 101, NEVER);
	add(f, 14, 99, true, 101, NEVER);
	add(f, 15, 99, true, 101, NEVER);
	add(f, 15, 15, false, 101, NEVER);
	assert_int_equal(publish(f, NOW, &serial, &n), 0);
	assert_int_equal(n, 4); /* 12, 13, 14, 15 */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM revocations WHERE id = 11"), 0);
	/* Unfreezing 99 takes 14 off, but 15 stays for its own cause. */
	must(db_begin(f->t->db) == 0);
	assert_int_equal(revocation_unfreeze(f->t->db, SITE, 99), 0);
	must(db_commit(f->t->db) == 0);
	assert_int_equal(revocation_listed(f->t->db, SITE, 14), 0);
	assert_int_equal(revocation_listed(f->t->db, SITE, 15), 1);
	assert_int_equal(publish(f, NOW, &serial, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(count(f, "SELECT ids = '[12,13,15]' FROM revocation_lists"), 1);
	/* Later, 12 expires too. */
	assert_int_equal(publish(f, NOW + 10, &serial, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(serial, 3);
}

static void test_at_most_128(void **state)
{
	struct fixture *f = *state;
	uint32_t serial = 0;
	uint16_t n = 0;
	int64_t i;

	for (i = 1; i <= PROTO_REVOKE_MAX; i++)
		add(f, 1000 + i, 1000 + i, false, 101, NEVER);
	assert_int_equal(publish(f, NOW, &serial, &n), 0);
	assert_int_equal(n, PROTO_REVOKE_MAX);
	add(f, 5000, 5000, false, 101, NEVER);
	assert_int_equal(publish(f, NOW, &serial, &n), -REVOCATION_E_FULL);
	/* Refused whole: the list in force and its queue are as they were. */
	assert_int_equal(count(f, "SELECT serial FROM revocation_lists"), 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'revoke'"), 4);
	/* A site's serials end at 2^32 - 1. */
	must(db_exec(f->t->db, "DELETE FROM revocations WHERE id = 5000", NULL) == 0);
	must(db_exec(f->t->db, "UPDATE revocation_lists SET serial = 4294967295", NULL) == 0);
	assert_int_equal(publish(f, NOW, &serial, &n), -REVOCATION_E_SPENT);
}

/* ---- with the lock of spot 101 ---- */

/* Queues a site-signed message for 101 and delivers it to the lock; the ACK's result. */
static int queue_and_deliver(struct fixture *f, struct test_lock *l, uint8_t mtype,
			     const char *kind, int64_t key_id, const union proto_mgmt_payload *p)
{
	struct delivery_msg_spec spec = { 101, SITE, mtype, kind, key_id };
	uint8_t frame[PROTO_FRAME_MAX], ack[PROTO_FRAME_MAX];
	struct db_stmt *st;
	const void *blob;
	size_t n = 0, alen = 0;
	int64_t id = 0, resent = 0;
	char result[32];
	int r;

	must(db_begin(f->t->db) == 0);
	must(delivery_queue(f->t->db, f->site_key, &spec, p, NOW, &id) == 0);
	must(db_commit(f->t->db) == 0);
	st = db_prepare(f->t->db, "SELECT frame FROM mgmt_queue WHERE id = $1");
	must(st != NULL && db_bind_int(st, 1, id) == 0 && db_step(st) == DB_ROW);
	blob = db_col_blob(st, 0, &n);
	memcpy(frame, blob, n);
	db_finalize(st);
	r = test_site_db_deliver(l, frame, n, ack, &alen);
	must(db_begin(f->t->db) == 0);
	must(delivery_ack(f->t->db, f->t->master, 1, NOW, id, ack, alen, NULL, result,
			  &resent) == 0);
	must(db_commit(f->t->db) == 0);
	return r;
}

/* Delivers the newest pending list of 101 and records the lock's ack. */
static int deliver_list(struct fixture *f, struct test_lock *l)
{
	uint8_t frame[PROTO_FRAME_MAX], ack[PROTO_FRAME_MAX];
	struct db_stmt *st;
	const void *blob;
	size_t n = 0, alen = 0;
	int64_t id, resent = 0;
	char result[32];
	int r;

	st = db_prepare(f->t->db, "SELECT id, frame FROM mgmt_queue WHERE spot_id = 101 AND "
			"kind = 'revoke' AND state = 'pending'");
	must(st != NULL && db_step(st) == DB_ROW);
	id = db_col_int(st, 0);
	blob = db_col_blob(st, 1, &n);
	memcpy(frame, blob, n);
	db_finalize(st);
	r = test_site_db_deliver(l, frame, n, ack, &alen);
	must(db_begin(f->t->db) == 0);
	must(delivery_ack(f->t->db, f->t->master, 1, NOW, id, ack, alen, NULL, result,
			  &resent) == 0);
	must(db_commit(f->t->db) == 0);
	return r;
}

static void test_lock_refuses_listed_key(void **state)
{
	struct fixture *f = *state;
	struct test_lock *l = calloc(1, sizeof(*l));
	struct test_user u, v;
	union proto_mgmt_payload p;
	struct proto_ekey k, kv;
	uint32_t serial = 0;
	uint16_t n = 0;

	must(l != NULL);
	test_user_init(&u, 42);
	test_user_init(&v, 43);
	test_site_db_attach_lock(f->t, l, 101);
	p.time = NOW;
	assert_int_equal(queue_and_deliver(f, l, PROTO_MGMT_SET_TIME, "set_time", 0, &p),
			 PROTO_OK);
	/* Two credentials, as key.c queues them; both open. */
	p.cred = test_cred(&u, 9, 0, 0xFFFFFFFFu, 0, 0);
	assert_int_equal(queue_and_deliver(f, l, PROTO_MGMT_INSTALL_CRED, "install_cred", 9, &p),
			 PROTO_OK);
	p.cred = test_cred(&v, 10, 0, 0xFFFFFFFFu, 0, 0);
	assert_int_equal(queue_and_deliver(f, l, PROTO_MGMT_INSTALL_CRED, "install_cred", 10, &p),
			 PROTO_OK);
	k = test_ekey(&u, 9, 101, 0, 0xFFFFFFFFu, 0);
	kv = test_ekey(&v, 10, 101, 0, 0xFFFFFFFFu, 0);
	assert_int_equal(test_lock_operate(l, &u, 42, &k, PROTO_OP_UNLOCK), PROTO_OK);

	/* Key 9 revoked: the list names it, and the lock refuses it; key 10 still opens. */
	add(f, 9, 9, false, 101, NEVER);
	assert_int_equal(publish(f, NOW, &serial, &n), 0);
	assert_int_equal(deliver_list(f, l), PROTO_OK);
	assert_int_equal(l->lock.cfg.revoke_serial, 1);
	assert_int_equal(test_lock_operate(l, &u, 42, &k, PROTO_OP_UNLOCK), PROTO_E_REVOKED);
	assert_int_equal(test_lock_operate(l, &v, 43, &kv, PROTO_OP_UNLOCK), PROTO_OK);

	/*
	 * The lock confirmed the list and applied a message after key 9's install: key 9 can
	 * never come back, so its entry retires and the next list is shorter. Key 10's
	 * entry, added with the lock not yet having confirmed it, stays.
	 */
	add(f, 10, 10, false, 101, NEVER);
	assert_int_equal(publish(f, NOW, &serial, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(revocation_listed(f->t->db, SITE, 9), 0);
	assert_int_equal(revocation_listed(f->t->db, SITE, 10), 1);
	assert_int_equal(deliver_list(f, l), PROTO_OK);
	assert_int_equal(test_lock_operate(l, &v, 43, &kv, PROTO_OP_UNLOCK), PROTO_E_REVOKED);
	/* Key 9 is off the list, and still refused: the lock deleted its credential. */
	assert_int_equal(test_lock_operate(l, &u, 42, &k, PROTO_OP_UNLOCK), PROTO_E_UNKNOWN_KEY);

	/* An install newer than anything the lock applied keeps an entry on the list. */
	must(db_exec(f->t->db, "INSERT INTO mgmt_queue (spot_id, seq, kind, key_id, frame, "
		     "created_at, state) VALUES (101, 1000, 'install_cred', 10, x'00', 1, "
		     "'pending')", NULL) == 0);
	add(f, 77, 77, false, 101, NEVER);
	assert_int_equal(publish(f, NOW, &serial, &n), 0);
	assert_int_equal(revocation_listed(f->t->db, SITE, 10), 1);

	test_user_free(&u);
	test_user_free(&v);
	test_lock_free(l);
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_before_any, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_signed_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_and_unfreeze, setup, teardown),
		cmocka_unit_test_setup_teardown(test_at_most_128, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_refuses_listed_key, setup, teardown),
	};

	log_init("test-revocation", LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
