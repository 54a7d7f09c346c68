/*
 * This file contains the unit tests for the Kubernetes text formats
 * (tools/k8s_format.c) on real-shaped objects in tests/fixtures/k8s/ (most
 * taken from the simcluster scenarios with ${now-…} resolved against
 * 2026-01-10T12:00:00Z): OOMKilled and CrashLoopBackOff pods, ImagePullBackOff
 * with an init container, Pending Unschedulable, Evicted, events, deployment
 * conditions, rollout lines, node pressure and taints, PVCs, a failed job,
 * compact ages and the quoting of values. Run from the repository root.
 */
#include "harness.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "k8s.h"
#include "util.h"

static int64_t now;

/* Parses tests/fixtures/k8s/<name>; exits when missing (run from the repository root). */
static cJSON *fixture(const char *name)
{
	char path[256];
	size_t len;
	char *text;
	cJSON *j;
	FILE *f;

	snprintf(path, sizeof(path), "tests/fixtures/k8s/%s", name);
	f = fopen(path, "r");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	text = xmalloc(1 << 20);
	len = fread(text, 1, (1 << 20) - 1, f);
	text[len] = '\0';
	fclose(f);
	j = cJSON_Parse(text);
	free(text);
	if (j == NULL) {
		fprintf(stderr, "%s: bad JSON\n", path);
		exit(2);
	}
	return j;
}

/* The line of out starting with prefix (static copy), or "" when none. */
static const char *line_of(const struct buf *out, const char *prefix)
{
	static char line[4096];
	const char *p = out->data ? out->data : "";

	while (*p) {
		size_t n = strcspn(p, "\n");
		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			snprintf(line, sizeof(line), "%.*s", (int)n, p);
			return line;
		}
		p += n + (p[n] == '\n');
	}
	return "";
}

static void test_oom_pod(void)
{
	cJSON *pod = fixture("pod-oom.json");
	struct buf out;

	buf_init(&out, 0);
	k8s_format_pod(pod, now, &out);
	CHECK_STR(line_of(&out, "pod "),
		  "pod name=report-worker-6b8f9c7d54-x7kqp namespace=prod phase=Running "
		  "ready=false ready_containers=0/1 restarts=9 node=k8s-worker-2 "
		  "owner=ReplicaSet/report-worker-6b8f9c7d54 age=5d");
	CHECK_STR(line_of(&out, "container "),
		  "container name=report-worker ready=false restarts=9 state=waiting "
		  "reason=CrashLoopBackOff last_terminated=OOMKilled exit_code=137 "
		  "last_finished_age=3m image=registry.example.com/acme/report-worker:2.14.1 "
		  "limits.memory=512Mi requests.memory=256Mi requests.cpu=250m");
	CHECK_CONTAINS(out.data, "last_terminated=OOMKilled exit_code=137");
	/* CrashLoopBackOff's own message only repeats the back-off: left out. */
	CHECK(strstr(out.data, "back-off 5m0s") == NULL);
	CHECK_INT(k8s_pod_rank(pod), 1);
	CHECK(!k8s_pod_ready(pod));
	buf_release(&out);
	cJSON_Delete(pod);
}

static void test_image_pull_and_init(void)
{
	cJSON *pod = fixture("pod-imagepull.json");
	struct buf out;

	buf_init(&out, 0);
	k8s_format_pod(pod, now, &out);
	CHECK_STR(line_of(&out, "init_container "),
		  "init_container name=migrate ready=true restarts=0 state=terminated "
		  "reason=Completed exit_code=0 image=registry.example.com/acme/api-migrate:1.4.3");
	CHECK_STR(line_of(&out, "container name=api "),
		  "container name=api ready=false restarts=0 state=waiting reason=ImagePullBackOff "
		  "message=\"Back-off pulling image 'registry.example.com/acme/api:1.4.3'\" "
		  "image=registry.example.com/acme/api:1.4.3 limits.memory=256Mi limits.cpu=500m "
		  "requests.memory=128Mi requests.cpu=100m");
	CHECK_STR(line_of(&out, "container name=sidecar"),
		  "container name=sidecar ready=true restarts=0 state=running "
		  "image=envoyproxy/envoy:v1.29.1");
	CHECK_CONTAINS(line_of(&out, "pod "), "phase=Pending ready=false ready_containers=1/2");
	/* Order: pod, init containers, containers. */
	CHECK(strstr(out.data, "init_container") < strstr(out.data, "\ncontainer "));
	CHECK_INT(k8s_pod_rank(pod), 0);
	buf_release(&out);
	cJSON_Delete(pod);
}

static void test_unschedulable(void)
{
	cJSON *pod = fixture("pod-unschedulable.json");
	struct buf out;

	buf_init(&out, 0);
	k8s_format_pod(pod, now, &out);
	CHECK_STR(line_of(&out, "pod "),
		  "pod name=db-0 namespace=data phase=Pending ready=false ready_containers=0/1 "
		  "restarts=0 owner=StatefulSet/db age=3h reason=Unschedulable "
		  "message=\"0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes "
		  "are available: 3 No preemption victims found for incoming pod..\"");
	/* No status yet: no state token, no node. */
	CHECK_STR(line_of(&out, "container "),
		  "container name=postgres ready=false restarts=0 image=postgres:16.2 "
		  "requests.memory=64Gi requests.cpu=16");
	buf_release(&out);
	cJSON_Delete(pod);
}

static void test_evicted_quoting(void)
{
	cJSON *pod = fixture("pod-evicted.json");
	struct buf out;

	buf_init(&out, 0);
	k8s_format_pod(pod, now, &out);
	/* '"' becomes '\'', a newline a space. */
	CHECK_CONTAINS(line_of(&out, "pod "), "phase=Failed ready=false");
	CHECK_CONTAINS(line_of(&out, "pod "),
		       "reason=Evicted message=\"The node was low on resource: memory.");
	CHECK_CONTAINS(line_of(&out, "pod "), "memory. 'quoted' second line\"");
	CHECK_CONTAINS(line_of(&out, "container "),
		       "state=terminated reason=ContainerStatusUnknown exit_code=137");
	CHECK_INT(k8s_pod_rank(pod), 0);
	buf_release(&out);
	cJSON_Delete(pod);
}

static void test_value_cap_and_odd_values(void)
{
	cJSON *pod = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(pod, "metadata");
	cJSON *st = cJSON_AddObjectToObject(pod, "status");
	char big[700];
	struct buf out;
	const char *m, *end;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + 299, "é", 2); /* a 2-byte character straddling the cap */
	cJSON_AddStringToObject(meta, "name", "odd name\"x");
	cJSON_AddStringToObject(st, "phase", "Failed");
	cJSON_AddStringToObject(st, "reason", "Evicted");
	cJSON_AddStringToObject(st, "message", big);
	buf_init(&out, 0);
	k8s_format_pod(pod, now, &out);
	/* A value that is not a plain token is quoted. */
	CHECK_CONTAINS(out.data, "pod name=\"odd name'x\" phase=Failed");
	m = strstr(out.data, "message=\"");
	CHECK(m != NULL);
	if (m != NULL) {
		m += 9;
		end = strstr(m, "…\"");
		CHECK(end != NULL);
		/* Cut before the character that would pass 300 bytes. */
		CHECK_INT(end - m, 299);
	}
	CHECK(strstr(out.data, " age=") == NULL); /* absent fields are left out */
	buf_release(&out);
	cJSON_Delete(pod);
}

/* A long event message keeps its head and its tail (where the reason is). */
static void test_event_long_message(void)
{
	char msg[1024];
	cJSON *ev = cJSON_CreateObject();
	cJSON *obj = cJSON_AddObjectToObject(ev, "involvedObject");
	struct buf out;
	const char *m, *end;

	snprintf(msg, sizeof(msg), "Failed to pull image \"%s\": failed to resolve reference \"%s\": "
		 "pull access denied: authorization failed: no basic auth credentials",
		 "123456789012.dkr.ecr.eu-west-1.amazonaws.com/partner/edi-gateway:3.2.1-with-a-long-tag-"
		 "that-goes-on-and-on-and-on",
		 "123456789012.dkr.ecr.eu-west-1.amazonaws.com/partner/edi-gateway:3.2.1-with-a-long-tag-"
		 "that-goes-on-and-on-and-on");
	cJSON_AddStringToObject(obj, "kind", "Pod");
	cJSON_AddStringToObject(obj, "name", "edi-gateway-b7d5c9f86b-fz6rq");
	cJSON_AddStringToObject(ev, "type", "Warning");
	cJSON_AddStringToObject(ev, "reason", "Failed");
	cJSON_AddStringToObject(ev, "message", msg);
	buf_init(&out, 0);
	k8s_format_event(ev, now, &out);
	CHECK_CONTAINS(out.data, "message=\"Failed to pull image '123456789012.dkr.ecr");
	CHECK_CONTAINS(out.data, " … ");
	CHECK_CONTAINS(out.data, "no basic auth credentials\"\n");
	m = strstr(out.data, "message=\"");
	end = m ? strrchr(m, '"') : NULL;
	CHECK(m != NULL && end != NULL && end - (m + 9) <= 300);
	buf_release(&out);
	cJSON_Delete(ev);
}

static void test_events(void)
{
	cJSON *list = fixture("events-crashloop.json");
	const cJSON *e;
	struct buf out;

	buf_init(&out, 0);
	cJSON_ArrayForEach(e, k8s_get(list, "items")) k8s_format_event(e, now, &out);
	CHECK_STR(line_of(&out, "event type=Warning reason=BackOff"),
		  "event type=Warning reason=BackOff object=Pod/report-worker-6b8f9c7d54-x7kqp "
		  "count=31 age=40s message=\"Back-off restarting failed container report-worker in "
		  "pod report-worker-6b8f9c7d54-x7kqp_prod(ecf3f161-c483-4b63-acf4-d7b22789907e)\"");
	CHECK_CONTAINS(line_of(&out, "event type=Warning reason=OOMKilling"),
		       "object=Node/k8s-worker-2 count=9 age=3m message=\"Memory cgroup out of "
		       "memory: Killed process 48211 (java)");
	CHECK(k8s_event_time_ms(cJSON_GetArrayItem(k8s_get(list, "items"), 0)) > 0);
	buf_release(&out);
	cJSON_Delete(list);
}

static void test_event_v1_shape(void)
{
	cJSON *ev = cJSON_Parse(
	    "{\"type\":\"Warning\",\"reason\":\"FailedMount\",\"note\":\"MountVolume.SetUp failed\","
	    "\"regarding\":{\"kind\":\"Pod\",\"name\":\"db-0\"},\"series\":{\"count\":4,"
	    "\"lastObservedTime\":\"2026-01-10T11:58:00.000000Z\"},"
	    "\"eventTime\":\"2026-01-10T11:00:00.000000Z\"}");
	struct buf out;

	buf_init(&out, 0);
	k8s_format_event(ev, now, &out);
	CHECK_STR(out.data, "event type=Warning reason=FailedMount object=Pod/db-0 count=4 age=2m "
			    "message=\"MountVolume.SetUp failed\"\n");
	buf_release(&out);
	cJSON_Delete(ev);
}

static void test_deployment(void)
{
	cJSON *d = fixture("deployment-checkout.json");
	struct buf out;

	buf_init(&out, 0);
	k8s_format_deployment(d, now, &out);
	CHECK_STR(out.data,
		  "deployment name=checkout-api namespace=prod replicas=3 updated=3 ready=1 "
		  "available=1 unavailable=2 paused=false revision=7 generation=7 "
		  "observed_generation=7 age=210d\n"
		  "condition type=Available status=False reason=MinimumReplicasUnavailable "
		  "message=\"Deployment does not have minimum availability.\"\n"
		  "condition type=Progressing status=True reason=NewReplicaSetAvailable "
		  "message=\"ReplicaSet 'checkout-api-84c6f7b9d5' has successfully progressed.\"\n");
	buf_release(&out);
	cJSON_Delete(d);
}

static void test_replicaset_line(void)
{
	cJSON *list = fixture("replicasets-checkout.json");
	struct buf out;

	buf_init(&out, 0);
	k8s_format_replicaset(cJSON_GetArrayItem(k8s_get(list, "items"), 1), true, now, &out);
	CHECK_STR(out.data,
		  "revision=7 replicaset=checkout-api-84c6f7b9d5 age=20m "
		  "image=registry.example.com/acme/checkout-api:1.42.0 replicas=3 ready=1 "
		  "current=true change_cause=\"deploy checkout-api 1.42.0 (pipeline #5812, commit "
		  "9f3c2ab)\"\n");
	buf_release(&out);
	cJSON_Delete(list);
}

static void test_node_pressure(void)
{
	cJSON *node = fixture("node-pressure.json"), *list = fixture("nodes.json");
	struct buf out;

	buf_init(&out, 0);
	k8s_format_node(node, now, &out);
	CHECK_STR(out.data, "node name=k8s-worker-1 ready=False reason=KubeletNotReady since=10m "
			    "unschedulable=true pressure=MemoryPressure,DiskPressure "
			    "taints=node.kubernetes.io/unreachable:NoSchedule,dedicated=gpu:NoExecute "
			    "kubelet=v1.30.4\n");
	buf_reset(&out);
	k8s_format_node(cJSON_GetArrayItem(k8s_get(list, "items"), 0), now, &out);
	CHECK_STR(out.data, "node name=k8s-worker-2 ready=True reason=KubeletReady since=30d "
			    "unschedulable=false pressure=none taints=none kubelet=v1.30.4\n");
	buf_release(&out);
	cJSON_Delete(node);
	cJSON_Delete(list);
}

static void test_pvc_and_job(void)
{
	cJSON *pvcs = fixture("pvcs.json"), *job = fixture("job-failed.json");
	const cJSON *e;
	struct buf out;

	buf_init(&out, 0);
	cJSON_ArrayForEach(e, k8s_get(pvcs, "items")) k8s_format_pvc(e, now, &out);
	CHECK_STR(out.data, "pvc name=data-db-0 namespace=data phase=Bound capacity=10Gi "
			    "requested=10Gi storage_class=standard volume=pvc-123 age=30d\n"
			    "pvc name=data-db-1 namespace=data phase=Pending requested=10Gi "
			    "storage_class=fast-ssd age=1h\n");
	buf_reset(&out);
	k8s_format_job(job, now, &out);
	CHECK_STR(out.data, "job name=backup namespace=ops active=0 succeeded=0 failed=6 "
			    "backoff_limit=6 age=1h condition=Failed reason=BackoffLimitExceeded "
			    "message=\"Job has reached the specified backoff limit\"\n");
	buf_release(&out);
	cJSON_Delete(pvcs);
	cJSON_Delete(job);
}

static void test_ages(void)
{
	char a[32];

	k8s_format_age(45, a, sizeof(a));
	CHECK_STR(a, "45s");
	k8s_format_age(12 * 60 + 59, a, sizeof(a));
	CHECK_STR(a, "12m");
	k8s_format_age(3 * 3600 + 1, a, sizeof(a));
	CHECK_STR(a, "3h");
	k8s_format_age(2 * 86400 + 7, a, sizeof(a));
	CHECK_STR(a, "2d");
	k8s_format_age(-5, a, sizeof(a));
	CHECK_STR(a, "0s");
}

static void test_get_paths(void)
{
	cJSON *j = cJSON_Parse("{\"a\":{\"b\":{\"c\":\"x\"}},\"n\":3}");

	CHECK_STR(k8s_str(j, "a.b.c"), "x");
	CHECK(k8s_str(j, "a.b") == NULL);
	CHECK(k8s_get(j, "a.z.c") == NULL);
	CHECK(k8s_get(j, "n.x") == NULL);
	CHECK(k8s_get(NULL, "a") == NULL);
	cJSON_Delete(j);
}

int main(void)
{
	if (parse_time_ms("2026-01-10T12:00:00Z", &now) != 0)
		return 2;
	RUN(test_oom_pod);
	RUN(test_image_pull_and_init);
	RUN(test_unschedulable);
	RUN(test_evicted_quoting);
	RUN(test_value_cap_and_odd_values);
	RUN(test_events);
	RUN(test_event_long_message);
	RUN(test_event_v1_shape);
	RUN(test_deployment);
	RUN(test_replicaset_line);
	RUN(test_node_pressure);
	RUN(test_pvc_and_job);
	RUN(test_ages);
	RUN(test_get_paths);
	return harness_done();
}
