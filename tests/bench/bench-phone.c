/*
 * bench-phone.c: the phone client's unlock latency, through the real parkphoned over
 * its control socket, against the real parkd, parkgw and parklockd (sim transport;
 * the barrier's travel set to 1 ms so that the figures are the protocol's and the
 * programs', not a motor's). Warm: the daemon running and the key cached, 200 unlocks
 * (each followed by a lock, not timed), p50 and p99; target p99 <= 100 ms. Cold:
 * logged in, no key yet: the key request, the credential's delivery through the
 * gateway, and the unlock, for each of several spots, p50; target <= 1 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../phone/ctlproto.h"
#include "../support/test-stack.h"
#include "bench-stats.h"

#define SITE 1
#define GATEWAY 1
#define FIRST_SPOT 101
#define SPOTS 12
#define WARM_UNLOCKS 200
#define DRIVER "+8613600000001"

static struct stack s;

/* One request on the daemon's socket; dies unless it says ok. */
static void request(struct ctl_reader *r, const char *cmd, uint32_t spot, const char *extra)
{
	json_object *req = json_object_new_object(), *reply = NULL, *ok;
	char err[256];

	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (spot > 0)
		json_object_object_add(req, "spot", json_object_new_int64(spot));
	if (extra != NULL)
		json_object_object_add(req, "password", json_object_new_string(extra));
	if (ctl_call(r, req, &reply, 60000, err, sizeof(err)) != 0)
		stack_die("%s %u: %s", cmd, spot, err);
	if (!json_object_object_get_ex(reply, "ok", &ok) || !json_object_get_boolean(ok))
		stack_die("%s %u: %s", cmd, spot, json_object_to_json_string(reply));
	json_object_put(reply);
	json_object_put(req);
}

static void login(struct ctl_reader *r)
{
	json_object *req = json_object_new_object(), *reply = NULL, *ok;
	char err[256];

	json_object_object_add(req, "cmd", json_object_new_string("login"));
	json_object_object_add(req, "phone", json_object_new_string(DRIVER));
	json_object_object_add(req, "password", json_object_new_string(STACK_PASSWORD));
	if (ctl_call(r, req, &reply, 60000, err, sizeof(err)) != 0 ||
	    !json_object_object_get_ex(reply, "ok", &ok) || !json_object_get_boolean(ok))
		stack_die("the driver could not log in");
	json_object_put(reply);
	json_object_put(req);
}

static void up(struct stack_garage *g, struct stack_phone *phone)
{
	stack_parkd(&s);
	memset(g, 0, sizeof(*g));
	g->site_id = SITE;
	g->first = FIRST_SPOT;
	g->count = SPOTS;
	g->travel_ms = 1;
	stack_site_up(&s, g, 0, GATEWAY);
	stack_register(&s, DRIVER);
	stack_phoned(&s, phone, "driver", NULL);
	sleep(2); /* the gateway's start-up work (the locks' clocks, their logs) settles */
}

int main(int argc, char **argv)
{
	struct stack_garage g;
	struct stack_phone phone;
	struct bench_stats warm = { 0 }, cold = { 0 };
	struct ctl_reader *r = malloc(sizeof(*r));
	double t0;
	uint32_t spot;
	int fd, i;

	(void)argc;
	stack_init(&s, "bench-phone", argv[0]);
	up(&g, &phone);
	fd = ctl_connect(phone.socket);
	if (r == NULL || fd < 0)
		stack_die("cannot reach parkphoned");
	ctl_reader_init(r, fd);
	login(r);

	/* Cold: key request, delivery through the gateway, first unlock; one per spot. */
	for (spot = FIRST_SPOT + 1; spot < FIRST_SPOT + SPOTS; spot++) {
		t0 = stack_now_ms();
		request(r, "key", spot, NULL);
		request(r, "unlock", spot, NULL);
		bench_stats_add(&cold, stack_now_ms() - t0);
		request(r, "lock", spot, NULL);
	}
	/* Warm: the key is held; each unlock is timed, the lock after it is not. */
	request(r, "key", FIRST_SPOT, NULL);
	request(r, "unlock", FIRST_SPOT, NULL);
	request(r, "lock", FIRST_SPOT, NULL);
	for (i = 0; i < WARM_UNLOCKS; i++) {
		t0 = stack_now_ms();
		request(r, "unlock", FIRST_SPOT, NULL);
		bench_stats_add(&warm, stack_now_ms() - t0);
		request(r, "lock", FIRST_SPOT, NULL);
	}
	printf("  warm unlock (key cached, sim transport, travel 1 ms), %d unlocks: p50 %.1f ms, "
	       "p99 %.1f ms, max %.1f ms (target p99 <= 100 ms)\n", WARM_UNLOCKS,
	       bench_stats_pct(&warm, 50), bench_stats_pct(&warm, 99), bench_stats_max(&warm));
	printf("  cold unlock (key request + credential through the gateway + unlock), %zu "
	       "spots: p50 %.0f ms, max %.0f ms (target p50 <= 1000 ms)\n", cold.n,
	       bench_stats_pct(&cold, 50), bench_stats_max(&cold));
	close(fd);
	free(r);
	bench_stats_free(&warm);
	bench_stats_free(&cold);
	return 0;
}
