/*
 * port.h: everything hardware-shaped that the lock core needs, as one table of
 * functions supplied by a port (lockfw/host/ for the simulator; an MCU port would fill
 * the same table from its drivers and a small crypto library).
 *
 * The core calls these and nothing else. All calls are synchronous and must not call
 * back into the core. Return codes: 0 on success, negative on failure (the core turns
 * any failure into PROTO_E_INTERNAL or PROTO_E_FLASH and changes nothing).
 */
#ifndef PARK_PORT_H
#define PARK_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum port_motor {
	PORT_MOTOR_STOP = 0,
	PORT_MOTOR_DOWN = 1, /* lower the barrier: open the spot */
	PORT_MOTOR_UP = 2,   /* raise the barrier: lock the spot */
};

enum port_endstop {
	PORT_ENDSTOP_NONE = 0, /* between the stops */
	PORT_ENDSTOP_UP = 1,
	PORT_ENDSTOP_DOWN = 2,
};

/* A piece of a message to hash: the parts are hashed in order as one string. */
struct port_buf {
	const uint8_t *p;
	size_t len;
};

struct port {
	void *ctx; /* passed back as the first argument of every call */

	/*
	 * Radio: the largest ATT MTU the radio supports (0 means PROTO_MTU_MAX), and a call
	 * that sends one GATT notification of `len` bytes (<= MTU - 3) on link `conn`.
	 */
	uint16_t radio_mtu;
	int (*radio_send)(void *ctx, uint8_t conn, const uint8_t *frag, size_t len);

	/* Barrier motor and its end stops. */
	void (*motor_drive)(void *ctx, enum port_motor dir);
	enum port_endstop (*endstop_read)(void *ctx);

	/* Sensors. */
	bool (*proximity_read)(void *ctx);    /* true when a car is over the spot */
	uint8_t (*battery_percent)(void *ctx); /* 0..100 */

	/*
	 * NOR flash: `flash_pages` pages of `flash_page_size` bytes, erased to 0xFF. A write
	 * may only clear bits (the port rejects 0 -> 1 with an error); a power cut may leave
	 * the bytes of an interrupted write partly programmed. Addresses are byte offsets
	 * from the start of the lock's flash.
	 */
	uint32_t flash_page_size;
	uint32_t flash_pages;
	int (*flash_read)(void *ctx, uint32_t addr, uint8_t *buf, size_t len);
	int (*flash_write)(void *ctx, uint32_t addr, const uint8_t *buf, size_t len);
	int (*flash_erase)(void *ctx, uint32_t page);

	/* Monotonic milliseconds since an arbitrary origin; never goes backwards. */
	uint64_t (*clock_ms)(void *ctx);

	/* Random bytes from a hardware source. */
	int (*random)(void *ctx, uint8_t *buf, size_t len);

	/* SHA-256 of the concatenated parts. */
	int (*sha256)(void *ctx, const struct port_buf *parts, size_t nparts, uint8_t out[32]);
	/* HMAC-SHA-256 of the concatenated parts under `key`. */
	int (*hmac_sha256)(void *ctx, const uint8_t *key, size_t key_len,
			   const struct port_buf *parts, size_t nparts, uint8_t out[32]);
	/* ECDSA P-256 verification of a SHA-256 digest: 0 valid, negative invalid or error. */
	int (*ecdsa_verify)(void *ctx, const uint8_t pub[64], const uint8_t digest[32],
			    const uint8_t sig[64]);

	/*
	 * The lock's device key, kept by the port as a secure element would keep it: the
	 * private half never crosses this interface. device_key_init makes the pair on first
	 * use and loads it afterwards; device_pubkey and device_sign fail until it has run.
	 */
	int (*device_key_init)(void *ctx);
	int (*device_pubkey)(void *ctx, uint8_t pub[64]);
	int (*device_sign)(void *ctx, const uint8_t digest[32], uint8_t sig[64]);

	/* Optional (may be NULL): told of every event the lock logs, e.g. for a debug UART. */
	void (*event_logged)(void *ctx, const uint8_t event[20]);
};

#endif
