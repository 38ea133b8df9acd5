/*
 * transport-sim.c: the sim transport of parklockd (see transport.h), the stand-in for a
 * BLE link when no radio is present: a UNIX stream socket on which each GATT write or
 * notification is a 2-byte big-endian length (1..244) and then exactly that fragment's
 * bytes. Reads exactly one length prefix and then exactly one fragment at a time, so a
 * time-out never loses bytes: a partly read fragment stays for the next call. The lock
 * side of the same transport is lockfw/host/simulator.c.
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../lockfw/proto/frag.h"
#include "../lockfw/proto/proto.h"
#include "../lockfw/proto/wire.h"

struct transport_sim {
	struct transport base;               /* first: a transport_sim is a transport */
	int fd;                              /* the connected socket, -1 when not */
	uint8_t in[2 + FRAG_PAYLOAD_MAX];    /* the fragment being read, length prefix first */
	size_t have;                         /* bytes of in[] read so far */
};

static struct transport_sim *sim_of(struct transport *t)
{
	return (struct transport_sim *)t;
}

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

static void sim_disconnect(struct transport *t)
{
	struct transport_sim *s = sim_of(t);

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->have = 0;
}

static int sim_connect(struct transport *t, const char *address, uint32_t spot, int timeout_ms)
{
	struct transport_sim *s = sim_of(t);
	struct sockaddr_un sa;
	int fd, saved;

	(void)spot;       /* a socket path names one lock */
	(void)timeout_ms; /* connecting a local socket does not wait */
	sim_disconnect(t);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(address) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -TRANSPORT_E_NOTFOUND;
	}
	strcpy(sa.sun_path, address);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -TRANSPORT_E_IO;
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return saved == ENOENT || saved == ECONNREFUSED || saved == ENOTDIR ?
			       -TRANSPORT_E_NOTFOUND : -TRANSPORT_E_IO;
	}
	s->fd = fd;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EPIPE || errno == ECONNRESET ? -TRANSPORT_E_CLOSED :
								      -TRANSPORT_E_IO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sim_send(struct transport *t, const uint8_t *frag, size_t len)
{
	struct transport_sim *s = sim_of(t);
	uint8_t buf[2 + FRAG_PAYLOAD_MAX];

	if (s->fd < 0)
		return -TRANSPORT_E_CLOSED;
	if (len == 0 || len > FRAG_PAYLOAD_MAX)
		return -TRANSPORT_E_SPACE;
	wire_store_u16(buf, (uint16_t)len);
	memcpy(buf + 2, frag, len);
	return write_all(s->fd, buf, 2 + len);
}

/* Reads until s->in holds one whole fragment: 1, 0 when the deadline passed, or < 0. */
static int read_fragment(struct transport_sim *s, int64_t deadline)
{
	struct pollfd p;
	size_t need, len;
	ssize_t n;
	int r;

	for (;;) {
		len = s->have >= 2 ? wire_load_u16(s->in) : 0;
		if (s->have >= 2 && (len == 0 || len > FRAG_PAYLOAD_MAX))
			return -TRANSPORT_E_PROTO;
		need = s->have < 2 ? 2 : 2 + len;
		if (s->have == need)
			return 1;
		p.fd = s->fd;
		p.events = POLLIN;
		r = poll(&p, 1, time_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -TRANSPORT_E_IO;
		if (r == 0)
			return 0;
		n = recv(s->fd, s->in + s->have, need - s->have, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -TRANSPORT_E_CLOSED : -TRANSPORT_E_IO;
		if (n == 0)
			return -TRANSPORT_E_CLOSED;
		s->have += (size_t)n;
	}
}

static int sim_recv(struct transport *t, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct transport_sim *s = sim_of(t);
	size_t len;
	int r;

	if (s->fd < 0)
		return -TRANSPORT_E_CLOSED;
	r = read_fragment(s, timeout_ms < 0 ? -1 : now_ms() + timeout_ms);
	if (r <= 0)
		return r;
	len = wire_load_u16(s->in);
	s->have = 0;
	if (len > cap)
		return -TRANSPORT_E_SPACE;
	memcpy(buf, s->in + 2, len);
	return (int)len;
}

static int sim_wait(struct transport *t, int wake_fd, int timeout_ms)
{
	struct transport_sim *s = sim_of(t);
	struct pollfd p[2];
	nfds_t np = 0;
	int r;

	if (s->fd < 0)
		return -TRANSPORT_E_CLOSED;
	if (wake_fd >= 0) {
		p[np].fd = wake_fd;
		p[np++].events = POLLIN;
	}
	p[np].fd = s->fd;
	p[np++].events = POLLIN;
	do
		r = poll(p, np, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -TRANSPORT_E_IO;
	if (r == 0)
		return TRANSPORT_WAIT_TIMEOUT;
	if (wake_fd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
		return TRANSPORT_WAIT_WOKEN;
	return TRANSPORT_WAIT_READY;
}

static uint16_t sim_link_mtu(struct transport *t)
{
	(void)t;
	return PROTO_MTU_MAX; /* the lock's INFO says what its radio takes */
}

static void sim_destroy(struct transport *t)
{
	sim_disconnect(t);
	free(t);
}

static const struct transport_ops sim_ops = {
	.name = "sim",
	.connect = sim_connect,
	.send = sim_send,
	.recv = sim_recv,
	.wait = sim_wait,
	.link_mtu = sim_link_mtu,
	.disconnect = sim_disconnect,
	.destroy = sim_destroy,
};

struct transport *transport_sim_new(void)
{
	struct transport_sim *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->base.ops = &sim_ops;
	s->fd = -1;
	return &s->base;
}

int transport_sim_fd(struct transport *t)
{
	return t != NULL && t->ops == &sim_ops ? sim_of(t)->fd : -1;
}
