/*
 * holders.h: who holds what on spots, as the server lists it: the e-keys and shares of
 * GET /v1/spots/{id}/keys and the shares of GET /v1/shares, kept as rows with a
 * selection, for the spot's details and the owner's screens of share requests and of
 * members. Each row's state, limits and delivery to the lock are parsed once here and
 * worded by the functions below. Plain data and gettext: no curses, no I/O.
 */
#ifndef PARK_TUI_HOLDERS_H
#define PARK_TUI_HOLDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define HOLDERS_MAX 200        /* rows kept; more are counted in `dropped` */
#define HOLDERS_PHONE_LEN 32
#define HOLDERS_NAME_LEN 64
#define HOLDERS_RESULT_LEN 32
#define HOLDERS_NONE ((size_t)-1)
#define HOLDERS_NO_END 4294967295LL /* not_after of a key or share without an end */

enum holders_kind {
	HOLDERS_KEY,
	HOLDERS_SHARE,
};

/* What a row is now. */
enum holders_status {
	HOLDERS_LIVE,      /* opens the lock: a live key, an active share that is live */
	HOLDERS_EXPIRED,   /* past its not_after */
	HOLDERS_STOPPED,   /* an active share that is not live: what it derives from ended */
	HOLDERS_REVOKED,
	HOLDERS_HANDED_ON, /* given to someone else by a transfer */
	HOLDERS_PENDING,   /* a share waiting for the owner's approval */
	HOLDERS_OFFERED,   /* a share not accepted yet */
	HOLDERS_FROZEN,
	HOLDERS_REFUSED,
	HOLDERS_GIVEN_UP,
	HOLDERS_UNKNOWN,   /* a state this console does not know */
	HOLDERS_STATUSES
};

/* Where its credential or share code is on the way to the lock. */
enum holders_delivery {
	HOLDERS_DL_NONE,     /* nothing queued (a share not accepted, an old key) */
	HOLDERS_DL_QUEUED,   /* queued for the gateways */
	HOLDERS_DL_ON_LOCK,  /* the lock acknowledged it */
	HOLDERS_DL_REFUSED,  /* the lock answered with an error: `result` */
	HOLDERS_DL_FAILED,   /* the server gave up delivering it */
	HOLDERS_DELIVERIES
};

struct holders_entry {
	enum holders_kind kind;
	int64_t id;                        /* key ID or share ID, >= 1 */
	int64_t spot_id;                   /* >= 1 */
	char spot_name[HOLDERS_NAME_LEN];  /* "" when the reply did not name it */
	int64_t parent_key_id;             /* a share: the root e-key; a key: 0 */
	int64_t holder_id;                 /* a key's holder, a share's recipient; 0 unknown */
	char holder[HOLDERS_PHONE_LEN];    /* their phone number, or "" */
	char sharer[HOLDERS_PHONE_LEN];    /* a share: who shared it, or "" */
	bool owner_key;                    /* a key: the spot owner's own */
	bool transfer;                     /* a share: mode transfer (else co-share) */
	int64_t not_before, not_after;     /* Unix s; not_after HOLDERS_NO_END: none */
	int64_t max_unlocks;               /* 0: unlimited */
	int64_t since;                     /* Unix s: issued (key) or asked for (share) */
	enum holders_status status;
	enum holders_delivery delivery;
	char result[HOLDERS_RESULT_LEN];   /* HOLDERS_DL_REFUSED: the lock's answer */
};

/* Which rows a list keeps. */
enum holders_filter {
	HOLDERS_EVERYTHING, /* every key and share (the spot's details) */
	HOLDERS_REQUESTS,   /* shares waiting for the owner's approval */
	HOLDERS_MEMBERS,    /* live keys, and active and frozen shares */
};

struct holders {
	struct holders_entry e[HOLDERS_MAX];
	size_t count;
	size_t dropped;     /* rows of the last replies beyond HOLDERS_MAX */
	size_t selected;    /* index into e, < count when count > 0 */
	bool known;         /* a list has been read */
};

void holders_init(struct holders *h);

/*
 * Replaces the rows with those of replies[0..n) that pass `filter`, in order: each
 * reply's "keys" then its "shares" (GET /v1/spots/{id}/keys: its "spot_id" and
 * "spot_name" name the keys' spot; GET /v1/shares has shares only). With nspots > 0,
 * only rows of spots[0..nspots). Entries that do not parse (no integer ID or spot, a
 * share without a state) are skipped. The selection stays on the same row (kind and ID)
 * when it is still listed. Returns the number of rows, or -1 (rows unchanged) when no
 * reply has a "keys" or "shares" array.
 */
int holders_set(struct holders *h, json_object *const *replies, size_t n,
		enum holders_filter filter, const int64_t *spots, size_t nspots, int64_t now);

/* The selected row, or NULL when there is none. */
const struct holders_entry *holders_selected(const struct holders *h);

/* Moves the selection by delta, clamped to the list. */
void holders_move(struct holders *h, int delta);

/* The index of the row of `kind` and `id`, or HOLDERS_NONE. */
size_t holders_find(const struct holders *h, enum holders_kind kind, int64_t id);

/* ---- words for the screens (translated) ---- */

/* What the row is, with its ID: "owner key 3", "key 12", "co-share 15", "transfer 16". */
const char *holders_what(const struct holders_entry *e, char *buf, size_t cap);

/* The status as a user reads it: "live", "awaiting approval", "frozen", ... */
const char *holders_status_label(enum holders_status s);

/* Where it is on the way to the lock: "on the lock", "queued", "refused: used_up", "-". */
const char *holders_delivery_label(const struct holders_entry *e, char *buf, size_t cap);

/* The unlocks allowed: "5" or "unlimited". */
const char *holders_unlocks(const struct holders_entry *e, char *buf, size_t cap);

#endif
