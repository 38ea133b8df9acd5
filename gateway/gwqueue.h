/*
 * gwqueue.h: the gateway's durable store-and-forward queue, both ways, in one SQLite
 * file (WAL, synchronous=FULL: a call that returns 0 is on disk). Downlink: management
 * messages from the server until their lock acknowledges them. Uplink: those acks and
 * the locks' events until the server accepts them. Also the cache of covered locks and,
 * per lock, the newest event read and its chain hash. Nothing is deleted before the side
 * it was for confirmed it. One connection behind a mutex: every call is thread-safe.
 */
#ifndef PARK_GWQUEUE_H
#define PARK_GWQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lockfw/proto/proto.h"

/* Errors, returned negated. */
enum gwqueue_err {
	GWQUEUE_E_IO = 1,  /* SQLite failed: the log has its message */
	GWQUEUE_E_ARG = 2, /* a bad argument (frame too long, ...) */
};

#define GWQUEUE_NAME_MAX 63
#define GWQUEUE_ADDR_MAX 255
#define GWQUEUE_ERROR_MAX 31

/* A lock the gateway covers, as GET /v1/gateway/locks tells it. */
struct gwqueue_lock {
	uint32_t spot;                         /* > 0 */
	char name[GWQUEUE_NAME_MAX + 1];
	char address[GWQUEUE_ADDR_MAX + 1];    /* sim-transport socket path */
	uint8_t device_pub[PROTO_PUBKEY_LEN];
	uint32_t event_seq;                    /* newest event sequence the server had */
};

/* Downlink states. */
enum gwqueue_state {
	GWQUEUE_PENDING = 0, /* never sent, or sent and not answered (attempts > 0) */
	GWQUEUE_DONE = 1,    /* answered; its ack is (or was) in the uplink: kept as a tombstone */
};

/* A downlink message. */
struct gwqueue_msg {
	int64_t id;           /* the server's message ID */
	uint32_t spot;
	uint8_t frame[PROTO_FRAME_MAX];
	size_t len;           /* 1..PROTO_FRAME_MAX */
	unsigned attempts;    /* deliveries tried without an answer */
	int64_t next_try_at;  /* Unix ms: not before */
};

/* An ack waiting for the server: the lock's MGMT_ACK frame, or an error name. */
struct gwqueue_ack {
	int64_t id;                      /* the message it answers */
	int64_t queued_at;               /* its version: a report replacing it is later */
	uint8_t frame[PROTO_FRAME_MAX];
	size_t len;                      /* 0 when `error` is set */
	char error[GWQUEUE_ERROR_MAX + 1];
};

/* An event waiting for the server. */
struct gwqueue_event {
	uint32_t spot;
	struct proto_event ev;
};

struct gwqueue;

/*
 * Opens (creating when missing) the queue file at `path`, mode 0600. Returns 0 with *out
 * set, or -GWQUEUE_E_IO.
 */
int gwqueue_open(const char *path, struct gwqueue **out);

/* Closes q; NULL is fine. Whatever a call stored is on disk already. */
void gwqueue_close(struct gwqueue *q);

/* ---- covered locks ---- */

/* Replaces the cached list with locks[0..n). 0 or -GWQUEUE_E_*. */
int gwqueue_locks_set(struct gwqueue *q, const struct gwqueue_lock *locks, size_t n);

/*
 * The cached list into a malloc'ed array the caller frees (*out NULL when empty).
 * 0 or -GWQUEUE_E_*.
 */
int gwqueue_locks_get(struct gwqueue *q, struct gwqueue_lock **out, size_t *n);

/* ---- downlink ---- */

/*
 * Stores a message for `spot` (frame copied). Returns 1 when it is new, 0 when the ID is
 * already known (pending, or done: a message the server sends again before it has our
 * ack is not delivered twice), or -GWQUEUE_E_*. A known message still pending takes the
 * frame given now: the server signs some again when it hands them out (a SET_TIME gets
 * the time of the hand-out), and the newest is the one to deliver.
 */
int gwqueue_down_put(struct gwqueue *q, int64_t id, uint32_t spot, const uint8_t *frame,
		     size_t len);

/*
 * The oldest pending message of `spot` (lowest ID: messages go out in order), whether
 * or not it is due yet (see next_try_at). Returns 1 with *out filled, 0 when there is
 * none, or -GWQUEUE_E_IO.
 */
int gwqueue_down_next(struct gwqueue *q, uint32_t spot, struct gwqueue_msg *out);

/* Counts one more delivery attempt of `id`, not to be retried before next_try_at (ms). */
int gwqueue_down_retry(struct gwqueue *q, int64_t id, int64_t next_try_at);

/*
 * The lock answered `id` (or the gateway gives up on it): in one transaction the message
 * becomes DONE and the ack joins the uplink: the MGMT_ACK frame[0..len), or, when frame
 * is NULL, the error name `error`. 0 or -GWQUEUE_E_*.
 */
int gwqueue_down_done(struct gwqueue *q, int64_t id, const uint8_t *frame, size_t len,
		      const char *error);

/*
 * The gateway could not deliver `id` so far: in one transaction `error` (e.g.
 * "unreachable") joins the uplink as its ack, and the message stays pending with its
 * attempts counted afresh, not before next_try_at (ms). A later real ack replaces the
 * error if the server has not had it yet. 0 or -GWQUEUE_E_*.
 */
int gwqueue_down_report(struct gwqueue *q, int64_t id, const char *error, int64_t next_try_at);

/* Pending downlink messages, all locks. */
int gwqueue_down_count(struct gwqueue *q, size_t *n);

/* Forgets DONE tombstones older than `before_ms` whose ack the server has. 0 or -E. */
int gwqueue_down_prune(struct gwqueue *q, int64_t before_ms);

/* ---- uplink ---- */

/* Up to `max` acks, oldest first, into out[]. Returns the count or -GWQUEUE_E_IO. */
int gwqueue_acks_peek(struct gwqueue *q, struct gwqueue_ack *out, size_t max);

/*
 * The server has these acks (as gwqueue_acks_peek() gave them): delete them, but not a
 * report that replaced one meanwhile (the lock's ack after an "unreachable" that was
 * on its way): that one is sent next. 0 or -GWQUEUE_E_IO.
 */
int gwqueue_acks_delete(struct gwqueue *q, const struct gwqueue_ack *acks, size_t n);

/*
 * Stores events ev[0..n) of `spot` (a (spot, seq) already queued is skipped: the server
 * dedupes what was sent before, too) and, in the same transaction, records `seq` and `hash` as
 * the newest event read from the lock and the chain hash after it. Returns the number
 * of events that were new, or -GWQUEUE_E_*.
 */
int gwqueue_events_put(struct gwqueue *q, uint32_t spot, const struct proto_event *ev,
		       size_t n, uint32_t seq, const uint8_t hash[PROTO_HASH_LEN]);

/*
 * The newest event read from `spot` and the chain hash after it. Returns 1 with *seq
 * and hash filled, 0 when nothing was read yet, or -GWQUEUE_E_IO.
 */
int gwqueue_lockstate_get(struct gwqueue *q, uint32_t spot, uint32_t *seq,
			  uint8_t hash[PROTO_HASH_LEN]);

/* Up to `max` events not yet accepted nor held, oldest first. The count or -GWQUEUE_E_IO. */
int gwqueue_events_peek(struct gwqueue *q, struct gwqueue_event *out, size_t max);

/*
 * The server refused these events for now (their lock is being changed on it): not
 * given by gwqueue_events_peek() before until_ms (CLOCK_REALTIME ms), so that they hold
 * up no other lock's. 0 or -GWQUEUE_E_IO.
 */
int gwqueue_events_hold(struct gwqueue *q, const struct gwqueue_event *ev, size_t n,
			int64_t until_ms);

/*
 * The server accepted (or counted as duplicates) these events: delete them. `refused`
 * marks them as refused instead: kept on disk as evidence, never sent again.
 * 0 or -GWQUEUE_E_IO.
 */
int gwqueue_events_done(struct gwqueue *q, const struct gwqueue_event *ev, size_t n,
			bool refused);

/* Events and acks waiting for the server. */
int gwqueue_up_count(struct gwqueue *q, size_t *events, size_t *acks);

#endif
