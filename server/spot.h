/*
 * spot.h: spots on the key server: what a driver may see of one (place, policy, default
 * key limits, live state), the owner's settings, who holds keys and shares on it (the
 * shares worded by share.h), and the way to it: the routes from the nearest entrance to
 * the spot and from the spot to the nearest exit over the site's lane graph (claim 10),
 * as node lists, points and sentences. No HTTP here.
 */
#ifndef PARK_SPOT_H
#define PARK_SPOT_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "db.h"

#define SPOT_NAME_MAX 64
#define SPOT_TEXT_MAX 32

enum spot_err {
	SPOT_E_NOTFOUND = 1,
	SPOT_E_INVALID = 2, /* a setting out of range */
	SPOT_E_NOROUTE = 3, /* the site's lanes do not reach the spot from an entrance or to an exit */
	SPOT_E_INTERNAL = 4,
	SPOT_E_NOUSER = 5,  /* no account with this phone number */
};

struct spot {
	int64_t id;
	int64_t site_id;
	char name[SPOT_NAME_MAX];
	char level[SPOT_TEXT_MAX];
	double x_m;
	double y_m;
	char node[SPOT_TEXT_MAX];
	int64_t owner_id; /* 0 when none */
	char policy[16];  /* "anyone", "region", "authorised" */
	char region[SPOT_NAME_MAX];
	int64_t key_valid_s;
	int64_t key_max_unlocks;
	bool renters_may_share;      /* renters' new keys carry the may-share flag */
	bool require_share_approval; /* shares by others than the owner wait for the owner */
};

/* Loads spot `id`. 0, -SPOT_E_NOTFOUND or -SPOT_E_INTERNAL. */
int spot_get(struct db *db, int64_t id, struct spot *out);

/*
 * The spot as clients see it: place, policy, limits, live state (locked, occupied,
 * battery, online, last_event_at), whether a driver holds a live key, and the owner's
 * sharing settings (renters_may_share, require_share_approval). The owner's ID only when
 * `with_owner`. Returns a new object, or NULL on a storage error.
 */
json_object *spot_json(struct db *db, const struct spot *s, bool with_owner, int64_t now);

/*
 * Spots, filtered by site (0 = any), level (NULL = any) and, when `free_only`, those no
 * driver holds a live key for. Returns a new array, or NULL on a storage error.
 */
json_object *spot_list(struct db *db, int64_t site_id, const char *level, bool free_only,
		       int64_t now);

/*
 * The owner's settings. `policy` NULL keeps the current one; region may be NULL;
 * key_valid_s / key_max_unlocks < 0 keep the current value. 0, -SPOT_E_INVALID,
 * -SPOT_E_NOTFOUND or -SPOT_E_INTERNAL.
 */
int spot_set_policy(struct db *db, int64_t id, const char *policy, const char *region,
		    int64_t key_valid_s, int64_t key_max_unlocks);

/*
 * The owner's sharing settings: `renters_may_share` and `require_share_approval` are 1
 * or 0, or < 0 to keep the current value. 0, -SPOT_E_NOTFOUND or -SPOT_E_INTERNAL.
 */
int spot_set_sharing(struct db *db, int64_t id, int renters_may_share,
		     int require_share_approval);

/*
 * The users the owner authorised for spot `id` (policy 'authorised', [0034]), as
 * [{"user_id","phone"}] by user ID. Returns a new array, or NULL on a
 * storage error.
 */
json_object *spot_authorised_list(struct db *db, int64_t id);

/*
 * Authorises the account of `phone` for spot `id`. Returns 0 with *user_id and *added
 * (false when it was on the list already, and nothing changed), or -SPOT_E_NOUSER /
 * -SPOT_E_NOTFOUND (no such spot) / -SPOT_E_INTERNAL.
 */
int spot_authorised_add(struct db *db, int64_t id, const char *phone, int64_t *user_id,
			bool *added);

/* Takes `user_id` off spot `id`'s list. 0, -SPOT_E_NOTFOUND (not on it), -SPOT_E_INTERNAL. */
int spot_authorised_remove(struct db *db, int64_t id, int64_t user_id);

/*
 * Every e-key of spot `id`, oldest first, for its owner and the site's staff (GET
 * /v1/spots/{id}/keys): [{"key_id", "user_id", "phone", "not_before", "not_after",
 * "max_unlocks" (0: unlimited), "owner" (the owner's own key), "live" (as key_list()
 * decides it: not revoked, not handed on, not expired at `now`), "revoked",
 * "transferred", "issued_at", "delivery": {"state" ("none", "pending", "acked",
 * "failed"), "result", "acked_at"}}]. Returns a new array, or NULL on a storage error.
 */
json_object *spot_keys(struct db *db, int64_t id, int64_t now);

/*
 * Every share on spot `id` that is not removed, oldest first, each as share_json()
 * shows it (to its sharer: never the recipient's "skey"). Returns a new array, or NULL
 * on a storage error.
 */
json_object *spot_shares(struct db *db, int64_t id, int64_t now);

/*
 * The two routes of claim 10 (the directions to and from the spot) as {"in": route, "out": route}, each route
 * {"nodes":[ids], "points":[{"level","x","y"}], "length_m", "sentences":[..]}: from the
 * nearest entrance to the spot's node and on to the spot, and from the spot to the
 * nearest exit. 0 with *out set, -SPOT_E_NOROUTE or -SPOT_E_INTERNAL.
 */
int spot_directions(struct db *db, const struct spot *s, json_object **out);

#endif
