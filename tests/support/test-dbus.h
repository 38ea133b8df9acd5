/*
 * test-dbus.h: a private D-Bus for tests: starts dbus-daemon (package dbus) on a socket
 * in a test's own directory with a configuration written there (no service activation,
 * every name may be owned), returns its address, stops it; finds programs built for
 * tests only (build/tests/NAME). Header-only, on the spawn and wait helpers of
 * test-proc.h; a broken set-up fails the test through cmocka.
 */
#ifndef PARK_TEST_DBUS_H
#define PARK_TEST_DBUS_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test-proc.h"

#define TEST_DBUS_DAEMON "/usr/bin/dbus-daemon"
#define TEST_DBUS_ADDRESS_MAX 256

/* A running private bus. */
struct test_dbus {
	pid_t pid;                          /* dbus-daemon, -1 when stopped */
	char address[TEST_DBUS_ADDRESS_MAX]; /* "unix:path=DIR/bus" */
	char log[192];                       /* its stderr */
};

/*
 * Writes the configuration of a test bus listening on the UNIX socket sock to conf: a
 * session-type bus without service files (nothing is started behind a test's back) that
 * lets any client own any name and call anything, as the session bus does. 0 or -1.
 */
static inline int test_dbus_config(const char *conf, const char *sock)
{
	FILE *f = fopen(conf, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
		   "1.0//EN\"\n \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		   "<busconfig>\n"
		   "  <type>session</type>\n"
		   "  <listen>unix:path=%s</listen>\n"
		   "  <auth>EXTERNAL</auth>\n"
		   "  <policy context=\"default\">\n"
		   "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
		   "    <allow eavesdrop=\"true\"/>\n"
		   "    <allow own=\"*\"/>\n"
		   "  </policy>\n"
		   "</busconfig>\n", sock);
	return fclose(f) == 0 ? 0 : -1;
}

/*
 * Starts dbus-daemon with its socket, configuration and log in dir (an existing
 * directory whose path leaves room for "/bus" in a sun_path) and waits until it accepts
 * connections. Fails the test when it does not come up.
 */
static inline void test_dbus_start(struct test_dbus *d, const char *dir)
{
	char conf[192], sock[160], conf_arg[224];
	const char *args[] = { conf_arg, "--nofork", "--nopidfile", NULL };

	snprintf(conf, sizeof(conf), "%s/bus.conf", dir);
	snprintf(sock, sizeof(sock), "%s/bus", dir);
	snprintf(d->log, sizeof(d->log), "%s/dbus-daemon.log", dir);
	snprintf(d->address, sizeof(d->address), "unix:path=%s", sock);
	snprintf(conf_arg, sizeof(conf_arg), "--config-file=%s", conf);
	if (test_dbus_config(conf, sock) != 0)
		fail_msg("cannot write %s", conf);
	d->pid = test_spawn(TEST_DBUS_DAEMON, args, NULL, d->log);
	if (d->pid < 0)
		fail_msg("cannot start %s", TEST_DBUS_DAEMON);
	if (!test_wait_socket(sock, TEST_PROC_WAIT_MS))
		fail_msg("dbus-daemon did not open %s; see %s", sock, d->log);
}

/* Stops the bus (safe when it is not running). */
static inline void test_dbus_stop(struct test_dbus *d)
{
	if (d->pid > 0)
		test_stop(&d->pid, SIGTERM);
	d->pid = -1;
}

/*
 * The path of a test-only program `name` into out: $ENV when set, else NAME beside the
 * test binary argv0 (both live in BUILD/tests), else build/tests/NAME.
 */
static inline void test_find_test_program(const char *argv0, const char *env,
					  const char *name, char *out, size_t cap)
{
	const char *e = getenv(env), *slash = strrchr(argv0, '/');

	if (e != NULL && e[0] != '\0') {
		snprintf(out, cap, "%s", e);
		return;
	}
	if (slash != NULL) {
		snprintf(out, cap, "%.*s/%s", (int)(slash - argv0), argv0, name);
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, cap, "build/tests/%s", name);
}

#endif
