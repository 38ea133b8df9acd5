/*
 * test-console-share.c: an owner's share control in parkconsole, black box: the real
 * console in tmux at 100x32 against the real system (parkd, parkgw, parklockd of
 * tests/support/test-stack.h) with a parkphoned per person driven through parkctl, as
 * tests/sim/test-sharing.c drives them. The owner requires approval of shares on a spot
 * and lets renters share; a renter's share waits until the owner approves it in the
 * console (the requests screen), then the recipient's phone opens the lock; a share the
 * owner refuses never reaches the lock; freezing one from the members screen makes the
 * recipient's unlock refused after a sync; the spot's details list every key and share
 * with its state; and once the owner enrolled for one-time codes, an approval in the
 * console asks for the code, says so when it is wrong, and goes through with the right
 * one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../support/test-proc.h"
#include "../support/test-stack.h"
#include "../support/test-tmux.h"
#include "../support/test-totp.h"

#define SITE 1
#define GATEWAY 1
#define FIRST_SPOT 101
#define SPOTS 2
#define SPOT 101          /* shares need the owner's approval here */
#define SPOT_TEXT "101"
#define OWNER "+8613500000001"
#define RENTER "+8613500000002"
#define FRIEND "+8613500000003"
#define NEIGHBOUR "+8613500000004"
#define COLS 100
#define ROWS 32
#define WAIT_MS 10000
#define OUT_MAX 65536

static struct stack s;
static struct stack_garage g;
static struct stack_phone owner, renter, friend, neighbour;
static struct test_tmux term;
static char out[OUT_MAX], screen[TEST_TMUX_SCREEN_MAX], pwfile[STACK_PATH_MAX];
static char localedir[512];
static const char *argv0;
static long friend_share;

/* ---- helpers ---- */

#define CTL(p, ...) ctl(p, #p, (const char *const[]){ __VA_ARGS__, NULL })

static int ctl(const struct stack_phone *p, const char *who, const char *const *args)
{
	int r = stack_parkctl(&s, p, out, sizeof(out), args);

	fprintf(stderr, "test-console-share: %s: parkctl %s %s %s -> %d: %.400s", who, args[0],
		args[1] != NULL ? args[1] : "", args[1] != NULL && args[2] != NULL ? args[2] : "",
		r, out);
	return r;
}

static const char *world(const char *cmd)
{
	static char reply[8192];

	if (stack_world(&g, cmd, reply, sizeof(reply)) != 0)
		fail_msg("no world reply to '%s'", cmd);
	return reply;
}

static bool spot_locked(void)
{
	return test_json_true(world(SPOT_TEXT " state"), "locked");
}

static long lock_shares(void)
{
	return test_json_num(world(SPOT_TEXT " state"), "shares");
}

static void sync_keys(const struct stack_phone *p, const char *who)
{
	assert_int_equal(ctl(p, who, (const char *const[]){ "keys", NULL }), 0);
}

/* Unlocks, then locks again, through p's parkctl; both must work. */
static void open_and_close(const struct stack_phone *p, const char *who)
{
	assert_int_equal(ctl(p, who, (const char *const[]){ "unlock", SPOT_TEXT, NULL }), 0);
	assert_false(spot_locked());
	assert_int_equal(ctl(p, who, (const char *const[]){ "lock", SPOT_TEXT, NULL }), 0);
	assert_true(spot_locked());
}

/* The renter shares their key of SPOT with `phone`: it waits for approval; its ID. */
static long share_pending(const char *phone)
{
	long id;

	assert_int_equal(CTL(&renter, "--json", "share", SPOT_TEXT, phone), 0);
	assert_non_null(strstr(out, "\"pending_approval\""));
	id = test_json_num(out, "share_id");
	assert_true(id > 0);
	return id;
}

/* With TEST_CONSOLE_SHOW set, prints the last screen (for the README's captures). */
static void show(const char *what)
{
	if (getenv("TEST_CONSOLE_SHOW") != NULL)
		fprintf(stderr, "---- %s ----\n%s", what, screen);
}

static void fail_screen(const char *what)
{
	fprintf(stderr, "---- screen ----\n%s\n----------------\n", screen);
	fail_msg("%s", what);
}

static void wait_text(const char *text, long ms)
{
	char what[256];

	if (test_tmux_wait(&term, text, true, ms, screen, sizeof(screen)) < 0) {
		snprintf(what, sizeof(what), "'%s' did not appear within %ld ms", text, ms);
		fail_screen(what);
	}
}

static void key(const char *k)
{
	assert_int_equal(test_tmux_key(&term, k), 0);
}

static void type(const char *text)
{
	assert_int_equal(test_tmux_type(&term, text), 0);
}

/* The row of the first line of the last screen that holds `text`, or -1. */
static int row_of(const char *text)
{
	char line[2048];
	int r;

	for (r = 0; r < ROWS; r++) {
		test_tmux_row(screen, r, line, sizeof(line));
		if (strstr(line, text) != NULL)
			return r;
	}
	return -1;
}

/* On a list screen (requests, members): selects the row holding `text`. */
static void select_row(const char *text, const char *head)
{
	int n;

	key("Home");
	wait_text(text, WAIT_MS);
	n = row_of(text) - row_of(head) - 1;
	if (row_of(text) < 0 || row_of(head) < 0 || n < 0)
		fail_screen("the row to select is not under the list's head");
	while (n-- > 0)
		key("Down");
}

/* ---- set-up ---- */

static int setup(void **state)
{
	int64_t owner_id;

	(void)state;
	stack_init(&s, "test-console-share", argv0);
	stack_parkd(&s);
	owner_id = stack_register(&s, OWNER);
	stack_register(&s, RENTER);
	stack_register(&s, FRIEND);
	stack_register(&s, NEIGHBOUR);
	memset(&g, 0, sizeof(g));
	g.site_id = SITE;
	g.first = FIRST_SPOT;
	g.count = SPOTS;
	g.travel_ms = 50;
	stack_site_up(&s, &g, owner_id, GATEWAY);
	stack_phoned(&s, &owner, "owner", NULL);
	stack_phoned(&s, &renter, "renter", NULL);
	stack_phoned(&s, &friend, "friend", NULL);
	stack_phoned(&s, &neighbour, "neighbour", NULL);
	stack_password_file(&s, pwfile, sizeof(pwfile));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_tmux_stop(&term); /* when a test failed before test_clean_exit */
	return 0;
}

/* ---- tests ---- */

static void test_rules_and_renter_key(void **state)
{
	(void)state;
	assert_int_equal(CTL(&owner, "login", OWNER, "--password-file", pwfile), 0);
	assert_int_equal(CTL(&renter, "login", RENTER, "--password-file", pwfile), 0);
	assert_int_equal(CTL(&friend, "login", FRIEND, "--password-file", pwfile), 0);
	assert_int_equal(CTL(&neighbour, "login", NEIGHBOUR, "--password-file", pwfile), 0);
	assert_int_equal(CTL(&owner, "--json", "policy", SPOT_TEXT, "--approval", "yes",
			     "--renters-share", "yes"), 0);
	assert_non_null(strstr(out, "\"require_share_approval\":true"));
	assert_int_equal(CTL(&renter, "key", SPOT_TEXT), 0);
	open_and_close(&renter, "renter");
}

static void test_console_starts_with_nothing_pending(void **state)
{
	const char *argv[] = { "env", "LC_ALL=", "LANGUAGE=", "LANG=C.UTF-8", s.parkconsole,
			       "--server", s.base, "--localedir", localedir, "--phone", OWNER,
			       "--password-file", pwfile, NULL };

	(void)state;
	if (test_tmux_start(&term, s.dir, "owner-console", COLS, ROWS, argv) != 0)
		fail_msg("tmux could not start %s", s.parkconsole);
	wait_text("Live:", WAIT_MS);
	assert_non_null(strstr(screen, OWNER " owner"));
	key("4");
	wait_text("No share waits for your approval.", WAIT_MS);
	/* Its keys, and the owner's screens, are on the key bar. */
	assert_non_null(strstr(screen, "a approve"));
	assert_non_null(strstr(screen, "d refuse"));
	assert_non_null(strstr(screen, "4 requests"));
	assert_non_null(strstr(screen, "5 members"));
	/* And in the help. */
	key("?");
	wait_text("share requests, members", WAIT_MS);
	assert_non_null(strstr(screen, "revoke key"));
	key("Escape");
	wait_text("No share waits for your approval.", WAIT_MS);
}

static void test_approve_in_console(void **state)
{
	char want[96];

	(void)state;
	friend_share = share_pending(FRIEND);
	/* Pending: the recipient has nothing yet. */
	sync_keys(&friend, "friend");
	assert_int_equal(CTL(&friend, "--json", "unlock", SPOT_TEXT), 1);
	assert_true(spot_locked());
	/* The owner reads the requests again, and sees who shares with whom. */
	key("r");
	wait_text("Waiting for your approval: 1", WAIT_MS);
	assert_non_null(strstr(screen, FRIEND));
	assert_non_null(strstr(screen, RENTER));
	assert_non_null(strstr(screen, "S101"));
	select_row(FRIEND, "Asked");
	test_sleep_ms(200);
	assert_int_equal(test_tmux_screen(&term, screen, sizeof(screen)), 0);
	show("requests");
	key("a");
	snprintf(want, sizeof(want), "Approved share %ld to %s", friend_share, FRIEND);
	wait_text(want, WAIT_MS);
	wait_text("No share waits for your approval.", WAIT_MS);
	/* The recipient's phone gets it, and the lock opens for it. */
	sync_keys(&friend, "friend");
	open_and_close(&friend, "friend");
}

static void test_refused_never_reaches_the_lock(void **state)
{
	long before = lock_shares(), id;
	char want[96];

	(void)state;
	assert_true(before >= 1);
	id = share_pending(NEIGHBOUR);
	/* No `r`: the request comes to the owner's screen by itself (the "share" event). */
	wait_text(NEIGHBOUR, WAIT_MS);
	select_row(NEIGHBOUR, "Asked");
	key("d");
	snprintf(want, sizeof(want), "Refuse share %ld to %s for good?", id, NEIGHBOUR);
	wait_text(want, WAIT_MS);
	assert_non_null(strstr(screen, "y: yes; any other key: no"));
	type("y");
	snprintf(want, sizeof(want), "Refused share %ld to %s", id, NEIGHBOUR);
	wait_text(want, WAIT_MS);
	sync_keys(&neighbour, "neighbour");
	assert_int_equal(CTL(&neighbour, "--json", "unlock", SPOT_TEXT), 1);
	assert_true(spot_locked());
	test_sleep_ms(1000);
	assert_int_equal(lock_shares(), before);
}

static void test_spot_details_list_keys_and_shares(void **state)
{
	(void)state;
	key("1");
	wait_text("Legend", WAIT_MS);
	key("/");
	wait_text("Find a spot", WAIT_MS);
	type("S101");
	key("Enter");
	wait_text("Found S101.", WAIT_MS);
	key("Enter");
	wait_text("Keys and shares", WAIT_MS);
	/* The renter's key with its holder, the friend's share live, the refused one. */
	assert_non_null(strstr(screen, RENTER));
	assert_non_null(strstr(screen, FRIEND));
	assert_non_null(strstr(screen, NEIGHBOUR));
	assert_non_null(strstr(screen, "live"));
	assert_non_null(strstr(screen, "refused"));
	assert_non_null(strstr(screen, "co-share"));
	show("spot");
	key("Escape");
}

static void test_freeze_from_members(void **state)
{
	char want[96];

	(void)state;
	key("5");
	wait_text("Live keys and shares on your spots", WAIT_MS);
	wait_text(FRIEND, WAIT_MS);
	assert_non_null(strstr(screen, RENTER));
	select_row(FRIEND, "Shared by");
	key("f");
	snprintf(want, sizeof(want), "Froze share %ld to %s", friend_share, FRIEND);
	wait_text(want, WAIT_MS);
	wait_text("frozen", WAIT_MS);
	show("members");
	/* At the smallest size the list still fits, with its key bar. */
	assert_int_equal(test_tmux_resize(&term, 80, 24), 0);
	wait_text("Shar", WAIT_MS);
	test_sleep_ms(300);
	assert_int_equal(test_tmux_screen(&term, screen, sizeof(screen)), 0);
	assert_non_null(strstr(screen, FRIEND));
	assert_non_null(strstr(screen, "frozen"));
	assert_non_null(strstr(screen, "? help"));
	show("members at 80x24");
	assert_int_equal(test_tmux_resize(&term, COLS, ROWS), 0);
	wait_text("Shared by", WAIT_MS);
	/* After a sync the recipient's unlock is refused; the lock stays shut. */
	sync_keys(&friend, "friend");
	assert_int_equal(CTL(&friend, "--json", "unlock", SPOT_TEXT), 1);
	assert_true(spot_locked());
	/* The renter's own key still opens. */
	open_and_close(&renter, "renter");
}

static void test_one_time_code_asked(void **state)
{
	char secret[128], code[7], wrong[12], want[128];
	const char *p, *e;
	time_t now;
	long id;
	int i;

	(void)state;
	assert_int_equal(CTL(&owner, "--json", "otp", "enrol"), 0);
	p = strstr(out, "\"secret\":\"");
	assert_non_null(p);
	p += 10;
	e = strchr(p, '"');
	assert_non_null(e);
	snprintf(secret, sizeof(secret), "%.*s", (int)(e - p), p);
	now = time(NULL);
	assert_int_equal(test_totp(secret, now, code), 0);
	assert_int_equal(CTL(&owner, "otp", "confirm", code), 0);
	id = share_pending(NEIGHBOUR);
	key("4");
	wait_text(NEIGHBOUR, WAIT_MS);
	select_row(NEIGHBOUR, "Asked");
	key("a");
	snprintf(want, sizeof(want), "One-time code to approve share %ld to %s", id, NEIGHBOUR);
	wait_text(want, WAIT_MS);
	/* A wrong code is refused, and said so; nothing was approved. */
	snprintf(wrong, sizeof(wrong), "%06u", (unsigned)(atoi(code) + 500000) % 1000000u);
	for (i = -1; i <= 2; i++) {
		char other[7];

		assert_int_equal(test_totp(secret, now + 30 * i, other), 0);
		if (strcmp(other, wrong) == 0)
			snprintf(wrong, sizeof(wrong), "%06u",
				 (unsigned)(atoi(wrong) + 1) % 1000000u);
	}
	type(wrong);
	key("Enter");
	wait_text("Wrong code", WAIT_MS);
	show("one-time code");
	assert_null(strstr(screen, "Approved share"));
	/*
	 * The confirmation used this 30 s step's code: the next step's, which the server
	 * takes (one step either way), is fresh.
	 */
	assert_int_equal(test_totp(secret, now + 30, code), 0);
	type(code);
	key("Enter");
	snprintf(want, sizeof(want), "Approved share %ld to %s", id, NEIGHBOUR);
	wait_text(want, WAIT_MS);
	sync_keys(&neighbour, "neighbour");
	open_and_close(&neighbour, "neighbour");
}

static void test_clean_exit(void **state)
{
	char err[16384];
	pid_t pid = test_tmux_pid(&term);
	int status = -1, i;

	(void)state;
	if (pid > 0)
		kill(pid, SIGTERM);
	for (i = 0; i < 400 && !test_tmux_dead(&term, &status); i++)
		test_sleep_ms(25);
	test_read_file(term.err, err, sizeof(err));
	test_tmux_stop(&term);
	if (strstr(err, "Sanitizer") != NULL || strstr(err, "runtime error") != NULL)
		fail_msg("parkconsole's stderr:\n%s", err);
	if (status != 0)
		fail_msg("parkconsole ended with %d; its stderr:\n%s", status, err);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_and_renter_key),
		cmocka_unit_test(test_console_starts_with_nothing_pending),
		cmocka_unit_test(test_approve_in_console),
		cmocka_unit_test(test_refused_never_reaches_the_lock),
		cmocka_unit_test(test_spot_details_list_keys_and_shares),
		cmocka_unit_test(test_freeze_from_members),
		cmocka_unit_test(test_one_time_code_asked),
		cmocka_unit_test(test_clean_exit),
	};
	const char *slash = strrchr(argv[0], '/');

	(void)argc;
	argv0 = argv[0];
	if (slash != NULL)
		snprintf(localedir, sizeof(localedir), "%.*s/../locale", (int)(slash - argv[0]),
			 argv[0]);
	else
		snprintf(localedir, sizeof(localedir), "build/locale");
	return cmocka_run_group_tests_name("console-share", tests, setup, teardown);
}
