/*
 * action.c: the console's decisive actions (see action.h), one row each. The questions
 * and the news are messages with one "%s", the action's target, filled in here rather
 * than by printf: the table's strings are data, and the check of their translations
 * against it is msgfmt's (c-format).
 */
#include "action.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "i18n.h"

static const struct {
	const char *method;
	const char *prefix, *suffix;  /* the path is prefix, the ID, suffix */
	const char *op;               /* an override's "op", or NULL */
	const char *question;         /* N_(), one %s: the target */
	const char *done;             /* N_(), one %s: the target */
} action_table[ACTION_KINDS] = {
	[ACTION_APPROVE] = { "POST", "/v1/shares/", "/approve", NULL,
			     N_("One-time code to approve %s"),
			     N_("Approved %s; the recipient's phone gets it when it syncs.") },
	[ACTION_DENY] = { "POST", "/v1/shares/", "/deny", NULL,
			  N_("One-time code to refuse %s"),
			  N_("Refused %s; it never reaches the lock.") },
	[ACTION_FREEZE] = { "POST", "/v1/shares/", "/freeze", NULL,
			    N_("One-time code to freeze %s"),
			    N_("Froze %s; the lock refuses it once the revocation list reaches "
			       "it.") },
	[ACTION_UNFREEZE] = { "POST", "/v1/shares/", "/unfreeze", NULL,
			      N_("One-time code to unfreeze %s"),
			      N_("Unfroze %s; it is sent to the lock again.") },
	[ACTION_REMOVE] = { "DELETE", "/v1/shares/", "", NULL,
			    N_("One-time code to remove %s"),
			    N_("Removed %s.") },
	[ACTION_REVOKE] = { "POST", "/v1/keys/", "/revoke", NULL,
			    N_("One-time code to revoke %s"),
			    N_("Revoked %s, and its shares with it.") },
	[ACTION_UNLOCK] = { "POST", "/v1/spots/", "/override", "unlock",
			    N_("One-time code to unlock %s"),
			    N_("Unlock of %s sent; the lock acts when its gateway delivers it.") },
	[ACTION_LOCK] = { "POST", "/v1/spots/", "/override", "lock",
			  N_("One-time code to lock %s"),
			  N_("Lock of %s sent; the lock acts when its gateway delivers it.") },
};

void action_init(struct action *a, enum action_kind kind, int64_t id, const char *what)
{
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->id = id;
	snprintf(a->what, sizeof(a->what), "%s", what != NULL ? what : "");
}

int action_request(const struct action *a, const char *code, const char **method, char *path,
		   size_t cap, json_object **body)
{
	int n;

	*body = NULL;
	if ((unsigned)a->kind >= ACTION_KINDS)
		return -1;
	n = snprintf(path, cap, "%s%" PRId64 "%s", action_table[a->kind].prefix, a->id,
		     action_table[a->kind].suffix);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	*method = action_table[a->kind].method;
	*body = json_object_new_object();
	if (action_table[a->kind].op != NULL) {
		json_object_object_add(*body, "op", json_object_new_string(
					       action_table[a->kind].op));
		json_object_object_add(*body, "reason", json_object_new_string(a->reason));
	}
	if (code != NULL)
		json_object_object_add(*body, "otp", json_object_new_string(code));
	return 0;
}

enum action_result action_result(int r, const struct apiclient_error *err)
{
	if (r >= 0)
		return ACTION_DONE;
	if (r != -APICLIENT_E_HTTP || err->status != 401)
		return ACTION_FAILED;
	if (strcmp(err->code, "otp_required") == 0)
		return ACTION_CODE_NEEDED;
	if (strcmp(err->code, "otp_wrong") == 0)
		return ACTION_CODE_WRONG;
	if (strcmp(err->code, "otp_replayed") == 0)
		return ACTION_CODE_USED;
	return ACTION_FAILED;
}

bool action_code_parse(const char *text, char code[ACTION_CODE_LEN])
{
	size_t n = 0;

	code[0] = '\0';
	if (text == NULL)
		return false;
	for (; *text != '\0'; text++) {
		if (*text == ' ')
			continue;
		if (*text < '0' || *text > '9' || n == ACTION_CODE_LEN - 1) {
			code[0] = '\0';
			return false;
		}
		code[n++] = *text;
	}
	code[n] = '\0';
	if (n != ACTION_CODE_LEN - 1) {
		code[0] = '\0';
		return false;
	}
	return true;
}

/* The translated template with its one "%s" replaced by `what`, into buf. */
static const char *action_fill(const char *templ, const char *what, char *buf, size_t cap)
{
	const char *at = strstr(templ, "%s");

	if (at == NULL)
		snprintf(buf, cap, "%s", templ);
	else
		snprintf(buf, cap, "%.*s%s%s", (int)(at - templ), templ, what, at + 2);
	return buf;
}

const char *action_code_question(const struct action *a, char *buf, size_t cap)
{
	if ((unsigned)a->kind >= ACTION_KINDS) {
		snprintf(buf, cap, "%s", a->what);
		return buf;
	}
	return action_fill(_(action_table[a->kind].question), a->what, buf, cap);
}

const char *action_done_message(const struct action *a, char *buf, size_t cap)
{
	if ((unsigned)a->kind >= ACTION_KINDS) {
		snprintf(buf, cap, "%s", a->what);
		return buf;
	}
	return action_fill(_(action_table[a->kind].done), a->what, buf, cap);
}
