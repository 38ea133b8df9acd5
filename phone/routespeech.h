/*
 * routespeech.h: speaks a route's sentences (struct sitemap_route) aloud with espeak-ng,
 * for `parkctl route --say`. espeak-ng is looked up in PATH and started with
 * posix_spawnp and an argument vector, never through a shell; the text goes after "--",
 * so a sentence can never be read as an option. Each call waits for the speech to end.
 */
#ifndef PARK_ROUTESPEECH_H
#define PARK_ROUTESPEECH_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTESPEECH_PROGRAM "espeak-ng"
#define ROUTESPEECH_TEXT_MAX 65536 /* bytes of text in one call, the NUL included */
#define ROUTESPEECH_VOICE_MAX 32   /* bytes of a voice name, the NUL included */

enum routespeech_error {
	ROUTESPEECH_E_NOT_INSTALLED = 1, /* no executable espeak-ng in PATH: "install espeak-ng" */
	ROUTESPEECH_E_INVALID = 2,       /* a NULL sentence, text too long, a bad voice or rate */
	ROUTESPEECH_E_SPAWN = 3,         /* it could not be started; errno says why */
	ROUTESPEECH_E_FAILED = 4,        /* it ran and exited non-zero or was killed */
	ROUTESPEECH_E_NOMEM = 5,
};

struct routespeech_options {
	const char *voice; /* espeak-ng -v: "en", "zh", "en-us+f3"; NULL: its default */
	int rate;          /* words per minute, 80 .. 450 (-s); 0: its default */
	bool joined;       /* all sentences in one run, not one run per sentence */
	bool quiet;        /* its stderr to /dev/null too (stdin and stdout always are) */
};

/*
 * Finds espeak-ng in PATH: 0 with its path in path[0..cap), or
 * -ROUTESPEECH_E_NOT_INSTALLED (also when PATH is unset or the path would not fit).
 */
int routespeech_find(char *path, size_t cap);

/*
 * Speaks sentences[0..count) (UTF-8) and waits until espeak-ng is done: one run per
 * sentence, or one run of them all joined by spaces when opts->joined (opts may be
 * NULL: defaults). Empty sentences are skipped; count 0 speaks nothing and returns 0
 * without looking for espeak-ng. Everything is checked before the first run.
 * 0, or a negative enum routespeech_error; after a failed run the rest are not spoken.
 */
int routespeech_say(const char *const *sentences, size_t count,
		    const struct routespeech_options *opts);

#endif
