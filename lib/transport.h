/*
 * transport.h: how a host program reaches a lock's GATT service, one fragment at a time.
 * Every write to the request characteristic and every notification of the reply
 * characteristic carries exactly one fragment (lockfw/proto/PROTOCOL.md, section 2).
 * Two implementations: the sim transport of parklockd (transport-sim.c: a UNIX socket)
 * and BlueZ over D-Bus (transport-bluez.c). Above this, lockconn.h cuts frames into
 * fragments, matches replies to requests and says HELLO; nothing above knows which
 * transport carries the bytes. One transport object serves one link at a time and one
 * thread.
 */
#ifndef PARK_TRANSPORT_H
#define PARK_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* Errors, returned negated. */
enum transport_error {
	TRANSPORT_E_IO = 1,       /* a system or bus call failed */
	TRANSPORT_E_CLOSED = 2,   /* the lock closed the link, or it is not connected */
	TRANSPORT_E_PROTO = 3,    /* the peer broke the transport's own framing */
	TRANSPORT_E_SPACE = 4,    /* a fragment too long to send, or for the caller's buffer */
	TRANSPORT_E_TIMEOUT = 5,  /* no connection within the time allowed */
	TRANSPORT_E_NOTFOUND = 6, /* no such lock: no socket, no device, no GATT service */
};

/* transport_wait()'s answers. */
enum {
	TRANSPORT_WAIT_TIMEOUT = 0, /* nothing happened in time */
	TRANSPORT_WAIT_READY = 1,   /* a fragment (or the link's end) is there to receive */
	TRANSPORT_WAIT_WOKEN = 2,   /* wake_fd is readable (it is not drained) */
};

struct transport;

struct transport_ops {
	const char *name; /* "sim", "bluez" */
	/*
	 * Connects to the lock at `address` (a socket path; a BLE address "AA:BB:CC:DD:EE:FF";
	 * or, for BlueZ, "" to find it by the protocol's service UUID with `spot` as the spot
	 * ID in its advertised service data) within timeout_ms. 0 or a negative error.
	 */
	int (*connect)(struct transport *t, const char *address, uint32_t spot, int timeout_ms);
	/* Writes one fragment (1 .. mtu - 3 bytes). 0 or a negative error. */
	int (*send)(struct transport *t, const uint8_t *frag, size_t len);
	/*
	 * Waits up to timeout_ms (-1: no limit) for the next fragment and copies it to
	 * buf[0..cap). Returns its length (> 0), 0 on time-out, or a negative error.
	 */
	int (*recv)(struct transport *t, uint8_t *buf, size_t cap, int timeout_ms);
	/* Waits up to timeout_ms for a fragment, or for wake_fd (-1: none): TRANSPORT_WAIT_*. */
	int (*wait)(struct transport *t, int wake_fd, int timeout_ms);
	/* The ATT MTU the link itself allows (23..247): the most to offer in HELLO. */
	uint16_t (*link_mtu)(struct transport *t);
	/* Drops the link, if any; the lock sees the disconnect. Safe when not connected. */
	void (*disconnect)(struct transport *t);
	/* Disconnects and frees t. */
	void (*destroy)(struct transport *t);
};

/* Each implementation's object starts with this. */
struct transport {
	const struct transport_ops *ops;
};

/* Settings of a transport, read from a program's command line or config. */
struct transport_config {
	const char *kind;      /* "sim" (the default when NULL) or "bluez" */
	const char *bus;       /* bluez: a D-Bus address; NULL: the system bus */
	const char *adapter;   /* bluez: the adapter's name; NULL: "hci0" */
};

/*
 * A new transport of cfg->kind. Returns NULL (errno EINVAL for an unknown kind, or what
 * failed) when it cannot be made; for BlueZ that includes no bus or no adapter.
 */
struct transport *transport_new(const struct transport_config *cfg);

/* Frees t (NULL is fine). */
void transport_free(struct transport *t);

/* A sentence for a negative transport error. */
const char *transport_strerror(int err);

/* The sim transport of parklockd (transport-sim.c). */
struct transport *transport_sim_new(void);

/* The socket of a connected sim transport (-1 when not), for tests that send raw bytes. */
int transport_sim_fd(struct transport *t);

/* BlueZ over D-Bus (transport-bluez.c); NULL when the bus or adapter is missing. */
struct transport *transport_bluez_new(const char *bus, const char *adapter);

#endif
