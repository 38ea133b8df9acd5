/*
 * event-hub.h: the live event streams of GET /v1/events: subscribers, each with its
 * filter (one site, or a set of spots) and its server-sent event stream (http-stream.h),
 * and the push of every newly stored event to the subscribers entitled to it. The hub
 * never blocks on a client: http-stream queues, and drops clients that fall behind.
 * Also the events module's start and stop hooks (routes.c), which own the hub.
 */
#ifndef PARK_EVENT_HUB_H
#define PARK_EVENT_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "http-stream.h"

struct server;
struct event_hub;
struct event_sub;

/* A new, empty hub, or NULL. */
struct event_hub *event_hub_new(void);

/*
 * Frees the hub and every subscriber whose stream has ended. Call after http_stop(),
 * which ends every stream; a stream still open then is ended and its subscriber left
 * to the connection (never freed under it). NULL is fine.
 */
void event_hub_free(struct event_hub *h);

/*
 * A subscriber to every spot of `site_id` (> 0), or, when site_id is 0, to the spots
 * spots[0..n) (copied; any order). NULL when out of memory. Owned by the caller until
 * event_hub_attach(); free it with event_hub_sub_free() if it never gets there.
 */
struct event_sub *event_hub_sub_new(int64_t site_id, const int64_t *spots, size_t n);
void event_hub_sub_free(struct event_sub *sub);

/* The http_stream_closed_fn to give http_reply_stream() with ctx = the subscriber. */
void event_hub_closed(void *ctx, struct http_stream *s);

/*
 * Hands `sub` and its stream (the owner's reference) to the hub: `hello` (a whole SSE
 * chunk, may be NULL) is pushed first, then every matching event. The hub owns both
 * from here on. When `held`, the matching events are kept aside (not sent) until
 * event_hub_release(), and until then the caller may still use sub: for a replay of
 * stored events that must come before them, none missed in between.
 */
void event_hub_attach(struct event_hub *h, struct event_sub *sub, struct http_stream *s,
		      const char *hello, bool held);

/*
 * Ends the hold of `sub`: pushes `reset` (a whole SSE chunk) when not NULL, then the
 * stored events of `replay` (a JSON array of events as event_hub_publish() gets them, or
 * NULL), each marked "replayed": true, then the events kept meanwhile whose IDs are above
 * the highest replayed one (or `after`), and from then on never an event with an ID up
 * to it. When more events came meanwhile than a subscriber may keep, the stream is ended
 * after them (the client reconnects from the last ID it saw). The caller must not use
 * sub afterwards.
 */
void event_hub_release(struct event_hub *h, struct event_sub *sub, json_object *replay,
		       int64_t after, const char *reset);

/*
 * Pushes `ev` (borrowed) to every live subscriber of `site_id` or of `spot_id` as
 * "id: ID\nevent: KIND\ndata: JSON\n\n", ID and KIND (a string without line
 * breaks) being the event's "id" and "kind" members. Thread-safe.
 */
void event_hub_publish(struct event_hub *h, int64_t site_id, int64_t spot_id, json_object *ev);

/* Live subscribers, for /metrics and tests. */
size_t event_hub_count(struct event_hub *h);

/* ---- the events module's hooks (routes.c's routes_hooks) ---- */

/*
 * Makes the hub, starts the notification worker when notify_hook is set, and registers
 * the publisher (server_set_publisher). 0, or -1 after logging why.
 */
int event_start(struct server *srv);
void event_stop(struct server *srv);

/* The hub of a started server, or NULL (route-event.c's GET /v1/events uses it). */
struct event_hub *event_hub_of(struct server *srv);

#endif
