/*
 * This file contains the log filter behind k8s_logs (k8s_filter_logs in
 * k8s.h): from a pod's log it keeps the error-like lines (case-insensitive
 * keywords: error, fatal, panic, exception, oom, killed, refused, timeout,
 * denied, no space, failed, traceback, segfault), folds repeats into one line
 * with "(×N)" (lines that differ only in their digits, e.g. timestamps, are
 * repeats), then writes "--- last lines ---" and the last 20 lines. Bytes
 * that are not printable (control characters, invalid UTF-8) become '?';
 * each line is cut at 500 bytes; the whole output fits in cap bytes and is
 * cut only between lines (the last lines get at most half of cap).
 *
 * Pure; safe from any thread.
 */
#include "k8s.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define LINE_MAX_BYTES 500
#define LAST_LINES     20
#define MAX_DISTINCT   256

struct span {
	const char *p;
	size_t n;
};

/* A distinct error-like line: its cleaned text, its digit-free key and count. */
struct seen {
	char *text;
	char *key;
	uint32_t hash;
	size_t count;
};

/* Length of the valid UTF-8 sequence at p[0..n), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t len = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;

	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* Appends line s cleaned (see the file comment) and cut at LINE_MAX_BYTES, without '\n'. */
static void put_clean(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, used = 0;

	while (i < n && used < LINE_MAX_BYTES) {
		size_t k = p[i] < 0x80 ? 1 : utf8_seq(p + i, n - i);
		if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f) && p[i] != '\t')) {
			buf_append(b, "?", 1);
			i++, used++;
			continue;
		}
		if (used + k > LINE_MAX_BYTES)
			break;
		buf_append(b, p[i] == '\t' ? " " : (const char *)p + i, k);
		i += k, used += k;
	}
	if (i < n)
		buf_puts(b, "…");
}

/* True when line (cleaned) looks like an error. */
static bool error_like(const char *line)
{
	static const char *const words[] = {
	    "error",   "fatal",	   "panic",    "exception", "killed",	 "refused", "timeout",
	    "timed out", "denied", "no space", "failed",    "traceback", "segfault"};
	const char *oom;

	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (strcasestr(line, words[i]) != NULL)
			return true;
	/* "oom" but not inside "room" or "zoom". */
	for (oom = strcasestr(line, "oom"); oom != NULL; oom = strcasestr(oom + 1, "oom")) {
		char before = oom == line ? ' ' : oom[-1];
		if (!((before >= 'a' && before <= 'z') || (before >= 'A' && before <= 'Z')))
			return true;
	}
	return false;
}

/* The line without its digit runs (each becomes '#'), owned; *hash set. */
static char *line_key(const char *s, uint32_t *hash)
{
	char *k = xmalloc(strlen(s) + 1), *o = k;
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			if (o > k && o[-1] == '#')
				continue;
			*o = '#';
		} else {
			*o = *s;
		}
		h = (h ^ (unsigned char)*o) * 16777619u;
		o++;
	}
	*o = '\0';
	*hash = h;
	return k;
}

/* Splits text into lines (a final line without '\n' counts; "\r\n" is one end). */
static struct span *split_lines(const char *text, size_t len, size_t *count)
{
	struct span *v = NULL;
	size_t n = 0, alloc = 0, i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len, e = end;
		if (e > i && text[e - 1] == '\r')
			e--;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			v = xrealloc(v, alloc * sizeof(*v));
		}
		v[n].p = text + i;
		v[n].n = e - i;
		n++;
		i = end + 1;
	}
	*count = n;
	return v;
}

/* Counts line when it is error-like: a repeat of a known one, or a new one (at most MAX_DISTINCT). */
static void note_error(struct seen *seen, size_t *n_seen, size_t *dropped, const char *line)
{
	uint32_t h;
	char *key;

	if (!error_like(line))
		return;
	key = line_key(line, &h);
	for (size_t i = 0; i < *n_seen; i++) {
		if (seen[i].hash == h && strcmp(seen[i].key, key) == 0) {
			seen[i].count++;
			free(key);
			return;
		}
	}
	if (*n_seen == MAX_DISTINCT) {
		(*dropped)++;
		free(key);
		return;
	}
	seen[*n_seen] = (struct seen){xstrdup(line), key, h, 1};
	(*n_seen)++;
}

void k8s_filter_logs_counted(const char *text, size_t len, size_t cap, struct buf *out,
			     size_t *lines, size_t *kept)
{
	static const char sep[] = "--- last lines ---\n";
	struct seen *seen = xcalloc(MAX_DISTINCT, sizeof(*seen));
	size_t n_lines = 0, n_seen = 0, dropped = 0, emitted = 0, first_last, budget;
	struct span *v = split_lines(text, len, &n_lines);
	struct buf line, last, errs;

	buf_init(&line, 0);
	buf_init(&last, 0);
	buf_init(&errs, 0);
	for (size_t i = 0; i < n_lines; i++) {
		buf_reset(&line);
		put_clean(&line, v[i].p, v[i].n);
		if (line.len > 0)
			note_error(seen, &n_seen, &dropped, line.data);
	}
	/* The last lines, newest kept first when they do not fit in half of cap. */
	first_last = n_lines > LAST_LINES ? n_lines - LAST_LINES : 0;
	for (;;) {
		buf_reset(&last);
		for (size_t i = first_last; i < n_lines; i++) {
			put_clean(&last, v[i].p, v[i].n);
			buf_append(&last, "\n", 1);
		}
		if (last.len + sizeof(sep) - 1 <= cap / 2 || first_last >= n_lines)
			break;
		first_last++;
	}
	budget = cap > last.len + sizeof(sep) - 1 ? cap - last.len - (sizeof(sep) - 1) : 0;
	for (size_t i = 0; i < n_seen; i++) {
		size_t before = errs.len;
		buf_puts(&errs, seen[i].text);
		if (seen[i].count > 1)
			buf_printf(&errs, " (×%zu)", seen[i].count);
		buf_append(&errs, "\n", 1);
		if (errs.len > budget) {
			errs.len = before;
			if (errs.data)
				errs.data[before] = '\0';
			break;
		}
		emitted++;
	}
	/* Say how many were left out, dropping kept lines until that fits. */
	while (emitted < n_seen || dropped > 0) {
		char more[64];
		int m = snprintf(more, sizeof(more), "… %zu more error-like lines\n",
				 n_seen - emitted + dropped);
		if (errs.len + (size_t)m <= budget) {
			buf_puts(&errs, more);
			break;
		}
		if (emitted == 0)
			break;
		/* drop the last kept line: back to the '\n' before it */
		errs.len--;
		while (errs.len > 0 && errs.data[errs.len - 1] != '\n')
			errs.len--;
		errs.data[errs.len] = '\0';
		emitted--;
	}
	if (errs.len > 0)
		buf_append(out, errs.data, errs.len);
	if (last.len + sizeof(sep) - 1 <= cap) {
		buf_puts(out, sep);
		if (last.len > 0)
			buf_append(out, last.data, last.len);
	}
	if (lines != NULL)
		*lines = n_lines;
	if (kept != NULL)
		*kept = emitted;
	for (size_t i = 0; i < n_seen; i++) {
		free(seen[i].text);
		free(seen[i].key);
	}
	free(seen);
	free(v);
	buf_release(&line);
	buf_release(&last);
	buf_release(&errs);
}

void k8s_filter_logs(const char *text, size_t len, size_t cap, struct buf *out)
{
	k8s_filter_logs_counted(text, len, cap, out, NULL, NULL);
}
