/*
 * test-workpool.c: server/workpool through its API: every job submitted runs exactly
 * once by the time workpool_free() returns, no more than `max` run at once and the pool
 * grows to `max` when jobs wait, a job that waits for a later one does not hold it up,
 * init_thread() runs once in each thread before its jobs, and the edge cases (freeing
 * NULL, a pool of at most 0 threads). Jobs only record; the checks run on the main thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "../../lib/monocond.h"
#include "../../server/workpool.h"

/* How long a job waits for another before the test gives up on it (a failure, not a hang). */
#define TEST_WAIT_S 5

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A one-way gate that jobs wait at, with a deadline so a broken pool cannot hang the test. */
struct latch {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool open;
};

static void latch_init(struct latch *l)
{
	pthread_mutex_init(&l->lock, NULL);
	assert_int_equal(monocond_init(&l->cond), 0);
	l->open = false;
}

static void latch_destroy(struct latch *l)
{
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
}

static void latch_open(struct latch *l)
{
	pthread_mutex_lock(&l->lock);
	l->open = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* true when the latch opened within `seconds`, false when the wait timed out. */
static bool latch_wait(struct latch *l, int seconds)
{
	struct timespec deadline;
	bool open;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += seconds;
	pthread_mutex_lock(&l->lock);
	while (!l->open &&
	       pthread_cond_timedwait(&l->cond, &l->lock, &deadline) == 0)
		;
	open = l->open;
	pthread_mutex_unlock(&l->lock);
	return open;
}

/* How many jobs run now, and the most that ever ran at once. */
struct meter {
	atomic_int now;
	atomic_int most;
};

/* Enters a job; returns how many run now, this one included. */
static int meter_enter(struct meter *m)
{
	int n = atomic_fetch_add(&m->now, 1) + 1;
	int seen = atomic_load(&m->most);

	while (n > seen && !atomic_compare_exchange_weak(&m->most, &seen, n))
		;
	return n;
}

static void meter_leave(struct meter *m)
{
	atomic_fetch_sub(&m->now, 1);
}

/*
 * Jobs that each wait until `want` have run at once (or TEST_WAIT_S has passed: the
 * first to time out opens the gate for the rest), then stay `stay_ms` so that a pool
 * running too many at once shows it.
 */
struct crowd {
	struct meter meter;
	struct latch full;
	int want;
	long stay_ms;
	atomic_int ran;
};

static void crowd_init(struct crowd *c, int want, long stay_ms)
{
	atomic_init(&c->meter.now, 0);
	atomic_init(&c->meter.most, 0);
	latch_init(&c->full);
	c->want = want;
	c->stay_ms = stay_ms;
	atomic_init(&c->ran, 0);
}

static void crowd_job(void *arg)
{
	struct crowd *c = arg;

	if (meter_enter(&c->meter) >= c->want)
		latch_open(&c->full);
	if (!latch_wait(&c->full, TEST_WAIT_S))
		latch_open(&c->full);
	sleep_ms(c->stay_ms);
	meter_leave(&c->meter);
	atomic_fetch_add(&c->ran, 1);
}

/*
 * Runs `jobs` crowd jobs (each waiting for `want` at once, then staying `stay_ms`) on a
 * pool of `max`; checks they all ran and left, and returns the most seen at once.
 */
static int crowd_run(size_t max, int want, long stay_ms, int jobs)
{
	struct workpool *p = workpool_new(max, NULL);
	struct crowd c;
	int i;

	assert_non_null(p);
	crowd_init(&c, want, stay_ms);
	for (i = 0; i < jobs; i++)
		assert_int_equal(workpool_submit(p, crowd_job, &c), 0);
	workpool_free(p);
	assert_int_equal(atomic_load(&c.ran), jobs);
	assert_int_equal(atomic_load(&c.meter.now), 0);
	latch_destroy(&c.full);
	return atomic_load(&c.meter.most);
}

/* ---- 1. every job runs exactly once, and workpool_free() runs what is still queued */

#define MANY_JOBS 1000

static atomic_int runs_total;

static void count_job(void *arg)
{
	atomic_int *runs = arg;

	atomic_fetch_add(runs, 1);
	atomic_fetch_add(&runs_total, 1);
}

static void test_every_job_runs_once(void **state)
{
	static atomic_int runs[MANY_JOBS];
	struct workpool *p = workpool_new(4, NULL);
	int i;

	(void)state;
	assert_non_null(p);
	atomic_store(&runs_total, 0);
	for (i = 0; i < MANY_JOBS; i++)
		atomic_init(&runs[i], 0);
	for (i = 0; i < MANY_JOBS; i++)
		assert_int_equal(workpool_submit(p, count_job, &runs[i]), 0);
	workpool_free(p);
	assert_int_equal(atomic_load(&runs_total), MANY_JOBS);
	for (i = 0; i < MANY_JOBS; i++)
		assert_int_equal(atomic_load(&runs[i]), 1);
}

/* ---- 2. at most `max` at once, and `max` when jobs wait */

static void test_at_most_max_at_once(void **state)
{
	(void)state;
	/* Not more than 3, and the pool grew to 3 while jobs waited. */
	assert_int_equal(crowd_run(3, 3, 20, 12), 3);
}

/* ---- 3. a job that waits does not hold up the job it waits for */

struct handoff {
	struct latch signalled;
	atomic_bool waiter_woke;  /* by the signal, before TEST_WAIT_S */
	atomic_bool signaller_ran;
};

static void waiter_job(void *arg)
{
	struct handoff *h = arg;

	atomic_store(&h->waiter_woke, latch_wait(&h->signalled, TEST_WAIT_S));
}

static void signaller_job(void *arg)
{
	struct handoff *h = arg;

	atomic_store(&h->signaller_ran, true);
	latch_open(&h->signalled);
}

static void test_waiting_job_blocks_nobody(void **state)
{
	struct workpool *p = workpool_new(8, NULL);
	struct handoff h;

	(void)state;
	assert_non_null(p);
	latch_init(&h.signalled);
	atomic_init(&h.waiter_woke, false);
	atomic_init(&h.signaller_ran, false);
	assert_int_equal(workpool_submit(p, waiter_job, &h), 0);
	assert_int_equal(workpool_submit(p, signaller_job, &h), 0);
	workpool_free(p);
	assert_true(atomic_load(&h.signaller_ran));
	assert_true(atomic_load(&h.waiter_woke));
	latch_destroy(&h.signalled);
}

/* ---- 4. init_thread() once in each thread, before the thread's first job */

#define THREADS_MAX 4
#define THREADS_JOBS 16

static atomic_int init_calls;
static _Thread_local bool thread_inited;

static struct {
	pthread_mutex_t lock;
	pthread_t ids[THREADS_JOBS];
	int n;
	atomic_int uninited_jobs; /* jobs that ran on a thread init_thread() had not run in */
} seen = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void count_init(void)
{
	thread_inited = true;
	atomic_fetch_add(&init_calls, 1);
}

static void note_thread(void)
{
	pthread_t self = pthread_self();
	int i;

	pthread_mutex_lock(&seen.lock);
	for (i = 0; i < seen.n && !pthread_equal(seen.ids[i], self); i++)
		;
	if (i == seen.n && seen.n < THREADS_JOBS)
		seen.ids[seen.n++] = self;
	pthread_mutex_unlock(&seen.lock);
}

static void thread_job(void *arg)
{
	if (!thread_inited)
		atomic_fetch_add(&seen.uninited_jobs, 1);
	note_thread();
	crowd_job(arg);
}

static void test_init_once_per_thread(void **state)
{
	struct workpool *p = workpool_new(THREADS_MAX, count_init);
	struct crowd c;
	int i;

	(void)state;
	assert_non_null(p);
	atomic_store(&init_calls, 0);
	seen.n = 0;
	atomic_store(&seen.uninited_jobs, 0);
	/* The first THREADS_MAX jobs wait for each other, so that every thread runs one. */
	crowd_init(&c, THREADS_MAX, 1);
	for (i = 0; i < THREADS_JOBS; i++)
		assert_int_equal(workpool_submit(p, thread_job, &c), 0);
	workpool_free(p);
	assert_int_equal(atomic_load(&c.ran), THREADS_JOBS);
	assert_int_equal(atomic_load(&seen.uninited_jobs), 0);
	assert_in_range(atomic_load(&init_calls), 1, THREADS_MAX);
	assert_int_equal(atomic_load(&init_calls), seen.n);
	latch_destroy(&c.full);
}

/* ---- 5. the calls at the edges */

static void test_free_null(void **state)
{
	(void)state;
	workpool_free(NULL);
}

static void test_max_zero_means_one(void **state)
{
	(void)state;
	/* Each job stays 2 ms, long enough for a second thread to show. */
	assert_int_equal(crowd_run(0, 1, 2, 20), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_job_runs_once),
		cmocka_unit_test(test_at_most_max_at_once),
		cmocka_unit_test(test_waiting_job_blocks_nobody),
		cmocka_unit_test(test_init_once_per_thread),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_max_zero_means_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
