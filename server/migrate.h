/*
 * migrate.h: the schema migrations compiled into parkd. scripts/embed-sql.sh turns
 * server/schema/NNN-name.sql into build/gen/schema.c, which defines the table below in
 * version order; db_migrate() (db.c) applies the ones a database has not had yet.
 * Nothing here runs SQL.
 */
#ifndef PARK_MIGRATE_H
#define PARK_MIGRATE_H

#include <stddef.h>

struct db_migration {
	int version;      /* NNN of the file name: 1, 2, ...; strictly increasing in the table */
	const char *name; /* the rest of the file name, without ".sql": "accounts" */
	const char *sql;  /* the whole file: one or more statements separated by ';' */
};

/* Every migration, in increasing version order (build/gen/schema.c). */
extern const struct db_migration db_migrations[];
extern const size_t db_migrations_count;

#endif
