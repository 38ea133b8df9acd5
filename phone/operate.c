/*
 * operate.c: the phone's half of the unlock protocol (PROTOCOL.md, OPERATE); see
 * operate.h.
 */
#include "operate.h"

#include <libintl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../lib/lockconn.h"
#include "../lib/log.h"
#include "../lib/signer.h"

#define _(s) gettext(s)

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct operate_outcome *out, enum operate_kind kind, const char *detail)
{
	out->kind = kind;
	snprintf(out->detail, sizeof(out->detail), "%s", detail);
	return -1;
}

/* An answer that is an ERROR frame, or a request that got no answer: fills out. */
static int request_failed(struct operate_outcome *out, int n, const struct proto_msg *m)
{
	if (n == 0)
		return fail(out, OPERATE_UNREACHABLE, _("the lock did not answer in time"));
	if (n < 0)
		return fail(out, OPERATE_UNREACHABLE, lockconn_strerror(n));
	out->lock_code = m->u.error.code;
	out->kind = OPERATE_REFUSED;
	snprintf(out->detail, sizeof(out->detail), _("the lock refused: %s"),
		 proto_status_name(m->u.error.code));
	return -1;
}

static int say_hello(struct lockconn *c, const struct phone_key *k, struct operate_outcome *out)
{
	struct proto_info info;
	int r = lockconn_hello(c, PROTO_MTU_MAX, &info, OPERATE_REPLY_MS);

	if (r != 0)
		return fail(out, r == -LOCKCONN_E_PROTO ? OPERATE_PROTO : OPERATE_UNREACHABLE,
			    lockconn_strerror(r));
	if (!(info.flags & PROTO_INFO_PROVISIONED) || info.spot_id != k->ekey.spot_id ||
	    info.site_id != k->site_id)
		return fail(out, OPERATE_WRONG_LOCK, _("the lock that answered is not this key's "
						       "spot: check the spot's lock address"));
	return 0;
}

static int get_challenge(struct lockconn *c, uint8_t nonce[PROTO_NONCE_LEN],
			 struct operate_outcome *out)
{
	uint8_t frame[PROTO_FRAME_MAX];
	struct proto_msg m;
	int n;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_CHALLENGE_REQ;
	n = proto_encode(&m, frame, sizeof(frame));
	if (n <= 0)
		return fail(out, OPERATE_PROTO, _("cannot encode the challenge request"));
	n = lockconn_request(c, frame, (size_t)n, frame, sizeof(frame), OPERATE_REPLY_MS);
	if (n > 0 && proto_decode(frame, (size_t)n, &m) != 0)
		return fail(out, OPERATE_PROTO, _("the lock sent a malformed challenge"));
	if (n <= 0 || m.type == PROTO_ERROR)
		return request_failed(out, n, &m);
	if (m.type != PROTO_CHALLENGE)
		return fail(out, OPERATE_PROTO, _("the lock answered with something else than a "
						  "challenge"));
	memcpy(nonce, m.u.challenge.nonce, PROTO_NONCE_LEN);
	return 0;
}

/*
 * Hands the lock the revocation list the phone carries. Whether the lock applies it or
 * already has a newer one (stale_sequence), it has the list now; any other answer is
 * the lock's business and does not stop the unlock.
 */
static void carry_revocations(struct lockconn *c, struct operate_carry *carry)
{
	uint8_t reply[PROTO_FRAME_MAX];
	struct proto_msg m;
	int n;

	if (carry == NULL || carry->frame == NULL || carry->len == 0)
		return;
	n = lockconn_request(c, carry->frame, carry->len, reply, sizeof(reply), OPERATE_REPLY_MS);
	if (n <= 0 || proto_decode(reply, (size_t)n, &m) != 0)
		return;
	if (m.type == PROTO_MGMT_ACK)
		carry->taken = m.u.ack.result == PROTO_OK || m.u.ack.result == PROTO_E_STALE;
	else if (m.type == PROTO_ERROR)
		carry->taken = m.u.error.code == PROTO_E_STALE;
}

/* The OPERATE or OPERATE_SHARED request for k, signed over the challenge. 0 or -1. */
static int build_request(const struct phone_key *k, EVP_PKEY *device, uint8_t op,
			 const uint8_t nonce[PROTO_NONCE_LEN], struct proto_msg *m)
{
	uint8_t *sig;

	memset(m, 0, sizeof(*m));
	if (k->shared) {
		m->type = PROTO_OPERATE_SHARED;
		m->u.operate_shared.op = op;
		m->u.operate_shared.user_id = k->skey.recipient_id;
		m->u.operate_shared.skey = k->skey;
		sig = m->u.operate_shared.device_sig;
	} else {
		m->type = PROTO_OPERATE;
		m->u.operate.op = op;
		m->u.operate.user_id = k->ekey.user_id;
		m->u.operate.ekey = k->ekey;
		sig = m->u.operate.device_sig;
	}
	/* For a share, the key ID signed is the share's (PROTOCOL.md 10.3). */
	return signer_operate(device, nonce, k->site_id, k->ekey.spot_id, op, k->ekey.user_id,
			      k->ekey.key_id, sig);
}

static int send_operate(struct lockconn *c, const struct phone_key *k, EVP_PKEY *device,
			uint8_t op, const uint8_t nonce[PROTO_NONCE_LEN],
			struct operate_outcome *out)
{
	uint8_t frame[PROTO_FRAME_MAX];
	struct proto_msg m;
	int n;

	if (build_request(k, device, op, nonce, &m) != 0)
		return fail(out, OPERATE_PROTO, _("cannot sign with the device key"));
	n = proto_encode(&m, frame, sizeof(frame));
	if (n <= 0)
		return fail(out, OPERATE_PROTO, _("cannot encode the request"));
	n = lockconn_request(c, frame, (size_t)n, frame, sizeof(frame), OPERATE_RESULT_MS);
	if (n > 0 && proto_decode(frame, (size_t)n, &m) != 0)
		return fail(out, OPERATE_PROTO, _("the lock sent a malformed result"));
	if (n <= 0 || m.type == PROTO_ERROR)
		return request_failed(out, n, &m);
	if (m.type != PROTO_RESULT || m.u.result.op != op)
		return fail(out, OPERATE_PROTO, _("the lock answered with something else than "
						  "the result"));
	out->lock_code = m.u.result.status;
	out->barrier = m.u.result.barrier;
	out->uses_left = m.u.result.uses_left;
	if (m.u.result.status != PROTO_OK) {
		out->kind = OPERATE_REFUSED;
		snprintf(out->detail, sizeof(out->detail), _("the lock refused: %s"),
			 proto_status_name(m.u.result.status));
		return -1;
	}
	return 0;
}

int phone_operate(struct transport *t, const char *address, const struct phone_key *k,
		  EVP_PKEY *device, uint8_t op, struct operate_carry *carry,
		  struct operate_outcome *out)
{
	uint8_t nonce[PROTO_NONCE_LEN];
	struct lockconn c;
	int64_t t0 = now_ms();
	int r;

	memset(out, 0, sizeof(*out));
	out->lock_code = PROTO_OK;
	r = lockconn_open(&c, t, address != NULL ? address : k->address, k->ekey.spot_id,
			  OPERATE_CONNECT_MS);
	if (r != 0) {
		out->total_ms = now_ms() - t0;
		return fail(out, OPERATE_UNREACHABLE, r == -LOCKCONN_E_NOTFOUND ?
			    _("the lock is not in reach") : lockconn_strerror(r));
	}
	out->connect_ms = now_ms() - t0;
	r = say_hello(&c, k, out);
	if (r == 0) {
		carry_revocations(&c, carry);
		r = get_challenge(&c, nonce, out);
	}
	if (r == 0)
		r = send_operate(&c, k, device, op, nonce, out);
	lockconn_close(&c);
	out->total_ms = now_ms() - t0;
	if (r == 0)
		out->kind = OPERATE_DONE;
	log_debug("spot %u: %s %s in %lld ms", (unsigned)k->ekey.spot_id,
		  op == PROTO_OP_UNLOCK ? "unlock" : "lock", r == 0 ? "done" : out->detail,
		  (long long)out->total_ms);
	return r;
}
