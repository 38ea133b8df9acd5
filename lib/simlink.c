/*
 * simlink.c: the client side of the sim transport; see simlink.h. Reads exactly one
 * length prefix and then exactly one fragment at a time, so a timeout never loses bytes:
 * a partly read fragment or frame stays in the struct for the next call.
 * The lock side of the same transport is lockfw/host/simulator.c.
 */
#include "simlink.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until `deadline` for poll(); -1 stays "no limit". */
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

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

int simlink_open(struct simlink *l, const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->mtu = PROTO_MTU_MIN;
	l->next_tag = 1;
	frag_rx_reset(&l->rx);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -SIMLINK_E_IO;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -SIMLINK_E_IO;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
	    connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -SIMLINK_E_IO;
	}
	l->fd = fd;
	return 0;
}

void simlink_close(struct simlink *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->have = 0;
	frag_rx_reset(&l->rx);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EPIPE || errno == ECONNRESET ? -SIMLINK_E_CLOSED :
								      -SIMLINK_E_IO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int simlink_send_frame(struct simlink *l, const uint8_t *frame, size_t len)
{
	uint8_t buf[2 + FRAG_PAYLOAD_MAX];
	struct frag_tx tx;
	int n, r = 0;

	if (l->fd < 0)
		return -SIMLINK_E_CLOSED;
	if (frag_tx_init(&tx, frame, len, l->mtu) != 0)
		return -SIMLINK_E_SPACE;
	while (r == 0 && (n = frag_tx_next(&tx, buf + 2, sizeof(buf) - 2)) > 0) {
		wire_store_u16(buf, (uint16_t)n);
		r = write_all(l->fd, buf, 2 + (size_t)n);
	}
	return r;
}

/*
 * Reads until l->in holds one whole fragment. Returns 1 when it does, 0 when the
 * deadline passed first, or a negative error.
 */
static int read_fragment(struct simlink *l, int64_t deadline)
{
	struct pollfd p;
	size_t need, len;
	ssize_t n;
	int r;

	for (;;) {
		len = l->have >= 2 ? wire_load_u16(l->in) : 0;
		if (l->have >= 2 && (len == 0 || len > FRAG_PAYLOAD_MAX))
			return -SIMLINK_E_PROTO;
		need = l->have < 2 ? 2 : 2 + len;
		if (l->have == need)
			return 1;
		p.fd = l->fd;
		p.events = POLLIN;
		r = poll(&p, 1, time_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -SIMLINK_E_IO;
		if (r == 0)
			return 0;
		n = recv(l->fd, l->in + l->have, need - l->have, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -SIMLINK_E_CLOSED : -SIMLINK_E_IO;
		if (n == 0)
			return -SIMLINK_E_CLOSED;
		l->have += (size_t)n;
	}
}

static int recv_until(struct simlink *l, uint8_t *buf, size_t cap, int64_t deadline)
{
	int r;

	if (l->fd < 0)
		return -SIMLINK_E_CLOSED;
	for (;;) {
		r = read_fragment(l, deadline);
		if (r <= 0)
			return r;
		r = frag_rx_feed(&l->rx, l->in + 2, wire_load_u16(l->in));
		l->have = 0;
		if (r < 0)
			return -SIMLINK_E_PROTO;
		if (r == 0)
			continue;
		if (l->rx.total > cap) {
			frag_rx_reset(&l->rx);
			return -SIMLINK_E_SPACE;
		}
		memcpy(buf, l->rx.buf, l->rx.total);
		r = l->rx.total;
		frag_rx_reset(&l->rx);
		return r;
	}
}

int simlink_recv_frame(struct simlink *l, uint8_t *buf, size_t cap, int timeout_ms)
{
	return recv_until(l, buf, cap, deadline_of(timeout_ms));
}

static void pass_event(struct simlink *l, const uint8_t *frame, size_t len)
{
	struct proto_msg m;

	if (l->on_event != NULL && proto_decode(frame, len, &m) == 0 && m.type == PROTO_EVENT)
		l->on_event(l->event_arg, &m.u.event);
}

int simlink_request(struct simlink *l, const uint8_t *frame, size_t len, uint8_t *reply,
		    size_t cap, int timeout_ms)
{
	uint8_t buf[PROTO_FRAME_MAX];
	int64_t deadline = deadline_of(timeout_ms);
	uint8_t tag;
	int n;

	if (len < PROTO_HDR_LEN || len > sizeof(buf))
		return -SIMLINK_E_SPACE;
	memcpy(buf, frame, len);
	tag = l->next_tag;
	l->next_tag = tag == 255 ? 1 : (uint8_t)(tag + 1);
	buf[2] = tag;
	n = simlink_send_frame(l, buf, len);
	if (n != 0)
		return n;
	for (;;) {
		n = recv_until(l, buf, sizeof(buf), deadline);
		if (n <= 0)
			return n;
		if (n < PROTO_HDR_LEN)
			continue; /* not a frame anyone could answer with */
		if (buf[1] == PROTO_EVENT)
			pass_event(l, buf, (size_t)n);
		else if (buf[2] == tag)
			break;
		/* else a late reply to an earlier request that timed out: skip it */
	}
	if ((size_t)n > cap)
		return -SIMLINK_E_SPACE;
	memcpy(reply, buf, (size_t)n);
	return n;
}

int simlink_hello(struct simlink *l, uint16_t mtu, struct proto_info *info, int timeout_ms)
{
	uint8_t frame[PROTO_FRAME_MAX];
	struct proto_msg m;
	int n;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.u.hello.mtu = mtu;
	n = proto_encode(&m, frame, sizeof(frame));
	if (n <= 0)
		return -SIMLINK_E_SPACE;
	n = simlink_request(l, frame, (size_t)n, frame, sizeof(frame), timeout_ms);
	if (n == 0)
		return -SIMLINK_E_TIMEOUT;
	if (n < 0)
		return n;
	if (proto_decode(frame, (size_t)n, &m) != 0)
		return -SIMLINK_E_PROTO;
	if (m.type == PROTO_ERROR)
		return -SIMLINK_E_REFUSED;
	if (m.type != PROTO_INFO || m.u.info.mtu < PROTO_MTU_MIN || m.u.info.mtu > PROTO_MTU_MAX)
		return -SIMLINK_E_PROTO;
	l->mtu = m.u.info.mtu;
	if (info != NULL)
		*info = m.u.info;
	return 0;
}
