/*
 * event-hub.c: the subscribers of the live event streams (see event-hub.h). One mutex
 * guards the list; pushing never blocks (http_stream_push queues), so publishing from a
 * request thread costs a lock and a string per event. A subscriber whose stream has
 * ended is only flagged by its close callback and swept later under the lock, so the
 * callback never waits for the hub.
 */
#include "event-hub.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"

#define EVENT_HUB_CHUNK_MAX 2048 /* one event's SSE chunk, at most */

#define EVENT_HUB_HELD_MAX 4096 /* events kept for a held subscriber; more: it is ended */

/* A live event kept aside for a held subscriber. */
struct event_held {
	int64_t id;               /* 0: the server's own news, which has none */
	char *chunk;
};

struct event_sub {
	int64_t site_id;          /* > 0: the whole site; 0: spots[] */
	int64_t *spots;           /* ascending */
	size_t nspots;
	struct http_stream *stream;
	atomic_bool closed;       /* set once by event_hub_closed() */
	/* Under the hub's lock: */
	bool held;                /* until event_hub_release(): live events go to held[] */
	bool overflow;            /* held[] was full: the stream ends at release */
	struct event_held *kept;
	size_t nkept, capkept;
	int64_t after;            /* events with IDs up to this were replayed: not again */
	struct event_sub *next;
};

struct event_hub {
	pthread_mutex_t mu;
	struct event_sub *subs;
	size_t count;
};

struct event_hub *event_hub_new(void)
{
	struct event_hub *h = calloc(1, sizeof(*h));

	if (h != NULL)
		pthread_mutex_init(&h->mu, NULL);
	return h;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct event_sub *event_hub_sub_new(int64_t site_id, const int64_t *spots, size_t n)
{
	struct event_sub *sub = calloc(1, sizeof(*sub));

	if (sub == NULL)
		return NULL;
	sub->site_id = site_id;
	if (site_id == 0 && n > 0) {
		sub->spots = malloc(n * sizeof(*sub->spots));
		if (sub->spots == NULL) {
			free(sub);
			return NULL;
		}
		memcpy(sub->spots, spots, n * sizeof(*sub->spots));
		qsort(sub->spots, n, sizeof(*sub->spots), cmp_id);
		sub->nspots = n;
	}
	atomic_init(&sub->closed, false);
	return sub;
}

/* Frees what a held subscriber kept. */
static void event_sub_drop_kept(struct event_sub *sub)
{
	size_t i;

	for (i = 0; i < sub->nkept; i++)
		free(sub->kept[i].chunk);
	free(sub->kept);
	sub->kept = NULL;
	sub->nkept = sub->capkept = 0;
}

void event_hub_sub_free(struct event_sub *sub)
{
	if (sub == NULL)
		return;
	event_sub_drop_kept(sub);
	free(sub->spots);
	free(sub);
}

void event_hub_closed(void *ctx, struct http_stream *s)
{
	struct event_sub *sub = ctx;

	(void)s;
	atomic_store(&sub->closed, true); /* the last touch: the hub may free sub after it */
}

/* Drops the subscribers whose streams have ended. Under h->mu. */
static void sweep(struct event_hub *h)
{
	struct event_sub **p = &h->subs, *sub;

	while ((sub = *p) != NULL) {
		/* A held subscriber is still its handler's until released. */
		if (!atomic_load(&sub->closed) || sub->held) {
			p = &sub->next;
			continue;
		}
		*p = sub->next;
		h->count--;
		http_stream_release(sub->stream);
		event_hub_sub_free(sub);
	}
}

void event_hub_attach(struct event_hub *h, struct event_sub *sub, struct http_stream *s,
		      const char *hello, bool held)
{
	sub->stream = s;
	sub->held = held;
	if (hello != NULL)
		(void)http_stream_push(s, hello);
	pthread_mutex_lock(&h->mu);
	sweep(h);
	sub->next = h->subs;
	h->subs = sub;
	h->count++;
	pthread_mutex_unlock(&h->mu);
}

static bool wants(const struct event_sub *sub, int64_t site_id, int64_t spot_id)
{
	if (sub->site_id > 0)
		return sub->site_id == site_id;
	return sub->nspots > 0 &&
	       bsearch(&spot_id, sub->spots, sub->nspots, sizeof(*sub->spots), cmp_id) != NULL;
}

/*
 * The SSE chunk of `ev` into chunk[0..cap): "id: ID\nevent: KIND\ndata: JSON\n\n" (no
 * id line for an event without "id"). Returns the ID (0 for none), or -1 when it does
 * not fit.
 */
static int64_t event_hub_chunk(json_object *ev, char *chunk, size_t cap)
{
	json_object *id = NULL, *kind = NULL;
	int64_t v = 0;
	int n;

	(void)json_object_object_get_ex(ev, "id", &id);
	(void)json_object_object_get_ex(ev, "kind", &kind);
	/* Only a stored event has an ID; the server's own news ("offline") leaves it be. */
	if (id != NULL)
		v = json_object_get_int64(id);
	n = id != NULL ? snprintf(chunk, cap, "id: %" PRId64 "\n", v) : 0;
	if (n >= 0 && (size_t)n < cap)
		n += snprintf(chunk + n, cap - (size_t)n, "event: %s\ndata: %s\n\n",
			      kind != NULL ? json_object_get_string(kind) : "event",
			      json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	if (n < 0 || (size_t)n >= cap || v < 0)
		return -1;
	return v;
}

/* Keeps a copy of chunk for a held subscriber, or marks it overflowed. Under h->mu. */
static void event_sub_keep(struct event_sub *sub, int64_t id, const char *chunk)
{
	struct event_held *nk;
	size_t cap;

	if (sub->overflow)
		return;
	if (sub->nkept == sub->capkept) {
		cap = sub->capkept != 0 ? 2 * sub->capkept : 16;
		nk = cap <= EVENT_HUB_HELD_MAX ? realloc(sub->kept, cap * sizeof(*nk)) : NULL;
		if (nk == NULL) {
			sub->overflow = true;
			return;
		}
		sub->kept = nk;
		sub->capkept = cap;
	}
	sub->kept[sub->nkept].id = id;
	sub->kept[sub->nkept].chunk = strdup(chunk);
	if (sub->kept[sub->nkept].chunk == NULL)
		sub->overflow = true;
	else
		sub->nkept++;
}

void event_hub_publish(struct event_hub *h, int64_t site_id, int64_t spot_id, json_object *ev)
{
	char chunk[EVENT_HUB_CHUNK_MAX];
	struct event_sub *sub;
	int64_t id = event_hub_chunk(ev, chunk, sizeof(chunk));

	if (id < 0) {
		log_error("event-hub: an event of spot %" PRId64 " does not fit a chunk", spot_id);
		return;
	}
	pthread_mutex_lock(&h->mu);
	sweep(h);
	for (sub = h->subs; sub != NULL; sub = sub->next) {
		if (atomic_load(&sub->closed) || !wants(sub, site_id, spot_id))
			continue;
		if (sub->held)
			event_sub_keep(sub, id, chunk);
		else if (id == 0 || id > sub->after)
			(void)http_stream_push(sub->stream, chunk); /* a slow client is dropped */
	}
	pthread_mutex_unlock(&h->mu);
}

/* Pushes the stored events of `replay` marked "replayed"; the highest ID, or `after`. */
static int64_t event_hub_push_replay(struct event_sub *sub, json_object *replay, int64_t after)
{
	char chunk[EVENT_HUB_CHUNK_MAX];
	json_object *ev;
	size_t i, n = replay != NULL ? json_object_array_length(replay) : 0;
	int64_t id;

	for (i = 0; i < n; i++) {
		ev = json_object_array_get_idx(replay, i);
		/* Marked, so that a client holding a newer state does not go back to it. */
		json_object_object_add(ev, "replayed", json_object_new_boolean(1));
		id = event_hub_chunk(ev, chunk, sizeof(chunk));
		if (id < 0) {
			log_error("event-hub: a replayed event does not fit a chunk");
			continue;
		}
		(void)http_stream_push(sub->stream, chunk);
		after = id > after ? id : after;
	}
	return after;
}

void event_hub_release(struct event_hub *h, struct event_sub *sub, json_object *replay,
		       int64_t after, const char *reset)
{
	size_t i;

	pthread_mutex_lock(&h->mu);
	if (reset != NULL)
		(void)http_stream_push(sub->stream, reset);
	after = event_hub_push_replay(sub, replay, after);
	sub->after = after;
	for (i = 0; i < sub->nkept; i++)
		if (sub->kept[i].id == 0 || sub->kept[i].id > after)
			(void)http_stream_push(sub->stream, sub->kept[i].chunk);
	if (sub->overflow) /* events were lost while held: the client comes back for them */
		http_stream_end(sub->stream);
	event_sub_drop_kept(sub);
	sub->held = false;
	pthread_mutex_unlock(&h->mu);
}

size_t event_hub_count(struct event_hub *h)
{
	size_t n;

	pthread_mutex_lock(&h->mu);
	sweep(h);
	n = h->count;
	pthread_mutex_unlock(&h->mu);
	return n;
}

void event_hub_free(struct event_hub *h)
{
	struct event_sub *sub, *next;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	for (sub = h->subs; sub != NULL; sub = next) {
		next = sub->next;
		if (atomic_load(&sub->closed)) {
			http_stream_release(sub->stream);
			event_hub_sub_free(sub);
			continue;
		}
		/* Still open: the connection will call back into sub; it must outlive us. */
		log_warn("event-hub: a stream was still open at stop; left to its connection");
		http_stream_end(sub->stream);
		http_stream_release(sub->stream);
	}
	h->subs = NULL;
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
