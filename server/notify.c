/*
 * notify.c: the notification hook and its worker (see notify.h). The three hook forms are
 * rows of a table; the worker owns one database connection and reads the pending rows
 * event.c wrote, so a notification survives a restart between its event and its send.
 * It does not decide who manages a spot beyond one query, nor what an event means.
 */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "../lib/log.h"
#include "../lockfw/proto/proto.h"
#include "config.h"
#include "server.h"

#define NOTIFY_TICK_MS 5000       /* the worker looks at least this often */
#define NOTIFY_RETRY_BASE_S 5     /* first retry after a failed send; doubles each time */
#define NOTIFY_RECIPIENTS_MAX 64

/* What each kind that notifies says, after the spot's name; NULL: it does not notify. */
static const char *const notify_texts[PROTO_EV_KIND_MAX + 1] = {
	[PROTO_EV_UNLOCKED] = "unlocked",
	[PROTO_EV_LOCKED] = "locked",
	[PROTO_EV_CAR_ARRIVED] = "a car arrived",
	[PROTO_EV_CAR_LEFT] = "the car left",
	[PROTO_EV_FORCED] = "the barrier was pushed down by force",
	[PROTO_EV_JAMMED] = "the barrier is jammed",
	[PROTO_EV_LOW_BATTERY] = "the lock's battery is low",
	[PROTO_EV_LOCKOUT] = "a device was locked out after failed unlocks",
};

bool notify_kind(uint8_t kind)
{
	return kind <= PROTO_EV_KIND_MAX && notify_texts[kind] != NULL;
}

/* ---- the hooks ---- */

typedef int (*notify_hook_fn)(const char *target, const char *json, char *err, size_t cap);

static int hook_file(const char *path, const char *json, char *err, size_t cap)
{
	size_t len = strlen(json);
	char *line = malloc(len + 2);
	int fd = -1, r = -1;

	if (line == NULL) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	memcpy(line, json, len);
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
	free(line);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* posix_spawn rather than fork: parkd is multithreaded, a forked copy could deadlock. */
static int hook_command(const char *path, const char *json, char *err, size_t cap)
{
	static const char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	const char *argv[] = { path, json, NULL };
	posix_spawn_file_actions_t fa;
	int status = 0, waited_ms, rc;
	pid_t pid;

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
	for (waited_ms = 0; waited_ms < NOTIFY_TIMEOUT_S * 1000; waited_ms += 10) {
		rc = waitpid(pid, &status, WNOHANG);
		if (rc == pid || (rc < 0 && errno != EINTR))
			break;
		sleep_ms(10);
	}
	if (rc != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(err, cap, "%s took more than %d s and was killed", path, NOTIFY_TIMEOUT_S);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, cap, "%s failed (status %d)", path, status);
		return -1;
	}
	return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static int hook_webhook(const char *url, const char *json, char *err, size_t cap)
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
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)NOTIFY_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
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
	notify_hook_fn fn;
} notify_hooks[] = {
	{ "file:", hook_file },
	{ "command:", hook_command },
	{ "webhook:", hook_webhook },
};
#define NOTIFY_HOOKS (sizeof(notify_hooks) / sizeof(notify_hooks[0]))

bool notify_hook_valid(const char *hook)
{
	size_t i, n;

	for (i = 0; hook != NULL && i < NOTIFY_HOOKS; i++) {
		n = strlen(notify_hooks[i].prefix);
		if (strncmp(hook, notify_hooks[i].prefix, n) == 0 && hook[n] != '\0')
			return true;
	}
	return false;
}

int notify_send(const char *hook, const char *json, char *err, size_t cap)
{
	size_t i, n;

	for (i = 0; i < NOTIFY_HOOKS; i++) {
		n = strlen(notify_hooks[i].prefix);
		if (strncmp(hook, notify_hooks[i].prefix, n) == 0 && hook[n] != '\0')
			return notify_hooks[i].fn(hook + n, json, err, cap);
	}
	snprintf(err, cap, "the notify hook must be file:PATH, command:PATH or webhook:URL");
	return -1;
}

/* ---- one pass ---- */

struct notify_item {
	int64_t id;
	int64_t attempts;
	int64_t spot, site;
	char spot_name[64];
	uint8_t kind;
	json_object *event; /* owned */
};

/* The pending notifications due at `now`, with their events, into items. Count or -1. */
static int load_pending(struct db *db, int64_t now, struct notify_item *items, size_t max)
{
	struct db_stmt *st;
	json_object *e;
	const char *kind, *name;
	size_t n = 0;
	unsigned k;
	int r;

	st = db_prepare(db, "SELECT n.id, n.attempts, e.id, e.spot_id, e.seq, e.time, e.kind, "
			"e.arg8, e.arg16, e.user_id, e.key_id, e.received_at, s.name, s.site_id "
			"FROM notifications n JOIN events e ON e.id = n.event_id "
			"JOIN spots s ON s.id = e.spot_id "
			"WHERE n.state = 'pending' AND n.next_try_at <= $1 ORDER BY n.id LIMIT $2");
	if (st == NULL || db_bind_int(st, 1, now) != 0 || db_bind_int(st, 2, (int64_t)max) != 0) {
		db_finalize(st);
		return -1;
	}
	while (n < max && (r = db_step(st)) == DB_ROW) {
		struct notify_item *it = &items[n];

		memset(it, 0, sizeof(*it));
		it->id = db_col_int(st, 0);
		it->attempts = db_col_int(st, 1);
		it->spot = db_col_int(st, 3);
		it->site = db_col_int(st, 13);
		kind = db_col_text(st, 6);
		name = db_col_text(st, 12);
		snprintf(it->spot_name, sizeof(it->spot_name), "%s", name != NULL ? name : "");
		for (k = 1; k <= PROTO_EV_KIND_MAX && kind != NULL; k++)
			if (strcmp(proto_event_name((uint8_t)k), kind) == 0)
				it->kind = (uint8_t)k;
		e = json_object_new_object();
		json_object_object_add(e, "id", json_object_new_int64(db_col_int(st, 2)));
		json_object_object_add(e, "site", json_object_new_int64(it->site));
		json_object_object_add(e, "spot", json_object_new_int64(it->spot));
		json_object_object_add(e, "seq", json_object_new_int64(db_col_int(st, 4)));
		json_object_object_add(e, "time", json_object_new_int64(db_col_int(st, 5)));
		json_object_object_add(e, "kind", json_object_new_string(kind != NULL ? kind : ""));
		json_object_object_add(e, "arg8", json_object_new_int64(db_col_int(st, 7)));
		json_object_object_add(e, "arg16", json_object_new_int64(db_col_int(st, 8)));
		json_object_object_add(e, "user_id", json_object_new_int64(db_col_int(st, 9)));
		json_object_object_add(e, "key_id", json_object_new_int64(db_col_int(st, 10)));
		json_object_object_add(e, "received_at", json_object_new_int64(db_col_int(st, 11)));
		it->event = e;
		n++;
	}
	db_finalize(st);
	return (int)n;
}

/* The spot's managers as [{"user_id","phone"}], and their IDs as a JSON text. */
static json_object *managers(struct db *db, const struct notify_item *it, json_object **ids)
{
	json_object *to = json_object_new_array(), *o;
	struct db_stmt *st;
	const char *phone;
	int r;

	*ids = json_object_new_array();
	st = db_prepare(db, "SELECT id, phone FROM users WHERE id IN ("
			"SELECT owner_id FROM spots WHERE id = $1 "
			"UNION SELECT user_id FROM roles WHERE role = 'owner' AND spot_id = $1 "
			"UNION SELECT user_id FROM roles WHERE role IN ('attendant', 'admin') "
			"AND site_id = $2) ORDER BY id LIMIT $3");
	if (to == NULL || *ids == NULL || st == NULL || db_bind_int(st, 1, it->spot) != 0 ||
	    db_bind_int(st, 2, it->site) != 0 || db_bind_int(st, 3, NOTIFY_RECIPIENTS_MAX) != 0)
		goto fail;
	while ((r = db_step(st)) == DB_ROW) {
		phone = db_col_text(st, 1);
		o = json_object_new_object();
		json_object_object_add(o, "user_id", json_object_new_int64(db_col_int(st, 0)));
		json_object_object_add(o, "phone",
				       json_object_new_string(phone != NULL ? phone : ""));
		json_object_array_add(to, o);
		json_object_array_add(*ids, json_object_new_int64(db_col_int(st, 0)));
	}
	if (r != DB_DONE)
		goto fail;
	db_finalize(st);
	return to;
fail:
	db_finalize(st);
	json_object_put(to);
	json_object_put(*ids);
	*ids = NULL;
	return NULL;
}

static json_object *payload(const struct notify_item *it, json_object *to)
{
	json_object *o = json_object_new_object(), *spot = json_object_new_object();
	char text[160];

	snprintf(text, sizeof(text), "%s: %s.", it->spot_name,
		 notify_texts[it->kind] != NULL ? notify_texts[it->kind] : "an event");
	json_object_object_add(spot, "id", json_object_new_int64(it->spot));
	json_object_object_add(spot, "name", json_object_new_string(it->spot_name));
	json_object_object_add(spot, "site", json_object_new_int64(it->site));
	json_object_object_add(o, "notification", json_object_new_int64(it->id));
	json_object_object_add(o, "event", json_object_get(it->event));
	json_object_object_add(o, "spot", spot);
	json_object_object_add(o, "to", json_object_get(to));
	json_object_object_add(o, "text", json_object_new_string(text));
	return o;
}

/* Sends one notification and records the outcome. 0, or -1 on a storage error. */
static int send_one(struct db *db, const char *hook, int64_t now, struct notify_item *it)
{
	json_object *to, *ids = NULL, *body = NULL;
	char err[200];
	int64_t next;
	int r;

	to = managers(db, it, &ids);
	if (to == NULL)
		return -1;
	if (json_object_array_length(to) == 0) {
		r = db_exec(db, "UPDATE notifications SET state = 'skipped', recipients = '[]' "
			    "WHERE id = $1", "i", it->id);
		goto out;
	}
	body = payload(it, to);
	if (notify_send(hook, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), err,
			sizeof(err)) == 0) {
		r = db_exec(db, "UPDATE notifications SET state = 'sent', sent_at = $2, "
			    "attempts = attempts + 1, recipients = $3, error = NULL WHERE id = $1",
			    "iis", it->id, now,
			    json_object_to_json_string_ext(ids, JSON_C_TO_STRING_PLAIN));
		goto out;
	}
	log_warn("notify: notification %" PRId64 " (spot %" PRId64 "): %s", it->id, it->spot, err);
	if (it->attempts + 1 >= NOTIFY_ATTEMPTS) {
		r = db_exec(db, "UPDATE notifications SET state = 'failed', "
			    "attempts = attempts + 1, error = $2 WHERE id = $1", "is", it->id, err);
		goto out;
	}
	next = now + ((int64_t)NOTIFY_RETRY_BASE_S << it->attempts);
	r = db_exec(db, "UPDATE notifications SET attempts = attempts + 1, next_try_at = $2, "
		    "error = $3 WHERE id = $1", "iis", it->id, next, err);
out:
	json_object_put(body);
	json_object_put(to);
	json_object_put(ids);
	return r == 0 ? 0 : -1;
}

int notify_pass(struct db *db, const char *hook, int64_t now)
{
	struct notify_item items[NOTIFY_BATCH];
	int i, n, r = 0;

	n = load_pending(db, now, items, NOTIFY_BATCH);
	if (n < 0) {
		log_error("notify: reading the pending notifications failed: %s", db_errmsg(db));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (r == 0 && send_one(db, hook, now, &items[i]) != 0) {
			log_error("notify: recording notification %" PRId64 " failed: %s",
				  items[i].id, db_errmsg(db));
			r = -1;
		}
		json_object_put(items[i].event);
	}
	return r == 0 ? n : -1;
}

/* ---- the worker ---- */

struct notify {
	struct server *srv;
	char hook[CONFIG_URL_MAX];
	struct db *db;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool kicked;
	bool stop;
};

static void *notify_main(void *arg)
{
	struct notify *n = arg;
	struct timespec until;
	int r = 0;

	for (;;) {
		pthread_mutex_lock(&n->mu);
		if (r < NOTIFY_BATCH && !n->kicked && !n->stop) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += NOTIFY_TICK_MS / 1000;
			pthread_cond_timedwait(&n->cond, &n->mu, &until);
		}
		n->kicked = false;
		if (n->stop) {
			pthread_mutex_unlock(&n->mu);
			break;
		}
		pthread_mutex_unlock(&n->mu);
		r = notify_pass(n->db, n->hook, server_now(n->srv));
	}
	return NULL;
}

int notify_start(struct server *srv, const char *hook, struct notify **out)
{
	struct notify *n;
	const char *err = NULL;

	*out = NULL;
	if (!notify_hook_valid(hook)) {
		log_error("notify: notify_hook must be file:PATH, command:PATH or webhook:URL");
		return -1;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -1;
	n->srv = srv;
	snprintf(n->hook, sizeof(n->hook), "%s", hook);
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cond, NULL);
	n->db = db_open(server_config(srv)->db_url, &err);
	if (n->db == NULL) {
		log_error("notify: cannot open the database: %s", err != NULL ? err : "?");
		goto fail;
	}
	if (pthread_create(&n->thread, NULL, notify_main, n) != 0) {
		log_error("notify: cannot start the worker thread");
		goto fail;
	}
	*out = n;
	return 0;
fail:
	if (n->db != NULL)
		db_close(n->db);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->mu);
	free(n);
	return -1;
}

void notify_kick(struct notify *n)
{
	if (n == NULL)
		return;
	pthread_mutex_lock(&n->mu);
	n->kicked = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->mu);
}

void notify_stop(struct notify *n)
{
	if (n == NULL)
		return;
	pthread_mutex_lock(&n->mu);
	n->stop = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->thread, NULL);
	db_close(n->db);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->mu);
	free(n);
}
