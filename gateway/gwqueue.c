/*
 * gwqueue.c: the gateway's queue file on SQLite (see gwqueue.h). Each public call is one
 * transaction under q->mu; with WAL and synchronous=FULL its commit is on disk when the
 * call returns. It knows the shapes of messages, acks and events, not what they mean.
 */
#include "gwqueue.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../lib/log.h"

#define GWQUEUE_BUSY_MS 5000

struct gwqueue {
	sqlite3 *db;
	pthread_mutex_t mu;
};

static const char gwqueue_schema[] =
	"CREATE TABLE IF NOT EXISTS locks ("
	" spot INTEGER PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL,"
	" device_pub BLOB NOT NULL, event_seq INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS downlink ("
	" id INTEGER PRIMARY KEY, spot INTEGER NOT NULL, frame BLOB,"
	" state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
	" next_try_at INTEGER NOT NULL DEFAULT 0, done_at INTEGER);"
	"CREATE INDEX IF NOT EXISTS downlink_spot ON downlink (spot, state, id);"
	"CREATE TABLE IF NOT EXISTS acks ("
	" id INTEGER PRIMARY KEY, frame BLOB, error TEXT, queued_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS events ("
	" spot INTEGER NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,"
	" kind INTEGER NOT NULL, arg8 INTEGER NOT NULL, arg16 INTEGER NOT NULL,"
	" user_id INTEGER NOT NULL, key_id INTEGER NOT NULL,"
	" refused INTEGER NOT NULL DEFAULT 0, hold_until INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (spot, seq));"
	"CREATE INDEX IF NOT EXISTS events_order ON events (refused);"
	"CREATE TABLE IF NOT EXISTS lockstate ("
	" spot INTEGER PRIMARY KEY, seq INTEGER NOT NULL, hash BLOB NOT NULL);";

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct gwqueue *q, const char *what)
{
	log_error("gwqueue: %s (in: %.60s)", sqlite3_errmsg(q->db), what);
	return -GWQUEUE_E_IO;
}

/* Runs SQL without parameters or rows. */
static int exec(struct gwqueue *q, const char *sql)
{
	return sqlite3_exec(q->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(q, sql);
}

static int begin(struct gwqueue *q)
{
	pthread_mutex_lock(&q->mu);
	if (exec(q, "BEGIN IMMEDIATE") != 0) {
		pthread_mutex_unlock(&q->mu);
		return -GWQUEUE_E_IO;
	}
	return 0;
}

/* Commits when r is 0 (then returns the commit's result), else rolls back; unlocks. */
static int end(struct gwqueue *q, int r)
{
	if (r >= 0 && exec(q, "COMMIT") != 0)
		r = -GWQUEUE_E_IO;
	if (r < 0 && !sqlite3_get_autocommit(q->db))
		(void)sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&q->mu);
	return r;
}

static sqlite3_stmt *prepare(struct gwqueue *q, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
		(void)fail(q, sql);
		return NULL;
	}
	return st;
}

/* Steps a statement that returns no rows, then finalizes it. 0 or -GWQUEUE_E_IO. */
static int run(struct gwqueue *q, sqlite3_stmt *st)
{
	int rc;

	if (st == NULL)
		return -GWQUEUE_E_IO;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(q, "step");
}

/* A queue file from before events could be held gets the column (0: not held). */
static int add_hold_until(struct gwqueue *q)
{
	sqlite3_stmt *st = prepare(q, "SELECT 1 FROM pragma_table_info('events') "
				   "WHERE name = 'hold_until'");
	int rc;

	if (st == NULL)
		return -GWQUEUE_E_IO;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return fail(q, "events columns");
	return exec(q, "ALTER TABLE events ADD COLUMN hold_until INTEGER NOT NULL DEFAULT 0");
}

int gwqueue_open(const char *path, struct gwqueue **out)
{
	struct gwqueue *q;
	int fd;

	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -GWQUEUE_E_IO;
	pthread_mutex_init(&q->mu, NULL);
	/* Create it 0600 ourselves: SQLite would use the umask. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("gwqueue: cannot open %s: %s", path,
			  q->db != NULL ? sqlite3_errmsg(q->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(q->db, GWQUEUE_BUSY_MS);
	if (exec(q, "PRAGMA journal_mode=WAL") != 0 || exec(q, "PRAGMA synchronous=FULL") != 0 ||
	    exec(q, gwqueue_schema) != 0 || add_hold_until(q) != 0)
		goto fail;
	*out = q;
	return 0;
fail:
	gwqueue_close(q);
	return -GWQUEUE_E_IO;
}

void gwqueue_close(struct gwqueue *q)
{
	if (q == NULL)
		return;
	if (q->db != NULL)
		sqlite3_close(q->db);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

/* ---- covered locks ---- */

int gwqueue_locks_set(struct gwqueue *q, const struct gwqueue_lock *locks, size_t n)
{
	sqlite3_stmt *st;
	size_t i;
	int r;

	r = begin(q);
	if (r != 0)
		return r;
	r = exec(q, "DELETE FROM locks");
	for (i = 0; r == 0 && i < n; i++) {
		st = prepare(q, "INSERT OR REPLACE INTO locks (spot, name, address, device_pub, "
			     "event_seq) VALUES (?, ?, ?, ?, ?)");
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, locks[i].spot);
			sqlite3_bind_text(st, 2, locks[i].name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 3, locks[i].address, -1, SQLITE_TRANSIENT);
			sqlite3_bind_blob(st, 4, locks[i].device_pub, PROTO_PUBKEY_LEN,
					  SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 5, locks[i].event_seq);
		}
		r = run(q, st);
	}
	return end(q, r);
}

static void copy_text(char *dst, size_t cap, const unsigned char *s)
{
	size_t n = s != NULL ? strlen((const char *)s) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

int gwqueue_locks_get(struct gwqueue *q, struct gwqueue_lock **out, size_t *n)
{
	struct gwqueue_lock *v = NULL, *nv;
	sqlite3_stmt *st = NULL;
	size_t cap = 0, count = 0;
	int rc, r = -GWQUEUE_E_IO;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&q->mu);
	st = prepare(q, "SELECT spot, name, address, device_pub, event_seq FROM locks "
		     "ORDER BY spot");
	if (st == NULL)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap != 0 ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				goto out;
			v = nv;
		}
		memset(&v[count], 0, sizeof(v[count]));
		v[count].spot = (uint32_t)sqlite3_column_int64(st, 0);
		copy_text(v[count].name, sizeof(v[count].name), sqlite3_column_text(st, 1));
		copy_text(v[count].address, sizeof(v[count].address), sqlite3_column_text(st, 2));
		if (sqlite3_column_bytes(st, 3) == PROTO_PUBKEY_LEN)
			memcpy(v[count].device_pub, sqlite3_column_blob(st, 3), PROTO_PUBKEY_LEN);
		v[count].event_seq = (uint32_t)sqlite3_column_int64(st, 4);
		count++;
	}
	if (rc != SQLITE_DONE) {
		(void)fail(q, "reading locks");
		goto out;
	}
	*out = v;
	*n = count;
	v = NULL; /* transferred */
	r = 0;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->mu);
	free(v);
	return r;
}

/* ---- downlink ---- */

int gwqueue_down_put(struct gwqueue *q, int64_t id, uint32_t spot, const uint8_t *frame,
		     size_t len)
{
	sqlite3_stmt *st;
	int r;

	if (len == 0 || len > PROTO_FRAME_MAX)
		return -GWQUEUE_E_ARG;
	r = begin(q);
	if (r != 0)
		return r;
	st = prepare(q, "INSERT OR IGNORE INTO downlink (id, spot, frame) VALUES (?, ?, ?)");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, spot);
		sqlite3_bind_blob(st, 3, frame, (int)len, SQLITE_TRANSIENT);
	}
	r = run(q, st);
	if (r == 0)
		r = sqlite3_changes(q->db) > 0 ? 1 : 0;
	if (r == 0) {
		/* Signed again by the server (a SET_TIME carries the time of its hand-out). */
		st = prepare(q, "UPDATE downlink SET frame = ? WHERE id = ? AND state = 0");
		if (st != NULL) {
			sqlite3_bind_blob(st, 1, frame, (int)len, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 2, id);
		}
		r = run(q, st);
	}
	return end(q, r);
}

int gwqueue_down_next(struct gwqueue *q, uint32_t spot, struct gwqueue_msg *out)
{
	sqlite3_stmt *st;
	int rc, r = -GWQUEUE_E_IO;
	int len;

	pthread_mutex_lock(&q->mu);
	st = prepare(q, "SELECT id, frame, attempts, next_try_at FROM downlink "
		     "WHERE spot = ? AND state = 0 ORDER BY id LIMIT 1");
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, spot);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = 0;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		(void)fail(q, "reading downlink");
		goto out;
	}
	len = sqlite3_column_bytes(st, 1);
	if (len <= 0 || len > PROTO_FRAME_MAX) {
		log_error("gwqueue: downlink message %lld has a frame of %d bytes",
			  (long long)sqlite3_column_int64(st, 0), len);
		goto out;
	}
	out->id = sqlite3_column_int64(st, 0);
	out->spot = spot;
	memcpy(out->frame, sqlite3_column_blob(st, 1), (size_t)len);
	out->len = (size_t)len;
	out->attempts = (unsigned)sqlite3_column_int64(st, 2);
	out->next_try_at = sqlite3_column_int64(st, 3);
	r = 1;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->mu);
	return r;
}

int gwqueue_down_retry(struct gwqueue *q, int64_t id, int64_t next_try_at)
{
	sqlite3_stmt *st;
	int r;

	r = begin(q);
	if (r != 0)
		return r;
	st = prepare(q, "UPDATE downlink SET attempts = attempts + 1, next_try_at = ? "
		     "WHERE id = ?");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, next_try_at);
		sqlite3_bind_int64(st, 2, id);
	}
	return end(q, run(q, st));
}

/*
 * Queues the report of message `id` for the server, in the caller's transaction: the
 * lock's signed ack (frame) or, when frame is NULL, a delivery error.
 */
static int queue_ack(struct gwqueue *q, int64_t id, const uint8_t *frame, size_t len,
		     const char *error, int64_t at)
{
	/*
	 * A report that replaces one (the lock's ack after an "unreachable") gets a later
	 * queued_at than it, always: that is its version, and the uplink deletes only the
	 * version it sent (gwqueue_acks_delete).
	 */
	sqlite3_stmt *st = prepare(q, "INSERT OR REPLACE INTO acks (id, frame, error, queued_at) "
				   "VALUES (?1, ?2, ?3, max(?4, coalesce((SELECT queued_at + 1 "
				   "FROM acks WHERE id = ?1), 0)))");

	if (st != NULL) {
		sqlite3_bind_int64(st, 1, id);
		if (frame != NULL) {
			sqlite3_bind_blob(st, 2, frame, (int)len, SQLITE_TRANSIENT);
			sqlite3_bind_null(st, 3);
		} else {
			sqlite3_bind_null(st, 2);
			sqlite3_bind_text(st, 3, error, -1, SQLITE_TRANSIENT);
		}
		sqlite3_bind_int64(st, 4, at);
	}
	return run(q, st);
}

int gwqueue_down_done(struct gwqueue *q, int64_t id, const uint8_t *frame, size_t len,
		      const char *error)
{
	sqlite3_stmt *st;
	int64_t now = now_ms();
	int r;

	if ((frame != NULL && (len == 0 || len > PROTO_FRAME_MAX)) ||
	    (frame == NULL && (error == NULL || strlen(error) > GWQUEUE_ERROR_MAX)))
		return -GWQUEUE_E_ARG;
	r = begin(q);
	if (r != 0)
		return r;
	/* The frame is not needed any more; the row stays as a tombstone. */
	st = prepare(q, "UPDATE downlink SET state = 1, frame = NULL, done_at = ? WHERE id = ?");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, id);
	}
	r = run(q, st);
	if (r == 0)
		r = queue_ack(q, id, frame, len, error, now);
	return end(q, r);
}

int gwqueue_down_report(struct gwqueue *q, int64_t id, const char *error, int64_t next_try_at)
{
	sqlite3_stmt *st;
	int r;

	if (error == NULL || strlen(error) > GWQUEUE_ERROR_MAX)
		return -GWQUEUE_E_ARG;
	r = begin(q);
	if (r != 0)
		return r;
	st = prepare(q, "UPDATE downlink SET attempts = 0, next_try_at = ? WHERE id = ? AND "
		     "state = 0");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, next_try_at);
		sqlite3_bind_int64(st, 2, id);
	}
	r = run(q, st);
	if (r == 0)
		r = queue_ack(q, id, NULL, 0, error, now_ms());
	return end(q, r);
}

/* One integer from a query without parameters. */
static int count_of(struct gwqueue *q, const char *sql, size_t *n)
{
	sqlite3_stmt *st = prepare(q, sql);
	int r = -GWQUEUE_E_IO;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		*n = (size_t)sqlite3_column_int64(st, 0);
		r = 0;
	} else if (st != NULL) {
		(void)fail(q, sql);
	}
	sqlite3_finalize(st);
	return r;
}

int gwqueue_down_count(struct gwqueue *q, size_t *n)
{
	int r;

	pthread_mutex_lock(&q->mu);
	r = count_of(q, "SELECT count(*) FROM downlink WHERE state = 0", n);
	pthread_mutex_unlock(&q->mu);
	return r;
}

int gwqueue_down_prune(struct gwqueue *q, int64_t before_ms)
{
	sqlite3_stmt *st;
	int r;

	r = begin(q);
	if (r != 0)
		return r;
	st = prepare(q, "DELETE FROM downlink WHERE state = 1 AND done_at < ? "
		     "AND id NOT IN (SELECT id FROM acks)");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, before_ms);
	return end(q, run(q, st));
}

/* ---- uplink ---- */

int gwqueue_acks_peek(struct gwqueue *q, struct gwqueue_ack *out, size_t max)
{
	sqlite3_stmt *st;
	size_t count = 0;
	int rc, len, r = -GWQUEUE_E_IO;

	pthread_mutex_lock(&q->mu);
	st = prepare(q, "SELECT id, frame, error, queued_at FROM acks ORDER BY queued_at, id "
		     "LIMIT ?");
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while (count < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gwqueue_ack *a = &out[count];

		a->id = sqlite3_column_int64(st, 0);
		a->queued_at = sqlite3_column_int64(st, 3);
		len = sqlite3_column_bytes(st, 1);
		a->len = 0;
		a->error[0] = '\0';
		if (len > 0 && len <= PROTO_FRAME_MAX) {
			memcpy(a->frame, sqlite3_column_blob(st, 1), (size_t)len);
			a->len = (size_t)len;
		} else {
			copy_text(a->error, sizeof(a->error), sqlite3_column_text(st, 2));
			if (a->error[0] == '\0')
				copy_text(a->error, sizeof(a->error),
					  (const unsigned char *)"internal");
		}
		count++;
	}
	r = (int)count;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->mu);
	return r;
}

int gwqueue_acks_delete(struct gwqueue *q, const struct gwqueue_ack *acks, size_t n)
{
	sqlite3_stmt *st;
	size_t i;
	int r;

	r = begin(q);
	if (r != 0)
		return r;
	for (i = 0; r == 0 && i < n; i++) {
		st = prepare(q, "DELETE FROM acks WHERE id = ? AND queued_at = ?");
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, acks[i].id);
			sqlite3_bind_int64(st, 2, acks[i].queued_at);
		}
		r = run(q, st);
	}
	return end(q, r);
}

int gwqueue_events_put(struct gwqueue *q, uint32_t spot, const struct proto_event *ev,
		       size_t n, uint32_t seq, const uint8_t hash[PROTO_HASH_LEN])
{
	sqlite3_stmt *st;
	size_t i;
	int r, added = 0;

	r = begin(q);
	if (r != 0)
		return r;
	for (i = 0; r == 0 && i < n; i++) {
		st = prepare(q, "INSERT OR IGNORE INTO events (spot, seq, time, kind, arg8, arg16, "
			     "user_id, key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, spot);
			sqlite3_bind_int64(st, 2, ev[i].seq);
			sqlite3_bind_int64(st, 3, ev[i].time);
			sqlite3_bind_int64(st, 4, ev[i].kind);
			sqlite3_bind_int64(st, 5, ev[i].arg8);
			sqlite3_bind_int64(st, 6, ev[i].arg16);
			sqlite3_bind_int64(st, 7, ev[i].user_id);
			sqlite3_bind_int64(st, 8, ev[i].key_id);
		}
		r = run(q, st);
		if (r == 0)
			added += sqlite3_changes(q->db) > 0;
	}
	if (r == 0) {
		st = prepare(q, "INSERT OR REPLACE INTO lockstate (spot, seq, hash) "
			     "VALUES (?, ?, ?)");
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, spot);
			sqlite3_bind_int64(st, 2, seq);
			sqlite3_bind_blob(st, 3, hash, PROTO_HASH_LEN, SQLITE_TRANSIENT);
		}
		r = run(q, st);
	}
	return end(q, r == 0 ? added : r);
}

int gwqueue_lockstate_get(struct gwqueue *q, uint32_t spot, uint32_t *seq,
			  uint8_t hash[PROTO_HASH_LEN])
{
	sqlite3_stmt *st;
	int rc, r = -GWQUEUE_E_IO;

	pthread_mutex_lock(&q->mu);
	st = prepare(q, "SELECT seq, hash FROM lockstate WHERE spot = ?");
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, spot);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = 0;
	} else if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == PROTO_HASH_LEN) {
		*seq = (uint32_t)sqlite3_column_int64(st, 0);
		memcpy(hash, sqlite3_column_blob(st, 1), PROTO_HASH_LEN);
		r = 1;
	} else {
		(void)fail(q, "reading lockstate");
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->mu);
	return r;
}

int gwqueue_events_peek(struct gwqueue *q, struct gwqueue_event *out, size_t max)
{
	sqlite3_stmt *st;
	size_t count = 0;
	int rc, r = -GWQUEUE_E_IO;

	pthread_mutex_lock(&q->mu);
	st = prepare(q, "SELECT spot, seq, time, kind, arg8, arg16, user_id, key_id "
		     "FROM events WHERE refused = 0 AND hold_until <= ? ORDER BY rowid LIMIT ?");
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, now_ms());
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while (count < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gwqueue_event *e = &out[count++];

		e->spot = (uint32_t)sqlite3_column_int64(st, 0);
		e->ev.seq = (uint32_t)sqlite3_column_int64(st, 1);
		e->ev.time = (uint32_t)sqlite3_column_int64(st, 2);
		e->ev.kind = (uint8_t)sqlite3_column_int64(st, 3);
		e->ev.arg8 = (uint8_t)sqlite3_column_int64(st, 4);
		e->ev.arg16 = (uint16_t)sqlite3_column_int64(st, 5);
		e->ev.user_id = (uint32_t)sqlite3_column_int64(st, 6);
		e->ev.key_id = (uint32_t)sqlite3_column_int64(st, 7);
	}
	r = (int)count;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->mu);
	return r;
}

/*
 * Runs `sql` once per event in one transaction: ?1 is its spot, ?2 its sequence, and ?3
 * `*value` when not NULL. 0 or -GWQUEUE_E_IO.
 */
static int events_each(struct gwqueue *q, const struct gwqueue_event *ev, size_t n,
		       const char *sql, const int64_t *value)
{
	sqlite3_stmt *st;
	size_t i;
	int r;

	r = begin(q);
	if (r != 0)
		return r;
	for (i = 0; r == 0 && i < n; i++) {
		st = prepare(q, sql);
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, ev[i].spot);
			sqlite3_bind_int64(st, 2, ev[i].ev.seq);
			if (value != NULL)
				sqlite3_bind_int64(st, 3, *value);
		}
		r = run(q, st);
	}
	return end(q, r);
}

int gwqueue_events_done(struct gwqueue *q, const struct gwqueue_event *ev, size_t n,
			bool refused)
{
	return events_each(q, ev, n, refused ?
			   "UPDATE events SET refused = 1 WHERE spot = ?1 AND seq = ?2" :
			   "DELETE FROM events WHERE spot = ?1 AND seq = ?2", NULL);
}

int gwqueue_events_hold(struct gwqueue *q, const struct gwqueue_event *ev, size_t n,
			int64_t until_ms)
{
	return events_each(q, ev, n,
			   "UPDATE events SET hold_until = ?3 WHERE spot = ?1 AND seq = ?2",
			   &until_ms);
}

int gwqueue_up_count(struct gwqueue *q, size_t *events, size_t *acks)
{
	int r;

	pthread_mutex_lock(&q->mu);
	r = count_of(q, "SELECT count(*) FROM events WHERE refused = 0", events);
	if (r == 0)
		r = count_of(q, "SELECT count(*) FROM acks", acks);
	pthread_mutex_unlock(&q->mu);
	return r;
}
