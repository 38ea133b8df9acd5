/*
 * simulator.h: the lock simulator's event loop: every lock of a garage booted on its
 * host port, its sim-transport socket, the world socket, timers and power-loss reboots.
 *
 * It does not parse the command line or the garage file (main.c and garage.c do) and
 * knows nothing of world commands beyond handing the world its socket.
 */
#ifndef PARK_SIMULATOR_H
#define PARK_SIMULATOR_H

#include "garage.h"
#include "port-host.h"

/* Opaque: one running garage. */
struct simulator;

/*
 * Starts the garage `g`: creates its directory (mode 0700) and takes its lock file (one
 * parklockd per directory), opens and boots every lock from its flash file, provisions
 * factory-fresh locks when g has a site key, writes DIR/<spot>.pub for each lock and
 * listens on DIR/<spot>.sock and DIR/world.sock (mode 0600). On success *out is the
 * running garage for simulator_run() and simulator_close(). Returns 0, or -1 after
 * logging what failed and what to do, with nothing left open or listening.
 */
int simulator_open(struct simulator **out, const struct garage *g,
		   const struct port_host_opts *opts);

/*
 * Serves clients, the world and the locks' timers until SIGINT or SIGTERM (SIGPIPE is
 * ignored from the first call). Returns 0 on such a stop, -1 when poll() itself fails.
 */
int simulator_run(struct simulator *s);

/* Disconnects everyone, removes the sockets, writes each flash to disk and frees s. */
void simulator_close(struct simulator *s);

#endif
