/*
 * test-gwqueue.c: unit tests of gateway/gwqueue.c on a real file in a temporary
 * directory: downlink order per lock, duplicates ignored (also after delivery), retries,
 * acks and events handed to the uplink and deleted only when confirmed (never an ack that
 * replaced the report the server confirmed), refused events
 * kept aside, the locks cache, and what survives a close or a process killed mid-run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <time.h>

#include "../../gateway/gwqueue.h"

struct fixture {
	char dir[64];
	char path[96];
	struct gwqueue *q;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-gwqueue.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/queue.db", f->dir);
	if (gwqueue_open(f->path, &f->q) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	gwqueue_close(f->q);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	gwqueue_close(f->q);
	f->q = NULL;
	assert_int_equal(gwqueue_open(f->path, &f->q), 0);
}

/* A fake frame whose bytes say which message it is. */
static size_t frame_of(int64_t id, uint8_t *buf)
{
	size_t i, len = 20 + (size_t)(id % 50);

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(id * 7 + (int64_t)i);
	return len;
}

static struct proto_event event_of(uint32_t seq)
{
	struct proto_event e;

	memset(&e, 0, sizeof(e));
	e.seq = seq;
	e.time = 1800000000u + seq;
	e.kind = PROTO_EV_UNLOCKED;
	e.arg8 = 1;
	e.arg16 = (uint16_t)seq;
	e.user_id = 42;
	e.key_id = 9;
	return e;
}

static void test_file_mode(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_downlink_order_and_duplicates(void **state)
{
	struct fixture *f = *state;
	struct gwqueue_msg m;
	uint8_t frame[PROTO_FRAME_MAX], want[PROTO_FRAME_MAX];
	size_t len, n;

	len = frame_of(9, frame);
	assert_int_equal(gwqueue_down_put(f->q, 9, 101, frame, len), 1);
	len = frame_of(7, frame);
	assert_int_equal(gwqueue_down_put(f->q, 7, 101, frame, len), 1);
	len = frame_of(8, frame);
	assert_int_equal(gwqueue_down_put(f->q, 8, 102, frame, len), 1);
	/* The server sends a pending message again: it is not queued twice. */
	len = frame_of(7, frame);
	assert_int_equal(gwqueue_down_put(f->q, 7, 101, frame, len), 0);
	assert_int_equal(gwqueue_down_put(f->q, 10, 101, frame, 0), -GWQUEUE_E_ARG);
	assert_int_equal(gwqueue_down_put(f->q, 10, 101, frame, PROTO_FRAME_MAX + 1),
			 -GWQUEUE_E_ARG);
	assert_int_equal(gwqueue_down_count(f->q, &n), 0);
	assert_int_equal(n, 3);

	/* In order per lock: 7 before 9 on 101. */
	assert_int_equal(gwqueue_down_next(f->q, 101, &m), 1);
	assert_int_equal(m.id, 7);
	len = frame_of(7, want);
	assert_int_equal(m.len, len);
	assert_memory_equal(m.frame, want, len);
	assert_int_equal(m.attempts, 0);
	assert_int_equal(gwqueue_down_next(f->q, 102, &m), 1);
	assert_int_equal(m.id, 8);
	assert_int_equal(gwqueue_down_next(f->q, 103, &m), 0);

	/* A delivery without answer: counted, due later, still first in line. */
	assert_int_equal(gwqueue_down_retry(f->q, 7, 123456), 0);
	assert_int_equal(gwqueue_down_next(f->q, 101, &m), 1);
	assert_int_equal(m.id, 7);
	assert_int_equal(m.attempts, 1);
	assert_int_equal(m.next_try_at, 123456);
}

/* A pending message sent again with a new frame (a fresh time) goes so; a done one not. */
static void test_resent_frame_replaces_pending(void **state)
{
	struct fixture *f = *state;
	struct gwqueue_msg m;
	uint8_t old[PROTO_FRAME_MAX], fresh[PROTO_FRAME_MAX], ack[78];
	size_t len = frame_of(4, old);

	memcpy(fresh, old, len);
	fresh[len - 1] ^= 0xFF;
	assert_int_equal(gwqueue_down_put(f->q, 4, 101, old, len), 1);
	assert_int_equal(gwqueue_down_put(f->q, 4, 101, fresh, len), 0);
	assert_int_equal(gwqueue_down_next(f->q, 101, &m), 1);
	assert_int_equal(m.id, 4);
	assert_int_equal(m.len, len);
	assert_memory_equal(m.frame, fresh, len);
	memset(ack, 0x5A, sizeof(ack));
	assert_int_equal(gwqueue_down_done(f->q, 4, ack, sizeof(ack), NULL), 0);
	assert_int_equal(gwqueue_down_put(f->q, 4, 101, old, len), 0);
	assert_int_equal(gwqueue_down_next(f->q, 101, &m), 0);
}

static void test_ack_moves_to_uplink(void **state)
{
	struct fixture *f = *state;
	struct gwqueue_ack acks[4];
	struct gwqueue_msg m;
	uint8_t frame[PROTO_FRAME_MAX], ack[78];
	size_t len, ne, na;

	len = frame_of(7, frame);
	assert_int_equal(gwqueue_down_put(f->q, 7, 101, frame, len), 1);
	len = frame_of(9, frame);
	assert_int_equal(gwqueue_down_put(f->q, 9, 101, frame, len), 1);
	memset(ack, 0xA5, sizeof(ack));
	assert_int_equal(gwqueue_down_done(f->q, 7, ack, sizeof(ack), NULL), 0);
	assert_int_equal(gwqueue_down_done(f->q, 9, NULL, 0, "unreachable"), 0);
	assert_int_equal(gwqueue_down_done(f->q, 9, NULL, 0, NULL), -GWQUEUE_E_ARG);
	assert_int_equal(gwqueue_down_next(f->q, 101, &m), 0);

	/* Delivered, and sent again by a server that has no ack yet: not delivered twice. */
	assert_int_equal(gwqueue_down_put(f->q, 7, 101, frame, len), 0);
	assert_int_equal(gwqueue_down_next(f->q, 101, &m), 0);

	assert_int_equal(gwqueue_acks_peek(f->q, acks, 4), 2);
	assert_int_equal(acks[0].id, 7);
	assert_int_equal(acks[0].len, sizeof(ack));
	assert_memory_equal(acks[0].frame, ack, sizeof(ack));
	assert_int_equal(acks[1].id, 9);
	assert_int_equal(acks[1].len, 0);
	assert_string_equal(acks[1].error, "unreachable");
	assert_int_equal(gwqueue_acks_peek(f->q, acks, 1), 1);

	/* Pruning keeps tombstones whose ack the server does not have yet. */
	assert_int_equal(gwqueue_down_prune(f->q, INT64_MAX), 0);
	assert_int_equal(gwqueue_down_put(f->q, 7, 101, frame, len), 0);

	assert_int_equal(gwqueue_acks_peek(f->q, acks, 1), 1);
	assert_int_equal(gwqueue_acks_delete(f->q, acks, 1), 0);
	assert_int_equal(gwqueue_up_count(f->q, &ne, &na), 0);
	assert_int_equal(na, 1);
	assert_int_equal(ne, 0);
	assert_int_equal(gwqueue_down_prune(f->q, 0), 0); /* too young */
	assert_int_equal(gwqueue_down_put(f->q, 7, 101, frame, len), 0);
	assert_int_equal(gwqueue_down_prune(f->q, INT64_MAX), 0);
	/* Forgotten now: a message the server sends again after that is new. */
	assert_int_equal(gwqueue_down_put(f->q, 7, 101, frame, len), 1);
	assert_int_equal(gwqueue_down_put(f->q, 9, 101, frame, len), 0);
}

static void test_unreachable_stays_pending(void **state)
{
	struct fixture *f = *state;
	struct gwqueue_ack acks[2];
	struct gwqueue_msg m;
	uint8_t frame[PROTO_FRAME_MAX], ack[78];
	size_t len = frame_of(4, frame);

	assert_int_equal(gwqueue_down_put(f->q, 4, 101, frame, len), 1);
	assert_int_equal(gwqueue_down_retry(f->q, 4, 10), 0);
	assert_int_equal(gwqueue_down_retry(f->q, 4, 20), 0);
	assert_int_equal(gwqueue_down_report(f->q, 4, "unreachable", 999), 0);
	/* The server hears why, and the message is still ours to deliver, counted afresh. */
	assert_int_equal(gwqueue_acks_peek(f->q, acks, 2), 1);
	assert_int_equal(acks[0].id, 4);
	assert_string_equal(acks[0].error, "unreachable");
	assert_int_equal(gwqueue_down_next(f->q, 101, &m), 1);
	assert_int_equal(m.id, 4);
	assert_int_equal(m.attempts, 0);
	assert_int_equal(m.next_try_at, 999);
	/* Delivered at last before the error went up: the real ack replaces it. */
	memset(ack, 0x5A, sizeof(ack));
	assert_int_equal(gwqueue_down_done(f->q, 4, ack, sizeof(ack), NULL), 0);
	assert_int_equal(gwqueue_acks_peek(f->q, acks, 2), 1);
	assert_int_equal(acks[0].len, sizeof(ack));
	assert_int_equal(gwqueue_down_report(f->q, 4, NULL, 1), -GWQUEUE_E_ARG);
}

/*
 * An "unreachable" on its way to the server when the lock's ack comes: the server's
 * answer to the first deletes it only, and the ack is sent next.
 */
static void test_ack_replacing_report_in_flight_kept(void **state)
{
	struct fixture *f = *state;
	struct gwqueue_ack sent, left;
	uint8_t frame[PROTO_FRAME_MAX], ack[78];
	size_t len = frame_of(4, frame), ne, na;

	assert_int_equal(gwqueue_down_put(f->q, 4, 101, frame, len), 1);
	assert_int_equal(gwqueue_down_report(f->q, 4, "unreachable", 999), 0);
	assert_int_equal(gwqueue_acks_peek(f->q, &sent, 1), 1);
	assert_string_equal(sent.error, "unreachable");
	memset(ack, 0x5A, sizeof(ack));
	assert_int_equal(gwqueue_down_done(f->q, 4, ack, sizeof(ack), NULL), 0);
	assert_int_equal(gwqueue_acks_delete(f->q, &sent, 1), 0);
	assert_int_equal(gwqueue_up_count(f->q, &ne, &na), 0);
	assert_int_equal(na, 1);
	assert_int_equal(gwqueue_acks_peek(f->q, &left, 1), 1);
	assert_int_equal(left.id, 4);
	assert_int_equal(left.len, sizeof(ack));
	assert_memory_equal(left.frame, ack, sizeof(ack));
	assert_true(left.queued_at > sent.queued_at);
	/* Delivered, so the server's copy sent again is not taken. */
	assert_int_equal(gwqueue_down_put(f->q, 4, 101, frame, len), 0);
	assert_int_equal(gwqueue_acks_delete(f->q, &left, 1), 0);
	assert_int_equal(gwqueue_up_count(f->q, &ne, &na), 0);
	assert_int_equal(na, 0);
}

/*
 * Events held (their lock refused for now) are not given until their time: the rest
 * go meanwhile, however many are held.
 */
static void test_held_events_skipped(void **state)
{
	struct fixture *f = *state;
	struct proto_event ev[3] = { event_of(1), event_of(2), event_of(3) };
	struct gwqueue_event out[8];
	uint8_t hash[PROTO_HASH_LEN] = { 0 };
	struct timespec now;

	assert_int_equal(gwqueue_events_put(f->q, 101, ev, 3, 3, hash), 3);
	assert_int_equal(gwqueue_events_put(f->q, 102, ev, 1, 1, hash), 1);
	assert_int_equal(gwqueue_events_peek(f->q, out, 8), 4);
	clock_gettime(CLOCK_REALTIME, &now);
	assert_int_equal(gwqueue_events_hold(f->q, out, 3, (int64_t)now.tv_sec * 1000 + 60000),
			 0);
	assert_int_equal(gwqueue_events_peek(f->q, out, 8), 1);
	assert_int_equal(out[0].spot, 102);
	/* Due again: given, oldest first. */
	out[0].spot = 101;
	out[0].ev = ev[0];
	assert_int_equal(gwqueue_events_hold(f->q, out, 1, 0), 0);
	assert_int_equal(gwqueue_events_peek(f->q, out, 8), 2);
	assert_int_equal(out[0].spot, 101);
	assert_int_equal(out[0].ev.seq, 1);
	assert_int_equal(out[1].spot, 102);
}

/* A queue file from before events could be held opens, gains the column, keeps its events. */
static void test_old_queue_file_opens(void **state)
{
	struct fixture *f = *state;
	struct gwqueue_event out[2];
	char path[160];
	sqlite3 *db = NULL;
	struct gwqueue *q = NULL;

	snprintf(path, sizeof(path), "%s/old.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE events (spot INTEGER NOT NULL, seq "
				      "INTEGER NOT NULL, time INTEGER NOT NULL, kind INTEGER NOT "
				      "NULL, arg8 INTEGER NOT NULL, arg16 INTEGER NOT NULL, user_id "
				      "INTEGER NOT NULL, key_id INTEGER NOT NULL, refused INTEGER "
				      "NOT NULL DEFAULT 0, PRIMARY KEY (spot, seq)); INSERT INTO "
				      "events VALUES (101, 7, 0, 1, 0, 0, 0, 0, 0);", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(gwqueue_open(path, &q), 0);
	assert_int_equal(gwqueue_events_peek(q, out, 2), 1);
	assert_int_equal(out[0].ev.seq, 7);
	assert_int_equal(gwqueue_events_hold(q, out, 1, INT64_MAX), 0);
	assert_int_equal(gwqueue_events_peek(q, out, 2), 0);
	gwqueue_close(q);
}

static void test_events_once(void **state)
{
	struct fixture *f = *state;
	struct proto_event ev[4];
	struct gwqueue_event out[8];
	uint8_t hash[PROTO_HASH_LEN], got[PROTO_HASH_LEN];
	uint32_t seq = 0;
	size_t ne, na;

	assert_int_equal(gwqueue_lockstate_get(f->q, 101, &seq, got), 0);
	memset(hash, 0x11, sizeof(hash));
	ev[0] = event_of(1);
	ev[1] = event_of(2);
	ev[2] = event_of(3);
	assert_int_equal(gwqueue_events_put(f->q, 101, ev, 3, 3, hash), 3);
	assert_int_equal(gwqueue_lockstate_get(f->q, 101, &seq, got), 1);
	assert_int_equal(seq, 3);
	assert_memory_equal(got, hash, sizeof(hash));

	/* The same events again (a page read twice): nothing new. */
	memset(hash, 0x22, sizeof(hash));
	ev[3] = event_of(4);
	assert_int_equal(gwqueue_events_put(f->q, 101, &ev[1], 3, 4, hash), 1);
	assert_int_equal(gwqueue_events_put(f->q, 102, ev, 1, 1, hash), 1);

	assert_int_equal(gwqueue_events_peek(f->q, out, 8), 5);
	assert_int_equal(out[0].spot, 101);
	assert_int_equal(out[0].ev.seq, 1);
	assert_int_equal(out[3].ev.seq, 4);
	assert_int_equal(out[4].spot, 102);
	assert_int_equal(out[2].ev.time, ev[2].time);
	assert_int_equal(out[2].ev.kind, ev[2].kind);
	assert_int_equal(out[2].ev.arg16, ev[2].arg16);
	assert_int_equal(out[2].ev.user_id, 42);
	assert_int_equal(out[2].ev.key_id, 9);
	assert_int_equal(gwqueue_events_peek(f->q, out, 2), 2);

	/* Accepted: gone. Refused: kept, never offered again. */
	assert_int_equal(gwqueue_events_done(f->q, out, 2, false), 0);
	assert_int_equal(gwqueue_events_peek(f->q, out, 8), 3);
	assert_int_equal(out[0].ev.seq, 3);
	assert_int_equal(gwqueue_events_done(f->q, &out[2], 1, true), 0);
	assert_int_equal(gwqueue_up_count(f->q, &ne, &na), 0);
	assert_int_equal(ne, 2);
	assert_int_equal(na, 0);
	assert_int_equal(gwqueue_events_peek(f->q, out, 8), 2);
	/* A refused event read again stays refused (its (spot, seq) is known). */
	assert_int_equal(gwqueue_events_put(f->q, 102, ev, 1, 1, hash), 0);
	assert_int_equal(gwqueue_events_peek(f->q, out, 8), 2);
}

static void test_locks_cache(void **state)
{
	struct fixture *f = *state;
	struct gwqueue_lock in[2], *out = NULL;
	size_t n = 9;

	assert_int_equal(gwqueue_locks_get(f->q, &out, &n), 0);
	assert_null(out);
	assert_int_equal(n, 0);
	memset(in, 0, sizeof(in));
	in[0].spot = 102;
	strcpy(in[0].name, "B1-02");
	strcpy(in[0].address, "/run/locks/102.sock");
	memset(in[0].device_pub, 2, sizeof(in[0].device_pub));
	in[0].event_seq = 5;
	in[1].spot = 101;
	strcpy(in[1].name, "B1-01");
	strcpy(in[1].address, "/run/locks/101.sock");
	memset(in[1].device_pub, 1, sizeof(in[1].device_pub));
	assert_int_equal(gwqueue_locks_set(f->q, in, 2), 0);
	reopen(f);
	assert_int_equal(gwqueue_locks_get(f->q, &out, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].spot, 101);
	assert_string_equal(out[0].name, "B1-01");
	assert_memory_equal(out[1].device_pub, in[0].device_pub, PROTO_PUBKEY_LEN);
	assert_int_equal(out[1].event_seq, 5);
	assert_string_equal(out[1].address, "/run/locks/102.sock");
	free(out);
	/* Replaced, not merged. */
	assert_int_equal(gwqueue_locks_set(f->q, &in[0], 1), 0);
	assert_int_equal(gwqueue_locks_get(f->q, &out, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].spot, 102);
	free(out);
}

static void test_reopen_keeps_everything(void **state)
{
	struct fixture *f = *state;
	struct gwqueue_msg m;
	struct gwqueue_ack a;
	struct gwqueue_event e;
	struct proto_event ev = event_of(12);
	uint8_t frame[PROTO_FRAME_MAX], hash[PROTO_HASH_LEN] = { 3 };
	size_t len = frame_of(5, frame);
	uint32_t seq;

	assert_int_equal(gwqueue_down_put(f->q, 5, 201, frame, len), 1);
	assert_int_equal(gwqueue_down_put(f->q, 6, 201, frame, len), 1);
	assert_int_equal(gwqueue_down_done(f->q, 5, frame, 78, NULL), 0);
	assert_int_equal(gwqueue_events_put(f->q, 201, &ev, 1, 12, hash), 1);
	reopen(f);
	assert_int_equal(gwqueue_down_next(f->q, 201, &m), 1);
	assert_int_equal(m.id, 6);
	assert_int_equal(gwqueue_acks_peek(f->q, &a, 1), 1);
	assert_int_equal(a.id, 5);
	assert_int_equal(gwqueue_events_peek(f->q, &e, 1), 1);
	assert_int_equal(e.ev.seq, 12);
	assert_int_equal(gwqueue_lockstate_get(f->q, 201, &seq, hash), 1);
	assert_int_equal(seq, 12);
	assert_int_equal(gwqueue_down_put(f->q, 5, 201, frame, len), 0);
}

/*
 * A process that stores and is then killed with SIGKILL, never closing the file: what
 * each call returned 0 for is there afterwards.
 */
static void test_killed_process_loses_nothing(void **state)
{
	struct fixture *f = *state;
	struct gwqueue_event out[64];
	struct gwqueue *q;
	struct proto_event ev;
	uint8_t frame[PROTO_FRAME_MAX], hash[PROTO_HASH_LEN] = { 0 };
	int pipefd[2], status;
	uint32_t i;
	char done = 0;
	size_t len;
	pid_t pid;

	gwqueue_close(f->q);
	f->q = NULL;
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		if (gwqueue_open(f->path, &q) != 0)
			_exit(1);
		for (i = 1; i <= 40; i++) {
			ev = event_of(i);
			len = frame_of(i, frame);
			if (gwqueue_events_put(q, 301, &ev, 1, i, hash) != 1 ||
			    gwqueue_down_put(q, i, 301, frame, len) != 1)
				_exit(1);
		}
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause(); /* killed here, the file still open */
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &done, 1), 1);
	close(pipefd[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(gwqueue_open(f->path, &f->q), 0);
	assert_int_equal(gwqueue_events_peek(f->q, out, 64), 40);
	for (i = 0; i < 40; i++)
		assert_int_equal(out[i].ev.seq, i + 1);
	len = 0;
	assert_int_equal(gwqueue_down_count(f->q, &len), 0);
	assert_int_equal(len, 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_downlink_order_and_duplicates, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ack_moves_to_uplink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resent_frame_replaces_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_stays_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_replacing_report_in_flight_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_events_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_events_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_queue_file_opens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locks_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_process_loses_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
