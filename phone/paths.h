/*
 * paths.h: where the phone keeps its files, after the XDG base directories: the data
 * directory ($XDG_DATA_HOME/parking, else ~/.local/share/parking: device key, session,
 * keys, cached maps), the config file ($XDG_CONFIG_HOME/parking/parkphoned.conf) and the
 * control socket ($XDG_RUNTIME_DIR/parking/phoned.sock, else in the data directory).
 * parkphoned and parkctl agree on these without being told.
 */
#ifndef PARK_PHONE_PATHS_H
#define PARK_PHONE_PATHS_H

#include <stddef.h>

#define PHONE_PATH_MAX 512

struct phone_paths {
	char data_dir[PHONE_PATH_MAX];
	char config_file[PHONE_PATH_MAX];
	char socket[PHONE_PATH_MAX];
};

/*
 * Fills p from the environment. Returns 0, or -1 with a sentence in err when neither
 * the XDG variables nor HOME give a directory, or a path does not fit.
 */
int phone_paths_default(struct phone_paths *p, char *err, size_t errlen);

/* out = dir "/" name. 0, or -1 when it does not fit (out is then ""). */
int phone_path_join(char *out, size_t cap, const char *dir, const char *name);

/* Makes `dir` and its missing parents, each new one mode 0700. 0 or -1 with errno. */
int phone_mkdirs(const char *dir);

#endif
