/*
 * ctlserver.h: parkphoned's control socket: a UNIX stream socket, mode 0600 in a 0700
 * directory, one thread per connection reading request lines and writing reply lines
 * (cmd.c does the work). A line that is not JSON gets an error reply and the
 * connection goes on; the daemon never stops for what a client sends.
 */
#ifndef PARK_PHONE_CTLSERVER_H
#define PARK_PHONE_CTLSERVER_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include "phoned.h"

#define CTLSERVER_CONNS_MAX 64

struct ctlserver {
	struct phoned *d;
	int listen_fd;
	int wake[2];                   /* a byte in wake[1] ends ctlserver_run() */
	pthread_mutex_t lock;
	pthread_cond_t idle;           /* signalled when the last connection ends */
	int conns[CTLSERVER_CONNS_MAX];
	unsigned nconns;
};

/*
 * Binds the socket at d->cfg.paths.socket (its directory made 0700; a stale socket of a
 * daemon that died is replaced; a live one is an error). 0, or -1 with err.
 */
int ctlserver_open(struct ctlserver *s, struct phoned *d, char *err, size_t errlen);

/*
 * Accepts connections until one of the (blocked) signals in *sigs arrives, whose number
 * goes to *sig, or ctlserver_wake() is called (*sig 0). 0, or -1 when waiting failed.
 */
int ctlserver_run_until_signal(struct ctlserver *s, const sigset_t *sigs, int *sig);

/* Makes ctlserver_run() return; safe from a signal handler. */
void ctlserver_wake(struct ctlserver *s);

/* Ends every connection, waits for their threads, removes the socket. */
void ctlserver_close(struct ctlserver *s);

#endif
