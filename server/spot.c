/*
 * spot.c: spots, their settings and the routes to them; see spot.h. Coordinates are
 * stored in centimetres (002-sites.sql) and given to clients in metres.
 */
#include "spot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lockfw/proto/proto.h"
#include "navigation.h"
#include "share.h"

static void copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

int spot_get(struct db *db, int64_t id, struct spot *out)
{
	struct db_stmt *st;
	int r;

	st = db_prepare(db, "SELECT site_id, name, level, x_cm, y_cm, node, owner_id, policy, "
			    "region, key_valid_s, key_max_unlocks, renters_may_share, "
			    "require_share_approval FROM spots WHERE id = $1");
	if (st == NULL)
		return -SPOT_E_INTERNAL;
	db_bind_int(st, 1, id);
	r = db_step(st);
	if (r == DB_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = id;
		out->site_id = db_col_int(st, 0);
		copy_text(out->name, sizeof(out->name), db_col_text(st, 1));
		copy_text(out->level, sizeof(out->level), db_col_text(st, 2));
		out->x_m = (double)db_col_int(st, 3) / 100.0;
		out->y_m = (double)db_col_int(st, 4) / 100.0;
		copy_text(out->node, sizeof(out->node), db_col_text(st, 5));
		out->owner_id = db_col_null(st, 6) ? 0 : db_col_int(st, 6);
		copy_text(out->policy, sizeof(out->policy), db_col_text(st, 7));
		copy_text(out->region, sizeof(out->region), db_col_text(st, 8));
		out->key_valid_s = db_col_int(st, 9);
		out->key_max_unlocks = db_col_int(st, 10);
		out->renters_may_share = db_col_int(st, 11) != 0;
		out->require_share_approval = db_col_int(st, 12) != 0;
	}
	db_finalize(st);
	if (r == DB_ROW)
		return 0;
	return r == DB_DONE ? -SPOT_E_NOTFOUND : -SPOT_E_INTERNAL;
}

/* Live keys on the spot held by someone other than its owner. -1 on error. */
static int64_t live_keys(struct db *db, const struct spot *s, int64_t now)
{
	struct db_stmt *st;
	int64_t n = -1;

	st = db_prepare(db, "SELECT COUNT(*) FROM ekeys WHERE spot_id = $1 AND revoked = 0 "
			    "AND not_after >= $2 AND user_id <> $3");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, s->id);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, s->owner_id);
	if (db_step(st) == DB_ROW)
		n = db_col_int(st, 0);
	db_finalize(st);
	return n;
}

/* Adds a live-state column: JSON null until the lock was first heard of. */
static void add_state(json_object *o, struct db_stmt *st, int col, const char *name, bool flag)
{
	if (db_col_null(st, col))
		json_object_object_add(o, name, NULL);
	else if (flag)
		json_object_object_add(o, name, json_object_new_boolean(db_col_int(st, col) != 0));
	else
		json_object_object_add(o, name, json_object_new_int64(db_col_int(st, col)));
}

static int add_live_state(struct db *db, const struct spot *s, json_object *o)
{
	struct db_stmt *st;
	int r;

	st = db_prepare(db, "SELECT s.locked, s.occupied, s.battery, s.online, "
			    "s.last_event_at, l.address FROM spots s "
			    "LEFT JOIN locks l ON l.spot_id = s.id WHERE s.id = $1");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, s->id);
	r = db_step(st);
	if (r == DB_ROW) {
		add_state(o, st, 0, "locked", true);
		add_state(o, st, 1, "occupied", true);
		add_state(o, st, 2, "battery", false);
		add_state(o, st, 3, "online", true);
		add_state(o, st, 4, "last_event_at", false);
		/* Where a phone finds the lock: a BLE address, or a sim socket path. */
		json_object_object_add(o, "lock_address", db_col_null(st, 5) ? NULL :
				       json_object_new_string(db_col_text(st, 5)));
	}
	db_finalize(st);
	return r == DB_ROW ? 0 : -1;
}

json_object *spot_json(struct db *db, const struct spot *s, bool with_owner, int64_t now)
{
	json_object *o = json_object_new_object();
	int64_t keys = live_keys(db, s, now);

	if (keys < 0 || add_live_state(db, s, o) != 0) {
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "id", json_object_new_int64(s->id));
	json_object_object_add(o, "site_id", json_object_new_int64(s->site_id));
	json_object_object_add(o, "name", json_object_new_string(s->name));
	json_object_object_add(o, "level", json_object_new_string(s->level));
	json_object_object_add(o, "x", json_object_new_double(s->x_m));
	json_object_object_add(o, "y", json_object_new_double(s->y_m));
	json_object_object_add(o, "policy", json_object_new_string(s->policy));
	if (s->region[0] != '\0')
		json_object_object_add(o, "region", json_object_new_string(s->region));
	json_object_object_add(o, "key_valid_s", json_object_new_int64(s->key_valid_s));
	json_object_object_add(o, "key_max_unlocks", json_object_new_int64(s->key_max_unlocks));
	json_object_object_add(o, "taken", json_object_new_boolean(keys > 0));
	json_object_object_add(o, "renters_may_share",
			       json_object_new_boolean(s->renters_may_share));
	json_object_object_add(o, "require_share_approval",
			       json_object_new_boolean(s->require_share_approval));
	if (with_owner)
		json_object_object_add(o, "owner_id", s->owner_id != 0 ?
					  json_object_new_int64(s->owner_id) : NULL);
	return o;
}

json_object *spot_list(struct db *db, int64_t site_id, const char *level, bool free_only,
		       int64_t now)
{
	json_object *list = json_object_new_array();
	struct db_stmt *st;
	int r;

	st = db_prepare(db, "SELECT id FROM spots WHERE ($1 = 0 OR site_id = $1) "
			    "AND ($2 IS NULL OR level = $2) ORDER BY site_id, id");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, site_id);
	db_bind_text(st, 2, level);
	while ((r = db_step(st)) == DB_ROW) {
		struct spot s;
		json_object *o;

		/* A second statement on the same connection while this one steps is fine. */
		if (spot_get(db, db_col_int(st, 0), &s) != 0)
			goto fail;
		o = spot_json(db, &s, false, now);
		if (o == NULL)
			goto fail;
		if (free_only && json_object_get_boolean(json_object_object_get(o, "taken")))
			json_object_put(o);
		else
			json_object_array_add(list, o);
	}
	if (r != DB_DONE)
		goto fail;
	db_finalize(st);
	return list;
fail:
	db_finalize(st);
	json_object_put(list);
	return NULL;
}

static bool policy_known(const char *p)
{
	return strcmp(p, "anyone") == 0 || strcmp(p, "region") == 0 ||
	       strcmp(p, "authorised") == 0;
}

int spot_set_policy(struct db *db, int64_t id, const char *policy, const char *region,
		    int64_t key_valid_s, int64_t key_max_unlocks)
{
	struct spot s;
	int r = spot_get(db, id, &s);

	if (r != 0)
		return r;
	if ((policy != NULL && !policy_known(policy)) || key_max_unlocks > 65535 ||
	    key_valid_s > 366LL * 24 * 3600 || (region != NULL && strlen(region) >= SPOT_NAME_MAX))
		return -SPOT_E_INVALID;
	if (policy != NULL)
		copy_text(s.policy, sizeof(s.policy), policy);
	if (region != NULL)
		copy_text(s.region, sizeof(s.region), region);
	if (strcmp(s.policy, "region") == 0 && s.region[0] == '\0')
		return -SPOT_E_INVALID; /* a region policy needs a region */
	if (key_valid_s >= 0)
		s.key_valid_s = key_valid_s;
	if (key_max_unlocks >= 0)
		s.key_max_unlocks = key_max_unlocks;
	r = db_exec(db, "UPDATE spots SET policy = $1, region = $2, key_valid_s = $3, "
			"key_max_unlocks = $4 WHERE id = $5", "ssiii", s.policy,
		    s.region[0] != '\0' ? s.region : NULL, s.key_valid_s, s.key_max_unlocks, id);
	return r == 0 ? 0 : -SPOT_E_INTERNAL;
}

int spot_set_sharing(struct db *db, int64_t id, int renters_may_share,
		     int require_share_approval)
{
	struct spot s;
	int r = spot_get(db, id, &s);

	if (r != 0)
		return r;
	if (renters_may_share >= 0)
		s.renters_may_share = renters_may_share != 0;
	if (require_share_approval >= 0)
		s.require_share_approval = require_share_approval != 0;
	r = db_exec(db, "UPDATE spots SET renters_may_share = $1, require_share_approval = $2 "
		    "WHERE id = $3", "iii", (int64_t)s.renters_may_share,
		    (int64_t)s.require_share_approval, id);
	return r == 0 ? 0 : -SPOT_E_INTERNAL;
}

/* ---- the authorised list ---- */

json_object *spot_authorised_list(struct db *db, int64_t id)
{
	json_object *list = json_object_new_array();
	struct db_stmt *st;
	int r = -1;

	st = db_prepare(db, "SELECT a.user_id, u.phone FROM authorised_users a JOIN users u "
			    "ON u.id = a.user_id WHERE a.spot_id = $1 ORDER BY a.user_id");
	if (list == NULL || st == NULL || db_bind_int(st, 1, id) != 0)
		goto out;
	while ((r = db_step(st)) == DB_ROW) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "user_id", json_object_new_int64(db_col_int(st, 0)));
		json_object_object_add(o, "phone", json_object_new_string(db_col_text(st, 1)));
		json_object_array_add(list, o);
	}
out:
	db_finalize(st);
	if (r != DB_DONE) {
		json_object_put(list);
		return NULL;
	}
	return list;
}

int spot_authorised_add(struct db *db, int64_t id, const char *phone, int64_t *user_id,
			bool *added)
{
	struct db_stmt *st;
	struct spot s;
	int r = spot_get(db, id, &s);

	*added = false;
	if (r != 0)
		return r;
	st = db_prepare(db, "SELECT id FROM users WHERE phone = $1");
	if (st == NULL || db_bind_text(st, 1, phone) != 0) {
		db_finalize(st);
		return -SPOT_E_INTERNAL;
	}
	r = db_step(st);
	if (r == DB_ROW)
		*user_id = db_col_int(st, 0);
	db_finalize(st);
	if (r != DB_ROW)
		return r == DB_DONE ? -SPOT_E_NOUSER : -SPOT_E_INTERNAL;
	r = db_exec(db, "INSERT INTO authorised_users (spot_id, user_id) VALUES ($1, $2) "
		    "ON CONFLICT (spot_id, user_id) DO NOTHING", "ii", id, *user_id);
	if (r != 0)
		return -SPOT_E_INTERNAL;
	*added = db_changes(db) == 1;
	return 0;
}

int spot_authorised_remove(struct db *db, int64_t id, int64_t user_id)
{
	if (db_exec(db, "DELETE FROM authorised_users WHERE spot_id = $1 AND user_id = $2", "ii",
		    id, user_id) != 0)
		return -SPOT_E_INTERNAL;
	return db_changes(db) == 1 ? 0 : -SPOT_E_NOTFOUND;
}

/* ---- who holds what on a spot ---- */

json_object *spot_keys(struct db *db, int64_t id, int64_t now)
{
	json_object *arr = json_object_new_array();
	struct db_stmt *st;
	int r = -1;

	/* The newest INSTALL_CRED of each key tells its delivery, as in key_list(). */
	st = db_prepare(db, "SELECT e.key_id, e.user_id, u.phone, e.not_before, e.not_after, "
			    "e.max_unlocks, e.flags, e.issued_at, e.revoked, e.transferred, "
			    "q.state, q.result, q.acked_at FROM ekeys e "
			    "LEFT JOIN users u ON u.id = e.user_id LEFT JOIN mgmt_queue q ON "
			    "q.id = (SELECT MAX(id) FROM mgmt_queue WHERE key_id = e.key_id AND "
			    "kind = 'install_cred') WHERE e.spot_id = $1 ORDER BY e.key_id");
	if (arr == NULL || st == NULL || db_bind_int(st, 1, id) != 0)
		goto out;
	while ((r = db_step(st)) == DB_ROW) {
		json_object *o = json_object_new_object(), *dl = json_object_new_object();
		bool revoked = db_col_int(st, 8) != 0, transferred = db_col_int(st, 9) != 0;
		bool live = !revoked && !transferred && db_col_int(st, 4) >= now;

		json_object_object_add(o, "key_id", json_object_new_int64(db_col_int(st, 0)));
		json_object_object_add(o, "user_id", json_object_new_int64(db_col_int(st, 1)));
		json_object_object_add(o, "phone", db_col_null(st, 2) ? NULL :
				       json_object_new_string(db_col_text(st, 2)));
		json_object_object_add(o, "not_before", json_object_new_int64(db_col_int(st, 3)));
		json_object_object_add(o, "not_after", json_object_new_int64(db_col_int(st, 4)));
		json_object_object_add(o, "max_unlocks", json_object_new_int64(db_col_int(st, 5)));
		json_object_object_add(o, "owner", json_object_new_boolean(
					       (db_col_int(st, 6) & PROTO_CRED_OWNER) != 0));
		json_object_object_add(o, "live", json_object_new_boolean(live));
		json_object_object_add(o, "revoked", json_object_new_boolean(revoked));
		json_object_object_add(o, "transferred", json_object_new_boolean(transferred));
		json_object_object_add(o, "issued_at", json_object_new_int64(db_col_int(st, 7)));
		json_object_object_add(dl, "state", json_object_new_string(
					       db_col_null(st, 10) ? "none" : db_col_text(st, 10)));
		json_object_object_add(dl, "result", db_col_null(st, 11) ? NULL :
				       json_object_new_string(db_col_text(st, 11)));
		json_object_object_add(dl, "acked_at", db_col_null(st, 12) ? NULL :
				       json_object_new_int64(db_col_int(st, 12)));
		json_object_object_add(o, "delivery", dl);
		json_object_array_add(arr, o);
	}
out:
	db_finalize(st);
	if (r != DB_DONE) {
		json_object_put(arr);
		return NULL;
	}
	return arr;
}

json_object *spot_shares(struct db *db, int64_t id, int64_t now)
{
	json_object *arr = json_object_new_array(), *o;
	struct db_stmt *st;
	int r = -1;

	st = db_prepare(db, "SELECT share_id, sharer_id FROM shares WHERE spot_id = $1 AND "
			    "state <> 'removed' ORDER BY share_id");
	if (arr == NULL || st == NULL || db_bind_int(st, 1, id) != 0)
		goto out;
	while ((r = db_step(st)) == DB_ROW) {
		/* The sharer sees every share they made; a sharer is never its recipient. */
		o = share_json(db, db_col_int(st, 0), db_col_int(st, 1), now);
		if (o == NULL) {
			r = -1;
			break;
		}
		json_object_object_del(o, "skey");
		json_object_array_add(arr, o);
	}
out:
	db_finalize(st);
	if (r != DB_DONE) {
		json_object_put(arr);
		return NULL;
	}
	return arr;
}

/* ---- routes ---- */

static enum navigation_kind node_kind(const char *kind)
{
	if (strcmp(kind, "entrance") == 0)
		return NAVIGATION_ENTRANCE;
	if (strcmp(kind, "exit") == 0)
		return NAVIGATION_EXIT;
	return NAVIGATION_JUNCTION;
}

static int load_graph(struct db *db, int64_t site_id, struct navigation_graph *g)
{
	struct db_stmt *st;
	int r, bad = 0;

	navigation_init(g);
	st = db_prepare(db, "SELECT id, level, x_cm, y_cm, kind FROM nodes WHERE site_id = $1");
	if (st == NULL)
		return -SPOT_E_INTERNAL;
	db_bind_int(st, 1, site_id);
	while ((r = db_step(st)) == DB_ROW)
		if (navigation_add_node(g, db_col_text(st, 0), db_col_text(st, 1),
					(double)db_col_int(st, 2) / 100.0,
					(double)db_col_int(st, 3) / 100.0,
					node_kind(db_col_text(st, 4))) < 0)
			bad = 1;
	db_finalize(st);
	if (r != DB_DONE || bad)
		return -SPOT_E_INTERNAL;
	st = db_prepare(db, "SELECT a, b FROM lanes WHERE site_id = $1");
	if (st == NULL)
		return -SPOT_E_INTERNAL;
	db_bind_int(st, 1, site_id);
	while ((r = db_step(st)) == DB_ROW)
		if (navigation_add_lane(g, db_col_text(st, 0), db_col_text(st, 1)) != 0)
			bad = 1;
	db_finalize(st);
	return r == DB_DONE && !bad ? 0 : -SPOT_E_INTERNAL;
}

static json_object *point(const char *level, double x, double y)
{
	json_object *p = json_object_new_object();

	json_object_object_add(p, "level", json_object_new_string(level));
	json_object_object_add(p, "x", json_object_new_double(x));
	json_object_object_add(p, "y", json_object_new_double(y));
	return p;
}

/* One route as JSON; the spot's own position ends (to_spot) or starts the points. */
static json_object *route_json(const struct navigation_graph *g,
			       const struct navigation_path *p, const struct spot *s,
			       bool to_spot, const char *arrival)
{
	json_object *r = json_object_new_object(), *nodes = json_object_new_array();
	json_object *points = json_object_new_array(), *sentences = json_object_new_array();
	char text[4096], *line, *save = NULL;
	size_t i;

	if (!to_spot)
		json_object_array_add(points, point(s->level, s->x_m, s->y_m));
	for (i = 0; i < p->count; i++) {
		const struct navigation_node *n = &g->nodes[p->nodes[i]];

		json_object_array_add(nodes, json_object_new_string(n->id));
		json_object_array_add(points, point(n->level, n->x, n->y));
	}
	if (to_spot)
		json_object_array_add(points, point(s->level, s->x_m, s->y_m));
	if (navigation_describe(g, p, arrival, text, sizeof(text)) > 0)
		for (line = strtok_r(text, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			json_object_array_add(sentences, json_object_new_string(line));
	json_object_object_add(r, "nodes", nodes);
	json_object_object_add(r, "points", points);
	json_object_object_add(r, "length_m", json_object_new_double(p->length));
	json_object_object_add(r, "sentences", sentences);
	return r;
}

int spot_directions(struct db *db, const struct spot *s, json_object **out)
{
	struct navigation_graph *g = malloc(sizeof(*g));
	struct navigation_path *in = malloc(sizeof(*in)), *away = malloc(sizeof(*away));
	char arrival[SPOT_NAME_MAX + 8];
	int r = -SPOT_E_INTERNAL, node;

	if (g == NULL || in == NULL || away == NULL || load_graph(db, s->site_id, g) != 0)
		goto out;
	node = navigation_find(g, s->node);
	r = -SPOT_E_NOROUTE;
	if (node < 0 || navigation_nearest(g, node, NAVIGATION_ENTRANCE, in) != 0 ||
	    navigation_nearest(g, node, NAVIGATION_EXIT, away) != 0)
		goto out;
	snprintf(arrival, sizeof(arrival), "spot %s", s->name);
	*out = json_object_new_object();
	json_object_object_add(*out, "in", route_json(g, in, s, true, arrival));
	json_object_object_add(*out, "out", route_json(g, away, s, false, "the exit"));
	r = 0;
out:
	free(g);
	free(in);
	free(away);
	return r;
}
