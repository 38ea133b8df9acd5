/*
 * main.c: parkconsole, the operator console of the shared-parking garage: the command
 * line (one table of options feeds the parser and --help), the locale and the message
 * catalogue, then console_run(). Exit codes: 0 when the user leaves (or --help,
 * --version), 1 when the console cannot start (no terminal), 2 on a bad command line.
 */
#include <errno.h>
#include <libintl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cli.h"
#include "console.h"
#include "i18n.h"

#ifndef LOCALEDIR
#define LOCALEDIR "/usr/local/share/locale"
#endif

#define PARKCONSOLE_VERSION "0.1.0"
#define MAIN_IDLE_DEFAULT_S 300
#define MAIN_IDLE_MAX_S 86400

/* Applies one option's argument: 0, or -1 after printing what is wrong. */
typedef int (*main_opt_fn)(struct console_config *c, const char *arg);

static int main_copy(const char *opt, char *dst, size_t cap, const char *arg)
{
	if (arg[0] == '\0' || strlen(arg) >= cap) {
		fprintf(stderr, _("parkconsole: --%s takes a value of 1 to %zu bytes\n"), opt,
			cap - 1);
		return -1;
	}
	memcpy(dst, arg, strlen(arg) + 1);
	return 0;
}

static int opt_server(struct console_config *c, const char *arg)
{
	if (strncmp(arg, "https://", 8) != 0 && strncmp(arg, "http://", 7) != 0) {
		fprintf(stderr, _("parkconsole: --server takes a URL that starts with https:// "
				  "(or http:// on a trusted network)\n"));
		return -1;
	}
	return main_copy("server", c->server, sizeof(c->server), arg);
}

static int opt_ca_file(struct console_config *c, const char *arg)
{
	if (access(arg, R_OK) != 0) {
		fprintf(stderr, _("parkconsole: cannot read the CA file %s: %s\n"), arg,
			strerror(errno));
		return -1;
	}
	return main_copy("ca-file", c->ca_file, sizeof(c->ca_file), arg);
}

static int opt_phone(struct console_config *c, const char *arg)
{
	size_t i;

	for (i = arg[0] == '+' ? 1 : 0; arg[i] >= '0' && arg[i] <= '9'; i++)
		;
	if (arg[0] != '+' || arg[i] != '\0' || i < 4 || i > 16) {
		fprintf(stderr, _("parkconsole: --phone takes a phone number in international "
				  "form, e.g. +8613800000001\n"));
		return -1;
	}
	return main_copy("phone", c->phone, sizeof(c->phone), arg);
}

static int opt_password_file(struct console_config *c, const char *arg)
{
	if (access(arg, R_OK) != 0) {
		fprintf(stderr, _("parkconsole: cannot read the password file %s: %s\n"), arg,
			strerror(errno));
		return -1;
	}
	return main_copy("password-file", c->password_file, sizeof(c->password_file), arg);
}

static int opt_localedir(struct console_config *c, const char *arg)
{
	return main_copy("localedir", c->localedir, sizeof(c->localedir), arg);
}

static int opt_trace(struct console_config *c, const char *arg)
{
	return main_copy("trace", c->trace, sizeof(c->trace), arg);
}

/* A whole number lo..hi into *out; 0, or -1 after saying so. */
static int main_number(const char *opt, const char *arg, long long lo, long long hi,
		       long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || v < lo || v > hi) {
		fprintf(stderr, _("parkconsole: --%s takes a whole number from %lld to %lld\n"),
			opt, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int opt_site(struct console_config *c, const char *arg)
{
	long long v;

	if (main_number("site", arg, 1, 4294967295LL, &v) != 0)
		return -1;
	c->site_id = v;
	return 0;
}

static int opt_idle_logout(struct console_config *c, const char *arg)
{
	long long v;

	if (main_number("idle-logout", arg, 0, MAIN_IDLE_MAX_S, &v) != 0)
		return -1;
	c->idle_logout_s = (long)v;
	return 0;
}

static int opt_kiosk(struct console_config *c, const char *arg)
{
	(void)arg;
	c->kiosk = true;
	return 0;
}

static int opt_mono(struct console_config *c, const char *arg)
{
	(void)arg;
	c->mono = true;
	return 0;
}

static int opt_ascii(struct console_config *c, const char *arg)
{
	(void)arg;
	c->ascii = true;
	return 0;
}

enum main_opt {
	OPT_HELP, OPT_VERSION, OPT_SERVER, OPT_CA_FILE, OPT_PHONE, OPT_PASSWORD_FILE, OPT_SITE,
	OPT_KIOSK, OPT_IDLE_LOGOUT, OPT_MONO, OPT_ASCII, OPT_LOCALEDIR, OPT_TRACE, MAIN_OPTS
};

static const struct cli_option main_opts[MAIN_OPTS] = {
	[OPT_HELP] = { "help", 'h', NULL, N_("show this help and exit") },
	[OPT_VERSION] = { "version", 'V', NULL, N_("show the version and exit") },
	[OPT_SERVER] = { "server", 's', "URL", N_("the key server parkd, e.g. "
						  "https://parkd.example:8443 (required)") },
	[OPT_CA_FILE] = { "ca-file", 'a', "FILE", N_("CA certificates (PEM) to verify the "
						     "server with (default: the system's)") },
	[OPT_PHONE] = { "phone", 'p', "NUMBER", N_("log in as this phone number "
						   "(+8613800000001)") },
	[OPT_PASSWORD_FILE] = { "password-file", 'P', "FILE",
				N_("read the password from the first line of FILE and log in at "
				   "once (with --phone); else the console asks") },
	[OPT_SITE] = { "site", 'S', "ID", N_("show site ID (default: the first site of your "
					     "roles)") },
	[OPT_KIOSK] = { "kiosk", 'k', NULL, N_("kiosk mode: Ctrl-C and Ctrl-Z do not leave, "
					       "leaving needs an attendant's password, idle "
					       "sessions log out") },
	[OPT_IDLE_LOGOUT] = { "idle-logout", 'i', "SECONDS",
			      N_("log out after SECONDS without a key (default 300 in kiosk "
				 "mode, else never; 0: never)") },
	[OPT_MONO] = { "mono", 'm', NULL, N_("no colours (also when NO_COLOR is set)") },
	[OPT_ASCII] = { "ascii", 'A', NULL, N_("ASCII map symbols instead of Unicode ones") },
	[OPT_LOCALEDIR] = { "localedir", 'L', "DIR", N_("the message catalogues' directory "
							"(default: where make install put them)") },
	[OPT_TRACE] = { "trace", 'T', "FILE", N_("diagnostic: append a line to FILE for each "
						 "live event once it is on the screen") },
};

static const main_opt_fn main_sets[MAIN_OPTS] = {
	[OPT_SERVER] = opt_server,
	[OPT_CA_FILE] = opt_ca_file,
	[OPT_PHONE] = opt_phone,
	[OPT_PASSWORD_FILE] = opt_password_file,
	[OPT_SITE] = opt_site,
	[OPT_KIOSK] = opt_kiosk,
	[OPT_IDLE_LOGOUT] = opt_idle_logout,
	[OPT_MONO] = opt_mono,
	[OPT_ASCII] = opt_ascii,
	[OPT_LOCALEDIR] = opt_localedir,
	[OPT_TRACE] = opt_trace,
};

static const struct cli main_cli = {
	.prog = "parkconsole",
	.version = PARKCONSOLE_VERSION,
	.synopsis = N_("Usage: parkconsole --server URL [OPTIONS]\n"
		       "The garage's operator console: the live map of the spots, their details,\n"
		       "the events, the alarms, and attendants' overrides. See parkconsole(1).\n"),
	.epilogue = N_("\nExit status: 0 when you leave the console, 1 when it cannot start "
		       "(no usable\nterminal), 2 on a bad command line.\n"),
	.options = main_opts,
	.noptions = MAIN_OPTS,
	.help_width = 26,
};

static int main_apply(void *ctx, int row, const char *arg)
{
	return main_sets[row](ctx, arg);
}

/* Binds the catalogue of --localedir, read before the messages of the other options. */
static void main_localedir(int argc, char **argv)
{
	const char *dir = LOCALEDIR;
	int i;

	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--localedir=", 12) == 0)
			dir = argv[i] + 12;
		else if ((strcmp(argv[i], "--localedir") == 0 || strcmp(argv[i], "-L") == 0) &&
			 i + 1 < argc)
			dir = argv[i + 1];
	}
	bindtextdomain("parking", dir);
	bind_textdomain_codeset("parking", "UTF-8");
	textdomain("parking");
}

int main(int argc, char **argv)
{
	struct console_config cfg;
	struct cli_parser p;
	int first;

	setlocale(LC_ALL, "");
	main_localedir(argc, argv);
	memset(&cfg, 0, sizeof(cfg));
	cfg.idle_logout_s = -1;
	first = cli_parse(&p, &main_cli, argc, argv, main_apply, &cfg);
	if (first < 0)
		return cli_usage_error(&main_cli);
	if (p.help || p.version) {
		if (p.help)
			cli_help(&main_cli, stdout);
		else
			cli_version(&main_cli, stdout, NULL);
		return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (first < argc) {
		fprintf(stderr, _("parkconsole: unexpected argument %s\n"), argv[first]);
		return cli_usage_error(&main_cli);
	}
	if (cfg.server[0] == '\0') {
		fprintf(stderr, _("parkconsole: give --server URL, the key server to use\n"));
		return cli_usage_error(&main_cli);
	}
	if (cfg.password_file[0] != '\0' && cfg.phone[0] == '\0') {
		fprintf(stderr, _("parkconsole: --password-file needs --phone\n"));
		return cli_usage_error(&main_cli);
	}
	if (cfg.idle_logout_s < 0)
		cfg.idle_logout_s = cfg.kiosk ? MAIN_IDLE_DEFAULT_S : 0;
	if (getenv("NO_COLOR") != NULL && getenv("NO_COLOR")[0] != '\0')
		cfg.mono = true;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, _("parkconsole: standard input and output must be a terminal; run "
				  "it in a terminal (or tmux)\n"));
		return EXIT_FAILURE;
	}
	return console_run(&cfg);
}
