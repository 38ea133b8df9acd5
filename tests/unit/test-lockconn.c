/*
 * test-lockconn.c: unit tests of lib/lockconn.c and lib/transport-sim.c against a peer written here on the other
 * end of a real UNIX socket: fragmentation at several MTUs both ways, a frame split
 * across a timeout, tag matching with events and late replies in between, timeouts, EOF,
 * and the peer's malformed length prefixes and fragments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/lockconn.h"

struct fixture {
	char dir[64];
	char path[96];
	int listen_fd;
	int peer; /* the lock's end */
	struct lockconn link;
	struct proto_event events[8];
	unsigned nevents;
};

static uint8_t pattern[PROTO_FRAME_MAX];

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa;
	size_t i;

	if (f == NULL)
		return -1;
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 13 + 5);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-lockconn.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/lock.sock", f->dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(f->listen_fd, 1) != 0)
		return -1;
	if (lockconn_open_sim(&f->link, f->path) != 0)
		return -1;
	f->peer = accept(f->listen_fd, NULL, NULL);
	if (f->peer < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	lockconn_close(&f->link);
	if (f->peer >= 0)
		close(f->peer);
	close(f->listen_fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- the peer ---- */

static void peer_write(struct fixture *f, const void *p, size_t len)
{
	assert_int_equal(send(f->peer, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Sends frame[0..len) as the lock would: fragments for `mtu`, each with its prefix. */
static void peer_send_frame(struct fixture *f, const uint8_t *frame, size_t len, uint16_t mtu)
{
	uint8_t buf[2 + FRAG_PAYLOAD_MAX];
	struct frag_tx tx;
	int n;

	assert_int_equal(frag_tx_init(&tx, frame, len, mtu), 0);
	while ((n = frag_tx_next(&tx, buf + 2, sizeof(buf) - 2)) > 0) {
		wire_store_u16(buf, (uint16_t)n);
		peer_write(f, buf, 2 + (size_t)n);
	}
}

static void peer_send_msg(struct fixture *f, const struct proto_msg *m)
{
	uint8_t frame[PROTO_FRAME_MAX];
	int n = proto_encode(m, frame, sizeof(frame));

	assert_true(n > 0);
	peer_send_frame(f, frame, (size_t)n, 185);
}

static void read_exact(int fd, uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = recv(fd, p, len, 0);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Receives one frame from the client, checking every fragment fits `mtu`. Returns its
 * length; the frame is in rx->buf.
 */
static size_t peer_recv_frame(struct fixture *f, struct frag_rx *rx, uint16_t mtu)
{
	uint8_t buf[2 + FRAG_PAYLOAD_MAX];
	size_t len;
	int r;

	frag_rx_reset(rx);
	do {
		read_exact(f->peer, buf, 2);
		len = wire_load_u16(buf);
		assert_true(len >= 1 && len <= (size_t)mtu - 3);
		read_exact(f->peer, buf + 2, len);
		r = frag_rx_feed(rx, buf + 2, len);
		assert_true(r >= 0);
	} while (r == 0);
	return rx->total;
}

static void on_event(void *arg, const struct proto_event *ev)
{
	struct fixture *f = arg;

	assert_true(f->nevents < 8);
	f->events[f->nevents++] = *ev;
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- tests ---- */

static void test_open_state(void **state)
{
	struct fixture *f = *state;
	struct lockconn other;

	assert_true(transport_sim_fd(f->link.t) >= 0);
	assert_int_equal(f->link.mtu, PROTO_MTU_MIN);
	assert_int_equal(f->link.next_tag, 1);
	assert_int_equal(lockconn_open_sim(&other, "/nonexistent/dir/lock.sock"),
			 -LOCKCONN_E_NOTFOUND);
	assert_null(other.t);
	lockconn_close(&other); /* harmless on a closed link */
}

static void test_send_fragments(void **state)
{
	static const uint16_t mtus[] = { 23, 24, 50, 185, 246, 247 };
	static const size_t lens[] = { 1, 17, 18, 19, 100, 241, 242, 500, 1024 };
	struct fixture *f = *state;
	struct frag_rx rx;
	size_t i, j;

	for (i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
		f->link.mtu = mtus[i];
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			assert_int_equal(lockconn_send_frame(&f->link, pattern, lens[j]), 0);
			assert_int_equal(peer_recv_frame(f, &rx, mtus[i]), lens[j]);
			assert_memory_equal(rx.buf, pattern, lens[j]);
		}
	}
	assert_int_equal(lockconn_send_frame(&f->link, pattern, 0), -LOCKCONN_E_SPACE);
	assert_int_equal(lockconn_send_frame(&f->link, pattern, PROTO_FRAME_MAX + 1),
			 -LOCKCONN_E_SPACE);
}

static void test_recv_fragments(void **state)
{
	static const uint16_t mtus[] = { 23, 100, 185, 247 };
	static const size_t lens[] = { 1, 17, 18, 300, 1024 };
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	size_t i, j;

	for (i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			peer_send_frame(f, pattern, lens[j], mtus[i]);
			assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 1000),
					 (int)lens[j]);
			assert_memory_equal(buf, pattern, lens[j]);
		}
	}
}

static void test_recv_across_timeout(void **state)
{
	struct fixture *f = *state;
	uint8_t wire[3 * (2 + FRAG_PAYLOAD_MAX)], buf[PROTO_FRAME_MAX];
	struct frag_tx tx;
	size_t have = 0;
	int n;

	/* A 300-byte frame at MTU 50: cut the byte stream mid-prefix and mid-fragment. */
	assert_int_equal(frag_tx_init(&tx, pattern, 300, 50), 0);
	while ((n = frag_tx_next(&tx, wire + have + 2, FRAG_PAYLOAD_MAX)) > 0) {
		wire_store_u16(wire + have, (uint16_t)n);
		have += 2 + (size_t)n;
	}
	peer_write(f, wire, 1);
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 30), 0);
	peer_write(f, wire + 1, 80);
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 30), 0);
	peer_write(f, wire + 81, have - 81);
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 1000), 300);
	assert_memory_equal(buf, pattern, 300);
}

static void test_recv_too_big_for_buffer(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];

	peer_send_frame(f, pattern, 65, 185);
	peer_send_frame(f, pattern, 64, 185);
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 1000), -LOCKCONN_E_SPACE);
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 1000), 64);
}

static void make_reply(struct proto_msg *m, uint8_t tag)
{
	memset(m, 0, sizeof(*m));
	m->type = PROTO_RESULT;
	m->tag = tag;
	m->u.result.op = PROTO_OP_UNLOCK;
	m->u.result.barrier = PROTO_BARRIER_DOWN;
	m->u.result.uses_left = tag;
}

static void make_event(struct proto_msg *m, uint32_t seq, uint8_t kind)
{
	memset(m, 0, sizeof(*m));
	m->type = PROTO_EVENT;
	m->u.event.seq = seq;
	m->u.event.kind = kind;
	m->u.event.time = 1234;
}

static void test_request_tags_and_events(void **state)
{
	struct fixture *f = *state;
	uint8_t req[16] = { PROTO_VERSION, PROTO_CHALLENGE_REQ, 0xEE }, reply[PROTO_FRAME_MAX];
	struct proto_msg m;
	struct frag_rx rx;
	int n;

	f->link.on_event = on_event;
	f->link.event_arg = f;
	f->link.next_tag = 7;
	/* Queued before the request: a late reply (tag 6), two events, then the answer. */
	make_reply(&m, 6);
	peer_send_msg(f, &m);
	make_event(&m, 41, PROTO_EV_CAR_ARRIVED);
	peer_send_msg(f, &m);
	make_event(&m, 42, PROTO_EV_UNLOCKED);
	peer_send_msg(f, &m);
	make_reply(&m, 7);
	peer_send_msg(f, &m);
	n = lockconn_request(&f->link, req, 3, reply, sizeof(reply), 1000);
	assert_true(n > 0);
	assert_int_equal(proto_decode(reply, (size_t)n, &m), 0);
	assert_int_equal(m.type, PROTO_RESULT);
	assert_int_equal(m.tag, 7);
	assert_int_equal(m.u.result.uses_left, 7);
	assert_int_equal(f->nevents, 2);
	assert_int_equal(f->events[0].seq, 41);
	assert_int_equal(f->events[0].kind, PROTO_EV_CAR_ARRIVED);
	assert_int_equal(f->events[1].seq, 42);
	assert_int_equal(f->events[1].time, 1234);
	/* The request went out with tag 7; the caller's bytes were left alone. */
	assert_int_equal(peer_recv_frame(f, &rx, PROTO_MTU_MIN), 3);
	assert_int_equal(rx.buf[2], 7);
	assert_int_equal(req[2], 0xEE);
	assert_int_equal(f->link.next_tag, 8);
}

static void test_request_tag_wraps(void **state)
{
	struct fixture *f = *state;
	uint8_t req[3] = { PROTO_VERSION, PROTO_CHALLENGE_REQ, 0 }, reply[PROTO_FRAME_MAX];
	struct proto_msg m;
	struct frag_rx rx;

	f->link.next_tag = 255;
	make_reply(&m, 255);
	peer_send_msg(f, &m);
	make_reply(&m, 1);
	peer_send_msg(f, &m);
	assert_true(lockconn_request(&f->link, req, 3, reply, sizeof(reply), 1000) > 0);
	assert_int_equal(reply[2], 255);
	assert_true(lockconn_request(&f->link, req, 3, reply, sizeof(reply), 1000) > 0);
	assert_int_equal(reply[2], 1); /* 0 is for notifications: never used */
	peer_recv_frame(f, &rx, PROTO_MTU_MIN);
	peer_recv_frame(f, &rx, PROTO_MTU_MIN);
}

static void test_request_timeout(void **state)
{
	struct fixture *f = *state;
	uint8_t req[3] = { PROTO_VERSION, PROTO_CHALLENGE_REQ, 0 }, reply[PROTO_FRAME_MAX];
	struct proto_msg m;
	int64_t t0 = ms_now();

	make_event(&m, 1, PROTO_EV_BOOT); /* an event is not an answer */
	peer_send_msg(f, &m);
	assert_int_equal(lockconn_request(&f->link, req, 3, reply, sizeof(reply), 150), 0);
	assert_true(ms_now() - t0 >= 140);
	assert_true(ms_now() - t0 < 2000);
	assert_int_equal(lockconn_recv_frame(&f->link, reply, sizeof(reply), 0), 0);
	assert_int_equal(lockconn_request(&f->link, req, 2, reply, sizeof(reply), 10),
			 -LOCKCONN_E_SPACE);
}

static void test_eof(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];

	peer_write(f, "\x00\x05\xC0", 3); /* a fragment cut off by the close */
	close(f->peer);
	f->peer = -1;
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 1000), -LOCKCONN_E_CLOSED);
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 1000), -LOCKCONN_E_CLOSED);
	lockconn_close(&f->link);
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 10), -LOCKCONN_E_CLOSED);
	assert_int_equal(lockconn_send_frame(&f->link, buf, 3), -LOCKCONN_E_CLOSED);
}

static void test_send_after_peer_closed(void **state)
{
	struct fixture *f = *state;
	int i, r = 0;

	close(f->peer);
	f->peer = -1;
	/* The first writes may still land in the socket buffer; then the close shows. */
	for (i = 0; i < 100 && r == 0; i++)
		r = lockconn_send_frame(&f->link, pattern, 1024);
	assert_int_equal(r, -LOCKCONN_E_CLOSED);
}

static void test_bad_prefix_zero(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];

	peer_write(f, "\x00\x00", 2);
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 1000), -LOCKCONN_E_PROTO);
}

static void test_bad_prefix_long(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];

	peer_write(f, "\x00\xF5", 2); /* 245 > 244 */
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 1000), -LOCKCONN_E_PROTO);
}

static void test_bad_fragment(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];

	peer_write(f, "\x00\x02\x41\x00", 4); /* LAST without FIRST */
	assert_int_equal(lockconn_recv_frame(&f->link, buf, sizeof(buf), 1000), -LOCKCONN_E_PROTO);
}

static void queue_info(struct fixture *f, uint8_t tag, uint16_t mtu)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_INFO;
	m.tag = tag;
	m.u.info.version = PROTO_VERSION;
	m.u.info.mtu = mtu;
	m.u.info.flags = PROTO_INFO_PROVISIONED;
	m.u.info.site_id = 1;
	m.u.info.spot_id = 101;
	memcpy(m.u.info.device_pub, pattern, PROTO_PUBKEY_LEN);
	peer_send_msg(f, &m);
}

static void test_hello(void **state)
{
	struct fixture *f = *state;
	struct proto_info info;
	struct proto_msg m;
	struct frag_rx rx;
	size_t n;

	queue_info(f, 1, 100);
	assert_int_equal(lockconn_hello(&f->link, 185, &info, 1000), 0);
	assert_int_equal(f->link.mtu, 100);
	assert_int_equal(info.spot_id, 101);
	assert_memory_equal(info.device_pub, pattern, PROTO_PUBKEY_LEN);
	n = peer_recv_frame(f, &rx, PROTO_MTU_MIN);
	assert_int_equal(proto_decode(rx.buf, n, &m), 0);
	assert_int_equal(m.type, PROTO_HELLO);
	assert_int_equal(m.u.hello.mtu, 185);
}

static void test_hello_refused_and_bad(void **state)
{
	struct fixture *f = *state;
	struct proto_msg m;
	struct frag_rx rx;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_ERROR;
	m.tag = 1;
	m.u.error.code = PROTO_E_VALUE;
	m.u.error.req_type = PROTO_HELLO;
	peer_send_msg(f, &m);
	assert_int_equal(lockconn_hello(&f->link, 185, NULL, 1000), -LOCKCONN_E_REFUSED);
	make_reply(&m, 2); /* a RESULT is no answer to HELLO */
	peer_send_msg(f, &m);
	assert_int_equal(lockconn_hello(&f->link, 185, NULL, 1000), -LOCKCONN_E_PROTO);
	assert_int_equal(lockconn_hello(&f->link, 185, NULL, 50), -LOCKCONN_E_TIMEOUT);
	assert_int_equal(f->link.mtu, PROTO_MTU_MIN); /* unchanged by any failure */
	peer_recv_frame(f, &rx, PROTO_MTU_MIN);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_state),
		T(test_send_fragments),
		T(test_recv_fragments),
		T(test_recv_across_timeout),
		T(test_recv_too_big_for_buffer),
		T(test_request_tags_and_events),
		T(test_request_tag_wraps),
		T(test_request_timeout),
		T(test_eof),
		T(test_send_after_peer_closed),
		T(test_bad_prefix_zero),
		T(test_bad_prefix_long),
		T(test_bad_fragment),
		T(test_hello),
		T(test_hello_refused_and_bad),
	};
#undef T

	return cmocka_run_group_tests_name("lockconn", tests, NULL, NULL);
}
