/*
 * cmd-account.c: the account commands of parkphoned: register (an SMS code is sent),
 * verify (the code and a password make the account), login, logout, whoami. Passwords
 * pass through to the server and are never stored or logged.
 */
#include <libintl.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../lib/log.h"
#include "cmd.h"
#include "ctlproto.h"

#define _(s) gettext(s)
#define PASSWORD_MAX 256
#define CODE_MAX 16

/* {"phone": ..} plus more members: the body most account calls send. */
static json_object *phone_body(const char *phone)
{
	json_object *b = json_object_new_object();

	json_object_object_add(b, "phone", json_object_new_string(phone));
	return b;
}

/* Adds the reply's "<name>" string member, wiped from memory when done with. */
static void add_secret(json_object *b, const char *name, char *secret, size_t cap)
{
	json_object_object_add(b, name, json_object_new_string(secret));
	OPENSSL_cleanse(secret, cap);
}

json_object *cmd_register(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	char phone[32];
	json_object *err = NULL, *body, *r;

	(void)conn;
	if (cmd_string(req, "phone", phone, sizeof(phone), &err) != 0)
		return err;
	body = phone_body(phone);
	r = phoned_api_call(d, "POST", "/v1/accounts", body, 0, &err);
	json_object_put(body);
	if (r == NULL)
		return err;
	json_object_put(r);
	r = ctl_ok();
	json_object_object_add(r, "detail", json_object_new_string(
				       _("a verification code is on its way by SMS: go on with "
					 "'parkctl verify PHONE CODE'")));
	return r;
}

json_object *cmd_verify(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	char phone[32], code[CODE_MAX], password[PASSWORD_MAX];
	json_object *err = NULL, *body, *r, *v, *out;

	(void)conn;
	if (cmd_string(req, "phone", phone, sizeof(phone), &err) != 0 ||
	    cmd_string(req, "code", code, sizeof(code), &err) != 0 ||
	    cmd_string(req, "password", password, sizeof(password), &err) != 0) {
		OPENSSL_cleanse(password, sizeof(password));
		return err;
	}
	body = phone_body(phone);
	json_object_object_add(body, "code", json_object_new_string(code));
	add_secret(body, "password", password, sizeof(password));
	r = phoned_api_call(d, "POST", "/v1/accounts/verify", body, 0, &err);
	json_object_put(body);
	if (r == NULL)
		return err;
	out = ctl_ok();
	if (json_object_object_get_ex(r, "user_id", &v))
		json_object_object_add(out, "user_id", json_object_get(v));
	json_object_put(r);
	return out;
}

json_object *cmd_login(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	char phone[32], password[PASSWORD_MAX];
	struct phoned_session s;
	json_object *err = NULL, *body, *r, *tok, *exp, *me, *v, *out;
	const char *t;

	(void)conn;
	if (cmd_string(req, "phone", phone, sizeof(phone), &err) != 0 ||
	    cmd_string(req, "password", password, sizeof(password), &err) != 0) {
		OPENSSL_cleanse(password, sizeof(password));
		return err;
	}
	body = phone_body(phone);
	add_secret(body, "password", password, sizeof(password));
	r = phoned_api_call(d, "POST", "/v1/sessions", body, 0, &err);
	json_object_put(body);
	if (r == NULL)
		return err;
	memset(&s, 0, sizeof(s));
	if (!json_object_object_get_ex(r, "token", &tok) ||
	    (t = json_object_get_string(tok)) == NULL || strlen(t) >= sizeof(s.token) ||
	    t[0] == '\0') {
		json_object_put(r);
		return ctl_error("server_error", _("the server's login answer has no token"));
	}
	strcpy(s.token, t);
	snprintf(s.phone, sizeof(s.phone), "%s", phone);
	if (json_object_object_get_ex(r, "expires_at", &exp))
		s.expires_at = json_object_get_int64(exp);
	json_object_put(r);
	if (phoned_session_set(d, &s) != 0)
		return ctl_error("internal", _("cannot write the session file in %s"),
				 d->cfg.paths.data_dir);
	out = ctl_ok();
	me = phoned_api_call(d, "GET", "/v1/me", NULL, 0, &err);
	if (me != NULL && json_object_object_get_ex(me, "user_id", &v)) {
		s.user_id = json_object_get_int64(v);
		(void)phoned_session_set(d, &s);
		json_object_object_add(out, "user_id", json_object_new_int64(s.user_id));
	}
	json_object_put(me);
	json_object_put(err);
	json_object_object_add(out, "phone", json_object_new_string(phone));
	json_object_object_add(out, "expires_at", json_object_new_int64(s.expires_at));
	log_info("logged in as %s", phone);
	return out;
}

json_object *cmd_logout(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	struct phoned_session none;
	json_object *err = NULL, *r, *out;

	(void)req;
	(void)conn;
	if (!phoned_session_get(d, NULL))
		return ctl_ok(); /* already */
	r = phoned_api_call(d, "DELETE", "/v1/sessions/current", NULL, 0, &err);
	memset(&none, 0, sizeof(none));
	if (phoned_session_set(d, &none) != 0)
		return ctl_error("internal", _("cannot remove the session file in %s"),
				 d->cfg.paths.data_dir);
	out = ctl_ok();
	/* Forgotten here either way; the server ends it too when it can be reached. */
	json_object_object_add(out, "server_ended", json_object_new_boolean(r != NULL));
	json_object_put(r);
	json_object_put(err);
	return out;
}

json_object *cmd_whoami(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	json_object *err = NULL, *me, *out;

	(void)req;
	(void)conn;
	me = phoned_api_call(d, "GET", "/v1/me", NULL, 0, &err);
	if (me == NULL)
		return err;
	out = ctl_ok();
	json_object_object_add(out, "me", me);
	return out;
}
