/*
 * This file contains the logging API: one line per event on stderr, as
 * key=value pairs after a level word, e.g.
 *   2026-11-25T14:00:00.123Z info incident=42 event=opened alertname=X
 * log_warn() appends strerror(errno), log_warnx() does not; fatal() logs and
 * exits 1. Safe from any thread (each line is one write(2)). Never pass a
 * token or a whole request body.
 */
#ifndef NIGHTSHIFT_LOG_H
#define NIGHTSHIFT_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the lowest level printed (default LOG_INFO). */
void log_set_level(enum log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 on anything else. */
int log_level_parse(const char *s, enum log_level *out);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like log_warnx() with " error=\"<strerror(errno)>\"" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
