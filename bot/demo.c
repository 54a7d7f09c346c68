/*
 * This file contains `nightshift demo`: a simulated Kubernetes cluster
 * (contrib/simcluster with three scenarios: an OOM crash loop, a bad deploy,
 * a pod that already recovered), the bot started as `nightshift run` with the
 * console channel, a temporary store and its kubernetes section pointing at
 * the simulator, and realistic alerts fired through the bot's own webhook.
 * Each incident's thread (received, investigation report, verdict) prints on
 * the terminal; after each alert the demo waits until the store says every
 * investigation is done and every message printed, then goes on. It ends
 * with a summary and stops both processes (--keep: until Ctrl-C).
 */
#include "cli.h"

#include "config.h"
#include "demo.h"
#include "store.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLUSTER     "prod-eu-1"
#define START_MS    30000 /* a child must be listening within this */
#define SETTLE_MS   90000 /* an alert's thread must be complete within this */
#define STOP_MS     5000

static const char *const scenarios[] = {"crashloop-oom.json", "bad-deploy.json",
					 "recovered-restart.json"};

struct demo_step {
	const char *say;  /* narration, printed before the request */
	const char *path; /* webhook path */
	const char *body; /* @STARTS@, @KUMA_TIME@ and @SIM@ are replaced */
};

#define AM_ALERT(name, labels, summary, runbook, fp)                                               \
	"{\"status\":\"firing\",\"labels\":{\"alertname\":\"" name "\"," labels                    \
	",\"cluster\":\"" CLUSTER "\",\"prometheus\":\"monitoring/k8s\"},"                         \
	"\"annotations\":{\"summary\":\"" summary "\",\"runbook_url\":"                            \
	"\"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/" runbook "\"},"           \
	"\"startsAt\":\"@STARTS@\",\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":"          \
	"\"http://prometheus." CLUSTER ":9090/graph\",\"fingerprint\":\"" fp "\"}"

#define AM_BODY(name, alert)                                                                       \
	"{\"receiver\":\"nightshift\",\"status\":\"firing\",\"alerts\":[" alert "],"               \
	"\"groupLabels\":{\"alertname\":\"" name "\"},\"commonLabels\":{},"                        \
	"\"commonAnnotations\":{},\"externalURL\":\"http://alertmanager." CLUSTER ":9093\","       \
	"\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"" name "\\\"}\",\"truncatedAlerts\":0}"

#define OOM_ALERT                                                                                  \
	AM_BODY("KubePodCrashLooping",                                                             \
		AM_ALERT("KubePodCrashLooping",                                                    \
			 "\"namespace\":\"prod\",\"pod\":\"report-worker-6b8f9c7d54-x7kqp\","      \
			 "\"container\":\"report-worker\",\"job\":\"kube-state-metrics\","         \
			 "\"severity\":\"warning\"",                                               \
			 "Pod prod/report-worker-6b8f9c7d54-x7kqp is crash looping",               \
			 "kubepodcrashlooping", "5f1c0a9e7d3b2a61"))

static const struct demo_step steps[] = {
	{"Alertmanager: KubePodCrashLooping for pod prod/report-worker-6b8f9c7d54-x7kqp",
	 "/alerts/alertmanager", OOM_ALERT},
	{"Alertmanager: KubeDeploymentReplicasMismatch for deployment prod/checkout-api",
	 "/alerts/alertmanager",
	 AM_BODY("KubeDeploymentReplicasMismatch",
		 AM_ALERT("KubeDeploymentReplicasMismatch",
			  "\"namespace\":\"prod\",\"deployment\":\"checkout-api\","
			  "\"job\":\"kube-state-metrics\",\"severity\":\"warning\"",
			  "Deployment prod/checkout-api has not matched the expected number of "
			  "replicas for longer than 15 minutes",
			  "kubedeploymentreplicasmismatch", "a27d94c31e0b8f52"))},
	{"Alertmanager: KubePodCrashLooping for pod prod/notification-dispatcher-5c8d7f9b6-w7xkp",
	 "/alerts/alertmanager",
	 AM_BODY("KubePodCrashLooping",
		 AM_ALERT("KubePodCrashLooping",
			  "\"namespace\":\"prod\",\"pod\":\"notification-dispatcher-5c8d7f9b6-w7xkp\","
			  "\"container\":\"notification-dispatcher\",\"job\":\"kube-state-metrics\","
			  "\"severity\":\"warning\"",
			  "Pod prod/notification-dispatcher-5c8d7f9b6-w7xkp is crash looping",
			  "kubepodcrashlooping", "c6e05b7a9d4f1e23"))},
	{"Uptime Kuma: monitor cluster-api (the API server's /readyz) reports DOWN",
	 "/alerts/uptime-kuma",
	 "{\"heartbeat\":{\"monitorID\":3,\"status\":0,\"time\":\"@KUMA_TIME@\","
	 "\"msg\":\"timeout of 48000ms exceeded\",\"important\":true,\"duration\":60,"
	 "\"timezone\":\"UTC\"},\"monitor\":{\"id\":3,\"name\":\"cluster-api\",\"type\":\"http\","
	 "\"url\":\"@SIM@/readyz\",\"interval\":60,\"maxretries\":0,\"tags\":[{\"name\":\"cluster\","
	 "\"value\":\"" CLUSTER "\"}]},"
	 "\"msg\":\"[cluster-api] [\xF0\x9F\x94\xB4 Down] timeout of 48000ms exceeded\"}"},
	{"Alertmanager: KubePodCrashLooping in the test tenant namespace tenant-test-42",
	 "/alerts/alertmanager",
	 AM_BODY("KubePodCrashLooping",
		 AM_ALERT("KubePodCrashLooping",
			  "\"namespace\":\"tenant-test-42\",\"pod\":\"worker-6d5f8c7b9-k2x9z\","
			  "\"container\":\"worker\",\"job\":\"kube-state-metrics\","
			  "\"severity\":\"warning\"",
			  "Pod tenant-test-42/worker-6d5f8c7b9-k2x9z is crash looping",
			  "kubepodcrashlooping", "0e8b3d5a71c94f06"))},
	{"Alertmanager: repeats the report-worker alert (repeat_interval)", "/alerts/alertmanager",
	 OOM_ALERT},
};

/* What the demo runs with; paths are real paths. */
struct demo {
	char dir[PATH_MAX];
	char exe[PATH_MAX], exe_dir[PATH_MAX], sim_bin[PATH_MAX];
	char scenarios[PATH_MAX], playbooks[PATH_MAX];
	char cfg_path[PATH_MAX + 32];
	struct demo_child sim, bot;
	int sim_port, bot_port;
	int64_t max_incident; /* highest incident id seen so far */
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	(void)buf_append(b, p, size * n);
	return size * n;
}

static int post(int port, const char *path, const char *body, struct buf *resp)
{
	CURL *c = curl_easy_init();
	char url[256];
	long code = 0;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return (int)code;
}

/* The step's body with its placeholders filled in (owned). */
static char *expand_body(const struct demo *d, const char *tmpl)
{
	char starts[32], kuma[32], sim[64];
	time_t t = (time_t)(now_ms() / 1000 - 60);
	struct tm tm;
	struct buf b;

	format_time(now_ms() - 6 * 60 * 1000, starts, sizeof(starts));
	gmtime_r(&t, &tm);
	strftime(kuma, sizeof(kuma), "%Y-%m-%d %H:%M:%S.000", &tm);
	snprintf(sim, sizeof(sim), "http://127.0.0.1:%d", d->sim_port);
	buf_init(&b, 0);
	for (const char *p = tmpl; *p;) {
		if (str_has_prefix(p, "@STARTS@"))
			buf_puts(&b, starts), p += 8;
		else if (str_has_prefix(p, "@KUMA_TIME@"))
			buf_puts(&b, kuma), p += 11;
		else if (str_has_prefix(p, "@SIM@"))
			buf_puts(&b, sim), p += 5;
		else
			buf_append(&b, p++, 1);
	}
	return buf_detach(&b);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int write_config(struct demo *d)
{
	char *text, path[PATH_MAX + 32];
	int rc;

	snprintf(d->cfg_path, sizeof(d->cfg_path), "%s/nightshift.yaml", d->dir);
	text = xasprintf(
		"# written by `nightshift demo`: the bot on loopback, a temporary store, the\n"
		"# console channel, and a kubernetes section pointing at the simulated cluster\n"
		"listen: 127.0.0.1:0\n"
		"log_level: warn\n"
		"storage:\n  path: %s/demo.db\n"
		"environments:\n"
		"  - name: production\n    match: {cluster: \"^prod\"}\n"
		"  - name: staging\n    match: {namespace: \"^staging\"}\n"
		"  - name: dev\n"
		"noise:\n"
		"  - reason: test tenants are recreated all the time\n"
		"    match: {namespace: \"^tenant-test-\"}\n"
		"investigations:\n  workers: 2\n  step_budget: 20\n  deadline: 30s\n"
		"  tool_timeout: 5s\n"
		"playbooks:\n  dir: %s\n"
		"kubernetes:\n  clusters:\n    - name: " CLUSTER "\n"
		"      server: http://127.0.0.1:%d\n"
		"channels:\n  console: {enabled: true, color: true}\n",
		d->dir, d->playbooks, d->sim_port);
	rc = write_file(d->cfg_path, text);
	free(text);
	if (rc < 0)
		return -1;
	/* For kubectl (--keep): the simulated cluster as a kubeconfig context. */
	snprintf(path, sizeof(path), "%s/kubeconfig", d->dir);
	text = xasprintf("apiVersion: v1\nkind: Config\n"
			 "clusters:\n- name: " CLUSTER "\n  cluster:\n    server: http://127.0.0.1:%d\n"
			 "users:\n- name: demo\n  user: {}\n"
			 "contexts:\n- name: " CLUSTER "\n  context:\n    cluster: " CLUSTER "\n"
			 "    user: demo\n    namespace: prod\n"
			 "current-context: " CLUSTER "\n",
			 d->sim_port);
	rc = write_file(path, text);
	free(text);
	return rc;
}

static int start_sim(struct demo *d)
{
	char scen[ARRAY_LEN(scenarios)][PATH_MAX + 64], ready[PATH_MAX + 32], muts[PATH_MAX + 32],
	    log[PATH_MAX + 32];
	char *argv[24];
	size_t n = 0;

	snprintf(ready, sizeof(ready), "%s/simcluster.port", d->dir);
	snprintf(muts, sizeof(muts), "%s/mutations.jsonl", d->dir);
	snprintf(log, sizeof(log), "%s/simcluster.log", d->dir);
	argv[n++] = d->sim_bin;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	for (size_t i = 0; i < ARRAY_LEN(scenarios); i++) {
		snprintf(scen[i], sizeof(scen[i]), "%s/%s", d->scenarios, scenarios[i]);
		argv[n++] = "--scenario";
		argv[n++] = scen[i];
	}
	argv[n++] = "--ready-file";
	argv[n++] = ready;
	argv[n++] = "--mutations";
	argv[n++] = muts;
	argv[n++] = "--log-level";
	argv[n++] = "warn";
	argv[n] = NULL;
	d->sim.name = "simcluster";
	if (demo_spawn(&d->sim, argv, log, false) < 0)
		return -1;
	d->sim_port = demo_wait_port(ready, &d->sim, START_MS);
	return d->sim_port > 0 ? 0 : -1;
}

static int start_bot(struct demo *d)
{
	char ready[PATH_MAX + 32], log[PATH_MAX + 32];
	char *argv[] = {d->exe, "run", "-c", d->cfg_path, "--ready-file", ready, NULL};

	snprintf(ready, sizeof(ready), "%s/nightshift.port", d->dir);
	snprintf(log, sizeof(log), "%s/nightshift.log", d->dir);
	d->bot.name = "nightshift";
	if (demo_spawn(&d->bot, argv, log, true) < 0)
		return -1;
	d->bot_port = demo_wait_port(ready, &d->bot, START_MS);
	return d->bot_port > 0 ? 0 : -1;
}

/*
 * Waits until the store has no pending investigation and no unsent message:
 * triage writes both in the transaction the 202 waited for, and the console
 * prints a message before it is marked sent, so then the thread is complete.
 */
static int wait_settled(struct demo *d, struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, 0,
				      "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending')"
				      " + (SELECT count(*) FROM investigations"
				      "    WHERE state IN ('pending', 'running'))");
	int64_t until = mono_ms() + SETTLE_MS;

	while (st != NULL && mono_ms() < until && !demo_interrupted()) {
		int busy = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 1;
		sqlite3_reset(st);
		if (busy == 0)
			return 0;
		if (!demo_child_alive(&d->bot))
			return -1;
		demo_nap(10);
	}
	return -1;
}

/* Says whether the alert joined an existing incident (no new thread). */
static void note_joins(struct demo *d, const char *resp)
{
	cJSON *j = cJSON_Parse(resp);
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(j, "incidents"), *id;

	cJSON_ArrayForEach(id, ids)
	{
		int64_t n = (int64_t)cJSON_GetNumberValue(id);
		if (n <= d->max_incident)
			printf("  \xE2\x86\xB3 joined incident #%lld (same fingerprint): its count goes up; "
			       "no new thread, no new investigation\n",
			       (long long)n);
		else
			d->max_incident = n;
	}
	cJSON_Delete(j);
}

/* Fires every step; returns 0 when each was accepted and its thread completed. */
static int play(struct demo *d, struct store *s)
{
	int rc = 0;

	for (size_t i = 0; i < ARRAY_LEN(steps) && !demo_interrupted(); i++) {
		char *body = expand_body(d, steps[i].body);
		struct buf resp;
		int code;

		buf_init(&resp, 65536);
		printf("\n\xE2\x96\xB6 %s\n", steps[i].say);
		fflush(stdout);
		code = post(d->bot_port, steps[i].path, body, &resp);
		free(body);
		if (code != 202) {
			if (!demo_interrupted())
				fprintf(stderr, "nightshift demo: POST %s answered %d %s\n",
					steps[i].path, code, resp.data ? resp.data : "");
			rc = -1;
		} else {
			note_joins(d, resp.data ? resp.data : "");
		}
		buf_release(&resp);
		if (rc == 0 && wait_settled(d, s) < 0) {
			if (!demo_interrupted())
				fprintf(stderr, "nightshift demo: the thread of step %zu did not "
						"complete (see %s/nightshift.log)\n",
					i + 1, d->dir);
			rc = -1;
		}
		fflush(stdout);
		if (rc < 0)
			break;
	}
	return rc;
}

static long count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int c;

	if (f == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* What happened, from the store (the bot still runs, all settled). */
static void summary(struct demo *d, struct store *s, int64_t elapsed_ms)
{
	char muts[PATH_MAX + 32];
	sqlite3_stmt *st;
	long alerts = 0, incidents = 0, calls = 0, k8s_calls = 0;

	st = store_stmt(s, 1, "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM incidents),"
			      " (SELECT count(*) FROM tool_calls),"
			      " (SELECT count(*) FROM tool_calls WHERE tool LIKE 'k8s%')");
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		alerts = sqlite3_column_int(st, 0);
		incidents = sqlite3_column_int(st, 1);
		calls = sqlite3_column_int(st, 2);
		k8s_calls = sqlite3_column_int(st, 3);
	}
	if (st)
		sqlite3_reset(st);
	printf("\n\xE2\x94\x81\xE2\x94\x81 Summary: %ld alerts \xE2\x86\x92 %ld incidents in %.1f s\n",
	       alerts, incidents, (double)elapsed_ms / 1000.0);
	st = store_stmt(s, 2,
			"SELECT i.id, i.state, i.alertname, i.namespace, i.workload, i.alert_count,"
			" coalesce(i.verdict_reason, ''), v.category, v.confidence"
			" FROM incidents i LEFT JOIN investigations v ON v.id = (SELECT max(id)"
			"  FROM investigations WHERE incident_id = i.id AND state = 'done')"
			" ORDER BY i.id");
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		const char *state = store_col_text(st, 1), *ns = store_col_text(st, 3);
		char why[96];

		if (sqlite3_column_type(st, 7) != SQLITE_NULL)
			snprintf(why, sizeof(why), "%s, %s confidence", store_col_text(st, 7),
				 store_col_text(st, 8));
		else
			snprintf(why, sizeof(why), "by a noise rule");
		printf("  #%-3lld %-19s %-30s %s %s%s%s", (long long)sqlite3_column_int64(st, 0),
		       strcmp(state, "noise") == 0 ? "dismissed as noise" : state, why,
		       store_col_text(st, 2), ns, *ns ? "/" : "", store_col_text(st, 4));
		if (sqlite3_column_int(st, 5) > 1)
			printf(" (%d alerts)", sqlite3_column_int(st, 5));
		printf("\n");
	}
	if (st)
		sqlite3_reset(st);
	snprintf(muts, sizeof(muts), "%s/mutations.jsonl", d->dir);
	printf("  %ld read-only tool calls, %ld of them to the simulated cluster's API; "
	       "changes made to the cluster: %ld\n",
	       calls, k8s_calls, count_lines(muts));
	fflush(stdout);
}

static void print_keep(const struct demo *d)
{
	printf("\nThe bot and the simulated cluster keep running:\n"
	       "  bot (webhook)       http://127.0.0.1:%d\n"
	       "  simulated cluster   http://127.0.0.1:%d\n\n"
	       "Try:\n"
	       "  curl -s http://127.0.0.1:%d/healthz\n"
	       "  curl -s -H 'Content-Type: application/json' --data "
	       "'{\"title\":\"KubePodCrashLooping\",\"severity\":\"critical\",\"labels\":"
	       "{\"namespace\":\"prod\",\"pod\":\"checkout-api-84c6f7b9d5-9hqzt\","
	       "\"cluster\":\"" CLUSTER "\"}}' http://127.0.0.1:%d/alerts\n"
	       "  %s incidents -c %s\n"
	       "  kubectl --kubeconfig %s/kubeconfig get pods -A\n"
	       "  kubectl --kubeconfig %s/kubeconfig describe pod report-worker-6b8f9c7d54-x7kqp\n"
	       "  kubectl --kubeconfig %s/kubeconfig logs checkout-api-84c6f7b9d5-2xkfp --previous\n"
	       "  kubectl --kubeconfig %s/kubeconfig rollout history deployment/checkout-api\n"
	       "  curl -s http://127.0.0.1:%d/api/v1/namespaces/prod/events\n\n"
	       "Logs: %s/nightshift.log, %s/simcluster.log. Ctrl-C stops both.\n",
	       d->bot_port, d->sim_port, d->bot_port, d->bot_port, d->exe, d->cfg_path, d->dir,
	       d->dir, d->dir, d->dir, d->sim_port, d->dir, d->dir);
	fflush(stdout);
}

/* Finds what the demo needs; prints what is missing and how to get it. */
static int locate(struct demo *d)
{
	if (demo_exe(d->exe, sizeof(d->exe), d->exe_dir, sizeof(d->exe_dir)) < 0) {
		fprintf(stderr, "nightshift demo: cannot find my own binary (/proc/self/exe)\n");
		return -1;
	}
	if (!demo_find_simcluster(d->exe_dir, d->sim_bin, sizeof(d->sim_bin))) {
		fprintf(stderr,
			"nightshift demo: the simulated Kubernetes cluster is not built: no "
			"simcluster next to %s,\nin %s/build/, in ./build/ or on PATH. Build it "
			"from the source tree with\n\n    make build/simcluster\n\n(or run `make "
			"demo`, which builds both and starts the demo).\n",
			d->exe, d->exe_dir);
		return -1;
	}
	if (!demo_find_dir(d->exe_dir, "contrib/simcluster/scenarios", d->scenarios,
			   sizeof(d->scenarios)) ||
	    !demo_find_dir(d->exe_dir, "playbooks", d->playbooks, sizeof(d->playbooks))) {
		fprintf(stderr, "nightshift demo: cannot find contrib/simcluster/scenarios and "
				"playbooks/ next to %s or in the current folder; run the demo from "
				"the source tree (make demo)\n",
			d->exe);
		return -1;
	}
	return 0;
}

int cli_demo(bool keep)
{
	struct demo d;
	struct store *s = NULL;
	char err[PATH_MAX + 8192];
	struct config *cfg;
	int64_t t0 = mono_ms();
	int rc = 1, bot_rc, sim_rc;
	bool keep_dir = false;
	const char *tmp;

	memset(&d, 0, sizeof(d));
	if (locate(&d) < 0)
		return 1;
	tmp = getenv("TMPDIR");
	snprintf(d.dir, sizeof(d.dir), "%s/nightshift-demo-XXXXXX",
		 !str_empty(tmp) && strlen(tmp) < PATH_MAX - 64 ? tmp : "/tmp");
	if (mkdtemp(d.dir) == NULL) {
		fprintf(stderr, "nightshift demo: cannot create a temporary directory: %s\n",
			strerror(errno));
		return 1;
	}
	demo_signals_install();
	if (start_sim(&d) < 0) {
		if (!demo_interrupted())
			fprintf(stderr, "nightshift demo: the simulated cluster did not start (%s "
					"--listen 127.0.0.1:0); see %s/simcluster.log\n",
				d.sim_bin, d.dir);
		keep_dir = true;
		goto out;
	}
	if (write_config(&d) < 0 || (cfg = config_load(d.cfg_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "nightshift demo: bad demo configuration:\n%s", err);
		keep_dir = true;
		goto out;
	}
	config_unref(cfg);
	if (start_bot(&d) < 0) {
		if (!demo_interrupted())
			fprintf(stderr, "nightshift demo: the bot did not start; see %s/nightshift.log\n",
				d.dir);
		keep_dir = true;
		goto out;
	}
	snprintf(err, sizeof(err), "%s/demo.db", d.dir);
	s = store_open(err, true, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "nightshift demo: %s\n", err);
		keep_dir = true;
		goto out;
	}
	printf("nightshift demo \xE2\x80\x94 no accounts, nothing leaves this machine\n"
	       "  a simulated Kubernetes cluster \"" CLUSTER "\" on 127.0.0.1:%d: an OOM crash "
	       "loop, a bad deploy, a pod that recovered\n"
	       "  the bot on 127.0.0.1:%d: console channel, temporary store in %s\n"
	       "  each alert goes to the bot's webhook; the thread shows what the bot found\n",
	       d.sim_port, d.bot_port, d.dir);
	fflush(stdout);
	if (play(&d, s) < 0) {
		keep_dir = true;
		goto out;
	}
	summary(&d, s, mono_ms() - t0);
	rc = 0;
	if (keep) {
		print_keep(&d);
		demo_wait_interrupt(&d.bot, &d.sim);
		printf("\nStopping the bot and the simulated cluster\xE2\x80\xA6\n");
		fflush(stdout);
	}
out:
	store_close(s);
	bot_rc = demo_child_stop(&d.bot, STOP_MS);
	sim_rc = demo_child_stop(&d.sim, STOP_MS);
	if (rc == 0 && (bot_rc != 0 || sim_rc != 0)) {
		fprintf(stderr, "nightshift demo: the bot exited with %d, the simulated cluster with "
				"%d (logs in %s)\n",
			bot_rc, sim_rc, d.dir);
		rc = 1;
		keep_dir = true;
	}
	if (rc == 0)
		printf("Stopped both processes%s.\n",
		       keep ? "" : "; `./nightshift demo --keep` keeps them running for curl and kubectl");
	if (demo_interrupted() && rc != 0) {
		/* Ctrl-C before the end: not a failure to investigate. */
		keep_dir = false;
		fprintf(stderr, "nightshift demo: interrupted; stopped everything\n");
		rc = 128 + demo_interrupt_signal();
	}
	fflush(stdout);
	if (keep_dir)
		fprintf(stderr, "nightshift demo: kept %s for a look\n", d.dir);
	else
		demo_remove_dir(d.dir);
	demo_signals_restore();
	return rc;
}
