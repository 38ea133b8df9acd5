/*
 * bench-threads.c: a process's CPU by thread name, from /proc (see bench-threads.h).
 */
#include "bench-threads.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The group named `name` in t, added when there is room; NULL when t is full. */
static struct bench_thread_group *bench_threads_group(struct bench_threads *t,
						      const char *name)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->g[i].name, name) == 0)
			return &t->g[i];
	if (t->n == BENCH_THREAD_GROUPS)
		return NULL;
	memset(&t->g[t->n], 0, sizeof(t->g[t->n]));
	snprintf(t->g[t->n].name, sizeof(t->g[t->n].name), "%s", name);
	return &t->g[t->n++];
}

/* One thread's name and schedstat: 0, or -1 when it has gone meanwhile. */
static int bench_threads_one(pid_t pid, const char *tid, char name[BENCH_THREAD_NAME],
			     unsigned long long *run_ns, unsigned long long *wait_ns)
{
	char path[320]; /* /proc/PID/task/ and a directory name (NAME_MAX) */
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, tid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	ok = fgets(name, BENCH_THREAD_NAME, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	name[strcspn(name, "\n")] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, tid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	ok = fscanf(f, "%llu %llu", run_ns, wait_ns) == 2;
	fclose(f);
	return ok ? 0 : -1;
}

int bench_threads_read(pid_t pid, struct bench_threads *t)
{
	char path[64], name[BENCH_THREAD_NAME];
	unsigned long long run_ns, wait_ns;
	struct bench_thread_group *g;
	struct dirent *e;
	DIR *d;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    bench_threads_one(pid, e->d_name, name, &run_ns, &wait_ns) != 0)
			continue;
		if ((g = bench_threads_group(t, name)) == NULL)
			continue;
		g->run_us += (double)run_ns / 1000.0;
		g->wait_us += (double)wait_ns / 1000.0;
		g->threads++;
	}
	closedir(d);
	return 0;
}

void bench_threads_add_diff(struct bench_threads *sum, const struct bench_threads *before,
			    const struct bench_threads *after)
{
	const struct bench_thread_group *a, *b;
	struct bench_thread_group *s;
	int i, j;

	for (i = 0; i < after->n; i++) {
		a = &after->g[i];
		b = NULL;
		for (j = 0; j < before->n && b == NULL; j++)
			if (strcmp(before->g[j].name, a->name) == 0)
				b = &before->g[j];
		if ((s = bench_threads_group(sum, a->name)) == NULL)
			continue;
		s->run_us += a->run_us - (b != NULL ? b->run_us : 0);
		s->wait_us += a->wait_us - (b != NULL ? b->wait_us : 0);
		if (a->threads > s->threads)
			s->threads = a->threads;
	}
}

double bench_threads_print(const struct bench_threads *sum, double ops)
{
	double run = 0, wait = 0;
	int i;

	if (ops <= 0)
		return 0;
	for (i = 0; i < sum->n; i++) {
		if (sum->g[i].run_us / ops < 0.05)
			continue; /* idle threads: the listener, the main thread */
		printf("    %-20s (%3d threads) %8.1f on a core %8.1f waiting for one\n",
		       sum->g[i].name, sum->g[i].threads, sum->g[i].run_us / ops,
		       sum->g[i].wait_us / ops);
		run += sum->g[i].run_us;
		wait += sum->g[i].wait_us;
	}
	printf("    %-34s %8.1f on a core\n", "all threads", run / ops);
	return run / ops;
}
