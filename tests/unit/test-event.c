/*
 * test-event.c: unit tests of server/event.c on a migrated SQLite database holding the
 * test site (tests/support/test-site-db.h): every field of a gateway's batch validated,
 * each event stored once by (spot, seq), the spot's live state moved on only by newer
 * events, audit and notification rows, refusals (unknown spot, spot not covered) that
 * store nothing, and who may watch which spots; the gateways' reports of which locks
 * they reach: validated, stored whole or not at all, a spot offline only when no
 * gateway reaches it, each change audited and streamed, going offline an alarm that
 * reaches the notification hook.
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
#include "../../server/hook.h"
#include "../../server/notify.h"
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

/* The "id" of element i of an event_since() list. */
static int64_t list_id(json_object *list, size_t i)
{
	json_object *v;

	assert_true(json_object_object_get_ex(json_object_array_get_idx(list, i), "id", &v));
	return json_object_get_int64(v);
}

/*
 * Replay after a reconnection: the stored events of a site or of spots after an ID,
 * oldest first, shaped as published, at most max with "more" telling the rest.
 */
static void test_events_since(void **state_)
{
	struct test_site_db *t = *state_;
	struct event_in e[5];
	json_object *list, *v;
	const int64_t only102[] = { 102 }, both[] = { 101, 102 };
	int64_t first;
	size_t acc;
	int64_t dups;
	bool more = true;

	e[0] = ev(101, 1, PROTO_EV_BOOT, PROTO_BARRIER_UP, 90);
	e[1] = ev(102, 1, PROTO_EV_BOOT, PROTO_BARRIER_UP, 100);
	e[2] = ev(101, 2, PROTO_EV_CAR_ARRIVED, 0, 0);
	e[3] = ev(102, 2, PROTO_EV_LOW_BATTERY, 0, 20);
	e[4] = ev(101, 3, PROTO_EV_CAR_LEFT, 0, 0);
	assert_int_equal(ingest(t, 1, false, e, 5, &acc, &dups), 0);
	assert_int_equal(acc, 5);
	first = count(t, "SELECT min(id) FROM events");

	/* The whole site after the first: four, in order, as published. */
	assert_int_equal(event_since(t->db, first, TEST_SITE_DB_SITE_ID, NULL, 0, 10, &list,
				     &more), 0);
	assert_false(more);
	assert_int_equal(json_object_array_length(list), 4);
	assert_int_equal(list_id(list, 0), first + 1);
	assert_int_equal(list_id(list, 3), first + 4);
	v = json_object_array_get_idx(list, 1);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "kind")),
			    "car_arrived");
	assert_int_equal(json_object_get_int64(json_object_object_get(v, "site")),
			 TEST_SITE_DB_SITE_ID);
	assert_int_equal(json_object_get_int64(json_object_object_get(v, "spot")), 101);
	assert_int_equal(json_object_get_int64(json_object_object_get(v, "seq")), 2);
	assert_int_equal(json_object_get_int64(json_object_object_get(v, "received_at")), NOW);
	json_object_put(list);

	/* One spot; two spots merged in ID order. */
	assert_int_equal(event_since(t->db, 0, 0, only102, 1, 10, &list, &more), 0);
	assert_int_equal(json_object_array_length(list), 2);
	assert_int_equal(list_id(list, 0), first + 1);
	assert_int_equal(list_id(list, 1), first + 3);
	json_object_put(list);
	assert_int_equal(event_since(t->db, first, 0, both, 2, 10, &list, &more), 0);
	assert_int_equal(json_object_array_length(list), 4);
	assert_true(list_id(list, 0) < list_id(list, 1) && list_id(list, 1) < list_id(list, 2) &&
		    list_id(list, 2) < list_id(list, 3));
	json_object_put(list);

	/* More than max: the oldest max, and "more". Exactly max is not "more". */
	assert_int_equal(event_since(t->db, 0, 0, both, 2, 3, &list, &more), 0);
	assert_true(more);
	assert_int_equal(json_object_array_length(list), 3);
	assert_int_equal(list_id(list, 2), first + 2);
	json_object_put(list);
	assert_int_equal(event_since(t->db, 0, TEST_SITE_DB_SITE_ID, NULL, 0, 5, &list, &more), 0);
	assert_false(more);
	json_object_put(list);
	/* Nothing after the newest; nothing for no spots or another site. */
	assert_int_equal(event_since(t->db, first + 4, TEST_SITE_DB_SITE_ID, NULL, 0, 5, &list,
				     &more), 0);
	assert_int_equal(json_object_array_length(list), 0);
	json_object_put(list);
	assert_int_equal(event_since(t->db, 0, 0, NULL, 0, 5, &list, &more), 0);
	assert_int_equal(json_object_array_length(list), 0);
	json_object_put(list);
	assert_int_equal(event_since(t->db, 0, TEST_SITE_DB_SITE_ID + 1, NULL, 0, 5, &list,
				     &more), 0);
	assert_int_equal(json_object_array_length(list), 0);
	json_object_put(list);
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

/* ---- whether the locks are in reach ---- */

/* Reports through event_online(); the result, with the changes' kinds joined in *kinds. */
static int report(struct test_site_db *t, int64_t gw, bool notify, const struct event_online_in *in,
		  size_t n, size_t *changed, char *kinds, size_t cap)
{
	struct event_stored out[8];
	struct event_error err;
	json_object *v;
	size_t i, off = 0;
	int r;

	assert_true(n <= 8);
	kinds[0] = '\0';
	r = event_online(t->db, gw, NOW, notify, in, n, out, changed, &err);
	if (r != 0) {
		assert_int_equal(*changed, 0);
		return r;
	}
	for (i = 0; i < *changed; i++) {
		assert_int_equal(out[i].site_id, TEST_SITE_DB_SITE_ID);
		assert_true(json_object_object_get_ex(out[i].json, "spot", &v));
		assert_int_equal(json_object_get_int64(v), out[i].spot_id);
		assert_true(json_object_object_get_ex(out[i].json, "gateway", &v));
		assert_int_equal(json_object_get_int64(v), gw);
		assert_true(json_object_object_get_ex(out[i].json, "received_at", &v));
		assert_int_equal(json_object_get_int64(v), NOW);
		assert_true(json_object_object_get_ex(out[i].json, "kind", &v));
		off += (size_t)snprintf(kinds + off, cap - off, "%s%lld:%s", i > 0 ? " " : "",
					(long long)out[i].spot_id, json_object_get_string(v));
	}
	event_stored_free(out, *changed);
	return 0;
}

static void test_online_reach(void **state_)
{
	struct test_site_db *t = *state_;
	struct event_online_in in[3] = { { 101, true }, { 102, false }, { 0, false } };
	struct event_in e;
	char kinds[256];
	size_t changed = 9;

	/* 102 was never heard of (0): out of reach changes nothing; 101 comes online. */
	assert_int_equal(report(t, 1, true, in, 2, &changed, kinds, sizeof(kinds)), 0);
	assert_string_equal(kinds, "101:online");
	assert_int_equal(state(t, 101, "online"), 1);
	assert_int_equal(state(t, 102, "online"), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM gateway_reach"), 2);
	assert_int_equal(count(t, "SELECT count(*) FROM audit WHERE action = 'lock_online' AND "
			       "detail = 'spot 101 in reach of gateway 1'"), 1);
	/* The same again: no change, nothing streamed. */
	assert_int_equal(report(t, 1, true, in, 2, &changed, kinds, sizeof(kinds)), 0);
	assert_int_equal(changed, 0);
	/* Out of reach: an alarm, once. */
	in[0].online = false;
	assert_int_equal(report(t, 1, true, in, 1, &changed, kinds, sizeof(kinds)), 0);
	assert_string_equal(kinds, "101:offline");
	assert_int_equal(state(t, 101, "online"), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM audit WHERE action = 'lock_offline'"), 1);
	assert_int_equal(count(t, "SELECT count(*) FROM notifications WHERE kind = 'offline' "
			       "AND spot_id = 101 AND event_id IS NULL AND state = 'pending' "
			       "AND created_at = 1800000100"), 1);
	assert_int_equal(report(t, 1, true, in, 1, &changed, kinds, sizeof(kinds)), 0);
	assert_int_equal(changed, 0);
	assert_int_equal(count(t, "SELECT count(*) FROM notifications"), 1);
	/*
	 * An event from the gateway that lost it was read before (it comes late, from the
	 * gateway's queue): the lock stays out of reach until that gateway says otherwise.
	 */
	e = ev(101, 1, PROTO_EV_CAR_ARRIVED, 0, 0);
	assert_int_equal(ingest(t, 1, false, &e, 1, &changed, &(int64_t){ 0 }), 0);
	assert_int_equal(state(t, 101, "online"), 0);
	in[0].online = true;
	assert_int_equal(report(t, 1, true, in, 1, &changed, kinds, sizeof(kinds)), 0);
	assert_string_equal(kinds, "101:online");
	/* From a gateway in reach of it, an event is news that it is there. */
	must(db_exec(t->db, "UPDATE spots SET online = 0 WHERE id = 101", NULL) == 0);
	e = ev(101, 2, PROTO_EV_CAR_LEFT, 0, 0);
	assert_int_equal(ingest(t, 1, false, &e, 1, &changed, &(int64_t){ 0 }), 0);
	assert_int_equal(state(t, 101, "online"), 1);

	/* A second gateway covers 101 too: one losing it while the other reaches it is no
	 * change; both losing it is. */
	must(db_exec(t->db, "INSERT INTO gateway_covers (gateway_id, spot_id) VALUES (2, 101)",
		     NULL) == 0);
	in[0].online = true;
	assert_int_equal(report(t, 2, true, in, 1, &changed, kinds, sizeof(kinds)), 0);
	assert_int_equal(changed, 0);
	in[0].online = false;
	assert_int_equal(report(t, 1, false, in, 1, &changed, kinds, sizeof(kinds)), 0);
	assert_int_equal(changed, 0);
	assert_int_equal(state(t, 101, "online"), 1);
	assert_int_equal(report(t, 2, false, in, 1, &changed, kinds, sizeof(kinds)), 0);
	assert_string_equal(kinds, "101:offline");
	/* Without a hook configured, no notification. */
	assert_int_equal(count(t, "SELECT count(*) FROM notifications"), 1);
	/* Back, lost, back within one report: each change in order. */
	in[0].online = true;
	in[1] = (struct event_online_in){ 101, false };
	in[2] = (struct event_online_in){ 101, true };
	assert_int_equal(report(t, 2, true, in, 3, &changed, kinds, sizeof(kinds)), 0);
	assert_string_equal(kinds, "101:online 101:offline 101:online");
	assert_int_equal(count(t, "SELECT count(*) FROM notifications"), 2);
}

static void test_online_refused_stores_nothing(void **state_)
{
	struct test_site_db *t = *state_;
	struct event_online_in in[2] = { { 101, true }, { 201, true } };
	struct event_stored out[2];
	struct event_error err;
	size_t changed = 9;

	/* 201 is gateway 2's: the whole report is refused. */
	assert_int_equal(event_online(t->db, 1, NOW, true, in, 2, out, &changed, &err),
			 -EVENT_E_FORBIDDEN);
	assert_int_equal(err.status, 403);
	assert_string_equal(err.code, "forbidden");
	assert_non_null(strstr(err.detail, "201"));
	in[1].spot = 999;
	assert_int_equal(event_online(t->db, 1, NOW, true, in, 2, out, &changed, &err),
			 -EVENT_E_NOTFOUND);
	assert_int_equal(err.status, 404);
	assert_int_equal(event_online(t->db, 77, NOW, true, in, 1, out, &changed, &err),
			 -EVENT_E_FORBIDDEN);
	assert_int_equal(changed, 0);
	assert_int_equal(state(t, 101, "online"), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM gateway_reach"), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM audit"), 0);
	/* An empty report is fine and does nothing. */
	assert_int_equal(event_online(t->db, 1, NOW, true, in, 0, out, &changed, &err), 0);
	assert_int_equal(changed, 0);
}

/* Parses `body` with event_online_parse(); its result with the reply's status and code. */
static int parse_online(const char *body, struct event_online_in *out, char *code, size_t cap,
			int *status)
{
	struct http_reply rep;
	json_object *j = json_tokener_parse(body), *v;
	int r;

	assert_non_null(j);
	memset(&rep, 0, sizeof(rep));
	r = event_online_parse(j, out, EVENT_ONLINE_MAX, &rep);
	code[0] = '\0';
	*status = rep.status;
	if (rep.json != NULL && json_object_object_get_ex(rep.json, "error", &v))
		snprintf(code, cap, "%s", json_object_get_string(v));
	json_object_put(rep.json);
	json_object_put(j);
	return r;
}

static void test_online_validation(void **state_)
{
	static const struct {
		const char *body;
		const char *code;
	} bad[] = {
		{ "{}", "missing_field" },
		{ "{\"locks\":null}", "missing_field" },
		{ "{\"locks\":{}}", "bad_field" },
		{ "{\"locks\":[1]}", "bad_field" },
		{ "{\"locks\":[{}]}", "missing_field" },
		{ "{\"locks\":[{\"online\":true}]}", "missing_field" },
		{ "{\"locks\":[{\"spot\":101}]}", "missing_field" },
		{ "{\"locks\":[{\"spot\":101,\"online\":null}]}", "missing_field" },
		{ "{\"locks\":[{\"spot\":101,\"online\":1}]}", "bad_field" },
		{ "{\"locks\":[{\"spot\":101,\"online\":\"false\"}]}", "bad_field" },
		{ "{\"locks\":[{\"spot\":\"101\",\"online\":true}]}", "bad_field" },
		{ "{\"locks\":[{\"spot\":0,\"online\":true}]}", "bad_field" },
		{ "{\"locks\":[{\"spot\":4294967296,\"online\":true}]}", "bad_field" },
		{ "{\"locks\":[{\"spot\":1.5,\"online\":true}]}", "bad_field" },
		{ "{\"locks\":[{\"spot\":101,\"online\":true},{\"spot\":-1,\"online\":true}]}",
		  "bad_field" },
	};
	struct event_online_in *out = calloc(EVENT_ONLINE_MAX + 1, sizeof(*out));
	char code[64], *big;
	size_t i, off;
	int status;

	(void)state_;
	assert_non_null(out);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_online(bad[i].body, out, code, sizeof(code), &status) != -1)
			fail_msg("accepted: %s", bad[i].body);
		assert_int_equal(status, 400);
		assert_string_equal(code, bad[i].code);
	}
	assert_int_equal(parse_online("{\"locks\":[{\"spot\":101,\"online\":false},"
				      "{\"spot\":4294967295,\"online\":true}]}", out, code,
				      sizeof(code), &status), 2);
	assert_int_equal(out[0].spot, 101);
	assert_false(out[0].online);
	assert_int_equal(out[1].spot, 4294967295LL);
	assert_true(out[1].online);
	assert_int_equal(parse_online("{\"locks\":[]}", out, code, sizeof(code), &status), 0);
	big = malloc(64 * (EVENT_ONLINE_MAX + 1) + 32);
	assert_non_null(big);
	off = (size_t)sprintf(big, "{\"locks\":[");
	for (i = 0; i <= EVENT_ONLINE_MAX; i++)
		off += (size_t)sprintf(big + off, "%s{\"spot\":%zu,\"online\":true}",
				       i > 0 ? "," : "", i + 1);
	sprintf(big + off, "]}");
	assert_int_equal(parse_online(big, out, code, sizeof(code), &status), -1);
	assert_int_equal(status, 413);
	assert_string_equal(code, "body_too_large");
	free(big);
	free(out);
}

static void test_offline_alarm_reaches_hook(void **state_)
{
	struct test_site_db *t = *state_;
	struct event_online_in in = { 102, true };
	int64_t owner = test_site_db_user(t, 1);
	char spec[160], err[200], path[128], text[4096], kinds[64];
	struct hook hook;
	size_t changed;
	FILE *fp;
	size_t n;

	must(db_exec(t->db, "UPDATE spots SET owner_id = $1 WHERE id = 102", "i", owner) == 0);
	assert_int_equal(report(t, 1, true, &in, 1, &changed, kinds, sizeof(kinds)), 0);
	in.online = false;
	assert_int_equal(report(t, 1, true, &in, 1, &changed, kinds, sizeof(kinds)), 0);
	assert_string_equal(kinds, "102:offline");
	snprintf(path, sizeof(path), "%s/notify.jsonl", t->dir);
	snprintf(spec, sizeof(spec), "file:%s", path);
	assert_int_equal(hook_parse(spec, &hook, err, sizeof(err)), 0);
	assert_int_equal(notify_pass(t->db, &hook, NOW + 1), 1);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	assert_non_null(strstr(text, "\"kind\":\"offline\""));
	assert_non_null(strstr(text, "\"spot\":102,"));
	assert_non_null(strstr(text, "B1-02: the lock is out of reach of its gateways."));
	assert_null(strstr(text, "\"seq\""));
	assert_int_equal(count(t, "SELECT count(*) FROM notifications WHERE state = 'sent'"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stored_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_since, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_stores_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notification_rows, setup, teardown),
		cmocka_unit_test(test_validation),
		cmocka_unit_test_setup_teardown(test_who_may_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_online_reach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_online_refused_stores_nothing, setup,
						teardown),
		cmocka_unit_test(test_online_validation),
		cmocka_unit_test_setup_teardown(test_offline_alarm_reaches_hook, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
