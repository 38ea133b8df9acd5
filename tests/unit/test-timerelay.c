/*
 * test-timerelay.c: server/timerelay on the test site (tests/support/test-site-db.h):
 * after the import every lock gets one SET_TIME signed with the site key under its next
 * sequence, carrying the server's clock, which an in-process lock core takes; a lock
 * with one pending gets no second, one whose newest is younger than time_relay_s none
 * either; a lock ahead of the server after a power cut answers time_backwards, which is
 * stored as its result and not resent; and the thread of a running server relays again
 * once time_relay_s has passed, and stops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../../lib/log.h"
#include "../../server/config.h"
#include "../../server/delivery.h"
#include "../../server/server.h"
#include "../../server/timerelay.h"
#include "../support/test-site-db.h"

#define NOW 1800000000
#define RELAY_S 21600

struct fixture {
	struct test_site_db *t;
	struct test_lock *lock; /* the lock of spot 101 */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	must(f != NULL);
	f->t = test_site_db_new();
	test_site_db_import_good(f->t);
	f->lock = calloc(1, sizeof(*f->lock));
	must(f->lock != NULL);
	test_site_db_attach_lock(f->t, f->lock, 101);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_lock_free(f->lock);
	free(f->lock);
	test_site_db_free(f->t);
	free(f);
	return 0;
}

static int64_t count(struct fixture *f, const char *sql)
{
	return test_site_db_int(f->t->db, sql);
}

/* timerelay_queue() in a transaction of its own; the number queued. */
static size_t relay(struct fixture *f, int64_t site, int64_t now, int64_t max_age)
{
	size_t queued = 99;

	assert_int_equal(db_begin(f->t->db), 0);
	assert_int_equal(timerelay_queue(f->t->db, f->t->master, site, now, max_age, &queued), 0);
	assert_int_equal(db_commit(f->t->db), 0);
	return queued;
}

/* The newest SET_TIME of spot 101: its ID, and its frame decoded into m and p. */
static int64_t newest_time(struct fixture *f, uint8_t *frame, size_t *len, struct proto_msg *m,
			   union proto_mgmt_payload *p)
{
	struct db_stmt *st = db_prepare(f->t->db, "SELECT id, frame FROM mgmt_queue "
					"WHERE spot_id = 101 AND kind = 'set_time' "
					"ORDER BY id DESC LIMIT 1");
	const void *b;
	int64_t id;

	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	id = db_col_int(st, 0);
	b = db_col_blob(st, 1, len);
	assert_true(*len <= PROTO_FRAME_MAX);
	memcpy(frame, b, *len);
	db_finalize(st);
	assert_int_equal(proto_decode(frame, *len, m), 0);
	assert_int_equal(m->type, PROTO_MGMT);
	assert_int_equal(proto_mgmt_decode_payload(m->u.mgmt.mtype, m->u.mgmt.payload,
						   m->u.mgmt.plen, p), 0);
	return id;
}

/* Delivers the newest SET_TIME of 101 and reports the ack; the lock's ack into *a. */
static void deliver_time(struct fixture *f, int64_t now, char result[32], struct proto_msg *a)
{
	uint8_t frame[PROTO_FRAME_MAX], ack[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	struct proto_msg m;
	size_t n = 0, alen = 0;
	int64_t id = newest_time(f, frame, &n, &m, &p), resent = -1;

	(void)test_site_db_deliver(f->lock, frame, n, ack, &alen);
	assert_int_equal(proto_decode(ack, alen, a), 0);
	assert_int_equal(db_begin(f->t->db), 0);
	assert_int_equal(delivery_ack(f->t->db, f->t->master, 1, now, id, ack, alen, NULL, result,
				      &resent), 0);
	assert_int_equal(db_commit(f->t->db), 0);
	assert_int_equal(resent, 0);
}

static void test_every_lock_after_import(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	struct proto_msg m, a;
	size_t n = 0;
	char result[32];

	assert_int_equal(relay(f, TEST_SITE_DB_SITE_ID, NOW, 0), TEST_SITE_DB_SPOTS);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'set_time' "
			       "AND state = 'pending' AND seq = 1 AND created_at = 1800000000"),
			 TEST_SITE_DB_SPOTS);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM locks WHERE mgmt_seq = 1"),
			 TEST_SITE_DB_SPOTS);
	(void)newest_time(f, frame, &n, &m, &p);
	assert_int_equal(m.u.mgmt.mtype, PROTO_MGMT_SET_TIME);
	assert_int_equal(m.u.mgmt.target_spot, 101);
	assert_int_equal(p.time, NOW);
	/* The fresh lock takes it: its clock is the server's now. */
	deliver_time(f, NOW + 1, result, &a);
	assert_string_equal(result, "ok");
	assert_int_equal(a.u.ack.result, PROTO_OK);
	assert_true(a.u.ack.lock_time >= NOW && a.u.ack.lock_time < NOW + 5);
	assert_int_equal(test_lock_count_events(f->lock, PROTO_EV_TIME_SET), 1);
}

static void test_pending_and_fresh_skipped(void **state)
{
	struct fixture *f = *state;
	struct proto_msg a;
	char result[32];

	assert_int_equal(relay(f, TEST_SITE_DB_SITE_ID, NOW, RELAY_S), TEST_SITE_DB_SPOTS);
	/* Each has one pending: no second one, whatever its age. */
	assert_int_equal(relay(f, 0, NOW + 2 * RELAY_S, RELAY_S), 0);
	deliver_time(f, NOW + 1, result, &a);
	/* 101's is delivered but young; the others still wait. */
	assert_int_equal(relay(f, 0, NOW + 100, RELAY_S), 0);
	assert_int_equal(relay(f, 0, NOW + RELAY_S - 1, RELAY_S), 0);
	/* time_relay_s old: 101 again, under its next sequence. */
	assert_int_equal(relay(f, 0, NOW + RELAY_S, RELAY_S), 1);
	assert_int_equal(count(f, "SELECT seq FROM mgmt_queue WHERE spot_id = 101 AND "
			       "state = 'pending'"), 2);
	deliver_time(f, NOW + RELAY_S + 2, result, &a);
	assert_string_equal(result, "ok");
	/* Another site, or none: nothing of this one. */
	assert_int_equal(relay(f, 8, NOW + 3 * RELAY_S, RELAY_S), 0);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue"), TEST_SITE_DB_SPOTS + 1);
	/* A lock at the end of its sequences is skipped, the rest go on. */
	assert_int_equal(db_exec(f->t->db, "UPDATE mgmt_queue SET state = 'acked'", NULL), 0);
	assert_int_equal(db_exec(f->t->db, "UPDATE locks SET mgmt_seq = 4294967295 "
				 "WHERE spot_id = 102", NULL), 0);
	assert_int_equal(relay(f, 0, NOW + 3 * RELAY_S, RELAY_S), TEST_SITE_DB_SPOTS - 1);
}

static void test_lock_ahead_answers_time_backwards(void **state)
{
	struct fixture *f = *state;
	struct proto_msg a;
	char result[32];

	assert_int_equal(relay(f, TEST_SITE_DB_SITE_ID, NOW, 0), TEST_SITE_DB_SPOTS);
	deliver_time(f, NOW, result, &a);
	assert_string_equal(result, "ok");
	/* A power cut: the lock resumes up to 300 s ahead of real time. */
	assert_int_equal(test_lock_reboot(f->lock), 0);
	assert_int_equal(relay(f, TEST_SITE_DB_SITE_ID, NOW + 10, 0), 1);
	deliver_time(f, NOW + 11, result, &a);
	/* Stored as the lock's answer and closed; the lock keeps its clock, nothing resent. */
	assert_string_equal(result, "time_backwards");
	assert_int_equal(a.u.ack.result, PROTO_E_TIME_BACK);
	assert_true(a.u.ack.lock_time > NOW + 10);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE spot_id = 101 AND "
			       "state = 'acked' AND result = 'time_backwards'"), 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE spot_id = 101 AND "
			       "state = 'pending'"), 0);
}

/* ---- the thread of a running server ---- */

static _Atomic int64_t clock_now;

static int64_t test_clock(void)
{
	return atomic_load(&clock_now);
}

static void test_config_option(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_MAX];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(cfg.time_relay_s, RELAY_S);
	assert_int_equal(cfg.redeliver_s, 30);
	assert_int_equal(config_set(&cfg, "time_relay_s", "0", err, sizeof(err)), -1);
	assert_int_equal(config_set(&cfg, "time_relay_s", "604801", err, sizeof(err)), -1);
	assert_int_equal(config_set(&cfg, "time_relay_s", "3600", err, sizeof(err)), 0);
	assert_int_equal(cfg.time_relay_s, 3600);
	assert_int_equal(config_set(&cfg, "redeliver_s", "0", err, sizeof(err)), -1);
	assert_int_equal(config_set(&cfg, "redeliver_s", "5", err, sizeof(err)), 0);
}

/* Waits up to 5 s for `sql` to count `want`. */
static void wait_count(struct fixture *f, const char *sql, int64_t want)
{
	struct timespec ts = { 0, 20000000 };
	int i;

	for (i = 0; i < 250 && count(f, sql) != want; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(count(f, sql), want);
}

static void test_thread_relays_and_stops(void **state)
{
	struct fixture *f = *state;
	char err[CONFIG_ERR_MAX], path[128], url[160];
	struct config cfg;
	struct server *srv = NULL;
	FILE *key;

	/* The server runs on the test's database, with the test's master key. */
	snprintf(path, sizeof(path), "%s/master.key", f->t->dir);
	key = fopen(path, "wb");
	assert_non_null(key);
	assert_int_equal(fwrite(f->t->master, 1, 32, key), 32);
	assert_int_equal(fclose(key), 0);
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(url, sizeof(url), "sqlite:%s/park.db", f->t->dir);
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "data_dir", f->t->dir, err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "db_url", url, err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "time_relay_s", "1", err, sizeof(err)), 0);
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), 0);
	atomic_store(&clock_now, NOW);
	cfg.now = test_clock;
	assert_int_equal(server_open(&cfg, &srv), 0);

	/* A pass at once: every lock. */
	assert_int_equal(timerelay_start(srv), 0);
	wait_count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'set_time' AND "
		   "created_at = 1800000000", TEST_SITE_DB_SPOTS);
	/* Delivered, then older than time_relay_s: the next tick relays again. */
	assert_int_equal(db_exec(f->t->db, "UPDATE mgmt_queue SET state = 'acked', "
				 "result = 'ok'", NULL), 0);
	atomic_store(&clock_now, NOW + 2);
	wait_count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'set_time' AND "
		   "created_at = 1800000002 AND state = 'pending'", TEST_SITE_DB_SPOTS);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM locks WHERE mgmt_seq = 2"),
			 TEST_SITE_DB_SPOTS);
	/* A pass by hand finds nothing due: each has one pending. */
	assert_int_equal(timerelay_pass(srv), 0);
	timerelay_stop(srv);
	timerelay_stop(srv); /* again: nothing to stop */
	server_close(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_lock_after_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_and_fresh_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_ahead_answers_time_backwards, setup,
						teardown),
		cmocka_unit_test(test_config_option),
		cmocka_unit_test_setup_teardown(test_thread_relays_and_stops, setup, teardown),
	};

	log_init("test-timerelay", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
