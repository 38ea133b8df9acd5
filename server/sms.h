/*
 * sms.h: sends one text message to a phone through the configured sender, a hook of
 * hook.h: a file (the demo and the tests read codes from it), a command, or a webhook.
 * The message may hold a secret (a verification code): it goes to the sender and
 * nowhere else, never a log.
 */
#ifndef PARK_SMS_H
#define PARK_SMS_H

struct hook;

/*
 * Sends `message` (one line) to `phone` through `sender` (sms_sender, parsed at start):
 *   file:    appends the line "PHONE MESSAGE\n";
 *   command: runs the program with the arguments PHONE MESSAGE;
 *   webhook: POSTs {"phone":PHONE,"message":MESSAGE}.
 * A NULL sender is none configured: that fails. Blocks up to HOOK_TIMEOUT_S. Returns
 * 0, or -1 after logging why (without the message).
 */
int sms_send(const struct hook *sender, const char *phone, const char *message);

#endif
