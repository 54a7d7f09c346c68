/*
 * This file contains the unit-test harness: a test is a void function, CHECK
 * macros record failures with the values that differed, and main() ends with
 * the line "N passed, N failed" that tests/run.sh adds up. Include it once
 * per test program and define the tests, then:
 *
 *   int main(void) { RUN(test_a); RUN(test_b); return harness_done(); }
 */
#ifndef NIGHTSHIFT_HARNESS_H
#define NIGHTSHIFT_HARNESS_H

#include <stdio.h>
#include <string.h>

static int harness_passed, harness_failed, harness_current_failed;
static const char *harness_current;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			harness_current_failed++;                                                  \
			fprintf(stderr, "FAIL %s (%s:%d): %s\n", harness_current, __FILE__,        \
				__LINE__, #cond);                                                  \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_) {                                                                    \
			harness_current_failed++;                                                  \
			fprintf(stderr, "FAIL %s (%s:%d): %s == %s: %lld != %lld\n",               \
				harness_current, __FILE__, __LINE__, #a, #b, a_, b_);              \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                             \
			harness_current_failed++;                                                  \
			fprintf(stderr, "FAIL %s (%s:%d): %s == %s: \"%s\" != \"%s\"\n",           \
				harness_current, __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",   \
				b_ ? b_ : "(null)");                                               \
		}                                                                                  \
	} while (0)

/* Substring check: haystack contains needle. */
#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *h_ = (hay), *n_ = (needle);                                            \
		if (h_ == NULL || strstr(h_, n_) == NULL) {                                        \
			harness_current_failed++;                                                  \
			fprintf(stderr, "FAIL %s (%s:%d): \"%s\" not in \"%s\"\n",                 \
				harness_current, __FILE__, __LINE__, n_, h_ ? h_ : "(null)");      \
		}                                                                                  \
	} while (0)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		harness_current = #fn;                                                             \
		harness_current_failed = 0;                                                        \
		fn();                                                                              \
		if (harness_current_failed)                                                        \
			harness_failed++;                                                          \
		else                                                                               \
			harness_passed++;                                                          \
	} while (0)

static inline int harness_done(void)
{
	printf("%d passed, %d failed\n", harness_passed, harness_failed);
	return harness_failed ? 1 : 0;
}

#endif
