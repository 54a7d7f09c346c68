/*
 * This file contains the Socket Mode WebSocket protocol. It is the vhost's
 * "default" protocol (pvo in main.c), because Slack clients send no
 * Sec-WebSocket-Protocol (platform-notes §1 #6); http.c has already checked
 * the ticket before the upgrade. Per connection: hello (or, past
 * max_connections, disconnect/too_many_websockets and a close), a queue of
 * outgoing actions (text frames, optionally fragmented; close with a frame;
 * drop with none), server pings on the tick with pongs recorded, and
 * reassembly of fragmented client messages (lws_is_first/final_fragment)
 * up to SD_MAX_WS_MESSAGE. Complete client messages go to envelope.c.
 */
#include "sd.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct wss {
	struct conn *c;
};

static cJSON *rec_for(const struct conn *c)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddNumberToObject(r, "connection", c->id);
	return r;
}

static void enqueue(struct conn *c, struct outmsg *m)
{
	if (c->q_tail)
		c->q_tail->next = m;
	else
		c->q_head = m;
	c->q_tail = m;
	lws_callback_on_writable(c->wsi);
}

void sm_send_text(struct conn *c, const char *text, size_t frag)
{
	struct outmsg *m = xcalloc(1, sizeof(*m));
	m->kind = OUT_TEXT;
	m->len = strlen(text);
	m->data = xstrndup(text, m->len);
	m->frag = frag;
	enqueue(c, m);
}

void sm_send_json(struct sd *d, struct conn *c, cJSON *j, size_t frag)
{
	char *text = json_print(j);
	cJSON *rec = rec_for(c);
	sm_send_text(c, text, frag);
	free(text);
	if (frag)
		cJSON_AddNumberToObject(rec, "fragment_bytes", (double)frag);
	cJSON_AddItemToObject(rec, "body", j);
	record_add(d, "ws_out", rec);
}

void sm_close(struct conn *c, int code, const char *reason)
{
	struct outmsg *m = xcalloc(1, sizeof(*m));
	m->kind = OUT_CLOSE;
	m->close_code = code;
	m->data = xstrndup(reason ? reason : "", reason ? strnlen(reason, 120) : 0);
	m->len = strlen(m->data);
	c->closing = true;
	enqueue(c, m);
}

void sm_drop(struct conn *c)
{
	struct outmsg *m = xcalloc(1, sizeof(*m));
	m->kind = OUT_DROP;
	c->closing = true;
	/* Ahead of anything queued: the point is that nothing more arrives. */
	m->next = c->q_head;
	c->q_head = m;
	if (c->q_tail == NULL)
		c->q_tail = m;
	lws_callback_on_writable(c->wsi);
}

static bool usable(const struct conn *c)
{
	return !c->rejected && !c->closing;
}

struct conn *sm_conn(struct sd *d, int id)
{
	for (struct conn *c = d->conns; c; c = c->next)
		if (c->id == id && usable(c))
			return c;
	return NULL;
}

int sm_count(struct sd *d)
{
	int n = 0;
	for (struct conn *c = d->conns; c; c = c->next)
		n += usable(c);
	return n;
}

struct conn *sm_next_conn(struct sd *d)
{
	struct conn *best = NULL, *first = NULL;
	for (struct conn *c = d->conns; c; c = c->next) {
		if (!usable(c))
			continue;
		if (first == NULL || c->id < first->id)
			first = c;
		if (c->id > d->rr && (best == NULL || c->id < best->id))
			best = c;
	}
	if (best == NULL)
		best = first;
	if (best)
		d->rr = best->id;
	return best;
}

static void send_hello(struct sd *d, struct conn *c)
{
	cJSON *j = cJSON_CreateObject(), *ci, *dbg;
	char started[32];
	cJSON_AddStringToObject(j, "type", "hello");
	cJSON_AddNumberToObject(j, "num_connections", sm_count(d));
	ci = cJSON_AddObjectToObject(j, "connection_info");
	cJSON_AddStringToObject(ci, "app_id", SD_APP_ID);
	dbg = cJSON_AddObjectToObject(j, "debug_info");
	cJSON_AddStringToObject(dbg, "host", "slackdouble");
	cJSON_AddNumberToObject(dbg, "build_number", 1);
	cJSON_AddNumberToObject(dbg, "approximate_connection_time", d->cfg.connection_time_s);
	format_time(c->opened_ms, started, sizeof(started));
	cJSON_AddStringToObject(dbg, "started", started);
	sm_send_json(d, c, j, 0);
}

static void on_established(struct sd *d, struct lws *wsi, struct wss *w)
{
	struct conn *c = xcalloc(1, sizeof(*c)), **pp;
	char arg[128];
	const char *ticket = lws_get_urlarg_by_name(wsi, "ticket=", arg, sizeof(arg));
	cJSON *rec;

	c->wsi = wsi;
	c->id = ++d->next_conn_id;
	c->opened_ms = now_ms();
	c->next_ping_mono = mono_ms() + d->cfg.ping_interval_ms;
	strlcpy0(c->ticket, ticket ? ticket : "", sizeof(c->ticket));
	buf_init(&c->rx, SD_MAX_WS_MESSAGE);
	c->rejected = sm_count(d) >= d->cfg.max_connections;
	for (pp = &d->conns; *pp; pp = &(*pp)->next)
		;
	*pp = c; /* appended: the list stays in id order */
	w->c = c;

	rec = rec_for(c);
	cJSON_AddStringToObject(rec, "ticket", c->ticket);
	cJSON_AddBoolToObject(rec, "rejected", c->rejected);
	cJSON_AddNumberToObject(rec, "num_connections", sm_count(d));
	record_add(d, "ws_open", rec);
	log_info("event=ws_open connection=%d rejected=%d", c->id, c->rejected);
	if (c->rejected) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "type", "disconnect");
		cJSON_AddStringToObject(j, "reason", "too_many_websockets");
		cJSON_AddItemToObject(j, "debug_info", cJSON_CreateObject());
		cJSON_AddStringToObject(cJSON_GetObjectItem(j, "debug_info"), "host", "slackdouble");
		sm_send_json(d, c, j, 0);
		c->close_at_mono = mono_ms() + 100;
		return;
	}
	send_hello(d, c);
	env_on_hello(d, c);
}

static void on_message(struct sd *d, struct conn *c)
{
	cJSON *rec = rec_for(c);
	c->frames_in++;
	if (c->rx_overflow) {
		cJSON_AddBoolToObject(rec, "too_large", true);
		record_add(d, "ws_in", rec);
		sm_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
	} else if (c->rx_binary) {
		cJSON_AddBoolToObject(rec, "binary", true);
		cJSON_AddNumberToObject(rec, "length", (double)c->rx.len);
		record_add(d, "ws_in", rec);
	} else {
		cJSON *j = cJSON_ParseWithLength(c->rx.data ? c->rx.data : "", c->rx.len);
		if (j == NULL) {
			cJSON_AddStringToObject(rec, "text", c->rx.data ? c->rx.data : "");
			cJSON_AddBoolToObject(rec, "invalid_json", true);
		}
		env_on_client_json(d, c, j, rec); /* annotates rec (ack or not) */
		cJSON_AddItemToObject(rec, "body", j ? j : cJSON_CreateNull());
		record_add(d, "ws_in", rec);
	}
	buf_reset(&c->rx);
	c->rx_overflow = false;
}

static void on_receive(struct sd *d, struct lws *wsi, struct conn *c, const void *in, size_t len)
{
	if (lws_is_first_fragment(wsi)) {
		buf_reset(&c->rx);
		c->rx_overflow = false;
		c->rx_binary = lws_frame_is_binary(wsi);
	}
	if (!c->rx_overflow && buf_append(&c->rx, in, len) < 0)
		c->rx_overflow = true;
	if (lws_is_final_fragment(wsi))
		on_message(d, c);
}

/* Writes one queued action. Returns -1 to close the connection. */
static int on_writeable(struct lws *wsi, struct conn *c)
{
	struct outmsg *m;
	unsigned char *buf;
	int rc = 0;

	if (c->ping_pending) {
		unsigned char pb[LWS_PRE + 64];
		int n = snprintf((char *)pb + LWS_PRE, 64, "slackdouble-ping-%u", c->pings_sent + 1);
		c->ping_pending = false;
		if (lws_write(wsi, pb + LWS_PRE, (size_t)n, LWS_WRITE_PING) < 0)
			return -1;
		c->pings_sent++;
		c->ping_sent_mono = mono_ms();
		goto more;
	}
	m = c->q_head;
	if (m == NULL)
		return 0; /* unasked writeable */
	if (m->kind == OUT_DROP) {
		/* No close frame: shut the socket; lws sees the hangup and closes. */
		shutdown(lws_get_socket_fd(wsi), SHUT_RDWR);
		c->dropped = true;
		return 0;
	}
	if (m->kind == OUT_CLOSE) {
		lws_close_reason(wsi, (enum lws_close_status)m->close_code,
				 (unsigned char *)m->data, m->len);
		c->server_closed = true;
		return -1;
	}
	{
		size_t n = m->frag && m->len - m->off > m->frag ? m->frag : m->len - m->off;
		bool start = m->off == 0, fin = m->off + n == m->len;
		buf = xmalloc(LWS_PRE + n + 1);
		memcpy(buf + LWS_PRE, m->data + m->off, n);
		if (lws_write(wsi, buf + LWS_PRE, n,
			      (enum lws_write_protocol)lws_write_ws_flags(LWS_WRITE_TEXT, start,
									  fin)) < (int)n)
			rc = -1;
		free(buf);
		m->off += n;
		if (!fin)
			goto more;
	}
	c->frames_out++;
	c->q_head = m->next;
	if (c->q_head == NULL)
		c->q_tail = NULL;
	free(m->data);
	free(m);
	if (rc < 0)
		return -1;
more:
	if (c->q_head || c->ping_pending)
		lws_callback_on_writable(wsi);
	return 0;
}

static void on_closed(struct sd *d, struct conn *c)
{
	cJSON *rec = rec_for(c);
	struct outmsg *m;
	const char *how = c->dropped	     ? "server_drop"
			  : c->server_closed ? "server_close"
			  : c->close_code    ? "client_close"
					     : "client_hangup"; /* TCP closed with no close frame */
	cJSON_AddStringToObject(rec, "how", how);
	if (c->close_code)
		cJSON_AddNumberToObject(rec, "code", c->close_code);
	record_add(d, "ws_close", rec);
	log_info("event=ws_close connection=%d how=%s code=%d", c->id, how, c->close_code);
	for (struct conn **pp = &d->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	while ((m = c->q_head) != NULL) {
		c->q_head = m->next;
		free(m->data);
		free(m);
	}
	buf_release(&c->rx);
	free(c);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	struct wss *w = user;
	struct sd *d = sd_of(wsi);

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* New connections are bound to this default protocol, so the gate runs here. */
		return in && strcmp((const char *)in, "websocket") == 0
			       ? http_confirm_upgrade(d, wsi)
			       : -1;
	case LWS_CALLBACK_ESTABLISHED:
		on_established(d, wsi, w);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (w->c)
			on_receive(d, wsi, w->c, in, len);
		return 0;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (w->c) {
			cJSON *rec = rec_for(w->c);
			char *payload = xstrndup(in ? in : "", len < 125 ? len : 125);
			w->c->pongs++;
			w->c->last_pong_ms = now_ms();
			cJSON_AddStringToObject(rec, "payload", payload);
			if (w->c->ping_sent_mono)
				cJSON_AddNumberToObject(rec, "rtt_ms",
							(double)(mono_ms() - w->c->ping_sent_mono));
			free(payload);
			record_add(d, "pong", rec);
		}
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return w->c ? on_writeable(wsi, w->c) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (w->c && len >= 2)
			w->c->close_code = ((const unsigned char *)in)[0] << 8 |
					   ((const unsigned char *)in)[1];
		else if (w->c)
			w->c->close_code = LWS_CLOSE_STATUS_NO_STATUS;
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (w->c)
			on_closed(d, w->c);
		w->c = NULL;
		return 0;
	default:
		break;
	}
	return 0;
}

void sm_tick(struct sd *d, int64_t mono)
{
	for (struct conn *c = d->conns; c; c = c->next) {
		if (c->drop_at_mono && mono >= c->drop_at_mono) {
			c->drop_at_mono = 0;
			sm_drop(c);
		}
		if (c->close_at_mono && mono >= c->close_at_mono) {
			c->close_at_mono = 0;
			sm_close(c, LWS_CLOSE_STATUS_NORMAL, "");
		}
		if (d->cfg.ping_interval_ms <= 0 || d->pings_stopped || c->pings_stopped ||
		    c->stalled || c->closing || mono < c->next_ping_mono)
			continue;
		c->next_ping_mono = mono + d->cfg.ping_interval_ms;
		c->ping_pending = true;
		lws_callback_on_writable(c->wsi);
	}
}

cJSON *sm_describe(struct sd *d)
{
	cJSON *arr = cJSON_CreateArray();
	for (struct conn *c = d->conns; c; c = c->next) {
		cJSON *o = cJSON_CreateObject();
		size_t queued = 0;
		for (struct outmsg *m = c->q_head; m; m = m->next)
			queued++;
		cJSON_AddNumberToObject(o, "id", c->id);
		cJSON_AddStringToObject(o, "ticket", c->ticket);
		cJSON_AddStringToObject(o, "state",
					c->rejected ? "rejected" : (c->closing ? "closing" : "open"));
		cJSON_AddNumberToObject(o, "opened_at_ms", (double)c->opened_ms);
		cJSON_AddBoolToObject(o, "stalled", c->stalled);
		cJSON_AddBoolToObject(o, "pings_stopped", c->pings_stopped || d->pings_stopped);
		cJSON_AddNumberToObject(o, "pings_sent", c->pings_sent);
		cJSON_AddNumberToObject(o, "pongs", c->pongs);
		if (c->last_pong_ms)
			cJSON_AddNumberToObject(o, "last_pong_at_ms", (double)c->last_pong_ms);
		cJSON_AddNumberToObject(o, "frames_in", c->frames_in);
		cJSON_AddNumberToObject(o, "frames_out", c->frames_out);
		cJSON_AddNumberToObject(o, "queued", (double)queued);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

void sm_shutdown(struct sd *d)
{
	/* The context's destruction closed every socket (CLOSED freed each conn); this
	 * only covers a connection lws never reported closed. */
	while (d->conns) {
		struct conn *c = d->conns;
		struct outmsg *m;
		d->conns = c->next;
		while ((m = c->q_head) != NULL) {
			c->q_head = m->next;
			free(m->data);
			free(m);
		}
		buf_release(&c->rx);
		free(c);
	}
}

const struct lws_protocols sd_ws_protocol = {
	.name = "slack-socket-mode",
	.callback = ws_callback,
	.per_session_data_size = sizeof(struct wss),
	.rx_buffer_size = 4096, /* bigger messages arrive in pieces: reassembled */
};
