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

static struct test_lock fz;
static uint8_t *flash_image;
static size_t flash_len;

static void setup(void)
{
	struct test_user u;

	test_lock_init_ready(&fz);
	test_user_init(&u, 42);
	if (test_lock_install(&fz, &u, 9, 0, PROTO_TIME_NONE_AFTER, 3) != PROTO_OK)
		abort();
	test_user_free(&u);
	flash_len = (size_t)fz.tp.hw.page_size * fz.tp.hw.pages;
	flash_image = malloc(flash_len);
	if (flash_image == NULL)
		abort();
	memcpy(flash_image, fz.tp.flash, flash_len);
}

static void feed_raw(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off + 2 <= size) {
		uint8_t conn = data[off] & 1;
		size_t len = data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		lock_receive(&fz.lock, conn, data + off, len);
		off += len;
		test_port_advance(&fz.tp, 50);
		lock_tick(&fz.lock);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (flash_image == NULL)
		setup();
	memcpy(fz.tp.flash, flash_image, flash_len);
	if (test_lock_reboot(&fz) != 0)
		abort();
	if ((data[0] & 1) == 0 && size - 1 <= PROTO_FRAME_MAX && size > 1) {
		test_lock_send(&fz, 0, data + 1, size - 1);
		test_lock_run(&fz, 1000);
	} else {
		feed_raw(data + 1, size - 1);
	}
	test_port_drain(&fz.tp);
	if (fz.lock.halted || fz.lock.creds.count > CREDENTIAL_SLOTS ||
	    fz.lock.shares.count > SHARE_SLOTS || fz.lock.barrier > PROTO_BARRIER_JAMMED)
		abort();
	return 0;
}
