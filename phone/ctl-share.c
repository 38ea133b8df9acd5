/*
 * ctl-share.c: parkctl's verbs for sharing and owner control (claims 5-7, patent [0034],
 * [0052]): share, shares, members, revoke, freeze, unfreeze, approve, deny, policy, otp.
 * Manager verbs take --otp CODE, the current one-time code of the user's authenticator
 * once one is enrolled; `otp enrol` shows the otpauth:// URI and its QR code (drawn
 * with libqrencode: a well-kept encoder beats writing Reed-Solomon coding here).
 */
#include <libintl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qrencode.h>

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

/* A number argument (an ID) into the request as `name`; 0, or -1 after saying why. */
static int add_id(json_object *req, const char *name, const char *arg)
{
	char *end;
	long long v = strtoll(arg, &end, 10);

	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || v < 1 || v > 4294967295LL) {
		fprintf(stderr, _("parkctl: %s is not an ID\n"), arg);
		return -1;
	}
	json_object_object_add(req, name, json_object_new_int64(v));
	return 0;
}

/* ---- share ---- */

struct share_state {
	bool transfer, may_reshare;
	long long from, until, uses;
};

static const struct cli_option share_opts[] = {
	{ "transfer", 't', NULL, N_("hand the key over: yours stops working (default: co-share)") },
	{ "from", 'f', "TIME", N_("valid from TIME (Unix seconds, or +SECONDS from now)") },
	{ "until", 'u', "TIME", N_("valid until TIME (Unix seconds, or +SECONDS from now)") },
	{ "uses", 'n', "N", N_("at most N unlocks") },
	{ "may-reshare", 'r', NULL, N_("the recipient may share it again") },
};

/* TIME: Unix seconds, or +SECONDS from now. -1 when it is neither. */
static long long parse_time(const char *arg)
{
	char *end;
	long long v = strtoll(arg + (arg[0] == '+'), &end, 10);

	if (*end != '\0' || v < 0 || (arg[0] != '+' && (arg[0] < '0' || arg[0] > '9')))
		return -1;
	return arg[0] == '+' ? (long long)time(NULL) + v : v;
}

static int share_option(void *state, int row, const char *arg)
{
	struct share_state *s = state;
	long long *dst = row == 1 ? &s->from : row == 2 ? &s->until : &s->uses;

	if (row == 0 || row == 4) {
		*(row == 0 ? &s->transfer : &s->may_reshare) = true;
		return 0;
	}
	*dst = row == 3 ? strtoll(arg, NULL, 10) : parse_time(arg);
	if (*dst < (row == 3 ? 1 : 0) || (row == 3 && *dst > 65535) ||
	    (row == 3 && strspn(arg, "0123456789") != strlen(arg))) {
		fprintf(stderr, _("parkctl: --%s takes %s\n"), share_opts[row].name,
			row == 3 ? _("a number from 1 to 65535") :
				   _("Unix seconds or +SECONDS"));
		return -1;
	}
	return 0;
}

static int run_share(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	struct share_state *s = state;
	json_object *req = parkctl_request("share"), *r, *sh = NULL, *res;

	(void)nargs;
	parkctl_add_spot(req, args[0]);
	json_object_object_add(req, "phone", json_object_new_string(args[1]));
	json_object_object_add(req, "mode", json_object_new_string(s->transfer ? "transfer" :
										 "co-share"));
	if (s->from > 0)
		json_object_object_add(req, "not_before", json_object_new_int64(s->from));
	if (s->until > 0)
		json_object_object_add(req, "not_after", json_object_new_int64(s->until));
	if (s->uses > 0)
		json_object_object_add(req, "max_unlocks", json_object_new_int64(s->uses));
	if (s->may_reshare)
		json_object_object_add(req, "may_reshare", json_object_new_boolean(1));
	r = parkctl_call(pc, req);
	if (r == NULL || pc->json)
		return finish(pc, r);
	if (json_object_object_get_ex(r, "result", &res))
		(void)json_object_object_get_ex(res, "share", &sh);
	printf(_("Share %lld of spot %s to %s: %s.\n"), parkctl_int(sh, "share_id"), args[0],
	       args[1], parkctl_str(sh, "state"));
	return finish(pc, r);
}

/* ---- shares, members ---- */

static void print_share(json_object *s)
{
	printf("%-6lld %-6lld %-16s %-16s %-9s %-17s", parkctl_int(s, "share_id"),
	       parkctl_int(s, "spot_id"), parkctl_str(s, "sharer_phone"),
	       parkctl_str(s, "recipient_phone"), parkctl_str(s, "mode"),
	       parkctl_str(s, "state"));
	if (parkctl_int(s, "max_unlocks") > 0)
		printf(_(" %lld unlocks"), parkctl_int(s, "max_unlocks"));
	printf("\n");
}

static int list_shares(struct parkctl *pc, const char *spot)
{
	json_object *req = parkctl_request("shares"), *r, *list = NULL;
	size_t i, n;

	if (spot != NULL)
		parkctl_add_spot(req, spot);
	r = parkctl_call(pc, req);
	if (r == NULL || pc->json)
		return finish(pc, r);
	(void)json_object_object_get_ex(r, "shares", &list);
	n = list != NULL ? json_object_array_length(list) : 0;
	if (n == 0)
		printf(_("No shares.\n"));
	else
		printf(_("%-6s %-6s %-16s %-16s %-9s %s\n"), _("SHARE"), _("SPOT"), _("FROM"),
		       _("TO"), _("MODE"), _("STATE"));
	for (i = 0; i < n; i++)
		print_share(json_object_array_get_idx(list, i));
	return finish(pc, r);
}

static int run_shares(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	(void)state;
	return list_shares(pc, nargs > 0 ? args[0] : NULL);
}

/* ---- one ID with --otp: revoke, freeze, unfreeze, approve, deny ---- */

struct otp_state {
	const char *otp;
};

static const struct cli_option otp_opts[] = {
	{ "otp", 'o', "CODE", N_("the current one-time code of your authenticator") },
};

static int otp_option(void *state, int row, const char *arg)
{
	(void)row;
	((struct otp_state *)state)->otp = arg;
	return 0;
}

/* `done` is a sentence with one %s, the ID: "Share %s is frozen." */
static int id_action(struct parkctl *pc, const char *cmd, const char *id, const char *otp,
		     const char *done)
{
	const char *at;

	json_object *req = parkctl_request(cmd), *r;

	if (add_id(req, "id", id) != 0) {
		json_object_put(req);
		return 2;
	}
	if (otp != NULL)
		json_object_object_add(req, "otp", json_object_new_string(otp));
	r = parkctl_call(pc, req);
	if (r != NULL && !pc->json) {
		at = strstr(done, "%s");
		if (at != NULL)
			printf("%.*s%s%s", (int)(at - done), done, id, at + 2);
		else
			fputs(done, stdout);
	}
	return finish(pc, r);
}

#define ID_VERB(fn, cmd, text)                                                         \
	static int fn(struct parkctl *pc, void *state, char **args, unsigned nargs)     \
	{                                                                              \
		(void)nargs;                                                           \
		return id_action(pc, cmd, args[0], ((struct otp_state *)state)->otp,   \
				 text);                                                \
	}
ID_VERB(run_revoke, "revoke", _("%s is revoked; the lock is told through its gateway and "
				"the phones that carry the list.\n"))
ID_VERB(run_freeze, "freeze", _("Share %s is frozen.\n"))
ID_VERB(run_unfreeze, "unfreeze", _("Share %s works again.\n"))
ID_VERB(run_approve, "approve", _("Share %s is approved.\n"))
ID_VERB(run_deny, "deny", _("Share %s is refused.\n"))

/* ---- policy ---- */

struct policy_state {
	const char *otp, *region, *add, *remove, *approval, *renters, *key_valid, *key_uses;
};

static const struct cli_option policy_opts[] = {
	{ "otp", 'o', "CODE", N_("the current one-time code of your authenticator") },
	{ "region", 'R', "REGION", N_("with policy region: the region whose users may book") },
	{ "add", 'a', "PHONE", N_("authorise the user of PHONE") },
	{ "remove", 'd', "USER", N_("withdraw user ID USER's authorisation") },
	{ "approval", 'p', "yes|no", N_("whether shares of the spot need your approval") },
	{ "renters-share", 's', "yes|no", N_("whether renters may share their keys") },
	{ "key-valid", 'v', "SECONDS", N_("how long a renter's key is valid (0: no end)") },
	{ "key-uses", 'n', "N", N_("how many unlocks a renter's key allows (0: no bound)") },
};

static int policy_option(void *state, int row, const char *arg)
{
	struct policy_state *s = state;
	const char **slot[] = { &s->otp, &s->region, &s->add, &s->remove, &s->approval,
				&s->renters, &s->key_valid, &s->key_uses };

	if (row >= 6 && (arg[0] == '\0' || strspn(arg, "0123456789") != strlen(arg) ||
			 strlen(arg) > 9)) {
		fprintf(stderr, _("parkctl: --%s takes a whole number\n"), policy_opts[row].name);
		return -1;
	}
	if (row >= 4 && row < 6 && strcmp(arg, "yes") != 0 && strcmp(arg, "no") != 0) {
		fprintf(stderr, _("parkctl: --%s takes yes or no\n"), policy_opts[row].name);
		return -1;
	}
	*slot[row] = arg;
	return 0;
}

static int run_policy(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	struct policy_state *s = state;
	json_object *req = parkctl_request("policy"), *r, *spot = NULL, *auth = NULL, *users;
	size_t i;

	parkctl_add_spot(req, args[0]);
	if (nargs > 1) {
		if (strcmp(args[1], "anyone") != 0 && strcmp(args[1], "region") != 0 &&
		    strcmp(args[1], "authorised") != 0) {
			fprintf(stderr, _("parkctl: the policy is anyone, region or authorised\n"));
			json_object_put(req);
			return 2;
		}
		json_object_object_add(req, "policy", json_object_new_string(args[1]));
	}
	if (s->region != NULL)
		json_object_object_add(req, "region", json_object_new_string(s->region));
	if (s->otp != NULL)
		json_object_object_add(req, "otp", json_object_new_string(s->otp));
	if (s->add != NULL)
		json_object_object_add(req, "add", json_object_new_string(s->add));
	if (s->remove != NULL && add_id(req, "remove", s->remove) != 0) {
		json_object_put(req);
		return 2;
	}
	if (s->approval != NULL)
		json_object_object_add(req, "require_share_approval",
				       json_object_new_boolean(strcmp(s->approval, "yes") == 0));
	if (s->renters != NULL)
		json_object_object_add(req, "renters_may_share",
				       json_object_new_boolean(strcmp(s->renters, "yes") == 0));
	if (s->key_valid != NULL)
		json_object_object_add(req, "key_valid_s",
				       json_object_new_int64(strtoll(s->key_valid, NULL, 10)));
	if (s->key_uses != NULL)
		json_object_object_add(req, "key_max_unlocks",
				       json_object_new_int64(strtoll(s->key_uses, NULL, 10)));
	r = parkctl_call(pc, req);
	if (r == NULL || pc->json)
		return finish(pc, r);
	(void)json_object_object_get_ex(r, "result", &spot);
	(void)json_object_object_get_ex(r, "authorised", &auth);
	printf(_("Spot %s: policy %s%s%s; shares %s approval; renters %s share.\n"),
	       parkctl_str(spot, "name"), parkctl_str(spot, "policy"),
	       parkctl_str(spot, "region")[0] ? " " : "", parkctl_str(spot, "region"),
	       parkctl_int(spot, "require_share_approval") == 1 ? _("need") : _("need no"),
	       parkctl_int(spot, "renters_may_share") == 1 ? _("may") : _("may not"));
	if (auth != NULL && json_object_object_get_ex(auth, "users", &users))
		for (i = 0; i < json_object_array_length(users); i++)
			printf(_("  authorised: %s (user %lld)\n"),
			       parkctl_str(json_object_array_get_idx(users, i), "phone"),
			       parkctl_int(json_object_array_get_idx(users, i), "user_id"));
	return finish(pc, r);
}

/* ---- otp ---- */

/* Draws the QR code of text with two characters a module, in a quiet zone of 2. */
static void print_qr(const char *text)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int x, y, w;

	if (q == NULL) {
		fprintf(stderr, _("parkctl: the QR code could not be made; type the URI in\n"));
		return;
	}
	w = q->width;
	for (y = -2; y < w + 2; y++) {
		for (x = -2; x < w + 2; x++) {
			int dark = x >= 0 && y >= 0 && x < w && y < w && (q->data[y * w + x] & 1);

			fputs(dark ? "  " : "\u2588\u2588", stdout);
		}
		putchar('\n');
	}
	QRcode_free(q);
}

static int run_otp(struct parkctl *pc, void *state, char **args, unsigned nargs)
{
	json_object *req = parkctl_request("otp"), *r, *res = NULL;

	(void)state;
	json_object_object_add(req, "action", json_object_new_string(args[0]));
	if (nargs > 1)
		json_object_object_add(req, "code", json_object_new_string(args[1]));
	r = parkctl_call(pc, req);
	if (r == NULL || pc->json)
		return finish(pc, r);
	(void)json_object_object_get_ex(r, "result", &res);
	if (strcmp(args[0], "enrol") == 0) {
		printf(_("Scan this with your authenticator app, or type in the secret %s:\n%s\n"),
		       parkctl_str(res, "secret"), parkctl_str(res, "uri"));
		print_qr(parkctl_str(res, "uri"));
		printf(_("Then confirm with 'parkctl otp confirm CODE'.\n"));
	} else if (strcmp(args[0], "confirm") == 0) {
		printf(_("One-time codes are on: manager actions now need --otp CODE.\n"));
	} else {
		printf(_("One-time codes: %s\n"), parkctl_int(res, "otp") == 1 ? _("on") : _("off"));
	}
	return finish(pc, r);
}

const struct parkctl_verb parkctl_verb_share = {
	"share", "SPOT PHONE", N_("Share your key for SPOT with the user of PHONE"), 2, 2,
	share_opts, 5, share_option, sizeof(struct share_state), run_share,
};
const struct parkctl_verb parkctl_verb_shares = {
	"shares", "[SPOT]", N_("List the shares you made, got, or that are on your spots"), 0, 1,
	NULL, 0, NULL, 0, run_shares,
};
const struct parkctl_verb parkctl_verb_members = {
	"members", "SPOT", N_("List the share members of your spot"), 1, 1,
	NULL, 0, NULL, 0, run_shares,
};
const struct parkctl_verb parkctl_verb_revoke = {
	"revoke", "ID", N_("Revoke a key or share on your spot, or give up one shared with you"),
	1, 1, otp_opts, 1, otp_option, sizeof(struct otp_state), run_revoke,
};
const struct parkctl_verb parkctl_verb_freeze = {
	"freeze", "SHARE", N_("Stop a share on your spot from working, for now"), 1, 1,
	otp_opts, 1, otp_option, sizeof(struct otp_state), run_freeze,
};
const struct parkctl_verb parkctl_verb_unfreeze = {
	"unfreeze", "SHARE", N_("Let a frozen share work again"), 1, 1,
	otp_opts, 1, otp_option, sizeof(struct otp_state), run_unfreeze,
};
const struct parkctl_verb parkctl_verb_approve = {
	"approve", "SHARE", N_("Approve a share of your spot that waits for you"), 1, 1,
	otp_opts, 1, otp_option, sizeof(struct otp_state), run_approve,
};
const struct parkctl_verb parkctl_verb_deny = {
	"deny", "SHARE", N_("Refuse a share of your spot that waits for you"), 1, 1,
	otp_opts, 1, otp_option, sizeof(struct otp_state), run_deny,
};
const struct parkctl_verb parkctl_verb_policy = {
	"policy", "SPOT [anyone|region|authorised]",
	N_("Show or set who may use your spot, and its sharing rules"), 1, 2,
	policy_opts, 8, policy_option, sizeof(struct policy_state), run_policy,
};
const struct parkctl_verb parkctl_verb_otp = {
	"otp", "enrol|confirm CODE|status", N_("Enrol an authenticator for one-time codes"), 1, 2,
	NULL, 0, NULL, 0, run_otp,
};
