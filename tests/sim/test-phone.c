/*
 * test-phone.c: the phone client, black box, over loopback: the real parkd, parkgw,
 * parklockd and two parkphoned (a driver's and an owner's), driven through the real
 * parkctl (env PARKPHONED, PARKCTL, ... else beside this test). A new driver registers
 * with the SMS code, logs in, gets a key, unlocks (the lock's world control shows it
 * down) and locks again, and the owner's `events --follow` shows both; limits hold on
 * the phone and, forced past it, at the lock; bad input of every kind gets a clear
 * error and leaves the daemon running; with the server stopped the cached key still
 * opens the lock; with the garage gone the lock is out of reach.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../../lib/p256.h"
#include "../../lib/transport.h"
#include "../../phone/ctlproto.h"
#include "../../phone/keyring.h"
#include "../../phone/operate.h"
#include "../support/test-proc.h"
#include "../support/test-stack.h"

#define SITE 1
#define GATEWAY 1
#define FIRST_SPOT 101
#define SPOTS 4
#define SPOT_DRIVER 101  /* the driver's key, unlocked and locked */
#define SPOT_EXPIRING 103 /* keys for it are valid 2 s */
#define OWNER "+8613700000001"
#define DRIVER "+8613700000002"
#define OUT_MAX 65536

static struct stack s;
static struct stack_garage g;
static struct stack_phone driver, owner;
static char out[OUT_MAX], pwfile[STACK_PATH_MAX], follow_out[STACK_PATH_MAX];
static char notify_cmd[STACK_PATH_MAX], notify_out[STACK_PATH_MAX];
static pid_t follower = -1;
static const char *argv0;

/* ---- helpers ---- */

#define CTL(p, ...) ctl(p, (const char *const[]){ __VA_ARGS__, NULL })

/* Runs parkctl for phone p; its output into out. Returns the exit status. */
static int ctl(const struct stack_phone *p, const char *const *args)
{
	int r = stack_parkctl(&s, p, out, sizeof(out), args);

	fprintf(stderr, "test-phone: parkctl %s%s%s -> %d: %s", args[0],
		args[1] != NULL ? " " : "", args[1] != NULL ? args[1] : "", r, out);
	return r;
}

static const char *world(const char *cmd)
{
	static char reply[8192];

	if (stack_world(&g, cmd, reply, sizeof(reply)) != 0)
		fail_msg("no world reply to '%s'", cmd);
	return reply;
}

static bool spot_locked(uint32_t spot)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "%u state", spot);
	return test_json_true(world(cmd), "locked");
}

/* Waits up to ms for `needle` in the file at path. */
static bool file_has(const char *path, const char *needle, long ms)
{
	static char text[OUT_MAX];
	int64_t end = test_ms_now() + ms;

	do {
		test_read_file(path, text, sizeof(text));
		if (strstr(text, needle) != NULL)
			return true;
		test_sleep_ms(50);
	} while (test_ms_now() < end);
	return false;
}

/* Waits until p's daemon follows the server's event stream. */
static bool wait_live(const struct stack_phone *p)
{
	int64_t end = test_ms_now() + 10000;

	do {
		if (stack_parkctl(&s, p, out, sizeof(out),
				  (const char *const[]){ "--json", "status", NULL }) == 0 &&
		    strstr(out, "\"server_up\":true") != NULL)
			return true;
		test_sleep_ms(100);
	} while (test_ms_now() < end);
	return false;
}

/* The lock's own clock, as its world control tells it. */
static long lock_time(uint32_t spot)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "%u state", spot);
	return test_json_num(world(cmd), "time");
}

/* One raw line to p's control socket; the reply line into out. */
static void raw_line(const struct stack_phone *p, const char *line)
{
	struct ctl_reader *r = malloc(sizeof(*r));
	char *reply;
	int fd = ctl_connect(p->socket);

	assert_non_null(r);
	assert_true(fd >= 0);
	ctl_reader_init(r, fd);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	assert_int_equal(ctl_read_line(r, &reply, 10000), CTL_READ_LINE);
	snprintf(out, sizeof(out), "%s", reply);
	close(fd);
	free(r);
}

static void patch_spot(uint32_t spot, const char *body)
{
	char token[160], path[64];
	struct apiclient *c;

	stack_login(&s, OWNER, token, sizeof(token));
	c = stack_client(&s, token, NULL);
	snprintf(path, sizeof(path), "/v1/spots/%u", spot);
	assert_int_equal(stack_call(c, "PATCH", path, body, NULL), 200);
	apiclient_free(c);
}

/* ---- set-up: the stack, both phones, the owner logged in and following ---- */

static int stack_up(void **state)
{
	char text[2 * STACK_PATH_MAX];

	(void)state;
	stack_init(&s, "test-phone", argv0);
	stack_parkd(&s);
	memset(&g, 0, sizeof(g));
	g.site_id = SITE;
	g.first = FIRST_SPOT;
	g.count = SPOTS;
	g.travel_ms = 50;
	stack_site_up(&s, &g, stack_register(&s, OWNER), GATEWAY);
	/* The owner's notification command: a script that writes what it is given. */
	snprintf(notify_cmd, sizeof(notify_cmd), "%s/notify.sh", s.dir);
	snprintf(notify_out, sizeof(notify_out), "%s/notified.txt", s.dir);
	snprintf(text, sizeof(text), "#!/bin/sh\necho \"$1 $2\" >>%s\n", notify_out);
	if (test_write_file(notify_cmd, text) != 0 || chmod(notify_cmd, 0700) != 0)
		stack_die("cannot write %s", notify_cmd);
	stack_phoned(&s, &driver, "driver", NULL);
	stack_phoned(&s, &owner, "owner", (const char *const[]){ "--notify-cmd", notify_cmd,
								 NULL });
	stack_password_file(&s, pwfile, sizeof(pwfile));
	return 0;
}

/* ---- tests ---- */

static void test_control_socket_bad_lines(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(stat(driver.socket, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	raw_line(&driver, "this is not json\n");
	assert_non_null(strstr(out, "\"bad_json\""));
	raw_line(&driver, "[1,2]\n");
	assert_non_null(strstr(out, "\"bad_json\""));
	raw_line(&driver, "{\"cmd\":\"fly\"}\n");
	assert_non_null(strstr(out, "\"unknown_command\""));
	raw_line(&driver, "{\"cmd\":42}\n");
	assert_non_null(strstr(out, "\"bad_request\""));
	raw_line(&driver, "{\"cmd\":\"whoami\"}\n");
	assert_non_null(strstr(out, "\"no_session\""));
	raw_line(&driver, "{\"cmd\":\"unlock\",\"spot\":-4}\n");
	assert_non_null(strstr(out, "\"unknown_spot\""));
	/* Still serving, and nothing was stored. */
	assert_int_equal(CTL(&driver, "--json", "status"), 0);
	assert_non_null(strstr(out, "\"logged_in\":false"));
	assert_non_null(strstr(out, "\"keys\":0"));
	assert_false(test_exited(driver.pid));
}

static void test_usage_errors(void **state)
{
	(void)state;
	assert_int_equal(CTL(&driver, "fly"), 2);
	assert_non_null(strstr(out, "unknown verb"));
	assert_int_equal(CTL(&driver, "unlock"), 2);
	assert_int_equal(CTL(&driver, "unlock", "--bogus", "101"), 2);
	assert_int_equal(CTL(&driver, "unlock", "--help"), 0);
	assert_non_null(strstr(out, "Usage: parkctl unlock"));
	assert_int_equal(CTL(&driver, "key", "101"), 1);
	assert_non_null(strstr(out, "log in"));
}

static void test_register_verify_login(void **state)
{
	char code[7];

	(void)state;
	assert_int_equal(CTL(&driver, "register", DRIVER), 0);
	stack_sms_code(&s, DRIVER, code);
	/* A wrong code makes nothing; the right one makes the account. */
	assert_int_equal(CTL(&driver, "verify", DRIVER, code[0] == '9' ? "000000" : "999999",
			     "--password-file", pwfile), 1);
	assert_int_equal(CTL(&driver, "login", DRIVER, "--password-file", pwfile), 1);
	assert_int_equal(CTL(&driver, "verify", DRIVER, code, "--password-file", pwfile), 0);
	assert_int_equal(CTL(&driver, "login", DRIVER, "--password-file", pwfile), 0);
	assert_int_equal(CTL(&driver, "whoami"), 0);
	assert_non_null(strstr(out, DRIVER));
	assert_int_equal(CTL(&owner, "login", OWNER, "--password-file", pwfile), 0);
	snprintf(follow_out, sizeof(follow_out), "%s/owner-events.txt", s.dir);
	follower = stack_parkctl_spawn(&s, &owner, follow_out,
				       (const char *const[]){ "--json", "events", "--follow",
							      NULL });
	assert_true(follower > 0);
	/* The owner's daemon follows the server's event stream before anything happens. */
	assert_true(wait_live(&owner));
}

static void test_key_unlock_lock(void **state)
{
	char needle[64];

	(void)state;
	assert_int_equal(CTL(&driver, "--json", "key", "101"), 0);
	assert_non_null(strstr(out, "\"key_id\""));
	assert_non_null(strstr(out, "\"usable\":true"));
	assert_true(spot_locked(SPOT_DRIVER));
	assert_int_equal(CTL(&driver, "unlock", "101"), 0);
	assert_non_null(strstr(out, "barrier is down"));
	assert_false(spot_locked(SPOT_DRIVER));
	assert_int_equal(CTL(&driver, "lock", "S101"), 0); /* by name, too */
	assert_true(spot_locked(SPOT_DRIVER));
	/* The owner learns of both. */
	snprintf(needle, sizeof(needle), "\"kind\":\"unlocked\"");
	assert_true(file_has(follow_out, needle, 10000));
	assert_true(file_has(follow_out, "\"kind\":\"locked\"", 10000));
	/* And so does the notification command, with the event's JSON. */
	assert_true(file_has(notify_out, "unlocked {", 10000));
	assert_true(file_has(notify_out, "locked {", 10000));
	assert_int_equal(CTL(&driver, "keys"), 0);
	assert_non_null(strstr(out, "Key "));
	assert_int_equal(CTL(&owner, "events"), 0);
	assert_non_null(strstr(out, "spot 101"));
}

static void test_unknown_spot_and_no_key(void **state)
{
	(void)state;
	assert_int_equal(CTL(&driver, "--json", "key", "9999"), 1);
	assert_non_null(strstr(out, "\"unknown_spot\""));
	assert_int_equal(CTL(&driver, "key", "no-such-spot"), 1);
	assert_int_equal(CTL(&driver, "--json", "unlock", "102"), 1);
	assert_non_null(strstr(out, "\"no_key\""));
	assert_true(spot_locked(102));
}

static void test_map_and_route(void **state)
{
	char svg[STACK_PATH_MAX], text[256];

	(void)state;
	assert_int_equal(CTL(&driver, "map", "101", "--ascii"), 0);
	assert_non_null(strstr(out, "S101"));
	assert_non_null(strstr(out, "free"));
	assert_int_equal(CTL(&driver, "route", "101"), 0);
	assert_non_null(strstr(out, "1. "));
	snprintf(svg, sizeof(svg), "%s/map.svg", s.dir);
	assert_int_equal(CTL(&driver, "map", "101", "--svg", svg), 0);
	test_read_file(svg, text, sizeof(text));
	assert_non_null(strstr(text, "<svg"));
}

/* The key, read from the driver's files as the daemon wrote them. */
static void load_driver_key(uint32_t spot, struct phone_key *k, EVP_PKEY **device)
{
	struct keyring *kr = calloc(1, sizeof(*kr));
	char path[2 * STACK_PATH_MAX], err[256];
	uint8_t pub[64];
	struct phone_key *held;

	assert_non_null(kr);
	snprintf(path, sizeof(path), "%s/device.key", driver.dir);
	*device = p256_load_private(path);
	assert_non_null(*device);
	assert_int_equal(p256_public_raw(*device, pub), 0);
	snprintf(path, sizeof(path), "%s/keys.json", driver.dir);
	assert_int_equal(keyring_load(kr, path, pub, err, sizeof(err)), 0);
	held = keyring_for_spot(kr, spot, 0);
	assert_non_null(held);
	*k = *held;
	free(kr);
}

static void test_expired_key_refused_by_phone_and_lock(void **state)
{
	struct operate_outcome res;
	struct phone_key k;
	struct transport *t;
	EVP_PKEY *device;

	(void)state;
	patch_spot(SPOT_EXPIRING, "{\"key_valid_s\":2}");
	assert_int_equal(CTL(&driver, "key", "103"), 0);
	test_sleep_ms(3200);
	assert_int_equal(CTL(&driver, "--json", "unlock", "103"), 1);
	assert_non_null(strstr(out, "\"key_expired\""));
	assert_true(spot_locked(SPOT_EXPIRING));
	/* Forced past the phone's check, once the lock's own clock is past the end: the
	 * lock refuses it too. */
	load_driver_key(SPOT_EXPIRING, &k, &device);
	for (int i = 0; i < 300 && lock_time(SPOT_EXPIRING) <= (long)k.ekey.not_after; i++)
		test_sleep_ms(100);
	assert_true(lock_time(SPOT_EXPIRING) > (long)k.ekey.not_after);
	t = transport_sim_new();
	assert_non_null(t);
	assert_int_equal(phone_operate(t, NULL, &k, device, PROTO_OP_UNLOCK, NULL, &res), -1);
	assert_int_equal(res.kind, OPERATE_REFUSED);
	assert_string_equal(proto_status_name(res.lock_code), proto_status_name(PROTO_E_EXPIRED));
	assert_true(spot_locked(SPOT_EXPIRING));
	transport_free(t);
	EVP_PKEY_free(device);
}

static void test_corrupt_keys_file(void **state)
{
	char path[2 * STACK_PATH_MAX];

	(void)state;
	assert_int_equal(stack_phoned_stop(&s, &driver), 0);
	snprintf(path, sizeof(path), "%s/keys.json", driver.dir);
	assert_int_equal(test_write_file(path, "{\"version\":1,\"keys\":[{\"ekey\":\"zz"), 0);
	stack_phoned(&s, &driver, "driver", NULL);
	assert_true(file_has(driver.log, "corrupt", 5000));
	/* The daemon runs on, and fetches the keys from the server again. */
	assert_int_equal(CTL(&driver, "--json", "keys"), 0);
	assert_non_null(strstr(out, "\"synced\":true"));
	assert_int_equal(CTL(&driver, "unlock", "101"), 0);
	assert_false(spot_locked(SPOT_DRIVER));
	assert_int_equal(CTL(&driver, "lock", "101"), 0);
}

static void test_offline_unlock(void **state)
{
	(void)state;
	assert_int_equal(test_stop(&s.parkd_pid, SIGTERM), 0);
	assert_int_equal(CTL(&driver, "unlock", "101"), 0);
	assert_false(spot_locked(SPOT_DRIVER));
	assert_int_equal(CTL(&driver, "lock", "101"), 0);
	assert_true(spot_locked(SPOT_DRIVER));
	/* What needs the server says so; the cached map still shows. */
	assert_int_equal(CTL(&driver, "--json", "key", "102"), 1);
	assert_non_null(strstr(out, "\"server_down\""));
	assert_int_equal(CTL(&driver, "route", "101"), 0);
	assert_false(test_exited(driver.pid));
}

/* Lines of the file that contain `needle`. */
static int lines_with(const char *path, const char *needle)
{
	static char text[1 << 16];
	char *line, *save = NULL;
	int n = 0;

	test_read_file(path, text, sizeof(text));
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		n += strstr(line, needle) != NULL;
	return n;
}

/* Events of `kind` parkd stored for spot 101: every one of them is the owner's news. */
static int stored(const char *kind)
{
	char path[2 * STACK_PATH_MAX], sql[160];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n = -1;

	snprintf(path, sizeof(path), "%s/parkd/parkd.db", s.dir);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM events WHERE spot_id = %d AND "
		 "kind = '%s'", SPOT_DRIVER, kind);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Notifications of the owner's daemon for `kind` ("unlocked", "locked"). */
static int notified(const char *kind)
{
	int unlocked = lines_with(notify_out, "unlocked {");

	return strcmp(kind, "unlocked") == 0 ? unlocked :
		lines_with(notify_out, "locked {") - unlocked;
}

/*
 * What happened while the server was away (the driver's unlock and lock of
 * test_offline_unlock, and whatever the gateway had not posted yet, held by it) reaches
 * the owner's notification command once the server is back: the owner's daemon resumes
 * its stream after the last event it had, so every stored unlock and lock of the spot is
 * notified once, the gap's as replay or live, never missed and never twice.
 */
static void test_gap_reaches_owner_once(void **state)
{
	int before = notified("unlocked");
	double end;

	(void)state;
	stack_parkd_restart(&s);
	end = stack_now_ms() + 20000;
	/* The gap holds at least test_offline_unlock's unlock; wait for it to be stored. */
	while ((stored("unlocked") <= before || notified("unlocked") < stored("unlocked") ||
		notified("locked") < stored("locked")) && stack_now_ms() < end)
		test_sleep_ms(50);
	test_sleep_ms(1000); /* anything sent twice would be here by now */
	assert_true(stored("unlocked") > before);
	assert_int_equal(notified("unlocked"), stored("unlocked"));
	assert_int_equal(notified("locked"), stored("locked"));
	assert_int_equal(test_stop(&s.parkd_pid, SIGTERM), 0);
}

static void test_lock_out_of_reach(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < s.nlocks; i++)
		test_stop(&s.locks[i], SIGTERM);
	assert_int_equal(CTL(&driver, "--json", "unlock", "101"), 1);
	assert_non_null(strstr(out, "\"lock_unreachable\""));
	assert_false(test_exited(driver.pid));
	assert_int_equal(CTL(&driver, "status"), 0);
}

static int stack_down(void **state)
{
	(void)state;
	test_stop(&follower, SIGTERM);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_socket_bad_lines),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_register_verify_login),
		cmocka_unit_test(test_key_unlock_lock),
		cmocka_unit_test(test_unknown_spot_and_no_key),
		cmocka_unit_test(test_map_and_route),
		cmocka_unit_test(test_expired_key_refused_by_phone_and_lock),
		cmocka_unit_test(test_corrupt_keys_file),
		cmocka_unit_test(test_offline_unlock),
		cmocka_unit_test(test_gap_reaches_owner_once),
		cmocka_unit_test(test_lock_out_of_reach),
	};

	(void)argc;
	argv0 = argv[0];
	return cmocka_run_group_tests_name("phone", tests, stack_up, stack_down);
}
