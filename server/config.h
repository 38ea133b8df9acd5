/*
 * config.h: parkd's configuration: the `name = value` file, the command-line overrides
 * and the defaults, all driven by one table of options (config.c) that also prints
 * `parkd --help-config`. A struct config is plain data, filled once at start-up by
 * main.c (or a test) and read-only while the server runs.
 */
#ifndef PARK_CONFIG_H
#define PARK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "../lib/log.h"

#define CONFIG_PATH_MAX 512
#define CONFIG_URL_MAX 1024
#define CONFIG_ERR_MAX 640

/* Argon2id cost of new password hashes; old hashes keep the cost they were made with. */
struct config_password_cost {
	const char *name;  /* "interactive" (default), "moderate" or "test" */
	uint32_t t_cost;   /* passes */
	uint32_t m_kib;    /* memory, KiB */
	uint32_t lanes;    /* parallelism */
};

struct config {
	char listen[128];                     /* "HOST:PORT" or "[V6]:PORT"; port 0 = any */
	char data_dir[CONFIG_PATH_MAX];       /* the server's files */
	char db_url[CONFIG_URL_MAX];          /* "sqlite:PATH" */
	char master_key_file[CONFIG_PATH_MAX];
	char tls_cert[CONFIG_PATH_MAX];       /* PEM; HTTPS when both are set */
	char tls_key[CONFIG_PATH_MAX];
	char sms_sender[CONFIG_URL_MAX];      /* "file:PATH", "command:PATH", "webhook:URL" */
	char notify_hook[CONFIG_URL_MAX];     /* the same forms; "" for none */
	int64_t session_idle_s;               /* a session unused this long ends */
	int64_t session_max_s;                /* every session ends this long after login */
	enum log_level log_level;
	const struct config_password_cost *password_cost;
	int64_t db_pool;                      /* database connections, at most */
	int64_t max_connections;              /* HTTP connections at once */
	int64_t heavy_workers;                /* password hashes computed at once */
	int64_t fail_max_account;             /* wrong codes/passwords per phone per window */
	int64_t fail_max_address;             /* ... per client address per window */
	int64_t fail_window_s;
	int64_t sms_max_phone;                /* codes sent per phone per window */
	int64_t sms_max_address;              /* codes asked for per address per window */
	int64_t sms_window_s;
	int64_t time_relay_s;                 /* a lock's signed time is renewed this often */
	int64_t redeliver_s;                  /* a pending message goes to a gateway again after */
	int64_t stream_replay_max;            /* missed events a resumed stream gets, at most */
	int64_t stream_keepalive_s;           /* an idle stream's keepalive comes this often */
	/* The server's clock (server_now); NULL is time(). Tests set it; no option does. */
	int64_t (*now)(void);
};

/* Fills `cfg` with every option's default. db_url and master_key_file stay "" until
 * config_finish() derives them from data_dir. */
void config_defaults(struct config *cfg);

/*
 * Reads the file at `path` into `cfg` (over the defaults already there). Lines are
 * `name = value`; blank lines and lines whose first non-blank character is '#' are
 * skipped; the value runs to the end of the line (no trailing comments, no quotes).
 * Returns 0, or -1 with "PATH:LINE: what is wrong" in err[0..cap) at the first bad line.
 */
int config_read(struct config *cfg, const char *path, char *err, size_t cap);

/* Sets one option by name, as a file line or a command-line override would. 0 or -1
 * with a sentence in err. */
int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t cap);

/*
 * Derives what depends on other options (db_url, master_key_file from data_dir) and
 * checks options against each other (tls_cert with tls_key, idle <= max). 0 or -1 with
 * a sentence in err.
 */
int config_finish(struct config *cfg, char *err, size_t cap);

/* Writes the option table: name, default and help of each, for --help-config. */
void config_help(FILE *f);

/*
 * Parses a listen address ("127.0.0.1:8443", "[::1]:8443", "0.0.0.0:0") into *ss and
 * *len. Returns 0 or -1. Host names are not resolved: a server binds to an address.
 */
int config_listen_addr(const char *listen, struct sockaddr_storage *ss, socklen_t *len);

#endif
