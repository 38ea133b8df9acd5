/*
 * bench-http.h: a lean HTTP/1.1 client for load generators: one kept-alive TCP
 * connection, requests the caller wrote out once, replies read by Content-Length. It
 * costs the shared machine a few microseconds a request, so that a benchmark's figures
 * are the server's and not its clients'. Plain HTTP on loopback only: the programs'
 * own clients (lib/apiclient.c, libcurl) are what talks to servers for real.
 */
#ifndef PARK_BENCH_HTTP_H
#define PARK_BENCH_HTTP_H

#include <stddef.h>

#define BENCH_HTTP_BUF 16384

struct bench_http {
	int fd;                      /* -1 while not connected */
	char host[64];               /* "127.0.0.1" */
	unsigned port;
	char buf[BENCH_HTTP_BUF];    /* the last reply: headers, then body (NUL-terminated) */
	size_t len;                  /* bytes in buf */
	const char *body;            /* into buf, after a reply */
	size_t body_len;
};

/* Sets up a client of `base` ("http://HOST:PORT"); connects on first use. 0 or -1. */
int bench_http_init(struct bench_http *h, const char *base);

/*
 * Sends the whole request req[0..len) and reads its reply. Returns the HTTP status, with
 * h->body and h->body_len set, or -1 when the connection failed (closed; the next call
 * connects again) or the reply is not HTTP/1.1 with a Content-Length that fits buf.
 */
int bench_http_send(struct bench_http *h, const char *req, size_t len);

void bench_http_close(struct bench_http *h);

#endif
