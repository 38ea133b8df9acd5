/*
 * totp.h: the one-time codes of RFC 6238 (TOTP): HMAC-SHA-1 of the 30-second time step
 * (through OpenSSL's EVP_MAC), truncated as RFC 4226 says, and the base32 text (RFC
 * 4648, no padding) in which an authenticator app takes the secret. Pure functions: no
 * storage, no clock; otp.c keeps the secrets and decides what a code unlocks.
 */
#ifndef PARK_TOTP_H
#define PARK_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_PERIOD_S 30     /* seconds per time step */
#define TOTP_DIGITS 6        /* digits of a code */
#define TOTP_DIGITS_MAX 9    /* the most digits totp_code() makes */
#define TOTP_SECRET_LEN 20   /* bytes of a secret the server makes (160 bits, RFC 4226) */
#define TOTP_WINDOW 1        /* steps accepted either side of the current one */
#define TOTP_BASE32_MAX 64   /* room for the base32 text of a secret of up to 39 bytes */

/* The time step of Unix time `now` (>= 0): now / TOTP_PERIOD_S. */
uint64_t totp_step(int64_t now);

/*
 * The code of time step `step` under key[0..len) (1..64 bytes), `digits` (1..9) decimal
 * digits with leading zeros, into out[0..cap) NUL-terminated. Returns 0, or -1 when
 * an argument is out of range or the HMAC fails.
 */
int totp_code(const uint8_t *key, size_t len, uint64_t step, unsigned digits, char *out,
	      size_t cap);

/* What totp_match() found. */
enum totp_match {
	TOTP_NO_MATCH = 0,  /* no step of the window has this code */
	TOTP_MATCH = 1,     /* a step after `after` has it: *step is the newest such */
	TOTP_REPLAYED = 2,  /* only steps at or before `after` have it: used already */
};

/*
 * Compares `code` (TOTP_DIGITS digits) with the codes of the steps within TOTP_WINDOW of
 * `now`'s, every one of them in constant time whatever matches. Returns TOTP_* with
 * *step set for TOTP_MATCH, or -1 when the HMAC fails. A code that is not TOTP_DIGITS
 * digits is TOTP_NO_MATCH.
 */
int totp_match(const uint8_t *key, size_t len, int64_t now, const char *code, uint64_t after,
	       uint64_t *step);

/*
 * The base32 text of p[0..len) (RFC 4648 alphabet, upper case, no padding) into
 * out[0..cap) NUL-terminated. Returns its length, or -1 when it does not fit.
 */
int totp_base32(const uint8_t *p, size_t len, char *out, size_t cap);

#endif
