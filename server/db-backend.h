/*
 * db-backend.h: what a storage backend provides to db.c, as one table of functions per
 * backend (db-sqlite.c now, db-pg.c later). Callers above db.h never include this.
 * A backend's connection and statement structs start with `struct db` / `struct
 * db_stmt`, so db.c can dispatch on them without knowing the rest.
 */
#ifndef PARK_DB_BACKEND_H
#define PARK_DB_BACKEND_H

#include "db.h"

struct db_backend;

/* The first member of every backend's connection. */
struct db {
	const struct db_backend *be;
};

/* The first member of every backend's prepared statement. */
struct db_stmt {
	const struct db_backend *be;
	struct db *db;
};

struct db_backend {
	const char *scheme; /* the URL prefix it serves, with the colon: "sqlite:" */

	/* `rest` is the URL after the scheme. NULL with *err (static) on failure. */
	struct db *(*open)(const char *rest, const char **err);
	void (*close)(struct db *db);
	const char *(*errmsg)(struct db *db);

	/* Runs a script of several statements (a migration) in the current transaction. */
	int (*exec_script)(struct db *db, const char *sql);

	int (*begin)(struct db *db);  /* takes the write lock now, not at the first write */
	int (*commit)(struct db *db); /* durable on return */
	void (*rollback)(struct db *db);
	bool (*in_transaction)(struct db *db); /* false once the database ended it itself */

	struct db_stmt *(*prepare)(struct db *db, const char *sql);
	void (*finalize)(struct db_stmt *st);
	int (*bind_int)(struct db_stmt *st, int i, int64_t v);
	int (*bind_text)(struct db_stmt *st, int i, const char *s);
	int (*bind_blob)(struct db_stmt *st, int i, const void *p, size_t len);
	int (*bind_null)(struct db_stmt *st, int i);
	int (*step)(struct db_stmt *st);
	int64_t (*col_int)(struct db_stmt *st, int i);
	const char *(*col_text)(struct db_stmt *st, int i);
	const void *(*col_blob)(struct db_stmt *st, int i, size_t *len);
	bool (*col_null)(struct db_stmt *st, int i);
	int64_t (*changes)(struct db *db);

	/* Optional (NULL: nothing to do). The connection leaves journal upkeep to ... */
	int (*defer_checkpoints)(struct db *db);
	/* ... a call of this on another connection, which never blocks writers. */
	int (*checkpoint)(struct db *db);

	/* Optional (NULL: commits are always durable, and sync has nothing to do). */
	int (*lazy_commits)(struct db *db);
	int (*sync)(struct db *db); /* thread-safe against the connection's own use */
};

extern const struct db_backend db_sqlite_backend;

#endif
