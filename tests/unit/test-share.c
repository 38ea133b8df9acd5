/*
 * test-share.c: server/share and its routes on the test site, with the in-process lock of
 * spot 101: a share offered and accepted reaches the lock as a site-signed INSTALL_SHARE
 * and its shared key opens it; reshares, transfers (the sharer's key stops, on the server
 * and on the lock), the owner's approval, giving up, freezing and unfreezing, removing
 * and revoking a key each end up in the site's revocation list, which makes the lock
 * refuse exactly what was taken away. Every refusal answers its stable code and leaves
 * the database as it was, byte for byte. Also the owner's settings (renters may share,
 * approval) and the authorised list with the e-key admission that reads it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "../../lib/ecies.h"
#include "../../server/delivery.h"
#include "../../server/key.h"
#include "../../server/revocation.h"
#include "../../server/routes.h"
#include "../../server/share.h"
#include "../../server/timerelay.h"
#include "../support/test-route.h"

#define NOW 1800000000
#define SITE 7

struct fixture {
	struct test_route *r;
	struct test_lock *lock;       /* the lock of spot 101, with the server's time */
	struct auth_user owner, renter, friend, other, stranger;
	struct test_user owner_dev, renter_dev, friend_dev, other_dev;
	struct proto_ekey owner_key;  /* the owner's e-key for 101, installed on the lock */
};

static struct auth_user user_of(struct test_site_db *t, int n)
{
	struct auth_user u;

	memset(&u, 0, sizeof(u));
	u.user_id = test_site_db_user(t, n);
	snprintf(u.phone, sizeof(u.phone), "+8613800000%03d", n);
	return u;
}

/* Delivers spot 101's pending messages, oldest first, to the lock; the last ACK's result. */
static int deliver_pending(struct fixture *f)
{
	struct db *db = f->r->t->db;
	struct db_stmt *st;
	uint8_t frame[PROTO_FRAME_MAX], ack[PROTO_FRAME_MAX];
	const void *blob;
	int64_t id, resent = 0;
	size_t n = 0, alen = 0;
	char result[32];
	int r = -1;

	for (;;) {
		st = db_prepare(db, "SELECT id, frame FROM mgmt_queue WHERE spot_id = 101 "
				"AND state = 'pending' ORDER BY id LIMIT 1");
		must(st != NULL);
		if (db_step(st) != DB_ROW) {
			db_finalize(st);
			return r;
		}
		id = db_col_int(st, 0);
		blob = db_col_blob(st, 1, &n);
		must(blob != NULL && n <= sizeof(frame));
		memcpy(frame, blob, n);
		db_finalize(st);
		r = test_site_db_deliver(f->lock, frame, n, ack, &alen);
		must(db_begin(db) == 0);
		must(delivery_ack(db, f->r->t->master, 1, NOW, id, ack, alen, NULL, result,
				  &resent) == 0);
		must(db_commit(db) == 0);
	}
}

/* An e-key of `user` for `spot`, bound to dev's device key, issued as POST /v1/ekeys does. */
static struct proto_ekey issue_key(struct fixture *f, int64_t user, uint32_t spot,
				   const struct test_user *dev)
{
	struct db *db = f->r->t->db;
	uint8_t pub[64], ct[4 + ECIES_OVERHEAD], plain[4];
	struct key_issued k;
	struct key_error err;
	bool created = false;
	int n;

	must(db_begin(db) == 0);
	must(key_reservation(db, f->r->t->master, user, NOW, pub, &created) == 0);
	must(db_commit(db) == 0);
	wire_store_u32(plain, spot);
	n = ecies_encrypt(pub, plain, sizeof(plain), ct, sizeof(ct));
	must(n > 0);
	must(db_begin(db) == 0);
	if (key_issue(db, f->r->t->master, user, NOW, ct, (size_t)n, dev->device_pub, &k,
		      &err) != 0)
		fail_msg("key for user %lld, spot %u: %s", (long long)user, spot, err.detail);
	must(db_commit(db) == 0);
	return k.ekey;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct test_site_db *t;
	size_t queued = 0;

	must(f != NULL);
	log_init("test-share", LOG_ERROR);
	test_route_now = NOW;
	f->r = test_route_new();
	t = f->r->t;
	f->owner = user_of(t, 1);
	f->renter = user_of(t, 2);
	f->friend = user_of(t, 3);
	f->other = user_of(t, 4);
	f->stranger = user_of(t, 5);
	test_user_init(&f->owner_dev, (uint32_t)f->owner.user_id);
	test_user_init(&f->renter_dev, (uint32_t)f->renter.user_id);
	test_user_init(&f->friend_dev, (uint32_t)f->friend.user_id);
	test_user_init(&f->other_dev, (uint32_t)f->other.user_id);
	must(db_exec(t->db, "UPDATE spots SET owner_id = $1 WHERE id IN (101, 102)", "i",
		     f->owner.user_id) == 0);
	f->lock = calloc(1, sizeof(*f->lock));
	must(f->lock != NULL);
	test_site_db_attach_lock(t, f->lock, 101);
	must(db_begin(t->db) == 0);
	must(timerelay_queue(t->db, t->master, SITE, NOW, 0, &queued) == 0 && queued > 0);
	must(db_commit(t->db) == 0);
	f->owner_key = issue_key(f, f->owner.user_id, 101, &f->owner_dev);
	must(deliver_pending(f) == PROTO_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_lock_free(f->lock);
	free(f->lock);
	test_user_free(&f->owner_dev);
	test_user_free(&f->renter_dev);
	test_user_free(&f->friend_dev);
	test_user_free(&f->other_dev);
	test_route_free(f->r);
	free(f);
	return 0;
}

/* ---- calling the routes ---- */

static int call(struct fixture *f, const struct http_route *table, size_t n, const char *method,
		const char *pattern, const char *p0, const char *p1, const struct auth_user *u,
		const char *body, json_object **reply)
{
	return test_route_call(f->r, table, n, method, pattern, p0, p1, u, body, reply);
}

static int share_call(struct fixture *f, const char *method, const char *pattern,
		      int64_t id, const struct auth_user *u, const char *body, json_object **reply)
{
	char p0[24];

	snprintf(p0, sizeof(p0), "%lld", (long long)id);
	return call(f, share_routes, share_routes_count, method, pattern, id != 0 ? p0 : NULL,
		    NULL, u, body, reply);
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static json_object *get_obj(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

/* POST /v1/shares; the new share's ID (the status must be `want`), or 0 on a refusal. */
static int64_t offer(struct fixture *f, const struct auth_user *u, const char *body, int want,
		     const char *code)
{
	json_object *reply = NULL;
	int64_t id = 0;
	int status = share_call(f, "POST", "/v1/shares", 0, u, body, &reply);

	if (status != want || (code != NULL && strcmp(test_route_error(reply), code) != 0))
		fail_msg("offer %s: %d %s, wanted %d %s", body, status,
			 json_object_to_json_string(reply), want, code != NULL ? code : "");
	if (status / 100 == 2)
		id = get_int(get_obj(reply, "share"), "share_id");
	json_object_put(reply);
	return id;
}

/* An offer of key `key_id` to `to` with extra members `more` ("" or ",\"x\":1"). */
static int64_t offer_key(struct fixture *f, const struct auth_user *u, int64_t key_id,
			 const struct auth_user *to, const char *mode, const char *more, int want,
			 const char *code)
{
	char body[1024];

	snprintf(body, sizeof(body), "{\"key_id\":%lld,\"phone\":\"%s\",\"mode\":\"%s\"%s}",
		 (long long)key_id, to->phone, mode, more);
	return offer(f, u, body, want, code);
}

/* Decodes a 160-byte shared key from its hex, through an OPERATE_SHARED frame. */
static void skey_decode(const char *hex, struct proto_skey *k)
{
	uint8_t frame[3 + 1 + 4 + PROTO_SKEY_LEN + PROTO_SIG_LEN];
	struct proto_msg m;

	assert_non_null(hex);
	memset(frame, 0, sizeof(frame));
	frame[0] = PROTO_VERSION;
	frame[1] = PROTO_OPERATE_SHARED;
	frame[2] = 1;
	frame[3] = PROTO_OP_UNLOCK;
	assert_int_equal(hex_decode(hex, frame + 8, PROTO_SKEY_LEN), PROTO_SKEY_LEN);
	assert_int_equal(proto_decode(frame, sizeof(frame), &m), 0);
	*k = m.u.operate_shared.skey;
}

/* POST /v1/shares/{id}/accept by `u` with dev's device key; the shared key on 200. */
static int accept_share(struct fixture *f, const struct auth_user *u, int64_t id,
			const struct test_user *dev, struct proto_skey *k, json_object **out)
{
	char body[200], hex[129];
	json_object *reply = NULL;
	int status;

	must(hex_encode(dev->device_pub, 64, hex, sizeof(hex)) == 128);
	snprintf(body, sizeof(body), "{\"device_pub\":\"%s\"}", hex);
	status = share_call(f, "POST", "/v1/shares/{id}/accept", id, u, body, &reply);
	if (status == 200 && k != NULL)
		skey_decode(get_str(get_obj(reply, "share"), "skey"), k);
	if (out != NULL)
		*out = reply;
	else
		json_object_put(reply);
	return status;
}

/* A share of `u`'s key offered to and accepted by `to`; its skey. */
static int64_t shared(struct fixture *f, const struct auth_user *u, int64_t key_id,
		      const struct auth_user *to, const struct test_user *dev, const char *more,
		      struct proto_skey *k)
{
	int64_t id = offer_key(f, u, key_id, to, "co-share", more, 201, NULL);

	assert_int_equal(accept_share(f, to, id, dev, k, NULL), 200);
	return id;
}

static int64_t count(struct fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int64_t count(struct fixture *f, const char *fmt, ...)
{
	char sql[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return test_site_db_int(f->r->t->db, sql);
}

static const char *state_of(struct fixture *f, int64_t share_id)
{
	static char state[32];
	struct db_stmt *st = db_prepare(f->r->t->db, "SELECT state FROM shares WHERE "
					"share_id = $1");

	must(st != NULL && db_bind_int(st, 1, share_id) == 0 && db_step(st) == DB_ROW);
	snprintf(state, sizeof(state), "%s", db_col_text(st, 0));
	db_finalize(st);
	return state;
}

/* ---- the whole database, for "a refusal changes nothing" ---- */

static void fingerprint(struct fixture *f, uint8_t out[32])
{
	char path[128], sql[256];
	sqlite3 *s = NULL;
	sqlite3_stmt *tables = NULL, *rows = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	int i;

	snprintf(path, sizeof(path), "%s/park.db", f->r->t->dir);
	must(md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
	must(sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	must(sqlite3_prepare_v2(s, "SELECT name FROM sqlite_master WHERE type = 'table' "
				"ORDER BY name", -1, &tables, NULL) == SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY rowid",
			 (const char *)sqlite3_column_text(tables, 0));
		must(sqlite3_prepare_v2(s, sql, -1, &rows, NULL) == SQLITE_OK);
		EVP_DigestUpdate(md, sql, strlen(sql));
		while (sqlite3_step(rows) == SQLITE_ROW) {
			for (i = 0; i < sqlite3_column_count(rows); i++) {
				const void *p = sqlite3_column_blob(rows, i);
				int n = sqlite3_column_bytes(rows, i);

				EVP_DigestUpdate(md, &n, sizeof(n));
				if (p != NULL)
					EVP_DigestUpdate(md, p, (size_t)n);
			}
		}
		sqlite3_finalize(rows);
	}
	sqlite3_finalize(tables);
	sqlite3_close(s);
	must(EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32);
	EVP_MD_CTX_free(md);
}

/* ---- offering and accepting ---- */

static void test_share_opens_lock(void **state)
{
	struct fixture *f = *state;
	struct proto_skey k;
	json_object *reply = NULL, *share, *list;
	int64_t id;
	uint8_t frame[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	struct proto_msg m;
	const void *blob;
	struct db_stmt *st;
	size_t n = 0;

	id = offer_key(f, &f->owner, f->owner_key.key_id, &f->friend, "co-share",
		       ",\"max_unlocks\":3", 201, NULL);
	/* One number space with key IDs. */
	assert_true(id > f->owner_key.key_id);
	assert_int_equal(count(f, "SELECT value FROM id_counters WHERE name = 'key_id'"), id);
	assert_string_equal(state_of(f, id), "offered");
	/* The recipient sees it, without a shared key yet. */
	assert_int_equal(share_call(f, "GET", "/v1/shares", 0, &f->friend, NULL, &reply), 200);
	list = get_obj(reply, "shares");
	assert_int_equal(json_object_array_length(list), 1);
	share = json_object_array_get_idx(list, 0);
	assert_int_equal(get_int(share, "share_id"), id);
	assert_string_equal(get_str(share, "state"), "offered");
	assert_string_equal(get_str(share, "mode"), "co-share");
	assert_string_equal(get_str(share, "sharer_phone"), f->owner.phone);
	assert_string_equal(get_str(share, "recipient_phone"), f->friend.phone);
	assert_int_equal(get_int(share, "max_unlocks"), 3);
	assert_string_equal(get_str(share, "spot_name"), "B1-01");
	assert_string_equal(get_str(share, "lock_address"), "run/locks/101.sock");
	assert_null(get_str(share, "skey"));
	json_object_put(reply);

	assert_int_equal(accept_share(f, &f->friend, id, &f->friend_dev, &k, &reply), 200);
	share = get_obj(reply, "share");
	assert_string_equal(get_str(share, "state"), "active");
	assert_true(json_object_get_boolean(get_obj(share, "live")));
	json_object_put(reply);
	assert_int_equal(k.share_id, id);
	assert_int_equal(k.parent_key_id, f->owner_key.key_id);
	assert_int_equal(k.sharer_id, f->owner.user_id);
	assert_int_equal(k.recipient_id, f->friend.user_id);
	assert_int_equal(k.spot_id, 101);
	assert_int_equal(k.max_unlocks, 3);
	assert_int_equal(k.mode, PROTO_SHARE_COSHARE);
	assert_memory_equal(k.device_pub, f->friend_dev.device_pub, 64);

	/* The INSTALL_SHARE queued is the site's signature over the authorisation code. */
	st = db_prepare(f->r->t->db, "SELECT frame FROM mgmt_queue WHERE kind = 'install_share' "
			"AND key_id = $1 AND state = 'pending'");
	assert_true(st != NULL && db_bind_int(st, 1, id) == 0 && db_step(st) == DB_ROW);
	blob = db_col_blob(st, 0, &n);
	assert_true(blob != NULL && n <= sizeof(frame));
	memcpy(frame, blob, n);
	db_finalize(st);
	assert_int_equal(proto_decode(frame, n, &m), 0);
	assert_int_equal(m.u.mgmt.mtype, PROTO_MGMT_INSTALL_SHARE);
	assert_int_equal(m.u.mgmt.target_spot, 101);
	assert_int_equal(proto_mgmt_decode_payload(m.u.mgmt.mtype, m.u.mgmt.payload,
						   m.u.mgmt.plen, &p), 0);
	assert_int_equal(p.share.share_id, id);
	assert_int_equal(p.share.parent_key_id, f->owner_key.key_id);
	assert_int_equal(p.share.sharer_id, f->owner.user_id);
	assert_int_equal(p.share.recipient_id, f->friend.user_id);
	assert_int_equal(p.share.max_unlocks, 3);

	/* Before the lock has the code, the shared key opens nothing; after, it does. */
	assert_int_equal(test_lock_operate_shared(f->lock, &f->friend_dev,
						  (uint32_t)f->friend.user_id, &k, PROTO_OP_UNLOCK),
			 PROTO_E_UNKNOWN_KEY);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->friend_dev,
						  (uint32_t)f->friend.user_id, &k, PROTO_OP_UNLOCK),
			 PROTO_OK);
	assert_int_equal(f->lock->lock.barrier, PROTO_BARRIER_DOWN);
	/* The owner keeps the key: a co-share. */
	assert_int_equal(test_lock_operate(f->lock, &f->owner_dev, (uint32_t)f->owner.user_id,
					   &f->owner_key, PROTO_OP_UNLOCK), PROTO_OK);
	/* Signed for another device, the shared key is worthless. */
	assert_int_equal(test_lock_operate_shared(f->lock, &f->other_dev,
						  (uint32_t)f->friend.user_id, &k, PROTO_OP_UNLOCK),
			 PROTO_E_DEVICE_SIG);

	/* The recipient's list has the shared key and its delivery; the sharer's has no key. */
	assert_int_equal(share_call(f, "GET", "/v1/shares", 0, &f->friend, NULL, &reply), 200);
	share = json_object_array_get_idx(get_obj(reply, "shares"), 0);
	assert_non_null(get_str(share, "skey"));
	assert_string_equal(get_str(get_obj(share, "delivery"), "state"), "acked");
	assert_string_equal(get_str(get_obj(share, "delivery"), "result"), "ok");
	json_object_put(reply);
	assert_int_equal(share_call(f, "GET", "/v1/shares", 0, &f->owner, NULL, &reply), 200);
	share = json_object_array_get_idx(get_obj(reply, "shares"), 0);
	assert_null(get_str(share, "skey"));
	json_object_put(reply);
	assert_int_equal(share_call(f, "GET", "/v1/shares", 0, &f->stranger, NULL, &reply), 200);
	assert_int_equal(json_object_array_length(get_obj(reply, "shares")), 0);
	json_object_put(reply);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action IN ('share_offered', "
			       "'share_accepted') AND detail LIKE 'share %lld %%'", (long long)id),
			 2);
}

/* Replaces @K (the owner's key), @R (the renter's key) and @S (the friend's share) in text. */
static void expand(char *body, size_t cap, const char *text, int64_t k, int64_t r, int64_t s)
{
	size_t n = 0;
	const char *p;

	for (p = text; *p != '\0' && n + 24 < cap; p++) {
		if (*p == '@' && (p[1] == 'K' || p[1] == 'R' || p[1] == 'S')) {
			n += (size_t)snprintf(body + n, cap - n, "%lld", (long long)(p[1] == 'K' ?
					      k : p[1] == 'R' ? r : s));
			p++;
		} else {
			body[n++] = *p;
		}
	}
	body[n] = '\0';
}

static void test_offer_refusals_change_nothing(void **state)
{
	struct fixture *f = *state;
	struct proto_ekey renter_key, revoked, limited;
	uint8_t before[32], after[32];
	int64_t plain_share;
	char body[512];
	size_t i;
	static const struct {
		const char *body;
		int status;
		const char *code;
	} bad[] = {
		{ "{\"phone\":\"+8613800000003\",\"mode\":\"co-share\"}", 400, "missing_field" },
		{ "{\"key_id\":@K,\"mode\":\"co-share\"}", 400, "missing_field" },
		{ "{\"key_id\":@K,\"phone\":\"+8613800000003\"}", 400, "missing_field" },
		{ "{\"key_id\":@K,\"share_id\":@S,\"phone\":\"+8613800000003\","
		  "\"mode\":\"co-share\"}", 400, "bad_field" },
		{ "{\"key_id\":0,\"phone\":\"+8613800000003\",\"mode\":\"co-share\"}", 400,
		  "bad_field" },
		{ "{\"key_id\":\"1\",\"phone\":\"+8613800000003\",\"mode\":\"co-share\"}", 400,
		  "bad_field" },
		{ "{\"key_id\":@K,\"phone\":\"13800000003\",\"mode\":\"co-share\"}", 400,
		  "bad_field" },
		{ "{\"key_id\":@K,\"phone\":\"+8613800000003\",\"mode\":\"lend\"}", 400,
		  "bad_field" },
		{ "{\"key_id\":@K,\"phone\":\"+8613800000003\",\"mode\":\"co-share\","
		  "\"max_unlocks\":65536}", 400, "bad_field" },
		{ "{\"key_id\":@K,\"phone\":\"+8613800000003\",\"mode\":\"co-share\","
		  "\"not_after\":-1}", 400, "bad_field" },
		{ "{\"key_id\":@K,\"phone\":\"+8613800000003\",\"mode\":\"co-share\","
		  "\"may_reshare\":1}", 400, "bad_field" },
		/* Sharing with oneself; an impossible window; one that has ended. */
		{ "{\"key_id\":@K,\"phone\":\"+8613800000001\",\"mode\":\"co-share\"}", 400,
		  "bad_field" },
		{ "{\"key_id\":@K,\"phone\":\"+8613800000003\",\"mode\":\"co-share\","
		  "\"not_before\":1800000100,\"not_after\":1800000050}", 400, "bad_field" },
		{ "{\"key_id\":@K,\"phone\":\"+8613800000003\",\"mode\":\"co-share\","
		  "\"not_after\":1799999999}", 400, "bad_field" },
		/* Unknown key, someone else's key, unknown recipient, unknown share. */
		{ "{\"key_id\":999999,\"phone\":\"+8613800000003\",\"mode\":\"co-share\"}", 404,
		  "not_found" },
		{ "{\"key_id\":@R,\"phone\":\"+8613800000003\",\"mode\":\"co-share\"}", 404,
		  "not_found" },
		{ "{\"key_id\":@K,\"phone\":\"+8613800000077\",\"mode\":\"co-share\"}", 404,
		  "not_found" },
		{ "{\"share_id\":999999,\"phone\":\"+8613800000003\",\"mode\":\"co-share\"}", 404,
		  "not_found" },
		/* The share is the friend's: the owner holds no such share. */
		{ "{\"share_id\":@S,\"phone\":\"+8613800000004\",\"mode\":\"co-share\"}", 404,
		  "not_found" },
	};

	/* What the refusals need, made before the database is taken as the reference. */
	renter_key = issue_key(f, f->renter.user_id, 201, &f->renter_dev);
	revoked = issue_key(f, f->owner.user_id, 101, &f->owner_dev);
	assert_int_equal(share_call(f, "POST", "/v1/keys/{id}/revoke", revoked.key_id, &f->owner,
				    NULL, NULL), 200);
	plain_share = shared(f, &f->owner, f->owner_key.key_id, &f->friend, &f->friend_dev, "",
			     NULL);
	/* Spot 102's keys last an hour and open 5 times; its renters may share. */
	must(db_exec(f->r->t->db, "UPDATE spots SET renters_may_share = 1 WHERE id = 102",
		     NULL) == 0);
	limited = issue_key(f, f->other.user_id, 102, &f->other_dev);
	assert_int_equal(limited.max_unlocks, 5);
	assert_true(limited.flags & PROTO_CRED_MAY_SHARE);
	fingerprint(f, before);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expand(body, sizeof(body), bad[i].body, f->owner_key.key_id, renter_key.key_id,
		       plain_share);
		offer(f, &f->owner, body, bad[i].status, bad[i].code);
	}
	/* A renter's key without the may-share flag: the owner did not let renters share. */
	offer_key(f, &f->renter, renter_key.key_id, &f->friend, "co-share", "", 403,
		  "not_allowed");
	/* A share without may_reshare is not shared on. */
	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\"}",
		 (long long)plain_share, f->other.phone);
	offer(f, &f->friend, body, 403, "not_allowed");
	/* A revoked key is not shared, nor a transferred one. */
	offer_key(f, &f->owner, revoked.key_id, &f->friend, "co-share", "", 409, "conflict");
	/* Never wider than the parent: uses, either end of the window. */
	offer_key(f, &f->other, limited.key_id, &f->friend, "co-share", ",\"max_unlocks\":6", 400,
		  "too_wide");
	offer_key(f, &f->other, limited.key_id, &f->friend, "co-share", ",\"max_unlocks\":0", 400,
		  "too_wide");
	snprintf(body, sizeof(body), ",\"not_after\":%u", limited.not_after + 1);
	offer_key(f, &f->other, limited.key_id, &f->friend, "co-share", body, 400, "too_wide");
	snprintf(body, sizeof(body), ",\"not_before\":%u", limited.not_before - 1);
	offer_key(f, &f->other, limited.key_id, &f->friend, "transfer", body, 400, "too_wide");
	/* The spot's policy binds what a renter hands on. */
	must(db_exec(f->r->t->db, "UPDATE spots SET policy = 'authorised' WHERE id = 102",
		     NULL) == 0);
	fingerprint(f, before);
	offer_key(f, &f->other, limited.key_id, &f->friend, "co-share", "", 403, "not_allowed");
	fingerprint(f, after);
	assert_memory_equal(before, after, 32);

	/* And within the parent's limits, the renter's share is offered. */
	snprintf(body, sizeof(body), ",\"max_unlocks\":5,\"not_after\":%u", limited.not_after);
	must(db_exec(f->r->t->db, "UPDATE spots SET policy = 'anyone' WHERE id = 102", NULL) == 0);
	offer_key(f, &f->other, limited.key_id, &f->friend, "co-share", body, 201, NULL);
	/* The reference sees a change: the comparisons above could fail. */
	fingerprint(f, after);
	assert_memory_not_equal(before, after, 32);
}

/* ---- the owner's approval ---- */

static int spot_call(struct fixture *f, const char *method, const char *pattern, const char *p1,
		     const struct auth_user *u, const char *body, json_object **reply)
{
	return call(f, spot_routes, spot_routes_count, method, pattern, "101", p1, u, body, reply);
}

static void test_approval(void **state)
{
	struct fixture *f = *state;
	struct proto_ekey renter_key;
	struct proto_skey k;
	uint8_t before[32], after[32];
	json_object *reply = NULL;
	int64_t id, denied;

	assert_int_equal(spot_call(f, "PATCH", "/v1/spots/{id}", NULL, &f->owner,
				   "{\"require_share_approval\":true,\"renters_may_share\":true}",
				   &reply), 200);
	assert_true(json_object_get_boolean(get_obj(reply, "require_share_approval")));
	assert_true(json_object_get_boolean(get_obj(reply, "renters_may_share")));
	json_object_put(reply);
	/* A renter may not change them. */
	assert_int_equal(spot_call(f, "PATCH", "/v1/spots/{id}", NULL, &f->renter,
				   "{\"require_share_approval\":false}", NULL), 403);
	assert_int_equal(spot_call(f, "PATCH", "/v1/spots/{id}", NULL, &f->owner,
				   "{\"renters_may_share\":1}", NULL), 400);
	renter_key = issue_key(f, f->renter.user_id, 101, &f->renter_dev);
	assert_true(renter_key.flags & PROTO_CRED_MAY_SHARE);

	id = offer_key(f, &f->renter, renter_key.key_id, &f->friend, "co-share", "", 202, NULL);
	assert_string_equal(state_of(f, id), "pending_approval");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM notifications WHERE kind = "
			       "'share_pending' AND spot_id = 101 AND user_id IS NULL"), 1);
	fingerprint(f, before);
	assert_int_equal(accept_share(f, &f->friend, id, &f->friend_dev, NULL, &reply), 409);
	assert_string_equal(test_route_error(reply), "conflict");
	json_object_put(reply);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/approve", id, &f->renter, NULL,
				    &reply), 403);
	assert_string_equal(test_route_error(reply), "forbidden");
	json_object_put(reply);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/approve", id, &f->stranger, NULL,
				    &reply), 404);
	assert_string_equal(test_route_error(reply), "not_found");
	json_object_put(reply);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/approve", 999999, &f->owner, NULL,
				    NULL), 404);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/approve", id, &f->owner,
				    "{\"otp\":123456}", &reply), 400);
	assert_string_equal(test_route_error(reply), "bad_field");
	json_object_put(reply);
	fingerprint(f, after);
	assert_memory_equal(before, after, 32);

	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/approve", id, &f->owner, NULL,
				    &reply), 200);
	assert_string_equal(get_str(get_obj(reply, "share"), "state"), "offered");
	json_object_put(reply);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM notifications WHERE kind = "
			       "'share_approved' AND user_id = %lld", (long long)f->renter.user_id),
			 1);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/deny", id, &f->owner, NULL,
				    NULL), 409);
	assert_int_equal(accept_share(f, &f->friend, id, &f->friend_dev, &k, NULL), 200);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->friend_dev,
						  (uint32_t)f->friend.user_id, &k, PROTO_OP_UNLOCK),
			 PROTO_OK);

	/* Refused: the requester is told, and the share never reaches the lock. */
	denied = offer_key(f, &f->renter, renter_key.key_id, &f->other, "co-share", "", 202,
			   NULL);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/deny", denied, &f->owner, "{}",
				    &reply), 200);
	assert_string_equal(get_str(get_obj(reply, "share"), "state"), "refused");
	json_object_put(reply);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM notifications WHERE kind = "
			       "'share_refused' AND user_id = %lld", (long long)f->renter.user_id),
			 1);
	assert_int_equal(accept_share(f, &f->other, denied, &f->other_dev, NULL, NULL), 409);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/approve", denied, &f->owner, NULL,
				    NULL), 409);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE key_id = %lld",
			       (long long)denied), 0);
	/* The owner's own shares need nobody's approval. */
	offer_key(f, &f->owner, f->owner_key.key_id, &f->other, "co-share", "", 201, NULL);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action IN "
			       "('share_requested', 'share_approved', 'share_refused')"), 4);
}

/* ---- transfer ---- */

static void test_transfer_key(void **state)
{
	struct fixture *f = *state;
	struct proto_ekey renter_key;
	struct proto_skey co, t;
	json_object *reply = NULL, *key;
	int64_t co_id, t_id;

	must(db_exec(f->r->t->db, "UPDATE spots SET renters_may_share = 1 WHERE id = 101",
		     NULL) == 0);
	renter_key = issue_key(f, f->renter.user_id, 101, &f->renter_dev);
	co_id = shared(f, &f->renter, renter_key.key_id, &f->other, &f->other_dev, "", &co);
	t_id = offer_key(f, &f->renter, renter_key.key_id, &f->friend, "transfer", "", 201, NULL);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(test_lock_operate(f->lock, &f->renter_dev, (uint32_t)f->renter.user_id,
					   &renter_key, PROTO_OP_UNLOCK), PROTO_OK);
	assert_int_equal(accept_share(f, &f->friend, t_id, &f->friend_dev, &t, NULL), 200);
	assert_int_equal(t.mode, PROTO_SHARE_TRANSFER);
	/* The sharer's key stops on the server at once ... */
	assert_int_equal(call(f, key_routes, key_routes_count, "GET", "/v1/keys", NULL, NULL,
			      &f->renter, NULL, &reply), 200);
	key = json_object_array_get_idx(get_obj(reply, "keys"), 0);
	assert_int_equal(get_int(key, "key_id"), renter_key.key_id);
	assert_true(json_object_get_boolean(get_obj(key, "transferred")));
	assert_false(json_object_get_boolean(get_obj(key, "live")));
	assert_false(json_object_get_boolean(get_obj(key, "revoked")));
	json_object_put(reply);
	/* ... and so does its other share. */
	assert_string_equal(state_of(f, co_id), "revoked");
	assert_string_equal(state_of(f, t_id), "active");
	/* ... and on the lock once the transfer is installed. */
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(test_lock_operate(f->lock, &f->renter_dev, (uint32_t)f->renter.user_id,
					   &renter_key, PROTO_OP_UNLOCK), PROTO_E_TRANSFERRED);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->other_dev,
						  (uint32_t)f->other.user_id, &co, PROTO_OP_UNLOCK),
			 PROTO_E_TRANSFERRED);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->friend_dev,
						  (uint32_t)f->friend.user_id, &t, PROTO_OP_UNLOCK),
			 PROTO_OK);
	/* A key handed on is not shared again, nor revoked by its old holder. */
	offer_key(f, &f->renter, renter_key.key_id, &f->other, "co-share", "", 409, "conflict");
	assert_int_equal(share_call(f, "POST", "/v1/keys/{id}/revoke", renter_key.key_id,
				    &f->renter, NULL, &reply), 409);
	assert_string_equal(test_route_error(reply), "conflict");
	json_object_put(reply);
}

/* ---- reshares, giving up, the site's list ---- */

static void test_reshare_and_give_up(void **state)
{
	struct fixture *f = *state;
	struct proto_skey s, r;
	json_object *reply = NULL, *share, *ids;
	char body[256];
	int64_t s_id, r_id;
	uint8_t frame[PROTO_FRAME_MAX];
	struct proto_msg m;
	union proto_mgmt_payload p;
	int n;

	s_id = shared(f, &f->owner, f->owner_key.key_id, &f->friend, &f->friend_dev,
		      ",\"may_reshare\":true,\"max_unlocks\":10", &s);
	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\","
		 "\"max_unlocks\":11}", (long long)s_id, f->other.phone);
	offer(f, &f->friend, body, 400, "too_wide");
	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\","
		 "\"max_unlocks\":4}", (long long)s_id, f->other.phone);
	r_id = offer(f, &f->friend, body, 201, NULL);
	assert_int_equal(accept_share(f, &f->other, r_id, &f->other_dev, &r, &reply), 200);
	share = get_obj(reply, "share");
	assert_int_equal(get_int(share, "parent_share_id"), s_id);
	assert_int_equal(get_int(share, "parent_key_id"), f->owner_key.key_id);
	assert_int_equal(get_int(share, "sharer_id"), f->friend.user_id);
	assert_int_equal(get_int(share, "key_holder_id"), f->owner.user_id);
	json_object_put(reply);
	/* The lock knows credentials only: the reshare names the root key and its holder. */
	assert_int_equal(r.parent_key_id, f->owner_key.key_id);
	assert_int_equal(r.sharer_id, f->owner.user_id);
	assert_int_equal(r.max_unlocks, 4);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->other_dev,
						  (uint32_t)f->other.user_id, &r, PROTO_OP_UNLOCK),
			 PROTO_OK);
	/* The owner sees both, on their spot. */
	assert_int_equal(share_call(f, "GET", "/v1/shares", 0, &f->owner, NULL, &reply), 200);
	assert_int_equal(json_object_array_length(get_obj(reply, "shares")), 2);
	json_object_put(reply);

	/* Only the recipient gives a share up. */
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/give-up", s_id, &f->owner, NULL,
				    NULL), 403);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/give-up", s_id, &f->friend, NULL,
				    &reply), 200);
	assert_string_equal(get_str(get_obj(reply, "share"), "state"), "given_up");
	json_object_put(reply);
	assert_string_equal(state_of(f, r_id), "revoked");
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/give-up", s_id, &f->friend, NULL,
				    NULL), 409);

	/* The site's list names both; any holder on the site may fetch it. */
	assert_int_equal(share_call(f, "GET", "/v1/sites/{id}/revocations", SITE, &f->other, NULL,
				    &reply), 200);
	assert_int_equal(get_int(reply, "serial"), 1);
	ids = get_obj(reply, "ids");
	assert_int_equal(json_object_array_length(ids), 2);
	assert_int_equal(json_object_get_int64(json_object_array_get_idx(ids, 0)), s_id);
	assert_int_equal(json_object_get_int64(json_object_array_get_idx(ids, 1)), r_id);
	n = hex_decode(get_str(reply, "frame"), frame, sizeof(frame));
	json_object_put(reply);
	assert_true(n > 0);
	assert_int_equal(proto_decode(frame, (size_t)n, &m), 0);
	assert_int_equal(m.u.mgmt.mtype, PROTO_MGMT_REVOKE);
	assert_int_equal(m.u.mgmt.target_spot, PROTO_TARGET_ALL);
	assert_int_equal(m.u.mgmt.seq, 1);
	assert_int_equal(proto_mgmt_decode_payload(m.u.mgmt.mtype, m.u.mgmt.payload,
						   m.u.mgmt.plen, &p), 0);
	assert_int_equal(p.revoke.count, 2);
	/* Queued for every lock of the site. */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'revoke' AND "
			       "seq = 1 AND state = 'pending'"), 4);

	/* A phone carries it to the lock: applied, and both keys stop; the owner's does not. */
	assert_int_equal(test_site_db_deliver(f->lock, frame, (size_t)n, NULL, NULL), PROTO_OK);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->friend_dev,
						  (uint32_t)f->friend.user_id, &s, PROTO_OP_UNLOCK),
			 PROTO_E_REVOKED);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->other_dev,
						  (uint32_t)f->other.user_id, &r, PROTO_OP_UNLOCK),
			 PROTO_E_REVOKED);
	assert_int_equal(test_lock_operate(f->lock, &f->owner_dev, (uint32_t)f->owner.user_id,
					   &f->owner_key, PROTO_OP_UNLOCK), PROTO_OK);
	/* The gateway's copy then comes late: stale, and closed without harm. */
	assert_int_equal(deliver_pending(f), PROTO_E_STALE);
	/* Nobody without a key, share or spot on the site gets the list; no site, no list. */
	assert_int_equal(share_call(f, "GET", "/v1/sites/{id}/revocations", SITE, &f->stranger,
				    NULL, &reply), 403);
	assert_string_equal(test_route_error(reply), "forbidden");
	json_object_put(reply);
	assert_int_equal(share_call(f, "GET", "/v1/sites/{id}/revocations", 99, &f->owner, NULL,
				    NULL), 404);
}

/* A share handed on: the recipient's share ends by the list, the sharer's key stays. */
static void test_transfer_share(void **state)
{
	struct fixture *f = *state;
	struct proto_skey s, t, r;
	json_object *reply = NULL;
	char body[256];
	int64_t s_id, t_id, r_id;

	s_id = shared(f, &f->owner, f->owner_key.key_id, &f->friend, &f->friend_dev,
		      ",\"may_reshare\":true", &s);
	/* An earlier reshare of the friend's, and then the friend hands the share on. */
	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\"}",
		 (long long)s_id, f->renter.phone);
	r_id = offer(f, &f->friend, body, 201, NULL);
	assert_int_equal(accept_share(f, &f->renter, r_id, &f->renter_dev, &r, NULL), 200);
	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"transfer\"}",
		 (long long)s_id, f->other.phone);
	t_id = offer(f, &f->friend, body, 201, NULL);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(accept_share(f, &f->other, t_id, &f->other_dev, &t, &reply), 200);
	assert_true(json_object_get_boolean(get_obj(get_obj(reply, "share"), "live")));
	json_object_put(reply);
	/* On the wire a co-share of the key: the owner's key must keep working. */
	assert_int_equal(t.mode, PROTO_SHARE_COSHARE);
	assert_string_equal(state_of(f, s_id), "revoked");
	assert_int_equal(count(f, "SELECT transferred FROM shares WHERE share_id = %lld",
			       (long long)s_id), 1);
	assert_string_equal(state_of(f, r_id), "revoked");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM revocation_lists WHERE ids = "
			       "'[%lld,%lld]'", (long long)s_id, (long long)r_id), 1);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->other_dev,
						  (uint32_t)f->other.user_id, &t, PROTO_OP_UNLOCK),
			 PROTO_OK);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->friend_dev,
						  (uint32_t)f->friend.user_id, &s, PROTO_OP_UNLOCK),
			 PROTO_E_REVOKED);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->renter_dev,
						  (uint32_t)f->renter.user_id, &r, PROTO_OP_UNLOCK),
			 PROTO_E_REVOKED);
	assert_int_equal(test_lock_operate(f->lock, &f->owner_dev, (uint32_t)f->owner.user_id,
					   &f->owner_key, PROTO_OP_UNLOCK), PROTO_OK);
	/* The friend holds nothing to share any more. */
	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\"}",
		 (long long)s_id, f->stranger.phone);
	offer(f, &f->friend, body, 409, "conflict");
}

static void test_empty_list(void **state)
{
	struct fixture *f = *state;
	json_object *reply = NULL;

	assert_int_equal(share_call(f, "GET", "/v1/sites/{id}/revocations", SITE, &f->owner, NULL,
				    &reply), 200);
	assert_int_equal(get_int(reply, "serial"), 0);
	assert_null(get_str(reply, "frame"));
	assert_int_equal(json_object_array_length(get_obj(reply, "ids")), 0);
	json_object_put(reply);
}

/* ---- freezing ---- */

static void test_freeze_unfreeze(void **state)
{
	struct fixture *f = *state;
	struct proto_skey k;
	uint8_t before[32], after[32];
	json_object *reply = NULL;
	int64_t id, revoke_msg, install_msg;

	id = shared(f, &f->owner, f->owner_key.key_id, &f->friend, &f->friend_dev, "", &k);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	fingerprint(f, before);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/freeze", id, &f->friend, NULL,
				    NULL), 403);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/unfreeze", id, &f->owner, NULL,
				    NULL), 409);
	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/freeze", id, &f->stranger, NULL,
				    NULL), 404);
	fingerprint(f, after);
	assert_memory_equal(before, after, 32);

	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/freeze", id, &f->owner, NULL,
				    &reply), 200);
	assert_string_equal(get_str(get_obj(reply, "share"), "state"), "frozen");
	assert_false(json_object_get_boolean(get_obj(get_obj(reply, "share"), "live")));
	json_object_put(reply);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->friend_dev,
						  (uint32_t)f->friend.user_id, &k, PROTO_OP_UNLOCK),
			 PROTO_E_REVOKED);
	/* Frozen, it is not accepted again nor shared on. */
	assert_int_equal(accept_share(f, &f->friend, id, &f->friend_dev, NULL, NULL), 409);

	assert_int_equal(share_call(f, "POST", "/v1/shares/{id}/unfreeze", id, &f->owner,
				    "{\"otp\":null}", &reply), 200);
	assert_string_equal(get_str(get_obj(reply, "share"), "state"), "active");
	json_object_put(reply);
	/* The new list first, then the code again: the lock deleted it. */
	revoke_msg = count(f, "SELECT MAX(id) FROM mgmt_queue WHERE spot_id = 101 AND "
			   "kind = 'revoke'");
	install_msg = count(f, "SELECT MAX(id) FROM mgmt_queue WHERE spot_id = 101 AND "
			    "kind = 'install_share' AND key_id = %lld", (long long)id);
	assert_true(revoke_msg < install_msg);
	assert_int_equal(count(f, "SELECT serial FROM revocation_lists WHERE site_id = 7"), 2);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM revocations"), 0);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->friend_dev,
						  (uint32_t)f->friend.user_id, &k, PROTO_OP_UNLOCK),
			 PROTO_OK);
}

/* ---- removing shares, revoking keys ---- */

static void test_delete_and_revoke(void **state)
{
	struct fixture *f = *state;
	struct proto_ekey renter_key;
	struct proto_skey s, s2;
	json_object *reply = NULL, *key;
	int64_t s_id, s2_id;

	must(db_exec(f->r->t->db, "UPDATE spots SET renters_may_share = 1 WHERE id = 101",
		     NULL) == 0);
	renter_key = issue_key(f, f->renter.user_id, 101, &f->renter_dev);
	s_id = shared(f, &f->renter, renter_key.key_id, &f->friend, &f->friend_dev, "", &s);
	s2_id = shared(f, &f->owner, f->owner_key.key_id, &f->other, &f->other_dev, "", &s2);
	assert_int_equal(deliver_pending(f), PROTO_OK);

	/* Removing is the owner's; the share disappears from every list. */
	assert_int_equal(share_call(f, "DELETE", "/v1/shares/{id}", s2_id, &f->other, NULL,
				    NULL), 403);
	assert_int_equal(share_call(f, "DELETE", "/v1/shares/{id}", s2_id, &f->owner, NULL,
				    NULL), 204);
	assert_int_equal(share_call(f, "DELETE", "/v1/shares/{id}", s2_id, &f->owner, NULL,
				    NULL), 404);
	assert_int_equal(share_call(f, "GET", "/v1/shares", 0, &f->other, NULL, &reply), 200);
	assert_int_equal(json_object_array_length(get_obj(reply, "shares")), 0);
	json_object_put(reply);

	/* The owner revokes the renter's key: its share ends with it. */
	assert_int_equal(share_call(f, "POST", "/v1/keys/{id}/revoke", renter_key.key_id,
				    &f->stranger, NULL, NULL), 404);
	assert_int_equal(share_call(f, "POST", "/v1/keys/{id}/revoke", renter_key.key_id,
				    &f->owner, NULL, &reply), 200);
	assert_true(json_object_get_boolean(get_obj(reply, "revoked")));
	assert_int_equal(get_int(reply, "revocation_serial"), 2);
	json_object_put(reply);
	assert_int_equal(share_call(f, "POST", "/v1/keys/{id}/revoke", renter_key.key_id,
				    &f->renter, NULL, NULL), 409);
	assert_string_equal(state_of(f, s_id), "revoked");
	assert_int_equal(call(f, key_routes, key_routes_count, "GET", "/v1/keys", NULL, NULL,
			      &f->renter, NULL, &reply), 200);
	key = json_object_array_get_idx(get_obj(reply, "keys"), 0);
	assert_true(json_object_get_boolean(get_obj(key, "revoked")));
	assert_false(json_object_get_boolean(get_obj(key, "live")));
	json_object_put(reply);
	/* The list names the key (its shares die with it on the lock) and the removed share. */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM revocation_lists WHERE ids = '[%lld,%lld]'",
			       (long long)renter_key.key_id, (long long)s2_id), 1);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(test_lock_operate(f->lock, &f->renter_dev, (uint32_t)f->renter.user_id,
					   &renter_key, PROTO_OP_UNLOCK), PROTO_E_REVOKED);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->friend_dev,
						  (uint32_t)f->friend.user_id, &s, PROTO_OP_UNLOCK),
			 PROTO_E_REVOKED);
	assert_int_equal(test_lock_operate_shared(f->lock, &f->other_dev,
						  (uint32_t)f->other.user_id, &s2, PROTO_OP_UNLOCK),
			 PROTO_E_REVOKED);
	assert_int_equal(test_lock_operate(f->lock, &f->owner_dev, (uint32_t)f->owner.user_id,
					   &f->owner_key, PROTO_OP_UNLOCK), PROTO_OK);
	/* A holder may revoke their own key too. */
	{
		struct proto_ekey mine = issue_key(f, f->friend.user_id, 201, &f->friend_dev);

		assert_int_equal(share_call(f, "POST", "/v1/keys/{id}/revoke", mine.key_id,
					    &f->friend, NULL, NULL), 200);
	}
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action = 'key_revoked'"), 2);
}

/* ---- the authorised list ---- */

/* The friend's e-key request for spot 101 (a reservation key made first): its length. */
static int friend_key_request(struct fixture *f, uint8_t ct[4 + ECIES_OVERHEAD])
{
	uint8_t pub[64], plain[4];
	bool created;

	must(db_begin(f->r->t->db) == 0);
	must(key_reservation(f->r->t->db, f->r->t->master, f->friend.user_id, NOW, pub,
			     &created) == 0);
	must(db_commit(f->r->t->db) == 0);
	wire_store_u32(plain, 101);
	return ecies_encrypt(pub, plain, 4, ct, 4 + ECIES_OVERHEAD);
}

/* Issues the friend's e-key of that request in a transaction of its own: key_issue's. */
static int friend_key_issue(struct fixture *f, const uint8_t *ct, int n, struct key_issued *k,
			    struct key_error *err)
{
	int r;

	must(db_begin(f->r->t->db) == 0);
	r = key_issue(f->r->t->db, f->r->t->master, f->friend.user_id, NOW, ct, (size_t)n,
		      f->friend_dev.device_pub, k, err);
	if (r == 0)
		must(db_commit(f->r->t->db) == 0);
	else
		db_rollback(f->r->t->db);
	return r;
}

/* The owner takes the friend off the spot's authorised list: the status. */
static long friend_off_list(struct fixture *f)
{
	char path_user[24];

	snprintf(path_user, sizeof(path_user), "%lld", (long long)f->friend.user_id);
	return spot_call(f, "DELETE", "/v1/spots/{id}/authorised/{user_id}", path_user,
			 &f->owner, NULL, NULL);
}

static void test_authorised_list(void **state)
{
	struct fixture *f = *state;
	uint8_t before[32], after[32], ct[4 + ECIES_OVERHEAD];
	struct key_issued k;
	struct key_error err;
	json_object *reply = NULL, *users;
	char body[128];
	int n;

	assert_int_equal(spot_call(f, "PATCH", "/v1/spots/{id}", NULL, &f->owner,
				   "{\"policy\":\"authorised\"}", NULL), 200);
	/* The friend is not on the list: no key for them. */
	n = friend_key_request(f, ct);
	assert_int_equal(friend_key_issue(f, ct, n, &k, &err), -KEY_E_FORBIDDEN);
	assert_string_equal(err.code, "not_allowed");

	fingerprint(f, before);
	assert_int_equal(spot_call(f, "GET", "/v1/spots/{id}/authorised", NULL, &f->friend, NULL,
				   NULL), 403);
	assert_int_equal(spot_call(f, "POST", "/v1/spots/{id}/authorised", NULL, &f->friend,
				   "{\"phone\":\"+8613800000003\"}", NULL), 403);
	assert_int_equal(spot_call(f, "POST", "/v1/spots/{id}/authorised", NULL, &f->owner,
				   "{\"phone\":\"+8613800000077\"}", &reply), 404);
	assert_string_equal(test_route_error(reply), "not_found");
	json_object_put(reply);
	assert_int_equal(spot_call(f, "POST", "/v1/spots/{id}/authorised", NULL, &f->owner,
				   "{\"phone\":\"3\"}", NULL), 400);
	assert_int_equal(spot_call(f, "POST", "/v1/spots/{id}/authorised", NULL, &f->owner,
				   "{}", NULL), 400);
	assert_int_equal(spot_call(f, "DELETE", "/v1/spots/{id}/authorised/{user_id}", "3",
				   &f->owner, NULL, NULL), 404);
	fingerprint(f, after);
	assert_memory_equal(before, after, 32);

	snprintf(body, sizeof(body), "{\"phone\":\"%s\"}", f->friend.phone);
	assert_int_equal(spot_call(f, "POST", "/v1/spots/{id}/authorised", NULL, &f->owner, body,
				   &reply), 201);
	assert_int_equal(get_int(reply, "user_id"), f->friend.user_id);
	json_object_put(reply);
	assert_int_equal(spot_call(f, "POST", "/v1/spots/{id}/authorised", NULL, &f->owner, body,
				   NULL), 200);
	assert_int_equal(spot_call(f, "GET", "/v1/spots/{id}/authorised", NULL, &f->owner, NULL,
				   &reply), 200);
	users = get_obj(reply, "users");
	assert_int_equal(json_object_array_length(users), 1);
	assert_string_equal(get_str(json_object_array_get_idx(users, 0), "phone"),
			    f->friend.phone);
	json_object_put(reply);
	/* On the list, the e-key admission lets them in. */
	assert_int_equal(friend_key_issue(f, ct, n, &k, &err), 0);
	assert_int_equal(friend_off_list(f), 204);
	assert_int_equal(friend_off_list(f), 404);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action IN "
			       "('authorised_added', 'authorised_removed')"), 2);
	/* Off the list of an 'authorised' spot: their key is revoked, and listed for the lock. */
	assert_int_equal(count(f, "SELECT revoked FROM ekeys WHERE key_id = %u", k.ekey.key_id),
			 1);
	assert_int_equal(revocation_listed(f->r->t->db, k.site_id, k.ekey.key_id), 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action = 'authorised_removed' "
			       "AND detail LIKE '%%(1 key revoked)'"), 1);
}

/* Under another policy the list decides nothing: leaving it takes no key away. */
static void test_authorised_list_other_policy(void **state)
{
	struct fixture *f = *state;
	uint8_t ct[4 + ECIES_OVERHEAD];
	struct key_issued k;
	struct key_error err;
	char body[128];
	int n;

	snprintf(body, sizeof(body), "{\"phone\":\"%s\"}", f->friend.phone);
	assert_int_equal(spot_call(f, "POST", "/v1/spots/{id}/authorised", NULL, &f->owner, body,
				   NULL), 201);
	n = friend_key_request(f, ct);
	assert_int_equal(friend_key_issue(f, ct, n, &k, &err), 0);
	assert_int_equal(friend_off_list(f), 204);
	assert_int_equal(count(f, "SELECT revoked FROM ekeys WHERE key_id = %u", k.ekey.key_id),
			 0);
	assert_int_equal(revocation_listed(f->r->t->db, k.site_id, k.ekey.key_id), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_share_opens_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_refusals_change_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_approval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reshare_and_give_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_unfreeze, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authorised_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authorised_list_other_policy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
