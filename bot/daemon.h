/*
 * This file contains the running bot: the libwebsockets context and its one
 * event loop thread, the store writer, the channels, the outbox sender, the
 * timers, and signal handling (SIGTERM/SIGINT stop cleanly, SIGHUP reloads).
 *
 * DESIGN: the loop thread owns sockets, timers, channels and decisions; it
 * never blocks on a write to SQLite (the writer thread does those) or on the
 * network. Other threads reach it only through lws_cancel_service(), and it
 * drains every completion queue in one place (daemon_wake_drain).
 */
#ifndef NIGHTSHIFT_DAEMON_H
#define NIGHTSHIFT_DAEMON_H

#include "channel.h"
#include "metrics.h"
#include "watch.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

struct config;
struct http_client;
struct shared_playbooks;
struct store;
struct workers;
struct writer;

#define DAEMON_MAX_CHANNELS 8

struct daemon {
	struct config *cfg;              /* a reference; replaced on SIGHUP */
	struct lws_context *ctx;
	struct writer *writer;
	struct workers *workers;
	struct shared_playbooks *playbooks; /* a reference; replaced on SIGHUP */
	struct store *store;             /* the loop's own connection (reads) */
	struct http_client *http;        /* the HTTP client thread (channels' Web API calls) */
	struct channel_env channel_env;  /* lent to every channel */
	struct channel channels[DAEMON_MAX_CHANNELS];
	size_t n_channels;
	struct mark *late;               /* owned: results of pending sends, not yet written */
	size_t n_late, alloc_late;
	int64_t outbox_cursor[DAEMON_MAX_CHANNELS]; /* highest id handed to the channel */
	bool outbox_busy;                /* a mark job is in flight */
	bool outbox_again;               /* pump once more when it lands */
	struct metrics metrics;
	struct watch_state watch;        /* dead man's switch and own heartbeat (watch.h) */
	lws_sorted_usec_list_t tick;     /* 1 s housekeeping */
	lws_sorted_usec_list_t pump;     /* outbox sender, scheduled on demand */
	lws_sorted_usec_list_t nag;      /* escalations: runs when the next nag is due */
	int64_t esc_next_due;            /* esc_now_ms() of the earliest nag (0 = look now) */
	bool esc_busy;                   /* an escalation job is in flight */
	bool stopping;
	int64_t stop_deadline_ms;
	int bound_port;                  /* the port actually listened on */
	const char *ready_file;          /* optional: write the port here when listening */
};

/*
 * Runs the bot with cfg until SIGTERM/SIGINT. Returns the process exit code.
 * ready_file (may be NULL) receives "PORT\n" once the server listens.
 */
int daemon_run(struct config *cfg, const char *ready_file);

/* Schedules the outbox sender to run soon (loop thread). */
void daemon_kick_outbox(struct daemon *d);
/* Hands pending investigations to idle workers (loop thread). */
void daemon_dispatch(struct daemon *d);

/* Writes the /healthz JSON into out; returns 200 when healthy, 503 when degraded. */
struct buf;
int daemon_healthz(struct daemon *d, struct buf *out);

/* The daemon of an lws connection (its context's user pointer). */
struct daemon *daemon_of(struct lws *wsi);

#endif
