/*
 * test-tui-alarms.c: tui/alarms through its public API: the server's list is taken with
 * bad entries skipped and a reply without a list refused, the selection stays on its
 * alarm across lists and is clamped when moved, a removed alarm is gone, alarms beyond
 * ALARMS_MAX are counted, and which event kinds call for a fresh list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/alarms.h"

static int set_text(struct alarms *a, const char *text)
{
	json_object *o = json_tokener_parse(text);
	int r = alarms_set(a, o);

	json_object_put(o);
	return r;
}

static void test_set_and_select(void **state)
{
	static struct alarms a;

	(void)state;
	alarms_init(&a);
	assert_false(a.known);
	assert_null(alarms_selected(&a));
	alarms_move(&a, 1);
	assert_null(alarms_selected(&a));
	assert_int_equal(set_text(&a, "{\"site\":1,\"alarms\":["
				  "{\"id\":3,\"spot\":101,\"kind\":\"forced\",\"since\":100,\"event_seq\":5},"
				  "{\"id\":\"x\",\"spot\":102,\"kind\":\"jammed\"},"
				  "{\"id\":4,\"spot\":102,\"kind\":\"car_without_key\"},"
				  "{\"id\":5,\"spot\":103,\"kind\":12},"
				  "{\"id\":6,\"spot\":104,\"kind\":\"low_battery\",\"since\":-5},"
				  "7]}"), 3);
	assert_true(a.known);
	assert_int_equal(a.a[0].event_seq, 5);
	assert_int_equal(a.a[1].since, 0);
	assert_int_equal(a.a[2].since, 0); /* a negative time is unknown */
	assert_int_equal(alarms_selected(&a)->id, 3);
	alarms_move(&a, 5);
	assert_int_equal(alarms_selected(&a)->id, 6);
	alarms_move(&a, -1);
	assert_int_equal(alarms_selected(&a)->id, 4);
	/* A new list keeps the selection on the same alarm. */
	assert_int_equal(set_text(&a, "{\"alarms\":[{\"id\":9,\"spot\":1,\"kind\":\"offline\"},"
				  "{\"id\":4,\"spot\":102,\"kind\":\"car_without_key\"}]}"), 2);
	assert_int_equal(alarms_selected(&a)->id, 4);
	alarms_move(&a, -10);
	assert_int_equal(alarms_selected(&a)->id, 9);
	assert_true(alarms_spot(&a, 102));
	assert_false(alarms_spot(&a, 103));
	/* A reply without a list changes nothing. */
	assert_int_equal(set_text(&a, "{\"error\":\"forbidden\"}"), -1);
	assert_int_equal(set_text(&a, "{\"alarms\":{}}"), -1);
	assert_int_equal(alarms_set(&a, NULL), -1);
	assert_int_equal(a.count, 2);
}

static void test_remove(void **state)
{
	static struct alarms a;

	(void)state;
	alarms_init(&a);
	assert_int_equal(set_text(&a, "{\"alarms\":[{\"id\":1,\"spot\":1,\"kind\":\"forced\"},"
				  "{\"id\":2,\"spot\":2,\"kind\":\"jammed\"}]}"), 2);
	alarms_move(&a, 1);
	assert_true(alarms_remove(&a, 2));
	assert_false(alarms_remove(&a, 2));
	assert_int_equal(a.count, 1);
	assert_int_equal(alarms_selected(&a)->id, 1);
	assert_true(alarms_remove(&a, 1));
	assert_null(alarms_selected(&a));
}

static void test_too_many_counted(void **state)
{
	static struct alarms a;
	size_t i, n = ALARMS_MAX + 3, len = 0;
	char *text = malloc(n * 64 + 32);

	(void)state;
	assert_non_null(text);
	len += (size_t)sprintf(text, "{\"alarms\":[");
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "%s{\"id\":%zu,\"spot\":1,\"kind\":\"offline\"}",
				       i > 0 ? "," : "", i + 1);
	sprintf(text + len, "]}");
	alarms_init(&a);
	assert_int_equal(set_text(&a, text), ALARMS_MAX);
	assert_int_equal(a.dropped, 3);
	free(text);
}

static void test_relevant_kinds(void **state)
{
	(void)state;
	assert_true(alarms_event_relevant("forced"));
	assert_true(alarms_event_relevant("car_arrived"));
	assert_true(alarms_event_relevant("offline"));
	assert_false(alarms_event_relevant("mgmt"));
	assert_false(alarms_event_relevant("time_set"));
	assert_false(alarms_event_relevant(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_and_select),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_too_many_counted),
		cmocka_unit_test(test_relevant_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
