/*
 * role.h: who works at a site: granting and withdrawing the scoped roles of the roles
 * table (an attendant or an administrator of one site) to users named by phone number.
 * Owners come with the site description (a spot's owner); drivers need no row. Who may
 * grant is the route's business; this module only checks and stores.
 */
#ifndef PARK_ROLE_H
#define PARK_ROLE_H

#include <stdint.h>

#include <json-c/json.h>

#include "db.h"

enum role_err {
	ROLE_E_INVALID = 1,  /* not a site role ("attendant" or "admin") */
	ROLE_E_NOUSER = 2,   /* no account with this phone number */
	ROLE_E_NOSITE = 3,   /* no such site */
	ROLE_E_NOTFOUND = 4, /* no such role row */
	ROLE_E_INTERNAL = 5,
};

/*
 * Grants `role` at `site_id` to the account of `phone`; granting a role the user has
 * already is not an error and stores nothing new. 0 with *id (the row), or -ROLE_E_*.
 */
int role_grant(struct db *db, const char *phone, const char *role, int64_t site_id,
	       int64_t *id);

/* Withdraws role row `id` of `site_id`. 0 or -ROLE_E_NOTFOUND / -ROLE_E_INTERNAL. */
int role_revoke(struct db *db, int64_t site_id, int64_t id);

/* The site's roles as [{"id","user_id","phone","role"}], or NULL on a storage error. */
json_object *role_list(struct db *db, int64_t site_id);

/* True when `user_id` administers `site_id` (a site 'admin' row). */
int role_is_site_admin(struct db *db, int64_t user_id, int64_t site_id);

#endif
