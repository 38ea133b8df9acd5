/*
 * test-sharing.c: sharing, revocation and owner control (claims 5-7, patent [0034],
 * [0044]-[0046], [0052]), black box over loopback with the real parkd, parkgw,
 * parklockd and a parkphoned per person, driven through the real parkctl. An owner
 * co-shares with family and the family's limits hold at the lock; a renter transfers
 * to the next renter and the old key is refused by the lock even when presented by a
 * client that skips the phone's checks; a device that is not the recipient is refused;
 * shares without the right or wider than their parent are refused with nothing stored;
 * a share that needs approval waits for the owner, and a refused one never reaches the
 * lock; with the gateway stopped a phone that synced carries the revocation list to the
 * lock, which refuses the revoked share, and an older list is ignored; one-time codes:
 * enrolment, and missing, wrong and replayed codes refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "../../lib/hex.h"
#include "../../lib/lockconn.h"
#include "../../lib/p256.h"
#include "../../lib/transport.h"
#include "../../phone/keyring.h"
#include "../../phone/operate.h"
#include "../../phone/revlist.h"
#include "../support/test-proc.h"
#include "../support/test-stack.h"
#include "../support/test-totp.h"

#define SITE 1
#define GATEWAY 1
#define FIRST_SPOT 101
#define SPOTS 4
#define SPOT_FAMILY 101   /* the owner's, co-shared with family */
#define SPOT_TRANSFER 102 /* a renter's, handed to the next renter */
#define SPOT_NO_SHARE 103 /* renters may not share */
#define SPOT_APPROVAL 104 /* shares need the owner's approval */
#define OWNER "+8613400000001"
#define FAMILY "+8613400000002"
#define RENTER1 "+8613400000003"
#define RENTER2 "+8613400000004"
#define OUT_MAX 65536

static struct stack s;
static struct stack_garage g;
static struct stack_phone owner, family, renter1, renter2;
static char out[OUT_MAX], pwfile[STACK_PATH_MAX];
static const char *argv0;
static long family_share, transfer_share;

/* ---- helpers ---- */

#define CTL(p, ...) ctl(p, #p, (const char *const[]){ __VA_ARGS__, NULL })

static int ctl(const struct stack_phone *p, const char *who, const char *const *args)
{
	int r = stack_parkctl(&s, p, out, sizeof(out), args);

	fprintf(stderr, "test-sharing: %s: parkctl %s %s %s -> %d: %.600s", who, args[0],
		args[1] != NULL ? args[1] : "", args[1] != NULL && args[2] != NULL ? args[2] : "",
		r, out);
	return r;
}

static const char *world(const char *cmd)
{
	static char reply[8192];

	if (stack_world(&g, cmd, reply, sizeof(reply)) != 0)
		fail_msg("no world reply to '%s'", cmd);
	return reply;
}

static long lock_num(uint32_t spot, const char *key)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "%u state", spot);
	return test_json_num(world(cmd), key);
}

static bool spot_locked(uint32_t spot)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "%u state", spot);
	return test_json_true(world(cmd), "locked");
}

/* The number after "key" in out (a --json reply), or -1. */
static long out_num(const char *key)
{
	return test_json_num(out, key);
}

/* Unlocks, then locks again, through parkctl; both must work. */
static void open_and_close(const struct stack_phone *p, const char *spot)
{
	uint32_t n = (uint32_t)atoi(spot);

	assert_int_equal(CTL(p, "unlock", spot), 0);
	assert_false(spot_locked(n));
	assert_int_equal(CTL(p, "lock", spot), 0);
	assert_true(spot_locked(n));
}

/* A copy of p's keyring and device key as they are now, for a client that skips checks. */
struct held {
	struct keyring *kr;
	EVP_PKEY *device;
};

static void hold(const struct stack_phone *p, struct held *h)
{
	char path[2 * STACK_PATH_MAX], err[256];
	uint8_t pub[64];

	h->kr = calloc(1, sizeof(*h->kr));
	assert_non_null(h->kr);
	snprintf(path, sizeof(path), "%s/device.key", p->dir);
	h->device = p256_load_private(path);
	assert_non_null(h->device);
	assert_int_equal(p256_public_raw(h->device, pub), 0);
	snprintf(path, sizeof(path), "%s/keys.json", p->dir);
	assert_int_equal(keyring_load(h->kr, path, pub, err, sizeof(err)), 0);
}

static void release(struct held *h)
{
	free(h->kr);
	EVP_PKEY_free(h->device);
}

/* Presents k to its lock with `device`, skipping every phone-side check: the lock's code. */
static int forced(const struct phone_key *k, EVP_PKEY *device)
{
	struct operate_outcome res;
	struct transport *t = transport_sim_new();
	int r;

	assert_non_null(t);
	r = phone_operate(t, NULL, k, device, PROTO_OP_UNLOCK, NULL, &res);
	transport_free(t);
	if (r == 0)
		return PROTO_OK;
	assert_int_equal(res.kind, OPERATE_REFUSED);
	return res.lock_code;
}

static void sync_keys(const struct stack_phone *p)
{
	assert_int_equal(ctl(p, "phone", (const char *const[]){ "keys", NULL }), 0);
}

/* ---- set-up ---- */

static int setup(void **state)
{
	int64_t owner_id;

	(void)state;
	stack_init(&s, "test-sharing", argv0);
	stack_parkd(&s);
	owner_id = stack_register(&s, OWNER);
	stack_register(&s, FAMILY);
	stack_register(&s, RENTER1);
	stack_register(&s, RENTER2);
	memset(&g, 0, sizeof(g));
	g.site_id = SITE;
	g.first = FIRST_SPOT;
	g.count = SPOTS;
	g.travel_ms = 50;
	stack_site_up(&s, &g, owner_id, GATEWAY);
	stack_phoned(&s, &owner, "owner", NULL);
	stack_phoned(&s, &family, "family", NULL);
	stack_phoned(&s, &renter1, "renter1", NULL);
	stack_phoned(&s, &renter2, "renter2", NULL);
	stack_password_file(&s, pwfile, sizeof(pwfile));
	return 0;
}

/* ---- tests ---- */

static void test_log_in_and_rules(void **state)
{
	(void)state;
	assert_int_equal(CTL(&owner, "login", OWNER, "--password-file", pwfile), 0);
	assert_int_equal(CTL(&family, "login", FAMILY, "--password-file", pwfile), 0);
	assert_int_equal(CTL(&renter1, "login", RENTER1, "--password-file", pwfile), 0);
	assert_int_equal(CTL(&renter2, "login", RENTER2, "--password-file", pwfile), 0);
	/* The owner's rules: renters may share 102 and 104; 104's shares need approval. */
	assert_int_equal(CTL(&owner, "policy", "102", "--renters-share", "yes"), 0);
	assert_int_equal(CTL(&owner, "--json", "policy", "104", "--renters-share", "yes",
			     "--approval", "yes"), 0);
	assert_non_null(strstr(out, "\"require_share_approval\":true"));
	/* Not the owner: refused, nothing changed. */
	assert_int_equal(CTL(&renter1, "--json", "policy", "103", "--renters-share", "yes"), 1);
	assert_int_equal(CTL(&owner, "--json", "policy", "103"), 0);
	assert_non_null(strstr(out, "\"renters_may_share\":false"));
}

static void test_co_share_with_family(void **state)
{
	struct held h;
	struct phone_key *k;

	(void)state;
	assert_int_equal(CTL(&owner, "key", "101"), 0);
	assert_int_equal(CTL(&owner, "--json", "share", "101", FAMILY, "--uses", "2"), 0);
	family_share = out_num("share_id");
	assert_true(family_share > 0);
	sync_keys(&family);
	/* Both unlock; the family's two unlocks are all it has. */
	open_and_close(&family, "101");
	open_and_close(&owner, "101");
	open_and_close(&family, "101");
	assert_int_equal(CTL(&family, "--json", "unlock", "101"), 1);
	assert_non_null(strstr(out, "\"key_used_up\""));
	/* Forced past the phone: the lock holds the limit too. */
	hold(&family, &h);
	k = keyring_find(h.kr, (uint32_t)family_share);
	assert_non_null(k);
	assert_true(k->shared);
	assert_int_equal(forced(k, h.device), PROTO_E_USED_UP);
	assert_true(spot_locked(SPOT_FAMILY));
	release(&h);
	open_and_close(&owner, "101");
}

static void test_transfer_to_next_renter(void **state)
{
	struct held before, h2;
	struct phone_key *old;
	EVP_PKEY *stranger;

	(void)state;
	assert_int_equal(CTL(&renter1, "key", "102"), 0);
	open_and_close(&renter1, "102");
	hold(&renter1, &before);
	assert_int_equal(CTL(&renter1, "--json", "share", "102", RENTER2, "--transfer"), 0);
	transfer_share = out_num("share_id");
	assert_true(transfer_share > 0);
	sync_keys(&renter2);
	open_and_close(&renter2, "102");
	/* The first renter's key is gone from their phone, and refused by the lock. */
	sync_keys(&renter1);
	assert_int_equal(CTL(&renter1, "--json", "unlock", "102"), 1);
	assert_non_null(strstr(out, "\"no_key\""));
	old = keyring_for_spot(before.kr, SPOT_TRANSFER, (uint32_t)time(NULL));
	assert_non_null(old);
	assert_false(old->shared);
	assert_int_equal(forced(old, before.device), PROTO_E_TRANSFERRED);
	assert_true(spot_locked(SPOT_TRANSFER));
	/* The shared key from a device that is not the recipient's: refused. */
	hold(&renter2, &h2);
	stranger = p256_generate();
	assert_non_null(stranger);
	assert_int_equal(forced(keyring_find(h2.kr, (uint32_t)transfer_share), stranger),
			 PROTO_E_DEVICE_SIG);
	assert_true(spot_locked(SPOT_TRANSFER));
	EVP_PKEY_free(stranger);
	release(&h2);
	release(&before);
}

static void test_refused_shares_store_nothing(void **state)
{
	char shares_before[OUT_MAX];

	(void)state;
	assert_int_equal(CTL(&owner, "--json", "shares"), 0);
	snprintf(shares_before, sizeof(shares_before), "%s", out);
	/* No right: renters may not share 103. */
	assert_int_equal(CTL(&renter1, "key", "103"), 0);
	assert_int_equal(CTL(&renter1, "--json", "share", "103", FAMILY), 1);
	assert_non_null(strstr(out, "\"not_allowed\""));
	/* A shared key is not shared again unless its sharer allowed it. */
	assert_int_equal(CTL(&renter2, "--json", "share", "102", FAMILY), 1);
	assert_non_null(strstr(out, "\"not_allowed\""));
	/* Wider than its parent: renters' keys for 104 allow five unlocks. */
	assert_int_equal(CTL(&owner, "policy", "104", "--key-uses", "5"), 0);
	assert_int_equal(CTL(&renter1, "key", "104"), 0);
	assert_int_equal(CTL(&renter1, "--json", "share", "104", FAMILY, "--uses", "10"), 1);
	assert_non_null(strstr(out, "\"too_wide\""));
	assert_int_equal(CTL(&owner, "--json", "shares"), 0);
	assert_string_equal(out, shares_before);
}

/* What the owner's event stream said of shares: each "share" event's share_id and state. */
struct share_news {
	pthread_mutex_t mu;
	long ids[16];
	char states[16][24];
	int n;
};

static int on_share_news(void *arg, const char *event, const char *data)
{
	struct share_news *w = arg;
	json_object *o;

	if (strcmp(event, "share") != 0 || (o = json_tokener_parse(data)) == NULL)
		return 0;
	pthread_mutex_lock(&w->mu);
	if (w->n < 16) {
		w->ids[w->n] = (long)json_object_get_int64(json_object_object_get(o, "share_id"));
		snprintf(w->states[w->n], sizeof(w->states[0]), "%s",
			 json_object_get_string(json_object_object_get(o, "state")));
		w->n++;
	}
	pthread_mutex_unlock(&w->mu);
	json_object_put(o);
	return 0;
}

/* Whether the owner's stream said share `id` went to `state`, waiting up to 5 s. */
static bool share_news_has(struct share_news *w, long id, const char *state)
{
	double end = stack_now_ms() + 5000;
	bool found = false;
	int i;

	while (!found && stack_now_ms() < end) {
		pthread_mutex_lock(&w->mu);
		for (i = 0; i < w->n; i++)
			found |= w->ids[i] == id && strcmp(w->states[i], state) == 0;
		pthread_mutex_unlock(&w->mu);
		if (!found)
			test_sleep_ms(20);
	}
	return found;
}

static void test_approval(void **state)
{
	static struct share_news news = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct stack_stream stream;
	char token[160];
	long pending, refused, shares_at_lock;

	(void)state;
	/* The owner's screens learn of every change of a share on the spot's stream. */
	stack_login(&s, OWNER, token, sizeof(token));
	memset(&stream, 0, sizeof(stream));
	stack_stream_start(&s, &stream, token, "/v1/events", on_share_news, &news);
	shares_at_lock = lock_num(SPOT_APPROVAL, "shares");
	assert_int_equal(CTL(&renter1, "--json", "share", "104", RENTER2), 0);
	assert_non_null(strstr(out, "\"pending_approval\""));
	pending = out_num("share_id");
	/* Pending: the recipient has nothing yet. */
	sync_keys(&renter2);
	assert_int_equal(CTL(&renter2, "--json", "unlock", "104"), 1);
	assert_non_null(strstr(out, "\"no_key\""));
	/* The owner approves; the recipient then opens. */
	{
		char id[24];

		snprintf(id, sizeof(id), "%ld", pending);
		assert_int_equal(CTL(&owner, "approve", id), 0);
	}
	sync_keys(&renter2);
	open_and_close(&renter2, "104");
	/* A refused share never reaches the lock. */
	assert_int_equal(CTL(&renter1, "--json", "share", "104", FAMILY), 0);
	refused = out_num("share_id");
	{
		char id[24];

		snprintf(id, sizeof(id), "%ld", refused);
		assert_int_equal(CTL(&owner, "deny", id), 0);
	}
	sync_keys(&family);
	assert_int_equal(CTL(&family, "--json", "unlock", "104"), 1);
	test_sleep_ms(1000);
	assert_int_equal(lock_num(SPOT_APPROVAL, "shares"), shares_at_lock + 1);
	assert_true(share_news_has(&news, pending, "pending_approval"));
	assert_true(share_news_has(&news, pending, "offered"));
	assert_true(share_news_has(&news, refused, "pending_approval"));
	assert_true(share_news_has(&news, refused, "refused"));
	/* The owner removes the refused share: listed nowhere, and the stream says so. */
	{
		char id[24];

		snprintf(id, sizeof(id), "%ld", refused);
		assert_int_equal(CTL(&owner, "revoke", id), 0);
	}
	assert_true(share_news_has(&news, refused, "removed"));
	stack_stream_stop(&stream);
}

/* The site's list as a phone holds it now (revocations.json), into *r. */
static void phone_lists(const struct stack_phone *p, struct revlist *r)
{
	char path[2 * STACK_PATH_MAX], err[256];

	snprintf(path, sizeof(path), "%s/revocations.json", p->dir);
	assert_int_equal(revlist_load(r, path, err, sizeof(err)), 0);
}

static void test_revocation_carried_by_a_phone(void **state)
{
	struct revlist *older = calloc(1, sizeof(*older)), *now = calloc(1, sizeof(*now));
	uint8_t reply[PROTO_FRAME_MAX];
	struct lockconn c;
	struct proto_msg m;
	struct held h;
	char id[24], path[STACK_PATH_MAX];
	int n;

	(void)state;
	assert_non_null(older);
	assert_non_null(now);
	snprintf(id, sizeof(id), "%ld", family_share);
	/* A first list (the share frozen, then thawed), which the owner's phone keeps. */
	assert_int_equal(CTL(&owner, "freeze", id), 0);
	assert_int_equal(CTL(&owner, "unfreeze", id), 0);
	sync_keys(&owner);
	phone_lists(&owner, older);
	assert_int_equal(older->nsites, 1);
	hold(&family, &h);
	/* The gateway is down; the owner revokes the family's share. */
	assert_int_equal(test_stop(&s.gateways[0], SIGTERM), 0);
	assert_int_equal(CTL(&owner, "revoke", id), 0);
	/* The owner's phone syncs, and hands the list to the lock on its next unlock. */
	sync_keys(&owner);
	phone_lists(&owner, now);
	assert_true(now->sites[0].serial > older->sites[0].serial);
	open_and_close(&owner, "101");
	assert_int_equal(forced(keyring_find(h.kr, (uint32_t)family_share), h.device),
			 PROTO_E_REVOKED);
	/* An older list is ignored: the share stays revoked. */
	snprintf(path, sizeof(path), "%s/0/101.sock", s.dir);
	assert_int_equal(lockconn_open_sim(&c, path), 0);
	assert_int_equal(lockconn_hello(&c, PROTO_MTU_MAX, NULL, 5000), 0);
	n = lockconn_request(&c, older->sites[0].frame, older->sites[0].len, reply, sizeof(reply),
			     5000);
	assert_true(n > 0);
	assert_int_equal(proto_decode(reply, (size_t)n, &m), 0);
	assert_true((m.type == PROTO_MGMT_ACK && m.u.ack.result == PROTO_E_STALE) ||
		    (m.type == PROTO_ERROR && m.u.error.code == PROTO_E_STALE));
	lockconn_close(&c);
	assert_int_equal(forced(keyring_find(h.kr, (uint32_t)family_share), h.device),
			 PROTO_E_REVOKED);
	release(&h);
	free(older);
	free(now);
	stack_gateway(&s, 0, GATEWAY);
}

static void test_one_time_codes(void **state)
{
	char secret[128], code[7], wrong[12], id[24];
	const char *p, *e;

	(void)state;
	assert_int_equal(CTL(&owner, "--json", "otp", "enrol"), 0);
	p = strstr(out, "\"secret\":\"");
	assert_non_null(p);
	p += 10;
	e = strchr(p, '"');
	assert_non_null(e);
	snprintf(secret, sizeof(secret), "%.*s", (int)(e - p), p);
	assert_non_null(strstr(out, "otpauth://totp/"));
	/* A wrong code does not confirm; the right one does. */
	assert_int_equal(test_totp(secret, time(NULL), code), 0);
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 1) % 1000000);
	assert_int_equal(CTL(&owner, "otp", "confirm", wrong), 1);
	assert_int_equal(CTL(&owner, "otp", "confirm", code), 0);
	/* Manager actions now need a current code: missing, wrong, then right, then replayed. */
	snprintf(id, sizeof(id), "%ld", transfer_share);
	assert_int_equal(CTL(&owner, "--json", "freeze", id), 1);
	assert_non_null(strstr(out, "\"otp_required\""));
	assert_int_equal(CTL(&owner, "--json", "freeze", id, "--otp", wrong), 1);
	assert_non_null(strstr(out, "\"otp_wrong\""));
	/* The confirm used this step's code; the next step's is fresh, and within the
	 * one-step window the server allows for clocks apart. */
	assert_int_equal(test_totp(secret, time(NULL) + 30, code), 0);
	assert_int_equal(CTL(&owner, "--json", "freeze", id, "--otp", code), 0);
	assert_int_equal(CTL(&owner, "--json", "unfreeze", id, "--otp", code), 1);
	assert_non_null(strstr(out, "\"otp_replayed\""));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_in_and_rules),
		cmocka_unit_test(test_co_share_with_family),
		cmocka_unit_test(test_transfer_to_next_renter),
		cmocka_unit_test(test_refused_shares_store_nothing),
		cmocka_unit_test(test_approval),
		cmocka_unit_test(test_revocation_carried_by_a_phone),
		cmocka_unit_test(test_one_time_codes),
	};

	(void)argc;
	argv0 = argv[0];
	return cmocka_run_group_tests_name("sharing", tests, setup, NULL);
}
