/*
 * test-site-db.h: what the key-server tests of sites, keys and gateways share: a
 * migrated SQLite database in a temporary directory, users, and a small valid site
 * description whose lock and gateway keys the test holds. Header-only (static inline),
 * so that each test links it without a line in the Makefile's support list.
 */
#ifndef PARK_TEST_SITE_DB_H
#define PARK_TEST_SITE_DB_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "../../lib/hex.h"
#include "../../lib/p256.h"
#include "../../server/db.h"
#include "../../server/site.h"
#include "test-lock.h"
#include "test-must.h"

#define TEST_SITE_DB_SITE_ID 7
#define TEST_SITE_DB_SPOTS 4
#define TEST_SITE_DB_GATEWAYS 2

/* The test site: spots 101, 102 on B1 (gateway 1), 201, 202 on B2 (gateway 2). */
static const int64_t test_site_db_spot_ids[TEST_SITE_DB_SPOTS] = { 101, 102, 201, 202 };
static const char *const test_site_db_spot_names[TEST_SITE_DB_SPOTS] = {
	"B1-01", "B1-02", "B2-01", "B2-02",
};

struct test_site_db {
	char dir[64];
	struct db *db;
	uint8_t master[32];
	EVP_PKEY *lock[TEST_SITE_DB_SPOTS];    /* the locks' device keys */
	uint8_t lock_pub[TEST_SITE_DB_SPOTS][64];
	EVP_PKEY *gateway[TEST_SITE_DB_GATEWAYS];
	uint8_t gateway_pub[TEST_SITE_DB_GATEWAYS][64];
};

static inline struct db *test_site_db_open_db(struct test_site_db *t)
{
	char url[128];
	const char *err = NULL;
	struct db *db;

	snprintf(url, sizeof(url), "sqlite:%s/park.db", t->dir);
	db = db_open(url, &err);
	must(db != NULL);
	return db;
}

/* A fresh temporary directory, database and keys. */
static inline struct test_site_db *test_site_db_new(void)
{
	struct test_site_db *t = calloc(1, sizeof(*t));
	size_t i;

	must(t != NULL);
	snprintf(t->dir, sizeof(t->dir), "/tmp/test-site-db.XXXXXX");
	must(mkdtemp(t->dir) != NULL);
	t->db = test_site_db_open_db(t);
	must(db_migrate(t->db) == 0);
	for (i = 0; i < sizeof(t->master); i++)
		t->master[i] = (uint8_t)(0xa0 + i);
	for (i = 0; i < TEST_SITE_DB_SPOTS; i++) {
		t->lock[i] = p256_generate();
		must(t->lock[i] != NULL && p256_public_raw(t->lock[i], t->lock_pub[i]) == 0);
	}
	for (i = 0; i < TEST_SITE_DB_GATEWAYS; i++) {
		t->gateway[i] = p256_generate();
		must(t->gateway[i] != NULL &&
		     p256_public_raw(t->gateway[i], t->gateway_pub[i]) == 0);
	}
	return t;
}

static inline void test_site_db_free(struct test_site_db *t)
{
	char cmd[128];
	size_t i;

	if (t == NULL)
		return;
	if (t->db != NULL)
		db_close(t->db);
	for (i = 0; i < TEST_SITE_DB_SPOTS; i++)
		EVP_PKEY_free(t->lock[i]);
	for (i = 0; i < TEST_SITE_DB_GATEWAYS; i++)
		EVP_PKEY_free(t->gateway[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	must(system(cmd) == 0);
	free(t);
}

/* A new user with phone +8613800000NNN; returns its ID. */
static inline int64_t test_site_db_user(struct test_site_db *t, int n)
{
	char phone[32];
	struct db_stmt *st;
	int64_t id;

	snprintf(phone, sizeof(phone), "+8613800000%03d", n);
	must(db_exec(t->db, "INSERT INTO users (phone, password_hash, created_at) "
		     "VALUES ($1, 'x', 1)", "s", phone) == 0);
	st = db_prepare(t->db, "SELECT id FROM users WHERE phone = $1");
	must(st != NULL && db_bind_text(st, 1, phone) == 0 && db_step(st) == DB_ROW);
	id = db_col_int(st, 0);
	db_finalize(st);
	return id;
}

/* The single integer a query returns. */
static inline int64_t test_site_db_int(struct db *db, const char *sql)
{
	struct db_stmt *st = db_prepare(db, sql);
	int64_t v;

	must(st != NULL && db_step(st) == DB_ROW);
	v = db_col_int(st, 0);
	db_finalize(st);
	return v;
}

static inline json_object *test_site_db_hex(const uint8_t *p, size_t n)
{
	char buf[257];

	must(n <= 128 && hex_encode(p, n, buf, sizeof(buf)) == (int)(2 * n));
	return json_object_new_string(buf);
}

static inline json_object *test_site_db_obj(const char *text)
{
	json_object *o = json_tokener_parse(text);

	must(o != NULL);
	return o;
}

/*
 * The valid test description, as a new object the caller puts. Spots have no owner and
 * policy 'anyone'; 102 has limits {valid_s 3600, max_unlocks 5}.
 */
static inline json_object *test_site_db_description(const struct test_site_db *t)
{
	json_object *d = test_site_db_obj(
		"{\"site_id\":7,\"name\":\"Test garage\","
		"\"levels\":[{\"id\":\"B1\",\"name\":\"Basement 1\",\"width\":60,\"height\":24},"
		"{\"id\":\"B2\",\"name\":\"Basement 2\",\"width\":60,\"height\":24.5}],"
		"\"nodes\":[{\"id\":\"E\",\"level\":\"B1\",\"x\":0,\"y\":12,\"kind\":\"entrance\"},"
		"{\"id\":\"X\",\"level\":\"B1\",\"x\":60,\"y\":12,\"kind\":\"exit\"},"
		"{\"id\":\"J1\",\"level\":\"B1\",\"x\":10.25,\"y\":12,\"kind\":\"junction\"},"
		"{\"id\":\"J2\",\"level\":\"B2\",\"x\":10,\"y\":12,\"kind\":\"junction\"}],"
		"\"lanes\":[[\"E\",\"J1\"],[\"J1\",\"X\"],[\"J1\",\"J2\"]],"
		"\"spots\":["
		"{\"id\":101,\"name\":\"B1-01\",\"level\":\"B1\",\"x\":5,\"y\":20,\"node\":\"J1\","
		"\"owner\":null,\"policy\":\"anyone\","
		"\"lock\":{\"address\":\"run/locks/101.sock\"}},"
		"{\"id\":102,\"name\":\"B1-02\",\"level\":\"B1\",\"x\":10,\"y\":20,\"node\":\"J1\","
		"\"limits\":{\"valid_s\":3600,\"max_unlocks\":5},"
		"\"lock\":{\"address\":\"run/locks/102.sock\"}},"
		"{\"id\":201,\"name\":\"B2-01\",\"level\":\"B2\",\"x\":5,\"y\":20,\"node\":\"J2\","
		"\"lock\":{\"address\":\"run/locks/201.sock\"}},"
		"{\"id\":202,\"name\":\"B2-02\",\"level\":\"B2\",\"x\":10,\"y\":20,\"node\":\"J2\","
		"\"lock\":{\"address\":\"run/locks/202.sock\"}}],"
		"\"gateways\":[{\"id\":1,\"name\":\"gw-B1\",\"covers\":[101,102]},"
		"{\"id\":2,\"name\":\"gw-B2\",\"covers\":[201,202]}]}");
	json_object *spots, *gateways, *lock;
	size_t i;

	must(json_object_object_get_ex(d, "spots", &spots));
	for (i = 0; i < TEST_SITE_DB_SPOTS; i++) {
		must(json_object_object_get_ex(json_object_array_get_idx(spots, i), "lock", &lock));
		json_object_object_add(lock, "device_pub", test_site_db_hex(t->lock_pub[i], 64));
	}
	must(json_object_object_get_ex(d, "gateways", &gateways));
	for (i = 0; i < TEST_SITE_DB_GATEWAYS; i++)
		json_object_object_add(json_object_array_get_idx(gateways, i), "public_key",
				       test_site_db_hex(t->gateway_pub[i], 64));
	return d;
}

/* Imports `desc` as the route does: one transaction, committed only on success. */
static inline int test_site_db_import(struct test_site_db *t, json_object *desc, int64_t *site_id,
			     struct site_error *err)
{
	int r;

	must(db_begin(t->db) == 0);
	r = site_import(t->db, t->master, 1800000000, desc, site_id, err);
	if (r == 0)
		must(db_commit(t->db) == 0);
	else
		db_rollback(t->db);
	return r;
}

/* Imports the valid test description. */
static inline void test_site_db_import_good(struct test_site_db *t)
{
	json_object *d = test_site_db_description(t);
	struct site_error err;
	int64_t id = 0;

	must(test_site_db_import(t, d, &id, &err) == 0 && id == TEST_SITE_DB_SITE_ID);
	site_error_clear(&err);
	json_object_put(d);
}

/*
 * A factory-fresh in-process lock (test-lock.h) provisioned for `spot_id` of the test
 * site with the site public key from the database, as an installer would, and its
 * device key written into the database's locks row in place of the description's.
 */
static inline void test_site_db_attach_lock(struct test_site_db *t, struct test_lock *l,
					    int64_t spot_id)
{
	uint8_t pub[64], frame[128];
	struct db_stmt *st;
	size_t n;

	st = db_prepare(t->db, "SELECT public_key FROM sites WHERE id = $1");
	must(st != NULL && db_bind_int(st, 1, TEST_SITE_DB_SITE_ID) == 0 && db_step(st) == DB_ROW);
	memcpy(pub, db_col_blob(st, 0, &n), 64);
	db_finalize(st);
	test_lock_init(l);
	n = test_frame_provision(TEST_SITE_DB_SITE_ID, (uint32_t)spot_id, pub, frame,
				 sizeof(frame));
	must(test_lock_send(l, 0, frame, n) == 0);
	must(test_lock_next(l, 0, false) == PROTO_INFO);
	must(db_exec(t->db, "UPDATE locks SET device_pub = $1 WHERE spot_id = $2", "bi",
		     (const void *)l->reply.u.info.device_pub, (size_t)64, spot_id) == 0);
	test_port_drain(&l->tp);
}

/* Delivers a queued frame to the lock; returns the MGMT_ACK's result, and the ack frame. */
static inline int test_site_db_deliver(struct test_lock *l, const uint8_t *frame, size_t len,
			      uint8_t *ack, size_t *ack_len)
{
	test_lock_send(l, 0, frame, len); /* the ack tells the result */
	must(test_lock_next(l, 0, false) == PROTO_MGMT_ACK);
	if (ack != NULL) {
		memcpy(ack, l->frame, l->frame_len);
		*ack_len = l->frame_len;
	}
	return l->reply.u.ack.result;
}

#endif
