/*
 * routes.c: which modules make up parkd: their route tables, in the order requests are
 * matched, and their start/stop hooks. Adding a module is a line in each table below;
 * the routes themselves live in the module's route-NAME.c.
 */
#include "routes.h"

#include "event-hub.h"
#include "timerelay.h"

struct routes_module {
	const struct http_route *routes;
	const size_t *count;
};

static const struct routes_module routes_modules[] = {
	{ account_routes, &account_routes_count },
	{ metrics_routes, &metrics_routes_count },
	{ site_routes, &site_routes_count },
	{ key_routes, &key_routes_count },
	{ gateway_routes, &gateway_routes_count },
	{ event_routes, &event_routes_count },
	{ spot_routes, &spot_routes_count },
	{ role_routes, &role_routes_count },
	{ override_routes, &override_routes_count },
	{ alarm_routes, &alarm_routes_count },
	{ share_routes, &share_routes_count },
	{ otp_routes, &otp_routes_count },
	/* ---- other modules: one line each, e.g.
	 * { site_routes, &site_routes_count },
	 * { key_routes, &key_routes_count },
	 * { gateway_routes, &gateway_routes_count },
	 * { event_routes, &event_routes_count },
	 */
};
#define ROUTES_MODULES (sizeof(routes_modules) / sizeof(routes_modules[0]))

struct routes_hook {
	const char *module;
	int (*start)(struct server *srv); /* 0, or -1 after logging why */
	void (*stop)(struct server *srv);
};

static const struct routes_hook routes_hooks[] = {
	/* ---- modules with state beside the database: one line each, e.g.
	 * { "event", event_start, event_stop },
	 */
	{ "event", event_start, event_stop },
	{ "timerelay", timerelay_start, timerelay_stop },
	{ NULL, NULL, NULL },
};
#define ROUTES_HOOKS (sizeof(routes_hooks) / sizeof(routes_hooks[0]))

size_t routes_count(void)
{
	size_t i, n = 0;

	for (i = 0; i < ROUTES_MODULES; i++)
		n += *routes_modules[i].count;
	return n;
}

const struct http_route *routes_get(size_t i)
{
	size_t m;

	for (m = 0; m < ROUTES_MODULES; m++) {
		if (i < *routes_modules[m].count)
			return &routes_modules[m].routes[i];
		i -= *routes_modules[m].count;
	}
	return NULL;
}

void routes_print(FILE *f)
{
	const struct http_route *r;
	size_t i, n = routes_count();

	for (i = 0; i < n; i++) {
		r = routes_get(i);
		fprintf(f, "%-7s %-36s %s\n", r->method, r->pattern, r->summary);
	}
}

int routes_start(struct server *srv)
{
	size_t i;

	for (i = 0; i < ROUTES_HOOKS; i++) {
		if (routes_hooks[i].start == NULL || routes_hooks[i].start(srv) == 0)
			continue;
		while (i-- > 0)
			if (routes_hooks[i].stop != NULL)
				routes_hooks[i].stop(srv);
		return -1;
	}
	return 0;
}

void routes_stop(struct server *srv)
{
	size_t i = ROUTES_HOOKS;

	while (i-- > 0)
		if (routes_hooks[i].stop != NULL)
			routes_hooks[i].stop(srv);
}
