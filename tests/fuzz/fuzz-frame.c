/*
 * fuzz-frame.c: libFuzzer target for the lock's radio input: fragment reassembly, the
 * frame parser and every request handler behind it.
 *
 * An input whose first byte is even is one whole frame (the rest of the input), sent in
 * well-formed fragments, so the fuzzer reaches the decoder and the handlers at once;
 * otherwise it is a sequence of raw GATT writes: [link u8][length u8][bytes]. Both go
 * to a lock that is provisioned and holds one credential (restored from a flash image
 * made once, so every input starts from the same state). Whatever arrives, the lock
 * must not crash, must not halt (no flash fault is injected), and its tables stay in
 * bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../support/test-lock.h"

static struct test_lock *fz;

static void feed_raw(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off + 2 <= size) {
		uint8_t conn = data[off] & 1;
		size_t len = data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		lock_receive(&fz->lock, conn, data + off, len);
		off += len;
		test_port_advance(&fz->tp, 50);
		lock_tick(&fz->lock);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fz = test_lock_snapshot();
	if ((data[0] & 1) == 0 && size - 1 <= PROTO_FRAME_MAX && size > 1) {
		test_lock_send(fz, 0, data + 1, size - 1);
		test_lock_run(fz, 1000);
	} else {
		feed_raw(data + 1, size - 1);
	}
	test_port_drain(&fz->tp);
	if (fz->lock.halted || fz->lock.creds.count > CREDENTIAL_SLOTS ||
	    fz->lock.shares.count > SHARE_SLOTS || fz->lock.barrier > PROTO_BARRIER_JAMMED)
		abort();
	return 0;
}
