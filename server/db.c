/*
 * db.c: the storage interface's front: picks the backend by the URL's scheme, forwards
 * every call through its function table, and implements what is the same for every
 * backend on top of it: db_exec() and the schema migrations. No SQL dialect lives here
 * beyond what both backends accept.
 */
#include "db.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "../lib/log.h"
#include "db-backend.h"
#include "migrate.h"

static const struct db_backend *const db_backends[] = {
	&db_sqlite_backend,
	/* &db_pg_backend, when db-pg.c is built in */
};
#define DB_BACKENDS (sizeof(db_backends) / sizeof(db_backends[0]))

struct db *db_open(const char *url, const char **err)
{
	size_t i, n;

	for (i = 0; i < DB_BACKENDS; i++) {
		n = strlen(db_backends[i]->scheme);
		if (strncmp(url, db_backends[i]->scheme, n) == 0)
			return db_backends[i]->open(url + n, err);
	}
	*err = "unknown database URL scheme (this parkd knows sqlite:PATH)";
	return NULL;
}

void db_close(struct db *db)
{
	if (db != NULL)
		db->be->close(db);
}

const char *db_errmsg(struct db *db)
{
	return db->be->errmsg(db);
}

int db_begin(struct db *db)
{
	return db->be->begin(db);
}

int db_commit(struct db *db)
{
	return db->be->commit(db);
}

void db_rollback(struct db *db)
{
	db->be->rollback(db);
}

bool db_in_transaction(struct db *db)
{
	return db->be->in_transaction(db);
}

struct db_stmt *db_prepare(struct db *db, const char *sql)
{
	return db->be->prepare(db, sql);
}

void db_finalize(struct db_stmt *st)
{
	if (st != NULL)
		st->be->finalize(st);
}

int db_bind_int(struct db_stmt *st, int i, int64_t v)
{
	return st->be->bind_int(st, i, v);
}

int db_bind_text(struct db_stmt *st, int i, const char *s)
{
	return st->be->bind_text(st, i, s);
}

int db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	return st->be->bind_blob(st, i, p, len);
}

int db_bind_null(struct db_stmt *st, int i)
{
	return st->be->bind_null(st, i);
}

int db_step(struct db_stmt *st)
{
	return st->be->step(st);
}

int64_t db_col_int(struct db_stmt *st, int i)
{
	return st->be->col_int(st, i);
}

const char *db_col_text(struct db_stmt *st, int i)
{
	return st->be->col_text(st, i);
}

const void *db_col_blob(struct db_stmt *st, int i, size_t *len)
{
	return st->be->col_blob(st, i, len);
}

bool db_col_null(struct db_stmt *st, int i)
{
	return st->be->col_null(st, i);
}

int db_defer_checkpoints(struct db *db)
{
	return db->be->defer_checkpoints != NULL ? db->be->defer_checkpoints(db) : 0;
}

int db_checkpoint(struct db *db)
{
	return db->be->checkpoint != NULL ? db->be->checkpoint(db) : 0;
}

int db_lazy_commits(struct db *db)
{
	return db->be->lazy_commits != NULL ? db->be->lazy_commits(db) : 0;
}

int db_sync(struct db *db)
{
	return db->be->sync != NULL ? db->be->sync(db) : 0;
}

int64_t db_changes(struct db *db)
{
	return db->be->changes(db);
}

/* Binds the arguments `fmt` describes (see db_exec) in order, from $1. */
static int db_bind_va(struct db_stmt *st, const char *fmt, va_list ap)
{
	const void *p;
	size_t len;
	int i, r = 0;

	for (i = 1; fmt != NULL && fmt[i - 1] != '\0' && r == 0; i++) {
		switch (fmt[i - 1]) {
		case 'i':
			r = db_bind_int(st, i, va_arg(ap, int64_t));
			break;
		case 's':
			r = db_bind_text(st, i, va_arg(ap, const char *));
			break;
		case 'b':
			p = va_arg(ap, const void *);
			len = va_arg(ap, size_t);
			r = db_bind_blob(st, i, p, len);
			break;
		default:
			log_error("db_exec: unknown format character '%c'", fmt[i - 1]);
			r = -DB_E_IO;
		}
	}
	return r;
}

int db_exec(struct db *db, const char *sql, const char *fmt, ...)
{
	struct db_stmt *st;
	va_list ap;
	int r = -DB_E_IO;

	st = db_prepare(db, sql);
	if (st == NULL)
		goto out;
	va_start(ap, fmt);
	r = db_bind_va(st, fmt, ap);
	va_end(ap);
	if (r != 0)
		goto out;
	while ((r = db_step(st)) == DB_ROW)
		;
out:
	db_finalize(st);
	return r;
}

/* ---- migrations ---- */

/* 1 when `version` is recorded, 0 when not, or -DB_E_*. */
static int db_migration_applied(struct db *db, int version)
{
	struct db_stmt *st;
	int r = -DB_E_IO;

	st = db_prepare(db, "SELECT 1 FROM schema_version WHERE version = $1");
	if (st == NULL || db_bind_int(st, 1, version) != 0)
		goto out;
	r = db_step(st);
	if (r >= 0)
		r = r == DB_ROW;
out:
	db_finalize(st);
	return r;
}

/* The newest version recorded, 0 for none, or -DB_E_*. */
static int64_t db_schema_newest(struct db *db)
{
	struct db_stmt *st;
	int64_t r = -DB_E_IO;

	st = db_prepare(db, "SELECT MAX(version) FROM schema_version");
	if (st == NULL || db_step(st) != DB_ROW)
		goto out;
	r = db_col_null(st, 0) ? 0 : db_col_int(st, 0);
out:
	db_finalize(st);
	return r;
}

/* Applies one migration unless it is there; the check and the change share a transaction. */
static int db_migrate_one(struct db *db, const struct db_migration *m)
{
	int r;

	r = db_begin(db);
	if (r != 0)
		return r;
	r = db_migration_applied(db, m->version);
	if (r != 0) /* applied (1) or an error */
		goto out;
	r = db->be->exec_script(db, m->sql);
	if (r != 0) {
		log_error("schema migration %03d-%s failed: %s", m->version, m->name,
			  db_errmsg(db));
		goto out;
	}
	r = db_exec(db, "INSERT INTO schema_version (version, name, applied_at) "
		    "VALUES ($1, $2, $3)", "isi", (int64_t)m->version, m->name,
		    (int64_t)time(NULL));
	if (r != 0)
		goto out;
	r = db_commit(db);
	if (r != 0)
		goto out;
	log_info("schema migration %03d-%s applied", m->version, m->name);
	return 0;
out:
	db_rollback(db);
	return r < 0 ? r : 0;
}

int db_migrate(struct db *db)
{
	int64_t newest;
	size_t i;
	int r;

	r = db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, "
		    "name TEXT NOT NULL, applied_at BIGINT NOT NULL)", NULL);
	if (r != 0)
		return -DB_E_IO;
	/* A database from a newer parkd has tables this one does not understand. */
	newest = db_schema_newest(db);
	if (newest < 0)
		return -DB_E_IO;
	if (db_migrations_count > 0 &&
	    newest > db_migrations[db_migrations_count - 1].version) {
		log_error("the database has schema version %lld, newer than this parkd knows "
			  "(%d): run the newer parkd", (long long)newest,
			  db_migrations[db_migrations_count - 1].version);
		return -DB_E_IO;
	}
	for (i = 0; i < db_migrations_count; i++) {
		r = db_migrate_one(db, &db_migrations[i]);
		if (r != 0)
			return -DB_E_IO;
	}
	return 0;
}
