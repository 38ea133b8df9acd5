/*
 * test-reqsig.c: lib/reqsig through its public API: known-answer digests (computed apart
 * from this code, from server/API.md's definition), a change to any one input, or a
 * character moved across a separator, changes the digest, and a missing input is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../lib/hex.h"
#include "../../lib/reqsig.h"

#define METHOD "POST"
#define TARGET "/v1/gateway/acks?x=%20y"
#define TIME "1800000000"
#define BODY "{\"acks\":[{\"id\":7,\"error\":\"unreachable\"}]}"

static void digest_hex(const char *method, const char *target, const char *time,
		       const char *body, char hex[2 * REQSIG_DIGEST_LEN + 1])
{
	uint8_t d[REQSIG_DIGEST_LEN];

	assert_int_equal(reqsig_digest(method, target, time, (const uint8_t *)body,
				       body != NULL ? strlen(body) : 0, d), 0);
	assert_int_equal(hex_encode(d, sizeof(d), hex, 2 * REQSIG_DIGEST_LEN + 1),
			 2 * REQSIG_DIGEST_LEN);
}

static void test_known_digests(void **state)
{
	char hex[2 * REQSIG_DIGEST_LEN + 1];

	(void)state;
	digest_hex(METHOD, TARGET, TIME, BODY, hex);
	assert_string_equal(hex, "704620ad021269fc00235ed2001551ac"
				 "ce4befa973eab4095e0db813ee529979");
	digest_hex("GET", "/v1/gateway/locks", "5", "", hex);
	assert_string_equal(hex, "11a9525dd02009b9f32a70787baa6888"
				 "abeefcc5ac8bafa5f15c0c0b3af95526");
	/* No body is the empty body. */
	digest_hex("GET", "/v1/gateway/locks", "5", NULL, hex);
	assert_string_equal(hex, "11a9525dd02009b9f32a70787baa6888"
				 "abeefcc5ac8bafa5f15c0c0b3af95526");
}

/* Every byte of every input is covered: flipping any one of them changes the digest. */
static void test_every_input_changes_it(void **state)
{
	const char *in[4] = { METHOD, TARGET, TIME, BODY };
	char base[2 * REQSIG_DIGEST_LEN + 1], other[2 * REQSIG_DIGEST_LEN + 1];
	char copy[128];
	const char *v[4];
	size_t field, i;

	(void)state;
	digest_hex(METHOD, TARGET, TIME, BODY, base);
	for (field = 0; field < 4; field++) {
		for (i = 0; i < strlen(in[field]); i++) {
			memcpy(v, in, sizeof(v));
			snprintf(copy, sizeof(copy), "%s", in[field]);
			copy[i] ^= 0x01;
			v[field] = copy;
			digest_hex(v[0], v[1], v[2], v[3], other);
			if (strcmp(base, other) == 0)
				fail_msg("input %zu, byte %zu: digest unchanged", field, i);
		}
		/* One byte longer, too. */
		memcpy(v, in, sizeof(v));
		snprintf(copy, sizeof(copy), "%s ", in[field]);
		v[field] = copy;
		digest_hex(v[0], v[1], v[2], v[3], other);
		assert_string_not_equal(base, other);
	}
}

/* The separators keep the fields apart: moving a character across one shows. */
static void test_fields_do_not_run_together(void **state)
{
	char a[2 * REQSIG_DIGEST_LEN + 1], b[2 * REQSIG_DIGEST_LEN + 1];

	(void)state;
	digest_hex("GET", "/v1/x", "5", "", a);
	digest_hex("GE", "T/v1/x", "5", "", b);
	assert_string_not_equal(a, b);
	digest_hex("GET", "/v1/x5", "", "", b);
	assert_string_not_equal(a, b);
	digest_hex("GET", "/v1/x", "", "5", b);
	assert_string_not_equal(a, b);
}

static void test_missing_input_refused(void **state)
{
	uint8_t d[REQSIG_DIGEST_LEN];

	(void)state;
	assert_int_equal(reqsig_digest(NULL, TARGET, TIME, NULL, 0, d), -1);
	assert_int_equal(reqsig_digest(METHOD, NULL, TIME, NULL, 0, d), -1);
	assert_int_equal(reqsig_digest(METHOD, TARGET, NULL, NULL, 0, d), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_digests),
		cmocka_unit_test(test_every_input_changes_it),
		cmocka_unit_test(test_fields_do_not_run_together),
		cmocka_unit_test(test_missing_input_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
