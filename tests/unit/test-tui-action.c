/*
 * test-tui-action.c: tui/action through its public API, without a server: each decisive
 * action's request (method, path, body, the one-time code added when given), which
 * answers ask for a code (required, wrong, replayed) and which are plain failures, what
 * a typed code must look like, and the questions and news with the target filled in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../tui/action.h"

static void check_request(enum action_kind kind, int64_t id, const char *code,
			  const char *method, const char *path, const char *body)
{
	char got[ACTION_PATH_LEN];
	const char *m = NULL;
	json_object *b = NULL;
	struct action a;

	action_init(&a, kind, id, "it");
	if (kind == ACTION_UNLOCK || kind == ACTION_LOCK)
		snprintf(a.reason, sizeof(a.reason), "flat phone");
	assert_int_equal(action_request(&a, code, &m, got, sizeof(got), &b), 0);
	assert_string_equal(m, method);
	assert_string_equal(got, path);
	assert_non_null(b);
	assert_string_equal(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN), body);
	json_object_put(b);
}

static void test_requests(void **state)
{
	(void)state;
	check_request(ACTION_APPROVE, 15, NULL, "POST", "/v1/shares/15/approve", "{}");
	check_request(ACTION_APPROVE, 15, "123456", "POST", "/v1/shares/15/approve",
		      "{\"otp\":\"123456\"}");
	check_request(ACTION_DENY, 16, NULL, "POST", "/v1/shares/16/deny", "{}");
	check_request(ACTION_FREEZE, 17, "000001", "POST", "/v1/shares/17/freeze",
		      "{\"otp\":\"000001\"}");
	check_request(ACTION_UNFREEZE, 17, NULL, "POST", "/v1/shares/17/unfreeze", "{}");
	check_request(ACTION_REMOVE, 18, "999999", "DELETE", "/v1/shares/18",
		      "{\"otp\":\"999999\"}");
	check_request(ACTION_REVOKE, 4294967295LL, NULL, "POST", "/v1/keys/4294967295/revoke",
		      "{}");
	check_request(ACTION_UNLOCK, 101, NULL, "POST", "/v1/spots/101/override",
		      "{\"op\":\"unlock\",\"reason\":\"flat phone\"}");
	check_request(ACTION_LOCK, 101, "123456", "POST", "/v1/spots/101/override",
		      "{\"op\":\"lock\",\"reason\":\"flat phone\",\"otp\":\"123456\"}");
}

static void test_bad_requests(void **state)
{
	char path[8];
	const char *m = NULL;
	json_object *b = (json_object *)(uintptr_t)1;
	struct action a;

	(void)state;
	action_init(&a, ACTION_KINDS, 1, "x");
	assert_int_equal(action_request(&a, NULL, &m, path, sizeof(path), &b), -1);
	assert_null(b);
	action_init(&a, ACTION_APPROVE, 15, "x");
	assert_int_equal(action_request(&a, NULL, &m, path, sizeof(path), &b), -1); /* too long */
	assert_null(b);
}

static struct apiclient_error http(int status, const char *code)
{
	struct apiclient_error e;

	memset(&e, 0, sizeof(e));
	e.status = status;
	snprintf(e.code, sizeof(e.code), "%s", code);
	return e;
}

static void test_results(void **state)
{
	struct apiclient_error e = http(0, "");

	(void)state;
	assert_int_equal(action_result(200, &e), ACTION_DONE);
	assert_int_equal(action_result(204, &e), ACTION_DONE);
	e = http(401, "otp_required");
	assert_int_equal(action_result(-APICLIENT_E_HTTP, &e), ACTION_CODE_NEEDED);
	e = http(401, "otp_wrong");
	assert_int_equal(action_result(-APICLIENT_E_HTTP, &e), ACTION_CODE_WRONG);
	e = http(401, "otp_replayed");
	assert_int_equal(action_result(-APICLIENT_E_HTTP, &e), ACTION_CODE_USED);
	/* The session ended, no right, too many wrong codes, no answer: failures. */
	e = http(401, "unauthenticated");
	assert_int_equal(action_result(-APICLIENT_E_HTTP, &e), ACTION_FAILED);
	e = http(403, "otp_required");
	assert_int_equal(action_result(-APICLIENT_E_HTTP, &e), ACTION_FAILED);
	e = http(429, "rate_limited");
	assert_int_equal(action_result(-APICLIENT_E_HTTP, &e), ACTION_FAILED);
	e = http(401, "otp_required");
	assert_int_equal(action_result(-APICLIENT_E_NET, &e), ACTION_FAILED);
}

static void test_code_parse(void **state)
{
	char code[ACTION_CODE_LEN];

	(void)state;
	assert_true(action_code_parse("123456", code));
	assert_string_equal(code, "123456");
	assert_true(action_code_parse(" 123 456 ", code));
	assert_string_equal(code, "123456");
	assert_true(action_code_parse("000000", code));
	assert_false(action_code_parse("12345", code));
	assert_string_equal(code, "");
	assert_false(action_code_parse("1234567", code));
	assert_false(action_code_parse("12345a", code));
	assert_false(action_code_parse("１２３４５６", code)); /* full-width digits */
	assert_false(action_code_parse("", code));
	assert_false(action_code_parse(NULL, code));
}

static void test_words(void **state)
{
	char buf[256];
	struct action a;

	(void)state;
	action_init(&a, ACTION_APPROVE, 15, "share 15 to +8613800000004");
	assert_string_equal(action_code_question(&a, buf, sizeof(buf)),
			    "One-time code to approve share 15 to +8613800000004");
	assert_string_equal(action_done_message(&a, buf, sizeof(buf)),
			    "Approved share 15 to +8613800000004; the recipient's phone gets it "
			    "when it syncs.");
	action_init(&a, ACTION_UNLOCK, 101, "B1-01");
	assert_string_equal(action_done_message(&a, buf, sizeof(buf)),
			    "Unlock of B1-01 sent; the lock acts when its gateway delivers it.");
	/* A target with a % in it is text, not a format. */
	action_init(&a, ACTION_REMOVE, 1, "100%s");
	assert_string_equal(action_done_message(&a, buf, sizeof(buf)), "Removed 100%s.");
	/* Cut to fit, never overrun. */
	assert_string_equal(action_done_message(&a, buf, 8), "Removed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_code_parse),
		cmocka_unit_test(test_words),
	};

	return cmocka_run_group_tests_name("tui-action", tests, NULL, NULL);
}
