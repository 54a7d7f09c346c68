/*
 * This file contains the unit tests of bot/intake*.c: every source parser on
 * captured and realistic payloads (tests/fixtures/payloads/, read relative to
 * the repo root), per-alert rejects in mixed batches, each 400/422 path and
 * the caps on hostile input.
 */
#include "harness.h"
#include "intake.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURES "tests/fixtures/payloads/"

/* Returns the owned contents of a fixture (NULL and a failure if unreadable). */
static char *load(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	long n;
	char *data;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s (run from the repo root)\n", path);
		harness_current_failed++;
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = xmalloc((size_t)n + 1);
	*len = fread(data, 1, (size_t)n, f);
	data[*len] = '\0';
	fclose(f);
	return data;
}

/* Parses a fixture; returns intake_parse's result (-2 if the file is missing). */
static int parse_fixture(const char *name, enum intake_format fmt, struct intake_result *r)
{
	size_t len = 0;
	char *body = load(name, &len);
	int rc;

	if (body == NULL) {
		memset(r, 0, sizeof(*r));
		return -2;
	}
	rc = intake_parse(body, len, fmt, r);
	free(body);
	return rc;
}

static int parse_str(const char *body, enum intake_format fmt, struct intake_result *r)
{
	return intake_parse(body, strlen(body), fmt, r);
}

/* Every string field a parser fills must be non-NULL; environment stays NULL. */
static void check_complete(const struct alert *a)
{
	CHECK(a->name != NULL && a->summary != NULL && a->description != NULL);
	CHECK(a->cluster != NULL && a->namespace != NULL && a->workload != NULL);
	CHECK(a->source_fingerprint != NULL && a->group_key != NULL && a->generator_url != NULL);
	CHECK(a->raw != NULL);
	CHECK(a->environment == NULL);
	CHECK_STR(kv_list_get(&a->labels, "alertname"), a->name);
}

static void test_alertmanager_firing_sample(void)
{
	struct intake_result r;
	const struct alert *a;

	CHECK_INT(parse_fixture("alertmanager-firing.json", INTAKE_AUTO, &r), 0);
	CHECK_INT(r.n, 1);
	CHECK_INT(r.n_rejects, 0);
	if (r.n == 1) {
		a = &r.alerts[0];
		check_complete(a);
		CHECK_INT(a->source, SOURCE_ALERTMANAGER);
		CHECK_STR(a->name, "KubePodCrashLooping");
		CHECK_INT(a->status, ALERT_FIRING);
		CHECK_INT(a->severity, SEV_CRITICAL);
		CHECK_STR(a->namespace, "prod");
		CHECK_STR(a->workload, "api-7f9c");
		CHECK_STR(a->cluster, "");
		CHECK_STR(a->summary, "Pod prod/api-7f9c is crash looping");
		CHECK_STR(a->description, "");
		CHECK_STR(a->source_fingerprint, "f1dbc1531778d73c");
		CHECK_INT(a->starts_at_ms, 1795389075357LL);
		CHECK_INT(a->ends_at_ms, 0);
		CHECK_STR(a->group_key,
			  "{}:{alertname=\"KubePodCrashLooping\", namespace=\"prod\"}");
		CHECK_STR(a->generator_url, "http://prometheus.local/graph?g0.expr=up");
		CHECK_STR(kv_list_get(&a->annotations, "runbook_url"),
			  "https://runbooks.example/KubePodCrashLooping");
		CHECK_CONTAINS(a->raw, "\"fingerprint\":\"f1dbc1531778d73c\"");
		CHECK(strstr(a->raw, "receiver") == NULL); /* the alert, not the envelope */
	}
	intake_result_release(&r);
	CHECK(r.alerts == NULL && r.n == 0);
}

static void test_alertmanager_resolved_sample(void)
{
	struct intake_result r;

	CHECK_INT(parse_fixture("alertmanager-resolved.json", INTAKE_ALERTMANAGER, &r), 0);
	CHECK_INT(r.n, 1);
	if (r.n == 1) {
		CHECK_INT(r.alerts[0].status, ALERT_RESOLVED);
		CHECK_INT(r.alerts[0].starts_at_ms, 1795389075357LL);
		CHECK_INT(r.alerts[0].ends_at_ms, 1795389081000LL);
		CHECK_STR(r.alerts[0].source_fingerprint, "f1dbc1531778d73c");
	}
	intake_result_release(&r);
}

static void test_alertmanager_batch(void)
{
	struct intake_result r;
	const struct alert *a;

	CHECK_INT(parse_fixture("alertmanager-batch.json", INTAKE_AUTO, &r), 0);
	CHECK_INT(r.n, 3);
	CHECK_INT(r.n_rejects, 0);
	if (r.n == 3) {
		a = &r.alerts[0];
		check_complete(a);
		CHECK_STR(a->name, "KubeDeploymentReplicasMismatch");
		CHECK_INT(a->status, ALERT_FIRING);
		CHECK_INT(a->severity, SEV_WARNING);
		CHECK_STR(a->cluster, "prod-eu1");
		CHECK_STR(a->namespace, "payments");
		CHECK_STR(a->workload, "checkout"); /* deployment before container */
		CHECK_STR(a->summary,
			  "Deployment has not matched the expected number of replicas.");
		CHECK_STR(a->source_fingerprint, "7b2f7c1a9d3e0f44");
		CHECK_INT(a->starts_at_ms, 1795388505123LL);

		a = &r.alerts[1];
		check_complete(a);
		CHECK_STR(a->name, "KubePodCrashLooping");
		CHECK_INT(a->status, ALERT_RESOLVED);
		CHECK_INT(a->severity, SEV_CRITICAL);
		CHECK_STR(a->workload, "checkout-7f9c8d6b5-x2k4q"); /* pod before container */
		CHECK_INT(a->ends_at_ms, 1795388715000LL);
		CHECK_CONTAINS(a->raw, "c0ffee0ddba11a55");
		CHECK(strstr(a->raw, "7b2f7c1a9d3e0f44") == NULL);

		a = &r.alerts[2];
		check_complete(a);
		CHECK_STR(a->name, "NodeFilesystemSpaceFillingUp");
		CHECK_STR(a->workload, "10.0.3.7:9100");
		CHECK_STR(a->namespace, "");
		/* No summary annotation: the description's first line stands in. */
		CHECK_CONTAINS(a->summary, "Filesystem on /dev/nvme0n1p1");
		CHECK_STR(a->summary, a->description);
		CHECK_STR(a->group_key,
			  "{}/{severity=~\"warning|critical\"}:{cluster=\"prod-eu1\"}");
		CHECK_STR(r.alerts[0].group_key, a->group_key);
	}
	intake_result_release(&r);
}

static void test_signoz(void)
{
	static const enum intake_format formats[] = {INTAKE_AUTO, INTAKE_ALERTMANAGER};
	enum intake_format f;

	CHECK_INT(intake_format_from_path("signoz", &f), 0);
	CHECK_INT(f, INTAKE_ALERTMANAGER);
	for (size_t i = 0; i < 2; i++) {
		struct intake_result r;
		CHECK_INT(parse_fixture("signoz.json", formats[i], &r), 0);
		CHECK_INT(r.n, 1);
		if (r.n == 1) {
			const struct alert *a = &r.alerts[0];
			check_complete(a);
			CHECK_INT(a->source, SOURCE_SIGNOZ);
			CHECK_STR(a->name, "[No data] checkout p99 latency");
			CHECK_INT(a->severity, SEV_CRITICAL); /* "error" */
			CHECK_STR(kv_list_get(&a->labels, "ruleId"),
				  "0196a3b2-5c4d-7e8f-9a0b-1c2d3e4f5a6b");
			CHECK(kv_list_get(&a->labels, "ruleSource") != NULL);
			CHECK_STR(a->summary, "The rule checkout p99 latency has no data");
			CHECK_STR(a->source_fingerprint, "e3a1d4b79f0c2b61");
			CHECK_INT(a->starts_at_ms, 1795421700000LL);
		}
		intake_result_release(&r);
	}
}

static void test_grafana(void)
{
	static const enum intake_format formats[] = {INTAKE_AUTO, INTAKE_GRAFANA};

	for (size_t i = 0; i < 2; i++) {
		struct intake_result r;
		CHECK_INT(parse_fixture("grafana.json", formats[i], &r), 0);
		CHECK_INT(r.n, 2);
		if (r.n == 2) {
			const struct alert *a = &r.alerts[0];
			check_complete(a);
			CHECK_INT(a->source, SOURCE_GRAFANA);
			CHECK_STR(a->name, "High memory usage");
			CHECK_INT(a->status, ALERT_FIRING);
			CHECK_INT(a->severity, SEV_WARNING);
			CHECK_STR(a->namespace, "payments");
			CHECK_STR(a->workload, "checkout");
			CHECK_STR(a->summary, "This alert was triggered for zone us-1");
			CHECK_STR(a->description, "The system has high memory usage");
			CHECK_STR(a->source_fingerprint, "c6eadffa33fcdf37");
			CHECK_INT(a->starts_at_ms, 1795420263157LL);
			CHECK_CONTAINS(a->raw, "\"valueString\"");
			CHECK_CONTAINS(a->raw, "\"silenceURL\"");
			CHECK_CONTAINS(a->raw, "\"values\"");

			a = &r.alerts[1];
			check_complete(a);
			CHECK_INT(a->status, ALERT_RESOLVED);
			CHECK_INT(a->ends_at_ms, 1795419600000LL);
			/* No summary or description: the rendered title is the fallback. */
			CHECK_STR(a->summary, "[FIRING:1, RESOLVED:1] (blue Infrastructure)");
			CHECK_STR(a->description, "");
		}
		intake_result_release(&r);
	}
}

static void test_detection(void)
{
	static const struct {
		const char *body;
		enum alert_source source;
	} cases[] = {
	    {"{\"version\":\"4\",\"alerts\":[{\"labels\":{\"alertname\":\"A\"},\"status\":"
	     "\"firing\"}]}",
	     SOURCE_ALERTMANAGER},
	    {"{\"orgId\":1,\"alerts\":[{\"labels\":{\"alertname\":\"A\"},\"status\":\"firing\"}]}",
	     SOURCE_GRAFANA},
	    {"{\"state\":\"ok\",\"status\":\"resolved\",\"alerts\":[{\"labels\":{\"alertname\":"
	     "\"A\"}}]}",
	     SOURCE_GRAFANA},
	    {"{\"alerts\":[{\"labels\":{\"alertname\":\"A\",\"ruleId\":\"\"},\"status\":\"firing\"}"
	     "]}",
	     SOURCE_SIGNOZ},
	    {"{\"alertname\":\"Disk\"}", SOURCE_GENERIC},
	    {"{\"labels\":{\"alertname\":\"Disk\"}}", SOURCE_GENERIC},
	    {"{\"monitor\":{\"id\":3},\"heartbeat\":{\"status\":0},\"msg\":\"x\"}",
	     SOURCE_UPTIME_KUMA},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct intake_result r;
		CHECK_INT(parse_str(cases[i].body, INTAKE_AUTO, &r), 0);
		CHECK_INT(r.n, 1);
		if (r.n == 1)
			CHECK_INT(r.alerts[0].source, cases[i].source);
		intake_result_release(&r);
	}
}

static void test_kuma_down(void)
{
	struct intake_result r;

	CHECK_INT(parse_fixture("uptime-kuma-down.json", INTAKE_AUTO, &r), 0);
	CHECK_INT(r.n, 1);
	CHECK(!r.test_message);
	if (r.n == 1) {
		const struct alert *a = &r.alerts[0];
		check_complete(a);
		CHECK_INT(a->source, SOURCE_UPTIME_KUMA);
		CHECK_STR(a->name, "MonitorDown");
		CHECK_INT(a->status, ALERT_FIRING);
		CHECK_INT(a->severity, SEV_CRITICAL);
		CHECK_STR(kv_list_get(&a->labels, "monitor"), "Checkout API");
		CHECK_STR(kv_list_get(&a->labels, "monitor_id"), "7");
		CHECK_STR(kv_list_get(&a->labels, "monitor_type"), "http");
		CHECK_STR(kv_list_get(&a->labels, "url"), "https://checkout.example.com/healthz");
		CHECK(kv_list_get(&a->labels, "hostname") == NULL);
		CHECK_STR(a->workload, "Checkout API");
		CHECK_STR(a->summary, "connect ECONNREFUSED 10.0.4.12:443");
		CHECK_CONTAINS(a->description, "[Checkout API]");
		CHECK_STR(a->source_fingerprint, "uptime-kuma:7");
		CHECK_INT(a->starts_at_ms, 1795435200123LL);
		CHECK_INT(a->ends_at_ms, 0);
		CHECK_CONTAINS(a->raw, "\"heartbeat\"");
	}
	intake_result_release(&r);
}

static void test_kuma_up(void)
{
	struct intake_result r;

	CHECK_INT(parse_fixture("uptime-kuma-up.json", INTAKE_UPTIME_KUMA, &r), 0);
	CHECK_INT(r.n, 1);
	if (r.n == 1) {
		const struct alert *a = &r.alerts[0];
		check_complete(a);
		CHECK_INT(a->status, ALERT_RESOLVED);
		CHECK_STR(a->name, "MonitorDown");
		CHECK_STR(a->summary, "200 - OK");
		CHECK_STR(a->source_fingerprint, "uptime-kuma:7");
		CHECK_INT(a->starts_at_ms, 0);
		CHECK_INT(a->ends_at_ms, 1795435440456LL);
	}
	intake_result_release(&r);
}

static void test_kuma_testing(void)
{
	struct intake_result r;

	CHECK_INT(parse_fixture("uptime-kuma-testing.json", INTAKE_AUTO, &r), 0);
	CHECK(r.test_message);
	CHECK_INT(r.n, 0);
	intake_result_release(&r);
	CHECK_INT(parse_str("{\"msg\":\"My Webhook Testing\"}", INTAKE_UPTIME_KUMA, &r), 0);
	CHECK(r.test_message);
	intake_result_release(&r);
	/* Null monitor and heartbeat without the Testing suffix is not a test. */
	CHECK_INT(
	    parse_str("{\"heartbeat\":null,\"monitor\":null,\"msg\":\"hello\"}", INTAKE_AUTO, &r),
	    -1);
	CHECK_INT(r.http_status, 422);
	CHECK(!r.test_message);
	intake_result_release(&r);
}

static void test_kuma_tags(void)
{
	struct intake_result r;

	CHECK_INT(parse_fixture("uptime-kuma-tags.json", INTAKE_AUTO, &r), 0);
	CHECK_INT(r.n, 1);
	if (r.n == 1) {
		const struct alert *a = &r.alerts[0];
		check_complete(a);
		CHECK_STR(kv_list_get(&a->labels, "env"), "prod");
		CHECK_STR(kv_list_get(&a->labels, "team"), "payments");
		CHECK_STR(kv_list_get(&a->labels, "database"), "");	 /* no value */
		CHECK(kv_list_get(&a->labels, "critical-path") == NULL); /* not a label key */
		CHECK_STR(a->name, "MonitorDown"); /* a tag cannot override it */
		CHECK_STR(kv_list_get(&a->labels, "monitor_type"), "port");
		CHECK_STR(kv_list_get(&a->labels, "hostname"), "orders-db.prod.internal");
		CHECK(kv_list_get(&a->labels, "url") == NULL); /* the form's "https://" default */
		CHECK_STR(a->source_fingerprint, "uptime-kuma:12");
		CHECK_INT(a->starts_at_ms, 1795403862901LL);
	}
	intake_result_release(&r);
}

static void test_kuma_statuses(void)
{
	static const struct {
		int status;
		int rc;
		enum alert_status alert_status;
		enum severity severity;
	} cases[] = {{2, 0, ALERT_FIRING, SEV_WARNING},
		     {3, 0, ALERT_RESOLVED, SEV_WARNING},
		     {7, -1, ALERT_FIRING, SEV_WARNING}};
	char body[256];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct intake_result r;
		snprintf(body, sizeof(body),
			 "{\"heartbeat\":{\"status\":%d,\"msg\":\"m\"},"
			 "\"monitor\":{\"name\":\"Shop\"},\"msg\":\"[Shop] m\"}",
			 cases[i].status);
		CHECK_INT(parse_str(body, INTAKE_AUTO, &r), cases[i].rc);
		if (cases[i].rc == 0 && r.n == 1) {
			CHECK_INT(r.alerts[0].status, cases[i].alert_status);
			CHECK_INT(r.alerts[0].severity, cases[i].severity);
			CHECK_STR(r.alerts[0].source_fingerprint, "uptime-kuma:Shop");
			CHECK(kv_list_get(&r.alerts[0].labels, "monitor_id") == NULL);
		} else if (cases[i].rc < 0) {
			CHECK_INT(r.http_status, 422);
			CHECK_CONTAINS(r.error, "status");
		}
		intake_result_release(&r);
	}
}

static void test_kuma_errors(void)
{
	static const char *bodies[] = {
	    "{\"heartbeat\":{\"status\":0},\"monitor\":null,\"msg\":\"x\"}",
	    "{\"heartbeat\":{\"status\":0},\"monitor\":{\"type\":\"http\"},\"msg\":\"x\"}",
	    "{\"heartbeat\":{\"status\":\"0\"},\"monitor\":{\"id\":1},\"msg\":\"x\"}",
	    "{\"heartbeat\":null,\"monitor\":{\"id\":1},\"msg\":\"x\"}",
	    "{\"heartbeat\":{\"status\":1.5},\"monitor\":{\"id\":1},\"msg\":\"x\"}",
	};
	for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
		struct intake_result r;
		CHECK_INT(parse_str(bodies[i], INTAKE_AUTO, &r), -1);
		CHECK_INT(r.http_status, 422);
		CHECK_CONTAINS(r.error, "Uptime Kuma");
		CHECK_INT(r.n, 0);
		intake_result_release(&r);
	}
}

static void test_generic_object(void)
{
	struct intake_result r;
	enum intake_format f;

	CHECK_INT(intake_format_from_path("generic", &f), 0);
	CHECK_INT(parse_fixture("generic-object.json", f, &r), 0);
	CHECK_INT(r.n, 1);
	if (r.n == 1) {
		const struct alert *a = &r.alerts[0];
		check_complete(a);
		CHECK_INT(a->source, SOURCE_GENERIC);
		CHECK_STR(a->name, "Nightly backup failed");
		CHECK_INT(a->status, ALERT_FIRING);
		CHECK_INT(a->severity, SEV_CRITICAL); /* "high" */
		CHECK_STR(a->namespace, "ops");
		CHECK_STR(a->workload, "nightly-backup-29391040");
		CHECK_STR(a->summary, "pg_dump of orders-db to s3://backups/orders failed");
		CHECK_STR(a->description,
			  "pg_dump exited with status 1 after 42 minutes.\nSee the job logs for "
			  "details.");
		CHECK_STR(a->source_fingerprint, "backup-nightly-orders");
		CHECK_INT(a->starts_at_ms, 1795401720000LL);
		CHECK_STR(kv_list_get(&a->annotations, "runbook_url"),
			  "https://runbooks.example.com/backups");
	}
	intake_result_release(&r);
}

static void test_generic_array(void)
{
	struct intake_result r;
	char hex[65];
	const char *ident = "alertname=QueueBacklog\npriority=P1\nservice=mailer\n";

	CHECK_INT(parse_fixture("generic-array.json", INTAKE_AUTO, &r), 0);
	CHECK_INT(r.n, 2);
	CHECK_INT(r.n_rejects, 1);
	if (r.n_rejects == 1) {
		CHECK_INT(r.rejects[0].index, 2);
		CHECK_CONTAINS(r.rejects[0].error, "no alertname");
	}
	if (r.n == 2) {
		const struct alert *a = &r.alerts[0];
		check_complete(a);
		CHECK_STR(a->name, "Certificate expires soon");
		CHECK_INT(a->severity, SEV_WARNING);
		CHECK_STR(a->cluster, "prod-us1");
		CHECK_STR(a->workload, "shop-frontend");
		CHECK_STR(a->summary, "Certificate expires soon");
		CHECK_STR(a->description, "TLS certificate for shop.example.com expires in 6 days");

		a = &r.alerts[1];
		check_complete(a);
		CHECK_STR(a->name, "QueueBacklog");
		CHECK_INT(a->status, ALERT_RESOLVED); /* "ok" */
		CHECK_INT(a->severity, SEV_CRITICAL); /* priority P1 */
		CHECK_STR(a->summary, "Queue mail-out drained");
		/* No fingerprint given: sha256 of the sorted labels. */
		sha256_hex(ident, strlen(ident), hex);
		CHECK_STR(a->source_fingerprint, hex);
	}
	intake_result_release(&r);
}

static void test_mixed_batch_rejects(void)
{
	const char *body = "{\"status\":\"firing\",\"alerts\":["
			   "{\"labels\":{\"alertname\":\"Good\",\"namespace\":\"a\"}},"
			   "{\"labels\":{\"alertname\":\"BadLabel\",\"replicas\":3}},"
			   "{\"labels\":{\"job\":\"x\"}},"
			   "\"not an object\","
			   "{\"labels\":{\"alertname\":\"BadStatus\"},\"status\":\"pending\"},"
			   "{\"status\":\"resolved\",\"labels\":{\"alertname\":\"Good2\"}},"
			   "{\"annotations\":{}}]}";
	struct intake_result r;

	CHECK_INT(parse_str(body, INTAKE_AUTO, &r), 0);
	CHECK_INT(r.n, 2);
	CHECK_INT(r.n_rejects, 5);
	if (r.n == 2) {
		CHECK_STR(r.alerts[0].name, "Good");
		CHECK_INT(r.alerts[0].status, ALERT_FIRING); /* the group's status */
		CHECK_STR(r.alerts[1].name, "Good2");
		CHECK_INT(r.alerts[1].status, ALERT_RESOLVED);
	}
	if (r.n_rejects == 5) {
		CHECK_INT(r.rejects[0].index, 1);
		CHECK_CONTAINS(r.rejects[0].error, "label \"replicas\" is not a string");
		CHECK_INT(r.rejects[1].index, 2);
		CHECK_STR(r.rejects[1].error, "alert has no alertname label");
		CHECK_INT(r.rejects[2].index, 3);
		CHECK_CONTAINS(r.rejects[2].error, "not an object");
		CHECK_INT(r.rejects[3].index, 4);
		CHECK_CONTAINS(r.rejects[3].error, "status");
		CHECK_INT(r.rejects[4].index, 6);
		CHECK_CONTAINS(r.rejects[4].error, "labels");
	}
	intake_result_release(&r);
}

static void test_common_alertname_fallback(void)
{
	const char *body = "{\"status\":\"firing\",\"commonLabels\":{\"alertname\":\"Grouped\"},"
			   "\"alerts\":[{\"labels\":{\"instance\":\"a:1\"}}]}";
	struct intake_result r;

	CHECK_INT(parse_str(body, INTAKE_ALERTMANAGER, &r), 0);
	CHECK_INT(r.n, 1);
	if (r.n == 1)
		CHECK_STR(r.alerts[0].name, "Grouped");
	intake_result_release(&r);
}

/* kube-state-metrics alerts on objects without pods carry the exporter's own
 * pod and container labels; the workload is the node (or HPA), not that pod. */
static void test_exporter_target_labels(void)
{
	const char *body =
		"{\"status\":\"firing\",\"alerts\":["
		"{\"labels\":{\"alertname\":\"KubeNodeNotReady\",\"condition\":\"Ready\","
		"\"container\":\"kube-state-metrics\",\"job\":\"kube-state-metrics\","
		"\"namespace\":\"monitoring\",\"node\":\"k8s-worker-4\","
		"\"pod\":\"kps-kube-state-metrics-6d8f8b7c5-q2w9x\"}},"
		"{\"labels\":{\"alertname\":\"KubeHpaMaxedOut\",\"container\":\"kube-state-metrics\","
		"\"horizontalpodautoscaler\":\"recommender\",\"namespace\":\"recsys\","
		"\"pod\":\"kps-kube-state-metrics-6d8f8b7c5-q2w9x\"}},"
		"{\"labels\":{\"alertname\":\"KubePodCrashLooping\",\"container\":\"api\","
		"\"job\":\"kube-state-metrics\",\"namespace\":\"prod\",\"pod\":\"api-7f9c8d-x2k4q\"}}]}";
	struct intake_result r;

	CHECK_INT(parse_str(body, INTAKE_ALERTMANAGER, &r), 0);
	CHECK_INT(r.n, 3);
	if (r.n == 3) {
		CHECK_STR(r.alerts[0].workload, "k8s-worker-4");
		CHECK_STR(r.alerts[1].workload, "recommender");
		CHECK_STR(r.alerts[2].workload, "api-7f9c8d-x2k4q");
	}
	intake_result_release(&r);
}

static void test_all_rejected_is_422(void)
{
	struct intake_result r;

	CHECK_INT(parse_str("{\"alerts\":[{\"labels\":{\"job\":\"x\"}},{\"labels\":{\"alertname\":"
			    "\"A\",\"n\":1}}],\"status\":\"firing\"}",
			    INTAKE_AUTO, &r),
		  -1);
	CHECK_INT(r.http_status, 422);
	CHECK_STR(r.error, "alert has no alertname label");
	CHECK_INT(r.n, 0);
	CHECK_INT(r.n_rejects, 2);
	intake_result_release(&r);

	CHECK_INT(parse_str("{\"alerts\":[{\"labels\":{\"alertname\":\"A\",\"n\":null}}]}",
			    INTAKE_AUTO, &r),
		  -1);
	CHECK_INT(r.http_status, 422);
	CHECK_CONTAINS(r.error, "label \"n\" is not a string");
	intake_result_release(&r);

	CHECK_INT(parse_str("{\"alerts\":[],\"status\":\"firing\"}", INTAKE_AUTO, &r), -1);
	CHECK_INT(r.http_status, 422);
	CHECK_STR(r.error, "payload has no alerts");
	intake_result_release(&r);

	CHECK_INT(parse_str("{\"title\":\"\"}", INTAKE_AUTO, &r), -1);
	CHECK_INT(r.http_status, 422);
	CHECK_CONTAINS(r.error, "no alertname");
	intake_result_release(&r);

	CHECK_INT(parse_str("[]", INTAKE_AUTO, &r), -1);
	CHECK_INT(r.http_status, 422);
	intake_result_release(&r);
}

/* Asserts that body fails with status and an error containing needle. */
static void expect_error(const char *body, size_t len, enum intake_format fmt, int status,
			 const char *needle)
{
	struct intake_result r;

	CHECK_INT(intake_parse(body, len, fmt, &r), -1);
	CHECK_INT(r.http_status, status);
	CHECK_CONTAINS(r.error, needle);
	CHECK_INT(r.n, 0);
	CHECK(r.alerts == NULL);
	intake_result_release(&r);
}

static void test_body_errors(void)
{
	static const char nul_body[] = "{\"title\":\"a\0b\"}";
	const char *kuma = "{\"heartbeat\":{\"status\":0},\"monitor\":{\"id\":1},\"msg\":\"x\"}";
	const char *am = "{\"alerts\":[{\"labels\":{\"alertname\":\"A\"}}],\"status\":\"firing\"}";

	expect_error("", 0, INTAKE_AUTO, 400, "empty");
	expect_error("hello", 5, INTAKE_AUTO, 400, "not valid JSON");
	expect_error("{\"title\":", 9, INTAKE_AUTO, 400, "not valid JSON");
	expect_error("{} x", 4, INTAKE_AUTO, 400, "trailing");
	expect_error("{\"title\":\"x\"} {}", 16, INTAKE_GENERIC, 400, "trailing");
	expect_error("{\"title\":\"\xff\xfe\"}", 14, INTAKE_AUTO, 400, "UTF-8");
	expect_error("{\"title\":\"\xc3\"}", 13, INTAKE_AUTO, 400, "UTF-8");
	expect_error(nul_body, sizeof(nul_body) - 1, INTAKE_AUTO, 400, "NUL");
	expect_error("42", 2, INTAKE_AUTO, 422, "root");
	expect_error("\"str\"", 5, INTAKE_AUTO, 422, "root");
	expect_error("{\"foo\":1}", 9, INTAKE_AUTO, 422, "unknown payload shape");
	expect_error(kuma, strlen(kuma), INTAKE_ALERTMANAGER, 422, "expected an Alertmanager");
	expect_error(kuma, strlen(kuma), INTAKE_GRAFANA, 422, "expected a Grafana");
	expect_error(am, strlen(am), INTAKE_UPTIME_KUMA, 422, "expected an Uptime Kuma");
	expect_error(am, strlen(am), INTAKE_GENERIC, 422, "expected a generic alert");
	expect_error("[{\"title\":\"x\"}]", 15, INTAKE_ALERTMANAGER, 422, "Alertmanager");
}

/* Builds {"a":{"a":…1…}} nested depth objects deep (owned). */
static char *nested(int depth)
{
	struct buf b;

	buf_init(&b, 0);
	for (int i = 0; i < depth; i++)
		buf_puts(&b, "{\"a\":");
	buf_puts(&b, "1");
	for (int i = 0; i < depth; i++)
		buf_puts(&b, "}");
	return buf_detach(&b);
}

static void test_depth(void)
{
	char *ok = nested(INTAKE_MAX_DEPTH), *deep = nested(INTAKE_MAX_DEPTH + 1);
	const char *in_string = "{\"title\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
				"[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[[\"}";

	/* 64 levels pass the depth check and fail only on shape. */
	expect_error(ok, strlen(ok), INTAKE_AUTO, 422, "unknown payload shape");
	expect_error(deep, strlen(deep), INTAKE_AUTO, 400, "deeper than 64");
	free(ok);
	free(deep);
	{
		/* Brackets inside strings (with escaped quotes) do not count. */
		struct intake_result r;
		CHECK_INT(parse_str(in_string, INTAKE_AUTO, &r), 0);
		CHECK_INT(r.n, 1);
		intake_result_release(&r);
	}
}

static void test_too_many_alerts(void)
{
	struct buf b;
	struct intake_result r;

	buf_init(&b, 0);
	buf_puts(&b, "[");
	for (int i = 0; i < 1003; i++)
		buf_printf(&b, "%s{\"title\":\"A%d\"}", i ? "," : "", i);
	buf_puts(&b, "]");
	CHECK_INT(intake_parse(b.data, b.len, INTAKE_AUTO, &r), 0);
	CHECK_INT(r.n, 1000);
	CHECK_INT(r.n_rejects, 1);
	if (r.n_rejects == 1) {
		CHECK_INT(r.rejects[0].index, 1000);
		CHECK_CONTAINS(r.rejects[0].error, "too many alerts in one payload");
		CHECK_CONTAINS(r.rejects[0].error, "3 skipped");
	}
	if (r.n == 1000)
		CHECK_STR(r.alerts[999].name, "A999");
	intake_result_release(&r);
	buf_release(&b);
}

/* An Alertmanager body with one alert whose labels are n extra labels plus alertname. */
static char *am_with_labels(int n, size_t name_len, size_t value_len)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, "{\"status\":\"firing\",\"alerts\":[{\"labels\":{\"alertname\":\"Big\"");
	for (int i = 0; i < n; i++)
		buf_printf(&b, ",\"l%d\":\"v\"", i);
	if (name_len) {
		buf_puts(&b, ",\"");
		for (size_t i = 0; i < name_len; i++)
			buf_puts(&b, "k");
		buf_puts(&b, "\":\"v\"");
	}
	if (value_len) {
		buf_puts(&b, ",\"long\":\"");
		for (size_t i = 0; i < value_len; i++)
			buf_puts(&b, "v");
		buf_puts(&b, "\"");
	}
	buf_puts(&b, "}},{\"labels\":{\"alertname\":\"Small\"}}]}");
	return buf_detach(&b);
}

static void test_label_caps(void)
{
	static const struct {
		int n;
		size_t name_len, value_len;
		int accepted; /* alerts accepted of 2 */
		const char *reason;
	} cases[] = {
	    {255, 0, 0, 2, NULL},	       /* 256 labels with alertname */
	    {256, 0, 0, 1, "too many labels"}, /* 257 */
	    {0, 256, 0, 2, NULL},
	    {0, 257, 0, 1, "label name longer"},
	    {0, 0, 16384, 2, NULL},
	    {0, 0, 16385, 1, "longer than 16 KiB"},
	    {100000, 0, 0, 1, "too many labels"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *body = am_with_labels(cases[i].n, cases[i].name_len, cases[i].value_len);
		struct intake_result r;

		CHECK_INT(parse_str(body, INTAKE_AUTO, &r), 0);
		CHECK_INT(r.n, cases[i].accepted);
		if (cases[i].reason && r.n_rejects == 1) {
			CHECK_INT(r.rejects[0].index, 0);
			CHECK_CONTAINS(r.rejects[0].error, cases[i].reason);
		}
		intake_result_release(&r);
		free(body);
	}
}

static void test_annotation_truncated(void)
{
	struct buf b;
	struct intake_result r;

	buf_init(&b, 0);
	buf_puts(&b, "{\"title\":\"T\",\"annotations\":{\"big\":\"");
	for (int i = 0; i < 70000; i++)
		buf_puts(&b, "\xc3\xa9"); /* é: the cut must not split it */
	buf_puts(&b, "\"}}");
	CHECK_INT(intake_parse(b.data, b.len, INTAKE_AUTO, &r), 0);
	CHECK_INT(r.n, 1);
	if (r.n == 1) {
		const char *v = kv_list_get(&r.alerts[0].annotations, "big");
		CHECK(v != NULL);
		if (v) {
			CHECK_INT(strlen(v), 64 * 1024);
			CHECK((unsigned char)v[strlen(v) - 1] == 0xa9);
		}
	}
	intake_result_release(&r);
	buf_release(&b);
}

static void test_summary_line(void)
{
	struct buf b;
	struct intake_result r;

	CHECK_INT(parse_str("{\"title\":\"T\",\"summary\":\"  \\n  line one \\t\\nline two\"}",
			    INTAKE_AUTO, &r),
		  0);
	if (r.n == 1)
		CHECK_STR(r.alerts[0].summary, "line one");
	intake_result_release(&r);

	buf_init(&b, 0);
	buf_puts(&b, "{\"title\":\"T\",\"summary\":\"");
	for (int i = 0; i < 400; i++)
		buf_puts(&b, "\xc3\xa9");
	buf_puts(&b, "\"}");
	CHECK_INT(intake_parse(b.data, b.len, INTAKE_AUTO, &r), 0);
	if (r.n == 1)
		CHECK_INT(strlen(r.alerts[0].summary), 600); /* 300 characters of 2 bytes */
	intake_result_release(&r);
	buf_release(&b);
}

static void test_generic_statuses(void)
{
	static const struct {
		const char *body;
		int rc;
		enum alert_status status;
	} cases[] = {
	    {"{\"title\":\"T\"}", 0, ALERT_FIRING},
	    {"{\"title\":\"T\",\"status\":\"resolved\"}", 0, ALERT_RESOLVED},
	    {"{\"title\":\"T\",\"status\":\"OK\"}", 0, ALERT_RESOLVED},
	    {"{\"title\":\"T\",\"status\":\"up\"}", 0, ALERT_RESOLVED},
	    {"{\"title\":\"T\",\"status\":\"weird\"}", -1, ALERT_FIRING},
	    {"{\"title\":\"T\",\"status\":1}", -1, ALERT_FIRING},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct intake_result r;
		CHECK_INT(parse_str(cases[i].body, INTAKE_AUTO, &r), cases[i].rc);
		if (cases[i].rc == 0 && r.n == 1)
			CHECK_INT(r.alerts[0].status, cases[i].status);
		if (cases[i].rc < 0)
			CHECK_INT(r.http_status, 422);
		intake_result_release(&r);
	}
}

static void test_format_from_path(void)
{
	enum intake_format f = INTAKE_AUTO;

	CHECK_INT(intake_format_from_path("alertmanager", &f), 0);
	CHECK_INT(f, INTAKE_ALERTMANAGER);
	CHECK_INT(intake_format_from_path("grafana", &f), 0);
	CHECK_INT(f, INTAKE_GRAFANA);
	CHECK_INT(intake_format_from_path("uptime-kuma", &f), 0);
	CHECK_INT(f, INTAKE_UPTIME_KUMA);
	CHECK_INT(intake_format_from_path("generic", &f), 0);
	CHECK_INT(f, INTAKE_GENERIC);
	CHECK_INT(intake_format_from_path("zabbix", &f), -1);
	CHECK_INT(intake_format_from_path("", &f), -1);
	CHECK_INT(intake_format_from_path("Grafana", &f), -1);
}

int main(void)
{
	RUN(test_alertmanager_firing_sample);
	RUN(test_alertmanager_resolved_sample);
	RUN(test_alertmanager_batch);
	RUN(test_signoz);
	RUN(test_grafana);
	RUN(test_detection);
	RUN(test_kuma_down);
	RUN(test_kuma_up);
	RUN(test_kuma_testing);
	RUN(test_kuma_tags);
	RUN(test_kuma_statuses);
	RUN(test_kuma_errors);
	RUN(test_generic_object);
	RUN(test_generic_array);
	RUN(test_mixed_batch_rejects);
	RUN(test_common_alertname_fallback);
	RUN(test_exporter_target_labels);
	RUN(test_all_rejected_is_422);
	RUN(test_body_errors);
	RUN(test_depth);
	RUN(test_too_many_alerts);
	RUN(test_label_caps);
	RUN(test_annotation_truncated);
	RUN(test_summary_line);
	RUN(test_generic_statuses);
	RUN(test_format_from_path);
	return harness_done();
}
