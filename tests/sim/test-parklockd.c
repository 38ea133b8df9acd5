/*
 * test-parklockd.c: black-box test of the real parklockd binary (env PARKLOCKD, else
 * ../bin/parklockd beside this test, else build/bin/parklockd) on a private directory:
 * provisioning, management, an unlock over the sim transport, world events, replays,
 * malformed input, a power cut, a restart that keeps the flash, and the command line.
 * The tests run in order on one garage, like a session at the lock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/p256.h"
#include "../../lib/signer.h"
#include "../../lib/lockconn.h"
#include "../support/test-authority.h"
#include "../support/test-proc.h"

#define WAIT_MS 5000
#define SITE_ID 1
#define SPOT 101
#define USER_ID 42
#define KEY_ID 9

static char parklockd[512];
static char dir[64], lockdir[96], conf[128], logpath[128];
static char sock101[128], worldsock[128], pub101[128];
static struct test_site site;
static struct test_user user;
static pid_t daemon_pid = -1;
static uint8_t device_pub[PROTO_PUBKEY_LEN];
static uint8_t replay_frame[PROTO_FRAME_MAX];
static size_t replay_len;

/* Events seen by lockconn_request() callbacks, in order. */
static struct proto_event seen[64];
static unsigned nseen;

/* ---- helpers: processes ---- */

/* Starts parklockd with args (NULL-terminated, after the program name); out/err to files. */
static pid_t spawn(const char *const *args, const char *out_path, const char *err_path)
{
	pid_t pid = test_spawn(parklockd, args, out_path, err_path);

	assert_true(pid >= 0);
	return pid;
}

/* Runs parklockd to completion; returns its exit code with stdout and stderr in bufs. */
static int run_once(const char *const *args, char *out, char *err, size_t cap)
{
	char op[160], ep[160];
	int code;

	snprintf(op, sizeof(op), "%s/run.out", dir);
	snprintf(ep, sizeof(ep), "%s/run.err", dir);
	unlink(op);
	unlink(ep);
	code = test_wait_exit(spawn(args, op, ep), WAIT_MS);
	test_read_file(op, out, cap);
	test_read_file(ep, err, cap);
	return code;
}

static void start_daemon(void)
{
	const char *args[] = { "--log-level", "debug", conf, NULL };
	int64_t end = test_ms_now() + 10000;
	int fd, status;

	daemon_pid = spawn(args, logpath, logpath);
	/* The world socket is made last: once it answers, every lock is ready. */
	while (test_ms_now() < end) {
		fd = test_connect_unix(worldsock);
		if (fd >= 0) {
			close(fd);
			return;
		}
		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid)
			fail_msg("parklockd exited at start; see %s", logpath);
		test_sleep_ms(20);
	}
	fail_msg("parklockd did not open %s; see %s", worldsock, logpath);
}

static int stop_daemon(int sig)
{
	return test_stop(&daemon_pid, sig);
}

/* ---- world control ---- */

/* Sends one command and returns its one-line reply (static). */
static const char *world(const char *cmd)
{
	static char reply[65536];

	if (test_world(worldsock, cmd, reply, sizeof(reply)) != 0)
		fail_msg("no reply to '%s'", cmd);
	return reply;
}

static long json_num(const char *reply, const char *key)
{
	const char *p = test_json_find(reply, key);

	if (p == NULL)
		fail_msg("no %s in %s", key, reply);
	return strtol(p, NULL, 10);
}

static bool json_bool(const char *reply, const char *key)
{
	const char *p = test_json_find(reply, key);

	if (p == NULL)
		fail_msg("no %s in %s", key, reply);
	return strncmp(p, "true", 4) == 0;
}

/* ---- the sim transport ---- */

static void on_event(void *arg, const struct proto_event *ev)
{
	(void)arg;
	if (nseen < sizeof(seen) / sizeof(seen[0]))
		seen[nseen++] = *ev;
}

static void link_open(struct lockconn *l)
{
	assert_int_equal(lockconn_open_sim(l, sock101), 0);
	l->on_event = on_event;
	l->event_arg = NULL;
}

/* Sends a frame and decodes the reply into m (the frame bytes are kept in buf). */
static void request(struct lockconn *l, const uint8_t *frame, size_t len, uint8_t *buf,
		    struct proto_msg *m)
{
	int n = lockconn_request(l, frame, len, buf, PROTO_FRAME_MAX, WAIT_MS);

	if (n <= 0)
		fail_msg("no reply (%d)", n);
	assert_int_equal(proto_decode(buf, (size_t)n, m), 0);
}

static void request_msg(struct lockconn *l, const struct proto_msg *q, uint8_t *buf,
			struct proto_msg *m)
{
	uint8_t frame[PROTO_FRAME_MAX];
	size_t len = test_frame(q, frame, sizeof(frame));

	request(l, frame, len, buf, m);
}

/* Waits for an EVENT of `kind` on the link; other frames are skipped. */
static void expect_event(struct lockconn *l, uint8_t kind)
{
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_msg m;
	int64_t end = test_ms_now() + WAIT_MS;
	int n;

	while (test_ms_now() < end) {
		n = lockconn_recv_frame(l, buf, sizeof(buf), 100);
		assert_true(n >= 0);
		if (n > 0 && proto_decode(buf, (size_t)n, &m) == 0 && m.type == PROTO_EVENT &&
		    m.u.event.kind == kind)
			return;
	}
	fail_msg("no %s event", proto_event_name(kind));
}

static void get_challenge(struct lockconn *l, uint8_t nonce[PROTO_NONCE_LEN])
{
	struct proto_msg q, m;
	uint8_t buf[PROTO_FRAME_MAX];

	memset(&q, 0, sizeof(q));
	q.type = PROTO_CHALLENGE_REQ;
	request_msg(l, &q, buf, &m);
	assert_int_equal(m.type, PROTO_CHALLENGE);
	memcpy(nonce, m.u.challenge.nonce, PROTO_NONCE_LEN);
}

static size_t operate_frame(const uint8_t nonce[PROTO_NONCE_LEN], uint8_t op, uint8_t *frame)
{
	struct proto_ekey k = test_ekey(&user, KEY_ID, SPOT, PROTO_TIME_NONE_BEFORE,
					PROTO_TIME_NONE_AFTER, PROTO_UNLIMITED_USES);

	return test_frame_operate(&user, USER_ID, &k, op, nonce, SITE_ID, SPOT, 0, frame,
				  PROTO_FRAME_MAX);
}

static void mgmt_ok(struct lockconn *l, uint8_t mtype, const union proto_mgmt_payload *p)
{
	uint8_t frame[PROTO_FRAME_MAX], buf[PROTO_FRAME_MAX];
	struct proto_msg m;
	size_t len = test_site_mgmt(&site, mtype, SPOT, 0, p, frame, sizeof(frame));

	request(l, frame, len, buf, &m);
	assert_int_equal(m.type, PROTO_MGMT_ACK);
	assert_int_equal(m.u.ack.result, PROTO_OK);
	assert_int_equal(m.u.ack.mtype, mtype);
	assert_int_equal(signer_check_ack(device_pub, SITE_ID, &m.u.ack), 0);
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
	char text[512], sitepub[128];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/test-parklockd.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(lockdir, sizeof(lockdir), "%s/locks", dir);
	snprintf(conf, sizeof(conf), "%s/garage.conf", dir);
	snprintf(logpath, sizeof(logpath), "%s/parklockd.log", dir);
	snprintf(sock101, sizeof(sock101), "%s/101.sock", lockdir);
	snprintf(worldsock, sizeof(worldsock), "%s/world.sock", lockdir);
	snprintf(pub101, sizeof(pub101), "%s/101.pub", lockdir);
	snprintf(sitepub, sizeof(sitepub), "%s/site.pub", dir);
	test_site_init(&site, SITE_ID);
	test_user_init(&user, USER_ID);
	if (p256_save_public_hex(site.pub, sitepub) != 0)
		return -1;
	snprintf(text, sizeof(text),
		 "# made by test-parklockd\n"
		 "site %d\n"
		 "dir %s\n"
		 "site-key %s\n"
		 "lock 101 B1-001\n"
		 "lock 102 B1-002\n", SITE_ID, lockdir, sitepub);
	assert_int_equal(test_write_file(conf, text), 0);
	fprintf(stderr, "test-parklockd: %s on %s\n", parklockd, dir);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[256];

	(void)state;
	if (daemon_pid > 0)
		stop_daemon(SIGKILL);
	test_site_free(&site);
	test_user_free(&user);
	/* Keep the directory (and the log) of a failed run for a human to read. */
	if (getenv("KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return 0;
}

/* ---- the tests, in order ---- */

static void test_command_line(void **state)
{
	static char out[8192], err[8192];
	const char *help[] = { "--help", NULL };
	const char *version[] = { "--version", NULL };
	const char *unknown[] = { "--bogus", conf, NULL };
	const char *none[] = { NULL };
	const char *mtu[] = { "--mtu", "22", conf, NULL };
	const char *travel[] = { "--travel-ms", "x", conf, NULL };
	const char *level[] = { "--log-level", "loud", conf, NULL };
	const char *bad[] = { NULL, NULL };
	char badconf[160];

	(void)state;
	assert_int_equal(run_once(help, out, err, sizeof(out)), 0);
	assert_non_null(strstr(out, "Usage: parklockd"));
	assert_non_null(strstr(out, "--travel-ms"));
	assert_int_equal(run_once(version, out, err, sizeof(out)), 0);
	assert_non_null(strstr(out, "parklockd "));
	assert_int_equal(run_once(unknown, out, err, sizeof(out)), 2);
	assert_non_null(strstr(err, "--help"));
	assert_int_equal(run_once(none, out, err, sizeof(out)), 2);
	assert_int_equal(run_once(mtu, out, err, sizeof(out)), 2);
	assert_non_null(strstr(err, "23 to 247"));
	assert_int_equal(run_once(travel, out, err, sizeof(out)), 2);
	assert_int_equal(run_once(level, out, err, sizeof(out)), 2);
	snprintf(badconf, sizeof(badconf), "%s/bad.conf", dir);
	assert_int_equal(test_write_file(badconf, "site 1\ndir /tmp/never-made-by-parklockd\nlock 0 A\n"),
			 0);
	bad[0] = badconf;
	assert_int_equal(run_once(bad, out, err, sizeof(out)), 2);
	assert_non_null(strstr(err, "bad.conf:3:"));
	assert_int_equal(access("/tmp/never-made-by-parklockd", F_OK), -1);
}

static void test_start_and_hello(void **state)
{
	struct lockconn l;
	struct proto_info info;
	uint8_t pub[PROTO_PUBKEY_LEN];
	struct stat st;
	char want[200];
	const char *r;

	(void)state;
	start_daemon();
	assert_int_equal(stat(sock101, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(p256_load_public_hex(pub101, pub), 0);
	link_open(&l);
	assert_int_equal(lockconn_hello(&l, 185, &info, WAIT_MS), 0);
	assert_int_equal(l.mtu, 185);
	assert_true(info.flags & PROTO_INFO_PROVISIONED);
	assert_int_equal(info.site_id, SITE_ID);
	assert_int_equal(info.spot_id, SPOT);
	assert_memory_equal(info.device_pub, pub, PROTO_PUBKEY_LEN);
	memcpy(device_pub, pub, sizeof(pub));
	lockconn_close(&l);
	r = world("101 pubkey");
	test_read_file(pub101, want, sizeof(want));
	want[128] = '\0';
	assert_non_null(strstr(r, want));
	r = world("101 state");
	assert_true(json_bool(r, "provisioned"));
	assert_true(json_bool(r, "locked"));
	assert_int_equal(json_num(r, "unlock_count"), 0);
}

static void test_mgmt_and_unlock(void **state)
{
	uint8_t nonce[PROTO_NONCE_LEN], buf[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	struct proto_msg m;
	struct lockconn l;
	unsigned i, unlocked_at = 999;
	int64_t t0;
	const char *r;

	(void)state;
	link_open(&l);
	assert_int_equal(lockconn_hello(&l, 247, NULL, WAIT_MS), 0);
	memset(&p, 0, sizeof(p));
	p.time = 1700000000u;
	mgmt_ok(&l, PROTO_MGMT_SET_TIME, &p);
	p.cred = test_cred(&user, KEY_ID, PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER,
			   PROTO_UNLIMITED_USES, PROTO_CRED_OWNER);
	mgmt_ok(&l, PROTO_MGMT_INSTALL_CRED, &p);
	r = world("101 state");
	assert_int_equal(json_num(r, "creds"), 1);
	assert_true(json_num(r, "time") >= 1700000000L);

	get_challenge(&l, nonce);
	replay_len = operate_frame(nonce, PROTO_OP_UNLOCK, replay_frame);
	nseen = 0;
	t0 = test_ms_now();
	request(&l, replay_frame, replay_len, buf, &m);
	assert_int_equal(m.type, PROTO_RESULT);
	assert_int_equal(m.u.result.status, PROTO_OK);
	/* The RESULT comes when the barrier is down, after its 300 ms of travel. */
	assert_int_equal(m.u.result.barrier, PROTO_BARRIER_DOWN);
	assert_true(test_ms_now() - t0 >= 250);
	for (i = 0; i < nseen; i++)
		if (seen[i].kind == PROTO_EV_UNLOCKED && seen[i].user_id == USER_ID)
			unlocked_at = i;
	assert_true(unlocked_at < nseen); /* the event came before the RESULT */
	r = world("101 state");
	assert_false(json_bool(r, "locked"));
	assert_int_equal(json_num(r, "unlock_count"), 1);
	lockconn_close(&l);
}

static void test_world_events(void **state)
{
	struct lockconn l;
	const char *r;

	(void)state;
	link_open(&l);
	assert_int_equal(lockconn_hello(&l, 185, NULL, WAIT_MS), 0);
	r = world("101 car present");
	assert_true(json_bool(r, "occupied"));
	expect_event(&l, PROTO_EV_CAR_ARRIVED);
	r = world("101 car absent");
	assert_false(json_bool(r, "occupied"));
	expect_event(&l, PROTO_EV_CAR_LEFT);
	/* Car gone, spot open: the barrier rises by itself. */
	expect_event(&l, PROTO_EV_LOCKED);
	r = world("101 state");
	assert_true(json_bool(r, "locked"));
	assert_non_null(strstr(r, "\"barrier\":\"up\""));
	/* The other lock heard none of it. */
	assert_int_equal(json_num(world("102 state"), "events"), 2);
	lockconn_close(&l);
}

static void test_replay_refused(void **state)
{
	uint8_t buf[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	struct proto_msg m;
	struct lockconn l;

	(void)state;
	link_open(&l);
	request(&l, replay_frame, replay_len, buf, &m);
	assert_int_equal(m.type, PROTO_RESULT);
	assert_int_equal(m.u.result.status, PROTO_E_CHALLENGE);
	/* Even with a fresh challenge on the link, the old answer does not fit it. */
	get_challenge(&l, nonce);
	request(&l, replay_frame, replay_len, buf, &m);
	assert_int_equal(m.u.result.status, PROTO_E_DEVICE_SIG);
	assert_true(json_bool(world("101 state"), "locked"));
	assert_int_equal(json_num(world("101 state"), "unlock_count"), 1);
	lockconn_close(&l);
}

static void expect_error_reply(struct lockconn *l, const uint8_t *frame, size_t len,
			       uint8_t code)
{
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_msg m;

	request(l, frame, len, buf, &m);
	assert_int_equal(m.type, PROTO_ERROR);
	assert_int_equal(m.u.error.code, code);
}

static void write_raw(struct lockconn *l, const void *p, size_t len)
{
	assert_int_equal(send(transport_sim_fd(l->t), p, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void expect_dropped(struct lockconn *l)
{
	uint8_t buf[PROTO_FRAME_MAX];

	assert_int_equal(lockconn_recv_frame(l, buf, sizeof(buf), WAIT_MS), -LOCKCONN_E_CLOSED);
}

static void test_malformed(void **state)
{
	static const uint8_t bad_version[] = { 2, PROTO_HELLO, 0, 0, 185 };
	static const uint8_t truncated[] = { 1, PROTO_HELLO, 0, 0 };
	static const uint8_t unknown[] = { 1, 0x7E, 0 };
	/* a middle fragment with no frame started; then a 0 and a 300-byte length prefix */
	static const uint8_t orphan[] = { 0x00, 0x02, 0x01, 0x55 };
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_msg m;
	struct lockconn l, l2, l3;
	int n;

	(void)state;
	link_open(&l);
	expect_error_reply(&l, bad_version, sizeof(bad_version), PROTO_E_VERSION);
	expect_error_reply(&l, truncated, sizeof(truncated), PROTO_E_LENGTH);
	expect_error_reply(&l, unknown, sizeof(unknown), PROTO_E_TYPE);
	/* a well-formed reply type sent to the lock */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_RESULT;
	n = (int)test_frame(&m, buf, sizeof(buf));
	expect_error_reply(&l, buf, (size_t)n, PROTO_E_TYPE);
	write_raw(&l, orphan, sizeof(orphan));
	n = lockconn_recv_frame(&l, buf, sizeof(buf), WAIT_MS);
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.type, PROTO_ERROR);
	assert_int_equal(m.u.error.code, PROTO_E_FRAGMENT);
	assert_int_equal(lockconn_hello(&l, 100, NULL, WAIT_MS), 0); /* still answers */

	write_raw(&l, "\x00\x00", 2);
	expect_dropped(&l);
	lockconn_close(&l);
	link_open(&l);
	write_raw(&l, "\x01\x2C", 2);
	expect_dropped(&l);
	lockconn_close(&l);

	/* Two links at once; a third client is closed at once. */
	link_open(&l);
	link_open(&l2);
	assert_int_equal(lockconn_hello(&l, 185, NULL, WAIT_MS), 0);
	assert_int_equal(lockconn_hello(&l2, 185, NULL, WAIT_MS), 0);
	link_open(&l3);
	expect_dropped(&l3);
	lockconn_close(&l3);
	lockconn_close(&l2);
	assert_int_equal(lockconn_hello(&l, 185, NULL, WAIT_MS), 0);
	lockconn_close(&l);
	assert_true(json_bool(world("101 state"), "locked"));
	assert_false(json_bool(world("101 state"), "halted"));
}

/* One unlock as far as it gets: 1 for RESULT ok, 0 for a refusal or a dropped link. */
static int try_unlock(void)
{
	uint8_t nonce[PROTO_NONCE_LEN], frame[PROTO_FRAME_MAX], buf[PROTO_FRAME_MAX];
	struct proto_msg m;
	struct lockconn l;
	size_t len;
	int n;

	link_open(&l);
	get_challenge(&l, nonce);
	len = operate_frame(nonce, PROTO_OP_UNLOCK, frame);
	n = lockconn_request(&l, frame, len, buf, sizeof(buf), WAIT_MS);
	lockconn_close(&l);
	if (n < 0)
		return 0;
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, &m), 0);
	return m.type == PROTO_RESULT && m.u.result.status == PROTO_OK;
}

static void relock(void)
{
	world("101 car present");
	world("101 car absent");
	test_sleep_ms(600);
	assert_true(json_bool(world("101 state"), "locked"));
}

static void test_power_cut(void **state)
{
	static char log[1 << 20];
	const char *r;
	long before, after;
	int acked;

	(void)state;
	before = json_num(world("101 state"), "unlock_count");
	assert_true(json_bool(world("101 power-cut"), "ok"));
	acked = try_unlock();
	r = world("101 state");
	after = json_num(r, "unlock_count");
	assert_false(json_bool(r, "halted"));
	assert_true(json_bool(r, "provisioned"));
	assert_int_equal(json_num(r, "creds"), 1);
	assert_true(after == before || after == before + 1);
	assert_true(after >= before + acked);
	test_read_file(logpath, log, sizeof(log));
	assert_non_null(strstr(log, "lock 101 (B1-001) lost power; rebooted from its flash"));
	/* And it works as before. */
	if (!json_bool(r, "locked"))
		relock();
	assert_int_equal(try_unlock(), 1);
	assert_int_equal(json_num(world("101 state"), "unlock_count"), after + 1);
	relock();
	/* The same at other bytes of the torn write. */
	assert_true(json_bool(world("101 power-cut 0"), "ok"));
	before = after + 1;
	acked = try_unlock();
	after = json_num(world("101 state"), "unlock_count");
	assert_true(after >= before + acked && after <= before + 1);
	if (!json_bool(world("101 state"), "locked"))
		relock();
}

static void test_restart_keeps_flash(void **state)
{
	static char out[8192], err[8192];
	const char *second[] = { conf, NULL };
	uint8_t nonce[PROTO_CNONCE_LEN] = { 1, 2, 3 }, buf[PROTO_FRAME_MAX];
	struct proto_info info;
	struct proto_msg q, m;
	struct lockconn l;
	long count;

	(void)state;
	count = json_num(world("101 state"), "unlock_count");
	/* One parklockd per directory. */
	assert_int_equal(run_once(second, out, err, sizeof(out)), 1);
	assert_non_null(strstr(err, "another parklockd"));
	assert_int_equal(json_num(world("101 state"), "unlock_count"), count); /* untouched */
	assert_int_equal(stop_daemon(SIGTERM), 0);
	assert_int_equal(access(worldsock, F_OK), -1);
	assert_int_equal(access(sock101, F_OK), -1);

	start_daemon();
	assert_int_equal(json_num(world("101 state"), "unlock_count"), count);
	link_open(&l);
	assert_int_equal(lockconn_hello(&l, 185, &info, WAIT_MS), 0);
	assert_memory_equal(info.device_pub, device_pub, PROTO_PUBKEY_LEN);
	assert_true(info.flags & PROTO_INFO_TIME_SET);
	memset(&q, 0, sizeof(q));
	q.type = PROTO_STATUS_REQ;
	memcpy(q.u.status_req.nonce, nonce, sizeof(nonce));
	request_msg(&l, &q, buf, &m);
	assert_int_equal(m.type, PROTO_STATUS);
	assert_int_equal(signer_check_status(device_pub, nonce, &m.u.status), 0);
	assert_int_equal(m.u.status.creds, 1);
	assert_int_equal(m.u.status.total_unlocks, (uint32_t)count);
	assert_true(m.u.status.lock_time >= 1700000000u);
	lockconn_close(&l);
	assert_int_equal(try_unlock(), 1);
	assert_int_equal(stop_daemon(SIGINT), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_line),
		cmocka_unit_test(test_start_and_hello),
		cmocka_unit_test(test_mgmt_and_unlock),
		cmocka_unit_test(test_world_events),
		cmocka_unit_test(test_replay_refused),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_power_cut),
		cmocka_unit_test(test_restart_keeps_flash),
	};

	(void)argc;
	test_find_program(argv[0], "PARKLOCKD", "parklockd", parklockd, sizeof(parklockd));
	return cmocka_run_group_tests_name("parklockd", tests, group_setup, group_teardown);
}
