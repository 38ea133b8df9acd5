/*
 * delivery.h: management messages on their way to the locks, from the server's side:
 * the locks a gateway covers, the pending messages it may fetch (only for those locks,
 * oldest first), and the lock's MGMT_ACK it reports back, which is checked against the
 * lock's device key before the message is marked delivered. No HTTP here.
 */
#ifndef PARK_DELIVERY_H
#define PARK_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "db.h"

#define DELIVERY_BATCH_MAX 64   /* messages in one reply */
#define DELIVERY_ACKS_MAX 256   /* acks in one report: 256 acks fit HTTP_BODY_MAX */
#define DELIVERY_ERROR_MAX 64   /* bytes of a gateway's delivery error word */

enum delivery_err {
	DELIVERY_E_NOTFOUND = 1,  /* no such message */
	DELIVERY_E_FORBIDDEN = 2, /* the gateway does not cover the message's lock */
	DELIVERY_E_BAD_ACK = 3,   /* not a MGMT_ACK for this message, or not the lock's signature */
	DELIVERY_E_BUSY = 4,      /* the database is busy: retry the transaction */
	DELIVERY_E_INTERNAL = 5,
};

/*
 * The locks gateway `gateway_id` covers, by spot: [{"spot", "site_id", "name", "address",
 * "device_pub", "event_seq"}]. Returns a new array, or NULL on a storage error.
 */
json_object *delivery_locks(struct db *db, int64_t gateway_id);

/*
 * Up to `max` (at most DELIVERY_BATCH_MAX) pending messages for the locks the gateway
 * covers, oldest first: [{"id", "spot", "seq", "frame": hex}]. A lock's messages come in
 * the order of their sequence numbers, and the gateway must deliver them in that order.
 * Returns a new array, or NULL on a storage error.
 */
json_object *delivery_pending(struct db *db, int64_t gateway_id, size_t max);

/*
 * The outcome of one delivery, reported by the gateway: either the lock's MGMT_ACK
 * frame (ack, ack_len), or, when it could not deliver, an error word (`error`, e.g.
 * "unreachable"; the message then stays pending for a retry). An ack must decode as a
 * MGMT_ACK with the message's spot, sequence and type and verify with the lock's device
 * key for the lock's site; then the message is marked acked with the lock's result
 * ("ok" or the status name, e.g. "stale_sequence") and the ack stored. An ack for a
 * message already acked is accepted again without change.
 *
 * Runs in the caller's transaction. Returns 0 with result[0..32) set to the stored
 * result (or "pending" after an error word), or -DELIVERY_E_*.
 */
int delivery_ack(struct db *db, int64_t gateway_id, int64_t now, int64_t message_id,
		 const uint8_t *ack, size_t ack_len, const char *error, char result[32]);

#endif
