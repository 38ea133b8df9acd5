/*
 * cmd-share.c: sharing and owner control in parkphoned (claims 5-7, patent [0034],
 * [0052]): share a key, list shares, revoke, freeze and unfreeze, approve and deny, the
 * spot's policy and authorised users, one-time codes; and the sync that accepts the
 * shares made to this phone (binding them to its device key) and keeps the keyring and
 * the carried revocation lists in step with the server. Manager actions pass the user's
 * one-time code ("otp") through; the server decides whether it needs one.
 */
#include <libintl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hex.h"
#include "../lib/log.h"
#include "cmd.h"
#include "ctlproto.h"

#define _(s) gettext(s)
#define SHARE_SITES_MAX 16

/* ---- helpers ---- */

static json_object *member(json_object *o, const char *name)
{
	json_object *v;

	return o != NULL && json_object_object_get_ex(o, name, &v) ? v : NULL;
}

static int64_t member_int(json_object *o, const char *name)
{
	json_object *v = member(o, name);

	return v != NULL ? json_object_get_int64(v) : -1;
}

static const char *member_str(json_object *o, const char *name)
{
	json_object *v = member(o, name);

	return v != NULL && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) : "";
}

/* A request's ID member `name`: a positive number, or a string of digits. */
static int req_id(json_object *req, const char *name, uint32_t *id, json_object **err)
{
	json_object *v = member(req, name);
	const char *s;
	int64_t n = -1;

	if (v != NULL && json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
	} else if (v != NULL && json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s) && strlen(s) < 11)
			n = strtoll(s, NULL, 10);
	}
	if (n < 1 || n > UINT32_MAX) {
		*err = ctl_error("bad_request", _("the request needs \"%s\": an ID"), name);
		return -1;
	}
	*id = (uint32_t)n;
	return 0;
}

/* Copies the request's "otp" (a one-time code) into the server request's body. */
static int pass_otp(json_object *req, json_object *body, json_object **err)
{
	char otp[16];

	if (cmd_opt_string(req, "otp", otp, sizeof(otp), err) != 0)
		return -1;
	if (otp[0] != '\0')
		json_object_object_add(body, "otp", json_object_new_string(otp));
	return 0;
}

/* A server call (body consumed) whose reply goes back whole under "result". */
static json_object *relay(struct phoned *d, const char *method, const char *path,
			  json_object *body)
{
	json_object *err = NULL, *r = phoned_api_call(d, method, path, body, 0, &err), *out;

	json_object_put(body);
	if (r == NULL)
		return err;
	out = ctl_ok();
	json_object_object_add(out, "result", r);
	return out;
}

/* ---- the sync ---- */

/* Stores a share's skey as a key of this phone. */
static void keep_share(struct phoned *d, json_object *share)
{
	struct phone_key k;
	uint8_t raw[PROTO_SKEY_LEN];
	char why[200];
	int n;

	memset(&k, 0, sizeof(k));
	n = hex_decode(member_str(share, "skey"), raw, sizeof(raw));
	if (n != PROTO_SKEY_LEN ||
	    phone_key_set_shared(&k, raw, (size_t)n, d->device_pub, why, sizeof(why)) != 0) {
		log_warn("share %lld: the server's shared key is not usable on this phone",
			 (long long)member_int(share, "share_id"));
		return;
	}
	k.site_id = (uint32_t)member_int(share, "site_id");
	snprintf(k.spot_name, sizeof(k.spot_name), "%s", member_str(share, "spot_name"));
	snprintf(k.address, sizeof(k.address), "%s", member_str(share, "lock_address"));
	k.delivered = strcmp(member_str(member(share, "delivery"), "state"), "acked") == 0;
	if (phoned_keys_put(d, &k) != 0)
		log_error("cannot store share %u", (unsigned)k.ekey.key_id);
}

/* Accepts a share offered to this user, binding it to this phone's device key. */
static void accept_share(struct phoned *d, json_object *share)
{
	char path[64], pub[2 * 64 + 1];
	json_object *err = NULL, *body = json_object_new_object(), *r;

	snprintf(path, sizeof(path), "/v1/shares/%lld/accept",
		 (long long)member_int(share, "share_id"));
	hex_encode(d->device_pub, sizeof(d->device_pub), pub, sizeof(pub));
	json_object_object_add(body, "device_pub", json_object_new_string(pub));
	r = phoned_api_call(d, "POST", path, body, 0, &err);
	json_object_put(body);
	if (r != NULL)
		keep_share(d, member(r, "share"));
	else
		log_warn("share %lld could not be accepted: %s",
			 (long long)member_int(share, "share_id"), member_str(err, "detail"));
	json_object_put(r);
	json_object_put(err);
}

/* One share of GET /v1/shares, as it concerns this phone. */
static void sync_share(struct phoned *d, int64_t me, json_object *share)
{
	const char *state = member_str(share, "state");
	uint32_t id = (uint32_t)member_int(share, "share_id");

	if (member_int(share, "recipient_id") != me)
		return;
	if (strcmp(state, "offered") == 0)
		accept_share(d, share);
	else if (strcmp(state, "active") == 0 && member_str(share, "skey")[0] != '\0')
		keep_share(d, share);
	else if (strcmp(state, "active") != 0)
		phoned_keys_drop(d, id); /* frozen, revoked, given up: not usable */
}

void share_sync_shares(struct phoned *d)
{
	struct phoned_session s;
	json_object *err = NULL, *r, *list;
	size_t i, n;

	if (!phoned_session_get(d, &s))
		return;
	r = phoned_api_call(d, "GET", "/v1/shares", NULL, 0, &err);
	list = member(r, "shares");
	n = list != NULL && json_object_is_type(list, json_type_array) ?
		    json_object_array_length(list) : 0;
	for (i = 0; i < n; i++)
		sync_share(d, s.user_id, json_object_array_get_idx(list, i));
	json_object_put(r);
	json_object_put(err);
}

/* The newest revocation list of one site, kept when newer. */
static void sync_site_list(struct phoned *d, uint32_t site)
{
	uint8_t frame[PROTO_FRAME_MAX];
	json_object *err = NULL, *r;
	char path[64];
	int n;

	snprintf(path, sizeof(path), "/v1/sites/%u/revocations", (unsigned)site);
	r = phoned_api_call(d, "GET", path, NULL, 0, &err);
	n = hex_decode(member_str(r, "frame"), frame, sizeof(frame));
	if (n > 0 && phoned_revocations_put(d, site, frame, (size_t)n) < 0)
		log_warn("site %u: the server's revocation list is not a REVOKE frame",
			 (unsigned)site);
	json_object_put(r);
	json_object_put(err);
}

void share_sync_revocations(struct phoned *d)
{
	uint32_t sites[SHARE_SITES_MAX];
	size_t i, j, n = 0;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->keys->count; i++) {
		for (j = 0; j < n && sites[j] != d->keys->keys[i].site_id; j++)
			;
		if (j == n && n < SHARE_SITES_MAX && d->keys->keys[i].site_id > 0)
			sites[n++] = d->keys->keys[i].site_id;
	}
	pthread_mutex_unlock(&d->lock);
	for (i = 0; i < n; i++)
		sync_site_list(d, sites[i]);
}

/* ---- commands ---- */

/* The key this phone holds for the request's spot, as the server names it. */
static int parent_of(struct phoned *d, json_object *req, json_object *body, json_object **err)
{
	struct phone_key *k;
	uint32_t spot;
	int r = -1;

	if (cmd_spot(d, req, &spot, err) != 0)
		return -1;
	pthread_mutex_lock(&d->lock);
	k = keyring_for_spot(d->keys, spot, phoned_now());
	if (k != NULL) {
		json_object_object_add(body, k->shared ? "share_id" : "key_id",
				       json_object_new_int64(k->ekey.key_id));
		r = 0;
	}
	pthread_mutex_unlock(&d->lock);
	if (r != 0)
		*err = ctl_error("no_key", _("you hold no key for spot %u to share"),
				 (unsigned)spot);
	return r;
}

/* Copies the optional members `names` from req to body when present. */
static void copy_members(json_object *req, json_object *body, const char *const *names)
{
	json_object *v;

	for (; *names != NULL; names++)
		if (json_object_object_get_ex(req, *names, &v) && v != NULL)
			json_object_object_add(body, *names, json_object_get(v));
}

json_object *cmd_share(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	static const char *const limits[] = { "mode", "not_before", "not_after", "max_unlocks",
					      "may_reshare", NULL };
	json_object *err = NULL, *body = json_object_new_object();
	char phone[32];

	(void)conn;
	if (cmd_string(req, "phone", phone, sizeof(phone), &err) != 0 ||
	    parent_of(d, req, body, &err) != 0) {
		json_object_put(body);
		return err;
	}
	json_object_object_add(body, "phone", json_object_new_string(phone));
	copy_members(req, body, limits);
	return relay(d, "POST", "/v1/shares", body);
}

json_object *cmd_shares(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	json_object *err = NULL, *r, *list, *out, *kept, *s;
	uint32_t spot = 0;
	size_t i, n;

	(void)conn;
	if (member(req, "spot") != NULL && cmd_spot(d, req, &spot, &err) != 0)
		return err;
	share_sync_shares(d);
	r = phoned_api_call(d, "GET", "/v1/shares", NULL, 0, &err);
	if (r == NULL)
		return err;
	list = member(r, "shares");
	kept = json_object_new_array();
	n = list != NULL && json_object_is_type(list, json_type_array) ?
		    json_object_array_length(list) : 0;
	for (i = 0; i < n; i++) {
		s = json_object_array_get_idx(list, i);
		if (spot == 0 || member_int(s, "spot_id") == (int64_t)spot)
			json_object_array_add(kept, json_object_get(s));
	}
	json_object_put(r);
	out = ctl_ok();
	json_object_object_add(out, "shares", kept);
	return out;
}

/* A share's action by its ID: approve, deny, freeze, unfreeze, give-up. */
static json_object *share_action(struct phoned *d, json_object *req, const char *action)
{
	json_object *err = NULL, *body = json_object_new_object(), *out;
	char path[80];
	uint32_t id;

	if (req_id(req, "id", &id, &err) != 0 || pass_otp(req, body, &err) != 0) {
		json_object_put(body);
		return err;
	}
	snprintf(path, sizeof(path), "/v1/shares/%u/%s", (unsigned)id, action);
	out = relay(d, "POST", path, body);
	if (strcmp(action, "give-up") == 0 || strcmp(action, "freeze") == 0)
		share_sync_shares(d);
	return out;
}

json_object *cmd_approve(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	(void)conn;
	return share_action(d, req, "approve");
}

json_object *cmd_deny(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	(void)conn;
	return share_action(d, req, "deny");
}

json_object *cmd_freeze(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	(void)conn;
	return share_action(d, req, "freeze");
}

json_object *cmd_unfreeze(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	(void)conn;
	return share_action(d, req, "unfreeze");
}

/* Whether `id` is a share the server shows this user, and whether it is theirs to give up. */
static int share_role(struct phoned *d, uint32_t id, bool *is_share, bool *mine)
{
	struct phoned_session s;
	json_object *err = NULL, *r, *list, *sh;
	size_t i, n;

	*is_share = *mine = false;
	(void)phoned_session_get(d, &s);
	r = phoned_api_call(d, "GET", "/v1/shares", NULL, 0, &err);
	json_object_put(err);
	if (r == NULL)
		return -1;
	list = member(r, "shares");
	n = list != NULL && json_object_is_type(list, json_type_array) ?
		    json_object_array_length(list) : 0;
	for (i = 0; i < n; i++) {
		sh = json_object_array_get_idx(list, i);
		if (member_int(sh, "share_id") == (int64_t)id) {
			*is_share = true;
			*mine = member_int(sh, "recipient_id") == s.user_id;
		}
	}
	json_object_put(r);
	return 0;
}

/*
 * revoke ID: a share made to this user is given up; a share on the owner's spot is
 * removed; anything else is a key, revoked by its spot's owner or its holder.
 */
json_object *cmd_revoke(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	json_object *err = NULL, *body, *out;
	bool is_share, mine;
	char path[80];
	uint32_t id;

	(void)conn;
	if (req_id(req, "id", &id, &err) != 0)
		return err;
	if (share_role(d, id, &is_share, &mine) == 0 && is_share && mine)
		return share_action(d, req, "give-up");
	body = json_object_new_object();
	if (pass_otp(req, body, &err) != 0) {
		json_object_put(body);
		return err;
	}
	if (is_share) {
		snprintf(path, sizeof(path), "/v1/shares/%u", (unsigned)id);
		out = relay(d, "DELETE", path, body);
	} else {
		snprintf(path, sizeof(path), "/v1/keys/%u/revoke", (unsigned)id);
		out = relay(d, "POST", path, body);
	}
	if (member(out, "result") != NULL)
		phoned_keys_drop(d, id);
	return out;
}

/* The owner's policy: PATCH the spot, then the authorised list's changes. */
json_object *cmd_policy(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	static const char *const fields[] = { "policy", "region", "require_share_approval",
					      "renters_may_share", "key_valid_s",
					      "key_max_unlocks", NULL };
	json_object *err = NULL, *patch = json_object_new_object(), *r, *out, *add;
	char path[96], phone[32];
	uint32_t spot;

	(void)conn;
	if (cmd_spot(d, req, &spot, &err) != 0 || pass_otp(req, patch, &err) != 0 ||
	    cmd_opt_string(req, "add", phone, sizeof(phone), &err) != 0) {
		json_object_put(patch);
		return err;
	}
	copy_members(req, patch, fields);
	snprintf(path, sizeof(path), "/v1/spots/%u", (unsigned)spot);
	if (json_object_object_length(patch) > (member(patch, "otp") != NULL ? 1 : 0)) {
		r = phoned_api_call(d, "PATCH", path, patch, 0, &err);
		if (r == NULL) {
			json_object_put(patch);
			return err;
		}
		json_object_put(r);
	}
	if (phone[0] != '\0') {
		add = json_object_new_object();
		json_object_object_add(add, "phone", json_object_new_string(phone));
		if (member(patch, "otp") != NULL)
			json_object_object_add(add, "otp", json_object_get(member(patch, "otp")));
		snprintf(path, sizeof(path), "/v1/spots/%u/authorised", (unsigned)spot);
		r = phoned_api_call(d, "POST", path, add, 0, &err);
		json_object_put(add);
		if (r == NULL) {
			json_object_put(patch);
			return err;
		}
		json_object_put(r);
	}
	if (member(req, "remove") != NULL) {
		uint32_t user;

		if (req_id(req, "remove", &user, &err) != 0) {
			json_object_put(patch);
			return err;
		}
		snprintf(path, sizeof(path), "/v1/spots/%u/authorised/%u", (unsigned)spot,
			 (unsigned)user);
		r = phoned_api_call(d, "DELETE", path, json_object_get(patch), 0, &err);
		json_object_put(patch);
		patch = NULL;
		if (r == NULL)
			return err;
		json_object_put(r);
	}
	json_object_put(patch);
	snprintf(path, sizeof(path), "/v1/spots/%u", (unsigned)spot);
	out = relay(d, "GET", path, NULL);
	if (member(out, "result") != NULL) {
		snprintf(path, sizeof(path), "/v1/spots/%u/authorised", (unsigned)spot);
		r = phoned_api_call(d, "GET", path, NULL, 0, &err);
		json_object_object_add(out, "authorised", r != NULL ? r : NULL);
		json_object_put(err);
	}
	return out;
}

/* otp: enrol (the secret and its otpauth:// URI), confirm CODE, or status. */
json_object *cmd_otp(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	json_object *err = NULL, *body;
	char action[16], code[16];

	(void)conn;
	if (cmd_string(req, "action", action, sizeof(action), &err) != 0 ||
	    cmd_opt_string(req, "code", code, sizeof(code), &err) != 0)
		return err;
	if (strcmp(action, "enrol") == 0) {
		/* Enrolling anew, once enrolled, needs a current code of the old one. */
		body = json_object_new_object();
		if (pass_otp(req, body, &err) != 0) {
			json_object_put(body);
			return err;
		}
		return relay(d, "POST", "/v1/otp/enrol", body);
	}
	if (strcmp(action, "confirm") == 0) {
		if (code[0] == '\0')
			return ctl_error("bad_request", _("confirm needs the \"code\" the "
							  "authenticator shows"));
		body = json_object_new_object();
		json_object_object_add(body, "code", json_object_new_string(code));
		return relay(d, "POST", "/v1/otp/confirm", body);
	}
	if (strcmp(action, "status") == 0)
		return relay(d, "GET", "/v1/me", NULL);
	return ctl_error("bad_request", _("\"action\" is enrol, confirm or status"));
}
