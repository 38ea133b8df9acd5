/*
 * world.h: world control of the simulated garage: one-line text commands that change
 * what a lock's hardware senses (a car, the battery, a jam, a forced barrier, a power
 * cut), each answered with one line of JSON. The protocol is in WORLD.md beside this.
 *
 * It owns the command table and the world socket's clients; the simulator owns the locks,
 * creates the listening socket and decides how a lock is rebooted.
 */
#ifndef PARK_WORLD_H
#define PARK_WORLD_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/lock.h"
#include "port-host.h"

#define WORLD_LINE_MAX 256         /* bytes of a command, newline excluded */
#define WORLD_CLIENTS 8            /* world sockets served at once */
#define WORLD_OUT_MAX (1u << 20)   /* unread replies beyond this drop the client */
#define WORLD_POLL_FDS (1 + WORLD_CLIENTS)

/* One lock as the world sees it. The pointers belong to the caller. */
struct world_lock {
	uint32_t spot_id;
	const char *name;
	struct port_host *host;
	struct lock *lock;
};

/*
 * Reboots `wl` as after a power loss (disconnecting its clients, powering the hardware
 * on and booting the core from flash). Called when a lock's hw.powered is false after a
 * command, and for the reboot command.
 */
typedef void (*world_reboot_fn)(void *ctx, struct world_lock *wl);

struct world_client {
	int fd;                        /* -1 when the slot is free */
	char line[WORLD_LINE_MAX + 2]; /* the command being read, room for a CR */
	size_t have;
	bool overlong;                 /* discarding the rest of a line that was too long */
	bool eof;                      /* the client is done sending; close once flushed */
	char *out;                     /* replies not yet written, malloc'd */
	size_t out_len;
	size_t out_off;
};

struct world {
	struct world_lock *locks;
	size_t count;
	world_reboot_fn reboot;
	void *ctx;
	int listen_fd; /* -1 until world_attach() */
	struct world_client client[WORLD_CLIENTS];
};

/* Prepares a world over locks[0..count); nothing is listening yet. */
void world_init(struct world *w, struct world_lock *locks, size_t count,
		world_reboot_fn reboot, void *ctx);

/*
 * Executes one command line[0..len) (no newline; a trailing CR is ignored). Returns the
 * reply: one line of JSON ending in '\n', NUL-terminated, malloc'd for the caller to
 * free; NULL only when out of memory. Bad input gets {"ok":false,...} and changes nothing.
 */
char *world_execute(struct world *w, const char *line, size_t len);

/* Serves clients of `listen_fd` (a listening, non-blocking UNIX stream socket) from now on. */
void world_attach(struct world *w, int listen_fd);

/*
 * Writes the world's descriptors and the events wanted into fds[0..WORLD_POLL_FDS) for
 * poll(); returns how many were written.
 */
size_t world_poll_fds(const struct world *w, struct pollfd *fds);

/* Handles what poll() reported for the descriptors world_poll_fds() gave. */
void world_poll_handle(struct world *w, const struct pollfd *fds, size_t n);

/* Closes every client and the listening socket (the caller unlinks its path). */
void world_close(struct world *w);

#endif
