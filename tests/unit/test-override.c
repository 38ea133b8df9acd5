/*
 * test-override.c: server/override and its route POST /v1/spots/{id}/override on the
 * test site: an attendant's override is queued as a REMOTE_OPERATE signed by the site
 * key, which an in-process lock core takes and acts on, with the reason stored, audited
 * and the spot's managers notified through the hook; site and server administrators may
 * too; a driver, the spot's owner and another site's attendant may not; a missing, blank,
 * too long or multi-line reason and a bad op are refused; and every refusal queues,
 * audits and notifies nothing. Also the rule for typed text, byte by byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "../../server/delivery.h"
#include "../../server/hook.h"
#include "../../server/notify.h"
#include "../../server/override.h"
#include "../../server/role.h"
#include "../../server/routes.h"
#include "../../server/timerelay.h"
#include "../support/test-proc.h"
#include "../support/test-route.h"

#define NOW 1800000000
#define SITE 7
#define SPOT "101"
#define REASON "Driver stuck: ticket machine down"
#define PATTERN "/v1/spots/{id}/override"

struct fixture {
	struct test_route *r;
	struct auth_user attendant, site_admin, server_admin, driver, owner, stranger;
	struct test_lock *lock; /* the lock of spot 101, with the server's time */
};

static struct auth_user user_of(struct test_site_db *t, int n, const char *role, int64_t site)
{
	struct auth_user u;
	int64_t id;

	memset(&u, 0, sizeof(u));
	u.user_id = test_site_db_user(t, n);
	snprintf(u.phone, sizeof(u.phone), "+8613800000%03d", n);
	if (role != NULL && site == SITE)
		must(role_grant(t->db, u.phone, role, site, &id) == 0);
	else if (role != NULL)
		must(db_exec(t->db, "INSERT INTO roles (user_id, role, site_id) "
			     "VALUES ($1, $2, $3)", "isi", u.user_id, role, site) == 0);
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

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct test_site_db *t;
	size_t queued = 0;

	must(f != NULL);
	log_init("test-override", LOG_ERROR);
	test_route_now = NOW;
	f->r = test_route_new();
	t = f->r->t;
	f->attendant = user_of(t, 1, "attendant", SITE);
	f->site_admin = user_of(t, 2, "admin", SITE);
	f->server_admin = user_of(t, 3, NULL, 0);
	f->server_admin.admin = true;
	must(db_exec(t->db, "UPDATE users SET admin = 1 WHERE id = $1", "i",
		     f->server_admin.user_id) == 0);
	f->driver = user_of(t, 4, NULL, 0);
	f->owner = user_of(t, 5, NULL, 0);
	must(db_exec(t->db, "UPDATE spots SET owner_id = $1 WHERE id = 101", "i",
		     f->owner.user_id) == 0);
	f->stranger = user_of(t, 6, "attendant", 8); /* another site's attendant */
	/* The lock of 101 as installed: provisioned, and the server's time delivered. */
	f->lock = calloc(1, sizeof(*f->lock));
	must(f->lock != NULL);
	test_site_db_attach_lock(t, f->lock, 101);
	must(db_begin(t->db) == 0);
	must(timerelay_queue(t->db, t->master, SITE, NOW, 0, &queued) == 0 && queued > 0);
	must(db_commit(t->db) == 0);
	must(deliver_pending(f) == PROTO_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_lock_free(f->lock);
	free(f->lock);
	test_route_free(f->r);
	free(f);
	return 0;
}

static int64_t count(struct fixture *f, const char *sql)
{
	return test_site_db_int(f->r->t->db, sql);
}

static int post(struct fixture *f, const struct auth_user *u, const char *spot, const char *body,
		json_object **reply)
{
	return test_route_call(f->r, override_routes, override_routes_count, "POST", PATTERN, spot,
			       NULL, u, body, reply);
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_int64(v);
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

/* Nothing of an override was written: no message, no reason, no audit, no notification. */
static void assert_nothing_written(struct fixture *f)
{
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'override'"), 0);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM overrides"), 0);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action = 'override'"), 0);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM notifications WHERE kind = 'override'"), 0);
}

/* The frame of mgmt_queue row `id`, decoded, with its REMOTE_OPERATE payload. */
static void queued_frame(struct fixture *f, int64_t id, struct proto_msg *m,
			 union proto_mgmt_payload *p, uint8_t *frame, size_t *len)
{
	struct db_stmt *st = db_prepare(f->r->t->db, "SELECT frame, kind, state FROM mgmt_queue "
					"WHERE id = $1");
	const void *blob;

	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, id), 0);
	assert_int_equal(db_step(st), DB_ROW);
	blob = db_col_blob(st, 0, len);
	assert_true(blob != NULL && *len <= PROTO_FRAME_MAX);
	memcpy(frame, blob, *len);
	assert_string_equal(db_col_text(st, 1), "override");
	assert_string_equal(db_col_text(st, 2), "pending");
	db_finalize(st);
	assert_int_equal(proto_decode(frame, *len, m), 0);
	assert_int_equal(m->type, PROTO_MGMT);
	assert_int_equal(proto_mgmt_decode_payload(m->u.mgmt.mtype, m->u.mgmt.payload,
						   m->u.mgmt.plen, p), 0);
}

static void test_attendant_override_reaches_lock(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[PROTO_FRAME_MAX], digest[SHA256_DIGEST_LENGTH], raw[8];
	union proto_mgmt_payload p;
	struct proto_msg m;
	json_object *reply = NULL;
	struct proto_event e;
	uint8_t before[PROTO_HASH_LEN];
	int64_t id, seq;
	size_t len = 0;
	uint32_t s;

	assert_int_equal(post(f, &f->attendant, SPOT, "{\"op\":\"unlock\",\"reason\":\"" REASON
			      "\"}", &reply), 202);
	id = get_int(reply, "message_id");
	seq = get_int(reply, "seq");
	assert_int_equal(get_int(reply, "spot"), 101);
	assert_string_equal(get_str(reply, "op"), "unlock");
	assert_int_equal(get_int(reply, "not_after"), NOW + OVERRIDE_TTL_S);
	SHA256((const unsigned char *)REASON, strlen(REASON), digest);
	assert_int_equal(hex_decode(get_str(reply, "reason_digest"), raw, sizeof(raw)), 8);
	assert_memory_equal(raw, digest, 8);
	json_object_put(reply);

	/* The queued frame is the REMOTE_OPERATE asked for, under the lock's next sequence. */
	queued_frame(f, id, &m, &p, frame, &len);
	assert_int_equal(m.u.mgmt.mtype, PROTO_MGMT_REMOTE_OPERATE);
	assert_int_equal(m.u.mgmt.target_spot, 101);
	assert_int_equal(m.u.mgmt.seq, seq);
	assert_int_equal(count(f, "SELECT mgmt_seq FROM locks WHERE spot_id = 101"), seq);
	assert_int_equal(p.remote.op, PROTO_OP_UNLOCK);
	assert_int_equal(p.remote.user_id, f->attendant.user_id);
	assert_int_equal(p.remote.not_after, NOW + OVERRIDE_TTL_S);
	assert_memory_equal(p.remote.reason, digest, PROTO_REASON_DIGEST_LEN);
	/* The reason, the audit row (who, spot, op, reason) and the owner's notification. */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM overrides WHERE spot_id = 101 AND "
			       "op = 'unlock' AND reason = '" REASON "'"), 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action = 'override' AND "
			       "detail LIKE 'spot 101 unlock, message %: " REASON "' AND "
			       "peer = '127.0.0.1' AND user_id = (SELECT user_id FROM "
			       "overrides)"), 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM notifications WHERE kind = 'override' "
			       "AND spot_id = 101 AND state = 'pending'"), 1);

	/* The lock verifies the site's signature and lowers its barrier. */
	assert_int_equal(deliver_pending(f), PROTO_OK);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'override' AND "
			       "state = 'acked' AND result = 'ok'"), 1);
	test_lock_run(f->lock, 10000);
	assert_int_equal(f->lock->lock.barrier, PROTO_BARRIER_DOWN);
	for (s = f->lock->lock.log.head_seq; s > 0; s--)
		if (evlog_read(&f->lock->lock.log, s, &e, before) == 0 &&
		    e.kind == PROTO_EV_OVERRIDE)
			break;
	assert_true(s > 0);
	assert_int_equal(e.user_id, f->attendant.user_id);
	assert_int_equal(e.key_id, seq);
	assert_int_equal(e.arg16, digest[0] << 8 | digest[1]);

	/* And raises it again. */
	assert_int_equal(post(f, &f->attendant, SPOT, "{\"op\":\"lock\",\"reason\":\"driver out\"}",
			      NULL), 202);
	assert_int_equal(deliver_pending(f), PROTO_OK);
	test_lock_run(f->lock, 10000);
	assert_int_equal(f->lock->lock.barrier, PROTO_BARRIER_UP);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action = 'override'"), 2);
}

static void test_administrators_may(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(post(f, &f->site_admin, SPOT, "{\"op\":\"unlock\",\"reason\":\"x\"}",
			      NULL), 202);
	assert_int_equal(post(f, &f->server_admin, "202", "{\"op\":\"lock\",\"reason\":\"y\"}",
			      NULL), 202);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'override'"), 2);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM overrides WHERE spot_id = 202 AND "
			       "op = 'lock'"), 1);
}

static void test_others_forbidden(void **state)
{
	struct fixture *f = *state;
	const struct auth_user *who[] = { &f->driver, &f->owner, &f->stranger };
	json_object *reply = NULL;
	size_t i;

	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		assert_int_equal(post(f, who[i], SPOT, "{\"op\":\"unlock\",\"reason\":\"let me "
				      "in\"}", &reply), 403);
		assert_string_equal(test_route_error(reply), "forbidden");
		json_object_put(reply);
		/* Even a bad body gets 403: a stranger learns nothing of the rules. */
		assert_int_equal(post(f, who[i], SPOT, "{}", NULL), 403);
	}
	assert_nothing_written(f);
	assert_int_equal(f->lock->lock.barrier, PROTO_BARRIER_UP);
}

static void test_unknown_spot(void **state)
{
	struct fixture *f = *state;
	const char *spots[] = { "999", "0", "-1", "abc", "101x", "", "4294967296" };
	json_object *reply = NULL;
	size_t i;

	for (i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		assert_int_equal(post(f, &f->attendant, spots[i],
				      "{\"op\":\"unlock\",\"reason\":\"x\"}", &reply), 404);
		assert_string_equal(test_route_error(reply), "not_found");
		json_object_put(reply);
	}
	assert_nothing_written(f);
}

static void test_bad_body_refused(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *body;
		const char *code;
	} bad[] = {
		{ "{}", "missing_field" },
		{ "{\"reason\":\"x\"}", "missing_field" },
		{ "{\"op\":null,\"reason\":\"x\"}", "missing_field" },
		{ "{\"op\":\"open\",\"reason\":\"x\"}", "bad_field" },
		{ "{\"op\":\"UNLOCK\",\"reason\":\"x\"}", "bad_field" },
		{ "{\"op\":1,\"reason\":\"x\"}", "bad_field" },
		{ "{\"op\":\"unlock\"}", "missing_field" },
		{ "{\"op\":\"unlock\",\"reason\":null}", "missing_field" },
		{ "{\"op\":\"unlock\",\"reason\":\"\"}", "bad_field" },
		{ "{\"op\":\"unlock\",\"reason\":\"   \"}", "bad_field" },
		{ "{\"op\":\"unlock\",\"reason\":\"\\u3000\\u00a0\\u200b\"}", "bad_field" },
		{ "{\"op\":\"unlock\",\"reason\":\"two\\nlines\"}", "bad_field" },
		{ "{\"op\":\"unlock\",\"reason\":\"tab\\there\"}", "bad_field" },
		{ "{\"op\":\"unlock\",\"reason\":\"nul\\u0000byte\"}", "bad_field" },
		{ "{\"op\":\"unlock\",\"reason\":42}", "bad_field" },
		{ "{\"op\":\"unlock\",\"reason\":[\"x\"]}", "bad_field" },
	};
	char body[2048], reason[1024];
	json_object *reply = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(post(f, &f->attendant, SPOT, bad[i].body, &reply), 400);
		if (strcmp(test_route_error(reply), bad[i].code) != 0)
			fail_msg("%s: %s", bad[i].body, json_object_to_json_string(reply));
		json_object_put(reply);
	}
	/* 201 characters: too long, whether one byte each or two. */
	memset(reason, 'a', 201);
	reason[201] = '\0';
	snprintf(body, sizeof(body), "{\"op\":\"unlock\",\"reason\":\"%s\"}", reason);
	assert_int_equal(post(f, &f->attendant, SPOT, body, &reply), 400);
	assert_string_equal(test_route_error(reply), "bad_field");
	json_object_put(reply);
	for (i = 0; i < 201; i++)
		memcpy(reason + 2 * i, "\xc3\xa9", 2); /* é */
	reason[402] = '\0';
	snprintf(body, sizeof(body), "{\"op\":\"unlock\",\"reason\":\"%s\"}", reason);
	assert_int_equal(post(f, &f->attendant, SPOT, body, NULL), 400);
	assert_nothing_written(f);

	/* 200 characters of 2 bytes is the longest reason. */
	reason[400] = '\0';
	snprintf(body, sizeof(body), "{\"op\":\"unlock\",\"reason\":\"%s\"}", reason);
	assert_int_equal(post(f, &f->attendant, SPOT, body, NULL), 202);
	assert_int_equal(count(f, "SELECT length(reason) FROM overrides"), 200);
}

/* The notification worker tells the spot's managers, the owner among them. */
static void test_hook_notified(void **state)
{
	struct fixture *f = *state;
	struct hook hook;
	char spec[160], path[128], text[8192], err[200], owner[48];

	assert_int_equal(post(f, &f->attendant, SPOT, "{\"op\":\"unlock\",\"reason\":\"x\"}",
			      NULL), 202);
	snprintf(path, sizeof(path), "%s/notify.jsonl", f->r->t->dir);
	snprintf(spec, sizeof(spec), "file:%s", path);
	assert_int_equal(hook_parse(spec, &hook, err, sizeof(err)), 0);
	assert_int_equal(notify_pass(f->r->t->db, &hook, NOW + 1), 1);
	assert_true(test_read_file(path, text, sizeof(text)) > 0);
	assert_non_null(strstr(text, "\"kind\":\"override\""));
	assert_non_null(strstr(text, "\"spot\":{\"id\":101,"));
	snprintf(owner, sizeof(owner), "{\"user_id\":%lld,", (long long)f->owner.user_id);
	assert_non_null(strstr(text, owner));
	assert_int_equal(count(f, "SELECT COUNT(*) FROM notifications WHERE kind = 'override' "
			       "AND state = 'sent'"), 1);
}

/* A lock whose sequences are spent gets nothing, and nothing is written. */
static void test_spent_lock_conflict(void **state)
{
	struct fixture *f = *state;
	json_object *reply = NULL;

	assert_int_equal(db_exec(f->r->t->db, "UPDATE locks SET mgmt_seq = 4294967295 WHERE "
				 "spot_id = 101", NULL), 0);
	assert_int_equal(post(f, &f->attendant, SPOT, "{\"op\":\"unlock\",\"reason\":\"x\"}",
			      &reply), 409);
	assert_string_equal(test_route_error(reply), "conflict");
	json_object_put(reply);
	assert_nothing_written(f);
}

/* ---- the rule for typed text ---- */

static int check(const char *s, size_t max, int blank_ok)
{
	return override_text_check(s, strlen(s), max, blank_ok);
}

static void test_text_rule(void **state)
{
	char buf[1024];
	size_t i;

	(void)state;
	assert_int_equal(check("ok", 200, 0), OVERRIDE_TEXT_OK);
	assert_int_equal(check("", 200, 0), OVERRIDE_TEXT_BLANK);
	assert_int_equal(check("", 200, 1), OVERRIDE_TEXT_OK);
	assert_int_equal(check(" \xc2\xa0\xe3\x80\x80\xef\xbb\xbf", 200, 0), OVERRIDE_TEXT_BLANK);
	assert_int_equal(check(" \xc2\xa0x", 200, 0), OVERRIDE_TEXT_OK);
	assert_int_equal(check("\xe8\xbd\xa6\xe4\xbd\x8d", 2, 0), OVERRIDE_TEXT_OK); /* 车位 */
	assert_int_equal(check("\xe8\xbd\xa6\xe4\xbd\x8d", 1, 0), OVERRIDE_TEXT_LONG);
	assert_int_equal(check("\xf0\x9f\x9a\x97", 1, 0), OVERRIDE_TEXT_OK); /* U+1F697 */
	/* Control characters: C0, DEL and C1. */
	assert_int_equal(check("a\rb", 200, 0), OVERRIDE_TEXT_CONTROL);
	assert_int_equal(check("a\x1b[2J", 200, 0), OVERRIDE_TEXT_CONTROL);
	assert_int_equal(check("a\x7f", 200, 0), OVERRIDE_TEXT_CONTROL);
	assert_int_equal(check("a\xc2\x85", 200, 0), OVERRIDE_TEXT_CONTROL);
	assert_int_equal(check("a\xc2\x9b", 200, 0), OVERRIDE_TEXT_CONTROL);
	/* Not UTF-8: stray and truncated sequences, overlong forms, surrogates, > U+10FFFF. */
	assert_int_equal(check("\x80", 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(check("a\xc3", 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(check("\xe8\xbd", 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(check("\xc0\xaf", 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(check("\xe0\x80\xaf", 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(check("\xf0\x80\x80\xaf", 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(check("\xed\xa0\x80", 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(check("\xf4\x90\x80\x80", 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(check("\xf5\x80\x80\x80", 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(check("\xc3\x28", 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(override_text_check("a\0b", 3, 200, 0), OVERRIDE_TEXT_CONTROL);
	assert_int_equal(override_text_check(NULL, 0, 200, 0), OVERRIDE_TEXT_BLANK);
	/* The limit counts characters: 200 four-byte ones pass, 201 do not. */
	for (i = 0; i < 201; i++)
		memcpy(buf + 4 * i, "\xf0\x9f\x9a\x97", 4);
	assert_int_equal(override_text_check(buf, 800, 200, 0), OVERRIDE_TEXT_OK);
	assert_int_equal(override_text_check(buf, 804, 200, 0), OVERRIDE_TEXT_LONG);
	assert_int_equal(override_text_check(buf, 803, 200, 0), OVERRIDE_TEXT_UTF8);
	assert_int_equal(override_op_parse("unlock"), PROTO_OP_UNLOCK);
	assert_int_equal(override_op_parse("lock"), PROTO_OP_LOCK);
	assert_int_equal(override_op_parse("Lock"), 0);
	assert_int_equal(override_op_parse(NULL), 0);
	assert_string_equal(override_op_name(PROTO_OP_LOCK), "lock");
	assert_null(override_op_name(3));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_attendant_override_reaches_lock),
		T(test_administrators_may),
		T(test_others_forbidden),
		T(test_unknown_spot),
		T(test_bad_body_refused),
		T(test_hook_notified),
		T(test_spent_lock_conflict),
		cmocka_unit_test(test_text_rule),
	};

	return cmocka_run_group_tests_name("override", tests, NULL, NULL);
}
