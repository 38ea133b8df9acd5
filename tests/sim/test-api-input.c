/*
 * test-api-input.c: black-box test of the real parkd's refusals, driven by its own route
 * table (`parkd --routes`; a route without a row in route_cases fails the test). Every
 * route gets the wrong method, oversized bodies, no or a dead session (logged out,
 * expired) or a bad gateway signature, malformed JSON, missing and mistyped fields,
 * unknown IDs and other people's objects: each gets its 4xx with a stable code and a
 * sentence, and the database (every table, read with SQLite) and the business counters
 * are what they were. Then parkd is SIGKILLed in the middle of 8 drivers' e-key requests:
 * after the restart every acknowledged key is in its driver's list and its site-signed
 * INSTALL_CRED is queued for its gateway, each once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "../../gateway/gwauth.h"
#include "../../lib/ecies.h"
#include "../../lib/hex.h"
#include "../../lib/p256.h"
#include "../../lockfw/proto/proto.h"
#include "../support/test-must.h"
#include "../support/test-proc.h"
#include "../support/test-totp.h"

#define WAIT_MS 10000
#define BODY_MAX 65536                  /* HTTP_BODY_MAX of server/http.h */
#define DISCARD_MAX (1024 * 1024)       /* HTTP_DISCARD_MAX of server/http.c */
#define BIG_BODY (2 * DISCARD_MAX)
#define PASSWORD "correct horse battery"
#define ADMIN_PHONE "+8613900000000"
#define NO_ACCOUNT_PHONE "+8613800000077" /* never registered */
#define SITE1 1
#define SITE2 2
#define SITE3 3                         /* imported only by the positive control */
#define SITE1_NAME "Input test garage 1"
#define SPOT_FREE 101                   /* anyone; the driver holds a key for it */
#define SPOT_OWNED 102                  /* the owner's */
#define SPOT_CLOSED 103                 /* only users its owner authorised */
#define SPOT_LANELESS 104               /* its node has no lane; the alarm rows force it */
#define SITE1_SPOTS 4
#define SITE3_SPOT 301
#define KILL_DRIVERS 8
#define KILL_EACH 6                     /* spots each driver asks for, one after another */
#define KILL_SPOT0 2001                 /* site 2: KILL_DRIVERS * KILL_EACH spots from here */
#define KILL_SPOTS (KILL_DRIVERS * KILL_EACH)
#define TEXT_MAX 16384                  /* an expanded body or target */
#define DELIVERY_BATCH_MAX 64           /* messages in one poll (server/delivery.h) */
#define STREAM_TIMEOUT_MS 3000          /* GET /v1/events: a stream would never end */
#define OTP_SECRET_MAX 64               /* base32 of a one-time-code secret, NUL included */
#define OTP_PERIOD_S 30                 /* seconds per one-time code (RFC 6238, as parkd) */

/* ---- the world: programs, users, gateways, locks ---- */

static char parkd[512];
static char dir[64], conf[160], logpath[160], smspath[160], dbpath[160];
static pid_t pk_pid = -1;
static unsigned port;

/* U_ATTENDANT: an attendant of site 1; U_ATTENDANT2: of site 2 only. */
enum { U_ADMIN, U_OWNER, U_DRIVER, U_OTHER, U_FRESH, U_ATTENDANT, U_ATTENDANT2, U_FIXED };
#define USERS (U_FIXED + KILL_DRIVERS)

struct user {
	char phone[20];
	int64_t id;
	char token[65];
	uint8_t res_pub[64];    /* reservation public key, once asked for */
	char otp_secret[OTP_SECRET_MAX]; /* his authenticator app's (base32), once enrolled */
};

static struct user users[USERS];

struct gw {
	int64_t id;
	EVP_PKEY *key;
	char pub_hex[129];
};

#define GWS 5
static struct gw gws[GWS];              /* by ID: 1 site 1's, 2 and 4 site 2's, 3 site 3's */
static EVP_PKEY *lock101;               /* the made-up device key of lock 101 */
static char dev_hex[SITE1_SPOTS][129];  /* site 1's lock device keys */
static char dev2_hex[KILL_SPOTS][129];  /* site 2's */
static char dev3_hex[2][129];           /* site 3's */
static char device_hex[129];            /* a driver's phone */
static uint8_t site1_pub[64], site2_pub[64];
static int64_t msg101, msg101_seq;      /* the INSTALL_CRED of the driver's key for 101 */
static int64_t staff_role;              /* a site-1 role row the DELETE route may withdraw */
static int64_t forced_alarm, forced_seq; /* an open alarm of 104 and the event that raised it */
static char logged_out[65];             /* a token whose session was ended by logout */

/* ---- credentials ---- */

enum cred_kind { CRED_NONE, CRED_USER, CRED_RAW, CRED_GW };

/* Ways to get a gateway signature wrong; GT_NONE signs correctly. */
enum gw_tamper {
	GT_NONE, GT_NO_HEADERS, GT_NO_ID, GT_NO_TIME, GT_NO_SIG, GT_FLIP_SIG, GT_SHORT_SIG,
	GT_OLD_TIME, GT_FUTURE_TIME, GT_BAD_TIME, GT_UNKNOWN_ID, GT_OTHER_KEY, GT_OTHER_BODY,
	GT_OTHER_TARGET, GT_OTHER_METHOD, GT_COUNT
};

static const char *const gw_tamper_names[GT_COUNT] = {
	"signed", "no gateway headers", "no X-Park-Gateway", "no X-Park-Time",
	"no X-Park-Signature", "a flipped signature bit", "a 63-byte signature",
	"a time 600 s old", "a time 600 s ahead", "a time that is not decimal",
	"an unknown gateway ID", "another gateway's key", "a signature over another body",
	"a signature over another target", "a signature over another method",
};

struct cred {
	enum cred_kind kind;
	const char *value;      /* CRED_USER: the token; CRED_RAW: the whole Authorization */
	int gw;                 /* CRED_GW: the gateway ID */
	enum gw_tamper tamper;
};

#define AS_NOBODY (&(const struct cred){ CRED_NONE, NULL, 0, GT_NONE })
#define AS_USER(u) (&(const struct cred){ CRED_USER, users[u].token, 0, GT_NONE })
#define AS_GW(g) (&(const struct cred){ CRED_GW, NULL, (g), GT_NONE })

/* ---- HTTP ---- */

struct resp {
	long status;
	char *body;             /* NUL-terminated, malloc'ed */
	size_t len, cap;
	char content_type[128];
	char allow[128];
	json_object *json;      /* the body, when it is JSON */
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct resp *r = ctx;
	size_t len = size * n, cap;
	char *b;

	if (r->len + len + 1 > r->cap) {
		cap = r->cap != 0 ? r->cap : 4096;
		while (cap < r->len + len + 1)
			cap *= 2;
		b = realloc(r->body, cap);
		if (b == NULL)
			return 0;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static void header_value(const char *p, size_t len, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(p, name, n) != 0)
		return;
	p += n;
	len -= n;
	while (len > 0 && *p == ' ') {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	snprintf(out, cap, "%.*s", (int)len, p);
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct resp *r = ctx;

	header_value(p, size * n, "Content-Type:", r->content_type, sizeof(r->content_type));
	header_value(p, size * n, "Allow:", r->allow, sizeof(r->allow));
	return size * n;
}

static void resp_free(struct resp *r)
{
	json_object_put(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static const char *rbody(const struct resp *r)
{
	return r->body != NULL ? r->body : "";
}

/* The X-Park-* headers of a gateway request, signed as gateway/gwauth.c does, or spoiled. */
static struct curl_slist *gw_headers(struct curl_slist *hdr, const struct cred *c,
				     const char *method, const char *target, const char *body,
				     size_t len)
{
	const struct gw *g = &gws[c->gw];
	EVP_PKEY *key = g->key;
	const char *sm = method, *st = target;
	const uint8_t *sb = (const uint8_t *)body;
	size_t sl = body != NULL ? len : 0;
	int64_t t = (int64_t)time(NULL), id = g->id;
	char other[TEXT_MAX], line[256], hex[129];
	uint8_t digest[32], sig[64];

	switch (c->tamper) {
	case GT_OLD_TIME:
		t -= 600;
		break;
	case GT_FUTURE_TIME:
		t += 600;
		break;
	case GT_UNKNOWN_ID:
		id = 999;
		break;
	case GT_OTHER_KEY:
		key = gws[c->gw == 1 ? 2 : 1].key;
		break;
	case GT_OTHER_BODY:
		sb = (const uint8_t *)"{\"events\":[]}";
		sl = strlen("{\"events\":[]}");
		break;
	case GT_OTHER_TARGET:
		snprintf(other, sizeof(other), "%s%cx=1", target, strchr(target, '?') ? '&' : '?');
		st = other;
		break;
	case GT_OTHER_METHOD:
		sm = strcmp(method, "GET") == 0 ? "POST" : "GET";
		break;
	default:
		break;
	}
	must(gwauth_digest(sm, st, t, sb, sl, digest) == 0);
	must(p256_sign_digest(key, digest, sig) == 0);
	if (c->tamper == GT_FLIP_SIG)
		sig[17] ^= 0x01;
	hex_encode(sig, c->tamper == GT_SHORT_SIG ? 63 : 64, hex, sizeof(hex));
	if (c->tamper == GT_NO_HEADERS)
		return hdr;
	if (c->tamper != GT_NO_ID) {
		snprintf(line, sizeof(line), "X-Park-Gateway: %lld", (long long)id);
		hdr = curl_slist_append(hdr, line);
	}
	if (c->tamper != GT_NO_TIME) {
		if (c->tamper == GT_BAD_TIME)
			snprintf(line, sizeof(line), "X-Park-Time: %lld.0", (long long)t);
		else
			snprintf(line, sizeof(line), "X-Park-Time: %lld", (long long)t);
		hdr = curl_slist_append(hdr, line);
	}
	if (c->tamper != GT_NO_SIG) {
		snprintf(line, sizeof(line), "X-Park-Signature: %s", hex);
		hdr = curl_slist_append(hdr, line);
	}
	return hdr;
}

/*
 * One request on a new connection (thread-safe), with the header line `extra` when not
 * NULL. body NULL sends none. Returns the status, 0 when no answer came; the reply is in
 * *r (free with resp_free).
 */
static long api_with_header(const char *method, const char *target, const struct cred *c,
			    const char *body, size_t len, struct resp *r, long timeout_ms,
			    const char *extra)
{
	struct curl_slist *hdr = NULL;
	char url[TEXT_MAX + 64], line[256];
	CURL *h = curl_easy_init();

	memset(r, 0, sizeof(*r));
	if (h == NULL)
		return 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, target);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	/* A body parkd will not even read asks first, or the 413 may be lost to a reset. */
	hdr = curl_slist_append(hdr, len > DISCARD_MAX ? "Expect: 100-continue" : "Expect:");
	if (c->kind == CRED_USER || c->kind == CRED_RAW) {
		snprintf(line, sizeof(line), "Authorization: %s%s",
			 c->kind == CRED_USER ? "Bearer " : "", c->value);
		hdr = curl_slist_append(hdr, line);
	} else if (c->kind == CRED_GW) {
		hdr = gw_headers(hdr, c, method, target, body, len);
	}
	if (extra != NULL)
		hdr = curl_slist_append(hdr, extra);
	if (body != NULL) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	(void)curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	if (strncmp(r->content_type, "application/json", 16) == 0 && r->body != NULL)
		r->json = json_tokener_parse(r->body);
	return r->status;
}

static long api_timeout(const char *method, const char *target, const struct cred *c,
			const char *body, size_t len, struct resp *r, long timeout_ms)
{
	return api_with_header(method, target, c, body, len, r, timeout_ms, NULL);
}

static long api(const char *method, const char *target, const struct cred *c, const char *body,
		size_t len, struct resp *r)
{
	return api_timeout(method, target, c, body, len, r,
			   strncmp(target, "/v1/events", 10) == 0 ? STREAM_TIMEOUT_MS : 20000);
}

/* A request that must get `want`; the reply stays in *r. */
static void api_ok(const char *method, const char *target, const struct cred *c,
		   const char *body, long want, struct resp *r)
{
	if (api(method, target, c, body, body != NULL ? strlen(body) : 0, r) != want)
		fail_msg("%s %s: wanted %ld, got %ld %.400s", method, target, want, r->status,
			 rbody(r));
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) || v == NULL)
		fail_msg("no '%s' in %s", key, o != NULL ? json_object_to_json_string(o) : "-");
	return v;
}

static int64_t jint(json_object *o, const char *key)
{
	return json_object_get_int64(jget(o, key));
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	if (!json_object_is_type(v, json_type_string))
		fail_msg("'%s' is not a string in %s", key, json_object_to_json_string(o));
	return json_object_get_string(v);
}

/* ---- the database, read beside the running server ---- */

#define SNAP_TABLES 48
#define SNAP_NAME 48

/* Counters that only a change of state moves. */
static const char *const snap_metrics[] = {
	"parkd_accounts_created_total", "parkd_logins_total", "parkd_sms_sent_total",
	"parkd_ekeys_issued_total", "parkd_events_total", "parkd_locks_offline_total",
	"parkd_http_responses_5xx_total", "parkd_audit_failures_total",
	"parkd_shares_accepted_total", "parkd_revocation_lists_total",
};
#define SNAP_METRICS (sizeof(snap_metrics) / sizeof(snap_metrics[0]))

struct snapshot {
	size_t n;
	char table[SNAP_TABLES][SNAP_NAME];
	long long rows[SNAP_TABLES];
	uint8_t digest[SNAP_TABLES][32];
	long long metric[SNAP_METRICS];
};

static sqlite3 *sdb;                    /* read-only, while parkd runs */
static struct snapshot base;            /* the state every refusal must leave alone */

static void sdb_open(void)
{
	assert_int_equal(sqlite3_open_v2(dbpath, &sdb, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(sdb, 5000);
}

static void sdb_close(void)
{
	sqlite3_close(sdb);
	sdb = NULL;
}

/*
 * Liveness, not state: when a gateway was last heard from (a rejected ack still shows
 * it alive). The sessions table is left out whole (snapshot()): a session's last use
 * moves, and an expired one is deleted when it is shown; sessions are checked through
 * the API instead.
 */
static bool snap_skip(const char *table, const char *column)
{
	return strcmp(table, "gateways") == 0 && strcmp(column, "last_seen_at") == 0;
}

static void snap_table(const char *name, struct snapshot *s)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	sqlite3_stmt *st = NULL;
	char sql[128];
	unsigned int dlen = 0;
	int rc, col, ncol;
	size_t i = s->n++;

	assert_true(i < SNAP_TABLES && md != NULL);
	snprintf(s->table[i], SNAP_NAME, "%.*s", SNAP_NAME - 1, name);
	snprintf(sql, sizeof(sql), "SELECT * FROM \"%.*s\"", SNAP_NAME - 1, name);
	assert_int_equal(sqlite3_prepare_v2(sdb, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	ncol = sqlite3_column_count(st);
	s->rows[i] = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s->rows[i]++;
		for (col = 0; col < ncol; col++) {
			uint8_t type = (uint8_t)sqlite3_column_type(st, col);
			const void *p;
			int n;

			if (snap_skip(name, sqlite3_column_name(st, col)))
				continue;
			p = sqlite3_column_blob(st, col);
			n = sqlite3_column_bytes(st, col);
			EVP_DigestUpdate(md, &type, 1);
			EVP_DigestUpdate(md, &n, sizeof(n));
			if (n > 0)
				EVP_DigestUpdate(md, p, (size_t)n);
		}
	}
	assert_int_equal(rc, SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(EVP_DigestFinal_ex(md, s->digest[i], &dlen), 1);
	EVP_MD_CTX_free(md);
}

/* /metrics as one text; the value of `name` in it (-1 when not counted yet). */
static long long metric_in(const char *text, const char *name)
{
	char key[96];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(text, key);
	return p != NULL ? atoll(p + strlen(key)) : -1;
}

static void snapshot(struct snapshot *s)
{
	sqlite3_stmt *st = NULL;
	struct resp r;
	char names[SNAP_TABLES][SNAP_NAME];
	size_t i, n = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	assert_int_equal(sqlite3_exec(sdb, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(sdb, "SELECT name FROM sqlite_master WHERE "
					    "type = 'table' AND name NOT LIKE 'sqlite_%' AND "
					    "name <> 'sessions' ORDER BY name", -1, &st, NULL),
			 SQLITE_OK);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < SNAP_TABLES)
		snprintf(names[n++], SNAP_NAME, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	for (i = 0; i < n; i++)
		snap_table(names[i], s);
	assert_int_equal(sqlite3_exec(sdb, "COMMIT", NULL, NULL, NULL), SQLITE_OK);

	api_ok("GET", "/metrics", AS_NOBODY, NULL, 200, &r);
	for (i = 0; i < SNAP_METRICS; i++)
		s->metric[i] = metric_in(rbody(&r), snap_metrics[i]);
	resp_free(&r);
}

static void baseline(void)
{
	snapshot(&base);
}

/*
 * A refusal that went wrong: printed and counted, so that one run lists every one;
 * test_every_route fails at its end when there were any.
 */
static unsigned problems;

__attribute__((format(printf, 1, 2)))
static void problem(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "PROBLEM: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	problems++;
}

/*
 * Reports every table and counter that differs from the baseline, but `table` (NULL:
 * none), whose change the caller expects; the state is the new baseline when anything
 * changed or was expected to.
 */
/* True when `name` is one of the comma-separated `list`. */
static bool table_listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		p = p != NULL ? p + 1 : NULL;
	}
	return false;
}

/* As unchanged(), except for the tables named in `table` (comma-separated), if any. */
static void unchanged_but(const char *what, const char *table)
{
	static struct snapshot now;
	char diff[2048] = "";
	size_t i, used = 0;

	snapshot(&now);
	for (i = 0; i < now.n || i < base.n; i++) {
		if (i < now.n && i < base.n && strcmp(now.table[i], base.table[i]) == 0 &&
		    now.rows[i] == base.rows[i] && memcmp(now.digest[i], base.digest[i], 32) == 0)
			continue;
		if (table != NULL && i < now.n && table_listed(table, now.table[i]))
			continue;
		used += (size_t)snprintf(diff + used, sizeof(diff) - used, " table %s (%lld -> "
					 "%lld rows)", i < base.n ? base.table[i] : "?",
					 i < base.n ? base.rows[i] : -1,
					 i < now.n ? now.rows[i] : -1);
		if (used >= sizeof(diff))
			break;
	}
	for (i = 0; i < SNAP_METRICS && used < sizeof(diff); i++)
		if (now.metric[i] != base.metric[i])
			used += (size_t)snprintf(diff + used, sizeof(diff) - used, " %s %lld -> %lld",
						 snap_metrics[i], base.metric[i], now.metric[i]);
	if (diff[0] != '\0')
		problem("%s: a refused request changed the state:%s", what, diff);
	if (diff[0] != '\0' || table != NULL)
		base = now;
}

/* Reports every table and counter that differs from the baseline. */
static void unchanged(const char *what)
{
	unchanged_but(what, NULL);
}

/* Writes to parkd's database beside it (the test's own changes, e.g. ageing a session). */
static void sdb_write(const char *sql, const uint8_t *blob, size_t len, int64_t v)
{
	sqlite3 *w = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_open_v2(dbpath, &w, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(w, 5000);
	assert_int_equal(sqlite3_prepare_v2(w, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, v);
	sqlite3_bind_blob(st, 2, blob, (int)len, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(w), 1);
	sqlite3_finalize(st);
	sqlite3_close(w);
}

static int64_t sdb_int(const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(sdb, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* ---- refusals ---- */

/* The reply must be `status` with {"error": code, "detail": a sentence}. Frees it. */
static void expect_error(struct resp *r, long status, const char *code, const char *what)
{
	json_object *e = NULL, *d = NULL;

	if (r->status != status || r->json == NULL ||
	    !json_object_object_get_ex(r->json, "error", &e) ||
	    !json_object_is_type(e, json_type_string) || strcmp(json_object_get_string(e), code) != 0)
		problem("%s: wanted %ld %s, got %ld %.300s", what, status, code, r->status,
			rbody(r));
	else if (strncmp(r->content_type, "application/json", 16) != 0)
		problem("%s: the error is %s, not JSON", what, r->content_type);
	else if (!json_object_object_get_ex(r->json, "detail", &d) ||
		 !json_object_is_type(d, json_type_string) || json_object_get_string_len(d) < 10)
		problem("%s: no sentence in 'detail': %.300s", what, rbody(r));
	resp_free(r);
}

static unsigned refusals;               /* refused requests checked */

/*
 * A request that must be refused with status and code, and change nothing but
 * `may_change` (a table, or NULL).
 */
static void refuse_but(const char *method, const char *target, const struct cred *c,
		       const char *body, size_t len, long status, const char *code,
		       const char *what, const char *may_change)
{
	struct resp r;
	char label[TEXT_MAX + 600];

	snprintf(label, sizeof(label), "%s %.200s [%s]%s%.120s", method, target, what,
		 body != NULL ? " body " : "", body != NULL ? body : "");
	api(method, target, c, body, len, &r);
	expect_error(&r, status, code, label);
	unchanged_but(label, may_change);
	refusals++;
}

/* A request that must be refused with status and code, and change nothing. */
static void refuse_len(const char *method, const char *target, const struct cred *c,
		       const char *body, size_t len, long status, const char *code,
		       const char *what)
{
	refuse_but(method, target, c, body, len, status, code, what, NULL);
}

static void refuse(const char *method, const char *target, const struct cred *c,
		   const char *body, long status, const char *code, const char *what)
{
	refuse_len(method, target, c, body, body != NULL ? strlen(body) : 0, status, code, what);
}

/* ---- templates: @NAME@ in bodies and targets stands for a value made at set-up ---- */

struct sub {
	const char *name;
	char value[1200];
};

static struct sub subs[] = {
	{ "DEV", "" },          /* a phone's device public key */
	{ "NOTPOINT", "" },     /* 128 hex digits that are not a P-256 point */
	{ "CT101", "" },        /* spot IDs encrypted to the other driver's reservation key */
	{ "CT102", "" },
	{ "CT103", "" },
	{ "CT999999", "" },
	{ "CT0", "" },
	{ "CT5BYTES", "" },     /* five bytes, not a spot ID */
	{ "CTFLIP", "" },       /* CT102 with one bit flipped */
	{ "CTDRIVER102", "" },  /* 102 encrypted to the driver's key, not the other's */
	{ "CTJUNK", "" },       /* random bytes of a ciphertext's length */
	{ "CTLONG", "" },       /* 257 bytes: more than a spot ciphertext may be */
	{ "MSG", "" },          /* the message ID of the driver's INSTALL_CRED for 101 */
	{ "GW1PUB", "" },
	{ "DEV101", "" },
	{ "DEV301", "" },
	{ "OTHERPHONE", "" },
	{ "ROLE", "" },         /* staff_role */
	{ "ALARM", "" },        /* forced_alarm */
	{ "OWNERROLE", "" },    /* the owner role row of spot 102 (not a staff role) */
	{ "OTP", "" },          /* a one-time code of the owner's app that parkd takes now */
	{ "LISTED", "" },       /* a user on spot 102's authorised list */
	{ "KEYO", "" },         /* the owner's e-key for 102: may be shared, no limits */
	{ "KEYD", "" },         /* the driver's for 101, without the may-share flag */
	{ "KEYX", "" },         /* the other driver's for 102, without it too */
	{ "HELD", "" },         /* a share of KEYO the driver holds: active, may reshare */
	{ "SHARE", "" },        /* the share the current row acts on */
};
#define SUBS (sizeof(subs) / sizeof(subs[0]))

static void sub_set(const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < SUBS; i++)
		if (strcmp(subs[i].name, name) == 0) {
			snprintf(subs[i].value, sizeof(subs[i].value), "%s", value);
			return;
		}
	fail_msg("no substitution %s", name);
}

static const char *sub_get(const char *name)
{
	size_t i;

	for (i = 0; i < SUBS; i++)
		if (strcmp(subs[i].name, name) == 0 && subs[i].value[0] != '\0')
			return subs[i].value;
	fail_msg("@%s@ is not set yet", name);
	return "";
}

static void sub_id(const char *name, int64_t id)
{
	char text[24];

	snprintf(text, sizeof(text), "%lld", (long long)id);
	sub_set(name, text);
}

static void sub_hex(const char *name, const uint8_t *p, size_t len)
{
	char hex[1200];

	assert_true(hex_encode(p, len, hex, sizeof(hex)) >= 0);
	sub_set(name, hex);
}

static void expand(const char *in, char *out, size_t cap)
{
	size_t used = 0, i, n;
	const char *end;

	while (*in != '\0' && used + 1 < cap) {
		if (*in == '@' && (end = strchr(in + 1, '@')) != NULL) {
			n = (size_t)(end - in - 1);
			for (i = 0; i < SUBS; i++)
				if (strlen(subs[i].name) == n && strncmp(subs[i].name, in + 1, n) == 0)
					break;
			if (i < SUBS) {
				if (subs[i].value[0] == '\0')
					fail_msg("@%s@ is not set yet", subs[i].name);
				used += (size_t)snprintf(out + used, cap - used, "%s", subs[i].value);
				in = end + 1;
				continue;
			}
		}
		out[used++] = *in++;
	}
	assert_true(used + 1 < cap);
	out[used] = '\0';
}

/* ---- JSON descriptions ---- */

/* Sets (value NULL: removes) the member at "a.b[2].c" of root; value is JSON (@NAME@ allowed). */
static void json_set(json_object *root, const char *path, const char *value)
{
	char buf[128], text[2048], *tok, *next, *save = NULL, *br;
	json_object *cur = root, *child, *v = NULL;
	long idx;

	snprintf(buf, sizeof(buf), "%s", path);
	if (value != NULL) {
		expand(value, text, sizeof(text));
		v = json_tokener_parse(text);
		if (v == NULL && strcmp(text, "null") != 0)
			fail_msg("json_set %s: bad value %s", path, text);
	}
	for (tok = strtok_r(buf, ".", &save); tok != NULL; tok = next) {
		next = strtok_r(NULL, ".", &save);
		idx = -1;
		br = strchr(tok, '[');
		if (br != NULL) {
			*br = '\0';
			idx = atol(br + 1);
		}
		if (next == NULL && idx < 0) {
			if (value == NULL)
				json_object_object_del(cur, tok);
			else
				json_object_object_add(cur, tok, v);
			return;
		}
		if (!json_object_object_get_ex(cur, tok, &child) || child == NULL)
			fail_msg("json_set: no %s in %s", tok, path);
		if (next == NULL) {
			assert_non_null(value);
			assert_int_equal(json_object_array_put_idx(child, (size_t)idx, v), 0);
			return;
		}
		cur = idx >= 0 ? json_object_array_get_idx(child, (size_t)idx) : child;
		assert_non_null(cur);
	}
}

/*
 * A site with one level, nodes E (entrance), J1, X (exit) joined by lanes and J2 with no
 * lane, spots spot[0..n) at J1 with the device keys dev[0..n), and one gateway covering
 * them all. Free with json_object_put.
 */
static json_object *site_desc(int64_t site_id, const char *name, const struct gw *g,
			      const uint32_t *spot, char (*dev)[129], size_t n)
{
	json_object *o = json_object_new_object(), *a, *x, *lock, *covers;
	static const struct {
		const char *id, *kind;
		double x, y;
	} nodes[] = {
		{ "E", "entrance", 0, 25 }, { "J1", "junction", 10, 25 }, { "X", "exit", 100, 25 },
		{ "J2", "junction", 50, 45 },
	};
	char text[64];
	size_t i;

	json_object_object_add(o, "site_id", json_object_new_int64(site_id));
	json_object_object_add(o, "name", json_object_new_string(name));
	a = json_object_new_array();
	x = json_object_new_object();
	json_object_object_add(x, "id", json_object_new_string("L1"));
	json_object_object_add(x, "name", json_object_new_string("Level 1"));
	json_object_object_add(x, "width", json_object_new_int(100));
	json_object_object_add(x, "height", json_object_new_int(50));
	json_object_array_add(a, x);
	json_object_object_add(o, "levels", a);
	a = json_object_new_array();
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		x = json_object_new_object();
		json_object_object_add(x, "id", json_object_new_string(nodes[i].id));
		json_object_object_add(x, "level", json_object_new_string("L1"));
		json_object_object_add(x, "x", json_object_new_double(nodes[i].x));
		json_object_object_add(x, "y", json_object_new_double(nodes[i].y));
		json_object_object_add(x, "kind", json_object_new_string(nodes[i].kind));
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "nodes", a);
	json_object_object_add(o, "lanes", json_tokener_parse("[[\"E\",\"J1\"],[\"J1\",\"X\"]]"));
	a = json_object_new_array();
	covers = json_object_new_array();
	for (i = 0; i < n; i++) {
		x = json_object_new_object();
		json_object_object_add(x, "id", json_object_new_int64(spot[i]));
		snprintf(text, sizeof(text), "S-%u", spot[i]);
		json_object_object_add(x, "name", json_object_new_string(text));
		json_object_object_add(x, "level", json_object_new_string("L1"));
		json_object_object_add(x, "x", json_object_new_int((int)(1 + i % 90)));
		json_object_object_add(x, "y", json_object_new_int(10));
		json_object_object_add(x, "node", json_object_new_string("J1"));
		lock = json_object_new_object();
		snprintf(text, sizeof(text), "sim/%u.sock", spot[i]);
		json_object_object_add(lock, "address", json_object_new_string(text));
		json_object_object_add(lock, "device_pub", json_object_new_string(dev[i]));
		json_object_object_add(x, "lock", lock);
		json_object_array_add(a, x);
		json_object_array_add(covers, json_object_new_int64(spot[i]));
	}
	json_object_object_add(o, "spots", a);
	a = json_object_new_array();
	x = json_object_new_object();
	json_object_object_add(x, "id", json_object_new_int64(g->id));
	snprintf(text, sizeof(text), "gw-%lld", (long long)g->id);
	json_object_object_add(x, "name", json_object_new_string(text));
	json_object_object_add(x, "public_key", json_object_new_string(g->pub_hex));
	json_object_object_add(x, "covers", covers);
	json_object_array_add(a, x);
	json_object_object_add(o, "gateways", a);
	return o;
}

/* Site 3: two spots, gateway 3; valid until a test spoils it. */
static json_object *site3_desc(void)
{
	static const uint32_t spots[] = { SITE3_SPOT, SITE3_SPOT + 1 };

	return site_desc(SITE3, "Input test garage 3", &gws[3], spots, dev3_hex, 2);
}

/* ---- processes and accounts ---- */

static void start_parkd(void)
{
	static char text[1 << 20];
	const char *args[] = { "--config", conf, NULL };
	int64_t end = test_ms_now() + WAIT_MS;
	size_t before = test_read_file(logpath, text, sizeof(text));
	const char *p;

	pk_pid = test_spawn(parkd, args, logpath, logpath);
	while (test_ms_now() < end) {
		test_read_file(logpath, text, sizeof(text));
		p = strlen(text) > before ? strstr(text + before, " serving HTTP on ") : NULL;
		if (p != NULL && (p = strstr(p, " port ")) != NULL && strstr(p, "routes") != NULL) {
			port = (unsigned)atoi(p + 6);
			return;
		}
		if (test_exited(pk_pid))
			fail_msg("parkd exited at start; see %s", logpath);
		test_sleep_ms(20);
	}
	fail_msg("parkd did not start; see %s", logpath);
}

static void admin_create(void)
{
	char pwfile[200];
	pid_t pid;
	int fd;

	snprintf(pwfile, sizeof(pwfile), "%s/admin.pw", dir);
	fd = open(pwfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, PASSWORD "\n", strlen(PASSWORD) + 1),
			 (ssize_t)strlen(PASSWORD) + 1);
	close(fd);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int in = open(pwfile, O_RDONLY), out = open(logpath, O_WRONLY | O_APPEND | O_CREAT,
							   0600);

		dup2(in, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		execl(parkd, parkd, "--config", conf, "admin-create", ADMIN_PHONE, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(test_wait_exit(pid, WAIT_MS), 0);
}

/* The code of the last SMS to `phone`. */
static void sms_code(const char *phone, char code[7])
{
	static char text[1 << 20];
	char *line, *save = NULL;
	size_t n = strlen(phone);

	test_read_file(smspath, text, sizeof(text));
	code[0] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, phone, n) == 0 && line[n] == ' ')
			snprintf(code, 7, "%s", line + n + 1);
	if (strlen(code) != 6)
		fail_msg("no SMS code for %s in %s", phone, smspath);
}

static void login(const char *phone, char token[65])
{
	char body[160];
	struct resp r;

	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"password\":\"%s\"}", phone, PASSWORD);
	api_ok("POST", "/v1/sessions", AS_NOBODY, body, 201, &r);
	snprintf(token, 65, "%s", jstr(r.json, "token"));
	resp_free(&r);
}

static int64_t register_phone(const char *phone)
{
	char body[256], code[7];
	struct resp r;
	int64_t id;

	snprintf(body, sizeof(body), "{\"phone\":\"%s\"}", phone);
	api_ok("POST", "/v1/accounts", AS_NOBODY, body, 202, &r);
	resp_free(&r);
	sms_code(phone, code);
	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"code\":\"%s\",\"password\":\"%s\"}",
		 phone, code, PASSWORD);
	api_ok("POST", "/v1/accounts/verify", AS_NOBODY, body, 201, &r);
	id = jint(r.json, "user_id");
	resp_free(&r);
	return id;
}

static void user_make(int u, const char *phone)
{
	snprintf(users[u].phone, sizeof(users[u].phone), "%s", phone);
	users[u].id = register_phone(phone);
	login(phone, users[u].token);
}

static void reservation_key(int u)
{
	struct resp r;

	api_ok("POST", "/v1/reservation-key", AS_USER(u), NULL, 201, &r);
	assert_int_equal(hex_decode(jstr(r.json, "public_key"), users[u].res_pub, 64), 64);
	resp_free(&r);
}

/* The admin grants `phone` the staff role `role` at `site`; the role row's ID. */
static int64_t grant(int64_t site, const char *phone, const char *role)
{
	char body[128], target[64];
	struct resp r;
	int64_t id;

	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"role\":\"%s\"}", phone, role);
	snprintf(target, sizeof(target), "/v1/sites/%lld/roles", (long long)site);
	api_ok("POST", target, AS_USER(U_ADMIN), body, 201, &r);
	id = jint(r.json, "id");
	resp_free(&r);
	return id;
}

/* hex of ECIES(pub, msg) into out. */
static void encrypt_hex(const uint8_t pub[64], const uint8_t *msg, size_t len, char *out,
			size_t cap)
{
	uint8_t ct[64 + ECIES_OVERHEAD];

	assert_true(len <= 64);
	assert_int_equal(ecies_encrypt(pub, msg, len, ct, sizeof(ct)), (int)(len + ECIES_OVERHEAD));
	assert_true(hex_encode(ct, len + ECIES_OVERHEAD, out, cap) > 0);
}

static void spot_ct(const uint8_t pub[64], uint32_t spot, char *out, size_t cap)
{
	uint8_t be[4];

	wire_store_u32(be, spot);
	encrypt_hex(pub, be, sizeof(be), out, cap);
}

/* The body of an e-key request for `spot`, encrypted to user u's reservation key. */
static void ekey_body(int u, uint32_t spot, char *out, size_t cap)
{
	char ct[2 * (4 + ECIES_OVERHEAD) + 1];

	spot_ct(users[u].res_pub, spot, ct, sizeof(ct));
	snprintf(out, cap, "{\"spot\":\"%s\",\"device_pub\":\"%s\"}", ct, device_hex);
}

static void make_key(EVP_PKEY **keep, char hex[129])
{
	EVP_PKEY *k = p256_generate();
	uint8_t pub[64];

	assert_non_null(k);
	assert_int_equal(p256_public_raw(k, pub), 0);
	hex_encode(pub, 64, hex, 129);
	if (keep != NULL)
		*keep = k;
	else
		EVP_PKEY_free(k);
}

/*
 * Imports `desc`, padded with white space past the default body limit: the site import
 * takes larger bodies from a caller with a session.
 */
static void import_site(json_object *desc, int64_t id)
{
	const char *text = json_object_to_json_string_ext(desc, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text), padded = len > 2 * BODY_MAX ? len : 2 * BODY_MAX;
	char *body = malloc(padded + 1);
	struct resp r;

	assert_non_null(body);
	memcpy(body, text, len);
	memset(body + len, ' ', padded - len);
	body[padded] = '\0';
	api_ok("POST", "/v1/sites", AS_USER(U_ADMIN), body, 201, &r);
	assert_int_equal(jint(r.json, "site_id"), id);
	resp_free(&r);
	free(body);
}

static void site_pub(int64_t site, uint8_t pub[64])
{
	char target[64];
	struct resp r;

	snprintf(target, sizeof(target), "/v1/sites/%lld/provisioning", (long long)site);
	api_ok("GET", target, AS_USER(U_ADMIN), NULL, 200, &r);
	assert_int_equal(hex_decode(jstr(r.json, "site_public_key"), pub, 64), 64);
	resp_free(&r);
}

/*
 * Every pending message of gateway g (at most 64; resume=1: also those given out
 * lately); the reply's array, owned by *r.
 */
static json_object *gateway_messages(int g, struct resp *r)
{
	api_ok("GET", "/v1/gateway/messages?wait=0&resume=1", AS_GW(g), NULL, 200, r);
	return jget(r->json, "messages");
}

/* The management type of a message of GET /v1/gateway/messages. */
static int message_mtype(json_object *msg)
{
	static uint8_t frame[PROTO_FRAME_MAX];
	struct proto_msg m;
	int len = hex_decode(jstr(msg, "frame"), frame, sizeof(frame));

	assert_true(len > 0);
	assert_int_equal(proto_decode(frame, (size_t)len, &m), 0);
	assert_int_equal(m.type, PROTO_MGMT);
	return m.u.mgmt.mtype;
}

/* Whether management message m carries `site`'s signature, as its locks check it. */
static bool mgmt_signed_by(const struct proto_mgmt *m, uint32_t site, const uint8_t pub[64])
{
	uint8_t tbs[PROTO_FRAME_MAX + 16], digest[32];
	struct wire_writer w;

	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_mgmt_prefix(&w, site);
	wire_put_bytes(&w, m->signed_body, m->signed_len);
	assert_false(w.error);
	assert_int_equal(p256_sha256(tbs, w.off, digest), 0);
	return p256_verify_digest(pub, digest, m->sig) == 0;
}

/* The message for `spot` of type `mtype` in msgs, or NULL. */
static json_object *message_find(json_object *msgs, int64_t spot, int mtype)
{
	json_object *m;
	size_t i;

	for (i = 0; i < json_object_array_length(msgs); i++) {
		m = json_object_array_get_idx(msgs, i);
		if (jint(m, "spot") == spot && message_mtype(m) == mtype)
			return m;
	}
	return NULL;
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
	char text[1024];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/test-api-input.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/parkd.conf", dir);
	snprintf(logpath, sizeof(logpath), "%s/parkd.log", dir);
	snprintf(smspath, sizeof(smspath), "%s/sms.txt", dir);
	snprintf(dbpath, sizeof(dbpath), "%s/data/parkd.db", dir);
	snprintf(text, sizeof(text),
		 "listen = 127.0.0.1:0\n"
		 "data_dir = %s/data\n"
		 "sms_sender = file:%s\n"
		 "password_cost = test\n"
		 "log_level = info\n"
		 "fail_max_address = 100000\n"
		 "sms_max_phone = 100\n"
		 "sms_max_address = 100000\n", dir, smspath);
	{
		FILE *f = fopen(conf, "w");

		if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
			return -1;
	}
	fprintf(stderr, "test-api-input: %s in %s\n", parkd, dir);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];
	size_t i;

	(void)state;
	if (sdb != NULL)
		sdb_close();
	test_stop(&pk_pid, SIGKILL);
	for (i = 0; i < GWS; i++)
		EVP_PKEY_free(gws[i].key);
	EVP_PKEY_free(lock101);
	if (getenv("KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	curl_global_cleanup();
	return 0;
}

/*
 * The server, an admin, an owner, a driver holding a key for 101 whose credential is
 * queued for gateway 1, another driver with a reservation key and no key, a user with
 * neither, an attendant of each site; site 1 (101..104, gateway 1) and site 2 (the kill
 * test's 48 spots, gateway 2).
 */
static void test_install(void **state)
{
	static const uint32_t spots1[SITE1_SPOTS] = { 101, 102, 103, 104 };
	static uint32_t spots2[KILL_SPOTS];
	char text[TEXT_MAX], ct[2 * (64 + ECIES_OVERHEAD) + 1], owner[32];
	uint8_t raw[300];
	json_object *d, *msgs, *m;
	struct resp r;
	size_t i;

	(void)state;
	admin_create();
	start_parkd();
	sdb_open();
	snprintf(users[U_ADMIN].phone, sizeof(users[U_ADMIN].phone), ADMIN_PHONE);
	login(ADMIN_PHONE, users[U_ADMIN].token);
	api_ok("GET", "/v1/me", AS_USER(U_ADMIN), NULL, 200, &r);
	users[U_ADMIN].id = jint(r.json, "user_id");
	resp_free(&r);
	user_make(U_OWNER, "+8613800000101");
	user_make(U_DRIVER, "+8613800000102");
	user_make(U_OTHER, "+8613800000103");
	user_make(U_FRESH, "+8613800000104");
	user_make(U_ATTENDANT, "+8613800000105");
	user_make(U_ATTENDANT2, "+8613800000106");
	sub_set("OTHERPHONE", users[U_OTHER].phone);

	for (i = 1; i < GWS; i++) {
		gws[i].id = (int64_t)i;
		make_key(&gws[i].key, gws[i].pub_hex);
	}
	make_key(&lock101, dev_hex[0]);
	for (i = 1; i < SITE1_SPOTS; i++)
		make_key(NULL, dev_hex[i]);
	for (i = 0; i < KILL_SPOTS; i++) {
		spots2[i] = KILL_SPOT0 + (uint32_t)i;
		make_key(NULL, dev2_hex[i]);
	}
	make_key(NULL, dev3_hex[0]);
	make_key(NULL, dev3_hex[1]);
	make_key(NULL, device_hex);

	d = site_desc(SITE1, SITE1_NAME, &gws[1], spots1, dev_hex, SITE1_SPOTS);
	snprintf(owner, sizeof(owner), "%lld", (long long)users[U_OWNER].id);
	json_set(d, "spots[1].owner", owner);
	json_set(d, "spots[2].policy", "\"authorised\"");
	json_set(d, "spots[3].node", "\"J2\"");
	import_site(d, SITE1);
	json_object_put(d);
	d = site_desc(SITE2, "Input test garage 2", &gws[2], spots2, dev2_hex, KILL_SPOTS);
	/*
	 * Two gateways of half the spots each: a gateway's queue (a SET_TIME per lock from
	 * the import, then the credentials) then fits one poll (DELIVERY_BATCH_MAX).
	 */
	{
		json_object *gw = json_object_array_get_idx(jget(d, "gateways"), 0), *two;
		json_object *covers = json_object_new_array();

		for (i = KILL_SPOTS / 2; i < KILL_SPOTS; i++)
			json_object_array_add(covers, json_object_new_int64(spots2[i]));
		json_object_array_del_idx(jget(gw, "covers"), KILL_SPOTS / 2, KILL_SPOTS / 2);
		two = json_object_new_object();
		json_object_object_add(two, "id", json_object_new_int64(4));
		json_object_object_add(two, "name", json_object_new_string("gw-4"));
		json_object_object_add(two, "public_key", json_object_new_string(gws[4].pub_hex));
		json_object_object_add(two, "covers", covers);
		json_object_array_add(jget(d, "gateways"), two);
	}
	import_site(d, SITE2);
	json_object_put(d);
	site_pub(SITE1, site1_pub);
	site_pub(SITE2, site2_pub);
	grant(SITE1, users[U_ATTENDANT].phone, "attendant");
	grant(SITE2, users[U_ATTENDANT2].phone, "attendant");

	reservation_key(U_DRIVER);
	reservation_key(U_OTHER);
	ekey_body(U_DRIVER, SPOT_FREE, text, sizeof(text));
	api_ok("POST", "/v1/ekeys", AS_USER(U_DRIVER), text, 201, &r);
	resp_free(&r);
	msgs = gateway_messages(1, &r);
	m = message_find(msgs, SPOT_FREE, PROTO_MGMT_INSTALL_CRED);
	assert_non_null(m);
	msg101 = jint(m, "id");
	msg101_seq = jint(m, "seq");
	snprintf(text, sizeof(text), "%lld", (long long)msg101);
	sub_set("MSG", text);
	resp_free(&r);

	login(users[U_FRESH].phone, logged_out);
	api_ok("DELETE", "/v1/sessions/current", &(const struct cred){ CRED_USER, logged_out, 0,
		GT_NONE }, NULL, 204, &r);
	resp_free(&r);

	/* The values the body templates name. */
	sub_set("DEV", device_hex);
	sub_set("NOTPOINT", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	sub_set("GW1PUB", gws[1].pub_hex);
	sub_set("DEV101", dev_hex[0]);
	sub_set("DEV301", dev3_hex[0]);
	spot_ct(users[U_OTHER].res_pub, SPOT_FREE, ct, sizeof(ct));
	sub_set("CT101", ct);
	spot_ct(users[U_OTHER].res_pub, SPOT_OWNED, ct, sizeof(ct));
	sub_set("CT102", ct);
	ct[10] = ct[10] == '0' ? '1' : '0';
	sub_set("CTFLIP", ct);
	spot_ct(users[U_OTHER].res_pub, SPOT_CLOSED, ct, sizeof(ct));
	sub_set("CT103", ct);
	spot_ct(users[U_OTHER].res_pub, 999999, ct, sizeof(ct));
	sub_set("CT999999", ct);
	spot_ct(users[U_OTHER].res_pub, 0, ct, sizeof(ct));
	sub_set("CT0", ct);
	spot_ct(users[U_DRIVER].res_pub, SPOT_OWNED, ct, sizeof(ct));
	sub_set("CTDRIVER102", ct);
	encrypt_hex(users[U_OTHER].res_pub, (const uint8_t *)"\0\0\0\x66\x01", 5, ct, sizeof(ct));
	sub_set("CT5BYTES", ct);
	assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
	sub_hex("CTJUNK", raw, 4 + ECIES_OVERHEAD);
	sub_hex("CTLONG", raw, 257);
	snprintf(text, sizeof(text), "%lld", (long long)sdb_int("SELECT id FROM roles WHERE "
								"role = 'owner' ORDER BY id LIMIT 1"));
	sub_set("OWNERROLE", text);
}

/* ---- the route table, as the running binary has it ---- */

#define ROUTES_MAX 64

struct route {
	char method[16];
	char pattern[128];
};

static struct route routes[ROUTES_MAX];
static size_t nroutes;

/* Reads `parkd --routes`: "METHOD  PATTERN  summary" per line. */
static void read_routes(void)
{
	static char text[65536];
	const char *args[] = { "--routes", NULL };
	char out[200], *line, *save = NULL;

	snprintf(out, sizeof(out), "%s/routes.txt", dir);
	unlink(out);
	assert_int_equal(test_wait_exit(test_spawn(parkd, args, out, logpath), WAIT_MS), 0);
	test_read_file(out, text, sizeof(text));
	nroutes = 0;
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		assert_true(nroutes < ROUTES_MAX);
		if (sscanf(line, "%15s %127s", routes[nroutes].method, routes[nroutes].pattern) == 2)
			nroutes++;
	}
	assert_true(nroutes >= 10);
}

static bool route_exists(const char *method, const char *pattern)
{
	size_t i;

	for (i = 0; i < nroutes; i++)
		if (strcmp(routes[i].method, method) == 0 && strcmp(routes[i].pattern, pattern) == 0)
			return true;
	return false;
}

/* ---- what every route is tried with ---- */

enum auth { AUTH_NONE, AUTH_USER, AUTH_GATEWAY };

struct input_case {
	const char *text;       /* a body, or a target (query strings) */
	long status;
	const char *code;
};

struct route_case {
	const char *method, *pattern;
	enum auth auth;
	bool json;              /* the body is a JSON object */
	int caller;             /* AUTH_USER: a user; AUTH_GATEWAY: a gateway ID */
	const char *target;     /* what the caller may ask for (templates allowed) */
	const char *body;       /* a body the caller may send (json routes) */
	/*
	 * Refused bodies, sent by the caller to target. A route without a JSON body that has
	 * some reads an optional one (a one-time code, {"otp":..}): it takes none and a
	 * blank one, and refuses malformed ones as JSON routes do.
	 */
	const struct input_case *bodies;
	size_t nbodies;
	const struct input_case *targets;
	size_t ntargets;        /* refused targets (query strings), by the caller */
	void (*prepare)(void);  /* makes what target names; runs before the baseline */
	void (*own)(void);      /* the route's own refusals: unknown IDs, other people's */
	void (*good)(void);     /* the valid request works (the refusals are not all) */
};

static void caller_of(const struct route_case *rc, struct cred *c)
{
	memset(c, 0, sizeof(*c));
	if (rc->auth == AUTH_USER) {
		c->kind = CRED_USER;
		c->value = users[rc->caller].token;
	} else if (rc->auth == AUTH_GATEWAY) {
		c->kind = CRED_GW;
		c->gw = rc->caller;
	}
}

/* The path of a target: without its query. */
static void path_of(const char *target, char *out, size_t cap)
{
	snprintf(out, cap, "%.*s", (int)strcspn(target, "?"), target);
}

/* A method the path does not have: 405 with the route's method in Allow. */
static void check_method(const struct route_case *rc, const char *target, const struct cred *c)
{
	static const char *const methods[] = { "PUT", "PATCH", "DELETE", "POST", "GET" };
	char path[TEXT_MAX], what[256];
	struct resp r;
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!route_exists(methods[i], rc->pattern))
			break;
	assert_true(i < sizeof(methods) / sizeof(methods[0]));
	path_of(target, path, sizeof(path));
	snprintf(what, sizeof(what), "%s %.200s instead of %s", methods[i], path, rc->method);
	api(methods[i], path, c, NULL, 0, &r);
	if (strstr(r.allow, rc->method) == NULL)
		problem("%s: Allow is '%s'", what, r.allow);
	expect_error(&r, 405, "method_not_allowed", what);
	unchanged(what);
	refusals++;
}

/* The site import takes larger bodies, from a caller with a session (SITE_BODY_MAX). */
#define SITE_BODY_LIMIT (4u * 1024 * 1024)

static size_t route_body_max(const struct route_case *rc)
{
	return strcmp(rc->method, "POST") == 0 && strcmp(rc->pattern, "/v1/sites") == 0 ?
		       SITE_BODY_LIMIT : BODY_MAX;
}

/*
 * Bodies one byte over the route's limit, well over, and over what is even read: 413.
 * A route with a larger limit gives it only to a caller with a session: without one,
 * one byte over the default limit is refused too.
 */
static void check_too_large(const struct route_case *rc, const char *target,
			    const struct cred *c, const char *body)
{
	size_t limit = route_body_max(rc);
	size_t sizes[] = { limit + 1, 200000, BIG_BODY };
	size_t n = rc->json ? 3u : 1u, top, i;
	const char *head = body != NULL ? body : "{}";
	char what[64], *big;

	if (limit != BODY_MAX)
		n = 1; /* over a large limit is over what is read: one case says it all */
	top = limit + 1 > BIG_BODY ? limit + 1 : BIG_BODY;
	big = malloc(top + 1);
	assert_non_null(big);
	memset(big, ' ', top);
	memcpy(big, head, strlen(head));
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "a body of %zu bytes", sizes[i]);
		refuse_len(rc->method, target, c, big, sizes[i], 413, "body_too_large", what);
	}
	if (limit != BODY_MAX) {
		snprintf(what, sizeof(what), "a body of %d bytes without a session", BODY_MAX + 1);
		refuse_len(rc->method, target, AS_NOBODY, big, BODY_MAX + 1, 413, "body_too_large",
			   what);
	}
	free(big);
}

/* The SHA-256 under which parkd keeps a session token. */
static void token_hash(const char *token, uint8_t hash[32])
{
	uint8_t raw[32];

	assert_int_equal(hex_decode(token, raw, sizeof(raw)), 32);
	assert_int_equal(p256_sha256(raw, sizeof(raw), hash), 0);
}

/* Two sessions of the fresh user, one past its absolute end, one idle too long. */
static void make_expired(char expired[65], char idle[65])
{
	uint8_t hash[32];
	int64_t now = (int64_t)time(NULL);

	login(users[U_FRESH].phone, expired);
	token_hash(expired, hash);
	sdb_write("UPDATE sessions SET expires_at = ?1 WHERE token_hash = ?2", hash, 32, now - 1);
	login(users[U_FRESH].phone, idle);
	token_hash(idle, hash);
	sdb_write("UPDATE sessions SET last_seen = ?1 WHERE token_hash = ?2", hash, 32,
		  now - 7200);
}

static void check_auth(const struct route_case *rc, const char *target, const char *body,
		       const char *expired, const char *idle)
{
	static const char *const raw[] = {
		"Bearer 0000000000000000000000000000000000000000000000000000000000000000",
		"Bearer short", "Bearer ", "Basic dXNlcjpwYXNz", "Token 00", "bearer",
	};
	char value[160], what[200];
	struct cred c;
	size_t i;
	int t;

	if (rc->auth == AUTH_NONE)
		return;
	refuse(rc->method, target, AS_NOBODY, body, 401, "unauthenticated", "no credentials");
	if (rc->auth == AUTH_GATEWAY) {
		for (t = GT_NO_HEADERS; t < GT_COUNT; t++) {
			c = (struct cred){ CRED_GW, NULL, rc->caller, (enum gw_tamper)t };
			refuse(rc->method, target, &c, body, 401, "unauthenticated",
			       gw_tamper_names[t]);
		}
		refuse(rc->method, target, AS_USER(U_ADMIN), body, 401, "unauthenticated",
		       "an admin's session instead of a gateway signature");
		return;
	}
	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		c = (struct cred){ CRED_RAW, raw[i], 0, GT_NONE };
		snprintf(what, sizeof(what), "Authorization: %s", raw[i]);
		refuse(rc->method, target, &c, body, 401, "unauthenticated", what);
	}
	snprintf(value, sizeof(value), "Bearer %s0", users[rc->caller].token);
	c = (struct cred){ CRED_RAW, value, 0, GT_NONE };
	refuse(rc->method, target, &c, body, 401, "unauthenticated", "a token one digit too long");
	c = (struct cred){ CRED_USER, logged_out, 0, GT_NONE };
	refuse(rc->method, target, &c, body, 401, "unauthenticated", "a logged-out session");
	c = (struct cred){ CRED_USER, expired, 0, GT_NONE };
	refuse(rc->method, target, &c, body, 401, "unauthenticated", "an expired session");
	c = (struct cred){ CRED_USER, idle, 0, GT_NONE };
	refuse(rc->method, target, &c, body, 401, "unauthenticated", "an idle session");
	refuse(rc->method, target, AS_GW(1), body, 401, "unauthenticated",
	       "a gateway signature instead of a session");
}

/* Bodies that are not one JSON object: 400 bad_json (an optional one may be blank). */
static void check_bad_json(const struct route_case *rc, const char *target,
			   const struct cred *c)
{
	static const struct {
		const char *text;
		size_t len;     /* 0: strlen */
	} bad[] = {
		{ "", 0 }, { " ", 0 }, { "not json", 0 }, { "{\"a\":", 0 }, { "{\"a\":1", 0 },
		{ "[1,2]", 0 }, { "\"text\"", 0 }, { "123", 0 }, { "null", 0 }, { "true", 0 },
		{ "{} {}", 0 }, { "{}x", 0 }, { "{\"a\":1,}", 0 }, { "{'a':1}", 0 },
		{ "{a:1}", 0 }, { "{\"a\":tru}", 0 }, { "{\"a\":\"\xff\xfe\"}", 0 },
		{ "{\"a\":\"\xc0\xaf\"}", 0 }, { "{\"a\":\"\xe0\x80\xaf\"}", 0 },
		{ "{\"a\":\"\xed\xa0\x80\"}", 0 }, { "{\"a\":\"\xf4\x90\x80\x80\"}", 0 },
		{ "{\"a\":\"\x80\"}", 0 }, { "{\"a\":\"\xc3\"}", 0 }, { "{\"a\":\"x\ny\"}", 0 },
		{ "{\"a\":\"x\ty\"}", 0 }, { "{\"a\":NaN}", 0 }, { "{\"a\":Infinity}", 0 },
		{ "{\"a\":-Infinity}", 0 }, { "{\"a\":1.}", 0 }, { "{\"a\":01}", 0 },
		{ "{\"a\":+1}", 0 }, { "{\"a\":.5}", 0 }, { "{\"a\":0x10}", 0 },
		{ "{\"a\":1e}", 0 }, { "{\"a\":'x'}", 0 }, { "{\"a\":\"\\x41\"}", 0 },
		{ "{\"a\":1}\0", 8 }, { "{\"a\"\0:1}", 8 }, { "{\"a\":\"unterminated}", 0 },
		{ "{/*c*/}", 0 }, { "\xef\xbb\xbf{}", 0 },
	};
	static char deep[512];
	bool optional = !rc->json;
	size_t i, n;

	if (!optional)
		refuse(rc->method, target, c, NULL, 400, "bad_json", "no body");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = bad[i].len != 0 ? bad[i].len : strlen(bad[i].text);
		if (optional && strspn(bad[i].text, " ") == n)
			continue;
		refuse_len(rc->method, target, c, bad[i].text, n, 400, "bad_json", "malformed");
	}
	/* Nested deeper than the parser's 32 levels, inside an object. */
	n = (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
	for (i = 0; i < 40; i++)
		deep[n++] = '[';
	for (i = 0; i < 40; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	refuse(rc->method, target, c, deep, 400, "bad_json", "nested 41 deep");
}

static void check_inputs(const struct route_case *rc, const char *target, const char *body,
			 const struct cred *c)
{
	static char text[TEXT_MAX];
	size_t i;

	for (i = 0; i < rc->nbodies; i++) {
		expand(rc->bodies[i].text, text, sizeof(text));
		refuse(rc->method, target, c, text, rc->bodies[i].status, rc->bodies[i].code,
		       "a bad field");
	}
	for (i = 0; i < rc->ntargets; i++) {
		expand(rc->targets[i].text, text, sizeof(text));
		refuse(rc->method, text, c, body, rc->targets[i].status, rc->targets[i].code,
		       "a bad query");
	}
}

/* Each {param} of the pattern replaced by IDs that name nothing: 404 not_found. */
static void check_ids(const struct route_case *rc, const char *target, const char *body,
		      const struct cred *c)
{
	static const char *const bad_ids[] = {
		"999999", "4294967295", "0", "-1", "abc", "4294967296", "99999999999999999999",
		"1x", "0x10", "1.0", "",
	};
	char pat[256], path[TEXT_MAX], out[TEXT_MAX], what[64];
	char *pseg[16], *tseg[16], *save = NULL, *s;
	size_t np = 0, nt = 0, i, k, b, used;

	snprintf(pat, sizeof(pat), "%s", rc->pattern);
	path_of(target, path, sizeof(path));
	for (s = strtok_r(pat, "/", &save); s != NULL && np < 16; s = strtok_r(NULL, "/", &save))
		pseg[np++] = s;
	save = NULL;
	for (s = strtok_r(path, "/", &save); s != NULL && nt < 16; s = strtok_r(NULL, "/", &save))
		tseg[nt++] = s;
	assert_int_equal(np, nt);
	for (i = 0; i < np; i++) {
		if (pseg[i][0] != '{')
			continue;
		for (b = 0; b < sizeof(bad_ids) / sizeof(bad_ids[0]); b++) {
			used = 0;
			for (k = 0; k < np; k++)
				used += (size_t)snprintf(out + used, sizeof(out) - used, "/%s",
							 k == i ? bad_ids[b] : tseg[k]);
			snprintf(what, sizeof(what), "%s '%s'", pseg[i], bad_ids[b]);
			refuse(rc->method, out, c, body, 404, "not_found", what);
		}
	}
}

static void route_check(const struct route_case *rc)
{
	static char target[TEXT_MAX], body[TEXT_MAX];
	char expired[65] = "", idle[65] = "";
	struct cred c;

	if (rc->prepare != NULL)
		rc->prepare();
	if (rc->auth == AUTH_USER)
		make_expired(expired, idle);
	expand(rc->target, target, sizeof(target));
	if (rc->body != NULL)
		expand(rc->body, body, sizeof(body));
	caller_of(rc, &c);
	baseline();
	check_method(rc, target, &c);
	check_too_large(rc, target, &c, rc->body != NULL ? body : NULL);
	check_auth(rc, target, rc->body != NULL ? body : NULL, expired, idle);
	if (rc->json || rc->nbodies > 0)
		check_bad_json(rc, target, &c);
	check_inputs(rc, target, rc->body != NULL ? body : NULL, &c);
	if (strchr(rc->pattern, '{') != NULL)
		check_ids(rc, target, rc->body != NULL ? body : NULL, &c);
	if (rc->own != NULL)
		rc->own();
	if (rc->good != NULL)
		rc->good();
}

/* ---- accounts ---- */

#define NA NO_ACCOUNT_PHONE

static const struct input_case account_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"phone\":null}", 400, "missing_field" },
	{ "{\"Phone\":\"" NA "\"}", 400, "missing_field" },
	{ "{\"phone\":8613800000077}", 400, "bad_field" },
	{ "{\"phone\":true}", 400, "bad_field" },
	{ "{\"phone\":[\"" NA "\"]}", 400, "bad_field" },
	{ "{\"phone\":{\"n\":\"" NA "\"}}", 400, "bad_field" },
	{ "{\"phone\":\"\"}", 400, "bad_field" },
	{ "{\"phone\":\"8613800000077\"}", 400, "bad_field" },
	{ "{\"phone\":\"+86 138 0000 0077\"}", 400, "bad_field" },
	{ "{\"phone\":\"+0613800000077\"}", 400, "bad_field" },
	{ "{\"phone\":\"+8613800000077\\u0000\"}", 400, "bad_field" },
	{ "{\"phone\":\"+86138000000771234567890\"}", 400, "bad_field" },
};

static const struct input_case verify_bodies[] = {
	{ "{\"code\":\"123456\",\"password\":\"" PASSWORD "\"}", 400, "missing_field" },
	{ "{\"phone\":\"" NA "\",\"password\":\"" PASSWORD "\"}", 400, "missing_field" },
	{ "{\"phone\":\"" NA "\",\"code\":null,\"password\":\"" PASSWORD "\"}", 400,
	  "missing_field" },
	{ "{\"phone\":\"" NA "\",\"code\":\"123456\"}", 400, "missing_field" },
	{ "{\"phone\":\"" NA "\",\"code\":123456,\"password\":\"" PASSWORD "\"}", 400,
	  "bad_field" },
	{ "{\"phone\":\"" NA "\",\"code\":\"12a456\",\"password\":\"" PASSWORD "\"}", 400,
	  "bad_field" },
	{ "{\"phone\":\"" NA "\",\"code\":\"1234567\",\"password\":\"" PASSWORD "\"}", 400,
	  "bad_field" },
	{ "{\"phone\":\"" NA "\",\"code\":\"12345\",\"password\":\"" PASSWORD "\"}", 400,
	  "bad_field" },
	{ "{\"phone\":\"" NA "\",\"code\":\"123456\",\"password\":\"short\"}", 400, "bad_field" },
	{ "{\"phone\":\"" NA "\",\"code\":\"123456\",\"password\":12345678}", 400, "bad_field" },
	{ "{\"phone\":\"" NA "\",\"code\":\"123456\",\"password\":[\"" PASSWORD "\"]}", 400,
	  "bad_field" },
	{ "{\"phone\":77,\"code\":\"123456\",\"password\":\"" PASSWORD "\"}", 400, "bad_field" },
};

static const struct input_case session_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"phone\":\"" ADMIN_PHONE "\"}", 400, "missing_field" },
	{ "{\"password\":\"" PASSWORD "\"}", 400, "missing_field" },
	{ "{\"phone\":\"" ADMIN_PHONE "\",\"password\":null}", 400, "missing_field" },
	{ "{\"phone\":\"" ADMIN_PHONE "\",\"password\":true}", 400, "bad_field" },
	{ "{\"phone\":\"" ADMIN_PHONE "\",\"password\":\"\"}", 400, "bad_field" },
	{ "{\"phone\":\"" ADMIN_PHONE "\",\"password\":{}}", 400, "bad_field" },
	{ "{\"phone\":13900000000,\"password\":\"" PASSWORD "\"}", 400, "bad_field" },
	{ "{\"phone\":\"admin\",\"password\":\"" PASSWORD "\"}", 400, "bad_field" },
};

static void good_register(void)
{
	struct resp r;

	api_ok("POST", "/v1/accounts", AS_NOBODY, "{\"phone\":\"+8613800000201\"}", 202, &r);
	assert_string_equal(jstr(r.json, "status"), "code_sent");
	resp_free(&r);
}

static void good_verify(void)
{
	char body[256], code[7];
	struct resp r;

	sms_code("+8613800000201", code);
	snprintf(body, sizeof(body), "{\"phone\":\"+8613800000201\",\"code\":\"%s\","
		 "\"password\":\"" PASSWORD "\"}", code);
	api_ok("POST", "/v1/accounts/verify", AS_NOBODY, body, 201, &r);
	assert_true(jint(r.json, "user_id") > 0);
	resp_free(&r);
}

static void good_login(void)
{
	char token[65];

	login(ADMIN_PHONE, token);
	assert_int_equal(strspn(token, "0123456789abcdef"), 64);
}

static void good_logout(void)
{
	char token[65];
	const struct cred c = { CRED_USER, token, 0, GT_NONE };
	struct resp r;

	login(users[U_FRESH].phone, token);
	api_ok("GET", "/v1/me", &c, NULL, 200, &r);
	resp_free(&r);
	api_ok("DELETE", "/v1/sessions/current", &c, NULL, 204, &r);
	resp_free(&r);
	api("GET", "/v1/me", &c, NULL, 0, &r);
	expect_error(&r, 401, "unauthenticated", "/v1/me after logout");
}

static void good_me(void)
{
	struct resp r;

	api_ok("GET", "/v1/me", AS_USER(U_DRIVER), NULL, 200, &r);
	assert_int_equal(jint(r.json, "user_id"), users[U_DRIVER].id);
	assert_string_equal(jstr(r.json, "phone"), users[U_DRIVER].phone);
	resp_free(&r);
}

static void good_metrics(void)
{
	struct resp r;

	api_ok("GET", "/metrics", AS_NOBODY, NULL, 200, &r);
	assert_non_null(strstr(r.content_type, "text/plain"));
	assert_non_null(strstr(rbody(&r), "# TYPE parkd_http_requests_total counter\n"));
	assert_int_equal(metric_in(rbody(&r), "parkd_http_responses_5xx_total"), 0);
	resp_free(&r);
}

/* ---- sites ---- */

static const struct input_case site_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"site_id\":3}", 400, "missing_field" },
	{ "{\"site_id\":3,\"name\":\"x\",\"levels\":\"L1\"}", 400, "bad_field" },
};

/* One spoiled member of site 3's description, and what the import must answer. */
static const struct {
	const char *path;
	const char *value;      /* JSON; NULL removes the member */
	long status;
	const char *code;
} site_mutations[] = {
	{ "site_id", NULL, 400, "missing_field" },
	{ "site_id", "\"3\"", 400, "bad_field" },
	{ "site_id", "0", 400, "bad_field" },
	{ "site_id", "4294967296", 400, "bad_field" },
	{ "site_id", "3.5", 400, "bad_field" },
	{ "site_id", "1", 409, "site_exists" },
	{ "name", "\"" SITE1_NAME "\"", 409, "site_exists" },
	{ "name", "\"\"", 400, "bad_field" },
	{ "name", "\"tab\\there\"", 400, "bad_field" },
	{ "name", "null", 400, "missing_field" },
	{ "levels", "{}", 400, "bad_field" },
	{ "levels", "[]", 400, "bad_field" },
	{ "levels[0]", "\"L1\"", 400, "bad_field" },
	{ "levels[0].id", "\"L 1\"", 400, "bad_field" },
	{ "levels[0].width", "0", 400, "bad_field" },
	{ "levels[0].width", "\"100\"", 400, "bad_field" },
	{ "levels[0].height", NULL, 400, "missing_field" },
	{ "nodes", "[]", 400, "bad_field" },
	{ "nodes[2].kind", "\"junction\"", 422, "incomplete_map" },
	{ "nodes[0].kind", "\"exit\"", 422, "incomplete_map" },
	{ "nodes[1].kind", "\"ramp\"", 400, "bad_field" },
	{ "nodes[1].level", "\"L9\"", 422, "unknown_reference" },
	{ "nodes[1].x", "1000", 400, "bad_field" },
	{ "nodes[1].y", "-1", 400, "bad_field" },
	{ "nodes[1].id", "\"E\"", 422, "duplicate_id" },
	{ "lanes", "{}", 400, "bad_field" },
	{ "lanes[0]", "[\"E\",\"E\"]", 400, "bad_field" },
	{ "lanes[0]", "[\"E\"]", 400, "bad_field" },
	{ "lanes[0]", "[\"E\",1]", 400, "bad_field" },
	{ "lanes[0]", "[\"E\",\"NOPE\"]", 422, "unknown_reference" },
	{ "lanes[1]", "[\"J1\",\"E\"]", 422, "duplicate_id" },
	{ "spots", "[]", 400, "bad_field" },
	{ "spots[0]", "301", 400, "bad_field" },
	{ "spots[0].id", NULL, 400, "missing_field" },
	{ "spots[0].id", "-5", 400, "bad_field" },
	{ "spots[0].id", "\"301\"", 400, "bad_field" },
	{ "spots[1].id", "301", 422, "duplicate_id" },
	{ "spots[1].name", "\"S-301\"", 422, "duplicate_id" },
	{ "spots[0].level", "\"L2\"", 422, "unknown_reference" },
	{ "spots[0].node", "\"NOPE\"", 422, "unknown_reference" },
	{ "spots[0].x", "100.5", 400, "bad_field" },
	{ "spots[0].owner", "999999", 422, "unknown_reference" },
	{ "spots[0].owner", "\"me\"", 400, "bad_field" },
	{ "spots[0].policy", "\"nobody\"", 400, "bad_field" },
	{ "spots[0].policy", "\"region\"", 400, "missing_field" },
	{ "spots[0].limits", "[]", 400, "bad_field" },
	{ "spots[0].limits", "{\"max_unlocks\":70000}", 400, "bad_field" },
	{ "spots[0].limits", "{\"valid_s\":-1}", 400, "bad_field" },
	{ "spots[0].lock", NULL, 400, "missing_field" },
	{ "spots[0].lock", "\"sim/301.sock\"", 400, "bad_field" },
	{ "spots[0].lock.address", "\"\"", 400, "bad_field" },
	{ "spots[0].lock.device_pub", "\"abc\"", 422, "bad_public_key" },
	{ "spots[0].lock.device_pub", "\"@NOTPOINT@\"", 422, "bad_public_key" },
	{ "spots[0].lock.device_pub", "\"@DEV101@\"", 409, "key_in_use" },
	{ "spots[1].lock.device_pub", "\"@DEV301@\"", 422, "duplicate_id" },
	{ "gateways", "[]", 400, "bad_field" },
	{ "gateways[0].id", "1", 409, "gateway_exists" },
	{ "gateways[0].id", "0", 400, "bad_field" },
	{ "gateways[0].public_key", "\"@GW1PUB@\"", 409, "key_in_use" },
	{ "gateways[0].public_key", "\"@NOTPOINT@\"", 422, "bad_public_key" },
	{ "gateways[0].covers", NULL, 400, "missing_field" },
	{ "gateways[0].covers", "[]", 422, "uncovered_locks" },
	{ "gateways[0].covers", "[301]", 422, "uncovered_locks" },
	{ "gateways[0].covers", "[\"301\",302]", 400, "bad_field" },
	{ "gateways[0].covers", "[301,301,302]", 422, "duplicate_id" },
	{ "gateways[0].covers", "[301,302,999]", 422, "unknown_reference" },
	{ "gateways[0].covers", "[301,302,101]", 422, "unknown_reference" },
};

static void own_site_import(void)
{
	const char *text;
	json_object *d;
	char what[160];
	struct resp r;
	size_t i;

	d = site3_desc();
	refuse("POST", "/v1/sites", AS_USER(U_DRIVER),
	       json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN), 403, "forbidden",
	       "a driver imports a site");
	json_object_put(d);
	for (i = 0; i < sizeof(site_mutations) / sizeof(site_mutations[0]); i++) {
		d = site3_desc();
		json_set(d, site_mutations[i].path, site_mutations[i].value);
		snprintf(what, sizeof(what), "site 3 with %s = %s", site_mutations[i].path,
			 site_mutations[i].value != NULL ? site_mutations[i].value : "(none)");
		refuse("POST", "/v1/sites", AS_USER(U_ADMIN),
		       json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN),
		       site_mutations[i].status, site_mutations[i].code, what);
		json_object_put(d);
	}
	/* A spot ID another site has (and covered, so that only that is wrong). */
	d = site3_desc();
	json_set(d, "spots[0].id", "101");
	json_set(d, "gateways[0].covers", "[101,302]");
	refuse("POST", "/v1/sites", AS_USER(U_ADMIN),
	       json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN), 409, "spot_exists",
	       "site 3 with site 1's spot 101");
	json_object_put(d);
	/* The uncovered locks are named. */
	d = site3_desc();
	json_set(d, "gateways[0].covers", "[301]");
	text = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN);
	api("POST", "/v1/sites", AS_USER(U_ADMIN), text, strlen(text), &r);
	json_object_put(d);
	assert_string_equal(json_object_to_json_string_ext(jget(r.json, "uncovered"),
							   JSON_C_TO_STRING_PLAIN), "[\"S-302\"]");
	assert_non_null(strstr(jstr(r.json, "detail"), "S-302"));
	resp_free(&r);
	api("GET", "/v1/sites/3", AS_USER(U_ADMIN), NULL, 0, &r);
	expect_error(&r, 404, "not_found", "site 3 after refused imports");
}

static void good_site_import(void)
{
	json_object *d = site3_desc();
	struct resp r;

	import_site(d, SITE3);
	json_object_put(d);
	api_ok("GET", "/v1/spots/301", AS_USER(U_DRIVER), NULL, 200, &r);
	resp_free(&r);
}

static void good_site_map(void)
{
	struct resp r;

	api_ok("GET", "/v1/sites/1", AS_USER(U_DRIVER), NULL, 200, &r);
	assert_string_equal(jstr(r.json, "name"), SITE1_NAME);
	assert_int_equal(json_object_array_length(jget(r.json, "spots")), SITE1_SPOTS);
	resp_free(&r);
}

static void own_provisioning(void)
{
	refuse("GET", "/v1/sites/1/provisioning", AS_USER(U_DRIVER), NULL, 403, "forbidden",
	       "a driver");
	refuse("GET", "/v1/sites/1/provisioning", AS_USER(U_OWNER), NULL, 403, "forbidden",
	       "a spot owner");
}

static void good_provisioning(void)
{
	uint8_t pub[64];

	site_pub(SITE1, pub);
	assert_memory_equal(pub, site1_pub, 64);
}

/* ---- keys ---- */

static void good_reservation_key(void)
{
	struct resp r;
	uint8_t pub[64];

	api_ok("POST", "/v1/reservation-key", AS_USER(U_DRIVER), NULL, 200, &r);
	assert_int_equal(hex_decode(jstr(r.json, "public_key"), pub, 64), 64);
	assert_memory_equal(pub, users[U_DRIVER].res_pub, 64);
	resp_free(&r);
}

#define EK(spot, dev) "{\"spot\":" spot ",\"device_pub\":" dev "}"

/* Sent by the other driver, who has a reservation key and no e-key. */
static const struct input_case ekey_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ EK("null", "\"@DEV@\""), 400, "missing_field" },
	{ "{\"spot\":\"@CT102@\"}", 400, "missing_field" },
	{ EK("\"@CT102@\"", "null"), 400, "missing_field" },
	{ EK("102", "\"@DEV@\""), 400, "bad_field" },
	{ EK("[\"@CT102@\"]", "\"@DEV@\""), 400, "bad_field" },
	{ EK("\"\"", "\"@DEV@\""), 400, "bad_field" },
	{ EK("\"zz\"", "\"@DEV@\""), 400, "bad_field" },
	{ EK("\"abc\"", "\"@DEV@\""), 400, "bad_field" },
	{ EK("\"@CTLONG@\"", "\"@DEV@\""), 400, "bad_field" },
	{ EK("\"@CT102@\"", "\"abcd\""), 400, "bad_field" },
	{ EK("\"@CT102@\"", "\"@DEV@00\""), 400, "bad_field" },
	{ EK("\"@CT102@\"", "12"), 400, "bad_field" },
	{ EK("\"@CT102@\"", "\"@NOTPOINT@\""), 400, "bad_field" },
	{ EK("\"@CTJUNK@\"", "\"@DEV@\""), 400, "bad_ciphertext" },
	{ EK("\"@CTFLIP@\"", "\"@DEV@\""), 400, "bad_ciphertext" },
	{ EK("\"@CTDRIVER102@\"", "\"@DEV@\""), 400, "bad_ciphertext" },
	{ EK("\"@CT5BYTES@\"", "\"@DEV@\""), 400, "bad_ciphertext" },
	{ EK("\"@CT999999@\"", "\"@DEV@\""), 404, "not_found" },
	{ EK("\"@CT0@\"", "\"@DEV@\""), 404, "not_found" },
	{ EK("\"@CT101@\"", "\"@DEV@\""), 409, "spot_taken" },
	{ EK("\"@CT103@\"", "\"@DEV@\""), 403, "not_allowed" },
};

static int key_count(int u)
{
	struct resp r;
	int n;

	api_ok("GET", "/v1/keys", AS_USER(u), NULL, 200, &r);
	n = (int)json_object_array_length(jget(r.json, "keys"));
	resp_free(&r);
	return n;
}

static void own_ekey(void)
{
	static char body[TEXT_MAX];

	/* Without a reservation key nothing can decrypt: 409, whatever the ciphertext. */
	expand(EK("\"@CT102@\"", "\"@DEV@\""), body, sizeof(body));
	refuse("POST", "/v1/ekeys", AS_USER(U_FRESH), body, 409, "no_reservation_key",
	       "a user without a reservation key");
	assert_int_equal(key_count(U_OTHER), 0);
	assert_int_equal(key_count(U_DRIVER), 1);
}

static void good_ekey(void)
{
	static char body[TEXT_MAX];
	struct resp r;

	expand(EK("\"@CT102@\"", "\"@DEV@\""), body, sizeof(body));
	api_ok("POST", "/v1/ekeys", AS_USER(U_OTHER), body, 201, &r);
	assert_int_equal(jint(r.json, "spot_id"), SPOT_OWNED);
	resp_free(&r);
	assert_int_equal(key_count(U_OTHER), 1);
}

static void good_keys(void)
{
	json_object *k;
	struct resp r;

	api_ok("GET", "/v1/keys", AS_USER(U_DRIVER), NULL, 200, &r);
	assert_int_equal(json_object_array_length(jget(r.json, "keys")), 1);
	k = json_object_array_get_idx(jget(r.json, "keys"), 0);
	assert_int_equal(jint(k, "spot_id"), SPOT_FREE);
	assert_string_equal(jstr(jget(k, "delivery"), "state"), "pending");
	resp_free(&r);
}

/* ---- gateways ---- */

static void good_gateway_locks(void)
{
	struct resp r;

	api_ok("GET", "/v1/gateway/locks", AS_GW(1), NULL, 200, &r);
	assert_int_equal(json_object_array_length(jget(r.json, "locks")), SITE1_SPOTS);
	resp_free(&r);
	api_ok("GET", "/v1/gateway/locks", AS_GW(2), NULL, 200, &r);
	assert_int_equal(json_object_array_length(jget(r.json, "locks")), KILL_SPOTS / 2);
	resp_free(&r);
}

static const struct input_case message_targets[] = {
	{ "/v1/gateway/messages?wait=61", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=-1", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=abc", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=1x", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=+1", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=%201", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=99999999999999999999", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=0&resume=2", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=0&resume=yes", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=0&resume=", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=0&resume=-1", 400, "bad_field" },
	{ "/v1/gateway/messages?wait=61&resume=1", 400, "bad_field" },
};

static void good_gateway_messages(void)
{
	json_object *msgs;
	struct resp r;

	/* The driver's credential for 101, and the other driver's for 102 (good_ekey). */
	msgs = gateway_messages(1, &r);
	assert_int_equal(jint(message_find(msgs, SPOT_FREE, PROTO_MGMT_INSTALL_CRED), "id"),
			 msg101);
	assert_non_null(message_find(msgs, SPOT_OWNED, PROTO_MGMT_INSTALL_CRED));
	assert_null(message_find(msgs, SPOT_CLOSED, PROTO_MGMT_INSTALL_CRED));
	resp_free(&r);
	/* A gateway sees its own locks' messages only. */
	msgs = gateway_messages(2, &r);
	assert_null(message_find(msgs, SPOT_FREE, PROTO_MGMT_INSTALL_CRED));
	resp_free(&r);
}

#define ACK(x) "{\"acks\":[" x "]}"

static const struct input_case ack_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"acks\":null}", 400, "missing_field" },
	{ "{\"acks\":{}}", 400, "bad_field" },
	{ "{\"acks\":\"@MSG@\"}", 400, "bad_field" },
	{ ACK("1"), 400, "bad_field" },
	{ ACK("{}"), 400, "bad_field" },
	{ ACK("{\"id\":@MSG@}"), 400, "bad_field" },
	{ ACK("{\"id\":@MSG@,\"frame\":\"00\",\"error\":\"unreachable\"}"), 400, "bad_field" },
	{ ACK("{\"frame\":\"00\"}"), 400, "missing_field" },
	{ ACK("{\"id\":\"@MSG@\",\"error\":\"unreachable\"}"), 400, "bad_field" },
	{ ACK("{\"id\":0,\"error\":\"unreachable\"}"), 400, "bad_field" },
	{ ACK("{\"id\":-1,\"error\":\"unreachable\"}"), 400, "bad_field" },
	{ ACK("{\"id\":1.5,\"error\":\"unreachable\"}"), 400, "bad_field" },
	{ ACK("{\"id\":@MSG@,\"frame\":\"zz\"}"), 400, "bad_field" },
	{ ACK("{\"id\":@MSG@,\"frame\":\"abc\"}"), 400, "bad_field" },
	{ ACK("{\"id\":@MSG@,\"frame\":\"\"}"), 400, "bad_field" },
	{ ACK("{\"id\":@MSG@,\"frame\":12}"), 400, "bad_field" },
	{ ACK("{\"id\":@MSG@,\"error\":\"\"}"), 400, "bad_field" },
	{ ACK("{\"id\":@MSG@,\"error\":5}"), 400, "bad_field" },
	{ ACK("{\"id\":@MSG@,\"error\":\"0123456789012345678901234567890123456789012345678901"
	      "2345678901234\"}"), 400, "bad_field" },
	/* One good ack before a bad one: the report is refused whole. */
	{ ACK("{\"id\":@MSG@,\"error\":\"unreachable\"},{\"id\":\"x\"}"), 400, "bad_field" },
};

/* A MGMT_ACK frame for (spot, seq) signed by `key`, as hex. */
static void ack_frame(EVP_PKEY *key, uint32_t site, uint32_t spot, uint32_t seq, char *out,
		      size_t cap)
{
	uint8_t tbs[256], digest[32], frame[PROTO_FRAME_MAX];
	struct wire_writer w;
	struct proto_msg m;
	int n;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_MGMT_ACK;
	m.u.ack.spot_id = spot;
	m.u.ack.seq = seq;
	m.u.ack.mtype = PROTO_MGMT_INSTALL_CRED;
	m.u.ack.result = PROTO_OK;
	m.u.ack.lock_time = 0;
	wire_writer_init(&w, tbs, sizeof(tbs));
	proto_tbs_ack(&w, site, &m.u.ack);
	assert_false(w.error);
	assert_int_equal(p256_sha256(tbs, w.off, digest), 0);
	assert_int_equal(p256_sign_digest(key, digest, m.u.ack.sig), 0);
	n = proto_encode(&m, frame, sizeof(frame));
	assert_true(n > 0);
	assert_true(hex_encode(frame, (size_t)n, out, cap) > 0);
}

/* An ack report that is taken (200) but whose one ack is rejected with `code`. */
static void ack_rejected(int gw, const char *ack, const char *code, const char *what)
{
	char body[2048], label[256];
	json_object *rej;
	struct resp r;

	snprintf(body, sizeof(body), "{\"acks\":[%s]}", ack);
	snprintf(label, sizeof(label), "POST /v1/gateway/acks [%s]", what);
	if (api("POST", "/v1/gateway/acks", AS_GW(gw), body, strlen(body), &r) != 200)
		fail_msg("%s: wanted 200, got %ld %s", label, r.status, rbody(&r));
	assert_int_equal(jint(r.json, "accepted"), 0);
	rej = jget(r.json, "rejected");
	if (json_object_array_length(rej) != 1 ||
	    strcmp(jstr(json_object_array_get_idx(rej, 0), "error"), code) != 0)
		fail_msg("%s: wanted one rejection %s, got %s", label, code, rbody(&r));
	resp_free(&r);
	unchanged(label);
	refusals++;
}

static void own_acks(void)
{
	static char body[64 * 1024];
	char frame[2 * PROTO_FRAME_MAX + 1], ack[2 * PROTO_FRAME_MAX + 64];
	size_t i, n;

	ack_rejected(1, "{\"id\":999999,\"error\":\"unreachable\"}", "not_found",
		     "an unknown message");
	snprintf(ack, sizeof(ack), "{\"id\":%lld,\"error\":\"unreachable\"}", (long long)msg101);
	ack_rejected(2, ack, "forbidden", "another gateway's message");
	ack_frame(gws[1].key, SITE1, SPOT_FREE, (uint32_t)msg101_seq, frame, sizeof(frame));
	snprintf(ack, sizeof(ack), "{\"id\":%lld,\"frame\":\"%s\"}", (long long)msg101, frame);
	ack_rejected(1, ack, "bad_ack", "an ack not signed by the lock");
	ack_frame(lock101, SITE1, SPOT_FREE, (uint32_t)msg101_seq + 1, frame, sizeof(frame));
	snprintf(ack, sizeof(ack), "{\"id\":%lld,\"frame\":\"%s\"}", (long long)msg101, frame);
	ack_rejected(1, ack, "bad_ack", "the lock's ack of another sequence");
	ack_frame(lock101, SITE2, SPOT_FREE, (uint32_t)msg101_seq, frame, sizeof(frame));
	snprintf(ack, sizeof(ack), "{\"id\":%lld,\"frame\":\"%s\"}", (long long)msg101, frame);
	ack_rejected(1, ack, "bad_ack", "the lock's ack signed for another site");
	snprintf(ack, sizeof(ack), "{\"id\":%lld,\"frame\":\"0190\"}", (long long)msg101);
	ack_rejected(1, ack, "bad_ack", "a truncated frame");
	/* More acks than one report may carry. */
	n = (size_t)snprintf(body, sizeof(body), "{\"acks\":[");
	for (i = 0; i < 257; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"id\":%zu,\"error\":\"x\"}",
				      i > 0 ? "," : "", i + 1000000);
	snprintf(body + n, sizeof(body) - n, "]}");
	refuse("POST", "/v1/gateway/acks", AS_GW(1), body, 400, "bad_field", "257 acks");
}

static void good_acks(void)
{
	char frame[2 * PROTO_FRAME_MAX + 1], body[2 * PROTO_FRAME_MAX + 64];
	json_object *k;
	struct resp r;

	snprintf(body, sizeof(body), "{\"acks\":[{\"id\":%lld,\"error\":\"unreachable\"}]}",
		 (long long)msg101);
	api_ok("POST", "/v1/gateway/acks", AS_GW(1), body, 200, &r);
	assert_int_equal(jint(r.json, "accepted"), 1);
	resp_free(&r);
	ack_frame(lock101, SITE1, SPOT_FREE, (uint32_t)msg101_seq, frame, sizeof(frame));
	snprintf(body, sizeof(body), "{\"acks\":[{\"id\":%lld,\"frame\":\"%s\"}]}",
		 (long long)msg101, frame);
	api_ok("POST", "/v1/gateway/acks", AS_GW(1), body, 200, &r);
	assert_int_equal(jint(r.json, "accepted"), 1);
	resp_free(&r);
	api_ok("GET", "/v1/keys", AS_USER(U_DRIVER), NULL, 200, &r);
	k = json_object_array_get_idx(jget(r.json, "keys"), 0);
	assert_string_equal(jstr(jget(k, "delivery"), "state"), "acked");
	resp_free(&r);
}

#define ST(x) "{\"locks\":[" x "]}"

static const struct input_case status_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"locks\":null}", 400, "missing_field" },
	{ "{\"locks\":{}}", 400, "bad_field" },
	{ "{\"locks\":true}", 400, "bad_field" },
	{ ST("1"), 400, "bad_field" },
	{ ST("{}"), 400, "missing_field" },
	{ ST("{\"online\":true}"), 400, "missing_field" },
	{ ST("{\"spot\":101}"), 400, "missing_field" },
	{ ST("{\"spot\":101,\"online\":null}"), 400, "missing_field" },
	{ ST("{\"spot\":\"101\",\"online\":true}"), 400, "bad_field" },
	{ ST("{\"spot\":0,\"online\":true}"), 400, "bad_field" },
	{ ST("{\"spot\":4294967296,\"online\":true}"), 400, "bad_field" },
	{ ST("{\"spot\":101.5,\"online\":true}"), 400, "bad_field" },
	{ ST("{\"spot\":101,\"online\":1}"), 400, "bad_field" },
	{ ST("{\"spot\":101,\"online\":\"yes\"}"), 400, "bad_field" },
	{ ST("{\"spot\":101,\"online\":true},{\"spot\":102}"), 400, "missing_field" },
	{ ST("{\"spot\":999999,\"online\":false}"), 404, "not_found" },
	{ ST("{\"spot\":2001,\"online\":false}"), 403, "forbidden" },
	/* A good report before one of an unknown spot: refused whole. */
	{ ST("{\"spot\":101,\"online\":false},{\"spot\":999999,\"online\":false}"), 404,
	  "not_found" },
	{ ST("{\"spot\":101,\"online\":false},{\"spot\":2001,\"online\":false}"), 403,
	  "forbidden" },
};

static void own_status(void)
{
	static char body[64 * 1024];
	size_t i, n;

	n = (size_t)snprintf(body, sizeof(body), "{\"locks\":[");
	for (i = 0; i < 257; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"spot\":101,\"online\":true}",
				      i > 0 ? "," : "");
	snprintf(body + n, sizeof(body) - n, "]}");
	refuse("POST", "/v1/gateway/status", AS_GW(1), body, 413, "body_too_large", "257 locks");
}

static void good_status(void)
{
	struct resp r;

	api_ok("POST", "/v1/gateway/status", AS_GW(1),
	       ST("{\"spot\":103,\"online\":true}"), 200, &r);
	assert_int_equal(jint(r.json, "accepted"), 1);
	resp_free(&r);
	api_ok("GET", "/v1/spots/103", AS_USER(U_DRIVER), NULL, 200, &r);
	assert_true(json_object_get_boolean(jget(r.json, "online")));
	resp_free(&r);
	/* The same report again changes nothing. */
	baseline();
	api_ok("POST", "/v1/gateway/status", AS_GW(1),
	       ST("{\"spot\":103,\"online\":true}"), 200, &r);
	assert_int_equal(jint(r.json, "changed"), 0);
	resp_free(&r);
	unchanged("a reach report sent twice");
}

#define EV(x) "{\"events\":[" x "]}"
#define EV101 "\"spot\":101,\"seq\":7,\"time\":1800000000"

static const struct input_case event_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"events\":null}", 400, "missing_field" },
	{ "{\"events\":{}}", 400, "bad_field" },
	{ "{\"events\":\"car_arrived\"}", 400, "bad_field" },
	{ EV("1"), 400, "bad_field" },
	{ EV("[]"), 400, "bad_field" },
	{ EV("{}"), 400, "missing_field" },
	{ EV("{\"seq\":7,\"time\":1800000000,\"kind\":\"car_arrived\"}"), 400, "missing_field" },
	{ EV("{\"spot\":101,\"time\":1800000000,\"kind\":\"car_arrived\"}"), 400,
	  "missing_field" },
	{ EV("{\"spot\":101,\"seq\":7,\"kind\":\"car_arrived\"}"), 400, "missing_field" },
	{ EV("{" EV101 "}"), 400, "missing_field" },
	{ EV("{" EV101 ",\"kind\":null}"), 400, "missing_field" },
	{ EV("{" EV101 ",\"kind\":\"nope\"}"), 400, "bad_field" },
	{ EV("{" EV101 ",\"kind\":3}"), 400, "bad_field" },
	{ EV("{" EV101 ",\"kind\":\"\"}"), 400, "bad_field" },
	{ EV("{\"spot\":\"101\",\"seq\":7,\"time\":1800000000,\"kind\":\"car_arrived\"}"), 400,
	  "bad_field" },
	{ EV("{\"spot\":4294967296,\"seq\":7,\"time\":1800000000,\"kind\":\"car_arrived\"}"),
	  400, "bad_field" },
	{ EV("{\"spot\":101,\"seq\":0,\"time\":1800000000,\"kind\":\"car_arrived\"}"), 400,
	  "bad_field" },
	{ EV("{\"spot\":101,\"seq\":1.5,\"time\":1800000000,\"kind\":\"car_arrived\"}"), 400,
	  "bad_field" },
	{ EV("{\"spot\":101,\"seq\":7,\"time\":-1,\"kind\":\"car_arrived\"}"), 400,
	  "bad_field" },
	{ EV("{" EV101 ",\"kind\":\"car_arrived\",\"arg8\":256}"), 400, "bad_field" },
	{ EV("{" EV101 ",\"kind\":\"car_arrived\",\"arg16\":65536}"), 400, "bad_field" },
	{ EV("{" EV101 ",\"kind\":\"car_arrived\",\"user_id\":-1}"), 400, "bad_field" },
	{ EV("{" EV101 ",\"kind\":\"car_arrived\",\"key_id\":\"9\"}"), 400, "bad_field" },
	{ EV("{" EV101 ",\"kind\":\"car_arrived\"},{\"spot\":101}"), 400, "missing_field" },
	{ EV("{\"spot\":999999,\"seq\":7,\"time\":1800000000,\"kind\":\"car_arrived\"}"), 404,
	  "not_found" },
	{ EV("{\"spot\":2001,\"seq\":7,\"time\":1800000000,\"kind\":\"car_arrived\"}"), 403,
	  "forbidden" },
	/* A good event before one of an unknown spot: the batch is refused whole. */
	{ EV("{" EV101 ",\"kind\":\"car_arrived\"},{\"spot\":999999,\"seq\":1,"
	     "\"time\":1800000000,\"kind\":\"car_left\"}"), 404, "not_found" },
};

static void own_events(void)
{
	static char body[64 * 1024];
	size_t i, n;

	n = (size_t)snprintf(body, sizeof(body), "{\"events\":[");
	for (i = 0; i < 101; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"spot\":101,\"seq\":%zu,"
				      "\"time\":1800000000,\"kind\":\"car_arrived\"}",
				      i > 0 ? "," : "", 100 + i);
	snprintf(body + n, sizeof(body) - n, "]}");
	refuse("POST", "/v1/gateway/events", AS_GW(1), body, 413, "body_too_large",
	       "101 events");
}

static void good_events(void)
{
	const char *body = EV("{\"spot\":101,\"seq\":1,\"time\":1800000000,"
			      "\"kind\":\"car_arrived\"}");
	struct resp r;

	api_ok("POST", "/v1/gateway/events", AS_GW(1), body, 200, &r);
	assert_int_equal(jint(r.json, "accepted"), 1);
	resp_free(&r);
	api_ok("GET", "/v1/spots/101", AS_USER(U_DRIVER), NULL, 200, &r);
	assert_true(json_object_get_boolean(jget(r.json, "occupied")));
	resp_free(&r);
	/* The same event again is a duplicate that changes nothing. */
	baseline();
	api_ok("POST", "/v1/gateway/events", AS_GW(1), body, 200, &r);
	assert_int_equal(jint(r.json, "accepted"), 0);
	assert_int_equal(jint(r.json, "duplicates"), 1);
	resp_free(&r);
	unchanged("an event sent twice");
}

static const struct input_case stream_targets[] = {
	{ "/v1/events?site=abc", 400, "bad_field" },
	{ "/v1/events?site=0", 400, "bad_field" },
	{ "/v1/events?site=", 400, "bad_field" },
	{ "/v1/events?site=-1", 400, "bad_field" },
	{ "/v1/events?site=1x", 400, "bad_field" },
	{ "/v1/events?site=4294967296", 400, "bad_field" },
	{ "/v1/events?after=abc", 400, "bad_field" },
	{ "/v1/events?after=", 400, "bad_field" },
	{ "/v1/events?after=-1", 400, "bad_field" },
	{ "/v1/events?after=+5", 400, "bad_field" },
	{ "/v1/events?after=7x", 400, "bad_field" },
	{ "/v1/events?after=99999999999999999999", 400, "bad_field" },
};


static void own_stream(void)
{
	refuse("GET", "/v1/events?site=1", AS_USER(U_DRIVER), NULL, 403, "forbidden",
	       "a driver watches a site");
	refuse("GET", "/v1/events?site=1", AS_USER(U_OWNER), NULL, 403, "forbidden",
	       "a spot owner watches the site");
	refuse("GET", "/v1/events?site=999999", AS_USER(U_ADMIN), NULL, 404, "not_found",
	       "an admin watches a site that does not exist");
}

/* Last-Event-ID (EventSource's) is checked as ?after= is, and wins over it. */
static void stream_resume_header(void)
{
	struct resp r;

	api_with_header("GET", "/v1/events?after=1", AS_USER(U_DRIVER), NULL, 0, &r, 700,
			"Last-Event-ID: x7");
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error"), "bad_field");
	assert_non_null(strstr(jstr(r.json, "detail"), "Last-Event-ID"));
	resp_free(&r);
	api_with_header("GET", "/v1/events?after=1", AS_USER(U_DRIVER), NULL, 0, &r, 700,
			"Last-Event-ID: 3");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(rbody(&r), "event: ready"));
	resp_free(&r);
}

static void good_stream(void)
{
	struct resp r;

	stream_resume_header();
	api_timeout("GET", "/v1/events", AS_USER(U_DRIVER), NULL, 0, &r, 700);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.content_type, "text/event-stream"));
	assert_non_null(strstr(rbody(&r), "event: ready\n"));
	resp_free(&r);
}

/* ---- spots ---- */

static const struct input_case spots_targets[] = {
	{ "/v1/spots?site=abc", 400, "bad_field" },
	{ "/v1/spots?site=0", 400, "bad_field" },
	{ "/v1/spots?site=", 400, "bad_field" },
	{ "/v1/spots?site=-1", 400, "bad_field" },
	{ "/v1/spots?site=4294967296", 400, "bad_field" },
	{ "/v1/spots?site=1x", 400, "bad_field" },
	{ "/v1/spots?level=", 400, "bad_field" },
	{ "/v1/spots?level=L1234567890123456789012345678901234567890123456789012345678901234567",
	  400, "bad_field" },
};

static void good_spots(void)
{
	json_object *list;
	struct resp r;
	size_t i;

	api_ok("GET", "/v1/spots?site=1", AS_USER(U_DRIVER), NULL, 200, &r);
	assert_int_equal(json_object_array_length(jget(r.json, "spots")), SITE1_SPOTS);
	resp_free(&r);
	api_ok("GET", "/v1/spots?site=1&free=1", AS_USER(U_DRIVER), NULL, 200, &r);
	list = jget(r.json, "spots");
	for (i = 0; i < json_object_array_length(list); i++)
		assert_int_not_equal(jint(json_object_array_get_idx(list, i), "id"), SPOT_FREE);
	resp_free(&r);
}

static void good_spot(void)
{
	struct resp r;

	api_ok("GET", "/v1/spots/101", AS_USER(U_DRIVER), NULL, 200, &r);
	assert_true(json_object_get_boolean(jget(r.json, "taken")));
	resp_free(&r);
}

#define REGION70 "R123456789012345678901234567890123456789012345678901234567890123456789"

/* Sent by the owner of 102, which has no region. */
static const struct input_case patch_bodies[] = {
	{ "{\"policy\":5}", 400, "bad_field" },
	{ "{\"policy\":\"everyone\"}", 400, "bad_field" },
	{ "{\"policy\":\"ANYONE\"}", 400, "bad_field" },
	{ "{\"policy\":\"\"}", 400, "bad_field" },
	{ "{\"policy\":\"authorisedXYZ\"}", 400, "bad_field" },
	{ "{\"policy\":[\"anyone\"]}", 400, "bad_field" },
	{ "{\"policy\":\"region\"}", 400, "bad_field" },
	{ "{\"region\":\"\"}", 400, "bad_field" },
	{ "{\"region\":5}", 400, "bad_field" },
	{ "{\"region\":\"" REGION70 "\"}", 400, "bad_field" },
	{ "{\"key_valid_s\":-1}", 400, "bad_field" },
	{ "{\"key_valid_s\":\"60\"}", 400, "bad_field" },
	{ "{\"key_valid_s\":1.5}", 400, "bad_field" },
	{ "{\"key_valid_s\":1e3}", 400, "bad_field" },
	{ "{\"key_valid_s\":31622401}", 400, "bad_field" },
	{ "{\"key_max_unlocks\":65536}", 400, "bad_field" },
	{ "{\"key_max_unlocks\":true}", 400, "bad_field" },
	{ "{\"key_max_unlocks\":99999999999999999999}", 400, "bad_field" },
	/* A good field beside a bad one: nothing is applied. */
	{ "{\"key_max_unlocks\":3,\"key_valid_s\":-5}", 400, "bad_field" },
	{ "{\"policy\":\"anyone\",\"region\":\"\"}", 400, "bad_field" },
};

static void own_patch(void)
{
	struct resp r;

	refuse("PATCH", "/v1/spots/102", AS_USER(U_OTHER), "{\"key_max_unlocks\":7}", 403,
	       "forbidden", "a driver changes another user's spot");
	refuse("PATCH", "/v1/spots/102", AS_USER(U_DRIVER), "{\"policy\":\"authorised\"}", 403,
	       "forbidden", "a driver changes another user's spot");
	refuse("PATCH", "/v1/spots/101", AS_USER(U_OWNER), "{\"key_max_unlocks\":7}", 403,
	       "forbidden", "an owner changes a spot that is not his");
	refuse("PATCH", "/v1/spots/101", AS_USER(U_DRIVER), "{\"key_max_unlocks\":7}", 403,
	       "forbidden", "the key holder changes a spot without owner");
	/* "null counts as absent" (server/openapi.yaml): a null member changes nothing. */
	if (api("PATCH", "/v1/spots/102", AS_USER(U_OWNER), "{\"region\":null}",
		strlen("{\"region\":null}"), &r) != 200)
		problem("PATCH {\"region\":null}: null counts as absent, wanted 200, got %ld %s",
			r.status, rbody(&r));
	resp_free(&r);
	baseline();
}

static void good_patch(void)
{
	static char body[BODY_MAX + 1];
	struct resp r;

	/* A body of exactly the limit is taken. */
	memset(body, ' ', BODY_MAX);
	memcpy(body, "{\"key_max_unlocks\":7}", 21);
	api("PATCH", "/v1/spots/102", AS_USER(U_OWNER), body, BODY_MAX, &r);
	if (r.status != 200)
		fail_msg("PATCH with a body of %d bytes: %ld %s", BODY_MAX, r.status, rbody(&r));
	resp_free(&r);
	api_ok("GET", "/v1/spots/102", AS_USER(U_OWNER), NULL, 200, &r);
	assert_int_equal(jint(r.json, "key_max_unlocks"), 7);
	resp_free(&r);
}

static void own_map(void)
{
	refuse("GET", "/v1/spots/104/map", AS_USER(U_DRIVER), NULL, 409, "no_route",
	       "spot 104, whose node has no lane");
}

static void good_map(void)
{
	json_object *routes_json;
	struct resp r;

	api_ok("GET", "/v1/spots/102/map", AS_USER(U_DRIVER), NULL, 200, &r);
	routes_json = jget(r.json, "routes");
	assert_true(json_object_array_length(jget(jget(routes_json, "in"), "sentences")) > 0);
	assert_true(json_object_array_length(jget(jget(routes_json, "out"), "sentences")) > 0);
	resp_free(&r);
}

/* GET /v1/spots/{id}/keys: the owner and the site's staff, nobody else. */
static void own_spot_keys(void)
{
	refuse("GET", "/v1/spots/102/keys", AS_USER(U_DRIVER), NULL, 403, "forbidden",
	       "a driver");
	refuse("GET", "/v1/spots/103/keys", AS_USER(U_OWNER), NULL, 403, "forbidden",
	       "the owner of another spot");
	refuse("GET", "/v1/spots/102/keys", AS_USER(U_ATTENDANT2), NULL, 403, "forbidden",
	       "an attendant of another site");
}

static void good_spot_keys(void)
{
	struct resp r;

	api_ok("GET", "/v1/spots/102/keys", AS_USER(U_OWNER), NULL, 200, &r);
	assert_true(json_object_is_type(jget(r.json, "keys"), json_type_array));
	assert_true(json_object_is_type(jget(r.json, "shares"), json_type_array));
	resp_free(&r);
	api_ok("GET", "/v1/spots/102/keys", AS_USER(U_ATTENDANT), NULL, 200, &r);
	assert_true(json_object_is_type(jget(r.json, "keys"), json_type_array));
	resp_free(&r);
}

/* ---- site staff ---- */

static void own_roles_list(void)
{
	refuse("GET", "/v1/sites/1/roles", AS_USER(U_DRIVER), NULL, 403, "forbidden",
	       "a driver");
	refuse("GET", "/v1/sites/1/roles", AS_USER(U_OWNER), NULL, 403, "forbidden",
	       "a spot owner");
}

static void good_roles_list(void)
{
	struct resp r;

	api_ok("GET", "/v1/sites/1/roles", AS_USER(U_ADMIN), NULL, 200, &r);
	assert_true(json_object_is_type(jget(r.json, "roles"), json_type_array));
	resp_free(&r);
}

/* POST /v1/users/region: an administrator records a user's region. */
static const struct input_case region_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"phone\":\"@OTHERPHONE@\"}", 400, "missing_field" },
	{ "{\"region\":\"Futian\"}", 400, "missing_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"region\":5}", 400, "bad_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"region\":\"\"}", 400, "bad_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"region\":\"" "0123456789012345678901234567890123"
	  "456789012345678901234567890123\"}", 400, "bad_field" },
	{ "{\"phone\":8613800000103,\"region\":\"Futian\"}", 400, "bad_field" },
	{ "{\"phone\":\"not a phone\",\"region\":\"Futian\"}", 400, "bad_field" },
	{ "{\"phone\":\"" NA "\",\"region\":\"Futian\"}", 404, "not_found" },
};

static void own_region(void)
{
	refuse("POST", "/v1/users/region", AS_USER(U_DRIVER),
	       "{\"phone\":\"+8613800000102\",\"region\":\"Futian\"}", 403, "forbidden",
	       "a driver sets a region");
	refuse("POST", "/v1/users/region", AS_USER(U_ATTENDANT),
	       "{\"phone\":\"+8613800000102\",\"region\":\"Futian\"}", 403, "forbidden",
	       "a site's attendant sets a region");
}

static void good_region(void)
{
	char body[128];
	json_object *v;
	struct resp r;

	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"region\":\"Futian\"}",
		 users[U_DRIVER].phone);
	api_ok("POST", "/v1/users/region", AS_USER(U_ADMIN), body, 200, &r);
	assert_string_equal(jstr(r.json, "region"), "Futian");
	resp_free(&r);
	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"region\":null}",
		 users[U_DRIVER].phone);
	api_ok("POST", "/v1/users/region", AS_USER(U_ADMIN), body, 200, &r);
	assert_true(json_object_object_get_ex(r.json, "region", &v));
	assert_null(v);
	resp_free(&r);
}

static const struct input_case grant_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"phone\":\"@OTHERPHONE@\"}", 400, "missing_field" },
	{ "{\"role\":\"attendant\"}", 400, "missing_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"role\":null}", 400, "missing_field" },
	{ "{\"phone\":8613800000103,\"role\":\"attendant\"}", 400, "bad_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"role\":5}", 400, "bad_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"role\":\"janitor\"}", 400, "bad_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"role\":\"owner\"}", 400, "bad_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"role\":\"driver\"}", 400, "bad_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"role\":\"ATTENDANT\"}", 400, "bad_field" },
	{ "{\"phone\":\"+1\",\"role\":\"attendant\"}", 400, "bad_field" },
	{ "{\"phone\":\"not a phone\",\"role\":\"attendant\"}", 400, "bad_field" },
	{ "{\"phone\":\"" NA "\",\"role\":\"attendant\"}", 404, "not_found" },
};

static void own_grant(void)
{
	refuse("POST", "/v1/sites/1/roles", AS_USER(U_DRIVER),
	       "{\"phone\":\"+8613800000102\",\"role\":\"admin\"}", 403, "forbidden",
	       "a driver makes himself an admin");
	refuse("POST", "/v1/sites/1/roles", AS_USER(U_OWNER),
	       "{\"phone\":\"+8613800000101\",\"role\":\"attendant\"}", 403, "forbidden",
	       "an owner makes himself an attendant");
}

static void good_grant(void)
{
	int64_t id = grant(SITE1, users[U_OTHER].phone, "attendant");

	assert_true(id > 0);
	assert_int_equal(grant(SITE1, users[U_OTHER].phone, "attendant"), id);
}

/* The DELETE route needs a staff role row to aim at. */
static void prepare_revoke(void)
{
	char text[32];

	if (staff_role == 0)
		staff_role = grant(SITE1, users[U_FRESH].phone, "attendant");
	snprintf(text, sizeof(text), "%lld", (long long)staff_role);
	sub_set("ROLE", text);
}

static void own_revoke(void)
{
	static char target[256];

	expand("/v1/sites/1/roles/@ROLE@", target, sizeof(target));
	refuse("DELETE", target, AS_USER(U_DRIVER), NULL, 403, "forbidden", "a driver");
	refuse("DELETE", target, AS_USER(U_OWNER), NULL, 403, "forbidden", "a spot owner");
	expand("/v1/sites/2/roles/@ROLE@", target, sizeof(target));
	refuse("DELETE", target, AS_USER(U_ADMIN), NULL, 404, "not_found",
	       "a role of another site");
	expand("/v1/sites/1/roles/@OWNERROLE@", target, sizeof(target));
	refuse("DELETE", target, AS_USER(U_ADMIN), NULL, 404, "not_found",
	       "an owner role (not staff)");
}

static void good_revoke(void)
{
	char target[64];
	struct resp r;

	snprintf(target, sizeof(target), "/v1/sites/1/roles/%lld", (long long)staff_role);
	api_ok("DELETE", target, AS_USER(U_ADMIN), NULL, 204, &r);
	resp_free(&r);
	api("DELETE", target, AS_USER(U_ADMIN), NULL, 0, &r);
	expect_error(&r, 404, "not_found", "a role withdrawn twice");
	staff_role = 0;
}

/* ---- the attendants' console: overrides and alarms ---- */

#define TEXT10 "Barrier 10"
#define TEXT50 TEXT10 TEXT10 TEXT10 TEXT10 TEXT10
#define TEXT200 TEXT50 TEXT50 TEXT50 TEXT50 /* the longest reason or note */
#define ACCENTS10 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define ACCENTS50 ACCENTS10 ACCENTS10 ACCENTS10 ACCENTS10 ACCENTS10
#define ACCENTS200 ACCENTS50 ACCENTS50 ACCENTS50 ACCENTS50 /* 200 characters, 400 bytes */
#define REASON "Driver stuck: ticket machine down"
#define OV(op, reason) "{\"op\":" op ",\"reason\":" reason "}"
_Static_assert(sizeof(TEXT200) == 200 + 1 && sizeof(ACCENTS200) == 400 + 1, "200 characters");

/* Sent by site 1's attendant for 102. */
static const struct input_case override_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"reason\":\"x\"}", 400, "missing_field" },
	{ OV("null", "\"x\""), 400, "missing_field" },
	{ "{\"op\":\"unlock\"}", 400, "missing_field" },
	{ OV("\"unlock\"", "null"), 400, "missing_field" },
	{ OV("\"open\"", "\"x\""), 400, "bad_field" },
	{ OV("\"UNLOCK\"", "\"x\""), 400, "bad_field" },
	{ OV("\"unlock \"", "\"x\""), 400, "bad_field" },
	{ OV("\"\"", "\"x\""), 400, "bad_field" },
	{ OV("\"unlock-and-leave-it-down\"", "\"x\""), 400, "bad_field" },
	{ OV("1", "\"x\""), 400, "bad_field" },
	{ OV("true", "\"x\""), 400, "bad_field" },
	{ OV("[\"unlock\"]", "\"x\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"   \""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"\\u3000\\u00a0\\u200b\\ufeff\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"two\\nlines\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"cr\\rhere\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"tab\\there\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"nul\\u0000byte\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"\\u001b[2J\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"del\\u007f\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"c1\\u0085\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"" TEXT200 "x\""), 400, "bad_field" },
	{ OV("\"unlock\"", "\"" ACCENTS200 "x\""), 400, "bad_field" },
	{ OV("\"unlock\"", "42"), 400, "bad_field" },
	{ OV("\"unlock\"", "[\"x\"]"), 400, "bad_field" },
	{ OV("\"unlock\"", "{}"), 400, "bad_field" },
};

static void own_override(void)
{
	const char *body = OV("\"unlock\"", "\"" REASON "\"");
	int64_t seq;

	refuse("POST", "/v1/spots/102/override", AS_USER(U_DRIVER), body, 403, "forbidden",
	       "a driver");
	refuse("POST", "/v1/spots/102/override", AS_USER(U_OWNER), body, 403, "forbidden",
	       "the spot's owner");
	refuse("POST", "/v1/spots/102/override", AS_USER(U_ATTENDANT2), body, 403, "forbidden",
	       "another site's attendant");
	refuse("POST", "/v1/spots/2001/override", AS_USER(U_ATTENDANT), body, 403, "forbidden",
	       "an attendant overrides a spot of another site");
	/* Who may not override learns nothing of the rules for the body. */
	refuse("POST", "/v1/spots/102/override", AS_USER(U_DRIVER), "{}", 403, "forbidden",
	       "a driver with an empty body");
	/*
	 * A lock whose management sequences are spent takes no override: the 409 that the
	 * API can reach, since an imported spot always has a lock.
	 */
	seq = sdb_int("SELECT mgmt_seq FROM locks WHERE spot_id = 102");
	sdb_write("UPDATE locks SET mgmt_seq = ?1 WHERE spot_id = 102", NULL, 0, 4294967295LL);
	baseline();
	refuse("POST", "/v1/spots/102/override", AS_USER(U_ATTENDANT), body, 409, "conflict",
	       "a lock whose sequences are spent");
	sdb_write("UPDATE locks SET mgmt_seq = ?1 WHERE spot_id = 102", NULL, 0, seq);
	baseline();
}

static void good_override(void)
{
	uint8_t digest[32], raw[8];
	json_object *m;
	struct resp r;
	int64_t id, seq;

	api_ok("POST", "/v1/spots/102/override", AS_USER(U_ATTENDANT),
	       OV("\"unlock\"", "\"" REASON "\""), 202, &r);
	assert_int_equal(jint(r.json, "spot"), SPOT_OWNED);
	assert_string_equal(jstr(r.json, "op"), "unlock");
	assert_int_equal(hex_decode(jstr(r.json, "reason_digest"), raw, sizeof(raw)), 8);
	assert_int_equal(p256_sha256((const uint8_t *)REASON, strlen(REASON), digest), 0);
	assert_memory_equal(raw, digest, sizeof(raw));
	id = jint(r.json, "message_id");
	seq = jint(r.json, "seq");
	resp_free(&r);
	/* Queued for the lock's gateway under the sequence the reply gave. */
	m = message_find(gateway_messages(1, &r), SPOT_OWNED, PROTO_MGMT_REMOTE_OPERATE);
	assert_non_null(m);
	assert_int_equal(jint(m, "id"), id);
	assert_int_equal(jint(m, "seq"), seq);
	resp_free(&r);
	/* The server's administrator raises it again, with the longest reason. */
	api_ok("POST", "/v1/spots/102/override", AS_USER(U_ADMIN),
	       OV("\"lock\"", "\"" ACCENTS200 "\""), 202, &r);
	assert_string_equal(jstr(r.json, "op"), "lock");
	assert_int_equal(jint(r.json, "seq"), seq + 1);
	resp_free(&r);
}

/* The ID of the listed alarm of `kind` at `spot` of site 1, as user u sees it; 0: none. */
static int64_t alarm_listed(int u, int64_t spot, const char *kind, int64_t *event_seq)
{
	json_object *list, *a;
	struct resp r;
	int64_t id = 0;
	size_t i;

	api_ok("GET", "/v1/sites/1/alarms", AS_USER(u), NULL, 200, &r);
	assert_int_equal(jint(r.json, "site"), SITE1);
	list = jget(r.json, "alarms");
	for (i = 0; i < json_object_array_length(list) && id == 0; i++) {
		a = json_object_array_get_idx(list, i);
		if (jint(a, "spot") != spot || strcmp(jstr(a, "kind"), kind) != 0)
			continue;
		id = jint(a, "id");
		if (event_seq != NULL)
			*event_seq = jint(a, "event_seq");
	}
	resp_free(&r);
	return id;
}

/*
 * The alarm routes need an open alarm: the lock of 104 reports its barrier forced down,
 * each time under a new sequence, so each call raises a new occurrence, and a list
 * numbers it.
 */
static void prepare_alarm(void)
{
	char body[256], text[32];
	int64_t seq = 0;
	struct resp r;

	snprintf(body, sizeof(body), EV("{\"spot\":%d,\"seq\":%lld,\"time\":1800000000,"
					"\"kind\":\"forced\"}"), SPOT_LANELESS,
		 (long long)++forced_seq);
	api_ok("POST", "/v1/gateway/events", AS_GW(1), body, 200, &r);
	assert_int_equal(jint(r.json, "accepted"), 1);
	resp_free(&r);
	forced_alarm = alarm_listed(U_ADMIN, SPOT_LANELESS, "forced", &seq);
	assert_true(forced_alarm > 0);
	assert_int_equal(seq, forced_seq);
	snprintf(text, sizeof(text), "%lld", (long long)forced_alarm);
	sub_set("ALARM", text);
}

static void own_alarm_list(void)
{
	refuse("GET", "/v1/sites/1/alarms", AS_USER(U_DRIVER), NULL, 403, "forbidden",
	       "a driver");
	refuse("GET", "/v1/sites/1/alarms", AS_USER(U_OWNER), NULL, 403, "forbidden",
	       "a spot owner");
	refuse("GET", "/v1/sites/1/alarms", AS_USER(U_ATTENDANT2), NULL, 403, "forbidden",
	       "another site's attendant");
	refuse("GET", "/v1/sites/2/alarms", AS_USER(U_ATTENDANT), NULL, 403, "forbidden",
	       "an attendant looks at another site");
}

static void good_alarm_list(void)
{
	int64_t seq = 0;

	assert_int_equal(alarm_listed(U_ATTENDANT, SPOT_LANELESS, "forced", &seq), forced_alarm);
	assert_int_equal(seq, forced_seq);
	/* Listed again, the alarm keeps its number and nothing is written. */
	baseline();
	assert_int_equal(alarm_listed(U_ADMIN, SPOT_LANELESS, "forced", NULL), forced_alarm);
	unchanged("the alarms listed again");
}

/* Sent by site 1's attendant for the alarm of 104. */
static const struct input_case alarm_ack_bodies[] = {
	{ "{\"note\":7}", 400, "bad_field" },
	{ "{\"note\":true}", 400, "bad_field" },
	{ "{\"note\":[\"seen\"]}", 400, "bad_field" },
	{ "{\"note\":{}}", 400, "bad_field" },
	{ "{\"note\":\"two\\nlines\"}", 400, "bad_field" },
	{ "{\"note\":\"tab\\there\"}", 400, "bad_field" },
	{ "{\"note\":\"nul\\u0000byte\"}", 400, "bad_field" },
	{ "{\"note\":\"\\u001b[2J\"}", 400, "bad_field" },
	{ "{\"note\":\"c1\\u0085\"}", 400, "bad_field" },
	{ "{\"note\":\"" TEXT200 "x\"}", 400, "bad_field" },
	{ "{\"note\":\"" ACCENTS200 "x\"}", 400, "bad_field" },
};

static void own_alarm_ack(void)
{
	static char target[256];
	const char *body = "{\"note\":\"Barrier checked\"}";

	expand("/v1/sites/1/alarms/@ALARM@/ack", target, sizeof(target));
	refuse("POST", target, AS_USER(U_DRIVER), body, 403, "forbidden", "a driver");
	refuse("POST", target, AS_USER(U_OWNER), body, 403, "forbidden", "a spot owner");
	refuse("POST", target, AS_USER(U_ATTENDANT2), body, 403, "forbidden",
	       "another site's attendant");
	refuse("POST", target, AS_USER(U_DRIVER), "{\"note\":7}", 403, "forbidden",
	       "a driver with a bad note");
	expand("/v1/sites/2/alarms/@ALARM@/ack", target, sizeof(target));
	refuse("POST", target, AS_USER(U_ATTENDANT2), body, 404, "not_found",
	       "an alarm of another site, by that site's attendant");
	expand("/v1/sites/1/alarms/0@ALARM@/ack", target, sizeof(target));
	refuse("POST", target, AS_USER(U_ATTENDANT), body, 404, "not_found",
	       "the alarm ID with a leading zero");
}

static void good_alarm_ack(void)
{
	char target[96];
	struct resp r;

	snprintf(target, sizeof(target), "/v1/sites/1/alarms/%lld/ack", (long long)forced_alarm);
	api_ok("POST", target, AS_USER(U_ATTENDANT), "{\"note\":\"Barrier checked\"}", 200, &r);
	assert_int_equal(jint(r.json, "id"), forced_alarm);
	assert_int_equal(jint(r.json, "spot"), SPOT_LANELESS);
	assert_string_equal(jstr(r.json, "kind"), "forced");
	assert_int_equal(jint(r.json, "acked_by"), users[U_ATTENDANT].id);
	assert_string_equal(jstr(r.json, "note"), "Barrier checked");
	resp_free(&r);
	/* Acknowledged again, by another: the first acknowledgement stands, nothing changes. */
	baseline();
	api_ok("POST", target, AS_USER(U_ADMIN), "{}", 200, &r);
	assert_int_equal(jint(r.json, "acked_by"), users[U_ATTENDANT].id);
	assert_string_equal(jstr(r.json, "note"), "Barrier checked");
	resp_free(&r);
	unchanged("an alarm acknowledged twice");
	/* Not listed again until it comes again. */
	assert_int_equal(alarm_listed(U_ATTENDANT, SPOT_LANELESS, "forced", NULL), 0);
}

/* ---- one-time codes, as a user's authenticator app makes them ---- */

/* The time step of now. */
static uint64_t app_step(void)
{
	return (uint64_t)time(NULL) / OTP_PERIOD_S;
}

/* The six digits of time step `step` under the base32 `secret`. */
static void app_code(const char *secret, uint64_t step, char code[7])
{
	assert_int_equal(test_totp(secret, (time_t)(step * OTP_PERIOD_S), code), 0);
}

/* User u enrols for one-time codes and confirms the secret with a code from it. */
static void enrol_user(int u)
{
	char body[64], code[7];
	struct resp r;

	api_ok("POST", "/v1/otp/enrol", AS_USER(u), NULL, 201, &r);
	snprintf(users[u].otp_secret, sizeof(users[u].otp_secret), "%s", jstr(r.json, "secret"));
	resp_free(&r);
	app_code(users[u].otp_secret, app_step(), code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	api_ok("POST", "/v1/otp/confirm", AS_USER(u), body, 200, &r);
	resp_free(&r);
}

/*
 * A code of user u's app that parkd takes now, also as @OTP@: the current step's. parkd
 * takes each step once; rather than wait for the next, the test marks the step before
 * as the last one used, as if the last code were 30 s old.
 */
static void fresh_code(int u, char code[7])
{
	uint64_t step = app_step();
	char sql[128];

	snprintf(sql, sizeof(sql), "UPDATE otp_secrets SET last_step = ?1 WHERE user_id = %lld",
		 (long long)users[u].id);
	sdb_write(sql, NULL, 0, (int64_t)step - 1);
	app_code(users[u].otp_secret, step, code);
	sub_set("OTP", code);
}

/* Six digits that no step within two of now has under user u's secret. */
static void wrong_code(int u, char code[7])
{
	uint64_t step = app_step(), s;
	char near[7];
	unsigned v;
	bool clash;

	app_code(users[u].otp_secret, step, code);
	v = (unsigned)atoi(code);
	do {
		v = (v + 1) % 1000000;
		snprintf(code, 7, "%06u", v);
		clash = false;
		for (s = step - 2; s <= step + 2; s++) {
			app_code(users[u].otp_secret, s, near);
			clash = clash || strcmp(near, code) == 0;
		}
	} while (clash);
}

/* The wrong one-time codes counted against user u in the current window. */
static int64_t otp_guesses(int u)
{
	char sql[192];

	snprintf(sql, sizeof(sql), "SELECT COALESCE((SELECT hits FROM rate_limits WHERE "
		 "scope = 'otp-account' AND subject = '%lld'), 0)", (long long)users[u].id);
	return sdb_int(sql);
}

/*
 * A request with a wrong one-time code: 401 otp_wrong, and the code is counted and
 * audited, which is all that changes. The test then takes the count back, so that the rows after it are
 * not locked out (5 wrong codes in 10 minutes).
 */
static void refuse_otp_wrong(const char *method, const char *target, int u, const char *body,
			     const char *what)
{
	int64_t guesses = otp_guesses(u), traces;
	char sql[192];

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM audit WHERE action = 'otp_wrong' AND "
		 "user_id = %lld", (long long)users[u].id);
	traces = sdb_int(sql);
	refuse_but(method, target, AS_USER(u), body, strlen(body), 401, "otp_wrong", what,
		   "rate_limits,audit");
	if (otp_guesses(u) != guesses + 1)
		problem("%s %s [%s]: the wrong one-time code was not counted", method, target,
			what);
	if (sdb_int(sql) != traces + 1)
		problem("%s %s [%s]: the wrong one-time code was not audited", method, target,
			what);
	snprintf(sql, sizeof(sql), "UPDATE rate_limits SET hits = hits - ?1 WHERE "
		 "scope = 'otp-account' AND subject = '%lld'", (long long)users[u].id);
	sdb_write(sql, NULL, 0, 1);
	baseline();
}

/*
 * An enrolled user's decisive request refused for its one-time code: none (401
 * otp_required) and a wrong one (refuse_otp_wrong()). `fields` are the body's other
 * members, NULL for none.
 */
static void refuse_otp(const char *method, const char *target, int u, const char *fields)
{
	char body[512], code[7];

	snprintf(body, sizeof(body), "{%s}", fields != NULL ? fields : "");
	refuse(method, target, AS_USER(u), fields != NULL ? body : NULL, 401, "otp_required",
	       "no one-time code");
	wrong_code(u, code);
	snprintf(body, sizeof(body), "{%s%s\"otp\":\"%s\"}", fields != NULL ? fields : "",
		 fields != NULL ? "," : "", code);
	refuse_otp_wrong(method, target, u, body, "a wrong one-time code");
}

/* The rows of decisive requests: the owner of 102 is enrolled, and @OTP@ is a code of his. */
static void prepare_owner_code(void)
{
	char code[7];

	if (users[U_OWNER].otp_secret[0] == '\0')
		enrol_user(U_OWNER);
	fresh_code(U_OWNER, code);
}

/* Sent by the enrolled owner to a route that reads an optional {"otp":..}. */
static const struct input_case otp_bodies[] = {
	{ "{\"otp\":123456}", 400, "bad_field" },
	{ "{\"otp\":true}", 400, "bad_field" },
	{ "{\"otp\":[\"@OTP@\"]}", 400, "bad_field" },
	{ "{\"otp\":{\"code\":\"@OTP@\"}}", 400, "bad_field" },
};

/* ---- the owner's list of authorised users ---- */

/* Whether user u is on spot 102's authorised list, as its owner reads it. */
static bool authorised_listed(int u)
{
	json_object *list, *o;
	struct resp r;
	bool found = false;
	size_t i;

	api_ok("GET", "/v1/spots/102/authorised", AS_USER(U_OWNER), NULL, 200, &r);
	assert_int_equal(jint(r.json, "spot_id"), SPOT_OWNED);
	list = jget(r.json, "users");
	for (i = 0; i < json_object_array_length(list); i++) {
		o = json_object_array_get_idx(list, i);
		if (jint(o, "user_id") != users[u].id)
			continue;
		assert_string_equal(jstr(o, "phone"), users[u].phone);
		found = true;
	}
	resp_free(&r);
	return found;
}

static void own_authorised_list(void)
{
	const char *target = "/v1/spots/102/authorised";

	refuse("GET", target, AS_USER(U_DRIVER), NULL, 403, "forbidden", "a driver");
	refuse("GET", target, AS_USER(U_ATTENDANT), NULL, 403, "forbidden",
	       "the site's attendant");
	refuse("GET", target, AS_USER(U_ADMIN), NULL, 403, "forbidden",
	       "a server administrator");
	refuse("GET", "/v1/spots/101/authorised", AS_USER(U_OWNER), NULL, 403, "forbidden",
	       "an owner asks for a spot without owner");
}

static void good_authorised_list(void)
{
	baseline();
	assert_false(authorised_listed(U_OTHER));
	unchanged("the authorised list read");
}

#define LONG_PHONE "+86138000001031234567890123456789" /* 33 characters */

/* Sent by the enrolled owner of 102: the body is read before the code is asked for. */
static const struct input_case authorised_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"phone\":null}", 400, "missing_field" },
	{ "{\"Phone\":\"@OTHERPHONE@\"}", 400, "missing_field" },
	{ "{\"otp\":\"@OTP@\"}", 400, "missing_field" },
	{ "{\"phone\":8613800000103}", 400, "bad_field" },
	{ "{\"phone\":true}", 400, "bad_field" },
	{ "{\"phone\":[\"@OTHERPHONE@\"]}", 400, "bad_field" },
	{ "{\"phone\":\"\"}", 400, "bad_field" },
	{ "{\"phone\":\"8613800000103\"}", 400, "bad_field" },
	{ "{\"phone\":\"+86 138 0000 0103\"}", 400, "bad_field" },
	{ "{\"phone\":\"" LONG_PHONE "\"}", 400, "bad_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"otp\":123456}", 400, "bad_field" },
	{ "{\"phone\":\"@OTHERPHONE@\",\"otp\":[\"@OTP@\"]}", 400, "bad_field" },
	/* With a code parkd takes, which the refusal does not use up. */
	{ "{\"phone\":\"" NA "\",\"otp\":\"@OTP@\"}", 404, "not_found" },
};

static void own_authorised_add(void)
{
	const char *target = "/v1/spots/102/authorised";
	char fields[64], body[96];

	snprintf(fields, sizeof(fields), "\"phone\":\"%s\"", users[U_OTHER].phone);
	snprintf(body, sizeof(body), "{%s}", fields);
	refuse("POST", target, AS_USER(U_DRIVER), body, 403, "forbidden", "a driver");
	refuse("POST", target, AS_USER(U_OTHER), body, 403, "forbidden",
	       "a driver authorises himself");
	refuse("POST", target, AS_USER(U_ADMIN), body, 403, "forbidden",
	       "a server administrator");
	refuse("POST", "/v1/spots/101/authorised", AS_USER(U_OWNER), body, 403, "forbidden",
	       "an owner, for a spot without owner");
	refuse_otp("POST", target, U_OWNER, fields);
}

static void good_authorised_add(void)
{
	const char *target = "/v1/spots/102/authorised";
	char body[96], code[7];
	struct resp r;

	expand("{\"phone\":\"@OTHERPHONE@\",\"otp\":\"@OTP@\"}", body, sizeof(body));
	api_ok("POST", target, AS_USER(U_OWNER), body, 201, &r);
	assert_int_equal(jint(r.json, "user_id"), users[U_OTHER].id);
	assert_string_equal(jstr(r.json, "phone"), users[U_OTHER].phone);
	resp_free(&r);
	assert_true(authorised_listed(U_OTHER));
	baseline();
	refuse("POST", target, AS_USER(U_OWNER), body, 401, "otp_replayed",
	       "the code used again");
	/* Authorised again, with a new code: 200, and only the code is used up. */
	fresh_code(U_OWNER, code);
	baseline();
	expand("{\"phone\":\"@OTHERPHONE@\",\"otp\":\"@OTP@\"}", body, sizeof(body));
	api_ok("POST", target, AS_USER(U_OWNER), body, 200, &r);
	assert_int_equal(jint(r.json, "user_id"), users[U_OTHER].id);
	resp_free(&r);
	unchanged_but("a user authorised again", "otp_secrets");
}

/* The DELETE route needs a user on the list: the other driver (@LISTED@). */
static void prepare_authorised_remove(void)
{
	char body[96], code[7];
	struct resp r;

	prepare_owner_code();
	if (!authorised_listed(U_OTHER)) {
		fresh_code(U_OWNER, code);
		snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"otp\":\"%s\"}",
			 users[U_OTHER].phone, code);
		api_ok("POST", "/v1/spots/102/authorised", AS_USER(U_OWNER), body, 201, &r);
		resp_free(&r);
		fresh_code(U_OWNER, code);
	}
	sub_id("LISTED", users[U_OTHER].id);
}

static void own_authorised_remove(void)
{
	static char target[128], body[64];

	expand("/v1/spots/102/authorised/@LISTED@", target, sizeof(target));
	refuse("DELETE", target, AS_USER(U_DRIVER), NULL, 403, "forbidden", "a driver");
	refuse("DELETE", target, AS_USER(U_OTHER), NULL, 403, "forbidden",
	       "the listed user takes himself off");
	refuse("DELETE", target, AS_USER(U_ADMIN), NULL, 403, "forbidden",
	       "a server administrator");
	refuse_otp("DELETE", target, U_OWNER, NULL);
	expand("{\"otp\":\"@OTP@\"}", body, sizeof(body));
	expand("/v1/spots/101/authorised/@LISTED@", target, sizeof(target));
	refuse("DELETE", target, AS_USER(U_OWNER), body, 403, "forbidden",
	       "an owner, for a spot without owner");
	snprintf(target, sizeof(target), "/v1/spots/102/authorised/%lld",
		 (long long)users[U_DRIVER].id);
	refuse("DELETE", target, AS_USER(U_OWNER), body, 404, "not_found",
	       "a user who is not on the list");
}

static void good_authorised_remove(void)
{
	static char target[128], body[64];
	char code[7];
	struct resp r;

	expand("/v1/spots/102/authorised/@LISTED@", target, sizeof(target));
	expand("{\"otp\":\"@OTP@\"}", body, sizeof(body));
	api_ok("DELETE", target, AS_USER(U_OWNER), body, 204, &r);
	resp_free(&r);
	assert_false(authorised_listed(U_OTHER));
	baseline();
	refuse("DELETE", target, AS_USER(U_OWNER), body, 401, "otp_replayed",
	       "the code used again");
	fresh_code(U_OWNER, code);
	baseline();
	expand("{\"otp\":\"@OTP@\"}", body, sizeof(body));
	refuse("DELETE", target, AS_USER(U_OWNER), body, 404, "not_found",
	       "a user taken off twice");
}

/* ---- sharing ---- */

/* What the sharing rows start from (sharing_world()). */
static struct {
	int64_t owner_key;      /* @KEYO@: the owner's e-key for 102 */
	int64_t driver_key;     /* @KEYD@: the driver's for 101 */
	int64_t other_key;      /* @KEYX@: the other driver's for 102 */
	int64_t held;           /* @HELD@: the driver holds it, may reshare it, within limits */
	int64_t held_nb, held_na; /* held's not_before and not_after; 5 unlocks */
	int64_t held_plain;     /* the other driver holds it and may not reshare it */
	int64_t offered;        /* offered to the driver, not accepted; may be reshared */
	int64_t pending;        /* the driver's reshare to the other driver: waits for the owner */
	int64_t handed_on;      /* a key of the other driver's, handed on by a transfer ... */
	int64_t transfer;       /* ... this one, to the fresh user */
} sharing;

/* POST /v1/shares by user u must answer `want` (201, 202); the share's ID. */
static int64_t offer_share(int u, const char *body, long want)
{
	struct resp r;
	int64_t id;

	api_ok("POST", "/v1/shares", AS_USER(u), body, want, &r);
	id = jint(jget(r.json, "share"), "share_id");
	resp_free(&r);
	return id;
}

/* The owner offers his key to user u, with its limits. */
static int64_t owner_offer(int u, bool may_reshare)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"key_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\","
		 "\"may_reshare\":%s}", (long long)sharing.owner_key, users[u].phone,
		 may_reshare ? "true" : "false");
	return offer_share(U_OWNER, body, 201);
}

/*
 * A verb of share `id` (POST /v1/shares/{id}/verb; DELETE /v1/shares/{id} for verb NULL)
 * by user u, with the body `body` (NULL: none), that must answer `want`; the reply stays
 * in *r.
 */
static void share_act(int u, const char *verb, int64_t id, const char *body, long want,
		      struct resp *r)
{
	char target[96];

	if (verb != NULL)
		snprintf(target, sizeof(target), "/v1/shares/%lld/%s", (long long)id, verb);
	else
		snprintf(target, sizeof(target), "/v1/shares/%lld", (long long)id);
	api_ok(verb != NULL ? "POST" : "DELETE", target, AS_USER(u), body, want, r);
}

/* Recipient u accepts share `id` with a phone's device key; the reply stays in *r. */
static void accept_share(int u, int64_t id, struct resp *r)
{
	char body[160];

	snprintf(body, sizeof(body), "{\"device_pub\":\"%s\"}", device_hex);
	share_act(u, "accept", id, body, 200, r);
}

/* A share of the owner's key that user u holds: offered and accepted. */
static int64_t active_share(int u)
{
	int64_t id = owner_offer(u, false);
	struct resp r;

	accept_share(u, id, &r);
	resp_free(&r);
	return id;
}

/* The driver's reshare of `held` to user u, waiting for the owner's approval (202). */
static int64_t pending_share(int u)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\"}",
		 (long long)sharing.held, users[u].phone);
	return offer_share(U_DRIVER, body, 202);
}

/* User u's newest key for `spot`. */
static int64_t key_of(int u, int64_t spot)
{
	json_object *list, *k;
	struct resp r;
	int64_t id = 0;
	size_t i;

	api_ok("GET", "/v1/keys", AS_USER(u), NULL, 200, &r);
	list = jget(r.json, "keys");
	for (i = 0; i < json_object_array_length(list) && id == 0; i++) {
		k = json_object_array_get_idx(list, i);
		if (jint(k, "spot_id") == spot)
			id = jint(k, "key_id");
	}
	resp_free(&r);
	assert_true(id > 0);
	return id;
}

/*
 * What the sharing rows start from, made once, all on site 1 (the kill test counts site
 * 2's queue): the owner's e-key for 102, which he may share and which has no limits; the
 * renters' keys, which they may not share; the shares of `sharing`; and 102 requires the
 * owner's approval of shares made by others from then on.
 */
static void sharing_world(void)
{
	char text[TEXT_MAX];
	struct resp r;
	int64_t now = (int64_t)time(NULL);

	if (sharing.owner_key != 0)
		return;
	reservation_key(U_OWNER);
	ekey_body(U_OWNER, SPOT_OWNED, text, sizeof(text));
	api_ok("POST", "/v1/ekeys", AS_USER(U_OWNER), text, 201, &r);
	sharing.owner_key = jint(r.json, "key_id");
	resp_free(&r);
	sharing.driver_key = key_of(U_DRIVER, SPOT_FREE);
	sharing.other_key = key_of(U_OTHER, SPOT_OWNED);
	sharing.held_nb = now - 3600;
	sharing.held_na = now + 86400;
	snprintf(text, sizeof(text), "{\"key_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\","
		 "\"not_before\":%lld,\"not_after\":%lld,\"max_unlocks\":5,\"may_reshare\":true}",
		 (long long)sharing.owner_key, users[U_DRIVER].phone, (long long)sharing.held_nb,
		 (long long)sharing.held_na);
	sharing.held = offer_share(U_OWNER, text, 201);
	accept_share(U_DRIVER, sharing.held, &r);
	resp_free(&r);
	sharing.held_plain = active_share(U_OTHER);
	sharing.offered = owner_offer(U_DRIVER, true);
	api_ok("PATCH", "/v1/spots/102", AS_USER(U_OWNER), "{\"require_share_approval\":true}",
	       200, &r);
	resp_free(&r);
	sharing.pending = pending_share(U_OTHER);
	sub_id("KEYO", sharing.owner_key);
	sub_id("KEYD", sharing.driver_key);
	sub_id("KEYX", sharing.other_key);
	sub_id("HELD", sharing.held);
}

static void prepare_sharing(void)
{
	sharing_world();
}

/*
 * User u's list of shares, every one of which must be theirs (made by them, to them, or
 * on the owner's spot for the owner): share `id` in it, or NULL. The reply is in *r.
 */
static json_object *share_listed(int u, int64_t id, struct resp *r)
{
	json_object *list, *s, *found = NULL;
	int64_t prev = 0;
	size_t i;

	api_ok("GET", "/v1/shares", AS_USER(u), NULL, 200, r);
	list = jget(r->json, "shares");
	for (i = 0; i < json_object_array_length(list); i++) {
		s = json_object_array_get_idx(list, i);
		if (jint(s, "sharer_id") != users[u].id && jint(s, "recipient_id") != users[u].id &&
		    !(u == U_OWNER && jint(s, "spot_id") == SPOT_OWNED))
			fail_msg("user %lld is shown share %lld: %s", (long long)users[u].id,
				 (long long)jint(s, "share_id"), json_object_to_json_string(s));
		if (i > 0 && jint(s, "share_id") >= prev)
			fail_msg("the shares are not newest first: %s", rbody(r));
		prev = jint(s, "share_id");
		if (prev == id)
			found = s;
	}
	return found;
}

/* Whether share or key `id` is on site 1's revocation list, as the owner gets it. */
static bool on_revocation_list(int64_t id, int64_t *serial)
{
	json_object *ids;
	struct resp r;
	bool found = false;
	size_t i;

	api_ok("GET", "/v1/sites/1/revocations", AS_USER(U_OWNER), NULL, 200, &r);
	*serial = jint(r.json, "serial");
	ids = jget(r.json, "ids");
	for (i = 0; i < json_object_array_length(ids); i++)
		found = found || json_object_get_int64(json_object_array_get_idx(ids, i)) == id;
	resp_free(&r);
	return found;
}

/*
 * The shared key `hex` of share `id` (PROTOCOL.md 4.6): for `recipient` at spot 102,
 * bound to the phone's device key, signed with the reservation key of the root key's
 * holder, whom it names as the sharer.
 */
static void check_skey(const char *hex, int64_t id, int recipient, int holder)
{
	uint8_t skey[PROTO_SKEY_LEN], tbs[4 + PROTO_SKEY_TBS_LEN], digest[32], dev[64];

	assert_int_equal(hex_decode(hex, skey, sizeof(skey)), PROTO_SKEY_LEN);
	assert_int_equal(wire_load_u32(skey), id);
	assert_int_equal(wire_load_u32(skey + 8), users[holder].id);
	assert_int_equal(wire_load_u32(skey + 12), users[recipient].id);
	assert_int_equal(wire_load_u32(skey + 16), SPOT_OWNED);
	assert_int_equal(hex_decode(device_hex, dev, sizeof(dev)), 64);
	assert_memory_equal(skey + PROTO_SKEY_TBS_LEN - 64, dev, 64);
	memcpy(tbs, "PKK1", 4);
	memcpy(tbs + 4, skey, PROTO_SKEY_TBS_LEN);
	assert_int_equal(p256_sha256(tbs, sizeof(tbs), digest), 0);
	if (p256_verify_digest(users[holder].res_pub, digest, skey + PROTO_SKEY_TBS_LEN) != 0)
		fail_msg("share %lld: the shared key is not signed by user %lld's reservation key",
			 (long long)id, (long long)users[holder].id);
}

static int64_t notifications(const char *kind, int u)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE kind = '%s' AND "
		 "COALESCE(user_id, 0) = %lld", kind, (long long)(u >= 0 ? users[u].id : 0));
	return sdb_int(sql);
}

#define KEYO "\"key_id\":@KEYO@"
#define TO_OTHER ",\"phone\":\"@OTHERPHONE@\""
#define COSHARE ",\"mode\":\"co-share\""
#define OFFER(parent, more) "{" parent TO_OTHER COSHARE more "}"

/* Sent by the owner, who may share his key @KEYO@ (no limits) with the other driver. */
static const struct input_case offer_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"phone\":\"@OTHERPHONE@\"" COSHARE "}", 400, "missing_field" },
	{ OFFER("\"key_id\":null", ""), 400, "missing_field" },
	{ OFFER("\"key_id\":\"@KEYO@\"", ""), 400, "bad_field" },
	{ OFFER("\"key_id\":0", ""), 400, "bad_field" },
	{ OFFER("\"key_id\":-1", ""), 400, "bad_field" },
	{ OFFER("\"key_id\":4294967296", ""), 400, "bad_field" },
	{ OFFER("\"key_id\":1.5", ""), 400, "bad_field" },
	{ OFFER("\"key_id\":true", ""), 400, "bad_field" },
	{ OFFER("\"key_id\":[@KEYO@]", ""), 400, "bad_field" },
	{ OFFER("\"share_id\":0", ""), 400, "bad_field" },
	{ OFFER("\"share_id\":\"@HELD@\"", ""), 400, "bad_field" },
	{ OFFER(KEYO ",\"share_id\":@HELD@", ""), 400, "bad_field" },
	{ "{" KEYO COSHARE "}", 400, "missing_field" },
	{ "{" KEYO ",\"phone\":null" COSHARE "}", 400, "missing_field" },
	{ "{" KEYO ",\"phone\":8613800000103" COSHARE "}", 400, "bad_field" },
	{ "{" KEYO ",\"phone\":[\"@OTHERPHONE@\"]" COSHARE "}", 400, "bad_field" },
	{ "{" KEYO ",\"phone\":\"\"" COSHARE "}", 400, "bad_field" },
	{ "{" KEYO ",\"phone\":\"not a phone\"" COSHARE "}", 400, "bad_field" },
	{ "{" KEYO ",\"phone\":\"" LONG_PHONE "\"" COSHARE "}", 400, "bad_field" },
	{ "{" KEYO TO_OTHER "}", 400, "missing_field" },
	{ "{" KEYO TO_OTHER ",\"mode\":null}", 400, "missing_field" },
	{ "{" KEYO TO_OTHER ",\"mode\":\"share\"}", 400, "bad_field" },
	{ "{" KEYO TO_OTHER ",\"mode\":\"CO-SHARE\"}", 400, "bad_field" },
	{ "{" KEYO TO_OTHER ",\"mode\":\"co-share \"}", 400, "bad_field" },
	{ "{" KEYO TO_OTHER ",\"mode\":\"\"}", 400, "bad_field" },
	{ "{" KEYO TO_OTHER ",\"mode\":2}", 400, "bad_field" },
	{ "{" KEYO TO_OTHER ",\"mode\":[\"transfer\"]}", 400, "bad_field" },
	{ OFFER(KEYO, ",\"not_before\":\"0\""), 400, "bad_field" },
	{ OFFER(KEYO, ",\"not_before\":-1"), 400, "bad_field" },
	{ OFFER(KEYO, ",\"not_before\":4294967296"), 400, "bad_field" },
	{ OFFER(KEYO, ",\"not_after\":1.5"), 400, "bad_field" },
	{ OFFER(KEYO, ",\"not_after\":true"), 400, "bad_field" },
	{ OFFER(KEYO, ",\"max_unlocks\":65536"), 400, "bad_field" },
	{ OFFER(KEYO, ",\"max_unlocks\":-1"), 400, "bad_field" },
	{ OFFER(KEYO, ",\"max_unlocks\":\"3\""), 400, "bad_field" },
	{ OFFER(KEYO, ",\"may_reshare\":1"), 400, "bad_field" },
	{ OFFER(KEYO, ",\"may_reshare\":\"true\""), 400, "bad_field" },
	/* Well formed, refused for what they name. */
	{ OFFER("\"key_id\":999999", ""), 404, "not_found" },
	{ OFFER("\"key_id\":@KEYD@", ""), 404, "not_found" },
	{ OFFER("\"key_id\":@KEYX@", ""), 404, "not_found" },
	{ OFFER("\"key_id\":@HELD@", ""), 404, "not_found" },
	{ OFFER("\"share_id\":@HELD@", ""), 404, "not_found" },
	{ OFFER("\"share_id\":999999", ""), 404, "not_found" },
	{ "{" KEYO ",\"phone\":\"" NA "\"" COSHARE "}", 404, "not_found" },
	{ "{" KEYO ",\"phone\":\"+8613800000101\"" COSHARE "}", 400, "bad_field" },
	{ OFFER(KEYO, ",\"not_before\":2000000000,\"not_after\":1900000000"), 400, "bad_field" },
	{ OFFER(KEYO, ",\"not_after\":1000"), 400, "bad_field" },
};

/* The driver reshares `held` to user u with the members `more`: refused. */
static void refuse_reshare(int u, const char *more, long status, const char *code,
			   const char *what)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\""
		 "%s}", (long long)sharing.held, users[u].phone, more);
	refuse("POST", "/v1/shares", AS_USER(U_DRIVER), body, status, code, what);
}

static void own_offer(void)
{
	char body[512], more[128];
	struct resp r;

	/* No right to share: renters' keys without the flag, a share without may_reshare. */
	snprintf(body, sizeof(body), "{\"key_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\"}",
		 (long long)sharing.driver_key, users[U_OTHER].phone);
	refuse("POST", "/v1/shares", AS_USER(U_DRIVER), body, 403, "not_allowed",
	       "a renter's key without the may-share flag");
	snprintf(body, sizeof(body), "{\"key_id\":%lld,\"phone\":\"%s\",\"mode\":\"transfer\"}",
		 (long long)sharing.other_key, users[U_DRIVER].phone);
	refuse("POST", "/v1/shares", AS_USER(U_OTHER), body, 403, "not_allowed",
	       "a renter's key on the owner's spot");
	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\"}",
		 (long long)sharing.held_plain, users[U_DRIVER].phone);
	refuse("POST", "/v1/shares", AS_USER(U_OTHER), body, 403, "not_allowed",
	       "a share its sharer did not let be reshared");
	/* Other people's. */
	snprintf(body, sizeof(body), "{\"key_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\"}",
		 (long long)sharing.owner_key, users[U_DRIVER].phone);
	refuse("POST", "/v1/shares", AS_USER(U_FRESH), body, 404, "not_found",
	       "another user's key");
	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\"}",
		 (long long)sharing.held, users[U_FRESH].phone);
	refuse("POST", "/v1/shares", AS_USER(U_OTHER), body, 404, "not_found",
	       "a share another user holds");
	/* A reshare is bounded by the share it derives from. */
	refuse_reshare(U_OTHER, ",\"max_unlocks\":6", 400, "too_wide", "more unlocks than 5");
	refuse_reshare(U_OTHER, ",\"max_unlocks\":0", 400, "too_wide", "unlimited unlocks");
	snprintf(more, sizeof(more), ",\"not_before\":%lld", (long long)sharing.held_nb - 1);
	refuse_reshare(U_OTHER, more, 400, "too_wide", "from before the parent's start");
	snprintf(more, sizeof(more), ",\"not_after\":%lld", (long long)sharing.held_na + 1);
	refuse_reshare(U_OTHER, more, 400, "too_wide", "until after the parent's end");
	snprintf(more, sizeof(more), ",\"not_before\":%lld,\"not_after\":%lld",
		 (long long)sharing.held_nb + 100, (long long)sharing.held_nb + 50);
	refuse_reshare(U_OTHER, more, 400, "bad_field", "ending before it starts");
	snprintf(more, sizeof(more), ",\"not_after\":%lld", (long long)sharing.held_nb + 10);
	refuse_reshare(U_OTHER, more, 400, "bad_field", "ended already");
	refuse_reshare(U_DRIVER, "", 400, "bad_field", "to the driver himself");
	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\"}",
		 (long long)sharing.offered, users[U_OTHER].phone);
	refuse("POST", "/v1/shares", AS_USER(U_DRIVER), body, 409, "conflict",
	       "a share offered to the driver, not accepted");
	/* Whoever hands the key on, the owner's policy governs who uses the spot. */
	api_ok("PATCH", "/v1/spots/102", AS_USER(U_OWNER), "{\"policy\":\"authorised\"}", 200, &r);
	resp_free(&r);
	baseline();
	refuse_reshare(U_FRESH, "", 403, "not_allowed",
		       "to a user the spot's policy (authorised) does not admit");
	api_ok("PATCH", "/v1/spots/102", AS_USER(U_OWNER), "{\"policy\":\"anyone\"}", 200, &r);
	resp_free(&r);
	baseline();
}

static void good_offer(void)
{
	static char body[512];
	json_object *s, *v;
	struct resp r;
	int64_t told = notifications("share_pending", -1);

	/* The owner shares his key: offered at once, within the key's own limits. */
	expand(OFFER(KEYO, ""), body, sizeof(body));
	api_ok("POST", "/v1/shares", AS_USER(U_OWNER), body, 201, &r);
	s = jget(r.json, "share");
	assert_string_equal(jstr(s, "state"), "offered");
	assert_string_equal(jstr(s, "mode"), "co-share");
	assert_int_equal(jint(s, "parent_key_id"), sharing.owner_key);
	assert_true(json_object_object_get_ex(s, "parent_share_id", &v) && v == NULL);
	assert_int_equal(jint(s, "spot_id"), SPOT_OWNED);
	assert_int_equal(jint(s, "site_id"), SITE1);
	assert_int_equal(jint(s, "sharer_id"), users[U_OWNER].id);
	assert_int_equal(jint(s, "key_holder_id"), users[U_OWNER].id);
	assert_int_equal(jint(s, "recipient_id"), users[U_OTHER].id);
	assert_string_equal(jstr(s, "recipient_phone"), users[U_OTHER].phone);
	assert_int_equal(jint(s, "not_before"), PROTO_TIME_NONE_BEFORE);
	assert_int_equal(jint(s, "not_after"), PROTO_TIME_NONE_AFTER);
	assert_int_equal(jint(s, "max_unlocks"), 0);
	assert_false(json_object_get_boolean(jget(s, "may_reshare")));
	assert_false(json_object_get_boolean(jget(s, "live")));
	assert_false(json_object_object_get_ex(s, "skey", NULL));
	assert_string_equal(jstr(jget(s, "delivery"), "state"), "none");
	resp_free(&r);
	/* The driver's reshare, within its limits, waits: 102 requires the owner's approval. */
	snprintf(body, sizeof(body), "{\"share_id\":%lld,\"phone\":\"%s\",\"mode\":\"co-share\","
		 "\"max_unlocks\":2,\"not_after\":%lld}", (long long)sharing.held,
		 users[U_FRESH].phone, (long long)sharing.held_na - 60);
	api_ok("POST", "/v1/shares", AS_USER(U_DRIVER), body, 202, &r);
	s = jget(r.json, "share");
	assert_string_equal(jstr(s, "state"), "pending_approval");
	assert_int_equal(jint(s, "parent_share_id"), sharing.held);
	assert_int_equal(jint(s, "parent_key_id"), sharing.owner_key);
	assert_int_equal(jint(s, "sharer_id"), users[U_DRIVER].id);
	assert_int_equal(jint(s, "key_holder_id"), users[U_OWNER].id);
	assert_int_equal(jint(s, "not_before"), sharing.held_nb);
	assert_int_equal(jint(s, "not_after"), sharing.held_na - 60);
	assert_int_equal(jint(s, "max_unlocks"), 2);
	resp_free(&r);
	assert_int_equal(notifications("share_pending", -1), told + 1);
}

static void good_share_list(void)
{
	json_object *s;
	struct resp r;

	baseline();
	/* The recipient sees the shared key; the spot's owner sees the share without it. */
	s = share_listed(U_DRIVER, sharing.held, &r);
	assert_non_null(s);
	assert_string_equal(jstr(s, "state"), "active");
	assert_true(json_object_get_boolean(jget(s, "live")));
	check_skey(jstr(s, "skey"), sharing.held, U_DRIVER, U_OWNER);
	resp_free(&r);
	s = share_listed(U_OWNER, sharing.held, &r);
	assert_non_null(s);
	assert_false(json_object_object_get_ex(s, "skey", NULL));
	resp_free(&r);
	/* Nobody else sees it. */
	assert_null(share_listed(U_OTHER, sharing.held, &r));
	resp_free(&r);
	assert_null(share_listed(U_ATTENDANT, sharing.held, &r));
	resp_free(&r);
	unchanged("the shares listed");
}

/* The accept route needs a share offered to the other driver. */
static void prepare_offered(void)
{
	sharing_world();
	sub_id("SHARE", owner_offer(U_OTHER, false));
}

/* Sent by the other driver, to whom @SHARE@ is offered. */
static const struct input_case accept_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"device_pub\":null}", 400, "missing_field" },
	{ "{\"Device_pub\":\"@DEV@\"}", 400, "missing_field" },
	{ "{\"device_pub\":12}", 400, "bad_field" },
	{ "{\"device_pub\":[\"@DEV@\"]}", 400, "bad_field" },
	{ "{\"device_pub\":\"\"}", 400, "bad_field" },
	{ "{\"device_pub\":\"abcd\"}", 400, "bad_field" },
	{ "{\"device_pub\":\"@DEV@00\"}", 400, "bad_field" },
	{ "{\"device_pub\":\"zz@DEV@\"}", 400, "bad_field" },
	{ "{\"device_pub\":\"@NOTPOINT@\"}", 400, "bad_field" },
};

static void own_accept(void)
{
	static char target[96], body[200];

	expand("/v1/shares/@SHARE@/accept", target, sizeof(target));
	expand("{\"device_pub\":\"@DEV@\"}", body, sizeof(body));
	refuse("POST", target, AS_USER(U_OWNER), body, 403, "forbidden",
	       "its sharer, the spot's owner");
	refuse("POST", target, AS_USER(U_DRIVER), body, 404, "not_found",
	       "a user it is not offered to");
	refuse("POST", target, AS_USER(U_ATTENDANT), body, 404, "not_found",
	       "the site's attendant");
	snprintf(target, sizeof(target), "/v1/shares/%lld/accept", (long long)sharing.held_plain);
	refuse("POST", target, AS_USER(U_OTHER), body, 409, "conflict", "a share accepted already");
	snprintf(target, sizeof(target), "/v1/shares/%lld/accept", (long long)sharing.pending);
	refuse("POST", target, AS_USER(U_OTHER), body, 409, "conflict",
	       "a share waiting for the owner's approval");
	expand("/v1/shares/@KEYX@/accept", target, sizeof(target));
	refuse("POST", target, AS_USER(U_OTHER), body, 404, "not_found", "his e-key's ID");
}

static void good_accept(void)
{
	static char target[96], body[200];
	json_object *s;
	struct resp r;

	expand("/v1/shares/@SHARE@/accept", target, sizeof(target));
	expand("{\"device_pub\":\"@DEV@\"}", body, sizeof(body));
	api_ok("POST", target, AS_USER(U_OTHER), body, 200, &r);
	s = jget(r.json, "share");
	assert_string_equal(jstr(s, "state"), "active");
	assert_true(json_object_get_boolean(jget(s, "live")));
	assert_true(jint(s, "accepted_at") > 0);
	/* The lock gets the site-signed INSTALL_SHARE through its gateway. */
	assert_string_equal(jstr(jget(s, "delivery"), "state"), "pending");
	check_skey(jstr(s, "skey"), jint(s, "share_id"), U_OTHER, U_OWNER);
	resp_free(&r);
	baseline();
	refuse("POST", target, AS_USER(U_OTHER), body, 409, "conflict", "accepted twice");
}

/* The approve and deny routes need a reshare waiting for the owner; he is enrolled. */
static void prepare_pending(void)
{
	sharing_world();
	sub_id("SHARE", pending_share(U_OTHER));
	prepare_owner_code();
}

/* Who may not decide on @SHARE@, and what the owner may not decide on. */
static void own_decide(const char *verb)
{
	char target[96], other[96], body[32];

	snprintf(target, sizeof(target), "/v1/shares/%s/%s", sub_get("SHARE"), verb);
	refuse("POST", target, AS_USER(U_DRIVER), NULL, 403, "forbidden", "its sharer");
	refuse("POST", target, AS_USER(U_OTHER), NULL, 403, "forbidden", "its recipient");
	refuse("POST", target, AS_USER(U_FRESH), NULL, 404, "not_found",
	       "a user with no part in it");
	refuse("POST", target, AS_USER(U_ATTENDANT), NULL, 404, "not_found",
	       "the site's attendant");
	refuse_otp("POST", target, U_OWNER, NULL);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	snprintf(other, sizeof(other), "/v1/shares/%lld/%s", (long long)sharing.held, verb);
	refuse("POST", other, AS_USER(U_OWNER), body, 409, "conflict", "an active share");
	snprintf(other, sizeof(other), "/v1/shares/%lld/%s", (long long)sharing.owner_key, verb);
	refuse("POST", other, AS_USER(U_OWNER), body, 404, "not_found", "his e-key's ID");
}

static void own_approve(void)
{
	own_decide("approve");
}

static void own_deny(void)
{
	own_decide("deny");
}

/*
 * The owner decides on @SHARE@ with @OTP@: it becomes `state` and the driver, who asked,
 * is told; the same code again is a replay, and a second decision a conflict.
 */
static int64_t decide(const char *verb, const char *state, const char *told)
{
	char target[96], body[32], code[7];
	int64_t id = atoll(sub_get("SHARE")), before = notifications(told, U_DRIVER);
	struct resp r;

	snprintf(target, sizeof(target), "/v1/shares/%lld/%s", (long long)id, verb);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	share_act(U_OWNER, verb, id, body, 200, &r);
	assert_string_equal(jstr(jget(r.json, "share"), "state"), state);
	resp_free(&r);
	assert_int_equal(notifications(told, U_DRIVER), before + 1);
	baseline();
	refuse("POST", target, AS_USER(U_OWNER), body, 401, "otp_replayed", "the code used again");
	fresh_code(U_OWNER, code);
	baseline();
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", code);
	refuse("POST", target, AS_USER(U_OWNER), body, 409, "conflict", "decided twice");
	return id;
}

static void good_approve(void)
{
	int64_t id = decide("approve", "offered", "share_approved");
	json_object *s;
	struct resp r;

	/* Approved, the reshare is the recipient's to accept, signed for the root key's holder. */
	accept_share(U_OTHER, id, &r);
	s = jget(r.json, "share");
	assert_string_equal(jstr(s, "state"), "active");
	assert_int_equal(jint(s, "parent_share_id"), sharing.held);
	check_skey(jstr(s, "skey"), id, U_OTHER, U_OWNER);
	resp_free(&r);
}

static void good_deny(void)
{
	int64_t id = decide("deny", "refused", "share_refused");
	char target[96], body[160];

	snprintf(target, sizeof(target), "/v1/shares/%lld/accept", (long long)id);
	snprintf(body, sizeof(body), "{\"device_pub\":\"%s\"}", device_hex);
	refuse("POST", target, AS_USER(U_OTHER), body, 409, "conflict", "a refused share");
}

/* The give-up, freeze and remove routes need an active share the other driver holds. */
static void prepare_active(void)
{
	sharing_world();
	sub_id("SHARE", active_share(U_OTHER));
	prepare_owner_code();
}

/* The REVOKE messages of list `serial` queued for site 1's locks. */
static int64_t revokes_queued(int64_t serial)
{
	char sql[192];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM mgmt_queue q JOIN spots s ON s.id = "
		 "q.spot_id WHERE s.site_id = 1 AND q.kind = 'revoke' AND q.seq = %lld",
		 (long long)serial);
	return sdb_int(sql);
}

static void own_give_up(void)
{
	char target[96];

	snprintf(target, sizeof(target), "/v1/shares/%s/give-up", sub_get("SHARE"));
	refuse("POST", target, AS_USER(U_OWNER), NULL, 403, "forbidden",
	       "its sharer, the spot's owner");
	refuse("POST", target, AS_USER(U_DRIVER), NULL, 404, "not_found",
	       "a user with no part in it");
	snprintf(target, sizeof(target), "/v1/shares/%lld/give-up", (long long)sharing.held);
	refuse("POST", target, AS_USER(U_OTHER), NULL, 404, "not_found",
	       "a share another user holds");
	snprintf(target, sizeof(target), "/v1/shares/%lld/give-up", (long long)sharing.pending);
	refuse("POST", target, AS_USER(U_OTHER), NULL, 409, "conflict",
	       "a share waiting for the owner's approval");
	snprintf(target, sizeof(target), "/v1/shares/%lld/give-up", (long long)sharing.other_key);
	refuse("POST", target, AS_USER(U_OTHER), NULL, 404, "not_found", "his e-key's ID");
}

static void good_give_up(void)
{
	int64_t id = atoll(sub_get("SHARE")), before = 0, serial = 0;
	char target[96];
	json_object *s;
	struct resp r;

	assert_false(on_revocation_list(id, &before));
	share_act(U_OTHER, "give-up", id, NULL, 200, &r);
	s = jget(r.json, "share");
	assert_string_equal(jstr(s, "state"), "given_up");
	assert_false(json_object_get_boolean(jget(s, "live")));
	resp_free(&r);
	/* The lock may hold its code: the site's next list names it, queued for every lock. */
	assert_true(on_revocation_list(id, &serial));
	assert_true(serial > before);
	assert_int_equal(revokes_queued(serial), SITE1_SPOTS);
	snprintf(target, sizeof(target), "/v1/shares/%lld/give-up", (long long)id);
	baseline();
	refuse("POST", target, AS_USER(U_OTHER), NULL, 409, "conflict", "given up twice");
}

static void own_freeze(void)
{
	char target[96], body[32];

	snprintf(target, sizeof(target), "/v1/shares/%s/freeze", sub_get("SHARE"));
	refuse("POST", target, AS_USER(U_OTHER), NULL, 403, "forbidden", "its recipient");
	refuse("POST", target, AS_USER(U_DRIVER), NULL, 404, "not_found",
	       "a user with no part in it");
	refuse_otp("POST", target, U_OWNER, NULL);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	snprintf(target, sizeof(target), "/v1/shares/%lld/freeze", (long long)sharing.offered);
	refuse("POST", target, AS_USER(U_OWNER), body, 409, "conflict",
	       "a share offered, not accepted");
	snprintf(target, sizeof(target), "/v1/shares/%lld/freeze", (long long)sharing.pending);
	refuse("POST", target, AS_USER(U_OWNER), body, 409, "conflict",
	       "a share waiting for approval");
}

/*
 * The owner does `verb` to @SHARE@ with @OTP@, and it must answer `want` (the share in
 * state `state`, or none); the same code again is a replay, and doing it again with a
 * new code is refused with `again` (409 conflict, 404 not_found).
 */
static void owner_act(const char *verb, long want, const char *state, long again,
		      const char *again_code)
{
	char target[96], body[32], code[7];
	int64_t id = atoll(sub_get("SHARE"));
	struct resp r;

	if (verb != NULL)
		snprintf(target, sizeof(target), "/v1/shares/%lld/%s", (long long)id, verb);
	else
		snprintf(target, sizeof(target), "/v1/shares/%lld", (long long)id);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	share_act(U_OWNER, verb, id, body, want, &r);
	if (state != NULL)
		assert_string_equal(jstr(jget(r.json, "share"), "state"), state);
	resp_free(&r);
	baseline();
	refuse(verb != NULL ? "POST" : "DELETE", target, AS_USER(U_OWNER), body, 401,
	       "otp_replayed", "the code used again");
	fresh_code(U_OWNER, code);
	baseline();
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", code);
	refuse(verb != NULL ? "POST" : "DELETE", target, AS_USER(U_OWNER), body, again,
	       again_code, "done twice");
}

static void good_freeze(void)
{
	int64_t id = atoll(sub_get("SHARE")), serial = 0;
	json_object *s;
	struct resp r;

	owner_act("freeze", 200, "frozen", 409, "conflict");
	assert_true(on_revocation_list(id, &serial));
	/* The recipient keeps the shared key, which the locks refuse until it is unfrozen. */
	s = share_listed(U_OTHER, id, &r);
	assert_non_null(s);
	assert_string_equal(jstr(s, "state"), "frozen");
	assert_false(json_object_get_boolean(jget(s, "live")));
	check_skey(jstr(s, "skey"), id, U_OTHER, U_OWNER);
	resp_free(&r);
}

/* The unfreeze route needs a share the owner froze. */
static void prepare_frozen(void)
{
	char body[32];
	struct resp r;

	prepare_active();
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	share_act(U_OWNER, "freeze", atoll(sub_get("SHARE")), body, 200, &r);
	resp_free(&r);
	prepare_owner_code();
}

/* The INSTALL_SHAREs of share `id` queued, ever. */
static int64_t installs_queued(int64_t id)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM mgmt_queue WHERE kind = 'install_share' "
		 "AND key_id = %lld", (long long)id);
	return sdb_int(sql);
}

static void own_unfreeze(void)
{
	char target[96], body[32];

	snprintf(target, sizeof(target), "/v1/shares/%s/unfreeze", sub_get("SHARE"));
	refuse("POST", target, AS_USER(U_OTHER), NULL, 403, "forbidden", "its recipient");
	refuse("POST", target, AS_USER(U_DRIVER), NULL, 404, "not_found",
	       "a user with no part in it");
	refuse_otp("POST", target, U_OWNER, NULL);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	snprintf(target, sizeof(target), "/v1/shares/%lld/unfreeze",
		 (long long)sharing.held_plain);
	refuse("POST", target, AS_USER(U_OWNER), body, 409, "conflict", "an active share");
}

static void good_unfreeze(void)
{
	int64_t id = atoll(sub_get("SHARE")), installs = installs_queued(id), serial = 0;
	json_object *s;
	struct resp r;

	assert_true(on_revocation_list(id, &serial));
	owner_act("unfreeze", 200, "active", 409, "conflict");
	/* Off the list, and its code queued again: the lock deleted it. */
	assert_false(on_revocation_list(id, &serial));
	assert_int_equal(installs_queued(id), installs + 1);
	s = share_listed(U_OTHER, id, &r);
	assert_non_null(s);
	assert_true(json_object_get_boolean(jget(s, "live")));
	assert_string_equal(jstr(jget(s, "delivery"), "state"), "pending");
	resp_free(&r);
}

static void own_share_remove(void)
{
	char target[96], body[32];

	snprintf(target, sizeof(target), "/v1/shares/%s", sub_get("SHARE"));
	refuse("DELETE", target, AS_USER(U_OTHER), NULL, 403, "forbidden", "its recipient");
	refuse("DELETE", target, AS_USER(U_DRIVER), NULL, 404, "not_found",
	       "a user with no part in it");
	refuse_otp("DELETE", target, U_OWNER, NULL);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	snprintf(target, sizeof(target), "/v1/shares/%lld", (long long)sharing.owner_key);
	refuse("DELETE", target, AS_USER(U_OWNER), body, 404, "not_found", "his e-key's ID");
}

static void good_share_remove(void)
{
	int64_t id = atoll(sub_get("SHARE")), serial = 0;
	struct resp r;

	/* Removed, it is listed nowhere, and a second removal finds nothing. */
	owner_act(NULL, 204, NULL, 404, "not_found");
	assert_null(share_listed(U_OWNER, id, &r));
	resp_free(&r);
	assert_null(share_listed(U_OTHER, id, &r));
	resp_free(&r);
	assert_true(on_revocation_list(id, &serial));
}

/*
 * The revoke route: the owner revokes the other driver's key (@KEYX@), with a code. And a
 * key handed on: 102 lets renters share from now on, so the other driver's new key for
 * it may be shared, and his transfer of it to the fresh user, which the owner approves,
 * is accepted.
 */
static void prepare_key_revoke(void)
{
	static char body[TEXT_MAX];
	struct resp r;

	sharing_world();
	prepare_owner_code();
	if (sharing.handed_on != 0)
		return;
	api_ok("PATCH", "/v1/spots/102", AS_USER(U_OWNER), "{\"renters_may_share\":true}", 200,
	       &r);
	resp_free(&r);
	expand(EK("\"@CT102@\"", "\"@DEV@\""), body, sizeof(body));
	api_ok("POST", "/v1/ekeys", AS_USER(U_OTHER), body, 201, &r);
	sharing.handed_on = jint(r.json, "key_id");
	resp_free(&r);
	snprintf(body, sizeof(body), "{\"key_id\":%lld,\"phone\":\"%s\",\"mode\":\"transfer\"}",
		 (long long)sharing.handed_on, users[U_FRESH].phone);
	sharing.transfer = offer_share(U_OTHER, body, 202);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	share_act(U_OWNER, "approve", sharing.transfer, body, 200, &r);
	resp_free(&r);
	accept_share(U_FRESH, sharing.transfer, &r);
	resp_free(&r);
	prepare_owner_code();
}

static void own_key_revoke(void)
{
	char target[96], body[32];

	expand("/v1/keys/@KEYX@/revoke", target, sizeof(target));
	refuse("POST", target, AS_USER(U_DRIVER), NULL, 404, "not_found", "another user's key");
	refuse("POST", target, AS_USER(U_FRESH), NULL, 404, "not_found", "another user's key");
	refuse("POST", target, AS_USER(U_ATTENDANT), NULL, 404, "not_found",
	       "the site's attendant");
	refuse_otp("POST", target, U_OWNER, NULL);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	expand("/v1/keys/@KEYD@/revoke", target, sizeof(target));
	refuse("POST", target, AS_USER(U_OWNER), body, 404, "not_found",
	       "an owner, a key for a spot not his");
	expand("/v1/keys/@HELD@/revoke", target, sizeof(target));
	refuse("POST", target, AS_USER(U_DRIVER), NULL, 404, "not_found",
	       "the ID of a share he holds");
	snprintf(target, sizeof(target), "/v1/keys/%lld/revoke", (long long)sharing.handed_on);
	refuse("POST", target, AS_USER(U_OTHER), NULL, 409, "conflict",
	       "its holder, a key he handed on");
}

/* User u's key `id`, as GET /v1/keys shows it; the reply is in *r. */
static json_object *key_listed(int u, int64_t id, struct resp *r)
{
	json_object *list, *k;
	size_t i;

	api_ok("GET", "/v1/keys", AS_USER(u), NULL, 200, r);
	list = jget(r->json, "keys");
	for (i = 0; i < json_object_array_length(list); i++) {
		k = json_object_array_get_idx(list, i);
		if (jint(k, "key_id") == id)
			return k;
	}
	fail_msg("user %lld does not hold key %lld", (long long)users[u].id, (long long)id);
	return NULL;
}

static void good_key_revoke(void)
{
	char target[96], body[32], code[7];
	int64_t before = 0, serial = 0;
	json_object *k, *s;
	struct resp r;

	assert_false(on_revocation_list(sharing.other_key, &before));
	expand("/v1/keys/@KEYX@/revoke", target, sizeof(target));
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	api_ok("POST", target, AS_USER(U_OWNER), body, 200, &r);
	assert_int_equal(jint(r.json, "key_id"), sharing.other_key);
	assert_true(json_object_get_boolean(jget(r.json, "revoked")));
	assert_true(jint(r.json, "revoked_at") > 0);
	assert_true(jint(r.json, "revocation_serial") > before);
	resp_free(&r);
	k = key_listed(U_OTHER, sharing.other_key, &r);
	assert_true(json_object_get_boolean(jget(k, "revoked")));
	assert_false(json_object_get_boolean(jget(k, "live")));
	resp_free(&r);
	assert_true(on_revocation_list(sharing.other_key, &serial));
	baseline();
	refuse("POST", target, AS_USER(U_OWNER), body, 401, "otp_replayed", "the code used again");
	fresh_code(U_OWNER, code);
	baseline();
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", code);
	refuse("POST", target, AS_USER(U_OWNER), body, 409, "conflict", "revoked twice");
	/* A holder who is not enrolled revokes his own key without a code. */
	expand("/v1/keys/@KEYD@/revoke", target, sizeof(target));
	api_ok("POST", target, AS_USER(U_DRIVER), NULL, 200, &r);
	resp_free(&r);
	/* The owner revokes a key handed on; the transfer that holds its right ends with it. */
	fresh_code(U_OWNER, code);
	snprintf(target, sizeof(target), "/v1/keys/%lld/revoke", (long long)sharing.handed_on);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", code);
	api_ok("POST", target, AS_USER(U_OWNER), body, 200, &r);
	resp_free(&r);
	s = share_listed(U_FRESH, sharing.transfer, &r);
	assert_non_null(s);
	assert_string_equal(jstr(s, "state"), "revoked");
	resp_free(&r);
}

static void own_revocations(void)
{
	refuse("GET", "/v1/sites/1/revocations", AS_USER(U_ATTENDANT2), NULL, 403, "forbidden",
	       "another site's attendant");
	refuse("GET", "/v1/sites/2/revocations", AS_USER(U_OTHER), NULL, 403, "forbidden",
	       "a key holder of another site");
	refuse("GET", "/v1/sites/3/revocations", AS_USER(U_OWNER), NULL, 403, "forbidden",
	       "a spot owner of another site");
}

/* Site 1's list, after the rows before: signed, complete, as a lock takes it. */
static void good_revocations(void)
{
	uint8_t frame[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	struct proto_msg m;
	json_object *ids, *v;
	struct resp r;
	int64_t serial, owners = 0;
	size_t i;
	int len;

	baseline();
	api_ok("GET", "/v1/sites/1/revocations", AS_USER(U_OTHER), NULL, 200, &r);
	assert_int_equal(jint(r.json, "site_id"), SITE1);
	serial = jint(r.json, "serial");
	ids = jget(r.json, "ids");
	len = hex_decode(jstr(r.json, "frame"), frame, sizeof(frame));
	assert_true(len > 0);
	assert_int_equal(proto_decode(frame, (size_t)len, &m), 0);
	assert_int_equal(m.type, PROTO_MGMT);
	assert_int_equal(m.u.mgmt.mtype, PROTO_MGMT_REVOKE);
	assert_int_equal(m.u.mgmt.target_spot, PROTO_TARGET_ALL);
	assert_int_equal(m.u.mgmt.seq, serial);
	if (!mgmt_signed_by(&m.u.mgmt, SITE1, site1_pub))
		fail_msg("site 1's revocation list is not signed by its key");
	assert_int_equal(proto_mgmt_decode_payload(m.u.mgmt.mtype, m.u.mgmt.payload,
						   m.u.mgmt.plen, &p), 0);
	assert_int_equal(p.revoke.count, json_object_array_length(ids));
	for (i = 0; i < p.revoke.count; i++) {
		assert_int_equal(p.revoke.key_ids[i],
				 json_object_get_int64(json_object_array_get_idx(ids, i)));
		assert_true(i == 0 || p.revoke.key_ids[i] > p.revoke.key_ids[i - 1]);
	}
	resp_free(&r);
	/* The same for the spot's owner and the site's staff. */
	assert_true(on_revocation_list(sharing.other_key, &owners));
	assert_int_equal(owners, serial);
	api_ok("GET", "/v1/sites/1/revocations", AS_USER(U_ATTENDANT), NULL, 200, &r);
	assert_int_equal(jint(r.json, "serial"), serial);
	resp_free(&r);
	/* Nothing was revoked on site 2. */
	api_ok("GET", "/v1/sites/2/revocations", AS_USER(U_ADMIN), NULL, 200, &r);
	assert_int_equal(jint(r.json, "serial"), 0);
	assert_true(json_object_object_get_ex(r.json, "frame", &v) && v == NULL);
	assert_int_equal(json_object_array_length(jget(r.json, "ids")), 0);
	resp_free(&r);
	unchanged("the revocation lists read");
}

/* ---- one-time codes ---- */

static void own_otp_enrol(void)
{
	refuse_otp("POST", "/v1/otp/enrol", U_OWNER, NULL);
}

static void good_otp_enrol(void)
{
	char body[32], uri[256], code[7], target[96];
	const char *secret;
	struct resp r;

	/* The enrolled owner asks for a new secret, with a code from the old one. */
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", sub_get("OTP"));
	api_ok("POST", "/v1/otp/enrol", AS_USER(U_OWNER), body, 201, &r);
	secret = jstr(r.json, "secret");
	assert_int_equal(strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
	assert_int_equal(strlen(secret), 32);
	assert_string_not_equal(secret, users[U_OWNER].otp_secret);
	snprintf(uri, sizeof(uri), "otpauth://totp/Parking:%%2B%.19s?secret=%.40s&issuer=Parking&"
		 "digits=6&period=30", users[U_OWNER].phone + 1, secret);
	assert_string_equal(jstr(r.json, "uri"), uri);
	assert_int_equal(jint(r.json, "digits"), 6);
	assert_int_equal(jint(r.json, "period"), OTP_PERIOD_S);
	assert_false(json_object_get_boolean(jget(r.json, "confirmed")));
	resp_free(&r);
	baseline();
	refuse("POST", "/v1/otp/enrol", AS_USER(U_OWNER), body, 401, "otp_replayed",
	       "the code used again");
	/* Until the new secret is confirmed, the old one is the one asked for. */
	api_ok("GET", "/v1/me", AS_USER(U_OWNER), NULL, 200, &r);
	assert_true(json_object_get_boolean(jget(r.json, "otp")));
	resp_free(&r);
	fresh_code(U_OWNER, code);
	baseline();
	snprintf(target, sizeof(target), "/v1/shares/%lld/approve", (long long)sharing.held);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", code);
	refuse("POST", target, AS_USER(U_OWNER), body, 409, "conflict",
	       "the old secret's code, while a new one waits");
	/* A user who is not enrolled needs no code. */
	api_ok("POST", "/v1/otp/enrol", AS_USER(U_DRIVER), "{}", 201, &r);
	resp_free(&r);
}

/* The confirm route needs an enrolment waiting: the driver's, whose app has the secret. */
static void prepare_confirm(void)
{
	struct resp r;

	api_ok("POST", "/v1/otp/enrol", AS_USER(U_DRIVER), NULL, 201, &r);
	snprintf(users[U_DRIVER].otp_secret, sizeof(users[U_DRIVER].otp_secret), "%s",
		 jstr(r.json, "secret"));
	resp_free(&r);
}

/* Sent by the driver, whose enrolment waits; a code is six digits, as a string. */
static const struct input_case confirm_bodies[] = {
	{ "{}", 400, "missing_field" },
	{ "{\"code\":null}", 400, "missing_field" },
	{ "{\"Code\":\"123456\"}", 400, "missing_field" },
	{ "{\"otp\":\"123456\"}", 400, "missing_field" },
	{ "{\"code\":123456}", 400, "bad_field" },
	{ "{\"code\":true}", 400, "bad_field" },
	{ "{\"code\":[\"123456\"]}", 400, "bad_field" },
	{ "{\"code\":\"\"}", 400, "bad_field" },
	{ "{\"code\":\"12345\"}", 400, "bad_field" },
	{ "{\"code\":\"1234567\"}", 400, "bad_field" },
	{ "{\"code\":\"12a456\"}", 400, "bad_field" },
	{ "{\"code\":\" 123456\"}", 400, "bad_field" },
	{ "{\"code\":\"-12345\"}", 400, "bad_field" },
	{ "{\"code\":\"123456\\u0000\"}", 400, "bad_field" },
	{ "{\"code\":\"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94\xef\xbc\x95\xef\xbc\x96\"}",
	  400, "bad_field" },
	{ "{\"code\":\"12345678901234567\"}", 400, "bad_field" },
};

static void own_otp_confirm(void)
{
	uint64_t step = app_step();
	char body[64], code[7];

	refuse("POST", "/v1/otp/confirm", AS_USER(U_FRESH), "{\"code\":\"123456\"}", 409,
	       "conflict", "nothing waits to be confirmed");
	/* Wrong codes are counted: not the app's, and the app's of 90 s ago and ahead. */
	wrong_code(U_DRIVER, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	refuse_otp_wrong("POST", "/v1/otp/confirm", U_DRIVER, body, "a wrong code");
	app_code(users[U_DRIVER].otp_secret, step - 3, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	refuse_otp_wrong("POST", "/v1/otp/confirm", U_DRIVER, body, "the code of 90 s ago");
	app_code(users[U_DRIVER].otp_secret, step + 3, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	refuse_otp_wrong("POST", "/v1/otp/confirm", U_DRIVER, body, "the code of 90 s ahead");
}

static void good_otp_confirm(void)
{
	char body[64], code[7], target[96];
	struct resp r;

	app_code(users[U_DRIVER].otp_secret, app_step(), code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	api_ok("POST", "/v1/otp/confirm", AS_USER(U_DRIVER), body, 200, &r);
	assert_true(json_object_get_boolean(jget(r.json, "otp")));
	resp_free(&r);
	api_ok("GET", "/v1/me", AS_USER(U_DRIVER), NULL, 200, &r);
	assert_true(json_object_get_boolean(jget(r.json, "otp")));
	resp_free(&r);
	baseline();
	refuse("POST", "/v1/otp/confirm", AS_USER(U_DRIVER), body, 409, "conflict",
	       "confirmed twice");
	/* From now on the driver's decisive requests ask for a code. */
	expand("/v1/keys/@KEYD@/revoke", target, sizeof(target));
	refuse("POST", target, AS_USER(U_DRIVER), NULL, 401, "otp_required",
	       "the driver, enrolled now");
}

/* ---- the table: one row per route of `parkd --routes` ---- */

#define IN(a) a, sizeof(a) / sizeof(a[0])
#define NONE NULL, 0

static const struct route_case route_cases[] = {
	{ "POST", "/v1/accounts", AUTH_NONE, true, 0, "/v1/accounts",
	  "{\"phone\":\"" NA "\"}", IN(account_bodies), NONE, NULL, NULL, good_register },
	{ "POST", "/v1/accounts/verify", AUTH_NONE, true, 0, "/v1/accounts/verify",
	  "{\"phone\":\"" NA "\",\"code\":\"123456\",\"password\":\"" PASSWORD "\"}",
	  IN(verify_bodies), NONE, NULL, NULL, good_verify },
	{ "POST", "/v1/sessions", AUTH_NONE, true, 0, "/v1/sessions",
	  "{\"phone\":\"" ADMIN_PHONE "\",\"password\":\"" PASSWORD "\"}", IN(session_bodies),
	  NONE, NULL, NULL, good_login },
	{ "DELETE", "/v1/sessions/current", AUTH_USER, false, U_DRIVER, "/v1/sessions/current",
	  NULL, NONE, NONE, NULL, NULL, good_logout },
	{ "POST", "/v1/users/region", AUTH_USER, true, U_ADMIN, "/v1/users/region",
	  "{\"phone\":\"@OTHERPHONE@\",\"region\":\"Nanshan\"}", IN(region_bodies), NONE, NULL,
	  own_region, good_region },
	{ "GET", "/v1/me", AUTH_USER, false, U_DRIVER, "/v1/me", NULL, NONE, NONE, NULL, NULL,
	  good_me },
	{ "GET", "/metrics", AUTH_NONE, false, 0, "/metrics", NULL, NONE, NONE, NULL, NULL,
	  good_metrics },
	{ "POST", "/v1/sites", AUTH_USER, true, U_ADMIN, "/v1/sites", NULL, IN(site_bodies),
	  NONE, NULL, own_site_import, good_site_import },
	{ "GET", "/v1/sites/{id}", AUTH_USER, false, U_DRIVER, "/v1/sites/1", NULL, NONE, NONE,
	  NULL, NULL, good_site_map },
	{ "GET", "/v1/sites/{id}/provisioning", AUTH_USER, false, U_ADMIN,
	  "/v1/sites/1/provisioning", NULL, NONE, NONE, NULL, own_provisioning,
	  good_provisioning },
	{ "POST", "/v1/reservation-key", AUTH_USER, false, U_DRIVER, "/v1/reservation-key", NULL,
	  NONE, NONE, NULL, NULL, good_reservation_key },
	{ "POST", "/v1/ekeys", AUTH_USER, true, U_OTHER, "/v1/ekeys",
	  EK("\"@CT102@\"", "\"@DEV@\""), IN(ekey_bodies), NONE, NULL, own_ekey, good_ekey },
	{ "GET", "/v1/keys", AUTH_USER, false, U_DRIVER, "/v1/keys", NULL, NONE, NONE, NULL,
	  NULL, good_keys },
	{ "GET", "/v1/gateway/locks", AUTH_GATEWAY, false, 1, "/v1/gateway/locks", NULL, NONE,
	  NONE, NULL, NULL, good_gateway_locks },
	{ "GET", "/v1/gateway/messages", AUTH_GATEWAY, false, 1, "/v1/gateway/messages?wait=0",
	  NULL, NONE, IN(message_targets), NULL, NULL, good_gateway_messages },
	{ "POST", "/v1/gateway/acks", AUTH_GATEWAY, true, 1, "/v1/gateway/acks",
	  ACK("{\"id\":@MSG@,\"error\":\"unreachable\"}"), IN(ack_bodies), NONE, NULL, own_acks,
	  good_acks },
	{ "POST", "/v1/gateway/status", AUTH_GATEWAY, true, 1, "/v1/gateway/status",
	  ST("{\"spot\":103,\"online\":true}"), IN(status_bodies), NONE, NULL, own_status,
	  good_status },
	{ "POST", "/v1/gateway/events", AUTH_GATEWAY, true, 1, "/v1/gateway/events",
	  EV("{\"spot\":101,\"seq\":1,\"time\":1800000000,\"kind\":\"car_arrived\"}"),
	  IN(event_bodies), NONE, NULL, own_events, good_events },
	{ "GET", "/v1/events", AUTH_USER, false, U_ADMIN, "/v1/events?site=1", NULL, NONE,
	  IN(stream_targets), NULL, own_stream, good_stream },
	{ "GET", "/v1/spots", AUTH_USER, false, U_DRIVER, "/v1/spots", NULL, NONE,
	  IN(spots_targets), NULL, NULL, good_spots },
	{ "GET", "/v1/spots/{id}", AUTH_USER, false, U_DRIVER, "/v1/spots/101", NULL, NONE, NONE,
	  NULL, NULL, good_spot },
	{ "PATCH", "/v1/spots/{id}", AUTH_USER, true, U_OWNER, "/v1/spots/102",
	  "{\"key_max_unlocks\":7}", IN(patch_bodies), NONE, NULL, own_patch, good_patch },
	{ "GET", "/v1/spots/{id}/map", AUTH_USER, false, U_DRIVER, "/v1/spots/102/map", NULL,
	  NONE, NONE, NULL, own_map, good_map },
	{ "GET", "/v1/spots/{id}/keys", AUTH_USER, false, U_OWNER, "/v1/spots/102/keys", NULL,
	  NONE, NONE, NULL, own_spot_keys, good_spot_keys },
	{ "GET", "/v1/sites/{id}/roles", AUTH_USER, false, U_ADMIN, "/v1/sites/1/roles", NULL,
	  NONE, NONE, NULL, own_roles_list, good_roles_list },
	{ "POST", "/v1/sites/{id}/roles", AUTH_USER, true, U_ADMIN, "/v1/sites/1/roles",
	  "{\"phone\":\"@OTHERPHONE@\",\"role\":\"attendant\"}", IN(grant_bodies), NONE, NULL,
	  own_grant, good_grant },
	{ "DELETE", "/v1/sites/{id}/roles/{role}", AUTH_USER, false, U_ADMIN,
	  "/v1/sites/1/roles/@ROLE@", NULL, NONE, NONE, prepare_revoke, own_revoke,
	  good_revoke },
	{ "POST", "/v1/spots/{id}/override", AUTH_USER, true, U_ATTENDANT,
	  "/v1/spots/102/override", OV("\"unlock\"", "\"" REASON "\""), IN(override_bodies),
	  NONE, NULL, own_override, good_override },
	{ "GET", "/v1/sites/{id}/alarms", AUTH_USER, false, U_ATTENDANT, "/v1/sites/1/alarms",
	  NULL, NONE, NONE, prepare_alarm, own_alarm_list, good_alarm_list },
	{ "POST", "/v1/sites/{id}/alarms/{alarm}/ack", AUTH_USER, true, U_ATTENDANT,
	  "/v1/sites/1/alarms/@ALARM@/ack", "{\"note\":\"Barrier checked\"}",
	  IN(alarm_ack_bodies), NONE, prepare_alarm, own_alarm_ack, good_alarm_ack },
	{ "GET", "/v1/spots/{id}/authorised", AUTH_USER, false, U_OWNER,
	  "/v1/spots/102/authorised", NULL, NONE, NONE, NULL, own_authorised_list,
	  good_authorised_list },
	{ "POST", "/v1/spots/{id}/authorised", AUTH_USER, true, U_OWNER,
	  "/v1/spots/102/authorised", "{\"phone\":\"@OTHERPHONE@\"}", IN(authorised_bodies),
	  NONE, prepare_owner_code, own_authorised_add, good_authorised_add },
	{ "DELETE", "/v1/spots/{id}/authorised/{user_id}", AUTH_USER, false, U_OWNER,
	  "/v1/spots/102/authorised/@LISTED@", "{\"otp\":\"@OTP@\"}", IN(otp_bodies), NONE,
	  prepare_authorised_remove, own_authorised_remove, good_authorised_remove },
	{ "POST", "/v1/shares", AUTH_USER, true, U_OWNER, "/v1/shares", OFFER(KEYO, ""),
	  IN(offer_bodies), NONE, prepare_sharing, own_offer, good_offer },
	{ "GET", "/v1/shares", AUTH_USER, false, U_DRIVER, "/v1/shares", NULL, NONE, NONE,
	  prepare_sharing, NULL, good_share_list },
	{ "POST", "/v1/shares/{id}/accept", AUTH_USER, true, U_OTHER, "/v1/shares/@SHARE@/accept",
	  "{\"device_pub\":\"@DEV@\"}", IN(accept_bodies), NONE, prepare_offered, own_accept,
	  good_accept },
	{ "POST", "/v1/shares/{id}/approve", AUTH_USER, false, U_OWNER,
	  "/v1/shares/@SHARE@/approve", NULL, IN(otp_bodies), NONE, prepare_pending, own_approve,
	  good_approve },
	{ "POST", "/v1/shares/{id}/deny", AUTH_USER, false, U_OWNER, "/v1/shares/@SHARE@/deny",
	  NULL, IN(otp_bodies), NONE, prepare_pending, own_deny, good_deny },
	{ "POST", "/v1/shares/{id}/give-up", AUTH_USER, false, U_OTHER,
	  "/v1/shares/@SHARE@/give-up", NULL, NONE, NONE, prepare_active, own_give_up,
	  good_give_up },
	{ "POST", "/v1/shares/{id}/freeze", AUTH_USER, false, U_OWNER,
	  "/v1/shares/@SHARE@/freeze", NULL, IN(otp_bodies), NONE, prepare_active, own_freeze,
	  good_freeze },
	{ "POST", "/v1/shares/{id}/unfreeze", AUTH_USER, false, U_OWNER,
	  "/v1/shares/@SHARE@/unfreeze", NULL, IN(otp_bodies), NONE, prepare_frozen,
	  own_unfreeze, good_unfreeze },
	{ "DELETE", "/v1/shares/{id}", AUTH_USER, false, U_OWNER, "/v1/shares/@SHARE@", NULL,
	  IN(otp_bodies), NONE, prepare_active, own_share_remove, good_share_remove },
	{ "POST", "/v1/keys/{id}/revoke", AUTH_USER, false, U_OWNER, "/v1/keys/@KEYX@/revoke",
	  NULL, IN(otp_bodies), NONE, prepare_key_revoke, own_key_revoke, good_key_revoke },
	{ "GET", "/v1/sites/{id}/revocations", AUTH_USER, false, U_OTHER,
	  "/v1/sites/1/revocations", NULL, NONE, NONE, NULL, own_revocations, good_revocations },
	{ "POST", "/v1/otp/enrol", AUTH_USER, false, U_OWNER, "/v1/otp/enrol", NULL,
	  IN(otp_bodies), NONE, prepare_owner_code, own_otp_enrol, good_otp_enrol },
	{ "POST", "/v1/otp/confirm", AUTH_USER, true, U_DRIVER, "/v1/otp/confirm",
	  "{\"code\":\"123456\"}", IN(confirm_bodies), NONE, prepare_confirm, own_otp_confirm,
	  good_otp_confirm },
};
#define ROUTE_CASES (sizeof(route_cases) / sizeof(route_cases[0]))

static void test_every_route(void **state)
{
	char missing[2048] = "", stale[2048] = "";
	size_t i, j, used = 0, sused = 0, checked = 0;

	(void)state;
	read_routes();
	for (i = 0; i < nroutes; i++) {
		for (j = 0; j < ROUTE_CASES; j++)
			if (strcmp(route_cases[j].method, routes[i].method) == 0 &&
			    strcmp(route_cases[j].pattern, routes[i].pattern) == 0)
				break;
		if (j == ROUTE_CASES) {
			used += (size_t)snprintf(missing + used, sizeof(missing) - used, " %s %s",
						 routes[i].method, routes[i].pattern);
			continue;
		}
		route_check(&route_cases[j]);
		checked++;
	}
	for (j = 0; j < ROUTE_CASES; j++)
		if (!route_exists(route_cases[j].method, route_cases[j].pattern))
			sused += (size_t)snprintf(stale + sused, sizeof(stale) - sused, " %s %s",
						  route_cases[j].method, route_cases[j].pattern);
	fprintf(stderr, "test-api-input: %zu of %zu routes, %u refused requests, each leaving "
		"the state as it was\n", checked, nroutes, refusals);
	if (problems > 0)
		fail_msg("%u refusals went wrong (PROBLEM lines above)", problems);
	if (missing[0] != '\0')
		fail_msg("routes with no row in route_cases (add one):%s", missing);
	if (stale[0] != '\0')
		fail_msg("rows of route_cases that parkd no longer has:%s", stale);
}

/* ---- SIGKILL during a stream of e-key requests ---- */

struct kill_driver {
	int user;                               /* index in users */
	pthread_t thread;
	char body[KILL_EACH][512];
	long status[KILL_EACH];                 /* -1: not sent; 0: no answer */
	int64_t key_id[KILL_EACH];              /* of a 201 */
	int64_t spot_id[KILL_EACH];
	char ekey[KILL_EACH][2 * PROTO_EKEY_LEN + 1];
};

static struct {
	struct kill_driver d[KILL_DRIVERS];
	atomic_int acked;
	atomic_int stop;
} kill_run;

static uint32_t kill_spot(int d, int j)
{
	return KILL_SPOT0 + (uint32_t)(d * KILL_EACH + j);
}

static void *kill_driver_main(void *arg)
{
	struct kill_driver *k = arg;
	const struct cred c = { CRED_USER, users[k->user].token, 0, GT_NONE };
	struct resp r;
	int j;

	for (j = 0; j < KILL_EACH; j++)
		k->status[j] = -1;
	for (j = 0; j < KILL_EACH && !atomic_load(&kill_run.stop); j++) {
		k->status[j] = api("POST", "/v1/ekeys", &c, k->body[j], strlen(k->body[j]), &r);
		if (k->status[j] == 201 && r.json != NULL) {
			const char *ekey = json_object_get_string(json_object_object_get(r.json,
											 "ekey"));

			k->key_id[j] = json_object_get_int64(json_object_object_get(r.json, "key_id"));
			k->spot_id[j] = json_object_get_int64(json_object_object_get(r.json,
										     "spot_id"));
			snprintf(k->ekey[j], sizeof(k->ekey[j]), "%s", ekey != NULL ? ekey : "");
			atomic_fetch_add(&kill_run.acked, 1);
		}
		resp_free(&r);
		if (k->status[j] == 0)
			break;          /* the server is gone */
	}
	return NULL;
}

/* The driver's keys: spot, key ID and e-key of each, as GET /v1/keys lists them. */
static size_t driver_keys(int u, int64_t *spots, int64_t *keys,
			  char (*ekeys)[2 * PROTO_EKEY_LEN + 1], size_t cap)
{
	json_object *list, *k;
	struct resp r;
	size_t i, n;

	api_ok("GET", "/v1/keys", AS_USER(u), NULL, 200, &r);
	list = jget(r.json, "keys");
	n = json_object_array_length(list);
	assert_true(n <= cap);
	for (i = 0; i < n; i++) {
		k = json_object_array_get_idx(list, i);
		spots[i] = jint(k, "spot_id");
		keys[i] = jint(k, "key_id");
		snprintf(ekeys[i], sizeof(ekeys[i]), "%s", jstr(k, "ekey"));
		assert_string_equal(jstr(jget(k, "delivery"), "state"), "pending");
	}
	resp_free(&r);
	return n;
}

/*
 * Site 2's queues, as its gateways 2 and 4 get them: every message signed by site 2's
 * key; per_spot[spot - KILL_SPOT0] counts the INSTALL_CREDs of each spot, key_of and
 * user_of say for which key and user (the SET_TIMEs of the import are checked and left).
 * Returns the number of INSTALL_CREDs.
 */
static size_t queued_creds(int64_t *key_of, int64_t *user_of, int *per_spot)
{
	static const int gateways[] = { 2, 4 };
	uint8_t frame[PROTO_FRAME_MAX];
	union proto_mgmt_payload p;
	struct proto_msg m;
	json_object *msgs, *o;
	int64_t ids[2 * DELIVERY_BATCH_MAX];
	size_t g, i, j, n, nids = 0, creds = 0;
	struct resp r;
	int len;

	memset(per_spot, 0, KILL_SPOTS * sizeof(*per_spot));
	for (g = 0; g < sizeof(gateways) / sizeof(gateways[0]); g++) {
		msgs = gateway_messages(gateways[g], &r);
		n = json_object_array_length(msgs);
		assert_true(n < DELIVERY_BATCH_MAX); /* a full batch might hide more */
		for (i = 0; i < n; i++) {
			o = json_object_array_get_idx(msgs, i);
			ids[nids] = jint(o, "id");
			for (j = 0; j < nids; j++)
				if (ids[j] == ids[nids])
					fail_msg("message %lld is queued twice", (long long)ids[j]);
			nids++;
			len = hex_decode(jstr(o, "frame"), frame, sizeof(frame));
			assert_true(len > 0);
			assert_int_equal(proto_decode(frame, (size_t)len, &m), 0);
			assert_int_equal(m.type, PROTO_MGMT);
			assert_int_equal(m.u.mgmt.target_spot, jint(o, "spot"));
			assert_int_equal(m.u.mgmt.seq, jint(o, "seq"));
			if (!mgmt_signed_by(&m.u.mgmt, SITE2, site2_pub))
				fail_msg("message %lld is not signed by site 2's key",
					 (long long)ids[nids - 1]);
			j = m.u.mgmt.target_spot - KILL_SPOT0;
			assert_true(m.u.mgmt.target_spot >= KILL_SPOT0 && j < KILL_SPOTS);
			assert_int_equal(j < KILL_SPOTS / 2 ? 2 : 4, gateways[g]);
			if (m.u.mgmt.mtype != PROTO_MGMT_INSTALL_CRED) {
				assert_int_equal(m.u.mgmt.mtype, PROTO_MGMT_SET_TIME);
				continue;
			}
			assert_int_equal(proto_mgmt_decode_payload(m.u.mgmt.mtype, m.u.mgmt.payload,
								   m.u.mgmt.plen, &p), 0);
			per_spot[j]++;
			key_of[j] = p.cred.key_id;
			user_of[j] = p.cred.user_id;
			creds++;
		}
		resp_free(&r);
	}
	return creds;
}

/* Every spot of site 2 with a key: the key once, in its driver's list, its credential once. */
static size_t check_keys_and_creds(void)
{
	static char ekeys[KILL_SPOTS + 2][2 * PROTO_EKEY_LEN + 1];
	static char held_ekey[KILL_SPOTS][2 * PROTO_EKEY_LEN + 1];
	int64_t spots[KILL_SPOTS + 2], keys[KILL_SPOTS + 2];
	int64_t key_of[KILL_SPOTS], user_of[KILL_SPOTS], held_key[KILL_SPOTS];
	int per_spot[KILL_SPOTS], held[KILL_SPOTS];
	size_t d, i, n, stored = 0, queued;
	int j;

	memset(held, 0, sizeof(held));
	for (d = 0; d < KILL_DRIVERS; d++) {
		struct kill_driver *k = &kill_run.d[d];

		n = driver_keys(k->user, spots, keys, ekeys, KILL_SPOTS + 2);
		for (i = 0; i < n; i++) {
			j = (int)(spots[i] - KILL_SPOT0);
			if (j < (int)d * KILL_EACH || j >= (int)(d + 1) * KILL_EACH)
				fail_msg("driver %zu holds a key for spot %lld it never asked for",
					 d, (long long)spots[i]);
			if (held[j]++ != 0)
				fail_msg("spot %lld has two keys", (long long)spots[i]);
			held_key[j] = keys[i];
			memcpy(held_ekey[j], ekeys[i], sizeof(held_ekey[j]));
			stored++;
		}
		/* Every 201 is there, with the key ID the reply gave. */
		for (j = 0; j < KILL_EACH; j++) {
			int s = (int)d * KILL_EACH + j;

			if (k->status[j] != 201)
				continue;
			if (!held[s] || held_key[s] != k->key_id[j])
				fail_msg("key %lld for spot %u was acknowledged (201) before the kill "
					 "but is not in the driver's list", (long long)k->key_id[j],
					 kill_spot((int)d, j));
			assert_int_equal(k->spot_id[j], kill_spot((int)d, j));
			if (strcmp(held_ekey[s], k->ekey[j]) != 0)
				fail_msg("spot %u: the stored e-key differs from the one acknowledged",
					 kill_spot((int)d, j));
		}
	}
	queued = queued_creds(key_of, user_of, per_spot);
	for (j = 0; j < KILL_SPOTS; j++) {
		if (per_spot[j] != held[j])
			fail_msg("spot %u: %d keys but %d INSTALL_CRED messages",
				 KILL_SPOT0 + (unsigned)j, held[j], per_spot[j]);
		if (held[j] && key_of[j] != held_key[j])
			fail_msg("spot %u: the queued credential is for key %lld, not %lld",
				 KILL_SPOT0 + (unsigned)j, (long long)key_of[j],
				 (long long)held_key[j]);
		if (held[j] && user_of[j] != users[kill_run.d[j / KILL_EACH].user].id)
			fail_msg("spot %u: the credential names user %lld",
				 KILL_SPOT0 + (unsigned)j, (long long)user_of[j]);
	}
	assert_int_equal(queued, stored);
	return stored;
}

static void test_sigkill_during_key_stream(void **state)
{
	char phone[20];
	size_t d;
	int j, acked, stored;
	int64_t end;
	struct resp r;

	(void)state;
	for (d = 0; d < KILL_DRIVERS; d++) {
		struct kill_driver *k = &kill_run.d[d];

		k->user = U_FIXED + (int)d;
		snprintf(phone, sizeof(phone), "+86137000001%02zu", d);
		user_make(k->user, phone);
		reservation_key(k->user);
		for (j = 0; j < KILL_EACH; j++)
			ekey_body(k->user, kill_spot((int)d, j), k->body[j], sizeof(k->body[j]));
	}
	for (d = 0; d < KILL_DRIVERS; d++)
		assert_int_equal(pthread_create(&kill_run.d[d].thread, NULL, kill_driver_main,
						&kill_run.d[d]), 0);
	/* Kill it once a quarter are acknowledged, with others in flight. */
	end = test_ms_now() + WAIT_MS;
	while (atomic_load(&kill_run.acked) < KILL_SPOTS / 4 && test_ms_now() < end)
		test_sleep_ms(1);
	sdb_close();
	kill(pk_pid, SIGKILL);
	atomic_store(&kill_run.stop, 1);
	assert_int_equal(test_wait_exit(pk_pid, WAIT_MS), 128 + SIGKILL);
	pk_pid = -1;
	for (d = 0; d < KILL_DRIVERS; d++)
		pthread_join(kill_run.d[d].thread, NULL);
	acked = atomic_load(&kill_run.acked);
	for (d = 0; d < KILL_DRIVERS; d++)
		for (j = 0; j < KILL_EACH; j++) {
			long s = kill_run.d[d].status[j];

			if (s != 201 && s != 0 && s != -1)
				fail_msg("driver %zu, spot %u: %ld before the kill", d,
					 kill_spot((int)d, j), s);
		}

	start_parkd();
	sdb_open();
	stored = (int)check_keys_and_creds();
	fprintf(stderr, "test-api-input: %d of %d e-keys acknowledged before SIGKILL, %d stored; "
		"every acknowledged key and its credential there, once\n", acked, KILL_SPOTS,
		stored);
	assert_true(acked >= KILL_SPOTS / 4);
	assert_true(acked < KILL_SPOTS); /* else the kill came after the stream, not in it */
	assert_true(stored >= acked);

	/* The restarted server goes on: the spots with no key get one now. */
	for (d = 0; d < KILL_DRIVERS; d++) {
		struct kill_driver *k = &kill_run.d[d];
		static char ekeys[KILL_SPOTS + 2][2 * PROTO_EKEY_LEN + 1];
		int64_t spots[KILL_SPOTS + 2], keys[KILL_SPOTS + 2];
		size_t n = driver_keys(k->user, spots, keys, ekeys, KILL_SPOTS + 2), i;

		for (j = 0; j < KILL_EACH; j++) {
			for (i = 0; i < n && spots[i] != kill_spot((int)d, j); i++)
				;
			if (i < n)
				continue;
			api_ok("POST", "/v1/ekeys", AS_USER(k->user), k->body[j], 201, &r);
			resp_free(&r);
		}
	}
	assert_int_equal(check_keys_and_creds(), KILL_SPOTS);

	/* On disk: intact, a queue row per key, and each lock's sequence at its newest message. */
	sdb_close();
	assert_int_equal(test_stop(&pk_pid, SIGTERM), 0);
	sdb_open();
	{
		sqlite3_stmt *st = NULL;

		assert_int_equal(sqlite3_prepare_v2(sdb, "PRAGMA integrity_check", -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
		sqlite3_finalize(st);
	}
	assert_int_equal(sdb_int("SELECT count(*) FROM ekeys WHERE spot_id >= 2001"), KILL_SPOTS);
	assert_int_equal(sdb_int("SELECT count(*) FROM ekeys e WHERE spot_id >= 2001 AND "
				 "(SELECT count(*) FROM mgmt_queue q WHERE q.key_id = e.key_id "
				 "AND q.kind = 'install_cred') <> 1"), 0);
	assert_int_equal(sdb_int("SELECT count(*) FROM locks l WHERE spot_id >= 2001 AND "
				 "mgmt_seq <> (SELECT max(seq) FROM mgmt_queue q "
				 "WHERE q.spot_id = l.spot_id)"), 0);
	sdb_close();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install),
		cmocka_unit_test(test_every_route),
		cmocka_unit_test(test_sigkill_during_key_stream),
	};

	(void)argc;
	test_find_program(argv[0], "PARKD", "parkd", parkd, sizeof(parkd));
	return cmocka_run_group_tests_name("api-input", tests, group_setup, group_teardown);
}
