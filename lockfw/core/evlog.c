/*
 * evlog.c: the hash-chained event log in a ring of flash pages; see evlog.h.
 *
 * Entering a page erases it, so the ring always keeps (pages - 1) * per_page events
 * at least; evlog_pages_needed() sizes it for LAYOUT_EVENTS_KEPT.
 */
#include "evlog.h"

#include <string.h>

#include "layout.h"
#include "store.h"

uint32_t evlog_pages_needed(uint32_t page_size)
{
	uint32_t per_page = page_size / EVLOG_SLOT_LEN;

	if (per_page == 0)
		return 0;
	return (LAYOUT_EVENTS_KEPT + per_page - 1) / per_page + 1;
}

static uint32_t slot_addr(const struct evlog *g, uint32_t slot)
{
	uint32_t page = g->first_page + slot / g->per_page;

	return page * g->port->flash_page_size + (slot % g->per_page) * EVLOG_SLOT_LEN;
}

static uint32_t seq_slot(const struct evlog *g, uint32_t seq)
{
	return (seq - 1) % g->slots;
}

static bool blank(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != 0xFF)
			return false;
	return true;
}

enum slot_state { SLOT_BLANK, SLOT_VALID, SLOT_TORN };

/* Reads slot `slot`; on SLOT_VALID fills e and before. Flash errors read as torn. */
static enum slot_state read_slot(struct evlog *g, uint32_t slot, struct proto_event *e,
				 uint8_t before[PROTO_HASH_LEN])
{
	uint8_t rec[EVLOG_SLOT_LEN];
	const size_t body = PROTO_EVENT_LEN + PROTO_HASH_LEN;

	if (g->port->flash_read(g->port->ctx, slot_addr(g, slot), rec, sizeof(rec)) != 0)
		return SLOT_TORN;
	if (blank(rec, sizeof(rec)))
		return SLOT_BLANK;
	if (store_crc32(0, rec, body) != wire_load_u32(rec + body))
		return SLOT_TORN;
	proto_event_decode(rec, e);
	if (e->seq == 0 || seq_slot(g, e->seq) != slot)
		return SLOT_TORN;
	memcpy(before, rec + PROTO_EVENT_LEN, PROTO_HASH_LEN);
	return SLOT_VALID;
}

static int chain_after(struct evlog *g, const uint8_t before[PROTO_HASH_LEN],
		       const struct proto_event *e, uint8_t out[PROTO_HASH_LEN])
{
	uint8_t ev[PROTO_EVENT_LEN];
	struct port_buf parts[2] = { { before, PROTO_HASH_LEN }, { ev, sizeof(ev) } };

	proto_event_encode(ev, e);
	return g->port->sha256(g->port->ctx, parts, 2, out) == 0 ? 0 : -PROTO_E_INTERNAL;
}

/* Skips sequence numbers whose slots hold torn appends (they cannot be rewritten). */
static void skip_torn(struct evlog *g)
{
	struct proto_event e;
	uint8_t before[PROTO_HASH_LEN];
	uint32_t n;

	for (n = 0; n < g->per_page; n++) {
		uint32_t slot = seq_slot(g, g->next_seq);

		if (slot % g->per_page == 0 || read_slot(g, slot, &e, before) == SLOT_BLANK)
			return;
		g->next_seq++;
	}
}

int evlog_init(struct evlog *g, const struct port *port, uint32_t first_page, uint32_t pages)
{
	struct proto_event e, head;
	uint8_t before[PROTO_HASH_LEN], head_before[PROTO_HASH_LEN];
	uint32_t slot;

	memset(g, 0, sizeof(*g));
	g->port = port;
	g->first_page = first_page;
	g->pages = pages;
	g->per_page = port->flash_page_size / EVLOG_SLOT_LEN;
	g->slots = g->per_page * pages;
	if (g->per_page == 0 || pages < 2 || first_page + pages > port->flash_pages)
		return -PROTO_E_FLASH;
	for (slot = 0; slot < g->slots; slot++) {
		if (read_slot(g, slot, &e, before) != SLOT_VALID || e.seq <= g->head_seq)
			continue;
		g->head_seq = e.seq;
		head = e;
		memcpy(head_before, before, sizeof(before));
	}
	if (g->head_seq != 0) {
		if (chain_after(g, head_before, &head, g->head_hash) != 0)
			return -PROTO_E_INTERNAL;
		g->head_time = head.time;
	}
	g->next_seq = g->head_seq + 1;
	skip_torn(g);
	return 0;
}

int evlog_append(struct evlog *g, struct proto_event *e)
{
	uint8_t rec[EVLOG_SLOT_LEN];
	uint8_t next_hash[PROTO_HASH_LEN];
	const size_t body = PROTO_EVENT_LEN + PROTO_HASH_LEN;
	uint32_t slot;

	e->seq = g->next_seq++;
	slot = seq_slot(g, e->seq);
	if (slot % g->per_page == 0 &&
	    g->port->flash_erase(g->port->ctx, g->first_page + slot / g->per_page) != 0)
		return -PROTO_E_FLASH;
	proto_event_encode(rec, e);
	memcpy(rec + PROTO_EVENT_LEN, g->head_hash, PROTO_HASH_LEN);
	wire_store_u32(rec + body, store_crc32(0, rec, body));
	if (chain_after(g, g->head_hash, e, next_hash) != 0)
		return -PROTO_E_INTERNAL;
	if (g->port->flash_write(g->port->ctx, slot_addr(g, slot), rec, sizeof(rec)) != 0)
		return -PROTO_E_FLASH;
	g->head_seq = e->seq;
	g->head_time = e->time;
	memcpy(g->head_hash, next_hash, PROTO_HASH_LEN);
	return 0;
}

int evlog_read(struct evlog *g, uint32_t seq, struct proto_event *e,
	       uint8_t before[PROTO_HASH_LEN])
{
	if (seq == 0 || seq > g->head_seq)
		return -PROTO_E_UNKNOWN_KEY;
	if (read_slot(g, seq_slot(g, seq), e, before) != SLOT_VALID || e->seq != seq)
		return -PROTO_E_UNKNOWN_KEY;
	return 0;
}

uint32_t evlog_first_from(struct evlog *g, uint32_t seq)
{
	struct proto_event e;
	uint8_t before[PROTO_HASH_LEN];
	uint32_t s;

	if (g->head_seq >= g->slots && seq <= g->head_seq - g->slots)
		seq = g->head_seq - g->slots + 1;
	if (seq == 0)
		seq = 1;
	for (s = seq; s <= g->head_seq; s++)
		if (evlog_read(g, s, &e, before) == 0)
			return s;
	return 0;
}
