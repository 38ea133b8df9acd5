/*
 * test-tui-prompt.c: tui/prompt through its public API: typing, backspace over a whole
 * Chinese character, Ctrl-U, Enter submits, Escape cancels and wipes, a one-key prompt
 * submits on its key, refusals are kept and can clear the text, and a closed prompt
 * ignores everything.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../tui/prompt.h"

static void test_typing(void **state)
{
	struct prompt p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_false(prompt_active(&p));
	assert_int_equal(prompt_type(&p, 'x'), PROMPT_EDITING);
	assert_string_equal(p.text, "");
	prompt_open(&p, PROMPT_OVERRIDE_REASON, "Why?", false);
	assert_true(prompt_active(&p));
	assert_string_equal(p.title, "Why?");
	prompt_type(&p, 'o');
	prompt_type(&p, 'k');
	prompt_type(&p, 0x6ca1); /* 没 */
	prompt_type(&p, '\t');   /* a control: ignored */
	assert_string_equal(p.text, "ok没");
	assert_int_equal(prompt_edit(&p, PROMPT_KEY_BACKSPACE), PROMPT_EDITING);
	assert_string_equal(p.text, "ok");
	assert_int_equal(prompt_edit(&p, PROMPT_KEY_ENTER), PROMPT_SUBMITTED);
	prompt_refuse(&p, "too short", false);
	assert_string_equal(p.error, "too short");
	assert_string_equal(p.text, "ok");
	prompt_refuse(&p, "again", true);
	assert_string_equal(p.text, "");
	prompt_type(&p, 'a');
	assert_int_equal(prompt_edit(&p, PROMPT_KEY_KILL), PROMPT_EDITING);
	assert_string_equal(p.text, "");
	prompt_type(&p, 'a');
	assert_int_equal(prompt_edit(&p, PROMPT_KEY_ESCAPE), PROMPT_CANCELLED);
	assert_false(prompt_active(&p));
	assert_string_equal(p.text, "");
}

static void test_full(void **state)
{
	struct prompt p;
	size_t i;

	(void)state;
	memset(&p, 0, sizeof(p));
	prompt_open(&p, PROMPT_FIND, "Find", false);
	for (i = 0; i < PROMPT_TEXT_LEN * 2; i++)
		prompt_type(&p, 0x4e1c);
	assert_true(strlen(p.text) < PROMPT_TEXT_LEN);
	assert_int_equal(strlen(p.text) % 3, 0); /* whole characters only */
	prompt_close(&p);
}

static void test_one_key(void **state)
{
	struct prompt p;

	(void)state;
	memset(&p, 0, sizeof(p));
	prompt_open(&p, PROMPT_OVERRIDE_OP, "u or l", false);
	assert_true(p.one_key);
	assert_int_equal(prompt_edit(&p, PROMPT_KEY_ENTER), PROMPT_EDITING);
	assert_int_equal(prompt_type(&p, 'u'), PROMPT_SUBMITTED);
	assert_string_equal(p.text, "u");
	assert_int_equal(prompt_type(&p, 'l'), PROMPT_SUBMITTED);
	assert_string_equal(p.text, "l");
	assert_int_equal(prompt_type(&p, 3), PROMPT_EDITING);
	/* A yes-or-no question before a decisive action is one key too. */
	prompt_open(&p, PROMPT_CONFIRM, "Remove? y yes", false);
	assert_true(p.one_key);
	assert_int_equal(prompt_type(&p, 'n'), PROMPT_SUBMITTED);
	assert_string_equal(p.text, "n");
	/* A one-time code is typed and submitted with Enter. */
	prompt_open(&p, PROMPT_OTP, "Code", false);
	assert_false(p.one_key);
	assert_int_equal(prompt_type(&p, '1'), PROMPT_EDITING);
	prompt_open(&p, PROMPT_EXIT_PASSWORD, "Password", true);
	assert_true(p.secret);
	assert_false(p.one_key);
	assert_string_equal(p.text, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typing),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_one_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
