/*
 * main.c: parkgw, the garage gateway: the command line and the config file (one table
 * of options feeds both and --help), then the gateway's threads until SIGINT or SIGTERM.
 * Exit codes: 0 stopped by a signal or --help/--version/--print-key, 1 a failure at start,
 * 2 a bad command line or config file. Everything else lives in gateway.c.
 */
#include <errno.h>
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

#include "../lib/cli.h"
#include "../lib/log.h"
#include "../lockfw/proto/proto.h"
#include "gateway.h"

#define _(s) gettext(s)
#define N_(s) s

#ifndef LOCALEDIR
#define LOCALEDIR "/usr/local/share/locale"
#endif

#define PARKGW_VERSION "0.1.0"

struct main_cfg {
	struct gateway_config gw;
	enum log_level level;
	bool print_key;
};

/* Applies one option's argument (NULL for none): 0, or -1 after printing what is wrong. */
typedef int (*main_opt_fn)(struct main_cfg *c, const char *arg);

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

static int opt_print_key(struct main_cfg *c, const char *arg)
{
	(void)arg;
	c->print_key = true;
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

static int opt_transport(struct main_cfg *c, const char *arg)
{
	if (strcmp(arg, "sim") != 0 && strcmp(arg, "bluez") != 0) {
		fprintf(stderr, _("parkgw: transport takes bluez or sim\n"));
		return -1;
	}
	strcpy(c->gw.transport, arg);
	return 0;
}

static int opt_bus(struct main_cfg *c, const char *arg)
{
	return set_path("bus", c->gw.bus, arg);
}

static int opt_adapter(struct main_cfg *c, const char *arg)
{
	if (strlen(arg) >= sizeof(c->gw.adapter)) {
		fprintf(stderr, _("parkgw: adapter takes a name such as hci0\n"));
		return -1;
	}
	strcpy(c->gw.adapter, arg);
	return 0;
}

enum main_opt {
	OPT_HELP, OPT_VERSION, OPT_CONFIG, OPT_SERVER, OPT_DATA_DIR, OPT_CA, OPT_ID,
	OPT_LOG_LEVEL, OPT_POLL_WAIT, OPT_PRINT_KEY, OPT_TRANSPORT, OPT_BUS, OPT_ADAPTER, MAIN_OPTS
};

/* The long name of a row that takes an argument is also its key in the config file. */
static const struct cli_option main_opts[MAIN_OPTS] = {
	[OPT_HELP] = { "help", 'h', NULL, N_("show this help and exit") },
	[OPT_VERSION] = { "version", 'V', NULL, N_("show the version and exit") },
	[OPT_CONFIG] = { "config", 'c', "FILE",
			 N_("read options from FILE, lines of 'key = value' (keys: the long "
			    "options below that take a value); the command line wins") },
	[OPT_SERVER] = { "server", 's', "URL", N_("the key server, e.g. "
						  "https://parkd.example:8443 (required)") },
	[OPT_DATA_DIR] = { "data-dir", 'd', "DIR",
			   N_("the gateway's key and queue; made (mode 0700) when missing "
			      "(required)") },
	[OPT_CA] = { "ca", 'a', "FILE", N_("CA certificates (PEM) to verify the server with "
					   "(default: the system's)") },
	[OPT_ID] = { "id", 'i', "N", N_("this gateway's ID in the site description "
					"(default 1)") },
	[OPT_LOG_LEVEL] = { "log-level", 'l', "LEVEL",
			    N_("log error, warn, info (the default) or debug messages") },
	[OPT_POLL_WAIT] = { "poll-wait", 'w', "S",
			    N_("seconds the server may hold a long poll, 1 to 60 (default 25)") },
	[OPT_PRINT_KEY] = { "print-key", 'k', NULL,
			    N_("make the key pair if missing, print the public key for the site "
			       "description, and exit") },
	[OPT_TRANSPORT] = { "transport", 't', "KIND",
			    N_("how locks are reached: bluez (BLE through BlueZ) or sim "
			       "(parklockd's sockets; the default)") },
	[OPT_BUS] = { "bus", 'b', "ADDRESS",
		      N_("bluez: the D-Bus address (default: the system bus)") },
	[OPT_ADAPTER] = { "adapter", 'A', "NAME", N_("bluez: the adapter (default hci0)") },
};

/* What each row of main_opts does (--help and --version are cli.c's). */
static const main_opt_fn main_sets[MAIN_OPTS] = {
	[OPT_SERVER] = opt_server,
	[OPT_DATA_DIR] = opt_data_dir,
	[OPT_CA] = opt_ca,
	[OPT_ID] = opt_id,
	[OPT_LOG_LEVEL] = opt_log_level,
	[OPT_POLL_WAIT] = opt_poll_wait,
	[OPT_PRINT_KEY] = opt_print_key,
	[OPT_TRANSPORT] = opt_transport,
	[OPT_BUS] = opt_bus,
	[OPT_ADAPTER] = opt_adapter,
};

static const struct cli main_cli = {
	.prog = "parkgw",
	.version = PARKGW_VERSION,
	.synopsis = N_("Usage: parkgw --server URL --data-dir DIR [OPTIONS]\n"
		       "The garage gateway: relays the key server's management messages to the\n"
		       "locks it covers and the locks' events to the server, through a durable\n"
		       "queue both ways. See parkgw(8).\n"),
	.epilogue = N_("\nExit status: 0 when stopped by SIGINT or SIGTERM, 1 on a failure at "
		       "start,\n2 on a bad command line or config file.\n"),
	.options = main_opts,
	.noptions = MAIN_OPTS,
	.help_width = 24,
};

/* A cli_apply_fn: ctx is the struct main_cfg (--config is cli_parse_config()'s). */
static int main_apply(void *ctx, int row, const char *arg)
{
	return main_sets[row](ctx, arg);
}

/* Parses argv into c, over its config file. Returns 0, or -1 on a usage error. */
static int parse_args(int argc, char **argv, struct main_cfg *c, struct cli_parser *p)
{
	int first = cli_parse_config(p, &main_cli, argc, argv, OPT_CONFIG, NULL, main_apply, c);

	if (first < 0)
		return -1;
	if (first < argc) {
		fprintf(stderr, _("parkgw: unexpected argument %s\n"), argv[first]);
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
	struct cli_parser p;
	struct gateway *g = NULL;
	sigset_t sigs;
	int sig, r = CLI_EXIT_USAGE;

	setlocale(LC_ALL, "");
	bindtextdomain("parking", LOCALEDIR);
	textdomain("parking");
	memset(&cfg, 0, sizeof(cfg));
	cfg.level = LOG_INFO;
	cfg.gw.id = 1;
	cfg.gw.poll_wait_s = 25;

	if (parse_args(argc, argv, &cfg, &p) != 0)
		goto usage_error;
	if (p.help || p.version) {
		if (p.help)
			cli_help(&main_cli, stdout);
		else
			cli_version(&main_cli, stdout, _("protocol version %u"), PROTO_VERSION);
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
	r = cli_usage_error(&main_cli);
out:
	return r;
}
