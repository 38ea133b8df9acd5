/*
 * frag.c: splits frames into GATT-sized fragments and reassembles them (PROTOCOL.md,
 * section 2). The receiver is strict: any fragment that does not continue the frame
 * exactly drops the partial frame, so a lost or forged fragment can never splice two
 * frames together. It knows nothing of what the frame means.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "frag.h"

#define FRAG_FIRST_HDR 3 /* ctl, total length u16 */
#define FRAG_NEXT_HDR 1  /* ctl */

_Static_assert(PROTO_FRAME_MAX <= 0xFFFF, "a frame length fits the u16 total");
_Static_assert(PROTO_MTU_MIN - PROTO_ATT_OVERHEAD > FRAG_FIRST_HDR,
	       "a first fragment at the smallest MTU carries frame bytes");
_Static_assert(FRAG_PAYLOAD_MAX <= 0xFF, "payload_max fits its u8");

void frag_rx_reset(struct frag_rx *rx)
{
	rx->total = 0;
	rx->got = 0;
	rx->next_seq = 0;
	rx->active = false;
}

static int rx_fail(struct frag_rx *rx, int err)
{
	frag_rx_reset(rx);
	return err;
}

static int rx_first(struct frag_rx *rx, const uint8_t *frag, size_t len)
{
	uint16_t total;

	if (len < FRAG_FIRST_HDR)
		return rx_fail(rx, -PROTO_E_LENGTH);
	if ((frag[0] & FRAG_SEQ_MASK) != 0)
		return rx_fail(rx, -PROTO_E_FRAGMENT);
	total = wire_load_u16(frag + 1);
	if (total == 0 || total > PROTO_FRAME_MAX)
		return rx_fail(rx, -PROTO_E_LENGTH);
	frag_rx_reset(rx);
	rx->total = total;
	rx->active = true;
	return 0;
}

/*
 * Appends frag[hdr..len) to the frame. A fragment that completes the frame must say
 * LAST and one that does not must not, so both ends agree on where a frame ends.
 */
static int rx_append(struct frag_rx *rx, const uint8_t *frag, size_t len, size_t hdr)
{
	size_t n = len - hdr;
	bool last = (frag[0] & FRAG_LAST) != 0;

	/* An empty fragment makes no progress; refuse it rather than wait on it. */
	if (n == 0 || n > (size_t)(rx->total - rx->got))
		return rx_fail(rx, -PROTO_E_LENGTH);
	if (last != (rx->got + n == rx->total))
		return rx_fail(rx, -PROTO_E_FRAGMENT);
	memcpy(rx->buf + rx->got, frag + hdr, n);
	rx->got = (uint16_t)(rx->got + n);
	rx->next_seq = (uint8_t)((rx->next_seq + 1) & FRAG_SEQ_MASK);
	if (!last)
		return 0;
	rx->active = false;
	return 1;
}

int frag_rx_feed(struct frag_rx *rx, const uint8_t *frag, size_t len)
{
	int rc;

	if (frag == NULL || len == 0 || len > FRAG_PAYLOAD_MAX)
		return rx_fail(rx, -PROTO_E_LENGTH);
	if (frag[0] & FRAG_FIRST) {
		rc = rx_first(rx, frag, len);
		if (rc != 0)
			return rc;
		return rx_append(rx, frag, len, FRAG_FIRST_HDR);
	}
	if (!rx->active || (frag[0] & FRAG_SEQ_MASK) != rx->next_seq)
		return rx_fail(rx, -PROTO_E_FRAGMENT);
	return rx_append(rx, frag, len, FRAG_NEXT_HDR);
}

int frag_tx_init(struct frag_tx *tx, const uint8_t *frame, size_t len, uint16_t mtu)
{
	tx->frame = frame;
	tx->len = 0;
	tx->off = 0;
	tx->seq = 0;
	if (mtu < PROTO_MTU_MIN)
		mtu = PROTO_MTU_MIN;
	if (mtu > PROTO_MTU_MAX)
		mtu = PROTO_MTU_MAX;
	tx->payload_max = (uint8_t)(mtu - PROTO_ATT_OVERHEAD);
	if (frame == NULL || len == 0 || len > PROTO_FRAME_MAX)
		return -PROTO_E_LENGTH; /* tx->len stays 0: frag_tx_next() sends nothing */
	tx->len = (uint16_t)len;
	return 0;
}

int frag_tx_next(struct frag_tx *tx, uint8_t *out, size_t cap)
{
	bool first = tx->off == 0;
	size_t hdr = first ? FRAG_FIRST_HDR : FRAG_NEXT_HDR;
	size_t n = (size_t)(tx->len - tx->off);
	uint8_t ctl;

	if (tx->off >= tx->len)
		return 0;
	if (n > tx->payload_max - hdr)
		n = tx->payload_max - hdr;
	if (out == NULL || cap < hdr + n)
		return -PROTO_E_LENGTH;
	ctl = (uint8_t)(tx->seq & FRAG_SEQ_MASK);
	if (first)
		ctl |= FRAG_FIRST;
	if (tx->off + n == tx->len)
		ctl |= FRAG_LAST;
	out[0] = ctl;
	if (first)
		wire_store_u16(out + 1, tx->len);
	memcpy(out + hdr, tx->frame + tx->off, n);
	tx->off = (uint16_t)(tx->off + n);
	tx->seq = (uint8_t)((tx->seq + 1) & FRAG_SEQ_MASK);
	return (int)(hdr + n);
}
