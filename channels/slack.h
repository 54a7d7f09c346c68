/*
 * This file contains the private interface of the Slack channel, split in
 * four files along its seams:
 *   slack.c         the channel ops; the outbox queue (threads, pacing,
 *                   429/5xx retries); Web API calls
 *   slack_side.c    side items of the queue: escalation DMs
 *                   (conversations.open + chat.postMessage) and header
 *                   updates (chat.update + reactions.add)
 *   slack_blocks.c  outbox message JSON -> Block Kit blocks + fallback text
 *   slack_socket.c  the Socket Mode connection (lws client): open, hello,
 *                   disconnect, reconnect with backoff, acks
 *   slack_events.c  envelopes -> channel-neutral human events (bot/human.h)
 *
 * Threads: everything runs on the loop thread. Web API calls go through the
 * daemon's HTTP client thread and come back as callbacks on the loop.
 * Tokens live only in struct slack and in the Authorization header.
 */
#ifndef NIGHTSHIFT_SLACK_H
#define NIGHTSHIFT_SLACK_H

#include "channel.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

struct http_response;

#define SLACK_MAX_FRAME (256 * 1024) /* a reassembled Socket Mode message larger is skipped */
#define SLACK_MAX_CONNS 2	     /* the current socket and its replacement */

/* One outbox message waiting for (or in) a chat.postMessage. */
struct slack_item {
	struct slack_item *next;
	struct slack_item *after; /* an earlier item of the same incident still queued, or NULL */
	struct slack *s;
	int64_t outbox_id;
	int64_t incident_id;
	char kind[32];
	cJSON *msg; /* owned: the parsed outbox body */
	bool in_flight;
	int attempts;	     /* failed tries so far (5xx, network) */
	int64_t not_before;  /* mono ms: retry backoff */
	bool root;	     /* in flight as the thread's first message */
	bool thread_start;   /* the message that opens the incident's thread */
	bool side;	     /* an OUTBOX_DM or OUTBOX_HEADER row: not part of the thread order */
	int step;	     /* side items: the API call to make next (0 first) */
	char dm_channel[32]; /* a DM: the conversation conversations.open gave */
	char group[160];     /* the incident's Alertmanager group key ("" none) */
	int64_t queued_mono; /* for the latency figure */
};

/* An incident's thread in the channel. */
struct slack_thread {
	struct slack_thread *next;
	struct slack_thread *hnext; /* the next in its hash bucket */
	int64_t incident_id;
	char ts[32];	/* the first message: thread_ts of every reply */
	char state[24]; /* the state its replies last asked the header to show */
	char shown[24]; /* what its header shows ("" unknown, after a restart) */
	bool shared;	/* a storm summary's thread, shared with other incidents */
};

/* One Socket Mode WebSocket. */
struct slack_conn {
	struct slack *s;
	struct lws *wsi;    /* NULL once closed */
	int id;		    /* 1, 2, … for logs */
	bool ready;	    /* hello received */
	bool retiring;	    /* replaced: close once the new one is ready */
	bool close_pending; /* send a close frame once the acks are out */
	struct buf rx;	    /* reassembly of a fragmented message */
	bool rx_skip;	    /* the current message is too large: skip to its end */
	struct outframe *out_head, *out_tail; /* acks waiting for CLIENT_WRITEABLE */
};

struct outframe {
	struct outframe *next;
	size_t len;
	char data[]; /* LWS_PRE bytes, then the frame */
};

/* Where the attempt at a (new) connection stands. */
enum slack_sm_attempt {
	SM_NONE = 0,   /* no attempt running (one may be scheduled) */
	SM_OPENING,    /* apps.connections.open in flight */
	SM_CONNECTING, /* WebSocket handshake, waiting for hello */
};

struct slack {
	struct channel *ch;
	/* configuration (owned copies) */
	char *api_url, *app_token, *bot_token, *channel_id;
	char **allowed;
	size_t n_allowed;
	int64_t post_interval_ms;

	/* identity from auth.test */
	char bot_user_id[32], bot_id[32];
	char team_url[160]; /* "https://team.slack.com/", for links; "" unknown */
	bool auth_ok;
	int auth_attempts;
	lws_sorted_usec_list_t auth_sul;

	sqlite3_stmt *group_st; /* owned: the group key of an incident (loop store) */

	/* the outbox queue */
	struct slack_item *q_head, *q_tail;
	size_t queued;
	int in_flight;
	int64_t next_post;    /* mono ms: pacing */
	int64_t paused_until; /* mono ms: Retry-After */
	lws_sorted_usec_list_t pump_sul;
	struct slack_thread *threads;
	struct slack_thread *tbuckets[1024]; /* by incident id */
	size_t n_threads;

	/* health */
	char api_error[160];	    /* a non-retryable Web API error, until a post succeeds */
	char sm_error[160];	    /* why Socket Mode stopped, or "" */
	int64_t disconnected_since; /* mono ms, 0 while connected */

	/* Socket Mode (slack_socket.c) */
	struct lws_vhost *vhost;
	enum slack_sm_attempt attempt;
	bool sm_stopped;   /* link_disabled or a fatal auth error: no more tries */
	bool sm_scheduled; /* an attempt is scheduled on sm_sul */
	struct slack_conn *conns[SLACK_MAX_CONNS];
	int next_conn_id;
	int failures; /* consecutive failed (re)connects: backoff */
	lws_sorted_usec_list_t sm_sul;
	bool stopping;
	uint64_t sm_opens, sm_hellos, envelopes, duplicates, malformed;
};

/* slack.c */
/* The thread of incident id, or NULL. */
struct slack_thread *slack_thread_of(struct slack *s, int64_t incident_id);
/* The incident whose thread starts at ts, or 0. */
int64_t slack_incident_of_ts(struct slack *s, const char *ts);
/* POSTs method with the bot (or app) token; done gets the response on the loop thread. */
void slack_api_call(struct slack *s, const char *method, const char *content_type, const char *body,
		    bool app_token, void (*done)(void *arg, const struct http_response *r),
		    void *arg);
/* Pumps the queue after delay_ms (0: at once). */
void slack_schedule_pump(struct slack *s, int64_t delay_ms);
/* Backoff for the n-th consecutive failure: 1, 2, 4 … 60 s, with ±20 % jitter. */
int64_t slack_backoff_ms(int n);
/* The JSON object of a 200 response (owned: cJSON_Delete), or NULL. */
cJSON *slack_parse_ok(const struct http_response *r);

enum slack_outcome { OUT_OK, OUT_RATE_LIMITED, OUT_RETRY, OUT_FAILED };
/*
 * What a Web API answer to method means. A rate limit pauses the queue
 * here; why gets the error for logs (RETRY, FAILED); an error retrying
 * cannot fix shows in /healthz.
 */
enum slack_outcome slack_classify(struct slack *s, const char *method,
				  const struct http_response *r, const cJSON *j, int64_t now,
				  char *why, size_t whylen);
/* it failed in a way worth retrying: backs it off (logged). */
void slack_item_retry(struct slack_item *it, const char *method, int64_t now, int status,
		      const char *why);
/* it will never be delivered: logged by code, reported FAILED, removed (freed). */
void slack_item_failed(struct slack *s, struct slack_item *it, const char *method, int status,
		       const char *why);
/* Reports it's result to the daemon (env->delivered); strings borrowed. */
void slack_report(struct slack *s, struct slack_item *it, enum channel_send_result res,
		  const char *ref, const char *thread_ref, const char *error, const char *header_state);
/* Takes it off the queue and frees it. */
void slack_item_remove(struct slack *s, struct slack_item *it);

/* True when user may act (allowed_users empty = everyone). */
bool slack_user_allowed(const struct slack *s, const char *user);
/* True for Web API errors that retrying will not fix (bad token, channel, scope …). */
bool slack_error_is_fatal(const char *error);

/* slack_side.c */
/*
 * True when side item it may go now; a DM waits (up to a bound, *wake
 * lowered to it) for its incident's thread, to link it.
 */
bool slack_side_ready(struct slack *s, struct slack_item *it, int64_t now, int64_t *wake);
/* Makes side item it's next API call, or finishes it at once (may remove it). */
void slack_side_dispatch(struct slack *s, struct slack_item *it);

/* slack_blocks.c */
/*
 * Lays out an outbox message (render.h JSON) for Slack: returns the owned
 * JSON text of {"text": fallback, "blocks": [...]}. header = the thread's
 * first message as updated to show state (NULL: msg's own state).
 */
char *slack_blocks_render(const cJSON *msg, const char *state);
/* The same as a new cJSON object (owned: cJSON_Delete). */
cJSON *slack_blocks_object(const cJSON *msg, const char *state);
/* Appends s to b with Slack's mrkdwn escaping (&, <, >). */
void slack_escape(struct buf *b, const char *s);

/* slack_socket.c */
int slack_sm_start(struct slack *s, char *err, size_t errlen);
void slack_sm_stop(struct slack *s);
/* Queues an ack frame for envelope_id on connection conn_id (or any ready one). */
void slack_sm_ack(struct slack *s, int conn_id, const char *envelope_id);
/* True when some connection has said hello. */
bool slack_sm_ready(const struct slack *s);
/* hello and disconnect frames on connection c. */
void slack_sm_hello(struct slack *s, struct slack_conn *c);
void slack_sm_disconnect(struct slack *s, struct slack_conn *c, const char *reason);

/* slack_events.c */
/* Handles one complete text message from connection c (hostile input: never trusts it). */
void slack_on_frame(struct slack *s, struct slack_conn *c, const char *text, size_t len);
/* Hands a recorded envelope (its JSON text) to the core; inbox_id is its inbox row. */
void slack_process(struct slack *s, const char *text, int64_t inbox_id);

/* What an envelope means, parsed; strings point into the cJSON it came from. */
struct slack_inbound {
	const char *envelope_id;
	const char *type;	/* events_api, interactive, slash_commands */
	const char *kind;	/* human event kind, NULL when ignored */
	const char *ignore_why; /* set when kind is NULL */
	const char *event_id;
	const char *user;
	const char *channel;
	const char *ts; /* the message (or reacted item) ts */
	const char *thread_ts;
	const char *text;
	const char *action; /* ack / resolve / silence_1h */
	const char *claimed_incident;
	char action_buf[16];
	char claim_buf[24];
};

/*
 * Parses an envelope (a JSON object with envelope_id) into in. The bot's own
 * user and bot ids make its own messages "ignored". 0, or -1 when it is not
 * an envelope at all.
 */
int slack_parse_envelope(const cJSON *env, const char *bot_user_id, const char *bot_id,
			 struct slack_inbound *in);

#endif
