/*
 * sitemap.h: the garage map as the key server gives it (GET /v1/sites/{id} and
 * GET /v1/spots/{id}/map, server/API.md): levels, the lane graph, spots with their live
 * state, and a spot map's marked spot and routes. parkctl and parkconsole draw from it
 * (lib/maptext.h, phone/mapsvg.h). It owns parsing, lookups and live updates; it does no
 * I/O and draws nothing.
 *
 * Coordinates are metres on each level's plan, x to the east, y to the north, inside
 * [0, width] x [0, height]. Every array is on the heap and owned by the struct sitemap.
 */
#ifndef PARK_SITEMAP_H
#define PARK_SITEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define SITEMAP_ID_MAX 32        /* level and node IDs: 1 .. 31 bytes and the NUL */
#define SITEMAP_NAME_MAX 65      /* site, level and spot names: 1 .. 64 bytes and the NUL */
#define SITEMAP_LEVELS_MAX 256
#define SITEMAP_NODES_MAX 65536
#define SITEMAP_LANES_MAX 262144
#define SITEMAP_SPOTS_MAX 65536
#define SITEMAP_POINTS_MAX 65536    /* points of one route */
#define SITEMAP_SENTENCES_MAX 1024  /* sentences of one route */
#define SITEMAP_SENTENCE_MAX 4096   /* bytes of one sentence, the NUL included */
#define SITEMAP_PLAN_MAX 100000.0   /* metres: the largest level side taken */
#define SITEMAP_NONE SIZE_MAX       /* "no such index" from every lookup */

/* Errors, returned negated. */
enum sitemap_error {
	SITEMAP_E_INVALID = 1,   /* a member missing, of the wrong type, or out of range */
	SITEMAP_E_REFERENCE = 2, /* a level, node or spot that the map does not have */
	SITEMAP_E_DUPLICATE = 3, /* an ID or spot name given twice */
	SITEMAP_E_NOMEM = 4,
	SITEMAP_E_NOT_FOUND = 5, /* sitemap_spot_update: no spot of that ID on this map */
	SITEMAP_E_KIND = 6,      /* sitemap_spot_update: an event kind unknown here */
};

/* A yes/no fact the server may not know yet (JSON null or absent). */
enum sitemap_flag {
	SITEMAP_UNKNOWN = -1,
	SITEMAP_NO = 0,
	SITEMAP_YES = 1,
};

/* An alarm a lock raised and no later lock or unlock has cleared. */
enum sitemap_alarm {
	SITEMAP_ALARM_NONE = 0,
	SITEMAP_ALARM_FORCED,  /* barrier pushed down without the motor */
	SITEMAP_ALARM_JAMMED,  /* the motor stuck */
	SITEMAP_ALARM_LOCKOUT, /* too many bad keys: the lock refuses for a while */
};

enum sitemap_node_kind {
	SITEMAP_JUNCTION = 0,
	SITEMAP_ENTRANCE,
	SITEMAP_EXIT,
};

struct sitemap_level {
	char id[SITEMAP_ID_MAX];     /* "B1" */
	char name[SITEMAP_NAME_MAX]; /* "Basement 1", UTF-8 as given */
	double width;                /* metres, > 0 */
	double height;               /* metres, > 0 */
	size_t first;                /* its spots: map->level_spots[first .. first + count) */
	size_t count;
};

struct sitemap_node {
	char id[SITEMAP_ID_MAX];
	size_t level; /* index into levels */
	double x, y;  /* metres, on the level's plan */
	enum sitemap_node_kind kind;
};

/* A two-way lane; nodes on two levels make a ramp. */
struct sitemap_lane {
	size_t a, b; /* node indexes, a != b */
};

/* What the server knows of a lock now; sitemap_spot_update() keeps it current. */
struct sitemap_state {
	enum sitemap_flag locked;   /* barrier up */
	enum sitemap_flag occupied; /* a car on the spot */
	enum sitemap_flag online;   /* some gateway reaches the lock */
	enum sitemap_flag taken;    /* someone other than the owner holds a live e-key */
	int battery;                /* percent 0 .. 100, or -1: unknown */
	int64_t last_event_at;      /* unix seconds the server last heard of it, or -1 */
	enum sitemap_alarm alarm;
	int64_t alarm_at;           /* unix seconds of the alarm's event, or -1 */
	int64_t event_seq;          /* the newest lock event applied (0: none): older ones are
				     * stale and change only last_event_at and online */
};

struct sitemap_spot {
	uint32_t id;                 /* the lock's spot ID, 1 .. 4294967295 */
	char name[SITEMAP_NAME_MAX]; /* "B1-05", UTF-8 as given */
	size_t level;                /* index into levels */
	double x, y;                 /* metres, on the level's plan */
	size_t node;                 /* the node a driver reaches it from (on its level) */
	int64_t owner_id;            /* user ID, 0: none or not told */
	struct sitemap_state state;
};

struct sitemap_point {
	size_t level; /* index into levels */
	double x, y;  /* metres */
};

/* A route of a spot map: into the garage to the spot, or from the spot to an exit. */
struct sitemap_route {
	bool present;                  /* false on a site map (no routes) */
	size_t *nodes;                 /* node indexes along the way */
	size_t nnodes;
	struct sitemap_point *points;  /* the polyline, the spot's own place at one end */
	size_t npoints;
	double length_m;               /* >= 0 */
	char **sentences;              /* turn by turn, UTF-8, NUL-terminated each */
	size_t nsentences;
};

struct sitemap {
	int64_t site_id;              /* 1 .. 4294967295 */
	char name[SITEMAP_NAME_MAX];
	struct sitemap_level *levels; /* in the server's order (the site description's) */
	size_t nlevels;               /* >= 1 */
	struct sitemap_node *nodes;   /* ordered by ID (strcmp) */
	size_t nnodes;
	struct sitemap_lane *lanes;
	size_t nlanes;
	struct sitemap_spot *spots;   /* ordered by ID */
	size_t nspots;                /* >= 1 */
	size_t *level_spots;          /* nspots spot indexes, grouped by level; in each group
				       * north to south, then west to east, then by ID */
	size_t *spots_by_name;        /* nspots spot indexes ordered by name (strcmp) */
	size_t marked;                /* a spot map's spot, or SITEMAP_NONE */
	struct sitemap_route route_in;  /* entrance to the marked spot */
	struct sitemap_route route_out; /* the marked spot to an exit */
};

/*
 * Parses a site map (the reply of GET /v1/sites/{id}) into *out. Members the map does
 * not use (policy, gateways, ...) are ignored; every one it uses is checked: types,
 * ranges, finite coordinates on the level's plan, references to levels and nodes, IDs
 * and spot names given once, names valid UTF-8 without control characters. Live-state
 * members that are absent or null are SITEMAP_UNKNOWN (-1 for numbers).
 * Returns 0 and fills *out, which the caller frees with sitemap_free(); or a negative
 * enum sitemap_error with a sentence naming the member ("spots[3].level: ...") in
 * err[0..errlen), *out untouched and nothing allocated. err may be NULL when errlen is 0.
 */
int sitemap_parse_site(json_object *site, struct sitemap *out, char *err, size_t errlen);

/*
 * Parses a spot map (the reply of GET /v1/spots/{id}/map): its "map" as
 * sitemap_parse_site(), then marks its "spot" (which must be on the map, and whose live
 * state, "taken" included, it takes) and parses "routes" "in" and "out" (points on known
 * levels and on their plans, nodes known). Same returns and ownership as
 * sitemap_parse_site().
 */
int sitemap_parse_spot_map(json_object *spot_map, struct sitemap *out, char *err,
			   size_t errlen);

/* Frees what a parse allocated and zeroes *map (marked becomes SITEMAP_NONE). NULL is fine. */
void sitemap_free(struct sitemap *map);

/* The index of level `id`, or SITEMAP_NONE. */
size_t sitemap_level_find(const struct sitemap *map, const char *id);

/* The index of spot `id`, or SITEMAP_NONE. O(log n). */
size_t sitemap_spot_find(const struct sitemap *map, int64_t id);

/* The index of the spot named `name` (exactly, bytewise), or SITEMAP_NONE. O(log n). */
size_t sitemap_spot_find_name(const struct sitemap *map, const char *name);

/* The index of node `id`, or SITEMAP_NONE. O(log n). */
size_t sitemap_node_find(const struct sitemap *map, const char *id);

/*
 * The spots of level `level` in their stable order (as they read on the map: north to
 * south, west to east, then by ID): *count indexes into map->spots. NULL with *count 0
 * when level is out of range. The array belongs to the map.
 */
const size_t *sitemap_level_spots(const struct sitemap *map, size_t level, size_t *count);

/*
 * For arrow keys: the spot on the same level nearest to spot `spot` in direction
 * (dx, dy), plan coordinates (dx > 0 east, dy > 0 north: the Up key is dy = +1, the map
 * being drawn north up). Spots within 45 degrees of that way come first, then any up to
 * 80 degrees; nearer and straighter ahead is better.
 * dx and dy are -1, 0 or 1, not both 0. Returns a spot index, or SITEMAP_NONE when
 * there is none that way or the arguments are out of range.
 */
size_t sitemap_spot_neighbour(const struct sitemap *map, size_t spot, int dx, int dy);

/*
 * Applies a live update to spot `spot_id`, given either as an event of the event stream
 * (it has "kind": a lock event "boot", "unlocked", "locked", "car_arrived", "car_left",
 * "forced", "jammed", "low_battery", "lockout", "mgmt", "time_set" as in
 * server/event.c, or a reach change "online" / "offline") or as a spot's state (no
 * "kind": GET /v1/spots/{id}; the members it has replace the known state, null meaning
 * unknown). An event whose "spot" member names another spot is refused. A lock event
 * older than the newest applied ("seq") changes only last_event_at and online, as on
 * the server. The whole update is checked before anything changes.
 * Returns the spot's index (>= 0); or -SITEMAP_E_NOT_FOUND (no such spot on this map),
 * -SITEMAP_E_KIND (an event kind unknown here) or -SITEMAP_E_INVALID (a member of the
 * wrong type or range), with the map unchanged.
 */
long sitemap_spot_update(struct sitemap *map, int64_t spot_id, const json_object *update);

/* An operator saw spot `spot`'s alarm: clears it. No-op when out of range. */
void sitemap_spot_clear_alarm(struct sitemap *map, size_t spot);

#endif
