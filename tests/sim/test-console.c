/*
 * test-console.c: parkconsole, black box, in tmux at 100x32 against the real system
 * (parkd, parkgw and parklockd of tests/support/test-stack.h, on free ports in a
 * temporary directory) with a two-level garage and an attendant. What an attendant
 * sees and does: the map with the spots' names and the legend; a car arriving at a lock
 * changes its spot's symbol within 2 s; an override asks for a reason and the lock then
 * opens; spot details, events and alarms; a resize redraws; the server going away marks
 * the map stale and the console comes back by itself; a kiosk survives Ctrl-C and
 * Ctrl-Z, logs out when idle and closes only for an attendant; LANG=zh_CN.UTF-8 speaks
 * Chinese. And bad input: no server, a server answering garbage, a site without a map,
 * a terminal smaller than 80x24.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "../../lib/hex.h"
#include "../support/test-proc.h"
#include "../support/test-stack.h"
#include "../support/test-tmux.h"

#define SITE_ID 1
#define GATEWAY_ID 1
#define FIRST_SPOT 101
#define SPOTS 6
#define ATTENDANT_PHONE "+8613800000010"
#define OWNER_PHONE "+8613800000020"
#define COLS 100
#define ROWS 32
#define PANEL_COLS 27 /* the map screen's legend panel, at the right */
#define WAIT_MS 10000
#define LIVE_BOUND_MS 2000
#define SCREEN_MAX TEST_TMUX_SCREEN_MAX

static struct stack stack;
static struct stack_garage garage = { .site_id = SITE_ID, .first = FIRST_SPOT, .count = SPOTS };
static struct apiclient *admin;
static int64_t owner_id;         /* owns B2-02 */
static char console_path[512], localedir[512], pwfile[200], locpath[200];
static char lsan[300]; /* LSAN_OPTIONS for the consoles that need LOCPATH */
static struct test_tmux started[16]; /* every tmux server started, stopped at the end */
static size_t nstarted;
static char screen[SCREEN_MAX];
static struct test_tmux term;          /* the attendant's console of the main tests */
static int parkd_port;

/* ---- helpers ---- */

static const char *world(const char *cmd)
{
	static char reply[4096];

	if (stack_world(&garage, cmd, reply, sizeof(reply)) != 0)
		fail_msg("no world reply to '%s'", cmd);
	return reply;
}

/* Prints the last screen and fails. */
static void fail_screen(const char *what)
{
	fprintf(stderr, "---- screen ----\n%s\n----------------\n", screen);
	fail_msg("%s", what);
}

static void wait_text(const struct test_tmux *t, const char *text, long ms)
{
	char what[256];

	if (test_tmux_wait(t, text, true, ms, screen, sizeof(screen)) < 0) {
		snprintf(what, sizeof(what), "'%s' did not appear within %ld ms", text, ms);
		fail_screen(what);
	}
}

static void wait_gone(const struct test_tmux *t, const char *text, long ms)
{
	char what[256];

	if (test_tmux_wait(t, text, false, ms, screen, sizeof(screen)) < 0) {
		snprintf(what, sizeof(what), "'%s' did not go within %ld ms", text, ms);
		fail_screen(what);
	}
}

/* Counts `glyph` in the map area of a captured screen (rows 1..rows-3, left of the panel). */
static int count_in_map(const char *scr, const char *glyph, int cols, int rows)
{
	char line[2048], *p;
	int r, n = 0, col;

	for (r = 1; r < rows - 2; r++) {
		test_tmux_row(scr, r, line, sizeof(line));
		/* Columns, not bytes: cut the line at the panel by counting characters. */
		for (p = line, col = 0; *p != '\0' && col < cols - PANEL_COLS; col++) {
			if (strncmp(p, glyph, strlen(glyph)) == 0)
				n++;
			p++;
			while ((*p & 0xc0) == 0x80)
				p++;
		}
	}
	return n;
}

/*
 * Starts parkconsole in tmux t (name: its socket) at cols x rows with LANG `lang` and
 * extra arguments (NULL-terminated, after the common ones).
 */
static void console_start(struct test_tmux *t, const char *name, int cols, int rows,
			  const char *lang, const char *server, const char *const *extra)
{
	char langv[64], locv[256];
	const char *argv[TEST_TMUX_ARGS_MAX];
	int n = 0, i;

	snprintf(langv, sizeof(langv), "LANG=%s", lang);
	argv[n++] = "env";
	argv[n++] = "LC_ALL=";
	argv[n++] = "LANGUAGE=";
	argv[n++] = langv;
	if (strncmp(lang, "zh_CN", 5) == 0) {
		/*
		 * The test's own zh_CN.UTF-8. glibc's locale loading copies LOCPATH into an
		 * argz that it never frees (__argz_add_sep, from setlocale and from libcurl's
		 * newlocale): LeakSanitizer is told to pass over that one, and only here.
		 */
		snprintf(locv, sizeof(locv), "LOCPATH=%s", locpath);
		argv[n++] = locv;
		argv[n++] = lsan;
	}
	argv[n++] = console_path;
	argv[n++] = "--server";
	argv[n++] = server;
	argv[n++] = "--localedir";
	argv[n++] = localedir;
	for (i = 0; extra != NULL && extra[i] != NULL && n < TEST_TMUX_ARGS_MAX - 1; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (nstarted < sizeof(started) / sizeof(started[0]))
		snprintf(started[nstarted++].sock, sizeof(started[0].sock), "%s/%s.tmux", stack.dir,
			 name);
	if (test_tmux_start(t, stack.dir, name, cols, rows, argv) != 0)
		fail_msg("tmux could not start %s", console_path);
}

/* The attendant's console, logged in by --password-file. */
static void console_attendant(struct test_tmux *t, const char *name, const char *lang,
			      const char *const *more)
{
	const char *extra[16] = { "--phone", ATTENDANT_PHONE, "--password-file", pwfile };
	int n = 4, i;

	for (i = 0; more != NULL && more[i] != NULL && n < 15; i++)
		extra[n++] = more[i];
	extra[n] = NULL;
	console_start(t, name, COLS, ROWS, lang, stack.base, extra);
}

/*
 * Ends a console as SIGTERM does, and fails unless it exited with 0 and wrote nothing
 * alarming to stderr (under SAN=1: no sanitizer report, leaks included).
 */
static void console_stop(struct test_tmux *t)
{
	char err[16384];
	pid_t pid = test_tmux_pid(t);
	int status = -1, i;

	if (pid > 0)
		kill(pid, SIGTERM);
	for (i = 0; i < 400 && !test_tmux_dead(t, &status); i++)
		test_sleep_ms(25);
	test_read_file(t->err, err, sizeof(err));
	test_tmux_stop(t);
	if (strstr(err, "Sanitizer") != NULL || strstr(err, "runtime error") != NULL)
		fail_msg("parkconsole's stderr:\n%s", err);
	if (status != 0)
		fail_msg("parkconsole ended with %d; its stderr:\n%s", status, err);
}

/* With TEST_CONSOLE_SHOW set, prints the last screen (for the README's captures). */
static void show(const char *what)
{
	if (getenv("TEST_CONSOLE_SHOW") != NULL)
		fprintf(stderr, "---- %s ----\n%s", what, screen);
}

/* Back to the map with no prompt open, whatever an earlier test left. */
static void to_map(const struct test_tmux *t)
{
	assert_int_equal(test_tmux_key(t, "Escape"), 0);
	assert_int_equal(test_tmux_key(t, "Escape"), 0);
	assert_int_equal(test_tmux_key(t, "1"), 0);
	wait_text(t, "Legend", WAIT_MS);
}

/* The row of the first line of a captured screen that holds `text`, or -1. */
static int row_of(const char *scr, const char *text, int rows)
{
	char line[2048];
	int r;

	for (r = 0; r < rows; r++) {
		test_tmux_row(scr, r, line, sizeof(line));
		if (strstr(line, text) != NULL)
			return r;
	}
	return -1;
}

/* Selects spot `name` on the map with the find prompt. */
static void select_spot(const struct test_tmux *t, const char *name)
{
	char want[96];

	assert_int_equal(test_tmux_key(t, "/"), 0);
	wait_text(t, "Find a spot", WAIT_MS);
	assert_int_equal(test_tmux_type(t, name), 0);
	assert_int_equal(test_tmux_key(t, "Enter"), 0);
	snprintf(want, sizeof(want), "Found %s.", name);
	wait_text(t, want, WAIT_MS);
}

/* ---- the site ---- */

/* Two levels, Chinese names among the English ones, one gateway covering every lock. */
static char *site_description(const uint8_t gw_pub[64])
{
	static const struct {
		const char *name, *level;
		int x;
	} spots[SPOTS] = {
		{ "B1-01", "B1", 10 }, { "B1-02", "B1", 20 }, { "B1-03", "B1", 30 },
		{ "东区-04", "B1", 40 }, { "B2-01", "B2", 10 }, { "B2-02", "B2", 20 },
	};
	char *text = NULL, hex[129], owner[24];
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	snprintf(owner, sizeof(owner), "%lld", (long long)owner_id);
	fprintf(f, "{\"site_id\":%d,\"name\":\"Console garage\",\"levels\":["
		"{\"id\":\"B1\",\"name\":\"Basement 1\",\"width\":60,\"height\":24},"
		"{\"id\":\"B2\",\"name\":\"地下二层\",\"width\":60,\"height\":24}],"
		"\"nodes\":["
		"{\"id\":\"E\",\"level\":\"B1\",\"x\":0,\"y\":12,\"kind\":\"entrance\"},"
		"{\"id\":\"J1\",\"level\":\"B1\",\"x\":10,\"y\":12,\"kind\":\"junction\"},"
		"{\"id\":\"J2\",\"level\":\"B1\",\"x\":20,\"y\":12,\"kind\":\"junction\"},"
		"{\"id\":\"J3\",\"level\":\"B1\",\"x\":30,\"y\":12,\"kind\":\"junction\"},"
		"{\"id\":\"J4\",\"level\":\"B1\",\"x\":40,\"y\":12,\"kind\":\"junction\"},"
		"{\"id\":\"R1\",\"level\":\"B1\",\"x\":50,\"y\":12,\"kind\":\"junction\"},"
		"{\"id\":\"X\",\"level\":\"B1\",\"x\":60,\"y\":12,\"kind\":\"exit\"},"
		"{\"id\":\"R2\",\"level\":\"B2\",\"x\":50,\"y\":12,\"kind\":\"junction\"},"
		"{\"id\":\"K2\",\"level\":\"B2\",\"x\":20,\"y\":12,\"kind\":\"junction\"},"
		"{\"id\":\"K1\",\"level\":\"B2\",\"x\":10,\"y\":12,\"kind\":\"junction\"}],"
		"\"lanes\":[[\"E\",\"J1\"],[\"J1\",\"J2\"],[\"J2\",\"J3\"],[\"J3\",\"J4\"],"
		"[\"J4\",\"R1\"],[\"R1\",\"X\"],[\"R1\",\"R2\"],[\"R2\",\"K2\"],[\"K2\",\"K1\"]],"
		"\"spots\":[", SITE_ID);
	for (i = 0; i < SPOTS; i++) {
		assert_int_equal(hex_encode(garage.pubs[i], 64, hex, sizeof(hex)), 128);
		fprintf(f, "%s{\"id\":%u,\"name\":\"%s\",\"level\":\"%s\",\"x\":%d,\"y\":20,"
			"\"node\":\"%s%d\",\"owner\":%s,\"lock\":{\"address\":\"%s/%u.sock\","
			"\"device_pub\":\"%s\"}}", i > 0 ? "," : "", (unsigned)(FIRST_SPOT + i),
			spots[i].name, spots[i].level, spots[i].x,
			strcmp(spots[i].level, "B1") == 0 ? "J" : "K", spots[i].x / 10,
			i == SPOTS - 1 ? owner : "null", garage.dir,
			(unsigned)(FIRST_SPOT + i), hex);
	}
	assert_int_equal(hex_encode(gw_pub, 64, hex, sizeof(hex)), 128);
	fprintf(f, "],\"gateways\":[{\"id\":%d,\"name\":\"gw-1\",\"public_key\":\"%s\","
		"\"covers\":[", GATEWAY_ID, hex);
	for (i = 0; i < SPOTS; i++)
		fprintf(f, "%s%u", i > 0 ? "," : "", (unsigned)(FIRST_SPOT + i));
	fputs("]}]}", f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* zh_CN.UTF-8 in a directory of the test's own (LOCPATH), without touching the system. */
static void make_locale(void)
{
	char dir[256], cmd[600];

	snprintf(locpath, sizeof(locpath), "%s/locale", stack.dir);
	mkdir(locpath, 0700);
	snprintf(dir, sizeof(dir), "%s/zh_CN.UTF-8", locpath);
	snprintf(cmd, sizeof(cmd), "localedef -i zh_CN -f UTF-8 '%s' >/dev/null 2>&1", dir);
	/* localedef exits 1 on mere warnings: the directory it made is what counts. */
	if (system(cmd) < 0 || access(dir, R_OK) != 0)
		fprintf(stderr, "test-console: the zh_CN.UTF-8 locale could not be made in %s "
			"(is the 'locales' package installed?)\n", dir);
}

static int group_setup(void **state)
{
	uint8_t gw_pub[64];
	char token[256], body[256], path[200], *desc;
	json_object *r = NULL;
	const char *p;

	(void)state;
	stack_parkd(&stack);
	p = strrchr(stack.base, ':');
	parkd_port = p != NULL ? atoi(p + 1) : 0;
	stack_garages(&stack, &garage, 1);
	stack_gateway_key(&stack, 0, gw_pub);
	stack_login(&stack, STACK_ADMIN_PHONE, token, sizeof(token));
	admin = stack_client(&stack, token, NULL);
	owner_id = stack_register(&stack, OWNER_PHONE);
	desc = site_description(gw_pub);
	if (stack_call(admin, "POST", "/v1/sites", desc, &r) != 201)
		stack_die("the console's site was not imported");
	free(desc);
	json_object_put(r);
	stack_provision(&stack, admin, &garage);
	stack_gateway(&stack, 0, GATEWAY_ID);
	if (stack_wait_online(admin, &garage, NULL, WAIT_MS) != SPOTS)
		stack_die("not every lock came online");
	(void)stack_register(&stack, ATTENDANT_PHONE);
	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"role\":\"attendant\"}", ATTENDANT_PHONE);
	if (stack_call(admin, "POST", "/v1/sites/1/roles", body, NULL) != 201)
		stack_die("the attendant's role was not granted");
	snprintf(path, sizeof(path), "%s/lsan.supp", stack.dir);
	assert_int_equal(test_write_file(path, "leak:__argz_add_sep\n"), 0);
	snprintf(lsan, sizeof(lsan), "LSAN_OPTIONS=suppressions=%s:print_suppressions=0", path);
	snprintf(pwfile, sizeof(pwfile), "%s/password", stack.dir);
	assert_int_equal(test_write_file(pwfile, STACK_PASSWORD "\n"), 0);
	make_locale();
	return 0;
}

static void test_clean_exit(void **state)
{
	(void)state;
	console_stop(&term);
}

static int group_teardown(void **state)
{
	size_t i;

	(void)state;
	/* Whatever a failed test left running goes too (stopping twice is harmless). */
	for (i = 0; i < nstarted; i++)
		test_tmux_stop(&started[i]);
	apiclient_free(admin);
	return 0;
}

/* ---- the map ---- */

static void test_map_shows_site(void **state)
{
	(void)state;
	console_attendant(&term, "main", "C.UTF-8", NULL);
	wait_text(&term, "Live:", WAIT_MS);
	wait_text(&term, "B1-01", WAIT_MS);
	/* Every name of the level, the Chinese one at its width, and the whole legend. */
	assert_non_null(strstr(screen, "B1-02"));
	assert_non_null(strstr(screen, "B1-03"));
	assert_non_null(strstr(screen, "东区-04"));
	assert_non_null(strstr(screen, "Console garage"));
	assert_non_null(strstr(screen, "Legend"));
	assert_non_null(strstr(screen, "free"));
	assert_non_null(strstr(screen, "unlocked"));
	assert_non_null(strstr(screen, "occupied"));
	assert_non_null(strstr(screen, "offline"));
	assert_non_null(strstr(screen, "alarm"));
	assert_non_null(strstr(screen, "key given out"));
	assert_null(strstr(screen, "B2-01")); /* the other level */
	show("map");
	/* Four free locked spots on B1: the free symbol four times in the map. */
	assert_int_equal(count_in_map(screen, "\xe2\x96\xa1", COLS, ROWS), 4);
	/* PgDn shows the second level, with its Chinese name. */
	assert_int_equal(test_tmux_key(&term, "NPage"), 0);
	wait_text(&term, "B2-01", WAIT_MS);
	assert_non_null(strstr(screen, "地下二层"));
	assert_int_equal(test_tmux_key(&term, "PPage"), 0);
	wait_text(&term, "B1-01", WAIT_MS);
}

static void test_car_changes_symbol(void **state)
{
	const char *free_glyph = "\xe2\x96\xa1", *alarm = "!";
	int64_t t0;
	long ms;

	(void)state;
	to_map(&term);
	select_spot(&term, "B1-02");
	wait_text(&term, "B1-02 (102)", WAIT_MS);
	assert_null(strstr(screen, "car: present"));
	assert_int_equal(count_in_map(screen, free_glyph, COLS, ROWS), 4);
	assert_int_equal(count_in_map(screen, alarm, COLS, ROWS), 0);
	t0 = test_ms_now();
	world("102 car present");
	ms = test_tmux_wait(&term, "car: present", true, LIVE_BOUND_MS, screen, sizeof(screen));
	fprintf(stderr, "test-console: the car showed after %lld ms\n",
		(long long)(test_ms_now() - t0));
	if (ms < 0)
		fail_screen("the car did not show within 2 s");
	/*
	 * Its symbol is no longer the free one. A car on a spot for which nobody holds a key
	 * is an alarm (car_without_key), which outranks "occupied" on the map.
	 */
	t0 = test_ms_now();
	while (count_in_map(screen, alarm, COLS, ROWS) != 1 &&
	       test_ms_now() - t0 < LIVE_BOUND_MS) {
		test_sleep_ms(25);
		assert_int_equal(test_tmux_screen(&term, screen, sizeof(screen)), 0);
	}
	if (count_in_map(screen, free_glyph, COLS, ROWS) != 3 ||
	    count_in_map(screen, alarm, COLS, ROWS) != 1)
		fail_screen("the spot's symbol did not change to the alarm's");
	assert_int_equal(test_tmux_key(&term, "3"), 0);
	wait_text(&term, "car without a key", WAIT_MS);
	assert_non_null(strstr(screen, "B1-02"));
	assert_int_equal(test_tmux_key(&term, "1"), 0);
	wait_text(&term, "Legend", WAIT_MS);
}

/* ---- spot details, override, events, alarms ---- */

static void test_spot_details(void **state)
{
	(void)state;
	to_map(&term);
	select_spot(&term, "B1-01");
	assert_int_equal(test_tmux_key(&term, "Enter"), 0);
	wait_text(&term, "Spot B1-01 (101)", WAIT_MS);
	wait_text(&term, "anyone", WAIT_MS);
	assert_non_null(strstr(screen, "Policy"));
	assert_non_null(strstr(screen, "Key out"));
	assert_non_null(strstr(screen, "locked (barrier up)"));
	assert_non_null(strstr(screen, "Latest events"));
	show("spot");
	assert_int_equal(test_tmux_key(&term, "Escape"), 0);
	wait_text(&term, "Legend", WAIT_MS);
}

static void test_override_asks_reason_and_opens(void **state)
{
	int64_t end;

	(void)state;
	to_map(&term);
	assert_true(test_json_true(world("101 state"), "locked"));
	select_spot(&term, "B1-01");
	assert_int_equal(test_tmux_key(&term, "o"), 0);
	wait_text(&term, "Override B1-01", WAIT_MS);
	assert_int_equal(test_tmux_type(&term, "u"), 0);
	wait_text(&term, "Why unlock B1-01?", WAIT_MS);
	show("override");
	/* No reason, or a blank one, is refused, and nothing is sent. */
	assert_int_equal(test_tmux_key(&term, "Enter"), 0);
	wait_text(&term, "A reason is required.", WAIT_MS);
	assert_int_equal(test_tmux_type(&term, "   "), 0);
	assert_int_equal(test_tmux_key(&term, "Enter"), 0);
	wait_text(&term, "A reason is required.", WAIT_MS);
	assert_true(test_json_true(world("101 state"), "locked"));
	assert_int_equal(test_tmux_type(&term, "driver's phone is flat 手机没电"), 0);
	assert_int_equal(test_tmux_key(&term, "Enter"), 0);
	wait_text(&term, "Unlock of B1-01 sent", WAIT_MS);
	end = test_ms_now() + WAIT_MS;
	while (test_json_true(world("101 state"), "locked") && test_ms_now() < end)
		test_sleep_ms(50);
	assert_false(test_json_true(world("101 state"), "locked"));
	/* And the map follows the lock. */
	wait_text(&term, "lock: unlocked", WAIT_MS);
}

static void test_events_screen(void **state)
{
	(void)state;
	to_map(&term);
	assert_int_equal(test_tmux_key(&term, "2"), 0);
	wait_text(&term, "car arrived", WAIT_MS);
	assert_non_null(strstr(screen, "B1-02"));
	assert_non_null(strstr(screen, "Filter: spot all, kind all"));
	assert_int_equal(test_tmux_key(&term, "k"), 0);
	wait_text(&term, "kind unlocked", WAIT_MS);
	assert_null(strstr(screen, "car arrived"));
	assert_int_equal(test_tmux_key(&term, "c"), 0);
	wait_text(&term, "car arrived", WAIT_MS);
	assert_int_equal(test_tmux_key(&term, "s"), 0);
	wait_text(&term, "Show events of spot", WAIT_MS);
	assert_int_equal(test_tmux_type(&term, "B1-01"), 0);
	assert_int_equal(test_tmux_key(&term, "Enter"), 0);
	wait_text(&term, "Filter: spot B1-01", WAIT_MS);
	show("events");
	assert_null(strstr(screen, "car arrived"));
	assert_int_equal(test_tmux_key(&term, "c"), 0);
	assert_int_equal(test_tmux_key(&term, "1"), 0);
	wait_text(&term, "Legend", WAIT_MS);
}

static void test_alarm_shown_and_acknowledged(void **state)
{
	int i;

	(void)state;
	to_map(&term);
	world("103 force");
	select_spot(&term, "B1-03");
	wait_text(&term, "B1-03 (103)", WAIT_MS);
	/* The map marks it within the live bound... */
	if (test_tmux_wait(&term, "lock: unlocked", true, LIVE_BOUND_MS, screen,
			   sizeof(screen)) < 0)
		fail_screen("the forced barrier did not show within 2 s");
	assert_true(count_in_map(screen, "!", COLS, ROWS) >= 1);
	/* ... and the alarms screen lists it for an attendant to acknowledge. */
	assert_int_equal(test_tmux_key(&term, "3"), 0);
	wait_text(&term, "barrier forced", WAIT_MS);
	assert_non_null(strstr(screen, "B1-03"));
	show("alarms");
	/* The list's order is the server's: select the forced barrier's row. */
	assert_int_equal(test_tmux_key(&term, "Home"), 0);
	for (i = row_of(screen, "barrier forced", ROWS) - row_of(screen, "Since", ROWS) - 1;
	     i > 0; i--)
		assert_int_equal(test_tmux_key(&term, "Down"), 0);
	assert_int_equal(test_tmux_key(&term, "Enter"), 0);
	wait_text(&term, "Acknowledge \"barrier forced\" at B1-03", WAIT_MS);
	assert_int_equal(test_tmux_type(&term, "barrier checked, no damage"), 0);
	assert_int_equal(test_tmux_key(&term, "Enter"), 0);
	wait_text(&term, "acknowledged", WAIT_MS);
	wait_gone(&term, "barrier forced", WAIT_MS);
	assert_non_null(strstr(screen, "car without a key"));
	assert_int_equal(test_tmux_key(&term, "1"), 0);
	wait_text(&term, "Legend", WAIT_MS);
}

/* ---- the terminal ---- */

static void test_resize_redraws(void **state)
{
	char row[512];

	(void)state;
	to_map(&term);
	assert_int_equal(test_tmux_resize(&term, 80, 24), 0);
	wait_text(&term, "Legend", WAIT_MS);
	test_sleep_ms(300);
	assert_int_equal(test_tmux_screen(&term, screen, sizeof(screen)), 0);
	test_tmux_row(screen, 0, row, sizeof(row));
	assert_non_null(strstr(row, "parkconsole"));
	test_tmux_row(screen, 23, row, sizeof(row));
	assert_non_null(strstr(row, "help"));
	assert_non_null(strstr(screen, "B1-01"));
	/* Smaller than 80x24: a notice, not a broken screen; and back again. */
	assert_int_equal(test_tmux_resize(&term, 70, 20), 0);
	wait_text(&term, "Terminal too small", WAIT_MS);
	assert_false(test_tmux_dead(&term, NULL));
	assert_int_equal(test_tmux_resize(&term, COLS, ROWS), 0);
	wait_gone(&term, "Terminal too small", WAIT_MS);
	wait_text(&term, "B1-01", WAIT_MS);
	test_tmux_row(screen, ROWS - 1, row, sizeof(row));
	assert_non_null(strstr(row, "help"));
}

static void test_idle_costs_nothing(void **state)
{
	pid_t pid = test_tmux_pid(&term);
	double before, after;

	(void)state;
	assert_true(pid > 0);
	before = stack_cpu_s(pid);
	test_sleep_ms(3000);
	after = stack_cpu_s(pid);
	fprintf(stderr, "test-console: %.3f s of CPU in 3 s idle\n", after - before);
	assert_true(before >= 0 && after - before < 0.1);
}

/* ---- the server going away ---- */

static void restart_parkd(void)
{
	char listen[64], text[65536];
	const char *args[] = { "--config", stack.conf, "--listen", listen, NULL };
	int64_t end = test_ms_now() + WAIT_MS;
	size_t before = test_read_file(stack.parkd_log, text, sizeof(text));
	const char *p;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", parkd_port);
	stack.parkd_pid = test_spawn(stack.parkd, args, stack.parkd_log, stack.parkd_log);
	while (test_ms_now() < end) {
		test_read_file(stack.parkd_log, text, sizeof(text));
		p = strlen(text) > before ? strstr(text + before, " port ") : NULL;
		if (p != NULL && strstr(p, "routes") != NULL)
			return;
		test_sleep_ms(20);
	}
	fail_msg("parkd did not start again; see %s", stack.parkd_log);
}

static void test_server_gone_stale_then_back(void **state)
{
	(void)state;
	to_map(&term);
	assert_int_equal(test_stop(&stack.parkd_pid, SIGTERM), 0);
	wait_text(&term, "Server unreachable", WAIT_MS);
	show("stale");
	assert_non_null(strstr(screen, "STALE"));
	assert_non_null(strstr(screen, "B1-01")); /* the last known state stays */
	assert_false(test_tmux_dead(&term, NULL));
	restart_parkd();
	wait_text(&term, "Live:", 3 * WAIT_MS);
	wait_gone(&term, "STALE", WAIT_MS);
	/* Live again: a change shows as before. */
	world("102 car absent");
	select_spot(&term, "B1-02");
	wait_text(&term, "car: none", WAIT_MS);
}

/* ---- kiosk ---- */

static void test_kiosk(void **state)
{
	const char *more[] = { "--kiosk", "--idle-logout", "4", NULL };
	struct test_tmux k = { .sock = "" };
	int status = -1;

	(void)state;
	console_attendant(&k, "kiosk", "C.UTF-8", more);
	wait_text(&k, "Live:", WAIT_MS);
	assert_non_null(strstr(screen, "(kiosk)"));
	/* Ctrl-C and Ctrl-Z do not leave. */
	assert_int_equal(test_tmux_key(&k, "C-c"), 0);
	assert_int_equal(test_tmux_key(&k, "C-z"), 0);
	assert_int_equal(test_tmux_key(&k, "C-\\"), 0);
	test_sleep_ms(500);
	assert_false(test_tmux_dead(&k, NULL));
	wait_text(&k, "Legend", WAIT_MS);
	/* Nor does q without an attendant's password. */
	assert_int_equal(test_tmux_key(&k, "q"), 0);
	wait_text(&k, "To close the console", WAIT_MS);
	assert_int_equal(test_tmux_type(&k, ATTENDANT_PHONE), 0);
	assert_int_equal(test_tmux_key(&k, "Enter"), 0);
	wait_text(&k, "Attendant's password", WAIT_MS);
	assert_int_equal(test_tmux_type(&k, "not the password"), 0);
	assert_int_equal(test_tmux_key(&k, "Enter"), 0);
	wait_text(&k, "Wrong phone number or password.", WAIT_MS);
	assert_false(test_tmux_dead(&k, NULL));
	/* Idle: back to the login screen. */
	wait_text(&k, "Logged out after 4 s", WAIT_MS);
	assert_non_null(strstr(screen, "Password"));
	assert_false(test_tmux_dead(&k, NULL));
	/* An attendant closes it. */
	assert_int_equal(test_tmux_key(&k, "F10"), 0);
	wait_text(&k, "To close the console", WAIT_MS);
	assert_int_equal(test_tmux_type(&k, ATTENDANT_PHONE), 0);
	assert_int_equal(test_tmux_key(&k, "Enter"), 0);
	wait_text(&k, "Attendant's password", WAIT_MS);
	assert_int_equal(test_tmux_type(&k, STACK_PASSWORD), 0);
	assert_int_equal(test_tmux_key(&k, "Enter"), 0);
	for (int i = 0; i < 200 && !test_tmux_dead(&k, &status); i++)
		test_sleep_ms(50);
	test_read_file(k.err, screen, sizeof(screen));
	test_tmux_stop(&k);
	if (status != 0)
		fail_msg("the kiosk ended with %d; its stderr:\n%s", status, screen);
}

/* ---- an owner ---- */

static void test_owner(void **state)
{
	const char *extra[] = { "--phone", OWNER_PHONE, "--password-file", pwfile, NULL };
	struct test_tmux o = { .sock = "" };
	char row[1024];

	(void)state;
	console_start(&o, "owner", COLS, ROWS, "C.UTF-8", stack.base, extra);
	wait_text(&o, "Live:", WAIT_MS);
	assert_non_null(strstr(screen, OWNER_PHONE " owner"));
	/* The site of the owner's spot, the level of it a PgDn away; no override offered. */
	assert_int_equal(test_tmux_key(&o, "NPage"), 0);
	wait_text(&o, "B2-02", WAIT_MS);
	test_tmux_row(screen, ROWS - 1, row, sizeof(row));
	assert_null(strstr(row, "override"));
	assert_int_equal(test_tmux_key(&o, "Right"), 0);
	assert_int_equal(test_tmux_key(&o, "o"), 0);
	test_sleep_ms(300);
	assert_int_equal(test_tmux_screen(&o, screen, sizeof(screen)), 0);
	assert_null(strstr(screen, "Override"));
	/* The events of the owner's own spots. */
	world("106 car present");
	assert_int_equal(test_tmux_key(&o, "2"), 0);
	wait_text(&o, "car arrived", WAIT_MS);
	assert_non_null(strstr(screen, "B2-02"));
	world("106 car absent");
	/* The alarms are the attendants'. */
	assert_int_equal(test_tmux_key(&o, "3"), 0);
	wait_text(&o, "Alarms are for the garage's attendants", WAIT_MS);
	console_stop(&o);
}

/* ---- Chinese ---- */

static void test_chinese(void **state)
{
	struct test_tmux z = { .sock = "" };
	char dir[600];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/zh_CN.UTF-8", locpath);
	if (access(dir, R_OK) != 0)
		fail_msg("the zh_CN.UTF-8 locale could not be generated with localedef in %s: "
			 "install the 'locales' package (scripts/deps.sh test)", locpath);
	snprintf(dir, sizeof(dir), "%s/zh_CN/LC_MESSAGES/parking.mo", localedir);
	if (access(dir, R_OK) != 0)
		fail_msg("no Chinese catalogue at %s: make builds it from po/zh_CN.po", dir);
	console_attendant(&z, "zh", "zh_CN.UTF-8", NULL);
	wait_text(&z, "B1-01", WAIT_MS);
	wait_text(&z, "图例", WAIT_MS);  /* Legend */
	assert_non_null(strstr(screen, "帮助")); /* help, on the key bar */
	assert_non_null(strstr(screen, "空闲")); /* free */
	assert_null(strstr(screen, "Legend"));
	show("zh_CN");
	console_stop(&z);
}

/* ---- bad input ---- */

/* A fake parkd on a free port: each connection in a thread of its own. */
enum fake_mode { FAKE_GARBAGE, FAKE_NO_MAP };

struct fake {
	int fd, port;
	enum fake_mode mode;
	atomic_int stop;
	pthread_t accepter;
	pthread_t conns[32];
	atomic_int nconns;
};

struct fake_conn {
	struct fake *f;
	int fd;
};

static void fake_send(int fd, int status, const char *type, const char *body)
{
	char head[256];

	snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu"
		 "\r\n\r\n", status, type, strlen(body));
	if (send(fd, head, strlen(head), MSG_NOSIGNAL) < 0 ||
	    send(fd, body, strlen(body), MSG_NOSIGNAL) < 0)
		return;
}

/* Answers one request of the no-map server; returns false to close the connection. */
static bool fake_no_map(struct fake *f, int fd, const char *req)
{
	static const char stream[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
		"event: ready\ndata: {\"site\":1}\n\n";

	if (strncmp(req, "POST /v1/sessions ", 18) == 0) {
		fake_send(fd, 201, "application/json", "{\"token\":\"t0k3n\",\"expires_at\":1}");
	} else if (strncmp(req, "GET /v1/me ", 11) == 0) {
		fake_send(fd, 200, "application/json", "{\"user_id\":5,\"phone\":\"+8613800000010\","
			  "\"roles\":[{\"role\":\"driver\"},{\"role\":\"attendant\",\"site_id\":1}]}");
	} else if (strncmp(req, "GET /v1/events", 14) == 0) {
		if (send(fd, stream, strlen(stream), MSG_NOSIGNAL) < 0)
			return false;
		while (!atomic_load(&f->stop))
			test_sleep_ms(50);
		return false;
	} else if (strncmp(req, "GET /v1/sites/1 ", 16) == 0) {
		fake_send(fd, 200, "application/json", "{\"site_id\":1,\"name\":\"Empty\","
			  "\"levels\":[],\"nodes\":[],\"lanes\":[],\"spots\":[]}");
	} else {
		fake_send(fd, 404, "application/json", "{\"error\":\"not_found\",\"detail\":\"no\"}");
	}
	return true;
}

static void *fake_conn_main(void *arg)
{
	struct fake_conn *c = arg;
	char req[8192];
	size_t have = 0;
	ssize_t n;
	char *end;

	while (!atomic_load(&c->f->stop)) {
		n = recv(c->fd, req + have, sizeof(req) - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
		req[have] = '\0';
		end = strstr(req, "\r\n\r\n");
		if (end == NULL)
			continue;
		/* Bodies are small here: whatever came with the head is the body. */
		if (c->f->mode == FAKE_GARBAGE)
			fake_send(c->fd, 200, "application/json", "<html>this is not parkd</html>");
		else if (!fake_no_map(c->f, c->fd, req))
			break;
		have = 0;
	}
	close(c->fd);
	free(c);
	return NULL;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct fake_conn *c;
	struct pollfd p;
	int fd, i;

	while (!atomic_load(&f->stop)) {
		p.fd = f->fd;
		p.events = POLLIN;
		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept(f->fd, NULL, NULL);
		i = atomic_load(&f->nconns);
		if (fd < 0 || i == 32 || (c = malloc(sizeof(*c))) == NULL) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		c->f = f;
		c->fd = fd;
		if (pthread_create(&f->conns[i], NULL, fake_conn_main, c) == 0)
			atomic_store(&f->nconns, i + 1);
		else
			free(c), close(fd);
	}
	return NULL;
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->fd, 16), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
	f->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&f->accepter, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	int i;

	atomic_store(&f->stop, 1);
	pthread_join(f->accepter, NULL);
	for (i = 0; i < atomic_load(&f->nconns); i++)
		pthread_join(f->conns[i], NULL);
	close(f->fd);
}

static void test_server_down(void **state)
{
	const char *extra[] = { "--phone", ATTENDANT_PHONE, "--password-file", pwfile, NULL };
	struct test_tmux t = { .sock = "" };
	static struct fake f; /* its threads outlive a failed test's stack frame */
	char url[64];

	(void)state;
	/* A port nobody listens on: a free one, closed again. */
	fake_start(&f, FAKE_GARBAGE);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	fake_stop(&f);
	console_start(&t, "down", COLS, ROWS, "C.UTF-8", url, extra);
	wait_text(&t, "Cannot reach the server", WAIT_MS);
	assert_non_null(strstr(screen, "Check --server"));
	test_sleep_ms(300);
	assert_false(test_tmux_dead(&t, NULL));
	/* The form stays usable: another try says the same, no crash. */
	assert_int_equal(test_tmux_type(&t, "x"), 0);
	assert_int_equal(test_tmux_key(&t, "Enter"), 0);
	wait_text(&t, "Cannot reach the server", WAIT_MS);
	assert_false(test_tmux_dead(&t, NULL));
	console_stop(&t);
}

static void test_server_garbage(void **state)
{
	const char *extra[] = { "--phone", ATTENDANT_PHONE, "--password-file", pwfile, NULL };
	struct test_tmux t = { .sock = "" };
	static struct fake f; /* its threads outlive a failed test's stack frame */
	char url[64];

	(void)state;
	fake_start(&f, FAKE_GARBAGE);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	console_start(&t, "garbage", COLS, ROWS, "C.UTF-8", url, extra);
	wait_text(&t, "did not answer as", WAIT_MS);
	test_sleep_ms(300);
	assert_false(test_tmux_dead(&t, NULL));
	console_stop(&t);
	fake_stop(&f);
}

static void test_site_without_map(void **state)
{
	const char *extra[] = { "--phone", ATTENDANT_PHONE, "--password-file", pwfile, NULL };
	struct test_tmux t = { .sock = "" };
	static struct fake f; /* its threads outlive a failed test's stack frame */
	char url[64];

	(void)state;
	fake_start(&f, FAKE_NO_MAP);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	console_start(&t, "nomap", COLS, ROWS, "C.UTF-8", url, extra);
	wait_text(&t, "cannot be shown", WAIT_MS);
	assert_non_null(strstr(screen, "levels"));
	test_sleep_ms(300);
	assert_false(test_tmux_dead(&t, NULL));
	/* Every screen copes without a map. */
	assert_int_equal(test_tmux_key(&t, "2"), 0);
	wait_text(&t, "No events yet", WAIT_MS);
	assert_int_equal(test_tmux_key(&t, "3"), 0);
	assert_int_equal(test_tmux_key(&t, "1"), 0);
	assert_int_equal(test_tmux_key(&t, "Down"), 0);
	assert_int_equal(test_tmux_key(&t, "Enter"), 0);
	assert_int_equal(test_tmux_key(&t, "o"), 0);
	test_sleep_ms(300);
	assert_false(test_tmux_dead(&t, NULL));
	console_stop(&t);
	fake_stop(&f);
}

static void test_terminal_too_small(void **state)
{
	const char *extra[] = { "--phone", ATTENDANT_PHONE, "--password-file", pwfile, NULL };
	struct test_tmux t = { .sock = "" };

	(void)state;
	console_start(&t, "small", 60, 20, "C.UTF-8", stack.base, extra);
	wait_text(&t, "Terminal too small", WAIT_MS);
	assert_non_null(strstr(screen, "80x24"));
	show("too small");
	assert_int_equal(test_tmux_key(&t, "Down"), 0);
	test_sleep_ms(300);
	assert_false(test_tmux_dead(&t, NULL));
	assert_int_equal(test_tmux_resize(&t, 80, 24), 0);
	wait_text(&t, "Legend", WAIT_MS);
	console_stop(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_shows_site),
		cmocka_unit_test(test_car_changes_symbol),
		cmocka_unit_test(test_spot_details),
		cmocka_unit_test(test_override_asks_reason_and_opens),
		cmocka_unit_test(test_events_screen),
		cmocka_unit_test(test_alarm_shown_and_acknowledged),
		cmocka_unit_test(test_resize_redraws),
		cmocka_unit_test(test_idle_costs_nothing),
		cmocka_unit_test(test_server_gone_stale_then_back),
		cmocka_unit_test(test_kiosk),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_chinese),
		cmocka_unit_test(test_server_down),
		cmocka_unit_test(test_server_garbage),
		cmocka_unit_test(test_site_without_map),
		cmocka_unit_test(test_terminal_too_small),
		cmocka_unit_test(test_clean_exit),
	};
	const char *slash = strrchr(argv[0], '/');

	(void)argc;
	stack_init(&stack, "test-console", argv[0]);
	test_find_program(argv[0], "PARKCONSOLE", "parkconsole", console_path,
			  sizeof(console_path));
	if (slash != NULL)
		snprintf(localedir, sizeof(localedir), "%.*s/../locale", (int)(slash - argv[0]),
			 argv[0]);
	else
		snprintf(localedir, sizeof(localedir), "build/locale");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
