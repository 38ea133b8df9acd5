/*
 * log.h: one-line diagnostics of a host program on stderr, filtered by level:
 * "<UTC time> <program>[pid] <level>: message". The level and program name set by
 * log_init() are the process's logging configuration. Never pass secrets to these.
 */
#ifndef PARK_LOG_H
#define PARK_LOG_H

/* Levels, most severe first; a message is written when its level <= the configured one. */
enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

#if defined(__GNUC__) || defined(__clang__)
#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LOG_PRINTF(f, a)
#endif

/*
 * Sets the program name (its last path component is kept, at most 63 bytes; NULL keeps
 * the current one) and the most verbose level written. Before any call: "park", LOG_INFO.
 */
void log_init(const char *progname, enum log_level level);

/* Parses "error", "warn", "info" or "debug" into *out. Returns 0, or -1 leaving *out alone. */
int log_level_parse(const char *s, enum log_level *out);

/*
 * Writes one line to stderr with a single write(2), when `lvl` passes the filter. The
 * message is cut at about 1000 bytes, and control characters in it become '?' so that
 * text from a peer cannot forge lines. errno is preserved.
 */
void log_msg(enum log_level lvl, const char *fmt, ...) LOG_PRINTF(2, 3);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
