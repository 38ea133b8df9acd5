/*
 * test-sitemap.c: lib/sitemap through its public API: the demo site parses with its
 * levels, nodes, lanes and spots; a server-style map carries live state and Chinese
 * names unchanged; every malformed member is refused with an error naming it and the
 * output left as it was; a spot map marks its spot and holds its routes; live events
 * and states change exactly what they say, and bad ones change nothing; arrow-key
 * neighbours; lookups on 2,500 spots.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/sitemap.h"

#define DEMO_SITE "assets/demo/site.json"

/* A small map as the server sends it: two levels, a ramp, two spots with live state. */
static const char base_map[] =
	"{\"site_id\":1,\"name\":\"T\",\"levels\":["
	"{\"id\":\"B1\",\"name\":\"Basement 1\",\"width\":60,\"height\":24},"
	"{\"id\":\"B2\",\"name\":\"Basement 2\",\"width\":30.5,\"height\":20}],"
	"\"nodes\":[{\"id\":\"E\",\"level\":\"B1\",\"x\":0,\"y\":12,\"kind\":\"entrance\"},"
	"{\"id\":\"X\",\"level\":\"B1\",\"x\":60,\"y\":12,\"kind\":\"exit\"},"
	"{\"id\":\"J1\",\"level\":\"B1\",\"x\":5.0,\"y\":12.0,\"kind\":\"junction\"},"
	"{\"id\":\"J2\",\"level\":\"B2\",\"x\":5,\"y\":10,\"kind\":\"junction\"}],"
	"\"lanes\":[[\"E\",\"J1\"],[\"J1\",\"X\"],[\"J1\",\"J2\"]],"
	"\"spots\":[{\"id\":201,\"name\":\"B2-01\",\"level\":\"B2\",\"x\":5,\"y\":4,\"node\":\"J2\","
	"\"policy\":\"anyone\",\"locked\":null,\"occupied\":null,\"battery\":null,\"online\":false,"
	"\"last_event_at\":null},"
	"{\"id\":101,\"name\":\"B1-01\",\"level\":\"B1\",\"x\":5,\"y\":20,\"node\":\"J1\","
	"\"policy\":\"anyone\",\"locked\":true,\"occupied\":false,\"battery\":80,\"online\":true,"
	"\"last_event_at\":1800000000}],"
	"\"gateways\":[{\"id\":1,\"name\":\"gw\",\"covers\":[101,201]}]}";

/* The routes of spot 101 in base_map. */
static const char base_routes[] =
	"{\"in\":{\"nodes\":[\"E\",\"J1\"],\"points\":[{\"level\":\"B1\",\"x\":0,\"y\":12},"
	"{\"level\":\"B1\",\"x\":5,\"y\":12},{\"level\":\"B1\",\"x\":5,\"y\":20}],\"length_m\":13,"
	"\"sentences\":[\"Start at the entrance.\",\"到达车位 B1-01。\"]},"
	"\"out\":{\"nodes\":[\"J1\",\"X\"],\"points\":[{\"level\":\"B1\",\"x\":5,\"y\":20},"
	"{\"level\":\"B1\",\"x\":5,\"y\":12},{\"level\":\"B1\",\"x\":60,\"y\":12}],\"length_m\":63,"
	"\"sentences\":[\"Drive east 55 m to the exit.\"]}}";

/* text with the first `needle` replaced by `with`, parsed; the test fails if absent. */
static json_object *parse_edited(const char *text, const char *needle, const char *with)
{
	const char *at = strstr(text, needle);
	size_t head, len;
	char *buf;
	json_object *o;

	assert_non_null(at);
	head = (size_t)(at - text);
	len = strlen(text) - strlen(needle) + strlen(with);
	buf = malloc(len + 1);
	assert_non_null(buf);
	memcpy(buf, text, head);
	memcpy(buf + head, with, strlen(with));
	strcpy(buf + head + strlen(with), at + strlen(needle));
	o = json_tokener_parse(buf);
	free(buf);
	assert_non_null(o);
	return o;
}

static json_object *spot_map_of(json_object *map, const char *spot, const char *routes)
{
	json_object *root = json_object_new_object();

	json_object_object_add(root, "spot", json_tokener_parse(spot));
	json_object_object_add(root, "map", map);
	json_object_object_add(root, "routes", json_tokener_parse(routes));
	return root;
}

static void parse_base(struct sitemap *m)
{
	json_object *o = json_tokener_parse(base_map);
	char err[256] = "";

	assert_non_null(o);
	assert_int_equal(sitemap_parse_site(o, m, err, sizeof(err)), 0);
	json_object_put(o);
}

/* ---- the demo site ---- */

static void test_demo_site(void **state)
{
	json_object *o = json_object_from_file(DEMO_SITE);
	struct sitemap m;
	char err[256] = "";
	const size_t *list;
	size_t i, n, e;

	(void)state;
	assert_non_null(o);
	assert_int_equal(sitemap_parse_site(o, &m, err, sizeof(err)), 0);
	json_object_put(o);
	assert_int_equal(m.site_id, 1);
	assert_string_equal(m.name, "Demo garage");
	assert_int_equal(m.nlevels, 2);
	assert_string_equal(m.levels[0].id, "B1");
	assert_string_equal(m.levels[1].name, "Basement 2");
	assert_true(m.levels[0].width == 60.0 && m.levels[0].height == 24.0);
	assert_int_equal(m.nnodes, 24);
	assert_int_equal(m.nlanes, 23);
	assert_int_equal(m.nspots, 40);
	for (i = 1; i < m.nspots; i++)
		assert_true(m.spots[i - 1].id < m.spots[i].id);
	e = sitemap_node_find(&m, "E");
	assert_int_not_equal(e, SITEMAP_NONE);
	assert_int_equal(m.nodes[e].kind, SITEMAP_ENTRANCE);
	assert_int_equal(m.nodes[sitemap_node_find(&m, "X")].kind, SITEMAP_EXIT);
	assert_int_equal(sitemap_node_find(&m, "Q"), SITEMAP_NONE);
	i = sitemap_spot_find(&m, 105);
	assert_string_equal(m.spots[i].name, "B1-05");
	assert_int_equal(sitemap_spot_find_name(&m, "B2-20"), sitemap_spot_find(&m, 220));
	assert_int_equal(sitemap_spot_find(&m, 999), SITEMAP_NONE);
	assert_int_equal(sitemap_spot_find_name(&m, "B9-01"), SITEMAP_NONE);
	assert_int_equal(sitemap_level_find(&m, "B2"), 1);
	assert_int_equal(sitemap_level_find(&m, "B3"), SITEMAP_NONE);
	/* No live state in a site description: all unknown. */
	assert_int_equal(m.spots[i].state.locked, SITEMAP_UNKNOWN);
	assert_int_equal(m.spots[i].state.battery, -1);
	assert_int_equal(m.spots[i].state.last_event_at, -1);
	assert_int_equal(m.marked, SITEMAP_NONE);
	assert_false(m.route_in.present);
	/* B1 in reading order: the north row west to east, then the south row. */
	list = sitemap_level_spots(&m, 0, &n);
	assert_int_equal(n, 20);
	assert_string_equal(m.spots[list[0]].name, "B1-01");
	for (i = 1; i < 10; i++)
		assert_true(m.spots[list[i]].y == 20 && m.spots[list[i]].x > m.spots[list[i - 1]].x);
	for (; i < 20; i++)
		assert_true(m.spots[list[i]].y == 4 && m.spots[list[i]].level == 0);
	assert_null(sitemap_level_spots(&m, 2, &n));
	assert_int_equal(n, 0);
	sitemap_free(&m);
	assert_null(m.spots);
}

static void test_server_map(void **state)
{
	struct sitemap m;
	size_t a, b;

	(void)state;
	parse_base(&m);
	a = sitemap_spot_find(&m, 101);
	b = sitemap_spot_find(&m, 201);
	assert_int_equal(a, 0); /* sorted by ID, whatever the order given */
	assert_int_equal(m.spots[a].state.locked, SITEMAP_YES);
	assert_int_equal(m.spots[a].state.occupied, SITEMAP_NO);
	assert_int_equal(m.spots[a].state.online, SITEMAP_YES);
	assert_int_equal(m.spots[a].state.taken, SITEMAP_UNKNOWN);
	assert_int_equal(m.spots[a].state.battery, 80);
	assert_int_equal(m.spots[a].state.last_event_at, 1800000000);
	assert_int_equal(m.spots[b].state.locked, SITEMAP_UNKNOWN);
	assert_int_equal(m.spots[b].state.online, SITEMAP_NO);
	assert_int_equal(m.spots[b].state.battery, -1);
	assert_true(m.levels[1].width == 30.5);
	assert_int_equal(m.nodes[m.spots[b].node].level, 1);
	assert_int_equal(m.nodes[m.lanes[2].a].level != m.nodes[m.lanes[2].b].level, 1);
	sitemap_free(&m);
}

static void test_chinese_names(void **state)
{
	json_object *o = parse_edited(base_map, "\"name\":\"B1-01\"",
				      "\"name\":\"车位<1>&\\\"一\\\"\"");
	json_object *p;
	struct sitemap m;
	char err[256] = "";

	(void)state;
	p = parse_edited(json_object_to_json_string(o), "\"Basement 1\"", "\"地下一层\"");
	json_object_put(o);
	assert_int_equal(sitemap_parse_site(p, &m, err, sizeof(err)), 0);
	json_object_put(p);
	assert_string_equal(m.spots[0].name, "车位<1>&\"一\"");
	assert_string_equal(m.levels[0].name, "地下一层");
	assert_int_equal(sitemap_spot_find_name(&m, "车位<1>&\"一\""), 0);
	sitemap_free(&m);
}

/* ---- refusals ---- */

struct bad_case {
	const char *needle, *with;
	int error;
	const char *says; /* a part of the error sentence */
};

static const struct bad_case bad_sites[] = {
	{ "\"site_id\":1,", "", -SITEMAP_E_INVALID, "site_id is missing" },
	{ "\"site_id\":1", "\"site_id\":\"1\"", -SITEMAP_E_INVALID, "site_id" },
	{ "\"name\":\"T\"", "\"name\":\"\"", -SITEMAP_E_INVALID, "map.name" },
	{ "\"levels\":[", "\"levels\":{},\"x\":[", -SITEMAP_E_INVALID, "levels must be an array" },
	{ "\"width\":60", "\"width\":-1", -SITEMAP_E_INVALID, "levels[0].width" },
	{ "\"width\":60", "\"width\":0", -SITEMAP_E_INVALID, "levels[0]" },
	{ "\"height\":24", "\"height\":\"24\"", -SITEMAP_E_INVALID, "levels[0].height" },
	{ "\"width\":60", "\"width\":NaN", -SITEMAP_E_INVALID, "levels[0].width" },
	{ "\"id\":\"B2\"", "\"id\":\"B1\"", -SITEMAP_E_DUPLICATE, "level \"B1\"" },
	{ "{\"id\":\"B1\",", "{", -SITEMAP_E_INVALID, "levels[0].id is missing" },
	{ "\"level\":\"B2\",\"x\":5,\"y\":10", "\"level\":\"B9\",\"x\":5,\"y\":10",
	  -SITEMAP_E_REFERENCE, "nodes[3].level: \"B9\"" },
	{ "\"x\":60,", "\"x\":60.5,", -SITEMAP_E_INVALID, "nodes[1]" },
	{ "\"x\":0,", "\"x\":-0.01,", -SITEMAP_E_INVALID, "nodes[0]" },
	{ "\"kind\":\"exit\"", "\"kind\":\"door\"", -SITEMAP_E_INVALID, "nodes[1].kind" },
	{ "\"kind\":\"exit\"", "\"kind\":7", -SITEMAP_E_INVALID, "nodes[1].kind" },
	{ "\"id\":\"J2\"", "\"id\":\"J1\"", -SITEMAP_E_DUPLICATE, "node \"J1\"" },
	{ "\"nodes\":[", "\"nodes\":[7,", -SITEMAP_E_INVALID, "nodes[0] must be an object" },
	{ "[\"J1\",\"J2\"]", "[\"J1\",\"J9\"]", -SITEMAP_E_REFERENCE, "lanes[2]: \"J9\"" },
	{ "[\"J1\",\"X\"]", "[\"J1\",\"J1\"]", -SITEMAP_E_INVALID, "lanes[1]" },
	{ "[\"E\",\"J1\"]", "[\"E\"]", -SITEMAP_E_INVALID, "lanes[0] must be two node IDs" },
	{ "[\"E\",\"J1\"]", "[\"E\",1]", -SITEMAP_E_INVALID, "lanes[0]" },
	{ "\"lanes\":[", "\"lanes\":null,\"x\":[", -SITEMAP_E_INVALID, "lanes is missing" },
	{ "\"id\":201", "\"id\":0", -SITEMAP_E_INVALID, "spots[0].id" },
	{ "\"id\":201", "\"id\":4294967296", -SITEMAP_E_INVALID, "spots[0].id" },
	{ "\"id\":201", "\"id\":201.5", -SITEMAP_E_INVALID, "spots[0].id" },
	{ "\"id\":201", "\"id\":\"201\"", -SITEMAP_E_INVALID, "spots[0].id" },
	{ "\"id\":201", "\"id\":101", -SITEMAP_E_DUPLICATE, "spot ID \"101\"" },
	{ "\"name\":\"B2-01\"", "\"name\":\"B1-01\"", -SITEMAP_E_DUPLICATE, "spot name \"B1-01\"" },
	{ "\"name\":\"B2-01\"", "\"name\":\"B2\\u000101\"", -SITEMAP_E_INVALID, "spots[0].name" },
	{ "\"name\":\"B2-01\"", "\"name\":\"B2\\u0000\"", -SITEMAP_E_INVALID, "spots[0].name" },
	{ "\"name\":\"B2-01\"", "\"name\":\"B2\xff\"", -SITEMAP_E_INVALID, "spots[0].name" },
	{ "\"name\":\"B2-01\"", "\"name\":\"B2\xed\xa0\x80\"", -SITEMAP_E_INVALID,
	  "spots[0].name" },
	{ "\"name\":\"B2-01\"",
	  "\"name\":\"12345678901234567890123456789012345678901234567890123456789012345\"",
	  -SITEMAP_E_INVALID, "spots[0].name" },
	{ "\"level\":\"B1\",\"x\":5,\"y\":20", "\"level\":\"B3\",\"x\":5,\"y\":20",
	  -SITEMAP_E_REFERENCE, "spots[1].level: \"B3\"" },
	{ "\"x\":5,\"y\":20", "\"x\":5,\"y\":24.01", -SITEMAP_E_INVALID, "spots[1]" },
	{ "\"x\":5,\"y\":20", "\"x\":-5,\"y\":20", -SITEMAP_E_INVALID, "spots[1]" },
	{ "\"x\":5,\"y\":20", "\"x\":NaN,\"y\":20", -SITEMAP_E_INVALID, "spots[1]" },
	{ "\"x\":5,\"y\":20", "\"x\":Infinity,\"y\":20", -SITEMAP_E_INVALID, "spots[1]" },
	{ "\"x\":5,\"y\":20", "\"x\":\"5\",\"y\":20", -SITEMAP_E_INVALID, "spots[1]" },
	{ "\"node\":\"J1\"", "\"node\":\"J2\"", -SITEMAP_E_REFERENCE, "spots[1].node: \"J2\"" },
	{ "\"node\":\"J1\"", "\"node\":\"J7\"", -SITEMAP_E_REFERENCE, "spots[1].node" },
	{ "\"node\":\"J1\",", "", -SITEMAP_E_INVALID, "spots[1].node is missing" },
	{ "\"locked\":true", "\"locked\":1", -SITEMAP_E_INVALID, "spots[1].locked" },
	{ "\"online\":false", "\"online\":\"no\"", -SITEMAP_E_INVALID, "spots[0].online" },
	{ "\"battery\":80", "\"battery\":101", -SITEMAP_E_INVALID, "spots[1].battery" },
	{ "\"battery\":80", "\"battery\":80.5", -SITEMAP_E_INVALID, "spots[1].battery" },
	{ "\"last_event_at\":1800000000", "\"last_event_at\":-1", -SITEMAP_E_INVALID,
	  "spots[1].last_event_at" },
	{ "\"spots\":[", "\"spots\":[],\"x\":[", -SITEMAP_E_INVALID, "spots must have 1" },
};

/* A struct sitemap full of a pattern: a refused parse must leave it so. */
static void fill_pattern(struct sitemap *m)
{
	memset(m, 0xa5, sizeof(*m));
}

static void assert_pattern(const struct sitemap *m)
{
	struct sitemap p;

	fill_pattern(&p);
	assert_memory_equal(m, &p, sizeof(p));
}

static void test_bad_sites(void **state)
{
	struct sitemap m;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_sites) / sizeof(bad_sites[0]); i++) {
		json_object *o = parse_edited(base_map, bad_sites[i].needle, bad_sites[i].with);
		int r;

		fill_pattern(&m);
		err[0] = '\0';
		r = sitemap_parse_site(o, &m, err, sizeof(err));
		json_object_put(o);
		if (r != bad_sites[i].error || strstr(err, bad_sites[i].says) == NULL)
			fail_msg("case %zu (%s): got %d \"%s\", want %d \"%s\"", i, bad_sites[i].with,
				 r, err, bad_sites[i].error, bad_sites[i].says);
		assert_pattern(&m);
	}
}

static void test_not_a_map(void **state)
{
	json_object *arr = json_object_new_array();
	struct sitemap m;
	char err[64] = "";

	(void)state;
	fill_pattern(&m);
	assert_int_equal(sitemap_parse_site(arr, &m, err, sizeof(err)), -SITEMAP_E_INVALID);
	assert_int_equal(sitemap_parse_site(NULL, &m, NULL, 0), -SITEMAP_E_INVALID);
	assert_int_equal(sitemap_parse_spot_map(arr, &m, err, sizeof(err)), -SITEMAP_E_INVALID);
	assert_pattern(&m);
	json_object_put(arr);
	/* A short error buffer is cut, never overrun. */
	arr = parse_edited(base_map, "\"kind\":\"exit\"", "\"kind\":\"door\"");
	memset(err, 'z', sizeof(err));
	assert_int_equal(sitemap_parse_site(arr, &m, err, 8), -SITEMAP_E_INVALID);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(err[8], 'z');
	json_object_put(arr);
}

/* ---- spot maps ---- */

static const char base_spot[] = "{\"id\":101,\"name\":\"B1-01\",\"locked\":false,"
				"\"occupied\":false,\"battery\":77,\"online\":true,\"taken\":true}";

static void test_spot_map(void **state)
{
	json_object *root = spot_map_of(json_tokener_parse(base_map), base_spot, base_routes);
	struct sitemap m;
	char err[256] = "";
	size_t s;

	(void)state;
	assert_int_equal(sitemap_parse_spot_map(root, &m, err, sizeof(err)), 0);
	json_object_put(root);
	s = sitemap_spot_find(&m, 101);
	assert_int_equal(m.marked, s);
	assert_int_equal(m.spots[s].state.taken, SITEMAP_YES);
	assert_int_equal(m.spots[s].state.locked, SITEMAP_NO);
	assert_int_equal(m.spots[s].state.battery, 77);
	assert_true(m.route_in.present && m.route_out.present);
	assert_int_equal(m.route_in.nnodes, 2);
	assert_int_equal(m.route_in.nodes[0], sitemap_node_find(&m, "E"));
	assert_int_equal(m.route_in.npoints, 3);
	assert_int_equal(m.route_in.points[2].level, 0);
	assert_true(m.route_in.points[2].x == 5 && m.route_in.points[2].y == 20);
	assert_true(m.route_in.length_m == 13);
	assert_int_equal(m.route_in.nsentences, 2);
	assert_string_equal(m.route_in.sentences[1], "到达车位 B1-01。");
	assert_true(m.route_out.length_m == 63);
	assert_int_equal(m.route_out.nsentences, 1);
	sitemap_free(&m);
	assert_int_equal(m.marked, SITEMAP_NONE);
}

static const struct bad_case bad_spot_maps[] = {
	{ "\"in\":{\"nodes\":[\"E\"", "\"in\":{\"nodes\":[\"Q\"", -SITEMAP_E_REFERENCE,
	  "routes.in.nodes[0]: \"Q\"" },
	{ "\"in\":{\"nodes\":[\"E\"", "\"in\":{\"nodes\":[5", -SITEMAP_E_INVALID,
	  "routes.in.nodes[0]" },
	{ "{\"level\":\"B1\",\"x\":0,\"y\":12}", "{\"level\":\"B7\",\"x\":0,\"y\":12}",
	  -SITEMAP_E_REFERENCE, "routes.in.points[0].level" },
	{ "{\"level\":\"B1\",\"x\":0,\"y\":12}", "{\"level\":\"B1\",\"x\":0,\"y\":25}",
	  -SITEMAP_E_INVALID, "routes.in.points[0]" },
	{ "{\"level\":\"B1\",\"x\":0,\"y\":12}", "{\"level\":\"B1\",\"x\":0}", -SITEMAP_E_INVALID,
	  "routes.in.points[0]" },
	{ "{\"level\":\"B1\",\"x\":0,\"y\":12}", "[]", -SITEMAP_E_INVALID,
	  "routes.in.points[0] must be an object" },
	{ "\"length_m\":63", "\"length_m\":-1", -SITEMAP_E_INVALID, "routes.out.length_m" },
	{ "\"length_m\":63", "\"length_m\":\"63\"", -SITEMAP_E_INVALID, "routes.out.length_m" },
	{ "\"sentences\":[\"Drive", "\"sentences\":[7,\"Drive", -SITEMAP_E_INVALID,
	  "routes.out.sentences[0]" },
	{ "\"sentences\":[\"Drive", "\"sentences\":[\"a\\nb\",\"Drive", -SITEMAP_E_INVALID,
	  "routes.out.sentences[0]" },
	{ "\"out\":{", "\"gone\":{", -SITEMAP_E_INVALID, "routes.out must be a route" },
	{ "\"points\":[{\"level\":\"B1\",\"x\":5,\"y\":20}", "\"points\":[],\"p\":[{\"level\":"
	  "\"B1\",\"x\":5,\"y\":20}", -SITEMAP_E_INVALID, "routes.out.points must have 1" },
};

static void check_bad_spot_map(json_object *root, const struct bad_case *c, size_t i)
{
	struct sitemap m;
	char err[256] = "";
	int r;

	fill_pattern(&m);
	r = sitemap_parse_spot_map(root, &m, err, sizeof(err));
	json_object_put(root);
	if (r != c->error || strstr(err, c->says) == NULL)
		fail_msg("case %zu (%s): got %d \"%s\", want %d \"%s\"", i, c->with, r, err,
			 c->error, c->says);
	assert_pattern(&m);
}

static void test_bad_spot_maps(void **state)
{
	const struct bad_case others[] = {
		{ "", "", -SITEMAP_E_REFERENCE, "spot.id: 999 is not a spot" },
		{ "", "", -SITEMAP_E_INVALID, "spot.taken" },
		{ "", "", -SITEMAP_E_INVALID, "routes must be an object" },
		{ "", "", -SITEMAP_E_INVALID, "map.name" },
	};
	json_object *root, *bad;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_spot_maps) / sizeof(bad_spot_maps[0]); i++) {
		json_object *routes = parse_edited(base_routes, bad_spot_maps[i].needle,
						   bad_spot_maps[i].with);

		root = spot_map_of(json_tokener_parse(base_map), base_spot, "{}");
		json_object_object_add(root, "routes", routes);
		check_bad_spot_map(root, &bad_spot_maps[i], i);
	}
	check_bad_spot_map(spot_map_of(json_tokener_parse(base_map), "{\"id\":999}", base_routes),
			   &others[0], 100);
	check_bad_spot_map(spot_map_of(json_tokener_parse(base_map), "{\"id\":101,\"taken\":3}",
				       base_routes), &others[1], 101);
	root = spot_map_of(json_tokener_parse(base_map), base_spot, base_routes);
	json_object_object_del(root, "routes");
	check_bad_spot_map(root, &others[2], 102);
	bad = parse_edited(base_map, "\"name\":\"T\"", "\"name\":5");
	check_bad_spot_map(spot_map_of(bad, base_spot, base_routes), &others[3], 103);
}

/* ---- live updates ---- */

static long update(struct sitemap *m, int64_t spot, const char *json)
{
	json_object *o = json_tokener_parse(json);
	long r;

	assert_non_null(o);
	r = sitemap_spot_update(m, spot, o);
	json_object_put(o);
	return r;
}

static void test_events(void **state)
{
	struct sitemap m;
	const struct sitemap_state *st;
	long i;

	(void)state;
	parse_base(&m);
	i = update(&m, 101, "{\"site\":1,\"spot\":101,\"seq\":3,\"time\":1800000100,"
			    "\"kind\":\"unlocked\",\"arg8\":1,\"arg16\":1,\"user_id\":42,\"key_id\":9,"
			    "\"received_at\":1800000101}");
	assert_int_equal(i, sitemap_spot_find(&m, 101));
	st = &m.spots[i].state;
	assert_int_equal(st->locked, SITEMAP_NO);
	assert_int_equal(st->last_event_at, 1800000101);
	assert_int_equal(st->event_seq, 3);
	assert_int_equal(update(&m, 101, "{\"seq\":4,\"kind\":\"car_arrived\"}"), i);
	assert_int_equal(st->occupied, SITEMAP_YES);
	assert_int_equal(update(&m, 101, "{\"seq\":5,\"kind\":\"car_left\"}"), i);
	assert_int_equal(st->occupied, SITEMAP_NO);
	assert_int_equal(update(&m, 101, "{\"seq\":6,\"kind\":\"locked\"}"), i);
	assert_int_equal(st->locked, SITEMAP_YES);
	assert_int_equal(update(&m, 101, "{\"seq\":7,\"kind\":\"forced\",\"time\":1800000200}"), i);
	assert_int_equal(st->locked, SITEMAP_NO);
	assert_int_equal(st->alarm, SITEMAP_ALARM_FORCED);
	assert_int_equal(st->alarm_at, 1800000200);
	assert_int_equal(update(&m, 101, "{\"seq\":8,\"kind\":\"locked\"}"), i);
	assert_int_equal(st->alarm, SITEMAP_ALARM_NONE);
	assert_int_equal(update(&m, 101, "{\"seq\":9,\"kind\":\"jammed\",\"arg8\":2}"), i);
	assert_int_equal(st->alarm, SITEMAP_ALARM_JAMMED);
	sitemap_spot_clear_alarm(&m, (size_t)i);
	assert_int_equal(st->alarm, SITEMAP_ALARM_NONE);
	assert_int_equal(update(&m, 101, "{\"seq\":10,\"kind\":\"lockout\",\"arg16\":5}"), i);
	assert_int_equal(st->alarm, SITEMAP_ALARM_LOCKOUT);
	assert_int_equal(update(&m, 101, "{\"seq\":11,\"kind\":\"low_battery\",\"arg16\":9}"), i);
	assert_int_equal(st->battery, 9);
	assert_int_equal(update(&m, 101, "{\"seq\":12,\"kind\":\"boot\",\"arg8\":1,\"arg16\":95}"),
			 i);
	assert_int_equal(st->locked, SITEMAP_NO);
	assert_int_equal(st->battery, 95);
	assert_int_equal(update(&m, 101, "{\"seq\":13,\"kind\":\"mgmt\"}"), i);
	assert_int_equal(update(&m, 101, "{\"seq\":14,\"kind\":\"time_set\"}"), i);
	assert_int_equal(st->event_seq, 14);
	assert_int_equal(update(&m, 101, "{\"site\":1,\"spot\":101,\"kind\":\"offline\","
					 "\"gateway\":1,\"received_at\":1800000300}"), i);
	assert_int_equal(st->online, SITEMAP_NO);
	assert_int_equal(update(&m, 101, "{\"kind\":\"online\"}"), i);
	assert_int_equal(st->online, SITEMAP_YES);
	sitemap_free(&m);
}

static void test_stale_event(void **state)
{
	struct sitemap m;
	const struct sitemap_state *st;
	long i;

	(void)state;
	parse_base(&m);
	i = update(&m, 201, "{\"seq\":20,\"kind\":\"locked\",\"received_at\":100}");
	assert_true(i >= 0);
	st = &m.spots[i].state;
	assert_int_equal(st->online, SITEMAP_YES); /* the map said offline; it was heard from */
	/* A late event (seq 19) is stored but does not undo the newer state. */
	assert_int_equal(update(&m, 201, "{\"seq\":19,\"kind\":\"forced\",\"received_at\":200}"), i);
	assert_int_equal(st->locked, SITEMAP_YES);
	assert_int_equal(st->alarm, SITEMAP_ALARM_NONE);
	assert_int_equal(st->last_event_at, 200);
	assert_int_equal(st->event_seq, 20);
	sitemap_free(&m);
}

static void test_state_update(void **state)
{
	struct sitemap m;
	const struct sitemap_state *st;
	long i;

	(void)state;
	parse_base(&m);
	i = update(&m, 101, "{\"id\":101,\"locked\":false,\"taken\":true,\"battery\":null}");
	assert_true(i >= 0);
	st = &m.spots[i].state;
	assert_int_equal(st->locked, SITEMAP_NO);
	assert_int_equal(st->taken, SITEMAP_YES);
	assert_int_equal(st->battery, -1);
	assert_int_equal(st->occupied, SITEMAP_NO); /* absent: unchanged */
	assert_int_equal(st->last_event_at, 1800000000);
	assert_int_equal(update(&m, 101, "{\"occupied\":null,\"last_event_at\":5}"), i);
	assert_int_equal(st->occupied, SITEMAP_UNKNOWN);
	assert_int_equal(st->last_event_at, 5);
	sitemap_free(&m);
}

static void test_bad_updates(void **state)
{
	static const struct {
		const char *json;
		long error;
	} bad[] = {
		{ "{\"kind\":\"exploded\",\"seq\":30}", -SITEMAP_E_KIND },
		{ "{\"kind\":5}", -SITEMAP_E_INVALID },
		{ "{\"kind\":null}", -SITEMAP_E_INVALID },
		{ "{\"kind\":\"locked\",\"spot\":201}", -SITEMAP_E_INVALID },
		{ "{\"kind\":\"locked\",\"seq\":\"30\"}", -SITEMAP_E_INVALID },
		{ "{\"kind\":\"locked\",\"seq\":0}", -SITEMAP_E_INVALID },
		{ "{\"kind\":\"low_battery\",\"arg16\":70000}", -SITEMAP_E_INVALID },
		{ "{\"kind\":\"boot\",\"arg8\":-1}", -SITEMAP_E_INVALID },
		{ "{\"kind\":\"unlocked\",\"received_at\":1.5}", -SITEMAP_E_INVALID },
		{ "{\"locked\":\"yes\"}", -SITEMAP_E_INVALID },
		{ "{\"locked\":false,\"battery\":200}", -SITEMAP_E_INVALID },
		{ "{\"locked\":false,\"last_event_at\":\"x\"}", -SITEMAP_E_INVALID },
		{ "{\"id\":201,\"locked\":false}", -SITEMAP_E_INVALID },
		{ "[]", -SITEMAP_E_INVALID },
	};
	struct sitemap m;
	struct sitemap_state before;
	size_t i, s;

	(void)state;
	parse_base(&m);
	s = sitemap_spot_find(&m, 101);
	before = m.spots[s].state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (update(&m, 101, bad[i].json) != bad[i].error)
			fail_msg("case %zu: %s", i, bad[i].json);
		assert_memory_equal(&m.spots[s].state, &before, sizeof(before));
	}
	assert_int_equal(update(&m, 999, "{\"kind\":\"locked\"}"), -SITEMAP_E_NOT_FOUND);
	assert_int_equal(sitemap_spot_update(&m, 101, NULL), -SITEMAP_E_INVALID);
	assert_memory_equal(&m.spots[s].state, &before, sizeof(before));
	sitemap_free(&m);
}

/* ---- arrow keys ---- */

static size_t spot_at(const struct sitemap *m, size_t level, double x, double y)
{
	size_t i;

	for (i = 0; i < m->nspots; i++)
		if (m->spots[i].level == level && m->spots[i].x == x && m->spots[i].y == y)
			return i;
	fail_msg("no spot at %g,%g", x, y);
	return SITEMAP_NONE;
}

static void test_neighbour(void **state)
{
	json_object *o = json_object_from_file(DEMO_SITE);
	struct sitemap m;
	char err[256] = "";
	size_t a;

	(void)state;
	assert_int_equal(sitemap_parse_site(o, &m, err, sizeof(err)), 0);
	json_object_put(o);
	a = spot_at(&m, 0, 5, 20);
	assert_int_equal(sitemap_spot_neighbour(&m, a, 1, 0), spot_at(&m, 0, 10, 20));
	assert_int_equal(sitemap_spot_neighbour(&m, a, -1, 0), SITEMAP_NONE);
	assert_int_equal(sitemap_spot_neighbour(&m, a, 0, 1), SITEMAP_NONE);
	assert_int_equal(sitemap_spot_neighbour(&m, a, 0, -1), spot_at(&m, 0, 5, 4));
	/* South-east: (20, 4) lies almost on the diagonal, (10, 20) exactly 45 degrees off. */
	assert_int_equal(sitemap_spot_neighbour(&m, a, 1, -1), spot_at(&m, 0, 20, 4));
	assert_int_equal(sitemap_spot_neighbour(&m, spot_at(&m, 0, 50, 4), 1, 0), SITEMAP_NONE);
	assert_int_equal(sitemap_spot_neighbour(&m, spot_at(&m, 0, 50, 4), 0, 1),
			 spot_at(&m, 0, 50, 20));
	/* Never onto another level, and nonsense in gives nothing out. */
	assert_int_equal(m.spots[sitemap_spot_neighbour(&m, spot_at(&m, 1, 25, 4), -1, 0)].level, 1);
	assert_int_equal(sitemap_spot_neighbour(&m, a, 0, 0), SITEMAP_NONE);
	assert_int_equal(sitemap_spot_neighbour(&m, a, 2, 0), SITEMAP_NONE);
	assert_int_equal(sitemap_spot_neighbour(&m, m.nspots, 1, 0), SITEMAP_NONE);
	sitemap_free(&m);
}

/* ---- many spots ---- */

/* A site of `n` (<= 2600) spots in rows of 50 on one 200 m x 100 m level. */
static json_object *big_site(size_t n)
{
	json_object *site = json_tokener_parse(
		"{\"site_id\":9,\"name\":\"Big\",\"levels\":[{\"id\":\"L\",\"name\":\"L\","
		"\"width\":200,\"height\":100}],\"nodes\":[{\"id\":\"E\",\"level\":\"L\",\"x\":0,"
		"\"y\":50,\"kind\":\"entrance\"},{\"id\":\"X\",\"level\":\"L\",\"x\":200,\"y\":50,"
		"\"kind\":\"exit\"}],\"lanes\":[[\"E\",\"X\"]]}");
	json_object *spots = json_object_new_array();
	char name[32];
	size_t i;

	for (i = 0; i < n; i++) {
		json_object *s = json_object_new_object();

		snprintf(name, sizeof(name), "S-%04zu", n - i); /* names in another order */
		json_object_object_add(s, "id", json_object_new_int64((int64_t)(1000 + i)));
		json_object_object_add(s, "name", json_object_new_string(name));
		json_object_object_add(s, "level", json_object_new_string("L"));
		json_object_object_add(s, "x", json_object_new_double(2.0 + (double)(i % 50) * 3.9));
		json_object_object_add(s, "y", json_object_new_double(1.0 + (double)(i / 50) * 1.9));
		json_object_object_add(s, "node", json_object_new_string(i % 2 ? "E" : "X"));
		json_object_object_add(s, "online", json_object_new_boolean(1));
		json_object_array_add(spots, s);
	}
	json_object_object_add(site, "spots", spots);
	return site;
}

static void test_many_spots(void **state)
{
	json_object *o = big_site(2500);
	struct sitemap m;
	char err[256] = "", name[32];
	size_t i, n;

	(void)state;
	assert_int_equal(sitemap_parse_site(o, &m, err, sizeof(err)), 0);
	json_object_put(o);
	assert_int_equal(m.nspots, 2500);
	for (i = 0; i < 2500; i++) {
		assert_int_equal(sitemap_spot_find(&m, (int64_t)(1000 + i)), i);
		snprintf(name, sizeof(name), "S-%04zu", 2500 - i);
		assert_int_equal(sitemap_spot_find_name(&m, name), i);
	}
	sitemap_level_spots(&m, 0, &n);
	assert_int_equal(n, 2500);
	sitemap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_site),
		cmocka_unit_test(test_server_map),
		cmocka_unit_test(test_chinese_names),
		cmocka_unit_test(test_bad_sites),
		cmocka_unit_test(test_not_a_map),
		cmocka_unit_test(test_spot_map),
		cmocka_unit_test(test_bad_spot_maps),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_stale_event),
		cmocka_unit_test(test_state_update),
		cmocka_unit_test(test_bad_updates),
		cmocka_unit_test(test_neighbour),
		cmocka_unit_test(test_many_spots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
