/*
 * bench-events.c: the event path with 2,000 simulated locks, for `make bench`: a car
 * arriving or leaving (world control) at a lock, through the lock's notification, its
 * gateway (log read, queue, uplink batch), parkd (stored once, published) to one
 * event-stream subscriber. Commands go to random locks at a steady rate; each event's
 * time runs from just before its world command to its SSE line, matched by spot and
 * kind: at the target's steady rate, then at a heavier one for the headroom. Prints
 * figures; never pass or fail.
 *
 * parklockd runs at most 256 locks (GARAGE_LOCKS_MAX), so the 2,000 locks are 10 sites
 * of 200, each with its own parklockd and gateway. The subscriber is the administrator,
 * owner of every spot, watching GET /v1/events (the caller's spots: all 2,000 in one
 * stream). The cars and the stream are test-stack.h's (stack_cars, stack_stream), as
 * bench-console-storm's are.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-stats.h"
#include "../support/test-stack.h"

#define EVENTS_SITES 10
#define EVENTS_PER_SITE 200
#define EVENTS_LOCKS (EVENTS_SITES * EVENTS_PER_SITE)
#define EVENTS_DRAIN_MS 5000     /* how long late events are waited for */
#define EVENTS_ONLINE_MS 60000   /* how long the gateways get to reach every lock */
#define EVENTS_QUIET_MS 1000     /* a stream this long silent: the start-up backlog is in */

/* One run of world commands at a steady rate, and what came of it. */
struct events_phase {
	const char *name;
	int rate;              /* world commands per second, spread over the locks */
	long warmup_ms;        /* commands this early in the phase are not counted */
	long measure_ms;
	long sent, matched, lost; /* counted commands; those seen on the stream; not seen */
	double p50, p99, max;  /* ms */
};

/* The target's figure first; then a heavier load, to show the headroom. */
static struct events_phase events_phases[] = {
	{ "steady", 100, 1000, 10000, 0, 0, 0, 0, 0, 0 },
	{ "heavy", 500, 500, 5000, 0, 0, 0, 0, 0, 0 },
};
#define EVENTS_PHASES (sizeof(events_phases) / sizeof(events_phases[0]))

static struct stack_cars cars;

static struct {
	pthread_mutex_t mu;
	struct bench_stats lat;   /* ms, counted events only */
	long matched, unmatched;  /* counted events seen; stream lines matching no command */
} ev = { .mu = PTHREAD_MUTEX_INITIALIZER };

static uint32_t events_spot(size_t i)
{
	return (uint32_t)((i / EVENTS_PER_SITE + 1) * 1000 + i % EVENTS_PER_SITE + 1);
}

static int events_on_line(void *arg, const char *event, const char *data)
{
	double now = stack_now_ms(), sent = 0;
	json_object *j, *v;
	int64_t spot;
	const char *kind;
	int r;

	(void)arg;
	(void)event;
	j = json_tokener_parse(data);
	if (j == NULL)
		return 0;
	spot = json_object_object_get_ex(j, "spot", &v) ? json_object_get_int64(v) : -1;
	kind = json_object_object_get_ex(j, "kind", &v) ? json_object_get_string(v) : "";
	pthread_mutex_lock(&ev.mu);
	r = stack_cars_seen(&cars, spot, kind, &sent);
	if (r == 1) {
		bench_stats_add(&ev.lat, now - sent);
		ev.matched++;
	} else if (r < 0) {
		ev.unmatched++;
	}
	pthread_mutex_unlock(&ev.mu);
	json_object_put(j);
	return 0;
}

/* Runs phase p on the online locks and fills in its figures. */
static void events_phase_run(struct events_phase *p)
{
	pthread_mutex_lock(&ev.mu);
	bench_stats_free(&ev.lat);
	ev.matched = 0;
	pthread_mutex_unlock(&ev.mu);
	stack_cars_run(&cars, p->rate, p->warmup_ms, p->measure_ms);
	p->lost = stack_cars_drain(&cars, EVENTS_DRAIN_MS, &p->sent);
	pthread_mutex_lock(&ev.mu);
	p->matched = ev.matched;
	p->p50 = bench_stats_pct(&ev.lat, 50);
	p->p99 = bench_stats_pct(&ev.lat, 99);
	p->max = bench_stats_max(&ev.lat);
	pthread_mutex_unlock(&ev.mu);
}

int main(int argc, char **argv)
{
	static struct stack s;
	static struct stack_garage g[EVENTS_SITES];
	struct stack_stream sub;
	struct apiclient *admin;
	json_object *r = NULL;
	uint8_t gw_pub[64];
	char token[160];
	double t_setup, t_ready;
	size_t k, nonline;
	long backlog;
	int64_t admin_id;
	int result;

	(void)argc;
	t_setup = stack_now_ms();
	stack_init(&s, "bench-events", argv[0]);
	stack_parkd(&s);
	stack_login(&s, STACK_ADMIN_PHONE, token, sizeof(token));
	admin = stack_client(&s, token, NULL);
	if (stack_call(admin, "GET", "/v1/me", NULL, &r) != 200)
		stack_die("GET /v1/me failed");
	admin_id = stack_int(r, "user_id");
	json_object_put(r);

	for (k = 0; k < EVENTS_SITES; k++) {
		g[k].site_id = (uint32_t)k + 1;
		g[k].first = events_spot(k * EVENTS_PER_SITE);
		g[k].count = EVENTS_PER_SITE;
	}
	stack_garages(&s, g, EVENTS_SITES);
	stack_cars_init(&cars, g, EVENTS_SITES);
	for (k = 0; k < EVENTS_SITES; k++) {
		stack_gateway_key(&s, (unsigned)k, gw_pub);
		stack_site(&s, admin, &g[k], admin_id, (int64_t)k + 1, gw_pub);
		stack_provision(&s, admin, &g[k]);
	}
	/* Subscribed before the gateways start: their first reports show up as well. */
	stack_stream_start(&s, &sub, token, "/v1/events", events_on_line, NULL);
	for (k = 0; k < EVENTS_SITES; k++)
		stack_gateway(&s, (unsigned)k, (int64_t)k + 1);
	nonline = stack_cars_wait_online(&cars, admin, EVENTS_ONLINE_MS);
	if (nonline == 0)
		stack_die("no lock came online through its gateway");
	/* Online is the gateway's word that it reaches the lock; the events the locks
	 * logged at boot and provisioning may still be on their way: wait for quiet. */
	(void)stack_stream_quiet(&sub, EVENTS_QUIET_MS, EVENTS_ONLINE_MS);
	pthread_mutex_lock(&ev.mu);
	backlog = ev.unmatched;
	ev.unmatched = 0;
	pthread_mutex_unlock(&ev.mu);
	t_ready = stack_now_ms();
	for (k = 0; k < EVENTS_PHASES; k++)
		events_phase_run(&events_phases[k]);
	result = stack_stream_stop(&sub);

	pthread_mutex_lock(&ev.mu);
	printf("  %-50s %10d\n", "locks simulated (parklockd processes x locks)", EVENTS_LOCKS);
	printf("  %-50s %10d\n", "sites = gateways = parklockd processes", EVENTS_SITES);
	printf("  %-50s %10zu\n", "locks online through their gateways", nonline);
	if (nonline < EVENTS_LOCKS)
		printf("  NOTE: only %zu of %d locks came online within %d s; measured with "
		       "those\n", nonline, EVENTS_LOCKS, EVENTS_ONLINE_MS / 1000);
	printf("  %-50s %10.1f\n", "set-up until every lock online and quiet (s)",
	       (t_ready - t_setup) / 1000.0);
	printf("  %-50s %10ld\n", "start-up events streamed (boot, provisioning)", backlog);
	for (k = 0; k < EVENTS_PHASES; k++) {
		struct events_phase *p = &events_phases[k];

		printf("  %s: %d world commands (car present/absent) per second, %.0f s "
		       "measured after %.1f s\n", p->name, p->rate, p->measure_ms / 1000.0,
		       p->warmup_ms / 1000.0);
		printf("    %-48s %10ld\n", "events commanded", p->sent);
		printf("    %-48s %10ld\n", "  of which reached the stream", p->matched);
		printf("    %-48s %10ld\n", "  of which did not within the drain time", p->lost);
		printf("    %-48s %10.1f\n", "latency p50 (ms)", p->p50);
		printf("    %-48s %10.1f\n", "latency p99 (ms)", p->p99);
		printf("    %-48s %10.1f\n", "latency max (ms)", p->max);
	}
	printf("  %-50s %10ld\n", "stream lines matching no command", ev.unmatched);
	if (result != -APICLIENT_E_CANCELLED)
		printf("  NOTE: the event stream ended before the benchmark did (%d)\n", result);
	printf("  p99 lock event to subscriber at %d/s: %.1f ms  (target <= 300 ms)\n",
	       events_phases[0].rate, events_phases[0].p99);
	pthread_mutex_unlock(&ev.mu);
	fflush(stdout);
	bench_stats_free(&ev.lat);
	stack_cars_free(&cars);
	apiclient_free(admin);
	return 0;
}
