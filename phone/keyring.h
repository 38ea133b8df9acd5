/*
 * keyring.h: the keys a phone holds, its own e-keys and the shared keys others gave it,
 * kept in one JSON file written atomically (a crash leaves the old file or the new,
 * never half), and the phone's own check of a key's limits (claim 2) before any radio
 * traffic. The key's signed bytes are the truth: its limits, spot and device binding are
 * decoded from them, never taken from the file's other fields. Not thread-safe:
 * phoned.c holds its lock around every call.
 */
#ifndef PARK_PHONE_KEYRING_H
#define PARK_PHONE_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "../lockfw/proto/proto.h"

#define KEYRING_MAX 256
#define KEYRING_NAME_MAX 64
#define KEYRING_ADDR_MAX 256
#define KEYRING_FILE_MAX (1u << 20) /* a bigger keys file is refused as corrupt */

struct phone_key {
	/*
	 * Decoded from raw. For a shared key: key_id is the share ID, user_id the recipient,
	 * and spot, limits and device key are the shared key's own, so that every check
	 * reads one shape.
	 */
	struct proto_ekey ekey;
	bool shared;                         /* raw is a shared key (skey), not an e-key */
	struct proto_skey skey;              /* decoded from raw when shared */
	uint8_t raw[PROTO_SKEY_LEN];         /* as the server issued it: e-key or skey */
	uint32_t site_id;
	uint32_t used;                       /* unlocks this phone made with it */
	bool delivered;                      /* the server said the lock has its credential */
	char spot_name[KEYRING_NAME_MAX];
	char address[KEYRING_ADDR_MAX];      /* where the lock is reached; "" unknown */
};

struct keyring {
	size_t count;
	struct phone_key keys[KEYRING_MAX];
};

/*
 * Decodes raw[0..len) (a shared key's 160 bytes) into k->skey, k->ekey (the view above)
 * and k->raw, and checks that it is bound to `device_pub`. As phone_key_set_raw().
 */
int phone_key_set_shared(struct phone_key *k, const uint8_t *raw, size_t len,
			 const uint8_t device_pub[PROTO_PUBKEY_LEN], char *err, size_t errlen);

/* Removes the key with this ID (an e-key's or a share's). 0, or -1 when there is none. */
int keyring_remove(struct keyring *kr, uint32_t key_id);

/* Why the phone will not use a key now. */
enum key_refusal {
	KEY_OK = 0,
	KEY_NOT_YET,   /* before not_before */
	KEY_EXPIRED,   /* after not_after */
	KEY_USED_UP,   /* max_unlocks reached */
};

/*
 * Decodes raw[0..len) (an e-key's 151 bytes) into k->ekey and k->raw, and checks that it
 * is bound to `device_pub`. Other fields of k are left alone. Returns 0, or -1 with a
 * sentence in err (not an e-key, or for another device).
 */
int phone_key_set_raw(struct phone_key *k, const uint8_t *raw, size_t len,
		      const uint8_t device_pub[PROTO_PUBKEY_LEN], char *err, size_t errlen);

/*
 * Loads `path` into *kr; a missing file is an empty keyring. Every entry is checked
 * (hex, e-key decoding, the device binding, lengths). Returns 0, or -1 with a sentence
 * in err and *kr empty when the file is unreadable or corrupt.
 */
int keyring_load(struct keyring *kr, const char *path,
		 const uint8_t device_pub[PROTO_PUBKEY_LEN], char *err, size_t errlen);

/* Writes *kr to `path` (mode 0600) atomically. 0 or -1 with errno. */
int keyring_save(const struct keyring *kr, const char *path);

/*
 * Adds k, replacing the key with the same key ID (keeping the larger use count).
 * Returns 0, or -1 when the keyring is full.
 */
int keyring_put(struct keyring *kr, const struct phone_key *k);

/* The key with this ID, or NULL. */
struct phone_key *keyring_find(struct keyring *kr, uint32_t key_id);

/*
 * The key to use for `spot` at `now`: the newest one the limits allow, else the newest
 * one (so that the caller can say why it is refused), else NULL.
 */
struct phone_key *keyring_for_spot(struct keyring *kr, uint32_t spot, uint32_t now);

/* Whether the limits allow an unlock at `now`. */
enum key_refusal phone_key_check(const struct phone_key *k, uint32_t now);

/* A sentence saying why (for KEY_OK: that it may be used), into buf. */
void phone_key_explain(const struct phone_key *k, enum key_refusal why, char *buf, size_t cap);

/* The key as JSON for parkctl: IDs, spot, limits, uses, whether usable now. */
json_object *phone_key_json(const struct phone_key *k, uint32_t now);

#endif
