/*
 * This file contains the canonical alert's helpers: names of sources,
 * statuses and severities, the severity word mapping, and the sorted
 * key/value list used for labels and annotations.
 */
#include "alert.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *source_names[SOURCE_COUNT] = {"alertmanager", "signoz", "grafana",
						 "uptime-kuma", "generic"};

const char *alert_source_name(enum alert_source s)
{
	return (unsigned)s < SOURCE_COUNT ? source_names[s] : "unknown";
}

int alert_source_parse(const char *s, enum alert_source *out)
{
	for (int i = 0; i < SOURCE_COUNT; i++) {
		if (strcmp(s, source_names[i]) == 0) {
			*out = (enum alert_source)i;
			return 0;
		}
	}
	return -1;
}

const char *alert_status_name(enum alert_status s)
{
	return s == ALERT_RESOLVED ? "resolved" : "firing";
}

const char *severity_name(enum severity s)
{
	static const char *names[SEV_COUNT] = {"critical", "warning", "info"};
	return (unsigned)s < SEV_COUNT ? names[s] : "warning";
}

int severity_parse(const char *s, enum severity *out)
{
	static const char *crit[] = {"critical", "crit", "emergency", "emerg", "alert", "fatal",
				     "page", "high", "error", "err", "disaster", "p1", "p0",
				     "sev1", "sev0", "s1", "urgent", "major"};
	static const char *warn[] = {"warning", "warn", "medium", "average", "moderate", "minor",
				     "p2", "p3", "sev2", "sev3", "s2", "s3"};
	static const char *info[] = {"info", "informational", "information", "notice", "low",
				     "none", "debug", "ok", "p4", "p5", "sev4", "sev5", "s4"};
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(crit); i++)
		if (strcasecmp(s, crit[i]) == 0)
			return *out = SEV_CRITICAL, 0;
	for (size_t i = 0; i < ARRAY_LEN(warn); i++)
		if (strcasecmp(s, warn[i]) == 0)
			return *out = SEV_WARNING, 0;
	for (size_t i = 0; i < ARRAY_LEN(info); i++)
		if (strcasecmp(s, info[i]) == 0)
			return *out = SEV_INFO, 0;
	return -1;
}

void alert_init(struct alert *a)
{
	memset(a, 0, sizeof(*a));
	a->severity = SEV_WARNING;
}

void alert_free(struct alert *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a->summary);
	free(a->description);
	free(a->environment);
	free(a->cluster);
	free(a->namespace);
	free(a->workload);
	kv_list_free(&a->labels);
	kv_list_free(&a->annotations);
	free(a->source_fingerprint);
	free(a->group_key);
	free(a->generator_url);
	free(a->raw);
	memset(a, 0, sizeof(*a));
}

/* Index of key, or of where it would be inserted (binary search). */
static size_t kv_find(const struct kv_list *l, const char *key, int *found)
{
	size_t lo = 0, hi = l->n;
	*found = 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(l->items[mid].key, key);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void kv_list_set(struct kv_list *l, const char *key, const char *value)
{
	int found;
	size_t i = kv_find(l, key, &found);
	if (found) {
		char *copy = xstrdup(value); /* value may be the string being replaced */
		free(l->items[i].value);
		l->items[i].value = copy;
		return;
	}
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 8;
		l->items = xrealloc(l->items, l->alloc * sizeof(*l->items));
	}
	memmove(&l->items[i + 1], &l->items[i], (l->n - i) * sizeof(*l->items));
	l->items[i].key = xstrdup(key);
	l->items[i].value = xstrdup(value);
	l->n++;
}

const char *kv_list_get(const struct kv_list *l, const char *key)
{
	int found;
	size_t i;
	if (l->n == 0)
		return NULL;
	i = kv_find(l, key, &found);
	return found ? l->items[i].value : NULL;
}

void kv_list_free(struct kv_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->n = l->alloc = 0;
}
