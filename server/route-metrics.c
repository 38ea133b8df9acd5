/*
 * route-metrics.c: GET /metrics, the server's counters in the Prometheus text format.
 * The counters themselves are server.c's; this only writes them out.
 */
#include <stdio.h>
#include <stdlib.h>

#include "routes.h"
#include "server.h"

#define ROUTE_METRICS_MAX 64

static void route_metrics_get(struct server *srv, struct http_request *req,
			      struct http_reply *rep)
{
	struct server_metric m[ROUTE_METRICS_MAX];
	size_t i, n;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)req;
	n = server_metrics(srv, m, ROUTE_METRICS_MAX);
	f = open_memstream(&text, &len);
	if (f == NULL) {
		http_reply_error(rep, 500, "internal", "Out of memory; try again.");
		return;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", m[i].name, m[i].help,
			m[i].name, m[i].name, (unsigned long long)m[i].value);
	if (fclose(f) != 0) {
		free(text);
		http_reply_error(rep, 500, "internal", "Out of memory; try again.");
		return;
	}
	http_reply_text(rep, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

const struct http_route metrics_routes[] = {
	{ "GET", "/metrics", route_metrics_get, 0, "counters in the Prometheus text format", 0 },
};
const size_t metrics_routes_count = sizeof(metrics_routes) / sizeof(metrics_routes[0]);
