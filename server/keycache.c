/*
 * keycache.c: the cache of unsealed private keys: a fixed array of entries chained into
 * hash buckets by label, under one mutex. A lookup is a hash and a short chain walk; the
 * least recently used entry is found by a scan, which only a miss on a full cache pays
 * (and a miss costs an unseal, far more). Keys are freed with EVP_PKEY_free(), which
 * wipes their private scalars.
 */
#include "keycache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/p256.h"
#include "keywrap.h"

#define KEYCACHE_NONE SIZE_MAX /* the end of a bucket's chain */

struct keycache_entry {
	char label[KEYWRAP_LABEL_MAX];
	uint64_t hash;
	EVP_PKEY *key;     /* the cache's reference */
	uint8_t pub[64];   /* its public half, X || Y, when has_pub */
	bool has_pub;
	uint64_t used;     /* the cache's clock at the last get or put */
	size_t next;       /* the next entry in its bucket, or KEYCACHE_NONE */
};

struct keycache {
	pthread_mutex_t lock;
	struct keycache_entry *entry; /* [0..n) in use, max in all */
	size_t n, max;
	size_t *bucket;               /* nbuckets heads (a power of two), or KEYCACHE_NONE */
	size_t nbuckets;
	uint64_t clock;
};

/* FNV-1a: labels are short and chosen by the server, not by peers. */
static uint64_t keycache_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

struct keycache *keycache_new(size_t max)
{
	struct keycache *c;
	size_t i;

	if (max == 0 || max > SIZE_MAX / 4)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->max = max;
	for (c->nbuckets = 1; c->nbuckets < 2 * max; c->nbuckets *= 2)
		;
	c->entry = calloc(max, sizeof(*c->entry));
	c->bucket = calloc(c->nbuckets, sizeof(*c->bucket));
	if (c->entry == NULL || c->bucket == NULL) {
		free(c->entry);
		free(c->bucket);
		free(c);
		return NULL;
	}
	for (i = 0; i < c->nbuckets; i++)
		c->bucket[i] = KEYCACHE_NONE;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void keycache_free(struct keycache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		EVP_PKEY_free(c->entry[i].key);
	pthread_mutex_destroy(&c->lock);
	free(c->entry);
	free(c->bucket);
	free(c);
}

/* The entry of `label`, or KEYCACHE_NONE. Under the lock. */
static size_t keycache_find(const struct keycache *c, const char *label, uint64_t hash)
{
	size_t i = c->bucket[hash & (c->nbuckets - 1)];

	while (i != KEYCACHE_NONE &&
	       (c->entry[i].hash != hash || strcmp(c->entry[i].label, label) != 0))
		i = c->entry[i].next;
	return i;
}

EVP_PKEY *keycache_get(struct keycache *c, const char *label, uint8_t pub[64])
{
	EVP_PKEY *key = NULL;
	uint64_t hash;
	size_t i;

	if (c == NULL)
		return NULL;
	hash = keycache_hash(label);
	pthread_mutex_lock(&c->lock);
	i = keycache_find(c, label, hash);
	if (i != KEYCACHE_NONE && (pub == NULL || c->entry[i].has_pub) &&
	    EVP_PKEY_up_ref(c->entry[i].key) == 1) {
		key = c->entry[i].key;
		if (pub != NULL)
			memcpy(pub, c->entry[i].pub, 64);
		c->entry[i].used = ++c->clock;
	}
	pthread_mutex_unlock(&c->lock);
	return key;
}

/* Takes entry i out of its bucket's chain. Under the lock. */
static void keycache_unlink(struct keycache *c, size_t i)
{
	size_t *p = &c->bucket[c->entry[i].hash & (c->nbuckets - 1)];

	while (*p != i)
		p = &c->entry[*p].next;
	*p = c->entry[i].next;
}

/* The least recently used entry (the cache is full). Under the lock. */
static size_t keycache_oldest(const struct keycache *c)
{
	size_t i, oldest = 0;

	for (i = 1; i < c->n; i++)
		if (c->entry[i].used < c->entry[oldest].used)
			oldest = i;
	return oldest;
}

void keycache_put(struct keycache *c, const char *label, EVP_PKEY *key)
{
	EVP_PKEY *old = NULL;
	struct keycache_entry *e;
	uint8_t pub[64];
	bool has_pub;
	uint64_t hash;
	size_t i, b;

	if (c == NULL || key == NULL || strlen(label) >= KEYWRAP_LABEL_MAX)
		return;
	has_pub = p256_public_raw(key, pub) == 0; /* once here, not at every get */
	hash = keycache_hash(label);
	pthread_mutex_lock(&c->lock);
	if (keycache_find(c, label, hash) != KEYCACHE_NONE || EVP_PKEY_up_ref(key) != 1)
		goto out;
	if (c->n < c->max) {
		i = c->n++;
	} else {
		i = keycache_oldest(c);
		keycache_unlink(c, i);
		old = c->entry[i].key;
	}
	e = &c->entry[i];
	memset(e->label, 0, sizeof(e->label));
	memcpy(e->label, label, strlen(label));
	e->hash = hash;
	e->key = key;
	memcpy(e->pub, pub, sizeof(pub));
	e->has_pub = has_pub;
	e->used = ++c->clock;
	b = hash & (c->nbuckets - 1);
	e->next = c->bucket[b];
	c->bucket[b] = i;
out:
	pthread_mutex_unlock(&c->lock);
	EVP_PKEY_free(old); /* outside the lock: other holders keep their references */
}
