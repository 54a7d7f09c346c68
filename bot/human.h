/*
 * This file contains the channel-neutral "human event": what a person said
 * or clicked in a chat (a reply in an incident's thread, a mention, a
 * reaction, a button, a slash command), as a channel hands it to the core.
 * human_event_apply() records it with the channel's dedup keys in one
 * transaction, so an event is processed once even when the chat redelivers
 * it, and carries out the button actions (ack, resolve, silence 1h) for users
 * who may act. What free-text words mean belongs to the escalation logic.
 *
 * Threads: human_event_apply runs on the store writer (inside its transaction).
 */
#ifndef NIGHTSHIFT_HUMAN_H
#define NIGHTSHIFT_HUMAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define HUMAN_MAX_KEYS 4

/* All strings borrowed. */
struct human_event {
	const char *channel;    /* "slack" */
	const char *kind;       /* message, mention, reaction, action, command; NULL = only dedup */
	int64_t incident_id;    /* 0 when not about a known incident */
	const char *claimed_incident; /* the id a button or command named (checked, never trusted) */
	const char *user;       /* the channel's user id */
	const char *user_label; /* how a message names them, e.g. "<@U123>" (NULL: user) */
	const char *action;     /* "ack", "resolve", "silence_1h" or NULL */
	const char *text;       /* what they wrote, the reaction name… (may be NULL) */
	const char *ref;        /* where it came from, e.g. "C0123:1712345678.000100" */
	bool allowed;           /* the user may act (allowed_users) */
	const char *keys[HUMAN_MAX_KEYS]; /* dedup keys for seen_events (NULL-terminated) */
};

enum human_result {
	HUMAN_STORED = 0,   /* recorded (an action was carried out when result_text says so) */
	HUMAN_DUPLICATE,    /* a key was seen before: nothing done */
	HUMAN_REFUSED,      /* an action by a user who may not act: refused, a reply queued */
	HUMAN_IGNORED,      /* kind NULL: only the keys were recorded */
};

/*
 * Records ev (writer thread, inside a transaction). Replies the action causes
 * go to the outbox for channels[0..n) (a refusal only to ev->channel).
 * Returns the result, or -1 with err; detail ("acknowledged", "unknown
 * incident 42", …) goes into note.
 */
int human_event_apply(struct store *s, const struct human_event *ev, const char *const *channels,
		      size_t n_channels, int64_t now_ms, char *note, size_t notelen, char *err,
		      size_t errlen);

const char *human_result_name(int r);

#endif
