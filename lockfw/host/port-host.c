/*
 * port-host.c: the port table of one simulated lock on a host; see port-host.h.
 * The flash file is mapped MAP_SHARED, so every byte the core programs is in the page
 * cache the moment it is written and survives a crash of parklockd, as real NOR would.
 * Accepting clients and parsing what they send is the simulator's business, not this.
 */
#include "port-host.h"

#include <errno.h>
#include <fcntl.h>
#include <libintl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../proto/frag.h"

#define _(s) gettext(s)

static struct port_host *ph_of(void *ctx)
{
	return ctx;
}

uint64_t port_host_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void port_host_advance(struct port_host *ph)
{
	sim_hw_advance(&ph->hw, port_host_now_ms());
}

/* ---- the port table ---- */

static int ph_radio_send(void *ctx, uint8_t conn, const uint8_t *frag, size_t len)
{
	struct port_host *ph = ph_of(ctx);
	uint8_t buf[2 + FRAG_PAYLOAD_MAX];
	ssize_t n;

	if (conn >= LOCK_CONNS || len == 0 || len > FRAG_PAYLOAD_MAX)
		return -1;
	/* Nobody on this link (the start-up provisioning link): the air swallows it. */
	if (ph->link_fd[conn] < 0)
		return 0;
	/* A lock that lost power sends nothing more, not even the error it was about to. */
	if (ph->link_broken[conn] || !ph->hw.powered)
		return -1;
	wire_store_u16(buf, (uint16_t)len);
	memcpy(buf + 2, frag, len);
	do
		n = send(ph->link_fd[conn], buf, len + 2, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	/*
	 * The socket is non-blocking: a client that stops reading fills its buffer and is
	 * dropped rather than stalling every lock. A short write would desync the stream.
	 */
	if (n != (ssize_t)(len + 2)) {
		ph->link_broken[conn] = true;
		return -1;
	}
	return 0;
}

static void ph_motor_drive(void *ctx, enum port_motor dir)
{
	struct port_host *ph = ph_of(ctx);

	/* The barrier must have moved under the old direction up to now first. */
	port_host_advance(ph);
	sim_hw_motor_drive(&ph->hw, dir);
}

static enum port_endstop ph_endstop_read(void *ctx)
{
	struct port_host *ph = ph_of(ctx);

	port_host_advance(ph);
	return sim_hw_endstop(&ph->hw);
}

static bool ph_proximity_read(void *ctx)
{
	return ph_of(ctx)->hw.car;
}

static uint8_t ph_battery_percent(void *ctx)
{
	return ph_of(ctx)->hw.battery;
}

static int ph_flash_read(void *ctx, uint32_t addr, uint8_t *buf, size_t len)
{
	return sim_hw_flash_read(&ph_of(ctx)->hw, addr, buf, len);
}

static int ph_flash_write(void *ctx, uint32_t addr, const uint8_t *buf, size_t len)
{
	return sim_hw_flash_write(&ph_of(ctx)->hw, addr, buf, len);
}

static int ph_flash_erase(void *ctx, uint32_t page)
{
	return sim_hw_flash_erase(&ph_of(ctx)->hw, page);
}

static uint64_t ph_clock_ms(void *ctx)
{
	(void)ctx;
	return port_host_now_ms();
}

static int ph_device_key_init(void *ctx)
{
	return port_device_key_init(&ph_of(ctx)->devkey);
}

static int ph_device_pubkey(void *ctx, uint8_t pub[64])
{
	return port_device_key_pubkey(&ph_of(ctx)->devkey, pub);
}

static int ph_device_sign(void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
	return port_device_key_sign(&ph_of(ctx)->devkey, digest, sig);
}

static void ph_event_logged(void *ctx, const uint8_t event[20])
{
	struct proto_event e;

	proto_event_decode(event, &e);
	log_info("lock %u: event %u %s user %u key %u", (unsigned)ph_of(ctx)->spot_id,
		 (unsigned)e.seq, proto_event_name(e.kind), (unsigned)e.user_id,
		 (unsigned)e.key_id);
}

/* ---- the flash file ---- */

static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Makes an erased flash file at `path`: filled in a temporary file and renamed, so a
 * crash half-way leaves no short flash file that the next start would refuse.
 */
static int flash_create(const char *path, char *err, size_t errcap)
{
	uint8_t erased[PORT_HOST_PAGE_SIZE];
	char tmp[600];
	int fd = -1, r = -1, closed;
	bool made = false;
	unsigned i;

	memset(erased, 0xFF, sizeof(erased));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	made = true;
	for (i = 0; i < PORT_HOST_PAGES; i++)
		if (write_all(fd, erased, sizeof(erased)) != 0)
			goto out;
	if (fsync(fd) != 0)
		goto out;
	closed = close(fd);
	fd = -1;
	if (closed != 0 || rename(tmp, path) != 0)
		goto out;
	made = false;
	r = 0;
out:
	if (r != 0) {
		snprintf(err, errcap, _("cannot create flash file %s: %s"), path, strerror(errno));
		if (fd >= 0)
			close(fd);
		if (made)
			(void)unlink(tmp);
	}
	return r;
}

/* Maps the flash file, making it first when there is none. */
static int flash_map(struct port_host *ph, const char *path, char *err, size_t errcap)
{
	struct stat st;
	void *map;
	int fd = -1, r = -1;

	if (lstat(path, &st) != 0 && errno == ENOENT && flash_create(path, err, errcap) != 0)
		return -1;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errcap, _("cannot open flash file %s: %s"), path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != PORT_HOST_FLASH_BYTES) {
		snprintf(err, errcap,
			 _("flash file %s is not a regular file of %zu bytes; move it away to "
			 "start this lock factory-fresh"), path, PORT_HOST_FLASH_BYTES);
		goto out;
	}
	map = mmap(NULL, PORT_HOST_FLASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errcap, _("cannot map flash file %s: %s"), path, strerror(errno));
		goto out;
	}
	ph->flash = map;
	r = 0;
out:
	/* The mapping keeps the file; the descriptor is not needed any more. */
	if (fd >= 0)
		close(fd);
	return r;
}

void port_host_opts_default(struct port_host_opts *o)
{
	o->mtu = PORT_HOST_MTU_DEFAULT;
	o->travel_ms = SIM_HW_TRAVEL_MS;
}

static void fill_port(struct port_host *ph, const struct port_host_opts *o)
{
	ph->port = (struct port){
		.ctx = ph,
		.radio_mtu = o->mtu,
		.radio_send = ph_radio_send,
		.motor_drive = ph_motor_drive,
		.endstop_read = ph_endstop_read,
		.proximity_read = ph_proximity_read,
		.battery_percent = ph_battery_percent,
		.flash_page_size = PORT_HOST_PAGE_SIZE,
		.flash_pages = PORT_HOST_PAGES,
		.flash_read = ph_flash_read,
		.flash_write = ph_flash_write,
		.flash_erase = ph_flash_erase,
		.clock_ms = ph_clock_ms,
		.random = port_crypto_random,
		.sha256 = port_crypto_sha256,
		.hmac_sha256 = port_crypto_hmac_sha256,
		.ecdsa_verify = port_crypto_ecdsa_verify,
		.device_key_init = ph_device_key_init,
		.device_pubkey = ph_device_pubkey,
		.device_sign = ph_device_sign,
		.event_logged = ph_event_logged,
	};
}

int port_host_open(struct port_host *ph, const char *dir, uint32_t spot_id,
		   const struct port_host_opts *o, char *err, size_t errcap)
{
	char path[512];
	unsigned i;

	memset(ph, 0, sizeof(*ph));
	for (i = 0; i < LOCK_CONNS; i++)
		ph->link_fd[i] = -1;
	ph->spot_id = spot_id;
	if ((size_t)snprintf(path, sizeof(path), "%s/%u.flash", dir, (unsigned)spot_id) >=
	    sizeof(path)) {
		snprintf(err, errcap, _("directory name too long: %s"), dir);
		return -1;
	}
	if (flash_map(ph, path, err, errcap) != 0)
		return -1;
	sim_hw_init(&ph->hw, ph->flash, PORT_HOST_PAGE_SIZE, PORT_HOST_PAGES);
	ph->hw.travel_ms = o->travel_ms > 0 ? o->travel_ms : SIM_HW_TRAVEL_MS;
	port_host_advance(ph);
	snprintf(path, sizeof(path), "%s/%u.key", dir, (unsigned)spot_id);
	port_device_key_setup(&ph->devkey, path);
	fill_port(ph, o);
	return 0;
}

void port_host_close(struct port_host *ph)
{
	if (ph->flash != NULL) {
		(void)msync(ph->flash, PORT_HOST_FLASH_BYTES, MS_SYNC);
		(void)munmap(ph->flash, PORT_HOST_FLASH_BYTES);
	}
	ph->flash = NULL;
	ph->hw.flash = NULL;
	port_device_key_free(&ph->devkey);
}
