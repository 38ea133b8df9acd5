/*
 * phoned.c: the phone daemon's state; see phoned.h. Files in the data directory:
 * device.key (PKCS#8 PEM, 0600), device.pub (hex), session.json (0600), keys.json
 * (0600), maps/ (cached spot maps). Every file is written whole and atomically.
 */
#include "phoned.h"

#include <errno.h>
#include <libintl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../lib/atomicfile.h"
#include "../lib/log.h"
#include "../lib/p256.h"
#include "ctlproto.h"

#define _(s) gettext(s)

uint32_t phoned_now(void)
{
	return (uint32_t)time(NULL);
}

static int load_device_key(struct phoned *d, char *err, size_t errlen)
{
	char path[PHONE_PATH_MAX], pub[PHONE_PATH_MAX];

	if (phone_path_join(path, sizeof(path), d->cfg.paths.data_dir, "device.key") != 0 ||
	    phone_path_join(pub, sizeof(pub), d->cfg.paths.data_dir, "device.pub") != 0) {
		snprintf(err, errlen, _("the data directory's path is too long"));
		return -1;
	}
	if (access(path, F_OK) == 0) {
		d->device = p256_load_private(path);
		if (d->device == NULL) {
			snprintf(err, errlen, _("%s is not a P-256 private key: move it away to "
						"make a new device key (keys bound to the old "
						"one stop working)"), path);
			return -1;
		}
	} else {
		d->device = p256_generate();
		if (d->device == NULL || p256_save_private(d->device, path) != 0) {
			snprintf(err, errlen, _("cannot make the device key %s: %s"), path,
				 strerror(errno));
			return -1;
		}
		log_info("made a new device key in %s", path);
	}
	if (p256_public_raw(d->device, d->device_pub) != 0 ||
	    p256_save_public_hex(d->device_pub, pub) != 0) {
		snprintf(err, errlen, _("cannot write %s: %s"), pub, strerror(errno));
		return -1;
	}
	return 0;
}

static int session_path(const struct phoned *d, char *path, size_t cap)
{
	return phone_path_join(path, cap, d->cfg.paths.data_dir, "session.json");
}

static void load_session(struct phoned *d)
{
	char path[PHONE_PATH_MAX], buf[1024];
	json_object *o = NULL, *v;
	const char *s;

	memset(&d->session, 0, sizeof(d->session));
	if (session_path(d, path, sizeof(path)) != 0 ||
	    atomicfile_read(path, (uint8_t *)buf, sizeof(buf)) < 0)
		return;
	o = json_tokener_parse(buf);
	if (o == NULL || !json_object_object_get_ex(o, "token", &v) ||
	    (s = json_object_get_string(v)) == NULL || strlen(s) >= sizeof(d->session.token)) {
		log_warn("%s is not a session file; log in again", path);
		json_object_put(o);
		return;
	}
	strcpy(d->session.token, s);
	if (json_object_object_get_ex(o, "phone", &v) && (s = json_object_get_string(v)) != NULL)
		snprintf(d->session.phone, sizeof(d->session.phone), "%s", s);
	if (json_object_object_get_ex(o, "user_id", &v))
		d->session.user_id = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "expires_at", &v))
		d->session.expires_at = json_object_get_int64(v);
	json_object_put(o);
}

/* A corrupt keys file is kept aside for a person to look at; the server has the keys. */
static void load_keys(struct phoned *d)
{
	char err[512], aside[PHONE_PATH_MAX + 32];

	if (keyring_load(d->keys, d->keys_path, d->device_pub, err, sizeof(err)) == 0)
		return;
	snprintf(aside, sizeof(aside), "%s.corrupt-%ld", d->keys_path, (long)time(NULL));
	if (rename(d->keys_path, aside) == 0)
		log_error("%s; kept as %s: run 'parkctl keys' to fetch the keys again from the "
			  "server", err, aside);
	else
		log_error("%s; run 'parkctl keys' to fetch the keys again", err);
}

/* A corrupt file is dropped: the server gives the lists again at the next sync. */
static void load_revocations(struct phoned *d)
{
	char err[512];

	if (revlist_load(d->revs, d->revs_path, err, sizeof(err)) != 0)
		log_error("%s; the lists come again from the server with 'parkctl keys'", err);
}

int phoned_open(struct phoned *d, const struct phoned_config *cfg, char *err, size_t errlen)
{
	char maps[PHONE_PATH_MAX];

	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	d->listen_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->radio, NULL);
	d->keys = calloc(1, sizeof(*d->keys));
	d->revs = calloc(1, sizeof(*d->revs));
	if (d->keys == NULL || d->revs == NULL) {
		snprintf(err, errlen, _("out of memory"));
		return -1;
	}
	if (phone_mkdirs(cfg->paths.data_dir) != 0 ||
	    phone_path_join(maps, sizeof(maps), cfg->paths.data_dir, "maps") != 0 ||
	    phone_mkdirs(maps) != 0) {
		snprintf(err, errlen, _("cannot make the data directory %s: %s"),
			 cfg->paths.data_dir, strerror(errno));
		return -1;
	}
	if (load_device_key(d, err, errlen) != 0)
		return -1;
	if (phone_path_join(d->keys_path, sizeof(d->keys_path), cfg->paths.data_dir,
			    "keys.json") != 0 ||
	    phone_path_join(d->revs_path, sizeof(d->revs_path), cfg->paths.data_dir,
			    "revocations.json") != 0) {
		snprintf(err, errlen, _("the data directory's path is too long"));
		return -1;
	}
	load_session(d);
	load_keys(d);
	load_revocations(d);
	return 0;
}

void phoned_close(struct phoned *d)
{
	unsigned i;

	for (i = 0; i < d->npool; i++)
		apiclient_free(d->pool[i]);
	for (i = 0; i < PHONED_EVENTS_KEPT; i++)
		free(d->events[i]);
	transport_free(d->transport);
	EVP_PKEY_free(d->device);
	free(d->keys);
	free(d->revs);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->radio);
}

static struct apiclient *new_client(struct phoned *d, const atomic_int *cancel)
{
	struct apiclient_opts o;

	memset(&o, 0, sizeof(o));
	o.base_url = d->cfg.server;
	o.ca_file = d->cfg.ca_file[0] != '\0' ? d->cfg.ca_file : NULL;
	o.timeout_ms = d->cfg.http_timeout_ms;
	o.connect_timeout_ms = 3000;
	o.retries = 2;
	o.cancel = cancel;
	return apiclient_new(&o);
}

/* Gives c the session's token. c, or NULL (c freed) when that fails. */
static struct apiclient *with_token(struct phoned *d, struct apiclient *c)
{
	char token[PHONED_TOKEN_MAX];
	int r;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&d->lock);
	memcpy(token, d->session.token, sizeof(token));
	pthread_mutex_unlock(&d->lock);
	r = apiclient_set_token(c, token[0] != '\0' ? token : NULL);
	OPENSSL_cleanse(token, sizeof(token));
	if (r != 0) {
		apiclient_free(c);
		return NULL;
	}
	return c;
}

struct apiclient *phoned_api_take(struct phoned *d)
{
	struct apiclient *c = NULL;

	pthread_mutex_lock(&d->lock);
	if (d->npool > 0)
		c = d->pool[--d->npool];
	pthread_mutex_unlock(&d->lock);
	return with_token(d, c != NULL ? c : new_client(d, &d->stopping));
}

struct apiclient *phoned_follow_client(struct phoned *d)
{
	return with_token(d, new_client(d, &d->follow_cancel));
}

void phoned_api_give(struct phoned *d, struct apiclient *c)
{
	pthread_mutex_lock(&d->lock);
	if (d->npool < PHONED_API_POOL) {
		d->pool[d->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&d->lock);
	apiclient_free(c);
}

/* The control reply for a failed API call. */
static json_object *api_failure(struct phoned *d, int r, const struct apiclient_error *e)
{
	struct phoned_session none;

	if (r == -APICLIENT_E_NET)
		return ctl_error("server_down", _("the key server %s does not answer (%s); try "
						  "again later"), d->cfg.server, e->detail);
	if (r != -APICLIENT_E_HTTP)
		return ctl_error("server_error", _("the key server's answer was not understood: "
						   "%s"), e->detail);
	/* Only a session the server no longer knows ends it: a wrong one-time code does not. */
	if (e->status == 401 && strcmp(e->code, "unauthenticated") == 0) {
		memset(&none, 0, sizeof(none));
		(void)phoned_session_set(d, &none);
		return ctl_error("no_session", _("the session has ended: log in with 'parkctl "
						 "login PHONE'"));
	}
	return ctl_error(e->code[0] != '\0' ? e->code : "server_error", "%s", e->detail);
}

json_object *phoned_api_call(struct phoned *d, const char *method, const char *path,
			     json_object *body, unsigned flags, json_object **errout)
{
	struct apiclient_error e;
	struct apiclient *c = phoned_api_take(d);
	json_object *reply = NULL;
	int r;

	*errout = NULL;
	if (c == NULL) {
		*errout = ctl_error("internal", _("cannot make an HTTP client for %s"),
				    d->cfg.server);
		return NULL;
	}
	memset(&e, 0, sizeof(e));
	r = apiclient_call(c, method, path, body, flags, 0, &reply, &e);
	phoned_api_give(d, c);
	if (r < 0) {
		*errout = api_failure(d, r, &e);
		return NULL;
	}
	return reply != NULL ? reply : json_object_new_object();
}

bool phoned_session_get(struct phoned *d, struct phoned_session *s)
{
	bool held;

	pthread_mutex_lock(&d->lock);
	held = d->session.token[0] != '\0';
	if (s != NULL)
		*s = d->session;
	pthread_mutex_unlock(&d->lock);
	return held;
}

static int session_write(const struct phoned *d, const struct phoned_session *s)
{
	char path[PHONE_PATH_MAX];
	json_object *o;
	const char *text;
	int r;

	if (session_path(d, path, sizeof(path)) != 0)
		return -1;
	if (s->token[0] == '\0')
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(s->token));
	json_object_object_add(o, "phone", json_object_new_string(s->phone));
	json_object_object_add(o, "user_id", json_object_new_int64(s->user_id));
	json_object_object_add(o, "expires_at", json_object_new_int64(s->expires_at));
	text = json_object_to_json_string(o);
	r = atomicfile_write(path, (const uint8_t *)text, strlen(text), 0600);
	json_object_put(o);
	return r;
}

int phoned_session_set(struct phoned *d, const struct phoned_session *s)
{
	unsigned i;
	int r;

	pthread_mutex_lock(&d->lock);
	r = session_write(d, s);
	if (r == 0) {
		d->session = *s;
		d->session_gen++;
		/* Pooled clients carry the old token: they get the new one when taken. */
		for (i = 0; i < d->npool; i++)
			(void)apiclient_set_token(d->pool[i], s->token[0] ? s->token : NULL);
	}
	pthread_mutex_unlock(&d->lock);
	atomic_store(&d->follow_cancel, 1); /* the stream follows the new session */
	return r;
}

int phoned_keys_put(struct phoned *d, const struct phone_key *k)
{
	int r;

	pthread_mutex_lock(&d->lock);
	r = keyring_put(d->keys, k);
	if (r == 0)
		r = keyring_save(d->keys, d->keys_path);
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* Changes key_id's entry (used += uses; delivered when set) and writes the file. */
static void keys_note(struct phoned *d, uint32_t key_id, uint32_t uses, bool delivered)
{
	struct phone_key *k;

	pthread_mutex_lock(&d->lock);
	k = keyring_find(d->keys, key_id);
	if (k != NULL) {
		k->used += uses;
		k->delivered = k->delivered || delivered;
		if (keyring_save(d->keys, d->keys_path) != 0)
			log_error("cannot write %s: %s", d->keys_path, strerror(errno));
	}
	pthread_mutex_unlock(&d->lock);
}

/* Drops every key of site_id that its list names. Call with d->lock held. */
static void drop_revoked(struct phoned *d, uint32_t site_id)
{
	size_t i = 0;

	while (i < d->keys->count) {
		struct phone_key *k = &d->keys->keys[i];

		if (k->site_id == site_id &&
		    (revlist_names(d->revs, site_id, k->ekey.key_id) ||
		     (k->shared && revlist_names(d->revs, site_id, k->skey.parent_key_id)))) {
			log_info("key %u is revoked; dropped", (unsigned)k->ekey.key_id);
			(void)keyring_remove(d->keys, k->ekey.key_id);
			continue;
		}
		i++;
	}
}

int phoned_revocations_put(struct phoned *d, uint32_t site_id, const uint8_t *frame,
			   size_t len)
{
	int r;

	pthread_mutex_lock(&d->lock);
	r = revlist_put(d->revs, site_id, frame, len);
	if (r == 1) {
		if (revlist_save(d->revs, d->revs_path) != 0)
			log_error("cannot write %s: %s", d->revs_path, strerror(errno));
		drop_revoked(d, site_id);
		if (keyring_save(d->keys, d->keys_path) != 0)
			log_error("cannot write %s: %s", d->keys_path, strerror(errno));
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

void phoned_keys_drop(struct phoned *d, uint32_t key_id)
{
	pthread_mutex_lock(&d->lock);
	if (keyring_remove(d->keys, key_id) == 0 && keyring_save(d->keys, d->keys_path) != 0)
		log_error("cannot write %s: %s", d->keys_path, strerror(errno));
	pthread_mutex_unlock(&d->lock);
}

void phoned_keys_used(struct phoned *d, uint32_t key_id)
{
	keys_note(d, key_id, 1, false);
}

void phoned_keys_delivered(struct phoned *d, uint32_t key_id)
{
	keys_note(d, key_id, 0, true);
}

void phoned_publish(struct phoned *d, const char *kind, json_object *event)
{
	json_object *line = json_object_new_object();
	unsigned i, slot;
	char *text;

	json_object_object_add(line, "kind", json_object_new_string(kind));
	json_object_object_add(line, "event", json_object_get(event));
	text = strdup(json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN));
	pthread_mutex_lock(&d->lock);
	if (text != NULL) {
		slot = (d->ev_head + d->ev_count) % PHONED_EVENTS_KEPT;
		if (d->ev_count == PHONED_EVENTS_KEPT) {
			d->ev_head = (d->ev_head + 1) % PHONED_EVENTS_KEPT;
			d->ev_count--;
		}
		free(d->events[slot]);
		d->events[slot] = text;
		d->ev_count++;
	}
	/* A subscriber that cannot take a line at once is too slow: it is cut off. */
	for (i = 0; i < d->nsubscribers;) {
		if (ctl_write_nowait(d->subscribers[i], line) == 0) {
			i++;
			continue;
		}
		shutdown(d->subscribers[i], SHUT_RDWR);
		d->subscribers[i] = d->subscribers[--d->nsubscribers];
	}
	pthread_mutex_unlock(&d->lock);
	json_object_put(line);
}

int phoned_subscribe(struct phoned *d, int fd)
{
	int r = -1;

	pthread_mutex_lock(&d->lock);
	if (d->nsubscribers < PHONED_SUBSCRIBERS_MAX) {
		d->subscribers[d->nsubscribers++] = fd;
		r = 0;
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

void phoned_unsubscribe(struct phoned *d, int fd)
{
	unsigned i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nsubscribers; i++)
		if (d->subscribers[i] == fd) {
			d->subscribers[i] = d->subscribers[--d->nsubscribers];
			break;
		}
	pthread_mutex_unlock(&d->lock);
}

json_object *phoned_recent_events(struct phoned *d)
{
	json_object *arr = json_object_new_array(), *o;
	unsigned i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->ev_count; i++) {
		o = json_tokener_parse(d->events[(d->ev_head + i) % PHONED_EVENTS_KEPT]);
		if (o != NULL)
			json_object_array_add(arr, o);
	}
	pthread_mutex_unlock(&d->lock);
	return arr;
}

struct transport *phoned_transport(struct phoned *d)
{
	struct transport_config tc;

	if (d->transport != NULL)
		return d->transport;
	memset(&tc, 0, sizeof(tc));
	tc.kind = d->cfg.transport[0] != '\0' ? d->cfg.transport : "sim";
	tc.bus = d->cfg.bus[0] != '\0' ? d->cfg.bus : NULL;
	tc.adapter = d->cfg.adapter[0] != '\0' ? d->cfg.adapter : NULL;
	d->transport = transport_new(&tc);
	if (d->transport == NULL)
		log_error("cannot open the %s transport: %s", tc.kind, strerror(errno));
	return d->transport;
}

void phoned_transport_reset(struct phoned *d)
{
	transport_free(d->transport);
	d->transport = NULL;
}
