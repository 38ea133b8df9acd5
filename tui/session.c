/*
 * session.c: the console's user at parkd (see session.h). Every request goes through
 * lib/apiclient; this file knows the routes and the shapes of their replies, and keeps
 * no secret but the session token, wiped when the session ends.
 */
#include "session.h"

#include <inttypes.h>
#include <libintl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#define SESSION_TIMEOUT_MS 10000
#define SESSION_CONNECT_MS 3000
#define SESSION_PATH_LEN 128

int session_open(struct session *s, const struct session_opts *o)
{
	struct apiclient_opts ao;

	memset(s, 0, sizeof(*s));
	memset(&ao, 0, sizeof(ao));
	ao.base_url = o->base_url;
	ao.ca_file = o->ca_file;
	ao.connect_timeout_ms = SESSION_CONNECT_MS;
	ao.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : SESSION_TIMEOUT_MS;
	s->api = apiclient_new(&ao);
	return s->api != NULL ? 0 : -1;
}

void session_close(struct session *s)
{
	session_logout(s);
	apiclient_free(s->api);
	s->api = NULL;
}

static bool session_int(json_object *o, const char *key, int64_t *out)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

static void session_role_add(struct session_roles *out, json_object *role)
{
	json_object *name;
	const char *n;
	int64_t id;

	if (!json_object_object_get_ex(role, "role", &name) ||
	    !json_object_is_type(name, json_type_string))
		return;
	n = json_object_get_string(name);
	if ((strcmp(n, "attendant") == 0 || strcmp(n, "admin") == 0) &&
	    session_int(role, "site_id", &id) && id > 0 && out->nstaff < SESSION_SITES_MAX)
		out->staff[out->nstaff++] = id;
	else if (strcmp(n, "admin") == 0 && !json_object_object_get_ex(role, "site_id", NULL))
		out->admin = true;
	else if (strcmp(n, "owner") == 0 && session_int(role, "spot_id", &id) && id > 0 &&
		 out->nowned < SESSION_SPOTS_MAX)
		out->owned[out->nowned++] = id;
}

int session_roles_parse(json_object *me, struct session_roles *out)
{
	json_object *roles, *admin;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	if (!session_int(me, "user_id", &out->user_id) ||
	    !json_object_object_get_ex(me, "roles", &roles) ||
	    !json_object_is_type(roles, json_type_array))
		return -1;
	if (json_object_object_get_ex(me, "admin", &admin) &&
	    json_object_is_type(admin, json_type_boolean))
		out->admin = json_object_get_boolean(admin);
	n = json_object_array_length(roles);
	for (i = 0; i < n; i++)
		session_role_add(out, json_object_array_get_idx(roles, i));
	return 0;
}

bool session_roles_staff(const struct session_roles *r, int64_t site_id)
{
	size_t i;

	if (r->admin)
		return true;
	for (i = 0; i < r->nstaff; i++)
		if (r->staff[i] == site_id)
			return true;
	return false;
}

static void session_reply_error(struct apiclient_error *err, const char *what)
{
	err->status = 0;
	err->code[0] = '\0';
	snprintf(err->detail, sizeof(err->detail), gettext("The server's reply to %s could not "
							   "be read."), what);
}

/* POST /v1/sessions on client c: the token into token[0..cap). 0 or a negative error. */
static int session_post_login(struct apiclient *c, const char *phone, const char *password,
			      char *token, size_t cap, struct apiclient_error *err)
{
	json_object *body = json_object_new_object(), *reply = NULL, *t;
	int r;

	json_object_object_add(body, "phone", json_object_new_string(phone));
	json_object_object_add(body, "password", json_object_new_string(password));
	r = apiclient_call(c, "POST", "/v1/sessions", body, 0, 0, &reply, err);
	json_object_put(body);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(reply, "token", &t) ||
	    !json_object_is_type(t, json_type_string) ||
	    strlen(json_object_get_string(t)) >= cap || apiclient_set_token(c,
					json_object_get_string(t)) != 0) {
		json_object_put(reply);
		session_reply_error(err, "POST /v1/sessions");
		return -APICLIENT_E_REPLY;
	}
	snprintf(token, cap, "%s", json_object_get_string(t));
	json_object_put(reply);
	return 0;
}

/* GET /v1/me on c into *roles. 0 or a negative error. */
static int session_me(struct apiclient *c, struct session_roles *roles,
		      struct apiclient_error *err)
{
	json_object *me = NULL;
	int r = apiclient_call(c, "GET", "/v1/me", NULL, 0, 0, &me, err);

	if (r < 0)
		return r;
	r = session_roles_parse(me, roles);
	json_object_put(me);
	if (r != 0) {
		session_reply_error(err, "GET /v1/me");
		return -APICLIENT_E_REPLY;
	}
	return 0;
}

int session_login(struct session *s, const char *phone, const char *password,
		  struct apiclient_error *err)
{
	int r;

	session_logout(s);
	r = session_post_login(s->api, phone, password, s->token, sizeof(s->token), err);
	if (r == 0)
		r = session_me(s->api, &s->roles, err);
	if (r != 0) {
		session_logout(s);
		return r;
	}
	snprintf(s->phone, sizeof(s->phone), "%s", phone);
	return 0;
}

/* The site of spot `id` (GET /v1/spots/ID). 0 with *site, or a negative error. */
static int session_spot_site(struct session *s, int64_t id, int64_t *site,
			     struct apiclient_error *err)
{
	json_object *o = NULL;
	int r = session_spot(s, id, &o, err);

	if (r == 0 && !session_int(o, "site_id", site)) {
		session_reply_error(err, "GET /v1/spots");
		r = -APICLIENT_E_REPLY;
	}
	json_object_put(o);
	return r;
}

/* The site of the first spot GET /v1/spots lists; 0 with *site, or a negative error. */
static int session_first_site(struct session *s, int64_t *site, struct apiclient_error *err)
{
	json_object *o = NULL, *spots;
	int r = apiclient_call(s->api, "GET", "/v1/spots", NULL, 0, 0, &o, err);

	if (r < 0)
		return r;
	r = -SESSION_E_NOSITE;
	if (json_object_object_get_ex(o, "spots", &spots) &&
	    json_object_is_type(spots, json_type_array) && json_object_array_length(spots) > 0 &&
	    session_int(json_object_array_get_idx(spots, 0), "site_id", site))
		r = 0;
	json_object_put(o);
	return r;
}

int session_pick_site(struct session *s, int64_t wanted, struct apiclient_error *err)
{
	int64_t site = wanted;
	int r = 0;

	if (site == 0 && s->roles.nstaff > 0)
		site = s->roles.staff[0];
	else if (site == 0 && s->roles.nowned > 0)
		r = session_spot_site(s, s->roles.owned[0], &site, err);
	else if (site == 0 && s->roles.admin)
		r = session_first_site(s, &site, err);
	if (r != 0)
		return r;
	if (site == 0)
		return -SESSION_E_NOSITE;
	s->site_id = site;
	s->staff = session_roles_staff(&s->roles, site);
	return 0;
}

void session_logout(struct session *s)
{
	struct apiclient_error err;

	if (s->token[0] != '\0' && s->api != NULL)
		(void)apiclient_call(s->api, "DELETE", "/v1/sessions/current", NULL, 0, 0, NULL,
				     &err);
	if (s->api != NULL)
		(void)apiclient_set_token(s->api, NULL);
	OPENSSL_cleanse(s->token, sizeof(s->token));
	memset(&s->roles, 0, sizeof(s->roles));
	s->site_id = 0;
	s->staff = false;
}

/* GET `path` into *out: 0, or a negative error (a reply that is no object included). */
static int session_get(struct session *s, const char *path, json_object **out,
		       struct apiclient_error *err)
{
	int r;

	*out = NULL;
	r = apiclient_call(s->api, "GET", path, NULL, 0, 0, out, err);
	if (r >= 0 && *out == NULL) {
		session_reply_error(err, path);
		return -APICLIENT_E_REPLY;
	}
	return r < 0 ? r : 0;
}

int session_spot(struct session *s, int64_t spot, json_object **out,
		 struct apiclient_error *err)
{
	char path[SESSION_PATH_LEN];

	snprintf(path, sizeof(path), "/v1/spots/%" PRId64, spot);
	return session_get(s, path, out, err);
}

int session_alarms(struct session *s, json_object **out, struct apiclient_error *err)
{
	char path[SESSION_PATH_LEN];

	snprintf(path, sizeof(path), "/v1/sites/%" PRId64 "/alarms", s->site_id);
	return session_get(s, path, out, err);
}

int session_ack(struct session *s, int64_t alarm_id, const char *note,
		struct apiclient_error *err)
{
	char path[SESSION_PATH_LEN];
	json_object *body = json_object_new_object(), *reply = NULL;
	int r;

	snprintf(path, sizeof(path), "/v1/sites/%" PRId64 "/alarms/%" PRId64 "/ack",
		 s->site_id, alarm_id);
	json_object_object_add(body, "note", json_object_new_string(note));
	r = apiclient_call(s->api, "POST", path, body, 0, 0, &reply, err);
	json_object_put(body);
	json_object_put(reply);
	return r < 0 ? r : 0;
}

int session_spot_keys(struct session *s, int64_t spot, json_object **out,
		      struct apiclient_error *err)
{
	char path[SESSION_PATH_LEN];

	snprintf(path, sizeof(path), "/v1/spots/%" PRId64 "/keys", spot);
	return session_get(s, path, out, err);
}

int session_shares(struct session *s, json_object **out, struct apiclient_error *err)
{
	return session_get(s, "/v1/shares", out, err);
}

int session_act(struct session *s, const struct action *a, const char *code,
		struct apiclient_error *err)
{
	char path[ACTION_PATH_LEN];
	json_object *body = NULL, *reply = NULL;
	const char *method = NULL;
	int r;

	if (action_request(a, code, &method, path, sizeof(path), &body) != 0) {
		json_object_put(body);
		memset(err, 0, sizeof(*err));
		snprintf(err->detail, sizeof(err->detail), "%s", gettext("The console cannot "
									 "make this request."));
		return -APICLIENT_E_ARG;
	}
	r = apiclient_call(s->api, method, path, body, 0, 0, &reply, err);
	json_object_put(body);
	json_object_put(reply);
	return r;
}

int session_verify_staff(const struct session_opts *o, const char *phone,
			 const char *password, int64_t site_id, struct apiclient_error *err)
{
	struct session v;
	int r;

	if (session_open(&v, o) != 0) {
		session_reply_error(err, "POST /v1/sessions");
		return -APICLIENT_E_ARG;
	}
	r = session_login(&v, phone, password, err);
	/* Before a site is known (the login screen), staff of any site will do. */
	if (r == 0 && !(site_id != 0 ? session_roles_staff(&v.roles, site_id) :
			v.roles.admin || v.roles.nstaff > 0))
		r = -SESSION_E_NOTSTAFF;
	session_close(&v);
	return r;
}
