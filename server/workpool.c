/*
 * workpool.c: an elastic pool of threads for jobs that may wait (see workpool.h). Jobs
 * queue in arrival order; a submit that finds no idle thread starts one while fewer than
 * `max` run; a thread that has waited WORKPOOL_IDLE_S for a job ends, and is joined by
 * the next submit or by workpool_free().
 */
#include "workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "../lib/monocond.h"

struct workpool_job {
	workpool_fn fn;
	void *arg;
	struct workpool_job *next;
};

enum workpool_slot_state { SLOT_FREE, SLOT_RUNNING, SLOT_ENDED };

struct workpool_slot {
	pthread_t thread;
	enum workpool_slot_state state;
	struct workpool *pool;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t work;        /* a job queued, or stopping; CLOCK_MONOTONIC */
	struct workpool_job *head, *tail;
	size_t queued;              /* jobs from head to tail */
	size_t idle;                /* threads waiting for a job */
	size_t running;             /* slots in SLOT_RUNNING */
	bool stopping;
	bool stopped;               /* workpool_stop() has joined the threads */
	void (*init_thread)(void);
	size_t max;
	struct workpool_slot *slots; /* max of them */
};

/* The next job, waiting up to WORKPOOL_IDLE_S; NULL when the thread should end. Locked. */
static struct workpool_job *workpool_take(struct workpool *p)
{
	struct workpool_job *j;
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += WORKPOOL_IDLE_S;
	while (p->head == NULL && !p->stopping) {
		p->idle++;
		if (pthread_cond_timedwait(&p->work, &p->lock, &deadline) == ETIMEDOUT &&
		    p->head == NULL) {
			p->idle--;
			return NULL;
		}
		p->idle--;
	}
	j = p->head;
	if (j != NULL) {
		p->queued--;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
	}
	return j;
}

static void *workpool_main(void *arg)
{
	struct workpool_slot *slot = arg;
	struct workpool *p = slot->pool;
	struct workpool_job *j;

	if (p->init_thread != NULL)
		p->init_thread();
	pthread_mutex_lock(&p->lock);
	while ((j = workpool_take(p)) != NULL) {
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&p->lock);
	}
	slot->state = SLOT_ENDED;
	p->running--;
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Joins the threads that have ended, freeing their slots. Locked. */
static void workpool_reap(struct workpool *p)
{
	size_t i;

	for (i = 0; i < p->max; i++) {
		if (p->slots[i].state != SLOT_ENDED)
			continue;
		pthread_join(p->slots[i].thread, NULL); /* it has returned, or is about to */
		p->slots[i].state = SLOT_FREE;
	}
}

/* Starts a thread when no idle one will take the new job and there is room. Locked. */
static void workpool_grow(struct workpool *p)
{
	size_t i;

	if (p->queued <= p->idle || p->running >= p->max)
		return;
	workpool_reap(p);
	for (i = 0; i < p->max; i++) {
		if (p->slots[i].state != SLOT_FREE)
			continue;
		p->slots[i].pool = p;
		if (pthread_create(&p->slots[i].thread, NULL, workpool_main, &p->slots[i]) != 0)
			return; /* the running threads will take the job in turn */
		p->slots[i].state = SLOT_RUNNING;
		p->running++;
		return;
	}
}

struct workpool *workpool_new(size_t max, void (*init_thread)(void))
{
	struct workpool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->max = max > 0 ? max : 1;
	p->slots = calloc(p->max, sizeof(*p->slots));
	if (p->slots == NULL || monocond_init(&p->work) != 0) {
		free(p->slots);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->init_thread = init_thread;
	return p;
}

int workpool_submit(struct workpool *p, workpool_fn fn, void *arg)
{
	struct workpool_job *j = malloc(sizeof(*j));

	if (j == NULL)
		return -1;
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		free(j);
		return -1;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	workpool_grow(p);
	if (p->running == 0) {
		/* No thread could be started and none runs: the job would never run. */
		p->head = p->tail = NULL;
		p->queued = 0;
		pthread_mutex_unlock(&p->lock);
		free(j);
		return -1;
	}
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void workpool_stop(struct workpool *p)
{
	enum workpool_slot_state state;
	size_t i;

	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	/* The threads run what is queued, then end; no new ones start once stopping. */
	for (i = 0; i < p->max; i++) {
		pthread_mutex_lock(&p->lock);
		state = p->slots[i].state;
		p->slots[i].state = SLOT_FREE;
		pthread_mutex_unlock(&p->lock);
		if (state != SLOT_FREE)
			pthread_join(p->slots[i].thread, NULL);
	}
	p->stopped = true;
}

void workpool_free(struct workpool *p)
{
	if (p == NULL)
		return;
	if (!p->stopped)
		workpool_stop(p);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->slots);
	free(p);
}
