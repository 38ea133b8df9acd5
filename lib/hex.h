/*
 * hex.h: lowercase hexadecimal encoding and strict decoding of byte strings, for key
 * files, config values and logs. Pure functions: no allocation, no I/O, no state.
 * Both run in time that depends only on the length, so they may carry key material.
 */
#ifndef PARK_HEX_H
#define PARK_HEX_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writes p[0..len) as 2 * len lowercase hex digits and a NUL into out[0..cap). Returns
 * the number of digits written (2 * len), or -1, writing nothing, when cap < 2 * len + 1
 * or the count would not fit an int.
 */
int hex_encode(const uint8_t *p, size_t len, char *out, size_t cap);

/*
 * Decodes the NUL-terminated string `s` (digits in either case, nothing else: no
 * prefix, no spaces) into out[0..cap). Returns the number of bytes decoded, or -1 when
 * the length is odd, a character is not a hex digit, or more than `cap` bytes would
 * result; on error nothing is written to `out`.
 */
int hex_decode(const char *s, uint8_t *out, size_t cap);

#endif
