/*
 * bench-system.h: the set-up the whole-system benchmarks share: the real parkd, parkgw
 * and parklockd (env PARKD, PARKGW, PARKLOCKD, else beside the benchmark, else
 * build/bin) in one temporary directory, an administrator, drivers registered through
 * the SMS file, sites imported with one gateway each, locks provisioned over the sim
 * transport. What is measured, and how, stays in each bench-*.c. A broken set-up is not
 * a figure: bench_system_die() stops every program started here and exits 1.
 */
#ifndef PARK_BENCH_SYSTEM_H
#define PARK_BENCH_SYSTEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "../../lib/apiclient.h"

#define BENCH_SYSTEM_PASSWORD "correct horse battery"
#define BENCH_SYSTEM_ADMIN_PHONE "+8613900000000"
#define BENCH_SYSTEM_PROCS_MAX 32   /* parklockd processes, and parkgw processes */
#define BENCH_SYSTEM_PATH_MAX 160

/* One parklockd: a garage file of `count` locks, spots first..first + count - 1. */
struct bench_garage {
	uint32_t site_id;
	uint32_t first, count;                /* count <= GARAGE_LOCKS_MAX (256) */
	char dir[96];                         /* the locks' sockets and flash files */
	char world[BENCH_SYSTEM_PATH_MAX];    /* DIR/world.sock */
	int world_fd;                         /* a kept-open world connection, or -1 */
	uint8_t (*pubs)[64];                  /* count device keys: bench_system_garages()
					       * reads them (malloc'd), or the caller sets
					       * them for made-up locks */
};

struct bench_system {
	const char *name;                     /* the benchmark's, for messages */
	char dir[64];                         /* the temporary directory */
	char parkd[512], parkgw[512], parklockd[512];
	char conf[BENCH_SYSTEM_PATH_MAX], sms[BENCH_SYSTEM_PATH_MAX];
	char parkd_log[BENCH_SYSTEM_PATH_MAX];
	pid_t parkd_pid;
	char base[64];                        /* "http://127.0.0.1:PORT" */
	pid_t locks[BENCH_SYSTEM_PROCS_MAX];  /* parklockd processes */
	pid_t gateways[BENCH_SYSTEM_PROCS_MAX]; /* parkgw processes */
	size_t nlocks, ngateways;
};

/*
 * Makes the temporary directory (/tmp/pb.XXXXXX: short, for the UNIX socket paths that
 * site descriptions carry) and parkd's configuration, and finds the programs from
 * argv0. Registers an exit handler that stops every program and removes the directory
 * (kept when KEEP_TMP is set). `name` must outlive s.
 */
void bench_system_init(struct bench_system *s, const char *name, const char *argv0);

/* Prints "NAME: <message>", stops everything and exits 1. */
__attribute__((format(printf, 1, 2), noreturn))
void bench_system_die(const char *fmt, ...);

/* Creates the administrator (parkd admin-create), then starts parkd on a free port. */
void bench_system_parkd(struct bench_system *s);

/*
 * A client of parkd with `token` (NULL: none) whose requests and streams stop when
 * *cancel (may be NULL) rises; dies when it cannot be made.
 */
struct apiclient *bench_system_client(const struct bench_system *s, const char *token,
				      const atomic_int *cancel);

/*
 * Calls the API with `body` JSON text (NULL: none). Returns the HTTP status (2xx, or the
 * error status) with *reply (may be NULL) on success; a request that got no answer at
 * all returns the negative apiclient error.
 */
int bench_system_call(struct apiclient *c, const char *method, const char *path,
		      const char *body, json_object **reply);

/* Logs `phone` in; the session token into token[0..cap). Dies on failure. */
void bench_system_login(const struct bench_system *s, const char *phone, char *token,
			size_t cap);

/* Registers `phone` through the SMS code; returns the new user ID. Dies on failure. */
int64_t bench_system_register(const struct bench_system *s, const char *phone);

/* The integer / string member `key` of o; dies when it is missing. */
int64_t bench_system_int(json_object *o, const char *key);
const char *bench_system_str(json_object *o, const char *key);

/*
 * Starts a parklockd for each of g[0..n) (site_id, first, count set by the caller; dir
 * and world are filled as "s->dir/INDEX"), factory-fresh, all at once, then waits for
 * each one's world socket and its locks' device keys.
 */
void bench_system_garages(struct bench_system *s, struct bench_garage *g, size_t n);

/* The site key returned by GET /v1/sites/ID/provisioning, then PROVISION to each lock. */
void bench_system_provision(struct bench_system *s, struct apiclient *admin,
			    struct bench_garage *g);

/* Makes gateway INDEX's key pair (parkgw --print-key) in s->dir/gwINDEX; pub into pub. */
void bench_system_gateway_key(struct bench_system *s, unsigned index, uint8_t pub[64]);

/* Starts parkgw INDEX as gateway `id` (its key made by bench_system_gateway_key()). */
void bench_system_gateway(struct bench_system *s, unsigned index, int64_t id);

/*
 * Imports site g->site_id: one level, entrance, junction, exit; g's spots (policy
 * anyone, owned by owner_id unless it is 0) with their locks at g->dir (or, when g->dir
 * is "", at made-up addresses: no lock runs); one gateway `gw_id` with `gw_pub`
 * covering them all. Dies unless parkd answers 201.
 */
void bench_system_site(struct bench_system *s, struct apiclient *admin,
		       const struct bench_garage *g, int64_t owner_id, int64_t gw_id,
		       const uint8_t gw_pub[64]);

/*
 * Waits up to ms until every spot of g's site is online as GET /v1/sites/ID shows it
 * (its gateway reaches the lock). Returns how many are; online[spot - g->first] (may be
 * NULL) tells which.
 */
size_t bench_system_wait_online(struct apiclient *admin, const struct bench_garage *g,
				bool *online, long ms);

/* A world command on g's kept-open connection; its one-line reply into reply. 0 or -1. */
int bench_system_world(struct bench_garage *g, const char *cmd, char *reply, size_t cap);

/* CPU seconds (user + system) process `pid` has used so far, from /proc; -1 if unknown. */
double bench_system_cpu_s(pid_t pid);

/* Milliseconds on the monotonic clock, with fractions. */
double bench_system_now_ms(void);

#endif
