/*
 * cli.c: the command-line machinery of cli.h over getopt_long, which reports errors
 * through its return value only (opterr = 0, a ':' optstring), so that every message is
 * this file's, in the program's name and through gettext.
 */
#include "cli.h"

#include <assert.h>
#include <errno.h>
#include <libintl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define _(s) gettext(s)

void cli_parser_init(struct cli_parser *p, const struct cli *cli, int argc, char **argv)
{
	char *sp = p->shortopts;
	size_t i;

	assert(cli->noptions >= 1 && cli->noptions <= CLI_OPTIONS_MAX);
	memset(p, 0, sizeof(*p));
	p->cli = cli;
	p->argc = argc;
	p->argv = argv;
	p->operand = argc;
	if (cli->stop_at_operand)
		*sp++ = '+';
	*sp++ = ':'; /* a missing argument returns ':' rather than '?' */
	for (i = 0; i < cli->noptions; i++) {
		p->longopts[i].name = cli->options[i].name;
		p->longopts[i].has_arg = cli->options[i].arg != NULL ? required_argument :
			no_argument;
		p->longopts[i].val = (unsigned char)cli->options[i].short_name;
		*sp++ = cli->options[i].short_name;
		if (cli->options[i].arg != NULL)
			*sp++ = ':';
	}
	*sp = '\0';
	opterr = 0;
	optind = 0; /* glibc: start afresh, also for a second pass */
}

int cli_next(struct cli_parser *p, const char **arg)
{
	const struct cli *cli = p->cli;
	size_t i;
	int ch;

	*arg = NULL;
	for (;;) {
		ch = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL);
		if (ch == -1) {
			p->operand = optind;
			return CLI_DONE;
		}
		for (i = 0; i < cli->noptions; i++)
			if ((unsigned char)cli->options[i].short_name == ch)
				break;
		if (ch == '?' || ch == ':' || i == cli->noptions) {
			fprintf(stderr, ch == ':' ? _("%s: %s needs an argument\n") :
				_("%s: unknown option %s\n"), cli->prog, p->argv[optind - 1]);
			return CLI_ERROR;
		}
		if (strcmp(cli->options[i].name, "help") == 0)
			p->help = true;
		else if (strcmp(cli->options[i].name, "version") == 0)
			p->version = true;
		else
			break;
	}
	*arg = optarg;
	return (int)i;
}

int cli_parse(struct cli_parser *p, const struct cli *cli, int argc, char **argv,
	      cli_apply_fn apply, void *ctx)
{
	const char *arg;
	int row;

	cli_parser_init(p, cli, argc, argv);
	while ((row = cli_next(p, &arg)) >= 0)
		if (apply(ctx, row, arg) != 0)
			return -1;
	return row == CLI_DONE ? p->operand : -1;
}

void cli_help(const struct cli *cli, FILE *f)
{
	const struct cli_option *o;
	char left[64];
	size_t i;

	fputs(_(cli->synopsis), f);
	fputs(_("\nOptions:\n"), f);
	for (i = 0; i < cli->noptions; i++) {
		o = &cli->options[i];
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
			 o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		fprintf(f, "  %-*s %s\n", cli->help_width, left, _(o->help));
	}
	fputs(_(cli->epilogue), f);
}

void cli_version(const struct cli *cli, FILE *f, const char *detail_fmt, ...)
{
	va_list ap;

	fprintf(f, "%s %s", cli->prog, cli->version);
	if (detail_fmt != NULL) {
		fputs(" (", f);
		va_start(ap, detail_fmt);
		vfprintf(f, detail_fmt, ap);
		va_end(ap);
		fputc(')', f);
	}
	fputc('\n', f);
}

int cli_usage_error(const struct cli *cli)
{
	fprintf(stderr, _("Try '%s --help' for more information.\n"), cli->prog);
	return CLI_EXIT_USAGE;
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

/* The row whose long name is `key` and that takes an argument, or -1. */
static int config_row(const struct cli *cli, const char *key, int skip_row)
{
	size_t i;

	for (i = 0; i < cli->noptions; i++)
		if (cli->options[i].arg != NULL && (int)i != skip_row &&
		    strcmp(cli->options[i].name, key) == 0)
			return (int)i;
	return -1;
}

/* One line's `key = value`. 0, or -1 after saying what is wrong. */
static int config_line(const struct cli *cli, const char *path, unsigned lineno, char *line,
		       int skip_row, cli_apply_fn apply, void *ctx)
{
	char *key = trim(line), *value, *eq;
	int row;

	if (key[0] == '\0' || key[0] == '#')
		return 0;
	eq = strchr(key, '=');
	if (eq == NULL) {
		fprintf(stderr, _("%s: %s:%u: expected 'key = value'\n"), cli->prog, path, lineno);
		return -1;
	}
	*eq = '\0';
	key = trim(key);
	value = trim(eq + 1);
	row = config_row(cli, key, skip_row);
	if (row < 0) {
		fprintf(stderr, _("%s: %s:%u: unknown key '%s'\n"), cli->prog, path, lineno, key);
		return -1;
	}
	if (apply(ctx, row, value) != 0) {
		fprintf(stderr, _("%s: %s:%u: bad value for '%s'\n"), cli->prog, path, lineno, key);
		return -1;
	}
	return 0;
}

int cli_config_file(const struct cli *cli, const char *path, int skip_row, cli_apply_fn apply,
		    void *ctx)
{
	char line[CLI_CONFIG_LINE_MAX];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");
	int r = 0;

	if (f == NULL) {
		fprintf(stderr, _("%s: cannot read the config file %s: %s\n"), cli->prog, path,
			strerror(errno));
		return -1;
	}
	while (r == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			fprintf(stderr, _("%s: %s:%u: the line is longer than %d bytes\n"),
				cli->prog, path, lineno, CLI_CONFIG_LINE_MAX - 2);
			r = -1;
			break;
		}
		r = config_line(cli, path, lineno, line, skip_row, apply, ctx);
	}
	fclose(f);
	return r;
}

/* cli_parse_config()'s passes: the first keeps the config file's name, the second the rest. */
struct cli_config_pass {
	cli_apply_fn apply;
	void *ctx;
	int config_row;
	int pass;
	const char *file;
};

static int cli_config_pass_apply(void *ctx, int row, const char *arg)
{
	struct cli_config_pass *c = ctx;

	if (row == c->config_row) {
		if (c->pass == 0)
			c->file = arg;
		return 0;
	}
	return c->pass == 1 ? c->apply(c->ctx, row, arg) : 0;
}

int cli_parse_config(struct cli_parser *p, const struct cli *cli, int argc, char **argv,
		     int config_row, const char *default_file, cli_apply_fn apply, void *ctx)
{
	struct cli_config_pass c = { apply, ctx, config_row, 0, NULL };
	int first = cli_parse(p, cli, argc, argv, cli_config_pass_apply, &c);

	if (first < 0 || p->help || p->version)
		return first;
	if (c.file == NULL && default_file != NULL && access(default_file, F_OK) == 0)
		c.file = default_file;
	if (c.file != NULL && cli_config_file(cli, c.file, config_row, apply, ctx) != 0)
		return -1;
	c.pass = 1;
	return cli_parse(p, cli, argc, argv, cli_config_pass_apply, &c);
}
