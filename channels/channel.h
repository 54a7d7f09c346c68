/*
 * This file contains the channel contract. A channel (console, Slack, Google
 * Chat) is a table of functions looked up by name in the registry
 * (channels/registry.c); adding one is one file plus one registry line.
 * Inbound alert webhooks are not a channel of this kind: see webhook.h.
 *
 * Threads: every function runs on the loop thread. send() must not block:
 * a channel that talks to the network queues the request and answers
 * CHANNEL_PENDING, then reports the result through channel_delivered().
 */
#ifndef NIGHTSHIFT_CHANNEL_H
#define NIGHTSHIFT_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct outbox_item;

enum channel_send_result {
	CHANNEL_SENT = 0, /* delivered; remote_ref set (may be "") */
	CHANNEL_RETRY,    /* not delivered, try again later (err says why) */
	CHANNEL_FAILED,   /* will never be delivered (err says why) */
	CHANNEL_PENDING,  /* in flight; the result comes later */
};

struct channel;

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
};

struct channel {
	const struct channel_ops *ops;
	void *priv; /* owned by the channel's implementation */
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

#endif
