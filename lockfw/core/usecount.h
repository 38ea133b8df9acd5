/*
 * usecount.h: the use-counter record shared by credentials and authorisation codes:
 * which key it counts (so a reused slot never inherits a count), the uses, and the
 * lock's unlock total at that moment. Written before the motor moves.
 */
#ifndef PARK_USECOUNT_H
#define PARK_USECOUNT_H

#include <stdint.h>

#include "store.h"

#define USECOUNT_LEN 10

/* Writes the counter record durably. 0 or -PROTO_E_FLASH. */
int usecount_put(struct store *s, uint8_t key, uint32_t key_id, uint16_t uses, uint32_t total);

/*
 * Reads the counter of `key_id` from record `key`. Sets *uses (0 when there is no
 * record for this key ID) and raises *total_seen to the total found. Returns 0 or
 * -PROTO_E_FLASH.
 */
int usecount_get(struct store *s, uint8_t key, uint32_t key_id, uint16_t *uses,
		 uint32_t *total_seen);

#endif
