/*
 * credential.c: the pairing-credential table; see credential.h.
 *
 * A credential record is the INSTALL_CRED payload (83 bytes) followed by a state byte;
 * its use counter is a separate small record (usecount.h) so that counting a use writes
 * a few bytes, not the whole credential.
 */
#include "credential.h"

#include <string.h>

#include "layout.h"
#include "usecount.h"

#define CRED_REC_LEN (PROTO_CRED_LEN + 1)
#define CRED_STATE_TRANSFERRED 0x01

static uint8_t cred_key(int i)
{
	return (uint8_t)(LAYOUT_KEY_CRED + i);
}

static uint8_t uses_key(int i)
{
	return (uint8_t)(LAYOUT_KEY_CRED_USES + i);
}

static void cred_from_proto(struct credential *c, const struct proto_cred *p)
{
	c->used = true;
	c->key_id = p->key_id;
	c->user_id = p->user_id;
	c->not_before = p->not_before;
	c->not_after = p->not_after;
	c->max_unlocks = p->max_unlocks;
	c->flags = p->flags;
}

static int cred_encode(const struct proto_cred *p, bool transferred, uint8_t rec[CRED_REC_LEN])
{
	struct wire_writer w;
	union proto_mgmt_payload u;

	u.cred = *p;
	wire_writer_init(&w, rec, CRED_REC_LEN);
	proto_mgmt_encode_payload(&w, PROTO_MGMT_INSTALL_CRED, &u);
	wire_put_u8(&w, transferred ? CRED_STATE_TRANSFERRED : 0);
	return w.error || w.off != CRED_REC_LEN ? -PROTO_E_INTERNAL : 0;
}

static int cred_read(struct store *s, int i, struct proto_cred *p, uint8_t *state)
{
	uint8_t rec[CRED_REC_LEN];
	union proto_mgmt_payload u;
	size_t len;

	if (store_get(s, cred_key(i), rec, sizeof(rec), &len) != 0 || len != CRED_REC_LEN)
		return -PROTO_E_FLASH;
	if (proto_mgmt_decode_payload(PROTO_MGMT_INSTALL_CRED, rec, PROTO_CRED_LEN, &u) != 0)
		return -PROTO_E_FLASH;
	*p = u.cred;
	*state = rec[PROTO_CRED_LEN];
	return 0;
}

int credential_load(struct credential_table *t, struct store *s)
{
	struct proto_cred p;
	uint8_t state;
	int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < CREDENTIAL_SLOTS; i++) {
		struct credential *c = &t->slot[i];

		if (!store_has(s, cred_key(i)))
			continue;
		if (cred_read(s, i, &p, &state) != 0)
			return -PROTO_E_FLASH;
		cred_from_proto(c, &p);
		c->transferred = (state & CRED_STATE_TRANSFERRED) != 0;
		if (usecount_get(s, uses_key(i), c->key_id, &c->uses, &t->total_seen) != 0)
			return -PROTO_E_FLASH;
		t->count++;
	}
	return 0;
}

int credential_find(const struct credential_table *t, uint32_t user_id, uint32_t key_id)
{
	int i = credential_find_key(t, key_id);

	return i >= 0 && t->slot[i].user_id == user_id ? i : -1;
}

int credential_find_key(const struct credential_table *t, uint32_t key_id)
{
	int i;

	for (i = 0; i < CREDENTIAL_SLOTS; i++)
		if (t->slot[i].used && t->slot[i].key_id == key_id)
			return i;
	return -1;
}

static int free_slot(const struct credential_table *t)
{
	int i;

	for (i = 0; i < CREDENTIAL_SLOTS; i++)
		if (!t->slot[i].used)
			return i;
	return -1;
}

int credential_install(struct credential_table *t, struct store *s, const struct proto_cred *c)
{
	uint8_t rec[CRED_REC_LEN];
	int i = credential_find_key(t, c->key_id);
	bool fresh = i < 0;
	bool transferred = false;
	int r;

	if (fresh)
		i = free_slot(t);
	else
		transferred = t->slot[i].transferred;
	if (i < 0)
		return -PROTO_E_FULL;
	r = cred_encode(c, transferred, rec);
	if (r != 0)
		return r;
	if (store_put(s, cred_key(i), rec, sizeof(rec)) != 0)
		return -PROTO_E_FLASH;
	cred_from_proto(&t->slot[i], c);
	if (fresh) {
		/* A stale counter of an earlier key in this slot is ignored by its key ID. */
		t->slot[i].uses = 0;
		t->slot[i].transferred = false;
		t->count++;
	}
	return 0;
}

int credential_pubkey(struct credential_table *t, struct store *s, int i,
		      uint8_t pub[PROTO_PUBKEY_LEN])
{
	struct proto_cred p;
	uint8_t state;

	if (i < 0 || i >= CREDENTIAL_SLOTS || !t->slot[i].used)
		return -PROTO_E_INTERNAL;
	if (cred_read(s, i, &p, &state) != 0 || p.key_id != t->slot[i].key_id)
		return -PROTO_E_FLASH;
	memcpy(pub, p.res_pub, PROTO_PUBKEY_LEN);
	return 0;
}

int credential_count_use(struct credential_table *t, struct store *s, int i, uint32_t total)
{
	struct credential *c = &t->slot[i];

	if (c->uses == UINT16_MAX)
		return -PROTO_E_USED_UP;
	if (usecount_put(s, uses_key(i), c->key_id, (uint16_t)(c->uses + 1), total) != 0)
		return -PROTO_E_FLASH;
	c->uses++;
	return 0;
}

int credential_mark_transferred(struct credential_table *t, struct store *s, int i)
{
	uint8_t rec[CRED_REC_LEN];
	struct proto_cred p;
	uint8_t state;

	if (t->slot[i].transferred)
		return 0;
	if (cred_read(s, i, &p, &state) != 0 || cred_encode(&p, true, rec) != 0)
		return -PROTO_E_FLASH;
	if (store_put(s, cred_key(i), rec, sizeof(rec)) != 0)
		return -PROTO_E_FLASH;
	t->slot[i].transferred = true;
	return 0;
}

int credential_remove(struct credential_table *t, struct store *s, int i)
{
	if (!t->slot[i].used)
		return 0;
	if (store_del(s, cred_key(i)) != 0)
		return -PROTO_E_FLASH;
	/* Best effort: a counter left behind is ignored by its key ID, or errs high. */
	(void)store_del(s, uses_key(i));
	memset(&t->slot[i], 0, sizeof(t->slot[i]));
	t->count--;
	return 0;
}
