/*
 * cmd-keys.c: spots and keys: `spots` (what the user may see, with filters), `key`
 * (the reservation key when there is none yet, then the e-key request of DESIGN.md
 * section 4: the spot ID encrypted to the reservation key, the device public key beside
 * it), and `keys` (the keyring, refreshed from the server when it answers).
 */
#include <libintl.h>
#include <stdio.h>
#include <string.h>

#include "../lib/ecies.h"
#include "../lib/hex.h"
#include "../lib/log.h"
#include "../lockfw/proto/wire.h"
#include "cmd.h"
#include "ctlproto.h"

#define _(s) gettext(s)

json_object *cmd_spots(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	char level[32], path[160];
	json_object *err = NULL, *v, *r, *out, *list;
	int64_t site = 0;
	bool free_only;
	int n;

	(void)conn;
	if (cmd_opt_string(req, "level", level, sizeof(level), &err) != 0 ||
	    cmd_opt_bool(req, "free", &free_only, &err) != 0)
		return err;
	if (json_object_object_get_ex(req, "site", &v) && v != NULL) {
		site = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || site < 1 || site > UINT32_MAX)
			return ctl_error("bad_request", _("\"site\" must be a site ID"));
	}
	n = snprintf(path, sizeof(path), "/v1/spots?free=%d", free_only ? 1 : 0);
	if (site > 0)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "&site=%lld", (long long)site);
	if (level[0] != '\0' && strspn(level, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_") != strlen(level))
		return ctl_error("bad_request", _("\"level\" must be a level ID such as B1"));
	if (level[0] != '\0')
		snprintf(path + n, sizeof(path) - (size_t)n, "&level=%s", level);
	r = phoned_api_call(d, "GET", path, NULL, 0, &err);
	if (r == NULL)
		return err;
	out = ctl_ok();
	if (json_object_object_get_ex(r, "spots", &list))
		json_object_object_add(out, "spots", json_object_get(list));
	json_object_put(r);
	return out;
}

/* The reservation public key, made at the server on the first call. 0 or -1 with *err. */
static int reservation_key(struct phoned *d, uint8_t pub[64], json_object **err)
{
	json_object *r, *v;
	int n = -1;

	r = phoned_api_call(d, "POST", "/v1/reservation-key", NULL, APICLIENT_IDEMPOTENT, err);
	if (r == NULL)
		return -1;
	if (json_object_object_get_ex(r, "public_key", &v))
		n = hex_decode(json_object_get_string(v), pub, 64);
	json_object_put(r);
	if (n != 64) {
		*err = ctl_error("server_error", _("the server's reservation key is not a P-256 "
						   "public key"));
		return -1;
	}
	return 0;
}

/* The spot as the server shows it: site, name, lock address into k. 0 or -1 with *err. */
static int spot_facts(struct phoned *d, uint32_t spot, struct phone_key *k, json_object **err)
{
	char path[64];
	json_object *r, *v;

	snprintf(path, sizeof(path), "/v1/spots/%u", (unsigned)spot);
	r = phoned_api_call(d, "GET", path, NULL, 0, err);
	if (r == NULL) {
		if (*err != NULL && json_object_object_get_ex(*err, "error", &v) &&
		    strcmp(json_object_get_string(v), "not_found") == 0) {
			json_object_put(*err);
			*err = ctl_error("unknown_spot", _("there is no spot %u: see 'parkctl "
							   "spots'"), (unsigned)spot);
		}
		return -1;
	}
	if (json_object_object_get_ex(r, "site_id", &v))
		k->site_id = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(r, "name", &v))
		snprintf(k->spot_name, sizeof(k->spot_name), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(r, "lock_address", &v) && v != NULL)
		snprintf(k->address, sizeof(k->address), "%s", json_object_get_string(v));
	json_object_put(r);
	return 0;
}

/* POST /v1/ekeys: the e-key's bytes into k. 0 or -1 with *err. */
static int ekey_request(struct phoned *d, uint32_t spot, const uint8_t res_pub[64],
			struct phone_key *k, json_object **err)
{
	uint8_t spot_be[4], ct[256], raw[PROTO_EKEY_LEN];
	char ct_hex[2 * sizeof(ct) + 1], pub_hex[129], why[200];
	json_object *body, *r, *v;
	int n;

	wire_store_u32(spot_be, spot);
	n = ecies_encrypt(res_pub, spot_be, sizeof(spot_be), ct, sizeof(ct));
	if (n <= 0) {
		*err = ctl_error("internal", _("cannot encrypt the spot ID"));
		return -1;
	}
	hex_encode(ct, (size_t)n, ct_hex, sizeof(ct_hex));
	hex_encode(d->device_pub, sizeof(d->device_pub), pub_hex, sizeof(pub_hex));
	body = json_object_new_object();
	json_object_object_add(body, "spot", json_object_new_string(ct_hex));
	json_object_object_add(body, "device_pub", json_object_new_string(pub_hex));
	r = phoned_api_call(d, "POST", "/v1/ekeys", body, 0, err);
	json_object_put(body);
	if (r == NULL)
		return -1;
	n = -1;
	if (json_object_object_get_ex(r, "ekey", &v))
		n = hex_decode(json_object_get_string(v), raw, sizeof(raw));
	json_object_put(r);
	if (n != PROTO_EKEY_LEN ||
	    phone_key_set_raw(k, raw, (size_t)n, d->device_pub, why, sizeof(why)) != 0 ||
	    k->ekey.spot_id != spot) {
		*err = ctl_error("server_error", _("the server's e-key is not usable: %s"),
				 n == PROTO_EKEY_LEN ? why : _("not an e-key"));
		return -1;
	}
	return 0;
}

json_object *cmd_key(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	struct phone_key k, *held;
	json_object *err = NULL, *out;
	uint8_t res_pub[64];
	uint32_t spot, now = phoned_now();
	bool fresh;

	(void)conn;
	if (cmd_spot(d, req, &spot, &err) != 0 || cmd_opt_bool(req, "new", &fresh, &err) != 0)
		return err;
	pthread_mutex_lock(&d->lock);
	held = keyring_for_spot(d->keys, spot, now);
	if (held != NULL && phone_key_check(held, now) == KEY_OK && !fresh) {
		out = ctl_ok();
		json_object_object_add(out, "key", phone_key_json(held, now));
		json_object_object_add(out, "new", json_object_new_boolean(0));
		pthread_mutex_unlock(&d->lock);
		return out;
	}
	pthread_mutex_unlock(&d->lock);
	memset(&k, 0, sizeof(k));
	if (spot_facts(d, spot, &k, &err) != 0 || reservation_key(d, res_pub, &err) != 0 ||
	    ekey_request(d, spot, res_pub, &k, &err) != 0)
		return err;
	if (phoned_keys_put(d, &k) != 0)
		return ctl_error("internal", _("the key %u was issued but cannot be stored in %s: "
					       "free some space and run 'parkctl keys'"),
				 (unsigned)k.ekey.key_id, d->keys_path);
	log_info("key %u for spot %u stored", (unsigned)k.ekey.key_id, (unsigned)spot);
	out = ctl_ok();
	json_object_object_add(out, "key", phone_key_json(&k, now));
	json_object_object_add(out, "new", json_object_new_boolean(1));
	return out;
}

bool key_delivered(json_object *key)
{
	json_object *dl, *state;

	return json_object_object_get_ex(key, "delivery", &dl) &&
	       json_object_object_get_ex(dl, "state", &state) &&
	       json_object_is_type(state, json_type_string) &&
	       strcmp(json_object_get_string(state), "acked") == 0;
}

/* Whether the server says a key of GET /v1/keys is revoked or handed on: gone for good. */
static bool gone(json_object *o)
{
	json_object *v;

	return (json_object_object_get_ex(o, "revoked", &v) && json_object_get_boolean(v)) ||
	       (json_object_object_get_ex(o, "transferred", &v) && json_object_get_boolean(v));
}

/* Stores a key of GET /v1/keys when it is live and bound to this device. */
static void sync_one(struct phoned *d, json_object *o)
{
	struct phone_key k;
	uint8_t raw[PROTO_EKEY_LEN];
	json_object *v;
	char why[200];
	int n;

	memset(&k, 0, sizeof(k));
	if (gone(o)) {
		if (json_object_object_get_ex(o, "key_id", &v))
			phoned_keys_drop(d, (uint32_t)json_object_get_int64(v));
		return;
	}
	if (!json_object_object_get_ex(o, "live", &v) || !json_object_get_boolean(v) ||
	    !json_object_object_get_ex(o, "ekey", &v) ||
	    (n = hex_decode(json_object_get_string(v), raw, sizeof(raw))) != PROTO_EKEY_LEN ||
	    phone_key_set_raw(&k, raw, (size_t)n, d->device_pub, why, sizeof(why)) != 0)
		return; /* revoked, expired, or for another of the user's devices */
	if (json_object_object_get_ex(o, "site_id", &v))
		k.site_id = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "spot_name", &v))
		snprintf(k.spot_name, sizeof(k.spot_name), "%s", json_object_get_string(v));
	k.delivered = key_delivered(o);
	pthread_mutex_lock(&d->lock);
	{
		struct phone_key *old = keyring_find(d->keys, k.ekey.key_id);

		if (old != NULL)
			memcpy(k.address, old->address, sizeof(k.address));
	}
	pthread_mutex_unlock(&d->lock);
	if (k.address[0] == '\0') {
		json_object *err = NULL;

		(void)spot_facts(d, k.ekey.spot_id, &k, &err);
		json_object_put(err);
	}
	if (phoned_keys_put(d, &k) != 0)
		log_error("cannot store key %u in %s", (unsigned)k.ekey.key_id, d->keys_path);
}

json_object *cmd_keys(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	json_object *err = NULL, *r, *list, *out, *arr;
	uint32_t now = phoned_now();
	size_t i, n;

	(void)req;
	(void)conn;
	out = ctl_ok();
	r = phoned_session_get(d, NULL) ? phoned_api_call(d, "GET", "/v1/keys", NULL, 0, &err) :
					   NULL;
	if (r != NULL && json_object_object_get_ex(r, "keys", &list) &&
	    json_object_is_type(list, json_type_array)) {
		n = json_object_array_length(list);
		for (i = 0; i < n; i++)
			sync_one(d, json_object_array_get_idx(list, i));
	}
	json_object_object_add(out, "synced", json_object_new_boolean(r != NULL));
	if (r != NULL) {
		share_sync_shares(d);
		share_sync_revocations(d);
	}
	json_object_put(r);
	json_object_put(err);
	arr = json_object_new_array();
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->keys->count; i++)
		json_object_array_add(arr, phone_key_json(&d->keys->keys[i], now));
	pthread_mutex_unlock(&d->lock);
	json_object_object_add(out, "keys", arr);
	return out;
}
