/*
 * revocation.c: the revocation list; see revocation.h. Record: the REVOKE payload.
 */
#include "revocation.h"

#include <string.h>

#include "layout.h"
#include "lock.h"

int revocation_load(struct lock *l)
{
	uint8_t rec[2 + 4 * PROTO_REVOKE_MAX];
	union proto_mgmt_payload u;
	size_t len;
	int r;

	l->revoked_count = 0;
	r = store_get(&l->store, LAYOUT_KEY_REVOKED, rec, sizeof(rec), &len);
	if (r == -STORE_E_NOENT)
		return 0;
	if (r != 0 || proto_mgmt_decode_payload(PROTO_MGMT_REVOKE, rec, len, &u) != 0)
		return -PROTO_E_FLASH;
	l->revoked_count = u.revoke.count;
	memcpy(l->revoked, u.revoke.key_ids, sizeof(uint32_t) * u.revoke.count);
	return 0;
}

bool revocation_contains(const struct lock *l, uint32_t key_id)
{
	uint16_t i;

	for (i = 0; i < l->revoked_count; i++)
		if (l->revoked[i] == key_id)
			return true;
	return false;
}

/* Removes every credential and share the current list names. */
static int remove_revoked(struct lock *l)
{
	int i;

	for (i = 0; i < SHARE_SLOTS; i++) {
		const struct share *sh = &l->shares.slot[i];

		if (sh->used && (revocation_contains(l, sh->share_id) ||
				 revocation_contains(l, sh->parent_key_id)) &&
		    share_remove(&l->shares, &l->store, i) != 0)
			return -PROTO_E_FLASH;
	}
	for (i = 0; i < CREDENTIAL_SLOTS; i++) {
		const struct credential *c = &l->creds.slot[i];

		if (c->used && revocation_contains(l, c->key_id) &&
		    credential_remove(&l->creds, &l->store, i) != 0)
			return -PROTO_E_FLASH;
	}
	return 0;
}

int revocation_apply(struct lock *l, const struct proto_revoke *list)
{
	uint8_t rec[2 + 4 * PROTO_REVOKE_MAX];
	union proto_mgmt_payload u;
	struct wire_writer w;

	u.revoke = *list;
	wire_writer_init(&w, rec, sizeof(rec));
	proto_mgmt_encode_payload(&w, PROTO_MGMT_REVOKE, &u);
	if (w.error)
		return -PROTO_E_INTERNAL;
	if (store_put(&l->store, LAYOUT_KEY_REVOKED, rec, w.off) != 0)
		return -PROTO_E_FLASH;
	l->revoked_count = list->count;
	memcpy(l->revoked, list->key_ids, sizeof(uint32_t) * list->count);
	return remove_revoked(l);
}
