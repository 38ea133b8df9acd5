/*
 * bench-http.c: the lean HTTP/1.1 client of bench-http.h: blocking socket, one request
 * in flight, Content-Length replies (what parkd sends to everything but event streams).
 */
#include "bench-http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

int bench_http_init(struct bench_http *h, const char *base)
{
	memset(h, 0, sizeof(*h));
	h->fd = -1;
	if (sscanf(base, "http://%63[^:]:%u", h->host, &h->port) != 2 || h->port == 0 ||
	    h->port > 65535)
		return -1;
	return 0;
}

static int bench_http_connect(struct bench_http *h)
{
	struct sockaddr_in a;
	int one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)h->port);
	if (inet_pton(AF_INET, h->host, &a.sin_addr) != 1)
		return -1;
	h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		return -1;
	/* A request is one write: nothing to coalesce, and Nagle would hold the next. */
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(h->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		bench_http_close(h);
		return -1;
	}
	return 0;
}

static int bench_http_write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The value of header `name` in the head h->buf[0..head_len), or NULL. */
static const char *bench_http_header(const struct bench_http *h, size_t head_len,
				     const char *name)
{
	size_t nlen = strlen(name);
	const char *p = h->buf, *end = h->buf + head_len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL && ++p < end)
		if ((size_t)(end - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':')
			return p + nlen + 1;
	return NULL;
}

/* Reads one reply into buf. The status, or -1. */
static int bench_http_read(struct bench_http *h)
{
	const char *end = NULL, *cl;
	size_t head = 0, want = 0;
	ssize_t n;
	int status;

	h->len = 0;
	for (;;) {
		if (h->len >= sizeof(h->buf) - 1)
			return -1;
		n = recv(h->fd, h->buf + h->len, sizeof(h->buf) - 1 - h->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		h->len += (size_t)n;
		h->buf[h->len] = '\0';
		if (end == NULL && (end = strstr(h->buf, "\r\n\r\n")) != NULL) {
			head = (size_t)(end - h->buf) + 4;
			cl = bench_http_header(h, head, "Content-Length");
			if (cl == NULL)
				return -1;
			want = head + strtoul(cl, NULL, 10);
			if (want >= sizeof(h->buf))
				return -1;
		}
		if (end != NULL && h->len >= want)
			break;
	}
	if (h->len != want || sscanf(h->buf, "HTTP/1.1 %d", &status) != 1)
		return -1;
	h->body = h->buf + head;
	h->body_len = want - head;
	return status;
}

int bench_http_send(struct bench_http *h, const char *req, size_t len)
{
	int status;

	if (h->fd < 0 && bench_http_connect(h) != 0)
		return -1;
	if (bench_http_write_all(h->fd, req, len) != 0 || (status = bench_http_read(h)) < 0) {
		bench_http_close(h);
		return -1;
	}
	return status;
}

void bench_http_close(struct bench_http *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}
