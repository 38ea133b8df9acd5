/*
 * test-cli.c: lib/cli through its public API, on a table of its own: --help is printed
 * from the rows, the version line with and without its detail, options come back by row
 * with their arguments, --help and --version are kept by the parser, the options end at
 * the first operand when asked to, and an unknown option or a missing argument is a
 * usage error with its message (stderr is captured here) and exit status 2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/cli.h"

enum { OPT_HELP, OPT_VERSION, OPT_FILE, OPT_QUIET, OPT_COUNT };

static const struct cli_option test_opts[OPT_COUNT] = {
	[OPT_HELP] = { "help", 'h', NULL, "show this help and exit" },
	[OPT_VERSION] = { "version", 'V', NULL, "show the version and exit" },
	[OPT_FILE] = { "file", 'f', "FILE", "read FILE" },
	[OPT_QUIET] = { "quiet", 'q', NULL, "say less" },
};

static const struct cli test_cli = {
	.prog = "prog",
	.version = "1.2.3",
	.synopsis = "Usage: prog [OPTIONS] [WORD]\nDoes a test.\n",
	.epilogue = "\nExit status: 0, or 2 on a bad command line.\n",
	.options = test_opts,
	.noptions = OPT_COUNT,
	.help_width = 16,
};

/* Up to 7 arguments after "prog", NULL-terminated, into a writable argv. */
struct args {
	int argc;
	char *argv[8];
	char buf[8][32];
};

static void make_args(struct args *a, const char *const *words)
{
	int i;

	memset(a, 0, sizeof(*a));
	snprintf(a->buf[0], sizeof(a->buf[0]), "prog");
	for (i = 0; words[i] != NULL && i < 7; i++)
		snprintf(a->buf[i + 1], sizeof(a->buf[i + 1]), "%s", words[i]);
	a->argc = i + 1;
	for (i = 0; i < a->argc; i++)
		a->argv[i] = a->buf[i];
}

/* Runs fn(ctx) with stderr going to a file, whose text is put in out. */
static void capture_stderr(void (*fn)(void *ctx), void *ctx, char *out, size_t cap)
{
	FILE *tmp = tmpfile();
	int saved;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn(ctx);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, cap - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
}

/* What print(f) writes, as a string for the caller to free. */
static char *printed(void (*print)(FILE *f))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	print(f);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void print_help(FILE *f)
{
	cli_help(&test_cli, f);
}

static void print_versions(FILE *f)
{
	cli_version(&test_cli, f, NULL);
	cli_version(&test_cli, f, "protocol version %u", 4u);
}

static void test_help_from_table(void **state)
{
	char *text = printed(print_help);

	(void)state;
	assert_string_equal(text,
			    "Usage: prog [OPTIONS] [WORD]\n"
			    "Does a test.\n"
			    "\n"
			    "Options:\n"
			    "  -h, --help       show this help and exit\n"
			    "  -V, --version    show the version and exit\n"
			    "  -f, --file FILE  read FILE\n"
			    "  -q, --quiet      say less\n"
			    "\n"
			    "Exit status: 0, or 2 on a bad command line.\n");
	free(text);
}

static void test_version_line(void **state)
{
	char *text = printed(print_versions);

	(void)state;
	assert_string_equal(text, "prog 1.2.3\nprog 1.2.3 (protocol version 4)\n");
	free(text);
}

static void test_options_by_row(void **state)
{
	static const char *const words[] = { "-q", "--file", "a.conf", "-fb.conf", "--file=c",
					     "word", "-q", NULL };
	struct cli_parser p;
	struct args a;
	const char *arg;

	(void)state;
	make_args(&a, words);
	cli_parser_init(&p, &test_cli, a.argc, a.argv);
	assert_int_equal(cli_next(&p, &arg), OPT_QUIET);
	assert_null(arg);
	assert_int_equal(cli_next(&p, &arg), OPT_FILE);
	assert_string_equal(arg, "a.conf");
	assert_int_equal(cli_next(&p, &arg), OPT_FILE);
	assert_string_equal(arg, "b.conf");
	assert_int_equal(cli_next(&p, &arg), OPT_FILE);
	assert_string_equal(arg, "c");
	/* Without stop_at_operand, options after an operand count too (GNU order). */
	assert_int_equal(cli_next(&p, &arg), OPT_QUIET);
	assert_int_equal(cli_next(&p, &arg), CLI_DONE);
	assert_int_equal(p.operand, a.argc - 1);
	assert_string_equal(a.argv[p.operand], "word");
	assert_false(p.help);
	assert_false(p.version);
}

#define RECORD_MAX 128

/* A cli_apply_fn that records "row=arg;" in a char[RECORD_MAX] and refuses "bad". */
static int record(void *ctx, int row, const char *arg)
{
	char *log = ctx;

	snprintf(log + strlen(log), RECORD_MAX - strlen(log), "%d=%s;", row,
		 arg != NULL ? arg : "-");
	return arg != NULL && strcmp(arg, "bad") == 0 ? -1 : 0;
}

/* --help and --version never reach the program: the parser keeps them. */
static void test_help_and_version_kept(void **state)
{
	static const char *const words[] = { "--version", "-q", "-h", NULL };
	struct cli_parser p;
	struct args a;
	char log[RECORD_MAX] = "";

	(void)state;
	make_args(&a, words);
	assert_int_equal(cli_parse(&p, &test_cli, a.argc, a.argv, record, log), a.argc);
	assert_string_equal(log, "3=-;");
	assert_true(p.help);
	assert_true(p.version);
}

static void test_stop_at_operand_and_second_pass(void **state)
{
	static const char *const words[] = { "-q", "verb", "-q", NULL };
	struct cli stop = test_cli;
	struct cli_parser p;
	struct args a;
	const char *arg;
	int pass;

	(void)state;
	stop.stop_at_operand = true;
	make_args(&a, words);
	for (pass = 0; pass < 2; pass++) {
		cli_parser_init(&p, &stop, a.argc, a.argv);
		assert_int_equal(cli_next(&p, &arg), OPT_QUIET);
		assert_int_equal(cli_next(&p, &arg), CLI_DONE);
		assert_int_equal(p.operand, 2);
		assert_string_equal(a.argv[p.operand], "verb");
	}
}

static void test_parse_applies_each(void **state)
{
	static const char *const words[] = { "-q", "--help", "-f", "x", "word", NULL };
	static const char *const refused[] = { "-f", "bad", "-q", NULL };
	struct cli_parser p;
	struct args a;
	char log[RECORD_MAX] = "";

	(void)state;
	make_args(&a, words);
	assert_int_equal(cli_parse(&p, &test_cli, a.argc, a.argv, record, log), 5);
	assert_string_equal(log, "3=-;2=x;");
	assert_true(p.help);
	assert_false(p.version);
	/* The program's own refusal ends the pass there. */
	log[0] = '\0';
	make_args(&a, refused);
	assert_int_equal(cli_parse(&p, &test_cli, a.argc, a.argv, record, log), -1);
	assert_string_equal(log, "2=bad;");
}

/* A program with a config file: --config FILE, and --name NAME, also a config key. */
enum { CFG_HELP, CFG_VERSION, CFG_CONFIG, CFG_NAME, CFG_QUIET, CFG_COUNT };

static const struct cli_option cfg_opts[CFG_COUNT] = {
	[CFG_HELP] = { "help", 'h', NULL, "show this help and exit" },
	[CFG_VERSION] = { "version", 'V', NULL, "show the version and exit" },
	[CFG_CONFIG] = { "config", 'c', "FILE", "read FILE" },
	[CFG_NAME] = { "name", 'n', "NAME", "the name" },
	[CFG_QUIET] = { "quiet", 'q', NULL, "say less" },
};

static const struct cli cfg_cli = {
	.prog = "prog", .version = "1", .synopsis = "Usage: prog\n", .epilogue = "",
	.options = cfg_opts, .noptions = CFG_COUNT, .help_width = 16,
};

static void write_config(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/*
 * The config file first, then the command line over it; the default file only when none
 * is given; the config row never reaches the program; --help skips the file; a bad line
 * ends the parse.
 */
static void test_config_then_command_line(void **state)
{
	char dir[] = "/tmp/test-cli.XXXXXX", given[64], deflt[64], missing[64];
	char log[RECORD_MAX] = "";
	struct cli_parser p;
	struct args a;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(given, sizeof(given), "%s/given.conf", dir);
	snprintf(deflt, sizeof(deflt), "%s/default.conf", dir);
	snprintf(missing, sizeof(missing), "%s/missing.conf", dir);
	write_config(given, "# a comment\nname = from-file\n");
	write_config(deflt, "name = from-default\n");
	make_args(&a, (const char *const[]){ "-q", "--name", "cmd", "--config", given, NULL });
	assert_int_equal(cli_parse_config(&p, &cfg_cli, a.argc, a.argv, CFG_CONFIG, deflt,
					  record, log), a.argc);
	assert_string_equal(log, "3=from-file;4=-;3=cmd;");
	log[0] = '\0';
	make_args(&a, (const char *const[]){ "-q", NULL });
	assert_int_equal(cli_parse_config(&p, &cfg_cli, a.argc, a.argv, CFG_CONFIG, deflt,
					  record, log), a.argc);
	assert_string_equal(log, "3=from-default;4=-;");
	log[0] = '\0';
	assert_int_equal(cli_parse_config(&p, &cfg_cli, a.argc, a.argv, CFG_CONFIG, missing,
					  record, log), a.argc);
	assert_string_equal(log, "4=-;");
	log[0] = '\0';
	make_args(&a, (const char *const[]){ "--help", NULL });
	assert_int_equal(cli_parse_config(&p, &cfg_cli, a.argc, a.argv, CFG_CONFIG, deflt,
					  record, log), a.argc);
	assert_true(p.help);
	assert_string_equal(log, "");
	/* A file that names no option, or a value the program refuses: an error. */
	write_config(given, "colour = red\n");
	make_args(&a, (const char *const[]){ "-c", given, NULL });
	assert_int_equal(cli_parse_config(&p, &cfg_cli, a.argc, a.argv, CFG_CONFIG, NULL,
					  record, log), -1);
	write_config(given, "name = bad\n");
	assert_int_equal(cli_parse_config(&p, &cfg_cli, a.argc, a.argv, CFG_CONFIG, NULL,
					  record, log), -1);
	make_args(&a, (const char *const[]){ "-c", missing, NULL });
	assert_int_equal(cli_parse_config(&p, &cfg_cli, a.argc, a.argv, CFG_CONFIG, NULL,
					  record, log), -1);
	unlink(given);
	unlink(deflt);
	assert_int_equal(rmdir(dir), 0);
}

struct bad_run {
	const char *const *words;
	int result;
};

static void run_to_end(void *ctx)
{
	struct bad_run *r = ctx;
	struct cli_parser p;
	struct args a;
	const char *arg;

	make_args(&a, r->words);
	cli_parser_init(&p, &test_cli, a.argc, a.argv);
	while ((r->result = cli_next(&p, &arg)) >= 0)
		;
}

/* Each bad command line, and what the parser says of it. */
static void expect_usage_error(const char *const *words, const char *message)
{
	struct bad_run r = { words, 0 };
	char err[512];

	capture_stderr(run_to_end, &r, err, sizeof(err));
	assert_int_equal(r.result, CLI_ERROR);
	assert_string_equal(err, message);
}

static void test_unknown_option(void **state)
{
	static const char *const long_opt[] = { "-q", "--bogus", NULL };
	static const char *const short_opt[] = { "-Z", NULL };
	static const char *const with_arg[] = { "--quiet=1", NULL };

	(void)state;
	expect_usage_error(long_opt, "prog: unknown option --bogus\n");
	expect_usage_error(short_opt, "prog: unknown option -Z\n");
	expect_usage_error(with_arg, "prog: unknown option --quiet=1\n");
}

static void test_missing_argument(void **state)
{
	static const char *const long_opt[] = { "--file", NULL };
	static const char *const short_opt[] = { "-q", "-f", NULL };

	(void)state;
	expect_usage_error(long_opt, "prog: --file needs an argument\n");
	expect_usage_error(short_opt, "prog: -f needs an argument\n");
}

static void usage_error(void *ctx)
{
	*(int *)ctx = cli_usage_error(&test_cli);
}

static void test_usage_error(void **state)
{
	char err[512];
	int status = 0;

	(void)state;
	capture_stderr(usage_error, &status, err, sizeof(err));
	assert_int_equal(status, CLI_EXIT_USAGE);
	assert_int_equal(status, 2);
	assert_string_equal(err, "Try 'prog --help' for more information.\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_from_table),
		cmocka_unit_test(test_version_line),
		cmocka_unit_test(test_options_by_row),
		cmocka_unit_test(test_help_and_version_kept),
		cmocka_unit_test(test_stop_at_operand_and_second_pass),
		cmocka_unit_test(test_parse_applies_each),
		cmocka_unit_test(test_config_then_command_line),
		cmocka_unit_test(test_unknown_option),
		cmocka_unit_test(test_missing_argument),
		cmocka_unit_test(test_usage_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
