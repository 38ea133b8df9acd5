/*
 * frag.h: fragmentation of protocol frames into GATT writes and notifications, and
 * their reassembly.
 *
 * One fragment carries at most MTU - 3 bytes: a control byte (FIRST, LAST, 6-bit
 * sequence), on the first fragment the frame's total length (u16, big-endian), then
 * frame bytes. The receiver accepts fragments up to PROTO_MTU_MAX - 3 bytes whatever
 * MTU was negotiated; the radio below enforces the real MTU. See PROTOCOL.md, section 2.
 */
#ifndef PARK_FRAG_H
#define PARK_FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define FRAG_FIRST 0x80
#define FRAG_LAST 0x40
#define FRAG_SEQ_MASK 0x3F
#define FRAG_PAYLOAD_MAX (PROTO_MTU_MAX - PROTO_ATT_OVERHEAD)

/* Reassembly state for one link direction. No allocation: the buffer is inside. */
struct frag_rx {
	uint8_t buf[PROTO_FRAME_MAX];
	uint16_t total;   /* frame length announced by the first fragment */
	uint16_t got;     /* bytes received so far, <= total */
	uint8_t next_seq; /* sequence expected in the next fragment */
	bool active;      /* a first fragment has been seen and the frame is incomplete */
};

void frag_rx_reset(struct frag_rx *rx);

/*
 * Feeds one received fragment. Returns 1 when a frame is complete (it is then in
 * rx->buf[0..rx->total) until the next call), 0 when more fragments are needed, or
 * -PROTO_E_FRAGMENT / -PROTO_E_LENGTH on a malformed fragment, after which the partial
 * frame is dropped. A FIRST fragment always starts a new frame, dropping any partial one.
 */
int frag_rx_feed(struct frag_rx *rx, const uint8_t *frag, size_t len);

/* Fragmenter over a frame the caller keeps alive until frag_tx_next() returns 0. */
struct frag_tx {
	const uint8_t *frame;
	uint16_t len;
	uint16_t off;
	uint8_t seq;
	uint8_t payload_max; /* MTU - 3 */
};

/*
 * Starts fragmenting frame[0..len) for a link of ATT MTU `mtu` (clamped to
 * PROTO_MTU_MIN..PROTO_MTU_MAX). Returns 0, or -PROTO_E_LENGTH when len is 0 or larger
 * than PROTO_FRAME_MAX.
 */
int frag_tx_init(struct frag_tx *tx, const uint8_t *frame, size_t len, uint16_t mtu);

/*
 * Writes the next fragment into out[0..cap) and returns its length, 0 when the frame is
 * fully sent, or -PROTO_E_LENGTH when cap is smaller than the fragment needs
 * (cap >= FRAG_PAYLOAD_MAX always suffices).
 */
int frag_tx_next(struct frag_tx *tx, uint8_t *out, size_t cap);

#endif
