/*
 * test-port.h: a port for the lock core in tests: the simulated hardware of sim-hw.h on
 * a RAM flash, a clock the test steps by hand, an in-memory device key, and a radio that
 * reassembles what the lock sends into frames the test can pop. Lives under tests/ only.
 */
#ifndef PARK_TEST_PORT_H
#define PARK_TEST_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../lockfw/host/port-crypto.h"
#include "../../lockfw/host/sim-hw.h"
#include "../../lockfw/port/port.h"
#include "../../lockfw/proto/frag.h"

#define TEST_PORT_FRAMES 32 /* frames kept per link; older ones are dropped */

struct test_port_link {
	struct frag_rx rx;
	uint8_t frames[TEST_PORT_FRAMES][PROTO_FRAME_MAX];
	size_t lens[TEST_PORT_FRAMES];
	unsigned head;  /* next frame to pop */
	unsigned count; /* frames waiting */
	unsigned fragments;    /* notifications sent on this link */
	size_t largest_fragment;
	bool bad_fragment;     /* the lock sent something the reassembler refused */
};

struct test_port {
	struct port port; /* give &tp->port to lock_boot() */
	struct sim_hw hw;
	uint8_t *flash;   /* page_size * pages bytes */
	uint64_t now_ms;  /* the clock; starts at 1000 */
	struct port_device_key devkey; /* in memory; survives test_port_reboot-style reuse */
	struct test_port_link link[2];
	bool random_fail; /* make the random source fail */
};

/* A port with fresh erased flash of `pages` pages of `page_size` bytes. Never fails (asserts). */
void test_port_init(struct test_port *tp, uint32_t page_size, uint32_t pages);
/* The default geometry the core needs: 4096-byte pages, enough of them. */
void test_port_init_default(struct test_port *tp);
void test_port_free(struct test_port *tp);

/* Steps the clock by `ms` and moves the simulated barrier accordingly. */
void test_port_advance(struct test_port *tp, uint64_t ms);

/*
 * Pops the oldest complete frame the lock sent on `conn` into buf[0..cap). Returns its
 * length, or 0 when none is waiting.
 */
size_t test_port_pop(struct test_port *tp, uint8_t conn, uint8_t *buf, size_t cap);
/* Drops every waiting frame on both links. */
void test_port_drain(struct test_port *tp);

#endif
