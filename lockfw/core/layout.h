/*
 * layout.h: how the lock core divides its flash and its store's key space.
 *
 * The store (store.h) takes keys 0..254; each table owns a fixed range so that a
 * record's key says what it is. Changing a range changes the flash format.
 */
#ifndef PARK_LAYOUT_H
#define PARK_LAYOUT_H

#define LAYOUT_KEY_CONFIG 0
#define LAYOUT_KEY_CRED 1         /* + slot, 64 slots: the credential */
#define LAYOUT_KEY_CRED_USES 65   /* + slot: its use counter */
#define LAYOUT_KEY_SHARE 129      /* + slot, 32 slots: the authorisation code */
#define LAYOUT_KEY_SHARE_USES 161 /* + slot: its use counter */
#define LAYOUT_KEY_REVOKED 193    /* the revocation list */
#define LAYOUT_KEY_LOCKOUT 194    /* + slot, 16 slots: a device locked out */
#define LAYOUT_KEY_END 210

#define LAYOUT_STORE_AREA_BYTES 16384 /* each of the store's two areas */
#define LAYOUT_EVENTS_KEPT 256        /* the event log keeps at least this many */

#endif
