/*
 * ctl-account.c: parkctl's account verbs: register, verify, login, logout, whoami,
 * status. Passwords come from --password-file or a prompt with no echo, and are wiped
 * from memory once sent.
 */
#include <libintl.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "parkctl.h"

#define _(s) gettext(s)
#define N_(s) s
#define PASSWORD_MAX 256

struct password_state {
	const char *file;
};

static const struct cli_option password_opts[] = {
	{ "password-file", 'p', "FILE", N_("read the password from FILE's first line") },
};

static int password_option(void *state, int row, const char *arg)
{
	struct password_state *s = state;

	(void)row;
	s->file = arg;
	return 0;
}

/* Prints a reply's success: the JSON, or `text` when it is not NULL. */
static int done(struct parkctl *pc, json_object *r, const char *text)
{
	int rc = 0;

	if (r == NULL)
		return 1;
	if (pc->json)
		rc = parkctl_print_json(r);
	else if (text != NULL)
		printf("%s\n", text);
	json_object_put(r);
	return rc;
}

static int run_register(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	json_object *req = parkctl_request("register"), *r;

	(void)state;
	(void)nargs;
	json_object_object_add(req, "phone", json_object_new_string(args[0]));
	r = parkctl_call(pc, req);
	return done(pc, r, _("A verification code is on its way by SMS: go on with 'parkctl "
			     "verify PHONE CODE'."));
}

/* Adds the password to req (wiped here), or fails. */
static int add_password(json_object *req, const char *file)
{
	char pw[PASSWORD_MAX];

	if (parkctl_password(file, pw, sizeof(pw)) != 0) {
		OPENSSL_cleanse(pw, sizeof(pw));
		return -1;
	}
	json_object_object_add(req, "password", json_object_new_string(pw));
	OPENSSL_cleanse(pw, sizeof(pw));
	return 0;
}

static int run_verify(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	struct password_state *s = state;
	json_object *req = parkctl_request("verify"), *r;

	(void)nargs;
	json_object_object_add(req, "phone", json_object_new_string(args[0]));
	json_object_object_add(req, "code", json_object_new_string(args[1]));
	if (add_password(req, s->file) != 0) {
		json_object_put(req);
		return 1;
	}
	r = parkctl_call(pc, req);
	return done(pc, r, _("The account is ready: log in with 'parkctl login PHONE'."));
}

static int run_login(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	struct password_state *s = state;
	json_object *req = parkctl_request("login"), *r;
	char text[128];

	(void)nargs;
	json_object_object_add(req, "phone", json_object_new_string(args[0]));
	if (add_password(req, s->file) != 0) {
		json_object_put(req);
		return 1;
	}
	r = parkctl_call(pc, req);
	snprintf(text, sizeof(text), _("Logged in as %s."), args[0]);
	return done(pc, r, text);
}

static int run_logout(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	(void)state;
	(void)args;
	(void)nargs;
	return done(pc, parkctl_call(pc, parkctl_request("logout")), _("Logged out."));
}

static int run_whoami(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	json_object *r = parkctl_call(pc, parkctl_request("whoami")), *me = NULL, *roles;
	size_t i;

	(void)state;
	(void)args;
	(void)nargs;
	if (r == NULL || pc->json)
		return done(pc, r, NULL);
	(void)json_object_object_get_ex(r, "me", &me);
	printf(_("%s, user %lld"), parkctl_str(me, "phone"), parkctl_int(me, "user_id"));
	if (me != NULL && json_object_object_get_ex(me, "roles", &roles) &&
	    json_object_array_length(roles) > 0) {
		printf(_("; roles:"));
		for (i = 0; i < json_object_array_length(roles); i++)
			printf(" %s", json_object_to_json_string_ext(
					      json_object_array_get_idx(roles, i),
					      JSON_C_TO_STRING_PLAIN));
	}
	printf("\n");
	return done(pc, r, NULL);
}

static int run_status(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	json_object *r = parkctl_call(pc, parkctl_request("status")), *v;
	bool in = false, up = false;

	(void)state;
	(void)args;
	(void)nargs;
	if (r == NULL || pc->json)
		return done(pc, r, NULL);
	if (json_object_object_get_ex(r, "logged_in", &v))
		in = json_object_get_boolean(v);
	if (json_object_object_get_ex(r, "server_up", &v))
		up = json_object_get_boolean(v);
	printf(_("server %s (%s), transport %s, %lld keys; %s\n"), parkctl_str(r, "server"),
	       up ? _("following its events") : _("not connected"), parkctl_str(r, "transport"),
	       parkctl_int(r, "keys"), in ? parkctl_str(r, "phone") : _("not logged in"));
	return done(pc, r, NULL);
}

const struct parkctl_verb parkctl_verb_register = {
	"register", "PHONE", N_("Ask for an account: an SMS code is sent to PHONE"), 1, 1,
	NULL, 0, NULL, 0, run_register,
};
const struct parkctl_verb parkctl_verb_verify = {
	"verify", "PHONE CODE", N_("Make the account with the SMS code and a password"), 2, 2,
	password_opts, 1, password_option, sizeof(struct password_state), run_verify,
};
const struct parkctl_verb parkctl_verb_login = {
	"login", "PHONE", N_("Log in: the daemon keeps the session"), 1, 1,
	password_opts, 1, password_option, sizeof(struct password_state), run_login,
};
const struct parkctl_verb parkctl_verb_logout = {
	"logout", "", N_("Log out: the session ends here and at the server"), 0, 0,
	NULL, 0, NULL, 0, run_logout,
};
const struct parkctl_verb parkctl_verb_whoami = {
	"whoami", "", N_("Show the account logged in"), 0, 0, NULL, 0, NULL, 0, run_whoami,
};
const struct parkctl_verb parkctl_verb_status = {
	"status", "", N_("Show the daemon's server, transport, keys and session"), 0, 0,
	NULL, 0, NULL, 0, run_status,
};
