/*
 * test-spot.c: server/spot on a real SQLite database with the test site imported: a
 * spot as clients see it, the list and its filters (a spot with a live key is taken),
 * the owner's settings with bad values refused and nothing changed, every key and share
 * on a spot (GET /v1/spots/{id}/keys: for the owner and the site's staff only), and the
 * routes of claim 10 from the entrance and to the exit, also across a ramp and when none
 * exists.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../lib/log.h"
#include "../../server/role.h"
#include "../../server/routes.h"
#include "../../server/spot.h"
#include "../support/test-route.h"
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

/* ---- keys and shares ---- */

/* An e-key `key_id` of `user` for `spot`, with the given limits, flags and state. */
static void put_key(struct db *db, int64_t key_id, int64_t user, int64_t spot,
		    int64_t not_after, int64_t max_unlocks, int64_t flags, bool revoked)
{
	uint8_t blob[64] = { 0 };

	assert_int_equal(db_exec(db, "INSERT INTO ekeys (key_id, user_id, spot_id, device_pub, "
				 "not_before, not_after, max_unlocks, flags, ekey, issued_at, "
				 "revoked) VALUES ($1, $2, $3, $4, 10, $5, $6, $7, $8, 5, $9)",
				 "iiibiiibi", key_id, user, spot, blob, sizeof(blob), not_after,
				 max_unlocks, flags, blob, sizeof(blob), (int64_t)revoked), 0);
}

/* A share `id` of key `key` (held by `sharer`) on spot 101 to `to`, in `state`. */
static void put_share(struct db *db, int64_t id, int64_t key, int64_t sharer, int64_t to,
		      const char *state)
{
	uint8_t skey[160] = { 1 };

	assert_int_equal(db_exec(db, "INSERT INTO shares (share_id, parent_key_id, spot_id, "
				 "site_id, sharer_id, key_holder_id, recipient_id, mode, "
				 "not_before, not_after, max_unlocks, may_reshare, state, skey, "
				 "created_at) "
				 "VALUES ($1, $2, 101, 7, $3, $3, $4, 'co-share', 0, $5, 2, 0, $6, "
				 "$7, 20)", "iiiiisb", id, key, sharer, to, (int64_t)NOW + 3600,
				 state, skey, sizeof(skey)), 0);
}

static json_object *at(json_object *arr, size_t i)
{
	assert_true(i < json_object_array_length(arr));
	return json_object_array_get_idx(arr, i);
}

static void test_keys_and_shares(void **state)
{
	struct test_site_db *t = *state;
	int64_t owner = test_site_db_user(t, 1), renter = test_site_db_user(t, 2);
	int64_t friend = test_site_db_user(t, 3);
	json_object *keys, *shares, *k, *dl;

	put_key(t->db, 30, owner, 101, 4294967295LL, 0, PROTO_CRED_OWNER, false);
	put_key(t->db, 31, renter, 101, NOW + 600, 5, 0, false);
	put_key(t->db, 32, renter, 101, NOW - 1, 5, 0, false);  /* expired */
	put_key(t->db, 33, friend, 101, NOW + 600, 0, 0, true); /* revoked */
	put_key(t->db, 34, renter, 102, NOW + 600, 0, 0, false); /* another spot */
	assert_int_equal(db_exec(t->db, "INSERT INTO mgmt_queue (spot_id, seq, kind, key_id, "
				 "frame, created_at, state, result, acked_at) VALUES (101, 1, "
				 "'install_cred', 31, x'00', 1, 'acked', 'ok', 9)", ""), 0);
	put_share(t->db, 40, 31, renter, friend, "pending_approval");
	put_share(t->db, 41, 30, owner, friend, "active");
	put_share(t->db, 42, 30, owner, renter, "removed");
	keys = spot_keys(t->db, 101, NOW);
	assert_non_null(keys);
	assert_int_equal(json_object_array_length(keys), 4);
	k = at(keys, 0);
	assert_int_equal(json_object_get_int64(get(k, "key_id")), 30);
	assert_string_equal(json_object_get_string(get(k, "phone")), "+8613800000001");
	assert_true(json_object_get_boolean(get(k, "owner")));
	assert_true(json_object_get_boolean(get(k, "live")));
	assert_string_equal(json_object_get_string(get(get(k, "delivery"), "state")), "none");
	k = at(keys, 1);
	assert_int_equal(json_object_get_int64(get(k, "user_id")), renter);
	assert_int_equal(json_object_get_int64(get(k, "max_unlocks")), 5);
	assert_int_equal(json_object_get_int64(get(k, "not_before")), 10);
	assert_int_equal(json_object_get_int64(get(k, "issued_at")), 5);
	assert_false(json_object_get_boolean(get(k, "owner")));
	assert_true(json_object_get_boolean(get(k, "live")));
	dl = get(k, "delivery");
	assert_string_equal(json_object_get_string(get(dl, "state")), "acked");
	assert_string_equal(json_object_get_string(get(dl, "result")), "ok");
	assert_int_equal(json_object_get_int64(get(dl, "acked_at")), 9);
	assert_false(json_object_get_boolean(get(at(keys, 2), "live"))); /* expired */
	assert_false(json_object_get_boolean(get(at(keys, 2), "revoked")));
	assert_false(json_object_get_boolean(get(at(keys, 3), "live")));
	assert_true(json_object_get_boolean(get(at(keys, 3), "revoked")));
	assert_false(json_object_get_boolean(get(at(keys, 3), "transferred")));
	json_object_put(keys);
	/* The shares as share_json() words them, the removed one left out, never an skey. */
	shares = spot_shares(t->db, 101, NOW);
	assert_non_null(shares);
	assert_int_equal(json_object_array_length(shares), 2);
	assert_int_equal(json_object_get_int64(get(at(shares, 0), "share_id")), 40);
	assert_string_equal(json_object_get_string(get(at(shares, 0), "state")),
			    "pending_approval");
	assert_string_equal(json_object_get_string(get(at(shares, 0), "sharer_phone")),
			    "+8613800000002");
	assert_string_equal(json_object_get_string(get(at(shares, 1), "recipient_phone")),
			    "+8613800000003");
	assert_int_equal(json_object_get_int64(get(at(shares, 1), "max_unlocks")), 2);
	assert_false(json_object_object_get_ex(at(shares, 1), "skey", NULL));
	json_object_put(shares);
	/* Another spot: its own key only, no shares; a spot without any: empty lists. */
	keys = spot_keys(t->db, 102, NOW);
	assert_int_equal(json_object_array_length(keys), 1);
	json_object_put(keys);
	keys = spot_keys(t->db, 201, NOW);
	shares = spot_shares(t->db, 201, NOW);
	assert_int_equal(json_object_array_length(keys), 0);
	assert_int_equal(json_object_array_length(shares), 0);
	json_object_put(keys);
	json_object_put(shares);
}

static struct auth_user user_of(struct test_site_db *t, int n)
{
	struct auth_user u;

	memset(&u, 0, sizeof(u));
	u.user_id = test_site_db_user(t, n);
	snprintf(u.phone, sizeof(u.phone), "+8613800000%03d", n);
	return u;
}

static int keys_route(struct test_route *r, const char *spot, const struct auth_user *u,
		      json_object **reply)
{
	return test_route_call(r, spot_routes, spot_routes_count, "GET", "/v1/spots/{id}/keys",
			       spot, NULL, u, NULL, reply);
}

static void test_keys_route_who_may(void **state)
{
	struct test_route *r = test_route_new();
	struct auth_user owner, attendant, stranger, admin;
	json_object *reply = NULL;
	int64_t role = 0;

	(void)state;
	log_init("test-spot", LOG_ERROR);
	owner = user_of(r->t, 1);
	attendant = user_of(r->t, 2);
	stranger = user_of(r->t, 3);
	admin = user_of(r->t, 4);
	admin.admin = true;
	assert_int_equal(db_exec(r->t->db, "UPDATE spots SET owner_id = $1 WHERE id = 101", "i",
				 owner.user_id), 0);
	assert_int_equal(role_grant(r->t->db, attendant.phone, "attendant", 7, &role), 0);
	put_key(r->t->db, 30, owner.user_id, 101, 4294967295LL, 0, PROTO_CRED_OWNER, false);
	put_share(r->t->db, 40, 30, owner.user_id, stranger.user_id, "active");
	/* The owner, the site's attendant and a server administrator see it all. */
	assert_int_equal(keys_route(r, "101", &owner, &reply), 200);
	assert_int_equal(json_object_get_int64(get(reply, "spot_id")), 101);
	assert_string_equal(json_object_get_string(get(reply, "spot_name")), "B1-01");
	assert_int_equal(json_object_array_length(get(reply, "keys")), 1);
	assert_int_equal(json_object_array_length(get(reply, "shares")), 1);
	json_object_put(reply);
	assert_int_equal(keys_route(r, "101", &attendant, &reply), 200);
	assert_int_equal(json_object_array_length(get(reply, "shares")), 1);
	json_object_put(reply);
	assert_int_equal(keys_route(r, "101", &admin, NULL), 200);
	/* Anybody else, even the recipient of a share on it: 403; no such spot: 404. */
	assert_int_equal(keys_route(r, "101", &stranger, &reply), 403);
	assert_string_equal(test_route_error(reply), "forbidden");
	json_object_put(reply);
	assert_int_equal(keys_route(r, "102", &owner, &reply), 403);
	json_object_put(reply);
	assert_int_equal(keys_route(r, "999", &owner, &reply), 404);
	assert_string_equal(test_route_error(reply), "not_found");
	json_object_put(reply);
	assert_int_equal(keys_route(r, "x1", &owner, &reply), 404);
	json_object_put(reply);
	test_route_free(r);
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
		cmocka_unit_test_setup_teardown(test_keys_and_shares, setup, teardown),
		cmocka_unit_test(test_keys_route_who_may),
	};

	return cmocka_run_group_tests_name("spot", tests, NULL, NULL);
}
