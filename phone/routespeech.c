/*
 * routespeech.c: runs espeak-ng on a route's sentences (see routespeech.h). The search
 * of PATH is done here first so that "not installed" is told apart from other spawn
 * failures; the program found is then started by its path. No shell, no signal
 * handling of our own: the caller's terminal signals reach espeak-ng as they reach us.
 */
#include "routespeech.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define ROUTESPEECH_RATE_MIN 80
#define ROUTESPEECH_RATE_MAX 450

/* dir/name into out[0..cap) when it is an executable regular file. */
static bool executable_in(const char *dir, size_t dirlen, char *out, size_t cap)
{
	struct stat st;
	int n;

	if (dirlen == 0) /* an empty PATH entry is the current directory */
		n = snprintf(out, cap, "./%s", ROUTESPEECH_PROGRAM);
	else
		n = snprintf(out, cap, "%.*s/%s", (int)dirlen, dir, ROUTESPEECH_PROGRAM);
	if (n < 0 || (size_t)n >= cap)
		return false;
	return stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0;
}

int routespeech_find(char *path, size_t cap)
{
	const char *dirs = getenv("PATH"), *p, *colon;

	if (path == NULL || cap == 0 || dirs == NULL)
		return -ROUTESPEECH_E_NOT_INSTALLED;
	for (p = dirs;; p = colon + 1) {
		colon = strchr(p, ':');
		if (executable_in(p, colon != NULL ? (size_t)(colon - p) : strlen(p), path, cap))
			return 0;
		if (colon == NULL)
			break;
	}
	path[0] = '\0';
	return -ROUTESPEECH_E_NOT_INSTALLED;
}

/* A voice name of letters, digits and "-_+.", as espeak-ng's are, not led by '-'. */
static bool voice_ok(const char *v)
{
	size_t n = strlen(v);

	return n > 0 && n < ROUTESPEECH_VOICE_MAX && v[0] != '-' &&
	       strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+.") == n;
}

static int check(const char *const *sentences, size_t count,
		 const struct routespeech_options *o)
{
	size_t i, total = 0;

	if (sentences == NULL)
		return -ROUTESPEECH_E_INVALID;
	for (i = 0; i < count; i++) {
		if (sentences[i] == NULL)
			return -ROUTESPEECH_E_INVALID;
		total += strlen(sentences[i]) + 1;
		if (total > ROUTESPEECH_TEXT_MAX)
			return -ROUTESPEECH_E_INVALID;
	}
	if (o->voice != NULL && !voice_ok(o->voice))
		return -ROUTESPEECH_E_INVALID;
	if (o->rate != 0 && (o->rate < ROUTESPEECH_RATE_MIN || o->rate > ROUTESPEECH_RATE_MAX))
		return -ROUTESPEECH_E_INVALID;
	return 0;
}

/* The files espeak-ng gets: stdin and stdout /dev/null, stderr too when quiet. */
static int file_actions(posix_spawn_file_actions_t *fa, bool quiet)
{
	if (posix_spawn_file_actions_init(fa) != 0)
		return -1;
	if (posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY, 0) != 0 ||
	    (quiet && posix_spawn_file_actions_adddup2(fa, 1, 2) != 0)) {
		posix_spawn_file_actions_destroy(fa);
		return -1;
	}
	return 0;
}

/* Runs `program` on one text and waits for it. */
static int speak(const char *program, const char *text, const struct routespeech_options *o)
{
	char rate[16];
	const char *argv[8];
	posix_spawn_file_actions_t fa;
	size_t n = 0;
	pid_t pid;
	int status, r;

	argv[n++] = ROUTESPEECH_PROGRAM;
	if (o->voice != NULL) {
		argv[n++] = "-v";
		argv[n++] = o->voice;
	}
	if (o->rate != 0) {
		snprintf(rate, sizeof(rate), "%d", o->rate);
		argv[n++] = "-s";
		argv[n++] = rate;
	}
	argv[n++] = "--";
	argv[n++] = text;
	argv[n] = NULL;
	if (file_actions(&fa, o->quiet) != 0)
		return -ROUTESPEECH_E_NOMEM;
	/* posix_spawnp takes char *const[]; it does not write to the strings. */
	r = posix_spawnp(&pid, program, &fa, NULL, (char *const *)(uintptr_t)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		errno = r;
		return -ROUTESPEECH_E_SPAWN;
	}
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -ROUTESPEECH_E_FAILED;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ROUTESPEECH_E_FAILED;
}

/* The non-empty sentences joined by spaces, on the heap; NULL when out of memory. */
static char *join(const char *const *sentences, size_t count)
{
	size_t i, len = 0, at = 0, n;
	char *text;

	for (i = 0; i < count; i++)
		len += strlen(sentences[i]) + 1;
	if ((text = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < count; i++) {
		if ((n = strlen(sentences[i])) == 0)
			continue;
		if (at > 0)
			text[at++] = ' ';
		memcpy(text + at, sentences[i], n);
		at += n;
	}
	text[at] = '\0';
	return text;
}

int routespeech_say(const char *const *sentences, size_t count,
		    const struct routespeech_options *opts)
{
	const struct routespeech_options none = { NULL, 0, false, false };
	const struct routespeech_options *o = opts != NULL ? opts : &none;
	char program[PATH_MAX], *text;
	size_t i;
	int r;

	if ((r = check(sentences, count, o)) != 0 || count == 0)
		return r;
	if ((r = routespeech_find(program, sizeof(program))) != 0)
		return r;
	if (o->joined) {
		if ((text = join(sentences, count)) == NULL)
			return -ROUTESPEECH_E_NOMEM;
		r = text[0] != '\0' ? speak(program, text, o) : 0;
		free(text);
		return r;
	}
	for (i = 0; r == 0 && i < count; i++)
		if (sentences[i][0] != '\0')
			r = speak(program, sentences[i], o);
	return r;
}
