/*
 * server.c: the running server's shared state and the request-facing services of
 * server.h: the database connection pool, the writers' queue in arrival order,
 * the group-commit writer thread, the master key file and the keys it unseals, the
 * parsed SMS sender, metrics counters, the gateways' wake-up, the events module's
 * publisher hook, the gate on heavy work, and the authentication of callers (sessions)
 * and gateways. Routing and HTTP are http.c's; the accounts' rules are account.c's.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "../lib/log.h"
#include "../lib/monocond.h"
#include "audit.h"
#include "config.h"
#include "gateway-auth.h"
#include "hook.h"
#include "keycache.h"
#include "keywrap.h"
#include "session.h"
#include "site.h"

#define SERVER_MASTER_KEY_LEN 32
#define SERVER_SIGNERS_MAX 15        /* threads signing beside the writer: cores - 1 */
#define SERVER_METRICS_EXTRA 32      /* counters named by other modules at run time */
#define SERVER_KEYS_KEPT 4096        /* unsealed keys cached; ~2 KiB each */

_Static_assert(CONFIG_URL_MAX <= HOOK_TARGET_MAX, "every valid sms_sender fits a struct hook");

/* The counters /metrics always shows, with their help lines. */
static const struct {
	const char *name;
	const char *help;
} server_metric_table[] = {
	{ "parkd_http_requests_total", "HTTP requests answered" },
	{ "parkd_http_responses_2xx_total", "HTTP replies with a 2xx status" },
	{ "parkd_http_responses_4xx_total", "HTTP replies with a 4xx status" },
	{ "parkd_http_responses_5xx_total", "HTTP replies with a 5xx status" },
	{ "parkd_http_streams_total", "event streams opened" },
	{ "parkd_accounts_created_total", "accounts created" },
	{ "parkd_logins_total", "successful logins" },
	{ "parkd_login_failures_total", "logins refused for a wrong phone or password" },
	{ "parkd_sms_sent_total", "SMS verification codes sent" },
	{ "parkd_sms_failures_total", "SMS verification codes the sender failed to send" },
	{ "parkd_rate_limited_total", "attempts refused by a rate limit" },
	{ "parkd_audit_failures_total", "audit rows that could not be written" },
	{ "parkd_ekeys_issued_total", "e-keys issued" },
	{ "parkd_write_transactions_total", "transactions of the writer thread (group commits)" },
	{ "parkd_write_calls_total", "writes the writer thread ran, in those transactions" },
	{ "parkd_write_busy_microseconds_total", "time the writer spent in its transactions" },
	{ "parkd_write_decide_microseconds_total", "of which deciding (checks, numbers, rows)" },
	{ "parkd_write_sign_microseconds_total", "of which signing, beside the signer threads" },
	{ "parkd_write_store_microseconds_total", "of which storing what was signed" },
	{ "parkd_write_commit_microseconds_total", "of which in commits (written, not synced)" },
	{ "parkd_write_syncs_total", "syncs of the writer's commits to disk (each for all since)" },
	{ "parkd_write_sync_microseconds_total", "time the syncer spent syncing" },
};
#define SERVER_METRICS_FIXED (sizeof(server_metric_table) / sizeof(server_metric_table[0]))

/* A thread waiting in server_queue_enter(), on its own stack. */
struct server_waiter {
	pthread_cond_t cond;
	bool go;                     /* a place was handed to this waiter */
	struct server_waiter *next;
};

/*
 * A counting semaphore that serves its waiters in arrival order: a place that is left
 * goes straight to the first waiter, so a newcomer never overtakes the queue, and only
 * that waiter wakes.
 */
struct server_queue {
	pthread_mutex_t lock;
	size_t places;               /* holders at most, >= 1 */
	size_t held;                 /* holders now */
	struct server_waiter *head, *tail;
};

struct server {
	const struct config *cfg;

	struct server_queue pool_queue; /* cfg->db_pool places: one per connection lent */
	pthread_mutex_t pool_lock;
	struct db **pool_idle;   /* cfg->db_pool slots; [0..pool_nidle) are idle connections */
	size_t pool_nidle;
	size_t pool_open;        /* open connections, idle or lent */

	struct server_queue writers;    /* one place: server_write_begin() */

	pthread_mutex_t batch_lock;
	pthread_cond_t batch_cond;       /* a call was queued, or batch_stop was set */
	pthread_cond_t batch_signed;     /* batch_signing dropped to 0 */
	size_t batch_signing;            /* calls of the batch still signing */
	/* The batch being signed: calls join at the back as decided; signers take the front. */
	struct server_batch_call **sign_line;
	size_t sign_front, sign_back;
	size_t sign_added;               /* calls put in the line, signed or not */
	size_t signers_idle;             /* signers waiting on sign_wake */
	pthread_cond_t sign_wake;        /* a batch to sign, or sign_stop */
	bool sign_stop;
	size_t nsigners;
	pthread_t signers[SERVER_SIGNERS_MAX];
	struct server_batch_call *batch_head, *batch_tail; /* queued, in arrival order */
	bool batch_started;              /* batch_thread runs: join it at close */
	bool batch_stop;
	pthread_t batch_thread;
	/* Committed by the writer, not yet durable: the syncer makes them so, then answers. */
	pthread_cond_t sync_wake;        /* the sync list grew, or sync_stop was set */
	pthread_cond_t sync_done;        /* synced moved on */
	struct server_batch_call *sync_head, *sync_tail;
	uint64_t commits, synced;        /* the writer's transactions; of which durable */
	/*
	 * Transactions the writer has begun, counted before their commit can be seen:
	 * commits only moves on after db_commit() has returned, and a reader may see
	 * the commit in between. server_durable_wait() waits for these.
	 */
	uint64_t begun;
	struct db *batch_db;             /* the writer's connection, for db_sync() */
	bool sync_running, sync_stop;
	pthread_t sync_thread;
	pthread_t ckpt_thread;           /* folds the journal in, off the commit path */
	bool ckpt_started;
	atomic_bool ckpt_stop;

	uint8_t master_key[SERVER_MASTER_KEY_LEN];

	struct keycache *keys;           /* unsealed site and reservation keys */

	struct hook sms_hook;             /* cfg->sms_sender, parsed */
	const struct hook *sms_sender;    /* &sms_hook, or NULL when none is configured */

	_Atomic uint64_t counts[SERVER_METRICS_FIXED + SERVER_METRICS_EXTRA];
	pthread_mutex_t metrics_lock; /* guards extra_names */
	const char *extra_names[SERVER_METRICS_EXTRA];

	pthread_mutex_t gw_lock;
	pthread_cond_t gw_cond;  /* on CLOCK_MONOTONIC */
	uint64_t gw_generation;  /* server_wake_gateways() calls so far */

	void (*publish)(void *ctx, int64_t site_id, int64_t spot_id, json_object *ev);
	void *publish_ctx;

	pthread_mutex_t heavy_lock;
	pthread_cond_t heavy_cond;
	int64_t heavy_busy;

	atomic_bool stopping;
	bool curl_ready;         /* curl_global_init() done: undo it at close */

	pthread_key_t own_db;    /* a never-waiting thread's struct server_own_db */
	bool own_db_ready;
};

/* The connection of a thread that must never wait for one (server_thread_never_waits). */
struct server_own_db {
	struct db *db;           /* opened on first use */
	bool lent;               /* given out by server_db_get, not yet put back */
};

/* ---- the clock and the configuration ---- */

int64_t server_now(const struct server *srv)
{
	return srv->cfg->now != NULL ? srv->cfg->now() : (int64_t)time(NULL);
}

const struct config *server_config(const struct server *srv)
{
	return srv->cfg;
}

const uint8_t *server_master_key(const struct server *srv)
{
	return srv->master_key;
}

const struct hook *server_sms_sender(const struct server *srv)
{
	return srv->sms_sender;
}

/* ---- the master key file ---- */

static int server_fsync_dir(const char *path)
{
	char dir[CONFIG_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, r;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + (slash == path)), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

static int server_master_key_read(struct server *srv, const char *path, int fd)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != SERVER_MASTER_KEY_LEN) {
		log_error("master key %s: must be a file of exactly %d bytes", path,
			  SERVER_MASTER_KEY_LEN);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		log_error("master key %s: readable by others than its owner: chmod 600 it", path);
		return -1;
	}
	while (got < SERVER_MASTER_KEY_LEN) {
		n = read(fd, srv->master_key + got, SERVER_MASTER_KEY_LEN - got);
		if (n <= 0 && !(n < 0 && errno == EINTR)) {
			log_error("master key %s: %s", path,
				  n < 0 ? strerror(errno) : "short read");
			return -1;
		}
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

/*
 * Writes a fresh key to a temporary file and links it into place, so a crash leaves
 * either no key or a whole one, and two servers starting at once agree on one key.
 * 0, 1 when another process made the key first (read it instead), or -1.
 */
static int server_master_key_create(struct server *srv, const char *path)
{
	char tmp[CONFIG_PATH_MAX + 16];
	int fd, r = -1;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		log_error("master key %s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	if (RAND_bytes(srv->master_key, SERVER_MASTER_KEY_LEN) != 1 ||
	    write(fd, srv->master_key, SERVER_MASTER_KEY_LEN) != SERVER_MASTER_KEY_LEN ||
	    fsync(fd) != 0) {
		log_error("master key %s: cannot write: %s", path, strerror(errno));
		goto out;
	}
	if (link(tmp, path) != 0) {
		if (errno == EEXIST)
			r = 1;
		else
			log_error("master key %s: cannot create: %s", path, strerror(errno));
		goto out;
	}
	if (server_fsync_dir(path) != 0) {
		log_error("master key %s: cannot sync its directory: %s", path, strerror(errno));
		goto out;
	}
	log_info("made a new master key in %s: back it up; without it, private keys at rest "
		 "cannot be read", path);
	r = 0;
out:
	close(fd);
	unlink(tmp);
	if (r != 0)
		OPENSSL_cleanse(srv->master_key, sizeof(srv->master_key));
	return r;
}

static int server_master_key_load(struct server *srv, const char *path)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		r = server_master_key_create(srv, path);
		if (r != 1)
			return r;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0) {
		log_error("master key %s: %s", path, strerror(errno));
		return -1;
	}
	r = server_master_key_read(srv, path, fd);
	close(fd);
	return r;
}

/* ---- queues in arrival order ---- */

static void server_queue_init(struct server_queue *q, size_t places)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	q->places = places > 0 ? places : 1;
}

static void server_queue_destroy(struct server_queue *q)
{
	pthread_mutex_destroy(&q->lock);
}

static void server_queue_enter(struct server_queue *q)
{
	struct server_waiter w;

	pthread_mutex_lock(&q->lock);
	if (q->head == NULL && q->held < q->places) {
		q->held++;
		pthread_mutex_unlock(&q->lock);
		return;
	}
	pthread_cond_init(&w.cond, NULL);
	w.go = false;
	w.next = NULL;
	if (q->tail != NULL)
		q->tail->next = &w;
	else
		q->head = &w;
	q->tail = &w;
	while (!w.go)
		pthread_cond_wait(&w.cond, &q->lock);
	pthread_mutex_unlock(&q->lock);
	pthread_cond_destroy(&w.cond);
}

static void server_queue_leave(struct server_queue *q)
{
	struct server_waiter *w;

	pthread_mutex_lock(&q->lock);
	w = q->head;
	if (w == NULL) {
		q->held--;
	} else {
		/* Handed over: `held` stays, and w owns the place it leaves. */
		q->head = w->next;
		if (q->head == NULL)
			q->tail = NULL;
		w->go = true;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&q->lock);
}

/* ---- the database pool ---- */

/*
 * The checkpointer's period. Each checkpoint syncs the database file, which holds up
 * the syncer's fdatasync of the log on the same disk: once a second, a page written
 * again and again is copied once, and bench-issue's p99 is 1-3 ms lower than at 250 ms.
 */
#define SERVER_CKPT_MS 1000
#define SERVER_CKPT_NAP_MS 50  /* how soon it sees a stop */

/* Every connection of the server leaves journal upkeep to the checkpointer below. */
static struct db *server_db_open(const char *url, const char **err)
{
	struct db *db = db_open(url, err);

	if (db != NULL && db_defer_checkpoints(db) != 0)
		log_warn("database: the journal is folded in at commits: %s", db_errmsg(db));
	return db;
}

/*
 * The checkpointer: folds the write-ahead log into the database every
 * SERVER_CKPT_MS on a connection of its own, so that no commit (and no reply
 * waiting for one) stalls for it.
 */
static void *server_ckpt_main(void *arg)
{
	struct server *srv = arg;
	struct timespec nap = { 0, SERVER_CKPT_NAP_MS * 1000000L };
	const char *err = NULL;
	struct db *db = NULL;
	unsigned ticks = 0;

	prctl(PR_SET_NAME, "parkd-ckpt");

	while (!atomic_load(&srv->ckpt_stop)) {
		nanosleep(&nap, NULL);
		if (++ticks * SERVER_CKPT_NAP_MS < SERVER_CKPT_MS)
			continue;
		ticks = 0;
		if (db == NULL && (db = db_open(srv->cfg->db_url, &err)) == NULL) {
			log_error("checkpointer: %s", err);
			continue;
		}
		if (db_checkpoint(db) != 0)
			log_warn("checkpointer: %s", db_errmsg(db));
	}
	db_close(db);
	return NULL;
}

/* Closes a never-waiting thread's connection when the thread ends. */
static void server_own_db_free(void *p)
{
	struct server_own_db *own = p;

	db_close(own->db);
	free(own);
}

/* Closes the calling thread's own connection now, if it has one (at server_close). */
static void server_own_db_free_mine(struct server *srv)
{
	struct server_own_db *own = pthread_getspecific(srv->own_db);

	if (own == NULL)
		return;
	pthread_setspecific(srv->own_db, NULL);
	server_own_db_free(own);
}

void server_thread_never_waits(struct server *srv)
{
	struct server_own_db *own;

	if (!srv->own_db_ready || pthread_getspecific(srv->own_db) != NULL)
		return;
	own = calloc(1, sizeof(*own));
	if (own == NULL)
		return; /* it takes its turn for the pool, as other threads do */
	if (pthread_setspecific(srv->own_db, own) != 0)
		free(own);
}

/* The calling thread's own connection, if it has one and it is free; else NULL. */
static struct db *server_own_db_get(struct server *srv)
{
	struct server_own_db *own;
	const char *err = NULL;

	if (!srv->own_db_ready || (own = pthread_getspecific(srv->own_db)) == NULL || own->lent)
		return NULL;
	if (own->db == NULL && (own->db = server_db_open(srv->cfg->db_url, &err)) == NULL) {
		log_error("database: %s", err);
		return NULL;
	}
	own->lent = true;
	return own->db;
}

struct db *server_db_get(struct server *srv)
{
	const char *err = NULL;
	struct db *db = server_own_db_get(srv);

	if (db != NULL)
		return db;
	/* A place in the queue is a connection: idle, or opened now. */
	server_queue_enter(&srv->pool_queue);
	pthread_mutex_lock(&srv->pool_lock);
	if (srv->pool_nidle > 0) {
		db = srv->pool_idle[--srv->pool_nidle];
		pthread_mutex_unlock(&srv->pool_lock);
		return db;
	}
	srv->pool_open++;
	pthread_mutex_unlock(&srv->pool_lock);

	db = server_db_open(srv->cfg->db_url, &err);
	if (db == NULL) {
		log_error("database: %s", err);
		pthread_mutex_lock(&srv->pool_lock);
		srv->pool_open--;
		pthread_mutex_unlock(&srv->pool_lock);
		server_queue_leave(&srv->pool_queue);
	}
	return db;
}

void server_db_put(struct server *srv, struct db *db)
{
	struct server_own_db *own;

	if (db == NULL)
		return;
	own = srv->own_db_ready ? pthread_getspecific(srv->own_db) : NULL;
	if (own != NULL && own->db == db) {
		own->lent = false;
		return;
	}
	/* A handler that returned inside a transaction did not mean to commit it. */
	db_rollback(db);
	pthread_mutex_lock(&srv->pool_lock);
	srv->pool_idle[srv->pool_nidle++] = db;
	pthread_mutex_unlock(&srv->pool_lock);
	server_queue_leave(&srv->pool_queue);
}

/* ---- the writers' queue ---- */

void server_write_begin(struct server *srv)
{
	server_queue_enter(&srv->writers);
}

void server_write_end(struct server *srv)
{
	server_queue_leave(&srv->writers);
}


/* ---- group commit ---- */

/*
 * A call of server_write_staged(), on its caller's stack, or of server_write_async(),
 * malloc'ed and freed once answered.
 */
struct server_batch_call {
	const struct server_write_ops *ops;
	void *ctx;
	int result;                  /* decide's return */
	int sign_result;             /* sign's return */
	int status;                  /* the transaction's: 0 committed, or -DB_E_* */
	sem_t done;                  /* posted once status is final, with no lock held */
	server_write_done_fn on_done; /* server_write_async(): called instead of the post */
	struct server_batch_call *next;
};

/* Runs decide in a savepoint: 0 with c->result set, or -DB_E_* when the transaction broke. */
static int server_batch_one(struct db *db, struct server_batch_call *c)
{
	int r = db_exec(db, "SAVEPOINT server_batch", NULL);

	if (r != 0)
		return r;
	/* Ended meanwhile by the database itself, the savepoint's end fails: the batch too. */
	c->result = c->ops->decide(db, c->ctx);
	if (c->result != 0)
		r = db_exec(db, "ROLLBACK TO SAVEPOINT server_batch", NULL);
	/* After ROLLBACK TO, the savepoint is still open: release it either way. */
	if (r == 0)
		r = db_exec(db, "RELEASE SAVEPOINT server_batch", NULL);
	return r;
}

/* True when call c goes on past its decide step to sign and store. */
static bool server_batch_goes_on(const struct server_batch_call *c)
{
	return c->result == 0 && c->ops->sign != NULL;
}

/* Signs c, taken off the line under batch_lock, which is held again on return. */
static void server_batch_sign_one(struct server *srv, struct server_batch_call *c)
{
	pthread_mutex_unlock(&srv->batch_lock);
	c->sign_result = c->ops->sign(c->ctx);
	pthread_mutex_lock(&srv->batch_lock);
	if (--srv->batch_signing == 0)
		pthread_cond_signal(&srv->batch_signed);
}

/*
 * A signer: a thread beside the writer that signs the batch's calls from the front as
 * the writer decides them, so that their signatures are made while the writer goes on
 * deciding (it signs from the back only once it has decided them all).
 */
static void *server_signer_main(void *arg)
{
	struct server *srv = arg;
	struct server_batch_call *c;

	prctl(PR_SET_NAME, "parkd-signer");
	pthread_mutex_lock(&srv->batch_lock);
	for (;;) {
		while (!srv->sign_stop &&
		       (srv->sign_line == NULL || srv->sign_front >= srv->sign_back)) {
			srv->signers_idle++;
			pthread_cond_wait(&srv->sign_wake, &srv->batch_lock);
			srv->signers_idle--;
		}
		if (srv->sign_stop)
			break;
		c = srv->sign_line[srv->sign_front++];
		server_batch_sign_one(srv, c);
	}
	pthread_mutex_unlock(&srv->batch_lock);
	return NULL;
}

/* Starts a signer per online core but the writer's; from the writer's thread. */
static void server_signers_start(struct server *srv)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = cores > 1 ? (size_t)cores - 1 : 0;

	if (want > SERVER_SIGNERS_MAX)
		want = SERVER_SIGNERS_MAX;
	while (srv->nsigners < want &&
	       pthread_create(&srv->signers[srv->nsigners], NULL, server_signer_main, srv) == 0)
		srv->nsigners++;
}

static void server_signers_stop(struct server *srv)
{
	size_t i;

	pthread_mutex_lock(&srv->batch_lock);
	srv->sign_stop = true;
	pthread_cond_broadcast(&srv->sign_wake);
	pthread_mutex_unlock(&srv->batch_lock);
	for (i = 0; i < srv->nsigners; i++)
		pthread_join(srv->signers[i], NULL);
	srv->nsigners = 0;
}

/* Opens the batch's line of calls to sign, empty: `line` holds SERVER_BATCH_MAX. */
static void server_batch_sign_open(struct server *srv, struct server_batch_call **line)
{
	pthread_mutex_lock(&srv->batch_lock);
	srv->sign_line = line;
	srv->sign_front = srv->sign_back = srv->sign_added = 0;
	pthread_mutex_unlock(&srv->batch_lock);
}

/* Puts decided call c at the back of the line, waking an idle signer for it. */
static void server_batch_sign_add(struct server *srv, struct server_batch_call *c)
{
	pthread_mutex_lock(&srv->batch_lock);
	srv->batch_signing++;
	srv->sign_line[srv->sign_back++] = c;
	srv->sign_added++;
	if (srv->signers_idle > 0)
		pthread_cond_signal(&srv->sign_wake);
	pthread_mutex_unlock(&srv->batch_lock);
}

/*
 * Signs what is left in the line from the back, waits for the signers' last calls and
 * closes the line. 0, or -DB_E_IO when a signature failed (the whole transaction is then
 * undone and its calls tried again).
 */
static int server_batch_sign_close(struct server *srv)
{
	struct server_batch_call *c;
	size_t i;
	int r = 0;

	pthread_mutex_lock(&srv->batch_lock);
	while (srv->sign_front < srv->sign_back) {
		c = srv->sign_line[--srv->sign_back];
		server_batch_sign_one(srv, c);
	}
	while (srv->batch_signing > 0)
		pthread_cond_wait(&srv->batch_signed, &srv->batch_lock);
	for (i = 0; i < srv->sign_added; i++)
		if (srv->sign_line[i]->sign_result != 0)
			r = -DB_E_IO;
	srv->sign_line = NULL;
	pthread_mutex_unlock(&srv->batch_lock);
	if (r != 0)
		log_warn("group commit: a signature failed; the batch is undone and retried");
	return r;
}

/* The store steps of the signed calls. 0, or the first -DB_E_* (the transaction breaks). */
static int server_batch_store(struct db *db, struct server_batch_call *first)
{
	struct server_batch_call *c;
	int r = 0;

	for (c = first; r == 0 && c != NULL; c = c->next)
		if (server_batch_goes_on(c)) {
			r = c->ops->store(db, c->ctx);
			/*
			 * Ended by the database itself (a full disk, say) while the store hid
			 * the error: the next stores would commit statement by statement.
			 */
			if (r == 0 && !db_in_transaction(db))
				r = -DB_E_IO;
		}
	return r;
}

static uint64_t server_usec(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* One transaction for the calls `first`, ...; sets each one's status. */
static void server_batch_run(struct server *srv, struct db *db, struct server_batch_call *first)
{
	struct server_batch_call *c;
	uint64_t t0 = server_usec(), t1 = t0, t_sign = t0, t_store = t0, n = 0;
	struct server_batch_call *line[SERVER_BATCH_MAX];
	bool signed_all = true;
	int r = -DB_E_IO, r2;

	if (db != NULL) {
		server_write_begin(srv);
		r = db_begin(db);
		server_batch_sign_open(srv, line);
		for (c = first; r == 0 && c != NULL; c = c->next, n++) {
			r = server_batch_one(db, c);
			if (r == 0 && server_batch_goes_on(c))
				server_batch_sign_add(srv, c);
		}
		t_sign = server_usec();
		/* Closed whatever happened: the signers must be done with the calls. */
		if ((r2 = server_batch_sign_close(srv)) != 0 && r == 0) {
			r = r2;
			signed_all = false; /* said so already */
		}
		t_store = server_usec();
		if (r == 0)
			r = server_batch_store(db, first);
		t1 = server_usec();
		if (r == 0)
			r = db_commit(db);
		if (r != 0) {
			if (signed_all)
				log_warn("group commit of writes failed: %s", db_errmsg(db));
			db_rollback(db);
		}
		server_write_end(srv);
	}
	for (c = first; c != NULL; c = c->next)
		c->status = r;
	server_count(srv, "parkd_write_transactions_total", 1);
	server_count(srv, "parkd_write_calls_total", n);
	server_count(srv, "parkd_write_busy_microseconds_total", server_usec() - t0);
	server_count(srv, "parkd_write_decide_microseconds_total", t_sign - t0);
	server_count(srv, "parkd_write_sign_microseconds_total", t_store - t_sign);
	server_count(srv, "parkd_write_store_microseconds_total", t1 - t_store);
	server_count(srv, "parkd_write_commit_microseconds_total", server_usec() - t1);
}

/*
 * Answers the calls first, ..., taken off every list. No lock is needed or held: each
 * caller waits on its own semaphore, so the woken do not queue up for batch_lock behind
 * the one who wakes them (a convoy that held up the writer and the arrivals).
 */
static void server_batch_answer(struct server_batch_call *first)
{
	struct server_batch_call *c, *next;

	for (c = first; c != NULL; c = next) {
		next = c->next; /* c is gone once its caller is woken */
		if (c->on_done == NULL) {
			sem_post(&c->done);
			continue;
		}
		c->on_done(c->ctx, c->status, c->result);
		free(c);
	}
}

/*
 * The syncer: makes the writer's commits durable (one fdatasync for all that came
 * meanwhile), then answers their calls, while the writer is already at its next
 * transaction. A failed sync stops the server: its commits are seen already, and no
 * reply may claim what the disk may not hold.
 */
static void *server_sync_main(void *arg)
{
	struct server *srv = arg;
	struct server_batch_call *list;
	struct db *db;
	uint64_t target, t0;

	prctl(PR_SET_NAME, "parkd-sync");
	pthread_mutex_lock(&srv->batch_lock);
	for (;;) {
		while (srv->sync_head == NULL && !srv->sync_stop)
			pthread_cond_wait(&srv->sync_wake, &srv->batch_lock);
		if (srv->sync_head == NULL)
			break;
		list = srv->sync_head;
		srv->sync_head = srv->sync_tail = NULL;
		target = srv->commits;
		db = srv->batch_db;
		pthread_mutex_unlock(&srv->batch_lock);
		t0 = server_usec();
		if (db != NULL && db_sync(db) != 0) {
			log_error("syncing the database's write-ahead log failed (%s): stopping, "
				  "since its last commits may not be on disk; check the disk, then "
				  "start parkd again", strerror(errno));
			_exit(EXIT_FAILURE);
		}
		server_count(srv, "parkd_write_syncs_total", 1);
		server_count(srv, "parkd_write_sync_microseconds_total", server_usec() - t0);
		server_batch_answer(list);
		pthread_mutex_lock(&srv->batch_lock);
		srv->synced = target;
		pthread_cond_broadcast(&srv->sync_done);
	}
	srv->sync_running = false;
	pthread_cond_broadcast(&srv->sync_done);
	pthread_mutex_unlock(&srv->batch_lock);
	return NULL;
}

/* The writer's connection, committing lazily when the syncer runs. NULL on failure. */
static struct db *server_batch_db(struct server *srv)
{
	const char *err = NULL;
	struct db *db = server_db_open(srv->cfg->db_url, &err);

	if (db == NULL) {
		log_error("database: %s", err);
		return NULL;
	}
	pthread_mutex_lock(&srv->batch_lock);
	if (!srv->sync_running && !srv->sync_stop &&
	    pthread_create(&srv->sync_thread, NULL, server_sync_main, srv) == 0)
		srv->sync_running = true;
	/* Without the syncer every commit syncs itself, as everywhere else. */
	if (srv->sync_running && db_lazy_commits(db) != 0)
		log_warn("database: commits of the writer stay synchronous: %s", db_errmsg(db));
	srv->batch_db = db;
	pthread_mutex_unlock(&srv->batch_lock);
	return db;
}

/* Hands a run batch to the syncer, or answers it at once when there is none. */
static void server_batch_done(struct server *srv, struct server_batch_call *first)
{
	struct server_batch_call *last = first;

	while (last->next != NULL)
		last = last->next;
	pthread_mutex_lock(&srv->batch_lock);
	srv->commits++;
	if (!srv->sync_running) {
		srv->synced = srv->commits;
		/* Unlocked: an asynchronous caller's on_done may queue its call again. */
		pthread_mutex_unlock(&srv->batch_lock);
		server_batch_answer(first);
		pthread_mutex_lock(&srv->batch_lock);
		return; /* locked, as the caller expects */
	}
	if (srv->sync_tail != NULL)
		srv->sync_tail->next = first;
	else
		srv->sync_head = first;
	srv->sync_tail = last;
	pthread_cond_signal(&srv->sync_wake);
}

/* Stops the syncer once it has answered everything. */
static void server_sync_stop(struct server *srv)
{
	bool running;

	pthread_mutex_lock(&srv->batch_lock);
	srv->sync_stop = true;
	running = srv->sync_running;
	pthread_cond_signal(&srv->sync_wake);
	pthread_mutex_unlock(&srv->batch_lock);
	if (running)
		pthread_join(srv->sync_thread, NULL);
}

static void *server_batch_main(void *arg)
{
	struct server *srv = arg;
	struct server_batch_call *first, *c;
	struct db *db = NULL;
	size_t n;

	prctl(PR_SET_NAME, "parkd-writer"); /* for top -H, perf and gdb */
	server_signers_start(srv);
	pthread_mutex_lock(&srv->batch_lock);
	for (;;) {
		while (srv->batch_head == NULL && !srv->batch_stop)
			pthread_cond_wait(&srv->batch_cond, &srv->batch_lock);
		if (srv->batch_head == NULL)
			break; /* stopping, and every queued call is answered */
		/* What queued while the last transaction committed goes into this one. */
		first = srv->batch_head;
		for (c = first, n = 1; c->next != NULL && n < SERVER_BATCH_MAX; c = c->next)
			n++;
		srv->batch_head = c->next;
		if (srv->batch_head == NULL)
			srv->batch_tail = NULL;
		c->next = NULL;
		srv->begun++;
		pthread_mutex_unlock(&srv->batch_lock);

		if (db == NULL)
			db = server_batch_db(srv);
		server_batch_run(srv, db, first);
		server_batch_done(srv, first); /* returns with batch_lock held */
	}
	pthread_mutex_unlock(&srv->batch_lock);
	server_signers_stop(srv);
	server_sync_stop(srv);
	db_close(db);
	return NULL;
}

void server_durable_wait(struct server *srv)
{
	uint64_t target;

	pthread_mutex_lock(&srv->batch_lock);
	/* Begun, not committed: the transaction at hand may be seen before commits counts it. */
	target = srv->begun;
	while (srv->synced < target && srv->sync_running)
		pthread_cond_wait(&srv->sync_done, &srv->batch_lock);
	pthread_mutex_unlock(&srv->batch_lock);
}

/* Queues c for the writer, starting it on the first call. 0, or -1 when stopping. */
static int server_batch_queue(struct server *srv, struct server_batch_call *c)
{
	/* Started by the first call: processes that never write this way have no thread. */
	if (!srv->batch_started && !srv->batch_stop &&
	    pthread_create(&srv->batch_thread, NULL, server_batch_main, srv) == 0)
		srv->batch_started = true;
	if (!srv->batch_started || srv->batch_stop)
		return -1;
	if (srv->batch_tail != NULL)
		srv->batch_tail->next = c;
	else
		srv->batch_head = c;
	srv->batch_tail = c;
	pthread_cond_signal(&srv->batch_cond);
	return 0;
}

/* The caller's part: waits until its call is answered. No lock held. */
static void server_batch_wait(struct server_batch_call *c)
{
	while (sem_wait(&c->done) != 0)
		; /* EINTR: a signal handler ran */
}

int server_write_staged(struct server *srv, const struct server_write_ops *ops, void *ctx,
			int *result)
{
	struct server_batch_call c;
	bool queued;

	memset(&c, 0, sizeof(c));
	c.ops = ops;
	c.ctx = ctx;
	c.status = -DB_E_IO;
	*result = 0;
	if (sem_init(&c.done, 0, 0) != 0)
		return -DB_E_IO;
	pthread_mutex_lock(&srv->batch_lock);
	queued = server_batch_queue(srv, &c) == 0;
	pthread_mutex_unlock(&srv->batch_lock);
	if (queued)
		server_batch_wait(&c);
	sem_destroy(&c.done);
	*result = c.result;
	return c.status;
}

int server_write_async(struct server *srv, const struct server_write_ops *ops, void *ctx,
		       server_write_done_fn on_done)
{
	struct server_batch_call *c = calloc(1, sizeof(*c));
	int r;

	if (c == NULL)
		return -DB_E_IO;
	c->ops = ops;
	c->ctx = ctx;
	c->status = -DB_E_IO;
	c->on_done = on_done;
	pthread_mutex_lock(&srv->batch_lock);
	r = server_batch_queue(srv, c);
	pthread_mutex_unlock(&srv->batch_lock);
	if (r != 0) {
		free(c);
		return -DB_E_IO;
	}
	return 0;
}

int server_write_batched(struct server *srv, int (*fn)(struct db *db, void *ctx), void *ctx,
			 int *result)
{
	const struct server_write_ops ops = { .decide = fn, .sign = NULL, .store = NULL };

	return server_write_staged(srv, &ops, ctx, result);
}

/* ---- unsealed keys ---- */

struct keycache *server_keys(struct server *srv)
{
	return srv->keys;
}

int server_site_key(struct server *srv, struct db *db, int64_t site_id, EVP_PKEY **key)
{
	char label[KEYWRAP_LABEL_MAX];
	int r;

	*key = NULL;
	if (keywrap_label(label, "site", site_id) != 0)
		return -SITE_E_INTERNAL;
	*key = keycache_get(srv->keys, label, NULL);
	if (*key != NULL)
		return 0;
	r = site_key(db, srv->master_key, site_id, key);
	if (r == 0)
		keycache_put(srv->keys, label, *key);
	return r;
}

/* ---- metrics ---- */

void server_count(struct server *srv, const char *name, uint64_t n)
{
	size_t i;

	for (i = 0; i < SERVER_METRICS_FIXED; i++) {
		if (strcmp(server_metric_table[i].name, name) == 0) {
			atomic_fetch_add(&srv->counts[i], n);
			return;
		}
	}
	pthread_mutex_lock(&srv->metrics_lock);
	for (i = 0; i < SERVER_METRICS_EXTRA && srv->extra_names[i] != NULL; i++)
		if (strcmp(srv->extra_names[i], name) == 0)
			break;
	if (i < SERVER_METRICS_EXTRA && srv->extra_names[i] == NULL)
		srv->extra_names[i] = name;
	pthread_mutex_unlock(&srv->metrics_lock);
	if (i < SERVER_METRICS_EXTRA)
		atomic_fetch_add(&srv->counts[SERVER_METRICS_FIXED + i], n);
}

size_t server_metrics(struct server *srv, struct server_metric *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < SERVER_METRICS_FIXED && n < cap; i++, n++) {
		out[n].name = server_metric_table[i].name;
		out[n].help = server_metric_table[i].help;
		out[n].value = atomic_load(&srv->counts[i]);
	}
	pthread_mutex_lock(&srv->metrics_lock);
	for (i = 0; i < SERVER_METRICS_EXTRA && srv->extra_names[i] != NULL && n < cap; i++, n++) {
		out[n].name = srv->extra_names[i];
		out[n].help = "counted by name";
		out[n].value = atomic_load(&srv->counts[SERVER_METRICS_FIXED + i]);
	}
	pthread_mutex_unlock(&srv->metrics_lock);
	return n;
}

/* ---- gateways' wake-up, publishing, heavy work ---- */

void server_wake_gateways(struct server *srv)
{
	pthread_mutex_lock(&srv->gw_lock);
	srv->gw_generation++;
	pthread_cond_broadcast(&srv->gw_cond);
	pthread_mutex_unlock(&srv->gw_lock);
}

int server_wait_gateways(struct server *srv, uint64_t generation, int timeout_ms,
			 uint64_t *new_generation)
{
	struct timespec deadline;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	if (timeout_ms > 0) {
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&srv->gw_lock);
	while (timeout_ms > 0 && srv->gw_generation == generation && !atomic_load(&srv->stopping))
		if (pthread_cond_timedwait(&srv->gw_cond, &srv->gw_lock, &deadline) == ETIMEDOUT)
			break;
	if (atomic_load(&srv->stopping))
		r = -1;
	else
		r = srv->gw_generation != generation;
	*new_generation = srv->gw_generation;
	pthread_mutex_unlock(&srv->gw_lock);
	return r;
}

void server_set_publisher(struct server *srv,
			  void (*fn)(void *ctx, int64_t site_id, int64_t spot_id, json_object *ev),
			  void *ctx)
{
	srv->publish = fn;
	srv->publish_ctx = ctx;
}

void server_publish(struct server *srv, int64_t site_id, int64_t spot_id, json_object *json)
{
	if (srv->publish != NULL)
		srv->publish(srv->publish_ctx, site_id, spot_id, json);
}

void server_heavy_begin(struct server *srv)
{
	pthread_mutex_lock(&srv->heavy_lock);
	while (srv->heavy_busy >= srv->cfg->heavy_workers)
		pthread_cond_wait(&srv->heavy_cond, &srv->heavy_lock);
	srv->heavy_busy++;
	pthread_mutex_unlock(&srv->heavy_lock);
}

void server_heavy_end(struct server *srv)
{
	pthread_mutex_lock(&srv->heavy_lock);
	srv->heavy_busy--;
	pthread_cond_signal(&srv->heavy_cond);
	pthread_mutex_unlock(&srv->heavy_lock);
}

/* ---- audit ---- */

static void server_audit_peer(struct server *srv, struct db *db, int64_t user_id,
			      const char *action, const char *detail, const char *peer)
{
	if (audit_append(db, server_now(srv), user_id, action, detail, peer) != 0) {
		log_error("audit: cannot record %s: %s", action, db_errmsg(db));
		server_count(srv, "parkd_audit_failures_total", 1);
	}
}

void server_audit(struct server *srv, struct db *db, int64_t user_id, const char *action,
		  const char *detail)
{
	server_audit_peer(srv, db, user_id, action, detail, NULL);
}

void server_audit_request(struct server *srv, struct db *db, const struct http_request *req,
			  int64_t user_id, const char *action, const char *detail)
{
	server_audit_peer(srv, db, user_id, action, detail, req->peer);
}

/* ---- callers and gateways ---- */

/* A session's upkeep on the writer: the caller's check never waits for the write lock. */
static int server_session_upkeep(struct db *db, void *ctx)
{
	return session_upkeep(db, ctx);
}

static void server_session_upkept(void *ctx, int status, int result)
{
	(void)status;
	(void)result; /* a lost touch ends an idle session a minute early at most */
	free(ctx);
}

static const struct server_write_ops server_session_ops = {
	.decide = server_session_upkeep,
};

int server_caller(struct server *srv, const struct http_request *req, struct auth_user *out)
{
	struct session_upkeep upkeep, *later;
	struct db *db;
	int r;

	if (req->user != NULL) {
		*out = *req->user;
		return 0;
	}
	if (req->token == NULL)
		return -1;
	db = server_db_get(srv);
	if (db == NULL)
		return -SERVER_E_UNAVAILABLE;
	r = session_lookup(db, srv->cfg, server_now(srv), req->token, out, &upkeep);
	if (r != 0 && r != -DB_E_NOTFOUND)
		log_error("session lookup: %s", db_errmsg(db));
	server_db_put(srv, db);
	if (upkeep.kind != SESSION_KEEP && (later = malloc(sizeof(*later))) != NULL) {
		*later = upkeep;
		if (server_write_async(srv, &server_session_ops, later, server_session_upkept) != 0)
			free(later);
	}
	return r == 0 ? 0 : r == -DB_E_NOTFOUND ? -1 : -SERVER_E_UNAVAILABLE;
}

/* The signature check itself is gateway-auth.c's, shared with its tests. */
int server_gateway(struct server *srv, const struct http_request *req, int64_t *gateway_id)
{
	struct db *db;
	int r;

	if (req->gateway_id != 0) {
		*gateway_id = req->gateway_id;
		return 0;
	}
	db = server_db_get(srv);
	if (db == NULL)
		return -1;
	r = gateway_auth_check(db, req, server_now(srv), gateway_id);
	server_db_put(srv, db);
	return r == 0 ? 0 : -1;
}

/* ---- life ---- */

int server_open(const struct config *cfg, struct server **out)
{
	struct server *srv;
	char hook_err[200];
	const char *err = NULL;
	struct db *db = NULL;

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return -1;
	srv->cfg = cfg;
	srv->own_db_ready = pthread_key_create(&srv->own_db, server_own_db_free) == 0;
	server_queue_init(&srv->pool_queue, (size_t)cfg->db_pool);
	pthread_mutex_init(&srv->pool_lock, NULL);
	server_queue_init(&srv->writers, 1);
	pthread_mutex_init(&srv->batch_lock, NULL);
	pthread_cond_init(&srv->batch_cond, NULL);
	pthread_cond_init(&srv->batch_signed, NULL);
	pthread_cond_init(&srv->sync_wake, NULL);
	pthread_cond_init(&srv->sign_wake, NULL);
	pthread_cond_init(&srv->sync_done, NULL);
	pthread_mutex_init(&srv->metrics_lock, NULL);
	pthread_mutex_init(&srv->gw_lock, NULL);
	pthread_mutex_init(&srv->heavy_lock, NULL);
	pthread_cond_init(&srv->heavy_cond, NULL);
	atomic_init(&srv->stopping, false);
	if (monocond_init(&srv->gw_cond) != 0) {
		pthread_cond_init(&srv->gw_cond, NULL); /* for server_close to destroy */
		goto fail;
	}
	/* libcurl's global set-up is not thread-safe: here, before any thread exists. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto fail;
	srv->curl_ready = true;
	srv->pool_idle = calloc((size_t)cfg->db_pool, sizeof(*srv->pool_idle));
	if (srv->pool_idle == NULL)
		goto fail;
	if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
		log_error("data directory %s: %s", cfg->data_dir, strerror(errno));
		goto fail;
	}
	if (server_master_key_load(srv, cfg->master_key_file) != 0)
		goto fail;
	srv->keys = keycache_new(SERVER_KEYS_KEPT);
	if (srv->keys == NULL)
		goto fail;
	if (cfg->sms_sender[0] != '\0') {
		if (hook_parse(cfg->sms_sender, &srv->sms_hook, hook_err, sizeof(hook_err)) != 0) {
			log_error("sms_sender: %s", hook_err);
			goto fail;
		}
		srv->sms_sender = &srv->sms_hook;
	}
	db = server_db_open(cfg->db_url, &err);
	if (db == NULL) {
		log_error("database %s: %s", cfg->db_url, err);
		goto fail;
	}
	if (db_migrate(db) != 0) {
		log_error("database %s: the schema migrations failed", cfg->db_url);
		db_close(db);
		goto fail;
	}
	srv->pool_idle[srv->pool_nidle++] = db;
	srv->pool_open = 1;
	if (pthread_create(&srv->ckpt_thread, NULL, server_ckpt_main, srv) != 0) {
		log_error("cannot start the journal checkpointer");
		goto fail;
	}
	srv->ckpt_started = true;
	*out = srv;
	return 0;
fail:
	server_close(srv);
	return -1;
}

void server_stop(struct server *srv)
{
	atomic_store(&srv->stopping, true);
	pthread_mutex_lock(&srv->gw_lock);
	pthread_cond_broadcast(&srv->gw_cond);
	pthread_mutex_unlock(&srv->gw_lock);
}

bool server_stopping(struct server *srv)
{
	return atomic_load(&srv->stopping);
}

void server_close(struct server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	atomic_store(&srv->ckpt_stop, true);
	if (srv->ckpt_started)
		pthread_join(srv->ckpt_thread, NULL);
	pthread_mutex_lock(&srv->batch_lock);
	srv->batch_stop = true;
	pthread_cond_signal(&srv->batch_cond);
	pthread_mutex_unlock(&srv->batch_lock);
	if (srv->batch_started)
		pthread_join(srv->batch_thread, NULL);
	for (i = 0; i < srv->pool_nidle; i++)
		db_close(srv->pool_idle[i]);
	if (srv->pool_nidle != srv->pool_open)
		log_warn("closing the server with %zu database connections still lent",
			 srv->pool_open - srv->pool_nidle);
	if (srv->curl_ready)
		curl_global_cleanup();
	free(srv->pool_idle);
	keycache_free(srv->keys);
	OPENSSL_cleanse(srv->master_key, sizeof(srv->master_key));
	server_queue_destroy(&srv->writers);
	pthread_cond_destroy(&srv->batch_cond);
	pthread_cond_destroy(&srv->batch_signed);
	pthread_cond_destroy(&srv->sync_wake);
	pthread_cond_destroy(&srv->sign_wake);
	pthread_cond_destroy(&srv->sync_done);
	pthread_mutex_destroy(&srv->batch_lock);
	pthread_cond_destroy(&srv->gw_cond);
	pthread_mutex_destroy(&srv->gw_lock);
	pthread_cond_destroy(&srv->heavy_cond);
	pthread_mutex_destroy(&srv->heavy_lock);
	pthread_mutex_destroy(&srv->metrics_lock);
	pthread_mutex_destroy(&srv->pool_lock);
	server_queue_destroy(&srv->pool_queue);
	if (srv->own_db_ready) {
		/* This thread's, if it had one: the others' ended with their threads. */
		server_own_db_free_mine(srv);
		pthread_key_delete(srv->own_db);
	}
	free(srv);
}
