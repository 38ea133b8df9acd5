/*
 * locklink.h: the gateway's side of one lock over a transport (lib/lockconn.h):
 * connect and check who answers (HELLO/INFO against the device key the server knows),
 * deliver one MGMT frame and wait for its MGMT_ACK, notice EVENT notifications, and
 * read the signed event log in pages, checked against the device key and the hash chain.
 * It stores nothing and retries nothing: gateway.c's lock worker does both. One
 * struct locklink per thread; blocking with time-outs.
 */
#ifndef PARK_LOCKLINK_H
#define PARK_LOCKLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/lockconn.h"

/* Errors, returned negated. */
enum locklink_err {
	LOCKLINK_E_UNREACHABLE = 1, /* no connection, the link broke, or no answer in time */
	LOCKLINK_E_IDENTITY = 2,    /* the lock is not the one the server knows (spot, key) */
	LOCKLINK_E_UNPROVISIONED = 3, /* the lock has no site yet */
	LOCKLINK_E_PROTO = 4,       /* a reply that is malformed, mismatched or badly signed */
	LOCKLINK_E_REFUSED = 5,     /* the lock answered ERROR: *code says why */
	LOCKLINK_E_FRAME = 6,       /* the frame to deliver is not a valid MGMT frame */
	LOCKLINK_E_CHAIN = 7,       /* a log page does not continue the chain the gateway has */
};

#define LOCKLINK_ADDR_MAX 255
#define LOCKLINK_MTU 247             /* the MTU the gateway offers in HELLO */
#define LOCKLINK_REPLY_MS 5000       /* longest wait for a reply, by default */

struct locklink {
	struct lockconn link;
	struct transport *transport; /* the caller's; NULL: a sim transport of the link's own */
	bool connected;
	uint32_t spot;                          /* the lock's spot ID, > 0 */
	uint8_t device_pub[PROTO_PUBKEY_LEN];   /* from the server: whom to believe */
	char address[LOCKLINK_ADDR_MAX + 1];    /* socket path or BLE address */
	struct proto_info info;                 /* from the last HELLO */
	int reply_ms;         /* longest wait for a reply; LOCKLINK_REPLY_MS after init */
	bool events_pending;  /* an EVENT notification came: the log has news */
	/* The log read so far: the newest sequence and, when known, the chain hash after it. */
	uint32_t log_seq;
	bool log_hash_known;
	uint8_t log_hash[PROTO_HASH_LEN];
};

/* A verified page of the lock's event log. */
struct locklink_page {
	uint32_t head_seq;                  /* the newest event the lock has */
	size_t count;                       /* events in ev[] */
	struct proto_event ev[PROTO_LOG_PAGE_MAX];
	uint8_t last_hash[PROTO_HASH_LEN];  /* chain hash after ev[count - 1] */
	bool gap;                           /* the lock no longer has events the gateway missed */
};

/*
 * Prepares k for the lock at `address` (copied) with the server's view of it, over a sim
 * transport; set k->transport afterwards to use another one.
 */
void locklink_init(struct locklink *k, uint32_t spot, const uint8_t device_pub[PROTO_PUBKEY_LEN],
		   const char *address);

/*
 * Connects and says HELLO. Succeeds only when the lock reports the expected spot and
 * device key. Returns 0, or -LOCKLINK_E_UNREACHABLE, -LOCKLINK_E_IDENTITY,
 * -LOCKLINK_E_UNPROVISIONED (the link is closed again on every error).
 */
int locklink_connect(struct locklink *k);

/* Closes the link; safe when closed. */
void locklink_close(struct locklink *k);

/*
 * Delivers the MGMT frame[0..len) (its tag is replaced) and waits for its MGMT_ACK, which
 * must carry this lock's spot, the frame's sequence and type, and a valid device
 * signature. Returns the ack frame's length (copied to ack[0..cap), cap >=
 * PROTO_FRAME_MAX), or -LOCKLINK_E_FRAME (not an MGMT frame: nothing sent),
 * -LOCKLINK_E_REFUSED with *code set (the lock's ERROR: a final answer),
 * -LOCKLINK_E_UNREACHABLE (no answer within k->reply_ms or the link broke: the link is closed; the
 * lock may or may not have applied it) or -LOCKLINK_E_PROTO (link closed).
 */
int locklink_deliver(struct locklink *k, const uint8_t *frame, size_t len, uint8_t *ack,
		     size_t cap, uint8_t *code);

/*
 * Reads the next page after k->log_seq (up to 32 events) and checks it: the device
 * signature over the page for the lock's own site and spot, sequences in order and above
 * log_seq, and the anchor against k->log_hash when that is known and the page starts
 * right after it (a gap means events the lock has dropped: page->gap is set instead).
 * Does not advance k: call locklink_log_advance() once the page is stored. Returns 0,
 * -LOCKLINK_E_UNREACHABLE, -LOCKLINK_E_PROTO or -LOCKLINK_E_CHAIN (link closed on error).
 */
int locklink_log_page(struct locklink *k, struct locklink_page *page);

/* Moves k's log position past `page` (a page locklink_log_page() returned). */
void locklink_log_advance(struct locklink *k, const struct locklink_page *page);

/*
 * Waits up to timeout_ms for the lock to send something or for `wake_fd` (may be -1) to
 * become readable (it is not drained here). EVENT notifications set k->events_pending.
 * Returns 1 when wake_fd is readable, 0 otherwise (time-out or frames handled), or
 * -LOCKLINK_E_UNREACHABLE when the link broke (it is then closed).
 */
int locklink_wait(struct locklink *k, int wake_fd, int timeout_ms);

/* A sentence for an error code. */
const char *locklink_strerror(int err);

#endif
