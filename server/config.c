/*
 * config.c: the table of parkd's options (name, type, default, help) and everything
 * driven by it: defaults, the `name = value` file, command-line overrides, and the
 * --help-config listing. It checks each value's form; whether a file exists or a port
 * is free is found out when the server starts.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libintl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define _(s) gettext(s)
#define N_(s) s

#define CONFIG_LINE_MAX 2048

enum config_type {
	CONFIG_STRING,
	CONFIG_INT,
	CONFIG_LEVEL,
	CONFIG_COST,
};

/* Checks a string value's form: NULL when fine, else what is wrong (static, untranslated
 * until printed). */
typedef const char *(*config_check_fn)(const char *value);

struct config_option {
	const char *name;
	enum config_type type;
	size_t offset;         /* of the field in struct config */
	size_t size;           /* strings: the field's size, NUL included */
	int64_t lo, hi;        /* integers: the accepted range */
	config_check_fn check; /* strings: the form, or NULL for any */
	const char *def;       /* the default, as the file would say it */
	const char *help;
};

static const struct config_password_cost config_costs[] = {
	{ "interactive", 3, 65536, 1 },
	{ "moderate", 4, 262144, 1 },
	/* Fast and weak: for tests only, never for real passwords. */
	{ "test", 1, 64, 1 },
};
#define CONFIG_COSTS (sizeof(config_costs) / sizeof(config_costs[0]))

static const char *check_nonempty(const char *v)
{
	return v[0] == '\0' ? N_("must not be empty") : NULL;
}

static const char *check_listen(const char *v)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return config_listen_addr(v, &ss, &len) == 0 ? NULL :
		N_("must be IPV4:PORT or [IPV6]:PORT, e.g. 127.0.0.1:8443");
}

static const char *check_db_url(const char *v)
{
	if (v[0] == '\0')
		return NULL;
	if (strncmp(v, "sqlite:", 7) == 0 && v[7] != '\0')
		return NULL;
	return N_("must be sqlite:PATH");
}

/* "file:PATH", "command:PATH" (absolute) or "webhook:http(s)://...", or "" for none. */
static const char *check_sender(const char *v)
{
	if (v[0] == '\0')
		return NULL;
	if (strncmp(v, "file:", 5) == 0 && v[5] != '\0')
		return NULL;
	if (strncmp(v, "command:", 8) == 0 && v[8] == '/')
		return NULL;
	if (strncmp(v, "webhook:https://", 16) == 0 || strncmp(v, "webhook:http://", 15) == 0)
		return NULL;
	return N_("must be file:PATH, command:/ABSOLUTE/PATH or webhook:http(s)://URL");
}

#define STR(field, check, def, help) \
	{ #field, CONFIG_STRING, offsetof(struct config, field), \
	  sizeof(((struct config *)0)->field), 0, 0, check, def, help }
#define INT(field, lo, hi, def, help) \
	{ #field, CONFIG_INT, offsetof(struct config, field), 0, lo, hi, NULL, def, help }

static const struct config_option config_options[] = {
	STR(listen, check_listen, "127.0.0.1:8443",
	    N_("address and port to serve HTTP(S) on; port 0 picks a free one")),
	STR(data_dir, check_nonempty, "/var/lib/parkd",
	    N_("directory of the database and the master key")),
	STR(db_url, check_db_url, "",
	    N_("database: sqlite:PATH (default sqlite:DATA_DIR/parkd.db)")),
	STR(master_key_file, NULL, "",
	    N_("32-byte key that wraps private keys at rest, made (0600) on first start "
	       "(default DATA_DIR/master.key)")),
	STR(tls_cert, NULL, "", N_("PEM certificate chain: serve HTTPS (with tls_key)")),
	STR(tls_key, NULL, "", N_("PEM private key of tls_cert")),
	STR(sms_sender, check_sender, "",
	    N_("where SMS codes go: file:PATH (appends 'PHONE MESSAGE' lines), "
	       "command:PATH (run with PHONE MESSAGE), webhook:URL (JSON POST)")),
	STR(notify_hook, check_sender, "",
	    N_("where notifications go, in the same forms as sms_sender")),
	INT(session_idle_s, 60, 86400 * 366, "1800",
	    N_("seconds of inactivity that end a session")),
	INT(session_max_s, 60, 86400 * 366, "2592000",
	    N_("seconds after login that end a session however active")),
	{ "log_level", CONFIG_LEVEL, offsetof(struct config, log_level), 0, 0, 0, NULL, "info",
	  N_("error, warn, info or debug") },
	{ "password_cost", CONFIG_COST, offsetof(struct config, password_cost), 0, 0, 0, NULL,
	  "interactive",
	  N_("argon2id cost of new password hashes: interactive (3 passes, 64 MiB), "
	     "moderate (4, 256 MiB), or test (fast and weak: tests only)") },
	INT(db_pool, 1, 256, "16", N_("database connections at most")),
	INT(max_connections, 4, 65536, "1024", N_("HTTP connections at once at most")),
	INT(heavy_workers, 1, 256, "4", N_("password hashes computed at once at most")),
	INT(fail_max_account, 1, 1000000, "5",
	    N_("wrong codes or passwords for one phone number per window before 429")),
	INT(fail_max_address, 1, 1000000, "20",
	    N_("wrong codes or passwords from one address per window before 429")),
	INT(fail_window_s, 1, 86400 * 7, "900", N_("seconds of the failure window")),
	INT(sms_max_phone, 1, 1000000, "5", N_("SMS codes sent to one phone number per window")),
	INT(sms_max_address, 1, 1000000, "20",
	    N_("SMS codes asked for from one address per window")),
	INT(sms_window_s, 1, 86400 * 7, "3600", N_("seconds of the SMS window")),
	INT(time_relay_s, 1, 86400 * 7, "21600",
	    N_("seconds after which each lock is sent a new site-signed time (SET_TIME)")),
	INT(redeliver_s, 1, 3600, "30",
	    N_("seconds before a long poll gives a gateway a still pending message again")),
	INT(stream_replay_max, 0, 1000, "500",
	    N_("stored events a reconnecting event stream is sent at most, else a reset")),
	INT(stream_keepalive_s, 1, 300, "15",
	    N_("seconds an event stream may send nothing before a keepalive comment")),
};
#define CONFIG_OPTIONS (sizeof(config_options) / sizeof(config_options[0]))

/* ---- one setter per type ---- */

typedef int (*config_set_fn)(const struct config_option *o, void *field, const char *v,
			     char *err, size_t cap);

static int set_string(const struct config_option *o, void *field, const char *v, char *err,
		      size_t cap)
{
	const char *why;

	if (strlen(v) >= o->size) {
		snprintf(err, cap, _("the value is too long (at most %zu bytes)"), o->size - 1);
		return -1;
	}
	if (o->check != NULL && (why = o->check(v)) != NULL) {
		snprintf(err, cap, "%s", _(why));
		return -1;
	}
	memcpy(field, v, strlen(v) + 1);
	return 0;
}

static int set_int(const struct config_option *o, void *field, const char *v, char *err,
		   size_t cap)
{
	long long n;
	char *end;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n < o->lo || n > o->hi) {
		snprintf(err, cap, _("must be a whole number from %lld to %lld"),
			 (long long)o->lo, (long long)o->hi);
		return -1;
	}
	*(int64_t *)field = n;
	return 0;
}

static int set_level(const struct config_option *o, void *field, const char *v, char *err,
		     size_t cap)
{
	(void)o;
	if (log_level_parse(v, (enum log_level *)field) == 0)
		return 0;
	snprintf(err, cap, _("must be error, warn, info or debug"));
	return -1;
}

static int set_cost(const struct config_option *o, void *field, const char *v, char *err,
		    size_t cap)
{
	size_t i;

	(void)o;
	for (i = 0; i < CONFIG_COSTS; i++) {
		if (strcmp(v, config_costs[i].name) == 0) {
			*(const struct config_password_cost **)field = &config_costs[i];
			return 0;
		}
	}
	snprintf(err, cap, _("must be interactive, moderate or test"));
	return -1;
}

static const config_set_fn config_setters[] = {
	[CONFIG_STRING] = set_string,
	[CONFIG_INT] = set_int,
	[CONFIG_LEVEL] = set_level,
	[CONFIG_COST] = set_cost,
};

static const struct config_option *config_find(const char *name)
{
	size_t i;

	for (i = 0; i < CONFIG_OPTIONS; i++)
		if (strcmp(config_options[i].name, name) == 0)
			return &config_options[i];
	return NULL;
}

static int config_apply(struct config *cfg, const struct config_option *o, const char *v,
			char *err, size_t cap)
{
	return config_setters[o->type](o, (char *)cfg + o->offset, v, err, cap);
}

void config_defaults(struct config *cfg)
{
	char err[CONFIG_ERR_MAX];
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < CONFIG_OPTIONS; i++) {
		/* The defaults are this file's own constants: one that does not parse is a bug. */
		if (config_apply(cfg, &config_options[i], config_options[i].def, err,
				 sizeof(err)) != 0) {
			fprintf(stderr, "config: bad default of %s: %s\n", config_options[i].name,
				err);
			abort();
		}
	}
}

int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t cap)
{
	const struct config_option *o = config_find(name);
	char why[CONFIG_ERR_MAX];

	if (o == NULL) {
		snprintf(err, cap, _("unknown option '%s' (parkd --help-config lists them)"), name);
		return -1;
	}
	if (config_apply(cfg, o, value, why, sizeof(why)) != 0) {
		snprintf(err, cap, "%s: %s", name, why);
		return -1;
	}
	return 0;
}

/* Strips blanks at both ends in place; returns the start. */
static char *config_trim(char *s)
{
	char *e;

	s += strspn(s, " \t");
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int config_read(struct config *cfg, const char *path, char *err, size_t cap)
{
	unsigned seen_on[CONFIG_OPTIONS] = { 0 };
	const struct config_option *o;
	char line[CONFIG_LINE_MAX], why[CONFIG_ERR_MAX];
	char *name, *value, *eq;
	unsigned lineno = 0;
	size_t len;
	FILE *f;
	int r = -1;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			snprintf(err, cap, _("%s:%u: the line is longer than %d bytes"), path,
				 lineno, CONFIG_LINE_MAX - 2);
			goto out;
		}
		name = config_trim(line);
		if (name[0] == '\0' || name[0] == '#')
			continue;
		eq = strchr(name, '=');
		if (eq == NULL) {
			snprintf(err, cap, _("%s:%u: expected 'name = value'"), path, lineno);
			goto out;
		}
		*eq = '\0';
		name = config_trim(name);
		value = config_trim(eq + 1);
		o = config_find(name);
		if (o == NULL) {
			snprintf(err, cap, _("%s:%u: unknown option '%s' (parkd --help-config "
					     "lists them)"), path, lineno, name);
			goto out;
		}
		if (seen_on[o - config_options] != 0) {
			snprintf(err, cap, _("%s:%u: %s is set twice (first on line %u)"), path,
				 lineno, name, seen_on[o - config_options]);
			goto out;
		}
		seen_on[o - config_options] = lineno;
		if (config_apply(cfg, o, value, why, sizeof(why)) != 0) {
			snprintf(err, cap, "%s:%u: %s: %s", path, lineno, name, why);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	fclose(f);
	return r;
}

int config_finish(struct config *cfg, char *err, size_t cap)
{
	int n;

	if (cfg->db_url[0] == '\0') {
		n = snprintf(cfg->db_url, sizeof(cfg->db_url), "sqlite:%s/parkd.db", cfg->data_dir);
		if (n < 0 || (size_t)n >= sizeof(cfg->db_url))
			goto too_long;
	}
	if (cfg->master_key_file[0] == '\0') {
		n = snprintf(cfg->master_key_file, sizeof(cfg->master_key_file), "%s/master.key",
			     cfg->data_dir);
		if (n < 0 || (size_t)n >= sizeof(cfg->master_key_file))
			goto too_long;
	}
	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
		snprintf(err, cap, _("tls_cert and tls_key go together: set both for HTTPS, or "
				     "neither"));
		return -1;
	}
	if (cfg->session_idle_s > cfg->session_max_s) {
		snprintf(err, cap, _("session_idle_s (%lld) is longer than session_max_s (%lld)"),
			 (long long)cfg->session_idle_s, (long long)cfg->session_max_s);
		return -1;
	}
	return 0;
too_long:
	snprintf(err, cap, _("data_dir is too long"));
	return -1;
}

void config_help(FILE *f)
{
	size_t i;

	fprintf(f, _("parkd configuration file: one 'name = value' per line; lines starting "
		     "with '#' are comments.\n\n"));
	for (i = 0; i < CONFIG_OPTIONS; i++)
		fprintf(f, "%s = %s\n    %s\n", config_options[i].name, config_options[i].def,
			_(config_options[i].help));
}

int config_listen_addr(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *colon, *port;
	size_t hlen;
	long p;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (listen[0] == '[') {
		colon = strstr(listen, "]:");
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - listen - 1);
		port = colon + 2;
		if (hlen >= sizeof(host))
			return -1;
		memcpy(host, listen + 1, hlen);
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - listen);
		port = colon + 1;
		if (hlen >= sizeof(host))
			return -1;
		memcpy(host, listen, hlen);
	}
	host[hlen] = '\0';
	if (port[0] < '0' || port[0] > '9')
		return -1;
	errno = 0;
	p = strtol(port, &end, 10);
	if (*end != '\0' || errno != 0 || p < 0 || p > 65535)
		return -1;
	if (listen[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		*len = sizeof(*v4);
		return 0;
	}
	if (listen[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*v6);
		return 0;
	}
	return -1;
}
