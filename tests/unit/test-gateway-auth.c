/*
 * test-gateway-auth.c: server/gateway-auth on the test site's database: a request signed
 * by a gateway's key passes; another key, an unknown gateway, a stale or future time, a
 * changed method, path, query or body, malformed headers and flipped signature bytes are
 * refused. The digest is rebuilt by hand from server/API.md and compared with
 * lib/reqsig's, which both sides use, and with the gateway program's numeric-time form.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../../gateway/gwauth.h"
#include "../../lib/log.h"
#include "../../lib/reqsig.h"
#include "../../server/gateway-auth.h"
#include "../support/test-site-db.h"

#define NOW 1800000000

/*
 * gateway_auth_check() reads headers through http.c's http_header(), which needs a live
 * libmicrohttpd connection. This test's stand-in reads them from `test_headers`; nothing
 * else of http.c is linked into this program.
 */
static const char *test_headers[3][2];

const char *http_header(const struct http_request *req, const char *name)
{
	size_t i;

	(void)req;
	for (i = 0; i < 3; i++)
		if (test_headers[i][0] != NULL && strcasecmp(test_headers[i][0], name) == 0)
			return test_headers[i][1];
	return NULL;
}

struct signed_req {
	const char *method;
	const char *target;
	const char *body;
	char id[24], time[24], sig[129];
	struct gateway_auth_headers h;
};

/* The digest rebuilt from the API text: SHA-256 of the string with the body's hash. */
static void spec_digest(const char *method, const char *target, const char *time,
			const char *body, uint8_t digest[32])
{
	uint8_t buf[1024], body_hash[32];
	size_t n;

	assert_int_equal(p256_sha256((const uint8_t *)body, strlen(body), body_hash), 0);
	n = (size_t)snprintf((char *)buf, sizeof(buf), "PKG1%s\n%s\n%s\n", method, target, time);
	assert_true(n + 32 <= sizeof(buf));
	memcpy(buf + n, body_hash, 32);
	assert_int_equal(p256_sha256(buf, n + 32, digest), 0);
}

static void sign(struct signed_req *r, EVP_PKEY *key, int64_t gateway, int64_t t,
		 const char *method, const char *target, const char *body)
{
	uint8_t digest[32], sig[64];

	r->method = method;
	r->target = target;
	r->body = body;
	snprintf(r->id, sizeof(r->id), "%" PRId64, gateway);
	snprintf(r->time, sizeof(r->time), "%" PRId64, t);
	spec_digest(method, target, r->time, body, digest);
	assert_int_equal(p256_sign_digest(key, digest, sig), 0);
	assert_int_equal(hex_encode(sig, 64, r->sig, sizeof(r->sig)), 128);
	r->h.gateway = r->id;
	r->h.time = r->time;
	r->h.signature = r->sig;
}

static int verify(struct test_site_db *t, const struct signed_req *r, int64_t *id)
{
	return gateway_auth_verify(t->db, r->method, r->target, (const uint8_t *)r->body,
				   strlen(r->body), &r->h, NOW, id);
}

static int setup(void **state)
{
	struct test_site_db *t = test_site_db_new();

	test_site_db_import_good(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	test_site_db_free(*state);
	return 0;
}

static void test_good_signature(void **state)
{
	struct test_site_db *t = *state;
	struct signed_req r;
	int64_t id = 0;

	sign(&r, t->gateway[0], 1, NOW, "GET", "/v1/gateway/messages?wait=25", "");
	assert_int_equal(verify(t, &r, &id), 0);
	assert_int_equal(id, 1);
	sign(&r, t->gateway[1], 2, NOW - GATEWAY_AUTH_SKEW_S, "POST", "/v1/gateway/acks",
	     "{\"acks\":[]}");
	assert_int_equal(verify(t, &r, &id), 0);
	assert_int_equal(id, 2);
	sign(&r, t->gateway[1], 2, NOW + GATEWAY_AUTH_SKEW_S, "POST", "/v1/gateway/acks", "");
	assert_int_equal(verify(t, &r, &id), 0);
}

/* The shared digest, the spec's and the gateway program's are one and the same. */
static void test_digest_agrees_with_gateway(void **state)
{
	const char *body = "{\"acks\":[{\"id\":7,\"error\":\"unreachable\"}]}";
	uint8_t a[32], b[32], c[32];

	(void)state;
	assert_int_equal(reqsig_digest("POST", "/v1/gateway/acks?x=%20y", "1800000000",
				       (const uint8_t *)body, strlen(body), a), 0);
	spec_digest("POST", "/v1/gateway/acks?x=%20y", "1800000000", body, b);
	assert_int_equal(gwauth_digest("POST", "/v1/gateway/acks?x=%20y", 1800000000,
				       (const uint8_t *)body, strlen(body), c), 0);
	assert_memory_equal(a, b, 32);
	assert_memory_equal(a, c, 32);
	/* An empty body hashes as zero bytes, with or without a pointer. */
	assert_int_equal(reqsig_digest("GET", "/v1/gateway/locks", "5", NULL, 0, a), 0);
	spec_digest("GET", "/v1/gateway/locks", "5", "", b);
	assert_memory_equal(a, b, 32);
}

static void test_wrong_key_or_gateway(void **state)
{
	struct test_site_db *t = *state;
	struct signed_req r;
	int64_t id = -7;

	/* Gateway 2's key claiming to be gateway 1. */
	sign(&r, t->gateway[1], 1, NOW, "GET", "/v1/gateway/locks", "");
	assert_int_equal(verify(t, &r, &id), -1);
	/* A gateway the server does not know. */
	sign(&r, t->gateway[0], 99, NOW, "GET", "/v1/gateway/locks", "");
	assert_int_equal(verify(t, &r, &id), -1);
	/* A lock's key is no gateway's. */
	sign(&r, t->lock[0], 1, NOW, "GET", "/v1/gateway/locks", "");
	assert_int_equal(verify(t, &r, &id), -1);
	assert_int_equal(id, -7);
}

static void test_stale_or_future_time(void **state)
{
	struct test_site_db *t = *state;
	struct signed_req r;
	int64_t id;

	sign(&r, t->gateway[0], 1, NOW - GATEWAY_AUTH_SKEW_S - 1, "GET", "/v1/gateway/locks", "");
	assert_int_equal(verify(t, &r, &id), -1);
	sign(&r, t->gateway[0], 1, NOW + GATEWAY_AUTH_SKEW_S + 1, "GET", "/v1/gateway/locks", "");
	assert_int_equal(verify(t, &r, &id), -1);
	sign(&r, t->gateway[0], 1, 0, "GET", "/v1/gateway/locks", "");
	assert_int_equal(verify(t, &r, &id), -1);
}

static void test_changed_request(void **state)
{
	struct test_site_db *t = *state;
	struct signed_req r;
	int64_t id;

	sign(&r, t->gateway[0], 1, NOW, "POST", "/v1/gateway/acks?a=1",
	     "{\"acks\":[{\"id\":7,\"error\":\"unreachable\"}]}");
	assert_int_equal(verify(t, &r, &id), 0);
	r.body = "{\"acks\":[{\"id\":8,\"error\":\"unreachable\"}]}";
	assert_int_equal(verify(t, &r, &id), -1);
	r.body = "{\"acks\":[{\"id\":7,\"error\":\"unreachable\"}]}";
	r.target = "/v1/gateway/acks?a=2";
	assert_int_equal(verify(t, &r, &id), -1);
	r.target = "/v1/gateway/acks";
	assert_int_equal(verify(t, &r, &id), -1);
	r.target = "/v1/gateway/events?a=1";
	assert_int_equal(verify(t, &r, &id), -1);
	r.target = "/v1/gateway/acks?a=1";
	r.method = "PUT";
	assert_int_equal(verify(t, &r, &id), -1);
	r.method = "POST";
	/* The time header is signed as text: the same second written otherwise fails. */
	snprintf(r.time, sizeof(r.time), "0%d", NOW);
	assert_int_equal(verify(t, &r, &id), -1);
	snprintf(r.time, sizeof(r.time), "%d", NOW);
	assert_int_equal(verify(t, &r, &id), 0);
}

static void test_malformed_headers(void **state)
{
	struct test_site_db *t = *state;
	static const char *const bad_ids[] = { "", "+1", "-1", "1 ", " 1", "0x1", "1.0", "0",
					       "4294967296", "99999999999999999999" };
	struct signed_req r;
	char sig[130];
	int64_t id;
	size_t i;

	sign(&r, t->gateway[0], 1, NOW, "GET", "/v1/gateway/locks", "");
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		r.h.gateway = bad_ids[i];
		assert_int_equal(verify(t, &r, &id), -1);
	}
	r.h.gateway = NULL;
	assert_int_equal(verify(t, &r, &id), -1);
	r.h.gateway = r.id;
	r.h.time = NULL;
	assert_int_equal(verify(t, &r, &id), -1);
	r.h.time = "1800000000.5";
	assert_int_equal(verify(t, &r, &id), -1);
	r.h.time = r.time;
	r.h.signature = NULL;
	assert_int_equal(verify(t, &r, &id), -1);
	memcpy(sig, r.sig, 129);
	r.h.signature = sig;
	sig[127] = '\0'; /* 127 digits */
	assert_int_equal(verify(t, &r, &id), -1);
	memcpy(sig, r.sig, 129);
	sig[128] = '0'; /* 129 digits */
	sig[129] = '\0';
	assert_int_equal(verify(t, &r, &id), -1);
	memcpy(sig, r.sig, 129);
	sig[10] = 'g';
	assert_int_equal(verify(t, &r, &id), -1);
	/* Every byte of the signature, flipped in turn. */
	for (i = 0; i < 128; i += 2) {
		memcpy(sig, r.sig, 129);
		sig[i] = sig[i] == '0' ? '1' : '0';
		assert_int_equal(verify(t, &r, &id), -1);
	}
	r.h.signature = r.sig;
	assert_int_equal(verify(t, &r, &id), 0);
}

static void test_check_on_request(void **state)
{
	struct test_site_db *t = *state;
	struct signed_req r;
	struct http_request req;
	int64_t id = 0;

	sign(&r, t->gateway[1], 2, NOW, "POST", "/v1/gateway/acks", "{\"acks\":[]}");
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = "/v1/gateway/acks";
	req.target = "/v1/gateway/acks";
	req.body = (const uint8_t *)r.body;
	req.body_len = strlen(r.body);
	test_headers[0][0] = "x-park-gateway";
	test_headers[0][1] = r.id;
	test_headers[1][0] = "X-PARK-TIME";
	test_headers[1][1] = r.time;
	test_headers[2][0] = "X-Park-Signature";
	test_headers[2][1] = r.sig;
	assert_int_equal(gateway_auth_check(t->db, &req, NOW, &id), 0);
	assert_int_equal(id, 2);
	req.body_len--;
	assert_int_equal(gateway_auth_check(t->db, &req, NOW, &id), -1);
	req.body_len++;
	test_headers[2][1] = NULL;
	assert_int_equal(gateway_auth_check(t->db, &req, NOW, &id), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_signature, setup, teardown),
		cmocka_unit_test(test_digest_agrees_with_gateway),
		cmocka_unit_test_setup_teardown(test_wrong_key_or_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_or_future_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_on_request, setup, teardown),
	};

	log_init("test-gateway-auth", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
