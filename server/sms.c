/*
 * sms.c: the three SMS senders, one function each, picked by the sender's prefix from a
 * table. It does not retry: the user asks for another code, which rate limits bound.
 */
#include "sms.h"

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
#include <json-c/json.h>

#include "../lib/log.h"

typedef int (*sms_send_fn)(const char *target, const char *phone, const char *message);

static int sms_file(const char *path, const char *phone, const char *message)
{
	char line[1024];
	int fd = -1, n, r = -1;

	n = snprintf(line, sizeof(line), "%s %s\n", phone, message);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		log_error("sms: the message is too long");
		n = 0;
		goto out;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("sms: cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	/* One write with O_APPEND: lines from concurrent requests never interleave. */
	if (write(fd, line, (size_t)n) != n) {
		log_error("sms: cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(line, sizeof(line)); /* it held the code */
	return r;
}

static void sms_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* posix_spawn, not fork: parkd is multithreaded, and a forked copy of it could deadlock. */
static int sms_command(const char *path, const char *phone, const char *message)
{
	static const char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	const char *argv[] = { path, phone, message, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, waited_ms, rc;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	(void)posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	/* posix_spawn takes char *const[]; it does not write to the strings. */
	rc = posix_spawn(&pid, path, &fa, NULL, (char *const *)(uintptr_t)argv,
			 (char *const *)(uintptr_t)envp);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		log_error("sms: cannot run %s: %s", path, strerror(rc));
		return -1;
	}
	for (waited_ms = 0; waited_ms < SMS_TIMEOUT_S * 1000; waited_ms += 10) {
		rc = waitpid(pid, &status, WNOHANG);
		if (rc == pid)
			break;
		if (rc < 0 && errno != EINTR)
			break;
		sms_sleep_ms(10);
	}
	if (rc != pid) {
		log_error("sms: %s took more than %d s; killed", path, SMS_TIMEOUT_S);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("sms: %s failed (status %d)", path, status);
		return -1;
	}
	return 0;
}

static size_t sms_discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static int sms_webhook(const char *url, const char *phone, const char *message)
{
	struct curl_slist *hdr = NULL;
	json_object *body;
	CURL *c = NULL;
	long status = 0;
	CURLcode cc;
	int r = -1;

	body = json_object_new_object();
	if (body == NULL)
		return -1;
	json_object_object_add(body, "phone", json_object_new_string(phone));
	json_object_object_add(body, "message", json_object_new_string(message));
	c = curl_easy_init();
	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (c == NULL || hdr == NULL)
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_object_to_json_string_ext(body,
				 JSON_C_TO_STRING_PLAIN));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)SMS_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sms_discard);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		log_error("sms: webhook %s: %s", url, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		log_error("sms: webhook %s answered %ld", url, status);
		goto out;
	}
	r = 0;
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	json_object_put(body);
	return r;
}

static const struct {
	const char *prefix;
	sms_send_fn fn;
} sms_senders[] = {
	{ "file:", sms_file },
	{ "command:", sms_command },
	{ "webhook:", sms_webhook },
};

int sms_send(const char *sender, const char *phone, const char *message)
{
	size_t i, n;

	for (i = 0; i < sizeof(sms_senders) / sizeof(sms_senders[0]); i++) {
		n = strlen(sms_senders[i].prefix);
		if (strncmp(sender, sms_senders[i].prefix, n) == 0)
			return sms_senders[i].fn(sender + n, phone, message);
	}
	log_error("sms: no SMS sender is configured (sms_sender)");
	return -1;
}
