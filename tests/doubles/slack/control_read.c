/*
 * This file contains the control routes that read the double's state (log,
 * messages, connections, envelopes), the ones that change its settings
 * (config, reset), and the response_url endpoint of interactive payloads.
 */
#include "sd.h"

#include <stdlib.h>
#include <string.h>

void ctl_log(struct sd *d, const cJSON *in, struct reply *r)
{
	cJSON *arr = record_query(d, jint(in, "since", 0), jstr(in, "kind"), jstr(in, "method"));
	reply_json(r, 200, arr);
}

void ctl_messages(struct sd *d, const cJSON *in, struct reply *r)
{
	reply_json(r, 200, slack_messages_view(d, jstr(in, "channel")));
}

void ctl_connections(struct sd *d, const cJSON *in, struct reply *r)
{
	(void)in;
	reply_json(r, 200, sm_describe(d));
}

void ctl_envelopes(struct sd *d, const cJSON *in, struct reply *r)
{
	(void)in;
	reply_json(r, 200, env_describe(d));
}

void ctl_reset(struct sd *d, const cJSON *in, struct reply *r)
{
	cJSON *j = cJSON_CreateObject();
	record_reset(d);
	slack_reset(d);
	env_reset(d);
	cJSON_Delete(d->fail_rules);
	d->fail_rules = cJSON_CreateArray();
	d->pings_stopped = false;
	for (struct conn *c = d->conns; c; c = c->next) {
		c->pings_stopped = false;
		if (c->stalled) {
			c->stalled = false;
			lws_rx_flow_control(c->wsi, 1);
		}
		if (jbool(in, "connections", false) && !c->closing)
			sm_drop(c);
	}
	cJSON_AddBoolToObject(j, "ok", true);
	reply_json(r, 200, j);
}

/* Sets *field from in[key] when present and within [lo, hi]; -1 when out of range. */
static int set_int(const cJSON *in, const char *key, int lo, int hi, int *field)
{
	long long v;
	if (!cJSON_HasObjectItem(in, key))
		return 0;
	v = jint(in, key, (long long)lo - 1);
	if (v < lo || v > hi)
		return -1;
	*field = (int)v;
	return 0;
}

void ctl_config(struct sd *d, const cJSON *in, struct reply *r)
{
	struct sd_config *c = &d->cfg;
	const cJSON *chans = cJSON_GetObjectItemCaseSensitive(in, "channels"), *ch;
	int ping = c->ping_interval_ms;
	cJSON *j;

	if (set_int(in, "ack_timeout_ms", 1, 3600000, &c->ack_timeout_ms) < 0 ||
	    set_int(in, "max_retries", 0, 100, &c->max_retries) < 0 ||
	    set_int(in, "ping_interval_ms", 0, 3600000, &c->ping_interval_ms) < 0 ||
	    set_int(in, "pacing_ms", 0, 3600000, &c->pacing_ms) < 0 ||
	    set_int(in, "max_connections", 1, SD_MAX_CONNS - 1, &c->max_connections) < 0 ||
	    set_int(in, "connection_time_s", 0, 86400 * 7, &c->connection_time_s) < 0) {
		reply_error(r, 400, "a setting is out of range");
		return;
	}
	if (cJSON_HasObjectItem(in, "echo_bot_messages"))
		c->echo_bot_messages = jbool(in, "echo_bot_messages", false);
	cJSON_ArrayForEach(ch, chans)
	{
		if (cJSON_IsString(ch) && ch->valuestring[0] && strlen(ch->valuestring) < 64)
			slack_add_channel(d, ch->valuestring);
	}
	if (ping != c->ping_interval_ms)
		for (struct conn *k = d->conns; k; k = k->next)
			k->next_ping_mono = mono_ms() + c->ping_interval_ms;
	j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "ok", true);
	cJSON_AddNumberToObject(j, "port", d->port);
	cJSON_AddNumberToObject(j, "ack_timeout_ms", c->ack_timeout_ms);
	cJSON_AddNumberToObject(j, "max_retries", c->max_retries);
	cJSON_AddNumberToObject(j, "ping_interval_ms", c->ping_interval_ms);
	cJSON_AddNumberToObject(j, "pacing_ms", c->pacing_ms);
	cJSON_AddNumberToObject(j, "max_connections", c->max_connections);
	cJSON_AddNumberToObject(j, "connection_time_s", c->connection_time_s);
	cJSON_AddBoolToObject(j, "echo_bot_messages", c->echo_bot_messages);
	chans = cJSON_AddArrayToObject(j, "channels");
	cJSON_ArrayForEach(ch, d->channels)
	{
		cJSON_AddItemToArray((cJSON *)chans, cJSON_CreateString(ch->string));
	}
	reply_json(r, 200, j);
}

/* Applies replace_original / delete_original to the message a response_url is about. */
static void apply_response(struct sd *d, const cJSON *target, const cJSON *body)
{
	const char *ch = jstr(target, "channel"), *ts = jstr(target, "ts");
	cJSON *msgs = slack_channel_messages(d, ch), *m = slack_find_message(d, ch, ts);
	const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(body, "blocks");
	char ets[24];
	cJSON *edited;

	if (m == NULL)
		return;
	if (jbool(body, "delete_original", false)) {
		cJSON_Delete(cJSON_DetachItemViaPointer(msgs, m));
		return;
	}
	if (!jbool(body, "replace_original", false))
		return;
	if (jstr(body, "text")) {
		cJSON_DeleteItemFromObjectCaseSensitive(m, "text");
		cJSON_AddStringToObject(m, "text", jstr(body, "text"));
	}
	if (cJSON_IsArray(blocks)) {
		cJSON_DeleteItemFromObjectCaseSensitive(m, "blocks");
		cJSON_AddItemToObject(m, "blocks", cJSON_Duplicate(blocks, 1));
	}
	slack_next_ts(d, ets);
	edited = cJSON_CreateObject();
	cJSON_AddStringToObject(edited, "user", SD_BOT_USER);
	cJSON_AddStringToObject(edited, "ts", ets);
	cJSON_DeleteItemFromObjectCaseSensitive(m, "edited");
	cJSON_AddItemToObject(m, "edited", edited);
}

void ctl_response_url(struct sd *d, const struct request *rq, const char *id, struct reply *r)
{
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(d->response_urls, id);
	const char *err = NULL;
	cJSON *body, *rec;

	if (target == NULL) {
		reply_error(r, 404, "no_such_response_url");
		return;
	}
	if (strcmp(rq->http_method, "POST") != 0) {
		reply_error(r, 405, "method_not_allowed");
		return;
	}
	body = params_parse_body(rq->content_type ? rq->content_type : "application/json",
				 rq->body, rq->body_len, &err);
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "id", id);
	if (jstr(target, "channel"))
		cJSON_AddStringToObject(rec, "channel", jstr(target, "channel"));
	if (jstr(target, "ts"))
		cJSON_AddStringToObject(rec, "ts", jstr(target, "ts"));
	if (body == NULL) {
		cJSON_AddStringToObject(rec, "text", rq->body);
		record_add(d, "response_url", rec);
		reply_error(r, 400, err);
		return;
	}
	apply_response(d, target, body);
	cJSON_AddItemToObject(rec, "body", body);
	record_add(d, "response_url", rec);
	rec = cJSON_CreateObject();
	cJSON_AddBoolToObject(rec, "ok", true);
	reply_json(r, 200, rec);
}
