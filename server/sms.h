/*
 * sms.h: sends one text message to a phone through the configured sender: a file (the
 * demo and the tests read codes from it), a command, or a webhook. The message may hold
 * a secret (a verification code): it goes to the sender and nowhere else, never a log.
 */
#ifndef PARK_SMS_H
#define PARK_SMS_H

#define SMS_TIMEOUT_S 10 /* a command or webhook that takes longer has failed */

/*
 * Sends `message` (one line) to `phone` through `sender`:
 *   "file:PATH"    appends the line "PHONE MESSAGE\n" to PATH (created 0600);
 *   "command:PATH" runs PATH with the arguments PHONE MESSAGE (no shell, stdin and
 *                  stdout on /dev/null); exit status 0 is success;
 *   "webhook:URL"  POSTs {"phone":PHONE,"message":MESSAGE} as JSON; 2xx is success.
 * Blocks up to SMS_TIMEOUT_S. Returns 0, or -1 after logging why (without the message).
 */
int sms_send(const char *sender, const char *phone, const char *message);

#endif
