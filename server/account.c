/*
 * account.c: the account flows of account.h over the tables of 001-accounts.sql. SMS
 * codes are kept only as an HMAC under the master key, passwords only as argon2id
 * strings; every failure is counted before the check runs (ratelimit.h). No
 * transaction is ever held across a password hash or an SMS.
 */
#include "account.h"

#include <stdio.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "../lib/log.h"
#include "audit.h"
#include "config.h"
#include "ratelimit.h"
#include "sms.h"

#define ACCOUNT_SALT_LEN 16
#define ACCOUNT_HASH_LEN 32
#define ACCOUNT_ENCODED_MAX 192 /* an argon2id string of any of config.c's costs fits */
#define ACCOUNT_MAC_LEN 32

enum account_rule {
	RULE_FAIL_ACCOUNT, /* wrong codes and passwords, per phone number */
	RULE_FAIL_ADDRESS, /* the same, per client address */
	RULE_SMS_PHONE,    /* codes sent, per phone number */
	RULE_SMS_ADDRESS,  /* codes asked for, per client address */
	RULE_COUNT,
};

static void account_rules(const struct config *cfg, struct ratelimit_rule rules[RULE_COUNT])
{
	rules[RULE_FAIL_ACCOUNT] = (struct ratelimit_rule){ "fail-account", cfg->fail_max_account,
							    cfg->fail_window_s };
	rules[RULE_FAIL_ADDRESS] = (struct ratelimit_rule){ "fail-address", cfg->fail_max_address,
							    cfg->fail_window_s };
	rules[RULE_SMS_PHONE] = (struct ratelimit_rule){ "sms-phone", cfg->sms_max_phone,
							 cfg->sms_window_s };
	rules[RULE_SMS_ADDRESS] = (struct ratelimit_rule){ "sms-address", cfg->sms_max_address,
							   cfg->sms_window_s };
}

bool account_phone_valid(const char *phone)
{
	size_t i, n = strlen(phone);

	if (n < 9 || n > ACCOUNT_PHONE_MAX || phone[0] != '+' || phone[1] < '1' || phone[1] > '9')
		return false;
	for (i = 2; i < n; i++)
		if (phone[i] < '0' || phone[i] > '9')
			return false;
	return true;
}

static bool account_code_valid(const char *code)
{
	size_t i;

	if (strlen(code) != ACCOUNT_CODE_DIGITS)
		return false;
	for (i = 0; i < ACCOUNT_CODE_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return false;
	return true;
}

static bool account_password_valid(const char *password)
{
	size_t n = strlen(password);

	return n >= ACCOUNT_PASSWORD_MIN && n <= ACCOUNT_PASSWORD_MAX;
}

static void account_audit(struct server *srv, struct db *db, int64_t user_id, const char *action,
			  const char *phone, const char *peer)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "phone %s", phone);
	if (audit_append(db, server_now(srv), user_id, action, detail, peer) != 0) {
		log_error("audit: cannot record %s: %s", action, db_errmsg(db));
		server_count(srv, "parkd_audit_failures_total", 1);
	}
}

/*
 * Counts one attempt of `who` under rule a and of `peer` under rule b, in one
 * transaction. 0 when both are within their limits; -ACCOUNT_E_RATE_LIMITED with
 * res->retry_after when either is over (the other attempt is then not counted); or
 * -ACCOUNT_E_INTERNAL.
 */
static int account_take(struct server *srv, struct db *db, const struct ratelimit_rule *a,
			const char *who, const struct ratelimit_rule *b, const char *peer,
			struct account_result *res)
{
	int64_t now = server_now(srv), retry = 0;
	int r;

	if (db_begin(db) != 0)
		return -ACCOUNT_E_INTERNAL;
	r = ratelimit_take(db, a, who, now, &retry);
	if (r == 0) {
		r = ratelimit_take(db, b, peer, now, &retry);
		if (r == 1 && ratelimit_give_back(db, a, who) != 0)
			r = -DB_E_IO;
	}
	if (r < 0 || db_commit(db) != 0) {
		db_rollback(db);
		log_error("rate limits: %s", db_errmsg(db));
		return -ACCOUNT_E_INTERNAL;
	}
	if (r == 1) {
		res->retry_after = retry;
		server_count(srv, "parkd_rate_limited_total", 1);
		return -ACCOUNT_E_RATE_LIMITED;
	}
	return 0;
}

/* A uniform random 6-digit code. 0 or -1. */
static int account_new_code(char code[ACCOUNT_CODE_DIGITS + 1])
{
	uint32_t v;

	/* 4294000000 is the largest multiple of 10^6 below 2^32: no value is favoured. */
	do {
		if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
			return -1;
	} while (v >= 4294000000u);
	snprintf(code, ACCOUNT_CODE_DIGITS + 1, "%06u", (unsigned)(v % 1000000u));
	v = 0;
	return 0;
}

/* HMAC-SHA-256 under the master key of the phone and the code. 0 or -1. */
static int account_code_mac(struct server *srv, const char *phone, const char *code,
			    uint8_t mac[ACCOUNT_MAC_LEN])
{
	char msg[64];
	size_t outlen = 0;
	int n, r = -1;

	n = snprintf(msg, sizeof(msg), "sms-code:%s:%s", phone, code);
	if (n > 0 && (size_t)n < sizeof(msg) &&
	    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, server_master_key(srv), 32,
		      (const unsigned char *)msg, (size_t)n, mac, ACCOUNT_MAC_LEN,
		      &outlen) != NULL &&
	    outlen == ACCOUNT_MAC_LEN)
		r = 0;
	OPENSSL_cleanse(msg, sizeof(msg));
	return r;
}

/* A new argon2id string for `password` at the configured cost. 0 or -1. */
static int account_hash_password(struct server *srv, const char *password,
				 char encoded[ACCOUNT_ENCODED_MAX])
{
	const struct config_password_cost *c = server_config(srv)->password_cost;
	uint8_t salt[ACCOUNT_SALT_LEN];
	int rc;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	server_heavy_begin(srv);
	rc = argon2id_hash_encoded(c->t_cost, c->m_kib, c->lanes, password, strlen(password),
				   salt, sizeof(salt), ACCOUNT_HASH_LEN, encoded,
				   ACCOUNT_ENCODED_MAX);
	server_heavy_end(srv);
	if (rc != ARGON2_OK) {
		log_error("argon2id: %s", argon2_error_message(rc));
		return -1;
	}
	return 0;
}

/*
 * 0 when `password` matches the argon2id string `encoded` (libargon2 compares in
 * constant time), else -1. With encoded NULL (no such account) it spends a hash at the
 * configured cost anyway and returns -1, so the reply time tells nothing.
 */
static int account_check_password(struct server *srv, const char *encoded,
				  const char *password)
{
	const struct config_password_cost *c = server_config(srv)->password_cost;
	uint8_t salt[ACCOUNT_SALT_LEN] = { 0 }, out[ACCOUNT_HASH_LEN];
	int r = -1;

	server_heavy_begin(srv);
	if (encoded != NULL)
		r = argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK ? 0 : -1;
	else
		(void)argon2id_hash_raw(c->t_cost, c->m_kib, c->lanes, password, strlen(password),
					salt, sizeof(salt), out, sizeof(out));
	server_heavy_end(srv);
	return r;
}

int account_register(struct server *srv, const char *phone, const char *peer,
		     struct account_result *res)
{
	const struct config *cfg = server_config(srv);
	struct ratelimit_rule rules[RULE_COUNT];
	char code[ACCOUNT_CODE_DIGITS + 1], message[128];
	uint8_t mac[ACCOUNT_MAC_LEN];
	struct db *db = NULL;
	int64_t now = server_now(srv);
	int r = -ACCOUNT_E_BAD_INPUT;

	memset(code, 0, sizeof(code));
	memset(message, 0, sizeof(message));
	if (!account_phone_valid(phone))
		goto out;
	account_rules(cfg, rules);
	r = -ACCOUNT_E_INTERNAL;
	db = server_db_get(srv);
	if (db == NULL)
		goto out;
	r = account_take(srv, db, &rules[RULE_SMS_PHONE], phone, &rules[RULE_SMS_ADDRESS], peer,
			 res);
	if (r != 0)
		goto out;
	r = -ACCOUNT_E_INTERNAL;
	if (account_new_code(code) != 0 || account_code_mac(srv, phone, code, mac) != 0)
		goto out;
	/* The code and its audit row: one transaction, one sync to disk. */
	if (db_begin(db) != 0 ||
	    db_exec(db, "INSERT INTO sms_codes (phone, code_hash, created_at, expires_at, "
		    "tries_left) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (phone) DO UPDATE SET "
		    "code_hash = excluded.code_hash, created_at = excluded.created_at, "
		    "expires_at = excluded.expires_at, tries_left = excluded.tries_left",
		    "sbiii", phone, mac, sizeof(mac), now, now + ACCOUNT_CODE_TTL_S,
		    (int64_t)ACCOUNT_CODE_TRIES) != 0) {
		log_error("register: %s", db_errmsg(db));
		db_rollback(db);
		goto out;
	}
	account_audit(srv, db, 0, "sms_code_sent", phone, peer);
	if (db_commit(db) != 0) {
		log_error("register: %s", db_errmsg(db));
		db_rollback(db);
		goto out;
	}
	/* The SMS may take seconds: give the connection back first. */
	server_db_put(srv, db);
	db = NULL;
	snprintf(message, sizeof(message), "%s is your parking verification code. It expires "
		 "in %d minutes.", code, ACCOUNT_CODE_TTL_S / 60);
	if (sms_send(server_sms_sender(srv), phone, message) != 0) {
		server_count(srv, "parkd_sms_failures_total", 1);
		r = -ACCOUNT_E_SMS;
		goto out;
	}
	server_count(srv, "parkd_sms_sent_total", 1);
	r = 0;
out:
	OPENSSL_cleanse(code, sizeof(code));
	OPENSSL_cleanse(message, sizeof(message));
	if (db != NULL)
		server_db_put(srv, db);
	return r;
}

/*
 * Uses one try of phone's live code and copies its MAC into mac. 0, or -ACCOUNT_E_NO_CODE
 * (none, expired), -ACCOUNT_E_CODE_TRIES (tries used up), -ACCOUNT_E_INTERNAL. The try
 * is taken in the same statement that checks it, so concurrent guesses cannot share one.
 */
static int account_use_try(struct db *db, const char *phone, int64_t now,
			   uint8_t mac[ACCOUNT_MAC_LEN])
{
	struct db_stmt *st;
	const void *p;
	size_t len;
	int r = -ACCOUNT_E_INTERNAL;

	st = db_prepare(db, "UPDATE sms_codes SET tries_left = tries_left - 1 WHERE phone = $1 "
			"AND tries_left > 0 AND expires_at > $2 RETURNING code_hash");
	if (st == NULL || db_bind_text(st, 1, phone) != 0 || db_bind_int(st, 2, now) != 0)
		goto out;
	r = db_step(st);
	if (r == DB_ROW) {
		p = db_col_blob(st, 0, &len);
		if (len != ACCOUNT_MAC_LEN) {
			r = -ACCOUNT_E_INTERNAL;
			goto out;
		}
		memcpy(mac, p, len);
		r = db_step(st) == DB_DONE ? 0 : -ACCOUNT_E_INTERNAL;
		goto out;
	}
	if (r < 0) {
		r = -ACCOUNT_E_INTERNAL;
		goto out;
	}
	db_finalize(st);
	/* No try taken: say why. */
	r = -ACCOUNT_E_INTERNAL;
	st = db_prepare(db, "SELECT tries_left FROM sms_codes WHERE phone = $1 "
			"AND expires_at > $2");
	if (st == NULL || db_bind_text(st, 1, phone) != 0 || db_bind_int(st, 2, now) != 0)
		goto out;
	r = db_step(st);
	if (r < 0)
		r = -ACCOUNT_E_INTERNAL;
	else
		r = r == DB_ROW ? -ACCOUNT_E_CODE_TRIES : -ACCOUNT_E_NO_CODE;
out:
	db_finalize(st);
	return r;
}

/* The id of phone's account, 0 when there is none, or -DB_E_*. */
static int64_t account_find(struct db *db, const char *phone, char *encoded, size_t cap)
{
	struct db_stmt *st;
	const char *h;
	int64_t r = -DB_E_IO;

	st = db_prepare(db, "SELECT id, password_hash FROM users WHERE phone = $1");
	if (st == NULL || db_bind_text(st, 1, phone) != 0)
		goto out;
	r = db_step(st);
	if (r == DB_ROW) {
		r = db_col_int(st, 0);
		h = db_col_text(st, 1);
		if (encoded != NULL)
			snprintf(encoded, cap, "%s", h != NULL ? h : "");
	}
out:
	db_finalize(st);
	return r;
}

/*
 * Sets phone's password to `encoded` in db's current transaction: a new account, or a
 * new password (and no sessions) for the existing one; `admin` makes it an
 * administrator. 0 with res->user_id and res->created, or -DB_E_*.
 */
static int account_set_password(struct db *db, const char *phone, const char *encoded,
				bool admin, int64_t now, struct account_result *res)
{
	struct db_stmt *st = NULL;
	int64_t id;
	int r;

	id = account_find(db, phone, NULL, 0);
	if (id < 0)
		return (int)id;
	if (id > 0) {
		r = db_exec(db, "UPDATE users SET password_hash = $1, "
			    "admin = CASE WHEN $2 = 1 THEN 1 ELSE admin END WHERE id = $3", "sii",
			    encoded, (int64_t)admin, id);
		if (r == 0)
			r = session_delete_user(db, id);
		res->user_id = id;
		res->created = false;
		return r;
	}
	r = -DB_E_IO;
	st = db_prepare(db, "INSERT INTO users (phone, password_hash, admin, created_at) "
			"VALUES ($1, $2, $3, $4) RETURNING id");
	if (st == NULL || db_bind_text(st, 1, phone) != 0 || db_bind_text(st, 2, encoded) != 0 ||
	    db_bind_int(st, 3, admin) != 0 || db_bind_int(st, 4, now) != 0)
		goto out;
	r = db_step(st);
	if (r != DB_ROW) {
		r = r < 0 ? r : -DB_E_IO;
		goto out;
	}
	res->user_id = db_col_int(st, 0);
	res->created = true;
	r = db_step(st) == DB_DONE ? 0 : -DB_E_IO;
out:
	db_finalize(st);
	return r;
}

int account_verify(struct server *srv, const char *phone, const char *code,
		   const char *password, const char *peer, struct account_result *res)
{
	struct ratelimit_rule rules[RULE_COUNT];
	uint8_t stored[ACCOUNT_MAC_LEN], mac[ACCOUNT_MAC_LEN];
	char encoded[ACCOUNT_ENCODED_MAX];
	struct db *db = NULL;
	int64_t now = server_now(srv);
	int r = -ACCOUNT_E_BAD_INPUT;

	if (!account_phone_valid(phone) || !account_code_valid(code) ||
	    !account_password_valid(password))
		goto out;
	account_rules(server_config(srv), rules);
	r = -ACCOUNT_E_INTERNAL;
	db = server_db_get(srv);
	if (db == NULL)
		goto out;
	r = account_take(srv, db, &rules[RULE_FAIL_ACCOUNT], phone, &rules[RULE_FAIL_ADDRESS],
			 peer, res);
	if (r != 0)
		goto out;
	r = account_use_try(db, phone, now, stored);
	if (r == -ACCOUNT_E_NO_CODE) {
		/* Asking without a code is no guess: it does not count as a failure. */
		(void)ratelimit_give_back(db, &rules[RULE_FAIL_ACCOUNT], phone);
		(void)ratelimit_give_back(db, &rules[RULE_FAIL_ADDRESS], peer);
	}
	if (r != 0)
		goto out;
	r = -ACCOUNT_E_INTERNAL;
	if (account_code_mac(srv, phone, code, mac) != 0)
		goto out;
	if (CRYPTO_memcmp(mac, stored, sizeof(mac)) != 0) {
		account_audit(srv, db, 0, "code_failed", phone, peer);
		r = -ACCOUNT_E_CODE_WRONG;
		goto out;
	}
	server_db_put(srv, db);
	db = NULL;
	if (account_hash_password(srv, password, encoded) != 0)
		goto out;
	db = server_db_get(srv);
	if (db == NULL || db_begin(db) != 0)
		goto out;
	/* The code is used up here, once: a concurrent verify of it finds no row. */
	if (db_exec(db, "DELETE FROM sms_codes WHERE phone = $1 AND code_hash = $2", "sb", phone,
		    stored, sizeof(stored)) != 0)
		goto fail;
	if (db_changes(db) != 1) {
		r = -ACCOUNT_E_NO_CODE;
		goto fail;
	}
	if (account_set_password(db, phone, encoded, false, now, res) != 0 ||
	    ratelimit_clear(db, &rules[RULE_FAIL_ACCOUNT], phone) != 0 ||
	    ratelimit_give_back(db, &rules[RULE_FAIL_ADDRESS], peer) != 0)
		goto fail;
	account_audit(srv, db, res->user_id, res->created ? "account_created" : "password_reset",
		      phone, peer);
	if (db_commit(db) != 0)
		goto fail;
	if (res->created)
		server_count(srv, "parkd_accounts_created_total", 1);
	r = 0;
	goto out;
fail:
	if (r == -ACCOUNT_E_INTERNAL)
		log_error("verify: %s", db_errmsg(db));
	db_rollback(db);
out:
	OPENSSL_cleanse(encoded, sizeof(encoded));
	if (db != NULL)
		server_db_put(srv, db);
	return r;
}

int account_login(struct server *srv, const char *phone, const char *password,
		  const char *peer, struct account_result *res)
{
	const struct config *cfg = server_config(srv);
	struct ratelimit_rule rules[RULE_COUNT];
	char encoded[ACCOUNT_ENCODED_MAX];
	struct db *db = NULL;
	int64_t id, now;
	int r = -ACCOUNT_E_BAD_INPUT;

	encoded[0] = '\0';
	if (!account_phone_valid(phone) || strlen(password) > ACCOUNT_PASSWORD_MAX)
		goto out;
	account_rules(cfg, rules);
	r = -ACCOUNT_E_INTERNAL;
	db = server_db_get(srv);
	if (db == NULL)
		goto out;
	r = account_take(srv, db, &rules[RULE_FAIL_ACCOUNT], phone, &rules[RULE_FAIL_ADDRESS],
			 peer, res);
	if (r != 0)
		goto out;
	r = -ACCOUNT_E_INTERNAL;
	id = account_find(db, phone, encoded, sizeof(encoded));
	if (id < 0)
		goto out;
	server_db_put(srv, db);
	db = NULL;
	r = account_check_password(srv, id > 0 ? encoded : NULL, password);
	db = server_db_get(srv);
	if (db == NULL) {
		r = -ACCOUNT_E_INTERNAL;
		goto out;
	}
	if (r != 0) {
		account_audit(srv, db, id, "login_failed", phone, peer);
		server_count(srv, "parkd_login_failures_total", 1);
		r = -ACCOUNT_E_CREDENTIALS;
		goto out;
	}
	r = -ACCOUNT_E_INTERNAL;
	now = server_now(srv);
	if (db_begin(db) != 0)
		goto out;
	if (session_create(db, cfg, id, now, res->token, &res->expires_at) != 0 ||
	    ratelimit_clear(db, &rules[RULE_FAIL_ACCOUNT], phone) != 0 ||
	    ratelimit_give_back(db, &rules[RULE_FAIL_ADDRESS], peer) != 0) {
		log_error("login: %s", db_errmsg(db));
		db_rollback(db);
		goto out;
	}
	account_audit(srv, db, id, "login", phone, peer);
	if (db_commit(db) != 0) {
		log_error("login: %s", db_errmsg(db));
		db_rollback(db);
		goto out;
	}
	res->user_id = id;
	server_count(srv, "parkd_logins_total", 1);
	r = 0;
out:
	OPENSSL_cleanse(encoded, sizeof(encoded));
	if (db != NULL)
		server_db_put(srv, db);
	return r;
}

int account_make_admin(struct server *srv, const char *phone, const char *password,
		       struct account_result *res)
{
	char encoded[ACCOUNT_ENCODED_MAX];
	struct db *db = NULL;
	int r = -ACCOUNT_E_BAD_INPUT;

	encoded[0] = '\0';
	if (!account_phone_valid(phone) || !account_password_valid(password))
		goto out;
	r = -ACCOUNT_E_INTERNAL;
	if (account_hash_password(srv, password, encoded) != 0)
		goto out;
	db = server_db_get(srv);
	if (db == NULL || db_begin(db) != 0)
		goto out;
	if (account_set_password(db, phone, encoded, true, server_now(srv), res) != 0) {
		log_error("admin-create: %s", db_errmsg(db));
		db_rollback(db);
		goto out;
	}
	account_audit(srv, db, res->user_id, "admin_created", phone, NULL);
	if (db_commit(db) != 0) {
		db_rollback(db);
		goto out;
	}
	r = 0;
out:
	OPENSSL_cleanse(encoded, sizeof(encoded));
	if (db != NULL)
		server_db_put(srv, db);
	return r;
}

static json_object *account_role(const char *role)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "role", json_object_new_string(role));
	return o;
}

int account_roles(struct db *db, const struct auth_user *user, json_object **out)
{
	json_object *arr = json_object_new_array(), *o;
	struct db_stmt *st;
	int r = -DB_E_IO;

	json_object_array_add(arr, account_role("driver"));
	if (user->admin)
		json_object_array_add(arr, account_role("admin"));
	st = db_prepare(db, "SELECT role, site_id, spot_id FROM roles WHERE user_id = $1 "
			"ORDER BY id");
	if (st == NULL || db_bind_int(st, 1, user->user_id) != 0)
		goto out;
	while ((r = db_step(st)) == DB_ROW) {
		o = account_role(db_col_text(st, 0));
		if (!db_col_null(st, 1))
			json_object_object_add(o, "site_id",
					       json_object_new_int64(db_col_int(st, 1)));
		if (!db_col_null(st, 2))
			json_object_object_add(o, "spot_id",
					       json_object_new_int64(db_col_int(st, 2)));
		json_object_array_add(arr, o);
	}
	if (r == DB_DONE) {
		*out = arr;
		arr = NULL;
	}
out:
	db_finalize(st);
	json_object_put(arr);
	return r;
}

int account_expire(struct server *srv, struct db *db, int64_t now)
{
	const struct config *cfg = server_config(srv);
	int64_t window = cfg->fail_window_s > cfg->sms_window_s ? cfg->fail_window_s :
		cfg->sms_window_s;
	int r;

	r = db_exec(db, "DELETE FROM sms_codes WHERE expires_at <= $1", "i", now);
	if (r == 0)
		r = session_expire(db, cfg, now);
	if (r == 0)
		r = ratelimit_expire(db, now, window);
	return r;
}
