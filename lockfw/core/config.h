/*
 * config.h: the lock's settings record (provisioning, sequence numbers, clock
 * checkpoint, unlock total, lockout policy) in the store.
 */
#ifndef PARK_CONFIG_H
#define PARK_CONFIG_H

#include "lock.h"

/* Loads cfg from the store; a factory-fresh store gives the defaults. 0 or -PROTO_E_FLASH. */
int config_load(struct lock_config *cfg, struct store *s);

/* Writes cfg durably. 0 or -PROTO_E_FLASH (the stored record is unchanged). */
int config_save(const struct lock_config *cfg, struct store *s);

#endif
