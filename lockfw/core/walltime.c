/*
 * walltime.c: the lock's clock; see walltime.h. The running clock is time_base_s plus
 * the port clock's progress since time_base_ms; cfg.time_saved is only the resume point.
 */
#include "walltime.h"

#include "config.h"
#include "lock.h"

/* The resume point moves on this long before the clock would reach it. */
#define WALLTIME_MARGIN_S 60

static uint64_t clock_ms(const struct lock *l)
{
	return l->port->clock_ms(l->port->ctx);
}

uint32_t walltime_now(const struct lock *l)
{
	uint64_t t = l->time_base_s + (clock_ms(l) - l->time_base_ms) / 1000;

	return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

bool walltime_known(const struct lock *l)
{
	return l->cfg.time_known;
}

static uint32_t ahead(uint32_t t)
{
	return t > UINT32_MAX - LOCK_TIME_CHECKPOINT_S ? UINT32_MAX : t + LOCK_TIME_CHECKPOINT_S;
}

/* Saves the resume point for a clock now at `t`, durably. */
static int save_resume(struct lock *l, uint32_t t, bool known)
{
	struct lock_config next = l->cfg;

	next.time_saved = ahead(t);
	next.time_known = known;
	if (config_save(&next, &l->store) != 0)
		return -PROTO_E_FLASH;
	l->cfg = next;
	return 0;
}

int walltime_boot(struct lock *l)
{
	l->time_base_s = l->cfg.time_saved;
	if (l->log.head_time > l->time_base_s)
		l->time_base_s = l->log.head_time;
	l->time_base_ms = clock_ms(l);
	return save_resume(l, l->time_base_s, l->cfg.time_known);
}

int walltime_set(struct lock *l, uint32_t t)
{
	uint64_t now = clock_ms(l);
	int r;

	if (t < walltime_now(l))
		return -PROTO_E_TIME_BACK;
	r = save_resume(l, t, true);
	if (r != 0)
		return r;
	l->time_base_s = t;
	l->time_base_ms = now;
	return 0;
}

int walltime_tick(struct lock *l)
{
	uint32_t now = walltime_now(l);

	if ((uint64_t)now + WALLTIME_MARGIN_S < l->cfg.time_saved)
		return 0;
	return save_resume(l, now, l->cfg.time_known);
}

uint64_t walltime_next_ms(const struct lock *l)
{
	uint64_t now = walltime_now(l);
	uint64_t due = l->cfg.time_saved > WALLTIME_MARGIN_S ?
			       l->cfg.time_saved - WALLTIME_MARGIN_S : 0;

	return due > now ? (due - now) * 1000 : 0;
}
