/*
 * workpool.h: threads for work that may wait (a long poll, an argon2id hash, a write
 * that waits for its commit to reach the disk), so that the HTTP event loop, which
 * serves many connections on each thread, never waits. The pool grows a thread whenever
 * a job finds none idle, up to its maximum, and a thread idle for WORKPOOL_IDLE_S ends:
 * a job never queues behind another that waits, as with a thread per connection, but
 * only for the requests that need one.
 */
#ifndef PARK_WORKPOOL_H
#define PARK_WORKPOOL_H

#include <stddef.h>

#define WORKPOOL_IDLE_S 30

struct workpool;

typedef void (*workpool_fn)(void *arg);

/*
 * A pool of at most `max` threads (at least 1), each of which runs init_thread() (may be
 * NULL) once when it starts. NULL when out of memory.
 */
struct workpool *workpool_new(size_t max, void (*init_thread)(void));

/*
 * Runs fn(arg) on a pool thread: an idle one, a new one, or the first to be free when
 * `max` are busy. 0, or -1 when the pool is stopping or no job slot could be allocated
 * (fn will not run).
 */
int workpool_submit(struct workpool *p, workpool_fn fn, void *arg);

/*
 * Runs every job submitted, then waits for the threads to end; from here on
 * workpool_submit() fails. Call it once, before workpool_free(), or not at all.
 */
void workpool_stop(struct workpool *p);

/* workpool_stop() unless done, then frees p. NULL is a no-op. */
void workpool_free(struct workpool *p);

#endif
