/*
 * This file contains triage (see triage.h): environment and noise rules,
 * our fingerprint, and the incident state changes — open, join, resolve when
 * no member still fires, reopen within the flap window — each with its
 * outbox messages, all inside the caller's transaction.
 */
#include "triage.h"

#include "config.h"
#include "esc_clock.h"
#include "escalation.h"
#include "fingerprint.h"
#include "human.h"
#include "log.h"
#include "outbox.h"
#include "render.h"
#include "store.h"
#include "util.h"
#include "writer.h"
#include "watch.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Statement slots of this file in the store's cache (see store_stmt). */
enum {
	ST_INSERT_ALERT = 0,
	ST_LATEST_INCIDENT,
	ST_INSERT_INCIDENT,
	ST_JOIN_INCIDENT,
	ST_UPSERT_MEMBER,
	ST_FIRING_MEMBERS,
	ST_RESOLVE_INCIDENT,
	ST_REOPEN_INCIDENT,
	ST_LOAD_VIEW,
	ST_INSERT_INVESTIGATION,
	ST_COUNT_INVESTIGATIONS,
	ST_LOAD_ALERT,
};

const char *triage_action_name(enum triage_action a)
{
	static const char *names[] = {"opened",          "joined",   "dismissed", "reopened",
				      "member_resolved", "resolved", "ignored",  "heartbeat"};
	return (unsigned)a < ARRAY_LEN(names) ? names[a] : "unknown";
}

/* The list as a JSON object; owned. */
static char *kv_json(const struct kv_list *l)
{
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "{");
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			buf_puts(&b, ",");
		buf_json_string(&b, l->items[i].key);
		buf_puts(&b, ":");
		buf_json_string(&b, l->items[i].value);
	}
	buf_puts(&b, "}");
	return buf_detach(&b);
}

static int step_done(struct triage_ctx *ctx, sqlite3_stmt *st, char *err, size_t errlen)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(store_db(ctx->store)));
		return -1;
	}
	return 0;
}

/* Stores the alert as received, linked to its incident (0: none). */
static int insert_alert(struct triage_ctx *ctx, const struct alert *a, int64_t incident,
			int64_t *id, char *err, size_t errlen)
{
	sqlite3_stmt *st = store_stmt(
		ctx->store, ST_INSERT_ALERT,
		"INSERT INTO alerts (received_at, source, status, alertname, severity, environment,"
		" cluster, namespace, workload, summary, labels, annotations, starts_at, ends_at,"
		" source_fingerprint, fingerprint, group_key, generator_url, raw, incident_id)"
		" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	char *labels, *annotations;
	int rc;

	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare alert insert"), -1;
	labels = kv_json(&a->labels);
	annotations = kv_json(&a->annotations);
	sqlite3_bind_int64(st, 1, ctx->now_ms);
	store_bind_text(st, 2, alert_source_name(a->source));
	store_bind_text(st, 3, alert_status_name(a->status));
	store_bind_text(st, 4, a->name);
	store_bind_text(st, 5, severity_name(a->severity));
	store_bind_text(st, 6, a->environment);
	store_bind_text(st, 7, a->cluster);
	store_bind_text(st, 8, a->namespace);
	store_bind_text(st, 9, a->workload);
	store_bind_text(st, 10, a->summary);
	sqlite3_bind_text(st, 11, labels, -1, free);
	sqlite3_bind_text(st, 12, annotations, -1, free);
	if (a->starts_at_ms)
		sqlite3_bind_int64(st, 13, a->starts_at_ms);
	if (a->ends_at_ms)
		sqlite3_bind_int64(st, 14, a->ends_at_ms);
	store_bind_text(st, 15, a->source_fingerprint);
	store_bind_text(st, 16, a->fingerprint);
	store_bind_text(st, 17, a->group_key);
	store_bind_text(st, 18, a->generator_url);
	store_bind_text(st, 19, a->raw ? a->raw : "{}");
	if (incident)
		sqlite3_bind_int64(st, 20, incident);
	rc = step_done(ctx, st, err, errlen);
	*id = sqlite3_last_insert_rowid(store_db(ctx->store));
	return rc;
}

struct latest {
	int64_t id;
	char state[16];
	int64_t resolved_at;
	int sev_rank;
	int64_t silenced_until; /* escalation clock (esc_now_ms); 0 none */
};

/* The newest incident of a fingerprint; returns 1 when found, 0 when none, -1 on error. */
static int latest_incident(struct triage_ctx *ctx, const char *fingerprint, struct latest *out,
			   char *err, size_t errlen)
{
	sqlite3_stmt *st = store_stmt(ctx->store, ST_LATEST_INCIDENT,
				      "SELECT id, state, coalesce(resolved_at, 0), severity,"
				      " coalesce(silenced_until, 0)"
				      " FROM incidents WHERE fingerprint = ? ORDER BY id DESC LIMIT 1");
	int rc;
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare incident lookup"), -1;
	store_bind_text(st, 1, fingerprint);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(store_db(ctx->store)));
		return -1;
	}
	out->id = sqlite3_column_int64(st, 0);
	strlcpy0(out->state, store_col_text(st, 1), sizeof(out->state));
	out->resolved_at = sqlite3_column_int64(st, 2);
	out->silenced_until = sqlite3_column_int64(st, 4);
	{
		enum severity sev = SEV_WARNING;
		(void)severity_parse(store_col_text(st, 3), &sev);
		out->sev_rank = (int)sev;
	}
	sqlite3_reset(st);
	return 1;
}

static int upsert_member(struct triage_ctx *ctx, int64_t incident, const struct alert *a,
			 char *err, size_t errlen)
{
	sqlite3_stmt *st = store_stmt(
		ctx->store, ST_UPSERT_MEMBER,
		"INSERT INTO incident_members (incident_id, member_key, status, last_seen_at)"
		" VALUES (?,?,?,?) ON CONFLICT (incident_id, member_key) DO UPDATE SET"
		" status = excluded.status, last_seen_at = excluded.last_seen_at");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare member upsert"), -1;
	sqlite3_bind_int64(st, 1, incident);
	store_bind_text(st, 2, a->source_fingerprint);
	store_bind_text(st, 3, alert_status_name(a->status));
	sqlite3_bind_int64(st, 4, ctx->now_ms);
	return step_done(ctx, st, err, errlen);
}

static const char view_sql[] =
	"SELECT id, alertname, environment, severity, state, cluster, namespace, workload,"
	" summary, coalesce(verdict_reason, ''), alert_count, opened_at,"
	" coalesce(resolved_at, 0), flapping, reopen_count FROM incidents WHERE id = ?";

void triage_view_release(struct store *s)
{
	(void)store_stmt(s, ST_LOAD_VIEW, view_sql); /* resets it */
}

int triage_load_view(struct store *s, int64_t id, struct incident_view *v)
{
	sqlite3_stmt *st = store_stmt(s, ST_LOAD_VIEW, view_sql);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -1;
	memset(v, 0, sizeof(*v));
	v->id = sqlite3_column_int64(st, 0);
	v->alertname = store_col_text(st, 1);
	v->environment = store_col_text(st, 2);
	v->severity = store_col_text(st, 3);
	v->state = store_col_text(st, 4);
	v->cluster = store_col_text(st, 5);
	v->namespace = store_col_text(st, 6);
	v->workload = store_col_text(st, 7);
	v->summary = store_col_text(st, 8);
	v->verdict_reason = store_col_text(st, 9);
	v->alert_count = sqlite3_column_int64(st, 10);
	v->opened_at_ms = sqlite3_column_int64(st, 11);
	v->resolved_at_ms = sqlite3_column_int64(st, 12);
	v->flapping = sqlite3_column_int(st, 13) != 0;
	v->reopen_count = sqlite3_column_int64(st, 14);
	return 0;
}

static void kv_from_json(const char *json, struct kv_list *l)
{
	cJSON *o = cJSON_Parse(json);
	const cJSON *it;
	cJSON_ArrayForEach(it, o)
	{
		if (cJSON_IsString(it) && it->string != NULL)
			kv_list_set(l, it->string, it->valuestring);
	}
	cJSON_Delete(o);
}

int triage_load_alert(struct store *s, int64_t alert_id, struct alert *a)
{
	sqlite3_stmt *st = store_stmt(
		s, ST_LOAD_ALERT,
		"SELECT source, status, alertname, severity, environment, cluster, namespace,"
		" workload, summary, labels, annotations, coalesce(starts_at, 0),"
		" coalesce(ends_at, 0), source_fingerprint, fingerprint, group_key,"
		" generator_url, raw FROM alerts WHERE id = ?");
	int rc = -1;

	alert_init(a);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, alert_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		enum severity sev = SEV_WARNING;
		(void)alert_source_parse(store_col_text(st, 0), &a->source);
		a->status = strcmp(store_col_text(st, 1), "resolved") == 0 ? ALERT_RESOLVED
									    : ALERT_FIRING;
		a->name = xstrdup(store_col_text(st, 2));
		(void)severity_parse(store_col_text(st, 3), &sev);
		a->severity = sev;
		a->environment = xstrdup(store_col_text(st, 4));
		a->cluster = xstrdup(store_col_text(st, 5));
		a->namespace = xstrdup(store_col_text(st, 6));
		a->workload = xstrdup(store_col_text(st, 7));
		a->summary = xstrdup(store_col_text(st, 8));
		a->description = xstrdup("");
		kv_from_json(store_col_text(st, 9), &a->labels);
		kv_from_json(store_col_text(st, 10), &a->annotations);
		a->starts_at_ms = sqlite3_column_int64(st, 11);
		a->ends_at_ms = sqlite3_column_int64(st, 12);
		a->source_fingerprint = xstrdup(store_col_text(st, 13));
		strlcpy0(a->fingerprint, store_col_text(st, 14), sizeof(a->fingerprint));
		a->group_key = xstrdup(store_col_text(st, 15));
		a->generator_url = xstrdup(store_col_text(st, 16));
		a->raw = xstrdup(store_col_text(st, 17));
		{
			const char *d = kv_list_get(&a->annotations, "description");
			if (d != NULL) {
				free(a->description);
				a->description = xstrdup(d);
			}
		}
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

/* Renders kind for the incident (with an optional note) and queues it for every channel. */
static int post_note(struct triage_ctx *ctx, int64_t incident, const char *kind,
		     const struct alert *a, const char *note, char *err, size_t errlen)
{
	struct incident_view v;
	char *body;
	int rc;

	if (ctx->n_channels == 0)
		return 0;
	if (triage_load_view(ctx->store, incident, &v) < 0)
		return snprintf(err, errlen, "incident %lld vanished", (long long)incident), -1;
	v.note = note;
	body = render_message(kind, &v, a);
	triage_view_release(ctx->store);
	rc = outbox_enqueue(ctx->store, incident, kind, body, ctx->channels, ctx->n_channels,
			    ctx->now_ms, err, errlen);
	free(body);
	return rc;
}

static int post(struct triage_ctx *ctx, int64_t incident, const char *kind, const struct alert *a,
		char *err, size_t errlen)
{
	return post_note(ctx, incident, kind, a, NULL, err, errlen);
}

/* Where a new investigation will stand: started at once, or queued behind others. */
static void queue_note(struct triage_ctx *ctx, char *out, size_t outlen)
{
	sqlite3_stmt *st = store_stmt(ctx->store, ST_COUNT_INVESTIGATIONS,
				      "SELECT count(*) FILTER (WHERE state = 'pending'),"
				      " count(*) FILTER (WHERE state = 'running')"
				      " FROM investigations WHERE state IN ('pending', 'running')");
	long long pending = 0, running = 0;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		pending = sqlite3_column_int64(st, 0);
		running = sqlite3_column_int64(st, 1);
	}
	if (st)
		sqlite3_reset(st);
	if ((size_t)(pending + running) < ctx->cfg->workers)
		snprintf(out, outlen, "investigating\xE2\x80\xA6");
	else
		snprintf(out, outlen,
			 "investigation queued: %lld ahead of it, all %zu workers busy", pending,
			 ctx->cfg->workers);
}

static int insert_investigation(struct triage_ctx *ctx, int64_t incident, int64_t alert_id,
				char *err, size_t errlen)
{
	sqlite3_stmt *st = store_stmt(ctx->store, ST_INSERT_INVESTIGATION,
				      "INSERT INTO investigations (incident_id, alert_id, state,"
				      " created_at) VALUES (?, ?, 'pending', ?)");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare investigation insert"), -1;
	sqlite3_bind_int64(st, 1, incident);
	sqlite3_bind_int64(st, 2, alert_id);
	sqlite3_bind_int64(st, 3, ctx->now_ms);
	return step_done(ctx, st, err, errlen);
}

static int open_incident(struct triage_ctx *ctx, const struct alert *a, const char *state,
			 const char *reason, int64_t *id, char *err, size_t errlen)
{
	sqlite3_stmt *st = store_stmt(
		ctx->store, ST_INSERT_INCIDENT,
		"INSERT INTO incidents (fingerprint, alertname, source, environment, severity,"
		" cluster, namespace, workload, summary, group_key, state, verdict, verdict_reason,"
		" alert_count, opened_at, last_seen_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,1,?,?)");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare incident insert"), -1;
	store_bind_text(st, 1, a->fingerprint);
	store_bind_text(st, 2, a->name);
	store_bind_text(st, 3, alert_source_name(a->source));
	store_bind_text(st, 4, a->environment);
	store_bind_text(st, 5, severity_name(a->severity));
	store_bind_text(st, 6, a->cluster);
	store_bind_text(st, 7, a->namespace);
	store_bind_text(st, 8, a->workload);
	store_bind_text(st, 9, a->summary);
	store_bind_text(st, 10, a->group_key);
	store_bind_text(st, 11, state);
	store_bind_text(st, 12, reason ? "noise" : NULL);
	store_bind_text(st, 13, reason);
	sqlite3_bind_int64(st, 14, ctx->now_ms);
	sqlite3_bind_int64(st, 15, ctx->now_ms);
	if (step_done(ctx, st, err, errlen) < 0)
		return -1;
	*id = sqlite3_last_insert_rowid(store_db(ctx->store));
	return 0;
}

/* Counts the alert and raises the incident's severity if this alert is worse. */
static int join_incident(struct triage_ctx *ctx, int64_t id, const struct alert *a, char *err,
			 size_t errlen)
{
	sqlite3_stmt *st = store_stmt(
		ctx->store, ST_JOIN_INCIDENT,
		"UPDATE incidents SET alert_count = alert_count + 1, last_seen_at = ?,"
		" severity = CASE WHEN ? < (CASE severity WHEN 'critical' THEN 0 WHEN 'warning'"
		" THEN 1 ELSE 2 END) THEN ? ELSE severity END WHERE id = ?");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare incident join"), -1;
	sqlite3_bind_int64(st, 1, ctx->now_ms);
	sqlite3_bind_int(st, 2, (int)a->severity);
	store_bind_text(st, 3, severity_name(a->severity));
	sqlite3_bind_int64(st, 4, id);
	return step_done(ctx, st, err, errlen);
}

static int firing_members(struct triage_ctx *ctx, int64_t id, int64_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st = store_stmt(ctx->store, ST_FIRING_MEMBERS,
				      "SELECT count(*) FROM incident_members"
				      " WHERE incident_id = ? AND status = 'firing'");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare member count"), -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW)
		return snprintf(err, errlen, "%s", sqlite3_errmsg(store_db(ctx->store))), -1;
	*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

static int resolve_incident(struct triage_ctx *ctx, int64_t id, char *err, size_t errlen)
{
	sqlite3_stmt *st = store_stmt(ctx->store, ST_RESOLVE_INCIDENT,
				      "UPDATE incidents SET state = 'resolved', resolved_at = ?,"
				      " resolved_by = 'source', last_seen_at = ? WHERE id = ?");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare resolve"), -1;
	sqlite3_bind_int64(st, 1, ctx->now_ms);
	sqlite3_bind_int64(st, 2, ctx->now_ms);
	sqlite3_bind_int64(st, 3, id);
	return step_done(ctx, st, err, errlen);
}

static int reopen_incident(struct triage_ctx *ctx, int64_t id, char *err, size_t errlen)
{
	sqlite3_stmt *st = store_stmt(
		ctx->store, ST_REOPEN_INCIDENT,
		"UPDATE incidents SET state = 'open', resolved_at = NULL, resolved_by = NULL,"
		" flapping = 1, reopen_count = reopen_count + 1, alert_count = alert_count + 1,"
		" last_seen_at = ? WHERE id = ?");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare reopen"), -1;
	sqlite3_bind_int64(st, 1, ctx->now_ms);
	sqlite3_bind_int64(st, 2, id);
	return step_done(ctx, st, err, errlen);
}

static int triage_firing(struct triage_ctx *ctx, struct alert *a, int found,
			 const struct latest *inc, struct triage_outcome *out, char *err,
			 size_t errlen)
{
	const struct noise_rule *noise;

	/* Silenced ("silence 2h" in its thread): new alerts join it quietly until it expires. */
	if (found && (strcmp(inc->state, "resolved") != 0 || inc->silenced_until > esc_now_ms())) {
		out->action = TRIAGE_JOINED;
		out->incident_id = inc->id;
		if (ctx->dry_run)
			return 0;
		return join_incident(ctx, inc->id, a, err, errlen) < 0 ||
				       upsert_member(ctx, inc->id, a, err, errlen) < 0
			       ? -1
			       : 0;
	}
	if (found && ctx->now_ms - inc->resolved_at <= ctx->cfg->flap_window_s * 1000) {
		out->action = TRIAGE_REOPENED;
		out->incident_id = inc->id;
		if (ctx->dry_run)
			return 0;
		if (reopen_incident(ctx, inc->id, err, errlen) < 0 ||
		    upsert_member(ctx, inc->id, a, err, errlen) < 0)
			return -1;
		return post(ctx, inc->id, MSG_REOPENED, a, err, errlen);
	}
	noise = config_noise_for(ctx->cfg, &a->labels);
	out->action = noise ? TRIAGE_DISMISSED : TRIAGE_OPENED;
	out->noise_reason = noise ? noise->reason : NULL;
	if (ctx->dry_run)
		return 0;
	if (open_incident(ctx, a, noise ? "noise" : "open", out->noise_reason, &out->incident_id,
			  err, errlen) < 0 ||
	    upsert_member(ctx, out->incident_id, a, err, errlen) < 0)
		return -1;
	if (noise)
		return post(ctx, out->incident_id, MSG_NOISE, a, err, errlen);
	{
		char note[128];
		queue_note(ctx, note, sizeof(note));
		return post_note(ctx, out->incident_id, MSG_RECEIVED, a, note, err, errlen);
	}
}

static int triage_resolved(struct triage_ctx *ctx, struct alert *a, int found,
			   const struct latest *inc, struct triage_outcome *out, char *err,
			   size_t errlen)
{
	int64_t still_firing = 0;
	bool was_noise;
	int nagging;

	if (!found || strcmp(inc->state, "resolved") == 0) {
		out->action = TRIAGE_IGNORED;
		return 0;
	}
	out->incident_id = inc->id;
	if (ctx->dry_run) {
		out->action = TRIAGE_RESOLVED;
		return 0;
	}
	if (upsert_member(ctx, inc->id, a, err, errlen) < 0 ||
	    firing_members(ctx, inc->id, &still_firing, err, errlen) < 0)
		return -1;
	if (still_firing > 0) {
		out->action = TRIAGE_MEMBER_RESOLVED;
		return 0;
	}
	out->action = TRIAGE_RESOLVED;
	was_noise = strcmp(inc->state, "noise") == 0;
	if (resolve_incident(ctx, inc->id, err, errlen) < 0)
		return -1;
	/* A dismissed incident stays quiet: its one line already said it all. */
	if (was_noise)
		return 0;
	if (post_note(ctx, inc->id, MSG_RESOLVED, a, ctx->resolve_note, err, errlen) < 0)
		return -1;
	nagging = escalation_stop(ctx->store, inc->id, "resolved", esc_now_ms());
	if (nagging < 0)
		return snprintf(err, errlen, "escalations: %s", sqlite3_errmsg(store_db(ctx->store))),
		       -1;
	if (nagging > 0 && ctx->n_channels > 0)
		return human_reply(ctx->store, inc->id,
				   "\xE2\x9C\x85 Resolved at source \xE2\x80\x94 stopping nags",
				   ctx->channels, ctx->n_channels, ctx->now_ms, err, errlen);
	return 0;
}

/*
 * The watchdog's heartbeat: stored without an incident, marked as its
 * switch's (the newest firing one is when the pipeline last spoke, see
 * watch_last_heartbeat), older ones of that switch pruned; a firing one ends
 * the switch's silence incident.
 */
static int triage_heartbeat(struct triage_ctx *ctx, struct alert *a, struct triage_outcome *out,
			    char *err, size_t errlen)
{
	out->action = TRIAGE_HEARTBEAT;
	if (ctx->dry_run)
		return 0;
	if (insert_alert(ctx, a, 0, &out->alert_id, err, errlen) < 0 ||
	    watch_heartbeat_stored(ctx, a, out->alert_id, err, errlen) < 0)
		return -1;
	if (a->status != ALERT_FIRING)
		return 0; /* a resolved Watchdog trips nothing: silence is judged by time */
	return watch_pipeline_back(ctx, a, &out->incident_id, err, errlen);
}

struct triage_ctx triage_ctx_of(const struct writer_env *env)
{
	struct triage_ctx ctx = {
	    .store = env->store,
	    .cfg = env->cfg,
	    .fp = env->fp,
	    .now_ms = env->now_ms,
	    .channels = env->channels,
	    .n_channels = env->n_channels,
	};
	return ctx;
}

void triage_prepare(const struct config *cfg, const struct fingerprinter *fp, struct alert *a)
{
	free(a->environment);
	a->environment = xstrdup(config_environment_for(cfg, &a->labels));
	fingerprint_alert(fp, (const char *const *)cfg->fingerprint_labels,
			  cfg->n_fingerprint_labels, a);
}

int triage_alert(struct triage_ctx *ctx, struct alert *a, struct triage_outcome *out, char *err,
		 size_t errlen)
{
	struct latest inc;
	int found;

	memset(out, 0, sizeof(*out));
	if (ctx->environment != NULL) {
		free(a->environment);
		a->environment = xstrdup(ctx->environment);
		fingerprint_alert(ctx->fp, (const char *const *)ctx->cfg->fingerprint_labels,
				  ctx->cfg->n_fingerprint_labels, a);
		fingerprint_salt(a, ctx->fingerprint_salt);
	} else if (!ctx->prepared) {
		triage_prepare(ctx->cfg, ctx->fp, a);
	}
	if (ctx->environment == NULL && config_is_heartbeat(ctx->cfg, a))
		return triage_heartbeat(ctx, a, out, err, errlen);

	found = latest_incident(ctx, a->fingerprint, &inc, err, errlen);
	if (found < 0)
		return -1;
	if ((a->status == ALERT_FIRING ? triage_firing(ctx, a, found, &inc, out, err, errlen)
				       : triage_resolved(ctx, a, found, &inc, out, err, errlen)) < 0)
		return -1;
	if (ctx->dry_run)
		return 0;
	if (insert_alert(ctx, a, out->incident_id, &out->alert_id, err, errlen) < 0)
		return -1;
	/* A new incident (not dismissed) gets a fresh investigation, queued durably. */
	if (out->action == TRIAGE_OPENED)
		return insert_investigation(ctx, out->incident_id, out->alert_id, err, errlen);
	return 0;
}
