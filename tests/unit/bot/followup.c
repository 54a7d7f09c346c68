/*
 * Unit tests of follow-up questions (bot/followup.h): intent matching over
 * many phrasings (and ones that must not match an intent), the key=value
 * reader of tool lines, each intent's answer composed from real-shaped tool
 * output (the tools' own formatters over tests/fixtures/k8s), the fallback
 * to stored evidence when a tool fails, refusals of hostile input, and the
 * life of a queued row: claim → answer → tool calls, answer and thread
 * message in the store; the step budget; the worker pool taking turns
 * between investigations and follow-ups.
 */
#include "harness.h"

#include "alert.h"
#include "config.h"
#include "fingerprint.h"
#include "followup.h"
#include "investigate.h"
#include "k8s.h"
#include "playbook.h"
#include "render.h"
#include "store.h"
#include "triage.h"
#include "util.h"
#include "workers.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/ns-followup-XXXXXX";
static struct config *cfg, *tiny_cfg;
static struct fingerprinter *fp;
static int64_t now; /* the fixtures' "now": 2026-01-10T12:00:00Z */

/* ---- intents ---- */

static void expect_intent(const char *q, enum followup_intent want)
{
	enum followup_intent got = followup_intent_of(q);
	if (got != want) {
		harness_current_failed++;
		fprintf(stderr, "FAIL %s: \"%s\" → %s, expected %s\n", harness_current, q,
			followup_intent_name(got), followup_intent_name(want));
	}
}

static void test_intents(void)
{
	static const char *changed[] = {
		"what changed?", "wat changed", "What changed in the last deploy?",
		"last deploy", "any deploys recently", "ANY DEPLOYS RECENTLY??", "wht changed",
		"did someone deploy", "was there a rollout", "which version is running",
		"new release?", "what's changed", "what\xE2\x80\x99s changed since yesterday",
		"changes?", "did we ship something", "last depoly",
	};
	static const char *logs[] = {"show logs", "logs pls", "logs?", "LOGS", "log",
				     "can i see the logs", "stack trace?", "lgos",
				     "why are the logs full of errors"};
	static const char *status[] = {"is it still happening", "status?", "still broken?",
				       "Status", "is it fixed", "recovered?", "is it ok now",
				       "hows it going", "how is it", "still failing?",
				       "are the pods ready", "any better?", "is it back up"};
	static const char *history[] = {"has this happened before", "seen this before?",
					"happened b4?", "did this fire before",
					"history", "how often does this happen",
					"is this the first time", "have we seen this previously",
					"has it happened again"};
	static const char *why[] = {"why", "why?", "whyyy", "what's the root cause",
				    "whats the root cause", "root cause?", "rca",
				    "what caused it", "what happened", "what went wrong",
				    "what\xE2\x80\x99s the problem", "explain", "y"};
	static const char *none[] = {"ack", "thanks!", "who is on call?", "restart it",
				     "login page broken?", "blog post", "I'm logged in",
				     "changelog link?", "ok", "", "   ", "\xF0\x9F\x91\x8D",
				     "can you order pizza", "please page bob",
				     "what \xff\xfe invalid"};

	for (size_t i = 0; i < ARRAY_LEN(changed); i++)
		expect_intent(changed[i], FU_WHAT_CHANGED);
	for (size_t i = 0; i < ARRAY_LEN(logs); i++)
		expect_intent(logs[i], FU_LOGS);
	for (size_t i = 0; i < ARRAY_LEN(status); i++)
		expect_intent(status[i], FU_STATUS);
	for (size_t i = 0; i < ARRAY_LEN(history); i++)
		expect_intent(history[i], FU_HISTORY);
	for (size_t i = 0; i < ARRAY_LEN(why); i++)
		expect_intent(why[i], FU_ROOT_CAUSE);
	for (size_t i = 0; i < ARRAY_LEN(none); i++)
		expect_intent(none[i], FU_HELP);
	expect_intent(NULL, FU_HELP);
	CHECK_STR(followup_intent_name(FU_WHAT_CHANGED), "what_changed");
	CHECK_STR(followup_intent_name((enum followup_intent)99), "help");
}

static void test_line_value(void)
{
	char v[64];
	const char *line = "event type=Warning reason=BackOff object=Pod/api-1 count=31 age=2m "
			   "message=\"Back-off reason=x restarting\" tail=1";
	CHECK(followup_line_value(line, "reason", v, sizeof(v)));
	CHECK_STR(v, "BackOff");
	CHECK(followup_line_value(line, "message", v, sizeof(v)));
	CHECK_STR(v, "Back-off reason=x restarting");
	CHECK(followup_line_value(line, "tail", v, sizeof(v)));
	CHECK_STR(v, "1");
	CHECK(!followup_line_value(line, "x", v, sizeof(v)));
	CHECK(!followup_line_value(line, "type=Warning", v, sizeof(v)));
	CHECK(followup_line_value("revision=7 replicaset=a-1", "revision", v, sizeof(v)));
	CHECK_STR(v, "7");
	CHECK(followup_line_value("a=123456789", "a", v, 4));
	CHECK_STR(v, "123");
	CHECK(!followup_line_value("", "a", v, sizeof(v)));
}

/* ---- real-shaped tool outputs ---- */

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
	if (j == NULL)
		exit(2);
	return j;
}

/* What k8s_rollout_history prints for checkout-api: owned ReplicaSets, newest first. */
static char *rollout_output(void)
{
	cJSON *list = fixture("replicasets-checkout.json");
	static const char *order[] = {"checkout-api-84c6f7b9d5", "checkout-api-5f7d9b8c6d",
				      "checkout-api-6d5b8f7c49"};
	struct buf out;
	const cJSON *it;

	buf_init(&out, 0);
	for (size_t i = 0; i < ARRAY_LEN(order); i++)
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	if (strcmp(k8s_str(it, "metadata.name"), order[i]) == 0)
		k8s_format_replicaset(it, i == 0, now, &out);
	cJSON_Delete(list);
	return buf_detach(&out);
}

static char *events_output(void)
{
	cJSON *list = fixture("events-crashloop.json");
	const cJSON *it;
	struct buf out;
	buf_init(&out, 0);
	/* warnings first, as the tool sorts them */
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	if (strcmp(k8s_str(it, "type"), "Warning") == 0)
		k8s_format_event(it, now, &out);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	if (strcmp(k8s_str(it, "type"), "Warning") != 0)
		k8s_format_event(it, now, &out);
	buf_puts(&out, "events total=5 shown=5 warnings=2\n");
	cJSON_Delete(list);
	return buf_detach(&out);
}

static char *pods_output(void)
{
	cJSON *list = fixture("pods-checkout.json");
	const cJSON *it;
	struct buf out;
	buf_init(&out, 0);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	k8s_format_pod(it, now, &out);
	buf_puts(&out, "pods total=3 shown=3 not_ready=3\n");
	cJSON_Delete(list);
	return buf_detach(&out);
}

static void facts_init(struct followup_facts *f, const char *deployment, const char *pod)
{
	memset(f, 0, sizeof(*f));
	f->incident_id = 7;
	f->alertname = xstrdup("KubeDeploymentReplicasMismatch");
	f->state = xstrdup("escalated");
	f->alert_count = 3;
	f->opened_at_ms = now - 25 * 60 * 1000;
	f->namespace = xstrdup("prod");
	f->deployment = deployment ? xstrdup(deployment) : NULL;
	f->pod = pod ? xstrdup(pod) : NULL;
	f->root_cause = xstrdup("Revision 7 of checkout-api crash loops");
	f->category = xstrdup("bad_deploy");
	f->confidence = xstrdup("high");
	f->command = xstrdup("kubectl -n prod rollout undo deployment/checkout-api");
	f->evidence[f->n_evidence++] = xstrdup("k8s_logs: panic: nil pointer dereference");
	f->evidence[f->n_evidence++] = xstrdup("k8s_rollout_history: revision 7 is 20m old");
	f->investigation_state = xstrdup("done");
}

static bool has_bullet(const struct followup_answer *a, const char *needle)
{
	for (size_t i = 0; i < a->n_bullets; i++)
		if (strstr(a->bullets[i], needle))
			return true;
	return false;
}

static void test_what_changed(void)
{
	struct followup_facts f;
	struct followup_answer a = {0};
	char *rollout = rollout_output(), *events = events_output();

	facts_init(&f, "checkout-api", NULL);
	followup_compose_what_changed(&f, rollout, events, &a);
	CHECK_INT(a.intent, FU_WHAT_CHANGED);
	CHECK_STR(a.text, "checkout-api rev 7 (registry.example.com/acme/checkout-api:1.42.0, 20m "
			  "ago) replaced rev 6 (\xE2\x80\xA6:1.41.2, 9d ago)");
	CHECK(has_bullet(&a, "rev 7: 1/3 ready"));
	CHECK(has_bullet(&a, "no warning events for checkout-api"));
	CHECK_STR(a.command, "kubectl -n prod rollout history deployment/checkout-api");
	followup_answer_release(&a);

	/* The warning events of the workload, not the node's. */
	free(f.deployment);
	f.deployment = xstrdup("report-worker");
	followup_compose_what_changed(&f, "revision=3 replicaset=report-worker-6b8f9c7d54 age=2d "
					  "image=r/w:2 replicas=1 ready=0 current=true\n",
				      events, &a);
	CHECK_STR(a.text, "report-worker rev 3 (r/w:2, 2d ago) is its only revision: no deploy "
			  "replaced anything.");
	CHECK(has_bullet(&a, "BackOff \xC3\x97"));
	CHECK(has_bullet(&a, "Pod/report-worker-6b8f9c7d54-x7kqp"));
	CHECK(!has_bullet(&a, "OOMKilling"));
	followup_answer_release(&a);

	/* The tool failed: said briefly, then the stored evidence. */
	followup_compose_what_changed(&f, "error: 403 Forbidden: replicasets is forbidden", NULL,
				      &a);
	CHECK_CONTAINS(a.text, "Could not read the rollout history of prod/report-worker (403 "
			       "Forbidden: replicasets is forbidden)");
	CHECK(has_bullet(&a, "from the investigation: Revision 7"));
	CHECK(has_bullet(&a, "k8s_logs: panic"));
	CHECK_STR(a.command, "kubectl -n prod rollout undo deployment/checkout-api");
	followup_answer_release(&a);

	/* No deployment known. */
	free(f.deployment);
	f.deployment = NULL;
	followup_compose_what_changed(&f, NULL, NULL, &a);
	CHECK_CONTAINS(a.text, "cannot tell which deployment");
	followup_answer_release(&a);
	followup_facts_release(&f);
	free(rollout);
	free(events);
}

static void test_status(void)
{
	struct followup_facts f;
	struct followup_answer a = {0};
	char *pods = pods_output();

	facts_init(&f, "checkout-api", NULL);
	followup_compose_status(&f, pods, now, &a);
	CHECK_CONTAINS(a.text, "Still failing: ");
	CHECK_CONTAINS(a.text, "/3 pods");
	CHECK(has_bullet(&a, "incident #7 escalated, 3 alerts, open 25 min"));
	CHECK_STR(a.command, "kubectl -n prod rollout status deployment/checkout-api");
	CHECK(a.n_bullets <= 4);
	followup_answer_release(&a);

	/* All ready: recovered, since the last restart. */
	followup_compose_status(
		&f,
		"pod name=checkout-api-84c6f7b9d5-a namespace=prod phase=Running ready=true "
		"ready_containers=1/1 restarts=2 owner=ReplicaSet/checkout-api-84c6f7b9d5 age=2h\n"
		"container name=c ready=true restarts=2 state=running last_terminated=Error "
		"exit_code=2 last_finished_age=12m\n"
		"pod name=checkout-api-84c6f7b9d5-b namespace=prod phase=Running ready=true "
		"ready_containers=1/1 restarts=0 owner=ReplicaSet/checkout-api-84c6f7b9d5 age=2h\n"
		"pod name=other-5d9f8b7c6-c namespace=prod phase=Running ready=false "
		"ready_containers=0/1 restarts=9 owner=ReplicaSet/other-5d9f8b7c6 age=2h\n"
		"pods total=3 shown=3 not_ready=1\n",
		now, &a);
	CHECK_STR(a.text, "Recovered: 2/2 pods ready since 12m ago, 2 restarts in total.");
	followup_answer_release(&a);

	/* A crash-looping pod, by name. */
	free(f.deployment);
	f.deployment = NULL;
	f.pod = xstrdup("api-1");
	followup_compose_status(&f,
				"pod name=api-1 namespace=prod phase=Running ready=false "
				"ready_containers=0/1 restarts=14 owner=ReplicaSet/api-7f age=1h\n"
				"container name=api ready=false restarts=14 state=waiting "
				"reason=CrashLoopBackOff last_terminated=OOMKilled exit_code=137 "
				"last_finished_age=1m\n",
				now, &a);
	CHECK_STR(a.text, "Still failing: 1/1 pods CrashLoopBackOff, 14 restarts.");
	CHECK(has_bullet(&a, "api-1: CrashLoopBackOff, 14 restarts, last OOMKilled (exit 137) 1m ago"));
	CHECK_STR(a.command, "kubectl -n prod get pod api-1");
	followup_answer_release(&a);

	/* The tool failed. */
	followup_compose_status(&f, "error: timeout after 5000 ms", now, &a);
	CHECK_STR(a.text, "Could not look at the pods of api-1 now (timeout after 5000 ms).");
	CHECK(has_bullet(&a, "incident #7 escalated"));
	CHECK(has_bullet(&a, "from the investigation"));
	followup_answer_release(&a);
	followup_facts_release(&f);
	free(pods);
}

/* A k8s_pods output of deployment api: x2k4q in CrashLoopBackOff (restarts), others ready. */
static char *api_pods(const char *x2k4q_ready, int restarts, const char *b_ready)
{
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b,
		   "pod name=api-7f9c-x2k4q namespace=prod phase=Running ready=%s "
		   "ready_containers=0/1 restarts=%d owner=ReplicaSet/api-7f9c age=3h\n"
		   "container name=api ready=%s restarts=%d state=%s%s\n",
		   x2k4q_ready, restarts, x2k4q_ready, restarts,
		   strcmp(x2k4q_ready, "true") ? "waiting" : "running",
		   strcmp(x2k4q_ready, "true") ? " reason=CrashLoopBackOff" : "");
	buf_printf(&b,
		   "pod name=api-7f9c-b namespace=prod phase=Running ready=%s ready_containers=1/1 "
		   "restarts=0 owner=ReplicaSet/api-7f9c age=3h\n"
		   "container name=api ready=%s restarts=0 state=%s%s\n",
		   b_ready, b_ready, strcmp(b_ready, "true") ? "waiting" : "running",
		   strcmp(b_ready, "true") ? " reason=ImagePullBackOff" : "");
	buf_puts(&b, "pod name=api-7f9c-c namespace=prod phase=Running ready=true "
		     "ready_containers=1/1 restarts=0 owner=ReplicaSet/api-7f9c age=3h\n"
		     "pod name=other-5d9f-d namespace=prod phase=Running ready=false "
		     "ready_containers=0/1 restarts=9 owner=ReplicaSet/other-5d9f age=3h\n"
		     "pods total=4 shown=4 not_ready=2\n");
	return buf_detach(&b);
}

/* The nag's pod line of pods after last; the new summary into summary. */
static void nag_line(const struct followup_facts *f, char *pods, const char *last, char *line,
		     char *summary)
{
	followup_compose_nag_pods(f, pods, last, line, 512, summary, 256);
	free(pods);
}

static void test_nag_pods(void)
{
	struct followup_facts f;
	char line[512], first[256], s2[256], s3[256], s4[256];

	facts_init(&f, "api", NULL);
	/* The first look: the failing pod, its restarts, ready/total (not other's pods). */
	nag_line(&f, api_pods("false", 11, "true"), "", line, first);
	CHECK_STR(line, "Pods: api-7f9c-x2k4q CrashLoopBackOff (restarts 11); 2/3 ready.");
	CHECK_STR(first, "ready=2 total=3 pod=api-7f9c-x2k4q restarts=11");

	/* Still failing, restarted three more times. */
	nag_line(&f, api_pods("false", 14, "true"), first, line, s2);
	CHECK_STR(line, "Pods: api-7f9c-x2k4q CrashLoopBackOff (restarts 14, +3 since the last "
			"nag); 2/3 ready.");
	CHECK_STR(s2, "ready=2 total=3 pod=api-7f9c-x2k4q restarts=14");

	/* Nothing changed since. */
	nag_line(&f, api_pods("false", 14, "true"), s2, line, s3);
	CHECK_STR(line, "Pods unchanged since the last nag: api-7f9c-x2k4q CrashLoopBackOff "
			"(restarts 14); 2/3 ready.");
	CHECK_STR(s3, s2);

	/* Another pod fails too: the one named stays, the ready count says the rest. */
	nag_line(&f, api_pods("false", 14, "false"), s2, line, s4);
	CHECK_STR(line, "Pods: api-7f9c-x2k4q CrashLoopBackOff (restarts 14, none since the last "
			"nag); 1/3 ready (2/3 at the last nag).");

	/* Recovering: all ready now. */
	nag_line(&f, api_pods("true", 14, "true"), s2, line, s3);
	CHECK_STR(line, "Pods recovering: 3/3 ready now (2/3 at the last nag).");
	CHECK_STR(s3, "ready=3 total=3 restarts=0");
	nag_line(&f, api_pods("true", 14, "true"), s3, line, s4);
	CHECK_STR(line, "Pods: 3/3 ready, as at the last nag.");

	/* The look failed: said, and no summary (the previous look stays the reference). */
	followup_compose_nag_pods(&f, "error: timeout after 5000 ms", s2, line, sizeof(line), s3,
				  sizeof(s3));
	CHECK_STR(line, "Pods: could not look (timeout after 5000 ms).");
	CHECK_STR(s3, "");
	followup_compose_nag_pods(&f, NULL, "", line, sizeof(line), s3, sizeof(s3));
	CHECK_CONTAINS(line, "Pods: could not look (");

	/* None of the deployment's pods. */
	free(f.deployment);
	f.deployment = xstrdup("gone");
	nag_line(&f, api_pods("false", 14, "true"), s2, line, s3);
	CHECK_STR(line, "Pods: none of gone found in prod now.");
	followup_facts_release(&f);
}

static void test_logs(void)
{
	struct followup_facts f;
	struct followup_answer a = {0};
	const char *text = "starting\nlistening on :8080\n"
			   "panic: runtime error: invalid memory address or nil pointer "
			   "dereference\n[signal SIGSEGV]\ngoroutine 1 [running]:\n";
	struct buf filtered, out;
	size_t lines = 0, kept = 0;

	buf_init(&filtered, 0);
	buf_init(&out, 0);
	k8s_filter_logs_counted(text, strlen(text), 8192, &filtered, &lines, &kept);
	buf_printf(&out, "logs pod=api-1 container=api previous=true lines=%zu kept=%zu\n%s", lines,
		   kept, filtered.data);
	facts_init(&f, NULL, "api-1");
	followup_compose_logs(&f, "api-1", out.data, &a);
	CHECK_CONTAINS(a.text, "Logs of api-1 (api, previous instance): ");
	CHECK(has_bullet(&a, "panic: runtime error: invalid memory address"));
	CHECK(!has_bullet(&a, "--- last lines ---"));
	CHECK(a.n_bullets <= 6);
	CHECK_STR(a.command, "kubectl -n prod logs api-1 -c api --previous --tail=100");
	followup_answer_release(&a);

	/* No error-like line: the last lines. */
	buf_reset(&filtered);
	buf_reset(&out);
	k8s_filter_logs_counted("a\nb\nc\n", 6, 8192, &filtered, &lines, &kept);
	buf_printf(&out, "logs pod=api-1 container=api previous=false lines=%zu kept=%zu\n%s",
		   lines, kept, filtered.data ? filtered.data : "");
	followup_compose_logs(&f, "api-1", out.data, &a);
	CHECK_CONTAINS(a.text, "0 error-like lines of 3; the last lines:");
	CHECK(has_bullet(&a, "c"));
	CHECK_STR(a.command, "kubectl -n prod logs api-1 -c api --tail=100");
	followup_answer_release(&a);

	followup_compose_logs(&f, "api-1", "error: 404 Not Found: pods \"api-1\" not found", &a);
	CHECK_CONTAINS(a.text, "Could not read the logs of api-1 (404 Not Found");
	CHECK(has_bullet(&a, "k8s_logs: panic"));
	followup_answer_release(&a);
	followup_facts_release(&f);
	buf_release(&filtered);
	buf_release(&out);
}

static void test_history_root_cause_help(void)
{
	struct followup_facts f;
	struct followup_answer a = {0};

	facts_init(&f, "checkout-api", NULL);
	followup_compose_history(&f, "history incidents=0 noise=0 real=0\n", "", &a);
	CHECK_STR(a.text, "First time: no earlier incident of KubeDeploymentReplicasMismatch.");
	followup_answer_release(&a);
	followup_compose_history(&f,
				 "history incidents=3 noise=2 real=1 last_age=2d 3h "
				 "last_verdict=noise last_root_cause=\"it recovered\"\n",
				 "#4 \xC2\xB7 2d ago \xC2\xB7 noise \xC2\xB7 it recovered\n", &a);
	/* last_age has a space ("2d 3h"): the reader takes the token */
	CHECK_CONTAINS(a.text, "Seen 3 times before (2 noise, 1 real)");
	CHECK_CONTAINS(a.text, "noise: it recovered");
	CHECK(has_bullet(&a, "#4 \xC2\xB7 2d ago"));
	followup_answer_release(&a);

	followup_compose_root_cause(&f, &a);
	CHECK_STR(a.text, "Root cause (bad_deploy, high confidence): Revision 7 of checkout-api "
			  "crash loops");
	CHECK_INT(a.n_bullets, 2);
	CHECK_STR(a.command, "kubectl -n prod rollout undo deployment/checkout-api");
	followup_answer_release(&a);
	free(f.root_cause);
	f.root_cause = NULL;
	free(f.investigation_state);
	f.investigation_state = xstrdup("running");
	followup_compose_root_cause(&f, &a);
	CHECK_CONTAINS(a.text, "still running");
	followup_answer_release(&a);

	followup_compose_help(&f, &a);
	CHECK_INT(a.intent, FU_HELP);
	CHECK_INT(a.n_bullets, 5);
	CHECK(has_bullet(&a, "what changed?"));
	followup_answer_release(&a);
	followup_facts_release(&f);
}

static void test_render_fits_a_phone(void)
{
	struct followup_facts f;
	struct followup_answer a = {0};
	struct incident_view v = {.id = 7, .alertname = "X", .environment = "production",
				  .severity = "critical", .state = "escalated", .namespace = "prod",
				  .workload = "checkout-api"};
	char *rollout = rollout_output(), *events = events_output(), *body, *q;
	cJSON *m;

	facts_init(&f, "report-worker", NULL);
	followup_compose_what_changed(&f, rollout, events, &a);
	q = xmalloc(5000);
	memset(q, 'a', 4999);
	q[4999] = '\0';
	body = render_followup(&v, "alice", q, &a);
	m = cJSON_Parse(body);
	CHECK(m != NULL);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(m, "kind")), "answer");
	CHECK_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(m, "text")), "alice asked: aaaa");
	CHECK(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(m, "text"))) < 450);
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(m, "bullets")) <= FOLLOWUP_MAX_BULLETS);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(m, "buttons")), 0);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(m, "command")),
		  "kubectl -n prod rollout history deployment/report-worker");
	cJSON_Delete(m);
	free(body);
	free(q);
	followup_answer_release(&a);
	followup_facts_release(&f);
	free(rollout);
	free(events);
}

/* ---- the store ---- */

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

/* A store with incident 1 (a bad deploy of prod/checkout-api, labels with a pod) and its report. */
static struct store *incident_store(const char *labels_extra)
{
	char err[256];
	struct store *s = store_open(":memory:", false, err, sizeof(err));
	struct alert a;
	struct triage_outcome o;
	struct triage_ctx ctx;
	const char *channels[] = {"console"};

	alert_init(&a);
	a.source = SOURCE_ALERTMANAGER;
	a.status = ALERT_FIRING;
	a.severity = SEV_CRITICAL;
	a.name = xstrdup("KubePodCrashLooping");
	a.summary = xstrdup("s");
	a.description = xstrdup("");
	a.cluster = xstrdup("");
	a.namespace = xstrdup("prod");
	a.workload = xstrdup("checkout-api-84c6f7b9d5-2xkfp");
	a.group_key = xstrdup("");
	a.generator_url = xstrdup("");
	a.source_fingerprint = xstrdup("fp");
	kv_list_set(&a.labels, "alertname", "KubePodCrashLooping");
	kv_list_set(&a.labels, "namespace", "prod");
	kv_list_set(&a.labels, "pod", "checkout-api-84c6f7b9d5-2xkfp");
	if (labels_extra)
		kv_list_set(&a.labels, "deployment", labels_extra);
	fingerprint_alert(fp, (const char *const *)cfg->fingerprint_labels,
			  cfg->n_fingerprint_labels, &a);
	ctx = (struct triage_ctx){.store = s, .cfg = cfg, .fp = fp, .now_ms = now_ms(),
				  .channels = channels, .n_channels = 1};
	store_begin(s);
	triage_alert(&ctx, &a, &o, err, sizeof(err));
	store_commit(s);
	store_exec(s, "UPDATE investigations SET state = 'done', report = json_object("
		      "'verdict', 'real', 'category', 'bad_deploy', 'confidence', 'high',"
		      " 'root_cause', 'Revision 7 crash loops', 'evidence',"
		      " json_array('k8s_logs: panic: boom'), 'recommended_command',"
		      " 'kubectl -n prod rollout undo deployment/checkout-api')");
	store_exec(s, "UPDATE incidents SET state = 'escalated', root_cause = 'Revision 7 crash loops'");
	alert_free(&a);
	return s;
}

static void test_request_refusals(void)
{
	struct store *s = incident_store(NULL);
	char err[256], *big = xmalloc(100 * 1024 + 1);

	memset(big, 'a', 100 * 1024);
	big[100 * 1024] = '\0';
	store_begin(s);
	CHECK_INT(followup_request(s, 99, "alice", "what changed?", 1, err, sizeof(err)), -1);
	CHECK_STR(err, "no incident 99");
	CHECK_INT(followup_request(s, 1, "alice", big, 1, err, sizeof(err)), -1);
	CHECK_STR(err, "the question is too long (102400 bytes, at most 2000)");
	CHECK_INT(followup_request(s, 1, "alice", "what\x1b[2J", 1, err, sizeof(err)), -1);
	CHECK_STR(err, "the question contains control characters");
	CHECK_INT(followup_request(s, 1, "alice", "what \xc3\x28 changed", 1, err, sizeof(err)), -1);
	CHECK_STR(err, "the question is not valid UTF-8");
	CHECK_INT(followup_request(s, 1, "alice", " \n\t", 1, err, sizeof(err)), -1);
	CHECK_STR(err, "the question is empty");
	CHECK_INT(followup_request(s, 1, "al\nice", "why", 1, err, sizeof(err)), -1);
	CHECK_STR(err, "the user name contains control characters");
	CHECK_INT(followup_request(s, 1, NULL, "why", 1, err, sizeof(err)), -1);
	CHECK_INT(followup_request(s, 1, "alice", "what changed?\nthe last deploy", 5, err,
				   sizeof(err)),
		  1);
	store_commit(s);
	CHECK_INT(scalar(s, "SELECT count(*) FROM followups"), 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM followups WHERE state = 'pending'"
			    " AND user = 'alice' AND created_at = 5 AND attempts = 0"),
		  1);
	free(big);
	store_close(s);
}

static void test_run_one_without_a_cluster(void)
{
	struct store *s = incident_store("checkout-api");
	struct followup_result res;
	char err[256];

	store_begin(s);
	CHECK_INT(followup_request(s, 1, "alice", "what changed in the last deploy?", 1, err,
				   sizeof(err)),
		  1);
	CHECK_INT(followup_request(s, 1, "bob", "why", 2, err, sizeof(err)), 2);
	store_commit(s);

	followup_run_one(s, cfg, NULL, NULL, 1, &res);
	CHECK_INT(res.status, 0);
	CHECK_INT(res.incident_id, 1);
	CHECK_INT(res.intent, FU_WHAT_CHANGED);
	/* no cluster configured: the tool fails, the answer says so and uses the evidence */
	CHECK_INT(scalar(s, "SELECT count(*) FROM followups WHERE id = 1 AND state = 'done'"
			    " AND intent = 'what_changed' AND attempts = 1"
			    " AND answer LIKE 'Could not read the rollout history of prod/checkout-api"
			    " (no Kubernetes cluster is configured)%'"
			    " AND answer LIKE '%k8s_logs: panic: boom%'"),
		  1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM tool_calls WHERE followup_id = 1"
			    " AND investigation_id IS NULL AND ok = 0"),
		  2);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'answer' AND incident_id = 1"
			    " AND channel = 'console'"
			    " AND json_extract(body, '$.text') LIKE '%alice asked: what changed%'"
			    " AND json_extract(body, '$.command') ="
			    " 'kubectl -n prod rollout undo deployment/checkout-api'"),
		  1);
	/* Claimed once: a second run does nothing. */
	followup_run_one(s, cfg, NULL, NULL, 1, &res);
	CHECK_INT(res.status, 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'answer'"), 1);

	followup_run_one(s, cfg, NULL, NULL, 2, &res);
	CHECK_INT(res.status, 0);
	CHECK_INT(res.intent, FU_ROOT_CAUSE);
	CHECK_INT(res.steps, 0);
	CHECK_INT(scalar(s, "SELECT count(*) FROM followups WHERE id = 2"
			    " AND answer LIKE 'Root cause (bad_deploy, high confidence): Revision 7%'"),
		  1);

	/* Interrupted too often: a short apology, marked failed. */
	store_exec(s, "INSERT INTO followups (incident_id, user, question, state, attempts,"
		      " created_at) VALUES (1, 'carol', 'logs', 'pending', 3, 0)");
	followup_run_one(s, cfg, NULL, NULL, 3, &res);
	CHECK_INT(res.status, -1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM followups WHERE id = 3 AND state = 'failed'"
			    " AND answer LIKE '%interrupted too often%'"),
		  1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'answer'"), 3);
	store_close(s);
}

/* A nag row: posted with the pod line, once; not posted once the escalation stopped. */
static void test_nag_row(void)
{
	struct store *s = incident_store("checkout-api");
	struct followup_result res;
	char err[256];

	store_exec(s, "INSERT INTO escalations (incident_id, environment, interval_ms, started_at,"
		      " state, updated_at, last_pods) VALUES (1, '', 60000, 0, 'active', 0,"
		      " 'ready=0 total=1 pod=x restarts=2')");
	store_begin(s);
	CHECK_INT(followup_request_nag(s, 1,
				       "\xE2\x8F\xB0 Still unacknowledged \xE2\x80\x94 nag #1.", 5,
				       err, sizeof(err)),
		  1);
	store_commit(s);
	CHECK_INT(scalar(s, "SELECT count(*) FROM followups WHERE kind = 'nag' AND user = ''"
			    " AND state = 'pending'"),
		  1);
	followup_run_one(s, cfg, NULL, NULL, 1, &res);
	CHECK_INT(res.status, 0);
	CHECK(res.nag);
	/* no cluster configured: the nag still goes out, saying the look failed */
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'human' AND incident_id = 1"
			    " AND json_extract(body, '$.text') = '\xE2\x8F\xB0 Still unacknowledged"
			    " \xE2\x80\x94 nag #1. Pods: could not look (no Kubernetes cluster is"
			    " configured).'"),
		  1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM followups WHERE id = 1 AND state = 'done'"
			    " AND intent = 'nag' AND error IS NULL"),
		  1);
	CHECK_INT(scalar(s, "SELECT last_pods = 'ready=0 total=1 pod=x restarts=2'"
			    " FROM escalations"),
		  1);
	followup_run_one(s, cfg, NULL, NULL, 1, &res);
	CHECK_INT(res.status, 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'human'"), 1);

	/* Acknowledged between the nag and the look: nothing is posted. */
	store_begin(s);
	CHECK_INT(followup_request_nag(s, 1, "nag #2", 6, err, sizeof(err)), 2);
	store_commit(s);
	store_exec(s, "UPDATE escalations SET state = 'acked'");
	followup_run_one(s, cfg, NULL, NULL, 2, &res);
	CHECK_INT(res.status, 0);
	CHECK_INT(scalar(s, "SELECT count(*) FROM followups WHERE id = 2 AND state = 'done'"
			    " AND error LIKE 'not posted%'"),
		  1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'human'"), 1);
	store_close(s);
}

static void test_budget_and_pod_owner(void)
{
	struct store *s = incident_store(NULL);
	struct followup_env env = {.cfg = tiny_cfg, .store = s, .now_ms = now_ms()};
	struct followup_answer a;
	struct tool_calls calls;
	char err[256];

	/* step_budget 1: the pod's owner lookup takes it; the pods listing is not called. */
	CHECK_INT(followup_run(&env, 1, "still broken?", &a, &calls, err, sizeof(err)), 0);
	CHECK_INT(calls.n, 1);
	CHECK_STR(calls.n ? calls.items[0].tool : "", "k8s_pod");
	CHECK_CONTAINS(a.text, "Could not look at the pods of checkout-api now (step budget reached");
	followup_answer_release(&a);
	tool_calls_release(&calls);

	CHECK_INT(followup_run(&env, 42, "why", &a, &calls, err, sizeof(err)), -1);
	CHECK_STR(err, "no incident 42");
	followup_answer_release(&a);
	tool_calls_release(&calls);

	CHECK_INT(followup_run(&env, 1, "seen this before?", &a, &calls, err, sizeof(err)), 0);
	CHECK_STR(a.text, "First time: no earlier incident of KubePodCrashLooping.");
	CHECK_INT(calls.n, 1);
	followup_answer_release(&a);
	tool_calls_release(&calls);
	store_close(s);
}

static struct config *pool_cfg;

struct order {
	char kinds[16];
	size_t n;
};

static void on_done(void *arg, const struct investigation_result *r)
{
	struct order *o = arg;
	if (o->n < sizeof(o->kinds) - 1 && r->status != 1)
		o->kinds[o->n++] = r->followup ? 'F' : 'I';
}

static void no_wake(void *arg)
{
	(void)arg;
}

/* One worker, three investigations and two follow-ups waiting: they take turns. */
static void test_pool_alternates(void)
{
	char path[300], err[512];
	struct store *s;
	struct shared_playbooks *pb;
	struct workers *w;
	struct order o = {.n = 0};
	const char *channels[] = {"console"};
	int64_t until;

	snprintf(path, sizeof(path), "%s/pool.db", tmpdir);
	s = store_open(path, false, err, sizeof(err));
	pb = shared_playbooks_load("tests/fixtures/engine-playbooks", err, sizeof(err));
	CHECK(s != NULL && pb != NULL);
	if (s == NULL || pb == NULL)
		return;
	store_begin(s);
	for (int i = 0; i < 3; i++) {
		struct alert a;
		struct triage_outcome out;
		struct triage_ctx ctx = {.store = s, .cfg = pool_cfg, .fp = fp, .now_ms = now_ms(),
					 .channels = channels, .n_channels = 1};
		char name[16];
		snprintf(name, sizeof(name), "Pool%d", i);
		alert_init(&a);
		a.name = xstrdup(name);
		a.summary = xstrdup("s");
		a.description = xstrdup("");
		a.cluster = xstrdup("");
		a.namespace = xstrdup("");
		a.workload = xstrdup("");
		a.group_key = xstrdup("");
		a.generator_url = xstrdup("");
		a.source_fingerprint = xstrdup(name);
		kv_list_set(&a.labels, "alertname", name);
		CHECK_INT(triage_alert(&ctx, &a, &out, err, sizeof(err)), 0);
		alert_free(&a);
	}
	CHECK_INT(followup_request(s, 1, "alice", "why", now_ms(), err, sizeof(err)), 1);
	CHECK_INT(followup_request(s, 2, "bob", "help", now_ms(), err, sizeof(err)), 2);
	store_commit(s);
	w = workers_start(path, pool_cfg, pb, no_wake, NULL, err, sizeof(err));
	CHECK(w != NULL);
	until = mono_ms() + 15000;
	while (w != NULL && o.n < 5 && mono_ms() < until) {
		workers_dispatch(w, s);
		workers_drain(w, on_done, &o);
		usleep(2000);
	}
	o.kinds[o.n] = '\0';
	CHECK_STR(o.kinds, "IFIFI");
	CHECK_INT(scalar(s, "SELECT count(*) FROM followups WHERE state = 'done'"), 2);
	CHECK_INT(scalar(s, "SELECT count(*) FROM investigations WHERE state = 'done'"), 3);
	workers_stop(w, 5000);
	shared_playbooks_unref(pb);
	store_close(s);
}

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

int main(void)
{
	if (mkdtemp(tmpdir) == NULL || parse_time_ms("2026-01-10T12:00:00Z", &now) < 0)
		return 1;
	cfg = load_cfg("a.yaml", "channels:\n  console: {enabled: true}\n");
	tiny_cfg = load_cfg("b.yaml", "investigations:\n  step_budget: 1\n");
	pool_cfg = load_cfg("c.yaml", "investigations:\n  workers: 1\nchannels:\n  console: "
				      "{enabled: true}\nplaybooks:\n  dir: tests/fixtures/engine-playbooks\n");
	fp = fingerprinter_new();
	if (cfg == NULL || tiny_cfg == NULL || pool_cfg == NULL)
		return 1;
	RUN(test_intents);
	RUN(test_line_value);
	RUN(test_what_changed);
	RUN(test_status);
	RUN(test_nag_pods);
	RUN(test_logs);
	RUN(test_history_root_cause_help);
	RUN(test_render_fits_a_phone);
	RUN(test_request_refusals);
	RUN(test_run_one_without_a_cluster);
	RUN(test_nag_row);
	RUN(test_budget_and_pod_owner);
	RUN(test_pool_alternates);
	config_unref(cfg);
	config_unref(tiny_cfg);
	config_unref(pool_cfg);
	fingerprinter_free(fp);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup failed\n");
	}
	return harness_done();
}
