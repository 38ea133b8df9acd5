/*
 * fuzz-mgmt.c: libFuzzer target for the management-message handler.
 *
 * A fuzzer cannot forge the site signature, so most inputs are signed here with the
 * real site key: the input is the management envelope (type, target, sequence, payload
 * length, payload) and gets a valid signature appended, which drives the payload
 * decoders and every handler (credential, share, revocation, time, lockout,
 * re-provision). When the input's first byte is odd it is sent unsigned, to exercise
 * the refusal path. The lock must never crash or halt, and a refused message must leave
 * the tables as they were.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/p256.h"
#include "../support/test-lock.h"

static struct test_lock *fz;

/* frame = header | envelope | signature over "PKM1" || site || envelope. */
static size_t make_frame(const uint8_t *env, size_t len, bool sign, uint8_t *frame)
{
	uint8_t tbs[PROTO_FRAME_MAX + 16], digest[32];
	struct wire_writer w;

	frame[0] = PROTO_VERSION;
	frame[1] = PROTO_MGMT;
	frame[2] = 1;
	memcpy(frame + PROTO_HDR_LEN, env, len);
	memset(frame + PROTO_HDR_LEN + len, 0x5A, PROTO_SIG_LEN);
	if (sign) {
		wire_writer_init(&w, tbs, sizeof(tbs));
		proto_tbs_mgmt_prefix(&w, TEST_SITE_ID);
		wire_put_bytes(&w, env, len);
		if (w.error || p256_sha256(tbs, w.off, digest) != 0 ||
		    p256_sign_digest(fz->site.key, digest, frame + PROTO_HDR_LEN + len) != 0)
			abort();
	}
	return PROTO_HDR_LEN + len + PROTO_SIG_LEN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t frame[PROTO_FRAME_MAX];
	struct credential_table before;
	size_t len;
	int r;

	if (size < 2 || size > PROTO_BODY_MAX - PROTO_SIG_LEN)
		return 0;
	fz = test_lock_snapshot();
	before = fz->lock.creds;
	len = make_frame(data + 1, size - 1, (data[0] & 1) == 0, frame);
	r = test_lock_send(fz, 0, frame, len);
	test_port_drain(&fz->tp);
	if (fz->lock.halted)
		abort();
	if (r != 0 && r != -PROTO_E_FULL &&
	    memcmp(&before, &fz->lock.creds, sizeof(before)) != 0)
		abort(); /* a refused message changed the credentials */
	return 0;
}
