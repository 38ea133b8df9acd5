/*
 * operate.h: a key holder asks the lock to lower or raise its barrier (claims 1, 2, 4,
 * 6, 7; DESIGN.md section 4). The request answers this link's fresh challenge; the lock
 * verifies the key with the stored credential, the device signature over the challenge,
 * the spot, revocation, transfer and limits, counts the use durably, then moves.
 */
#ifndef PARK_OPERATE_H
#define PARK_OPERATE_H

#include <stdint.h>

#include "../proto/proto.h"

struct lock;

/* OPERATE: the holder's own e-key. Answers with RESULT. Returns 0 or the negated status. */
int operate_key(struct lock *l, uint8_t conn, uint8_t tag, const struct proto_operate *req);

/* OPERATE_SHARED: a shared key, through an authorisation code and the sharer's credential. */
int operate_shared(struct lock *l, uint8_t conn, uint8_t tag,
		   const struct proto_operate_shared *req);

#endif
