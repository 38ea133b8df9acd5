/*
 * test-signer.c: lib/signer through its public API. What the host signs (e-keys, shared
 * keys, management frames, challenge answers) is verified against to-be-signed bytes
 * rebuilt here by hand from the spec; what a lock signs (status, log pages, acks) is
 * made here as the lock would make it, and every changed field, nonce or signature
 * byte must be refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../lib/p256.h"
#include "../../lib/signer.h"
#include "../../lockfw/proto/proto.h"

#define SITE_ID 0x517e0001u
#define SPOT_ID 0x00000042u

struct keys {
	EVP_PKEY *site;        /* the server's site key */
	EVP_PKEY *reservation; /* a user's reservation key, on the server */
	EVP_PKEY *phone;       /* the holder's device key */
	EVP_PKEY *lock;        /* the lock's device key */
	uint8_t site_pub[64], reservation_pub[64], phone_pub[64], lock_pub[64];
};

/* A field of a struct, by place and size, so that tests can change each in turn. */
struct field {
	size_t off;
	size_t size;
	const char *name;
};
#define FIELD(type, f) { offsetof(type, f), sizeof(((type *)0)->f), #f }

/* A hand-built byte string: the independent reconstruction of a to-be-signed string. */
struct bytes {
	uint8_t b[PROTO_FRAME_MAX + 16];
	size_t n;
};

static void put(struct bytes *s, const void *p, size_t len)
{
	assert_true(len <= sizeof(s->b) - s->n);
	memcpy(s->b + s->n, p, len);
	s->n += len;
}

static void put8(struct bytes *s, uint8_t v)
{
	put(s, &v, 1);
}

static void put16(struct bytes *s, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(s, b, 2);
}

static void put32(struct bytes *s, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put(s, b, 4);
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

/* Verifies `sig` by `pub` over SHA-256 of the bytes. */
static int verify_bytes(const uint8_t pub[64], const struct bytes *s, const uint8_t sig[64])
{
	uint8_t digest[32];

	assert_int_equal(p256_sha256(s->b, s->n, digest), 0);
	return p256_verify_digest(pub, digest, sig);
}

/* Signs what a proto_tbs_* builder wrote, as the lock's port does with its device key. */
static void lock_sign(EVP_PKEY *key, const struct wire_writer *w, uint8_t sig[64])
{
	uint8_t digest[32];

	assert_false(w->error);
	assert_int_equal(p256_sha256(w->buf, w->off, digest), 0);
	assert_int_equal(p256_sign_digest(key, digest, sig), 0);
}

static EVP_PKEY *new_key(uint8_t pub[64])
{
	EVP_PKEY *k = p256_generate();

	assert_non_null(k);
	assert_int_equal(p256_public_raw(k, pub), 0);
	return k;
}

static int setup(void **state)
{
	struct keys *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	k->site = new_key(k->site_pub);
	k->reservation = new_key(k->reservation_pub);
	k->phone = new_key(k->phone_pub);
	k->lock = new_key(k->lock_pub);
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	struct keys *k = *state;

	EVP_PKEY_free(k->site);
	EVP_PKEY_free(k->reservation);
	EVP_PKEY_free(k->phone);
	EVP_PKEY_free(k->lock);
	free(k);
	return 0;
}

/* ---- what the host signs ---- */

static void ekey_bytes(struct bytes *s, const struct proto_ekey *k)
{
	s->n = 0;
	put(s, "PKE1", 4);
	put32(s, k->key_id);
	put32(s, k->user_id);
	put32(s, k->spot_id);
	put32(s, k->not_before);
	put32(s, k->not_after);
	put16(s, k->max_unlocks);
	put8(s, k->flags);
	put(s, k->device_pub, PROTO_PUBKEY_LEN);
}

static void test_ekey(void **state)
{
	static const struct field fields[] = {
		FIELD(struct proto_ekey, key_id), FIELD(struct proto_ekey, user_id),
		FIELD(struct proto_ekey, spot_id), FIELD(struct proto_ekey, not_before),
		FIELD(struct proto_ekey, not_after), FIELD(struct proto_ekey, max_unlocks),
		FIELD(struct proto_ekey, flags), FIELD(struct proto_ekey, device_pub),
	};
	struct keys *keys = *state;
	struct proto_ekey k = {
		.key_id = 1001, .user_id = 77, .spot_id = SPOT_ID, .not_before = 1700000000,
		.not_after = 1800000000, .max_unlocks = 12, .flags = PROTO_CRED_MAY_SHARE,
	};
	struct proto_ekey bad;
	struct bytes s;
	size_t i;

	memcpy(k.device_pub, keys->phone_pub, 64);
	assert_int_equal(signer_ekey(keys->reservation, &k), 0);
	ekey_bytes(&s, &k);
	assert_int_equal(s.n, 4 + PROTO_EKEY_TBS_LEN);
	assert_int_equal(verify_bytes(keys->reservation_pub, &s, k.sig), 0);
	/* Only the reservation key's signature: not the site's, not over other fields. */
	assert_int_equal(verify_bytes(keys->site_pub, &s, k.sig), -1);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		bad = k;
		((uint8_t *)&bad)[fields[i].off + fields[i].size - 1] ^= 0x01;
		ekey_bytes(&s, &bad);
		assert_int_equal(verify_bytes(keys->reservation_pub, &s, k.sig), -1);
	}
}

static void skey_bytes(struct bytes *s, const struct proto_skey *k)
{
	s->n = 0;
	put(s, "PKK1", 4);
	put32(s, k->share_id);
	put32(s, k->parent_key_id);
	put32(s, k->sharer_id);
	put32(s, k->recipient_id);
	put32(s, k->spot_id);
	put32(s, k->not_before);
	put32(s, k->not_after);
	put16(s, k->max_unlocks);
	put8(s, k->mode);
	put8(s, k->flags);
	put(s, k->device_pub, PROTO_PUBKEY_LEN);
}

static void test_skey(void **state)
{
	static const struct field fields[] = {
		FIELD(struct proto_skey, share_id), FIELD(struct proto_skey, parent_key_id),
		FIELD(struct proto_skey, sharer_id), FIELD(struct proto_skey, recipient_id),
		FIELD(struct proto_skey, spot_id), FIELD(struct proto_skey, not_before),
		FIELD(struct proto_skey, not_after), FIELD(struct proto_skey, max_unlocks),
		FIELD(struct proto_skey, mode), FIELD(struct proto_skey, flags),
		FIELD(struct proto_skey, device_pub),
	};
	struct keys *keys = *state;
	struct proto_skey k = {
		.share_id = 9, .parent_key_id = 1001, .sharer_id = 77, .recipient_id = 78,
		.spot_id = SPOT_ID, .not_before = 1700000000, .not_after = 1700086400,
		.max_unlocks = 2, .mode = PROTO_SHARE_TRANSFER, .flags = 0,
	};
	struct proto_skey bad;
	struct bytes s;
	size_t i;

	memcpy(k.device_pub, keys->phone_pub, 64);
	assert_int_equal(signer_skey(keys->reservation, &k), 0);
	skey_bytes(&s, &k);
	assert_int_equal(s.n, 4 + PROTO_SKEY_TBS_LEN);
	assert_int_equal(verify_bytes(keys->reservation_pub, &s, k.sig), 0);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		bad = k;
		((uint8_t *)&bad)[fields[i].off + fields[i].size - 1] ^= 0x01;
		skey_bytes(&s, &bad);
		assert_int_equal(verify_bytes(keys->reservation_pub, &s, k.sig), -1);
	}
}

static void operate_bytes(struct bytes *s, const uint8_t nonce[32], uint32_t site,
			  uint32_t spot, uint8_t op, uint32_t user, uint32_t key)
{
	s->n = 0;
	put(s, "PKO1", 4);
	put(s, nonce, PROTO_NONCE_LEN);
	put32(s, site);
	put32(s, spot);
	put8(s, op);
	put32(s, user);
	put32(s, key);
}

static void test_operate(void **state)
{
	struct keys *keys = *state;
	uint8_t nonce[PROTO_NONCE_LEN], sig[64];
	struct bytes s;
	size_t i;

	fill(nonce, sizeof(nonce), 0x31);
	assert_int_equal(signer_operate(keys->phone, nonce, SITE_ID, SPOT_ID, PROTO_OP_UNLOCK,
					77, 1001, sig), 0);
	operate_bytes(&s, nonce, SITE_ID, SPOT_ID, PROTO_OP_UNLOCK, 77, 1001);
	assert_int_equal(verify_bytes(keys->phone_pub, &s, sig), 0);

	/* The answer is bound to this challenge, this lock, this operation and this key. */
	for (i = 0; i < sizeof(nonce); i++) {
		nonce[i] ^= 0x01;
		operate_bytes(&s, nonce, SITE_ID, SPOT_ID, PROTO_OP_UNLOCK, 77, 1001);
		assert_int_equal(verify_bytes(keys->phone_pub, &s, sig), -1);
		nonce[i] ^= 0x01;
	}
	operate_bytes(&s, nonce, SITE_ID + 1, SPOT_ID, PROTO_OP_UNLOCK, 77, 1001);
	assert_int_equal(verify_bytes(keys->phone_pub, &s, sig), -1);
	operate_bytes(&s, nonce, SITE_ID, SPOT_ID + 1, PROTO_OP_UNLOCK, 77, 1001);
	assert_int_equal(verify_bytes(keys->phone_pub, &s, sig), -1);
	operate_bytes(&s, nonce, SITE_ID, SPOT_ID, PROTO_OP_LOCK, 77, 1001);
	assert_int_equal(verify_bytes(keys->phone_pub, &s, sig), -1);
	operate_bytes(&s, nonce, SITE_ID, SPOT_ID, PROTO_OP_UNLOCK, 78, 1001);
	assert_int_equal(verify_bytes(keys->phone_pub, &s, sig), -1);
	operate_bytes(&s, nonce, SITE_ID, SPOT_ID, PROTO_OP_UNLOCK, 77, 1002);
	assert_int_equal(verify_bytes(keys->phone_pub, &s, sig), -1);
}

/* ---- management frames ---- */

/* One sample payload per management type. */
static void sample_payload(uint8_t mtype, union proto_mgmt_payload *p)
{
	memset(p, 0, sizeof(*p));
	switch (mtype) {
	case PROTO_MGMT_INSTALL_CRED:
		p->cred.key_id = 1001;
		p->cred.user_id = 77;
		fill(p->cred.res_pub, PROTO_PUBKEY_LEN, 3);
		p->cred.not_before = PROTO_TIME_NONE_BEFORE;
		p->cred.not_after = PROTO_TIME_NONE_AFTER;
		p->cred.flags = PROTO_CRED_OWNER;
		break;
	case PROTO_MGMT_INSTALL_SHARE:
		p->share.share_id = 9;
		p->share.parent_key_id = 1001;
		p->share.sharer_id = 77;
		p->share.recipient_id = 78;
		p->share.not_after = 1800000000;
		p->share.max_unlocks = 3;
		p->share.mode = PROTO_SHARE_COSHARE;
		break;
	case PROTO_MGMT_REVOKE:
		p->revoke.count = PROTO_REVOKE_MAX; /* the largest frame the server sends */
		for (unsigned i = 0; i < PROTO_REVOKE_MAX; i++)
			p->revoke.key_ids[i] = 5000 + i;
		break;
	case PROTO_MGMT_SET_TIME:
		p->time = 1750000000;
		break;
	case PROTO_MGMT_SET_LOCKOUT:
		p->lockout.max_failures = 5;
		p->lockout.window_s = 300;
		p->lockout.lockout_s = 900;
		break;
	case PROTO_MGMT_REPROVISION:
		p->provision.site_id = SITE_ID;
		p->provision.spot_id = SPOT_ID;
		fill(p->provision.site_pub, PROTO_PUBKEY_LEN, 9);
		break;
	case PROTO_MGMT_REMOTE_OPERATE:
		p->remote.op = PROTO_OP_UNLOCK;
		p->remote.user_id = 77;
		p->remote.not_after = 1750000900;
		fill(p->remote.reason, PROTO_REASON_DIGEST_LEN, 5);
		break;
	default:
		fail();
	}
}

/* "PKM1" || site_id || the envelope: mtype, target, seq, plen, payload. */
static void mgmt_bytes(struct bytes *s, uint32_t site, const uint8_t *envelope, size_t len)
{
	s->n = 0;
	put(s, "PKM1", 4);
	put32(s, site);
	put(s, envelope, len);
}

static void check_mgmt_frame(const struct keys *keys, uint8_t mtype)
{
	union proto_mgmt_payload p, got;
	uint8_t frame[PROTO_FRAME_MAX];
	struct proto_msg m;
	struct bytes s;
	size_t signed_len, i;
	int len;

	sample_payload(mtype, &p);
	len = signer_mgmt_frame(keys->site, SITE_ID, 0x5a, mtype, SPOT_ID, 4242, &p, frame,
				sizeof(frame));
	assert_true(len > 0);
	assert_int_equal(frame[0], PROTO_VERSION);
	assert_int_equal(frame[1], PROTO_MGMT);
	assert_int_equal(frame[2], 0x5a);

	/* The lock's decoder takes it and finds every field where it was put. */
	assert_int_equal(proto_decode(frame, (size_t)len, &m), 0);
	assert_int_equal(m.type, PROTO_MGMT);
	assert_int_equal(m.u.mgmt.mtype, mtype);
	assert_int_equal(m.u.mgmt.target_spot, SPOT_ID);
	assert_int_equal(m.u.mgmt.seq, 4242);
	assert_ptr_equal(m.u.mgmt.signed_body, frame + PROTO_HDR_LEN);
	signed_len = PROTO_MGMT_HDR_LEN + m.u.mgmt.plen;
	assert_int_equal(m.u.mgmt.signed_len, signed_len);
	assert_int_equal((size_t)len, PROTO_HDR_LEN + signed_len + PROTO_SIG_LEN);
	assert_memory_equal(m.u.mgmt.sig, frame + len - PROTO_SIG_LEN, PROTO_SIG_LEN);
	assert_int_equal(proto_mgmt_decode_payload(mtype, m.u.mgmt.payload, m.u.mgmt.plen,
						   &got), 0);

	/* The site signature covers the domain tag, the site and every envelope byte. */
	mgmt_bytes(&s, SITE_ID, frame + PROTO_HDR_LEN, signed_len);
	assert_int_equal(verify_bytes(keys->site_pub, &s, m.u.mgmt.sig), 0);
	mgmt_bytes(&s, SITE_ID + 1, frame + PROTO_HDR_LEN, signed_len);
	assert_int_equal(verify_bytes(keys->site_pub, &s, m.u.mgmt.sig), -1);
	for (i = 0; i < signed_len; i++) {
		mgmt_bytes(&s, SITE_ID, frame + PROTO_HDR_LEN, signed_len);
		s.b[8 + i] ^= 0x01;
		assert_int_equal(verify_bytes(keys->site_pub, &s, m.u.mgmt.sig), -1);
	}
}

static void test_mgmt_frames(void **state)
{
	struct keys *keys = *state;
	uint8_t mtype;

	for (mtype = 1; mtype <= PROTO_MGMT_TYPE_MAX; mtype++)
		check_mgmt_frame(keys, mtype);
}

static void test_mgmt_frame_refusals(void **state)
{
	struct keys *keys = *state;
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX];
	size_t cap;
	int len;

	sample_payload(PROTO_MGMT_SET_TIME, &p);
	len = signer_mgmt_frame(keys->site, SITE_ID, 1, PROTO_MGMT_SET_TIME, SPOT_ID, 1, &p,
				frame, sizeof(frame));
	assert_int_equal(len, PROTO_HDR_LEN + PROTO_MGMT_HDR_LEN + 4 + PROTO_SIG_LEN);
	for (cap = 0; cap < (size_t)len; cap++)
		assert_int_equal(signer_mgmt_frame(keys->site, SITE_ID, 1, PROTO_MGMT_SET_TIME,
						   SPOT_ID, 1, &p, frame, cap), -1);

	/* Unknown types, and a revocation list longer than the array, are never signed. */
	assert_int_equal(signer_mgmt_frame(keys->site, SITE_ID, 1, 0, SPOT_ID, 1, &p, frame,
					   sizeof(frame)), -1);
	assert_int_equal(signer_mgmt_frame(keys->site, SITE_ID, 1, PROTO_MGMT_TYPE_MAX + 1,
					   SPOT_ID, 1, &p, frame, sizeof(frame)), -1);
	sample_payload(PROTO_MGMT_REVOKE, &p);
	p.revoke.count = PROTO_REVOKE_MAX + 1;
	assert_int_equal(signer_mgmt_frame(keys->site, SITE_ID, 1, PROTO_MGMT_REVOKE,
					   PROTO_TARGET_ALL, 1, &p, frame, sizeof(frame)), -1);
}

/* ---- what a lock signs ---- */

/* Frame round trip, as between the lock and the client. */
static void lock_send(const struct proto_msg *m, struct proto_msg *out)
{
	uint8_t frame[PROTO_FRAME_MAX];
	int len = proto_encode(m, frame, sizeof(frame));

	assert_true(len > 0);
	assert_int_equal(proto_decode(frame, (size_t)len, out), 0);
	assert_int_equal(out->type, m->type);
}

static void test_status(void **state)
{
	static const struct field fields[] = {
		FIELD(struct proto_status, site_id), FIELD(struct proto_status, spot_id),
		FIELD(struct proto_status, barrier), FIELD(struct proto_status, occupied),
		FIELD(struct proto_status, battery), FIELD(struct proto_status, flags),
		FIELD(struct proto_status, lock_time), FIELD(struct proto_status, event_head),
		FIELD(struct proto_status, mgmt_seq), FIELD(struct proto_status, revoke_serial),
		FIELD(struct proto_status, total_unlocks), FIELD(struct proto_status, creds),
		FIELD(struct proto_status, shares),
	};
	struct keys *keys = *state;
	uint8_t nonce[PROTO_CNONCE_LEN], tbs[PROTO_FRAME_MAX + 16];
	struct proto_msg m = { .type = PROTO_STATUS, .tag = 3 }, got;
	struct proto_status *s = &m.u.status, bad;
	struct wire_writer w;
	size_t i;

	fill(nonce, sizeof(nonce), 0x10);
	*s = (struct proto_status){
		.site_id = SITE_ID, .spot_id = SPOT_ID, .barrier = PROTO_BARRIER_UP,
		.occupied = 1, .battery = 87, .flags = PROTO_INFO_PROVISIONED | PROTO_INFO_TIME_SET,
		.lock_time = 1750000000, .event_head = 311, .mgmt_seq = 40, .revoke_serial = 6,
		.total_unlocks = 1234, .creds = 3, .shares = 1,
	};
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_status(&w, nonce, s);
	lock_sign(keys->lock, &w, s->sig);
	lock_send(&m, &got);

	assert_int_equal(signer_check_status(keys->lock_pub, nonce, &got.u.status), 0);
	assert_int_equal(signer_check_status(keys->phone_pub, nonce, &got.u.status), -1);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		bad = got.u.status;
		((uint8_t *)&bad)[fields[i].off] ^= 0x01;
		assert_int_equal(signer_check_status(keys->lock_pub, nonce, &bad), -1);
	}
	for (i = 0; i < sizeof(nonce); i++) {
		nonce[i] ^= 0x80;
		assert_int_equal(signer_check_status(keys->lock_pub, nonce, &got.u.status), -1);
		nonce[i] ^= 0x80;
	}
	for (i = 0; i < PROTO_SIG_LEN; i++) {
		bad = got.u.status;
		bad.sig[i] ^= 0x01;
		assert_int_equal(signer_check_status(keys->lock_pub, nonce, &bad), -1);
	}
}

static void test_ack(void **state)
{
	static const struct field fields[] = {
		FIELD(struct proto_mgmt_ack, spot_id), FIELD(struct proto_mgmt_ack, seq),
		FIELD(struct proto_mgmt_ack, mtype), FIELD(struct proto_mgmt_ack, result),
		FIELD(struct proto_mgmt_ack, lock_time),
	};
	struct keys *keys = *state;
	uint8_t tbs[PROTO_FRAME_MAX + 16];
	struct proto_msg m = { .type = PROTO_MGMT_ACK, .tag = 9 }, got;
	struct proto_mgmt_ack *a = &m.u.ack, bad;
	struct wire_writer w;
	size_t i;

	*a = (struct proto_mgmt_ack){
		.spot_id = SPOT_ID, .seq = 4242, .mtype = PROTO_MGMT_INSTALL_CRED,
		.result = PROTO_OK, .lock_time = 1750000000,
	};
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_ack(&w, SITE_ID, a);
	lock_sign(keys->lock, &w, a->sig);
	lock_send(&m, &got);

	assert_int_equal(signer_check_ack(keys->lock_pub, SITE_ID, &got.u.ack), 0);
	assert_int_equal(signer_check_ack(keys->lock_pub, SITE_ID + 1, &got.u.ack), -1);
	assert_int_equal(signer_check_ack(keys->site_pub, SITE_ID, &got.u.ack), -1);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		bad = got.u.ack;
		((uint8_t *)&bad)[fields[i].off] ^= 0x01;
		assert_int_equal(signer_check_ack(keys->lock_pub, SITE_ID, &bad), -1);
	}
	for (i = 0; i < PROTO_SIG_LEN; i++) {
		bad = got.u.ack;
		bad.sig[i] ^= 0x01;
		assert_int_equal(signer_check_ack(keys->lock_pub, SITE_ID, &bad), -1);
	}
}

/* ---- log pages ---- */

struct chain {
	struct proto_event ev[3];
	uint8_t h[4][32]; /* h[0] = zeros, h[n] after event n */
};

/* Three events and their chain, computed here from the spec: SHA-256(prev || 20 bytes). */
static void make_chain(struct chain *c)
{
	uint8_t buf[32 + PROTO_EVENT_LEN];
	int i;

	c->ev[0] = (struct proto_event){ .seq = 1, .time = 0, .kind = PROTO_EV_BOOT };
	c->ev[1] = (struct proto_event){ .seq = 2, .time = 1750000000, .kind = PROTO_EV_UNLOCKED,
					 .arg8 = PROTO_HOW_KEY, .arg16 = 11, .user_id = 77,
					 .key_id = 1001 };
	c->ev[2] = (struct proto_event){ .seq = 3, .time = 1750000100,
					 .kind = PROTO_EV_CAR_ARRIVED };
	memset(c->h[0], 0, 32);
	for (i = 0; i < 3; i++) {
		memcpy(buf, c->h[i], 32);
		proto_event_encode(buf + 32, &c->ev[i]);
		assert_int_equal(p256_sha256(buf, sizeof(buf), c->h[i + 1]), 0);
	}
}

/* A LOG page of events first..first+count-1, signed by the lock and sent as a frame. */
static void make_page(const struct keys *keys, const struct chain *c, const uint8_t nonce[16],
		      int first, int count, struct proto_log *out)
{
	struct proto_msg m = { .type = PROTO_LOG, .tag = 4 }, got;
	uint8_t tbs[PROTO_FRAME_MAX + 16];
	struct wire_writer w;

	m.u.log.head_seq = 3;
	memcpy(m.u.log.anchor, c->h[first], 32);
	m.u.log.count = (uint8_t)count;
	memcpy(m.u.log.ev, &c->ev[first], (size_t)count * sizeof(c->ev[0]));
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_log(&w, nonce, SITE_ID, SPOT_ID, 3, (uint8_t)count, c->h[first + count]);
	lock_sign(keys->lock, &w, m.u.log.sig);
	lock_send(&m, &got);
	*out = got.u.log;
}

/* signer_check_log() for this test's lock, site and spot. */
static int check_page(const struct keys *keys, const uint8_t nonce[PROTO_CNONCE_LEN],
		      const struct proto_log *page, uint8_t last[32])
{
	return signer_check_log(keys->lock_pub, nonce, SITE_ID, SPOT_ID, page, last);
}

static void test_chain_step(void **state)
{
	struct chain c;
	uint8_t h[32];
	int i;

	(void)state;
	make_chain(&c);
	memset(h, 0, sizeof(h));
	for (i = 0; i < 3; i++) {
		assert_int_equal(signer_chain_step(h, &c.ev[i], h), 0); /* in place */
		assert_memory_equal(h, c.h[i + 1], 32);
	}
}

static void test_log_page(void **state)
{
	static const struct field ev_fields[] = {
		FIELD(struct proto_event, seq), FIELD(struct proto_event, time),
		FIELD(struct proto_event, kind), FIELD(struct proto_event, arg8),
		FIELD(struct proto_event, arg16), FIELD(struct proto_event, user_id),
		FIELD(struct proto_event, key_id),
	};
	struct keys *keys = *state;
	uint8_t nonce[PROTO_CNONCE_LEN], last[32], untouched[32];
	struct proto_log page, bad;
	struct chain c;
	size_t i, j;

	make_chain(&c);
	fill(nonce, sizeof(nonce), 0x44);
	make_page(keys, &c, nonce, 0, 3, &page);
	assert_int_equal(check_page(keys, nonce, &page, last), 0);
	assert_memory_equal(last, c.h[3], 32);
	assert_int_equal(check_page(keys, nonce, &page, NULL), 0);

	memset(untouched, 0xee, sizeof(untouched));
	memcpy(last, untouched, sizeof(last));
	assert_int_equal(signer_check_log(keys->lock_pub, nonce, SITE_ID + 1, SPOT_ID, &page,
					  last), -1);
	assert_int_equal(signer_check_log(keys->lock_pub, nonce, SITE_ID, SPOT_ID + 1, &page,
					  last), -1);
	assert_int_equal(signer_check_log(keys->site_pub, nonce, SITE_ID, SPOT_ID, &page, last),
			 -1);
	assert_memory_equal(last, untouched, 32); /* written on success only */

	for (i = 0; i < 3; i++) {
		for (j = 0; j < sizeof(ev_fields) / sizeof(ev_fields[0]); j++) {
			bad = page;
			((uint8_t *)&bad.ev[i])[ev_fields[j].off] ^= 0x01;
			assert_int_equal(check_page(keys, nonce, &bad, NULL), -1);
		}
	}
	bad = page;
	bad.head_seq++;
	assert_int_equal(check_page(keys, nonce, &bad, NULL), -1);
	bad = page;
	bad.count = 2; /* dropping the newest event */
	assert_int_equal(check_page(keys, nonce, &bad, NULL), -1);
	for (i = 0; i < 32; i++) {
		bad = page;
		bad.anchor[i] ^= 0x01;
		assert_int_equal(check_page(keys, nonce, &bad, NULL), -1);
	}
	for (i = 0; i < sizeof(nonce); i++) {
		nonce[i] ^= 0x01;
		assert_int_equal(check_page(keys, nonce, &page, NULL), -1);
		nonce[i] ^= 0x01;
	}
	for (i = 0; i < PROTO_SIG_LEN; i++) {
		bad = page;
		bad.sig[i] ^= 0x01;
		assert_int_equal(check_page(keys, nonce, &bad, NULL), -1);
	}
}

static void test_log_pages_link(void **state)
{
	struct keys *keys = *state;
	uint8_t nonce[PROTO_CNONCE_LEN], last[32];
	struct proto_log page;
	struct chain c;

	make_chain(&c);
	fill(nonce, sizeof(nonce), 0x45);

	/* Page 1 ends where page 2's anchor starts. */
	make_page(keys, &c, nonce, 0, 1, &page);
	assert_int_equal(check_page(keys, nonce, &page, last), 0);
	assert_memory_equal(last, c.h[1], 32);
	make_page(keys, &c, nonce, 1, 2, &page);
	assert_memory_equal(page.anchor, last, 32);
	assert_int_equal(check_page(keys, nonce, &page, last), 0);
	assert_memory_equal(last, c.h[3], 32);

	/* The wrong anchor (the chain start instead of h1) is refused. */
	memset(page.anchor, 0, 32);
	assert_int_equal(check_page(keys, nonce, &page, NULL), -1);
	memcpy(page.anchor, c.h[2], 32);
	assert_int_equal(check_page(keys, nonce, &page, NULL), -1);

	/* An empty page signs its anchor as the last hash. */
	make_page(keys, &c, nonce, 3, 0, &page);
	assert_int_equal(check_page(keys, nonce, &page, last), 0);
	assert_memory_equal(last, c.h[3], 32);

	/* A count beyond the page is refused, not read past. */
	page.count = PROTO_LOG_PAGE_MAX + 1;
	assert_int_equal(check_page(keys, nonce, &page, NULL), -1);
	page.count = 255;
	assert_int_equal(check_page(keys, nonce, &page, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mgmt_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mgmt_frame_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
		cmocka_unit_test(test_chain_step),
		cmocka_unit_test_setup_teardown(test_log_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_pages_link, setup, teardown),
	};

	return cmocka_run_group_tests_name("signer", tests, NULL, NULL);
}
