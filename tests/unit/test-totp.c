/*
 * test-totp.c: server/totp (RFC 6238's appendix B vectors for HMAC-SHA-1 at 8 digits and
 * their 6-digit truncations, the window of one step either side, replays, base32 of RFC
 * 4648) and server/otp with its routes: an enrolment is not active until confirmed, a
 * code is accepted once, a wrong one is counted and the sixth within ten minutes is
 * rate-limited, the secret is sealed at rest; and the actions it guards (an owner's
 * approval, the attendant's override) ask an enrolled user for a current code in the
 * body or the X-Park-OTP header, and change nothing without one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../server/otp.h"
#include "../../server/role.h"
#include "../../server/routes.h"
#include "../../server/totp.h"
#include "../support/test-route.h"

#define NOW 1800000000
#define SITE 7

/* RFC 6238 appendix B: the SHA-1 seed, and each time with its 8-digit code. */
static const uint8_t rfc_seed[] = "12345678901234567890";
static const struct {
	int64_t time;
	const char *code;
} rfc_vectors[] = {
	{ 59, "94287082" },
	{ 1111111109, "07081804" },
	{ 1111111111, "14050471" },
	{ 1234567890, "89005924" },
	{ 2000000000, "69279037" },
	{ 20000000000LL, "65353130" },
};

static void test_rfc6238_vectors(void **state)
{
	char code[TOTP_DIGITS_MAX + 1];
	uint64_t step = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
		assert_int_equal(totp_code(rfc_seed, 20, totp_step(rfc_vectors[i].time), 8, code,
					   sizeof(code)), 0);
		assert_string_equal(code, rfc_vectors[i].code);
		/* Six digits are the same number modulo 10^6: the last six. */
		assert_int_equal(totp_code(rfc_seed, 20, totp_step(rfc_vectors[i].time), 6, code,
					   sizeof(code)), 0);
		assert_string_equal(code, rfc_vectors[i].code + 2);
		assert_int_equal(totp_match(rfc_seed, 20, rfc_vectors[i].time,
					    rfc_vectors[i].code + 2, 0, &step), TOTP_MATCH);
		assert_int_equal(step, totp_step(rfc_vectors[i].time));
	}
	/* Out of range: no key, too many digits, no room. */
	assert_int_equal(totp_code(rfc_seed, 0, 1, 6, code, sizeof(code)), -1);
	assert_int_equal(totp_code(rfc_seed, 20, 1, 10, code, sizeof(code)), -1);
	assert_int_equal(totp_code(rfc_seed, 20, 1, 6, code, 6), -1);
}

static void test_window_and_replay(void **state)
{
	char code[8];
	uint64_t step = 0, now_step = totp_step(NOW);
	int d;

	(void)state;
	/* One step either side is accepted, two are not. */
	for (d = -2; d <= 2; d++) {
		assert_int_equal(totp_code(rfc_seed, 20, now_step + (uint64_t)(int64_t)d, 6, code,
					   sizeof(code)), 0);
		assert_int_equal(totp_match(rfc_seed, 20, NOW, code, 0, &step),
				 d >= -1 && d <= 1 ? TOTP_MATCH : TOTP_NO_MATCH);
		if (d >= -1 && d <= 1)
			assert_int_equal(step, now_step + (uint64_t)(int64_t)d);
	}
	/* A step at or before the last accepted one is a replay. */
	assert_int_equal(totp_code(rfc_seed, 20, now_step, 6, code, sizeof(code)), 0);
	assert_int_equal(totp_match(rfc_seed, 20, NOW, code, now_step, &step), TOTP_REPLAYED);
	assert_int_equal(totp_match(rfc_seed, 20, NOW, code, now_step - 1, &step), TOTP_MATCH);
	/* Malformed codes match nothing. */
	assert_int_equal(totp_match(rfc_seed, 20, NOW, "12345", 0, &step), TOTP_NO_MATCH);
	assert_int_equal(totp_match(rfc_seed, 20, NOW, "1234567", 0, &step), TOTP_NO_MATCH);
	assert_int_equal(totp_match(rfc_seed, 20, NOW, "12a456", 0, &step), TOTP_NO_MATCH);
	assert_int_equal(totp_match(rfc_seed, 20, NOW, "", 0, &step), TOTP_NO_MATCH);
	assert_int_equal(totp_match(rfc_seed, 20, NOW, NULL, 0, &step), TOTP_NO_MATCH);
}

static void test_base32(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{ "", "" }, { "f", "MY" }, { "fo", "MZXQ" }, { "foo", "MZXW6" },
		{ "foob", "MZXW6YQ" }, { "fooba", "MZXW6YTB" }, { "foobar", "MZXW6YTBOI" },
	};
	char out[TOTP_BASE32_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(totp_base32((const uint8_t *)v[i].in, strlen(v[i].in), out,
					     sizeof(out)), (int)strlen(v[i].out));
		assert_string_equal(out, v[i].out);
	}
	assert_int_equal(totp_base32(rfc_seed, 20, out, sizeof(out)), 32);
	assert_string_equal(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	assert_int_equal(totp_base32(rfc_seed, 20, out, 32), -1);
}

/* ---- enrolment and checks, through the routes ---- */

struct fixture {
	struct test_route *r;
	struct auth_user owner, attendant, friend;
	uint8_t secret[TOTP_SECRET_LEN]; /* the owner's, once enrolled */
};

static struct auth_user user_of(struct test_site_db *t, int n)
{
	struct auth_user u;

	memset(&u, 0, sizeof(u));
	u.user_id = test_site_db_user(t, n);
	snprintf(u.phone, sizeof(u.phone), "+8613800000%03d", n);
	return u;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int64_t id = 0;

	must(f != NULL);
	log_init("test-totp", LOG_ERROR);
	test_route_now = NOW;
	f->r = test_route_new();
	f->owner = user_of(f->r->t, 1);
	f->attendant = user_of(f->r->t, 2);
	f->friend = user_of(f->r->t, 3);
	must(role_grant(f->r->t->db, f->attendant.phone, "attendant", SITE, &id) == 0);
	must(db_exec(f->r->t->db, "UPDATE spots SET owner_id = $1 WHERE id = 101", "i",
		     f->owner.user_id) == 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_route_free(f->r);
	free(f);
	return 0;
}

static int64_t count(struct fixture *f, const char *sql)
{
	return test_site_db_int(f->r->t->db, sql);
}

static int otp_call(struct fixture *f, const char *pattern, const struct auth_user *u,
		    const char *body, json_object **reply)
{
	return test_route_call(f->r, otp_routes, otp_routes_count, "POST", pattern, NULL, NULL, u,
			       body, reply);
}

static int base32_decode(const char *s, uint8_t *out, size_t cap)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;
	const char *p;

	for (; *s != '\0'; s++) {
		p = strchr(alphabet, *s);
		if (p == NULL)
			return -1;
		acc = acc << 5 | (uint32_t)(p - alphabet);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)n;
}

/* The code of `secret` at now + `d` steps. */
static const char *code_at(const uint8_t secret[TOTP_SECRET_LEN], int d)
{
	static char code[8];

	must(totp_code(secret, TOTP_SECRET_LEN, totp_step(test_route_now) + (uint64_t)(int64_t)d,
		       6, code, sizeof(code)) == 0);
	return code;
}

static const char *body_with(const char *code)
{
	static char body[64];

	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"otp\":\"%s\"}", code, code);
	return body;
}

/* The reply is read through its pointer: after the call, whatever the order of arguments. */
static void expect(int status, json_object **reply, int want, const char *code)
{
	if (status != want || (code != NULL && strcmp(test_route_error(*reply), code) != 0))
		fail_msg("got %d %s, wanted %d %s", status, json_object_to_json_string(*reply),
			 want, code != NULL ? code : "");
	json_object_put(*reply);
	*reply = NULL;
}

/* Enrols the owner and confirms it; the secret into f->secret. */
static void enrol_owner(struct fixture *f)
{
	json_object *reply = NULL, *v;
	const char *uri;

	assert_int_equal(otp_call(f, "/v1/otp/enrol", &f->owner, NULL, &reply), 201);
	assert_true(json_object_object_get_ex(reply, "secret", &v));
	assert_int_equal(base32_decode(json_object_get_string(v), f->secret, sizeof(f->secret)),
			 TOTP_SECRET_LEN);
	assert_true(json_object_object_get_ex(reply, "uri", &v));
	uri = json_object_get_string(v);
	assert_true(strncmp(uri, "otpauth://totp/Parking:%2B8613800000001?secret=", 47) == 0);
	assert_non_null(strstr(uri, "&issuer=Parking&digits=6&period=30"));
	json_object_put(reply);
	assert_int_equal(otp_call(f, "/v1/otp/confirm", &f->owner, body_with(code_at(f->secret, 0)),
				  NULL), 200);
}

static bool me_otp(struct fixture *f, const struct auth_user *u)
{
	json_object *reply = NULL, *v;
	bool on;

	assert_int_equal(test_route_call(f->r, account_routes, account_routes_count, "GET",
					 "/v1/me", NULL, NULL, u, NULL, &reply), 200);
	assert_true(json_object_object_get_ex(reply, "otp", &v));
	on = json_object_get_boolean(v);
	json_object_put(reply);
	return on;
}

static void test_enrol_and_confirm(void **state)
{
	struct fixture *f = *state;
	json_object *reply = NULL, *v;
	uint8_t secret[TOTP_SECRET_LEN];
	char text[TOTP_BASE32_MAX], sql[256];
	struct db_stmt *st;
	const uint8_t *blob;
	size_t len = 0, i;

	assert_false(me_otp(f, &f->owner));
	/* Nothing to confirm before an enrolment. */
	expect(otp_call(f, "/v1/otp/confirm", &f->owner, "{\"code\":\"123456\"}", &reply), &reply,
	       409, "conflict");
	assert_int_equal(otp_call(f, "/v1/otp/enrol", &f->owner, "{}", &reply), 201);
	assert_true(json_object_object_get_ex(reply, "secret", &v));
	assert_int_equal(base32_decode(json_object_get_string(v), secret, sizeof(secret)), 20);
	snprintf(text, sizeof(text), "%s", json_object_get_string(v));
	json_object_put(reply);
	/* Pending: not asked for yet. */
	assert_false(me_otp(f, &f->owner));
	/* At rest the secret is sealed, never in the clear. */
	st = db_prepare(f->r->t->db, "SELECT pending FROM otp_secrets WHERE user_id = $1");
	assert_true(st != NULL && db_bind_int(st, 1, f->owner.user_id) == 0 &&
		    db_step(st) == DB_ROW);
	blob = db_col_blob(st, 0, &len);
	assert_int_equal(len, TOTP_SECRET_LEN + 28);
	for (i = 0; i + sizeof(secret) <= len; i++)
		assert_memory_not_equal(blob + i, secret, sizeof(secret));
	db_finalize(st);
	/* Audited, without the secret. */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit WHERE action = 'otp_enrol'"), 1);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM audit WHERE detail LIKE '%%%s%%'", text);
	assert_int_equal(count(f, sql), 0);

	/* A bad code is a field error; a wrong one is counted; the right one confirms. */
	expect(otp_call(f, "/v1/otp/confirm", &f->owner, "{\"code\":\"12345\"}", &reply), &reply,
	       400, "bad_field");
	expect(otp_call(f, "/v1/otp/confirm", &f->owner, "{\"code\":\"000000\"}", &reply), &reply,
	       401, "otp_wrong");
	assert_int_equal(otp_call(f, "/v1/otp/confirm", &f->owner,
				  body_with(code_at(secret, 1)), NULL), 200);
	assert_true(me_otp(f, &f->owner));
	/* The confirming code's step is used up, and so is every earlier one. */
	expect(otp_call(f, "/v1/otp/enrol", &f->owner, body_with(code_at(secret, 1)), &reply),
	       &reply, 401, "otp_replayed");
	expect(otp_call(f, "/v1/otp/enrol", &f->owner, body_with(code_at(secret, 0)), &reply),
	       &reply, 401, "otp_replayed");
	/* Enrolled, a new secret needs a code from the old one. */
	expect(otp_call(f, "/v1/otp/enrol", &f->owner, NULL, &reply), &reply, 401, "otp_required");
	test_route_now += TOTP_PERIOD_S * 2;
	assert_int_equal(otp_call(f, "/v1/otp/enrol", &f->owner, body_with(code_at(secret, 0)),
				  &reply), 201);
	json_object_put(reply);
	/* Until the new one is confirmed, the old one is still the one asked for. */
	assert_true(me_otp(f, &f->owner));
	assert_int_equal(count(f, "SELECT COUNT(*) FROM otp_secrets WHERE secret IS NOT NULL AND "
			       "pending IS NOT NULL"), 1);
	test_route_now = NOW;
}

static void test_wrong_codes_rate_limited(void **state)
{
	struct fixture *f = *state;
	json_object *reply = NULL;
	char wrong[8];
	int i;

	enrol_owner(f);
	test_route_now += TOTP_PERIOD_S * 3;
	/* A code from the window never matches "wrong": pick one from far away. */
	snprintf(wrong, sizeof(wrong), "%s", code_at(f->secret, 100));
	for (i = 0; i < OTP_WRONG_MAX; i++)
		expect(otp_call(f, "/v1/otp/enrol", &f->owner, body_with(wrong), &reply), &reply,
		       401, "otp_wrong");
	/* The sixth in ten minutes is refused without a look, even a right one. */
	expect(otp_call(f, "/v1/otp/enrol", &f->owner, body_with(code_at(f->secret, 0)), &reply),
	       &reply, 429, "rate_limited");
	/* The window ends; then a right code works, and gives its attempt back. */
	test_route_now += OTP_WRONG_WINDOW_S;
	assert_int_equal(otp_call(f, "/v1/otp/enrol", &f->owner, body_with(code_at(f->secret, 0)),
				  &reply), 201);
	json_object_put(reply);
	assert_int_equal(count(f, "SELECT hits FROM rate_limits WHERE scope = 'otp-account'"), 0);
	test_route_now = NOW;
}

/* ---- what the code guards ---- */

static void test_guards_owner_and_override(void **state)
{
	struct fixture *f = *state;
	json_object *reply = NULL;
	char body[128];
	int64_t queued;

	enrol_owner(f);
	test_route_now += TOTP_PERIOD_S * 3;
	/* The authorised list: no code, a wrong one, the right one, the same one again. */
	snprintf(body, sizeof(body), "{\"phone\":\"%s\"}", f->friend.phone);
	expect(test_route_call(f->r, spot_routes, spot_routes_count, "POST",
			       "/v1/spots/{id}/authorised", "101", NULL, &f->owner, body, &reply),
	       &reply, 401, "otp_required");
	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"otp\":\"%s\"}", f->friend.phone,
		 code_at(f->secret, 50));
	expect(test_route_call(f->r, spot_routes, spot_routes_count, "POST",
			       "/v1/spots/{id}/authorised", "101", NULL, &f->owner, body, &reply),
	       &reply, 401, "otp_wrong");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM authorised_users"), 0);
	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"otp\":\"%s\"}", f->friend.phone,
		 code_at(f->secret, 0));
	expect(test_route_call(f->r, spot_routes, spot_routes_count, "POST",
			       "/v1/spots/{id}/authorised", "101", NULL, &f->owner, body, &reply),
	       &reply, 201, NULL);
	expect(test_route_call(f->r, spot_routes, spot_routes_count, "POST",
			       "/v1/spots/{id}/authorised", "101", NULL, &f->owner, body, &reply),
	       &reply, 401, "otp_replayed");
	/* A refused action gives its code back: it may be used for the next try. */
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", code_at(f->secret, 1));
	expect(test_route_call(f->r, spot_routes, spot_routes_count, "DELETE",
			       "/v1/spots/{id}/authorised/{user_id}", "101", "999", &f->owner,
			       body, &reply), &reply, 404, "not_found");
	snprintf(body, sizeof(body), "%lld", (long long)f->friend.user_id);
	{
		char otp[64];

		snprintf(otp, sizeof(otp), "{\"otp\":\"%s\"}", code_at(f->secret, 1));
		expect(test_route_call(f->r, spot_routes, spot_routes_count, "DELETE",
				       "/v1/spots/{id}/authorised/{user_id}", "101", body,
				       &f->owner, otp, &reply), &reply, 204, NULL);
	}
	/* Users who are not enrolled are never asked. */
	queued = count(f, "SELECT COUNT(*) FROM mgmt_queue");
	expect(test_route_call(f->r, override_routes, override_routes_count, "POST",
			       "/v1/spots/{id}/override", "101", NULL, &f->attendant,
			       "{\"op\":\"unlock\",\"reason\":\"stuck\"}", &reply), &reply, 202,
	       NULL);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue"), queued + 1);
	test_route_now = NOW;
}

static void test_guards_override(void **state)
{
	struct fixture *f = *state;
	json_object *reply = NULL, *v;
	uint8_t secret[TOTP_SECRET_LEN];
	char body[128];

	/* The attendant enrols: overrides need a code from then on. */
	assert_int_equal(otp_call(f, "/v1/otp/enrol", &f->attendant, NULL, &reply), 201);
	assert_true(json_object_object_get_ex(reply, "secret", &v));
	assert_int_equal(base32_decode(json_object_get_string(v), secret, sizeof(secret)), 20);
	json_object_put(reply);
	assert_int_equal(otp_call(f, "/v1/otp/confirm", &f->attendant,
				  body_with(code_at(secret, -1)), NULL), 200);
	expect(test_route_call(f->r, override_routes, override_routes_count, "POST",
			       "/v1/spots/{id}/override", "101", NULL, &f->attendant,
			       "{\"op\":\"unlock\",\"reason\":\"stuck\"}", &reply), &reply, 401,
	       "otp_required");
	snprintf(body, sizeof(body), "{\"op\":\"unlock\",\"reason\":\"stuck\",\"otp\":\"%s\"}",
		 code_at(secret, 7));
	expect(test_route_call(f->r, override_routes, override_routes_count, "POST",
			       "/v1/spots/{id}/override", "101", NULL, &f->attendant, body,
			       &reply), &reply, 401, "otp_wrong");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM overrides"), 0);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM mgmt_queue WHERE kind = 'override'"), 0);
	snprintf(body, sizeof(body), "{\"op\":\"unlock\",\"reason\":\"stuck\",\"otp\":\"%s\"}",
		 code_at(secret, 0));
	expect(test_route_call(f->r, override_routes, override_routes_count, "POST",
			       "/v1/spots/{id}/override", "101", NULL, &f->attendant, body,
			       &reply), &reply, 202, NULL);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM overrides"), 1);
}

/* ---- the code in a request ---- */

static void test_request_code(void **state)
{
	struct http_request req;
	struct http_reply rep;
	const char *code = "x";
	static const char good[] = " {\"otp\":\"123456\"} ", bad[] = "{\"otp\":\"1\"} x";

	(void)state;
	memset(&req, 0, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	/* No body, no header: none. */
	assert_int_equal(otp_request_code(&req, &rep, &code), 0);
	assert_null(code);
	/* A body the route did not parse is parsed here. */
	req.body = (const uint8_t *)good;
	req.body_len = strlen(good);
	assert_int_equal(otp_request_code(&req, &rep, &code), 0);
	assert_string_equal(code, "123456");
	json_object_put(req.json);
	req.json = NULL;
	req.body = (const uint8_t *)bad;
	req.body_len = strlen(bad);
	assert_int_equal(otp_request_code(&req, &rep, &code), -1);
	assert_int_equal(rep.status, 400);
	assert_string_equal(test_route_error(rep.json), "bad_json");
	json_object_put(rep.json);
	assert_null(req.json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_window_and_replay),
		cmocka_unit_test(test_base32),
		cmocka_unit_test(test_request_code),
		cmocka_unit_test_setup_teardown(test_enrol_and_confirm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_codes_rate_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guards_owner_and_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guards_override, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
