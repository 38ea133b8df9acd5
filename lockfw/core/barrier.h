/*
 * barrier.h: the barrier's state machine: drives the motor toward an end stop, and when
 * the stop is reached (or not, in time) logs the event and answers the request that
 * asked for the movement. Also notices a barrier forced down by hand, and backs off when a
 * car rolls under a rising barrier.
 */
#ifndef PARK_BARRIER_H
#define PARK_BARRIER_H

#include <stdint.h>

struct lock;
struct lock_motion;

/* Reads the end stops at boot: up, down, or jammed (neither). */
void barrier_boot(struct lock *l);

/*
 * Starts moving for motion->op (the motion record says whom to answer and what to
 * log). The caller has checked that no movement is running.
 */
void barrier_start(struct lock *l, const struct lock_motion *motion);

/* Follows a running movement and watches for forcing. */
void barrier_tick(struct lock *l);

#endif
