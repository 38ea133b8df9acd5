/*
 * revlist.c: the revocation lists a phone carries; see revlist.h. File format:
 * {"version":1,"sites":[{"site_id":1,"frame":"<hex MGMT REVOKE frame>"}]}.
 */
#include "revlist.h"

#include <errno.h>
#include <libintl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../lib/atomicfile.h"
#include "../lib/hex.h"

#define _(s) gettext(s)
#define REVLIST_FILE_MAX (64u * 1024)

/* The decoded REVOKE of frame[0..len): 0, or -1 when it is not a site-wide one. */
static int decode(const uint8_t *frame, size_t len, struct proto_msg *m,
		  union proto_mgmt_payload *p)
{
	if (len == 0 || len > PROTO_FRAME_MAX || proto_decode(frame, len, m) != 0 ||
	    m->type != PROTO_MGMT || m->u.mgmt.mtype != PROTO_MGMT_REVOKE ||
	    m->u.mgmt.target_spot != PROTO_TARGET_ALL ||
	    proto_mgmt_decode_payload(m->u.mgmt.mtype, m->u.mgmt.payload, m->u.mgmt.plen, p) != 0)
		return -1;
	return 0;
}

static struct revlist_site *find(struct revlist *r, uint32_t site_id)
{
	size_t i;

	for (i = 0; i < r->nsites; i++)
		if (r->sites[i].site_id == site_id)
			return &r->sites[i];
	return NULL;
}

int revlist_put(struct revlist *r, uint32_t site_id, const uint8_t *frame, size_t len)
{
	union proto_mgmt_payload p;
	struct revlist_site *s;
	struct proto_msg m;

	if (decode(frame, len, &m, &p) != 0)
		return -1;
	s = find(r, site_id);
	if (s != NULL && m.u.mgmt.seq <= s->serial)
		return 0;
	if (s == NULL) {
		if (r->nsites == REVLIST_SITES_MAX)
			return -1;
		s = &r->sites[r->nsites++];
		s->site_id = site_id;
	}
	s->serial = m.u.mgmt.seq;
	s->len = len;
	memcpy(s->frame, frame, len);
	return 1;
}

const struct revlist_site *revlist_due(const struct revlist *r, uint32_t site_id, uint32_t spot)
{
	const struct revlist_site *s = find((struct revlist *)(uintptr_t)r, site_id);
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < r->ngiven; i++)
		if (r->given_spot[i] == spot)
			return r->given_serial[i] >= s->serial ? NULL : s;
	return s;
}

void revlist_given(struct revlist *r, uint32_t spot, uint32_t serial)
{
	size_t i;

	for (i = 0; i < r->ngiven; i++)
		if (r->given_spot[i] == spot) {
			if (serial > r->given_serial[i])
				r->given_serial[i] = serial;
			return;
		}
	if (r->ngiven == REVLIST_LOCKS_MAX) { /* forget the oldest: it is handed once more */
		r->ngiven--;
		memmove(r->given_spot, r->given_spot + 1, r->ngiven * sizeof(r->given_spot[0]));
		memmove(r->given_serial, r->given_serial + 1,
			r->ngiven * sizeof(r->given_serial[0]));
	}
	r->given_spot[r->ngiven] = spot;
	r->given_serial[r->ngiven++] = serial;
}

bool revlist_names(const struct revlist *r, uint32_t site_id, uint32_t id)
{
	const struct revlist_site *s = find((struct revlist *)(uintptr_t)r, site_id);
	union proto_mgmt_payload p;
	struct proto_msg m;
	unsigned i;

	if (s == NULL || decode(s->frame, s->len, &m, &p) != 0)
		return false;
	for (i = 0; i < p.revoke.count; i++)
		if (p.revoke.key_ids[i] == id)
			return true;
	return false;
}

static int load_site(struct revlist *r, json_object *o)
{
	uint8_t frame[PROTO_FRAME_MAX];
	json_object *site, *hex;
	int n;

	if (!json_object_object_get_ex(o, "site_id", &site) ||
	    !json_object_is_type(site, json_type_int) ||
	    !json_object_object_get_ex(o, "frame", &hex) ||
	    !json_object_is_type(hex, json_type_string))
		return -1;
	n = hex_decode(json_object_get_string(hex), frame, sizeof(frame));
	if (n <= 0 || json_object_get_int64(site) < 1 || json_object_get_int64(site) > UINT32_MAX)
		return -1;
	return revlist_put(r, (uint32_t)json_object_get_int64(site), frame, (size_t)n) == 1 ? 0 : -1;
}

int revlist_load(struct revlist *r, const char *path, char *err, size_t errlen)
{
	char *buf = malloc(REVLIST_FILE_MAX);
	json_object *root = NULL, *sites;
	long len;
	size_t i, n;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (buf == NULL)
		return -1;
	len = atomicfile_read(path, (uint8_t *)buf, REVLIST_FILE_MAX);
	if (len < 0 && errno == ENOENT) {
		free(buf);
		return 0;
	}
	if (len >= 0)
		root = json_tokener_parse(buf);
	if (root != NULL && json_object_object_get_ex(root, "sites", &sites) &&
	    json_object_is_type(sites, json_type_array)) {
		n = json_object_array_length(sites);
		for (rc = 0, i = 0; i < n && rc == 0; i++)
			rc = load_site(r, json_object_array_get_idx(sites, i));
	}
	if (rc != 0) {
		memset(r, 0, sizeof(*r));
		snprintf(err, errlen, _("%s is not a revocation list file"), path);
	}
	json_object_put(root);
	free(buf);
	return rc;
}

int revlist_save(const struct revlist *r, const char *path)
{
	json_object *root = json_object_new_object(), *sites = json_object_new_array(), *o;
	char hex[2 * PROTO_FRAME_MAX + 1];
	const char *text;
	size_t i;
	int rc;

	json_object_object_add(root, "version", json_object_new_int(1));
	for (i = 0; i < r->nsites; i++) {
		o = json_object_new_object();
		hex_encode(r->sites[i].frame, r->sites[i].len, hex, sizeof(hex));
		json_object_object_add(o, "site_id", json_object_new_int64(r->sites[i].site_id));
		json_object_object_add(o, "serial", json_object_new_int64(r->sites[i].serial));
		json_object_object_add(o, "frame", json_object_new_string(hex));
		json_object_array_add(sites, o);
	}
	json_object_object_add(root, "sites", sites);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	rc = atomicfile_write(path, (const uint8_t *)text, strlen(text), 0600);
	json_object_put(root);
	return rc;
}
