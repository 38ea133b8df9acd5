/*
 * store.c: the power-safe record store of store.h: two flash areas, append-only
 * records with a CRC each, compaction into the other area committed by writing its
 * header last. Owns the on-flash format and the RAM index of newest records; knows
 * nothing of what the payloads mean. No heap: buffers live on the stack.
 */
#include "store.h"

#include <string.h>

/*
 * Flash format, all integers big-endian:
 *   area header, 16 bytes: magic "PKS1", generation u32, CRC-32 of those 8 bytes,
 *     4 bytes 0xFF. Written last, so an area without a valid header holds nothing.
 *   record, 4-byte aligned, written by one flash_write: key u8 (0..254), flags u8
 *     (0x00), len u16, payload[len], zero pad to 4, CRC-32 of key..payload.
 *     len 0 is a tombstone. A record header of four 0xFF bytes marks free space.
 */

#define STORE_MAGIC 0x504B5331u /* "PKS1" */
#define STORE_REC_MAX (STORE_REC_HDR + STORE_PAYLOAD_MAX + STORE_REC_TRAILER)
#define STORE_NO_KEY 0xFFu     /* compact() without a record to drop or add */
#define STORE_AREA_MAX 65536u  /* offsets must fit off[] below STORE_NO_RECORD */

_Static_assert(STORE_PAYLOAD_MAX % 4 == 0, "STORE_REC_MAX holds the largest padded record");
_Static_assert(STORE_AREA_HDR % 4 == 0, "records after the header stay aligned");
_Static_assert(STORE_AREA_MAX - 4 < STORE_NO_RECORD, "record offsets fit off[]");

/* What rec_read() found; negative values are -STORE_E_FLASH. */
enum rec_state {
	REC_OK = 0,
	REC_FREE = 1, /* erased: the end of the records */
	REC_BAD = 2,  /* torn or corrupt */
};

static uint16_t load16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t load32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void store32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t store_crc32(uint32_t crc, const uint8_t *p, size_t len)
{
	int bit;

	/* Bitwise rather than a 1 KiB table: flash on the MCU is dearer than cycles. */
	crc = ~crc;
	while (len-- > 0) {
		crc ^= *p++;
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static uint32_t rec_size(size_t len)
{
	return (uint32_t)(STORE_REC_HDR + ((len + 3u) & ~(size_t)3u) + STORE_REC_TRAILER);
}

static uint32_t area_addr(const struct store *s, unsigned area)
{
	return (s->first_page + area * s->area_pages) * s->port->flash_page_size;
}

static int flash_read(const struct store *s, uint32_t addr, uint8_t *buf, size_t len)
{
	return s->port->flash_read(s->port->ctx, addr, buf, len) < 0 ? -STORE_E_FLASH : 0;
}

static int flash_write(const struct store *s, uint32_t addr, const uint8_t *buf, size_t len)
{
	return s->port->flash_write(s->port->ctx, addr, buf, len) < 0 ? -STORE_E_FLASH : 0;
}

/* Builds a record in rec[0..STORE_REC_MAX) and returns its size. */
static uint32_t rec_encode(uint8_t *rec, uint8_t key, const uint8_t *payload, size_t len)
{
	uint32_t size = rec_size(len);
	size_t body = size - STORE_REC_TRAILER;

	rec[0] = key;
	rec[1] = 0;
	store16(rec + 2, (uint16_t)len);
	if (len > 0)
		memcpy(rec + STORE_REC_HDR, payload, len);
	memset(rec + STORE_REC_HDR + len, 0, body - STORE_REC_HDR - len);
	store32(rec + body, store_crc32(0, rec, STORE_REC_HDR + len));
	return size;
}

/*
 * Reads and checks the record at `off` of `area` into rec[0..STORE_REC_MAX). Returns
 * REC_OK (with *size set), REC_FREE, REC_BAD, or -STORE_E_FLASH.
 */
static int rec_read(const struct store *s, unsigned area, uint32_t off, uint8_t *rec,
		    uint32_t *size)
{
	uint32_t addr = area_addr(s, area) + off;
	size_t len, body, i;

	if (flash_read(s, addr, rec, STORE_REC_HDR) < 0)
		return -STORE_E_FLASH;
	if (load32(rec) == 0xFFFFFFFFu)
		return REC_FREE;
	len = load16(rec + 2);
	if (rec[0] >= STORE_KEYS || rec[1] != 0 || len > STORE_PAYLOAD_MAX)
		return REC_BAD;
	*size = rec_size(len);
	if (*size > s->area_bytes - off)
		return REC_BAD;
	if (flash_read(s, addr + STORE_REC_HDR, rec + STORE_REC_HDR,
		       *size - STORE_REC_HDR) < 0)
		return -STORE_E_FLASH;
	body = *size - STORE_REC_TRAILER;
	/* The pad is outside the CRC, so check it by hand: it must read as written. */
	for (i = STORE_REC_HDR + len; i < body; i++)
		if (rec[i] != 0)
			return REC_BAD;
	if (store_crc32(0, rec, STORE_REC_HDR + len) != load32(rec + body))
		return REC_BAD;
	return REC_OK;
}

/* Size on flash of key's newest record, from its header alone. */
static int live_size(const struct store *s, uint8_t key, uint32_t *size)
{
	uint8_t hdr[STORE_REC_HDR];

	*size = 0;
	if (s->off[key] == STORE_NO_RECORD)
		return 0;
	if (flash_read(s, area_addr(s, s->active) + s->off[key], hdr, sizeof(hdr)) < 0)
		return -STORE_E_FLASH;
	if (hdr[0] != key)
		return -STORE_E_FLASH;
	*size = rec_size(load16(hdr + 2));
	return 0;
}

static void area_header(uint8_t hdr[STORE_AREA_HDR], uint32_t gen)
{
	store32(hdr, STORE_MAGIC);
	store32(hdr + 4, gen);
	store32(hdr + 8, store_crc32(0, hdr, 8));
	memset(hdr + 12, 0xFF, 4);
}

/* Reads an area header: 1 and *gen when valid, 0 when not, or -STORE_E_FLASH. */
static int area_valid(const struct store *s, unsigned area, uint32_t *gen)
{
	uint8_t hdr[STORE_AREA_HDR];

	if (flash_read(s, area_addr(s, area), hdr, sizeof(hdr)) < 0)
		return -STORE_E_FLASH;
	if (load32(hdr) != STORE_MAGIC || load32(hdr + 8) != store_crc32(0, hdr, 8))
		return 0;
	*gen = load32(hdr + 4);
	return 1;
}

static int erase_area(const struct store *s, unsigned area)
{
	uint32_t first = s->first_page + area * s->area_pages;
	uint32_t i;

	/* Page 0 first: the header goes before any record, so a cut leaves no valid area. */
	for (i = 0; i < s->area_pages; i++)
		if (s->port->flash_erase(s->port->ctx, first + i) < 0)
			return -STORE_E_FLASH;
	return 0;
}

/* Copies key's live record from the active area to `addr`, re-checking its CRC. */
static int copy_record(const struct store *s, uint8_t key, uint32_t addr, uint8_t *rec,
		       uint32_t *size)
{
	int r = rec_read(s, s->active, s->off[key], rec, size);

	if (r != REC_OK || rec[0] != key)
		return -STORE_E_FLASH;
	return flash_write(s, addr, rec, *size);
}

/*
 * Rewrites the live records into the other area, leaving out `key` and then adding its
 * new record when len > 0 (key STORE_NO_KEY: a plain copy). old_size is the size of
 * key's current record, if any. The RAM state changes only once the new header is on
 * flash; after a flash error the active area is marked full, so the next write
 * compacts again and, first of all, erases a header this call may have completed.
 */
static int compact(struct store *s, uint8_t key, const uint8_t *payload, size_t len,
		   uint32_t old_size)
{
	uint8_t rec[STORE_REC_MAX];
	uint16_t fresh[STORE_KEYS];
	unsigned dst = s->active ^ 1u;
	uint32_t base = area_addr(s, dst), w = STORE_AREA_HDR, size, need;
	unsigned k;
	int r;

	need = s->live_bytes - old_size + (len > 0 ? rec_size(len) : 0);
	if (need > s->area_bytes - STORE_AREA_HDR)
		return -STORE_E_NOSPACE;
	if ((r = erase_area(s, dst)) < 0)
		goto fail;
	for (k = 0; k < STORE_KEYS; k++) {
		fresh[k] = STORE_NO_RECORD;
		if (k == key || s->off[k] == STORE_NO_RECORD)
			continue;
		if ((r = copy_record(s, (uint8_t)k, base + w, rec, &size)) < 0)
			goto fail;
		fresh[k] = (uint16_t)w;
		w += size;
	}
	if (len > 0) {
		size = rec_encode(rec, key, payload, len);
		if ((r = flash_write(s, base + w, rec, size)) < 0)
			goto fail;
		fresh[key] = (uint16_t)w;
		w += size;
	}
	area_header(rec, s->gen + 1);
	if ((r = flash_write(s, base, rec, STORE_AREA_HDR)) < 0)
		goto fail;
	s->active = (uint8_t)dst;
	s->gen++;
	memcpy(s->off, fresh, sizeof(s->off));
	s->write_off = w;
	s->live_bytes = w - STORE_AREA_HDR;
	return 0;
fail:
	s->write_off = s->area_bytes;
	return r;
}

/* Appends a record (a tombstone when len is 0) to the active area; it must fit. */
static int append(struct store *s, uint8_t key, const uint8_t *payload, size_t len,
		  uint32_t old_size)
{
	uint8_t rec[STORE_REC_MAX];
	uint32_t size = rec_encode(rec, key, payload, len);

	if (flash_write(s, area_addr(s, s->active) + s->write_off, rec, size) < 0) {
		/* Part of it may be programmed: never write there again before an erase. */
		s->write_off = s->area_bytes;
		return -STORE_E_FLASH;
	}
	s->off[key] = len > 0 ? (uint16_t)s->write_off : STORE_NO_RECORD;
	s->live_bytes = s->live_bytes - old_size + (len > 0 ? size : 0);
	s->write_off += size;
	return 0;
}

static int write_record(struct store *s, uint8_t key, const uint8_t *payload, size_t len)
{
	uint32_t old_size;
	int r = live_size(s, key, &old_size);

	if (r < 0)
		return r;
	if (rec_size(len) <= s->area_bytes - s->write_off)
		return append(s, key, payload, len, old_size);
	return compact(s, key, payload, len, old_size);
}

/*
 * Indexes the active area. Returns 0, REC_BAD when a record is torn or the free space
 * is not erased (the index then holds every record before the damage), or
 * -STORE_E_FLASH.
 */
static int scan(struct store *s)
{
	uint8_t rec[STORE_REC_MAX];
	uint32_t off = STORE_AREA_HDR, size = 0, end;
	unsigned k;
	int r = REC_FREE;

	while (off < s->area_bytes) {
		r = rec_read(s, s->active, off, rec, &size);
		if (r != REC_OK)
			break;
		s->off[rec[0]] = load16(rec + 2) > 0 ? (uint16_t)off : STORE_NO_RECORD;
		off += size;
	}
	if (r < 0)
		return r;
	s->write_off = off;
	for (k = 0; k < STORE_KEYS; k++) {
		if (live_size(s, (uint8_t)k, &size) < 0)
			return -STORE_E_FLASH;
		s->live_bytes += size;
	}
	if (r == REC_BAD)
		return REC_BAD;
	/* A torn write can leave programmed bytes behind an erased-looking header. */
	for (; off < s->area_bytes; off += size) {
		end = s->area_bytes - off;
		size = end < sizeof(rec) ? end : (uint32_t)sizeof(rec);
		if (flash_read(s, area_addr(s, s->active) + off, rec, size) < 0)
			return -STORE_E_FLASH;
		for (k = 0; k < size; k++)
			if (rec[k] != 0xFF)
				return REC_BAD;
	}
	return 0;
}

static bool geometry_ok(const struct port *port, uint32_t first_page, uint32_t area_pages)
{
	uint64_t area_bytes, end_page;

	if (port == NULL || port->flash_read == NULL || port->flash_write == NULL ||
	    port->flash_erase == NULL || port->flash_page_size % 4 != 0)
		return false;
	area_bytes = (uint64_t)area_pages * port->flash_page_size;
	end_page = (uint64_t)first_page + 2u * (uint64_t)area_pages;
	/* The largest record must fit an empty area; offsets must fit in off[]. */
	return area_bytes >= STORE_AREA_HDR + STORE_REC_MAX && area_bytes <= STORE_AREA_MAX &&
	       end_page <= port->flash_pages &&
	       end_page * port->flash_page_size <= (uint64_t)UINT32_MAX + 1u;
}

/* Picks the valid area with the highest generation: 1 found, 0 none, or an error. */
static int pick_area(struct store *s)
{
	uint32_t gen[2] = { 0, 0 };
	int valid[2];
	unsigned i;

	for (i = 0; i < 2; i++) {
		valid[i] = area_valid(s, i, &gen[i]);
		if (valid[i] < 0)
			return valid[i];
	}
	if (!valid[0] && !valid[1])
		return 0;
	s->active = !valid[0] || (valid[1] && gen[1] > gen[0]) ? 1 : 0;
	s->gen = gen[s->active];
	return 1;
}

int store_init(struct store *s, const struct port *port, uint32_t first_page,
	       uint32_t area_pages)
{
	int r;

	memset(s, 0, sizeof(*s));
	memset(s->off, 0xFF, sizeof(s->off));
	if (!geometry_ok(port, first_page, area_pages))
		return -STORE_E_GEOMETRY;
	s->port = port;
	s->first_page = first_page;
	s->area_pages = area_pages;
	s->area_bytes = area_pages * port->flash_page_size;
	r = pick_area(s);
	if (r == 0) {
		/* Nothing valid: an empty copy into area 0 formats it with generation 1. */
		s->active = 1;
		s->write_off = s->area_bytes;
		r = compact(s, STORE_NO_KEY, NULL, 0, 0);
	} else if (r > 0) {
		r = scan(s);
		if (r == REC_BAD)
			r = compact(s, STORE_NO_KEY, NULL, 0, 0);
	}
	/* A store that failed to mount refuses every call rather than guess. */
	if (r < 0)
		s->port = NULL;
	return r;
}

int store_get(struct store *s, uint8_t key, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t rec[STORE_REC_MAX];
	uint32_t size;
	size_t n;

	*len = 0;
	if (s->port == NULL)
		return -STORE_E_FLASH;
	if (!store_has(s, key))
		return -STORE_E_NOENT;
	if (rec_read(s, s->active, s->off[key], rec, &size) != REC_OK || rec[0] != key)
		return -STORE_E_FLASH;
	n = load16(rec + 2);
	if (n > cap)
		return -STORE_E_SIZE;
	memcpy(buf, rec + STORE_REC_HDR, n);
	*len = n;
	return 0;
}

bool store_has(const struct store *s, uint8_t key)
{
	return s->port != NULL && key < STORE_KEYS && s->off[key] != STORE_NO_RECORD;
}

int store_put(struct store *s, uint8_t key, const uint8_t *buf, size_t len)
{
	if (s->port == NULL)
		return -STORE_E_FLASH;
	/* len 0 would read back as a tombstone, and key 0xFF as erased flash. */
	if (key >= STORE_KEYS || len == 0 || len > STORE_PAYLOAD_MAX || buf == NULL)
		return -STORE_E_SIZE;
	return write_record(s, key, buf, len);
}

int store_del(struct store *s, uint8_t key)
{
	if (s->port == NULL)
		return -STORE_E_FLASH;
	if (!store_has(s, key))
		return 0;
	return write_record(s, key, NULL, 0);
}
