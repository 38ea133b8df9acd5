/*
 * gateway.h: the running gateway parkgw: the long-poll thread that takes the server's
 * management messages into the downlink queue, one worker thread per covered lock that
 * delivers them and reads the lock's events into the uplink queue, and the uplink thread
 * that posts acks and events to the server. The command line and signals are main.c's.
 */
#ifndef PARK_GATEWAY_H
#define PARK_GATEWAY_H

#include <stdint.h>

#define GATEWAY_PATH_MAX 1024
#define GATEWAY_QUEUE_FILE "queue.db" /* in the data directory */

struct gateway_config {
	char server[GATEWAY_PATH_MAX];   /* base URL of parkd, "https://host:port" */
	char data_dir[GATEWAY_PATH_MAX]; /* key, public key and queue; created 0700 if missing */
	char ca_file[GATEWAY_PATH_MAX];  /* CA bundle that signed the server's certificate; "" */
	int64_t id;                      /* this gateway's ID at the server, > 0 */
	unsigned poll_wait_s;            /* long-poll wait, 1..60 */
	char transport[16];              /* how locks are reached: "sim" ("" too) or "bluez" */
	char bus[GATEWAY_PATH_MAX];      /* bluez: a D-Bus address; "": the system bus */
	char adapter[32];                /* bluez: "": hci0 */
};

struct gateway;

/*
 * Opens the data directory (making it, the key pair and the queue when missing), loads
 * the locks known from the last run and starts every thread. The server need not be up.
 * Returns 0 with *out running, or -1 after logging what failed and what to do.
 */
int gateway_start(const struct gateway_config *cfg, struct gateway **out);

/*
 * Stops every thread (a long poll or a lock request in progress is cut short), closes
 * the queue and frees g. What was queued stays on disk for the next start. NULL is fine.
 */
void gateway_stop(struct gateway *g);

/*
 * Makes the data directory and the key pair when missing and prints the gateway's public
 * key (128 hex digits, for the site description) to stdout. Returns 0, or -1 after
 * logging why.
 */
int gateway_print_key(const struct gateway_config *cfg);

#endif
