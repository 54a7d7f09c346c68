/*
 * This file contains the unit tests for the Slack channel's pure parts: the
 * Block Kit layout of outbox messages (channels/slack_blocks.c) and the
 * envelope parser (channels/slack_events.c), including hostile envelopes.
 */
#include "harness.h"

#include "slack.h"

#include <stdlib.h>
#include <string.h>

static const char *received =
    "{\"kind\":\"received\",\"incident\":42,\"headline\":\"\xF0\x9F\x94\xB4 production \xC2\xB7 "
    "critical \xC2\xB7 KubePodCrashLooping \xC2\xB7 prod/api\",\"text\":\"Received: api <b> & "
    "co\",\"bullets\":[\"firing since 2026-11-22T23:11:15Z via alertmanager\",\"x < y\"],"
    "\"command\":\"kubectl -n prod rollout restart deploy/api\",\"buttons\":[\"ack\",\"resolve\","
    "\"silence_1h\"],\"state\":\"open\",\"severity\":\"critical\",\"environment\":\"production\","
    "\"thread_start\":true}";

static cJSON *render(const char *msg, const char *state)
{
	cJSON *m = cJSON_Parse(msg);
	char *json = slack_blocks_render(m, state);
	cJSON *o = cJSON_Parse(json);
	free(json);
	cJSON_Delete(m);
	return o;
}

static void check_json_has(const cJSON *j, const char *needle);

static const char *block_text(const cJSON *o, int i)
{
	const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "blocks"), i);
	return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "text"), "text"));
}

static const char *block_type(const cJSON *o, int i)
{
	const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "blocks"), i);
	return cJSON_GetStringValue(cJSON_GetObjectItem(b, "type"));
}

static void test_blocks_first_message(void)
{
	cJSON *o = render(received, NULL);
	const cJSON *actions, *btn;

	CHECK(o != NULL);
	/* First line: environment · severity · alert, in bold. */
	CHECK_STR(block_text(o, 0), "*\xF0\x9F\x94\xB4 production \xC2\xB7 critical \xC2\xB7 "
				    "KubePodCrashLooping \xC2\xB7 prod/api*");
	CHECK_STR(block_text(o, 1), "Received: api &lt;b&gt; &amp; co");
	CHECK_STR(block_text(o, 2), "\xE2\x80\xA2 firing since 2026-11-22T23:11:15Z via "
				    "alertmanager\n\xE2\x80\xA2 x &lt; y");
	CHECK_STR(block_text(o, 3), "```kubectl -n prod rollout restart deploy/api```");
	CHECK_STR(block_type(o, 4), "actions");
	actions = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "blocks"), 4),
				      "elements");
	CHECK_INT(cJSON_GetArraySize(actions), 3);
	btn = cJSON_GetArrayItem(actions, 0);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(btn, "action_id")), "ack");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(btn, "value")), "42");
	CHECK_STR(
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(btn, "text"), "text")),
	    "Acknowledge");
	btn = cJSON_GetArrayItem(actions, 2);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(btn, "action_id")), "silence_1h");
	/* The plain-text fallback: headline and the text's first line, unescaped. */
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "text")),
		  "\xF0\x9F\x94\xB4 production \xC2\xB7 critical \xC2\xB7 KubePodCrashLooping "
		  "\xC2\xB7 prod/api \xE2\x80\x94 Received: api <b> & co");
	cJSON_Delete(o);
}

static void test_blocks_header_states(void)
{
	cJSON *o = render(received, "resolved");
	const cJSON *blocks = cJSON_GetObjectItem(o, "blocks"), *b;
	int actions = 0;

	CHECK_STR(block_type(o, 1), "context");
	check_json_has(cJSON_GetArrayItem(blocks, 1), "Resolved");
	cJSON_ArrayForEach(b, blocks) actions +=
	    strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(b, "type")), "actions") == 0;
	CHECK_INT(actions, 0); /* nothing left to click on a resolved incident */
	cJSON_Delete(o);

	o = render(received, "acknowledged");
	blocks = cJSON_GetObjectItem(o, "blocks");
	b = cJSON_GetArrayItem(blocks, cJSON_GetArraySize(blocks) - 1);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(b, "elements")), 2); /* no Acknowledge */
	cJSON_Delete(o);
}

static void test_blocks_reply_and_caps(void)
{
	char *big = malloc(10000), *msg;
	cJSON *o;

	memset(big, 'a', 9999);
	big[9999] = '\0';
	msg = malloc(10200);
	snprintf(msg, 10200,
		 "{\"kind\":\"report\",\"incident\":7,\"headline\":\"h\",\"text\":\"%s\","
		 "\"bullets\":[],\"command\":null,\"buttons\":[],\"state\":\"escalated\","
		 "\"thread_start\":false}",
		 big);
	o = render(msg, NULL);
	/* A reply does not repeat the headline; a long text is cut under Slack's 3000. */
	CHECK(strlen(block_text(o, 0)) < 3000);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "blocks")), 1);
	cJSON_Delete(o);
	o = render("{\"incident\":\"x\",\"buttons\":[1,\"nope\",\"ack\"],\"bullets\":\"x\"}", NULL);
	CHECK(o != NULL); /* odd types do not crash; unknown buttons are left out */
	check_json_has(o, "\"value\":\"0\"");
	cJSON_Delete(o);
	free(big);
	free(msg);
}

/* Checks that the JSON text of j contains needle. */
static void check_json_has(const cJSON *j, const char *needle)
{
	char *t = cJSON_PrintUnformatted(j);
	CHECK_CONTAINS(t, needle);
	free(t);
}

static void test_blocks_mentions(void)
{
	cJSON *o = render("{\"kind\":\"human\",\"incident\":3,\"headline\":\"h\",\"text\":"
			  "\"\xF0\x9F\x91\x8D Acknowledged by <@U1ADMIN> & <!channel> <@U2\"}",
			  NULL);
	CHECK_STR(block_text(o, 0),
		  "\xF0\x9F\x91\x8D Acknowledged by <@U1ADMIN> &amp; &lt;!channel&gt; &lt;@U2");
	cJSON_Delete(o);
	o = render("{\"kind\":\"received\",\"text\":\"alert says <@U1ADMIN>\"}", NULL);
	CHECK_STR(block_text(o, 0), "alert says &lt;@U1ADMIN&gt;"); /* alerts cannot ping people */
	cJSON_Delete(o);
}

static int parse(const char *json, struct slack_inbound *in, cJSON **keep)
{
	*keep = cJSON_Parse(json);
	return slack_parse_envelope(*keep, "UBOT", "BBOT", in);
}

static void test_envelope_message(void)
{
	struct slack_inbound in;
	cJSON *j;

	CHECK_INT(
	    parse("{\"envelope_id\":\"e1\",\"type\":\"events_api\",\"payload\":{\"event_id\":"
		  "\"Ev1\",\"event\":{\"type\":\"message\",\"user\":\"U1\",\"channel\":\"C1\","
		  "\"text\":\"still failing\",\"ts\":\"2.0\",\"thread_ts\":\"1.0\"}}}",
		  &in, &j),
	    0);
	CHECK_STR(in.kind, "message");
	CHECK_STR(in.envelope_id, "e1");
	CHECK_STR(in.event_id, "Ev1");
	CHECK_STR(in.user, "U1");
	CHECK_STR(in.thread_ts, "1.0");
	CHECK_STR(in.text, "still failing");
	cJSON_Delete(j);

	/* own messages, other bots, edits, joins */
	parse("{\"envelope_id\":\"e2\",\"type\":\"events_api\",\"payload\":{\"event\":{\"type\":"
	      "\"message\",\"user\":\"UBOT\",\"channel\":\"C1\",\"ts\":\"3.0\"}}}",
	      &in, &j);
	CHECK(in.kind == NULL);
	cJSON_Delete(j);
	parse(
	    "{\"envelope_id\":\"e3\",\"type\":\"events_api\",\"payload\":{\"event\":{\"type\":"
	    "\"message\",\"bot_id\":\"BBOT\",\"user\":\"U9\",\"channel\":\"C1\",\"ts\":\"3.0\"}}}",
	    &in, &j);
	CHECK(in.kind == NULL);
	cJSON_Delete(j);
	parse("{\"envelope_id\":\"e4\",\"type\":\"events_api\",\"payload\":{\"event\":{\"type\":"
	      "\"message\",\"subtype\":\"message_changed\",\"channel\":\"C1\"}}}",
	      &in, &j);
	CHECK(in.kind == NULL);
	cJSON_Delete(j);
	parse("{\"envelope_id\":\"e5\",\"type\":\"events_api\",\"payload\":{\"event\":{\"type\":"
	      "\"message\",\"subtype\":\"channel_join\",\"user\":\"U1\",\"channel\":\"C1\",\"ts\":"
	      "\"4.0\"}}}",
	      &in, &j);
	CHECK(in.kind == NULL);
	cJSON_Delete(j);
	parse(
	    "{\"envelope_id\":\"e6\",\"type\":\"events_api\",\"payload\":{\"event\":{\"type\":"
	    "\"app_mention\",\"user\":\"U1\",\"channel\":\"C1\",\"ts\":\"5.0\",\"text\":\"<@UBOT> "
	    "hi\"}}}",
	    &in, &j);
	CHECK_STR(in.kind, "mention");
	cJSON_Delete(j);
}

static void test_envelope_actions(void)
{
	struct slack_inbound in;
	cJSON *j;

	parse("{\"envelope_id\":\"e7\",\"type\":\"interactive\",\"payload\":{\"type\":"
	      "\"block_actions\",\"user\":{\"id\":\"U1\"},\"channel\":{\"id\":\"C1\"},\"message\":"
	      "{\"ts\":\"1.0\"},\"actions\":[{\"action_id\":\"resolve\",\"value\":\"42\"}]}}",
	      &in, &j);
	CHECK_STR(in.kind, "action");
	CHECK_STR(in.action, "resolve");
	CHECK_STR(in.claimed_incident, "42");
	CHECK_STR(in.user, "U1");
	cJSON_Delete(j);
	parse("{\"envelope_id\":\"e8\",\"type\":\"interactive\",\"payload\":{\"type\":"
	      "\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"drop_db\"}]"
	      "}}",
	      &in, &j);
	CHECK(in.kind == NULL);
	cJSON_Delete(j);
	parse("{\"envelope_id\":\"e9\",\"type\":\"slash_commands\",\"payload\":{\"command\":"
	      "\"/nightshift\",\"text\":\"ack #12\",\"user_id\":\"U1\",\"channel_id\":\"C1\"}}",
	      &in, &j);
	CHECK_STR(in.kind, "command");
	CHECK_STR(in.action, "ack");
	CHECK_STR(in.claimed_incident, "12");
	cJSON_Delete(j);
	parse("{\"envelope_id\":\"e10\",\"type\":\"events_api\",\"payload\":{\"event\":{\"type\":"
	      "\"reaction_added\",\"user\":\"U1\",\"reaction\":\"eyes\",\"item_user\":\"UBOT\","
	      "\"item\":{\"type\":\"message\",\"channel\":\"C1\",\"ts\":\"1.0\"}}}}",
	      &in, &j);
	CHECK_STR(in.kind, "reaction");
	CHECK_STR(in.text, "eyes");
	CHECK_STR(in.ts, "1.0");
	cJSON_Delete(j);
}

static void test_envelope_hostile(void)
{
	static const char *const bad[] = {
	    "{}",
	    "{\"type\":\"events_api\"}",
	    "{\"envelope_id\":42,\"type\":\"events_api\"}",
	    "{\"envelope_id\":\"\",\"type\":\"events_api\"}",
	    "{\"envelope_id\":\"has space\",\"type\":\"events_api\"}",
	    ("{\"envelope_id\":"
	     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\","
	     "\"type\":\"events_api\"}"),
	};
	static const char *const ignored[] = {
	    "{\"envelope_id\":\"a\",\"type\":\"events_api\"}",
	    "{\"envelope_id\":\"a\",\"type\":\"events_api\",\"payload\":[]}",
	    "{\"envelope_id\":\"a\",\"type\":\"events_api\",\"payload\":{\"event\":7}}",
	    "{\"envelope_id\":\"a\",\"type\":\"events_api\",\"payload\":{\"event\":{\"type\":1}}}",
	    ("{\"envelope_id\":\"a\",\"type\":\"events_api\",\"payload\":{\"event\":{\"type\":"
	     "\"message\",\"user\":[],\"channel\":{},\"ts\":null}}}"),
	    ("{\"envelope_id\":\"a\",\"type\":\"interactive\",\"payload\":{\"type\":\"block_"
	     "actions\","
	     "\"user\":\"U1\",\"actions\":{}}}"),
	    "{\"envelope_id\":\"a\",\"type\":\"slash_commands\",\"payload\":{\"text\":5}}",
	    "{\"envelope_id\":\"a\",\"type\":\"nope\",\"payload\":{}}",
	};
	struct slack_inbound in;
	cJSON *j;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(parse(bad[i], &in, &j), -1);
		cJSON_Delete(j);
	}
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		CHECK_INT(parse(ignored[i], &in, &j), 0);
		CHECK(in.kind == NULL && in.ignore_why != NULL);
		cJSON_Delete(j);
	}
	CHECK_INT(slack_parse_envelope(NULL, "UBOT", "BBOT", &in), -1);
}

int main(void)
{
	RUN(test_blocks_first_message);
	RUN(test_blocks_header_states);
	RUN(test_blocks_reply_and_caps);
	RUN(test_blocks_mentions);
	RUN(test_envelope_message);
	RUN(test_envelope_actions);
	RUN(test_envelope_hostile);
	return harness_done();
}
