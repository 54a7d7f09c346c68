/*
 * This file contains the Web API half of the double: POST (or GET)
 * /api/<method> with a JSON or form body. Order per call, as Slack does it:
 * unknown_method, then scripted failures (/_control/fail), then bearer auth
 * (not_authed / invalid_auth / not_allowed_token_type, all HTTP 200), then
 * the method. Every call is recorded with its parsed body and the answer.
 * Side effects of a call that is only delayed happen at once: a client that
 * times out has still posted its message, as with the real Slack.
 */
#include "sd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tok { TOK_NONE = 0, TOK_APP, TOK_BOT, TOK_BAD };

typedef cJSON *(*method_fn)(struct sd *d, const cJSON *p, struct reply *r);

static cJSON *ok(void)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "ok", true);
	return j;
}

/* A field that may be a string, or a number as some clients send ts values. */
static const char *pstr(const cJSON *p, const char *key, char tmp[64])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsNumber(v)) {
		snprintf(tmp, 64, "%.6f", v->valuedouble);
		return tmp;
	}
	return NULL;
}

/* blocks/attachments: an array in JSON, a JSON string in a form. -1 if malformed. */
static int get_array(const cJSON *p, const char *key, cJSON **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v)) {
		if (v->valuestring[0] == '\0')
			return 0;
		*out = cJSON_Parse(v->valuestring);
	} else {
		*out = cJSON_Duplicate(v, 1);
	}
	if (!cJSON_IsArray(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static bool blocks_valid(const cJSON *blocks)
{
	const cJSON *b;
	if (cJSON_GetArraySize(blocks) > 50)
		return false;
	cJSON_ArrayForEach(b, blocks)
	{
		if (!cJSON_IsObject(b) || jstr(b, "type") == NULL)
			return false;
	}
	return true;
}

static bool looks_like_user(const char *id)
{
	if (id == NULL || (id[0] != 'U' && id[0] != 'W') || id[1] == '\0' || strlen(id) > 32)
		return false;
	for (const char *p = id + 1; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

static cJSON *m_connections_open(struct sd *d, const cJSON *p, struct reply *r)
{
	char ticket[37];
	bool v6 = strchr(d->cfg.host, ':') != NULL;
	cJSON *j = ok();
	char *url;
	(void)p;
	(void)r;
	slack_new_ticket(d, ticket);
	url = xasprintf("ws://%s%s%s:%d/link/?ticket=%s&app_id=%s", v6 ? "[" : "", d->cfg.host,
			v6 ? "]" : "", d->port, ticket, SD_APP_ID);
	cJSON_AddStringToObject(j, "url", url);
	free(url);
	return j;
}

static cJSON *m_auth_test(struct sd *d, const cJSON *p, struct reply *r)
{
	cJSON *j = ok();
	(void)d;
	(void)p;
	(void)r;
	cJSON_AddStringToObject(j, "url", "https://nightshift-test.slack.com/");
	cJSON_AddStringToObject(j, "team", "Nightshift Test");
	cJSON_AddStringToObject(j, "user", "nightshift");
	cJSON_AddStringToObject(j, "team_id", SD_TEAM_ID);
	cJSON_AddStringToObject(j, "user_id", SD_BOT_USER);
	cJSON_AddStringToObject(j, "bot_id", SD_BOT_ID);
	cJSON_AddStringToObject(j, "app_id", SD_APP_ID);
	cJSON_AddBoolToObject(j, "is_enterprise_install", false);
	return j;
}

/* 429 when the channel had an accepted post less than pacing_ms ago. */
static bool paced_out(struct sd *d, const char *channel, struct reply *r)
{
	int64_t now = mono_ms();
	cJSON *last = cJSON_GetObjectItemCaseSensitive(d->pacing, channel);
	if (d->cfg.pacing_ms <= 0)
		return false;
	if (cJSON_IsNumber(last) && now - (int64_t)last->valuedouble < d->cfg.pacing_ms) {
		int64_t wait = d->cfg.pacing_ms - (now - (int64_t)last->valuedouble);
		r->status = 429;
		r->retry_after = (int)((wait + 999) / 1000);
		return true;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(d->pacing, channel);
	cJSON_AddNumberToObject(d->pacing, channel, (double)now);
	return false;
}

/* Resolves a chat.postMessage channel: a U/W id posts to the DM with that user. */
static const char *resolve_channel(struct sd *d, const char *ch)
{
	bool existed;
	if (looks_like_user(ch))
		return slack_open_dm(d, ch, &existed);
	return slack_channel_exists(d, ch) ? ch : NULL;
}

static void echo_message(struct sd *d, const char *channel, const cJSON *msg)
{
	cJSON *ev = cJSON_Duplicate(msg, 1);
	const char *err;
	cJSON_DeleteItemFromObjectCaseSensitive(ev, "reactions");
	cJSON_AddStringToObject(ev, "channel", channel);
	cJSON_AddStringToObject(ev, "event_ts", jstr(msg, "ts"));
	cJSON_AddStringToObject(ev, "channel_type", channel[0] == 'D' ? "im" : "channel");
	env_submit(d, "events_api", ev_callback(d, ev), false, 0, &err);
}

static cJSON *m_post_message(struct sd *d, const cJSON *p, struct reply *r)
{
	char tmp[64], ts[24];
	const char *ch = resolve_channel(d, jstr(p, "channel"));
	const char *text = jstr(p, "text"), *md = jstr(p, "markdown_text");
	const char *thread_ts = pstr(p, "thread_ts", tmp);
	cJSON *blocks, *atts, *msg, *j;

	if (ch == NULL)
		return fail_body("channel_not_found");
	if (get_array(p, "blocks", &blocks) < 0 || (blocks && !blocks_valid(blocks))) {
		cJSON_Delete(blocks);
		return fail_body("invalid_blocks");
	}
	if (get_array(p, "attachments", &atts) < 0) {
		cJSON_Delete(blocks);
		return fail_body("invalid_attachments");
	}
	if (str_empty(text) && str_empty(md) && cJSON_GetArraySize(blocks) == 0 &&
	    cJSON_GetArraySize(atts) == 0) {
		cJSON_Delete(blocks);
		cJSON_Delete(atts);
		return fail_body("no_text");
	}
	if ((text && strlen(text) > 40000) || (md && strlen(md) > 12000)) {
		cJSON_Delete(blocks);
		cJSON_Delete(atts);
		return fail_body("msg_too_long");
	}
	if (paced_out(d, ch, r)) {
		cJSON_Delete(blocks);
		cJSON_Delete(atts);
		return fail_body("ratelimited");
	}
	slack_next_ts(d, ts);
	msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "type", "message");
	cJSON_AddStringToObject(msg, "ts", ts);
	cJSON_AddStringToObject(msg, "user", SD_BOT_USER);
	cJSON_AddStringToObject(msg, "bot_id", SD_BOT_ID);
	cJSON_AddStringToObject(msg, "app_id", SD_APP_ID);
	cJSON_AddStringToObject(msg, "team", SD_TEAM_ID);
	cJSON_AddStringToObject(msg, "text", text ? text : (md ? md : ""));
	if (blocks)
		cJSON_AddItemToObject(msg, "blocks", blocks);
	if (atts)
		cJSON_AddItemToObject(msg, "attachments", atts);
	if (!str_empty(thread_ts)) {
		cJSON_AddStringToObject(msg, "thread_ts", thread_ts);
		if (jbool(p, "reply_broadcast", false))
			cJSON_AddBoolToObject(msg, "reply_broadcast", true);
	}
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(p, "metadata")))
		cJSON_AddItemToObject(
			msg, "metadata",
			cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(p, "metadata"), 1));
	slack_store_message(d, ch, msg);
	j = ok();
	cJSON_AddStringToObject(j, "channel", ch);
	cJSON_AddStringToObject(j, "ts", ts);
	cJSON_AddItemToObject(j, "message", cJSON_Duplicate(msg, 1));
	if (d->cfg.echo_bot_messages)
		echo_message(d, ch, msg);
	return j;
}

static void set_field(cJSON *obj, const char *key, cJSON *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	if (v != NULL)
		cJSON_AddItemToObject(obj, key, v);
}

static cJSON *m_update(struct sd *d, const cJSON *p, struct reply *r)
{
	char tmp[64], ets[24];
	const char *ch = jstr(p, "channel"), *ts = pstr(p, "ts", tmp);
	const char *text = jstr(p, "text");
	bool has_blocks = cJSON_GetObjectItemCaseSensitive(p, "blocks") != NULL;
	cJSON *m, *blocks, *atts, *j, *edited;
	(void)r;

	if (!slack_channel_exists(d, ch))
		return fail_body("channel_not_found");
	m = slack_find_message(d, ch, ts);
	if (m == NULL)
		return fail_body("message_not_found");
	if (jstr(m, "bot_id") == NULL || strcmp(jstr(m, "bot_id"), SD_BOT_ID) != 0)
		return fail_body("cant_update_message");
	if (get_array(p, "blocks", &blocks) < 0 || (blocks && !blocks_valid(blocks))) {
		cJSON_Delete(blocks);
		return fail_body("invalid_blocks");
	}
	if (get_array(p, "attachments", &atts) < 0) {
		cJSON_Delete(blocks);
		return fail_body("invalid_attachments");
	}
	if (text == NULL && !has_blocks && atts == NULL) {
		cJSON_Delete(blocks);
		return fail_body("no_text");
	}
	if (text != NULL)
		set_field(m, "text", cJSON_CreateString(text));
	if (has_blocks) /* [] clears; leaving blocks out keeps the old ones */
		set_field(m, "blocks", blocks && cJSON_GetArraySize(blocks) ? blocks : NULL);
	if (blocks && cJSON_GetArraySize(blocks) == 0)
		cJSON_Delete(blocks);
	if (atts)
		set_field(m, "attachments", atts);
	slack_next_ts(d, ets);
	edited = cJSON_CreateObject();
	cJSON_AddStringToObject(edited, "user", SD_BOT_USER);
	cJSON_AddStringToObject(edited, "ts", ets);
	set_field(m, "edited", edited);
	j = ok();
	cJSON_AddStringToObject(j, "channel", ch);
	cJSON_AddStringToObject(j, "ts", ts);
	cJSON_AddStringToObject(j, "text", jstr(m, "text") ? jstr(m, "text") : "");
	cJSON_AddItemToObject(j, "message", cJSON_Duplicate(m, 1));
	return j;
}

static cJSON *m_reactions_add(struct sd *d, const cJSON *p, struct reply *r)
{
	char tmp[64];
	const char *ch = jstr(p, "channel"), *ts = pstr(p, "timestamp", tmp);
	const char *name = jstr(p, "name");
	cJSON *m, *reactions, *it, *users;
	(void)r;

	if (str_empty(name) || strchr(name, ':') || strlen(name) > 100)
		return fail_body("invalid_name");
	if (!slack_channel_exists(d, ch))
		return fail_body("channel_not_found");
	m = slack_find_message(d, ch, ts);
	if (m == NULL)
		return fail_body("message_not_found");
	reactions = cJSON_GetObjectItemCaseSensitive(m, "reactions");
	if (reactions == NULL)
		reactions = cJSON_AddArrayToObject(m, "reactions");
	cJSON_ArrayForEach(it, reactions)
	{
		if (strcmp(jstr(it, "name"), name) == 0)
			break;
	}
	if (it == NULL) {
		if (cJSON_GetArraySize(reactions) >= 23)
			return fail_body("too_many_reactions");
		it = cJSON_CreateObject();
		cJSON_AddStringToObject(it, "name", name);
		cJSON_AddArrayToObject(it, "users");
		cJSON_AddNumberToObject(it, "count", 0);
		cJSON_AddItemToArray(reactions, it);
	}
	users = cJSON_GetObjectItemCaseSensitive(it, "users");
	cJSON_ArrayForEach(m, users)
	{
		if (strcmp(m->valuestring, SD_BOT_USER) == 0)
			return fail_body("already_reacted");
	}
	cJSON_AddItemToArray(users, cJSON_CreateString(SD_BOT_USER));
	set_field(it, "count", cJSON_CreateNumber(cJSON_GetArraySize(users)));
	return ok();
}

static cJSON *m_conversations_open(struct sd *d, const cJSON *p, struct reply *r)
{
	const char *users = jstr(p, "users");
	const char *q;
	const char *id;
	bool existed;
	int n = 0;
	cJSON *j, *ch;
	(void)r;

	if (str_empty(users))
		return fail_body("users_list_not_supplied");
	for (q = users; *q; q += strcspn(q, ",") + (q[strcspn(q, ",")] == ',')) {
		char one[40];
		size_t len = strcspn(q, ",");
		if (len == 0 || len >= sizeof(one))
			return fail_body("user_not_found");
		memcpy(one, q, len);
		one[len] = '\0';
		if (!looks_like_user(one))
			return fail_body("user_not_found");
		if (++n > 8)
			return fail_body("too_many_users");
	}
	if (jbool(p, "prevent_creation", false)) {
		/* Only look up: report what would exist without creating it. */
		return fail_body("channel_not_found");
	}
	id = slack_open_dm(d, users, &existed);
	j = ok();
	if (existed) {
		cJSON_AddBoolToObject(j, "no_op", true);
		cJSON_AddBoolToObject(j, "already_open", true);
	}
	ch = cJSON_AddObjectToObject(j, "channel");
	cJSON_AddStringToObject(ch, "id", id);
	if (jbool(p, "return_im", false)) {
		cJSON_AddBoolToObject(ch, "is_im", n == 1);
		cJSON_AddBoolToObject(ch, "is_mpim", n > 1);
		if (n == 1)
			cJSON_AddStringToObject(ch, "user", users);
	}
	return j;
}

static cJSON *m_users_info(struct sd *d, const cJSON *p, struct reply *r)
{
	const char *id = jstr(p, "user");
	bool bot;
	cJSON *j, *u, *prof;
	char buf[96];
	(void)d;
	(void)r;

	if (!looks_like_user(id))
		return fail_body("user_not_found");
	bot = strcmp(id, SD_BOT_USER) == 0;
	j = ok();
	u = cJSON_AddObjectToObject(j, "user");
	cJSON_AddStringToObject(u, "id", id);
	cJSON_AddStringToObject(u, "team_id", SD_TEAM_ID);
	snprintf(buf, sizeof(buf), "%s", bot ? "nightshift" : id);
	for (char *c = buf; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	cJSON_AddStringToObject(u, "name", buf);
	cJSON_AddBoolToObject(u, "deleted", false);
	snprintf(buf, sizeof(buf), "%s%s", bot ? "Nightshift" : "User ", bot ? "" : id);
	cJSON_AddStringToObject(u, "real_name", buf);
	cJSON_AddStringToObject(u, "tz", "Europe/Berlin");
	cJSON_AddStringToObject(u, "tz_label", "Central European Time");
	cJSON_AddNumberToObject(u, "tz_offset", 3600);
	cJSON_AddBoolToObject(u, "is_bot", bot);
	cJSON_AddBoolToObject(u, "is_admin", false);
	prof = cJSON_AddObjectToObject(u, "profile");
	cJSON_AddStringToObject(prof, "real_name", buf);
	cJSON_AddStringToObject(prof, "display_name", buf);
	snprintf(buf, sizeof(buf), "%s@example.test", jstr(u, "name"));
	cJSON_AddStringToObject(prof, "email", buf);
	if (bot) {
		cJSON_AddStringToObject(prof, "bot_id", SD_BOT_ID);
		cJSON_AddStringToObject(prof, "api_app_id", SD_APP_ID);
	}
	return j;
}

static const struct {
	const char *name;
	enum tok token;
	method_fn fn;
} methods[] = {
	{"apps.connections.open", TOK_APP, m_connections_open},
	{"auth.test", TOK_BOT, m_auth_test},
	{"chat.postMessage", TOK_BOT, m_post_message},
	{"chat.update", TOK_BOT, m_update},
	{"reactions.add", TOK_BOT, m_reactions_add},
	{"conversations.open", TOK_BOT, m_conversations_open},
	{"users.info", TOK_BOT, m_users_info},
};

/* Classifies the presented token: the Authorization header, else a token field. */
static enum tok token_of(struct sd *d, const struct request *rq, const cJSON *params,
			 bool header_only)
{
	const char *t = NULL;
	if (rq->authorization != NULL) {
		if (strncasecmp(rq->authorization, "Bearer ", 7) != 0)
			return TOK_BAD;
		t = rq->authorization + 7;
		while (*t == ' ')
			t++;
	} else if (!header_only) {
		t = jstr(params, "token");
	}
	if (str_empty(t))
		return TOK_NONE;
	if (secret_equal(t, d->cfg.app_token))
		return TOK_APP;
	if (secret_equal(t, d->cfg.bot_token))
		return TOK_BOT;
	return TOK_BAD;
}

static cJSON *headers_record(const struct request *rq, enum tok t)
{
	static const char *kinds[] = {"none", "app", "bot", "invalid"};
	cJSON *h = cJSON_CreateObject();
	cJSON_AddBoolToObject(h, "authorization", rq->authorization != NULL);
	cJSON_AddStringToObject(h, "token_kind", kinds[t]);
	if (rq->content_type)
		cJSON_AddStringToObject(h, "content_type", rq->content_type);
	else
		cJSON_AddNullToObject(h, "content_type");
	return h;
}

void webapi_handle(struct sd *d, const struct request *rq, const char *method, struct reply *r)
{
	cJSON *rec = cJSON_CreateObject(), *params, *body = NULL, *rule, *resp, *q;
	const char *perr = NULL;
	size_t mi;
	enum tok t;

	r->status = 200;
	params = params_parse_body(rq->content_type, rq->body, rq->body_len, &perr);
	cJSON_AddStringToObject(rec, "method", method);
	cJSON_AddStringToObject(rec, "http_method", rq->http_method);
	if (params == NULL) {
		cJSON *raw = cJSON_CreateObject();
		cJSON_AddStringToObject(raw, "_raw", rq->body);
		cJSON_AddItemToObject(rec, "body", raw);
	} else {
		cJSON_AddItemToObject(rec, "body", cJSON_Duplicate(params, 1));
	}
	if (cJSON_GetArraySize(rq->query) > 0)
		cJSON_AddItemToObject(rec, "query", cJSON_Duplicate(rq->query, 1));
	/* Query arguments count as parameters too; the body wins on a clash. */
	cJSON_ArrayForEach(q, rq->query)
	{
		if (params != NULL && !cJSON_HasObjectItem(params, q->string))
			cJSON_AddItemToObject(params, q->string, cJSON_Duplicate(q, 1));
	}
	for (mi = 0; mi < ARRAY_LEN(methods); mi++)
		if (strcmp(methods[mi].name, method) == 0)
			break;
	t = token_of(d, rq, params, mi < ARRAY_LEN(methods) && methods[mi].token == TOK_APP);
	cJSON_AddItemToObject(rec, "headers", headers_record(rq, t));

	rule = fail_take(d, method);
	if (mi == ARRAY_LEN(methods))
		body = fail_body("unknown_method");
	else if (rule != NULL && fail_apply(rule, r, &body))
		cJSON_AddBoolToObject(rec, "scripted", true);
	else if (params == NULL)
		body = fail_body(perr);
	else if (t == TOK_NONE)
		body = fail_body("not_authed");
	else if (t == TOK_BAD)
		body = fail_body("invalid_auth");
	else if (t != methods[mi].token)
		body = fail_body("not_allowed_token_type");
	else
		body = methods[mi].fn(d, params, r);
	cJSON_Delete(rule);
	cJSON_Delete(params);

	if (body != NULL) {
		r->body = json_print(body);
		r->content_type = "application/json; charset=utf-8";
	}
	resp = cJSON_CreateObject();
	cJSON_AddNumberToObject(resp, "status", r->drop ? 0 : r->status);
	if (body != NULL)
		cJSON_AddItemToObject(resp, "body", body);
	else if (r->body != NULL)
		cJSON_AddStringToObject(resp, "body_text", r->body);
	if (r->retry_after > 0)
		cJSON_AddNumberToObject(resp, "retry_after", r->retry_after);
	if (r->delay_ms > 0)
		cJSON_AddNumberToObject(resp, "delay_ms", r->delay_ms);
	if (r->drop)
		cJSON_AddBoolToObject(resp, "dropped", true);
	cJSON_AddItemToObject(rec, "response", resp);
	record_add(d, "api", rec);
}
