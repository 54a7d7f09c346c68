/*
 * This file contains the channel-neutral "human event": what a person said
 * or clicked in a chat (a reply in an incident's thread, a mention, a
 * reaction, a button, a slash command), as a channel hands it to the core,
 * and the inbox that makes inbound processing exactly-once:
 *   1. human_record(): the envelope's dedup keys (seen_events) and, when
 *      none was seen before, the envelope itself (inbox) — one transaction;
 *   2. the channel acks the envelope;
 *   3. human_event_apply(): the human_events row, the button actions (ack,
 *      resolve, silence 1h) for users who may act, the replies they cause,
 *      and the inbox row marked processed — one transaction.
 * A crash between 2 and 3 leaves an unprocessed inbox row, which the channel
 * processes at its next start. Keys and processed envelopes are kept a week. What free-text words
 * mean belongs to the escalation logic.
 *
 * Threads: both run on the store writer (inside its transaction).
 */
#ifndef NIGHTSHIFT_HUMAN_H
#define NIGHTSHIFT_HUMAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define HUMAN_MAX_KEYS	  4
#define HUMAN_MAX_PAYLOAD (256 * 1024)

/*
 * Records an inbound envelope: keys[] (NULL-terminated, at most
 * HUMAN_MAX_KEYS) in seen_events and, when none of them was seen before,
 * payload in the inbox. Returns 1 (new; *inbox_id set), 0 (seen before) or
 * -1 with err.
 */
int human_record(struct store *s, const char *channel, const char *const *keys,
		 const char *envelope_id, const char *payload, int64_t now_ms, int64_t *inbox_id,
		 char *err, size_t errlen);

/* All strings borrowed. */
struct human_event {
	const char *channel; /* "slack" */
	const char *kind;    /* message, mention, reaction, action, command; NULL = only dedup */
	int64_t incident_id; /* 0 when not about a known incident */
	const char
	    *claimed_incident;	/* the id a button or command named (checked, never trusted) */
	const char *user;	/* the channel's user id */
	const char *user_label; /* how a message names them, e.g. "<@U123>" (NULL: user) */
	const char *action;	/* "ack", "resolve", "silence_1h" or NULL */
	const char *text;	/* what they wrote, the reaction name… (may be NULL) */
	const char *ref;	/* where it came from, e.g. "C0123:1712345678.000100" */
	bool allowed;		/* the user may act (allowed_users) */
	int64_t inbox_id;	/* the inbox row to mark processed (0 none) */
};

enum human_result {
	HUMAN_STORED = 0, /* recorded (an action was carried out when the note says so) */
	HUMAN_DUPLICATE,  /* human_record: seen before, nothing to do */
	HUMAN_REFUSED,	  /* an action by a user who may not act: refused, a reply queued */
	HUMAN_IGNORED,	  /* kind NULL: nothing to store */
};

/*
 * Records ev and marks its inbox row processed (cfg: ack_words; may be NULL) (writer thread, inside a
 * transaction). Replies the action causes go to the outbox for
 * channels[0..n) (a refusal only to ev->channel). Returns the result, or -1
 * with err; detail ("acknowledged", "unknown incident 42", …) goes into note.
 */
struct config;
int human_event_apply(struct store *s, const struct config *cfg, const struct human_event *ev,
		      const char *const *channels,
		      size_t n_channels, int64_t now_ms, char *note, size_t notelen, char *err,
		      size_t errlen);

const char *human_result_name(int r);

/*
 * Queues a short thread reply (kind "human": mentions in text stay
 * mentions) about incident id for channels[0..n). 0, or -1 with err.
 */
int human_reply(struct store *s, int64_t id, const char *text, const char *const *channels,
		size_t n, int64_t now_ms, char *err, size_t errlen);

#endif
