/*
 * This file contains the text formats of tools/README.md for Kubernetes
 * objects: pod (with container and init_container lines), event, deployment
 * (with condition lines), ReplicaSet (rollout history), node, PVC and job.
 * Each object is one line of "key=value" tokens; values with spaces or
 * quotes are written key="…" with '"' turned into '\'', control characters
 * into spaces and at most 300 bytes (cut on a UTF-8 boundary, "…" appended).
 * Absent fields are left out. Ages are relative to now_ms, compactly.
 *
 * Pure functions of their JSON input; safe from any thread.
 */
#include "k8s.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define VALUE_MAX 300

const cJSON *k8s_get(const cJSON *obj, const char *dotted)
{
	const cJSON *cur = obj;
	const char *p = dotted;
	char key[128];

	while (cur != NULL && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(key) || !cJSON_IsObject(cur))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		cur = cJSON_GetObjectItemCaseSensitive(cur, key);
		p += n + (p[n] == '.');
	}
	return cur;
}

const char *k8s_str(const cJSON *obj, const char *dotted)
{
	const cJSON *v = k8s_get(obj, dotted);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The number at dotted, or dflt. */
static long long num(const cJSON *obj, const char *dotted, long long dflt)
{
	const cJSON *v = k8s_get(obj, dotted);
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : dflt;
}

/* The annotation name of obj, or NULL. */
static const char *annotation(const cJSON *obj, const char *name)
{
	const cJSON *v =
	    cJSON_GetObjectItemCaseSensitive(k8s_get(obj, "metadata.annotations"), name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void k8s_format_age(int64_t s, char *out, size_t outlen)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, outlen, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, outlen, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(out, outlen, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, outlen, "%lldd", (long long)(s / 86400));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;

	if (p[0] >= 0xf8)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Appends ` key="v"`, escaped and capped (see the file comment). */
static void put_quoted(struct buf *out, const char *key, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t used = 0;

	buf_printf(out, " %s=\"", key);
	while (*p && used < VALUE_MAX) {
		size_t n = *p < 0x80 ? 1 : utf8_len(p);
		if (n == 0) {
			buf_append(out, "?", 1);
			p++, used++;
			continue;
		}
		if (used + n > VALUE_MAX)
			break;
		if (n > 1)
			buf_append(out, p, n);
		else
			buf_append(out, *p == '"' ? "'" : (*p < 0x20 || *p == 0x7f) ? " " : (const char *)p,
				   1);
		p += n, used += n;
	}
	buf_puts(out, *p ? "…\"" : "\"");
}

/* Appends ` key=v`, quoting v when it is not a plain token; nothing for NULL or "". */
static void put_kv(struct buf *out, const char *key, const char *v)
{
	size_t n;

	if (str_empty(v))
		return;
	n = strlen(v);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || n > VALUE_MAX) {
			put_quoted(out, key, v);
			return;
		}
	}
	buf_printf(out, " %s=%s", key, v);
}

static void put_num(struct buf *out, const char *key, long long v)
{
	buf_printf(out, " %s=%lld", key, v);
}

static void put_bool(struct buf *out, const char *key, bool v)
{
	buf_printf(out, " %s=%s", key, v ? "true" : "false");
}

/* ` key=<age>` of the RFC 3339 time ts; nothing when absent or unparsable. */
static void put_age(struct buf *out, const char *key, const char *ts, int64_t now_ms)
{
	int64_t t;
	char age[32];

	if (ts == NULL || parse_time_ms(ts, &t) != 0 || t <= 0)
		return;
	k8s_format_age((now_ms - t) / 1000, age, sizeof(age));
	buf_printf(out, " %s=%s", key, age);
}

/* The element of array arr whose "name" is name, or NULL. */
static const cJSON *by_name(const cJSON *arr, const char *name)
{
	const cJSON *e;

	if (name == NULL)
		return NULL;
	cJSON_ArrayForEach(e, arr)
	{
		const char *n = k8s_str(e, "name");
		if (n != NULL && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

/* The condition of obj (status.conditions) of the given type, or NULL. */
static const cJSON *condition(const cJSON *obj, const char *type)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, k8s_get(obj, "status.conditions"))
	{
		const char *t = k8s_str(c, "type");
		if (t != NULL && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

static bool is_true(const cJSON *obj, const char *dotted)
{
	return cJSON_IsTrue(k8s_get(obj, dotted));
}

bool k8s_pod_ready(const cJSON *pod)
{
	const char *s = k8s_str(condition(pod, "Ready"), "status");
	return s != NULL && strcmp(s, "True") == 0;
}

/* Sum of the (non-init) containers' restart counts. */
static long long pod_restarts(const cJSON *pod)
{
	const cJSON *st;
	long long n = 0;

	cJSON_ArrayForEach(st, k8s_get(pod, "status.containerStatuses")) n +=
	    num(st, "restartCount", 0);
	return n;
}

int k8s_pod_rank(const cJSON *pod)
{
	const char *phase = k8s_str(pod, "status.phase");

	if (phase != NULL && strcmp(phase, "Succeeded") == 0)
		return 4;
	if (phase == NULL || strcmp(phase, "Running") != 0)
		return 0;
	if (!k8s_pod_ready(pod))
		return 1;
	return pod_restarts(pod) > 0 ? 2 : 3;
}

/* One container or init_container line from its spec and status (either may be NULL). */
static void format_container(const char *word, const cJSON *spec, const cJSON *st,
			     int64_t now_ms, struct buf *out)
{
	static const char *const res[] = {"limits.memory", "limits.cpu", "requests.memory",
					  "requests.cpu"};
	const cJSON *state = k8s_get(st, "state"), *last = k8s_get(st, "lastState.terminated");
	const char *image = k8s_str(spec, "image");
	char path[64];

	buf_puts(out, word);
	put_kv(out, "name", spec ? k8s_str(spec, "name") : k8s_str(st, "name"));
	put_bool(out, "ready", is_true(st, "ready"));
	put_num(out, "restarts", num(st, "restartCount", 0));
	if (k8s_get(state, "running") != NULL) {
		buf_puts(out, " state=running");
	} else if (k8s_get(state, "waiting") != NULL) {
		const char *reason = k8s_str(state, "waiting.reason");
		buf_puts(out, " state=waiting");
		put_kv(out, "reason", reason);
		/* CrashLoopBackOff's message only repeats the back-off delay. */
		if (reason == NULL || strcmp(reason, "CrashLoopBackOff") != 0)
			if (!str_empty(k8s_str(state, "waiting.message")))
				put_quoted(out, "message", k8s_str(state, "waiting.message"));
	} else if (k8s_get(state, "terminated") != NULL) {
		buf_puts(out, " state=terminated");
		put_kv(out, "reason", k8s_str(state, "terminated.reason"));
		put_num(out, "exit_code", num(state, "terminated.exitCode", -1));
	}
	if (last != NULL) {
		const char *r = k8s_str(last, "reason");
		put_kv(out, "last_terminated", str_empty(r) ? "Unknown" : r);
		put_num(out, "exit_code", num(last, "exitCode", -1));
		put_age(out, "last_finished_age", k8s_str(last, "finishedAt"), now_ms);
	}
	put_kv(out, "image", image ? image : k8s_str(st, "image"));
	for (size_t i = 0; i < ARRAY_LEN(res); i++) {
		snprintf(path, sizeof(path), "resources.%s", res[i]);
		put_kv(out, res[i], k8s_str(spec, path));
	}
	buf_puts(out, "\n");
}

/* The lines of one list of containers (spec_key/status_key: containers or initContainers). */
static void format_containers(const char *word, const cJSON *pod, const char *spec_key,
			      const char *status_key, int64_t now_ms, struct buf *out)
{
	const cJSON *specs = k8s_get(pod, spec_key), *sts = k8s_get(pod, status_key), *e;

	if (cJSON_GetArraySize(specs) > 0) {
		cJSON_ArrayForEach(e, specs) format_container(
		    word, e, by_name(sts, k8s_str(e, "name")), now_ms, out);
	} else {
		cJSON_ArrayForEach(e, sts) format_container(word, NULL, e, now_ms, out);
	}
}

/* owner=Kind/Name of the controller reference (else the first one). */
static void put_owner(struct buf *out, const cJSON *obj)
{
	const cJSON *refs = k8s_get(obj, "metadata.ownerReferences"), *r, *pick = NULL;
	char *v;

	cJSON_ArrayForEach(r, refs) if (pick == NULL || is_true(r, "controller")) pick = r;
	if (pick == NULL || k8s_str(pick, "kind") == NULL || k8s_str(pick, "name") == NULL)
		return;
	v = xasprintf("%s/%s", k8s_str(pick, "kind"), k8s_str(pick, "name"));
	put_kv(out, "owner", v);
	free(v);
}

void k8s_format_pod(const cJSON *pod, int64_t now_ms, struct buf *out)
{
	const cJSON *st;
	const char *phase = k8s_str(pod, "status.phase");
	int total = cJSON_GetArraySize(k8s_get(pod, "spec.containers")), ready = 0;

	cJSON_ArrayForEach(st, k8s_get(pod, "status.containerStatuses")) ready +=
	    is_true(st, "ready");
	if (total == 0)
		total = cJSON_GetArraySize(k8s_get(pod, "status.containerStatuses"));
	buf_puts(out, "pod");
	put_kv(out, "name", k8s_str(pod, "metadata.name"));
	put_kv(out, "namespace", k8s_str(pod, "metadata.namespace"));
	put_kv(out, "phase", phase);
	put_bool(out, "ready", k8s_pod_ready(pod));
	buf_printf(out, " ready_containers=%d/%d", ready, total);
	put_num(out, "restarts", pod_restarts(pod));
	put_kv(out, "node", k8s_str(pod, "spec.nodeName"));
	put_owner(out, pod);
	put_age(out, "age", k8s_str(pod, "metadata.creationTimestamp"), now_ms);
	if (!str_empty(k8s_str(pod, "status.reason"))) { /* Evicted, NodeLost, … */
		put_kv(out, "reason", k8s_str(pod, "status.reason"));
		if (!str_empty(k8s_str(pod, "status.message")))
			put_quoted(out, "message", k8s_str(pod, "status.message"));
	} else if (phase != NULL && strcmp(phase, "Pending") == 0) {
		const cJSON *c = condition(pod, "PodScheduled");
		const char *s = k8s_str(c, "status");
		if (s != NULL && strcmp(s, "False") == 0) {
			put_kv(out, "reason", k8s_str(c, "reason"));
			if (!str_empty(k8s_str(c, "message")))
				put_quoted(out, "message", k8s_str(c, "message"));
		}
	}
	buf_puts(out, "\n");
	format_containers("init_container", pod, "spec.initContainers",
			  "status.initContainerStatuses", now_ms, out);
	format_containers("container", pod, "spec.containers", "status.containerStatuses",
			  now_ms, out);
}

int64_t k8s_event_time_ms(const cJSON *ev)
{
	static const char *const keys[] = {
	    "lastTimestamp", "series.lastObservedTime", "eventTime", "deprecatedLastTimestamp",
	    "firstTimestamp", "metadata.creationTimestamp"};
	int64_t t;

	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (parse_time_ms(k8s_str(ev, keys[i]), &t) == 0 && t > 0)
			return t;
	return 0;
}

/*
 * An event's message. A long one keeps its head and its tail around "…":
 * the kubelet's and the registry's reasons come last ("Failed to pull image
 * \"<name>\": … no basic auth credentials"), after names that fill the cap.
 */
static void put_event_message(struct buf *out, const char *msg)
{
	const size_t head = VALUE_MAX / 2, tail = VALUE_MAX - head - strlen(" … ");
	size_t n = strlen(msg), h = head, t = n - tail;
	char *cut;

	if (n <= VALUE_MAX) {
		put_quoted(out, "message", msg);
		return;
	}
	while (h > 0 && ((unsigned char)msg[h] & 0xC0) == 0x80) /* whole characters only */
		h--;
	while (t < n && ((unsigned char)msg[t] & 0xC0) == 0x80)
		t++;
	cut = xasprintf("%.*s … %s", (int)h, msg, msg + t);
	put_quoted(out, "message", cut);
	free(cut);
}

void k8s_format_event(const cJSON *ev, int64_t now_ms, struct buf *out)
{
	const cJSON *obj = k8s_get(ev, "involvedObject");
	const char *msg = k8s_str(ev, "message");
	long long count = num(ev, "count", 0);
	int64_t t = k8s_event_time_ms(ev);
	char *o, age[32];

	if (obj == NULL)
		obj = k8s_get(ev, "regarding"); /* events.k8s.io/v1 */
	if (msg == NULL)
		msg = k8s_str(ev, "note");
	if (count <= 0)
		count = num(ev, "series.count", num(ev, "deprecatedCount", 1));
	buf_puts(out, "event");
	put_kv(out, "type", k8s_str(ev, "type"));
	put_kv(out, "reason", k8s_str(ev, "reason"));
	o = xasprintf("%s/%s", k8s_str(obj, "kind") ? k8s_str(obj, "kind") : "?",
		      k8s_str(obj, "name") ? k8s_str(obj, "name") : "?");
	put_kv(out, "object", o);
	free(o);
	put_num(out, "count", count > 0 ? count : 1);
	if (t > 0) {
		k8s_format_age((now_ms - t) / 1000, age, sizeof(age));
		buf_printf(out, " age=%s", age);
	}
	if (!str_empty(msg))
		put_event_message(out, msg);
	buf_puts(out, "\n");
}

/* The `condition type=… status=… reason=… message="…"` lines of obj. */
static void format_conditions(const cJSON *obj, struct buf *out)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, k8s_get(obj, "status.conditions"))
	{
		buf_puts(out, "condition");
		put_kv(out, "type", k8s_str(c, "type"));
		put_kv(out, "status", k8s_str(c, "status"));
		put_kv(out, "reason", k8s_str(c, "reason"));
		if (!str_empty(k8s_str(c, "message")))
			put_quoted(out, "message", k8s_str(c, "message"));
		buf_puts(out, "\n");
	}
}

void k8s_format_deployment(const cJSON *d, int64_t now_ms, struct buf *out)
{
	buf_puts(out, "deployment");
	put_kv(out, "name", k8s_str(d, "metadata.name"));
	put_kv(out, "namespace", k8s_str(d, "metadata.namespace"));
	put_num(out, "replicas", num(d, "spec.replicas", 1));
	put_num(out, "updated", num(d, "status.updatedReplicas", 0));
	put_num(out, "ready", num(d, "status.readyReplicas", 0));
	put_num(out, "available", num(d, "status.availableReplicas", 0));
	put_num(out, "unavailable", num(d, "status.unavailableReplicas", 0));
	put_bool(out, "paused", is_true(d, "spec.paused"));
	put_kv(out, "revision", annotation(d, "deployment.kubernetes.io/revision"));
	put_num(out, "generation", num(d, "metadata.generation", 0));
	put_num(out, "observed_generation", num(d, "status.observedGeneration", 0));
	put_age(out, "age", k8s_str(d, "metadata.creationTimestamp"), now_ms);
	buf_puts(out, "\n");
	format_conditions(d, out);
}

void k8s_format_replicaset(const cJSON *rs, bool current, int64_t now_ms, struct buf *out)
{
	const char *rev = annotation(rs, "deployment.kubernetes.io/revision");
	const cJSON *c;
	struct buf images;

	buf_init(&images, 0);
	cJSON_ArrayForEach(c, k8s_get(rs, "spec.template.spec.containers"))
	    buf_printf(&images, "%s%s", images.len ? "," : "",
		       k8s_str(c, "image") ? k8s_str(c, "image") : "?");
	/* The line starts with its revision (digits, else "?"), not with a word. */
	buf_printf(out, "revision=%s", rev != NULL && rev[0] && strlen(rev) < 20 &&
					       strspn(rev, "0123456789") == strlen(rev)
					   ? rev
					   : "?");
	put_kv(out, "replicaset", k8s_str(rs, "metadata.name"));
	put_age(out, "age", k8s_str(rs, "metadata.creationTimestamp"), now_ms);
	put_kv(out, "image", images.data);
	put_num(out, "replicas", num(rs, "status.replicas", 0));
	put_num(out, "ready", num(rs, "status.readyReplicas", 0));
	put_bool(out, "current", current);
	if (!str_empty(annotation(rs, "kubernetes.io/change-cause")))
		put_quoted(out, "change_cause", annotation(rs, "kubernetes.io/change-cause"));
	buf_puts(out, "\n");
	buf_release(&images);
}

void k8s_format_node(const cJSON *node, int64_t now_ms, struct buf *out)
{
	const cJSON *ready = condition(node, "Ready"), *c;
	struct buf list;

	buf_init(&list, 0);
	buf_puts(out, "node");
	put_kv(out, "name", k8s_str(node, "metadata.name"));
	put_kv(out, "ready", ready ? k8s_str(ready, "status") : "Unknown");
	put_kv(out, "reason", k8s_str(ready, "reason"));
	put_age(out, "since", k8s_str(ready, "lastTransitionTime"), now_ms);
	put_bool(out, "unschedulable", is_true(node, "spec.unschedulable"));
	cJSON_ArrayForEach(c, k8s_get(node, "status.conditions"))
	{
		const char *t = k8s_str(c, "type"), *s = k8s_str(c, "status");
		if (t != NULL && s != NULL && strcmp(t, "Ready") != 0 && strcmp(s, "True") == 0)
			buf_printf(&list, "%s%s", list.len ? "," : "", t);
	}
	put_kv(out, "pressure", list.len ? list.data : "none");
	buf_reset(&list);
	cJSON_ArrayForEach(c, k8s_get(node, "spec.taints"))
	{
		const char *k = k8s_str(c, "key"), *v = k8s_str(c, "value"), *e = k8s_str(c, "effect");
		buf_printf(&list, "%s%s%s%s:%s", list.len ? "," : "", k ? k : "?", v ? "=" : "",
			   v ? v : "", e ? e : "?");
	}
	put_kv(out, "taints", list.len ? list.data : "none");
	put_kv(out, "kubelet", k8s_str(node, "status.nodeInfo.kubeletVersion"));
	buf_puts(out, "\n");
	buf_release(&list);
}

void k8s_format_pvc(const cJSON *pvc, int64_t now_ms, struct buf *out)
{
	buf_puts(out, "pvc");
	put_kv(out, "name", k8s_str(pvc, "metadata.name"));
	put_kv(out, "namespace", k8s_str(pvc, "metadata.namespace"));
	put_kv(out, "phase", k8s_str(pvc, "status.phase"));
	put_kv(out, "capacity", k8s_str(pvc, "status.capacity.storage"));
	put_kv(out, "requested", k8s_str(pvc, "spec.resources.requests.storage"));
	put_kv(out, "storage_class", k8s_str(pvc, "spec.storageClassName"));
	put_kv(out, "volume", k8s_str(pvc, "spec.volumeName"));
	put_age(out, "age", k8s_str(pvc, "metadata.creationTimestamp"), now_ms);
	buf_puts(out, "\n");
}

void k8s_format_job(const cJSON *job, int64_t now_ms, struct buf *out)
{
	static const char *const order[] = {"Failed", "Complete", "Suspended", "FailureTarget"};
	const cJSON *cond = NULL;

	for (size_t i = 0; i < ARRAY_LEN(order) && cond == NULL; i++) {
		const cJSON *c = condition(job, order[i]);
		const char *s = k8s_str(c, "status");
		if (s != NULL && strcmp(s, "True") == 0)
			cond = c;
	}
	buf_puts(out, "job");
	put_kv(out, "name", k8s_str(job, "metadata.name"));
	put_kv(out, "namespace", k8s_str(job, "metadata.namespace"));
	put_num(out, "active", num(job, "status.active", 0));
	put_num(out, "succeeded", num(job, "status.succeeded", 0));
	put_num(out, "failed", num(job, "status.failed", 0));
	put_num(out, "backoff_limit", num(job, "spec.backoffLimit", 6));
	put_age(out, "age", k8s_str(job, "metadata.creationTimestamp"), now_ms);
	if (cond != NULL) {
		put_kv(out, "condition", k8s_str(cond, "type"));
		put_kv(out, "reason", k8s_str(cond, "reason"));
		if (!str_empty(k8s_str(cond, "message")))
			put_quoted(out, "message", k8s_str(cond, "message"));
	}
	buf_puts(out, "\n");
}
