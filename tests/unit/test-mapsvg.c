/*
 * test-mapsvg.c: phone/mapsvg through its public API, on the demo site as a spot map of
 * B1-05 with its routes: the document is well-formed (xmllint --noout, when installed:
 * Debian libxml2-utils) side by side and stacked; it has both levels, every spot, the
 * marked one outlined, both routes; names with <, &, quotes and Chinese are escaped and
 * kept; numbers stay in the C locale; saving replaces a file whole, and a save that fails
 * leaves the old file and no temporary one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../phone/mapsvg.h"

#define DEMO_SITE "assets/demo/site.json"

static const char demo_routes[] =
	"{\"in\":{\"nodes\":[\"E\",\"B1-A25\"],"
	"\"points\":[{\"level\":\"B1\",\"x\":0,\"y\":12},{\"level\":\"B1\",\"x\":25,\"y\":12},"
	"{\"level\":\"B1\",\"x\":25,\"y\":20}],\"length_m\":33,\"sentences\":[\"In.\"]},"
	"\"out\":{\"nodes\":[\"B1-A25\",\"X\"],"
	"\"points\":[{\"level\":\"B1\",\"x\":25,\"y\":20},{\"level\":\"B1\",\"x\":25,\"y\":12},"
	"{\"level\":\"B1\",\"x\":60,\"y\":12}],\"length_m\":43,\"sentences\":[\"Out.\"]}}";

static void demo_map(struct sitemap *m)
{
	json_object *root = json_object_new_object();
	char err[256] = "";

	json_object_object_add(root, "map", json_object_from_file(DEMO_SITE));
	json_object_object_add(root, "spot", json_tokener_parse("{\"id\":105,\"locked\":true,"
								"\"occupied\":false,\"online\":true,\"taken\":false}"));
	json_object_object_add(root, "routes", json_tokener_parse(demo_routes));
	if (sitemap_parse_spot_map(root, m, err, sizeof(err)) != 0)
		fail_msg("demo spot map: %s", err);
	json_object_put(root);
}

static char *svg_string(const struct sitemap *m, const struct mapsvg_options *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(mapsvg_write(f, m, o), 0);
	fclose(f);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

/* A private directory for the files of one test, removed with what it holds. */
struct tmpdir {
	char path[64];
};

static void tmpdir_make(struct tmpdir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/test-mapsvg-XXXXXX");
	assert_non_null(mkdtemp(d->path));
}

static size_t tmpdir_entries(const struct tmpdir *d)
{
	DIR *dir = opendir(d->path);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(dir);
	return n;
}

static void tmpdir_remove(struct tmpdir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
}

static bool have_xmllint(void)
{
	return system("command -v xmllint >/dev/null 2>&1") == 0;
}

/* xmllint --noout on the file: true when it is well-formed XML. */
static bool well_formed(const char *path, bool quiet)
{
	char cmd[256];
	int st;

	snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'%s", path, quiet ? " 2>/dev/null" : "");
	st = system(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void save_and_lint(const struct sitemap *m, const struct mapsvg_options *o)
{
	struct tmpdir d;
	char path[96];

	tmpdir_make(&d);
	snprintf(path, sizeof(path), "%s/map.svg", d.path);
	assert_int_equal(mapsvg_save(path, m, o), 0);
	if (!well_formed(path, false))
		fail_msg("xmllint refused %s", path);
	tmpdir_remove(&d);
}

static void test_well_formed(void **state)
{
	struct mapsvg_options o = { NULL, false, 0 };
	struct tmpdir d;
	struct sitemap m;
	char path[96];
	FILE *f;

	(void)state;
	if (!have_xmllint())
		skip(); /* Debian: libxml2-utils (scripts/deps.sh test) */
	/* The checker must be able to say no. */
	tmpdir_make(&d);
	snprintf(path, sizeof(path), "%s/bad.svg", d.path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("<svg><text>a & b</text></svg>\n", f);
	fclose(f);
	assert_false(well_formed(path, true));
	tmpdir_remove(&d);
	demo_map(&m);
	save_and_lint(&m, &o);
	o.stacked = true;
	o.scale = 3.5;
	o.title = "Map <of> \"B1-05\" & 'more'";
	save_and_lint(&m, &o);
	snprintf(m.name, sizeof(m.name), "A<&>\"'车库");
	snprintf(m.spots[0].name, sizeof(m.spots[0].name), "<x&y>");
	snprintf(m.levels[1].name, sizeof(m.levels[1].name), "地下二层 & more");
	save_and_lint(&m, NULL);
	sitemap_free(&m);
}

static void test_content(void **state)
{
	struct sitemap m;
	char *svg;

	(void)state;
	demo_map(&m);
	svg = svg_string(&m, NULL);
	assert_true(strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"", 36) == 0);
	assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""));
	assert_non_null(strstr(svg, "<title>Demo garage \xe2\x80\x94 B1-05</title>"));
	assert_int_equal(count(svg, "<g class=\"level\""), 2);
	assert_int_equal(count(svg, "<g class=\"spot"), 40);
	assert_int_equal(count(svg, "<g class=\"spot marked\"><title>B1-05</title>"), 1);
	assert_int_equal(count(svg, "<g class=\"entrance\""), 1);
	assert_int_equal(count(svg, "<g class=\"exit\""), 1);
	assert_int_equal(count(svg, "<g class=\"ramp\""), 2);
	assert_int_equal(count(svg, "class=\"route-in\""), 1);
	assert_int_equal(count(svg, "class=\"route-out\""), 1);
	assert_non_null(strstr(svg, "#1565c0")); /* the way in and out in two colours */
	assert_non_null(strstr(svg, "#ef6c00"));
	/* 12 px a metre: the entrance (0, 12) of B1 (24 m high) at 20 + 0, 78 + 12 * 12. */
	assert_non_null(strstr(svg, "<polyline points=\"20.00,222.00 320.00,222.00 320.00,126.00\""));
	assert_true(strlen(svg) > 100 && strcmp(svg + strlen(svg) - 7, "</svg>\n") == 0);
	free(svg);
	sitemap_free(&m);
}

static void test_escaping(void **state)
{
	const struct mapsvg_options o = { "T\x01<t>\xff", false, 0 };
	struct sitemap m;
	char *svg;

	(void)state;
	demo_map(&m);
	snprintf(m.name, sizeof(m.name), "A<&>\"'车库");
	snprintf(m.spots[0].name, sizeof(m.spots[0].name), "车位<1>&");
	snprintf(m.levels[0].id, sizeof(m.levels[0].id), "B<1>");
	svg = svg_string(&m, NULL);
	assert_non_null(strstr(svg, "<title>A&lt;&amp;&gt;&quot;&apos;车库 \xe2\x80\x94 B1-05</title>"));
	assert_non_null(strstr(svg, "<title>车位&lt;1&gt;&amp;</title>"));
	assert_non_null(strstr(svg, ">车位&lt;1&gt;&amp;</text>"));
	assert_non_null(strstr(svg, ">B&lt;1&gt; \xc2\xb7 Basement 1</text>"));
	assert_null(strstr(svg, "<1>"));
	assert_null(strstr(svg, "<&"));
	free(svg);
	/* A given title: control characters dropped, broken UTF-8 replaced. */
	svg = svg_string(&m, &o);
	assert_non_null(strstr(svg, "<title>T&lt;t&gt;\xef\xbf\xbd</title>"));
	free(svg);
	sitemap_free(&m);
}

static void test_layouts(void **state)
{
	struct mapsvg_options o = { NULL, false, 10 };
	struct sitemap m;
	char *wide, *tall;
	double w1 = 0, h1 = 0, w2 = 0, h2 = 0;

	(void)state;
	demo_map(&m);
	wide = svg_string(&m, &o);
	o.stacked = true;
	tall = svg_string(&m, &o);
	assert_int_equal(sscanf(strstr(wide, "<svg "), "<svg xmlns=\"http://www.w3.org/2000/svg\" "
				"version=\"1.1\" width=\"%lf\" height=\"%lf\"", &w1, &h1), 2);
	assert_int_equal(sscanf(strstr(tall, "<svg "), "<svg xmlns=\"http://www.w3.org/2000/svg\" "
				"version=\"1.1\" width=\"%lf\" height=\"%lf\"", &w2, &h2), 2);
	assert_true(w1 > w2 && h2 > h1);
	assert_true(w1 >= 2 * 600 + 3 * 20); /* two 60 m levels at 10 px and the margins */
	free(wide);
	free(tall);
	sitemap_free(&m);
}

static void test_bad_arguments(void **state)
{
	struct mapsvg_options o = { NULL, false, -1 };
	struct sitemap m, empty;
	FILE *f = fopen("/dev/null", "w");

	(void)state;
	demo_map(&m);
	memset(&empty, 0, sizeof(empty));
	assert_non_null(f);
	assert_int_equal(mapsvg_write(f, &m, &o), -MAPSVG_E_INVALID);
	o.scale = MAPSVG_SCALE_MAX * 2;
	assert_int_equal(mapsvg_write(f, &m, &o), -MAPSVG_E_INVALID);
	o.scale = MAPSVG_SCALE_MAX; /* 60 km of picture: too large */
	m.levels[0].width = 2000;
	assert_int_equal(mapsvg_write(f, &m, &o), -MAPSVG_E_INVALID);
	assert_int_equal(mapsvg_write(f, NULL, NULL), -MAPSVG_E_INVALID);
	assert_int_equal(mapsvg_write(f, &empty, NULL), -MAPSVG_E_INVALID);
	assert_int_equal(mapsvg_write(NULL, &m, NULL), -MAPSVG_E_INVALID);
	assert_int_equal(mapsvg_save("", &m, NULL), -MAPSVG_E_INVALID);
	fclose(f);
	sitemap_free(&m);
}

/* ---- saving ---- */

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void test_atomic_save(void **state)
{
	struct sitemap m;
	struct tmpdir d;
	struct stat st;
	char path[96], *got, *want;
	FILE *f;

	(void)state;
	demo_map(&m);
	tmpdir_make(&d);
	snprintf(path, sizeof(path), "%s/map.svg", d.path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("old", f);
	fclose(f);
	assert_int_equal(mapsvg_save(path, &m, NULL), 0);
	got = read_all(path);
	want = svg_string(&m, NULL);
	assert_string_equal(got, want);
	free(got);
	free(want);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(tmpdir_entries(&d), 1); /* no temporary file left */
	/* A save onto a directory fails at the rename: the directory stays, nothing else. */
	snprintf(path, sizeof(path), "%s/dir", d.path);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(mapsvg_save(path, &m, NULL), -MAPSVG_E_IO);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(tmpdir_entries(&d), 2);
	/* Into a directory that does not exist: nothing made. */
	snprintf(path, sizeof(path), "%s/none/map.svg", d.path);
	errno = 0;
	assert_int_equal(mapsvg_save(path, &m, NULL), -MAPSVG_E_IO);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(tmpdir_entries(&d), 2);
	/* A bad map fails before any file is made. */
	snprintf(path, sizeof(path), "%s/new.svg", d.path);
	assert_int_equal(mapsvg_save(path, NULL, NULL), -MAPSVG_E_INVALID);
	assert_int_equal(tmpdir_entries(&d), 2);
	tmpdir_remove(&d);
	sitemap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_well_formed),
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_atomic_save),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
