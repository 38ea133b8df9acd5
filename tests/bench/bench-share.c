/*
 * bench-share.c: sharing's two speeds, through the real parkphoned of an owner and of
 * a family member, the real parkd, parkgw and parklockd (sim transport, barrier travel
 * 1 ms). Each round: the owner shares the key of the spot (no approval needed), the
 * family member's phone syncs (accepting the share, binding it to its device) and
 * unlocks: request to first unlock, p50, target <= 1 s. Then the owner revokes the share
 * and the lock is asked again and again (a LOCK with the revoked share, which moves
 * nothing while the barrier is up) until it refuses: revocation to refusal through the
 * gateway, p99, target <= 2 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/p256.h"
#include "../../lib/transport.h"
#include "../../phone/ctlproto.h"
#include "../../phone/keyring.h"
#include "../../phone/operate.h"
#include "../support/test-stack.h"
#include "bench-stats.h"

#define SITE 1
#define GATEWAY 1
#define SPOT 101
#define ROUNDS 15
#define OWNER "+8613300000001"
#define FAMILY "+8613300000002"
#define REFUSAL_LIMIT_MS 10000

static struct stack s;

struct phone {
	struct stack_phone p;
	struct ctl_reader *r;
};

/* One request (consumed); dies unless it says ok. The reply, for the caller to free. */
static json_object *call(struct phone *ph, json_object *req)
{
	json_object *reply = NULL, *ok;
	char err[256];

	if (ctl_call(ph->r, req, &reply, 60000, err, sizeof(err)) != 0)
		stack_die("%s", err);
	if (!json_object_object_get_ex(reply, "ok", &ok) || !json_object_get_boolean(ok))
		stack_die("%s: %s", json_object_to_json_string(req),
			  json_object_to_json_string(reply));
	json_object_put(req);
	return reply;
}

static json_object *req(const char *cmd)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cmd", json_object_new_string(cmd));
	return o;
}

static json_object *with(json_object *o, const char *name, json_object *v)
{
	json_object_object_add(o, name, v);
	return o;
}

static void done(struct phone *ph, json_object *o)
{
	json_object_put(call(ph, o));
}

static void phone_up(struct phone *ph, const char *name, const char *number)
{
	int fd;

	stack_phoned(&s, &ph->p, name, NULL);
	fd = ctl_connect(ph->p.socket);
	ph->r = malloc(sizeof(*ph->r));
	if (fd < 0 || ph->r == NULL)
		stack_die("cannot reach parkphoned %s", name);
	ctl_reader_init(ph->r, fd);
	done(ph, with(with(req("login"), "phone", json_object_new_string(number)), "password",
		      json_object_new_string(STACK_PASSWORD)));
}

static void up(struct stack_garage *g)
{
	int64_t owner_id;

	stack_parkd(&s);
	owner_id = stack_register(&s, OWNER);
	stack_register(&s, FAMILY);
	memset(g, 0, sizeof(*g));
	g->site_id = SITE;
	g->first = SPOT;
	g->count = 1;
	g->travel_ms = 1;
	stack_site_up(&s, g, owner_id, GATEWAY);
}

/* The family's shared key and device key, as its daemon keeps them. */
static void family_key(const struct phone *ph, uint32_t share, struct phone_key *k,
		       EVP_PKEY **device)
{
	struct keyring *kr = calloc(1, sizeof(*kr));
	char path[2 * STACK_PATH_MAX], err[256];
	uint8_t pub[64];
	struct phone_key *held;

	snprintf(path, sizeof(path), "%s/device.key", ph->p.dir);
	*device = p256_load_private(path);
	if (kr == NULL || *device == NULL || p256_public_raw(*device, pub) != 0)
		stack_die("no device key in %s", ph->p.dir);
	snprintf(path, sizeof(path), "%s/keys.json", ph->p.dir);
	if (keyring_load(kr, path, pub, err, sizeof(err)) != 0 ||
	    (held = keyring_find(kr, share)) == NULL)
		stack_die("share %u is not in %s: %s", share, path, err);
	*k = *held;
	free(kr);
}

/* Asks the lock to raise with k until it refuses; the time that took, in ms. */
static double until_refused(const struct phone_key *k, EVP_PKEY *device, double t0)
{
	struct transport *t = transport_sim_new();
	struct operate_outcome res;

	while (stack_now_ms() - t0 < REFUSAL_LIMIT_MS) {
		if (phone_operate(t, NULL, k, device, PROTO_OP_LOCK, NULL, &res) != 0 &&
		    res.kind == OPERATE_REFUSED && res.lock_code == PROTO_E_REVOKED) {
			transport_free(t);
			return stack_now_ms() - t0;
		}
		usleep(10000);
	}
	stack_die("the lock still takes a revoked share after %d ms", REFUSAL_LIMIT_MS);
}

int main(int argc, char **argv)
{
	struct stack_garage g;
	struct phone owner, family;
	struct bench_stats first = { 0 }, refusal = { 0 };
	struct phone_key k;
	json_object *r, *res, *sh, *id;
	EVP_PKEY *device;
	uint32_t share;
	double t0;
	int i;

	(void)argc;
	stack_init(&s, "bench-share", argv[0]);
	up(&g);
	phone_up(&owner, "owner", OWNER);
	phone_up(&family, "family", FAMILY);
	done(&owner, with(req("key"), "spot", json_object_new_int64(SPOT)));
	done(&owner, with(req("unlock"), "spot", json_object_new_int64(SPOT)));
	done(&owner, with(req("lock"), "spot", json_object_new_int64(SPOT)));
	sleep(2); /* the gateway's start-up work settles */
	for (i = 0; i < ROUNDS; i++) {
		t0 = stack_now_ms();
		r = call(&owner, with(with(with(req("share"), "spot", json_object_new_int64(SPOT)),
					   "phone", json_object_new_string(FAMILY)), "mode",
				      json_object_new_string("co-share")));
		if (!json_object_object_get_ex(r, "result", &res) ||
		    !json_object_object_get_ex(res, "share", &sh) ||
		    !json_object_object_get_ex(sh, "share_id", &id))
			stack_die("no share in %s", json_object_to_json_string(r));
		share = (uint32_t)json_object_get_int64(id);
		json_object_put(r);
		done(&family, req("keys"));
		done(&family, with(req("unlock"), "spot", json_object_new_int64(SPOT)));
		bench_stats_add(&first, stack_now_ms() - t0);
		done(&family, with(req("lock"), "spot", json_object_new_int64(SPOT)));
		family_key(&family, share, &k, &device);
		t0 = stack_now_ms();
		done(&owner, with(req("revoke"), "id", json_object_new_int64(share)));
		bench_stats_add(&refusal, until_refused(&k, device, t0));
		EVP_PKEY_free(device);
	}
	printf("  share request to the recipient's first unlock, %d rounds: p50 %.0f ms, max "
	       "%.0f ms (target p50 <= 1000 ms)\n", ROUNDS, bench_stats_pct(&first, 50),
	       bench_stats_max(&first));
	printf("  revocation to the lock refusing the share, through the gateway: p50 %.0f ms, "
	       "p99 %.0f ms (target p99 <= 2000 ms)\n", bench_stats_pct(&refusal, 50),
	       bench_stats_pct(&refusal, 99));
	bench_stats_free(&first);
	bench_stats_free(&refusal);
	return 0;
}
