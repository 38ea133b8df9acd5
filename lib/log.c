/*
 * log.c: the process's log configuration (program name, level) and the line writer.
 * It does not open files or talk to syslog: programs log to stderr and let their
 * supervisor (systemd, the test runner) keep the lines.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024
#define LOG_NAME_MAX 64

static const char *const log_level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};
#define LOG_LEVEL_COUNT (sizeof(log_level_names) / sizeof(log_level_names[0]))

/* The configuration: the only mutable globals of the library. */
static char log_progname[LOG_NAME_MAX] = "park";
static enum log_level log_max_level = LOG_INFO;

void log_init(const char *progname, enum log_level level)
{
	const char *base;

	if (progname != NULL) {
		base = strrchr(progname, '/');
		base = base != NULL ? base + 1 : progname;
		snprintf(log_progname, sizeof(log_progname), "%s", base);
	}
	if ((unsigned)level < LOG_LEVEL_COUNT)
		log_max_level = level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < LOG_LEVEL_COUNT; i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf; an unreadable clock gives the epoch. */
static void log_timestamp(char *buf, size_t cap)
{
	struct timespec ts = { 0, 0 };
	struct tm tm;
	size_t n;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

/* Control characters become '?': a message must stay one line whatever it quotes. */
static void log_sanitize(char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	char stamp[40];
	va_list ap;
	int saved_errno = errno;
	int n, m;

	if ((unsigned)lvl >= LOG_LEVEL_COUNT || lvl > log_max_level)
		goto out;
	log_timestamp(stamp, sizeof(stamp));
	n = snprintf(line, sizeof(line), "%s %s[%ld] %s: ", stamp, log_progname,
		     (long)getpid(), log_level_names[lvl]);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		goto out;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - 1 - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		goto out;
	log_sanitize(line + n);
	n = (int)strlen(line);
	line[n++] = '\n';
	/* One write keeps lines from concurrent processes on a shared stderr whole. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
out:
	errno = saved_errno;
}
