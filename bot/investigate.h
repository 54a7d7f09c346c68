/*
 * This file contains an investigation: a FRESH context per alert (its own
 * variables, step results, tool-call records, budget and deadline) that
 * loads only the playbooks matching the alert (more on demand through the
 * `playbook` tool), checks the incident history first, runs the playbooks'
 * read-tool steps, concludes from their findings, and returns one typed
 * report. The context is freed before investigate_run() returns; the caller
 * keeps only the report and the tool-call records.
 *
 * Threads: runs on an investigation worker (or the main thread in replay).
 * Everything it touches is its own or read-only.
 */
#ifndef NIGHTSHIFT_INVESTIGATE_H
#define NIGHTSHIFT_INVESTIGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alert;
struct config;
struct k8s_client;
struct playbook_set;
struct store;

#define REPORT_MAX_EVIDENCE 6

struct report {
	char verdict[8];       /* "real" | "noise" */
	char category[24];     /* see playbooks/README.md */
	char confidence[8];    /* "low" | "medium" | "high" */
	char *root_cause;      /* owned, one sentence */
	char *evidence[REPORT_MAX_EVIDENCE]; /* owned bullets, each naming its source */
	size_t n_evidence;
	char *recommended_command; /* owned or NULL */
	char action_type[24];  /* "restart_deployment" | "delete_pod" | "" (none) */
	char *action_target;   /* owned or NULL: "namespace/name" */
	char *playbooks;       /* owned: names that ran, comma-separated */
	char *finding;         /* owned or NULL: "playbook/finding" that concluded */
	int steps;             /* tool calls made */
	int failed_steps;
	int64_t duration_ms;
	char mode[8];          /* "rules" (the LLM wave adds "llm") */
};

/* One tool call of an investigation, for the tool_calls audit table. */
struct tool_call {
	char tool[32];
	char *args;      /* owned JSON */
	bool ok;
	int64_t duration_ms;
	char *output;    /* owned, capped */
};

struct tool_calls {
	struct tool_call *items; /* owned */
	size_t n;
};

/* What an investigation runs with; all borrowed. */
struct investigate_env {
	const struct config *cfg;
	struct store *store;                 /* for history; read-only use */
	const struct playbook_set *playbooks;
	struct k8s_client **clients;         /* per cfg->clusters index, created lazily; may be NULL */
	int64_t now_ms;                      /* wall clock at the start */
	int64_t incident_id;                 /* the incident investigated (0: none yet) */
};

/*
 * Investigates a (its environment and fingerprint already set by triage).
 * Fills rep and calls (both owned by the caller: report_release,
 * tool_calls_release). Never fails: errors become evidence.
 */
void investigate_run(const struct investigate_env *env, const struct alert *a,
		     struct report *rep, struct tool_calls *calls);

/*
 * Records calls (seq 1..n) in tool_calls for investigation id, or for
 * follow-up id when followup; each output cut to 2 KiB on a UTF-8
 * boundary. Inside the caller's transaction. 0, or -1 with err.
 */
struct store;
int tool_calls_store(struct store *s, bool followup, int64_t id, const struct tool_calls *calls,
		     int64_t now, char *err, size_t errlen);

void report_release(struct report *r);
/* Appends one call (copies of args and output) to t: investigations and follow-ups alike. */
void tool_calls_add(struct tool_calls *t, const char *tool, const char *args, bool ok,
		    int64_t duration_ms, const char *output);
void tool_calls_release(struct tool_calls *c);

/* The report as a JSON object text (owned). */
char *report_to_json(const struct report *r);

#endif
