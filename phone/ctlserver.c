/*
 * ctlserver.c: the control socket of parkphoned; see ctlserver.h.
 */
#define _GNU_SOURCE /* pipe2, accept4 */
#include "ctlserver.h"

#include <errno.h>
#include <fcntl.h>
#include <libintl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "cmd.h"
#include "ctlproto.h"

#define _(s) gettext(s)

struct conn_arg {
	struct ctlserver *s;
	int fd;
};

/* Makes the socket's directory (0700) when missing. 0 or -1. */
static int socket_dir(const char *path)
{
	char dir[PHONE_PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL || slash == path)
		return 0;
	if ((size_t)(slash - path) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return phone_mkdirs(dir);
}

/* Removes a socket left by a daemon that died; refuses when one answers. 0 or -1. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	int fd = ctl_connect(path);

	if (fd >= 0) {
		close(fd);
		snprintf(err, errlen, _("another parkphoned is running on %s"), path);
		return -1;
	}
	if (errno == ECONNREFUSED && unlink(path) != 0) {
		snprintf(err, errlen, _("cannot remove the stale socket %s: %s"), path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int bind_socket(struct ctlserver *s, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	mode_t old;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, _("the socket path %s is too long: give a shorter --socket"),
			 path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		goto fail;
	old = umask(0177); /* born 0600: no moment when others could connect */
	r = bind(s->listen_fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r != 0 || chmod(path, 0600) != 0 || listen(s->listen_fd, 16) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, _("cannot listen on %s: %s"), path, strerror(errno));
	return -1;
}

int ctlserver_open(struct ctlserver *s, struct phoned *d, char *err, size_t errlen)
{
	const char *path = d->cfg.paths.socket;

	memset(s, 0, sizeof(*s));
	s->d = d;
	s->listen_fd = -1;
	s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(err, errlen, _("cannot make a pipe: %s"), strerror(errno));
		return -1;
	}
	if (socket_dir(path) != 0) {
		snprintf(err, errlen, _("cannot make the directory of %s: %s"), path,
			 strerror(errno));
		return -1;
	}
	if (clear_stale(path, err, errlen) != 0)
		return -1;
	return bind_socket(s, path, err, errlen);
}

static void conn_track(struct ctlserver *s, int fd, bool add)
{
	unsigned i;

	pthread_mutex_lock(&s->lock);
	if (add) {
		s->conns[s->nconns++] = fd;
	} else {
		for (i = 0; i < s->nconns; i++)
			if (s->conns[i] == fd) {
				s->conns[i] = s->conns[--s->nconns];
				break;
			}
		if (s->nconns == 0)
			pthread_cond_broadcast(&s->idle);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Serves one connection's lines until it closes. */
static void serve(struct ctlserver *s, int fd, struct ctl_reader *r)
{
	struct phoned_conn conn = { .fd = fd, .subscribe = false };
	bool subscribed = false;
	json_object *reply;
	char *line;
	int k;

	ctl_reader_init(r, fd);
	while ((k = ctl_read_line(r, &line, -1)) != CTL_READ_EOF && k != CTL_READ_ERROR) {
		if (k == CTL_READ_TOOLONG)
			reply = ctl_error("too_long", _("a request line is at most %d bytes"),
					  CTL_LINE_MAX);
		else
			reply = phoned_handle_line(s->d, line, r->taken - 1, &conn);
		k = ctl_write(fd, reply);
		json_object_put(reply);
		if (k != 0)
			break;
		if (conn.subscribe && !subscribed) {
			if (phoned_subscribe(s->d, fd) == 0)
				subscribed = true;
			else
				log_warn("too many event subscribers; one more refused");
		}
	}
	if (subscribed)
		phoned_unsubscribe(s->d, fd);
}

static void *conn_main(void *arg)
{
	struct conn_arg a = *(struct conn_arg *)arg;
	struct ctl_reader *r = malloc(sizeof(*r));

	free(arg);
	if (r != NULL)
		serve(a.s, a.fd, r);
	free(r);
	conn_track(a.s, a.fd, false);
	close(a.fd);
	return NULL;
}

static void accept_one(struct ctlserver *s)
{
	struct conn_arg *a;
	pthread_attr_t attr;
	pthread_t t;
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->nconns >= CTLSERVER_CONNS_MAX) {
		pthread_mutex_unlock(&s->lock);
		log_warn("too many control connections; one refused");
		close(fd);
		return;
	}
	pthread_mutex_unlock(&s->lock);
	a = malloc(sizeof(*a));
	if (a == NULL) {
		close(fd);
		return;
	}
	a->s = s;
	a->fd = fd;
	conn_track(s, fd, true);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, conn_main, a) != 0) {
		conn_track(s, fd, false);
		close(fd);
		free(a);
	}
	pthread_attr_destroy(&attr);
}

int ctlserver_run_until_signal(struct ctlserver *s, const sigset_t *sigs, int *sig)
{
	struct signalfd_siginfo si;
	struct pollfd p[3];
	int sfd = signalfd(-1, sigs, SFD_CLOEXEC), r = -1;

	*sig = 0;
	if (sfd < 0)
		return -1;
	p[0].fd = s->listen_fd;
	p[0].events = POLLIN;
	p[1].fd = s->wake[0];
	p[1].events = POLLIN;
	p[2].fd = sfd;
	p[2].events = POLLIN;
	for (;;) {
		r = poll(p, 3, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (p[2].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				*sig = (int)si.ssi_signo;
			r = 0;
			break;
		}
		if (p[1].revents != 0) {
			r = 0;
			break;
		}
		if (p[0].revents & POLLIN)
			accept_one(s);
	}
	close(sfd);
	return r;
}

void ctlserver_wake(struct ctlserver *s)
{
	char b = 1;
	ssize_t n = write(s->wake[1], &b, 1);

	(void)n;
}

void ctlserver_close(struct ctlserver *s)
{
	struct timespec until;
	unsigned i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nconns; i++)
		shutdown(s->conns[i], SHUT_RDWR);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	while (s->nconns > 0 && pthread_cond_timedwait(&s->idle, &s->lock, &until) == 0)
		;
	pthread_mutex_unlock(&s->lock);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		(void)unlink(s->d->cfg.paths.socket);
	}
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
}
