/*
 * route-event.c: the events module of parkd: POST /v1/gateway/events (a gateway's batch
 * of lock events, stored once each), GET /v1/events (the live stream of the caller's
 * spots, or of a whole site for its attendants), and the module's start and stop hooks
 * that own the event hub and the notification worker. The work is event.c's,
 * event-hub.c's and notify.c's; this file turns requests into calls.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "config.h"
#include "event-hub.h"
#include "event.h"
#include "notify.h"
#include "routes.h"
#include "server.h"
#include "site.h"

#define EVENT_MODULES_MAX 8

/* The module's state beside the database, one per running server. */
struct event_module {
	struct server *srv;
	struct event_hub *hub;
	struct notify *notify; /* NULL when no notify_hook is configured */
};

/*
 * The started modules by server. server.h keeps the publisher's context but offers no
 * way back to it, and GET /v1/events needs the hub: until it does, this small table
 * (more than one server runs in a process only in tests) is how a handler finds it.
 */
static struct {
	pthread_mutex_t mu;
	struct event_module *m[EVENT_MODULES_MAX];
} event_modules = { PTHREAD_MUTEX_INITIALIZER, { NULL } };

static struct event_module *module_of(struct server *srv)
{
	struct event_module *m = NULL;
	size_t i;

	pthread_mutex_lock(&event_modules.mu);
	for (i = 0; i < EVENT_MODULES_MAX && m == NULL; i++)
		if (event_modules.m[i] != NULL && event_modules.m[i]->srv == srv)
			m = event_modules.m[i];
	pthread_mutex_unlock(&event_modules.mu);
	return m;
}

struct event_hub *event_hub_of(struct server *srv)
{
	struct event_module *m = module_of(srv);

	return m != NULL ? m->hub : NULL;
}

/* server_publish() lands here, after the events' transaction committed. */
static void event_publish(void *ctx, int64_t site_id, int64_t spot_id, json_object *ev)
{
	struct event_module *m = ctx;

	event_hub_publish(m->hub, site_id, spot_id, ev);
	notify_kick(m->notify);
}

int event_start(struct server *srv)
{
	const char *hook = server_config(srv)->notify_hook;
	struct event_module *m = calloc(1, sizeof(*m));
	size_t i;

	if (m == NULL)
		return -1;
	m->srv = srv;
	m->hub = event_hub_new();
	if (m->hub == NULL)
		goto fail;
	if (hook[0] != '\0' && notify_start(srv, hook, &m->notify) != 0)
		goto fail;
	pthread_mutex_lock(&event_modules.mu);
	for (i = 0; i < EVENT_MODULES_MAX && event_modules.m[i] != NULL; i++)
		;
	if (i < EVENT_MODULES_MAX)
		event_modules.m[i] = m;
	pthread_mutex_unlock(&event_modules.mu);
	if (i == EVENT_MODULES_MAX) {
		log_error("event: too many servers in one process");
		goto fail;
	}
	server_set_publisher(srv, event_publish, m);
	return 0;
fail:
	notify_stop(m->notify);
	event_hub_free(m->hub);
	free(m);
	return -1;
}

void event_stop(struct server *srv)
{
	struct event_module *m = NULL;
	size_t i;

	pthread_mutex_lock(&event_modules.mu);
	for (i = 0; i < EVENT_MODULES_MAX; i++)
		if (event_modules.m[i] != NULL && event_modules.m[i]->srv == srv) {
			m = event_modules.m[i];
			event_modules.m[i] = NULL;
		}
	pthread_mutex_unlock(&event_modules.mu);
	if (m == NULL)
		return;
	server_set_publisher(srv, NULL, NULL);
	notify_stop(m->notify);
	event_hub_free(m->hub);
	free(m);
}

/* ---- POST /v1/gateway/events ---- */

static void events_post(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	struct event_in *ev = NULL;
	struct event_stored *out = NULL;
	struct event_error err;
	struct db *db = NULL;
	json_object *o;
	int64_t dups = 0;
	size_t i, nout = 0;
	int n;

	ev = calloc(EVENT_BATCH_MAX, sizeof(*ev));
	out = calloc(EVENT_BATCH_MAX, sizeof(*out));
	if (ev == NULL || out == NULL) {
		http_reply_error(rep, 500, "internal", "The server is out of memory; try again.");
		goto out;
	}
	n = event_parse(req->json, ev, EVENT_BATCH_MAX, rep);
	if (n < 0)
		goto out;
	db = server_db_get(srv);
	if (db == NULL) {
		http_reply_error(rep, 500, "internal", "The database is not available; try again.");
		goto out;
	}
	if (event_ingest(db, req->gateway_id, server_now(srv),
			 server_config(srv)->notify_hook[0] != '\0', ev, (size_t)n, out, &nout,
			 &dups, &err) != 0) {
		http_reply_error(rep, err.status, err.code, "%s", err.detail);
		goto out;
	}
	server_db_put(srv, db);
	db = NULL;
	for (i = 0; i < nout; i++)
		server_publish(srv, out[i].site_id, out[i].spot_id, out[i].json);
	if (nout > 0)
		server_count(srv, "parkd_events_total", nout);
	if (dups > 0)
		server_count(srv, "parkd_event_duplicates_total", (uint64_t)dups);
	o = json_object_new_object();
	json_object_object_add(o, "accepted", json_object_new_int64((int64_t)nout));
	json_object_object_add(o, "duplicates", json_object_new_int64(dups));
	http_reply_json(rep, 200, o);
out:
	if (db != NULL)
		server_db_put(srv, db);
	if (out != NULL)
		event_stored_free(out, nout);
	free(out);
	free(ev);
}

/* ---- GET /v1/events ---- */

/*
 * Where a reconnecting client left off: the Last-Event-ID header (what EventSource
 * sends), else ?after=. 0 with *after (-1: not asked), or -1 with rep set to 400.
 */
static int events_resume_point(struct http_request *req, struct http_reply *rep,
			       int64_t *after)
{
	const char *v = http_header(req, "Last-Event-ID"), *name = "Last-Event-ID";
	char *end;
	long long n;

	*after = -1;
	if (v == NULL) {
		v = http_query(req, "after");
		name = "after";
	}
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n < 0) {
		http_reply_error(rep, 400, "bad_field", "%s must be the ID of the last event "
				 "received (a whole number, 0 or more).", name);
		return -1;
	}
	*after = n;
	return 0;
}

/* The first chunk of a stream: what it follows. NULL when out of memory. */
static char *hello_chunk(int64_t site_id, const int64_t *spots, size_t n)
{
	json_object *o = json_object_new_object(), *arr;
	const char *text;
	char *chunk = NULL;
	size_t i, len;

	if (o == NULL)
		return NULL;
	if (site_id > 0) {
		json_object_object_add(o, "site", json_object_new_int64(site_id));
	} else {
		arr = json_object_new_array();
		for (i = 0; arr != NULL && i < n; i++)
			json_object_array_add(arr, json_object_new_int64(spots[i]));
		json_object_object_add(o, "spots", arr);
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	len = strlen(text) + 32;
	chunk = malloc(len);
	if (chunk != NULL)
		snprintf(chunk, len, "event: ready\ndata: %s\n\n", text);
	json_object_put(o);
	return chunk;
}

/*
 * The stored events of the subscriber's scope after `after`, then the release of its
 * hold. More than stream_replay_max missed (or none readable): a "reset" event instead,
 * telling the client to read the state afresh; the live events follow either way.
 */
static void events_replay(struct server *srv, struct event_hub *hub, struct event_sub *sub,
			  int64_t after, int64_t site_id, const int64_t *spots, size_t n)
{
	size_t max = (size_t)server_config(srv)->stream_replay_max;
	struct db *db = server_db_get(srv);
	json_object *list = NULL;
	bool more = false;
	char reset[128];
	int r = db != NULL ? event_since(db, after, site_id, spots, n, max, &list, &more) : -1;

	server_db_put(srv, db);
	if (r != 0 || more)
		snprintf(reset, sizeof(reset), "event: reset\ndata: {\"after\":%" PRId64
			 ",\"reason\":\"%s\"}\n\n", after, r != 0 ? "unreadable" : "too_many");
	event_hub_release(hub, sub, r == 0 && !more ? list : NULL, after,
			  r != 0 || more ? reset : NULL);
	json_object_put(list);
}

static void events_stream(struct server *srv, struct http_request *req, struct http_reply *rep)
{
	struct event_hub *hub = event_hub_of(srv);
	const char *site = http_query(req, "site");
	struct event_sub *sub = NULL;
	struct http_stream *stream;
	int64_t *spots = NULL;
	int64_t site_id = 0, after;
	struct db *db;
	char *end, *hello = NULL;
	bool unknown_site = false;
	size_t n = 0;
	int r = 0;

	if (hub == NULL) {
		http_reply_error(rep, 503, "unavailable", "The event stream is not running; try "
				 "again later.");
		return;
	}
	if (events_resume_point(req, rep, &after) != 0)
		return;
	if (site != NULL) {
		site_id = strtoll(site, &end, 10);
		if (*site == '\0' || *end != '\0' || site_id < 1 || site_id > 4294967295LL) {
			http_reply_error(rep, 400, "bad_field", "site must be a site ID.");
			return;
		}
	}
	db = server_db_get(srv);
	if (db == NULL) {
		http_reply_error(rep, 500, "internal", "The database is not available; try again.");
		return;
	}
	if (site_id > 0) {
		r = site_exists(db, site_id);
		unknown_site = r == 0;
		if (r > 0)
			r = event_may_watch_site(db, req->user->user_id, req->user->admin, site_id);
	} else {
		r = event_user_spots(db, req->user->user_id, &spots, &n);
	}
	server_db_put(srv, db); /* never held across the stream */
	if (r < 0) {
		http_reply_error(rep, 500, "internal", "Your spots could not be read; try again.");
		goto out;
	}
	if (unknown_site) {
		http_reply_error(rep, 404, "not_found", "There is no site %" PRId64 ".", site_id);
		goto out;
	}
	if (site_id > 0 && r == 0) {
		http_reply_error(rep, 403, "forbidden", "Only the administrators and "
				 "attendants of site %" PRId64 " may watch all of it; leave out "
				 "?site= to watch your own spots.", site_id);
		goto out;
	}
	sub = event_hub_sub_new(site_id, spots, n);
	hello = hello_chunk(site_id, spots, n);
	stream = sub != NULL && hello != NULL ? http_reply_stream(rep, event_hub_closed, sub) :
						NULL;
	if (stream == NULL) {
		http_reply_error(rep, 500, "internal", "The server is out of memory; try again.");
		goto out;
	}
	/* Held while the missed events are read, so that none is lost or sent twice. */
	event_hub_attach(hub, sub, stream, hello, after >= 0);
	if (after >= 0)
		events_replay(srv, hub, sub, after, site_id, spots, n);
	sub = NULL; /* transferred */
out:
	event_hub_sub_free(sub);
	free(hello);
	free(spots);
}

const struct http_route event_routes[] = {
	{ "POST", "/v1/gateway/events", events_post, HTTP_AUTH_GATEWAY | HTTP_JSON_BODY,
	  "A gateway reports lock events (each stored once by spot and sequence)", 0 },
	{ "GET", "/v1/events", events_stream, HTTP_AUTH_USER,
	  "Server-sent events of the caller's spots, or of a whole site (?site=) for its "
	  "attendants", 0 },
};
const size_t event_routes_count = sizeof(event_routes) / sizeof(event_routes[0]);
