/*
 * This file contains the dead man's switch and nightshift's own heartbeat
 * (see watch.h): the heartbeat lookup, the synthetic MonitoringPipelineSilent
 * alert raised and resolved through triage, and the loop-side tick that runs
 * the silence check on the store writer and the heartbeat call on the HTTP
 * client thread.
 */
#include "watch.h"

#include "alert.h"
#include "config.h"
#include "daemon.h"
#include "fingerprint.h"
#include "http_client.h"
#include "log.h"
#include "store.h"
#include "triage.h"
#include "util.h"
#include "writer.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HB_TIMEOUT_MS	10000
#define HB_LOG_EVERY_MS (5 * 60 * 1000) /* one failure line per 5 min at most */

void watch_key(const struct config *c, const struct alert *hb, char *out, size_t outlen)
{
	const char *v = c->watchdog.group_by ? kv_list_get(&hb->labels, c->watchdog.group_by) : NULL;
	strlcpy0(out, v ? v : "", outlen);
}

int watch_last_heartbeat(struct store *s, const char *key, int64_t *at_ms, char *source,
			 size_t srclen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* Not cached: the statement slots are shared by every file using the store. */
	if (sqlite3_prepare_v2(store_db(s),
			       "SELECT received_at, source FROM alerts WHERE heartbeat IS NOT NULL"
			       " AND (?1 IS NULL OR heartbeat = ?1) AND status = 'firing'"
			       " ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	store_bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*at_ms = sqlite3_column_int64(st, 0);
		if (source != NULL)
			strlcpy0(source, store_col_text(st, 1), srclen);
		rc = 1;
	} else {
		rc = rc == SQLITE_DONE ? 0 : -1;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Runs sql (?1 the key, ?2 the alert id) on the store; 0 or -1 with err. */
static int key_exec(struct store *s, const char *sql, const char *key, int64_t id, char *err,
		    size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return snprintf(err, errlen, "heartbeat: %s", sqlite3_errmsg(store_db(s))), -1;
	store_bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "heartbeat: %s", sqlite3_errmsg(store_db(s)));
	sqlite3_finalize(st);
	return rc;
}

int watch_heartbeat_stored(struct triage_ctx *ctx, const struct alert *hb, int64_t alert_id,
			   char *err, size_t errlen)
{
	char key[WATCH_KEY_MAX];

	watch_key(ctx->cfg, hb, key, sizeof(key));
	if (key_exec(ctx->store, "UPDATE alerts SET heartbeat = ?1 WHERE id = ?2", key, alert_id,
		     err, errlen) < 0)
		return -1;
	if (hb->status != ALERT_FIRING)
		return 0; /* a resolved Watchdog trips nothing: silence is judged by time */
	return key_exec(ctx->store, "DELETE FROM alerts WHERE heartbeat = ?1 AND id < ?2", key,
			alert_id, err, errlen);
}

static void iso_time(int64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "12 min" from one minute on, else "40 s". */
static void human_span(int64_t ms, char *out, size_t outlen)
{
	int64_t s = ms / 1000;
	if (s >= 60)
		snprintf(out, outlen, "%lld min", (long long)(s / 60));
	else
		snprintf(out, outlen, "%lld s", (long long)(s < 0 ? 0 : s));
}

static const char *pretty_source(const char *s)
{
	static const struct {
		const char *name, *pretty;
	} names[] = {{"alertmanager", "Alertmanager"},
		     {"grafana", "Grafana"},
		     {"signoz", "SigNoz"},
		     {"uptime_kuma", "Uptime Kuma"},
		     {"uptime-kuma", "Uptime Kuma"},
		     {"generic", "the monitoring webhook"}};
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].pretty;
	return s[0] ? s : "Alertmanager";
}

/*
 * The synthetic alert for heartbeat name silent since last_ms (0: never seen,
 * armed at armed_ms). Its identifying labels (alertname, heartbeat) do not
 * change during one silence, so raise and resolve meet the same incident.
 */
static void silent_alert(struct alert *a, const struct config *c, enum alert_status status,
			 int64_t last_ms, int64_t armed_ms, const char *source, const char *key,
			 int64_t now)
{
	char since[32], span[32], text[512], fp[300], srcbuf[200];
	const char *src = pretty_source(source ? source : "");
	const char *name = c->watchdog.alertname;
	int64_t from = last_ms ? last_ms : armed_ms;

	alert_init(a);
	a->source = SOURCE_GENERIC;
	a->status = status;
	a->severity = SEV_CRITICAL;
	a->name = xstrdup(WATCH_SILENT_ALERTNAME);
	iso_time(from, since, sizeof(since));
	human_span(now - from, span, sizeof(span));
	kv_list_set(&a->labels, "alertname", WATCH_SILENT_ALERTNAME);
	kv_list_set(&a->labels, "severity", "critical");
	kv_list_set(&a->labels, "heartbeat", name);
	kv_list_set(&a->labels, "heartbeat_source", src);
	kv_list_set(&a->labels, "silent_since", since);
	kv_list_set(&a->labels, "silent_for", span);
	kv_list_set(&a->labels, "generated_by", "nightshift");
	if (key[0] != '\0') {
		/* One switch of several: say which, and carry its label (e.g. cluster). */
		kv_list_set(&a->labels, c->watchdog.group_by, key);
		snprintf(srcbuf, sizeof(srcbuf), "%s (%s=%s)", src, c->watchdog.group_by, key);
		src = srcbuf;
		kv_list_set(&a->labels, "heartbeat_source", src);
	}
	if (status == ALERT_FIRING) {
		if (last_ms)
			snprintf(text, sizeof(text),
				 "The monitoring pipeline is silent: no %s from %s for %s (last at "
				 "%s)",
				 name, src, span, since);
		else
			snprintf(
			    text, sizeof(text),
			    "The monitoring pipeline is silent: no %s from %s since nightshift "
			    "started at %s (%s)",
			    name, src, since, span);
	} else {
		snprintf(text, sizeof(text),
			 "The monitoring pipeline is back: %s arrived again from %s", name, src);
	}
	a->summary = xstrdup(text);
	a->description =
	    xstrdup("nightshift watches the always-firing heartbeat alert; when it stops arriving, "
		    "alerts are no longer reaching anyone (Prometheus, Alertmanager or the webhook "
		    "route is down).");
	kv_list_set(&a->annotations, "summary", text);
	a->cluster = xstrdup("");
	a->namespace = xstrdup("");
	a->workload = xstrdup("");
	a->starts_at_ms = from;
	a->ends_at_ms = status == ALERT_RESOLVED ? now : 0;
	snprintf(fp, sizeof(fp), "nightshift/watchdog/%s%s%s", name, key[0] ? "/" : "", key);
	a->source_fingerprint = xstrdup(fp);
	a->group_key = xstrdup("");
	a->generator_url = xstrdup("");
	{
		struct buf b;
		buf_init(&b, 0);
		buf_puts(&b, "{\"generated_by\":\"nightshift\",\"alertname\":");
		buf_json_string(&b, WATCH_SILENT_ALERTNAME);
		buf_puts(&b, ",\"status\":");
		buf_json_string(&b, alert_status_name(status));
		buf_puts(&b, ",\"summary\":");
		buf_json_string(&b, text);
		buf_puts(&b, "}");
		a->raw = buf_detach(&b);
	}
}

/* The newest incident of the silence alert: 1 found (state, times), 0 none, -1 error. */
static int silent_incident(struct triage_ctx *ctx, const char *fingerprint, int64_t *id,
			   char *state, size_t statelen, int64_t *resolved_at)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(store_db(ctx->store),
			       "SELECT id, state, coalesce(resolved_at, 0) FROM incidents"
			       " WHERE fingerprint = ? ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	store_bind_text(st, 1, fingerprint);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		strlcpy0(state, store_col_text(st, 1), statelen);
		*resolved_at = sqlite3_column_int64(st, 2);
		rc = 1;
	} else {
		rc = rc == SQLITE_DONE ? 0 : -1;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The silence alert's fingerprint, salted with the switch's key as triage will (sub). */
static void fingerprint_of(struct triage_ctx *ctx, struct alert *a, const char *key)
{
	fingerprint_alert(ctx->fp, (const char *const *)ctx->cfg->fingerprint_labels,
			  ctx->cfg->n_fingerprint_labels, a);
	fingerprint_salt(a, key);
}

int watch_pipeline_back(struct triage_ctx *ctx, const struct alert *hb, int64_t *incident,
			char *err, size_t errlen)
{
	struct alert a;
	struct triage_outcome o;
	struct triage_ctx sub = *ctx;
	char state[16] = "", key[WATCH_KEY_MAX];
	int64_t id = 0, resolved_at = 0;
	int found, rc = 0;

	*incident = 0;
	watch_key(ctx->cfg, hb, key, sizeof(key));
	silent_alert(&a, ctx->cfg, ALERT_RESOLVED, ctx->now_ms, ctx->now_ms,
		     alert_source_name(hb->source), key, ctx->now_ms);
	fingerprint_of(ctx, &a, key);
	found = silent_incident(ctx, a.fingerprint, &id, state, sizeof(state), &resolved_at);
	if (found < 0) {
		alert_free(&a);
		return snprintf(err, errlen, "cannot look up the silence incident"), -1;
	}
	if (found && strcmp(state, "resolved") != 0) {
		sub.environment = ctx->cfg->watchdog.environment;
		sub.fingerprint_salt = key;
		sub.resolve_note = "The monitoring pipeline is back: the heartbeat arrived again";
		rc = triage_alert(&sub, &a, &o, err, errlen);
		if (rc == 0 && o.action == TRIAGE_RESOLVED) {
			*incident = o.incident_id;
			log_info("incident=%lld event=pipeline_back heartbeat=%s source=%s "
				 "switch=\"%s\"",
				 (long long)o.incident_id, ctx->cfg->watchdog.alertname,
				 alert_source_name(hb->source), key);
		}
	}
	alert_free(&a);
	return rc;
}

/* The silence check of one switch (key; "" the only one); as watch_check. */
static int check_switch(struct triage_ctx *ctx, const char *key, int64_t started_ms,
			bool *raised, struct triage_outcome *out, char *err, size_t errlen)
{
	const struct watchdog_config *w = &ctx->cfg->watchdog;
	struct alert a;
	struct triage_ctx sub = *ctx;
	char source[32] = "", state[16] = "";
	int64_t last = 0, since, id = 0, resolved_at = 0;
	int found, rc;
	bool seen;

	found = watch_last_heartbeat(ctx->store, key, &last, source, sizeof(source));
	if (found < 0)
		return snprintf(err, errlen, "cannot read the last heartbeat"), -1;
	seen = found == 1;
	since = seen ? last : started_ms;
	if (ctx->now_ms - since < w->timeout_s * 1000)
		return 0;
	silent_alert(&a, ctx->cfg, ALERT_FIRING, seen ? last : 0, started_ms, source, key,
		     ctx->now_ms);
	fingerprint_of(ctx, &a, key);
	found = silent_incident(ctx, a.fingerprint, &id, state, sizeof(state), &resolved_at);
	/* Raised already for this silence: open, or resolved (by a human) since it began. */
	if (found < 0 || (found && (strcmp(state, "resolved") != 0 || resolved_at > since))) {
		alert_free(&a);
		return found < 0
			   ? (snprintf(err, errlen, "cannot look up the silence incident"), -1)
			   : 0;
	}
	sub.environment = w->environment;
	sub.fingerprint_salt = key;
	rc = triage_alert(&sub, &a, out, err, errlen);
	if (rc == 0) {
		*raised = true;
		log_warnx("incident=%lld event=pipeline_silent heartbeat=%s switch=\"%s\" "
			  "last_seen=%s timeout_s=%lld",
			  (long long)out->incident_id, w->alertname, key,
			  seen ? kv_list_get(&a.labels, "silent_since") : "never",
			  (long long)w->timeout_s);
	}
	alert_free(&a);
	return rc;
}

/* The switches heard from (their keys, sorted) into keys; how many, or -1. */
static int known_switches(struct store *s, char (*keys)[WATCH_KEY_MAX], int max)
{
	sqlite3_stmt *st = NULL;
	int n = 0;

	if (sqlite3_prepare_v2(store_db(s),
			       "SELECT DISTINCT heartbeat FROM alerts WHERE heartbeat IS NOT NULL"
			       " AND status = 'firing' ORDER BY heartbeat LIMIT ?",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, max);
	while (n < max && sqlite3_step(st) == SQLITE_ROW)
		strlcpy0(keys[n++], store_col_text(st, 0), WATCH_KEY_MAX);
	sqlite3_finalize(st);
	return n;
}

int watch_check(struct triage_ctx *ctx, int64_t started_ms, bool *raised,
		struct triage_outcome *out, char *err, size_t errlen)
{
	char keys[WATCH_MAX_SWITCHES][WATCH_KEY_MAX];
	struct triage_outcome one;
	int n;

	memset(out, 0, sizeof(*out));
	*raised = false;
	if (!ctx->cfg->watchdog.enabled)
		return 0;
	n = known_switches(ctx->store, keys, WATCH_MAX_SWITCHES);
	if (n < 0)
		return snprintf(err, errlen, "cannot read the heartbeats"), -1;
	if (n == 0 && !ctx->cfg->watchdog.configured)
		return 0; /* not armed: no heartbeat route seen yet */
	if (n == 0)
		keys[n++][0] = '\0'; /* configured, never heard: silent since the start */
	for (int i = 0; i < n; i++) {
		bool one_raised = false;
		memset(&one, 0, sizeof(one));
		if (check_switch(ctx, keys[i], started_ms, &one_raised, &one, err, errlen) < 0)
			return -1;
		/* Several may be raised at once: the caller learns of one opened. */
		if (one_raised && (!*raised || one.action == TRIAGE_OPENED))
			*out = one;
		*raised = *raised || one_raised;
	}
	return 0;
}

/* ---- loop side ---- */

struct check_job {
	struct writer_job base;
	struct daemon *d;
	int64_t started_ms;
	bool raised;
	struct triage_outcome out;
};

static int check_job_run(struct writer_job *wj, const struct writer_env *env, char *err,
			 size_t errlen)
{
	struct check_job *j = (struct check_job *)wj;
	struct triage_ctx ctx = triage_ctx_of(env);

	return watch_check(&ctx, j->started_ms, &j->raised, &j->out, err, errlen);
}

static void check_job_done(struct writer_job *wj)
{
	struct check_job *j = (struct check_job *)wj;
	struct daemon *d = j->d;

	d->watch.check_busy = false;
	if (j->base.status < 0) {
		log_error("event=watchdog_check_failed error=\"%s\"", j->base.error);
	} else if (j->raised) {
		daemon_kick_outbox(d);
		if (j->out.action == TRIAGE_OPENED)
			daemon_dispatch(d);
	}
	free(j);
}

/* The host of url, for logs (the path may hold a push token). */
static void url_host(const char *url, char *out, size_t outlen)
{
	CURLU *u = curl_url();
	char *h = NULL;

	strlcpy0(out, "?", outlen);
	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
		strlcpy0(out, h, outlen);
	curl_free(h);
	curl_url_cleanup(u);
}

static void heartbeat_done(void *arg, const struct http_response *r)
{
	struct daemon *d = arg;
	struct metrics *m = &d->metrics;
	bool ok = r->status >= 200 && r->status < 300;

	d->watch.hb_in_flight = false;
	if (ok) {
		if (m->heartbeat_consecutive_failures > 0)
			log_info("event=heartbeat_recovered after_failures=%llu",
				 (unsigned long long)m->heartbeat_consecutive_failures);
		m->heartbeat_ok++;
		m->heartbeat_consecutive_failures = 0;
		m->heartbeat_last_success_ms = now_ms();
		m->heartbeat_last_error[0] = '\0';
		return;
	}
	m->heartbeat_failed++;
	m->heartbeat_consecutive_failures++;
	if (r->status != 0)
		snprintf(m->heartbeat_last_error, sizeof(m->heartbeat_last_error), "HTTP %d",
			 r->status);
	else
		snprintf(m->heartbeat_last_error, sizeof(m->heartbeat_last_error), "%.120s",
			 r->error && r->error[0] ? r->error : "no response");
	/* The first failure of a run, then one line per 5 minutes. */
	if (m->heartbeat_consecutive_failures == 1 ||
	    mono_ms() - d->watch.hb_last_log_mono >= HB_LOG_EVERY_MS) {
		char host[256];
		url_host(d->cfg->heartbeat.url ? d->cfg->heartbeat.url : "", host, sizeof(host));
		log_warnx("event=heartbeat_failed host=%s error=\"%s\" consecutive=%llu "
			  "unlogged=%llu",
			  host, m->heartbeat_last_error,
			  (unsigned long long)m->heartbeat_consecutive_failures,
			  (unsigned long long)d->watch.hb_unlogged);
		d->watch.hb_last_log_mono = mono_ms();
		d->watch.hb_unlogged = 0;
	} else {
		d->watch.hb_unlogged++;
	}
}

static void heartbeat_tick(struct daemon *d)
{
	const struct heartbeat_config *h = &d->cfg->heartbeat;
	struct http_request rq;
	int64_t now = mono_ms();

	d->metrics.heartbeat_configured = h->url != NULL;
	if (h->url == NULL || d->http == NULL || d->watch.hb_in_flight ||
	    now < d->watch.hb_next_mono_ms)
		return;
	d->watch.hb_next_mono_ms = now + h->interval_s * 1000;
	memset(&rq, 0, sizeof(rq));
	rq.method = h->method;
	rq.url = h->url;
	rq.bearer = h->token.value;
	if (strcmp(h->method, "POST") == 0) {
		rq.content_type = "application/json";
		rq.body = "{\"status\":\"up\",\"service\":\"nightshift\"}";
		rq.body_len = strlen(rq.body);
	}
	rq.timeout_ms = h->interval_s * 1000 < HB_TIMEOUT_MS ? h->interval_s * 1000 : HB_TIMEOUT_MS;
	rq.done = heartbeat_done;
	rq.arg = d;
	d->watch.hb_in_flight = true;
	http_client_submit(d->http, &rq);
}

void watch_tick(struct daemon *d)
{
	int64_t now = mono_ms();

	if (d->stopping)
		return;
	heartbeat_tick(d);
	if (!d->watch.check_busy && d->writer != NULL && d->cfg->watchdog.enabled &&
	    now >= d->watch.check_next_mono_ms) {
		struct check_job *j = xcalloc(1, sizeof(*j));
		int64_t every = d->cfg->watchdog.timeout_s * 1000 / 20;

		every = every < 1000 ? 1000 : every > 30000 ? 30000 : every;
		d->watch.check_next_mono_ms = now + every - 100; /* the tick is not exact */
		j->d = d;
		j->started_ms = d->metrics.started_ms;
		j->base.run = check_job_run;
		j->base.done = check_job_done;
		d->watch.check_busy = true;
		writer_submit(d->writer, &j->base);
	}
}
