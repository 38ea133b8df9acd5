/*
 * ctl-keys.c: parkctl's verbs for spots and keys: spots (with filters), key (the
 * reservation key when needed, then the e-key; prints its limits), keys, unlock (done
 * only when the lock confirms the barrier is down) and lock.
 */
#include <libintl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parkctl.h"

#define _(s) gettext(s)
#define N_(s) s

static int finish(struct parkctl *pc, json_object *r)
{
	int rc = 0;

	if (r == NULL)
		return 1;
	if (pc->json)
		rc = parkctl_print_json(r);
	json_object_put(r);
	return rc;
}

/* ---- spots ---- */

struct spots_state {
	long long site;
	const char *level;
	bool free_only;
};

static const struct cli_option spots_opts[] = {
	{ "site", 's', "ID", N_("only the spots of site ID") },
	{ "level", 'L', "LEVEL", N_("only the spots on LEVEL, e.g. B1") },
	{ "free", 'f', NULL, N_("only the spots nobody holds a key for") },
};

static int spots_option(void *state, int row, const char *arg)
{
	struct spots_state *s = state;
	char *end;

	if (row == 0) {
		s->site = strtoll(arg, &end, 10);
		if (*end != '\0' || s->site < 1) {
			fprintf(stderr, _("parkctl: --site takes a site ID\n"));
			return -1;
		}
	} else if (row == 1) {
		s->level = arg;
	} else {
		s->free_only = true;
	}
	return 0;
}

static const char *yes_no_unknown(json_object *o, const char *name, const char *yes,
				  const char *no)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return "?";
	return json_object_get_boolean(v) ? yes : no;
}

static int run_spots(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	struct spots_state *s = state;
	json_object *req = parkctl_request("spots"), *r, *list = NULL, *o;
	size_t i, n;

	(void)args;
	(void)nargs;
	if (s->site > 0)
		json_object_object_add(req, "site", json_object_new_int64(s->site));
	if (s->level != NULL)
		json_object_object_add(req, "level", json_object_new_string(s->level));
	if (s->free_only)
		json_object_object_add(req, "free", json_object_new_boolean(1));
	r = parkctl_call(pc, req);
	if (r == NULL || pc->json)
		return finish(pc, r);
	(void)json_object_object_get_ex(r, "spots", &list);
	n = list != NULL ? json_object_array_length(list) : 0;
	printf(_("%-6s %-12s %-6s %-10s %-8s %-8s %s\n"), _("ID"), _("NAME"), _("LEVEL"),
	       _("POLICY"), _("LOCKED"), _("ONLINE"), _("TAKEN"));
	for (i = 0; i < n; i++) {
		o = json_object_array_get_idx(list, i);
		printf("%-6lld %-12s %-6s %-10s %-8s %-8s %s\n", parkctl_int(o, "id"),
		       parkctl_str(o, "name"), parkctl_str(o, "level"), parkctl_str(o, "policy"),
		       yes_no_unknown(o, "locked", _("yes"), _("no")),
		       yes_no_unknown(o, "online", _("yes"), _("no")),
		       yes_no_unknown(o, "taken", _("yes"), _("no")));
	}
	return finish(pc, r);
}

/* ---- key, keys ---- */

static void print_time(const char *label, json_object *k, const char *name)
{
	char buf[64];
	long long t = parkctl_int(k, name);
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || localtime_r(&tt, &tm) == NULL)
		printf("  %-12s %s\n", label, _("none"));
	else if (strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) > 0)
		printf("  %-12s %s\n", label, buf);
}

static void print_key(json_object *k)
{
	long long max = parkctl_int(k, "max_unlocks");

	printf(_("Key %lld for spot %lld (%s):\n"), parkctl_int(k, "key_id"),
	       parkctl_int(k, "spot_id"), parkctl_str(k, "spot_name"));
	print_time(_("valid from"), k, "not_before");
	print_time(_("valid until"), k, "not_after");
	if (max < 0)
		printf("  %-12s %s (%lld)\n", _("unlocks"), _("unlimited"),
		       parkctl_int(k, "used"));
	else
		printf("  %-12s %lld / %lld\n", _("unlocks"), parkctl_int(k, "used"), max);
	printf("  %s\n", parkctl_str(k, "status"));
}

struct key_state {
	bool fresh;
};

static const struct cli_option key_opts[] = {
	{ "new", 'n', NULL, N_("ask for a new key even when one is held") },
};

static int key_option(void *state, int row, const char *arg)
{
	(void)row;
	(void)arg;
	((struct key_state *)state)->fresh = true;
	return 0;
}

static int run_key(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	json_object *req = parkctl_request("key"), *r, *k = NULL;

	(void)nargs;
	parkctl_add_spot(req, args[0]);
	if (((struct key_state *)state)->fresh)
		json_object_object_add(req, "new", json_object_new_boolean(1));
	r = parkctl_call(pc, req);
	if (r == NULL || pc->json)
		return finish(pc, r);
	if (json_object_object_get_ex(r, "key", &k))
		print_key(k);
	return finish(pc, r);
}

static int run_keys(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	json_object *r = parkctl_call(pc, parkctl_request("keys")), *list = NULL, *v;
	size_t i, n;

	(void)state;
	(void)args;
	(void)nargs;
	if (r == NULL || pc->json)
		return finish(pc, r);
	if (json_object_object_get_ex(r, "synced", &v) && !json_object_get_boolean(v))
		printf(_("(the server did not answer: the keys this phone holds)\n"));
	(void)json_object_object_get_ex(r, "keys", &list);
	n = list != NULL ? json_object_array_length(list) : 0;
	if (n == 0)
		printf(_("No keys: get one with 'parkctl key SPOT'.\n"));
	for (i = 0; i < n; i++)
		print_key(json_object_array_get_idx(list, i));
	return finish(pc, r);
}

/* ---- unlock, lock ---- */

static int operate(struct parkctl *pc, const char *cmd, const char *spot)
{
	json_object *req = parkctl_request(cmd), *r;
	long long left;

	parkctl_add_spot(req, spot);
	r = parkctl_call(pc, req);
	if (r == NULL || pc->json)
		return finish(pc, r);
	if (strcmp(cmd, "unlock") == 0) {
		left = parkctl_int(r, "uses_left");
		if (left >= 0)
			printf(_("Spot %lld is open: the barrier is down (%lld unlocks left; %lld "
				 "ms).\n"), parkctl_int(r, "spot"), left, parkctl_int(r, "ms"));
		else
			printf(_("Spot %lld is open: the barrier is down (%lld ms).\n"),
			       parkctl_int(r, "spot"), parkctl_int(r, "ms"));
	} else {
		printf(_("Spot %lld is locked: the barrier is up (%lld ms).\n"),
		       parkctl_int(r, "spot"), parkctl_int(r, "ms"));
	}
	return finish(pc, r);
}

static int run_unlock(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	(void)state;
	(void)nargs;
	return operate(pc, "unlock", args[0]);
}

static int run_lock(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	(void)state;
	(void)nargs;
	return operate(pc, "lock", args[0]);
}

const struct parkctl_verb parkctl_verb_spots = {
	"spots", "", N_("List the spots you may see"), 0, 0,
	spots_opts, 3, spots_option, sizeof(struct spots_state), run_spots,
};
const struct parkctl_verb parkctl_verb_key = {
	"key", "SPOT", N_("Get an e-key for SPOT (an ID or a name) and show its limits"), 1, 1,
	key_opts, 1, key_option, sizeof(struct key_state), run_key,
};
const struct parkctl_verb parkctl_verb_keys = {
	"keys", "", N_("List your keys, refreshed from the server when it answers"), 0, 0,
	NULL, 0, NULL, 0, run_keys,
};
const struct parkctl_verb parkctl_verb_unlock = {
	"unlock", "SPOT", N_("Lower SPOT's barrier over BLE; done when the lock says it is "
			     "down"), 1, 1, NULL, 0, NULL, 0, run_unlock,
};
const struct parkctl_verb parkctl_verb_lock = {
	"lock", "SPOT", N_("Raise SPOT's barrier over BLE"), 1, 1, NULL, 0, NULL, 0, run_lock,
};
