/*
 * operate.c: unlock and lock requests; see operate.h.
 *
 * Order matters: cheap refusals first (busy, locked-out device, no fresh challenge),
 * then the key's signature before any signed field is believed, then the spot, the
 * device's answer to the challenge, and the limits. A use is counted in flash before
 * the motor moves, so a power cut can never give one back.
 */
#include "operate.h"

#include <string.h>

#include "barrier.h"
#include "lock.h"
#include "revocation.h"
#include "walltime.h"

/* The intersection of every limit that applies to a request. */
struct limits {
	uint32_t not_before;
	uint32_t not_after;
	uint16_t max_unlocks; /* PROTO_UNLIMITED_USES for none */
};

/* What a verified request is allowed to act on. */
struct grant {
	int cred;  /* credential slot (the sharer's, for a shared key) */
	int share; /* authorisation-code slot, or -1 */
	struct limits lim;
	uint8_t how;
	uint32_t user_id;
	uint32_t key_id; /* the credential's key ID, or the share ID */
};

/* What both kinds of request carry. */
struct request {
	uint8_t op;
	uint32_t user_id;
	uint32_t key_id;
	const uint8_t *device_pub;
	const uint8_t *device_sig;
};

static void limits_narrow(struct limits *lim, uint32_t not_before, uint32_t not_after,
			  uint16_t max_unlocks)
{
	if (not_before > lim->not_before)
		lim->not_before = not_before;
	if (not_after < lim->not_after)
		lim->not_after = not_after;
	if (max_unlocks != PROTO_UNLIMITED_USES &&
	    (lim->max_unlocks == PROTO_UNLIMITED_USES || max_unlocks < lim->max_unlocks))
		lim->max_unlocks = max_unlocks;
}

static uint16_t uses_left(uint16_t max_unlocks, uint16_t uses)
{
	if (max_unlocks == PROTO_UNLIMITED_USES)
		return PROTO_USES_LEFT_UNLIMITED;
	return uses >= max_unlocks ? 0 : (uint16_t)(max_unlocks - uses);
}

static int check_time(const struct lock *l, const struct limits *lim)
{
	uint32_t now;

	if (lim->not_before == PROTO_TIME_NONE_BEFORE && lim->not_after == PROTO_TIME_NONE_AFTER)
		return 0;
	if (!walltime_known(l))
		return -PROTO_E_TIME_UNSET;
	now = walltime_now(l);
	if (now < lim->not_before)
		return -PROTO_E_NOT_YET;
	if (now > lim->not_after)
		return -PROTO_E_EXPIRED;
	return 0;
}

/* Verifies `sig` by `pub` over SHA-256(tbs). 0, or `fail` when invalid. */
static int verify(struct lock *l, const uint8_t *pub, const struct wire_writer *tbs,
		  const uint8_t *sig, int fail)
{
	const struct port *p = l->port;
	struct port_buf part = { tbs->buf, tbs->off };
	uint8_t digest[PROTO_HASH_LEN];

	if (tbs->error || p->sha256(p->ctx, &part, 1, digest) != 0)
		return -PROTO_E_INTERNAL;
	return p->ecdsa_verify(p->ctx, pub, digest, sig) == 0 ? 0 : fail;
}

/* Takes this link's challenge: single use, whatever the outcome. */
static int take_challenge(struct lock *l, uint8_t conn, uint8_t nonce[PROTO_NONCE_LEN])
{
	struct lock_conn *c = &l->conn[conn];
	uint64_t now = l->port->clock_ms(l->port->ctx);

	if (!c->challenge_live)
		return -PROTO_E_CHALLENGE;
	c->challenge_live = false;
	if (now - c->challenge_ms > (uint64_t)LOCK_CHALLENGE_TTL_S * 1000)
		return -PROTO_E_CHALLENGE;
	memcpy(nonce, c->challenge, PROTO_NONCE_LEN);
	return 0;
}

static int precheck(struct lock *l, uint8_t conn, const struct request *rq,
		    uint8_t nonce[PROTO_NONCE_LEN])
{
	if (l->motion.active)
		return -PROTO_E_BUSY;
	if (lockout_active(&l->lockouts, rq->device_pub, walltime_now(l)))
		return -PROTO_E_LOCKED_OUT;
	return take_challenge(l, conn, nonce);
}

static int check_device(struct lock *l, const uint8_t nonce[PROTO_NONCE_LEN],
			const struct request *rq)
{
	uint8_t buf[64];
	struct wire_writer w;

	wire_writer_init(&w, buf, sizeof(buf));
	proto_tbs_operate(&w, nonce, l->cfg.site_id, l->cfg.spot_id, rq->op, rq->user_id,
			  rq->key_id);
	return verify(l, rq->device_pub, &w, rq->device_sig, -PROTO_E_DEVICE_SIG);
}

/* Claims 1 and 4: find the credential by user ID, verify the e-key, check the spot. */
static int check_ekey(struct lock *l, const struct proto_operate *req, struct grant *g)
{
	const struct proto_ekey *k = &req->ekey;
	const struct credential *c;
	uint8_t pub[PROTO_PUBKEY_LEN], buf[PROTO_EKEY_TBS_LEN + 4];
	struct wire_writer w;
	int r;

	if (k->user_id != req->user_id)
		return -PROTO_E_WRONG_USER;
	if (revocation_contains(l, k->key_id))
		return -PROTO_E_REVOKED;
	g->cred = credential_find(&l->creds, req->user_id, k->key_id);
	if (g->cred < 0)
		return -PROTO_E_UNKNOWN_KEY;
	r = credential_pubkey(&l->creds, &l->store, g->cred, pub);
	if (r != 0)
		return r;
	wire_writer_init(&w, buf, sizeof(buf));
	proto_tbs_ekey(&w, k);
	r = verify(l, pub, &w, k->sig, -PROTO_E_KEY_SIG);
	if (r != 0)
		return r;
	if (k->spot_id != l->cfg.spot_id)
		return -PROTO_E_WRONG_SPOT;
	c = &l->creds.slot[g->cred];
	if (c->transferred)
		return -PROTO_E_TRANSFERRED;
	limits_narrow(&g->lim, c->not_before, c->not_after, c->max_unlocks);
	limits_narrow(&g->lim, k->not_before, k->not_after, k->max_unlocks);
	g->how = PROTO_HOW_KEY;
	g->key_id = k->key_id;
	return 0;
}

/* Claim 6: the authorisation code names the recipient; the sharer's credential verifies. */
static int check_skey(struct lock *l, const struct proto_operate_shared *req, struct grant *g)
{
	const struct proto_skey *k = &req->skey;
	const struct share *sh;
	const struct credential *c;
	uint8_t pub[PROTO_PUBKEY_LEN], buf[PROTO_SKEY_TBS_LEN + 4];
	struct wire_writer w;
	int r;

	if (revocation_contains(l, k->share_id) || revocation_contains(l, k->parent_key_id))
		return -PROTO_E_REVOKED;
	g->share = share_find(&l->shares, k->share_id);
	if (g->share < 0)
		return -PROTO_E_UNKNOWN_KEY;
	sh = &l->shares.slot[g->share];
	if (sh->recipient_id != req->user_id || k->recipient_id != req->user_id)
		return -PROTO_E_WRONG_USER;
	if (k->sharer_id != sh->sharer_id || k->parent_key_id != sh->parent_key_id)
		return -PROTO_E_UNKNOWN_KEY;
	g->cred = credential_find(&l->creds, sh->sharer_id, sh->parent_key_id);
	if (g->cred < 0)
		return -PROTO_E_UNKNOWN_KEY;
	r = credential_pubkey(&l->creds, &l->store, g->cred, pub);
	if (r != 0)
		return r;
	wire_writer_init(&w, buf, sizeof(buf));
	proto_tbs_skey(&w, k);
	r = verify(l, pub, &w, k->sig, -PROTO_E_KEY_SIG);
	if (r != 0)
		return r;
	if (k->spot_id != l->cfg.spot_id)
		return -PROTO_E_WRONG_SPOT;
	c = &l->creds.slot[g->cred];
	/* A transfer hands the key on: only its own share may still use it. */
	if (c->transferred && sh->mode != PROTO_SHARE_TRANSFER)
		return -PROTO_E_TRANSFERRED;
	limits_narrow(&g->lim, c->not_before, c->not_after, PROTO_UNLIMITED_USES);
	limits_narrow(&g->lim, sh->not_before, sh->not_after, sh->max_unlocks);
	limits_narrow(&g->lim, k->not_before, k->not_after, k->max_unlocks);
	g->how = PROTO_HOW_SHARED;
	g->key_id = k->share_id;
	return 0;
}

/* Uses counted so far against g->lim, and whether the parent still has one to give. */
static int check_uses(const struct lock *l, const struct grant *g, uint16_t *left)
{
	const struct credential *c = &l->creds.slot[g->cred];
	uint16_t uses = g->share >= 0 ? l->shares.slot[g->share].uses : c->uses;

	*left = uses_left(g->lim.max_unlocks, uses);
	if (*left == 0)
		return -PROTO_E_USED_UP;
	/* Shared unlocks also count against the parent key: a share is never wider. */
	if (g->share >= 0) {
		uint16_t parent = uses_left(c->max_unlocks, c->uses);

		if (parent < *left)
			*left = parent;
		if (*left == 0)
			return -PROTO_E_USED_UP;
	}
	return 0;
}

/* Counts the use durably, then starts the motor. */
static int act(struct lock *l, uint8_t conn, uint8_t tag, uint8_t op, const struct grant *g,
	       uint16_t left)
{
	struct lock_motion m = { 0 };
	uint32_t total = l->cfg.total_unlocks + 1;
	int r;

	m.op = op;
	m.conn = conn;
	m.tag = tag;
	m.how = g->how;
	m.user_id = g->user_id;
	m.key_id = g->key_id;
	m.uses_left = left;
	if (op == PROTO_OP_UNLOCK) {
		r = credential_count_use(&l->creds, &l->store, g->cred, total);
		if (r == 0 && g->share >= 0)
			r = share_count_use(&l->shares, &l->store, g->share, total);
		if (r != 0)
			return r;
		l->cfg.total_unlocks = total;
		m.uses = g->share >= 0 ? l->shares.slot[g->share].uses : l->creds.slot[g->cred].uses;
		if (m.uses_left != PROTO_USES_LEFT_UNLIMITED)
			m.uses_left--;
	}
	barrier_start(l, &m);
	return 0;
}

/* True for refusals that say the requester is not who they claim: they count to lockout. */
static bool is_auth_failure(int r)
{
	return r == -PROTO_E_UNKNOWN_KEY || r == -PROTO_E_KEY_SIG || r == -PROTO_E_WRONG_SPOT ||
	       r == -PROTO_E_DEVICE_SIG || r == -PROTO_E_WRONG_USER || r == -PROTO_E_REVOKED ||
	       r == -PROTO_E_TRANSFERRED;
}

static void count_failure(struct lock *l, const struct request *rq)
{
	uint32_t now = walltime_now(l);
	int r = lockout_fail(&l->lockouts, &l->store, &l->cfg.lockout, rq->device_pub, now);

	if (r == 1)
		lock_log(l, PROTO_EV_LOCKOUT, 0, (uint16_t)(l->cfg.lockout.lockout_s / 60),
			 rq->user_id, rq->key_id);
	else if (r < 0)
		lock_halt(l);
}

/* The barrier is already where the request wants it, or cannot go there. */
static int position_check(const struct lock *l, uint8_t op, bool *done)
{
	*done = false;
	/* Read the sensor now: a car may have arrived since the last tick. */
	if (op == PROTO_OP_LOCK && (l->occupied || l->port->proximity_read(l->port->ctx)))
		return -PROTO_E_OCCUPIED;
	if ((op == PROTO_OP_UNLOCK && l->barrier == PROTO_BARRIER_DOWN) ||
	    (op == PROTO_OP_LOCK && l->barrier == PROTO_BARRIER_UP))
		*done = true;
	return 0;
}

/* Everything after the key-specific checks, common to both kinds of request. */
static int finish(struct lock *l, uint8_t conn, uint8_t tag, const struct request *rq,
		  const uint8_t nonce[PROTO_NONCE_LEN], struct grant *g)
{
	uint16_t left = PROTO_USES_LEFT_UNLIMITED;
	bool done;
	int r;

	r = check_device(l, nonce, rq);
	if (r == 0)
		r = check_time(l, &g->lim);
	if (r == 0 && rq->op == PROTO_OP_UNLOCK)
		r = check_uses(l, g, &left);
	if (r == 0)
		r = position_check(l, rq->op, &done);
	if (r != 0)
		return r;
	lockout_success(&l->lockouts, rq->device_pub);
	if (done) {
		lock_send_result(l, conn, tag, rq->op, 0, left);
		return 1;
	}
	return act(l, conn, tag, rq->op, g, left);
}

static int conclude(struct lock *l, uint8_t conn, uint8_t tag, const struct request *rq,
		    const uint8_t nonce[PROTO_NONCE_LEN], int r)
{
	if (r == 1)
		return 0;
	if (r == 0)
		return 0; /* RESULT follows when the barrier reaches its end stop */
	/* A device key is public: only a failure the device itself signed is its failure. */
	if (is_auth_failure(r) && r != -PROTO_E_DEVICE_SIG && check_device(l, nonce, rq) == 0)
		count_failure(l, rq);
	lock_send_result(l, conn, tag, rq->op, r, 0);
	return r;
}

int operate_key(struct lock *l, uint8_t conn, uint8_t tag, const struct proto_operate *req)
{
	struct request rq = { req->op, req->user_id, req->ekey.key_id, req->ekey.device_pub,
			      req->device_sig };
	struct grant g = { -1, -1, { PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER,
				     PROTO_UNLIMITED_USES }, 0, req->user_id, 0 };
	uint8_t nonce[PROTO_NONCE_LEN] = { 0 };
	int r;

	r = precheck(l, conn, &rq, nonce);
	if (r == 0)
		r = check_ekey(l, req, &g);
	if (r == 0)
		r = finish(l, conn, tag, &rq, nonce, &g);
	return conclude(l, conn, tag, &rq, nonce, r);
}

int operate_shared(struct lock *l, uint8_t conn, uint8_t tag,
		   const struct proto_operate_shared *req)
{
	struct request rq = { req->op, req->user_id, req->skey.share_id, req->skey.device_pub,
			      req->device_sig };
	struct grant g = { -1, -1, { PROTO_TIME_NONE_BEFORE, PROTO_TIME_NONE_AFTER,
				     PROTO_UNLIMITED_USES }, 0, req->user_id, 0 };
	uint8_t nonce[PROTO_NONCE_LEN] = { 0 };
	int r;

	r = precheck(l, conn, &rq, nonce);
	if (r == 0)
		r = check_skey(l, req, &g);
	if (r == 0)
		r = finish(l, conn, tag, &rq, nonce, &g);
	return conclude(l, conn, tag, &rq, nonce, r);
}

/*
 * The override is logged before the motor starts, so that no movement it causes lacks
 * its evidence; a power cut before mgmt.c stores the sequence makes the server resend,
 * which logs and moves again, harmlessly.
 */
int operate_override(struct lock *l, uint32_t seq, const struct proto_remote_operate *req)
{
	struct limits lim = { PROTO_TIME_NONE_BEFORE, req->not_after, PROTO_UNLIMITED_USES };
	struct lock_motion m = { 0 };
	bool done;
	int r;

	if (l->motion.active)
		return -PROTO_E_BUSY;
	r = check_time(l, &lim);
	if (r == 0)
		r = position_check(l, req->op, &done);
	if (r == 0)
		r = lock_log(l, PROTO_EV_OVERRIDE, req->op, wire_load_u16(req->reason),
			     req->user_id, seq);
	if (r != 0 || done)
		return r;
	m.op = req->op;
	m.conn = LOCK_NO_CONN;
	m.how = PROTO_HOW_OVERRIDE;
	m.user_id = req->user_id;
	m.key_id = seq;
	m.uses_left = PROTO_USES_LEFT_UNLIMITED;
	barrier_start(l, &m);
	return 0;
}
