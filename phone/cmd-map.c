/*
 * cmd-map.c: `map`: a spot's garage map with the routes in and out (GET
 * /v1/spots/{id}/map), kept in the data directory so that it still shows with no
 * server (a driver underground often has none). parkctl draws it; `route` is its
 * sentences.
 */
#include <errno.h>
#include <libintl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/atomicfile.h"
#include "../lib/log.h"
#include "cmd.h"
#include "ctlproto.h"

#define _(s) gettext(s)
#define MAP_FILE_MAX (8u << 20)

static int cache_path(const struct phoned *d, uint32_t spot, char *path, size_t cap)
{
	char name[32];

	snprintf(name, sizeof(name), "maps/%u.json", (unsigned)spot);
	return phone_path_join(path, cap, d->cfg.paths.data_dir, name);
}

static json_object *cached(const struct phoned *d, uint32_t spot)
{
	char path[PHONE_PATH_MAX];
	char *buf;
	json_object *o = NULL;

	if (cache_path(d, spot, path, sizeof(path)) != 0 || (buf = malloc(MAP_FILE_MAX)) == NULL)
		return NULL;
	if (atomicfile_read(path, (uint8_t *)buf, MAP_FILE_MAX) > 0)
		o = json_tokener_parse(buf);
	free(buf);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static void keep(const struct phoned *d, uint32_t spot, json_object *map)
{
	char path[PHONE_PATH_MAX];
	const char *text = json_object_to_json_string_ext(map, JSON_C_TO_STRING_PLAIN);

	if (cache_path(d, spot, path, sizeof(path)) != 0 ||
	    atomicfile_write(path, (const uint8_t *)text, strlen(text), 0600) != 0)
		log_warn("cannot keep the map of spot %u: %s", (unsigned)spot, strerror(errno));
}

json_object *cmd_map(struct phoned *d, json_object *req, struct phoned_conn *conn)
{
	json_object *err = NULL, *map, *out, *code;
	char path[64];
	uint32_t spot;
	bool offline, from_cache = false;

	(void)conn;
	if (cmd_spot(d, req, &spot, &err) != 0)
		return err;
	snprintf(path, sizeof(path), "/v1/spots/%u/map", (unsigned)spot);
	map = phoned_session_get(d, NULL) ? phoned_api_call(d, "GET", path, NULL, 0, &err) : NULL;
	if (map != NULL) {
		keep(d, spot, map);
	} else {
		offline = err == NULL || (json_object_object_get_ex(err, "error", &code) &&
					  (strcmp(json_object_get_string(code), "server_down") == 0 ||
					   strcmp(json_object_get_string(code), "no_session") == 0));
		if (offline)
			map = cached(d, spot);
		if (map == NULL)
			return err != NULL ? err : ctl_error("no_session", _("not logged in, and no "
					 "map of spot %u is kept: log in first"), (unsigned)spot);
		json_object_put(err);
		from_cache = true;
	}
	out = ctl_ok();
	json_object_object_add(out, "cached", json_object_new_boolean(from_cache));
	json_object_object_add(out, "map", map);
	return out;
}
