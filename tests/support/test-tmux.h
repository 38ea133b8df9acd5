/*
 * test-tmux.h: driving a terminal program through tmux for the console's black-box
 * tests: a private tmux server (its own socket, no user configuration) running one
 * program in a window of a fixed size, keys sent as a user types them, the screen read
 * back as text (capture-pane), the window resized, and the program's end and exit
 * status. Header-only (static inline) like test-proc.h; a broken tmux is a failed test.
 */
#ifndef PARK_TEST_TMUX_H
#define PARK_TEST_TMUX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-proc.h"

#define TEST_TMUX_SCREEN_MAX 65536 /* bytes of one captured screen */
#define TEST_TMUX_ARGS_MAX 40

struct test_tmux {
	char sock[160];      /* the private server's socket */
	char status[176];    /* the file the program's exit status is written to */
	char err[180];       /* the file its standard error goes to */
	int cols, rows;
};

/*
 * Runs tmux on t's server with `args` (NULL-terminated, at most TEST_TMUX_ARGS_MAX); its
 * standard output into out[0..cap) when out is not NULL. Returns tmux's exit status, or
 * -1 when it could not run.
 */
static inline int test_tmux_run(const struct test_tmux *t, const char *const *args, char *out,
				size_t cap)
{
	const char *argv[TEST_TMUX_ARGS_MAX + 6];
	char sink[256];
	int fds[2], status, i, n = 0;
	size_t have = 0;
	ssize_t r;
	pid_t pid;

	argv[n++] = "tmux";
	argv[n++] = "-S";
	argv[n++] = t->sock;
	argv[n++] = "-f";
	argv[n++] = "/dev/null";
	for (i = 0; args[i] != NULL && i < TEST_TMUX_ARGS_MAX; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp("tmux", (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(fds[1]);
	while (pid > 0 && (r = read(fds[0], out != NULL ? out + have : sink,
				    out != NULL ? cap - 1 - have : sizeof(sink))) > 0)
		if (out != NULL)
			have += (size_t)r;
	close(fds[0]);
	if (out != NULL)
		out[have] = '\0';
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Starts a private tmux server with socket DIR/NAME.tmux and in it `argv` (a program
 * and its arguments, NULL-terminated, at most 30; use "env" "VAR=value" ... first to
 * set its environment) in a window of cols x rows. A shell runs the program with its
 * standard error into DIR/NAME.status.err and writes its exit status to DIR/NAME.status
 * (tmux 3.3 does not keep it); the pane stays after it ends. Returns 0 or -1.
 */
static inline int test_tmux_start(struct test_tmux *t, const char *dir, const char *name,
				  int cols, int rows, const char *const *argv)
{
	char x[16], y[16];
	const char *make[] = { "new-session", "-d", "-x", x, "-y", y, "sleep", "3600", NULL };
	const char *keep[] = { "set-option", "-g", "remain-on-exit", "on", NULL };
	const char *size[] = { "set-option", "-g", "window-size", "manual", NULL };
	const char *run[TEST_TMUX_ARGS_MAX] = { "respawn-pane", "-k", "-t", "0", "sh", "-c",
						"\"$@\" 2>>\"$0.err\"; echo $? >\"$0\"",
						t->status, NULL };
	int i, n = 8;

	snprintf(t->sock, sizeof(t->sock), "%s/%s.tmux", dir, name);
	snprintf(t->status, sizeof(t->status), "%s/%s.status", dir, name);
	snprintf(t->err, sizeof(t->err), "%s.err", t->status);
	unlink(t->status);
	unlink(t->err);
	t->cols = cols;
	t->rows = rows;
	snprintf(x, sizeof(x), "%d", cols);
	snprintf(y, sizeof(y), "%d", rows);
	for (i = 0; argv[i] != NULL && n < TEST_TMUX_ARGS_MAX - 1; i++)
		run[n++] = argv[i];
	run[n] = NULL;
	if (test_tmux_run(t, make, NULL, 0) != 0 || test_tmux_run(t, keep, NULL, 0) != 0 ||
	    test_tmux_run(t, size, NULL, 0) != 0)
		return -1;
	return test_tmux_run(t, run, NULL, 0) == 0 ? 0 : -1;
}

/* Ends t's tmux server and whatever runs in it (nothing when it is gone already). */
static inline void test_tmux_stop(struct test_tmux *t)
{
	const char *kill[] = { "kill-server", NULL };

	if (t->sock[0] != '\0' && access(t->sock, F_OK) == 0) {
		(void)test_tmux_run(t, kill, NULL, 0);
		unlink(t->sock); /* tmux may leave it: a later stop then knows it is gone */
	}
	t->sock[0] = '\0';
}

/* Sends text as typed, character by character (-l: no key names). 0 or -1. */
static inline int test_tmux_type(const struct test_tmux *t, const char *text)
{
	const char *args[] = { "send-keys", "-t", "0", "-l", text, NULL };

	return test_tmux_run(t, args, NULL, 0) == 0 ? 0 : -1;
}

/* Sends one key by tmux's name for it ("Enter", "Up", "NPage", "C-c", "Escape"). */
static inline int test_tmux_key(const struct test_tmux *t, const char *key)
{
	const char *args[] = { "send-keys", "-t", "0", key, NULL };

	return test_tmux_run(t, args, NULL, 0) == 0 ? 0 : -1;
}

/* The screen as text, one line per row, into out[0..cap). 0 or -1. */
static inline int test_tmux_screen(const struct test_tmux *t, char *out, size_t cap)
{
	const char *args[] = { "capture-pane", "-p", "-t", "0", NULL };

	return test_tmux_run(t, args, out, cap) == 0 ? 0 : -1;
}

/* Row `row` (0-based) of a captured screen into out[0..cap); "" past the end. */
static inline void test_tmux_row(const char *screen, int row, char *out, size_t cap)
{
	const char *p = screen, *end;
	size_t n;

	while (row-- > 0 && p != NULL)
		p = (p = strchr(p, '\n')) != NULL ? p + 1 : NULL;
	if (p == NULL) {
		out[0] = '\0';
		return;
	}
	end = strchr(p, '\n');
	n = end != NULL ? (size_t)(end - p) : strlen(p);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/*
 * Waits up to ms until the screen shows `text` (present true) or no longer shows it
 * (present false); the last screen stays in screen[0..cap). Returns the milliseconds
 * it took, or -1 on time-out.
 */
static inline long test_tmux_wait(const struct test_tmux *t, const char *text, bool present,
				  long ms, char *screen, size_t cap)
{
	int64_t t0 = test_ms_now();

	for (;;) {
		if (test_tmux_screen(t, screen, cap) == 0 &&
		    (strstr(screen, text) != NULL) == present)
			return (long)(test_ms_now() - t0);
		if (test_ms_now() - t0 > ms)
			return -1;
		test_sleep_ms(25);
	}
}

/* Resizes the window to cols x rows. 0 or -1. */
static inline int test_tmux_resize(struct test_tmux *t, int cols, int rows)
{
	char x[16], y[16];
	const char *args[] = { "resize-window", "-t", "0", "-x", x, "-y", y, NULL };

	snprintf(x, sizeof(x), "%d", cols);
	snprintf(y, sizeof(y), "%d", rows);
	if (test_tmux_run(t, args, NULL, 0) != 0)
		return -1;
	t->cols = cols;
	t->rows = rows;
	return 0;
}

/* Whether the program has ended; when it has, its exit status into *status (may be NULL). */
static inline bool test_tmux_dead(const struct test_tmux *t, int *status)
{
	char text[32];

	if (test_read_file(t->status, text, sizeof(text)) == 0)
		return false;
	if (status != NULL)
		*status = atoi(text);
	return true;
}

/* The process ID of the program (the pane's shell's child), or -1. */
static inline pid_t test_tmux_pid(const struct test_tmux *t)
{
	const char *args[] = { "display-message", "-p", "-t", "0", "#{pane_pid}", NULL };
	char out[64], path[96];
	int shell;

	if (test_tmux_run(t, args, out, sizeof(out)) != 0 || (shell = atoi(out)) <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", shell, shell);
	if (test_read_file(path, out, sizeof(out)) == 0)
		return -1;
	return (pid_t)atoi(out);
}

#endif
