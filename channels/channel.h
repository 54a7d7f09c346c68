/*
 * This file contains the channel contract. A channel (console, Slack, Google
 * Chat) is a table of functions looked up by name in the registry
 * (channels/registry.c); adding one is one file plus one registry line.
 * Inbound alert webhooks are not a channel of this kind: see webhook.h.
 *
 * Threads: every function runs on the loop thread. send() must not block:
 * a channel that talks to the network queues the request and answers
 * CHANNEL_PENDING, then reports the result through env->delivered().
 * A two-way channel hands what people say to the core through
 * env->human_event() (see bot/human.h).
 */
#ifndef NIGHTSHIFT_CHANNEL_H
#define NIGHTSHIFT_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct outbox_item;
struct human_event;
struct http_client;
struct lws_context;
struct store;

enum channel_send_result {
	CHANNEL_SENT = 0, /* delivered; remote_ref set (may be "") */
	CHANNEL_RETRY,    /* not delivered, try again later (err says why) */
	CHANNEL_FAILED,   /* will never be delivered (err says why) */
	CHANNEL_PENDING,  /* in flight; the result comes later */
};

struct channel;

/* The late result of a CHANNEL_PENDING send (strings borrowed for the call). */
struct channel_delivery {
	const char *channel;             /* the channel's name (ops->name) */
	int64_t outbox_id;
	int64_t incident_id;
	enum channel_send_result result; /* CHANNEL_SENT or CHANNEL_FAILED */
	const char *remote_ref;          /* SENT: where it landed, e.g. "C0123:1712345678.000100" */
	const char *thread_ref;          /* SENT and it opened the incident's thread: stored in threads */
	const char *error;               /* FAILED: why */
	const char *header_state;        /* SENT: queue an OUTBOX_HEADER row with this state, or NULL */
};

/*
 * What the daemon lends a channel, for the channel's lifetime (loop thread
 * only). NULL for channels started outside the daemon (unit tests).
 */
struct channel_env {
	struct lws_context *ctx;  /* the loop's lws context (client connections, timers) */
	struct http_client *http; /* the HTTP client thread (http_client.h) */
	struct store *store;      /* the loop's read-only use of the store */
	void *daemon;
	/* Records the result of a pending send in the outbox. */
	void (*delivered)(void *daemon, const struct channel_delivery *dl);
	/*
	 * Records an inbound envelope before it is acked (human_record in
	 * bot/human.h: keys NULL-terminated, payload copied). done(arg, result,
	 * inbox_id) runs on the loop thread after the commit: 1 new, 0 seen
	 * before, -1 not recorded (do not ack).
	 */
	void (*record_inbound)(void *daemon, const char *channel, const char *const *keys,
			       const char *envelope_id, const char *payload,
			       void (*done)(void *arg, int result, int64_t inbox_id), void *arg);
	/*
	 * Hands a human event to the core (stored, its inbox row marked processed,
	 * in one transaction); done(arg, result, note) runs on the loop thread
	 * after the commit, result as in human.h or -1 on a store error.
	 */
	void (*human_event)(void *daemon, const struct human_event *ev,
			    void (*done)(void *arg, int result, const char *note), void *arg);
};

struct channel_ops {
	const char *name;
	/* True when cfg enables this channel. */
	bool (*enabled)(const struct config *cfg);
	/* Sets up ch->priv from cfg. 0 or -1 with err. */
	int (*start)(struct channel *ch, const struct config *cfg, char *err, size_t errlen);
	/* Delivers one outbox message (see render.h for the body's JSON). */
	enum channel_send_result (*send)(struct channel *ch, const struct outbox_item *item,
					 char *remote_ref, size_t reflen, char *err,
					 size_t errlen);
	/* Writes "ok" or the reason it is degraded into out; returns true when healthy. */
	bool (*health)(struct channel *ch, char *out, size_t outlen);
	/* Releases ch->priv. */
	void (*stop)(struct channel *ch);
	/* Appends the channel's own Prometheus metrics to out (a struct buf); may be NULL. */
	void (*metrics)(struct channel *ch, void *out);
};

struct channel {
	const struct channel_ops *ops;
	void *priv;                   /* owned by the channel's implementation */
	const struct channel_env *env; /* set by the daemon before start(); may be NULL */
};

/* All known channels; *n set to their count. */
const struct channel_ops *const *channel_registry(size_t *n);
/* The channel named name, or NULL. */
const struct channel_ops *channel_lookup(const char *name);

/* Fills names[0..max) with the channels cfg enables; returns the count. */
size_t channels_enabled(const struct config *cfg, const char **names, size_t max);

/* The console channel writes to this stream (stdout unless a test changes it). */
void console_set_stream(void *file);

extern const struct channel_ops console_channel;
extern const struct channel_ops slack_channel;

#endif
