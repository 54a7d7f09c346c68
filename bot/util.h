/*
 * This file contains the small utilities every module uses: allocators that
 * treat out-of-memory as fatal (x*), a growable byte buffer with a hard cap
 * (struct buf), clocks, SHA-256 and string helpers. Thread-safe: no globals.
 */
#ifndef NIGHTSHIFT_UTIL_H
#define NIGHTSHIFT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocators: never return NULL (out of memory is fatal). xstrdup(NULL) is NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns an owned, formatted string (free with free()). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A growable byte buffer. Invariants: data is NUL-terminated when len > 0
 * (or data is NULL), len < alloc, and len never exceeds cap (0 = no cap).
 * Appending past cap fails with -1 and leaves the buffer as it was.
 */
struct buf {
	char *data; /* owned */
	size_t len;
	size_t alloc;
	size_t cap;
};

void buf_init(struct buf *b, size_t cap);
void buf_release(struct buf *b); /* frees data; b can be reused after buf_init */
void buf_reset(struct buf *b);   /* len = 0, keeps the allocation */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (with quotes), escaping as needed. */
int buf_json_string(struct buf *b, const char *s);
/* Returns the data (owned by the caller, "" if empty) and empties b. */
char *buf_detach(struct buf *b);

/* Wall clock in milliseconds since the epoch; monotonic clock in ms. */
int64_t now_ms(void);
int64_t mono_ms(void);

/*
 * Parses an RFC 3339 / ISO 8601 timestamp ("2026-11-22T23:11:15.357Z",
 * "+02:00" offsets, or "2026-11-22 23:11:15.357" read as UTC) into ms since
 * the epoch. Returns -1 on failure; the Go zero time 0001-01-01 gives 0.
 */
int parse_time_ms(const char *s, int64_t *out);
/* Formats ms since the epoch as "2026-11-22T23:11:15Z" into out (>= 21 bytes). */
void format_time(int64_t ms, char *out, size_t outlen);

/* Parses a duration "90s", "10m", "2h", "1d", "1h30m" into seconds; -1 on error. */
int parse_duration(const char *s, int64_t *seconds);
/* Formats seconds compactly, e.g. "1h 5m", "40 min", "12 s" into out. */
void format_duration(int64_t seconds, char *out, size_t outlen);

/* Writes the lowercase hex SHA-256 of p[0..n) into hex (65 bytes). */
void sha256_hex(const void *p, size_t n, char hex[65]);
/* Constant-time equality of two strings of any lengths (compares digests). */
bool secret_equal(const char *a, const char *b);

/* Bounded copy that always NUL-terminates (when outlen > 0). */
void strlcpy0(char *out, const char *in, size_t outlen);
bool str_has_prefix(const char *s, const char *prefix);
bool str_empty(const char *s); /* NULL or "" */

/* Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown. */
long process_rss_bytes(void);

#endif
