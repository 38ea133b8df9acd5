/*
 * test-account.c: accounts, sessions and rate limits through account.h, session.h and
 * server.h, against a real SQLite file in a temporary directory, with the server's
 * clock set by the test: register and verify with the code from the SMS file, wrong,
 * expired, used-up and reused codes, login and logout, idle and absolute session
 * expiry, password reset, the administrator, roles, and the rate limits per phone and
 * per address, which hold across a restart.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../server/account.h"
#include "../../server/config.h"
#include "../../server/server.h"
#include "../../server/session.h"

#define T0 1800000000
#define PEER "192.0.2.1"
#define PEER2 "192.0.2.2"
#define PW "correct horse"

static int64_t clock_now;
static char dir[64], sms_path[128];
static struct config cfg;
static struct server *srv;

static int64_t test_clock(void)
{
	return clock_now;
}

static void open_server(void)
{
	char err[CONFIG_ERR_MAX], opt[256];

	config_defaults(&cfg);
	snprintf(opt, sizeof(opt), "file:%s", sms_path);
	assert_int_equal(config_set(&cfg, "data_dir", dir, err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "sms_sender", opt, err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "password_cost", "test", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "session_idle_s", "600", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "session_max_s", "3600", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "fail_max_account", "3", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "fail_max_address", "7", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "fail_window_s", "900", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "sms_max_phone", "3", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "sms_max_address", "100", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "log_level", "error", err, sizeof(err)), 0);
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), 0);
	cfg.now = test_clock;
	log_init("test-account", LOG_ERROR);
	assert_int_equal(server_open(&cfg, &srv), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-account.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(sms_path, sizeof(sms_path), "%s/sms.txt", dir);
	clock_now = T0;
	open_server();
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	server_close(srv);
	srv = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The code of the last SMS to `phone` in the SMS file. */
static void last_code(const char *phone, char code[ACCOUNT_CODE_DIGITS + 1])
{
	char line[256];
	FILE *f = fopen(sms_path, "r");
	size_t n = strlen(phone);

	assert_non_null(f);
	code[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, phone, n) == 0 && line[n] == ' ')
			snprintf(code, ACCOUNT_CODE_DIGITS + 1, "%s", line + n + 1);
	fclose(f);
	assert_int_equal(strlen(code), ACCOUNT_CODE_DIGITS);
}

/* A code that is not `code`. */
static void other_code(const char *code, char out[ACCOUNT_CODE_DIGITS + 1])
{
	snprintf(out, ACCOUNT_CODE_DIGITS + 1, "%s", code);
	out[0] = out[0] == '9' ? '0' : (char)(out[0] + 1);
}

/* Registers and verifies `phone` with `pw`; returns the user id. */
static int64_t make_user(const char *phone, const char *pw)
{
	struct account_result res = { 0 };
	char code[ACCOUNT_CODE_DIGITS + 1];

	assert_int_equal(account_register(srv, phone, PEER, &res), 0);
	last_code(phone, code);
	assert_int_equal(account_verify(srv, phone, code, pw, PEER, &res), 0);
	assert_true(res.created);
	assert_true(res.user_id > 0);
	return res.user_id;
}

static int64_t count(const char *sql)
{
	struct db *db = server_db_get(srv);
	struct db_stmt *st = db_prepare(db, sql);
	int64_t v;

	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	v = db_col_int(st, 0);
	db_finalize(st);
	server_db_put(srv, db);
	return v;
}

/* 0 when `token` opens a session now (with its user in *u), else -1. */
static int lookup(const char *token, struct auth_user *u)
{
	struct db *db = server_db_get(srv);
	int r = session_lookup(db, &cfg, clock_now, token, u, NULL);

	server_db_put(srv, db);
	assert_true(r == 0 || r == -DB_E_NOTFOUND);
	return r == 0 ? 0 : -1;
}

static void test_phone_format(void **state)
{
	(void)state;
	assert_true(account_phone_valid("+8613800000001"));
	assert_true(account_phone_valid("+12025550123"));
	assert_true(account_phone_valid("+44201234"));         /* 8 digits */
	assert_true(account_phone_valid("+123456789012345")); /* 15 digits */
	assert_false(account_phone_valid("+1234567"));         /* 7 */
	assert_false(account_phone_valid("+1234567890123456"));
	assert_false(account_phone_valid("8613800000001"));
	assert_false(account_phone_valid("+0613800000001"));
	assert_false(account_phone_valid("+86 13800000001"));
	assert_false(account_phone_valid("+8613800000001\n"));
	assert_false(account_phone_valid(""));
}

static void test_register_verify_login_logout(void **state)
{
	struct account_result res = { 0 };
	struct auth_user u;
	char code[ACCOUNT_CODE_DIGITS + 1];
	char token[SESSION_TOKEN_HEX + 1];
	int64_t id;
	struct stat st;

	(void)state;
	assert_int_equal(account_register(srv, "+8613800000001", PEER, &res), 0);
	last_code("+8613800000001", code);
	/* Only an HMAC of the code is stored. */
	assert_int_equal(count("SELECT COUNT(*) FROM sms_codes"), 1);
	assert_int_equal(stat(sms_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(account_verify(srv, "+8613800000001", code, PW, PEER, &res), 0);
	assert_true(res.created);
	id = res.user_id;
	assert_int_equal(count("SELECT COUNT(*) FROM sms_codes"), 0);
	assert_int_equal(count("SELECT COUNT(*) FROM users WHERE password_hash LIKE "
			       "'$argon2id$%'"), 1);

	memset(&res, 0, sizeof(res));
	assert_int_equal(account_login(srv, "+8613800000001", PW, PEER, &res), 0);
	assert_int_equal(res.user_id, id);
	assert_int_equal(strlen(res.token), SESSION_TOKEN_HEX);
	assert_int_equal(res.expires_at, T0 + 3600);
	snprintf(token, sizeof(token), "%s", res.token);
	/* The token itself is nowhere in the database. */
	assert_int_equal(count("SELECT COUNT(*) FROM sessions"), 1);

	assert_int_equal(lookup(token, &u), 0);
	assert_int_equal(u.user_id, id);
	assert_string_equal(u.phone, "+8613800000001");
	assert_false(u.admin);
	assert_int_equal(lookup("not-a-token", &u), -1);
	token[0] = token[0] == 'a' ? 'b' : 'a';
	assert_int_equal(lookup(token, &u), -1);
	token[0] = res.token[0];

	{
		struct db *db = server_db_get(srv);

		assert_int_equal(session_delete(db, token), 0);
		assert_int_equal(session_delete(db, token), -DB_E_NOTFOUND);
		server_db_put(srv, db);
	}
	assert_int_equal(lookup(token, &u), -1);
	/* The trail has the code, the account, the login, and no secret. */
	assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action IN ('sms_code_sent', "
			       "'account_created', 'login')"), 3);
	assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE peer = '" PEER "'"), 3);
}

static void test_wrong_code_and_tries(void **state)
{
	struct account_result res = { 0 };
	char code[ACCOUNT_CODE_DIGITS + 1], bad[ACCOUNT_CODE_DIGITS + 1];
	int i;

	(void)state;
	/* Lift the per-phone failure limit: here the code's own five tries must stop guesses. */
	cfg.fail_max_account = 100;
	assert_int_equal(account_register(srv, "+8613800000002", PEER, &res), 0);
	last_code("+8613800000002", code);
	other_code(code, bad);
	for (i = 0; i < ACCOUNT_CODE_TRIES; i++)
		assert_int_equal(account_verify(srv, "+8613800000002", bad, PW, PEER2, &res),
				 -ACCOUNT_E_CODE_WRONG);
	/* Five tries used: even the right code is refused now. */
	assert_int_equal(account_verify(srv, "+8613800000002", code, PW, PEER2, &res),
			 -ACCOUNT_E_CODE_TRIES);
	assert_int_equal(count("SELECT COUNT(*) FROM users"), 0);
	/* A new code starts over. */
	clock_now += 1;
	assert_int_equal(account_register(srv, "+8613800000002", PEER, &res), 0);
	last_code("+8613800000002", code);
	assert_int_equal(account_verify(srv, "+8613800000002", code, PW, PEER, &res), 0);
	/* A code is used once. */
	assert_int_equal(account_verify(srv, "+8613800000002", code, PW, PEER, &res),
			 -ACCOUNT_E_NO_CODE);
	/* No code at all. */
	assert_int_equal(account_verify(srv, "+8613800000099", "123456", PW, PEER, &res),
			 -ACCOUNT_E_NO_CODE);
}

static void test_expired_code(void **state)
{
	struct account_result res = { 0 };
	char code[ACCOUNT_CODE_DIGITS + 1];

	(void)state;
	assert_int_equal(account_register(srv, "+8613800000003", PEER, &res), 0);
	last_code("+8613800000003", code);
	clock_now += ACCOUNT_CODE_TTL_S;
	assert_int_equal(account_verify(srv, "+8613800000003", code, PW, PEER, &res),
			 -ACCOUNT_E_NO_CODE);
	assert_int_equal(count("SELECT COUNT(*) FROM users"), 0);
}

static void test_bad_input(void **state)
{
	struct account_result res = { 0 };

	(void)state;
	assert_int_equal(account_register(srv, "13800000001", PEER, &res), -ACCOUNT_E_BAD_INPUT);
	assert_int_equal(account_verify(srv, "+8613800000001", "12345", PW, PEER, &res),
			 -ACCOUNT_E_BAD_INPUT);
	assert_int_equal(account_verify(srv, "+8613800000001", "12345a", PW, PEER, &res),
			 -ACCOUNT_E_BAD_INPUT);
	assert_int_equal(account_verify(srv, "+8613800000001", "123456", "short", PEER, &res),
			 -ACCOUNT_E_BAD_INPUT);
	assert_int_equal(account_make_admin(srv, "+8613800000001", "short", &res),
			 -ACCOUNT_E_BAD_INPUT);
	assert_int_equal(count("SELECT COUNT(*) FROM rate_limits"), 0);
}

static void test_sms_failure(void **state)
{
	struct account_result res = { 0 };
	char err[CONFIG_ERR_MAX];

	(void)state;
	/* The sender is parsed when the server opens: reopen it with each one. */
	server_close(srv);
	assert_int_equal(config_set(&cfg, "sms_sender", "file:/nonexistent/dir/sms", err,
				    sizeof(err)), 0);
	assert_int_equal(server_open(&cfg, &srv), 0);
	assert_int_equal(account_register(srv, "+8613800000004", PEER, &res), -ACCOUNT_E_SMS);
	server_close(srv);
	assert_int_equal(config_set(&cfg, "sms_sender", "", err, sizeof(err)), 0);
	assert_int_equal(server_open(&cfg, &srv), 0);
	assert_int_equal(account_register(srv, "+8613800000004", PEER, &res), -ACCOUNT_E_SMS);
}

static void test_login_failures_limited_per_account(void **state)
{
	struct account_result res = { 0 };
	int i;

	(void)state;
	make_user("+8613800000005", PW);
	/* Two wrong, then right: the right one clears the phone's count. */
	for (i = 0; i < 2; i++)
		assert_int_equal(account_login(srv, "+8613800000005", "wrong password", PEER, &res),
				 -ACCOUNT_E_CREDENTIALS);
	assert_int_equal(account_login(srv, "+8613800000005", PW, PEER, &res), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(account_login(srv, "+8613800000005", "wrong password", PEER, &res),
				 -ACCOUNT_E_CREDENTIALS);
	/* The fourth failure in the window is refused before the password is looked at,
	 * and so is the right password, from any address. */
	res.retry_after = 0;
	assert_int_equal(account_login(srv, "+8613800000005", "wrong password", PEER, &res),
			 -ACCOUNT_E_RATE_LIMITED);
	assert_int_equal(res.retry_after, 900);
	clock_now += 100;
	assert_int_equal(account_login(srv, "+8613800000005", PW, PEER2, &res),
			 -ACCOUNT_E_RATE_LIMITED);
	assert_int_equal(res.retry_after, 800);
	/* Another phone from the same address is not affected. */
	make_user("+8613800000006", PW);
	assert_int_equal(account_login(srv, "+8613800000006", PW, PEER, &res), 0);

	/* The limit survives a restart: it is in the database. */
	server_close(srv);
	open_server();
	assert_int_equal(account_login(srv, "+8613800000005", PW, PEER, &res),
			 -ACCOUNT_E_RATE_LIMITED);
	/* And ends with its window. */
	clock_now += 800;
	assert_int_equal(account_login(srv, "+8613800000005", PW, PEER, &res), 0);
}

static void test_failures_limited_per_address(void **state)
{
	struct account_result res = { 0 };
	char phone[32];
	int i;

	(void)state;
	make_user("+8613800000007", PW);
	/* Seven failures (the address limit) spread over phones of which none reaches 3. */
	for (i = 0; i < 7; i++) {
		snprintf(phone, sizeof(phone), "+86139000000%02d", i);
		assert_int_equal(account_login(srv, phone, "guess guess", PEER, &res),
				 -ACCOUNT_E_CREDENTIALS);
	}
	/* The address is now refused, even for a good login; another address is not. */
	assert_int_equal(account_login(srv, "+8613800000007", PW, PEER, &res),
			 -ACCOUNT_E_RATE_LIMITED);
	assert_true(res.retry_after > 0);
	assert_int_equal(account_login(srv, "+8613800000007", PW, PEER2, &res), 0);
	/* Wrong codes count against the address too. */
	assert_int_equal(account_register(srv, "+8613800000008", PEER2, &res), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(account_verify(srv, "+8613800000008", "000000", PW, PEER, &res),
				 -ACCOUNT_E_RATE_LIMITED);
}

static void test_sms_limited_per_phone(void **state)
{
	struct account_result res = { 0 };

	(void)state;
	assert_int_equal(account_register(srv, "+8613800000010", PEER, &res), 0);
	assert_int_equal(account_register(srv, "+8613800000010", PEER, &res), 0);
	assert_int_equal(account_register(srv, "+8613800000010", PEER2, &res), 0);
	assert_int_equal(account_register(srv, "+8613800000010", PEER2, &res),
			 -ACCOUNT_E_RATE_LIMITED);
	assert_int_equal(res.retry_after, 3600);
	assert_int_equal(account_register(srv, "+8613800000011", PEER, &res), 0);
}

static void test_session_idle_expiry(void **state)
{
	struct account_result res = { 0 };
	struct auth_user u;

	(void)state;
	make_user("+8613800000012", PW);
	assert_int_equal(account_login(srv, "+8613800000012", PW, PEER, &res), 0);
	/* Used every 599 s, it stays; the use is recorded each time (>= 60 s apart). */
	clock_now += 599;
	assert_int_equal(lookup(res.token, &u), 0);
	clock_now += 599;
	assert_int_equal(lookup(res.token, &u), 0);
	/* Uses closer than SESSION_TOUCH_S are not recorded: idle counts from the last one. */
	clock_now += 30;
	assert_int_equal(lookup(res.token, &u), 0);
	clock_now += 600 - 30;
	assert_int_equal(lookup(res.token, &u), -1);
	/* Gone for good, even if the clock went back. */
	clock_now -= 600;
	assert_int_equal(lookup(res.token, &u), -1);
	assert_int_equal(count("SELECT COUNT(*) FROM sessions"), 0);
}

/* The last use recorded for the session of `token`, or -1 when it is gone. */
static int64_t last_seen_of(const char *token)
{
	struct session_upkeep u;
	struct auth_user who;
	struct db_stmt *st;
	struct db *db = server_db_get(srv);
	int64_t v = -1;

	/* The hash, from a lookup that writes nothing (far in the past: never expired). */
	(void)session_lookup(db, &cfg, T0, token, &who, &u);
	st = db_prepare(db, "SELECT last_seen FROM sessions WHERE token_hash = $1");
	assert_non_null(st);
	assert_int_equal(db_bind_blob(st, 1, u.token_hash, sizeof(u.token_hash)), 0);
	if (db_step(st) == DB_ROW)
		v = db_col_int(st, 0);
	db_finalize(st);
	server_db_put(srv, db);
	return v;
}

/* A lookup given an upkeep only says what to write; session_upkeep() writes it. */
static void test_session_upkeep_deferred(void **state)
{
	struct account_result res = { 0 };
	struct session_upkeep u;
	struct auth_user who;
	struct db *db;
	int64_t login_at;

	(void)state;
	make_user("+8613800000019", PW);
	assert_int_equal(account_login(srv, "+8613800000019", PW, PEER, &res), 0);
	login_at = clock_now;
	clock_now += 100;
	db = server_db_get(srv);
	assert_int_equal(session_lookup(db, &cfg, clock_now, res.token, &who, &u), 0);
	assert_int_equal(u.kind, SESSION_TOUCH);
	server_db_put(srv, db);
	assert_int_equal(last_seen_of(res.token), login_at); /* not written yet */
	db = server_db_get(srv);
	assert_int_equal(session_upkeep(db, &u), 0);
	server_db_put(srv, db);
	assert_int_equal(last_seen_of(res.token), clock_now);
	/* Idle too long: refused, and left in place until the upkeep deletes it. */
	clock_now += 600;
	db = server_db_get(srv);
	assert_int_equal(session_lookup(db, &cfg, clock_now, res.token, &who, &u),
			 -DB_E_NOTFOUND);
	assert_int_equal(u.kind, SESSION_DROP);
	server_db_put(srv, db);
	assert_int_not_equal(last_seen_of(res.token), -1);
	db = server_db_get(srv);
	assert_int_equal(session_upkeep(db, &u), 0);
	server_db_put(srv, db);
	assert_int_equal(last_seen_of(res.token), -1);
}

/*
 * A drop decided by a lookup just past the idle limit, written after the touch of a
 * request that came just before it, leaves the session: it was used after all.
 */
static void test_session_drop_after_touch_kept(void **state)
{
	struct account_result res = { 0 };
	struct session_upkeep touch, drop;
	struct auth_user who;
	struct db *db;

	(void)state;
	make_user("+8613800000020", PW);
	assert_int_equal(account_login(srv, "+8613800000020", PW, PEER, &res), 0);
	db = server_db_get(srv);
	assert_int_equal(session_lookup(db, &cfg, clock_now + cfg.session_idle_s - 1, res.token,
					&who, &touch), 0);
	assert_int_equal(touch.kind, SESSION_TOUCH);
	assert_int_equal(session_lookup(db, &cfg, clock_now + cfg.session_idle_s, res.token,
					&who, &drop), -DB_E_NOTFOUND);
	assert_int_equal(drop.kind, SESSION_DROP);
	assert_int_equal(session_upkeep(db, &touch), 0);
	assert_int_equal(session_upkeep(db, &drop), 0);
	server_db_put(srv, db);
	assert_int_equal(last_seen_of(res.token), clock_now + cfg.session_idle_s - 1);
	db = server_db_get(srv);
	assert_int_equal(session_lookup(db, &cfg, clock_now + cfg.session_idle_s, res.token,
					&who, &drop), 0);
	server_db_put(srv, db);
}

/* server_caller() records a use on the writer, after it has answered. */
static void test_caller_touch_on_the_writer(void **state)
{
	struct account_result res = { 0 };
	struct http_request req;
	struct auth_user who;
	int i;

	(void)state;
	make_user("+8613800000020", PW);
	assert_int_equal(account_login(srv, "+8613800000020", PW, PEER, &res), 0);
	clock_now += 120;
	memset(&req, 0, sizeof(req));
	req.token = res.token;
	assert_int_equal(server_caller(srv, &req, &who), 0);
	for (i = 0; i < 200 && last_seen_of(res.token) != clock_now; i++)
		usleep(10 * 1000);
	assert_int_equal(last_seen_of(res.token), clock_now);
}

static void test_session_absolute_expiry(void **state)
{
	struct account_result res = { 0 };
	struct auth_user u;
	int i;

	(void)state;
	make_user("+8613800000013", PW);
	assert_int_equal(account_login(srv, "+8613800000013", PW, PEER, &res), 0);
	for (i = 0; i < 7; i++) {
		clock_now += 500;
		assert_int_equal(lookup(res.token, &u), 0);
	}
	clock_now = T0 + 3600;
	assert_int_equal(lookup(res.token, &u), -1);
}

static void test_password_reset(void **state)
{
	struct account_result res = { 0 }, login = { 0 };
	struct auth_user u;
	char code[ACCOUNT_CODE_DIGITS + 1];
	int64_t id;

	(void)state;
	id = make_user("+8613800000014", PW);
	assert_int_equal(account_login(srv, "+8613800000014", PW, PEER, &login), 0);
	assert_int_equal(account_register(srv, "+8613800000014", PEER, &res), 0);
	last_code("+8613800000014", code);
	assert_int_equal(account_verify(srv, "+8613800000014", code, "a new password", PEER,
					 &res), 0);
	assert_false(res.created);
	assert_int_equal(res.user_id, id);
	/* The old sessions and the old password are gone. */
	assert_int_equal(lookup(login.token, &u), -1);
	assert_int_equal(account_login(srv, "+8613800000014", PW, PEER, &res),
			 -ACCOUNT_E_CREDENTIALS);
	assert_int_equal(account_login(srv, "+8613800000014", "a new password", PEER, &res), 0);
}

static void test_admin_and_roles(void **state)
{
	struct account_result res = { 0 };
	struct auth_user u;
	json_object *roles = NULL;
	struct db *db;
	int64_t id;

	(void)state;
	assert_int_equal(account_make_admin(srv, "+8613800000015", "admin password", &res), 0);
	assert_true(res.created);
	id = res.user_id;
	assert_int_equal(account_login(srv, "+8613800000015", "admin password", PEER, &res), 0);
	assert_int_equal(lookup(res.token, &u), 0);
	assert_true(u.admin);
	/* Again: the same account, a new password, still admin. */
	assert_int_equal(account_make_admin(srv, "+8613800000015", "admin password 2", &res), 0);
	assert_false(res.created);
	assert_int_equal(res.user_id, id);

	db = server_db_get(srv);
	assert_int_equal(db_exec(db, "INSERT INTO roles (user_id, role, site_id) VALUES ($1, "
				 "'attendant', 7)", "i", id), 0);
	assert_int_equal(db_exec(db, "INSERT INTO roles (user_id, role, spot_id) VALUES ($1, "
				 "'owner', 101)", "i", id), 0);
	/* The schema refuses an attendant of no site. */
	assert_int_equal(db_exec(db, "INSERT INTO roles (user_id, role) VALUES ($1, "
				 "'attendant')", "i", id), -DB_E_CONSTRAINT);
	assert_int_equal(account_roles(db, &u, &roles), 0);
	server_db_put(srv, db);
	assert_string_equal(json_object_to_json_string_ext(roles, JSON_C_TO_STRING_PLAIN),
			    "[{\"role\":\"driver\"},{\"role\":\"admin\"},"
			    "{\"role\":\"attendant\",\"site_id\":7},"
			    "{\"role\":\"owner\",\"spot_id\":101}]");
	json_object_put(roles);
}

static void test_expire_housekeeping(void **state)
{
	struct account_result res = { 0 };
	struct db *db;

	(void)state;
	make_user("+8613800000016", PW);
	assert_int_equal(account_login(srv, "+8613800000016", PW, PEER, &res), 0);
	assert_int_equal(account_register(srv, "+8613800000017", PEER, &res), 0);
	clock_now += 7200;
	db = server_db_get(srv);
	assert_int_equal(account_expire(srv, db, clock_now), 0);
	server_db_put(srv, db);
	assert_int_equal(count("SELECT COUNT(*) FROM sessions"), 0);
	assert_int_equal(count("SELECT COUNT(*) FROM sms_codes"), 0);
	assert_int_equal(count("SELECT COUNT(*) FROM rate_limits"), 0);
	assert_int_equal(count("SELECT COUNT(*) FROM users"), 1);
}

static void test_master_key_file(void **state)
{
	char path[160];
	struct stat st;
	uint8_t first[32];

	(void)state;
	snprintf(path, sizeof(path), "%s/master.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	memcpy(first, server_master_key(srv), 32);
	server_close(srv);
	open_server();
	assert_memory_equal(first, server_master_key(srv), 32);
	/* A key others can read is refused. */
	server_close(srv);
	srv = NULL;
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(server_open(&cfg, &srv), -1);
	assert_int_equal(chmod(path, 0600), 0);
	open_server();
}

static void test_gateway_wait(void **state)
{
	uint64_t gen = 0, seen;

	(void)state;
	/* A zero time-out reads the generation. */
	assert_int_equal(server_wait_gateways(srv, 0, 0, &gen), 0);
	assert_int_equal(server_wait_gateways(srv, gen, 20, &seen), 0);
	server_wake_gateways(srv);
	/* A wake-up between two waits is not lost. */
	assert_int_equal(server_wait_gateways(srv, gen, 1000, &seen), 1);
	assert_int_equal(seen, gen + 1);
	server_stop(srv);
	assert_int_equal(server_wait_gateways(srv, seen, 1000, &seen), -1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_phone_format),
		T(test_register_verify_login_logout),
		T(test_wrong_code_and_tries),
		T(test_expired_code),
		T(test_bad_input),
		T(test_sms_failure),
		T(test_login_failures_limited_per_account),
		T(test_failures_limited_per_address),
		T(test_sms_limited_per_phone),
		T(test_session_idle_expiry),
		T(test_session_upkeep_deferred),
		T(test_session_drop_after_touch_kept),
		T(test_caller_touch_on_the_writer),
		T(test_session_absolute_expiry),
		T(test_password_reset),
		T(test_admin_and_roles),
		T(test_expire_housekeeping),
		T(test_master_key_file),
		T(test_gateway_wait),
	};

	return cmocka_run_group_tests_name("account", tests, NULL, NULL);
}
