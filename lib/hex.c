/*
 * hex.c: hexadecimal encoding and decoding. The digit conversions use arithmetic masks
 * instead of branches or table lookups so that hex-encoded secrets do not leak through
 * timing; decoding validates the whole string before writing a byte.
 */
#include "hex.h"

#include <limits.h>
#include <string.h>

/* The lowercase digit of a nibble: '0' + n, plus 39 more ('a' - '0' - 10) when n > 9. */
static char hex_digit(unsigned n)
{
	return (char)(n + '0' + (((9u - n) >> 8) & 39u));
}

/*
 * The value of one hex digit. Sets *bad to 1 when `c` is none; the result is then
 * meaningless. `v | (max - v)` is negative exactly when v is outside 0..max.
 */
static unsigned hex_value(unsigned char c, unsigned *bad)
{
	int num = c - '0';
	int alpha = (c | 0x20) - 'a';
	unsigned num_bad = (unsigned)(num | (9 - num)) >> (sizeof(unsigned) * CHAR_BIT - 1);
	unsigned alpha_bad = (unsigned)(alpha | (5 - alpha)) >> (sizeof(unsigned) * CHAR_BIT - 1);

	*bad |= num_bad & alpha_bad;
	return ((unsigned)num & (num_bad - 1)) | (((unsigned)alpha + 10) & (alpha_bad - 1));
}

int hex_encode(const uint8_t *p, size_t len, char *out, size_t cap)
{
	size_t i;

	if (len > (size_t)(INT_MAX - 1) / 2 || cap < 2 * len + 1)
		return -1;
	for (i = 0; i < len; i++) {
		out[2 * i] = hex_digit(p[i] >> 4);
		out[2 * i + 1] = hex_digit(p[i] & 0x0f);
	}
	out[2 * len] = '\0';
	return (int)(2 * len);
}

int hex_decode(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);
	size_t i;
	unsigned bad = 0;

	if (n % 2 != 0 || n / 2 > cap || n / 2 > INT_MAX)
		return -1;
	for (i = 0; i < n; i++)
		(void)hex_value((unsigned char)s[i], &bad);
	if (bad)
		return -1;
	for (i = 0; i < n / 2; i++)
		out[i] = (uint8_t)(hex_value((unsigned char)s[2 * i], &bad) << 4 |
				   hex_value((unsigned char)s[2 * i + 1], &bad));
	return (int)(n / 2);
}
