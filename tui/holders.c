/*
 * holders.c: who holds what on spots (see holders.h). The server decides every state;
 * this file only keeps its last answer, filtered for a screen, and words it.
 */
#include "holders.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "i18n.h"

void holders_init(struct holders *h)
{
	memset(h, 0, sizeof(*h));
}

static bool holders_int(json_object *o, const char *key, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

static bool holders_bool(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

/* The string member `key` (borrowed), or NULL when absent or not a string. */
static const char *holders_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void holders_copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static void holders_delivery_parse(json_object *o, struct holders_entry *e)
{
	const char *state = NULL, *result = NULL;
	json_object *dl;

	e->delivery = HOLDERS_DL_NONE;
	if (!json_object_object_get_ex(o, "delivery", &dl) ||
	    !json_object_is_type(dl, json_type_object))
		return;
	state = holders_str(dl, "state");
	result = holders_str(dl, "result");
	if (state == NULL)
		return;
	if (strcmp(state, "pending") == 0) {
		e->delivery = HOLDERS_DL_QUEUED;
	} else if (strcmp(state, "failed") == 0) {
		e->delivery = HOLDERS_DL_FAILED;
	} else if (strcmp(state, "acked") == 0) {
		e->delivery = result == NULL || strcmp(result, "ok") == 0 ? HOLDERS_DL_ON_LOCK :
			HOLDERS_DL_REFUSED;
		holders_copy(e->result, sizeof(e->result), result);
	}
}

/* The limits and delivery both kinds have. */
static void holders_limits(json_object *o, struct holders_entry *e)
{
	if (!holders_int(o, "not_before", &e->not_before) || e->not_before < 0)
		e->not_before = 0;
	if (!holders_int(o, "not_after", &e->not_after) || e->not_after < 0)
		e->not_after = HOLDERS_NO_END;
	if (!holders_int(o, "max_unlocks", &e->max_unlocks) || e->max_unlocks < 0)
		e->max_unlocks = 0;
	holders_delivery_parse(o, e);
}

/* A key of GET /v1/spots/{id}/keys, of spot `spot` (named `name`). */
static bool holders_key_parse(json_object *o, int64_t spot, const char *name,
			      struct holders_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = HOLDERS_KEY;
	if (!json_object_is_type(o, json_type_object) || !holders_int(o, "key_id", &e->id) ||
	    e->id < 1 || spot < 1)
		return false;
	e->spot_id = spot;
	holders_copy(e->spot_name, sizeof(e->spot_name), name);
	if (!holders_int(o, "user_id", &e->holder_id))
		e->holder_id = 0;
	holders_copy(e->holder, sizeof(e->holder), holders_str(o, "phone"));
	e->owner_key = holders_bool(o, "owner");
	if (!holders_int(o, "issued_at", &e->since))
		e->since = 0;
	holders_limits(o, e);
	if (holders_bool(o, "revoked"))
		e->status = HOLDERS_REVOKED;
	else if (holders_bool(o, "transferred"))
		e->status = HOLDERS_HANDED_ON;
	else if (holders_bool(o, "live"))
		e->status = HOLDERS_LIVE;
	else
		e->status = HOLDERS_EXPIRED;
	return true;
}

static const struct {
	const char *state;
	enum holders_status status;
} holders_states[] = {
	{ "pending_approval", HOLDERS_PENDING },
	{ "offered", HOLDERS_OFFERED },
	{ "active", HOLDERS_LIVE },
	{ "refused", HOLDERS_REFUSED },
	{ "frozen", HOLDERS_FROZEN },
	{ "revoked", HOLDERS_REVOKED },
	{ "given_up", HOLDERS_GIVEN_UP },
};

/* A share as share_json() words it (server/share.h). */
static bool holders_share_parse(json_object *o, int64_t now, struct holders_entry *e)
{
	const char *state, *mode;
	size_t i;

	memset(e, 0, sizeof(*e));
	e->kind = HOLDERS_SHARE;
	if (!json_object_is_type(o, json_type_object) || !holders_int(o, "share_id", &e->id) ||
	    e->id < 1 || !holders_int(o, "spot_id", &e->spot_id) || e->spot_id < 1 ||
	    (state = holders_str(o, "state")) == NULL)
		return false;
	holders_copy(e->spot_name, sizeof(e->spot_name), holders_str(o, "spot_name"));
	if (!holders_int(o, "parent_key_id", &e->parent_key_id))
		e->parent_key_id = 0;
	if (!holders_int(o, "recipient_id", &e->holder_id))
		e->holder_id = 0;
	holders_copy(e->holder, sizeof(e->holder), holders_str(o, "recipient_phone"));
	holders_copy(e->sharer, sizeof(e->sharer), holders_str(o, "sharer_phone"));
	mode = holders_str(o, "mode");
	e->transfer = mode != NULL && strcmp(mode, "transfer") == 0;
	if (!holders_int(o, "created_at", &e->since))
		e->since = 0;
	holders_limits(o, e);
	e->status = HOLDERS_UNKNOWN;
	for (i = 0; i < sizeof(holders_states) / sizeof(holders_states[0]); i++)
		if (strcmp(holders_states[i].state, state) == 0)
			e->status = holders_states[i].status;
	if (holders_bool(o, "transferred") &&
	    (e->status == HOLDERS_LIVE || e->status == HOLDERS_REVOKED))
		e->status = HOLDERS_HANDED_ON;
	else if (e->status == HOLDERS_LIVE && !holders_bool(o, "live"))
		e->status = e->not_after < now ? HOLDERS_EXPIRED : HOLDERS_STOPPED;
	return true;
}

static bool holders_passes(const struct holders_entry *e, enum holders_filter f,
			   const int64_t *spots, size_t nspots)
{
	bool mine = nspots == 0;
	size_t i;

	for (i = 0; i < nspots && !mine; i++)
		mine = spots[i] == e->spot_id;
	if (!mine)
		return false;
	switch (f) {
	case HOLDERS_EVERYTHING:
		return true;
	case HOLDERS_REQUESTS:
		return e->kind == HOLDERS_SHARE && e->status == HOLDERS_PENDING;
	case HOLDERS_MEMBERS:
		if (e->kind == HOLDERS_KEY)
			return e->status == HOLDERS_LIVE;
		return e->status == HOLDERS_LIVE || e->status == HOLDERS_STOPPED ||
		       e->status == HOLDERS_FROZEN;
	}
	return false;
}

static void holders_keep(struct holders *h, const struct holders_entry *e,
			 enum holders_filter f, const int64_t *spots, size_t nspots)
{
	if (!holders_passes(e, f, spots, nspots))
		return;
	if (h->count == HOLDERS_MAX) {
		h->dropped++;
		return;
	}
	h->e[h->count++] = *e;
}

int holders_set(struct holders *h, json_object *const *replies, size_t n,
		enum holders_filter filter, const int64_t *spots, size_t nspots, int64_t now)
{
	const struct holders_entry *sel = holders_selected(h);
	enum holders_kind keep_kind = sel != NULL ? sel->kind : HOLDERS_KEY;
	int64_t keep_id = sel != NULL ? sel->id : 0, spot;
	struct holders_entry e;
	json_object *keys, *shares;
	bool any = false;
	size_t i, k;

	for (i = 0; i < n && !any; i++)
		any = replies[i] != NULL &&
		      ((json_object_object_get_ex(replies[i], "keys", &keys) &&
			json_object_is_type(keys, json_type_array)) ||
		       (json_object_object_get_ex(replies[i], "shares", &shares) &&
			json_object_is_type(shares, json_type_array)));
	if (!any)
		return -1;
	h->count = 0;
	h->dropped = 0;
	h->selected = 0;
	for (i = 0; i < n; i++) {
		if (replies[i] == NULL)
			continue;
		if (!holders_int(replies[i], "spot_id", &spot))
			spot = 0;
		if (json_object_object_get_ex(replies[i], "keys", &keys) &&
		    json_object_is_type(keys, json_type_array))
			for (k = 0; k < json_object_array_length(keys); k++)
				if (holders_key_parse(json_object_array_get_idx(keys, k), spot,
						      holders_str(replies[i], "spot_name"), &e))
					holders_keep(h, &e, filter, spots, nspots);
		if (json_object_object_get_ex(replies[i], "shares", &shares) &&
		    json_object_is_type(shares, json_type_array))
			for (k = 0; k < json_object_array_length(shares); k++)
				if (holders_share_parse(json_object_array_get_idx(shares, k), now,
							&e))
					holders_keep(h, &e, filter, spots, nspots);
	}
	k = holders_find(h, keep_kind, keep_id);
	if (k != HOLDERS_NONE)
		h->selected = k;
	h->known = true;
	return (int)h->count;
}

const struct holders_entry *holders_selected(const struct holders *h)
{
	return h->count > 0 && h->selected < h->count ? &h->e[h->selected] : NULL;
}

void holders_move(struct holders *h, int delta)
{
	long s = (long)h->selected + delta;

	if (h->count == 0) {
		h->selected = 0;
		return;
	}
	if (s < 0)
		s = 0;
	if (s >= (long)h->count)
		s = (long)h->count - 1;
	h->selected = (size_t)s;
}

size_t holders_find(const struct holders *h, enum holders_kind kind, int64_t id)
{
	size_t i;

	for (i = 0; i < h->count; i++)
		if (h->e[i].kind == kind && h->e[i].id == id)
			return i;
	return HOLDERS_NONE;
}

/* ---- words ---- */

const char *holders_what(const struct holders_entry *e, char *buf, size_t cap)
{
	if (e->kind == HOLDERS_KEY)
		snprintf(buf, cap, e->owner_key ? _("owner key %" PRId64) : _("key %" PRId64),
			 e->id);
	else
		snprintf(buf, cap, e->transfer ? _("transfer %" PRId64) : _("co-share %" PRId64),
			 e->id);
	return buf;
}

const char *holders_status_label(enum holders_status s)
{
	static const char *const labels[HOLDERS_STATUSES] = {
		[HOLDERS_LIVE] = N_("live"),
		[HOLDERS_EXPIRED] = N_("expired"),
		[HOLDERS_STOPPED] = N_("key ended"),
		[HOLDERS_REVOKED] = N_("revoked"),
		[HOLDERS_HANDED_ON] = N_("handed on"),
		[HOLDERS_PENDING] = N_("awaiting approval"),
		[HOLDERS_OFFERED] = N_("offered"),
		[HOLDERS_FROZEN] = N_("frozen"),
		[HOLDERS_REFUSED] = N_("refused"),
		[HOLDERS_GIVEN_UP] = N_("given up"),
		[HOLDERS_UNKNOWN] = N_("unknown"),
	};

	return _(labels[s < HOLDERS_STATUSES ? s : HOLDERS_UNKNOWN]);
}

const char *holders_delivery_label(const struct holders_entry *e, char *buf, size_t cap)
{
	switch (e->delivery) {
	case HOLDERS_DL_QUEUED:
		snprintf(buf, cap, "%s", _("queued"));
		break;
	case HOLDERS_DL_ON_LOCK:
		snprintf(buf, cap, "%s", _("on the lock"));
		break;
	case HOLDERS_DL_REFUSED:
		snprintf(buf, cap, _("refused: %s"), e->result);
		break;
	case HOLDERS_DL_FAILED:
		snprintf(buf, cap, "%s", _("not delivered"));
		break;
	default:
		snprintf(buf, cap, "-");
		break;
	}
	return buf;
}

const char *holders_unlocks(const struct holders_entry *e, char *buf, size_t cap)
{
	if (e->max_unlocks > 0)
		snprintf(buf, cap, "%" PRId64, e->max_unlocks);
	else
		snprintf(buf, cap, "%s", _("unlimited"));
	return buf;
}
