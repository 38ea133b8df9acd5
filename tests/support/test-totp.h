/*
 * test-totp.h: a one-time code as an authenticator app computes it from the secret
 * parkd gives at enrolment (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits; the secret in
 * base32, RFC 4648), for the black-box tests that enrol a user and then act with codes.
 * Written apart from server/totp.c on purpose: the test must not trust the code it
 * checks. Header-only (static inline), like test-proc.h.
 */
#ifndef PARK_TEST_TOTP_H
#define PARK_TEST_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Decodes base32 `in` (up to '=' or the end) into dst[0..cap). The bytes, or -1. */
static inline long test_totp_base32(const char *in, uint8_t *dst, size_t cap)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned buf = 0, bits = 0;
	size_t n = 0;
	const char *c;

	for (; *in != '\0' && *in != '='; in++) {
		c = strchr(alpha, *in);
		if (c == NULL)
			return -1;
		buf = (buf << 5) | (unsigned)(c - alpha);
		bits += 5;
		if (bits >= 8) {
			if (n == cap)
				return -1;
			dst[n++] = (uint8_t)(buf >> (bits - 8));
			bits -= 8;
		}
	}
	return (long)n;
}

/* The code of base32 secret `secret_b32` at Unix time `when`, into code. 0 or -1. */
static inline int test_totp(const char *secret_b32, time_t when, char code[7])
{
	uint8_t key[64], msg[8], mac[20];
	unsigned len = sizeof(mac), off;
	uint64_t step = (uint64_t)when / 30;
	long klen = test_totp_base32(secret_b32, key, sizeof(key));
	uint32_t v;
	int i;

	code[0] = '\0';
	if (klen <= 0)
		return -1;
	for (i = 7; i >= 0; i--, step >>= 8)
		msg[i] = (uint8_t)(step & 0xff);
	if (HMAC(EVP_sha1(), key, (int)klen, msg, sizeof(msg), mac, &len) == NULL || len != 20)
		return -1;
	off = mac[19] & 0x0f;
	v = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	    ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	snprintf(code, 7, "%06u", v % 1000000);
	return 0;
}

#endif
