/*
 * simlink.h: the client side of the sim transport, the stand-in for a BLE link to a lock
 * when no radio is present: a UNIX stream socket on which each GATT write or notification
 * is a 2-byte big-endian length (1..244) and then exactly that fragment's bytes.
 * It fragments, reassembles and matches replies to requests by tag; it does not build or
 * check messages (proto.h, signer.h do). Blocking; one struct simlink per thread.
 */
#ifndef PARK_SIMLINK_H
#define PARK_SIMLINK_H

#include <stddef.h>
#include <stdint.h>

#include "../lockfw/proto/frag.h"
#include "../lockfw/proto/proto.h"

/* Errors, returned negated. */
enum simlink_error {
	SIMLINK_E_IO = 1,      /* a socket call failed; errno says why */
	SIMLINK_E_CLOSED = 2,  /* the lock closed the link */
	SIMLINK_E_PROTO = 3,   /* the lock sent a bad length prefix, fragment or reply */
	SIMLINK_E_SPACE = 4,   /* a frame does not fit: too long to send or for the buffer */
	SIMLINK_E_REFUSED = 5, /* the lock answered with an ERROR frame */
	SIMLINK_E_TIMEOUT = 6, /* no answer in time (simlink_hello only; others return 0) */
};

/* Told of each EVENT notification that simlink_request() meets while it waits. */
typedef void (*simlink_event_fn)(void *arg, const struct proto_event *ev);

struct simlink {
	int fd;                   /* the connected socket, -1 when closed */
	uint16_t mtu;             /* ATT MTU fragments are cut to, 23..247; 23 until hello */
	struct frag_rx rx;        /* reassembly of the lock's notifications */
	uint8_t in[2 + FRAG_PAYLOAD_MAX]; /* the fragment being read, length prefix first */
	size_t have;              /* bytes of in[] read so far */
	uint8_t next_tag;         /* tag of the next request, 1..255 (0 is for notifications) */
	simlink_event_fn on_event; /* may be NULL */
	void *event_arg;
};

/*
 * Connects to the lock socket at `path` and prepares *l (MTU 23, tag 1, no callback).
 * Returns 0, or -SIMLINK_E_IO (errno set; ENAMETOOLONG for a path that does not fit)
 * with l->fd = -1.
 */
int simlink_open(struct simlink *l, const char *path);

/* Closes the link; safe on a closed one. The lock sees the disconnect. */
void simlink_close(struct simlink *l);

/*
 * Sends frame[0..len) (1..PROTO_FRAME_MAX bytes) as fragments of at most l->mtu - 3
 * bytes, each with its length prefix. Blocks until all is written. Returns 0,
 * -SIMLINK_E_SPACE for a bad length, or -SIMLINK_E_IO / -SIMLINK_E_CLOSED.
 */
int simlink_send_frame(struct simlink *l, const uint8_t *frame, size_t len);

/*
 * Waits up to timeout_ms (-1: no limit) for the next whole frame from the lock, of any
 * type, and copies it to buf[0..cap). Returns its length (> 0), 0 on timeout (a partly
 * read frame is kept for the next call), or -SIMLINK_E_CLOSED, -SIMLINK_E_IO,
 * -SIMLINK_E_PROTO (bad prefix or fragment; the link is then unusable: close it) or
 * -SIMLINK_E_SPACE (the frame was longer than cap and is dropped; PROTO_FRAME_MAX fits all).
 */
int simlink_recv_frame(struct simlink *l, uint8_t *buf, size_t cap, int timeout_ms);

/*
 * Sends a request frame with the next tag written into its header (frame[2]; the
 * caller's bytes are not changed) and waits up to timeout_ms in all for the frame with
 * that tag, which it copies to reply[0..cap). EVENT notifications met meanwhile go to
 * l->on_event; other frames (late replies to earlier requests) are skipped. Returns the
 * reply's length, 0 on timeout, or a negative error as simlink_recv_frame(). An ERROR
 * reply is returned like any other: the caller decodes it.
 */
int simlink_request(struct simlink *l, const uint8_t *frame, size_t len, uint8_t *reply,
		    size_t cap, int timeout_ms);

/*
 * Sends HELLO with `mtu` (23..247) and waits for INFO; then sets l->mtu to the MTU the
 * lock answered and fills *info when it is not NULL. Returns 0, -SIMLINK_E_REFUSED (an
 * ERROR reply), -SIMLINK_E_PROTO (not a valid INFO, or an MTU out of range),
 * -SIMLINK_E_TIMEOUT, or an error of simlink_request(). l->mtu changes only on success.
 */
int simlink_hello(struct simlink *l, uint16_t mtu, struct proto_info *info, int timeout_ms);

#endif
