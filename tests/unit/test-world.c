/*
 * test-world.c: unit tests of lockfw/host/world.c against two locks booted in-process on
 * the host port in a temporary directory: each command's JSON and effect, a power cut
 * that reboots the lock, every kind of bad input with its error code and no change, and
 * the socket side (line splitting, overlong lines, a last line without a newline).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../lib/hex.h"
#include "../../lib/log.h"
#include "../../lockfw/host/world.h"

struct fixture {
	char dir[64];
	struct port_host host[2];
	struct lock lock[2];
	struct world_lock wl[2];
	struct world world;
	unsigned reboots;
};

static void boot(struct fixture *f, int i)
{
	assert_int_equal(lock_boot(&f->lock[i], &f->host[i].port), 0);
}

/* What the simulator does, minus the sockets. */
static void reboot(void *ctx, struct world_lock *wl)
{
	struct fixture *f = ctx;
	int i = (int)(wl - f->wl);

	f->reboots++;
	sim_hw_motor_drive(&f->host[i].hw, PORT_MOTOR_STOP);
	sim_hw_power_on(&f->host[i].hw);
	boot(f, i);
}

static int setup(void **state)
{
	static const char *const names[2] = { "B1-001", "B1-002" };
	struct fixture *f = calloc(1, sizeof(*f));
	struct port_host_opts o;
	char err[256];
	int i;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-world.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	port_host_opts_default(&o);
	for (i = 0; i < 2; i++) {
		if (port_host_open(&f->host[i], f->dir, (uint32_t)(101 + i), &o, err,
				   sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		boot(f, i);
		f->wl[i].spot_id = (uint32_t)(101 + i);
		f->wl[i].name = names[i];
		f->wl[i].host = &f->host[i];
		f->wl[i].lock = &f->lock[i];
	}
	world_init(&f->world, f->wl, 2, reboot, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];
	int i;

	world_close(&f->world);
	for (i = 0; i < 2; i++) {
		port_host_close(&f->host[i]);
		snprintf(path, sizeof(path), "%s/%d.flash", f->dir, 101 + i);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%d.key", f->dir, 101 + i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/world.sock", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Runs a command and returns its reply (static; valid until the next call). */
static const char *run(struct fixture *f, const char *cmd)
{
	static char out[65536];
	char *r = world_execute(&f->world, cmd, strlen(cmd));
	size_t len;

	assert_non_null(r);
	len = strlen(r);
	assert_true(len > 1 && len < sizeof(out));
	assert_int_equal(r[len - 1], '\n');
	assert_null(memchr(r, '\n', len - 1)); /* exactly one line */
	memcpy(out, r, len + 1);
	free(r);
	return out;
}

static void expect_field(const char *reply, const char *field)
{
	if (strstr(reply, field) == NULL)
		fail_msg("'%s' not in %s", field, reply);
}

static void test_state_json(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(run(f, "101 state"),
			    "{\"ok\":true,\"spot\":101,\"name\":\"B1-001\",\"provisioned\":false,"
			    "\"locked\":true,\"barrier\":\"up\",\"occupied\":false,\"battery\":100,"
			    "\"unlock_count\":0,\"time\":0,\"events\":1,\"creds\":0,\"shares\":0,"
			    "\"halted\":false}\n");
	expect_field(run(f, "  102\tstate \r"), "\"spot\":102,\"name\":\"B1-002\"");
}

static void test_car(void **state)
{
	struct fixture *f = *state;
	const char *r;

	r = run(f, "101 car present");
	expect_field(r, "\"ok\":true");
	expect_field(r, "\"occupied\":true");
	expect_field(r, "\"events\":2"); /* car_arrived, logged at once */
	assert_true(f->host[0].hw.car);
	r = run(f, "101 car absent");
	expect_field(r, "\"occupied\":false");
	expect_field(r, "\"events\":3");
	expect_field(run(f, "102 state"), "\"events\":1"); /* the other lock saw nothing */
}

static void test_battery(void **state)
{
	struct fixture *f = *state;
	const char *r;

	r = run(f, "101 battery 15");
	expect_field(r, "\"battery\":15");
	expect_field(r, "\"events\":2"); /* low_battery */
	expect_field(run(f, "101 battery 0"), "\"battery\":0");
	expect_field(run(f, "101 battery 100"), "\"battery\":100");
}

static void test_jam_force(void **state)
{
	struct fixture *f = *state;
	const char *r;

	expect_field(run(f, "101 jam"), "\"ok\":true");
	assert_true(f->host[0].hw.jam);
	expect_field(run(f, "101 unjam"), "\"ok\":true");
	assert_false(f->host[0].hw.jam);
	r = run(f, "101 force");
	expect_field(r, "\"locked\":false");
	expect_field(r, "\"barrier\":\"down\"");
	expect_field(r, "\"events\":2"); /* forced */
}

static void test_power_cut_reboots(void **state)
{
	struct fixture *f = *state;
	const char *r;

	r = run(f, "101 power-cut");
	expect_field(r, "\"ok\":true");
	assert_true(f->host[0].hw.cut_armed);
	assert_int_equal(f->reboots, 0);
	/* The car's event is the next flash write: it is torn and the lock reboots. */
	r = run(f, "101 car present");
	assert_int_equal(f->reboots, 1);
	assert_true(f->host[0].hw.powered);
	expect_field(r, "\"halted\":false");
	expect_field(r, "\"occupied\":true");
	expect_field(run(f, "101 power-cut 0"), "\"ok\":true");
	expect_field(run(f, "101 car absent"), "\"halted\":false");
	assert_int_equal(f->reboots, 2);
}

static void test_reboot(void **state)
{
	struct fixture *f = *state;
	const char *r;

	r = run(f, "102 reboot");
	assert_int_equal(f->reboots, 1);
	expect_field(r, "\"spot\":102");
	expect_field(r, "\"events\":2"); /* a second boot event */
}

static void test_pubkey(void **state)
{
	struct fixture *f = *state;
	uint8_t pub[64];
	char hex[129], want[200];

	assert_int_equal(port_device_key_pubkey(&f->host[0].devkey, pub), 0);
	assert_int_equal(hex_encode(pub, sizeof(pub), hex, sizeof(hex)), 128);
	snprintf(want, sizeof(want), "{\"ok\":true,\"spot\":101,\"device_pub\":\"%s\"}\n", hex);
	assert_string_equal(run(f, "101 pubkey"), want);
}

static void test_list_help(void **state)
{
	struct fixture *f = *state;
	const char *r;

	r = run(f, "list");
	assert_true(strncmp(r, "{\"ok\":true,\"locks\":[{\"spot\":101,", 32) == 0);
	expect_field(r, "},{\"spot\":102,\"name\":\"B1-002\"");
	r = run(f, "help");
	expect_field(r, "\"usage\":\"SPOT state\"");
	expect_field(r, "\"usage\":\"SPOT car present\"");
	expect_field(r, "\"usage\":\"SPOT battery N\"");
	expect_field(r, "\"usage\":\"SPOT power-cut\"");
	expect_field(r, "\"usage\":\"SPOT pubkey\"");
	expect_field(r, "\"usage\":\"list\"");
}

/* Sends `cmd` (len bytes) and expects error `code` with nothing changed anywhere. */
static void expect_error(struct fixture *f, const char *cmd, size_t len, const char *code)
{
	static char before[2][1024];
	struct sim_hw hw[2];
	char want[64], *r;
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(before[i], sizeof(before[i]), "%s", run(f, i == 0 ? "101 state" :
								  "102 state"));
		hw[i] = f->host[i].hw;
	}
	r = world_execute(&f->world, cmd, len);
	assert_non_null(r);
	snprintf(want, sizeof(want), "{\"ok\":false,\"error\":\"%s\",\"detail\":\"", code);
	if (strncmp(r, want, strlen(want)) != 0)
		fail_msg("for '%.*s' expected %s, got %s", (int)(len > 60 ? 60 : len), cmd, code,
			 r);
	assert_int_equal(r[strlen(r) - 1], '\n');
	free(r);
	for (i = 0; i < 2; i++) {
		assert_string_equal(run(f, i == 0 ? "101 state" : "102 state"), before[i]);
		assert_int_equal(f->host[i].hw.car, hw[i].car);
		assert_int_equal(f->host[i].hw.battery, hw[i].battery);
		assert_int_equal(f->host[i].hw.jam, hw[i].jam);
		assert_int_equal(f->host[i].hw.cut_armed, hw[i].cut_armed);
		assert_int_equal(f->host[i].hw.position_ms, hw[i].position_ms);
	}
	assert_int_equal(f->reboots, 0);
}

#define ERR(cmd, code) expect_error(f, cmd, sizeof(cmd) - 1, code)

static void test_bad_input(void **state)
{
	struct fixture *f = *state;
	char line[WORLD_LINE_MAX + 2], *r;

	ERR("", "empty_command");
	ERR("   \t ", "empty_command");
	ERR("fly", "unknown_command");
	ERR("101 fly", "unknown_command");
	ERR("101 State", "unknown_command");
	ERR("999 state", "unknown_spot");
	ERR("0 state", "bad_number");
	ERR("4294967296 state", "bad_number");
	ERR("0101 state", "bad_number");
	ERR("1x state", "bad_number");
	ERR("101 battery 101", "bad_number");
	ERR("101 battery -1", "bad_number");
	ERR("101 battery x", "bad_number");
	ERR("101 battery 050", "bad_number");
	ERR("101 battery 99999999999", "bad_number");
	ERR("101 power-cut 70000", "bad_number");
	ERR("101", "missing_command");
	ERR("101 car", "bad_argument");
	ERR("101 car sideways", "bad_argument");
	ERR("101 battery", "bad_argument");
	ERR("101 battery 5 6", "bad_argument");
	ERR("101 state now", "bad_argument");
	ERR("101 car present now", "bad_argument");
	ERR("list all", "bad_argument");
	ERR("help me", "bad_argument");
	ERR("\xff\xfe", "not_utf8");
	ERR("101 st\xc0\xaf", "not_utf8");        /* overlong '/' */
	ERR("101 \xed\xa0\x80", "not_utf8");      /* a surrogate */
	ERR("101 \xf4\x90\x80\x80", "not_utf8");  /* above U+10FFFF */
	ERR("101 \xe2\x82", "not_utf8");          /* truncated */
	ERR("101 \xc3\xa9tat", "unknown_command"); /* UTF-8, but no such command */
	ERR("101 st\x01" "ate", "bad_character");
	ERR("101 st\0ate", "bad_character");
	ERR("101 state\x7f", "bad_character");
	memset(line, 'x', sizeof(line));
	expect_error(f, line, WORLD_LINE_MAX + 1, "line_too_long");
	memcpy(line, "101 state", 9);
	memset(line + 9, ' ', WORLD_LINE_MAX - 9);
	r = world_execute(&f->world, line, WORLD_LINE_MAX); /* exactly the longest line */
	assert_non_null(r);
	expect_field(r, "\"ok\":true");
	free(r);
}

/* ---- the socket side ---- */

static int listen_at(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Runs the world's side of poll() a few times. */
static void pump(struct world *w)
{
	struct pollfd fds[WORLD_POLL_FDS];
	int i;
	size_t n;

	for (i = 0; i < 20; i++) {
		n = world_poll_fds(w, fds);
		if (poll(fds, n, 10) > 0)
			world_poll_handle(w, fds, n);
	}
}

/* Reads what the world has sent on fd so far (non-blocking). */
static size_t drain(int fd, char *buf, size_t cap)
{
	size_t have = 0;
	ssize_t n;

	while (have < cap - 1 && (n = recv(fd, buf + have, cap - 1 - have, MSG_DONTWAIT)) > 0)
		have += (size_t)n;
	buf[have] = '\0';
	return have;
}

static void test_socket(void **state)
{
	struct fixture *f = *state;
	char path[128], big[600], got[4096];
	int c;

	snprintf(path, sizeof(path), "%s/world.sock", f->dir);
	world_attach(&f->world, listen_at(path));
	c = connect_to(path);
	pump(&f->world);
	/* Two commands in one write, an overlong line, then one more. */
	memset(big, 'y', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	assert_int_equal(send(c, "101 battery 50\n102 state\n", 25, 0), 25);
	assert_int_equal(send(c, big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(send(c, "101 state\n", 10, 0), 10);
	pump(&f->world);
	drain(c, got, sizeof(got));
	assert_non_null(strstr(got, "\"battery\":50"));
	assert_non_null(strstr(got, "}\n{\"ok\":true,\"spot\":102"));
	assert_non_null(strstr(got, "}\n{\"ok\":false,\"error\":\"line_too_long\""));
	assert_non_null(strstr(got, "}\n{\"ok\":true,\"spot\":101"));
	/* A last command without a newline is answered, then the world closes. */
	assert_int_equal(send(c, "101 car present", 15, 0), 15);
	shutdown(c, SHUT_WR);
	pump(&f->world);
	drain(c, got, sizeof(got));
	assert_non_null(strstr(got, "\"occupied\":true"));
	assert_int_equal(recv(c, got, 1, 0), 0); /* EOF: closed after answering */
	close(c);
}

static void test_socket_busy(void **state)
{
	struct fixture *f = *state;
	char path[128], got[512];
	int c[WORLD_CLIENTS + 1], i;

	snprintf(path, sizeof(path), "%s/world.sock", f->dir);
	world_attach(&f->world, listen_at(path));
	for (i = 0; i <= WORLD_CLIENTS; i++) {
		c[i] = connect_to(path);
		pump(&f->world);
	}
	drain(c[WORLD_CLIENTS], got, sizeof(got));
	assert_non_null(strstr(got, "\"error\":\"busy\""));
	assert_int_equal(send(c[0], "help\n", 5, 0), 5);
	pump(&f->world);
	drain(c[0], got, sizeof(got));
	assert_non_null(strstr(got, "\"commands\""));
	for (i = 0; i <= WORLD_CLIENTS; i++)
		close(c[i]);
	pump(&f->world);
}

int main(void)
{
	/* The locks log every event at info level; only trouble is of interest here. */
	log_init("test-world", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_car, setup, teardown),
		cmocka_unit_test_setup_teardown(test_battery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jam_force, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_reboots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reboot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pubkey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_busy, setup, teardown),
	};

	return cmocka_run_group_tests_name("world", tests, NULL, NULL);
}
