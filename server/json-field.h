/*
 * json-field.h: typed, bounded reads of the fields of a request's JSON object. Each
 * getter either returns the value or fills `rep` with the 400 error the client gets
 * (missing_field, or bad_field naming the field and what it must be), so that a handler
 * validates every field in one line and returns on the first failure.
 */
#ifndef PARK_JSON_FIELD_H
#define PARK_JSON_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "http.h"

/* True when `obj` has the field `name` (even if null). */
bool json_field_present(json_object *obj, const char *name);

/*
 * True when `obj` has the field `name` with a value other than null: whether an optional
 * field was given, since null counts as absent (server/openapi.yaml).
 */
bool json_field_given(json_object *obj, const char *name);

/*
 * The string field `name`, min..max bytes long (UTF-8, as the parser checked), without
 * NUL bytes. Returns it (borrowed from `obj`: valid while obj lives), or NULL with rep
 * set to 400 missing_field or bad_field.
 */
const char *json_field_string(json_object *obj, const char *name, size_t min, size_t max,
			      struct http_reply *rep);

/*
 * The integer field `name` in lo..hi (a JSON number without fraction or exponent;
 * lo > INT64_MIN and hi < INT64_MAX, since the parser saturates larger numbers to those).
 * Returns 0 with *out set, or -1 with rep set (and *out untouched).
 */
int json_field_int(json_object *obj, const char *name, int64_t lo, int64_t hi, int64_t *out,
		   struct http_reply *rep);

/* The boolean field `name`. 0 with *out set, or -1 with rep set. */
int json_field_bool(json_object *obj, const char *name, bool *out, struct http_reply *rep);

/*
 * The hex string field `name` decoded into out[0..max): min..max bytes (min == max for
 * an exact length), digits in either case. Returns the byte count, or -1 with rep set
 * (nothing written to out).
 */
int json_field_hex(json_object *obj, const char *name, uint8_t *out, size_t min, size_t max,
		   struct http_reply *rep);

#endif
