/*
 * gateway.c: parkgw's threads (see gateway.h). The queue file is the only hand-over
 * between them: the long poll stores a message and wakes its lock's worker; a worker
 * turns a message into an ack and events into uplink rows and wakes the uplink thread;
 * the uplink thread deletes only what the server accepted. Whether a lock is in reach
 * is state, not history: only its newest value waits (in memory) for the uplink. Nothing
 * here speaks the lock protocol (locklink.c) or HTTP (lib/apiclient.c) itself.
 */
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libintl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/apiclient.h"
#include "../lib/hex.h"
#include "../lib/log.h"
#include "gwauth.h"
#include "gwqueue.h"
#include "locklink.h"

#define _(s) gettext(s)

#define GATEWAY_BATCH_MAX 100            /* events or acks per POST */
#define GATEWAY_LOCKS_REFRESH_MS 60000   /* how often the list of covered locks is re-read */
#define GATEWAY_LOCKS_SOON_MS 2000       /* ... and how soon after a message for an unknown lock */
#define GATEWAY_LOG_POLL_MS 60000        /* a lock's log is read at least this often */
#define GATEWAY_LOG_HELD_MS 600000       /* a log off its chain is tried again after ... */
#define GATEWAY_LOG_BAD_MS 60000         /* ... and one whose page failed its signature */
#define GATEWAY_CONNECT_BASE_MS 250      /* reconnect backoff: first delay ... */
#define GATEWAY_CONNECT_MAX_MS 10000     /* ... and its cap */
#define GATEWAY_DELIVER_BASE_MS 500      /* a delivery without answer is retried after ... */
#define GATEWAY_DELIVER_MAX_MS 30000
#define GATEWAY_DELIVER_ATTEMPTS 10      /* ... up to this many times, then "unreachable" */
#define GATEWAY_OFFLINE_AFTER 5          /* connects failed in a row that make a lock offline */
#define GATEWAY_UPLINK_IDLE_MS 1000      /* the uplink looks at the queue at least this often */
#define GATEWAY_HOLD_MS 10000            /* a lock's item the server refused for now waits */
#define GATEWAY_PRUNE_AGE_MS (3600 * 1000) /* delivered messages are remembered this long */
#define GATEWAY_WORKER_STACK (512 * 1024)

struct gateway_worker {
	struct gateway *g;
	struct gwqueue_lock lock;  /* as the server described it */
	pthread_t thread;
	bool started;
	int wake[2];               /* a byte in wake[1] wakes the worker */
	atomic_int retired;        /* no longer covered: the worker ends */
	uint64_t rng;              /* jitter of this worker's backoff */
	struct locklink link;      /* the worker thread's own */
	int reach;                 /* the worker thread's own: -1 not known yet, 0 out of reach,
				      1 connected */
	unsigned connect_fails;    /* the worker thread's own: connects failed in a row */
	int reach_report;          /* under g->mu: the reach the uplink is to post, -1: none */
	int64_t reach_hold_until;  /* under g->mu: refused for now, not posted before (ms) */
};

struct gateway {
	struct gateway_config cfg;
	struct gwauth auth;
	struct gwqueue *q;
	atomic_int stop;
	pthread_t poller, uplink;
	bool poller_started, uplink_started;

	pthread_mutex_t mu;        /* guards the workers and the uplink kick */
	pthread_cond_t up_cond;
	bool up_kicked;
	struct gateway_worker **workers;
	size_t nworkers;
};

/* ---- small helpers ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stopped(struct gateway *g)
{
	return atomic_load(&g->stop) != 0;
}

/* Exponential backoff with equal jitter: half of min(cap, base * 2^attempt) plus a random half. */
static int64_t backoff_ms(uint64_t *rng, unsigned attempt, int64_t base, int64_t cap)
{
	int64_t d = base;
	uint64_t x = *rng;
	unsigned i;

	for (i = 0; i < attempt && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	return d / 2 + (int64_t)(x % (uint64_t)(d / 2 + 1));
}

static uint64_t seed_of(const void *p)
{
	struct timespec ts;
	uint64_t s;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	s = ((uint64_t)ts.tv_nsec << 21) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)p;
	return s != 0 ? s : 0x2545f4914f6cdd1du;
}

static void wake_fd(int fd)
{
	char b = 1;

	if (write(fd, &b, 1) < 0 && errno != EAGAIN)
		log_debug("wake: %s", strerror(errno));
}

static void drain_fd(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void kick_uplink(struct gateway *g)
{
	pthread_mutex_lock(&g->mu);
	g->up_kicked = true;
	pthread_cond_signal(&g->up_cond);
	pthread_mutex_unlock(&g->mu);
}

static struct apiclient *new_client(struct gateway *g, long timeout_ms)
{
	struct apiclient_opts o;

	memset(&o, 0, sizeof(o));
	o.base_url = g->cfg.server;
	o.ca_file = g->cfg.ca_file[0] != '\0' ? g->cfg.ca_file : NULL;
	o.timeout_ms = timeout_ms;
	o.backoff_ms = 250;
	o.backoff_max_ms = 5000;
	o.sign = gwauth_sign;
	o.sign_arg = &g->auth;
	o.cancel = &g->stop;
	return apiclient_new(&o);
}

/* Logs a failed API call once per change of what went wrong, then at debug level. */
static void log_api_failure(const char *what, int r, const struct apiclient_error *e,
			    unsigned fails)
{
	if (r == -APICLIENT_E_CANCELLED)
		return;
	if (e->status == 401 && fails == 0)
		log_error(_("%s: the server does not accept this gateway (%s): check --id, "
			    "that the site description holds this gateway's public key, and "
			    "this machine's clock"), what, e->detail);
	else if (fails == 0)
		log_warn(_("%s failed: %s%s%s; retrying with backoff"), what,
			 e->code[0] != '\0' ? e->code : "", e->code[0] != '\0' ? ": " : "",
			 e->detail);
	else
		log_debug("%s failed again (%u): %s", what, fails, e->detail);
}

/* ---- a lock's worker ---- */

/*
 * Reads every new page of the lock's log into the uplink queue. 0, or the
 * -LOCKLINK_E_* of the failure (the link is then closed).
 */
static int worker_read_log(struct gateway_worker *w)
{
	struct gateway *g = w->g;
	struct locklink_page page;
	int r, added;

	do {
		r = locklink_log_page(&w->link, &page);
		if (r != 0) {
			if (r == -LOCKLINK_E_CHAIN)
				log_error(_("lock %u: %s (after event %u); its log is not taken "
					    "until this is looked into"), (unsigned)w->lock.spot,
					  locklink_strerror(r), (unsigned)w->link.log_seq);
			else
				log_warn(_("lock %u: reading its event log failed: %s"),
					 (unsigned)w->lock.spot, locklink_strerror(r));
			return r;
		}
		if (page.gap)
			log_warn(_("lock %u: events after %u were dropped by the lock before the "
				   "gateway could read them"), (unsigned)w->lock.spot,
				 (unsigned)w->link.log_seq);
		if (page.count == 0 && page.head_seq == w->link.log_seq)
			break;
		added = gwqueue_events_put(g->q, w->lock.spot, page.ev, page.count,
					   page.count > 0 ? page.ev[page.count - 1].seq :
							    w->link.log_seq,
					   page.last_hash);
		if (added < 0) {
			/* Not advanced: the same page is read again later. */
			locklink_close(&w->link);
			return -LOCKLINK_E_UNREACHABLE;
		}
		locklink_log_advance(&w->link, &page);
		if (added > 0) {
			log_debug("lock %u: %d new events up to %u", (unsigned)w->lock.spot, added,
				  (unsigned)w->link.log_seq);
			kick_uplink(g);
		}
	} while (page.count > 0 && w->link.log_seq < page.head_seq && !stopped(g));
	return 0;
}

/* Records the lock's answer (or the gateway's verdict) on m. 0, or -1 when the queue failed. */
static int worker_done(struct gateway_worker *w, const struct gwqueue_msg *m,
		       const uint8_t *ack, size_t len, const char *error)
{
	if (gwqueue_down_done(w->g->q, m->id, ack, len, error) != 0) {
		log_error(_("lock %u: cannot record the answer to message %" PRId64 " in the "
			    "queue; it will be delivered again"), (unsigned)w->lock.spot, m->id);
		return -1;
	}
	kick_uplink(w->g);
	return 0;
}

/* Delivers m and records what came of it. 0, or -1 when the queue failed. */
static int worker_deliver(struct gateway_worker *w, const struct gwqueue_msg *m)
{
	uint8_t ack[PROTO_FRAME_MAX];
	struct proto_msg a;
	const char *why;
	uint8_t code = 0;
	int r;

	r = locklink_deliver(&w->link, m->frame, m->len, ack, sizeof(ack), &code);
	if (r > 0) {
		if (proto_decode(ack, (size_t)r, &a) == 0)
			log_info("lock %u: message %" PRId64 " delivered: %s",
				 (unsigned)w->lock.spot, m->id, proto_status_name(a.u.ack.result));
		return worker_done(w, m, ack, (size_t)r, NULL);
	}
	if (r == -LOCKLINK_E_REFUSED && !proto_error_passes(code)) {
		log_warn(_("lock %u: message %" PRId64 " refused by the lock: %s"),
			 (unsigned)w->lock.spot, m->id, proto_status_name(code));
		return worker_done(w, m, NULL, 0, proto_status_name(code));
	}
	/* Not now (proto_error_passes(): flash, not provisioned, garbled): tried as silence. */
	why = r == -LOCKLINK_E_REFUSED ? proto_status_name(code) : "unreachable";
	if (r == -LOCKLINK_E_FRAME) {
		log_warn(_("lock %u: message %" PRId64 " is not a valid management frame; it is "
			   "answered as such and not sent"), (unsigned)w->lock.spot, m->id);
		return worker_done(w, m, NULL, 0, "bad_frame");
	}
	if (m->attempts + 1 >= GATEWAY_DELIVER_ATTEMPTS) {
		/* The server keeps it pending; so do we, and tell it why it waits. */
		log_warn(_("lock %u: message %" PRId64 " not taken after %u attempts (%s); "
			   "reported, still trying"), (unsigned)w->lock.spot, m->id,
			 m->attempts + 1, why);
		if (gwqueue_down_report(w->g->q, m->id, why,
					now_ms() + GATEWAY_DELIVER_MAX_MS) != 0)
			return -1;
		kick_uplink(w->g);
		return 0;
	}
	log_info("lock %u: message %" PRId64 ": %s; will retry", (unsigned)w->lock.spot, m->id,
		 r == -LOCKLINK_E_REFUSED ? why : locklink_strerror(r));
	return gwqueue_down_retry(w->g->q, m->id,
				  now_ms() + backoff_ms(&w->rng, m->attempts,
							GATEWAY_DELIVER_BASE_MS,
							GATEWAY_DELIVER_MAX_MS)) == 0 ? 0 : -1;
}

/* Where the log reading starts: our own record, or the server's when it is newer. */
static void worker_log_start(struct gateway_worker *w)
{
	uint8_t hash[PROTO_HASH_LEN];
	uint32_t seq = 0;

	if (gwqueue_lockstate_get(w->g->q, w->lock.spot, &seq, hash) == 1 &&
	    seq >= w->lock.event_seq) {
		w->link.log_seq = seq;
		memcpy(w->link.log_hash, hash, PROTO_HASH_LEN);
		w->link.log_hash_known = true;
	} else if (w->lock.event_seq > 0) {
		w->link.log_seq = w->lock.event_seq;
		w->link.log_hash_known = false;
	}
}

/*
 * Notes a change of the lock's reachability for the uplink to post (POST
 * /v1/gateway/status): only the newest state of a lock is posted, so nothing queues up.
 */
static void worker_reach(struct gateway_worker *w, int online)
{
	struct gateway *g = w->g;

	w->reach = online;
	if (online)
		log_info("lock %u: in reach", (unsigned)w->lock.spot);
	else
		log_warn(_("lock %u at %s: out of reach after %u attempts to connect"),
			 (unsigned)w->lock.spot, w->lock.address, w->connect_fails);
	pthread_mutex_lock(&g->mu);
	w->reach_report = online;
	pthread_mutex_unlock(&g->mu);
	kick_uplink(g);
}

/* The reconnect delay after `fails` failures in a row. */
static int64_t worker_backoff(struct gateway_worker *w, unsigned fails)
{
	return backoff_ms(&w->rng, fails, GATEWAY_CONNECT_BASE_MS, GATEWAY_CONNECT_MAX_MS);
}

/* A transport of the worker's own: one link, one thread. NULL when it cannot be made. */
static struct transport *worker_transport(const struct gateway *g)
{
	struct transport_config tc = {
		g->cfg.transport[0] != '\0' ? g->cfg.transport : "sim",
		g->cfg.bus[0] != '\0' ? g->cfg.bus : NULL,
		g->cfg.adapter[0] != '\0' ? g->cfg.adapter : NULL,
	};

	return transport_new(&tc);
}

static void *worker_main(void *arg)
{
	struct gateway_worker *w = arg;
	struct gateway *g = w->g;
	struct gwqueue_msg *m = malloc(sizeof(*m));
	int64_t now, retry_at = 0, next_log_at = 0, log_held_until = 0, until;
	unsigned fails = 0;
	int r, last_err = 0;

	if (m == NULL) {
		log_error(_("lock %u: out of memory; the lock is not served"),
			  (unsigned)w->lock.spot);
		return NULL;
	}
	locklink_init(&w->link, w->lock.spot, w->lock.device_pub, w->lock.address);
	w->link.transport = worker_transport(g);
	if (w->link.transport == NULL) {
		log_error(_("lock %u: the %s transport cannot be opened; the lock is not served"),
			  (unsigned)w->lock.spot, g->cfg.transport);
		free(m);
		return NULL;
	}
	worker_log_start(w);
	while (!stopped(g) && !atomic_load(&w->retired)) {
		drain_fd(w->wake[0]);
		now = now_ms();
		if (!w->link.connected) {
			if (now < retry_at) {
				(void)locklink_wait(&w->link, w->wake[0], (int)(retry_at - now));
				continue;
			}
			r = locklink_connect(&w->link);
			if (r != 0) {
				if (r != last_err)
					log_warn(_("lock %u at %s: %s; retrying"),
						 (unsigned)w->lock.spot, w->lock.address,
						 locklink_strerror(r));
				last_err = r;
				retry_at = now + worker_backoff(w, fails++);
				if (++w->connect_fails >= GATEWAY_OFFLINE_AFTER && w->reach != 0)
					worker_reach(w, 0);
				continue;
			}
			log_info("lock %u: connected (site %u)", (unsigned)w->lock.spot,
				 (unsigned)w->link.info.site_id);
			last_err = 0;
			w->connect_fails = 0;
			/* Before its events are read: the server hears it is back first. */
			if (w->reach != 1)
				worker_reach(w, 1);
			w->link.events_pending = true;
		}
		if ((w->link.events_pending && now >= log_held_until) || now >= next_log_at) {
			w->link.events_pending = false;
			r = worker_read_log(w);
			if (r == -LOCKLINK_E_CHAIN || r == -LOCKLINK_E_PROTO) {
				/*
				 * A log that fails its check is left alone for a while, but its
				 * lock's keys, revocations and time still go: connect again.
				 */
				log_held_until = now + (r == -LOCKLINK_E_CHAIN ? GATEWAY_LOG_HELD_MS :
							GATEWAY_LOG_BAD_MS);
				next_log_at = log_held_until;
				continue;
			}
			if (r != 0) {
				locklink_close(&w->link);
				retry_at = now + worker_backoff(w, fails++);
				continue;
			}
			log_held_until = 0;
			next_log_at = now + GATEWAY_LOG_POLL_MS;
		}
		fails = 0;
		r = gwqueue_down_next(g->q, w->lock.spot, m);
		if (r == 1 && m->next_try_at <= now && worker_deliver(w, m) == 0)
			continue;
		until = next_log_at;
		if (r == 1 && m->next_try_at < until)
			until = m->next_try_at;
		if (r < 0 || (r == 1 && m->next_try_at <= now))
			until = now + GATEWAY_CONNECT_MAX_MS; /* the queue failed: not in a loop */
		(void)locklink_wait(&w->link, w->wake[0], (int)(until > now ? until - now : 0));
	}
	locklink_close(&w->link);
	transport_free(w->link.transport);
	free(m);
	return NULL;
}

static void worker_free(struct gateway_worker *w)
{
	if (w == NULL)
		return;
	if (w->wake[0] >= 0)
		close(w->wake[0]);
	if (w->wake[1] >= 0)
		close(w->wake[1]);
	free(w);
}

static struct gateway_worker *worker_start(struct gateway *g, const struct gwqueue_lock *lock)
{
	struct gateway_worker *w = calloc(1, sizeof(*w));
	pthread_attr_t attr;
	int i, r;

	if (w == NULL)
		return NULL;
	w->g = g;
	w->lock = *lock;
	w->wake[0] = w->wake[1] = -1;
	w->rng = seed_of(w);
	w->reach = -1;
	w->reach_report = -1;
	if (pipe(w->wake) != 0)
		goto fail;
	for (i = 0; i < 2; i++)
		if (fcntl(w->wake[i], F_SETFL, O_NONBLOCK) != 0 ||
		    fcntl(w->wake[i], F_SETFD, FD_CLOEXEC) != 0)
			goto fail;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, GATEWAY_WORKER_STACK);
	r = pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		errno = r;
		goto fail;
	}
	w->started = true;
	return w;
fail:
	log_error(_("lock %u: cannot start its worker: %s"), (unsigned)lock->spot,
		  strerror(errno));
	worker_free(w);
	return NULL;
}

static void worker_join(struct gateway_worker *w)
{
	atomic_store(&w->retired, 1);
	wake_fd(w->wake[1]);
	if (w->started)
		pthread_join(w->thread, NULL);
	worker_free(w);
}

/* The worker of `spot`, under g->mu; NULL when none. */
static struct gateway_worker *worker_find(struct gateway *g, uint32_t spot)
{
	size_t i;

	for (i = 0; i < g->nworkers; i++)
		if (g->workers[i]->lock.spot == spot)
			return g->workers[i];
	return NULL;
}

/*
 * Makes the workers match locks[0..n): a worker per lock, retired when its lock is no
 * longer covered or moved (address or key). Called by the poller thread and at start.
 */
static void workers_reconcile(struct gateway *g, const struct gwqueue_lock *locks, size_t n)
{
	struct gateway_worker **keep, **gone, *w;
	size_t i, j, nkeep = 0, ngone = 0;
	bool found;

	keep = calloc(n + g->nworkers + 1, sizeof(*keep));
	gone = calloc(g->nworkers + 1, sizeof(*gone));
	if (keep == NULL || gone == NULL) {
		log_error(_("out of memory while updating the list of locks"));
		goto out;
	}
	pthread_mutex_lock(&g->mu);
	for (i = 0; i < g->nworkers; i++) {
		w = g->workers[i];
		found = false;
		for (j = 0; j < n && !found; j++)
			found = locks[j].spot == w->lock.spot &&
				strcmp(locks[j].address, w->lock.address) == 0 &&
				memcmp(locks[j].device_pub, w->lock.device_pub,
				       PROTO_PUBKEY_LEN) == 0;
		if (found)
			keep[nkeep++] = w;
		else
			gone[ngone++] = w;
	}
	/* Out of the list before they are freed: the uplink looks at the list too. */
	for (i = 0; i < nkeep; i++)
		g->workers[i] = keep[i];
	g->nworkers = nkeep;
	pthread_mutex_unlock(&g->mu);
	for (i = 0; i < ngone; i++) {
		log_info("lock %u: no longer served here", (unsigned)gone[i]->lock.spot);
		worker_join(gone[i]);
	}
	for (j = 0; j < n; j++) {
		found = false;
		for (i = 0; i < nkeep && !found; i++)
			found = keep[i]->lock.spot == locks[j].spot;
		if (found)
			continue;
		w = worker_start(g, &locks[j]);
		if (w != NULL)
			keep[nkeep++] = w;
	}
	pthread_mutex_lock(&g->mu);
	free(g->workers);
	g->workers = keep;
	g->nworkers = nkeep;
	keep = NULL; /* transferred */
	pthread_mutex_unlock(&g->mu);
out:
	free(keep);
	free(gone);
}

/* Wakes the worker of `spot`. Returns false when no worker serves it. */
static bool workers_wake(struct gateway *g, uint32_t spot)
{
	struct gateway_worker *w;

	pthread_mutex_lock(&g->mu);
	w = worker_find(g, spot);
	if (w != NULL)
		wake_fd(w->wake[1]);
	pthread_mutex_unlock(&g->mu);
	return w != NULL;
}

/* ---- JSON fields ---- */

/* An integer member lo..hi. 0 or -1. */
static int json_int(json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
	json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	errno = 0;
	x = json_object_get_int64(v);
	if (errno != 0 || x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

static const char *json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The array member `key` of a reply, or NULL. */
static json_object *json_array(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

/* ---- the poller: covered locks and the long poll ---- */

static int lock_from_json(json_object *o, struct gwqueue_lock *l)
{
	const char *name = json_str(o, "name"), *addr = json_str(o, "address");
	const char *pub = json_str(o, "device_pub");
	int64_t spot, seq = 0;

	memset(l, 0, sizeof(*l));
	if (json_int(o, "spot", 1, UINT32_MAX, &spot) != 0 || addr == NULL || pub == NULL ||
	    strlen(addr) == 0 || strlen(addr) > GWQUEUE_ADDR_MAX ||
	    hex_decode(pub, l->device_pub, sizeof(l->device_pub)) != PROTO_PUBKEY_LEN)
		return -1;
	if (json_object_object_get_ex(o, "event_seq", NULL) &&
	    json_int(o, "event_seq", 0, UINT32_MAX, &seq) != 0)
		return -1;
	l->spot = (uint32_t)spot;
	l->event_seq = (uint32_t)seq;
	snprintf(l->name, sizeof(l->name), "%s", name != NULL ? name : "");
	snprintf(l->address, sizeof(l->address), "%s", addr);
	return 0;
}

/* GET /v1/gateway/locks, cache it and reconcile the workers. 0 or -1. */
static int fetch_locks(struct gateway *g, struct apiclient *api, unsigned fails)
{
	struct apiclient_error e;
	struct gwqueue_lock *locks = NULL;
	json_object *reply = NULL, *arr;
	size_t i, n = 0, len;
	int r = -1;

	r = apiclient_call(api, "GET", "/v1/gateway/locks", NULL, 0, 0, &reply, &e);
	if (r < 0) {
		log_api_failure(_("reading the covered locks"), r, &e, fails);
		r = -1;
		goto out;
	}
	r = -1;
	arr = json_array(reply, "locks");
	if (arr == NULL) {
		log_warn(_("the server's list of locks has no \"locks\" array"));
		goto out;
	}
	len = json_object_array_length(arr);
	locks = calloc(len + 1, sizeof(*locks));
	if (locks == NULL)
		goto out;
	for (i = 0; i < len; i++) {
		if (lock_from_json(json_object_array_get_idx(arr, i), &locks[n]) != 0) {
			log_warn(_("the server's lock entry %zu is malformed; skipped"), i);
			continue;
		}
		n++;
	}
	if (gwqueue_locks_set(g->q, locks, n) != 0)
		log_warn(_("the list of locks could not be cached in the queue file"));
	workers_reconcile(g, locks, n);
	log_debug("serving %zu locks", n);
	r = 0;
out:
	free(locks);
	json_object_put(reply);
	return r;
}

/*
 * Stores the messages of a long-poll reply. Returns the number of new ones; *unknown is
 * set when one is for a lock no worker serves.
 */
static int store_messages(struct gateway *g, json_object *reply, bool *unknown)
{
	json_object *arr = json_array(reply, "messages"), *o;
	uint8_t frame[PROTO_FRAME_MAX];
	const char *hex;
	int64_t id, spot;
	size_t i, len;
	int n, r, added = 0;

	*unknown = false;
	if (arr == NULL) {
		log_warn(_("the server's messages reply has no \"messages\" array"));
		return 0;
	}
	len = json_object_array_length(arr);
	for (i = 0; i < len; i++) {
		o = json_object_array_get_idx(arr, i);
		hex = json_str(o, "frame");
		if (json_int(o, "id", 1, INT64_MAX, &id) != 0 ||
		    json_int(o, "spot", 1, UINT32_MAX, &spot) != 0 || hex == NULL ||
		    (n = hex_decode(hex, frame, sizeof(frame))) < PROTO_HDR_LEN) {
			log_warn(_("the server sent a malformed message (entry %zu); skipped"), i);
			continue;
		}
		r = gwqueue_down_put(g->q, id, (uint32_t)spot, frame, (size_t)n);
		if (r < 0)
			continue; /* not stored: the server sends it again, it is still pending */
		if (r == 1) {
			added++;
			log_debug("message %" PRId64 " for lock %u queued", id, (unsigned)spot);
		}
		if (!workers_wake(g, (uint32_t)spot))
			*unknown = true;
	}
	return added;
}

static void *poller_main(void *arg)
{
	struct gateway *g = arg;
	struct apiclient *api;
	struct apiclient_error e;
	json_object *reply = NULL;
	char path[64], resume_path[80];
	int64_t locks_due = 0, now;
	unsigned fails = 0, lock_fails = 0;
	bool unknown, resumed = false;
	int r, added;

	api = new_client(g, ((long)g->cfg.poll_wait_s + 15) * 1000);
	if (api == NULL) {
		log_error(_("cannot make an HTTP client for %s"), g->cfg.server);
		return NULL;
	}
	snprintf(path, sizeof(path), "/v1/gateway/messages?wait=%u", g->cfg.poll_wait_s);
	/* Until a poll succeeds, ask for every pending message, even those given before. */
	snprintf(resume_path, sizeof(resume_path), "%s&resume=1", path);
	while (!stopped(g)) {
		now = now_ms();
		if (now >= locks_due) {
			if (fetch_locks(g, api, lock_fails) == 0) {
				lock_fails = 0;
				locks_due = now + GATEWAY_LOCKS_REFRESH_MS;
			} else {
				locks_due = now + apiclient_backoff_ms(api, lock_fails++);
			}
		}
		r = apiclient_call(api, "GET", resumed ? path : resume_path, NULL, 0, 0, &reply, &e);
		if (r < 0) {
			log_api_failure(_("the long poll for messages"), r, &e, fails);
			(void)apiclient_sleep(api, apiclient_backoff_ms(api, fails++));
			continue;
		}
		resumed = true;
		if (fails > 0)
			log_info("the server answers again");
		fails = 0;
		added = store_messages(g, reply, &unknown);
		if (unknown && locks_due > now_ms() + GATEWAY_LOCKS_SOON_MS)
			locks_due = now_ms() + GATEWAY_LOCKS_SOON_MS;
		/* Only messages we have already: their acks are on the way; do not spin. */
		if (added == 0 && json_array(reply, "messages") != NULL &&
		    json_object_array_length(json_array(reply, "messages")) > 0)
			(void)apiclient_sleep(api, GATEWAY_UPLINK_IDLE_MS);
		json_object_put(reply);
		reply = NULL;
	}
	apiclient_free(api);
	return NULL;
}

/* ---- the uplink: acks and events to the server ---- */

static json_object *ack_json(const struct gwqueue_ack *a)
{
	json_object *o = json_object_new_object();
	char hex[2 * PROTO_FRAME_MAX + 1];

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "id", json_object_new_int64(a->id));
	if (a->len > 0 && hex_encode(a->frame, a->len, hex, sizeof(hex)) > 0)
		json_object_object_add(o, "frame", json_object_new_string(hex));
	else
		json_object_object_add(o, "error", json_object_new_string(a->error));
	return o;
}

static json_object *event_json(const struct gwqueue_event *e)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "spot", json_object_new_int64(e->spot));
	json_object_object_add(o, "seq", json_object_new_int64(e->ev.seq));
	json_object_object_add(o, "time", json_object_new_int64(e->ev.time));
	json_object_object_add(o, "kind", json_object_new_string(proto_event_name(e->ev.kind)));
	json_object_object_add(o, "arg8", json_object_new_int64(e->ev.arg8));
	json_object_object_add(o, "arg16", json_object_new_int64(e->ev.arg16));
	json_object_object_add(o, "user_id", json_object_new_int64(e->ev.user_id));
	json_object_object_add(o, "key_id", json_object_new_int64(e->ev.key_id));
	return o;
}

/* A refusal of a batch that may be one item's fault (not auth, time-out or rate limit). */
static bool refused_for_good(int r, const struct apiclient_error *e)
{
	return r == -APICLIENT_E_HTTP && e->status >= 400 && e->status < 500 &&
	       e->status != 401 && e->status != 408 && e->status != 429;
}

/* A single item the server will never take: it is malformed (or too large). */
static bool refused_as_malformed(int r, const struct apiclient_error *e)
{
	return r == -APICLIENT_E_HTTP && (e->status == 400 || e->status == 413 ||
					  e->status == 422);
}

/*
 * A single item refused because its lock is not this gateway's (403, or 404 for a
 * spot that is gone), which is final only when the server's own list of the locks we
 * cover, as last fetched, no longer has it: while it does, the two disagree for a
 * moment (a site being changed, a proxy in between) and the item is kept and tried
 * again. spot 0: the item names no lock, and is kept.
 */
static bool refused_not_ours(struct gateway *g, int r, const struct apiclient_error *e,
			     uint32_t spot)
{
	bool covered;

	if (r != -APICLIENT_E_HTTP || (e->status != 403 && e->status != 404) || spot == 0)
		return false;
	pthread_mutex_lock(&g->mu);
	covered = worker_find(g, spot) != NULL;
	pthread_mutex_unlock(&g->mu);
	return !covered;
}

/* What comes of one item (an event, an ack, a lock's reach) posted alone. */
enum item_fate {
	ITEM_TAKEN,   /* the server has it */
	ITEM_DROPPED, /* refused for good: malformed, or its lock is no longer ours */
	ITEM_HELD,    /* refused for now: kept, and tried again a little later */
	ITEM_FAILED,  /* the server failed: this and what follows wait for the next turn */
};

static enum item_fate item_fate(struct gateway *g, int r, const struct apiclient_error *e,
				uint32_t spot)
{
	if (r == 0)
		return ITEM_TAKEN;
	if (refused_as_malformed(r, e) || refused_not_ours(g, r, e, spot))
		return ITEM_DROPPED;
	return refused_for_good(r, e) ? ITEM_HELD : ITEM_FAILED;
}

/* One item of either kind: a batch buffer of these fits both. */
union uplink_item {
	struct gwqueue_ack ack;
	struct gwqueue_event event;
};

/* What the uplink posts: acks or events, as rows of one table. */
struct uplink_kind {
	const char *path;  /* "/v1/gateway/acks" */
	const char *key;   /* the body's array: "acks" */
	const char *what;  /* for logs */
	size_t size;       /* of one item */
	int (*peek)(struct gwqueue *q, void *items, size_t max);
	json_object *(*to_json)(const void *item);
	int (*done)(struct gwqueue *q, const void *items, size_t n, bool refused);
	void (*on_reply)(json_object *reply); /* what the server said of an accepted batch */
	uint32_t (*spot_of)(const void *item); /* its lock, or 0 when it names none */
	/* Holds an item refused for now until `until` (ms); NULL: such a refusal is a failure. */
	int (*hold)(struct gwqueue *q, const void *item, int64_t until);
};

static int acks_peek(struct gwqueue *q, void *items, size_t max)
{
	return gwqueue_acks_peek(q, items, max);
}

static json_object *acks_json(const void *item)
{
	return ack_json(item);
}

static int acks_done(struct gwqueue *q, const void *items, size_t n, bool refused)
{
	const struct gwqueue_ack *a = items;
	size_t i;

	for (i = 0; refused && i < n; i++)
		log_error(_("the server refused the ack of message %" PRId64 "; dropped"),
			  a[i].id);
	return gwqueue_acks_delete(q, a, n);
}

/* The server took the report but not every ack in it: say which, for whoever looks. */
static void acks_reply(json_object *reply)
{
	json_object *arr = json_array(reply, "rejected"), *o;
	int64_t id = 0;
	size_t i;

	for (i = 0; arr != NULL && i < json_object_array_length(arr); i++) {
		o = json_object_array_get_idx(arr, i);
		(void)json_int(o, "id", 0, INT64_MAX, &id);
		log_warn(_("the server rejected the ack of message %" PRId64 ": %s"), id,
			 json_str(o, "error") != NULL ? json_str(o, "error") : "?");
	}
}

static void events_reply(json_object *reply)
{
	int64_t dups = 0;

	if (json_int(reply, "duplicates", 1, INT64_MAX, &dups) == 0)
		log_debug("the server had %" PRId64 " of the events already", dups);
}

static int events_peek(struct gwqueue *q, void *items, size_t max)
{
	return gwqueue_events_peek(q, items, max);
}

static json_object *events_json(const void *item)
{
	return event_json(item);
}

static int events_done(struct gwqueue *q, const void *items, size_t n, bool refused)
{
	const struct gwqueue_event *e = items;
	size_t i;

	for (i = 0; refused && i < n; i++)
		log_error(_("the server refused event %u of lock %u; kept in the queue file, "
			    "not sent again"), (unsigned)e[i].ev.seq, (unsigned)e[i].spot);
	return gwqueue_events_done(q, items, n, refused);
}

static uint32_t acks_spot(const void *item)
{
	(void)item;
	return 0; /* the server took or rejected each ack in a 200: a 4xx is the body's */
}

static uint32_t events_spot(const void *item)
{
	return ((const struct gwqueue_event *)item)->spot;
}

static int events_hold(struct gwqueue *q, const void *item, int64_t until)
{
	return gwqueue_events_hold(q, item, 1, until);
}

static const struct uplink_kind uplink_kinds[] = {
	{ "/v1/gateway/acks", "acks", "posting acks", sizeof(struct gwqueue_ack), acks_peek,
	  acks_json, acks_done, acks_reply, acks_spot, NULL },
	{ "/v1/gateway/events", "events", "posting events", sizeof(struct gwqueue_event),
	  events_peek, events_json, events_done, events_reply, events_spot, events_hold },
};
#define UPLINK_KINDS (sizeof(uplink_kinds) / sizeof(uplink_kinds[0]))

/* POSTs items[0..n) in one body. Returns 0, or the apiclient error with *e filled. */
static int uplink_post(struct apiclient *api, const struct uplink_kind *k, const uint8_t *items,
		       size_t n, struct apiclient_error *e)
{
	json_object *body = json_object_new_object(), *arr = json_object_new_array(), *o;
	json_object *reply = NULL;
	size_t i;
	int r = -APICLIENT_E_ARG;

	if (body == NULL || arr == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		o = k->to_json(items + i * k->size);
		if (o == NULL)
			goto out;
		json_object_array_add(arr, o);
	}
	json_object_object_add(body, k->key, arr);
	arr = NULL; /* transferred */
	r = apiclient_call(api, "POST", k->path, body, APICLIENT_IDEMPOTENT, 0, &reply, e);
	if (r > 0) {
		k->on_reply(reply);
		r = 0;
	}
out:
	json_object_put(reply);
	json_object_put(arr);
	json_object_put(body);
	return r;
}

/*
 * Sends what the queue holds of one kind, a batch at a time. Returns the count of
 * items handled (sent or refused for good), or -1 when the server could not take them.
 */
static int uplink_send(struct gateway *g, struct apiclient *api, const struct uplink_kind *k,
		       uint8_t *items, unsigned fails)
{
	struct apiclient_error e;
	enum item_fate fate;
	int n, r;
	size_t i, held = 0;

	n = k->peek(g->q, items, GATEWAY_BATCH_MAX);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	r = uplink_post(api, k, items, (size_t)n, &e);
	if (r == 0)
		return k->done(g->q, items, (size_t)n, false) == 0 ? n : -1;
	if (!refused_for_good(r, &e)) {
		log_api_failure(k->what, r, &e, fails);
		return -1;
	}
	/* One bad item must not hold the others back: find it by sending them one by one. */
	log_warn(_("%s: the server refused a batch (%s: %s); sending one at a time"), k->what,
		 e.code, e.detail);
	for (i = 0; i < (size_t)n; i++) {
		const uint8_t *item = items + i * k->size;

		r = uplink_post(api, k, item, 1, &e);
		fate = item_fate(g, r, &e, k->spot_of(item));
		if (fate == ITEM_TAKEN || fate == ITEM_DROPPED) {
			if (k->done(g->q, item, 1, fate == ITEM_DROPPED) != 0)
				return -1;
			continue;
		}
		if (fate == ITEM_FAILED || k->hold == NULL) {
			log_api_failure(k->what, r, &e, fails);
			return -1; /* the server fails: all of it again later */
		}
		/* Kept and tried again a little later, holding up no other lock's. */
		if (k->hold(g->q, item, now_ms() + GATEWAY_HOLD_MS) != 0)
			return -1;
		if (held++ == 0)
			log_warn(_("%s: the server refused one for lock %u (%s: %s), which it "
				   "still lists as ours; kept, and tried again"), k->what,
				 (unsigned)k->spot_of(item), e.code, e.detail);
	}
	return n;
}

/* A lock's reachability on its way to the server. */
struct uplink_reach {
	uint32_t spot;
	int online;
};

/* POSTs /v1/gateway/status for batch[0..n). 0, or the apiclient error with *e filled. */
static int reach_post(struct apiclient *api, const struct uplink_reach *batch, size_t n,
		      struct apiclient_error *e)
{
	json_object *body = json_object_new_object(), *arr = json_object_new_array(), *o;
	json_object *reply = NULL;
	size_t i;
	int r = -APICLIENT_E_ARG;

	if (body == NULL || arr == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		o = json_object_new_object();
		if (o == NULL)
			goto out;
		json_object_object_add(o, "spot", json_object_new_int64(batch[i].spot));
		json_object_object_add(o, "online", json_object_new_boolean(batch[i].online));
		json_object_array_add(arr, o);
	}
	json_object_object_add(body, "locks", arr);
	arr = NULL; /* transferred */
	r = apiclient_call(api, "POST", "/v1/gateway/status", body, APICLIENT_IDEMPOTENT, 0,
			   &reply, e);
	if (r > 0)
		r = 0;
out:
	json_object_put(reply);
	json_object_put(arr);
	json_object_put(body);
	return r;
}

/*
 * Puts reports that could not be posted back, unless a worker has noted a newer state;
 * not posted again before hold_until (ms, 0: at the next turn).
 */
static void reach_keep(struct gateway *g, const struct uplink_reach *batch, size_t n,
		       int64_t hold_until)
{
	struct gateway_worker *w;
	size_t i;

	pthread_mutex_lock(&g->mu);
	for (i = 0; i < n; i++) {
		w = worker_find(g, batch[i].spot);
		if (w != NULL && w->reach_report < 0)
			w->reach_report = batch[i].online;
		if (w != NULL)
			w->reach_hold_until = hold_until;
	}
	pthread_mutex_unlock(&g->mu);
}

/*
 * The server stores a report whole or not at all, so one lock it refuses must not take
 * the others' news with it: each is posted alone. A refusal of one that is malformed,
 * or of a lock the gateway no longer covers, drops that one; any other failure stops.
 * 0, or the apiclient error with *e filled and *done the reports dealt with before it.
 */
static int reach_one_by_one(struct gateway *g, struct apiclient *api,
			    const struct uplink_reach *batch, size_t n, struct apiclient_error *e,
			    size_t *done)
{
	size_t i;
	int r;

	log_warn(_("the server refused a report of which locks are in reach (%s: %s); "
		   "sending one lock at a time"), e->code, e->detail);
	for (i = 0; i < n; i++) {
		r = reach_post(api, &batch[i], 1, e);
		switch (item_fate(g, r, e, batch[i].spot)) {
		case ITEM_TAKEN:
			break;
		case ITEM_DROPPED:
			log_warn(_("lock %u: the server refused its reach (%s: %s); dropped"),
				 (unsigned)batch[i].spot, e->code, e->detail);
			break;
		case ITEM_HELD:
			/* Its lock is being changed on the server: kept, holding up nobody. */
			reach_keep(g, &batch[i], 1, now_ms() + GATEWAY_HOLD_MS);
			break;
		case ITEM_FAILED:
			*done = i;
			return r;
		}
	}
	*done = n;
	return 0;
}

/*
 * Posts the reachability the workers noted since the last post, a batch at a time.
 * Returns the count posted (or refused for good: dropped), or -1 when the server could
 * not take them: they wait for the next try unless a worker has noted a newer state.
 */
static int uplink_reach(struct gateway *g, struct apiclient *api, unsigned fails)
{
	struct uplink_reach batch[GATEWAY_BATCH_MAX];
	struct gateway_worker *w;
	struct apiclient_error e;
	size_t i, n, done;
	int r, total = 0;

	do {
		n = 0;
		pthread_mutex_lock(&g->mu);
		for (i = 0; i < g->nworkers && n < GATEWAY_BATCH_MAX; i++) {
			w = g->workers[i];
			if (w->reach_report < 0 || w->reach_hold_until > now_ms())
				continue;
			batch[n].spot = w->lock.spot;
			batch[n++].online = w->reach_report;
			w->reach_report = -1;
		}
		pthread_mutex_unlock(&g->mu);
		if (n == 0)
			break;
		done = 0;
		r = reach_post(api, batch, n, &e);
		if (r != 0 && refused_for_good(r, &e))
			r = reach_one_by_one(g, api, batch, n, &e, &done);
		if (r != 0) {
			log_api_failure(_("reporting which locks are in reach"), r, &e, fails);
			reach_keep(g, batch + done, n - done, 0);
			return -1;
		}
		total += (int)n;
	} while (n == GATEWAY_BATCH_MAX);
	return total;
}

static void *uplink_main(void *arg)
{
	struct gateway *g = arg;
	struct apiclient *api = new_client(g, 30000);
	uint8_t *items = NULL;
	struct timespec until;
	int64_t t, prune_at = 0;
	unsigned fails = 0;
	size_t i;
	int n;
	bool busy = true;

	items = malloc(GATEWAY_BATCH_MAX * sizeof(union uplink_item));
	if (api == NULL || items == NULL) {
		log_error(_("cannot start the uplink to %s"), g->cfg.server);
		goto out;
	}
	while (!stopped(g)) {
		pthread_mutex_lock(&g->mu);
		if (!busy && !g->up_kicked && !stopped(g)) {
			t = now_ms() + GATEWAY_UPLINK_IDLE_MS;
			until.tv_sec = t / 1000;
			until.tv_nsec = (t % 1000) * 1000000L;
			pthread_cond_timedwait(&g->up_cond, &g->mu, &until);
		}
		g->up_kicked = false;
		pthread_mutex_unlock(&g->mu);
		busy = false;
		for (i = 0; i < UPLINK_KINDS && !stopped(g); i++) {
			/* Before each kind: a lock's events never overtake the news it is back. */
			if (uplink_reach(g, api, fails) < 0)
				break;
			n = uplink_send(g, api, &uplink_kinds[i], items, fails);
			if (n < 0)
				break;
			if (n == GATEWAY_BATCH_MAX)
				busy = true;
		}
		if (i < UPLINK_KINDS && !stopped(g)) {
			(void)apiclient_sleep(api, apiclient_backoff_ms(api, fails++));
			busy = true;
			continue;
		}
		fails = 0;
		if (now_ms() >= prune_at) {
			(void)gwqueue_down_prune(g->q, now_ms() - GATEWAY_PRUNE_AGE_MS);
			prune_at = now_ms() + GATEWAY_PRUNE_AGE_MS / 4;
		}
	}
out:
	free(items);
	apiclient_free(api);
	return NULL;
}

/* ---- start and stop ---- */

static int open_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error(_("cannot make the data directory %s: %s"), dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_error(_("the data directory %s is not a directory"), dir);
		return -1;
	}
	return 0;
}

static int open_key(const struct gateway_config *cfg, struct gwauth *auth)
{
	if (open_dir(cfg->data_dir) != 0)
		return -1;
	if (gwauth_open(auth, cfg->data_dir, cfg->id) != 0) {
		log_error(_("cannot load or make the gateway key %s/%s: %s%s"), cfg->data_dir,
			  GWAUTH_KEY_FILE, strerror(errno),
			  errno == EINVAL ? _(" (the file is not a P-256 private key; it is "
					      "left alone)") : "");
		return -1;
	}
	return 0;
}

int gateway_print_key(const struct gateway_config *cfg)
{
	struct gwauth auth;
	char hex[129];

	if (open_key(cfg, &auth) != 0)
		return -1;
	hex_encode(auth.pub, sizeof(auth.pub), hex, sizeof(hex));
	printf("%s\n", hex);
	gwauth_free(&auth);
	return 0;
}

int gateway_start(const struct gateway_config *cfg, struct gateway **out)
{
	struct gateway *g;
	struct gwqueue_lock *locks = NULL;
	char path[GATEWAY_PATH_MAX + 32];
	size_t n = 0, pending = 0;
	int r;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -1;
	g->cfg = *cfg;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->up_cond, NULL);
	if (open_key(cfg, &g->auth) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, GATEWAY_QUEUE_FILE);
	if (gwqueue_open(path, &g->q) != 0) {
		log_error(_("cannot open the queue file %s; see the message above"), path);
		goto fail;
	}
	if (gwqueue_locks_get(g->q, &locks, &n) == 0 && n > 0) {
		log_info("serving %zu locks known from the last run", n);
		workers_reconcile(g, locks, n);
	}
	free(locks);
	if (gwqueue_down_count(g->q, &pending) == 0 && pending > 0)
		log_info("%zu messages wait for their locks", pending);
	r = pthread_create(&g->uplink, NULL, uplink_main, g);
	g->uplink_started = r == 0;
	if (r == 0) {
		r = pthread_create(&g->poller, NULL, poller_main, g);
		g->poller_started = r == 0;
	}
	if (r != 0) {
		log_error(_("cannot start a thread: %s"), strerror(r));
		goto fail;
	}
	log_info("gateway %" PRId64 " started: server %s, data in %s", cfg->id, cfg->server,
		 cfg->data_dir);
	*out = g;
	return 0;
fail:
	gateway_stop(g);
	return -1;
}

void gateway_stop(struct gateway *g)
{
	size_t i;

	if (g == NULL)
		return;
	atomic_store(&g->stop, 1);
	kick_uplink(g);
	if (g->poller_started)
		pthread_join(g->poller, NULL);
	if (g->uplink_started)
		pthread_join(g->uplink, NULL);
	for (i = 0; i < g->nworkers; i++)
		worker_join(g->workers[i]);
	free(g->workers);
	gwqueue_close(g->q);
	gwauth_free(&g->auth);
	pthread_cond_destroy(&g->up_cond);
	pthread_mutex_destroy(&g->mu);
	free(g);
}
