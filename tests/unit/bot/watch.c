/*
 * Unit tests of the dead man's switch (bot/watch.c with triage): a heartbeat
 * alert (firing or resolved) opens no incident and posts nothing; only the
 * newest firing one is kept; silence beyond the timeout raises exactly one
 * critical MonitoringPipelineSilent incident (also across "restarts", also
 * after a human resolved it during the same silence); the heartbeat's return
 * resolves it with "back"; without a watchdog section it is armed only by a
 * first heartbeat; enabled: false makes Watchdog an ordinary alert.
 */
#include "harness.h"

#include "alert.h"
#include "config.h"
#include "fingerprint.h"
#include "store.h"
#include "triage.h"
#include "util.h"
#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/ns-watch-XXXXXX";
static struct fingerprinter *fp;
static const char *const channels[] = {"console"};

#define MIN_MS (60 * 1000LL)

static struct config *load_cfg(const char *yaml)
{
	char path[256], err[2048];
	FILE *f;
	struct config *c;
	snprintf(path, sizeof(path), "%s/cfg.yaml", tmpdir);
	f = fopen(path, "w");
	fputs(yaml, f);
	fclose(f);
	c = config_load(path, err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "config: %s\n", err);
	return c;
}

static struct store *fresh_store(void)
{
	char err[256];
	struct store *s = store_open(":memory:", false, err, sizeof(err));
	if (s == NULL)
		fprintf(stderr, "store: %s\n", err);
	return s;
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

static void text(struct store *s, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *st;
	out[0] = '\0';
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		strlcpy0(out, (const char *)sqlite3_column_text(st, 0), outlen);
	sqlite3_finalize(st);
}

/* Triages one Alertmanager alert named name (cluster label: NULL none) at t, in a transaction. */
static enum triage_action feed_from(struct store *s, const struct config *c, const char *name,
				    const char *cluster, enum alert_status status, int64_t t,
				    int64_t *incident)
{
	struct alert a;
	struct triage_outcome o;
	struct triage_ctx ctx = {
	    .store = s, .cfg = c, .fp = fp, .now_ms = t, .channels = channels, .n_channels = 1};
	char err[256] = "";

	alert_init(&a);
	a.source = SOURCE_ALERTMANAGER;
	a.status = status;
	a.severity = SEV_INFO;
	a.name = xstrdup(name);
	a.summary = xstrdup("heartbeat");
	a.description = xstrdup("");
	a.cluster = xstrdup("");
	a.namespace = xstrdup("monitoring");
	a.workload = xstrdup("");
	a.group_key = xstrdup("");
	a.generator_url = xstrdup("");
	a.source_fingerprint = xstrdup("wd-1");
	kv_list_set(&a.labels, "alertname", name);
	kv_list_set(&a.labels, "namespace", "monitoring");
	if (cluster != NULL)
		kv_list_set(&a.labels, "cluster", cluster);
	store_begin(s);
	if (triage_alert(&ctx, &a, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "triage: %s\n", err);
		o.action = (enum triage_action) - 1;
	}
	store_commit(s);
	alert_free(&a);
	if (incident)
		*incident = o.incident_id;
	return o.action;
}

static enum triage_action feed(struct store *s, const struct config *c, const char *name,
			       enum alert_status status, int64_t t, int64_t *incident)
{
	return feed_from(s, c, name, NULL, status, t, incident);
}

/* One silence check at t (process started at started); returns raised. */
static bool check(struct store *s, const struct config *c, int64_t started, int64_t t)
{
	struct triage_outcome o;
	struct triage_ctx ctx = {
	    .store = s, .cfg = c, .fp = fp, .now_ms = t, .channels = channels, .n_channels = 1};
	char err[256] = "";
	bool raised = false;

	store_begin(s);
	if (watch_check(&ctx, started, &raised, &o, err, sizeof(err)) < 0)
		fprintf(stderr, "watch_check: %s\n", err);
	store_commit(s);
	return raised;
}

static long long silent_incidents(struct store *s)
{
	return scalar(
	    s, "SELECT count(*) FROM incidents WHERE alertname = 'MonitoringPipelineSilent'");
}

static void test_heartbeat_opens_nothing(void)
{
	struct config *c = load_cfg("watchdog:\n  timeout: 10m\n");
	struct store *s = fresh_store();
	int64_t t0 = 1700000000000LL, at = 0;
	char src[32];

	CHECK_INT(feed(s, c, "Watchdog", ALERT_FIRING, t0, NULL), TRIAGE_HEARTBEAT);
	CHECK_INT(feed(s, c, "Watchdog", ALERT_FIRING, t0 + MIN_MS, NULL), TRIAGE_HEARTBEAT);
	CHECK_INT(feed(s, c, "Watchdog", ALERT_RESOLVED, t0 + 2 * MIN_MS, NULL), TRIAGE_HEARTBEAT);
	CHECK_INT(scalar(s, "SELECT count(*) FROM incidents"), 0);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox"), 0);
	CHECK_INT(scalar(s, "SELECT count(*) FROM investigations"), 0);
	CHECK_INT(scalar(s, "SELECT count(*) FROM alerts WHERE status = 'firing'"), 1);
	CHECK_INT(watch_last_heartbeat(s, "", &at, src, sizeof(src)), 1);
	CHECK_INT(at, t0 + MIN_MS); /* a resolved Watchdog is not a heartbeat */
	CHECK_STR(src, "alertmanager");
	/* A resolved Watchdog trips nothing either: within the timeout, no alarm. */
	CHECK(!check(s, c, t0, t0 + 5 * MIN_MS));
	CHECK_INT(silent_incidents(s), 0);
	store_close(s);
	config_unref(c);
}

static void test_silence_raises_once_and_back_resolves(void)
{
	struct config *c = load_cfg("watchdog:\n  timeout: 10m\n");
	struct store *s = fresh_store();
	int64_t t0 = 1700000000000LL, inc = 0;
	char buf[512];

	feed(s, c, "Watchdog", ALERT_FIRING, t0, NULL);
	CHECK(!check(s, c, t0, t0 + 9 * MIN_MS));
	CHECK(check(s, c, t0, t0 + 11 * MIN_MS));
	CHECK_INT(silent_incidents(s), 1);
	text(s, "SELECT severity || '|' || environment || '|' || state FROM incidents", buf,
	     sizeof(buf));
	CHECK_STR(buf, "critical|production|open");
	CHECK_INT(scalar(s, "SELECT count(*) FROM investigations"), 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'received'"), 1);
	text(s, "SELECT labels FROM alerts WHERE alertname = 'MonitoringPipelineSilent'", buf,
	     sizeof(buf));
	CHECK_CONTAINS(buf, "\"heartbeat\":\"Watchdog\"");
	CHECK_CONTAINS(buf, "\"silent_for\":\"11 min\"");
	CHECK_CONTAINS(buf, "\"heartbeat_source\":\"Alertmanager\"");
	/* Later checks, and a restart (a new started_ms), do not raise it again. */
	CHECK(!check(s, c, t0, t0 + 12 * MIN_MS));
	CHECK(!check(s, c, t0 + 13 * MIN_MS, t0 + 14 * MIN_MS));
	CHECK_INT(silent_incidents(s), 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM alerts WHERE alertname = "
			    "'MonitoringPipelineSilent'"),
		  1);
	/* The heartbeat returns: resolved at source, with "back". */
	CHECK_INT(feed(s, c, "Watchdog", ALERT_FIRING, t0 + 15 * MIN_MS, &inc), TRIAGE_HEARTBEAT);
	CHECK(inc > 0);
	text(s, "SELECT state || '|' || resolved_by FROM incidents", buf, sizeof(buf));
	CHECK_STR(buf, "resolved|source");
	text(s, "SELECT body FROM outbox WHERE kind = 'resolved'", buf, sizeof(buf));
	CHECK_CONTAINS(buf, "monitoring pipeline is back");
	/* Another heartbeat: nothing more. */
	CHECK_INT(feed(s, c, "Watchdog", ALERT_FIRING, t0 + 16 * MIN_MS, &inc), TRIAGE_HEARTBEAT);
	CHECK_INT(inc, 0);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'resolved'"), 1);
	/* A new silence later raises again (the same incident, reopened within the flap window). */
	CHECK(check(s, c, t0, t0 + 27 * MIN_MS));
	CHECK_INT(silent_incidents(s), 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM incidents WHERE state != 'resolved'"), 1);
	store_close(s);
	config_unref(c);
}

static void test_human_resolve_during_silence_sticks(void)
{
	struct config *c = load_cfg("watchdog:\n  timeout: 1m\n");
	struct store *s = fresh_store();
	int64_t t0 = 1700000000000LL;

	feed(s, c, "Watchdog", ALERT_FIRING, t0, NULL);
	CHECK(check(s, c, t0, t0 + 2 * MIN_MS));
	store_exec(s, "UPDATE incidents SET state = 'resolved', resolved_at = 1700000180000,"
		      " resolved_by = 'human'");
	CHECK(!check(s, c, t0, t0 + 4 * MIN_MS));
	CHECK_INT(scalar(s, "SELECT count(*) FROM incidents WHERE state != 'resolved'"), 0);
	store_close(s);
	config_unref(c);
}

static void test_arming(void)
{
	struct config *absent = load_cfg("log_level: info\n");
	struct config *present = load_cfg("watchdog:\n  timeout: 1m\n");
	struct config *off = load_cfg("watchdog:\n  enabled: false\n  timeout: 1m\n");
	struct store *s = fresh_store();
	int64_t t0 = 1700000000000LL;

	/* No section, no heartbeat ever: never armed. */
	CHECK(!check(s, absent, t0, t0 + 60 * MIN_MS));
	/* A configured watchdog counts silence from start-up. */
	CHECK(check(s, present, t0, t0 + 2 * MIN_MS));
	store_close(s);

	s = fresh_store();
	/* No section: armed by the first heartbeat, default timeout 10 min. */
	CHECK_INT(feed(s, absent, "Watchdog", ALERT_FIRING, t0, NULL), TRIAGE_HEARTBEAT);
	CHECK(!check(s, absent, t0, t0 + 9 * MIN_MS));
	CHECK(check(s, absent, t0, t0 + 11 * MIN_MS));
	store_close(s);

	s = fresh_store();
	/* enabled: false: Watchdog is an ordinary alert, and no alarm. */
	CHECK_INT(feed(s, off, "Watchdog", ALERT_FIRING, t0, NULL), TRIAGE_OPENED);
	CHECK(!check(s, off, t0, t0 + 60 * MIN_MS));
	CHECK_INT(silent_incidents(s), 0);
	store_close(s);
	config_unref(absent);
	config_unref(present);
	config_unref(off);
}

/*
 * watchdog.match + group_by: one switch per cluster; a heartbeat that does
 * not match is an ordinary alert; each silent cluster gets its own incident,
 * and a cluster's return resolves only its own.
 */
static void test_switch_per_cluster(void)
{
	struct config *c = load_cfg("watchdog:\n  timeout: 10m\n"
				    "  match: {alertname: \"^Watchdog$\", cluster: \"^prod\"}\n"
				    "  group_by: cluster\n");
	struct store *s = fresh_store();
	int64_t t0 = 1700000000000LL, at = 0;
	char summary[512];

	CHECK(c != NULL && s != NULL);
	if (c == NULL || s == NULL)
		return;
	CHECK_INT(feed_from(s, c, "Watchdog", "prod-1", ALERT_FIRING, t0, NULL), TRIAGE_HEARTBEAT);
	CHECK_INT(feed_from(s, c, "Watchdog", "prod-2", ALERT_FIRING, t0, NULL), TRIAGE_HEARTBEAT);
	CHECK_INT(feed_from(s, c, "Watchdog", "dev-1", ALERT_FIRING, t0, NULL), TRIAGE_OPENED);
	CHECK_INT(feed_from(s, c, "Watchdog", "prod-1", ALERT_FIRING, t0 + 8 * MIN_MS, NULL),
		  TRIAGE_HEARTBEAT);
	CHECK_INT(scalar(s, "SELECT count(*) FROM alerts WHERE heartbeat = 'prod-1'"), 1);
	CHECK_INT(watch_last_heartbeat(s, "prod-1", &at, NULL, 0), 1);
	CHECK_INT(at, t0 + 8 * MIN_MS);
	CHECK_INT(watch_last_heartbeat(s, "dev-1", &at, NULL, 0), 0);
	CHECK(!check(s, c, t0, t0 + 5 * MIN_MS));
	/* prod-2 silent for 11 min: its own incident, saying which. */
	CHECK(check(s, c, t0, t0 + 11 * MIN_MS));
	CHECK_INT(silent_incidents(s), 1);
	text(s, "SELECT summary FROM incidents WHERE alertname = 'MonitoringPipelineSilent'",
	     summary, sizeof(summary));
	CHECK_CONTAINS(summary, "no Watchdog from Alertmanager (cluster=prod-2) for 11 min");
	CHECK(!check(s, c, t0, t0 + 12 * MIN_MS));
	/* prod-1 silent too (last at 8 min): a second one. */
	CHECK(check(s, c, t0, t0 + 19 * MIN_MS));
	CHECK_INT(silent_incidents(s), 2);
	/* prod-2 is back: only its incident resolves. */
	CHECK_INT(feed_from(s, c, "Watchdog", "prod-2", ALERT_FIRING, t0 + 20 * MIN_MS, NULL),
		  TRIAGE_HEARTBEAT);
	CHECK_INT(scalar(s, "SELECT count(*) FROM incidents WHERE alertname ="
			    " 'MonitoringPipelineSilent' AND state = 'resolved'"),
		  1);
	text(s, "SELECT summary FROM incidents WHERE alertname = 'MonitoringPipelineSilent'"
		" AND state != 'resolved'",
	     summary, sizeof(summary));
	CHECK_CONTAINS(summary, "(cluster=prod-1)");
	store_close(s);
	config_unref(c);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	fp = fingerprinter_new();
	RUN(test_heartbeat_opens_nothing);
	RUN(test_silence_raises_once_and_back_resolves);
	RUN(test_human_resolve_during_silence_sticks);
	RUN(test_arming);
	RUN(test_switch_per_cluster);
	fingerprinter_free(fp);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			return 1;
	}
	return harness_done();
}
