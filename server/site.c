/*
 * site.c: site import (validate the whole description in memory first, then check it
 * against what is stored, then insert), the site key pair, the map and provisioning
 * views. Transactions are the caller's, so that an import and its audit line commit
 * together. Map geometry is stored in centimetres and shown in metres.
 */
#include "site.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../lib/hex.h"
#include "../lib/p256.h"
#include "keywrap.h"

struct site_level {
	const char *id, *name;
	int64_t width_cm, height_cm;
};

struct site_node {
	const char *id, *kind;
	size_t level; /* index into levels */
	int64_t x_cm, y_cm;
};

struct site_lane {
	size_t a, b; /* indexes into nodes */
};

struct site_spot {
	int64_t id;
	const char *name, *policy, *region, *address;
	size_t level, node;
	int64_t x_cm, y_cm;
	int64_t owner; /* 0 for none */
	int64_t valid_s, max_unlocks;
	uint8_t device_pub[64];
	bool covered;
};

struct site_gateway {
	int64_t id;
	const char *name;
	uint8_t pub[64];
	size_t first_cover, covers; /* a run of site_desc.cover */
};

/* A validated description. Strings point into the JSON document, which outlives it. */
struct site_desc {
	int64_t id;
	const char *name;
	struct site_level *level;
	struct site_node *node;
	struct site_lane *lane;
	struct site_spot *spot;
	struct site_gateway *gateway;
	size_t *cover; /* spot indexes, per gateway in runs */
	size_t levels, nodes, lanes, spots, gateways, covers;
};

static const char *const site_policies[] = { "anyone", "region", "authorised" };
static const char *const site_node_kinds[] = { "entrance", "exit", "junction" };

void site_error_clear(struct site_error *e)
{
	if (e->uncovered != NULL)
		json_object_put(e->uncovered);
	memset(e, 0, sizeof(*e));
}

/* Fills `e` and returns `r` (a negative SITE_E_*), so that callers can `return site_fail(...)`. */
__attribute__((format(printf, 6, 7)))
static int site_fail(struct site_error *e, int r, int status, const char *code, const char *field,
		     const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->code = code;
	snprintf(e->field, sizeof(e->field), "%s", field != NULL ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	return r;
}

static int site_invalid(struct site_error *e, int status, const char *code, const char *field,
			const char *what)
{
	return site_fail(e, -SITE_E_INVALID, status, code, field, "%s: %s", field, what);
}

static int site_db_fail(struct site_error *e, int dbr)
{
	if (dbr == -DB_E_BUSY)
		return site_fail(e, -SITE_E_BUSY, 503, "busy", NULL,
				 "The database is busy; try again.");
	if (dbr == -DB_E_CONSTRAINT)
		return site_fail(e, -SITE_E_CONFLICT, 409, "conflict", NULL,
				 "Something in the description was stored meanwhile; try again.");
	return site_fail(e, -SITE_E_INTERNAL, 500, "internal", NULL,
			 "The site could not be stored.");
}

/* ---- typed members, with the member's path for error replies ---- */

/* Writes "parent.key" (or "key" at the top); a path too long is cut, as it only names. */
static void site_path(char *buf, size_t cap, const char *parent, const char *key)
{
	int n = snprintf(buf, cap, "%s%s%s", parent, parent[0] != '\0' ? "." : "", key);

	if (n < 0)
		buf[0] = '\0';
}

/* The member `key` of `o`, or NULL when it is absent or JSON null. */
static json_object *site_member(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v; /* json-c represents null as a NULL object */
}

static int site_missing(struct site_error *e, const char *field)
{
	return site_fail(e, -SITE_E_INVALID, 400, "missing_field", field,
			 "%s is missing; see server/SITE-FORMAT.md.", field);
}

static int site_get_int(json_object *o, const char *parent, const char *key, bool required,
			int64_t min, int64_t max, int64_t dflt, int64_t *out, struct site_error *e)
{
	char field[96];
	json_object *v = site_member(o, key);
	int64_t x;

	site_path(field, sizeof(field), parent, key);
	if (v == NULL) {
		if (required)
			return site_missing(e, field);
		*out = dflt;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return site_invalid(e, 400, "bad_field", field, "must be an integer");
	x = json_object_get_int64(v);
	if (x < min || x > max)
		return site_fail(e, -SITE_E_INVALID, 400, "bad_field", field,
				 "%s: must be from %lld to %lld.", field, (long long)min,
				 (long long)max);
	*out = x;
	return 0;
}

/* A string of 1..max bytes without control characters. */
static int site_get_str(json_object *o, const char *parent, const char *key, bool required,
			size_t max, const char **out, struct site_error *e)
{
	char field[96];
	json_object *v = site_member(o, key);
	const char *s;
	size_t i, n;

	site_path(field, sizeof(field), parent, key);
	*out = NULL;
	if (v == NULL)
		return required ? site_missing(e, field) : 0;
	if (!json_object_is_type(v, json_type_string))
		return site_invalid(e, 400, "bad_field", field, "must be a string");
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n > max || strlen(s) != n)
		return site_fail(e, -SITE_E_INVALID, 400, "bad_field", field,
				 "%s: must be 1 to %zu bytes.", field, max);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return site_invalid(e, 400, "bad_field", field,
					    "must not hold control characters");
	*out = s;
	return 0;
}

/* A level or node ID: 1..SITE_TEXT_ID_MAX of [A-Za-z0-9_.-]. */
static bool site_text_id_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return i > 0 && i <= SITE_TEXT_ID_MAX;
}

static int site_get_text_id(json_object *o, const char *parent, const char *key,
			    const char **out, struct site_error *e)
{
	char field[96];
	int r = site_get_str(o, parent, key, true, SITE_TEXT_ID_MAX, out, e);

	if (r != 0)
		return r;
	site_path(field, sizeof(field), parent, key);
	if (!site_text_id_ok(*out))
		return site_invalid(e, 400, "bad_field", field,
				    "must be 1 to 31 letters, digits, '_', '.' or '-'");
	return 0;
}

/* A length in metres from min to max, as centimetres. */
static int site_get_metres(json_object *o, const char *parent, const char *key, double min,
			   double max, int64_t *cm, struct site_error *e)
{
	char field[96];
	json_object *v = site_member(o, key);
	double x;

	site_path(field, sizeof(field), parent, key);
	if (v == NULL)
		return site_missing(e, field);
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return site_invalid(e, 400, "bad_field", field, "must be a number of metres");
	x = json_object_get_double(v);
	if (!isfinite(x) || x < min || x > max)
		return site_fail(e, -SITE_E_INVALID, 400, "bad_field", field,
				 "%s: %g is outside %g..%g m.", field, x, min, max);
	*cm = llround(x * 100.0);
	return 0;
}

static int site_get_typed(json_object *o, const char *parent, const char *key, bool required,
			  enum json_type type, json_object **out, struct site_error *e)
{
	char field[96];
	json_object *v = site_member(o, key);

	site_path(field, sizeof(field), parent, key);
	*out = NULL;
	if (v == NULL)
		return required ? site_missing(e, field) : 0;
	if (!json_object_is_type(v, type))
		return site_invalid(e, 400, "bad_field", field,
				    type == json_type_array ? "must be an array" :
				    "must be an object");
	*out = v;
	return 0;
}

static int site_get_array(json_object *o, const char *parent, const char *key, size_t min,
			  size_t max, json_object **out, size_t *len, struct site_error *e)
{
	char field[96];
	int r = site_get_typed(o, parent, key, true, json_type_array, out, e);

	if (r != 0)
		return r;
	*len = json_object_array_length(*out);
	if (*len < min || *len > max) {
		site_path(field, sizeof(field), parent, key);
		return site_fail(e, -SITE_E_INVALID, 400, "bad_field", field,
				 "%s: must have %zu to %zu entries.", field, min, max);
	}
	return 0;
}

/* A public key: 128 hex digits of a point on P-256. */
static int site_get_pub(json_object *o, const char *parent, const char *key, uint8_t pub[64],
			struct site_error *e)
{
	char field[96];
	const char *s;
	EVP_PKEY *k;
	int r = site_get_str(o, parent, key, true, 128, &s, e);

	if (r != 0)
		return r;
	site_path(field, sizeof(field), parent, key);
	if (strlen(s) != 128 || hex_decode(s, pub, 64) != 64)
		return site_invalid(e, 422, "bad_public_key", field,
				    "must be 128 hex digits (a P-256 point X || Y)");
	k = p256_from_public_raw(pub);
	if (k == NULL)
		return site_invalid(e, 422, "bad_public_key", field,
				    "is not a point on P-256");
	EVP_PKEY_free(k);
	return 0;
}

static int site_get_choice(json_object *o, const char *parent, const char *key,
			   const char *const *table, size_t n, const char *dflt, const char **out,
			   struct site_error *e)
{
	char field[96];
	size_t i;
	int r = site_get_str(o, parent, key, dflt == NULL, 32, out, e);

	if (r != 0)
		return r;
	if (*out == NULL) {
		*out = dflt;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(*out, table[i]) == 0) {
			*out = table[i];
			return 0;
		}
	}
	site_path(field, sizeof(field), parent, key);
	return site_fail(e, -SITE_E_INVALID, 400, "bad_field", field,
			 "%s: '%s' is not one of the allowed values (see SITE-FORMAT.md).", field,
			 *out);
}

/* ---- validation in memory ---- */

static long site_find_level(const struct site_desc *d, const char *id)
{
	size_t i;

	for (i = 0; i < d->levels; i++)
		if (strcmp(d->level[i].id, id) == 0)
			return (long)i;
	return -1;
}

static long site_find_node(const struct site_desc *d, const char *id)
{
	size_t i;

	for (i = 0; i < d->nodes; i++)
		if (strcmp(d->node[i].id, id) == 0)
			return (long)i;
	return -1;
}

static long site_find_spot(const struct site_desc *d, int64_t id)
{
	size_t i;

	for (i = 0; i < d->spots; i++)
		if (d->spot[i].id == id)
			return (long)i;
	return -1;
}

static int site_unknown(struct site_error *e, const char *field, const char *what,
			const char *id)
{
	return site_fail(e, -SITE_E_INVALID, 422, "unknown_reference", field,
			 "%s: no %s '%s' in this description.", field, what, id);
}

static int site_duplicate(struct site_error *e, const char *field, const char *what)
{
	return site_fail(e, -SITE_E_INVALID, 422, "duplicate_id", field,
			 "%s: %s is used twice in this description.", field, what);
}

static int site_parse_levels(json_object *arr, struct site_desc *d, struct site_error *e)
{
	char path[96], field[96];
	size_t i;
	int r;

	for (i = 0; i < d->levels; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct site_level *l = &d->level[i];

		snprintf(path, sizeof(path), "levels[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return site_invalid(e, 400, "bad_field", path, "must be an object");
		if ((r = site_get_text_id(o, path, "id", &l->id, e)) != 0 ||
		    (r = site_get_str(o, path, "name", true, SITE_NAME_MAX, &l->name, e)) != 0 ||
		    (r = site_get_metres(o, path, "width", 0.01, SITE_PLAN_MAX_M, &l->width_cm,
					 e)) != 0 ||
		    (r = site_get_metres(o, path, "height", 0.01, SITE_PLAN_MAX_M, &l->height_cm,
					 e)) != 0)
			return r;
		if (site_find_level(d, l->id) != (long)i) {
			site_path(field, sizeof(field), path, "id");
			return site_duplicate(e, field, "this level ID");
		}
	}
	return 0;
}

/* Reads x and y on level `level`: inside its plan. */
static int site_get_position(json_object *o, const char *path, const struct site_level *level,
			     int64_t *x_cm, int64_t *y_cm, struct site_error *e)
{
	int r;

	if ((r = site_get_metres(o, path, "x", 0, (double)level->width_cm / 100.0, x_cm, e)) != 0 ||
	    (r = site_get_metres(o, path, "y", 0, (double)level->height_cm / 100.0, y_cm, e)) != 0)
		return r;
	return 0;
}

static int site_get_level_ref(json_object *o, const char *path, const struct site_desc *d,
			      size_t *level, struct site_error *e)
{
	char field[96];
	const char *id;
	long i;
	int r = site_get_text_id(o, path, "level", &id, e);

	if (r != 0)
		return r;
	i = site_find_level(d, id);
	if (i < 0) {
		site_path(field, sizeof(field), path, "level");
		return site_unknown(e, field, "level", id);
	}
	*level = (size_t)i;
	return 0;
}

static int site_parse_nodes(json_object *arr, struct site_desc *d, struct site_error *e)
{
	char path[96], field[96];
	bool has_entrance = false, has_exit = false;
	size_t i;
	int r;

	for (i = 0; i < d->nodes; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct site_node *n = &d->node[i];

		snprintf(path, sizeof(path), "nodes[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return site_invalid(e, 400, "bad_field", path, "must be an object");
		if ((r = site_get_text_id(o, path, "id", &n->id, e)) != 0 ||
		    (r = site_get_level_ref(o, path, d, &n->level, e)) != 0 ||
		    (r = site_get_position(o, path, &d->level[n->level], &n->x_cm, &n->y_cm,
					   e)) != 0 ||
		    (r = site_get_choice(o, path, "kind", site_node_kinds, 3, NULL, &n->kind,
					 e)) != 0)
			return r;
		if (site_find_node(d, n->id) != (long)i) {
			site_path(field, sizeof(field), path, "id");
			return site_duplicate(e, field, "this node ID");
		}
		has_entrance |= strcmp(n->kind, "entrance") == 0;
		has_exit |= strcmp(n->kind, "exit") == 0;
	}
	if (!has_entrance || !has_exit)
		return site_fail(e, -SITE_E_INVALID, 422, "incomplete_map", "nodes",
				 "nodes: the map needs at least one entrance and one exit.");
	return 0;
}

static int site_parse_lanes(json_object *arr, struct site_desc *d, struct site_error *e)
{
	char path[96];
	size_t i, j, k;

	for (i = 0; i < d->lanes; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		long end[2];

		snprintf(path, sizeof(path), "lanes[%zu]", i);
		if (!json_object_is_type(o, json_type_array) || json_object_array_length(o) != 2)
			return site_invalid(e, 400, "bad_field", path,
					    "must be an array of two node IDs");
		for (k = 0; k < 2; k++) {
			json_object *v = json_object_array_get_idx(o, k);
			const char *id;

			if (!json_object_is_type(v, json_type_string))
				return site_invalid(e, 400, "bad_field", path,
						    "must be an array of two node IDs");
			id = json_object_get_string(v);
			end[k] = site_find_node(d, id);
			if (end[k] < 0)
				return site_unknown(e, path, "node", id);
		}
		if (end[0] == end[1])
			return site_invalid(e, 400, "bad_field", path,
					    "a lane joins two different nodes");
		d->lane[i].a = (size_t)end[0];
		d->lane[i].b = (size_t)end[1];
		for (j = 0; j < i; j++) {
			const struct site_lane *l = &d->lane[j];

			if ((l->a == d->lane[i].a && l->b == d->lane[i].b) ||
			    (l->a == d->lane[i].b && l->b == d->lane[i].a))
				return site_duplicate(e, path, "this lane");
		}
	}
	return 0;
}

static int site_parse_limits(json_object *o, const char *path, struct site_spot *s,
			     struct site_error *e)
{
	char lpath[96];
	json_object *lim;
	int r;

	s->valid_s = 0;
	s->max_unlocks = 0;
	if ((r = site_get_typed(o, path, "limits", false, json_type_object, &lim, e)) != 0)
		return r;
	if (lim == NULL)
		return 0;
	site_path(lpath, sizeof(lpath), path, "limits");
	if ((r = site_get_int(lim, lpath, "valid_s", false, 0, SITE_VALID_MAX_S, 0, &s->valid_s,
			      e)) != 0 ||
	    (r = site_get_int(lim, lpath, "max_unlocks", false, 0, 65535, 0, &s->max_unlocks,
			      e)) != 0)
		return r;
	return 0;
}

static int site_parse_spot(json_object *o, const char *path, struct site_desc *d,
			   struct site_spot *s, struct site_error *e)
{
	char field[96];
	json_object *lock;
	const char *node;
	long n;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return site_invalid(e, 400, "bad_field", path, "must be an object");
	if ((r = site_get_int(o, path, "id", true, 1, SITE_U32_MAX, 0, &s->id, e)) != 0 ||
	    (r = site_get_str(o, path, "name", true, SITE_NAME_MAX, &s->name, e)) != 0 ||
	    (r = site_get_level_ref(o, path, d, &s->level, e)) != 0 ||
	    (r = site_get_position(o, path, &d->level[s->level], &s->x_cm, &s->y_cm, e)) != 0 ||
	    (r = site_get_text_id(o, path, "node", &node, e)) != 0)
		return r;
	site_path(field, sizeof(field), path, "node");
	n = site_find_node(d, node);
	if (n < 0)
		return site_unknown(e, field, "node", node);
	if (d->node[n].level != s->level)
		return site_fail(e, -SITE_E_INVALID, 422, "unknown_reference", field,
				 "%s: node '%s' is on level %s, not on the spot's level %s.", field,
				 node, d->level[d->node[n].level].id, d->level[s->level].id);
	s->node = (size_t)n;
	if ((r = site_get_int(o, path, "owner", false, 1, INT64_MAX, 0, &s->owner, e)) != 0 ||
	    (r = site_get_choice(o, path, "policy", site_policies, 3, "anyone", &s->policy,
				 e)) != 0 ||
	    (r = site_get_str(o, path, "region", strcmp(s->policy, "region") == 0, SITE_REGION_MAX,
			      &s->region, e)) != 0 ||
	    (r = site_parse_limits(o, path, s, e)) != 0 ||
	    (r = site_get_typed(o, path, "lock", true, json_type_object, &lock, e)) != 0)
		return r;
	site_path(field, sizeof(field), path, "lock");
	if ((r = site_get_str(lock, field, "address", true, SITE_ADDRESS_MAX, &s->address,
			      e)) != 0 ||
	    (r = site_get_pub(lock, field, "device_pub", s->device_pub, e)) != 0)
		return r;
	return 0;
}

static int site_parse_spots(json_object *arr, struct site_desc *d, struct site_error *e)
{
	char path[96], field[96];
	size_t i, j;
	int r;

	for (i = 0; i < d->spots; i++) {
		struct site_spot *s = &d->spot[i];

		snprintf(path, sizeof(path), "spots[%zu]", i);
		r = site_parse_spot(json_object_array_get_idx(arr, i), path, d, s, e);
		if (r != 0)
			return r;
		for (j = 0; j < i; j++) {
			if (d->spot[j].id == s->id) {
				site_path(field, sizeof(field), path, "id");
				return site_duplicate(e, field, "this spot ID");
			}
			if (strcmp(d->spot[j].name, s->name) == 0) {
				site_path(field, sizeof(field), path, "name");
				return site_duplicate(e, field, "this spot name");
			}
			if (memcmp(d->spot[j].device_pub, s->device_pub, 64) == 0) {
				site_path(field, sizeof(field), path, "lock.device_pub");
				return site_duplicate(e, field, "this device key");
			}
		}
	}
	return 0;
}

static int site_parse_covers(json_object *o, const char *path, struct site_desc *d,
			     struct site_gateway *g, struct site_error *e)
{
	char field[96];
	json_object *arr;
	size_t i, j, n;
	int r;

	if ((r = site_get_array(o, path, "covers", 0, SITE_SPOTS_MAX, &arr, &n, e)) != 0)
		return r;
	g->first_cover = d->covers;
	g->covers = 0;
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		int64_t id;
		long s;

		snprintf(field, sizeof(field), "%.48s.covers[%zu]", path, i);
		if (!json_object_is_type(v, json_type_int))
			return site_invalid(e, 400, "bad_field", field, "must be a spot ID");
		id = json_object_get_int64(v);
		s = site_find_spot(d, id);
		if (s < 0)
			return site_fail(e, -SITE_E_INVALID, 422, "unknown_reference", field,
					 "%s: no spot %lld in this description.", field,
					 (long long)id);
		for (j = g->first_cover; j < d->covers; j++)
			if (d->cover[j] == (size_t)s)
				return site_duplicate(e, field, "this spot");
		d->cover[d->covers++] = (size_t)s;
		g->covers++;
		d->spot[s].covered = true;
	}
	return 0;
}

static int site_parse_gateways(json_object *arr, struct site_desc *d, struct site_error *e)
{
	char path[96], field[96];
	size_t i, j;
	int r;

	for (i = 0; i < d->gateways; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct site_gateway *g = &d->gateway[i];

		snprintf(path, sizeof(path), "gateways[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return site_invalid(e, 400, "bad_field", path, "must be an object");
		if ((r = site_get_int(o, path, "id", true, 1, SITE_U32_MAX, 0, &g->id, e)) != 0 ||
		    (r = site_get_str(o, path, "name", true, SITE_NAME_MAX, &g->name, e)) != 0 ||
		    (r = site_get_pub(o, path, "public_key", g->pub, e)) != 0)
			return r;
		for (j = 0; j < i; j++) {
			if (d->gateway[j].id == g->id) {
				site_path(field, sizeof(field), path, "id");
				return site_duplicate(e, field, "this gateway ID");
			}
			if (strcmp(d->gateway[j].name, g->name) == 0) {
				site_path(field, sizeof(field), path, "name");
				return site_duplicate(e, field, "this gateway name");
			}
			if (memcmp(d->gateway[j].pub, g->pub, 64) == 0) {
				site_path(field, sizeof(field), path, "public_key");
				return site_duplicate(e, field, "this gateway key");
			}
		}
		if ((r = site_parse_covers(o, path, d, g, e)) != 0)
			return r;
	}
	return 0;
}

/* Claim 1: every lock in range of a gateway. Names every lock that is not. */
static int site_check_coverage(const struct site_desc *d, struct site_error *e)
{
	json_object *names = NULL;
	size_t i, n = 0, used = 0;
	char list[160] = "";

	for (i = 0; i < d->spots; i++) {
		if (d->spot[i].covered)
			continue;
		if (names == NULL && (names = json_object_new_array()) == NULL)
			return site_fail(e, -SITE_E_INTERNAL, 500, "internal", NULL,
					 "Out of memory.");
		json_object_array_add(names, json_object_new_string(d->spot[i].name));
		if (used < sizeof(list) - 1) {
			int k = snprintf(list + used, sizeof(list) - used, "%s%s",
					 n > 0 ? ", " : "", d->spot[i].name);

			used = k < 0 ? sizeof(list) - 1 : used + (size_t)k;
		}
		n++;
	}
	if (n == 0)
		return 0;
	if (used >= sizeof(list) - 1)
		snprintf(list + sizeof(list) - 5, 5, "...");
	site_fail(e, -SITE_E_INVALID, 422, "uncovered_locks", "gateways",
		  "%zu lock%s covered by no gateway: %s. Add them to a gateway's \"covers\".", n,
		  n == 1 ? " is" : "s are", list);
	e->uncovered = names;
	return -SITE_E_INVALID;
}

static void site_desc_free(struct site_desc *d)
{
	free(d->level);
	free(d->node);
	free(d->lane);
	free(d->spot);
	free(d->gateway);
	free(d->cover);
}

/* An upper bound on the cover entries, before the gateways are validated. */
static size_t site_count_covers(json_object *gateways, size_t n)
{
	size_t i, total = 0;

	for (i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(gateways, i), *c = NULL;

		if (json_object_is_type(g, json_type_object) &&
		    json_object_object_get_ex(g, "covers", &c) &&
		    json_object_is_type(c, json_type_array))
			total += json_object_array_length(c);
	}
	return total;
}

static int site_parse(json_object *desc, struct site_desc *d, struct site_error *e)
{
	json_object *levels, *nodes, *lanes, *spots, *gateways;
	int r;

	if (!json_object_is_type(desc, json_type_object))
		return site_invalid(e, 400, "bad_json", "description", "must be a JSON object");
	if ((r = site_get_int(desc, "", "site_id", true, 1, SITE_U32_MAX, 0, &d->id, e)) != 0 ||
	    (r = site_get_str(desc, "", "name", true, SITE_NAME_MAX, &d->name, e)) != 0 ||
	    (r = site_get_array(desc, "", "levels", 1, SITE_LEVELS_MAX, &levels, &d->levels,
				e)) != 0 ||
	    (r = site_get_array(desc, "", "nodes", 2, SITE_NODES_MAX, &nodes, &d->nodes, e)) != 0 ||
	    (r = site_get_array(desc, "", "lanes", 0, SITE_LANES_MAX, &lanes, &d->lanes, e)) != 0 ||
	    (r = site_get_array(desc, "", "spots", 1, SITE_SPOTS_MAX, &spots, &d->spots, e)) != 0 ||
	    (r = site_get_array(desc, "", "gateways", 1, SITE_GATEWAYS_MAX, &gateways,
				&d->gateways, e)) != 0)
		return r;
	d->level = calloc(d->levels, sizeof(*d->level));
	d->node = calloc(d->nodes, sizeof(*d->node));
	d->lane = calloc(d->lanes + 1, sizeof(*d->lane));
	d->spot = calloc(d->spots, sizeof(*d->spot));
	d->gateway = calloc(d->gateways, sizeof(*d->gateway));
	d->cover = calloc(site_count_covers(gateways, d->gateways) + 1, sizeof(*d->cover));
	if (d->level == NULL || d->node == NULL || d->lane == NULL || d->spot == NULL ||
	    d->gateway == NULL || d->cover == NULL)
		return site_fail(e, -SITE_E_INTERNAL, 500, "internal", NULL, "Out of memory.");
	if ((r = site_parse_levels(levels, d, e)) != 0 ||
	    (r = site_parse_nodes(nodes, d, e)) != 0 ||
	    (r = site_parse_lanes(lanes, d, e)) != 0 ||
	    (r = site_parse_spots(spots, d, e)) != 0 ||
	    (r = site_parse_gateways(gateways, d, e)) != 0 ||
	    (r = site_check_coverage(d, e)) != 0)
		return r;
	return 0;
}

/* ---- checks against what is stored ---- */

/* 1 when `sql` (one parameter, an int or a blob) finds a row, 0 when not, or -DB_E_*. */
static int site_found(struct db *db, const char *sql, int64_t v, const uint8_t *blob,
		      size_t blob_len)
{
	struct db_stmt *st = db_prepare(db, sql);
	int r;

	if (st == NULL)
		return -DB_E_IO;
	r = blob != NULL ? db_bind_blob(st, 1, blob, blob_len) : db_bind_int(st, 1, v);
	if (r == 0)
		r = db_step(st);
	db_finalize(st);
	if (r < 0)
		return r;
	return r == DB_ROW ? 1 : 0;
}

static int site_check_stored(struct db *db, const struct site_desc *d, struct site_error *e)
{
	char id_field[64], key_field[64], owner_field[64];
	size_t i;
	int r;

	if ((r = site_found(db, "SELECT 1 FROM sites WHERE id = $1", d->id, NULL, 0)) != 0)
		return r < 0 ? site_db_fail(e, r) :
			site_fail(e, -SITE_E_CONFLICT, 409, "site_exists", "site_id",
				  "Site %lld exists already.", (long long)d->id);
	{
		struct db_stmt *st = db_prepare(db, "SELECT 1 FROM sites WHERE name = $1");

		if (st == NULL)
			return site_db_fail(e, -DB_E_IO);
		r = db_bind_text(st, 1, d->name);
		if (r == 0)
			r = db_step(st);
		db_finalize(st);
		if (r < 0)
			return site_db_fail(e, r);
		if (r == DB_ROW)
			return site_fail(e, -SITE_E_CONFLICT, 409, "site_exists", "name",
					 "A site named '%s' exists already.", d->name);
	}
	for (i = 0; i < d->spots; i++) {
		const struct site_spot *s = &d->spot[i];

		snprintf(id_field, sizeof(id_field), "spots[%zu].id", i);
		snprintf(key_field, sizeof(key_field), "spots[%zu].lock.device_pub", i);
		snprintf(owner_field, sizeof(owner_field), "spots[%zu].owner", i);
		if ((r = site_found(db, "SELECT 1 FROM spots WHERE id = $1", s->id, NULL, 0)) != 0)
			return r < 0 ? site_db_fail(e, r) :
				site_fail(e, -SITE_E_CONFLICT, 409, "spot_exists", id_field,
					  "%s: spot %lld exists already (spot IDs are unique on "
					  "the server).", id_field, (long long)s->id);
		if ((r = site_found(db, "SELECT 1 FROM locks WHERE device_pub = $1", 0,
				    s->device_pub, 64)) != 0)
			return r < 0 ? site_db_fail(e, r) :
				site_fail(e, -SITE_E_CONFLICT, 409, "key_in_use", key_field,
					  "%s: this lock's device key belongs to a stored lock.",
					  key_field);
		if (s->owner != 0 &&
		    (r = site_found(db, "SELECT 1 FROM users WHERE id = $1", s->owner, NULL,
				    0)) != 1)
			return r < 0 ? site_db_fail(e, r) :
				site_fail(e, -SITE_E_INVALID, 422, "unknown_reference", owner_field,
					  "%s: there is no user %lld.", owner_field,
					  (long long)s->owner);
	}
	for (i = 0; i < d->gateways; i++) {
		const struct site_gateway *g = &d->gateway[i];

		snprintf(id_field, sizeof(id_field), "gateways[%zu].id", i);
		snprintf(key_field, sizeof(key_field), "gateways[%zu].public_key", i);
		r = site_found(db, "SELECT 1 FROM gateways WHERE id = $1", g->id, NULL, 0);
		if (r != 0)
			return r < 0 ? site_db_fail(e, r) :
				site_fail(e, -SITE_E_CONFLICT, 409, "gateway_exists", id_field,
					  "%s: gateway %lld exists already.", id_field,
					  (long long)g->id);
		if ((r = site_found(db, "SELECT 1 FROM gateways WHERE public_key = $1", 0, g->pub,
				    64)) != 0)
			return r < 0 ? site_db_fail(e, r) :
				site_fail(e, -SITE_E_CONFLICT, 409, "key_in_use", key_field,
					  "%s: this gateway key belongs to a stored gateway.",
					  key_field);
	}
	return 0;
}

/* ---- storing ---- */

static int site_store(struct db *db, const struct site_desc *d, const uint8_t pub[64],
		      const uint8_t *sealed, size_t sealed_len, const char *text, int64_t now)
{
	size_t i, j;
	int r;

	r = db_exec(db, "INSERT INTO sites (id, name, public_key, private_key, description, "
		    "created_at) VALUES ($1, $2, $3, $4, $5, $6)", "isbbsi", d->id, d->name,
		    (const void *)pub, (size_t)64, (const void *)sealed, sealed_len, text, now);
	for (i = 0; r == 0 && i < d->levels; i++) {
		const struct site_level *l = &d->level[i];

		r = db_exec(db, "INSERT INTO levels (site_id, id, name, width_cm, height_cm, "
			    "position) VALUES ($1, $2, $3, $4, $5, $6)", "issiii", d->id, l->id,
			    l->name, l->width_cm, l->height_cm, (int64_t)i);
	}
	for (i = 0; r == 0 && i < d->nodes; i++) {
		const struct site_node *n = &d->node[i];

		r = db_exec(db, "INSERT INTO nodes (site_id, id, level, x_cm, y_cm, kind) "
			    "VALUES ($1, $2, $3, $4, $5, $6)", "issiis", d->id, n->id,
			    d->level[n->level].id, n->x_cm, n->y_cm, n->kind);
	}
	for (i = 0; r == 0 && i < d->lanes; i++)
		r = db_exec(db, "INSERT INTO lanes (site_id, a, b) VALUES ($1, $2, $3)", "iss",
			    d->id, d->node[d->lane[i].a].id, d->node[d->lane[i].b].id);
	for (i = 0; r == 0 && i < d->spots; i++) {
		const struct site_spot *s = &d->spot[i];

		r = db_exec(db, "INSERT INTO spots (id, site_id, name, level, x_cm, y_cm, node, "
			    "policy, region, key_valid_s, key_max_unlocks) VALUES ($1, $2, $3, $4, "
			    "$5, $6, $7, $8, $9, $10, $11)", "iissiisssii", s->id, d->id, s->name,
			    d->level[s->level].id, s->x_cm, s->y_cm, d->node[s->node].id,
			    s->policy, s->region, s->valid_s, s->max_unlocks);
		if (r == 0 && s->owner != 0)
			r = db_exec(db, "UPDATE spots SET owner_id = $1 WHERE id = $2", "ii",
				    s->owner, s->id);
		if (r == 0 && s->owner != 0)
			r = db_exec(db, "INSERT INTO roles (user_id, role, site_id, spot_id) "
				    "VALUES ($1, 'owner', $2, $3)", "iii", s->owner, d->id, s->id);
		if (r == 0)
			r = db_exec(db, "INSERT INTO locks (spot_id, address, device_pub) "
				    "VALUES ($1, $2, $3)", "isb", s->id, s->address,
				    (const void *)s->device_pub, (size_t)64);
	}
	for (i = 0; r == 0 && i < d->gateways; i++) {
		const struct site_gateway *g = &d->gateway[i];

		r = db_exec(db, "INSERT INTO gateways (id, site_id, name, public_key) "
			    "VALUES ($1, $2, $3, $4)", "iisb", g->id, d->id, g->name,
			    (const void *)g->pub, (size_t)64);
		for (j = 0; r == 0 && j < g->covers; j++)
			r = db_exec(db, "INSERT INTO gateway_covers (gateway_id, spot_id) "
				    "VALUES ($1, $2)", "ii", g->id,
				    d->spot[d->cover[g->first_cover + j]].id);
	}
	return r;
}

int site_import(struct db *db, const uint8_t master[32], int64_t now, json_object *desc,
		int64_t *site_id, struct site_error *err)
{
	struct site_desc d;
	uint8_t sealed[KEYWRAP_KEY_MAX], pub[64];
	char label[KEYWRAP_LABEL_MAX];
	EVP_PKEY *key = NULL;
	int sealed_len, r;

	memset(&d, 0, sizeof(d));
	memset(err, 0, sizeof(*err));
	if ((r = site_parse(desc, &d, err)) != 0)
		goto out;
	if ((r = site_check_stored(db, &d, err)) != 0)
		goto out;
	key = p256_generate();
	if (key == NULL || p256_public_raw(key, pub) != 0 ||
	    keywrap_label(label, "site", d.id) != 0 ||
	    (sealed_len = keywrap_seal_key(master, label, key, sealed, sizeof(sealed))) < 0) {
		r = site_fail(err, -SITE_E_INTERNAL, 500, "internal", NULL,
			      "The site key could not be made.");
		goto out;
	}
	r = site_store(db, &d, pub, sealed, (size_t)sealed_len,
		       json_object_to_json_string_ext(desc, JSON_C_TO_STRING_PLAIN), now);
	if (r != 0) {
		r = site_db_fail(err, r);
		goto out;
	}
	*site_id = d.id;
out:
	EVP_PKEY_free(key);
	site_desc_free(&d);
	return r;
}

/* ---- views ---- */

static json_object *site_metres(int64_t cm)
{
	return json_object_new_double((double)cm / 100.0);
}

/* Adds an int column, or null when the column is NULL. */
static void site_add_opt_int(json_object *o, const char *key, struct db_stmt *st, int col,
			     bool boolean)
{
	json_object *v = NULL;

	if (!db_col_null(st, col))
		v = boolean ? json_object_new_boolean(db_col_int(st, col) != 0) :
			json_object_new_int64(db_col_int(st, col));
	json_object_object_add(o, key, v);
}

/* Runs a query with the site ID as its one parameter and calls `row` for every row. */
static int site_each(struct db *db, const char *sql, int64_t site_id, json_object *arr,
		     void (*row)(struct db_stmt *st, json_object *arr))
{
	struct db_stmt *st = db_prepare(db, sql);
	int r;

	if (st == NULL)
		return -SITE_E_INTERNAL;
	r = db_bind_int(st, 1, site_id);
	while (r == 0 && (r = db_step(st)) == DB_ROW) {
		row(st, arr);
		r = 0;
	}
	db_finalize(st);
	return r == DB_DONE ? 0 : -SITE_E_INTERNAL;
}

static void site_row_level(struct db_stmt *st, json_object *arr)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(db_col_text(st, 0)));
	json_object_object_add(o, "name", json_object_new_string(db_col_text(st, 1)));
	json_object_object_add(o, "width", site_metres(db_col_int(st, 2)));
	json_object_object_add(o, "height", site_metres(db_col_int(st, 3)));
	json_object_array_add(arr, o);
}

static void site_row_node(struct db_stmt *st, json_object *arr)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(db_col_text(st, 0)));
	json_object_object_add(o, "level", json_object_new_string(db_col_text(st, 1)));
	json_object_object_add(o, "x", site_metres(db_col_int(st, 2)));
	json_object_object_add(o, "y", site_metres(db_col_int(st, 3)));
	json_object_object_add(o, "kind", json_object_new_string(db_col_text(st, 4)));
	json_object_array_add(arr, o);
}

static void site_row_lane(struct db_stmt *st, json_object *arr)
{
	json_object *pair = json_object_new_array();

	json_object_array_add(pair, json_object_new_string(db_col_text(st, 0)));
	json_object_array_add(pair, json_object_new_string(db_col_text(st, 1)));
	json_object_array_add(arr, pair);
}

static void site_row_spot(struct db_stmt *st, json_object *arr)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(db_col_int(st, 0)));
	json_object_object_add(o, "name", json_object_new_string(db_col_text(st, 1)));
	json_object_object_add(o, "level", json_object_new_string(db_col_text(st, 2)));
	json_object_object_add(o, "x", site_metres(db_col_int(st, 3)));
	json_object_object_add(o, "y", site_metres(db_col_int(st, 4)));
	json_object_object_add(o, "node", json_object_new_string(db_col_text(st, 5)));
	json_object_object_add(o, "policy", json_object_new_string(db_col_text(st, 6)));
	site_add_opt_int(o, "locked", st, 7, true);
	site_add_opt_int(o, "occupied", st, 8, true);
	site_add_opt_int(o, "battery", st, 9, false);
	json_object_object_add(o, "online", json_object_new_boolean(db_col_int(st, 10) != 0));
	site_add_opt_int(o, "last_event_at", st, 11, false);
	json_object_array_add(arr, o);
}

/* Gateway rows come joined with their covers, ordered by gateway: one object per gateway. */
static void site_row_gateway(struct db_stmt *st, json_object *arr)
{
	size_t n = json_object_array_length(arr);
	json_object *last = n > 0 ? json_object_array_get_idx(arr, n - 1) : NULL;
	json_object *id = NULL, *covers = NULL;

	if (last != NULL)
		json_object_object_get_ex(last, "id", &id);
	if (last == NULL || json_object_get_int64(id) != db_col_int(st, 0)) {
		last = json_object_new_object();
		json_object_object_add(last, "id", json_object_new_int64(db_col_int(st, 0)));
		json_object_object_add(last, "name", json_object_new_string(db_col_text(st, 1)));
		json_object_object_add(last, "covers", json_object_new_array());
		json_object_array_add(arr, last);
	}
	json_object_object_get_ex(last, "covers", &covers);
	if (!db_col_null(st, 2))
		json_object_array_add(covers, json_object_new_int64(db_col_int(st, 2)));
}

/* The site's name and public key; 0, -SITE_E_NOTFOUND or -SITE_E_INTERNAL. */
static int site_head(struct db *db, int64_t site_id, json_object *o, uint8_t pub[64])
{
	struct db_stmt *st = db_prepare(db, "SELECT name, public_key FROM sites WHERE id = $1");
	const void *p;
	size_t len = 0;
	int r;

	if (st == NULL)
		return -SITE_E_INTERNAL;
	r = db_bind_int(st, 1, site_id);
	if (r == 0)
		r = db_step(st);
	if (r == DB_ROW) {
		p = db_col_blob(st, 1, &len);
		if (p == NULL || len != 64) {
			r = -SITE_E_INTERNAL;
		} else {
			memcpy(pub, p, 64);
			json_object_object_add(o, "site_id", json_object_new_int64(site_id));
			json_object_object_add(o, "name",
					       json_object_new_string(db_col_text(st, 0)));
			r = 0;
		}
	} else {
		r = r == DB_DONE ? -SITE_E_NOTFOUND : -SITE_E_INTERNAL;
	}
	db_finalize(st);
	return r;
}

static int site_add_list(struct db *db, json_object *o, const char *key, const char *sql,
			 int64_t site_id, void (*row)(struct db_stmt *, json_object *))
{
	json_object *arr = json_object_new_array();

	if (arr == NULL)
		return -SITE_E_INTERNAL;
	json_object_object_add(o, key, arr);
	return site_each(db, sql, site_id, arr, row);
}

/* The lists of the map, each one query with the site ID as $1. */
static const struct {
	const char *key;
	const char *sql;
	void (*row)(struct db_stmt *st, json_object *arr);
} site_map_lists[] = {
	{ "levels", "SELECT id, name, width_cm, height_cm FROM levels WHERE site_id = $1 "
	  "ORDER BY position", site_row_level },
	{ "nodes", "SELECT id, level, x_cm, y_cm, kind FROM nodes WHERE site_id = $1 ORDER BY id",
	  site_row_node },
	{ "lanes", "SELECT a, b FROM lanes WHERE site_id = $1 ORDER BY a, b", site_row_lane },
	{ "spots", "SELECT id, name, level, x_cm, y_cm, node, policy, locked, occupied, battery, "
	  "online, last_event_at FROM spots WHERE site_id = $1 ORDER BY id", site_row_spot },
	{ "gateways", "SELECT g.id, g.name, c.spot_id FROM gateways g LEFT JOIN gateway_covers c "
	  "ON c.gateway_id = g.id WHERE g.site_id = $1 ORDER BY g.id, c.spot_id",
	  site_row_gateway },
};

int site_exists(struct db *db, int64_t site_id)
{
	int r = site_found(db, "SELECT 1 FROM sites WHERE id = $1", site_id, NULL, 0);

	return r < 0 ? -SITE_E_INTERNAL : r;
}

int site_map(struct db *db, int64_t site_id, json_object **out)
{
	json_object *o = json_object_new_object();
	uint8_t pub[64];
	size_t i;
	int r;

	if (o == NULL)
		return -SITE_E_INTERNAL;
	r = site_head(db, site_id, o, pub);
	for (i = 0; r == 0 && i < sizeof(site_map_lists) / sizeof(site_map_lists[0]); i++)
		r = site_add_list(db, o, site_map_lists[i].key, site_map_lists[i].sql, site_id,
				  site_map_lists[i].row);
	if (r != 0) {
		json_object_put(o);
		return r;
	}
	*out = o;
	return 0;
}

int site_provisioning(struct db *db, int64_t site_id, json_object **out)
{
	json_object *o = json_object_new_object(), *locks = NULL;
	struct db_stmt *st = NULL;
	char pub_hex[129], dev_hex[129];
	uint8_t pub[64];
	int r;

	if (o == NULL)
		return -SITE_E_INTERNAL;
	if ((r = site_head(db, site_id, o, pub)) != 0)
		goto out;
	r = -SITE_E_INTERNAL;
	if (hex_encode(pub, 64, pub_hex, sizeof(pub_hex)) != 128)
		goto out;
	json_object_object_add(o, "site_public_key", json_object_new_string(pub_hex));
	locks = json_object_new_array();
	json_object_object_add(o, "locks", locks);
	st = db_prepare(db, "SELECT s.id, s.name, l.address, l.device_pub FROM spots s "
			"JOIN locks l ON l.spot_id = s.id WHERE s.site_id = $1 ORDER BY s.id");
	if (st == NULL || db_bind_int(st, 1, site_id) != 0)
		goto out;
	while ((r = db_step(st)) == DB_ROW) {
		json_object *l = json_object_new_object();
		size_t len = 0;
		const void *dev = db_col_blob(st, 3, &len);

		json_object_array_add(locks, l);
		json_object_object_add(l, "spot_id", json_object_new_int64(db_col_int(st, 0)));
		json_object_object_add(l, "name", json_object_new_string(db_col_text(st, 1)));
		json_object_object_add(l, "site_id", json_object_new_int64(site_id));
		json_object_object_add(l, "site_public_key", json_object_new_string(pub_hex));
		json_object_object_add(l, "address", json_object_new_string(db_col_text(st, 2)));
		if (dev != NULL && len == 64 &&
		    hex_encode(dev, 64, dev_hex, sizeof(dev_hex)) == 128)
			json_object_object_add(l, "device_pub", json_object_new_string(dev_hex));
	}
	r = r == DB_DONE ? 0 : -SITE_E_INTERNAL;
out:
	db_finalize(st);
	if (r != 0)
		json_object_put(o);
	else
		*out = o;
	return r;
}

int site_key(struct db *db, const uint8_t master[32], int64_t site_id, EVP_PKEY **key)
{
	struct db_stmt *st = db_prepare(db, "SELECT private_key FROM sites WHERE id = $1");
	char label[KEYWRAP_LABEL_MAX];
	const void *sealed;
	size_t len = 0;
	int r = -SITE_E_INTERNAL;

	*key = NULL;
	if (st == NULL || db_bind_int(st, 1, site_id) != 0 ||
	    keywrap_label(label, "site", site_id) != 0)
		goto out;
	r = db_step(st);
	if (r != DB_ROW) {
		r = r == DB_DONE ? -SITE_E_NOTFOUND : -SITE_E_INTERNAL;
		goto out;
	}
	sealed = db_col_blob(st, 0, &len);
	*key = sealed != NULL ? keywrap_open_key(master, label, sealed, len) : NULL;
	r = *key != NULL ? 0 : -SITE_E_INTERNAL;
out:
	db_finalize(st);
	return r;
}
