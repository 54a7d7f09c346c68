/*
 * This file contains the control API that tests drive the double with:
 * /_control/<route>, JSON in (a POST body, or the query string) and JSON out
 * (HTTP 200, 400 on bad input, 404 on an unknown route or connection, 409
 * when no connection is open). It also serves the response_url endpoints
 * (/_response/<id>) handed out in block_actions and slash command payloads.
 * The route table is at the bottom; tests/doubles/README.md documents it.
 */
#include "sd.h"

#include <stdlib.h>
#include <string.h>

typedef void (*route_fn)(struct sd *d, const cJSON *in, struct reply *r);

static void bad(struct reply *r, const char *msg)
{
	reply_error(r, 400, msg);
}

static cJSON *okj(void)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "ok", true);
	return j;
}

/* The connections a command is for: {"connection": id}, else every open one. */
static int targets(struct sd *d, const cJSON *in, struct conn **out, int max, struct reply *r)
{
	int n = 0, id = (int)jint(in, "connection", 0);
	if (id != 0) {
		out[0] = sm_conn(d, id);
		if (out[0] == NULL) {
			reply_error(r, 404, "no_such_connection");
			return -1;
		}
		return 1;
	}
	for (struct conn *c = d->conns; c && n < max; c = c->next)
		if (!c->rejected && !c->closing)
			out[n++] = c;
	if (n == 0)
		reply_error(r, 409, "no_open_connection");
	return n ? n : -1;
}

static void reply_targets(struct reply *r, struct conn **cs, int n)
{
	cJSON *j = okj(), *ids = cJSON_AddArrayToObject(j, "connections");
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(ids, cJSON_CreateNumber(cs[i]->id));
	reply_json(r, 200, j);
}

static void reply_envelope(struct sd *d, struct reply *r, struct envelope *e, const char *err)
{
	cJSON *j;
	(void)d;
	if (e == NULL) {
		reply_error(r, strcmp(err, "no such open connection") ? 400 : 404, err);
		return;
	}
	j = okj();
	cJSON_AddStringToObject(j, "envelope_id", e->id);
	if (e->event_id)
		cJSON_AddStringToObject(j, "event_id", e->event_id);
	else
		cJSON_AddNullToObject(j, "event_id");
	cJSON_AddBoolToObject(j, "delivered", !e->waiting);
	if (cJSON_GetArraySize(e->sent_to) > 0)
		cJSON_AddItemToObject(j, "connection",
				      cJSON_Duplicate(cJSON_GetArrayItem(e->sent_to, 0), 1));
	reply_json(r, 200, j);
}

static void c_envelope(struct sd *d, const cJSON *in, struct reply *r)
{
	const char *type = jstr(in, "type");
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(in, "payload");
	const char *err = NULL;
	struct envelope *e;

	if (type == NULL || (strcmp(type, "events_api") && strcmp(type, "interactive") &&
			     strcmp(type, "slash_commands"))) {
		bad(r, "type must be events_api, interactive or slash_commands");
		return;
	}
	if (!cJSON_IsObject(payload)) {
		bad(r, "payload must be an object");
		return;
	}
	e = env_submit(d, type, cJSON_Duplicate(payload, 1),
		       jbool(in, "accepts_response_payload", strcmp(type, "slash_commands") == 0),
		       (int)jint(in, "connection", 0), &err);
	reply_envelope(d, r, e, err);
}

static void submit_built(struct sd *d, const cJSON *in, struct reply *r, const char *type,
			 cJSON *payload, const char *err, bool accepts)
{
	struct envelope *e;
	if (payload == NULL) {
		bad(r, err);
		return;
	}
	e = env_submit(d, type, payload, jbool(in, "accepts_response_payload", accepts),
		       (int)jint(in, "connection", 0), &err);
	reply_envelope(d, r, e, err);
}

static void c_event_message(struct sd *d, const cJSON *in, struct reply *r)
{
	const char *err = NULL;
	cJSON *p = ev_message(d, in, "message", &err);
	submit_built(d, in, r, "events_api", p, err, false);
}

static void c_event_app_mention(struct sd *d, const cJSON *in, struct reply *r)
{
	const char *err = NULL;
	cJSON *p = ev_message(d, in, "app_mention", &err), *j, *m;
	struct envelope *e, *e2;

	if (p == NULL || !jbool(in, "also_message", false)) {
		submit_built(d, in, r, "events_api", p, err, false);
		return;
	}
	/* Slack also sends the same text as a message event when subscribed to both. */
	m = cJSON_Duplicate(in, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(m, "ts");
	cJSON_AddStringToObject(m, "ts", jstr(cJSON_GetObjectItem(p, "event"), "ts"));
	e = env_submit(d, "events_api", p, false, (int)jint(in, "connection", 0), &err);
	p = ev_message(d, m, "message", &err);
	cJSON_Delete(m);
	e2 = e ? env_submit(d, "events_api", p, false, (int)jint(in, "connection", 0), &err) : NULL;
	if (e == NULL)
		cJSON_Delete(p);
	if (e == NULL || e2 == NULL) {
		reply_error(r, 400, err);
		return;
	}
	j = okj();
	cJSON_AddStringToObject(j, "envelope_id", e->id);
	cJSON_AddStringToObject(j, "event_id", e->event_id);
	cJSON_AddStringToObject(j, "message_envelope_id", e2->id);
	cJSON_AddStringToObject(j, "message_event_id", e2->event_id);
	cJSON_AddBoolToObject(j, "delivered", !e->waiting);
	reply_json(r, 200, j);
}

static void c_event_reaction(struct sd *d, const cJSON *in, struct reply *r)
{
	const char *err = NULL;
	cJSON *p = ev_reaction_added(d, in, &err);
	submit_built(d, in, r, "events_api", p, err, false);
}

static void c_block_actions(struct sd *d, const cJSON *in, struct reply *r)
{
	const char *err = NULL;
	cJSON *p = ev_block_actions(d, in, &err);
	submit_built(d, in, r, "interactive", p, err, false);
}

static void c_slash(struct sd *d, const cJSON *in, struct reply *r)
{
	const char *err = NULL;
	cJSON *p = ev_slash(d, in, &err);
	submit_built(d, in, r, "slash_commands", p, err, true);
}

static void c_redeliver(struct sd *d, const cJSON *in, struct reply *r)
{
	struct envelope *e = env_find(d, jstr(in, "envelope_id"));
	cJSON *j;
	if (e == NULL) {
		reply_error(r, 404, "no_such_envelope");
		return;
	}
	if (env_redeliver(d, e, (int)jint(in, "connection", 0), jstr(in, "reason")) < 0) {
		reply_error(r, 409, "no_open_connection");
		return;
	}
	j = okj();
	cJSON_AddStringToObject(j, "envelope_id", e->id);
	cJSON_AddNumberToObject(j, "retry_attempt", e->retry_attempt);
	reply_json(r, 200, j);
}

static void c_disconnect(struct sd *d, const cJSON *in, struct reply *r)
{
	static const char *reasons[] = {"warning", "refresh_requested", "link_disabled",
					"too_many_websockets"};
	const char *reason = jstr(in, "reason") ? jstr(in, "reason") : "refresh_requested";
	struct conn *cs[SD_MAX_CONNS];
	long long close_ms = jint(in, "close_after_ms", -1), drop_ms = jint(in, "drop_after_ms", -1);
	bool known = false;
	int n;

	for (size_t i = 0; i < ARRAY_LEN(reasons); i++)
		known |= strcmp(reasons[i], reason) == 0;
	if (!known && !jbool(in, "any_reason", false)) {
		bad(r, "reason must be warning, refresh_requested, link_disabled or "
		       "too_many_websockets (or set any_reason)");
		return;
	}
	if ((n = targets(d, in, cs, SD_MAX_CONNS, r)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		cJSON *j = cJSON_CreateObject(), *dbg;
		cJSON_AddStringToObject(j, "type", "disconnect");
		cJSON_AddStringToObject(j, "reason", reason);
		dbg = cJSON_AddObjectToObject(j, "debug_info");
		cJSON_AddStringToObject(dbg, "host", "slackdouble");
		sm_send_json(d, cs[i], j, 0);
		if (close_ms >= 0)
			cs[i]->close_at_mono = mono_ms() + close_ms;
		if (drop_ms >= 0)
			cs[i]->drop_at_mono = mono_ms() + drop_ms;
	}
	reply_targets(r, cs, n);
}

static void c_drop(struct sd *d, const cJSON *in, struct reply *r)
{
	struct conn *cs[SD_MAX_CONNS];
	int n = targets(d, in, cs, SD_MAX_CONNS, r);
	for (int i = 0; i < n; i++)
		sm_drop(cs[i]);
	if (n > 0)
		reply_targets(r, cs, n);
}

static void c_close(struct sd *d, const cJSON *in, struct reply *r)
{
	struct conn *cs[SD_MAX_CONNS];
	int n = targets(d, in, cs, SD_MAX_CONNS, r);
	int code = (int)jint(in, "code", LWS_CLOSE_STATUS_NORMAL);
	for (int i = 0; i < n; i++)
		sm_close(cs[i], code, jstr(in, "reason"));
	if (n > 0)
		reply_targets(r, cs, n);
}

static void set_pings(struct sd *d, const cJSON *in, struct reply *r, bool stop)
{
	struct conn *cs[SD_MAX_CONNS];
	int n;
	if (jint(in, "connection", 0) == 0) {
		d->pings_stopped = stop;
		for (struct conn *c = d->conns; c; c = c->next)
			c->pings_stopped = false;
		reply_json(r, 200, okj());
		return;
	}
	if ((n = targets(d, in, cs, 1, r)) < 0)
		return;
	cs[0]->pings_stopped = stop;
	reply_targets(r, cs, n);
}

static void c_stop_pings(struct sd *d, const cJSON *in, struct reply *r)
{
	set_pings(d, in, r, true);
}

static void c_start_pings(struct sd *d, const cJSON *in, struct reply *r)
{
	set_pings(d, in, r, false);
}

static void c_stall(struct sd *d, const cJSON *in, struct reply *r)
{
	struct conn *cs[SD_MAX_CONNS];
	bool stall = jbool(in, "stalled", true);
	int n = targets(d, in, cs, SD_MAX_CONNS, r);
	for (int i = 0; i < n; i++) {
		cs[i]->stalled = stall;
		lws_rx_flow_control(cs[i]->wsi, stall ? 0 : 1);
	}
	if (n > 0)
		reply_targets(r, cs, n);
}

static void c_raw(struct sd *d, const cJSON *in, struct reply *r)
{
	struct conn *cs[SD_MAX_CONNS];
	const char *text = jstr(in, "text");
	long long frag = jint(in, "fragment_bytes", 0);
	int n;
	if (text == NULL || frag < 0) {
		bad(r, "text (a string) is required; fragment_bytes >= 0");
		return;
	}
	if ((n = targets(d, in, cs, 1, r)) < 0)
		return;
	if (jint(in, "connection", 0) == 0) /* one connection, round-robin */
		cs[0] = sm_next_conn(d);
	sm_send_text(cs[0], text, (size_t)frag);
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddNumberToObject(rec, "connection", cs[0]->id);
	cJSON_AddStringToObject(rec, "text", text);
	cJSON_AddBoolToObject(rec, "raw", true);
	record_add(d, "ws_out", rec);
	reply_targets(r, cs, 1);
}

static void c_fail(struct sd *d, const cJSON *in, struct reply *r)
{
	const char *err = NULL;
	cJSON *j;
	if (jbool(in, "clear", false)) {
		cJSON_Delete(d->fail_rules);
		d->fail_rules = cJSON_CreateArray();
	} else if (fail_add(d, in, &err) < 0) {
		bad(r, err);
		return;
	}
	j = okj();
	cJSON_AddItemToObject(j, "rules", cJSON_Duplicate(d->fail_rules, 1));
	reply_json(r, 200, j);
}

static const struct {
	const char *method; /* HTTP method */
	const char *route;
	route_fn fn;
} routes[] = {
	{"POST", "envelope", c_envelope},
	{"POST", "event/message", c_event_message},
	{"POST", "event/app_mention", c_event_app_mention},
	{"POST", "event/reaction_added", c_event_reaction},
	{"POST", "action/block_actions", c_block_actions},
	{"POST", "command/slash", c_slash},
	{"POST", "redeliver", c_redeliver},
	{"POST", "disconnect", c_disconnect},
	{"POST", "drop", c_drop},
	{"POST", "close", c_close},
	{"POST", "stop_pings", c_stop_pings},
	{"POST", "start_pings", c_start_pings},
	{"POST", "stall", c_stall},
	{"POST", "raw", c_raw},
	{"POST", "fail", c_fail},
	{"POST", "reset", ctl_reset},
	{"POST", "config", ctl_config},
	{"GET", "config", ctl_config},
	{"GET", "log", ctl_log},
	{"GET", "messages", ctl_messages},
	{"GET", "connections", ctl_connections},
	{"GET", "envelopes", ctl_envelopes},
};

void control_handle(struct sd *d, const struct request *rq, const char *route, struct reply *r)
{
	cJSON *in;
	const char *err = NULL;
	bool route_known = false;

	if (str_has_prefix(route, "_response/")) {
		ctl_response_url(d, rq, route + 10, r);
		return;
	}
	if (strcmp(rq->http_method, "GET") == 0) {
		in = cJSON_Duplicate(rq->query, 1);
	} else {
		in = rq->body_len ? cJSON_ParseWithLength(rq->body, rq->body_len)
				  : cJSON_CreateObject();
		if (!cJSON_IsObject(in)) {
			cJSON_Delete(in);
			bad(r, "the body must be a JSON object");
			return;
		}
	}
	(void)err;
	for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
		if (strcmp(routes[i].route, route) != 0)
			continue;
		route_known = true;
		if (strcmp(routes[i].method, rq->http_method) == 0) {
			routes[i].fn(d, in, r);
			cJSON_Delete(in);
			return;
		}
	}
	cJSON_Delete(in);
	reply_error(r, route_known ? 405 : 404, route_known ? "method_not_allowed" : "no_such_route");
}
