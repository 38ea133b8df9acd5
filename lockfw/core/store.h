/*
 * store.h: a power-safe key/record store on NOR flash for the lock core.
 *
 * Records are appended to the active one of two areas; the newest record of a key
 * wins. When the active area is full, the live records are copied to the other area,
 * whose header (with a higher generation) is written last, so a power cut at any byte
 * of any write leaves either the old or the new state. A torn record at the tail is
 * detected by its CRC at mount and the area is compacted. The store knows nothing of
 * credentials: keys are small integers the caller assigns. No heap.
 */
#ifndef PARK_STORE_H
#define PARK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../port/port.h"

#define STORE_KEYS 255          /* keys are 0..254; 0xFF marks erased flash */
#define STORE_PAYLOAD_MAX 520   /* largest record payload */
#define STORE_REC_HDR 4         /* key u8, flags u8, payload length u16 */
#define STORE_REC_TRAILER 4     /* CRC-32 over header and payload */
#define STORE_AREA_HDR 16       /* magic, generation, CRC-32, padding */
#define STORE_NO_RECORD 0xFFFFu

enum store_err {
	STORE_E_NOENT = 1, /* no record for this key */
	STORE_E_FLASH = 2, /* a flash call failed (power cut included); see contract */
	STORE_E_NOSPACE = 3, /* the live records do not fit in one area */
	STORE_E_SIZE = 4,  /* payload too large, or the caller's buffer too small */
	STORE_E_GEOMETRY = 5, /* the flash range given to store_init is unusable */
};

struct store {
	const struct port *port;
	uint32_t first_page;  /* first page of area 0 */
	uint32_t area_pages;  /* pages per area; area 1 follows area 0 */
	uint32_t area_bytes;
	uint8_t active;       /* area holding the current state, 0 or 1 */
	uint32_t gen;         /* generation of the active area */
	uint32_t write_off;   /* next free byte in the active area */
	uint32_t live_bytes;  /* bytes the live records would take after compaction */
	uint16_t off[STORE_KEYS]; /* offset of each key's newest record, or STORE_NO_RECORD */
};

/*
 * Mounts the store on pages [first_page, first_page + 2 * area_pages) of port's flash:
 * picks the valid area with the highest generation, indexes its records, formats the
 * flash when neither area is valid, and compacts when the active area has a torn tail.
 * Returns 0, -STORE_E_GEOMETRY, or -STORE_E_FLASH. On error the store is not mounted:
 * every other call fails with -STORE_E_FLASH and store_has() is false until a
 * store_init() succeeds. An area holds at most 64 KiB (offsets are 16-bit).
 */
int store_init(struct store *s, const struct port *port, uint32_t first_page,
	       uint32_t area_pages);

/*
 * Copies the newest payload of `key` into buf[0..cap) and sets *len (0 on error).
 * Returns 0, -STORE_E_NOENT, -STORE_E_SIZE when cap is too small, or -STORE_E_FLASH
 * when the record no longer reads back with a valid CRC.
 */
int store_get(struct store *s, uint8_t key, uint8_t *buf, size_t cap, size_t *len);

/* True when `key` has a record. */
bool store_has(const struct store *s, uint8_t key);

/*
 * Writes a new record for `key`. When this returns 0 the record is durable. On
 * -STORE_E_SIZE or -STORE_E_NOSPACE nothing changed. On -STORE_E_FLASH, store_get
 * keeps returning the previous record until the next store_init; after a power cut
 * and a new store_init the key holds either the previous or the new record, never a
 * mix, and every other key is unchanged (a cut at the last byte may complete the
 * write). len 0 (a tombstone) and key 255 give -STORE_E_SIZE. Compacts the store
 * first when the active area is full.
 */
int store_put(struct store *s, uint8_t key, const uint8_t *buf, size_t len);

/*
 * Deletes `key` durably (a zero-length tombstone record). Same errors as store_put;
 * deleting a missing key returns 0 and writes nothing.
 */
int store_del(struct store *s, uint8_t key);

/* CRC-32 (IEEE 802.3, reflected), for torn-write detection, not for security. */
uint32_t store_crc32(uint32_t crc, const uint8_t *p, size_t len);

#endif
