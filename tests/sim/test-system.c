/*
 * test-system.c: the whole system, black box, over loopback: the real parkd, parkgw and
 * parklockd (env PARKD, PARKGW, PARKLOCKD, else beside this test) in a temporary
 * directory. An installer's order: factory-fresh locks, the server and an admin, the
 * site imported with the locks' and the gateway's keys, each lock provisioned over the
 * sim transport, then the gateway. Each fresh lock gets the site-signed time queued at
 * the import within 5 s; a driver's e-key reaches the lock within 5 s and opens it from
 * the driver's device, not from another; a car reaches the event stream and the
 * notification hook once; with parkd down for a while every event still arrives once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "../../lib/apiclient.h"
#include "../../lib/ecies.h"
#include "../../lib/hex.h"
#include "../../lib/p256.h"
#include "../../lib/signer.h"
#include "../../lib/lockconn.h"
#include "../../server/db.h"
#include "../support/test-authority.h"
#include "../support/test-proc.h"

#define SITE_ID 1
#define GATEWAY_ID 1
#define SPOT_DRIVER 101 /* the driver's spot */
#define SPOT_OWNED 102  /* the admin owns it: its events notify */
#define ADMIN_PHONE "+8613800000000"
#define DRIVER_PHONE "+8613800000042"
#define PASSWORD "correct horse battery"
#define WAIT_MS 10000
#define CRED_BOUND_MS 5000

static char parkd[512], parkgw[512], parklockd[512];
static char dir[64], lockdir[128], gwdir[128], pkdir[128], worldsock[160];
static char garage[160], pkconf[160], smsfile[160], notefile[160];
static char lock_log[160], pk_log[160], gw_log[160];
static pid_t lock_pid = -1, pk_pid = -1, gw_pid = -1;
static int port;
static char base[64];
static struct apiclient *admin, *driver;
static int64_t admin_id, driver_id;
static EVP_PKEY *device, *other_device;
static uint8_t ekey[PROTO_EKEY_LEN];
static uint32_t key_id;

/* ---- helpers ---- */

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static const char *world(const char *cmd)
{
	static char reply[8192];

	if (test_world(worldsock, cmd, reply, sizeof(reply)) != 0)
		fail_msg("no world reply to '%s'", cmd);
	return reply;
}

static long lock_state(uint32_t spot, const char *key)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "%u state", spot);
	return test_json_num(world(cmd), key);
}

/* Calls the API; returns the HTTP status (or the negative error) with *reply (may be NULL). */
static int call(struct apiclient *c, const char *method, const char *path, const char *body,
		json_object **reply)
{
	struct apiclient_error e;
	json_object *b = body != NULL ? json_tokener_parse(body) : NULL;
	int r;

	if (body != NULL)
		assert_non_null(b);
	r = apiclient_call(c, method, path, b, 0, 0, reply, &e);
	json_object_put(b);
	if (r == -APICLIENT_E_HTTP) {
		fprintf(stderr, "test-system: %s %s: %d %s: %s\n", method, path, e.status, e.code,
			e.detail);
		return e.status;
	}
	return r;
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		fail_msg("no %s in %s", key, o != NULL ? json_object_to_json_string(o) : "(null)");
	return json_object_get_int64(v);
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		fail_msg("no string %s in %s", key,
			 o != NULL ? json_object_to_json_string(o) : "-");
	return json_object_get_string(v);
}

static struct apiclient *client(const atomic_int *cancel)
{
	struct apiclient_opts o;
	struct apiclient *c;

	memset(&o, 0, sizeof(o));
	o.base_url = base;
	o.timeout_ms = 15000;
	o.cancel = cancel;
	c = apiclient_new(&o);
	assert_non_null(c);
	return c;
}

/* Logs in; returns the session's client (its requests stop when *cancel rises). */
static struct apiclient *login(const char *phone, const atomic_int *cancel)
{
	struct apiclient *c = client(cancel);
	json_object *r = NULL;
	char body[160];

	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"password\":\"%s\"}", phone, PASSWORD);
	assert_int_equal(call(c, "POST", "/v1/sessions", body, &r), 201);
	assert_int_equal(apiclient_set_token(c, get_str(r, "token")), 0);
	json_object_put(r);
	return c;
}

/* Starts parkd (on `port` when it is set, else on a free one it reports). */
static void start_parkd(void)
{
	char listen[64], text[65536];
	const char *args[] = { "--config", pkconf, "--listen", listen, NULL };
	const char *p;
	int64_t end = test_ms_now() + WAIT_MS;
	size_t before;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	before = test_read_file(pk_log, text, sizeof(text));
	pk_pid = test_spawn(parkd, args, pk_log, pk_log);
	while (test_ms_now() < end) {
		test_read_file(pk_log, text, sizeof(text));
		p = strlen(text) > before ? strstr(text + before, " port ") : NULL;
		if (p != NULL && strstr(p, "routes") != NULL) {
			port = atoi(p + 6);
			snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
			return;
		}
		if (test_exited(pk_pid))
			fail_msg("parkd exited at start; see %s", pk_log);
		test_sleep_ms(20);
	}
	fail_msg("parkd did not start; see %s", pk_log);
}

/* ---- the event stream subscriber ---- */

struct subscriber {
	pthread_t thread;
	struct apiclient *c;
	atomic_int cancel;
	atomic_int ready;
	pthread_mutex_t mu;
	char path[96];          /* the stream's; "/v1/events?site=1" when empty */
	char kinds[64][32];
	int64_t spots[64], seqs[64], ids[64];
	bool replayed[64];      /* marked "replayed" by the server */
	int n;
	char resets[8][128];    /* the data of "reset" events */
	int nresets;
};

static struct subscriber sub;

static int on_event(void *arg, const char *event, const char *data)
{
	struct subscriber *s = arg;
	json_object *j;

	if (strcmp(event, "ready") == 0) {
		atomic_store(&s->ready, 1);
		return 0;
	}
	if (strcmp(event, "reset") == 0) {
		pthread_mutex_lock(&s->mu);
		if (s->nresets < 8)
			snprintf(s->resets[s->nresets++], sizeof(s->resets[0]), "%s", data);
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	j = json_tokener_parse(data);
	if (j == NULL)
		return 0;
	pthread_mutex_lock(&s->mu);
	if (s->n < 64) {
		snprintf(s->kinds[s->n], sizeof(s->kinds[0]), "%s", get_str(j, "kind"));
		s->spots[s->n] = get_int(j, "spot");
		/* A lock's event has its sequence; "online" and "offline" are the server's. */
		s->seqs[s->n] = json_object_object_get_ex(j, "seq", NULL) ? get_int(j, "seq") : 0;
		s->ids[s->n] = json_object_object_get_ex(j, "id", NULL) ? get_int(j, "id") : 0;
		s->replayed[s->n] = json_object_object_get_ex(j, "replayed", NULL) &&
				    json_object_get_boolean(json_object_object_get(j, "replayed"));
		s->n++;
	}
	pthread_mutex_unlock(&s->mu);
	json_object_put(j);
	return 0;
}

static void *subscriber_main(void *arg)
{
	struct subscriber *s = arg;
	struct apiclient_error e;

	(void)apiclient_stream(s->c, s->path[0] != '\0' ? s->path : "/v1/events?site=1", 0,
			       on_event, s, &e);
	return NULL;
}

static int seen(const char *kind, int64_t spot)
{
	int i, n = 0;

	pthread_mutex_lock(&sub.mu);
	for (i = 0; i < sub.n; i++)
		n += strcmp(sub.kinds[i], kind) == 0 && sub.spots[i] == spot;
	pthread_mutex_unlock(&sub.mu);
	return n;
}

/* Lines of the notification file that carry `kind` for `spot`. */
static int notified(const char *kind, int64_t spot)
{
	char text[65536], pat[96], *line, *save = NULL;
	int n = 0;

	test_read_file(notefile, text, sizeof(text));
	snprintf(pat, sizeof(pat), "\"spot\":%lld,", (long long)spot);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char k[48];

		snprintf(k, sizeof(k), "\"kind\":\"%s\"", kind);
		n += strstr(line, k) != NULL && strstr(line, pat) != NULL;
	}
	return n;
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
	char text[1024];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/test-system.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(lockdir, sizeof(lockdir), "%s/locks", dir);
	snprintf(gwdir, sizeof(gwdir), "%s/gw", dir);
	snprintf(pkdir, sizeof(pkdir), "%s/parkd", dir);
	snprintf(worldsock, sizeof(worldsock), "%s/world.sock", lockdir);
	snprintf(garage, sizeof(garage), "%s/garage.conf", dir);
	snprintf(pkconf, sizeof(pkconf), "%s/parkd.conf", dir);
	snprintf(smsfile, sizeof(smsfile), "%s/sms.txt", dir);
	snprintf(notefile, sizeof(notefile), "%s/notify.jsonl", dir);
	snprintf(lock_log, sizeof(lock_log), "%s/parklockd.log", dir);
	snprintf(pk_log, sizeof(pk_log), "%s/parkd.log", dir);
	snprintf(gw_log, sizeof(gw_log), "%s/parkgw.log", dir);
	/* Factory-fresh locks: no site key yet, it is made by parkd at import. */
	snprintf(text, sizeof(text), "site %d\ndir %s\nlock 101 B1-01\nlock 102 B1-02\n", SITE_ID,
		 lockdir);
	write_text(garage, text);
	snprintf(text, sizeof(text), "data_dir = %s\nsms_sender = file:%s\nnotify_hook = file:%s\n"
		 "password_cost = test\nlog_level = debug\nstream_replay_max = 8\n", pkdir, smsfile,
		 notefile);
	write_text(pkconf, text);
	pthread_mutex_init(&sub.mu, NULL);
	fprintf(stderr, "test-system: %s, %s, %s in %s\n", parkd, parkgw, parklockd, dir);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (sub.c != NULL) {
		atomic_store(&sub.cancel, 1);
		pthread_join(sub.thread, NULL);
		apiclient_free(sub.c);
	}
	apiclient_free(admin);
	apiclient_free(driver);
	EVP_PKEY_free(device);
	EVP_PKEY_free(other_device);
	test_stop(&gw_pid, SIGKILL);
	test_stop(&pk_pid, SIGKILL);
	test_stop(&lock_pid, SIGKILL);
	if (getenv("KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return 0;
}

/* ---- the installer ---- */

/* A site description for the two locks and the gateway, with the admin owning 102. */
static char *site_description(const char *gw_pub)
{
	char pub[2][129], path[200], *text;
	uint8_t raw[64];
	int i, n;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%d.pub", lockdir, 101 + i);
		assert_int_equal(p256_load_public_hex(path, raw), 0);
		hex_encode(raw, 64, pub[i], sizeof(pub[i]));
	}
	text = malloc(4096);
	assert_non_null(text);
	n = snprintf(text, 4096,
		 "{\"site_id\":%d,\"name\":\"System test garage\","
		 "\"levels\":[{\"id\":\"B1\",\"name\":\"Basement 1\",\"width\":60,\"height\":24}],"
		 "\"nodes\":[{\"id\":\"E\",\"level\":\"B1\",\"x\":0,\"y\":12,"
		 "\"kind\":\"entrance\"},"
		 "{\"id\":\"J1\",\"level\":\"B1\",\"x\":10,\"y\":12,\"kind\":\"junction\"},"
		 "{\"id\":\"X\",\"level\":\"B1\",\"x\":60,\"y\":12,\"kind\":\"exit\"}],"
		 "\"lanes\":[[\"E\",\"J1\"],[\"J1\",\"X\"]],"
		 "\"spots\":[{\"id\":101,\"name\":\"B1-01\",\"level\":\"B1\",\"x\":5,\"y\":20,"
		 "\"node\":\"J1\",\"policy\":\"anyone\",\"lock\":{\"address\":\"%s/101.sock\","
		 "\"device_pub\":\"%s\"}},"
		 "{\"id\":102,\"name\":\"B1-02\",\"level\":\"B1\",\"x\":10,\"y\":20,"
		 "\"node\":\"J1\",\"owner\":%lld,\"lock\":{\"address\":\"%s/102.sock\","
		 "\"device_pub\":\"%s\"}}],"
		 "\"gateways\":[{\"id\":%d,\"name\":\"gw-B1\",\"public_key\":\"%s\","
		 "\"covers\":[101,102]}]}",
		 SITE_ID, lockdir, pub[0], (long long)admin_id, lockdir, pub[1], GATEWAY_ID,
		 gw_pub);
	assert_true(n > 0 && n < 4096);
	return text;
}

/* Sends PROVISION to a factory-fresh lock over the sim transport, as the installer tool. */
static void provision(uint32_t spot, const uint8_t site_pub[64])
{
	uint8_t frame[PROTO_FRAME_MAX], reply[PROTO_FRAME_MAX];
	char path[200];
	struct lockconn l;
	struct proto_msg m;
	size_t len;
	int n;

	snprintf(path, sizeof(path), "%s/%u.sock", lockdir, spot);
	assert_int_equal(lockconn_open_sim(&l, path), 0);
	assert_int_equal(lockconn_hello(&l, PROTO_MTU_MAX, &m.u.info, WAIT_MS), 0);
	assert_int_equal(m.u.info.flags & PROTO_INFO_PROVISIONED, 0);
	len = test_frame_provision(SITE_ID, spot, site_pub, frame, sizeof(frame));
	n = lockconn_request(&l, frame, len, reply, sizeof(reply), WAIT_MS);
	assert_true(n > 0);
	assert_int_equal(proto_decode(reply, (size_t)n, &m), 0);
	assert_int_equal(m.type, PROTO_INFO);
	assert_true(m.u.info.flags & PROTO_INFO_PROVISIONED);
	assert_int_equal(m.u.info.spot_id, spot);
	assert_int_equal(m.u.info.site_id, SITE_ID);
	lockconn_close(&l);
}

static void test_install(void **state)
{
	char out[512], path[200], gw_pub[129], url[64];
	const char *lock_args[] = { "--log-level", "debug", garage, NULL };
	const char *key_args[] = { "--data-dir", gwdir, "--print-key", NULL };
	const char *admin_args[] = { parkd, "--config", pkconf, "admin-create", ADMIN_PHONE,
				     NULL };
	const char *gw_args[] = { "--server", url, "--data-dir", gwdir, "--id", "1",
				  "--poll-wait", "5", "--log-level", "debug", NULL };
	json_object *r = NULL, *locks;
	uint8_t site_pub[64];
	char *desc;
	int fds[2];
	pid_t pid;

	(void)state;
	/* Factory-fresh locks write their device keys for the site description. */
	lock_pid = test_spawn(parklockd, lock_args, lock_log, lock_log);
	assert_true(test_wait_socket(worldsock, WAIT_MS));
	assert_false(test_json_true(world("101 state"), "provisioned"));

	/* The gateway's key pair, made by the gateway itself. */
	snprintf(path, sizeof(path), "%s/key.out", dir);
	assert_int_equal(test_wait_exit(test_spawn(parkgw, key_args, path, gw_log), WAIT_MS), 0);
	test_read_file(path, out, sizeof(out));
	assert_int_equal(strlen(out), 129);
	snprintf(gw_pub, sizeof(gw_pub), "%.128s", out);

	/* The server and its first administrator (password on standard input). */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(pk_log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fds[0], STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fds[1]);
		execv(parkd, (char *const *)(uintptr_t)admin_args);
		_exit(127);
	}
	close(fds[0]);
	assert_int_equal(write(fds[1], PASSWORD "\n", strlen(PASSWORD) + 1),
			 (ssize_t)strlen(PASSWORD) + 1);
	close(fds[1]);
	assert_int_equal(test_wait_exit(pid, WAIT_MS), 0);
	start_parkd();
	admin = login(ADMIN_PHONE, NULL);
	assert_int_equal(call(admin, "GET", "/v1/me", NULL, &r), 200);
	admin_id = get_int(r, "user_id");
	json_object_put(r);

	/* The site, with the locks' and the gateway's public keys. */
	desc = site_description(gw_pub);
	assert_int_equal(call(admin, "POST", "/v1/sites", desc, &r), 201);
	free(desc);
	assert_int_equal(get_int(r, "site_id"), SITE_ID);
	json_object_put(r);

	/* The installer loads each lock. */
	assert_int_equal(call(admin, "GET", "/v1/sites/1/provisioning", NULL, &r), 200);
	assert_int_equal(hex_decode(get_str(r, "site_public_key"), site_pub, sizeof(site_pub)), 64);
	assert_true(json_object_object_get_ex(r, "locks", &locks));
	assert_int_equal(json_object_array_length(locks), 2);
	json_object_put(r);
	provision(101, site_pub);
	provision(102, site_pub);
	assert_true(test_json_true(world("101 state"), "provisioned"));

	/* And the gateway. */
	snprintf(url, sizeof(url), "%s", base);
	gw_pid = test_spawn(parkgw, gw_args, gw_log, gw_log);
	test_sleep_ms(100);
	assert_false(test_exited(gw_pid));
}

/* ---- the locks' time and reach ---- */

/* The single integer `sql` finds in parkd's database. */
static int64_t parkd_int(const char *sql)
{
	char url[200];
	const char *err = NULL;
	struct db *db;
	struct db_stmt *st;
	int64_t v;

	snprintf(url, sizeof(url), "sqlite:%s/parkd.db", pkdir);
	db = db_open(url, &err);
	assert_non_null(db);
	st = db_prepare(db, sql);
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	v = db_col_int(st, 0);
	db_finalize(st);
	db_close(db);
	return v;
}

static void test_fresh_lock_gets_time(void **state)
{
	int64_t t0 = test_ms_now();
	long t;
	int i;

	(void)state;
	/* The SET_TIMEs queued at the import, through the gateway as soon as it runs. */
	for (i = 0; i < 2; i++) {
		while (lock_state(101 + i, "time") == 0 && test_ms_now() - t0 < CRED_BOUND_MS)
			test_sleep_ms(20);
		t = lock_state(101 + i, "time");
		assert_true(t > 0);
		assert_true(labs(t - (long)time(NULL)) < 60);
	}
	fprintf(stderr, "test-system: both locks had the server's time after %lld ms\n",
		(long long)(test_ms_now() - t0));
	/* The gateway told parkd it reaches both, and the locks' acks came back. */
	while ((parkd_int("SELECT COUNT(*) FROM gateway_reach WHERE gateway_id = 1 AND "
			  "online = 1") != 2 ||
		parkd_int("SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'set_time' AND "
			  "state = 'acked'") != 2) && test_ms_now() - t0 < CRED_BOUND_MS)
		test_sleep_ms(20);
	assert_int_equal(parkd_int("SELECT COUNT(*) FROM gateway_reach WHERE gateway_id = 1 "
				   "AND online = 1"), 2);
	assert_int_equal(parkd_int("SELECT COUNT(*) FROM spots WHERE online = 1"), 2);
	assert_int_equal(parkd_int("SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'set_time' "
				   "AND state = 'acked' AND result = 'ok'"), 2);
}

/* ---- the driver ---- */

static void test_driver_key_reaches_lock(void **state)
{
	char body[512], text[8192], hex[2 * (64 + 4 + ECIES_OVERHEAD) + 1], pub_hex[129];
	const char *line, *code;
	uint8_t res_pub[64], dev_pub[64], spot_be[4], ct[4 + ECIES_OVERHEAD];
	json_object *r = NULL;
	int64_t t0;
	int n;

	(void)state;
	driver = client(NULL);
	snprintf(body, sizeof(body), "{\"phone\":\"%s\"}", DRIVER_PHONE);
	assert_int_equal(call(driver, "POST", "/v1/accounts", body, NULL), 202);
	test_read_file(smsfile, text, sizeof(text));
	line = strstr(text, DRIVER_PHONE " ");
	assert_non_null(line);
	code = line + strlen(DRIVER_PHONE) + 1;
	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"code\":\"%.6s\",\"password\":\"%s\"}",
		 DRIVER_PHONE, code, PASSWORD);
	assert_int_equal(call(driver, "POST", "/v1/accounts/verify", body, &r), 201);
	driver_id = get_int(r, "user_id");
	json_object_put(r);
	apiclient_free(driver);
	driver = login(DRIVER_PHONE, NULL);

	assert_int_equal(call(driver, "POST", "/v1/reservation-key", NULL, &r) / 100, 2);
	assert_int_equal(hex_decode(get_str(r, "public_key"), res_pub, sizeof(res_pub)), 64);
	json_object_put(r);
	device = p256_generate();
	other_device = p256_generate();
	assert_non_null(device);
	assert_int_equal(p256_public_raw(device, dev_pub), 0);
	wire_store_u32(spot_be, SPOT_DRIVER);
	n = ecies_encrypt(res_pub, spot_be, sizeof(spot_be), ct, sizeof(ct));
	assert_int_equal(n, (int)sizeof(ct));
	hex_encode(ct, sizeof(ct), hex, sizeof(hex));
	hex_encode(dev_pub, sizeof(dev_pub), pub_hex, sizeof(pub_hex));
	snprintf(body, sizeof(body), "{\"spot\":\"%s\",\"device_pub\":\"%s\"}", hex, pub_hex);

	t0 = test_ms_now();
	assert_int_equal(call(driver, "POST", "/v1/ekeys", body, &r), 201);
	assert_int_equal(get_int(r, "spot_id"), SPOT_DRIVER);
	key_id = (uint32_t)get_int(r, "key_id");
	assert_int_equal(hex_decode(get_str(r, "ekey"), ekey, sizeof(ekey)), PROTO_EKEY_LEN);
	json_object_put(r);
	assert_int_equal(wire_load_u32(ekey), key_id);

	/* The pairing credential reaches the lock through the gateway, within the bound. */
	while (lock_state(SPOT_DRIVER, "creds") != 1 && test_ms_now() - t0 < CRED_BOUND_MS)
		test_sleep_ms(20);
	fprintf(stderr, "test-system: the credential reached lock %d in %lld ms\n", SPOT_DRIVER,
		(long long)(test_ms_now() - t0));
	assert_int_equal(lock_state(SPOT_DRIVER, "creds"), 1);
}

/* Asks the lock to unlock with the driver's e-key, signed by `signer`; the RESULT status. */
static int unlock_with(EVP_PKEY *signer)
{
	uint8_t frame[PROTO_FRAME_MAX], reply[PROTO_FRAME_MAX], nonce[PROTO_NONCE_LEN];
	uint8_t sig[PROTO_SIG_LEN];
	struct proto_msg m;
	struct wire_writer w;
	struct lockconn l;
	char path[200];
	size_t len;
	int n, status;

	snprintf(path, sizeof(path), "%s/%d.sock", lockdir, SPOT_DRIVER);
	assert_int_equal(lockconn_open_sim(&l, path), 0);
	assert_int_equal(lockconn_hello(&l, PROTO_MTU_MAX, &m.u.info, WAIT_MS), 0);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_CHALLENGE_REQ;
	len = test_frame(&m, frame, sizeof(frame));
	n = lockconn_request(&l, frame, len, reply, sizeof(reply), WAIT_MS);
	assert_true(n > 0);
	assert_int_equal(proto_decode(reply, (size_t)n, &m), 0);
	assert_int_equal(m.type, PROTO_CHALLENGE);
	memcpy(nonce, m.u.challenge.nonce, sizeof(nonce));
	assert_int_equal(signer_operate(signer, nonce, SITE_ID, SPOT_DRIVER, PROTO_OP_UNLOCK,
					(uint32_t)driver_id, key_id, sig), 0);
	/* OPERATE: the e-key's bytes exactly as the server issued them. */
	wire_writer_init(&w, frame, sizeof(frame));
	wire_put_u8(&w, PROTO_VERSION);
	wire_put_u8(&w, PROTO_OPERATE);
	wire_put_u8(&w, 0);
	wire_put_u8(&w, PROTO_OP_UNLOCK);
	wire_put_u32(&w, (uint32_t)driver_id);
	wire_put_bytes(&w, ekey, sizeof(ekey));
	wire_put_bytes(&w, sig, sizeof(sig));
	assert_false(w.error);
	n = lockconn_request(&l, frame, w.off, reply, sizeof(reply), WAIT_MS);
	assert_true(n > 0);
	assert_int_equal(proto_decode(reply, (size_t)n, &m), 0);
	assert_int_equal(m.type, PROTO_RESULT);
	status = m.u.result.status;
	lockconn_close(&l);
	return status;
}

static void test_driver_opens_lock(void **state)
{
	(void)state;
	assert_true(test_json_true(world("101 state"), "locked"));
	assert_string_equal(proto_status_name(unlock_with(device)), "ok");
	assert_false(test_json_true(world("101 state"), "locked"));
}

static void test_other_device_refused(void **state)
{
	(void)state;
	assert_string_equal(proto_status_name(unlock_with(other_device)), "bad_device_signature");
}

/* ---- live status ---- */

static void test_car_reaches_stream_and_hook(void **state)
{
	int64_t end, t0;

	(void)state;
	sub.c = login(ADMIN_PHONE, &sub.cancel);
	assert_int_equal(pthread_create(&sub.thread, NULL, subscriber_main, &sub), 0);
	end = test_ms_now() + WAIT_MS;
	while (!atomic_load(&sub.ready) && test_ms_now() < end)
		test_sleep_ms(10);
	assert_true(atomic_load(&sub.ready));

	t0 = test_ms_now();
	world("102 car present");
	while ((seen("car_arrived", SPOT_OWNED) == 0 || notified("car_arrived", SPOT_OWNED) == 0) &&
	       test_ms_now() - t0 < WAIT_MS)
		test_sleep_ms(10);
	fprintf(stderr, "test-system: car_arrived reached the stream and the hook in %lld ms\n",
		(long long)(test_ms_now() - t0));
	assert_int_equal(seen("car_arrived", SPOT_OWNED), 1);
	assert_int_equal(notified("car_arrived", SPOT_OWNED), 1);
	/* Once: nothing comes again a while later. */
	test_sleep_ms(1500);
	assert_int_equal(seen("car_arrived", SPOT_OWNED), 1);
	assert_int_equal(notified("car_arrived", SPOT_OWNED), 1);
	/* The driver's unlock of 101 told nobody: 101 has no manager. */
	assert_int_equal(notified("unlocked", SPOT_DRIVER), 0);
}

/* parkd's database, opened beside it. */
static struct db *parkd_db(void)
{
	char url[200];
	const char *err = NULL;
	struct db *db;

	snprintf(url, sizeof(url), "sqlite:%s/parkd.db", pkdir);
	db = db_open(url, &err);
	assert_non_null(db);
	return db;
}

/* Events of `spot` in parkd's database: count, and the highest sequence. */
static void stored_events(uint32_t spot, int64_t *count, int64_t *max_seq)
{
	struct db *db = parkd_db();
	struct db_stmt *st;

	st = db_prepare(db, "SELECT count(*), coalesce(max(seq), 0) FROM events "
			"WHERE spot_id = $1");
	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, spot), 0);
	assert_int_equal(db_step(st), DB_ROW);
	*count = db_col_int(st, 0);
	*max_seq = db_col_int(st, 1);
	db_finalize(st);
	db_close(db);
}

static void test_server_outage_every_event_once(void **state)
{
	int64_t c1, m1, c2, m2, end;
	long h1, h2;

	(void)state;
	/* parkd goes away (its stream with it) while the garage goes on. */
	atomic_store(&sub.cancel, 1);
	pthread_join(sub.thread, NULL);
	apiclient_free(sub.c);
	sub.c = NULL;
	assert_int_equal(test_stop(&pk_pid, SIGTERM), 0);
	world("102 car absent");
	world("101 car present");
	world("101 car absent"); /* the open spot closes by itself */
	world("102 battery 15");
	test_sleep_ms(3000);
	start_parkd();
	end = test_ms_now() + 20000;
	h1 = lock_state(101, "events");
	h2 = lock_state(102, "events");
	do {
		test_sleep_ms(100);
		stored_events(101, &c1, &m1);
		stored_events(102, &c2, &m2);
	} while ((c1 != h1 || c2 != h2) && test_ms_now() < end);
	fprintf(stderr, "test-system: lock 101 %lld of %ld events, lock 102 %lld of %ld\n",
		(long long)c1, h1, (long long)c2, h2);
	/* Every event of each lock, 1..head, each once (UNIQUE (spot, seq) in parkd). */
	assert_int_equal(c1, h1);
	assert_int_equal(m1, h1);
	assert_int_equal(c2, h2);
	assert_int_equal(m2, h2);
	/* The owner hears of each of 102's, once. */
	end = test_ms_now() + WAIT_MS;
	while ((notified("car_left", SPOT_OWNED) < 1 || notified("low_battery", SPOT_OWNED) < 1) &&
	       test_ms_now() < end)
		test_sleep_ms(50);
	test_sleep_ms(500);
	assert_int_equal(notified("car_arrived", SPOT_OWNED), 1);
	assert_int_equal(notified("car_left", SPOT_OWNED), 1);
	assert_int_equal(notified("low_battery", SPOT_OWNED), 1);
}

/* The IDs of site 1's stored events after `after`, ascending, into ids; their count. */
static int stored_ids_after(int64_t after, int64_t *ids, int cap)
{
	struct db *db = parkd_db();
	struct db_stmt *st;
	int n = 0;

	st = db_prepare(db, "SELECT e.id FROM events e JOIN spots s ON s.id = e.spot_id "
			"WHERE s.site_id = $1 AND e.id > $2 ORDER BY e.id");
	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, SITE_ID), 0);
	assert_int_equal(db_bind_int(st, 2, after), 0);
	while (db_step(st) == DB_ROW && n < cap)
		ids[n++] = db_col_int(st, 0);
	db_finalize(st);
	db_close(db);
	return n;
}

/* Events subscriber r has seen, under its lock: count, and a copy of their IDs. */
static int seen_ids(struct subscriber *r, int64_t *ids)
{
	int n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	memcpy(ids, r->ids, sizeof(r->ids));
	pthread_mutex_unlock(&r->mu);
	return n;
}

static void stop_subscriber(struct subscriber *r)
{
	atomic_store(&r->cancel, 1);
	pthread_join(r->thread, NULL);
	apiclient_free(r->c);
	pthread_mutex_destroy(&r->mu);
}

/*
 * A stream that comes back after an outage with the ID of the last event it saw
 * (?after=, as parkphoned does; EventSource's Last-Event-ID works the same) gets every
 * stored event of its scope since, oldest first, each once, then the live ones; one
 * that missed more than stream_replay_max gets a "reset" instead of them.
 */
static void test_stream_resumes(void **state)
{
	static struct subscriber r;
	int64_t want[64], got[64], last_seen = 0, end;
	int i, nwant, ngot = 0;

	(void)state;
	/* The first subscriber's last event: car_arrived at 102, before parkd went away. */
	for (i = 0; i < sub.n; i++)
		if (strcmp(sub.kinds[i], "car_arrived") == 0)
			last_seen = sub.ids[i];
	assert_true(last_seen > 0);
	nwant = stored_ids_after(last_seen, want, 64);
	assert_true(nwant >= 4); /* car_left 102, car_arrived and car_left 101, low_battery */

	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.mu, NULL);
	snprintf(r.path, sizeof(r.path), "/v1/events?site=%d&after=%lld", SITE_ID,
		 (long long)last_seen);
	r.c = login(ADMIN_PHONE, &r.cancel);
	assert_int_equal(pthread_create(&r.thread, NULL, subscriber_main, &r), 0);
	end = test_ms_now() + WAIT_MS;
	while ((ngot = seen_ids(&r, got)) < nwant && test_ms_now() < end)
		test_sleep_ms(20);
	assert_int_equal(ngot, nwant);
	assert_memory_equal(got, want, (size_t)nwant * sizeof(want[0]));
	/* Then live, once, after the replayed ones. */
	world("102 car present");
	end = test_ms_now() + WAIT_MS;
	while ((ngot = seen_ids(&r, got)) < nwant + 1 && test_ms_now() < end)
		test_sleep_ms(20);
	test_sleep_ms(500);
	ngot = seen_ids(&r, got);
	assert_int_equal(ngot, nwant + 1);
	assert_true(got[nwant] > want[nwant - 1]);
	/* The missed ones are marked as such; the live one is not. */
	for (i = 0; i < nwant; i++)
		assert_true(r.replayed[i]);
	assert_false(r.replayed[nwant]);
	assert_int_equal(r.nresets, 0);
	stop_subscriber(&r);

	/* From before the first event: more than stream_replay_max (8), so a reset, then live. */
	assert_true(stored_ids_after(0, want, 64) > 8);
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.mu, NULL);
	snprintf(r.path, sizeof(r.path), "/v1/events?site=%d&after=0", SITE_ID);
	r.c = login(ADMIN_PHONE, &r.cancel);
	assert_int_equal(pthread_create(&r.thread, NULL, subscriber_main, &r), 0);
	end = test_ms_now() + WAIT_MS;
	while (r.nresets == 0 && test_ms_now() < end)
		test_sleep_ms(20);
	world("102 car absent");
	end = test_ms_now() + WAIT_MS;
	while (seen_ids(&r, got) < 1 && test_ms_now() < end)
		test_sleep_ms(20);
	test_sleep_ms(300);
	pthread_mutex_lock(&r.mu);
	assert_int_equal(r.nresets, 1);
	assert_non_null(strstr(r.resets[0], "\"reason\":\"too_many\""));
	assert_int_equal(r.n, 1); /* the live one alone */
	assert_string_equal(r.kinds[0], "car_left");
	pthread_mutex_unlock(&r.mu);
	stop_subscriber(&r);
}

static void test_clean_stop(void **state)
{
	(void)state;
	assert_int_equal(test_stop(&gw_pid, SIGTERM), 0);
	assert_int_equal(test_stop(&pk_pid, SIGTERM), 0);
	assert_int_equal(test_stop(&lock_pid, SIGTERM), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install),
		cmocka_unit_test(test_fresh_lock_gets_time),
		cmocka_unit_test(test_driver_key_reaches_lock),
		cmocka_unit_test(test_driver_opens_lock),
		cmocka_unit_test(test_other_device_refused),
		cmocka_unit_test(test_car_reaches_stream_and_hook),
		cmocka_unit_test(test_server_outage_every_event_once),
		cmocka_unit_test(test_stream_resumes),
		cmocka_unit_test(test_clean_stop),
	};

	(void)argc;
	test_find_program(argv[0], "PARKD", "parkd", parkd, sizeof(parkd));
	test_find_program(argv[0], "PARKGW", "parkgw", parkgw, sizeof(parkgw));
	test_find_program(argv[0], "PARKLOCKD", "parklockd", parklockd, sizeof(parklockd));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
