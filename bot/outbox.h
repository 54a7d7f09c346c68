/*
 * This file contains the persistent outbox: every outgoing chat message is a
 * row written in the same transaction as the state change that caused it,
 * one row per enabled channel, delivered later by the channel's sender in id
 * order and marked sent, retried or failed. A crash between a change and its
 * delivery loses nothing: pending rows go out after the restart.
 *
 * Threads: outbox_enqueue and the outbox_mark_* functions write, so they run
 * on the store writer (or any thread inside its own transaction);
 * outbox_due only reads and runs on the loop thread.
 */
#ifndef NIGHTSHIFT_OUTBOX_H
#define NIGHTSHIFT_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

struct store;

struct outbox_item {
	int64_t id;
	int64_t incident_id;
	char channel[32];
	char kind[32];
	char *body; /* owned: the rendered message JSON (see render.h) */
	int attempts;
};

/*
 * Two kinds of rows are side effects rather than messages in a thread:
 * OUTBOX_DM, a direct message to one person (bot/escalation.h), and
 * OUTBOX_HEADER, {"state": …}: the incident's thread header should show that
 * state. A channel queues a header row through channel_delivery.header_state
 * when a reply it delivered changed the state, in the transaction that marks
 * the reply sent, so the update survives a restart.
 */
#define OUTBOX_DM     "dm"
#define OUTBOX_HEADER "header"

/* Queues body for each of channels[0..n). 0 or -1 with err. */
int outbox_enqueue(struct store *s, int64_t incident_id, const char *kind, const char *body,
		   const char *const *channels, size_t n, int64_t now_ms, char *err,
		   size_t errlen);

/* Queues an OUTBOX_HEADER row showing state for incident_id on channel. 0 or -1 with err. */
int outbox_enqueue_header(struct store *s, int64_t incident_id, const char *channel,
			  const char *state, int64_t now_ms, char *err, size_t errlen);

/*
 * Loads up to max pending items of channel that are due at now_ms, oldest
 * first, with id > after_id. Returns the count (items owned by the caller:
 * outbox_item_release each) or -1.
 */
int outbox_due(struct store *s, const char *channel, int64_t now_ms, int64_t after_id,
	       struct outbox_item *items, size_t max);
void outbox_item_release(struct outbox_item *it);

int outbox_mark_sent(struct store *s, int64_t id, const char *remote_ref, int64_t now_ms);
int outbox_mark_retry(struct store *s, int64_t id, int64_t next_attempt_ms, const char *error);
int outbox_mark_failed(struct store *s, int64_t id, const char *error);

/*
 * Remembers that the incident's thread on channel is thread_ref (the message
 * that opened it; a later one replaces it, e.g. when an incident leaves a
 * shared storm summary for a thread of its own). 0 or -1.
 */
int outbox_set_thread(struct store *s, int64_t incident_id, const char *channel,
		      const char *thread_ref);

/* Number of pending rows (all channels), or -1. */
int64_t outbox_pending_count(struct store *s);

#endif
