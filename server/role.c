/*
 * role.c: site roles; see role.h.
 */
#include "role.h"

#include <stdbool.h>
#include <string.h>

static int64_t one_int(struct db *db, const char *sql, const char *text, int64_t a, int64_t b,
		       int *found)
{
	struct db_stmt *st = db_prepare(db, sql);
	int64_t v = 0;
	int r;

	*found = -1;
	if (st == NULL)
		return 0;
	if (text != NULL)
		db_bind_text(st, 1, text);
	else
		db_bind_int(st, 1, a);
	if (b != 0)
		db_bind_int(st, 2, b);
	r = db_step(st);
	if (r == DB_ROW)
		v = db_col_int(st, 0);
	*found = r == DB_ROW ? 1 : r == DB_DONE ? 0 : -1;
	db_finalize(st);
	return v;
}

/* The row of `role` for user at site, if any (*found 1, 0, or -1 on error). */
static int64_t existing(struct db *db, int64_t user, int64_t site_id, const char *role,
			int *found)
{
	struct db_stmt *st = db_prepare(db, "SELECT id FROM roles WHERE user_id = $1 AND "
					    "site_id = $2 AND role = $3");
	int64_t id = 0;
	int r;

	*found = -1;
	if (st == NULL)
		return 0;
	db_bind_int(st, 1, user);
	db_bind_int(st, 2, site_id);
	db_bind_text(st, 3, role);
	r = db_step(st);
	if (r == DB_ROW)
		id = db_col_int(st, 0);
	*found = r == DB_ROW ? 1 : r == DB_DONE ? 0 : -1;
	db_finalize(st);
	return id;
}

static bool site_role(const char *role)
{
	return role != NULL && (strcmp(role, "attendant") == 0 || strcmp(role, "admin") == 0);
}

int role_grant(struct db *db, const char *phone, const char *role, int64_t site_id,
	       int64_t *id)
{
	int64_t user;
	int found;

	if (!site_role(role))
		return -ROLE_E_INVALID;
	one_int(db, "SELECT id FROM sites WHERE id = $1", NULL, site_id, 0, &found);
	if (found <= 0)
		return found < 0 ? -ROLE_E_INTERNAL : -ROLE_E_NOSITE;
	user = one_int(db, "SELECT id FROM users WHERE phone = $1", phone, 0, 0, &found);
	if (found <= 0)
		return found < 0 ? -ROLE_E_INTERNAL : -ROLE_E_NOUSER;
	*id = existing(db, user, site_id, role, &found);
	if (found != 0)
		return found < 0 ? -ROLE_E_INTERNAL : 0;
	if (db_exec(db, "INSERT INTO roles (user_id, role, site_id) VALUES ($1, $2, $3)", "isi",
		    user, role, site_id) != 0)
		return -ROLE_E_INTERNAL;
	*id = existing(db, user, site_id, role, &found);
	return found > 0 ? 0 : -ROLE_E_INTERNAL;
}

int role_revoke(struct db *db, int64_t site_id, int64_t id)
{
	if (db_exec(db, "DELETE FROM roles WHERE id = $1 AND site_id = $2 AND role IN "
		    "('attendant', 'admin')", "ii", id, site_id) != 0)
		return -ROLE_E_INTERNAL;
	return db_changes(db) == 1 ? 0 : -ROLE_E_NOTFOUND;
}

json_object *role_list(struct db *db, int64_t site_id)
{
	struct db_stmt *st = db_prepare(db, "SELECT r.id, r.user_id, u.phone, r.role FROM roles r "
					    "JOIN users u ON u.id = r.user_id WHERE r.site_id = $1 "
					    "AND r.role IN ('attendant', 'admin') ORDER BY r.id");
	json_object *list;
	int r;

	if (st == NULL)
		return NULL;
	list = json_object_new_array();
	db_bind_int(st, 1, site_id);
	while ((r = db_step(st)) == DB_ROW) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_int64(db_col_int(st, 0)));
		json_object_object_add(o, "user_id", json_object_new_int64(db_col_int(st, 1)));
		json_object_object_add(o, "phone", json_object_new_string(db_col_text(st, 2)));
		json_object_object_add(o, "role", json_object_new_string(db_col_text(st, 3)));
		json_object_array_add(list, o);
	}
	db_finalize(st);
	if (r != DB_DONE) {
		json_object_put(list);
		return NULL;
	}
	return list;
}

int role_is_site_admin(struct db *db, int64_t user_id, int64_t site_id)
{
	int found;

	one_int(db, "SELECT id FROM roles WHERE user_id = $1 AND site_id = $2 AND role = 'admin'",
		NULL, user_id, site_id, &found);
	return found > 0;
}
