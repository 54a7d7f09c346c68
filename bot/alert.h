/*
 * This file contains the canonical alert: what every source (Alertmanager,
 * SigNoz, Grafana, Uptime Kuma, generic JSON) is turned into before triage.
 * An alert owns all its strings; alert_free() releases them.
 */
#ifndef NIGHTSHIFT_ALERT_H
#define NIGHTSHIFT_ALERT_H

#include <stddef.h>
#include <stdint.h>

enum alert_source {
	SOURCE_ALERTMANAGER = 0,
	SOURCE_SIGNOZ,
	SOURCE_GRAFANA,
	SOURCE_UPTIME_KUMA,
	SOURCE_GENERIC,
	SOURCE_COUNT
};

enum alert_status { ALERT_FIRING = 0, ALERT_RESOLVED };

enum severity { SEV_CRITICAL = 0, SEV_WARNING, SEV_INFO, SEV_COUNT };

/* A key/value pair; both owned. */
struct kv {
	char *key;
	char *value;
};

/* A list of pairs sorted by key, keys unique. */
struct kv_list {
	struct kv *items; /* owned */
	size_t n;
	size_t alloc;
};

struct alert {
	enum alert_source source;
	enum alert_status status;
	enum severity severity;   /* normalised from labels / the source */
	char *name;               /* alertname; never NULL */
	char *summary;            /* one line for humans; never NULL (may be "") */
	char *description;        /* longer text or "" */
	char *environment;        /* set by triage from config rules; NULL before */
	char *cluster;            /* from labels, or "" */
	char *namespace;          /* from labels, or "" */
	char *workload;           /* deployment/statefulset/service/job/pod/instance, or "" */
	struct kv_list labels;    /* includes alertname */
	struct kv_list annotations;
	int64_t starts_at_ms;     /* 0 when unknown */
	int64_t ends_at_ms;       /* 0 when unknown / still firing */
	char *source_fingerprint; /* the source's own id, or a hash of all labels */
	char *group_key;          /* Alertmanager groupKey or the like, or "" */
	char *generator_url;      /* link back to the source, or "" */
	char fingerprint[65];     /* ours: set by fingerprint_alert() */
	char *raw;                /* this alert's own JSON as received; owned */
};

const char *alert_source_name(enum alert_source s);   /* "alertmanager" … */
int alert_source_parse(const char *s, enum alert_source *out);
const char *alert_status_name(enum alert_status s);   /* "firing" / "resolved" */
const char *severity_name(enum severity s);           /* "critical" … */
/* Maps free-form severity words (crit, P1, error, warn, low, …) to a severity; -1 if unknown. */
int severity_parse(const char *s, enum severity *out);

void alert_init(struct alert *a);
void alert_free(struct alert *a); /* frees the members, not a; NULL-safe */

void kv_list_set(struct kv_list *l, const char *key, const char *value); /* copies both */
const char *kv_list_get(const struct kv_list *l, const char *key);       /* NULL if absent */
void kv_list_free(struct kv_list *l);

#endif
