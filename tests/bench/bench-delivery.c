/*
 * bench-delivery.c: 200 credentials for 200 locks through one gateway, for `make bench`:
 * one driver asks for an e-key for each of 200 locks (one parklockd, one site, one
 * parkgw), as fast as the server issues them (several connections at once), and the
 * clock runs until GET /v1/keys shows every key's INSTALL_CRED acknowledged by its lock.
 * Per credential: from its issuance's 201 to the first poll that shows it acknowledged,
 * so the figures carry the poll period as their resolution. Prints figures; never pass
 * or fail.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/ecies.h"
#include "../../lib/hex.h"
#include "../../lib/p256.h"
#include "../../lockfw/proto/wire.h"
#include "bench-stats.h"
#include "../support/test-stack.h"

#define DELIVERY_LOCKS 200
#define DELIVERY_SITE 1
#define DELIVERY_GATEWAY 1
#define DELIVERY_FIRST_SPOT 1001
#define DELIVERY_ISSUERS 8        /* connections issuing at once */
#define DELIVERY_POLL_MS 20       /* GET /v1/keys period */
#define DELIVERY_LIMIT_MS 30000   /* how long acknowledgements are waited for */
#define DELIVERY_ONLINE_MS 30000
#define DELIVERY_DRIVER_PHONE "+8613900001000"

struct delivery_key {
	json_object *body;   /* the request, made before the clock starts */
	double sent_ms, issued_ms, acked_ms; /* 0 until it happened */
	int status;          /* of POST /v1/ekeys */
	char result[32];     /* the lock's answer, as the server recorded it */
};

static struct {
	struct delivery_key keys[DELIVERY_LOCKS];
	atomic_int next;     /* the next key an issuer takes */
	const struct stack *s;
	const char *token;
} dl;

static void *delivery_issuer_main(void *arg)
{
	struct apiclient *c = stack_client(dl.s, dl.token, NULL);
	struct apiclient_error e;
	struct delivery_key *k;
	json_object *reply;
	int i;

	(void)arg;
	while ((i = atomic_fetch_add(&dl.next, 1)) < DELIVERY_LOCKS) {
		k = &dl.keys[i];
		reply = NULL;
		k->sent_ms = stack_now_ms();
		k->status = apiclient_call(c, "POST", "/v1/ekeys", k->body, 0, 0, &reply, &e);
		k->issued_ms = stack_now_ms();
		if (k->status == -APICLIENT_E_HTTP)
			k->status = e.status;
		json_object_put(reply);
	}
	apiclient_free(c);
	return NULL;
}

/* One GET /v1/keys: marks the keys newly acknowledged. Returns how many are, or -1. */
static int delivery_poll(struct apiclient *c)
{
	json_object *reply = NULL, *o, *v, *d;
	double now;
	size_t i, n;
	int64_t at;
	int acked = 0;

	if (stack_call(c, "GET", "/v1/keys", NULL, &reply) != 200)
		return -1;
	now = stack_now_ms();
	/* The reply is an array, or an object holding it. */
	if (!json_object_is_type(reply, json_type_array) &&
	    !json_object_object_get_ex(reply, "keys", &o))
		stack_die("GET /v1/keys: no list in %s", json_object_to_json_string(reply));
	o = json_object_is_type(reply, json_type_array) ? reply : o;
	n = json_object_array_length(o);
	for (i = 0; i < n; i++) {
		json_object *key = json_object_array_get_idx(o, i);

		if (!json_object_object_get_ex(key, "spot_id", &v))
			continue;
		at = json_object_get_int64(v) - DELIVERY_FIRST_SPOT;
		if (at < 0 || at >= DELIVERY_LOCKS ||
		    !json_object_object_get_ex(key, "delivery", &d) ||
		    !json_object_object_get_ex(d, "state", &v) ||
		    strcmp(json_object_get_string(v), "acked") != 0)
			continue;
		acked++;
		if (dl.keys[at].acked_ms == 0) {
			dl.keys[at].acked_ms = now;
			snprintf(dl.keys[at].result, sizeof(dl.keys[at].result), "%s",
				 json_object_object_get_ex(d, "result", &v) && v != NULL ?
				 json_object_get_string(v) : "(none)");
		}
	}
	json_object_put(reply);
	return acked;
}

/* The driver's request bodies: spot i encrypted to its reservation key, one device key. */
static void delivery_bodies(struct apiclient *driver)
{
	char hex[2 * (4 + ECIES_OVERHEAD) + 1], pub_hex[129];
	uint8_t res_pub[64], dev_pub[64], spot[4], ct[4 + ECIES_OVERHEAD];
	json_object *r = NULL;
	EVP_PKEY *device = p256_generate();
	int i;

	if (stack_call(driver, "POST", "/v1/reservation-key", NULL, &r) / 100 != 2 ||
	    hex_decode(stack_str(r, "public_key"), res_pub, sizeof(res_pub)) != 64)
		stack_die("the driver got no reservation key");
	json_object_put(r);
	if (device == NULL || p256_public_raw(device, dev_pub) != 0)
		stack_die("no device key");
	EVP_PKEY_free(device);
	hex_encode(dev_pub, sizeof(dev_pub), pub_hex, sizeof(pub_hex));
	for (i = 0; i < DELIVERY_LOCKS; i++) {
		wire_store_u32(spot, (uint32_t)(DELIVERY_FIRST_SPOT + i));
		if (ecies_encrypt(res_pub, spot, sizeof(spot), ct, sizeof(ct)) != (int)sizeof(ct))
			stack_die("ECIES failed");
		hex_encode(ct, sizeof(ct), hex, sizeof(hex));
		dl.keys[i].body = json_object_new_object();
		json_object_object_add(dl.keys[i].body, "spot", json_object_new_string(hex));
		json_object_object_add(dl.keys[i].body, "device_pub",
				       json_object_new_string(pub_hex));
	}
}

int main(int argc, char **argv)
{
	static struct stack s;
	struct stack_garage g;
	struct bench_stats per, issue;
	pthread_t issuers[DELIVERY_ISSUERS];
	struct apiclient *admin, *driver;
	uint8_t gw_pub[64];
	char token[160], driver_token[160];
	double t0, t_issued = 0, t_acked = 0, end;
	size_t online;
	long failed = 0, not_ok = 0;
	int i, acked = 0, nacked = 0;

	(void)argc;
	stack_init(&s, "bench-delivery", argv[0]);
	stack_parkd(&s);
	stack_login(&s, STACK_ADMIN_PHONE, token, sizeof(token));
	admin = stack_client(&s, token, NULL);
	memset(&g, 0, sizeof(g));
	g.site_id = DELIVERY_SITE;
	g.first = DELIVERY_FIRST_SPOT;
	g.count = DELIVERY_LOCKS;
	stack_garages(&s, &g, 1);
	stack_gateway_key(&s, 0, gw_pub);
	stack_site(&s, admin, &g, 0, DELIVERY_GATEWAY, gw_pub);
	stack_provision(&s, admin, &g);
	stack_gateway(&s, 0, DELIVERY_GATEWAY);
	online = stack_wait_online(admin, &g, NULL, DELIVERY_ONLINE_MS);
	if (online < DELIVERY_LOCKS)
		stack_die("only %zu of %d locks came online through the gateway", online,
				 DELIVERY_LOCKS);

	stack_register(&s, DELIVERY_DRIVER_PHONE);
	stack_login(&s, DELIVERY_DRIVER_PHONE, driver_token, sizeof(driver_token));
	driver = stack_client(&s, driver_token, NULL);
	delivery_bodies(driver);
	sleep(2); /* the gateway's start-up work (its locks' clocks, their logs) settles */

	dl.s = &s;
	dl.token = driver_token;
	t0 = stack_now_ms();
	for (i = 0; i < DELIVERY_ISSUERS; i++)
		if (pthread_create(&issuers[i], NULL, delivery_issuer_main, NULL) != 0)
			stack_die("cannot start issuer %d", i);
	end = t0 + DELIVERY_LIMIT_MS;
	while (acked < DELIVERY_LOCKS && stack_now_ms() < end) {
		usleep(DELIVERY_POLL_MS * 1000);
		acked = delivery_poll(driver);
	}
	for (i = 0; i < DELIVERY_ISSUERS; i++)
		pthread_join(issuers[i], NULL);

	memset(&per, 0, sizeof(per));
	memset(&issue, 0, sizeof(issue));
	for (i = 0; i < DELIVERY_LOCKS; i++) {
		struct delivery_key *k = &dl.keys[i];

		json_object_put(k->body);
		if (k->status != 201) {
			failed++;
			continue;
		}
		if (k->issued_ms > t_issued)
			t_issued = k->issued_ms;
		bench_stats_add(&issue, k->issued_ms - k->sent_ms);
		if (k->acked_ms > 0) {
			nacked++;
			bench_stats_add(&per, k->acked_ms - k->issued_ms);
			not_ok += strcmp(k->result, "ok") != 0;
			if (k->acked_ms > t_acked)
				t_acked = k->acked_ms;
		}
	}

	printf("  %-50s %10d\n", "locks (one parklockd, one site, one gateway)", DELIVERY_LOCKS);
	printf("  %-50s %10d\n", "issuing connections at once", DELIVERY_ISSUERS);
	printf("  %-50s %10ld\n", "e-keys refused", failed);
	printf("  %-50s %10.0f\n", "all 200 e-keys issued after (ms)", t_issued - t0);
	printf("  %-50s %10.1f\n", "  issuance latency p50 (ms)", bench_stats_pct(&issue, 50));
	printf("  %-50s %10d\n", "credentials acknowledged", nacked);
	printf("  %-50s %10ld\n", "  of which the lock refused (result not ok)", not_ok);
	if (nacked == DELIVERY_LOCKS)
		printf("  %-50s %10.0f\n", "all acknowledged after (ms, first request on)",
		       t_acked - t0);
	printf("  %-50s %10d\n", "GET /v1/keys poll period (ms)", DELIVERY_POLL_MS);
	printf("  %-50s %10.0f\n", "per credential, 201 to acknowledged, p50 (ms)",
	       bench_stats_pct(&per, 50));
	printf("  %-50s %10.0f\n", "per credential, 201 to acknowledged, p99 (ms)",
	       bench_stats_pct(&per, 99));
	if (nacked == DELIVERY_LOCKS)
		printf("  200 credentials through one gateway: %.0f ms  (target <= 2000 ms)\n",
		       t_acked - t0);
	else
		printf("  200 credentials through one gateway: only %d acknowledged in %d s  "
		       "(target: all within 2000 ms)\n", nacked,
		       DELIVERY_LIMIT_MS / 1000);
	fflush(stdout);
	bench_stats_free(&per);
	bench_stats_free(&issue);
	apiclient_free(driver);
	apiclient_free(admin);
	return 0;
}
