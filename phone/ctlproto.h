/*
 * ctlproto.h: the phone daemon's control protocol, both ends: a UNIX stream socket on
 * which each request and each reply is one JSON object on one line (phone/CONTROL.md).
 * Replies carry "ok": true, or "ok": false with a stable "error" code and a "detail"
 * sentence. parkphoned serves it; parkctl and a head unit's own UI speak it.
 */
#ifndef PARK_PHONE_CTLPROTO_H
#define PARK_PHONE_CTLPROTO_H

#include <stdarg.h>
#include <stddef.h>

#include <json-c/json.h>

#define CTL_LINE_MAX 65536 /* longest line either side accepts, newline excluded */

/* Buffered reading of lines from one socket. */
struct ctl_reader {
	int fd;
	size_t have;             /* bytes in buf */
	size_t taken;            /* bytes of the line handed out last, newline included */
	int skip;                /* the rest of an overlong line is being discarded */
	char buf[CTL_LINE_MAX + 1];
};

enum ctl_read {
	CTL_READ_LINE = 1,     /* *line is the next line, NUL-terminated, without '\n' */
	CTL_READ_EOF = 0,      /* the peer closed (a partial last line is dropped) */
	CTL_READ_ERROR = -1,   /* a socket error, or time-out: errno says which */
	CTL_READ_TOOLONG = -2, /* a line over CTL_LINE_MAX: skipped up to its newline */
};

void ctl_reader_init(struct ctl_reader *r, int fd);

/*
 * The next line within timeout_ms (-1: no limit): CTL_READ_*. *line points into r and
 * stays valid until the next call.
 */
int ctl_read_line(struct ctl_reader *r, char **line, int timeout_ms);

/* Writes o as one line. 0, or -1 (errno) when the peer is gone. Never raises SIGPIPE. */
int ctl_write(int fd, json_object *o);

/* As ctl_write(), but fails at once (EAGAIN) rather than wait for a slow reader. */
int ctl_write_nowait(int fd, json_object *o);

/* {"ok":true}: add members to it. */
json_object *ctl_ok(void);

/* {"ok":false,"error":code,"detail":<formatted sentence>}. */
json_object *ctl_error(const char *code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
json_object *ctl_verror(const char *code, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Connects to the daemon's socket. The fd, or -1 with errno. */
int ctl_connect(const char *path);

/*
 * Sends req and reads one reply line within timeout_ms. Returns 0 with *reply (a JSON
 * object the caller frees), or -1 with a sentence in err.
 */
int ctl_call(struct ctl_reader *r, json_object *req, json_object **reply, int timeout_ms,
	     char *err, size_t errlen);

#endif
