/*
 * test-site.c: server/site through its public API on a real SQLite database: a good
 * site imported whole (map, provisioning, the sealed site key), every kind of bad
 * description refused with its status, code and field and NOTHING stored, uncovered
 * locks named, conflicts with what is stored, and a failure at the last insert.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../lib/log.h"
#include "../../server/keywrap.h"
#include "../support/test-site-db.h"

/* The single integer a query returns. */
static int64_t query(struct db *db, const char *sql)
{
	return test_site_db_int(db, sql);
}

static int setup(void **state)
{
	*state = test_site_db_new();
	return 0;
}

static int teardown(void **state)
{
	test_site_db_free(*state);
	return 0;
}

/* The P-256 base point G as a JSON string: a valid key that no test generates. */
static const char p256_generator_hex[] =
	"\"6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
	"4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5\"";

/* Rows in every table an import writes. */
static int64_t stored_rows(struct db *db)
{
	static const char *const tables[] = {
		"sites", "levels", "nodes", "lanes", "spots", "locks", "gateways",
		"gateway_covers", "roles",
	};
	char sql[96];
	int64_t n = 0;
	size_t i;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", tables[i]);
		n += query(db, sql);
	}
	return n;
}

static json_object *at(json_object *o, const char *key, int idx)
{
	json_object *v = NULL;

	must(json_object_object_get_ex(o, key, &v));
	return idx < 0 ? v : json_object_array_get_idx(v, (size_t)idx);
}

static void set(json_object *o, const char *key, const char *json)
{
	json_object_object_add(o, key, json != NULL ? test_site_db_obj(json) : NULL);
}

static void test_import_good(void **state)
{
	struct test_site_db *t = *state;
	json_object *d = test_site_db_description(t), *map = NULL, *prov = NULL, *v;
	struct site_error err;
	uint8_t pub[64], sig[64], digest[32] = { 1 };
	char pub_hex[129];
	EVP_PKEY *key = NULL;
	int64_t id = 0;

	assert_int_equal(test_site_db_import(t, d, &id, &err), 0);
	assert_int_equal(id, TEST_SITE_DB_SITE_ID);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM levels"), 2);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM nodes"), 4);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM lanes"), 3);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM spots WHERE site_id = 7"), 4);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM locks"), 4);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM gateway_covers"), 4);
	assert_int_equal(query(t->db, "SELECT x_cm FROM nodes WHERE id = 'J1'"), 1025);
	assert_int_equal(query(t->db, "SELECT height_cm FROM levels WHERE id = 'B2'"), 2450);
	assert_int_equal(query(t->db, "SELECT key_valid_s FROM spots WHERE id = 102"), 3600);
	assert_int_equal(query(t->db, "SELECT key_max_unlocks FROM spots WHERE id = 102"), 5);
	assert_int_equal(query(t->db, "SELECT mgmt_seq FROM locks WHERE spot_id = 201"), 0);

	/* The site key opens under the master key and matches the stored public half. */
	assert_int_equal(site_key(t->db, t->master, 7, &key), 0);
	assert_int_equal(p256_public_raw(key, pub), 0);
	assert_int_equal(p256_sign_digest(key, digest, sig), 0);
	EVP_PKEY_free(key);
	assert_int_equal(site_key(t->db, t->master, 8, &key), -SITE_E_NOTFOUND);
	t->master[0] ^= 1;
	assert_int_equal(site_key(t->db, t->master, 7, &key), -SITE_E_INTERNAL);
	assert_null(key);
	t->master[0] ^= 1;

	/* Provisioning: each lock with the site ID and the site public key. */
	assert_int_equal(site_provisioning(t->db, 7, &prov), 0);
	assert_int_equal(hex_encode(pub, 64, pub_hex, sizeof(pub_hex)), 128);
	assert_string_equal(json_object_get_string(at(prov, "site_public_key", -1)), pub_hex);
	assert_int_equal(json_object_array_length(at(prov, "locks", -1)), 4);
	v = at(prov, "locks", 2);
	assert_int_equal(json_object_get_int64(at(v, "spot_id", -1)), 201);
	assert_int_equal(json_object_get_int64(at(v, "site_id", -1)), 7);
	assert_string_equal(json_object_get_string(at(v, "site_public_key", -1)), pub_hex);
	assert_string_equal(json_object_get_string(at(v, "address", -1)), "run/locks/201.sock");
	json_object_put(prov);
	assert_int_equal(site_provisioning(t->db, 8, &prov), -SITE_E_NOTFOUND);

	/* The map: metres again, no keys. */
	assert_int_equal(site_map(t->db, 7, &map), 0);
	assert_string_equal(json_object_get_string(at(map, "name", -1)), "Test garage");
	assert_int_equal(json_object_array_length(at(map, "levels", -1)), 2);
	assert_int_equal(json_object_array_length(at(map, "spots", -1)), 4);
	assert_int_equal(json_object_array_length(at(map, "lanes", -1)), 3);
	v = at(map, "nodes", 1); /* ordered by ID: E, J1, J2, X */
	assert_string_equal(json_object_get_string(at(v, "id", -1)), "J1");
	assert_true(json_object_get_double(at(v, "x", -1)) == 10.25);
	v = at(map, "gateways", 1);
	assert_int_equal(json_object_array_length(at(v, "covers", -1)), 2);
	assert_null(strstr(json_object_to_json_string(map), pub_hex));
	assert_null(strstr(json_object_to_json_string(map), "device_pub"));
	json_object_put(map);
	assert_int_equal(site_map(t->db, 8, &map), -SITE_E_NOTFOUND);

	site_error_clear(&err);
	json_object_put(d);
}

static void test_owner_gets_role(void **state)
{
	struct test_site_db *t = *state;
	json_object *d = test_site_db_description(t);
	struct site_error err;
	int64_t id, user = test_site_db_user(t, 1);
	char owner[24];

	snprintf(owner, sizeof(owner), "%lld", (long long)user);
	set(at(d, "spots", 0), "owner", owner);
	set(at(d, "spots", 1), "policy", "\"region\"");
	set(at(d, "spots", 1), "region", "\"Futian\"");
	assert_int_equal(test_site_db_import(t, d, &id, &err), 0);
	assert_int_equal(query(t->db, "SELECT owner_id FROM spots WHERE id = 101"), user);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM roles WHERE role = 'owner' "
				 "AND spot_id = 101 AND site_id = 7"), 1);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM spots WHERE id = 102 "
				 "AND policy = 'region' AND region = 'Futian'"), 1);
	json_object_put(d);
}

/* One bad description: what to change, and the status, code and field expected. */
struct bad_case {
	const char *name;
	void (*mutate)(const struct test_site_db *t, json_object *d);
	int status;
	const char *code;
	const char *field;
};

static void m_no_site_id(const struct test_site_db *t, json_object *d)
{
	(void)t;
	json_object_object_del(d, "site_id");
}

static void m_site_id_zero(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(d, "site_id", "0");
}

static void m_site_id_too_big(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(d, "site_id", "4294967296");
}

static void m_site_id_string(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(d, "site_id", "\"7\"");
}

static void m_name_empty(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(d, "name", "\"\"");
}

static void m_levels_empty(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(d, "levels", "[]");
}

static void m_level_duplicate(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "levels", 1), "id", "\"B1\"");
}

static void m_level_bad_id(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "levels", 1), "id", "\"B 2\"");
}

static void m_level_width_zero(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "levels", 0), "width", "0");
}

static void m_node_unknown_level(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "nodes", 2), "level", "\"B9\"");
}

static void m_node_off_plan(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "nodes", 2), "x", "60.5");
}

static void m_node_negative(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "nodes", 2), "y", "-1");
}

static void m_node_bad_kind(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "nodes", 2), "kind", "\"roundabout\"");
}

static void m_node_duplicate(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "nodes", 3), "id", "\"J1\"");
}

static void m_no_exit(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "nodes", 1), "kind", "\"junction\"");
}

static void m_lane_unknown_node(const struct test_site_db *t, json_object *d)
{
	(void)t;
	json_object_array_put_idx(at(d, "lanes", -1), 1, test_site_db_obj("[\"J1\",\"Q\"]"));
}

static void m_lane_self(const struct test_site_db *t, json_object *d)
{
	(void)t;
	json_object_array_put_idx(at(d, "lanes", -1), 1, test_site_db_obj("[\"J1\",\"J1\"]"));
}

static void m_lane_duplicate(const struct test_site_db *t, json_object *d)
{
	(void)t;
	json_object_array_put_idx(at(d, "lanes", -1), 1, test_site_db_obj("[\"J1\",\"E\"]"));
}

static void m_lane_three(const struct test_site_db *t, json_object *d)
{
	(void)t;
	json_object_array_put_idx(at(d, "lanes", -1), 1, test_site_db_obj("[\"J1\",\"E\",\"X\"]"));
}

static void m_spot_unknown_node(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "spots", 1), "node", "\"J7\"");
}

static void m_spot_node_other_level(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "spots", 1), "node", "\"J2\"");
}

static void m_spot_off_plan(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "spots", 3), "y", "24.6");
}

static void m_spot_duplicate_id(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "spots", 3), "id", "101");
}

static void m_spot_duplicate_name(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "spots", 3), "name", "\"B1-01\"");
}

static void m_spot_id_zero(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "spots", 0), "id", "0");
}

static void m_spot_bad_policy(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "spots", 0), "policy", "\"friends\"");
}

static void m_spot_region_missing(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "spots", 0), "policy", "\"region\"");
}

static void m_spot_limit_too_big(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "spots", 1), "limits", "{\"max_unlocks\":65536}");
}

static void m_spot_no_lock(const struct test_site_db *t, json_object *d)
{
	(void)t;
	json_object_object_del(at(d, "spots", 2), "lock");
}

static void m_spot_unknown_owner(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "spots", 2), "owner", "999");
}

static void m_lock_pub_not_hex(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(at(d, "spots", 2), "lock", -1), "device_pub", "\"FROM_LOCK\"");
}

static void m_lock_pub_off_curve(const struct test_site_db *t, json_object *d)
{
	uint8_t pub[64];

	memcpy(pub, t->lock_pub[2], 64);
	pub[63] ^= 1;
	json_object_object_add(at(at(d, "spots", 2), "lock", -1), "device_pub",
			       test_site_db_hex(pub, 64));
}

static void m_lock_pub_duplicate(const struct test_site_db *t, json_object *d)
{
	json_object_object_add(at(at(d, "spots", 3), "lock", -1), "device_pub",
			       test_site_db_hex(t->lock_pub[0], 64));
}

static void m_lock_no_address(const struct test_site_db *t, json_object *d)
{
	(void)t;
	json_object_object_del(at(at(d, "spots", 0), "lock", -1), "address");
}

static void m_gateway_bad_key(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "gateways", 1), "public_key", "\"FROM_GATEWAY\"");
}

static void m_gateway_duplicate_key(const struct test_site_db *t, json_object *d)
{
	json_object_object_add(at(d, "gateways", 1), "public_key",
			       test_site_db_hex(t->gateway_pub[0], 64));
}

static void m_gateway_duplicate_id(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "gateways", 1), "id", "1");
}

static void m_gateway_unknown_spot(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "gateways", 1), "covers", "[201,202,303]");
}

static void m_gateway_cover_twice(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(at(d, "gateways", 1), "covers", "[201,202,201]");
}

static void m_no_gateways(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(d, "gateways", "[]");
}

static void m_spots_not_array(const struct test_site_db *t, json_object *d)
{
	(void)t;
	set(d, "spots", "{}");
}

static const struct bad_case bad_cases[] = {
	{ "no site_id", m_no_site_id, 400, "missing_field", "site_id" },
	{ "site_id 0", m_site_id_zero, 400, "bad_field", "site_id" },
	{ "site_id 2^32", m_site_id_too_big, 400, "bad_field", "site_id" },
	{ "site_id string", m_site_id_string, 400, "bad_field", "site_id" },
	{ "empty name", m_name_empty, 400, "bad_field", "name" },
	{ "no levels", m_levels_empty, 400, "bad_field", "levels" },
	{ "level twice", m_level_duplicate, 422, "duplicate_id", "levels[1].id" },
	{ "level ID", m_level_bad_id, 400, "bad_field", "levels[1].id" },
	{ "level width", m_level_width_zero, 400, "bad_field", "levels[0].width" },
	{ "node level", m_node_unknown_level, 422, "unknown_reference", "nodes[2].level" },
	{ "node off plan", m_node_off_plan, 400, "bad_field", "nodes[2].x" },
	{ "node negative", m_node_negative, 400, "bad_field", "nodes[2].y" },
	{ "node kind", m_node_bad_kind, 400, "bad_field", "nodes[2].kind" },
	{ "node twice", m_node_duplicate, 422, "duplicate_id", "nodes[3].id" },
	{ "no exit", m_no_exit, 422, "incomplete_map", "nodes" },
	{ "lane node", m_lane_unknown_node, 422, "unknown_reference", "lanes[1]" },
	{ "lane self", m_lane_self, 400, "bad_field", "lanes[1]" },
	{ "lane twice", m_lane_duplicate, 422, "duplicate_id", "lanes[1]" },
	{ "lane of three", m_lane_three, 400, "bad_field", "lanes[1]" },
	{ "spot node", m_spot_unknown_node, 422, "unknown_reference", "spots[1].node" },
	{ "spot node level", m_spot_node_other_level, 422, "unknown_reference", "spots[1].node" },
	{ "spot off plan", m_spot_off_plan, 400, "bad_field", "spots[3].y" },
	{ "spot ID twice", m_spot_duplicate_id, 422, "duplicate_id", "spots[3].id" },
	{ "spot name twice", m_spot_duplicate_name, 422, "duplicate_id", "spots[3].name" },
	{ "spot ID 0", m_spot_id_zero, 400, "bad_field", "spots[0].id" },
	{ "policy", m_spot_bad_policy, 400, "bad_field", "spots[0].policy" },
	{ "region missing", m_spot_region_missing, 400, "missing_field", "spots[0].region" },
	{ "limit", m_spot_limit_too_big, 400, "bad_field", "spots[1].limits.max_unlocks" },
	{ "no lock", m_spot_no_lock, 400, "missing_field", "spots[2].lock" },
	{ "owner", m_spot_unknown_owner, 422, "unknown_reference", "spots[2].owner" },
	{ "device key hex", m_lock_pub_not_hex, 422, "bad_public_key", "spots[2].lock.device_pub" },
	{ "device key point", m_lock_pub_off_curve, 422, "bad_public_key",
	  "spots[2].lock.device_pub" },
	{ "device key twice", m_lock_pub_duplicate, 422, "duplicate_id",
	  "spots[3].lock.device_pub" },
	{ "lock address", m_lock_no_address, 400, "missing_field", "spots[0].lock.address" },
	{ "gateway key", m_gateway_bad_key, 422, "bad_public_key", "gateways[1].public_key" },
	{ "gateway key twice", m_gateway_duplicate_key, 422, "duplicate_id",
	  "gateways[1].public_key" },
	{ "gateway ID twice", m_gateway_duplicate_id, 422, "duplicate_id", "gateways[1].id" },
	{ "gateway spot", m_gateway_unknown_spot, 422, "unknown_reference",
	  "gateways[1].covers[2]" },
	{ "gateway spot twice", m_gateway_cover_twice, 422, "duplicate_id",
	  "gateways[1].covers[2]" },
	{ "no gateways", m_no_gateways, 400, "bad_field", "gateways" },
	{ "spots not array", m_spots_not_array, 400, "bad_field", "spots" },
};

static void test_bad_descriptions(void **state)
{
	struct test_site_db *t = *state;
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		json_object *d = test_site_db_description(t);
		struct site_error err;
		int64_t id = -1;
		int r;

		c->mutate(t, d);
		r = test_site_db_import(t, d, &id, &err);
		if (r == 0 || err.status != c->status || err.code == NULL ||
		    strcmp(err.code, c->code) != 0 || strcmp(err.field, c->field) != 0)
			fail_msg("case '%s': got %d, %d %s at '%s' (%s)", c->name, r, err.status,
				 err.code != NULL ? err.code : "-", err.field, err.detail);
		assert_int_equal(r, -SITE_E_INVALID);
		assert_true(strlen(err.detail) > 0);
		assert_int_equal(id, -1);
		assert_int_equal(stored_rows(t->db), 0);
		site_error_clear(&err);
		json_object_put(d);
	}
}

static void test_uncovered_locks_named(void **state)
{
	struct test_site_db *t = *state;
	json_object *d = test_site_db_description(t);
	struct site_error err;
	int64_t id;

	set(at(d, "gateways", 0), "covers", "[102]");
	set(at(d, "gateways", 1), "covers", "[201]");
	assert_int_equal(test_site_db_import(t, d, &id, &err), -SITE_E_INVALID);
	assert_int_equal(err.status, 422);
	assert_string_equal(err.code, "uncovered_locks");
	assert_non_null(err.uncovered);
	assert_int_equal(json_object_array_length(err.uncovered), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(err.uncovered, 0)),
			    "B1-01");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(err.uncovered, 1)),
			    "B2-02");
	assert_non_null(strstr(err.detail, "B1-01"));
	assert_non_null(strstr(err.detail, "B2-02"));
	assert_int_equal(stored_rows(t->db), 0);
	site_error_clear(&err);
	assert_null(err.uncovered);

	/* A spot under two gateways is fine. */
	set(at(d, "gateways", 0), "covers", "[101,102,201]");
	set(at(d, "gateways", 1), "covers", "[201,202]");
	assert_int_equal(test_site_db_import(t, d, &id, &err), 0);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM gateway_covers WHERE spot_id = 201"),
			 2);
	json_object_put(d);
}

static void test_conflicts_with_stored(void **state)
{
	struct test_site_db *t = *state;
	json_object *d;
	struct site_error err;
	int64_t id, before;
	EVP_PKEY *k[3];
	uint8_t pub[3][64];
	size_t i;

	test_site_db_import_good(t);
	before = stored_rows(t->db);
	for (i = 0; i < 3; i++) {
		k[i] = p256_generate();
		assert_int_equal(p256_public_raw(k[i], pub[i]), 0);
	}

	/* The same description again. */
	d = test_site_db_description(t);
	assert_int_equal(test_site_db_import(t, d, &id, &err), -SITE_E_CONFLICT);
	assert_int_equal(err.status, 409);
	assert_string_equal(err.code, "site_exists");
	site_error_clear(&err);

	/* Another site ID, the same name. */
	set(d, "site_id", "8");
	assert_int_equal(test_site_db_import(t, d, &id, &err), -SITE_E_CONFLICT);
	assert_string_equal(err.code, "site_exists");
	assert_string_equal(err.field, "name");
	site_error_clear(&err);

	/* Another site, but spot 101 is the first site's. */
	set(d, "name", "\"Other\"");
	assert_int_equal(test_site_db_import(t, d, &id, &err), -SITE_E_CONFLICT);
	assert_string_equal(err.code, "spot_exists");
	assert_string_equal(err.field, "spots[0].id");
	site_error_clear(&err);

	/* New spot IDs, but the old locks' keys. */
	set(at(d, "spots", 0), "id", "301");
	set(at(d, "spots", 1), "id", "302");
	set(at(d, "spots", 2), "id", "401");
	set(at(d, "spots", 3), "id", "402");
	set(at(d, "gateways", 0), "covers", "[301,302]");
	set(at(d, "gateways", 1), "covers", "[401,402]");
	assert_int_equal(test_site_db_import(t, d, &id, &err), -SITE_E_CONFLICT);
	assert_string_equal(err.code, "key_in_use");
	site_error_clear(&err);

	/* New lock keys, but the old gateway IDs. */
	for (i = 0; i < 3; i++)
		json_object_object_add(at(at(d, "spots", (int)i), "lock", -1), "device_pub",
				       test_site_db_hex(pub[i], 64));
	json_object_object_add(at(at(d, "spots", 3), "lock", -1), "device_pub",
			       test_site_db_obj(p256_generator_hex));
	assert_int_equal(test_site_db_import(t, d, &id, &err), -SITE_E_CONFLICT);
	assert_string_equal(err.code, "gateway_exists");
	site_error_clear(&err);

	/* New gateway IDs, but an old gateway key. */
	set(at(d, "gateways", 0), "id", "3");
	set(at(d, "gateways", 1), "id", "4");
	assert_int_equal(test_site_db_import(t, d, &id, &err), -SITE_E_CONFLICT);
	assert_string_equal(err.code, "key_in_use");
	assert_string_equal(err.field, "gateways[0].public_key");
	site_error_clear(&err);
	assert_int_equal(stored_rows(t->db), before);

	/* All new: the second site goes in beside the first. */
	json_object_object_add(at(d, "gateways", 0), "public_key", test_site_db_hex(pub[2], 64));
	json_object_object_add(at(d, "gateways", 1), "public_key",
			       test_site_db_hex(t->lock_pub[0], 64)); /* not yet a gateway's key */
	assert_int_equal(test_site_db_import(t, d, &id, &err), 0);
	assert_int_equal(id, 8);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM spots"), 8);

	for (i = 0; i < 3; i++)
		EVP_PKEY_free(k[i]);
	json_object_put(d);
}

/* A storage failure at the very last insert (injected by a trigger) leaves nothing. */
static void test_failure_at_last_insert(void **state)
{
	struct test_site_db *t = *state;
	json_object *d = test_site_db_description(t);
	struct site_error err;
	int64_t id;

	assert_int_equal(db_exec(t->db, "CREATE TRIGGER fail_last BEFORE INSERT ON gateway_covers "
				 "WHEN NEW.spot_id = 202 "
				 "BEGIN SELECT RAISE(ABORT, 'injected'); END",
				 NULL), 0);
	assert_int_not_equal(test_site_db_import(t, d, &id, &err), 0);
	assert_true(err.status == 409 || err.status == 500);
	assert_int_equal(stored_rows(t->db), 0);
	site_error_clear(&err);
	assert_int_equal(db_exec(t->db, "DROP TRIGGER fail_last", NULL), 0);
	assert_int_equal(test_site_db_import(t, d, &id, &err), 0);
	json_object_put(d);
}

/* The demo description, once its placeholders are filled, is a valid site. */
static void test_demo_site(void **state)
{
	struct test_site_db *t = *state;
	json_object *d = json_object_from_file("assets/demo/site.json"), *spots, *gws, *map = NULL;
	struct site_error err;
	EVP_PKEY *k;
	uint8_t pub[64];
	int64_t id;
	size_t i;

	if (d == NULL) /* run from elsewhere than the top of the tree */
		skip();
	assert_int_equal(json_object_get_int64(at(d, "site_id", -1)), 1);
	spots = at(d, "spots", -1);
	gws = at(d, "gateways", -1);
	assert_int_equal(json_object_array_length(spots), 40);
	assert_int_equal(json_object_array_length(gws), 2);
	for (i = 0; i < 42; i++) {
		json_object *o = i < 40 ? at(json_object_array_get_idx(spots, i), "lock", -1) :
			json_object_array_get_idx(gws, i - 40);
		const char *key = i < 40 ? "device_pub" : "public_key";

		assert_string_equal(json_object_get_string(at(o, key, -1)),
				    i < 40 ? "FROM_LOCK" : "FROM_GATEWAY");
		k = p256_generate();
		assert_int_equal(p256_public_raw(k, pub), 0);
		json_object_object_add(o, key, test_site_db_hex(pub, 64));
		EVP_PKEY_free(k);
	}
	assert_int_equal(test_site_db_import(t, d, &id, &err), 0);
	assert_int_equal(id, 1);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM spots WHERE level = 'B1' AND "
				 "id BETWEEN 101 AND 120"), 20);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM spots WHERE level = 'B2' AND "
				 "id BETWEEN 201 AND 220"), 20);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM gateway_covers WHERE gateway_id = 1 "
				 "AND spot_id BETWEEN 101 AND 120"), 20);
	assert_int_equal(query(t->db, "SELECT COUNT(*) FROM gateway_covers WHERE gateway_id = 2 "
				 "AND spot_id BETWEEN 201 AND 220"), 20);
	assert_int_equal(site_map(t->db, 1, &map), 0);
	json_object_put(map);
	json_object_put(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_gets_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_descriptions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncovered_locks_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflicts_with_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_at_last_insert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_demo_site, setup, teardown),
	};

	log_init("test-site", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
