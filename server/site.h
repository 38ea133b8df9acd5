/*
 * site.h: sites on the key server: importing a site description (SITE-FORMAT.md) with
 * its map, spots, locks and gateways, the site key pair made at import, the map data
 * clients draw, and the provisioning data an installer loads into each lock. It knows
 * nothing of HTTP: errors come back as a struct site_error that route-site.c replies.
 */
#ifndef PARK_SITE_H
#define PARK_SITE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "db.h"

#define SITE_U32_MAX 4294967295LL
#define SITE_TEXT_ID_MAX 31   /* level and node IDs: 1..31 of [A-Za-z0-9_.-] */
#define SITE_NAME_MAX 64      /* site, level, spot and gateway names, bytes */
#define SITE_ADDRESS_MAX 255  /* a lock's transport address, bytes */
#define SITE_REGION_MAX 64
#define SITE_PLAN_MAX_M 10000 /* a level's width and height, metres */
#define SITE_LEVELS_MAX 64
#define SITE_NODES_MAX 1024   /* navigation.h's graph bound */
#define SITE_LANES_MAX 4096
#define SITE_SPOTS_MAX 4096
#define SITE_GATEWAYS_MAX 256
#define SITE_BODY_MAX (4u * 1024 * 1024) /* a description of SITE_SPOTS_MAX spots fits */
#define SITE_VALID_MAX_S (366LL * 24 * 3600) /* longest default key validity */

enum site_err {
	SITE_E_INVALID = 1,  /* the description or request is wrong: see the site_error */
	SITE_E_CONFLICT = 2, /* an ID or key is taken by what is already stored */
	SITE_E_NOTFOUND = 3, /* no such site */
	SITE_E_BUSY = 4,     /* the database is busy: retry the transaction */
	SITE_E_INTERNAL = 5, /* storage or crypto failed: see the log */
};

/*
 * What went wrong, ready for an error reply: HTTP status, stable code, a sentence, the
 * path of the offending member ("spots[3].lock.device_pub", or empty), and for
 * `uncovered_locks` the names of the uncovered locks (a JSON array the error owns).
 */
struct site_error {
	int status;
	const char *code;
	char detail[256];
	char field[96];
	json_object *uncovered;
};

/* Frees what an error holds; the struct may be reused afterwards. */
void site_error_clear(struct site_error *e);

/*
 * Validates the site description `desc` (borrowed) entirely, then stores it: the site
 * with a new site key pair (private half sealed under `master` for "site:<id>"), its
 * levels, nodes, lanes, spots, locks, gateways and their coverage, and an owner role for
 * each spot with an owner. Runs inside the caller's transaction: the caller has called
 * db_begin() and commits only on 0, else rolls back, so that on any error nothing is
 * stored. Returns 0 with *site_id set, or -SITE_E_* with *err filled (clear it after).
 */
int site_import(struct db *db, const uint8_t master[32], int64_t now, json_object *desc,
		int64_t *site_id, struct site_error *err);

/* Whether site `site_id` exists: 1, 0, or -SITE_E_INTERNAL on a storage error. */
int site_exists(struct db *db, int64_t site_id);

/*
 * The map of a site for clients: levels, nodes, lanes, spots with their live state and
 * gateways, coordinates in metres. No keys and no owners. Returns 0 with *out a new
 * object the caller puts, or -SITE_E_NOTFOUND / -SITE_E_INTERNAL.
 */
int site_map(struct db *db, int64_t site_id, json_object **out);

/*
 * Provisioning data: {"site_id", "site_public_key", "locks":[{"spot_id", "site_id",
 * "site_public_key", "address", "device_pub", "name"}]}. Same returns as site_map().
 */
int site_provisioning(struct db *db, int64_t site_id, json_object **out);

/*
 * Opens the site's private key for signing management frames. Returns 0 with *key set
 * (the caller frees it with EVP_PKEY_free), -SITE_E_NOTFOUND, or -SITE_E_INTERNAL when
 * the sealed key does not open under `master`.
 */
int site_key(struct db *db, const uint8_t master[32], int64_t site_id, EVP_PKEY **key);

#endif
