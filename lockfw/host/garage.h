/*
 * garage.h: the garage file of parklockd: which site, where the runtime files go, the
 * optional site public key for provisioning, and the locks with their spot IDs and names.
 *
 * Only parsing and checking; it opens nothing but the garage file and the site key file.
 * The format is documented in parklockd(8) and in assets/demo/garage.conf.
 */
#ifndef PARK_GARAGE_H
#define PARK_GARAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GARAGE_LOCKS_MAX 256
#define GARAGE_NAME_MAX 31   /* bytes of a lock name: letters, digits, '-', '_', '.' */
#define GARAGE_DIR_MAX 90    /* so that DIR/<spot>.sock fits a UNIX socket address */
#define GARAGE_LINE_MAX 1024 /* bytes of a line, newline included */
#define GARAGE_ERR_MAX 512   /* a buffer this big holds any error message */

struct garage_lock {
	uint32_t spot_id;                 /* > 0, unique in the garage */
	char name[GARAGE_NAME_MAX + 1];   /* unique in the garage, e.g. "B1-017" */
};

struct garage {
	uint32_t site_id;        /* > 0 */
	bool has_site_key;       /* a site-key line was given */
	uint8_t site_pub[64];    /* the site public key, X || Y, when has_site_key */
	char dir[GARAGE_DIR_MAX + 1]; /* runtime directory, relative to the working directory */
	size_t count;            /* 1..GARAGE_LOCKS_MAX */
	struct garage_lock locks[GARAGE_LOCKS_MAX];
};

/*
 * Reads and checks the garage file at `path` (and the site key file it names).
 * Returns 0 with *out filled, or -1 with "FILE:LINE: what is wrong" in err[0..errcap)
 * and *out untouched. Never exits, never prints.
 */
int garage_load(const char *path, struct garage *out, char *err, size_t errcap);

/* The lock with `spot_id`, or NULL. */
const struct garage_lock *garage_find(const struct garage *g, uint32_t spot_id);

/*
 * Strict decimal u32 for config files and commands: digits only, no sign, no leading
 * zero (except "0"), no overflow. Returns 0 or -1 leaving *out alone.
 */
int garage_parse_u32(const char *s, uint32_t *out);

#endif
