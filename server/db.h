/*
 * db.h: the key server's storage interface: connections, transactions and prepared
 * statements with positional parameters ($1, $2, ...), behind a table of backend
 * functions. SQLite (db-sqlite.c) is the embedded default; a PostgreSQL backend plugs
 * into the same table, so every query above this layer is written once, in the SQL
 * both accept. Rows are read column by column; nothing here knows the schema.
 */
#ifndef PARK_DB_H
#define PARK_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_err {
	DB_E_NOTFOUND = 1,   /* a query that must find a row found none */
	DB_E_CONSTRAINT = 2, /* unique or foreign-key violation: the caller's conflict */
	DB_E_BUSY = 3,       /* locked or serialization failure: retry the transaction */
	DB_E_IO = 4,         /* anything else: the backend's message is in db_errmsg() */
};

enum db_step {
	DB_ROW = 1,  /* a row is ready for db_col_*() */
	DB_DONE = 0, /* no more rows */
};

struct db;      /* a connection; opaque, one per thread */
struct db_stmt; /* a prepared statement of one connection */

/*
 * Opens `url`: "sqlite:/path/to/file.db" (created if missing; WAL, synchronous=FULL,
 * foreign keys on, so a committed transaction is on disk) or "postgresql://..." when
 * that backend is built in. Returns NULL with *err set to a sentence on failure
 * (*err is static; do not free).
 */
struct db *db_open(const char *url, const char **err);
void db_close(struct db *db);

/* The backend's last error message, for logs (never shown to API clients). */
const char *db_errmsg(struct db *db);

/*
 * Runs the schema migrations in server/schema/ that this database has not had yet, each
 * in its own transaction, recording the version. Returns 0 or -DB_E_IO.
 */
int db_migrate(struct db *db);

/* Transactions. db_commit() returns only when the change is durable. 0 or -DB_E_*. */
int db_begin(struct db *db);
int db_commit(struct db *db);
/*
 * Whether a transaction is still open. A database may end one by itself on some errors
 * (SQLite rolls back on a full disk, an I/O error or no memory); statements after that
 * would each commit on their own, so a caller that hides a failed statement checks this.
 */
bool db_in_transaction(struct db *db);
void db_rollback(struct db *db);

/* Prepares `sql` ($1.. parameters). NULL on error (see db_errmsg). */
struct db_stmt *db_prepare(struct db *db, const char *sql);
void db_finalize(struct db_stmt *st);

/* Binds parameter `i` (1-based). Text and blobs are copied. 0 or -DB_E_IO. */
int db_bind_int(struct db_stmt *st, int i, int64_t v);
int db_bind_text(struct db_stmt *st, int i, const char *s); /* NULL binds SQL NULL */
int db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len);
int db_bind_null(struct db_stmt *st, int i);

/* Steps: DB_ROW, DB_DONE, or -DB_E_*. */
int db_step(struct db_stmt *st);

/* Column `i` (0-based) of the current row. Pointers stay valid until the next step. */
int64_t db_col_int(struct db_stmt *st, int i);
const char *db_col_text(struct db_stmt *st, int i); /* NULL for SQL NULL */
const void *db_col_blob(struct db_stmt *st, int i, size_t *len);
bool db_col_null(struct db_stmt *st, int i);

/* Rows changed by the last statement that changed any. */
int64_t db_changes(struct db *db);

/*
 * Journal upkeep off the commit path: after db_defer_checkpoints(), this connection's
 * commits never stop to fold the write-ahead log into the database (SQLite's automatic
 * checkpoint, a multi-millisecond stall every thousand pages); db_checkpoint(), called
 * on a connection of its own, does it without blocking writers. Backends that need no
 * upkeep do nothing. Both return 0 or -DB_E_IO.
 */
int db_defer_checkpoints(struct db *db);
int db_checkpoint(struct db *db);

/*
 * Group commit's split commit, for a writer that must not wait for the disk: after
 * db_lazy_commits(), db_commit() on this connection returns once the change is written
 * (seen by other connections, not yet durable), and db_sync() returns once every commit
 * made on it before the call is durable. db_sync() may run on another thread while the
 * connection is in use. Backends whose commits are always durable do nothing in either.
 * Both return 0 or -DB_E_IO.
 */
int db_lazy_commits(struct db *db);
int db_sync(struct db *db);

/*
 * Convenience: prepare, bind the parameters described by `fmt` (one char each: 'i'
 * int64_t, 's' const char *, 'b' const void * then size_t), run to completion. Returns
 * 0 or -DB_E_*; a unique violation is -DB_E_CONSTRAINT.
 */
int db_exec(struct db *db, const char *sql, const char *fmt, ...);

#endif
