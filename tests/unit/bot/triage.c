/*
 * Unit tests of triage and the store: migrations, grouping by our
 * fingerprint, resolve only when no member still fires, flapping, noise
 * rules, environments, and the outbox rows each change writes.
 */
#include "harness.h"

#include "alert.h"
#include "config.h"
#include "fingerprint.h"
#include "outbox.h"
#include "store.h"
#include "triage.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/ns-triage-XXXXXX";
static struct config *cfg;
static struct fingerprinter *fp;
static const char *const channels[] = {"console"};

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

static void make_alert(struct alert *a, const char *name, const char *ns, const char *pod,
		       enum alert_status status)
{
	alert_init(a);
	a->source = SOURCE_ALERTMANAGER;
	a->status = status;
	a->severity = SEV_CRITICAL;
	a->name = xstrdup(name);
	a->summary = xstrdup("something is wrong");
	a->description = xstrdup("");
	a->cluster = xstrdup("");
	a->namespace = xstrdup(ns);
	a->workload = xstrdup(pod);
	a->group_key = xstrdup("");
	a->generator_url = xstrdup("");
	a->source_fingerprint = xasprintf("%s/%s/%s", name, ns, pod);
	kv_list_set(&a->labels, "alertname", name);
	kv_list_set(&a->labels, "namespace", ns);
	kv_list_set(&a->labels, "pod", pod);
}

/* Triages one alert at time t (ms) in its own transaction; returns the outcome. */
static struct triage_outcome feed(struct store *s, const char *name, const char *ns,
				  const char *pod, enum alert_status st, int64_t t)
{
	struct alert a;
	struct triage_outcome o;
	struct triage_ctx ctx = {.store = s, .cfg = cfg, .fp = fp, .now_ms = t,
				 .channels = channels, .n_channels = 1};
	char err[256] = "";
	make_alert(&a, name, ns, pod, st);
	store_begin(s);
	if (triage_alert(&ctx, &a, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "triage: %s\n", err);
		o.action = (enum triage_action)-1;
	}
	store_commit(s);
	alert_free(&a);
	return o;
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

static void test_migrations(void)
{
	char path[256], err[256];
	struct store *s;
	snprintf(path, sizeof(path), "%s/m.db", tmpdir);
	s = store_open(path, false, err, sizeof(err));
	CHECK(s != NULL);
	CHECK_INT(store_schema_version(s), STORE_SCHEMA_VERSION);
	CHECK_INT(scalar(s, "SELECT count(*) FROM sqlite_master WHERE name IN ('alerts','incidents',"
			    "'incident_members','threads','outbox')"),
		  5);
	store_close(s);
	/* Reopening does not migrate twice; read-only opening works on a migrated file. */
	s = store_open(path, false, err, sizeof(err));
	CHECK(s != NULL);
	CHECK_INT(store_schema_version(s), STORE_SCHEMA_VERSION);
	store_close(s);
	s = store_open(path, true, err, sizeof(err));
	CHECK(s != NULL);
	{
		char mode[16];
		text(s, "PRAGMA journal_mode", mode, sizeof(mode));
		CHECK_STR(mode, "wal");
	}
	store_close(s);
	/* A database from a newer nightshift is refused, not damaged. */
	s = store_open(path, false, err, sizeof(err));
	store_exec(s, "PRAGMA user_version=99");
	store_close(s);
	s = store_open(path, false, err, sizeof(err));
	CHECK(s == NULL);
	CHECK_CONTAINS(err, "newer");
}

static void test_open_join_resolve(void)
{
	struct store *s = fresh_store();
	struct triage_outcome o1, o2, o3, o4, o5;
	char state[32];

	o1 = feed(s, "KubePodCrashLooping", "prod", "api-7f9c8d-x2k4q", ALERT_FIRING, 1000);
	CHECK_INT(o1.action, TRIAGE_OPENED);
	CHECK(o1.incident_id > 0);
	/* Another pod of the same deployment joins: same incident, no new message. */
	o2 = feed(s, "KubePodCrashLooping", "prod", "api-5b6d7f-p9z1m", ALERT_FIRING, 2000);
	CHECK_INT(o2.action, TRIAGE_JOINED);
	CHECK_INT(o2.incident_id, o1.incident_id);
	CHECK_INT(scalar(s, "SELECT alert_count FROM incidents"), 2);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox"), 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM alerts WHERE incident_id IS NOT NULL"), 2);
	/* One resolves: the other still fires, the incident stays open. */
	o3 = feed(s, "KubePodCrashLooping", "prod", "api-7f9c8d-x2k4q", ALERT_RESOLVED, 3000);
	CHECK_INT(o3.action, TRIAGE_MEMBER_RESOLVED);
	text(s, "SELECT state FROM incidents", state, sizeof(state));
	CHECK_STR(state, "open");
	/* The last one resolves the incident and posts "resolved". */
	o4 = feed(s, "KubePodCrashLooping", "prod", "api-5b6d7f-p9z1m", ALERT_RESOLVED, 4000);
	CHECK_INT(o4.action, TRIAGE_RESOLVED);
	text(s, "SELECT state FROM incidents", state, sizeof(state));
	CHECK_STR(state, "resolved");
	CHECK_INT(scalar(s, "SELECT resolved_at FROM incidents"), 4000);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'resolved'"), 1);
	/* A second resolve for nothing open is stored and ignored. */
	o5 = feed(s, "KubePodCrashLooping", "prod", "api-5b6d7f-p9z1m", ALERT_RESOLVED, 5000);
	CHECK_INT(o5.action, TRIAGE_IGNORED);
	CHECK_INT(scalar(s, "SELECT count(*) FROM alerts"), 5);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox"), 2);
	store_close(s);
}

static void test_different_alerts_do_not_group(void)
{
	struct store *s = fresh_store();
	struct triage_outcome a = feed(s, "KubePodCrashLooping", "prod", "api-7f9c8d-x2k4q",
				       ALERT_FIRING, 1000);
	struct triage_outcome b = feed(s, "KubePodCrashLooping", "prod", "web-7f9c8d-x2k4q",
				       ALERT_FIRING, 1000);
	struct triage_outcome c = feed(s, "KubePodNotReady", "prod", "api-7f9c8d-x2k4q",
				       ALERT_FIRING, 1000);
	struct triage_outcome d = feed(s, "KubePodCrashLooping", "staging", "api-7f9c8d-x2k4q",
				       ALERT_FIRING, 1000);
	CHECK_INT(a.action, TRIAGE_OPENED);
	CHECK_INT(b.action, TRIAGE_OPENED);
	CHECK_INT(c.action, TRIAGE_OPENED);
	CHECK_INT(d.action, TRIAGE_OPENED);
	CHECK_INT(scalar(s, "SELECT count(DISTINCT id) FROM incidents"), 4);
	store_close(s);
}

static void test_flapping(void)
{
	struct store *s = fresh_store();
	int64_t window = cfg->flap_window_s * 1000;
	struct triage_outcome o;
	int64_t first;

	o = feed(s, "TargetDown", "prod", "api-1", ALERT_FIRING, 1000);
	first = o.incident_id;
	feed(s, "TargetDown", "prod", "api-1", ALERT_RESOLVED, 2000);
	/* Fires again inside the window: the same incident, reopened and flapping. */
	o = feed(s, "TargetDown", "prod", "api-1", ALERT_FIRING, 2000 + window - 1);
	CHECK_INT(o.action, TRIAGE_REOPENED);
	CHECK_INT(o.incident_id, first);
	CHECK_INT(scalar(s, "SELECT flapping FROM incidents"), 1);
	CHECK_INT(scalar(s, "SELECT reopen_count FROM incidents"), 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'reopened'"), 1);
	CHECK_INT(scalar(s, "SELECT resolved_at IS NULL FROM incidents"), 1);
	/* Resolved again, and back after the window: a new incident. */
	feed(s, "TargetDown", "prod", "api-1", ALERT_RESOLVED, 10 * window);
	o = feed(s, "TargetDown", "prod", "api-1", ALERT_FIRING, 12 * window);
	CHECK_INT(o.action, TRIAGE_OPENED);
	CHECK(o.incident_id != first);
	store_close(s);
}

static void test_noise_and_environment(void)
{
	struct store *s = fresh_store();
	struct triage_outcome o;
	char buf[128];

	o = feed(s, "KubePodCrashLooping", "tenant-test-7", "w-1", ALERT_FIRING, 1000);
	CHECK_INT(o.action, TRIAGE_DISMISSED);
	CHECK_STR(o.noise_reason, "test tenants");
	text(s, "SELECT state || '/' || verdict || '/' || verdict_reason FROM incidents", buf,
	     sizeof(buf));
	CHECK_STR(buf, "noise/noise/test tenants");
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox WHERE kind = 'noise'"), 1);
	/* Its alerts join quietly, and its resolve posts nothing. */
	o = feed(s, "KubePodCrashLooping", "tenant-test-7", "w-1", ALERT_FIRING, 1500);
	CHECK_INT(o.action, TRIAGE_JOINED);
	o = feed(s, "KubePodCrashLooping", "tenant-test-7", "w-1", ALERT_RESOLVED, 2000);
	CHECK_INT(o.action, TRIAGE_RESOLVED);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox"), 1);

	feed(s, "X", "prod-eu", "a", ALERT_FIRING, 1000);
	text(s, "SELECT environment FROM incidents WHERE alertname = 'X'", buf, sizeof(buf));
	CHECK_STR(buf, "production");
	feed(s, "Y", "staging", "a", ALERT_FIRING, 1000);
	text(s, "SELECT environment FROM incidents WHERE alertname = 'Y'", buf, sizeof(buf));
	CHECK_STR(buf, "dev");
	store_close(s);
}

static void test_dry_run_writes_nothing(void)
{
	struct store *s = fresh_store();
	struct alert a;
	struct triage_outcome o;
	struct triage_ctx ctx = {.store = s, .cfg = cfg, .fp = fp, .now_ms = 1, .dry_run = true};
	char err[128];
	make_alert(&a, "A", "prod", "p", ALERT_FIRING);
	CHECK_INT(triage_alert(&ctx, &a, &o, err, sizeof(err)), 0);
	CHECK_INT(o.action, TRIAGE_OPENED);
	CHECK_STR(a.environment, "production");
	CHECK_INT((long long)strlen(a.fingerprint), 64);
	CHECK_INT(scalar(s, "SELECT count(*) FROM alerts"), 0);
	CHECK_INT(scalar(s, "SELECT count(*) FROM incidents"), 0);
	alert_free(&a);
	store_close(s);
}

static void test_outbox_order_and_marks(void)
{
	struct store *s = fresh_store();
	struct outbox_item items[8];
	int n;

	feed(s, "A", "prod", "p", ALERT_FIRING, 1000);
	feed(s, "B", "prod", "p", ALERT_FIRING, 1000);
	feed(s, "A", "prod", "p", ALERT_RESOLVED, 2000);
	n = outbox_due(s, "console", 5000, 0, items, 8);
	CHECK_INT(n, 3);
	CHECK_STR(items[0].kind, "received");
	CHECK_STR(items[2].kind, "resolved");
	CHECK(items[0].id < items[1].id && items[1].id < items[2].id);
	CHECK_CONTAINS(items[0].body, "\"headline\"");
	store_begin(s);
	outbox_mark_sent(s, items[0].id, "ref-1", 5000);
	outbox_mark_retry(s, items[1].id, 9000, "busy");
	outbox_mark_failed(s, items[2].id, "channel_not_found");
	store_commit(s);
	for (int i = 0; i < n; i++)
		outbox_item_release(&items[i]);
	/* Nothing due before the retry time; the retried row after it. */
	CHECK_INT(outbox_due(s, "console", 6000, 0, items, 8), 0);
	n = outbox_due(s, "console", 9000, 0, items, 8);
	CHECK_INT(n, 1);
	CHECK_INT(items[0].attempts, 1);
	outbox_item_release(&items[0]);
	CHECK_INT(outbox_pending_count(s), 1);
	CHECK_INT(outbox_due(s, "slack", 9000, 0, items, 8), 0);
	store_close(s);
}

/* Triages alert name with cfg c (one transaction); returns the body of its "received" message. */
static void received_body(struct store *s, struct config *c, const char *name, char *out,
			  size_t outlen)
{
	struct config *saved = cfg;
	char sql[256];

	cfg = c;
	feed(s, name, "prod", "p-1", ALERT_FIRING, 1000);
	cfg = saved;
	snprintf(sql, sizeof(sql),
		 "SELECT o.body FROM outbox o JOIN incidents i ON i.id = o.incident_id"
		 " WHERE o.kind = 'received' AND i.alertname = '%s'",
		 name);
	text(s, sql, out, outlen);
}

/*
 * A full pool delays, and the thread says so: with one worker, the second and
 * later new incidents' "received" messages say how many investigations are
 * ahead; each gets its own pending row (nothing dropped).
 */
static void test_received_says_queued(void)
{
	struct config *one = load_cfg("investigations:\n  workers: 1\n"), *two;
	struct store *s = fresh_store();
	char body[4096];

	CHECK(one != NULL);
	if (one == NULL)
		return;
	received_body(s, one, "Q1", body, sizeof(body));
	CHECK_CONTAINS(body, "investigating");
	CHECK(strstr(body, "queued") == NULL);
	received_body(s, one, "Q2", body, sizeof(body));
	CHECK_CONTAINS(body, "investigation queued: 1 ahead of it, all 1 workers busy");
	received_body(s, one, "Q3", body, sizeof(body));
	CHECK_CONTAINS(body, "investigation queued: 2 ahead of it, all 1 workers busy");
	/* The first one is running now: the pool is still full, two wait ahead. */
	store_exec(s, "UPDATE investigations SET state = 'running' WHERE id = 1");
	received_body(s, one, "Q4", body, sizeof(body));
	CHECK_CONTAINS(body, "investigation queued: 2 ahead of it, all 1 workers busy");
	CHECK_INT(scalar(s, "SELECT count(*) FROM investigations WHERE state = 'pending'"), 3);
	CHECK_INT(scalar(s, "SELECT count(DISTINCT incident_id) FROM investigations"), 4);
	/* Finished ones are not ahead of anything. */
	store_exec(s, "UPDATE investigations SET state = 'done' WHERE id <= 3");
	received_body(s, one, "Q5", body, sizeof(body));
	CHECK_CONTAINS(body, "investigation queued: 1 ahead of it, all 1 workers busy");
	/* With two workers and one waiting, a new one is not queued behind a full pool. */
	store_exec(s, "UPDATE investigations SET state = 'done'");
	two = load_cfg("investigations:\n  workers: 2\n");
	CHECK(two != NULL);
	if (two != NULL) {
		received_body(s, two, "Q6", body, sizeof(body));
		CHECK_CONTAINS(body, "investigating");
		received_body(s, two, "Q7", body, sizeof(body));
		CHECK_CONTAINS(body, "investigating");
		received_body(s, two, "Q8", body, sizeof(body));
		CHECK_CONTAINS(body, "investigation queued: 2 ahead of it, all 2 workers busy");
		config_unref(two);
	}
	config_unref(one);
	store_close(s);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	cfg = load_cfg("environments:\n"
		       "  - name: production\n    match: {namespace: \"^prod\"}\n"
		       "  - name: dev\n"
		       "noise:\n"
		       "  - reason: test tenants\n    match: {namespace: \"^tenant-test-\"}\n"
		       "triage:\n  flap_window: 10m\n");
	fp = fingerprinter_new();
	if (cfg == NULL)
		return 1;
	RUN(test_migrations);
	RUN(test_open_join_resolve);
	RUN(test_different_alerts_do_not_group);
	RUN(test_flapping);
	RUN(test_noise_and_environment);
	RUN(test_dry_run_writes_nothing);
	RUN(test_outbox_order_and_marks);
	RUN(test_received_says_queued);
	config_unref(cfg);
	fingerprinter_free(fp);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup failed\n");
	}
	return harness_done();
}
