/*
 * lockconn.c: frames over a transport; see lockconn.h. Fragments go out through
 * transport_ops.send, come back through .recv and are reassembled here, so every
 * transport shares one fragmentation and one tag discipline.
 */
#include "lockconn.h"

#include <string.h>
#include <time.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Milliseconds left until `deadline`; -1 stays "no limit". */
static int time_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > 1000000 ? 1000000 : (int)left;
}

/* A transport error as the lockconn error callers see. */
static int from_transport(int err)
{
	switch (-err) {
	case TRANSPORT_E_CLOSED: return -LOCKCONN_E_CLOSED;
	case TRANSPORT_E_PROTO: return -LOCKCONN_E_PROTO;
	case TRANSPORT_E_SPACE: return -LOCKCONN_E_SPACE;
	case TRANSPORT_E_TIMEOUT: return -LOCKCONN_E_TIMEOUT;
	case TRANSPORT_E_NOTFOUND: return -LOCKCONN_E_NOTFOUND;
	default: return -LOCKCONN_E_IO;
	}
}

static void reset(struct lockconn *c)
{
	c->mtu = PROTO_MTU_MIN;
	c->next_tag = 1;
	frag_rx_reset(&c->rx);
}

int lockconn_open(struct lockconn *c, struct transport *t, const char *address,
		  uint32_t spot, int timeout_ms)
{
	int r;

	memset(c, 0, sizeof(*c));
	reset(c);
	r = t->ops->connect(t, address, spot, timeout_ms);
	if (r != 0)
		return from_transport(r);
	c->t = t;
	return 0;
}

int lockconn_open_sim(struct lockconn *c, const char *path)
{
	struct transport *t = transport_sim_new();
	int r;

	if (t == NULL) {
		memset(c, 0, sizeof(*c));
		return -LOCKCONN_E_IO;
	}
	r = lockconn_open(c, t, path, 0, 0);
	if (r != 0) {
		t->ops->destroy(t);
		return r;
	}
	c->own_transport = true;
	return 0;
}

void lockconn_close(struct lockconn *c)
{
	if (c->t != NULL) {
		if (c->own_transport)
			c->t->ops->destroy(c->t);
		else
			c->t->ops->disconnect(c->t);
	}
	c->t = NULL;
	c->own_transport = false;
	frag_rx_reset(&c->rx);
}

int lockconn_send_frame(struct lockconn *c, const uint8_t *frame, size_t len)
{
	uint8_t buf[FRAG_PAYLOAD_MAX];
	struct frag_tx tx;
	int n, r = 0;

	if (c->t == NULL)
		return -LOCKCONN_E_CLOSED;
	if (frag_tx_init(&tx, frame, len, c->mtu) != 0)
		return -LOCKCONN_E_SPACE;
	while (r == 0 && (n = frag_tx_next(&tx, buf, sizeof(buf))) > 0)
		r = c->t->ops->send(c->t, buf, (size_t)n);
	return r == 0 ? 0 : from_transport(r);
}

static int recv_until(struct lockconn *c, uint8_t *buf, size_t cap, int64_t deadline)
{
	uint8_t frag[FRAG_PAYLOAD_MAX];
	int n, r;

	if (c->t == NULL)
		return -LOCKCONN_E_CLOSED;
	for (;;) {
		n = c->t->ops->recv(c->t, frag, sizeof(frag), time_left(deadline));
		if (n == 0)
			return 0;
		if (n < 0)
			return from_transport(n);
		r = frag_rx_feed(&c->rx, frag, (size_t)n);
		if (r < 0)
			return -LOCKCONN_E_PROTO;
		if (r == 0)
			continue;
		if (c->rx.total > cap) {
			frag_rx_reset(&c->rx);
			return -LOCKCONN_E_SPACE;
		}
		memcpy(buf, c->rx.buf, c->rx.total);
		r = (int)c->rx.total;
		frag_rx_reset(&c->rx);
		return r;
	}
}

int lockconn_recv_frame(struct lockconn *c, uint8_t *buf, size_t cap, int timeout_ms)
{
	return recv_until(c, buf, cap, deadline_of(timeout_ms));
}

static void pass_event(struct lockconn *c, const uint8_t *frame, size_t len)
{
	struct proto_msg m;

	if (c->on_event != NULL && proto_decode(frame, len, &m) == 0 && m.type == PROTO_EVENT)
		c->on_event(c->event_arg, &m.u.event);
}

int lockconn_request(struct lockconn *c, const uint8_t *frame, size_t len, uint8_t *reply,
		     size_t cap, int timeout_ms)
{
	uint8_t buf[PROTO_FRAME_MAX];
	int64_t deadline = deadline_of(timeout_ms);
	uint8_t tag;
	int n;

	if (len < PROTO_HDR_LEN || len > sizeof(buf))
		return -LOCKCONN_E_SPACE;
	memcpy(buf, frame, len);
	tag = c->next_tag;
	c->next_tag = tag == 255 ? 1 : (uint8_t)(tag + 1);
	buf[2] = tag;
	n = lockconn_send_frame(c, buf, len);
	if (n != 0)
		return n;
	for (;;) {
		n = recv_until(c, buf, sizeof(buf), deadline);
		if (n <= 0)
			return n;
		if (n < PROTO_HDR_LEN)
			continue; /* not a frame anyone could answer with */
		if (buf[1] == PROTO_EVENT)
			pass_event(c, buf, (size_t)n);
		else if (buf[2] == tag)
			break;
		/* else a late reply to an earlier request that timed out: skip it */
	}
	if ((size_t)n > cap)
		return -LOCKCONN_E_SPACE;
	memcpy(reply, buf, (size_t)n);
	return n;
}

int lockconn_hello(struct lockconn *c, uint16_t mtu, struct proto_info *info, int timeout_ms)
{
	uint8_t frame[PROTO_FRAME_MAX];
	struct proto_msg m;
	uint16_t link;
	int n;

	if (c->t == NULL)
		return -LOCKCONN_E_CLOSED;
	link = c->t->ops->link_mtu(c->t);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.u.hello.mtu = mtu < link ? mtu : link;
	n = proto_encode(&m, frame, sizeof(frame));
	if (n <= 0)
		return -LOCKCONN_E_SPACE;
	n = lockconn_request(c, frame, (size_t)n, frame, sizeof(frame), timeout_ms);
	if (n == 0)
		return -LOCKCONN_E_TIMEOUT;
	if (n < 0)
		return n;
	if (proto_decode(frame, (size_t)n, &m) != 0)
		return -LOCKCONN_E_PROTO;
	if (m.type == PROTO_ERROR)
		return -LOCKCONN_E_REFUSED;
	if (m.type != PROTO_INFO || m.u.info.mtu < PROTO_MTU_MIN || m.u.info.mtu > PROTO_MTU_MAX ||
	    m.u.info.mtu > link)
		return -LOCKCONN_E_PROTO;
	c->mtu = m.u.info.mtu;
	if (info != NULL)
		*info = m.u.info;
	return 0;
}

int lockconn_wait(struct lockconn *c, int wake_fd, int timeout_ms)
{
	int r;

	if (c->t == NULL)
		return -LOCKCONN_E_CLOSED;
	r = c->t->ops->wait(c->t, wake_fd, timeout_ms);
	return r < 0 ? from_transport(r) : r;
}

const char *lockconn_strerror(int err)
{
	switch (-err) {
	case LOCKCONN_E_IO: return "the link to the lock failed";
	case LOCKCONN_E_CLOSED: return "the lock closed the link";
	case LOCKCONN_E_PROTO: return "the lock sent a malformed fragment or reply";
	case LOCKCONN_E_SPACE: return "a frame does not fit";
	case LOCKCONN_E_REFUSED: return "the lock refused the request";
	case LOCKCONN_E_TIMEOUT: return "the lock did not answer in time";
	case LOCKCONN_E_NOTFOUND: return "the lock is not in reach";
	default: return "unknown link error";
	}
}
