/*
 * main.c: parkd, the key server: the command line (options are rows of a table that
 * also prints --help), the configuration, then either a one-off command (admin-create)
 * or serving until SIGINT/SIGTERM. Exit codes: 0 stopped by a signal or a command done,
 * 1 failure while starting or running, 2 bad usage or configuration.
 */
#include <errno.h>
#include <libintl.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../lib/cli.h"
#include "../lib/log.h"
#include "account.h"
#include "config.h"
#include "http.h"
#include "routes.h"
#include "server.h"

#define _(s) gettext(s)
#define N_(s) s

#ifndef LOCALEDIR
#define LOCALEDIR "/usr/local/share/locale"
#endif

#define PARKD_VERSION "0.1.0"
#define MAIN_GRACE_MS 10000 /* requests in progress get this long to finish at a stop */

#define MAIN_OVERRIDES_MAX 3 /* --data-dir, --listen, --log-level */

/* What the command line asked for, before the configuration exists. */
struct main_cfg {
	const char *config_file;
	const char *overrides[MAIN_OVERRIDES_MAX][2]; /* option name, value: over the file */
	size_t noverrides;
	bool routes, help_config;
};

/* Applies one option's argument (NULL for none): 0, or -1 after printing what is wrong. */
typedef int (*main_opt_fn)(struct main_cfg *c, const char *arg);

/* Records an option that overrides the file; a repeated option replaces its value. */
static int main_override(struct main_cfg *c, const char *name, const char *arg)
{
	size_t i;

	for (i = 0; i < c->noverrides; i++)
		if (strcmp(c->overrides[i][0], name) == 0)
			break;
	if (i == MAIN_OVERRIDES_MAX)
		return -1; /* unreachable: one slot per overriding option */
	c->overrides[i][0] = name;
	c->overrides[i][1] = arg;
	if (i == c->noverrides)
		c->noverrides++;
	return 0;
}

static int opt_routes(struct main_cfg *c, const char *arg)
{
	(void)arg;
	c->routes = true;
	return 0;
}

static int opt_help_config(struct main_cfg *c, const char *arg)
{
	(void)arg;
	c->help_config = true;
	return 0;
}

static int opt_config(struct main_cfg *c, const char *arg)
{
	c->config_file = arg;
	return 0;
}

static int opt_data_dir(struct main_cfg *c, const char *arg)
{
	return main_override(c, "data_dir", arg);
}

static int opt_listen(struct main_cfg *c, const char *arg)
{
	return main_override(c, "listen", arg);
}

static int opt_log_level(struct main_cfg *c, const char *arg)
{
	return main_override(c, "log_level", arg);
}

enum main_opt {
	OPT_HELP, OPT_VERSION, OPT_CONFIG, OPT_DATA_DIR, OPT_LISTEN, OPT_LOG_LEVEL, OPT_ROUTES,
	OPT_HELP_CONFIG, MAIN_OPTS
};

static const struct cli_option main_opts[MAIN_OPTS] = {
	[OPT_HELP] = { "help", 'h', NULL, N_("show this help and exit") },
	[OPT_VERSION] = { "version", 'V', NULL, N_("show the version and exit") },
	[OPT_CONFIG] = { "config", 'c', "FILE", N_("read the configuration file FILE") },
	[OPT_DATA_DIR] = { "data-dir", 'd', "DIR", N_("keep the database and keys in DIR "
						      "(data_dir)") },
	[OPT_LISTEN] = { "listen", 'L', "ADDR:PORT", N_("serve on ADDR:PORT (listen)") },
	[OPT_LOG_LEVEL] = { "log-level", 'l', "LEVEL",
			    N_("log error, warn, info (the default) or debug messages") },
	[OPT_ROUTES] = { "routes", 'r', NULL, N_("list the HTTP routes and exit") },
	[OPT_HELP_CONFIG] = { "help-config", 'C', NULL,
			      N_("list the configuration file's options and exit") },
};

/* What each row of main_opts does (--help and --version are cli.c's). */
static const main_opt_fn main_sets[MAIN_OPTS] = {
	[OPT_CONFIG] = opt_config,
	[OPT_DATA_DIR] = opt_data_dir,
	[OPT_LISTEN] = opt_listen,
	[OPT_LOG_LEVEL] = opt_log_level,
	[OPT_ROUTES] = opt_routes,
	[OPT_HELP_CONFIG] = opt_help_config,
};

static const struct cli main_cli = {
	.prog = "parkd",
	.version = PARKD_VERSION,
	.synopsis = N_("Usage: parkd [OPTIONS]\n"
		       "       parkd [OPTIONS] admin-create PHONE   (password on standard input)\n"
		       "Runs the key server of the shared-parking system: accounts, sites, e-keys,\n"
		       "the gateways' message queues and live status. See parkd(8).\n"),
	.epilogue = N_("\nExit status: 0 when stopped by SIGINT or SIGTERM (or a command done),\n"
		       "1 on a failure, 2 on a bad command line or configuration.\n"),
	.options = main_opts,
	.noptions = MAIN_OPTS,
	.help_width = 26,
	.stop_at_operand = true, /* "admin-create" */
};

/* A cli_apply_fn: ctx is the struct main_cfg. */
static int main_apply(void *ctx, int row, const char *arg)
{
	return main_sets[row](ctx, arg);
}

/* Builds the configuration: defaults, the file, the command line. 0 or -1 (printed). */
static int main_config(const struct main_cfg *m, struct config *cfg)
{
	char err[CONFIG_ERR_MAX];
	size_t i;

	config_defaults(cfg);
	if (m->config_file != NULL && config_read(cfg, m->config_file, err, sizeof(err)) != 0)
		goto bad;
	for (i = 0; i < m->noverrides; i++)
		if (config_set(cfg, m->overrides[i][0], m->overrides[i][1], err, sizeof(err)) != 0)
			goto bad;
	if (config_finish(cfg, err, sizeof(err)) != 0)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "parkd: %s\n", err);
	return -1;
}

/* Reads one line (the password) from standard input, without echo on a terminal. */
static int main_read_password(char *buf, size_t cap)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	size_t n;
	char *got;

	if (tty) {
		fprintf(stderr, _("Password: "));
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	got = fgets(buf, (int)cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (got == NULL)
		return -1;
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return 0;
}

static int main_admin_create(struct server *srv, const char *phone)
{
	struct account_result res = { 0 };
	char password[ACCOUNT_PASSWORD_MAX + 2];
	int r = EXIT_FAILURE;

	if (!account_phone_valid(phone)) {
		fprintf(stderr, _("parkd: %s is not an E.164 phone number (+8613800000001)\n"),
			phone);
		return CLI_EXIT_USAGE;
	}
	if (main_read_password(password, sizeof(password)) != 0 ||
	    strlen(password) < ACCOUNT_PASSWORD_MIN || strlen(password) > ACCOUNT_PASSWORD_MAX) {
		fprintf(stderr, _("parkd: give the password, %d to %d bytes, on standard input\n"),
			ACCOUNT_PASSWORD_MIN, ACCOUNT_PASSWORD_MAX);
		r = CLI_EXIT_USAGE;
		goto out;
	}
	if (account_make_admin(srv, phone, password, &res) != 0) {
		fprintf(stderr, _("parkd: could not make the administrator; see the log\n"));
		goto out;
	}
	printf(_("administrator %s: user %lld (%s)\n"), phone, (long long)res.user_id,
	       res.created ? _("new account") : _("existing account, new password"));
	r = fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
out:
	OPENSSL_cleanse(password, sizeof(password));
	return r;
}

/* Serves until SIGINT or SIGTERM; they are blocked in every thread and taken here. */
static int main_serve(struct server *srv, const struct config *cfg)
{
	struct http_server *hs;
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Before any thread starts, so that every thread inherits the mask. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (routes_start(srv) != 0)
		return EXIT_FAILURE;
	hs = http_start(srv);
	if (hs == NULL) {
		routes_stop(srv);
		return EXIT_FAILURE;
	}
	log_info("parkd %s serving %s on %.*s port %u (%zu routes)", PARKD_VERSION,
		 cfg->tls_cert[0] != '\0' ? "HTTPS" : "HTTP",
		 (int)(strrchr(cfg->listen, ':') - cfg->listen), cfg->listen,
		 (unsigned)http_port(hs), routes_count());
	while (sigwait(&set, &sig) != 0)
		;
	log_info("stopping on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	server_stop(srv);
	http_stop(hs, MAIN_GRACE_MS);
	routes_stop(srv);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	struct main_cfg m;
	struct cli_parser p;
	struct config *cfg = NULL;
	struct server *srv = NULL;
	struct db *db;
	int first, r = CLI_EXIT_USAGE;

	/* The database holds password hashes and the data directory private keys. */
	umask(077);
	setlocale(LC_ALL, "");
	bindtextdomain("parking", LOCALEDIR);
	textdomain("parking");
	memset(&m, 0, sizeof(m));
	first = cli_parse(&p, &main_cli, argc, argv, main_apply, &m);
	if (first < 0)
		goto usage_error;
	if (p.help || p.version || m.routes || m.help_config) {
		if (p.help)
			cli_help(&main_cli, stdout);
		else if (p.version)
			cli_version(&main_cli, stdout, NULL);
		else if (m.routes)
			routes_print(stdout);
		else
			config_help(stdout);
		r = fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
		goto out;
	}
	if (first < argc && !(strcmp(argv[first], "admin-create") == 0 && argc - first == 2)) {
		fprintf(stderr, _("parkd: unexpected '%s'; the only command is admin-create "
				  "PHONE\n"), argv[first]);
		goto usage_error;
	}
	cfg = malloc(sizeof(*cfg));
	if (cfg == NULL) {
		r = EXIT_FAILURE;
		goto out;
	}
	if (main_config(&m, cfg) != 0)
		goto out;
	log_init(argv[0], cfg->log_level);
	r = EXIT_FAILURE;
	if (server_open(cfg, &srv) != 0)
		goto out;
	db = server_db_get(srv);
	if (db == NULL || account_expire(srv, db, server_now(srv)) != 0)
		log_warn("could not delete expired codes and sessions");
	server_db_put(srv, db);
	if (first < argc)
		r = main_admin_create(srv, argv[first + 1]);
	else
		r = main_serve(srv, cfg);
	goto out;
usage_error:
	r = cli_usage_error(&main_cli);
out:
	server_close(srv);
	free(cfg);
	return r;
}
