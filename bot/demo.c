/*
 * This file contains `nightshift demo`: the bot on a temporary store with
 * the console channel, fed realistic alerts through its own webhook, so a
 * newcomer sees threads open, group, get dismissed and resolve in seconds.
 * The bot runs in a child process exactly as `nightshift run` does; this
 * process plays Alertmanager, Grafana and Uptime Kuma with libcurl.
 */
#include "cli.h"

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct demo_step {
	const char *say;    /* narration, printed before the request */
	const char *path;   /* webhook path */
	const char *body;
};

#define AM_ALERT(status, pod, ends)                                                                \
	"{\"status\":\"" status "\",\"labels\":{\"alertname\":\"KubePodCrashLooping\","             \
	"\"namespace\":\"prod\",\"pod\":\"" pod "\",\"container\":\"api\",\"severity\":\"critical\"," \
	"\"cluster\":\"prod-eu-1\"},\"annotations\":{\"summary\":\"Pod prod/" pod                     \
	" is crash looping\",\"runbook_url\":\"https://runbooks.example/KubePodCrashLooping\"},"     \
	"\"startsAt\":\"2026-11-22T23:11:15.357Z\",\"endsAt\":\"" ends "\","                          \
	"\"generatorURL\":\"http://prometheus.local/graph\",\"fingerprint\":\"" pod "\"}"

#define AM_BODY(status, alerts)                                                                    \
	"{\"receiver\":\"nightshift\",\"status\":\"" status "\",\"alerts\":[" alerts "],"             \
	"\"groupLabels\":{\"alertname\":\"KubePodCrashLooping\"},\"commonLabels\":{},"               \
	"\"commonAnnotations\":{},\"externalURL\":\"http://alertmanager:9093\",\"version\":\"4\","    \
	"\"groupKey\":\"{}:{alertname=\\\"KubePodCrashLooping\\\"}\",\"truncatedAlerts\":0}"

static const struct demo_step steps[] = {
	{"Alertmanager: KubePodCrashLooping fires for a production pod", "/alerts/alertmanager",
	 AM_BODY("firing", AM_ALERT("firing", "api-7f9c8d-x2k4q", "0001-01-01T00:00:00Z"))},
	{"Alertmanager: the same alert for another pod of that deployment (joins, no new thread)",
	 "/alerts/alertmanager",
	 AM_BODY("firing", AM_ALERT("firing", "api-5b6d7f-p9z1m", "0001-01-01T00:00:00Z"))},
	{"Grafana: p99 latency alert from staging", "/alerts/grafana",
	 "{\"receiver\":\"nightshift\",\"status\":\"firing\",\"orgId\":1,\"state\":\"alerting\","
	 "\"version\":\"1\",\"title\":\"[FIRING:1] HighLatency (checkout)\",\"alerts\":[{"
	 "\"status\":\"firing\",\"labels\":{\"alertname\":\"HighLatency\",\"namespace\":"
	 "\"staging\",\"service\":\"checkout\",\"severity\":\"warning\",\"grafana_folder\":\"SLOs\"},"
	 "\"annotations\":{\"summary\":\"checkout p99 latency is 2.3 s over 5 min\"},"
	 "\"startsAt\":\"2026-11-22T23:12:00Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
	 "\"fingerprint\":\"9c0e4f1d2a7b3c55\",\"values\":{\"B\":2.3}}],\"groupLabels\":{},"
	 "\"commonLabels\":{},\"commonAnnotations\":{},\"externalURL\":\"http://grafana:3000/\","
	 "\"groupKey\":\"{}:{}\",\"truncatedAlerts\":0}"},
	{"Uptime Kuma: the public status page stops answering", "/alerts/uptime-kuma",
	 "{\"heartbeat\":{\"monitorID\":7,\"status\":0,\"time\":\"2026-11-22 23:13:00.000\","
	 "\"msg\":\"connect ECONNREFUSED 203.0.113.10:443\",\"important\":true,\"duration\":60},"
	 "\"monitor\":{\"id\":7,\"name\":\"status-page\",\"type\":\"http\","
	 "\"url\":\"https://status.example.com\"},"
	 "\"msg\":\"[status-page] [\xF0\x9F\x94\xB4 Down] connect ECONNREFUSED\"}"},
	{"Alertmanager: a test tenant's pod restarts (matches a noise rule)", "/alerts/alertmanager",
	 "{\"receiver\":\"nightshift\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\","
	 "\"labels\":{\"alertname\":\"KubePodCrashLooping\",\"namespace\":\"tenant-test-42\","
	 "\"pod\":\"worker-6d5f8c-k2x9z\",\"severity\":\"warning\"},\"annotations\":{\"summary\":"
	 "\"Pod tenant-test-42/worker is crash looping\"},\"startsAt\":\"2026-11-22T23:14:00Z\","
	 "\"endsAt\":\"0001-01-01T00:00:00Z\",\"fingerprint\":\"aa01\"}],\"groupLabels\":{},"
	 "\"commonLabels\":{},\"commonAnnotations\":{},\"externalURL\":\"\",\"version\":\"4\","
	 "\"groupKey\":\"{}:{}\",\"truncatedAlerts\":0}"},
	{"Uptime Kuma: the status page is back", "/alerts/uptime-kuma",
	 "{\"heartbeat\":{\"monitorID\":7,\"status\":1,\"time\":\"2026-11-22 23:15:00.000\","
	 "\"msg\":\"200 - OK\",\"important\":true,\"duration\":60},\"monitor\":{\"id\":7,"
	 "\"name\":\"status-page\",\"type\":\"http\",\"url\":\"https://status.example.com\"},"
	 "\"msg\":\"[status-page] [\xE2\x9C\x85 Up] 200 - OK\"}"},
	{"Alertmanager: both pods recover (the incident resolves when none still fires)",
	 "/alerts/alertmanager",
	 AM_BODY("resolved",
		 AM_ALERT("resolved", "api-7f9c8d-x2k4q", "2026-11-22T23:16:00Z") "," AM_ALERT(
			 "resolved", "api-5b6d7f-p9z1m", "2026-11-22T23:16:00Z"))},
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
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return (int)code;
}

static int write_config(const char *dir, char *path, size_t pathlen)
{
	FILE *f;
	snprintf(path, pathlen, "%s/nightshift.yaml", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f,
		"# written by `nightshift demo`\n"
		"listen: 127.0.0.1:0\n"
		"log_level: warn\n"
		"storage:\n  path: %s/demo.db\n"
		"environments:\n"
		"  - name: production\n    match:\n      namespace: \"^prod\"\n"
		"  - name: staging\n    match:\n      namespace: \"^staging\"\n"
		"  - name: dev\n"
		"noise:\n"
		"  - reason: test tenants restart all the time\n"
		"    match:\n      namespace: \"^tenant-test-\"\n"
		"channels:\n  console:\n    enabled: true\n    color: true\n",
		dir);
	return fclose(f);
}

static int wait_ready(const char *ready, pid_t child)
{
	for (int i = 0; i < 200; i++) { /* 10 s */
		FILE *f = fopen(ready, "r");
		int port = 0;
		if (f != NULL) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
			if (port > 0)
				return port;
		}
		if (waitpid(child, NULL, WNOHANG) == child)
			return -1;
		usleep(50000);
	}
	return -1;
}

int cli_demo(bool keep)
{
	char dir[] = "/tmp/nightshift-demo-XXXXXX", cfg_path[512], ready[512], err[4096];
	struct config *cfg;
	pid_t child;
	int port, status = 0, rc = 0;

	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "nightshift demo: cannot create a temporary directory: %s\n",
			strerror(errno));
		return 1;
	}
	if (write_config(dir, cfg_path, sizeof(cfg_path)) < 0 ||
	    (cfg = config_load(cfg_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "nightshift demo: bad demo config: %s\n", err);
		return 1;
	}
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	printf("nightshift demo — a bot on a temporary store (%s), console channel\n\n", dir);
	fflush(stdout);
	child = fork();
	if (child < 0) {
		config_unref(cfg);
		return 1;
	}
	if (child == 0)
		_exit(daemon_run(cfg, ready));
	config_unref(cfg);
	port = wait_ready(ready, child);
	if (port < 0) {
		fprintf(stderr, "nightshift demo: the bot did not start\n");
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
		return 1;
	}
	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		struct buf resp;
		int code;
		buf_init(&resp, 65536);
		printf("\n\xE2\x96\xB6 %s\n", steps[i].say);
		fflush(stdout);
		code = post(port, steps[i].path, steps[i].body, &resp);
		printf("  POST %s \xE2\x86\x92 %d %s\n", steps[i].path, code,
		       resp.data ? resp.data : "");
		fflush(stdout);
		if (code != 202)
			rc = 1;
		buf_release(&resp);
		usleep(400000); /* let the console thread print before the next step */
	}
	if (keep) {
		printf("\nThe bot keeps running on http://127.0.0.1:%d — try:\n"
		       "  curl -s http://127.0.0.1:%d/healthz\n"
		       "  curl -s -XPOST -H 'Content-Type: application/json' "
		       "--data '{\"title\":\"DiskFull\",\"labels\":{\"namespace\":\"prod\"}}' "
		       "http://127.0.0.1:%d/alerts\n"
		       "  nightshift incidents -c %s\nCtrl-C stops it.\n",
		       port, port, port, cfg_path);
		fflush(stdout);
		waitpid(child, &status, 0);
		return rc;
	}
	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	printf("\nThe incidents it stored (nightshift incidents -c %s):\n\n", cfg_path);
	fflush(stdout);
	cfg = config_load(cfg_path, err, sizeof(err));
	if (cfg) {
		cli_incidents(cfg, false, 0);
		config_unref(cfg);
	}
	return rc || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}
