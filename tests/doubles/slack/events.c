/*
 * This file contains the payload builders behind the /_control/event/...,
 * /_control/action/... and /_control/command/... helpers: an events_api
 * event_callback wrapper with a fresh event_id, the message / app_mention /
 * reaction_added inner events (field sets per protocols.md §2.6), a
 * block_actions interactive payload (§2.7) and a slash command payload.
 * Injected user messages are also stored in the workspace, so the bot's
 * thread replies show under them in GET /_control/messages. Any "extra"
 * object in the input is merged into the inner event or payload last.
 */
#include "sd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void merge_extra(cJSON *into, const cJSON *in)
{
	const cJSON *extra = cJSON_GetObjectItemCaseSensitive(in, "extra"), *it;
	cJSON_ArrayForEach(it, extra)
	{
		cJSON_DeleteItemFromObjectCaseSensitive(into, it->string);
		cJSON_AddItemToObject(into, it->string, cJSON_Duplicate(it, 1));
	}
}

static void add_str(cJSON *o, const char *key, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, key, v);
}

static const char *channel_type(const char *ch)
{
	switch (ch[0]) {
	case 'D': return "im";
	case 'G': return "group";
	default: return "channel";
	}
}

/* A response_url served by control.c, remembered with the message it is about. */
static char *new_response_url(struct sd *d, const char *channel, const char *ts)
{
	char id[37];
	cJSON *o = cJSON_CreateObject();
	make_uuid(id);
	add_str(o, "channel", channel);
	add_str(o, "ts", ts);
	cJSON_AddItemToObject(d->response_urls, id, o);
	return xasprintf("http://%s%s%s:%d/_response/%s", strchr(d->cfg.host, ':') ? "[" : "",
			 d->cfg.host, strchr(d->cfg.host, ':') ? "]" : "", d->port, id);
}

static char *trigger_id(struct sd *d)
{
	char u[37];
	make_uuid(u);
	u[12] = '\0';
	return xasprintf("%lld.%u.%s", (long long)(now_ms() / 1000), ++d->next_event, u);
}

cJSON *ev_callback(struct sd *d, cJSON *event)
{
	cJSON *p = cJSON_CreateObject(), *auths, *a;
	char u[37], id[40];

	make_uuid(u); /* "Ev" + 6 random hex digits (upper case) + a counter */
	snprintf(id, sizeof(id), "Ev%.6s%06u", u, ++d->next_event % 1000000);
	for (char *c = id + 2; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'f' ? *c - 'a' + 'A' : *c);
	cJSON_AddStringToObject(p, "token", "slackdouble-verification-token");
	cJSON_AddStringToObject(p, "team_id", SD_TEAM_ID);
	cJSON_AddStringToObject(p, "api_app_id", SD_APP_ID);
	cJSON_AddItemToObject(p, "event", event);
	cJSON_AddStringToObject(p, "type", "event_callback");
	cJSON_AddStringToObject(p, "event_id", id);
	cJSON_AddNumberToObject(p, "event_time", (double)(now_ms() / 1000));
	auths = cJSON_AddArrayToObject(p, "authorizations");
	a = cJSON_CreateObject();
	cJSON_AddNullToObject(a, "enterprise_id");
	cJSON_AddStringToObject(a, "team_id", SD_TEAM_ID);
	cJSON_AddStringToObject(a, "user_id", SD_BOT_USER);
	cJSON_AddBoolToObject(a, "is_bot", true);
	cJSON_AddBoolToObject(a, "is_enterprise_install", false);
	cJSON_AddItemToArray(auths, a);
	cJSON_AddBoolToObject(p, "is_ext_shared_channel", false);
	cJSON_AddStringToObject(p, "event_context", "4-slackdouble");
	return p;
}

/* Stores an injected message unless it is a bot echo or a non-message subtype. */
static void store_injected(struct sd *d, const char *ch, const cJSON *ev)
{
	const char *sub = jstr(ev, "subtype"), *bot = jstr(ev, "bot_id");
	cJSON *m;
	if (sub && strcmp(sub, "thread_broadcast") && strcmp(sub, "file_share") &&
	    strcmp(sub, "bot_message"))
		return;
	if ((bot && strcmp(bot, SD_BOT_ID) == 0) || slack_find_message(d, ch, jstr(ev, "ts")))
		return;
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "type", "message");
	add_str(m, "ts", jstr(ev, "ts"));
	add_str(m, "user", jstr(ev, "user"));
	add_str(m, "bot_id", bot);
	add_str(m, "subtype", sub);
	add_str(m, "text", jstr(ev, "text"));
	add_str(m, "thread_ts", jstr(ev, "thread_ts"));
	cJSON_AddStringToObject(m, "posted_via", "event");
	slack_store_message(d, ch, m);
}

cJSON *ev_message(struct sd *d, const cJSON *in, const char *inner_type, const char **err)
{
	const char *ch = jstr(in, "channel"), *th = jstr(in, "thread_ts");
	const char *user = jstr(in, "user") ? jstr(in, "user") : "U0USER";
	bool mention = strcmp(inner_type, "app_mention") == 0;
	char ts[24], cmid[37];
	const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(in, "blocks");
	cJSON *ev;

	if (str_empty(ch) || strlen(ch) > 32) {
		*err = "channel is required";
		return NULL;
	}
	if (jstr(in, "ts"))
		strlcpy0(ts, jstr(in, "ts"), sizeof(ts));
	else
		slack_next_ts(d, ts);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", inner_type);
	add_str(ev, "subtype", jstr(in, "subtype"));
	cJSON_AddStringToObject(ev, "channel", ch);
	if (!mention)
		cJSON_AddStringToObject(ev, "channel_type", channel_type(ch));
	if (jstr(in, "user") || !jstr(in, "bot_id"))
		cJSON_AddStringToObject(ev, "user", user);
	add_str(ev, "bot_id", jstr(in, "bot_id"));
	cJSON_AddStringToObject(ev, "text", jstr(in, "text") ? jstr(in, "text")
							     : (mention ? "<@" SD_BOT_USER "> hello" : ""));
	cJSON_AddStringToObject(ev, "ts", ts);
	cJSON_AddStringToObject(ev, "event_ts", ts);
	if (!str_empty(th)) {
		const cJSON *parent = slack_find_message(d, ch, th);
		cJSON_AddStringToObject(ev, "thread_ts", th);
		if (jstr(parent, "user"))
			cJSON_AddStringToObject(ev, "parent_user_id", jstr(parent, "user"));
	}
	if (!jstr(in, "bot_id") && !jstr(in, "subtype")) {
		make_uuid(cmid);
		cJSON_AddStringToObject(ev, "client_msg_id", cmid);
	}
	cJSON_AddStringToObject(ev, "team", SD_TEAM_ID);
	if (blocks)
		cJSON_AddItemToObject(ev, "blocks", cJSON_Duplicate(blocks, 1));
	merge_extra(ev, in);
	store_injected(d, ch, ev);
	return ev_callback(d, ev);
}

cJSON *ev_reaction_added(struct sd *d, const cJSON *in, const char **err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(in, "item");
	const char *ch = jstr(item, "channel"), *ts = jstr(item, "ts");
	const cJSON *m = slack_find_message(d, ch, ts);
	cJSON *ev, *it;
	char ets[24];

	if (str_empty(ch) || str_empty(ts) || str_empty(jstr(in, "reaction"))) {
		*err = "reaction and item {channel, ts} are required";
		return NULL;
	}
	slack_next_ts(d, ets);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", "reaction_added");
	cJSON_AddStringToObject(ev, "user", jstr(in, "user") ? jstr(in, "user") : "U0USER");
	cJSON_AddStringToObject(ev, "reaction", jstr(in, "reaction"));
	if (jstr(m, "user"))
		cJSON_AddStringToObject(ev, "item_user", jstr(m, "user"));
	it = cJSON_AddObjectToObject(ev, "item");
	cJSON_AddStringToObject(it, "type", "message");
	cJSON_AddStringToObject(it, "channel", ch);
	cJSON_AddStringToObject(it, "ts", ts);
	cJSON_AddStringToObject(ev, "event_ts", ets);
	merge_extra(ev, in);
	return ev_callback(d, ev);
}

cJSON *ev_block_actions(struct sd *d, const cJSON *in, const char **err)
{
	const char *user = jstr(in, "user") ? jstr(in, "user") : "U0USER";
	const char *ch = jstr(in, "channel"), *mts = jstr(in, "message_ts");
	const cJSON *m = slack_find_message(d, ch, mts);
	cJSON *p, *o, *acts, *a;
	char ats[24];
	char *url, *trig;

	if (str_empty(ch) || str_empty(mts) || str_empty(jstr(in, "action_id"))) {
		*err = "channel, message_ts and action_id are required";
		return NULL;
	}
	slack_next_ts(d, ats);
	url = new_response_url(d, ch, mts);
	trig = trigger_id(d);
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "type", "block_actions");
	o = cJSON_AddObjectToObject(p, "user");
	cJSON_AddStringToObject(o, "id", user);
	cJSON_AddStringToObject(o, "username", "user");
	cJSON_AddStringToObject(o, "name", "user");
	cJSON_AddStringToObject(o, "team_id", SD_TEAM_ID);
	o = cJSON_AddObjectToObject(p, "team");
	cJSON_AddStringToObject(o, "id", SD_TEAM_ID);
	cJSON_AddStringToObject(o, "domain", "nightshift-test");
	cJSON_AddStringToObject(p, "api_app_id", SD_APP_ID);
	cJSON_AddStringToObject(p, "token", "slackdouble-verification-token");
	cJSON_AddStringToObject(p, "trigger_id", trig);
	cJSON_AddStringToObject(p, "response_url", url);
	o = cJSON_AddObjectToObject(p, "container");
	cJSON_AddStringToObject(o, "type", "message");
	cJSON_AddStringToObject(o, "message_ts", mts);
	cJSON_AddStringToObject(o, "channel_id", ch);
	cJSON_AddBoolToObject(o, "is_ephemeral", false);
	o = cJSON_AddObjectToObject(p, "channel");
	cJSON_AddStringToObject(o, "id", ch);
	cJSON_AddStringToObject(o, "name", ch);
	o = m ? cJSON_Duplicate(m, 1) : cJSON_CreateObject();
	if (m == NULL) {
		cJSON_AddStringToObject(o, "type", "message");
		cJSON_AddStringToObject(o, "ts", mts);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, "posted_via");
	cJSON_AddItemToObject(p, "message", o);
	o = cJSON_AddObjectToObject(p, "state");
	cJSON_AddObjectToObject(o, "values");
	acts = cJSON_AddArrayToObject(p, "actions");
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "type", jstr(in, "action_type") ? jstr(in, "action_type")
								   : "button");
	cJSON_AddStringToObject(a, "action_id", jstr(in, "action_id"));
	cJSON_AddStringToObject(a, "block_id", jstr(in, "block_id") ? jstr(in, "block_id")
								   : "actions");
	add_str(a, "value", jstr(in, "value"));
	o = cJSON_AddObjectToObject(a, "text");
	cJSON_AddStringToObject(o, "type", "plain_text");
	cJSON_AddStringToObject(o, "text", jstr(in, "action_id"));
	cJSON_AddStringToObject(a, "action_ts", ats);
	cJSON_AddItemToArray(acts, a);
	merge_extra(p, in);
	free(url);
	free(trig);
	return p;
}

cJSON *ev_slash(struct sd *d, const cJSON *in, const char **err)
{
	const char *cmd = jstr(in, "command"), *ch = jstr(in, "channel_id");
	cJSON *p;
	char *url, *trig;

	if (str_empty(cmd) || cmd[0] != '/' || str_empty(ch)) {
		*err = "command (\"/name\") and channel_id are required";
		return NULL;
	}
	url = new_response_url(d, ch, NULL);
	trig = trigger_id(d);
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "token", "slackdouble-verification-token");
	cJSON_AddStringToObject(p, "team_id", SD_TEAM_ID);
	cJSON_AddStringToObject(p, "team_domain", "nightshift-test");
	cJSON_AddStringToObject(p, "channel_id", ch);
	cJSON_AddStringToObject(p, "channel_name", jstr(in, "channel_name") ? jstr(in, "channel_name")
									    : ch);
	cJSON_AddStringToObject(p, "user_id", jstr(in, "user_id") ? jstr(in, "user_id") : "U0USER");
	cJSON_AddStringToObject(p, "user_name", jstr(in, "user_name") ? jstr(in, "user_name")
									: "user");
	cJSON_AddStringToObject(p, "command", cmd);
	cJSON_AddStringToObject(p, "text", jstr(in, "text") ? jstr(in, "text") : "");
	cJSON_AddStringToObject(p, "api_app_id", SD_APP_ID);
	cJSON_AddStringToObject(p, "is_enterprise_install", "false");
	cJSON_AddStringToObject(p, "response_url", url);
	cJSON_AddStringToObject(p, "trigger_id", trig);
	merge_extra(p, in);
	free(url);
	free(trig);
	return p;
}
