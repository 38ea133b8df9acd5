/*
 * atomicfile.h: whole small files (keys, sessions, caches) replaced atomically and read
 * back with a size limit. Used by every host program that keeps state in plain files.
 */
#ifndef PARK_ATOMICFILE_H
#define PARK_ATOMICFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Replaces `path` with data[0..len) atomically: a temporary file beside it (so the
 * rename stays on one filesystem), the mode fixed before any byte is written, fsync,
 * rename, fsync of the directory. A failure before the rename leaves `path` untouched
 * and no temporary file behind. Returns 0 or -1 with errno set.
 */
int atomicfile_write(const char *path, const uint8_t *data, size_t len, mode_t mode);

/*
 * Reads a whole regular file of at most cap - 1 bytes into buf, NUL-terminated. The
 * caller wipes buf when it may hold a key. Returns the length, or -1 with errno set
 * (EINVAL: not a regular file, or too large).
 */
long atomicfile_read(const char *path, uint8_t *buf, size_t cap);

#endif
