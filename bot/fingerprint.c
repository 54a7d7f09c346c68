/*
 * This file contains our alert fingerprint (fingerprint.h): built-in PCRE2
 * rules, applied in order, turn the volatile parts of a label value into
 * placeholders, then SHA-256 runs over the alert name and the normalised
 * identifying labels. A fingerprinter is read-only once built, so threads
 * may share it (match data is per call in regex.c).
 *
 * Kubernetes names: a segment counts as random when it contains a digit, or
 * (5+ characters) has no vowel — the pod-template-hash and pod suffixes use
 * the alphabet "bcdfghjklmnpqrstvwxz2456789", which has none, while words
 * such as proxy, frontend or master do. Short vowel-less words (sync, grpc,
 * http) stay intact.
 */
#include "fingerprint.h"

#include "log.h"
#include "regex.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A random-looking Kubernetes name segment of N characters (a PCRE2 fragment). */
#define RANDOM_SEG(n)                                                                              \
	"(?=[a-z0-9]{" n "}(?![a-z0-9]))"                                                          \
	"(?:(?=[a-z]*[0-9])|(?=[a-z0-9]{5})(?![a-z0-9]*[aeiou]))[a-z0-9]{" n "}"
/* End of a name: nothing that could continue it. */
#define NAME_END "(?![A-Za-z0-9-])"

/*
 * What a value must contain for a rule to have any chance of matching: a
 * cheap test that skips most rules for most values (namespace, job, alert
 * names) and leaves the result exactly as if every rule had run.
 */
enum need {
	NEED_DIGIT = 1 << 0, /* a character 0-9 */
	NEED_DASH = 1 << 1,  /* '-' */
	NEED_DOT = 1 << 2,   /* '.' */
	NEED_COLON = 1 << 3, /* ':' */
	NEED_HEX = 1 << 4,   /* a character 0-9, a-f or A-F */
};

struct rule {
	const char *pattern;
	const char *replacement;
	unsigned need;      /* enum need bits, all required */
	size_t min_len;     /* shortest value the pattern can match in */
};

/* Order matters: specific shapes first, bare numbers last. */
static const struct rule rules[] = {
    /* UUIDs, before hex runs eat their last group. */
    {"(?i)(?<![0-9a-z])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
     "(?![0-9a-z])",
     "<uuid>", NEED_DASH | NEED_HEX, 36},
    /* RFC 3339 / ISO 8601 timestamps and dates. */
    {"(?<![0-9])[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?"
     "(?:[.,][0-9]+)?(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})?)?(?![0-9])",
     "<ts>", NEED_DIGIT | NEED_DASH, 10},
    /* IPv4 with an optional port. */
    {"(?<![0-9.])(?:[0-9]{1,3}\\.){3}[0-9]{1,3}(?::[0-9]{1,5})?(?![0-9])", "<ip>",
     NEED_DIGIT | NEED_DOT, 7},
    /* IPv4 written with dashes, as in ip-10-0-1-23.ec2.internal. */
    {"(?<![0-9])[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}(?![0-9]|-[0-9])", "<ip>",
     NEED_DIGIT | NEED_DASH, 7},
    /* IPv6: eight groups, or a compressed form with "::" and at least one digit. */
    {"(?i)(?<![0-9a-z:.])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?=[0-9a-f:]*[0-9a-f])"
     "(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?)"
     "(?![0-9a-z:])",
     "<ip>", NEED_COLON, 2},
    /* Long hex: container ids, digests, trace ids. */
    {"(?<![0-9A-Za-z])[0-9a-fA-F]{12,}(?![0-9A-Za-z])", "<hex>", NEED_HEX, 12},
    /* StatefulSet pod (web-0) or job number: a numeric last segment. */
    {"(?<=[a-z0-9])-[0-9]+" NAME_END, "-#", NEED_DIGIT | NEED_DASH, 3},
    /* Deployment pod: name-<replicaset hash>-<5 random>. */
    {"(?<=[a-z0-9])-" RANDOM_SEG("4,10") "-" RANDOM_SEG("5") NAME_END, "-<pod>", NEED_DASH, 12},
    /* DaemonSet/Job pod (name-<5 random>) or a bare hash suffix (name-7f9c). */
    {"(?<=[a-z0-9])-" RANDOM_SEG("4,10") NAME_END, "-<pod>", NEED_DASH, 6},
    /* Whatever numbers are left standing alone. */
    {"(?<![A-Za-z0-9])[0-9]+(?![A-Za-z0-9])", "#", NEED_DIGIT, 1},
};

struct fingerprinter {
	struct regex *re[ARRAY_LEN(rules)];
};

struct fingerprinter *fingerprinter_new(void)
{
	struct fingerprinter *fp = xcalloc(1, sizeof(*fp));
	char err[256];

	for (size_t i = 0; i < ARRAY_LEN(rules); i++) {
		fp->re[i] = regex_new(rules[i].pattern, err, sizeof(err));
		if (fp->re[i] == NULL) /* built in: a bad pattern is a bug */
			fatal("event=fingerprint_rule_invalid rule=%zu error=\"%s\"", i, err);
	}
	return fp;
}

void fingerprinter_free(struct fingerprinter *fp)
{
	if (fp == NULL)
		return;
	for (size_t i = 0; i < ARRAY_LEN(rules); i++)
		regex_free(fp->re[i]);
	free(fp);
}

/* The enum need bits that s has. */
static unsigned has_of(const char *s)
{
	unsigned has = 0;

	for (; *s; s++) {
		char c = *s;
		if (c >= '0' && c <= '9')
			has |= NEED_DIGIT | NEED_HEX;
		else if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
			has |= NEED_HEX;
		else if (c == '-')
			has |= NEED_DASH;
		else if (c == '.')
			has |= NEED_DOT;
		else if (c == ':')
			has |= NEED_COLON;
	}
	return has;
}

static char *normalise(const struct fingerprinter *fp, const char *value, bool prefilter)
{
	char *s = xstrdup(value ? value : "");

	for (size_t i = 0; i < ARRAY_LEN(rules); i++) {
		/* Earlier rules replace text by placeholders, so the test runs on
		 * the current text. */
		if (prefilter && (strlen(s) < rules[i].min_len ||
				  (has_of(s) & rules[i].need) != rules[i].need))
			continue;
		/* On a match-limit error the rule is skipped: stable for the same input. */
		char *t = regex_replace_all(fp->re[i], s, rules[i].replacement);
		if (t != NULL) {
			free(s);
			s = t;
		}
	}
	return s;
}

char *fingerprint_normalise(const struct fingerprinter *fp, const char *value)
{
	return normalise(fp, value, true);
}

char *fingerprint_normalise_every_rule(const struct fingerprinter *fp, const char *value)
{
	return normalise(fp, value, false);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void fingerprint_alert(const struct fingerprinter *fp, const char *const *labels, size_t n,
		       struct alert *a)
{
	const char **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	struct buf b;

	if (n > 0)
		memcpy(sorted, labels, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	buf_init(&b, 0);
	buf_puts(&b, "alertname=");
	buf_puts(&b, a->name ? a->name : "");
	buf_puts(&b, "\n");
	for (size_t i = 0; i < n; i++) {
		const char *value;
		char *norm;

		if ((i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0) ||
		    strcmp(sorted[i], "alertname") == 0)
			continue;
		value = kv_list_get(&a->labels, sorted[i]);
		if (value == NULL)
			continue;
		norm = fingerprint_normalise(fp, value);
		buf_puts(&b, sorted[i]);
		buf_puts(&b, "=");
		buf_puts(&b, norm);
		buf_puts(&b, "\n");
		free(norm);
	}
	sha256_hex(b.data, b.len, a->fingerprint);
	buf_release(&b);
	free(sorted);
}

void fingerprint_salt(struct alert *a, const char *salt)
{
	struct buf b;

	if (salt == NULL || *salt == '\0')
		return;
	buf_init(&b, 0);
	buf_printf(&b, "%s\nsalt=%s", a->fingerprint, salt);
	sha256_hex(b.data, b.len, a->fingerprint);
	buf_release(&b);
}
