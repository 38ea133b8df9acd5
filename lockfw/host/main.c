/*
 * main.c: parklockd, the lock simulator: the command line (options are rows of a table
 * that also prints --help), the garage file, then the simulator's loop until a signal.
 * Exit codes: 0 stopped by SIGINT/SIGTERM or --help/--version, 1 failure while running
 * or starting, 2 bad usage or a bad garage file. Everything else lives in simulator.c.
 */
#include <errno.h>
#include <getopt.h>
#include <libintl.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "garage.h"
#include "port-host.h"
#include "simulator.h"

#define _(s) gettext(s)
#define N_(s) s

#ifndef LOCALEDIR
#define LOCALEDIR "/usr/local/share/locale"
#endif

#define PARKLOCKD_VERSION "0.1.0"

enum { EXIT_USAGE = 2 };

struct main_cfg {
	enum log_level level;
	struct port_host_opts port;
	bool help;
	bool version;
};

typedef int (*main_opt_fn)(struct main_cfg *c, const char *arg);

struct main_opt {
	const char *name;
	char short_name;
	const char *arg;  /* the argument's name in --help, or NULL for none */
	main_opt_fn set;  /* 0, or -1 after printing what is wrong */
	const char *help;
};

/* A whole number lo..hi, or -1 after saying what the option takes. */
static int number_arg(const char *opt, const char *arg, long lo, long hi, long *out)
{
	char *end;
	long v;

	v = strtol(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, _("parklockd: --%s takes a whole number from %ld to %ld\n"), opt,
			lo, hi);
		return -1;
	}
	*out = v;
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

static int opt_log_level(struct main_cfg *c, const char *arg)
{
	if (log_level_parse(arg, &c->level) == 0)
		return 0;
	fprintf(stderr, _("parklockd: --log-level takes error, warn, info or debug\n"));
	return -1;
}

static int opt_mtu(struct main_cfg *c, const char *arg)
{
	long v;

	if (number_arg("mtu", arg, PROTO_MTU_MIN, PROTO_MTU_MAX, &v) != 0)
		return -1;
	c->port.mtu = (uint16_t)v;
	return 0;
}

static int opt_travel_ms(struct main_cfg *c, const char *arg)
{
	long v;

	/* Slower than the core's motor timeout, every movement would be reported jammed. */
	if (number_arg("travel-ms", arg, 1, LOCK_MOTOR_TIMEOUT_MS - 1, &v) != 0)
		return -1;
	c->port.travel_ms = (uint32_t)v;
	return 0;
}

static const struct main_opt main_opts[] = {
	{ "help", 'h', NULL, opt_help, N_("show this help and exit") },
	{ "version", 'V', NULL, opt_version, N_("show the version and exit") },
	{ "log-level", 'l', "LEVEL", opt_log_level,
	  N_("log error, warn, info (the default) or debug messages") },
	{ "mtu", 'm', "N", opt_mtu, N_("ATT MTU of the simulated radios, 23 to 247 "
				       "(default 185)") },
	{ "travel-ms", 't', "N", opt_travel_ms,
	  N_("barrier travel time in milliseconds, 1 to 3999 (default 300)") },
};
#define MAIN_OPTS (sizeof(main_opts) / sizeof(main_opts[0]))

static void usage(FILE *f)
{
	char left[40];
	size_t i;

	fprintf(f, _("Usage: parklockd [OPTIONS] GARAGE_FILE\n"
		     "Runs the simulated parking locks of a garage file, each on its own UNIX\n"
		     "socket, with world control on DIR/world.sock. See parklockd(8).\n\n"
		     "Options:\n"));
	for (i = 0; i < MAIN_OPTS; i++) {
		snprintf(left, sizeof(left), "-%c, --%s%s%s", main_opts[i].short_name,
			 main_opts[i].name, main_opts[i].arg != NULL ? " " : "",
			 main_opts[i].arg != NULL ? main_opts[i].arg : "");
		fprintf(f, "  %-24s %s\n", left, _(main_opts[i].help));
	}
	fprintf(f, _("\nExit status: 0 when stopped by SIGINT or SIGTERM, 1 on a failure, 2 on\n"
		     "a bad command line or garage file.\n"));
}

/* Parses argv into c; returns the index of the first operand, or -1 on a usage error. */
static int parse_args(int argc, char **argv, struct main_cfg *c)
{
	struct option longopts[MAIN_OPTS + 1];
	char shortopts[2 * MAIN_OPTS + 2], *sp = shortopts;
	size_t i;
	int ch;

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
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		for (i = 0; i < MAIN_OPTS && main_opts[i].short_name != ch; i++)
			;
		if (i == MAIN_OPTS) {
			fprintf(stderr, ch == ':' ? _("parklockd: %s needs an argument\n") :
				_("parklockd: unknown option %s\n"), argv[optind - 1]);
			return -1;
		}
		if (main_opts[i].set(c, optarg) != 0)
			return -1;
	}
	return optind;
}

int main(int argc, char **argv)
{
	struct main_cfg cfg;
	struct garage *g = NULL;
	struct simulator *sim = NULL;
	char err[GARAGE_ERR_MAX];
	int first, r = EXIT_USAGE;

	setlocale(LC_ALL, "");
	bindtextdomain("parking", LOCALEDIR);
	textdomain("parking");
	memset(&cfg, 0, sizeof(cfg));
	cfg.level = LOG_INFO;
	port_host_opts_default(&cfg.port);

	first = parse_args(argc, argv, &cfg);
	if (first < 0)
		goto usage_error;
	if (cfg.help || cfg.version) {
		if (cfg.help)
			usage(stdout);
		else
			printf(_("parklockd %s (lock firmware %u.%u, protocol version %u)\n"),
			       PARKLOCKD_VERSION, LOCK_FW_VERSION >> 8, LOCK_FW_VERSION & 0xFF,
			       PROTO_VERSION);
		r = fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
		goto out;
	}
	if (argc - first != 1) {
		fprintf(stderr, _("parklockd: give exactly one GARAGE_FILE\n"));
		goto usage_error;
	}
	log_init(argv[0], cfg.level);
	g = malloc(sizeof(*g));
	if (g == NULL || garage_load(argv[first], g, err, sizeof(err)) != 0) {
		fprintf(stderr, _("parklockd: %s\nparklockd: fix the garage file; its format is "
				  "in parklockd(8)\n"), g != NULL ? err : strerror(ENOMEM));
		goto out;
	}
	r = EXIT_FAILURE;
	if (simulator_open(&sim, g, &cfg.port) != 0)
		goto out;
	if (simulator_run(sim) == 0)
		r = EXIT_SUCCESS;
	goto out;
usage_error:
	fprintf(stderr, _("Try 'parklockd --help' for more information.\n"));
	r = EXIT_USAGE;
out:
	simulator_close(sim);
	free(g);
	return r;
}
