/*
 * test-stack.h: the set-up the whole-system benchmarks and tests share: the real parkd, parkgw
 * and parklockd (env PARKD, PARKGW, PARKLOCKD, else beside the benchmark, else
 * build/bin) in one temporary directory, an administrator, drivers registered through
 * the SMS file, sites imported with one gateway per garage, locks provisioned over the
 * sim transport; the event stream followed in a thread, and the events the benchmarks
 * time made at a steady rate (cars over the locks, stack_cars). What is measured, and
 * how, stays in each bench-*.c. A broken set-up is not a figure: stack_die() stops every
 * program started here and exits 1.
 */
#ifndef PARK_STACK_H
#define PARK_STACK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "../../lib/apiclient.h"

#define STACK_PASSWORD "correct horse battery"
#define STACK_ADMIN_PHONE "+8613900000000"
#define STACK_PROCS_MAX 32   /* parklockd processes, and parkgw processes */
#define STACK_PATH_MAX 160

/* One parklockd: a garage file of `count` locks, spots first..first + count - 1. */
struct stack_garage {
	uint32_t site_id;
	uint32_t first, count;                /* count <= GARAGE_LOCKS_MAX (256) */
	unsigned travel_ms;                   /* the barriers' travel time; 0: parklockd's */
	char dir[96];                         /* the locks' sockets and flash files */
	char world[STACK_PATH_MAX];    /* DIR/world.sock */
	int world_fd;                         /* a kept-open world connection, or -1 */
	uint8_t (*pubs)[64];                  /* count device keys: stack_garages()
					       * reads them (malloc'd), or the caller sets
					       * them for made-up locks */
};

struct stack {
	const char *name;                     /* the benchmark's, for messages */
	char dir[64];                         /* the temporary directory */
	char parkd[512], parkgw[512], parklockd[512], parkphoned[512], parkctl[512];
	char parkconsole[512];
	char conf[STACK_PATH_MAX], sms[STACK_PATH_MAX];
	char parkd_log[STACK_PATH_MAX];
	pid_t parkd_pid;
	char base[64];                        /* "http://127.0.0.1:PORT" */
	pid_t locks[STACK_PROCS_MAX];  /* parklockd processes */
	pid_t gateways[STACK_PROCS_MAX]; /* parkgw processes */
	pid_t phones[STACK_PROCS_MAX];  /* parkphoned processes */
	size_t nlocks, ngateways, nphones;
};

/* One phone: a parkphoned with its own data directory and control socket. */
struct stack_phone {
	char dir[STACK_PATH_MAX];     /* s->dir/NAME */
	char socket[STACK_PATH_MAX];  /* s->dir/NAME.sock */
	char log[STACK_PATH_MAX];     /* s->dir/NAME.log */
	pid_t pid;                    /* -1 when stopped */
};

/*
 * Makes the temporary directory (/tmp/pb.XXXXXX: short, for the UNIX socket paths that
 * site descriptions carry) and parkd's configuration, and finds the programs from
 * argv0. Registers an exit handler that stops every program and removes the directory
 * (kept when KEEP_TMP is set). `name` must outlive s.
 */
void stack_init(struct stack *s, const char *name, const char *argv0);

/* Prints "NAME: <message>", stops everything and exits 1. */
__attribute__((format(printf, 1, 2), noreturn))
void stack_die(const char *fmt, ...);

/* Creates the administrator (parkd admin-create), then starts parkd on a free port. */
void stack_parkd(struct stack *s);

/* Starts parkd again (after it was stopped) on the port it had, with its data. */
void stack_parkd_restart(struct stack *s);

/*
 * A client of parkd with `token` (NULL: none) whose requests and streams stop when
 * *cancel (may be NULL) rises; dies when it cannot be made.
 */
struct apiclient *stack_client(const struct stack *s, const char *token,
				      const atomic_int *cancel);

/*
 * Calls the API with `body` JSON text (NULL: none). Returns the HTTP status (2xx, or the
 * error status) with *reply (may be NULL) on success; a request that got no answer at
 * all returns the negative apiclient error.
 */
int stack_call(struct apiclient *c, const char *method, const char *path,
		      const char *body, json_object **reply);

/* Logs `phone` in; the session token into token[0..cap). Dies on failure. */
void stack_login(const struct stack *s, const char *phone, char *token,
			size_t cap);

/* Registers `phone` through the SMS code; returns the new user ID. Dies on failure. */
int64_t stack_register(const struct stack *s, const char *phone);

/*
 * The usual garage of the phone and console tests, after stack_parkd(): g's locks
 * (site_id, first, count and travel_ms set by the caller) factory-fresh, the site with
 * one gateway `gw_id` covering them all and owned by owner_id (0: nobody), the locks
 * provisioned, the gateway started, and every lock online. Dies on failure.
 */
void stack_site_up(struct stack *s, struct stack_garage *g, int64_t owner_id, int64_t gw_id);

/* Writes STACK_PASSWORD to s->dir/password, its path into path[0..cap). Dies on failure. */
void stack_password_file(const struct stack *s, char *path, size_t cap);

/* The newest SMS code sent to `phone`, into code[0..7); dies when there is none. */
void stack_sms_code(const struct stack *s, const char *phone, char code[7]);

/*
 * Starts parkphoned `name` against s's parkd (--data-dir, --socket, --log-level debug,
 * then `extra`, NULL-terminated, may be NULL) and waits for its socket. Dies on failure.
 */
void stack_phoned(struct stack *s, struct stack_phone *p, const char *name,
		  const char *const *extra);

/* Stops p's parkphoned (SIGTERM) and returns its exit status. */
int stack_phoned_stop(struct stack *s, struct stack_phone *p);

/*
 * Runs `parkctl --socket P ARGS...` (args NULL-terminated), stdout and stderr into
 * out[0..cap) (NUL-terminated); returns its exit status (-1 when it hung for 60 s).
 */
int stack_parkctl(const struct stack *s, const struct stack_phone *p, char *out, size_t cap,
		  const char *const *args);

/* Starts `parkctl --socket P ARGS...` in the background, its output to out_path. */
pid_t stack_parkctl_spawn(const struct stack *s, const struct stack_phone *p,
			  const char *out_path, const char *const *args);

/* The integer / string member `key` of o; dies when it is missing. */
int64_t stack_int(json_object *o, const char *key);
const char *stack_str(json_object *o, const char *key);

/*
 * Starts a parklockd for each of g[0..n) (site_id, first, count set by the caller; dir
 * and world are filled as "s->dir/INDEX"), factory-fresh, all at once, then waits for
 * each one's world socket and its locks' device keys.
 */
void stack_garages(struct stack *s, struct stack_garage *g, size_t n);

/* The site key returned by GET /v1/sites/ID/provisioning, then PROVISION to each lock. */
void stack_provision(struct stack *s, struct apiclient *admin,
			    struct stack_garage *g);

/* Makes gateway INDEX's key pair (parkgw --print-key) in s->dir/gwINDEX; pub into pub. */
void stack_gateway_key(struct stack *s, unsigned index, uint8_t pub[64]);

/* Starts parkgw INDEX as gateway `id` (its key made by stack_gateway_key()). */
void stack_gateway(struct stack *s, unsigned index, int64_t id);

/* stack_gateway() with more options for parkgw (NULL-terminated; NULL: none). */
void stack_gateway_with(struct stack *s, unsigned index, int64_t id, const char *const *extra);

/*
 * Imports site g->site_id: one level, entrance, junction, exit; g's spots (policy
 * anyone, owned by owner_id unless it is 0) with their locks at g->dir (or, when g->dir
 * is "", at made-up addresses: no lock runs); one gateway `gw_id` with `gw_pub`
 * covering them all. Dies unless parkd answers 201.
 */
void stack_site(struct stack *s, struct apiclient *admin,
		       const struct stack_garage *g, int64_t owner_id, int64_t gw_id,
		       const uint8_t gw_pub[64]);

/*
 * stack_site() for the locks of several garages in one site, `site_id` (each g[k] made
 * for it): their spots in g's order on the one level, and gateway gw_ids[k] with key
 * gw_pubs[k] covering g[k]'s spots, for k < n. The description may be up to parkd's
 * SITE_BODY_MAX (4 MiB, 4096 spots).
 */
void stack_site_garages(struct stack *s, struct apiclient *admin, uint32_t site_id,
			const struct stack_garage *g, size_t n, int64_t owner_id,
			const int64_t *gw_ids, const uint8_t (*gw_pubs)[64]);

/*
 * Waits up to ms until every spot of g's site is online as GET /v1/sites/ID shows it
 * (its gateway reaches the lock). Returns how many are; online[spot - g->first] (may be
 * NULL) tells which.
 */
size_t stack_wait_online(struct apiclient *admin, const struct stack_garage *g,
				bool *online, long ms);

/* A world command on g's kept-open connection; its one-line reply into reply. 0 or -1. */
int stack_world(struct stack_garage *g, const char *cmd, char *reply, size_t cap);

/* ---- the event stream and the events the benchmarks make ---- */

/* A subscriber of parkd's event stream in a thread of its own (stack_stream_start()). */
struct stack_stream {
	pthread_t thread;
	struct apiclient *c;
	atomic_int cancel, ready;
	atomic_llong last_us;         /* monotonic us of the last line other than "ready" */
	int result;                   /* apiclient_stream()'s: -APICLIENT_E_CANCELLED when
				       * stack_stream_stop() ended it */
	char path[128];
	/* Each line but "ready", in the stream's thread (0 to go on, as apiclient_stream()). */
	apiclient_event_fn on_event;
	void *arg;
};

/*
 * Follows `path` ("/v1/events", "/v1/events?site=1") as `token`, each line to
 * on_event(arg, ...), in a thread; returns once the stream's "ready" came. Dies when it
 * does not come within 10 s.
 */
void stack_stream_start(const struct stack *s, struct stack_stream *st, const char *token,
			const char *path, apiclient_event_fn on_event, void *arg);

/*
 * Waits until the stream has been silent for quiet_ms (the events of a start-up are in),
 * at most max_ms. Returns whether it was.
 */
bool stack_stream_quiet(struct stack_stream *st, long quiet_ms, long max_ms);

/* Ends the stream, joins its thread, frees its client. Returns st->result. */
int stack_stream_stop(struct stack_stream *st);

#define STACK_CARS_PENDING_MAX 8 /* world commands in flight per lock */

/* A world command whose event has not been seen yet. */
struct stack_car_pending {
	double sent_ms;  /* stack_now_ms() just before the command */
	bool arrived;    /* car_arrived, else car_left */
	bool counted;    /* made while counted (stack_cars_run() after its warm-up) */
};

struct stack_car_lock {
	struct stack_car_pending q[STACK_CARS_PENDING_MAX]; /* FIFO, oldest first */
	int n;
	bool car;        /* what the last command put over the spot */
};

/*
 * The events the benchmarks make: cars put over and taken off the locks of garages at a
 * steady rate by world command ("SPOT car present"), each command remembered until its
 * event (car_arrived, car_left) is seen, so that its time from the command can be taken
 * wherever it is seen. One thread makes the events, a stream's thread sees them; mu
 * guards what both touch. Locks are numbered 0..nlocks in g's order.
 */
struct stack_cars {
	pthread_mutex_t mu;
	struct stack_garage *g;
	size_t ng;
	struct stack_car_lock *locks;  /* nlocks, malloc'd */
	size_t nlocks;
	size_t *online;                /* the lock numbers commands go to (malloc'd) */
	size_t nonline;
	uint64_t rng;                  /* xorshift64: the same locks every run */
	long counted_sent;             /* counted commands sent ... */
	long counted_pending;          /* ... and not yet seen */
};

/* Makes c for the locks of g[0..n) (which must outlive c). Dies when out of memory. */
void stack_cars_init(struct stack_cars *c, struct stack_garage *g, size_t n);

void stack_cars_free(struct stack_cars *c);

/* The spot of lock number i. */
uint32_t stack_cars_spot(const struct stack_cars *c, size_t i);

/*
 * Waits up to ms until every lock is online through its gateway (GET /v1/sites/ID as
 * `admin`); the online ones become those the commands go to. Returns how many.
 */
size_t stack_cars_wait_online(struct stack_cars *c, struct apiclient *admin, long ms);

/*
 * Sends world commands at `rate` a second, to online locks picked at random, for
 * warmup_ms + measure_ms; those after the warm-up are counted. A command is due at
 * start + k / rate whatever the ones before took; a lock with STACK_CARS_PENDING_MAX
 * commands in flight is skipped. Every earlier command becomes uncounted first, and the
 * counts start from 0. Dies when a world command fails.
 */
void stack_cars_run(struct stack_cars *c, double rate, long warmup_ms, long measure_ms);

/*
 * A line of the stream: when it is the event of lock `spot`'s oldest command in flight
 * (`kind` car_arrived or car_left, as commanded), that command is done. Returns 1 with
 * *sent_ms (stack_now_ms() at the command) for a counted one, 0 for an uncounted one, -1
 * when the line is no such event.
 */
int stack_cars_seen(struct stack_cars *c, int64_t spot, const char *kind, double *sent_ms);

/*
 * Waits up to ms until every counted command has been seen. Returns how many were sent
 * (*sent, may be NULL) and how many were not seen.
 */
long stack_cars_drain(struct stack_cars *c, long ms, long *sent);

/* CPU seconds (user + system) process `pid` has used so far, from /proc; -1 if unknown. */
double stack_cpu_s(pid_t pid);

/* The value of counter `name` in parkd's GET /metrics; dies when it cannot be read. */
unsigned long long stack_metric(struct stack *s, const char *name);

/* Milliseconds on the monotonic clock, with fractions. */
double stack_now_ms(void);

#endif
