/*
 * evlog.h: the lock's event log: a ring of flash pages holding at least
 * LAYOUT_EVENTS_KEPT events, each with the chain hash before it, so that any page of
 * events can be proven by the device key (PROTOCOL.md, "Event log").
 *
 * Sequence numbers start at 1 and never repeat across reboots. Event seq lives in slot
 * (seq - 1) mod slots; a power cut in the middle of an append burns that sequence number
 * (the torn slot reads as missing) and the chain continues over it.
 */
#ifndef PARK_EVLOG_H
#define PARK_EVLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "../port/port.h"
#include "../proto/proto.h"

/* One slot: the event (20), the chain hash before it (32), CRC-32 (4). */
#define EVLOG_SLOT_LEN (PROTO_EVENT_LEN + PROTO_HASH_LEN + 4)

struct evlog {
	const struct port *port;
	uint32_t first_page;
	uint32_t pages;
	uint32_t per_page;  /* slots in one page */
	uint32_t slots;     /* per_page * pages */
	uint32_t head_seq;  /* newest event written, 0 when none */
	uint32_t next_seq;  /* sequence the next append takes (> head_seq) */
	uint32_t head_time; /* time of the newest event */
	uint8_t head_hash[PROTO_HASH_LEN]; /* chain hash after the newest event */
};

/* Pages the log needs for a flash page size; 0 when the page is too small for a slot. */
uint32_t evlog_pages_needed(uint32_t page_size);

/*
 * Mounts the log on pages [first_page, first_page + pages): finds the newest valid event
 * and its chain hash. Erased flash is an empty log. 0, or -PROTO_E_FLASH.
 */
int evlog_init(struct evlog *g, const struct port *port, uint32_t first_page, uint32_t pages);

/*
 * Appends `e` (its seq is set here), durably, and extends the chain. Returns 0, or
 * -PROTO_E_FLASH (the sequence number is burned, the chain unchanged).
 */
int evlog_append(struct evlog *g, struct proto_event *e);

/*
 * Reads event `seq` and the chain hash before it. Returns 0, or -PROTO_E_UNKNOWN_KEY
 * when it was never written, was overwritten, or was torn.
 */
int evlog_read(struct evlog *g, uint32_t seq, struct proto_event *e,
	       uint8_t before[PROTO_HASH_LEN]);

/* The oldest sequence still readable at or after `seq`, or 0 when none is. */
uint32_t evlog_first_from(struct evlog *g, uint32_t seq);

#endif
