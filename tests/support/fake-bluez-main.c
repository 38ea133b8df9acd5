/*
 * fake-bluez-main.c: a TEST PEER playing bluetoothd, for tests only: never linked into a
 * shipped program. Owns org.bluez on a private bus, answers the BlueZ API the transport
 * uses as BlueZ documents it, and carries each GATT write and notification as one sim
 * transport fragment to parklockd. Devices appear on StartDiscovery; GATT objects appear
 * on Connect, go on disconnect (BlueZ without a GATT cache). Not BlueZ: the test-control
 * interface org.parking.FakeBluez1, which emits what BlueZ never would.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "../../lib/cli.h"
#include "../../lib/log.h"
#include "../../lockfw/proto/wire.h"

/* The lock's GATT service: lockfw/proto/PROTOCOL.md, section 2.1. */
#define FAKE_UUID_SERVICE "7a1e0001-5b3c-4f8e-9c2d-6a1b0c9d8e7f"
#define FAKE_UUID_REQUEST "7a1e0002-5b3c-4f8e-9c2d-6a1b0c9d8e7f"
#define FAKE_UUID_REPLY "7a1e0003-5b3c-4f8e-9c2d-6a1b0c9d8e7f"

#define FAKE_ADAPTER "/org/bluez/hci0"
#define FAKE_TEST_PATH "/org/parking/fakebluez"
#define FAKE_IF_ADAPTER "org.bluez.Adapter1"
#define FAKE_IF_DEVICE "org.bluez.Device1"
#define FAKE_IF_SERVICE "org.bluez.GattService1"
#define FAKE_IF_CHAR "org.bluez.GattCharacteristic1"
#define FAKE_IF_TEST "org.parking.FakeBluez1"

#define FAKE_LOCKS_MAX 16
#define FAKE_CLIENTS 8        /* bus clients with a discovery filter or session */
#define FAKE_NOTIFY_MAX 4     /* notification sessions on one characteristic */
#define FAKE_NAME_MAX 64      /* a unique bus name */
#define FAKE_PATH_MAX 96
#define FAKE_SOCK_MAX 108     /* sun_path */
#define FAKE_FRAG_MAX 244     /* the sim transport's largest fragment */
#define FAKE_MTU_DEFAULT 247
#define FAKE_MTU_MAX 517
#define FAKE_RESOLVE_USEC 2000 /* from Connect's reply to ServicesResolved */

#define FAKE_E_NOT_CONNECTED "org.bluez.Error.NotConnected"
#define FAKE_E_FAILED "org.bluez.Error.Failed"
#define FAKE_E_IN_PROGRESS "org.bluez.Error.InProgress"
#define FAKE_E_NOT_PERMITTED "org.bluez.Error.NotPermitted"
#define FAKE_E_NOT_SUPPORTED "org.bluez.Error.NotSupported"
#define FAKE_E_INVALID_ARGS "org.bluez.Error.InvalidArguments"
#define FAKE_E_INVALID_LENGTH "org.bluez.Error.InvalidValueLength"
#define FAKE_E_DOES_NOT_EXIST "org.bluez.Error.DoesNotExist"

struct fake;
struct fake_lock;

/* One of a lock's two characteristics. */
struct fake_char {
	struct fake_lock *lock;
	bool reply;                 /* the notify characteristic, else the write one */
	char path[FAKE_PATH_MAX];
	sd_bus_slot *slot;          /* its vtable, while connected */
	char notify[FAKE_NOTIFY_MAX][FAKE_NAME_MAX]; /* clients that called StartNotify */
	unsigned nnotify;
};

/* A lock: what the radio would see of it, and the sim socket behind it. */
struct fake_lock {
	struct fake *f;
	char mac[18];
	char name[32];
	char sock[FAKE_SOCK_MAX];
	uint32_t spot;
	int16_t rssi;
	char dev_path[FAKE_PATH_MAX];
	char svc_path[FAKE_PATH_MAX];
	struct fake_char req, rep;
	sd_bus_slot *dev_slot;        /* Device1, once discovered */
	sd_bus_slot *svc_slot;        /* GattService1, while connected */
	bool connected, resolved;
	char connector[FAKE_NAME_MAX]; /* the client that connected it */
	int fd;                        /* the sim socket, -1 when not connected */
	sd_event_source *io, *resolve;
	uint8_t in[2 + FAKE_FRAG_MAX]; /* the fragment being read, length prefix first */
	size_t have;
	uint8_t value[FAKE_FRAG_MAX];  /* the reply characteristic's Value */
	size_t value_len;
};

/* A bus client's discovery: its filter and whether it has a session. */
struct fake_client {
	char name[FAKE_NAME_MAX];
	bool discovering;
	bool wants_lock; /* its filter lets the lock service through (no filter: yes) */
};

struct fake {
	sd_event *ev;
	sd_bus *bus;
	uint16_t mtu; /* reported as the MTU property; 0: no such property (BlueZ < 5.62) */
	struct fake_lock lock[FAKE_LOCKS_MAX];
	unsigned nlocks;
	struct fake_client client[FAKE_CLIENTS];
	unsigned nclients;
	/* The vtables of objects made on the way (the tables, below, name the handlers). */
	const sd_bus_vtable *device_vtable, *service_vtable, *char_vtable;
};

/* The payload the radio carries: MTU - 3, of the MTU a link has. */
static size_t fake_payload_max(const struct fake *f)
{
	unsigned mtu = f->mtu == 0 ? 23 : f->mtu;

	return mtu - 3 > FAKE_FRAG_MAX ? FAKE_FRAG_MAX : mtu - 3;
}

/* ---- clients ---- */

static struct fake_client *fake_client_get(struct fake *f, const char *name, bool make)
{
	unsigned i;

	for (i = 0; i < f->nclients; i++)
		if (strcmp(f->client[i].name, name) == 0)
			return &f->client[i];
	if (!make || f->nclients == FAKE_CLIENTS || strlen(name) >= FAKE_NAME_MAX)
		return NULL;
	memset(&f->client[f->nclients], 0, sizeof(f->client[0]));
	snprintf(f->client[f->nclients].name, FAKE_NAME_MAX, "%s", name);
	f->client[f->nclients].wants_lock = true;
	return &f->client[f->nclients++];
}

static void fake_client_drop(struct fake *f, struct fake_client *c)
{
	*c = f->client[--f->nclients];
}

static bool fake_discovering(const struct fake *f)
{
	unsigned i;

	for (i = 0; i < f->nclients; i++)
		if (f->client[i].discovering)
			return true;
	return false;
}

/* ---- properties ---- */

#define FAKE_GETTER(fn)                                                                   \
	static int fn(sd_bus *bus, const char *path, const char *iface, const char *prop, \
		      sd_bus_message *reply, void *userdata, sd_bus_error *error)
#define FAKE_UNUSED_GETTER_ARGS                                                           \
	(void)bus;                                                                        \
	(void)path;                                                                       \
	(void)iface;                                                                      \
	(void)prop;                                                                       \
	(void)error

FAKE_GETTER(get_false)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "b", 0);
}

FAKE_GETTER(get_true)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "b", 1);
}

FAKE_GETTER(get_public)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "s", "public");
}

FAKE_GETTER(get_no_uuids)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "as", 0);
}

FAKE_GETTER(adapter_address)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "s", "00:1B:DC:0F:AE:01");
}

FAKE_GETTER(adapter_name)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "s", "fake-bluez");
}

FAKE_GETTER(adapter_discovering)
{
	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "b", (int)fake_discovering(userdata));
}

FAKE_GETTER(adapter_roles)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "as", 1, "central");
}

FAKE_GETTER(dev_address)
{
	const struct fake_lock *lk = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "s", lk->mac);
}

FAKE_GETTER(dev_name)
{
	const struct fake_lock *lk = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "s", lk->name);
}

FAKE_GETTER(dev_adapter)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "o", FAKE_ADAPTER);
}

FAKE_GETTER(dev_connected)
{
	const struct fake_lock *lk = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "b", (int)lk->connected);
}

FAKE_GETTER(dev_resolved)
{
	const struct fake_lock *lk = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "b", (int)lk->resolved);
}

FAKE_GETTER(dev_uuids)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "as", 1, FAKE_UUID_SERVICE);
}

/* The advertisement of PROTOCOL.md 2.1: the service UUID with the spot ID, u32 BE. */
FAKE_GETTER(dev_service_data)
{
	const struct fake_lock *lk = userdata;
	uint8_t spot[4];
	int r;

	FAKE_UNUSED_GETTER_ARGS;
	wire_store_u32(spot, lk->spot);
	r = sd_bus_message_open_container(reply, 'a', "{sv}");
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'e', "sv");
	if (r >= 0)
		r = sd_bus_message_append(reply, "s", FAKE_UUID_SERVICE);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'v', "ay");
	if (r >= 0)
		r = sd_bus_message_append_array(reply, 'y', spot, sizeof(spot));
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

FAKE_GETTER(dev_rssi)
{
	const struct fake_lock *lk = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "n", lk->rssi);
}

FAKE_GETTER(dev_adv_flags)
{
	static const uint8_t flags[] = { 0x06 }; /* LE general discoverable, no BR/EDR */

	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append_array(reply, 'y', flags, sizeof(flags));
}

FAKE_GETTER(svc_uuid)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "s", FAKE_UUID_SERVICE);
}

FAKE_GETTER(svc_device)
{
	const struct fake_lock *lk = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "o", lk->dev_path);
}

FAKE_GETTER(svc_handle)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "q", (uint16_t)0x0010);
}

FAKE_GETTER(svc_includes)
{
	FAKE_UNUSED_GETTER_ARGS;
	(void)userdata;
	return sd_bus_message_append(reply, "ao", 0);
}

FAKE_GETTER(chr_uuid)
{
	const struct fake_char *c = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "s", c->reply ? FAKE_UUID_REPLY : FAKE_UUID_REQUEST);
}

FAKE_GETTER(chr_service)
{
	const struct fake_char *c = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "o", c->lock->svc_path);
}

FAKE_GETTER(chr_value)
{
	const struct fake_char *c = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append_array(reply, 'y', c->lock->value,
					   c->reply ? c->lock->value_len : 0);
}

FAKE_GETTER(chr_notifying)
{
	const struct fake_char *c = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "b", (int)(c->nnotify > 0));
}

FAKE_GETTER(chr_flags)
{
	const struct fake_char *c = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	if (c->reply)
		return sd_bus_message_append(reply, "as", 1, "notify");
	return sd_bus_message_append(reply, "as", 2, "write-without-response", "write");
}

FAKE_GETTER(chr_handle)
{
	const struct fake_char *c = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "q", (uint16_t)(c->reply ? 0x0013 : 0x0011));
}

FAKE_GETTER(chr_mtu)
{
	const struct fake_char *c = userdata;

	FAKE_UNUSED_GETTER_ARGS;
	return sd_bus_message_append(reply, "q", c->lock->f->mtu);
}

static int fake_emit(struct fake *f, const char *path, const char *iface, const char *prop)
{
	int r = sd_bus_emit_properties_changed(f->bus, path, iface, prop, NULL);

	/* Once the loop has ended, sd-bus has closed the bus: nobody is left to tell. */
	if (r < 0 && r != -ENOTCONN)
		log_warn("PropertiesChanged %s %s: %s", path, prop, strerror(-r));
	return r;
}

/* ---- the link to a lock ---- */

static void fake_char_sessions_end(struct fake_char *c)
{
	bool was = c->nnotify > 0;

	c->nnotify = 0;
	if (was && c->slot != NULL)
		fake_emit(c->lock->f, c->path, FAKE_IF_CHAR, "Notifying");
}

/* Drops the link to a lock, as when the radio link ends; says why in the log. */
static void fake_link_drop(struct fake_lock *lk, const char *why)
{
	struct fake *f = lk->f;
	bool was = lk->connected;

	if (lk->fd >= 0)
		close(lk->fd);
	lk->fd = -1;
	lk->have = 0;
	lk->io = sd_event_source_disable_unref(lk->io);
	lk->resolve = sd_event_source_disable_unref(lk->resolve);
	fake_char_sessions_end(&lk->rep);
	lk->connected = false;
	lk->resolved = false;
	lk->connector[0] = '\0';
	lk->value_len = 0;
	if (was) {
		log_info("%s: disconnected (%s)", lk->mac, why);
		sd_bus_emit_properties_changed(f->bus, lk->dev_path, FAKE_IF_DEVICE,
					       "ServicesResolved", "Connected", NULL);
	}
	if (lk->svc_slot != NULL) {
		sd_bus_emit_interfaces_removed(f->bus, lk->req.path, FAKE_IF_CHAR, NULL);
		sd_bus_emit_interfaces_removed(f->bus, lk->rep.path, FAKE_IF_CHAR, NULL);
		sd_bus_emit_interfaces_removed(f->bus, lk->svc_path, FAKE_IF_SERVICE, NULL);
	}
	lk->req.slot = sd_bus_slot_unref(lk->req.slot);
	lk->rep.slot = sd_bus_slot_unref(lk->rep.slot);
	lk->svc_slot = sd_bus_slot_unref(lk->svc_slot);
}

/* One fragment from the lock: a notification, when anyone listens. */
static void fake_lock_fragment(struct fake_lock *lk, const uint8_t *p, size_t len)
{
	if (len > fake_payload_max(lk->f)) {
		log_warn("%s: the lock sent %zu bytes, more than the MTU allows: dropped", lk->mac,
			 len);
		fake_link_drop(lk, "fragment over the MTU");
		return;
	}
	if (lk->rep.nnotify == 0 || lk->rep.slot == NULL) {
		log_debug("%s: %zu bytes, nobody notified", lk->mac, len);
		return;
	}
	memcpy(lk->value, p, len);
	lk->value_len = len;
	fake_emit(lk->f, lk->rep.path, FAKE_IF_CHAR, "Value");
}

static int fake_on_lock_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct fake_lock *lk = userdata;
	size_t need, len;
	ssize_t n;

	(void)s;
	(void)revents;
	need = lk->have < 2 ? 2 : 2 + (size_t)wire_load_u16(lk->in);
	n = recv(fd, lk->in + lk->have, need - lk->have, MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		fake_link_drop(lk, "the lock closed the link");
		return 0;
	}
	lk->have += (size_t)n;
	if (lk->have < 2)
		return 0;
	len = wire_load_u16(lk->in);
	if (len == 0 || len > FAKE_FRAG_MAX) {
		fake_link_drop(lk, "bad length prefix from the lock");
		return 0;
	}
	if (lk->have < 2 + len)
		return 0;
	lk->have = 0;
	fake_lock_fragment(lk, lk->in + 2, len);
	return 0;
}

/* The services are discovered: their objects appear, then ServicesResolved. */
static int fake_on_resolved(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct fake_lock *lk = userdata;
	struct fake *f = lk->f;
	int r;

	(void)s;
	(void)usec;
	r = sd_bus_add_object_vtable(f->bus, &lk->svc_slot, lk->svc_path, FAKE_IF_SERVICE,
				     f->service_vtable, lk);
	if (r >= 0)
		r = sd_bus_add_object_vtable(f->bus, &lk->req.slot, lk->req.path, FAKE_IF_CHAR,
					     f->char_vtable, &lk->req);
	if (r >= 0)
		r = sd_bus_add_object_vtable(f->bus, &lk->rep.slot, lk->rep.path, FAKE_IF_CHAR,
					     f->char_vtable, &lk->rep);
	if (r >= 0)
		r = sd_bus_emit_interfaces_added(f->bus, lk->svc_path, FAKE_IF_SERVICE, NULL);
	if (r >= 0)
		r = sd_bus_emit_interfaces_added(f->bus, lk->req.path, FAKE_IF_CHAR, NULL);
	if (r >= 0)
		r = sd_bus_emit_interfaces_added(f->bus, lk->rep.path, FAKE_IF_CHAR, NULL);
	if (r < 0) {
		log_error("%s: publishing the services: %s", lk->mac, strerror(-r));
		fake_link_drop(lk, "service discovery failed");
		return 0;
	}
	lk->resolved = true;
	fake_emit(f, lk->dev_path, FAKE_IF_DEVICE, "ServicesResolved");
	return 0;
}

/* ---- Device1 ---- */

static int fake_dev_connect(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_lock *lk = userdata;
	struct fake *f = lk->f;
	struct sockaddr_un sa;
	int fd, r;

	if (lk->connected)
		return sd_bus_reply_method_return(m, "");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, lk->sock, strlen(lk->sock));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		log_info("%s: connecting %s: %s", lk->mac, lk->sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return sd_bus_error_set(error, FAKE_E_FAILED, "le-connection-abort-by-local");
	}
	r = sd_event_add_io(f->ev, &lk->io, fd, EPOLLIN, fake_on_lock_io, lk);
	if (r >= 0)
		r = sd_event_add_time_relative(f->ev, &lk->resolve, CLOCK_MONOTONIC,
					       FAKE_RESOLVE_USEC, 1, fake_on_resolved, lk);
	if (r < 0) {
		lk->io = sd_event_source_disable_unref(lk->io);
		close(fd);
		return sd_bus_error_set(error, FAKE_E_FAILED, "out of resources");
	}
	lk->fd = fd;
	lk->have = 0;
	lk->connected = true;
	snprintf(lk->connector, sizeof(lk->connector), "%s", sd_bus_message_get_sender(m));
	log_info("%s: connected to %s", lk->mac, lk->sock);
	r = sd_bus_reply_method_return(m, "");
	fake_emit(f, lk->dev_path, FAKE_IF_DEVICE, "Connected");
	return r;
}

static int fake_dev_disconnect(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_lock *lk = userdata;

	if (!lk->connected)
		return sd_bus_error_set(error, FAKE_E_NOT_CONNECTED, "Not Connected");
	fake_link_drop(lk, "Disconnect");
	return sd_bus_reply_method_return(m, "");
}

/* ---- GattCharacteristic1 ---- */

static int fake_chr_read(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	(void)m;
	(void)userdata;
	return sd_bus_error_set(error, FAKE_E_NOT_PERMITTED, "Read not permitted");
}

/* Reads WriteValue's options: only "offset" (must be 0) and "type" are looked at. */
static int fake_write_options(sd_bus_message *m, const char **type)
{
	const char *key;
	uint16_t offset;
	int r;

	*type = "request";
	if (sd_bus_message_enter_container(m, 'a', "{sv}") <= 0)
		return -EINVAL;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		if (sd_bus_message_read(m, "s", &key) < 0)
			return -EINVAL;
		if (strcmp(key, "type") == 0)
			r = sd_bus_message_read(m, "v", "s", type);
		else if (strcmp(key, "offset") == 0)
			r = sd_bus_message_read(m, "v", "q", &offset) < 0 || offset != 0 ? -EINVAL : 0;
		else
			r = sd_bus_message_skip(m, "v");
		if (r < 0 || sd_bus_message_exit_container(m) < 0)
			return -EINVAL;
	}
	if (r < 0 || sd_bus_message_exit_container(m) < 0)
		return -EINVAL;
	return 0;
}

static int fake_chr_write(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_char *c = userdata;
	struct fake_lock *lk = c->lock;
	uint8_t out[2 + FAKE_FRAG_MAX];
	const void *p = NULL;
	const char *type;
	size_t len = 0, off = 0;
	ssize_t n;

	if (sd_bus_message_read_array(m, 'y', &p, &len) < 0 || fake_write_options(m, &type) < 0)
		return sd_bus_error_set(error, FAKE_E_INVALID_ARGS, "Invalid arguments");
	if (strcmp(type, "command") != 0 && strcmp(type, "request") != 0 &&
	    strcmp(type, "reliable") != 0)
		return sd_bus_error_set(error, FAKE_E_INVALID_ARGS, "Invalid type");
	if (c->reply)
		return sd_bus_error_set(error, FAKE_E_NOT_PERMITTED, "Write not permitted");
	if (strcmp(type, "reliable") == 0)
		return sd_bus_error_set(error, FAKE_E_NOT_SUPPORTED, "Reliable write not supported");
	if (!lk->connected)
		return sd_bus_error_set(error, FAKE_E_NOT_CONNECTED, "Not Connected");
	if (len == 0 || len > fake_payload_max(lk->f))
		return sd_bus_error_set(error, FAKE_E_INVALID_LENGTH, "Invalid value length");
	wire_store_u16(out, (uint16_t)len);
	memcpy(out + 2, p, len);
	while (off < 2 + len) {
		n = send(lk->fd, out + off, 2 + len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fake_link_drop(lk, "writing to the lock failed");
			return sd_bus_error_set(error, FAKE_E_FAILED, "Not connected");
		}
		off += (size_t)n;
	}
	log_debug("%s: wrote %zu bytes", lk->mac, len);
	return sd_bus_reply_method_return(m, "");
}

static int fake_chr_start_notify(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_char *c = userdata;
	const char *sender = sd_bus_message_get_sender(m);
	unsigned i;

	if (!c->reply)
		return sd_bus_error_set(error, FAKE_E_NOT_SUPPORTED, "Notify not supported");
	if (!c->lock->connected)
		return sd_bus_error_set(error, FAKE_E_NOT_CONNECTED, "Not Connected");
	for (i = 0; i < c->nnotify; i++)
		if (strcmp(c->notify[i], sender) == 0)
			return sd_bus_error_set(error, FAKE_E_IN_PROGRESS, "In Progress");
	if (c->nnotify == FAKE_NOTIFY_MAX || strlen(sender) >= FAKE_NAME_MAX)
		return sd_bus_error_set(error, FAKE_E_FAILED, "Too many sessions");
	snprintf(c->notify[c->nnotify++], FAKE_NAME_MAX, "%s", sender);
	if (c->nnotify == 1)
		fake_emit(c->lock->f, c->path, FAKE_IF_CHAR, "Notifying");
	return sd_bus_reply_method_return(m, "");
}

/* Ends name's notification session on c; false when it had none. */
static bool fake_chr_session_end(struct fake_char *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->nnotify; i++) {
		if (strcmp(c->notify[i], name) != 0)
			continue;
		memcpy(c->notify[i], c->notify[--c->nnotify], FAKE_NAME_MAX);
		if (c->nnotify == 0 && c->slot != NULL)
			fake_emit(c->lock->f, c->path, FAKE_IF_CHAR, "Notifying");
		return true;
	}
	return false;
}

static int fake_chr_stop_notify(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_char *c = userdata;

	if (!fake_chr_session_end(c, sd_bus_message_get_sender(m)))
		return sd_bus_error_set(error, FAKE_E_FAILED, "No notify session started");
	return sd_bus_reply_method_return(m, "");
}

/* ---- Adapter1 ---- */

/* Lets the radio hear the locks: new ones appear, known ones report their RSSI. */
static void fake_advertise(struct fake *f)
{
	struct fake_lock *lk;
	unsigned i;
	int r;

	for (i = 0; i < f->nlocks; i++) {
		lk = &f->lock[i];
		lk->rssi = (int16_t)(lk->rssi == -60 ? -61 : -60);
		if (lk->dev_slot != NULL) {
			fake_emit(f, lk->dev_path, FAKE_IF_DEVICE, "RSSI");
			continue;
		}
		r = sd_bus_add_object_vtable(f->bus, &lk->dev_slot, lk->dev_path, FAKE_IF_DEVICE,
					     f->device_vtable, lk);
		if (r >= 0)
			r = sd_bus_emit_interfaces_added(f->bus, lk->dev_path, FAKE_IF_DEVICE, NULL);
		if (r < 0)
			log_error("%s: publishing the device: %s", lk->mac, strerror(-r));
	}
}

static int fake_adapter_start(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	struct fake_client *c = fake_client_get(f, sd_bus_message_get_sender(m), true);
	bool was = fake_discovering(f);
	int r;

	if (c == NULL)
		return sd_bus_error_set(error, FAKE_E_FAILED, "Too many clients");
	if (c->discovering)
		return sd_bus_error_set(error, FAKE_E_IN_PROGRESS, "Operation already in progress");
	c->discovering = true;
	r = sd_bus_reply_method_return(m, "");
	if (!was)
		fake_emit(f, FAKE_ADAPTER, FAKE_IF_ADAPTER, "Discovering");
	if (c->wants_lock)
		fake_advertise(f);
	return r;
}

static int fake_adapter_stop(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	struct fake_client *c = fake_client_get(f, sd_bus_message_get_sender(m), false);

	if (c == NULL || !c->discovering)
		return sd_bus_error_set(error, FAKE_E_FAILED, "No discovery started");
	c->discovering = false;
	if (!fake_discovering(f))
		fake_emit(f, FAKE_ADAPTER, FAKE_IF_ADAPTER, "Discovering");
	return sd_bus_reply_method_return(m, "");
}

/* One SetDiscoveryFilter entry, m at its variant. 0, or -EINVAL for a bad one. */
static int fake_filter_entry(sd_bus_message *m, const char *key, bool *wants_lock)
{
	const char *s;
	int16_t rssi;
	uint16_t pathloss;
	int b, r;

	if (strcmp(key, "UUIDs") == 0) {
		*wants_lock = false;
		if (sd_bus_message_enter_container(m, 'v', "as") <= 0 ||
		    sd_bus_message_enter_container(m, 'a', "s") <= 0)
			return -EINVAL;
		while ((r = sd_bus_message_read(m, "s", &s)) > 0)
			if (strcasecmp(s, FAKE_UUID_SERVICE) == 0)
				*wants_lock = true;
		if (r < 0 || sd_bus_message_exit_container(m) < 0 ||
		    sd_bus_message_exit_container(m) < 0)
			return -EINVAL;
		return 0;
	}
	if (strcmp(key, "Transport") == 0) {
		if (sd_bus_message_read(m, "v", "s", &s) < 0)
			return -EINVAL;
		if (strcmp(s, "bredr") == 0)
			*wants_lock = false;
		return strcmp(s, "le") == 0 || strcmp(s, "bredr") == 0 || strcmp(s, "auto") == 0
			       ? 0
			       : -EINVAL;
	}
	if (strcmp(key, "RSSI") == 0)
		return sd_bus_message_read(m, "v", "n", &rssi) < 0 ? -EINVAL : 0;
	if (strcmp(key, "Pathloss") == 0)
		return sd_bus_message_read(m, "v", "q", &pathloss) < 0 ? -EINVAL : 0;
	if (strcmp(key, "DuplicateData") == 0 || strcmp(key, "Discoverable") == 0)
		return sd_bus_message_read(m, "v", "b", &b) < 0 ? -EINVAL : 0;
	if (strcmp(key, "Pattern") == 0)
		return sd_bus_message_read(m, "v", "s", &s) < 0 ? -EINVAL : 0;
	return -EINVAL;
}

static int fake_adapter_filter(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	struct fake_client *c;
	const char *key;
	bool wants_lock = true;
	int r;

	if (sd_bus_message_enter_container(m, 'a', "{sv}") <= 0)
		return sd_bus_error_set(error, FAKE_E_INVALID_ARGS, "Invalid arguments");
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		if (sd_bus_message_read(m, "s", &key) < 0 ||
		    fake_filter_entry(m, key, &wants_lock) < 0 ||
		    sd_bus_message_exit_container(m) < 0)
			return sd_bus_error_set(error, FAKE_E_INVALID_ARGS, "Invalid arguments");
	}
	if (r < 0 || sd_bus_message_exit_container(m) < 0)
		return sd_bus_error_set(error, FAKE_E_INVALID_ARGS, "Invalid arguments");
	c = fake_client_get(f, sd_bus_message_get_sender(m), true);
	if (c == NULL)
		return sd_bus_error_set(error, FAKE_E_FAILED, "Too many clients");
	c->wants_lock = wants_lock;
	return sd_bus_reply_method_return(m, "");
}

static int fake_adapter_filters(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	(void)userdata;
	(void)error;
	return sd_bus_reply_method_return(m, "as", 7, "UUIDs", "RSSI", "Pathloss", "Transport",
					  "DuplicateData", "Discoverable", "Pattern");
}

static int fake_adapter_remove(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	const char *path;
	unsigned i;

	if (sd_bus_message_read(m, "o", &path) < 0)
		return sd_bus_error_set(error, FAKE_E_INVALID_ARGS, "Invalid arguments");
	for (i = 0; i < f->nlocks; i++) {
		if (strcmp(f->lock[i].dev_path, path) != 0 || f->lock[i].dev_slot == NULL)
			continue;
		fake_link_drop(&f->lock[i], "RemoveDevice");
		sd_bus_emit_interfaces_removed(f->bus, path, FAKE_IF_DEVICE, NULL);
		f->lock[i].dev_slot = sd_bus_slot_unref(f->lock[i].dev_slot);
		return sd_bus_reply_method_return(m, "");
	}
	return sd_bus_error_set(error, FAKE_E_DOES_NOT_EXIST, "Does Not Exist");
}

/* ---- test control: not BlueZ ---- */

/*
 * InjectProperty(o path, s interface, s name, v value): emits, from org.bluez,
 * PropertiesChanged(interface, {name: value}, []) on path, whatever the value; tests use
 * it to send what BlueZ never would (an empty or oversized Value, a wrong type).
 */
static int fake_test_inject(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	sd_bus_message *sig = NULL;
	const char *path, *iface, *name;
	int r;

	if (sd_bus_message_read(m, "oss", &path, &iface, &name) < 0)
		return sd_bus_error_set(error, FAKE_E_INVALID_ARGS, "Invalid arguments");
	r = sd_bus_message_new_signal(f->bus, &sig, path, "org.freedesktop.DBus.Properties",
				      "PropertiesChanged");
	if (r >= 0)
		r = sd_bus_message_append(sig, "s", iface);
	if (r >= 0)
		r = sd_bus_message_open_container(sig, 'a', "{sv}");
	if (r >= 0)
		r = sd_bus_message_open_container(sig, 'e', "sv");
	if (r >= 0)
		r = sd_bus_message_append(sig, "s", name);
	if (r >= 0)
		r = sd_bus_message_copy(sig, m, 0);
	if (r >= 0)
		r = sd_bus_message_close_container(sig);
	if (r >= 0)
		r = sd_bus_message_close_container(sig);
	if (r >= 0)
		r = sd_bus_message_append(sig, "as", 0);
	if (r >= 0)
		r = sd_bus_send(f->bus, sig, NULL);
	sd_bus_message_unref(sig);
	if (r < 0)
		return sd_bus_error_set(error, FAKE_E_FAILED, "Cannot emit");
	return sd_bus_reply_method_return(m, "");
}

/*
 * InjectInterfacesRemoved(o path, as interfaces): emits, from org.bluez,
 * InterfacesRemoved(path, interfaces) while the objects stay, so that a test can tell
 * this way of losing a link from the others.
 */
static int fake_test_removed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	sd_bus_message *sig = NULL;
	const char *path;
	int r;

	if (sd_bus_message_read(m, "o", &path) < 0)
		return sd_bus_error_set(error, FAKE_E_INVALID_ARGS, "Invalid arguments");
	r = sd_bus_message_new_signal(f->bus, &sig, "/", "org.freedesktop.DBus.ObjectManager",
				      "InterfacesRemoved");
	if (r >= 0)
		r = sd_bus_message_append(sig, "o", path);
	if (r >= 0)
		r = sd_bus_message_copy(sig, m, 0);
	if (r >= 0)
		r = sd_bus_send(f->bus, sig, NULL);
	sd_bus_message_unref(sig);
	if (r < 0)
		return sd_bus_error_set(error, FAKE_E_FAILED, "Cannot emit");
	return sd_bus_reply_method_return(m, "");
}

/* ---- vtables ---- */

#define FAKE_CONST SD_BUS_VTABLE_PROPERTY_CONST
#define FAKE_EMITS SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
#define FAKE_UNPRIV SD_BUS_VTABLE_UNPRIVILEGED

static const sd_bus_vtable fake_adapter_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("StartDiscovery", "", "", fake_adapter_start, FAKE_UNPRIV),
	SD_BUS_METHOD("StopDiscovery", "", "", fake_adapter_stop, FAKE_UNPRIV),
	SD_BUS_METHOD("SetDiscoveryFilter", "a{sv}", "", fake_adapter_filter, FAKE_UNPRIV),
	SD_BUS_METHOD("GetDiscoveryFilters", "", "as", fake_adapter_filters, FAKE_UNPRIV),
	SD_BUS_METHOD("RemoveDevice", "o", "", fake_adapter_remove, FAKE_UNPRIV),
	SD_BUS_PROPERTY("Address", "s", adapter_address, 0, FAKE_CONST),
	SD_BUS_PROPERTY("AddressType", "s", get_public, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Name", "s", adapter_name, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Alias", "s", adapter_name, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Powered", "b", get_true, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Discoverable", "b", get_false, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Pairable", "b", get_false, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Discovering", "b", adapter_discovering, 0, FAKE_EMITS),
	SD_BUS_PROPERTY("UUIDs", "as", get_no_uuids, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Roles", "as", adapter_roles, 0, FAKE_CONST),
	SD_BUS_VTABLE_END,
};

static const sd_bus_vtable fake_device_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Connect", "", "", fake_dev_connect, FAKE_UNPRIV),
	SD_BUS_METHOD("Disconnect", "", "", fake_dev_disconnect, FAKE_UNPRIV),
	SD_BUS_PROPERTY("Address", "s", dev_address, 0, FAKE_CONST),
	SD_BUS_PROPERTY("AddressType", "s", get_public, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Name", "s", dev_name, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Alias", "s", dev_name, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Paired", "b", get_false, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Bonded", "b", get_false, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Trusted", "b", get_false, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Blocked", "b", get_false, 0, FAKE_CONST),
	SD_BUS_PROPERTY("LegacyPairing", "b", get_false, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Connected", "b", dev_connected, 0, FAKE_EMITS),
	SD_BUS_PROPERTY("ServicesResolved", "b", dev_resolved, 0, FAKE_EMITS),
	SD_BUS_PROPERTY("UUIDs", "as", dev_uuids, 0, FAKE_CONST),
	SD_BUS_PROPERTY("ServiceData", "a{sv}", dev_service_data, 0, FAKE_EMITS),
	SD_BUS_PROPERTY("RSSI", "n", dev_rssi, 0, FAKE_EMITS),
	SD_BUS_PROPERTY("AdvertisingFlags", "ay", dev_adv_flags, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Adapter", "o", dev_adapter, 0, FAKE_CONST),
	SD_BUS_VTABLE_END,
};

static const sd_bus_vtable fake_service_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("UUID", "s", svc_uuid, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Primary", "b", get_true, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Device", "o", svc_device, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Includes", "ao", svc_includes, 0, FAKE_CONST),
	SD_BUS_PROPERTY("Handle", "q", svc_handle, 0, FAKE_CONST),
	SD_BUS_VTABLE_END,
};

#define FAKE_CHAR_COMMON                                                                     \
	SD_BUS_METHOD("ReadValue", "a{sv}", "ay", fake_chr_read, FAKE_UNPRIV),               \
	SD_BUS_METHOD("WriteValue", "aya{sv}", "", fake_chr_write, FAKE_UNPRIV),             \
	SD_BUS_METHOD("StartNotify", "", "", fake_chr_start_notify, FAKE_UNPRIV),            \
	SD_BUS_METHOD("StopNotify", "", "", fake_chr_stop_notify, FAKE_UNPRIV),              \
	SD_BUS_PROPERTY("UUID", "s", chr_uuid, 0, FAKE_CONST),                               \
	SD_BUS_PROPERTY("Service", "o", chr_service, 0, FAKE_CONST),                         \
	SD_BUS_PROPERTY("Value", "ay", chr_value, 0, FAKE_EMITS),                            \
	SD_BUS_PROPERTY("Notifying", "b", chr_notifying, 0, FAKE_EMITS),                     \
	SD_BUS_PROPERTY("Flags", "as", chr_flags, 0, FAKE_CONST),                            \
	SD_BUS_PROPERTY("Handle", "q", chr_handle, 0, FAKE_CONST)

static const sd_bus_vtable fake_char_vtable[] = {
	SD_BUS_VTABLE_START(0),
	FAKE_CHAR_COMMON,
	SD_BUS_PROPERTY("MTU", "q", chr_mtu, 0, FAKE_CONST),
	SD_BUS_VTABLE_END,
};

/* As BlueZ before 5.62: no MTU property (--mtu 0). */
static const sd_bus_vtable fake_char_vtable_no_mtu[] = {
	SD_BUS_VTABLE_START(0),
	FAKE_CHAR_COMMON,
	SD_BUS_VTABLE_END,
};

static const sd_bus_vtable fake_test_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("InjectProperty", "ossv", "", fake_test_inject, FAKE_UNPRIV),
	SD_BUS_METHOD("InjectInterfacesRemoved", "oas", "", fake_test_removed, FAKE_UNPRIV),
	SD_BUS_VTABLE_END,
};

/* ---- bus clients leaving ---- */

/* NameOwnerChanged: a client that leaves loses its discovery and notifications, and the
 * links it made are dropped (BlueZ would drop an idle link a little later). */
static int fake_on_owner(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	struct fake_client *c;
	const char *name, *old_owner, *new_owner;
	unsigned i;

	(void)error;
	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 ||
	    name[0] != ':' || new_owner[0] != '\0')
		return 0;
	c = fake_client_get(f, name, false);
	if (c != NULL) {
		bool was = fake_discovering(f);

		fake_client_drop(f, c);
		if (was && !fake_discovering(f))
			fake_emit(f, FAKE_ADAPTER, FAKE_IF_ADAPTER, "Discovering");
	}
	for (i = 0; i < f->nlocks; i++) {
		fake_chr_session_end(&f->lock[i].rep, name);
		if (f->lock[i].connected && strcmp(f->lock[i].connector, name) == 0)
			fake_link_drop(&f->lock[i], "its client left the bus");
	}
	return 0;
}

/* ---- the command line ---- */

enum fake_opt { OPT_HELP, OPT_BUS, OPT_MTU, OPT_LOCK, OPT_LOG_LEVEL, FAKE_OPTS };

static const struct cli_option fake_opts[FAKE_OPTS] = {
	[OPT_HELP] = { "help", 'h', NULL, "show this help and exit" },
	[OPT_BUS] = { "bus", 'b', "ADDRESS", "the D-Bus address to own org.bluez on (required)" },
	[OPT_MTU] = { "mtu", 'm', "N",
		      "the ATT MTU reported, 23 to 517, or 0 for none (default 247)" },
	[OPT_LOCK] = { "lock", 'L', "MAC=SOCKET:SPOT",
		       "a lock at BLE address MAC, its sim socket and spot ID (repeatable)" },
	[OPT_LOG_LEVEL] = { "log-level", 'l', "LEVEL", "error, warn, info (default) or debug" },
};

static const struct cli fake_cli = {
	.prog = "fake-bluez",
	.version = "0",
	.synopsis = "Usage: fake-bluez --bus ADDRESS [--lock MAC=SOCKET:SPOT]... [OPTIONS]\n"
		    "A test peer that plays bluetoothd (org.bluez) on a private D-Bus and carries\n"
		    "GATT writes and notifications to parklockd's sim sockets. Tests only.\n",
	.epilogue = "\nLocks appear to a client's StartDiscovery with ServiceData {service UUID:\n"
		    "spot ID as u32 big-endian}. Exit status: 0 on SIGTERM or SIGINT, 1 on a\n"
		    "failure, 2 on a bad command line.\n",
	.options = fake_opts,
	.noptions = FAKE_OPTS,
	.help_width = 26,
};

struct fake_cfg {
	struct fake *f;
	const char *bus;
	enum log_level level;
};

/* "AA:BB:CC:DD:EE:FF=SOCKET:SPOT" into the next lock. 0 or -1 after saying why. */
static int fake_opt_lock(struct fake *f, const char *arg)
{
	struct fake_lock *lk;
	const char *eq = strchr(arg, '='), *colon = strrchr(arg, ':');
	unsigned long spot;
	char *end;
	size_t i;

	if (f->nlocks == FAKE_LOCKS_MAX) {
		fprintf(stderr, "fake-bluez: at most %d locks\n", FAKE_LOCKS_MAX);
		return -1;
	}
	lk = &f->lock[f->nlocks];
	if (eq == NULL || eq - arg != 17 || colon == NULL || colon < eq ||
	    (size_t)(colon - eq - 1) >= FAKE_SOCK_MAX || colon == eq + 1)
		goto bad;
	for (i = 0; i < 17; i++) {
		char ch = arg[i];

		if (i % 3 == 2 ? ch != ':' : !((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F')))
			goto bad;
		lk->mac[i] = ch;
	}
	lk->mac[17] = '\0';
	errno = 0;
	spot = strtoul(colon + 1, &end, 10);
	if (colon[1] < '1' || colon[1] > '9' || *end != '\0' || errno != 0 || spot > 0xFFFFFFFFul)
		goto bad;
	for (i = 0; i < f->nlocks; i++)
		if (strcmp(f->lock[i].mac, lk->mac) == 0) {
			fprintf(stderr, "fake-bluez: lock %s given twice\n", lk->mac);
			return -1;
		}
	memcpy(lk->sock, eq + 1, (size_t)(colon - eq - 1));
	lk->sock[colon - eq - 1] = '\0';
	lk->spot = (uint32_t)spot;
	f->nlocks++;
	return 0;
bad:
	fprintf(stderr, "fake-bluez: --lock takes AA:BB:CC:DD:EE:FF=SOCKET:SPOT (upper-case "
			"hex, spot 1..4294967295), not '%s'\n", arg);
	return -1;
}

static int fake_apply(void *ctx, int row, const char *arg)
{
	struct fake_cfg *cfg = ctx;
	unsigned long v;
	char *end;

	switch (row) {
	case OPT_BUS:
		cfg->bus = arg;
		return 0;
	case OPT_MTU:
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
		    (v != 0 && (v < 23 || v > FAKE_MTU_MAX))) {
			fprintf(stderr, "fake-bluez: --mtu takes 0 or 23 to %d\n", FAKE_MTU_MAX);
			return -1;
		}
		cfg->f->mtu = (uint16_t)v;
		return 0;
	case OPT_LOCK:
		return fake_opt_lock(cfg->f, arg);
	case OPT_LOG_LEVEL:
		if (log_level_parse(arg, &cfg->level) == 0)
			return 0;
		fprintf(stderr, "fake-bluez: --log-level takes error, warn, info or debug\n");
		return -1;
	default:
		return -1;
	}
}

/* ---- start-up ---- */

/* The object paths BlueZ would give the lock: its device, service and characteristics. */
static void fake_lock_paths(struct fake_lock *lk)
{
	char mac[18], dev[FAKE_PATH_MAX], svc[FAKE_PATH_MAX];

	memcpy(mac, lk->mac, sizeof(mac));
	snprintf(dev, sizeof(dev), FAKE_ADAPTER "/dev_%.2s_%.2s_%.2s_%.2s_%.2s_%.2s", mac,
		 mac + 3, mac + 6, mac + 9, mac + 12, mac + 15);
	snprintf(svc, sizeof(svc), "%.64s/service0010", dev);
	memcpy(lk->dev_path, dev, sizeof(dev));
	memcpy(lk->svc_path, svc, sizeof(svc));
	snprintf(lk->req.path, sizeof(lk->req.path), "%.80s/char0011", svc);
	snprintf(lk->rep.path, sizeof(lk->rep.path), "%.80s/char0013", svc);
}

static int fake_start(struct fake *f, const char *address)
{
	struct fake_lock *lk;
	sigset_t ss;
	unsigned i;
	int r;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	r = sd_event_new(&f->ev);
	if (r >= 0)
		r = sd_event_add_signal(f->ev, NULL, SIGTERM, NULL, NULL);
	if (r >= 0)
		r = sd_event_add_signal(f->ev, NULL, SIGINT, NULL, NULL);
	if (r >= 0)
		r = sd_bus_new(&f->bus);
	if (r >= 0)
		r = sd_bus_set_address(f->bus, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(f->bus, 1);
	if (r >= 0)
		r = sd_bus_start(f->bus);
	if (r < 0) {
		log_error("cannot reach the bus %s: %s", address, strerror(-r));
		return -1;
	}
	for (i = 0; i < f->nlocks; i++) {
		lk = &f->lock[i];
		lk->f = f;
		lk->fd = -1;
		lk->rssi = -60;
		snprintf(lk->name, sizeof(lk->name), "parking-lock-%lu", (unsigned long)lk->spot);
		fake_lock_paths(lk);
		lk->req.lock = lk;
		lk->rep.lock = lk;
		lk->rep.reply = true;
	}
	f->device_vtable = fake_device_vtable;
	f->service_vtable = fake_service_vtable;
	f->char_vtable = f->mtu != 0 ? fake_char_vtable : fake_char_vtable_no_mtu;
	r = sd_bus_add_object_manager(f->bus, NULL, "/");
	if (r >= 0)
		r = sd_bus_add_object_vtable(f->bus, NULL, FAKE_ADAPTER, FAKE_IF_ADAPTER,
					     fake_adapter_vtable, f);
	if (r >= 0)
		r = sd_bus_add_object_vtable(f->bus, NULL, FAKE_TEST_PATH, FAKE_IF_TEST,
					     fake_test_vtable, f);
	if (r >= 0)
		r = sd_bus_match_signal(f->bus, NULL, "org.freedesktop.DBus",
					"/org/freedesktop/DBus", "org.freedesktop.DBus",
					"NameOwnerChanged", fake_on_owner, f);
	if (r >= 0)
		r = sd_bus_attach_event(f->bus, f->ev, SD_EVENT_PRIORITY_NORMAL);
	if (r >= 0)
		r = sd_bus_set_exit_on_disconnect(f->bus, 1);
	if (r >= 0)
		r = sd_bus_request_name(f->bus, "org.bluez", 0);
	if (r < 0) {
		log_error("cannot serve org.bluez: %s", strerror(-r));
		return -1;
	}
	log_info("org.bluez on %s with %u locks, MTU %u", address, f->nlocks, (unsigned)f->mtu);
	return 0;
}

static void fake_stop(struct fake *f)
{
	unsigned i;

	for (i = 0; i < f->nlocks; i++) {
		if (f->lock[i].f == NULL)
			continue;
		fake_link_drop(&f->lock[i], "stopping");
		f->lock[i].dev_slot = sd_bus_slot_unref(f->lock[i].dev_slot);
	}
	if (f->bus != NULL)
		sd_bus_flush_close_unref(f->bus);
	sd_event_unref(f->ev);
}

int main(int argc, char **argv)
{
	static struct fake f;
	struct fake_cfg cfg = { &f, NULL, LOG_INFO };
	struct cli_parser p;
	int first, r = EXIT_FAILURE;

	f.mtu = FAKE_MTU_DEFAULT;
	first = cli_parse(&p, &fake_cli, argc, argv, fake_apply, &cfg);
	if (first < 0)
		return cli_usage_error(&fake_cli);
	if (p.help) {
		cli_help(&fake_cli, stdout);
		return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (first != argc || cfg.bus == NULL) {
		fprintf(stderr, "fake-bluez: give --bus ADDRESS and no operands\n");
		return cli_usage_error(&fake_cli);
	}
	log_init(argv[0], cfg.level);
	if (fake_start(&f, cfg.bus) == 0 && sd_event_loop(f.ev) >= 0)
		r = EXIT_SUCCESS;
	fake_stop(&f);
	return r;
}
