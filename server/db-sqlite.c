/*
 * db-sqlite.c: the SQLite backend of db.h, one file in the data directory: WAL journal,
 * synchronous=FULL (a commit is on disk when it returns; a group-commit writer syncs
 * the WAL itself, see db_lazy_commits()), foreign keys on, a 5 s busy
 * wait. It maps the $N parameters of the shared SQL to SQLite's own numbering and
 * SQLite's result codes to DB_E_*, and keeps each connection's recently finalized
 * statements prepared for the next db_prepare() of the same SQL (parsing and planning
 * cost more than running most of our statements). It knows no table.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../lib/log.h"
#include "db-backend.h"

#define SQLITE_BUSY_MS 5000
#define SQLITE_STMT_CACHE 32 /* idle prepared statements kept per connection */

struct sqlite_stmt {
	struct db_stmt base; /* first */
	sqlite3_stmt *h;
	char *sql;           /* the caller's text, which finds it in the cache */
};

struct sqlite_db {
	struct db base; /* first: db.c sees only this */
	sqlite3 *h;
	char err[256]; /* the last failure, for db_errmsg() */
	/* Finalized by the caller, reset and unbound here; [0] is the least recently used. */
	struct sqlite_stmt *idle[SQLITE_STMT_CACHE];
	size_t nidle;
	/* After db_lazy_commits(): the WAL, opened by db_sync() for fdatasync, or -1. */
	int wal_fd;
	char wal_path[PATH_MAX];
};

/* SQLite's primary result codes that callers handle; everything else is -DB_E_IO. */
static const struct {
	int rc;
	int err;
} sqlite_errs[] = {
	{ SQLITE_CONSTRAINT, -DB_E_CONSTRAINT },
	{ SQLITE_BUSY, -DB_E_BUSY },
	{ SQLITE_LOCKED, -DB_E_BUSY },
};

static struct sqlite_db *sqlite_of(struct db *db)
{
	return (struct sqlite_db *)db;
}

static struct sqlite_stmt *sqlite_stmt_of(struct db_stmt *st)
{
	return (struct sqlite_stmt *)st;
}

/* Records SQLite's message for `rc` and returns the matching -DB_E_*. */
static int sqlite_fail(struct sqlite_db *d, int rc)
{
	size_t i;

	snprintf(d->err, sizeof(d->err), "%s (%d)", sqlite3_errmsg(d->h), rc);
	for (i = 0; i < sizeof(sqlite_errs) / sizeof(sqlite_errs[0]); i++)
		if ((rc & 0xff) == sqlite_errs[i].rc)
			return sqlite_errs[i].err;
	return -DB_E_IO;
}

/* Runs SQL without parameters or rows wanted. 0 or -DB_E_*. */
static int sqlite_run(struct sqlite_db *d, const char *sql)
{
	char *msg = NULL;
	int rc;

	rc = sqlite3_exec(d->h, sql, NULL, NULL, &msg);
	sqlite3_free(msg);
	return rc == SQLITE_OK ? 0 : sqlite_fail(d, rc);
}

/* The journal mode must really be WAL: SQLite answers the pragma with the mode it kept. */
static int sqlite_set_wal(struct sqlite_db *d)
{
	sqlite3_stmt *st = NULL;
	int r = -DB_E_IO;

	if (sqlite3_prepare_v2(d->h, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto out;
	if (sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0)
		r = 0;
	else
		snprintf(d->err, sizeof(d->err), "journal mode is %s, not wal",
			 (const char *)sqlite3_column_text(st, 0));
out:
	if (r != 0 && d->err[0] == '\0')
		snprintf(d->err, sizeof(d->err), "%s", sqlite3_errmsg(d->h));
	sqlite3_finalize(st);
	return r;
}

/*
 * Before SQLite's first use in the process: no memory statistics. Kept, they take one
 * mutex around every allocation of every connection, a lock that the request threads
 * and the writer queued for (about a futex call per e-key issuance in bench-issue).
 * Nothing here reads them. Fails harmlessly when SQLite was set up already.
 */
static void sqlite_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	(void)sqlite3_initialize();
}

static struct db *sqlite_open(const char *path, const char **err)
{
	static pthread_once_t configured = PTHREAD_ONCE_INIT;
	struct sqlite_db *d;
	int rc;

	(void)pthread_once(&configured, sqlite_configure);
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		*err = "out of memory";
		return NULL;
	}
	d->base.be = &db_sqlite_backend;
	d->wal_fd = -1;
	rc = sqlite3_open_v2(path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("sqlite: cannot open %s: %s", path,
			  d->h != NULL ? sqlite3_errmsg(d->h) : sqlite3_errstr(rc));
		*err = "cannot open the SQLite database (check the path and its permissions)";
		goto fail;
	}
	sqlite3_extended_result_codes(d->h, 1);
	sqlite3_busy_timeout(d->h, SQLITE_BUSY_MS);
	if (sqlite_set_wal(d) != 0 ||
	    /*
	     * temp_store=MEMORY keeps the statement journals of savepoints (one per call
	     * of a group commit) in memory: on files, each spilled to a temporary file
	     * that was written and closed again within the transaction.
	     */
	    sqlite_run(d, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
		       "PRAGMA temp_store=MEMORY") != 0) {
		log_error("sqlite: cannot set up %s: %s", path, d->err);
		*err = "cannot set up the SQLite database (WAL journal, synchronous, foreign keys)";
		goto fail;
	}
	return &d->base;
fail:
	sqlite3_close_v2(d->h);
	free(d);
	return NULL;
}

static void sqlite_stmt_free(struct sqlite_stmt *s)
{
	sqlite3_finalize(s->h);
	free(s->sql);
	free(s);
}

static void sqlite_close(struct db *db)
{
	struct sqlite_db *d = sqlite_of(db);

	while (d->nidle > 0)
		sqlite_stmt_free(d->idle[--d->nidle]);
	if (d->wal_fd >= 0)
		close(d->wal_fd);
	if (sqlite3_close_v2(d->h) != SQLITE_OK)
		log_warn("sqlite: close: %s", sqlite3_errmsg(d->h));
	free(d);
}

static const char *sqlite_errmsg(struct db *db)
{
	return sqlite_of(db)->err;
}

static int sqlite_exec_script(struct db *db, const char *sql)
{
	return sqlite_run(sqlite_of(db), sql);
}

/* IMMEDIATE: a deferred transaction that reads, then writes, can fail with BUSY at once. */
static int sqlite_begin(struct db *db)
{
	return sqlite_run(sqlite_of(db), "BEGIN IMMEDIATE");
}

static int sqlite_commit(struct db *db)
{
	return sqlite_run(sqlite_of(db), "COMMIT");
}

static void sqlite_rollback(struct db *db)
{
	struct sqlite_db *d = sqlite_of(db);

	if (!sqlite3_get_autocommit(d->h))
		(void)sqlite_run(d, "ROLLBACK");
}

/* The idle statement of exactly `sql`, taken out of the cache, or NULL. */
static struct sqlite_stmt *sqlite_stmt_cached(struct sqlite_db *d, const char *sql)
{
	struct sqlite_stmt *s;
	size_t i;

	for (i = d->nidle; i-- > 0;) {
		if (strcmp(d->idle[i]->sql, sql) != 0)
			continue;
		s = d->idle[i];
		memmove(&d->idle[i], &d->idle[i + 1], (d->nidle - i - 1) * sizeof(d->idle[0]));
		d->nidle--;
		return s;
	}
	return NULL;
}

static struct db_stmt *sqlite_prepare(struct db *db, const char *sql)
{
	struct sqlite_db *d = sqlite_of(db);
	struct sqlite_stmt *s;
	const char *tail = NULL;
	int rc;

	s = sqlite_stmt_cached(d, sql);
	if (s != NULL)
		return &s->base;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(d->err, sizeof(d->err), "out of memory");
		return NULL;
	}
	s->base.be = &db_sqlite_backend;
	s->base.db = db;
	rc = sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->h, &tail);
	if (rc != SQLITE_OK || s->h == NULL) {
		if (rc == SQLITE_OK)
			snprintf(d->err, sizeof(d->err), "empty statement");
		else
			sqlite_fail(d, rc);
		goto fail;
	}
	/* One statement per prepare, as the PostgreSQL backend will require too. */
	tail += strspn(tail, " \t\r\n;");
	if (*tail != '\0') {
		snprintf(d->err, sizeof(d->err), "more than one statement: '%.40s'", tail);
		goto fail;
	}
	s->sql = strdup(sql);
	if (s->sql == NULL) {
		snprintf(d->err, sizeof(d->err), "out of memory");
		goto fail;
	}
	return &s->base;
fail:
	sqlite_stmt_free(s);
	return NULL;
}

/*
 * Keeps the statement for the next prepare of its SQL. Reset, it holds no lock and no
 * snapshot; unbound, it keeps no caller's data. The least recently used one goes when
 * the cache is full.
 */
static void sqlite_finalize(struct db_stmt *st)
{
	struct sqlite_stmt *s = sqlite_stmt_of(st);
	struct sqlite_db *d = sqlite_of(s->base.db);

	(void)sqlite3_reset(s->h); /* its result is the last step's, already reported */
	if (sqlite3_clear_bindings(s->h) != SQLITE_OK) {
		sqlite_stmt_free(s);
		return;
	}
	if (d->nidle == SQLITE_STMT_CACHE) {
		sqlite_stmt_free(d->idle[0]);
		memmove(&d->idle[0], &d->idle[1], (SQLITE_STMT_CACHE - 1) * sizeof(d->idle[0]));
		d->nidle--;
	}
	d->idle[d->nidle++] = s;
}

/*
 * SQLite's index of parameter $i. SQLite numbers "$1" style parameters by their first
 * appearance, not by their digits, so "... $2 ... $1" would swap them: look the name
 * up. "?N" parameters are numbered by their digits already. 0 when there is none.
 */
static int sqlite_param(struct sqlite_stmt *s, int i)
{
	struct sqlite_db *d = sqlite_of(s->base.db);
	char name[16];
	int idx;

	snprintf(name, sizeof(name), "$%d", i);
	idx = sqlite3_bind_parameter_index(s->h, name);
	if (idx == 0) {
		snprintf(name, sizeof(name), "?%d", i);
		idx = sqlite3_bind_parameter_index(s->h, name);
	}
	if (idx == 0)
		snprintf(d->err, sizeof(d->err), "the statement has no parameter $%d", i);
	return idx;
}

/* The result of a bind: 0, or -DB_E_IO with the message kept. */
static int sqlite_bound(struct sqlite_stmt *s, int rc)
{
	if (rc == SQLITE_OK)
		return 0;
	sqlite_fail(sqlite_of(s->base.db), rc);
	return -DB_E_IO;
}

static int sqlite_bind_int(struct db_stmt *st, int i, int64_t v)
{
	struct sqlite_stmt *s = sqlite_stmt_of(st);
	int idx = sqlite_param(s, i);

	if (idx == 0)
		return -DB_E_IO;
	return sqlite_bound(s, sqlite3_bind_int64(s->h, idx, v));
}

static int sqlite_bind_text(struct db_stmt *st, int i, const char *str)
{
	struct sqlite_stmt *s = sqlite_stmt_of(st);
	int idx = sqlite_param(s, i);

	if (idx == 0)
		return -DB_E_IO;
	if (str == NULL)
		return sqlite_bound(s, sqlite3_bind_null(s->h, idx));
	return sqlite_bound(s, sqlite3_bind_text(s->h, idx, str, -1, SQLITE_TRANSIENT));
}

static int sqlite_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	struct sqlite_stmt *s = sqlite_stmt_of(st);
	int idx = sqlite_param(s, i);

	if (idx == 0)
		return -DB_E_IO;
	if (len > INT_MAX)
		return sqlite_bound(s, SQLITE_TOOBIG);
	/* SQLite binds NULL for a NULL pointer; an empty blob is still a blob. */
	if (len == 0)
		return sqlite_bound(s, sqlite3_bind_zeroblob(s->h, idx, 0));
	return sqlite_bound(s, sqlite3_bind_blob(s->h, idx, p, (int)len, SQLITE_TRANSIENT));
}

static int sqlite_bind_null(struct db_stmt *st, int i)
{
	struct sqlite_stmt *s = sqlite_stmt_of(st);
	int idx = sqlite_param(s, i);

	if (idx == 0)
		return -DB_E_IO;
	return sqlite_bound(s, sqlite3_bind_null(s->h, idx));
}

static int sqlite_step(struct db_stmt *st)
{
	struct sqlite_stmt *s = sqlite_stmt_of(st);
	int rc = sqlite3_step(s->h);

	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	return sqlite_fail(sqlite_of(s->base.db), rc);
}

static int64_t sqlite_col_int(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(sqlite_stmt_of(st)->h, i);
}

static const char *sqlite_col_text(struct db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(sqlite_stmt_of(st)->h, i);
}

static const void *sqlite_col_blob(struct db_stmt *st, int i, size_t *len)
{
	sqlite3_stmt *h = sqlite_stmt_of(st)->h;
	const void *p = sqlite3_column_blob(h, i); /* before _bytes, as SQLite asks */

	*len = (size_t)sqlite3_column_bytes(h, i);
	return p;
}

static bool sqlite_col_null(struct db_stmt *st, int i)
{
	return sqlite3_column_type(sqlite_stmt_of(st)->h, i) == SQLITE_NULL;
}

static bool sqlite_in_transaction(struct db *db)
{
	return sqlite3_get_autocommit(sqlite_of(db)->h) == 0;
}

static int64_t sqlite_changes(struct db *db)
{
	return sqlite3_changes64(sqlite_of(db)->h);
}

static int sqlite_defer_checkpoints(struct db *db)
{
	return sqlite_run((struct sqlite_db *)db, "PRAGMA wal_autocheckpoint=0") == 0 ? 0 :
										-DB_E_IO;
}

/*
 * synchronous=NORMAL: in WAL mode a commit then writes its frames without syncing
 * them (SQLite still syncs at checkpoints and when the WAL starts over); sqlite_sync()
 * makes them durable. The WAL's name is SQLite's own, for the database it opened.
 */
static int sqlite_lazy_commits(struct db *db)
{
	struct sqlite_db *d = sqlite_of(db);
	sqlite3_filename name = sqlite3_db_filename(d->h, "main");
	const char *wal = name != NULL ? sqlite3_filename_wal(name) : NULL;

	if (wal == NULL || wal[0] == '\0' || strlen(wal) >= sizeof(d->wal_path)) {
		snprintf(d->err, sizeof(d->err), "the database has no write-ahead log file");
		return -DB_E_IO;
	}
	if (sqlite_run(d, "PRAGMA synchronous=NORMAL") != 0)
		return -DB_E_IO;
	snprintf(d->wal_path, sizeof(d->wal_path), "%s", wal);
	return 0;
}

/* True when wal_fd is still the file at wal_path (SQLite may have made it anew). */
static bool sqlite_wal_current(const struct sqlite_db *d)
{
	struct stat a, b;

	return fstat(d->wal_fd, &a) == 0 && stat(d->wal_path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * fdatasync of the WAL through a descriptor of its own: a sync is of the file, whoever
 * wrote it, and this never touches the connection, which its thread may be using.
 */
static int sqlite_sync(struct db *db)
{
	struct sqlite_db *d = sqlite_of(db);

	if (d->wal_path[0] == '\0')
		return 0; /* every commit synced itself */
	if (d->wal_fd >= 0 && !sqlite_wal_current(d)) {
		close(d->wal_fd);
		d->wal_fd = -1;
	}
	if (d->wal_fd < 0)
		d->wal_fd = open(d->wal_path, O_RDONLY | O_CLOEXEC);
	if (d->wal_fd < 0)
		return errno == ENOENT ? 0 : -DB_E_IO; /* no WAL: nothing was written */
	while (fdatasync(d->wal_fd) != 0)
		if (errno != EINTR)
			return -DB_E_IO;
	return 0;
}

/* PASSIVE: folds in what no reader still needs, and never waits for a writer. */
static int sqlite_checkpoint(struct db *db)
{
	struct sqlite_db *d = (struct sqlite_db *)db;
	int rc = sqlite3_wal_checkpoint_v2(d->h, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

	return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : -DB_E_IO;
}

const struct db_backend db_sqlite_backend = {
	.scheme = "sqlite:",
	.open = sqlite_open,
	.close = sqlite_close,
	.errmsg = sqlite_errmsg,
	.exec_script = sqlite_exec_script,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.prepare = sqlite_prepare,
	.finalize = sqlite_finalize,
	.bind_int = sqlite_bind_int,
	.bind_text = sqlite_bind_text,
	.bind_blob = sqlite_bind_blob,
	.bind_null = sqlite_bind_null,
	.step = sqlite_step,
	.col_int = sqlite_col_int,
	.col_text = sqlite_col_text,
	.col_blob = sqlite_col_blob,
	.col_null = sqlite_col_null,
	.changes = sqlite_changes,
	.in_transaction = sqlite_in_transaction,
	.defer_checkpoints = sqlite_defer_checkpoints,
	.checkpoint = sqlite_checkpoint,
	.lazy_commits = sqlite_lazy_commits,
	.sync = sqlite_sync,
};
