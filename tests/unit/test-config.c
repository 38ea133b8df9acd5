/*
 * test-config.c: parkd's configuration through config.h: the defaults, a file with
 * every kind of line, each kind of bad line refused with FILE:LINE and the reason,
 * command-line overrides, derived paths, cross-option checks, listen addresses, and the
 * --help-config listing naming every option.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../server/config.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-config.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/parkd.conf", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void write_conf(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Loads `text`; expects failure with `want` in the message. */
static void expect_bad(const char *text, const char *want)
{
	struct config cfg;
	char err[CONFIG_ERR_MAX];

	config_defaults(&cfg);
	write_conf(text);
	err[0] = '\0';
	assert_int_equal(config_read(&cfg, path, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("for %s: wanted '%s' in '%s'", text, want, err);
}

static void test_defaults(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_MAX];

	(void)state;
	config_defaults(&cfg);
	assert_string_equal(cfg.listen, "127.0.0.1:8443");
	assert_string_equal(cfg.data_dir, "/var/lib/parkd");
	assert_int_equal(cfg.session_idle_s, 1800);
	assert_int_equal(cfg.session_max_s, 86400 * 30);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_string_equal(cfg.password_cost->name, "interactive");
	assert_int_equal(cfg.password_cost->m_kib, 65536);
	assert_int_equal(cfg.password_cost->t_cost, 3);
	assert_string_equal(cfg.db_url, "");
	assert_null(cfg.now);
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.db_url, "sqlite:/var/lib/parkd/parkd.db");
	assert_string_equal(cfg.master_key_file, "/var/lib/parkd/master.key");
}

static void test_good_file(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_MAX];

	(void)state;
	write_conf("# parkd test\n"
		   "\n"
		   "   # an indented comment\n"
		   "listen = [::1]:9000\n"
		   "data_dir=/srv/park\n"
		   "\tsms_sender = file:/tmp/sms.txt   \n"
		   "notify_hook = webhook:https://example.org/hook?a=1#frag\n"
		   "session_idle_s = 600\r\n"
		   "log_level = debug\n"
		   "password_cost = test\n"
		   "db_url = sqlite:/srv/other.db\n");
	config_defaults(&cfg);
	assert_int_equal(config_read(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.listen, "[::1]:9000");
	assert_string_equal(cfg.data_dir, "/srv/park");
	assert_string_equal(cfg.sms_sender, "file:/tmp/sms.txt");
	/* '#' inside a value is part of it: comments are whole lines only. */
	assert_string_equal(cfg.notify_hook, "webhook:https://example.org/hook?a=1#frag");
	assert_int_equal(cfg.session_idle_s, 600);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_string_equal(cfg.password_cost->name, "test");
	assert_string_equal(cfg.db_url, "sqlite:/srv/other.db");
	assert_string_equal(cfg.master_key_file, "/srv/park/master.key");
}

static void test_bad_lines(void **state)
{
	char big[3000];

	(void)state;
	expect_bad("listen = 127.0.0.1:1\nno equals sign\n", ":2: expected 'name = value'");
	expect_bad("\n\nbogus = 1\n", ":3: unknown option 'bogus'");
	expect_bad("listen = 1.2.3.4:1\nlisten = 1.2.3.4:2\n", ":2: listen is set twice (first "
		   "on line 1)");
	expect_bad("listen = localhost:80\n", ":1: listen: must be IPV4:PORT");
	expect_bad("listen = 127.0.0.1:65536\n", ":1: listen");
	expect_bad("listen = 127.0.0.1\n", ":1: listen");
	expect_bad("session_idle_s = 10\n", ":1: session_idle_s: must be a whole number from 60");
	expect_bad("session_idle_s = 1e3\n", ":1: session_idle_s");
	expect_bad("session_idle_s = -100\n", ":1: session_idle_s");
	expect_bad("session_idle_s = 99999999999999999999999\n", ":1: session_idle_s");
	expect_bad("session_idle_s =\n", ":1: session_idle_s");
	expect_bad("log_level = loud\n", ":1: log_level: must be error, warn");
	expect_bad("password_cost = none\n", ":1: password_cost: must be interactive");
	expect_bad("sms_sender = mail:x\n", ":1: sms_sender: must be file:PATH");
	expect_bad("sms_sender = command:relative/path\n", ":1: sms_sender");
	expect_bad("notify_hook = webhook:ftp://x\n", ":1: notify_hook");
	expect_bad("db_url = postgres://x\n", ":1: db_url: must be sqlite:PATH");
	expect_bad("data_dir =\n", ":1: data_dir: must not be empty");
	memset(big, 'a', sizeof(big));
	memcpy(big, "data_dir = ", 11);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	expect_bad(big, ":1: the line is longer");
	memset(big, 'a', 1100);
	memcpy(big, "data_dir = ", 11);
	strcpy(big + 1100, "\n");
	expect_bad(big, ":1: data_dir: the value is too long");
}

static void test_missing_file(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_MAX];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_read(&cfg, "/nonexistent/parkd.conf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/parkd.conf"));
}

static void test_overrides_and_finish(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_MAX];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "listen", "0.0.0.0:0", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "nope", "1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown option 'nope'"));
	assert_int_equal(config_set(&cfg, "log_level", "x", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "log_level:"));

	assert_int_equal(config_set(&cfg, "tls_cert", "/c.pem", err, sizeof(err)), 0);
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tls_cert and tls_key"));
	assert_int_equal(config_set(&cfg, "tls_key", "/k.pem", err, sizeof(err)), 0);
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), 0);

	assert_int_equal(config_set(&cfg, "session_idle_s", "7200", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "session_max_s", "3600", err, sizeof(err)), 0);
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "session_idle_s"));
}

static void test_listen_addr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;

	(void)state;
	assert_int_equal(config_listen_addr("127.0.0.1:8443", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(v4->sin_port), 8443);
	assert_int_equal(len, sizeof(*v4));
	assert_int_equal(config_listen_addr("[::]:0", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(v6->sin6_port), 0);
	assert_int_equal(config_listen_addr("::1:80", &ss, &len), -1);
	assert_int_equal(config_listen_addr("[127.0.0.1]:80", &ss, &len), -1);
	assert_int_equal(config_listen_addr("1.2.3.4:", &ss, &len), -1);
	assert_int_equal(config_listen_addr("1.2.3.4:+80", &ss, &len), -1);
	assert_int_equal(config_listen_addr(":80", &ss, &len), -1);
	assert_int_equal(config_listen_addr("", &ss, &len), -1);
}

static void test_help_lists_every_option(void **state)
{
	static const char *const names[] = {
		"listen", "data_dir", "db_url", "master_key_file", "tls_cert", "tls_key",
		"sms_sender", "notify_hook", "session_idle_s", "session_max_s", "log_level",
		"password_cost", "db_pool", "max_connections", "heavy_workers",
		"fail_max_account", "fail_max_address", "fail_window_s", "sms_max_phone",
		"sms_max_address", "sms_window_s",
	};
	char *text = NULL;
	size_t len = 0, i;
	char line[64];
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	config_help(f);
	assert_int_equal(fclose(f), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(line, sizeof(line), "\n%s = ", names[i]);
		if (strstr(text, line) == NULL)
			fail_msg("--help-config does not list %s", names[i]);
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_overrides_and_finish),
		cmocka_unit_test(test_listen_addr),
		cmocka_unit_test(test_help_lists_every_option),
	};

	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
