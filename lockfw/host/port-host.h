/*
 * port-host.h: the host port of one simulated lock: the port table over sim-hw, a flash
 * file mapped into memory, the device key in a 0600 file, the real monotonic clock and
 * a radio that writes to the sim transport's client sockets.
 *
 * It does not own the sockets (the simulator accepts and closes them) nor the lock core.
 */
#ifndef PARK_PORT_HOST_H
#define PARK_PORT_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/lock.h"
#include "../port/port.h"
#include "port-crypto.h"
#include "sim-hw.h"

#define PORT_HOST_PAGE_SIZE 4096
#define PORT_HOST_PAGES 24
#define PORT_HOST_FLASH_BYTES ((size_t)PORT_HOST_PAGE_SIZE * PORT_HOST_PAGES)
#define PORT_HOST_MTU_DEFAULT 185 /* a typical phone's ATT MTU */

struct port_host_opts {
	uint16_t mtu;       /* ATT MTU of the simulated radio, PROTO_MTU_MIN..PROTO_MTU_MAX */
	uint32_t travel_ms; /* barrier travel end stop to end stop, > 0 */
};

struct port_host {
	struct port port;    /* give &ph->port to lock_boot() */
	struct sim_hw hw;    /* flash, motor, sensors; world actions change it */
	uint32_t spot_id;    /* for logs */
	uint8_t *flash;      /* PORT_HOST_FLASH_BYTES, MAP_SHARED on the flash file */
	struct port_device_key devkey;
	/*
	 * The client socket of each radio link, -1 when no client is on it. The simulator
	 * sets and clears these; radio_send writes there and sets link_broken on a failed
	 * write so that the simulator drops that client.
	 */
	int link_fd[LOCK_CONNS];
	bool link_broken[LOCK_CONNS];
};

/* The defaults: MTU 185, SIM_HW_TRAVEL_MS. */
void port_host_opts_default(struct port_host_opts *o);

/*
 * Opens the hardware of lock `spot_id` in directory `dir`: maps DIR/<spot>.flash
 * (created erased, mode 0600, when missing) and sets up DIR/<spot>.key as its device key
 * file (made by lock_boot() on first boot). The barrier starts up, no car, battery full.
 * Returns 0, or -1 with a reason in err[0..errcap) and nothing left open.
 */
int port_host_open(struct port_host *ph, const char *dir, uint32_t spot_id,
		   const struct port_host_opts *o, char *err, size_t errcap);

/* Writes the flash to disk (msync), unmaps it and frees the key. Safe to call twice. */
void port_host_close(struct port_host *ph);

/* Milliseconds on the clock the port gives the lock (CLOCK_MONOTONIC). */
uint64_t port_host_now_ms(void);

/* Brings the simulated barrier up to the current time. Call before reading it. */
void port_host_advance(struct port_host *ph);

#endif
