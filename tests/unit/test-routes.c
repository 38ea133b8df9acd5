/*
 * test-routes.c: parkd's route table as routes.c assembles it from every module: each
 * row well formed (method, pattern, handler, summary, at most HTTP_PARAMS_MAX captures),
 * no two rows for one method and path, and every row documented in server/openapi.yaml
 * (read from the source tree: the tests run from its top).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/routes.h"

#define OPENAPI "server/openapi.yaml"

static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };

static void test_rows_well_formed(void **state)
{
	const struct http_route *r;
	size_t i, j, n = routes_count(), params;
	const char *p;
	bool known;

	(void)state;
	assert_true(n >= 6);
	assert_null(routes_get(n));
	for (i = 0; i < n; i++) {
		r = routes_get(i);
		assert_non_null(r);
		known = false;
		for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++)
			known = known || strcmp(r->method, methods[j]) == 0;
		if (!known)
			fail_msg("route %zu: method '%s'", i, r->method);
		assert_non_null(r->fn);
		assert_true(r->summary != NULL && strlen(r->summary) > 5);
		if (r->pattern[0] != '/' || strstr(r->pattern, "//") != NULL)
			fail_msg("route %s %s: a pattern is an absolute path", r->method,
				 r->pattern);
		params = 0;
		for (p = strchr(r->pattern, '{'); p != NULL; p = strchr(p + 1, '{')) {
			params++;
			/* A capture is a whole segment: "/{id}/" or "/{id}" at the end. */
			if (p[-1] != '/' || strchr(p, '}') == NULL ||
			    (strchr(p, '}')[1] != '/' && strchr(p, '}')[1] != '\0'))
				fail_msg("route %s %s: a capture must be a whole segment",
					 r->method, r->pattern);
		}
		assert_true(params <= HTTP_PARAMS_MAX);
		for (j = 0; j < i; j++)
			if (strcmp(routes_get(j)->method, r->method) == 0 &&
			    strcmp(routes_get(j)->pattern, r->pattern) == 0)
				fail_msg("route %s %s is in the table twice", r->method,
					 r->pattern);
	}
}

/* True when openapi.yaml has `method` under the path `pattern`. */
static bool documented(const char *text, const char *method, const char *pattern)
{
	char key[256], op[16];
	const char *at, *end;
	size_t i;

	snprintf(key, sizeof(key), "\n  %s:\n", pattern);
	at = strstr(text, key);
	if (at == NULL)
		return false;
	at += strlen(key);
	/* The path's block ends at the next line indented by two spaces and a non-space. */
	for (end = at; (end = strstr(end, "\n  ")) != NULL && end[3] == ' '; end++)
		;
	for (i = 0; method[i] != '\0' && i < sizeof(op) - 1; i++)
		op[i] = (char)(method[i] - 'A' + 'a');
	op[i] = '\0';
	snprintf(key, sizeof(key), "\n    %s:\n", op);
	at = strstr(at - 1, key);
	return at != NULL && (end == NULL || at < end);
}

static void test_every_route_documented(void **state)
{
	const struct http_route *r;
	size_t i, len;
	char *text;
	FILE *f;

	(void)state;
	f = fopen(OPENAPI, "r");
	if (f == NULL)
		fail_msg("cannot read %s: run the tests from the top of the source tree", OPENAPI);
	text = calloc(1, 1 << 20);
	assert_non_null(text);
	len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	assert_true(len > 0);
	for (i = 0; i < routes_count(); i++) {
		r = routes_get(i);
		if (!documented(text, r->method, r->pattern))
			fail_msg("%s %s is not in %s", r->method, r->pattern, OPENAPI);
	}
	/* The checker itself finds what is missing. */
	assert_false(documented(text, "PUT", "/v1/me"));
	assert_false(documented(text, "GET", "/v1/nowhere"));
	assert_false(documented(text, "GET", "/v1/accounts")); /* a later path's get */
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_well_formed),
		cmocka_unit_test(test_every_route_documented),
	};

	return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
