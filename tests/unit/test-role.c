/*
 * test-role.c: server/role on a real SQLite database with the test site: granting an
 * attendant or a site administrator by phone number (twice is once), refusals for a
 * role that is not a site role, an unknown phone or site (nothing stored), listing, and
 * withdrawing only the site's own rows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../server/role.h"
#include "../support/test-site-db.h"

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

static int64_t roles(struct test_site_db *t)
{
	return test_site_db_int(t->db, "SELECT COUNT(*) FROM roles WHERE role IN "
				"('attendant', 'admin')");
}

static void test_grant_list_revoke(void **state)
{
	struct test_site_db *t = *state;
	int64_t user = test_site_db_user(t, 5), id = 0, again = 0;
	json_object *list;

	assert_int_equal(role_grant(t->db, "+8613800000005", "attendant", 7, &id), 0);
	assert_true(id > 0);
	assert_int_equal(role_grant(t->db, "+8613800000005", "attendant", 7, &again), 0);
	assert_int_equal(again, id); /* granted twice is granted once */
	assert_int_equal(roles(t), 1);
	assert_false(role_is_site_admin(t->db, user, 7));
	assert_int_equal(role_grant(t->db, "+8613800000005", "admin", 7, &again), 0);
	assert_true(role_is_site_admin(t->db, user, 7));
	list = role_list(t->db, 7);
	assert_non_null(list);
	assert_int_equal(json_object_array_length(list), 2);
	json_object_put(list);
	assert_int_equal(role_revoke(t->db, 8, id), -ROLE_E_NOTFOUND); /* not that site's */
	assert_int_equal(role_revoke(t->db, 7, id), 0);
	assert_int_equal(role_revoke(t->db, 7, id), -ROLE_E_NOTFOUND);
	assert_int_equal(roles(t), 1);
}

static void test_refusals_store_nothing(void **state)
{
	struct test_site_db *t = *state;
	int64_t id = 0;

	test_site_db_user(t, 6);
	assert_int_equal(role_grant(t->db, "+8613800000006", "owner", 7, &id), -ROLE_E_INVALID);
	assert_int_equal(role_grant(t->db, "+8613800000006", "janitor", 7, &id), -ROLE_E_INVALID);
	assert_int_equal(role_grant(t->db, "+8613899999999", "attendant", 7, &id),
			 -ROLE_E_NOUSER);
	assert_int_equal(role_grant(t->db, "+8613800000006", "attendant", 99, &id),
			 -ROLE_E_NOSITE);
	assert_int_equal(roles(t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_grant_list_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_store_nothing, setup, teardown),
	};

	return cmocka_run_group_tests_name("role", tests, NULL, NULL);
}
