/*
 * test-stack.c: the whole-system set-up of the benchmarks and of the phone and console
 * tests; see test-stack.h. An installer's order, as tests/sim/test-system.c does it:
 * factory-fresh locks, parkd and its administrator, the site with the locks' and
 * gateways' keys, each lock provisioned, then the gateways; then the stream followed and
 * cars driven over the locks. Times are taken here, but nothing is made a figure.
 */
#include "test-stack.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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

#include <curl/curl.h>

#include "../../lib/hex.h"
#include "../../lib/p256.h"
#include "../../lib/lockconn.h"
#include "../../server/site.h"
#include "test-authority.h"
#include "test-proc.h"

#define STACK_WAIT_MS 30000
#define STACK_TEXT_MAX (1u << 20)

static struct stack *stack_current; /* what the exit handler stops */

double stack_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

double stack_cpu_s(pid_t pid)
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

static void stack_stop_group(pid_t *pids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (i = 0; i < n; i++)
		test_stop(&pids[i], SIGTERM);
}

static void stack_stop_all(void)
{
	struct stack *s = stack_current;
	char cmd[128];

	if (s == NULL)
		return;
	stack_current = NULL;
	/* Phones and gateways first, so that none sees its locks go away. */
	stack_stop_group(s->phones, s->nphones);
	stack_stop_group(s->gateways, s->ngateways);
	stack_stop_group(s->locks, s->nlocks);
	test_stop(&s->parkd_pid, SIGTERM);
	if (getenv("KEEP_TMP") != NULL) {
		fprintf(stderr, "%s: kept %s\n", s->name, s->dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: could not remove %s\n", s->name, s->dir);
}

void stack_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", stack_current != NULL ? stack_current->name :
		"bench");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (stack_current != NULL)
		fprintf(stderr, "%s: logs in %s (KEEP_TMP=1 keeps them)\n",
			stack_current->name, stack_current->dir);
	exit(1);
}

static void stack_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		stack_die("cannot write %s: %s", path, strerror(errno));
}

/* Interrupted: no program is left behind (async-signal-safe calls only). */
static void stack_signal(int sig)
{
	struct stack *s = stack_current;
	static const char msg[] = "bench: interrupted; left ";
	size_t i;
	int ok;

	if (s == NULL)
		_exit(128 + sig);
	for (i = 0; i < s->nphones; i++)
		kill(s->phones[i], SIGTERM);
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

void stack_init(struct stack *s, const char *name, const char *argv0)
{
	char text[1024];

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->parkd_pid = -1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, stack_signal);
	signal(SIGTERM, stack_signal);
	snprintf(s->dir, sizeof(s->dir), "/tmp/pb.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		stack_die("cannot make a temporary directory: %s", strerror(errno));
	stack_current = s;
	atexit(stack_stop_all);
	test_find_program(argv0, "PARKD", "parkd", s->parkd, sizeof(s->parkd));
	test_find_program(argv0, "PARKGW", "parkgw", s->parkgw, sizeof(s->parkgw));
	test_find_program(argv0, "PARKLOCKD", "parklockd", s->parklockd, sizeof(s->parklockd));
	test_find_program(argv0, "PARKPHONED", "parkphoned", s->parkphoned, sizeof(s->parkphoned));
	test_find_program(argv0, "PARKCTL", "parkctl", s->parkctl, sizeof(s->parkctl));
	test_find_program(argv0, "PARKCONSOLE", "parkconsole", s->parkconsole,
			  sizeof(s->parkconsole));
	snprintf(s->conf, sizeof(s->conf), "%s/parkd.conf", s->dir);
	snprintf(s->sms, sizeof(s->sms), "%s/sms.txt", s->dir);
	snprintf(s->parkd_log, sizeof(s->parkd_log), "%s/parkd.log", s->dir);
	/* Every driver registers from 127.0.0.1: the per-address SMS limit is lifted. */
	snprintf(text, sizeof(text), "data_dir = %s/parkd\nsms_sender = file:%s\n"
		 "password_cost = test\nsms_max_address = 1000000\n", s->dir, s->sms);
	stack_write(s->conf, text);
}

void stack_parkd(struct stack *s)
{
	const char *admin_args[] = { s->parkd, "--config", s->conf, "admin-create",
				     STACK_ADMIN_PHONE, NULL };
	const char *args[] = { "--config", s->conf, "--listen", "127.0.0.1:0", NULL };
	char *text = malloc(STACK_TEXT_MAX);
	double end;
	const char *p;
	int fds[2], fd;
	pid_t pid;

	if (text == NULL || pipe(fds) != 0)
		stack_die("out of memory or pipes");
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
	if (write(fds[1], STACK_PASSWORD "\n", strlen(STACK_PASSWORD) + 1) !=
	    (ssize_t)strlen(STACK_PASSWORD) + 1)
		stack_die("cannot give parkd admin-create its password");
	close(fds[1]);
	if (pid < 0 || test_wait_exit(pid, STACK_WAIT_MS) != 0)
		stack_die("parkd admin-create failed; see %s", s->parkd_log);

	s->parkd_pid = test_spawn(s->parkd, args, s->parkd_log, s->parkd_log);
	end = stack_now_ms() + STACK_WAIT_MS;
	while (stack_now_ms() < end) {
		test_read_file(s->parkd_log, text, STACK_TEXT_MAX);
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
	stack_die("parkd did not start; see %s", s->parkd_log);
}

void stack_parkd_restart(struct stack *s)
{
	char listen[48], *text = malloc(STACK_TEXT_MAX);
	const char *args[] = { "--config", s->conf, "--listen", listen, NULL };
	const char *port = strrchr(s->base, ':');
	size_t before;
	double end;

	if (text == NULL || port == NULL)
		stack_die("out of memory, or parkd never ran");
	snprintf(listen, sizeof(listen), "127.0.0.1:%s", port + 1);
	test_read_file(s->parkd_log, text, STACK_TEXT_MAX);
	before = strlen(text);
	s->parkd_pid = test_spawn(s->parkd, args, s->parkd_log, s->parkd_log);
	end = stack_now_ms() + STACK_WAIT_MS;
	while (stack_now_ms() < end && !test_exited(s->parkd_pid)) {
		test_read_file(s->parkd_log, text, STACK_TEXT_MAX);
		/* Its own start line, after what the log held before. */
		if (strlen(text) > before && strstr(text + before, " port ") != NULL &&
		    strstr(strstr(text + before, " port "), "routes") != NULL) {
			free(text);
			return;
		}
		test_sleep_ms(20);
	}
	free(text);
	stack_die("parkd did not start again; see %s", s->parkd_log);
}

struct apiclient *stack_client(const struct stack *s, const char *token,
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
		stack_die("cannot make an API client");
	return c;
}

int stack_call(struct apiclient *c, const char *method, const char *path,
		      const char *body, json_object **reply)
{
	struct apiclient_error e;
	json_object *b = NULL;
	int r;

	if (reply != NULL)
		*reply = NULL;
	if (body != NULL && (b = json_tokener_parse(body)) == NULL)
		stack_die("bad JSON for %s %s", method, path);
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

int64_t stack_int(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		stack_die("no %s in %s", key,
				 o != NULL ? json_object_to_json_string(o) : "(no reply)");
	return json_object_get_int64(v);
}

const char *stack_str(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		stack_die("no string %s in %s", key,
				 o != NULL ? json_object_to_json_string(o) : "(no reply)");
	return json_object_get_string(v);
}

void stack_login(const struct stack *s, const char *phone, char *token,
			size_t cap)
{
	struct apiclient *c = stack_client(s, NULL, NULL);
	json_object *r = NULL;
	char body[160];

	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"password\":\"%s\"}", phone,
		 STACK_PASSWORD);
	if (stack_call(c, "POST", "/v1/sessions", body, &r) != 201)
		stack_die("%s cannot log in", phone);
	snprintf(token, cap, "%s", stack_str(r, "token"));
	json_object_put(r);
	apiclient_free(c);
}

void stack_sms_code(const struct stack *s, const char *phone, char code[7])
{
	char *text = malloc(STACK_TEXT_MAX), pat[40];
	const char *p, *last = NULL;

	if (text == NULL)
		stack_die("out of memory");
	test_read_file(s->sms, text, STACK_TEXT_MAX);
	snprintf(pat, sizeof(pat), "%s ", phone);
	for (p = strstr(text, pat); p != NULL; p = strstr(p + 1, pat))
		if (p == text || p[-1] == '\n')
			last = p;
	if (last == NULL)
		stack_die("no SMS to %s in %s", phone, s->sms);
	snprintf(code, 7, "%.6s", last + strlen(pat));
	free(text);
}

int64_t stack_register(const struct stack *s, const char *phone)
{
	struct apiclient *c = stack_client(s, NULL, NULL);
	json_object *r = NULL;
	char body[256], code[7];
	int64_t id;

	snprintf(body, sizeof(body), "{\"phone\":\"%s\"}", phone);
	if (stack_call(c, "POST", "/v1/accounts", body, NULL) != 202)
		stack_die("no SMS code for %s", phone);
	stack_sms_code(s, phone, code);
	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"code\":\"%s\",\"password\":\"%s\"}",
		 phone, code, STACK_PASSWORD);
	if (stack_call(c, "POST", "/v1/accounts/verify", body, &r) != 201)
		stack_die("%s could not verify its code", phone);
	id = stack_int(r, "user_id");
	json_object_put(r);
	apiclient_free(c);
	return id;
}

/* ---- locks and gateways ---- */

static void stack_track(pid_t *pids, size_t *n, pid_t pid)
{
	if (*n == STACK_PROCS_MAX) {
		kill(pid, SIGKILL);
		stack_die("more than %d programs of a kind", STACK_PROCS_MAX);
	}
	pids[(*n)++] = pid;
}

/* Writes g's garage file and starts its parklockd. */
static void stack_garage_start(struct stack *s, struct stack_garage *g,
				      unsigned index)
{
	char path[STACK_PATH_MAX], log[STACK_PATH_MAX], travel[16];
	const char *args[] = { path, NULL, NULL, NULL };
	FILE *f;
	uint32_t i;

	if (g->travel_ms > 0) {
		snprintf(travel, sizeof(travel), "%u", g->travel_ms);
		args[0] = "--travel-ms";
		args[1] = travel;
		args[2] = path;
	}
	snprintf(g->dir, sizeof(g->dir), "%s/%u", s->dir, index);
	snprintf(g->world, sizeof(g->world), "%s/world.sock", g->dir);
	snprintf(path, sizeof(path), "%s/garage%u.conf", s->dir, index);
	snprintf(log, sizeof(log), "%s/parklockd%u.log", s->dir, index);
	g->world_fd = -1;
	f = fopen(path, "w");
	if (f == NULL)
		stack_die("cannot write %s", path);
	fprintf(f, "site %u\ndir %s\n", (unsigned)g->site_id, g->dir);
	for (i = 0; i < g->count; i++)
		fprintf(f, "lock %u S%u\n", (unsigned)(g->first + i), (unsigned)(g->first + i));
	if (fclose(f) != 0)
		stack_die("cannot write %s", path);
	stack_track(s->locks, &s->nlocks, test_spawn(s->parklockd, args, log, log));
}

/* Waits for g's world socket and reads its locks' device keys. */
static void stack_garage_wait(struct stack_garage *g)
{
	char path[STACK_PATH_MAX];
	double end = stack_now_ms() + STACK_WAIT_MS;
	uint32_t i;

	if (!test_wait_socket(g->world, STACK_WAIT_MS))
		stack_die("the parklockd of %s did not start; see its log", g->dir);
	g->world_fd = test_connect_unix(g->world);
	g->pubs = calloc(g->count, sizeof(*g->pubs));
	if (g->world_fd < 0 || g->pubs == NULL)
		stack_die("cannot reach %s", g->world);
	for (i = 0; i < g->count; i++) {
		snprintf(path, sizeof(path), "%s/%u.pub", g->dir, (unsigned)(g->first + i));
		while (p256_load_public_hex(path, g->pubs[i]) != 0) {
			if (stack_now_ms() > end)
				stack_die("lock %u wrote no device key", g->first + i);
			test_sleep_ms(20);
		}
	}
}

void stack_garages(struct stack *s, struct stack_garage *g, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		stack_garage_start(s, &g[i], (unsigned)i);
	for (i = 0; i < n; i++)
		stack_garage_wait(&g[i]);
}

int stack_world(struct stack_garage *g, const char *cmd, char *reply, size_t cap)
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

void stack_provision(struct stack *s, struct apiclient *admin,
			    struct stack_garage *g)
{
	uint8_t frame[PROTO_FRAME_MAX], reply[PROTO_FRAME_MAX], site_pub[64];
	char path[STACK_PATH_MAX + 16];
	json_object *r = NULL;
	struct proto_msg m;
	struct lockconn l;
	size_t len;
	uint32_t i, spot;
	int n;

	(void)s;
	snprintf(path, sizeof(path), "/v1/sites/%u/provisioning", (unsigned)g->site_id);
	if (stack_call(admin, "GET", path, NULL, &r) != 200 ||
	    hex_decode(stack_str(r, "site_public_key"), site_pub, sizeof(site_pub)) != 64)
		stack_die("no provisioning data for site %u", (unsigned)g->site_id);
	json_object_put(r);
	for (i = 0; i < g->count; i++) {
		spot = g->first + i;
		snprintf(path, sizeof(path), "%s/%u.sock", g->dir, (unsigned)spot);
		if (lockconn_open_sim(&l, path) != 0 ||
		    lockconn_hello(&l, PROTO_MTU_MAX, &m.u.info, STACK_WAIT_MS) != 0)
			stack_die("cannot reach lock %u at %s", (unsigned)spot, path);
		len = test_frame_provision(g->site_id, spot, site_pub, frame, sizeof(frame));
		n = lockconn_request(&l, frame, len, reply, sizeof(reply), STACK_WAIT_MS);
		if (n <= 0 || proto_decode(reply, (size_t)n, &m) != 0 || m.type != PROTO_INFO ||
		    !(m.u.info.flags & PROTO_INFO_PROVISIONED))
			stack_die("lock %u refused PROVISION", (unsigned)spot);
		lockconn_close(&l);
	}
}

void stack_gateway_key(struct stack *s, unsigned index, uint8_t pub[64])
{
	char dir[STACK_PATH_MAX], out[STACK_PATH_MAX], log[STACK_PATH_MAX];
	char text[512];
	const char *args[] = { "--data-dir", dir, "--print-key", NULL };

	snprintf(dir, sizeof(dir), "%s/gw%u", s->dir, index);
	snprintf(out, sizeof(out), "%s/gw%u.key", s->dir, index);
	snprintf(log, sizeof(log), "%s/parkgw%u.log", s->dir, index);
	if (test_wait_exit(test_spawn(s->parkgw, args, out, log), STACK_WAIT_MS) != 0)
		stack_die("parkgw --print-key failed; see %s", log);
	test_read_file(out, text, sizeof(text));
	if (strlen(text) >= 128)
		text[128] = '\0'; /* the newline */
	if (hex_decode(text, pub, 64) != 64)
		stack_die("parkgw --print-key printed no key: '%s'", text);
}

void stack_gateway(struct stack *s, unsigned index, int64_t id)
{
	stack_gateway_with(s, index, id, NULL);
}

void stack_gateway_with(struct stack *s, unsigned index, int64_t id, const char *const *extra)
{
	char dir[STACK_PATH_MAX], log[STACK_PATH_MAX], idtext[24];
	const char *args[24] = { "--server", s->base, "--data-dir", dir, "--id", idtext };
	size_t n = 6;
	pid_t pid;

	while (extra != NULL && *extra != NULL && n < 23)
		args[n++] = *extra++;
	args[n] = NULL;
	snprintf(dir, sizeof(dir), "%s/gw%u", s->dir, index);
	snprintf(log, sizeof(log), "%s/parkgw%u.log", s->dir, index);
	snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
	pid = test_spawn(s->parkgw, args, log, log);
	stack_track(s->gateways, &s->ngateways, pid);
	test_sleep_ms(50);
	if (test_exited(pid))
		stack_die("parkgw %u exited at start; see %s", index, log);
}

/* ---- the usual garage ---- */

void stack_site_up(struct stack *s, struct stack_garage *g, int64_t owner_id, int64_t gw_id)
{
	struct apiclient *admin;
	uint8_t gw_pub[64];
	char token[160];

	stack_login(s, STACK_ADMIN_PHONE, token, sizeof(token));
	admin = stack_client(s, token, NULL);
	stack_garages(s, g, 1);
	stack_gateway_key(s, 0, gw_pub);
	stack_site(s, admin, g, owner_id, gw_id, gw_pub);
	stack_provision(s, admin, g);
	stack_gateway(s, 0, gw_id);
	if (stack_wait_online(admin, g, NULL, STACK_WAIT_MS) < g->count)
		stack_die("the locks of site %u did not come online", (unsigned)g->site_id);
	apiclient_free(admin);
}

void stack_password_file(const struct stack *s, char *path, size_t cap)
{
	snprintf(path, cap, "%s/password", s->dir);
	stack_write(path, STACK_PASSWORD "\n");
}

/* ---- phones ---- */

void stack_phoned(struct stack *s, struct stack_phone *p, const char *name,
		  const char *const *extra)
{
	const char *args[32] = { "--server", s->base, "--data-dir", p->dir, "--socket",
				 p->socket, "--log-level", "debug" };
	size_t n = 8;

	snprintf(p->dir, sizeof(p->dir), "%s/%s", s->dir, name);
	snprintf(p->socket, sizeof(p->socket), "%s/%s.sock", s->dir, name);
	snprintf(p->log, sizeof(p->log), "%s/%s.log", s->dir, name);
	while (extra != NULL && *extra != NULL && n < 31)
		args[n++] = *extra++;
	args[n] = NULL;
	p->pid = test_spawn(s->parkphoned, args, p->log, p->log);
	stack_track(s->phones, &s->nphones, p->pid);
	if (!test_wait_socket(p->socket, STACK_WAIT_MS))
		stack_die("parkphoned %s did not open %s; see %s", name, p->socket, p->log);
}

int stack_phoned_stop(struct stack *s, struct stack_phone *p)
{
	size_t i;

	for (i = 0; i < s->nphones; i++)
		if (s->phones[i] == p->pid)
			s->phones[i] = s->phones[--s->nphones];
	return test_stop(&p->pid, SIGTERM);
}

static void stack_parkctl_args(const struct stack_phone *p, const char *const *args,
			       const char **argv)
{
	size_t n = 0;

	argv[n++] = "--socket";
	argv[n++] = p->socket;
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
}

pid_t stack_parkctl_spawn(const struct stack *s, const struct stack_phone *p,
			  const char *out_path, const char *const *args)
{
	const char *argv[32];

	stack_parkctl_args(p, args, argv);
	return test_spawn(s->parkctl, argv, out_path, out_path);
}

int stack_parkctl(const struct stack *s, const struct stack_phone *p, char *out, size_t cap,
		  const char *const *args)
{
	char path[STACK_PATH_MAX];
	pid_t pid;
	int r;

	snprintf(path, sizeof(path), "%s/parkctl.out", s->dir);
	(void)unlink(path);
	pid = stack_parkctl_spawn(s, p, path, args);
	r = test_wait_exit(pid, 60000);
	out[0] = '\0';
	test_read_file(path, out, cap);
	return r;
}

/* ---- sites ---- */

static void stack_hex(FILE *f, const uint8_t *p, size_t n)
{
	char buf[129];

	if (n > 64 || hex_encode(p, n, buf, sizeof(buf)) < 0)
		stack_die("hex");
	fputs(buf, f);
}

void stack_site(struct stack *s, struct apiclient *admin,
		       const struct stack_garage *g, int64_t owner_id, int64_t gw_id,
		       const uint8_t gw_pub[64])
{
	uint8_t pubs[1][64];

	memcpy(pubs[0], gw_pub, sizeof(pubs[0]));
	stack_site_garages(s, admin, g->site_id, g, 1, owner_id, &gw_id,
			   (const uint8_t (*)[64])pubs);
}

void stack_site_garages(struct stack *s, struct apiclient *admin, uint32_t site_id,
			const struct stack_garage *g, size_t n, int64_t owner_id,
			const int64_t *gw_ids, const uint8_t (*gw_pubs)[64])
{
	char *text = NULL;
	size_t len = 0, k, at = 0, count = 0;
	json_object *r = NULL;
	FILE *f = open_memstream(&text, &len);
	uint32_t i, spot;

	(void)s;
	if (f == NULL)
		stack_die("out of memory");
	for (k = 0; k < n; k++)
		count += g[k].count;
	/* One aisle: every spot is reached from the junction J between entrance and exit. */
	/* A plan just big enough: rows of 30 spots south of the aisle. */
	fprintf(f, "{\"site_id\":%u,\"name\":\"Bench %u\",\"levels\":[{\"id\":\"L\",\"name\":"
		"\"Level\",\"width\":32,\"height\":%u}],\"nodes\":["
		"{\"id\":\"E\",\"level\":\"L\",\"x\":0,\"y\":0,\"kind\":\"entrance\"},"
		"{\"id\":\"J\",\"level\":\"L\",\"x\":10,\"y\":0,\"kind\":\"junction\"},"
		"{\"id\":\"X\",\"level\":\"L\",\"x\":20,\"y\":0,\"kind\":\"exit\"}],"
		"\"lanes\":[[\"E\",\"J\"],[\"J\",\"X\"]],\"spots\":[", (unsigned)site_id,
		(unsigned)site_id, (unsigned)(3 + (count + 29) / 30));
	for (k = 0; k < n; k++) {
		for (i = 0; i < g[k].count; i++, at++) {
			spot = g[k].first + i;
			fprintf(f, "%s{\"id\":%u,\"name\":\"S%u\",\"level\":\"L\",\"x\":%u,"
				"\"y\":%u,\"node\":\"J\",", at > 0 ? "," : "", (unsigned)spot,
				(unsigned)spot, (unsigned)(1 + at % 30), (unsigned)(1 + at / 30));
			if (owner_id > 0)
				fprintf(f, "\"owner\":%lld,", (long long)owner_id);
			if (g[k].dir[0] != '\0')
				fprintf(f, "\"lock\":{\"address\":\"%s/%u.sock\",\"device_pub\":\"",
					g[k].dir, (unsigned)spot);
			else
				fprintf(f, "\"lock\":{\"address\":\"none/%u\",\"device_pub\":\"",
					(unsigned)spot);
			stack_hex(f, g[k].pubs[i], 64);
			fputs("\"}}", f);
		}
	}
	fputs("],\"gateways\":[", f);
	for (k = 0; k < n; k++) {
		fprintf(f, "%s{\"id\":%lld,\"name\":\"gw%lld\",\"public_key\":\"",
			k > 0 ? "," : "", (long long)gw_ids[k], (long long)gw_ids[k]);
		stack_hex(f, gw_pubs[k], 64);
		fputs("\",\"covers\":[", f);
		for (i = 0; i < g[k].count; i++)
			fprintf(f, "%s%u", i > 0 ? "," : "", (unsigned)(g[k].first + i));
		fputs("]}", f);
	}
	fputs("]}", f);
	if (fclose(f) != 0)
		stack_die("out of memory");
	if (len > SITE_BODY_MAX)
		stack_die("the description of site %u is %zu bytes, over parkd's limit for "
			  "one of %u: fewer locks per site", (unsigned)site_id, len,
			  (unsigned)SITE_BODY_MAX);
	if (stack_call(admin, "POST", "/v1/sites", text, &r) != 201)
		stack_die("site %u was not imported", (unsigned)site_id);
	json_object_put(r);
	free(text);
}

size_t stack_wait_online(struct apiclient *admin, const struct stack_garage *g,
				bool *online, long ms)
{
	double end = stack_now_ms() + (double)ms;
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
		if (stack_call(admin, "GET", path, NULL, &r) == 200 &&
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
		if (count >= g->count || stack_now_ms() > end)
			return count;
		test_sleep_ms(200);
	}
}

/* ---- the event stream ---- */

static int stack_stream_line(void *arg, const char *event, const char *data)
{
	struct stack_stream *st = arg;

	if (strcmp(event, "ready") == 0) {
		atomic_store(&st->ready, 1);
		return 0;
	}
	atomic_store(&st->last_us, (long long)(stack_now_ms() * 1000.0));
	return st->on_event(st->arg, event, data);
}

static void *stack_stream_main(void *arg)
{
	struct stack_stream *st = arg;
	struct apiclient_error e;

	st->result = apiclient_stream(st->c, st->path, 0, stack_stream_line, st, &e);
	return NULL;
}

void stack_stream_start(const struct stack *s, struct stack_stream *st, const char *token,
			const char *path, apiclient_event_fn on_event, void *arg)
{
	double end;

	memset(st, 0, sizeof(*st));
	snprintf(st->path, sizeof(st->path), "%s", path);
	st->on_event = on_event;
	st->arg = arg;
	atomic_store(&st->last_us, (long long)(stack_now_ms() * 1000.0));
	st->c = stack_client(s, token, &st->cancel);
	if (pthread_create(&st->thread, NULL, stack_stream_main, st) != 0)
		stack_die("cannot start the subscriber of %s", path);
	end = stack_now_ms() + 10000;
	while (!atomic_load(&st->ready) && stack_now_ms() < end)
		test_sleep_ms(10);
	if (!atomic_load(&st->ready))
		stack_die("the event stream %s did not open", path);
}

bool stack_stream_quiet(struct stack_stream *st, long quiet_ms, long max_ms)
{
	double end = stack_now_ms() + (double)max_ms;

	for (;;) {
		if (stack_now_ms() - (double)atomic_load(&st->last_us) / 1000.0 >= (double)quiet_ms)
			return true;
		if (stack_now_ms() > end)
			return false;
		test_sleep_ms(50);
	}
}

int stack_stream_stop(struct stack_stream *st)
{
	atomic_store(&st->cancel, 1);
	pthread_join(st->thread, NULL);
	apiclient_free(st->c);
	st->c = NULL;
	return st->result;
}

/* ---- cars over the locks ---- */

void stack_cars_init(struct stack_cars *c, struct stack_garage *g, size_t n)
{
	size_t k;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->g = g;
	c->ng = n;
	for (k = 0; k < n; k++)
		c->nlocks += g[k].count;
	c->locks = calloc(c->nlocks, sizeof(*c->locks));
	c->online = calloc(c->nlocks, sizeof(*c->online));
	if (c->locks == NULL || c->online == NULL)
		stack_die("out of memory");
	c->rng = 0x9e3779b97f4a7c15u;
}

void stack_cars_free(struct stack_cars *c)
{
	free(c->locks);
	free(c->online);
	pthread_mutex_destroy(&c->mu);
	memset(c, 0, sizeof(*c));
}

/* The garage of lock number i, and i's place in it. */
static struct stack_garage *stack_cars_garage(const struct stack_cars *c, size_t i, uint32_t *at)
{
	size_t k;

	for (k = 0; k < c->ng; k++) {
		if (i < c->g[k].count) {
			*at = (uint32_t)i;
			return &c->g[k];
		}
		i -= c->g[k].count;
	}
	stack_die("no lock number %zu", i);
}

uint32_t stack_cars_spot(const struct stack_cars *c, size_t i)
{
	uint32_t at;
	const struct stack_garage *g = stack_cars_garage(c, i, &at);

	return g->first + at;
}

/* The lock number of `spot`, or -1. */
static long stack_cars_index(const struct stack_cars *c, int64_t spot)
{
	size_t k, base = 0;

	for (k = 0; k < c->ng; base += c->g[k].count, k++)
		if (spot >= (int64_t)c->g[k].first && spot < (int64_t)c->g[k].first + c->g[k].count)
			return (long)(base + (size_t)(spot - c->g[k].first));
	return -1;
}

size_t stack_cars_wait_online(struct stack_cars *c, struct apiclient *admin, long ms)
{
	double end = stack_now_ms() + (double)ms, t;
	size_t k, i, base = 0;
	bool *online = calloc(c->nlocks, sizeof(*online));

	if (online == NULL)
		stack_die("out of memory");
	c->nonline = 0;
	/* One deadline for all: the garages come online together. */
	for (k = 0; k < c->ng; base += c->g[k].count, k++) {
		t = end - stack_now_ms();
		stack_wait_online(admin, &c->g[k], online + base, t > 0 ? (long)t : 0);
		for (i = 0; i < c->g[k].count; i++)
			if (online[base + i])
				c->online[c->nonline++] = base + i;
	}
	free(online);
	return c->nonline;
}

/* Toggles the car over lock i: the pending entry first, so the event cannot beat it. */
static void stack_cars_toggle(struct stack_cars *c, size_t i, bool counted)
{
	struct stack_car_lock *l = &c->locks[i];
	struct stack_car_pending *p;
	struct stack_garage *g;
	char cmd[64], reply[1024];
	uint32_t at;

	g = stack_cars_garage(c, i, &at);
	pthread_mutex_lock(&c->mu);
	if (l->n == STACK_CARS_PENDING_MAX) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	l->car = !l->car;
	p = &l->q[l->n++];
	p->arrived = l->car;
	p->counted = counted;
	c->counted_pending += counted;
	c->counted_sent += counted;
	snprintf(cmd, sizeof(cmd), "%u car %s", (unsigned)(g->first + at),
		 l->car ? "present" : "absent");
	p->sent_ms = stack_now_ms();
	pthread_mutex_unlock(&c->mu);
	if (stack_world(g, cmd, reply, sizeof(reply)) != 0 ||
	    strstr(reply, "\"ok\":true") == NULL)
		stack_die("world command '%s' failed: %s", cmd, reply);
}

static uint64_t stack_cars_random(struct stack_cars *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

static void stack_sleep_until(double t_ms)
{
	double now = stack_now_ms();

	if (t_ms > now)
		usleep((useconds_t)((t_ms - now) * 1000.0));
}

void stack_cars_run(struct stack_cars *c, double rate, long warmup_ms, long measure_ms)
{
	double t, t0, interval = 1000.0 / rate;
	long commands = 0;
	size_t i;
	int j;

	if (c->nonline == 0)
		stack_die("no lock is online to send cars to");
	pthread_mutex_lock(&c->mu);
	/* What an earlier run lost, should it still come, is not this run's. */
	for (i = 0; i < c->nlocks; i++)
		for (j = 0; j < c->locks[i].n; j++)
			c->locks[i].q[j].counted = false;
	c->counted_sent = c->counted_pending = 0;
	pthread_mutex_unlock(&c->mu);
	/* Steady rate: command n is due at t0 + n * interval, whatever the last one took. */
	t0 = stack_now_ms();
	for (t = t0; t < t0 + (double)(warmup_ms + measure_ms); t = t0 + (double)commands * interval) {
		stack_sleep_until(t);
		i = c->online[stack_cars_random(c) % c->nonline];
		stack_cars_toggle(c, i, stack_now_ms() >= t0 + (double)warmup_ms);
		commands++;
	}
}

int stack_cars_seen(struct stack_cars *c, int64_t spot, const char *kind, double *sent_ms)
{
	long i = stack_cars_index(c, spot);
	bool arrived = strcmp(kind, "car_arrived") == 0;
	struct stack_car_lock *l;
	int r = -1;

	pthread_mutex_lock(&c->mu);
	l = i >= 0 ? &c->locks[i] : NULL;
	if (l != NULL && l->n > 0 && (arrived || strcmp(kind, "car_left") == 0) &&
	    l->q[0].arrived == arrived) {
		r = l->q[0].counted ? 1 : 0;
		if (r == 1) {
			*sent_ms = l->q[0].sent_ms;
			c->counted_pending--;
		}
		memmove(&l->q[0], &l->q[1], (size_t)(l->n - 1) * sizeof(l->q[0]));
		l->n--;
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

long stack_cars_drain(struct stack_cars *c, long ms, long *sent)
{
	double end = stack_now_ms() + (double)ms;
	long left;

	do {
		usleep(20000);
		pthread_mutex_lock(&c->mu);
		left = c->counted_pending;
		pthread_mutex_unlock(&c->mu);
	} while (left > 0 && stack_now_ms() < end);
	pthread_mutex_lock(&c->mu);
	if (sent != NULL)
		*sent = c->counted_sent;
	left = c->counted_pending;
	pthread_mutex_unlock(&c->mu);
	return left;
}

/* ---- metrics ---- */

struct stack_text {
	char buf[16384];
	size_t len;
};

static size_t stack_text_add(char *p, size_t size, size_t n, void *arg)
{
	struct stack_text *t = arg;
	size_t len = size * n;

	if (len >= sizeof(t->buf) - t->len)
		return 0; /* too long: the transfer fails */
	memcpy(t->buf + t->len, p, len);
	t->len += len;
	t->buf[t->len] = '\0';
	return len;
}

unsigned long long stack_metric(struct stack *s, const char *name)
{
	static struct stack_text text;
	char url[128], key[96];
	const char *p;
	CURL *c = curl_easy_init();
	long status = 0;

	text.len = 0;
	text.buf[0] = '\0';
	snprintf(url, sizeof(url), "%s/metrics", s->base);
	if (c == NULL || curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stack_text_add) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &text) != CURLE_OK ||
	    curl_easy_perform(c) != CURLE_OK ||
	    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200)
		stack_die("GET /metrics failed");
	curl_easy_cleanup(c);
	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(text.buf, key);
	if (p == NULL)
		stack_die("/metrics has no %s", name);
	return strtoull(p + strlen(key), NULL, 10);
}
