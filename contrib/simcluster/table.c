/*
 * This file contains the server-side printing of simcluster: the
 * meta.k8s.io/v1 Table that `kubectl get` asks for (Accept: …;as=Table…),
 * with the column definitions and cell rules of the real printers
 * (pkg/printers/internalversion): pod STATUS from container states, RESTARTS
 * as "5 (2m ago)", node Ready/NotReady, event LAST SEEN/OBJECT, and ages in
 * HumanDuration form. Like the real server, every column (wide ones too) has
 * a cell; kubectl drops priority-1 columns unless -o wide.
 */
#include "simcluster.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct column {
	const char *name;
	const char *type;
	int priority;
	const char *description;
};

#define NAME_COL {"Name", "string", 0, "Name must be unique within a namespace."}
#define AGE_COL {"Age", "string", 0, "CreationTimestamp is a timestamp representing the server time when this object was created."}

static const struct column pod_cols[] = {
	NAME_COL,
	{"Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."},
	{"Status", "string", 0, "The aggregate status of the containers in this pod."},
	{"Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
	AGE_COL,
	{"IP", "string", 1, "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."},
	{"Node", "string", 1, "NodeName is a request to schedule this pod onto a specific node."},
	{"Nominated Node", "string", 1, "nominatedNodeName is set only when this pod preempts other pods on the node."},
	{"Readiness Gates", "string", 1, "If specified, all readiness gates will be evaluated for pod readiness."},
};
static const struct column node_cols[] = {
	NAME_COL,
	{"Status", "string", 0, "The status of the node"},
	{"Roles", "string", 0, "The roles of the node"},
	AGE_COL,
	{"Version", "string", 0, "Kubelet Version reported by the node."},
	{"Internal-IP", "string", 1, "List of addresses reachable to the node. Queried from cloud provider, if available."},
	{"External-IP", "string", 1, "List of addresses reachable to the node. Queried from cloud provider, if available."},
	{"OS-Image", "string", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."},
	{"Kernel-Version", "string", 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."},
	{"Container-Runtime", "string", 1, "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."},
};
static const struct column event_cols[] = {
	{"Last Seen", "string", 0, "The last time that this event was observed."},
	{"Type", "string", 0, "Type of this event (Normal, Warning), new types could be added in the future."},
	{"Reason", "string", 0, "This should be a short, machine understandable string that gives the reason for this event being generated."},
	{"Object", "string", 0, "The object that this event is about."},
	{"Subobject", "string", 1, "The subobject that this event is about."},
	{"Source", "string", 1, "The component reporting this event. Should be a short machine understandable string."},
	{"Message", "string", 0, "A human-readable description of the status of this operation."},
	{"First Seen", "string", 1, "The time at which the event was first recorded."},
	{"Count", "integer", 1, "The number of times this event has occurred."},
	{"Name", "string", 1, "Name must be unique within a namespace."},
};
static const struct column deploy_cols[] = {
	NAME_COL,
	{"Ready", "string", 0, "Number of the pod with ready state"},
	{"Up-to-date", "string", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."},
	{"Available", "string", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."},
	AGE_COL,
	{"Containers", "string", 1, "Names of each container in the template."},
	{"Images", "string", 1, "Images referenced by each container in the template."},
	{"Selector", "string", 1, "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."},
};
static const struct column rs_cols[] = {
	NAME_COL,
	{"Desired", "integer", 0, "Replicas is the number of desired replicas."},
	{"Current", "integer", 0, "Replicas is the most recently observed number of replicas."},
	{"Ready", "integer", 0, "The number of ready replicas for this replica set."},
	AGE_COL,
	{"Containers", "string", 1, "Names of each container in the template."},
	{"Images", "string", 1, "Images referenced by each container in the template."},
	{"Selector", "string", 1, "Selector is a label query over pods that should match the replica count."},
};
static const struct column job_cols[] = {
	NAME_COL,
	{"Status", "string", 0, "Status of the job."},
	{"Completions", "string", 0, "The desired number of successfully finished pods the job should be run with."},
	{"Duration", "string", 0, "Time required to complete the job."},
	AGE_COL,
	{"Containers", "string", 1, "Names of each container in the template."},
	{"Images", "string", 1, "Images referenced by each container in the template."},
	{"Selector", "string", 1, "A label query over pods that should match the pod count."},
};
static const struct column pvc_cols[] = {
	NAME_COL,
	{"Status", "string", 0, "phase represents the current phase of PersistentVolumeClaim."},
	{"Volume", "string", 0, "volumeName is the binding reference to the PersistentVolume backing this claim."},
	{"Capacity", "string", 0, "capacity represents the actual resources of the underlying volume."},
	{"Access Modes", "string", 0, "accessModes contains the actual access modes the volume backing the PVC has."},
	{"StorageClass", "string", 0, "storageClassName is the name of the StorageClass required by the claim."},
	{"VolumeAttributesClass", "string", 0, "volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim."},
	AGE_COL,
	{"VolumeMode", "string", 1, "volumeMode defines what type of volume is required by the claim."},
};
static const struct column ns_cols[] = {
	NAME_COL,
	{"Status", "string", 0, "The status of the namespace"},
	AGE_COL,
};
static const struct column generic_cols[] = {NAME_COL, AGE_COL};

void table_age(int64_t span_ms, char *out, size_t outlen)
{
	int64_t s = span_ms / 1000, m = s / 60, h = s / 3600, d = h / 24;
	if (s < -1)
		snprintf(out, outlen, "<invalid>");
	else if (s < 0)
		snprintf(out, outlen, "0s");
	else if (s < 120)
		snprintf(out, outlen, "%llds", (long long)s);
	else if (m < 10 && s % 60)
		snprintf(out, outlen, "%lldm%llds", (long long)m, (long long)(s % 60));
	else if (m < 180)
		snprintf(out, outlen, "%lldm", (long long)m);
	else if (h < 8 && m % 60)
		snprintf(out, outlen, "%lldh%lldm", (long long)h, (long long)(m % 60));
	else if (h < 48)
		snprintf(out, outlen, "%lldh", (long long)h);
	else if (h < 24 * 8 && h % 24)
		snprintf(out, outlen, "%lldd%lldh", (long long)d, (long long)(h % 24));
	else if (h < 24 * 365 * 2)
		snprintf(out, outlen, "%lldd", (long long)d);
	else if (h < 24 * 365 * 8 && d % 365)
		snprintf(out, outlen, "%lldy%lldd", (long long)(d / 365), (long long)(d % 365));
	else
		snprintf(out, outlen, "%lldy", (long long)(d / 365));
}

/* Age of the timestamp at path, "<unknown>" when absent. */
static void age_of(const cJSON *o, const char *path, int64_t now, char *out, size_t outlen)
{
	int64_t t = sim_time(o, path);
	if (t < 0)
		snprintf(out, outlen, "<unknown>");
	else
		table_age(now - t, out, outlen);
}

static const char *or_none(const char *s)
{
	return s && *s ? s : "<none>";
}

static void add_str(cJSON *cells, const char *s)
{
	cJSON_AddItemToArray(cells, cJSON_CreateString(s ? s : ""));
}

static void add_int(cJSON *cells, const cJSON *o, const char *path)
{
	cJSON_AddItemToArray(cells, cJSON_CreateNumber(cJSON_GetNumberValue(sim_get(o, path)) > 0
						       ? cJSON_GetNumberValue(sim_get(o, path))
						       : 0));
}

static int num(const cJSON *o, const char *path)
{
	const cJSON *v = sim_get(o, path);
	return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

/* Joins one string field of each element of an array ("name" of containers …). */
static void add_joined(cJSON *cells, const cJSON *arr, const char *field)
{
	struct buf b;
	const cJSON *c;
	buf_init(&b, 4096);
	cJSON_ArrayForEach(c, arr)
	{
		if (b.len)
			buf_puts(&b, ",");
		buf_puts(&b, sim_str(c, field) ? sim_str(c, field) : "");
	}
	add_str(cells, b.data ? b.data : "");
	buf_release(&b);
}

static void add_selector(cJSON *cells, const cJSON *sel)
{
	struct buf b;
	const cJSON *c;
	buf_init(&b, 4096);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"))
	{
		if (cJSON_IsString(c))
			buf_printf(&b, "%s%s=%s", b.len ? "," : "", c->string, c->valuestring);
	}
	add_str(cells, b.len ? b.data : "<none>");
	buf_release(&b);
}

static void pod_cells(cJSON *cells, const cJSON *pod, int64_t now)
{
	const cJSON *spec = sim_get(pod, "spec"), *st = sim_get(pod, "status"), *cs;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(st, "containerStatuses");
	int restarts = 0, ready = 0, total = cJSON_GetArraySize(sim_get(spec, "containers"));
	int64_t last_restart = -1;
	char reason[96], age[32], rs[64];
	bool has_running = false, initializing = false;
	int i = 0, n_init = cJSON_GetArraySize(sim_get(st, "initContainerStatuses"));

	snprintf(reason, sizeof(reason), "%s",
		 sim_str(st, "reason") ? sim_str(st, "reason")
				       : (sim_str(st, "phase") ? sim_str(st, "phase") : "Unknown"));
	cJSON_ArrayForEach(cs, sim_get(st, "initContainerStatuses"))
	{
		const char *w = sim_str(cs, "state.waiting.reason");
		restarts += num(cs, "restartCount");
		if (sim_get(cs, "state.terminated") && num(cs, "state.terminated.exitCode") == 0) {
			i++;
			continue;
		}
		if (sim_get(cs, "state.terminated"))
			snprintf(reason, sizeof(reason), "Init:ExitCode:%d",
				 num(cs, "state.terminated.exitCode"));
		else if (w && *w && strcmp(w, "PodInitializing") != 0)
			snprintf(reason, sizeof(reason), "Init:%s", w);
		else
			snprintf(reason, sizeof(reason), "Init:%d/%d", i, n_init);
		initializing = true;
		break;
	}
	if (!initializing) {
		restarts = 0;
		for (int k = cJSON_GetArraySize(list) - 1; k >= 0; k--) {
			const cJSON *c = cJSON_GetArrayItem(list, k);
			int64_t fin = sim_time(c, "lastState.terminated.finishedAt");
			const char *w = sim_str(c, "state.waiting.reason");
			const char *t = sim_str(c, "state.terminated.reason");
			restarts += num(c, "restartCount");
			if (fin > last_restart)
				last_restart = fin;
			if (w && *w)
				snprintf(reason, sizeof(reason), "%s", w);
			else if (t && *t)
				snprintf(reason, sizeof(reason), "%s", t);
			else if (sim_get(c, "state.terminated"))
				snprintf(reason, sizeof(reason), "ExitCode:%d",
					 num(c, "state.terminated.exitCode"));
			else if (cJSON_IsTrue(sim_get(c, "ready")) && sim_get(c, "state.running")) {
				has_running = true;
				ready++;
			}
		}
		if (strcmp(reason, "Completed") == 0 && has_running)
			snprintf(reason, sizeof(reason), "Running");
	}
	if (sim_get(pod, "metadata.deletionTimestamp")) {
		const char *ph = sim_str(st, "phase");
		if (sim_str(st, "reason") && strcmp(sim_str(st, "reason"), "NodeLost") == 0)
			snprintf(reason, sizeof(reason), "Unknown");
		else if (!ph || (strcmp(ph, "Succeeded") != 0 && strcmp(ph, "Failed") != 0))
			snprintf(reason, sizeof(reason), "Terminating");
	}
	add_str(cells, sim_str(pod, "metadata.name"));
	snprintf(rs, sizeof(rs), "%d/%d", ready, total);
	add_str(cells, rs);
	add_str(cells, reason);
	if (restarts != 0 && last_restart > 0) {
		table_age(now - last_restart, age, sizeof(age));
		snprintf(rs, sizeof(rs), "%d (%s ago)", restarts, age);
	} else {
		snprintf(rs, sizeof(rs), "%d", restarts);
	}
	add_str(cells, rs);
	age_of(pod, "metadata.creationTimestamp", now, age, sizeof(age));
	add_str(cells, age);
	add_str(cells, or_none(sim_str(st, "podIP")));
	add_str(cells, or_none(sim_str(spec, "nodeName")));
	add_str(cells, or_none(sim_str(st, "nominatedNodeName")));
	add_str(cells, "<none>");
}

static void node_cells(cJSON *cells, const cJSON *node, int64_t now)
{
	const cJSON *c;
	char status[64] = "Unknown", age[32];
	struct buf roles;

	cJSON_ArrayForEach(c, sim_get(node, "status.conditions"))
	{
		if (sim_str(c, "type") && strcmp(sim_str(c, "type"), "Ready") == 0) {
			const char *s = sim_str(c, "status");
			snprintf(status, sizeof(status), "%s",
				 s && strcmp(s, "True") == 0 ? "Ready" : "NotReady");
		}
	}
	if (cJSON_IsTrue(sim_get(node, "spec.unschedulable")))
		strlcpy0(status + strlen(status), ",SchedulingDisabled", sizeof(status) - strlen(status));
	buf_init(&roles, 4096);
	cJSON_ArrayForEach(c, sim_get(node, "metadata.labels"))
	{
		if (str_has_prefix(c->string, "node-role.kubernetes.io/") && c->string[24])
			buf_printf(&roles, "%s%s", roles.len ? "," : "", c->string + 24);
	}
	add_str(cells, sim_str(node, "metadata.name"));
	add_str(cells, status);
	add_str(cells, roles.len ? roles.data : "<none>");
	buf_release(&roles);
	age_of(node, "metadata.creationTimestamp", now, age, sizeof(age));
	add_str(cells, age);
	add_str(cells, sim_str(node, "status.nodeInfo.kubeletVersion"));
	for (int k = 0; k < 2; k++) {
		const char *want = k ? "ExternalIP" : "InternalIP", *ip = NULL;
		cJSON_ArrayForEach(c, sim_get(node, "status.addresses"))
		{
			if (ip == NULL && sim_str(c, "type") && strcmp(sim_str(c, "type"), want) == 0)
				ip = sim_str(c, "address");
		}
		add_str(cells, or_none(ip));
	}
	add_str(cells, or_none(sim_str(node, "status.nodeInfo.osImage")));
	add_str(cells, or_none(sim_str(node, "status.nodeInfo.kernelVersion")));
	add_str(cells, or_none(sim_str(node, "status.nodeInfo.containerRuntimeVersion")));
}

static const char *first_str(const cJSON *o, const char *a, const char *b)
{
	const char *s = sim_str(o, a);
	return s && *s ? s : sim_str(o, b);
}

/* Core v1 events, and events.k8s.io/v1 ones through their renamed fields. */
static void event_cells(cJSON *cells, const cJSON *ev, int64_t now)
{
	bool v1 = sim_get(ev, "regarding") != NULL;
	const cJSON *io = sim_get(ev, v1 ? "regarding" : "involvedObject");
	const char *first = v1 ? "deprecatedFirstTimestamp" : "firstTimestamp";
	const char *last = v1 ? "deprecatedLastTimestamp" : "lastTimestamp";
	char fs[32], ls[32], obj[320], src[256];
	const char *kind = sim_str(io, "kind") ? sim_str(io, "kind") : "";
	const char *comp, *host, *msg;
	int count = num(ev, v1 ? "deprecatedCount" : "count");
	size_t k;

	if (sim_time(ev, first) >= 0)
		age_of(ev, first, now, fs, sizeof(fs));
	else
		age_of(ev, "eventTime", now, fs, sizeof(fs));
	if (sim_time(ev, last) >= 0)
		age_of(ev, last, now, ls, sizeof(ls));
	else
		strlcpy0(ls, fs, sizeof(ls));
	if (sim_get(ev, "series.lastObservedTime")) {
		age_of(ev, "series.lastObservedTime", now, ls, sizeof(ls));
		count = num(ev, "series.count");
	}
	if (count == 0)
		count = 1;
	snprintf(obj, sizeof(obj), "%s%s%s", kind, sim_str(io, "name") ? "/" : "",
		 sim_str(io, "name") ? sim_str(io, "name") : "");
	for (k = 0; obj[k] && obj[k] != '/'; k++)
		if (obj[k] >= 'A' && obj[k] <= 'Z')
			obj[k] = (char)(obj[k] - 'A' + 'a');
	comp = v1 ? first_str(ev, "deprecatedSource.component", "reportingController")
		  : first_str(ev, "source.component", "reportingComponent");
	host = v1 ? first_str(ev, "deprecatedSource.host", "reportingInstance")
		  : first_str(ev, "source.host", "reportingInstance");
	snprintf(src, sizeof(src), "%s%s%s", comp ? comp : "", host && *host ? ", " : "",
		 host && *host ? host : "");
	msg = sim_str(ev, v1 ? "note" : "message");
	add_str(cells, ls);
	add_str(cells, sim_str(ev, "type"));
	add_str(cells, sim_str(ev, "reason"));
	add_str(cells, obj);
	add_str(cells, sim_str(io, "fieldPath"));
	add_str(cells, src);
	add_str(cells, msg);
	add_str(cells, fs);
	cJSON_AddItemToArray(cells, cJSON_CreateNumber(count));
	add_str(cells, sim_str(ev, "metadata.name"));
}

static void workload_cells(cJSON *cells, const struct resource *r, const cJSON *o, int64_t now)
{
	const cJSON *containers = sim_get(o, "spec.template.spec.containers");
	char s[64], age[32];

	add_str(cells, sim_str(o, "metadata.name"));
	if (r->id == RES_DEPLOYMENTS) {
		snprintf(s, sizeof(s), "%d/%d", num(o, "status.readyReplicas"), num(o, "spec.replicas"));
		add_str(cells, s);
		add_int(cells, o, "status.updatedReplicas");
		add_int(cells, o, "status.availableReplicas");
	} else if (r->id == RES_REPLICASETS) {
		add_int(cells, o, "spec.replicas");
		add_int(cells, o, "status.replicas");
		add_int(cells, o, "status.readyReplicas");
	} else {
		const char *status = "Running";
		const cJSON *c;
		int64_t start = sim_time(o, "status.startTime"), end = sim_time(o, "status.completionTime");
		cJSON_ArrayForEach(c, sim_get(o, "status.conditions"))
		{
			const char *t = sim_str(c, "type"), *cs = sim_str(c, "status");
			if (t && cs && strcmp(cs, "True") == 0 &&
			    (strcmp(t, "Complete") == 0 || strcmp(t, "Failed") == 0))
				status = strcmp(t, "Complete") == 0 ? "Complete" : "Failed";
		}
		add_str(cells, status);
		if (sim_get(o, "spec.completions"))
			snprintf(s, sizeof(s), "%d/%d", num(o, "status.succeeded"),
				 num(o, "spec.completions"));
		else
			snprintf(s, sizeof(s), "%d/1", num(o, "status.succeeded"));
		add_str(cells, s);
		age[0] = '\0';
		if (start > 0)
			table_age((end > 0 ? end : now) - start, age, sizeof(age));
		add_str(cells, age);
	}
	age_of(o, "metadata.creationTimestamp", now, age, sizeof(age));
	add_str(cells, age);
	add_joined(cells, containers, "name");
	add_joined(cells, containers, "image");
	add_selector(cells, sim_get(o, "spec.selector"));
}

static void pvc_cells(cJSON *cells, const cJSON *o, int64_t now)
{
	static const char *modes[][2] = {{"ReadWriteOnce", "RWO"},
					 {"ReadOnlyMany", "ROX"},
					 {"ReadWriteMany", "RWX"},
					 {"ReadWriteOncePod", "RWOP"}};
	const cJSON *m;
	bool bound = sim_str(o, "spec.volumeName") && *sim_str(o, "spec.volumeName");
	struct buf b;
	char age[32];

	add_str(cells, sim_str(o, "metadata.name"));
	add_str(cells, sim_get(o, "metadata.deletionTimestamp") ? "Terminating"
							        : sim_str(o, "status.phase"));
	add_str(cells, sim_str(o, "spec.volumeName"));
	add_str(cells, bound ? sim_str(o, "status.capacity.storage") : "");
	buf_init(&b, 256);
	const cJSON *am = bound ? sim_get(o, "status.accessModes") : NULL;
	cJSON_ArrayForEach(m, am)
	{
		for (size_t k = 0; k < ARRAY_LEN(modes); k++)
			if (cJSON_IsString(m) && strcmp(m->valuestring, modes[k][0]) == 0)
				buf_printf(&b, "%s%s", b.len ? "," : "", modes[k][1]);
	}
	add_str(cells, b.data ? b.data : "");
	buf_release(&b);
	add_str(cells, sim_str(o, "spec.storageClassName"));
	add_str(cells, sim_str(o, "spec.volumeAttributesClassName")
			       ? sim_str(o, "spec.volumeAttributesClassName")
			       : "<unset>");
	age_of(o, "metadata.creationTimestamp", now, age, sizeof(age));
	add_str(cells, age);
	add_str(cells, sim_str(o, "spec.volumeMode") ? sim_str(o, "spec.volumeMode") : "Filesystem");
}

bool table_wanted(const char *accept)
{
	return accept != NULL && strstr(accept, "as=Table") != NULL;
}

cJSON *table_build(const struct resource *r, const cJSON *items, const char *rv, int64_t now)
{
	const struct column *cols = generic_cols;
	size_t ncols = ARRAY_LEN(generic_cols);
	cJSON *doc = cJSON_CreateObject(), *defs, *rows;
	const cJSON *o;
	char age[32];

#define USE(a) (cols = (a), ncols = ARRAY_LEN(a))
	switch (r->id) {
	case RES_PODS: USE(pod_cols); break;
	case RES_NODES: USE(node_cols); break;
	case RES_EVENTS:
	case RES_EVENTS_V1: USE(event_cols); break;
	case RES_DEPLOYMENTS: USE(deploy_cols); break;
	case RES_REPLICASETS: USE(rs_cols); break;
	case RES_JOBS: USE(job_cols); break;
	case RES_PVCS: USE(pvc_cols); break;
	case RES_NAMESPACES: USE(ns_cols); break;
	default: break;
	}
#undef USE
	cJSON_AddStringToObject(doc, "kind", "Table");
	cJSON_AddStringToObject(doc, "apiVersion", "meta.k8s.io/v1");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(doc, "metadata"), "resourceVersion",
				rv ? rv : "");
	defs = cJSON_AddArrayToObject(doc, "columnDefinitions");
	for (size_t i = 0; i < ncols; i++) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "name", cols[i].name);
		cJSON_AddStringToObject(d, "type", cols[i].type);
		cJSON_AddStringToObject(d, "format", strcmp(cols[i].name, "Name") == 0 ? "name" : "");
		cJSON_AddStringToObject(d, "description", cols[i].description);
		cJSON_AddNumberToObject(d, "priority", cols[i].priority);
		cJSON_AddItemToArray(defs, d);
	}
	rows = cJSON_AddArrayToObject(doc, "rows");
	cJSON_ArrayForEach(o, items)
	{
		cJSON *row = cJSON_CreateObject(), *cells = cJSON_AddArrayToObject(row, "cells");
		cJSON *meta = cJSON_CreateObject();
		switch (r->id) {
		case RES_PODS: pod_cells(cells, o, now); break;
		case RES_NODES: node_cells(cells, o, now); break;
		case RES_EVENTS:
		case RES_EVENTS_V1: event_cells(cells, o, now); break;
		case RES_DEPLOYMENTS:
		case RES_REPLICASETS:
		case RES_JOBS: workload_cells(cells, r, o, now); break;
		case RES_PVCS: pvc_cells(cells, o, now); break;
		case RES_NAMESPACES:
			add_str(cells, sim_str(o, "metadata.name"));
			add_str(cells, sim_str(o, "status.phase"));
			age_of(o, "metadata.creationTimestamp", now, age, sizeof(age));
			add_str(cells, age);
			break;
		default:
			add_str(cells, sim_str(o, "metadata.name"));
			age_of(o, "metadata.creationTimestamp", now, age, sizeof(age));
			add_str(cells, age);
			break;
		}
		cJSON_AddStringToObject(meta, "kind", "PartialObjectMetadata");
		cJSON_AddStringToObject(meta, "apiVersion", "meta.k8s.io/v1");
		cJSON_AddItemToObject(meta, "metadata", cJSON_Duplicate(sim_get(o, "metadata"), 1));
		cJSON_AddItemToObject(row, "object", meta);
		cJSON_AddItemToArray(rows, row);
	}
	return doc;
}
