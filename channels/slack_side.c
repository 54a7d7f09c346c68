/*
 * This file contains the side items of the Slack queue (slack.h): outbox
 * rows that are not messages in an incident's thread.
 *   dm      a DM to one user (escalation, widening): conversations.open,
 *           then chat.postMessage in that conversation, linking the
 *           incident's thread; it waits for the thread DM_WAIT_MS at most
 *   header  the thread's first message updated to show a state
 *           (chat.update), then the reaction that goes with it
 *           (reactions.add: eyes on acknowledged, white_check_mark on
 *           resolved; already_reacted is success). Only the newest queued
 *           header of an incident is sent, one at a time.
 * Every call honours 429 (the queue pauses for Retry-After), retries 5xx and
 * network errors with the posts' backoff, resuming at the call that failed,
 * and fails other errors, logged by code. The row is reported sent once its
 * last call is done: a restart repeats at most the calls of one row.
 */
#include "slack.h"

#include "http_client.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DM_WAIT_MS 15000 /* how long a DM waits for its incident's thread to link it */
#define FORM	   "application/x-www-form-urlencoded"
#define JSON	   "application/json; charset=utf-8"

static const char *jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static bool is_dm(const struct slack_item *it)
{
	return strcmp(it->kind, OUTBOX_DM) == 0;
}

static bool is_header(const struct slack_item *it)
{
	return it->side && !is_dm(it);
}

/* The reaction that goes with a header showing state, or NULL. */
static const char *reaction_of(const char *state)
{
	if (strcmp(state, "resolved") == 0)
		return "white_check_mark";
	if (strcmp(state, "acknowledged") == 0)
		return "eyes";
	return NULL;
}

/* The Web API method of it's next call. */
static const char *method_of(const struct slack_item *it)
{
	if (is_dm(it))
		return it->step == 0 ? "conversations.open" : "chat.postMessage";
	return it->step == 0 ? "chat.update" : "reactions.add";
}

/* True when a message of it's incident, queued before it, still waits. */
static bool message_ahead(struct slack *s, const struct slack_item *it)
{
	for (const struct slack_item *o = s->q_head; o && o != it; o = o->next)
		if (!o->side && o->incident_id == it->incident_id)
			return true;
	return false;
}

/* True when another header of it's incident is queued before (first) or after (newer) it. */
static bool header_queued(struct slack *s, const struct slack_item *it, bool before)
{
	for (const struct slack_item *o = before ? s->q_head : it->next; o && o != it; o = o->next)
		if (is_header(o) && o->incident_id == it->incident_id)
			return true;
	return false;
}

bool slack_side_ready(struct slack *s, struct slack_item *it, int64_t now, int64_t *wake)
{
	int64_t until = it->queued_mono + DM_WAIT_MS;

	if (is_header(it))
		return !header_queued(s, it, true); /* headers of an incident go in order */
	if (it->step > 0 || slack_thread_of(s, it->incident_id) != NULL || now >= until ||
	    !message_ahead(s, it))
		return true;
	if (*wake == 0 || until < *wake)
		*wake = until;
	return false;
}

/* The reference reported for it (where it landed). */
static void done_ref(struct slack *s, const struct slack_item *it, const cJSON *j, char *ref,
		     size_t reflen)
{
	const struct slack_thread *t = slack_thread_of(s, it->incident_id);
	if (is_dm(it))
		snprintf(ref, reflen, "%s:%s", it->dm_channel, jstr(j, "ts") ? jstr(j, "ts") : "");
	else
		snprintf(ref, reflen, "%s:%s", s->channel_id, t ? t->ts : "");
}

/* A call of it answered ok: on to its next call, or it is done. */
static void step_done(struct slack *s, struct slack_item *it, const cJSON *j)
{
	const char *state = jstr(it->msg, "state");
	struct slack_thread *t = slack_thread_of(s, it->incident_id);
	char ref[96];

	if (is_dm(it) && it->step == 0) {
		const char *dm = jstr(cJSON_GetObjectItemCaseSensitive(j, "channel"), "id");
		if (dm == NULL) {
			slack_item_failed(s, it, method_of(it), 200, "no channel id");
			return;
		}
		strlcpy0(it->dm_channel, dm, sizeof(it->dm_channel));
		it->step = 1;
		it->attempts = 0;
		return;
	}
	if (is_header(it) && it->step == 0) {
		if (t != NULL)
			strlcpy0(t->shown, state, sizeof(t->shown));
		log_info("incident=%lld event=slack_header_update state=%s",
			 (long long)it->incident_id, state);
		if (reaction_of(state) != NULL) {
			it->step = 1;
			it->attempts = 0;
			return;
		}
	}
	done_ref(s, it, j, ref, sizeof(ref));
	log_info("incident=%lld event=slack_side_done kind=%s outbox=%lld ref=%s",
		 (long long)it->incident_id, it->kind, (long long)it->outbox_id, ref);
	slack_report(s, it, CHANNEL_SENT, ref, NULL, NULL, NULL);
	slack_item_remove(s, it);
}

static void side_done(void *arg, const struct http_response *r)
{
	struct slack_item *it = arg;
	struct slack *s = it->s;
	const char *method = method_of(it);
	int64_t now = mono_ms();
	cJSON *j = slack_parse_ok(r);
	const char *err = j ? jstr(j, "error") : NULL;
	char why[160] = "";
	enum slack_outcome o = OUT_OK;

	it->in_flight = false;
	s->in_flight--;
	if (err == NULL || strcmp(err, "already_reacted") != 0)
		o = slack_classify(s, method, r, j, now, why, sizeof(why));
	switch (o) {
	case OUT_RATE_LIMITED:
		log_warnx("incident=%lld event=slack_rate_limited method=%s retry_after_s=%s "
			  "outbox=%lld",
			  (long long)it->incident_id, method, why, (long long)it->outbox_id);
		break;
	case OUT_RETRY: slack_item_retry(it, method, now, r->status, why); break;
	case OUT_FAILED: slack_item_failed(s, it, method, r->status, why); break;
	case OUT_OK: step_done(s, it, j); break;
	}
	cJSON_Delete(j);
	slack_schedule_pump(s, 0);
}

static void call(struct slack *s, struct slack_item *it, const char *content_type,
		 const char *body)
{
	it->in_flight = true;
	s->in_flight++;
	slack_api_call(s, method_of(it), content_type, body, false, side_done, it);
}

/* The DM's text: why, the headline, and a link to the thread (short, for a phone). */
static char *dm_text(struct slack *s, const struct slack_item *it)
{
	const struct slack_thread *t = slack_thread_of(s, it->incident_id);
	const char *why = jstr(it->msg, "text"), *headline = jstr(it->msg, "headline");
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, why ? why : "");
	buf_puts(&b, ": ");
	slack_escape(&b, headline ? headline : "");
	if (t == NULL) {
		buf_printf(&b, " \xE2\x80\x94 in <#%s>", s->channel_id);
		return buf_detach(&b);
	}
	buf_printf(&b, " \xE2\x80\x94 <%sarchives/%s/p",
		   s->team_url[0] ? s->team_url : "https://slack.com/", s->channel_id);
	for (const char *p = t->ts; *p; p++)
		if (*p != '.')
			buf_append(&b, p, 1);
	buf_puts(&b, "|open the thread>");
	return buf_detach(&b);
}

static void dm_call(struct slack *s, struct slack_item *it)
{
	const char *user = jstr(it->msg, "user");
	cJSON *o;
	char *body, *text;

	if (user == NULL || *user == '\0' || strspn(user, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
						 strlen(user)) {
		slack_item_failed(s, it, method_of(it), 0, "no valid user id");
		return;
	}
	if (it->step == 0) {
		body = xasprintf("users=%s", user);
		call(s, it, FORM, body);
		free(body);
		return;
	}
	text = dm_text(s, it);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "channel", it->dm_channel);
	cJSON_AddStringToObject(o, "text", text);
	cJSON_AddBoolToObject(o, "unfurl_links", false);
	body = cJSON_PrintUnformatted(o);
	call(s, it, JSON, body);
	free(body);
	free(text);
	cJSON_Delete(o);
}

/* The outbox body of the incident's first Slack message (owned cJSON), or NULL. */
static cJSON *root_message(struct slack *s, int64_t incident)
{
	sqlite3_stmt *st = NULL;
	cJSON *m = NULL;
	if (sqlite3_prepare_v2(store_db(s->ch->env->store),
			       "SELECT body FROM outbox WHERE incident_id = ? AND channel = 'slack'"
			       " AND kind NOT IN ('" OUTBOX_DM "', '" OUTBOX_HEADER "')"
			       " ORDER BY id LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, incident);
	if (sqlite3_step(st) == SQLITE_ROW)
		m = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return m;
}

/* chat.update: the thread's first message as it was, showing state. */
static void header_update(struct slack *s, struct slack_item *it, const struct slack_thread *t,
			  const char *state)
{
	cJSON *root = root_message(s, it->incident_id), *o;
	char *body;

	if (root == NULL) {
		slack_item_failed(s, it, method_of(it), 0, "the thread's first message is unknown");
		return;
	}
	o = slack_blocks_object(root, state);
	cJSON_AddStringToObject(o, "channel", s->channel_id);
	cJSON_AddStringToObject(o, "ts", t->ts);
	body = cJSON_PrintUnformatted(o);
	call(s, it, JSON, body);
	free(body);
	cJSON_Delete(o);
	cJSON_Delete(root);
}

static void header_call(struct slack *s, struct slack_item *it)
{
	struct slack_thread *t = slack_thread_of(s, it->incident_id);
	const char *state = jstr(it->msg, "state");
	char *body;

	if (state == NULL || t == NULL) {
		slack_item_failed(s, it, method_of(it), 0, state ? "no thread" : "no state");
		return;
	}
	if (it->step == 0 && (t->shared || strcmp(t->shown, state) == 0 ||
			      header_queued(s, it, false))) {
		/* Nothing to show: a shared thread, shown already, or a newer header. */
		slack_report(s, it, CHANNEL_SENT, "", NULL, NULL, NULL);
		slack_item_remove(s, it);
		return;
	}
	if (it->step == 0) {
		header_update(s, it, t, state);
		return;
	}
	body = xasprintf("channel=%s&timestamp=%s&name=%s", s->channel_id, t->ts,
			 reaction_of(state));
	call(s, it, FORM, body);
	free(body);
}

void slack_side_dispatch(struct slack *s, struct slack_item *it)
{
	if (is_dm(it))
		dm_call(s, it);
	else
		header_call(s, it);
}
