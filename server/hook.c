/*
 * hook.c: the three outbound hook forms (see hook.h), one function each, picked by the
 * spec's prefix from a table at parse time. Commands are started with posix_spawn, not
 * fork: parkd is multithreaded, and a forked copy of it could deadlock.
 */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

typedef int (*hook_send_fn)(const char *target, const struct hook_message *m, char *err,
			    size_t cap);

static int hook_file(const char *path, const struct hook_message *m, char *err, size_t cap)
{
	size_t len = strlen(m->line);
	char *line = malloc(len + 1);
	int fd = -1, r = -1;

	if (line == NULL) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	memcpy(line, m->line, len);
	line[len] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	/* One write with O_APPEND: lines never interleave, a reader sees whole lines. */
	if (write(fd, line, len + 1) != (ssize_t)(len + 1)) {
		snprintf(err, cap, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(line, len + 1); /* it may hold a code */
	free(line);
	return r;
}

static void hook_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int hook_command(const char *path, const struct hook_message *m, char *err,
			size_t cap)
{
	static const char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	const char *argv[HOOK_ARGS_MAX + 2];
	posix_spawn_file_actions_t fa;
	int status = 0, waited_ms, rc;
	size_t n;
	pid_t pid;

	argv[0] = path;
	for (n = 0; m->args != NULL && m->args[n] != NULL; n++) {
		if (n == HOOK_ARGS_MAX) {
			snprintf(err, cap, "more than %d arguments for %s", HOOK_ARGS_MAX, path);
			return -1;
		}
		argv[n + 1] = m->args[n];
	}
	argv[n + 1] = NULL;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	(void)posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	/* posix_spawn takes char *const[]; it does not write to the strings. */
	rc = posix_spawn(&pid, path, &fa, NULL, (char *const *)(uintptr_t)argv,
			 (char *const *)(uintptr_t)envp);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		snprintf(err, cap, "cannot run %s: %s", path, strerror(rc));
		return -1;
	}
	for (waited_ms = 0; waited_ms < HOOK_TIMEOUT_S * 1000; waited_ms += 10) {
		rc = waitpid(pid, &status, WNOHANG);
		if (rc == pid || (rc < 0 && errno != EINTR))
			break;
		hook_sleep_ms(10);
	}
	if (rc != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(err, cap, "%s took more than %d s and was killed", path, HOOK_TIMEOUT_S);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, cap, "%s failed (status %d)", path, status);
		return -1;
	}
	return 0;
}

static size_t hook_discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static int hook_webhook(const char *url, const struct hook_message *m, char *err, size_t cap)
{
	struct curl_slist *hdr = NULL;
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode cc;
	int r = -1;

	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (c == NULL || hdr == NULL) {
		snprintf(err, cap, "out of memory");
		goto out;
	}
	/* Certificates are verified (libcurl's default, stated here so it stays so). */
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, m->json);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)HOOK_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hook_discard);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(err, cap, "webhook: %s", curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		snprintf(err, cap, "webhook answered HTTP %ld", status);
		goto out;
	}
	r = 0;
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return r;
}

static const struct {
	const char *prefix;
	enum hook_kind kind;
	hook_send_fn send;
} hook_forms[] = {
	{ "file:", HOOK_FILE, hook_file },
	{ "command:", HOOK_COMMAND, hook_command },
	{ "webhook:", HOOK_WEBHOOK, hook_webhook },
};
#define HOOK_FORMS (sizeof(hook_forms) / sizeof(hook_forms[0]))

int hook_parse(const char *spec, struct hook *out, char *err, size_t cap)
{
	size_t i, n;

	memset(out, 0, sizeof(*out));
	for (i = 0; spec != NULL && i < HOOK_FORMS; i++) {
		n = strlen(hook_forms[i].prefix);
		if (strncmp(spec, hook_forms[i].prefix, n) != 0 || spec[n] == '\0')
			continue;
		if (strlen(spec + n) >= sizeof(out->target)) {
			snprintf(err, cap, "the hook's path or URL is longer than %d bytes",
				 HOOK_TARGET_MAX - 1);
			return -1;
		}
		out->kind = hook_forms[i].kind;
		memcpy(out->target, spec + n, strlen(spec + n) + 1);
		return 0;
	}
	snprintf(err, cap, "the hook must be file:PATH, command:PATH or webhook:URL");
	return -1;
}

int hook_send(const struct hook *h, const struct hook_message *m, char *err, size_t cap)
{
	size_t i;

	for (i = 0; i < HOOK_FORMS; i++)
		if (hook_forms[i].kind == h->kind)
			return hook_forms[i].send(h->target, m, err, cap);
	snprintf(err, cap, "the hook was not parsed");
	return -1;
}
