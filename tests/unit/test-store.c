/*
 * test-store.c: the record store through its public API on the simulated NOR flash:
 * round trips, tombstones, compaction, the error contract, and power cuts at every
 * byte of every flash operation of a put, a delete and a mount, each followed by a
 * check that every key is wholly old or wholly new. Uses its own port table on sim_hw
 * (flash only), so it needs no crypto and no other core module.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../lockfw/core/store.h"
#include "../../lockfw/host/sim-hw.h"

#define RIG_OPS_MAX 512

/* Geometry of the exhaustive power-cut runs: small pages keep them quick. */
#define SWEEP_PAGE 256
#define SWEEP_AREA_PAGES 4
#define SWEEP_FIRST 1                               /* page 0 is a guard */
#define SWEEP_PAGES (SWEEP_FIRST + 2 * SWEEP_AREA_PAGES + 1) /* ... and the last one */
#define SWEEP_AREA_BYTES (SWEEP_PAGE * SWEEP_AREA_PAGES)
#define GUARD 0xA5

#define FOLLOW_KEY 200 /* the put made after every cut to show the store still works */

/*
 * The flash of one test with a recording port table. `written` marks bytes programmed
 * since their page was erased, so that a second write to them is caught even when it
 * would not flip a bit (which the sim itself cannot see).
 */
struct rig {
	struct sim_hw hw;
	struct port port;
	uint8_t *flash;
	uint8_t *written;
	size_t bytes;
	unsigned ops;       /* writes and erases the sim counted since rig_log_reset() */
	size_t op_len[RIG_OPS_MAX]; /* bytes of each (0 for an erase) */
	unsigned rewrites;  /* writes over programmed bytes */
	unsigned refused;   /* writes the flash refused with power on (a 0 -> 1 bit) */
};

/* What each key should hold: payloads are derived from (key, version, len). */
struct model {
	bool present[STORE_KEYS];
	uint8_t version[STORE_KEYS];
	uint16_t len[STORE_KEYS];
};

static int rig_read(void *ctx, uint32_t addr, uint8_t *buf, size_t len)
{
	struct rig *r = ctx;

	return sim_hw_flash_read(&r->hw, addr, buf, len);
}

static void rig_log(struct rig *r, uint64_t before, size_t len)
{
	if (r->hw.flash_writes != before && r->ops < RIG_OPS_MAX)
		r->op_len[r->ops++] = len;
}

static int rig_write(void *ctx, uint32_t addr, const uint8_t *buf, size_t len)
{
	struct rig *r = ctx;
	uint64_t before = r->hw.flash_writes;
	bool was_on = r->hw.powered;
	bool in = addr <= r->bytes && len <= r->bytes - addr;
	size_t i;
	int rc;

	for (i = 0; in && was_on && i < len; i++)
		if (r->written[addr + i]) {
			r->rewrites++;
			break;
		}
	rc = sim_hw_flash_write(&r->hw, addr, buf, len);
	if (was_on && rc < 0 && r->hw.powered)
		r->refused++;
	/* After a cut the store cannot know how far it got: all of it counts as written. */
	if (in && was_on && (rc == 0 || !r->hw.powered))
		memset(r->written + addr, 1, len);
	rig_log(r, before, len);
	return rc;
}

static int rig_erase(void *ctx, uint32_t page)
{
	struct rig *r = ctx;
	uint64_t before = r->hw.flash_writes;
	int rc = sim_hw_flash_erase(&r->hw, page);

	if (rc == 0)
		memset(r->written + (size_t)page * r->hw.page_size, 0, r->hw.page_size);
	rig_log(r, before, 0);
	return rc;
}

static struct rig *rig_new(uint32_t page_size, uint32_t pages)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->bytes = (size_t)page_size * pages;
	r->flash = malloc(r->bytes);
	r->written = calloc(1, r->bytes);
	assert_non_null(r->flash);
	assert_non_null(r->written);
	memset(r->flash, 0xFF, r->bytes);
	sim_hw_init(&r->hw, r->flash, page_size, pages);
	r->port = (struct port){
		.ctx = r,
		.flash_page_size = page_size,
		.flash_pages = pages,
		.flash_read = rig_read,
		.flash_write = rig_write,
		.flash_erase = rig_erase,
	};
	return r;
}

static void rig_free(struct rig *r)
{
	free(r->written);
	free(r->flash);
	free(r);
}

static void rig_log_reset(struct rig *r)
{
	r->ops = 0;
}

/* Loads a flash image, as after a reboot: only what reads back as programmed is known. */
static void rig_load(struct rig *r, const uint8_t *image)
{
	size_t i;

	memcpy(r->flash, image, r->bytes);
	for (i = 0; i < r->bytes; i++)
		r->written[i] = r->flash[i] != 0xFF;
	sim_hw_power_on(&r->hw);
}

static int mount(struct rig *r, struct store *s)
{
	return store_init(s, &r->port, SWEEP_FIRST, SWEEP_AREA_PAGES);
}

static int mount_at(struct rig *r, struct store *s, uint32_t first, uint32_t area_pages)
{
	return store_init(s, &r->port, first, area_pages);
}

static void payload(uint8_t *buf, uint8_t key, uint8_t version, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(key * 37u + version * 101u + i * 7u + 1u);
}

static int put_v(struct store *s, struct model *m, uint8_t key, uint8_t version,
		 uint16_t len)
{
	uint8_t buf[STORE_PAYLOAD_MAX];
	int rc;

	payload(buf, key, version, len);
	rc = store_put(s, key, buf, len);
	if (rc == 0) {
		m->present[key] = true;
		m->version[key] = version;
		m->len[key] = len;
	}
	return rc;
}

static int del_v(struct store *s, struct model *m, uint8_t key)
{
	int rc = store_del(s, key);

	if (rc == 0)
		m->present[key] = false;
	return rc;
}

static bool key_is(struct store *s, const struct model *m, uint8_t key)
{
	uint8_t got[STORE_PAYLOAD_MAX], want[STORE_PAYLOAD_MAX];
	size_t len = 0;
	int rc = store_get(s, key, got, sizeof(got), &len);

	if (!m->present[key])
		return rc == -STORE_E_NOENT && !store_has(s, key);
	payload(want, key, m->version[key], m->len[key]);
	return rc == 0 && store_has(s, key) && len == m->len[key] &&
	       memcmp(got, want, len) == 0;
}

/* Every key of the store matches the model. */
static bool model_ok(struct store *s, const struct model *m)
{
	unsigned k;

	for (k = 0; k < STORE_KEYS; k++)
		if (!key_is(s, m, (uint8_t)k))
			return false;
	return true;
}

static uint32_t model_live_bytes(const struct model *m)
{
	uint32_t sum = 0;
	unsigned k;

	for (k = 0; k < STORE_KEYS; k++)
		if (m->present[k])
			sum += STORE_REC_HDR + ((m->len[k] + 3u) & ~3u) + STORE_REC_TRAILER;
	return sum;
}

/* The RAM state after a run of calls equals what a fresh mount builds from flash. */
static void assert_same_index(const struct store *a, const struct store *b)
{
	assert_int_equal(a->active, b->active);
	assert_int_equal(a->gen, b->gen);
	assert_int_equal(a->write_off, b->write_off);
	assert_int_equal(a->live_bytes, b->live_bytes);
	assert_memory_equal(a->off, b->off, sizeof(a->off));
}

static void assert_clean_flash_use(const struct rig *r)
{
	assert_int_equal(r->rewrites, 0);
	assert_int_equal(r->refused, 0);
}

/* ---- the flash model the fault tests stand on */

static void test_sim_flash_model(void **state)
{
	struct rig *r = rig_new(256, 2);
	uint8_t b[4] = { 0x0F, 0xF0, 0x00, 0xAA }, got[4];

	(void)state;
	assert_int_equal(sim_hw_flash_write(&r->hw, 10, b, 4), 0);
	b[0] = 0x1F; /* would set a bit: refused, nothing written */
	assert_int_equal(sim_hw_flash_write(&r->hw, 9, b, 4), -1);
	assert_int_equal(r->flash[9], 0xFF);
	assert_int_equal(sim_hw_flash_read(&r->hw, 510, got, 3), -1);
	assert_int_equal(sim_hw_flash_write(&r->hw, 511, b, 2), -1);
	assert_int_equal(sim_hw_flash_erase(&r->hw, 2), -1);

	b[0] = 0x12;
	b[1] = 0x34;
	b[2] = 0x56;
	sim_hw_arm_cut(&r->hw, 2, 1);
	assert_int_equal(sim_hw_flash_write(&r->hw, 100, b, 3), 0);
	assert_int_equal(sim_hw_flash_write(&r->hw, 200, b, 3), -1);
	assert_false(r->hw.powered);
	assert_int_equal(sim_hw_flash_read(&r->hw, 200, got, 3), -1);
	sim_hw_power_on(&r->hw);
	assert_int_equal(sim_hw_flash_read(&r->hw, 200, got, 3), 0);
	assert_int_equal(got[0], 0x12);
	assert_int_equal(got[1], 0x3F); /* the torn byte: high nibble only */
	assert_int_equal(got[2], 0xFF);

	sim_hw_arm_cut(&r->hw, 1, 0);
	assert_int_equal(sim_hw_flash_erase(&r->hw, 0), -1);
	sim_hw_power_on(&r->hw);
	assert_int_equal(r->flash[100], 0x12); /* the cut erase did nothing */
	rig_free(r);
}

/* ---- the plain contract */

static void test_crc32_known_answer(void **state)
{
	const uint8_t *check = (const uint8_t *)"123456789";

	(void)state;
	assert_int_equal(store_crc32(0, check, 9), 0xCBF43926u);
	assert_int_equal(store_crc32(store_crc32(0, check, 4), check + 4, 5), 0xCBF43926u);
	assert_int_equal(store_crc32(0, NULL, 0), 0);
}

static void test_geometry_refused(void **state)
{
	struct rig *r = rig_new(256, 8), *big = rig_new(4096, 34);
	struct port odd;
	struct store s;
	uint8_t buf[8] = { 1 };
	size_t len;

	(void)state;
	assert_int_equal(store_init(&s, NULL, 0, 4), -STORE_E_GEOMETRY);
	assert_int_equal(mount_at(r, &s, 0, 0), -STORE_E_GEOMETRY);
	assert_int_equal(mount_at(r, &s, 0, 2), -STORE_E_GEOMETRY); /* 512 < one max record */
	assert_int_equal(mount_at(r, &s, 1, 4), -STORE_E_GEOMETRY); /* past the last page */
	assert_int_equal(mount_at(r, &s, UINT32_MAX, 4), -STORE_E_GEOMETRY);
	odd = r->port;
	odd.flash_page_size = 258;
	assert_int_equal(store_init(&s, &odd, 0, 4), -STORE_E_GEOMETRY);
	odd = r->port;
	odd.flash_erase = NULL;
	assert_int_equal(store_init(&s, &odd, 0, 4), -STORE_E_GEOMETRY);
	assert_int_equal(mount_at(big, &s, 0, 17), -STORE_E_GEOMETRY); /* offsets need u16 */
	assert_int_equal(r->ops + big->ops, 0);

	/* An unmounted store refuses everything. */
	assert_false(store_has(&s, 1));
	assert_int_equal(store_put(&s, 1, buf, 1), -STORE_E_FLASH);
	assert_int_equal(store_del(&s, 1), -STORE_E_FLASH);
	assert_int_equal(store_get(&s, 1, buf, sizeof(buf), &len), -STORE_E_FLASH);

	assert_int_equal(mount_at(big, &s, 0, 16), 0);
	assert_int_equal(mount_at(r, &s, 0, 4), 0);
	rig_free(big);
	rig_free(r);
}

static void test_fresh_mount_formats_once(void **state)
{
	struct rig *r = rig_new(4096, 8);
	struct store s, s2;
	struct model m = { 0 };
	size_t i;

	(void)state;
	assert_int_equal(mount_at(r, &s, 0, 4), 0);
	assert_int_equal(s.gen, 1);
	assert_int_equal(s.active, 0);
	assert_int_equal(s.write_off, STORE_AREA_HDR);
	assert_int_equal(s.live_bytes, 0);
	assert_memory_equal(r->flash, "PKS1", 4);
	for (i = 4 * 4096; i < r->bytes; i++)
		assert_int_equal(r->flash[i], 0xFF);
	assert_true(model_ok(&s, &m));

	/* A clean mount writes nothing. */
	rig_log_reset(r);
	assert_int_equal(mount_at(r, &s2, 0, 4), 0);
	assert_int_equal(r->ops, 0);
	assert_same_index(&s, &s2);
	rig_free(r);
}

static void test_put_get_del(void **state)
{
	struct rig *r = rig_new(4096, 8);
	struct store s;
	struct model m = { 0 };
	uint8_t buf[STORE_PAYLOAD_MAX];
	size_t len;

	(void)state;
	assert_int_equal(mount_at(r, &s, 0, 4), 0);
	assert_int_equal(put_v(&s, &m, 0, 1, 1), 0);
	assert_int_equal(put_v(&s, &m, 254, 1, STORE_PAYLOAD_MAX), 0);
	assert_int_equal(put_v(&s, &m, 100, 1, 33), 0);
	assert_true(model_ok(&s, &m));

	/* A buffer of exactly the payload's size is enough. */
	assert_int_equal(store_get(&s, 100, buf, 33, &len), 0);
	assert_int_equal(len, 33);

	assert_int_equal(del_v(&s, &m, 100), 0);
	assert_false(store_has(&s, 100));
	assert_int_equal(store_get(&s, 100, buf, sizeof(buf), &len), -STORE_E_NOENT);
	assert_int_equal(put_v(&s, &m, 100, 2, 7), 0);
	assert_true(model_ok(&s, &m));
	assert_int_equal(s.live_bytes, model_live_bytes(&m));
	assert_clean_flash_use(r);
	rig_free(r);
}

static void test_newest_wins(void **state)
{
	struct rig *r = rig_new(4096, 8);
	struct store s, s2;
	struct model m = { 0 };
	uint8_t v;

	(void)state;
	assert_int_equal(mount_at(r, &s, 0, 4), 0);
	for (v = 1; v <= 6; v++) {
		assert_int_equal(put_v(&s, &m, 7, v, (uint16_t)(v * 29)), 0);
		assert_int_equal(put_v(&s, &m, 8, v, (uint16_t)(200 - v * 29)), 0);
	}
	assert_true(model_ok(&s, &m));
	assert_int_equal(mount_at(r, &s2, 0, 4), 0);
	assert_true(model_ok(&s2, &m));
	assert_same_index(&s, &s2);
	rig_free(r);
}

static void test_tombstones(void **state)
{
	struct rig *r = rig_new(4096, 8);
	struct store s;
	struct model m = { 0 };

	(void)state;
	assert_int_equal(mount_at(r, &s, 0, 4), 0);
	assert_int_equal(put_v(&s, &m, 3, 1, 40), 0);
	assert_int_equal(del_v(&s, &m, 3), 0);
	assert_true(model_ok(&s, &m));

	/* Deleting what is not there is done already: no flash write. */
	rig_log_reset(r);
	assert_int_equal(del_v(&s, &m, 3), 0);
	assert_int_equal(del_v(&s, &m, 9), 0);
	assert_int_equal(store_del(&s, 255), 0);
	assert_int_equal(r->ops, 0);

	assert_int_equal(mount_at(r, &s, 0, 4), 0);
	assert_true(model_ok(&s, &m));
	assert_int_equal(put_v(&s, &m, 3, 2, 12), 0);
	assert_int_equal(mount_at(r, &s, 0, 4), 0);
	assert_true(model_ok(&s, &m));
	assert_int_equal(s.live_bytes, model_live_bytes(&m));
	rig_free(r);
}

static void test_survives_remount(void **state)
{
	struct rig *r = rig_new(4096, 8);
	struct store s, s2;
	struct model m = { 0 };
	unsigned k;

	(void)state;
	assert_int_equal(mount_at(r, &s, 0, 4), 0);
	for (k = 0; k < 40; k++)
		assert_int_equal(put_v(&s, &m, (uint8_t)(k * 6), (uint8_t)k,
				       (uint16_t)(1 + k * 11 % 300)), 0);
	for (k = 0; k < 40; k += 3)
		assert_int_equal(del_v(&s, &m, (uint8_t)(k * 6)), 0);
	for (k = 1; k < 40; k += 4)
		assert_int_equal(put_v(&s, &m, (uint8_t)(k * 6), 99, 5), 0);
	assert_int_equal(mount_at(r, &s2, 0, 4), 0);
	assert_true(model_ok(&s2, &m));
	assert_same_index(&s, &s2);
	assert_int_equal(s2.live_bytes, model_live_bytes(&m));
	assert_clean_flash_use(r);
	rig_free(r);
}

static void test_compaction_keeps_live_records(void **state)
{
	struct rig *r = rig_new(SWEEP_PAGE, SWEEP_PAGES);
	struct store s, s2;
	struct model m = { 0 };
	unsigned i;

	(void)state;
	assert_int_equal(mount(r, &s), 0);
	for (i = 0; i < 300; i++) {
		if (i % 10 == 9)
			assert_int_equal(del_v(&s, &m, (uint8_t)(i % 7)), 0);
		else
			assert_int_equal(put_v(&s, &m, (uint8_t)(i % 7), (uint8_t)i,
					       (uint16_t)(1 + i * 13 % 90)), 0);
		assert_int_equal(s.live_bytes, model_live_bytes(&m));
	}
	assert_true(s.gen > 10); /* it did compact, many times, in both directions */
	assert_true(model_ok(&s, &m));
	assert_int_equal(mount(r, &s2), 0);
	assert_true(model_ok(&s2, &m));
	assert_same_index(&s, &s2);
	assert_clean_flash_use(r);
	rig_free(r);
}

static void test_size_errors(void **state)
{
	struct rig *r = rig_new(4096, 8);
	struct store s;
	struct model m = { 0 };
	uint8_t buf[STORE_PAYLOAD_MAX + 1] = { 0 };
	size_t len = 1;

	(void)state;
	assert_int_equal(mount_at(r, &s, 0, 4), 0);
	rig_log_reset(r);
	assert_int_equal(store_put(&s, 1, buf, STORE_PAYLOAD_MAX + 1), -STORE_E_SIZE);
	assert_int_equal(store_put(&s, 1, buf, 0), -STORE_E_SIZE); /* 0 is a tombstone */
	assert_int_equal(store_put(&s, 1, NULL, 4), -STORE_E_SIZE);
	assert_int_equal(store_put(&s, 255, buf, 4), -STORE_E_SIZE); /* 0xFF is erased */
	assert_int_equal(r->ops, 0);

	assert_int_equal(put_v(&s, &m, 1, 1, 100), 0);
	assert_int_equal(store_get(&s, 1, buf, 99, &len), -STORE_E_SIZE);
	assert_int_equal(store_get(&s, 1, buf, 100, &len), 0);
	assert_int_equal(len, 100);
	assert_int_equal(store_get(&s, 255, buf, sizeof(buf), &len), -STORE_E_NOENT);
	assert_false(store_has(&s, 255));
	assert_true(model_ok(&s, &m));
	rig_free(r);
}

static void test_nospace_changes_nothing(void **state)
{
	struct rig *r = rig_new(SWEEP_PAGE, SWEEP_PAGES);
	struct store s, before;
	struct model m = { 0 };
	uint8_t *image = malloc(r->bytes);
	uint8_t k;

	(void)state;
	assert_non_null(image);
	assert_int_equal(mount(r, &s), 0);
	/* A compaction first, so that the idle area holds something an erase would lose. */
	assert_int_equal(put_v(&s, &m, 50, 1, 500), 0);
	assert_int_equal(put_v(&s, &m, 50, 2, 500), 0);
	assert_int_equal(del_v(&s, &m, 50), 0);
	assert_int_equal(s.gen, 2);
	/* 7 records of 128 bytes: 896 of the 1008 an area has for records. */
	for (k = 0; k < 7; k++)
		assert_int_equal(put_v(&s, &m, k, 1, 120), 0);

	memcpy(image, r->flash, r->bytes);
	before = s;
	assert_int_equal(put_v(&s, &m, 7, 1, 120), -STORE_E_NOSPACE);
	assert_int_equal(put_v(&s, &m, 0, 2, 240), -STORE_E_NOSPACE); /* growing one */
	assert_memory_equal(image, r->flash, r->bytes);
	assert_same_index(&s, &before);
	assert_true(model_ok(&s, &m));

	/* Same-size overwrites still fit once dead records are dropped. */
	assert_int_equal(put_v(&s, &m, 3, 2, 120), 0);
	assert_int_equal(put_v(&s, &m, 3, 3, 120), 0);
	assert_int_equal(del_v(&s, &m, 0), 0);
	assert_int_equal(put_v(&s, &m, 7, 1, 120), 0);
	assert_int_equal(mount(r, &s), 0);
	assert_true(model_ok(&s, &m));
	assert_clean_flash_use(r);
	free(image);
	rig_free(r);
}

static void test_corrupt_header_ignored(void **state)
{
	struct rig *r = rig_new(SWEEP_PAGE, SWEEP_PAGES);
	uint8_t *area0 = r->flash + SWEEP_FIRST * SWEEP_PAGE;
	uint8_t *area1 = area0 + SWEEP_AREA_BYTES;
	struct store s;
	struct model m = { 0 }, at_gen1;
	uint8_t i;

	(void)state;
	assert_int_equal(mount(r, &s), 0);
	assert_int_equal(put_v(&s, &m, 1, 1, 50), 0);

	/* A header in area 1 claiming generation 99 with a bad CRC is not an area. */
	memcpy(area1, "PKS1\0\0\0\x63\0\0\0\0", 12);
	assert_int_equal(mount(r, &s), 0);
	assert_int_equal(s.active, 0);
	assert_int_equal(s.gen, 1);
	assert_true(model_ok(&s, &m));

	/* Fill until the store compacts into area 1, generation 2. */
	at_gen1 = m;
	for (i = 0; s.gen == 1; i++) {
		at_gen1 = m;
		assert_int_equal(put_v(&s, &m, 2, i, 100), 0);
	}
	assert_int_equal(s.active, 1);
	/* Its header damaged, area 1 is ignored: area 0 still holds generation 1. */
	area1[7] ^= 0x02;
	assert_int_equal(mount(r, &s), 0);
	assert_int_equal(s.active, 0);
	assert_int_equal(s.gen, 1);
	assert_true(model_ok(&s, &at_gen1));

	/* No valid header at all: a new empty store. */
	area0[0] = 0x00;
	assert_int_equal(mount(r, &s), 0);
	assert_int_equal(s.gen, 1);
	memset(&m, 0, sizeof(m));
	assert_true(model_ok(&s, &m));
	rig_free(r);
}

static void test_dirty_free_space_compacts(void **state)
{
	struct rig *r = rig_new(SWEEP_PAGE, SWEEP_PAGES);
	uint8_t *area0 = r->flash + SWEEP_FIRST * SWEEP_PAGE;
	struct store s;
	struct model m = { 0 };

	(void)state;
	assert_int_equal(mount(r, &s), 0);
	assert_int_equal(put_v(&s, &m, 1, 1, 50), 0);
	assert_int_equal(put_v(&s, &m, 2, 1, 60), 0);
	/* Programmed bytes behind an erased-looking record header: a torn write. */
	area0[800] = 0x7F;
	assert_int_equal(mount(r, &s), 0);
	assert_int_equal(s.gen, 2);
	assert_int_equal(s.active, 1);
	assert_true(model_ok(&s, &m));
	rig_log_reset(r);
	assert_int_equal(mount(r, &s), 0);
	assert_int_equal(r->ops, 0);
	assert_int_equal(s.gen, 2);
	rig_free(r);
}

static void test_get_detects_corruption(void **state)
{
	struct rig *r = rig_new(SWEEP_PAGE, SWEEP_PAGES);
	struct store s;
	struct model m = { 0 };
	uint8_t buf[64];
	size_t len;
	uint8_t *area0 = r->flash + SWEEP_FIRST * SWEEP_PAGE;

	(void)state;
	assert_int_equal(mount(r, &s), 0);
	assert_int_equal(put_v(&s, &m, 1, 1, 50), 0); /* at 16, 60 bytes */
	assert_int_equal(put_v(&s, &m, 2, 1, 50), 0); /* at 76 */
	area0[STORE_AREA_HDR + 10] &= 0xFE;           /* a payload bit */
	area0[76 + STORE_REC_HDR + 50] |= 0x01;       /* a pad bit, outside the CRC */
	assert_int_equal(store_get(&s, 1, buf, sizeof(buf), &len), -STORE_E_FLASH);
	assert_int_equal(store_get(&s, 2, buf, sizeof(buf), &len), -STORE_E_FLASH);
	assert_true(store_has(&s, 1));
	rig_free(r);
}

/* ---- power cuts at every byte of every flash operation */

enum sweep_op { SWEEP_PUT, SWEEP_DEL, SWEEP_MOUNT };

struct sweep {
	void (*prepare)(struct rig *r, struct store *s, struct model *m,
			const struct sweep *sw);
	enum sweep_op op;
	uint8_t key;
	uint8_t version;
	uint16_t len;
	size_t torn_byte; /* for prep_torn */
};

struct sweep_tally {
	unsigned cuts;
	unsigned old_after; /* remounts that found the old value */
	unsigned new_after; /* ... the new one */
};

/* Six keys, an overwrite and a tombstone: a quarter of the area. */
static void prep_some(struct rig *r, struct store *s, struct model *m,
		      const struct sweep *sw)
{
	uint8_t k;

	(void)sw;
	assert_int_equal(mount(r, s), 0);
	for (k = 1; k <= 6; k++)
		assert_int_equal(put_v(s, m, k, 1, (uint16_t)(k * 10)), 0);
	assert_int_equal(put_v(s, m, 3, 2, 24), 0);
	assert_int_equal(del_v(s, m, 5), 0);
}

/* Overwrites of keys 1..8 until a 100-byte put no longer fits the area. */
static void prep_full(struct rig *r, struct store *s, struct model *m,
		      const struct sweep *sw)
{
	uint8_t i;

	(void)sw;
	assert_int_equal(mount(r, s), 0);
	for (i = 0; s->area_bytes - s->write_off >= 108; i++)
		assert_int_equal(put_v(s, m, (uint8_t)(1 + i % 8), i,
				       (uint16_t)(20 + i * 17 % 50)), 0);
	assert_int_equal(s->gen, 1);
}

/* Filled to the last byte: not even a tombstone fits. */
static void prep_brim(struct rig *r, struct store *s, struct model *m,
		      const struct sweep *sw)
{
	uint32_t left;
	uint8_t i;

	(void)sw;
	assert_int_equal(mount(r, s), 0);
	for (i = 0; (left = s->area_bytes - s->write_off) > 0; i++)
		assert_int_equal(put_v(s, m, (uint8_t)(1 + i % 5), i,
				       (uint16_t)(left > 80 ? 60 : left - 8)), 0);
	assert_int_equal(s->gen, 1);
}

/*
 * prep_some, then a put cut at byte sw->torn_byte. A cut late enough may leave a whole
 * record: the model then takes the new value, as a mount would.
 */
static void prep_torn(struct rig *r, struct store *s, struct model *m,
		      const struct sweep *sw)
{
	uint8_t *image = malloc(r->bytes);
	struct model tried;
	struct store peek;

	assert_non_null(image);
	prep_some(r, s, m, sw);
	sim_hw_arm_cut(&r->hw, 1, sw->torn_byte);
	assert_int_equal(put_v(s, m, 4, 9, 80), -STORE_E_FLASH);
	sim_hw_power_on(&r->hw);

	memcpy(image, r->flash, r->bytes);
	tried = *m;
	tried.present[4] = true;
	tried.version[4] = 9;
	tried.len[4] = 80;
	assert_int_equal(mount(r, &peek), 0);
	if (model_ok(&peek, &tried))
		*m = tried;
	rig_load(r, image);
	free(image);
}

static void prep_blank(struct rig *r, struct store *s, struct model *m,
		       const struct sweep *sw)
{
	(void)r;
	(void)m;
	(void)sw;
	memset(s, 0, sizeof(*s));
}

static int sweep_do(struct rig *r, struct store *s, const struct sweep *sw)
{
	uint8_t buf[STORE_PAYLOAD_MAX];

	switch (sw->op) {
	case SWEEP_PUT:
		payload(buf, sw->key, sw->version, sw->len);
		return store_put(s, sw->key, buf, sw->len);
	case SWEEP_DEL:
		return store_del(s, sw->key);
	case SWEEP_MOUNT:
		return mount(r, s);
	}
	return -1;
}

static void sweep_apply(struct model *m, const struct sweep *sw)
{
	if (sw->op == SWEEP_PUT) {
		m->present[sw->key] = true;
		m->version[sw->key] = sw->version;
		m->len[sw->key] = sw->len;
	} else if (sw->op == SWEEP_DEL) {
		m->present[sw->key] = false;
	}
}

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			print_message("cut at op %u byte %zu: %s\n", n, b, #cond);    \
			fail();                                                       \
		}                                                                     \
	} while (0)

/*
 * One cut: power fails at byte b of flash operation n of the sweep's operation. Then
 * (1) power comes back without a reboot: the same struct still describes the old
 * records and keeps working; (2) from the same torn flash, a reboot: each key is the
 * old or the new value, never anything else, and the store keeps working.
 */
static void sweep_cut(struct rig *r, const struct sweep *sw, const uint8_t *image,
		      uint8_t *torn, const struct model *old, const struct model *new,
		      unsigned n, size_t b, struct sweep_tally *t)
{
	struct store s, s2;
	struct model cur;

	rig_load(r, image);
	if (sw->op != SWEEP_MOUNT)
		CHECK(mount(r, &s) == 0);
	sim_hw_arm_cut(&r->hw, n, b);
	CHECK(sweep_do(r, &s, sw) == -STORE_E_FLASH);
	CHECK(!r->hw.powered);
	sim_hw_power_on(&r->hw);
	memcpy(torn, r->flash, r->bytes);
	t->cuts++;

	cur = *old;
	if (sw->op == SWEEP_MOUNT) {
		CHECK(put_v(&s, &cur, FOLLOW_KEY, 1, 40) == -STORE_E_FLASH);
	} else {
		CHECK(model_ok(&s, &cur));
		CHECK(put_v(&s, &cur, FOLLOW_KEY, 1, 40) == 0);
		CHECK(model_ok(&s, &cur));
		CHECK(mount(r, &s2) == 0);
		CHECK(model_ok(&s2, &cur));
	}

	rig_load(r, torn);
	CHECK(mount(r, &s2) == 0);
	cur = *old;
	if (model_ok(&s2, &cur)) {
		t->old_after++;
	} else {
		cur = *new;
		CHECK(model_ok(&s2, &cur));
		t->new_after++;
	}
	CHECK(put_v(&s2, &cur, FOLLOW_KEY, 2, 40) == 0);
	CHECK(mount(r, &s) == 0);
	CHECK(model_ok(&s, &cur));
}

/*
 * Cuts the sweep's operation at every byte of every flash operation it makes, after
 * checking it uncut: `compacts` 1 (it must), 0 (it must not), -1 (either; a mount that
 * writes nothing has nothing to cut).
 */
static unsigned sweep_run(const struct sweep *sw, int compacts)
{
	struct rig *r = rig_new(SWEEP_PAGE, SWEEP_PAGES);
	uint8_t *image = malloc(r->bytes), *torn = malloc(r->bytes);
	size_t lens[RIG_OPS_MAX], last = r->bytes - SWEEP_PAGE, i, b;
	struct model old = { 0 }, new;
	struct sweep_tally t = { 0 };
	struct store s;
	unsigned n, nops;
	uint32_t gen;

	assert_non_null(image);
	assert_non_null(torn);
	memset(r->flash, GUARD, SWEEP_PAGE);
	memset(r->flash + last, GUARD, SWEEP_PAGE);
	sw->prepare(r, &s, &old, sw);
	gen = s.gen;
	memcpy(image, r->flash, r->bytes);
	new = old;
	sweep_apply(&new, sw);

	/* Uncut, to learn the flash operations and their sizes. */
	rig_load(r, image);
	if (sw->op != SWEEP_MOUNT)
		assert_int_equal(mount(r, &s), 0);
	rig_log_reset(r);
	assert_int_equal(sweep_do(r, &s, sw), 0);
	assert_true(model_ok(&s, &new));
	if (compacts >= 0)
		assert_int_equal(s.gen, compacts ? gen + 1 : gen);
	nops = r->ops;
	assert_true(nops < RIG_OPS_MAX);
	assert_true(nops > 0 || compacts < 0);
	memcpy(lens, r->op_len, sizeof(lens));

	for (n = 1; n <= nops; n++)
		for (b = 0; b <= lens[n - 1]; b++)
			sweep_cut(r, sw, image, torn, &old, &new, n, b, &t);

	if (compacts >= 0)
		print_message("%u flash operations, %u cuts: %u old, %u new after reboot\n",
			      nops, t.cuts, t.old_after, t.new_after);
	assert_true(t.old_after > 0 || nops == 0);
	if (sw->op != SWEEP_MOUNT)
		assert_true(t.new_after > 0); /* a cut after the last byte is a success */
	for (i = 0; i < SWEEP_PAGE; i++) {
		assert_int_equal(r->flash[i], GUARD);
		assert_int_equal(r->flash[last + i], GUARD);
	}
	assert_clean_flash_use(r);
	free(torn);
	free(image);
	rig_free(r);
	return nops;
}

static void test_cut_put_append(void **state)
{
	const struct sweep sw = { prep_some, SWEEP_PUT, 3, 50, 44, 0 };

	(void)state;
	sweep_run(&sw, 0);
}

static void test_cut_put_new_key(void **state)
{
	const struct sweep sw = { prep_some, SWEEP_PUT, 9, 50, 130, 0 };

	(void)state;
	sweep_run(&sw, 0);
}

static void test_cut_put_compacting(void **state)
{
	const struct sweep sw = { prep_full, SWEEP_PUT, 2, 60, 100, 0 };

	(void)state;
	sweep_run(&sw, 1);
}

static void test_cut_put_compacting_new_key(void **state)
{
	const struct sweep sw = { prep_full, SWEEP_PUT, 9, 60, 100, 0 };

	(void)state;
	sweep_run(&sw, 1);
}

static void test_cut_del(void **state)
{
	const struct sweep sw = { prep_some, SWEEP_DEL, 2, 0, 0, 0 };

	(void)state;
	sweep_run(&sw, 0);
}

static void test_cut_del_compacting(void **state)
{
	const struct sweep sw = { prep_brim, SWEEP_DEL, 2, 0, 0, 0 };

	(void)state;
	sweep_run(&sw, 1);
}

static void test_cut_mount_torn_payload(void **state)
{
	const struct sweep sw = { prep_torn, SWEEP_MOUNT, 0, 0, 0, 30 };

	(void)state;
	sweep_run(&sw, 1);
}

static void test_cut_mount_torn_header(void **state)
{
	/* The flags byte half programmed. */
	const struct sweep sw = { prep_torn, SWEEP_MOUNT, 0, 0, 0, 1 };

	(void)state;
	sweep_run(&sw, 1);
}

/* Every way the put before the reboot can be torn, each recovered under every cut. */
static void test_cut_mount_every_torn_byte(void **state)
{
	struct sweep sw = { prep_torn, SWEEP_MOUNT, 0, 0, 0, 0 };
	unsigned recovered = 0;

	(void)state;
	for (sw.torn_byte = 0; sw.torn_byte <= 88; sw.torn_byte++)
		recovered += sweep_run(&sw, -1) > 0;
	/* Only a cut after the whole record, or inside a header left all 0xFF, is clean. */
	assert_true(recovered >= 85);
}

static void test_cut_format(void **state)
{
	const struct sweep sw = { prep_blank, SWEEP_MOUNT, 0, 0, 0, 0 };

	(void)state;
	sweep_run(&sw, 1);
}

/*
 * A use counter stored under power cuts at ever-changing points, with a second record
 * forcing regular compactions: after each reboot it reads no lower than the last value
 * whose put returned 0, and no higher than the last one tried.
 */
static void test_counter_never_goes_back(void **state)
{
	struct rig *r = rig_new(SWEEP_PAGE, SWEEP_PAGES);
	struct store s;
	struct model filler = { 0 };
	uint32_t cur = 0, last_ok = 0, tried, got, first_gen;
	uint8_t buf[4];
	size_t len;
	unsigned i, cuts = 0;

	(void)state;
	assert_int_equal(mount(r, &s), 0);
	assert_int_equal(store_put(&s, 10, (const uint8_t *)"\0\0\0\0", 4), 0);
	first_gen = s.gen;
	for (i = 0; i < 4000; i++) {
		tried = cur + 1;
		buf[0] = (uint8_t)(tried >> 24);
		buf[1] = (uint8_t)(tried >> 16);
		buf[2] = (uint8_t)(tried >> 8);
		buf[3] = (uint8_t)tried;
		sim_hw_arm_cut(&r->hw, 1 + i % 9, i * 7 % 140);
		if (store_put(&s, 10, buf, 4) == 0)
			last_ok = tried;
		(void)put_v(&s, &filler, 11, (uint8_t)i, 120);
		cuts += !r->hw.powered;
		sim_hw_power_on(&r->hw);

		assert_int_equal(mount(r, &s), 0);
		assert_int_equal(store_get(&s, 10, buf, sizeof(buf), &len), 0);
		assert_int_equal(len, 4);
		got = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
		      (uint32_t)buf[2] << 8 | buf[3];
		assert_true(got >= last_ok);
		assert_true(got <= tried);
		cur = got;
	}
	print_message("counter at %u after %u cuts and %u compactions\n", (unsigned)cur,
		      cuts, (unsigned)(s.gen - first_gen));
	assert_true(cuts > 500);
	assert_true(s.gen - first_gen > 500);
	assert_clean_flash_use(r);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_flash_model),
		cmocka_unit_test(test_crc32_known_answer),
		cmocka_unit_test(test_geometry_refused),
		cmocka_unit_test(test_fresh_mount_formats_once),
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_newest_wins),
		cmocka_unit_test(test_tombstones),
		cmocka_unit_test(test_survives_remount),
		cmocka_unit_test(test_compaction_keeps_live_records),
		cmocka_unit_test(test_size_errors),
		cmocka_unit_test(test_nospace_changes_nothing),
		cmocka_unit_test(test_corrupt_header_ignored),
		cmocka_unit_test(test_dirty_free_space_compacts),
		cmocka_unit_test(test_get_detects_corruption),
		cmocka_unit_test(test_cut_put_append),
		cmocka_unit_test(test_cut_put_new_key),
		cmocka_unit_test(test_cut_put_compacting),
		cmocka_unit_test(test_cut_put_compacting_new_key),
		cmocka_unit_test(test_cut_del),
		cmocka_unit_test(test_cut_del_compacting),
		cmocka_unit_test(test_cut_mount_torn_payload),
		cmocka_unit_test(test_cut_mount_torn_header),
		cmocka_unit_test(test_cut_mount_every_torn_byte),
		cmocka_unit_test(test_cut_format),
		cmocka_unit_test(test_counter_never_goes_back),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
