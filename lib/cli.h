/*
 * cli.h: a program's command line from one table of options: the getopt_long tables,
 * --help printed from the rows, the usage errors ("PROG: unknown option X", "Try 'PROG
 * --help' ...", exit status 2) and the version line, all through gettext. Of what the
 * options mean it knows --help and --version only: the parser hands every other one
 * back, by its row, to the program.
 */
#ifndef PARK_CLI_H
#define PARK_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_EXIT_USAGE 2     /* the exit status of a bad command line */
#define CLI_OPTIONS_MAX 16   /* rows in one table, at most */

/* cli_next()'s answers other than a row index. */
enum {
	CLI_DONE = -1,       /* no more options: the operands start at cli_parser.operand */
	CLI_ERROR = -2,      /* a usage error, already printed */
};

/* One option: a row of the program's table. */
struct cli_option {
	const char *name;  /* the long name, without "--" */
	char short_name;   /* the one-letter name, unique in the table */
	const char *arg;   /* the argument's name in --help ("FILE"), or NULL: takes none */
	const char *help;  /* one line for --help, untranslated (marked N_()) */
};

/* A program's command line. Texts are untranslated: cli.c passes them to gettext. */
struct cli {
	const char *prog;      /* "parkd": the first word of every message */
	const char *version;   /* "0.1.0" */
	const char *synopsis;  /* --help before the options: "Usage: ...\n...\n" */
	const char *epilogue;  /* --help after the options: "\nExit status: ...\n" */
	const struct cli_option *options;
	size_t noptions;       /* 1 .. CLI_OPTIONS_MAX */
	int help_width;        /* the width of --help's column of option names */
	bool stop_at_operand;  /* options end at the first operand (as for a command verb) */
};

/* One pass over argv. Private to cli.c but for what it found: operand, help, version. */
struct cli_parser {
	const struct cli *cli;
	int argc;
	char **argv;
	int operand;  /* after CLI_DONE: argv's index of the first operand (argc: none) */
	bool help;    /* the row named "help" was given */
	bool version; /* the row named "version" was given */
	struct option longopts[CLI_OPTIONS_MAX + 1];
	char shortopts[2 * CLI_OPTIONS_MAX + 3];
};

/*
 * Starts a pass over argv[1..argc) for `cli` (which must outlive the pass); a program
 * may make several passes. Uses getopt_long, so one pass at a time in a process.
 * Precondition: cli->noptions is 1 .. CLI_OPTIONS_MAX.
 */
void cli_parser_init(struct cli_parser *p, const struct cli *cli, int argc, char **argv);

/*
 * The next option: its row index in cli->options, with *arg its argument (NULL for an
 * option that takes none); CLI_DONE when the options have ended; or CLI_ERROR after
 * printing "PROG: unknown option X" or "PROG: X needs an argument" to stderr (the caller
 * then calls cli_usage_error()). The rows named "help" and "version" are never
 * returned: they set p->help and p->version, and the pass goes on.
 */
int cli_next(struct cli_parser *p, const char **arg);

/*
 * What a program does with one option (never --help or --version): `row` is its index
 * in cli->options, `arg` its argument or NULL. 0, or -1 after printing what is wrong.
 */
typedef int (*cli_apply_fn)(void *ctx, int row, const char *arg);

/*
 * One whole pass: cli_parser_init(), then apply(ctx, row, arg) for each option in turn.
 * Returns argv's index of the first operand (argc: none), or -1 on a usage error,
 * already printed by cli_next() or apply (the caller then calls cli_usage_error()).
 * p->help and p->version then tell whether those were given.
 */
int cli_parse(struct cli_parser *p, const struct cli *cli, int argc, char **argv,
	      cli_apply_fn apply, void *ctx);

#define CLI_CONFIG_LINE_MAX 2048 /* longest line of a config file, newline included */

/*
 * Applies a config file of `key = value` lines ('#' starts a comment line), where each
 * key is the long name of a row that takes an argument (all but `skip_row`, e.g. the
 * --config row itself, which may be -1), through apply(ctx, row, value). Returns 0, or
 * -1 after printing "PROG: FILE:LINE: what is wrong" to stderr.
 */
int cli_config_file(const struct cli *cli, const char *path, int skip_row, cli_apply_fn apply,
		    void *ctx);

/*
 * cli_parse() for a program with a config file: a first pass finds the command line's
 * `config_row` option (FILE); that file is applied (else `default_file` when it exists;
 * NULL: none; not with --help or --version), then a second pass applies every other
 * option of the command line over it. `apply` gets each option and each config line
 * alike, never the config_row itself. Returns as cli_parse().
 */
int cli_parse_config(struct cli_parser *p, const struct cli *cli, int argc, char **argv,
		     int config_row, const char *default_file, cli_apply_fn apply, void *ctx);

/* Prints --help to f: the synopsis, "Options:", a line per row, the epilogue. */
void cli_help(const struct cli *cli, FILE *f);

/*
 * Prints the version line "PROG VERSION\n" to f, or "PROG VERSION (DETAIL)\n" with
 * DETAIL formatted from detail_fmt (a translated format, or NULL for none).
 */
void cli_version(const struct cli *cli, FILE *f, const char *detail_fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prints "Try 'PROG --help' for more information." to stderr, after the caller has said
 * what is wrong. Returns CLI_EXIT_USAGE, the exit status to end with.
 */
int cli_usage_error(const struct cli *cli);

#endif
