/*
 * wire.c: bounded big-endian cursors. See wire.h for the contract; the length checks
 * are written as `n > len - off` (off <= len always holds) so they cannot overflow.
 */
#include "wire.h"

#include <string.h>

void wire_reader_init(struct wire_reader *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = buf != NULL ? len : 0;
	r->off = 0;
	r->error = false;
}

void wire_writer_init(struct wire_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf != NULL ? cap : 0;
	w->off = 0;
	w->error = false;
}

size_t wire_left(const struct wire_reader *r)
{
	return r->len - r->off;
}

static bool reader_take(struct wire_reader *r, size_t n)
{
	if (r->error || n > r->len - r->off) {
		r->error = true;
		return false;
	}
	return true;
}

static bool writer_take(struct wire_writer *w, size_t n)
{
	if (w->error || n > w->cap - w->off) {
		w->error = true;
		return false;
	}
	return true;
}

uint16_t wire_load_u16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

uint32_t wire_load_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void wire_store_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void wire_store_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint8_t wire_get_u8(struct wire_reader *r)
{
	if (!reader_take(r, 1))
		return 0;
	return r->buf[r->off++];
}

uint16_t wire_get_u16(struct wire_reader *r)
{
	uint16_t v;

	if (!reader_take(r, 2))
		return 0;
	v = wire_load_u16(r->buf + r->off);
	r->off += 2;
	return v;
}

uint32_t wire_get_u32(struct wire_reader *r)
{
	uint32_t v;

	if (!reader_take(r, 4))
		return 0;
	v = wire_load_u32(r->buf + r->off);
	r->off += 4;
	return v;
}

void wire_get_bytes(struct wire_reader *r, uint8_t *out, size_t n)
{
	if (!reader_take(r, n))
		return;
	if (n > 0)
		memcpy(out, r->buf + r->off, n);
	r->off += n;
}

const uint8_t *wire_get_view(struct wire_reader *r, size_t n)
{
	const uint8_t *p;

	if (!reader_take(r, n))
		return NULL;
	p = r->buf + r->off;
	r->off += n;
	return p;
}

void wire_put_u8(struct wire_writer *w, uint8_t v)
{
	if (!writer_take(w, 1))
		return;
	w->buf[w->off++] = v;
}

void wire_put_u16(struct wire_writer *w, uint16_t v)
{
	if (!writer_take(w, 2))
		return;
	wire_store_u16(w->buf + w->off, v);
	w->off += 2;
}

void wire_put_u32(struct wire_writer *w, uint32_t v)
{
	if (!writer_take(w, 4))
		return;
	wire_store_u32(w->buf + w->off, v);
	w->off += 4;
}

void wire_put_bytes(struct wire_writer *w, const uint8_t *p, size_t n)
{
	if (!writer_take(w, n))
		return;
	if (n > 0)
		memcpy(w->buf + w->off, p, n);
	w->off += n;
}
