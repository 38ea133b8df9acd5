/*
 * test-parkgw.c: black-box test of the real parkgw between the real parklockd and a
 * stand-in key server written here (HTTP/1.1 on loopback, a thread per connection, the
 * contract of server/API.md "Gateways", every request's gateway signature checked).
 * Management messages reach their locks and their signed acks come back; every event
 * arrives once, through a server outage and a gateway restart; the first long poll after
 * a start asks to resume; each lock's reach is reported when it changes (in reach,
 * out of reach with parklockd gone, back); a lock the server refuses for a while (403)
 * holds up no other lock's events or reach, and its own arrive later; a lock whose log
 * breaks the chain still gets its messages; SIGTERM exits 0.
 */
#define _GNU_SOURCE /* strcasestr */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "../../gateway/gwauth.h"
#include "../../lib/hex.h"
#include "../../lib/p256.h"
#include "../../lib/signer.h"
#include "../support/test-authority.h"
#include "../support/test-proc.h"

#define SITE_ID 7
#define NLOCKS 2
#define MSG_MAX 64
#define EV_MAX 512
#define WAIT_MS 8000

static const uint32_t spots[NLOCKS] = { 101, 102 };

static char parkgw[512], parklockd[512];
static char dir[64], lockdir[128], conf[160], gwdir[128], worldsock[160];
static char gwlog[160], locklog[160];
static pid_t gw_pid = -1, lock_pid = -1;
static struct test_site site;
static struct test_user user;
static uint8_t device_pub[NLOCKS][64];
static uint8_t gw_pub[64];

/* ---- the stand-in server ---- */

struct fake_msg {
	int64_t id;
	uint32_t spot;
	char frame[2 * PROTO_FRAME_MAX + 1];
	int64_t sent_at;  /* ms, 0 never */
	int acks;         /* acks received */
	char ack_result[32];
};

struct fake_event {
	uint32_t spot, seq;
	char kind[24];
};

static struct {
	int listen_fd;
	int port;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop;
	int down;         /* requests are cut off without a reply */
	int threads;      /* connection threads alive */
	struct fake_msg msg[MSG_MAX];
	int nmsg;
	struct fake_event ev[EV_MAX];
	int nev;
	int duplicates;
	int bad_signatures;
	int requests;
	int polls, resumes;     /* long polls, and those with resume=1 */
	int reach[NLOCKS];      /* the last reach reported of each lock: -1 none, 0, 1 */
	int reach_reports[NLOCKS];
	uint32_t refuse_spot;   /* events and reach reports naming it get a 403, whole */
	int refusals;           /* 403s given for it */
} fs;

/* A 403 for a batch naming fs.refuse_spot, as parkd refuses a lock not covered. Under mu. */
static char *refused_batch(json_object *arr, int *status)
{
	json_object *v;
	size_t i;

	for (i = 0; fs.refuse_spot != 0 && i < json_object_array_length(arr); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "spot", &v) &&
		    (uint32_t)json_object_get_int64(v) == fs.refuse_spot) {
			fs.refusals++;
			*status = 403;
			return strdup("{\"error\":\"forbidden\",\"detail\":\"not covered; "
				      "nothing of this batch was stored\"}");
		}
	return NULL;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *header(const char *head, const char *name, char *out, size_t cap)
{
	const char *p = head;
	size_t n = strlen(name), len;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			len = strcspn(p, "\r\n");
			if (len >= cap)
				return NULL;
			memcpy(out, p, len);
			out[len] = '\0';
			return out;
		}
	}
	return NULL;
}

static bool signature_ok(const char *method, const char *target, const char *head,
			 const char *body, size_t body_len)
{
	char id[32], t[32], sig_hex[200];
	uint8_t sig[64], digest[32];
	long long tv;

	if (header(head, "X-Park-Gateway", id, sizeof(id)) == NULL ||
	    header(head, "X-Park-Time", t, sizeof(t)) == NULL ||
	    header(head, "X-Park-Signature", sig_hex, sizeof(sig_hex)) == NULL ||
	    strcmp(id, "3") != 0 || hex_decode(sig_hex, sig, sizeof(sig)) != 64)
		return false;
	tv = atoll(t);
	if (llabs(tv - (long long)time(NULL)) > 300 ||
	    gwauth_digest(method, target, tv, (const uint8_t *)body, body_len, digest) != 0)
		return false;
	return p256_verify_digest(gw_pub, digest, sig) == 0;
}

static char *locks_reply(void)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array(), *l;
	char hex[129], addr[200];
	char *s;
	int i;

	for (i = 0; i < NLOCKS; i++) {
		l = json_object_new_object();
		hex_encode(device_pub[i], 64, hex, sizeof(hex));
		snprintf(addr, sizeof(addr), "%s/%u.sock", lockdir, spots[i]);
		json_object_object_add(l, "spot", json_object_new_int64(spots[i]));
		json_object_object_add(l, "name", json_object_new_string("B1"));
		json_object_object_add(l, "address", json_object_new_string(addr));
		json_object_object_add(l, "device_pub", json_object_new_string(hex));
		json_object_object_add(l, "event_seq", json_object_new_int64(0));
		json_object_array_add(arr, l);
	}
	json_object_object_add(o, "locks", arr);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* Long poll: pending messages not sent in the last 5 s, waiting up to `wait` s. Under mu. */
static char *messages_reply(int wait_s)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array(), *m;
	struct timespec until;
	int64_t end = wall_ms() + wait_s * 1000L, now;
	char *s;
	int i, n = 0;

	for (;;) {
		now = wall_ms();
		for (i = 0; i < fs.nmsg; i++) {
			if (fs.msg[i].acks > 0 ||
			    (fs.msg[i].sent_at != 0 && now - fs.msg[i].sent_at < 5000))
				continue;
			m = json_object_new_object();
			json_object_object_add(m, "id", json_object_new_int64(fs.msg[i].id));
			json_object_object_add(m, "spot", json_object_new_int64(fs.msg[i].spot));
			json_object_object_add(m, "frame", json_object_new_string(fs.msg[i].frame));
			json_object_array_add(arr, m);
			fs.msg[i].sent_at = now;
			n++;
		}
		if (n > 0 || now >= end || fs.stop || fs.down)
			break;
		until.tv_sec = (now + 200) / 1000;
		until.tv_nsec = ((now + 200) % 1000) * 1000000L;
		pthread_cond_timedwait(&fs.cond, &fs.mu, &until);
	}
	json_object_object_add(o, "messages", arr);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static char *acks_reply(json_object *body, int *status)
{
	json_object *arr, *a, *v;
	uint8_t frame[PROTO_FRAME_MAX];
	struct proto_msg m;
	int64_t id;
	size_t i, j;
	int n, accepted = 0;
	char out[64];

	if (!json_object_object_get_ex(body, "acks", &arr)) {
		*status = 400;
		return strdup("{\"error\":\"missing_field\",\"detail\":\"acks\"}");
	}
	for (i = 0; i < json_object_array_length(arr); i++) {
		a = json_object_array_get_idx(arr, i);
		json_object_object_get_ex(a, "id", &v);
		id = json_object_get_int64(v);
		for (j = 0; j < (size_t)fs.nmsg && fs.msg[j].id != id; j++)
			;
		if (j == (size_t)fs.nmsg)
			continue;
		if (json_object_object_get_ex(a, "frame", &v)) {
			n = hex_decode(json_object_get_string(v), frame, sizeof(frame));
			assert_true(n > 0);
			assert_int_equal(proto_decode(frame, (size_t)n, &m), 0);
			assert_int_equal(m.type, PROTO_MGMT_ACK);
			assert_int_equal(signer_check_ack(device_pub[fs.msg[j].spot == spots[0] ?
								     0 : 1], SITE_ID, &m.u.ack), 0);
			snprintf(fs.msg[j].ack_result, sizeof(fs.msg[j].ack_result), "%s",
				 proto_status_name(m.u.ack.result));
		} else if (json_object_object_get_ex(a, "error", &v)) {
			snprintf(fs.msg[j].ack_result, sizeof(fs.msg[j].ack_result), "%s",
				 json_object_get_string(v));
		}
		fs.msg[j].acks++;
		accepted++;
	}
	*status = 200;
	snprintf(out, sizeof(out), "{\"accepted\":%d}", accepted);
	return strdup(out);
}

static char *events_reply(json_object *body, int *status)
{
	json_object *arr, *e, *v;
	uint32_t spot, seq;
	size_t i;
	int j, accepted = 0, dups = 0;
	char out[64], *s;

	if (!json_object_object_get_ex(body, "events", &arr) ||
	    json_object_array_length(arr) > 100) {
		*status = 400;
		return strdup("{\"error\":\"bad_field\",\"detail\":\"events\"}");
	}
	if (fs.refuse_spot != 0 && (s = refused_batch(arr, status)) != NULL)
		return s;
	for (i = 0; i < json_object_array_length(arr); i++) {
		e = json_object_array_get_idx(arr, i);
		json_object_object_get_ex(e, "spot", &v);
		spot = (uint32_t)json_object_get_int64(v);
		json_object_object_get_ex(e, "seq", &v);
		seq = (uint32_t)json_object_get_int64(v);
		for (j = 0; j < fs.nev && (fs.ev[j].spot != spot || fs.ev[j].seq != seq); j++)
			;
		if (j < fs.nev) {
			dups++;
			continue;
		}
		assert_true(fs.nev < EV_MAX);
		fs.ev[fs.nev].spot = spot;
		fs.ev[fs.nev].seq = seq;
		json_object_object_get_ex(e, "kind", &v);
		snprintf(fs.ev[fs.nev].kind, sizeof(fs.ev[0].kind), "%s",
			 json_object_get_string(v));
		fs.nev++;
		accepted++;
	}
	fs.duplicates += dups;
	*status = 200;
	snprintf(out, sizeof(out), "{\"accepted\":%d,\"duplicates\":%d}", accepted, dups);
	return strdup(out);
}

static char *status_reply(json_object *body, int *status)
{
	json_object *arr, *l, *v;
	uint32_t spot;
	size_t i;
	int j;
	char out[64], *s;

	if (!json_object_object_get_ex(body, "locks", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		*status = 400;
		return strdup("{\"error\":\"missing_field\",\"detail\":\"locks\"}");
	}
	if (fs.refuse_spot != 0 && (s = refused_batch(arr, status)) != NULL)
		return s;
	for (i = 0; i < json_object_array_length(arr); i++) {
		l = json_object_array_get_idx(arr, i);
		assert_true(json_object_object_get_ex(l, "spot", &v));
		spot = (uint32_t)json_object_get_int64(v);
		assert_true(json_object_object_get_ex(l, "online", &v));
		assert_true(json_object_is_type(v, json_type_boolean));
		for (j = 0; j < NLOCKS && spots[j] != spot; j++)
			;
		assert_true(j < NLOCKS);
		fs.reach[j] = json_object_get_boolean(v) ? 1 : 0;
		fs.reach_reports[j]++;
	}
	*status = 200;
	snprintf(out, sizeof(out), "{\"accepted\":%zu,\"changed\":%zu}", i, i);
	return strdup(out);
}

/* Answers one request; returns the reply body (malloc'ed) and *status. Under fs.mu. */
static char *route(const char *method, const char *target, const char *head, const char *body,
		   size_t body_len, int *status)
{
	json_object *j = NULL;
	char *r;

	fs.requests++;
	if (!signature_ok(method, target, head, body, body_len)) {
		fs.bad_signatures++;
		*status = 401;
		return strdup("{\"error\":\"unauthenticated\",\"detail\":\"bad signature\"}");
	}
	*status = 200;
	if (strcmp(method, "GET") == 0 && strcmp(target, "/v1/gateway/locks") == 0)
		return locks_reply();
	if (strcmp(method, "GET") == 0 && strncmp(target, "/v1/gateway/messages?wait=", 26) == 0) {
		fs.polls++;
		fs.resumes += strstr(target, "&resume=1") != NULL;
		return messages_reply(atoi(target + 26));
	}
	if (strcmp(method, "POST") == 0) {
		j = json_tokener_parse(body);
		if (j == NULL) {
			*status = 400;
			return strdup("{\"error\":\"bad_json\",\"detail\":\"x\"}");
		}
		r = strcmp(target, "/v1/gateway/acks") == 0 ? acks_reply(j, status) :
		    strcmp(target, "/v1/gateway/events") == 0 ? events_reply(j, status) :
		    strcmp(target, "/v1/gateway/status") == 0 ? status_reply(j, status) : NULL;
		json_object_put(j);
		if (r != NULL)
			return r;
	}
	*status = 404;
	return strdup("{\"error\":\"not_found\",\"detail\":\"no route\"}");
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(1 << 20), *end, *reply, method[8], target[256], head[512];
	size_t have = 0, hdr, body_len, used;
	struct pollfd p;
	const char *cl;
	ssize_t n;
	int status;

	for (;;) {
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		cl = end != NULL ? strcasestr(buf, "\r\nContent-Length:") : NULL;
		body_len = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		if (end == NULL || have < (size_t)(end - buf) + 4 + body_len) {
			p.fd = fd;
			p.events = POLLIN;
			pthread_mutex_lock(&fs.mu);
			n = fs.stop;
			pthread_mutex_unlock(&fs.mu);
			if (n)
				break;
			if (poll(&p, 1, 100) <= 0)
				continue;
			n = recv(fd, buf + have, (1 << 20) - 1 - have, 0);
			if (n <= 0)
				break;
			have += (size_t)n;
			continue;
		}
		hdr = (size_t)(end - buf) + 4;
		sscanf(buf, "%7s %255s", method, target);
		*end = '\0';
		memmove(buf + hdr - 1, buf + hdr, body_len);
		buf[hdr - 1 + body_len] = '\0';
		pthread_mutex_lock(&fs.mu);
		if (fs.down) {
			pthread_mutex_unlock(&fs.mu);
			break; /* a crashed server: no reply, connection gone */
		}
		reply = route(method, target, buf, buf + hdr - 1, body_len, &status);
		pthread_mutex_unlock(&fs.mu);
		snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n", status, strlen(reply));
		send(fd, head, strlen(head), MSG_NOSIGNAL);
		send(fd, reply, strlen(reply), MSG_NOSIGNAL);
		free(reply);
		used = hdr + body_len;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	close(fd);
	free(buf);
	pthread_mutex_lock(&fs.mu);
	fs.threads--;
	pthread_mutex_unlock(&fs.mu);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct pollfd p;
	pthread_t t;
	int fd, stop;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&fs.mu);
		stop = fs.stop;
		pthread_mutex_unlock(&fs.mu);
		if (stop)
			return NULL;
		p.fd = fs.listen_fd;
		p.events = POLLIN;
		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(fs.listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&fs.mu);
		fs.threads++;
		pthread_mutex_unlock(&fs.mu);
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) == 0) {
			pthread_detach(t);
		} else {
			close(fd);
			pthread_mutex_lock(&fs.mu);
			fs.threads--;
			pthread_mutex_unlock(&fs.mu);
		}
	}
}

static void fake_start(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	pthread_mutex_init(&fs.mu, NULL);
	pthread_cond_init(&fs.cond, NULL);
	fs.reach[0] = fs.reach[1] = -1;
	fs.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fs.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fs.listen_fd, 16), 0);
	assert_int_equal(getsockname(fs.listen_fd, (struct sockaddr *)&sa, &len), 0);
	fs.port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&fs.thread, NULL, accept_main, NULL), 0);
}

static void fake_stop(void)
{
	int64_t end = test_ms_now() + 3000;
	int alive = 1;

	pthread_mutex_lock(&fs.mu);
	fs.stop = 1;
	pthread_cond_broadcast(&fs.cond);
	pthread_mutex_unlock(&fs.mu);
	pthread_join(fs.thread, NULL);
	while (alive && test_ms_now() < end) {
		pthread_mutex_lock(&fs.mu);
		alive = fs.threads;
		pthread_mutex_unlock(&fs.mu);
		test_sleep_ms(20);
	}
	close(fs.listen_fd);
}

static void fake_down(int down)
{
	pthread_mutex_lock(&fs.mu);
	fs.down = down;
	pthread_cond_broadcast(&fs.cond);
	pthread_mutex_unlock(&fs.mu);
}

/* Queues a signed management message for `spot`. */
static int64_t queue_mgmt(uint32_t spot, uint8_t mtype, const union proto_mgmt_payload *p)
{
	uint8_t frame[PROTO_FRAME_MAX];
	size_t len = test_site_mgmt(&site, mtype, spot, 0, p, frame, sizeof(frame));
	struct fake_msg *m;
	int64_t id;

	pthread_mutex_lock(&fs.mu);
	assert_true(fs.nmsg < MSG_MAX);
	m = &fs.msg[fs.nmsg++];
	memset(m, 0, sizeof(*m));
	m->id = id = 1000 + fs.nmsg;
	m->spot = spot;
	hex_encode(frame, len, m->frame, sizeof(m->frame));
	pthread_cond_broadcast(&fs.cond);
	pthread_mutex_unlock(&fs.mu);
	return id;
}

/* Waits until message id has an ack; returns its result name (static copy). */
static const char *wait_ack(int64_t id, long ms)
{
	static char result[32];
	int64_t end = test_ms_now() + ms;
	int i;

	while (test_ms_now() < end) {
		pthread_mutex_lock(&fs.mu);
		for (i = 0; i < fs.nmsg; i++)
			if (fs.msg[i].id == id && fs.msg[i].acks > 0) {
				assert_int_equal(fs.msg[i].acks, 1);
				snprintf(result, sizeof(result), "%s", fs.msg[i].ack_result);
				pthread_mutex_unlock(&fs.mu);
				return result;
			}
		pthread_mutex_unlock(&fs.mu);
		test_sleep_ms(20);
	}
	fail_msg("no ack for message %lld", (long long)id);
	return NULL;
}

static long world_num(uint32_t spot, const char *cmd, const char *key)
{
	char line[128], reply[4096];

	snprintf(line, sizeof(line), "%u %s", spot, cmd);
	assert_int_equal(test_world(worldsock, line, reply, sizeof(reply)), 0);
	assert_true(test_json_true(reply, "ok"));
	return test_json_num(reply, key);
}

/* Events the fake server has of `spot`, checked to be each seq at most once. */
static int events_of(uint32_t spot, const char *kind)
{
	int i, j, n = 0;

	pthread_mutex_lock(&fs.mu);
	for (i = 0; i < fs.nev; i++) {
		if (fs.ev[i].spot != spot || (kind != NULL && strcmp(fs.ev[i].kind, kind) != 0))
			continue;
		for (j = 0; j < i; j++)
			assert_false(fs.ev[j].spot == spot && fs.ev[j].seq == fs.ev[i].seq);
		n++;
	}
	pthread_mutex_unlock(&fs.mu);
	return n;
}

/*
 * Waits until the server has every event 1..head of every lock, each once. The head is
 * read again each time round: a lock may still log (a delivered message, the barrier
 * closing by itself after the car left) while the events travel.
 */
static void wait_all_events(long ms)
{
	int64_t end = test_ms_now() + ms;
	long head[NLOCKS] = { 0 };
	int i, ok;

	while (test_ms_now() < end) {
		ok = 1;
		for (i = 0; i < NLOCKS; i++) {
			head[i] = world_num(spots[i], "state", "events");
			ok &= events_of(spots[i], NULL) == head[i];
		}
		if (ok)
			return;
		test_sleep_ms(50);
	}
	fail_msg("not every event arrived: lock 101 %d of %ld, lock 102 %d of %ld; see %s",
		 events_of(spots[0], NULL), head[0], events_of(spots[1], NULL), head[1], gwlog);
}

/* Waits until the server was told `online` (1 or 0) of every lock; fails after ms. */
static void wait_reach(int online, long ms)
{
	int64_t end = test_ms_now() + ms;
	int ok = 0;

	while (!ok && test_ms_now() < end) {
		pthread_mutex_lock(&fs.mu);
		ok = fs.reach[0] == online && fs.reach[1] == online;
		pthread_mutex_unlock(&fs.mu);
		if (!ok)
			test_sleep_ms(20);
	}
	if (!ok)
		fail_msg("the gateway did not report both locks %s; see %s",
			 online ? "in reach" : "out of reach", gwlog);
}

/* A counter or state of the stand-in server, read under its lock. */
static int fs_read(const int *v)
{
	int n;

	pthread_mutex_lock(&fs.mu);
	n = *v;
	pthread_mutex_unlock(&fs.mu);
	return n;
}

/* ---- set-up ---- */

static void start_gateway(void)
{
	char url[64];
	const char *args[] = { "--server", url, "--data-dir", gwdir, "--id", "3", "--poll-wait",
			       "2", "--log-level", "debug", NULL };

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", fs.port);
	gw_pid = test_spawn(parkgw, args, gwlog, gwlog);
	assert_true(gw_pid > 0);
}

static int group_setup(void **state)
{
	char text[512], path[200], sitepub[160];
	const char *lock_args[] = { "--log-level", "debug", conf, NULL };
	int i;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/test-parkgw.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(lockdir, sizeof(lockdir), "%s/locks", dir);
	snprintf(gwdir, sizeof(gwdir), "%s/gw", dir);
	snprintf(conf, sizeof(conf), "%s/garage.conf", dir);
	snprintf(worldsock, sizeof(worldsock), "%s/world.sock", lockdir);
	snprintf(gwlog, sizeof(gwlog), "%s/parkgw.log", dir);
	snprintf(locklog, sizeof(locklog), "%s/parklockd.log", dir);
	snprintf(sitepub, sizeof(sitepub), "%s/site.pub", dir);
	test_site_init(&site, SITE_ID);
	test_user_init(&user, 42);
	if (p256_save_public_hex(site.pub, sitepub) != 0)
		return -1;
	snprintf(text, sizeof(text), "site %d\ndir %s\nsite-key %s\nlock 101 B1-01\n"
		 "lock 102 B1-02\n", SITE_ID, lockdir, sitepub);
	{
		FILE *f = fopen(conf, "w");

		if (f == NULL)
			return -1;
		fputs(text, f);
		fclose(f);
	}
	lock_pid = test_spawn(parklockd, lock_args, locklog, locklog);
	if (!test_wait_socket(worldsock, 10000))
		return -1;
	for (i = 0; i < NLOCKS; i++) {
		snprintf(path, sizeof(path), "%s/%u.pub", lockdir, spots[i]);
		if (p256_load_public_hex(path, device_pub[i]) != 0)
			return -1;
	}
	fake_start();
	fprintf(stderr, "test-parkgw: %s and %s in %s, server on port %d\n", parkgw, parklockd,
		dir, fs.port);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (gw_pid > 0)
		test_stop(&gw_pid, SIGKILL);
	if (lock_pid > 0)
		test_stop(&lock_pid, SIGTERM);
	fake_stop();
	test_site_free(&site);
	test_user_free(&user);
	if (getenv("KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return 0;
}

/* ---- the tests, in order ---- */

static void test_command_line(void **state)
{
	char out[8192], path[200], keyfile[200];
	const char *help[] = { "--help", NULL };
	const char *bogus[] = { "--bogus", NULL };
	const char *nodir[] = { "--server", "http://127.0.0.1:1", NULL };
	const char *badid[] = { "--server", "http://x", "--data-dir", gwdir, "--id", "0", NULL };
	const char *printkey[] = { "--data-dir", gwdir, "--print-key", NULL };
	struct stat st;
	uint8_t pub[64];

	(void)state;
	snprintf(path, sizeof(path), "%s/cmd.out", dir);
	unlink(path);
	assert_int_equal(test_wait_exit(test_spawn(parkgw, help, path, NULL), WAIT_MS), 0);
	test_read_file(path, out, sizeof(out));
	assert_non_null(strstr(out, "--data-dir"));
	assert_non_null(strstr(out, "--server"));
	assert_int_equal(test_wait_exit(test_spawn(parkgw, bogus, NULL, NULL), WAIT_MS), 2);
	assert_int_equal(test_wait_exit(test_spawn(parkgw, nodir, NULL, NULL), WAIT_MS), 2);
	assert_int_equal(test_wait_exit(test_spawn(parkgw, badid, NULL, NULL), WAIT_MS), 2);

	/* The installer's step: make the key, read the public half for the site. */
	unlink(path);
	assert_int_equal(test_wait_exit(test_spawn(parkgw, printkey, path, NULL), WAIT_MS), 0);
	test_read_file(path, out, sizeof(out));
	assert_int_equal(strlen(out), 129);
	out[128] = '\0';
	assert_int_equal(hex_decode(out, gw_pub, sizeof(gw_pub)), 64);
	snprintf(keyfile, sizeof(keyfile), "%s/gateway.key", gwdir);
	assert_int_equal(stat(keyfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(keyfile, sizeof(keyfile), "%s/gateway.pub", gwdir);
	assert_int_equal(p256_load_public_hex(keyfile, pub), 0);
	assert_memory_equal(pub, gw_pub, 64);
	/* The same key the second time. */
	unlink(path);
	assert_int_equal(test_wait_exit(test_spawn(parkgw, printkey, path, NULL), WAIT_MS), 0);
	test_read_file(path, out, sizeof(out));
	assert_int_equal(hex_decode((out[128] = '\0', out), pub, sizeof(pub)), 64);
	assert_memory_equal(pub, gw_pub, 64);
}

static void test_messages_delivered(void **state)
{
	union proto_mgmt_payload p;
	int64_t t0, id1, id2, id3;

	(void)state;
	start_gateway();
	/* The boot and provisioning events arrive without anyone asking. */
	wait_all_events(WAIT_MS);
	/* Both locks are reported in reach, and the first poll asked to resume. */
	wait_reach(1, WAIT_MS);
	assert_int_equal(fs_read(&fs.resumes), 1);

	t0 = test_ms_now();
	memset(&p, 0, sizeof(p));
	p.time = (uint32_t)time(NULL);
	id1 = queue_mgmt(101, PROTO_MGMT_SET_TIME, &p);
	p.cred = test_cred(&user, 9, 0, PROTO_TIME_NONE_AFTER, 0, 0);
	id2 = queue_mgmt(102, PROTO_MGMT_INSTALL_CRED, &p);
	p.cred = test_cred(&user, 10, 0, PROTO_TIME_NONE_AFTER, 0, 0);
	id3 = queue_mgmt(102, PROTO_MGMT_INSTALL_CRED, &p);
	assert_string_equal(wait_ack(id1, WAIT_MS), "ok");
	assert_string_equal(wait_ack(id2, WAIT_MS), "ok");
	assert_string_equal(wait_ack(id3, WAIT_MS), "ok");
	fprintf(stderr, "test-parkgw: 3 messages acknowledged in %lld ms\n",
		(long long)(test_ms_now() - t0));
	assert_true(test_ms_now() - t0 < 3000);
	assert_int_equal(world_num(102, "state", "creds"), 2);
	assert_true(world_num(101, "state", "time") > 0);
	/* Their mgmt events, too. */
	wait_all_events(WAIT_MS);
	assert_true(events_of(102, "mgmt") >= 2);
}

static void test_stale_message_is_answered(void **state)
{
	union proto_mgmt_payload p;
	uint8_t frame[PROTO_FRAME_MAX];
	size_t len;
	int64_t id;

	(void)state;
	/* Replayed: the lock answers stale_sequence, and that answer reaches the server. */
	memset(&p, 0, sizeof(p));
	p.time = (uint32_t)time(NULL);
	len = test_site_mgmt(&site, PROTO_MGMT_SET_TIME, 101, 1, &p, frame, sizeof(frame));
	pthread_mutex_lock(&fs.mu);
	fs.msg[fs.nmsg].id = id = 5000;
	fs.msg[fs.nmsg].spot = 101;
	fs.msg[fs.nmsg].sent_at = 0;
	fs.msg[fs.nmsg].acks = 0;
	hex_encode(frame, len, fs.msg[fs.nmsg].frame, sizeof(fs.msg[0].frame));
	fs.nmsg++;
	pthread_cond_broadcast(&fs.cond);
	pthread_mutex_unlock(&fs.mu);
	assert_string_equal(wait_ack(id, WAIT_MS), "stale_sequence");
}

static void test_car_event_arrives(void **state)
{
	int64_t t0;

	(void)state;
	t0 = test_ms_now();
	world_num(101, "car present", "events");
	while (events_of(101, "car_arrived") == 0 && test_ms_now() - t0 < WAIT_MS)
		test_sleep_ms(5);
	assert_int_equal(events_of(101, "car_arrived"), 1);
	fprintf(stderr, "test-parkgw: car_arrived reached the server in %lld ms\n",
		(long long)(test_ms_now() - t0));
	world_num(101, "car absent", "events");
	wait_all_events(WAIT_MS);
}

/* Sets the lock whose events and reach reports the stand-in server refuses (0: none). */
static void refuse_lock(uint32_t spot)
{
	pthread_mutex_lock(&fs.mu);
	fs.refuse_spot = spot;
	pthread_mutex_unlock(&fs.mu);
}

/*
 * The server refuses a lock's events with a 403 while the list of locks it gave the
 * gateway still has it (a site being changed): those events are kept and sent again,
 * and the other lock's are not held up.
 */
static void test_refused_lock_events_kept(void **state)
{
	int64_t t0;
	int before = fs_read(&fs.refusals), a101 = events_of(101, "car_arrived");
	int a102 = events_of(102, "car_arrived");

	(void)state;
	/* 101's events first in the queue: they must not hold up 102's behind them. */
	refuse_lock(101);
	world_num(101, "car present", "events");
	world_num(102, "car present", "events");
	t0 = test_ms_now();
	while (events_of(102, "car_arrived") == a102 && test_ms_now() - t0 < WAIT_MS)
		test_sleep_ms(10);
	assert_int_equal(events_of(102, "car_arrived"), a102 + 1);
	test_sleep_ms(1000);
	assert_true(fs_read(&fs.refusals) > before);
	assert_int_equal(events_of(101, "car_arrived"), a101);
	refuse_lock(0);
	wait_all_events(15000);
	assert_int_equal(events_of(101, "car_arrived"), a101 + 1);
	world_num(101, "car absent", "events");
	world_num(102, "car absent", "events");
	wait_all_events(15000);
}

static void test_server_outage_loses_nothing(void **state)
{
	union proto_mgmt_payload p;
	int64_t id;
	int before;

	(void)state;
	fake_down(1);
	before = events_of(102, NULL);
	world_num(102, "car present", "events");
	world_num(102, "battery 10", "events");
	world_num(102, "car absent", "events");
	world_num(101, "force", "events");
	test_sleep_ms(1500);
	assert_int_equal(events_of(102, NULL), before);
	fake_down(0);
	wait_all_events(15000);
	assert_int_equal(events_of(102, "car_arrived"), 1);
	assert_int_equal(events_of(102, "low_battery"), 1);
	assert_int_equal(events_of(101, "forced"), 1);

	/* And the downlink works again. */
	memset(&p, 0, sizeof(p));
	p.time = (uint32_t)time(NULL) + 10;
	id = queue_mgmt(101, PROTO_MGMT_SET_TIME, &p);
	assert_string_equal(wait_ack(id, 15000), "ok");
}

static void test_gateway_restart_loses_nothing(void **state)
{
	union proto_mgmt_payload p;
	int64_t id;

	(void)state;
	/* Only the first poll of a gateway's run resumes. */
	pthread_mutex_lock(&fs.mu);
	assert_true(fs.polls > 1);
	pthread_mutex_unlock(&fs.mu);
	assert_int_equal(fs_read(&fs.resumes), 1);
	/* Events logged while the server is down are in the gateway's queue file ... */
	fake_down(1);
	world_num(101, "car present", "events");
	world_num(102, "car present", "events");
	test_sleep_ms(1000);
	assert_int_equal(test_stop(&gw_pid, SIGTERM), 0);
	/* ... and those logged while the gateway is down are in the locks' logs. */
	world_num(101, "car absent", "events");
	world_num(102, "car absent", "events");
	fake_down(0);
	memset(&p, 0, sizeof(p));
	p.cred = test_cred(&user, 11, 0, PROTO_TIME_NONE_AFTER, 0, 0);
	id = queue_mgmt(101, PROTO_MGMT_INSTALL_CRED, &p);
	start_gateway();
	wait_all_events(15000);
	assert_string_equal(wait_ack(id, WAIT_MS), "ok");
	assert_int_equal(fs_read(&fs.resumes), 2);
	pthread_mutex_lock(&fs.mu);
	assert_int_equal(fs.bad_signatures, 0);
	pthread_mutex_unlock(&fs.mu);
}

static void test_lock_reach_reported(void **state)
{
	const char *lock_args[] = { "--log-level", "debug", conf, NULL };
	int before[NLOCKS], refusing, i;
	int64_t t0;

	(void)state;
	wait_reach(1, WAIT_MS);
	pthread_mutex_lock(&fs.mu);
	before[0] = fs.reach_reports[0];
	before[1] = fs.reach_reports[1];
	pthread_mutex_unlock(&fs.mu);
	/*
	 * The locks go away: after a few failed connects, out of reach, once each. The
	 * server refuses 101's report a while (whole, as parkd does): 102's is not lost or
	 * held up with it, and 101's comes once the server takes it.
	 */
	refusing = fs_read(&fs.refusals);
	refuse_lock(101);
	t0 = test_ms_now();
	assert_int_equal(test_stop(&lock_pid, SIGTERM), 0);
	for (i = 0; i < 1500; i++) {
		if (fs_read(&fs.reach[1]) == 0 && fs_read(&fs.refusals) > refusing)
			break;
		test_sleep_ms(10);
	}
	assert_int_equal(fs_read(&fs.reach[1]), 0);
	assert_true(fs_read(&fs.refusals) > refusing);
	assert_int_equal(fs_read(&fs.reach[0]), 1);
	refuse_lock(0);
	wait_reach(0, 15000);
	fprintf(stderr, "test-parkgw: both locks reported out of reach after %lld ms\n",
		(long long)(test_ms_now() - t0));
	test_sleep_ms(500);
	pthread_mutex_lock(&fs.mu);
	assert_int_equal(fs.reach_reports[0], before[0] + 1);
	assert_int_equal(fs.reach_reports[1], before[1] + 1);
	pthread_mutex_unlock(&fs.mu);
	/* Back: in reach again as soon as the gateway connects. */
	lock_pid = test_spawn(parklockd, lock_args, locklog, locklog);
	assert_true(test_wait_socket(worldsock, 10000));
	wait_reach(1, 15000);
	wait_all_events(15000);
	assert_int_equal(test_stop(&gw_pid, SIGTERM), 0);
}

/*
 * A lock whose event log no longer continues the chain the gateway holds (here the
 * gateway's own record is spoiled while it is stopped) has its log left alone until
 * someone looks, and its messages are still delivered.
 */
static void test_broken_chain_holds_no_message(void **state)
{
	union proto_mgmt_payload p;
	char path[200], out[65536];
	sqlite3 *db = NULL;
	int64_t id;

	(void)state;
	snprintf(path, sizeof(path), "%s/queue.db", gwdir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE lockstate SET hash = zeroblob(32) "
				      "WHERE spot = 101", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_close(db);
	memset(&p, 0, sizeof(p));
	p.cred = test_cred(&user, 12, 0, PROTO_TIME_NONE_AFTER, 0, 0);
	id = queue_mgmt(101, PROTO_MGMT_INSTALL_CRED, &p);
	start_gateway();
	assert_string_equal(wait_ack(id, WAIT_MS), "ok");
	assert_int_equal(world_num(101, "state", "creds"), 2);
	assert_int_equal(test_stop(&gw_pid, SIGTERM), 0);
	test_read_file(gwlog, out, sizeof(out));
	assert_non_null(strstr(out, "does not continue the chain"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_line),
		cmocka_unit_test(test_messages_delivered),
		cmocka_unit_test(test_stale_message_is_answered),
		cmocka_unit_test(test_car_event_arrives),
		cmocka_unit_test(test_server_outage_loses_nothing),
		cmocka_unit_test(test_refused_lock_events_kept),
		cmocka_unit_test(test_gateway_restart_loses_nothing),
		cmocka_unit_test(test_lock_reach_reported),
		cmocka_unit_test(test_broken_chain_holds_no_message),
	};

	(void)argc;
	test_find_program(argv[0], "PARKGW", "parkgw", parkgw, sizeof(parkgw));
	test_find_program(argv[0], "PARKLOCKD", "parklockd", parklockd, sizeof(parklockd));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
