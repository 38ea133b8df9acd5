/*
 * phoned.h: the state of the phone daemon parkphoned and what its command handlers
 * share: the configuration, the device key pair (made on first start; the private half
 * only ever in a 0600 file), the session, the keyring, a pool of API clients (kept-alive
 * connections to parkd), the one radio (one lock operation at a time, as a phone has one
 * radio), the recent events and their subscribers. phoned.c owns all of it; handlers
 * (cmd-*.c) reach it only through these functions, under its lock.
 */
#ifndef PARK_PHONE_PHONED_H
#define PARK_PHONE_PHONED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "../lib/apiclient.h"
#include "../lib/transport.h"
#include "keyring.h"
#include "paths.h"
#include "revlist.h"

#define PHONED_URL_MAX 512
#define PHONED_TOKEN_MAX 128
#define PHONED_API_POOL 4      /* idle API clients kept for reuse */
#define PHONED_SUBSCRIBERS_MAX 32
#define PHONED_EVENTS_KEPT 64  /* recent events `events` shows */

struct phoned_config {
	struct phone_paths paths;
	char server[PHONED_URL_MAX];   /* "https://host:port" */
	char ca_file[PHONED_URL_MAX];  /* "" : the system's CAs */
	char transport[16];            /* "sim" or "bluez" */
	char bus[PHONED_URL_MAX];      /* bluez: a D-Bus address; "": the system bus */
	char adapter[32];              /* bluez: "" : hci0 */
	char notify_cmd[PHONED_URL_MAX]; /* run for each event: CMD KIND JSON; "" : none */
	long http_timeout_ms;
};

struct phoned_session {
	char token[PHONED_TOKEN_MAX];  /* "" : logged out */
	char phone[32];
	int64_t user_id;
	int64_t expires_at;
};

struct phoned {
	struct phoned_config cfg;
	pthread_mutex_t lock;          /* guards everything below but the radio */
	EVP_PKEY *device;              /* the device key pair */
	uint8_t device_pub[64];
	struct phoned_session session;
	unsigned session_gen;          /* bumped at each login and logout */
	struct keyring *keys;
	char keys_path[PHONE_PATH_MAX];
	struct revlist *revs;          /* the revocation lists the phone carries */
	char revs_path[PHONE_PATH_MAX];
	struct apiclient *pool[PHONED_API_POOL];
	unsigned npool;
	int subscribers[PHONED_SUBSCRIBERS_MAX];
	unsigned nsubscribers;
	char *events[PHONED_EVENTS_KEPT]; /* a ring of JSON lines, oldest first from ev_head */
	unsigned ev_head, ev_count;
	bool server_up;                /* the event stream is connected */
	pthread_mutex_t radio;         /* one lock operation at a time */
	struct transport *transport;   /* made at first use, under radio */
	atomic_int stopping;
	atomic_int follow_cancel;      /* raised to cut the event stream short */
	pthread_t follower;
	bool follower_started;
	int listen_fd;
};

/* Loads or makes everything in cfg's data directory. 0, or -1 with a sentence in err. */
int phoned_open(struct phoned *d, const struct phoned_config *cfg, char *err, size_t errlen);

/* Frees what phoned_open() made (after the threads stopped). */
void phoned_close(struct phoned *d);

/*
 * An API client with the session's token, from the pool or new; NULL when none can be
 * made. Give it back with phoned_api_give() (or free it when it failed oddly).
 */
struct apiclient *phoned_api_take(struct phoned *d);
void phoned_api_give(struct phoned *d, struct apiclient *c);

/*
 * Calls the server with the session, as apiclient_call(). On failure returns NULL and
 * *errout is the control reply to send (server down, session gone, the server's error).
 * A 401 logs the phone out.
 */
json_object *phoned_api_call(struct phoned *d, const char *method, const char *path,
			     json_object *body, unsigned flags, json_object **errout);

/*
 * A client of its own for the event stream: the session's token, stopped at once when
 * d->follow_cancel rises. NULL when it cannot be made. The caller frees it.
 */
struct apiclient *phoned_follow_client(struct phoned *d);

/* Whether a session is held; copies it to *s when not NULL. */
bool phoned_session_get(struct phoned *d, struct phoned_session *s);

/* Replaces (token "") the session and writes it to disk. 0 or -1 with errno. */
int phoned_session_set(struct phoned *d, const struct phoned_session *s);

/* Stores k (keys file written at once). 0, or -1 when full or the write failed. */
int phoned_keys_put(struct phoned *d, const struct phone_key *k);

/* Notes that the lock has key_id's credential, and writes the keys file. */
void phoned_keys_delivered(struct phoned *d, uint32_t key_id);

/* Counts one use of key_id and writes the keys file. */
void phoned_keys_used(struct phoned *d, uint32_t key_id);

/* Removes key_id (a key or a share) from the keyring and writes the keys file. */
void phoned_keys_drop(struct phoned *d, uint32_t key_id);

/*
 * Keeps a site's revocation list (see revlist_put) and writes the file; every key it
 * names is dropped from the keyring. Returns revlist_put()'s answer.
 */
int phoned_revocations_put(struct phoned *d, uint32_t site_id, const uint8_t *frame,
			   size_t len);

/* Remembers an event and sends it to every subscriber. */
void phoned_publish(struct phoned *d, const char *kind, json_object *event);

/* Adds fd to the subscribers. 0, or -1 when there are too many. */
int phoned_subscribe(struct phoned *d, int fd);
void phoned_unsubscribe(struct phoned *d, int fd);

/* The kept events as a JSON array (oldest first). */
json_object *phoned_recent_events(struct phoned *d);

/* The transport, made at first use. Call with d->radio held. NULL when it cannot be. */
struct transport *phoned_transport(struct phoned *d);

/* Drops the transport (made again at next use). Call with d->radio held. */
void phoned_transport_reset(struct phoned *d);

/* Unix time now. */
uint32_t phoned_now(void);

#endif
