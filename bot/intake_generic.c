/*
 * This file contains the parser for generic JSON alerts: an object with a
 * title (or labels.alertname), an optional status, severity, labels,
 * annotations, summary/description/message and fingerprint — or an array of
 * such objects, each validated on its own. For scripts and tools that have
 * no Alertmanager-style webhook.
 */
#include "intake_internal.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Maps a status word to a status; -1 if unknown. Absent means firing. */
static int parse_status(const cJSON *item, enum alert_status *out)
{
	static const char *const firing[] = {"firing", "alerting", "problem", "down", "triggered"};
	static const char *const resolved[] = {"resolved", "ok", "up", "recovered"};
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(item, "status");

	*out = ALERT_FIRING;
	if (st == NULL || cJSON_IsNull(st))
		return 0;
	if (!cJSON_IsString(st))
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(firing); i++)
		if (strcasecmp(st->valuestring, firing[i]) == 0)
			return 0;
	for (size_t i = 0; i < ARRAY_LEN(resolved); i++) {
		if (strcasecmp(st->valuestring, resolved[i]) == 0) {
			*out = ALERT_RESOLVED;
			return 0;
		}
	}
	return -1;
}

static int one_alert(const cJSON *item, const void *ctx, struct alert *a, char *err, size_t errlen)
{
	const cJSON *labels;
	const char *name, *s;

	(void)ctx;
	if (!cJSON_IsObject(item)) {
		snprintf(err, errlen, "alert is not an object");
		return -1;
	}
	labels = cJSON_GetObjectItemCaseSensitive(item, "labels");
	if (labels != NULL && !cJSON_IsNull(labels) &&
	    intake_labels_from_json(labels, &a->labels, err, errlen) < 0)
		return -1;
	if (str_empty(kv_list_get(&a->labels, "alertname"))) {
		name = intake_str(item, "alertname");
		if (str_empty(name))
			name = intake_str(item, "title");
		if (str_empty(name)) {
			snprintf(err, errlen,
				 "alert has no alertname (set labels.alertname or title)");
			return -1;
		}
		if (intake_label_set(&a->labels, "alertname", name, err, errlen) < 0)
			return -1;
	}
	if (parse_status(item, &a->status) < 0) {
		snprintf(err, errlen, "alert status must be \"firing\" or \"resolved\"");
		return -1;
	}
	s = intake_str(item, "severity");
	if (!str_empty(s) && kv_list_get(&a->labels, "severity") == NULL &&
	    intake_label_set(&a->labels, "severity", s, err, errlen) < 0)
		return -1;
	a->source = SOURCE_GENERIC;
	intake_annotations_from_json(cJSON_GetObjectItemCaseSensitive(item, "annotations"),
				     &a->annotations);
	intake_annotation_add(&a->annotations, "summary", intake_str(item, "summary"));
	intake_annotation_add(&a->annotations, "summary", intake_str(item, "title"));
	intake_annotation_add(&a->annotations, "description", intake_str(item, "description"));
	intake_annotation_add(&a->annotations, "message", intake_str(item, "message"));
	a->starts_at_ms = intake_time(intake_str(item, "startsAt"));
	a->ends_at_ms = intake_time(intake_str(item, "endsAt"));
	s = intake_str(item, "fingerprint");
	if (!str_empty(s))
		a->source_fingerprint = xstrndup(s, intake_clip(s, INTAKE_MAX_LABEL_VALUE));
	s = intake_str(item, "generatorURL");
	a->generator_url = xstrdup(s ? s : intake_str(item, "url"));
	s = intake_str(item, "groupKey");
	a->group_key = s ? xstrndup(s, intake_clip(s, INTAKE_MAX_LABEL_VALUE)) : NULL;
	intake_finish(a, item, NULL, SEV_WARNING);
	return 0;
}

int intake_parse_generic(const cJSON *root, struct intake_result *out)
{
	return intake_batch(root, one_alert, NULL, out);
}
