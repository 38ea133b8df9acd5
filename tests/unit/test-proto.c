/*
 * test-proto.c: unit tests of lockfw/proto/proto.c, the message codec, and of the worked
 * examples in lockfw/proto/PROTOCOL.md, which it reads at run time (run from the repo
 * root). Expected bytes are built here field by field in the order the spec gives, not
 * with the codec, so a layout mistake in proto.c cannot hide behind a matching decoder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lockfw/proto/frag.h"
#include "../../lockfw/proto/proto.h"

#define PROTOCOL_MD "lockfw/proto/PROTOCOL.md"
#define SENTINEL 0xA5

/* ---- expected bytes: a generator of distinct field values that records their bytes */

struct gen {
	uint8_t buf[PROTO_FRAME_MAX + 64];
	size_t len;
	uint32_t state;
};

static void gen_init(struct gen *g, uint32_t seed)
{
	memset(g, 0, sizeof(*g));
	g->state = seed * 2654435761u + 1;
}

static uint32_t gen_next(struct gen *g)
{
	g->state = g->state * 1664525u + 1013904223u;
	return g->state ^ (g->state >> 15);
}

static void gen_raw(struct gen *g, const uint8_t *p, size_t n)
{
	assert_true(g->len + n <= sizeof(g->buf));
	memcpy(g->buf + g->len, p, n);
	g->len += n;
}

static uint8_t g8v(struct gen *g, uint8_t v)
{
	gen_raw(g, &v, 1);
	return v;
}

static uint16_t g16v(struct gen *g, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	gen_raw(g, b, 2);
	return v;
}

static uint32_t g32v(struct gen *g, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	gen_raw(g, b, 4);
	return v;
}

static uint8_t g8(struct gen *g)
{
	return g8v(g, (uint8_t)gen_next(g));
}

static uint16_t g16(struct gen *g)
{
	return g16v(g, (uint16_t)gen_next(g));
}

static uint32_t g32(struct gen *g)
{
	return g32v(g, gen_next(g));
}

static void gbytes(struct gen *g, uint8_t *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = (uint8_t)gen_next(g);
	gen_raw(g, out, n);
}

static void gen_header(struct gen *g, struct proto_msg *m, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	g8v(g, PROTO_VERSION);
	g8v(g, type);
	m->tag = g8(g);
}

/* ---- builders: one per message, fields in PROTOCOL.md order */

static void build_ekey(struct gen *g, struct proto_ekey *k)
{
	k->key_id = g32(g);
	k->user_id = g32(g);
	k->spot_id = g32(g);
	k->not_before = g32(g);
	k->not_after = g32(g);
	k->max_unlocks = g16(g);
	k->flags = g8(g);
	gbytes(g, k->device_pub, PROTO_PUBKEY_LEN);
	gbytes(g, k->sig, PROTO_SIG_LEN);
}

static void build_skey(struct gen *g, struct proto_skey *k)
{
	k->share_id = g32(g);
	k->parent_key_id = g32(g);
	k->sharer_id = g32(g);
	k->recipient_id = g32(g);
	k->spot_id = g32(g);
	k->not_before = g32(g);
	k->not_after = g32(g);
	k->max_unlocks = g16(g);
	k->mode = g8v(g, PROTO_SHARE_TRANSFER);
	k->flags = g8(g);
	gbytes(g, k->device_pub, PROTO_PUBKEY_LEN);
	gbytes(g, k->sig, PROTO_SIG_LEN);
}

static void build_event(struct gen *g, struct proto_event *e)
{
	e->seq = g32(g);
	e->time = g32(g);
	e->kind = g8(g);
	e->arg8 = g8(g);
	e->arg16 = g16(g);
	e->user_id = g32(g);
	e->key_id = g32(g);
}

static void build_hello(struct gen *g, struct proto_msg *m)
{
	gen_header(g, m, PROTO_HELLO);
	m->u.hello.mtu = g16v(g, 185);
}

static void build_info(struct gen *g, struct proto_msg *m)
{
	struct proto_info *i = &m->u.info;

	gen_header(g, m, PROTO_INFO);
	i->version = g8(g);
	i->mtu = g16(g);
	i->flags = g8(g);
	i->site_id = g32(g);
	i->spot_id = g32(g);
	gbytes(g, i->device_pub, PROTO_PUBKEY_LEN);
	i->fw_version = g16(g);
}

static void build_challenge_req(struct gen *g, struct proto_msg *m)
{
	gen_header(g, m, PROTO_CHALLENGE_REQ);
}

static void build_challenge(struct gen *g, struct proto_msg *m)
{
	struct proto_challenge *c = &m->u.challenge;

	gen_header(g, m, PROTO_CHALLENGE);
	gbytes(g, c->nonce, PROTO_NONCE_LEN);
	c->lock_time = g32(g);
	c->ttl_s = g16(g);
}

static void build_operate(struct gen *g, struct proto_msg *m)
{
	struct proto_operate *o = &m->u.operate;

	gen_header(g, m, PROTO_OPERATE);
	o->op = g8v(g, PROTO_OP_LOCK);
	o->user_id = g32(g);
	build_ekey(g, &o->ekey);
	gbytes(g, o->device_sig, PROTO_SIG_LEN);
}

static void build_operate_shared(struct gen *g, struct proto_msg *m)
{
	struct proto_operate_shared *o = &m->u.operate_shared;

	gen_header(g, m, PROTO_OPERATE_SHARED);
	o->op = g8v(g, PROTO_OP_UNLOCK);
	o->user_id = g32(g);
	build_skey(g, &o->skey);
	gbytes(g, o->device_sig, PROTO_SIG_LEN);
}

static void build_result(struct gen *g, struct proto_msg *m)
{
	struct proto_result *r = &m->u.result;

	gen_header(g, m, PROTO_RESULT);
	r->status = g8(g);
	r->op = g8(g);
	r->barrier = g8(g);
	r->uses_left = g16(g);
	r->lock_time = g32(g);
}

static void build_status_req(struct gen *g, struct proto_msg *m)
{
	gen_header(g, m, PROTO_STATUS_REQ);
	gbytes(g, m->u.status_req.nonce, PROTO_CNONCE_LEN);
}

static void build_status(struct gen *g, struct proto_msg *m)
{
	struct proto_status *s = &m->u.status;

	gen_header(g, m, PROTO_STATUS);
	s->site_id = g32(g);
	s->spot_id = g32(g);
	s->barrier = g8(g);
	s->occupied = g8(g);
	s->battery = g8(g);
	s->flags = g8(g);
	s->lock_time = g32(g);
	s->event_head = g32(g);
	s->mgmt_seq = g32(g);
	s->revoke_serial = g32(g);
	s->total_unlocks = g32(g);
	s->creds = g8(g);
	s->shares = g8(g);
	gbytes(g, s->sig, PROTO_SIG_LEN);
}

static void build_log_req(struct gen *g, struct proto_msg *m)
{
	struct proto_log_req *q = &m->u.log_req;

	gen_header(g, m, PROTO_LOG_REQ);
	gbytes(g, q->nonce, PROTO_CNONCE_LEN);
	q->from_seq = g32(g);
	q->max = g8v(g, 17);
}

static void build_log_n(struct gen *g, struct proto_msg *m, uint8_t count)
{
	struct proto_log *lg = &m->u.log;
	uint8_t i;

	gen_header(g, m, PROTO_LOG);
	lg->head_seq = g32(g);
	gbytes(g, lg->anchor, PROTO_HASH_LEN);
	lg->count = g8v(g, count);
	for (i = 0; i < count; i++)
		build_event(g, &lg->ev[i]);
	gbytes(g, lg->sig, PROTO_SIG_LEN);
}

static void build_log(struct gen *g, struct proto_msg *m)
{
	build_log_n(g, m, 3);
}

static void build_event_msg(struct gen *g, struct proto_msg *m)
{
	gen_header(g, m, PROTO_EVENT);
	build_event(g, &m->u.event);
}

static void build_provision_body(struct gen *g, struct proto_provision *p)
{
	p->site_id = g32v(g, gen_next(g) | 1);
	p->spot_id = g32v(g, gen_next(g) | 1);
	gbytes(g, p->site_pub, PROTO_PUBKEY_LEN);
}

static void build_provision(struct gen *g, struct proto_msg *m)
{
	gen_header(g, m, PROTO_PROVISION);
	build_provision_body(g, &m->u.provision);
}

static void build_ack(struct gen *g, struct proto_msg *m)
{
	struct proto_mgmt_ack *a = &m->u.ack;

	gen_header(g, m, PROTO_MGMT_ACK);
	a->spot_id = g32(g);
	a->seq = g32(g);
	a->mtype = g8(g);
	a->result = g8(g);
	a->lock_time = g32(g);
	gbytes(g, a->sig, PROTO_SIG_LEN);
}

static void build_error(struct gen *g, struct proto_msg *m)
{
	gen_header(g, m, PROTO_ERROR);
	m->u.error.code = g8(g);
	m->u.error.req_type = g8(g);
}

/* ---- management payloads */

static void build_cred(struct gen *g, union proto_mgmt_payload *u)
{
	struct proto_cred *c = &u->cred;

	c->key_id = g32(g);
	c->user_id = g32(g);
	gbytes(g, c->res_pub, PROTO_PUBKEY_LEN);
	c->not_before = g32(g);
	c->not_after = g32(g);
	c->max_unlocks = g16(g);
	c->flags = g8(g);
}

static void build_share(struct gen *g, union proto_mgmt_payload *u)
{
	struct proto_share *s = &u->share;

	s->share_id = g32(g);
	s->parent_key_id = g32(g);
	s->sharer_id = g32(g);
	s->recipient_id = g32(g);
	s->not_before = g32(g);
	s->not_after = g32(g);
	s->max_unlocks = g16(g);
	s->mode = g8v(g, PROTO_SHARE_COSHARE);
	s->flags = g8(g);
}

static void build_revoke_n(struct gen *g, union proto_mgmt_payload *u, uint16_t count)
{
	uint16_t i;

	u->revoke.count = g16v(g, count);
	for (i = 0; i < count; i++)
		u->revoke.key_ids[i] = g32(g);
}

static void build_revoke(struct gen *g, union proto_mgmt_payload *u)
{
	build_revoke_n(g, u, 5);
}

static void build_time(struct gen *g, union proto_mgmt_payload *u)
{
	u->time = g32(g);
}

static void build_lockout(struct gen *g, union proto_mgmt_payload *u)
{
	u->lockout.max_failures = g8v(g, 5);
	u->lockout.window_s = g16v(g, 600);
	u->lockout.lockout_s = g32v(g, 3600);
}

static void build_reprovision(struct gen *g, union proto_mgmt_payload *u)
{
	build_provision_body(g, &u->provision);
}

static void build_remote(struct gen *g, union proto_mgmt_payload *u)
{
	u->remote.op = g8v(g, PROTO_OP_LOCK);
	u->remote.user_id = g32v(g, gen_next(g) | 1); /* never 0 */
	u->remote.not_after = g32(g);
	gbytes(g, u->remote.reason, PROTO_REASON_DIGEST_LEN);
}

/* A MGMT frame around a payload already in `pg`; m->u.mgmt.payload points into pg. */
static void build_mgmt_with(struct gen *g, struct proto_msg *m, uint8_t mtype,
			    const struct gen *pg)
{
	struct proto_mgmt *e = &m->u.mgmt;

	gen_header(g, m, PROTO_MGMT);
	e->mtype = g8v(g, mtype);
	e->target_spot = g32(g);
	e->seq = g32(g);
	e->plen = g16v(g, (uint16_t)pg->len);
	e->payload = pg->buf;
	gen_raw(g, pg->buf, pg->len);
	gbytes(g, e->sig, PROTO_SIG_LEN);
}

static struct gen mgmt_payload_gen; /* keeps the table's MGMT payload alive */

static void build_mgmt(struct gen *g, struct proto_msg *m)
{
	union proto_mgmt_payload u;

	gen_init(&mgmt_payload_gen, 99);
	build_revoke(&mgmt_payload_gen, &u);
	build_mgmt_with(g, m, PROTO_MGMT_REVOKE, &mgmt_payload_gen);
}

/* ---- comparisons: every field */

static void cmp_ekey(const struct proto_ekey *a, const struct proto_ekey *b)
{
	assert_int_equal(a->key_id, b->key_id);
	assert_int_equal(a->user_id, b->user_id);
	assert_int_equal(a->spot_id, b->spot_id);
	assert_int_equal(a->not_before, b->not_before);
	assert_int_equal(a->not_after, b->not_after);
	assert_int_equal(a->max_unlocks, b->max_unlocks);
	assert_int_equal(a->flags, b->flags);
	assert_memory_equal(a->device_pub, b->device_pub, PROTO_PUBKEY_LEN);
	assert_memory_equal(a->sig, b->sig, PROTO_SIG_LEN);
}

static void cmp_skey(const struct proto_skey *a, const struct proto_skey *b)
{
	assert_int_equal(a->share_id, b->share_id);
	assert_int_equal(a->parent_key_id, b->parent_key_id);
	assert_int_equal(a->sharer_id, b->sharer_id);
	assert_int_equal(a->recipient_id, b->recipient_id);
	assert_int_equal(a->spot_id, b->spot_id);
	assert_int_equal(a->not_before, b->not_before);
	assert_int_equal(a->not_after, b->not_after);
	assert_int_equal(a->max_unlocks, b->max_unlocks);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->flags, b->flags);
	assert_memory_equal(a->device_pub, b->device_pub, PROTO_PUBKEY_LEN);
	assert_memory_equal(a->sig, b->sig, PROTO_SIG_LEN);
}

static void cmp_event(const struct proto_event *a, const struct proto_event *b)
{
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->time, b->time);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->arg8, b->arg8);
	assert_int_equal(a->arg16, b->arg16);
	assert_int_equal(a->user_id, b->user_id);
	assert_int_equal(a->key_id, b->key_id);
}

static void cmp_provision(const struct proto_provision *a, const struct proto_provision *b)
{
	assert_int_equal(a->site_id, b->site_id);
	assert_int_equal(a->spot_id, b->spot_id);
	assert_memory_equal(a->site_pub, b->site_pub, PROTO_PUBKEY_LEN);
}

static void cmp_payload(uint8_t mtype, const union proto_mgmt_payload *a,
			const union proto_mgmt_payload *b)
{
	uint16_t i;

	switch (mtype) {
	case PROTO_MGMT_INSTALL_CRED:
		assert_int_equal(a->cred.key_id, b->cred.key_id);
		assert_int_equal(a->cred.user_id, b->cred.user_id);
		assert_memory_equal(a->cred.res_pub, b->cred.res_pub, PROTO_PUBKEY_LEN);
		assert_int_equal(a->cred.not_before, b->cred.not_before);
		assert_int_equal(a->cred.not_after, b->cred.not_after);
		assert_int_equal(a->cred.max_unlocks, b->cred.max_unlocks);
		assert_int_equal(a->cred.flags, b->cred.flags);
		break;
	case PROTO_MGMT_INSTALL_SHARE:
		assert_int_equal(a->share.share_id, b->share.share_id);
		assert_int_equal(a->share.parent_key_id, b->share.parent_key_id);
		assert_int_equal(a->share.sharer_id, b->share.sharer_id);
		assert_int_equal(a->share.recipient_id, b->share.recipient_id);
		assert_int_equal(a->share.not_before, b->share.not_before);
		assert_int_equal(a->share.not_after, b->share.not_after);
		assert_int_equal(a->share.max_unlocks, b->share.max_unlocks);
		assert_int_equal(a->share.mode, b->share.mode);
		assert_int_equal(a->share.flags, b->share.flags);
		break;
	case PROTO_MGMT_REVOKE:
		assert_int_equal(a->revoke.count, b->revoke.count);
		for (i = 0; i < a->revoke.count; i++)
			assert_int_equal(a->revoke.key_ids[i], b->revoke.key_ids[i]);
		break;
	case PROTO_MGMT_SET_TIME:
		assert_int_equal(a->time, b->time);
		break;
	case PROTO_MGMT_SET_LOCKOUT:
		assert_int_equal(a->lockout.max_failures, b->lockout.max_failures);
		assert_int_equal(a->lockout.window_s, b->lockout.window_s);
		assert_int_equal(a->lockout.lockout_s, b->lockout.lockout_s);
		break;
	case PROTO_MGMT_REPROVISION:
		cmp_provision(&a->provision, &b->provision);
		break;
	case PROTO_MGMT_REMOTE_OPERATE:
		assert_int_equal(a->remote.op, b->remote.op);
		assert_int_equal(a->remote.user_id, b->remote.user_id);
		assert_int_equal(a->remote.not_after, b->remote.not_after);
		assert_memory_equal(a->remote.reason, b->remote.reason, PROTO_REASON_DIGEST_LEN);
		break;
	default:
		fail_msg("no payload comparison for mtype %u", mtype);
	}
}

/* Compares a decoded message `b`, whose frame is `frame`, with what was built, `a`. */
static void cmp_msg(const struct proto_msg *a, const struct proto_msg *b, const uint8_t *frame)
{
	uint8_t i;

	assert_int_equal(a->type, b->type);
	assert_int_equal(a->tag, b->tag);
	switch (a->type) {
	case PROTO_HELLO:
		assert_int_equal(a->u.hello.mtu, b->u.hello.mtu);
		break;
	case PROTO_INFO:
		assert_int_equal(a->u.info.version, b->u.info.version);
		assert_int_equal(a->u.info.mtu, b->u.info.mtu);
		assert_int_equal(a->u.info.flags, b->u.info.flags);
		assert_int_equal(a->u.info.site_id, b->u.info.site_id);
		assert_int_equal(a->u.info.spot_id, b->u.info.spot_id);
		assert_memory_equal(a->u.info.device_pub, b->u.info.device_pub, PROTO_PUBKEY_LEN);
		assert_int_equal(a->u.info.fw_version, b->u.info.fw_version);
		break;
	case PROTO_CHALLENGE_REQ:
		break;
	case PROTO_CHALLENGE:
		assert_memory_equal(a->u.challenge.nonce, b->u.challenge.nonce, PROTO_NONCE_LEN);
		assert_int_equal(a->u.challenge.lock_time, b->u.challenge.lock_time);
		assert_int_equal(a->u.challenge.ttl_s, b->u.challenge.ttl_s);
		break;
	case PROTO_OPERATE:
		assert_int_equal(a->u.operate.op, b->u.operate.op);
		assert_int_equal(a->u.operate.user_id, b->u.operate.user_id);
		cmp_ekey(&a->u.operate.ekey, &b->u.operate.ekey);
		assert_memory_equal(a->u.operate.device_sig, b->u.operate.device_sig,
				    PROTO_SIG_LEN);
		break;
	case PROTO_OPERATE_SHARED:
		assert_int_equal(a->u.operate_shared.op, b->u.operate_shared.op);
		assert_int_equal(a->u.operate_shared.user_id, b->u.operate_shared.user_id);
		cmp_skey(&a->u.operate_shared.skey, &b->u.operate_shared.skey);
		assert_memory_equal(a->u.operate_shared.device_sig, b->u.operate_shared.device_sig,
				    PROTO_SIG_LEN);
		break;
	case PROTO_RESULT:
		assert_int_equal(a->u.result.status, b->u.result.status);
		assert_int_equal(a->u.result.op, b->u.result.op);
		assert_int_equal(a->u.result.barrier, b->u.result.barrier);
		assert_int_equal(a->u.result.uses_left, b->u.result.uses_left);
		assert_int_equal(a->u.result.lock_time, b->u.result.lock_time);
		break;
	case PROTO_STATUS_REQ:
		assert_memory_equal(a->u.status_req.nonce, b->u.status_req.nonce,
				    PROTO_CNONCE_LEN);
		break;
	case PROTO_STATUS:
		assert_int_equal(a->u.status.site_id, b->u.status.site_id);
		assert_int_equal(a->u.status.spot_id, b->u.status.spot_id);
		assert_int_equal(a->u.status.barrier, b->u.status.barrier);
		assert_int_equal(a->u.status.occupied, b->u.status.occupied);
		assert_int_equal(a->u.status.battery, b->u.status.battery);
		assert_int_equal(a->u.status.flags, b->u.status.flags);
		assert_int_equal(a->u.status.lock_time, b->u.status.lock_time);
		assert_int_equal(a->u.status.event_head, b->u.status.event_head);
		assert_int_equal(a->u.status.mgmt_seq, b->u.status.mgmt_seq);
		assert_int_equal(a->u.status.revoke_serial, b->u.status.revoke_serial);
		assert_int_equal(a->u.status.total_unlocks, b->u.status.total_unlocks);
		assert_int_equal(a->u.status.creds, b->u.status.creds);
		assert_int_equal(a->u.status.shares, b->u.status.shares);
		assert_memory_equal(a->u.status.sig, b->u.status.sig, PROTO_SIG_LEN);
		break;
	case PROTO_LOG_REQ:
		assert_memory_equal(a->u.log_req.nonce, b->u.log_req.nonce, PROTO_CNONCE_LEN);
		assert_int_equal(a->u.log_req.from_seq, b->u.log_req.from_seq);
		assert_int_equal(a->u.log_req.max, b->u.log_req.max);
		break;
	case PROTO_LOG:
		assert_int_equal(a->u.log.head_seq, b->u.log.head_seq);
		assert_memory_equal(a->u.log.anchor, b->u.log.anchor, PROTO_HASH_LEN);
		assert_int_equal(a->u.log.count, b->u.log.count);
		for (i = 0; i < a->u.log.count; i++)
			cmp_event(&a->u.log.ev[i], &b->u.log.ev[i]);
		assert_memory_equal(a->u.log.sig, b->u.log.sig, PROTO_SIG_LEN);
		break;
	case PROTO_EVENT:
		cmp_event(&a->u.event, &b->u.event);
		break;
	case PROTO_PROVISION:
		cmp_provision(&a->u.provision, &b->u.provision);
		break;
	case PROTO_MGMT:
		assert_int_equal(a->u.mgmt.mtype, b->u.mgmt.mtype);
		assert_int_equal(a->u.mgmt.target_spot, b->u.mgmt.target_spot);
		assert_int_equal(a->u.mgmt.seq, b->u.mgmt.seq);
		assert_int_equal(a->u.mgmt.plen, b->u.mgmt.plen);
		assert_memory_equal(a->u.mgmt.payload, b->u.mgmt.payload, a->u.mgmt.plen);
		/* pointers into the decoded frame, as proto.h promises */
		assert_ptr_equal(b->u.mgmt.signed_body, frame + PROTO_HDR_LEN);
		assert_ptr_equal(b->u.mgmt.payload, frame + PROTO_HDR_LEN + PROTO_MGMT_HDR_LEN);
		assert_int_equal(b->u.mgmt.signed_len, PROTO_MGMT_HDR_LEN + a->u.mgmt.plen);
		assert_memory_equal(a->u.mgmt.sig, b->u.mgmt.sig, PROTO_SIG_LEN);
		break;
	case PROTO_MGMT_ACK:
		assert_int_equal(a->u.ack.spot_id, b->u.ack.spot_id);
		assert_int_equal(a->u.ack.seq, b->u.ack.seq);
		assert_int_equal(a->u.ack.mtype, b->u.ack.mtype);
		assert_int_equal(a->u.ack.result, b->u.ack.result);
		assert_int_equal(a->u.ack.lock_time, b->u.ack.lock_time);
		assert_memory_equal(a->u.ack.sig, b->u.ack.sig, PROTO_SIG_LEN);
		break;
	case PROTO_ERROR:
		assert_int_equal(a->u.error.code, b->u.error.code);
		assert_int_equal(a->u.error.req_type, b->u.error.req_type);
		break;
	default:
		fail_msg("no comparison for type 0x%02x", a->type);
	}
}

/* ---- the table of every message type, with its body length from the spec */

struct msg_case {
	uint8_t type;
	int body;   /* fixed length, or the minimum */
	bool exact;
	void (*build)(struct gen *g, struct proto_msg *m);
};

static const struct msg_case cases[] = {
	{ PROTO_HELLO, 2, true, build_hello },
	{ PROTO_CHALLENGE_REQ, 0, true, build_challenge_req },
	{ PROTO_OPERATE, 220, true, build_operate },
	{ PROTO_OPERATE_SHARED, 229, true, build_operate_shared },
	{ PROTO_STATUS_REQ, 16, true, build_status_req },
	{ PROTO_LOG_REQ, 21, true, build_log_req },
	{ PROTO_PROVISION, 72, true, build_provision },
	{ PROTO_MGMT, 75, false, build_mgmt },
	{ PROTO_INFO, 78, true, build_info },
	{ PROTO_CHALLENGE, 38, true, build_challenge },
	{ PROTO_RESULT, 9, true, build_result },
	{ PROTO_STATUS, 98, true, build_status },
	{ PROTO_LOG, 101, false, build_log },
	{ PROTO_EVENT, 20, true, build_event_msg },
	{ PROTO_MGMT_ACK, 78, true, build_ack },
	{ PROTO_ERROR, 2, true, build_error },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static const struct msg_case *case_find(uint8_t type)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		if (cases[i].type == type)
			return &cases[i];
	return NULL;
}

static void fill_sentinel(struct proto_msg *m)
{
	memset(m, SENTINEL, sizeof(*m));
}

static void assert_body_untouched(const struct proto_msg *m)
{
	const uint8_t *p = (const uint8_t *)&m->u;
	size_t i;

	for (i = 0; i < sizeof(m->u); i++)
		if (p[i] != SENTINEL)
			fail_msg("a refused decode wrote body byte %zu", i);
}

/* Decodes `len` bytes that must be refused with `err`, and checks nothing was written. */
static void assert_refused(const uint8_t *frame, size_t len, int err)
{
	struct proto_msg m;

	fill_sentinel(&m);
	assert_int_equal(proto_decode(frame, len, &m), err);
	assert_body_untouched(&m);
	if (len >= PROTO_HDR_LEN) {
		assert_int_equal(m.type, frame[1]);
		assert_int_equal(m.tag, frame[2]);
	} else {
		assert_int_equal(m.type, 0);
		assert_int_equal(m.tag, 0);
	}
}

/* Encodes `m`, checks the bytes are `want`, decodes them back and compares fields. */
static void roundtrip(const struct proto_msg *m, const uint8_t *want, size_t len)
{
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_msg got;

	assert_int_equal(proto_encode(m, buf, sizeof(buf)), (int)len);
	assert_memory_equal(buf, want, len);
	fill_sentinel(&got);
	assert_int_equal(proto_decode(buf, len, &got), 0);
	cmp_msg(m, &got, buf);
}

/* ---- tests */

static void test_every_type_roundtrips(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(NCASES, 16);
	for (i = 0; i < NCASES; i++) {
		struct gen g;
		struct proto_msg m;

		gen_init(&g, (uint32_t)i + 1);
		cases[i].build(&g, &m);
		assert_int_equal(m.type, cases[i].type);
		if (cases[i].exact)
			assert_int_equal(g.len, PROTO_HDR_LEN + (size_t)cases[i].body);
		roundtrip(&m, g.buf, g.len);
	}
}

static void test_min_body(void **state)
{
	unsigned t;

	(void)state;
	for (t = 0; t < 256; t++) {
		const struct msg_case *c = case_find((uint8_t)t);

		assert_int_equal(proto_min_body((uint8_t)t), c != NULL ? c->body : -1);
	}
}

static void test_log_counts(void **state)
{
	static const uint8_t counts[] = { 0, 1, 2, 31, PROTO_LOG_PAGE_MAX };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(counts); i++) {
		struct gen g;
		struct proto_msg m;

		gen_init(&g, 50 + (uint32_t)i);
		build_log_n(&g, &m, counts[i]);
		assert_int_equal(g.len, PROTO_HDR_LEN + 101 + 20 * (size_t)counts[i]);
		roundtrip(&m, g.buf, g.len);
	}
}

typedef void (*payload_builder)(struct gen *g, union proto_mgmt_payload *u);

static const struct {
	uint8_t mtype;
	payload_builder build;
	size_t len; /* 0: variable */
} payload_cases[] = {
	{ PROTO_MGMT_INSTALL_CRED, build_cred, 83 },
	{ PROTO_MGMT_INSTALL_SHARE, build_share, 28 },
	{ PROTO_MGMT_REVOKE, build_revoke, 0 },
	{ PROTO_MGMT_SET_TIME, build_time, 4 },
	{ PROTO_MGMT_SET_LOCKOUT, build_lockout, 7 },
	{ PROTO_MGMT_REPROVISION, build_reprovision, 72 },
	{ PROTO_MGMT_REMOTE_OPERATE, build_remote, 17 },
};
#define NPAYLOADS (sizeof(payload_cases) / sizeof(payload_cases[0]))

static void test_mgmt_every_payload_roundtrips(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(NPAYLOADS, PROTO_MGMT_TYPE_MAX);
	for (i = 0; i < NPAYLOADS; i++) {
		uint8_t mtype = payload_cases[i].mtype;
		struct gen pg, g;
		union proto_mgmt_payload want, got;
		struct proto_msg m, dec;
		uint8_t buf[PROTO_FRAME_MAX];
		struct wire_writer w;

		gen_init(&pg, 200 + (uint32_t)i);
		memset(&want, 0, sizeof(want));
		payload_cases[i].build(&pg, &want);
		if (payload_cases[i].len != 0)
			assert_int_equal(pg.len, payload_cases[i].len);

		/* the payload codec alone */
		wire_writer_init(&w, buf, sizeof(buf));
		proto_mgmt_encode_payload(&w, mtype, &want);
		assert_false(w.error);
		assert_int_equal(w.off, pg.len);
		assert_memory_equal(buf, pg.buf, pg.len);
		memset(&got, SENTINEL, sizeof(got));
		assert_int_equal(proto_mgmt_decode_payload(mtype, pg.buf, pg.len, &got), 0);
		cmp_payload(mtype, &want, &got);

		/* inside a whole MGMT frame */
		gen_init(&g, 300 + (uint32_t)i);
		build_mgmt_with(&g, &m, mtype, &pg);
		assert_int_equal(g.len, PROTO_HDR_LEN + 75 + pg.len);
		roundtrip(&m, g.buf, g.len);
		assert_int_equal(proto_decode(g.buf, g.len, &dec), 0);
		memset(&got, SENTINEL, sizeof(got));
		assert_int_equal(proto_mgmt_decode_payload(dec.u.mgmt.mtype, dec.u.mgmt.payload,
							   dec.u.mgmt.plen, &got), 0);
		cmp_payload(mtype, &want, &got);
	}
}

static void test_revoke_sizes(void **state)
{
	static const uint16_t counts[] = { 0, 1, 127, PROTO_REVOKE_MAX };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct gen pg, g;
		union proto_mgmt_payload want, got;
		struct proto_msg m;

		gen_init(&pg, 400 + (uint32_t)i);
		build_revoke_n(&pg, &want, counts[i]);
		assert_int_equal(pg.len, 2 + 4 * (size_t)counts[i]);
		assert_int_equal(proto_mgmt_decode_payload(PROTO_MGMT_REVOKE, pg.buf, pg.len,
							   &got), 0);
		cmp_payload(PROTO_MGMT_REVOKE, &want, &got);
		gen_init(&g, 500 + (uint32_t)i);
		build_mgmt_with(&g, &m, PROTO_MGMT_REVOKE, &pg);
		roundtrip(&m, g.buf, g.len);
	}
}

static void test_truncated_at_every_length(void **state)
{
	size_t i, cut;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		struct gen g;
		struct proto_msg m;

		gen_init(&g, 600 + (uint32_t)i);
		cases[i].build(&g, &m);
		for (cut = 0; cut < g.len; cut++)
			assert_refused(g.buf, cut, -PROTO_E_LENGTH);
	}
	assert_refused(NULL, 0, -PROTO_E_LENGTH);
}

static void test_trailing_bytes(void **state)
{
	size_t i, extra;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		struct gen g;
		struct proto_msg m;

		gen_init(&g, 700 + (uint32_t)i);
		cases[i].build(&g, &m);
		for (extra = 1; extra <= 21; extra++) {
			uint8_t buf[PROTO_FRAME_MAX];

			memcpy(buf, g.buf, g.len);
			memset(buf + g.len, 0, extra);
			assert_refused(buf, g.len + extra, -PROTO_E_LENGTH);
		}
	}
}

static void test_frame_too_long(void **state)
{
	static uint8_t big[PROTO_FRAME_MAX + 1];

	(void)state;
	big[0] = PROTO_VERSION;
	big[1] = PROTO_LOG;
	big[2] = 9;
	assert_refused(big, sizeof(big), -PROTO_E_LENGTH);
	big[1] = PROTO_MGMT;
	assert_refused(big, sizeof(big), -PROTO_E_LENGTH);
}

static void test_wrong_version(void **state)
{
	static const uint8_t versions[] = { 0, 2, 0x7F, 0xFF };
	size_t i, v;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		struct gen g;
		struct proto_msg m;

		gen_init(&g, 800 + (uint32_t)i);
		cases[i].build(&g, &m);
		for (v = 0; v < sizeof(versions); v++) {
			g.buf[0] = versions[v];
			assert_refused(g.buf, g.len, -PROTO_E_VERSION);
		}
	}
}

static void test_unknown_type(void **state)
{
	unsigned t;
	size_t known = 0;

	(void)state;
	for (t = 0; t < 256; t++) {
		uint8_t frame[PROTO_FRAME_MAX];
		struct proto_msg m;

		if (case_find((uint8_t)t) != NULL) {
			known++;
			continue;
		}
		memset(frame, 0, sizeof(frame));
		frame[0] = PROTO_VERSION;
		frame[1] = (uint8_t)t;
		frame[2] = 0x33;
		assert_refused(frame, 3, -PROTO_E_TYPE);
		assert_refused(frame, 80, -PROTO_E_TYPE);
		m.type = (uint8_t)t;
		m.tag = 1;
		assert_int_equal(proto_encode(&m, frame, sizeof(frame)), -PROTO_E_TYPE);
	}
	assert_int_equal(known, 16);
}

/* Builds a case, overwrites body bytes at `off`, and expects `err` (0: accepted). */
static void expect_body(uint8_t type, size_t off, uint8_t *value, size_t n, int err)
{
	struct gen g;
	struct proto_msg m;

	gen_init(&g, 900);
	case_find(type)->build(&g, &m);
	memcpy(g.buf + PROTO_HDR_LEN + off, value, n);
	if (err != 0) {
		assert_refused(g.buf, g.len, err);
	} else {
		assert_int_equal(proto_decode(g.buf, g.len, &m), 0);
	}
}

static void expect_u8(uint8_t type, size_t off, uint8_t v, int err)
{
	expect_body(type, off, &v, 1, err);
}

static void expect_u16(uint8_t type, size_t off, uint16_t v, int err)
{
	uint8_t b[2];

	wire_store_u16(b, v);
	expect_body(type, off, b, 2, err);
}

static void expect_u32(uint8_t type, size_t off, uint32_t v, int err)
{
	uint8_t b[4];

	wire_store_u32(b, v);
	expect_body(type, off, b, 4, err);
}

static void test_hello_mtu_range(void **state)
{
	struct proto_msg m;
	uint8_t f[] = { 1, PROTO_HELLO, 7, 0, 0 };
	unsigned mtu;

	(void)state;
	for (mtu = 0; mtu <= 0xFFFF; mtu++) {
		wire_store_u16(f + 3, (uint16_t)mtu);
		if (mtu >= 23 && mtu <= 247) {
			assert_int_equal(proto_decode(f, sizeof(f), &m), 0);
			assert_int_equal(m.u.hello.mtu, mtu);
		} else {
			assert_refused(f, sizeof(f), -PROTO_E_VALUE);
		}
	}
}

static void test_op_range(void **state)
{
	unsigned op;

	(void)state;
	for (op = 0; op < 256; op++) {
		int want = op == 1 || op == 2 ? 0 : -PROTO_E_VALUE;

		expect_u8(PROTO_OPERATE, 0, (uint8_t)op, want);
		expect_u8(PROTO_OPERATE_SHARED, 0, (uint8_t)op, want);
	}
}

static void test_skey_mode_range(void **state)
{
	unsigned mode;

	(void)state;
	for (mode = 0; mode < 256; mode++)
		expect_u8(PROTO_OPERATE_SHARED, 5 + 30, (uint8_t)mode,
			  mode == 1 || mode == 2 ? 0 : -PROTO_E_VALUE);
}

static void test_log_req_max_range(void **state)
{
	unsigned max;

	(void)state;
	for (max = 0; max < 256; max++)
		expect_u8(PROTO_LOG_REQ, 20, (uint8_t)max,
			  max >= 1 && max <= PROTO_LOG_PAGE_MAX ? 0 : -PROTO_E_VALUE);
}

static void test_log_count(void **state)
{
	struct gen g;
	struct proto_msg m;
	uint8_t buf[PROTO_FRAME_MAX];
	size_t len, count_at = PROTO_HDR_LEN + 36;

	(void)state;
	gen_init(&g, 950);
	build_log_n(&g, &m, PROTO_LOG_PAGE_MAX);
	len = g.len;
	/* 33 events present and counted: the length agrees, the count is past the page */
	memcpy(buf, g.buf, len - PROTO_SIG_LEN);
	memset(buf + len - PROTO_SIG_LEN, 0x44, PROTO_EVENT_LEN);
	memcpy(buf + len - PROTO_SIG_LEN + PROTO_EVENT_LEN, g.buf + len - PROTO_SIG_LEN,
	       PROTO_SIG_LEN);
	buf[count_at] = PROTO_LOG_PAGE_MAX + 1;
	assert_refused(buf, len + PROTO_EVENT_LEN, -PROTO_E_LENGTH);
	/* a count that disagrees with the events present, both ways */
	memcpy(buf, g.buf, len);
	buf[count_at] = PROTO_LOG_PAGE_MAX - 1;
	assert_refused(buf, len, -PROTO_E_LENGTH);
	buf[count_at] = PROTO_LOG_PAGE_MAX;
	assert_refused(buf, len - PROTO_EVENT_LEN, -PROTO_E_LENGTH);
	buf[count_at] = 0xFF;
	assert_refused(buf, len, -PROTO_E_LENGTH);
	/* and the encoder will not read past the page either */
	m.u.log.count = PROTO_LOG_PAGE_MAX + 1;
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -PROTO_E_LENGTH);
}

static void test_provision_ids_nonzero(void **state)
{
	(void)state;
	expect_u32(PROTO_PROVISION, 0, 0, -PROTO_E_VALUE);
	expect_u32(PROTO_PROVISION, 4, 0, -PROTO_E_VALUE);
	expect_u32(PROTO_PROVISION, 0, 1, 0);
	expect_u32(PROTO_PROVISION, 4, 0xFFFFFFFFu, 0);
}

/* Values not range-checked by the codec must pass, so old locks read new replies. */
static void test_unchecked_fields_pass(void **state)
{
	(void)state;
	expect_u8(PROTO_RESULT, 0, 0xFF, 0);
	expect_u8(PROTO_RESULT, 2, 0xFF, 0);
	expect_u8(PROTO_ERROR, 0, 0xFF, 0);
	expect_u8(PROTO_EVENT, 8, 0xFF, 0);
	expect_u16(PROTO_INFO, 1, 0, 0);
	expect_u8(PROTO_OPERATE, 5 + 22, 0xFF, 0); /* ekey flags */
}

/* A MGMT frame around raw payload bytes. */
static size_t mgmt_frame(uint8_t *out, uint8_t mtype, const uint8_t *payload, size_t plen)
{
	struct gen g, pg;
	struct proto_msg m;

	gen_init(&pg, 0);
	gen_raw(&pg, payload, plen);
	gen_init(&g, 1000);
	build_mgmt_with(&g, &m, mtype, &pg);
	memcpy(out, g.buf, g.len);
	return g.len;
}

/* Checks a payload both through proto_mgmt_decode_payload and inside a MGMT frame. */
static void expect_payload(uint8_t mtype, const uint8_t *p, size_t len, int err)
{
	union proto_mgmt_payload u;
	uint8_t frame[PROTO_FRAME_MAX + 64];
	size_t n, i;

	memset(&u, SENTINEL, sizeof(u));
	assert_int_equal(proto_mgmt_decode_payload(mtype, p, len, &u), err);
	if (err != 0)
		for (i = 0; i < sizeof(u); i++)
			assert_int_equal(((const uint8_t *)&u)[i], SENTINEL);
	if (p == NULL || len > PROTO_FRAME_MAX - PROTO_HDR_LEN - 75)
		return; /* no frame can carry it */
	n = mgmt_frame(frame, mtype, p, len);
	if (err != 0) {
		assert_refused(frame, n, err);
	} else {
		struct proto_msg m;

		assert_int_equal(proto_decode(frame, n, &m), 0);
	}
}

static void test_mgmt_unknown_mtype(void **state)
{
	static const uint8_t bad[] = { 0, 8, 9, 0x10, 0x80, 0xFF };
	uint8_t payload[4] = { 0x65, 0x53, 0xF1, 0x00 };
	uint8_t frame[PROTO_FRAME_MAX + 64];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad); i++) {
		struct wire_writer w;
		union proto_mgmt_payload u;
		uint8_t buf[16];

		expect_payload(bad[i], payload, sizeof(payload), -PROTO_E_TYPE);
		/* the type is judged before the envelope's length */
		n = mgmt_frame(frame, bad[i], payload, sizeof(payload));
		wire_store_u16(frame + PROTO_HDR_LEN + 9, 99);
		assert_refused(frame, n, -PROTO_E_TYPE);
		assert_refused(frame, PROTO_HDR_LEN + 11, -PROTO_E_LENGTH);
		memset(&u, 0, sizeof(u));
		wire_writer_init(&w, buf, sizeof(buf));
		proto_mgmt_encode_payload(&w, bad[i], &u);
		assert_true(w.error);
		assert_int_equal(w.off, 0);
	}
}

static void test_mgmt_payload_lengths(void **state)
{
	size_t i, len;

	(void)state;
	for (i = 0; i < NPAYLOADS; i++) {
		size_t want = payload_cases[i].len;
		union proto_mgmt_payload u;
		struct gen pg;

		if (want == 0)
			continue;
		/* a valid payload, cut short or followed by zeros */
		gen_init(&pg, 1000 + (uint32_t)i);
		payload_cases[i].build(&pg, &u);
		memset(pg.buf + pg.len, 0, 16);
		for (len = 0; len <= want + 16; len++)
			expect_payload(payload_cases[i].mtype, pg.buf, len,
				       len == want ? 0 : -PROTO_E_LENGTH);
	}
	/* REVOKE: too short for its count field */
	expect_payload(PROTO_MGMT_REVOKE, (const uint8_t *)"\0\0", 0, -PROTO_E_LENGTH);
	expect_payload(PROTO_MGMT_REVOKE, (const uint8_t *)"\0\0", 1, -PROTO_E_LENGTH);
	expect_payload(PROTO_MGMT_REVOKE, (const uint8_t *)"\0\0", 2, 0);
	/* a NULL payload is an empty one, whatever its length says */
	expect_payload(PROTO_MGMT_SET_TIME, NULL, 4, -PROTO_E_LENGTH);
}

static void test_mgmt_envelope_plen(void **state)
{
	struct gen g, pg;
	struct proto_msg m;
	union proto_mgmt_payload u;
	uint8_t buf[PROTO_FRAME_MAX];

	(void)state;
	gen_init(&pg, 1);
	build_time(&pg, &u);
	gen_init(&g, 2);
	build_mgmt_with(&g, &m, PROTO_MGMT_SET_TIME, &pg);
	memcpy(buf, g.buf, g.len);
	/* plen one more or one less than the bytes present */
	wire_store_u16(buf + PROTO_HDR_LEN + 9, 5);
	assert_refused(buf, g.len, -PROTO_E_LENGTH);
	wire_store_u16(buf + PROTO_HDR_LEN + 9, 3);
	assert_refused(buf, g.len, -PROTO_E_LENGTH);
	wire_store_u16(buf + PROTO_HDR_LEN + 9, 0xFFFF);
	assert_refused(buf, g.len, -PROTO_E_LENGTH);
}

static void test_revoke_values(void **state)
{
	uint8_t p[2 + 4 * 132];
	uint16_t count;

	(void)state;
	memset(p, 0x22, sizeof(p));
	for (count = 0; count <= 130; count++) {
		size_t len = 2 + 4 * (size_t)count;

		wire_store_u16(p, count);
		expect_payload(PROTO_MGMT_REVOKE, p, len,
			       count <= PROTO_REVOKE_MAX ? 0 : -PROTO_E_VALUE);
		/* a count that does not match the length */
		expect_payload(PROTO_MGMT_REVOKE, p, len + 4, -PROTO_E_VALUE);
		expect_payload(PROTO_MGMT_REVOKE, p, len + 1, -PROTO_E_VALUE);
		if (count > 0)
			expect_payload(PROTO_MGMT_REVOKE, p, len - 4, -PROTO_E_VALUE);
	}
	wire_store_u16(p, 0xFFFF);
	expect_payload(PROTO_MGMT_REVOKE, p, 2, -PROTO_E_VALUE);
}

static void lockout_payload(uint8_t *p, uint8_t max_failures, uint16_t window_s,
			    uint32_t lockout_s)
{
	p[0] = max_failures;
	wire_store_u16(p + 1, window_s);
	wire_store_u32(p + 3, lockout_s);
}

static void test_lockout_values(void **state)
{
	uint8_t p[7];

	(void)state;
	lockout_payload(p, 0, 60, 60);
	expect_payload(PROTO_MGMT_SET_LOCKOUT, p, 7, -PROTO_E_VALUE);
	lockout_payload(p, 5, 0, 60);
	expect_payload(PROTO_MGMT_SET_LOCKOUT, p, 7, -PROTO_E_VALUE);
	lockout_payload(p, 5, 60, 0);
	expect_payload(PROTO_MGMT_SET_LOCKOUT, p, 7, -PROTO_E_VALUE);
	lockout_payload(p, 5, 60, 604801);
	expect_payload(PROTO_MGMT_SET_LOCKOUT, p, 7, -PROTO_E_VALUE);
	lockout_payload(p, 5, 60, 0xFFFFFFFFu);
	expect_payload(PROTO_MGMT_SET_LOCKOUT, p, 7, -PROTO_E_VALUE);
	/* the edges that are allowed */
	lockout_payload(p, 1, 1, 1);
	expect_payload(PROTO_MGMT_SET_LOCKOUT, p, 7, 0);
	lockout_payload(p, 255, 0xFFFF, 604800);
	expect_payload(PROTO_MGMT_SET_LOCKOUT, p, 7, 0);
}

static void test_share_mode_values(void **state)
{
	uint8_t p[28];
	unsigned mode;

	(void)state;
	memset(p, 0x33, sizeof(p));
	for (mode = 0; mode < 256; mode++) {
		p[26] = (uint8_t)mode;
		expect_payload(PROTO_MGMT_INSTALL_SHARE, p, sizeof(p),
			       mode == 1 || mode == 2 ? 0 : -PROTO_E_VALUE);
	}
}

static void test_reprovision_values(void **state)
{
	uint8_t p[72];

	(void)state;
	memset(p, 0x44, sizeof(p));
	expect_payload(PROTO_MGMT_REPROVISION, p, sizeof(p), 0);
	wire_store_u32(p, 0);
	expect_payload(PROTO_MGMT_REPROVISION, p, sizeof(p), -PROTO_E_VALUE);
	wire_store_u32(p, 9);
	wire_store_u32(p + 4, 0);
	expect_payload(PROTO_MGMT_REPROVISION, p, sizeof(p), -PROTO_E_VALUE);
}

/* An override moves the barrier one way or the other, for a named attendant. */
static void test_remote_operate_values(void **state)
{
	uint8_t p[17];
	unsigned op;

	(void)state;
	memset(p, 0x55, sizeof(p));
	for (op = 0; op < 256; op++) {
		p[0] = (uint8_t)op;
		expect_payload(PROTO_MGMT_REMOTE_OPERATE, p, sizeof(p),
			       op == PROTO_OP_UNLOCK || op == PROTO_OP_LOCK ? 0 : -PROTO_E_VALUE);
	}
	p[0] = PROTO_OP_UNLOCK;
	wire_store_u32(p + 1, 0);
	expect_payload(PROTO_MGMT_REMOTE_OPERATE, p, sizeof(p), -PROTO_E_VALUE);
	wire_store_u32(p + 1, 1);
	expect_payload(PROTO_MGMT_REMOTE_OPERATE, p, sizeof(p), 0);
	wire_store_u32(p + 1, 0xFFFFFFFFu);
	wire_store_u32(p + 5, 0); /* any not_after: the lock judges it */
	expect_payload(PROTO_MGMT_REMOTE_OPERATE, p, sizeof(p), 0);
}

static void test_encode_small_buffer(void **state)
{
	size_t i, cap, k;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		struct gen g;
		struct proto_msg m;
		uint8_t buf[PROTO_FRAME_MAX + 16];

		gen_init(&g, 1100 + (uint32_t)i);
		cases[i].build(&g, &m);
		for (cap = 0; cap < g.len; cap++) {
			memset(buf, 0xEE, sizeof(buf));
			assert_int_equal(proto_encode(&m, buf, cap), -PROTO_E_LENGTH);
			for (k = cap; k < sizeof(buf); k++)
				assert_int_equal(buf[k], 0xEE);
		}
		assert_int_equal(proto_encode(&m, buf, g.len), (int)g.len);
		assert_int_equal(proto_encode(&m, NULL, 100), -PROTO_E_LENGTH);
	}
}

static void test_encode_refuses_oversize_mgmt(void **state)
{
	static uint8_t payload[1024];
	static uint8_t buf[2048];
	struct proto_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_MGMT;
	m.u.mgmt.mtype = PROTO_MGMT_REVOKE;
	m.u.mgmt.payload = payload;
	/* a frame of 3 + 75 + plen bytes: 1024 fits, 1025 not, whatever the buffer */
	m.u.mgmt.plen = PROTO_FRAME_MAX - PROTO_HDR_LEN - 75;
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), PROTO_FRAME_MAX);
	m.u.mgmt.plen++;
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -PROTO_E_LENGTH);
	/* plen bytes that do not exist */
	m.u.mgmt.plen = 4;
	m.u.mgmt.payload = NULL;
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -PROTO_E_LENGTH);
	m.u.mgmt.plen = 0;
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), PROTO_HDR_LEN + 75);
}

static void test_mgmt_encode_payload_refusals(void **state)
{
	union proto_mgmt_payload u;
	uint8_t buf[1024];
	struct wire_writer w;
	struct gen pg;
	size_t i, cap;

	(void)state;
	memset(&u, 0, sizeof(u));
	u.revoke.count = PROTO_REVOKE_MAX + 1;
	wire_writer_init(&w, buf, sizeof(buf));
	proto_mgmt_encode_payload(&w, PROTO_MGMT_REVOKE, &u);
	assert_true(w.error);
	assert_int_equal(w.off, 0);

	for (i = 0; i < NPAYLOADS; i++) {
		gen_init(&pg, 1200 + (uint32_t)i);
		payload_cases[i].build(&pg, &u);
		for (cap = 0; cap < pg.len; cap++) {
			wire_writer_init(&w, buf, cap);
			proto_mgmt_encode_payload(&w, payload_cases[i].mtype, &u);
			assert_true(w.error);
		}
	}
}

static void test_status_names(void **state)
{
	static const char *const want[] = {
		"ok", "bad_version", "bad_length", "unknown_type", "bad_fragment", "bad_value",
		"unprovisioned", "already_provisioned", "no_challenge", "unknown_key",
		"bad_key_signature", "wrong_spot", "bad_device_signature", "key_not_yet_valid",
		"key_expired", "key_used_up", "key_revoked", "key_transferred", "wrong_user",
		"locked_out", "bad_site_signature", "stale_sequence", "time_backwards",
		"table_full", "busy", "jammed", "flash_error", "time_unset", "wrong_target",
		"internal", "occupied",
	};
	int i;

	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]), PROTO_STATUS_COUNT);
	for (i = 0; i < PROTO_STATUS_COUNT; i++)
		assert_string_equal(proto_status_name(i), want[i]);
	assert_string_equal(proto_status_name(PROTO_E_KEY_SIG), "bad_key_signature");
	assert_string_equal(proto_status_name(PROTO_E_TARGET), "wrong_target");
	assert_string_equal(proto_status_name(-1), "unknown");
	assert_string_equal(proto_status_name(-PROTO_E_EXPIRED), "unknown");
	assert_string_equal(proto_status_name(PROTO_STATUS_COUNT), "unknown");
	assert_string_equal(proto_status_name(255), "unknown");
}

static void test_event_names(void **state)
{
	static const char *const want[] = {
		"unknown", "boot", "unlocked", "locked", "car_arrived", "car_left", "forced",
		"jammed", "low_battery", "lockout", "mgmt", "time_set", "override",
	};
	unsigned k;

	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]), PROTO_EV_KIND_MAX + 1);
	for (k = 0; k <= PROTO_EV_KIND_MAX; k++)
		assert_string_equal(proto_event_name((uint8_t)k), want[k]);
	assert_string_equal(proto_event_name(PROTO_EV_TIME_SET), "time_set");
	assert_string_equal(proto_event_name(PROTO_EV_OVERRIDE), "override");
	assert_string_equal(proto_event_name(PROTO_EV_KIND_MAX + 1), "unknown");
	assert_string_equal(proto_event_name(255), "unknown");
}

static void test_event_codec(void **state)
{
	static const uint8_t raw[20] = { 0x00, 0x00, 0x00, 0x2A, 0x65, 0x53, 0xF1, 0x1E, 0x02,
					 0x01, 0x00, 0x03, 0x00, 0x00, 0x03, 0xE9, 0x00, 0x00,
					 0x13, 0x89 };
	struct proto_event e, back;
	uint8_t out[20];

	(void)state;
	proto_event_decode(raw, &e);
	assert_int_equal(e.seq, 42);
	assert_int_equal(e.time, 1700000030u);
	assert_int_equal(e.kind, PROTO_EV_UNLOCKED);
	assert_int_equal(e.arg8, PROTO_HOW_KEY);
	assert_int_equal(e.arg16, 3);
	assert_int_equal(e.user_id, 1001);
	assert_int_equal(e.key_id, 5001);
	proto_event_encode(out, &e);
	assert_memory_equal(out, raw, sizeof(raw));
	proto_event_decode(out, &back);
	cmp_event(&e, &back);
}

/* ---- to-be-signed strings */

static void tag4(struct gen *g, const char *tag)
{
	gen_raw(g, (const uint8_t *)tag, 4);
}

static void tbs_writer(struct wire_writer *w, uint8_t *buf)
{
	wire_writer_init(w, buf, PROTO_FRAME_MAX + 16);
}

static void test_tbs_ekey_skey(void **state)
{
	uint8_t buf[PROTO_FRAME_MAX + 16];
	struct wire_writer w;
	struct gen g, want;
	struct proto_msg m;

	(void)state;
	gen_init(&g, 1300);
	build_operate(&g, &m);
	gen_init(&want, 0);
	tag4(&want, "PKE1");
	gen_raw(&want, g.buf + PROTO_HDR_LEN + 5, PROTO_EKEY_TBS_LEN);
	tbs_writer(&w, buf);
	proto_tbs_ekey(&w, &m.u.operate.ekey);
	assert_false(w.error);
	assert_int_equal(w.off, 91);
	assert_memory_equal(buf, want.buf, want.len);

	gen_init(&g, 1301);
	build_operate_shared(&g, &m);
	gen_init(&want, 0);
	tag4(&want, "PKK1");
	gen_raw(&want, g.buf + PROTO_HDR_LEN + 5, PROTO_SKEY_TBS_LEN);
	tbs_writer(&w, buf);
	proto_tbs_skey(&w, &m.u.operate_shared.skey);
	assert_false(w.error);
	assert_int_equal(w.off, 100);
	assert_memory_equal(buf, want.buf, want.len);
}

static void test_tbs_operate(void **state)
{
	uint8_t buf[PROTO_FRAME_MAX + 16], nonce[PROTO_NONCE_LEN];
	struct wire_writer w;
	struct gen want;
	uint32_t site, spot, user, key;
	uint8_t op;

	(void)state;
	gen_init(&want, 1400);
	tag4(&want, "PKO1");
	gbytes(&want, nonce, sizeof(nonce));
	site = g32(&want);
	spot = g32(&want);
	op = g8(&want);
	user = g32(&want);
	key = g32(&want);
	tbs_writer(&w, buf);
	proto_tbs_operate(&w, nonce, site, spot, op, user, key);
	assert_false(w.error);
	assert_int_equal(w.off, 53);
	assert_memory_equal(buf, want.buf, want.len);
}

static void test_tbs_mgmt_prefix(void **state)
{
	uint8_t buf[16];
	struct wire_writer w;
	static const uint8_t want[8] = { 'P', 'K', 'M', '1', 0xDE, 0xAD, 0xBE, 0xEF };

	(void)state;
	wire_writer_init(&w, buf, sizeof(buf));
	proto_tbs_mgmt_prefix(&w, 0xDEADBEEFu);
	assert_false(w.error);
	assert_int_equal(w.off, 8);
	assert_memory_equal(buf, want, 8);
}

static void test_tbs_status(void **state)
{
	uint8_t buf[PROTO_FRAME_MAX + 16];
	uint8_t nonce[PROTO_CNONCE_LEN];
	struct wire_writer w;
	struct gen g, want;
	struct proto_msg m;

	(void)state;
	gen_init(&g, 1500);
	build_status(&g, &m);
	gen_init(&want, 1501);
	tag4(&want, "PKS1");
	gbytes(&want, nonce, sizeof(nonce));
	gen_raw(&want, g.buf + PROTO_HDR_LEN, 34);
	tbs_writer(&w, buf);
	proto_tbs_status(&w, nonce, &m.u.status);
	assert_false(w.error);
	assert_int_equal(w.off, 54);
	assert_memory_equal(buf, want.buf, want.len);
}

static void test_tbs_log(void **state)
{
	uint8_t buf[PROTO_FRAME_MAX + 16];
	uint8_t nonce[PROTO_CNONCE_LEN], last[PROTO_HASH_LEN];
	struct wire_writer w;
	struct gen want;
	uint32_t site, spot, head;
	uint8_t count;

	(void)state;
	gen_init(&want, 1600);
	tag4(&want, "PKL1");
	gbytes(&want, nonce, sizeof(nonce));
	site = g32(&want);
	spot = g32(&want);
	head = g32(&want);
	count = g8(&want);
	gbytes(&want, last, sizeof(last));
	tbs_writer(&w, buf);
	proto_tbs_log(&w, nonce, site, spot, head, count, last);
	assert_false(w.error);
	assert_int_equal(w.off, 65);
	assert_memory_equal(buf, want.buf, want.len);
}

static void test_tbs_ack(void **state)
{
	uint8_t buf[PROTO_FRAME_MAX + 16];
	struct wire_writer w;
	struct gen g, want;
	struct proto_msg m;

	(void)state;
	gen_init(&g, 1700);
	build_ack(&g, &m);
	gen_init(&want, 0);
	tag4(&want, "PKA1");
	g32v(&want, 0x01020304u);
	gen_raw(&want, g.buf + PROTO_HDR_LEN, 14);
	tbs_writer(&w, buf);
	proto_tbs_ack(&w, 0x01020304u, &m.u.ack);
	assert_false(w.error);
	assert_int_equal(w.off, 22);
	assert_memory_equal(buf, want.buf, want.len);
}

static void test_tbs_small_writer(void **state)
{
	uint8_t buf[90];
	struct wire_writer w;
	struct gen g;
	struct proto_msg m;

	(void)state;
	gen_init(&g, 1800);
	build_operate(&g, &m);
	wire_writer_init(&w, buf, sizeof(buf)); /* one short of 91 */
	proto_tbs_ekey(&w, &m.u.operate.ekey);
	assert_true(w.error);
}

/* ---- the worked examples of PROTOCOL.md */

#define EX_MAX 32
#define EX_FRAGS 64

struct example {
	char kind[16]; /* "frame", "fragments", "signed" */
	char name[48];
	unsigned param; /* MTU of fragments, site of signed */
	unsigned line;
	uint8_t bytes[PROTO_FRAME_MAX];
	size_t len;
	uint8_t frag[EX_FRAGS][FRAG_PAYLOAD_MAX + 1];
	size_t frag_len[EX_FRAGS];
	size_t nfrags;
};

static struct example examples[EX_MAX];
static size_t nexamples;

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s (run the test from the repository root)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex-decodes one line with its comment and whitespace removed; returns the byte count. */
static size_t parse_hex_line(const char *line, unsigned lineno, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *line != '\0' && *line != '#'; line++) {
		int v;

		if (*line == ' ' || *line == '\t' || *line == '\r')
			continue;
		v = hexval(*line);
		if (v < 0)
			fail_msg("%s:%u: not hex: '%c'", PROTOCOL_MD, lineno, *line);
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= cap)
			fail_msg("%s:%u: example too long", PROTOCOL_MD, lineno);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0)
		fail_msg("%s:%u: odd number of hex digits", PROTOCOL_MD, lineno);
	return n;
}

static void parse_header(struct example *ex, const char *line, unsigned lineno)
{
	if (sscanf(line, "# frame: %47s", ex->name) == 1) {
		strcpy(ex->kind, "frame");
	} else if (sscanf(line, "# fragments of: %47[^,], mtu %u", ex->name, &ex->param) == 2) {
		strcpy(ex->kind, "fragments");
	} else if (sscanf(line, "# signed: %47[^,], site %u", ex->name, &ex->param) == 2) {
		strcpy(ex->kind, "signed");
	} else {
		fail_msg("%s:%u: a hex block must start with '# frame: NAME', "
			 "'# fragments of: NAME, mtu N' or '# signed: NAME, site N'",
			 PROTOCOL_MD, lineno);
	}
	ex->line = lineno;
}

static void parse_body_line(struct example *ex, const char *line, unsigned lineno)
{
	uint8_t tmp[PROTO_FRAME_MAX];
	size_t n = parse_hex_line(line, lineno, tmp, sizeof(tmp));

	if (n == 0)
		return;
	if (strcmp(ex->kind, "fragments") == 0) {
		if (ex->nfrags >= EX_FRAGS || n > sizeof(ex->frag[0]))
			fail_msg("%s:%u: fragment too long or too many", PROTOCOL_MD, lineno);
		memcpy(ex->frag[ex->nfrags], tmp, n);
		ex->frag_len[ex->nfrags++] = n;
		return;
	}
	if (ex->len + n > sizeof(ex->bytes))
		fail_msg("%s:%u: example longer than a frame", PROTOCOL_MD, lineno);
	memcpy(ex->bytes + ex->len, tmp, n);
	ex->len += n;
}

static void load_examples(void)
{
	char *text = read_file(PROTOCOL_MD), *line, *next;
	struct example *ex = NULL;
	bool header = false;
	unsigned lineno = 0;

	nexamples = 0;
	memset(examples, 0, sizeof(examples));
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (ex == NULL) {
			if (strncmp(line, "```hex", 6) == 0) {
				assert_true(nexamples < EX_MAX);
				ex = &examples[nexamples++];
				header = true;
			}
			continue;
		}
		if (strncmp(line, "```", 3) == 0) {
			if (header)
				fail_msg("%s:%u: empty hex block", PROTOCOL_MD, lineno);
			ex = NULL;
			continue;
		}
		if (header) {
			parse_header(ex, line, lineno);
			header = false;
			continue;
		}
		parse_body_line(ex, line, lineno);
	}
	if (ex != NULL)
		fail_msg("%s: unterminated hex block", PROTOCOL_MD);
	free(text);
}

static const struct example *example_find(const char *kind, const char *name)
{
	size_t i;

	for (i = 0; i < nexamples; i++)
		if (strcmp(examples[i].kind, kind) == 0 && strcmp(examples[i].name, name) == 0)
			return &examples[i];
	return NULL;
}

/* What each frame example must decode to. */

static void ex_hello(const struct proto_msg *m)
{
	assert_int_equal(m->type, PROTO_HELLO);
	assert_int_equal(m->tag, 1);
	assert_int_equal(m->u.hello.mtu, 247);
}

static void ex_challenge_req(const struct proto_msg *m)
{
	assert_int_equal(m->type, PROTO_CHALLENGE_REQ);
	assert_int_equal(m->tag, 2);
}

static void ex_challenge(const struct proto_msg *m)
{
	uint8_t i;

	assert_int_equal(m->type, PROTO_CHALLENGE);
	assert_int_equal(m->tag, 2);
	for (i = 0; i < PROTO_NONCE_LEN; i++)
		assert_int_equal(m->u.challenge.nonce[i], i);
	assert_int_equal(m->u.challenge.lock_time, 1700000000u);
	assert_int_equal(m->u.challenge.ttl_s, 30);
}

static void ex_result(const struct proto_msg *m)
{
	assert_int_equal(m->type, PROTO_RESULT);
	assert_int_equal(m->tag, 3);
	assert_int_equal(m->u.result.status, PROTO_OK);
	assert_int_equal(m->u.result.op, PROTO_OP_UNLOCK);
	assert_int_equal(m->u.result.barrier, PROTO_BARRIER_DOWN);
	assert_int_equal(m->u.result.uses_left, 4);
	assert_int_equal(m->u.result.lock_time, 1700000030u);
}

static void ex_error(const struct proto_msg *m)
{
	assert_int_equal(m->type, PROTO_ERROR);
	assert_int_equal(m->tag, 4);
	assert_int_equal(m->u.error.code, PROTO_E_VALUE);
	assert_string_equal(proto_status_name(m->u.error.code), "bad_value");
	assert_int_equal(m->u.error.req_type, PROTO_HELLO);
}

static void ex_event(const struct proto_msg *m)
{
	assert_int_equal(m->type, PROTO_EVENT);
	assert_int_equal(m->tag, 0);
	assert_int_equal(m->u.event.seq, 42);
	assert_int_equal(m->u.event.time, 1700000030u);
	assert_int_equal(m->u.event.kind, PROTO_EV_UNLOCKED);
	assert_int_equal(m->u.event.arg8, PROTO_HOW_KEY);
	assert_int_equal(m->u.event.arg16, 3);
	assert_int_equal(m->u.event.user_id, 1001);
	assert_int_equal(m->u.event.key_id, 5001);
}

static void ex_mgmt_set_time(const struct proto_msg *m)
{
	union proto_mgmt_payload u;
	uint8_t dummy[PROTO_SIG_LEN];

	assert_int_equal(m->type, PROTO_MGMT);
	assert_int_equal(m->tag, 5);
	assert_int_equal(m->u.mgmt.mtype, PROTO_MGMT_SET_TIME);
	assert_int_equal(m->u.mgmt.target_spot, 42);
	assert_int_equal(m->u.mgmt.seq, 7);
	assert_int_equal(m->u.mgmt.plen, 4);
	assert_int_equal(m->u.mgmt.signed_len, 15);
	assert_int_equal(proto_mgmt_decode_payload(m->u.mgmt.mtype, m->u.mgmt.payload,
						   m->u.mgmt.plen, &u), 0);
	assert_int_equal(u.time, 1700000000u);
	memset(dummy, 0x11, sizeof(dummy));
	assert_memory_equal(m->u.mgmt.sig, dummy, sizeof(dummy));
}

static void ex_mgmt_remote_operate(const struct proto_msg *m)
{
	static const uint8_t reason[PROTO_REASON_DIGEST_LEN] = { 0x7d, 0x63, 0x90, 0xff,
								 0xf5, 0x56, 0x4f, 0x18 };
	union proto_mgmt_payload u;
	uint8_t dummy[PROTO_SIG_LEN];

	assert_int_equal(m->type, PROTO_MGMT);
	assert_int_equal(m->tag, 6);
	assert_int_equal(m->u.mgmt.mtype, PROTO_MGMT_REMOTE_OPERATE);
	assert_int_equal(m->u.mgmt.target_spot, 42);
	assert_int_equal(m->u.mgmt.seq, 8);
	assert_int_equal(m->u.mgmt.plen, 17);
	assert_int_equal(m->u.mgmt.signed_len, 28);
	assert_int_equal(proto_mgmt_decode_payload(m->u.mgmt.mtype, m->u.mgmt.payload,
						   m->u.mgmt.plen, &u), 0);
	assert_int_equal(u.remote.op, PROTO_OP_UNLOCK);
	assert_int_equal(u.remote.user_id, 1010);
	assert_int_equal(u.remote.not_after, 1700000900u);
	assert_memory_equal(u.remote.reason, reason, sizeof(reason));
	memset(dummy, 0x22, sizeof(dummy));
	assert_memory_equal(m->u.mgmt.sig, dummy, sizeof(dummy));
}

static void ex_event_override(const struct proto_msg *m)
{
	assert_int_equal(m->type, PROTO_EVENT);
	assert_int_equal(m->tag, 0);
	assert_int_equal(m->u.event.seq, 57);
	assert_int_equal(m->u.event.time, 1700000012u);
	assert_int_equal(m->u.event.kind, PROTO_EV_OVERRIDE);
	assert_string_equal(proto_event_name(m->u.event.kind), "override");
	assert_int_equal(m->u.event.arg8, PROTO_OP_UNLOCK);
	assert_int_equal(m->u.event.arg16, 0x7d63);
	assert_int_equal(m->u.event.user_id, 1010);
	assert_int_equal(m->u.event.key_id, 8);
}

static const struct {
	const char *name;
	void (*check)(const struct proto_msg *m);
} frame_examples[] = {
	{ "hello", ex_hello },
	{ "challenge-req", ex_challenge_req },
	{ "challenge", ex_challenge },
	{ "result", ex_result },
	{ "error", ex_error },
	{ "event", ex_event },
	{ "mgmt-set-time", ex_mgmt_set_time },
	{ "mgmt-remote-operate", ex_mgmt_remote_operate },
	{ "event-override", ex_event_override },
};
#define NFRAME_EXAMPLES (sizeof(frame_examples) / sizeof(frame_examples[0]))

/* Fragment examples the spec must have: (frame, MTU, fragments). */
static const struct {
	const char *name;
	unsigned mtu;
	size_t nfrags;
} fragment_examples[] = {
	{ "hello", 23, 1 },
	{ "mgmt-set-time", 23, 5 },
};
#define NFRAG_EXAMPLES (sizeof(fragment_examples) / sizeof(fragment_examples[0]))

static void check_frame_example(const struct example *ex, void (*check)(const struct proto_msg *))
{
	struct proto_msg m;
	uint8_t back[PROTO_FRAME_MAX];

	fill_sentinel(&m);
	if (proto_decode(ex->bytes, ex->len, &m) != 0)
		fail_msg("%s:%u: example '%s' does not decode", PROTOCOL_MD, ex->line, ex->name);
	check(&m);
	/* and the codec writes exactly the bytes shown */
	assert_int_equal(proto_encode(&m, back, sizeof(back)), (int)ex->len);
	assert_memory_equal(back, ex->bytes, ex->len);
}

static void check_fragments_example(const struct example *ex, const struct example *frame)
{
	struct frag_rx rx;
	struct frag_tx tx;
	uint8_t out[FRAG_PAYLOAD_MAX];
	size_t i;

	frag_rx_reset(&rx);
	for (i = 0; i < ex->nfrags; i++) {
		assert_true(ex->frag_len[i] <= ex->param - PROTO_ATT_OVERHEAD);
		assert_int_equal(frag_rx_feed(&rx, ex->frag[i], ex->frag_len[i]),
				 i + 1 == ex->nfrags ? 1 : 0);
	}
	assert_int_equal(rx.total, frame->len);
	assert_memory_equal(rx.buf, frame->bytes, frame->len);
	/* a sender at that MTU produces exactly these fragments */
	assert_int_equal(frag_tx_init(&tx, frame->bytes, frame->len, (uint16_t)ex->param), 0);
	for (i = 0; i < ex->nfrags; i++) {
		assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), (int)ex->frag_len[i]);
		assert_memory_equal(out, ex->frag[i], ex->frag_len[i]);
	}
	assert_int_equal(frag_tx_next(&tx, out, sizeof(out)), 0);
}

static void check_signed_example(const struct example *ex, const struct example *frame)
{
	struct proto_msg m;
	uint8_t buf[PROTO_FRAME_MAX + 16];
	struct wire_writer w;

	assert_int_equal(proto_decode(frame->bytes, frame->len, &m), 0);
	assert_int_equal(m.type, PROTO_MGMT);
	wire_writer_init(&w, buf, sizeof(buf));
	proto_tbs_mgmt_prefix(&w, ex->param);
	wire_put_bytes(&w, m.u.mgmt.signed_body, m.u.mgmt.signed_len);
	assert_false(w.error);
	assert_int_equal(w.off, ex->len);
	assert_memory_equal(buf, ex->bytes, ex->len);
}

static void test_protocol_md_examples(void **state)
{
	size_t i, j, checked = 0;

	(void)state;
	load_examples();
	for (i = 0; i < NFRAME_EXAMPLES; i++) {
		const struct example *ex = example_find("frame", frame_examples[i].name);

		if (ex == NULL)
			fail_msg("%s has no frame example '%s'", PROTOCOL_MD, frame_examples[i].name);
		check_frame_example(ex, frame_examples[i].check);
	}
	for (i = 0; i < NFRAG_EXAMPLES; i++) {
		const struct example *ex = example_find("fragments", fragment_examples[i].name);

		if (ex == NULL)
			fail_msg("%s has no fragments of '%s'", PROTOCOL_MD,
				 fragment_examples[i].name);
		assert_int_equal(ex->param, fragment_examples[i].mtu);
		assert_int_equal(ex->nfrags, fragment_examples[i].nfrags);
	}
	/* every block is checked: a new example needs its expectations here */
	for (i = 0; i < nexamples; i++) {
		const struct example *ex = &examples[i];
		const struct example *frame = example_find("frame", ex->name);

		for (j = 0; j < nexamples; j++)
			if (j != i && strcmp(examples[j].kind, ex->kind) == 0 &&
			    strcmp(examples[j].name, ex->name) == 0)
				fail_msg("%s:%u: duplicate example", PROTOCOL_MD, ex->line);
		if (strcmp(ex->kind, "frame") == 0) {
			bool known = false;

			for (j = 0; j < NFRAME_EXAMPLES; j++)
				known |= strcmp(frame_examples[j].name, ex->name) == 0;
			if (!known)
				fail_msg("%s:%u: example '%s' has no expectations in test-proto.c",
					 PROTOCOL_MD, ex->line, ex->name);
		} else if (frame == NULL) {
			fail_msg("%s:%u: no frame example '%s'", PROTOCOL_MD, ex->line, ex->name);
		} else if (strcmp(ex->kind, "fragments") == 0) {
			check_fragments_example(ex, frame);
		} else {
			check_signed_example(ex, frame);
		}
		checked++;
	}
	assert_int_equal(checked, NFRAME_EXAMPLES + NFRAG_EXAMPLES + 2);
	assert_non_null(example_find("signed", "mgmt-set-time"));
	assert_non_null(example_find("signed", "mgmt-remote-operate"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_roundtrips),
		cmocka_unit_test(test_min_body),
		cmocka_unit_test(test_log_counts),
		cmocka_unit_test(test_mgmt_every_payload_roundtrips),
		cmocka_unit_test(test_revoke_sizes),
		cmocka_unit_test(test_truncated_at_every_length),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_frame_too_long),
		cmocka_unit_test(test_wrong_version),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_hello_mtu_range),
		cmocka_unit_test(test_op_range),
		cmocka_unit_test(test_skey_mode_range),
		cmocka_unit_test(test_log_req_max_range),
		cmocka_unit_test(test_log_count),
		cmocka_unit_test(test_provision_ids_nonzero),
		cmocka_unit_test(test_unchecked_fields_pass),
		cmocka_unit_test(test_mgmt_unknown_mtype),
		cmocka_unit_test(test_mgmt_payload_lengths),
		cmocka_unit_test(test_mgmt_envelope_plen),
		cmocka_unit_test(test_revoke_values),
		cmocka_unit_test(test_lockout_values),
		cmocka_unit_test(test_share_mode_values),
		cmocka_unit_test(test_reprovision_values),
		cmocka_unit_test(test_remote_operate_values),
		cmocka_unit_test(test_encode_small_buffer),
		cmocka_unit_test(test_encode_refuses_oversize_mgmt),
		cmocka_unit_test(test_mgmt_encode_payload_refusals),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_event_names),
		cmocka_unit_test(test_event_codec),
		cmocka_unit_test(test_tbs_ekey_skey),
		cmocka_unit_test(test_tbs_operate),
		cmocka_unit_test(test_tbs_mgmt_prefix),
		cmocka_unit_test(test_tbs_status),
		cmocka_unit_test(test_tbs_log),
		cmocka_unit_test(test_tbs_ack),
		cmocka_unit_test(test_tbs_small_writer),
		cmocka_unit_test(test_protocol_md_examples),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
