/*
 * This file contains the pod log endpoint, GET /api/v1/namespaces/NS/pods/
 * NAME/log, with the real server's answers: text/plain on success; a Status
 * 400 when the pod has several containers and none is named, when the
 * container does not exist, when previous=true has no terminated instance,
 * or when the container is still waiting to start (ImagePullBackOff …); 404
 * for an unknown pod. A crash-looping container's current log is the log of
 * its last run, as the kubelet serves it. Lines get synthetic timestamps:
 * one second apart from the instance's startedAt (never past its end).
 * Options: container, previous, tailLines, limitBytes, timestamps,
 * sinceSeconds, sinceTime.
 */
#include "simcluster.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_error400(struct sim_response *rs, const char *msg)
{
	sim_status(rs, 400, "BadRequest", msg, NULL, NULL, NULL);
}

static const cJSON *find_named(const cJSON *arr, const char *name)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, arr)
	{
		if (sim_str(c, "name") && strcmp(sim_str(c, "name"), name) == 0)
			return c;
	}
	return NULL;
}

static const cJSON *log_entry(struct sim *sim, const char *ns, const char *pod,
			      const char *container, bool only_container)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, sim->logs)
	{
		const char *c = sim_str(e, "container");
		if (strcmp(sim_str(e, "namespace"), ns) != 0 || strcmp(sim_str(e, "pod"), pod) != 0)
			continue;
		if ((c && strcmp(c, container) == 0) || (c == NULL && only_container))
			return e;
	}
	return NULL;
}

static bool arg_true(const struct sim_request *rq, const char *name)
{
	const char *v = sim_arg(rq, name);
	return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Parses a non-negative integer argument; -1 when absent, -2 when bad. */
static long long arg_num(const struct sim_request *rq, const char *name)
{
	const char *v = sim_arg(rq, name);
	char *end;
	long long n;
	if (v == NULL || *v == '\0')
		return -1;
	n = strtoll(v, &end, 10);
	return (*end != '\0' || n < 0) ? -2 : n;
}

void sim_pod_log(struct sim *sim, const struct sim_request *rq, const char *ns,
		 const char *name, struct sim_response *rs)
{
	cJSON *pod = sim_find(sim, RES_PODS, ns, name);
	const cJSON *containers, *cs, *entry, *lines, *line;
	const char *container = sim_arg(rq, "container");
	bool previous = arg_true(rq, "previous"), stamps = arg_true(rq, "timestamps");
	long long tail = arg_num(rq, "tailLines"), limit = arg_num(rq, "limitBytes");
	long long since = arg_num(rq, "sinceSeconds");
	const char *state, *waiting;
	int64_t start, end, since_ms = -1, now = now_ms();
	int n, first = 0, i = 0;
	char msg[512];
	struct buf out;

	if (pod == NULL) {
		snprintf(msg, sizeof(msg), "pods \"%s\" not found", name);
		sim_status(rs, 404, "NotFound", msg, name, NULL, "pods");
		return;
	}
	if (tail == -2 || limit == -2 || since == -2) {
		log_error400(rs, "tailLines, limitBytes and sinceSeconds must be non-negative integers");
		return;
	}
	if (since >= 0 && sim_arg(rq, "sinceTime")) {
		log_error400(rs, "at most one of sinceTime or sinceSeconds may be specified");
		return;
	}
	containers = sim_get(pod, "spec.containers");
	if (container == NULL || *container == '\0') {
		if (cJSON_GetArraySize(containers) != 1) {
			struct buf names;
			const cJSON *c;
			buf_init(&names, 2048);
			cJSON_ArrayForEach(c, containers)
				buf_printf(&names, "%s%s", names.len ? " " : "", sim_str(c, "name"));
			snprintf(msg, sizeof(msg),
				 "a container name must be specified for pod %s, choose one of: [%s]",
				 name, names.data ? names.data : "");
			buf_release(&names);
			log_error400(rs, msg);
			return;
		}
		container = sim_str(cJSON_GetArrayItem(containers, 0), "name");
		if (container == NULL)
			container = "";
	}
	if (!find_named(containers, container) &&
	    !find_named(sim_get(pod, "spec.initContainers"), container)) {
		snprintf(msg, sizeof(msg), "container %s is not valid for pod %s", container, name);
		log_error400(rs, msg);
		return;
	}
	cs = find_named(sim_get(pod, "status.containerStatuses"), container);
	if (cs == NULL)
		cs = find_named(sim_get(pod, "status.initContainerStatuses"), container);
	if (previous && !sim_get(cs, "lastState.terminated")) {
		snprintf(msg, sizeof(msg), "previous terminated container \"%s\" in pod \"%s\" not found",
			 container, name);
		log_error400(rs, msg);
		return;
	}
	rs->status = 200;
	rs->content_type = "text/plain";
	if (sim_str(pod, "spec.nodeName") == NULL) { /* not scheduled: empty, as the server does */
		rs->body = xstrdup("");
		return;
	}
	waiting = sim_str(cs, "state.waiting.reason");
	if (!previous && (cs == NULL || (waiting && strcmp(waiting, "CrashLoopBackOff") != 0) ||
			  (sim_get(cs, "state.waiting") && !sim_get(cs, "lastState.terminated")))) {
		snprintf(msg, sizeof(msg), "container \"%s\" in pod \"%s\" is waiting to start: %s",
			 container, name, waiting ? waiting : "ContainerCreating");
		log_error400(rs, msg);
		return;
	}
	/* which instance: previous, the last run of a crash loop, or the running one */
	state = previous || sim_get(cs, "state.waiting") ? "lastState.terminated"
		: sim_get(cs, "state.terminated")        ? "state.terminated"
							 : "state.running";
	entry = log_entry(sim, ns, name, container, cJSON_GetArraySize(containers) == 1);
	lines = cJSON_GetObjectItemCaseSensitive(entry, previous ? "previous" : "current");
	if (lines == NULL && !previous && sim_get(cs, "state.waiting"))
		lines = cJSON_GetObjectItemCaseSensitive(entry, "previous");
	n = cJSON_GetArraySize(lines);
	{
		char path[64];
		snprintf(path, sizeof(path), "%s.startedAt", state);
		start = sim_time(cs, path);
		snprintf(path, sizeof(path), "%s.finishedAt", state);
		end = sim_time(cs, path);
	}
	if (end < 0)
		end = sim->loaded_ms;
	if (start < 0 || start > end)
		start = end - (int64_t)n * 1000;
	if (since >= 0)
		since_ms = now - since * 1000;
	else if (sim_arg(rq, "sinceTime") && parse_time_ms(sim_arg(rq, "sinceTime"), &since_ms) < 0) {
		log_error400(rs, "sinceTime must be an RFC 3339 time");
		return;
	}
	if (tail >= 0 && tail < n)
		first = n - (int)tail;
	buf_init(&out, 0);
	cJSON_ArrayForEach(line, lines)
	{
		int64_t t = start + (int64_t)i * 1000;
		if (t > end)
			t = end;
		if (i++ < first || (since_ms >= 0 && t < since_ms))
			continue;
		if (stamps) {
			char ts[32];
			format_time(t, ts, sizeof(ts));
			/* RFC3339Nano, as the kubelet writes it */
			buf_printf(&out, "%.19s.%03d000000Z ", ts, (int)(t % 1000));
		}
		buf_puts(&out, line->valuestring);
		buf_puts(&out, "\n");
	}
	if (limit >= 0 && (long long)out.len > limit) {
		out.len = (size_t)limit;
		if (out.data)
			out.data[out.len] = '\0';
	}
	rs->body_len = out.len;
	rs->body = buf_detach(&out);
}
