/*
 * monocond.c: condition variables on CLOCK_MONOTONIC (see monocond.h).
 */
#include "monocond.h"

#include <time.h>

int monocond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int r;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 && pthread_cond_init(c, &a) == 0 ?
		0 : -1;
	pthread_condattr_destroy(&a);
	return r;
}
