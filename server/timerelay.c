/*
 * timerelay.c: queueing signed time for the locks (see timerelay.h), and the thread that
 * keeps it fresh. Which locks are due is read from the queue itself (the newest
 * SET_TIME of each lock), not kept in memory, so a restart of parkd neither skips nor
 * repeats a relay. It signs nothing itself: delivery_queue() takes the sequence, signs
 * and stores.
 */
#include "timerelay.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "../lib/log.h"
#include "../lib/monocond.h"
#include "../lockfw/proto/proto.h"
#include "config.h"
#include "delivery.h"
#include "server.h"
#include "site.h"

#define TIMERELAY_U32_MAX 4294967295LL
#define TIMERELAY_BUSY_TRIES 5
#define TIMERELAY_MODULES_MAX 8

/* A lock that is due, and its site. */
struct timerelay_lock {
	int64_t spot_id, site_id;
};

static int timerelay_err_of(int r)
{
	return r == -DB_E_BUSY || r == -DELIVERY_E_BUSY ? -TIMERELAY_E_BUSY :
							  -TIMERELAY_E_INTERNAL;
}

/* The due locks of site_id (0: all), by site, into a malloc'ed array. 0 or -DB_E_*. */
static int timerelay_due(struct db *db, int64_t site_id, int64_t now, int64_t max_age_s,
			 struct timerelay_lock **out, size_t *n)
{
	struct timerelay_lock *v = NULL, *nv;
	struct db_stmt *st;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	st = db_prepare(db, "SELECT l.spot_id, s.site_id FROM locks l "
			"JOIN spots s ON s.id = l.spot_id WHERE ($1 = 0 OR s.site_id = $1) "
			"AND NOT EXISTS (SELECT 1 FROM mgmt_queue q WHERE q.spot_id = l.spot_id "
			"AND q.kind = 'set_time' AND (q.state = 'pending' OR q.created_at > $2)) "
			"ORDER BY s.site_id, l.spot_id");
	if (st == NULL || db_bind_int(st, 1, site_id) != 0 ||
	    db_bind_int(st, 2, now - max_age_s) != 0) {
		db_finalize(st);
		return -DB_E_IO;
	}
	while ((r = db_step(st)) == DB_ROW) {
		if (*n == cap) {
			cap = cap != 0 ? 2 * cap : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				r = -DB_E_IO;
				break;
			}
			v = nv;
		}
		v[*n].spot_id = db_col_int(st, 0);
		v[*n].site_id = db_col_int(st, 1);
		(*n)++;
	}
	db_finalize(st);
	if (r != DB_DONE) {
		free(v);
		*n = 0;
		return r < 0 ? r : -DB_E_IO;
	}
	*out = v;
	return 0;
}

int timerelay_queue(struct db *db, const uint8_t master[32], int64_t site_id, int64_t now,
		    int64_t max_age_s, size_t *queued)
{
	struct timerelay_lock *locks = NULL;
	struct delivery_msg_spec spec;
	union proto_mgmt_payload p;
	EVP_PKEY *key = NULL;
	int64_t key_site = 0;
	size_t i, n = 0, done = 0;
	int r;

	if (queued != NULL)
		*queued = 0;
	if (now < 1 || now > TIMERELAY_U32_MAX || max_age_s < 0)
		return -TIMERELAY_E_INTERNAL;
	r = timerelay_due(db, site_id, now, max_age_s, &locks, &n);
	if (r != 0)
		return timerelay_err_of(r);
	memset(&p, 0, sizeof(p));
	p.time = (uint32_t)now;
	for (i = 0; i < n; i++) {
		/* The locks come by site: one key open at a time. */
		if (key == NULL || key_site != locks[i].site_id) {
			EVP_PKEY_free(key);
			key = NULL;
			key_site = locks[i].site_id;
			if (site_key(db, master, key_site, &key) != 0) {
				log_error("timerelay: the key of site %" PRId64 " does not open",
					  key_site);
				r = -TIMERELAY_E_INTERNAL;
				goto out;
			}
		}
		spec.spot_id = locks[i].spot_id;
		spec.site_id = locks[i].site_id;
		spec.mtype = PROTO_MGMT_SET_TIME;
		spec.kind = "set_time";
		spec.key_id = 0;
		r = delivery_queue(db, key, &spec, &p, now, NULL);
		if (r == -DELIVERY_E_SPENT) {
			log_error("timerelay: lock %" PRId64 " has used up its management "
				  "sequences; it gets no time", locks[i].spot_id);
			continue;
		}
		if (r != 0) {
			r = timerelay_err_of(r);
			goto out;
		}
		done++;
	}
	r = 0;
	if (queued != NULL)
		*queued = done;
out:
	EVP_PKEY_free(key);
	free(locks);
	return r;
}

/* The IDs of every site, into a malloc'ed array. 0 or -1. */
static int timerelay_sites(struct db *db, int64_t **out, size_t *n)
{
	struct db_stmt *st = db_prepare(db, "SELECT id FROM sites ORDER BY id");
	int64_t *v = NULL, *nv;
	size_t cap = 0;
	int r = -1;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	while ((r = db_step(st)) == DB_ROW) {
		if (*n == cap) {
			cap = cap != 0 ? 2 * cap : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				r = -1;
				break;
			}
			v = nv;
		}
		v[(*n)++] = db_col_int(st, 0);
	}
	db_finalize(st);
	if (r != DB_DONE) {
		free(v);
		*n = 0;
		return -1;
	}
	*out = v;
	return 0;
}

int timerelay_pass(struct server *srv)
{
	struct db *db = server_db_get(srv);
	int64_t *sites = NULL;
	size_t i, n = 0, queued, total = 0;
	unsigned tries;
	int r = -1;

	if (db == NULL)
		return -1;
	if (timerelay_sites(db, &sites, &n) != 0) {
		log_error("timerelay: the sites could not be read: %s", db_errmsg(db));
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = -TIMERELAY_E_BUSY;
		for (tries = 0; tries < TIMERELAY_BUSY_TRIES && r == -TIMERELAY_E_BUSY; tries++) {
			queued = 0;
			if (db_begin(db) != 0)
				continue;
			r = timerelay_queue(db, server_master_key(srv), sites[i], server_now(srv),
					    server_config(srv)->time_relay_s, &queued);
			if (r == 0 && db_commit(db) != 0)
				r = -TIMERELAY_E_BUSY;
			if (r != 0)
				db_rollback(db);
		}
		if (r != 0) {
			log_error("timerelay: the time for site %" PRId64 " could not be queued: %s",
				  sites[i], db_errmsg(db));
			r = -1;
			goto out;
		}
		if (queued > 0)
			log_info("timerelay: signed time queued for %zu locks of site %" PRId64,
				 queued, sites[i]);
		total += queued;
	}
	r = 0;
out:
	server_db_put(srv, db);
	free(sites);
	if (total > 0)
		server_wake_gateways(srv);
	return r == 0 ? (int)total : -1;
}

/* ---- the thread ---- */

struct timerelay {
	struct server *srv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	bool stop;
};

/*
 * The started modules by server: the routes' hooks give only the server, and more than
 * one server runs in a process in tests.
 */
static struct {
	pthread_mutex_t mu;
	struct timerelay *m[TIMERELAY_MODULES_MAX];
} timerelay_modules = { PTHREAD_MUTEX_INITIALIZER, { NULL } };

static void *timerelay_main(void *arg)
{
	struct timerelay *t = arg;
	int64_t tick = server_config(t->srv)->time_relay_s;
	struct timespec until;
	bool stop = false;

	if (tick > TIMERELAY_TICK_MAX_S)
		tick = TIMERELAY_TICK_MAX_S;
	while (!stop) {
		(void)timerelay_pass(t->srv);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)tick;
		pthread_mutex_lock(&t->mu);
		while (!t->stop && pthread_cond_timedwait(&t->cond, &t->mu, &until) != ETIMEDOUT)
			;
		stop = t->stop;
		pthread_mutex_unlock(&t->mu);
	}
	return NULL;
}

int timerelay_start(struct server *srv)
{
	struct timerelay *t = calloc(1, sizeof(*t));
	size_t i;
	int r;

	if (t == NULL)
		return -1;
	t->srv = srv;
	pthread_mutex_init(&t->mu, NULL);
	if (monocond_init(&t->cond) != 0) {
		pthread_mutex_destroy(&t->mu);
		free(t);
		return -1;
	}
	pthread_mutex_lock(&timerelay_modules.mu);
	for (i = 0; i < TIMERELAY_MODULES_MAX && timerelay_modules.m[i] != NULL; i++)
		;
	if (i < TIMERELAY_MODULES_MAX)
		timerelay_modules.m[i] = t;
	pthread_mutex_unlock(&timerelay_modules.mu);
	if (i == TIMERELAY_MODULES_MAX) {
		log_error("timerelay: too many servers in one process");
		goto fail;
	}
	r = pthread_create(&t->thread, NULL, timerelay_main, t);
	if (r == 0)
		return 0;
	log_error("timerelay: cannot start its thread: %s", strerror(r));
	pthread_mutex_lock(&timerelay_modules.mu);
	timerelay_modules.m[i] = NULL;
	pthread_mutex_unlock(&timerelay_modules.mu);
fail:
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->mu);
	free(t);
	return -1;
}

void timerelay_stop(struct server *srv)
{
	struct timerelay *t = NULL;
	size_t i;

	pthread_mutex_lock(&timerelay_modules.mu);
	for (i = 0; i < TIMERELAY_MODULES_MAX; i++)
		if (timerelay_modules.m[i] != NULL && timerelay_modules.m[i]->srv == srv) {
			t = timerelay_modules.m[i];
			timerelay_modules.m[i] = NULL;
		}
	pthread_mutex_unlock(&timerelay_modules.mu);
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->mu);
	free(t);
}
