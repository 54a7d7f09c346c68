/*
 * This file contains the unit tests for the log filter behind k8s_logs
 * (tools/k8s_logfilter.c): error-like lines kept, repeats folded with (×N)
 * even when their timestamps differ, the last 20 lines, binary bytes as '?',
 * the byte cap honoured and cut only between lines, and the counts.
 */
#include "harness.h"

#include <stdlib.h>

#include "k8s.h"
#include "util.h"

/* Filters text (NUL-terminated) with cap into a fresh static copy; sets lines and kept. */
static const char *filter(const char *text, size_t cap, size_t *lines, size_t *kept)
{
	static char copy[65536];
	struct buf out;

	buf_init(&out, 0);
	k8s_filter_logs_counted(text, strlen(text), cap, &out, lines, kept);
	snprintf(copy, sizeof(copy), "%s", out.data ? out.data : "");
	CHECK(out.len <= cap);
	buf_release(&out);
	return copy;
}

static void test_keeps_errors_and_last_lines(void)
{
	const char *log = "2026-01-10T11:00:01Z INFO starting\n"
			  "2026-01-10T11:00:02Z ERROR cannot connect to db: connection refused\n"
			  "2026-01-10T11:00:03Z INFO retrying\n"
			  "java.lang.OutOfMemoryError: Java heap space\n"
			  "Traceback (most recent call last):\n"
			  "the room is fine, zoom too\n"
			  "OOMKilled\n"
			  "write /data/x: no space left on device\n"
			  "done\n";
	size_t lines = 0, kept = 0;
	const char *out = filter(log, 8192, &lines, &kept);

	CHECK_INT(lines, 9);
	CHECK_INT(kept, 5);
	CHECK_STR(out, "2026-01-10T11:00:02Z ERROR cannot connect to db: connection refused\n"
		       "java.lang.OutOfMemoryError: Java heap space\n"
		       "Traceback (most recent call last):\n"
		       "OOMKilled\n"
		       "write /data/x: no space left on device\n"
		       "--- last lines ---\n"
		       "2026-01-10T11:00:01Z INFO starting\n"
		       "2026-01-10T11:00:02Z ERROR cannot connect to db: connection refused\n"
		       "2026-01-10T11:00:03Z INFO retrying\n"
		       "java.lang.OutOfMemoryError: Java heap space\n"
		       "Traceback (most recent call last):\n"
		       "the room is fine, zoom too\n"
		       "OOMKilled\n"
		       "write /data/x: no space left on device\n"
		       "done\n");
}

static void test_dedupes_repeats(void)
{
	struct buf log;
	size_t lines = 0, kept = 0;
	const char *out;

	buf_init(&log, 0);
	for (int i = 0; i < 12; i++)
		buf_printf(&log, "2026-01-10T11:%02d:00Z level=error msg=\"upstream timeout\" id=%d\n",
			   i, 1000 + i);
	buf_puts(&log, "panic: runtime error: invalid memory address\n");
	for (int i = 0; i < 30; i++)
		buf_printf(&log, "info tick %d\n", i);
	out = filter(log.data, 8192, &lines, &kept);
	CHECK_INT(lines, 43);
	CHECK_INT(kept, 2);
	/* The first occurrence stands for the 12. */
	CHECK_CONTAINS(out, "2026-01-10T11:00:00Z level=error msg=\"upstream timeout\" id=1000 (×12)\n"
			    "panic: runtime error: invalid memory address\n"
			    "--- last lines ---\n"
			    "info tick 10\n");
	CHECK(strstr(out, "info tick 9\n") == NULL);
	CHECK(strstr(out, "id=1001") == NULL);
	/* Exactly 20 last lines. */
	CHECK_CONTAINS(out, "info tick 29\n");
	buf_release(&log);
}

static void test_binary_bytes(void)
{
	const char log[] = "ok \x01\x02 bytes \xff\xfe end error\n"
			   "utf-8 stays: caf\xc3\xa9 failed\r\n"
			   "tab\there\n";
	size_t lines = 0, kept = 0;
	const char *out = filter(log, 8192, &lines, &kept);

	CHECK_INT(lines, 3);
	CHECK_INT(kept, 2);
	CHECK_CONTAINS(out, "ok ?? bytes ?? end error\n");
	CHECK_CONTAINS(out, "utf-8 stays: café failed\n"); /* the \r of CRLF is dropped */
	CHECK_CONTAINS(out, "tab here\n");
	for (const char *p = out; *p; p++)
		CHECK((unsigned char)*p >= 0x20 || *p == '\n');
}

static void test_cap_on_line_boundaries(void)
{
	struct buf log;
	size_t lines = 0, kept = 0;
	const char *out;
	size_t n;

	buf_init(&log, 0);
	for (int i = 0; i < 400; i++)
		buf_printf(&log, "error number %c%c%c distinct failure kind %d\n", 'a' + i % 26,
			   'a' + i / 26 % 26, 'a' + i / 676, i % 7);
	out = filter(log.data, 2048, &lines, &kept);
	n = strlen(out);
	CHECK(n <= 2048);
	CHECK(n > 1024);
	CHECK(kept > 0 && kept < 400);
	CHECK(out[n - 1] == '\n');
	CHECK_CONTAINS(out, "more error-like lines\n--- last lines ---\n");
	/* Each line before the separator is whole. */
	for (const char *p = out; *p && strncmp(p, "---", 3) != 0; p = strchr(p, '\n') + 1)
		CHECK(strncmp(p, "error number ", 13) == 0 || strncmp(p, "… ", 4) == 0);
	/* The newest line is there. */
	CHECK_CONTAINS(out, "error number jpa distinct failure kind 0\n");
	buf_release(&log);
}

static void test_long_lines_and_tiny_cap(void)
{
	char line[2000];
	size_t lines = 0, kept = 0;
	const char *out;

	memset(line, 'e', sizeof(line) - 2);
	memcpy(line, "fatal ", 6);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	out = filter(line, 8192, &lines, &kept);
	CHECK_INT(lines, 1);
	CHECK_INT(kept, 1);
	CHECK(strlen(out) < 1200); /* each copy cut at 500 bytes */
	CHECK_CONTAINS(out, "eee…\n");
	out = filter(line, 40, &lines, &kept);
	CHECK(strlen(out) <= 40);
	out = filter("", 8192, &lines, &kept);
	CHECK_INT(lines, 0);
	CHECK_INT(kept, 0);
	CHECK_STR(out, "--- last lines ---\n");
}

static void test_plain_wrapper(void)
{
	struct buf out;

	buf_init(&out, 0);
	k8s_filter_logs("x\nsegfault at 0\n", 16, 8192, &out);
	CHECK_STR(out.data, "segfault at 0\n--- last lines ---\nx\nsegfault at 0\n");
	buf_release(&out);
}

int main(void)
{
	RUN(test_keeps_errors_and_last_lines);
	RUN(test_dedupes_repeats);
	RUN(test_binary_bytes);
	RUN(test_cap_on_line_boundaries);
	RUN(test_long_lines_and_tiny_cap);
	RUN(test_plain_wrapper);
	return harness_done();
}
