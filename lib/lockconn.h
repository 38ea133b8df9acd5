/*
 * lockconn.h: one link to a lock's GATT service over any transport (transport.h): frames
 * cut into fragments at the link's MTU and reassembled, replies matched to requests by
 * tag, EVENT notifications passed aside, HELLO/INFO. It does not build or check messages
 * (proto.h, signer.h do). Blocking with time-outs; one struct lockconn per thread. The
 * gateway, the phone and the tests all reach locks through it.
 */
#ifndef PARK_LOCKCONN_H
#define PARK_LOCKCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lockfw/proto/frag.h"
#include "../lockfw/proto/proto.h"
#include "transport.h"

/* Errors, returned negated. */
enum lockconn_error {
	LOCKCONN_E_IO = 1,      /* the transport failed */
	LOCKCONN_E_CLOSED = 2,  /* the lock closed the link, or it is not open */
	LOCKCONN_E_PROTO = 3,   /* the lock sent a bad fragment or reply */
	LOCKCONN_E_SPACE = 4,   /* a frame does not fit: too long to send or for the buffer */
	LOCKCONN_E_REFUSED = 5, /* the lock answered with an ERROR frame */
	LOCKCONN_E_TIMEOUT = 6, /* no answer in time (lockconn_hello, lockconn_open only) */
	LOCKCONN_E_NOTFOUND = 7, /* no such lock in reach (lockconn_open only) */
};

/* Told of each EVENT notification that lockconn_request() meets while it waits. */
typedef void (*lockconn_event_fn)(void *arg, const struct proto_event *ev);

struct lockconn {
	struct transport *t;      /* the link; NULL when closed */
	bool own_transport;       /* lockconn_close() frees t (lockconn_open_sim) */
	uint16_t mtu;             /* ATT MTU fragments are cut to, 23..247; 23 until hello */
	struct frag_rx rx;        /* reassembly of the lock's notifications */
	uint8_t next_tag;         /* tag of the next request, 1..255 (0 is for notifications) */
	lockconn_event_fn on_event; /* may be NULL */
	void *event_arg;
};

/*
 * Connects t to the lock at `address` (see transport_ops.connect) within timeout_ms and
 * prepares *c (MTU 23, tag 1, no callback). t stays the caller's. Returns 0, or
 * -LOCKCONN_E_NOTFOUND, -LOCKCONN_E_TIMEOUT or -LOCKCONN_E_IO with c closed.
 */
int lockconn_open(struct lockconn *c, struct transport *t, const char *address,
		  uint32_t spot, int timeout_ms);

/* lockconn_open() over a sim transport of its own, freed by lockconn_close(). */
int lockconn_open_sim(struct lockconn *c, const char *path);

/* Closes the link (the lock sees the disconnect); safe on a closed one. */
void lockconn_close(struct lockconn *c);

/*
 * Sends frame[0..len) (1..PROTO_FRAME_MAX bytes) as fragments of at most c->mtu - 3
 * bytes. Returns 0, -LOCKCONN_E_SPACE for a bad length, or -LOCKCONN_E_IO / _CLOSED.
 */
int lockconn_send_frame(struct lockconn *c, const uint8_t *frame, size_t len);

/*
 * Waits up to timeout_ms (-1: no limit) for the next whole frame from the lock, of any
 * type, and copies it to buf[0..cap). Returns its length (> 0), 0 on timeout (a partly
 * reassembled frame is kept for the next call), or -LOCKCONN_E_CLOSED, -LOCKCONN_E_IO,
 * -LOCKCONN_E_PROTO (a bad fragment: the link is then unusable: close it) or
 * -LOCKCONN_E_SPACE (the frame was longer than cap and is dropped; PROTO_FRAME_MAX fits all).
 */
int lockconn_recv_frame(struct lockconn *c, uint8_t *buf, size_t cap, int timeout_ms);

/*
 * Sends a request frame with the next tag written into its header (frame[2]; the
 * caller's bytes are not changed) and waits up to timeout_ms in all for the frame with
 * that tag, which it copies to reply[0..cap). EVENT notifications met meanwhile go to
 * c->on_event; other frames (late replies to earlier requests) are skipped. Returns the
 * reply's length, 0 on timeout, or a negative error as lockconn_recv_frame(). An ERROR
 * reply is returned like any other: the caller decodes it.
 */
int lockconn_request(struct lockconn *c, const uint8_t *frame, size_t len, uint8_t *reply,
		     size_t cap, int timeout_ms);

/*
 * Sends HELLO with `mtu` (23..247; lowered to what the transport allows) and waits for
 * INFO; then sets c->mtu to the MTU the lock answered and fills *info when it is not NULL.
 * Returns 0, -LOCKCONN_E_REFUSED (an ERROR reply), -LOCKCONN_E_PROTO (not a valid INFO,
 * or an MTU out of range), -LOCKCONN_E_TIMEOUT, or an error of lockconn_request().
 * c->mtu changes only on success.
 */
int lockconn_hello(struct lockconn *c, uint16_t mtu, struct proto_info *info, int timeout_ms);

/*
 * Waits up to timeout_ms for the lock to send something or for wake_fd (-1: none) to
 * become readable (it is not drained): TRANSPORT_WAIT_READY, _WOKEN or _TIMEOUT, or
 * -LOCKCONN_E_CLOSED when not open.
 */
int lockconn_wait(struct lockconn *c, int wake_fd, int timeout_ms);

/* A sentence for a negative lockconn error. */
const char *lockconn_strerror(int err);

#endif
