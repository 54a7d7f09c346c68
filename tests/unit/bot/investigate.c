/*
 * Unit tests of the rules-mode investigation and the worker's life of an
 * investigation row: history first, matching playbooks, on-demand loading,
 * skipped steps, cached identical calls, captures in findings, failed tools
 * lowering the confidence, the step budget, the deadline, the fallback, and claim →
 * report → decision in the store. Uses tests/fixtures/engine-playbooks.
 */
#include "harness.h"

#include "alert.h"
#include "config.h"
#include "fingerprint.h"
#include "investigate.h"
#include "playbook.h"
#include "store.h"
#include "triage.h"
#include "util.h"
#include "workers.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/ns-investigate-XXXXXX";
static struct config *cfg, *small_cfg, *deadline_cfg;
static struct playbook_set pbs;
static struct fingerprinter *fp;

static struct config *load_cfg(const char *name, const char *yaml)
{
	char path[256], err[2048];
	FILE *f;
	struct config *c;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	fputs(yaml, f);
	fclose(f);
	c = config_load(path, err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "config: %s\n", err);
	return c;
}

static void make_alert(struct alert *a, const char *name, const char *reason)
{
	alert_init(a);
	a->source = SOURCE_ALERTMANAGER;
	a->status = ALERT_FIRING;
	a->severity = SEV_CRITICAL;
	a->name = xstrdup(name);
	a->summary = xstrdup("s");
	a->description = xstrdup("");
	a->cluster = xstrdup("");
	a->namespace = xstrdup("prod");
	a->workload = xstrdup("api-1");
	a->group_key = xstrdup("");
	a->generator_url = xstrdup("");
	a->environment = xstrdup("production");
	a->source_fingerprint = xasprintf("%s-%s", name, reason);
	kv_list_set(&a->labels, "alertname", name);
	kv_list_set(&a->labels, "namespace", "prod");
	kv_list_set(&a->labels, "pod", "api-1");
	if (reason)
		kv_list_set(&a->labels, "reason", reason);
	fingerprint_alert(fp, (const char *const *)cfg->fingerprint_labels,
			  cfg->n_fingerprint_labels, a);
}

static struct store *fresh_store(void)
{
	char err[256];
	return store_open(":memory:", false, err, sizeof(err));
}

static size_t count_tool(const struct tool_calls *c, const char *tool)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		n += strcmp(c->items[i].tool, tool) == 0;
	return n;
}

static bool has_evidence(const struct report *r, const char *needle)
{
	for (size_t i = 0; i < r->n_evidence; i++)
		if (strstr(r->evidence[i], needle))
			return true;
	return false;
}

static void run(const struct config *c, struct store *s, struct alert *a, struct report *r,
		struct tool_calls *calls)
{
	struct investigate_env env = {.cfg = c, .store = s, .playbooks = &pbs, .now_ms = now_ms()};
	investigate_run(&env, a, r, calls);
}

static void test_finding_with_capture_and_failures(void)
{
	struct store *s = fresh_store();
	struct alert a;
	struct report r;
	struct tool_calls calls;

	make_alert(&a, "TestCrash", "OOMKilled");
	run(cfg, s, &a, &r, &calls);
	CHECK_STR(r.verdict, "real");
	CHECK_STR(r.category, "oom_killed");
	CHECK_STR(r.root_cause, "api-1 died of OOMKilled in prod");
	/* high, one level down: the k8s tool failed (no cluster configured) */
	CHECK_STR(r.confidence, "medium");
	CHECK(has_evidence(&r, "failed k8s_pod"));
	CHECK_STR(r.recommended_command, "kubectl -n prod describe pod api-1");
	CHECK_STR(r.action_type, "delete_pod");
	CHECK_STR(r.action_target, "prod/api-1");
	CHECK_STR(r.playbooks, "crash,extra");
	CHECK_STR(r.finding, "crash/from_label");
	/* history first; the extra playbook's identical history call is cached; the
	 * step with a missing variable is skipped, not called */
	CHECK(calls.n >= 1 && strcmp(calls.items[0].tool, "history") == 0);
	CHECK_INT(count_tool(&calls, "history"), 1);
	CHECK_INT(count_tool(&calls, "k8s_pod"), 1);
	CHECK_INT(count_tool(&calls, "playbook"), 1);
	CHECK_INT(r.failed_steps, 1);
	{
		char *json = report_to_json(&r);
		cJSON *o = cJSON_Parse(json);
		CHECK(o != NULL);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
				  cJSON_GetObjectItem(o, "proposed_action"), "type")),
			  "delete_pod");
		CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "evidence")),
			  (long long)r.n_evidence);
		cJSON_Delete(o);
		free(json);
	}
	report_release(&r);
	tool_calls_release(&calls);
	alert_free(&a);
	store_close(s);
}

static void test_noise_finding(void)
{
	struct store *s = fresh_store();
	struct alert a;
	struct report r;
	struct tool_calls calls;

	make_alert(&a, "TestCrash", "recovered");
	run(cfg, s, &a, &r, &calls);
	CHECK_STR(r.verdict, "noise");
	CHECK_STR(r.category, "transient");
	CHECK_STR(r.confidence, "low"); /* medium, lowered by the failed tool */
	CHECK_STR(r.action_type, "");
	/* evidence lines left empty by missing variables are dropped, others kept */
	CHECK(has_evidence(&r, "alert: reason recovered"));
	CHECK(!has_evidence(&r, "k8s_events"));
	CHECK(!has_evidence(&r, "k8s_pod: ("));
	CHECK(has_evidence(&r, "k8s_logs:  kept"));
	report_release(&r);
	tool_calls_release(&calls);
	alert_free(&a);
	store_close(s);
}

static void test_on_demand_playbook_concludes(void)
{
	struct store *s = fresh_store();
	struct alert a;
	struct report r;
	struct tool_calls calls;

	make_alert(&a, "TestCrash", "something-else");
	run(cfg, s, &a, &r, &calls);
	CHECK_STR(r.finding, "extra/low");
	CHECK_STR(r.root_cause, "extra playbook saw no history");
	report_release(&r);
	tool_calls_release(&calls);
	alert_free(&a);
	store_close(s);
}

static void test_history_counts_past_incidents(void)
{
	struct store *s = fresh_store();
	struct alert a;
	struct report r;
	struct tool_calls calls;
	char sql[512];

	make_alert(&a, "TestCrash", "something-else");
	snprintf(sql, sizeof(sql),
		 "INSERT INTO incidents (fingerprint, alertname, source, environment, severity,"
		 " state, verdict, root_cause, alert_count, opened_at, last_seen_at) VALUES"
		 " ('%s', 'TestCrash', 'alertmanager', 'production', 'critical', 'resolved',"
		 " 'noise', 'it \"recovered\"', 1, 1000, 1000)",
		 a.fingerprint);
	CHECK_INT(store_exec(s, sql), 0);
	run(cfg, s, &a, &r, &calls);
	CHECK_CONTAINS(calls.items[0].output, "history incidents=1 noise=1 real=0");
	CHECK_CONTAINS(calls.items[0].output, "last_verdict=noise");
	CHECK_CONTAINS(calls.items[0].output, "last_root_cause=\"it 'recovered'\"");
	/* the extra playbook's finding needs incidents=0: no longer concludes */
	CHECK_STR(r.category, "unknown");
	report_release(&r);
	tool_calls_release(&calls);
	alert_free(&a);
	store_close(s);
}

static void test_step_budget(void)
{
	struct store *s = fresh_store();
	struct alert a;
	struct report r;
	struct tool_calls calls;

	make_alert(&a, "TestBudget", NULL);
	run(small_cfg, s, &a, &r, &calls);
	CHECK_INT(r.steps, 3); /* history + 2 of the 5 distinct calls */
	CHECK(has_evidence(&r, "step budget (3 tool calls)"));
	CHECK_STR(r.category, "unknown");
	report_release(&r);
	tool_calls_release(&calls);
	alert_free(&a);
	store_close(s);
}

/* A loopback socket that accepts connections (backlog) and never answers; its port in *port. */
static int silent_listener(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static void test_deadline(void)
{
	struct store *s = fresh_store();
	struct alert a;
	struct report r;
	struct tool_calls calls;
	char url[64];
	int port = 0, fd = silent_listener(&port);
	int64_t t0;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	make_alert(&a, "TestDeadline", NULL);
	kv_list_set(&a.labels, "url", url);
	t0 = mono_ms();
	run(deadline_cfg, s, &a, &r, &calls); /* deadline 1s, tool_timeout 10s */
	/* The slow call was cut off at the deadline, not at its 10 s tool timeout… */
	CHECK(mono_ms() - t0 < 5000);
	CHECK(r.duration_ms < 5000);
	CHECK_INT(calls.n, 2); /* history, the slow probe */
	if (calls.n == 2) {
		CHECK_STR(calls.items[1].tool, "http_probe");
		CHECK_CONTAINS(calls.items[1].output, "timeout after");
		CHECK(calls.items[1].duration_ms >= 500 && calls.items[1].duration_ms < 5000);
	}
	/* …no step started after it, and the report says why it stopped. */
	CHECK_INT(count_tool(&calls, "k8s_pod"), 0);
	CHECK_INT(r.steps, 2);
	CHECK(has_evidence(&r, "stopped at the deadline (1s)"));
	CHECK_STR(r.category, "unknown");
	report_release(&r);
	tool_calls_release(&calls);
	alert_free(&a);
	store_close(s);
	close(fd);
}

static void test_fallback_playbook(void)
{
	struct store *s = fresh_store();
	struct alert a;
	struct report r;
	struct tool_calls calls;

	make_alert(&a, "SomethingNobodyKnows", NULL);
	run(cfg, s, &a, &r, &calls);
	CHECK_STR(r.playbooks, "generic");
	CHECK_STR(r.verdict, "real");
	CHECK_STR(r.category, "unknown");
	CHECK_STR(r.confidence, "low");
	CHECK_CONTAINS(r.root_cause, "SomethingNobodyKnows");
	CHECK_STR(r.recommended_command, "kubectl -n prod get pods,events");
	report_release(&r);
	tool_calls_release(&calls);
	alert_free(&a);
	store_close(s);
}

static long long scalar(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_worker_life_of_a_row(void)
{
	struct store *s = fresh_store();
	struct alert a;
	struct triage_outcome o;
	struct triage_ctx ctx;
	struct investigation_result res;
	const char *channels[] = {"console"};
	char err[256];

	make_alert(&a, "TestCrash", "OOMKilled");
	ctx = (struct triage_ctx){.store = s, .cfg = cfg, .fp = fp, .now_ms = 1000,
				  .channels = channels, .n_channels = 1};
	store_begin(s);
	CHECK_INT(triage_alert(&ctx, &a, &o, err, sizeof(err)), 0);
	store_commit(s);
	CHECK_INT(o.action, TRIAGE_OPENED);
	CHECK_INT(scalar(s, "SELECT count(*) FROM investigations WHERE state = 'pending'"), 1);

	workers_run_one(s, cfg, &pbs, NULL, 1, &res);
	CHECK_INT(res.status, 0);
	CHECK_INT(res.incident_id, o.incident_id);
	CHECK_INT(res.decision, DECIDE_ESCALATE);
	CHECK_STR(res.category, "oom_killed");
	CHECK_INT(scalar(s, "SELECT count(*) FROM investigations WHERE state = 'done'"
			    " AND verdict = 'real' AND category = 'oom_killed'"
			    " AND json_extract(report, '$.finding') = 'crash/from_label'"),
		  1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM tool_calls WHERE investigation_id = 1"), 3);
	CHECK_INT(scalar(s, "SELECT seq FROM tool_calls WHERE tool = 'history'"), 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM incidents WHERE state = 'escalated'"
			    " AND verdict = 'real' AND confidence = 'medium'"),
		  1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'report'"
			    " AND json_extract(body, '$.command') = 'kubectl -n prod describe pod api-1'"),
		  1);
	/* Claimed once: a second run finds it done and does nothing. */
	workers_run_one(s, cfg, &pbs, NULL, 1, &res);
	CHECK_INT(res.status, 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'report'"), 1);

	/* An investigation interrupted too often escalates with a failure report. */
	store_exec(s, "INSERT INTO investigations (incident_id, alert_id, state, attempts,"
		      " created_at) VALUES (1, 1, 'pending', 3, 0)");
	workers_run_one(s, cfg, &pbs, NULL, 2, &res);
	CHECK_INT(res.status, 0);
	CHECK_INT(scalar(s, "SELECT count(*) FROM investigations WHERE id = 2 AND state = 'done'"
			    " AND json_extract(report, '$.root_cause') LIKE '%interrupted too often%'"),
		  1);
	/* The incident is escalated already: recorded, state kept. */
	CHECK_INT(res.decision, DECIDE_RECORD_ONLY);
	alert_free(&a);
	store_close(s);
}

int main(void)
{
	char yaml[512], err[4096];
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	snprintf(yaml, sizeof(yaml), "playbooks:\n  dir: tests/fixtures/engine-playbooks\n");
	cfg = load_cfg("a.yaml", yaml);
	snprintf(yaml, sizeof(yaml),
		 "playbooks:\n  dir: tests/fixtures/engine-playbooks\n"
		 "investigations:\n  step_budget: 3\n");
	small_cfg = load_cfg("b.yaml", yaml);
	snprintf(yaml, sizeof(yaml),
		 "playbooks:\n  dir: tests/fixtures/engine-playbooks\n"
		 "investigations:\n  deadline: 1s\n  tool_timeout: 10s\n");
	deadline_cfg = load_cfg("c.yaml", yaml);
	fp = fingerprinter_new();
	if (cfg == NULL || small_cfg == NULL || deadline_cfg == NULL ||
	    playbook_set_load(cfg->playbooks_dir, &pbs, err, sizeof(err)) < 0) {
		fprintf(stderr, "setup failed: %s\n", err);
		return 1;
	}
	RUN(test_finding_with_capture_and_failures);
	RUN(test_noise_finding);
	RUN(test_on_demand_playbook_concludes);
	RUN(test_history_counts_past_incidents);
	RUN(test_step_budget);
	RUN(test_deadline);
	RUN(test_fallback_playbook);
	RUN(test_worker_life_of_a_row);
	playbook_set_release(&pbs);
	config_unref(cfg);
	config_unref(small_cfg);
	config_unref(deadline_cfg);
	fingerprinter_free(fp);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup failed\n");
	}
	return harness_done();
}
