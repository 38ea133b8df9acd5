/*
 * garage.c: the garage file parser; see garage.h. Line-based: a keyword and its fields
 * separated by blanks, '#' starting a comment. Keywords are rows of a table. The whole
 * file is checked into a private copy before the caller's struct is touched, so a bad
 * file changes nothing. It does not create the runtime directory; the simulator does.
 */
#include "garage.h"

#include <errno.h>
#include <libintl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../lib/p256.h"

#define _(s) gettext(s)

#define GARAGE_FIELDS_MAX 4 /* keyword and up to two fields, plus one to catch extras */
#define GARAGE_FILE_MAX (1 << 20)

struct parse {
	const char *file;
	unsigned line;
	char *err;
	size_t errcap;
	struct garage *g;
	unsigned site_line; /* where each single-use keyword was seen; 0 = not yet */
	unsigned key_line;
	unsigned dir_line;
};

typedef int (*garage_key_fn)(struct parse *p, char **field);

struct garage_key {
	const char *name;
	unsigned nfields; /* fields after the keyword */
	garage_key_fn fn;
	const char *usage;
};

static int fail(struct parse *p, const char *fmt, ...) LOG_PRINTF(2, 3);

static int fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->errcap, "%s:%u: ", p->file, p->line);
	if (n < 0 || (size_t)n >= p->errcap)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errcap - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

int garage_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static bool name_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

static int parse_id(struct parse *p, const char *s, const char *what, uint32_t *out)
{
	if (garage_parse_u32(s, out) != 0 || *out == 0)
		return fail(p, _("%s must be a whole number from 1 to 4294967295"), what);
	return 0;
}

static int once(struct parse *p, unsigned *seen, const char *keyword)
{
	if (*seen != 0)
		return fail(p, _("second '%s' line (the first is on line %u); keep one"), keyword,
			    *seen);
	*seen = p->line;
	return 0;
}

static int key_site(struct parse *p, char **field)
{
	if (once(p, &p->site_line, "site") != 0)
		return -1;
	return parse_id(p, field[0], _("the site ID"), &p->g->site_id);
}

static int key_site_key(struct parse *p, char **field)
{
	if (once(p, &p->key_line, "site-key") != 0)
		return -1;
	if (p256_load_public_hex(field[0], p->g->site_pub) != 0)
		return fail(p, _("cannot read the site public key from %s: it must exist and "
				 "hold one line of 128 hex digits (a P-256 point X || Y)"),
			    field[0]);
	p->g->has_site_key = true;
	return 0;
}

static int key_dir(struct parse *p, char **field)
{
	if (once(p, &p->dir_line, "dir") != 0)
		return -1;
	if (strlen(field[0]) > GARAGE_DIR_MAX)
		return fail(p, _("the directory path is longer than %d bytes, too long for the "
				 "UNIX sockets inside it; choose a shorter one"), GARAGE_DIR_MAX);
	strcpy(p->g->dir, field[0]);
	return 0;
}

static int check_name(struct parse *p, const char *name)
{
	size_t i, len = strlen(name);

	if (len > GARAGE_NAME_MAX)
		return fail(p, _("the lock name is longer than %d bytes"), GARAGE_NAME_MAX);
	for (i = 0; i < len; i++)
		if (!name_char_ok(name[i]))
			return fail(p, _("a lock name may hold only letters, digits, '-', '_' "
					 "and '.'"));
	return 0;
}

static int key_lock(struct parse *p, char **field)
{
	struct garage *g = p->g;
	struct garage_lock *l;
	size_t i;
	uint32_t spot;

	if (parse_id(p, field[0], _("the spot ID"), &spot) != 0 || check_name(p, field[1]) != 0)
		return -1;
	if (g->count == GARAGE_LOCKS_MAX)
		return fail(p, _("more than %d locks; split the garage over several files"),
			    GARAGE_LOCKS_MAX);
	for (i = 0; i < g->count; i++) {
		if (g->locks[i].spot_id == spot)
			return fail(p, _("spot %u is listed twice"), (unsigned)spot);
		if (strcmp(g->locks[i].name, field[1]) == 0)
			return fail(p, _("the name %s is used twice"), field[1]);
	}
	l = &g->locks[g->count++];
	l->spot_id = spot;
	strcpy(l->name, field[1]);
	return 0;
}

static const struct garage_key garage_keys[] = {
	{ "site", 1, key_site, "site ID" },
	{ "site-key", 1, key_site_key, "site-key FILE" },
	{ "dir", 1, key_dir, "dir PATH" },
	{ "lock", 2, key_lock, "lock SPOT_ID NAME" },
};
#define GARAGE_KEYS (sizeof(garage_keys) / sizeof(garage_keys[0]))

/* Splits at blanks, stopping at a '#' that starts a field. Returns the field count. */
static size_t split(char *s, char **field)
{
	size_t n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s == '\0' || *s == '#' || n == GARAGE_FIELDS_MAX)
			return n;
		field[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
}

static int parse_line(struct parse *p, char *line)
{
	char *field[GARAGE_FIELDS_MAX];
	size_t n = split(line, field), i;

	if (n == 0)
		return 0;
	for (i = 0; i < GARAGE_KEYS; i++) {
		if (strcmp(field[0], garage_keys[i].name) != 0)
			continue;
		if (n - 1 != garage_keys[i].nfields)
			return fail(p, _("expected '%s'"), garage_keys[i].usage);
		return garage_keys[i].fn(p, field + 1);
	}
	return fail(p, _("unknown keyword; a line is one of 'site ID', 'site-key FILE', "
			 "'dir PATH', 'lock SPOT_ID NAME' or a '#' comment"));
}

/*
 * Reads the whole file into a NUL-terminated heap buffer. A file is small (256 locks take
 * some 10 KiB), so anything beyond GARAGE_FILE_MAX is refused rather than read.
 */
static char *read_file(struct parse *p, FILE *f, size_t *len)
{
	char *buf = malloc(GARAGE_FILE_MAX + 1);
	size_t n;

	if (buf == NULL) {
		fail(p, _("out of memory"));
		return NULL;
	}
	n = fread(buf, 1, GARAGE_FILE_MAX + 1, f);
	if (ferror(f) || n > GARAGE_FILE_MAX) {
		if (ferror(f))
			fail(p, _("read error: %s"), strerror(errno));
		else
			fail(p, _("the file is larger than %d bytes"), GARAGE_FILE_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Checks and parses each line of text[0..len) in turn. */
static int parse_text(struct parse *p, char *text, size_t len)
{
	char *line = text, *end = text + len, *nl;
	size_t n;

	while (line < end) {
		p->line++;
		nl = memchr(line, '\n', (size_t)(end - line));
		n = nl != NULL ? (size_t)(nl - line) : (size_t)(end - line);
		if (n > GARAGE_LINE_MAX - 1)
			return fail(p, _("line longer than %d bytes"), GARAGE_LINE_MAX - 1);
		if (memchr(line, '\0', n) != NULL)
			return fail(p, _("NUL byte in the line; this must be a text file"));
		line[n] = '\0';
		if (parse_line(p, line) != 0)
			return -1;
		line += n + 1;
	}
	return 0;
}

static int check_complete(struct parse *p)
{
	if (p->site_line == 0)
		return fail(p, _("the file ends without a 'site ID' line"));
	if (p->dir_line == 0)
		return fail(p, _("the file ends without a 'dir PATH' line"));
	if (p->g->count == 0)
		return fail(p, _("the file ends without a 'lock SPOT_ID NAME' line"));
	return 0;
}

int garage_load(const char *path, struct garage *out, char *err, size_t errcap)
{
	struct parse p = { path, 0, err, errcap, NULL, 0, 0, 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = NULL;
	int r = -1;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errcap, _("%s: cannot open the garage file: %s"), path,
			 strerror(errno));
		goto out;
	}
	p.g = calloc(1, sizeof(*p.g));
	if (p.g == NULL) {
		fail(&p, _("out of memory"));
		goto out;
	}
	text = read_file(&p, f, &len);
	if (text == NULL || parse_text(&p, text, len) != 0 || check_complete(&p) != 0)
		goto out;
	*out = *p.g;
	r = 0;
out:
	if (f != NULL)
		fclose(f);
	free(text);
	free(p.g);
	return r;
}

const struct garage_lock *garage_find(const struct garage *g, uint32_t spot_id)
{
	size_t i;

	for (i = 0; i < g->count; i++)
		if (g->locks[i].spot_id == spot_id)
			return &g->locks[i];
	return NULL;
}
