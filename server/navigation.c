/*
 * navigation.c: garage routes; see navigation.h. Dijkstra over an adjacency scan is
 * O(nodes^2), which for a garage of a few hundred nodes is microseconds.
 */
#include "navigation.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TURN_STRAIGHT_DEG 30.0 /* within this of straight ahead is "straight on" */

void navigation_init(struct navigation_graph *g)
{
	g->node_count = 0;
	g->lane_count = 0;
}

int navigation_find(const struct navigation_graph *g, const char *id)
{
	size_t i;

	for (i = 0; i < g->node_count; i++)
		if (strcmp(g->nodes[i].id, id) == 0)
			return (int)i;
	return -1;
}

int navigation_add_node(struct navigation_graph *g, const char *id, const char *level, double x,
			double y, enum navigation_kind kind)
{
	struct navigation_node *n;

	if (id == NULL || level == NULL || id[0] == '\0' || strlen(id) >= NAVIGATION_ID_MAX ||
	    strlen(level) >= NAVIGATION_ID_MAX || g->node_count >= NAVIGATION_NODES_MAX ||
	    navigation_find(g, id) >= 0 || !isfinite(x) || !isfinite(y))
		return -1;
	n = &g->nodes[g->node_count];
	snprintf(n->id, sizeof(n->id), "%s", id);
	snprintf(n->level, sizeof(n->level), "%s", level);
	n->x = x;
	n->y = y;
	n->kind = kind;
	return (int)g->node_count++;
}

static bool is_ramp(const struct navigation_graph *g, int a, int b)
{
	return strcmp(g->nodes[a].level, g->nodes[b].level) != 0;
}

int navigation_add_lane(struct navigation_graph *g, const char *a, const char *b)
{
	int ia = navigation_find(g, a), ib = navigation_find(g, b);
	struct navigation_lane *l;

	if (ia < 0 || ib < 0 || ia == ib || g->lane_count >= NAVIGATION_LANES_MAX)
		return -1;
	l = &g->lanes[g->lane_count++];
	l->a = ia;
	l->b = ib;
	l->length = hypot(g->nodes[ib].x - g->nodes[ia].x, g->nodes[ib].y - g->nodes[ia].y);
	if (is_ramp(g, ia, ib))
		l->length += NAVIGATION_RAMP_PENALTY;
	return 0;
}

/* Dijkstra from `from`: dist[] and prev[] for every node. */
static void dijkstra(const struct navigation_graph *g, int from, double *dist, int *prev)
{
	bool done[NAVIGATION_NODES_MAX];
	size_t i, k;

	for (i = 0; i < g->node_count; i++) {
		dist[i] = INFINITY;
		prev[i] = -1;
		done[i] = false;
	}
	dist[from] = 0;
	for (k = 0; k < g->node_count; k++) {
		int u = -1;

		for (i = 0; i < g->node_count; i++)
			if (!done[i] && (u < 0 || dist[i] < dist[u]))
				u = (int)i;
		if (u < 0 || isinf(dist[u]))
			return;
		done[u] = true;
		for (i = 0; i < g->lane_count; i++) {
			const struct navigation_lane *l = &g->lanes[i];
			int v = l->a == u ? l->b : l->b == u ? l->a : -1;

			if (v >= 0 && dist[u] + l->length < dist[v]) {
				dist[v] = dist[u] + l->length;
				prev[v] = u;
			}
		}
	}
}

/* Walks prev[] back from `to`; `reverse` gives the path from `to` instead. */
static int build_path(const struct navigation_graph *g, const double *dist, const int *prev,
		      int to, bool reverse, struct navigation_path *out)
{
	int stack[NAVIGATION_NODES_MAX];
	size_t n = 0, i;
	int v;

	if (isinf(dist[to]))
		return -1;
	for (v = to; v >= 0 && n < g->node_count; v = prev[v])
		stack[n++] = v;
	out->count = n;
	out->length = dist[to];
	for (i = 0; i < n; i++)
		out->nodes[i] = reverse ? stack[i] : stack[n - 1 - i];
	return 0;
}

int navigation_shortest(const struct navigation_graph *g, int from, int to,
			struct navigation_path *out)
{
	double dist[NAVIGATION_NODES_MAX];
	int prev[NAVIGATION_NODES_MAX];

	if (from < 0 || to < 0 || (size_t)from >= g->node_count || (size_t)to >= g->node_count)
		return -1;
	dijkstra(g, from, dist, prev);
	return build_path(g, dist, prev, to, false, out);
}

int navigation_nearest(const struct navigation_graph *g, int from, enum navigation_kind kind,
		       struct navigation_path *out)
{
	double dist[NAVIGATION_NODES_MAX];
	int prev[NAVIGATION_NODES_MAX];
	int best = -1;
	size_t i;

	if (from < 0 || (size_t)from >= g->node_count)
		return -1;
	dijkstra(g, from, dist, prev);
	for (i = 0; i < g->node_count; i++)
		if (g->nodes[i].kind == kind && !isinf(dist[i]) &&
		    (best < 0 || dist[i] < dist[best]))
			best = (int)i;
	if (best < 0)
		return -1;
	/* Lanes are two-way: the path from an entrance is this one reversed. */
	return build_path(g, dist, prev, best, kind == NAVIGATION_ENTRANCE, out);
}

/* ---- sentences ---- */

struct text {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

static void say(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len) {
		t->overflow = true;
		return;
	}
	t->len += (size_t)n;
}

static const char *heading(double dx, double dy)
{
	static const char *const names[] = { "east", "north-east", "north", "north-west",
					     "west", "south-west", "south", "south-east" };
	double deg = atan2(dy, dx) * 180.0 / M_PI;
	int sector = (int)floor((deg + 22.5 + 360.0) / 45.0) % 8;

	return names[sector];
}

/* The turn from direction (ax, ay) into (bx, by): "left", "right" or NULL (straight). */
static const char *turn(double ax, double ay, double bx, double by)
{
	double cross = ax * by - ay * bx, dot = ax * bx + ay * by;
	double deg = fabs(atan2(cross, dot)) * 180.0 / M_PI;

	if (deg < TURN_STRAIGHT_DEG)
		return NULL;
	return cross > 0 ? "left" : "right";
}

static bool same_level(const struct navigation_graph *g, const struct navigation_path *p,
		       size_t i)
{
	return strcmp(g->nodes[p->nodes[i]].level, g->nodes[p->nodes[i + 1]].level) == 0;
}

/* The direction of leg i (from node i to node i + 1). */
static void leg_dir(const struct navigation_graph *g, const struct navigation_path *p, size_t i,
		    double *dx, double *dy)
{
	const struct navigation_node *a = &g->nodes[p->nodes[i]], *b = &g->nodes[p->nodes[i + 1]];

	*dx = b->x - a->x;
	*dy = b->y - a->y;
}

/*
 * Describes the legs from i on that continue straight on along one level, as one
 * sentence; returns the index of the first leg not described.
 */
static size_t describe_run(const struct navigation_graph *g, const struct navigation_path *p,
			   size_t i, struct text *t)
{
	const char *dir = NULL;
	double dx, dy, ndx, ndy, metres = 0;
	size_t j = i;

	if (!same_level(g, p, i)) {
		say(t, "Take the ramp to level %s.\n", g->nodes[p->nodes[i + 1]].level);
		return i + 1;
	}
	leg_dir(g, p, i, &dx, &dy);
	if (i > 0 && same_level(g, p, i - 1)) {
		leg_dir(g, p, i - 1, &ndx, &ndy);
		dir = turn(ndx, ndy, dx, dy);
	}
	for (;;) {
		leg_dir(g, p, j, &ndx, &ndy);
		metres += hypot(ndx, ndy);
		j++;
		if (j + 1 >= p->count || !same_level(g, p, j))
			break;
		leg_dir(g, p, j, &ndx, &ndy);
		if (turn(dx, dy, ndx, ndy) != NULL)
			break;
	}
	if (dir != NULL)
		say(t, "At %s turn %s and drive %ld m %s to %s.\n", g->nodes[p->nodes[i]].id, dir,
		    lround(metres), heading(dx, dy), g->nodes[p->nodes[j]].id);
	else
		say(t, "Drive %ld m %s to %s.\n", lround(metres), heading(dx, dy),
		    g->nodes[p->nodes[j]].id);
	return j;
}

int navigation_describe(const struct navigation_graph *g, const struct navigation_path *path,
			const char *arrival, char *out, size_t cap)
{
	struct text t = { out, cap, 0, false };
	size_t i;

	if (cap == 0)
		return -1;
	out[0] = '\0';
	if (path->count == 0)
		return -1;
	say(&t, "Start at %s on level %s.\n", g->nodes[path->nodes[0]].id,
	    g->nodes[path->nodes[0]].level);
	for (i = 0; i + 1 < path->count;)
		i = describe_run(g, path, i, &t);
	say(&t, "Arrive at %s (%ld m in all).\n", arrival, lround(path->length));
	return t.overflow ? -1 : (int)t.len;
}
