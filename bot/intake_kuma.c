/*
 * This file contains the parser for Uptime Kuma webhook notifications
 * ({heartbeat, monitor, msg}): one alert per body, MonitorDown firing on
 * DOWN/PENDING and resolved on UP/MAINTENANCE, keyed by the monitor id. The
 * "Testing" button (heartbeat and monitor null) is accepted and stores
 * nothing. Monitor tags become labels.
 */
#include "intake_internal.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kuma_status { KUMA_DOWN = 0, KUMA_UP, KUMA_PENDING, KUMA_MAINTENANCE };

static bool absent(const cJSON *item)
{
	return item == NULL || cJSON_IsNull(item);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* True for [a-zA-Z_][a-zA-Z0-9_]* within the label name cap. */
static bool valid_label_key(const char *s)
{
	size_t n = 0;

	if (s == NULL || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return n <= INTAKE_MAX_LABEL_NAME;
}

/* Writes the monitor id (an integral number, or a non-empty string) into out; -1 if none. */
static int monitor_id(const cJSON *id, char *out, size_t outlen)
{
	/* In range first (NaN and inf fail it), then integral. */
	if (cJSON_IsNumber(id) && id->valuedouble > -9007199254740992.0 &&
	    id->valuedouble < 9007199254740992.0 &&
	    (double)(long long)id->valuedouble == id->valuedouble) {
		snprintf(out, outlen, "%lld", (long long)id->valuedouble);
		return 0;
	}
	if (cJSON_IsString(id) && id->valuestring[0] != '\0' && strlen(id->valuestring) < outlen) {
		snprintf(out, outlen, "%s", id->valuestring);
		return 0;
	}
	return -1;
}

/* Adds the monitor's tags as labels (invalid keys skipped, reserved ones kept). */
static int add_tags(const cJSON *tags, struct kv_list *l, char *err, size_t errlen)
{
	const cJSON *tag;

	if (!cJSON_IsArray(tags))
		return 0;
	cJSON_ArrayForEach(tag, tags)
	{
		const char *name = intake_str(tag, "name");
		const char *value = intake_str(tag, "value");

		if (!valid_label_key(name) || kv_list_get(l, name) != NULL)
			continue;
		if (intake_label_set(l, name, value ? value : "", err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Fills the labels of a from the monitor; -1 with err. */
static int monitor_labels(const cJSON *mon, const char *name, const char *id, struct alert *a,
			  char *err, size_t errlen)
{
	const char *url = intake_str(mon, "url");
	const char *host = intake_str(mon, "hostname");
	const char *type = intake_str(mon, "type");

	if (intake_label_set(&a->labels, "alertname", "MonitorDown", err, errlen) < 0 ||
	    (name && intake_label_set(&a->labels, "monitor", name, err, errlen) < 0) ||
	    (id[0] && intake_label_set(&a->labels, "monitor_id", id, err, errlen) < 0) ||
	    (!str_empty(type) &&
	     intake_label_set(&a->labels, "monitor_type", type, err, errlen) < 0))
		return -1;
	/* Non-HTTP monitors carry the form's default "https://" as url. */
	if (!str_empty(url) && strcmp(url, "https://") != 0 && strcmp(url, "http://") != 0 &&
	    intake_label_set(&a->labels, "url", url, err, errlen) < 0)
		return -1;
	if (!str_empty(host) && intake_label_set(&a->labels, "hostname", host, err, errlen) < 0)
		return -1;
	return add_tags(cJSON_GetObjectItemCaseSensitive(mon, "tags"), &a->labels, err, errlen);
}

int intake_parse_kuma(const cJSON *root, struct intake_result *out)
{
	const cJSON *hb = cJSON_GetObjectItemCaseSensitive(root, "heartbeat");
	const cJSON *mon = cJSON_GetObjectItemCaseSensitive(root, "monitor");
	const cJSON *status;
	const char *msg = intake_str(root, "msg"), *name, *hb_msg;
	char id[64] = "", err[160];
	struct alert a;
	double st;
	enum severity sev;

	if (absent(hb) && absent(mon)) {
		if (msg != NULL && ends_with(msg, "Testing")) {
			out->test_message = true;
			return 0;
		}
		return intake_fail(out, 422, "Uptime Kuma payload has no heartbeat or monitor");
	}
	if (!cJSON_IsObject(mon))
		return intake_fail(out, 422, "Uptime Kuma payload has no monitor object");
	name = intake_str(mon, "name");
	if (monitor_id(cJSON_GetObjectItemCaseSensitive(mon, "id"), id, sizeof(id)) < 0 &&
	    monitor_id(cJSON_GetObjectItemCaseSensitive(hb, "monitorID"), id, sizeof(id)) < 0)
		id[0] = '\0';
	if (str_empty(name) && id[0] == '\0')
		return intake_fail(out, 422, "Uptime Kuma monitor has neither name nor id");
	status = cJSON_GetObjectItemCaseSensitive(hb, "status");
	if (!cJSON_IsObject(hb) || !cJSON_IsNumber(status))
		return intake_fail(out, 422, "Uptime Kuma heartbeat has no numeric status");
	st = status->valuedouble;
	if (!(st == KUMA_DOWN || st == KUMA_UP || st == KUMA_PENDING || st == KUMA_MAINTENANCE))
		return intake_fail(out, 422, "unknown Uptime Kuma heartbeat status %g", st);

	alert_init(&a);
	a.source = SOURCE_UPTIME_KUMA;
	a.status = st == KUMA_DOWN || st == KUMA_PENDING ? ALERT_FIRING : ALERT_RESOLVED;
	sev = st == KUMA_PENDING || st == KUMA_MAINTENANCE ? SEV_WARNING : SEV_CRITICAL;
	if (monitor_labels(mon, str_empty(name) ? NULL : name, id, &a, err, sizeof(err)) < 0) {
		alert_free(&a);
		return intake_fail(out, 422, "%s", err);
	}
	hb_msg = intake_str(hb, "msg");
	intake_annotation_add(&a.annotations, "summary", !str_empty(hb_msg) ? hb_msg : msg);
	intake_annotation_add(&a.annotations, "description", msg);
	if (a.status == ALERT_FIRING)
		a.starts_at_ms = intake_time(intake_str(hb, "time"));
	else
		a.ends_at_ms = intake_time(intake_str(hb, "time"));
	a.source_fingerprint = xasprintf("uptime-kuma:%s", id[0] ? id : name);
	intake_finish(&a, root, NULL, sev);
	intake_push(out, &a);
	return 0;
}
