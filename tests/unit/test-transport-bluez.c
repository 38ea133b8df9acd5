/*
 * test-transport-bluez.c: the BlueZ transport (lib/transport-bluez.c) against a real
 * dbus-daemon on a private socket, fake-bluez (tests/support/fake-bluez-main.c) playing
 * bluetoothd, and a real parklockd behind it: finding locks by address and by advertised
 * spot, HELLO/INFO, a challenge, a whole unlock at MTU 23, EVENT notifications, bad
 * input, bad data from the bus, the lock or BlueZ going away, and time-outs. Works at the
 * fragment level (frag.h); the tests run in order on one garage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "../../lib/lockconn.h"
#include "../../lib/p256.h"
#include "../../lib/transport.h"
#include "../../lockfw/proto/frag.h"
#include "../../lockfw/proto/proto.h"
#include "../support/test-authority.h"
#include "../support/test-dbus.h"
#include "../support/test-proc.h"

#define WAIT_MS 5000
#define SITE_ID 1
#define USER_ID 42
#define KEY_ID 9
#define MAC101 "AA:BB:CC:DD:EE:01"
#define MAC102 "AA:BB:CC:DD:EE:02"
#define MAC_NONE "AA:BB:CC:DD:EE:99"
#define REP101 "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service0010/char0013"
#define REQ101 "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service0010/char0011"
#define DEV101 "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01"
#define IF_CHAR "org.bluez.GattCharacteristic1"
#define IF_DEVICE "org.bluez.Device1"

static const char *argv0;
static char parklockd[512], fake_bluez[512];
static char dir[64], lockdir[96], conf[128], lockd_log[128], fake_log[128];
static char sock101[128], sock102[128], worldsock[128];
static char lock101[200], lock102[200];
static struct test_dbus bus;
static struct test_site site;
static struct test_user user;
static pid_t lockd_pid = -1, fake_pid = -1;
static uint8_t next_tag = 1;

/* What the fragments of received frames looked like. */
struct frag_stats {
	size_t max;     /* longest fragment */
	unsigned count; /* fragments */
};

/* ---- processes ---- */

static void start_parklockd(void)
{
	const char *args[] = { "--log-level", "debug", "--travel-ms", "50", conf, NULL };
	int64_t end = test_ms_now() + 10000;

	lockd_pid = test_spawn(parklockd, args, lockd_log, lockd_log);
	assert_true(lockd_pid > 0);
	while (test_ms_now() < end) {
		if (test_wait_socket(worldsock, 20))
			return;
		if (test_exited(lockd_pid))
			fail_msg("parklockd exited at start; see %s", lockd_log);
	}
	fail_msg("parklockd did not open %s; see %s", worldsock, lockd_log);
}

/* Whether someone owns `name` on the test bus. */
static bool name_owned(const char *name)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	sd_bus *b = NULL;
	int has = 0;

	if (sd_bus_new(&b) >= 0 && sd_bus_set_address(b, bus.address) >= 0 &&
	    sd_bus_set_bus_client(b, 1) >= 0 && sd_bus_start(b) >= 0 &&
	    sd_bus_call_method(b, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "NameHasOwner", &e, &reply, "s", name) >= 0 &&
	    sd_bus_message_read(reply, "b", &has) < 0)
		has = 0;
	sd_bus_message_unref(reply);
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(b);
	return has != 0;
}

/* Starts fake-bluez with both locks and `mtu` ("247", "23", "0", ...). */
static void start_fake(const char *mtu)
{
	const char *args[] = { "--bus", bus.address, "--mtu", mtu, "--lock", lock101,
			       "--lock", lock102, "--log-level", "debug", NULL };
	int64_t end = test_ms_now() + WAIT_MS;

	fake_pid = test_spawn(fake_bluez, args, fake_log, fake_log);
	assert_true(fake_pid > 0);
	while (test_ms_now() < end) {
		if (name_owned("org.bluez"))
			return;
		if (test_exited(fake_pid))
			fail_msg("fake-bluez exited at start; see %s", fake_log);
		test_sleep_ms(10);
	}
	fail_msg("fake-bluez did not take org.bluez; see %s", fake_log);
}

/* Stops fake-bluez, which must exit 0 on SIGTERM and let go of org.bluez. */
static void stop_fake(void)
{
	assert_int_equal(test_stop(&fake_pid, SIGTERM), 0);
	assert_false(name_owned("org.bluez"));
}

static const char *world(const char *cmd)
{
	static char reply[8192];

	if (test_world(worldsock, cmd, reply, sizeof(reply)) != 0)
		fail_msg("no reply to '%s'", cmd);
	return reply;
}

/* ---- the transport, frames over fragments ---- */

static struct transport *open_transport(void)
{
	struct transport *t = transport_bluez_new(bus.address, NULL);

	if (t == NULL)
		fail_msg("transport_bluez_new: %s; see %s", strerror(errno), fake_log);
	assert_string_equal(t->ops->name, "bluez");
	return t;
}

static void connect_ok(struct transport *t, const char *address, uint32_t spot)
{
	int r = t->ops->connect(t, address, spot, WAIT_MS);

	if (r != 0)
		fail_msg("connect %s spot %u: %d; see %s", address, (unsigned)spot, r, fake_log);
}

/* Sends a frame in fragments for `mtu`; each must be accepted. */
static void send_frame(struct transport *t, const uint8_t *frame, size_t len, uint16_t mtu)
{
	uint8_t frag[FRAG_PAYLOAD_MAX];
	struct frag_tx tx;
	int n;

	assert_int_equal(frag_tx_init(&tx, frame, len, mtu), 0);
	while ((n = frag_tx_next(&tx, frag, sizeof(frag))) > 0) {
		assert_true(n <= mtu - PROTO_ATT_OVERHEAD);
		assert_int_equal(t->ops->send(t, frag, (size_t)n), 0);
	}
	assert_int_equal(n, 0);
}

/*
 * Receives one whole frame into out[PROTO_FRAME_MAX] within timeout_ms. Returns its
 * length, 0 on time-out, or the transport's negative error.
 */
static int recv_frame(struct transport *t, uint8_t *out, int timeout_ms, struct frag_stats *st)
{
	uint8_t frag[FRAG_PAYLOAD_MAX];
	struct frag_rx rx;
	int64_t end = test_ms_now() + timeout_ms;
	int n, r;

	frag_rx_reset(&rx);
	for (;;) {
		int64_t left = end - test_ms_now();

		if (left <= 0)
			return 0;
		n = t->ops->recv(t, frag, sizeof(frag), (int)left);
		if (n <= 0)
			return n;
		if (st != NULL) {
			st->count++;
			if ((size_t)n > st->max)
				st->max = (size_t)n;
		}
		r = frag_rx_feed(&rx, frag, (size_t)n);
		assert_true(r >= 0);
		if (r == 1) {
			memcpy(out, rx.buf, rx.total);
			return rx.total;
		}
	}
}

/*
 * Sends a request frame (its tag replaced by a fresh one) at `mtu` and decodes the reply
 * with that tag into *m; EVENT notifications on the way are skipped.
 */
static void request(struct transport *t, uint8_t *frame, size_t len, uint16_t mtu,
		    struct proto_msg *m, struct frag_stats *st)
{
	uint8_t buf[PROTO_FRAME_MAX];
	uint8_t tag = next_tag++;
	int64_t end = test_ms_now() + WAIT_MS;
	int n;

	if (next_tag == 0)
		next_tag = 1;
	frame[2] = tag;
	send_frame(t, frame, len, mtu);
	while (test_ms_now() < end) {
		n = recv_frame(t, buf, WAIT_MS, st);
		if (n <= 0)
			fail_msg("no reply to type 0x%02x (%d)", frame[1], n);
		assert_int_equal(proto_decode(buf, (size_t)n, m), 0);
		if (m->type != PROTO_EVENT && m->tag == tag)
			return;
	}
	fail_msg("no reply with tag %u", tag);
}

static void request_msg(struct transport *t, struct proto_msg *q, uint16_t mtu,
			struct proto_msg *m, struct frag_stats *st)
{
	uint8_t frame[PROTO_FRAME_MAX];
	size_t len = test_frame(q, frame, sizeof(frame));

	request(t, frame, len, mtu, m, st);
}

/* HELLO at `mtu`; checks INFO and returns its MTU. */
static uint16_t hello(struct transport *t, uint16_t mtu, uint32_t spot, struct frag_stats *st)
{
	struct proto_msg q, m;

	memset(&q, 0, sizeof(q));
	q.type = PROTO_HELLO;
	q.u.hello.mtu = mtu;
	request_msg(t, &q, PROTO_MTU_MIN, &m, st);
	assert_int_equal(m.type, PROTO_INFO);
	assert_int_equal(m.u.info.spot_id, spot);
	assert_int_equal(m.u.info.site_id, SITE_ID);
	assert_true(m.u.info.flags & PROTO_INFO_PROVISIONED);
	return m.u.info.mtu;
}

/* Waits for an EVENT of `kind`; other frames are skipped. */
static void expect_event(struct transport *t, uint8_t kind)
{
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_msg m;
	int64_t end = test_ms_now() + WAIT_MS;
	int n;

	while (test_ms_now() < end) {
		assert_int_equal(t->ops->wait(t, -1, WAIT_MS), TRANSPORT_WAIT_READY);
		n = recv_frame(t, buf, WAIT_MS, NULL);
		assert_true(n > 0);
		assert_int_equal(proto_decode(buf, (size_t)n, &m), 0);
		if (m.type == PROTO_EVENT && m.u.event.kind == kind) {
			assert_int_equal(m.tag, 0);
			return;
		}
	}
	fail_msg("no %s event", proto_event_name(kind));
}

/* Waits for the link's end: fragments before it are skipped; returns the error. */
static int recv_until_error(struct transport *t, int timeout_ms)
{
	uint8_t frag[FRAG_PAYLOAD_MAX];
	int64_t end = test_ms_now() + timeout_ms;
	int n;

	while (test_ms_now() < end) {
		n = t->ops->recv(t, frag, sizeof(frag), 100);
		if (n < 0)
			return n;
	}
	return 0;
}

/* Nothing arrives within ms. */
static void expect_silence(struct transport *t, int ms)
{
	uint8_t frag[FRAG_PAYLOAD_MAX];

	assert_int_equal(t->ops->recv(t, frag, sizeof(frag), ms), 0);
}

/* ---- talking to the bus directly ---- */

static sd_bus *test_bus(void)
{
	sd_bus *b = NULL;

	assert_true(sd_bus_new(&b) >= 0);
	assert_true(sd_bus_set_address(b, bus.address) >= 0);
	assert_true(sd_bus_set_bus_client(b, 1) >= 0);
	assert_true(sd_bus_start(b) >= 0);
	return b;
}

/*
 * Has fake-bluez (org.bluez itself) emit PropertiesChanged(iface, {name: value}) on
 * path; the value is `type` "ay" (p, len), "s" (p as a string), "q" or "b" (len).
 */
static void inject(sd_bus *b, const char *path, const char *iface, const char *name,
		   const char *type, const void *p, size_t len)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL;

	assert_true(sd_bus_message_new_method_call(b, &m, "org.bluez", "/org/parking/fakebluez",
						   "org.parking.FakeBluez1",
						   "InjectProperty") >= 0);
	assert_true(sd_bus_message_append(m, "oss", path, iface, name) >= 0);
	assert_true(sd_bus_message_open_container(m, 'v', type) >= 0);
	if (strcmp(type, "ay") == 0)
		assert_true(sd_bus_message_append_array(m, 'y', p, len) >= 0);
	else if (strcmp(type, "s") == 0)
		assert_true(sd_bus_message_append(m, "s", (const char *)p) >= 0);
	else if (strcmp(type, "q") == 0)
		assert_true(sd_bus_message_append(m, "q", (uint16_t)len) >= 0);
	else
		assert_true(sd_bus_message_append(m, "b", (int)len) >= 0);
	assert_true(sd_bus_message_close_container(m) >= 0);
	if (sd_bus_call(b, m, 0, &e, NULL) < 0)
		fail_msg("InjectProperty: %s", e.name);
	sd_bus_message_unref(m);
	sd_bus_error_free(&e);
}

/* Has fake-bluez emit InterfacesRemoved(path, [iface]) while the object stays. */
static void inject_removed(sd_bus *b, const char *path, const char *iface)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;

	if (sd_bus_call_method(b, "org.bluez", "/org/parking/fakebluez", "org.parking.FakeBluez1",
			       "InjectInterfacesRemoved", &e, NULL, "oas", path, 1, iface) < 0)
		fail_msg("InjectInterfacesRemoved: %s", e.name);
	sd_bus_error_free(&e);
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
	char text[512], sitepub[128];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/test-transport-bluez.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	test_find_program(argv0, "PARKLOCKD", "parklockd", parklockd, sizeof(parklockd));
	test_find_test_program(argv0, "FAKE_BLUEZ", "fake-bluez", fake_bluez, sizeof(fake_bluez));
	snprintf(lockdir, sizeof(lockdir), "%s/locks", dir);
	snprintf(conf, sizeof(conf), "%s/garage.conf", dir);
	snprintf(lockd_log, sizeof(lockd_log), "%s/parklockd.log", dir);
	snprintf(fake_log, sizeof(fake_log), "%s/fake-bluez.log", dir);
	snprintf(sock101, sizeof(sock101), "%s/101.sock", lockdir);
	snprintf(sock102, sizeof(sock102), "%s/102.sock", lockdir);
	snprintf(worldsock, sizeof(worldsock), "%s/world.sock", lockdir);
	snprintf(lock101, sizeof(lock101), MAC101 "=%s:101", sock101);
	snprintf(lock102, sizeof(lock102), MAC102 "=%s:102", sock102);
	snprintf(sitepub, sizeof(sitepub), "%s/site.pub", dir);
	test_site_init(&site, SITE_ID);
	test_user_init(&user, USER_ID);
	if (p256_save_public_hex(site.pub, sitepub) != 0)
		return -1;
	snprintf(text, sizeof(text),
		 "# made by test-transport-bluez\n"
		 "site %d\n"
		 "dir %s\n"
		 "site-key %s\n"
		 "lock 101 B1-001\n"
		 "lock 102 B1-002\n", SITE_ID, lockdir, sitepub);
	if (test_write_file(conf, text) != 0)
		return -1;
	fprintf(stderr, "test-transport-bluez: %s, %s on %s\n", parklockd, fake_bluez, dir);
	start_parklockd();
	test_dbus_start(&bus, dir);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[256];

	(void)state;
	if (fake_pid > 0)
		test_stop(&fake_pid, SIGKILL);
	if (lockd_pid > 0)
		test_stop(&lockd_pid, SIGKILL);
	test_dbus_stop(&bus);
	test_site_free(&site);
	test_user_free(&user);
	if (getenv("KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return 0;
}

/* ---- the tests, in order ---- */

static void test_fake_command_line(void **state)
{
	static const char *const bad[][4] = {
		{ "--mtu", "22", NULL, NULL },
		{ "--mtu", "518", NULL, NULL },
		{ "--mtu", "x", NULL, NULL },
		{ "--lock", "AA:BB:CC:DD:EE=/x:1", NULL, NULL },
		{ "--lock", "aa:bb:cc:dd:ee:01=/x:1", NULL, NULL },
		{ "--lock", MAC101 "=/x:0", NULL, NULL },
		{ "--lock", MAC101 "=:5", NULL, NULL },
		{ "--lock", MAC101 "=/x", NULL, NULL },
		{ "--bogus", NULL, NULL, NULL },
	};
	char out[160], err[160], text[4096];
	const char *args[8];
	size_t i;

	(void)state;
	snprintf(out, sizeof(out), "%s/cli.out", dir);
	snprintf(err, sizeof(err), "%s/cli.err", dir);
	args[0] = "--help";
	args[1] = NULL;
	unlink(out);
	assert_int_equal(test_wait_exit(test_spawn(fake_bluez, args, out, NULL), WAIT_MS), 0);
	test_read_file(out, text, sizeof(text));
	assert_non_null(strstr(text, "Usage: fake-bluez"));
	assert_non_null(strstr(text, "--lock"));
	args[0] = NULL;
	assert_int_equal(test_wait_exit(test_spawn(fake_bluez, args, NULL, NULL), WAIT_MS), 2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		args[0] = "--bus";
		args[1] = bus.address;
		args[2] = bad[i][0];
		args[3] = bad[i][1];
		args[4] = NULL;
		unlink(err);
		assert_int_equal(test_wait_exit(test_spawn(fake_bluez, args, NULL, err), WAIT_MS),
				 2);
		test_read_file(err, text, sizeof(text));
		assert_non_null(strstr(text, "--help"));
	}
	/* The same lock twice. */
	args[2] = "--lock";
	args[3] = lock101;
	args[4] = "--lock";
	args[5] = lock101;
	args[6] = NULL;
	assert_int_equal(test_wait_exit(test_spawn(fake_bluez, args, NULL, NULL), WAIT_MS), 2);
	/* No bus there. */
	args[0] = "--bus";
	args[1] = "unix:path=/nonexistent/test-transport-bluez";
	args[2] = NULL;
	assert_int_equal(test_wait_exit(test_spawn(fake_bluez, args, NULL, NULL), WAIT_MS), 1);
	assert_false(name_owned("org.bluez"));
}

static void test_new_without_bluez(void **state)
{
	char nobus[160], longname[40];
	struct transport *t;

	(void)state;
	snprintf(nobus, sizeof(nobus), "unix:path=%s/no-such-bus", dir);
	errno = 0;
	assert_null(transport_bluez_new(nobus, NULL));
	assert_int_not_equal(errno, 0);
	/* A bus, but nobody owns org.bluez yet. */
	errno = 0;
	assert_null(transport_bluez_new(bus.address, NULL));
	assert_int_not_equal(errno, 0);
	/* Adapter names that cannot be part of an object path: refused before any call. */
	memset(longname, 'a', 33);
	longname[33] = '\0';
	errno = 0;
	assert_null(transport_bluez_new(bus.address, ""));
	assert_int_equal(errno, EINVAL);
	assert_null(transport_bluez_new(bus.address, "hci0/dev_x"));
	assert_int_equal(errno, EINVAL);
	assert_null(transport_bluez_new(bus.address, "hci 0"));
	assert_int_equal(errno, EINVAL);
	assert_null(transport_bluez_new(bus.address, longname));
	assert_int_equal(errno, EINVAL);

	start_fake("247");
	errno = 0;
	assert_null(transport_bluez_new(bus.address, "hci1"));
	assert_int_equal(errno, ENODEV);
	t = transport_bluez_new(bus.address, "hci0");
	assert_non_null(t);
	transport_free(t);
	/* NULL: the system bus, wherever DBUS_SYSTEM_BUS_ADDRESS says it is. */
	assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address, 1), 0);
	t = transport_bluez_new(NULL, NULL);
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
	assert_non_null(t);
	transport_free(t);
}

static void test_unconnected(void **state)
{
	uint8_t frag[FRAG_PAYLOAD_MAX] = { 0xC0, 1, 1, 0 };
	struct transport *t = open_transport();

	(void)state;
	assert_int_equal(t->ops->link_mtu(t), PROTO_MTU_MIN);
	assert_int_equal(t->ops->send(t, frag, 4), -TRANSPORT_E_CLOSED);
	assert_int_equal(t->ops->recv(t, frag, sizeof(frag), 100), -TRANSPORT_E_CLOSED);
	assert_int_equal(t->ops->wait(t, -1, 100), TRANSPORT_WAIT_READY);
	t->ops->disconnect(t);
	t->ops->disconnect(t);
	transport_free(t);
}

static void test_connect_by_address(void **state)
{
	struct frag_stats st = { 0, 0 };
	struct transport *t = open_transport();
	uint8_t frag[FRAG_PAYLOAD_MAX];
	int i;

	(void)state;
	/* Three links in turn: the lock serves two, so each must really have ended. */
	for (i = 0; i < 3; i++) {
		connect_ok(t, i == 1 ? "aa:bb:cc:dd:ee:01" : MAC101, 0);
		assert_int_equal(t->ops->link_mtu(t), 247);
		assert_int_equal(hello(t, 247, 101, &st), 185); /* parklockd's radio: 185 */
		t->ops->disconnect(t);
		assert_int_equal(t->ops->link_mtu(t), PROTO_MTU_MIN);
		assert_int_equal(t->ops->recv(t, frag, sizeof(frag), 10), -TRANSPORT_E_CLOSED);
		assert_int_equal(t->ops->send(t, frag, 1), -TRANSPORT_E_CLOSED);
	}
	assert_true(st.max <= 244);
	assert_int_equal(st.count, 3); /* INFO (81 bytes) in one fragment each time */
	/* connect() on a live link replaces it. */
	connect_ok(t, MAC101, 0);
	connect_ok(t, MAC102, 0);
	hello(t, 247, 102, NULL);
	transport_free(t);
}

static void test_connect_by_spot(void **state)
{
	struct transport *t = open_transport();

	(void)state;
	connect_ok(t, "", 102);
	hello(t, 247, 102, NULL);
	/* Not a BLE address (a sim socket path, say): found by its spot too. */
	connect_ok(t, sock101, 101);
	hello(t, 247, 101, NULL);
	connect_ok(t, NULL, 101);
	hello(t, 247, 101, NULL);
	/* Known devices by now: recognised from their RSSI updates. */
	connect_ok(t, "", 102);
	hello(t, 247, 102, NULL);
	transport_free(t);
}

static void test_not_found(void **state)
{
	struct transport *t = open_transport();
	uint8_t frag[FRAG_PAYLOAD_MAX];
	int64_t t0;

	(void)state;
	t0 = test_ms_now();
	assert_int_equal(t->ops->connect(t, MAC_NONE, 0, 400), -TRANSPORT_E_NOTFOUND);
	assert_true(test_ms_now() - t0 >= 350);
	assert_true(test_ms_now() - t0 < 2000);
	t0 = test_ms_now();
	assert_int_equal(t->ops->connect(t, "", 999, 300), -TRANSPORT_E_NOTFOUND);
	assert_true(test_ms_now() - t0 >= 250);
	assert_true(test_ms_now() - t0 < 2000);
	/* Nearly an address: taken as no address, so a search by spot 0, which nobody has. */
	assert_int_equal(t->ops->connect(t, "AA:BB:CC:DD:EE:0G", 0, 200), -TRANSPORT_E_NOTFOUND);
	assert_int_equal(t->ops->connect(t, MAC101 ":", 0, 200), -TRANSPORT_E_NOTFOUND);
	assert_int_equal(t->ops->connect(t, MAC101, 0, 0), -TRANSPORT_E_TIMEOUT);
	/* Nothing is left half made. */
	assert_int_equal(t->ops->recv(t, frag, sizeof(frag), 10), -TRANSPORT_E_CLOSED);
	assert_int_equal(t->ops->link_mtu(t), PROTO_MTU_MIN);
	connect_ok(t, MAC101, 0);
	hello(t, 247, 101, NULL);
	transport_free(t);
}

static void test_challenge(void **state)
{
	static const uint8_t zero[PROTO_NONCE_LEN];
	uint8_t first[PROTO_NONCE_LEN];
	struct transport *t = open_transport();
	struct proto_msg q, m;

	(void)state;
	connect_ok(t, MAC101, 0);
	hello(t, 247, 101, NULL);
	memset(&q, 0, sizeof(q));
	q.type = PROTO_CHALLENGE_REQ;
	request_msg(t, &q, 185, &m, NULL);
	assert_int_equal(m.type, PROTO_CHALLENGE);
	assert_int_equal(m.u.challenge.ttl_s, 30);
	assert_memory_not_equal(m.u.challenge.nonce, zero, PROTO_NONCE_LEN);
	memcpy(first, m.u.challenge.nonce, PROTO_NONCE_LEN);
	request_msg(t, &q, 185, &m, NULL);
	assert_int_equal(m.type, PROTO_CHALLENGE);
	assert_memory_not_equal(m.u.challenge.nonce, first, PROTO_NONCE_LEN);
	transport_free(t);
}

/* The stack the gateway and the phone use: lockconn over this transport. */
static void test_lockconn(void **state)
{
	uint8_t frame[PROTO_FRAME_MAX], buf[PROTO_FRAME_MAX];
	struct transport *t = open_transport();
	struct proto_info info;
	struct proto_msg q, m;
	struct lockconn c;
	size_t len;
	int n;

	(void)state;
	assert_int_equal(lockconn_open(&c, t, MAC_NONE, 0, 300), -LOCKCONN_E_NOTFOUND);
	assert_int_equal(lockconn_open(&c, t, "", 102, WAIT_MS), 0);
	assert_int_equal(lockconn_hello(&c, 247, &info, WAIT_MS), 0);
	assert_int_equal(c.mtu, 185);
	assert_int_equal(info.spot_id, 102);
	memset(&q, 0, sizeof(q));
	q.type = PROTO_CHALLENGE_REQ;
	len = test_frame(&q, frame, sizeof(frame));
	n = lockconn_request(&c, frame, len, buf, sizeof(buf), WAIT_MS);
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.type, PROTO_CHALLENGE);
	world("102 car present");
	assert_int_equal(lockconn_wait(&c, -1, WAIT_MS), TRANSPORT_WAIT_READY);
	n = lockconn_recv_frame(&c, buf, sizeof(buf), WAIT_MS);
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.type, PROTO_EVENT);
	assert_int_equal(m.u.event.kind, PROTO_EV_CAR_ARRIVED);
	world("102 car absent");
	lockconn_close(&c);
	assert_int_equal(t->ops->recv(t, buf, sizeof(buf), 10), -TRANSPORT_E_CLOSED);
	transport_free(t);
}

static void test_bad_send_and_small_buffer(void **state)
{
	uint8_t frag[FRAG_PAYLOAD_MAX + 1], got[FRAG_PAYLOAD_MAX];
	uint8_t frame[PROTO_FRAME_MAX];
	struct transport *t = open_transport();
	struct proto_msg q, m;
	int n;

	(void)state;
	connect_ok(t, MAC101, 0);
	memset(frag, 0xC0, sizeof(frag));
	assert_int_equal(t->ops->send(t, frag, 0), -TRANSPORT_E_SPACE);
	assert_int_equal(t->ops->send(t, frag, 245), -TRANSPORT_E_SPACE);
	/* Nothing reached the lock: it answers no ERROR, and still says HELLO. */
	expect_silence(t, 200);
	hello(t, 247, 101, NULL);

	/* A fragment longer than the caller's buffer stays queued for a bigger one. */
	memset(&q, 0, sizeof(q));
	q.type = PROTO_HELLO;
	q.u.hello.mtu = 247;
	n = (int)test_frame(&q, frame, sizeof(frame));
	send_frame(t, frame, (size_t)n, PROTO_MTU_MIN);
	assert_int_equal(t->ops->wait(t, -1, WAIT_MS), TRANSPORT_WAIT_READY);
	assert_int_equal(t->ops->recv(t, got, 10, WAIT_MS), -TRANSPORT_E_SPACE);
	n = t->ops->recv(t, got, sizeof(got), WAIT_MS);
	assert_int_equal(n, 3 + 3 + 78); /* ctl, total, INFO */
	assert_int_equal(got[0], 0xC0);
	assert_int_equal(proto_decode(got + 3, (size_t)n - 3, &m), 0);
	assert_int_equal(m.type, PROTO_INFO);
	transport_free(t);
}

/* A whole unlock over a link of MTU 23: every frame in fragments of at most 20 bytes. */
static void test_mtu_23(void **state)
{
	struct frag_stats st = { 0, 0 };
	uint8_t frame[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN], frag[FRAG_PAYLOAD_MAX];
	union proto_mgmt_payload p;
	struct proto_ekey k;
	struct proto_msg q, m;
	struct transport *t;
	size_t len;

	(void)state;
	stop_fake();
	start_fake("23");
	t = open_transport();
	connect_ok(t, MAC101, 0);
	assert_int_equal(t->ops->link_mtu(t), 23);
	memset(frag, 0xC0, sizeof(frag));
	assert_int_equal(t->ops->send(t, frag, 21), -TRANSPORT_E_SPACE);
	assert_int_equal(hello(t, 23, 101, &st), 23);
	assert_true(st.count >= 5); /* 81 bytes: 17 + 4 x 19 */
	assert_true(st.max <= 20);

	memset(&p, 0, sizeof(p));
	p.cred = test_cred(&user, KEY_ID, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER,
			   PROTO_UNLIMITED_USES, PROTO_CRED_OWNER);
	len = test_site_mgmt(&site, PROTO_MGMT_INSTALL_CRED, 101, 0, &p, frame, sizeof(frame));
	request(t, frame, len, 23, &m, &st);
	assert_int_equal(m.type, PROTO_MGMT_ACK);
	assert_int_equal(m.u.ack.result, PROTO_OK);

	memset(&q, 0, sizeof(q));
	q.type = PROTO_CHALLENGE_REQ;
	request_msg(t, &q, 23, &m, &st);
	assert_int_equal(m.type, PROTO_CHALLENGE);
	memcpy(nonce, m.u.challenge.nonce, PROTO_NONCE_LEN);
	k = test_ekey(&user, KEY_ID, 101, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER,
		      PROTO_UNLIMITED_USES);
	len = test_frame_operate(&user, USER_ID, &k, PROTO_OP_UNLOCK, nonce, SITE_ID, 101, 0,
				 frame, sizeof(frame));
	assert_int_equal(len, 3 + 220); /* 12 writes at MTU 23 */
	request(t, frame, len, 23, &m, &st);
	assert_int_equal(m.type, PROTO_RESULT);
	assert_int_equal(m.u.result.status, PROTO_OK);
	assert_int_equal(m.u.result.barrier, PROTO_BARRIER_DOWN);
	assert_true(st.max <= 20);
	assert_false(test_json_true(world("101 state"), "locked"));

	/* And back up, so the spot is as it was. */
	request_msg(t, &q, 23, &m, NULL);
	memcpy(nonce, m.u.challenge.nonce, PROTO_NONCE_LEN);
	len = test_frame_operate(&user, USER_ID, &k, PROTO_OP_LOCK, nonce, SITE_ID, 101, 0, frame,
				 sizeof(frame));
	request(t, frame, len, 23, &m, &st);
	assert_int_equal(m.u.result.status, PROTO_OK);
	assert_true(st.max <= 20);
	assert_true(test_json_true(world("101 state"), "locked"));
	transport_free(t);

	/* BlueZ before 5.62 has no MTU property: 23. One beyond the protocol: 247. */
	stop_fake();
	start_fake("0");
	t = open_transport();
	connect_ok(t, MAC102, 0);
	assert_int_equal(t->ops->link_mtu(t), 23);
	assert_int_equal(hello(t, 23, 102, NULL), 23);
	transport_free(t);
	stop_fake();
	start_fake("517");
	t = open_transport();
	connect_ok(t, MAC102, 0);
	assert_int_equal(t->ops->link_mtu(t), 247);
	assert_int_equal(hello(t, 247, 102, NULL), 185);
	transport_free(t);
	stop_fake();
	start_fake("247");
}

static void test_events_and_wait(void **state)
{
	struct transport *t = open_transport();
	struct pollfd pfd;
	int64_t t0;
	int p[2];

	(void)state;
	connect_ok(t, MAC101, 0);
	hello(t, 247, 101, NULL);
	t0 = test_ms_now();
	assert_int_equal(t->ops->wait(t, -1, 200), TRANSPORT_WAIT_TIMEOUT);
	assert_true(test_ms_now() - t0 >= 180);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(t->ops->wait(t, p[0], WAIT_MS), TRANSPORT_WAIT_WOKEN);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 0), 1); /* not drained */
	close(p[0]);
	close(p[1]);

	assert_true(test_json_true(world("101 car present"), "occupied"));
	expect_event(t, PROTO_EV_CAR_ARRIVED);
	assert_false(test_json_true(world("101 car absent"), "occupied"));
	expect_event(t, PROTO_EV_CAR_LEFT);
	transport_free(t);
}

/* Signals from anyone but BlueZ are not notifications; the same from BlueZ are. */
static void test_forged_signal(void **state)
{
	static const uint8_t hello_frag[] = { 0xC0, 0x00, 0x05, 1, PROTO_HELLO, 0, 0, 23 };
	struct transport *t = open_transport();
	uint8_t got[FRAG_PAYLOAD_MAX];
	sd_bus_message *m = NULL;
	sd_bus *b = test_bus();

	(void)state;
	connect_ok(t, MAC101, 0);
	assert_true(sd_bus_message_new_signal(b, &m, REP101, "org.freedesktop.DBus.Properties",
					      "PropertiesChanged") >= 0);
	assert_true(sd_bus_message_append(m, "s", IF_CHAR) >= 0);
	assert_true(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
	assert_true(sd_bus_message_open_container(m, 'e', "sv") >= 0);
	assert_true(sd_bus_message_append(m, "s", "Value") >= 0);
	assert_true(sd_bus_message_open_container(m, 'v', "ay") >= 0);
	assert_true(sd_bus_message_append_array(m, 'y', hello_frag, sizeof(hello_frag)) >= 0);
	assert_true(sd_bus_message_close_container(m) >= 0);
	assert_true(sd_bus_message_close_container(m) >= 0);
	assert_true(sd_bus_message_close_container(m) >= 0);
	assert_true(sd_bus_message_append(m, "as", 0) >= 0);
	/* A serial above any of BlueZ's, so that only the sender can give the forger away. */
	assert_true(sd_bus_message_seal(m, 0xFFFFFF00u, 0) >= 0);
	assert_true(sd_bus_send(b, m, NULL) >= 0);
	assert_true(sd_bus_flush(b) >= 0);
	sd_bus_message_unref(m);
	expect_silence(t, 300);

	inject(b, REP101, IF_CHAR, "Value", "ay", hello_frag, sizeof(hello_frag));
	assert_int_equal(t->ops->recv(t, got, sizeof(got), WAIT_MS), (int)sizeof(hello_frag));
	assert_memory_equal(got, hello_frag, sizeof(hello_frag));
	/* Another characteristic's value is not a notification either. */
	inject(b, REQ101, IF_CHAR, "Value", "ay", hello_frag, sizeof(hello_frag));
	expect_silence(t, 200);
	sd_bus_flush_close_unref(b);
	transport_free(t);
}

/* What BlueZ must never send breaks the link: PROTO, also for send, until reconnected. */
static void test_bad_bus_data(void **state)
{
	static uint8_t big[FRAG_PAYLOAD_MAX + 1];
	uint8_t frag[FRAG_PAYLOAD_MAX] = { 0xC0, 0, 5, 1, PROTO_HELLO, 0, 0, 23 };
	struct transport *t = open_transport();
	sd_bus *b = test_bus();
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++) {
		connect_ok(t, MAC101, 0);
		hello(t, 247, 101, NULL);
		switch (i) {
		case 0: /* empty */
			inject(b, REP101, IF_CHAR, "Value", "ay", big, 0);
			break;
		case 1: /* longer than any fragment */
			inject(b, REP101, IF_CHAR, "Value", "ay", big, sizeof(big));
			break;
		case 2: /* not bytes */
			inject(b, REP101, IF_CHAR, "Value", "s", "C0", 0);
			break;
		case 3: /* Connected as a string */
			inject(b, DEV101, IF_DEVICE, "Connected", "s", "no", 0);
			break;
		default: /* an MTU below the ATT minimum */
			inject(b, REQ101, IF_CHAR, "MTU", "q", NULL, 10);
			break;
		}
		assert_int_equal(recv_until_error(t, WAIT_MS), -TRANSPORT_E_PROTO);
		assert_int_equal(t->ops->send(t, frag, 8), -TRANSPORT_E_PROTO);
		assert_int_equal(t->ops->recv(t, frag, sizeof(frag), 10), -TRANSPORT_E_PROTO);
	}
	/* A good value of the wrong size at the right place was fine all along: 1 byte. */
	connect_ok(t, MAC101, 0);
	inject(b, REP101, IF_CHAR, "Value", "ay", frag, 1);
	assert_int_equal(t->ops->recv(t, big, sizeof(big), WAIT_MS), 1);
	hello(t, 247, 101, NULL);
	sd_bus_flush_close_unref(b);
	transport_free(t);
}

/* Each way BlueZ says a link has ended ends it; the same about others does not. */
static void test_link_end_signals(void **state)
{
	uint8_t frag[FRAG_PAYLOAD_MAX] = { 0xC0, 0, 5, 1, PROTO_HELLO, 0, 0, 23 };
	struct transport *t = open_transport();
	sd_bus *b = test_bus();
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		connect_ok(t, MAC101, 0);
		hello(t, 247, 101, NULL);
		/* About someone else: nothing happens. */
		inject(b, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_02", IF_DEVICE, "Connected", "b",
		       NULL, 0);
		inject_removed(b, DEV101, "org.freedesktop.DBus.Properties");
		expect_silence(t, 100);
		hello(t, 247, 101, NULL);
		if (i == 0)
			inject(b, DEV101, IF_DEVICE, "Connected", "b", NULL, 0);
		else if (i == 1)
			inject_removed(b, REP101, IF_CHAR);
		else
			inject_removed(b, DEV101, IF_DEVICE);
		assert_int_equal(recv_until_error(t, WAIT_MS), -TRANSPORT_E_CLOSED);
		assert_int_equal(t->ops->send(t, frag, 8), -TRANSPORT_E_CLOSED);
	}
	sd_bus_flush_close_unref(b);
	transport_free(t);
}

/* BlueZ reports a new MTU: fragments are held to it from then on. */
static void test_mtu_change(void **state)
{
	uint8_t frag[FRAG_PAYLOAD_MAX];
	struct transport *t = open_transport();
	sd_bus *b = test_bus();

	(void)state;
	connect_ok(t, MAC101, 0);
	inject(b, REQ101, IF_CHAR, "MTU", "q", NULL, 30);
	assert_int_equal(t->ops->wait(t, -1, 100), TRANSPORT_WAIT_TIMEOUT);
	assert_int_equal(t->ops->link_mtu(t), 30);
	/* A continuation fragment out of nowhere: the lock would answer it with an ERROR. */
	memset(frag, 0x01, sizeof(frag));
	assert_int_equal(t->ops->send(t, frag, 28), -TRANSPORT_E_SPACE);
	expect_silence(t, 200);
	assert_int_equal(hello(t, 30, 101, NULL), 30);
	inject(b, REQ101, IF_CHAR, "MTU", "q", NULL, 300);
	assert_int_equal(t->ops->wait(t, -1, 100), TRANSPORT_WAIT_TIMEOUT);
	assert_int_equal(t->ops->link_mtu(t), 247);
	sd_bus_flush_close_unref(b);
	transport_free(t);
}

/* 128 unread notifications are kept; the 129th breaks the link. */
static void test_queue_bound(void **state)
{
	/* A FIRST fragment of a 100-byte frame: the lock waits for the rest, silently. */
	static const uint8_t partial[] = { 0x80, 0, 100, 1, PROTO_STATUS_REQ, 0 };
	uint8_t v[3] = { 0xC0, 0, 0 }, got[FRAG_PAYLOAD_MAX];
	struct transport *t = open_transport();
	sd_bus *b = test_bus();
	int i;

	(void)state;
	connect_ok(t, MAC101, 0);
	for (i = 0; i < 128; i++) {
		v[2] = (uint8_t)i;
		inject(b, REP101, IF_CHAR, "Value", "ay", v, sizeof(v));
	}
	/* send takes in what came meanwhile (a writer that never reads still hears). */
	assert_int_equal(t->ops->send(t, partial, sizeof(partial)), 0);
	for (i = 0; i < 128; i++) {
		assert_int_equal(t->ops->recv(t, got, sizeof(got), WAIT_MS), 3);
		assert_int_equal(got[2], (uint8_t)i);
	}
	expect_silence(t, 100);
	for (i = 0; i < 129; i++)
		inject(b, REP101, IF_CHAR, "Value", "ay", v, sizeof(v));
	assert_int_equal(t->ops->send(t, partial, sizeof(partial)), -TRANSPORT_E_PROTO);
	assert_int_equal(t->ops->recv(t, got, sizeof(got), 10), -TRANSPORT_E_PROTO);
	sd_bus_flush_close_unref(b);
	transport_free(t);
}

static void test_no_answer(void **state)
{
	uint8_t frame[PROTO_FRAME_MAX], buf[PROTO_FRAME_MAX];
	struct transport *t = open_transport();
	struct proto_msg q, m;
	int64_t t0;
	int n;

	(void)state;
	connect_ok(t, MAC101, 0);
	/* The lock does not answer: recv times out, and the late answer still comes. */
	assert_int_equal(kill(lockd_pid, SIGSTOP), 0);
	memset(&q, 0, sizeof(q));
	q.type = PROTO_HELLO;
	q.u.hello.mtu = 247;
	n = (int)test_frame(&q, frame, sizeof(frame));
	send_frame(t, frame, (size_t)n, PROTO_MTU_MIN);
	t0 = test_ms_now();
	assert_int_equal(recv_frame(t, buf, 300, NULL), 0);
	assert_true(test_ms_now() - t0 >= 280);
	assert_int_equal(kill(lockd_pid, SIGCONT), 0);
	n = recv_frame(t, buf, WAIT_MS, NULL);
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.type, PROTO_INFO);

	/* BlueZ does not answer: connect times out in time. */
	assert_int_equal(kill(fake_pid, SIGSTOP), 0);
	t0 = test_ms_now();
	assert_int_equal(t->ops->connect(t, MAC102, 0, 500), -TRANSPORT_E_TIMEOUT);
	assert_true(test_ms_now() - t0 >= 450);
	assert_true(test_ms_now() - t0 < 2000);
	assert_int_equal(kill(fake_pid, SIGCONT), 0);
	connect_ok(t, MAC102, 0);
	hello(t, 247, 102, NULL);
	transport_free(t);
}

static void test_lock_goes_away(void **state)
{
	struct transport *t = open_transport();
	uint8_t frag[FRAG_PAYLOAD_MAX] = { 0xC0, 0, 5, 1, PROTO_HELLO, 0, 0, 23 };

	(void)state;
	connect_ok(t, MAC101, 0);
	hello(t, 247, 101, NULL);
	world("101 reboot");
	assert_int_equal(recv_until_error(t, WAIT_MS), -TRANSPORT_E_CLOSED);
	assert_int_equal(t->ops->send(t, frag, 8), -TRANSPORT_E_CLOSED);
	assert_int_equal(t->ops->wait(t, -1, 10), TRANSPORT_WAIT_READY);
	connect_ok(t, MAC101, 0);
	hello(t, 247, 101, NULL);

	/* The whole simulator dies mid-link. */
	connect_ok(t, MAC102, 0);
	hello(t, 247, 102, NULL);
	assert_true(test_stop(&lockd_pid, SIGKILL) >= 0);
	assert_int_equal(recv_until_error(t, WAIT_MS), -TRANSPORT_E_CLOSED);
	/* A lock that is not there cannot be connected (BlueZ's Connect fails). */
	assert_true(t->ops->connect(t, MAC102, 0, 1000) < 0);
	start_parklockd();
	connect_ok(t, MAC102, 0);
	hello(t, 247, 102, NULL);
	transport_free(t);
}

static void test_bluez_goes_away(void **state)
{
	struct transport *t = open_transport();

	(void)state;
	connect_ok(t, MAC101, 0);
	hello(t, 247, 101, NULL);
	stop_fake();
	assert_int_equal(recv_until_error(t, WAIT_MS), -TRANSPORT_E_CLOSED);
	assert_int_equal(t->ops->connect(t, MAC101, 0, 500), -TRANSPORT_E_IO);
	transport_free(t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fake_command_line),
		cmocka_unit_test(test_new_without_bluez),
		cmocka_unit_test(test_unconnected),
		cmocka_unit_test(test_connect_by_address),
		cmocka_unit_test(test_connect_by_spot),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_lockconn),
		cmocka_unit_test(test_bad_send_and_small_buffer),
		cmocka_unit_test(test_mtu_23),
		cmocka_unit_test(test_events_and_wait),
		cmocka_unit_test(test_forged_signal),
		cmocka_unit_test(test_bad_bus_data),
		cmocka_unit_test(test_link_end_signals),
		cmocka_unit_test(test_mtu_change),
		cmocka_unit_test(test_queue_bound),
		cmocka_unit_test(test_no_answer),
		cmocka_unit_test(test_lock_goes_away),
		cmocka_unit_test(test_bluez_goes_away),
	};

	(void)argc;
	argv0 = argv[0];
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
