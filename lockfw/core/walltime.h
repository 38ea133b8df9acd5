/*
 * walltime.h: the lock's clock in Unix seconds. Locks have no trustworthy clock, so
 * time comes only from signed SET_TIME messages, never goes backwards, and is
 * checkpointed to flash so that after a power cut it resumes from where it was.
 */
#ifndef PARK_WALLTIME_H
#define PARK_WALLTIME_H

#include <stdbool.h>
#include <stdint.h>

struct lock;

/* Starts the clock at boot from the newest of the checkpoint and the newest event. */
void walltime_boot(struct lock *l);

/* Seconds now: counts from the last checkpoint even before any SET_TIME. */
uint32_t walltime_now(const struct lock *l);

/* True once a SET_TIME has been applied (ever). */
bool walltime_known(const struct lock *l);

/* Sets the time durably. 0, -PROTO_E_TIME_BACK, or -PROTO_E_FLASH (unchanged). */
int walltime_set(struct lock *l, uint32_t t);

/* Writes a checkpoint when one is due. 0 or -PROTO_E_FLASH. */
int walltime_tick(struct lock *l);

/* Milliseconds until the next checkpoint is due. */
uint64_t walltime_next_ms(const struct lock *l);

#endif
