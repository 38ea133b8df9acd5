/*
 * test-alarm.c: server/alarm and its routes GET /v1/sites/{id}/alarms and POST
 * /v1/sites/{id}/alarms/{alarm}/ack on the test site, with the locks' events stored as a
 * gateway reports them (event_ingest, event_online): each kind opens with its cause and
 * closes by itself when the cause ends (a barrier forced, then raised; jammed, then
 * moved; a car with no live key; a lock out of reach; a low battery; a device locked
 * out); each occurrence keeps its number; an acknowledged alarm is gone until it comes
 * again; acknowledging again keeps the first; malformed and unknown IDs are not found;
 * only the site's staff may look, and a refusal stores nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../server/alarm.h"
#include "../../server/event.h"
#include "../../server/role.h"
#include "../../server/routes.h"
#include "../support/test-route.h"

#define T0 1800000000
#define SITE "7"
#define LIST "/v1/sites/{id}/alarms"
#define ACK "/v1/sites/{id}/alarms/{alarm}/ack"

struct fixture {
	struct test_route *r;
	struct auth_user attendant, site_admin, server_admin, driver, stranger;
};

static struct auth_user user_of(struct test_site_db *t, int n, const char *role, int64_t site)
{
	struct auth_user u;
	int64_t id;

	memset(&u, 0, sizeof(u));
	u.user_id = test_site_db_user(t, n);
	snprintf(u.phone, sizeof(u.phone), "+8613800000%03d", n);
	if (role != NULL && site == 7)
		must(role_grant(t->db, u.phone, role, site, &id) == 0);
	else if (role != NULL)
		must(db_exec(t->db, "INSERT INTO roles (user_id, role, site_id) "
			     "VALUES ($1, $2, $3)", "isi", u.user_id, role, site) == 0);
	return u;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	must(f != NULL);
	log_init("test-alarm", LOG_ERROR);
	test_route_now = T0;
	f->r = test_route_new();
	f->attendant = user_of(f->r->t, 1, "attendant", 7);
	f->site_admin = user_of(f->r->t, 2, "admin", 7);
	f->server_admin = user_of(f->r->t, 3, NULL, 0);
	f->server_admin.admin = true;
	f->driver = user_of(f->r->t, 4, NULL, 0);
	f->stranger = user_of(f->r->t, 5, "attendant", 8);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_route_free(f->r);
	free(f);
	return 0;
}

static int64_t count(struct fixture *f, const char *sql)
{
	return test_site_db_int(f->r->t->db, sql);
}

/* A lock event as its gateway reports it, received at `at`. */
static void ev(struct fixture *f, int64_t spot, int64_t seq, uint8_t kind, int64_t arg8,
	       int64_t arg16, int64_t at)
{
	struct event_in e = { spot, seq, at - T0 + 1700000000, kind, arg8, arg16, 0, 0 };
	struct event_stored out[1];
	struct event_error err;
	size_t nout = 0;
	int64_t dup = 0;

	assert_int_equal(event_ingest(f->r->t->db, spot < 200 ? 1 : 2, at, false, &e, 1, out,
				      &nout, &dup, &err), 0);
	assert_int_equal(nout, 1);
	event_stored_free(out, nout);
}

/* A gateway's report that it reaches `spot` or not, at `at`. */
static void reach(struct fixture *f, int64_t spot, bool online, int64_t at)
{
	struct event_online_in in = { spot, online };
	struct event_stored out[1];
	struct event_error err;
	size_t nout = 0;

	assert_int_equal(event_online(f->r->t->db, spot < 200 ? 1 : 2, at, false, &in, 1, out,
				      &nout, &err), 0);
	event_stored_free(out, nout);
}

/* Numbers the new alarms at `now`, as the list route does, in a transaction of its own. */
static void number(struct fixture *f, int64_t now)
{
	assert_int_equal(db_begin(f->r->t->db), 0);
	assert_int_equal(alarm_number(f->r->t->db, 7, now), 0);
	assert_int_equal(db_commit(f->r->t->db), 0);
	assert_int_equal(alarm_unnumbered(f->r->t->db, 7, now), 0);
}

/* The open alarms at `now`, numbered, as "kind-spot@since@event_seq;..." for one comparison. */
static const char *alarms(struct fixture *f, int64_t now)
{
	static char text[2048];
	json_object *list, *a, *v;
	size_t i, n = 0;

	number(f, now);
	list = alarm_list(f->r->t->db, 7, now);
	assert_non_null(list);
	text[0] = '\0';
	for (i = 0; i < json_object_array_length(list); i++) {
		a = json_object_array_get_idx(list, i);
		assert_true(json_object_object_get_ex(a, "id", &v));
		assert_true(json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0);
		assert_true(json_object_object_get_ex(a, "kind", &v));
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s", i > 0 ? ";" : "",
				      json_object_get_string(v));
		assert_true(json_object_object_get_ex(a, "spot", &v));
		n += (size_t)snprintf(text + n, sizeof(text) - n, "-%lld",
				      (long long)json_object_get_int64(v));
		assert_true(json_object_object_get_ex(a, "since", &v));
		n += (size_t)snprintf(text + n, sizeof(text) - n, "@%lld",
				      (long long)json_object_get_int64(v));
		assert_true(json_object_object_get_ex(a, "event_seq", &v));
		n += (size_t)snprintf(text + n, sizeof(text) - n, "@%lld",
				      (long long)json_object_get_int64(v));
		assert_true(n < sizeof(text));
	}
	json_object_put(list);
	return text;
}

/* The number of the open alarm of `kind` at `spot` (listed at `now`), or 0. */
static int64_t alarm_id(struct fixture *f, int64_t now, const char *kind, int64_t spot)
{
	json_object *list, *a, *v;
	int64_t id = 0;
	size_t i;

	number(f, now);
	list = alarm_list(f->r->t->db, 7, now);
	assert_non_null(list);
	for (i = 0; i < json_object_array_length(list) && id == 0; i++) {
		a = json_object_array_get_idx(list, i);
		assert_true(json_object_object_get_ex(a, "kind", &v));
		if (strcmp(json_object_get_string(v), kind) != 0)
			continue;
		assert_true(json_object_object_get_ex(a, "spot", &v));
		if (json_object_get_int64(v) == spot) {
			assert_true(json_object_object_get_ex(a, "id", &v));
			id = json_object_get_int64(v);
		}
	}
	json_object_put(list);
	return id;
}

static int ack(struct fixture *f, const struct auth_user *u, int64_t id, const char *body,
	       json_object **reply)
{
	char text[32];

	snprintf(text, sizeof(text), "%lld", (long long)id);
	return test_route_call(f->r, alarm_routes, alarm_routes_count, "POST", ACK, SITE, text, u,
			       body, reply);
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_int64(v);
}

/* ---- each kind opens and closes with its cause ---- */

static void test_fresh_site_has_none(void **state)
{
	struct fixture *f = *state;

	/* Locks never heard of are not offline: they are not installed yet. */
	assert_string_equal(alarms(f, T0), "");
}

static void test_forced_until_raised(void **state)
{
	struct fixture *f = *state;

	ev(f, 101, 1, PROTO_EV_BOOT, PROTO_BARRIER_UP, 100, T0);
	ev(f, 101, 2, PROTO_EV_FORCED, 0, 0, T0 + 10);
	assert_string_equal(alarms(f, T0 + 20), "forced-101@1800000010@2");
	ev(f, 101, 3, PROTO_EV_CAR_ARRIVED, 0, 0, T0 + 11);
	ev(f, 101, 4, PROTO_EV_CAR_LEFT, 0, 0, T0 + 12);
	assert_string_equal(alarms(f, T0 + 20), "forced-101@1800000010@2");
	ev(f, 101, 5, PROTO_EV_LOCKED, PROTO_HOW_AUTO, 0, T0 + 130);
	assert_string_equal(alarms(f, T0 + 140), "");
	ev(f, 101, 6, PROTO_EV_FORCED, 0, 0, T0 + 200);
	assert_string_equal(alarms(f, T0 + 210), "forced-101@1800000200@6");
	/* A reboot that finds the barrier up ends it too. */
	ev(f, 101, 7, PROTO_EV_BOOT, PROTO_BARRIER_UP, 100, T0 + 300);
	assert_string_equal(alarms(f, T0 + 310), "");
}

static void test_jammed_until_moved(void **state)
{
	struct fixture *f = *state;

	ev(f, 102, 1, PROTO_EV_JAMMED, PROTO_OP_UNLOCK, 0, T0);
	assert_string_equal(alarms(f, T0), "jammed-102@1800000000@1");
	ev(f, 102, 2, PROTO_EV_MGMT, PROTO_MGMT_SET_TIME, 0, T0 + 1);
	ev(f, 102, 3, PROTO_EV_BOOT, PROTO_BARRIER_JAMMED, 90, T0 + 2);
	assert_string_equal(alarms(f, T0 + 5), "jammed-102@1800000000@1");
	ev(f, 102, 4, PROTO_EV_UNLOCKED, PROTO_HOW_OVERRIDE, 0, T0 + 60);
	assert_string_equal(alarms(f, T0 + 60), "");
}

static void test_car_without_live_key(void **state)
{
	struct fixture *f = *state;
	int64_t user = f->driver.user_id;
	uint8_t blob[64] = { 0 };

	ev(f, 201, 1, PROTO_EV_CAR_ARRIVED, 0, 0, T0);
	assert_string_equal(alarms(f, T0), "car_without_key-201@1800000000@1");
	/* A driver holds a key for the spot now: no alarm, until it expires or is revoked. */
	assert_int_equal(db_exec(f->r->t->db, "INSERT INTO ekeys (key_id, user_id, spot_id, "
				 "device_pub, not_before, not_after, max_unlocks, flags, ekey, "
				 "issued_at) VALUES (77, $1, 201, $2, $3, $4, 0, 0, $5, $3)",
				 "ibiib", user, blob, sizeof(blob), (int64_t)T0 - 300,
				 (int64_t)T0 + 3600, blob, sizeof(blob)), 0);
	assert_string_equal(alarms(f, T0 + 10), "");
	assert_string_equal(alarms(f, T0 + 3601), "car_without_key-201@1800000000@1");
	assert_int_equal(db_exec(f->r->t->db, "UPDATE ekeys SET revoked = 1", NULL), 0);
	assert_string_equal(alarms(f, T0 + 10), "car_without_key-201@1800000000@1");
	ev(f, 201, 2, PROTO_EV_CAR_LEFT, 0, 0, T0 + 20);
	assert_string_equal(alarms(f, T0 + 30), "");
}

static void test_offline_while_out_of_reach(void **state)
{
	struct fixture *f = *state;

	reach(f, 101, true, T0);
	assert_string_equal(alarms(f, T0), "");
	reach(f, 101, false, T0 + 50);
	assert_string_equal(alarms(f, T0 + 60), "offline-101@1800000050@0");
	reach(f, 101, true, T0 + 70);
	assert_string_equal(alarms(f, T0 + 80), "");
	reach(f, 101, false, T0 + 90);
	assert_string_equal(alarms(f, T0 + 95), "offline-101@1800000090@0");
}

static void test_low_battery_and_lockout(void **state)
{
	struct fixture *f = *state;

	ev(f, 102, 1, PROTO_EV_BOOT, PROTO_BARRIER_UP, 21, T0);
	assert_string_equal(alarms(f, T0), "");
	ev(f, 102, 2, PROTO_EV_LOW_BATTERY, 0, ALARM_LOW_BATTERY_PERCENT, T0 + 5);
	assert_string_equal(alarms(f, T0 + 5), "low_battery-102@1800000005@2");
	/* A new battery: the lock boots and says so. */
	ev(f, 102, 3, PROTO_EV_BOOT, PROTO_BARRIER_UP, 100, T0 + 60);
	assert_string_equal(alarms(f, T0 + 60), "");

	/* A device locked out for 10 minutes is an alarm for those 10 minutes. */
	ev(f, 202, 1, PROTO_EV_LOCKOUT, 0, 10, T0 + 100);
	ev(f, 202, 2, PROTO_EV_LOCKOUT, 0, 1, T0 + 110);
	assert_string_equal(alarms(f, T0 + 111),
			    "lockout-202@1800000110@2;lockout-202@1800000100@1");
	assert_string_equal(alarms(f, T0 + 170), "lockout-202@1800000100@1");
	assert_string_equal(alarms(f, T0 + 699), "lockout-202@1800000100@1");
	assert_string_equal(alarms(f, T0 + 700), "");
}

/* ---- numbers ---- */

/* An occurrence keeps its number while it lasts; the next occurrence gets another. */
static void test_numbers_stable(void **state)
{
	struct fixture *f = *state;
	int64_t first, again;

	ev(f, 101, 1, PROTO_EV_FORCED, 0, 0, T0);
	assert_int_equal(alarm_unnumbered(f->r->t->db, 7, T0), 1);
	first = alarm_id(f, T0, "forced", 101);
	assert_true(first > 0);
	ev(f, 101, 2, PROTO_EV_CAR_ARRIVED, 0, 0, T0 + 5);
	assert_int_equal(alarm_unnumbered(f->r->t->db, 7, T0 + 5), 1); /* the car, not forced */
	assert_int_equal(alarm_id(f, T0 + 10, "forced", 101), first);
	assert_true(alarm_id(f, T0 + 10, "car_without_key", 101) > first);
	ev(f, 101, 3, PROTO_EV_CAR_LEFT, 0, 0, T0 + 20);
	ev(f, 101, 4, PROTO_EV_LOCKED, PROTO_HOW_AUTO, 0, T0 + 140);
	ev(f, 101, 5, PROTO_EV_FORCED, 0, 0, T0 + 150);
	again = alarm_id(f, T0 + 150, "forced", 101);
	assert_true(again > first);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM alarms"), 3);
}

/* ---- acknowledging ---- */

static void test_ack_until_it_comes_again(void **state)
{
	struct fixture *f = *state;
	json_object *reply = NULL, *v;
	int64_t forced, jammed;

	ev(f, 101, 1, PROTO_EV_FORCED, 0, 0, T0);
	ev(f, 102, 1, PROTO_EV_JAMMED, PROTO_OP_LOCK, 0, T0 + 1);
	assert_string_equal(alarms(f, T0 + 2), "jammed-102@1800000001@1;forced-101@1800000000@1");
	forced = alarm_id(f, T0 + 2, "forced", 101);
	jammed = alarm_id(f, T0 + 2, "jammed", 102);
	test_route_now = T0 + 5;
	assert_int_equal(ack(f, &f->attendant, forced, "{\"note\":\"Barrier checked: a van "
			     "backed into it.\"}", &reply), 200);
	assert_int_equal(get_int(reply, "id"), forced);
	assert_int_equal(get_int(reply, "acked_by"), f->attendant.user_id);
	assert_int_equal(get_int(reply, "acked_at"), T0 + 5);
	assert_int_equal(get_int(reply, "spot"), 101);
	assert_int_equal(get_int(reply, "event_seq"), 1);
	assert_true(json_object_object_get_ex(reply, "kind", &v));
	assert_string_equal(json_object_get_string(v), "forced");
	assert_true(json_object_object_get_ex(reply, "note", &v));
	assert_string_equal(json_object_get_string(v), "Barrier checked: a van backed into it.");
	json_object_put(reply);
	assert_string_equal(alarms(f, T0 + 6), "jammed-102@1800000001@1");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action = 'alarm_ack' AND "
			       "detail LIKE 'alarm % (forced, spot 101): Barrier checked: a van "
			       "backed into it.' AND peer = '127.0.0.1'"), 1);

	/* Again, by someone else: the first acknowledgement stands, nothing is written. */
	test_route_now = T0 + 9;
	assert_int_equal(ack(f, &f->site_admin, forced, "{}", &reply), 200);
	assert_int_equal(get_int(reply, "acked_by"), f->attendant.user_id);
	assert_int_equal(get_int(reply, "acked_at"), T0 + 5);
	json_object_put(reply);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM alarms WHERE acked_by IS NOT NULL"), 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action = 'alarm_ack'"), 1);

	/* Without a note; then the barrier is raised and forced again: a new occurrence. */
	assert_int_equal(ack(f, &f->server_admin, jammed, "{\"note\":null}", &reply), 200);
	assert_true(json_object_object_get_ex(reply, "note", &v) && v == NULL);
	json_object_put(reply);
	assert_string_equal(alarms(f, T0 + 10), "");
	ev(f, 101, 2, PROTO_EV_LOCKED, PROTO_HOW_AUTO, 0, T0 + 120);
	ev(f, 101, 3, PROTO_EV_FORCED, 0, 0, T0 + 130);
	assert_string_equal(alarms(f, T0 + 131), "forced-101@1800000130@3");
	assert_true(alarm_id(f, T0 + 131, "forced", 101) > forced);

	/* An alarm listed, then closed before anyone saw to it, may still be acknowledged. */
	ev(f, 102, 2, PROTO_EV_LOCKED, PROTO_HOW_KEY, 0, T0 + 140);
	ev(f, 102, 3, PROTO_EV_JAMMED, PROTO_OP_UNLOCK, 0, T0 + 150);
	jammed = alarm_id(f, T0 + 150, "jammed", 102);
	ev(f, 102, 4, PROTO_EV_UNLOCKED, PROTO_HOW_KEY, 0, T0 + 160);
	assert_string_equal(alarms(f, T0 + 161), "forced-101@1800000130@3");
	assert_int_equal(ack(f, &f->attendant, jammed, "{\"note\":\"\"}", &reply), 200);
	assert_true(json_object_object_get_ex(reply, "note", &v) && v == NULL); /* empty: none */
	json_object_put(reply);
}

static void test_ack_unknown_or_malformed(void **state)
{
	struct fixture *f = *state;
	const char *ids[] = { "999", "0", "-1", "01", "1x", "x", "", "1.0", " 1",
			      "99999999999999999999", "9223372036854775807" };
	json_object *reply = NULL;
	size_t i;

	ev(f, 101, 1, PROTO_EV_FORCED, 0, 0, T0);
	assert_int_equal(alarm_id(f, T0, "forced", 101), 1);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (test_route_call(f->r, alarm_routes, alarm_routes_count, "POST", ACK, SITE,
				    ids[i], &f->attendant, "{}", &reply) != 404)
			fail_msg("'%s': %s", ids[i], json_object_to_json_string(reply));
		assert_string_equal(test_route_error(reply), "not_found");
		json_object_put(reply);
	}
	/* Alarm 1 of another site: there is none, whatever its number. */
	assert_int_equal(test_route_call(f->r, alarm_routes, alarm_routes_count, "POST", ACK, "8",
					 "1", &f->server_admin, "{}", NULL), 404);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM alarms WHERE acked_by IS NOT NULL"), 0);
	assert_int_equal(alarm_ack(f->r->t->db, 8, 1, f->attendant.user_id, NULL, NULL, T0,
				   &reply), -ALARM_E_NOTFOUND);
	assert_null(reply);
	assert_string_equal(alarms(f, T0), "forced-101@1800000000@1");
}

/* ---- the routes ---- */

static void test_list_route_and_who_may(void **state)
{
	struct fixture *f = *state;
	const struct auth_user *staff[] = { &f->attendant, &f->site_admin, &f->server_admin };
	json_object *reply = NULL, *list, *a, *v;
	size_t i;

	ev(f, 101, 1, PROTO_EV_FORCED, 0, 0, T0);
	for (i = 0; i < sizeof(staff) / sizeof(staff[0]); i++) {
		assert_int_equal(test_route_call(f->r, alarm_routes, alarm_routes_count, "GET",
						 LIST, SITE, NULL, staff[i], NULL, &reply), 200);
		assert_int_equal(get_int(reply, "site"), 7);
		assert_true(json_object_object_get_ex(reply, "alarms", &list));
		assert_int_equal(json_object_array_length(list), 1);
		a = json_object_array_get_idx(list, 0);
		assert_int_equal(get_int(a, "id"), 1); /* numbered by the first list, kept */
		assert_true(json_object_object_get_ex(a, "kind", &v));
		assert_string_equal(json_object_get_string(v), "forced");
		assert_int_equal(get_int(a, "spot"), 101);
		assert_int_equal(get_int(a, "since"), T0);
		assert_int_equal(get_int(a, "event_seq"), 1);
		json_object_put(reply);
	}
	assert_int_equal(count(f, "SELECT COUNT(*) FROM alarms"), 1);
	assert_int_equal(test_route_call(f->r, alarm_routes, alarm_routes_count, "GET", LIST, SITE,
					 NULL, &f->driver, NULL, &reply), 403);
	assert_string_equal(test_route_error(reply), "forbidden");
	json_object_put(reply);
	assert_int_equal(test_route_call(f->r, alarm_routes, alarm_routes_count, "GET", LIST, SITE,
					 NULL, &f->stranger, NULL, NULL), 403);
	assert_int_equal(test_route_call(f->r, alarm_routes, alarm_routes_count, "GET", LIST, "8",
					 NULL, &f->stranger, NULL, &reply), 404);
	assert_string_equal(test_route_error(reply), "not_found");
	json_object_put(reply);
	assert_int_equal(test_route_call(f->r, alarm_routes, alarm_routes_count, "GET", LIST, "x7",
					 NULL, &f->attendant, NULL, NULL), 404);
	assert_int_equal(test_route_call(f->r, alarm_routes, alarm_routes_count, "GET", LIST, "0",
					 NULL, &f->attendant, NULL, NULL), 404);
}

static void test_ack_route_refusals_store_nothing(void **state)
{
	struct fixture *f = *state;
	char body[1024], note[512];
	json_object *reply = NULL;
	int64_t id;

	ev(f, 101, 1, PROTO_EV_FORCED, 0, 0, T0);
	id = alarm_id(f, T0, "forced", 101);
	assert_int_equal(ack(f, &f->driver, id, "{}", &reply), 403);
	assert_string_equal(test_route_error(reply), "forbidden");
	json_object_put(reply);
	assert_int_equal(ack(f, &f->stranger, id, "{}", NULL), 403);
	assert_int_equal(ack(f, &f->attendant, id, "{\"note\":\"a\\nb\"}", &reply), 400);
	assert_string_equal(test_route_error(reply), "bad_field");
	json_object_put(reply);
	assert_int_equal(ack(f, &f->attendant, id, "{\"note\":7}", NULL), 400);
	memset(note, 'n', 201);
	note[201] = '\0';
	snprintf(body, sizeof(body), "{\"note\":\"%s\"}", note);
	assert_int_equal(ack(f, &f->attendant, id, body, &reply), 400);
	assert_string_equal(test_route_error(reply), "bad_field");
	json_object_put(reply);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM alarms WHERE acked_by IS NOT NULL"), 0);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action = 'alarm_ack'"), 0);
	/* 200 characters are fine. */
	note[200] = '\0';
	snprintf(body, sizeof(body), "{\"note\":\"%s\"}", note);
	assert_int_equal(ack(f, &f->attendant, id, body, NULL), 200);
	assert_int_equal(count(f, "SELECT length(note) FROM alarms"), 200);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fresh_site_has_none),
		T(test_forced_until_raised),
		T(test_jammed_until_moved),
		T(test_car_without_live_key),
		T(test_offline_while_out_of_reach),
		T(test_low_battery_and_lockout),
		T(test_numbers_stable),
		T(test_ack_until_it_comes_again),
		T(test_ack_unknown_or_malformed),
		T(test_list_route_and_who_may),
		T(test_ack_route_refusals_store_nothing),
	};

	return cmocka_run_group_tests_name("alarm", tests, NULL, NULL);
}
