/*
 * lockout.c: device lockout after repeated failures; see lockout.h. A record holds the
 * device name and the end of its lockout (12 bytes).
 */
#include "lockout.h"

#include <string.h>

#include "layout.h"

#define LOCKOUT_REC_LEN (LOCKOUT_DEVICE_LEN + 4)

static uint8_t rec_key(int i)
{
	return (uint8_t)(LAYOUT_KEY_LOCKOUT + i);
}

int lockout_load(struct lockout_table *t, struct store *s)
{
	uint8_t rec[LOCKOUT_REC_LEN];
	size_t len;
	int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < LOCKOUT_SLOTS; i++) {
		struct lockout_entry *e = &t->e[i];

		if (!store_has(s, rec_key(i)))
			continue;
		if (store_get(s, rec_key(i), rec, sizeof(rec), &len) != 0 || len != sizeof(rec))
			return -PROTO_E_FLASH;
		e->used = true;
		e->persisted = true;
		memcpy(e->device, rec, LOCKOUT_DEVICE_LEN);
		e->until = wire_load_u32(rec + LOCKOUT_DEVICE_LEN);
	}
	return 0;
}

static int find(const struct lockout_table *t, const uint8_t device[LOCKOUT_DEVICE_LEN])
{
	int i;

	for (i = 0; i < LOCKOUT_SLOTS; i++)
		if (t->e[i].used && memcmp(t->e[i].device, device, LOCKOUT_DEVICE_LEN) == 0)
			return i;
	return -1;
}

/* A free slot, else the one with the fewest failures that is not locked out. */
static int pick_slot(const struct lockout_table *t)
{
	int i, best = -1;

	for (i = 0; i < LOCKOUT_SLOTS; i++) {
		const struct lockout_entry *e = &t->e[i];

		if (!e->used)
			return i;
		if (e->until == 0 && (best < 0 || e->failures < t->e[best].failures))
			best = i;
	}
	return best;
}

bool lockout_active(const struct lockout_table *t, const uint8_t device[LOCKOUT_DEVICE_LEN],
		    uint32_t now)
{
	int i = find(t, device);

	return i >= 0 && t->e[i].until != 0 && now < t->e[i].until;
}

static int start_lockout(struct lockout_table *t, struct store *s, int i, uint32_t until)
{
	struct lockout_entry *e = &t->e[i];
	uint8_t rec[LOCKOUT_REC_LEN];

	memcpy(rec, e->device, LOCKOUT_DEVICE_LEN);
	wire_store_u32(rec + LOCKOUT_DEVICE_LEN, until);
	if (store_put(s, rec_key(i), rec, sizeof(rec)) != 0)
		return -PROTO_E_FLASH;
	e->persisted = true;
	e->until = until;
	e->failures = 0;
	return 1;
}

int lockout_fail(struct lockout_table *t, struct store *s, const struct proto_lockout *policy,
		 const uint8_t device[LOCKOUT_DEVICE_LEN], uint32_t now)
{
	int i = find(t, device);
	struct lockout_entry *e;

	if (i < 0) {
		i = pick_slot(t);
		if (i < 0)
			return 0; /* every slot is a running lockout: nothing more to track */
		if (t->e[i].persisted && store_del(s, rec_key(i)) != 0)
			return -PROTO_E_FLASH;
		memset(&t->e[i], 0, sizeof(t->e[i]));
		t->e[i].used = true;
		memcpy(t->e[i].device, device, LOCKOUT_DEVICE_LEN);
	}
	e = &t->e[i];
	if (e->failures == 0 || now - e->window_start >= policy->window_s) {
		e->window_start = now;
		e->failures = 0;
	}
	if (e->failures < UINT8_MAX)
		e->failures++;
	if (e->failures < policy->max_failures)
		return 0;
	return start_lockout(t, s, i, now + policy->lockout_s);
}

void lockout_success(struct lockout_table *t, const uint8_t device[LOCKOUT_DEVICE_LEN])
{
	int i = find(t, device);

	if (i >= 0 && !t->e[i].persisted)
		memset(&t->e[i], 0, sizeof(t->e[i]));
	else if (i >= 0)
		t->e[i].failures = 0;
}

int lockout_expire(struct lockout_table *t, struct store *s, uint32_t now)
{
	int i;

	for (i = 0; i < LOCKOUT_SLOTS; i++) {
		struct lockout_entry *e = &t->e[i];

		if (!e->used || e->until == 0 || now < e->until)
			continue;
		if (e->persisted && store_del(s, rec_key(i)) != 0)
			return -PROTO_E_FLASH;
		memset(e, 0, sizeof(*e));
	}
	return 0;
}
