/*
 * test-must.h: must(x), the test support's check of its own set-up. Like assert(), but
 * never compiled out, since the calls inside it have effects; a broken set-up aborts.
 */
#ifndef PARK_TEST_MUST_H
#define PARK_TEST_MUST_H

#include <stdio.h>
#include <stdlib.h>

#define must(x) test_must_at((x), #x, __FILE__, __LINE__)

static inline void test_must_at(int ok, const char *what, const char *file, int line)
{
	if (ok)
		return;
	fprintf(stderr, "%s:%d: test set-up failed: %s\n", file, line, what);
	abort();
}

#endif
