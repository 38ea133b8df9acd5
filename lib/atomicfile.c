/*
 * atomicfile.c: whole small files written so that a crash or power cut leaves either the
 * old content or the new, never half of one; see atomicfile.h.
 */
#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* write(2) until done, across short writes and signals. Returns 0 or -1 with errno. */
static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsyncs the directory holding `path`, so that a rename into it survives a power cut. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	int fd = -1, r = -1, saved;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		goto out;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		goto out;
	r = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	errno = saved;
	return r;
}

int atomicfile_write(const char *path, const uint8_t *data, size_t len, mode_t mode)
{
	static const char suffix[] = ".tmp-XXXXXX";
	size_t plen = strlen(path);
	char *tmp = malloc(plen + sizeof(suffix));
	bool tmp_exists = false;
	int fd = -1, r = -1, saved;

	if (tmp == NULL)
		goto out;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, suffix, sizeof(suffix));
	fd = mkstemp(tmp);
	if (fd < 0)
		goto out;
	tmp_exists = true;
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1; /* closed even on error: never close twice */
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	tmp_exists = false; /* it is `path` now */
	r = sync_dir(path);
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (tmp_exists)
		(void)unlink(tmp);
	free(tmp);
	errno = saved;
	return r;
}

long atomicfile_read(const char *path, uint8_t *buf, size_t cap)
{
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, saved;
	long r = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (size_t)st.st_size >= cap - 1) {
		errno = EINVAL;
		goto out;
	}
	/* Read to EOF rather than trusting st_size: the file may be changing. */
	while ((n = read(fd, buf + len, cap - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		len += (size_t)n;
		if (len == cap - 1) {
			errno = EINVAL;
			goto out;
		}
	}
	buf[len] = '\0';
	r = (long)len;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
	return r;
}

