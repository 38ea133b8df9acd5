/*
 * test-tui-text.c: tui/text through its public API, in a UTF-8 locale: Chinese counts
 * two columns a character, cutting keeps whole characters and marks the cut, bytes that
 * are not UTF-8 and control characters are shown as '?', the search ignores ASCII case, blank includes the ideographic space, backspace takes
 * a whole character, and typed characters are encoded (controls refused).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "../../tui/text.h"

static void test_width(void **state)
{
	(void)state;
	assert_int_equal(text_width(NULL), 0);
	assert_int_equal(text_width(""), 0);
	assert_int_equal(text_width("B1-01"), 5);
	assert_int_equal(text_width("东区-04"), 7);
	assert_int_equal(text_width("a\xff" "b"), 3); /* a stray byte: one '?' */
	assert_int_equal(text_width("a\tb"), 3);     /* a control: one '?' */
}

static void test_fit(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(text_fit("B1-01", 10, true, out, sizeof(out)), 5);
	assert_string_equal(out, "B1-01");
	assert_int_equal(text_fit("B1-01", 3, false, out, sizeof(out)), 3);
	assert_string_equal(out, "B1-");
	assert_int_equal(text_fit("B1-01", 3, true, out, sizeof(out)), 3);
	assert_string_equal(out, "B1\xe2\x80\xa6");
	/* A wide character that would straddle the edge is left out whole. */
	assert_int_equal(text_fit("东区东区", 5, false, out, sizeof(out)), 4);
	assert_string_equal(out, "东区");
	assert_int_equal(text_fit("东区东区", 5, true, out, sizeof(out)), 5);
	assert_string_equal(out, "东区\xe2\x80\xa6");
	assert_int_equal(text_fit("a\x01" "b\xc3", 10, true, out, sizeof(out)), 4);
	assert_string_equal(out, "a?b?");
	assert_int_equal(text_fit("abc", 0, true, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* The buffer's size bounds it too. */
	assert_int_equal(text_fit("东区东区", 10, false, out, 7), 4);
	assert_string_equal(out, "东区");
	assert_int_equal(text_fit("东区东区", 10, false, out, 6), 2);
	assert_string_equal(out, "东");
	assert_int_equal(text_fit(NULL, 10, true, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void test_contains_blank(void **state)
{
	(void)state;
	assert_true(text_contains("B1-01", "b1"));
	assert_true(text_contains("东区-04", "东区"));
	assert_true(text_contains("x", ""));
	assert_true(text_contains("x", NULL));
	assert_false(text_contains("B1-01", "B2"));
	assert_false(text_contains(NULL, "a"));
	assert_false(text_contains("ab", "abc"));
	assert_true(text_blank(NULL));
	assert_true(text_blank(""));
	assert_true(text_blank(" \t\xe3\x80\x80 "));
	assert_false(text_blank(" a "));
	assert_false(text_blank("\xe3\x80"));
}

static void test_edit(void **state)
{
	char s[8] = "a";

	(void)state;
	assert_int_equal(text_append_wchar(s, sizeof(s), 0x4e1c), 0); /* 东 */
	assert_string_equal(s, "a东");
	assert_int_equal(text_append_wchar(s, sizeof(s), 0x1f697), -1); /* 4 bytes: no room */
	assert_int_equal(text_append_wchar(s, sizeof(s), 0xe9), 0);
	assert_string_equal(s, "a东\xc3\xa9");
	assert_int_equal(text_append_wchar(s, sizeof(s), '\n'), -1);
	assert_int_equal(text_append_wchar(s, sizeof(s), 0x7f), -1);
	assert_int_equal(text_append_wchar(s, sizeof(s), 0x85), -1);
	assert_int_equal(text_append_wchar(s, sizeof(s), 0xd800), -1);
	assert_int_equal(text_append_wchar(s, sizeof(s), 0x110000), -1);
	text_backspace(s);
	assert_string_equal(s, "a东");
	text_backspace(s);
	assert_string_equal(s, "a");
	text_backspace(s);
	text_backspace(s);
	assert_string_equal(s, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_contains_blank),
		cmocka_unit_test(test_edit),
	};

	if (setlocale(LC_ALL, "C.UTF-8") == NULL) {
		fprintf(stderr, "test-tui-text: the C.UTF-8 locale is missing\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
