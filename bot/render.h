/*
 * This file contains the one renderer every channel uses: it turns an
 * incident event into channel-neutral message content — a headline with
 * environment, severity, alert and target; a short text; a few bullets; an
 * optional command; which buttons to offer — stored as JSON in the outbox.
 * Channels (console, Slack, Google Chat) only lay that content out.
 *
 * Content is short enough for a phone: the text is at most two lines and
 * every field is capped.
 */
#ifndef NIGHTSHIFT_RENDER_H
#define NIGHTSHIFT_RENDER_H

#include <stdbool.h>
#include <stdint.h>

struct alert;
struct cJSON;

/* What the renderer needs of an incident (borrowed strings). */
struct incident_view {
	int64_t id;
	const char *alertname;
	const char *environment;
	const char *severity;
	const char *state;
	const char *cluster;
	const char *namespace;
	const char *workload;
	const char *summary;
	const char *verdict_reason;
	int64_t alert_count;
	int64_t opened_at_ms;
	int64_t resolved_at_ms;
	bool flapping;
	int64_t reopen_count;
	const char *note;       /* optional extra line, e.g. where its investigation stands */
};

/* Message kinds, as stored in outbox.kind and the message's "kind". */
#define MSG_RECEIVED "received"
#define MSG_NOISE "noise"
#define MSG_RESOLVED "resolved"
#define MSG_REOPENED "reopened"
#define MSG_REPORT "report"
#define MSG_ANSWER "answer" /* a reply to a follow-up question (bot/followup.h) */

struct report;

/*
 * The investigation's report for the thread: verdict, category and
 * confidence, the root cause, the evidence bullets, the command to run, and
 * the buttons. note (may be NULL) adds a line, e.g. that the incident
 * resolved meanwhile. Owned JSON text, same keys as render_message.
 */
char *render_report(const struct incident_view *inc, const struct report *r, const char *note);

struct followup_answer;

/*
 * The reply to user's follow-up question in the incident's thread: the
 * question quoted on the first line, the answer's lead, its bullets and its
 * command (a code block in every channel); no buttons. At most ~12 lines.
 * Owned JSON text, same keys as render_message (kind "answer").
 */
char *render_followup(const struct incident_view *inc, const char *user, const char *question,
		      const struct followup_answer *a);

/*
 * Returns the owned JSON text (free()) of a message of kind about inc; a is
 * the alert that caused it (may be NULL). Keys: kind, incident, headline,
 * text, bullets[], command (or null), buttons[], state, severity,
 * environment, thread_start (true for the message that opens the thread).
 */
char *render_message(const char *kind, const struct incident_view *inc, const struct alert *a);

/* The headline alone, e.g. "production · critical · KubePodCrashLooping · prod/api". Owned. */
char *render_headline(const struct incident_view *inc);

#endif
