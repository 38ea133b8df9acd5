/*
 * sms.c: one SMS in the three shapes of a hook message (hook.h does the sending). It
 * does not retry: the user asks for another code, which rate limits bound.
 */
#include "sms.h"

#include <stdio.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "../lib/log.h"
#include "hook.h"

#define SMS_LINE_MAX 1024

int sms_send(const struct hook *sender, const char *phone, const char *message)
{
	const char *args[] = { phone, message, NULL };
	struct hook_message m = { NULL, args, NULL };
	char line[SMS_LINE_MAX], err[256];
	json_object *body = NULL;
	int n, r = -1;

	if (sender == NULL) {
		log_error("sms: no SMS sender is configured (sms_sender)");
		return -1;
	}
	n = snprintf(line, sizeof(line), "%s %s", phone, message);
	if (n < 0 || (size_t)n >= sizeof(line) - 1) {
		log_error("sms: the message is too long");
		goto out;
	}
	body = json_object_new_object();
	if (body == NULL)
		goto out;
	json_object_object_add(body, "phone", json_object_new_string(phone));
	json_object_object_add(body, "message", json_object_new_string(message));
	m.line = line;
	m.json = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	if (hook_send(sender, &m, err, sizeof(err)) != 0) {
		log_error("sms: %s", err);
		goto out;
	}
	r = 0;
out:
	json_object_put(body);
	OPENSSL_cleanse(line, sizeof(line)); /* it held the code */
	return r;
}
