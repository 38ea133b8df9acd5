/*
 * lockout.h: locking out a device that fails to unlock too often (DESIGN.md section 4).
 *
 * A device is named by the first 8 bytes of its device public key. The caller counts a
 * failure only when the device signed the failed request (a device key is public: a
 * failure anyone could forge must not lock its owner out). Failures are counted in RAM
 * within the policy's window; a lockout, once it starts, is written to the store so that
 * it survives a reboot. Times are the lock's seconds (walltime.h).
 */
#ifndef PARK_LOCKOUT_H
#define PARK_LOCKOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "store.h"

#define LOCKOUT_SLOTS 16
#define LOCKOUT_DEVICE_LEN 8

/* Defaults until the server sends a SET_LOCKOUT. */
#define LOCKOUT_DEFAULT_FAILURES 5
#define LOCKOUT_DEFAULT_WINDOW_S 300
#define LOCKOUT_DEFAULT_LOCKOUT_S 900

struct lockout_entry {
	bool used;
	bool persisted;   /* a lockout record is in the store */
	uint8_t device[LOCKOUT_DEVICE_LEN];
	uint8_t failures;
	uint32_t window_start;
	uint32_t until;   /* locked out while now < until; 0 = not locked out */
};

struct lockout_table {
	struct lockout_entry e[LOCKOUT_SLOTS];
};

/* Loads the persisted lockouts. 0 or -PROTO_E_FLASH. */
int lockout_load(struct lockout_table *t, struct store *s);

/* True while `device` is locked out at time `now`. */
bool lockout_active(const struct lockout_table *t, const uint8_t device[LOCKOUT_DEVICE_LEN],
		    uint32_t now);

/*
 * Counts a failure of `device` under `policy`. Returns 1 when this failure starts a
 * lockout (written to the store first), 0 when it does not, or -PROTO_E_FLASH.
 */
int lockout_fail(struct lockout_table *t, struct store *s, const struct proto_lockout *policy,
		 const uint8_t device[LOCKOUT_DEVICE_LEN], uint32_t now);

/* A success clears the device's failure count (a running lockout has been checked before). */
void lockout_success(struct lockout_table *t, const uint8_t device[LOCKOUT_DEVICE_LEN]);

/* Forgets lockouts that ended before `now`, deleting their records. 0 or -PROTO_E_FLASH. */
int lockout_expire(struct lockout_table *t, struct store *s, uint32_t now);

#endif
