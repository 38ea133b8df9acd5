/*
 * json-field.c: the typed field getters of request bodies and the 400 replies they give.
 * Error sentences name the field and what it must be; they never echo the value, which
 * may be a password.
 */
#include "json-field.h"

#include <string.h>

#include "../lib/hex.h"

bool json_field_present(json_object *obj, const char *name)
{
	return obj != NULL && json_object_object_get_ex(obj, name, NULL);
}

bool json_field_given(json_object *obj, const char *name)
{
	json_object *v = NULL;

	return obj != NULL && json_object_object_get_ex(obj, name, &v) && v != NULL;
}

/* The field, or NULL with 400 missing_field; a JSON null counts as missing. */
static json_object *json_field_get(json_object *obj, const char *name, struct http_reply *rep)
{
	json_object *v = NULL;

	if (obj == NULL || !json_object_object_get_ex(obj, name, &v) || v == NULL) {
		http_reply_error(rep, 400, "missing_field", "The field '%s' is required.", name);
		return NULL;
	}
	return v;
}

const char *json_field_string(json_object *obj, const char *name, size_t min, size_t max,
			      struct http_reply *rep)
{
	json_object *v = json_field_get(obj, name, rep);
	const char *s;
	size_t len;

	if (v == NULL)
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		http_reply_error(rep, 400, "bad_field", "The field '%s' must be a string.", name);
		return NULL;
	}
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len) {
		http_reply_error(rep, 400, "bad_field", "The field '%s' must not contain NUL "
				 "characters.", name);
		return NULL;
	}
	if (len < min || len > max) {
		http_reply_error(rep, 400, "bad_field", "The field '%s' must be %zu to %zu bytes "
				 "long.", name, min, max);
		return NULL;
	}
	return s;
}

int json_field_int(json_object *obj, const char *name, int64_t lo, int64_t hi, int64_t *out,
		   struct http_reply *rep)
{
	json_object *v = json_field_get(obj, name, rep);
	int64_t n;

	if (v == NULL)
		return -1;
	if (!json_object_is_type(v, json_type_int)) {
		http_reply_error(rep, 400, "bad_field", "The field '%s' must be a whole number.",
				 name);
		return -1;
	}
	n = json_object_get_int64(v);
	/* INT64_MIN and INT64_MAX are what json-c makes of numbers beyond them. */
	if (n < lo || n > hi || n == INT64_MIN || n == INT64_MAX) {
		http_reply_error(rep, 400, "bad_field", "The field '%s' must be from %lld to "
				 "%lld.", name, (long long)lo, (long long)hi);
		return -1;
	}
	*out = n;
	return 0;
}

int json_field_bool(json_object *obj, const char *name, bool *out, struct http_reply *rep)
{
	json_object *v = json_field_get(obj, name, rep);

	if (v == NULL)
		return -1;
	if (!json_object_is_type(v, json_type_boolean)) {
		http_reply_error(rep, 400, "bad_field", "The field '%s' must be true or false.",
				 name);
		return -1;
	}
	*out = json_object_get_boolean(v) != 0;
	return 0;
}

int json_field_hex(json_object *obj, const char *name, uint8_t *out, size_t min, size_t max,
		   struct http_reply *rep)
{
	json_object *v = json_field_get(obj, name, rep);
	const char *s;
	size_t len;
	int n;

	if (v == NULL)
		return -1;
	if (!json_object_is_type(v, json_type_string))
		goto bad;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len || len % 2 != 0 || len / 2 < min || len / 2 > max)
		goto bad;
	n = hex_decode(s, out, max);
	if (n < 0)
		goto bad;
	return n;
bad:
	if (min == max)
		http_reply_error(rep, 400, "bad_field", "The field '%s' must be %zu bytes as %zu "
				 "hex digits.", name, min, 2 * min);
	else
		http_reply_error(rep, 400, "bad_field", "The field '%s' must be %zu to %zu bytes "
				 "as hex digits.", name, min, max);
	return -1;
}
