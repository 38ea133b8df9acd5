/*
 * bench-issue.c: e-key issuance over HTTP, the whole flow, for `make bench`: 64 client
 * threads (a driver and a kept-alive connection each) POST /v1/ekeys to the real parkd
 * (SQLite: every 201 is a durable commit), in rounds that alternate with the crypto-only
 * bound: the crypto an issuance cannot do without (the device key check, ECIES decrypt:
 * ECDH, HKDF, AES-GCM; the e-key's and the INSTALL_CRED's ECDSA signatures), with the
 * keys already unsealed as parkd keeps them, on two threads, one per core. Prints
 * figures; never pass or fail.
 *
 * Each driver asks for keys to ISSUE_SPOTS_EACH spots of its own in turn (policy
 * "anyone": another driver's live key blocks a spot, one's own does not), with requests
 * made once beforehand and sent by the lean client of bench-http.c: the phone's ECIES
 * encryption and libcurl would otherwise take the server's cores (the clients' CPU is
 * printed). Not one spot each: issuance checks that nobody else holds a live key for
 * the spot by reading the spot's live keys, and a driver asking for one spot 400 times
 * in five seconds piles up live keys nobody holds in life; the figures then fell from
 * round to round as that read grew (about 20 % of the writer's CPU by the last round).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../../lib/ecies.h"
#include "../../lib/hex.h"
#include "../../lib/p256.h"
#include "../../lib/signer.h"
#include "bench-http.h"
#include "bench-stats.h"
#include "bench-threads.h"
#include "../support/test-stack.h"

#define ISSUE_CLIENTS 64
#define ISSUE_SPOTS_EACH 16      /* spots each driver asks keys for, in turn */
#define ISSUE_WARMUP_MS 1000     /* before the first round */
#define ISSUE_ROUNDS 5           /* each: HTTP, then the crypto bound as long */
#define ISSUE_RAMP_MS 300        /* a round's HTTP start, from idle clients: not counted */
#define ISSUE_MEASURE_MS 1000    /* a round's HTTP window, and its bound's */
#define ISSUE_BOUND_THREADS 2
#define ISSUE_SITE 1
#define ISSUE_GATEWAY 1
#define ISSUE_FIRST_SPOT 1001
#define ISSUE_OPS_SAMPLES 201 /* single-thread timings of each crypto step, for medians */

enum issue_phase { ISSUE_RUN, ISSUE_MEASURE, ISSUE_PAUSE, ISSUE_DONE };

/* What the clients do now; the main thread changes it. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;   /* phase changed, or inflight dropped to 0 */
	enum issue_phase phase;
	int round;             /* of the current or last ISSUE_MEASURE */
	int inflight;          /* requests sent and not answered */
} ctl = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, ISSUE_RUN, 0, 0 };

struct issue_client {
	pthread_t thread;
	struct bench_http http;   /* its kept-alive connection */
	char req[ISSUE_SPOTS_EACH][1024]; /* POST /v1/ekeys {"spot": ECIES(spot), ...} */
	size_t req_len[ISSUE_SPOTS_EACH];
	unsigned next;            /* the request to send next, round robin */
	struct bench_stats lat;   /* ms, requests answered in a measured window */
	long ok[ISSUE_ROUNDS];    /* 201s answered in each round's window */
	long failed;              /* failures answered in the windows */
	char error[400];          /* the first failure, for the report */
};

static void issue_set_phase(enum issue_phase phase, int round)
{
	pthread_mutex_lock(&ctl.mu);
	ctl.phase = phase;
	ctl.round = round;
	pthread_cond_broadcast(&ctl.cond);
	pthread_mutex_unlock(&ctl.mu);
}

/* Waits until no request is in flight (after ISSUE_PAUSE). */
static void issue_drain(void)
{
	pthread_mutex_lock(&ctl.mu);
	while (ctl.inflight > 0)
		pthread_cond_wait(&ctl.cond, &ctl.mu);
	pthread_mutex_unlock(&ctl.mu);
}

static void *issue_client_main(void *arg)
{
	struct issue_client *k = arg;
	double t0, t1;
	int r, round = -1;

	for (;;) {
		pthread_mutex_lock(&ctl.mu);
		while (ctl.phase == ISSUE_PAUSE)
			pthread_cond_wait(&ctl.cond, &ctl.mu);
		if (ctl.phase == ISSUE_DONE) {
			pthread_mutex_unlock(&ctl.mu);
			break;
		}
		ctl.inflight++;
		pthread_mutex_unlock(&ctl.mu);

		t0 = stack_now_ms();
		r = bench_http_send(&k->http, k->req[k->next], k->req_len[k->next]);
		k->next = (k->next + 1) % ISSUE_SPOTS_EACH;
		t1 = stack_now_ms();

		/* Throughput counts the answers inside a window, whenever they were asked. */
		pthread_mutex_lock(&ctl.mu);
		round = ctl.phase == ISSUE_MEASURE ? ctl.round : -1;
		if (--ctl.inflight == 0)
			pthread_cond_broadcast(&ctl.cond);
		pthread_mutex_unlock(&ctl.mu);
		if (round < 0)
			continue;
		if (r == 201) {
			k->ok[round]++;
			bench_stats_add(&k->lat, t1 - t0);
		} else if (k->failed++ == 0) {
			snprintf(k->error, sizeof(k->error), "%d %.*s", r,
				 r > 0 ? (int)k->http.body_len : 0, r > 0 ? k->http.body : "");
		}
	}
	return NULL;
}

/* ---- the crypto-only bound ---- */

/* What parkd holds for one issuance: the unsealed keys, the request's ciphertext and key. */
struct issue_crypto {
	EVP_PKEY *res, *site;
	uint8_t res_pub[64], device_pub[64];
	uint8_t ct[4 + ECIES_OVERHEAD];
};

struct issue_bound {
	pthread_t thread;
	const struct issue_crypto *in;
	atomic_int *stop;
	long ops, failed;
};

/* The steps of one issuance's crypto, as key_issue() and key_queue_cred() take them. */
enum issue_step { STEP_DEVICE_KEY, STEP_ECIES, STEP_EKEY_SIGN, STEP_CRED_SIGN, ISSUE_STEPS };

static const char *const issue_step_names[ISSUE_STEPS] = {
	"device key check (point on curve)", "ECIES decrypt (ECDH + HKDF + GCM)",
	"e-key signature (ECDSA)", "INSTALL_CRED signature (ECDSA)",
};

/* One issuance's crypto; when `ms` is not NULL, each step's time into ms[step]. 0 or -1. */
static int issue_crypto_once(const struct issue_crypto *in, uint32_t n, double *ms)
{
	union proto_mgmt_payload p;
	struct proto_ekey k;
	uint8_t plain[4], frame[256];
	EVP_PKEY *dev = NULL;
	double t = ms != NULL ? stack_now_ms() : 0, t1;
	int step = 0, r = -1;

#define ISSUE_STEP()                                   \
	do {                                           \
		if (ms != NULL) {                      \
			t1 = stack_now_ms();    \
			ms[step] = t1 - t;             \
			t = t1;                        \
		}                                      \
		step++;                                \
	} while (0)

	if ((dev = p256_public_like(in->res, in->device_pub)) == NULL)
		goto out;
	ISSUE_STEP();
	if (ecies_decrypt(in->res, in->ct, sizeof(in->ct), plain, sizeof(plain)) != 4)
		goto out;
	ISSUE_STEP();
	memset(&k, 0, sizeof(k));
	k.key_id = n;
	k.user_id = 1;
	k.spot_id = wire_load_u32(plain);
	k.not_before = PROTO_TIME_NONE_BEFORE;
	k.not_after = PROTO_TIME_NONE_AFTER;
	memcpy(k.device_pub, in->device_pub, 64);
	if (signer_ekey(in->res, &k) != 0)
		goto out;
	ISSUE_STEP();
	memset(&p, 0, sizeof(p));
	p.cred.key_id = k.key_id;
	p.cred.user_id = k.user_id;
	memcpy(p.cred.res_pub, in->res_pub, 64);
	p.cred.not_before = k.not_before;
	p.cred.not_after = k.not_after;
	if (signer_mgmt_frame(in->site, ISSUE_SITE, 1, PROTO_MGMT_INSTALL_CRED, k.spot_id, n, &p,
			      frame, sizeof(frame)) < 0)
		goto out;
	ISSUE_STEP();
	r = 0;
#undef ISSUE_STEP
out:
	EVP_PKEY_free(dev);
	return r;
}

static void issue_crypto_init(struct issue_crypto *in)
{
	EVP_PKEY *dev = p256_generate();
	uint8_t spot[4];

	wire_store_u32(spot, ISSUE_FIRST_SPOT);
	in->res = p256_generate();
	in->site = p256_generate();
	if (in->res == NULL || in->site == NULL || dev == NULL ||
	    p256_public_raw(in->res, in->res_pub) != 0 ||
	    p256_public_raw(dev, in->device_pub) != 0 ||
	    ecies_encrypt(in->res_pub, spot, sizeof(spot), in->ct, sizeof(in->ct)) !=
		    (int)sizeof(in->ct) ||
	    issue_crypto_once(in, 1, NULL) != 0)
		stack_die("the crypto bound's keys could not be made");
	EVP_PKEY_free(dev);
}

static void *issue_bound_main(void *arg)
{
	struct issue_bound *b = arg;

	while (!atomic_load(b->stop)) {
		if (issue_crypto_once(b->in, (uint32_t)b->ops + 1, NULL) == 0)
			b->ops++;
		else
			b->failed++;
	}
	return NULL;
}

/* Issuances per second the bare crypto allows on `threads` threads over ms. */
static double issue_bound_rate(const struct issue_crypto *in, int threads, long ms)
{
	struct issue_bound b[ISSUE_BOUND_THREADS];
	atomic_int stop = 0;
	double t0, t1;
	long ops = 0;
	int i;

	t0 = stack_now_ms();
	for (i = 0; i < threads; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].in = in;
		b[i].stop = &stop;
		if (pthread_create(&b[i].thread, NULL, issue_bound_main, &b[i]) != 0)
			stack_die("cannot start the crypto threads");
	}
	usleep((useconds_t)ms * 1000);
	atomic_store(&stop, 1);
	for (i = 0; i < threads; i++) {
		pthread_join(b[i].thread, NULL);
		ops += b[i].ops;
		if (b[i].failed > 0)
			stack_die("the crypto bound failed %ld times", b[i].failed);
	}
	t1 = stack_now_ms();
	return (double)ops * 1000.0 / (t1 - t0);
}

/* ---- set-up ---- */

/* Driver i: registered, logged in, with its reservation key and its requests, one a spot. */
static void issue_client_init(struct stack *s, struct issue_client *k, int i)
{
	char phone[32], token[160], hex[2 * (4 + ECIES_OVERHEAD) + 1], pub_hex[129];
	uint8_t res_pub[64], dev_pub[64], spot[4], ct[4 + ECIES_OVERHEAD];
	json_object *r = NULL;
	EVP_PKEY *device = p256_generate();
	struct apiclient *c;
	char body[512];
	int j, n;

	snprintf(phone, sizeof(phone), "+86139%08d", 1000 + i);
	stack_register(s, phone);
	stack_login(s, phone, token, sizeof(token));
	c = stack_client(s, token, NULL);
	if (stack_call(c, "POST", "/v1/reservation-key", NULL, &r) / 100 != 2 ||
	    hex_decode(stack_str(r, "public_key"), res_pub, sizeof(res_pub)) != 64)
		stack_die("driver %d got no reservation key", i);
	json_object_put(r);
	apiclient_free(c);
	if (device == NULL || p256_public_raw(device, dev_pub) != 0)
		stack_die("driver %d: no device key", i);
	EVP_PKEY_free(device);
	hex_encode(dev_pub, sizeof(dev_pub), pub_hex, sizeof(pub_hex));
	for (j = 0; j < ISSUE_SPOTS_EACH; j++) {
		wire_store_u32(spot, (uint32_t)(ISSUE_FIRST_SPOT + i * ISSUE_SPOTS_EACH + j));
		if (ecies_encrypt(res_pub, spot, sizeof(spot), ct, sizeof(ct)) != (int)sizeof(ct))
			stack_die("driver %d: crypto failed", i);
		hex_encode(ct, sizeof(ct), hex, sizeof(hex));
		/* The requests, written out once: the phone's work is not what is measured. */
		snprintf(body, sizeof(body), "{\"spot\":\"%s\",\"device_pub\":\"%s\"}", hex,
			 pub_hex);
		n = snprintf(k->req[j], sizeof(k->req[j]), "POST /v1/ekeys HTTP/1.1\r\n"
			     "Host: %s\r\nAuthorization: Bearer %s\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			     s->base + strlen("http://"), token, strlen(body), body);
		if (n < 0 || (size_t)n >= sizeof(k->req[j]))
			stack_die("driver %d: the request does not fit", i);
		k->req_len[j] = (size_t)n;
	}
	if (bench_http_init(&k->http, s->base) != 0)
		stack_die("driver %d: cannot connect", i);
}

/*
 * Site 1: ISSUE_SPOTS_EACH spots per driver, made-up lock keys (no lock runs), one
 * gateway that is idle.
 */
static void issue_site(struct stack *s, struct apiclient *admin)
{
	struct stack_garage g;
	uint8_t gw_pub[64];
	EVP_PKEY *key;
	uint32_t i;

	memset(&g, 0, sizeof(g));
	g.site_id = ISSUE_SITE;
	g.first = ISSUE_FIRST_SPOT;
	g.count = ISSUE_CLIENTS * ISSUE_SPOTS_EACH;
	g.pubs = calloc(g.count, sizeof(*g.pubs));
	if (g.pubs == NULL)
		stack_die("out of memory");
	for (i = 0; i <= g.count; i++) {
		key = p256_generate();
		if (key == NULL || p256_public_raw(key, i < g.count ? g.pubs[i] : gw_pub) != 0)
			stack_die("no key");
		EVP_PKEY_free(key);
	}
	stack_site(s, admin, &g, 0, ISSUE_GATEWAY, gw_pub);
	free(g.pubs);
}

static int issue_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double issue_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), issue_cmp);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	static struct stack s;
	static struct issue_client k[ISSUE_CLIENTS];
	static struct issue_crypto in;
	static double steps[ISSUE_STEPS][ISSUE_OPS_SAMPLES];
	static struct bench_threads th_sum, th0, th1;
	struct bench_stats lat;
	struct apiclient *admin;
	double rate[ISSUE_ROUNDS], bound[ISSUE_ROUNDS], ratio[ISSUE_ROUNDS];
	double t0, window_ms = 0, cpu_server = 0, cpu_client = 0, c0, c1, total, literal, cpu_us = 0;
	double meds[ISSUE_STEPS];
	static const char *const writer_names[] = {
		"parkd_write_transactions_total", "parkd_write_calls_total",
		"parkd_write_busy_microseconds_total", "parkd_write_commit_microseconds_total",
		"parkd_write_syncs_total", "parkd_write_sync_microseconds_total",
		"parkd_write_decide_microseconds_total", "parkd_write_sign_microseconds_total",
		"parkd_write_store_microseconds_total",
	};
	double writer[sizeof(writer_names) / sizeof(writer_names[0])];
	char token[160], first_error[400] = "";
	long ok = 0, failed = 0, round_ok;
	int i, j, round;

	(void)argc;
	stack_init(&s, "bench-issue", argv[0]);
	stack_parkd(&s);
	stack_login(&s, STACK_ADMIN_PHONE, token, sizeof(token));
	admin = stack_client(&s, token, NULL);
	issue_site(&s, admin);
	for (i = 0; i < ISSUE_CLIENTS; i++)
		issue_client_init(&s, &k[i], i);
	issue_crypto_init(&in);

	/*
	 * Rounds of HTTP then the bound, so that each ratio compares two figures taken
	 * within a second or two of each other on this shared machine; the medians are
	 * reported. No request is in flight while the bound runs.
	 */
	for (i = 0; i < ISSUE_CLIENTS; i++)
		if (pthread_create(&k[i].thread, NULL, issue_client_main, &k[i]) != 0)
			stack_die("cannot start client %d", i);
	usleep(ISSUE_WARMUP_MS * 1000);
	for (i = 0; i < (int)(sizeof(writer) / sizeof(writer[0])); i++)
		writer[i] = -(double)stack_metric(&s, writer_names[i]);
	for (round = 0; round < ISSUE_ROUNDS; round++) {
		if (round > 0) {
			issue_set_phase(ISSUE_RUN, round);
			usleep(ISSUE_RAMP_MS * 1000);
		}
		c0 = stack_cpu_s(s.parkd_pid);
		c1 = stack_cpu_s(getpid());
		if (bench_threads_read(s.parkd_pid, &th0) != 0)
			stack_die("cannot read parkd's threads in /proc");
		t0 = stack_now_ms();
		issue_set_phase(ISSUE_MEASURE, round);
		usleep(ISSUE_MEASURE_MS * 1000);
		issue_set_phase(ISSUE_PAUSE, round);
		t0 = stack_now_ms() - t0;
		window_ms += t0;
		cpu_server += stack_cpu_s(s.parkd_pid) - c0;
		if (bench_threads_read(s.parkd_pid, &th1) != 0)
			stack_die("cannot read parkd's threads in /proc");
		bench_threads_add_diff(&th_sum, &th0, &th1);
		cpu_client += stack_cpu_s(getpid()) - c1;
		issue_drain();
		for (round_ok = 0, i = 0; i < ISSUE_CLIENTS; i++)
			round_ok += k[i].ok[round];
		ok += round_ok;
		rate[round] = (double)round_ok * 1000.0 / t0;
		bound[round] = issue_bound_rate(&in, ISSUE_BOUND_THREADS, ISSUE_MEASURE_MS);
		ratio[round] = bound[round] > 0 ? 100.0 * rate[round] / bound[round] : 0;
	}
	for (i = 0; i < (int)(sizeof(writer) / sizeof(writer[0])); i++)
		writer[i] += (double)stack_metric(&s, writer_names[i]);
	issue_set_phase(ISSUE_DONE, round);
	memset(&lat, 0, sizeof(lat));
	for (i = 0; i < ISSUE_CLIENTS; i++) {
		pthread_join(k[i].thread, NULL);
		failed += k[i].failed;
		if (first_error[0] == '\0' && k[i].error[0] != '\0')
			snprintf(first_error, sizeof(first_error), "%s", k[i].error);
		bench_stats_merge(&lat, &k[i].lat);
		bench_stats_free(&k[i].lat);
		bench_http_close(&k[i].http);
	}
	for (j = 0; j < ISSUE_OPS_SAMPLES; j++) {
		double ms[ISSUE_STEPS];

		if (issue_crypto_once(&in, (uint32_t)j + 1, ms) != 0)
			stack_die("the crypto steps failed");
		for (i = 0; i < ISSUE_STEPS; i++)
			steps[i][j] = ms[i];
	}

	printf("  %-50s %10d\n", "clients (threads, kept-alive connections)", ISSUE_CLIENTS);
	printf("  rounds: %d x (%.1f s of HTTP, then the crypto bound for %.1f s), after a "
	       "%.1f s warm-up\n", ISSUE_ROUNDS, ISSUE_MEASURE_MS / 1000.0,
	       ISSUE_MEASURE_MS / 1000.0, ISSUE_WARMUP_MS / 1000.0);
	printf("  %-50s %10ld\n", "issuances answered 201 in the HTTP windows", ok);
	printf("  %-50s %10ld%s%s\n", "requests failed", failed, failed > 0 ? "  first: " : "",
	       first_error);
	printf("  %-50s", "issuances per second, each round");
	for (round = 0; round < ISSUE_ROUNDS; round++)
		printf(" %.0f", rate[round]);
	printf("\n  %-50s", "crypto-only bound (2 threads), each round");
	for (round = 0; round < ISSUE_ROUNDS; round++)
		printf(" %.0f", bound[round]);
	printf("\n  %-50s", "ratio (%), each round");
	for (round = 0; round < ISSUE_ROUNDS; round++)
		printf(" %.1f", ratio[round]);
	printf("\n");
	printf("  %-50s %10.0f\n", "issuances per second (HTTP, whole flow), median",
	       issue_median(rate, ISSUE_ROUNDS));
	printf("  %-50s %10.0f\n", "crypto-only bound, 2 threads (per second), median",
	       issue_median(bound, ISSUE_ROUNDS));
	printf("  %-50s %10.2f\n", "latency p50 (ms)", bench_stats_pct(&lat, 50));
	printf("  %-50s %10.2f\n", "latency p90 (ms)", bench_stats_pct(&lat, 90));
	printf("  %-50s %10.2f\n", "latency p99 (ms)", bench_stats_pct(&lat, 99));
	printf("  %-50s %10.2f\n", "latency p99.9 (ms)", bench_stats_pct(&lat, 99.9));
	printf("  %-50s %10.2f\n", "latency max (ms)", bench_stats_pct(&lat, 100));
	printf("  %-50s %10.2f\n", "parkd CPU in the HTTP windows (cores, of 2)",
	       cpu_server * 1000.0 / window_ms);
	printf("  %-50s %10.2f\n", "the clients' CPU in the HTTP windows (cores)",
	       cpu_client * 1000.0 / window_ms);
	if (writer[0] > 0 && writer[1] > 0) {
		printf("  %-50s %10.1f\n", "writer: issuances per transaction (mean)",
		       writer[1] / writer[0]);
		printf("  %-50s %10.1f\n", "writer: busy time per issuance (us, mean)",
		       writer[2] / writer[1]);
		printf("  %-50s %10.2f\n", "writer: commit time per transaction (ms, mean)",
		       writer[3] / writer[0] / 1000.0);
		printf("  %-50s %.0f, %.0f, %.0f, %.0f\n",
		       "writer per issuance (us): decide, sign, store, commit",
		       writer[6] / writer[1], writer[7] / writer[1], writer[8] / writer[1],
		       writer[3] / writer[1]);
	}
	printf("  parkd's threads by name, per issuance (us, summed over the threads of a name):\n");
	cpu_us = bench_threads_print(&th_sum, (double)ok);
	if (writer[4] > 0)
		printf("  %-50s %10.2f  (%.1f transactions each)\n",
		       "syncer: fdatasync time (ms, mean)", writer[5] / writer[4] / 1000.0,
		       writer[0] / writer[4]);
	printf("  crypto per issuance, one thread, median of %d (us):\n", ISSUE_OPS_SAMPLES);
	total = 0;
	for (i = 0; i < ISSUE_STEPS; i++) {
		double med = issue_median(steps[i], ISSUE_OPS_SAMPLES);

		total += med;
		meds[i] = med;
		printf("    %-48s %10.1f\n", issue_step_names[i], med * 1000.0);
	}
	printf("    %-48s %10.1f\n", "sum", total * 1000.0);
	/*
	 * The ratio parkd could reach with both cores busy all the time: its crypto over all
	 * the time it spends on a core per issuance. What it reaches is below that by the
	 * time the cores stand idle.
	 */
	if (cpu_us > 0)
		printf("  %-50s %9.1f%%\n", "ceiling: crypto sum / parkd CPU per issuance",
		       100.0 * total * 1000.0 / cpu_us);
	/* The narrowest reading of the issue's bound, for comparison: one ECDH, one signature. */
	literal = 2.0 * 1000.0 / (meds[STEP_ECIES] + meds[STEP_EKEY_SIGN]);
	printf("  %-50s %10.0f  (ratio %.1f%%)\n",
	       "ECIES + one signature only (per s, 2 cores, medians)", literal,
	       100.0 * issue_median(rate, ISSUE_ROUNDS) / literal);
	printf("  HTTP issuance / crypto bound: %.1f%% (median of rounds)  (target >= 50%%)\n",
	       issue_median(ratio, ISSUE_ROUNDS));
	printf("  p99 latency: %.2f ms  (target <= 25 ms)\n", bench_stats_pct(&lat, 99));
	fflush(stdout);
	bench_stats_free(&lat);
	apiclient_free(admin);
	EVP_PKEY_free(in.res);
	EVP_PKEY_free(in.site);
	return 0;
}
