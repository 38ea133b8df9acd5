/*
 * bench-stats.c: samples and nearest-rank percentiles; see bench-stats.h.
 */
#include "bench-stats.h"

#include <math.h>
#include <stdlib.h>

void bench_stats_add(struct bench_stats *s, double x)
{
	double *nv;
	size_t cap;

	if (s->n == s->cap) {
		cap = s->cap != 0 ? 2 * s->cap : 256;
		nv = realloc(s->v, cap * sizeof(*nv));
		if (nv == NULL) {
			s->oom = 1;
			return;
		}
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	s->sorted = 0;
}

void bench_stats_merge(struct bench_stats *to, const struct bench_stats *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		bench_stats_add(to, from->v[i]);
	to->oom |= from->oom;
}

static int bench_stats_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void bench_stats_sort(struct bench_stats *s)
{
	if (!s->sorted && s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), bench_stats_cmp);
	s->sorted = 1;
}

double bench_stats_pct(struct bench_stats *s, double p)
{
	size_t rank;

	if (s->n == 0)
		return 0;
	bench_stats_sort(s);
	/* Nearest rank: the smallest sample with at least p% of them at or below it. */
	rank = (size_t)ceil(p / 100.0 * (double)s->n);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

double bench_stats_max(struct bench_stats *s)
{
	return bench_stats_pct(s, 100);
}

void bench_stats_free(struct bench_stats *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
	s->sorted = 0;
}
