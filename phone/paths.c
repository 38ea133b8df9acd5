/*
 * paths.c: the phone's XDG directories; see paths.h.
 */
#include "paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int phone_path_join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

/* An absolute XDG variable's value, or NULL (the spec says to ignore relative ones). */
static const char *xdg(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] == '/' ? v : NULL;
}

static int base_dir(char *out, size_t cap, const char *var, const char *home_rel)
{
	const char *v = xdg(var), *home = getenv("HOME");
	int n;

	if (v != NULL)
		n = snprintf(out, cap, "%s/parking", v);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, cap, "%s/%s/parking", home, home_rel);
	else
		return -1;
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int phone_paths_default(struct phone_paths *p, char *err, size_t errlen)
{
	char dir[PHONE_PATH_MAX];
	const char *run = xdg("XDG_RUNTIME_DIR");

	memset(p, 0, sizeof(*p));
	if (base_dir(p->data_dir, sizeof(p->data_dir), "XDG_DATA_HOME", ".local/share") != 0 ||
	    base_dir(dir, sizeof(dir), "XDG_CONFIG_HOME", ".config") != 0 ||
	    phone_path_join(p->config_file, sizeof(p->config_file), dir, "parkphoned.conf") != 0) {
		snprintf(err, errlen, "set HOME (or XDG_DATA_HOME and XDG_CONFIG_HOME) to an "
				      "absolute directory, or give --data-dir");
		return -1;
	}
	if (run != NULL) {
		if (snprintf(dir, sizeof(dir), "%s/parking", run) >= (int)sizeof(dir))
			run = NULL;
	}
	if (phone_path_join(p->socket, sizeof(p->socket), run != NULL ? dir : p->data_dir,
			    "phoned.sock") != 0) {
		snprintf(err, errlen, "the control socket's path is too long: give --socket");
		return -1;
	}
	return 0;
}

int phone_mkdirs(const char *dir)
{
	char buf[PHONE_PATH_MAX];
	size_t len = strlen(dir), i;

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		buf[i] = dir[i];
	}
	return 0;
}
