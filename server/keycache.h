/*
 * keycache.h: unsealed private keys kept in memory, keyed by their keywrap label
 * ("site:7", "reservation:42"), so that a key used at every request is unsealed (AES-GCM,
 * DER parse) once rather than each time. Bounded: when full, the least recently used key
 * goes. Thread-safe. It does not know where keys come from; the caller decides what may
 * be kept (see keycache_put).
 */
#ifndef PARK_KEYCACHE_H
#define PARK_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct keycache;

/* A cache of at most `max` keys (>= 1). NULL when out of memory. */
struct keycache *keycache_new(size_t max);

/* Frees every key kept and the cache. NULL is fine. */
void keycache_free(struct keycache *c);

/*
 * The key kept under `label`, as a new reference the caller frees with EVP_PKEY_free(),
 * or NULL when there is none (or c is NULL). When `pub` is not NULL, the key's public
 * half (P-256, X || Y, worked out once when it was kept) is copied there, and a key
 * that is not P-256 is not returned.
 */
EVP_PKEY *keycache_get(struct keycache *c, const char *label, uint8_t pub[64]);

/*
 * Keeps `key` under `label` (shorter than KEYWRAP_LABEL_MAX) with a reference of its
 * own; the caller keeps its reference. When the label is kept already, the first key
 * stays. Keep only keys that will never change under their label, read from committed
 * data: a key stored in a transaction that may still roll back must not be kept. Nothing
 * happens when c is NULL, the label is too long, or memory runs out.
 */
void keycache_put(struct keycache *c, const char *label, EVP_PKEY *key);

#endif
