/*
 * notify.c: the notifications and their worker (see notify.h); hook.c sends them. The
 * worker owns one database connection and reads the pending rows event.c wrote (for a
 * lock's event, or for the server's own alarm: a lock out of reach), so a notification
 * survives a restart between its cause and its send. It does not decide who manages a
 * spot beyond one query, nor what an event means.
 */
#include "notify.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "../lib/log.h"
#include "../lockfw/proto/proto.h"
#include "config.h"
#include "hook.h"
#include "server.h"

#define NOTIFY_TICK_MS 5000       /* the worker looks at least this often */
#define NOTIFY_RETRY_BASE_S 5     /* first retry after a failed send; doubles each time */
#define NOTIFY_RECIPIENTS_MAX 64

_Static_assert(CONFIG_URL_MAX <= HOOK_TARGET_MAX, "every valid notify_hook fits a struct hook");

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

/* What the server's own alarms (notifications.kind) say, after the spot's name. */
static const struct {
	const char *kind;
	const char *text;
} notify_alarms[] = {
	{ "offline", "the lock is out of reach of its gateways" },
	{ "override", "an attendant moved the barrier remotely" },
	{ "share_pending", "a share of the spot waits for your approval" },
	{ "share_approved", "the owner approved your share" },
	{ "share_refused", "the owner refused your share" },
};

bool notify_kind(uint8_t kind)
{
	return kind <= PROTO_EV_KIND_MAX && notify_texts[kind] != NULL;
}

/* The sentence of an alarm kind, or NULL. */
static const char *notify_alarm_text(const char *kind)
{
	size_t i;

	for (i = 0; kind != NULL && i < sizeof(notify_alarms) / sizeof(notify_alarms[0]); i++)
		if (strcmp(notify_alarms[i].kind, kind) == 0)
			return notify_alarms[i].text;
	return NULL;
}

/* ---- one pass ---- */

struct notify_item {
	int64_t id;
	int64_t attempts;
	int64_t spot, site;
	int64_t user_id;    /* > 0: for this user only (a requester told of a decision) */
	char spot_name[64];
	const char *text;   /* what happened, after the spot's name (static) */
	json_object *event; /* owned */
};

/*
 * The pending notifications due at `now`, with their events, into items. Count or -1.
 * A row without an event is the server's own alarm: its "event" has site, spot, kind
 * and received_at only.
 */
static int load_pending(struct db *db, int64_t now, struct notify_item *items, size_t max)
{
	struct db_stmt *st;
	json_object *e;
	const char *kind, *name;
	size_t n = 0;
	unsigned k;
	bool alarm;
	int r;

	st = db_prepare(db, "SELECT n.id, n.attempts, e.id, n.spot_id, e.seq, e.time, "
			"COALESCE(e.kind, n.kind), e.arg8, e.arg16, e.user_id, e.key_id, "
			"COALESCE(e.received_at, n.created_at), s.name, s.site_id, n.kind, "
			"COALESCE(n.user_id, 0) FROM notifications n LEFT JOIN events e ON e.id = n.event_id "
			"JOIN spots s ON s.id = n.spot_id "
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
		it->user_id = db_col_int(st, 15);
		kind = db_col_text(st, 6);
		name = db_col_text(st, 12);
		alarm = !db_col_null(st, 14);
		snprintf(it->spot_name, sizeof(it->spot_name), "%s", name != NULL ? name : "");
		if (alarm)
			it->text = notify_alarm_text(kind);
		for (k = 1; !alarm && k <= PROTO_EV_KIND_MAX && kind != NULL; k++)
			if (strcmp(proto_event_name((uint8_t)k), kind) == 0)
				it->text = notify_texts[k];
		e = json_object_new_object();
		if (!alarm)
			json_object_object_add(e, "id", json_object_new_int64(db_col_int(st, 2)));
		json_object_object_add(e, "site", json_object_new_int64(it->site));
		json_object_object_add(e, "spot", json_object_new_int64(it->spot));
		if (!alarm) {
			json_object_object_add(e, "seq", json_object_new_int64(db_col_int(st, 4)));
			json_object_object_add(e, "time", json_object_new_int64(db_col_int(st, 5)));
		}
		json_object_object_add(e, "kind", json_object_new_string(kind != NULL ? kind : ""));
		if (!alarm) {
			json_object_object_add(e, "arg8", json_object_new_int64(db_col_int(st, 7)));
			json_object_object_add(e, "arg16", json_object_new_int64(db_col_int(st, 8)));
			json_object_object_add(e, "user_id",
					       json_object_new_int64(db_col_int(st, 9)));
			json_object_object_add(e, "key_id",
					       json_object_new_int64(db_col_int(st, 10)));
		}
		json_object_object_add(e, "received_at", json_object_new_int64(db_col_int(st, 11)));
		it->event = e;
		n++;
	}
	db_finalize(st);
	return (int)n;
}

/*
 * Whom it->id goes to as [{"user_id","phone"}], and their IDs as a JSON text: the one
 * user it names, or else the spot's managers.
 */
static json_object *managers(struct db *db, const struct notify_item *it, json_object **ids)
{
	json_object *to = json_object_new_array(), *o;
	struct db_stmt *st;
	const char *phone;
	int r;

	*ids = json_object_new_array();
	if (it->user_id > 0) {
		st = db_prepare(db, "SELECT id, phone FROM users WHERE id = $1");
		if (to == NULL || *ids == NULL || st == NULL || db_bind_int(st, 1, it->user_id) != 0)
			goto fail;
	} else {
		st = db_prepare(db, "SELECT id, phone FROM users WHERE id IN ("
				"SELECT owner_id FROM spots WHERE id = $1 "
				"UNION SELECT user_id FROM roles WHERE role = 'owner' AND spot_id = $1 "
				"UNION SELECT user_id FROM roles WHERE role IN ('attendant', 'admin') "
				"AND site_id = $2) ORDER BY id LIMIT $3");
		if (to == NULL || *ids == NULL || st == NULL || db_bind_int(st, 1, it->spot) != 0 ||
		    db_bind_int(st, 2, it->site) != 0 ||
		    db_bind_int(st, 3, NOTIFY_RECIPIENTS_MAX) != 0)
			goto fail;
	}
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
		 it->text != NULL ? it->text : "an event");
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
static int send_one(struct db *db, const struct hook *hook, int64_t now,
		    struct notify_item *it)
{
	json_object *to, *ids = NULL, *body = NULL;
	struct hook_message m;
	const char *args[2];
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
	/* One JSON text in every form: the file's line, the command's argument, the POST. */
	m.json = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	m.line = m.json;
	args[0] = m.json;
	args[1] = NULL;
	m.args = args;
	if (hook_send(hook, &m, err, sizeof(err)) == 0) {
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

int notify_pass(struct db *db, const struct hook *hook, int64_t now)
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
	struct hook hook;
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
		r = notify_pass(n->db, &n->hook, server_now(n->srv));
	}
	return NULL;
}

int notify_start(struct server *srv, const char *hook, struct notify **out)
{
	struct notify *n;
	const char *err = NULL;
	char hook_err[200];

	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -1;
	if (hook_parse(hook, &n->hook, hook_err, sizeof(hook_err)) != 0) {
		log_error("notify: notify_hook: %s", hook_err);
		free(n);
		return -1;
	}
	n->srv = srv;
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
