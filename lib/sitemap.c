/*
 * sitemap.c: parses the server's site and spot maps into struct sitemap, looks things up
 * in it and applies live events (see sitemap.h). A parse builds a private copy and hands
 * it over only when every member has passed, so a bad map changes nothing. What the
 * server's site import already checks (policies, keys, gateways) is not looked at here.
 */
#include "sitemap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SITEMAP_U32_MAX 4294967295LL
#define SITEMAP_WHERE_MAX 48 /* "routes.out.points[65535]" and the like */
#define SITEMAP_KEEP 2       /* an event leaves this flag alone */

/* ---- errors and members ---- */

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -SITEMAP_E_INVALID;
}

/* Where a parse is, for its error sentences. */
struct parse {
	char *err;
	size_t errlen;
};

/* Member `key` of object o, or NULL when absent or null. */
static json_object *member(const json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* Valid UTF-8 without control characters (C0, DEL, C1) and without NUL. */
static bool text_ok(const char *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t c;

	while (i < len) {
		unsigned char b = (unsigned char)s[i];

		if (b < 0x80) {
			if (b < 0x20 || b == 0x7f)
				return false;
			i++;
			continue;
		}
		n = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : 0;
		if (n == 0 || b > 0xf4 || n > len - i - 1)
			return false;
		c = b & (0x3fu >> n);
		for (k = 1; k <= n; k++) {
			if (((unsigned char)s[i + k] & 0xc0) != 0x80)
				return false;
			c = c << 6 | ((unsigned char)s[i + k] & 0x3f);
		}
		if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || (c >= 0x80 && c < 0xa0))
			return false;
		i += n + 1;
	}
	return true;
}

/* A required string of 1 .. cap-1 bytes of clean UTF-8, copied into out[0..cap). */
static int get_text(struct parse *p, const json_object *o, const char *where, const char *key,
		    char *out, size_t cap)
{
	json_object *v = member(o, key);
	const char *s;
	size_t len;

	if (v == NULL)
		return fail(p->err, p->errlen, "%s.%s is missing", where, key);
	if (!json_object_is_type(v, json_type_string))
		return fail(p->err, p->errlen, "%s.%s must be a string", where, key);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0 || len >= cap || strlen(s) != len || !text_ok(s, len))
		return fail(p->err, p->errlen, "%s.%s must be 1 to %zu bytes of UTF-8 text "
			    "without control characters", where, key, cap - 1);
	memcpy(out, s, len + 1);
	return 0;
}

/* A required finite number (integer or not) in [lo, hi]. */
static int get_number(struct parse *p, const json_object *o, const char *where,
		      const char *key, double lo, double hi, double *out)
{
	json_object *v = member(o, key);
	double d;

	if (v == NULL)
		return fail(p->err, p->errlen, "%s.%s is missing", where, key);
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return fail(p->err, p->errlen, "%s.%s must be a number", where, key);
	d = json_object_get_double(v);
	if (!isfinite(d) || d < lo || d > hi)
		return fail(p->err, p->errlen, "%s.%s must be a number from %g to %g", where,
			    key, lo, hi);
	*out = d;
	return 0;
}

/* An integer member in [lo, hi]; absent or null gives `dflt` unless required. */
static int get_int(struct parse *p, const json_object *o, const char *where, const char *key,
		   int64_t lo, int64_t hi, bool required, int64_t dflt, int64_t *out)
{
	json_object *v = member(o, key);
	int64_t n;

	if (v == NULL) {
		if (required)
			return fail(p->err, p->errlen, "%s.%s is missing", where, key);
		*out = dflt;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return fail(p->err, p->errlen, "%s.%s must be a whole number", where, key);
	n = json_object_get_int64(v);
	if (n < lo || n > hi)
		return fail(p->err, p->errlen, "%s.%s must be a whole number from %lld to %lld",
			    where, key, (long long)lo, (long long)hi);
	*out = n;
	return 0;
}

/* A yes/no member: absent or null is unknown. */
static int get_flag(struct parse *p, const json_object *o, const char *where, const char *key,
		    enum sitemap_flag *out)
{
	json_object *v = member(o, key);

	if (v == NULL) {
		*out = SITEMAP_UNKNOWN;
		return 0;
	}
	if (!json_object_is_type(v, json_type_boolean))
		return fail(p->err, p->errlen, "%s.%s must be true, false or null", where, key);
	*out = json_object_get_boolean(v) ? SITEMAP_YES : SITEMAP_NO;
	return 0;
}

/* A required array of lo .. hi elements. */
static int get_array(struct parse *p, const json_object *o, const char *where, const char *key,
		     size_t lo, size_t hi, json_object **arr, size_t *n)
{
	json_object *v = member(o, key);

	if (v == NULL)
		return fail(p->err, p->errlen, "%s%s%s is missing", where, *where ? "." : "", key);
	if (!json_object_is_type(v, json_type_array))
		return fail(p->err, p->errlen, "%s%s%s must be an array", where,
			    *where ? "." : "", key);
	*n = json_object_array_length(v);
	if (*n < lo || *n > hi)
		return fail(p->err, p->errlen, "%s%s%s must have %zu to %zu elements", where,
			    *where ? "." : "", key, lo, hi);
	*arr = v;
	return 0;
}

/* Element i of arr, which must be an object; `where` gets its path "key[i]". */
static int get_element(struct parse *p, json_object *arr, const char *key, size_t i,
		       char where[SITEMAP_WHERE_MAX], json_object **out)
{
	snprintf(where, SITEMAP_WHERE_MAX, "%s[%zu]", key, i);
	*out = json_object_array_get_idx(arr, i);
	if (*out == NULL || !json_object_is_type(*out, json_type_object))
		return fail(p->err, p->errlen, "%s must be an object", where);
	return 0;
}

/* at = "where.key[i]", cut short should it not fit (it is only for messages). */
static void path_index(char at[SITEMAP_WHERE_MAX], const char *where, const char *key, size_t i)
{
	if (snprintf(at, SITEMAP_WHERE_MAX, "%s.%s[%zu]", where, key, i) >= SITEMAP_WHERE_MAX)
		at[SITEMAP_WHERE_MAX - 1] = '\0';
}

static int reference(struct parse *p, const char *where, const char *key, const char *what,
		     const char *value)
{
	fail(p->err, p->errlen, "%s.%s: \"%s\" is not a %s of this map", where, key, value,
	     what);
	return -SITEMAP_E_REFERENCE;
}

static int duplicate(struct parse *p, const char *what, const char *value)
{
	fail(p->err, p->errlen, "%s \"%s\" is given twice", what, value);
	return -SITEMAP_E_DUPLICATE;
}

/* ---- lookups used while parsing ---- */

size_t sitemap_level_find(const struct sitemap *map, const char *id)
{
	size_t i;

	for (i = 0; map != NULL && id != NULL && i < map->nlevels; i++)
		if (strcmp(map->levels[i].id, id) == 0)
			return i;
	return SITEMAP_NONE;
}

size_t sitemap_node_find(const struct sitemap *map, const char *id)
{
	size_t lo = 0, hi = map != NULL && id != NULL ? map->nnodes : 0, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(map->nodes[mid].id, id);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SITEMAP_NONE;
}

size_t sitemap_spot_find(const struct sitemap *map, int64_t id)
{
	size_t lo = 0, hi = map != NULL ? map->nspots : 0, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (map->spots[mid].id == id)
			return mid;
		if (map->spots[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SITEMAP_NONE;
}

size_t sitemap_spot_find_name(const struct sitemap *map, const char *name)
{
	size_t lo = 0, hi = map != NULL && name != NULL ? map->nspots : 0, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(map->spots[map->spots_by_name[mid]].name, name);
		if (c == 0)
			return map->spots_by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SITEMAP_NONE;
}

/* A level member naming a level of the map: its index in *out. */
static int get_level(struct parse *p, const struct sitemap *m, const json_object *o,
		     const char *where, size_t *out)
{
	char id[SITEMAP_ID_MAX];
	int r = get_text(p, o, where, "level", id, sizeof(id));

	if (r != 0)
		return r;
	*out = sitemap_level_find(m, id);
	return *out == SITEMAP_NONE ? reference(p, where, "level", "level", id) : 0;
}

/* x and y on level `level`'s plan. */
static int get_place(struct parse *p, const struct sitemap *m, const json_object *o,
		     const char *where, size_t level, double *x, double *y)
{
	const struct sitemap_level *l = &m->levels[level];
	int r = get_number(p, o, where, "x", 0, l->width, x);

	if (r == 0)
		r = get_number(p, o, where, "y", 0, l->height, y);
	if (r != 0)
		fail(p->err, p->errlen, "%s: x and y must be numbers on level %s's plan "
		     "[0, %g] x [0, %g]", where, l->id, l->width, l->height);
	return r;
}

/* ---- levels, nodes, lanes ---- */

static int parse_level(struct parse *p, const json_object *o, const char *where,
		       struct sitemap_level *l)
{
	int r;

	if ((r = get_text(p, o, where, "id", l->id, sizeof(l->id))) != 0 ||
	    (r = get_text(p, o, where, "name", l->name, sizeof(l->name))) != 0 ||
	    (r = get_number(p, o, where, "width", 0, SITEMAP_PLAN_MAX, &l->width)) != 0 ||
	    (r = get_number(p, o, where, "height", 0, SITEMAP_PLAN_MAX, &l->height)) != 0)
		return r;
	if (l->width <= 0 || l->height <= 0)
		return fail(p->err, p->errlen, "%s: width and height must be more than 0", where);
	return 0;
}

static int parse_levels(struct parse *p, const json_object *site, struct sitemap *m)
{
	char where[SITEMAP_WHERE_MAX];
	json_object *arr, *o;
	size_t i, n;
	int r;

	if ((r = get_array(p, site, "", "levels", 1, SITEMAP_LEVELS_MAX, &arr, &n)) != 0)
		return r;
	if ((m->levels = calloc(n, sizeof(*m->levels))) == NULL)
		return -SITEMAP_E_NOMEM;
	for (i = 0; i < n; i++) {
		if ((r = get_element(p, arr, "levels", i, where, &o)) != 0 ||
		    (r = parse_level(p, o, where, &m->levels[i])) != 0)
			return r;
		if (sitemap_level_find(m, m->levels[i].id) != SITEMAP_NONE)
			return duplicate(p, "level", m->levels[i].id);
		m->nlevels = i + 1;
	}
	return 0;
}

static const char *const sitemap_kind_names[] = {
	[SITEMAP_JUNCTION] = "junction",
	[SITEMAP_ENTRANCE] = "entrance",
	[SITEMAP_EXIT] = "exit",
};

static int parse_node(struct parse *p, const struct sitemap *m, const json_object *o,
		      const char *where, struct sitemap_node *nd)
{
	char kind[16];
	size_t k;
	int r;

	if ((r = get_text(p, o, where, "id", nd->id, sizeof(nd->id))) != 0 ||
	    (r = get_level(p, m, o, where, &nd->level)) != 0 ||
	    (r = get_place(p, m, o, where, nd->level, &nd->x, &nd->y)) != 0)
		return r;
	if (get_text(p, o, where, "kind", kind, sizeof(kind)) == 0)
		for (k = 0; k < sizeof(sitemap_kind_names) / sizeof(sitemap_kind_names[0]); k++)
			if (strcmp(kind, sitemap_kind_names[k]) == 0) {
				nd->kind = (enum sitemap_node_kind)k;
				return 0;
			}
	return fail(p->err, p->errlen, "%s.kind must be entrance, exit or junction", where);
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sitemap_node *)a)->id, ((const struct sitemap_node *)b)->id);
}

static int parse_nodes(struct parse *p, const json_object *site, struct sitemap *m)
{
	char where[SITEMAP_WHERE_MAX];
	json_object *arr, *o;
	size_t i, n;
	int r;

	if ((r = get_array(p, site, "", "nodes", 1, SITEMAP_NODES_MAX, &arr, &n)) != 0)
		return r;
	if ((m->nodes = calloc(n, sizeof(*m->nodes))) == NULL)
		return -SITEMAP_E_NOMEM;
	for (i = 0; i < n; i++)
		if ((r = get_element(p, arr, "nodes", i, where, &o)) != 0 ||
		    (r = parse_node(p, m, o, where, &m->nodes[i])) != 0)
			return r;
	m->nnodes = n;
	qsort(m->nodes, n, sizeof(*m->nodes), node_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(m->nodes[i - 1].id, m->nodes[i].id) == 0)
			return duplicate(p, "node", m->nodes[i].id);
	return 0;
}

/* One end of a lane: element k of the pair, a node ID of the map. */
static int lane_end(struct parse *p, const struct sitemap *m, json_object *pair,
		    const char *where, size_t k, size_t *out)
{
	json_object *v = json_object_array_get_idx(pair, k);
	const char *id;

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return fail(p->err, p->errlen, "%s must be two node IDs", where);
	id = json_object_get_string(v);
	*out = sitemap_node_find(m, id);
	if (*out == SITEMAP_NONE) {
		fail(p->err, p->errlen, "%s: \"%s\" is not a node of this map", where, id);
		return -SITEMAP_E_REFERENCE;
	}
	return 0;
}

static int parse_lanes(struct parse *p, const json_object *site, struct sitemap *m)
{
	char where[SITEMAP_WHERE_MAX];
	json_object *arr, *pair;
	size_t i, n;
	int r;

	if ((r = get_array(p, site, "", "lanes", 0, SITEMAP_LANES_MAX, &arr, &n)) != 0)
		return r;
	if (n > 0 && (m->lanes = calloc(n, sizeof(*m->lanes))) == NULL)
		return -SITEMAP_E_NOMEM;
	for (i = 0; i < n; i++) {
		struct sitemap_lane *l = &m->lanes[i];

		snprintf(where, sizeof(where), "lanes[%zu]", i);
		pair = json_object_array_get_idx(arr, i);
		if (pair == NULL || !json_object_is_type(pair, json_type_array) ||
		    json_object_array_length(pair) != 2)
			return fail(p->err, p->errlen, "%s must be two node IDs", where);
		if ((r = lane_end(p, m, pair, where, 0, &l->a)) != 0 ||
		    (r = lane_end(p, m, pair, where, 1, &l->b)) != 0)
			return r;
		if (l->a == l->b)
			return fail(p->err, p->errlen, "%s must join two different nodes", where);
	}
	m->nlanes = n;
	return 0;
}

/* ---- spots ---- */

/* The live state members of a site map's spot or of a spot's reply; absent is unknown. */
static int parse_state(struct parse *p, const json_object *o, const char *where,
		       struct sitemap_state *st)
{
	int64_t battery, last;
	int r;

	if ((r = get_flag(p, o, where, "locked", &st->locked)) != 0 ||
	    (r = get_flag(p, o, where, "occupied", &st->occupied)) != 0 ||
	    (r = get_flag(p, o, where, "online", &st->online)) != 0 ||
	    (r = get_flag(p, o, where, "taken", &st->taken)) != 0 ||
	    (r = get_int(p, o, where, "battery", 0, 100, false, -1, &battery)) != 0 ||
	    (r = get_int(p, o, where, "last_event_at", 0, INT64_MAX, false, -1, &last)) != 0)
		return r;
	st->battery = (int)battery;
	st->last_event_at = last;
	st->alarm = SITEMAP_ALARM_NONE;
	st->alarm_at = -1;
	st->event_seq = 0;
	return 0;
}

static int parse_spot(struct parse *p, const struct sitemap *m, const json_object *o,
		      const char *where, struct sitemap_spot *s)
{
	char node[SITEMAP_ID_MAX];
	int64_t id;
	int r;

	if ((r = get_int(p, o, where, "id", 1, SITEMAP_U32_MAX, true, 0, &id)) != 0 ||
	    (r = get_text(p, o, where, "name", s->name, sizeof(s->name))) != 0 ||
	    (r = get_level(p, m, o, where, &s->level)) != 0 ||
	    (r = get_place(p, m, o, where, s->level, &s->x, &s->y)) != 0 ||
	    (r = get_text(p, o, where, "node", node, sizeof(node))) != 0 ||
	    (r = get_int(p, o, where, "owner_id", 1, INT64_MAX, false, 0, &s->owner_id)) != 0 ||
	    (r = parse_state(p, o, where, &s->state)) != 0)
		return r;
	s->id = (uint32_t)id;
	s->node = sitemap_node_find(m, node);
	if (s->node == SITEMAP_NONE || m->nodes[s->node].level != s->level)
		return reference(p, where, "node", "node on the spot's level", node);
	return 0;
}

static int spot_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct sitemap_spot *)a)->id, y = ((const struct sitemap_spot *)b)->id;

	return (x > y) - (x < y);
}

/* A spot's key for the level order and the name order. */
struct spot_key {
	size_t index;
	size_t level;
	double x, y;
	uint32_t id;
	const char *name;
};

/* By level, then north to south, west to east, then ID. */
static int place_cmp(const void *a, const void *b)
{
	const struct spot_key *s = a, *t = b;

	if (s->level != t->level)
		return s->level < t->level ? -1 : 1;
	if (s->y != t->y)
		return s->y > t->y ? -1 : 1;
	if (s->x != t->x)
		return s->x < t->x ? -1 : 1;
	return (s->id > t->id) - (s->id < t->id);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct spot_key *)a)->name, ((const struct spot_key *)b)->name);
}

/* The spot orders of struct sitemap: by level and place, by name (names once each). */
static int index_spots(struct parse *p, struct sitemap *m)
{
	struct spot_key *k = calloc(m->nspots, sizeof(*k));
	size_t i;
	int r = -SITEMAP_E_NOMEM;

	m->level_spots = calloc(m->nspots, sizeof(*m->level_spots));
	m->spots_by_name = calloc(m->nspots, sizeof(*m->spots_by_name));
	if (k == NULL || m->level_spots == NULL || m->spots_by_name == NULL)
		goto out;
	for (i = 0; i < m->nspots; i++)
		k[i] = (struct spot_key){ i, m->spots[i].level, m->spots[i].x, m->spots[i].y,
					  m->spots[i].id, m->spots[i].name };
	qsort(k, m->nspots, sizeof(*k), place_cmp);
	for (i = 0; i < m->nspots; i++) {
		struct sitemap_level *l = &m->levels[k[i].level];

		if (l->count++ == 0)
			l->first = i;
		m->level_spots[i] = k[i].index;
	}
	qsort(k, m->nspots, sizeof(*k), name_cmp);
	r = 0;
	for (i = 0; i < m->nspots; i++) {
		m->spots_by_name[i] = k[i].index;
		if (r == 0 && i > 0 && strcmp(k[i - 1].name, k[i].name) == 0)
			r = duplicate(p, "spot name", k[i].name);
	}
out:
	free(k);
	return r;
}

static int parse_spots(struct parse *p, const json_object *site, struct sitemap *m)
{
	char where[SITEMAP_WHERE_MAX], id[16];
	json_object *arr, *o;
	size_t i, n;
	int r;

	if ((r = get_array(p, site, "", "spots", 1, SITEMAP_SPOTS_MAX, &arr, &n)) != 0)
		return r;
	if ((m->spots = calloc(n, sizeof(*m->spots))) == NULL)
		return -SITEMAP_E_NOMEM;
	for (i = 0; i < n; i++)
		if ((r = get_element(p, arr, "spots", i, where, &o)) != 0 ||
		    (r = parse_spot(p, m, o, where, &m->spots[i])) != 0)
			return r;
	m->nspots = n;
	qsort(m->spots, n, sizeof(*m->spots), spot_cmp);
	for (i = 1; i < n; i++)
		if (m->spots[i - 1].id == m->spots[i].id) {
			snprintf(id, sizeof(id), "%lu", (unsigned long)m->spots[i].id);
			return duplicate(p, "spot ID", id);
		}
	return index_spots(p, m);
}

/* ---- the whole map ---- */

static int parse_site(struct parse *p, const json_object *site, struct sitemap *m)
{
	int r;

	m->marked = SITEMAP_NONE;
	if (site == NULL || !json_object_is_type(site, json_type_object))
		return fail(p->err, p->errlen, "the map must be a JSON object");
	if ((r = get_int(p, site, "map", "site_id", 1, SITEMAP_U32_MAX, true, 0,
			 &m->site_id)) != 0 ||
	    (r = get_text(p, site, "map", "name", m->name, sizeof(m->name))) != 0 ||
	    (r = parse_levels(p, site, m)) != 0 || (r = parse_nodes(p, site, m)) != 0 ||
	    (r = parse_lanes(p, site, m)) != 0 || (r = parse_spots(p, site, m)) != 0)
		return r;
	return 0;
}

int sitemap_parse_site(json_object *site, struct sitemap *out, char *err, size_t errlen)
{
	struct parse p = { err, errlen };
	struct sitemap m;
	int r;

	memset(&m, 0, sizeof(m));
	r = parse_site(&p, site, &m);
	if (r == -SITEMAP_E_NOMEM)
		fail(err, errlen, "out of memory reading the map");
	if (r != 0) {
		sitemap_free(&m);
		return r;
	}
	*out = m; /* transferred */
	return 0;
}

/* ---- routes ---- */

static int parse_route_nodes(struct parse *p, const struct sitemap *m, const json_object *o,
			     const char *where, struct sitemap_route *rt)
{
	char at[SITEMAP_WHERE_MAX];
	json_object *arr, *v;
	size_t i;
	int r;

	if ((r = get_array(p, o, where, "nodes", 0, SITEMAP_NODES_MAX, &arr, &rt->nnodes)) != 0)
		return r;
	if (rt->nnodes > 0 && (rt->nodes = calloc(rt->nnodes, sizeof(*rt->nodes))) == NULL)
		return -SITEMAP_E_NOMEM;
	for (i = 0; i < rt->nnodes; i++) {
		path_index(at, where, "nodes", i);
		v = json_object_array_get_idx(arr, i);
		if (v == NULL || !json_object_is_type(v, json_type_string))
			return fail(p->err, p->errlen, "%s must be a node ID", at);
		rt->nodes[i] = sitemap_node_find(m, json_object_get_string(v));
		if (rt->nodes[i] == SITEMAP_NONE) {
			fail(p->err, p->errlen, "%s: \"%s\" is not a node of this map", at,
			     json_object_get_string(v));
			return -SITEMAP_E_REFERENCE;
		}
	}
	return 0;
}

static int parse_route_points(struct parse *p, const struct sitemap *m, const json_object *o,
			      const char *where, struct sitemap_route *rt)
{
	char at[SITEMAP_WHERE_MAX];
	json_object *arr, *v;
	size_t i;
	int r;

	if ((r = get_array(p, o, where, "points", 1, SITEMAP_POINTS_MAX, &arr, &rt->npoints)) != 0)
		return r;
	if ((rt->points = calloc(rt->npoints, sizeof(*rt->points))) == NULL)
		return -SITEMAP_E_NOMEM;
	for (i = 0; i < rt->npoints; i++) {
		struct sitemap_point *pt = &rt->points[i];

		path_index(at, where, "points", i);
		v = json_object_array_get_idx(arr, i);
		if (v == NULL || !json_object_is_type(v, json_type_object))
			return fail(p->err, p->errlen, "%s must be an object", at);
		if ((r = get_level(p, m, v, at, &pt->level)) != 0 ||
		    (r = get_place(p, m, v, at, pt->level, &pt->x, &pt->y)) != 0)
			return r;
	}
	return 0;
}

static int parse_sentences(struct parse *p, const json_object *o, const char *where,
			   struct sitemap_route *rt)
{
	json_object *arr, *v;
	size_t i, n, len;
	const char *s;
	int r;

	if ((r = get_array(p, o, where, "sentences", 0, SITEMAP_SENTENCES_MAX, &arr, &n)) != 0)
		return r;
	if (n > 0 && (rt->sentences = calloc(n, sizeof(*rt->sentences))) == NULL)
		return -SITEMAP_E_NOMEM;
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(arr, i);
		s = v != NULL && json_object_is_type(v, json_type_string) ?
			    json_object_get_string(v) : NULL;
		len = s != NULL ? (size_t)json_object_get_string_len(v) : 0;
		if (s == NULL || len >= SITEMAP_SENTENCE_MAX || strlen(s) != len ||
		    !text_ok(s, len))
			return fail(p->err, p->errlen, "%s.sentences[%zu] must be UTF-8 text "
				    "without control characters, under %d bytes", where, i,
				    SITEMAP_SENTENCE_MAX);
		if ((rt->sentences[i] = strdup(s)) == NULL)
			return -SITEMAP_E_NOMEM;
		rt->nsentences = i + 1;
	}
	return 0;
}

static int parse_route(struct parse *p, const struct sitemap *m, const json_object *routes,
		       const char *key, struct sitemap_route *rt)
{
	char where[SITEMAP_WHERE_MAX];
	json_object *o = member(routes, key);
	int r;

	snprintf(where, sizeof(where), "routes.%s", key);
	if (o == NULL || !json_object_is_type(o, json_type_object))
		return fail(p->err, p->errlen, "%s must be a route object", where);
	if ((r = parse_route_nodes(p, m, o, where, rt)) != 0 ||
	    (r = parse_route_points(p, m, o, where, rt)) != 0 ||
	    (r = get_number(p, o, where, "length_m", 0, 1e9, &rt->length_m)) != 0 ||
	    (r = parse_sentences(p, o, where, rt)) != 0)
		return r;
	rt->present = true;
	return 0;
}

/* The spot map's "spot": marked, its state (with "taken") taken over. */
static int parse_marked(struct parse *p, const json_object *root, struct sitemap *m)
{
	json_object *spot = member(root, "spot");
	struct sitemap_state st;
	int64_t id, owner;
	int r;

	if (spot == NULL || !json_object_is_type(spot, json_type_object))
		return fail(p->err, p->errlen, "spot must be an object");
	if ((r = get_int(p, spot, "spot", "id", 1, SITEMAP_U32_MAX, true, 0, &id)) != 0 ||
	    (r = get_int(p, spot, "spot", "owner_id", 1, INT64_MAX, false, 0, &owner)) != 0 ||
	    (r = parse_state(p, spot, "spot", &st)) != 0)
		return r;
	m->marked = sitemap_spot_find(m, id);
	if (m->marked == SITEMAP_NONE) {
		fail(p->err, p->errlen, "spot.id: %lld is not a spot of this map", (long long)id);
		return -SITEMAP_E_REFERENCE;
	}
	m->spots[m->marked].state = st;
	if (owner != 0)
		m->spots[m->marked].owner_id = owner;
	return 0;
}

static int parse_spot_map(struct parse *p, const json_object *root, struct sitemap *m)
{
	json_object *routes;
	int r;

	m->marked = SITEMAP_NONE;
	if (root == NULL || !json_object_is_type(root, json_type_object))
		return fail(p->err, p->errlen, "the spot map must be a JSON object");
	if ((r = parse_site(p, member(root, "map"), m)) != 0 ||
	    (r = parse_marked(p, root, m)) != 0)
		return r;
	routes = member(root, "routes");
	if (routes == NULL || !json_object_is_type(routes, json_type_object))
		return fail(p->err, p->errlen, "routes must be an object with in and out");
	if ((r = parse_route(p, m, routes, "in", &m->route_in)) != 0 ||
	    (r = parse_route(p, m, routes, "out", &m->route_out)) != 0)
		return r;
	return 0;
}

int sitemap_parse_spot_map(json_object *spot_map, struct sitemap *out, char *err,
			   size_t errlen)
{
	struct parse p = { err, errlen };
	struct sitemap m;
	int r;

	memset(&m, 0, sizeof(m));
	r = parse_spot_map(&p, spot_map, &m);
	if (r == -SITEMAP_E_NOMEM)
		fail(err, errlen, "out of memory reading the map");
	if (r != 0) {
		sitemap_free(&m);
		return r;
	}
	*out = m; /* transferred */
	return 0;
}

static void route_free(struct sitemap_route *rt)
{
	size_t i;

	for (i = 0; i < rt->nsentences; i++)
		free(rt->sentences[i]);
	free(rt->sentences);
	free(rt->points);
	free(rt->nodes);
}

void sitemap_free(struct sitemap *map)
{
	if (map == NULL)
		return;
	free(map->levels);
	free(map->nodes);
	free(map->lanes);
	free(map->spots);
	free(map->level_spots);
	free(map->spots_by_name);
	route_free(&map->route_in);
	route_free(&map->route_out);
	memset(map, 0, sizeof(*map));
	map->marked = SITEMAP_NONE;
}

/* ---- lookups ---- */

const size_t *sitemap_level_spots(const struct sitemap *map, size_t level, size_t *count)
{
	*count = 0;
	if (map == NULL || level >= map->nlevels || map->levels[level].count == 0)
		return NULL;
	*count = map->levels[level].count;
	return &map->level_spots[map->levels[level].first];
}

/*
 * The spot of s's level ahead of s in direction (dx, dy) within the cone where the
 * distance aside is under `spread` times the distance ahead, nearest by distance ahead
 * plus twice the distance aside; SITEMAP_NONE when the cone holds none.
 */
static size_t nearest_ahead(const struct sitemap *map, size_t spot, int dx, int dy,
			    double spread)
{
	const struct sitemap_spot *s = &map->spots[spot];
	double len = sqrt((double)(dx * dx + dy * dy)), best_score = INFINITY;
	size_t n, i, best = SITEMAP_NONE;
	const size_t *list = sitemap_level_spots(map, s->level, &n);

	for (i = 0; i < n; i++) {
		const struct sitemap_spot *t = &map->spots[list[i]];
		double ex = t->x - s->x, ey = t->y - s->y;
		double ahead = (ex * dx + ey * dy) / len, aside = fabs(ex * dy - ey * dx) / len;

		if (list[i] == spot || ahead <= 0 || aside >= ahead * spread)
			continue;
		if (ahead + 2.0 * aside < best_score) {
			best_score = ahead + 2.0 * aside;
			best = list[i];
		}
	}
	return best;
}

size_t sitemap_spot_neighbour(const struct sitemap *map, size_t spot, int dx, int dy)
{
	size_t next;

	if (map == NULL || spot >= map->nspots || dx < -1 || dx > 1 || dy < -1 || dy > 1 ||
	    (dx == 0 && dy == 0))
		return SITEMAP_NONE;
	/* Within 45 degrees of the way asked; failing that, anything short of sideways. */
	next = nearest_ahead(map, spot, dx, dy, 1.0);
	return next != SITEMAP_NONE ? next : nearest_ahead(map, spot, dx, dy, 5.67);
}

/* ---- live updates ---- */

/* What a kind of event says; SITEMAP_KEEP leaves a flag alone. */
struct event_effect {
	const char *kind;
	int locked, occupied, online;
	bool lock_event;          /* from the lock (has seq), not a reach change */
	bool battery_arg16;       /* arg16 is the battery percent */
	enum sitemap_alarm alarm; /* raised, or NONE */
	bool clears_alarm;
};

static const struct event_effect sitemap_events[] = {
	{ "boot", SITEMAP_KEEP, SITEMAP_KEEP, SITEMAP_YES, true, true, SITEMAP_ALARM_NONE, false },
	{ "unlocked", SITEMAP_NO, SITEMAP_KEEP, SITEMAP_YES, true, false, SITEMAP_ALARM_NONE, true },
	{ "locked", SITEMAP_YES, SITEMAP_KEEP, SITEMAP_YES, true, false, SITEMAP_ALARM_NONE, true },
	{ "car_arrived", SITEMAP_KEEP, SITEMAP_YES, SITEMAP_YES, true, false, SITEMAP_ALARM_NONE,
	  false },
	{ "car_left", SITEMAP_KEEP, SITEMAP_NO, SITEMAP_YES, true, false, SITEMAP_ALARM_NONE, false },
	{ "forced", SITEMAP_NO, SITEMAP_KEEP, SITEMAP_YES, true, false, SITEMAP_ALARM_FORCED, false },
	{ "jammed", SITEMAP_KEEP, SITEMAP_KEEP, SITEMAP_YES, true, false, SITEMAP_ALARM_JAMMED,
	  false },
	{ "low_battery", SITEMAP_KEEP, SITEMAP_KEEP, SITEMAP_YES, true, true, SITEMAP_ALARM_NONE,
	  false },
	{ "lockout", SITEMAP_KEEP, SITEMAP_KEEP, SITEMAP_YES, true, false, SITEMAP_ALARM_LOCKOUT,
	  false },
	{ "mgmt", SITEMAP_KEEP, SITEMAP_KEEP, SITEMAP_YES, true, false, SITEMAP_ALARM_NONE, false },
	{ "time_set", SITEMAP_KEEP, SITEMAP_KEEP, SITEMAP_YES, true, false, SITEMAP_ALARM_NONE,
	  false },
	{ "online", SITEMAP_KEEP, SITEMAP_KEEP, SITEMAP_YES, false, false, SITEMAP_ALARM_NONE,
	  false },
	{ "offline", SITEMAP_KEEP, SITEMAP_KEEP, SITEMAP_NO, false, false, SITEMAP_ALARM_NONE,
	  false },
};

/* The integer members of an event; absent ones are -1. */
struct event_in {
	int64_t spot, seq, time, arg8, arg16, received_at;
};

static int event_read(const json_object *o, struct event_in *e)
{
	struct parse p = { NULL, 0 };

	if (get_int(&p, o, "", "spot", 1, SITEMAP_U32_MAX, false, -1, &e->spot) != 0 ||
	    get_int(&p, o, "", "seq", 1, SITEMAP_U32_MAX, false, -1, &e->seq) != 0 ||
	    get_int(&p, o, "", "time", 0, INT64_MAX, false, -1, &e->time) != 0 ||
	    get_int(&p, o, "", "arg8", 0, 255, false, -1, &e->arg8) != 0 ||
	    get_int(&p, o, "", "arg16", 0, 65535, false, -1, &e->arg16) != 0 ||
	    get_int(&p, o, "", "received_at", 0, INT64_MAX, false, -1, &e->received_at) != 0)
		return -SITEMAP_E_INVALID;
	return 0;
}

static void set_flag(enum sitemap_flag *f, int v)
{
	if (v != SITEMAP_KEEP)
		*f = (enum sitemap_flag)v;
}

/* An event's effect on a copy of the state. */
static void event_apply(const struct event_effect *fx, const struct event_in *e,
			struct sitemap_state *st)
{
	int64_t when = e->received_at >= 0 ? e->received_at : e->time;
	bool newest = fx->lock_event && (e->seq < 0 || e->seq > st->event_seq);

	set_flag(&st->online, fx->online);
	if (fx->lock_event && when >= 0)
		st->last_event_at = when;
	if (!newest)
		return;
	if (e->seq > 0)
		st->event_seq = e->seq;
	set_flag(&st->locked, fx->locked);
	set_flag(&st->occupied, fx->occupied);
	if (strcmp(fx->kind, "boot") == 0 && (e->arg8 == 0 || e->arg8 == 1))
		st->locked = e->arg8 == 0 ? SITEMAP_YES : SITEMAP_NO; /* barrier up: locked */
	if (fx->battery_arg16 && e->arg16 >= 0 && e->arg16 <= 100)
		st->battery = (int)e->arg16;
	if (fx->clears_alarm)
		st->alarm = SITEMAP_ALARM_NONE;
	if (fx->alarm != SITEMAP_ALARM_NONE) {
		st->alarm = fx->alarm;
		st->alarm_at = when;
	}
}

static int update_event(const json_object *o, json_object *kind, int64_t spot_id,
			struct sitemap_state *st)
{
	const char *name;
	struct event_in e;
	size_t i;

	if (!json_object_is_type(kind, json_type_string))
		return -SITEMAP_E_INVALID;
	name = json_object_get_string(kind);
	if (event_read(o, &e) != 0 || (e.spot >= 0 && e.spot != spot_id))
		return -SITEMAP_E_INVALID;
	for (i = 0; i < sizeof(sitemap_events) / sizeof(sitemap_events[0]); i++)
		if (strcmp(sitemap_events[i].kind, name) == 0) {
			event_apply(&sitemap_events[i], &e, st);
			return 0;
		}
	return -SITEMAP_E_KIND;
}

/* A state member present replaces the known one (null: unknown). */
static int update_flag(const json_object *o, const char *key, enum sitemap_flag *f)
{
	struct parse p = { NULL, 0 };

	if (!json_object_object_get_ex(o, key, NULL))
		return 0;
	return get_flag(&p, o, "", key, f);
}

static int update_state(const json_object *o, int64_t spot_id, struct sitemap_state *st)
{
	struct parse p = { NULL, 0 };
	int64_t id, battery = st->battery, last = st->last_event_at;

	if (get_int(&p, o, "", "id", 1, SITEMAP_U32_MAX, false, spot_id, &id) != 0 ||
	    id != spot_id || update_flag(o, "locked", &st->locked) != 0 ||
	    update_flag(o, "occupied", &st->occupied) != 0 ||
	    update_flag(o, "online", &st->online) != 0 ||
	    update_flag(o, "taken", &st->taken) != 0)
		return -SITEMAP_E_INVALID;
	if (json_object_object_get_ex(o, "battery", NULL) &&
	    get_int(&p, o, "", "battery", 0, 100, false, -1, &battery) != 0)
		return -SITEMAP_E_INVALID;
	if (json_object_object_get_ex(o, "last_event_at", NULL) &&
	    get_int(&p, o, "", "last_event_at", 0, INT64_MAX, false, -1, &last) != 0)
		return -SITEMAP_E_INVALID;
	st->battery = (int)battery;
	st->last_event_at = last;
	return 0;
}

long sitemap_spot_update(struct sitemap *map, int64_t spot_id, const json_object *update)
{
	size_t i = sitemap_spot_find(map, spot_id);
	struct sitemap_state st;
	json_object *kind = NULL;
	int r;

	if (i == SITEMAP_NONE)
		return -SITEMAP_E_NOT_FOUND;
	if (update == NULL || !json_object_is_type(update, json_type_object))
		return -SITEMAP_E_INVALID;
	st = map->spots[i].state;
	if (json_object_object_get_ex(update, "kind", &kind))
		r = update_event(update, kind, spot_id, &st);
	else
		r = update_state(update, spot_id, &st);
	if (r != 0)
		return r;
	map->spots[i].state = st;
	return (long)i;
}

void sitemap_spot_clear_alarm(struct sitemap *map, size_t spot)
{
	if (map == NULL || spot >= map->nspots)
		return;
	map->spots[spot].state.alarm = SITEMAP_ALARM_NONE;
	map->spots[spot].state.alarm_at = -1;
}
