/*
 * transport-bluez.c: the transport over BlueZ's D-Bus API: finds a lock by address or by
 * the spot it advertises, connects, writes fragments (WriteValue), takes notifications
 * (PropertiesChanged of Value). No pairing, agents or adapter settings: the protocol
 * authenticates itself. sd-bus (libsystemd): small, well kept, speaks any bus address
 * (tests run a private one) and needs no main loop of its own. See phone/BLE.md.
 */
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "../lockfw/proto/frag.h"
#include "../lockfw/proto/proto.h"
#include "log.h"

/* The lock's GATT service and characteristics: lockfw/proto/PROTOCOL.md, section 2.1. */
#define BLUEZ_UUID_SERVICE "7a1e0001-5b3c-4f8e-9c2d-6a1b0c9d8e7f"
#define BLUEZ_UUID_REQUEST "7a1e0002-5b3c-4f8e-9c2d-6a1b0c9d8e7f"
#define BLUEZ_UUID_REPLY "7a1e0003-5b3c-4f8e-9c2d-6a1b0c9d8e7f"
#define BLUEZ_SPOT_DATA_LEN 4 /* service data: the spot ID, u32 big-endian */

#define BLUEZ_NAME "org.bluez"
#define BLUEZ_IF_ADAPTER "org.bluez.Adapter1"
#define BLUEZ_IF_DEVICE "org.bluez.Device1"
#define BLUEZ_IF_SERVICE "org.bluez.GattService1"
#define BLUEZ_IF_CHAR "org.bluez.GattCharacteristic1"
#define DBUS_NAME "org.freedesktop.DBus"
#define DBUS_PATH "/org/freedesktop/DBus"
#define DBUS_IF_PROPS "org.freedesktop.DBus.Properties"
#define DBUS_IF_OM "org.freedesktop.DBus.ObjectManager"

#define BLUEZ_ADAPTER_MAX 32   /* bytes of an adapter name ("hci0") */
#define BLUEZ_PATH_MAX 160     /* an object path taken from the bus, NUL included */
#define BLUEZ_UNIQUE_MAX 64    /* a unique bus name (":1.42"), NUL included */
#define BLUEZ_MATCH_MAX 512    /* a match rule */
#define BLUEZ_RING 128         /* notifications queued for recv(): 2 frames of 1024 at MTU 23 */
#define BLUEZ_PENDING 8        /* devices seen in a discovery, their service data not read */
#define BLUEZ_CHECKED 32       /* devices whose service data a discovery has read */
#define BLUEZ_CALL_MS 5000     /* a method call outside connect() (WriteValue) */
#define BLUEZ_OPEN_MS 5000     /* transport_bluez_new()'s look at the adapter */
#define BLUEZ_CONNECT_MS 30000 /* connect() given a negative time-out */
#define BLUEZ_MTU_BUS_MAX 517  /* the largest ATT MTU BlueZ may report */

/* How connect() is looking for its device. */
enum bluez_find {
	BLUEZ_FIND_NONE,    /* not looking */
	BLUEZ_FIND_ADDRESS, /* the device object at b->want */
	BLUEZ_FIND_SPOT,    /* a device advertising the service with b->spot */
};

/* One notification: one fragment. */
struct bluez_fragment {
	uint8_t len; /* 1..FRAG_PAYLOAD_MAX */
	uint8_t data[FRAG_PAYLOAD_MAX];
};

struct bluez {
	struct transport base;
	sd_bus *bus;
	char adapter_path[sizeof("/org/bluez/") + BLUEZ_ADAPTER_MAX];
	/* While a link is made or up: org.bluez's unique name and the signals we take. */
	char owner[BLUEZ_UNIQUE_MAX];
	sd_bus_slot *match[4];
	/* Finding the device. */
	enum bluez_find find;
	uint32_t spot;
	bool discovering;                  /* our StartDiscovery succeeded */
	char want[BLUEZ_PATH_MAX];         /* BLUEZ_FIND_ADDRESS: the device's path */
	char found[BLUEZ_PATH_MAX];        /* the device chosen, "" until then */
	char pending[BLUEZ_PENDING][BLUEZ_PATH_MAX];
	unsigned npending;
	char checked[BLUEZ_CHECKED][BLUEZ_PATH_MAX];
	unsigned nchecked;
	/* The link. Paths are "" when unknown. */
	char dev_path[BLUEZ_PATH_MAX];
	char req_path[BLUEZ_PATH_MAX];
	char rep_path[BLUEZ_PATH_MAX];
	bool connect_sent; /* Device1.Connect was called: disconnect() must undo it */
	bool connected;    /* Device1.Connected as last heard */
	bool resolved;     /* Device1.ServicesResolved as last heard */
	bool notifying;    /* our StartNotify succeeded */
	bool linked;       /* send and recv work (until lost or broken) */
	bool lost;         /* the device disconnected or vanished, or BlueZ left the bus */
	bool broken;       /* bad data from the bus, or the queue overflowed */
	/*
	 * Serial of BlueZ's reply that told us the device's state after Connect. A sender's
	 * serials grow, so a signal with a smaller one is older than that state (say, the end
	 * of our previous link to the same device): link signals below it are ignored.
	 * 0 while no state has been read. (D-Bus serials are 32 bits: bluetoothd would have
	 * to send 2^32 messages during one link for this to misjudge.)
	 */
	uint64_t since;
	bool write_command;  /* the request characteristic takes write without response */
	uint16_t mtu;        /* PROTO_MTU_MIN..PROTO_MTU_MAX */
	struct bluez_fragment ring[BLUEZ_RING];
	unsigned head;  /* index of the oldest queued fragment */
	unsigned count; /* fragments queued, 0..BLUEZ_RING */
};

/* ---- time ---- */

static int64_t bluez_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none) as poll() takes them. */
static int bluez_left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - bluez_now_ms();
	if (left <= 0)
		return 0;
	return left > 0x7FFFFFFF ? 0x7FFFFFFF : (int)left;
}

/* ---- errors ---- */

/* D-Bus error names and the transport errors they mean; anything else is IO. */
static const struct {
	const char *name;
	int err;
} bluez_errors[] = {
	{ "org.freedesktop.DBus.Error.UnknownObject", TRANSPORT_E_NOTFOUND },
	{ "org.freedesktop.DBus.Error.UnknownInterface", TRANSPORT_E_NOTFOUND },
	{ "org.bluez.Error.DoesNotExist", TRANSPORT_E_NOTFOUND },
	{ "org.bluez.Error.NotConnected", TRANSPORT_E_CLOSED },
	{ "org.bluez.Error.InvalidValueLength", TRANSPORT_E_SPACE },
	{ "org.freedesktop.DBus.Error.Timeout", TRANSPORT_E_TIMEOUT },
	{ "org.freedesktop.DBus.Error.TimedOut", TRANSPORT_E_TIMEOUT },
};

/* The negative transport error for sd-bus's r (< 0) and error e. */
static int bluez_error(int r, const sd_bus_error *e)
{
	size_t i;

	if (r == -ETIMEDOUT)
		return -TRANSPORT_E_TIMEOUT;
	for (i = 0; i < sizeof(bluez_errors) / sizeof(bluez_errors[0]); i++)
		if (sd_bus_error_has_name(e, bluez_errors[i].name))
			return -bluez_errors[i].err;
	return -TRANSPORT_E_IO;
}

/* ---- calls ---- */

/*
 * Calls path's iface.member with the arguments already in *m (consumed), waiting until
 * deadline; the reply into *reply when it is not NULL (the caller unrefs it). 0 or a
 * negative transport error; -TRANSPORT_E_TIMEOUT at once when the deadline has passed.
 */
static int bluez_call(struct bluez *b, sd_bus_message **m, int64_t deadline,
		      sd_bus_message **reply)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *rep = NULL;
	int left = bluez_left_ms(deadline), r;

	if (left == 0) {
		*m = sd_bus_message_unref(*m);
		return -TRANSPORT_E_TIMEOUT;
	}
	r = sd_bus_call(b->bus, *m, (uint64_t)left * 1000, &e, &rep);
	if (r < 0) {
		log_debug("bluez: %s %s: %s", sd_bus_message_get_member(*m),
			  sd_bus_message_get_path(*m), e.name != NULL ? e.name : strerror(-r));
		r = bluez_error(r, &e);
	} else {
		r = 0;
	}
	*m = sd_bus_message_unref(*m);
	sd_bus_error_free(&e);
	if (reply != NULL)
		*reply = rep;
	else
		sd_bus_message_unref(rep);
	return r;
}

/* A new call to org.bluez's path iface.member into *m. 0 or -TRANSPORT_E_IO. */
static int bluez_method(struct bluez *b, const char *path, const char *iface,
			const char *member, sd_bus_message **m)
{
	return sd_bus_message_new_method_call(b->bus, m, BLUEZ_NAME, path, iface, member) < 0
		       ? -TRANSPORT_E_IO
		       : 0;
}

/* Calls a method without arguments; 0 or a negative transport error. */
static int bluez_call0(struct bluez *b, const char *path, const char *iface,
		       const char *member, int64_t deadline)
{
	sd_bus_message *m = NULL;
	int r = bluez_method(b, path, iface, member, &m);

	return r < 0 ? r : bluez_call(b, &m, deadline, NULL);
}

/*
 * Sends a method call without waiting for, or wanting, its answer: the undo calls
 * (StopDiscovery, StopNotify, Disconnect) whose errors we would ignore anyway, so that a
 * BlueZ that hangs cannot hold up a disconnect.
 */
static void bluez_send0(struct bluez *b, const char *path, const char *iface,
			const char *member)
{
	sd_bus_message *m = NULL;

	if (bluez_method(b, path, iface, member, &m) == 0 &&
	    sd_bus_message_set_expect_reply(m, 0) >= 0 && sd_bus_send(b->bus, m, NULL) >= 0)
		log_debug("bluez: %s %s sent", member, path);
	sd_bus_message_unref(m);
}

/* ---- reading what the bus says: every type checked ---- */

/* Reads a variant of the one basic `type` into out. 0 or -TRANSPORT_E_PROTO. */
static int bluez_read_variant(sd_bus_message *m, char type, void *out)
{
	char sig[2] = { type, '\0' };

	if (sd_bus_message_enter_container(m, 'v', sig) <= 0 ||
	    sd_bus_message_read_basic(m, type, out) <= 0 || sd_bus_message_exit_container(m) < 0)
		return -TRANSPORT_E_PROTO;
	return 0;
}

static int bluez_read_bool(sd_bus_message *m, bool *out)
{
	int v = 0;
	int r = bluez_read_variant(m, 'b', &v);

	*out = v != 0;
	return r;
}

/* Reads a variant "ay": *p points into m. 0 or -TRANSPORT_E_PROTO. */
static int bluez_read_bytes(sd_bus_message *m, const uint8_t **p, size_t *len)
{
	const void *ptr = NULL;

	*len = 0;
	if (sd_bus_message_enter_container(m, 'v', "ay") <= 0 ||
	    sd_bus_message_read_array(m, 'y', &ptr, len) < 0 ||
	    sd_bus_message_exit_container(m) < 0)
		return -TRANSPORT_E_PROTO;
	*p = ptr;
	return 0;
}

/* Reads a string array ("as", not in a variant); fn sees each. 0 or -TRANSPORT_E_PROTO. */
static int bluez_read_strings(sd_bus_message *m, void (*fn)(void *arg, const char *s),
			      void *arg)
{
	const char *s;
	int r;

	if (sd_bus_message_enter_container(m, 'a', "s") <= 0)
		return -TRANSPORT_E_PROTO;
	while ((r = sd_bus_message_read_basic(m, 's', &s)) > 0)
		fn(arg, s);
	if (r < 0 || sd_bus_message_exit_container(m) < 0)
		return -TRANSPORT_E_PROTO;
	return 0;
}

/*
 * What a property reader does with one property `name` whose variant m is at: read it
 * and return 1, return 0 to have it skipped, or a negative transport error.
 */
typedef int (*bluez_prop_fn)(void *arg, const char *name, sd_bus_message *m);

/* Walks the a{sv} m is at. 0 or a negative transport error. */
static int bluez_props(sd_bus_message *m, bluez_prop_fn fn, void *arg)
{
	const char *name;
	int r;

	if (sd_bus_message_enter_container(m, 'a', "{sv}") <= 0)
		return -TRANSPORT_E_PROTO;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		if (sd_bus_message_read_basic(m, 's', &name) <= 0)
			return -TRANSPORT_E_PROTO;
		r = fn(arg, name, m);
		if (r < 0)
			return r;
		if (r == 0 && sd_bus_message_skip(m, "v") < 0)
			return -TRANSPORT_E_PROTO;
		if (sd_bus_message_exit_container(m) < 0)
			return -TRANSPORT_E_PROTO;
	}
	if (r < 0 || sd_bus_message_exit_container(m) < 0)
		return -TRANSPORT_E_PROTO;
	return 0;
}

/*
 * What an object walker does with one interface of one object, m at its a{sv}: read it
 * (bluez_props) and return 1, return 0 to have it skipped, or a negative error.
 */
typedef int (*bluez_object_fn)(void *arg, const char *path, const char *iface,
			       sd_bus_message *m);

/* Walks the a{sa{sv}} m is at, for the object at path. */
static int bluez_interfaces(sd_bus_message *m, const char *path, bluez_object_fn fn, void *arg)
{
	const char *iface;
	int r;

	if (sd_bus_message_enter_container(m, 'a', "{sa{sv}}") <= 0)
		return -TRANSPORT_E_PROTO;
	while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
		if (sd_bus_message_read_basic(m, 's', &iface) <= 0)
			return -TRANSPORT_E_PROTO;
		r = fn(arg, path, iface, m);
		if (r < 0)
			return r;
		if (r == 0 && sd_bus_message_skip(m, "a{sv}") < 0)
			return -TRANSPORT_E_PROTO;
		if (sd_bus_message_exit_container(m) < 0)
			return -TRANSPORT_E_PROTO;
	}
	if (r < 0 || sd_bus_message_exit_container(m) < 0)
		return -TRANSPORT_E_PROTO;
	return 0;
}

/* Walks a GetManagedObjects reply (a{oa{sa{sv}}}) from its start. */
static int bluez_objects(sd_bus_message *m, bluez_object_fn fn, void *arg)
{
	const char *path;
	int r;

	if (sd_bus_message_rewind(m, 1) < 0 ||
	    sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}") <= 0)
		return -TRANSPORT_E_PROTO;
	while ((r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
		if (sd_bus_message_read_basic(m, 'o', &path) <= 0)
			return -TRANSPORT_E_PROTO;
		r = bluez_interfaces(m, path, fn, arg);
		if (r < 0)
			return r;
		if (sd_bus_message_exit_container(m) < 0)
			return -TRANSPORT_E_PROTO;
	}
	if (r < 0 || sd_bus_message_exit_container(m) < 0)
		return -TRANSPORT_E_PROTO;
	return 0;
}

/* GetManagedObjects of org.bluez into *reply. 0 or a negative transport error. */
static int bluez_managed_objects(struct bluez *b, int64_t deadline, sd_bus_message **reply)
{
	sd_bus_message *m = NULL;
	int r = bluez_method(b, "/", DBUS_IF_OM, "GetManagedObjects", &m);

	return r < 0 ? r : bluez_call(b, &m, deadline, reply);
}

/* ---- properties of the objects we use ---- */

/* What we read of a Device1. */
struct bluez_device {
	bool has_connected, connected;
	bool has_resolved, resolved;
	bool has_rssi;   /* seen by the radio just now */
	bool has_service_data;
	bool advertises; /* ServiceData holds the lock service with a 4-byte value ... */
	uint32_t spot;   /* ... which is this spot ID */
};

/* Reads a Device1's ServiceData (variant a{sv}, each value ay). */
static int bluez_service_data(sd_bus_message *m, struct bluez_device *d)
{
	const uint8_t *p;
	const char *uuid;
	size_t len;
	int r;

	if (sd_bus_message_enter_container(m, 'v', "a{sv}") <= 0 ||
	    sd_bus_message_enter_container(m, 'a', "{sv}") <= 0)
		return -TRANSPORT_E_PROTO;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		if (sd_bus_message_read_basic(m, 's', &uuid) <= 0)
			return -TRANSPORT_E_PROTO;
		if (strcasecmp(uuid, BLUEZ_UUID_SERVICE) != 0) {
			if (sd_bus_message_skip(m, "v") < 0)
				return -TRANSPORT_E_PROTO;
		} else {
			if (bluez_read_bytes(m, &p, &len) < 0)
				return -TRANSPORT_E_PROTO;
			d->advertises = len == BLUEZ_SPOT_DATA_LEN;
			if (d->advertises)
				d->spot = wire_load_u32(p);
		}
		if (sd_bus_message_exit_container(m) < 0)
			return -TRANSPORT_E_PROTO;
	}
	if (r < 0 || sd_bus_message_exit_container(m) < 0 || sd_bus_message_exit_container(m) < 0)
		return -TRANSPORT_E_PROTO;
	return 0;
}

static int bluez_device_prop(void *arg, const char *name, sd_bus_message *m)
{
	struct bluez_device *d = arg;
	int16_t rssi;
	int r;

	if (strcmp(name, "Connected") == 0) {
		d->has_connected = true;
		r = bluez_read_bool(m, &d->connected);
	} else if (strcmp(name, "ServicesResolved") == 0) {
		d->has_resolved = true;
		r = bluez_read_bool(m, &d->resolved);
	} else if (strcmp(name, "RSSI") == 0) {
		d->has_rssi = true;
		r = bluez_read_variant(m, 'n', &rssi);
	} else if (strcmp(name, "ServiceData") == 0) {
		d->has_service_data = true;
		r = bluez_service_data(m, d);
	} else {
		return 0;
	}
	return r < 0 ? r : 1;
}

/* What we read of a GattService1 or GattCharacteristic1. */
struct bluez_gatt {
	const char *uuid;   /* NULL when absent; points into the message */
	const char *parent; /* a service's Device, a characteristic's Service; likewise */
	bool write, write_command, notify; /* characteristic Flags */
	bool has_mtu;
	uint16_t mtu;
};

static void bluez_gatt_flag(void *arg, const char *flag)
{
	struct bluez_gatt *g = arg;

	if (strcmp(flag, "write") == 0)
		g->write = true;
	else if (strcmp(flag, "write-without-response") == 0)
		g->write_command = true;
	else if (strcmp(flag, "notify") == 0)
		g->notify = true;
}

static int bluez_gatt_prop(void *arg, const char *name, sd_bus_message *m)
{
	struct bluez_gatt *g = arg;
	int r;

	if (strcmp(name, "UUID") == 0) {
		r = bluez_read_variant(m, 's', &g->uuid);
	} else if (strcmp(name, "Device") == 0 || strcmp(name, "Service") == 0) {
		r = bluez_read_variant(m, 'o', &g->parent);
	} else if (strcmp(name, "Flags") == 0) {
		if (sd_bus_message_enter_container(m, 'v', "as") <= 0)
			return -TRANSPORT_E_PROTO;
		r = bluez_read_strings(m, bluez_gatt_flag, g);
		if (r == 0 && sd_bus_message_exit_container(m) < 0)
			r = -TRANSPORT_E_PROTO;
	} else if (strcmp(name, "MTU") == 0) {
		g->has_mtu = true;
		r = bluez_read_variant(m, 'q', &g->mtu);
	} else {
		return 0;
	}
	return r < 0 ? r : 1;
}

/*
 * The link MTU from a characteristic's MTU property (BlueZ reports up to 517; the
 * protocol uses at most 247), or -TRANSPORT_E_PROTO for one below the ATT minimum.
 */
static int bluez_mtu(uint16_t mtu)
{
	if (mtu < PROTO_MTU_MIN || mtu > BLUEZ_MTU_BUS_MAX)
		return -TRANSPORT_E_PROTO;
	return mtu > PROTO_MTU_MAX ? PROTO_MTU_MAX : mtu;
}

/* ---- paths ---- */

static bool bluez_path_fits(const char *path)
{
	return strlen(path) < BLUEZ_PATH_MAX;
}

/* Whether path is a device of our adapter: ADAPTER/dev_X, nothing below. */
static bool bluez_is_device(const struct bluez *b, const char *path)
{
	size_t n = strlen(b->adapter_path);

	return strncmp(path, b->adapter_path, n) == 0 && strncmp(path + n, "/dev_", 5) == 0 &&
	       strchr(path + n + 5, '/') == NULL && bluez_path_fits(path);
}

/* Whether path is below (not at) parent. */
static bool bluez_is_below(const char *path, const char *parent)
{
	size_t n = strlen(parent);

	return n > 0 && strncmp(path, parent, n) == 0 && path[n] == '/';
}

static int bluez_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The device path for a BLE address of exactly the form "AA:BB:CC:DD:EE:FF" (hex digits
 * of either case) into out[BLUEZ_PATH_MAX]. 0, or -1 when address has another form.
 */
static int bluez_address_path(const struct bluez *b, const char *address, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	char dev[18];
	int i, hi, lo;

	if (strlen(address) != 17)
		return -1;
	for (i = 0; i < 6; i++) {
		hi = bluez_hex(address[3 * i]);
		lo = bluez_hex(address[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && address[3 * i + 2] != ':'))
			return -1;
		dev[3 * i] = digits[hi];
		dev[3 * i + 1] = digits[lo];
		dev[3 * i + 2] = '_';
	}
	dev[17] = '\0';
	snprintf(out, BLUEZ_PATH_MAX, "%s/dev_%s", b->adapter_path, dev);
	return 0;
}

/* Whether name is an adapter name we put into a path: 1..32 of [A-Za-z0-9_]. */
static bool bluez_adapter_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > BLUEZ_ADAPTER_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return false;
	return true;
}

/* ---- the notification queue ---- */

/* Queues one notification; a bad length or a full queue breaks the link. */
static void bluez_enqueue(struct bluez *b, const uint8_t *p, size_t len)
{
	struct bluez_fragment *f;

	if (len == 0 || len > FRAG_PAYLOAD_MAX) {
		log_debug("bluez: a notification of %zu bytes: not a fragment", len);
		b->broken = true;
		return;
	}
	if (b->count == BLUEZ_RING) {
		log_debug("bluez: %u notifications unread: the queue overflowed", BLUEZ_RING);
		b->broken = true;
		return;
	}
	f = &b->ring[(b->head + b->count) % BLUEZ_RING];
	f->len = (uint8_t)len;
	memcpy(f->data, p, len);
	b->count++;
	log_debug("bluez: notification of %zu bytes", len);
}

static void bluez_ring_clear(struct bluez *b)
{
	b->head = 0;
	b->count = 0;
}

/* ---- signals ---- */

/* A device seen in a discovery whose service data the signal did not carry. */
static void bluez_pending_add(struct bluez *b, const char *path)
{
	unsigned i;

	for (i = 0; i < b->nchecked; i++)
		if (strcmp(b->checked[i], path) == 0)
			return;
	for (i = 0; i < b->npending; i++)
		if (strcmp(b->pending[i], path) == 0)
			return;
	if (b->npending < BLUEZ_PENDING)
		snprintf(b->pending[b->npending++], BLUEZ_PATH_MAX, "%s", path);
}

/* A Device1's properties (changed, or all of a new one) during a discovery. */
static void bluez_discovered(struct bluez *b, const char *path, const struct bluez_device *d)
{
	if (b->found[0] != '\0')
		return;
	if (b->find == BLUEZ_FIND_ADDRESS && strcmp(path, b->want) == 0) {
		snprintf(b->found, sizeof(b->found), "%s", path);
	} else if (b->find == BLUEZ_FIND_SPOT) {
		if (d->advertises && d->spot == b->spot)
			snprintf(b->found, sizeof(b->found), "%s", path);
		else if (!d->has_service_data && d->has_rssi)
			bluez_pending_add(b, path);
	}
	if (b->found[0] != '\0')
		log_debug("bluez: found %s", path);
}

static int bluez_value_prop(void *arg, const char *name, sd_bus_message *m)
{
	struct bluez *b = arg;
	const uint8_t *p;
	size_t len;

	if (strcmp(name, "Value") != 0)
		return 0;
	if (bluez_read_bytes(m, &p, &len) < 0)
		return -TRANSPORT_E_PROTO;
	if (b->notifying)
		bluez_enqueue(b, p, len);
	return 1;
}

static int bluez_mtu_prop(void *arg, const char *name, sd_bus_message *m)
{
	struct bluez *b = arg;
	uint16_t mtu;
	int r;

	if (strcmp(name, "MTU") != 0)
		return 0;
	if (bluez_read_variant(m, 'q', &mtu) < 0 || (r = bluez_mtu(mtu)) < 0)
		return -TRANSPORT_E_PROTO;
	b->mtu = (uint16_t)r;
	return 1;
}

/* Whether signal m is newer than the device state the link started from. */
static bool bluez_current(const struct bluez *b, sd_bus_message *m)
{
	uint64_t cookie;

	return b->since != 0 && sd_bus_message_get_cookie(m, &cookie) >= 0 && cookie > b->since;
}

/* PropertiesChanged(s interface, a{sv} changed, as invalidated) under our adapter. */
static void bluez_on_properties(struct bluez *b, sd_bus_message *m)
{
	const char *path = sd_bus_message_get_path(m), *iface;
	struct bluez_device d;
	int r;

	if (path == NULL || sd_bus_message_read_basic(m, 's', &iface) <= 0)
		return;
	memset(&d, 0, sizeof(d));
	if (strcmp(iface, BLUEZ_IF_DEVICE) == 0 && b->dev_path[0] != '\0' &&
	    strcmp(path, b->dev_path) == 0) {
		if (!bluez_current(b, m))
			return;
		if (bluez_props(m, bluez_device_prop, &d) < 0) {
			log_debug("bluez: bad Device1 properties of %s", path);
			b->broken = true;
			return;
		}
		if (d.has_connected) {
			b->connected = d.connected;
			if (!d.connected && b->connect_sent) {
				log_debug("bluez: %s disconnected", path);
				b->lost = true;
			}
		}
		if (d.has_resolved)
			b->resolved = d.resolved;
	} else if (strcmp(iface, BLUEZ_IF_DEVICE) == 0 && b->find != BLUEZ_FIND_NONE &&
		   bluez_is_device(b, path)) {
		/* A stranger's bad data is not our link's business: it is just not chosen. */
		if (bluez_props(m, bluez_device_prop, &d) == 0)
			bluez_discovered(b, path, &d);
	} else if (strcmp(iface, BLUEZ_IF_CHAR) == 0 && b->rep_path[0] != '\0' &&
		   strcmp(path, b->rep_path) == 0 && bluez_current(b, m)) {
		r = bluez_props(m, bluez_value_prop, b);
		if (r < 0) {
			log_debug("bluez: a bad notification on %s", path);
			b->broken = true;
		}
	} else if (strcmp(iface, BLUEZ_IF_CHAR) == 0 && b->req_path[0] != '\0' &&
		   strcmp(path, b->req_path) == 0 && bluez_current(b, m)) {
		if (bluez_props(m, bluez_mtu_prop, b) < 0)
			b->broken = true;
	}
}

static int bluez_added_iface(void *arg, const char *path, const char *iface, sd_bus_message *m)
{
	struct bluez *b = arg;
	struct bluez_device d;

	if (strcmp(iface, BLUEZ_IF_DEVICE) != 0 || !bluez_is_device(b, path))
		return 0;
	memset(&d, 0, sizeof(d));
	if (bluez_props(m, bluez_device_prop, &d) < 0)
		return -TRANSPORT_E_PROTO;
	bluez_discovered(b, path, &d);
	return 1;
}

/* InterfacesAdded(o path, a{sa{sv}} interfaces): only new devices matter. */
static void bluez_on_added(struct bluez *b, sd_bus_message *m)
{
	const char *path;

	if (b->find == BLUEZ_FIND_NONE || sd_bus_message_read_basic(m, 'o', &path) <= 0)
		return;
	if (bluez_interfaces(m, path, bluez_added_iface, b) < 0)
		log_debug("bluez: bad InterfacesAdded of %s", path);
}

struct bluez_removed {
	const char *want; /* the interface whose removal matters */
	bool hit;
};

static void bluez_removed_iface(void *arg, const char *iface)
{
	struct bluez_removed *rm = arg;

	if (strcmp(iface, rm->want) == 0)
		rm->hit = true;
}

/* InterfacesRemoved(o path, as interfaces): our device or characteristics going. */
static void bluez_on_removed(struct bluez *b, sd_bus_message *m)
{
	struct bluez_removed rm = { NULL, false };
	const char *path;

	if (sd_bus_message_read_basic(m, 'o', &path) <= 0)
		return;
	if (b->dev_path[0] != '\0' && strcmp(path, b->dev_path) == 0)
		rm.want = BLUEZ_IF_DEVICE;
	else if ((b->req_path[0] != '\0' && strcmp(path, b->req_path) == 0) ||
		 (b->rep_path[0] != '\0' && strcmp(path, b->rep_path) == 0))
		rm.want = BLUEZ_IF_CHAR;
	if (rm.want == NULL || !bluez_current(b, m))
		return;
	if (bluez_read_strings(m, bluez_removed_iface, &rm) < 0) {
		b->broken = true;
		return;
	}
	if (rm.hit) {
		log_debug("bluez: %s went away", path);
		b->lost = true;
	}
}

/* NameOwnerChanged(s name, s old, s new) of org.bluez: bluetoothd stopped or restarted. */
static void bluez_on_owner(struct bluez *b, sd_bus_message *m)
{
	const char *name, *old_owner, *new_owner;

	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
		return;
	if (strcmp(name, BLUEZ_NAME) == 0 && strcmp(old_owner, b->owner) == 0) {
		log_debug("bluez: %s left the bus", BLUEZ_NAME);
		b->lost = true;
	}
}

/* The one handler of every signal we match; sd-bus checked sender, path and interface. */
static int bluez_on_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct bluez *b = userdata;
	const char *member = sd_bus_message_get_member(m);

	(void)ret_error;
	if (member == NULL)
		return 0;
	if (strcmp(member, "PropertiesChanged") == 0)
		bluez_on_properties(b, m);
	else if (strcmp(member, "InterfacesAdded") == 0)
		bluez_on_added(b, m);
	else if (strcmp(member, "InterfacesRemoved") == 0)
		bluez_on_removed(b, m);
	else if (strcmp(member, "NameOwnerChanged") == 0)
		bluez_on_owner(b, m);
	return 0;
}

/*
 * Learns who org.bluez is and subscribes to its signals, so that everything a link hears
 * comes from bluetoothd itself and not from another peer on the bus. 0 or an error.
 */
static int bluez_watch(struct bluez *b, int64_t deadline)
{
	sd_bus_message *m = NULL, *reply = NULL;
	char rule[4][BLUEZ_MATCH_MAX];
	const char *owner;
	size_t i;
	int r;

	if (sd_bus_message_new_method_call(b->bus, &m, DBUS_NAME, DBUS_PATH, DBUS_NAME,
					   "GetNameOwner") < 0 ||
	    sd_bus_message_append(m, "s", BLUEZ_NAME) < 0) {
		sd_bus_message_unref(m);
		return -TRANSPORT_E_IO;
	}
	r = bluez_call(b, &m, deadline, &reply);
	if (r < 0)
		return r == -TRANSPORT_E_TIMEOUT ? r : -TRANSPORT_E_IO;
	r = sd_bus_message_read(reply, "s", &owner);
	if (r <= 0 || owner[0] != ':' || strlen(owner) >= sizeof(b->owner)) {
		sd_bus_message_unref(reply);
		return -TRANSPORT_E_PROTO;
	}
	snprintf(b->owner, sizeof(b->owner), "%s", owner);
	sd_bus_message_unref(reply);

	snprintf(rule[0], BLUEZ_MATCH_MAX,
		 "type='signal',sender='%s',interface='" DBUS_IF_PROPS "',"
		 "member='PropertiesChanged',path_namespace='%s'", b->owner, b->adapter_path);
	snprintf(rule[1], BLUEZ_MATCH_MAX,
		 "type='signal',sender='%s',interface='" DBUS_IF_OM "',member='InterfacesAdded',"
		 "path='/'", b->owner);
	snprintf(rule[2], BLUEZ_MATCH_MAX,
		 "type='signal',sender='%s',interface='" DBUS_IF_OM "',"
		 "member='InterfacesRemoved',path='/'", b->owner);
	snprintf(rule[3], BLUEZ_MATCH_MAX,
		 "type='signal',sender='" DBUS_NAME "',path='" DBUS_PATH "',interface='" DBUS_NAME
		 "',member='NameOwnerChanged',arg0='" BLUEZ_NAME "'");
	for (i = 0; i < 4; i++) {
		r = sd_bus_add_match(b->bus, &b->match[i], rule[i], bluez_on_signal, b);
		if (r < 0) {
			log_debug("bluez: AddMatch: %s", strerror(-r));
			return -TRANSPORT_E_IO;
		}
	}
	return 0;
}

/* ---- waiting on the bus ---- */

/*
 * Dispatches what sd-bus holds or can read without blocking; with `lazy`, only until a
 * notification is queued (recv and wait take one at a time). A dead bus connection
 * ends the link. 0 or -TRANSPORT_E_IO.
 */
static int bluez_pump(struct bluez *b, bool lazy)
{
	int r;

	do {
		if (lazy && b->count > 0)
			return 0;
		r = sd_bus_process(b->bus, NULL);
	} while (r > 0);
	if (r < 0) {
		log_debug("bluez: the bus connection failed: %s", strerror(-r));
		b->lost = true;
		return -TRANSPORT_E_IO;
	}
	return 0;
}

/*
 * Polls the bus (and wake_fd, unless -1) until one is readable or deadline (-1: none).
 * Returns 1 when the bus may have news, 2 when wake_fd is readable, 0 on time-out, or
 * -TRANSPORT_E_IO. sd-bus may already hold messages read earlier: pump before this.
 */
static int bluez_poll(struct bluez *b, int wake_fd, int64_t deadline)
{
	struct pollfd p[2];
	uint64_t until;
	int left, r, n = 1;

	p[0].fd = sd_bus_get_fd(b->bus);
	r = sd_bus_get_events(b->bus);
	if (p[0].fd < 0 || r < 0)
		return -TRANSPORT_E_IO;
	p[0].events = (short)r;
	p[0].revents = 0;
	if (wake_fd >= 0) {
		p[1].fd = wake_fd;
		p[1].events = POLLIN;
		p[1].revents = 0;
		n = 2;
	}
	left = bluez_left_ms(deadline);
	/* sd-bus's own time-outs (its authentication, pending async replies), if any. */
	if (sd_bus_get_timeout(b->bus, &until) > 0 && until != UINT64_MAX) {
		struct timespec ts;
		uint64_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
		r = until <= now ? 0 : (int)((until - now + 999) / 1000);
		if (left < 0 || r < left)
			left = r;
	}
	r = poll(p, (nfds_t)n, left);
	if (r < 0)
		return errno == EINTR ? 1 : -TRANSPORT_E_IO;
	if (n == 2 && p[1].revents != 0)
		return 2;
	return r > 0 || bluez_left_ms(deadline) != 0 ? 1 : 0;
}

/* Dispatches and waits until done(b) or deadline. 0, -TRANSPORT_E_TIMEOUT or -IO. */
static int bluez_wait_until(struct bluez *b, bool (*done)(const struct bluez *b),
			    int64_t deadline)
{
	int r;

	for (;;) {
		r = bluez_pump(b, false);
		if (r < 0)
			return r;
		if (done(b))
			return 0;
		if (bluez_left_ms(deadline) == 0)
			return -TRANSPORT_E_TIMEOUT; /* even while other traffic keeps coming */
		r = bluez_poll(b, -1, deadline);
		if (r < 0)
			return r;
		if (r == 0)
			return -TRANSPORT_E_TIMEOUT;
	}
}

/* ---- finding the device ---- */

static int bluez_device_known(void *arg, const char *path, const char *iface,
			      sd_bus_message *m)
{
	struct bluez *b = arg;

	(void)m;
	if (strcmp(iface, BLUEZ_IF_DEVICE) == 0 && strcmp(path, b->want) == 0)
		snprintf(b->found, sizeof(b->found), "%s", path);
	return 0;
}

/* Starts our discovery of LE devices advertising the lock service. */
static int bluez_discovery_start(struct bluez *b, int64_t deadline)
{
	sd_bus_message *m = NULL;
	int r;

	r = bluez_method(b, b->adapter_path, BLUEZ_IF_ADAPTER, "SetDiscoveryFilter", &m);
	if (r < 0)
		return r;
	if (sd_bus_message_open_container(m, 'a', "{sv}") < 0 ||
	    sd_bus_message_append(m, "{sv}", "UUIDs", "as", 1, BLUEZ_UUID_SERVICE) < 0 ||
	    sd_bus_message_append(m, "{sv}", "Transport", "s", "le") < 0 ||
	    sd_bus_message_close_container(m) < 0) {
		sd_bus_message_unref(m);
		return -TRANSPORT_E_IO;
	}
	r = bluez_call(b, &m, deadline, NULL);
	if (r < 0)
		return r;
	r = bluez_call0(b, b->adapter_path, BLUEZ_IF_ADAPTER, "StartDiscovery", deadline);
	if (r < 0)
		return r;
	b->discovering = true;
	log_debug("bluez: discovering on %s", b->adapter_path);
	return 0;
}

static void bluez_discovery_stop(struct bluez *b)
{
	if (b->discovering)
		bluez_send0(b, b->adapter_path, BLUEZ_IF_ADAPTER, "StopDiscovery");
	b->discovering = false;
	b->find = BLUEZ_FIND_NONE;
	b->npending = 0;
	b->nchecked = 0;
}

static bool bluez_found(const struct bluez *b)
{
	return b->found[0] != '\0' || b->npending > 0 || b->lost;
}

/* Reads the ServiceData of the devices seen without it. 0 or a negative error. */
static int bluez_check_pending(struct bluez *b, int64_t deadline)
{
	sd_bus_message *m = NULL, *reply = NULL;
	struct bluez_device d;
	char path[BLUEZ_PATH_MAX];
	int r;

	while (b->npending > 0 && b->found[0] == '\0') {
		snprintf(path, sizeof(path), "%s", b->pending[--b->npending]);
		if (b->nchecked < BLUEZ_CHECKED)
			snprintf(b->checked[b->nchecked++], BLUEZ_PATH_MAX, "%s", path);
		r = bluez_method(b, path, DBUS_IF_PROPS, "Get", &m);
		if (r < 0)
			return r;
		if (sd_bus_message_append(m, "ss", BLUEZ_IF_DEVICE, "ServiceData") < 0) {
			sd_bus_message_unref(m);
			return -TRANSPORT_E_IO;
		}
		r = bluez_call(b, &m, deadline, &reply);
		if (r == -TRANSPORT_E_TIMEOUT)
			return r;
		if (r < 0)
			continue; /* gone again, or no service data at all */
		memset(&d, 0, sizeof(d));
		if (bluez_service_data(reply, &d) == 0 && d.advertises && d.spot == b->spot) {
			snprintf(b->found, sizeof(b->found), "%s", path);
			log_debug("bluez: found %s", path);
		}
		reply = sd_bus_message_unref(reply);
	}
	return 0;
}

/*
 * Finds the device: a known object at b->want needs no discovery; otherwise discovers
 * until the device at b->want (BLUEZ_FIND_ADDRESS) or one advertising b->spot appears.
 * Leaves its path in b->found. 0, -TRANSPORT_E_NOTFOUND when nothing turned up in time,
 * -TRANSPORT_E_TIMEOUT when BlueZ did not answer a call in time, or another error.
 */
static int bluez_find(struct bluez *b, int64_t deadline)
{
	sd_bus_message *reply = NULL;
	int r;

	if (b->find == BLUEZ_FIND_ADDRESS) {
		r = bluez_managed_objects(b, deadline, &reply);
		if (r < 0)
			return r;
		r = bluez_objects(reply, bluez_device_known, b);
		sd_bus_message_unref(reply);
		if (r < 0)
			return r;
		if (b->found[0] != '\0') {
			b->find = BLUEZ_FIND_NONE;
			return 0;
		}
	}
	r = bluez_discovery_start(b, deadline);
	while (r == 0 && b->found[0] == '\0') {
		/* Time running out while we listen means nothing was there; a call that
		 * times out (below) means BlueZ itself did not answer. */
		r = bluez_wait_until(b, bluez_found, deadline);
		if (r == -TRANSPORT_E_TIMEOUT)
			r = -TRANSPORT_E_NOTFOUND;
		if (r == 0 && b->lost)
			r = -TRANSPORT_E_IO;
		if (r == 0)
			r = bluez_check_pending(b, deadline);
	}
	bluez_discovery_stop(b);
	return r;
}

/* ---- bringing the link up ---- */

struct bluez_gatt_scan {
	struct bluez *b;
	char service[BLUEZ_PATH_MAX]; /* the lock service under the device, "" until found */
	bool pass2;                   /* looking for characteristics of `service` */
	bool req_command, req_write, rep_notify;
	bool has_mtu;
	uint16_t mtu;
};

static int bluez_gatt_object(void *arg, const char *path, const char *iface, sd_bus_message *m)
{
	struct bluez_gatt_scan *s = arg;
	struct bluez *b = s->b;
	struct bluez_gatt g;
	int r;

	if (!bluez_is_below(path, b->dev_path) || !bluez_path_fits(path))
		return 0;
	if (strcmp(iface, s->pass2 ? BLUEZ_IF_CHAR : BLUEZ_IF_SERVICE) != 0)
		return 0;
	memset(&g, 0, sizeof(g));
	r = bluez_props(m, bluez_gatt_prop, &g);
	if (r < 0)
		return r;
	if (g.uuid == NULL || g.parent == NULL)
		return 1;
	if (!s->pass2) {
		if (s->service[0] == '\0' && strcasecmp(g.uuid, BLUEZ_UUID_SERVICE) == 0 &&
		    strcmp(g.parent, b->dev_path) == 0)
			snprintf(s->service, sizeof(s->service), "%s", path);
		return 1;
	}
	if (strcmp(g.parent, s->service) != 0)
		return 1;
	if (strcasecmp(g.uuid, BLUEZ_UUID_REQUEST) == 0 && b->req_path[0] == '\0') {
		snprintf(b->req_path, sizeof(b->req_path), "%s", path);
		s->req_command = g.write_command;
		s->req_write = g.write;
		s->has_mtu = g.has_mtu;
		s->mtu = g.mtu;
	} else if (strcasecmp(g.uuid, BLUEZ_UUID_REPLY) == 0 && b->rep_path[0] == '\0') {
		snprintf(b->rep_path, sizeof(b->rep_path), "%s", path);
		s->rep_notify = g.notify;
	}
	return 1;
}

/* Finds the lock service and its two characteristics under b->dev_path; reads the MTU. */
static int bluez_gatt_find(struct bluez *b, int64_t deadline)
{
	struct bluez_gatt_scan s;
	sd_bus_message *reply = NULL;
	int r;

	memset(&s, 0, sizeof(s));
	s.b = b;
	r = bluez_managed_objects(b, deadline, &reply);
	if (r < 0)
		return r;
	r = bluez_objects(reply, bluez_gatt_object, &s);
	if (r == 0 && s.service[0] != '\0') {
		s.pass2 = true;
		r = bluez_objects(reply, bluez_gatt_object, &s);
	}
	sd_bus_message_unref(reply);
	if (r < 0)
		return r;
	if (b->req_path[0] == '\0' || b->rep_path[0] == '\0' || !(s.req_command || s.req_write) ||
	    !s.rep_notify) {
		log_debug("bluez: %s has no usable lock service", b->dev_path);
		return -TRANSPORT_E_NOTFOUND;
	}
	b->write_command = s.req_command;
	b->mtu = PROTO_MTU_MIN; /* BlueZ before 5.62 has no MTU property */
	if (s.has_mtu) {
		r = bluez_mtu(s.mtu);
		if (r < 0)
			return r;
		b->mtu = (uint16_t)r;
	}
	log_debug("bluez: service %s, MTU %u", s.service, (unsigned)b->mtu);
	return 0;
}

/*
 * Reads Device1's Connected and ServicesResolved now, and notes the reply's serial: from
 * here on the link heeds only signals BlueZ sent after it (b->since).
 */
static int bluez_device_get(struct bluez *b, int64_t deadline)
{
	sd_bus_message *m = NULL, *reply = NULL;
	struct bluez_device d;
	int r;

	r = bluez_method(b, b->dev_path, DBUS_IF_PROPS, "GetAll", &m);
	if (r < 0)
		return r;
	if (sd_bus_message_append(m, "s", BLUEZ_IF_DEVICE) < 0) {
		sd_bus_message_unref(m);
		return -TRANSPORT_E_IO;
	}
	r = bluez_call(b, &m, deadline, &reply);
	if (r < 0)
		return r;
	memset(&d, 0, sizeof(d));
	r = bluez_props(reply, bluez_device_prop, &d);
	if (r == 0 && sd_bus_message_get_cookie(reply, &b->since) < 0)
		r = -TRANSPORT_E_PROTO;
	sd_bus_message_unref(reply);
	if (r < 0)
		return r;
	b->connected = d.connected;
	b->resolved = d.resolved;
	return 0;
}

static bool bluez_resolved(const struct bluez *b)
{
	return b->resolved || b->lost || b->broken;
}

/* Connects b->found, waits for its services, finds the characteristics, notifications on. */
static int bluez_link_up(struct bluez *b, int64_t deadline)
{
	sd_bus_message *m = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int left, r;

	snprintf(b->dev_path, sizeof(b->dev_path), "%s", b->found);
	log_debug("bluez: connecting %s", b->dev_path);
	r = bluez_method(b, b->dev_path, BLUEZ_IF_DEVICE, "Connect", &m);
	if (r < 0)
		return r;
	left = bluez_left_ms(deadline);
	if (left == 0) {
		sd_bus_message_unref(m);
		return -TRANSPORT_E_TIMEOUT;
	}
	b->connect_sent = true;
	r = sd_bus_call(b->bus, m, (uint64_t)left * 1000, &e, NULL);
	sd_bus_message_unref(m);
	if (r < 0 && !sd_bus_error_has_name(&e, "org.bluez.Error.AlreadyConnected")) {
		log_debug("bluez: Connect: %s", e.name != NULL ? e.name : strerror(-r));
		r = bluez_error(r, &e);
		sd_bus_error_free(&e);
		return r;
	}
	sd_bus_error_free(&e);
	r = bluez_device_get(b, deadline);
	if (r < 0)
		return r;
	if (!b->connected)
		return -TRANSPORT_E_CLOSED; /* gone again already */
	r = bluez_wait_until(b, bluez_resolved, deadline);
	if (r < 0)
		return r;
	if (b->broken)
		return -TRANSPORT_E_PROTO;
	if (b->lost || !b->connected)
		return -TRANSPORT_E_CLOSED;
	r = bluez_gatt_find(b, deadline);
	if (r < 0)
		return r;
	r = bluez_call0(b, b->rep_path, BLUEZ_IF_CHAR, "StartNotify", deadline);
	if (r < 0)
		return r;
	b->notifying = true;
	b->linked = true;
	log_debug("bluez: linked to %s", b->dev_path);
	return 0;
}

/* ---- the transport ---- */

static void bluez_disconnect(struct transport *t)
{
	struct bluez *b = (struct bluez *)t;
	size_t i;

	bluez_discovery_stop(b);
	if (b->notifying)
		bluez_send0(b, b->rep_path, BLUEZ_IF_CHAR, "StopNotify");
	if (b->connect_sent)
		bluez_send0(b, b->dev_path, BLUEZ_IF_DEVICE, "Disconnect");
	if (b->notifying || b->connect_sent)
		sd_bus_flush(b->bus);
	for (i = 0; i < sizeof(b->match) / sizeof(b->match[0]); i++)
		b->match[i] = sd_bus_slot_unref(b->match[i]);
	b->owner[0] = '\0';
	b->want[0] = '\0';
	b->found[0] = '\0';
	b->dev_path[0] = '\0';
	b->req_path[0] = '\0';
	b->rep_path[0] = '\0';
	b->connect_sent = false;
	b->connected = false;
	b->resolved = false;
	b->notifying = false;
	b->linked = false;
	b->lost = false;
	b->broken = false;
	b->since = 0;
	b->write_command = false;
	b->mtu = PROTO_MTU_MIN;
	bluez_ring_clear(b);
}

static int bluez_connect(struct transport *t, const char *address, uint32_t spot,
			 int timeout_ms)
{
	struct bluez *b = (struct bluez *)t;
	int64_t deadline = bluez_now_ms() + (timeout_ms < 0 ? BLUEZ_CONNECT_MS : timeout_ms);
	int r;

	bluez_disconnect(t);
	if (address != NULL && bluez_address_path(b, address, b->want) == 0) {
		b->find = BLUEZ_FIND_ADDRESS;
	} else {
		/* Not a BLE address (none, or a sim socket path): the lock by its spot. */
		b->find = BLUEZ_FIND_SPOT;
		b->spot = spot;
	}
	log_debug("bluez: connect %s spot %lu within %d ms",
		  b->find == BLUEZ_FIND_ADDRESS ? b->want : "by service UUID",
		  (unsigned long)spot, timeout_ms);
	r = bluez_watch(b, deadline);
	if (r == 0)
		r = bluez_find(b, deadline);
	if (r == 0)
		r = bluez_link_up(b, deadline);
	if (r < 0) {
		log_debug("bluez: connect failed (transport error %d)", -r);
		bluez_disconnect(t);
	}
	return r;
}

static int bluez_send(struct transport *t, const uint8_t *frag, size_t len)
{
	struct bluez *b = (struct bluez *)t;
	sd_bus_message *m = NULL;
	int r;

	if (len == 0 || len > FRAG_PAYLOAD_MAX)
		return -TRANSPORT_E_SPACE;
	if (!b->linked)
		return -TRANSPORT_E_CLOSED;
	/*
	 * Take in what came meanwhile (a new MTU; the link's end, which a sender that never
	 * reads must hear too; notifications, so that sd-bus's own queue stays bounded).
	 */
	bluez_pump(b, false);
	if (b->broken)
		return -TRANSPORT_E_PROTO;
	if (b->lost)
		return -TRANSPORT_E_CLOSED;
	if (len > (size_t)(b->mtu - PROTO_ATT_OVERHEAD))
		return -TRANSPORT_E_SPACE;
	r = bluez_method(b, b->req_path, BLUEZ_IF_CHAR, "WriteValue", &m);
	if (r < 0)
		return r;
	if (sd_bus_message_append_array(m, 'y', frag, len) < 0 ||
	    sd_bus_message_append(m, "a{sv}", 1, "type", "s",
				  b->write_command ? "command" : "request") < 0) {
		sd_bus_message_unref(m);
		return -TRANSPORT_E_IO;
	}
	r = bluez_call(b, &m, bluez_now_ms() + BLUEZ_CALL_MS, NULL);
	if (r == -TRANSPORT_E_CLOSED || r == -TRANSPORT_E_NOTFOUND) {
		b->lost = true;
		r = -TRANSPORT_E_CLOSED;
	}
	if (r == 0)
		log_debug("bluez: wrote %zu bytes", len);
	return r;
}

static int bluez_recv(struct transport *t, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct bluez *b = (struct bluez *)t;
	int64_t deadline = timeout_ms < 0 ? -1 : bluez_now_ms() + timeout_ms;
	struct bluez_fragment *f;
	int r;

	if (!b->linked)
		return -TRANSPORT_E_CLOSED;
	for (;;) {
		if (b->broken)
			return -TRANSPORT_E_PROTO;
		if (b->count > 0) {
			f = &b->ring[b->head];
			if (f->len > cap)
				return -TRANSPORT_E_SPACE; /* it stays queued */
			memcpy(buf, f->data, f->len);
			b->head = (b->head + 1) % BLUEZ_RING;
			b->count--;
			return f->len;
		}
		if (b->lost)
			return -TRANSPORT_E_CLOSED;
		if (bluez_pump(b, true) < 0)
			continue; /* lost now */
		if (b->count > 0 || b->broken)
			continue;
		if (bluez_left_ms(deadline) == 0)
			return 0;
		r = bluez_poll(b, -1, deadline);
		if (r < 0)
			return r;
		if (r == 0)
			return 0;
	}
}

static int bluez_wait(struct transport *t, int wake_fd, int timeout_ms)
{
	struct bluez *b = (struct bluez *)t;
	int64_t deadline = timeout_ms < 0 ? -1 : bluez_now_ms() + timeout_ms;
	int r;

	for (;;) {
		bluez_pump(b, true);
		if (!b->linked || b->count > 0 || b->lost || b->broken)
			return TRANSPORT_WAIT_READY;
		if (bluez_left_ms(deadline) == 0)
			return TRANSPORT_WAIT_TIMEOUT;
		r = bluez_poll(b, wake_fd, deadline);
		if (r < 0) {
			b->lost = true;
			return TRANSPORT_WAIT_READY;
		}
		if (r == 2)
			return TRANSPORT_WAIT_WOKEN;
		if (r == 0)
			return TRANSPORT_WAIT_TIMEOUT;
	}
}

static uint16_t bluez_link_mtu(struct transport *t)
{
	return ((struct bluez *)t)->mtu;
}

static void bluez_destroy(struct transport *t)
{
	struct bluez *b = (struct bluez *)t;

	if (b == NULL)
		return;
	if (b->bus != NULL) {
		bluez_disconnect(t);
		sd_bus_flush_close_unref(b->bus);
	}
	free(b);
}

static const struct transport_ops bluez_ops = {
	.name = "bluez",
	.connect = bluez_connect,
	.send = bluez_send,
	.recv = bluez_recv,
	.wait = bluez_wait,
	.link_mtu = bluez_link_mtu,
	.disconnect = bluez_disconnect,
	.destroy = bluez_destroy,
};

/* ---- opening ---- */

static int bluez_adapter_known(void *arg, const char *path, const char *iface,
			       sd_bus_message *m)
{
	struct bluez *b = arg;

	(void)m;
	if (strcmp(iface, BLUEZ_IF_ADAPTER) == 0 && strcmp(path, b->adapter_path) == 0)
		b->found[0] = 'y';
	return 0;
}

/* Whether org.bluez answers and has our adapter. 0, or an errno value. */
static int bluez_adapter_check(struct bluez *b)
{
	sd_bus_message *reply = NULL;
	int r;

	r = bluez_managed_objects(b, bluez_now_ms() + BLUEZ_OPEN_MS, &reply);
	if (r < 0)
		return r == -TRANSPORT_E_TIMEOUT ? ETIMEDOUT : EHOSTUNREACH;
	r = bluez_objects(reply, bluez_adapter_known, b);
	sd_bus_message_unref(reply);
	if (r < 0)
		return EPROTO;
	if (b->found[0] == '\0') {
		log_debug("bluez: no %s with %s", b->adapter_path, BLUEZ_IF_ADAPTER);
		return ENODEV;
	}
	b->found[0] = '\0';
	return 0;
}

static int bluez_open_bus(const char *address, sd_bus **out)
{
	sd_bus *bus = NULL;
	int r;

	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*out = bus;
	return 0;
}

struct transport *transport_bluez_new(const char *bus, const char *adapter)
{
	struct bluez *b;
	int r;

	if (adapter == NULL)
		adapter = "hci0";
	if (!bluez_adapter_ok(adapter)) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->base.ops = &bluez_ops;
	b->mtu = PROTO_MTU_MIN;
	snprintf(b->adapter_path, sizeof(b->adapter_path), "/org/bluez/%s", adapter);
	r = bus == NULL ? sd_bus_open_system(&b->bus) : bluez_open_bus(bus, &b->bus);
	if (r < 0) {
		log_debug("bluez: cannot reach the bus %s: %s", bus != NULL ? bus : "(system)",
			  strerror(-r));
		r = -r;
	} else {
		r = bluez_adapter_check(b);
	}
	if (r != 0) {
		bluez_destroy(&b->base);
		errno = r;
		return NULL;
	}
	log_debug("bluez: using %s", b->adapter_path);
	return &b->base;
}
