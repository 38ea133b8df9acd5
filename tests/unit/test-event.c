/*
 * test-event.c: unit tests of server/event.c on a migrated SQLite database holding the
 * test site (tests/support/test-site-db.h): every field of a gateway's batch validated,
 * each event stored once by (spot, seq), the spot's live state moved on only by newer
 * events, audit and notification rows, refusals (unknown spot, spot not covered) that
 * store nothing, and who may watch which spots.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/event.h"
#include "../support/test-site-db.h"

#define NOW 1800000100

static int setup(void **state)
{
	struct test_site_db *t = test_site_db_new();

	test_site_db_import_good(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	test_site_db_free(*state);
	return 0;
}

static struct event_in ev(int64_t spot, int64_t seq, uint8_t kind, int64_t arg8, int64_t arg16)
{
	struct event_in e;

	memset(&e, 0, sizeof(e));
	e.spot = spot;
	e.seq = seq;
	e.time = 1800000000 + seq;
	e.kind = kind;
	e.arg8 = arg8;
	e.arg16 = arg16;
	e.user_id = 42;
	e.key_id = 9;
	return e;
}

/* Ingests through gateway `gw`; returns the result with *acc and *dups. */
static int ingest(struct test_site_db *t, int64_t gw, bool notify, const struct event_in *e,
		  size_t n, size_t *acc, int64_t *dups)
{
	struct event_stored out[EVENT_BATCH_MAX];
	struct event_error err;
	int r;

	r = event_ingest(t->db, gw, NOW, notify, e, n, out, acc, dups, &err);
	if (r == 0)
		event_stored_free(out, *acc);
	return r;
}

/* The single integer of a query. */
static int64_t count(struct test_site_db *t, const char *sql)
{
	return test_site_db_int(t->db, sql);
}

/* The spot's live state column, or -1 for NULL. */
static int64_t state(struct test_site_db *t, int64_t spot, const char *col)
{
	char sql[160];
	struct db_stmt *st;
	int64_t v;

	snprintf(sql, sizeof(sql), "SELECT %s FROM spots WHERE id = %lld", col, (long long)spot);
	st = db_prepare(t->db, sql);
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	v = db_col_null(st, 0) ? -1 : db_col_int(st, 0);
	db_finalize(st);
	return v;
}

static void test_stored_once(void **state_)
{
	struct test_site_db *t = *state_;
	struct event_in e[4];
	struct event_stored out[EVENT_BATCH_MAX];
	struct event_error err;
	json_object *v;
	size_t acc = 0;
	int64_t dups = -1;

	e[0] = ev(101, 1, PROTO_EV_BOOT, PROTO_BARRIER_UP, 90);
	e[1] = ev(101, 2, PROTO_EV_CAR_ARRIVED, 0, 0);
	e[2] = ev(102, 1, PROTO_EV_BOOT, PROTO_BARRIER_UP, 100);
	assert_int_equal(event_ingest(t->db, 1, NOW, false, e, 3, out, &acc, &dups, &err), 0);
	assert_int_equal(acc, 3);
	assert_int_equal(dups, 0);
	assert_int_equal(out[1].site_id, TEST_SITE_DB_SITE_ID);
	assert_int_equal(out[1].spot_id, 101);
	assert_true(json_object_object_get_ex(out[1].json, "kind", &v));
	assert_string_equal(json_object_get_string(v), "car_arrived");
	assert_true(json_object_object_get_ex(out[1].json, "seq", &v));
	assert_int_equal(json_object_get_int64(v), 2);
	assert_true(json_object_object_get_ex(out[1].json, "received_at", &v));
	assert_int_equal(json_object_get_int64(v), NOW);
	event_stored_free(out, acc);

	/* A retry of the same batch with one more: only the new one is stored. */
	e[3] = ev(101, 3, PROTO_EV_CAR_LEFT, 0, 0);
	assert_int_equal(ingest(t, 1, false, e, 4, &acc, &dups), 0);
	assert_int_equal(acc, 1);
	assert_int_equal(dups, 3);
	assert_int_equal(count(t, "SELECT count(*) FROM events"), 4);
	assert_int_equal(count(t, "SELECT count(*) FROM events WHERE spot_id = 101"), 3);
	/* The same (spot, seq) twice in one batch is one event. */
	e[0] = ev(102, 2, PROTO_EV_LOW_BATTERY, 0, 20);
	e[1] = e[0];
	assert_int_equal(ingest(t, 1, false, e, 2, &acc, &dups), 0);
	assert_int_equal(acc, 1);
	assert_int_equal(dups, 1);
	assert_int_equal(count(t, "SELECT count(*) FROM audit WHERE action = 'event'"), 5);
	assert_int_equal(count(t, "SELECT event_seq FROM locks WHERE spot_id = 101"), 3);
	assert_int_equal(count(t, "SELECT gateway_id FROM events WHERE spot_id = 102 AND "
				 "seq = 2"), 1);
	/* An empty batch is fine. */
	assert_int_equal(ingest(t, 1, false, e, 0, &acc, &dups), 0);
	assert_int_equal(acc, 0);
}

static void test_live_state(void **state_)
{
	struct test_site_db *t = *state_;
	struct event_in e[3];
	size_t acc;
	int64_t dups;

	assert_int_equal(state(t, 101, "locked"), -1);
	assert_int_equal(state(t, 101, "online"), 0);
	e[0] = ev(101, 1, PROTO_EV_BOOT, PROTO_BARRIER_UP, 87);
	assert_int_equal(ingest(t, 1, false, e, 1, &acc, &dups), 0);
	assert_int_equal(state(t, 101, "locked"), 1);
	assert_int_equal(state(t, 101, "battery"), 87);
	assert_int_equal(state(t, 101, "online"), 1);
	assert_int_equal(state(t, 101, "last_event_at"), NOW);
	assert_int_equal(state(t, 101, "occupied"), -1);

	e[0] = ev(101, 5, PROTO_EV_UNLOCKED, 1, 1);
	e[1] = ev(101, 6, PROTO_EV_CAR_ARRIVED, 0, 0);
	e[2] = ev(101, 7, PROTO_EV_LOW_BATTERY, 0, 12);
	assert_int_equal(ingest(t, 1, false, e, 3, &acc, &dups), 0);
	assert_int_equal(state(t, 101, "locked"), 0);
	assert_int_equal(state(t, 101, "occupied"), 1);
	assert_int_equal(state(t, 101, "battery"), 12);

	/* Late events (older sequences) are stored but do not undo the newer state. */
	e[0] = ev(101, 3, PROTO_EV_LOCKED, 3, 0);
	e[1] = ev(101, 4, PROTO_EV_CAR_LEFT, 0, 0);
	assert_int_equal(ingest(t, 1, false, e, 2, &acc, &dups), 0);
	assert_int_equal(acc, 2);
	assert_int_equal(state(t, 101, "locked"), 0);
	assert_int_equal(state(t, 101, "occupied"), 1);
	assert_int_equal(count(t, "SELECT event_seq FROM locks WHERE spot_id = 101"), 7);

	e[0] = ev(101, 8, PROTO_EV_FORCED, 0, 0);
	e[1] = ev(101, 9, PROTO_EV_CAR_LEFT, 0, 0);
	e[2] = ev(101, 10, PROTO_EV_LOCKED, 3, 0);
	assert_int_equal(ingest(t, 1, false, e, 2, &acc, &dups), 0);
	assert_int_equal(state(t, 101, "locked"), 0);
	assert_int_equal(state(t, 101, "occupied"), 0);
	assert_int_equal(ingest(t, 1, false, &e[2], 1, &acc, &dups), 0);
	assert_int_equal(state(t, 101, "locked"), 1);
	/* A boot with the barrier down says the spot is open. */
	e[0] = ev(101, 11, PROTO_EV_BOOT, PROTO_BARRIER_DOWN, 80);
	assert_int_equal(ingest(t, 1, false, e, 1, &acc, &dups), 0);
	assert_int_equal(state(t, 101, "locked"), 0);
	/* Another spot is untouched. */
	assert_int_equal(state(t, 102, "online"), 0);
}

static void test_refused_stores_nothing(void **state_)
{
	struct test_site_db *t = *state_;
	struct event_in e[2];
	struct event_stored out[2];
	struct event_error err;
	size_t acc = 7;
	int64_t dups;

	/* 201 is gateway 2's: gateway 1 may not report it, nor anything in the same batch. */
	e[0] = ev(101, 1, PROTO_EV_CAR_ARRIVED, 0, 0);
	e[1] = ev(201, 1, PROTO_EV_CAR_ARRIVED, 0, 0);
	assert_int_equal(event_ingest(t->db, 1, NOW, true, e, 2, out, &acc, &dups, &err),
			 -EVENT_E_FORBIDDEN);
	assert_int_equal(acc, 0);
	assert_int_equal(err.status, 403);
	assert_string_equal(err.code, "forbidden");
	assert_non_null(strstr(err.detail, "201"));
	e[1] = ev(999, 1, PROTO_EV_CAR_ARRIVED, 0, 0);
	assert_int_equal(event_ingest(t->db, 1, NOW, true, e, 2, out, &acc, &dups, &err),
			 -EVENT_E_NOTFOUND);
	assert_int_equal(err.status, 404);
	assert_string_equal(err.code, "not_found");
	/* An unknown gateway covers nothing. */
	assert_int_equal(event_ingest(t->db, 77, NOW, true, e, 1, out, &acc, &dups, &err),
			 -EVENT_E_FORBIDDEN);
	assert_int_equal(count(t, "SELECT count(*) FROM events"), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM notifications"), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM audit WHERE action = 'event'"), 0);
	assert_int_equal(state(t, 101, "online"), 0);
	/* Gateway 2 may. */
	assert_int_equal(ingest(t, 2, false, &e[0], 0, &acc, &dups), 0);
	e[0] = ev(201, 1, PROTO_EV_CAR_ARRIVED, 0, 0);
	assert_int_equal(ingest(t, 2, false, e, 1, &acc, &dups), 0);
	assert_int_equal(acc, 1);
}

static void test_notification_rows(void **state_)
{
	struct test_site_db *t = *state_;
	struct event_in e[4];
	size_t acc;
	int64_t dups;

	e[0] = ev(101, 1, PROTO_EV_BOOT, 0, 100);
	e[1] = ev(101, 2, PROTO_EV_CAR_ARRIVED, 0, 0);
	e[2] = ev(101, 3, PROTO_EV_MGMT, 1, 0);
	e[3] = ev(101, 4, PROTO_EV_LOCKOUT, 0, 5);
	assert_int_equal(ingest(t, 1, true, e, 4, &acc, &dups), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM notifications"), 2);
	assert_int_equal(count(t, "SELECT count(*) FROM notifications n JOIN events e ON "
				 "e.id = n.event_id WHERE e.kind IN ('car_arrived', 'lockout') "
				 "AND n.state = 'pending'"), 2);
	/* A duplicate makes no second notification. */
	assert_int_equal(ingest(t, 1, true, e, 4, &acc, &dups), 0);
	assert_int_equal(dups, 4);
	assert_int_equal(count(t, "SELECT count(*) FROM notifications"), 2);
	/* Without a hook configured, none. */
	e[0] = ev(101, 5, PROTO_EV_CAR_LEFT, 0, 0);
	assert_int_equal(ingest(t, 1, false, e, 1, &acc, &dups), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM notifications"), 2);
}

/* Parses the JSON text `body`; returns event_parse()'s result with the reply's code. */
static int parse(const char *body, char *code, size_t cap, int *status)
{
	struct event_in out[EVENT_BATCH_MAX];
	struct http_reply rep;
	json_object *j = json_tokener_parse(body), *v;
	int r;

	assert_non_null(j);
	memset(&rep, 0, sizeof(rep));
	r = event_parse(j, out, EVENT_BATCH_MAX, &rep);
	code[0] = '\0';
	*status = rep.status;
	if (rep.json != NULL && json_object_object_get_ex(rep.json, "error", &v))
		snprintf(code, cap, "%s", json_object_get_string(v));
	json_object_put(rep.json);
	json_object_put(j);
	return r;
}

#define GOOD "\"spot\":101,\"seq\":1,\"time\":0,\"kind\":\"unlocked\",\"arg8\":1,\"arg16\":2," \
	"\"user_id\":42,\"key_id\":9"

static void test_validation(void **state_)
{
	static const struct {
		const char *body;
		int status;
		const char *code;
	} bad[] = {
		{ "{}", 400, "missing_field" },
		{ "{\"events\":null}", 400, "missing_field" },
		{ "{\"events\":{}}", 400, "bad_field" },
		{ "{\"events\":[1]}", 400, "bad_field" },
		{ "{\"events\":[{}]}", 400, "missing_field" },
		{ "{\"events\":[{\"seq\":1,\"time\":0,\"kind\":\"unlocked\",\"arg8\":1,\"arg16\":2,"
		  "\"user_id\":42,\"key_id\":9}]}", 400, "missing_field" },
		{ "{\"events\":[{\"spot\":101,\"seq\":1,\"time\":0,\"arg8\":1,\"arg16\":2,"
		  "\"user_id\":42,\"key_id\":9}]}", 400, "missing_field" },
		{ "{\"events\":[{\"spot\":101,\"seq\":1,\"kind\":\"unlocked\"}]}", 400,
		  "missing_field" },
		{ "{\"events\":[{" GOOD ",\"spot\":\"101\"}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"spot\":0}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"spot\":4294967296}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"seq\":0}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"seq\":-1}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"time\":1.5}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"time\":true}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"arg8\":256}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"arg16\":65536}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"user_id\":99999999999999999999}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"kind\":\"exploded\"}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"kind\":\"unknown\"}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD ",\"kind\":2}]}", 400, "bad_field" },
		{ "{\"events\":[{" GOOD "},{" GOOD ",\"seq\":\"x\"}]}", 400, "bad_field" },
	};
	char code[64], big[16384];
	size_t i, off;
	int status;

	(void)state_;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i].body, code, sizeof(code), &status) != -1)
			fail_msg("accepted: %s", bad[i].body);
		assert_int_equal(status, bad[i].status);
		assert_string_equal(code, bad[i].code);
	}
	assert_int_equal(parse("{\"events\":[{" GOOD "},{" GOOD ",\"seq\":2,\"kind\":"
			       "\"car_arrived\"}]}", code, sizeof(code), &status), 2);
	assert_int_equal(parse("{\"events\":[]}", code, sizeof(code), &status), 0);
	/* The arguments may be left out (or null): they are 0. */
	assert_int_equal(parse("{\"events\":[{\"spot\":101,\"seq\":1,\"time\":0,\"kind\":"
			       "\"car_left\",\"key_id\":null}]}", code, sizeof(code), &status), 1);
	/* 101 events are too many. */
	off = (size_t)snprintf(big, sizeof(big), "{\"events\":[");
	for (i = 0; i < 101; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off, "%s{" GOOD "}",
					i > 0 ? "," : "");
	snprintf(big + off, sizeof(big) - off, "]}");
	assert_int_equal(parse(big, code, sizeof(code), &status), -1);
	assert_int_equal(status, 413);
	assert_string_equal(code, "body_too_large");
}

static void test_who_may_watch(void **state_)
{
	struct test_site_db *t = *state_;
	int64_t owner = test_site_db_user(t, 1), attendant = test_site_db_user(t, 2);
	int64_t driver = test_site_db_user(t, 3), stranger = test_site_db_user(t, 4);
	int64_t *spots = NULL;
	size_t n = 9;

	must(db_exec(t->db, "UPDATE spots SET owner_id = $1 WHERE id = 102", "i", owner) == 0);
	must(db_exec(t->db, "INSERT INTO roles (user_id, role, spot_id) VALUES ($1, 'owner', "
		     "201)", "i", owner) == 0);
	must(db_exec(t->db, "INSERT INTO roles (user_id, role, site_id) VALUES ($1, "
		     "'attendant', $2)", "ii", attendant, (int64_t)TEST_SITE_DB_SITE_ID) == 0);
	must(db_exec(t->db, "INSERT INTO ekeys (key_id, user_id, spot_id, device_pub, not_before, "
		     "not_after, max_unlocks, flags, ekey, issued_at) VALUES (5, $1, 101, x'00', "
		     "0, 4294967295, 0, 0, x'00', 1)", "i", driver) == 0);
	must(db_exec(t->db, "INSERT INTO ekeys (key_id, user_id, spot_id, device_pub, not_before, "
		     "not_after, max_unlocks, flags, ekey, issued_at, revoked) VALUES (6, $1, 202, "
		     "x'00', 0, 4294967295, 0, 0, x'00', 1, 1)", "i", driver) == 0);

	assert_int_equal(event_user_spots(t->db, owner, &spots, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(spots[0], 102);
	assert_int_equal(spots[1], 201);
	free(spots);
	assert_int_equal(event_user_spots(t->db, driver, &spots, &n), 0);
	assert_int_equal(n, 1); /* the revoked key's spot is not watched */
	assert_int_equal(spots[0], 101);
	free(spots);
	assert_int_equal(event_user_spots(t->db, stranger, &spots, &n), 0);
	assert_int_equal(n, 0);
	assert_null(spots);

	assert_int_equal(event_may_watch_site(t->db, attendant, false, TEST_SITE_DB_SITE_ID), 1);
	assert_int_equal(event_may_watch_site(t->db, stranger, true, TEST_SITE_DB_SITE_ID), 1);
	assert_int_equal(event_may_watch_site(t->db, owner, false, TEST_SITE_DB_SITE_ID), 0);
	assert_int_equal(event_may_watch_site(t->db, driver, false, TEST_SITE_DB_SITE_ID), 0);
	assert_int_equal(event_may_watch_site(t->db, attendant, false, 8), 0);
	assert_int_equal(event_may_watch_site(t->db, stranger, true, 8), 0); /* no such site */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stored_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_stores_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notification_rows, setup, teardown),
		cmocka_unit_test(test_validation),
		cmocka_unit_test_setup_teardown(test_who_may_watch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
