/*
 * test-tui-eventlist.c: tui/eventlist through its public API: events of the stream are
 * parsed with their ranges checked (and refused when they lack a spot or kind), the ring
 * keeps the newest EVENTLIST_MAX in order, the filter by spot and kind selects newest
 * first, and the kind filter steps through every kind and back to all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../tui/eventlist.h"

static int parse_text(const char *text, struct eventlist_entry *e)
{
	json_object *o = json_tokener_parse(text);
	int r = eventlist_parse(o, e);

	json_object_put(o);
	return r;
}

static void test_parse(void **state)
{
	struct eventlist_entry e;

	(void)state;
	assert_int_equal(parse_text("{\"id\":4,\"site\":1,\"spot\":101,\"seq\":5,\"time\":1800000000,"
				    "\"kind\":\"unlocked\",\"arg8\":1,\"arg16\":2,\"user_id\":42,"
				    "\"key_id\":9,\"received_at\":1800000001}", &e), 0);
	assert_int_equal(e.spot, 101);
	assert_int_equal(e.seq, 5);
	assert_int_equal(e.time, 1800000000);
	assert_string_equal(e.kind, "unlocked");
	assert_int_equal(e.arg8, 1);
	assert_int_equal(e.arg16, 2);
	assert_int_equal(e.user_id, 42);
	assert_int_equal(e.key_id, 9);
	assert_string_equal(e.op, "");
	/* The server's own events: no seq, the time is when it was received. */
	assert_int_equal(parse_text("{\"site\":1,\"spot\":7,\"kind\":\"offline\",\"gateway\":1,"
				    "\"received_at\":1800000005}", &e), 0);
	assert_int_equal(e.seq, 0);
	assert_int_equal(e.time, 1800000005);
	/* Out-of-range optional members are dropped, not trusted. */
	assert_int_equal(parse_text("{\"spot\":7,\"kind\":\"boot\",\"arg8\":300,\"arg16\":-1,"
				    "\"seq\":\"5\",\"op\":\"much too long\"}", &e), 0);
	assert_int_equal(e.arg8, 0);
	assert_int_equal(e.arg16, 0);
	assert_int_equal(e.seq, 0);
	assert_string_equal(e.op, "");
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"{\"kind\":\"locked\"}",
		"{\"spot\":101}",
		"{\"spot\":0,\"kind\":\"locked\"}",
		"{\"spot\":4294967296,\"kind\":\"locked\"}",
		"{\"spot\":\"101\",\"kind\":\"locked\"}",
		"{\"spot\":101,\"kind\":\"\"}",
		"{\"spot\":101,\"kind\":\"a_kind_name_longer_than_the_field\"}",
		"{\"spot\":101,\"kind\":null}",
		"[1]",
		"12",
	};
	struct eventlist_entry e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_text(bad[i], &e), -1);
	assert_int_equal(eventlist_parse(NULL, &e), -1);
}

static struct eventlist_entry entry(int64_t spot, const char *kind, int64_t seq)
{
	struct eventlist_entry e;

	memset(&e, 0, sizeof(e));
	e.spot = spot;
	e.seq = seq;
	snprintf(e.kind, sizeof(e.kind), "%s", kind);
	return e;
}

static void test_ring_keeps_newest(void **state)
{
	static struct eventlist l;
	static const struct eventlist_entry *out[EVENTLIST_MAX + 8];
	struct eventlist_entry e;
	size_t i, n;

	(void)state;
	eventlist_init(&l);
	assert_int_equal(eventlist_view(&l, out, 8), 0);
	for (i = 1; i <= EVENTLIST_MAX + 5; i++) {
		e = entry(1, "locked", (int64_t)i);
		eventlist_add(&l, &e);
	}
	assert_int_equal(l.count, EVENTLIST_MAX);
	n = eventlist_view(&l, out, EVENTLIST_MAX + 8);
	assert_int_equal(n, EVENTLIST_MAX);
	assert_int_equal(out[0]->seq, EVENTLIST_MAX + 5); /* newest first */
	assert_int_equal(out[n - 1]->seq, 6);              /* the oldest five dropped */
	for (i = 1; i < n; i++)
		assert_int_equal(out[i]->seq, out[i - 1]->seq - 1);
	assert_int_equal(eventlist_view(&l, out, 3), 3);   /* max respected */
}

static void test_filter(void **state)
{
	static struct eventlist l;
	const struct eventlist_entry *out[16];
	struct eventlist_filter f = { .spot = 2, .kind = "" };
	struct eventlist_entry e;

	(void)state;
	eventlist_init(&l);
	e = entry(1, "locked", 1);
	eventlist_add(&l, &e);
	e = entry(2, "unlocked", 2);
	eventlist_add(&l, &e);
	e = entry(2, "car_arrived", 3);
	eventlist_add(&l, &e);
	e = entry(3, "unlocked", 4);
	eventlist_add(&l, &e);
	assert_int_equal(eventlist_select(&l, &f, out, 16), 2);
	assert_int_equal(out[0]->seq, 3);
	l.filter.spot = 0;
	snprintf(l.filter.kind, sizeof(l.filter.kind), "unlocked");
	assert_int_equal(eventlist_view(&l, out, 16), 2);
	assert_int_equal(out[0]->spot, 3);
	assert_int_equal(out[1]->spot, 2);
	l.filter.spot = 2;
	assert_int_equal(eventlist_view(&l, out, 16), 1);
	assert_true(eventlist_match(&l.filter, &l.e[1]));
	assert_false(eventlist_match(&l.filter, &l.e[0]));
}

static void test_next_kind_cycles(void **state)
{
	static struct eventlist l;
	size_t i, n;

	(void)state;
	eventlist_init(&l);
	for (n = 0; eventlist_kinds[n] != NULL; n++)
		;
	for (i = 0; i < n; i++) {
		eventlist_next_kind(&l);
		assert_string_equal(l.filter.kind, eventlist_kinds[i]);
	}
	eventlist_next_kind(&l);
	assert_string_equal(l.filter.kind, "");
	snprintf(l.filter.kind, sizeof(l.filter.kind), "not_a_kind");
	eventlist_next_kind(&l);
	assert_string_equal(l.filter.kind, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_ring_keeps_newest),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_next_kind_cycles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
