/*
 * bench-threads.h: where a process's CPU goes, thread by thread, grouped by thread name
 * (prctl names such as "parkd-writer"), from /proc/PID/task/TID/schedstat: time run and
 * time spent runnable but waiting for a core. The benchmarks take a snapshot before and
 * after a measured window and print the difference per operation.
 */
#ifndef PARK_BENCH_THREADS_H
#define PARK_BENCH_THREADS_H

#include <sys/types.h>

#define BENCH_THREAD_GROUPS 16
#define BENCH_THREAD_NAME 16 /* the kernel's limit, with the NUL */

struct bench_thread_group {
	char name[BENCH_THREAD_NAME];
	double run_us;   /* on a core */
	double wait_us;  /* runnable, waiting for a core */
	int threads;     /* in the snapshot (the most seen, in a sum) */
};

struct bench_threads {
	struct bench_thread_group g[BENCH_THREAD_GROUPS];
	int n;
};

/* Takes a snapshot of process pid's threads into t. 0, or -1 when /proc cannot be read. */
int bench_threads_read(pid_t pid, struct bench_threads *t);

/*
 * Adds after - before to sum, group by group (matched by name; a group seen only in
 * `after` counts from zero). Threads that ended between the snapshots are not counted.
 */
void bench_threads_add_diff(struct bench_threads *sum, const struct bench_threads *before,
			    const struct bench_threads *after);

/*
 * Prints each group's run and wait time per operation (us), indented, then the total.
 * Returns that total: the time on a core per operation (us), 0 when ops is not positive.
 */
double bench_threads_print(const struct bench_threads *sum, double ops);

#endif
