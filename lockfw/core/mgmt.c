/*
 * mgmt.c: management messages; see mgmt.h.
 *
 * The site signature is checked before anything in the message is believed. A message
 * with a bad signature gets a plain ERROR and leaves no trace (anyone in radio range
 * could send one); a signed message gets a signed ACK, and a MGMT event unless it was
 * stale or for another lock (a recorded message replayed must not flood the log). The change is stored before the sequence number, so a power cut between
 * them makes the server resend, and every handler is idempotent.
 */
#include "mgmt.h"

#include <string.h>

#include "config.h"
#include "lock.h"
#include "operate.h"
#include "revocation.h"
#include "walltime.h"

typedef int (*mgmt_apply_fn)(struct lock *l, const struct proto_mgmt *m,
			     const union proto_mgmt_payload *p);

static int apply_cred(struct lock *l, const struct proto_mgmt *m,
		     const union proto_mgmt_payload *p)
{
	(void)m;
	if (revocation_contains(l, p->cred.key_id))
		return -PROTO_E_REVOKED;
	return credential_install(&l->creds, &l->store, &p->cred);
}

static int apply_share(struct lock *l, const struct proto_mgmt *m,
		      const union proto_mgmt_payload *p)
{
	(void)m;
	const struct proto_share *s = &p->share;
	int parent, r;

	if (revocation_contains(l, s->share_id) || revocation_contains(l, s->parent_key_id))
		return -PROTO_E_REVOKED;
	parent = credential_find(&l->creds, s->sharer_id, s->parent_key_id);
	if (parent < 0)
		return -PROTO_E_UNKNOWN_KEY;
	r = share_install(&l->shares, &l->store, s);
	if (r == 0 && s->mode == PROTO_SHARE_TRANSFER)
		r = credential_mark_transferred(&l->creds, &l->store, parent);
	return r;
}

static int apply_revoke(struct lock *l, const struct proto_mgmt *m,
		       const union proto_mgmt_payload *p)
{
	(void)m;
	return revocation_apply(l, &p->revoke);
}

static int apply_time(struct lock *l, const struct proto_mgmt *m,
		     const union proto_mgmt_payload *p)
{
	(void)m;
	uint32_t before = walltime_now(l);
	int r = walltime_set(l, p->time);

	if (r == 0)
		lock_log(l, PROTO_EV_TIME_SET, 0, 0, 0, before);
	return r;
}

static int apply_lockout(struct lock *l, const struct proto_mgmt *m,
		        const union proto_mgmt_payload *p)
{
	(void)m;
	struct lock_config next = l->cfg;

	next.lockout = p->lockout;
	if (config_save(&next, &l->store) != 0)
		return -PROTO_E_FLASH;
	l->cfg = next;
	return 0;
}

/* Empties both key tables: a lock moved to another spot or site keeps no old key. */
static int clear_keys(struct lock *l)
{
	int i;

	for (i = 0; i < SHARE_SLOTS; i++)
		if (share_remove(&l->shares, &l->store, i) != 0)
			return -PROTO_E_FLASH;
	for (i = 0; i < CREDENTIAL_SLOTS; i++)
		if (credential_remove(&l->creds, &l->store, i) != 0)
			return -PROTO_E_FLASH;
	return 0;
}

/*
 * Moves the lock to another spot or site. Under a new site key the old site's messages
 * cannot verify any more, so numbering and the revocation list start afresh. Under the
 * same key they must not: old signed messages for this lock (an install since revoked,
 * an older revocation list) would become replayable. So the sequence moves on to this
 * message's and the revocation list stays.
 */
static int apply_reprovision(struct lock *l, const struct proto_mgmt *m,
			     const union proto_mgmt_payload *p)
{
	struct lock_config next = l->cfg;
	struct proto_revoke none = { 0 };
	bool new_key = memcmp(p->provision.site_pub, l->cfg.site_pub, PROTO_PUBKEY_LEN) != 0;
	int r;

	if (p->provision.spot_id == 0 || p->provision.site_id == 0)
		return -PROTO_E_VALUE;
	r = clear_keys(l);
	if (r == 0 && new_key)
		r = revocation_apply(l, &none);
	if (r != 0)
		return r;
	next.site_id = p->provision.site_id;
	next.spot_id = p->provision.spot_id;
	memcpy(next.site_pub, p->provision.site_pub, PROTO_PUBKEY_LEN);
	next.mgmt_seq = new_key ? 0 : m->seq;
	memcpy(next.mgmt_id, m->sig, LOCK_MGMT_ID_LEN);
	if (new_key)
		next.revoke_serial = 0;
	if (config_save(&next, &l->store) != 0)
		return -PROTO_E_FLASH;
	l->cfg = next;
	return 0;
}

/* An attendant's override: operate.c moves the barrier by a key holder's rules. */
static int apply_remote(struct lock *l, const struct proto_mgmt *m,
			const union proto_mgmt_payload *p)
{
	return operate_override(l, m->seq, &p->remote);
}

static const mgmt_apply_fn mgmt_apply[PROTO_MGMT_TYPE_MAX + 1] = {
	[PROTO_MGMT_INSTALL_CRED] = apply_cred,
	[PROTO_MGMT_INSTALL_SHARE] = apply_share,
	[PROTO_MGMT_REVOKE] = apply_revoke,
	[PROTO_MGMT_SET_TIME] = apply_time,
	[PROTO_MGMT_SET_LOCKOUT] = apply_lockout,
	[PROTO_MGMT_REPROVISION] = apply_reprovision,
	[PROTO_MGMT_REMOTE_OPERATE] = apply_remote,
};

static int check_signature(struct lock *l, const struct proto_mgmt *m)
{
	const struct port *p = l->port;
	uint8_t prefix[8], digest[PROTO_HASH_LEN];
	struct wire_writer w;
	struct port_buf parts[2];

	wire_writer_init(&w, prefix, sizeof(prefix));
	proto_tbs_mgmt_prefix(&w, l->cfg.site_id);
	parts[0].p = prefix;
	parts[0].len = w.off;
	parts[1].p = m->signed_body;
	parts[1].len = m->signed_len;
	if (w.error || p->sha256(p->ctx, parts, 2, digest) != 0)
		return -PROTO_E_INTERNAL;
	return p->ecdsa_verify(p->ctx, l->cfg.site_pub, digest, m->sig) == 0 ? 0 : -PROTO_E_SITE_SIG;
}

static int check_order(const struct lock *l, const struct proto_mgmt *m)
{
	bool revoke = m->mtype == PROTO_MGMT_REVOKE;

	if (m->target_spot != l->cfg.spot_id && !(revoke && m->target_spot == PROTO_TARGET_ALL))
		return -PROTO_E_TARGET;
	if (m->seq <= (revoke ? l->cfg.revoke_serial : l->cfg.mgmt_seq))
		return -PROTO_E_STALE;
	return 0;
}

/*
 * Whether m is the last message applied, sent again: its ack was lost on the way back,
 * and the sender learns it was applied from the same answer, without it being applied
 * twice (an override would move the barrier again). A revocation list, whose serial is
 * not the sequence, is applied again harmlessly and is not kept.
 */
static bool is_last_applied(const struct lock *l, const struct proto_mgmt *m)
{
	static const uint8_t unknown[LOCK_MGMT_ID_LEN];

	return m->mtype != PROTO_MGMT_REVOKE && m->seq != 0 && m->seq == l->cfg.mgmt_seq &&
	       memcmp(l->cfg.mgmt_id, unknown, LOCK_MGMT_ID_LEN) != 0 &&
	       memcmp(m->sig, l->cfg.mgmt_id, LOCK_MGMT_ID_LEN) == 0;
}

/* Records the sequence as applied. A reprovision has set its own numbering. */
static int advance(struct lock *l, const struct proto_mgmt *m)
{
	struct lock_config next = l->cfg;

	if (m->mtype == PROTO_MGMT_REPROVISION)
		return 0;
	if (m->mtype == PROTO_MGMT_REVOKE) {
		next.revoke_serial = m->seq;
	} else {
		next.mgmt_seq = m->seq;
		memcpy(next.mgmt_id, m->sig, LOCK_MGMT_ID_LEN);
	}
	if (config_save(&next, &l->store) != 0)
		return -PROTO_E_FLASH;
	l->cfg = next;
	return 0;
}

/* Acks are signed for the site and spot the message came from (a reprovision changes them). */
static void send_ack(struct lock *l, uint8_t conn, uint8_t tag, const struct proto_mgmt *m,
		     int status, uint32_t site_id, uint32_t spot_id)
{
	struct proto_msg reply;
	struct proto_mgmt_ack *a = &reply.u.ack;
	uint8_t tbs[32];
	struct wire_writer w;

	reply.type = PROTO_MGMT_ACK;
	reply.tag = tag;
	a->spot_id = spot_id;
	a->seq = m->seq;
	a->mtype = m->mtype;
	a->result = (uint8_t)-status;
	a->lock_time = walltime_now(l);
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_ack(&w, site_id, a);
	if (w.error || lock_sign(l, tbs, w.off, a->sig) != 0)
		memset(a->sig, 0, sizeof(a->sig));
	lock_send(l, conn, &reply);
}

int mgmt_handle(struct lock *l, uint8_t conn, uint8_t tag, const struct proto_mgmt *m)
{
	union proto_mgmt_payload payload;
	uint32_t site_id = l->cfg.site_id, spot_id = l->cfg.spot_id;
	int r;

	if (m->mtype == 0 || m->mtype > PROTO_MGMT_TYPE_MAX) {
		lock_send_error(l, conn, tag, PROTO_MGMT, -PROTO_E_TYPE);
		return -PROTO_E_TYPE;
	}
	r = check_signature(l, m);
	if (r != 0) {
		lock_send_error(l, conn, tag, PROTO_MGMT, r);
		return r;
	}
	r = check_order(l, m);
	if (r == -PROTO_E_STALE && is_last_applied(l, m)) {
		send_ack(l, conn, tag, m, 0, site_id, spot_id);
		return 0;
	}
	if (r == 0)
		r = proto_mgmt_decode_payload(m->mtype, m->payload, m->plen, &payload);
	if (r == 0)
		r = mgmt_apply[m->mtype](l, m, &payload);
	if (r == 0)
		r = advance(l, m);
	if (r == -PROTO_E_FLASH)
		lock_halt(l);
	/* A replayed or misdirected message changes nothing and may not flood the log. */
	if (r != -PROTO_E_STALE && r != -PROTO_E_TARGET)
		lock_log(l, PROTO_EV_MGMT, m->mtype, (uint16_t)-r, 0, m->seq);
	send_ack(l, conn, tag, m, r, site_id, spot_id);
	return r;
}
