/*
 * This file contains the parser for Alertmanager v4 webhooks, which also
 * reads SigNoz (the same shape; an alert carrying a ruleId label becomes
 * SOURCE_SIGNOZ) and Grafana unified alerting (version "1": the same
 * skeleton, its extras — values, valueString, dashboard/panel/silence URLs —
 * stay in raw, and its rendered title/message are only a fallback summary).
 * Every alert of the group is taken, firing and resolved, each on its own.
 */
#include "intake_internal.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ID 1024 /* longer ids (groupKey, fingerprint) are replaced by their hash */

/* What every alert of one payload shares. */
struct group {
	enum alert_source source;
	const char *status;	      /* the group's status, or NULL */
	const char *common_alertname; /* commonLabels.alertname, or NULL */
	const char *group_key;	      /* "" when absent; capped */
	const char *fallback_summary; /* Grafana title or message, or NULL */
};

/* Returns an owned copy of id, or "sha256:<hex>" of it when longer than MAX_ID. */
static char *capped_id(const char *id)
{
	char hex[65];

	if (strnlen(id, MAX_ID + 1) <= MAX_ID)
		return xstrdup(id);
	sha256_hex(id, strlen(id), hex);
	return xasprintf("sha256:%s", hex);
}

static int parse_status(const char *s, enum alert_status *out)
{
	if (s != NULL && strcasecmp(s, "firing") == 0)
		*out = ALERT_FIRING;
	else if (s != NULL && strcasecmp(s, "resolved") == 0)
		*out = ALERT_RESOLVED;
	else
		return -1;
	return 0;
}

static int one_alert(const cJSON *item, const void *ctx, struct alert *a, char *err, size_t errlen)
{
	const struct group *g = ctx;
	const cJSON *labels, *status;
	const char *s;

	if (!cJSON_IsObject(item)) {
		snprintf(err, errlen, "alert is not an object");
		return -1;
	}
	labels = cJSON_GetObjectItemCaseSensitive(item, "labels");
	if (!cJSON_IsObject(labels)) {
		snprintf(err, errlen, "alert has no labels object");
		return -1;
	}
	if (intake_labels_from_json(labels, &a->labels, err, errlen) < 0)
		return -1;
	if (str_empty(kv_list_get(&a->labels, "alertname"))) {
		if (str_empty(g->common_alertname)) {
			snprintf(err, errlen, "alert has no alertname label");
			return -1;
		}
		if (intake_label_set(&a->labels, "alertname", g->common_alertname, err, errlen) < 0)
			return -1;
	}
	status = cJSON_GetObjectItemCaseSensitive(item, "status");
	s = status == NULL || cJSON_IsNull(status) ? g->status : cJSON_GetStringValue(status);
	if (parse_status(s, &a->status) < 0) {
		snprintf(err, errlen, "alert status must be \"firing\" or \"resolved\"");
		return -1;
	}
	a->source = g->source;
	if (a->source == SOURCE_ALERTMANAGER && kv_list_get(&a->labels, "ruleId") != NULL)
		a->source = SOURCE_SIGNOZ;
	intake_annotations_from_json(cJSON_GetObjectItemCaseSensitive(item, "annotations"),
				     &a->annotations);
	a->starts_at_ms = intake_time(intake_str(item, "startsAt"));
	a->ends_at_ms = intake_time(intake_str(item, "endsAt"));
	s = intake_str(item, "fingerprint");
	if (!str_empty(s))
		a->source_fingerprint = capped_id(s);
	a->group_key = xstrdup(g->group_key);
	a->generator_url = xstrdup(intake_str(item, "generatorURL"));
	intake_finish(a, item, g->fallback_summary, SEV_WARNING);
	return 0;
}

int intake_parse_alerts(const cJSON *root, enum intake_format format, struct intake_result *out)
{
	struct group g;
	const char *key = intake_str(root, "groupKey");
	char *group_key = capped_id(key ? key : "");
	int rc;

	g.source = format == INTAKE_GRAFANA ? SOURCE_GRAFANA : SOURCE_ALERTMANAGER;
	g.status = intake_str(root, "status");
	g.common_alertname =
	    intake_str(cJSON_GetObjectItemCaseSensitive(root, "commonLabels"), "alertname");
	g.group_key = group_key;
	g.fallback_summary = NULL;
	if (format == INTAKE_GRAFANA) {
		g.fallback_summary = intake_str(root, "title");
		if (str_empty(g.fallback_summary))
			g.fallback_summary = intake_str(root, "message");
	}
	rc = intake_batch(cJSON_GetObjectItemCaseSensitive(root, "alerts"), one_alert, &g, out);
	free(group_key);
	return rc;
}
