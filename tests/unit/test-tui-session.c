/*
 * test-tui-session.c: what tui/session makes of GET /v1/me without a server: the roles
 * (attendant and site administrator make staff of their site, a server administrator is
 * staff everywhere, owners own spots, unknown roles are ignored), a reply without a
 * user or roles refused, and a session on a URL that is not http(s) not made.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../tui/session.h"

static int roles(const char *text, struct session_roles *r)
{
	json_object *o = json_tokener_parse(text);
	int rc = session_roles_parse(o, r);

	json_object_put(o);
	return rc;
}

static void test_roles(void **state)
{
	struct session_roles r;

	(void)state;
	assert_int_equal(roles("{\"user_id\":7,\"phone\":\"+86\",\"admin\":false,\"roles\":["
			       "{\"role\":\"driver\"},{\"role\":\"attendant\",\"site_id\":3},"
			       "{\"role\":\"admin\",\"site_id\":4},{\"role\":\"owner\",\"spot_id\":101},"
			       "{\"role\":\"owner\",\"spot_id\":\"102\"},{\"role\":\"janitor\",\"site_id\":5},"
			       "{\"site_id\":6},3]}", &r), 0);
	assert_int_equal(r.user_id, 7);
	assert_false(r.admin);
	assert_int_equal(r.nstaff, 2);
	assert_int_equal(r.staff[0], 3);
	assert_int_equal(r.staff[1], 4);
	assert_int_equal(r.nowned, 1);
	assert_int_equal(r.owned[0], 101);
	assert_true(session_roles_staff(&r, 3));
	assert_true(session_roles_staff(&r, 4));
	assert_false(session_roles_staff(&r, 5));
	/* A server administrator, by the flag or by the role without a site. */
	assert_int_equal(roles("{\"user_id\":1,\"admin\":true,\"roles\":[]}", &r), 0);
	assert_true(session_roles_staff(&r, 99));
	assert_int_equal(roles("{\"user_id\":1,\"roles\":[{\"role\":\"admin\"}]}", &r), 0);
	assert_true(r.admin);
	/* A driver only. */
	assert_int_equal(roles("{\"user_id\":2,\"roles\":[{\"role\":\"driver\"}]}", &r), 0);
	assert_false(session_roles_staff(&r, 1));
	assert_int_equal(r.nowned, 0);
}

static void test_roles_refused(void **state)
{
	struct session_roles r;

	(void)state;
	assert_int_equal(roles("{\"roles\":[]}", &r), -1);
	assert_int_equal(roles("{\"user_id\":\"7\",\"roles\":[]}", &r), -1);
	assert_int_equal(roles("{\"user_id\":7}", &r), -1);
	assert_int_equal(roles("{\"user_id\":7,\"roles\":{}}", &r), -1);
	assert_int_equal(session_roles_parse(NULL, &r), -1);
}

static void test_too_many_roles_cut(void **state)
{
	char text[8192];
	struct session_roles r;
	size_t len, i;

	(void)state;
	len = (size_t)snprintf(text, sizeof(text), "{\"user_id\":1,\"roles\":[");
	for (i = 0; i < SESSION_SITES_MAX + 5; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"{\"role\":\"attendant\",\"site_id\":%zu},", i + 1);
	snprintf(text + len, sizeof(text) - len, "{\"role\":\"driver\"}]}");
	assert_int_equal(roles(text, &r), 0);
	assert_int_equal(r.nstaff, SESSION_SITES_MAX);
}

static void test_bad_url(void **state)
{
	struct session s;
	struct session_opts o = { .base_url = "ftp://example" };

	(void)state;
	assert_int_equal(session_open(&s, &o), -1);
	session_close(&s);
	o.base_url = "http://127.0.0.1:1";
	assert_int_equal(session_open(&s, &o), 0);
	session_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_roles_refused),
		cmocka_unit_test(test_too_many_roles_cut),
		cmocka_unit_test(test_bad_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
