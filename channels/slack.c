/*
 * This file contains the Slack channel's ops and its outbox half. send()
 * queues a message and answers CHANNEL_PENDING; a pump posts the queue in
 * outbox order with chat.postMessage: the first message of an incident opens
 * its thread (the ts is kept, and stored in `threads` with the delivery),
 * every later one is a reply with thread_ts and waits until the thread has
 * its ts. Posts are paced (post_interval_ms per channel); 429 pauses the
 * queue for Retry-After; 5xx and network errors retry with backoff; other
 * {ok:false} errors fail the message, logged by code, and the ones retrying
 * cannot fix show in /healthz. When a reply changes the incident's state,
 * its delivery queues an outbox header row (channel_delivery.header_state);
 * header rows and escalation DMs are side items, delivered by
 * slack_side.c with the same retries, beside the thread order.
 *
 * Alert storms: when pacing holds back several new-incident messages of the
 * same Alertmanager group, they go out as ONE summary message whose thread
 * the incidents share; an incident that later needs a human (escalated)
 * gets a thread of its own.
 */
#include "slack.h"

#include "config.h"
#include "http_client.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IN_FLIGHT  16
#define BACKOFF_MAX_MS 60000
#define API_TIMEOUT_MS 10000
#define POST	       "chat.postMessage"

static void pump_cb(lws_sorted_usec_list_t *sul);

void slack_schedule_pump(struct slack *s, int64_t delay_ms)
{
	if (s->ch->env != NULL && !s->stopping)
		lws_sul_schedule(s->ch->env->ctx, 0, &s->pump_sul, pump_cb,
				 delay_ms <= 0 ? 1 : delay_ms * LWS_US_PER_MS);
}

bool slack_user_allowed(const struct slack *s, const char *user)
{
	if (user == NULL || *user == '\0')
		return false;
	if (s->n_allowed == 0)
		return true;
	for (size_t i = 0; i < s->n_allowed; i++)
		if (strcmp(s->allowed[i], user) == 0)
			return true;
	return false;
}

bool slack_error_is_fatal(const char *e)
{
	static const char *const fatal_errors[] = {
	    "channel_not_found",      "not_in_channel",	    "is_archived",
	    "invalid_auth",	      "not_authed",	    "account_inactive",
	    "token_revoked",	      "token_expired",	    "missing_scope",
	    "no_permission",	      "team_disabled",	    "user_removed_from_team",
	    "not_allowed_token_type", "org_login_required", "ekm_access_denied",
	};
	for (size_t i = 0; e && i < ARRAY_LEN(fatal_errors); i++)
		if (strcmp(e, fatal_errors[i]) == 0)
			return true;
	return false;
}

static bool error_is_transient(const char *e)
{
	return strcmp(e, "internal_error") == 0 || strcmp(e, "fatal_error") == 0 ||
	       strcmp(e, "service_unavailable") == 0 || strcmp(e, "request_timeout") == 0;
}

/* Backoff for the n-th consecutive failure: 1, 2, 4 … 60 s, with ±20 % jitter. */
int64_t slack_backoff_ms(int n)
{
	int64_t base = 1000LL << (n > 6 ? 6 : (n < 1 ? 0 : n - 1));
	if (base > BACKOFF_MAX_MS)
		base = BACKOFF_MAX_MS;
	return base - base / 5 + (int64_t)(random() % (base * 2 / 5 + 1));
}

void slack_api_call(struct slack *s, const char *method, const char *content_type, const char *body,
		    bool app_token, void (*done)(void *arg, const struct http_response *r),
		    void *arg)
{
	char url[1024];
	struct http_request rq = {
	    .method = "POST",
	    .url = url,
	    .content_type = content_type,
	    .bearer = app_token ? s->app_token : s->bot_token,
	    .body = body ? body : "",
	    .body_len = body ? strlen(body) : 0,
	    .timeout_ms = API_TIMEOUT_MS,
	    .done = done,
	    .arg = arg,
	};
	snprintf(url, sizeof(url), "%s%s", s->api_url, method);
	http_client_submit(s->ch->env->http, &rq);
}

/* The JSON object of a 200 response, or NULL. */
cJSON *slack_parse_ok(const struct http_response *r)
{
	const char *end = NULL;
	cJSON *j;
	if (r->status != 200)
		return NULL;
	j = cJSON_ParseWithOpts(r->body, &end, 1);
	if (j != NULL && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* ---- threads ---- */

struct slack_thread *slack_thread_of(struct slack *s, int64_t incident_id)
{
	size_t b = (size_t)incident_id % ARRAY_LEN(s->tbuckets);
	for (struct slack_thread *t = s->tbuckets[b]; t && incident_id; t = t->hnext)
		if (t->incident_id == incident_id)
			return t;
	return NULL;
}

int64_t slack_incident_of_ts(struct slack *s, const char *ts)
{
	for (struct slack_thread *t = s->threads; t && ts; t = t->next)
		if (strcmp(t->ts, ts) == 0)
			return t->incident_id;
	return 0;
}

static struct slack_thread *thread_add(struct slack *s, int64_t incident, const char *ts,
				       const char *state, bool shared)
{
	struct slack_thread *t = xcalloc(1, sizeof(*t));
	t->incident_id = incident;
	t->shared = shared;
	strlcpy0(t->ts, ts, sizeof(t->ts));
	strlcpy0(t->state, state ? state : "", sizeof(t->state));
	strlcpy0(t->shown, t->state, sizeof(t->shown));
	t->next = s->threads;
	s->threads = t;
	t->hnext = s->tbuckets[(size_t)incident % ARRAY_LEN(s->tbuckets)];
	s->tbuckets[(size_t)incident % ARRAY_LEN(s->tbuckets)] = t;
	s->n_threads++;
	return t;
}

/* Threads a previous run opened (the loop's store connection). */
static void load_threads(struct slack *s)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		store_db(s->ch->env->store),
		"SELECT incident_id, thread_ref,"
		" count(*) OVER (PARTITION BY thread_ref) > 1 FROM threads"
		" WHERE channel = 'slack' AND thread_ref IS NOT NULL ORDER BY incident_id",
		-1, &st, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW)
		thread_add(s, sqlite3_column_int64(st, 0), store_col_text(st, 1), "",
			   sqlite3_column_int(st, 2) != 0);
	sqlite3_finalize(st);
}

/* Envelopes a previous run recorded and acked but did not process (a crash). */
static void replay_inbox(struct slack *s)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	if (sqlite3_prepare_v2(store_db(s->ch->env->store),
			       "SELECT id, payload FROM inbox WHERE channel = 'slack'"
			       " AND processed_at IS NULL ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		slack_process(s, store_col_text(st, 1), sqlite3_column_int64(st, 0));
		n++;
	}
	sqlite3_finalize(st);
	if (n > 0)
		log_info("event=slack_inbox_replay envelopes=%zu", n);
}

/* ---- the queue ---- */

void slack_item_remove(struct slack *s, struct slack_item *it)
{
	struct slack_item **pp = &s->q_head, *prev = NULL;
	while (*pp && *pp != it) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = it->next;
	if (s->q_tail == it)
		s->q_tail = prev;
	for (struct slack_item *o = it->next; o; o = o->next)
		if (o->after == it)
			o->after = NULL; /* at most one: the next of the same incident */
	s->queued--;
	cJSON_Delete(it->msg);
	free(it);
}

void slack_report(struct slack *s, struct slack_item *it, enum channel_send_result res,
		  const char *ref, const char *thread_ref, const char *error, const char *header_state)
{
	struct channel_delivery dl = {
	    .channel = "slack",
	    .outbox_id = it->outbox_id,
	    .incident_id = it->incident_id,
	    .result = res,
	    .remote_ref = ref,
	    .thread_ref = thread_ref,
	    .error = error,
	    .header_state = header_state,
	};
	s->ch->env->delivered(s->ch->env->daemon, &dl);
}

enum slack_outcome slack_classify(struct slack *s, const char *method,
				  const struct http_response *r, const cJSON *j, int64_t now,
				  char *why, size_t whylen)
{
	const char *err = j ? jstr(j, "error") : NULL;

	if (r->status == 429 || (err && strcmp(err, "ratelimited") == 0)) {
		int secs = r->retry_after_s >= 0 ? r->retry_after_s : 30;
		s->paused_until = now + (int64_t)secs * 1000;
		snprintf(why, whylen, "%d", secs);
		return OUT_RATE_LIMITED;
	}
	if (r->status == 0 || r->status >= 500 || (r->status == 200 && j == NULL) ||
	    (err && error_is_transient(err))) {
		snprintf(why, whylen, "%.120s",
			 err ? err : (r->error[0] ? r->error : "bad response"));
		return OUT_RETRY;
	}
	if (j && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok")))
		return OUT_OK;
	if (r->status != 200)
		snprintf(why, whylen, "HTTP %d", r->status);
	else
		snprintf(why, whylen, "%.120s", err ? err : "ok:false without error");
	if (r->status != 200 || slack_error_is_fatal(err))
		snprintf(s->api_error, sizeof(s->api_error), "%s: %.120s", method, why);
	return OUT_FAILED;
}

void slack_item_retry(struct slack_item *it, const char *method, int64_t now, int status,
		      const char *why)
{
	it->attempts++;
	it->not_before = now + slack_backoff_ms(it->attempts);
	log_warnx("incident=%lld event=slack_retry method=%s outbox=%lld "
		  "attempt=%d status=%d error=\"%s\" retry_in_ms=%lld",
		  (long long)it->incident_id, method, (long long)it->outbox_id, it->attempts,
		  status, why, (long long)(it->not_before - now));
}

void slack_item_failed(struct slack *s, struct slack_item *it, const char *method, int status,
		       const char *why)
{
	log_error("incident=%lld event=slack_api_error method=%s outbox=%lld "
		  "status=%d error=%s",
		  (long long)it->incident_id, method, (long long)it->outbox_id, status, why);
	slack_report(s, it, CHANNEL_FAILED, NULL, NULL, why, NULL);
	slack_item_remove(s, it);
}

/*
 * The state a reply just delivered in thread t asks its header to show, or
 * NULL when the header needs no update (a storm's shared thread has none).
 */
static const char *header_change(struct slack_thread *t, const char *state)
{
	if (t == NULL || t->shared || state == NULL || *state == '\0' ||
	    strcmp(t->state, state) == 0)
		return NULL;
	strlcpy0(t->state, state, sizeof(t->state));
	return state;
}

static void post_done(void *arg, const struct http_response *r)
{
	struct slack_item *it = arg;
	struct slack *s = it->s;
	int64_t now = mono_ms();
	cJSON *j = slack_parse_ok(r);
	char why[160] = "";

	it->in_flight = false;
	s->in_flight--;
	switch (slack_classify(s, POST, r, j, now, why, sizeof(why))) {
	case OUT_RATE_LIMITED:
		log_warnx("incident=%lld event=slack_rate_limited method=chat.postMessage "
			  "retry_after_s=%s outbox=%lld",
			  (long long)it->incident_id, why, (long long)it->outbox_id);
		break;
	case OUT_RETRY: slack_item_retry(it, POST, now, r->status, why); break;
	case OUT_FAILED: slack_item_failed(s, it, POST, r->status, why); break;
	case OUT_OK: {
		const char *ts = jstr(j, "ts"), *chan = jstr(j, "channel");
		const char *state = jstr(it->msg, "state");
		char ref[96];
		struct slack_thread *t = slack_thread_of(s, it->incident_id);

		snprintf(ref, sizeof(ref), "%s:%s", chan ? chan : s->channel_id, ts ? ts : "");
		s->api_error[0] = '\0';
		if (it->root && ts) {
			if (t == NULL) {
				t = thread_add(s, it->incident_id, ts, state, false);
			} else { /* out of a shared storm thread into its own */
				strlcpy0(t->ts, ts, sizeof(t->ts));
				strlcpy0(t->state, state ? state : "", sizeof(t->state));
				strlcpy0(t->shown, t->state, sizeof(t->shown));
				t->shared = false;
			}
			slack_report(s, it, CHANNEL_SENT, ref, ts, NULL, NULL);
		} else {
			slack_report(s, it, CHANNEL_SENT, ref, NULL, NULL, header_change(t, state));
		}
		log_debug("incident=%lld event=slack_posted outbox=%lld kind=%s ts=%s root=%d "
			  "latency_ms=%lld",
			  (long long)it->incident_id, (long long)it->outbox_id, it->kind,
			  ts ? ts : "", it->root, (long long)(now - it->queued_mono));
		slack_item_remove(s, it);
		break;
	}
	}
	cJSON_Delete(j);
	slack_schedule_pump(s, 0);
}

/* ---- alert storms: one summary message for new incidents of one group ---- */

#define STORM_MAX   50 /* incidents per summary message */
#define STORM_LINES 15 /* listed by headline; the rest are counted */

struct storm {
	struct slack *s;
	size_t n;
	struct slack_item *items[STORM_MAX];
};

/* True when o may join a summary with leader: a new incident of the same group, ready now. */
static bool storm_member(struct slack *s, const struct slack_item *o, const char *group,
			 int64_t now)
{
	return !o->in_flight && o->after == NULL && o->not_before <= now && o->thread_start &&
	       o->incident_id != 0 && strcmp(o->group, group) == 0 &&
	       slack_thread_of(s, o->incident_id) == NULL;
}

static void storm_done(void *arg, const struct http_response *r)
{
	struct storm *st = arg;
	struct slack *s = st->s;
	int64_t now = mono_ms();
	cJSON *j = slack_parse_ok(r);
	char why[160] = "";
	enum slack_outcome o = slack_classify(s, POST, r, j, now, why, sizeof(why));
	const char *ts = j ? jstr(j, "ts") : NULL, *chan = j ? jstr(j, "channel") : NULL;
	char ref[96];

	s->in_flight--;
	snprintf(ref, sizeof(ref), "%s:%s", chan ? chan : s->channel_id, ts ? ts : "");
	if (o == OUT_OK)
		s->api_error[0] = '\0';
	if (o == OUT_RATE_LIMITED)
		log_warnx("event=slack_rate_limited method=chat.postMessage retry_after_s=%s "
			  "storm=%zu",
			  why, st->n);
	else if (o == OUT_OK)
		log_info("event=slack_storm_posted incidents=%zu ts=%s group=\"%.80s\"", st->n,
			 ts ? ts : "", st->items[0]->group);
	for (size_t i = 0; i < st->n; i++) {
		struct slack_item *it = st->items[i];
		it->in_flight = false;
		if (o == OUT_RETRY)
			slack_item_retry(it, POST, now, r->status, why);
		else if (o == OUT_FAILED)
			slack_item_failed(s, it, POST, r->status, why);
		else if (o == OUT_OK && ts) {
			thread_add(s, it->incident_id, ts, jstr(it->msg, "state"), true);
			slack_report(s, it, CHANNEL_SENT, ref, ts, NULL, NULL);
			slack_item_remove(s, it);
		}
	}
	cJSON_Delete(j);
	free(st);
	slack_schedule_pump(s, 0);
}

/* Posts leader and every other new incident of its group waiting now as one message. */
static void dispatch_storm(struct slack *s, struct slack_item *leader, int64_t now)
{
	struct storm *st = xcalloc(1, sizeof(*st));
	cJSON *o = cJSON_CreateObject(), *blocks = cJSON_CreateArray(), *sec, *txt;
	struct buf b, fb;
	char *body;

	st->s = s;
	for (struct slack_item *it = leader; it && st->n < STORM_MAX; it = it->next)
		if (storm_member(s, it, leader->group, now))
			st->items[st->n++] = it;
	buf_init(&b, 0);
	buf_init(&fb, 0);
	buf_printf(&b,
		   "\xF0\x9F\x8C\xA9 *%zu new incidents at once* from one alert group "
		   "\xE2\x80\x94 one message instead of %zu:",
		   st->n, st->n);
	for (size_t i = 0; i < st->n && i < STORM_LINES; i++) {
		const char *h = jstr(st->items[i]->msg, "headline");
		buf_puts(&b, "\n\xE2\x80\xA2 ");
		slack_escape(&b, h ? h : "");
		st->items[i]->in_flight = true;
	}
	for (size_t i = STORM_LINES; i < st->n; i++)
		st->items[i]->in_flight = true;
	if (st->n > STORM_LINES)
		buf_printf(&b, "\n\xE2\x80\xA6 and %zu more", st->n - STORM_LINES);
	buf_puts(&b, "\n_Replies about these incidents go in this thread; one that needs a "
		     "human gets a thread of its own._");
	buf_printf(&fb, "%zu new incidents at once: %s \xE2\x80\xA6", st->n,
		   jstr(leader->msg, "headline") ? jstr(leader->msg, "headline") : "");
	sec = cJSON_CreateObject();
	txt = cJSON_CreateObject();
	cJSON_AddStringToObject(sec, "type", "section");
	cJSON_AddStringToObject(txt, "type", "mrkdwn");
	cJSON_AddStringToObject(txt, "text", b.data);
	cJSON_AddItemToObject(sec, "text", txt);
	cJSON_AddItemToArray(blocks, sec);
	cJSON_AddStringToObject(o, "channel", s->channel_id);
	cJSON_AddStringToObject(o, "text", fb.data);
	cJSON_AddItemToObject(o, "blocks", blocks);
	cJSON_AddBoolToObject(o, "unfurl_links", false);
	body = cJSON_PrintUnformatted(o);
	s->in_flight++;
	slack_api_call(s, "chat.postMessage", "application/json; charset=utf-8", body, false,
		       storm_done, st);
	free(body);
	cJSON_Delete(o);
	buf_release(&b);
	buf_release(&fb);
}

/* How many new incidents of it's group could go out in one summary now. */
static size_t storm_size(struct slack *s, struct slack_item *it, int64_t now)
{
	size_t n = 0;
	if (s->post_interval_ms <= 0 || !it->thread_start || it->group[0] == '\0' ||
	    !storm_member(s, it, it->group, now))
		return 0;
	for (struct slack_item *o = it; o && n < 2; o = o->next)
		n += storm_member(s, o, it->group, now);
	return n;
}

/*
 * A reply about no incident with reply_to "C123:1712345678.000100" (the ref of
 * a message, as slack_events.c writes it) goes in that message's thread.
 */
static void reply_under(cJSON *o, const char *reply_to)
{
	const char *colon = reply_to ? strchr(reply_to, ':') : NULL;
	char chan[64];

	if (colon == NULL || colon == reply_to || colon[1] == '\0' ||
	    (size_t)(colon - reply_to) >= sizeof(chan))
		return;
	snprintf(chan, sizeof(chan), "%.*s", (int)(colon - reply_to), reply_to);
	cJSON_ReplaceItemInObjectCaseSensitive(o, "channel", cJSON_CreateString(chan));
	cJSON_AddStringToObject(o, "thread_ts", colon + 1);
}

static void dispatch(struct slack *s, struct slack_item *it)
{
	struct slack_thread *t = slack_thread_of(s, it->incident_id);
	const char *state = jstr(it->msg, "state");
	bool own = t != NULL && t->shared && state && strcmp(state, "escalated") == 0;
	bool opens = (t == NULL || own) && it->incident_id != 0;
	/* A message that opens a thread starts with the headline, whatever its kind. */
	cJSON *o =
	    slack_blocks_object(it->msg, opens && !it->thread_start ? (state ? state : "") : NULL);
	char *body;

	cJSON_AddStringToObject(o, "channel", s->channel_id);
	if (t != NULL && !own)
		cJSON_AddStringToObject(o, "thread_ts", t->ts);
	else if (it->incident_id == 0)
		reply_under(o, jstr(it->msg, "reply_to"));
	it->root = opens;
	cJSON_AddBoolToObject(o, "unfurl_links", false);
	cJSON_AddBoolToObject(o, "unfurl_media", false);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	it->in_flight = true;
	s->in_flight++;
	slack_api_call(s, "chat.postMessage", "application/json; charset=utf-8", body, false,
		       post_done, it);
	free(body);
}

/* True when it would open a thread: new incidents are announced before replies. */
static bool opens_thread(struct slack *s, const struct slack_item *it)
{
	return !it->side && it->incident_id != 0 && slack_thread_of(s, it->incident_id) == NULL;
}

/*
 * Posts what may go now: each incident's messages in order (it->after), at
 * most MAX_IN_FLIGHT at once, paced; when the queue is backed up, messages
 * that open a thread go before replies, so a new incident is never stuck
 * behind another's follow-ups. Side items (DMs, header updates) go with the
 * replies, when slack_side_ready() says so.
 */
static void pump(struct slack *s)
{
	int64_t now = mono_ms(), wake = 0;
	struct slack_item *next;

	if (now < s->paused_until) {
		slack_schedule_pump(s, s->paused_until - now);
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (struct slack_item *it = s->q_head; it && s->in_flight < MAX_IN_FLIGHT;
		     it = next) {
			next = it->next; /* a side item may be done (removed) at once */
			if (it->in_flight || it->after != NULL ||
			    opens_thread(s, it) != (pass == 0))
				continue;
			if (it->side && !slack_side_ready(s, it, now, &wake))
				continue;
			if (it->not_before > now) {
				if (wake == 0 || it->not_before < wake)
					wake = it->not_before;
				continue;
			}
			if (s->next_post > now) {
				if (wake == 0 || s->next_post < wake)
					wake = s->next_post;
				pass = 2;
				break;
			}
			if (it->side)
				slack_side_dispatch(s, it);
			else if (storm_size(s, it, now) >= 2)
				dispatch_storm(s, it, now);
			else
				dispatch(s, it);
			s->next_post = now + s->post_interval_ms;
		}
	}
	if (wake > 0)
		slack_schedule_pump(s, wake - now);
}

static void pump_cb(lws_sorted_usec_list_t *sul)
{
	pump(lws_container_of(sul, struct slack, pump_sul));
}

/* ---- auth.test ---- */

static void auth_test(struct slack *s);

static void auth_cb(lws_sorted_usec_list_t *sul)
{
	auth_test(lws_container_of(sul, struct slack, auth_sul));
}

static void auth_done(void *arg, const struct http_response *r)
{
	struct slack *s = arg;
	cJSON *j = slack_parse_ok(r);
	const char *err = j ? jstr(j, "error") : NULL;

	if (j && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"))) {
		strlcpy0(s->bot_user_id, jstr(j, "user_id") ? jstr(j, "user_id") : "",
			 sizeof(s->bot_user_id));
		strlcpy0(s->bot_id, jstr(j, "bot_id") ? jstr(j, "bot_id") : "", sizeof(s->bot_id));
		strlcpy0(s->team_url, jstr(j, "url") ? jstr(j, "url") : "", sizeof(s->team_url));
		s->auth_ok = true;
		log_info("event=slack_auth_ok user_id=%s bot_id=%s team=\"%.64s\"", s->bot_user_id,
			 s->bot_id, jstr(j, "team") ? jstr(j, "team") : "");
	} else if (err && slack_error_is_fatal(err)) {
		snprintf(s->api_error, sizeof(s->api_error), "auth.test: %s (check the bot token)",
			 err);
		log_error("event=slack_auth_failed error=%s hint=\"the bot token (xoxb-…) is wrong "
			  "or revoked\"",
			  err);
	} else {
		int64_t delay = slack_backoff_ms(++s->auth_attempts);
		log_warnx("event=slack_auth_retry status=%d error=\"%s\" retry_in_ms=%lld",
			  r->status, err ? err : (r->error[0] ? r->error : "bad response"),
			  (long long)delay);
		if (!s->stopping)
			lws_sul_schedule(s->ch->env->ctx, 0, &s->auth_sul, auth_cb,
					 delay * LWS_US_PER_MS);
	}
	cJSON_Delete(j);
}

static void auth_test(struct slack *s)
{
	slack_api_call(s, "auth.test", "application/x-www-form-urlencoded", "", false, auth_done,
		       s);
}

/* The incident's group key (loop store), "" when unknown. */
static void incident_group(struct slack *s, int64_t incident, char *out, size_t outlen)
{
	out[0] = '\0';
	if (s->group_st == NULL &&
	    sqlite3_prepare_v3(store_db(s->ch->env->store),
			       "SELECT group_key FROM incidents WHERE id = ?", -1,
			       SQLITE_PREPARE_PERSISTENT, &s->group_st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(s->group_st, 1, incident);
	if (sqlite3_step(s->group_st) == SQLITE_ROW)
		strlcpy0(out, store_col_text(s->group_st, 0), outlen);
	sqlite3_reset(s->group_st);
}

/* ---- the ops ---- */

static bool slack_enabled(const struct config *cfg)
{
	return cfg->slack.enabled;
}

static char **copy_users(const struct slack_user_list *u)
{
	char **v = u->n ? xcalloc(u->n, sizeof(char *)) : NULL;
	for (size_t i = 0; i < u->n; i++)
		v[i] = xstrdup(u->ids[i]);
	return v;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void wipe_free(char *secret)
{
	if (secret != NULL)
		explicit_bzero(secret, strlen(secret));
	free(secret);
}

static void slack_stop(struct channel *ch);

static int slack_start(struct channel *ch, const struct config *cfg, char *err, size_t errlen)
{
	struct slack *s;

	if (ch->env == NULL || ch->env->http == NULL || ch->env->ctx == NULL) {
		snprintf(err, errlen, "the Slack channel runs only inside the daemon");
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->ch = ch;
	ch->priv = s;
	s->api_url = xstrdup(cfg->slack.api_url);
	s->app_token = xstrdup(cfg->slack.app_token.value);
	s->bot_token = xstrdup(cfg->slack.bot_token.value);
	s->channel_id = xstrdup(cfg->slack.channel);
	s->allowed = copy_users(&cfg->slack.allowed_users);
	s->n_allowed = cfg->slack.allowed_users.n;
	s->post_interval_ms = (int64_t)cfg->slack.post_interval_ms;
	if (s->app_token == NULL || s->bot_token == NULL || s->channel_id == NULL) {
		snprintf(err, errlen, "channels.slack needs both tokens and a channel");
		slack_stop(ch);
		return -1;
	}
	if (s->n_allowed == 0)
		log_warnx(
		    "event=slack_anyone_may_act hint=\"channels.slack.allowed_users is empty: "
		    "every member of the channel may ack, resolve and silence\"");
	load_threads(s);
	replay_inbox(s);
	auth_test(s);
	if (slack_sm_start(s, err, errlen) < 0) {
		slack_stop(ch);
		return -1;
	}
	log_info("event=slack_started channel=%s api_url=%s threads=%zu post_interval_ms=%lld",
		 s->channel_id, s->api_url, s->n_threads, (long long)s->post_interval_ms);
	return 0;
}

static enum channel_send_result slack_send(struct channel *ch, const struct outbox_item *item,
					   char *remote_ref, size_t reflen, char *err,
					   size_t errlen)
{
	struct slack *s = ch->priv;
	struct slack_item *it;
	cJSON *m = cJSON_Parse(item->body);

	(void)remote_ref;
	(void)reflen;
	if (m == NULL || !cJSON_IsObject(m)) {
		cJSON_Delete(m);
		snprintf(err, errlen, "outbox body is not a JSON object");
		return CHANNEL_FAILED;
	}
	it = xcalloc(1, sizeof(*it));
	it->s = s;
	it->outbox_id = item->id;
	it->incident_id = item->incident_id;
	strlcpy0(it->kind, item->kind, sizeof(it->kind));
	it->side = strcmp(item->kind, OUTBOX_DM) == 0 || strcmp(item->kind, OUTBOX_HEADER) == 0;
	it->msg = m;
	it->queued_mono = mono_ms();
	it->thread_start = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "thread_start"));
	if (it->thread_start && it->incident_id != 0)
		incident_group(s, it->incident_id, it->group, sizeof(it->group));
	/* The previous message of the same incident (the newest one queued) goes first. */
	for (struct slack_item *o = s->q_head; o && it->incident_id && !it->side; o = o->next)
		if (o->incident_id == it->incident_id && !o->side)
			it->after = o;
	if (s->q_tail)
		s->q_tail->next = it;
	else
		s->q_head = it;
	s->q_tail = it;
	s->queued++;
	slack_schedule_pump(s, 0);
	return CHANNEL_PENDING;
}

static bool slack_health(struct channel *ch, char *out, size_t outlen)
{
	struct slack *s = ch->priv;
	int64_t now = mono_ms();

	if (s->sm_stopped) {
		snprintf(out, outlen, "degraded: Socket Mode stopped: %s", s->sm_error);
		return false;
	}
	if (s->api_error[0]) {
		snprintf(out, outlen, "degraded: %s", s->api_error);
		return false;
	}
	if (slack_sm_ready(s)) {
		snprintf(out, outlen, "ok");
		return true;
	}
	if (s->disconnected_since && now - s->disconnected_since > 60000) {
		snprintf(out, outlen, "degraded: Socket Mode disconnected for %lld s",
			 (long long)((now - s->disconnected_since) / 1000));
		return false;
	}
	snprintf(out, outlen, "connecting");
	return true;
}

static void slack_stop(struct channel *ch)
{
	struct slack *s = ch->priv;
	if (s == NULL)
		return;
	s->stopping = true;
	lws_sul_cancel(&s->pump_sul);
	lws_sul_cancel(&s->auth_sul);
	slack_sm_stop(s);
	sqlite3_finalize(s->group_st);
	while (s->q_head) {
		struct slack_item *it = s->q_head;
		s->q_head = it->next;
		cJSON_Delete(it->msg);
		free(it);
	}
	while (s->threads) {
		struct slack_thread *t = s->threads;
		s->threads = t->next;
		free(t);
	}
	free(s->api_url);
	wipe_free(s->app_token);
	wipe_free(s->bot_token);
	free(s->channel_id);
	free_strv(s->allowed, s->n_allowed);
	free(s);
	ch->priv = NULL;
}

static void slack_metrics(struct channel *ch, void *arg)
{
	struct slack *s = ch->priv;
	struct buf *out = arg;

	buf_printf(out,
		   "# HELP nightshift_slack_connected 1 while a Socket Mode connection is ready.\n"
		   "# TYPE nightshift_slack_connected gauge\n"
		   "nightshift_slack_connected %d\n"
		   "# HELP nightshift_slack_connections_opened_total apps.connections.open calls.\n"
		   "# TYPE nightshift_slack_connections_opened_total counter\n"
		   "nightshift_slack_connections_opened_total %llu\n"
		   "# HELP nightshift_slack_envelopes_total Socket Mode envelopes by outcome.\n"
		   "# TYPE nightshift_slack_envelopes_total counter\n"
		   "nightshift_slack_envelopes_total{result=\"received\"} %llu\n"
		   "nightshift_slack_envelopes_total{result=\"duplicate\"} %llu\n"
		   "# HELP nightshift_slack_malformed_frames_total Frames skipped as malformed.\n"
		   "# TYPE nightshift_slack_malformed_frames_total counter\n"
		   "nightshift_slack_malformed_frames_total %llu\n"
		   "# HELP nightshift_slack_queue Messages waiting for chat.postMessage.\n"
		   "# TYPE nightshift_slack_queue gauge\n"
		   "nightshift_slack_queue %zu\n",
		   slack_sm_ready(s) ? 1 : 0, (unsigned long long)s->sm_opens,
		   (unsigned long long)s->envelopes, (unsigned long long)s->duplicates,
		   (unsigned long long)s->malformed, s->queued);
}

const struct channel_ops slack_channel = {
    .name = "slack",
    .enabled = slack_enabled,
    .start = slack_start,
    .send = slack_send,
    .health = slack_health,
    .stop = slack_stop,
    .metrics = slack_metrics,
};
