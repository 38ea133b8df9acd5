/*
 * main.c: parkgw, the garage gateway: the command line and the config file (one table
 * of options feeds both and --help), then the gateway's threads until SIGINT or SIGTERM.
 * Exit codes: 0 stopped by a signal or --help/--version/--print-key, 1 a failure at start,
 * 2 a bad command line or config file. Everything else lives in gateway.c.
 */
#include <errno.h>
#include <getopt.h>
#include <libintl.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../lib/log.h"
#include "../lockfw/proto/proto.h"
#include "gateway.h"

#define _(s) gettext(s)
#define N_(s) s

#ifndef LOCALEDIR
#define LOCALEDIR "/usr/local/share/locale"
#endif

#define PARKGW_VERSION "0.1.0"
#define MAIN_LINE_MAX 2048

enum { EXIT_USAGE = 2 };

struct main_cfg {
	struct gateway_config gw;
	enum log_level level;
	const char *config_file;
	bool help;
	bool version;
	bool print_key;
};

typedef int (*main_opt_fn)(struct main_cfg *c, const char *arg);

struct main_opt {
	const char *name;  /* --name, and the key in the config file when it takes an argument */
	char short_name;
	const char *arg;   /* the argument's name in --help, or NULL for none */
	main_opt_fn set;   /* 0, or -1 after printing what is wrong */
	const char *help;
};

static int set_path(const char *opt, char *dst, const char *arg)
{
	if (arg[0] == '\0' || strlen(arg) >= GATEWAY_PATH_MAX) {
		fprintf(stderr, _("parkgw: %s takes a value of 1 to %d bytes\n"), opt,
			GATEWAY_PATH_MAX - 1);
		return -1;
	}
	strcpy(dst, arg);
	return 0;
}

static int opt_help(struct main_cfg *c, const char *arg)
{
	(void)arg;
	c->help = true;
	return 0;
}

static int opt_version(struct main_cfg *c, const char *arg)
{
	(void)arg;
	c->version = true;
	return 0;
}

static int opt_print_key(struct main_cfg *c, const char *arg)
{
	(void)arg;
	c->print_key = true;
	return 0;
}

static int opt_config(struct main_cfg *c, const char *arg)
{
	c->config_file = arg;
	return 0;
}

static int opt_server(struct main_cfg *c, const char *arg)
{
	if (strncmp(arg, "https://", 8) != 0 && strncmp(arg, "http://", 7) != 0) {
		fprintf(stderr, _("parkgw: server takes a URL that starts with https:// (or "
				  "http:// on a trusted network)\n"));
		return -1;
	}
	return set_path("server", c->gw.server, arg);
}

static int opt_data_dir(struct main_cfg *c, const char *arg)
{
	return set_path("data-dir", c->gw.data_dir, arg);
}

static int opt_ca(struct main_cfg *c, const char *arg)
{
	return set_path("ca", c->gw.ca_file, arg);
}

static int opt_id(struct main_cfg *c, const char *arg)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || v < 1 ||
	    v > INT32_MAX) {
		fprintf(stderr, _("parkgw: id takes the gateway's ID at the server, a whole "
				  "number from 1 to %d\n"), INT32_MAX);
		return -1;
	}
	c->gw.id = v;
	return 0;
}

static int opt_log_level(struct main_cfg *c, const char *arg)
{
	if (log_level_parse(arg, &c->level) == 0)
		return 0;
	fprintf(stderr, _("parkgw: log-level takes error, warn, info or debug\n"));
	return -1;
}

static int opt_poll_wait(struct main_cfg *c, const char *arg)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || v < 1 || v > 60) {
		fprintf(stderr, _("parkgw: poll-wait takes a whole number of seconds from 1 to "
				  "60\n"));
		return -1;
	}
	c->gw.poll_wait_s = (unsigned)v;
	return 0;
}

static const struct main_opt main_opts[] = {
	{ "help", 'h', NULL, opt_help, N_("show this help and exit") },
	{ "version", 'V', NULL, opt_version, N_("show the version and exit") },
	{ "config", 'c', "FILE", opt_config,
	  N_("read options from FILE, lines of 'key = value' (keys: the long options "
	     "below that take a value); the command line wins") },
	{ "server", 's', "URL", opt_server, N_("the key server, e.g. https://parkd.example:8443 "
					       "(required)") },
	{ "data-dir", 'd', "DIR", opt_data_dir,
	  N_("the gateway's key and queue; made (mode 0700) when missing (required)") },
	{ "ca", 'a', "FILE", opt_ca, N_("CA certificates (PEM) to verify the server with "
					 "(default: the system's)") },
	{ "id", 'i', "N", opt_id, N_("this gateway's ID in the site description (default 1)") },
	{ "log-level", 'l', "LEVEL", opt_log_level,
	  N_("log error, warn, info (the default) or debug messages") },
	{ "poll-wait", 'w', "S", opt_poll_wait,
	  N_("seconds the server may hold a long poll, 1 to 60 (default 25)") },
	{ "print-key", 'k', NULL, opt_print_key,
	  N_("make the key pair if missing, print the public key for the site description, "
	     "and exit") },
};
#define MAIN_OPTS (sizeof(main_opts) / sizeof(main_opts[0]))

static void usage(FILE *f)
{
	char left[40];
	size_t i;

	fprintf(f, _("Usage: parkgw --server URL --data-dir DIR [OPTIONS]\n"
		     "The garage gateway: relays the key server's management messages to the\n"
		     "locks it covers and the locks' events to the server, through a durable\n"
		     "queue both ways. See parkgw(8).\n\n"
		     "Options:\n"));
	for (i = 0; i < MAIN_OPTS; i++) {
		snprintf(left, sizeof(left), "-%c, --%s%s%s", main_opts[i].short_name,
			 main_opts[i].name, main_opts[i].arg != NULL ? " " : "",
			 main_opts[i].arg != NULL ? main_opts[i].arg : "");
		fprintf(f, "  %-24s %s\n", left, _(main_opts[i].help));
	}
	fprintf(f, _("\nExit status: 0 when stopped by SIGINT or SIGTERM, 1 on a failure at "
		     "start,\n2 on a bad command line or config file.\n"));
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Applies the config file's `key = value` lines. 0, or -1 after saying what is wrong. */
static int load_config(struct main_cfg *c, const char *path)
{
	char line[MAIN_LINE_MAX], *key, *value, *eq;
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");
	size_t i;
	int r = -1;

	if (f == NULL) {
		fprintf(stderr, _("parkgw: cannot read the config file %s: %s\n"), path,
			strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			fprintf(stderr, _("parkgw: %s:%u: the line is longer than %d bytes\n"),
				path, lineno, MAIN_LINE_MAX - 2);
			goto out;
		}
		key = trim(line);
		if (key[0] == '\0' || key[0] == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			fprintf(stderr, _("parkgw: %s:%u: expected 'key = value'\n"), path, lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		for (i = 0; i < MAIN_OPTS; i++)
			if (main_opts[i].arg != NULL && main_opts[i].set != opt_config &&
			    strcmp(main_opts[i].name, key) == 0)
				break;
		if (i == MAIN_OPTS) {
			fprintf(stderr, _("parkgw: %s:%u: unknown key '%s'\n"), path, lineno, key);
			goto out;
		}
		if (main_opts[i].set(c, value) != 0) {
			fprintf(stderr, _("parkgw: %s:%u: bad value for '%s'\n"), path, lineno,
				key);
			goto out;
		}
	}
	r = 0;
out:
	fclose(f);
	return r;
}

/*
 * Parses argv into c: a first pass finds --config, whose file is applied before the
 * second pass applies the command line over it. Returns 0, or -1 on a usage error.
 */
static int parse_args(int argc, char **argv, struct main_cfg *c)
{
	struct option longopts[MAIN_OPTS + 1];
	char shortopts[2 * MAIN_OPTS + 2], *sp = shortopts;
	size_t i;
	int ch, pass;

	memset(longopts, 0, sizeof(longopts));
	*sp++ = ':'; /* a missing argument returns ':' rather than '?' */
	for (i = 0; i < MAIN_OPTS; i++) {
		longopts[i].name = main_opts[i].name;
		longopts[i].has_arg = main_opts[i].arg != NULL ? required_argument : no_argument;
		longopts[i].val = main_opts[i].short_name;
		*sp++ = main_opts[i].short_name;
		if (main_opts[i].arg != NULL)
			*sp++ = ':';
	}
	*sp = '\0';
	opterr = 0;
	for (pass = 0; pass < 2; pass++) {
		optind = 0; /* glibc: start afresh */
		while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
			for (i = 0; i < MAIN_OPTS && main_opts[i].short_name != ch; i++)
				;
			if (i == MAIN_OPTS) {
				fprintf(stderr, ch == ':' ? _("parkgw: %s needs an argument\n") :
					_("parkgw: unknown option %s\n"), argv[optind - 1]);
				return -1;
			}
			if ((pass == 0) != (main_opts[i].set == opt_config))
				continue;
			if (main_opts[i].set(c, optarg) != 0)
				return -1;
		}
		if (pass == 0 && c->config_file != NULL && load_config(c, c->config_file) != 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, _("parkgw: unexpected argument %s\n"), argv[optind]);
		return -1;
	}
	return 0;
}

/* Many locks mean many sockets: take every file descriptor the system allows us. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct main_cfg cfg;
	struct gateway *g = NULL;
	sigset_t sigs;
	int sig, r = EXIT_USAGE;

	setlocale(LC_ALL, "");
	bindtextdomain("parking", LOCALEDIR);
	textdomain("parking");
	memset(&cfg, 0, sizeof(cfg));
	cfg.level = LOG_INFO;
	cfg.gw.id = 1;
	cfg.gw.poll_wait_s = 25;

	if (parse_args(argc, argv, &cfg) != 0)
		goto usage_error;
	if (cfg.help || cfg.version) {
		if (cfg.help)
			usage(stdout);
		else
			printf(_("parkgw %s (protocol version %u)\n"), PARKGW_VERSION,
			       PROTO_VERSION);
		r = fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
		goto out;
	}
	if (cfg.gw.data_dir[0] == '\0' || (cfg.gw.server[0] == '\0' && !cfg.print_key)) {
		fprintf(stderr, _("parkgw: give --server URL and --data-dir DIR\n"));
		goto usage_error;
	}
	log_init(argv[0], cfg.level);
	r = EXIT_FAILURE;
	if (cfg.print_key) {
		if (gateway_print_key(&cfg.gw) == 0)
			r = fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
		goto out;
	}
	raise_fd_limit();
	/* Every thread inherits this mask: the signals come to sigwait() below only. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (gateway_start(&cfg.gw, &g) != 0)
		goto out;
	if (sigwait(&sigs, &sig) == 0)
		log_info("stopping on signal %d", sig);
	gateway_stop(g);
	log_info("stopped");
	r = EXIT_SUCCESS;
	goto out;
usage_error:
	fprintf(stderr, _("Try 'parkgw --help' for more information.\n"));
	r = EXIT_USAGE;
out:
	return r;
}
