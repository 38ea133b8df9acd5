/*
 * simulator.c: parklockd's event loop; see simulator.h. One poll() over the signal pipe,
 * the world socket and every lock's listening and client sockets, with the timeout set by
 * the earliest lock timer. Client bytes are cut into sim-transport fragments (2-byte
 * big-endian length, 1..244 bytes) and fed to the lock core; a lock whose hardware lost
 * power is rebooted from its flash. The lock core, not this file, decides every answer.
 */
#include "simulator.h"

#include <errno.h>
#include <fcntl.h>
#include <libintl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/p256.h"
#include "../proto/frag.h"
#include "world.h"

#define _(s) gettext(s)

#define SIM_PATH_MAX 108    /* sun_path of a UNIX socket address */
#define SIM_READ_BUDGET 64  /* fragments taken from one client per wake-up: fairness */
#define SIM_IDLE_MS 1000

struct sim_client {
	int fd; /* -1 when the link is free */
	uint8_t in[2 + FRAG_PAYLOAD_MAX];
	size_t have;
};

struct sim_unit {
	struct port_host host;
	struct lock lock;
	const struct garage_lock *gl;
	int listen_fd;
	char sock_path[SIM_PATH_MAX];
	struct sim_client client[LOCK_CONNS];
	uint64_t due_ms; /* when lock_tick() is next needed, on port_host_now_ms() */
};

/* What one pollfd belongs to. */
struct sim_slot {
	struct sim_unit *unit; /* NULL: the signal pipe or the world */
	int link;              /* client link, or -1 for the listening socket */
};

struct simulator {
	struct garage garage;
	struct port_host_opts opts;
	int lock_fd;
	int sig_pipe[2];
	size_t count;
	struct sim_unit *units;
	struct world_lock *wl;
	struct world world;
	char world_path[SIM_PATH_MAX];
	struct pollfd *fds;
	struct sim_slot *slots;
	size_t fds_cap;
};

static int sim_signal_fd = -1;

/* ---- small helpers ---- */

static int set_nonblocking_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *dir)
{
	char path[GARAGE_DIR_MAX + 1];
	size_t i;

	snprintf(path, sizeof(path), "%s", dir);
	for (i = 1; path[i] != '\0'; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -1;
		path[i] = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * A listening socket at `path`, mode 0600. A socket left there by an earlier run is
 * removed: the directory's lock file already proved that no parklockd owns it.
 */
static int listen_unix(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			return -1;
		}
		(void)unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	old = umask(0177);
	r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r != 0 || chmod(path, 0600) != 0 || listen(fd, 8) != 0 ||
	    set_nonblocking_cloexec(fd) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* ---- clients ---- */

static void client_drop(struct sim_unit *u, int k)
{
	struct sim_client *c = &u->client[k];

	if (c->fd < 0)
		return;
	lock_disconnect(&u->lock, (uint8_t)k);
	close(c->fd);
	c->fd = -1;
	c->have = 0;
	u->host.link_fd[k] = -1;
	u->host.link_broken[k] = false;
	log_debug("lock %u: link %d closed", (unsigned)u->gl->spot_id, k);
}

static void client_accept(struct sim_unit *u)
{
	int fd = accept(u->listen_fd, NULL, NULL), k;

	if (fd < 0)
		return;
	for (k = 0; k < LOCK_CONNS; k++)
		if (u->client[k].fd < 0)
			break;
	/* A BLE peripheral serves so many centrals; the next one is refused at once. */
	if (k == LOCK_CONNS || set_nonblocking_cloexec(fd) != 0) {
		log_info("lock %u: refused a client: both links are in use",
			 (unsigned)u->gl->spot_id);
		close(fd);
		return;
	}
	u->client[k].fd = fd;
	u->client[k].have = 0;
	u->host.link_fd[k] = fd;
	u->host.link_broken[k] = false;
	lock_connect(&u->lock, (uint8_t)k);
	log_debug("lock %u: link %d connected", (unsigned)u->gl->spot_id, k);
}

/* ---- power ---- */

static void unit_reboot(struct sim_unit *u)
{
	int k, r;

	for (k = 0; k < LOCK_CONNS; k++)
		client_drop(u, k);
	/* Without power the motor stops wherever the barrier is. */
	port_host_advance(&u->host);
	sim_hw_motor_drive(&u->host.hw, PORT_MOTOR_STOP);
	sim_hw_power_on(&u->host.hw);
	r = lock_boot(&u->lock, &u->host.port);
	u->due_ms = port_host_now_ms();
	if (r != 0) {
		u->lock.halted = true;
		log_error(_("lock %u (%s): boot from flash failed (%s); it stays halted; send "
			  "'%u reboot' to the world socket to try again"),
			  (unsigned)u->gl->spot_id, u->gl->name, proto_status_name(-r),
			  (unsigned)u->gl->spot_id);
		return;
	}
	log_warn(_("lock %u (%s) lost power; rebooted from its flash"), (unsigned)u->gl->spot_id,
		 u->gl->name);
}

static void world_reboot(void *ctx, struct world_lock *wl)
{
	struct simulator *s = ctx;

	unit_reboot(&s->units[wl - s->wl]);
}

/* Reboots a lock without power and drops clients whose link failed. */
static void unit_sweep(struct sim_unit *u, uint64_t now)
{
	uint64_t next;
	int k;

	if (!u->host.hw.powered)
		unit_reboot(u);
	for (k = 0; k < LOCK_CONNS; k++)
		if (u->host.link_broken[k])
			client_drop(u, k);
	next = now + lock_next_tick_ms(&u->lock);
	if (next < u->due_ms)
		u->due_ms = next;
	/*
	 * The end-stop switch's interrupt: the core sees the stop when it is reached, not
	 * at its next tick. Brought up to now first, a stop that was passed unseen (by a
	 * halted core) is not due again and again.
	 */
	sim_hw_advance(&u->host.hw, now);
	next = sim_hw_endstop_due_ms(&u->host.hw);
	if (next < u->due_ms)
		u->due_ms = next;
}

/* ---- reading the sim transport ---- */

/*
 * Completes the fragment in c->in when its bytes are all there. Returns 1 to read on,
 * 0 when the client went away, -1 when the length prefix is bad.
 */
static int client_fragment(struct sim_unit *u, int k)
{
	struct sim_client *c = &u->client[k];
	size_t len;

	if (c->have < 2)
		return 1;
	len = wire_load_u16(c->in);
	if (len == 0 || len > FRAG_PAYLOAD_MAX)
		return -1;
	if (c->have < 2 + len)
		return 1;
	c->have = 0;
	lock_receive(&u->lock, (uint8_t)k, c->in + 2, len);
	if (!u->host.hw.powered) {
		unit_reboot(u);
		return 0;
	}
	return c->fd >= 0 && !u->host.link_broken[k];
}

static void client_read(struct sim_unit *u, int k)
{
	struct sim_client *c = &u->client[k];
	unsigned budget = SIM_READ_BUDGET;
	size_t need;
	ssize_t n;
	int r;

	while (budget > 0) {
		need = c->have < 2 ? 2 : 2 + (size_t)wire_load_u16(c->in);
		n = recv(c->fd, c->in + c->have, need - c->have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_drop(u, k);
			return;
		}
		c->have += (size_t)n;
		r = client_fragment(u, k);
		if (r < 0) {
			log_warn(_("lock %u: link %d sent a fragment length outside 1..%d; "
				 "dropping that client"), (unsigned)u->gl->spot_id, k,
				 FRAG_PAYLOAD_MAX);
			client_drop(u, k);
		}
		if (r <= 0)
			return;
		if (c->have == 0)
			budget--;
	}
}

/* ---- start-up ---- */

/* As an installer would: PROVISION on a local link, fragmented as over the air. */
static int unit_provision(struct sim_unit *u, const struct garage *g)
{
	uint8_t frame[PROTO_FRAME_MAX], frag[FRAG_PAYLOAD_MAX];
	struct proto_msg m;
	struct frag_tx tx;
	int len, n, r = -PROTO_E_INTERNAL;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_PROVISION;
	m.tag = 1;
	m.u.provision.site_id = g->site_id;
	m.u.provision.spot_id = u->gl->spot_id;
	memcpy(m.u.provision.site_pub, g->site_pub, PROTO_PUBKEY_LEN);
	len = proto_encode(&m, frame, sizeof(frame));
	if (len <= 0 || frag_tx_init(&tx, frame, (size_t)len, PROTO_MTU_MIN) != 0)
		return r;
	lock_connect(&u->lock, 1);
	while ((n = frag_tx_next(&tx, frag, sizeof(frag))) > 0)
		r = lock_receive(&u->lock, 1, frag, (size_t)n);
	lock_disconnect(&u->lock, 1);
	return r;
}

/* Provisions a factory-fresh lock; says so when one was provisioned otherwise. */
static int unit_check_site(struct sim_unit *u, const struct garage *g)
{
	const struct lock_config *cfg = &u->lock.cfg;
	int r;

	if (cfg->provisioned) {
		if (cfg->site_id != g->site_id || cfg->spot_id != u->gl->spot_id ||
		    memcmp(cfg->site_pub, g->site_pub, PROTO_PUBKEY_LEN) != 0)
			log_warn(_("lock %u (%s) is provisioned as spot %u of site %u with another "
				 "site key than the garage file names; only a signed REPROVISION "
				 "from that site changes it"), (unsigned)u->gl->spot_id,
				 u->gl->name, (unsigned)cfg->spot_id, (unsigned)cfg->site_id);
		return 0;
	}
	r = unit_provision(u, g);
	if (r != 0 || !u->lock.cfg.provisioned) {
		log_error(_("lock %u (%s): provisioning failed: %s"), (unsigned)u->gl->spot_id,
			  u->gl->name, proto_status_name(r < 0 ? -r : PROTO_E_INTERNAL));
		return -1;
	}
	log_info("lock %u (%s) provisioned as spot %u of site %u", (unsigned)u->gl->spot_id,
		 u->gl->name, (unsigned)u->gl->spot_id, (unsigned)g->site_id);
	return 0;
}

static int unit_write_pub(struct sim_unit *u, const char *dir)
{
	uint8_t pub[PROTO_PUBKEY_LEN];
	char path[SIM_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%u.pub", dir, (unsigned)u->gl->spot_id);
	if (port_device_key_pubkey(&u->host.devkey, pub) != 0) {
		log_error(_("lock %u: no device key after boot"), (unsigned)u->gl->spot_id);
		return -1;
	}
	if (p256_save_public_hex(pub, path) != 0) {
		log_error(_("lock %u: cannot write its public key to %s: %s"),
			  (unsigned)u->gl->spot_id, path, strerror(errno));
		return -1;
	}
	return 0;
}

static int unit_open(struct simulator *s, struct sim_unit *u, const struct garage_lock *gl)
{
	char err[GARAGE_ERR_MAX];
	int r, k;

	u->gl = gl;
	u->listen_fd = -1;
	for (k = 0; k < LOCK_CONNS; k++)
		u->client[k].fd = -1;
	if (port_host_open(&u->host, s->garage.dir, gl->spot_id, &s->opts, err,
			   sizeof(err)) != 0) {
		log_error(_("lock %u (%s): %s"), (unsigned)gl->spot_id, gl->name, err);
		return -1;
	}
	r = lock_boot(&u->lock, &u->host.port);
	if (r != 0) {
		log_error(_("lock %u (%s): boot failed (%s); if %s/%u.flash or %s/%u.key is "
			  "damaged, move both away to start this lock factory-fresh"),
			  (unsigned)gl->spot_id, gl->name, proto_status_name(-r), s->garage.dir,
			  (unsigned)gl->spot_id, s->garage.dir, (unsigned)gl->spot_id);
		return -1;
	}
	u->due_ms = port_host_now_ms();
	return 0;
}

static int unit_listen(struct simulator *s, struct sim_unit *u)
{
	snprintf(u->sock_path, sizeof(u->sock_path), "%s/%u.sock", s->garage.dir,
		 (unsigned)u->gl->spot_id);
	u->listen_fd = listen_unix(u->sock_path);
	if (u->listen_fd < 0) {
		log_error(_("cannot listen on %s: %s"), u->sock_path, strerror(errno));
		u->sock_path[0] = '\0';
		return -1;
	}
	return 0;
}

static int take_dir(struct simulator *s)
{
	char path[SIM_PATH_MAX];

	if (make_dirs(s->garage.dir) != 0) {
		log_error(_("cannot create the directory %s: %s"), s->garage.dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/parklockd.lock", s->garage.dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0) {
		log_error(_("cannot open %s: %s"), path, strerror(errno));
		return -1;
	}
	/* Two simulators on one flash file would corrupt it: one per directory. */
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		log_error(_("another parklockd is running on %s; stop it first or use another "
			  "'dir' in the garage file"), s->garage.dir);
		return -1;
	}
	return 0;
}

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	(void)!write(sim_signal_fd, &c, 1);
	errno = saved;
}

static int open_units(struct simulator *s)
{
	size_t i;

	for (i = 0; i < s->count; i++) {
		struct sim_unit *u = &s->units[i];

		if (unit_open(s, u, &s->garage.locks[i]) != 0)
			return -1;
		s->wl[i].spot_id = u->gl->spot_id;
		s->wl[i].name = u->gl->name;
		s->wl[i].host = &u->host;
		s->wl[i].lock = &u->lock;
		if (s->garage.has_site_key && unit_check_site(u, &s->garage) != 0)
			return -1;
		if (unit_write_pub(u, s->garage.dir) != 0)
			return -1;
	}
	return 0;
}

static int open_sockets(struct simulator *s)
{
	size_t i;
	int fd;

	for (i = 0; i < s->count; i++)
		if (unit_listen(s, &s->units[i]) != 0)
			return -1;
	snprintf(s->world_path, sizeof(s->world_path), "%s/world.sock", s->garage.dir);
	fd = listen_unix(s->world_path);
	if (fd < 0) {
		log_error(_("cannot listen on %s: %s"), s->world_path, strerror(errno));
		s->world_path[0] = '\0';
		return -1;
	}
	world_attach(&s->world, fd);
	if (pipe(s->sig_pipe) != 0 || set_nonblocking_cloexec(s->sig_pipe[0]) != 0 ||
	    set_nonblocking_cloexec(s->sig_pipe[1]) != 0) {
		log_error(_("cannot make a pipe: %s"), strerror(errno));
		return -1;
	}
	return 0;
}

static struct simulator *sim_alloc(const struct garage *g, const struct port_host_opts *o)
{
	struct simulator *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->garage = *g;
	s->opts = *o;
	s->count = g->count;
	s->lock_fd = -1;
	s->sig_pipe[0] = s->sig_pipe[1] = -1;
	s->fds_cap = 1 + WORLD_POLL_FDS + s->count * (1 + LOCK_CONNS);
	s->units = calloc(s->count, sizeof(*s->units));
	s->wl = calloc(s->count, sizeof(*s->wl));
	s->fds = calloc(s->fds_cap, sizeof(*s->fds));
	s->slots = calloc(s->fds_cap, sizeof(*s->slots));
	world_init(&s->world, s->wl, s->count, world_reboot, s);
	if (s->units == NULL || s->wl == NULL || s->fds == NULL || s->slots == NULL) {
		simulator_close(s);
		return NULL;
	}
	return s;
}

int simulator_open(struct simulator **out, const struct garage *g,
		   const struct port_host_opts *opts)
{
	struct simulator *s = sim_alloc(g, opts);
	size_t i;
	int r = -1;

	if (s == NULL) {
		log_error(_("out of memory"));
		goto out;
	}
	if (take_dir(s) != 0 || open_units(s) != 0 || open_sockets(s) != 0)
		goto out;
	for (i = 0; i < s->count; i++)
		log_info("lock %u (%s) ready at %s", (unsigned)s->units[i].gl->spot_id,
			 s->units[i].gl->name, s->units[i].sock_path);
	log_info("world control at %s", s->world_path);
	*out = s;
	s = NULL; /* transferred */
	r = 0;
out:
	if (s != NULL)
		simulator_close(s);
	return r;
}

/* ---- the loop ---- */

static void add_fd(struct simulator *s, size_t *n, int fd, struct sim_unit *u, int link)
{
	s->fds[*n].fd = fd;
	s->fds[*n].events = POLLIN;
	s->fds[*n].revents = 0;
	s->slots[*n].unit = u;
	s->slots[*n].link = link;
	(*n)++;
}

/* Fills s->fds: the signal pipe, the world, then each lock. Returns how many. */
static size_t build_fds(struct simulator *s, size_t *world_at, size_t *world_n)
{
	size_t n = 0, i;
	int k;

	add_fd(s, &n, s->sig_pipe[0], NULL, -1);
	*world_at = n;
	*world_n = world_poll_fds(&s->world, s->fds + n);
	for (i = 0; i < *world_n; i++)
		s->slots[n + i].unit = NULL;
	n += *world_n;
	for (i = 0; i < s->count; i++) {
		struct sim_unit *u = &s->units[i];

		/* Clients first: a link that closed frees its slot before the next accept. */
		for (k = 0; k < LOCK_CONNS; k++)
			if (u->client[k].fd >= 0)
				add_fd(s, &n, u->client[k].fd, u, k);
		add_fd(s, &n, u->listen_fd, u, -1);
	}
	return n;
}

static int poll_timeout(const struct simulator *s, uint64_t now)
{
	uint64_t soonest = now + SIM_IDLE_MS;
	size_t i;

	for (i = 0; i < s->count; i++)
		if (s->units[i].due_ms < soonest)
			soonest = s->units[i].due_ms;
	return soonest > now ? (int)(soonest - now) : 0;
}

static void handle_units(struct simulator *s, size_t from, size_t n)
{
	size_t i;

	for (i = from; i < n; i++) {
		struct sim_unit *u = s->slots[i].unit;
		int k = s->slots[i].link;

		if (s->fds[i].revents == 0 || u == NULL)
			continue;
		if (k < 0)
			client_accept(u);
		/* The link may have been dropped by a reboot since poll() returned. */
		else if (u->client[k].fd == s->fds[i].fd)
			client_read(u, k);
	}
}

static void tick_units(struct simulator *s)
{
	uint64_t now = port_host_now_ms();
	size_t i;

	for (i = 0; i < s->count; i++) {
		struct sim_unit *u = &s->units[i];

		if (now >= u->due_ms) {
			lock_tick(&u->lock);
			u->due_ms = now + lock_next_tick_ms(&u->lock);
		}
		unit_sweep(u, now);
	}
}

static bool signalled(struct simulator *s)
{
	char buf[16];
	ssize_t n = read(s->sig_pipe[0], buf, sizeof(buf));

	if (n > 0)
		log_info("signal %d: stopping", buf[n - 1]);
	return n > 0;
}

static void install_signals(struct simulator *s)
{
	struct sigaction sa;

	sim_signal_fd = s->sig_pipe[1];
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

int simulator_run(struct simulator *s)
{
	size_t n, world_at, world_n;
	int r;

	install_signals(s);
	for (;;) {
		n = build_fds(s, &world_at, &world_n);
		r = poll(s->fds, n, poll_timeout(s, port_host_now_ms()));
		if (r < 0 && errno != EINTR) {
			log_error(_("poll: %s"), strerror(errno));
			return -1;
		}
		if (r > 0 && s->fds[0].revents != 0 && signalled(s))
			return 0;
		if (r > 0) {
			world_poll_handle(&s->world, s->fds + world_at, world_n);
			handle_units(s, world_at + world_n, n);
		}
		tick_units(s);
	}
}

void simulator_close(struct simulator *s)
{
	size_t i;
	int k;

	if (s == NULL)
		return;
	world_close(&s->world);
	if (s->world_path[0] != '\0')
		(void)unlink(s->world_path);
	for (i = 0; s->units != NULL && i < s->count; i++) {
		struct sim_unit *u = &s->units[i];

		if (u->gl == NULL)
			break; /* never opened, nor any after it */
		for (k = 0; k < LOCK_CONNS; k++)
			client_drop(u, k);
		if (u->listen_fd >= 0)
			close(u->listen_fd);
		if (u->sock_path[0] != '\0')
			(void)unlink(u->sock_path);
		port_host_close(&u->host);
	}
	if (sim_signal_fd == s->sig_pipe[1])
		sim_signal_fd = -1;
	for (k = 0; k < 2; k++)
		if (s->sig_pipe[k] >= 0)
			close(s->sig_pipe[k]);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->units);
	free(s->wl);
	free(s->fds);
	free(s->slots);
	free(s);
}
