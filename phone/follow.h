/*
 * follow.h: the thread of parkphoned that follows the server's event stream (GET
 * /v1/events) while a session is held, hands each event to the control-socket
 * subscribers (phoned_publish) and to the notification command when one is set
 * (claims 8-9: an owner learns of every unlock, lock, arrival and departure), and
 * reconnects with backoff when the server goes away, resuming after the last event it
 * had (?after=), so that the events of the gap are not missed.
 */
#ifndef PARK_PHONE_FOLLOW_H
#define PARK_PHONE_FOLLOW_H

#include "phoned.h"

/* Starts the thread. 0 or -1. */
int follow_start(struct phoned *d);

/* Stops it (a stream in progress is cut short) and waits for it. */
void follow_stop(struct phoned *d);

/*
 * Runs `cmd KIND JSON` for one event without a shell, not waiting for it; children that
 * ended are reaped on the next call. 0, or -1 when it could not be started.
 */
int follow_notify(const char *cmd, const char *kind, const char *json);

#endif
