/*
 * bench-console.c: how long parkconsole takes to draw its map screen for a big garage:
 * a site of 2,000 spots on one level (a quarter with Chinese names, states mixed), in
 * the console's model, laid out by maptext and painted by the map screen through
 * curses on a terminal whose output goes to /dev/null. Two figures per size: a frame as
 * the console draws it after an event (erase, draw, refresh: curses sends what changed)
 * and a full repaint (curses sends every cell, as after Ctrl-L or a resize). The target
 * is 5 ms a frame. Prints one line per figure; exits 1 when a set-up step fails.
 *
 * Usage: build/bench/bench-console [FRAMES]   (default 300)
 */
#include <curses.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tui/console.h"
#include "../../tui/frame.h"
#include "../../tui/ui.h"
#include "bench-stats.h"

#define BENCH_SPOTS 2000
#define BENCH_COLS_PER_ROW 50
#define BENCH_FRAMES 300

static double bench_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The site: one 400 m x 100 m level, a lane along its middle, spots in 40 rows of 50. */
static json_object *bench_site(void)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);
	json_object *o;

	if (f == NULL)
		return NULL;
	fputs("{\"site_id\":1,\"name\":\"Bench garage 大型车库\",\"levels\":[{\"id\":\"L1\","
	      "\"name\":\"Level 1\",\"width\":400,\"height\":100}],\"nodes\":["
	      "{\"id\":\"E\",\"level\":\"L1\",\"x\":0,\"y\":50,\"kind\":\"entrance\"},"
	      "{\"id\":\"X\",\"level\":\"L1\",\"x\":400,\"y\":50,\"kind\":\"exit\"}", f);
	for (i = 0; i < BENCH_COLS_PER_ROW; i++)
		fprintf(f, ",{\"id\":\"J%zu\",\"level\":\"L1\",\"x\":%zu,\"y\":50,"
			"\"kind\":\"junction\"}", i, 4 + 8 * i);
	fputs("],\"lanes\":[[\"E\",\"J0\"]", f);
	for (i = 1; i < BENCH_COLS_PER_ROW; i++)
		fprintf(f, ",[\"J%zu\",\"J%zu\"]", i - 1, i);
	fprintf(f, ",[\"J%d\",\"X\"]],\"spots\":[", BENCH_COLS_PER_ROW - 1);
	for (i = 0; i < BENCH_SPOTS; i++)
		fprintf(f, "%s{\"id\":%zu,\"name\":\"%s-%04zu\",\"level\":\"L1\",\"x\":%zu,"
			"\"y\":%.1f,\"node\":\"J%zu\",\"locked\":%s,\"occupied\":%s,\"online\":%s,"
			"\"battery\":%zu}", i > 0 ? "," : "", 1000 + i, i % 4 == 0 ? "东区" : "A", i,
			4 + 8 * (i % BENCH_COLS_PER_ROW), 2.0 + 2.4 * (double)(i / BENCH_COLS_PER_ROW),
			i % BENCH_COLS_PER_ROW, i % 3 == 0 ? "false" : "true",
			i % 5 == 0 ? "true" : "false", i % 97 == 0 ? "false" : "true", i % 100);
	fputs("],\"gateways\":[]}", f);
	if (fclose(f) != 0)
		return NULL;
	o = json_tokener_parse(text);
	free(text);
	return o;
}

/* Draws `frames` frames, with an event applied before each; each frame's time into st. */
static void bench_frames(struct console *c, bool full, struct bench_stats *st, size_t frames)
{
	char ev[160];
	json_object *o;
	size_t i;
	double t0;

	for (i = 0; i < frames; i++) {
		snprintf(ev, sizeof(ev), "{\"spot\":%zu,\"seq\":%zu,\"time\":1800000000,"
			 "\"kind\":\"%s\"}", 1000 + (i * 37) % BENCH_SPOTS, i + 1,
			 i % 2 == 0 ? "car_arrived" : "car_left");
		o = json_tokener_parse(ev);
		(void)model_apply_event(&c->model, o);
		json_object_put(o);
		if (full)
			clearok(curscr, TRUE);
		t0 = bench_ms();
		frame_draw(c);
		bench_stats_add(st, bench_ms() - t0);
	}
}

static void bench_report(const char *what, int cols, int rows, struct bench_stats *st)
{
	double sum = 0;
	size_t i;

	for (i = 0; i < st->n; i++)
		sum += st->v[i];
	printf("bench-console: %-12s %3dx%-3d %d spots: mean %.2f ms, p50 %.2f, p99 %.2f, "
	       "max %.2f (target <= 5 ms)\n", what, cols, rows, BENCH_SPOTS,
	       st->n > 0 ? sum / (double)st->n : 0.0, bench_stats_pct(st, 50),
	       bench_stats_pct(st, 99), bench_stats_max(st));
	bench_stats_free(st);
}

int main(int argc, char **argv)
{
	static const int sizes[][2] = { { 100, 32 }, { 200, 60 } };
	struct console_config cfg;
	struct console *c = calloc(1, sizeof(*c));
	size_t frames = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : BENCH_FRAMES;
	struct bench_stats st;
	FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
	json_object *site = bench_site();
	SCREEN *scr;
	size_t i;

	memset(&st, 0, sizeof(st));
	if (c == NULL || out == NULL || in == NULL || site == NULL || frames == 0) {
		fprintf(stderr, "bench-console: set-up failed\n");
		return 1;
	}
	setlocale(LC_ALL, "C.UTF-8");
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.server, sizeof(cfg.server), "https://bench.invalid");
	c->cfg = &cfg;
	model_init(&c->model);
	if (model_set_site(&c->model, site) != 0) {
		fprintf(stderr, "bench-console: the site did not parse: %s\n", c->model.map_error);
		return 1;
	}
	json_object_put(site);
	model_set_link(&c->model, MODEL_LIVE, "", 0, 0);
	model_move(&c->model, 1, 0);
	c->logged_in = true;
	c->screen = c->back = SCREEN_MAP;
	scr = newterm("xterm-256color", out, in);
	if (scr == NULL) {
		fprintf(stderr, "bench-console: no terminal description for xterm-256color\n");
		return 1;
	}
	c->colour = has_colors() && start_color() == OK;
	if (c->colour)
		(void)use_default_colors();
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		resize_term(sizes[i][1], sizes[i][0]);
		frame_draw(c); /* the first frame sizes the grid */
		bench_frames(c, false, &st, frames);
		bench_report("frame", sizes[i][0], sizes[i][1], &st);
		bench_frames(c, true, &st, frames);
		bench_report("full repaint", sizes[i][0], sizes[i][1], &st);
	}
	endwin();
	delscreen(scr);
	model_free(&c->model);
	maptext_grid_free(&c->grid);
	free(c);
	fclose(out);
	fclose(in);
	return 0;
}
