/*
 * monocond.h: condition variables whose timed waits run on CLOCK_MONOTONIC, so that a
 * change of the wall clock neither cuts a wait short nor stretches it. Deadlines for
 * pthread_cond_timedwait() on them come from clock_gettime(CLOCK_MONOTONIC, ...).
 */
#ifndef PARK_MONOCOND_H
#define PARK_MONOCOND_H

#include <pthread.h>

/* Initialises *c on CLOCK_MONOTONIC. 0, or -1 (c is then not initialised). */
int monocond_init(pthread_cond_t *c);

#endif
