/*
 * This file contains follow-up questions: a human asks something in an
 * incident's thread ("what changed in the last deploy?") and the bot answers
 * in the same thread, short enough for a phone. Channel-neutral: whoever
 * receives a thread message (Slack, Google Chat, the CLI) calls
 * followup_request() inside its own write transaction; the row is a durable
 * queue entry like an investigation, so a restart still answers it.
 *
 * DESIGN: a worker (bot/workers.c) claims a pending row and runs it in a
 * FRESH context holding only the incident's stored report and evidence (the
 * `investigations` and `incidents` rows), its first alert's labels, and the
 * question. Rules mode: the question's intent is matched with PCRE2
 * (case-insensitive, tolerant of phone typing), the intent's read tools run
 * under the investigation budgets (investigations.step_budget, deadline,
 * tool_timeout), and the answer is rendered by bot/render.c and written to
 * the outbox with the row's new state and its tool calls in ONE transaction.
 * A failed tool is said briefly and the answer falls back to the stored
 * evidence. Only read tools are ever called.
 *
 * Nags (escalation.h) of incidents with a Kubernetes target are rows of
 * kind 'nag' in the same table (followup_request_nag): the question is the
 * nag's text, the worker adds a pod line from the same fresh look as the
 * "status" intent and posts it; questions are rows of kind 'question'.
 *
 * Threads: followup_request runs on whichever thread owns the store (the
 * writer, in the daemon); followup_run / followup_run_one on a worker or the
 * main thread (`nightshift ask`). Everything a run touches is its own.
 */
#ifndef NIGHTSHIFT_FOLLOWUP_H
#define NIGHTSHIFT_FOLLOWUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct k8s_client;
struct playbook_set;
struct store;
struct tool_calls;

#define FOLLOWUP_QUESTION_MAX 2000 /* bytes; a longer question is refused */
#define FOLLOWUP_USER_MAX 128
#define FOLLOWUP_MAX_BULLETS 8     /* the reply stays within ~12 lines */

enum followup_intent {
	FU_HELP = 0,      /* anything else: what it can answer */
	FU_WHAT_CHANGED,  /* what changed / last deploy */
	FU_LOGS,          /* the filtered log tail */
	FU_STATUS,        /* is it still happening / status */
	FU_HISTORY,       /* has this happened before */
	FU_ROOT_CAUSE,    /* why / root cause (from the stored report) */
};

/* "help", "what_changed", "logs", "status", "history", "root_cause". */
const char *followup_intent_name(enum followup_intent i);

/* The intent of question (UTF-8; any text, FU_HELP when nothing fits). Thread-safe. */
enum followup_intent followup_intent_of(const char *question);

/*
 * Checks a question and its asker: non-empty, at most FOLLOWUP_QUESTION_MAX
 * (FOLLOWUP_USER_MAX) bytes, valid UTF-8, no control characters but tab and
 * newline in the question. 0, or -1 with a one-line refusal in err.
 */
int followup_check(const char *user, const char *question, char *err, size_t errlen);

/*
 * Queues a follow-up question of user about incident_id, INSIDE the
 * caller's open write transaction (store_begin … store_commit): the worker
 * pool answers it in the incident's thread after the commit (the daemon
 * dispatches pending rows at least once a second). Returns the follow-up's
 * id, or -1 with a clear refusal in err (unknown incident, a question
 * followup_check refuses, a store error: the caller rolls back).
 *
 * This is THE entry point for "any other message in an incident thread".
 */
int64_t followup_request(struct store *s, int64_t incident_id, const char *user,
			 const char *question, int64_t now_ms, char *err, size_t errlen);

/*
 * Queues a nag of incident_id (escalation.h) whose text a worker completes
 * with a fresh pod line and posts (followup_run_one), INSIDE the caller's
 * open write transaction. Returns the row's id, or -1 with err.
 */
int64_t followup_request_nag(struct store *s, int64_t incident_id, const char *text,
			     int64_t now_ms, char *err, size_t errlen);

/* One answer: a lead of one or two lines, a few bullets, an optional command. */
struct followup_answer {
	enum followup_intent intent;
	char *text;                              /* owned */
	char *bullets[FOLLOWUP_MAX_BULLETS];     /* owned */
	size_t n_bullets;
	char *command;                           /* owned or NULL: one copyable command */
	int steps, failed_steps;
	int64_t duration_ms;
};

void followup_answer_release(struct followup_answer *a);
/* The answer as plain text (lead, "• " bullets, "$ " command), owned. */
char *followup_answer_text(const struct followup_answer *a);

/* What a follow-up runs with; all borrowed. */
struct followup_env {
	const struct config *cfg;
	struct store *store;                 /* read-only use */
	const struct playbook_set *playbooks;
	struct k8s_client **clients;         /* per cfg->clusters, created lazily; may be NULL */
	int64_t now_ms;
};

/*
 * Answers question about incident_id in a fresh context. Fills ans and calls
 * (owned by the caller: followup_answer_release, tool_calls_release).
 * Returns 0, or -1 with err when the incident does not exist (nothing else
 * fails: a failed tool is part of the answer).
 */
int followup_run(const struct followup_env *env, int64_t incident_id, const char *question,
		 struct followup_answer *ans, struct tool_calls *calls, char *err, size_t errlen);

/* What the loop learns of a finished follow-up. */
struct followup_result {
	int64_t id, incident_id;
	int status; /* 0 answered, -1 failed, 1 skipped (not pending any more) */
	bool nag;   /* a nag's pod look (followup_request_nag), not a question */
	enum followup_intent intent;
	int steps;
	int64_t duration_ms;
	char error[200];
};

/*
 * Runs follow-up id to completion on store: claim (pending → running),
 * answer, then the tool calls, the answer and its thread message in one
 * transaction. Used by the workers and by tests. clients may be NULL.
 */
void followup_run_one(struct store *store, const struct config *cfg,
		      const struct playbook_set *pb, struct k8s_client **clients, int64_t id,
		      struct followup_result *res);

/* ---- pure parts, exposed for the unit tests ---- */

/* The stored facts of an incident a follow-up starts from (all owned). */
struct followup_facts {
	int64_t incident_id;
	char *alertname, *state, *environment;
	int64_t alert_count, opened_at_ms, resolved_at_ms;
	char *namespace, *deployment, *pod, *container; /* from the alert's labels, or NULL */
	char *fingerprint;
	/* the latest finished report, or NULL fields */
	char *verdict, *category, *confidence, *root_cause, *command;
	char *evidence[6];
	size_t n_evidence;
	char *investigation_state; /* "done", "running", "pending" … or NULL when none */
};

void followup_facts_release(struct followup_facts *f);

/*
 * The answers of each intent from the facts and the tools' text outputs
 * (tools/README.md formats); an output starting "error:" (or NULL) means the
 * tool failed or did not run, and the answer says so and falls back to the
 * stored evidence. now_ms gives "ago" phrases.
 */
void followup_compose_what_changed(const struct followup_facts *f, const char *rollout,
				   const char *events, struct followup_answer *a);
void followup_compose_logs(const struct followup_facts *f, const char *pod, const char *logs,
			   struct followup_answer *a);
void followup_compose_status(const struct followup_facts *f, const char *pods, int64_t now_ms,
			     struct followup_answer *a);
/*
 * The pod line of a nag, one sentence into line, from a fresh k8s_pods (or
 * k8s_pod) output and last_summary, what the previous nag's look saw (""
 * when none): the failing pod and its restarts (and how many more since),
 * ready/total, "recovering" when all are ready again, or that the look
 * failed. summary gets this look's, stored for the next nag ("" when the
 * look failed: the previous one stays the reference).
 */
void followup_compose_nag_pods(const struct followup_facts *f, const char *pods,
			       const char *last_summary, char *line, size_t linelen, char *summary,
			       size_t sumlen);
void followup_compose_history(const struct followup_facts *f, const char *history,
			      const char *past, struct followup_answer *a);
void followup_compose_root_cause(const struct followup_facts *f, struct followup_answer *a);
void followup_compose_help(const struct followup_facts *f, struct followup_answer *a);

/* The value of key in a tool output line ("key=v" or key="v"), into out; false when absent. */
bool followup_line_value(const char *line, const char *key, char *out, size_t outlen);

#endif
