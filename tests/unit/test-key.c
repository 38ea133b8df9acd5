/*
 * test-key.c: server/key through its public API on a real SQLite database and the test
 * site: reservation keys made once, e-key issuance (decryption, policies, spot taken,
 * owner keys unlimited, default limits), the e-key checked with the reservation key,
 * the queued INSTALL_CRED frame checked by hand against the site key and then by an
 * in-process lock core that opens only for the holder's device, per-lock sequences,
 * refusals that store nothing, a request opened outside the transaction and decided
 * again inside it (spot taken or policy changed meanwhile), the reservation key kept in
 * a cache, and the key list with delivery state.
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
#include "../../server/key.h"
#include "../../server/keywrap.h"
#include "../support/test-site-db.h"

/* The single integer a query returns. */
static int64_t query(struct db *db, const char *sql)
{
	return test_site_db_int(db, sql);
}

#define NOW 1800000000

struct fixture {
	struct test_site_db *t;
	int64_t alice, bob, carol, owner;
	struct test_user dev_a, dev_b; /* device keys (their reservation halves are unused) */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	must(f != NULL);
	f->t = test_site_db_new();
	f->alice = test_site_db_user(f->t, 1);
	f->bob = test_site_db_user(f->t, 2);
	f->carol = test_site_db_user(f->t, 3);
	f->owner = test_site_db_user(f->t, 4);
	test_site_db_import_good(f->t);
	/* Spot 102 belongs to `owner` and has limits (3600 s, 5 unlocks). */
	must(db_exec(f->t->db, "UPDATE spots SET owner_id = $1 WHERE id = 102", "i",
		     f->owner) == 0);
	test_user_init(&f->dev_a, (uint32_t)f->alice);
	test_user_init(&f->dev_b, (uint32_t)f->bob);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_user_free(&f->dev_a);
	test_user_free(&f->dev_b);
	test_site_db_free(f->t);
	free(f);
	return 0;
}

static void reservation(struct fixture *f, int64_t user, uint8_t pub[64])
{
	bool created;

	assert_int_equal(key_reservation(f->t->db, f->t->master, user, NOW, pub, &created), 0);
}

/* The spot ID encrypted to `user`'s reservation key, as the phone sends it. */
static size_t spot_ct(struct fixture *f, int64_t user, uint32_t spot,
		      uint8_t ct[4 + ECIES_OVERHEAD])
{
	uint8_t pub[64], plain[4];

	reservation(f, user, pub);
	wire_store_u32(plain, spot);
	assert_int_equal(ecies_encrypt(pub, plain, 4, ct, 4 + ECIES_OVERHEAD), 4 + ECIES_OVERHEAD);
	return 4 + ECIES_OVERHEAD;
}

/* One issuance in its own transaction, as the route runs it. */
static int issue(struct fixture *f, int64_t user, uint32_t spot, const uint8_t device_pub[64],
		 struct key_issued *out, struct key_error *err)
{
	uint8_t ct[4 + ECIES_OVERHEAD];
	size_t n = spot_ct(f, user, spot, ct);
	int r;

	assert_int_equal(db_begin(f->t->db), 0);
	r = key_issue(f->t->db, f->t->master, user, NOW, ct, n, device_pub, out, err);
	if (r == 0)
		assert_int_equal(db_commit(f->t->db), 0);
	else
		db_rollback(f->t->db);
	return r;
}

/* The queued frame of a mgmt_queue row. */
static size_t queued_frame(struct fixture *f, int64_t id, uint8_t *frame, size_t cap)
{
	struct db_stmt *st = db_prepare(f->t->db, "SELECT frame FROM mgmt_queue WHERE id = $1");
	const void *p;
	size_t len = 0;

	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, id), 0);
	assert_int_equal(db_step(st), DB_ROW);
	p = db_col_blob(st, 0, &len);
	assert_true(len <= cap);
	memcpy(frame, p, len);
	db_finalize(st);
	return len;
}

static void site_pub(struct fixture *f, uint8_t pub[64])
{
	struct db_stmt *st = db_prepare(f->t->db, "SELECT public_key FROM sites WHERE id = 7");
	size_t len = 0;

	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	memcpy(pub, db_col_blob(st, 0, &len), 64);
	assert_int_equal(len, 64); /* checked after: the copy is of 64 bytes either way */
	db_finalize(st);
}

static void test_reservation_key_stable(void **state)
{
	struct fixture *f = *state;
	uint8_t a1[64], a2[64], b[64], blob[KEYWRAP_KEY_MAX];
	char label[KEYWRAP_LABEL_MAX];
	struct db_stmt *st;
	const void *p;
	EVP_PKEY *k;
	size_t len = 0;
	bool created;

	assert_int_equal(key_reservation(f->t->db, f->t->master, f->alice, NOW, a1, &created), 0);
	assert_true(created);
	assert_int_equal(key_reservation(f->t->db, f->t->master, f->alice, NOW, a2, &created), 0);
	assert_false(created);
	assert_memory_equal(a1, a2, 64);
	assert_int_equal(key_reservation(f->t->db, f->t->master, f->bob, NOW, b, &created), 0);
	assert_true(created);
	assert_memory_not_equal(a1, b, 64);

	/* The private half is stored sealed for "reservation:<alice>", and for nothing else. */
	st = db_prepare(f->t->db, "SELECT private_key FROM reservation_keys WHERE user_id = $1");
	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, f->alice), 0);
	assert_int_equal(db_step(st), DB_ROW);
	p = db_col_blob(st, 0, &len);
	assert_true(len <= sizeof(blob));
	memcpy(blob, p, len);
	db_finalize(st);
	keywrap_label(label, "reservation", f->alice);
	k = keywrap_open_key(f->t->master, label, blob, len);
	assert_non_null(k);
	assert_int_equal(p256_public_raw(k, a2), 0);
	assert_memory_equal(a1, a2, 64);
	EVP_PKEY_free(k);
	keywrap_label(label, "reservation", f->bob);
	assert_null(keywrap_open_key(f->t->master, label, blob, len));
}

static void test_issue_and_verify(void **state)
{
	struct fixture *f = *state;
	struct key_issued k;
	struct key_error err;
	struct proto_msg m;
	union proto_mgmt_payload p;
	uint8_t res_pub[64], spub[64], frame[256], tbs[PROTO_FRAME_MAX + 16], digest[32];
	struct wire_writer w;
	size_t n;

	assert_int_equal(issue(f, f->alice, 101, f->dev_a.device_pub, &k, &err), 0);
	reservation(f, f->alice, res_pub);
	assert_int_equal(k.ekey.key_id, 1);
	assert_int_equal(k.ekey.user_id, f->alice);
	assert_int_equal(k.ekey.spot_id, 101);
	assert_int_equal(k.site_id, 7);
	assert_false(k.owner);
	/* Spot 101 has no default limits. */
	assert_int_equal(k.ekey.not_before, 0);
	assert_int_equal(k.ekey.not_after, PROTO_TIME_NONE_AFTER);
	assert_int_equal(k.ekey.max_unlocks, 0);
	assert_int_equal(k.ekey.flags, 0);
	assert_memory_equal(k.ekey.device_pub, f->dev_a.device_pub, 64);

	/* The e-key verifies with the reservation public key, over "PKE1" and its fields. */
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_ekey(&w, &k.ekey);
	assert_int_equal(w.off, 4 + PROTO_EKEY_TBS_LEN);
	assert_int_equal(p256_sha256(tbs, w.off, digest), 0);
	assert_int_equal(p256_verify_digest(res_pub, digest, k.ekey.sig), 0);
	/* Its 151-byte encoding: fields in wire order, then the signature. */
	assert_memory_equal(k.wire, tbs + 4, PROTO_EKEY_TBS_LEN);
	assert_memory_equal(k.wire + PROTO_EKEY_TBS_LEN, k.ekey.sig, 64);
	assert_int_equal(wire_load_u32(k.wire), 1);
	assert_int_equal(wire_load_u32(k.wire + 8), 101);

	/* The queued frame: an INSTALL_CRED for 101, sequence 1, signed by the site key. */
	assert_int_equal(k.mgmt_seq, 1);
	n = queued_frame(f, k.mgmt_id, frame, sizeof(frame));
	assert_int_equal(proto_decode(frame, n, &m), 0);
	assert_int_equal(m.type, PROTO_MGMT);
	assert_int_equal(m.u.mgmt.mtype, PROTO_MGMT_INSTALL_CRED);
	assert_int_equal(m.u.mgmt.target_spot, 101);
	assert_int_equal(m.u.mgmt.seq, 1);
	site_pub(f, spub);
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_mgmt_prefix(&w, 7);
	wire_put_bytes(&w, m.u.mgmt.signed_body, m.u.mgmt.signed_len);
	assert_false(w.error);
	assert_int_equal(p256_sha256(tbs, w.off, digest), 0);
	assert_int_equal(p256_verify_digest(spub, digest, m.u.mgmt.sig), 0);
	/* ... for site 7 only. */
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_mgmt_prefix(&w, 8);
	wire_put_bytes(&w, m.u.mgmt.signed_body, m.u.mgmt.signed_len);
	assert_int_equal(p256_sha256(tbs, w.off, digest), 0);
	assert_int_equal(p256_verify_digest(spub, digest, m.u.mgmt.sig), -1);
	/* The credential carries the reservation public key and the key's limits. */
	assert_int_equal(proto_mgmt_decode_payload(m.u.mgmt.mtype, m.u.mgmt.payload, m.u.mgmt.plen,
						   &p), 0);
	assert_int_equal(p.cred.key_id, 1);
	assert_int_equal(p.cred.user_id, f->alice);
	assert_memory_equal(p.cred.res_pub, res_pub, 64);
	assert_int_equal(p.cred.not_after, PROTO_TIME_NONE_AFTER);
	assert_int_equal(query(f->t->db, "SELECT COUNT(*) FROM mgmt_queue WHERE state = 'pending' "
				 "AND kind = 'install_cred' AND key_id = 1"), 1);
	assert_int_equal(query(f->t->db, "SELECT mgmt_seq FROM locks WHERE spot_id = 101"), 1);
}

/* The chain end to end in-process: queued frame -> lock core -> unlock with the e-key. */
static void test_lock_accepts_credential(void **state)
{
	struct fixture *f = *state;
	struct test_lock *l = calloc(1, sizeof(*l));
	struct key_issued k;
	struct key_error err;
	uint8_t frame[256];
	size_t n;

	assert_non_null(l);
	test_site_db_attach_lock(f->t, l, 101);
	assert_int_equal(issue(f, f->alice, 101, f->dev_a.device_pub, &k, &err), 0);
	n = queued_frame(f, k.mgmt_id, frame, sizeof(frame));
	assert_int_equal(test_site_db_deliver(l, frame, n, NULL, NULL), PROTO_OK);
	/* The same frame again (its ack lost) is answered again, and installs nothing more. */
	assert_int_equal(test_site_db_deliver(l, frame, n, NULL, NULL), PROTO_OK);
	assert_int_equal(l->lock.creds.count, 1);
	/* Only the holder's device opens with the e-key. */
	assert_int_equal(test_lock_operate(l, &f->dev_b, (uint32_t)f->alice, &k.ekey,
					   PROTO_OP_UNLOCK),
			 PROTO_E_DEVICE_SIG);
	assert_int_equal(test_lock_operate(l, &f->dev_a, (uint32_t)f->alice, &k.ekey,
					   PROTO_OP_UNLOCK),
			 PROTO_OK);
	assert_int_equal(l->lock.barrier, PROTO_BARRIER_DOWN);
	test_lock_free(l);
	free(l);
}

static void test_sequence_per_lock(void **state)
{
	struct fixture *f = *state;
	struct key_issued k;
	struct key_error err;

	assert_int_equal(issue(f, f->alice, 101, f->dev_a.device_pub, &k, &err), 0);
	assert_int_equal(k.mgmt_seq, 1);
	/* Alice again (a new phone): allowed, next sequence on the same lock. */
	assert_int_equal(issue(f, f->alice, 101, f->dev_b.device_pub, &k, &err), 0);
	assert_int_equal(k.mgmt_seq, 2);
	assert_int_equal(k.ekey.key_id, 2);
	assert_int_equal(issue(f, f->bob, 201, f->dev_b.device_pub, &k, &err), 0);
	assert_int_equal(k.mgmt_seq, 1);
	assert_int_equal(k.ekey.key_id, 3);
	assert_int_equal(query(f->t->db, "SELECT mgmt_seq FROM locks WHERE spot_id = 101"), 2);
	assert_int_equal(query(f->t->db, "SELECT mgmt_seq FROM locks WHERE spot_id = 201"), 1);
	assert_int_equal(query(f->t->db, "SELECT COUNT(DISTINCT seq) FROM mgmt_queue "
				 "WHERE spot_id = 101"), 2);
}

static void test_spot_taken_and_owner(void **state)
{
	struct fixture *f = *state;
	struct key_issued k;
	struct key_error err;

	/* Bob takes 102 with the spot's default limits. */
	assert_int_equal(issue(f, f->bob, 102, f->dev_b.device_pub, &k, &err), 0);
	assert_int_equal(k.ekey.not_before, NOW - KEY_CLOCK_SLACK_S);
	assert_int_equal(k.ekey.not_after, NOW + 3600);
	assert_int_equal(k.ekey.max_unlocks, 5);
	assert_int_equal(k.ekey.flags, 0);
	/* Carol may not while Bob's key is live. */
	assert_int_equal(issue(f, f->carol, 102, f->dev_a.device_pub, &k, &err), -KEY_E_CONFLICT);
	assert_int_equal(err.status, 409);
	assert_string_equal(err.code, "spot_taken");
	/* The owner always may, with an unlimited owner's key. */
	assert_int_equal(issue(f, f->owner, 102, f->dev_a.device_pub, &k, &err), 0);
	assert_true(k.owner);
	assert_int_equal(k.ekey.not_before, 0);
	assert_int_equal(k.ekey.not_after, PROTO_TIME_NONE_AFTER);
	assert_int_equal(k.ekey.max_unlocks, 0);
	assert_int_equal(k.ekey.flags, PROTO_CRED_OWNER | PROTO_CRED_MAY_SHARE);
	/* The owner's key does not make the spot taken: with Bob's key revoked, Carol may. */
	assert_int_equal(db_exec(f->t->db, "UPDATE ekeys SET revoked = 1 WHERE user_id = $1", "i",
				 f->bob), 0);
	assert_int_equal(issue(f, f->carol, 102, f->dev_a.device_pub, &k, &err), 0);
	/* An expired key does not hold the spot either. */
	assert_int_equal(db_exec(f->t->db, "UPDATE ekeys SET not_after = $1 WHERE user_id = $2",
				 "ii", (int64_t)NOW - 1, f->carol), 0);
	assert_int_equal(issue(f, f->bob, 102, f->dev_b.device_pub, &k, &err), 0);
}

static void test_policies(void **state)
{
	struct fixture *f = *state;
	struct key_issued k;
	struct key_error err;

	/* 'authorised': only listed users (and the owner). */
	assert_int_equal(db_exec(f->t->db, "UPDATE spots SET policy = 'authorised' WHERE id = 201",
				 NULL), 0);
	assert_int_equal(issue(f, f->alice, 201, f->dev_a.device_pub, &k, &err), -KEY_E_FORBIDDEN);
	assert_int_equal(err.status, 403);
	assert_string_equal(err.code, "not_allowed");
	assert_int_equal(db_exec(f->t->db, "INSERT INTO authorised_users (spot_id, user_id) "
				 "VALUES (201, $1)", "i", f->alice), 0);
	assert_int_equal(issue(f, f->alice, 201, f->dev_a.device_pub, &k, &err), 0);

	/* 'region': only a user of the spot's region; none recorded is not in it. */
	assert_int_equal(db_exec(f->t->db, "UPDATE spots SET policy = 'region', region = 'Futian' "
				 "WHERE id = 202", NULL), 0);
	assert_int_equal(db_exec(f->t->db, "INSERT INTO user_regions (user_id, region) "
				 "VALUES ($1, 'Nanshan')", "i", f->bob), 0);
	assert_int_equal(issue(f, f->bob, 202, f->dev_b.device_pub, &k, &err), -KEY_E_FORBIDDEN);
	assert_string_equal(err.code, "not_allowed");
	assert_int_equal(db_exec(f->t->db, "UPDATE user_regions SET region = 'Futian' "
				 "WHERE user_id = $1", "i", f->bob), 0);
	assert_int_equal(issue(f, f->bob, 202, f->dev_b.device_pub, &k, &err), 0);
	assert_int_equal(db_exec(f->t->db, "UPDATE ekeys SET revoked = 1", NULL), 0);
	assert_int_equal(issue(f, f->carol, 202, f->dev_a.device_pub, &k, &err), -KEY_E_FORBIDDEN);
	assert_string_equal(err.code, "not_allowed");
}

/* Every refusal leaves the keys, the queue and the lock sequences as they were. */
static void test_refusals_store_nothing(void **state)
{
	struct fixture *f = *state;
	uint8_t ct[4 + ECIES_OVERHEAD + 1], bad_pub[64], plain[5] = { 0, 0, 0, 101, 0 };
	uint8_t other_pub[64];
	struct key_issued k;
	struct key_error err;
	EVP_PKEY *other;
	size_t n, i;
	int r;

	/* No reservation key yet. */
	memset(ct, 0, sizeof(ct));
	assert_int_equal(db_begin(f->t->db), 0);
	r = key_issue(f->t->db, f->t->master, f->carol, NOW, ct, 84, f->dev_a.device_pub, &k, &err);
	db_rollback(f->t->db);
	assert_int_equal(r, -KEY_E_CONFLICT);
	assert_string_equal(err.code, "no_reservation_key");

	n = spot_ct(f, f->alice, 101, ct);
	for (i = 0; i < n; i += 7) {
		ct[i] ^= 0x20;
		assert_int_equal(db_begin(f->t->db), 0);
		r = key_issue(f->t->db, f->t->master, f->alice, NOW, ct, n, f->dev_a.device_pub, &k,
			      &err);
		db_rollback(f->t->db);
		ct[i] ^= 0x20;
		assert_int_equal(r, -KEY_E_INVALID);
		assert_int_equal(err.status, 400);
		assert_string_equal(err.code, "bad_ciphertext");
	}
	/* Truncated, and encrypted to another key. */
	assert_int_equal(db_begin(f->t->db), 0);
	r = key_issue(f->t->db, f->t->master, f->alice, NOW, ct, n - 1, f->dev_a.device_pub, &k,
		      &err);
	db_rollback(f->t->db);
	assert_string_equal(err.code, "bad_ciphertext");
	other = p256_generate();
	assert_int_equal(p256_public_raw(other, other_pub), 0);
	EVP_PKEY_free(other);
	assert_int_equal(ecies_encrypt(other_pub, plain, 4, ct, sizeof(ct)), 84);
	assert_int_equal(db_begin(f->t->db), 0);
	r = key_issue(f->t->db, f->t->master, f->alice, NOW, ct, 84, f->dev_a.device_pub, &k, &err);
	db_rollback(f->t->db);
	assert_string_equal(err.code, "bad_ciphertext");
	/* Five bytes of plaintext are not a spot ID. */
	reservation(f, f->alice, other_pub);
	assert_int_equal(ecies_encrypt(other_pub, plain, 5, ct, sizeof(ct)), 85);
	assert_int_equal(db_begin(f->t->db), 0);
	r = key_issue(f->t->db, f->t->master, f->alice, NOW, ct, 85, f->dev_a.device_pub, &k, &err);
	db_rollback(f->t->db);
	assert_string_equal(err.code, "bad_ciphertext");

	/* No such spot; a device key off the curve. */
	assert_int_equal(issue(f, f->alice, 999, f->dev_a.device_pub, &k, &err), -KEY_E_NOTFOUND);
	assert_int_equal(err.status, 404);
	assert_string_equal(err.code, "not_found");
	memcpy(bad_pub, f->dev_a.device_pub, 64);
	bad_pub[5] ^= 1;
	assert_int_equal(issue(f, f->alice, 101, bad_pub, &k, &err), -KEY_E_INVALID);
	assert_string_equal(err.code, "bad_field");

	assert_int_equal(query(f->t->db, "SELECT COUNT(*) FROM ekeys"), 0);
	assert_int_equal(query(f->t->db, "SELECT COUNT(*) FROM mgmt_queue"), 0);
	assert_int_equal(query(f->t->db, "SELECT SUM(mgmt_seq) FROM locks"), 0);
	assert_int_equal(query(f->t->db, "SELECT value FROM id_counters WHERE name = 'key_id'"), 0);
}

/* Whether the queued frame `id` bears the site key's signature. */
static void assert_frame_signed_by_site(struct fixture *f, int64_t id)
{
	uint8_t frame[256], spub[64], tbs[PROTO_FRAME_MAX + 16], digest[32];
	struct wire_writer w;
	struct proto_msg m;
	size_t n = queued_frame(f, id, frame, sizeof(frame));

	assert_int_equal(proto_decode(frame, n, &m), 0);
	site_pub(f, spub);
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_mgmt_prefix(&w, 7);
	wire_put_bytes(&w, m.u.mgmt.signed_body, m.u.mgmt.signed_len);
	assert_false(w.error);
	assert_int_equal(p256_sha256(tbs, w.off, digest), 0);
	assert_int_equal(p256_verify_digest(spub, digest, m.u.mgmt.sig), 0);
}

/* key_request_issue() of an opened request in its own transaction, as the writer runs it. */
static int issue_opened(struct fixture *f, const struct key_request *req, struct key_issued *k,
			struct key_error *err)
{
	int r;

	assert_int_equal(db_begin(f->t->db), 0);
	r = key_request_issue(f->t->db, f->t->master, req, NOW, k, err);
	if (r == 0)
		assert_int_equal(db_commit(f->t->db), 0);
	else
		db_rollback(f->t->db);
	return r;
}

/* What changed between opening and issuing is decided again, inside the transaction. */
static void test_open_then_issue_decides_again(void **state)
{
	struct fixture *f = *state;
	uint8_t ct[4 + ECIES_OVERHEAD];
	struct key_request req;
	struct key_issued k;
	struct key_error err;
	size_t n = spot_ct(f, f->alice, 102, ct);

	/* Opened outside any transaction: the spot was free and open to anyone then. */
	assert_int_equal(key_request_open(f->t->db, f->t->master, NULL, f->alice, ct, n,
					  f->dev_a.device_pub, &req, &err), 0);
	assert_int_equal(req.spot_id, 102);
	assert_int_equal(req.site_id, 7);
	assert_null(req.site);
	/* Bob takes the spot meanwhile. */
	assert_int_equal(issue(f, f->bob, 102, f->dev_b.device_pub, &k, &err), 0);
	assert_int_equal(issue_opened(f, &req, &k, &err), -KEY_E_CONFLICT);
	assert_int_equal(err.status, 409);
	assert_string_equal(err.code, "spot_taken");
	/* Bob's key is revoked, but the owner made the spot 'authorised' meanwhile. */
	assert_int_equal(db_exec(f->t->db, "UPDATE ekeys SET revoked = 1", NULL), 0);
	assert_int_equal(db_exec(f->t->db, "UPDATE spots SET policy = 'authorised' WHERE id = 102",
				 NULL), 0);
	assert_int_equal(issue_opened(f, &req, &k, &err), -KEY_E_FORBIDDEN);
	assert_string_equal(err.code, "not_allowed");
	/* The refusals took nothing: the same request, once allowed, gets the next numbers. */
	assert_int_equal(query(f->t->db, "SELECT mgmt_seq FROM locks WHERE spot_id = 102"), 1);
	assert_int_equal(db_exec(f->t->db, "INSERT INTO authorised_users (spot_id, user_id) "
				 "VALUES (102, $1)", "i", f->alice), 0);
	assert_int_equal(issue_opened(f, &req, &k, &err), 0);
	assert_int_equal(k.ekey.key_id, 2);
	assert_int_equal(k.mgmt_seq, 2);
	assert_int_equal(k.ekey.user_id, f->alice);
	assert_frame_signed_by_site(f, k.mgmt_id);
	key_request_free(&req);
	key_request_free(&req); /* wiped: twice is fine */
	assert_null(req.res);
}

/* The e-key bytes stored for key_id. */
static void stored_ekey(struct fixture *f, uint32_t key_id, uint8_t out[PROTO_EKEY_LEN])
{
	struct db_stmt *st = db_prepare(f->t->db, "SELECT ekey FROM ekeys WHERE key_id = $1");
	const void *p;
	size_t len = 0;

	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, key_id), 0);
	assert_int_equal(db_step(st), DB_ROW);
	p = db_col_blob(st, 0, &len);
	assert_int_equal(len, PROTO_EKEY_LEN);
	memcpy(out, p, PROTO_EKEY_LEN);
	db_finalize(st);
}

/*
 * Issuing in steps, as the server's writer does for a batch: two drivers' requests for
 * one spot decided in one transaction (the second sees the first's row, before either is
 * signed), signed outside it, stored: the rows hold the signed bytes, and the frame is
 * signed with the site key from the database when the request carried none.
 */
static void test_issue_in_steps(void **state)
{
	struct fixture *f = *state;
	uint8_t ct[4 + ECIES_OVERHEAD], wire[PROTO_EKEY_LEN], tbs[PROTO_FRAME_MAX], digest[32];
	struct key_request ra, rb;
	struct key_issued ka, kb;
	struct key_error err;
	struct wire_writer w;
	size_t n;

	n = spot_ct(f, f->alice, 102, ct);
	assert_int_equal(key_request_open(f->t->db, f->t->master, NULL, f->alice, ct, n,
					  f->dev_a.device_pub, &ra, &err), 0);
	n = spot_ct(f, f->bob, 102, ct);
	assert_int_equal(key_request_open(f->t->db, f->t->master, NULL, f->bob, ct, n,
					  f->dev_b.device_pub, &rb, &err), 0);
	assert_int_equal(db_begin(f->t->db), 0);
	assert_int_equal(key_request_decide(f->t->db, &ra, NOW, &ka, &err), 0);
	assert_int_equal(key_request_decide(f->t->db, &rb, NOW, &kb, &err), -KEY_E_CONFLICT);
	assert_string_equal(err.code, "spot_taken");
	assert_int_equal(ka.cred_len, 0);
	assert_int_equal(key_request_sign(&ra, &ka), 0); /* no site key: store signs it */
	assert_int_equal(ka.cred_len, 0);
	assert_int_equal(key_request_store(f->t->db, f->t->master, &ra, NOW, &ka), 0);
	assert_int_equal(db_commit(f->t->db), 0);

	/* Stored: the signed bytes, which verify with the reservation key. */
	stored_ekey(f, ka.ekey.key_id, wire);
	assert_memory_equal(wire, ka.wire, PROTO_EKEY_LEN);
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_ekey(&w, &ka.ekey);
	assert_false(w.error);
	assert_memory_equal(wire, tbs + 4, PROTO_EKEY_TBS_LEN);
	assert_memory_equal(wire + PROTO_EKEY_TBS_LEN, ka.ekey.sig, PROTO_SIG_LEN);
	assert_int_equal(p256_sha256(tbs, w.off, digest), 0);
	assert_int_equal(p256_verify_digest(ra.res_pub, digest, ka.ekey.sig), 0);
	assert_true(ka.cred_len > 0);
	assert_frame_signed_by_site(f, ka.mgmt_id);
	assert_int_equal(query(f->t->db, "SELECT COUNT(*) FROM ekeys WHERE spot_id = 102"), 1);
	key_request_free(&ra);
	key_request_free(&rb);
}

/* Refused when opened: nothing to free, and the refusal is the one key_issue() gives. */
static void test_open_refusals(void **state)
{
	struct fixture *f = *state;
	uint8_t ct[4 + ECIES_OVERHEAD];
	struct key_request req;
	struct key_issued k;
	struct key_error err;
	size_t n = spot_ct(f, f->alice, 999, ct);

	assert_int_equal(key_request_open(f->t->db, f->t->master, NULL, f->alice, ct, n,
					  f->dev_a.device_pub, &req, &err), -KEY_E_NOTFOUND);
	assert_string_equal(err.code, "not_found");
	assert_null(req.res);
	assert_int_equal(db_exec(f->t->db, "UPDATE spots SET policy = 'authorised' WHERE id = 101",
				 NULL), 0);
	n = spot_ct(f, f->alice, 101, ct);
	assert_int_equal(key_request_open(f->t->db, f->t->master, NULL, f->alice, ct, n,
					  f->dev_a.device_pub, &req, &err), -KEY_E_FORBIDDEN);
	assert_int_equal(err.status, 403);
	assert_null(req.res);
	/* Issuing a request that was never opened is refused, not a crash. */
	assert_int_equal(issue_opened(f, &req, &k, &err), -KEY_E_INTERNAL);
}

/*
 * With a cache, the reservation key is unsealed once: a later open finds it there even
 * when the sealed row no longer opens (here: tampered with), which without the cache is
 * an internal error. The site key given with the request signs the credential.
 */
static void test_open_with_cached_keys(void **state)
{
	struct fixture *f = *state;
	struct keycache *cache = keycache_new(8);
	uint8_t ct[4 + ECIES_OVERHEAD], res_pub[64], pub[64];
	char label[KEYWRAP_LABEL_MAX];
	struct key_request req;
	struct key_issued k;
	struct key_error err;
	EVP_PKEY *kept;
	size_t n = spot_ct(f, f->alice, 101, ct);

	assert_non_null(cache);
	reservation(f, f->alice, res_pub);
	assert_int_equal(key_request_open(f->t->db, f->t->master, cache, f->alice, ct, n,
					  f->dev_a.device_pub, &req, &err), 0);
	key_request_free(&req);
	assert_int_equal(keywrap_label(label, "reservation", f->alice), 0);
	kept = keycache_get(cache, label, NULL);
	assert_non_null(kept);
	assert_int_equal(p256_public_raw(kept, pub), 0);
	assert_memory_equal(pub, res_pub, 64);
	EVP_PKEY_free(kept);

	assert_int_equal(db_exec(f->t->db, "UPDATE reservation_keys SET private_key = "
				 "zeroblob(80) WHERE user_id = $1", "i", f->alice), 0);
	assert_int_equal(key_request_open(f->t->db, f->t->master, NULL, f->alice, ct, n,
					  f->dev_a.device_pub, &req, &err), -KEY_E_INTERNAL);
	assert_int_equal(key_request_open(f->t->db, f->t->master, cache, f->alice, ct, n,
					  f->dev_a.device_pub, &req, &err), 0);
	assert_memory_equal(req.res_pub, res_pub, 64);
	assert_int_equal(site_key(f->t->db, f->t->master, 7, &req.site), 0);
	assert_int_equal(issue_opened(f, &req, &k, &err), 0);
	assert_frame_signed_by_site(f, k.mgmt_id);
	key_request_free(&req);
	keycache_free(cache);
}

static void test_key_list(void **state)
{
	struct fixture *f = *state;
	struct key_issued k;
	struct key_error err;
	json_object *list, *o, *v, *dl;
	char hex[2 * PROTO_EKEY_LEN + 1];

	assert_int_equal(issue(f, f->alice, 101, f->dev_a.device_pub, &k, &err), 0);
	assert_int_equal(issue(f, f->alice, 201, f->dev_a.device_pub, &k, &err), 0);
	assert_int_equal(db_exec(f->t->db, "UPDATE mgmt_queue SET state = 'acked', result = 'ok', "
				 "acked_at = 5 WHERE key_id = 2", NULL), 0);
	list = key_list(f->t->db, f->alice, NOW);
	assert_non_null(list);
	assert_int_equal(json_object_array_length(list), 2);
	o = json_object_array_get_idx(list, 0); /* newest first */
	assert_true(json_object_object_get_ex(o, "key_id", &v));
	assert_int_equal(json_object_get_int64(v), 2);
	assert_true(json_object_object_get_ex(o, "live", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "ekey", &v));
	assert_int_equal(hex_encode(k.wire, PROTO_EKEY_LEN, hex, sizeof(hex)), 2 * PROTO_EKEY_LEN);
	assert_string_equal(json_object_get_string(v), hex);
	assert_true(json_object_object_get_ex(o, "delivery", &dl));
	assert_true(json_object_object_get_ex(dl, "state", &v));
	assert_string_equal(json_object_get_string(v), "acked");
	assert_true(json_object_object_get_ex(dl, "result", &v));
	assert_string_equal(json_object_get_string(v), "ok");
	o = json_object_array_get_idx(list, 1);
	assert_true(json_object_object_get_ex(o, "delivery", &dl));
	assert_true(json_object_object_get_ex(dl, "state", &v));
	assert_string_equal(json_object_get_string(v), "pending");
	json_object_put(list);
	list = key_list(f->t->db, f->bob, NOW);
	assert_int_equal(json_object_array_length(list), 0);
	json_object_put(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reservation_key_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_and_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_accepts_credential, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sequence_per_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spot_taken_and_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_then_issue_decides_again, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_with_cached_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_store_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_in_steps, setup, teardown),
	};

	log_init("test-key", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
