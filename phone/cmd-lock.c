/*
 * cmd-lock.c: `unlock` and `lock`: the key for the spot from the keyring, the phone's
 * own check of its limits before any radio traffic (claim 2), then the operation over
 * the radio (operate.c). Works with no server: the lock verifies the key alone.
 */
#include <libintl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "ctlproto.h"
#include "operate.h"

#define _(s) gettext(s)
#define DELIVERY_WAIT_MS 5000
#define DELIVERY_POLL_MS 25

static const char *refusal_code(enum key_refusal why)
{
	switch (why) {
	case KEY_NOT_YET: return "key_not_yet";
	case KEY_EXPIRED: return "key_expired";
	case KEY_USED_UP: return "key_used_up";
	default: return "ok";
	}
}

/* The key to use, copied out of the keyring. 0, or -1 with *err. */
static int pick_key(struct phoned *d, uint32_t spot, uint8_t op, struct phone_key *k,
		    json_object **err)
{
	struct phone_key *held;
	enum key_refusal why = KEY_OK;
	uint32_t now = phoned_now();
	char text[256];

	pthread_mutex_lock(&d->lock);
	held = keyring_for_spot(d->keys, spot, now);
	if (held != NULL) {
		*k = *held;
		why = phone_key_check(held, now);
	}
	pthread_mutex_unlock(&d->lock);
	if (held == NULL) {
		*err = ctl_error("no_key", _("you hold no key for spot %u: get one with 'parkctl "
					     "key %u'"), (unsigned)spot, (unsigned)spot);
		return -1;
	}
	/* Raising the barrier uses nothing up: the lock alone decides whether it may. */
	if (op == PROTO_OP_UNLOCK && why != KEY_OK) {
		phone_key_explain(k, why, text, sizeof(text));
		*err = ctl_error(refusal_code(why), "%s", text);
		return -1;
	}
	if (k->address[0] == '\0' && strcmp(d->cfg.transport, "bluez") != 0) {
		*err = ctl_error("lock_unreachable", _("the address of spot %u's lock is not known: "
						       "run 'parkctl keys' while online"),
				 (unsigned)spot);
		return -1;
	}
	return 0;
}

/* In GET path's list `member` (key_id / share_id `id_name`): 1 acked, 0 not yet, -1 unknown. */
static int delivery_in(struct phoned *d, const char *path, const char *member,
		       const char *id_name, uint32_t id)
{
	json_object *err = NULL, *r, *list, *k, *v;
	size_t i, n;
	int state = -1;

	r = phoned_api_call(d, "GET", path, NULL, 0, &err);
	json_object_put(err);
	if (r == NULL || !json_object_object_get_ex(r, member, &list) ||
	    !json_object_is_type(list, json_type_array)) {
		json_object_put(r);
		return -1;
	}
	n = json_object_array_length(list);
	for (i = 0; i < n && state < 0; i++) {
		k = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(k, id_name, &v) &&
		    (uint32_t)json_object_get_int64(v) == id)
			state = key_delivered(k) ? 1 : 0;
	}
	json_object_put(r);
	return state;
}

/* The delivery state of k's credential or authorisation code at the server. */
static int delivery_of(struct phoned *d, const struct phone_key *k)
{
	return k->shared ? delivery_in(d, "/v1/shares", "shares", "share_id", k->ekey.key_id) :
			   delivery_in(d, "/v1/keys", "keys", "key_id", k->ekey.key_id);
}

/*
 * A key just issued: its credential may still be on its way through the gateway. Waits
 * (up to DELIVERY_WAIT_MS) until the server says the lock has it, rather than spend a
 * failed unlock on it. With no server, the lock is simply asked.
 */
static void await_delivery(struct phoned *d, struct phone_key *k)
{
	struct timespec nap = { 0, DELIVERY_POLL_MS * 1000000L };
	int waited = 0, state;

	if (k->delivered || !phoned_session_get(d, NULL))
		return;
	while ((state = delivery_of(d, k)) == 0 && waited < DELIVERY_WAIT_MS) {
		nanosleep(&nap, NULL);
		waited += DELIVERY_POLL_MS;
	}
	if (state == 1) {
		k->delivered = true;
		phoned_keys_delivered(d, k->ekey.key_id);
	}
}

static const char *failure_code(enum operate_kind kind)
{
	switch (kind) {
	case OPERATE_REFUSED: return "lock_refused";
	case OPERATE_UNREACHABLE: return "lock_unreachable";
	case OPERATE_WRONG_LOCK: return "wrong_lock";
	default: return "lock_error";
	}
}

/* The revocation list lock `spot` has not had from this phone yet, copied: 0 or -1. */
static int list_due(struct phoned *d, const struct phone_key *k, struct revlist_site *out)
{
	const struct revlist_site *s;

	pthread_mutex_lock(&d->lock);
	s = revlist_due(d->revs, k->site_id, k->ekey.spot_id);
	if (s != NULL)
		*out = *s;
	pthread_mutex_unlock(&d->lock);
	return s != NULL ? 0 : -1;
}

static json_object *operate(struct phoned *d, json_object *req, uint8_t op)
{
	struct operate_outcome res;
	struct operate_carry carry = { NULL, 0, false };
	struct revlist_site *list = malloc(sizeof(*list));
	struct phone_key k;
	struct transport *t;
	json_object *err = NULL, *out;
	uint32_t spot;
	int r;

	if (list == NULL)
		return ctl_error("internal", _("out of memory"));
	if (cmd_spot(d, req, &spot, &err) != 0 || pick_key(d, spot, op, &k, &err) != 0) {
		free(list);
		return err;
	}
	await_delivery(d, &k);
	if (list_due(d, &k, list) == 0) {
		carry.frame = list->frame;
		carry.len = list->len;
	}
	pthread_mutex_lock(&d->radio);
	t = phoned_transport(d);
	r = t != NULL ? phone_operate(t, NULL, &k, d->device, op, &carry, &res) : -1;
	if (t != NULL && r != 0 && res.kind == OPERATE_UNREACHABLE)
		phoned_transport_reset(d); /* a bus that went away: the next try starts afresh */
	pthread_mutex_unlock(&d->radio);
	if (carry.taken) {
		pthread_mutex_lock(&d->lock);
		revlist_given(d->revs, spot, list->serial);
		pthread_mutex_unlock(&d->lock);
	}
	free(list);
	if (t == NULL)
		return ctl_error("lock_unreachable", _("the %s transport cannot be opened: see "
						       "parkphoned's log"), d->cfg.transport);
	if (r != 0) {
		out = ctl_error(failure_code(res.kind), "%s", res.detail);
		if (res.kind == OPERATE_REFUSED)
			json_object_object_add(out, "lock_code", json_object_new_string(
						       proto_status_name(res.lock_code)));
		return out;
	}
	if (op == PROTO_OP_UNLOCK)
		phoned_keys_used(d, k.ekey.key_id);
	out = ctl_ok();
	json_object_object_add(out, "spot", json_object_new_int64(spot));
	json_object_object_add(out, "key_id", json_object_new_int64(k.ekey.key_id));
	json_object_object_add(out, "barrier", json_object_new_string(
				       res.barrier == PROTO_BARRIER_DOWN ? "down" : "up"));
	json_object_object_add(out, "uses_left", res.uses_left == PROTO_USES_LEFT_UNLIMITED ?
				NULL : json_object_new_int64(res.uses_left));
	json_object_object_add(out, "ms", json_object_new_int64(res.total_ms));
	return out;
}

json_object *cmd_unlock(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	(void)conn;
	return operate(d, req, PROTO_OP_UNLOCK);
}

json_object *cmd_lock(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	(void)conn;
	return operate(d, req, PROTO_OP_LOCK);
}
