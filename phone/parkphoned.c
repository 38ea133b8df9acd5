/*
 * parkphoned.c: the phone-client daemon for Linux handhelds and in-car head units: the
 * command line and config file (one table of options, each also a config key), the
 * signals, and the start and stop of the parts: the state (phoned.c), the control
 * socket (ctlserver.c) and the event follower (follow.c). Exit status: 0 when stopped
 * by SIGINT or SIGTERM, 1 on a failure at start, 2 on a bad command line or config.
 */
#include <errno.h>
#include <libintl.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cli.h"
#include "../lib/log.h"
#include "../lockfw/proto/proto.h"
#include "ctlserver.h"
#include "follow.h"
#include "phoned.h"

#define _(s) gettext(s)
#define N_(s) s
#define PARKPHONED_VERSION "0.1.0"

struct main_cfg {
	struct phoned_config d;
	enum log_level level;
};

typedef int (*main_opt_fn)(struct main_cfg *c, const char *arg);

static int set_text(const char *opt, char *dst, size_t cap, const char *arg)
{
	if (strlen(arg) >= cap) {
		fprintf(stderr, _("parkphoned: %s takes at most %zu bytes\n"), opt, cap - 1);
		return -1;
	}
	strcpy(dst, arg);
	return 0;
}

static int opt_server(struct main_cfg *c, const char *arg)
{
	if (strncmp(arg, "https://", 8) != 0 && strncmp(arg, "http://", 7) != 0) {
		fprintf(stderr, _("parkphoned: server takes a URL that starts with https:// (or "
				  "http:// on a trusted network)\n"));
		return -1;
	}
	return set_text("server", c->d.server, sizeof(c->d.server), arg);
}

static int opt_ca_file(struct main_cfg *c, const char *arg)
{
	return set_text("ca-file", c->d.ca_file, sizeof(c->d.ca_file), arg);
}

static int opt_data_dir(struct main_cfg *c, const char *arg)
{
	if (arg[0] != '/') {
		fprintf(stderr, _("parkphoned: data-dir takes an absolute directory\n"));
		return -1;
	}
	return set_text("data-dir", c->d.paths.data_dir, sizeof(c->d.paths.data_dir), arg);
}

static int opt_socket(struct main_cfg *c, const char *arg)
{
	return set_text("socket", c->d.paths.socket, sizeof(c->d.paths.socket), arg);
}

static int opt_transport(struct main_cfg *c, const char *arg)
{
	if (strcmp(arg, "sim") != 0 && strcmp(arg, "bluez") != 0) {
		fprintf(stderr, _("parkphoned: transport takes sim or bluez\n"));
		return -1;
	}
	return set_text("transport", c->d.transport, sizeof(c->d.transport), arg);
}

static int opt_bus(struct main_cfg *c, const char *arg)
{
	return set_text("bus", c->d.bus, sizeof(c->d.bus), arg);
}

static int opt_adapter(struct main_cfg *c, const char *arg)
{
	return set_text("adapter", c->d.adapter, sizeof(c->d.adapter), arg);
}

static int opt_notify_cmd(struct main_cfg *c, const char *arg)
{
	return set_text("notify-cmd", c->d.notify_cmd, sizeof(c->d.notify_cmd), arg);
}

static int opt_log_level(struct main_cfg *c, const char *arg)
{
	if (log_level_parse(arg, &c->level) == 0)
		return 0;
	fprintf(stderr, _("parkphoned: log-level takes error, warn, info or debug\n"));
	return -1;
}

enum main_opt {
	OPT_HELP, OPT_VERSION, OPT_CONFIG, OPT_SERVER, OPT_CA_FILE, OPT_DATA_DIR, OPT_SOCKET,
	OPT_TRANSPORT, OPT_BUS, OPT_ADAPTER, OPT_NOTIFY_CMD, OPT_LOG_LEVEL, MAIN_OPTS
};

static const struct cli_option main_opts[MAIN_OPTS] = {
	[OPT_HELP] = { "help", 'h', NULL, N_("show this help and exit") },
	[OPT_VERSION] = { "version", 'V', NULL, N_("show the version and exit") },
	[OPT_CONFIG] = { "config", 'c', "FILE",
			 N_("read options from FILE, lines of 'key = value' (default "
			    "$XDG_CONFIG_HOME/parking/parkphoned.conf when it exists)") },
	[OPT_SERVER] = { "server", 's', "URL", N_("the key server, e.g. https://park.example:8443") },
	[OPT_CA_FILE] = { "ca-file", 'C', "FILE",
			  N_("trust the CAs in FILE (PEM) for the server's certificate") },
	[OPT_DATA_DIR] = { "data-dir", 'd', "DIR",
			   N_("device key, session, keys and maps (default "
			      "$XDG_DATA_HOME/parking)") },
	[OPT_SOCKET] = { "socket", 'S', "PATH",
			 N_("the control socket (default $XDG_RUNTIME_DIR/parking/phoned.sock)") },
	[OPT_TRANSPORT] = { "transport", 't', "KIND",
			    N_("how locks are reached: bluez (BLE through BlueZ) or sim "
			       "(parklockd's sockets; the default)") },
	[OPT_BUS] = { "bus", 'b', "ADDRESS", N_("bluez: the D-Bus address (default: the system "
					       "bus)") },
	[OPT_ADAPTER] = { "adapter", 'a', "NAME", N_("bluez: the adapter (default hci0)") },
	[OPT_NOTIFY_CMD] = { "notify-cmd", 'n', "CMD",
			     N_("run CMD KIND JSON for each event of your spots") },
	[OPT_LOG_LEVEL] = { "log-level", 'l', "LEVEL",
			    N_("log error, warn, info (the default) or debug messages") },
};

static const main_opt_fn main_sets[MAIN_OPTS] = {
	[OPT_SERVER] = opt_server,
	[OPT_CA_FILE] = opt_ca_file,
	[OPT_DATA_DIR] = opt_data_dir,
	[OPT_SOCKET] = opt_socket,
	[OPT_TRANSPORT] = opt_transport,
	[OPT_BUS] = opt_bus,
	[OPT_ADAPTER] = opt_adapter,
	[OPT_NOTIFY_CMD] = opt_notify_cmd,
	[OPT_LOG_LEVEL] = opt_log_level,
};

static const struct cli main_cli = {
	.prog = "parkphoned",
	.version = PARKPHONED_VERSION,
	.synopsis = N_("Usage: parkphoned --server URL [OPTIONS]\n"
		       "The phone-client daemon: holds the session, the device key and the\n"
		       "e-keys, unlocks locks over BLE, follows the events of your spots.\n"
		       "parkctl talks to it. See parkphoned(1).\n"),
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

/* Parses argv into c, over the config file (--config, else the default one if any). */
static int parse_args(int argc, char **argv, struct main_cfg *c, struct cli_parser *p)
{
	int first = cli_parse_config(p, &main_cli, argc, argv, OPT_CONFIG,
				     c->d.paths.config_file, main_apply, c);

	if (first < 0)
		return -1;
	if (first < argc) {
		fprintf(stderr, _("parkphoned: unexpected argument %s\n"), argv[first]);
		return -1;
	}
	return 0;
}

/* Runs the daemon until SIGINT or SIGTERM. */
static int run(struct main_cfg *cfg)
{
	struct phoned *d = calloc(1, sizeof(*d));
	struct ctlserver srv;
	sigset_t sigs;
	int sig, r = EXIT_FAILURE;
	char err[512];

	if (d == NULL)
		return EXIT_FAILURE;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (phoned_open(d, &cfg->d, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	if (ctlserver_open(&srv, d, err, sizeof(err)) != 0) {
		log_error("%s", err);
		ctlserver_close(&srv);
		goto out;
	}
	if (follow_start(d) != 0) {
		log_error("cannot start the event follower");
		ctlserver_close(&srv);
		goto out;
	}
	log_info("serving %s for %s (%s transport)", cfg->d.paths.socket, cfg->d.server,
		 cfg->d.transport);
	r = EXIT_SUCCESS;
	if (ctlserver_run_until_signal(&srv, &sigs, &sig) == 0)
		log_info("stopping on signal %d", sig);
	follow_stop(d);
	ctlserver_close(&srv);
	log_info("stopped");
out:
	phoned_close(d);
	free(d);
	return r;
}

int main(int argc, char **argv)
{
	struct main_cfg cfg;
	struct cli_parser p;
	char err[256];

	setlocale(LC_ALL, "");
	bindtextdomain("parking", LOCALEDIR);
	textdomain("parking");
	memset(&cfg, 0, sizeof(cfg));
	cfg.level = LOG_INFO;
	cfg.d.http_timeout_ms = 15000;
	strcpy(cfg.d.transport, "sim");
	if (phone_paths_default(&cfg.d.paths, err, sizeof(err)) != 0 &&
	    (argc < 2 || strcmp(argv[1], "--help") != 0)) {
		fprintf(stderr, "parkphoned: %s\n", err);
		return EXIT_FAILURE;
	}
	if (parse_args(argc, argv, &cfg, &p) != 0)
		return cli_usage_error(&main_cli);
	if (p.help || p.version) {
		if (p.help)
			cli_help(&main_cli, stdout);
		else
			cli_version(&main_cli, stdout, _("protocol version %u"), PROTO_VERSION);
		return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (cfg.d.server[0] == '\0') {
		fprintf(stderr, _("parkphoned: give --server URL (or server = URL in %s)\n"),
			cfg.d.paths.config_file);
		return cli_usage_error(&main_cli);
	}
	log_init(argv[0], cfg.level);
	return run(&cfg);
}
