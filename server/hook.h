/*
 * hook.h: the key server's outbound hooks, the three forms of sms_sender and notify_hook:
 *   "file:PATH"    appends the message's line to PATH (created 0600);
 *   "command:PATH" runs PATH with the message's arguments (no shell, stdin and stdout on
 *                  /dev/null, PATH=/usr/local/bin:/usr/bin:/bin); exit status 0 is success;
 *   "webhook:URL"  POSTs the message's JSON (http or https, certificates verified); 2xx
 *                  is success.
 * A spec is parsed once, at start; a send is one blocking call. It neither retries nor
 * logs: what a failure means is the caller's (sms.c, notify.c).
 */
#ifndef PARK_HOOK_H
#define PARK_HOOK_H

#include <stddef.h>

#define HOOK_TIMEOUT_S 10      /* a command or webhook that takes longer has failed */
#define HOOK_TARGET_MAX 1024   /* a path or URL: at most this many bytes with its NUL */
#define HOOK_ARGS_MAX 8        /* a command's arguments, at most */

enum hook_kind {
	HOOK_FILE = 1,
	HOOK_COMMAND,
	HOOK_WEBHOOK,
};

struct hook {
	enum hook_kind kind;
	char target[HOOK_TARGET_MAX]; /* the PATH or URL after the prefix: never empty */
};

/*
 * One message in the three shapes the forms take; a caller fills all three, since the
 * form is the configuration's choice. Any of them may hold a secret (an SMS code):
 * hook.c sends it to the hook only, wipes its own copy, and never puts it in err.
 */
struct hook_message {
	const char *line;        /* file: one line, without its '\n' */
	const char *const *args; /* command: the arguments after PATH, NULL-terminated,
				  * HOOK_ARGS_MAX at most */
	const char *json;        /* webhook: the request body, a JSON text */
};

/*
 * Parses `spec` ("file:PATH", "command:PATH" or "webhook:URL") into *out. Returns 0, or
 * -1 with a sentence in err[0..cap) when spec is NULL, has another prefix, an empty
 * PATH or URL, or one of HOOK_TARGET_MAX bytes or more. It does not look at the file
 * system or the network: a PATH that does not exist fails at the send.
 */
int hook_parse(const char *spec, struct hook *out, char *err, size_t cap);

/*
 * Sends m through h. Blocks up to HOOK_TIMEOUT_S (a command still running then is
 * killed). Returns 0, or -1 with a sentence in err[0..cap) that names the PATH but
 * never the URL (it may hold a token) nor the message.
 */
int hook_send(const struct hook *h, const struct hook_message *m, char *err, size_t cap);

#endif
