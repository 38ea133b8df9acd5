/*
 * live.h: the console's live link to parkd, in a thread of its own: it follows the event
 * stream (GET /v1/events, apiclient_stream), reads the site's map and alarms afresh on
 * every (re)connection and whenever an event may change the alarms, and reconnects by
 * itself with backoff. Everything it learns goes to the UI thread as messages on a
 * queue, with a byte on a pipe whose read end the UI's poll() watches: the UI never
 * waits on the network for the live state, and nothing spins.
 */
#ifndef PARK_TUI_LIVE_H
#define PARK_TUI_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#define LIVE_DETAIL_LEN 256
#define LIVE_QUEUE_MAX 4096 /* messages waiting for the UI; past this the link resyncs */

enum live_kind {
	LIVE_SITE,    /* json: GET /v1/sites/{id}, read on (re)connection */
	LIVE_SPOTS,   /* json: GET /v1/spots?site={id} (keys out), read after the map */
	LIVE_EVENT,   /* json: one event of the stream (server/event.c) */
	LIVE_ALARMS,  /* json: GET /v1/sites/{id}/alarms; NULL when the route is missing */
	LIVE_LINK,    /* the link changed: `state` and `detail` */
};

enum live_state {
	LIVE_CONNECTING, /* connecting (the first time or again) */
	LIVE_UP,         /* following the stream, the map is current */
	LIVE_DOWN,       /* lost; `detail` says why; the next try is in `retry_ms` */
	LIVE_DENIED,     /* the server refused the session (401/403): no retry */
};

struct live_msg {
	enum live_kind kind;
	json_object *json;              /* owned by the message; NULL for LIVE_LINK */
	enum live_state state;          /* LIVE_LINK */
	long retry_ms;                  /* LIVE_LINK, LIVE_DOWN: the wait before the next try */
	int status;                     /* LIVE_LINK: the HTTP status that ended it, or 0 */
	char detail[LIVE_DETAIL_LEN];   /* LIVE_LINK: why, one sentence (the server's or
					 * libcurl's words as they are, the console's translated) */
	struct live_msg *next;
};

struct live_opts {
	const char *base_url;  /* "https://host:port"; copied */
	const char *ca_file;   /* or NULL; copied */
	const char *token;     /* the session's bearer token; copied */
	int64_t site_id;       /* the site shown */
	bool whole_site;       /* follow ?site= (staff); else the caller's own spots */
	long backoff_max_ms;   /* cap of the reconnection delay; 0: 10000 */
};

struct live;

/*
 * Starts the thread. All signals are blocked in it, so that SIGWINCH and the like reach
 * the UI thread. Returns 0 with *out, or -1 (nothing started).
 */
int live_start(const struct live_opts *o, struct live **out);

/* The pipe's read end: readable when messages wait. */
int live_fd(const struct live *l);

/*
 * Takes every waiting message, oldest first, as a list the caller frees with
 * live_msg_free(), and empties the pipe. NULL when none wait.
 */
struct live_msg *live_take(struct live *l);

/* Frees a list of messages and their JSON. NULL is fine. */
void live_msg_free(struct live_msg *m);

/* Stops the thread (within about a second), joins it and frees l. NULL is fine. */
void live_stop(struct live *l);

#endif
