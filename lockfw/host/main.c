/*
 * main.c: parklockd, the lock simulator: the command line (options are rows of a table
 * that also prints --help), the garage file, then the simulator's loop until a signal.
 * Exit codes: 0 stopped by SIGINT/SIGTERM or --help/--version, 1 failure while running
 * or starting, 2 bad usage or a bad garage file. Everything else lives in simulator.c.
 */
#include <errno.h>
#include <libintl.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/cli.h"
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

struct main_cfg {
	enum log_level level;
	struct port_host_opts port;
};

/* Applies one option's argument (NULL for none): 0, or -1 after printing what is wrong. */
typedef int (*main_opt_fn)(struct main_cfg *c, const char *arg);

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

enum main_opt { OPT_HELP, OPT_VERSION, OPT_LOG_LEVEL, OPT_MTU, OPT_TRAVEL_MS, MAIN_OPTS };

static const struct cli_option main_opts[MAIN_OPTS] = {
	[OPT_HELP] = { "help", 'h', NULL, N_("show this help and exit") },
	[OPT_VERSION] = { "version", 'V', NULL, N_("show the version and exit") },
	[OPT_LOG_LEVEL] = { "log-level", 'l', "LEVEL",
			    N_("log error, warn, info (the default) or debug messages") },
	[OPT_MTU] = { "mtu", 'm', "N", N_("ATT MTU of the simulated radios, 23 to 247 "
					  "(default 185)") },
	[OPT_TRAVEL_MS] = { "travel-ms", 't', "N",
			    N_("barrier travel time in milliseconds, 1 to 3999 (default 300)") },
};

/* What each row of main_opts does (--help and --version are cli.c's). */
static const main_opt_fn main_sets[MAIN_OPTS] = {
	[OPT_LOG_LEVEL] = opt_log_level,
	[OPT_MTU] = opt_mtu,
	[OPT_TRAVEL_MS] = opt_travel_ms,
};

static const struct cli main_cli = {
	.prog = "parklockd",
	.version = PARKLOCKD_VERSION,
	.synopsis = N_("Usage: parklockd [OPTIONS] GARAGE_FILE\n"
		       "Runs the simulated parking locks of a garage file, each on its own UNIX\n"
		       "socket, with world control on DIR/world.sock. See parklockd(8).\n"),
	.epilogue = N_("\nExit status: 0 when stopped by SIGINT or SIGTERM, 1 on a failure, 2 on\n"
		       "a bad command line or garage file.\n"),
	.options = main_opts,
	.noptions = MAIN_OPTS,
	.help_width = 24,
};

/* A cli_apply_fn: ctx is the struct main_cfg. */
static int main_apply(void *ctx, int row, const char *arg)
{
	return main_sets[row](ctx, arg);
}

int main(int argc, char **argv)
{
	struct main_cfg cfg;
	struct cli_parser p;
	struct garage *g = NULL;
	struct simulator *sim = NULL;
	char err[GARAGE_ERR_MAX];
	int first, r = CLI_EXIT_USAGE;

	setlocale(LC_ALL, "");
	bindtextdomain("parking", LOCALEDIR);
	textdomain("parking");
	memset(&cfg, 0, sizeof(cfg));
	cfg.level = LOG_INFO;
	port_host_opts_default(&cfg.port);

	first = cli_parse(&p, &main_cli, argc, argv, main_apply, &cfg);
	if (first < 0)
		goto usage_error;
	if (p.help || p.version) {
		if (p.help)
			cli_help(&main_cli, stdout);
		else
			cli_version(&main_cli, stdout,
				    _("lock firmware %u.%u, protocol version %u"),
				    LOCK_FW_VERSION >> 8, LOCK_FW_VERSION & 0xFF, PROTO_VERSION);
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
	r = cli_usage_error(&main_cli);
out:
	simulator_close(sim);
	free(g);
	return r;
}
