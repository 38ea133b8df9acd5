/*
 * operate.h: a key holder asks the lock to lower or raise its barrier (claims 1, 2, 4,
 * 6, 7; DESIGN.md section 4). The request answers this link's fresh challenge; the lock
 * verifies the key with the stored credential, the device signature over the challenge,
 * the spot, revocation, transfer and limits, counts the use durably, then moves. An
 * attendant's override (a site-signed REMOTE_OPERATE, whose envelope mgmt.c checks)
 * moves the same barrier by the same rules, without a key.
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

/*
 * REMOTE_OPERATE `req`, management sequence `seq`, whose site signature, target and
 * sequence the caller has checked: refuses while the barrier moves (-PROTO_E_BUSY),
 * after req->not_after (-PROTO_E_TIME_UNSET, -PROTO_E_EXPIRED) and a raise onto a car
 * (-PROTO_E_OCCUPIED), changing nothing; else logs an OVERRIDE event and starts the
 * motor unless the barrier is already there. The movement answers no link: its end is
 * an UNLOCKED/LOCKED event with how PROTO_HOW_OVERRIDE, or JAMMED. Returns 0, the
 * negated refusal, or -PROTO_E_FLASH when the event could not be logged (halted).
 */
int operate_override(struct lock *l, uint32_t seq, const struct proto_remote_operate *req);

#endif
