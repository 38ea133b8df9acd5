/*
 * bench-console-storm.c: parkconsole under an event storm, for `make bench`. The real
 * console runs in tmux at 100x32, logged in as an attendant of one site of 2,000 spots
 * (10 parklockd of 200 locks, each behind its own gateway), while cars arrive and leave
 * at 500 locks a second for 10 s (test-stack.h's stack_cars, as bench-events makes its
 * events). Figures: the console's lag behind the event stream, per event, p50/p99/max
 * beside the 1 s target; the same from the world command, for the whole path; the
 * console's CPU over the storm as a share of one core, and over 3 s idle after it.
 * Prints figures, never pass or fail; exits 1 when the set-up fails.
 *
 * "Behind the stream" runs from the moment this program, a second subscriber of the
 * console's stream (GET /v1/events?site=1), got the event to the moment the console had
 * it on the screen. The console says when with its diagnostic option --trace FILE: one
 * line per event, written right after the frame that shows it (wall-clock ms, spot,
 * kind, the lock's sequence), matched here by spot and sequence. Polling the screen
 * through tmux capture-pane was the other way; it was not taken: it times a backlog as a
 * whole, not each event, only to the poll's interval, with a tmux process per poll on
 * the two cores the console shares, and the console shows no count of events to poll.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-stats.h"
#include "../support/test-stack.h"
#include "../support/test-tmux.h"

#define STORM_SITE 1
#define STORM_GARAGES 10
#define STORM_PER_GARAGE 200
#define STORM_LOCKS (STORM_GARAGES * STORM_PER_GARAGE)
#define STORM_FIRST_SPOT 1001
#define STORM_RATE 500            /* world commands (events) a second */
#define STORM_MS 10000
#define STORM_RECORDS_MAX (4 * STORM_RATE * STORM_MS / 1000)
#define STORM_LAG_TARGET_MS 1000
#define STORM_DRAIN_MS 5000       /* how long the reference stream's late events are waited for */
#define STORM_SETTLE_MS 5000      /* the console is given up on after this long without a line */
#define STORM_CATCH_UP_MAX_MS 30000 /* the longest wait for the console after the storm */
#define STORM_IDLE_MS 3000
#define STORM_ONLINE_MS 60000     /* how long the gateways get to reach every lock */
#define STORM_QUIET_MS 1000       /* a stream this long silent: the start-up backlog is in */
#define STORM_CONSOLE_MS 30000    /* how long the console gets to show the live map */
#define STORM_COLS 100
#define STORM_ROWS 32
#define STORM_ATTENDANT "+8613800000010"

/* One counted event: when it was made, seen by the reference subscriber, on the screen. */
struct storm_record {
	int64_t spot, seq;
	double made_ms, stream_ms;  /* monotonic */
	double console_ms;          /* monotonic; < 0 until the trace has it */
};

static struct stack_cars cars;

static struct {
	pthread_mutex_t mu;
	struct storm_record *r;     /* STORM_RECORDS_MAX; [0, n) written by the subscriber */
	size_t n;
	long overflow;              /* counted events past STORM_RECORDS_MAX */
	long unmatched;             /* stream lines that were not a command's event */
	bool closed;                /* the storm is over: no more records */
} rec = { .mu = PTHREAD_MUTEX_INITIALIZER };

static struct test_tmux term;
static pid_t term_server = -1, console_pid = -1; /* for an interrupted run */
static struct sigaction stack_on_signal;         /* test-stack's handler, run after ours */

/* Wall-clock ms minus this: the monotonic ms of the same moment. */
static double storm_clock_offset;

static double storm_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The reference subscriber: each counted event's times, by its spot and sequence. */
static int storm_on_line(void *arg, const char *event, const char *data)
{
	double now = stack_now_ms(), sent = 0;
	json_object *j, *v;
	int64_t spot, seq;
	const char *kind;
	int r;

	(void)arg;
	(void)event;
	j = json_tokener_parse(data);
	if (j == NULL)
		return 0;
	spot = json_object_object_get_ex(j, "spot", &v) ? json_object_get_int64(v) : -1;
	seq = json_object_object_get_ex(j, "seq", &v) ? json_object_get_int64(v) : 0;
	kind = json_object_object_get_ex(j, "kind", &v) ? json_object_get_string(v) : "";
	r = stack_cars_seen(&cars, spot, kind, &sent);
	pthread_mutex_lock(&rec.mu);
	if (r < 0) {
		rec.unmatched++;
	} else if (r == 1 && !rec.closed && rec.n == STORM_RECORDS_MAX) {
		rec.overflow++;
	} else if (r == 1 && !rec.closed) {
		rec.r[rec.n++] = (struct storm_record){ .spot = spot, .seq = seq, .made_ms = sent,
							.stream_ms = now, .console_ms = -1 };
	}
	pthread_mutex_unlock(&rec.mu);
	json_object_put(j);
	return 0;
}

static int storm_record_cmp(const void *a, const void *b)
{
	const struct storm_record *x = a, *y = b;

	if (x->spot != y->spot)
		return x->spot < y->spot ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- the console's trace ---- */

struct storm_trace {
	FILE *f;
	char line[256];
	size_t have;             /* bytes of a line not yet ended */
	double last_line_ms;     /* monotonic: when a line last came */
};

/*
 * Reads the lines the console added since the last call; each that is a recorded event
 * gives it its console_ms (records[0..n) sorted). Returns how many got one.
 */
static size_t storm_trace_read(struct storm_trace *t, struct storm_record *records, size_t n)
{
	struct storm_record key, *found;
	size_t got = 0;
	double wall;
	long long spot, seq;
	int c;

	clearerr(t->f);
	while ((c = getc(t->f)) != EOF) {
		if (c != '\n') {
			if (t->have + 1 < sizeof(t->line))
				t->line[t->have++] = (char)c;
			continue;
		}
		t->line[t->have] = '\0';
		t->have = 0;
		t->last_line_ms = stack_now_ms();
		if (sscanf(t->line, "%lf %lld %*s %lld", &wall, &spot, &seq) != 3 || seq <= 0)
			continue;
		key.spot = spot;
		key.seq = seq;
		found = bsearch(&key, records, n, sizeof(*records), storm_record_cmp);
		if (found != NULL && found->console_ms < 0) {
			found->console_ms = wall - storm_clock_offset;
			got++;
		}
	}
	return got;
}

/* ---- the console in tmux ---- */

/* Ends the console and its terminal on an interrupted run, then test-stack's handler. */
static void storm_signal(int sig)
{
	if (console_pid > 0)
		kill(console_pid, SIGTERM);
	if (term_server > 0)
		kill(term_server, SIGTERM);
	if (stack_on_signal.sa_handler != SIG_DFL && stack_on_signal.sa_handler != SIG_IGN)
		stack_on_signal.sa_handler(sig);
	_exit(128 + sig);
}

/* At exit, before test-stack removes the directory the tmux socket is in. */
static void storm_stop_console(void)
{
	int i;

	if (console_pid > 0) {
		kill(console_pid, SIGTERM);
		for (i = 0; i < 200 && !test_tmux_dead(&term, NULL); i++)
			test_sleep_ms(25);
		console_pid = -1;
	}
	test_tmux_stop(&term);
	term_server = -1;
}

/* The pid of t's tmux server, or -1. */
static pid_t storm_tmux_server(const struct test_tmux *t)
{
	const char *args[] = { "display-message", "-p", "#{pid}", NULL };
	char out[32];

	if (test_tmux_run(t, args, out, sizeof(out)) != 0 || atoi(out) <= 0)
		return -1;
	return (pid_t)atoi(out);
}

static void storm_console_start(const struct stack *s, const char *pwfile, const char *trace)
{
	char site[16];
	const char *argv[] = { "env", "LC_ALL=", "LANGUAGE=", "LANG=C.UTF-8", s->parkconsole,
			       "--server", s->base, "--phone", STORM_ATTENDANT,
			       "--password-file", pwfile, "--site", site, "--trace", trace, NULL };
	char screen[TEST_TMUX_SCREEN_MAX];
	struct sigaction sa;

	snprintf(site, sizeof(site), "%d", STORM_SITE);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = storm_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &stack_on_signal);
	sigaction(SIGTERM, &sa, NULL);
	atexit(storm_stop_console);
	if (test_tmux_start(&term, s->dir, "console", STORM_COLS, STORM_ROWS, argv) != 0)
		stack_die("tmux could not start %s (is tmux installed?)", s->parkconsole);
	term_server = storm_tmux_server(&term);
	if (test_tmux_wait(&term, "Live:", true, STORM_CONSOLE_MS, screen, sizeof(screen)) < 0) {
		fprintf(stderr, "---- screen ----\n%s\n----------------\n", screen);
		stack_die("the console did not show the live map within %d s; its stderr is "
			  "in %s", STORM_CONSOLE_MS / 1000, term.err);
	}
	console_pid = test_tmux_pid(&term);
	if (console_pid <= 0)
		stack_die("the console's process was not found");
}

/* ---- figures ---- */

struct storm_cpu {
	double console, parkd, terminal; /* CPU s so far */
	double at_ms;                    /* monotonic */
};

static void storm_cpu_now(const struct stack *s, struct storm_cpu *c)
{
	c->at_ms = stack_now_ms();
	c->console = stack_cpu_s(console_pid);
	c->parkd = stack_cpu_s(s->parkd_pid);
	c->terminal = term_server > 0 ? stack_cpu_s(term_server) : -1;
}

/* a to b as a share of one core, in percent. */
static double storm_pct(double cpu_a, double cpu_b, const struct storm_cpu *a,
			const struct storm_cpu *b)
{
	double wall_s = (b->at_ms - a->at_ms) / 1000.0;

	return cpu_a >= 0 && cpu_b >= 0 && wall_s > 0 ? 100.0 * (cpu_b - cpu_a) / wall_s : -1;
}

/* How many alarms the site has open (the console reads them again on each car event). */
static long storm_alarms(struct apiclient *admin)
{
	char path[64];
	json_object *r = NULL, *list;
	long n = -1;

	snprintf(path, sizeof(path), "/v1/sites/%d/alarms", STORM_SITE);
	if (stack_call(admin, "GET", path, NULL, &r) == 200 &&
	    json_object_object_get_ex(r, "alarms", &list) &&
	    json_object_is_type(list, json_type_array))
		n = (long)json_object_array_length(list);
	json_object_put(r);
	return n;
}

int main(int argc, char **argv)
{
	static struct stack s;
	static struct stack_garage g[STORM_GARAGES];
	static int64_t gw_ids[STORM_GARAGES];
	static uint8_t gw_pubs[STORM_GARAGES][64];
	struct bench_stats behind, whole, to_stream;
	struct storm_trace trace = { 0 };
	struct storm_cpu c0, c1, c2, c3;
	struct stack_stream sub;
	struct apiclient *admin;
	char token[160], body[160], path[64], pwfile[STACK_PATH_MAX], trace_path[STACK_PATH_MAX];
	double t_setup, t_ready, t_console, end, shown_ms;
	size_t k, nonline, n, shown = 0;
	long sent, lost, backlog, alarms;
	int result;

	(void)argc;
	memset(&behind, 0, sizeof(behind));
	memset(&whole, 0, sizeof(whole));
	memset(&to_stream, 0, sizeof(to_stream));
	storm_clock_offset = storm_wall_ms() - stack_now_ms();
	rec.r = calloc(STORM_RECORDS_MAX, sizeof(*rec.r));
	if (rec.r == NULL) {
		fprintf(stderr, "bench-console-storm: out of memory\n");
		return 1;
	}
	t_setup = stack_now_ms();
	stack_init(&s, "bench-console-storm", argv[0]);
	stack_parkd(&s);
	stack_login(&s, STACK_ADMIN_PHONE, token, sizeof(token));
	admin = stack_client(&s, token, NULL);

	/* One site of every lock: 10 garages (parklockd), one gateway each. */
	for (k = 0; k < STORM_GARAGES; k++) {
		g[k].site_id = STORM_SITE;
		g[k].first = STORM_FIRST_SPOT + (uint32_t)(k * STORM_PER_GARAGE);
		g[k].count = STORM_PER_GARAGE;
		gw_ids[k] = (int64_t)k + 1;
	}
	stack_garages(&s, g, STORM_GARAGES);
	stack_cars_init(&cars, g, STORM_GARAGES);
	for (k = 0; k < STORM_GARAGES; k++)
		stack_gateway_key(&s, (unsigned)k, gw_pubs[k]);
	stack_site_garages(&s, admin, STORM_SITE, g, STORM_GARAGES, 0, gw_ids,
			   (const uint8_t (*)[64])gw_pubs);
	for (k = 0; k < STORM_GARAGES; k++)
		stack_provision(&s, admin, &g[k]);
	(void)stack_register(&s, STORM_ATTENDANT);
	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"role\":\"attendant\"}", STORM_ATTENDANT);
	snprintf(path, sizeof(path), "/v1/sites/%d/roles", STORM_SITE);
	if (stack_call(admin, "POST", path, body, NULL) != 201)
		stack_die("the attendant's role was not granted");

	/* The reference: the administrator on the stream the console follows. */
	snprintf(path, sizeof(path), "/v1/events?site=%d", STORM_SITE);
	stack_stream_start(&s, &sub, token, path, storm_on_line, NULL);
	for (k = 0; k < STORM_GARAGES; k++)
		stack_gateway(&s, (unsigned)k, gw_ids[k]);
	nonline = stack_cars_wait_online(&cars, admin, STORM_ONLINE_MS);
	if (nonline == 0)
		stack_die("no lock came online through its gateway");
	(void)stack_stream_quiet(&sub, STORM_QUIET_MS, STORM_ONLINE_MS);
	pthread_mutex_lock(&rec.mu);
	backlog = rec.unmatched;
	rec.unmatched = 0;
	pthread_mutex_unlock(&rec.mu);
	t_ready = stack_now_ms();

	snprintf(pwfile, sizeof(pwfile), "%s/password", s.dir);
	snprintf(trace_path, sizeof(trace_path), "%s/console.trace", s.dir);
	if (test_write_file(pwfile, STACK_PASSWORD "\n") != 0)
		stack_die("cannot write %s", pwfile);
	storm_console_start(&s, pwfile, trace_path);
	t_console = stack_now_ms() - t_ready;
	trace.f = fopen(trace_path, "r");
	if (trace.f == NULL)
		stack_die("the console made no trace file %s", trace_path);
	test_sleep_ms(1000); /* its first alarms read and frames */

	/* The storm. */
	storm_cpu_now(&s, &c0);
	stack_cars_run(&cars, STORM_RATE, 0, STORM_MS);
	storm_cpu_now(&s, &c1);
	lost = stack_cars_drain(&cars, STORM_DRAIN_MS, &sent);
	pthread_mutex_lock(&rec.mu);
	rec.closed = true;
	n = rec.n;
	pthread_mutex_unlock(&rec.mu);
	qsort(rec.r, n, sizeof(*rec.r), storm_record_cmp);

	/* Until the console has shown every event the stream brought, or has gone quiet. */
	trace.last_line_ms = stack_now_ms();
	end = stack_now_ms() + STORM_CATCH_UP_MAX_MS;
	for (;;) {
		shown += storm_trace_read(&trace, rec.r, n);
		if (shown >= n || stack_now_ms() - trace.last_line_ms > STORM_SETTLE_MS ||
		    stack_now_ms() > end)
			break;
		test_sleep_ms(50);
	}
	storm_cpu_now(&s, &c2);
	test_sleep_ms(STORM_IDLE_MS);
	storm_cpu_now(&s, &c3);
	shown += storm_trace_read(&trace, rec.r, n);
	fclose(trace.f);
	result = stack_stream_stop(&sub);
	alarms = storm_alarms(admin);

	/* An event the console never showed counts with the time until it was given up on. */
	for (k = 0; k < n; k++) {
		shown_ms = rec.r[k].console_ms >= 0 ? rec.r[k].console_ms : c2.at_ms;
		bench_stats_add(&to_stream, rec.r[k].stream_ms - rec.r[k].made_ms);
		bench_stats_add(&behind, shown_ms - rec.r[k].stream_ms);
		bench_stats_add(&whole, shown_ms - rec.r[k].made_ms);
	}
	printf("  %-52s %10d\n", "locks simulated, all in the console's one site", STORM_LOCKS);
	printf("  %-52s %10d\n", "gateways = parklockd processes", STORM_GARAGES);
	printf("  %-52s %10zu\n", "locks online through their gateways", nonline);
	if (nonline < STORM_LOCKS)
		printf("  NOTE: only %zu of %d locks came online within %d s; measured with "
		       "those\n", nonline, STORM_LOCKS, STORM_ONLINE_MS / 1000);
	printf("  %-52s %10.1f\n", "set-up until every lock online and quiet (s)",
	       (t_ready - t_setup) / 1000.0);
	printf("  %-52s %10ld\n", "start-up events streamed (boot, provisioning)", backlog);
	printf("  %-52s %10.1f\n", "console (attendant, 100x32, map) live after (s)",
	       t_console / 1000.0);
	printf("  storm: %d world commands (car present/absent) per second for %d s\n",
	       STORM_RATE, STORM_MS / 1000);
	printf("    %-50s %10ld\n", "events commanded", sent);
	printf("    %-50s %10zu\n", "  of which reached the reference subscriber", n);
	printf("    %-50s %10zu\n", "  of which the console put on its screen", shown);
	printf("    %-50s %10ld\n", "  not on the stream within the drain time", lost);
	printf("    %-50s %10zu\n", "  on the stream, not on the console's screen", n - shown);
	if (rec.overflow > 0)
		printf("    NOTE: %ld events past the %d recorded were not timed\n", rec.overflow,
		       STORM_RECORDS_MAX);
	if (shown < n)
		printf("    NOTE: %zu events were not on the console's screen %.1f s after the "
		       "storm;\n    they count with the time until then: the lags below are lower "
		       "bounds\n", n - shown, (c2.at_ms - c1.at_ms) / 1000.0);
	printf("    %-50s %10.1f\n", "console behind the stream p50 (ms)", bench_stats_pct(&behind, 50));
	printf("    %-50s %10.1f\n", "console behind the stream p99 (ms)", bench_stats_pct(&behind, 99));
	printf("    %-50s %10.1f\n", "console behind the stream max (ms)", bench_stats_max(&behind));
	printf("    %-50s %10.1f\n", "world command to the console's screen p50 (ms)",
	       bench_stats_pct(&whole, 50));
	printf("    %-50s %10.1f\n", "world command to the console's screen p99 (ms)",
	       bench_stats_pct(&whole, 99));
	printf("    %-50s %10.1f\n", "world command to the stream p50 (ms), same run",
	       bench_stats_pct(&to_stream, 50));
	printf("    %-50s %10.1f\n", "world command to the stream p99 (ms), same run",
	       bench_stats_pct(&to_stream, 99));
	printf("    %-50s %10.2f\n", "console CPU during the storm (s)", c1.console - c0.console);
	printf("    %-50s %9.1f%%\n", "  of one core", storm_pct(c0.console, c1.console, &c0, &c1));
	printf("    %-50s %10.2f\n", "console CPU catching up after it (s)", c2.console - c1.console);
	printf("    %-50s %10.1f\n", "  over (s)", (c2.at_ms - c1.at_ms) / 1000.0);
	printf("    %-50s %9.1f%%\n", "parkd CPU during the storm, of one core",
	       storm_pct(c0.parkd, c1.parkd, &c0, &c1));
	printf("    %-50s %9.1f%%\n", "tmux (the terminal) CPU during it, of one core",
	       storm_pct(c0.terminal, c1.terminal, &c0, &c1));
	printf("  %-52s %10.3f\n", "console CPU in 3 s idle after the storm (s)",
	       c3.console - c2.console);
	if (shown < n)
		printf("  NOTE: the console was still behind: those 3 s were not idle\n");
	printf("  %-52s %10ld\n", "alarms open at the site after it (cars without keys)",
	       alarms);
	printf("  %-52s %10ld\n", "stream lines that were no command's event", rec.unmatched);
	if (result != -APICLIENT_E_CANCELLED)
		printf("  NOTE: the reference stream ended before the benchmark did (%d)\n", result);
	printf("  console behind the stream at %d events/s: p50 %s%.1f ms, p99 %s%.1f ms, max "
	       "%s%.1f ms  (target <= %d ms)\n", STORM_RATE, shown < n ? ">= " : "",
	       bench_stats_pct(&behind, 50), shown < n ? ">= " : "",
	       bench_stats_pct(&behind, 99), shown < n ? ">= " : "", bench_stats_max(&behind),
	       STORM_LAG_TARGET_MS);
	printf("  console CPU at %d events/s: %.1f%% of one core; idle after it: %.1f%%\n",
	       STORM_RATE, storm_pct(c0.console, c1.console, &c0, &c1),
	       storm_pct(c2.console, c3.console, &c2, &c3));
	fflush(stdout);
	bench_stats_free(&behind);
	bench_stats_free(&whole);
	bench_stats_free(&to_stream);
	stack_cars_free(&cars);
	apiclient_free(admin);
	free(rec.r);
	return 0;
}
