/*
 * cmd-events.c: `events`: the recent events of the user's spots, and with "follow" the
 * live ones after them on the same connection, one {"kind":..,"event":{..}} line each
 * (follow.c brings them from the server's event stream).
 */
#include "cmd.h"
#include "ctlproto.h"

json_object *cmd_events(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	json_object *err = NULL, *out;
	bool follow;

	if (cmd_opt_bool(req, "follow", &follow, &err) != 0)
		return err;
	out = ctl_ok();
	json_object_object_add(out, "events", phoned_recent_events(d));
	pthread_mutex_lock(&d->lock);
	json_object_object_add(out, "live", json_object_new_boolean(d->server_up));
	pthread_mutex_unlock(&d->lock);
	conn->subscribe = follow;
	return out;
}
