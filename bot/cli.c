/*
 * This file contains the `incidents` and `replay` commands. Both open the
 * store read-only (replay uses an empty in-memory store when there is no
 * database yet), so they are safe beside a running bot.
 */
#include "cli.h"

#include "config.h"
#include "fingerprint.h"
#include "followup.h"
#include "investigate.h"
#include "k8s.h"
#include "playbook.h"
#include "intake.h"
#include "regex.h"
#include "log.h"
#include "store.h"
#include "triage.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add_time(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
	char when[32];
	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	format_time(sqlite3_column_int64(st, col), when, sizeof(when));
	cJSON_AddStringToObject(o, key, when);
}

static void add_text_or_null(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddStringToObject(o, key, store_col_text(st, col));
}

int cli_incidents(const struct config *cfg, bool json, int limit)
{
	char err[512];
	struct store *s;
	sqlite3_stmt *st;
	cJSON *arr = cJSON_CreateArray();
	int rows = 0;

	if (access(cfg->storage_path, F_OK) != 0) {
		fprintf(stderr, "nightshift: no database at %s (has the bot run yet?)\n",
			cfg->storage_path);
		cJSON_Delete(arr);
		return 1;
	}
	s = store_open(cfg->storage_path, true, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "nightshift: %s\n", err);
		cJSON_Delete(arr);
		return 1;
	}
	st = store_stmt(s, 0,
			"SELECT id, fingerprint, alertname, environment, severity, state, verdict,"
			" verdict_reason, alert_count, opened_at, resolved_at, flapping, source,"
			" namespace, workload, summary, last_seen_at, cluster"
			" FROM incidents ORDER BY id DESC LIMIT ?");
	if (st == NULL) {
		store_close(s);
		cJSON_Delete(arr);
		return 1;
	}
	sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
	if (!json)
		printf("%-6s %-12s %-9s %-13s %-5s %-20s %s\n", "ID", "ENVIRONMENT", "SEVERITY",
		       "STATE", "COUNT", "OPENED", "ALERT");
	while (sqlite3_step(st) == SQLITE_ROW) {
		rows++;
		if (json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
			cJSON_AddStringToObject(o, "fingerprint", store_col_text(st, 1));
			cJSON_AddStringToObject(o, "alertname", store_col_text(st, 2));
			cJSON_AddStringToObject(o, "environment", store_col_text(st, 3));
			cJSON_AddStringToObject(o, "severity", store_col_text(st, 4));
			cJSON_AddStringToObject(o, "state", store_col_text(st, 5));
			add_text_or_null(o, "verdict", st, 6);
			add_text_or_null(o, "verdict_reason", st, 7);
			cJSON_AddNumberToObject(o, "alert_count", (double)sqlite3_column_int64(st, 8));
			add_time(o, "opened_at", st, 9);
			add_time(o, "resolved_at", st, 10);
			add_time(o, "last_seen_at", st, 16);
			cJSON_AddBoolToObject(o, "flapping", sqlite3_column_int(st, 11));
			cJSON_AddStringToObject(o, "source", store_col_text(st, 12));
			cJSON_AddStringToObject(o, "cluster", store_col_text(st, 17));
			cJSON_AddStringToObject(o, "namespace", store_col_text(st, 13));
			cJSON_AddStringToObject(o, "workload", store_col_text(st, 14));
			cJSON_AddStringToObject(o, "summary", store_col_text(st, 15));
			cJSON_AddItemToArray(arr, o);
		} else {
			char when[32];
			format_time(sqlite3_column_int64(st, 9), when, sizeof(when));
			printf("%-6lld %-12.12s %-9s %-13s %-5lld %-20s %s%s%s%s\n",
			       (long long)sqlite3_column_int64(st, 0), store_col_text(st, 3),
			       store_col_text(st, 4), store_col_text(st, 5),
			       (long long)sqlite3_column_int64(st, 8), when, store_col_text(st, 2),
			       *store_col_text(st, 13) ? " " : "", store_col_text(st, 13),
			       sqlite3_column_int(st, 11) ? " (flapping)" : "");
		}
	}
	if (json) {
		char *out = cJSON_Print(arr);
		printf("%s\n", out ? out : "[]");
		free(out);
	} else if (rows == 0) {
		printf("(no incidents)\n");
	}
	cJSON_Delete(arr);
	store_close(s);
	return 0;
}

static char *read_file(const char *path, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[8192];
	size_t n;

	if (f == NULL)
		return NULL;
	buf_init(&b, cap);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, n) < 0) {
			buf_release(&b);
			fclose(f);
			errno = EFBIG;
			return NULL;
		}
	}
	fclose(f);
	*len = b.len;
	return buf_detach(&b);
}

/* Runs the investigation of a for replay and adds "report" and "tool_calls" to j. */
static void replay_investigate(const struct config *cfg, struct store *s,
			       const struct playbook_set *pb, struct k8s_client **clients,
			       const struct alert *a, int64_t incident, cJSON *j)
{
	struct investigate_env env = {.cfg = cfg, .store = s, .playbooks = pb,
				      .clients = clients, .now_ms = now_ms(),
				      .incident_id = incident};
	struct report r;
	struct tool_calls calls;
	char *json;
	cJSON *arr;

	investigate_run(&env, a, &r, &calls);
	json = report_to_json(&r);
	cJSON_AddItemToObject(j, "report", cJSON_Parse(json));
	free(json);
	arr = cJSON_AddArrayToObject(j, "tool_calls");
	for (size_t i = 0; i < calls.n; i++) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "tool", calls.items[i].tool);
		cJSON_AddItemToObject(c, "args", cJSON_Parse(calls.items[i].args));
		cJSON_AddBoolToObject(c, "ok", calls.items[i].ok);
		cJSON_AddNumberToObject(c, "duration_ms", (double)calls.items[i].duration_ms);
		cJSON_AddItemToArray(arr, c);
	}
	report_release(&r);
	tool_calls_release(&calls);
}

/* "  steps    1 history  2 pod: k8s_pod namespace={{namespace}} name={{pod}} …", one per line. */
static void print_steps(const struct playbook *p)
{
	for (size_t s = 0; s < p->n_steps; s++) {
		const struct pb_step *st = &p->steps[s];
		printf("  step %-2zu %-14s %s", s + 1, st->id, st->tool);
		for (size_t a = 0; a < st->args.n; a++)
			printf(" %s=%s", st->args.items[a].key, st->args.items[a].value);
		printf("\n");
	}
}

/* The distinct categories the findings conclude, in order, with their verdicts. */
static void print_concludes(const struct playbook *p)
{
	printf("  concludes");
	for (size_t f = 0; f < p->n_findings; f++) {
		bool seen = false;
		for (size_t g = 0; g < f && !seen; g++)
			seen = strcmp(p->findings[g].category, p->findings[f].category) == 0 &&
			       strcmp(p->findings[g].verdict, p->findings[f].verdict) == 0;
		if (!seen)
			printf("%s %s%s", f ? "," : "", p->findings[f].category,
			       strcmp(p->findings[f].verdict, "noise") == 0 ? " (noise)" : "");
	}
	printf("%s\n", p->n_findings ? "" : " nothing (no findings)");
}

int cli_playbooks(const struct config *cfg)
{
	char err[8192];
	struct playbook_set set;

	if (playbook_set_load(cfg->playbooks_dir, &set, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s%s", err, err[0] && err[strlen(err) - 1] == '\n' ? "" : "\n");
		playbook_set_release(&set);
		return 1;
	}
	printf("%zu playbooks in %s%s\n", set.n, cfg->playbooks_dir,
	       set.runbook ? " (and the core runbook, RUNBOOK.md)" : " (no RUNBOOK.md)");
	for (size_t i = 0; i < set.n; i++) {
		const struct playbook *p = &set.items[i];
		printf("\n%-20s priority %-4d %zu steps, %zu findings%s\n  %s\n", p->name, p->priority,
		       p->n_steps, p->n_findings, p->fallback ? ", fallback" : "", p->description);
		for (size_t m = 0; m < p->match.n; m++)
			printf("  match %s =~ %s\n", p->match.items[m].label,
			       regex_pattern(p->match.items[m].re));
		if (p->fallback)
			printf("  match (any alert no other playbook matches)\n");
		print_steps(p);
		print_concludes(p);
	}
	playbook_set_release(&set);
	return 0;
}

int cli_replay(const struct config *cfg, const char *payload_path, const char *format)
{
	enum intake_format fmt = INTAKE_AUTO;
	struct intake_result parsed;
	struct fingerprinter *fp;
	struct store *s;
	struct playbook_set pb;
	struct k8s_client **clients;
	char err[8192];
	size_t len = 0;
	char *body;
	cJSON *out, *alerts, *rejected;
	char *text;
	int rc = 0;

	if (format != NULL && intake_format_from_path(format, &fmt) < 0) {
		fprintf(stderr, "nightshift: unknown --format '%s'\n", format);
		return 2;
	}
	body = read_file(payload_path, cfg->webhook_max_body, &len);
	if (body == NULL) {
		fprintf(stderr, "nightshift: cannot read %s: %s\n", payload_path, strerror(errno));
		return 1;
	}
	if (intake_parse(body, len, fmt, &parsed) < 0) {
		fprintf(stderr, "nightshift: %s: %d %s\n", payload_path, parsed.http_status,
			parsed.error);
		intake_result_release(&parsed);
		free(body);
		return 1;
	}
	free(body);
	/* Read-only on the real store when there is one; otherwise an empty memory store. */
	if (access(cfg->storage_path, F_OK) == 0)
		s = store_open(cfg->storage_path, true, err, sizeof(err));
	else
		s = store_open(":memory:", false, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "nightshift: %s\n", err);
		intake_result_release(&parsed);
		return 1;
	}
	fp = fingerprinter_new();
	if (playbook_set_load(cfg->playbooks_dir, &pb, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s", err);
		rc = 1;
	}
	clients = xcalloc(cfg->n_clusters ? cfg->n_clusters : 1, sizeof(*clients));
	out = cJSON_CreateObject();
	alerts = cJSON_AddArrayToObject(out, "alerts");
	rejected = cJSON_AddArrayToObject(out, "rejected");
	cJSON_AddBoolToObject(out, "test_message", parsed.test_message);
	for (size_t i = 0; i < parsed.n; i++) {
		struct alert *a = &parsed.alerts[i];
		struct triage_ctx ctx = {.store = s, .cfg = cfg, .fp = fp, .now_ms = now_ms(),
					 .dry_run = true};
		struct triage_outcome o;
		cJSON *j = cJSON_CreateObject();

		if (triage_alert(&ctx, a, &o, err, sizeof(err)) < 0) {
			fprintf(stderr, "nightshift: triage failed: %s\n", err);
			rc = 1;
		}
		cJSON_AddStringToObject(j, "alertname", a->name);
		cJSON_AddStringToObject(j, "source", alert_source_name(a->source));
		cJSON_AddStringToObject(j, "status", alert_status_name(a->status));
		cJSON_AddStringToObject(j, "severity", severity_name(a->severity));
		cJSON_AddStringToObject(j, "environment", a->environment ? a->environment : "");
		cJSON_AddStringToObject(j, "fingerprint", a->fingerprint);
		cJSON_AddStringToObject(j, "source_fingerprint", a->source_fingerprint);
		cJSON_AddStringToObject(j, "cluster", a->cluster);
		cJSON_AddStringToObject(j, "namespace", a->namespace);
		cJSON_AddStringToObject(j, "workload", a->workload);
		cJSON_AddStringToObject(j, "summary", a->summary);
		cJSON_AddStringToObject(j, "action", triage_action_name(o.action));
		if (o.incident_id)
			cJSON_AddNumberToObject(j, "incident", (double)o.incident_id);
		else
			cJSON_AddNullToObject(j, "incident");
		if (o.noise_reason)
			cJSON_AddStringToObject(j, "noise_reason", o.noise_reason);
		else
			cJSON_AddNullToObject(j, "noise_reason");
		/* Every firing alert not dismissed by a rule (nor a heartbeat) is investigated,
		 * as the bot would. */
		if (a->status == ALERT_FIRING && o.action != TRIAGE_DISMISSED &&
		    o.action != TRIAGE_HEARTBEAT)
			replay_investigate(cfg, s, &pb, clients, a, o.incident_id, j);
		else
			cJSON_AddNullToObject(j, "report");
		cJSON_AddItemToArray(alerts, j);
	}
	for (size_t i = 0; i < parsed.n_rejects; i++) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "index", (double)parsed.rejects[i].index);
		cJSON_AddStringToObject(j, "error", parsed.rejects[i].error);
		cJSON_AddItemToArray(rejected, j);
	}
	text = cJSON_Print(out);
	printf("%s\n", text ? text : "{}");
	free(text);
	cJSON_Delete(out);
	fingerprinter_free(fp);
	for (size_t i = 0; i < cfg->n_clusters; i++)
		k8s_client_free(clients[i]);
	free(clients);
	playbook_set_release(&pb);
	store_close(s);
	intake_result_release(&parsed);
	return rc;
}

/* "12" → 12; -1 for anything but a positive decimal number. */
static int64_t parse_incident_id(const char *s)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9' || strlen(s) > 18)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return (*end != '\0' || errno != 0 || v <= 0) ? -1 : (int64_t)v;
}

int cli_ask(const struct config *cfg, const char *incident_arg, const char *question, bool queue,
	    const char *user)
{
	char err[512];
	int64_t incident = parse_incident_id(incident_arg);
	struct store *s;
	int rc = 0;

	if (incident < 0) {
		fprintf(stderr, "nightshift: ask: INCIDENT_ID must be a positive number, not '%.40s'\n",
			incident_arg);
		return 2;
	}
	if (followup_check(user, question, err, sizeof(err)) < 0) {
		fprintf(stderr, "nightshift: ask: %s\n", err);
		return 2;
	}
	if (access(cfg->storage_path, F_OK) != 0) {
		fprintf(stderr, "nightshift: no database at %s (has the bot run yet?)\n",
			cfg->storage_path);
		return 1;
	}
	/* --queue writes one row for the running bot; otherwise the store is only read. */
	s = store_open(cfg->storage_path, !queue, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "nightshift: %s\n", err);
		return 1;
	}
	if (queue) {
		int64_t id = -1;
		if (store_begin(s) == 0) {
			id = followup_request(s, incident, user, question, now_ms(), err, sizeof(err));
			if (id < 0 || store_commit(s) < 0) {
				store_rollback(s);
				id = -1;
			}
		} else {
			snprintf(err, sizeof(err), "the store is busy");
		}
		if (id < 0) {
			fprintf(stderr, "nightshift: ask: %s\n", err);
			rc = 1;
		} else {
			printf("queued follow-up %lld for incident %lld: the running bot answers it in "
			       "the incident's thread\n",
			       (long long)id, (long long)incident);
		}
	} else {
		struct playbook_set pb;
		struct k8s_client **clients =
			xcalloc(cfg->n_clusters ? cfg->n_clusters : 1, sizeof(*clients));
		struct followup_env env;
		struct followup_answer a;
		struct tool_calls calls;
		bool have_pb = playbook_set_load(cfg->playbooks_dir, &pb, err, sizeof(err)) == 0;

		env = (struct followup_env){.cfg = cfg, .store = s, .playbooks = have_pb ? &pb : NULL,
					    .clients = clients, .now_ms = now_ms()};
		if (followup_run(&env, incident, question, &a, &calls, err, sizeof(err)) < 0) {
			fprintf(stderr, "nightshift: ask: %s\n", err);
			rc = 1;
		} else {
			char *text = followup_answer_text(&a);
			fputs(text, stdout);
			printf("(intent %s, %d tool call%s, %lld ms)\n", followup_intent_name(a.intent),
			       a.steps, a.steps == 1 ? "" : "s", (long long)a.duration_ms);
			free(text);
			followup_answer_release(&a);
			tool_calls_release(&calls);
		}
		for (size_t i = 0; i < cfg->n_clusters; i++)
			k8s_client_free(clients[i]);
		free(clients);
		playbook_set_release(&pb);
	}
	store_close(s);
	return rc;
}
