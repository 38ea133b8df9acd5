/*
 * walltime.h: the lock's clock in Unix seconds. Locks have no trustworthy clock, so
 * time comes only from signed SET_TIME messages and never goes backwards, not even
 * across a power cut: flash holds a resume point kept LOCK_TIME_CHECKPOINT_S ahead of
 * the running clock, so after a reboot the clock resumes at or after any time it
 * reported before (it may be up to that much ahead until the next SET_TIME).
 */
#ifndef PARK_WALLTIME_H
#define PARK_WALLTIME_H

#include <stdbool.h>
#include <stdint.h>

struct lock;

/*
 * Starts the clock at boot from the newest of the resume point and the newest event, and
 * writes the next resume point. 0 or -PROTO_E_FLASH.
 */
int walltime_boot(struct lock *l);

/* Seconds now: counts from the last checkpoint even before any SET_TIME. */
uint32_t walltime_now(const struct lock *l);

/* True once a SET_TIME has been applied (ever). */
bool walltime_known(const struct lock *l);

/* Sets the time durably. 0, -PROTO_E_TIME_BACK, or -PROTO_E_FLASH (unchanged). */
int walltime_set(struct lock *l, uint32_t t);

/* Moves the resume point ahead when the clock nears it. 0 or -PROTO_E_FLASH. */
int walltime_tick(struct lock *l);

/* Milliseconds until the resume point must move. */
uint64_t walltime_next_ms(const struct lock *l);

#endif
