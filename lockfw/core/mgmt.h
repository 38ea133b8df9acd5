/*
 * mgmt.h: management messages from the key server (through a gateway, or carried by a
 * phone): install a credential or an authorisation code, revoke keys, set the time, set
 * the lockout policy, re-provision, move the barrier for an attendant. Each must carry a
 * valid site signature and a newer sequence number (the revocation list: a newer
 * serial), and is answered with a MGMT_ACK signed by the device key, whose result the
 * server stores.
 */
#ifndef PARK_MGMT_H
#define PARK_MGMT_H

#include <stdint.h>

#include "../proto/proto.h"

struct lock;

/*
 * Handles a decoded MGMT frame and answers it: ERROR when the site signature is bad,
 * a signed MGMT_ACK otherwise. Returns 0 or the negated status.
 */
int mgmt_handle(struct lock *l, uint8_t conn, uint8_t tag, const struct proto_mgmt *m);

#endif
