/*
 * This file contains the Slack channel's Socket Mode connection: a fresh URL
 * from apps.connections.open (app token) for every connection, an lws client
 * WebSocket with no subprotocol (platform-notes #7) on a client-only vhost,
 * reassembly of fragmented messages (#11), acks written from
 * CLIENT_WRITEABLE only (#9), and the reconnect policy:
 *   - disconnect warning / refresh_requested: open the new connection first,
 *     close the old one when the new one says hello (nothing is missed);
 *   - a dropped or failed connection: capped exponential backoff with jitter
 *     (1, 2, 4 … 30 s), reset by hello;
 *   - link_disabled or a fatal token error: stop, say why, /healthz degraded;
 *   - stale connections: lws pings after 10 s of silence and hangs up after
 *     30 s without valid traffic (retry policy), which reconnects.
 *
 * Lifetime: a struct slack_conn lives from connect until its wsi closes; the
 * wsi's opaque user data points at it and is cleared when it goes, so lws
 * callbacks after that (or after the channel stopped) are ignored.
 */
#include "slack.h"

#include "http_client.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define SM_BACKOFF_MAX_MS 30000

static int sm_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len);

static const struct lws_protocols sm_protocols[] = {
    {.name = "nightshift-slack", .callback = sm_callback, .rx_buffer_size = 8192},
    {.name = NULL},
};

static const lws_retry_bo_t sm_retry = {
    .secs_since_valid_ping = 10,
    .secs_since_valid_hangup = 30,
};

static void sm_open(struct slack *s);

static int64_t sm_backoff_ms(int n)
{
	int64_t base = 1000LL << (n > 5 ? 5 : (n < 1 ? 0 : n - 1));
	if (base > SM_BACKOFF_MAX_MS)
		base = SM_BACKOFF_MAX_MS;
	return base / 2 + (int64_t)(random() % (base / 2 + 1)); /* "equal jitter" */
}

static void sm_cb(lws_sorted_usec_list_t *sul)
{
	struct slack *s = lws_container_of(sul, struct slack, sm_sul);
	s->sm_scheduled = false;
	if (!s->sm_stopped && !s->stopping && s->attempt == SM_NONE)
		sm_open(s);
}

/* Schedules the next attempt after delay_ms (0 = now). */
static void sm_schedule(struct slack *s, int64_t delay_ms)
{
	if (s->sm_stopped || s->stopping)
		return;
	s->sm_scheduled = true;
	lws_sul_schedule(s->ch->env->ctx, 0, &s->sm_sul, sm_cb,
			 delay_ms <= 0 ? 1 : delay_ms * LWS_US_PER_MS);
}

bool slack_sm_ready(const struct slack *s)
{
	for (int i = 0; i < SLACK_MAX_CONNS; i++)
		if (s->conns[i] && s->conns[i]->wsi && s->conns[i]->ready)
			return true;
	return false;
}

/* A failed attempt or a lost connection: try again after the backoff. */
static void sm_retry_later(struct slack *s, const char *why)
{
	int64_t delay;
	if (s->sm_stopped || s->stopping)
		return;
	if (s->disconnected_since == 0 && !slack_sm_ready(s))
		s->disconnected_since = mono_ms();
	delay = sm_backoff_ms(++s->failures);
	log_warnx("event=slack_reconnect reason=\"%s\" attempt=%d delay_ms=%lld", why, s->failures,
		  (long long)delay);
	sm_schedule(s, delay);
}

static void sm_stop_for_good(struct slack *s, const char *why)
{
	s->sm_stopped = true;
	snprintf(s->sm_error, sizeof(s->sm_error), "%s", why);
	log_error("event=slack_socket_stopped reason=\"%s\"", why);
	lws_sul_cancel(&s->sm_sul);
	for (int i = 0; i < SLACK_MAX_CONNS; i++) {
		struct slack_conn *c = s->conns[i];
		if (c && c->wsi) {
			c->retiring = true;
			c->close_pending = true;
			lws_callback_on_writable(c->wsi);
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 2);
		}
	}
}

static void conn_free(struct slack_conn *c)
{
	while (c->out_head) {
		struct outframe *f = c->out_head;
		c->out_head = f->next;
		free(f);
	}
	buf_release(&c->rx);
	free(c);
}

/* True when a connection that is not being replaced has said hello. */
static bool has_live(const struct slack *s)
{
	for (int i = 0; i < SLACK_MAX_CONNS; i++)
		if (s->conns[i] && s->conns[i]->wsi && s->conns[i]->ready && !s->conns[i]->retiring)
			return true;
	return false;
}

/*
 * The socket of c is gone (closed, failed, dropped); wsi is the one the
 * callback came with (its user data is cleared, so later callbacks for it
 * are ignored). Reconnects unless a live connection or an attempt remains.
 */
static void conn_gone(struct slack_conn *c, struct lws *wsi, const char *why)
{
	struct slack *s = c->s;
	bool was_ready = c->ready, retiring = c->retiring;

	if (wsi)
		lws_set_opaque_user_data(wsi, NULL);
	if (c->wsi && c->wsi != wsi)
		lws_set_opaque_user_data(c->wsi, NULL);
	for (int i = 0; i < SLACK_MAX_CONNS; i++)
		if (s->conns[i] == c)
			s->conns[i] = NULL;
	log_info("event=slack_socket_closed connection=%d ready=%d retiring=%d reason=\"%s\"",
		 c->id, was_ready, retiring, why);
	conn_free(c);
	if (!was_ready && s->attempt == SM_CONNECTING)
		s->attempt = SM_NONE; /* this was the attempt */
	if (has_live(s) || s->attempt != SM_NONE || s->sm_scheduled)
		return;
	if (was_ready)
		s->failures = 0; /* a connection that worked: start the backoff over */
	sm_retry_later(s, why);
}

static void sm_connect(struct slack *s, const char *url)
{
	struct lws_client_connect_info cc;
	struct slack_conn *c;
	char buf[2048], path[2048];
	const char *prot = NULL, *addr = NULL, *p = NULL;
	int port = 0, slot = -1;

	strlcpy0(buf, url, sizeof(buf));
	if (strlen(url) >= sizeof(buf) - 1 || lws_parse_uri(buf, &prot, &addr, &port, &p) != 0 ||
	    (strcmp(prot, "wss") != 0 && strcmp(prot, "ws") != 0)) {
		s->attempt = SM_NONE;
		sm_retry_later(s, "apps.connections.open gave an unusable URL");
		return;
	}
	snprintf(path, sizeof(path), "/%s", p); /* lws_parse_uri drops the leading / (#12) */
	for (int i = 0; i < SLACK_MAX_CONNS; i++)
		if (s->conns[i] == NULL) {
			slot = i;
			break;
		}
	if (slot < 0) {
		/* Both slots busy: the older one goes. */
		struct slack_conn *old = s->conns[0];
		if (old->wsi)
			lws_set_timeout(old->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		old->retiring = true;
		conn_gone(old, old->wsi, "replaced");
		slot = 0;
	}
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->id = ++s->next_conn_id;
	buf_init(&c->rx, SLACK_MAX_FRAME);
	s->conns[slot] = c;
	memset(&cc, 0, sizeof(cc));
	cc.context = s->ch->env->ctx;
	cc.vhost = s->vhost;
	cc.address = addr;
	cc.port = port ? port : (strcmp(prot, "wss") == 0 ? 443 : 80);
	cc.path = path;
	cc.host = addr;
	cc.origin = addr;
	cc.protocol = NULL; /* Slack names no subprotocol */
	cc.local_protocol_name = "nightshift-slack";
	cc.ssl_connection = strcmp(prot, "wss") == 0 ? LCCSCF_USE_SSL : 0;
	cc.retry_and_idle_policy = &sm_retry;
	cc.opaque_user_data = c;
	cc.pwsi = &c->wsi;
	s->attempt = SM_CONNECTING;
	log_info("event=slack_socket_connecting connection=%d host=%s", c->id, addr);
	{
		int id = c->id;
		/* A failure may already have called CONNECTION_ERROR (and freed c). */
		if (lws_client_connect_via_info(&cc) == NULL && s->conns[slot] != NULL &&
		    s->conns[slot]->id == id) {
			c->wsi = NULL;
			conn_gone(c, NULL, "cannot start the WebSocket connection");
		}
	}
}

static void open_done(void *arg, const struct http_response *r)
{
	struct slack *s = arg;
	const char *end = NULL, *err = NULL, *url = NULL;
	cJSON *j = r->status == 200 ? cJSON_ParseWithOpts(r->body, &end, 1) : NULL;

	s->attempt = SM_NONE;
	if (s->stopping || s->sm_stopped) {
		cJSON_Delete(j);
		return;
	}
	if (j) {
		err = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error"));
		url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "url"));
	}
	if (j && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok")) && url) {
		sm_connect(s, url);
	} else if (r->status == 429 || (err && strcmp(err, "ratelimited") == 0)) {
		int secs = r->retry_after_s >= 0 ? r->retry_after_s : 30;
		s->failures++;
		log_warnx("event=slack_rate_limited method=apps.connections.open retry_after_s=%d",
			  secs);
		sm_schedule(s, (int64_t)secs * 1000);
	} else if (err && (slack_error_is_fatal(err) || strcmp(err, "invalid_token") == 0)) {
		char why[160];
		snprintf(why, sizeof(why),
			 "apps.connections.open: %.40s (check the app-level token xapp-… and its "
			 "connections:write scope)",
			 err);
		sm_stop_for_good(s, why);
	} else {
		char why[160];
		snprintf(why, sizeof(why), "apps.connections.open: %.100s",
			 err ? err : (r->error[0] ? r->error : "bad response"));
		sm_retry_later(s, why);
	}
	cJSON_Delete(j);
}

static void sm_open(struct slack *s)
{
	s->attempt = SM_OPENING;
	s->sm_opens++;
	slack_api_call(s, "apps.connections.open", "application/x-www-form-urlencoded", "", true,
		       open_done, s);
}

void slack_sm_hello(struct slack *s, struct slack_conn *c)
{
	c->ready = true;
	s->sm_hellos++;
	s->failures = 0;
	s->disconnected_since = 0;
	if (s->attempt == SM_CONNECTING)
		s->attempt = SM_NONE;
	log_info("event=slack_socket_ready connection=%d", c->id);
	/* The connections this one replaces close now (after their acks are out). */
	for (int i = 0; i < SLACK_MAX_CONNS; i++) {
		struct slack_conn *o = s->conns[i];
		if (o && o != c && o->wsi) {
			o->retiring = true;
			o->close_pending = true;
			lws_callback_on_writable(o->wsi);
			lws_set_timeout(o->wsi, PENDING_TIMEOUT_USER_OK, 2);
		}
	}
}

void slack_sm_disconnect(struct slack *s, struct slack_conn *c, const char *reason)
{
	log_info("event=slack_disconnect connection=%d reason=%s", c->id, reason);
	if (strcmp(reason, "link_disabled") == 0) {
		sm_stop_for_good(s,
				 "link_disabled: Socket Mode was turned off in the app settings");
		return;
	}
	if (strcmp(reason, "warning") == 0 || strcmp(reason, "refresh_requested") == 0) {
		/* Open the new connection first; this one serves until it says hello. */
		c->retiring = true;
		if (s->attempt == SM_NONE) {
			lws_sul_cancel(&s->sm_sul);
			s->sm_scheduled = false;
			sm_open(s);
		}
		return;
	}
	/* too_many_websockets and anything else: drop this one, back off. */
	c->close_pending = true;
	if (c->wsi) {
		lws_callback_on_writable(c->wsi);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 2);
	}
}

void slack_sm_ack(struct slack *s, int conn_id, const char *envelope_id)
{
	struct slack_conn *c = NULL;
	struct outframe *f;
	struct buf b;

	for (int i = 0; i < SLACK_MAX_CONNS; i++)
		if (s->conns[i] && s->conns[i]->wsi && s->conns[i]->id == conn_id)
			c = s->conns[i];
	for (int i = 0; i < SLACK_MAX_CONNS && c == NULL; i++)
		if (s->conns[i] && s->conns[i]->wsi && s->conns[i]->ready)
			c = s->conns[i];
	if (c == NULL) {
		log_warnx(
		    "event=slack_ack_lost envelope=%s reason=\"no open connection; Slack will "
		    "redeliver\"",
		    envelope_id);
		return;
	}
	buf_init(&b, 0);
	buf_puts(&b, "{\"envelope_id\":");
	buf_json_string(&b, envelope_id);
	buf_puts(&b, "}");
	f = xmalloc(sizeof(*f) + LWS_PRE + b.len);
	f->next = NULL;
	f->len = b.len;
	memcpy(f->data + LWS_PRE, b.data, b.len);
	buf_release(&b);
	if (c->out_tail)
		c->out_tail->next = f;
	else
		c->out_head = f;
	c->out_tail = f;
	lws_callback_on_writable(c->wsi);
}

static int on_writeable(struct slack_conn *c)
{
	struct outframe *f = c->out_head;
	if (f != NULL) {
		int n =
		    lws_write(c->wsi, (unsigned char *)f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);
		c->out_head = f->next;
		if (c->out_head == NULL)
			c->out_tail = NULL;
		free(f);
		if (n < 0)
			return -1;
		if (c->out_head || c->close_pending)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (c->close_pending) {
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	return 0;
}

static void on_receive(struct slack_conn *c, struct lws *wsi, const char *in, size_t len)
{
	if (lws_is_first_fragment(wsi)) {
		buf_reset(&c->rx);
		c->rx_skip = false;
	}
	if (!c->rx_skip && buf_append(&c->rx, in, len) < 0) {
		c->rx_skip = true;
		c->s->malformed++;
		log_warnx("event=slack_frame_skipped connection=%d reason=\"larger than %d bytes\"",
			  c->id, SLACK_MAX_FRAME);
	}
	if (!lws_is_final_fragment(wsi))
		return;
	if (lws_frame_is_binary(wsi)) {
		log_warnx("event=slack_frame_skipped connection=%d reason=\"binary frame\"", c->id);
	} else if (!c->rx_skip) {
		slack_on_frame(c->s, c, c->rx.data ? c->rx.data : "", c->rx.len);
	}
	buf_reset(&c->rx);
	c->rx_skip = false;
}

static int sm_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	struct slack_conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c) {
			char why[160];
			snprintf(why, sizeof(why), "connect failed: %.120s",
				 in ? (const char *)in : "(no detail)");
			c->wsi = NULL;
			conn_gone(c, wsi, why);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (c)
			log_info("event=slack_socket_open connection=%d", c->id);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (c)
			on_receive(c, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE: return c ? on_writeable(c) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c)
			log_info("event=slack_socket_peer_close connection=%d", c->id);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c)
			conn_gone(c, wsi, "closed");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c)
			conn_gone(c, wsi, "destroyed");
		return 0;
	default: return 0;
	}
}

int slack_sm_start(struct slack *s, char *err, size_t errlen)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	info.vhost_name = "slack-client";
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = sm_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	s->vhost = lws_create_vhost(s->ch->env->ctx, &info);
	if (s->vhost == NULL) {
		snprintf(err, errlen, "cannot create the Slack client vhost");
		return -1;
	}
	s->disconnected_since = mono_ms();
	sm_schedule(s, 0);
	return 0;
}

void slack_sm_stop(struct slack *s)
{
	lws_sul_cancel(&s->sm_sul);
	for (int i = 0; i < SLACK_MAX_CONNS; i++) {
		struct slack_conn *c = s->conns[i];
		if (c == NULL)
			continue;
		if (c->wsi)
			lws_set_opaque_user_data(c->wsi, NULL);
		conn_free(c);
		s->conns[i] = NULL;
	}
}
