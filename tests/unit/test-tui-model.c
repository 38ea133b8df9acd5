/*
 * test-tui-model.c: tui/model through its public API, without a terminal: a site map is
 * taken (and a bad one refused, the old map kept), events change spots' looks and are
 * logged, the spots list says whether a key is out, an alarm at the server marks its
 * spot, the link going down marks the map stale until a fresh map comes, the selection
 * moves by arrows and levels and survives a new map, and the search finds spots by
 * name, number and owner.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <string.h>

#include "../../tui/model.h"

/* Two levels: B1 with three spots in a row (west to east), B2 with one. */
static const char site_text[] =
	"{\"site_id\":1,\"name\":\"Test garage\",\"levels\":["
	"{\"id\":\"B1\",\"name\":\"Basement 1\",\"width\":60,\"height\":24},"
	"{\"id\":\"B2\",\"name\":\"地下二层\",\"width\":60,\"height\":24}],"
	"\"nodes\":["
	"{\"id\":\"E\",\"level\":\"B1\",\"x\":0,\"y\":12,\"kind\":\"entrance\"},"
	"{\"id\":\"J\",\"level\":\"B1\",\"x\":30,\"y\":12,\"kind\":\"junction\"},"
	"{\"id\":\"X\",\"level\":\"B1\",\"x\":60,\"y\":12,\"kind\":\"exit\"},"
	"{\"id\":\"K\",\"level\":\"B2\",\"x\":30,\"y\":12,\"kind\":\"junction\"}],"
	"\"lanes\":[[\"E\",\"J\"],[\"J\",\"X\"],[\"J\",\"K\"]],"
	"\"spots\":["
	"{\"id\":101,\"name\":\"B1-01\",\"level\":\"B1\",\"x\":10,\"y\":20,\"node\":\"J\","
	"\"locked\":true,\"occupied\":false,\"online\":true,\"battery\":90},"
	"{\"id\":102,\"name\":\"B1-02\",\"level\":\"B1\",\"x\":20,\"y\":20,\"node\":\"J\","
	"\"locked\":true,\"occupied\":false,\"online\":true,\"battery\":90},"
	"{\"id\":103,\"name\":\"东区-03\",\"level\":\"B1\",\"x\":30,\"y\":20,\"node\":\"J\","
	"\"locked\":true,\"occupied\":false,\"online\":true,\"battery\":90},"
	"{\"id\":201,\"name\":\"B2-01\",\"level\":\"B2\",\"x\":30,\"y\":20,\"node\":\"K\","
	"\"locked\":null,\"occupied\":null,\"online\":false}],"
	"\"gateways\":[]}";

static json_object *parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

static void load(struct model *m)
{
	json_object *site = parse(site_text);

	model_init(m);
	assert_int_equal(model_set_site(m, site), 0);
	json_object_put(site);
}

static size_t idx(const struct model *m, int64_t id)
{
	size_t i = sitemap_spot_find(&m->map, id);

	assert_true(i != SITEMAP_NONE);
	return i;
}

static size_t apply(struct model *m, const char *event)
{
	json_object *ev = parse(event);
	size_t r = model_apply_event(m, ev);

	json_object_put(ev);
	return r;
}

static void test_site_taken(void **state)
{
	struct model m;

	(void)state;
	load(&m);
	assert_true(m.have_map);
	assert_false(m.stale);
	assert_int_equal(m.map.nspots, 4);
	assert_int_equal(m.level, 0);
	assert_int_equal(m.selected, SITEMAP_NONE);
	assert_string_equal(m.map_error, "");
	assert_int_equal(model_spot_look(&m, idx(&m, 101)), MAPTEXT_SPOT_FREE);
	assert_int_equal(model_spot_look(&m, idx(&m, 201)), MAPTEXT_SPOT_OFFLINE);
	assert_int_equal(model_spot_look(&m, 99), MAPTEXT_SPOT_UNKNOWN);
	model_free(&m);
	assert_false(m.have_map);
}

static void test_bad_site_keeps_old_map(void **state)
{
	static const char *const bad[] = {
		"{\"site_id\":1,\"name\":\"Empty\",\"levels\":[],\"nodes\":[],\"spots\":[]}",
		"{\"site_id\":1}",
		"[1,2,3]",
		"{\"site_id\":\"one\",\"name\":\"x\"}",
	};
	struct model m;
	json_object *o;
	size_t i;

	(void)state;
	model_init(&m);
	/* Without a map yet: refused, said why, still no map. */
	o = parse(bad[0]);
	assert_true(model_set_site(&m, o) < 0);
	json_object_put(o);
	assert_false(m.have_map);
	assert_string_not_equal(m.map_error, "");
	model_free(&m);
	/* With one: each refused, the old map unchanged. */
	load(&m);
	model_select(&m, idx(&m, 102));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = parse(bad[i]);
		assert_true(model_set_site(&m, o) < 0);
		json_object_put(o);
		assert_true(m.have_map);
		assert_int_equal(m.map.nspots, 4);
		assert_int_equal(m.selected, idx(&m, 102));
		assert_string_not_equal(m.map_error, "");
	}
	assert_true(model_set_site(&m, NULL) < 0);
	model_free(&m);
}

static void test_events_change_looks_and_log(void **state)
{
	const struct eventlist_entry *ev[8];
	struct model m;

	(void)state;
	load(&m);
	assert_int_equal(apply(&m, "{\"site\":1,\"spot\":102,\"seq\":5,\"time\":1800000000,"
			       "\"kind\":\"unlocked\",\"arg8\":1,\"user_id\":7,\"key_id\":3}"),
			 idx(&m, 102));
	assert_int_equal(model_spot_look(&m, idx(&m, 102)), MAPTEXT_SPOT_UNLOCKED);
	assert_int_equal(apply(&m, "{\"spot\":102,\"seq\":6,\"time\":1800000001,"
			       "\"kind\":\"car_arrived\"}"), idx(&m, 102));
	assert_int_equal(model_spot_look(&m, idx(&m, 102)), MAPTEXT_SPOT_OCCUPIED);
	assert_int_equal(apply(&m, "{\"spot\":101,\"seq\":2,\"time\":1800000002,"
			       "\"kind\":\"forced\"}"), idx(&m, 101));
	assert_int_equal(model_spot_look(&m, idx(&m, 101)), MAPTEXT_SPOT_ALARM);
	assert_int_equal(apply(&m, "{\"site\":1,\"spot\":103,\"kind\":\"offline\","
			       "\"gateway\":1,\"received_at\":1800000003}"), idx(&m, 103));
	assert_int_equal(model_spot_look(&m, idx(&m, 103)), MAPTEXT_SPOT_OFFLINE);
	/* A spot the map lacks and an unknown kind are logged; garbage is not. */
	assert_int_equal(apply(&m, "{\"spot\":999,\"seq\":1,\"time\":1,\"kind\":\"locked\"}"),
			 SITEMAP_NONE);
	assert_int_equal(apply(&m, "{\"spot\":101,\"kind\":\"override\",\"op\":\"unlock\","
			       "\"user_id\":2,\"seq\":9,\"received_at\":1800000004}"), SITEMAP_NONE);
	assert_int_equal(apply(&m, "{\"kind\":\"locked\"}"), SITEMAP_NONE);
	assert_int_equal(apply(&m, "{\"spot\":0,\"kind\":\"locked\"}"), SITEMAP_NONE);
	assert_int_equal(apply(&m, "{\"spot\":101,\"kind\":7}"), SITEMAP_NONE);
	assert_int_equal(apply(&m, "\"text\""), SITEMAP_NONE);
	assert_int_equal(m.events.count, 6);
	assert_int_equal(eventlist_view(&m.events, ev, 8), 6);
	assert_string_equal(ev[0]->kind, "override");
	assert_string_equal(ev[0]->op, "unlock");
	assert_int_equal(ev[0]->time, 1800000004); /* received_at when it has no lock time */
	assert_string_equal(ev[5]->kind, "unlocked");
	assert_int_equal(ev[5]->user_id, 7);
	model_free(&m);
}

/* A replayed event goes to the log but leaves the state read at the stream's start. */
static void test_replayed_events_are_history(void **state)
{
	const struct eventlist_entry *ev[4];
	struct model m;

	(void)state;
	load(&m);
	assert_int_equal(model_spot_look(&m, idx(&m, 102)), MAPTEXT_SPOT_FREE);
	assert_int_equal(apply(&m, "{\"id\":40,\"site\":1,\"spot\":102,\"seq\":5,"
			       "\"time\":1800000000,\"kind\":\"unlocked\",\"replayed\":true}"),
			 SITEMAP_NONE);
	assert_int_equal(model_spot_look(&m, idx(&m, 102)), MAPTEXT_SPOT_FREE);
	assert_int_equal(eventlist_view(&m.events, ev, 4), 1);
	assert_string_equal(ev[0]->kind, "unlocked");
	/* "replayed": false, or a live one, is applied as ever. */
	assert_int_equal(apply(&m, "{\"id\":41,\"site\":1,\"spot\":102,\"seq\":6,"
			       "\"time\":1800000001,\"kind\":\"unlocked\",\"replayed\":false}"),
			 idx(&m, 102));
	assert_int_equal(model_spot_look(&m, idx(&m, 102)), MAPTEXT_SPOT_UNLOCKED);
	model_free(&m);
}

static void test_events_before_map(void **state)
{
	struct model m;
	json_object *site = parse(site_text);

	(void)state;
	model_init(&m);
	assert_int_equal(apply(&m, "{\"spot\":101,\"seq\":2,\"time\":5,\"kind\":\"locked\"}"),
			 SITEMAP_NONE);
	assert_int_equal(m.events.count, 1);
	assert_int_equal(model_set_site(&m, site), 0);
	assert_int_equal(m.events.count, 1); /* the log is kept */
	json_object_put(site);
	model_free(&m);
}

static void test_spots_list_says_key_out(void **state)
{
	struct model m;
	json_object *o;

	(void)state;
	load(&m);
	o = parse("{\"spots\":[{\"id\":101,\"site_id\":1,\"name\":\"B1-01\",\"taken\":true,"
		  "\"locked\":true,\"occupied\":false,\"online\":true,\"battery\":80},"
		  "{\"id\":555,\"taken\":true},{\"id\":\"x\"},7]}");
	assert_int_equal(model_set_spots(&m, o), 1);
	json_object_put(o);
	assert_int_equal(model_spot_look(&m, idx(&m, 101)), MAPTEXT_SPOT_KEYED);
	assert_int_equal(m.map.spots[idx(&m, 101)].state.battery, 80);
	o = parse("{\"nothing\":1}");
	assert_int_equal(model_set_spots(&m, o), 0);
	json_object_put(o);
	model_free(&m);
}

static void test_server_alarm_marks_spot(void **state)
{
	struct model m;
	json_object *o;

	(void)state;
	load(&m);
	o = parse("{\"site\":1,\"alarms\":[{\"id\":12,\"spot\":102,\"kind\":\"low_battery\","
		  "\"since\":1800000000,\"event_seq\":3}]}");
	model_set_alarms(&m, o);
	json_object_put(o);
	assert_true(m.alarms.known);
	assert_int_equal(model_spot_look(&m, idx(&m, 102)), MAPTEXT_SPOT_ALARM);
	assert_int_equal(model_spot_look(&m, idx(&m, 101)), MAPTEXT_SPOT_FREE);
	model_set_alarms(&m, NULL);
	assert_true(m.alarms.unsupported);
	assert_int_equal(model_spot_look(&m, idx(&m, 102)), MAPTEXT_SPOT_FREE);
	model_free(&m);
}

static void test_stale_until_fresh_map(void **state)
{
	struct model m;
	json_object *site = parse(site_text);

	(void)state;
	model_init(&m);
	/* Nothing shown yet: nothing stale. */
	model_set_link(&m, MODEL_DOWN, "refused", 2000, 100);
	assert_false(m.stale);
	assert_int_equal(m.link, MODEL_DOWN);
	assert_int_equal(m.link_since, 100);
	assert_int_equal(m.retry_ms, 2000);
	assert_string_equal(m.link_detail, "refused");
	assert_int_equal(model_set_site(&m, site), 0);
	model_set_link(&m, MODEL_LIVE, "", 0, 110);
	assert_false(m.stale);
	/* Lost: the last known map stays, marked stale, also while connecting again. */
	model_set_link(&m, MODEL_DOWN, "The server ended the event stream.", 500, 120);
	assert_true(m.stale);
	assert_true(m.have_map);
	model_set_link(&m, MODEL_CONNECTING, "", 0, 121);
	assert_true(m.stale);
	assert_int_equal(m.link_since, 121);
	model_set_link(&m, MODEL_CONNECTING, "", 0, 130);
	assert_int_equal(m.link_since, 121); /* unchanged link, unchanged time */
	/* A fresh map ends it. */
	assert_int_equal(model_set_site(&m, site), 0);
	assert_false(m.stale);
	json_object_put(site);
	model_free(&m);
}

static void test_selection_moves(void **state)
{
	struct model m;

	(void)state;
	model_init(&m);
	assert_false(model_move(&m, 1, 0)); /* no map */
	assert_false(model_level_step(&m, 1));
	assert_null(model_selected(&m));
	model_free(&m);
	load(&m);
	/* The first arrow selects the level's first spot (north-west first). */
	assert_true(model_move(&m, 1, 0));
	assert_string_equal(model_selected(&m)->name, "B1-01");
	assert_true(model_move(&m, 1, 0));
	assert_string_equal(model_selected(&m)->name, "B1-02");
	assert_true(model_move(&m, 1, 0));
	assert_string_equal(model_selected(&m)->name, "东区-03");
	assert_false(model_move(&m, 1, 0)); /* nothing further east */
	assert_true(model_move(&m, -1, 0));
	assert_string_equal(model_selected(&m)->name, "B1-02");
	assert_false(model_move(&m, 0, 1)); /* nothing north */
	/* Levels: the other level's first spot; no level past the ends. */
	assert_true(model_level_step(&m, 1));
	assert_int_equal(m.level, 1);
	assert_string_equal(model_selected(&m)->name, "B2-01");
	assert_false(model_level_step(&m, 1));
	assert_true(model_level_step(&m, -1));
	assert_false(model_level_step(&m, -1));
	assert_int_equal(m.level, 0);
	assert_string_equal(model_selected(&m)->name, "B1-01");
	model_select(&m, 99); /* out of range: nothing */
	assert_string_equal(model_selected(&m)->name, "B1-01");
	model_free(&m);
}

static void test_selection_survives_new_map(void **state)
{
	struct model m;
	json_object *site = parse(site_text);

	(void)state;
	load(&m);
	model_select(&m, idx(&m, 201));
	assert_int_equal(m.level, 1);
	assert_int_equal(model_set_site(&m, site), 0);
	assert_int_equal(m.level, 1);
	assert_string_equal(model_selected(&m)->name, "B2-01");
	json_object_put(site);
	model_free(&m);
}

static void test_find(void **state)
{
	struct model m;

	(void)state;
	load(&m);
	m.map.spots[idx(&m, 102)].owner_id = 42;
	assert_int_equal(model_find(&m, "b1-02"), idx(&m, 102));   /* case ignored */
	assert_int_equal(model_find(&m, "东区"), idx(&m, 103));     /* Chinese */
	assert_int_equal(model_find(&m, "201"), idx(&m, 201));     /* a number */
	assert_int_equal(model_find(&m, "owner:42"), idx(&m, 102));
	assert_int_equal(model_find(&m, "42"), idx(&m, 102));      /* a bare owner */
	assert_int_equal(model_find(&m, "owner:43"), SITEMAP_NONE);
	assert_int_equal(model_find(&m, "owner:x"), SITEMAP_NONE);
	assert_int_equal(model_find(&m, "C9"), SITEMAP_NONE);
	assert_int_equal(model_find(&m, ""), SITEMAP_NONE);
	assert_int_equal(model_find(&m, "  "), SITEMAP_NONE);
	assert_int_equal(model_find(&m, NULL), SITEMAP_NONE);
	/* Again: the next match after the selection, wrapping round. */
	model_select(&m, model_find(&m, "B1"));
	assert_string_equal(model_selected(&m)->name, "B1-01");
	model_select(&m, model_find(&m, "B1"));
	assert_string_equal(model_selected(&m)->name, "B1-02");
	model_select(&m, model_find(&m, "B1"));
	assert_string_equal(model_selected(&m)->name, "B1-01");
	model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_site_taken),
		cmocka_unit_test(test_bad_site_keeps_old_map),
		cmocka_unit_test(test_events_change_looks_and_log),
		cmocka_unit_test(test_replayed_events_are_history),
		cmocka_unit_test(test_events_before_map),
		cmocka_unit_test(test_spots_list_says_key_out),
		cmocka_unit_test(test_server_alarm_marks_spot),
		cmocka_unit_test(test_stale_until_fresh_map),
		cmocka_unit_test(test_selection_moves),
		cmocka_unit_test(test_selection_survives_new_map),
		cmocka_unit_test(test_find),
	};

	setlocale(LC_ALL, "C.UTF-8");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
