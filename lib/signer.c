/*
 * signer.c: makes and checks the protocol's signatures on the host. Every byte string
 * signed or checked here comes from proto.h's proto_tbs_* builders or from a frame
 * proto_encode() wrote, so the layouts exist once, in the codec; this file only hashes
 * them and calls p256. It keeps no state and holds no key beyond the caller's handle.
 */
#include "signer.h"

#include <string.h>

#include "p256.h"

/* Room for any to-be-signed string (proto.h promises PROTO_FRAME_MAX + 16 suffices). */
#define SIGNER_TBS_MAX (PROTO_FRAME_MAX + 16)

/* The SHA-256 of what `w` holds; -1 when the string did not fit. */
static int signer_digest(const struct wire_writer *w, uint8_t digest[PROTO_HASH_LEN])
{
	if (w->error)
		return -1;
	return p256_sha256(w->buf, w->off, digest);
}

static int signer_sign(EVP_PKEY *key, const struct wire_writer *w, uint8_t sig[PROTO_SIG_LEN])
{
	uint8_t digest[PROTO_HASH_LEN];

	if (signer_digest(w, digest) != 0)
		return -1;
	return p256_sign_digest(key, digest, sig);
}

static int signer_verify(const uint8_t pub[PROTO_PUBKEY_LEN], const struct wire_writer *w,
			 const uint8_t sig[PROTO_SIG_LEN])
{
	uint8_t digest[PROTO_HASH_LEN];

	if (signer_digest(w, digest) != 0)
		return -1;
	return p256_verify_digest(pub, digest, sig) == 0 ? 0 : -1;
}

int signer_ekey(EVP_PKEY *reservation_key, struct proto_ekey *k)
{
	uint8_t tbs[SIGNER_TBS_MAX];
	struct wire_writer w;

	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_ekey(&w, k);
	return signer_sign(reservation_key, &w, k->sig);
}

int signer_skey(EVP_PKEY *sharer_key, struct proto_skey *k)
{
	uint8_t tbs[SIGNER_TBS_MAX];
	struct wire_writer w;

	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_skey(&w, k);
	return signer_sign(sharer_key, &w, k->sig);
}

/*
 * The frame is encoded first with a blank signature, and the envelope bytes of that
 * very frame are signed: what the site key signs is then exactly what goes on air.
 */
int signer_mgmt_frame(EVP_PKEY *site_key, uint32_t site_id, uint8_t tag, uint8_t mtype,
		      uint32_t target_spot, uint32_t seq, const union proto_mgmt_payload *p,
		      uint8_t *frame, size_t cap)
{
	uint8_t payload[PROTO_BODY_MAX - PROTO_MGMT_HDR_LEN - PROTO_SIG_LEN];
	uint8_t tbs[SIGNER_TBS_MAX];
	struct wire_writer pw, w;
	struct proto_msg m;
	size_t signed_len;
	int len;

	wire_writer_init(&pw, payload, sizeof(payload));
	proto_mgmt_encode_payload(&pw, mtype, p); /* an unknown mtype sets pw.error */
	if (pw.error)
		return -1;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_MGMT;
	m.tag = tag;
	m.u.mgmt.mtype = mtype;
	m.u.mgmt.target_spot = target_spot;
	m.u.mgmt.seq = seq;
	m.u.mgmt.plen = (uint16_t)pw.off;
	m.u.mgmt.payload = payload;
	len = proto_encode(&m, frame, cap);
	signed_len = PROTO_MGMT_HDR_LEN + pw.off;
	/* The frame is header, signed envelope, signature: anything else is a codec bug. */
	if (len < 0 || (size_t)len != PROTO_HDR_LEN + signed_len + PROTO_SIG_LEN)
		return -1;

	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_mgmt_prefix(&w, site_id);
	wire_put_bytes(&w, frame + PROTO_HDR_LEN, signed_len);
	if (signer_sign(site_key, &w, frame + PROTO_HDR_LEN + signed_len) != 0)
		return -1;
	return len;
}

int signer_operate(EVP_PKEY *device_key, const uint8_t nonce[PROTO_NONCE_LEN],
		   uint32_t site_id, uint32_t spot_id, uint8_t op, uint32_t user_id,
		   uint32_t key_id, uint8_t sig[PROTO_SIG_LEN])
{
	uint8_t tbs[SIGNER_TBS_MAX];
	struct wire_writer w;

	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_operate(&w, nonce, site_id, spot_id, op, user_id, key_id);
	return signer_sign(device_key, &w, sig);
}

int signer_check_status(const uint8_t device_pub[PROTO_PUBKEY_LEN],
			const uint8_t nonce[PROTO_CNONCE_LEN], const struct proto_status *s)
{
	uint8_t tbs[SIGNER_TBS_MAX];
	struct wire_writer w;

	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_status(&w, nonce, s);
	return signer_verify(device_pub, &w, s->sig);
}

int signer_check_log(const uint8_t device_pub[PROTO_PUBKEY_LEN],
		     const uint8_t nonce[PROTO_CNONCE_LEN], uint32_t site_id, uint32_t spot_id,
		     const struct proto_log *log, uint8_t last_hash[PROTO_HASH_LEN])
{
	uint8_t tbs[SIGNER_TBS_MAX];
	uint8_t hash[PROTO_HASH_LEN];
	struct wire_writer w;
	unsigned i;

	/* A count past the page would read past ev[]; the decoder refuses it too. */
	if (log->count > PROTO_LOG_PAGE_MAX)
		return -1;
	memcpy(hash, log->anchor, PROTO_HASH_LEN);
	for (i = 0; i < log->count; i++) {
		if (signer_chain_step(hash, &log->ev[i], hash) != 0)
			return -1;
	}
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_log(&w, nonce, site_id, spot_id, log->head_seq, log->count, hash);
	if (signer_verify(device_pub, &w, log->sig) != 0)
		return -1;
	if (last_hash != NULL)
		memcpy(last_hash, hash, PROTO_HASH_LEN);
	return 0;
}

int signer_check_ack(const uint8_t device_pub[PROTO_PUBKEY_LEN], uint32_t site_id,
		     const struct proto_mgmt_ack *a)
{
	uint8_t tbs[SIGNER_TBS_MAX];
	struct wire_writer w;

	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_ack(&w, site_id, a);
	return signer_verify(device_pub, &w, a->sig);
}

/* `next` may be `prev`: prev is copied out before next is written. */
int signer_chain_step(const uint8_t prev[PROTO_HASH_LEN], const struct proto_event *e,
		      uint8_t next[PROTO_HASH_LEN])
{
	uint8_t buf[PROTO_HASH_LEN + PROTO_EVENT_LEN];

	memcpy(buf, prev, PROTO_HASH_LEN);
	proto_event_encode(buf + PROTO_HASH_LEN, e);
	return p256_sha256(buf, sizeof(buf), next);
}
