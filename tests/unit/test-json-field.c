/*
 * test-json-field.c: the request field getters through json-field.h: each returns the
 * value when it is of the right type and bounds, and otherwise leaves the exact 400
 * reply (missing_field or bad_field, naming the field) and writes nothing out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../server/json-field.h"

static json_object *parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

/* Checks rep is a 400 with `code` whose detail names `field`; clears it. */
static void expect_error(struct http_reply *rep, const char *code, const char *field)
{
	json_object *v;

	assert_int_equal(rep->status, 400);
	assert_non_null(rep->json);
	assert_true(json_object_object_get_ex(rep->json, "error", &v));
	assert_string_equal(json_object_get_string(v), code);
	assert_true(json_object_object_get_ex(rep->json, "detail", &v));
	assert_non_null(strstr(json_object_get_string(v), field));
	json_object_put(rep->json);
	memset(rep, 0, sizeof(*rep));
}

static void test_string(void **state)
{
	json_object *o = parse("{\"a\":\"hello\",\"n\":5,\"z\":null,\"nul\":\"x\\u0000y\","
			       "\"e\":\"\",\"arr\":[\"x\"]}");
	struct http_reply rep;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	assert_string_equal(json_field_string(o, "a", 1, 5, &rep), "hello");
	assert_int_equal(rep.status, 0);
	assert_string_equal(json_field_string(o, "e", 0, 5, &rep), "");
	assert_null(json_field_string(o, "missing", 1, 5, &rep));
	expect_error(&rep, "missing_field", "'missing'");
	assert_null(json_field_string(o, "z", 1, 5, &rep));
	expect_error(&rep, "missing_field", "'z'");
	assert_null(json_field_string(o, "n", 1, 5, &rep));
	expect_error(&rep, "bad_field", "'n' must be a string");
	assert_null(json_field_string(o, "arr", 1, 5, &rep));
	expect_error(&rep, "bad_field", "'arr'");
	assert_null(json_field_string(o, "a", 1, 4, &rep));
	expect_error(&rep, "bad_field", "'a' must be 1 to 4 bytes");
	assert_null(json_field_string(o, "a", 6, 10, &rep));
	expect_error(&rep, "bad_field", "'a'");
	assert_null(json_field_string(o, "nul", 0, 10, &rep));
	expect_error(&rep, "bad_field", "NUL");
	assert_null(json_field_string(NULL, "a", 0, 10, &rep));
	expect_error(&rep, "missing_field", "'a'");
	json_object_put(o);
}

static void test_int(void **state)
{
	json_object *o = parse("{\"i\":42,\"neg\":-7,\"d\":1.0,\"e\":1e3,\"s\":\"42\","
			       "\"huge\":99999999999999999999,\"b\":true}");
	struct http_reply rep;
	int64_t v = 123;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(json_field_int(o, "i", 0, 100, &v, &rep), 0);
	assert_int_equal(v, 42);
	assert_int_equal(json_field_int(o, "neg", -10, 0, &v, &rep), 0);
	assert_int_equal(v, -7);
	v = 123;
	assert_int_equal(json_field_int(o, "i", 0, 41, &v, &rep), -1);
	expect_error(&rep, "bad_field", "'i' must be from 0 to 41");
	assert_int_equal(json_field_int(o, "i", 43, 50, &v, &rep), -1);
	expect_error(&rep, "bad_field", "'i'");
	assert_int_equal(json_field_int(o, "d", 0, 100, &v, &rep), -1);
	expect_error(&rep, "bad_field", "'d' must be a whole number");
	assert_int_equal(json_field_int(o, "e", 0, 10000, &v, &rep), -1);
	expect_error(&rep, "bad_field", "'e'");
	assert_int_equal(json_field_int(o, "s", 0, 100, &v, &rep), -1);
	expect_error(&rep, "bad_field", "'s'");
	assert_int_equal(json_field_int(o, "b", 0, 100, &v, &rep), -1);
	expect_error(&rep, "bad_field", "'b'");
	/* Saturated by the parser: never taken for INT64_MAX. */
	assert_int_equal(json_field_int(o, "huge", 0, INT64_MAX - 1, &v, &rep), -1);
	expect_error(&rep, "bad_field", "'huge'");
	assert_int_equal(json_field_int(o, "none", 0, 1, &v, &rep), -1);
	expect_error(&rep, "missing_field", "'none'");
	assert_int_equal(v, 123);
	json_object_put(o);
}

static void test_bool(void **state)
{
	json_object *o = parse("{\"t\":true,\"f\":false,\"one\":1,\"s\":\"true\"}");
	struct http_reply rep;
	bool b = false;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(json_field_bool(o, "t", &b, &rep), 0);
	assert_true(b);
	assert_int_equal(json_field_bool(o, "f", &b, &rep), 0);
	assert_false(b);
	assert_int_equal(json_field_bool(o, "one", &b, &rep), -1);
	expect_error(&rep, "bad_field", "'one' must be true or false");
	assert_int_equal(json_field_bool(o, "s", &b, &rep), -1);
	expect_error(&rep, "bad_field", "'s'");
	assert_true(json_field_present(o, "t"));
	assert_false(json_field_present(o, "nope"));
	assert_false(json_field_present(NULL, "t"));
	json_object_put(o);
}

static void test_hex(void **state)
{
	json_object *o = parse("{\"k\":\"00ff10AB\",\"odd\":\"abc\",\"bad\":\"zz00\","
			       "\"empty\":\"\",\"n\":1234,\"sp\":\"00 1\"}");
	struct http_reply rep;
	uint8_t out[8];

	(void)state;
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(json_field_hex(o, "k", out, 4, 4, &rep), 4);
	assert_memory_equal(out, "\x00\xff\x10\xab", 4);
	assert_int_equal(json_field_hex(o, "k", out, 1, 8, &rep), 4);
	assert_int_equal(json_field_hex(o, "empty", out, 0, 8, &rep), 0);
	memset(out, 0x55, sizeof(out));
	assert_int_equal(json_field_hex(o, "k", out, 5, 5, &rep), -1);
	expect_error(&rep, "bad_field", "'k' must be 5 bytes as 10 hex digits");
	assert_int_equal(json_field_hex(o, "k", out, 1, 3, &rep), -1);
	expect_error(&rep, "bad_field", "'k' must be 1 to 3 bytes");
	assert_int_equal(json_field_hex(o, "odd", out, 0, 8, &rep), -1);
	expect_error(&rep, "bad_field", "'odd'");
	assert_int_equal(json_field_hex(o, "bad", out, 0, 8, &rep), -1);
	expect_error(&rep, "bad_field", "'bad'");
	assert_int_equal(json_field_hex(o, "sp", out, 0, 8, &rep), -1);
	expect_error(&rep, "bad_field", "'sp'");
	assert_int_equal(json_field_hex(o, "n", out, 0, 8, &rep), -1);
	expect_error(&rep, "bad_field", "'n'");
	assert_int_equal(json_field_hex(o, "x", out, 0, 8, &rep), -1);
	expect_error(&rep, "missing_field", "'x'");
	/* Nothing was written by any refusal. */
	assert_int_equal(out[0], 0x55);
	assert_int_equal(out[7], 0x55);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests_name("json-field", tests, NULL, NULL);
}
