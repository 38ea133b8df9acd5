/*
 * share.c: the authorisation-code table; see share.h. A record is the INSTALL_SHARE
 * payload (28 bytes); its use counter is a separate record (usecount.h).
 */
#include "share.h"

#include <string.h>

#include "layout.h"
#include "usecount.h"

static uint8_t share_key(int i)
{
	return (uint8_t)(LAYOUT_KEY_SHARE + i);
}

static uint8_t uses_key(int i)
{
	return (uint8_t)(LAYOUT_KEY_SHARE_USES + i);
}

static void share_from_proto(struct share *sh, const struct proto_share *p)
{
	sh->used = true;
	sh->share_id = p->share_id;
	sh->parent_key_id = p->parent_key_id;
	sh->sharer_id = p->sharer_id;
	sh->recipient_id = p->recipient_id;
	sh->not_before = p->not_before;
	sh->not_after = p->not_after;
	sh->max_unlocks = p->max_unlocks;
	sh->mode = p->mode;
	sh->flags = p->flags;
}

int share_load(struct share_table *t, struct store *s)
{
	uint8_t rec[PROTO_SHARE_LEN];
	union proto_mgmt_payload u;
	size_t len;
	int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < SHARE_SLOTS; i++) {
		struct share *sh = &t->slot[i];

		if (!store_has(s, share_key(i)))
			continue;
		if (store_get(s, share_key(i), rec, sizeof(rec), &len) != 0 ||
		    proto_mgmt_decode_payload(PROTO_MGMT_INSTALL_SHARE, rec, len, &u) != 0)
			return -PROTO_E_FLASH;
		share_from_proto(sh, &u.share);
		if (usecount_get(s, uses_key(i), sh->share_id, &sh->uses, &t->total_seen) != 0)
			return -PROTO_E_FLASH;
		t->count++;
	}
	return 0;
}

int share_find(const struct share_table *t, uint32_t share_id)
{
	int i;

	for (i = 0; i < SHARE_SLOTS; i++)
		if (t->slot[i].used && t->slot[i].share_id == share_id)
			return i;
	return -1;
}

static int free_slot(const struct share_table *t)
{
	int i;

	for (i = 0; i < SHARE_SLOTS; i++)
		if (!t->slot[i].used)
			return i;
	return -1;
}

int share_install(struct share_table *t, struct store *s, const struct proto_share *p)
{
	uint8_t rec[PROTO_SHARE_LEN];
	union proto_mgmt_payload u;
	struct wire_writer w;
	int i = share_find(t, p->share_id);
	bool fresh = i < 0;

	if (fresh)
		i = free_slot(t);
	if (i < 0)
		return -PROTO_E_FULL;
	u.share = *p;
	wire_writer_init(&w, rec, sizeof(rec));
	proto_mgmt_encode_payload(&w, PROTO_MGMT_INSTALL_SHARE, &u);
	if (w.error || w.off != sizeof(rec))
		return -PROTO_E_INTERNAL;
	if (store_put(s, share_key(i), rec, sizeof(rec)) != 0)
		return -PROTO_E_FLASH;
	share_from_proto(&t->slot[i], p);
	if (fresh) {
		t->slot[i].uses = 0;
		t->count++;
	}
	return 0;
}

int share_count_use(struct share_table *t, struct store *s, int i, uint32_t total)
{
	struct share *sh = &t->slot[i];

	if (sh->uses == UINT16_MAX)
		return -PROTO_E_USED_UP;
	if (usecount_put(s, uses_key(i), sh->share_id, (uint16_t)(sh->uses + 1), total) != 0)
		return -PROTO_E_FLASH;
	sh->uses++;
	return 0;
}

int share_remove(struct share_table *t, struct store *s, int i)
{
	if (!t->slot[i].used)
		return 0;
	if (store_del(s, share_key(i)) != 0)
		return -PROTO_E_FLASH;
	(void)store_del(s, uses_key(i));
	memset(&t->slot[i], 0, sizeof(t->slot[i]));
	t->count--;
	return 0;
}
