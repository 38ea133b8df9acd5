/*
 * delivery.h: management messages on their way to the locks, from the server's side:
 * queueing a site-signed message under a lock's next sequence, the locks a gateway
 * covers, the pending messages it may fetch (only for those locks, oldest first, each
 * given out at most once per redeliver_s), and the lock's MGMT_ACK it reports back,
 * which is checked against the lock's device key before the message is closed; a
 * stale_sequence answer gets the payload re-signed under a fresh sequence. No HTTP here.
 */
#ifndef PARK_DELIVERY_H
#define PARK_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "../lockfw/proto/proto.h"
#include "db.h"

#define DELIVERY_BATCH_MAX 64   /* messages in one reply */
#define DELIVERY_ACKS_MAX 256   /* acks in one report: 256 acks fit HTTP_BODY_MAX */
#define DELIVERY_ERROR_MAX 64   /* bytes of a gateway's delivery error word */
#define DELIVERY_RESENDS_MAX 3  /* automatic resends of one message after stale_sequence */
#define DELIVERY_SEQ_MARGIN 1000 /* how far a resend jumps when the lock is ahead of us */

enum delivery_err {
	DELIVERY_E_NOTFOUND = 1,  /* no such message */
	DELIVERY_E_FORBIDDEN = 2, /* the gateway does not cover the message's lock */
	DELIVERY_E_BAD_ACK = 3,   /* not a MGMT_ACK for this message, or not the lock's signature */
	DELIVERY_E_BUSY = 4,      /* the database is busy: retry the transaction */
	DELIVERY_E_INTERNAL = 5,
	DELIVERY_E_SPENT = 6,     /* the lock's management sequences would pass 2^32-1 */
};

/* What a queued message is, besides its payload. */
struct delivery_msg_spec {
	int64_t spot_id;   /* the lock's spot, 1..2^32-1 */
	int64_t site_id;   /* its site: the signature is for it */
	uint8_t mtype;     /* proto_mgmt_type, not PROTO_MGMT_REVOKE (it has its own serial) */
	const char *kind;  /* mgmt_queue.kind: "set_time", "install_cred", ... */
	int64_t key_id;    /* the key or share it delivers, 0 for none */
};

/*
 * Takes the lock's next management sequence (locks.mgmt_seq + 1), signs the MGMT frame
 * of `spec` with `payload` under `site_key` and queues it as pending at `now`. Runs in
 * the caller's transaction; the caller wakes the gateways after the commit. Returns 0
 * with *id (may be NULL) the new message's ID, or -DELIVERY_E_NOTFOUND (no such lock),
 * -DELIVERY_E_SPENT (nothing changed), -DELIVERY_E_BUSY or -DELIVERY_E_INTERNAL
 * (signing or storage failed).
 */
int delivery_queue(struct db *db, EVP_PKEY *site_key, const struct delivery_msg_spec *spec,
		   const union proto_mgmt_payload *payload, int64_t now, int64_t *id);

/*
 * The locks gateway `gateway_id` covers, by spot: [{"spot", "site_id", "name", "address",
 * "device_pub", "event_seq"}]. Returns a new array, or NULL on a storage error.
 */
json_object *delivery_locks(struct db *db, int64_t gateway_id);

/*
 * Up to `max` (at most DELIVERY_BATCH_MAX) pending messages for the locks the gateway
 * covers, oldest first: [{"id", "spot", "seq", "frame": hex}], whether given out lately
 * or not; reads only. A lock's messages come in the order of their sequence numbers,
 * and the gateway must deliver them in that order. Returns a new array, or NULL on a
 * storage error.
 */
json_object *delivery_pending(struct db *db, int64_t gateway_id, size_t max);

/*
 * What a long poll hands gateway `gateway_id` at `now`: as delivery_pending(), but only
 * the messages not given to a gateway in the last `redeliver_s` seconds (every pending
 * one when `resume`, for a gateway that has just started), and marks them given at
 * `now`, in a transaction of its own (retried while the database is busy; none when
 * there is nothing to give). The caller has no transaction open. Sets
 * *next_due to the second at which a message given out before becomes due again (0
 * when none is), so that a waiting long poll knows when to look again. Returns a new
 * array, or NULL on a storage error.
 */
json_object *delivery_give(struct db *db, int64_t gateway_id, int64_t now, int64_t redeliver_s,
			   bool resume, size_t max, int64_t *next_due);

/*
 * The outcome of one delivery, reported by the gateway: either the lock's MGMT_ACK
 * frame (ack, ack_len), or, when it could not deliver, an error word (`error`, e.g.
 * "unreachable"; the message then stays pending for a retry). An error word that is
 * the lock's last word on the frame (an ERROR code that proto_error_passes() does not
 * pass, such as "bad_site_signature", or the gateway's "bad_frame") closes the message
 * as 'failed' with that result instead. An ack must decode as a
 * MGMT_ACK with the message's spot, sequence and type and verify with the lock's device
 * key for the lock's site; then the message is closed with the lock's result ("ok" or
 * the status name, e.g. "time_backwards") and the ack stored. An ack for a message
 * already closed is accepted again without change.
 *
 * A stale_sequence answer closes the message as 'failed' and, unless it already is the
 * DELIVERY_RESENDS_MAX-th resend of its first message, queues its payload again (a
 * SET_TIME with the time at `now`), signed with the site key opened under `master`,
 * under a sequence above every one the lock can have applied: locks.mgmt_seq + 1 when a
 * later message of the lock was applied ('ok'), which explains the refusal by order,
 * else locks.mgmt_seq + DELIVERY_SEQ_MARGIN (the lock is ahead of the server: a
 * restored database). A signed result that may pass (proto_error_passes(): the lock's
 * flash failed, nothing was applied) closes the message as 'failed' too and queues it
 * again at locks.mgmt_seq + 1. An override (REMOTE_OPERATE) is not queued again when
 * nothing later was applied, nor after a result that may pass: the lock may have moved
 * the barrier, and a barrier must not move twice.
 * *resent_id (may be NULL) is then the new message's ID, else 0.
 *
 * Runs in the caller's transaction. Returns 0 with result[0..32) set to the stored
 * result (or "pending" after an error word that leaves it pending), or -DELIVERY_E_*.
 */
int delivery_ack(struct db *db, const uint8_t master[32], int64_t gateway_id, int64_t now,
		 int64_t message_id, const uint8_t *ack, size_t ack_len, const char *error,
		 char result[32], int64_t *resent_id);

#endif
