/*
 * parkctl.c: the command line of the phone client. `parkctl [--socket PATH] [--json]
 * VERB [OPTIONS] ARGS`: each verb is a row of a table (its module in ctl-*.c) with its
 * own --help; every request goes to parkphoned over its control socket (CONTROL.md).
 */
#include <errno.h>
#include <libintl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "paths.h"
#include "parkctl.h"

#define _(s) gettext(s)
#define N_(s) s
#define PARKCTL_VERSION "0.1.0"

static const struct parkctl_verb *const verbs[] = {
	&parkctl_verb_register, &parkctl_verb_verify, &parkctl_verb_login,
	&parkctl_verb_logout, &parkctl_verb_whoami, &parkctl_verb_status,
	&parkctl_verb_spots, &parkctl_verb_key, &parkctl_verb_keys, &parkctl_verb_unlock,
	&parkctl_verb_lock, &parkctl_verb_map, &parkctl_verb_route, &parkctl_verb_events,
	&parkctl_verb_share, &parkctl_verb_shares, &parkctl_verb_members, &parkctl_verb_revoke,
	&parkctl_verb_freeze, &parkctl_verb_unfreeze, &parkctl_verb_approve, &parkctl_verb_deny,
	&parkctl_verb_policy, &parkctl_verb_otp,
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

enum { GOPT_HELP, GOPT_VERSION, GOPT_SOCKET, GOPT_JSON, GOPTS };

static const struct cli_option global_opts[GOPTS] = {
	[GOPT_HELP] = { "help", 'h', NULL, N_("show this help and exit") },
	[GOPT_VERSION] = { "version", 'V', NULL, N_("show the version and exit") },
	[GOPT_SOCKET] = { "socket", 'S', "PATH",
			  N_("parkphoned's control socket (default "
			     "$XDG_RUNTIME_DIR/parking/phoned.sock)") },
	[GOPT_JSON] = { "json", 'j', NULL, N_("print replies as JSON, for scripts") },
};

static const struct cli global_cli = {
	.prog = "parkctl",
	.version = PARKCTL_VERSION,
	.synopsis = N_("Usage: parkctl [--socket PATH] [--json] VERB [OPTIONS] [ARGS]\n"
		       "The phone client's command line: accounts, keys, unlocking, maps and\n"
		       "events, through the parkphoned daemon. 'parkctl VERB --help' tells more.\n"),
	.epilogue = N_("\nVerbs: register verify login logout whoami status spots key keys "
		       "unlock\n       lock map route events share shares members revoke freeze "
		       "unfreeze\n       approve deny policy otp\n"
		       "\nExit status: 0 on success, 1 when it failed, 2 on a bad command line.\n"),
	.options = global_opts,
	.noptions = GOPTS,
	.help_width = 22,
	.stop_at_operand = true,
};

json_object *parkctl_request(const char *name)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cmd", json_object_new_string(name));
	return o;
}

void parkctl_add_spot(json_object *req, const char *arg)
{
	char *end;
	long long v = strtoll(arg, &end, 10);

	if (arg[0] >= '0' && arg[0] <= '9' && *end == '\0')
		json_object_object_add(req, "spot", json_object_new_int64(v));
	else
		json_object_object_add(req, "spot", json_object_new_string(arg));
}

const char *parkctl_str(json_object *o, const char *name)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, name, &v) || v == NULL)
		return "";
	return json_object_get_string(v);
}

long long parkctl_int(json_object *o, const char *name)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, name, &v) || v == NULL)
		return -1;
	return (long long)json_object_get_int64(v);
}

int parkctl_print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					     JSON_C_TO_STRING_NOSLASHESCAPE));
	return fflush(stdout) == 0 ? 0 : 1;
}

static int connect_daemon(struct parkctl *pc)
{
	int fd;

	if (pc->reader != NULL)
		return 0;
	fd = ctl_connect(pc->socket);
	if (fd < 0) {
		fprintf(stderr, _("parkctl: cannot reach parkphoned at %s (%s): start it with "
				  "'parkphoned --server URL' or 'systemctl --user start "
				  "parkphoned'\n"), pc->socket, strerror(errno));
		return -1;
	}
	pc->reader = malloc(sizeof(*pc->reader));
	if (pc->reader == NULL) {
		close(fd);
		return -1;
	}
	ctl_reader_init(pc->reader, fd);
	return 0;
}

json_object *parkctl_call(struct parkctl *pc, json_object *req)
{
	json_object *reply = NULL, *ok;
	char err[256];
	int r;

	r = connect_daemon(pc);
	if (r == 0 && ctl_call(pc->reader, req, &reply, PARKCTL_REPLY_MS, err, sizeof(err)) != 0) {
		fprintf(stderr, "parkctl: %s\n", err);
		r = -1;
	}
	json_object_put(req);
	if (r != 0)
		return NULL;
	if (json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok))
		return reply;
	if (pc->json)
		(void)parkctl_print_json(reply);
	fprintf(stderr, "parkctl: %s\n", parkctl_str(reply, "detail"));
	json_object_put(reply);
	return NULL;
}

static int read_tty_password(char *out, size_t cap)
{
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+");
	int r = -1;

	if (tty == NULL) {
		fprintf(stderr, _("parkctl: no terminal to ask for the password: give "
				  "--password-file FILE\n"));
		return -1;
	}
	fputs(_("Password: "), tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	}
	if (fgets(out, (int)cap, tty) != NULL)
		r = 0;
	(void)tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	return r;
}

int parkctl_password(const char *file, char *out, size_t cap)
{
	FILE *f;
	int r = -1;

	out[0] = '\0';
	if (file == NULL) {
		r = read_tty_password(out, cap);
	} else if ((f = fopen(file, "r")) == NULL) {
		fprintf(stderr, _("parkctl: cannot read the password file %s: %s\n"), file,
			strerror(errno));
	} else {
		r = fgets(out, (int)cap, f) != NULL ? 0 : -1;
		fclose(f);
		if (r != 0)
			fprintf(stderr, _("parkctl: the password file %s is empty\n"), file);
	}
	out[strcspn(out, "\r\n")] = '\0';
	if (r == 0 && out[0] == '\0') {
		fprintf(stderr, _("parkctl: the password is empty\n"));
		r = -1;
	}
	return r;
}

struct verb_pass {
	const struct parkctl_verb *v;
	struct parkctl *pc;
	void *state;
};

/* Rows 0 and 1 of a verb's table are --help and --json; the rest are the verb's. */
static int verb_apply(void *ctx, int row, const char *arg)
{
	struct verb_pass *p = ctx;

	if (row == 1) {
		p->pc->json = true;
		return 0;
	}
	return p->v->option(p->state, row - 2, arg);
}

static void verb_cli(const struct parkctl_verb *v, struct cli *c, struct cli_option *rows,
		     char *synopsis, size_t cap)
{
	size_t i;

	rows[0] = (struct cli_option){ "help", 'h', NULL, N_("show this help and exit") };
	rows[1] = (struct cli_option){ "json", 'j', NULL, N_("print the reply as JSON") };
	for (i = 0; i < v->noptions; i++)
		rows[2 + i] = v->options[i];
	snprintf(synopsis, cap, "Usage: parkctl %s [OPTIONS]%s%s\n%s.\n", v->name,
		 v->args[0] ? " " : "", v->args, gettext(v->summary));
	memset(c, 0, sizeof(*c));
	c->prog = "parkctl";
	c->version = PARKCTL_VERSION;
	c->synopsis = synopsis;
	c->epilogue = N_("\nExit status: 0 on success, 1 when it failed, 2 on a bad command "
			 "line.\n");
	c->options = rows;
	c->noptions = 2 + v->noptions;
	c->help_width = 22;
}

static int run_verb(struct parkctl *pc, const struct parkctl_verb *v, int argc, char **argv)
{
	struct cli_option rows[CLI_OPTIONS_MAX];
	struct verb_pass pass = { v, pc, NULL };
	struct cli_parser p;
	struct cli c;
	char synopsis[512];
	unsigned nargs;
	int first, r;

	verb_cli(v, &c, rows, synopsis, sizeof(synopsis));
	pass.state = calloc(1, v->state_size > 0 ? v->state_size : 1);
	if (pass.state == NULL)
		return 1;
	first = cli_parse(&p, &c, argc, argv, verb_apply, &pass);
	if (first < 0) {
		free(pass.state);
		return cli_usage_error(&c);
	}
	if (p.help) {
		cli_help(&c, stdout);
		free(pass.state);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	nargs = (unsigned)(argc - first);
	if (nargs < v->min_args || nargs > v->max_args) {
		fprintf(stderr, _("parkctl: %s takes %s\n"), v->name,
			v->args[0] ? v->args : _("no arguments"));
		free(pass.state);
		return cli_usage_error(&c);
	}
	r = v->run(pc, pass.state, argv + first, nargs);
	free(pass.state);
	return r;
}

static int global_apply(void *ctx, int row, const char *arg)
{
	struct parkctl *pc = ctx;

	if (row == GOPT_SOCKET)
		pc->socket = arg;
	else if (row == GOPT_JSON)
		pc->json = true;
	return 0;
}

int main(int argc, char **argv)
{
	struct phone_paths paths;
	struct parkctl pc = { NULL, false, NULL };
	struct cli_parser p;
	char err[256];
	size_t i;
	int first, r;

	setlocale(LC_ALL, "");
	bindtextdomain("parking", LOCALEDIR);
	textdomain("parking");
	first = cli_parse(&p, &global_cli, argc, argv, global_apply, &pc);
	if (first < 0)
		return cli_usage_error(&global_cli);
	if (p.help || p.version || first >= argc) {
		if (p.version)
			cli_version(&global_cli, stdout, NULL);
		else if (p.help)
			cli_help(&global_cli, stdout);
		else
			return fprintf(stderr, _("parkctl: give a verb\n")),
			       cli_usage_error(&global_cli);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (pc.socket == NULL) {
		if (phone_paths_default(&paths, err, sizeof(err)) != 0) {
			fprintf(stderr, "parkctl: %s\n", err);
			return 1;
		}
		pc.socket = paths.socket;
	}
	for (i = 0; i < NVERBS; i++)
		if (strcmp(verbs[i]->name, argv[first]) == 0)
			break;
	if (i == NVERBS) {
		fprintf(stderr, _("parkctl: unknown verb '%s'\n"), argv[first]);
		return cli_usage_error(&global_cli);
	}
	r = run_verb(&pc, verbs[i], argc - first, argv + first);
	if (pc.reader != NULL) {
		close(pc.reader->fd);
		free(pc.reader);
	}
	return r;
}
