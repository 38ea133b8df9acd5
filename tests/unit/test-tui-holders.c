/*
 * test-tui-holders.c: tui/holders through its public API, without a server or a
 * terminal: the keys and shares of GET /v1/spots/{id}/keys and GET /v1/shares become
 * rows with their state, limits and delivery; each screen's filter (everything, the
 * requests waiting for approval, the members) and the owner's spots choose the rows;
 * bad entries are skipped and a reply without a list refused; the selection stays on
 * its row across lists and is clamped when moved; rows beyond HOLDERS_MAX are counted;
 * and the words the screens show.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/holders.h"

#define NOW 1800000000

/* GET /v1/spots/101/keys: the owner's key, a renter's live key, an expired and a revoked
 * one, a handed-on one; a share of every state. */
static const char spot_reply[] =
	"{\"spot_id\":101,\"spot_name\":\"B1-01\",\"keys\":["
	"{\"key_id\":30,\"user_id\":1,\"phone\":\"+8613800000001\",\"not_before\":0,"
	"\"not_after\":4294967295,\"max_unlocks\":0,\"owner\":true,\"live\":true,"
	"\"revoked\":false,\"transferred\":false,\"issued_at\":100,"
	"\"delivery\":{\"state\":\"acked\",\"result\":\"ok\",\"acked_at\":101}},"
	"{\"key_id\":31,\"user_id\":2,\"phone\":\"+8613800000002\",\"not_before\":10,"
	"\"not_after\":1800003600,\"max_unlocks\":5,\"owner\":false,\"live\":true,"
	"\"revoked\":false,\"transferred\":false,\"issued_at\":200,"
	"\"delivery\":{\"state\":\"pending\",\"result\":null,\"acked_at\":null}},"
	"{\"key_id\":32,\"user_id\":2,\"not_after\":5,\"live\":false,\"revoked\":false},"
	"{\"key_id\":33,\"user_id\":3,\"not_after\":1800003600,\"live\":false,\"revoked\":true,"
	"\"delivery\":{\"state\":\"acked\",\"result\":\"no_space\"}},"
	"{\"key_id\":34,\"user_id\":3,\"not_after\":1800003600,\"live\":false,"
	"\"transferred\":true,\"delivery\":{\"state\":\"failed\"}},"
	"{\"key_id\":\"x\"},7],"
	"\"shares\":["
	"{\"share_id\":40,\"parent_key_id\":31,\"spot_id\":101,\"spot_name\":\"B1-01\","
	"\"sharer_phone\":\"+8613800000002\",\"recipient_id\":4,"
	"\"recipient_phone\":\"+8613800000004\",\"mode\":\"co-share\",\"not_before\":0,"
	"\"not_after\":1800003600,\"max_unlocks\":2,\"state\":\"pending_approval\","
	"\"live\":false,\"created_at\":300},"
	"{\"share_id\":41,\"parent_key_id\":30,\"spot_id\":101,\"recipient_phone\":\"+86135\","
	"\"mode\":\"transfer\",\"not_after\":1800003600,\"state\":\"active\",\"live\":true},"
	"{\"share_id\":42,\"parent_key_id\":30,\"spot_id\":101,\"state\":\"active\","
	"\"not_after\":1800003600,\"live\":false},"
	"{\"share_id\":43,\"parent_key_id\":30,\"spot_id\":101,\"state\":\"active\","
	"\"not_after\":5,\"live\":false},"
	"{\"share_id\":44,\"parent_key_id\":30,\"spot_id\":101,\"state\":\"frozen\"},"
	"{\"share_id\":45,\"parent_key_id\":30,\"spot_id\":101,\"state\":\"refused\"},"
	"{\"share_id\":46,\"parent_key_id\":30,\"spot_id\":101,\"state\":\"revoked\","
	"\"transferred\":true},"
	"{\"share_id\":47,\"parent_key_id\":30,\"spot_id\":101,\"state\":\"given_up\"},"
	"{\"share_id\":48,\"parent_key_id\":30,\"spot_id\":101,\"state\":\"offered\"},"
	"{\"share_id\":49,\"parent_key_id\":30,\"spot_id\":101,\"state\":\"melted\"},"
	"{\"share_id\":50,\"spot_id\":101},"
	"{\"share_id\":51,\"state\":\"active\"}]}";

static int set_text(struct holders *h, const char *text, enum holders_filter f,
		    const int64_t *spots, size_t nspots)
{
	json_object *o = json_tokener_parse(text);
	int r;

	assert_non_null(o);
	r = holders_set(h, &o, 1, f, spots, nspots, NOW);
	json_object_put(o);
	return r;
}

static const struct holders_entry *row(const struct holders *h, enum holders_kind kind,
				       int64_t id)
{
	size_t i = holders_find(h, kind, id);

	if (i == HOLDERS_NONE)
		fail_msg("%s %lld is not listed", kind == HOLDERS_KEY ? "key" : "share",
			 (long long)id);
	return &h->e[i];
}

static void test_everything(void **state)
{
	static struct holders h;
	const struct holders_entry *e;

	(void)state;
	holders_init(&h);
	assert_false(h.known);
	assert_null(holders_selected(&h));
	assert_int_equal(set_text(&h, spot_reply, HOLDERS_EVERYTHING, NULL, 0), 15);
	assert_true(h.known);
	/* Keys first, in the reply's order; the bad entries skipped. */
	assert_int_equal(h.e[0].kind, HOLDERS_KEY);
	assert_int_equal(h.e[0].id, 30);
	assert_int_equal(h.e[5].kind, HOLDERS_SHARE);
	e = row(&h, HOLDERS_KEY, 30);
	assert_true(e->owner_key);
	assert_int_equal(e->spot_id, 101);
	assert_string_equal(e->spot_name, "B1-01");
	assert_string_equal(e->holder, "+8613800000001");
	assert_int_equal(e->not_after, HOLDERS_NO_END);
	assert_int_equal(e->status, HOLDERS_LIVE);
	assert_int_equal(e->delivery, HOLDERS_DL_ON_LOCK);
	assert_int_equal(e->since, 100);
	e = row(&h, HOLDERS_KEY, 31);
	assert_false(e->owner_key);
	assert_int_equal(e->not_before, 10);
	assert_int_equal(e->max_unlocks, 5);
	assert_int_equal(e->delivery, HOLDERS_DL_QUEUED);
	assert_int_equal(row(&h, HOLDERS_KEY, 32)->status, HOLDERS_EXPIRED);
	assert_string_equal(row(&h, HOLDERS_KEY, 32)->holder, "");
	e = row(&h, HOLDERS_KEY, 33);
	assert_int_equal(e->status, HOLDERS_REVOKED);
	assert_int_equal(e->delivery, HOLDERS_DL_REFUSED);
	assert_string_equal(e->result, "no_space");
	assert_int_equal(row(&h, HOLDERS_KEY, 34)->status, HOLDERS_HANDED_ON);
	assert_int_equal(row(&h, HOLDERS_KEY, 34)->delivery, HOLDERS_DL_FAILED);
	/* Shares: who shared with whom, and every state. */
	e = row(&h, HOLDERS_SHARE, 40);
	assert_int_equal(e->parent_key_id, 31);
	assert_string_equal(e->sharer, "+8613800000002");
	assert_string_equal(e->holder, "+8613800000004");
	assert_int_equal(e->holder_id, 4);
	assert_false(e->transfer);
	assert_int_equal(e->max_unlocks, 2);
	assert_int_equal(e->since, 300);
	assert_int_equal(e->status, HOLDERS_PENDING);
	assert_int_equal(e->delivery, HOLDERS_DL_NONE);
	assert_true(row(&h, HOLDERS_SHARE, 41)->transfer);
	assert_int_equal(row(&h, HOLDERS_SHARE, 41)->status, HOLDERS_LIVE);
	assert_int_equal(row(&h, HOLDERS_SHARE, 42)->status, HOLDERS_STOPPED);
	assert_int_equal(row(&h, HOLDERS_SHARE, 43)->status, HOLDERS_EXPIRED);
	assert_int_equal(row(&h, HOLDERS_SHARE, 44)->status, HOLDERS_FROZEN);
	assert_int_equal(row(&h, HOLDERS_SHARE, 45)->status, HOLDERS_REFUSED);
	assert_int_equal(row(&h, HOLDERS_SHARE, 46)->status, HOLDERS_HANDED_ON);
	assert_int_equal(row(&h, HOLDERS_SHARE, 47)->status, HOLDERS_GIVEN_UP);
	assert_int_equal(row(&h, HOLDERS_SHARE, 48)->status, HOLDERS_OFFERED);
	assert_int_equal(row(&h, HOLDERS_SHARE, 49)->status, HOLDERS_UNKNOWN);
	assert_int_equal(holders_find(&h, HOLDERS_SHARE, 50), HOLDERS_NONE); /* no state */
	assert_int_equal(holders_find(&h, HOLDERS_SHARE, 51), HOLDERS_NONE); /* no spot */
	assert_int_equal(holders_find(&h, HOLDERS_KEY, 40), HOLDERS_NONE);
}

static void test_filters(void **state)
{
	static struct holders h;
	const int64_t mine[] = { 101 }, others[] = { 102, 103 };
	const char shares[] = "{\"shares\":["
		"{\"share_id\":60,\"spot_id\":102,\"state\":\"pending_approval\"},"
		"{\"share_id\":61,\"spot_id\":101,\"state\":\"pending_approval\"},"
		"{\"share_id\":62,\"spot_id\":101,\"state\":\"offered\"}]}";

	(void)state;
	holders_init(&h);
	/* Requests: pending shares of the owner's spots only. */
	assert_int_equal(set_text(&h, spot_reply, HOLDERS_REQUESTS, NULL, 0), 1);
	assert_int_equal(h.e[0].id, 40);
	assert_int_equal(set_text(&h, shares, HOLDERS_REQUESTS, mine, 1), 1);
	assert_int_equal(h.e[0].id, 61);
	assert_int_equal(set_text(&h, shares, HOLDERS_REQUESTS, others, 2), 1);
	assert_int_equal(h.e[0].id, 60);
	/* Members: live keys, and active (live or stopped) and frozen shares. */
	assert_int_equal(set_text(&h, spot_reply, HOLDERS_MEMBERS, mine, 1), 5);
	assert_int_not_equal(holders_find(&h, HOLDERS_KEY, 30), HOLDERS_NONE);
	assert_int_not_equal(holders_find(&h, HOLDERS_KEY, 31), HOLDERS_NONE);
	assert_int_not_equal(holders_find(&h, HOLDERS_SHARE, 41), HOLDERS_NONE);
	assert_int_not_equal(holders_find(&h, HOLDERS_SHARE, 42), HOLDERS_NONE);
	assert_int_not_equal(holders_find(&h, HOLDERS_SHARE, 44), HOLDERS_NONE);
	assert_int_equal(set_text(&h, spot_reply, HOLDERS_MEMBERS, others, 2), 0);
	assert_true(h.known);
	assert_null(holders_selected(&h));
}

static void test_several_replies_and_refusals(void **state)
{
	static struct holders h;
	json_object *r[3];

	(void)state;
	holders_init(&h);
	assert_int_equal(set_text(&h, "{\"shares\":[{\"share_id\":7,\"spot_id\":1,"
				  "\"state\":\"frozen\"}]}", HOLDERS_EVERYTHING, NULL, 0), 1);
	/* A reply without a list changes nothing. */
	assert_int_equal(set_text(&h, "{\"keys\":3}", HOLDERS_EVERYTHING, NULL, 0), -1);
	assert_int_equal(set_text(&h, "[]", HOLDERS_EVERYTHING, NULL, 0), -1);
	assert_int_equal(holders_set(&h, NULL, 0, HOLDERS_EVERYTHING, NULL, 0, NOW), -1);
	assert_int_equal(h.count, 1);
	/* Several spots' replies, each naming its keys' spot; a NULL one skipped. */
	r[0] = json_tokener_parse("{\"spot_id\":1,\"spot_name\":\"A\",\"keys\":["
				  "{\"key_id\":1,\"live\":true}],\"shares\":[]}");
	r[1] = NULL;
	r[2] = json_tokener_parse("{\"spot_id\":2,\"spot_name\":\"B\",\"keys\":["
				  "{\"key_id\":2,\"live\":true}]}");
	assert_int_equal(holders_set(&h, r, 3, HOLDERS_MEMBERS, NULL, 0, NOW), 2);
	assert_string_equal(h.e[0].spot_name, "A");
	assert_int_equal(h.e[1].spot_id, 2);
	assert_string_equal(h.e[1].spot_name, "B");
	/* A key of a reply that names no spot is no row. */
	json_object_put(r[0]);
	r[0] = json_tokener_parse("{\"keys\":[{\"key_id\":1,\"live\":true}]}");
	assert_int_equal(holders_set(&h, r, 1, HOLDERS_EVERYTHING, NULL, 0, NOW), 0);
	json_object_put(r[0]);
	json_object_put(r[2]);
}

static void test_selection(void **state)
{
	static struct holders h;

	(void)state;
	holders_init(&h);
	holders_move(&h, 1);
	assert_null(holders_selected(&h));
	assert_int_equal(set_text(&h, spot_reply, HOLDERS_EVERYTHING, NULL, 0), 15);
	assert_int_equal(holders_selected(&h)->id, 30);
	holders_move(&h, 6);
	assert_int_equal(holders_selected(&h)->kind, HOLDERS_SHARE);
	assert_int_equal(holders_selected(&h)->id, 41);
	/* A fresh list keeps the selection on the same row, wherever it is now. */
	assert_int_equal(set_text(&h, spot_reply, HOLDERS_MEMBERS, NULL, 0), 5);
	assert_int_equal(holders_selected(&h)->id, 41);
	assert_int_equal(holders_selected(&h)->kind, HOLDERS_SHARE);
	holders_move(&h, 100);
	assert_int_equal(holders_selected(&h)->id, 44);
	holders_move(&h, -100);
	assert_int_equal(holders_selected(&h)->id, 30);
	/* Gone from the list: the first row. */
	holders_move(&h, 4);
	assert_int_equal(set_text(&h, spot_reply, HOLDERS_REQUESTS, NULL, 0), 1);
	assert_int_equal(holders_selected(&h)->id, 40);
}

static void test_too_many(void **state)
{
	static struct holders h;
	size_t len = 64 + (HOLDERS_MAX + 10) * 64, i;
	char *text = malloc(len);
	int n;

	(void)state;
	assert_non_null(text);
	n = snprintf(text, len, "{\"spot_id\":9,\"keys\":[");
	for (i = 0; i < HOLDERS_MAX + 10; i++)
		n += snprintf(text + n, len - (size_t)n, "%s{\"key_id\":%zu,\"live\":true}",
			      i > 0 ? "," : "", i + 1);
	snprintf(text + n, len - (size_t)n, "]}");
	holders_init(&h);
	assert_int_equal(set_text(&h, text, HOLDERS_EVERYTHING, NULL, 0), HOLDERS_MAX);
	assert_int_equal(h.dropped, 10);
	free(text);
}

static void test_words(void **state)
{
	struct holders_entry e;
	char buf[64];

	(void)state;
	memset(&e, 0, sizeof(e));
	e.kind = HOLDERS_KEY;
	e.id = 12;
	assert_string_equal(holders_what(&e, buf, sizeof(buf)), "key 12");
	e.owner_key = true;
	assert_string_equal(holders_what(&e, buf, sizeof(buf)), "owner key 12");
	e.kind = HOLDERS_SHARE;
	assert_string_equal(holders_what(&e, buf, sizeof(buf)), "co-share 12");
	e.transfer = true;
	assert_string_equal(holders_what(&e, buf, sizeof(buf)), "transfer 12");
	assert_string_equal(holders_status_label(HOLDERS_PENDING), "awaiting approval");
	assert_string_equal(holders_status_label(HOLDERS_FROZEN), "frozen");
	assert_string_equal(holders_status_label((enum holders_status)99), "unknown");
	assert_string_equal(holders_unlocks(&e, buf, sizeof(buf)), "unlimited");
	e.max_unlocks = 3;
	assert_string_equal(holders_unlocks(&e, buf, sizeof(buf)), "3");
	assert_string_equal(holders_delivery_label(&e, buf, sizeof(buf)), "-");
	e.delivery = HOLDERS_DL_ON_LOCK;
	assert_string_equal(holders_delivery_label(&e, buf, sizeof(buf)), "on the lock");
	e.delivery = HOLDERS_DL_REFUSED;
	snprintf(e.result, sizeof(e.result), "no_space");
	assert_string_equal(holders_delivery_label(&e, buf, sizeof(buf)), "refused: no_space");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everything),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_several_replies_and_refusals),
		cmocka_unit_test(test_selection),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_words),
	};

	return cmocka_run_group_tests_name("tui-holders", tests, NULL, NULL);
}
