/*
 * test-override-system.c: an attendant's override through the whole system, black box:
 * the real parkd, parkgw and parklockd (tests/support/test-stack.h) on free ports in a
 * temporary directory. An attendant's override "unlock" reaches the lock through the gateway and
 * the lock's world-control state shows its barrier down, then up again after an override
 * "lock"; the lock's override and barrier events come back to parkd, and the messages'
 * acks say ok. A driver's override is refused and moves nothing. A barrier forced by hand
 * appears on the alarm list and leaves it once acknowledged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "../../server/db.h"
#include "../support/test-proc.h"
#include "../support/test-stack.h"

#define SITE_ID 1
#define GATEWAY_ID 1
#define FIRST_SPOT 101
#define SPOTS 2
#define ATTENDANT_PHONE "+8613800000010"
#define DRIVER_PHONE "+8613800000042"
#define WAIT_MS 10000
#define MOVE_BOUND_MS 5000 /* an override on its way to the lock and the barrier's travel */

static struct stack stack;
static struct stack_garage garage = { .site_id = SITE_ID, .first = FIRST_SPOT, .count = SPOTS };
static struct apiclient *admin, *attendant, *driver;
static int64_t attendant_id;

/* ---- helpers ---- */

static const char *world(const char *cmd)
{
	static char reply[4096];

	if (stack_world(&garage, cmd, reply, sizeof(reply)) != 0)
		fail_msg("no world reply to '%s'", cmd);
	return reply;
}

/* Whether lock `spot`'s world state has the barrier `barrier` ("up", "down", ...). */
static bool barrier_is(uint32_t spot, const char *barrier)
{
	char cmd[32], want[48];

	snprintf(cmd, sizeof(cmd), "%u state", spot);
	snprintf(want, sizeof(want), "\"barrier\":\"%s\"", barrier);
	return strstr(world(cmd), want) != NULL;
}

/* Waits up to ms for the barrier of `spot`; returns the milliseconds it took, or -1. */
static long wait_barrier(uint32_t spot, const char *barrier, long ms)
{
	int64_t t0 = test_ms_now();

	while (!barrier_is(spot, barrier)) {
		if (test_ms_now() - t0 > ms)
			return -1;
		test_sleep_ms(20);
	}
	return (long)(test_ms_now() - t0);
}

/* The single integer `sql` finds in parkd's database. */
static int64_t parkd_int(const char *sql)
{
	char url[200];
	const char *err = NULL;
	struct db *db;
	struct db_stmt *st;
	int64_t v;

	snprintf(url, sizeof(url), "sqlite:%s/parkd/parkd.db", stack.dir);
	db = db_open(url, &err);
	assert_non_null(db);
	st = db_prepare(db, sql);
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	v = db_col_int(st, 0);
	db_finalize(st);
	db_close(db);
	return v;
}

/* Waits up to ms until `sql` finds `want`; returns what it found last. */
static int64_t wait_parkd(const char *sql, int64_t want, long ms)
{
	int64_t t0 = test_ms_now(), v;

	while ((v = parkd_int(sql)) != want && test_ms_now() - t0 < ms)
		test_sleep_ms(50);
	return v;
}

static struct apiclient *user(const char *phone, int64_t *id)
{
	char token[256];
	int64_t uid = stack_register(&stack, phone);

	if (id != NULL)
		*id = uid;
	stack_login(&stack, phone, token, sizeof(token));
	return stack_client(&stack, token, NULL);
}

static int override(struct apiclient *c, uint32_t spot, const char *op, const char *reason,
		    json_object **reply)
{
	char path[64], body[512];

	snprintf(path, sizeof(path), "/v1/spots/%u/override", spot);
	snprintf(body, sizeof(body), "{\"op\":\"%s\",\"reason\":\"%s\"}", op, reason);
	return stack_call(c, "POST", path, body, reply);
}

/* The ID of the open alarm of `kind` at `spot` on the attendant's list, or 0. */
static int64_t listed_alarm(const char *kind, int64_t spot)
{
	json_object *r = NULL, *list, *a, *v;
	int64_t id = 0;
	size_t i;

	assert_int_equal(stack_call(attendant, "GET", "/v1/sites/1/alarms", NULL, &r), 200);
	assert_true(json_object_object_get_ex(r, "alarms", &list));
	for (i = 0; i < json_object_array_length(list) && id == 0; i++) {
		a = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(a, "kind", &v) &&
		    strcmp(json_object_get_string(v), kind) == 0 && stack_int(a, "spot") == spot)
			id = stack_int(a, "id");
	}
	json_object_put(r);
	return id;
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
	uint8_t gw_pub[64];
	char token[256], body[256];
	int64_t t0;
	uint32_t spot;

	(void)state;
	stack_parkd(&stack);
	stack_garages(&stack, &garage, 1);
	stack_gateway_key(&stack, 0, gw_pub);
	stack_login(&stack, STACK_ADMIN_PHONE, token, sizeof(token));
	admin = stack_client(&stack, token, NULL);
	stack_site(&stack, admin, &garage, 0, GATEWAY_ID, gw_pub);
	stack_provision(&stack, admin, &garage);
	stack_gateway(&stack, 0, GATEWAY_ID);
	if (stack_wait_online(admin, &garage, NULL, WAIT_MS) != SPOTS)
		stack_die("not every lock came online");
	attendant = user(ATTENDANT_PHONE, &attendant_id);
	driver = user(DRIVER_PHONE, NULL);
	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"role\":\"attendant\"}", ATTENDANT_PHONE);
	if (stack_call(admin, "POST", "/v1/sites/1/roles", body, NULL) != 201)
		stack_die("the attendant's role was not granted");
	/* The locks have the server's time (an override is refused by a lock without it). */
	t0 = test_ms_now();
	for (spot = FIRST_SPOT; spot < FIRST_SPOT + SPOTS; spot++) {
		char cmd[32];

		snprintf(cmd, sizeof(cmd), "%u state", spot);
		while (test_json_num(world(cmd), "time") <= 0 && test_ms_now() - t0 < WAIT_MS)
			test_sleep_ms(50);
		if (test_json_num(world(cmd), "time") <= 0)
			stack_die("lock %u never got the server's time", (unsigned)spot);
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	apiclient_free(admin);
	apiclient_free(attendant);
	apiclient_free(driver);
	return 0;
}

/* ---- tests ---- */

static void test_override_moves_the_real_lock(void **state)
{
	json_object *r = NULL;
	long ms;
	char sql[256];

	(void)state;
	assert_true(test_json_true(world("101 state"), "locked"));
	assert_int_equal(override(attendant, 101, "unlock", "Driver stuck: phone battery flat", &r),
			 202);
	assert_int_equal(stack_int(r, "spot"), 101);
	assert_string_equal(stack_str(r, "op"), "unlock");
	json_object_put(r);
	ms = wait_barrier(101, "down", MOVE_BOUND_MS);
	fprintf(stderr, "test-override-system: the override opened lock 101 in %ld ms\n", ms);
	assert_true(ms >= 0);
	assert_false(test_json_true(world("101 state"), "locked"));

	assert_int_equal(override(attendant, 101, "lock", "Driver gone", NULL), 202);
	ms = wait_barrier(101, "up", MOVE_BOUND_MS);
	fprintf(stderr, "test-override-system: the override closed lock 101 in %ld ms\n", ms);
	assert_true(ms >= 0);
	assert_true(test_json_true(world("101 state"), "locked"));

	/* Both messages acked ok; the lock's evidence came back through the gateway. */
	assert_int_equal(wait_parkd("SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'override' AND "
				    "state = 'acked' AND result = 'ok'", 2, WAIT_MS), 2);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM events WHERE spot_id = 101 AND "
		 "kind = 'override' AND user_id = %lld", (long long)attendant_id);
	assert_int_equal(wait_parkd(sql, 2, WAIT_MS), 2);
	assert_int_equal(wait_parkd("SELECT COUNT(*) FROM events WHERE spot_id = 101 AND "
				    "kind IN ('unlocked', 'locked') AND arg8 = 4", 2, WAIT_MS), 2);
	assert_int_equal(parkd_int("SELECT COUNT(*) FROM audit WHERE action = 'override'"), 2);
	assert_int_equal(wait_parkd("SELECT COUNT(*) FROM spots WHERE id = 101 AND locked = 1", 1,
				    WAIT_MS), 1);
}

static void test_driver_refused(void **state)
{
	(void)state;
	assert_int_equal(override(driver, 102, "unlock", "let me in", NULL), 403);
	assert_int_equal(override(attendant, 102, "unlock", "   ", NULL), 400);
	assert_int_equal(override(attendant, 999, "unlock", "x", NULL), 404);
	test_sleep_ms(500);
	assert_true(barrier_is(102, "up"));
	assert_int_equal(parkd_int("SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'override' AND "
				   "spot_id = 102"), 0);
}

static void test_forced_barrier_alarm(void **state)
{
	json_object *r = NULL;
	int64_t t0 = test_ms_now(), id = 0;
	char path[96];

	(void)state;
	world("102 force");
	while ((id = listed_alarm("forced", 102)) == 0 && test_ms_now() - t0 < WAIT_MS)
		test_sleep_ms(100);
	fprintf(stderr, "test-override-system: the forced barrier was listed after %lld ms\n",
		(long long)(test_ms_now() - t0));
	assert_true(id > 0);
	assert_int_equal(stack_call(driver, "GET", "/v1/sites/1/alarms", NULL, NULL), 403);
	snprintf(path, sizeof(path), "/v1/sites/1/alarms/%lld/ack", (long long)id);
	assert_int_equal(stack_call(attendant, "POST", path, "{\"note\":\"seen on camera\"}", &r),
			 200);
	assert_int_equal(stack_int(r, "acked_by"), attendant_id);
	json_object_put(r);
	assert_int_equal(listed_alarm("forced", 102), 0);
	/* The attendant raises it again. */
	assert_int_equal(override(attendant, 102, "lock", "forced open; closing", NULL), 202);
	assert_true(wait_barrier(102, "up", MOVE_BOUND_MS) >= 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_override_moves_the_real_lock),
		cmocka_unit_test(test_driver_refused),
		cmocka_unit_test(test_forced_barrier_alarm),
	};

	(void)argc;
	stack_init(&stack, "test-override-system", argv[0]);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
