/*
 * This file contains envelope delivery. An envelope goes to the connection
 * asked for, else round-robin over the open ones; with none open it waits
 * for the next hello. Each send starts the ack timer. An events_api envelope
 * not acked in time is sent again with the same envelope_id and payload
 * (so the same event_id), retry_attempt + 1 and retry_reason "timeout", at
 * most max_retries times; then it is marked expired. interactive and
 * slash_commands envelopes are not redelivered (Slack shows the user an
 * error instead); they only expire. Acks are matched by envelope_id.
 */
#include "sd.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

static void env_free(struct envelope *e)
{
	free(e->event_id);
	free(e->event_type);
	cJSON_Delete(e->payload);
	cJSON_Delete(e->ack_payload);
	cJSON_Delete(e->sent_to);
	free(e);
}

void env_reset(struct sd *d)
{
	while (d->envs) {
		struct envelope *e = d->envs;
		d->envs = e->next;
		env_free(e);
	}
	d->envs_tail = NULL;
	d->n_envs = 0;
}

struct envelope *env_find(struct sd *d, const char *id)
{
	for (struct envelope *e = d->envs; e && id; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

/* Sends e once to conn_id (0: pinned or round-robin). -1 when nothing is open. */
static int env_send(struct sd *d, struct envelope *e, int conn_id, const char *reason)
{
	struct conn *c = NULL;
	cJSON *frame;

	if (conn_id)
		c = sm_conn(d, conn_id);
	if (c == NULL && e->pinned_conn)
		c = sm_conn(d, e->pinned_conn);
	if (c == NULL)
		c = sm_next_conn(d);
	if (c == NULL) {
		e->waiting = true;
		e->deadline_mono = 0;
		return -1;
	}
	e->waiting = false;
	e->retry_attempt = e->deliveries;
	strlcpy0(e->retry_reason, e->deliveries ? reason : "", sizeof(e->retry_reason));
	frame = cJSON_CreateObject();
	cJSON_AddStringToObject(frame, "envelope_id", e->id);
	cJSON_AddStringToObject(frame, "type", e->type);
	cJSON_AddBoolToObject(frame, "accepts_response_payload", e->accepts_response_payload);
	if (strcmp(e->type, "events_api") == 0) {
		cJSON_AddNumberToObject(frame, "retry_attempt", e->retry_attempt);
		cJSON_AddStringToObject(frame, "retry_reason", e->retry_reason);
	}
	cJSON_AddItemToObject(frame, "payload", cJSON_Duplicate(e->payload, 1));
	sm_send_json(d, c, frame, 0);
	e->deliveries++;
	e->last_sent_ms = now_ms();
	if (e->first_sent_ms == 0)
		e->first_sent_ms = e->last_sent_ms;
	cJSON_AddItemToArray(e->sent_to, cJSON_CreateNumber(c->id));
	if (!e->acked)
		e->deadline_mono = mono_ms() + d->cfg.ack_timeout_ms;
	return 0;
}

struct envelope *env_submit(struct sd *d, const char *type, cJSON *payload, bool accepts_resp,
			    int conn_id, const char **err)
{
	struct envelope *e;
	const cJSON *inner = cJSON_GetObjectItemCaseSensitive(payload, "event");
	const char *et = jstr(inner, "type");

	if (d->n_envs >= SD_MAX_ENVELOPES) {
		*err = "too many envelopes; POST /_control/reset";
		cJSON_Delete(payload);
		return NULL;
	}
	if (conn_id != 0 && sm_conn(d, conn_id) == NULL) {
		*err = "no such open connection";
		cJSON_Delete(payload);
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	make_uuid(e->id);
	strlcpy0(e->type, type, sizeof(e->type));
	e->payload = payload;
	e->accepts_response_payload = accepts_resp;
	e->pinned_conn = conn_id;
	e->event_id = xstrdup(jstr(payload, "event_id"));
	if (et == NULL)
		et = jstr(payload, "type") ? jstr(payload, "type") : jstr(payload, "command");
	e->event_type = xstrdup(et);
	e->created_ms = now_ms();
	e->sent_to = cJSON_CreateArray();
	if (d->envs_tail)
		d->envs_tail->next = e;
	else
		d->envs = e;
	d->envs_tail = e;
	d->n_envs++;
	env_send(d, e, conn_id, "");
	return e;
}

int env_redeliver(struct sd *d, struct envelope *e, int conn_id, const char *reason)
{
	if (conn_id != 0 && sm_conn(d, conn_id) == NULL)
		return -1;
	return env_send(d, e, conn_id, reason ? reason : "timeout");
}

void env_on_hello(struct sd *d, struct conn *c)
{
	for (struct envelope *e = d->envs; e; e = e->next)
		if (e->waiting)
			env_send(d, e, c->id, "timeout");
}

void env_on_client_json(struct sd *d, struct conn *c, const cJSON *msg, cJSON *rec)
{
	const char *id = jstr(msg, "envelope_id");
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(msg, "payload");
	struct envelope *e;

	cJSON_AddBoolToObject(rec, "ack", id != NULL);
	if (id == NULL)
		return;
	cJSON_AddStringToObject(rec, "envelope_id", id);
	e = env_find(d, id);
	if (e == NULL) {
		cJSON_AddBoolToObject(rec, "unknown_envelope", true);
		return;
	}
	e->acks++;
	if (e->acked) {
		cJSON_AddBoolToObject(rec, "duplicate_ack", true);
		return;
	}
	e->acked = true;
	e->ack_ms = now_ms();
	e->ack_conn = c->id;
	e->deadline_mono = 0;
	cJSON_AddNumberToObject(rec, "ack_latency_ms", (double)(e->ack_ms - e->last_sent_ms));
	if (e->expired)
		cJSON_AddBoolToObject(rec, "late", true);
	if (payload != NULL) {
		e->ack_payload = cJSON_Duplicate(payload, 1);
		if (!e->accepts_response_payload)
			cJSON_AddBoolToObject(rec, "payload_not_accepted", true);
	}
}

void env_tick(struct sd *d, int64_t mono)
{
	for (struct envelope *e = d->envs; e; e = e->next) {
		if (e->acked || e->deadline_mono == 0 || mono < e->deadline_mono)
			continue;
		e->deadline_mono = 0;
		if (strcmp(e->type, "events_api") == 0 && e->deliveries - 1 < d->cfg.max_retries) {
			env_send(d, e, 0, "timeout");
			continue;
		}
		if (!e->expired) {
			cJSON *rec = cJSON_CreateObject();
			e->expired = true;
			cJSON_AddStringToObject(rec, "envelope_id", e->id);
			cJSON_AddNumberToObject(rec, "deliveries", e->deliveries);
			record_add(d, "envelope_expired", rec);
			log_info("event=envelope_expired envelope=%s deliveries=%d", e->id,
				 e->deliveries);
		}
	}
}

cJSON *env_describe(struct sd *d)
{
	cJSON *arr = cJSON_CreateArray();
	for (struct envelope *e = d->envs; e; e = e->next) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "envelope_id", e->id);
		cJSON_AddStringToObject(o, "type", e->type);
		if (e->event_id)
			cJSON_AddStringToObject(o, "event_id", e->event_id);
		if (e->event_type)
			cJSON_AddStringToObject(o, "event_type", e->event_type);
		cJSON_AddBoolToObject(o, "accepts_response_payload", e->accepts_response_payload);
		cJSON_AddNumberToObject(o, "delivery_count", e->deliveries);
		cJSON_AddNumberToObject(o, "retry_attempt", e->retry_attempt);
		cJSON_AddBoolToObject(o, "acked", e->acked);
		cJSON_AddNumberToObject(o, "acks", e->acks);
		if (e->acked) {
			cJSON_AddNumberToObject(o, "ack_latency_ms",
						(double)(e->ack_ms - e->last_sent_ms));
			cJSON_AddNumberToObject(o, "ack_connection", e->ack_conn);
			if (e->ack_payload)
				cJSON_AddItemToObject(o, "ack_payload",
						      cJSON_Duplicate(e->ack_payload, 1));
		}
		cJSON_AddBoolToObject(o, "expired", e->expired);
		cJSON_AddBoolToObject(o, "waiting", e->waiting);
		cJSON_AddItemToObject(o, "sent_to", cJSON_Duplicate(e->sent_to, 1));
		cJSON_AddNumberToObject(o, "created_at_ms", (double)e->created_ms);
		if (e->first_sent_ms)
			cJSON_AddNumberToObject(o, "first_sent_at_ms", (double)e->first_sent_ms);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}
