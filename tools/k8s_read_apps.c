/*
 * This file contains the Kubernetes read tools about workloads and the
 * cluster: k8s_deployment, k8s_rollout_history, k8s_nodes, k8s_pvcs and
 * k8s_job (with its pods). Argument checks and capped output use the helpers
 * of k8s_read.c; formats are in k8s_format.c and tools/README.md.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "tool.h"
#include "util.h"

#define MAX_NODES     50
#define MAX_JOB_PODS  20
#define MAX_REVISIONS 30
#define SUMMARY_ROOM  128

/* A list item with a sort key (smaller first) and its original position. */
struct sorted {
	const cJSON *item;
	long long key;
	size_t index;
};

static int sorted_cmp(const void *a, const void *b)
{
	const struct sorted *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Formats one object fetched from path with fmt, into out. */
static int show_one(struct tool_ctx *ctx, const char *path,
		    void (*fmt)(const cJSON *, int64_t, struct buf *), struct buf *out, char *err,
		    size_t errlen)
{
	cJSON *obj = NULL;
	struct buf tmp;

	if (k8s_tool_get(ctx, path, &obj, err, errlen) != 0)
		return -1;
	buf_init(&tmp, 0);
	fmt(obj, ctx->now_ms, &tmp);
	k8s_tool_append(out, &tmp, 0);
	buf_release(&tmp);
	cJSON_Delete(obj);
	return 0;
}

static int run_deployment(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
			  size_t errlen)
{
	const char *ns, *name;
	char *path;
	int rc;

	if (k8s_tool_arg(args, "namespace", true, 'n', &ns, err, errlen) ||
	    k8s_tool_arg(args, "name", true, 's', &name, err, errlen) ||
	    !k8s_tool_client(ctx, err, errlen))
		return -1;
	path = xasprintf("/apis/apps/v1/namespaces/%s/deployments/%s", ns, name);
	rc = show_one(ctx, path, k8s_format_deployment, out, err, errlen);
	free(path);
	return rc;
}

/* True when rs is controlled by the deployment with this uid. */
static bool owned_by(const cJSON *rs, const char *uid)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, k8s_get(rs, "metadata.ownerReferences"))
	{
		const char *kind = k8s_str(r, "kind"), *u = k8s_str(r, "uid");
		if (kind != NULL && strcmp(kind, "Deployment") == 0 &&
		    cJSON_IsTrue(k8s_get(r, "controller")) && u != NULL && strcmp(u, uid) == 0)
			return true;
	}
	return false;
}

/* The revision annotation of obj as a number (0 when absent). */
static long long revision_of(const cJSON *obj)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(k8s_get(obj, "metadata.annotations"),
							  "deployment.kubernetes.io/revision");
	return cJSON_IsString(a) ? strtoll(a->valuestring, NULL, 10) : 0;
}

/* Appends the ReplicaSet lines of deployment d, newest revision first. */
static int rollout_lines(struct tool_ctx *ctx, const cJSON *d, const char *ns, struct buf *out,
			 char *err, size_t errlen)
{
	const char *uid = k8s_str(d, "metadata.uid");
	const cJSON *l, *items, *e;
	long long current = revision_of(d);
	size_t n = 0, i = 0, shown = 0;
	struct buf path, sel, tmp;
	struct sorted *v;
	cJSON *list = NULL;

	buf_init(&path, 0);
	buf_init(&sel, 0);
	cJSON_ArrayForEach(l, k8s_get(d, "spec.selector.matchLabels")) if (cJSON_IsString(l))
	    buf_printf(&sel, "%s%s=%s", sel.len ? "," : "", l->string, l->valuestring);
	buf_printf(&path, "/apis/apps/v1/namespaces/%s/replicasets?limit=500", ns);
	if (sel.len > 0) {
		buf_puts(&path, "&labelSelector=");
		k8s_query_escape(&path, sel.data);
	}
	if (k8s_tool_get(ctx, path.data, &list, err, errlen) != 0) {
		buf_release(&path);
		buf_release(&sel);
		return -1;
	}
	items = k8s_get(list, "items");
	v = xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(*v));
	cJSON_ArrayForEach(e, items)
	{
		if (uid != NULL && owned_by(e, uid))
			v[n++] = (struct sorted){e, -revision_of(e), i};
		i++;
	}
	qsort(v, n, sizeof(*v), sorted_cmp);
	if (current == 0 && n > 0) /* no annotation on the deployment: the highest is current */
		current = -v[0].key;
	buf_init(&tmp, 0);
	for (i = 0; i < n && shown < MAX_REVISIONS; i++) {
		buf_reset(&tmp);
		k8s_format_replicaset(v[i].item, -v[i].key == current, ctx->now_ms, &tmp);
		if (!k8s_tool_append(out, &tmp, SUMMARY_ROOM))
			break;
		shown++;
	}
	if (n == 0)
		buf_printf(out, "rollout deployment=%s replicasets=0\n",
			   k8s_str(d, "metadata.name") ? k8s_str(d, "metadata.name") : "?");
	buf_release(&tmp);
	free(v);
	cJSON_Delete(list);
	buf_release(&path);
	buf_release(&sel);
	return 0;
}

static int run_rollout_history(struct tool_ctx *ctx, const cJSON *args, struct buf *out,
			       char *err, size_t errlen)
{
	const char *ns, *name;
	cJSON *d = NULL;
	char *path;
	int rc;

	if (k8s_tool_arg(args, "namespace", true, 'n', &ns, err, errlen) ||
	    k8s_tool_arg(args, "deployment", true, 's', &name, err, errlen) ||
	    !k8s_tool_client(ctx, err, errlen))
		return -1;
	path = xasprintf("/apis/apps/v1/namespaces/%s/deployments/%s", ns, name);
	rc = k8s_tool_get(ctx, path, &d, err, errlen);
	if (rc == 0)
		rc = rollout_lines(ctx, d, ns, out, err, errlen);
	cJSON_Delete(d);
	free(path);
	return rc;
}

/* 0 not ready, 1 cordoned or under pressure, 2 fine. */
static int node_rank(const cJSON *node)
{
	const cJSON *c;
	int rank = cJSON_IsTrue(k8s_get(node, "spec.unschedulable")) ? 1 : 2;

	cJSON_ArrayForEach(c, k8s_get(node, "status.conditions"))
	{
		const char *t = k8s_str(c, "type"), *s = k8s_str(c, "status");
		if (t == NULL || s == NULL)
			continue;
		if (strcmp(t, "Ready") == 0 && strcmp(s, "True") != 0)
			return 0;
		if (strcmp(t, "Ready") != 0 && strcmp(s, "True") == 0)
			rank = 1;
	}
	return k8s_get(node, "status.conditions") ? rank : 0;
}

/*
 * Appends the lines of the objects in list (an item or a List) sorted by
 * rank, at most max; word names the summary line.
 */
static void list_lines(const cJSON *list, int (*rank)(const cJSON *), size_t max,
		       void (*fmt)(const cJSON *, int64_t, struct buf *), const char *word,
		       int64_t now_ms, struct buf *out)
{
	const cJSON *items = k8s_get(list, "items"), *e;
	size_t n = (size_t)cJSON_GetArraySize(items), i = 0, shown = 0, bad = 0;
	struct sorted *v = xcalloc(n + 1, sizeof(*v));
	struct buf tmp;

	cJSON_ArrayForEach(e, items)
	{
		v[i] = (struct sorted){e, rank(e), i};
		bad += v[i].key == 0;
		i++;
	}
	qsort(v, n, sizeof(*v), sorted_cmp);
	buf_init(&tmp, 0);
	for (i = 0; i < n && shown < max; i++) {
		buf_reset(&tmp);
		fmt(v[i].item, now_ms, &tmp);
		if (!k8s_tool_append(out, &tmp, SUMMARY_ROOM))
			break;
		shown++;
	}
	buf_printf(out, "%s total=%zu shown=%zu %s=%zu\n", word, n, shown,
		   strcmp(word, "nodes") == 0 ? "not_ready" : "not_bound", bad);
	buf_release(&tmp);
	free(v);
}

static int run_nodes(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
		     size_t errlen)
{
	const char *name;
	cJSON *list = NULL;
	char *path;

	if (k8s_tool_arg(args, "name", false, 's', &name, err, errlen) ||
	    !k8s_tool_client(ctx, err, errlen))
		return -1;
	if (name != NULL) {
		path = xasprintf("/api/v1/nodes/%s", name);
		int rc = show_one(ctx, path, k8s_format_node, out, err, errlen);
		free(path);
		return rc;
	}
	if (k8s_tool_get(ctx, "/api/v1/nodes?limit=500", &list, err, errlen) != 0)
		return -1;
	list_lines(list, node_rank, MAX_NODES, k8s_format_node, "nodes", ctx->now_ms, out);
	cJSON_Delete(list);
	return 0;
}

/* 0 not Bound, 1 Bound. */
static int pvc_rank(const cJSON *pvc)
{
	const char *phase = k8s_str(pvc, "status.phase");
	return phase != NULL && strcmp(phase, "Bound") == 0;
}

static int run_pvcs(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
		    size_t errlen)
{
	const char *ns, *name;
	cJSON *list = NULL;
	char *path;
	int rc;

	if (k8s_tool_arg(args, "namespace", true, 'n', &ns, err, errlen) ||
	    k8s_tool_arg(args, "name", false, 's', &name, err, errlen) ||
	    !k8s_tool_client(ctx, err, errlen))
		return -1;
	if (name != NULL) {
		path = xasprintf("/api/v1/namespaces/%s/persistentvolumeclaims/%s", ns, name);
		rc = show_one(ctx, path, k8s_format_pvc, out, err, errlen);
		free(path);
		return rc;
	}
	path = xasprintf("/api/v1/namespaces/%s/persistentvolumeclaims?limit=500", ns);
	rc = k8s_tool_get(ctx, path, &list, err, errlen);
	if (rc == 0)
		list_lines(list, pvc_rank, MAX_NODES, k8s_format_pvc, "pvcs", ctx->now_ms, out);
	cJSON_Delete(list);
	free(path);
	return rc;
}

static int run_job(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
		   size_t errlen)
{
	const char *ns, *name;
	size_t shown, not_ready;
	char *path, why[512];
	cJSON *pods = NULL;
	struct buf tmp;

	if (k8s_tool_arg(args, "namespace", true, 'n', &ns, err, errlen) ||
	    k8s_tool_arg(args, "name", true, 's', &name, err, errlen) ||
	    !k8s_tool_client(ctx, err, errlen))
		return -1;
	path = xasprintf("/apis/batch/v1/namespaces/%s/jobs/%s", ns, name);
	if (show_one(ctx, path, k8s_format_job, out, err, errlen) != 0) {
		free(path);
		return -1;
	}
	free(path);
	/* Its pods: a failure here leaves the job line as the evidence. */
	buf_init(&tmp, 0);
	buf_printf(&tmp, "/api/v1/namespaces/%s/pods?limit=500&labelSelector=", ns);
	k8s_query_escape(&tmp, "job-name=");
	k8s_query_escape(&tmp, name);
	if (k8s_tool_get(ctx, tmp.data, &pods, why, sizeof(why)) != 0) {
		buf_reset(&tmp);
		buf_puts(&tmp, "pods");
		for (char *q = why; *q; q++)
			*q = *q == '"' ? '\'' : *q;
		buf_printf(&tmp, " error=\"%.300s\"\n", why);
		k8s_tool_append(out, &tmp, 0);
	} else {
		const cJSON *items = k8s_get(pods, "items");
		shown = k8s_tool_pod_lines(items, MAX_JOB_PODS, ctx->now_ms, out, &not_ready);
		buf_printf(out, "pods total=%d shown=%zu not_ready=%zu\n",
			   cJSON_GetArraySize(items), shown, not_ready);
	}
	cJSON_Delete(pods);
	buf_release(&tmp);
	return 0;
}

/* clang-format off */
const struct tool k8s_deployment_tool = {
	.name = "k8s_deployment",
	.description = "Shows a deployment's replicas (desired, updated, ready, available), "
		"revision, generation and its conditions (e.g. ProgressDeadlineExceeded).",
	.parameters = "{\"type\":\"object\",\"properties\":{"
		"\"namespace\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"}},"
		"\"required\":[\"namespace\",\"name\"]}",
	.kind = TOOL_READ,
	.run = run_deployment,
};

const struct tool k8s_rollout_history_tool = {
	.name = "k8s_rollout_history",
	.description = "Lists a deployment's ReplicaSets newest revision first: age, images, "
		"replicas, which one is current and the change cause.",
	.parameters = "{\"type\":\"object\",\"properties\":{"
		"\"namespace\":{\"type\":\"string\"},\"deployment\":{\"type\":\"string\"}},"
		"\"required\":[\"namespace\",\"deployment\"]}",
	.kind = TOOL_READ,
	.run = run_rollout_history,
};

const struct tool k8s_nodes_tool = {
	.name = "k8s_nodes",
	.description = "Shows nodes (all, problems first, or one by name): readiness, "
		"pressure conditions, cordon, taints and kubelet version.",
	.parameters = "{\"type\":\"object\",\"properties\":{"
		"\"name\":{\"type\":\"string\",\"description\":\"one node; default all\"}}}",
	.kind = TOOL_READ,
	.run = run_nodes,
};

const struct tool k8s_pvcs_tool = {
	.name = "k8s_pvcs",
	.description = "Shows the PersistentVolumeClaims of a namespace (or one): phase, "
		"capacity, requested size, storage class and volume.",
	.parameters = "{\"type\":\"object\",\"properties\":{"
		"\"namespace\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"}},"
		"\"required\":[\"namespace\"]}",
	.kind = TOOL_READ,
	.run = run_pvcs,
};

const struct tool k8s_job_tool = {
	.name = "k8s_job",
	.description = "Shows a job (active, succeeded, failed, backoff limit, its final "
		"condition) and its pods.",
	.parameters = "{\"type\":\"object\",\"properties\":{"
		"\"namespace\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"}},"
		"\"required\":[\"namespace\",\"name\"]}",
	.kind = TOOL_READ,
	.run = run_job,
};
/* clang-format on */
