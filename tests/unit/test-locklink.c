/*
 * test-locklink.c: unit tests of gateway/locklink.c against a lock played here (a thread
 * on the other end of a real UNIX socket, speaking the sim transport with a device key of
 * its own): who answers HELLO, acks that must be signed and must match their message,
 * ERROR answers, silence, and log pages whose signature, order and chain are checked,
 * with every byte of a page's signature flipped in turn (an empty page short of the head
 * is not taken).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../gateway/locklink.h"
#include "../../lib/p256.h"
#include "../../lib/signer.h"
#include "../support/test-authority.h"
#include "../support/test-must.h"

#define SITE 7
#define SPOT 101
#define LOG_MAX 80

enum ack_mode { ACK_OK, ACK_BAD_SIG, ACK_WRONG_SEQ, ACK_ERROR, ACK_SILENT };

/* The lock the test plays, and what it will do. */
struct peer {
	char dir[64], path[96];
	int listen_fd;
	pthread_t thread;
	EVP_PKEY *key;
	uint8_t pub[64];
	struct proto_info info;
	struct proto_event log[LOG_MAX];
	unsigned nlog;           /* events 1..nlog */
	unsigned oldest;         /* oldest kept (1-based): older ones were dropped */
	enum ack_mode ack;
	uint8_t error_code;
	int flip_sig_byte;       /* >= 0: that byte of the next LOG's signature is flipped */
	bool bad_anchor;         /* the next LOG's anchor is wrong (and signed so) */
	bool swap_events;        /* the next LOG has two events out of order */
	bool empty_page;         /* the next LOG sends no event, whatever it holds */
	bool notify_first;       /* an EVENT notification before the next reply */
	int requests;
};

static struct peer P;
static struct test_site site;

/* ---- the played lock ---- */

static void peer_send(int fd, const struct proto_msg *m)
{
	uint8_t frame[PROTO_FRAME_MAX], buf[2 + FRAG_PAYLOAD_MAX];
	struct frag_tx tx;
	int n = proto_encode(m, frame, sizeof(frame));

	if (n <= 0 || frag_tx_init(&tx, frame, (size_t)n, 185) != 0)
		return;
	while ((n = frag_tx_next(&tx, buf + 2, sizeof(buf) - 2)) > 0) {
		wire_store_u16(buf, (uint16_t)n);
		if (send(fd, buf, 2 + (size_t)n, MSG_NOSIGNAL) < 0)
			return;
	}
}

static void peer_sign(const struct wire_writer *w, uint8_t sig[64])
{
	uint8_t digest[32];

	must(p256_sha256(w->buf, w->off, digest) == 0);
	must(p256_sign_digest(P.key, digest, sig) == 0);
}

static void peer_log(int fd, uint8_t tag, const struct proto_log_req *q)
{
	uint8_t tbs[256], hash[32] = { 0 };
	struct wire_writer w;
	struct proto_msg m;
	struct proto_log *l = &m.u.log;
	unsigned s, first;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_LOG;
	m.tag = tag;
	l->head_seq = P.nlog;
	first = q->from_seq < P.oldest ? P.oldest : q->from_seq;
	if (P.empty_page)
		first = P.nlog + 1; /* as a lock whose newer events cannot be read */
	/* The anchor is the chain up to the first event sent (or past the last). */
	for (s = 1; s < first && s <= P.nlog; s++)
		must(signer_chain_step(hash, &P.log[s - 1], hash) == 0);
	memcpy(l->anchor, hash, 32);
	if (P.bad_anchor)
		l->anchor[0] ^= 1;
	for (s = first; s <= P.nlog && l->count < q->max; s++)
		l->ev[l->count++] = P.log[s - 1];
	if (P.swap_events && l->count >= 2) {
		struct proto_event t = l->ev[0];

		l->ev[0] = l->ev[1];
		l->ev[1] = t;
	}
	memcpy(hash, l->anchor, 32);
	for (s = 0; s < l->count; s++)
		must(signer_chain_step(hash, &l->ev[s], hash) == 0);
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_log(&w, q->nonce, P.info.site_id, P.info.spot_id, l->head_seq, l->count, hash);
	peer_sign(&w, l->sig);
	if (P.flip_sig_byte >= 0)
		l->sig[P.flip_sig_byte] ^= 0x01;
	P.flip_sig_byte = -1;
	P.bad_anchor = false;
	P.swap_events = false;
	P.empty_page = false;
	peer_send(fd, &m);
}

static void peer_mgmt(int fd, uint8_t tag, const struct proto_mgmt *q)
{
	uint8_t tbs[128];
	struct wire_writer w;
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.tag = tag;
	if (P.ack == ACK_SILENT)
		return;
	if (P.ack == ACK_ERROR) {
		m.type = PROTO_ERROR;
		m.u.error.code = P.error_code;
		m.u.error.req_type = PROTO_MGMT;
		peer_send(fd, &m);
		return;
	}
	m.type = PROTO_MGMT_ACK;
	m.u.ack.spot_id = P.info.spot_id;
	m.u.ack.seq = q->seq + (P.ack == ACK_WRONG_SEQ);
	m.u.ack.mtype = q->mtype;
	m.u.ack.result = PROTO_OK;
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_ack(&w, P.info.site_id, &m.u.ack);
	peer_sign(&w, m.u.ack.sig);
	if (P.ack == ACK_BAD_SIG)
		m.u.ack.sig[10] ^= 0x40;
	peer_send(fd, &m);
}

static void peer_serve(int fd)
{
	uint8_t in[2 + FRAG_PAYLOAD_MAX];
	struct frag_rx rx;
	struct proto_msg q, m;
	size_t len;

	frag_rx_reset(&rx);
	for (;;) {
		if (recv(fd, in, 2, MSG_WAITALL) != 2)
			return;
		len = wire_load_u16(in);
		if (len == 0 || len > FRAG_PAYLOAD_MAX ||
		    recv(fd, in + 2, len, MSG_WAITALL) != (ssize_t)len)
			return;
		if (frag_rx_feed(&rx, in + 2, len) != 1 || proto_decode(rx.buf, rx.total, &q) != 0)
			continue;
		P.requests++;
		if (P.notify_first) {
			memset(&m, 0, sizeof(m));
			m.type = PROTO_EVENT;
			m.u.event = P.log[P.nlog - 1];
			peer_send(fd, &m);
			P.notify_first = false;
		}
		if (q.type == PROTO_HELLO) {
			memset(&m, 0, sizeof(m));
			m.type = PROTO_INFO;
			m.tag = q.tag;
			m.u.info = P.info;
			peer_send(fd, &m);
		} else if (q.type == PROTO_LOG_REQ) {
			peer_log(fd, q.tag, &q.u.log_req);
		} else if (q.type == PROTO_MGMT) {
			peer_mgmt(fd, q.tag, &q.u.mgmt);
		}
	}
}

static void *peer_main(void *arg)
{
	int fd;

	(void)arg;
	while ((fd = accept(P.listen_fd, NULL, NULL)) >= 0) {
		peer_serve(fd);
		close(fd);
	}
	return NULL;
}

/* Appends an event to the played lock's log. */
static void peer_event(uint8_t kind)
{
	struct proto_event *e = &P.log[P.nlog];

	must(P.nlog < LOG_MAX);
	memset(e, 0, sizeof(*e));
	e->seq = ++P.nlog;
	e->time = 1800000000u + e->seq;
	e->kind = kind;
	e->arg16 = (uint16_t)e->seq;
}

static int group_setup(void **state)
{
	struct sockaddr_un sa;

	(void)state;
	memset(&P, 0, sizeof(P));
	snprintf(P.dir, sizeof(P.dir), "/tmp/test-locklink.XXXXXX");
	if (mkdtemp(P.dir) == NULL)
		return -1;
	snprintf(P.path, sizeof(P.path), "%s/lock.sock", P.dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", P.path);
	P.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (P.listen_fd < 0 || bind(P.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(P.listen_fd, 4) != 0)
		return -1;
	P.key = p256_generate();
	must(P.key != NULL && p256_public_raw(P.key, P.pub) == 0);
	test_site_init(&site, SITE);
	return pthread_create(&P.thread, NULL, peer_main, NULL) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	shutdown(P.listen_fd, SHUT_RDWR);
	close(P.listen_fd);
	pthread_join(P.thread, NULL);
	unlink(P.path);
	rmdir(P.dir);
	EVP_PKEY_free(P.key);
	test_site_free(&site);
	return 0;
}

/* Each test starts from a provisioned lock with an empty log that acks everything. */
static int setup(void **state)
{
	(void)state;
	memset(&P.info, 0, sizeof(P.info));
	P.info.version = 1;
	P.info.mtu = 185;
	P.info.flags = PROTO_INFO_PROVISIONED;
	P.info.site_id = SITE;
	P.info.spot_id = SPOT;
	memcpy(P.info.device_pub, P.pub, 64);
	P.nlog = 0;
	P.oldest = 1;
	P.ack = ACK_OK;
	P.flip_sig_byte = -1;
	P.bad_anchor = P.swap_events = P.notify_first = false;
	return 0;
}

static void connect_ok(struct locklink *k)
{
	locklink_init(k, SPOT, P.pub, P.path);
	assert_int_equal(locklink_connect(k), 0);
	assert_true(k->connected);
	assert_int_equal(k->info.site_id, SITE);
}

/* ---- connecting ---- */

static void test_connect_checks_identity(void **state)
{
	struct locklink k;
	uint8_t other[64];

	(void)state;
	connect_ok(&k);
	locklink_close(&k);
	assert_false(k.connected);

	/* The server says another device key: not our lock. */
	memcpy(other, P.pub, 64);
	other[5] ^= 1;
	locklink_init(&k, SPOT, other, P.path);
	assert_int_equal(locklink_connect(&k), -LOCKLINK_E_IDENTITY);
	assert_false(k.connected);
	/* Another spot. */
	locklink_init(&k, SPOT + 1, P.pub, P.path);
	assert_int_equal(locklink_connect(&k), -LOCKLINK_E_IDENTITY);
	/* Factory-fresh. */
	P.info.flags = 0;
	P.info.spot_id = 0;
	locklink_init(&k, SPOT, P.pub, P.path);
	assert_int_equal(locklink_connect(&k), -LOCKLINK_E_UNPROVISIONED);
	/* Nobody there. */
	locklink_init(&k, SPOT, P.pub, "/tmp/test-locklink-no-such.sock");
	assert_int_equal(locklink_connect(&k), -LOCKLINK_E_UNREACHABLE);
	assert_int_equal(locklink_deliver(&k, (const uint8_t *)"\1\x10\0", 3, NULL, 0, NULL),
			 -LOCKLINK_E_FRAME);
}

/* ---- delivering ---- */

static size_t mgmt_frame(uint8_t *frame)
{
	union proto_mgmt_payload p;

	memset(&p, 0, sizeof(p));
	p.time = 1800000000u;
	return test_site_mgmt(&site, PROTO_MGMT_SET_TIME, SPOT, 0, &p, frame, PROTO_FRAME_MAX);
}

static void test_deliver(void **state)
{
	uint8_t frame[PROTO_FRAME_MAX], ack[PROTO_FRAME_MAX], code = 0;
	struct proto_msg m;
	struct locklink k;
	size_t len;
	int n;

	(void)state;
	connect_ok(&k);
	len = mgmt_frame(frame);
	peer_event(PROTO_EV_MGMT);
	P.notify_first = true;
	n = locklink_deliver(&k, frame, len, ack, sizeof(ack), &code);
	assert_true(n > 0);
	assert_int_equal(proto_decode(ack, (size_t)n, &m), 0);
	assert_int_equal(m.type, PROTO_MGMT_ACK);
	assert_int_equal(m.u.ack.seq, site.seq);
	/* The EVENT that came while it waited says "read the log". */
	assert_true(k.events_pending);

	/* The lock refuses: a final answer, with its code. */
	P.ack = ACK_ERROR;
	P.error_code = PROTO_E_SITE_SIG;
	len = mgmt_frame(frame);
	assert_int_equal(locklink_deliver(&k, frame, len, ack, sizeof(ack), &code),
			 -LOCKLINK_E_REFUSED);
	assert_int_equal(code, PROTO_E_SITE_SIG);
	assert_true(k.connected);

	/* Not a MGMT frame: nothing is sent. */
	n = P.requests;
	assert_int_equal(locklink_deliver(&k, frame, 2, ack, sizeof(ack), &code),
			 -LOCKLINK_E_FRAME);
	frame[1] = PROTO_HELLO;
	assert_int_equal(locklink_deliver(&k, frame, len, ack, sizeof(ack), &code),
			 -LOCKLINK_E_FRAME);
	assert_int_equal(P.requests, n);
	locklink_close(&k);
}

static void test_deliver_believes_only_a_matching_signed_ack(void **state)
{
	uint8_t frame[PROTO_FRAME_MAX], ack[PROTO_FRAME_MAX], code;
	struct locklink k;
	size_t len;

	(void)state;
	connect_ok(&k);
	P.ack = ACK_BAD_SIG;
	len = mgmt_frame(frame);
	assert_int_equal(locklink_deliver(&k, frame, len, ack, sizeof(ack), &code),
			 -LOCKLINK_E_PROTO);
	assert_false(k.connected);

	connect_ok(&k);
	P.ack = ACK_WRONG_SEQ;
	assert_int_equal(locklink_deliver(&k, frame, len, ack, sizeof(ack), &code),
			 -LOCKLINK_E_PROTO);
	assert_false(k.connected);

	/* No answer within LOCKLINK_REPLY_MS: unreachable, and the link is dropped. */
	connect_ok(&k);
	k.reply_ms = 300;
	P.ack = ACK_SILENT;
	assert_int_equal(locklink_deliver(&k, frame, len, ack, sizeof(ack), &code),
			 -LOCKLINK_E_UNREACHABLE);
	assert_false(k.connected);
	assert_int_equal(locklink_deliver(&k, frame, len, ack, sizeof(ack), &code),
			 -LOCKLINK_E_UNREACHABLE);
}

/* ---- the event log ---- */

/* Reads pages until the log is drained; returns the events read. */
static unsigned read_all(struct locklink *k)
{
	struct locklink_page page;
	unsigned n = 0;

	do {
		assert_int_equal(locklink_log_page(k, &page), 0);
		assert_false(page.gap);
		n += (unsigned)page.count;
		locklink_log_advance(k, &page);
	} while (page.count > 0 && k->log_seq < page.head_seq);
	return n;
}

static void test_log_pages_and_chain(void **state)
{
	struct locklink_page page;
	struct locklink k;
	uint8_t hash[32];
	unsigned i;

	(void)state;
	connect_ok(&k);
	/* Empty log: the anchor is h_0. */
	assert_int_equal(locklink_log_page(&k, &page), 0);
	assert_int_equal(page.count, 0);
	assert_int_equal(page.head_seq, 0);
	for (i = 0; i < 70; i++)
		peer_event(PROTO_EV_CAR_ARRIVED + (i % 2));
	/* 70 events: pages of 32, 32 and 6, each chained to the one before. */
	assert_int_equal(locklink_log_page(&k, &page), 0);
	assert_int_equal(page.count, 32);
	assert_int_equal(page.ev[0].seq, 1);
	assert_int_equal(page.head_seq, 70);
	locklink_log_advance(&k, &page);
	assert_int_equal(k.log_seq, 32);
	assert_int_equal(read_all(&k), 38);
	assert_int_equal(k.log_seq, 70);
	memcpy(hash, k.log_hash, 32);
	/* Nothing new: an empty page whose anchor is our hash. */
	assert_int_equal(locklink_log_page(&k, &page), 0);
	assert_int_equal(page.count, 0);
	assert_memory_equal(page.last_hash, hash, 32);
	/* One more, after a reconnect: the chain goes on. */
	peer_event(PROTO_EV_UNLOCKED);
	locklink_close(&k);
	assert_int_equal(locklink_connect(&k), 0);
	assert_int_equal(read_all(&k), 1);
	assert_int_equal(k.log_seq, 71);
	locklink_close(&k);
}

static void test_log_refuses_forgeries(void **state)
{
	struct locklink_page page;
	struct locklink k;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		peer_event(PROTO_EV_LOCKED);
	connect_ok(&k);
	/* Every byte of the signature, flipped in turn. */
	for (i = 0; i < PROTO_SIG_LEN; i++) {
		if (!k.connected)
			assert_int_equal(locklink_connect(&k), 0);
		P.flip_sig_byte = i;
		assert_int_equal(locklink_log_page(&k, &page), -LOCKLINK_E_PROTO);
		assert_false(k.connected);
	}
	assert_int_equal(k.log_seq, 0);
	/* Events out of order (signed so): refused. */
	assert_int_equal(locklink_connect(&k), 0);
	P.swap_events = true;
	assert_int_equal(locklink_log_page(&k, &page), -LOCKLINK_E_PROTO);
	/* A page that starts right after what we have but does not continue our chain. */
	assert_int_equal(locklink_connect(&k), 0);
	assert_int_equal(read_all(&k), 5);
	peer_event(PROTO_EV_UNLOCKED);
	P.bad_anchor = true;
	assert_int_equal(locklink_log_page(&k, &page), -LOCKLINK_E_CHAIN);
	assert_false(k.connected);
	/* A lock whose log went backwards. */
	assert_int_equal(locklink_connect(&k), 0);
	k.log_seq = 50;
	assert_int_equal(locklink_log_page(&k, &page), -LOCKLINK_E_CHAIN);
}

static void test_log_gap_and_unknown_hash(void **state)
{
	struct locklink_page page;
	struct locklink k;
	int i;

	(void)state;
	for (i = 0; i < 10; i++)
		peer_event(PROTO_EV_CAR_LEFT);
	connect_ok(&k);
	assert_int_equal(read_all(&k), 10);
	/* The lock dropped 11..14 before we came back: a gap, reported, not refused. */
	for (i = 0; i < 10; i++)
		peer_event(PROTO_EV_CAR_ARRIVED);
	P.oldest = 15;
	assert_int_equal(locklink_log_page(&k, &page), 0);
	assert_true(page.gap);
	assert_int_equal(page.ev[0].seq, 15);
	assert_int_equal(page.count, 6);
	locklink_log_advance(&k, &page);
	assert_int_equal(k.log_seq, 20);
	locklink_close(&k);

	/* Starting from the server's sequence without a hash: the page is taken as signed. */
	locklink_init(&k, SPOT, P.pub, P.path);
	k.log_seq = 17;
	k.log_hash_known = false;
	assert_int_equal(locklink_connect(&k), 0);
	assert_int_equal(locklink_log_page(&k, &page), 0);
	assert_false(page.gap);
	assert_int_equal(page.count, 3);
	assert_int_equal(page.ev[0].seq, 18);
	locklink_close(&k);
}

/*
 * An empty page from a lock that has events after ours (it could not read them) is not
 * taken: the position stays where it was, and the events come on a later read.
 */
static void test_log_empty_page_before_head(void **state)
{
	struct locklink_page page;
	struct locklink k;
	uint8_t hash[32];
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		peer_event(PROTO_EV_CAR_LEFT);
	connect_ok(&k);
	assert_int_equal(read_all(&k), 5);
	memcpy(hash, k.log_hash, sizeof(hash));
	peer_event(PROTO_EV_CAR_ARRIVED);
	peer_event(PROTO_EV_CAR_LEFT);
	P.empty_page = true;
	assert_int_equal(locklink_log_page(&k, &page), -LOCKLINK_E_PROTO);
	assert_false(k.connected);
	assert_int_equal(k.log_seq, 5);
	assert_memory_equal(k.log_hash, hash, sizeof(hash));
	assert_int_equal(locklink_connect(&k), 0);
	assert_int_equal(read_all(&k), 2);
	assert_int_equal(k.log_seq, 7);
	locklink_close(&k);

	/* Without a hash to compare (started from the server's sequence): nothing taken. */
	peer_event(PROTO_EV_CAR_ARRIVED);
	locklink_init(&k, SPOT, P.pub, P.path);
	k.log_seq = 7;
	k.log_hash_known = false;
	assert_int_equal(locklink_connect(&k), 0);
	P.empty_page = true;
	assert_int_equal(locklink_log_page(&k, &page), 0);
	assert_int_equal(page.count, 0);
	assert_int_equal(page.head_seq, 7);
	assert_false(k.log_hash_known);
	assert_int_equal(read_all(&k), 1);
	assert_int_equal(k.log_seq, 8);
	locklink_close(&k);
}

static void test_wait_notices_events(void **state)
{
	struct locklink k;
	int fds[2];

	(void)state;
	peer_event(PROTO_EV_BOOT);
	connect_ok(&k);
	assert_int_equal(pipe(fds), 0);
	/* Nothing happens: a time-out. */
	assert_int_equal(locklink_wait(&k, fds[0], 50), 0);
	assert_false(k.events_pending);
	/* The wake-up fd. */
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(locklink_wait(&k, fds[0], 1000), 1);
	close(fds[0]);
	close(fds[1]);
	/* An EVENT notification, which comes with the next reply here. */
	P.notify_first = true;
	assert_int_equal(read_all(&k), 1);
	assert_true(k.events_pending);
	k.events_pending = false;
	locklink_close(&k);
	assert_int_equal(locklink_wait(&k, -1, 10), 0);
	assert_string_equal(locklink_strerror(-LOCKLINK_E_CHAIN),
			    "the lock's event log does not continue the chain read before");
	assert_string_equal(locklink_strerror(-99), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_connect_checks_identity, setup),
		cmocka_unit_test_setup(test_deliver, setup),
		cmocka_unit_test_setup(test_deliver_believes_only_a_matching_signed_ack, setup),
		cmocka_unit_test_setup(test_log_pages_and_chain, setup),
		cmocka_unit_test_setup(test_log_empty_page_before_head, setup),
		cmocka_unit_test_setup(test_log_refuses_forgeries, setup),
		cmocka_unit_test_setup(test_log_gap_and_unknown_hash, setup),
		cmocka_unit_test_setup(test_wait_notices_events, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
