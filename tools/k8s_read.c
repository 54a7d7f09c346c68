/*
 * This file contains the shared helpers of the Kubernetes read tools
 * (argument checks, the client from the context, capped appends) and the
 * tools about pods: k8s_pods, k8s_pod, k8s_logs and k8s_events. Workload,
 * node, PVC and job tools are in k8s_read_apps.c. Output formats: tools/README.md.
 *
 * Every name that ends up in an API path is checked against the Kubernetes
 * rules (DNS-1123) first, so no argument can change the path; selectors go
 * URL-encoded into the query.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "tool.h"
#include "util.h"

#define MAX_PODS      50
#define MAX_EVENTS    30
#define LIST_LIMIT    "500"
#define LOG_CAP	      (8 * 1024)
#define LOG_FETCH_CAP (1024 * 1024)
#define SUMMARY_ROOM  128

struct k8s_client *k8s_tool_client(struct tool_ctx *ctx, char *err, size_t errlen)
{
	if (ctx->k8s == NULL)
		snprintf(err, errlen, "%s",
			 str_empty(ctx->k8s_error) ? "no Kubernetes cluster is configured"
						   : ctx->k8s_error);
	return ctx->k8s;
}

/* DNS-1123: 1..max of [a-z0-9-] (and '.' when dots), starting and ending alphanumeric. */
static bool dns_name(const char *s, size_t max, bool dots)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	if (strspn(s, dots ? "abcdefghijklmnopqrstuvwxyz0123456789-." : "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		return false;
	return s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';
}

/* True when s is printable ASCII without quotes, short enough to echo in a message. */
static bool echoable(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '"')
			return false;
	return strlen(s) <= 64;
}

int k8s_tool_arg(const cJSON *args, const char *name, bool required, char kind, const char **out,
		 char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	const char *s, *what = NULL;

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0')) {
		if (!required)
			return 0;
		snprintf(err, errlen, "missing argument %s", name);
		return -1;
	}
	if (!cJSON_IsString(v)) {
		snprintf(err, errlen, "argument %s must be a string", name);
		return -1;
	}
	s = v->valuestring;
	if (kind == 'n' && !dns_name(s, 63, false))
		what = "a valid name (lowercase letters, digits and '-', at most 63)";
	else if (kind == 's' && !dns_name(s, 253, true))
		what = "a valid name (lowercase letters, digits, '-' and '.', at most 253)";
	else if (kind == 'k' && (strlen(s) > 63 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
							  "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(s)))
		what = "a kind such as Pod or Deployment";
	else if (kind == 'q') {
		for (const char *p = s; *p && what == NULL; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				what = "printable text";
		if (strlen(s) > 512)
			what = "at most 512 bytes";
	}
	if (what == NULL) {
		*out = s;
		return 0;
	}
	if (echoable(s))
		snprintf(err, errlen, "argument %s=\"%s\" is not %s", name, s, what);
	else
		snprintf(err, errlen, "argument %s is not %s", name, what);
	return -1;
}

int k8s_tool_get(struct tool_ctx *ctx, const char *path, cJSON **out, char *err, size_t errlen)
{
	return k8s_get_json(ctx->k8s, path, ctx->timeout_ms, out, err, errlen);
}

bool k8s_tool_append(struct buf *out, const struct buf *line, size_t reserve)
{
	if (line->len == 0)
		return true;
	if (out->len + line->len + reserve > TOOL_OUTPUT_CAP)
		return false;
	return buf_append(out, line->data, line->len) == 0;
}

/* For qsort over item pointers: a rank, then the original order. */
struct ranked {
	const cJSON *item;
	int64_t key; /* smaller first */
	size_t index;
};

static int ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

size_t k8s_tool_pod_lines(const cJSON *items, size_t max, int64_t now_ms, struct buf *out,
			size_t *not_ready)
{
	size_t n = (size_t)cJSON_GetArraySize(items), i = 0, shown = 0;
	struct ranked *v = xcalloc(n ? n : 1, sizeof(*v));
	const cJSON *e;
	struct buf tmp;

	*not_ready = 0;
	cJSON_ArrayForEach(e, items)
	{
		v[i] = (struct ranked){e, k8s_pod_rank(e), i};
		*not_ready += v[i].key <= 1;
		i++;
	}
	qsort(v, n, sizeof(*v), ranked_cmp);
	buf_init(&tmp, 0);
	for (i = 0; i < n && shown < max; i++) {
		buf_reset(&tmp);
		k8s_format_pod(v[i].item, now_ms, &tmp);
		if (!k8s_tool_append(out, &tmp, SUMMARY_ROOM))
			break;
		shown++;
	}
	buf_release(&tmp);
	free(v);
	return shown;
}

/* Appends "&key=<escaped v>" when v is set. */
static void query_arg(struct buf *path, const char *key, const char *v)
{
	if (v == NULL)
		return;
	buf_printf(path, "&%s=", key);
	k8s_query_escape(path, v);
}

static int run_pods(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
		    size_t errlen)
{
	const char *ns, *sel, *fsel, *more;
	size_t shown, not_ready;
	cJSON *list = NULL;
	struct buf path;
	int rc;

	if (k8s_tool_arg(args, "namespace", true, 'n', &ns, err, errlen) ||
	    k8s_tool_arg(args, "selector", false, 'q', &sel, err, errlen) ||
	    k8s_tool_arg(args, "field_selector", false, 'q', &fsel, err, errlen) ||
	    !k8s_tool_client(ctx, err, errlen))
		return -1;
	buf_init(&path, 0);
	buf_printf(&path, "/api/v1/namespaces/%s/pods?limit=" LIST_LIMIT, ns);
	query_arg(&path, "labelSelector", sel);
	query_arg(&path, "fieldSelector", fsel);
	rc = k8s_tool_get(ctx, path.data, &list, err, errlen);
	if (rc == 0) {
		const cJSON *items = k8s_get(list, "items");
		shown = k8s_tool_pod_lines(items, MAX_PODS, ctx->now_ms, out, &not_ready);
		more = k8s_str(list, "metadata.continue");
		buf_printf(out, "pods total=%d%s shown=%zu not_ready=%zu\n",
			   cJSON_GetArraySize(items), str_empty(more) ? "" : "+", shown, not_ready);
	}
	cJSON_Delete(list);
	buf_release(&path);
	return rc;
}

static int run_pod(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
		   size_t errlen)
{
	const char *ns, *name;
	cJSON *pod = NULL;
	struct buf tmp;
	char *path;
	int rc;

	if (k8s_tool_arg(args, "namespace", true, 'n', &ns, err, errlen) ||
	    k8s_tool_arg(args, "name", true, 's', &name, err, errlen) ||
	    !k8s_tool_client(ctx, err, errlen))
		return -1;
	path = xasprintf("/api/v1/namespaces/%s/pods/%s", ns, name);
	rc = k8s_tool_get(ctx, path, &pod, err, errlen);
	if (rc == 0) {
		buf_init(&tmp, 0);
		k8s_format_pod(pod, ctx->now_ms, &tmp);
		k8s_tool_append(out, &tmp, 0);
		buf_release(&tmp);
	}
	cJSON_Delete(pod);
	free(path);
	return rc;
}

/*
 * The container to read logs from when none is given: the default-container
 * annotation, the only container, else the one with the most restarts.
 */
static char *pick_container(struct tool_ctx *ctx, const char *ns, const char *pod, char *err,
			    size_t errlen)
{
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", ns, pod), *name = NULL;
	const cJSON *c, *best = NULL, *ann;
	long long best_restarts = -1;
	cJSON *obj = NULL;

	if (k8s_tool_get(ctx, path, &obj, err, errlen) == 0) {
		ann = cJSON_GetObjectItemCaseSensitive(k8s_get(obj, "metadata.annotations"),
						       "kubectl.kubernetes.io/default-container");
		cJSON_ArrayForEach(c, k8s_get(obj, "status.containerStatuses"))
		{
			const cJSON *r = k8s_get(c, "restartCount");
			long long n = cJSON_IsNumber(r) ? (long long)r->valuedouble : 0;
			if (n > best_restarts)
				best = c, best_restarts = n;
		}
		if (cJSON_IsString(ann) && dns_name(ann->valuestring, 63, false))
			name = xstrdup(ann->valuestring);
		else if (best != NULL && k8s_str(best, "name") != NULL)
			name = xstrdup(k8s_str(best, "name"));
		else if (k8s_str(cJSON_GetArrayItem(k8s_get(obj, "spec.containers"), 0), "name"))
			name = xstrdup(k8s_str(cJSON_GetArrayItem(k8s_get(obj, "spec.containers"), 0),
					       "name"));
		else
			snprintf(err, errlen, "pod %s has no containers", pod);
	}
	cJSON_Delete(obj);
	free(path);
	return name;
}

/* tail: a string or number from 1 to 5000, 200 when absent. */
static int tail_arg(const cJSON *args, long *tail, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, "tail");
	char *end = NULL;

	*tail = 200;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v))
		*tail = (long)v->valuedouble;
	else if (cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) < 8)
		*tail = strtol(v->valuestring, &end, 10);
	if ((cJSON_IsString(v) && (end == NULL || *end != '\0')) ||
	    !(cJSON_IsString(v) || cJSON_IsNumber(v)) || *tail < 1 || *tail > 5000) {
		snprintf(err, errlen, "argument tail must be a number from 1 to 5000");
		return -1;
	}
	return 0;
}

/* True when a log request failed only because there is no such log yet: the
 * API's 400 for a container with no previous instance or one still waiting. */
static bool log_absent(const char *err)
{
	return strncmp(err, "400 ", 4) == 0 &&
	       ((strstr(err, "previous terminated container") && strstr(err, "not found")) ||
		strstr(err, "is waiting to start") != NULL);
}

static int run_logs(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
		    size_t errlen)
{
	const char *ns, *pod, *container, *prev;
	size_t lines = 0, kept = 0;
	struct buf path, text, filtered;
	char *picked = NULL;
	bool previous;
	long tail;
	int rc = -1;

	if (k8s_tool_arg(args, "namespace", true, 'n', &ns, err, errlen) ||
	    k8s_tool_arg(args, "pod", true, 's', &pod, err, errlen) ||
	    k8s_tool_arg(args, "container", false, 'n', &container, err, errlen) ||
	    k8s_tool_arg(args, "previous", false, 'q', &prev, err, errlen) ||
	    tail_arg(args, &tail, err, errlen))
		return -1;
	if (prev != NULL && strcmp(prev, "true") != 0 && strcmp(prev, "false") != 0) {
		snprintf(err, errlen, "argument previous must be \"true\" or \"false\"");
		return -1;
	}
	previous = prev != NULL && strcmp(prev, "true") == 0;
	if (!k8s_tool_client(ctx, err, errlen))
		return -1;
	if (container == NULL && (container = picked = pick_container(ctx, ns, pod, err, errlen)) ==
				     NULL)
		return -1;
	buf_init(&path, 0);
	buf_init(&text, 0);
	buf_init(&filtered, 0);
	buf_printf(&path, "/api/v1/namespaces/%s/pods/%s/log?container=%s&tailLines=%ld&limitBytes=%d%s",
		   ns, pod, container, tail, LOG_FETCH_CAP, previous ? "&previous=true" : "");
	if (k8s_get_text(ctx->k8s, path.data, ctx->timeout_ms, LOG_FETCH_CAP, &text, err,
			 errlen) == 0) {
		k8s_filter_logs_counted(text.data ? text.data : "", text.len, LOG_CAP, &filtered,
					&lines, &kept);
		buf_printf(out, "logs pod=%s container=%s previous=%s lines=%zu kept=%zu\n", pod,
			   container, previous ? "true" : "false", lines, kept);
		k8s_tool_append(out, &filtered, 0);
		rc = 0;
	} else if (log_absent(err)) {
		/* No previous instance, or not started yet: a fact about the pod, not a failure. */
		buf_printf(out, "logs pod=%s container=%s previous=%s lines=0 kept=0 absent=\"", pod,
			   container, previous ? "true" : "false");
		for (const char *p = strchr(err, ':') ? strchr(err, ':') + 2 : err; *p; p++)
			buf_append(out, *p == '"' ? "'" : p, 1);
		buf_puts(out, "\"\n");
		rc = 0;
	}
	free(picked);
	buf_release(&path);
	buf_release(&text);
	buf_release(&filtered);
	return rc;
}

static int run_events(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
		      size_t errlen)
{
	const char *ns, *kind, *name, *type;
	size_t n, i = 0, shown = 0, warnings = 0;
	struct buf path, sel, tmp;
	struct ranked *v;
	cJSON *list = NULL;
	const cJSON *e, *items;

	if (k8s_tool_arg(args, "namespace", true, 'n', &ns, err, errlen) ||
	    k8s_tool_arg(args, "kind", false, 'k', &kind, err, errlen) ||
	    k8s_tool_arg(args, "name", false, 's', &name, err, errlen) ||
	    !k8s_tool_client(ctx, err, errlen))
		return -1;
	buf_init(&path, 0);
	buf_init(&sel, 0);
	buf_printf(&path, "/api/v1/namespaces/%s/events?limit=" LIST_LIMIT, ns);
	if (kind != NULL)
		buf_printf(&sel, "involvedObject.kind=%s", kind);
	if (name != NULL)
		buf_printf(&sel, "%sinvolvedObject.name=%s", sel.len ? "," : "", name);
	query_arg(&path, "fieldSelector", sel.len ? sel.data : NULL);
	if (k8s_tool_get(ctx, path.data, &list, err, errlen) != 0) {
		buf_release(&path);
		buf_release(&sel);
		return -1;
	}
	items = k8s_get(list, "items");
	n = (size_t)cJSON_GetArraySize(items);
	v = xcalloc(n ? n : 1, sizeof(*v));
	cJSON_ArrayForEach(e, items)
	{
		/* Warnings first, then newest first: the key sorts ascending. */
		bool warn = (type = k8s_str(e, "type")) != NULL && strcmp(type, "Warning") == 0;
		int64_t t = k8s_event_time_ms(e);
		warnings += warn;
		v[i] = (struct ranked){e, (warn ? 0 : INT64_MAX / 2) - t, i};
		i++;
	}
	qsort(v, n, sizeof(*v), ranked_cmp);
	buf_init(&tmp, 0);
	for (i = 0; i < n && shown < MAX_EVENTS; i++) {
		buf_reset(&tmp);
		k8s_format_event(v[i].item, ctx->now_ms, &tmp);
		if (!k8s_tool_append(out, &tmp, SUMMARY_ROOM))
			break;
		shown++;
	}
	buf_printf(out, "events total=%zu shown=%zu warnings=%zu\n", n, shown, warnings);
	buf_release(&tmp);
	free(v);
	cJSON_Delete(list);
	buf_release(&path);
	buf_release(&sel);
	return 0;
}

/* clang-format off */
const struct tool k8s_pods_tool = {
	.name = "k8s_pods",
	.description = "Lists the pods of a namespace (optionally by label or field selector), "
		"unhealthy first, with their containers' states, restarts and last termination.",
	.parameters = "{\"type\":\"object\",\"properties\":{"
		"\"namespace\":{\"type\":\"string\"},"
		"\"selector\":{\"type\":\"string\",\"description\":\"label selector, e.g. app=api\"},"
		"\"field_selector\":{\"type\":\"string\",\"description\":\"e.g. status.phase!=Running\"}},"
		"\"required\":[\"namespace\"]}",
	.kind = TOOL_READ,
	.run = run_pods,
};

const struct tool k8s_pod_tool = {
	.name = "k8s_pod",
	.description = "Shows one pod: phase, readiness, node, owner, scheduling problems and "
		"each container's state, restarts, last termination, image and resources.",
	.parameters = "{\"type\":\"object\",\"properties\":{"
		"\"namespace\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"}},"
		"\"required\":[\"namespace\",\"name\"]}",
	.kind = TOOL_READ,
	.run = run_pod,
};

const struct tool k8s_logs_tool = {
	.name = "k8s_logs",
	.description = "Reads a container's log (or its previous instance's): the error-like "
		"lines, repeats folded, then the last 20 lines.",
	.parameters = "{\"type\":\"object\",\"properties\":{"
		"\"namespace\":{\"type\":\"string\"},\"pod\":{\"type\":\"string\"},"
		"\"container\":{\"type\":\"string\",\"description\":\"default: the pod's default "
		"or most restarted container\"},"
		"\"previous\":{\"type\":\"string\",\"enum\":[\"true\",\"false\"],"
		"\"description\":\"the log of the instance before the last restart\"},"
		"\"tail\":{\"type\":\"string\",\"description\":\"lines to read, default 200\"}},"
		"\"required\":[\"namespace\",\"pod\"]}",
	.kind = TOOL_READ,
	.run = run_logs,
};

const struct tool k8s_events_tool = {
	.name = "k8s_events",
	.description = "Lists the events of a namespace, or of one object (kind and name), "
		"warnings first, newest first.",
	.parameters = "{\"type\":\"object\",\"properties\":{"
		"\"namespace\":{\"type\":\"string\"},"
		"\"kind\":{\"type\":\"string\",\"description\":\"e.g. Pod, Deployment\"},"
		"\"name\":{\"type\":\"string\"}},"
		"\"required\":[\"namespace\"]}",
	.kind = TOOL_READ,
	.run = run_events,
};
/* clang-format on */
