/*
 * follow.c: the event stream follower of parkphoned; see follow.h.
 */
#include "follow.h"

#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "../lib/log.h"

extern char **environ;

#define FOLLOW_IDLE_LOGGED_OUT_MS 1000
#define FOLLOW_BACKOFF_MS 500
#define FOLLOW_BACKOFF_MAX_MS 15000

int follow_notify(const char *cmd, const char *kind, const char *json)
{
	char *argv[4];
	pid_t pid;
	int r;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	argv[0] = (char *)(uintptr_t)cmd;
	argv[1] = (char *)(uintptr_t)kind;
	argv[2] = (char *)(uintptr_t)json;
	argv[3] = NULL;
	r = posix_spawnp(&pid, cmd, NULL, NULL, argv, environ);
	if (r != 0) {
		log_warn("cannot run the notification command %s: %s", cmd, strerror(r));
		return -1;
	}
	return 0;
}

/* The follower's own state across reconnections. */
struct follow_ctx {
	struct phoned *d;
	int64_t last_id; /* of the last stored event seen: the stream resumes after it */
};

static int on_event(void *arg, const char *event, const char *data)
{
	struct follow_ctx *f = arg;
	struct phoned *d = f->d;
	json_object *o, *id;

	if (strcmp(event, "ready") == 0) {
		pthread_mutex_lock(&d->lock);
		d->server_up = true;
		pthread_mutex_unlock(&d->lock);
		log_info("following the event stream of %s", d->cfg.server);
		return 0;
	}
	o = json_tokener_parse(data);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		log_warn("the server sent an event that is not a JSON object; skipped");
		json_object_put(o);
		return 0;
	}
	if (json_object_object_get_ex(o, "id", &id) && json_object_is_type(id, json_type_int) &&
	    json_object_get_int64(id) > f->last_id)
		f->last_id = json_object_get_int64(id);
	phoned_publish(d, event, o);
	if (d->cfg.notify_cmd[0] != '\0')
		(void)follow_notify(d->cfg.notify_cmd, event,
				    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return 0;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * One stream, until it ends: from the last event seen when there was one, so that what
 * happened while the link was down comes first (or a "reset" when too much did).
 * Returns 0 when it ran at all (the backoff starts over).
 */
static int follow_once(struct follow_ctx *f, struct apiclient *c)
{
	struct phoned *d = f->d;
	struct apiclient_error e;
	char path[64];
	bool was_up;
	int r;

	memset(&e, 0, sizeof(e));
	if (f->last_id > 0)
		snprintf(path, sizeof(path), "/v1/events?after=%" PRId64, f->last_id);
	else
		snprintf(path, sizeof(path), "/v1/events");
	r = apiclient_stream(c, path, 0, on_event, f, &e);
	pthread_mutex_lock(&d->lock);
	was_up = d->server_up;
	d->server_up = false;
	pthread_mutex_unlock(&d->lock);
	if (r == -APICLIENT_E_HTTP && e.status == 401) {
		log_warn("the event stream ended: the session is no longer valid");
		f->last_id = 0; /* the next session's stream starts afresh */
	}
	else if (r != 0 && r != -APICLIENT_E_CANCELLED && !atomic_load(&d->stopping))
		log_warn("the event stream of %s ended: %s", d->cfg.server, e.detail);
	return was_up ? 0 : -1;
}

static void *follow_main(void *arg)
{
	struct follow_ctx f = { .d = arg, .last_id = 0 };
	struct phoned *d = arg;
	struct apiclient *c;
	long backoff = FOLLOW_BACKOFF_MS;

	while (!atomic_load(&d->stopping)) {
		atomic_store(&d->follow_cancel, 0);
		if (!phoned_session_get(d, NULL)) {
			f.last_id = 0;
			nap_ms(FOLLOW_IDLE_LOGGED_OUT_MS);
			continue;
		}
		c = phoned_follow_client(d);
		if (c == NULL) {
			nap_ms(FOLLOW_BACKOFF_MAX_MS);
			continue;
		}
		if (follow_once(&f, c) == 0)
			backoff = FOLLOW_BACKOFF_MS;
		else if (!atomic_load(&d->follow_cancel))
			(void)apiclient_sleep(c, backoff);
		if (backoff < FOLLOW_BACKOFF_MAX_MS)
			backoff *= 2;
		apiclient_free(c);
	}
	return NULL;
}

int follow_start(struct phoned *d)
{
	if (pthread_create(&d->follower, NULL, follow_main, d) != 0)
		return -1;
	d->follower_started = true;
	return 0;
}

void follow_stop(struct phoned *d)
{
	atomic_store(&d->stopping, 1);
	atomic_store(&d->follow_cancel, 1);
	if (d->follower_started)
		pthread_join(d->follower, NULL);
	d->follower_started = false;
}
