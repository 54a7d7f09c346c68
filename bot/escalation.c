/*
 * This file contains the escalations of escalation.h: the escalations rows,
 * the nags and what each one says changed (a nag with a pod line is handed
 * to a worker as a followups row), the widening (level, further targets,
 * their DMs), and the acknowledgement words.
 * Statements are prepared per call (nags are rare; no slot of the cache).
 */
#include "escalation.h"

#include "config.h"
#include "followup.h"
#include "human.h"
#include "log.h"
#include "outbox.h"
#include "quiet.h"
#include "regex.h"
#include "render.h"
#include "store.h"
#include "triage.h"
#include "util.h"

#include <cjson/cJSON.h>

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static _Atomic int64_t hint = INT64_MAX;

void escalation_hint(int64_t due)
{
	int64_t cur = atomic_load(&hint);
	while (due < cur && !atomic_compare_exchange_weak(&hint, &cur, due))
		;
}

int64_t escalation_hint_take(void)
{
	return atomic_exchange(&hint, INT64_MAX);
}

void escalation_mentions(const struct config *cfg, const char *environment, char *out,
			 size_t outlen)
{
	const struct slack_user_list *t = config_targets(cfg, environment);
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < t->n; i++) {
		int n = snprintf(out + used, outlen - used, "%s<@%s>", used ? " " : "", t->ids[i]);
		if (n < 0 || (size_t)n >= outlen - used) {
			out[used] = '\0';
			return;
		}
		used += (size_t)n;
	}
}

int64_t escalation_level(int64_t nag, int64_t widen_after, size_t n_widen_to)
{
	int64_t top = n_widen_to > 0 ? (int64_t)n_widen_to : 1, level;

	if (widen_after <= 0 || nag <= widen_after)
		return 0;
	level = (nag - 1) / widen_after;
	return level < top ? level : top;
}

int escalation_dm(struct store *s, int64_t id, const char *user, const char *why,
		  const char *const *channels, size_t n, int64_t now, char *err, size_t errlen)
{
	struct incident_view v;
	cJSON *m;
	char *headline, *body;
	int rc;

	if (n == 0)
		return 0;
	if (triage_load_view(s, id, &v) < 0)
		return snprintf(err, errlen, "incident %lld vanished", (long long)id), -1;
	headline = render_headline(&v);
	triage_view_release(s);
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "kind", OUTBOX_DM);
	cJSON_AddNumberToObject(m, "incident", (double)id);
	cJSON_AddStringToObject(m, "user", user);
	cJSON_AddStringToObject(m, "text", why);
	cJSON_AddStringToObject(m, "headline", headline);
	body = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	free(headline);
	rc = outbox_enqueue(s, id, OUTBOX_DM, body, channels, n, now, err, errlen);
	free(body);
	return rc;
}

int escalation_start_dms(struct store *s, const struct config *cfg, int64_t id,
			 const char *const *channels, size_t n, int64_t now, char *err,
			 size_t errlen)
{
	const struct slack_user_list *u = &cfg->slack.escalation_users;

	for (size_t i = 0; i < u->n; i++)
		if (escalation_dm(s, id, u->ids[i], "\xF0\x9F\x9A\xA8 Needs a human", channels, n,
				  now, err, errlen) < 0)
			return -1;
	return 0;
}

static sqlite3_stmt *prep(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("event=sql_error sql=\"%.40s\" message=\"%s\"", sql,
			  sqlite3_errmsg(store_db(s)));
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* Runs a prepared write; 0 or -1. */
static int done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

/* count(*) of incident id's members with status, or -1. */
static int64_t members(struct store *s, int64_t id, const char *status)
{
	sqlite3_stmt *st = prep(s, "SELECT count(*) FROM incident_members WHERE incident_id = ?"
				   " AND (? IS NULL OR status = ?)");
	int64_t n = -1;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, status);
	store_bind_text(st, 3, status);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int escalation_start(struct store *s, const struct config *cfg, int64_t id, const char *environment,
		     int64_t now, char *err, size_t errlen)
{
	int64_t interval = config_nag_interval_s(cfg, environment) * 1000;
	const struct slack_user_list *t = config_targets(cfg, environment);
	const struct quiet_hours *q = config_quiet_hours(cfg, environment);
	char targets[512] = "";
	sqlite3_stmt *st;

	for (size_t i = 0, used = 0; i < t->n; i++) {
		int n = snprintf(targets + used, sizeof(targets) - used, "%s%s", used ? " " : "",
				 t->ids[i]);
		if (n < 0 || (size_t)n >= sizeof(targets) - used)
			break;
		used += (size_t)n;
	}
	st = prep(s, "INSERT OR REPLACE INTO escalations (incident_id, environment, targets,"
		     " level, nags, interval_ms, max_nags, widen_after, ack_timeout_ms, quiet_from,"
		     " quiet_to, quiet_tz, quiet_zone, next_nag_at,"
		     " started_at, last_nag_at, last_alert_count, last_firing, acked_by, acked_at,"
		     " snoozed_until, state, updated_at)"
		     " SELECT ?1, ?2, ?3, 0, 0, ?4, ?5, ?7, ?8, ?9, ?10, ?11, ?12,"
		     " CASE WHEN ?4 > 0 THEN ?6 + ?4 END,"
		     " ?6, NULL, alert_count,"
		     " (SELECT count(*) FROM incident_members WHERE incident_id = ?1 AND"
		     "  status = 'firing'), NULL, NULL, NULL, 'active', ?6"
		     " FROM incidents WHERE id = ?1");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare escalation insert"), -1;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, environment ? environment : "");
	store_bind_text(st, 3, targets);
	sqlite3_bind_int64(st, 4, interval);
	sqlite3_bind_int64(st, 5, (int64_t)config_max_nags(cfg, environment));
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, (int64_t)config_widen_after(cfg, environment));
	sqlite3_bind_int64(st, 8, config_ack_timeout_s(cfg, environment) * 1000);
	/* The window goes into the row, zone included: a restart computes the same. */
	sqlite3_bind_int(st, 9, q ? q->from : -1);
	sqlite3_bind_int(st, 10, q ? q->to : -1);
	sqlite3_bind_int(st, 11, q ? q->offset : 0);
	if (q != NULL && q->zone[0] != '\0')
		store_bind_text(st, 12, q->zone);
	if (done(st) < 0)
		return snprintf(err, errlen, "escalations: %s", sqlite3_errmsg(store_db(s))), -1;
	if (interval > 0)
		escalation_hint(now + interval);
	log_info("event=escalated incident=%lld environment=%s nag_interval_ms=%lld", (long long)id,
		 environment ? environment : "", (long long)interval);
	return 0;
}

int escalation_acked(struct store *s, int64_t id, const char *user, int64_t now, int64_t *open_ms)
{
	sqlite3_stmt *st = prep(s, "SELECT started_at FROM escalations WHERE incident_id = ? AND"
				   " state = 'active'");
	int found = 0;

	*open_ms = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*open_ms = now - sqlite3_column_int64(st, 0);
		found = 1;
	}
	sqlite3_finalize(st);
	if (!found)
		return 0;
	st = prep(s, "UPDATE escalations SET state = 'acked', acked_by = ?1, acked_at = ?2,"
		     " next_nag_at = CASE WHEN ack_timeout_ms > 0 THEN ?2 + ack_timeout_ms END,"
		     " updated_at = ?3 WHERE incident_id = ?4");
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, user ? user : "");
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, id);
	if (done(st) < 0)
		return -1;
	escalation_hint(now + 60000); /* an ack timeout is at least a minute away */
	log_info("event=escalation_acked incident=%lld user=%s open_ms=%lld", (long long)id,
		 user ? user : "", (long long)*open_ms);
	return 1;
}

int escalation_stop(struct store *s, int64_t id, const char *state, int64_t now)
{
	sqlite3_stmt *st = prep(s, "UPDATE escalations SET state = ?, next_nag_at = NULL,"
				   " updated_at = ? WHERE incident_id = ? AND state = 'active'");
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, state);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	if (done(st) < 0)
		return -1;
	if (sqlite3_changes(store_db(s)) == 0)
		return 0;
	log_info("event=escalation_stopped incident=%lld state=%s", (long long)id, state);
	return 1;
}

static void age(int64_t ms, char *out, size_t outlen);

int escalation_snooze(struct store *s, int64_t id, int64_t until, int64_t now)
{
	sqlite3_stmt *st = prep(s, "UPDATE escalations SET snoozed_until = ?1,"
				   " next_nag_at = CASE WHEN next_nag_at IS NULL THEN NULL"
				   " ELSE max(next_nag_at, ?1) END, updated_at = ?2"
				   " WHERE incident_id = ?3 AND state = 'active'");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, until);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	if (done(st) < 0)
		return -1;
	return sqlite3_changes(store_db(s)) > 0 ? 1 : 0;
}

int escalation_unsnooze(struct store *s, int64_t id, int64_t now)
{
	sqlite3_stmt *st = prep(s, "UPDATE escalations SET snoozed_until = NULL,"
				   " next_nag_at = CASE WHEN interval_ms > 0 AND"
				   " (max_nags = 0 OR nags < max_nags) THEN ?1 + interval_ms END,"
				   " updated_at = ?1 WHERE incident_id = ?2 AND state = 'active'");
	int rc;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	if (done(st) < 0)
		return -1;
	rc = sqlite3_changes(store_db(s)) > 0 ? 1 : 0;
	if (rc)
		escalation_hint(now);
	return rc;
}

int escalation_touched(struct store *s, int64_t id, int64_t now)
{
	sqlite3_stmt *st =
	    prep(s, "UPDATE escalations SET next_nag_at = CASE"
		    " WHEN state = 'active' THEN max(next_nag_at, ?1 + interval_ms)"
		    " ELSE ?1 + ack_timeout_ms END, updated_at = ?1"
		    " WHERE incident_id = ?2 AND next_nag_at IS NOT NULL AND"
		    " (state = 'active' OR (state = 'acked' AND ack_timeout_ms > 0))");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	if (done(st) < 0)
		return -1;
	return sqlite3_changes(store_db(s)) > 0 ? 1 : 0;
}

void escalation_status(struct store *s, int64_t id, int64_t now, char *out, size_t outlen)
{
	sqlite3_stmt *st =
	    prep(s, "SELECT state, nags, next_nag_at, acked_by, acked_at,"
		    " started_at, snoozed_until FROM escalations WHERE incident_id = ?");
	char a[32], b[32];

	out[0] = '\0';
	if (st == NULL)
		return;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(out, outlen, "not escalated");
	} else {
		const char *state = store_col_text(st, 0);
		long long nags = sqlite3_column_int64(st, 1);
		if (strcmp(state, "acked") == 0) {
			age(sqlite3_column_int64(st, 4) - sqlite3_column_int64(st, 5), a,
			    sizeof(a));
			snprintf(out, outlen, "acknowledged by <@%s> after %s, %lld nag%s",
				 store_col_text(st, 3), a, nags, nags == 1 ? "" : "s");
		} else if (strcmp(state, "active") == 0 &&
			   sqlite3_column_type(st, 2) != SQLITE_NULL) {
			int64_t next = sqlite3_column_int64(st, 2);
			age((next - now + 59999) / 60000 * 60000, a, sizeof(a)); /* rounded up */
			if (sqlite3_column_int64(st, 6) > now) {
				age(sqlite3_column_int64(st, 6) - now, b, sizeof(b));
				snprintf(out, outlen,
					 "unacknowledged, %lld nag%s, snoozed for %s more, next "
					 "nag in %s",
					 nags, nags == 1 ? "" : "s", b, a);
			} else {
				snprintf(out, outlen, "unacknowledged, %lld nag%s, next nag in %s",
					 nags, nags == 1 ? "" : "s", a);
			}
		} else {
			snprintf(out, outlen, "escalation %s, %lld nag%s",
				 strcmp(state, "active") == 0 ? "without nags" : state, nags,
				 nags == 1 ? "" : "s");
		}
	}
	sqlite3_finalize(st);
}

/* "40 min", "2 h 5 min", "45 s". */
static void age(int64_t ms, char *out, size_t outlen)
{
	int64_t s = ms < 0 ? 0 : ms / 1000, m = s / 60;
	if (s < 60)
		snprintf(out, outlen, "%lld s", (long long)s);
	else if (m < 60)
		snprintf(out, outlen, "%lld min", (long long)m);
	else if (m % 60 == 0)
		snprintf(out, outlen, "%lld h", (long long)(m / 60));
	else
		snprintf(out, outlen, "%lld h %lld min", (long long)(m / 60), (long long)(m % 60));
}

/* One due row: a nag, or the end of the escalation. */
struct due_row {
	int64_t id, nags, interval, max_nags, started, last_count, last_firing, alert_count;
	int64_t widen_after, acked_at, level;
	struct quiet_hours quiet;
	bool critical;
	char targets[512], state[32], resolved_by[64], esc_state[16], acked_by[64];
	char environment[64];
};

/* The nag text: who, which nag, how long, and what changed since the last message. */
static void nag_text(const struct due_row *r, int64_t nag, int64_t now, int64_t firing,
		     int64_t total, bool last, char *out, size_t outlen)
{
	char mentions[600] = "", open[32];
	const char *p = r->targets;
	size_t used = 0;
	struct buf b;

	while (*p) {
		size_t n = strcspn(p, " ");
		int w = snprintf(mentions + used, sizeof(mentions) - used, "<@%.*s> ", (int)n, p);
		if (w < 0 || (size_t)w >= sizeof(mentions) - used)
			break;
		used += (size_t)w;
		p += n;
		while (*p == ' ')
			p++;
	}
	age(now - r->started, open, sizeof(open));
	buf_init(&b, 0);
	/* Widened: the whole channel is asked, and the targets reached so far. */
	if (r->level > 0)
		buf_puts(&b, "<!here> ");
	buf_printf(&b, "\xE2\x8F\xB0 %sStill unacknowledged \xE2\x80\x94 nag #%lld, open %s.",
		   mentions, (long long)nag, open);
	if (r->alert_count > r->last_count)
		buf_printf(&b, " Since the last message: %lld new alert%s joined (%lld in all).",
			   (long long)(r->alert_count - r->last_count),
			   r->alert_count - r->last_count == 1 ? "" : "s",
			   (long long)r->alert_count);
	else
		buf_printf(&b, " No new alerts since the last message (%lld in all).",
			   (long long)r->alert_count);
	if (firing > 0 && firing == total)
		buf_printf(&b, " Still firing.");
	else if (firing > 0)
		buf_printf(&b, " %lld of %lld members still firing.", (long long)firing,
			   (long long)total);
	if (firing != r->last_firing && r->last_firing > firing)
		buf_printf(&b, " %lld member%s resolved since the last message.",
			   (long long)(r->last_firing - firing),
			   r->last_firing - firing == 1 ? "" : "s");
	if (last)
		buf_printf(&b, " Last nag (max_nags reached).");
	strlcpy0(out, b.data ? b.data : "", outlen);
	buf_release(&b);
}

/*
 * An acknowledged incident nobody resolved or touched within ack_timeout:
 * escalated again (nags from the next interval). 0, or -1 with err.
 */
static int ack_timed_out(struct store *s, const struct due_row *r, int64_t now,
			 const char *const *channels, size_t n_channels, char *err, size_t errlen)
{
	char text[512], ago[32];
	sqlite3_stmt *st;

	if (strcmp(r->state, "acknowledged") != 0) {
		/* Resolved (or changed by a human) meanwhile: the ack's watch ends. */
		st = prep(s, "UPDATE escalations SET next_nag_at = NULL, updated_at = ?"
			     " WHERE incident_id = ?");
		if (st == NULL)
			return snprintf(err, errlen, "cannot prepare ack timeout"), -1;
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, r->id);
		if (done(st) < 0)
			return snprintf(err, errlen, "escalations: %s",
					sqlite3_errmsg(store_db(s))),
			       -1;
		return 0;
	}
	st = prep(s, "UPDATE escalations SET state = 'active', next_nag_at = CASE WHEN"
		     " interval_ms > 0 THEN ?1 + interval_ms END, updated_at = ?1,"
		     " last_alert_count = ?3 WHERE incident_id = ?2");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare ack timeout"), -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, r->id);
	sqlite3_bind_int64(st, 3, r->alert_count);
	if (done(st) < 0)
		return snprintf(err, errlen, "escalations: %s", sqlite3_errmsg(store_db(s))), -1;
	st = prep(s, "UPDATE incidents SET state = 'escalated' WHERE id = ? AND"
		     " state = 'acknowledged'");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare re-escalation"), -1;
	sqlite3_bind_int64(st, 1, r->id);
	if (done(st) < 0)
		return snprintf(err, errlen, "incidents: %s", sqlite3_errmsg(store_db(s))), -1;
	age(now - r->acked_at, ago, sizeof(ago));
	snprintf(text, sizeof(text),
		 "\xE2\x8F\xB0 Acknowledged by <@%s> %s ago, but not resolved or updated since "
		 "\xE2\x80\x94 escalating again (ack_timeout)",
		 r->acked_by, ago);
	log_info("event=ack_timeout incident=%lld acked_by=%s", (long long)r->id, r->acked_by);
	return human_reply(s, r->id, text, channels, n_channels, now, err, errlen);
}

/* True when the space-separated list targets names user. */
static bool targets_have(const char *targets, const char *user)
{
	size_t len = strlen(user);
	for (const char *p = targets; *p; p += strcspn(p, " "), p += *p == ' ')
		if (strncmp(p, user, len) == 0 && (p[len] == ' ' || p[len] == '\0'))
			return true;
	return false;
}

/*
 * Raises r's level to the one nag reaches (escalation_level): each new level
 * adds the next widen_to target of r's environment to r->targets (mentioned
 * from now on) and queues a DM to it. 0, or -1 with err.
 */
static int widen(struct store *s, const struct config *cfg, struct due_row *r, int64_t nag,
		 const char *const *channels, size_t n_channels, int64_t now, char *err,
		 size_t errlen)
{
	const struct slack_user_list *to = config_widen_to(cfg, r->environment);
	int64_t level = escalation_level(nag, r->widen_after, to->n);
	char why[160];

	for (; r->level < level; r->level++) {
		const char *user = r->level < (int64_t)to->n ? to->ids[r->level] : NULL;
		size_t used = strlen(r->targets);

		log_info("event=escalation_widened incident=%lld level=%lld target=%s",
			 (long long)r->id, (long long)r->level + 1, user ? user : "here");
		if (user == NULL || targets_have(r->targets, user) ||
		    used + strlen(user) + 2 > sizeof(r->targets))
			continue;
		snprintf(r->targets + used, sizeof(r->targets) - used, "%s%s", used ? " " : "",
			 user);
		snprintf(why, sizeof(why),
			 "\xF0\x9F\x9A\xA8 Escalated to you: unacknowledged after %lld nags",
			 (long long)nag - 1);
		if (escalation_dm(s, r->id, user, why, channels, n_channels, now, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* True when incident id's nags get a pod line: a cluster configured, a namespace, a workload. */
static bool looks_at_pods(struct store *s, const struct config *cfg, int64_t id)
{
	sqlite3_stmt *st;
	bool k8s = false;

	if (cfg->n_clusters == 0)
		return false;
	st = prep(s, "SELECT namespace <> '' AND workload <> '' FROM incidents WHERE id = ?");
	if (st == NULL)
		return false;
	sqlite3_bind_int64(st, 1, id);
	k8s = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return k8s;
}

/* The nag's text in the thread now, or as a worker's row that adds the pod line. 0 or -1. */
static int send_nag(struct store *s, const struct config *cfg, int64_t id, const char *text,
		    const char *const *channels, size_t n_channels, int64_t now, char *err,
		    size_t errlen)
{
	if (n_channels > 0 && looks_at_pods(s, cfg, id))
		return followup_request_nag(s, id, text, now, err, errlen) < 0 ? -1 : 0;
	return human_reply(s, id, text, channels, n_channels, now, err, errlen);
}

int escalation_run_due(struct store *s, const struct config *cfg, const char *const *channels,
		       size_t n_channels, int64_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st = prep(
	    s, "SELECT e.incident_id, e.nags, e.interval_ms, e.max_nags, e.started_at,"
	       " e.last_alert_count, e.last_firing, i.alert_count, e.targets, i.state,"
	       " coalesce(i.resolved_by, ''), e.widen_after, e.state, coalesce(e.acked_by, ''),"
	       " coalesce(e.acked_at, 0), e.quiet_from, e.quiet_to, e.quiet_tz,"
	       " i.severity = 'critical', coalesce(e.quiet_zone, ''), e.level, e.environment"
	       " FROM escalations e JOIN incidents i ON i.id = e.incident_id"
	       " WHERE e.state IN ('active', 'acked') AND e.next_nag_at IS NOT NULL"
	       " AND e.next_nag_at <= ?"
	       " ORDER BY e.next_nag_at, e.incident_id LIMIT 64");
	struct due_row rows[64];
	int n = 0;

	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare due escalations"), -1;
	sqlite3_bind_int64(st, 1, now);
	while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
		struct due_row *r = &rows[n++];
		r->id = sqlite3_column_int64(st, 0);
		r->nags = sqlite3_column_int64(st, 1);
		r->interval = sqlite3_column_int64(st, 2);
		r->max_nags = sqlite3_column_int64(st, 3);
		r->started = sqlite3_column_int64(st, 4);
		r->last_count = sqlite3_column_int64(st, 5);
		r->last_firing = sqlite3_column_int64(st, 6);
		r->alert_count = sqlite3_column_int64(st, 7);
		strlcpy0(r->targets, store_col_text(st, 8), sizeof(r->targets));
		strlcpy0(r->state, store_col_text(st, 9), sizeof(r->state));
		strlcpy0(r->resolved_by, store_col_text(st, 10), sizeof(r->resolved_by));
		r->widen_after = sqlite3_column_int64(st, 11);
		strlcpy0(r->esc_state, store_col_text(st, 12), sizeof(r->esc_state));
		strlcpy0(r->acked_by, store_col_text(st, 13), sizeof(r->acked_by));
		r->acked_at = sqlite3_column_int64(st, 14);
		r->quiet.from = sqlite3_column_int(st, 15);
		r->quiet.to = sqlite3_column_int(st, 16);
		r->quiet.offset = sqlite3_column_int(st, 17);
		r->critical = sqlite3_column_int(st, 18) != 0;
		strlcpy0(r->quiet.zone, store_col_text(st, 19), sizeof(r->quiet.zone));
		r->level = sqlite3_column_int64(st, 20);
		strlcpy0(r->environment, store_col_text(st, 21), sizeof(r->environment));
	}
	sqlite3_finalize(st);
	for (int i = 0; i < n; i++) {
		struct due_row *r = &rows[i];
		char text[1024];
		int64_t firing, total, nag = r->nags + 1;
		bool last;

		if (strcmp(r->esc_state, "acked") == 0) {
			if (ack_timed_out(s, r, now, channels, n_channels, err, errlen) < 0)
				return -1;
			continue;
		}
		if (strcmp(r->state, "resolved") == 0) {
			if (escalation_stop(s, r->id, "resolved", now) < 0)
				return snprintf(err, errlen, "escalations: %s",
						sqlite3_errmsg(store_db(s))),
				       -1;
			if (strcmp(r->resolved_by, "source") == 0 &&
			    human_reply(
				s, r->id,
				"\xE2\x9C\x85 Resolved at source \xE2\x80\x94 stopping nags",
				channels, n_channels, now, err, errlen) < 0)
				return -1;
			continue;
		}
		if (strcmp(r->state, "escalated") != 0) {
			/* Acknowledged, silenced or reopened by another path: no nag. */
			if (escalation_stop(s, r->id,
					    strcmp(r->state, "acknowledged") == 0 ? "acked"
										  : "stopped",
					    now) < 0)
				return snprintf(err, errlen, "escalations: %s",
						sqlite3_errmsg(store_db(s))),
				       -1;
			continue;
		}
		/* Quiet hours hold non-critical nags until they end (then one nag). */
		if (!r->critical && r->quiet.from >= 0) {
			int64_t until = quiet_until(&r->quiet, now);
			if (until > 0) {
				st =
				    prep(s, "UPDATE escalations SET next_nag_at = ?, updated_at = ?"
					    " WHERE incident_id = ?");
				if (st == NULL)
					return snprintf(err, errlen, "cannot prepare quiet hours"),
					       -1;
				sqlite3_bind_int64(st, 1, until);
				sqlite3_bind_int64(st, 2, now);
				sqlite3_bind_int64(st, 3, r->id);
				if (done(st) < 0)
					return snprintf(err, errlen, "escalations: %s",
							sqlite3_errmsg(store_db(s))),
					       -1;
				log_info("event=nag_quiet_hours incident=%lld until=%lld",
					 (long long)r->id, (long long)until);
				continue;
			}
		}
		firing = members(s, r->id, "firing");
		total = members(s, r->id, NULL);
		last = r->max_nags > 0 && nag >= r->max_nags;
		if (widen(s, cfg, r, nag, channels, n_channels, now, err, errlen) < 0)
			return -1;
		nag_text(r, nag, now, firing, total, last, text, sizeof(text));
		st = prep(s, "UPDATE escalations SET nags = ?, last_nag_at = ?, next_nag_at = ?,"
			     " last_alert_count = ?, last_firing = ?, updated_at = ?,"
			     " level = ?8, targets = ?9 WHERE incident_id = ?7");
		if (st == NULL)
			return snprintf(err, errlen, "cannot prepare nag update"), -1;
		sqlite3_bind_int64(st, 1, nag);
		sqlite3_bind_int64(st, 2, now);
		if (!last && r->interval > 0)
			sqlite3_bind_int64(st, 3, now + r->interval);
		sqlite3_bind_int64(st, 4, r->alert_count);
		sqlite3_bind_int64(st, 5, firing < 0 ? 0 : firing);
		sqlite3_bind_int64(st, 6, now);
		sqlite3_bind_int64(st, 7, r->id);
		sqlite3_bind_int64(st, 8, r->level);
		store_bind_text(st, 9, r->targets);
		if (done(st) < 0)
			return snprintf(err, errlen, "escalations: %s",
					sqlite3_errmsg(store_db(s))),
			       -1;
		if (send_nag(s, cfg, r->id, text, channels, n_channels, now, err, errlen) < 0)
			return -1;
		log_info("event=nag incident=%lld nag=%lld", (long long)r->id, (long long)nag);
	}
	return n;
}

int escalation_nag_look(struct store *s, int64_t id, char *last, size_t lastlen)
{
	sqlite3_stmt *st = prep(s, "SELECT state = 'active', coalesce(last_pods, '')"
				   " FROM escalations WHERE incident_id = ?");
	int active = 0;

	last[0] = '\0';
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		active = sqlite3_column_int(st, 0) != 0;
		strlcpy0(last, store_col_text(st, 1), lastlen);
	}
	sqlite3_finalize(st);
	return active;
}

int escalation_keep_look(struct store *s, int64_t id, const char *summary)
{
	sqlite3_stmt *st = prep(s, "UPDATE escalations SET last_pods = ? WHERE incident_id = ?");
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, summary);
	sqlite3_bind_int64(st, 2, id);
	return done(st);
}

int64_t escalation_next_due(struct store *s)
{
	sqlite3_stmt *st = prep(s, "SELECT min(next_nag_at) FROM escalations WHERE"
				   " state IN ('active', 'acked') AND next_nag_at IS NOT NULL");
	int64_t due = INT64_MAX;
	if (st == NULL)
		return 0; /* look again soon */
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		due = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return due;
}

bool escalation_ack_text(const char *text)
{
	static const char *words[] = {"ack", "acked", "on it", "looking"};
	const char *b, *e;
	size_t n;

	if (text == NULL)
		return false;
	b = text;
	while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
		b++;
	e = b + strlen(b);
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	if (e > b && (e[-1] == '.' || e[-1] == '!'))
		e--;
	n = (size_t)(e - b);
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (strlen(words[i]) == n && strncasecmp(b, words[i], n) == 0)
			return true;
	return false;
}

bool escalation_ack_text_re(const struct regex *ack_words, const char *text)
{
	if (ack_words == NULL)
		return escalation_ack_text(text);
	return text != NULL && regex_match(ack_words, text, strlen(text)) == 1;
}

bool escalation_ack_reaction(const char *name)
{
	return name != NULL && (strcmp(name, "eyes") == 0 || strcmp(name, "white_check_mark") == 0);
}
