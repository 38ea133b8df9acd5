/*
 * keyring.c: the phone's keys file and its limit checks; see keyring.h.
 * File format: {"version":1,"keys":[{"ekey":"<302 hex>","site_id":1,"used":0,
 * "spot_name":"B1-01","address":"..."}]}.
 */
#include "keyring.h"

#include <errno.h>
#include <libintl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/atomicfile.h"
#include "../lib/hex.h"
#include "../lockfw/proto/wire.h"

#define _(s) gettext(s)

int phone_key_set_raw(struct phone_key *k, const uint8_t *raw, size_t len,
		      const uint8_t device_pub[PROTO_PUBKEY_LEN], char *err, size_t errlen)
{
	uint8_t frame[PROTO_FRAME_MAX], zero_sig[PROTO_SIG_LEN] = { 0 };
	struct wire_writer w;
	struct proto_msg m;

	if (len != PROTO_EKEY_LEN) {
		snprintf(err, errlen, _("an e-key is %d bytes, not %zu"), PROTO_EKEY_LEN, len);
		return -1;
	}
	/* Decoded by the protocol's own codec, as the lock will see it in OPERATE. */
	wire_writer_init(&w, frame, sizeof(frame));
	wire_put_u8(&w, PROTO_VERSION);
	wire_put_u8(&w, PROTO_OPERATE);
	wire_put_u8(&w, 0);
	wire_put_u8(&w, PROTO_OP_UNLOCK);
	wire_put_u32(&w, wire_load_u32(raw + 4)); /* the e-key's user ID */
	wire_put_bytes(&w, raw, len);
	wire_put_bytes(&w, zero_sig, sizeof(zero_sig));
	if (w.error || proto_decode(frame, w.off, &m) != 0 || m.type != PROTO_OPERATE) {
		snprintf(err, errlen, _("the e-key does not decode"));
		return -1;
	}
	if (memcmp(m.u.operate.ekey.device_pub, device_pub, PROTO_PUBKEY_LEN) != 0) {
		snprintf(err, errlen, _("the e-key %u is bound to another device"),
			 (unsigned)m.u.operate.ekey.key_id);
		return -1;
	}
	k->ekey = m.u.operate.ekey;
	k->shared = false;
	memset(k->raw, 0, sizeof(k->raw));
	memcpy(k->raw, raw, len);
	return 0;
}

int phone_key_set_shared(struct phone_key *k, const uint8_t *raw, size_t len,
			 const uint8_t device_pub[PROTO_PUBKEY_LEN], char *err, size_t errlen)
{
	uint8_t frame[PROTO_FRAME_MAX], zero_sig[PROTO_SIG_LEN] = { 0 };
	struct wire_writer w;
	struct proto_msg m;

	if (len != PROTO_SKEY_LEN) {
		snprintf(err, errlen, _("a shared key is %d bytes, not %zu"), PROTO_SKEY_LEN, len);
		return -1;
	}
	/* Decoded by the protocol's own codec, as the lock will see it in OPERATE_SHARED. */
	wire_writer_init(&w, frame, sizeof(frame));
	wire_put_u8(&w, PROTO_VERSION);
	wire_put_u8(&w, PROTO_OPERATE_SHARED);
	wire_put_u8(&w, 0);
	wire_put_u8(&w, PROTO_OP_UNLOCK);
	wire_put_u32(&w, wire_load_u32(raw + 12)); /* the shared key's recipient */
	wire_put_bytes(&w, raw, len);
	wire_put_bytes(&w, zero_sig, sizeof(zero_sig));
	if (w.error || proto_decode(frame, w.off, &m) != 0 || m.type != PROTO_OPERATE_SHARED) {
		snprintf(err, errlen, _("the shared key does not decode"));
		return -1;
	}
	if (memcmp(m.u.operate_shared.skey.device_pub, device_pub, PROTO_PUBKEY_LEN) != 0) {
		snprintf(err, errlen, _("the shared key %u is bound to another device"),
			 (unsigned)m.u.operate_shared.skey.share_id);
		return -1;
	}
	k->skey = m.u.operate_shared.skey;
	k->shared = true;
	memset(&k->ekey, 0, sizeof(k->ekey));
	k->ekey.key_id = k->skey.share_id;
	k->ekey.user_id = k->skey.recipient_id;
	k->ekey.spot_id = k->skey.spot_id;
	k->ekey.not_before = k->skey.not_before;
	k->ekey.not_after = k->skey.not_after;
	k->ekey.max_unlocks = k->skey.max_unlocks;
	memcpy(k->ekey.device_pub, k->skey.device_pub, PROTO_PUBKEY_LEN);
	memcpy(k->raw, raw, len);
	return 0;
}

/* A string member of at most cap - 1 bytes into out; absent gives "". 0 or -1. */
static int opt_string(json_object *o, const char *name, char *out, size_t cap)
{
	json_object *v;
	const char *s;

	out[0] = '\0';
	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if (strlen(s) >= cap)
		return -1;
	strcpy(out, s);
	return 0;
}

static int u32_member(json_object *o, const char *name, uint32_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	if (n < 0 || n > UINT32_MAX)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

/* The members every entry has besides its key. 0 or -1. */
static int entry_common(json_object *e, struct phone_key *k)
{
	json_object *v;

	if (u32_member(e, "site_id", &k->site_id) != 0 || u32_member(e, "used", &k->used) != 0 ||
	    opt_string(e, "spot_name", k->spot_name, sizeof(k->spot_name)) != 0 ||
	    opt_string(e, "address", k->address, sizeof(k->address)) != 0)
		return -1;
	if (json_object_object_get_ex(e, "delivered", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return -1;
		k->delivered = json_object_get_boolean(v);
	}
	return 0;
}

static int entry_load_shared(json_object *e, struct phone_key *k,
			     const uint8_t device_pub[PROTO_PUBKEY_LEN], char *err, size_t errlen)
{
	uint8_t raw[PROTO_SKEY_LEN];
	json_object *v;
	int n = -1;

	if (json_object_object_get_ex(e, "skey", &v) && json_object_is_type(v, json_type_string))
		n = hex_decode(json_object_get_string(v), raw, sizeof(raw));
	if (n != PROTO_SKEY_LEN || entry_common(e, k) != 0) {
		snprintf(err, errlen, _("a shared key's entry has a bad field"));
		return -1;
	}
	return phone_key_set_shared(k, raw, (size_t)n, device_pub, err, errlen);
}

static int entry_load(json_object *e, struct phone_key *k,
		      const uint8_t device_pub[PROTO_PUBKEY_LEN], char *err, size_t errlen)
{
	uint8_t raw[PROTO_EKEY_LEN];
	json_object *v;
	int n;

	memset(k, 0, sizeof(*k));
	if (!json_object_is_type(e, json_type_object)) {
		snprintf(err, errlen, _("an entry is not an object"));
		return -1;
	}
	if (json_object_object_get_ex(e, "skey", &v))
		return entry_load_shared(e, k, device_pub, err, errlen);
	if (!json_object_object_get_ex(e, "ekey", &v) || !json_object_is_type(v, json_type_string) ||
	    entry_common(e, k) != 0) {
		snprintf(err, errlen, _("an entry lacks ekey, site_id or used, or has a bad field"));
		return -1;
	}
	n = hex_decode(json_object_get_string(v), raw, sizeof(raw));
	if (n != PROTO_EKEY_LEN) {
		snprintf(err, errlen, _("an entry's ekey is not %d bytes of hex"), PROTO_EKEY_LEN);
		return -1;
	}
	return phone_key_set_raw(k, raw, (size_t)n, device_pub, err, errlen);
}

static int keyring_parse(struct keyring *kr, const char *text,
			 const uint8_t device_pub[PROTO_PUBKEY_LEN], char *err, size_t errlen)
{
	json_object *root = json_tokener_parse(text), *keys, *ver;
	size_t i, n;
	int r = -1;

	if (root == NULL || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "version", &ver) || json_object_get_int(ver) != 1 ||
	    !json_object_object_get_ex(root, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array)) {
		snprintf(err, errlen, _("not a version 1 keys file"));
		goto out;
	}
	n = json_object_array_length(keys);
	if (n > KEYRING_MAX) {
		snprintf(err, errlen, _("more than %d keys"), KEYRING_MAX);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (entry_load(json_object_array_get_idx(keys, i), &kr->keys[i], device_pub, err,
			       errlen) != 0)
			goto out;
	kr->count = n;
	r = 0;
out:
	json_object_put(root);
	return r;
}

int keyring_load(struct keyring *kr, const char *path,
		 const uint8_t device_pub[PROTO_PUBKEY_LEN], char *err, size_t errlen)
{
	char *buf = malloc(KEYRING_FILE_MAX);
	char why[160];
	long len;
	int r = -1;

	kr->count = 0;
	if (buf == NULL) {
		snprintf(err, errlen, _("out of memory"));
		return -1;
	}
	len = atomicfile_read(path, (uint8_t *)buf, KEYRING_FILE_MAX);
	if (len < 0 && errno == ENOENT) {
		r = 0;
	} else if (len < 0) {
		snprintf(err, errlen, _("cannot read %s: %s"), path, strerror(errno));
	} else if (keyring_parse(kr, buf, device_pub, why, sizeof(why)) != 0) {
		kr->count = 0;
		snprintf(err, errlen, _("%s is corrupt: %s"), path, why);
	} else {
		r = 0;
	}
	free(buf);
	return r;
}

static json_object *entry_json(const struct phone_key *k)
{
	json_object *e = json_object_new_object();
	char hex[2 * PROTO_SKEY_LEN + 1];

	hex_encode(k->raw, k->shared ? PROTO_SKEY_LEN : PROTO_EKEY_LEN, hex, sizeof(hex));
	json_object_object_add(e, k->shared ? "skey" : "ekey", json_object_new_string(hex));
	json_object_object_add(e, "site_id", json_object_new_int64(k->site_id));
	json_object_object_add(e, "used", json_object_new_int64(k->used));
	json_object_object_add(e, "spot_name", json_object_new_string(k->spot_name));
	json_object_object_add(e, "address", json_object_new_string(k->address));
	json_object_object_add(e, "delivered", json_object_new_boolean(k->delivered));
	return e;
}

int keyring_save(const struct keyring *kr, const char *path)
{
	json_object *root = json_object_new_object(), *keys = json_object_new_array();
	const char *text;
	size_t i;
	int r;

	json_object_object_add(root, "version", json_object_new_int(1));
	for (i = 0; i < kr->count; i++)
		json_object_array_add(keys, entry_json(&kr->keys[i]));
	json_object_object_add(root, "keys", keys);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	r = atomicfile_write(path, (const uint8_t *)text, strlen(text), 0600);
	json_object_put(root);
	return r;
}

int keyring_remove(struct keyring *kr, uint32_t key_id)
{
	struct phone_key *k = keyring_find(kr, key_id);

	if (k == NULL)
		return -1;
	*k = kr->keys[--kr->count];
	return 0;
}

struct phone_key *keyring_find(struct keyring *kr, uint32_t key_id)
{
	size_t i;

	for (i = 0; i < kr->count; i++)
		if (kr->keys[i].ekey.key_id == key_id)
			return &kr->keys[i];
	return NULL;
}

int keyring_put(struct keyring *kr, const struct phone_key *k)
{
	struct phone_key *old = keyring_find(kr, k->ekey.key_id);
	uint32_t used;
	bool delivered;

	if (old != NULL) {
		used = old->used > k->used ? old->used : k->used;
		delivered = old->delivered || k->delivered;
		*old = *k;
		old->used = used;
		old->delivered = delivered;
		return 0;
	}
	if (kr->count >= KEYRING_MAX)
		return -1;
	kr->keys[kr->count++] = *k;
	return 0;
}

struct phone_key *keyring_for_spot(struct keyring *kr, uint32_t spot, uint32_t now)
{
	struct phone_key *best = NULL, *newest = NULL, *k;
	size_t i;

	for (i = 0; i < kr->count; i++) {
		k = &kr->keys[i];
		if (k->ekey.spot_id != spot)
			continue;
		if (newest == NULL || k->ekey.key_id > newest->ekey.key_id)
			newest = k;
		if (phone_key_check(k, now) == KEY_OK &&
		    (best == NULL || k->ekey.key_id > best->ekey.key_id))
			best = k;
	}
	return best != NULL ? best : newest;
}

enum key_refusal phone_key_check(const struct phone_key *k, uint32_t now)
{
	if (k->ekey.not_before != PROTO_TIME_NONE_BEFORE && now < k->ekey.not_before)
		return KEY_NOT_YET;
	if (k->ekey.not_after != PROTO_TIME_NONE_AFTER && now > k->ekey.not_after)
		return KEY_EXPIRED;
	if (k->ekey.max_unlocks != PROTO_UNLIMITED_USES && k->used >= k->ekey.max_unlocks)
		return KEY_USED_UP;
	return KEY_OK;
}

static void format_time(uint32_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, cap, "%u", (unsigned)t);
}

void phone_key_explain(const struct phone_key *k, enum key_refusal why, char *buf, size_t cap)
{
	char when[64];

	switch (why) {
	case KEY_NOT_YET:
		format_time(k->ekey.not_before, when, sizeof(when));
		snprintf(buf, cap, _("key %u for spot %u is not valid before %s"),
			 (unsigned)k->ekey.key_id, (unsigned)k->ekey.spot_id, when);
		break;
	case KEY_EXPIRED:
		format_time(k->ekey.not_after, when, sizeof(when));
		snprintf(buf, cap, _("key %u for spot %u expired at %s; ask for a new one with "
				     "'parkctl key %u'"), (unsigned)k->ekey.key_id,
			 (unsigned)k->ekey.spot_id, when, (unsigned)k->ekey.spot_id);
		break;
	case KEY_USED_UP:
		snprintf(buf, cap, _("key %u for spot %u has been used %u of %u times"),
			 (unsigned)k->ekey.key_id, (unsigned)k->ekey.spot_id, (unsigned)k->used,
			 (unsigned)k->ekey.max_unlocks);
		break;
	default:
		snprintf(buf, cap, _("key %u for spot %u may be used"), (unsigned)k->ekey.key_id,
			 (unsigned)k->ekey.spot_id);
		break;
	}
}

json_object *phone_key_json(const struct phone_key *k, uint32_t now)
{
	json_object *o = json_object_new_object();
	enum key_refusal why = phone_key_check(k, now);
	char text[256];

	json_object_object_add(o, "key_id", json_object_new_int64(k->ekey.key_id));
	json_object_object_add(o, "spot_id", json_object_new_int64(k->ekey.spot_id));
	json_object_object_add(o, "site_id", json_object_new_int64(k->site_id));
	json_object_object_add(o, "spot_name", json_object_new_string(k->spot_name));
	json_object_object_add(o, "not_before", k->ekey.not_before == PROTO_TIME_NONE_BEFORE ?
				NULL : json_object_new_int64(k->ekey.not_before));
	json_object_object_add(o, "not_after", k->ekey.not_after == PROTO_TIME_NONE_AFTER ?
				NULL : json_object_new_int64(k->ekey.not_after));
	json_object_object_add(o, "max_unlocks", k->ekey.max_unlocks == PROTO_UNLIMITED_USES ?
				NULL : json_object_new_int64(k->ekey.max_unlocks));
	json_object_object_add(o, "used", json_object_new_int64(k->used));
	json_object_object_add(o, "owner", json_object_new_boolean(
				(k->ekey.flags & PROTO_CRED_OWNER) != 0));
	json_object_object_add(o, "shared", json_object_new_boolean(k->shared));
	if (k->shared) {
		json_object_object_add(o, "sharer_id", json_object_new_int64(k->skey.sharer_id));
		json_object_object_add(o, "parent_key_id",
				       json_object_new_int64(k->skey.parent_key_id));
		json_object_object_add(o, "mode", json_object_new_string(
					       k->skey.mode == PROTO_SHARE_TRANSFER ? "transfer" :
										    "co-share"));
	}
	json_object_object_add(o, "usable", json_object_new_boolean(why == KEY_OK));
	phone_key_explain(k, why, text, sizeof(text));
	json_object_object_add(o, "status", json_object_new_string(text));
	return o;
}
