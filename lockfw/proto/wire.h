/*
 * wire.h: bounded big-endian cursors for encoding and decoding protocol bytes.
 *
 * Every read and write checks the remaining length first, in a form that cannot wrap,
 * and a failed access sets a sticky error flag and consumes nothing, so a decoder can
 * run a whole message and test the flag once. No allocation, no I/O: the firmware
 * core, the phone, the gateway and the server all link this file.
 */
#ifndef PARK_WIRE_H
#define PARK_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A read cursor over [buf, buf + len). `off` never exceeds `len`. */
struct wire_reader {
	const uint8_t *buf;
	size_t len;
	size_t off;
	bool error; /* set by the first access that did not fit; sticky */
};

/* A write cursor over [buf, buf + cap). `off` never exceeds `cap`. */
struct wire_writer {
	uint8_t *buf;
	size_t cap;
	size_t off;
	bool error; /* set by the first write that did not fit; sticky */
};

void wire_reader_init(struct wire_reader *r, const uint8_t *buf, size_t len);
void wire_writer_init(struct wire_writer *w, uint8_t *buf, size_t cap);

/* Bytes not yet read. */
size_t wire_left(const struct wire_reader *r);

/*
 * Readers return the value read, or 0 (and set r->error, consuming nothing) when fewer
 * bytes are left than the value needs. wire_get_bytes copies exactly `n` bytes or none.
 */
uint8_t wire_get_u8(struct wire_reader *r);
uint16_t wire_get_u16(struct wire_reader *r);
uint32_t wire_get_u32(struct wire_reader *r);
void wire_get_bytes(struct wire_reader *r, uint8_t *out, size_t n);

/*
 * Returns a pointer to the next `n` bytes and consumes them, or NULL (setting r->error)
 * when fewer are left. The pointer is valid as long as the reader's buffer is.
 */
const uint8_t *wire_get_view(struct wire_reader *r, size_t n);

/* Writers append the value, or set w->error and write nothing when it does not fit. */
void wire_put_u8(struct wire_writer *w, uint8_t v);
void wire_put_u16(struct wire_writer *w, uint16_t v);
void wire_put_u32(struct wire_writer *w, uint32_t v);
void wire_put_bytes(struct wire_writer *w, const uint8_t *p, size_t n);

/* Decode helpers for fixed positions in a buffer the caller has already bounds-checked. */
uint16_t wire_load_u16(const uint8_t *p);
uint32_t wire_load_u32(const uint8_t *p);
void wire_store_u16(uint8_t *p, uint16_t v);
void wire_store_u32(uint8_t *p, uint32_t v);

#endif
