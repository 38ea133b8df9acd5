/*
 * ctlproto.c: lines of JSON over the control socket; see ctlproto.h.
 */
#include "ctlproto.h"

#include <errno.h>
#include <libintl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define _(s) gettext(s)

void ctl_reader_init(struct ctl_reader *r, int fd)
{
	r->fd = fd;
	r->have = 0;
	r->taken = 0;
	r->skip = 0;
}

/* Takes the first line out of buf when there is one: 1, or 0. */
static int take_line(struct ctl_reader *r, char **line)
{
	char *nl = memchr(r->buf, '\n', r->have);

	if (nl == NULL)
		return 0;
	*nl = '\0';
	*line = r->buf;
	r->taken = (size_t)(nl - r->buf) + 1;
	return 1;
}

/* Drops the line handed out by the last call: the bytes after it move up. */
static void drop_taken(struct ctl_reader *r)
{
	memmove(r->buf, r->buf + r->taken, r->have - r->taken);
	r->have -= r->taken;
	r->taken = 0;
}

static int fill(struct ctl_reader *r, int timeout_ms)
{
	struct pollfd p = { .fd = r->fd, .events = POLLIN };
	ssize_t n;
	int k;

	do
		k = poll(&p, 1, timeout_ms);
	while (k < 0 && errno == EINTR);
	if (k == 0)
		errno = ETIMEDOUT;
	if (k <= 0)
		return CTL_READ_ERROR;
	do
		n = recv(r->fd, r->buf + r->have, CTL_LINE_MAX - r->have, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return CTL_READ_ERROR;
	if (n == 0)
		return CTL_READ_EOF;
	r->have += (size_t)n;
	return CTL_READ_LINE;
}

int ctl_read_line(struct ctl_reader *r, char **line, int timeout_ms)
{
	char *nl;
	int k;

	drop_taken(r);
	for (;;) {
		if (r->skip) {
			nl = memchr(r->buf, '\n', r->have);
			if (nl != NULL) {
				r->taken = (size_t)(nl - r->buf) + 1;
				drop_taken(r);
				r->skip = 0;
				return CTL_READ_TOOLONG;
			}
			r->have = 0;
		} else if (take_line(r, line)) {
			return CTL_READ_LINE;
		} else if (r->have == CTL_LINE_MAX) {
			r->have = 0;
			r->skip = 1;
			continue;
		}
		k = fill(r, timeout_ms);
		if (k != CTL_READ_LINE)
			return k;
	}
}

static int write_line(int fd, json_object *o, int flags)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text), off = 0;
	char nl = '\n';
	ssize_t n;

	while (off < len) {
		n = send(fd, text + off, len - off, MSG_NOSIGNAL | flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	do
		n = send(fd, &nl, 1, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

int ctl_write(int fd, json_object *o)
{
	return write_line(fd, o, 0);
}

int ctl_write_nowait(int fd, json_object *o)
{
	return write_line(fd, o, MSG_DONTWAIT);
}

json_object *ctl_ok(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

json_object *ctl_verror(const char *code, const char *fmt, va_list ap)
{
	json_object *o = json_object_new_object();
	char detail[512];

	vsnprintf(detail, sizeof(detail), fmt, ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(code));
	json_object_object_add(o, "detail", json_object_new_string(detail));
	return o;
}

json_object *ctl_error(const char *code, const char *fmt, ...)
{
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	o = ctl_verror(code, fmt, ap);
	va_end(ap);
	return o;
}

int ctl_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, saved;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int ctl_call(struct ctl_reader *r, json_object *req, json_object **reply, int timeout_ms,
	     char *err, size_t errlen)
{
	char *line;
	int k;

	*reply = NULL;
	if (ctl_write(r->fd, req) != 0) {
		snprintf(err, errlen, _("cannot send to parkphoned: %s"), strerror(errno));
		return -1;
	}
	k = ctl_read_line(r, &line, timeout_ms);
	if (k != CTL_READ_LINE) {
		snprintf(err, errlen, k == CTL_READ_EOF ? _("parkphoned closed the connection") :
			 _("no answer from parkphoned: %s"), strerror(errno));
		return -1;
	}
	*reply = json_tokener_parse(line);
	if (*reply == NULL || !json_object_is_type(*reply, json_type_object)) {
		json_object_put(*reply);
		*reply = NULL;
		snprintf(err, errlen, _("parkphoned sent a line that is not a JSON object"));
		return -1;
	}
	return 0;
}
