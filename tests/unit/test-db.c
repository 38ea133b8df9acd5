/*
 * test-db.c: the storage interface on its SQLite backend, in a temporary directory:
 * $N parameters bound by number whatever their order in the SQL, every column type,
 * constraint and busy errors mapped, commits that survive a reopen, rollbacks that
 * leave nothing, db_exec(), statements kept prepared for reuse, and migrations that are
 * versioned and run once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../../server/db.h"
#include "../../server/migrate.h"

static char dir[64], url[160], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-db.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/t.db", dir);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct db *open_db(void)
{
	const char *err = NULL;
	struct db *db = db_open(url, &err);

	if (db == NULL)
		fail_msg("db_open: %s", err);
	return db;
}

static struct db *open_table(void)
{
	struct db *db = open_db();

	assert_int_equal(db_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, "
				 "name TEXT UNIQUE, n BIGINT, b BLOB)", NULL), 0);
	return db;
}

/* The single integer a query returns. */
static int64_t query_int(struct db *db, const char *sql)
{
	struct db_stmt *st = db_prepare(db, sql);
	int64_t v;

	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	v = db_col_int(st, 0);
	db_finalize(st);
	return v;
}

static void test_open_errors(void **state)
{
	const char *err = NULL;

	(void)state;
	assert_null(db_open("mysql://x", &err));
	assert_non_null(err);
	err = NULL;
	assert_null(db_open("sqlite:/nonexistent-dir/x/y.db", &err));
	assert_non_null(err);
}

static void test_pragmas(void **state)
{
	struct db *db = open_db();
	struct db_stmt *st;

	(void)state;
	st = db_prepare(db, "PRAGMA journal_mode");
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	assert_string_equal(db_col_text(st, 0), "wal");
	db_finalize(st);
	assert_int_equal(query_int(db, "PRAGMA synchronous"), 2); /* FULL */
	assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(query_int(db, "PRAGMA busy_timeout"), 5000);
	/* No memory statistics (a process-wide mutex on every allocation): none counted. */
	assert_int_equal(sqlite3_memory_used(), 0);
	db_close(db);
}

static void test_params_any_order(void **state)
{
	struct db *db = open_table();
	struct db_stmt *st;
	size_t len;
	const void *p;

	(void)state;
	/* $3 first in the text: SQLite alone would number it 1. */
	st = db_prepare(db, "INSERT INTO t (n, name, b) VALUES ($3, $1, $2)");
	assert_non_null(st);
	assert_int_equal(db_bind_text(st, 1, "one"), 0);
	assert_int_equal(db_bind_blob(st, 2, "\x01\x02\x00\x03", 4), 0);
	assert_int_equal(db_bind_int(st, 3, -5000000000LL), 0);
	assert_int_equal(db_step(st), DB_DONE);
	db_finalize(st);
	assert_int_equal(db_changes(db), 1);

	/* One parameter used twice. */
	st = db_prepare(db, "SELECT name, b, n, $1 + $1 FROM t WHERE n = $2");
	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 2, -5000000000LL), 0);
	assert_int_equal(db_bind_int(st, 1, 21), 0);
	assert_int_equal(db_step(st), DB_ROW);
	assert_string_equal(db_col_text(st, 0), "one");
	p = db_col_blob(st, 1, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "\x01\x02\x00\x03", 4);
	assert_int_equal(db_col_int(st, 2), -5000000000LL);
	assert_int_equal(db_col_int(st, 3), 42);
	assert_int_equal(db_step(st), DB_DONE);
	db_finalize(st);

	/* ?N parameters number themselves. */
	st = db_prepare(db, "SELECT ?2 - ?1");
	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 2, 10), 0);
	assert_int_equal(db_bind_int(st, 1, 3), 0);
	assert_int_equal(db_step(st), DB_ROW);
	assert_int_equal(db_col_int(st, 0), 7);
	db_finalize(st);

	/* A parameter the statement does not have is an error, not a silent no-op. */
	st = db_prepare(db, "SELECT $1");
	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 2, 1), -DB_E_IO);
	assert_non_null(strstr(db_errmsg(db), "$2"));
	db_finalize(st);
	assert_int_equal(db_exec(db, "DROP TABLE t", NULL), 0);
	db_close(db);
}

static void test_nulls_and_empty(void **state)
{
	struct db *db = open_table();
	struct db_stmt *st;
	size_t len = 99;

	(void)state;
	assert_int_equal(db_exec(db, "INSERT INTO t (name, b) VALUES ($1, $2)", "sb",
				 (const char *)NULL, "", (size_t)0), 0);
	st = db_prepare(db, "SELECT name, b, n FROM t");
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	assert_true(db_col_null(st, 0));
	assert_null(db_col_text(st, 0));
	assert_false(db_col_null(st, 1)); /* an empty blob is not NULL */
	(void)db_col_blob(st, 1, &len);
	assert_int_equal(len, 0);
	assert_true(db_col_null(st, 2));
	db_finalize(st);
	st = db_prepare(db, "UPDATE t SET n = $1");
	assert_non_null(st);
	assert_int_equal(db_bind_null(st, 1), 0);
	assert_int_equal(db_step(st), DB_DONE);
	db_finalize(st);
	assert_int_equal(db_exec(db, "DROP TABLE t", NULL), 0);
	db_close(db);
}

static void test_constraint(void **state)
{
	struct db *db = open_table();

	(void)state;
	assert_int_equal(db_exec(db, "INSERT INTO t (name) VALUES ($1)", "s", "dup"), 0);
	assert_int_equal(db_exec(db, "INSERT INTO t (name) VALUES ($1)", "s", "dup"),
			 -DB_E_CONSTRAINT);
	assert_int_equal(db_exec(db, "CREATE TABLE c (t_id BIGINT NOT NULL REFERENCES t (id))",
				 NULL), 0);
	assert_int_equal(db_exec(db, "INSERT INTO c (t_id) VALUES ($1)", "i", (int64_t)999),
			 -DB_E_CONSTRAINT);
	assert_int_equal(db_exec(db, "NOT SQL", NULL), -DB_E_IO);
	assert_null(db_prepare(db, "SELECT 1; SELECT 2"));
	assert_int_equal(db_exec(db, "DROP TABLE c", NULL), 0);
	assert_int_equal(db_exec(db, "DROP TABLE t", NULL), 0);
	db_close(db);
}

static void test_busy(void **state)
{
	struct db *a = open_table(), *b = open_db();
	struct db_stmt *st;

	(void)state;
	assert_int_equal(db_begin(a), 0);
	assert_int_equal(db_exec(a, "INSERT INTO t (name) VALUES ('a')", NULL), 0);
	/* b waits 5 s for a's write lock, then gives up with BUSY. */
	st = db_prepare(b, "PRAGMA busy_timeout = 100");
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	db_finalize(st);
	assert_int_equal(db_begin(b), -DB_E_BUSY);
	assert_int_equal(db_exec(b, "INSERT INTO t (name) VALUES ('b')", NULL), -DB_E_BUSY);
	/* A reader is not blocked by the writer (WAL) and does not see its change. */
	assert_int_equal(query_int(b, "SELECT COUNT(*) FROM t"), 0);
	assert_int_equal(db_commit(a), 0);
	assert_int_equal(query_int(b, "SELECT COUNT(*) FROM t"), 1);
	assert_int_equal(db_exec(a, "DROP TABLE t", NULL), 0);
	db_close(b);
	db_close(a);
}

static void test_commit_durable_rollback_gone(void **state)
{
	struct db *db = open_table();

	(void)state;
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_exec(db, "INSERT INTO t (name, n) VALUES ($1, $2)", "si", "kept",
				 (int64_t)7), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_exec(db, "INSERT INTO t (name, n) VALUES ($1, $2)", "si", "gone",
				 (int64_t)8), 0);
	assert_int_equal(db_exec(db, "UPDATE t SET n = 70 WHERE name = 'kept'", NULL), 0);
	db_rollback(db);
	db_rollback(db); /* harmless without a transaction */
	db_close(db);

	/* A new connection (as after a restart) sees the commit and nothing of the rollback. */
	db = open_db();
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM t"), 1);
	assert_int_equal(query_int(db, "SELECT n FROM t WHERE name = 'kept'"), 7);
	assert_int_equal(db_commit(db), -DB_E_IO); /* no transaction to commit */
	assert_int_equal(db_exec(db, "DROP TABLE t", NULL), 0);
	db_close(db);
}

/* Bytes of the SQLite write-ahead log beside the database. */
static long wal_size(void)
{
	char wal[sizeof(path) + 8];
	struct stat st;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	return stat(wal, &st) == 0 ? (long)st.st_size : 0;
}

/* Commits `n` transactions of one 4 KiB row each. */
static void write_pages(struct db *db, int n)
{
	static uint8_t blob[4096];
	int i;

	for (i = 0; i < n; i++) {
		assert_int_equal(db_begin(db), 0);
		assert_int_equal(db_exec(db, "INSERT INTO t (n, b) VALUES ($1, $2)", "ib",
					 (int64_t)i, (const void *)blob, sizeof(blob)), 0);
		assert_int_equal(db_commit(db), 0);
	}
}

/*
 * A connection that defers checkpoints never folds the log in at its commits (the log
 * grows well past SQLite's automatic 1,000 pages); a checkpoint from another connection then
 * lets the log start over, and every row is there from a fresh connection.
 */
static void test_checkpoint_off_the_commit_path(void **state)
{
	struct db *db = open_table(), *ckpt = open_db(), *fresh;
	long grown;

	(void)state;
	assert_int_equal(db_defer_checkpoints(db), 0);
	write_pages(db, 1200);
	grown = wal_size();
	assert_true(grown > 1500L * 4096);
	assert_int_equal(db_checkpoint(ckpt), 0);
	write_pages(db, 10); /* reuses the log from its start: it does not grow */
	assert_int_equal(wal_size(), grown);
	fresh = open_db();
	assert_int_equal(query_int(fresh, "SELECT COUNT(*) FROM t"), 1210);
	db_close(fresh);
	assert_int_equal(db_exec(db, "DROP TABLE t", NULL), 0);
	db_close(ckpt);
	db_close(db);
}

/* Descriptors of this process open on the write-ahead log. */
static int wal_fds(void)
{
	char wal[sizeof(path) + 8], link[300], target[sizeof(wal) + 16];
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	ssize_t n;
	int count = 0;

	assert_non_null(d);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	while ((e = readdir(d)) != NULL) {
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			count += strcmp(target, wal) == 0;
		}
	}
	closedir(d);
	return count;
}

#define SYNC_COMMITS_MAX 200000 /* the syncer thread must have run by then */

struct syncer {
	pthread_t thread;
	struct db *db;
	atomic_int stop;
	atomic_int syncs;
	int failed;
};

static void *syncer_main(void *arg)
{
	struct syncer *s = arg;

	while (!atomic_load(&s->stop)) {
		if (db_sync(s->db) != 0)
			s->failed++;
		s->syncs++;
	}
	return NULL;
}

/*
 * Lazy commits: that connection alone stops syncing at commit (NORMAL), db_sync() syncs
 * the WAL through a descriptor of its own, from another thread while the connection
 * commits, and what was committed is there from a fresh connection.
 */
static void test_lazy_commits_and_sync(void **state)
{
	struct db *db = open_table(), *other = open_db(), *fresh;
	struct syncer s = { .stop = 0 };
	int i;

	(void)state;
	assert_int_equal(db_sync(db), 0); /* not lazy: nothing to do */
	assert_int_equal(wal_fds(), 2);   /* SQLite's own, one per connection */
	assert_int_equal(db_lazy_commits(db), 0);
	assert_int_equal(query_int(db, "PRAGMA synchronous"), 1);    /* NORMAL */
	assert_int_equal(query_int(other, "PRAGMA synchronous"), 2); /* FULL, as before */
	s.db = db;
	assert_int_equal(pthread_create(&s.thread, NULL, syncer_main, &s), 0);
	/* 200 commits at least, and on until the syncer has synced a few times meanwhile. */
	for (i = 0; i < 200 || (atomic_load(&s.syncs) < 3 && i < SYNC_COMMITS_MAX); i++) {
		assert_int_equal(db_begin(db), 0);
		assert_int_equal(db_exec(db, "INSERT INTO t (n) VALUES ($1)", "i",
					 (int64_t)i), 0);
		assert_int_equal(db_commit(db), 0);
	}
	atomic_store(&s.stop, 1);
	pthread_join(s.thread, NULL);
	assert_true(atomic_load(&s.syncs) >= 3);
	assert_int_equal(s.failed, 0);
	assert_int_equal(db_sync(db), 0);
	assert_int_equal(wal_fds(), 3); /* and db_sync()'s */
	fresh = open_db();
	assert_int_equal(query_int(fresh, "SELECT COUNT(*) FROM t"), i);
	db_close(fresh);
	assert_int_equal(db_exec(db, "DROP TABLE t", NULL), 0);
	db_close(other);
	db_close(db);
	assert_int_equal(wal_fds(), 0);
}

/*
 * A finalized statement is kept prepared for the next db_prepare() of the same SQL: it
 * comes back without its old bindings, from its first row, on a fresh snapshot; two of
 * the same SQL can be open at once; and beyond the cache's size all still work.
 */
static void test_statements_reused(void **state)
{
	struct db *db = open_table(), *other = open_db();
	struct db_stmt *st, *st2;
	char sql[64];
	int i;

	(void)state;
	assert_int_equal(db_exec(db, "INSERT INTO t (id, n) VALUES (1, 10), (2, 20)", NULL), 0);
	st = db_prepare(db, "SELECT n FROM t WHERE id >= $1 ORDER BY id");
	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, 1), 0);
	assert_int_equal(db_step(st), DB_ROW);
	assert_int_equal(db_col_int(st, 0), 10);
	db_finalize(st); /* in the middle of its rows */

	/* Another connection's commit is seen: the statement's snapshot ended with it. */
	assert_int_equal(db_exec(other, "UPDATE t SET n = 11 WHERE id = 1", NULL), 0);
	st = db_prepare(db, "SELECT n FROM t WHERE id >= $1 ORDER BY id");
	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, 1), 0);
	assert_int_equal(db_step(st), DB_ROW);
	assert_int_equal(db_col_int(st, 0), 11);
	/* The same SQL again while the first is open: a statement of its own. */
	st2 = db_prepare(db, "SELECT n FROM t WHERE id >= $1 ORDER BY id");
	assert_non_null(st2);
	assert_int_equal(db_bind_int(st2, 1, 2), 0);
	assert_int_equal(db_step(st2), DB_ROW);
	assert_int_equal(db_col_int(st2, 0), 20);
	assert_int_equal(db_step(st), DB_ROW);
	assert_int_equal(db_col_int(st, 0), 20);
	assert_int_equal(db_step(st), DB_DONE);
	assert_int_equal(db_step(st2), DB_DONE);
	db_finalize(st2);
	db_finalize(st);

	/* The old binding is gone: an unbound parameter is NULL. */
	st = db_prepare(db, "SELECT $1 IS NULL");
	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, 5), 0);
	assert_int_equal(db_step(st), DB_ROW);
	assert_int_equal(db_col_int(st, 0), 0);
	db_finalize(st);
	assert_int_equal(query_int(db, "SELECT $1 IS NULL"), 1);

	/* More distinct statements than are kept: each still prepares and runs. */
	for (i = 0; i < 100; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d + n FROM t WHERE id = 2", i % 50);
		assert_int_equal(query_int(db, sql), 20 + i % 50);
	}
	/* A failed prepare is not kept, and does not hide the good one. */
	assert_null(db_prepare(db, "SELECT nothing FROM nowhere"));
	assert_int_equal(query_int(db, "SELECT n FROM t WHERE id = 2"), 20);
	db_close(other);
	assert_int_equal(db_exec(db, "DROP TABLE t", NULL), 0);
	db_close(db);
}

static void test_migrations(void **state)
{
	struct db *db = open_db();
	size_t i;

	(void)state;
	assert_true(db_migrations_count >= 1);
	assert_int_equal(db_migrations[0].version, 1);
	assert_string_equal(db_migrations[0].name, "accounts");
	for (i = 1; i < db_migrations_count; i++)
		assert_true(db_migrations[i].version > db_migrations[i - 1].version);

	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM schema_version"),
			 (int64_t)db_migrations_count);
	assert_int_equal(query_int(db, "SELECT MAX(version) FROM schema_version"),
			 db_migrations[db_migrations_count - 1].version);
	/* The tables of 001 are there. */
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM users"), 0);
	assert_int_equal(db_exec(db, "INSERT INTO users (phone, password_hash, created_at) "
				 "VALUES ('+10000000000', 'x', 1)", NULL), 0);
	db_close(db);

	/* Again, from a new connection: nothing is applied twice, nothing is lost. */
	db = open_db();
	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM schema_version"),
			 (int64_t)db_migrations_count);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM users"), 1);

	/* A database from a newer parkd is refused, untouched. */
	assert_int_equal(db_exec(db, "INSERT INTO schema_version (version, name, applied_at) "
				 "VALUES (999, 'future', 1)", NULL), 0);
	assert_int_equal(db_migrate(db), -DB_E_IO);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM users"), 1);
	db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_pragmas),
		cmocka_unit_test(test_params_any_order),
		cmocka_unit_test(test_nulls_and_empty),
		cmocka_unit_test(test_constraint),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_commit_durable_rollback_gone),
		cmocka_unit_test(test_checkpoint_off_the_commit_path),
		cmocka_unit_test(test_lazy_commits_and_sync),
		cmocka_unit_test(test_statements_reused),
		cmocka_unit_test(test_migrations),
	};

	return cmocka_run_group_tests_name("db", tests, setup, teardown);
}
