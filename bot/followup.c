/*
 * This file contains the follow-up questions of followup.h: the intents
 * (PCRE2), the queue row (followup_request), the stored facts an answer
 * starts from, the fresh context that calls the read tools under the
 * investigation budgets, and the life of one row on a worker. The answers
 * themselves are composed in followup_compose.c.
 *
 * Statements here are prepared and finalized per use (follow-ups are rare),
 * so this file takes no slot of the store's statement cache.
 */
#include "followup.h"
#include "followup_internal.h"

#include "alert.h"
#include "channel.h"
#include "config.h"
#include "escalation.h"
#include "human.h"
#include "investigate.h"
#include "k8s.h"
#include "log.h"
#include "outbox.h"
#include "regex.h"
#include "render.h"
#include "store.h"
#include "tool.h"
#include "triage.h"
#include "util.h"
#include "workers.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- intents ---- */

const char *followup_intent_name(enum followup_intent i)
{
	static const char *names[] = {"help", "what_changed", "logs", "status", "history",
				      "root_cause"};
	return (unsigned)i < ARRAY_LEN(names) ? names[i] : "help";
}

/*
 * Tried in this order; the first that matches wins. History before status
 * ("has this happened before" is not "is it still happening"), logs before
 * the rest ("why are the logs full of errors" wants logs), root cause last
 * but one so "why did the deploy break" is answered with the finding.
 */
static const struct {
	enum followup_intent intent;
	const char *pattern;
} intent_rules[] = {
	{FU_HISTORY,
	 "(?i)\\b(?:happen\\w*|seen|see|occurr?\\w*|had|fire[sd]?|got)\\b.{0,40}?"
	 "\\b(?:before|b4|previously|earlier|in\\s+the\\s+past|last\\s+time|again)\\b"
	 "|\\bhistory\\b|\\bprevious\\s+(?:incidents?|times?|alerts?)\\b|\\brecurr\\w*"
	 "|\\bhow\\s+often\\b|\\bfirst\\s+time\\b|\\bever\\s+(?:seen|happen\\w*)\\b"},
	{FU_LOGS,
	 "(?i)\\b(?:logs?|lgos?|logz|logfiles?)\\b|\\bstack\\s*traces?\\b|\\btracebacks?\\b"
	 "|\\bstderr\\b|\\bstdout\\b"},
	{FU_STATUS,
	 "(?i)\\bstill\\b|\\bsti?ll+\\b|\\bstatus\\b|\\bstat\\b|\\bhappening\\b"
	 "|\\brecovered\\b|\\bhealthy\\b|\\bfixed\\b|\\bback\\s+up\\b|\\bup\\s+again\\b"
	 "|\\bis\\s+it\\s+(?:ok|okay|up|down|back|better|working|healthy|fine|over|resolved)\\b"
	 "|\\bhow(?:\\W?s|\\s+is|\\s+are)\\s+(?:it|things|the\\s+pods?)\\b|\\bany\\s+better\\b"
	 "|\\bpods?\\s+(?:ok|up|ready|running)\\b|\\bcurrent\\s+state\\b"},
	{FU_WHAT_CHANGED,
	 "(?i)\\bchang(?:e|ed|es|ing)\\b|\\bdeploy\\w*|\\bdepoly\\w*|\\brolle?d?\\s*out\\w*"
	 "|\\brollouts?\\b|\\breleases?d?\\b|\\bversions?\\b|\\bimages?\\b|\\bupgraded?\\b"
	 "|\\bship(?:ped|ping)?\\b|\\bpushed\\b|\\bnew\\s+build\\b|\\bdiff\\b"},
	{FU_ROOT_CAUSE,
	 "(?i)\\bwh?y+\\b|^\\s*y+\\s*\\?*\\s*$|\\broot\\s*-?\\s*cause\\b|\\bcaused?\\b|\\bcauses\\b|\\brca\\b"
	 "|\\bexplain\\b|\\breason\\b|\\bwhat\\W{0,3}s\\s+(?:the\\s+)?(?:problem|issue|wrong)\\b"
	 "|\\bwhat\\s+(?:is\\s+(?:the\\s+)?(?:problem|issue|wrong)|happened|went\\s+wrong|broke)\\b"
	 "|\\bdiagnos\\w*|\\bfinding\\b|\\bverdict\\b"},
};

static struct regex *intent_re[ARRAY_LEN(intent_rules)];
static pthread_once_t intent_once = PTHREAD_ONCE_INIT;

static void intent_init(void)
{
	for (size_t i = 0; i < ARRAY_LEN(intent_rules); i++) {
		char err[256];
		intent_re[i] = regex_new_interpreted(intent_rules[i].pattern, err, sizeof(err));
		if (intent_re[i] == NULL)
			fatal("event=followup_intent_regex index=%zu error=\"%s\"", i, err);
	}
}

enum followup_intent followup_intent_of(const char *question)
{
	size_t n;

	if (question == NULL)
		return FU_HELP;
	pthread_once(&intent_once, intent_init);
	n = strlen(question);
	if (n > FOLLOWUP_QUESTION_MAX)
		n = FOLLOWUP_QUESTION_MAX;
	for (size_t i = 0; i < ARRAY_LEN(intent_rules); i++)
		if (regex_match(intent_re[i], question, n) == 1)
			return intent_rules[i].intent;
	return FU_HELP;
}

/* ---- the queue row ---- */

static int check_text(const char *what, const char *s, size_t max, bool newlines, char *err,
		      size_t errlen)
{
	size_t n;
	bool blank = true;

	if (s == NULL)
		return snprintf(err, errlen, "%s is missing", what), -1;
	n = strlen(s);
	if (n > max)
		return snprintf(err, errlen, "%s is too long (%zu bytes, at most %zu)", what, n, max),
		       -1;
	if (!utf8_valid(s, n))
		return snprintf(err, errlen, "%s is not valid UTF-8", what), -1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p < 0x20 && !(newlines && (*p == '\n' || *p == '\t' || *p == '\r'))) ||
		    *p == 0x7f)
			return snprintf(err, errlen, "%s contains control characters", what), -1;
		if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
			blank = false;
	}
	if (blank)
		return snprintf(err, errlen, "%s is empty", what), -1;
	return 0;
}

int followup_check(const char *user, const char *question, char *err, size_t errlen)
{
	if (check_text("the user name", user, FOLLOWUP_USER_MAX, false, err, errlen) < 0)
		return -1;
	return check_text("the question", question, FOLLOWUP_QUESTION_MAX, true, err, errlen);
}

/* Prepares sql on s's connection; NULL with err. */
static sqlite3_stmt *prep(struct store *s, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(store_db(s)));
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* A pending followups row of kind; its id, or -1 with err. */
static int64_t insert_row(struct store *s, int64_t incident_id, const char *user,
			  const char *question, const char *kind, int64_t now_ms, char *err,
			  size_t errlen)
{
	sqlite3_stmt *st = prep(s,
				"INSERT INTO followups (incident_id, user, question, state, created_at,"
				" kind) VALUES (?, ?, ?, 'pending', ?, ?)",
				err, errlen);
	int64_t id = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, incident_id);
	store_bind_text(st, 2, user);
	store_bind_text(st, 3, question);
	sqlite3_bind_int64(st, 4, now_ms);
	store_bind_text(st, 5, kind);
	if (sqlite3_step(st) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(store_db(s));
	else
		snprintf(err, errlen, "cannot queue the %s: %s", kind, sqlite3_errmsg(store_db(s)));
	sqlite3_finalize(st);
	return id;
}

int64_t followup_request(struct store *s, int64_t incident_id, const char *user,
			 const char *question, int64_t now_ms, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	bool found = false;

	if (followup_check(user, question, err, errlen) < 0)
		return -1;
	if (incident_id <= 0)
		return snprintf(err, errlen, "no incident %lld", (long long)incident_id), -1;
	if ((st = prep(s, "SELECT 1 FROM incidents WHERE id = ?", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, incident_id);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (!found)
		return snprintf(err, errlen, "no incident %lld", (long long)incident_id), -1;
	return insert_row(s, incident_id, user, question, "question", now_ms, err, errlen);
}

int64_t followup_request_nag(struct store *s, int64_t incident_id, const char *text,
			     int64_t now_ms, char *err, size_t errlen)
{
	return insert_row(s, incident_id, "", text, "nag", now_ms, err, errlen);
}

/* ---- the stored facts ---- */

void followup_facts_release(struct followup_facts *f)
{
	if (f == NULL)
		return;
	free(f->alertname);
	free(f->state);
	free(f->environment);
	free(f->namespace);
	free(f->deployment);
	free(f->pod);
	free(f->container);
	free(f->fingerprint);
	free(f->verdict);
	free(f->category);
	free(f->confidence);
	free(f->root_cause);
	free(f->command);
	for (size_t i = 0; i < f->n_evidence; i++)
		free(f->evidence[i]);
	free(f->investigation_state);
	memset(f, 0, sizeof(*f));
}

static char *dup_or_null(const char *s)
{
	return str_empty(s) ? NULL : xstrdup(s);
}

/* "checkout-api-84c6f7b9d5" → "checkout-api" (a ReplicaSet's pod-template-hash dropped). */
static char *strip_hash(const char *name)
{
	const char *dash = strrchr(name, '-');
	size_t n;
	if (dash == NULL || dash == name)
		return NULL;
	n = strlen(dash + 1);
	if (n < 5 || n > 10 || strspn(dash + 1, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
		return NULL;
	return xstrndup(name, (size_t)(dash - name));
}

/* "checkout-api-84c6f7b9d5-2xkfp" → "checkout-api", or NULL when it does not look so. */
static char *deployment_of_pod(const char *pod)
{
	char *rs = strip_hash(pod), *d;
	const char *dash = strrchr(pod, '-');
	if (rs == NULL || dash == NULL || strlen(dash + 1) != 5) {
		free(rs);
		return NULL;
	}
	d = strip_hash(rs);
	free(rs);
	return d;
}

static void report_facts(struct followup_facts *f, const char *json)
{
	cJSON *o = cJSON_ParseWithOpts(json, NULL, 1);
	const cJSON *e;
	if (o == NULL)
		return;
	f->verdict = dup_or_null(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "verdict")));
	f->category =
		dup_or_null(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "category")));
	f->confidence =
		dup_or_null(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "confidence")));
	free(f->root_cause);
	f->root_cause =
		dup_or_null(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "root_cause")));
	f->command = dup_or_null(
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "recommended_command")));
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "evidence"))
	{
		if (cJSON_IsString(e) && f->n_evidence < ARRAY_LEN(f->evidence))
			f->evidence[f->n_evidence++] = xstrdup(e->valuestring);
	}
	cJSON_Delete(o);
}

/* Loads incident id's facts and its first alert into *a. 0, -1 when it does not exist. */
static int load_facts(struct store *s, int64_t id, struct followup_facts *f, struct alert *a,
		      char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int64_t alert_id = 0;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	alert_init(a);
	st = prep(s,
		  "SELECT alertname, state, environment, alert_count, opened_at,"
		  " coalesce(resolved_at, 0), namespace, workload, fingerprint, root_cause,"
		  " (SELECT id FROM alerts WHERE incident_id = incidents.id ORDER BY id LIMIT 1)"
		  " FROM incidents WHERE id = ?",
		  err, errlen);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		f->incident_id = id;
		f->alertname = xstrdup(store_col_text(st, 0));
		f->state = xstrdup(store_col_text(st, 1));
		f->environment = xstrdup(store_col_text(st, 2));
		f->alert_count = sqlite3_column_int64(st, 3);
		f->opened_at_ms = sqlite3_column_int64(st, 4);
		f->resolved_at_ms = sqlite3_column_int64(st, 5);
		f->namespace = dup_or_null(store_col_text(st, 6));
		f->fingerprint = xstrdup(store_col_text(st, 8));
		f->root_cause = dup_or_null(store_col_text(st, 9));
		alert_id = sqlite3_column_int64(st, 10);
		rc = 0;
	} else {
		snprintf(err, errlen, "no incident %lld", (long long)id);
	}
	sqlite3_finalize(st);
	if (rc < 0)
		return -1;

	if (alert_id > 0 && triage_load_alert(s, alert_id, a) == 0) {
		const char *ns = kv_list_get(&a->labels, "namespace");
		const char *dep = kv_list_get(&a->labels, "deployment");
		const char *rs = kv_list_get(&a->labels, "replicaset");
		const char *pod = kv_list_get(&a->labels, "pod");
		if (f->namespace == NULL)
			f->namespace = dup_or_null(ns);
		f->pod = dup_or_null(pod);
		f->container = dup_or_null(kv_list_get(&a->labels, "container"));
		if (!str_empty(dep))
			f->deployment = xstrdup(dep);
		else if (!str_empty(rs))
			f->deployment = strip_hash(rs);
	} else {
		/* No alert row: a minimal alert, enough for the tools' context. */
		a->name = xstrdup(f->alertname);
		a->summary = xstrdup("");
		a->description = xstrdup("");
		a->cluster = xstrdup("");
		a->namespace = xstrdup(f->namespace ? f->namespace : "");
		a->workload = xstrdup("");
		a->source_fingerprint = xstrdup("");
		a->group_key = xstrdup("");
		a->generator_url = xstrdup("");
		strlcpy0(a->fingerprint, f->fingerprint, sizeof(a->fingerprint));
	}

	/* The latest finished report (else the latest row, for its state). */
	st = prep(s,
		  "SELECT state, coalesce(report, '') FROM investigations WHERE incident_id = ?"
		  " ORDER BY (state = 'done') DESC, id DESC LIMIT 1",
		  err, errlen);
	if (st == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		f->investigation_state = xstrdup(store_col_text(st, 0));
		if (*store_col_text(st, 1))
			report_facts(f, store_col_text(st, 1));
	}
	sqlite3_finalize(st);
	return 0;
}

/* Past incidents of the fingerprint as "#id · 2d ago · noise · cause" lines (owned). */
static char *past_incidents(struct store *s, const struct followup_facts *f, int64_t now_ms)
{
	char err[128];
	sqlite3_stmt *st = prep(s,
				"SELECT id, opened_at, coalesce(verdict, state), coalesce(root_cause, '')"
				" FROM incidents WHERE fingerprint = ? AND id <> ?"
				" ORDER BY id DESC LIMIT 3",
				err, sizeof(err));
	struct buf b;

	buf_init(&b, 0);
	if (st == NULL)
		return buf_detach(&b);
	store_bind_text(st, 1, f->fingerprint);
	sqlite3_bind_int64(st, 2, f->incident_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char age[32], cause[161];
		format_duration((now_ms - sqlite3_column_int64(st, 1)) / 1000, age, sizeof(age));
		strlcpy0(cause, store_col_text(st, 3), sizeof(cause));
		for (char *p = cause; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		buf_printf(&b, "#%lld \xC2\xB7 %s ago \xC2\xB7 %s%s%s\n",
			   (long long)sqlite3_column_int64(st, 0), age, store_col_text(st, 2),
			   cause[0] ? " \xC2\xB7 " : "", cause);
	}
	sqlite3_finalize(st);
	return buf_detach(&b);
}

/* ---- the fresh context of one follow-up ---- */

struct ctx {
	const struct followup_env *env;
	struct followup_facts facts;
	struct alert alert;
	struct tool_calls *calls;
	struct tool_ctx tctx;
	int64_t deadline;
	int steps, failed;
};

/*
 * Calls a read tool with args (a JSON object, consumed) under the budget.
 * Returns the owned output, "error: …" when it failed or could not run.
 */
static char *call_tool(struct ctx *c, const char *name, cJSON *args)
{
	const struct tool *tool = tool_lookup(name);
	char *args_json = cJSON_PrintUnformatted(args);
	char err[512] = "";
	struct buf out;
	int64_t left, t0;
	int rc;

	if (args_json == NULL)
		fatal("event=oom what=followup_args");
	if (tool == NULL || tool->kind != TOOL_READ) {
		cJSON_Delete(args);
		free(args_json);
		return xasprintf("error: no read tool named \"%s\"", name);
	}
	if (c->steps >= (int)c->env->cfg->step_budget) {
		cJSON_Delete(args);
		free(args_json);
		return xasprintf("error: step budget reached (%zu tool calls)",
				 c->env->cfg->step_budget);
	}
	left = c->deadline - mono_ms();
	if (left <= 0) {
		cJSON_Delete(args);
		free(args_json);
		return xasprintf("error: deadline reached (%llds)",
				 (long long)c->env->cfg->deadline_s);
	}
	c->steps++;
	buf_init(&out, TOOL_OUTPUT_CAP);
	c->tctx.timeout_ms = (int)(left < c->env->cfg->tool_timeout_s * 1000
					   ? left
					   : c->env->cfg->tool_timeout_s * 1000);
	if (strcmp(name, "history") != 0)
		c->tctx.k8s = k8s_client_for(c->env->cfg, c->env->clients, c->alert.cluster,
					     &c->tctx.k8s_error);
	t0 = mono_ms();
	rc = tool->run(&c->tctx, args, &out, err, sizeof(err));
	if (rc < 0) {
		buf_reset(&out);
		buf_printf(&out, "error: %s", err[0] ? err : "failed");
		c->failed++;
	}
	tool_calls_add(c->calls, name, args_json, rc == 0, mono_ms() - t0,
		       out.data ? out.data : "");
	cJSON_Delete(args);
	free(args_json);
	return buf_detach(&out);
}

static cJSON *args2(const char *k1, const char *v1, const char *k2, const char *v2)
{
	cJSON *o = cJSON_CreateObject();
	if (k1)
		cJSON_AddStringToObject(o, k1, v1 ? v1 : "");
	if (k2)
		cJSON_AddStringToObject(o, k2, v2 ? v2 : "");
	return o;
}

/* The pod's owner deployment, asked of the cluster when only a pod is known. */
static void ensure_deployment(struct ctx *c, char **pod_out)
{
	struct followup_facts *f = &c->facts;
	char owner[300];
	char *out;

	if (!str_empty(f->deployment) || str_empty(f->pod) || str_empty(f->namespace))
		return;
	out = call_tool(c, "k8s_pod", args2("namespace", f->namespace, "name", f->pod));
	if (!followup_tool_failed(out) && followup_line_value(out, "owner", owner, sizeof(owner))) {
		if (str_has_prefix(owner, "ReplicaSet/"))
			f->deployment = strip_hash(owner + 11);
	} else {
		f->deployment = deployment_of_pod(f->pod);
	}
	if (pod_out)
		*pod_out = out;
	else
		free(out);
}

static void answer_what_changed(struct ctx *c, struct followup_answer *a)
{
	struct followup_facts *f = &c->facts;
	char *rollout = NULL, *events = NULL;

	ensure_deployment(c, NULL);
	if (!str_empty(f->namespace) && !str_empty(f->deployment)) {
		rollout = call_tool(c, "k8s_rollout_history",
				    args2("namespace", f->namespace, "deployment", f->deployment));
		events = call_tool(c, "k8s_events", args2("namespace", f->namespace, NULL, NULL));
	}
	followup_compose_what_changed(f, rollout, events, a);
	free(rollout);
	free(events);
}

/* The first pod of f's deployment in a k8s_pods output (unhealthy first), or NULL. */
static char *first_pod(const struct followup_facts *f, const char *pods)
{
	const char *p = pods;
	char line[LINE_MAX_LEN], owner[300], name[256];

	while (pods && followup_next_line(&p, line, sizeof(line))) {
		if (!str_has_prefix(line, "pod ") ||
		    !followup_line_value(line, "owner", owner, sizeof(owner)) ||
		    !followup_owned_by_deployment(owner, f->deployment) ||
		    !followup_line_value(line, "name", name, sizeof(name)))
			continue;
		return xstrdup(name);
	}
	return NULL;
}

/* True when the pod lines show pod as crash looping or restarted while not running. */
static bool crash_looping(const char *pods, const char *pod)
{
	const char *p = pods;
	char line[LINE_MAX_LEN], v[256];
	bool in = false;

	while (pods && followup_next_line(&p, line, sizeof(line))) {
		if (str_has_prefix(line, "pod ")) {
			in = followup_line_value(line, "name", v, sizeof(v)) && strcmp(v, pod) == 0;
			continue;
		}
		if (!in || !str_has_prefix(line, "container "))
			continue;
		if (followup_line_value(line, "reason", v, sizeof(v)) &&
		    strcmp(v, "CrashLoopBackOff") == 0)
			return true;
		if (followup_line_value(line, "state", v, sizeof(v)) && strcmp(v, "running") != 0 &&
		    followup_line_value(line, "last_terminated", v, sizeof(v)))
			return true;
	}
	return false;
}

static void answer_logs(struct ctx *c, struct followup_answer *a)
{
	struct followup_facts *f = &c->facts;
	char *pods = NULL, *pod = NULL, *logs = NULL;
	bool previous;

	if (str_empty(f->namespace)) {
		followup_compose_logs(f, NULL, NULL, a);
		return;
	}
	if (!str_empty(f->pod)) {
		pod = xstrdup(f->pod);
		pods = call_tool(c, "k8s_pod", args2("namespace", f->namespace, "name", pod));
		/* The alert's pod is gone (replaced): read a current pod of its deployment. */
		if (followup_tool_failed(pods) && str_has_prefix(pods, "error: 404") &&
		    (f->deployment != NULL || (f->deployment = deployment_of_pod(f->pod)) != NULL)) {
			char *list = call_tool(c, "k8s_pods",
					       args2("namespace", f->namespace, NULL, NULL));
			char *other = followup_tool_failed(list) ? NULL : first_pod(f, list);
			if (other != NULL) {
				free(pod);
				free(pods);
				pod = other;
				pods = list;
				free(f->container); /* it named the old pod's container */
				f->container = NULL;
			} else {
				free(list);
			}
		}
	} else if (!str_empty(f->deployment)) {
		pods = call_tool(c, "k8s_pods", args2("namespace", f->namespace, NULL, NULL));
		pod = followup_tool_failed(pods) ? NULL : first_pod(f, pods);
	}
	if (pod != NULL) {
		cJSON *args = args2("namespace", f->namespace, "pod", pod);
		previous = crash_looping(pods, pod);
		if (!str_empty(f->container))
			cJSON_AddStringToObject(args, "container", f->container);
		cJSON_AddStringToObject(args, "previous", previous ? "true" : "false");
		cJSON_AddStringToObject(args, "tail", "200");
		logs = call_tool(c, "k8s_logs", args);
		if (previous && followup_tool_failed(logs)) { /* no previous instance after all */
			free(logs);
			args = args2("namespace", f->namespace, "pod", pod);
			if (!str_empty(f->container))
				cJSON_AddStringToObject(args, "container", f->container);
			cJSON_AddStringToObject(args, "previous", "false");
			cJSON_AddStringToObject(args, "tail", "200");
			logs = call_tool(c, "k8s_logs", args);
		}
	} else if (followup_tool_failed(pods)) {
		logs = pods ? xstrdup(pods) : NULL;
		pod = xstrdup(f->deployment ? f->deployment : "?");
	}
	followup_compose_logs(f, pod, logs, a);
	free(pods);
	free(pod);
	free(logs);
}

/* The fresh look at the pods of the incident's target (owned), or "error: …". */
static char *look_pods(struct ctx *c)
{
	struct followup_facts *f = &c->facts;
	char *pod_out = NULL, *pods = NULL;

	if (str_empty(f->namespace))
		return xstrdup("error: the incident names no namespace");
	ensure_deployment(c, &pod_out);
	if (!str_empty(f->deployment)) {
		char *any;
		pods = call_tool(c, "k8s_pods", args2("namespace", f->namespace, NULL, NULL));
		/* None of the deployment's pods listed (e.g. a bare pod): the pod itself. */
		any = followup_tool_failed(pods) ? NULL : first_pod(f, pods);
		if (any == NULL && pod_out != NULL && !followup_tool_failed(pod_out)) {
			free(pods);
			pods = xstrdup(pod_out);
			free(f->deployment);
			f->deployment = NULL;
		}
		free(any);
	} else if (!str_empty(f->pod)) {
		pods = pod_out ? xstrdup(pod_out)
			       : call_tool(c, "k8s_pod", args2("namespace", f->namespace, "name",
							       f->pod));
	}
	free(pod_out);
	return pods ? pods : xstrdup("error: the incident names no pod or deployment");
}

static void answer_status(struct ctx *c, struct followup_answer *a)
{
	char *pods = look_pods(c);
	followup_compose_status(&c->facts, pods, c->env->now_ms, a);
	free(pods);
}

static void answer_history(struct ctx *c, struct followup_answer *a)
{
	char *history = call_tool(c, "history", cJSON_CreateObject());
	char *past = past_incidents(c->env->store, &c->facts, c->env->now_ms);
	followup_compose_history(&c->facts, history, past, a);
	free(history);
	free(past);
}

/* A fresh context for incident_id's tools. 0, or -1 with err (no such incident). */
static int ctx_open(struct ctx *c, const struct followup_env *env, int64_t incident_id,
		    struct tool_calls *calls, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->env = env;
	c->calls = calls;
	if (load_facts(env->store, incident_id, &c->facts, &c->alert, err, errlen) < 0) {
		alert_free(&c->alert);
		followup_facts_release(&c->facts);
		return -1;
	}
	c->deadline = mono_ms() + env->cfg->deadline_s * 1000;
	c->tctx = (struct tool_ctx){.cfg = env->cfg, .store = env->store, .alert = &c->alert,
				    .playbooks = env->playbooks, .now_ms = env->now_ms,
				    .incident_id = incident_id};
	return 0;
}

static void ctx_close(struct ctx *c)
{
	alert_free(&c->alert);
	followup_facts_release(&c->facts);
}

int followup_run(const struct followup_env *env, int64_t incident_id, const char *question,
		 struct followup_answer *ans, struct tool_calls *calls, char *err, size_t errlen)
{
	struct ctx c;
	int64_t t0 = mono_ms();
	enum followup_intent intent = followup_intent_of(question);

	memset(ans, 0, sizeof(*ans));
	memset(calls, 0, sizeof(*calls));
	if (ctx_open(&c, env, incident_id, calls, err, errlen) < 0)
		return -1;
	switch (intent) {
	case FU_WHAT_CHANGED: answer_what_changed(&c, ans); break;
	case FU_LOGS: answer_logs(&c, ans); break;
	case FU_STATUS: answer_status(&c, ans); break;
	case FU_HISTORY: answer_history(&c, ans); break;
	case FU_ROOT_CAUSE: followup_compose_root_cause(&c.facts, ans); break;
	case FU_HELP: followup_compose_help(&c.facts, ans); break;
	}
	ans->intent = intent;
	ans->steps = c.steps;
	ans->failed_steps = c.failed;
	ans->duration_ms = mono_ms() - t0;
	ctx_close(&c);
	return 0;
}

/* ---- the life of one row ---- */

static int exec_done(struct store *s, sqlite3_stmt *st, const char *what, char *err,
		     size_t errlen)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(store_db(s))), -1;
	return 0;
}

/* pending → running. 1 claimed, 0 not pending any more, -1 error. */
static int claim(struct store *s, int64_t id, int64_t *incident, int *attempts, char **user,
		 char **question, bool *nag, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char state[16] = "";

	if (store_begin(s) < 0)
		return snprintf(err, errlen, "store busy"), -1;
	st = prep(s,
		  "SELECT incident_id, state, attempts, user, question, kind = 'nag' FROM followups"
		  " WHERE id = ?",
		  err, errlen);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*incident = sqlite3_column_int64(st, 0);
		strlcpy0(state, store_col_text(st, 1), sizeof(state));
		*attempts = sqlite3_column_int(st, 2);
		*user = xstrdup(store_col_text(st, 3));
		*question = xstrdup(store_col_text(st, 4));
		*nag = sqlite3_column_int(st, 5) != 0;
	}
	sqlite3_finalize(st);
	if (strcmp(state, "pending") != 0) {
		store_commit(s);
		return 0;
	}
	st = prep(s,
		  "UPDATE followups SET state = 'running', attempts = attempts + 1, started_at = ?"
		  " WHERE id = ?",
		  err, errlen);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, now_ms());
	sqlite3_bind_int64(st, 2, id);
	if (exec_done(s, st, "claim", err, errlen) < 0 || store_commit(s) < 0)
		goto fail;
	(*attempts)++;
	return 1;
fail:
	if (err[0] == '\0')
		snprintf(err, errlen, "claim failed");
	store_rollback(s);
	return -1;
}

/* Row id's tool calls, and the row done or failed with its answer. 0, or -1 with err. */
static int answered(struct store *s, int64_t id, const char *state, const char *intent,
		    const char *answer, int steps, const char *error, const struct tool_calls *calls,
		    int64_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if (tool_calls_store(s, true, id, calls, now, err, errlen) < 0)
		return -1;
	st = prep(s,
		  "UPDATE followups SET state = ?, intent = ?, answer = ?, steps = ?,"
		  " answered_at = ?, error = ? WHERE id = ?",
		  err, errlen);
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, state);
	store_bind_text(st, 2, intent);
	store_bind_text(st, 3, answer);
	sqlite3_bind_int(st, 4, steps);
	sqlite3_bind_int64(st, 5, now);
	store_bind_text(st, 6, error);
	sqlite3_bind_int64(st, 7, id);
	return exec_done(s, st, "answer", err, errlen);
}

/* Stores the answer (or the failure) and posts it in the incident's thread: one transaction. */
static int finish(struct store *s, const struct config *cfg, int64_t id, int64_t incident,
		  const char *user, const char *question, const struct followup_answer *a,
		  const struct tool_calls *calls, bool failed, char *err, size_t errlen)
{
	const char *channels[16];
	size_t n_channels = channels_enabled(cfg, channels, ARRAY_LEN(channels));
	int64_t now = now_ms();
	char *text = followup_answer_text(a);
	int rc = -1;

	if (store_begin(s) < 0) {
		free(text);
		return snprintf(err, errlen, "store busy"), -1;
	}
	if (answered(s, id, failed ? "failed" : "done", followup_intent_name(a->intent), text,
		     a->steps, failed ? a->text : NULL, calls, now, err, errlen) < 0)
		goto out;
	if (n_channels > 0) {
		struct incident_view v;
		char *body;
		if (triage_load_view(s, incident, &v) < 0) {
			snprintf(err, errlen, "incident %lld vanished", (long long)incident);
			goto out;
		}
		body = render_followup(&v, user, question, a);
		triage_view_release(s);
		rc = outbox_enqueue(s, incident, MSG_ANSWER, body, channels, n_channels, now, err,
				    errlen);
		free(body);
		if (rc < 0)
			goto out;
	}
	rc = store_commit(s);
out:
	if (rc < 0)
		store_rollback(s);
	free(text);
	return rc;
}

/*
 * Posts nag row id's text in the incident's thread, keeps summary (unless
 * "") as the escalation's last look and marks the row done: one transaction.
 * Nothing is posted when the escalation stopped meanwhile (acked, resolved).
 */
static int finish_nag(struct store *s, const struct config *cfg, int64_t id, int64_t incident,
		      const char *text, const char *summary, int steps,
		      const struct tool_calls *calls, char *err, size_t errlen)
{
	const char *channels[16];
	size_t n_channels = channels_enabled(cfg, channels, ARRAY_LEN(channels));
	int64_t now = now_ms();
	char last[8];
	int rc = -1, active;

	if (store_begin(s) < 0)
		return snprintf(err, errlen, "store busy"), -1;
	if ((active = escalation_nag_look(s, incident, last, sizeof(last))) < 0) {
		snprintf(err, errlen, "escalations: %s", sqlite3_errmsg(store_db(s)));
		goto out;
	}
	if (answered(s, id, "done", "nag", text, steps,
		     active ? NULL : "not posted: the escalation stopped meanwhile", calls, now, err,
		     errlen) < 0)
		goto out;
	if (active && summary[0] && escalation_keep_look(s, incident, summary) < 0) {
		snprintf(err, errlen, "escalations: %s", sqlite3_errmsg(store_db(s)));
		goto out;
	}
	if (active && human_reply(s, incident, text, channels, n_channels, now, err, errlen) < 0)
		goto out;
	rc = store_commit(s);
out:
	if (rc < 0)
		store_rollback(s);
	return rc;
}

/* Nag row id: text and the pod line of a fresh look (unless interrupted too often), posted. */
static void run_nag(const struct followup_env *env, int64_t id, int64_t incident, int attempts,
		    const char *text, struct followup_result *res)
{
	char last[512], line[640], summary[512] = "", err[256];
	struct tool_calls calls = {0};
	int64_t t0 = mono_ms();
	struct ctx c;
	char *full;

	res->nag = true;
	if (escalation_nag_look(env->store, incident, last, sizeof(last)) == 0) {
		line[0] = '\0'; /* stopped meanwhile: finish_nag posts nothing */
	} else if (attempts > WORKERS_MAX_ATTEMPTS) {
		snprintf(line, sizeof(line), "Pods: could not look (interrupted too often).");
	} else if (ctx_open(&c, env, incident, &calls, err, sizeof(err)) < 0) {
		snprintf(line, sizeof(line), "Pods: could not look (%s).", err);
	} else {
		char *pods = look_pods(&c);
		followup_compose_nag_pods(&c.facts, pods, last, line, sizeof(line), summary,
					  sizeof(summary));
		free(pods);
		res->steps = c.steps;
		ctx_close(&c);
	}
	full = xasprintf("%s%s%s", text, line[0] ? " " : "", line);
	if (finish_nag(env->store, env->cfg, id, incident, full, summary, res->steps, &calls,
		       res->error, sizeof(res->error)) < 0)
		res->status = -1;
	res->duration_ms = mono_ms() - t0;
	free(full);
	tool_calls_release(&calls);
}

/* Question row id of user: answered (or the failure said) in the thread. */
static void run_question(const struct followup_env *env, int64_t id, int64_t incident,
			 int attempts, const char *user, const char *question,
			 struct followup_result *res)
{
	struct followup_answer a;
	struct tool_calls calls = {0};
	bool failed = false;

	memset(&a, 0, sizeof(a));
	if (attempts > WORKERS_MAX_ATTEMPTS) {
		a.intent = followup_intent_of(question);
		a.text = xstrdup("Sorry, I could not answer this question: answering it was "
				 "interrupted too often.");
		failed = true;
	} else {
		char err[256];
		if (followup_run(env, incident, question, &a, &calls, err, sizeof(err)) < 0) {
			a.intent = followup_intent_of(question);
			a.text = xasprintf("Sorry, I could not answer this question (%s).", err);
			failed = true;
		}
	}
	if (finish(env->store, env->cfg, id, incident, user, question, &a, &calls, failed,
		   res->error, sizeof(res->error)) < 0)
		res->status = -1;
	else if (failed)
		res->status = -1, strlcpy0(res->error, a.text, sizeof(res->error));
	res->intent = a.intent;
	res->steps = a.steps;
	res->duration_ms = a.duration_ms;
	followup_answer_release(&a);
	tool_calls_release(&calls);
}

void followup_run_one(struct store *store, const struct config *cfg,
		      const struct playbook_set *pb, struct k8s_client **clients, int64_t id,
		      struct followup_result *res)
{
	int64_t incident = 0;
	int attempts = 0, claimed;
	char *user = NULL, *question = NULL;
	bool nag = false;

	memset(res, 0, sizeof(*res));
	res->id = id;
	claimed = claim(store, id, &incident, &attempts, &user, &question, &nag, res->error,
			sizeof(res->error));
	res->incident_id = incident;
	if (claimed <= 0) {
		res->status = claimed == 0 ? 1 : -1;
	} else {
		struct followup_env env = {.cfg = cfg, .store = store, .playbooks = pb,
					   .clients = clients, .now_ms = now_ms()};
		if (nag)
			run_nag(&env, id, incident, attempts, question, res);
		else
			run_question(&env, id, incident, attempts, user, question, res);
	}
	free(user);
	free(question);
}
