/*
 * bench-unlock.c: what one complete unlock costs the lock, for `make bench`.
 *
 * Run under callgrind (tests/bench/run.sh does): the lock's side of an unlock (the
 * challenge request, the OPERATE frame in ATT fragments, the barrier run to its end
 * stop) and the bare crypto operations that unlock needs are each dumped as a separate
 * profile in the same run, so run.sh can split the unlock into crypto and the rest and
 * set it beside the bare crypto. Client-side work (signing) happens outside both.
 * Without valgrind it still runs, and says the counts need callgrind.
 */
#include <stdio.h>
#include <string.h>

#include <valgrind/callgrind.h>

#include "../../lockfw/host/port-crypto.h"
#include "../support/test-lock.h"

#define BENCH_ROUNDS 5

/* The frames of one unlock, made by the client beforehand. */
struct bench_unlock {
	uint8_t challenge_req[8];
	size_t challenge_len;
	struct test_user user;
	struct proto_ekey ekey;
};

static size_t challenge_frame(uint8_t *buf, size_t cap)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_CHALLENGE_REQ;
	m.tag = 1;
	return test_frame(&m, buf, cap);
}

/* The lock's side of the challenge (collected), and the client reading it (not). */
static void lock_side_challenge(struct test_lock *t, const struct bench_unlock *b,
				uint8_t nonce[PROTO_NONCE_LEN])
{
	CALLGRIND_TOGGLE_COLLECT;
	test_lock_send(t, 0, b->challenge_req, b->challenge_len);
	CALLGRIND_TOGGLE_COLLECT;
	if (test_lock_next(t, 0, false) == PROTO_CHALLENGE)
		memcpy(nonce, t->reply.u.challenge.nonce, PROTO_NONCE_LEN);
}

/* The lock's side of the request: fragments in, barrier run, RESULT out. */
static int lock_side_operate(struct test_lock *t, const uint8_t *op_frame, size_t op_len)
{
	CALLGRIND_TOGGLE_COLLECT;
	test_lock_send(t, 0, op_frame, op_len);
	test_lock_run(t, 10000);
	CALLGRIND_TOGGLE_COLLECT;
	return test_lock_next(t, 0, false) == PROTO_RESULT ? t->reply.u.result.status : -1;
}

/* The crypto an unlock needs, bare: two verifies, the hashes, the challenge HMAC. */
static void __attribute__((noinline)) bare_crypto(const struct bench_unlock *b,
						  const uint8_t digest[32], const uint8_t sig1[64],
						  const uint8_t sig2[64])
{
	uint8_t out[32], nonce[32], key[32] = { 1 };
	uint8_t msg[PROTO_EKEY_TBS_LEN + 4] = { 0 };
	struct port_buf part = { msg, sizeof(msg) };

	port_crypto_random(NULL, nonce, sizeof(nonce));
	port_crypto_hmac_sha256(NULL, key, sizeof(key), &part, 1, out);
	port_crypto_sha256(NULL, &part, 1, out);  /* e-key digest */
	port_crypto_sha256(NULL, &part, 1, out);  /* challenge answer digest */
	port_crypto_sha256(NULL, &part, 1, out);  /* event chain, unlocked */
	port_crypto_ecdsa_verify(NULL, b->user.res_pub, digest, sig1);
	port_crypto_ecdsa_verify(NULL, b->user.device_pub, digest, sig2);
}

int main(void)
{
	static struct test_lock t;
	struct bench_unlock b;
	uint8_t nonce[PROTO_NONCE_LEN], op_frame[PROTO_FRAME_MAX], digest[32] = { 2 };
	size_t op_len;
	int round, status = 0;

	test_lock_init_ready(&t);
	test_user_init(&b.user, 42);
	if (test_lock_install(&t, &b.user, 9, 0, PROTO_TIME_NONE_AFTER, 0) != PROTO_OK) {
		fprintf(stderr, "bench-unlock: could not install the credential\n");
		return 1;
	}
	b.ekey = test_ekey(&b.user, 9, TEST_SPOT_ID, 0, PROTO_TIME_NONE_AFTER, 0);
	b.challenge_len = challenge_frame(b.challenge_req, sizeof(b.challenge_req));
	for (round = 0; round < BENCH_ROUNDS; round++) {
		/* Collection is off (callgrind --collect-atstart=no) except around the lock. */
		CALLGRIND_ZERO_STATS;
		lock_side_challenge(&t, &b, nonce);
		op_len = test_frame_operate(&b.user, 42, &b.ekey, PROTO_OP_UNLOCK, nonce,
					    TEST_SITE_ID, TEST_SPOT_ID, 5, op_frame,
					    sizeof(op_frame));
		status |= lock_side_operate(&t, op_frame, op_len);
		CALLGRIND_DUMP_STATS_AT("unlock");
		CALLGRIND_ZERO_STATS;
		CALLGRIND_TOGGLE_COLLECT;
		bare_crypto(&b, digest, b.ekey.sig, b.ekey.sig);
		CALLGRIND_TOGGLE_COLLECT;
		CALLGRIND_DUMP_STATS_AT("bare-crypto");
		/* Raise the barrier again, unmeasured, for the next round. */
		test_lock_operate(&t, &b.user, 42, &b.ekey, PROTO_OP_LOCK);
	}
	if (!RUNNING_ON_VALGRIND)
		printf("bench-unlock: %d unlocks done; run under callgrind (make bench) for counts\n",
		       BENCH_ROUNDS);
	test_user_free(&b.user);
	test_lock_free(&t);
	return status != 0;
}
