/*
 * test-phone-ble.c: the phone and the gateway over BLE through BlueZ's D-Bus API, black
 * box: the same parkphoned and parkgw binaries that would talk to the real bluetoothd,
 * each on a private dbus-daemon of its own (a phone and a gateway are two machines)
 * where a BlueZ peer (tests/support/fake-bluez-main.c, test-only) implements the parts
 * of org.bluez the transport uses and carries the frames to parklockd's locks. The site
 * gives the locks' sim socket paths, not BLE addresses, so both find each lock by the
 * protocol's service UUID and its spot ID. The gateway brings the locks online and
 * delivers the driver's credential; the phone, at the minimum ATT MTU of 23, unlocks
 * and locks; with the BlueZ peer gone the lock is out of reach, and back again it opens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/test-dbus.h"
#include "../support/test-proc.h"
#include "../support/test-stack.h"

#define SITE 1
#define GATEWAY 1
#define FIRST_SPOT 101
#define SPOTS 3
#define DRIVER "+8613500000001"
#define OUT_MAX 16384

static struct stack s;
static struct stack_garage g;
static struct stack_phone phone;
static struct test_dbus gw_bus, phone_bus;
static pid_t gw_bluez = -1, phone_bluez = -1;
static char fake_bluez[512], out[OUT_MAX], pwfile[STACK_PATH_MAX];
static const char *argv0;

#define CTL(...) ctl((const char *const[]){ __VA_ARGS__, NULL })

static int ctl(const char *const *args)
{
	int r = stack_parkctl(&s, &phone, out, sizeof(out), args);

	fprintf(stderr, "test-phone-ble: parkctl %s %s -> %d: %s", args[0],
		args[1] != NULL ? args[1] : "", r, out);
	return r;
}

static bool spot_locked(uint32_t spot)
{
	char cmd[32], reply[4096];

	snprintf(cmd, sizeof(cmd), "%u state", spot);
	if (stack_world(&g, cmd, reply, sizeof(reply)) != 0)
		fail_msg("no world reply");
	return test_json_true(reply, "locked");
}

/* A BlueZ peer on `bus` that reaches every lock of g; extra options after. */
static pid_t start_bluez(const struct test_dbus *bus, const char *name, const char *mtu)
{
	char locks[SPOTS][STACK_PATH_MAX + 40], log[STACK_PATH_MAX];
	const char *args[4 + 2 * SPOTS + 3];
	size_t n = 0;
	uint32_t i;
	pid_t pid;

	args[n++] = "--bus";
	args[n++] = bus->address;
	args[n++] = "--mtu";
	args[n++] = mtu;
	for (i = 0; i < SPOTS; i++) {
		snprintf(locks[i], sizeof(locks[i]), "C0:FF:EE:00:%02X:%02X=%s/%u.sock:%u",
			 (unsigned)((FIRST_SPOT + i) >> 8), (unsigned)((FIRST_SPOT + i) & 0xff),
			 g.dir, (unsigned)(FIRST_SPOT + i), (unsigned)(FIRST_SPOT + i));
		args[n++] = "--lock";
		args[n++] = locks[i];
	}
	args[n] = NULL;
	snprintf(log, sizeof(log), "%s/%s.log", s.dir, name);
	pid = test_spawn(fake_bluez, args, log, log);
	assert_true(pid > 0);
	test_sleep_ms(300);
	assert_false(test_exited(pid));
	return pid;
}

static void start_bus(struct test_dbus *bus, const char *name)
{
	char dir[96]; /* short: the bus socket's path must fit a sun_path */

	snprintf(dir, sizeof(dir), "%s/%s", s.dir, name);
	assert_int_equal(mkdir(dir, 0700), 0);
	test_dbus_start(bus, dir);
}

static int setup(void **state)
{
	struct apiclient *admin;
	uint8_t gw_pub[64];
	char token[160];

	(void)state;
	stack_init(&s, "test-phone-ble", argv0);
	test_find_test_program(argv0, "FAKE_BLUEZ", "fake-bluez", fake_bluez, sizeof(fake_bluez));
	stack_parkd(&s);
	stack_login(&s, STACK_ADMIN_PHONE, token, sizeof(token));
	admin = stack_client(&s, token, NULL);
	memset(&g, 0, sizeof(g));
	g.site_id = SITE;
	g.first = FIRST_SPOT;
	g.count = SPOTS;
	g.travel_ms = 50;
	stack_garages(&s, &g, 1);
	stack_gateway_key(&s, 0, gw_pub);
	stack_site(&s, admin, &g, 0, GATEWAY, gw_pub);
	stack_provision(&s, admin, &g);
	/* The gateway's machine: its own bus and BlueZ. */
	start_bus(&gw_bus, "gwbus");
	gw_bluez = start_bluez(&gw_bus, "gw-bluez", "247");
	stack_gateway_with(&s, 0, GATEWAY, (const char *const[]){ "--transport", "bluez",
								  "--bus", gw_bus.address,
								  NULL });
	if (stack_wait_online(admin, &g, NULL, 30000) < SPOTS)
		stack_die("the locks did not come online through the gateway over BlueZ");
	apiclient_free(admin);
	/* The phone's machine, at the smallest MTU. */
	start_bus(&phone_bus, "phonebus");
	phone_bluez = start_bluez(&phone_bus, "phone-bluez", "23");
	stack_phoned(&s, &phone, "phone", (const char *const[]){ "--transport", "bluez", "--bus",
								 phone_bus.address, NULL });
	stack_register(&s, DRIVER);
	snprintf(pwfile, sizeof(pwfile), "%s/password", s.dir);
	if (test_write_file(pwfile, STACK_PASSWORD "\n") != 0)
		stack_die("cannot write %s", pwfile);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	stack_phoned_stop(&s, &phone);
	test_stop(&phone_bluez, SIGTERM);
	test_stop(&gw_bluez, SIGTERM);
	test_dbus_stop(&phone_bus);
	test_dbus_stop(&gw_bus);
	return 0;
}

static void test_unlock_and_lock_over_bluez(void **state)
{
	(void)state;
	assert_int_equal(CTL("login", DRIVER, "--password-file", pwfile), 0);
	/* The credential reaches the lock through the gateway's BlueZ. */
	assert_int_equal(CTL("key", "101"), 0);
	assert_true(spot_locked(101));
	assert_int_equal(CTL("unlock", "101"), 0);
	assert_false(spot_locked(101));
	assert_int_equal(CTL("lock", "101"), 0);
	assert_true(spot_locked(101));
}

static void test_bluez_gone_and_back(void **state)
{
	(void)state;
	assert_int_equal(test_stop(&phone_bluez, SIGTERM), 0);
	assert_int_equal(CTL("--json", "unlock", "101"), 1);
	assert_non_null(strstr(out, "\"lock_unreachable\""));
	assert_true(spot_locked(101));
	assert_false(test_exited(phone.pid));
	phone_bluez = start_bluez(&phone_bus, "phone-bluez2", "23");
	assert_int_equal(CTL("unlock", "101"), 0);
	assert_false(spot_locked(101));
	assert_int_equal(CTL("lock", "101"), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlock_and_lock_over_bluez),
		cmocka_unit_test(test_bluez_gone_and_back),
	};

	(void)argc;
	argv0 = argv[0];
	return cmocka_run_group_tests_name("phone-ble", tests, setup, teardown);
}
