/*
 * prompt.c: the one-line text field (see prompt.h). Secrets typed into it are wiped when
 * it closes or is cleared.
 */
#include "prompt.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

void prompt_open(struct prompt *p, enum prompt_purpose purpose, const char *title, bool secret)
{
	prompt_close(p);
	p->purpose = purpose;
	p->secret = secret;
	p->one_key = purpose == PROMPT_OVERRIDE_OP || purpose == PROMPT_CONFIRM;
	snprintf(p->title, sizeof(p->title), "%s", title);
}

void prompt_close(struct prompt *p)
{
	OPENSSL_cleanse(p->text, sizeof(p->text));
	memset(p, 0, sizeof(*p));
}

bool prompt_active(const struct prompt *p)
{
	return p->purpose != PROMPT_NONE;
}

enum prompt_result prompt_type(struct prompt *p, unsigned long wc)
{
	if (!prompt_active(p))
		return PROMPT_EDITING;
	if (p->one_key) {
		p->text[0] = '\0';
		if (text_append_wchar(p->text, sizeof(p->text), wc) != 0)
			return PROMPT_EDITING;
		return PROMPT_SUBMITTED;
	}
	(void)text_append_wchar(p->text, sizeof(p->text), wc);
	return PROMPT_EDITING;
}

enum prompt_result prompt_edit(struct prompt *p, enum prompt_edit_key key)
{
	if (!prompt_active(p))
		return PROMPT_EDITING;
	switch (key) {
	case PROMPT_KEY_ENTER:
		return p->one_key ? PROMPT_EDITING : PROMPT_SUBMITTED;
	case PROMPT_KEY_ESCAPE:
		prompt_close(p);
		return PROMPT_CANCELLED;
	case PROMPT_KEY_BACKSPACE:
		text_backspace(p->text);
		return PROMPT_EDITING;
	case PROMPT_KEY_KILL:
		OPENSSL_cleanse(p->text, sizeof(p->text));
		p->text[0] = '\0';
		return PROMPT_EDITING;
	}
	return PROMPT_EDITING;
}

void prompt_refuse(struct prompt *p, const char *error, bool clear)
{
	snprintf(p->error, sizeof(p->error), "%s", error);
	if (clear)
		prompt_edit(p, PROMPT_KEY_KILL);
}
