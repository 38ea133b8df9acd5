/*
 * parkctl.h: what parkctl's verbs share: the connection to parkphoned, the output mode
 * (--json for scripts, sentences for people), and the table row each verb module
 * exports. A verb sends one request, prints the reply, and returns the exit status:
 * 0 success, 1 the daemon, server or lock said no (or could not be reached), 2 usage.
 */
#ifndef PARK_PHONE_PARKCTL_H
#define PARK_PHONE_PARKCTL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "../lib/cli.h"
#include "ctlproto.h"

#define PARKCTL_REPLY_MS 60000 /* a cold key plus an unlock fit well inside */

struct parkctl {
	const char *socket;   /* the daemon's control socket */
	bool json;            /* print replies as JSON */
	struct ctl_reader *reader; /* the connection, opened at the first request */
};

/* A verb: its options beyond --help and --json, and what it does. */
struct parkctl_verb {
	const char *name;
	const char *args;      /* "SPOT", for the usage line */
	const char *summary;   /* one line, untranslated (N_) */
	unsigned min_args, max_args;
	const struct cli_option *options; /* extra rows, may be NULL */
	size_t noptions;
	/* Applies an extra option: its index in options, and its argument. 0 or -1. */
	int (*option)(void *state, int row, const char *arg);
	size_t state_size;     /* bytes of zeroed state handed to option and run */
	int (*run)(struct parkctl *pc, void *state, char **args, unsigned nargs);
};

/*
 * Sends req (consumed) and gets the reply. On an "ok": false reply prints "parkctl:
 * DETAIL" (or the reply as JSON with --json) and returns NULL; so too when the daemon
 * cannot be reached. The caller frees the reply.
 */
json_object *parkctl_call(struct parkctl *pc, json_object *req);

/* {"cmd": name}: the start of a request. */
json_object *parkctl_request(const char *name);

/* Adds "spot": the argument as a number when it is one, else as a name. */
void parkctl_add_spot(json_object *req, const char *arg);

/* Prints o as JSON (pretty) to stdout. Returns 0, or 1 when stdout failed. */
int parkctl_print_json(json_object *o);

/* o's member as a string ("" when absent) / an integer (-1 when absent or null). */
const char *parkctl_str(json_object *o, const char *name);
long long parkctl_int(json_object *o, const char *name);

/* Reads a password from the first line of `file`, or from the terminal with no echo. */
int parkctl_password(const char *file, char *out, size_t cap);

/* The verbs, by module. */
extern const struct parkctl_verb parkctl_verb_register, parkctl_verb_verify,
	parkctl_verb_login, parkctl_verb_logout, parkctl_verb_whoami, parkctl_verb_spots,
	parkctl_verb_key, parkctl_verb_keys, parkctl_verb_unlock, parkctl_verb_lock,
	parkctl_verb_map, parkctl_verb_route, parkctl_verb_events, parkctl_verb_status,
	parkctl_verb_share, parkctl_verb_shares, parkctl_verb_members, parkctl_verb_revoke,
	parkctl_verb_freeze, parkctl_verb_unfreeze, parkctl_verb_approve, parkctl_verb_deny,
	parkctl_verb_policy, parkctl_verb_otp;

#endif
