/*
 * live.c: the live link's threads (see live.h). The stream thread holds the event stream
 * open with one API client and reads the map with another while the stream waits. The
 * map is read when the stream's "ready" event has arrived, so that no event falls
 * between the map and the stream; events later than the map apply on top of it. The
 * alarms list is read by a thread of its own, at most every LIVE_ALARMS_MS, when an
 * event may have changed it: in an event storm the stream never waits for it, and the
 * last read follows the last event.
 */
#include "live.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/apiclient.h"
#include "alarms.h"
#include "i18n.h"

#define LIVE_PATH_LEN 96
#define LIVE_BACKOFF_MS 500
#define LIVE_BACKOFF_MAX_MS 10000
#define LIVE_CONNECT_MS 3000
#define LIVE_CALL_MS 10000
#define LIVE_ATTEMPTS_CAP 16 /* backoff attempts counted, at most: the delay is capped anyway */
#define LIVE_ALARMS_MS 500   /* the alarms list is read at most this often */

struct live {
	pthread_t thread;
	atomic_int cancel;
	atomic_int resync;       /* the queue overflowed: end the stream, read the map again */
	int pipe_rd, pipe_wr;
	pthread_mutex_t mu;      /* guards the queue */
	struct live_msg *head, *tail;
	size_t queued;
	struct apiclient *stream, *sync; /* the stream thread's own */
	struct apiclient *alarms;        /* the alarm thread's own */
	pthread_t alarm_thread;
	bool alarm_started;
	pthread_cond_t alarm_cond;       /* under mu: alarms_due, or cancel */
	bool alarms_due;
	bool up;                 /* this connection got its map */
	int64_t last_id;         /* of the last stored event seen: a new stream resumes after it */
	bool whole_site;
	char site_path[LIVE_PATH_LEN], alarms_path[LIVE_PATH_LEN], events_path[LIVE_PATH_LEN];
	char spots_path[LIVE_PATH_LEN];
};

/* ---- the queue ---- */

/* Queues m (taking it) and wakes the UI. Past LIVE_QUEUE_MAX, events are dropped. */
static void live_post(struct live *l, struct live_msg *m)
{
	bool drop;

	pthread_mutex_lock(&l->mu);
	drop = l->queued >= LIVE_QUEUE_MAX && m->kind == LIVE_EVENT;
	if (!drop) {
		if (l->tail != NULL)
			l->tail->next = m;
		else
			l->head = m;
		l->tail = m;
		l->queued++;
	}
	pthread_mutex_unlock(&l->mu);
	if (drop) {
		atomic_store(&l->resync, 1);
		live_msg_free(m);
		return;
	}
	/* A full pipe already wakes the UI: EAGAIN is fine. */
	if (write(l->pipe_wr, "!", 1) < 0 && errno != EAGAIN)
		atomic_store(&l->cancel, 1);
}

static struct live_msg *live_msg_new(enum live_kind kind, json_object *json)
{
	struct live_msg *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		json_object_put(json);
		return NULL;
	}
	m->kind = kind;
	m->json = json;
	return m;
}

static void live_post_json(struct live *l, enum live_kind kind, json_object *json)
{
	struct live_msg *m = live_msg_new(kind, json);

	if (m != NULL)
		live_post(l, m);
}

static void live_post_link(struct live *l, enum live_state state, long retry_ms, int status,
			   const char *detail)
{
	struct live_msg *m = live_msg_new(LIVE_LINK, NULL);

	if (m == NULL)
		return;
	m->state = state;
	m->retry_ms = retry_ms;
	m->status = status;
	snprintf(m->detail, sizeof(m->detail), "%s", detail != NULL ? detail : "");
	live_post(l, m);
}

struct live_msg *live_take(struct live *l)
{
	struct live_msg *m;
	char buf[256];

	while (read(l->pipe_rd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&l->mu);
	m = l->head;
	l->head = l->tail = NULL;
	l->queued = 0;
	pthread_mutex_unlock(&l->mu);
	return m;
}

void live_msg_free(struct live_msg *m)
{
	struct live_msg *next;

	for (; m != NULL; m = next) {
		next = m->next;
		json_object_put(m->json);
		free(m);
	}
}

int live_fd(const struct live *l)
{
	return l->pipe_rd;
}

/* ---- reading the map and the alarms ---- */

/* GET path into *out. 0, or the negative apiclient error with err set. */
static int live_get(struct live *l, const char *path, json_object **out,
		    struct apiclient_error *err)
{
	int r = apiclient_call(l->sync, "GET", path, NULL, 0, LIVE_CALL_MS, out, err);

	if (r >= 0 && *out == NULL) {
		snprintf(err->detail, sizeof(err->detail), _("The server sent an empty reply to "
							      "%s."), path);
		err->status = r;
		return -APICLIENT_E_REPLY;
	}
	return r < 0 ? r : 0;
}

/* Asks the alarm thread for a read of the alarms list (they may have changed). */
static void live_alarms(struct live *l)
{
	if (!l->whole_site)
		return; /* owners see their spots' state; the alarms are the staff's */
	pthread_mutex_lock(&l->mu);
	l->alarms_due = true;
	pthread_cond_signal(&l->alarm_cond);
	pthread_mutex_unlock(&l->mu);
}

/* Reads the alarms and queues them; a missing route queues NULL (no alarms list). */
static void live_read_alarms(struct live *l)
{
	struct apiclient_error err;
	json_object *o = NULL;
	int r = apiclient_call(l->alarms, "GET", l->alarms_path, NULL, 0, LIVE_CALL_MS, &o, &err);

	if (r >= 0 && o != NULL)
		live_post_json(l, LIVE_ALARMS, o);
	else if (r == -APICLIENT_E_HTTP && err.status == 404)
		live_post_json(l, LIVE_ALARMS, NULL);
	else
		json_object_put(o);
}

/* The alarm thread: one read per request, at most every LIVE_ALARMS_MS. */
static void *live_alarm_main(void *arg)
{
	struct live *l = arg;

	for (;;) {
		pthread_mutex_lock(&l->mu);
		while (!l->alarms_due && !atomic_load(&l->cancel))
			pthread_cond_wait(&l->alarm_cond, &l->mu);
		l->alarms_due = false;
		pthread_mutex_unlock(&l->mu);
		if (atomic_load(&l->cancel))
			break;
		live_read_alarms(l);
		if (apiclient_sleep(l->alarms, LIVE_ALARMS_MS) != 0)
			break;
	}
	return NULL;
}

/* The stream is ready: read the map. 0 to follow the stream, or 1 to end it. */
static int live_ready(struct live *l)
{
	struct apiclient_error err;
	json_object *site = NULL, *spots = NULL;
	int r = live_get(l, l->site_path, &site, &err);

	if (r != 0) {
		live_post_link(l, r == -APICLIENT_E_HTTP && (err.status == 401 || err.status == 403)
			       ? LIVE_DENIED : LIVE_DOWN, 0, err.status, err.detail);
		return 1;
	}
	live_post_json(l, LIVE_SITE, site);
	/* The map says nothing of keys: the spots list does (a missing one changes nothing). */
	if (live_get(l, l->spots_path, &spots, &err) == 0)
		live_post_json(l, LIVE_SPOTS, spots);
	live_alarms(l);
	l->up = true;
	live_post_link(l, LIVE_UP, 0, 0, "");
	return 0;
}

static int live_on_event(void *arg, const char *event, const char *data)
{
	struct live *l = arg;
	json_object *ev, *kind, *id;
	bool relevant;

	if (atomic_load(&l->cancel) || atomic_exchange(&l->resync, 0))
		return 1;
	if (strcmp(event, "ready") == 0)
		return live_ready(l);
	ev = json_tokener_parse(data);
	if (ev == NULL || !json_object_is_type(ev, json_type_object)) {
		json_object_put(ev); /* a line we cannot read changes nothing */
		return 0;
	}
	if (!json_object_object_get_ex(ev, "kind", &kind) ||
	    !json_object_is_type(kind, json_type_string)) {
		json_object_put(ev);
		return 0;
	}
	if (json_object_object_get_ex(ev, "id", &id) && json_object_is_type(id, json_type_int) &&
	    json_object_get_int64(id) > l->last_id)
		l->last_id = json_object_get_int64(id);
	relevant = alarms_event_relevant(json_object_get_string(kind));
	live_post_json(l, LIVE_EVENT, ev); /* ev is the message's now */
	if (relevant && l->up)
		live_alarms(l);
	return 0;
}

/* ---- the thread ---- */

/*
 * The stream's path: after a first connection, resuming after the last event seen, so
 * that the event list has what happened while the link was down (the server marks those
 * "replayed"; the map takes its state from the reload at "ready" instead).
 */
static const char *live_events_path(const struct live *l, char *path, size_t cap)
{
	if (l->last_id <= 0)
		return l->events_path;
	snprintf(path, cap, "%s%cafter=%" PRId64, l->events_path,
		 strchr(l->events_path, '?') != NULL ? '&' : '?', l->last_id);
	return path;
}

static void *live_main(void *arg)
{
	struct live *l = arg;
	char path[LIVE_PATH_LEN + 32];
	struct apiclient_error err;
	unsigned attempt = 0;
	long delay;
	int r;

	while (!atomic_load(&l->cancel)) {
		live_post_link(l, LIVE_CONNECTING, 0, 0, "");
		l->up = false;
		memset(&err, 0, sizeof(err));
		r = apiclient_stream(l->stream, live_events_path(l, path, sizeof(path)), 0,
				     live_on_event, l, &err);
		if (atomic_load(&l->cancel))
			break;
		if (r == -APICLIENT_E_HTTP && (err.status == 401 || err.status == 403)) {
			live_post_link(l, LIVE_DENIED, 0, err.status, err.detail);
			break;
		}
		if (l->up)
			attempt = 0;
		delay = apiclient_backoff_ms(l->stream, attempt);
		if (attempt < LIVE_ATTEMPTS_CAP)
			attempt++;
		live_post_link(l, LIVE_DOWN, delay, err.status, r == 0 && err.detail[0] == '\0' ?
			       _("The server ended the event stream.") : err.detail);
		if (apiclient_sleep(l->stream, delay) != 0)
			break;
	}
	return NULL;
}

static struct apiclient *live_client(const struct live_opts *o, atomic_int *cancel)
{
	struct apiclient_opts ao;
	struct apiclient *c;

	memset(&ao, 0, sizeof(ao));
	ao.base_url = o->base_url;
	ao.ca_file = o->ca_file;
	ao.connect_timeout_ms = LIVE_CONNECT_MS;
	ao.timeout_ms = LIVE_CALL_MS;
	ao.backoff_ms = LIVE_BACKOFF_MS;
	ao.backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : LIVE_BACKOFF_MAX_MS;
	ao.cancel = cancel;
	c = apiclient_new(&ao);
	if (c != NULL && apiclient_set_token(c, o->token) != 0) {
		apiclient_free(c);
		c = NULL;
	}
	return c;
}

static int live_pipe(struct live *l)
{
	int fds[2];

	if (pipe(fds) != 0)
		return -1;
	l->pipe_rd = fds[0];
	l->pipe_wr = fds[1];
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0)
		return -1;
	return 0;
}

static void live_free(struct live *l)
{
	apiclient_free(l->stream);
	apiclient_free(l->sync);
	apiclient_free(l->alarms);
	pthread_cond_destroy(&l->alarm_cond);
	live_msg_free(l->head);
	if (l->pipe_rd >= 0)
		close(l->pipe_rd);
	if (l->pipe_wr >= 0)
		close(l->pipe_wr);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* Ends the alarm thread (cancel is raised or raised here) and waits for it. */
static void live_stop_alarms(struct live *l)
{
	atomic_store(&l->cancel, 1);
	pthread_mutex_lock(&l->mu);
	pthread_cond_signal(&l->alarm_cond);
	pthread_mutex_unlock(&l->mu);
	if (l->alarm_started)
		pthread_join(l->alarm_thread, NULL);
	l->alarm_started = false;
}

int live_start(const struct live_opts *o, struct live **out)
{
	struct live *l = calloc(1, sizeof(*l));
	sigset_t all, old;
	int r;

	if (l == NULL)
		return -1;
	l->pipe_rd = l->pipe_wr = -1;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->alarm_cond, NULL);
	l->whole_site = o->whole_site;
	snprintf(l->site_path, sizeof(l->site_path), "/v1/sites/%" PRId64, o->site_id);
	snprintf(l->alarms_path, sizeof(l->alarms_path), "/v1/sites/%" PRId64 "/alarms",
		 o->site_id);
	snprintf(l->spots_path, sizeof(l->spots_path), "/v1/spots?site=%" PRId64, o->site_id);
	if (o->whole_site)
		snprintf(l->events_path, sizeof(l->events_path), "/v1/events?site=%" PRId64,
			 o->site_id);
	else
		snprintf(l->events_path, sizeof(l->events_path), "/v1/events");
	l->stream = live_client(o, &l->cancel);
	l->sync = live_client(o, &l->cancel);
	l->alarms = live_client(o, &l->cancel);
	if (l->stream == NULL || l->sync == NULL || l->alarms == NULL || live_pipe(l) != 0) {
		live_free(l);
		return -1;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&l->alarm_thread, NULL, live_alarm_main, l);
	l->alarm_started = r == 0;
	if (r == 0)
		r = pthread_create(&l->thread, NULL, live_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		live_stop_alarms(l);
		live_free(l);
		return -1;
	}
	*out = l;
	return 0;
}

void live_stop(struct live *l)
{
	if (l == NULL)
		return;
	atomic_store(&l->cancel, 1);
	pthread_join(l->thread, NULL);
	live_stop_alarms(l);
	live_free(l);
}
