/*
 * This file contains the PCRE2 wrapper of regex.h. Patterns are compiled
 * with PCRE2_UTF | PCRE2_MATCH_INVALID_UTF (so odd bytes in a subject never
 * make a match fail with an error) and JIT-compiled where the host allows.
 * Every match runs under a match and depth limit.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include "util.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MATCH_LIMIT 100000
#define DEPTH_LIMIT 10000

struct regex {
	pcre2_code *code;
	char *pattern; /* owned */
};

static pcre2_match_context *match_ctx;
static pcre2_code *empty_code; /* for utf8_valid() */
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static pthread_key_t md_key; /* each thread's reusable match data */

#define THREAD_MD_PAIRS 32 /* capture groups a thread's match data holds */

static void free_md(void *md)
{
	pcre2_match_data_free(md);
}

static void shared_init(void)
{
	int errcode;
	PCRE2_SIZE erroff;

	match_ctx = pcre2_match_context_create(NULL);
	empty_code = pcre2_compile((PCRE2_SPTR) "", 0, PCRE2_UTF, &errcode, &erroff, NULL);
	if (match_ctx == NULL || empty_code == NULL)
		abort();
	pcre2_set_match_limit(match_ctx, MATCH_LIMIT);
	pcre2_set_depth_limit(match_ctx, DEPTH_LIMIT);
	if (pthread_key_create(&md_key, free_md) != 0)
		abort();
}

/* The match context with limits, shared read-only by all threads. */
static pcre2_match_context *limits(void)
{
	pthread_once(&shared_once, shared_init);
	return match_ctx;
}

/*
 * Match data for re: the calling thread's own, reused from call to call (an
 * allocation per match was most of the cost of a short match), or a fresh
 * one for a pattern with more groups; release with put_md().
 */
static pcre2_match_data *get_md_code(const pcre2_code *code)
{
	pcre2_match_data *md;
	uint32_t groups = 0;

	pthread_once(&shared_once, shared_init);
	if (pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups) != 0 ||
	    groups + 1 > THREAD_MD_PAIRS)
		return pcre2_match_data_create_from_pattern(code, NULL);
	md = pthread_getspecific(md_key);
	if (md == NULL) {
		md = pcre2_match_data_create(THREAD_MD_PAIRS, NULL);
		if (md != NULL && pthread_setspecific(md_key, md) != 0) {
			pcre2_match_data_free(md);
			md = NULL;
		}
	}
	return md;
}

static pcre2_match_data *get_md(const struct regex *re)
{
	return get_md_code(re->code);
}

static void put_md(pcre2_match_data *md)
{
	if (md != NULL && md != pthread_getspecific(md_key))
		pcre2_match_data_free(md);
}

static struct regex *compile(const char *pattern, bool jit, char *err, size_t errlen)
{
	int errcode;
	PCRE2_SIZE erroff;
	struct regex *re;
	pcre2_code *code;

	code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff, NULL);
	if (code == NULL) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		if (err)
			snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)erroff);
		return NULL;
	}
	/* JIT is an optimisation: on a host that forbids it the interpreter is used. */
	if (jit)
		(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	re = xcalloc(1, sizeof(*re));
	re->code = code;
	re->pattern = xstrdup(pattern);
	return re;
}

struct regex *regex_new(const char *pattern, char *err, size_t errlen)
{
	return compile(pattern, true, err, errlen);
}

struct regex *regex_new_interpreted(const char *pattern, char *err, size_t errlen)
{
	return compile(pattern, false, err, errlen);
}

void regex_free(struct regex *re)
{
	if (re == NULL)
		return;
	pcre2_code_free(re->code);
	free(re->pattern);
	free(re);
}

const char *regex_pattern(const struct regex *re)
{
	return re->pattern;
}

int regex_match(const struct regex *re, const char *subject, size_t len)
{
	pcre2_match_data *md = get_md(re);
	int rc;
	if (md == NULL)
		return -1;
	rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, md, limits());
	put_md(md);
	if (rc >= 0)
		return 1;
	return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

bool regex_matches(const struct regex *re, const char *subject)
{
	if (subject == NULL)
		subject = "";
	return regex_match(re, subject, strlen(subject)) == 1;
}

int regex_capture(const struct regex *re, const char *subject, int group, char *out,
		  size_t outlen)
{
	pcre2_match_data *md = get_md(re);
	PCRE2_SIZE n = outlen;
	int rc;

	if (md == NULL || outlen == 0) {
		put_md(md);
		return -1;
	}
	rc = pcre2_match(re->code, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, limits());
	if (rc < 0) {
		put_md(md);
		return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
	}
	rc = pcre2_substring_copy_bynumber(md, (uint32_t)group, (PCRE2_UCHAR *)out, &n);
	if (rc == PCRE2_ERROR_NOMEMORY) { /* longer than out: truncate */
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t len = ov[2 * group + 1] - ov[2 * group];
		if (len >= outlen)
			len = outlen - 1;
		memcpy(out, subject + ov[2 * group], len);
		out[len] = '\0';
		rc = 0;
	}
	put_md(md);
	if (rc < 0) {
		out[0] = '\0';
		return rc == PCRE2_ERROR_UNSET ? 1 : -1;
	}
	return 1;
}

int regex_named_groups(const struct regex *re, const char *subject,
		       void (*cb)(void *arg, const char *name, const char *value), void *arg)
{
	uint32_t count = 0, entry_size = 0;
	PCRE2_SPTR table = NULL;
	pcre2_match_data *md;
	PCRE2_SIZE *ov;
	int rc;

	if (subject == NULL)
		subject = "";
	md = get_md(re);
	if (md == NULL)
		return -1;
	rc = pcre2_match(re->code, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, limits());
	if (rc < 0) {
		put_md(md);
		return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
	}
	ov = pcre2_get_ovector_pointer(md);
	if (pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count) != 0 ||
	    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size) != 0 ||
	    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table) != 0)
		count = 0;
	/* Each entry: the group number (2 bytes, big-endian), then the NUL-terminated name. */
	for (uint32_t i = 0; i < count; i++) {
		PCRE2_SPTR e = table + (size_t)i * entry_size;
		uint32_t group = ((uint32_t)e[0] << 8) | e[1];
		PCRE2_SIZE start, end;
		char *value;

		if (group >= pcre2_get_ovector_count(md))
			continue;
		start = ov[2 * group];
		end = ov[2 * group + 1];
		if (start == PCRE2_UNSET || end < start)
			continue;
		value = xstrndup(subject + start, end - start);
		cb(arg, (const char *)(e + 2), value);
		free(value);
	}
	put_md(md);
	return 1;
}

char *regex_replace_all(const struct regex *re, const char *subject, const char *replacement)
{
	size_t len = strlen(subject);
	PCRE2_SIZE outlen = len * 2 + 64;
	pcre2_match_data *md = get_md(re);
	uint32_t options = PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH;
	PCRE2_UCHAR *out;
	int rc;

	if (md == NULL)
		return NULL;
	/* Most subjects do not match: find that out with a plain match first. */
	rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, md, limits());
	if (rc < 0) {
		put_md(md);
		return NULL;
	}
	/* The substitution starts from that first match. */
	options |= PCRE2_SUBSTITUTE_MATCHED;
	for (int attempt = 0; attempt < 2; attempt++) {
		out = xmalloc(outlen);
		rc = pcre2_substitute(re->code, (PCRE2_SPTR)subject, len, 0, options, md, limits(),
				      (PCRE2_SPTR)replacement, PCRE2_ZERO_TERMINATED, out, &outlen);
		if (rc >= 0) {
			put_md(md);
			return (char *)out;
		}
		free(out);
		if (rc != PCRE2_ERROR_NOMEMORY)
			break;
		/* outlen now holds the size needed; md holds a later match now, so
		 * the second try matches from the start again. */
		options &= ~(uint32_t)PCRE2_SUBSTITUTE_MATCHED;
	}
	put_md(md);
	return NULL;
}

bool utf8_valid(const char *s, size_t n)
{
	pcre2_match_data *md;
	int rc;

	pthread_once(&shared_once, shared_init);
	/* Matching checks the whole subject's UTF-8 before it starts. */
	md = get_md_code(empty_code);
	if (md == NULL)
		return false;
	rc = pcre2_match(empty_code, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
	put_md(md);
	return rc >= 0 || rc == PCRE2_ERROR_NOMATCH;
}
