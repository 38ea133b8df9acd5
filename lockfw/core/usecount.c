/*
 * usecount.c: use-counter records; see usecount.h.
 */
#include "usecount.h"

#include "../proto/proto.h"
#include "../proto/wire.h"

int usecount_put(struct store *s, uint8_t key, uint32_t key_id, uint16_t uses, uint32_t total)
{
	uint8_t rec[USECOUNT_LEN];

	wire_store_u32(rec, key_id);
	wire_store_u16(rec + 4, uses);
	wire_store_u32(rec + 6, total);
	return store_put(s, key, rec, sizeof(rec)) == 0 ? 0 : -PROTO_E_FLASH;
}

int usecount_get(struct store *s, uint8_t key, uint32_t key_id, uint16_t *uses,
		 uint32_t *total_seen)
{
	uint8_t rec[USECOUNT_LEN];
	size_t len;
	int r;

	*uses = 0;
	r = store_get(s, key, rec, sizeof(rec), &len);
	if (r == -STORE_E_NOENT)
		return 0;
	if (r != 0 || len != USECOUNT_LEN)
		return -PROTO_E_FLASH;
	if (wire_load_u32(rec + 6) > *total_seen)
		*total_seen = wire_load_u32(rec + 6);
	if (wire_load_u32(rec) == key_id)
		*uses = wire_load_u16(rec + 4);
	return 0;
}
