/*
 * test-proc.h: what the black-box tests of the real programs share: finding a program
 * (env variable, else beside the test binary, else build/bin), starting it with its
 * output in a log file, stopping it, waiting, and one-line world-control commands to
 * parklockd. Header-only (static inline), like test-must.h, so that each test program
 * takes what it uses; it aborts through cmocka's assertions on a broken set-up.
 */
#ifndef PARK_TEST_PROC_H
#define PARK_TEST_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST_PROC_WAIT_MS 5000

static inline int64_t test_ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void test_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * The path of program `name` into out: $ENV when set, else ../bin/NAME beside the test
 * binary argv0 (a sanitizer build keeps both under build/san), else build/bin/NAME.
 */
static inline void test_find_program(const char *argv0, const char *env, const char *name,
				     char *out, size_t cap)
{
	const char *e = getenv(env), *slash = strrchr(argv0, '/');

	if (e != NULL && e[0] != '\0') {
		snprintf(out, cap, "%s", e);
		return;
	}
	if (slash != NULL) {
		snprintf(out, cap, "%.*s/../bin/%s", (int)(slash - argv0), argv0, name);
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, cap, "build/bin/%s", name);
}

/*
 * Starts `path` with args (NULL-terminated, after the program name, at most 30), its
 * stdin from in_path (NULL: inherited), stdout to out_path and stderr to err_path
 * (appended; NULL: /dev/null). Returns the pid (-1 when fork failed).
 */
static inline pid_t test_spawn_in(const char *path, const char *const *args,
				  const char *in_path, const char *out_path,
				  const char *err_path)
{
	char *argv[32];
	pid_t pid;
	int i, fd;

	pid = fork();
	if (pid == 0) {
		argv[0] = strdup(path);
		for (i = 0; args[i] != NULL && i < 30; i++)
			argv[i + 1] = strdup(args[i]);
		argv[i + 1] = NULL;
		if (in_path != NULL) {
			fd = open(in_path, O_RDONLY);
			dup2(fd, STDIN_FILENO);
		}
		fd = open(out_path != NULL ? out_path : "/dev/null",
			  O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, STDOUT_FILENO);
		fd = open(err_path != NULL ? err_path : "/dev/null",
			  O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, STDERR_FILENO);
		execv(path, argv);
		_exit(127);
	}
	return pid;
}

/* test_spawn_in() with stdin inherited. */
static inline pid_t test_spawn(const char *path, const char *const *args, const char *out_path,
			       const char *err_path)
{
	return test_spawn_in(path, args, NULL, out_path, err_path);
}

/* Waits up to ms for pid; returns its exit code (128 + signal), or -1 after killing it. */
static inline int test_wait_exit(pid_t pid, long ms)
{
	int64_t end = test_ms_now() + ms;
	int status;

	while (test_ms_now() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		test_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Sends `sig` and waits; returns the exit code as test_wait_exit(). */
static inline int test_stop(pid_t *pid, int sig)
{
	int code;

	if (*pid <= 0)
		return -1;
	kill(*pid, sig);
	code = test_wait_exit(*pid, TEST_PROC_WAIT_MS);
	*pid = -1;
	return code;
}

/* Whether pid has exited (reaped then). */
static inline bool test_exited(pid_t pid)
{
	int status;

	return waitpid(pid, &status, WNOHANG) == pid;
}

static inline int test_connect_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Waits up to ms until a UNIX socket accepts; false if it never did. */
static inline bool test_wait_socket(const char *path, long ms)
{
	int64_t end = test_ms_now() + ms;
	int fd;

	while (test_ms_now() < end) {
		fd = test_connect_unix(path);
		if (fd >= 0) {
			close(fd);
			return true;
		}
		test_sleep_ms(20);
	}
	return false;
}

/* One world-control command; its one-line reply into reply[0..cap). 0 or -1. */
static inline int test_world(const char *sock, const char *cmd, char *reply, size_t cap)
{
	struct pollfd p;
	size_t have = 0;
	ssize_t n;
	int fd = test_connect_unix(sock);
	int64_t end = test_ms_now() + TEST_PROC_WAIT_MS;

	if (fd < 0)
		return -1;
	if (send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) != (ssize_t)strlen(cmd) ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		close(fd);
		return -1;
	}
	while ((have == 0 || reply[have - 1] != '\n') && have + 1 < cap &&
	       test_ms_now() < end) {
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, reply + have, cap - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	reply[have] = '\0';
	return have > 0 && reply[have - 1] == '\n' ? 0 : -1;
}

/* Where the value of the first "key": in a one-line JSON reply starts, or NULL. */
static inline const char *test_json_find(const char *reply, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(reply, pat);
	return p != NULL ? p + strlen(pat) : NULL;
}

/* The number after "key": in a one-line JSON reply, or -1 when missing. */
static inline long test_json_num(const char *reply, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(reply, pat);
	return p != NULL ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* Whether "key":true is in a one-line JSON reply. */
static inline bool test_json_true(const char *reply, const char *key)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "\"%s\":true", key);
	return strstr(reply, pat) != NULL;
}

/* Reads a whole (small) file into buf, NUL-terminated. Returns its length, 0 if missing. */
static inline size_t test_read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

/* Writes text as the whole file at path. 0, or -1 when it could not be written. */
static inline int test_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

#endif
