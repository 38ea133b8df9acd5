/*
 * p256.c: P-256 keys, ECDSA over a caller's SHA-256 digest, and key files, on OpenSSL 3's
 * EVP API. Owns the conversions between the protocol's raw formats (X || Y, r || s) and
 * OpenSSL's (uncompressed point, DER ECDSA-Sig-Value), and the atomic 0600 key file.
 * It does not know protocol layouts: callers hash the to-be-signed bytes of proto.h.
 */
#include "p256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "atomicfile.h"
#include "hex.h"

#define P256_GROUP "prime256v1"
#define P256_DER_SIG_MAX 80   /* DER of two 33-byte INTEGERs and headers is at most 72 */
#define P256_FILE_MAX 8192    /* a P-256 PKCS#8 PEM is ~240 bytes; anything huge is not ours */

/* The group order n, big-endian. r and s must lie in 1..n-1. */
static const uint8_t p256_order[32] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
	0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/* True when `key` is an EC key on P-256 (any other curve or algorithm is refused). */
static int p256_is_p256(const EVP_PKEY *key)
{
	char name[32];
	size_t len = 0;

	if (key == NULL || !EVP_PKEY_is_a(key, "EC"))
		return 0;
	if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1)
		return 0;
	return strcmp(name, P256_GROUP) == 0;
}

EVP_PKEY *p256_generate(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", P256_GROUP);
}

/* Writes a BIGNUM parameter of `key` as 32 big-endian bytes. */
static int p256_get_coord(const EVP_PKEY *key, const char *param, uint8_t out[32])
{
	BIGNUM *bn = NULL;
	int r = -1;

	if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
		goto out;
	if (BN_bn2binpad(bn, out, 32) != 32)
		goto out;
	r = 0;
out:
	BN_free(bn);
	return r;
}

int p256_public_raw(const EVP_PKEY *key, uint8_t pub[64])
{
	uint8_t point[65];
	size_t len = 0;

	if (!p256_is_p256(key))
		return -1;
	/* The encoded point is one conversion; two coordinates as BIGNUMs cost four times it. */
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
					    &len) == 1 &&
	    len == sizeof(point) && point[0] == 0x04) {
		memcpy(pub, point + 1, 64);
		return 0;
	}
	/* A loaded key may carry a compressed point: its affine coordinates, then. */
	if (p256_get_coord(key, OSSL_PKEY_PARAM_EC_PUB_X, pub) != 0 ||
	    p256_get_coord(key, OSSL_PKEY_PARAM_EC_PUB_Y, pub + 32) != 0)
		return -1;
	return 0;
}

/*
 * Checks a public point: coordinates in range, on the curve, not infinity. That is the
 * whole check on P-256: its cofactor is 1, so every point on the curve is in the group
 * of order n, and OpenSSL's full check (EVP_PKEY_public_check) would only add an n*Q
 * multiplication that cannot fail, as dear as the ECDH that follows.
 */
static int p256_check_public(EVP_PKEY *key)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	int r = -1;

	if (ctx == NULL)
		goto out;
	if (EVP_PKEY_public_check_quick(ctx) != 1)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

EVP_PKEY *p256_from_public_raw(const uint8_t pub[64])
{
	char group[] = P256_GROUP;
	uint8_t point[65];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;

	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, pub, 64);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point,
						      sizeof(point));
	params[2] = OSSL_PARAM_construct_end();

	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1)
		goto out;
	if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	if (p256_check_public(key) != 0) {
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	return key;
}

EVP_PKEY *p256_public_like(const EVP_PKEY *like, const uint8_t pub[64])
{
	uint8_t point[65];
	EVP_PKEY *key;

	if (!p256_is_p256(like))
		return NULL;
	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, pub, 64);
	key = EVP_PKEY_new();
	if (key == NULL)
		return NULL;
	/*
	 * Setting the point checks it as p256_check_public() does (coordinates below p, on
	 * the curve; infinity has no 65-byte encoding): test-p256 holds OpenSSL to that.
	 */
	if (EVP_PKEY_copy_parameters(key, like) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(key, point, sizeof(point)) != 1) {
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* Converts a DER ECDSA-Sig-Value to r || s; the DER must be exactly one value. */
static int p256_sig_from_der(const uint8_t *der, size_t len, uint8_t sig[64])
{
	const unsigned char *p = der;
	const BIGNUM *r_bn, *s_bn;
	ECDSA_SIG *es;
	int r = -1;

	es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	if (es == NULL || p != der + len)
		goto out;
	ECDSA_SIG_get0(es, &r_bn, &s_bn);
	if (BN_bn2binpad(r_bn, sig, 32) != 32 || BN_bn2binpad(s_bn, sig + 32, 32) != 32)
		goto out;
	r = 0;
out:
	ECDSA_SIG_free(es);
	return r;
}

/* Converts r || s to DER into der[0..*len); *len is the capacity in, the length out. */
static int p256_sig_to_der(const uint8_t sig[64], uint8_t *der, size_t *len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r_bn = BN_bin2bn(sig, 32, NULL);
	BIGNUM *s_bn = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *p = der;
	int n, r = -1;

	if (es == NULL || r_bn == NULL || s_bn == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, r_bn, s_bn) != 1)
		goto out;
	r_bn = s_bn = NULL; /* owned by es now */
	n = i2d_ECDSA_SIG(es, NULL);
	if (n <= 0 || (size_t)n > *len)
		goto out;
	if (i2d_ECDSA_SIG(es, &p) != n)
		goto out;
	*len = (size_t)n;
	r = 0;
out:
	BN_free(r_bn);
	BN_free(s_bn);
	ECDSA_SIG_free(es);
	return r;
}

int p256_sign_digest(EVP_PKEY *key, const uint8_t digest[32], uint8_t sig[64])
{
	uint8_t der[P256_DER_SIG_MAX];
	size_t der_len = sizeof(der);
	EVP_PKEY_CTX *ctx = NULL;
	int r = -1;

	if (!p256_is_p256(key))
		goto out;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	/* No signature digest is set on ctx, so OpenSSL signs `digest` as given. */
	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1)
		goto out;
	if (EVP_PKEY_sign(ctx, der, &der_len, digest, 32) != 1)
		goto out;
	r = p256_sig_from_der(der, der_len, sig);
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* True when a 32-byte big-endian scalar lies in 1..n-1. */
static int p256_scalar_ok(const uint8_t v[32])
{
	uint8_t any = 0;
	size_t i;

	for (i = 0; i < 32; i++)
		any |= v[i];
	/* Equal-length big-endian strings compare like the numbers they encode. */
	return any != 0 && memcmp(v, p256_order, 32) < 0;
}

int p256_verify_digest(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64])
{
	uint8_t der[P256_DER_SIG_MAX];
	size_t der_len = sizeof(der);
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = -1;

	/* Range checks first: OpenSSL also makes them, but the contract is ours to keep. */
	if (!p256_scalar_ok(sig) || !p256_scalar_ok(sig + 32))
		goto out;
	if (p256_sig_to_der(sig, der, &der_len) != 0)
		goto out;
	key = p256_from_public_raw(pub);
	if (key == NULL)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1)
		goto out;
	if (EVP_PKEY_verify(ctx, der, der_len, digest, 32) != 1)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	return r;
}

int p256_sha256(const uint8_t *buf, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -1;
	return 0;
}

/* ---- files ---- */

int p256_save_private(EVP_PKEY *key, const char *path)
{
	BIO *bio = NULL;
	char *pem = NULL;
	long len;
	int r = -1;

	if (!p256_is_p256(key)) {
		errno = EINVAL;
		goto out;
	}
	/* A secure-heap memory BIO: its buffer is wiped when it grows and when freed. */
	bio = BIO_new(BIO_s_secmem());
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		errno = EIO;
		goto out;
	}
	len = BIO_get_mem_data(bio, &pem);
	if (len <= 0 || pem == NULL) {
		errno = EIO;
		goto out;
	}
	r = atomicfile_write(path, (const uint8_t *)pem, (size_t)len, 0600);
out:
	BIO_free(bio);
	return r;
}

/* Refuses to prompt on the terminal for an encrypted PEM: ours never are. */
static int p256_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* True when the private scalar and the public point of `key` belong together. */
static int p256_check_pair(EVP_PKEY *key)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	int ok;

	ok = ctx != NULL && EVP_PKEY_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

EVP_PKEY *p256_load_private(const char *path)
{
	uint8_t buf[P256_FILE_MAX];
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	long len;

	len = atomicfile_read(path, buf, sizeof(buf));
	if (len < 0)
		goto out;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL)
		goto out;
	key = PEM_read_bio_PrivateKey(bio, NULL, p256_no_passphrase, NULL);
	/* A file that parses but is another curve or a damaged pair is not our key. */
	if (key != NULL && (!p256_is_p256(key) || !p256_check_pair(key))) {
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	BIO_free(bio);
	OPENSSL_cleanse(buf, sizeof(buf));
	return key;
}

int p256_save_public_hex(const uint8_t pub[64], const char *path)
{
	char line[2 * 64 + 2];

	if (hex_encode(pub, 64, line, sizeof(line)) != 128)
		return -1;
	line[128] = '\n';
	return atomicfile_write(path, (const uint8_t *)line, sizeof(line) - 1, 0644);
}

int p256_load_public_hex(const char *path, uint8_t pub[64])
{
	uint8_t buf[256];
	uint8_t raw[64];
	EVP_PKEY *key = NULL;
	long len;
	int r = -1;

	len = atomicfile_read(path, buf, sizeof(buf));
	if (len < 0)
		goto out;
	/* One line: 128 digits and an optional newline, nothing else. */
	if (len == 129 && buf[128] == '\n')
		buf[128] = '\0';
	else if (len != 128)
		goto out;
	if (hex_decode((const char *)buf, raw, sizeof(raw)) != 64)
		goto out;
	key = p256_from_public_raw(raw);
	if (key == NULL)
		goto out;
	memcpy(pub, raw, 64);
	r = 0;
out:
	EVP_PKEY_free(key);
	return r;
}
