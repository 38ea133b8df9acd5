/*
 * test-navigation.c: garage routes: shortest paths over the lane graph (also across a
 * ramp), the nearest entrance and exit, unreachable goals, bad graph input, and the
 * turn-by-turn sentences (headings, left and right turns, ramps, arrival).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../server/navigation.h"

/*
 *  level B1:                         level B2:
 *   E(0,0) --- J1(20,0) --- J2(40,0)    R2(40,10) --- X2(60,10) exit
 *               |          / |  ramp J2-R2
 *              J3(20,20) --   X(40,-15) exit
 *  J3 is joined to J1 and, diagonally, to J2.
 */
static struct navigation_graph *garage(void)
{
	struct navigation_graph *g = malloc(sizeof(*g));

	assert_non_null(g);
	navigation_init(g);
	assert_true(navigation_add_node(g, "E", "B1", 0, 0, NAVIGATION_ENTRANCE) >= 0);
	assert_true(navigation_add_node(g, "J1", "B1", 20, 0, NAVIGATION_JUNCTION) >= 0);
	assert_true(navigation_add_node(g, "J2", "B1", 40, 0, NAVIGATION_JUNCTION) >= 0);
	assert_true(navigation_add_node(g, "J3", "B1", 20, 20, NAVIGATION_JUNCTION) >= 0);
	assert_true(navigation_add_node(g, "X", "B1", 40, -15, NAVIGATION_EXIT) >= 0);
	assert_true(navigation_add_node(g, "R2", "B2", 40, 10, NAVIGATION_JUNCTION) >= 0);
	assert_true(navigation_add_node(g, "X2", "B2", 60, 10, NAVIGATION_EXIT) >= 0);
	assert_int_equal(navigation_add_lane(g, "E", "J1"), 0);
	assert_int_equal(navigation_add_lane(g, "J1", "J2"), 0);
	assert_int_equal(navigation_add_lane(g, "J1", "J3"), 0);
	assert_int_equal(navigation_add_lane(g, "J3", "J2"), 0);
	assert_int_equal(navigation_add_lane(g, "J2", "X"), 0);
	assert_int_equal(navigation_add_lane(g, "J2", "R2"), 0);
	assert_int_equal(navigation_add_lane(g, "R2", "X2"), 0);
	return g;
}

static void expect_path(const struct navigation_graph *g, const struct navigation_path *p,
			const char *const *ids, size_t n)
{
	size_t i;

	assert_int_equal(p->count, n);
	for (i = 0; i < n; i++)
		assert_string_equal(g->nodes[p->nodes[i]].id, ids[i]);
}

static void test_shortest_takes_the_direct_lane(void **state)
{
	struct navigation_graph *g = garage();
	struct navigation_path p;
	const char *const want[] = { "E", "J1", "J2" };

	(void)state;
	assert_int_equal(navigation_shortest(g, navigation_find(g, "E"), navigation_find(g, "J2"),
					     &p), 0);
	expect_path(g, &p, want, 3);
	assert_true(p.length > 39.9 && p.length < 40.1);
	free(g);
}

static void test_ramp_costs_a_penalty(void **state)
{
	struct navigation_graph *g = garage();
	struct navigation_path p;
	const char *const want[] = { "E", "J1", "J2", "R2" };

	(void)state;
	assert_int_equal(navigation_shortest(g, navigation_find(g, "E"), navigation_find(g, "R2"),
					     &p), 0);
	expect_path(g, &p, want, 4);
	assert_true(p.length > 40 + 10 + NAVIGATION_RAMP_PENALTY - 0.1);
	free(g);
}

static void test_nearest_exit_and_entrance(void **state)
{
	struct navigation_graph *g = garage();
	struct navigation_path p;
	const char *const out[] = { "J3", "J2", "X" };
	const char *const in[] = { "E", "J1", "J3" };

	(void)state;
	assert_int_equal(navigation_nearest(g, navigation_find(g, "J3"), NAVIGATION_EXIT, &p), 0);
	expect_path(g, &p, out, 3);
	/* From the entrance to the spot: the path is given in driving order. */
	assert_int_equal(navigation_nearest(g, navigation_find(g, "J3"), NAVIGATION_ENTRANCE, &p),
			 0);
	expect_path(g, &p, in, 3);
	free(g);
}

static void test_unreachable_and_bad_input(void **state)
{
	struct navigation_graph *g = garage();
	struct navigation_path p;
	int lonely = navigation_add_node(g, "L", "B3", 0, 0, NAVIGATION_JUNCTION);

	(void)state;
	assert_true(lonely >= 0);
	assert_int_equal(navigation_shortest(g, navigation_find(g, "E"), lonely, &p), -1);
	assert_int_equal(navigation_nearest(g, lonely, NAVIGATION_EXIT, &p), -1);
	assert_int_equal(navigation_add_node(g, "E", "B1", 1, 1, NAVIGATION_JUNCTION), -1);
	assert_int_equal(navigation_add_node(g, "", "B1", 1, 1, NAVIGATION_JUNCTION), -1);
	assert_int_equal(navigation_add_lane(g, "E", "nowhere"), -1);
	assert_int_equal(navigation_add_lane(g, "E", "E"), -1);
	assert_int_equal(navigation_shortest(g, -1, 0, &p), -1);
	assert_int_equal(navigation_shortest(g, 0, (int)g->node_count, &p), -1);
	free(g);
}

static void test_sentences_turns_and_ramp(void **state)
{
	struct navigation_graph *g = garage();
	struct navigation_path p;
	char text[1024];

	(void)state;
	/* E -> J1 -> J3: east, then a left turn north. */
	assert_int_equal(navigation_shortest(g, navigation_find(g, "E"), navigation_find(g, "J3"),
					     &p), 0);
	assert_true(navigation_describe(g, &p, "spot B1-05", text, sizeof(text)) > 0);
	assert_non_null(strstr(text, "Start at E on level B1."));
	assert_non_null(strstr(text, "Drive 20 m east to J1."));
	assert_non_null(strstr(text, "At J1 turn left and drive 20 m north to J3."));
	assert_non_null(strstr(text, "Arrive at spot B1-05 (40 m in all)."));
	/* E -> J1 -> J2 -> X: east, straight on east, then a right turn south. */
	assert_int_equal(navigation_nearest(g, navigation_find(g, "E"), NAVIGATION_EXIT, &p), 0);
	assert_true(navigation_describe(g, &p, "the exit", text, sizeof(text)) > 0);
	/* Straight on through J1 is one sentence. */
	assert_non_null(strstr(text, "Drive 40 m east to J2."));
	assert_null(strstr(text, "to J1."));
	assert_non_null(strstr(text, "At J2 turn right and drive 15 m south to X."));
	/* A ramp is named as one. */
	assert_int_equal(navigation_shortest(g, navigation_find(g, "J1"), navigation_find(g, "X2"),
					     &p), 0);
	assert_true(navigation_describe(g, &p, "the exit", text, sizeof(text)) > 0);
	assert_non_null(strstr(text, "Take the ramp to level B2."));
	free(g);
}

static void test_sentences_too_small_buffer(void **state)
{
	struct navigation_graph *g = garage();
	struct navigation_path p;
	char text[16];

	(void)state;
	assert_int_equal(navigation_shortest(g, 0, navigation_find(g, "X2"), &p), 0);
	assert_int_equal(navigation_describe(g, &p, "the exit", text, sizeof(text)), -1);
	free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shortest_takes_the_direct_lane),
		cmocka_unit_test(test_ramp_costs_a_penalty),
		cmocka_unit_test(test_nearest_exit_and_entrance),
		cmocka_unit_test(test_unreachable_and_bad_input),
		cmocka_unit_test(test_sentences_turns_and_ramp),
		cmocka_unit_test(test_sentences_too_small_buffer),
	};

	return cmocka_run_group_tests_name("navigation", tests, NULL, NULL);
}
