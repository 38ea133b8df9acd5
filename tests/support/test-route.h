/*
 * test-route.h: calling parkd's route handlers in-process, for the tests of a route
 * module: a server opened (server_open, no HTTP listener, no module hooks) on the test
 * site's database (test-site-db.h) with its master key and a clock the test sets, and
 * a call of one row of a module's route table with the captures, caller and JSON body
 * the HTTP layer would have given it. Header-only (static inline), like test-site-db.h.
 */
#ifndef PARK_TEST_ROUTE_H
#define PARK_TEST_ROUTE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "../../lib/log.h"
#include "../../server/config.h"
#include "../../server/http.h"
#include "../../server/server.h"
#include "test-site-db.h"

struct test_route {
	struct test_site_db *t; /* the test site, imported */
	struct config cfg;
	struct server *srv;
};

/* The server's clock: test_route_now, which the test moves. */
static int64_t test_route_now = 1800000000;

static inline int64_t test_route_clock(void)
{
	return test_route_now;
}

/* A server over a fresh test database with the test site imported. Never fails (must). */
static inline struct test_route *test_route_new(void)
{
	struct test_route *r = calloc(1, sizeof(*r));
	char err[CONFIG_ERR_MAX], path[128], url[160];
	FILE *key;

	must(r != NULL);
	r->t = test_site_db_new();
	test_site_db_import_good(r->t);
	snprintf(path, sizeof(path), "%s/master.key", r->t->dir);
	key = fopen(path, "wb");
	must(key != NULL && fwrite(r->t->master, 1, 32, key) == 32 && fclose(key) == 0);
	must(chmod(path, 0600) == 0);
	snprintf(url, sizeof(url), "sqlite:%s/park.db", r->t->dir);
	config_defaults(&r->cfg);
	must(config_set(&r->cfg, "data_dir", r->t->dir, err, sizeof(err)) == 0);
	must(config_set(&r->cfg, "db_url", url, err, sizeof(err)) == 0);
	must(config_set(&r->cfg, "log_level", "error", err, sizeof(err)) == 0);
	must(config_finish(&r->cfg, err, sizeof(err)) == 0);
	r->cfg.now = test_route_clock;
	must(server_open(&r->cfg, &r->srv) == 0);
	return r;
}

static inline void test_route_free(struct test_route *r)
{
	if (r == NULL)
		return;
	server_close(r->srv);
	test_site_db_free(r->t);
	free(r);
}

/*
 * Calls the row of `table` (n rows) for `method` and `pattern` with the captures p0, p1
 * (NULL when the pattern has fewer), the caller `user` and the JSON text `body` (NULL for
 * none; it must parse). Returns the reply's status, with *reply (may be NULL) its JSON,
 * which the caller puts.
 */
static inline int test_route_call(struct test_route *r, const struct http_route *table, size_t n,
				  const char *method, const char *pattern, const char *p0,
				  const char *p1, const struct auth_user *user, const char *body,
				  json_object **reply)
{
	struct http_request req;
	struct http_reply rep;
	const struct http_route *route = NULL;
	size_t i;

	for (i = 0; i < n && route == NULL; i++)
		if (strcmp(table[i].method, method) == 0 && strcmp(table[i].pattern, pattern) == 0)
			route = &table[i];
	must(route != NULL);
	memset(&req, 0, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	req.method = method;
	req.path = pattern;
	req.params[0] = p0;
	req.params[1] = p1;
	req.user = user;
	snprintf(req.peer, sizeof(req.peer), "127.0.0.1");
	if (body != NULL) {
		req.json = json_tokener_parse(body);
		must(req.json != NULL);
		req.body = (const uint8_t *)body;
		req.body_len = strlen(body);
	}
	route->fn(r->srv, &req, &rep);
	json_object_put(req.json);
	must(rep.status != 0);
	if (reply != NULL)
		*reply = rep.json;
	else
		json_object_put(rep.json);
	free(rep.text);
	return rep.status;
}

/* The "error" code of an error reply (borrowed from it), or "" when it has none. */
static inline const char *test_route_error(json_object *reply)
{
	json_object *v;

	if (reply == NULL || !json_object_object_get_ex(reply, "error", &v))
		return "";
	return json_object_get_string(v);
}

#endif
