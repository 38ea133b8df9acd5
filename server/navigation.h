/*
 * navigation.h: routes through a garage (claim 10, patent [0049]): the lane graph of a
 * site, the shortest path between two of its nodes (Dijkstra), the nearest entrance or
 * exit, and turn-by-turn sentences a head unit can show or speak.
 *
 * Coordinates are metres on each level's plan, x to the east, y to the north. Lanes
 * are two-way. A lane between two levels is a ramp. The graph is built in memory from
 * the site tables by the caller; this module does no I/O.
 */
#ifndef PARK_NAVIGATION_H
#define PARK_NAVIGATION_H

#include <stddef.h>

#define NAVIGATION_ID_MAX 32
#define NAVIGATION_NODES_MAX 1024
#define NAVIGATION_LANES_MAX 4096
#define NAVIGATION_RAMP_PENALTY 10.0 /* metres a ramp counts beyond its plan length */

enum navigation_kind {
	NAVIGATION_JUNCTION = 0,
	NAVIGATION_ENTRANCE = 1,
	NAVIGATION_EXIT = 2,
};

struct navigation_node {
	char id[NAVIGATION_ID_MAX];
	char level[NAVIGATION_ID_MAX];
	double x;
	double y;
	enum navigation_kind kind;
};

struct navigation_lane {
	int a;
	int b;
	double length; /* metres, ramp penalty included */
};

struct navigation_graph {
	struct navigation_node nodes[NAVIGATION_NODES_MAX];
	size_t node_count;
	struct navigation_lane lanes[NAVIGATION_LANES_MAX];
	size_t lane_count;
};

/* A path: node indexes from start to goal, and its length in metres. */
struct navigation_path {
	int nodes[NAVIGATION_NODES_MAX];
	size_t count;
	double length;
};

void navigation_init(struct navigation_graph *g);

/* Adds a node. Returns its index, or -1 when the ID is empty, too long, taken, or the graph is full. */
int navigation_add_node(struct navigation_graph *g, const char *id, const char *level, double x,
			double y, enum navigation_kind kind);

/* Adds a two-way lane between two known node IDs. 0, or -1 (unknown node, self-loop, full). */
int navigation_add_lane(struct navigation_graph *g, const char *a, const char *b);

/* The index of node `id`, or -1. */
int navigation_find(const struct navigation_graph *g, const char *id);

/* The shortest path from node `from` to node `to`. 0, or -1 when none exists. */
int navigation_shortest(const struct navigation_graph *g, int from, int to,
			struct navigation_path *out);

/*
 * The shortest path from `from` to the nearest node of `kind` (for an entrance the path
 * runs from that entrance to `from`, the way a driver comes in). 0, or -1 when none.
 */
int navigation_nearest(const struct navigation_graph *g, int from, enum navigation_kind kind,
		       struct navigation_path *out);

/*
 * Writes turn-by-turn sentences for `path` into out[0..cap), one sentence a line,
 * NUL-terminated: the start, each turn (left, right, straight on) with distances, level
 * changes on ramps, and the arrival; legs that go straight on make one sentence.
 * `arrival` names the goal ("spot B1-05", "the
 * exit"). Returns the length written, or -1 when cap is too small.
 */
int navigation_describe(const struct navigation_graph *g, const struct navigation_path *path,
			const char *arrival, char *out, size_t cap);

#endif
