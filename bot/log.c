/*
 * This file contains the logger behind log.h: timestamped key=value lines,
 * formatted into one buffer and written with a single write(2) so lines from
 * different threads never interleave.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level level) { min_level = level; }

int log_level_parse(const char *s, enum log_level *out)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void emit(enum log_level level, const char *errstr, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void emit(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	static const char *words[] = {"debug", "info", "warn", "error"};
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000L, words[level]);
	if (r > 0)
		n += (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n = (n + (size_t)r < sizeof(line)) ? n + (size_t)r : sizeof(line) - 1;
	if (errstr != NULL && n < sizeof(line) - 1) {
		r = snprintf(line + n, sizeof(line) - n, " error=\"%s\"", errstr);
		if (r > 0)
			n = (n + (size_t)r < sizeof(line)) ? n + (size_t)r : sizeof(line) - 1;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: short writes to stderr are not retried on purpose. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

#define LOG_FN(name, level)                                                                        \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		emit(level, NULL, fmt, ap);                                                        \
		va_end(ap);                                                                        \
	}
LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warnx, LOG_WARN)
LOG_FN(log_error, LOG_ERROR)

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	emit(LOG_WARN, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
