/*
 * This file contains a thin layer over PCRE2 for user-supplied patterns
 * (config rules, playbooks): compile once with JIT where available, match
 * with a match/depth limit so a hostile pattern or subject cannot hang a
 * thread. A compiled struct regex is read-only and shared across threads;
 * match data is per call.
 */
#ifndef NIGHTSHIFT_REGEX_H
#define NIGHTSHIFT_REGEX_H

#include <stdbool.h>
#include <stddef.h>

struct regex;

/*
 * Compiles pattern (UTF-8, PCRE2 syntax). Returns an owned regex (free with
 * regex_free) or NULL with a message in err ("missing ) at offset 4").
 */
struct regex *regex_new(const char *pattern, char *err, size_t errlen);
/*
 * The same without JIT, for patterns matched rarely (playbook findings run
 * once per investigation): JIT code takes executable memory for every
 * pattern, about 1 MB for the shipped playbooks, and saves nothing there.
 */
struct regex *regex_new_interpreted(const char *pattern, char *err, size_t errlen);
void regex_free(struct regex *re);
const char *regex_pattern(const struct regex *re);

/* Returns 1 on match, 0 on no match, -1 on error (limit hit, bad UTF-8). */
int regex_match(const struct regex *re, const char *subject, size_t len);
/* Convenience for NUL-terminated subjects; NULL matches like "". */
bool regex_matches(const struct regex *re, const char *subject);

/*
 * Copies capture group `group` of the first match into out (NUL-terminated,
 * truncated to outlen). Returns 1 on match, 0 on no match, -1 on error.
 */
int regex_capture(const struct regex *re, const char *subject, int group, char *out,
		  size_t outlen);

/*
 * Matches re against subject (NULL matches like "") and calls cb(arg, name,
 * value) for every named group (?<name>…) the first match set, in name
 * order; value is NUL-terminated and only valid during the call. Returns 1
 * on match, 0 on no match, -1 on error.
 */
int regex_named_groups(const struct regex *re, const char *subject,
		       void (*cb)(void *arg, const char *name, const char *value), void *arg);

/*
 * Replaces every match of re in subject with replacement ($1 style groups
 * allowed). Returns an owned string (free()), or NULL when nothing matched
 * or on error (a limit hit): either way the subject stands as it is.
 */
char *regex_replace_all(const struct regex *re, const char *subject, const char *replacement);

/* Returns true when s[0..n) is valid UTF-8 (PCRE2's own validator). */
bool utf8_valid(const char *s, size_t n);

#endif
