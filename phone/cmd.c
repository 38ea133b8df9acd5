/*
 * cmd.c: the command table of parkphoned, request parsing, and the field helpers the
 * handlers share; see cmd.h.
 */
#include "cmd.h"

#include <libintl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"

#define _(s) gettext(s)

const struct phoned_cmd phoned_cmds[] = {
	{ "status", cmd_status, false },
	{ "register", cmd_register, false },
	{ "verify", cmd_verify, false },
	{ "login", cmd_login, false },
	{ "logout", cmd_logout, false },
	{ "whoami", cmd_whoami, true },
	{ "spots", cmd_spots, true },
	{ "key", cmd_key, true },
	{ "keys", cmd_keys, false },
	{ "unlock", cmd_unlock, false }, /* offline too: the lock checks the key alone */
	{ "lock", cmd_lock, false },
	{ "map", cmd_map, false },       /* offline: the cached map */
	{ "events", cmd_events, false },
	{ "share", cmd_share, true },
	{ "shares", cmd_shares, true },
	{ "revoke", cmd_revoke, true },
	{ "approve", cmd_approve, true },
	{ "deny", cmd_deny, true },
	{ "freeze", cmd_freeze, true },
	{ "unfreeze", cmd_unfreeze, true },
	{ "policy", cmd_policy, true },
	{ "otp", cmd_otp, true },
	{ NULL, NULL, false },
};

const struct phoned_cmd *phoned_cmd_find(const char *name)
{
	const struct phoned_cmd *c;

	for (c = phoned_cmds; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

json_object *phoned_handle_line(struct phoned *d, const char *line, size_t len,
				struct phoned_conn *conn)
{
	const struct phoned_cmd *c;
	json_object *req, *v, *reply;
	const char *name;

	if (strlen(line) != len)
		return ctl_error("bad_json", _("the request holds a NUL byte: send one JSON "
					       "object per line"));
	req = json_tokener_parse(line);
	if (req == NULL || !json_object_is_type(req, json_type_object)) {
		json_object_put(req);
		return ctl_error("bad_json", _("the request is not a JSON object: send one JSON "
					       "object per line, e.g. {\"cmd\":\"status\"}"));
	}
	if (!json_object_object_get_ex(req, "cmd", &v) || !json_object_is_type(v, json_type_string)) {
		json_object_put(req);
		return ctl_error("bad_request", _("the request has no \"cmd\" string"));
	}
	name = json_object_get_string(v);
	c = phoned_cmd_find(name);
	if (c == NULL)
		reply = ctl_error("unknown_command", _("there is no command \"%.40s\"; see "
						       "phone/CONTROL.md"), name);
	else if (c->needs_session && !phoned_session_get(d, NULL))
		reply = ctl_error("no_session", _("not logged in: log in with 'parkctl login "
						  "PHONE'"));
	else
		reply = c->fn(d, req, conn);
	json_object_put(req);
	return reply;
}

int cmd_opt_string(json_object *req, const char *name, char *out, size_t cap,
		   json_object **err)
{
	json_object *v;
	const char *s;

	out[0] = '\0';
	if (!json_object_object_get_ex(req, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    strlen(s = json_object_get_string(v)) >= cap) {
		*err = ctl_error("bad_request", _("\"%s\" must be a string of at most %zu bytes"),
				 name, cap - 1);
		return -1;
	}
	strcpy(out, s);
	return 0;
}

int cmd_string(json_object *req, const char *name, char *out, size_t cap, json_object **err)
{
	if (cmd_opt_string(req, name, out, cap, err) != 0)
		return -1;
	if (out[0] == '\0') {
		*err = ctl_error("bad_request", _("the request needs \"%s\""), name);
		return -1;
	}
	return 0;
}

int cmd_opt_bool(json_object *req, const char *name, bool *out, json_object **err)
{
	json_object *v;

	*out = false;
	if (!json_object_object_get_ex(req, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		*err = ctl_error("bad_request", _("\"%s\" must be true or false"), name);
		return -1;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

static int parse_id(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || v == 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A spot's name: the keyring first, then the spots the server shows the user. */
static int spot_by_name(struct phoned *d, const char *name, uint32_t *spot, json_object **err)
{
	json_object *list, *arr, *s, *v;
	size_t i, n;
	int found = -1;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->keys->count && found != 0; i++)
		if (strcmp(d->keys->keys[i].spot_name, name) == 0) {
			*spot = d->keys->keys[i].ekey.spot_id;
			found = 0;
		}
	pthread_mutex_unlock(&d->lock);
	if (found == 0)
		return 0;
	list = phoned_api_call(d, "GET", "/v1/spots", NULL, 0, err);
	if (list == NULL)
		return -1;
	if (json_object_object_get_ex(list, "spots", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		n = json_object_array_length(arr);
		for (i = 0; i < n && found != 0; i++) {
			s = json_object_array_get_idx(arr, i);
			if (json_object_object_get_ex(s, "name", &v) &&
			    strcmp(json_object_get_string(v), name) == 0 &&
			    json_object_object_get_ex(s, "id", &v)) {
				*spot = (uint32_t)json_object_get_int64(v);
				found = 0;
			}
		}
	}
	json_object_put(list);
	if (found != 0)
		*err = ctl_error("unknown_spot", _("there is no spot \"%.64s\": see 'parkctl "
						   "spots'"), name);
	return found;
}

int cmd_spot(struct phoned *d, json_object *req, uint32_t *spot, json_object **err)
{
	json_object *v;
	int64_t n;
	char name[KEYRING_NAME_MAX];

	if (!json_object_object_get_ex(req, "spot", &v) || v == NULL) {
		*err = ctl_error("bad_request", _("the request needs \"spot\": a spot ID or name"));
		return -1;
	}
	if (json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
		if (n < 1 || n > UINT32_MAX) {
			*err = ctl_error("unknown_spot", _("a spot ID is a number from 1 to %u"),
					 UINT32_MAX);
			return -1;
		}
		*spot = (uint32_t)n;
		return 0;
	}
	if (cmd_string(req, "spot", name, sizeof(name), err) != 0)
		return -1;
	if (parse_id(name, spot) == 0)
		return 0;
	return spot_by_name(d, name, spot, err);
}

json_object *cmd_status(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	struct phoned_session s;
	json_object *o = ctl_ok();
	bool in = phoned_session_get(d, &s);

	(void)req;
	(void)conn;
	json_object_object_add(o, "server", json_object_new_string(d->cfg.server));
	json_object_object_add(o, "transport", json_object_new_string(
				       d->cfg.transport[0] ? d->cfg.transport : "sim"));
	json_object_object_add(o, "logged_in", json_object_new_boolean(in));
	if (in)
		json_object_object_add(o, "phone", json_object_new_string(s.phone));
	pthread_mutex_lock(&d->lock);
	json_object_object_add(o, "keys", json_object_new_int64((int64_t)d->keys->count));
	json_object_object_add(o, "server_up", json_object_new_boolean(d->server_up));
	pthread_mutex_unlock(&d->lock);
	return o;
}
