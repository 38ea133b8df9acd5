/*
 * revocation.h: the site-signed, serial-numbered revocation list. Whoever brings it (the
 * gateway, or any phone that synced since), the newest list replaces the old one, and
 * every credential and authorisation code it names is removed at once.
 */
#ifndef PARK_REVOCATION_H
#define PARK_REVOCATION_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/proto.h"

struct lock;

/* Loads the stored list. 0 or -PROTO_E_FLASH. */
int revocation_load(struct lock *l);

/* True when key_id (a credential or share ID) is on the list. */
bool revocation_contains(const struct lock *l, uint32_t key_id);

/*
 * Stores `list` as the current list and removes what it names (and shares whose parent
 * it names). The caller has checked the signature and the serial. 0 or -PROTO_E_FLASH.
 */
int revocation_apply(struct lock *l, const struct proto_revoke *list);

#endif
