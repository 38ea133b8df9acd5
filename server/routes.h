/*
 * routes.h: parkd's route table: the concatenation of each module's array of routes
 * (one row per method and path pattern), and the start/stop hooks of modules that keep
 * state beside the database (the event hub). routes.c lists the modules; a module adds
 * itself there with one line per table.
 */
#ifndef PARK_ROUTES_H
#define PARK_ROUTES_H

#include <stddef.h>
#include <stdio.h>

#include "http.h"

struct server;

/* Each module's routes, defined in its route-NAME.c. */
extern const struct http_route account_routes[];
extern const size_t account_routes_count;
extern const struct http_route site_routes[];
extern const size_t site_routes_count;
extern const struct http_route key_routes[];
extern const size_t key_routes_count;
extern const struct http_route gateway_routes[];
extern const size_t gateway_routes_count;
extern const struct http_route event_routes[];
extern const size_t event_routes_count;
extern const struct http_route metrics_routes[];
extern const size_t metrics_routes_count;
extern const struct http_route spot_routes[];
extern const size_t spot_routes_count;
extern const struct http_route role_routes[];
extern const size_t role_routes_count;
extern const struct http_route override_routes[];
extern const size_t override_routes_count;
extern const struct http_route alarm_routes[];
extern const size_t alarm_routes_count;
extern const struct http_route share_routes[];
extern const size_t share_routes_count;
extern const struct http_route otp_routes[];
extern const size_t otp_routes_count;

/* The number of routes of every module together. */
size_t routes_count(void);

/* Route i (0 <= i < routes_count()), in table order: modules in routes.c's order. */
const struct http_route *routes_get(size_t i);

/* Writes "METHOD PATTERN  summary" for every route, for `parkd --routes`. */
void routes_print(FILE *f);

/*
 * Runs every module's start hook in order (after server_open, before http_start).
 * Returns 0, or -1 after stopping the modules already started.
 */
int routes_start(struct server *srv);

/* Runs the stop hooks in reverse order (after http_stop, before server_close). */
void routes_stop(struct server *srv);

#endif
