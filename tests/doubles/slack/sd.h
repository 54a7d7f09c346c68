/*
 * This file contains the shared state and internal API of slackdouble, a
 * loopback test double of Slack's Web API and Socket Mode (see
 * tests/doubles/README.md). Everything runs on the one lws service thread:
 * no locks, no globals outside main.c's signal flag. Modules:
 *   main.c        CLI, lws context, the 50 ms tick, SIGTERM
 *   http.c        HTTP sessions: routing, bodies, delayed/dropped replies, WS upgrade gate
 *   params.c      query strings and form bodies into cJSON objects, uuids, ids
 *   webapi.c      POST /api/<method>: auth, pacing, the methods
 *   fail.c        failure scripting rules (/_control/fail)
 *   slack.c       workspace state: channels, messages, reactions, DMs, tickets, ts clock
 *   socketmode.c  the WebSocket protocol: connections, frame queues, pings, pongs
 *   envelope.c    envelopes: delivery, acks, redelivery on ack timeout
 *   control.c     /_control/... routes that act on connections and envelopes
 *   control_read.c  /_control/... routes that read state or change settings; response_url
 *   events.c      builders for events_api / interactive / slash_commands payloads
 *   record.c      the recording (GET /_control/log and --log FILE.jsonl)
 */
#ifndef SLACKDOUBLE_SD_H
#define SLACKDOUBLE_SD_H

#include "util.h"

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#define SD_MAX_BODY       (1024 * 1024) /* HTTP request bodies */
#define SD_MAX_WS_MESSAGE (1024 * 1024) /* reassembled client messages */
#define SD_MAX_CONNS      64            /* sockets at once, rejected ones included */
#define SD_MAX_LOG        50000         /* records kept in memory (oldest dropped) */
#define SD_MAX_ENVELOPES  10000
#define SD_TICK_MS        20

#define SD_TEAM_ID  "T0TEST"
#define SD_APP_ID   "A0TEST"
#define SD_BOT_USER "UBOT"
#define SD_BOT_ID   "BBOT"

struct sd_config {
	char host[64];
	int port;
	const char *ready_file;
	const char *log_file;
	const char *app_token;
	const char *bot_token;
	char *channels;         /* owned: "C1,C2,..." that exist at start and after reset */
	int ack_timeout_ms;     /* redeliver an unacked envelope after this */
	int max_retries;        /* redeliveries per envelope */
	int ping_interval_ms;   /* 0 = never ping */
	int pacing_ms;          /* chat.postMessage per channel; 0 = off */
	int max_connections;    /* the 11th gets disconnect/too_many_websockets */
	int connection_time_s;  /* hello.debug_info.approximate_connection_time */
	bool echo_bot_messages; /* chat.postMessage also sends a message event */
};

/* One queued outgoing WebSocket action. */
enum out_kind { OUT_TEXT = 0, OUT_CLOSE, OUT_DROP };

struct outmsg {
	struct outmsg *next;
	enum out_kind kind;
	char *data; /* owned; OUT_TEXT payload or OUT_CLOSE reason */
	size_t len;
	size_t off;       /* bytes already written (fragmented sends) */
	size_t frag;      /* 0 = one frame, else bytes per fragment */
	int close_code;
};

struct conn {
	struct conn *next;
	struct lws *wsi;
	int id;                /* 1, 2, ... never reused */
	char ticket[40];
	int64_t opened_ms;     /* wall clock */
	bool rejected;         /* over the limit: disconnect then close */
	bool closing;          /* a close or drop is queued */
	bool stalled;          /* reads paused: no acks, no pongs */
	bool pings_stopped;
	bool ping_pending;
	int64_t next_ping_mono;
	int64_t ping_sent_mono;
	unsigned pings_sent, pongs, frames_in, frames_out;
	int64_t last_pong_ms;
	int close_code;        /* from the client's close frame (0 = none came) */
	bool server_closed;    /* we sent a close frame */
	bool dropped;          /* we shut the socket with no close frame */
	int64_t close_at_mono; /* a scheduled close (0 = none) */
	int64_t drop_at_mono;  /* a scheduled drop (0 = none) */
	struct outmsg *q_head, *q_tail;
	struct buf rx;         /* reassembly of fragmented messages */
	bool rx_binary;
	bool rx_overflow;
};

struct envelope {
	struct envelope *next;
	char id[40];
	char type[24];         /* events_api, interactive, slash_commands */
	char *event_id;        /* payload.event_id, or NULL */
	char *event_type;      /* payload.event.type or payload.type, or NULL */
	cJSON *payload;        /* owned */
	bool accepts_response_payload;
	int pinned_conn;       /* 0 = any connection */
	int deliveries;        /* frames sent so far */
	int retry_attempt;     /* of the last frame sent */
	char retry_reason[24];
	bool waiting;          /* no connection was open: send on the next hello */
	bool expired;          /* retries used up, never acked */
	bool acked;
	int acks;
	int ack_conn;
	int64_t created_ms, first_sent_ms, last_sent_ms, ack_ms; /* wall clock */
	int64_t deadline_mono; /* redelivery due (0 = none) */
	cJSON *ack_payload;    /* owned, or NULL */
	cJSON *sent_to;        /* owned array of connection ids */
};

struct hsess;

struct sd {
	struct sd_config cfg;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	int port;
	lws_sorted_usec_list_t tick;
	bool stopping;

	/* record.c */
	cJSON *log;
	int64_t seq;
	size_t log_n;
	int64_t log_dropped;
	FILE *log_fp;

	/* slack.c */
	cJSON *channels; /* id -> array of message objects, in post order */
	cJSON *dms;      /* "U1,U2" -> "D..." */
	cJSON *tickets;  /* ticket -> {"created_ms", "used"} */
	cJSON *pacing;   /* channel -> last post mono ms */
	cJSON *response_urls; /* id -> {"channel", "ts"} (block_actions, slash commands) */
	int64_t last_ts_us;
	unsigned next_dm;

	/* webapi.c */
	cJSON *fail_rules; /* array of {method, times, status, ...} */

	/* socketmode.c / envelope.c */
	struct conn *conns;
	int next_conn_id;
	int rr;              /* round-robin cursor: last connection id used */
	bool pings_stopped;  /* all connections */
	struct envelope *envs, *envs_tail;
	size_t n_envs;
	unsigned next_event;

	/* http.c: sessions waiting for a delayed reply */
	struct hsess *delayed;
};

/* An HTTP reply produced by webapi.c or control.c. body is owned. */
struct reply {
	int status;
	char *body;
	const char *content_type;
	int retry_after; /* > 0: send Retry-After */
	int delay_ms;    /* > 0: answer this much later */
	bool drop;       /* close the connection with no answer */
};

/* A parsed HTTP request as webapi.c and control.c see it. */
struct request {
	const char *http_method; /* "GET", "POST", ... */
	const char *path;        /* without the query */
	const char *content_type;
	const char *authorization; /* NULL when absent */
	cJSON *query;            /* object of strings, never NULL */
	const char *body;        /* raw, NUL-terminated, maybe "" */
	size_t body_len;
};

/* main.c */
struct sd *sd_of(struct lws *wsi);

/* http.c */
extern const struct lws_protocols sd_http_protocol;
void http_tick(struct sd *d, int64_t mono);
void http_shutdown(struct sd *d);
void reply_json(struct reply *r, int status, cJSON *body); /* consumes body */
void reply_error(struct reply *r, int status, const char *error);
/*
 * The WebSocket upgrade gate (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, which lws
 * sends to the protocol a new connection is bound to — the "default" ws one):
 * 0 lets /link/?ticket=<unused> upgrade, 1 means a 401 (or scripted status)
 * was sent, -1 hangs up. Consumes the ticket and records ws_refused.
 */
int http_confirm_upgrade(struct sd *d, struct lws *wsi);

/* params.c */
/* Parses "a=1&b=x%20y" into a new object of strings (later duplicates win). */
cJSON *params_parse_form(const char *s, size_t len);
/* Parses a body by content type: JSON object, or a form. NULL + *err on failure. */
cJSON *params_parse_body(const char *ctype, const char *body, size_t len, const char **err);
void make_uuid(char out[37]);
/* A string field of obj, or NULL. */
const char *jstr(const cJSON *obj, const char *key);
/* A number or numeric-string field of obj, or dflt. */
long long jint(const cJSON *obj, const char *key, long long dflt);
bool jbool(const cJSON *obj, const char *key, bool dflt);
char *json_print(const cJSON *j); /* unformatted, owned; "null" for NULL */

/* record.c */
int record_open(struct sd *d);
/* Adds kind/seq/at_ms to entry, keeps it (consumed) and appends it to the file. */
void record_add(struct sd *d, const char *kind, cJSON *entry);
/* The records with seq > since (and matching kind/method when not NULL), as an array. */
cJSON *record_query(struct sd *d, int64_t since, const char *kind, const char *method);
void record_reset(struct sd *d);
void record_close(struct sd *d);

/* slack.c */
void slack_init(struct sd *d); /* channels from cfg.channels */
void slack_reset(struct sd *d);
void slack_free(struct sd *d);
void slack_next_ts(struct sd *d, char out[24]);
bool slack_channel_exists(struct sd *d, const char *id);
void slack_add_channel(struct sd *d, const char *id);
cJSON *slack_channel_messages(struct sd *d, const char *id); /* borrowed array or NULL */
cJSON *slack_find_message(struct sd *d, const char *channel, const char *ts); /* borrowed */
/* Stores msg (consumed) in channel; returns it (borrowed). */
cJSON *slack_store_message(struct sd *d, const char *channel, cJSON *msg);
/* "D..." for the sorted user set (created when new); *existed tells which. */
const char *slack_open_dm(struct sd *d, const char *users_csv, bool *existed);
cJSON *slack_messages_view(struct sd *d, const char *channel); /* new object */
void slack_new_ticket(struct sd *d, char out[37]);
/* 1 when ticket was valid and is now used, 0 when unknown or used before. */
int slack_use_ticket(struct sd *d, const char *ticket);

/* webapi.c */
void webapi_handle(struct sd *d, const struct request *rq, const char *method, struct reply *r);

/* fail.c */
/* Adds a failure rule from a /_control/fail body; -1 with *err on bad input. */
int fail_add(struct sd *d, const cJSON *rule, const char **err);
/* Takes the next matching rule for method (or NULL); the caller frees it. */
cJSON *fail_take(struct sd *d, const char *method);
/* Applies rule to r (and *body); true when it decided the answer, false for delay only. */
bool fail_apply(const cJSON *rule, struct reply *r, cJSON **body);
cJSON *fail_body(const char *error); /* {"ok":false,"error":error} */

/* socketmode.c */
extern const struct lws_protocols sd_ws_protocol;
struct conn *sm_conn(struct sd *d, int id); /* open, not rejected; NULL if none */
struct conn *sm_next_conn(struct sd *d);    /* round-robin over usable connections */
int sm_count(struct sd *d);                 /* usable connections */
void sm_send_text(struct conn *c, const char *text, size_t frag);
/* Queues j as a text frame (frag > 0: in pieces of frag bytes); records ws_out; consumes j. */
void sm_send_json(struct sd *d, struct conn *c, cJSON *j, size_t frag);
void sm_close(struct conn *c, int code, const char *reason);
void sm_drop(struct conn *c);
void sm_tick(struct sd *d, int64_t mono);
cJSON *sm_describe(struct sd *d); /* new array for GET /_control/connections */
void sm_shutdown(struct sd *d);

/* envelope.c */
/* Creates and sends an envelope (payload consumed); NULL + *err on failure. */
struct envelope *env_submit(struct sd *d, const char *type, cJSON *payload, bool accepts_resp,
			    int conn_id, const char **err);
struct envelope *env_find(struct sd *d, const char *id);
/* Sends e again with retry_attempt + 1; -1 when no connection is open. */
int env_redeliver(struct sd *d, struct envelope *e, int conn_id, const char *reason);
/* Handles one parsed client message from connection c (an ack or anything). */
void env_on_client_json(struct sd *d, struct conn *c, const cJSON *msg, cJSON *rec);
void env_on_hello(struct sd *d, struct conn *c); /* flushes waiting envelopes */
void env_tick(struct sd *d, int64_t mono);
cJSON *env_describe(struct sd *d); /* new array for GET /_control/envelopes */
void env_reset(struct sd *d);

/* events.c: payload builders; each returns a new payload or NULL + *err. */
cJSON *ev_message(struct sd *d, const cJSON *in, const char *inner_type, const char **err);
cJSON *ev_reaction_added(struct sd *d, const cJSON *in, const char **err);
cJSON *ev_block_actions(struct sd *d, const cJSON *in, const char **err);
cJSON *ev_slash(struct sd *d, const cJSON *in, const char **err);
/* Wraps an inner event object (consumed) into an event_callback payload. */
cJSON *ev_callback(struct sd *d, cJSON *event);

/* control.c: route is the path after "/_control/", or "_response/<id>" */
void control_handle(struct sd *d, const struct request *rq, const char *route, struct reply *r);

/* control_read.c: the state-reading and settings routes (in: the JSON body or query) */
void ctl_log(struct sd *d, const cJSON *in, struct reply *r);
void ctl_messages(struct sd *d, const cJSON *in, struct reply *r);
void ctl_connections(struct sd *d, const cJSON *in, struct reply *r);
void ctl_envelopes(struct sd *d, const cJSON *in, struct reply *r);
void ctl_reset(struct sd *d, const cJSON *in, struct reply *r);
void ctl_config(struct sd *d, const cJSON *in, struct reply *r);
void ctl_response_url(struct sd *d, const struct request *rq, const char *id, struct reply *r);

#endif
