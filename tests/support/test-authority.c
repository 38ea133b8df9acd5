/*
 * test-authority.c: signed test material; see test-authority.h. Any failure here is a
 * broken test set-up, so it aborts through must() rather than returning errors.
 */
#include "test-authority.h"

#include <string.h>

#include "../../lib/p256.h"
#include "../../lib/signer.h"
#include "test-must.h"

void test_site_init(struct test_site *s, uint32_t site_id)
{
	memset(s, 0, sizeof(*s));
	s->site_id = site_id;
	s->key = p256_generate();
	must(s->key != NULL);
	must(p256_public_raw(s->key, s->pub) == 0);
}

void test_site_free(struct test_site *s)
{
	EVP_PKEY_free(s->key);
	s->key = NULL;
}

void test_user_init(struct test_user *u, uint32_t user_id)
{
	memset(u, 0, sizeof(*u));
	u->user_id = user_id;
	u->reservation = p256_generate();
	u->device = p256_generate();
	must(u->reservation != NULL && u->device != NULL);
	must(p256_public_raw(u->reservation, u->res_pub) == 0);
	must(p256_public_raw(u->device, u->device_pub) == 0);
}

void test_user_free(struct test_user *u)
{
	EVP_PKEY_free(u->reservation);
	EVP_PKEY_free(u->device);
	u->reservation = u->device = NULL;
}

size_t test_frame(const struct proto_msg *m, uint8_t *frame, size_t cap)
{
	int n = proto_encode(m, frame, cap);

	must(n > 0);
	return (size_t)n;
}

size_t test_frame_provision(uint32_t site_id, uint32_t spot_id, const uint8_t site_pub[64],
			    uint8_t *frame, size_t cap)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_PROVISION;
	m.tag = 7;
	m.u.provision.site_id = site_id;
	m.u.provision.spot_id = spot_id;
	memcpy(m.u.provision.site_pub, site_pub, PROTO_PUBKEY_LEN);
	return test_frame(&m, frame, cap);
}

size_t test_site_mgmt(struct test_site *s, uint8_t mtype, uint32_t target, uint32_t seq,
		      const union proto_mgmt_payload *p, uint8_t *frame, size_t cap)
{
	int n;

	if (seq == 0)
		seq = mtype == PROTO_MGMT_REVOKE ? ++s->revoke_serial : ++s->seq;
	n = signer_mgmt_frame(s->key, s->site_id, 9, mtype, target, seq, p, frame, cap);
	must(n > 0);
	return (size_t)n;
}

struct proto_cred test_cred(const struct test_user *u, uint32_t key_id, uint32_t not_before,
			    uint32_t not_after, uint16_t max_unlocks, uint8_t flags)
{
	struct proto_cred c;

	memset(&c, 0, sizeof(c));
	c.key_id = key_id;
	c.user_id = u->user_id;
	memcpy(c.res_pub, u->res_pub, PROTO_PUBKEY_LEN);
	c.not_before = not_before;
	c.not_after = not_after;
	c.max_unlocks = max_unlocks;
	c.flags = flags;
	return c;
}

struct proto_ekey test_ekey(const struct test_user *u, uint32_t key_id, uint32_t spot_id,
			    uint32_t not_before, uint32_t not_after, uint16_t max_unlocks)
{
	struct proto_ekey k;

	memset(&k, 0, sizeof(k));
	k.key_id = key_id;
	k.user_id = u->user_id;
	k.spot_id = spot_id;
	k.not_before = not_before;
	k.not_after = not_after;
	k.max_unlocks = max_unlocks;
	memcpy(k.device_pub, u->device_pub, PROTO_PUBKEY_LEN);
	must(signer_ekey(u->reservation, &k) == 0);
	return k;
}

struct proto_skey test_skey(const struct test_user *sharer, const struct test_user *to,
			    uint32_t share_id, uint32_t parent_key_id, uint32_t spot_id,
			    uint32_t not_before, uint32_t not_after, uint16_t max_unlocks,
			    uint8_t mode)
{
	struct proto_skey k;

	memset(&k, 0, sizeof(k));
	k.share_id = share_id;
	k.parent_key_id = parent_key_id;
	k.sharer_id = sharer->user_id;
	k.recipient_id = to->user_id;
	k.spot_id = spot_id;
	k.not_before = not_before;
	k.not_after = not_after;
	k.max_unlocks = max_unlocks;
	k.mode = mode;
	memcpy(k.device_pub, to->device_pub, PROTO_PUBKEY_LEN);
	must(signer_skey(sharer->reservation, &k) == 0);
	return k;
}

size_t test_frame_operate(const struct test_user *signer, uint32_t user_id,
			  const struct proto_ekey *k, uint8_t op, const uint8_t nonce[32],
			  uint32_t site_id, uint32_t spot_id, uint8_t tag, uint8_t *frame,
			  size_t cap)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_OPERATE;
	m.tag = tag;
	m.u.operate.op = op;
	m.u.operate.user_id = user_id;
	m.u.operate.ekey = *k;
	must(signer_operate(signer->device, nonce, site_id, spot_id, op, user_id, k->key_id,
			      m.u.operate.device_sig) == 0);
	return test_frame(&m, frame, cap);
}

size_t test_frame_operate_shared(const struct test_user *signer, uint32_t user_id,
				 const struct proto_skey *k, uint8_t op, const uint8_t nonce[32],
				 uint32_t site_id, uint32_t spot_id, uint8_t tag, uint8_t *frame,
				 size_t cap)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_OPERATE_SHARED;
	m.tag = tag;
	m.u.operate_shared.op = op;
	m.u.operate_shared.user_id = user_id;
	m.u.operate_shared.skey = *k;
	must(signer_operate(signer->device, nonce, site_id, spot_id, op, user_id, k->share_id,
			      m.u.operate_shared.device_sig) == 0);
	return test_frame(&m, frame, cap);
}
