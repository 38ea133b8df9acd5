/*
 * test-spot.c: server/spot on a real SQLite database with the test site imported: a
 * spot as clients see it, the list and its filters (a spot with a live key is taken),
 * the owner's settings with bad values refused and nothing changed, and the routes of
 * claim 10 from the entrance and to the exit, also across a ramp and when none exists.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../server/spot.h"
#include "../support/test-site-db.h"

#define NOW 1800000000

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

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void give_key(struct test_site_db *t, int64_t spot, int64_t not_after)
{
	int64_t user = test_site_db_user(t, 7);
	uint8_t blob[64] = { 0 };

	assert_int_equal(db_exec(t->db, "INSERT INTO ekeys (key_id, user_id, spot_id, device_pub, "
				 "not_before, not_after, max_unlocks, flags, ekey, issued_at) "
				 "VALUES (77, $1, $2, $3, 0, $4, 0, 0, $5, 1)", "iibib", user, spot,
				 blob, sizeof(blob), not_after, blob, sizeof(blob)), 0);
}

static void test_get_and_json(void **state)
{
	struct test_site_db *t = *state;
	struct spot s;
	json_object *o;

	assert_int_equal(spot_get(t->db, 102, &s), 0);
	assert_string_equal(s.name, "B1-02");
	assert_string_equal(s.level, "B1");
	assert_true(s.x_m > 9.99 && s.x_m < 10.01);
	assert_int_equal(s.key_valid_s, 3600);
	assert_int_equal(s.key_max_unlocks, 5);
	o = spot_json(t->db, &s, false, NOW);
	assert_non_null(o);
	assert_string_equal(json_object_get_string(get(o, "name")), "B1-02");
	assert_false(json_object_get_boolean(get(o, "taken")));
	assert_null(get(o, "locked")); /* never heard of yet */
	assert_false(json_object_object_get_ex(o, "owner_id", NULL));
	json_object_put(o);
	assert_int_equal(spot_get(t->db, 999, &s), -SPOT_E_NOTFOUND);
}

static void test_list_filters_and_taken(void **state)
{
	struct test_site_db *t = *state;
	json_object *all, *b2, *free_spots;

	give_key(t, 101, NOW + 3600);
	all = spot_list(t->db, 0, NULL, false, NOW);
	b2 = spot_list(t->db, TEST_SITE_DB_SITE_ID, "B2", false, NOW);
	free_spots = spot_list(t->db, 0, NULL, true, NOW);
	assert_non_null(all);
	assert_int_equal(json_object_array_length(all), 4);
	assert_int_equal(json_object_array_length(b2), 2);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(b2, 0), "level")),
			    "B2");
	assert_int_equal(json_object_array_length(free_spots), 3);
	json_object_put(all);
	json_object_put(b2);
	json_object_put(free_spots);
	/* An expired key leaves the spot free again. */
	free_spots = spot_list(t->db, 0, NULL, true, NOW + 7200);
	assert_int_equal(json_object_array_length(free_spots), 4);
	json_object_put(free_spots);
}

static void test_set_policy(void **state)
{
	struct test_site_db *t = *state;
	struct spot s;

	assert_int_equal(spot_set_policy(t->db, 101, "authorised", NULL, 7200, 3), 0);
	assert_int_equal(spot_get(t->db, 101, &s), 0);
	assert_string_equal(s.policy, "authorised");
	assert_int_equal(s.key_valid_s, 7200);
	assert_int_equal(s.key_max_unlocks, 3);
	/* Bad values change nothing. */
	assert_int_equal(spot_set_policy(t->db, 101, "everyone", NULL, -1, -1), -SPOT_E_INVALID);
	assert_int_equal(spot_set_policy(t->db, 101, "region", NULL, -1, -1), -SPOT_E_INVALID);
	assert_int_equal(spot_set_policy(t->db, 101, NULL, NULL, -1, 70000), -SPOT_E_INVALID);
	assert_int_equal(spot_get(t->db, 101, &s), 0);
	assert_string_equal(s.policy, "authorised");
	assert_int_equal(s.key_max_unlocks, 3);
	assert_int_equal(spot_set_policy(t->db, 101, "region", "Yuzhong", -1, -1), 0);
	assert_int_equal(spot_get(t->db, 101, &s), 0);
	assert_string_equal(s.region, "Yuzhong");
	assert_int_equal(spot_set_policy(t->db, 999, "anyone", NULL, -1, -1), -SPOT_E_NOTFOUND);
}

static bool has_sentence(json_object *route, const char *text)
{
	json_object *list = get(route, "sentences");
	size_t i;

	for (i = 0; i < json_object_array_length(list); i++)
		if (strstr(json_object_get_string(json_object_array_get_idx(list, i)), text))
			return true;
	return false;
}

static void test_routes_in_and_out(void **state)
{
	struct test_site_db *t = *state;
	json_object *r = NULL, *in, *out;
	struct spot s;

	assert_int_equal(spot_get(t->db, 101, &s), 0);
	assert_int_equal(spot_directions(t->db, &s, &r), 0);
	in = get(r, "in");
	out = get(r, "out");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(get(in, "nodes"), 0)),
			    "E");
	assert_int_equal(json_object_array_length(get(in, "nodes")), 2);
	/* The points end at the spot itself, and the way out starts there. */
	assert_int_equal(json_object_array_length(get(in, "points")), 3);
	assert_true(has_sentence(in, "Arrive at spot B1-01"));
	assert_string_equal(json_object_get_string(json_object_array_get_idx(get(out, "nodes"), 1)),
			    "X");
	assert_true(has_sentence(out, "Arrive at the exit"));
	json_object_put(r);
}

static void test_route_across_the_ramp(void **state)
{
	struct test_site_db *t = *state;
	json_object *r = NULL;
	struct spot s;

	assert_int_equal(spot_get(t->db, 201, &s), 0);
	assert_int_equal(spot_directions(t->db, &s, &r), 0);
	assert_true(has_sentence(get(r, "in"), "Take the ramp to level B2."));
	assert_true(has_sentence(get(r, "out"), "Take the ramp to level B1."));
	json_object_put(r);
}

static void test_no_route(void **state)
{
	struct test_site_db *t = *state;
	json_object *r = NULL;
	struct spot s;

	assert_int_equal(db_exec(t->db, "INSERT INTO nodes (site_id, id, level, x_cm, y_cm, kind) "
				 "VALUES (7, 'ISLAND', 'B2', 100, 100, 'junction')", ""), 0);
	assert_int_equal(db_exec(t->db, "UPDATE spots SET node = 'ISLAND' WHERE id = 202", ""), 0);
	assert_int_equal(spot_get(t->db, 202, &s), 0);
	assert_int_equal(spot_directions(t->db, &s, &r), -SPOT_E_NOROUTE);
	assert_null(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_and_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_filters_and_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes_in_and_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_across_the_ramp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_route, setup, teardown),
	};

	return cmocka_run_group_tests_name("spot", tests, NULL, NULL);
}
