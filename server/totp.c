/*
 * totp.c: RFC 6238 codes and base32; see totp.h. The HMAC is OpenSSL's (EVP_MAC "HMAC"
 * with SHA-1, the digest RFC 6238's appendix B vectors and every authenticator app
 * use); comparisons of codes never branch on their bytes.
 */
#include "totp.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define TOTP_KEY_MAX 64
#define TOTP_STEPS (2 * TOTP_WINDOW + 1)

uint64_t totp_step(int64_t now)
{
	return now > 0 ? (uint64_t)now / TOTP_PERIOD_S : 0;
}

/* HMAC-SHA-1 of the 8-byte big-endian step. 0, or -1. */
static int totp_hmac(const uint8_t *key, size_t len, uint64_t step, uint8_t out[20])
{
	char digest[] = "SHA1";
	OSSL_PARAM params[2];
	uint8_t msg[8];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	size_t n = 0;
	int i, r = -1;

	for (i = 7; i >= 0; i--, step >>= 8)
		msg[i] = (uint8_t)(step & 0xff);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return -1;
	ctx = EVP_MAC_CTX_new(mac);
	if (ctx != NULL && EVP_MAC_init(ctx, key, len, params) == 1 &&
	    EVP_MAC_update(ctx, msg, sizeof(msg)) == 1 && EVP_MAC_final(ctx, out, &n, 20) == 1 &&
	    n == 20)
		r = 0;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

int totp_code(const uint8_t *key, size_t len, uint64_t step, unsigned digits, char *out,
	      size_t cap)
{
	static const uint32_t pow10[TOTP_DIGITS_MAX + 1] = {
		1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
	};
	uint8_t h[20];
	uint32_t bin;
	unsigned off, i;

	if (key == NULL || len == 0 || len > TOTP_KEY_MAX || digits < 1 ||
	    digits > TOTP_DIGITS_MAX || out == NULL || cap <= digits)
		return -1;
	if (totp_hmac(key, len, step, h) != 0)
		return -1;
	/* RFC 4226 5.3: dynamic truncation to 31 bits, then the low decimal digits. */
	off = h[19] & 0x0f;
	bin = (uint32_t)(h[off] & 0x7f) << 24 | (uint32_t)h[off + 1] << 16 |
	      (uint32_t)h[off + 2] << 8 | h[off + 3];
	bin %= pow10[digits];
	for (i = digits; i-- > 0; bin /= 10)
		out[i] = (char)('0' + bin % 10);
	out[digits] = '\0';
	OPENSSL_cleanse(h, sizeof(h));
	return 0;
}

int totp_match(const uint8_t *key, size_t len, int64_t now, const char *code, uint64_t after,
	       uint64_t *step)
{
	char want[TOTP_DIGITS + 1], got[TOTP_DIGITS_MAX + 1];
	uint64_t s, base = totp_step(now);
	unsigned i, fresh = 0, used = 0;
	uint64_t best = 0;
	int eq;

	/* A malformed code still costs the same HMACs: its shape is no secret, but timing is. */
	memset(want, 0, sizeof(want));
	if (code != NULL && strlen(code) == TOTP_DIGITS &&
	    strspn(code, "0123456789") == TOTP_DIGITS)
		memcpy(want, code, TOTP_DIGITS);
	for (i = 0; i < TOTP_STEPS; i++) {
		s = base + i - TOTP_WINDOW; /* base >= 1 for any time after 1970-01-01T00:00:30 */
		if (base < TOTP_WINDOW && i < TOTP_WINDOW)
			continue;
		if (totp_code(key, len, s, TOTP_DIGITS, got, sizeof(got)) != 0)
			return -1;
		eq = CRYPTO_memcmp(got, want, TOTP_DIGITS) == 0 && want[0] != '\0';
		fresh |= (unsigned)(eq && s > after);
		used |= (unsigned)(eq && s <= after);
		if (eq && s > after && s > best)
			best = s;
	}
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	if (fresh) {
		*step = best;
		return TOTP_MATCH;
	}
	return used ? TOTP_REPLAYED : TOTP_NO_MATCH;
}

int totp_base32(const uint8_t *p, size_t len, char *out, size_t cap)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t i, n = 0, need = (len * 8 + 4) / 5;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (out == NULL || cap <= need)
		return -1;
	for (i = 0; i < len; i++) {
		acc = acc << 8 | p[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[n++] = alphabet[(acc >> bits) & 0x1f];
		}
	}
	if (bits > 0)
		out[n++] = alphabet[(acc << (5 - bits)) & 0x1f];
	out[n] = '\0';
	return (int)n;
}
