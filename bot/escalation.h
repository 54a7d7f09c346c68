/*
 * This file contains escalations (README "Escalation"): when decide.c
 * escalates an incident, the report mentions the targets and an escalations
 * row schedules nags — threaded replies ("Still unacknowledged — nag #4,
 * open 40 min") that say what changed since the last one — every
 * nag_interval of the incident's environment until a human acknowledges
 * (button, a reply matching the ack words, an :eyes: or :white_check_mark:
 * reaction, /nightshift ack) or resolves it, or the source resolves it.
 * Widening: after widen_after nags, and again every widen_after nags, the
 * level rises: nags mention the channel (<!here>) and one more target of the
 * environment's widen_to list (cumulative), who also gets a DM (an outbox
 * row of kind "dm"). The level and the targets reached are in the row.
 *
 * Pods: when Kubernetes is configured and the incident names a namespace
 * and a workload, a due nag is counted and scheduled here as always, but its
 * text goes to a followups row of kind 'nag' (followup_request_nag) instead
 * of the outbox: a worker looks at the pods with the read tools (no network
 * on the writer), adds one sentence of what it saw and what changed since
 * the previous nag's look (escalations.last_pods), and posts it, marking the
 * row done in the same transaction — a restart neither loses nor doubles it.
 *
 * Time: every escalation time comes from esc_now_ms() (esc_clock.h).
 * Restart: the rows are the schedule; an overdue nag fires once at the next
 * start and the schedule goes on from then (no burst).
 *
 * Threads: everything taking a store runs on the store writer, inside its
 * transaction (but escalation_nag_look and escalation_keep_look, which a
 * worker runs in its own); escalation_hint*() and the text checks are
 * thread-safe.
 */
#ifndef NIGHTSHIFT_ESCALATION_H
#define NIGHTSHIFT_ESCALATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

/* "<@U1> <@U2>": the targets of an escalation in environment (config_targets). */
void escalation_mentions(const struct config *cfg, const char *environment, char *out,
			 size_t outlen);

/*
 * The widening level nag number nag reaches: 0 up to widen_after nags, then
 * one more every widen_after nags, at most n_widen_to (at least 1: the
 * channel is mentioned even without further targets). widen_after 0: never.
 */
int64_t escalation_level(int64_t nag, int64_t widen_after, size_t n_widen_to);

/*
 * Queues a direct message (outbox kind "dm", for channels[0..n)) to user
 * about incident id: why, then the incident's headline; a channel adds the
 * way to its thread. 0, or -1 with err.
 */
int escalation_dm(struct store *s, int64_t id, const char *user, const char *why,
		  const char *const *channels, size_t n, int64_t now, char *err, size_t errlen);
/* The DMs of a new escalation: one to each of channels.slack.escalation_users. */
int escalation_start_dms(struct store *s, const struct config *cfg, int64_t id,
			 const char *const *channels, size_t n, int64_t now, char *err,
			 size_t errlen);

/*
 * Records (or restarts) the escalation of incident id in environment: the
 * first nag one interval from now, or none when the interval is 0.
 */
int escalation_start(struct store *s, const struct config *cfg, int64_t id, const char *environment,
		     int64_t now, char *err, size_t errlen);

/*
 * A human acknowledged id: an active escalation stops. Returns 1 (it was
 * active; *open_ms = how long it was open), 0 (none active) or -1.
 */
int escalation_acked(struct store *s, int64_t id, const char *user, int64_t now, int64_t *open_ms);

/* Stops an active escalation with state ("resolved", "stopped"). 1 when one was active, 0, -1. */
int escalation_stop(struct store *s, int64_t id, const char *state, int64_t now);

/*
 * Pauses the nags of an active escalation until until (snooze, silence): the
 * next nag is not before it. 1 when one was active, 0, -1.
 */
int escalation_snooze(struct store *s, int64_t id, int64_t until, int64_t now);
/* Ends a snooze or silence: the next nag one interval from now. 1, 0, -1. */
int escalation_unsnooze(struct store *s, int64_t id, int64_t now);

/*
 * A human wrote in id's thread (not an ack): an active escalation's next nag
 * moves to at least one interval from now; an acknowledged one's ack timeout
 * starts again. 1 when a schedule moved, 0, -1.
 */
int escalation_touched(struct store *s, int64_t id, int64_t now);

/* One line about id's escalation for "status" (nags, next, acked, snoozed). */
void escalation_status(struct store *s, int64_t id, int64_t now, char *out, size_t outlen);

/*
 * Sends the nags that are due at now (each at most once, whatever the
 * delay) and stops the escalations whose incident was resolved or
 * acknowledged meanwhile. Replies go to the outbox for channels[0..n), but
 * a nag that gets a pod line goes to a followups row (see Pods above).
 * Returns how many rows it handled, or -1 with err.
 */
int escalation_run_due(struct store *s, const struct config *cfg, const char *const *channels,
		       size_t n_channels, int64_t now, char *err, size_t errlen);

/*
 * For a nag whose pod line a worker composes: whether id's escalation is
 * still active (1: post it; 0: it stopped meanwhile, don't; -1 error) and the
 * summary of the previous nag's look into last ("" when none).
 */
int escalation_nag_look(struct store *s, int64_t id, char *last, size_t lastlen);

/* Keeps summary as id's last look at the pods (for the next nag). 0 or -1. */
int escalation_keep_look(struct store *s, int64_t id, const char *summary);

/* The earliest next nag of an active escalation, or INT64_MAX. */
int64_t escalation_next_due(struct store *s);

/* A schedule changed: the loop looks again no later than due. Any thread. */
void escalation_hint(int64_t due);
/* The earliest hinted due time since the last call (INT64_MAX none), cleared. */
int64_t escalation_hint_take(void);

/*
 * True when a whole message is an acknowledgement: one of "ack", "acked",
 * "on it", "looking" (case-insensitive, surrounding spaces and a final
 * "." or "!" allowed). "ack" inside a longer sentence is not one.
 */
bool escalation_ack_text(const char *text);
/* The same with the configured ack_words (a whole-message regex); NULL: the defaults. */
struct regex;
bool escalation_ack_text_re(const struct regex *ack_words, const char *text);
/* True for the reactions that acknowledge: eyes, white_check_mark. */
bool escalation_ack_reaction(const char *name);

#endif
