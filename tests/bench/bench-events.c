/*
 * bench-events.c: the event path with 2,000 simulated locks, for `make bench`: a car
 * arriving or leaving (world control) at a lock, through the lock's notification, its
 * gateway (log read, queue, uplink batch), parkd (stored once, published) to one
 * event-stream subscriber. Commands go to random locks at a steady rate; each event's
 * time runs from just before its world command to its SSE line, matched by spot and
 * kind: at the target's steady rate, then at a heavier one for the headroom. Prints
 * figures; never pass or fail.
 *
 * parklockd runs at most 256 locks (GARAGE_LOCKS_MAX) and a site description must fit
 * parkd's 64 KiB request limit (HTTP_BODY_MAX), so the 2,000 locks are 10 sites of 200,
 * each with its own parklockd and gateway. The subscriber is the administrator, owner
 * of every spot, watching GET /v1/events (the caller's spots: all 2,000 in one stream).
 */
#include <pthread.h>
#include <stdatomic.h>
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
#define EVENTS_PENDING_MAX 8     /* commands in flight per lock */

/* A world command whose event has not reached the stream yet. */
struct events_pending {
	double sent_ms;
	bool arrived;   /* car_arrived, else car_left */
	bool counted;   /* sent in the measured window */
};

struct events_lock {
	struct events_pending q[EVENTS_PENDING_MAX]; /* FIFO, oldest first */
	int n;
	bool car;       /* what the last command put over the spot */
};

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

static struct {
	pthread_mutex_t mu;
	struct events_lock locks[EVENTS_LOCKS];
	struct bench_stats lat;   /* ms, counted events only */
	long matched, unmatched;  /* counted events seen; stream lines matching no command */
	long counted_sent;        /* counted commands sent, and not yet seen */
	long counted_pending;
	double last_line_ms;      /* when the stream last brought anything */
} ev = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct events_subscriber {
	pthread_t thread;
	struct apiclient *c;
	atomic_int cancel, ready;
	int result;      /* of apiclient_stream(): -APICLIENT_E_CANCELLED when we ended it */
};

static uint32_t events_spot(size_t i)
{
	return (uint32_t)((i / EVENTS_PER_SITE + 1) * 1000 + i % EVENTS_PER_SITE + 1);
}

/* The lock index of `spot`, or -1. */
static long events_index(int64_t spot)
{
	int64_t site = spot / 1000, n = spot % 1000 - 1;

	if (site < 1 || site > EVENTS_SITES || n < 0 || n >= EVENTS_PER_SITE)
		return -1;
	return (long)((site - 1) * EVENTS_PER_SITE + n);
}

static int events_on_line(void *arg, const char *event, const char *data)
{
	struct events_subscriber *sub = arg;
	double now = stack_now_ms();
	json_object *j, *v;
	struct events_lock *l;
	const char *kind;
	long i;
	bool arrived;

	if (strcmp(event, "ready") == 0) {
		atomic_store(&sub->ready, 1);
		return 0;
	}
	j = json_tokener_parse(data);
	if (j == NULL)
		return 0;
	i = json_object_object_get_ex(j, "spot", &v) ? events_index(json_object_get_int64(v)) :
						      -1;
	kind = json_object_object_get_ex(j, "kind", &v) ? json_object_get_string(v) : "";
	arrived = strcmp(kind, "car_arrived") == 0;
	pthread_mutex_lock(&ev.mu);
	ev.last_line_ms = now;
	l = i >= 0 ? &ev.locks[i] : NULL;
	if (l != NULL && l->n > 0 && (arrived || strcmp(kind, "car_left") == 0) &&
	    l->q[0].arrived == arrived) {
		if (l->q[0].counted) {
			bench_stats_add(&ev.lat, now - l->q[0].sent_ms);
			ev.matched++;
			ev.counted_pending--;
		}
		memmove(&l->q[0], &l->q[1], (size_t)(l->n - 1) * sizeof(l->q[0]));
		l->n--;
	} else {
		ev.unmatched++;
	}
	pthread_mutex_unlock(&ev.mu);
	json_object_put(j);
	return 0;
}

static void *events_subscriber_main(void *arg)
{
	struct events_subscriber *sub = arg;
	struct apiclient_error e;

	sub->result = apiclient_stream(sub->c, "/v1/events", 0, events_on_line, sub, &e);
	return NULL;
}

/* Toggles the car over lock i: the pending entry first, so the event cannot beat it. */
static void events_toggle(struct stack_garage *g, size_t i, bool counted)
{
	struct events_lock *l = &ev.locks[i];
	struct events_pending *p;
	char cmd[64], reply[1024];

	pthread_mutex_lock(&ev.mu);
	if (l->n == EVENTS_PENDING_MAX) {
		pthread_mutex_unlock(&ev.mu);
		return;
	}
	l->car = !l->car;
	p = &l->q[l->n++];
	p->arrived = l->car;
	p->counted = counted;
	ev.counted_pending += counted;
	ev.counted_sent += counted;
	snprintf(cmd, sizeof(cmd), "%u car %s", (unsigned)events_spot(i),
		 l->car ? "present" : "absent");
	p->sent_ms = stack_now_ms();
	pthread_mutex_unlock(&ev.mu);
	if (stack_world(g, cmd, reply, sizeof(reply)) != 0 ||
	    strstr(reply, "\"ok\":true") == NULL)
		stack_die("world command '%s' failed: %s", cmd, reply);
}

static uint64_t events_rng = 0x9e3779b97f4a7c15u;

static uint64_t events_random(void)
{
	events_rng ^= events_rng << 13;
	events_rng ^= events_rng >> 7;
	events_rng ^= events_rng << 17;
	return events_rng;
}

static void events_sleep_until(double t_ms)
{
	double now = stack_now_ms();

	if (t_ms > now)
		usleep((useconds_t)((t_ms - now) * 1000.0));
}

/* Runs phase p on the locks online_idx[0..n) and fills in its figures. */
static void events_phase_run(struct stack_garage *g, const size_t *online_idx, size_t n,
			     struct events_phase *p)
{
	double t, t0, end, interval = 1000.0 / p->rate;
	long commands = 0, left;
	size_t i;
	int j;

	pthread_mutex_lock(&ev.mu);
	/* What an earlier phase lost, should it still come, is not this phase's. */
	for (i = 0; i < EVENTS_LOCKS; i++)
		for (j = 0; j < ev.locks[i].n; j++)
			ev.locks[i].q[j].counted = false;
	bench_stats_free(&ev.lat);
	ev.matched = ev.counted_sent = ev.counted_pending = 0;
	pthread_mutex_unlock(&ev.mu);
	/* Steady rate: command n is due at t0 + n * interval, whatever the last one took. */
	t0 = stack_now_ms();
	for (t = t0; t < t0 + p->warmup_ms + p->measure_ms; t = t0 + commands * interval) {
		events_sleep_until(t);
		i = online_idx[events_random() % n];
		events_toggle(&g[i / EVENTS_PER_SITE], i,
			      stack_now_ms() >= t0 + p->warmup_ms);
		commands++;
	}
	end = stack_now_ms() + EVENTS_DRAIN_MS;
	do {
		usleep(20000);
		pthread_mutex_lock(&ev.mu);
		left = ev.counted_pending;
		pthread_mutex_unlock(&ev.mu);
	} while (left > 0 && stack_now_ms() < end);
	pthread_mutex_lock(&ev.mu);
	p->sent = ev.counted_sent;
	p->matched = ev.matched;
	p->lost = ev.counted_pending;
	p->p50 = bench_stats_pct(&ev.lat, 50);
	p->p99 = bench_stats_pct(&ev.lat, 99);
	p->max = bench_stats_max(&ev.lat);
	pthread_mutex_unlock(&ev.mu);
}

int main(int argc, char **argv)
{
	static struct stack s;
	static struct stack_garage g[EVENTS_SITES];
	static size_t online_idx[EVENTS_LOCKS];
	struct events_subscriber sub;
	struct apiclient *admin;
	json_object *r = NULL;
	uint8_t gw_pub[64];
	bool online[EVENTS_PER_SITE];
	char token[160];
	double t_setup, t_ready, t, end;
	size_t k, i, nonline = 0;
	long backlog;
	int64_t admin_id;

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
	for (k = 0; k < EVENTS_SITES; k++) {
		stack_gateway_key(&s, (unsigned)k, gw_pub);
		stack_site(&s, admin, &g[k], admin_id, (int64_t)k + 1, gw_pub);
		stack_provision(&s, admin, &g[k]);
	}
	/* Subscribed before the gateways start: their first reports show up as well. */
	memset(&sub, 0, sizeof(sub));
	sub.c = stack_client(&s, token, &sub.cancel);
	if (pthread_create(&sub.thread, NULL, events_subscriber_main, &sub) != 0)
		stack_die("cannot start the subscriber");
	end = stack_now_ms() + 10000;
	while (!atomic_load(&sub.ready) && stack_now_ms() < end)
		usleep(10000);
	if (!atomic_load(&sub.ready))
		stack_die("the event stream did not open");
	for (k = 0; k < EVENTS_SITES; k++)
		stack_gateway(&s, (unsigned)k, (int64_t)k + 1);
	end = stack_now_ms() + EVENTS_ONLINE_MS;
	for (k = 0; k < EVENTS_SITES; k++) {
		t = end - stack_now_ms();
		stack_wait_online(admin, &g[k], online, t > 0 ? (long)t : 0);
		for (i = 0; i < EVENTS_PER_SITE; i++) {
			if (online[i])
				online_idx[nonline++] = k * EVENTS_PER_SITE + i;
		}
	}
	if (nonline == 0)
		stack_die("no lock came online through its gateway");
	/* Online is the gateway's word that it reaches the lock; the events the locks
	 * logged at boot and provisioning may still be on their way: wait for quiet. */
	end = stack_now_ms() + EVENTS_ONLINE_MS;
	for (;;) {
		pthread_mutex_lock(&ev.mu);
		t = ev.last_line_ms;
		pthread_mutex_unlock(&ev.mu);
		if (stack_now_ms() - t >= EVENTS_QUIET_MS || stack_now_ms() > end)
			break;
		usleep(50000);
	}
	pthread_mutex_lock(&ev.mu);
	backlog = ev.unmatched;
	ev.unmatched = 0;
	pthread_mutex_unlock(&ev.mu);
	t_ready = stack_now_ms();
	for (k = 0; k < EVENTS_PHASES; k++)
		events_phase_run(g, online_idx, nonline, &events_phases[k]);
	atomic_store(&sub.cancel, 1);
	pthread_join(sub.thread, NULL);
	apiclient_free(sub.c);

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
	if (sub.result != -APICLIENT_E_CANCELLED)
		printf("  NOTE: the event stream ended before the benchmark did (%d)\n",
		       sub.result);
	printf("  p99 lock event to subscriber at %d/s: %.1f ms  (target <= 300 ms)\n",
	       events_phases[0].rate, events_phases[0].p99);
	pthread_mutex_unlock(&ev.mu);
	fflush(stdout);
	bench_stats_free(&ev.lat);
	apiclient_free(admin);
	return 0;
}
