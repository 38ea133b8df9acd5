/*
 * test-port.c: the port table of test-port.h: sim_hw for flash, motor and sensors, the
 * hand-stepped clock, port-crypto for hashing, signatures, randomness and the in-memory
 * device key, and a radio that reassembles every notification into frames for the test
 * to pop. Checks nothing itself: it records what the lock did and the test judges.
 */
#include "test-port.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define TEST_PORT_START_MS 1000

static struct test_port *tp_of(void *ctx)
{
	return ctx;
}

static void link_queue(struct test_port_link *l)
{
	unsigned slot;

	if (l->count == TEST_PORT_FRAMES) {
		/* Full: the oldest frame goes, as the header promises. */
		l->head = (l->head + 1) % TEST_PORT_FRAMES;
		l->count--;
	}
	slot = (l->head + l->count) % TEST_PORT_FRAMES;
	memcpy(l->frames[slot], l->rx.buf, l->rx.total);
	l->lens[slot] = l->rx.total;
	l->count++;
}

static int tp_radio_send(void *ctx, uint8_t conn, const uint8_t *frag, size_t len)
{
	struct test_port *tp = tp_of(ctx);
	struct test_port_link *l;
	int r;

	if (conn >= 2)
		return -1;
	l = &tp->link[conn];
	l->fragments++;
	if (len > l->largest_fragment)
		l->largest_fragment = len;
	r = frag_rx_feed(&l->rx, frag, len);
	if (r < 0)
		l->bad_fragment = true;
	else if (r == 1)
		link_queue(l);
	/* The radio took it; whether it made sense is for the test to judge. */
	return 0;
}

static void tp_motor_drive(void *ctx, enum port_motor dir)
{
	sim_hw_motor_drive(&tp_of(ctx)->hw, dir);
}

static enum port_endstop tp_endstop_read(void *ctx)
{
	struct test_port *tp = tp_of(ctx);

	/* A test may set now_ms by hand: bring the barrier up to date first. */
	sim_hw_advance(&tp->hw, tp->now_ms);
	return sim_hw_endstop(&tp->hw);
}

static bool tp_proximity_read(void *ctx)
{
	return tp_of(ctx)->hw.car;
}

static uint8_t tp_battery_percent(void *ctx)
{
	return tp_of(ctx)->hw.battery;
}

static int tp_flash_read(void *ctx, uint32_t addr, uint8_t *buf, size_t len)
{
	return sim_hw_flash_read(&tp_of(ctx)->hw, addr, buf, len);
}

static int tp_flash_write(void *ctx, uint32_t addr, const uint8_t *buf, size_t len)
{
	return sim_hw_flash_write(&tp_of(ctx)->hw, addr, buf, len);
}

static int tp_flash_erase(void *ctx, uint32_t page)
{
	return sim_hw_flash_erase(&tp_of(ctx)->hw, page);
}

static uint64_t tp_clock_ms(void *ctx)
{
	return tp_of(ctx)->now_ms;
}

static int tp_random(void *ctx, uint8_t *buf, size_t len)
{
	if (tp_of(ctx)->random_fail)
		return -1;
	return port_crypto_random(ctx, buf, len);
}

static int tp_device_key_init(void *ctx)
{
	return port_device_key_init(&tp_of(ctx)->devkey);
}

static int tp_device_pubkey(void *ctx, uint8_t pub[64])
{
	return port_device_key_pubkey(&tp_of(ctx)->devkey, pub);
}

static int tp_device_sign(void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
	return port_device_key_sign(&tp_of(ctx)->devkey, digest, sig);
}

void test_port_init(struct test_port *tp, uint32_t page_size, uint32_t pages)
{
	size_t bytes = (size_t)page_size * pages;
	unsigned i;

	assert(bytes > 0);
	memset(tp, 0, sizeof(*tp));
	tp->flash = malloc(bytes);
	assert(tp->flash != NULL);
	memset(tp->flash, 0xFF, bytes);
	sim_hw_init(&tp->hw, tp->flash, page_size, pages);
	tp->now_ms = TEST_PORT_START_MS;
	sim_hw_advance(&tp->hw, tp->now_ms);
	port_device_key_setup(&tp->devkey, NULL);
	for (i = 0; i < 2; i++)
		frag_rx_reset(&tp->link[i].rx);

	tp->port = (struct port){
		.ctx = tp,
		.radio_send = tp_radio_send,
		.motor_drive = tp_motor_drive,
		.endstop_read = tp_endstop_read,
		.proximity_read = tp_proximity_read,
		.battery_percent = tp_battery_percent,
		.flash_page_size = page_size,
		.flash_pages = pages,
		.flash_read = tp_flash_read,
		.flash_write = tp_flash_write,
		.flash_erase = tp_flash_erase,
		.clock_ms = tp_clock_ms,
		.random = tp_random,
		.sha256 = port_crypto_sha256,
		.hmac_sha256 = port_crypto_hmac_sha256,
		.ecdsa_verify = port_crypto_ecdsa_verify,
		.device_key_init = tp_device_key_init,
		.device_pubkey = tp_device_pubkey,
		.device_sign = tp_device_sign,
	};
}

void test_port_init_default(struct test_port *tp)
{
	test_port_init(tp, 4096, 24);
}

void test_port_free(struct test_port *tp)
{
	port_device_key_free(&tp->devkey);
	free(tp->flash);
	tp->flash = NULL;
	tp->hw.flash = NULL;
}

void test_port_advance(struct test_port *tp, uint64_t ms)
{
	tp->now_ms += ms;
	sim_hw_advance(&tp->hw, tp->now_ms);
}

size_t test_port_pop(struct test_port *tp, uint8_t conn, uint8_t *buf, size_t cap)
{
	struct test_port_link *l;
	size_t len;

	if (conn >= 2 || tp->link[conn].count == 0)
		return 0;
	l = &tp->link[conn];
	len = l->lens[l->head];
	/* A test buffer too small for a frame is a bug in the test: say so loudly. */
	assert(len <= cap);
	memcpy(buf, l->frames[l->head], len);
	l->head = (l->head + 1) % TEST_PORT_FRAMES;
	l->count--;
	return len;
}

void test_port_drain(struct test_port *tp)
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		tp->link[i].head = 0;
		tp->link[i].count = 0;
	}
}
