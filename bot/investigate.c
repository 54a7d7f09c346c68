/*
 * This file contains the rules-mode investigation of investigate.h: history
 * first, then the steps of every matching playbook (and of those loaded on
 * demand), each a read-tool call under the step budget and the deadline,
 * then the findings, the best of which becomes the report. Tool failures are
 * evidence: they are listed and lower the confidence.
 */
#include "investigate.h"

#include "alert.h"
#include "config.h"
#include "k8s.h"
#include "log.h"
#include "playbook.h"
#include "regex.h"
#include "store.h"
#include "tool.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLAYBOOKS 12
#define EVIDENCE_LEN 200

struct step_out {
	const struct playbook *pb;
	const char *id;  /* borrowed from the playbook */
	char *output;    /* owned; NULL when skipped */
	bool ok;
};

/* The fresh context of one investigation; freed when it ends. */
struct ctx {
	const struct investigate_env *env;
	const struct alert *a;
	struct kv_list vars;       /* captured by steps */
	struct kv_list *caps;      /* while concluding: the finding's captures */
	struct step_out *outs;
	size_t n_outs, alloc_outs;
	struct tool_calls *calls;
	const struct playbook *run[MAX_PLAYBOOKS];
	size_t n_run;
	const struct playbook *current; /* whose step ids conditions name */
	char *history;             /* owned output of the history tool */
	int64_t deadline;          /* mono_ms */
	int steps, failed;
	bool out_of_budget, out_of_time;
	struct buf failures;       /* "tool: reason" lines */
	struct tool_ctx tctx;
};

static const char *lookup_var(void *arg, const char *name)
{
	struct ctx *c = arg;
	const char *v;

	if (c->caps && (v = kv_list_get(c->caps, name)) != NULL)
		return v;
	if ((v = kv_list_get(&c->vars, name)) != NULL)
		return v;
	if ((v = kv_list_get(&c->a->labels, name)) != NULL)
		return v;
	if (strcmp(name, "environment") == 0)
		return c->a->environment;
	if (strcmp(name, "severity") == 0)
		return severity_name(c->a->severity);
	if (strcmp(name, "cluster") == 0)
		return c->a->cluster;
	if (strcmp(name, "fingerprint") == 0)
		return c->a->fingerprint;
	if (strcmp(name, "alertname") == 0)
		return c->a->name;
	return NULL;
}

static const char *lookup_source(void *arg, const char *source)
{
	struct ctx *c = arg;

	if (strcmp(source, "history") == 0)
		return c->history;
	if (str_has_prefix(source, "alert."))
		return kv_list_get(&c->a->labels, source + 6);
	for (size_t i = 0; i < c->n_outs; i++)
		if (c->outs[i].pb == c->current && strcmp(c->outs[i].id, source) == 0)
			return c->outs[i].output;
	return NULL;
}

/* An earlier identical call's output, or NULL. */
static const struct tool_call *cached(struct ctx *c, const char *tool, const char *args)
{
	for (size_t i = 0; i < c->calls->n; i++)
		if (strcmp(c->calls->items[i].tool, tool) == 0 &&
		    strcmp(c->calls->items[i].args, args) == 0)
			return &c->calls->items[i];
	return NULL;
}

/* Calls tool with args (JSON text) under the budget; returns the owned output. */
static char *call_tool(struct ctx *c, const char *name, const char *args_json, bool *ok)
{
	const struct tool *tool = tool_lookup(name);
	const struct tool_call *prev = cached(c, name, args_json);
	cJSON *args;
	struct buf out;
	char err[512] = "";
	int64_t left, t0;
	int rc;

	*ok = false;
	if (prev != NULL) {
		*ok = prev->ok;
		return xstrdup(prev->output);
	}
	if (c->steps >= (int)c->env->cfg->step_budget) {
		c->out_of_budget = true;
		return NULL;
	}
	left = c->deadline - mono_ms();
	if (left <= 0) {
		c->out_of_time = true;
		return NULL;
	}
	c->steps++;
	buf_init(&out, TOOL_OUTPUT_CAP);
	if (tool == NULL) {
		snprintf(err, sizeof(err), "no tool named \"%s\"", name);
		rc = -1;
		t0 = mono_ms();
	} else {
		args = cJSON_Parse(args_json);
		c->tctx.timeout_ms = (int)(left < c->env->cfg->tool_timeout_s * 1000
						   ? left
						   : c->env->cfg->tool_timeout_s * 1000);
		c->tctx.k8s = k8s_client_for(c->env->cfg, c->env->clients, c->a->cluster,
					     &c->tctx.k8s_error);
		t0 = mono_ms();
		rc = tool->run(&c->tctx, args, &out, err, sizeof(err));
		cJSON_Delete(args);
	}
	if (rc < 0) {
		buf_reset(&out);
		buf_printf(&out, "error: %s", err[0] ? err : "failed");
		c->failed++;
		buf_printf(&c->failures, "%s: %s\n", name, err[0] ? err : "failed");
	}
	*ok = rc == 0;
	tool_calls_add(c->calls, name, args_json, *ok, mono_ms() - t0,
		       out.data ? out.data : "");
	return buf_detach(&out);
}

static void add_playbook(struct ctx *c, const struct playbook *pb)
{
	for (size_t i = 0; i < c->n_run; i++)
		if (c->run[i] == pb)
			return;
	if (c->n_run < MAX_PLAYBOOKS)
		c->run[c->n_run++] = pb;
}

/* Expands a step's arguments into a JSON object; false when a variable is missing. */
static bool step_args(struct ctx *c, const struct pb_step *st, char **json)
{
	cJSON *o = cJSON_CreateObject();
	bool all = true;

	for (size_t i = 0; i < st->args.n; i++) {
		bool missing = false;
		char *v = template_expand(st->args.items[i].value, lookup_var, c, &missing);
		if (missing)
			all = false;
		cJSON_AddStringToObject(o, st->args.items[i].key, v);
		free(v);
	}
	*json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (*json == NULL)
		fatal("event=oom what=step_args");
	return all;
}

static void run_step(struct ctx *c, const struct playbook *pb, const struct pb_step *st)
{
	struct step_out *so;
	char *args = NULL, *output = NULL;
	bool ok = false;

	if (c->n_outs == c->alloc_outs) {
		c->alloc_outs = c->alloc_outs ? 2 * c->alloc_outs : 16;
		c->outs = xrealloc(c->outs, c->alloc_outs * sizeof(*c->outs));
	}
	if (!step_args(c, st, &args)) {
		log_debug("event=step_skipped playbook=%s step=%s reason=missing_variable", pb->name,
			  st->id);
	} else if (strcmp(st->tool, "playbook") == 0) {
		/* Load another playbook on demand: by name only, from the loaded set. */
		cJSON *o = cJSON_Parse(args);
		const char *name = tool_arg(o, "name");
		const struct playbook *more = name ? playbook_find(c->env->playbooks, name) : NULL;
		struct buf b;
		buf_init(&b, 512);
		if (more != NULL) {
			add_playbook(c, more);
			buf_printf(&b, "playbook name=%s loaded=true steps=%zu", more->name,
				   more->n_steps);
			ok = true;
		} else {
			buf_printf(&b, "error: no playbook named \"%s\"", name ? name : "");
			c->failed++;
			buf_printf(&c->failures, "playbook: no playbook named \"%s\"\n",
				   name ? name : "");
		}
		tool_calls_add(c->calls, "playbook", args, ok, 0, b.data);
		output = buf_detach(&b);
		cJSON_Delete(o);
	} else {
		output = call_tool(c, st->tool, args, &ok);
	}
	so = &c->outs[c->n_outs++];
	so->pb = pb;
	so->id = st->id;
	so->output = output;
	so->ok = ok;
	if (output != NULL && ok)
		step_capture(st, output, &c->vars);
	free(args);
}

static int confidence_rank(const char *s)
{
	return strcmp(s, "high") == 0 ? 2 : strcmp(s, "medium") == 0 ? 1 : 0;
}

static const char *confidence_name(int r)
{
	return r >= 2 ? "high" : r == 1 ? "medium" : "low";
}

/* "source: first line of its output that the condition matches". */
static char *evidence_line(struct ctx *c, const struct pb_condition *cond)
{
	const char *out = lookup_source(c, cond->source);
	const char *p = out;
	char line[EVIDENCE_LEN + 1];

	while (p != NULL && *p) {
		size_t n = strcspn(p, "\n");
		if (regex_match(cond->re, p, n) == 1) {
			size_t k = n < EVIDENCE_LEN ? n : EVIDENCE_LEN;
			memcpy(line, p, k);
			line[k] = '\0';
			return xasprintf("%s: %s", cond->source, line);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	return NULL;
}

static void add_evidence(struct report *r, char *line)
{
	if (line == NULL)
		return;
	if (r->n_evidence < REPORT_MAX_EVIDENCE)
		r->evidence[r->n_evidence++] = line;
	else
		free(line);
}

/* True when an evidence line is empty after its "source: " prefix (only
 * spaces and punctuation left once missing variables were dropped). */
static bool evidence_blank(const char *line)
{
	const char *p = strstr(line, ": ");

	for (p = p ? p + 2 : line; *p; p++)
		if (!strchr(" \t.,;:()[]{}'\"-/", *p))
			return false;
	return true;
}

static void conclude(struct ctx *c, const struct playbook *pb, const struct pb_finding *f,
		     struct kv_list *caps, struct report *r)
{
	bool missing = false;

	c->current = pb;
	c->caps = caps;
	strlcpy0(r->verdict, f->verdict, sizeof(r->verdict));
	strlcpy0(r->category, f->category, sizeof(r->category));
	strlcpy0(r->confidence, f->confidence, sizeof(r->confidence));
	r->root_cause = template_expand(f->root_cause, lookup_var, c, &missing);
	for (size_t i = 0; i < f->n_evidence; i++) {
		bool gap = false;
		char *line = template_expand(f->evidence[i], lookup_var, c, &gap);
		if (gap && evidence_blank(line)) /* "k8s_events: " says nothing */
			free(line);
		else
			add_evidence(r, line);
	}
	if (f->n_evidence == 0)
		for (size_t i = 0; i < f->n_when; i++)
			add_evidence(r, evidence_line(c, &f->when[i]));
	if (f->recommended_command)
		r->recommended_command = template_expand(f->recommended_command, lookup_var, c,
							 &missing);
	if (f->action_type) {
		missing = false;
		strlcpy0(r->action_type, f->action_type, sizeof(r->action_type));
		r->action_target = template_expand(f->action_target ? f->action_target : "",
						   lookup_var, c, &missing);
		if (missing) { /* a target we could not name is no target */
			r->action_type[0] = '\0';
			free(r->action_target);
			r->action_target = NULL;
		}
	}
	r->finding = xasprintf("%s/%s", pb->name, f->id);
	c->caps = NULL;
}

/* No finding matched: say so, with what was seen. */
static void conclude_unknown(struct ctx *c, struct report *r)
{
	const char *ns = kv_list_get(&c->a->labels, "namespace");

	strlcpy0(r->verdict, "real", sizeof(r->verdict));
	strlcpy0(r->category, "unknown", sizeof(r->category));
	strlcpy0(r->confidence, "low", sizeof(r->confidence));
	r->root_cause = xasprintf("No playbook rule explains %s yet; a human should look at the "
				  "evidence",
				  c->a->name);
	for (size_t i = 0; i < c->n_outs && r->n_evidence < 3; i++) {
		const char *o = c->outs[i].output;
		if (o != NULL && c->outs[i].ok && *o)
			add_evidence(r, xasprintf("%s: %.*s", c->outs[i].id,
						  (int)(strcspn(o, "\n") < EVIDENCE_LEN
							    ? strcspn(o, "\n")
							    : EVIDENCE_LEN),
						  o));
	}
	if (!str_empty(ns))
		r->recommended_command = xasprintf("kubectl -n %s get pods,events", ns);
}

static void finish_report(struct ctx *c, struct report *r)
{
	struct buf names;
	const char *p = c->failures.data;

	/* Failed tools: named as evidence, and the confidence drops a level. */
	if (c->failed > 0) {
		int rank = confidence_rank(r->confidence) - 1;
		strlcpy0(r->confidence, confidence_name(rank < 0 ? 0 : rank), sizeof(r->confidence));
		while (p != NULL && *p && r->n_evidence < REPORT_MAX_EVIDENCE) {
			size_t n = strcspn(p, "\n");
			add_evidence(r, xasprintf("failed %.*s", (int)(n < EVIDENCE_LEN ? n : EVIDENCE_LEN),
						  p));
			p += n;
			if (*p == '\n')
				p++;
		}
	}
	if (c->out_of_budget)
		add_evidence(r, xasprintf("stopped at the step budget (%zu tool calls)",
					  c->env->cfg->step_budget));
	if (c->out_of_time)
		add_evidence(r, xasprintf("stopped at the deadline (%llds)",
					  (long long)c->env->cfg->deadline_s));
	buf_init(&names, 0);
	for (size_t i = 0; i < c->n_run; i++)
		buf_printf(&names, "%s%s", i ? "," : "", c->run[i]->name);
	r->playbooks = buf_detach(&names);
	r->steps = c->steps;
	r->failed_steps = c->failed;
	strlcpy0(r->mode, "rules", sizeof(r->mode));
}

void investigate_run(const struct investigate_env *env, const struct alert *a,
		     struct report *r, struct tool_calls *calls)
{
	struct ctx c;
	const struct playbook *matched[MAX_PLAYBOOKS];
	size_t n;
	int64_t t0 = mono_ms();
	const struct playbook *best_pb = NULL;
	const struct pb_finding *best = NULL;
	struct kv_list best_caps = {0};
	bool ok;

	memset(r, 0, sizeof(*r));
	memset(calls, 0, sizeof(*calls));
	memset(&c, 0, sizeof(c));
	c.env = env;
	c.a = a;
	c.calls = calls;
	c.deadline = t0 + env->cfg->deadline_s * 1000;
	buf_init(&c.failures, 4096);
	c.tctx = (struct tool_ctx){.cfg = env->cfg, .store = env->store, .alert = a,
				   .playbooks = env->playbooks, .now_ms = env->now_ms,
				   .incident_id = env->incident_id};

	/* History first: has this happened before, and what was it? */
	c.history = call_tool(&c, "history", "{}", &ok);

	n = playbook_match(env->playbooks, &a->labels, matched, MAX_PLAYBOOKS);
	for (size_t i = 0; i < n; i++)
		add_playbook(&c, matched[i]);
	/* c.run grows while it runs: playbooks loaded on demand join the queue. */
	for (size_t i = 0; i < c.n_run; i++)
		for (size_t s = 0; s < c.run[i]->n_steps; s++)
			run_step(&c, c.run[i], &c.run[i]->steps[s]);

	/* The first matching finding of each playbook; the most confident wins. */
	for (size_t i = 0; i < c.n_run; i++) {
		const struct playbook *pb = c.run[i];
		c.current = pb;
		for (size_t f = 0; f < pb->n_findings; f++) {
			struct kv_list caps = {0};
			if (!finding_matches(&pb->findings[f], lookup_source, &c, &caps)) {
				kv_list_free(&caps);
				continue;
			}
			if (best == NULL || confidence_rank(pb->findings[f].confidence) >
						    confidence_rank(best->confidence)) {
				kv_list_free(&best_caps);
				best = &pb->findings[f];
				best_pb = pb;
				best_caps = caps;
			} else {
				kv_list_free(&caps);
			}
			break;
		}
	}
	if (best != NULL)
		conclude(&c, best_pb, best, &best_caps, r);
	else
		conclude_unknown(&c, r);
	finish_report(&c, r);
	r->duration_ms = mono_ms() - t0;

	kv_list_free(&best_caps);
	kv_list_free(&c.vars);
	for (size_t i = 0; i < c.n_outs; i++)
		free(c.outs[i].output);
	free(c.outs);
	free(c.history);
	buf_release(&c.failures);
}

#define EXCERPT_MAX 2048
enum { ST_TOOL_CALL_INVESTIGATION = 43, ST_TOOL_CALL_FOLLOWUP }; /* slots, see store_stmt */

int tool_calls_store(struct store *s, bool followup, int64_t id, const struct tool_calls *calls,
		     int64_t now, char *err, size_t errlen)
{
	for (size_t i = 0; i < calls->n; i++) {
		const struct tool_call *c = &calls->items[i];
		sqlite3_stmt *st =
		    followup ? store_stmt(s, ST_TOOL_CALL_FOLLOWUP,
					  "INSERT INTO tool_calls (followup_id, seq, tool, args, ok,"
					  " duration_ms, excerpt, created_at) VALUES (?,?,?,?,?,?,?,?)")
			     : store_stmt(s, ST_TOOL_CALL_INVESTIGATION,
					  "INSERT INTO tool_calls (investigation_id, seq, tool, args,"
					  " ok, duration_ms, excerpt, created_at)"
					  " VALUES (?,?,?,?,?,?,?,?)");
		size_t len = strlen(c->output);
		if (st == NULL)
			return snprintf(err, errlen, "cannot record tool call"), -1;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, (int)i + 1);
		store_bind_text(st, 3, c->tool);
		store_bind_text(st, 4, c->args);
		sqlite3_bind_int(st, 5, c->ok);
		sqlite3_bind_int64(st, 6, c->duration_ms);
		/* The excerpt is cut at EXCERPT_MAX, back to a UTF-8 boundary. */
		if (len > EXCERPT_MAX) {
			len = EXCERPT_MAX;
			while (len > 0 && ((unsigned char)c->output[len] & 0xC0) == 0x80)
				len--;
		}
		sqlite3_bind_text(st, 7, c->output, (int)len, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 8, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			return snprintf(err, errlen, "tool call: %s", sqlite3_errmsg(store_db(s))),
			       -1;
	}
	return 0;
}

void report_release(struct report *r)
{
	if (r == NULL)
		return;
	free(r->root_cause);
	for (size_t i = 0; i < r->n_evidence; i++)
		free(r->evidence[i]);
	free(r->recommended_command);
	free(r->action_target);
	free(r->playbooks);
	free(r->finding);
	memset(r, 0, sizeof(*r));
}

void tool_calls_add(struct tool_calls *t, const char *tool, const char *args, bool ok,
		    int64_t duration_ms, const char *output)
{
	struct tool_call *call;

	t->items = xrealloc(t->items, (t->n + 1) * sizeof(*t->items));
	call = &t->items[t->n++];
	memset(call, 0, sizeof(*call));
	strlcpy0(call->tool, tool, sizeof(call->tool));
	call->args = xstrdup(args);
	call->ok = ok;
	call->duration_ms = duration_ms;
	call->output = xstrdup(output);
}

void tool_calls_release(struct tool_calls *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->items[i].args);
		free(c->items[i].output);
	}
	free(c->items);
	c->items = NULL;
	c->n = 0;
}

char *report_to_json(const struct report *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *ev = cJSON_AddArrayToObject(o, "evidence");
	char *out;

	cJSON_AddStringToObject(o, "verdict", r->verdict);
	cJSON_AddStringToObject(o, "category", r->category);
	cJSON_AddStringToObject(o, "root_cause", r->root_cause ? r->root_cause : "");
	for (size_t i = 0; i < r->n_evidence; i++)
		cJSON_AddItemToArray(ev, cJSON_CreateString(r->evidence[i]));
	cJSON_AddStringToObject(o, "confidence", r->confidence);
	if (r->recommended_command)
		cJSON_AddStringToObject(o, "recommended_command", r->recommended_command);
	else
		cJSON_AddNullToObject(o, "recommended_command");
	if (r->action_type[0]) {
		cJSON *act = cJSON_AddObjectToObject(o, "proposed_action");
		cJSON_AddStringToObject(act, "type", r->action_type);
		cJSON_AddStringToObject(act, "target", r->action_target ? r->action_target : "");
	} else {
		cJSON_AddNullToObject(o, "proposed_action");
	}
	cJSON_AddStringToObject(o, "playbooks", r->playbooks ? r->playbooks : "");
	if (r->finding)
		cJSON_AddStringToObject(o, "finding", r->finding);
	else
		cJSON_AddNullToObject(o, "finding");
	cJSON_AddStringToObject(o, "mode", r->mode);
	cJSON_AddNumberToObject(o, "steps", r->steps);
	cJSON_AddNumberToObject(o, "failed_steps", r->failed_steps);
	cJSON_AddNumberToObject(o, "duration_ms", (double)r->duration_ms);
	out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (out == NULL)
		fatal("event=oom what=report_to_json");
	return out;
}
