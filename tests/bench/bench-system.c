/*
 * bench-system.c: the whole-system set-up of the benchmarks; see bench-system.h. An
 * installer's order, as tests/sim/test-system.c does it: factory-fresh locks, parkd and
 * its administrator, the site with the locks' and gateways' keys, each lock provisioned,
 * then the gateways. Nothing here measures.
 */
#include "bench-system.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/hex.h"
#include "../../lib/p256.h"
#include "../../lib/lockconn.h"
#include "../../server/http.h"
#include "../support/test-authority.h"
#include "../support/test-proc.h"

#define BENCH_SYSTEM_WAIT_MS 30000
#define BENCH_SYSTEM_TEXT_MAX (1u << 20)

static struct bench_system *bench_system_current; /* what the exit handler stops */

double bench_system_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

double bench_system_cpu_s(pid_t pid)
{
	char path[64], text[1024], *p;
	unsigned long long utime, stime;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (test_read_file(path, text, sizeof(text)) == 0)
		return -1;
	/* After "pid (comm) ", which may hold spaces: utime and stime are fields 14 and 15. */
	p = strrchr(text, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void bench_system_stop_group(pid_t *pids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (i = 0; i < n; i++)
		test_stop(&pids[i], SIGTERM);
}

static void bench_system_stop_all(void)
{
	struct bench_system *s = bench_system_current;
	char cmd[128];

	if (s == NULL)
		return;
	bench_system_current = NULL;
	/* Gateways first, so that none sees its locks go away; each kind all at once. */
	bench_system_stop_group(s->gateways, s->ngateways);
	bench_system_stop_group(s->locks, s->nlocks);
	test_stop(&s->parkd_pid, SIGTERM);
	if (getenv("KEEP_TMP") != NULL) {
		fprintf(stderr, "%s: kept %s\n", s->name, s->dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: could not remove %s\n", s->name, s->dir);
}

void bench_system_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", bench_system_current != NULL ? bench_system_current->name :
		"bench");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (bench_system_current != NULL)
		fprintf(stderr, "%s: logs in %s (KEEP_TMP=1 keeps them)\n",
			bench_system_current->name, bench_system_current->dir);
	exit(1);
}

static void bench_system_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		bench_system_die("cannot write %s: %s", path, strerror(errno));
}

/* Interrupted: no program is left behind (async-signal-safe calls only). */
static void bench_system_signal(int sig)
{
	struct bench_system *s = bench_system_current;
	static const char msg[] = "bench: interrupted; left ";
	size_t i;
	int ok;

	if (s == NULL)
		_exit(128 + sig);
	for (i = 0; i < s->ngateways; i++)
		kill(s->gateways[i], SIGTERM);
	for (i = 0; i < s->nlocks; i++)
		kill(s->locks[i], SIGTERM);
	if (s->parkd_pid > 0)
		kill(s->parkd_pid, SIGTERM);
	/* Whether the message got out changes nothing: the exit is the same. */
	ok = write(STDERR_FILENO, msg, sizeof(msg) - 1) > 0 &&
	     write(STDERR_FILENO, s->dir, strlen(s->dir)) > 0 &&
	     write(STDERR_FILENO, "\n", 1) > 0;
	(void)ok;
	_exit(128 + sig);
}

void bench_system_init(struct bench_system *s, const char *name, const char *argv0)
{
	char text[1024];

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->parkd_pid = -1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, bench_system_signal);
	signal(SIGTERM, bench_system_signal);
	snprintf(s->dir, sizeof(s->dir), "/tmp/pb.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		bench_system_die("cannot make a temporary directory: %s", strerror(errno));
	bench_system_current = s;
	atexit(bench_system_stop_all);
	test_find_program(argv0, "PARKD", "parkd", s->parkd, sizeof(s->parkd));
	test_find_program(argv0, "PARKGW", "parkgw", s->parkgw, sizeof(s->parkgw));
	test_find_program(argv0, "PARKLOCKD", "parklockd", s->parklockd, sizeof(s->parklockd));
	snprintf(s->conf, sizeof(s->conf), "%s/parkd.conf", s->dir);
	snprintf(s->sms, sizeof(s->sms), "%s/sms.txt", s->dir);
	snprintf(s->parkd_log, sizeof(s->parkd_log), "%s/parkd.log", s->dir);
	/* Every driver registers from 127.0.0.1: the per-address SMS limit is lifted. */
	snprintf(text, sizeof(text), "data_dir = %s/parkd\nsms_sender = file:%s\n"
		 "password_cost = test\nsms_max_address = 1000000\n", s->dir, s->sms);
	bench_system_write(s->conf, text);
}

void bench_system_parkd(struct bench_system *s)
{
	const char *admin_args[] = { s->parkd, "--config", s->conf, "admin-create",
				     BENCH_SYSTEM_ADMIN_PHONE, NULL };
	const char *args[] = { "--config", s->conf, "--listen", "127.0.0.1:0", NULL };
	char *text = malloc(BENCH_SYSTEM_TEXT_MAX);
	double end;
	const char *p;
	int fds[2], fd;
	pid_t pid;

	if (text == NULL || pipe(fds) != 0)
		bench_system_die("out of memory or pipes");
	pid = fork();
	if (pid == 0) {
		fd = open(s->parkd_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fds[0], STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fds[1]);
		execv(s->parkd, (char *const *)(uintptr_t)admin_args);
		_exit(127);
	}
	close(fds[0]);
	if (write(fds[1], BENCH_SYSTEM_PASSWORD "\n", strlen(BENCH_SYSTEM_PASSWORD) + 1) !=
	    (ssize_t)strlen(BENCH_SYSTEM_PASSWORD) + 1)
		bench_system_die("cannot give parkd admin-create its password");
	close(fds[1]);
	if (pid < 0 || test_wait_exit(pid, BENCH_SYSTEM_WAIT_MS) != 0)
		bench_system_die("parkd admin-create failed; see %s", s->parkd_log);

	s->parkd_pid = test_spawn(s->parkd, args, s->parkd_log, s->parkd_log);
	end = bench_system_now_ms() + BENCH_SYSTEM_WAIT_MS;
	while (bench_system_now_ms() < end) {
		test_read_file(s->parkd_log, text, BENCH_SYSTEM_TEXT_MAX);
		p = strstr(text, " port ");
		if (p != NULL && strstr(p, "routes") != NULL) {
			snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", atoi(p + 6));
			free(text);
			return;
		}
		if (test_exited(s->parkd_pid)) {
			s->parkd_pid = -1;
			break;
		}
		test_sleep_ms(20);
	}
	free(text);
	bench_system_die("parkd did not start; see %s", s->parkd_log);
}

struct apiclient *bench_system_client(const struct bench_system *s, const char *token,
				      const atomic_int *cancel)
{
	struct apiclient_opts o;
	struct apiclient *c;

	memset(&o, 0, sizeof(o));
	o.base_url = s->base;
	o.timeout_ms = 30000;
	o.cancel = cancel;
	c = apiclient_new(&o);
	if (c == NULL || (token != NULL && apiclient_set_token(c, token) != 0))
		bench_system_die("cannot make an API client");
	return c;
}

int bench_system_call(struct apiclient *c, const char *method, const char *path,
		      const char *body, json_object **reply)
{
	struct apiclient_error e;
	json_object *b = NULL;
	int r;

	if (reply != NULL)
		*reply = NULL;
	if (body != NULL && (b = json_tokener_parse(body)) == NULL)
		bench_system_die("bad JSON for %s %s", method, path);
	r = apiclient_call(c, method, path, b, 0, 0, reply, &e);
	json_object_put(b);
	if (r == -APICLIENT_E_HTTP) {
		fprintf(stderr, "%s %s: %d %s: %s\n", method, path, e.status, e.code, e.detail);
		return e.status;
	}
	if (r < 0)
		fprintf(stderr, "%s %s: %s\n", method, path, e.detail);
	return r;
}

int64_t bench_system_int(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		bench_system_die("no %s in %s", key,
				 o != NULL ? json_object_to_json_string(o) : "(no reply)");
	return json_object_get_int64(v);
}

const char *bench_system_str(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		bench_system_die("no string %s in %s", key,
				 o != NULL ? json_object_to_json_string(o) : "(no reply)");
	return json_object_get_string(v);
}

void bench_system_login(const struct bench_system *s, const char *phone, char *token,
			size_t cap)
{
	struct apiclient *c = bench_system_client(s, NULL, NULL);
	json_object *r = NULL;
	char body[160];

	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"password\":\"%s\"}", phone,
		 BENCH_SYSTEM_PASSWORD);
	if (bench_system_call(c, "POST", "/v1/sessions", body, &r) != 201)
		bench_system_die("%s cannot log in", phone);
	snprintf(token, cap, "%s", bench_system_str(r, "token"));
	json_object_put(r);
	apiclient_free(c);
}

/* The newest SMS code sent to `phone`, into code[0..7). */
static void bench_system_sms_code(const struct bench_system *s, const char *phone, char code[7])
{
	char *text = malloc(BENCH_SYSTEM_TEXT_MAX), pat[40];
	const char *p, *last = NULL;

	if (text == NULL)
		bench_system_die("out of memory");
	test_read_file(s->sms, text, BENCH_SYSTEM_TEXT_MAX);
	snprintf(pat, sizeof(pat), "%s ", phone);
	for (p = strstr(text, pat); p != NULL; p = strstr(p + 1, pat))
		if (p == text || p[-1] == '\n')
			last = p;
	if (last == NULL)
		bench_system_die("no SMS to %s in %s", phone, s->sms);
	snprintf(code, 7, "%.6s", last + strlen(pat));
	free(text);
}

int64_t bench_system_register(const struct bench_system *s, const char *phone)
{
	struct apiclient *c = bench_system_client(s, NULL, NULL);
	json_object *r = NULL;
	char body[256], code[7];
	int64_t id;

	snprintf(body, sizeof(body), "{\"phone\":\"%s\"}", phone);
	if (bench_system_call(c, "POST", "/v1/accounts", body, NULL) != 202)
		bench_system_die("no SMS code for %s", phone);
	bench_system_sms_code(s, phone, code);
	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"code\":\"%s\",\"password\":\"%s\"}",
		 phone, code, BENCH_SYSTEM_PASSWORD);
	if (bench_system_call(c, "POST", "/v1/accounts/verify", body, &r) != 201)
		bench_system_die("%s could not verify its code", phone);
	id = bench_system_int(r, "user_id");
	json_object_put(r);
	apiclient_free(c);
	return id;
}

/* ---- locks and gateways ---- */

static void bench_system_track(pid_t *pids, size_t *n, pid_t pid)
{
	if (*n == BENCH_SYSTEM_PROCS_MAX) {
		kill(pid, SIGKILL);
		bench_system_die("more than %d programs of a kind", BENCH_SYSTEM_PROCS_MAX);
	}
	pids[(*n)++] = pid;
}

/* Writes g's garage file and starts its parklockd. */
static void bench_system_garage_start(struct bench_system *s, struct bench_garage *g,
				      unsigned index)
{
	char path[BENCH_SYSTEM_PATH_MAX], log[BENCH_SYSTEM_PATH_MAX];
	const char *args[] = { path, NULL };
	FILE *f;
	uint32_t i;

	snprintf(g->dir, sizeof(g->dir), "%s/%u", s->dir, index);
	snprintf(g->world, sizeof(g->world), "%s/world.sock", g->dir);
	snprintf(path, sizeof(path), "%s/garage%u.conf", s->dir, index);
	snprintf(log, sizeof(log), "%s/parklockd%u.log", s->dir, index);
	g->world_fd = -1;
	f = fopen(path, "w");
	if (f == NULL)
		bench_system_die("cannot write %s", path);
	fprintf(f, "site %u\ndir %s\n", (unsigned)g->site_id, g->dir);
	for (i = 0; i < g->count; i++)
		fprintf(f, "lock %u S%u\n", (unsigned)(g->first + i), (unsigned)(g->first + i));
	if (fclose(f) != 0)
		bench_system_die("cannot write %s", path);
	bench_system_track(s->locks, &s->nlocks, test_spawn(s->parklockd, args, log, log));
}

/* Waits for g's world socket and reads its locks' device keys. */
static void bench_system_garage_wait(struct bench_garage *g)
{
	char path[BENCH_SYSTEM_PATH_MAX];
	double end = bench_system_now_ms() + BENCH_SYSTEM_WAIT_MS;
	uint32_t i;

	if (!test_wait_socket(g->world, BENCH_SYSTEM_WAIT_MS))
		bench_system_die("the parklockd of %s did not start; see its log", g->dir);
	g->world_fd = test_connect_unix(g->world);
	g->pubs = calloc(g->count, sizeof(*g->pubs));
	if (g->world_fd < 0 || g->pubs == NULL)
		bench_system_die("cannot reach %s", g->world);
	for (i = 0; i < g->count; i++) {
		snprintf(path, sizeof(path), "%s/%u.pub", g->dir, (unsigned)(g->first + i));
		while (p256_load_public_hex(path, g->pubs[i]) != 0) {
			if (bench_system_now_ms() > end)
				bench_system_die("lock %u wrote no device key", g->first + i);
			test_sleep_ms(20);
		}
	}
}

void bench_system_garages(struct bench_system *s, struct bench_garage *g, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		bench_system_garage_start(s, &g[i], (unsigned)i);
	for (i = 0; i < n; i++)
		bench_system_garage_wait(&g[i]);
}

int bench_system_world(struct bench_garage *g, const char *cmd, char *reply, size_t cap)
{
	size_t len = strlen(cmd), have = 0;
	struct pollfd p;
	ssize_t n;
	char line[300];

	if (len + 1 >= sizeof(line) || cap < 2)
		return -1;
	memcpy(line, cmd, len);
	line[len++] = '\n';
	if (send(g->world_fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	/* One line back per command: read byte-wise up to its end, nothing beyond. */
	while (have + 1 < cap) {
		p.fd = g->world_fd;
		p.events = POLLIN;
		if (poll(&p, 1, TEST_PROC_WAIT_MS) <= 0)
			return -1;
		n = recv(g->world_fd, reply + have, 1, 0);
		if (n <= 0)
			return -1;
		if (reply[have++] == '\n')
			break;
	}
	reply[have] = '\0';
	return have > 0 && reply[have - 1] == '\n' ? 0 : -1;
}

void bench_system_provision(struct bench_system *s, struct apiclient *admin,
			    struct bench_garage *g)
{
	uint8_t frame[PROTO_FRAME_MAX], reply[PROTO_FRAME_MAX], site_pub[64];
	char path[BENCH_SYSTEM_PATH_MAX + 16];
	json_object *r = NULL;
	struct proto_msg m;
	struct lockconn l;
	size_t len;
	uint32_t i, spot;
	int n;

	(void)s;
	snprintf(path, sizeof(path), "/v1/sites/%u/provisioning", (unsigned)g->site_id);
	if (bench_system_call(admin, "GET", path, NULL, &r) != 200 ||
	    hex_decode(bench_system_str(r, "site_public_key"), site_pub, sizeof(site_pub)) != 64)
		bench_system_die("no provisioning data for site %u", (unsigned)g->site_id);
	json_object_put(r);
	for (i = 0; i < g->count; i++) {
		spot = g->first + i;
		snprintf(path, sizeof(path), "%s/%u.sock", g->dir, (unsigned)spot);
		if (lockconn_open_sim(&l, path) != 0 ||
		    lockconn_hello(&l, PROTO_MTU_MAX, &m.u.info, BENCH_SYSTEM_WAIT_MS) != 0)
			bench_system_die("cannot reach lock %u at %s", (unsigned)spot, path);
		len = test_frame_provision(g->site_id, spot, site_pub, frame, sizeof(frame));
		n = lockconn_request(&l, frame, len, reply, sizeof(reply), BENCH_SYSTEM_WAIT_MS);
		if (n <= 0 || proto_decode(reply, (size_t)n, &m) != 0 || m.type != PROTO_INFO ||
		    !(m.u.info.flags & PROTO_INFO_PROVISIONED))
			bench_system_die("lock %u refused PROVISION", (unsigned)spot);
		lockconn_close(&l);
	}
}

void bench_system_gateway_key(struct bench_system *s, unsigned index, uint8_t pub[64])
{
	char dir[BENCH_SYSTEM_PATH_MAX], out[BENCH_SYSTEM_PATH_MAX], log[BENCH_SYSTEM_PATH_MAX];
	char text[512];
	const char *args[] = { "--data-dir", dir, "--print-key", NULL };

	snprintf(dir, sizeof(dir), "%s/gw%u", s->dir, index);
	snprintf(out, sizeof(out), "%s/gw%u.key", s->dir, index);
	snprintf(log, sizeof(log), "%s/parkgw%u.log", s->dir, index);
	if (test_wait_exit(test_spawn(s->parkgw, args, out, log), BENCH_SYSTEM_WAIT_MS) != 0)
		bench_system_die("parkgw --print-key failed; see %s", log);
	test_read_file(out, text, sizeof(text));
	if (strlen(text) >= 128)
		text[128] = '\0'; /* the newline */
	if (hex_decode(text, pub, 64) != 64)
		bench_system_die("parkgw --print-key printed no key: '%s'", text);
}

void bench_system_gateway(struct bench_system *s, unsigned index, int64_t id)
{
	char dir[BENCH_SYSTEM_PATH_MAX], log[BENCH_SYSTEM_PATH_MAX], idtext[24];
	const char *args[] = { "--server", s->base, "--data-dir", dir, "--id", idtext, NULL };
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/gw%u", s->dir, index);
	snprintf(log, sizeof(log), "%s/parkgw%u.log", s->dir, index);
	snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
	pid = test_spawn(s->parkgw, args, log, log);
	bench_system_track(s->gateways, &s->ngateways, pid);
	test_sleep_ms(50);
	if (test_exited(pid))
		bench_system_die("parkgw %u exited at start; see %s", index, log);
}

/* ---- sites ---- */

static void bench_system_hex(FILE *f, const uint8_t *p, size_t n)
{
	char buf[129];

	if (n > 64 || hex_encode(p, n, buf, sizeof(buf)) < 0)
		bench_system_die("hex");
	fputs(buf, f);
}

void bench_system_site(struct bench_system *s, struct apiclient *admin,
		       const struct bench_garage *g, int64_t owner_id, int64_t gw_id,
		       const uint8_t gw_pub[64])
{
	char *text = NULL;
	size_t len = 0;
	json_object *r = NULL;
	FILE *f = open_memstream(&text, &len);
	uint32_t i, spot;

	(void)s;
	if (f == NULL)
		bench_system_die("out of memory");
	/* One aisle: every spot is reached from the junction J between entrance and exit. */
	fprintf(f, "{\"site_id\":%u,\"name\":\"Bench %u\",\"levels\":[{\"id\":\"L\",\"name\":"
		"\"Level\",\"width\":1000,\"height\":1000}],\"nodes\":["
		"{\"id\":\"E\",\"level\":\"L\",\"x\":0,\"y\":0,\"kind\":\"entrance\"},"
		"{\"id\":\"J\",\"level\":\"L\",\"x\":10,\"y\":0,\"kind\":\"junction\"},"
		"{\"id\":\"X\",\"level\":\"L\",\"x\":20,\"y\":0,\"kind\":\"exit\"}],"
		"\"lanes\":[[\"E\",\"J\"],[\"J\",\"X\"]],\"spots\":[", (unsigned)g->site_id,
		(unsigned)g->site_id);
	for (i = 0; i < g->count; i++) {
		spot = g->first + i;
		fprintf(f, "%s{\"id\":%u,\"name\":\"S%u\",\"level\":\"L\",\"x\":%u,\"y\":%u,"
			"\"node\":\"J\",", i > 0 ? "," : "", (unsigned)spot, (unsigned)spot,
			(unsigned)(1 + i % 30), (unsigned)(1 + i / 30));
		if (owner_id > 0)
			fprintf(f, "\"owner\":%lld,", (long long)owner_id);
		if (g->dir[0] != '\0')
			fprintf(f, "\"lock\":{\"address\":\"%s/%u.sock\",\"device_pub\":\"", g->dir,
				(unsigned)spot);
		else
			fprintf(f, "\"lock\":{\"address\":\"none/%u\",\"device_pub\":\"",
				(unsigned)spot);
		bench_system_hex(f, g->pubs[i], 64);
		fputs("\"}}", f);
	}
	fprintf(f, "],\"gateways\":[{\"id\":%lld,\"name\":\"gw%lld\",\"public_key\":\"",
		(long long)gw_id, (long long)gw_id);
	bench_system_hex(f, gw_pub, 64);
	fputs("\",\"covers\":[", f);
	for (i = 0; i < g->count; i++)
		fprintf(f, "%s%u", i > 0 ? "," : "", (unsigned)(g->first + i));
	fputs("]}]}", f);
	if (fclose(f) != 0)
		bench_system_die("out of memory");
	if (len > HTTP_BODY_MAX)
		bench_system_die("the description of site %u is %zu bytes, over parkd's request "
				 "limit of %d: fewer locks per site", (unsigned)g->site_id, len,
				 HTTP_BODY_MAX);
	if (bench_system_call(admin, "POST", "/v1/sites", text, &r) != 201)
		bench_system_die("site %u was not imported", (unsigned)g->site_id);
	json_object_put(r);
	free(text);
}

size_t bench_system_wait_online(struct apiclient *admin, const struct bench_garage *g,
				bool *online, long ms)
{
	double end = bench_system_now_ms() + (double)ms;
	json_object *r, *spots, *spot, *v, *id;
	char path[64];
	size_t i, n, count;
	int64_t at;

	snprintf(path, sizeof(path), "/v1/sites/%u", (unsigned)g->site_id);
	for (;;) {
		r = NULL;
		count = 0;
		if (online != NULL)
			memset(online, 0, g->count * sizeof(*online));
		if (bench_system_call(admin, "GET", path, NULL, &r) == 200 &&
		    json_object_object_get_ex(r, "spots", &spots)) {
			n = json_object_array_length(spots);
			for (i = 0; i < n; i++) {
				spot = json_object_array_get_idx(spots, i);
				if (!json_object_object_get_ex(spot, "online", &v) ||
				    !json_object_get_boolean(v) ||
				    !json_object_object_get_ex(spot, "id", &id))
					continue;
				at = json_object_get_int64(id) - (int64_t)g->first;
				if (at < 0 || at >= (int64_t)g->count)
					continue;
				count++;
				if (online != NULL)
					online[at] = true;
			}
		}
		json_object_put(r);
		if (count >= g->count || bench_system_now_ms() > end)
			return count;
		test_sleep_ms(200);
	}
}
