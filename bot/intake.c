/*
 * This file contains the front of the payload parsers (intake.h): the body
 * checks (UTF-8, nesting depth, NUL bytes, strict JSON), source detection,
 * and the helpers every source parser shares (intake_internal.h): result
 * builders, the capped label/annotation readers and intake_finish(). The
 * sources themselves live in intake_alertmanager.c, intake_kuma.c and
 * intake_generic.c. Pure functions, no globals: safe from any thread.
 */
#include "intake_internal.h"

#include "regex.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Grows an array of n elements so that one more fits (capacity doubles at powers of two). */
static void *grow(void *p, size_t n, size_t size)
{
	if ((n & (n - 1)) == 0)
		p = xrealloc(p, (n ? n * 2 : 1) * size);
	return p;
}

int intake_fail(struct intake_result *out, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
	out->http_status = status;
	return -1;
}

void intake_reject(struct intake_result *out, size_t index, const char *fmt, ...)
{
	struct intake_reject *r;
	va_list ap;

	out->rejects = grow(out->rejects, out->n_rejects, sizeof(*out->rejects));
	r = &out->rejects[out->n_rejects++];
	r->index = index;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

void intake_push(struct intake_result *out, struct alert *a)
{
	out->alerts = grow(out->alerts, out->n, sizeof(*out->alerts));
	out->alerts[out->n++] = *a;
	memset(a, 0, sizeof(*a));
}

int intake_batch(const cJSON *items, intake_one_fn one, const void *ctx, struct intake_result *out)
{
	const cJSON *item = cJSON_IsArray(items) ? items->child : items;
	size_t i = 0;
	char err[sizeof(out->rejects[0].error)];

	if (item == NULL)
		return intake_fail(out, 422, "payload has no alerts");
	for (; item != NULL && i < INTAKE_MAX_ALERTS; i++) {
		struct alert a;

		alert_init(&a);
		snprintf(err, sizeof(err), "invalid alert");
		if (one(item, ctx, &a, err, sizeof(err)) == 0) {
			intake_push(out, &a);
		} else {
			alert_free(&a);
			intake_reject(out, i, "%s", err);
		}
		item = cJSON_IsArray(items) ? item->next : NULL;
	}
	if (item != NULL) { /* over the cap: one reject stands for all the rest */
		size_t skipped = 0;
		for (; item != NULL; item = item->next)
			skipped++;
		intake_reject(out, i, "too many alerts in one payload (max %d; %zu skipped)",
			      INTAKE_MAX_ALERTS, skipped);
	}
	if (out->n == 0 && out->n_rejects > 0)
		return intake_fail(out, 422, "%s", out->rejects[0].error);
	return 0;
}

const char *intake_str(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

size_t intake_clip(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

int intake_label_set(struct kv_list *l, const char *key, const char *value, char *err,
		     size_t errlen)
{
	if (*key == '\0') {
		snprintf(err, errlen, "empty label name");
		return -1;
	}
	if (strnlen(key, INTAKE_MAX_LABEL_NAME + 1) > INTAKE_MAX_LABEL_NAME) {
		snprintf(err, errlen, "label name longer than %d bytes", INTAKE_MAX_LABEL_NAME);
		return -1;
	}
	if (strnlen(value, INTAKE_MAX_LABEL_VALUE + 1) > INTAKE_MAX_LABEL_VALUE) {
		snprintf(err, errlen, "value of label \"%.*s\" longer than %d KiB",
			 (int)intake_clip(key, 64), key, INTAKE_MAX_LABEL_VALUE / 1024);
		return -1;
	}
	if (l->n >= INTAKE_MAX_LABELS && kv_list_get(l, key) == NULL) {
		snprintf(err, errlen, "too many labels (max %d)", INTAKE_MAX_LABELS);
		return -1;
	}
	kv_list_set(l, key, value);
	return 0;
}

int intake_labels_from_json(const cJSON *obj, struct kv_list *l, char *err, size_t errlen)
{
	const cJSON *it;
	size_t n = 0;

	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "labels must be an object");
		return -1;
	}
	cJSON_ArrayForEach(it, obj)
	{
		if (++n > INTAKE_MAX_LABELS) { /* counted first: never sort a huge set */
			snprintf(err, errlen, "too many labels (max %d)", INTAKE_MAX_LABELS);
			return -1;
		}
	}
	cJSON_ArrayForEach(it, obj)
	{
		const char *key = it->string ? it->string : "";

		if (!cJSON_IsString(it)) {
			snprintf(err, errlen, "label \"%.*s\" is not a string",
				 (int)intake_clip(key, 64), key);
			return -1;
		}
		if (kv_list_get(l, key) != NULL)
			continue; /* duplicate key: the first wins, as in cJSON lookups */
		if (intake_label_set(l, key, it->valuestring, err, errlen) < 0)
			return -1;
	}
	return 0;
}

void intake_annotation_add(struct kv_list *l, const char *key, const char *value)
{
	size_t n;

	if (value == NULL || l->n >= INTAKE_MAX_ANNOTATIONS ||
	    strnlen(key, INTAKE_MAX_LABEL_NAME + 1) > INTAKE_MAX_LABEL_NAME ||
	    kv_list_get(l, key) != NULL)
		return;
	n = intake_clip(value, INTAKE_MAX_ANNOTATION);
	if (value[n] == '\0') {
		kv_list_set(l, key, value);
	} else {
		char *cut = xstrndup(value, n);
		kv_list_set(l, key, cut);
		free(cut);
	}
}

void intake_annotations_from_json(const cJSON *obj, struct kv_list *l)
{
	const cJSON *it;

	if (!cJSON_IsObject(obj))
		return;
	cJSON_ArrayForEach(it, obj)
	{
		if (l->n >= INTAKE_MAX_ANNOTATIONS)
			break;
		if (cJSON_IsString(it) && it->string != NULL)
			intake_annotation_add(l, it->string, it->valuestring);
	}
}

int64_t intake_time(const char *s)
{
	int64_t ms;
	return s != NULL && parse_time_ms(s, &ms) == 0 ? ms : 0;
}

void intake_hash_labels(struct alert *a)
{
	struct buf b;
	char hex[65];

	buf_init(&b, 0);
	for (size_t i = 0; i < a->labels.n; i++)
		buf_printf(&b, "%s=%s\n", a->labels.items[i].key, a->labels.items[i].value);
	sha256_hex(b.data ? b.data : "", b.len, hex);
	buf_release(&b);
	free(a->source_fingerprint);
	a->source_fingerprint = xstrdup(hex);
}

/* The first non-empty value among keys, or NULL. */
static const char *first_of(const struct kv_list *l, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = kv_list_get(l, keys[i]);
		if (!str_empty(v))
			return v;
	}
	return NULL;
}

/* Returns the first non-blank line of s, trimmed, at most INTAKE_MAX_SUMMARY characters (owned). */
static char *summary_line(const char *s)
{
	const char *p;
	size_t chars = 0;

	while (isspace((unsigned char)*s))
		s++;
	for (p = s; *p && *p != '\n' && *p != '\r' && chars < INTAKE_MAX_SUMMARY; chars++) {
		p++;
		while (((unsigned char)*p & 0xC0) == 0x80)
			p++;
	}
	while (p > s && isspace((unsigned char)p[-1]))
		p--;
	return xstrndup(s, (size_t)(p - s));
}

static enum severity pick_severity(const struct alert *a, enum severity def)
{
	const char *candidates[] = {kv_list_get(&a->labels, "severity"),
				    kv_list_get(&a->labels, "priority"),
				    kv_list_get(&a->annotations, "severity")};
	enum severity s;

	for (size_t i = 0; i < ARRAY_LEN(candidates); i++)
		if (severity_parse(candidates[i], &s) == 0)
			return s;
	return def;
}

void intake_finish(struct alert *a, const cJSON *item, const char *fallback_summary,
		   enum severity def)
{
	static const char *const summary_keys[] = {"summary", "title", "message", "description"};
	static const char *const description_keys[] = {"description", "message"};
	static const char *const cluster_keys[] = {"cluster", "k8s_cluster", "cluster_name"};
	static const char *const namespace_keys[] = {"namespace", "exported_namespace",
						     "kubernetes_namespace"};
	/* The workload itself first; "service" late, because exporter alerts
	 * (kube-state-metrics) carry the exporter's own service label. */
	static const char *const workload_keys[] = {
		"deployment", "statefulset", "daemonset", "job_name", "cronjob",
		"horizontalpodautoscaler", "pod", "persistentvolumeclaim", "node", "container",
		"service", "instance", "monitor"};
	const char *name = kv_list_get(&a->labels, "alertname");
	const char *v;
	bool exporter;

	a->name = xstrdup(name ? name : "");
	a->severity = pick_severity(a, def);
	for (size_t i = 0; i <= ARRAY_LEN(summary_keys) && a->summary == NULL; i++) {
		v = i < ARRAY_LEN(summary_keys) ? kv_list_get(&a->annotations, summary_keys[i])
						: fallback_summary;
		if (!str_empty(v)) {
			a->summary = summary_line(v);
			if (a->summary[0] == '\0') {
				free(a->summary);
				a->summary = NULL;
			}
		}
	}
	if (a->summary == NULL)
		a->summary = xstrdup("");
	v = first_of(&a->annotations, description_keys, ARRAY_LEN(description_keys));
	a->description = xstrdup(v ? v : "");
	v = first_of(&a->labels, cluster_keys, ARRAY_LEN(cluster_keys));
	a->cluster = xstrdup(v ? v : "");
	v = first_of(&a->labels, namespace_keys, ARRAY_LEN(namespace_keys));
	a->namespace = xstrdup(v ? v : "");
	/* A kube-state-metrics series with no pod of its own (node, HPA…)
	 * carries the exporter's target labels, container="kube-state-metrics"
	 * and the exporter's pod: they name no workload of the alert. */
	v = kv_list_get(&a->labels, "container");
	exporter = v != NULL && strcmp(v, "kube-state-metrics") == 0;
	v = NULL;
	for (size_t i = 0; i < ARRAY_LEN(workload_keys) && v == NULL; i++) {
		if (exporter && (strcmp(workload_keys[i], "pod") == 0 ||
				 strcmp(workload_keys[i], "container") == 0))
			continue;
		v = first_of(&a->labels, &workload_keys[i], 1);
	}
	a->workload = xstrdup(v ? v : "");
	if (a->source_fingerprint == NULL)
		intake_hash_labels(a);
	if (a->group_key == NULL)
		a->group_key = xstrdup("");
	if (a->generator_url == NULL)
		a->generator_url = xstrdup("");
	if (a->raw == NULL && item != NULL)
		a->raw = cJSON_PrintUnformatted(item);
	if (a->raw == NULL)
		a->raw = xstrdup("{}");
}

/* True when a [ or { outside strings opens level max + 1. Linear, no allocation. */
static bool too_deep(const char *s, size_t len, int max)
{
	int depth = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return true;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return false;
}

static bool has(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

/* The format a body looks like, or -1 when it fits none. */
static int detect(const cJSON *root, enum intake_format *f)
{
	const cJSON *version;

	if (cJSON_IsArray(root)) {
		*f = INTAKE_GENERIC;
		return 0;
	}
	if ((has(root, "heartbeat") || has(root, "monitor")) && has(root, "msg")) {
		*f = INTAKE_UPTIME_KUMA;
		return 0;
	}
	if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "alerts"))) {
		version = cJSON_GetObjectItemCaseSensitive(root, "version");
		if ((cJSON_IsString(version) && strcmp(version->valuestring, "1") == 0) ||
		    has(root, "orgId") || intake_str(root, "state") != NULL || has(root, "title"))
			*f = INTAKE_GRAFANA;
		else
			*f = INTAKE_ALERTMANAGER;
		return 0;
	}
	if (has(root, "title") || has(root, "alertname") ||
	    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "labels"))) {
		*f = INTAKE_GENERIC;
		return 0;
	}
	return -1;
}

static int dispatch(const cJSON *root, enum intake_format f, struct intake_result *out)
{
	bool object = cJSON_IsObject(root);
	bool alerts = object && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "alerts"));

	if (f == INTAKE_AUTO && detect(root, &f) < 0)
		return intake_fail(out, 422,
				   "unknown payload shape (expected Alertmanager, "
				   "Grafana, Uptime Kuma or generic JSON)");
	switch (f) {
	case INTAKE_ALERTMANAGER:
		if (!alerts)
			return intake_fail(out, 422,
					   "expected an Alertmanager payload: an object "
					   "with an \"alerts\" array");
		return intake_parse_alerts(root, f, out);
	case INTAKE_GRAFANA:
		if (!alerts)
			return intake_fail(out, 422,
					   "expected a Grafana alerting payload: an object "
					   "with an \"alerts\" array");
		return intake_parse_alerts(root, f, out);
	case INTAKE_UPTIME_KUMA:
		if (!object ||
		    !(has(root, "heartbeat") || has(root, "monitor") || has(root, "msg")))
			return intake_fail(out, 422,
					   "expected an Uptime Kuma payload: an object "
					   "with heartbeat, monitor and msg");
		return intake_parse_kuma(root, out);
	case INTAKE_GENERIC:
		if (object && !has(root, "title") && !has(root, "alertname") &&
		    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "labels")))
			return intake_fail(out, 422,
					   "expected a generic alert: an object with "
					   "\"title\", \"alertname\" or \"labels\"");
		return intake_parse_generic(root, out);
	default: return intake_fail(out, 422, "unknown payload format");
	}
}

int intake_parse(const char *body, size_t len, enum intake_format format, struct intake_result *out)
{
	const char *end = NULL;
	char *copy = NULL;
	cJSON *root = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (body == NULL || len == 0) {
		intake_fail(out, 400, "empty body (expected JSON)");
		goto done;
	}
	if (!utf8_valid(body, len)) {
		intake_fail(out, 400, "body is not valid UTF-8");
		goto done;
	}
	if (too_deep(body, len, INTAKE_MAX_DEPTH)) {
		intake_fail(out, 400, "JSON nested deeper than %d levels", INTAKE_MAX_DEPTH);
		goto done;
	}
	if (memchr(body, '\0', len) != NULL) {
		intake_fail(out, 400, "body contains a NUL byte");
		goto done;
	}
	copy = xstrndup(body, len);
	root = cJSON_ParseWithOpts(copy, &end, 1);
	if (root == NULL) {
		size_t at = end != NULL && end >= copy ? (size_t)(end - copy) : 0;
		cJSON *prefix = cJSON_ParseWithOpts(copy, NULL, 0);
		if (prefix != NULL)
			intake_fail(out, 400, "body is not valid JSON: trailing data at byte %zu",
				    at);
		else
			intake_fail(out, 400, "body is not valid JSON (error near byte %zu)", at);
		cJSON_Delete(prefix);
		goto done;
	}
	if (!cJSON_IsObject(root) && !cJSON_IsArray(root)) {
		/* Valid JSON, just not a shape any source sends. */
		intake_fail(out, 422, "JSON root must be an object (or an array of alerts)");
		goto done;
	}
	rc = dispatch(root, format, out);
	if (rc == 0 && out->n == 0 && !out->test_message)
		rc = intake_fail(out, 422, "payload has no alerts");
done:
	cJSON_Delete(root);
	free(copy);
	return rc;
}

void intake_result_release(struct intake_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		alert_free(&r->alerts[i]);
	free(r->alerts);
	free(r->rejects);
	memset(r, 0, sizeof(*r));
}

int intake_format_from_path(const char *suffix, enum intake_format *out)
{
	static const struct {
		const char *name;
		enum intake_format format;
	} names[] = {{"alertmanager", INTAKE_ALERTMANAGER},
		     {"signoz", INTAKE_ALERTMANAGER},
		     {"grafana", INTAKE_GRAFANA},
		     {"uptime-kuma", INTAKE_UPTIME_KUMA},
		     {"generic", INTAKE_GENERIC}};

	for (size_t i = 0; suffix != NULL && i < ARRAY_LEN(names); i++) {
		if (strcmp(suffix, names[i].name) == 0) {
			*out = names[i].format;
			return 0;
		}
	}
	return -1;
}
