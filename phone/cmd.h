/*
 * cmd.h: the control commands of parkphoned (phone/CONTROL.md), one table row each, and
 * the helpers their handlers share for reading a request's fields. Each handler gets the
 * request object and returns the reply object (ctl_ok() with members, or ctl_error()).
 */
#ifndef PARK_PHONE_CMD_H
#define PARK_PHONE_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "phoned.h"

/* The connection a request came on. */
struct phoned_conn {
	int fd;
	bool subscribe; /* set by a handler: after its reply, the connection gets events */
};

typedef json_object *(*phoned_cmd_fn)(struct phoned *d, json_object *req,
				      struct phoned_conn *conn);

struct phoned_cmd {
	const char *name;
	phoned_cmd_fn fn;
	bool needs_session; /* refused with no_session when logged out */
};

/* Every command, ending with a row whose name is NULL. */
extern const struct phoned_cmd phoned_cmds[];

/* The command named `name`, or NULL. */
const struct phoned_cmd *phoned_cmd_find(const char *name);

/* Handles one request line: parses it, finds the command, runs it. Never NULL. */
json_object *phoned_handle_line(struct phoned *d, const char *line, size_t len,
				struct phoned_conn *conn);

/*
 * A request's string member `name` of 1..cap-1 bytes into out. 0, or -1 with *err the
 * bad_request reply.
 */
int cmd_string(json_object *req, const char *name, char *out, size_t cap, json_object **err);

/* An optional string member: absent or null gives "". As cmd_string() otherwise. */
int cmd_opt_string(json_object *req, const char *name, char *out, size_t cap,
		   json_object **err);

/* An optional boolean member (absent: false). 0, or -1 with *err. */
int cmd_opt_bool(json_object *req, const char *name, bool *out, json_object **err);

/*
 * The request's "spot": a spot ID (a number, or a string of digits), or a spot's name,
 * looked up in the keyring and then at the server. 0 with *spot, or -1 with *err
 * (bad_request, unknown_spot, or what the server said).
 */
int cmd_spot(struct phoned *d, json_object *req, uint32_t *spot, json_object **err);

/* Whether an entry of GET /v1/keys says the lock acknowledged the key's credential. */
bool key_delivered(json_object *key);

/* The handlers, by module. */
json_object *cmd_register(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_verify(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_login(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_logout(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_whoami(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_spots(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_key(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_keys(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_unlock(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_lock(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_map(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_events(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_status(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_share(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_shares(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_revoke(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_approve(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_deny(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_freeze(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_unfreeze(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_policy(struct phoned *d, json_object *req, struct phoned_conn *conn);
json_object *cmd_otp(struct phoned *d, json_object *req, struct phoned_conn *conn);

/*
 * The sync of cmd-share.c: accepts the shares offered to this user (binding them to this
 * phone), stores the active ones and drops the rest; and fetches each site's newest
 * revocation list (dropping the keys it names). Quiet when the server does not answer.
 */
void share_sync_shares(struct phoned *d);
void share_sync_revocations(struct phoned *d);

#endif
