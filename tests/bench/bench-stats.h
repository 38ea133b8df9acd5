/*
 * bench-stats.h: samples of one measured quantity (latencies in ms) and their
 * percentiles, for the benchmarks' figures. Not thread-safe: each thread keeps its own
 * and merges them at the end.
 */
#ifndef PARK_BENCH_STATS_H
#define PARK_BENCH_STATS_H

#include <stddef.h>

struct bench_stats {
	double *v;      /* samples, sorted once a percentile was asked for */
	size_t n, cap;
	int sorted;
	int oom;        /* a sample was lost for want of memory */
};

/* Adds one sample. */
void bench_stats_add(struct bench_stats *s, double x);

/* Adds every sample of `from` to `to`. */
void bench_stats_merge(struct bench_stats *to, const struct bench_stats *from);

/* The p-th percentile (0..100, nearest rank) of the samples; 0 when there are none. */
double bench_stats_pct(struct bench_stats *s, double p);

/* The largest sample; 0 when there are none. */
double bench_stats_max(struct bench_stats *s);

/* Frees the samples; s is empty afterwards. */
void bench_stats_free(struct bench_stats *s);

#endif
