/*
 * walltime.c: the lock's clock; see walltime.h.
 */
#include "walltime.h"

#include "config.h"
#include "lock.h"

static uint64_t clock_ms(const struct lock *l)
{
	return l->port->clock_ms(l->port->ctx);
}

void walltime_boot(struct lock *l)
{
	uint64_t now = clock_ms(l);

	if (l->log.head_time > l->cfg.time_saved)
		l->cfg.time_saved = l->log.head_time;
	l->time_base_ms = now;
	l->next_checkpoint_ms = now + (uint64_t)LOCK_TIME_CHECKPOINT_S * 1000;
}

uint32_t walltime_now(const struct lock *l)
{
	uint64_t elapsed = (clock_ms(l) - l->time_base_ms) / 1000;
	uint64_t t = (uint64_t)l->cfg.time_saved + elapsed;

	return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

bool walltime_known(const struct lock *l)
{
	return l->cfg.time_known;
}

/* Makes `t` the checkpoint, durably, as of port time `now`. */
static int checkpoint(struct lock *l, uint32_t t, bool known, uint64_t now)
{
	struct lock_config next = l->cfg;

	next.time_saved = t;
	next.time_known = known;
	if (config_save(&next, &l->store) != 0)
		return -PROTO_E_FLASH;
	l->cfg = next;
	l->time_base_ms = now;
	l->next_checkpoint_ms = now + (uint64_t)LOCK_TIME_CHECKPOINT_S * 1000;
	return 0;
}

int walltime_set(struct lock *l, uint32_t t)
{
	if (t < walltime_now(l))
		return -PROTO_E_TIME_BACK;
	return checkpoint(l, t, true, clock_ms(l));
}

int walltime_tick(struct lock *l)
{
	uint64_t now = clock_ms(l);

	if (now < l->next_checkpoint_ms)
		return 0;
	return checkpoint(l, walltime_now(l), l->cfg.time_known, now);
}

uint64_t walltime_next_ms(const struct lock *l)
{
	uint64_t now = clock_ms(l);

	return l->next_checkpoint_ms > now ? l->next_checkpoint_ms - now : 0;
}
