/*
 * test-server.c: server/server's shared services that e-key issuance leans on, through
 * server.h, on a server opened over the test site's database: writers served in arrival
 * order, group commit (each call's changes kept or undone on its own, durable when it
 * returns, under many threads at once; in three steps, signatures of a batch at once and
 * a failed one undoing the batch; a transaction the database ended by itself failing its
 * batch), a durable wait that covers every commit another
 * connection sees, the pool lending no more than db_pool
 * connections, a never-waiting thread served by a connection of its own while the pool
 * is empty, and site keys unsealed once and kept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../server/config.h"
#include "../../server/server.h"
#include "../support/test-site-db.h"

#define THREADS 8
#define CALLS 25 /* per thread */

struct fixture {
	struct test_site_db *t;
	struct config cfg;
	struct server *srv;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[160], url[160], err[200];
	FILE *key;

	must(f != NULL);
	f->t = test_site_db_new();
	test_site_db_import_good(f->t);
	must(db_exec(f->t->db, "CREATE TABLE batch_rows (n BIGINT NOT NULL)", NULL) == 0);
	/* The server runs on the test's database, with the test's master key. */
	snprintf(path, sizeof(path), "%s/master.key", f->t->dir);
	key = fopen(path, "wb");
	must(key != NULL && fwrite(f->t->master, 1, 32, key) == 32 && fclose(key) == 0);
	must(chmod(path, 0600) == 0);
	snprintf(url, sizeof(url), "sqlite:%s/park.db", f->t->dir);
	config_defaults(&f->cfg);
	must(config_set(&f->cfg, "data_dir", f->t->dir, err, sizeof(err)) == 0);
	must(config_set(&f->cfg, "db_url", url, err, sizeof(err)) == 0);
	must(config_set(&f->cfg, "db_pool", "3", err, sizeof(err)) == 0);
	must(config_finish(&f->cfg, err, sizeof(err)) == 0);
	must(server_open(&f->cfg, &f->srv) == 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	server_close(f->srv);
	test_site_db_free(f->t);
	free(f);
	return 0;
}

/* ---- writers in arrival order ---- */

struct writer {
	pthread_t thread;
	struct server *srv;
	int id;
	int *order;             /* where each writer writes its id when it gets the lock */
	atomic_int *next;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	server_write_begin(w->srv);
	w->order[atomic_fetch_add(w->next, 1)] = w->id;
	server_write_end(w->srv);
	return NULL;
}

static void test_writers_in_arrival_order(void **state)
{
	struct fixture *f = *state;
	struct writer w[5];
	int order[5], i;
	atomic_int next = 0;

	server_write_begin(f->srv);
	/* Each starts while the lock is held, well after the one before it queued. */
	for (i = 0; i < 5; i++) {
		w[i] = (struct writer){ .srv = f->srv, .id = i, .order = order, .next = &next };
		assert_int_equal(pthread_create(&w[i].thread, NULL, writer_main, &w[i]), 0);
		usleep(50 * 1000);
	}
	assert_int_equal(atomic_load(&next), 0);
	server_write_end(f->srv);
	for (i = 0; i < 5; i++)
		pthread_join(w[i].thread, NULL);
	for (i = 0; i < 5; i++)
		assert_int_equal(order[i], i);
	/* Free again: begin does not wait. */
	server_write_begin(f->srv);
	server_write_end(f->srv);
}

/* ---- group commit ---- */

struct batch_arg {
	int64_t n;
	int ret;                /* what fn returns */
	int sleep_ms;           /* ended_ops: decide holds up the writer this long */
	bool end_txn;           /* ended_ops: after its store's insert, the transaction is ended
				   as SQLite does on a full disk, and store hides that */
	pthread_t caller;       /* the thread that called server_write_batched() */
	bool ran_elsewhere;     /* fn ran on another thread (the writer's) */
};

/* Inserts its row, then keeps it (ret 0) or has it undone (ret != 0). */
static int batch_insert(struct db *db, void *ctx)
{
	struct batch_arg *a = ctx;

	a->ran_elsewhere = !pthread_equal(pthread_self(), a->caller);
	if (db_exec(db, "INSERT INTO batch_rows (n) VALUES ($1)", "i", a->n) != 0)
		return -100;
	return a->ret;
}

static int64_t rows(struct fixture *f, int64_t n)
{
	struct db_stmt *st = db_prepare(f->t->db, "SELECT COUNT(*) FROM batch_rows WHERE n = $1");
	int64_t v;

	assert_non_null(st);
	assert_int_equal(db_bind_int(st, 1, n), 0);
	assert_int_equal(db_step(st), DB_ROW);
	v = db_col_int(st, 0);
	db_finalize(st);
	return v;
}

static void test_batched_keeps_or_undoes(void **state)
{
	struct fixture *f = *state;
	struct batch_arg a = { .n = 1, .ret = 0, .caller = pthread_self() };
	int result = 99;

	assert_int_equal(server_write_batched(f->srv, batch_insert, &a, &result), 0);
	assert_int_equal(result, 0);
	assert_true(a.ran_elsewhere);
	/* Committed: another connection sees it at once. */
	assert_int_equal(rows(f, 1), 1);
	a = (struct batch_arg){ .n = 2, .ret = -7, .caller = pthread_self() };
	assert_int_equal(server_write_batched(f->srv, batch_insert, &a, &result), 0);
	assert_int_equal(result, -7);
	assert_int_equal(rows(f, 2), 0);
}

struct batch_thread {
	pthread_t thread;
	struct server *srv;
	int id;
	int kept;               /* calls whose fn returned 0 */
	int failed;             /* calls whose result was not what fn returned */
};

static void *batch_thread_main(void *arg)
{
	struct batch_thread *b = arg;
	struct batch_arg a;
	int i, result;

	for (i = 0; i < CALLS; i++) {
		a = (struct batch_arg){ .n = 1000 + b->id, .ret = i % 3 == 0 ? 1 : 0,
					.caller = pthread_self() };
		if (server_write_batched(b->srv, batch_insert, &a, &result) != 0 ||
		    result != a.ret)
			b->failed++;
		else if (result == 0)
			b->kept++;
	}
	return NULL;
}

/* Many callers at once: each call's rows stay or go by its own return, whatever batch. */
static void test_batched_many_threads(void **state)
{
	struct fixture *f = *state;
	struct batch_thread b[THREADS];
	int i;

	for (i = 0; i < THREADS; i++) {
		b[i] = (struct batch_thread){ .srv = f->srv, .id = i };
		assert_int_equal(pthread_create(&b[i].thread, NULL, batch_thread_main, &b[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(b[i].thread, NULL);
		assert_int_equal(b[i].failed, 0);
		assert_int_equal(b[i].kept, CALLS - (CALLS + 2) / 3);
		assert_int_equal(rows(f, 1000 + i), b[i].kept);
	}
}

static int ended_decide(struct db *db, void *ctx)
{
	struct batch_arg *a = ctx;

	(void)db;
	if (a->sleep_ms > 0)
		usleep((useconds_t)a->sleep_ms * 1000);
	return 0;
}

static int ended_sign(void *ctx)
{
	(void)ctx;
	return 0;
}

static int ended_store(struct db *db, void *ctx)
{
	struct batch_arg *a = ctx;

	if (db_exec(db, "INSERT INTO batch_rows (n) VALUES ($1)", "i", a->n) != 0)
		return -DB_E_IO;
	if (a->end_txn)
		(void)db_exec(db, "ROLLBACK", NULL);
	return 0;
}

static const struct server_write_ops ended_ops = {
	.decide = ended_decide, .sign = ended_sign, .store = ended_store,
};

/* A write call on a thread of its own: staged `ops`, or batch_insert when NULL. */
struct call_thread {
	pthread_t thread;
	struct server *srv;
	const struct server_write_ops *ops;
	struct batch_arg a;
	int status, result;
};

static void *call_thread_main(void *arg)
{
	struct call_thread *c = arg;

	c->a.caller = pthread_self();
	c->status = c->ops != NULL ? server_write_staged(c->srv, c->ops, &c->a, &c->result) :
		server_write_batched(c->srv, batch_insert, &c->a, &c->result);
	return NULL;
}

/*
 * A store after which the transaction has ended (the database rolled it back by itself
 * and the store hid it) fails its whole batch: no call of it keeps a row while its caller
 * hears it failed, as would happen if the rest committed statement by statement.
 */
static void test_batch_ended_by_the_database(void **state)
{
	struct fixture *f = *state;
	struct call_thread e[7];
	int i, failed_with_it = 0;

	for (i = 0; i < 7; i++) {
		e[i] = (struct call_thread){ .srv = f->srv, .ops = &ended_ops,
					     .a = { .n = 3000 + i } };
		e[i].a.sleep_ms = i == 0 ? 300 : 0;
		e[i].a.end_txn = i == 3;
		assert_int_equal(pthread_create(&e[i].thread, NULL, call_thread_main, &e[i]), 0);
		usleep(i == 0 ? 100 * 1000 : 5 * 1000); /* the others queue behind the first */
	}
	for (i = 0; i < 7; i++)
		pthread_join(e[i].thread, NULL);
	for (i = 0; i < 7; i++) {
		bool kept = e[i].status == 0 && e[i].result == 0;

		assert_int_equal(rows(f, e[i].a.n), kept ? 1 : 0);
		failed_with_it += i != 3 && !kept;
	}
	assert_int_not_equal(e[3].status, 0);
	assert_true(failed_with_it > 0); /* it shared its batch */
}

/* ---- group commit in three steps ---- */

struct staged_arg {
	int64_t n;
	int decide_ret, sign_ret;  /* what decide and sign return */
	int steps;                 /* 1 decide, 2 sign, 3 store: the last step run, in order */
	bool out_of_order;
	atomic_int *signing;       /* signs running now, over all calls */
	atomic_int *most;          /* the most that ran at once */
	bool saw_signing;          /* decide ran while another call's sign ran */
};

/* The row with a blank mark, which the batch's later decides can see. */
static int staged_decide(struct db *db, void *ctx)
{
	struct staged_arg *a = ctx;

	a->out_of_order |= a->steps != 0;
	a->steps = 1;
	usleep(1000); /* long enough for a signer to start on the batch's earlier calls */
	a->saw_signing = atomic_load(a->signing) > 0;
	if (db_exec(db, "INSERT INTO batch_rows (n) VALUES ($1)", "i", a->n) != 0)
		return -100;
	return a->decide_ret;
}

static int staged_sign(void *ctx)
{
	struct staged_arg *a = ctx;
	int now = atomic_fetch_add(a->signing, 1) + 1, most = atomic_load(a->most);

	while (now > most && !atomic_compare_exchange_weak(a->most, &most, now))
		;
	a->out_of_order |= a->steps != 1;
	a->steps = 2;
	usleep(2000); /* long enough for the other calls' signs to overlap this one */
	atomic_fetch_sub(a->signing, 1);
	return a->sign_ret;
}

/* Marks the row: n becomes -n once stored. */
static int staged_store(struct db *db, void *ctx)
{
	struct staged_arg *a = ctx;

	a->out_of_order |= a->steps != 2;
	a->steps = 3;
	return db_exec(db, "UPDATE batch_rows SET n = -n WHERE n = $1", "i", a->n);
}

static const struct server_write_ops staged_ops = {
	.decide = staged_decide, .sign = staged_sign, .store = staged_store,
};

struct staged_thread {
	pthread_t thread;
	struct server *srv;
	struct staged_arg a;
	int status, result;
	pthread_barrier_t *start;
};

static void *staged_thread_main(void *arg)
{
	struct staged_thread *t = arg;

	pthread_barrier_wait(t->start);
	t->status = server_write_staged(t->srv, &staged_ops, &t->a, &t->result);
	return NULL;
}

/* The value of counter `name`. */
static uint64_t metric(struct fixture *f, const char *name)
{
	struct server_metric m[64];
	size_t i, n = server_metrics(f->srv, m, 64);

	for (i = 0; i < n; i++)
		if (strcmp(m[i].name, name) == 0)
			return m[i].value;
	fail_msg("no metric %s", name);
	return 0;
}

/*
 * What another connection sees is durable once server_durable_wait() returns: a
 * reader that spots a new row as soon as it is committed, and then waits, finds its
 * sync done. The writer counts a commit a moment after another connection can see it,
 * so a wait keyed on that count would return before the sync; a few hundred tries
 * catch that moment.
 */
static void test_durable_wait_covers_what_is_seen(void **state)
{
	struct fixture *f = *state;
	struct call_thread v;
	uint64_t syncs0;
	int i, early = 0;

	for (i = 0; i < 300; i++) {
		v = (struct call_thread){ .srv = f->srv, .a = { .n = 5000 + i } };
		syncs0 = metric(f, "parkd_write_syncs_total");
		assert_int_equal(pthread_create(&v.thread, NULL, call_thread_main, &v), 0);
		while (rows(f, v.a.n) == 0)
			;
		server_durable_wait(f->srv);
		if (metric(f, "parkd_write_syncs_total") == syncs0)
			early++;
		pthread_join(v.thread, NULL);
		assert_int_equal(v.status, 0);
	}
	assert_int_equal(early, 0);
}

/* Runs `count` staged calls at once: n = 2000 + i, decide refusing where refuse[i]. */
static void staged_run(struct fixture *f, struct staged_thread *t, int count, const int *refuse,
		       int failing_sign, atomic_int *most)
{
	static atomic_int signing;
	pthread_barrier_t start;
	int i;

	atomic_store(&signing, 0);
	atomic_store(most, 0);
	assert_int_equal(pthread_barrier_init(&start, NULL, (unsigned)count), 0);
	for (i = 0; i < count; i++) {
		t[i] = (struct staged_thread){ .srv = f->srv, .start = &start };
		t[i].a = (struct staged_arg){ .n = 2000 + i, .decide_ret = refuse[i],
					      .sign_ret = i == failing_sign ? -1 : 0,
					      .signing = &signing, .most = most };
		assert_int_equal(pthread_create(&t[i].thread, NULL, staged_thread_main, &t[i]), 0);
	}
	for (i = 0; i < count; i++)
		pthread_join(t[i].thread, NULL);
	pthread_barrier_destroy(&start);
}

/*
 * Decide, sign, store in order for every call that decided yes, signs of a batch at the
 * same time (the writer and a signer, when there is more than one core) and begun while
 * the writer still decides the batch's later calls, a refusal undone on its own;
 * durable on return.
 */
static void test_staged_steps(void **state)
{
	struct fixture *f = *state;
	static const int refuse[THREADS] = { 0, 0, 5, 0, 0, 0, 5, 0 };
	struct staged_thread t[THREADS];
	atomic_int most;
	int i, overlapped = 0, streamed = 0, round;

	/* Signs overlap when the calls share a batch; a few tries make one certain. */
	for (round = 0; round < 5 && !(overlapped && streamed); round++) {
		assert_int_equal(db_exec(f->t->db, "DELETE FROM batch_rows", NULL), 0);
		staged_run(f, t, THREADS, refuse, -1, &most);
		for (i = 0; i < THREADS; i++) {
			assert_int_equal(t[i].status, 0);
			assert_int_equal(t[i].result, refuse[i]);
			assert_false(t[i].a.out_of_order);
			assert_int_equal(t[i].a.steps, refuse[i] == 0 ? 3 : 1);
			assert_int_equal(rows(f, -(2000 + i)), refuse[i] == 0 ? 1 : 0);
			assert_int_equal(rows(f, 2000 + i), 0);
		}
		overlapped |= atomic_load(&most) > 1;
		for (i = 0; i < THREADS; i++)
			streamed |= t[i].a.saw_signing;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		assert_true(overlapped);
		assert_true(streamed); /* a signer did not wait for the whole batch's decides */
	}
	/* Each call was answered after the syncer synced its transaction. */
	assert_true(metric(f, "parkd_write_syncs_total") >= 1);
	assert_true(metric(f, "parkd_write_syncs_total") <= metric(f,
								  "parkd_write_transactions_total"));
	server_durable_wait(f->srv); /* nothing pending: returns at once */
}

/* A failed signature undoes the whole transaction: no call of it keeps anything. */
static void test_staged_failed_sign_undoes_batch(void **state)
{
	struct fixture *f = *state;
	static const int refuse[2] = { 0, 0 };
	struct staged_thread t[2];
	atomic_int most;
	int i;

	staged_run(f, t, 1, refuse, 0, &most);
	assert_int_not_equal(t[0].status, 0);
	assert_int_equal(rows(f, 2000), 0);
	assert_int_equal(rows(f, -2000), 0);
	/* Whatever batches the two calls fell into, the failing one's stored nothing. */
	staged_run(f, t, 2, refuse, 1, &most);
	assert_int_not_equal(t[1].status, 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(rows(f, 2000 + i), 0);
		assert_int_equal(rows(f, -(2000 + i)), t[i].status == 0 ? 1 : 0);
	}
	/* The writer goes on: the next call commits. */
	assert_int_equal(db_exec(f->t->db, "DELETE FROM batch_rows", NULL), 0);
	staged_run(f, t, 1, refuse, -1, &most);
	assert_int_equal(t[0].status, 0);
	assert_int_equal(rows(f, -2000), 1);
}

/* ---- the pool ---- */

struct borrower {
	pthread_t thread;
	struct server *srv;
	atomic_int *lent, *most;
};

static void *borrower_main(void *arg)
{
	struct borrower *b = arg;
	struct db *db;
	int i, now, most;

	for (i = 0; i < 20; i++) {
		db = server_db_get(b->srv);
		if (db == NULL)
			continue;
		now = atomic_fetch_add(b->lent, 1) + 1;
		most = atomic_load(b->most);
		while (now > most && !atomic_compare_exchange_weak(b->most, &most, now))
			;
		usleep(500);
		atomic_fetch_sub(b->lent, 1);
		server_db_put(b->srv, db);
	}
	return NULL;
}

static void test_pool_lends_at_most_db_pool(void **state)
{
	struct fixture *f = *state;
	struct borrower b[THREADS];
	atomic_int lent = 0, most = 0;
	int i;

	for (i = 0; i < THREADS; i++) {
		b[i] = (struct borrower){ .srv = f->srv, .lent = &lent, .most = &most };
		assert_int_equal(pthread_create(&b[i].thread, NULL, borrower_main, &b[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(b[i].thread, NULL);
	assert_true(atomic_load(&most) >= 1);
	assert_true(atomic_load(&most) <= 3);
	assert_int_equal(atomic_load(&lent), 0);
}

struct loop_thread {
	struct server *srv;
	pthread_t thread;
	struct db *first, *again;
	atomic_bool done;
};

/* A never-waiting thread: its own connection, twice in turn, while the pool is empty. */
static void *loop_thread_main(void *arg)
{
	struct loop_thread *t = arg;

	server_thread_never_waits(t->srv);
	t->first = server_db_get(t->srv);
	if (t->first != NULL && db_exec(t->first, "SELECT 1", NULL) != 0)
		t->first = NULL;
	server_db_put(t->srv, t->first);
	t->again = server_db_get(t->srv);
	server_db_put(t->srv, t->again);
	atomic_store(&t->done, true);
	return NULL;
}

static void test_never_waiting_thread_has_its_own(void **state)
{
	struct fixture *f = *state;
	struct loop_thread t = { .srv = f->srv };
	struct db *lent[3];
	int i;

	/* Every pooled connection lent: any other thread would wait here. */
	for (i = 0; i < 3; i++)
		assert_non_null(lent[i] = server_db_get(f->srv));
	assert_int_equal(pthread_create(&t.thread, NULL, loop_thread_main, &t), 0);
	for (i = 0; i < 300 && !atomic_load(&t.done); i++)
		usleep(10 * 1000);
	assert_true(atomic_load(&t.done));
	pthread_join(t.thread, NULL);
	assert_non_null(t.first);
	assert_ptr_equal(t.again, t.first); /* the same one, not a new one each time */
	for (i = 0; i < 3; i++) {
		assert_ptr_not_equal(t.first, lent[i]);
		server_db_put(f->srv, lent[i]);
	}
}

/* ---- site keys ---- */

static void test_site_key_kept(void **state)
{
	struct fixture *f = *state;
	struct db *db = server_db_get(f->srv);
	EVP_PKEY *key = NULL, *again = NULL;
	uint8_t pub[64], pub2[64], stored[64];
	const void *p;
	struct db_stmt *st;
	size_t len = 0;

	assert_non_null(db);
	assert_int_equal(server_site_key(f->srv, db, 7, &key), 0);
	assert_int_equal(p256_public_raw(key, pub), 0);
	st = db_prepare(db, "SELECT public_key FROM sites WHERE id = 7");
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	p = db_col_blob(st, 0, &len);
	assert_int_equal(len, 64);
	memcpy(stored, p, 64);
	db_finalize(st);
	assert_memory_equal(pub, stored, 64);
	/* Kept: the sealed row is not read again (here it no longer opens). */
	assert_int_equal(db_exec(db, "UPDATE sites SET private_key = zeroblob(80) WHERE id = 7",
				 NULL), 0);
	assert_int_equal(server_site_key(f->srv, db, 7, &again), 0);
	assert_int_equal(p256_public_raw(again, pub2), 0);
	assert_memory_equal(pub, pub2, 64);
	EVP_PKEY_free(again);
	EVP_PKEY_free(key);
	assert_int_equal(server_site_key(f->srv, db, 8, &key), -SITE_E_NOTFOUND);
	assert_null(key);
	server_db_put(f->srv, db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_writers_in_arrival_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batched_keeps_or_undoes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batched_many_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_ended_by_the_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durable_wait_covers_what_is_seen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_staged_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staged_failed_sign_undoes_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_lends_at_most_db_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_waiting_thread_has_its_own, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_site_key_kept, setup, teardown),
	};

	log_init("test-server", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
