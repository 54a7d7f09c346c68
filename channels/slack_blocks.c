/*
 * This file contains the Slack layout of an outbox message (render.h JSON):
 * Block Kit blocks that read well on a phone — the headline (environment ·
 * severity · alert) in bold first, the short text, the bullets, the
 * recommended command in a code block, the buttons — and a plain-text
 * fallback for notifications. Pure functions: unit-tested without Slack.
 */
#include "slack.h"

#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define SECTION_MAX 2900 /* Slack's limit is 3000 characters per section text */

/* Length of a user mention "<@U0123ABC>" at s, or 0. */
static size_t user_mention(const char *s)
{
	size_t n;
	if (s[0] != '<' || s[1] != '@' || (s[2] != 'U' && s[2] != 'W'))
		return 0;
	n = 2 + strspn(s + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
	return s[n] == '>' && n <= 34 ? n + 1 : 0;
}

/* slack_escape, but user mentions stay mentions (only in text the bot itself wrote). */
static void escape_keep_mentions(struct buf *b, const char *s)
{
	/* A widened nag starts with a channel mention; only there is one kept. */
	if (s && (strncmp(s, "<!here>", 7) == 0 || strncmp(s, "<!channel>", 10) == 0)) {
		size_t n = s[2] == 'h' ? 7 : 10;
		buf_append(b, s, n);
		s += n;
	}
	while (s && *s) {
		size_t n = user_mention(s);
		if (n > 0) {
			buf_append(b, s, n);
			s += n;
			continue;
		}
		n = strcspn(s + 1, "<") + 1;
		{
			char *part = xstrndup(s, n);
			slack_escape(b, part);
			free(part);
		}
		s += n;
	}
}

void slack_escape(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		default: buf_append(b, s, 1);
		}
	}
}

/* Cuts b to at most SECTION_MAX bytes at a UTF-8 boundary. */
static void cap(struct buf *b)
{
	size_t n = b->len;
	if (n <= SECTION_MAX)
		return;
	n = SECTION_MAX;
	while (n > 0 && ((unsigned char)b->data[n] & 0xC0) == 0x80)
		n--;
	b->len = n;
	b->data[n] = '\0';
	buf_puts(b, "\xE2\x80\xA6");
}

static void add_section(cJSON *blocks, struct buf *b)
{
	cJSON *sec, *txt;
	if (b->len == 0)
		return;
	cap(b);
	sec = cJSON_CreateObject();
	txt = cJSON_CreateObject();
	cJSON_AddStringToObject(sec, "type", "section");
	cJSON_AddStringToObject(txt, "type", "mrkdwn");
	cJSON_AddStringToObject(txt, "text", b->data);
	cJSON_AddItemToObject(sec, "text", txt);
	cJSON_AddItemToArray(blocks, sec);
	buf_reset(b);
}

static void add_context(cJSON *blocks, const char *mrkdwn)
{
	cJSON *ctx = cJSON_CreateObject(), *els = cJSON_CreateArray(), *t = cJSON_CreateObject();
	cJSON_AddStringToObject(ctx, "type", "context");
	cJSON_AddStringToObject(t, "type", "mrkdwn");
	cJSON_AddStringToObject(t, "text", mrkdwn);
	cJSON_AddItemToArray(els, t);
	cJSON_AddItemToObject(ctx, "elements", els);
	cJSON_AddItemToArray(blocks, ctx);
}

static const char *str(const cJSON *m, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, key));
	return s ? s : "";
}

static const char *button_label(const char *b)
{
	if (strcmp(b, "ack") == 0)
		return "Acknowledge";
	if (strcmp(b, "resolve") == 0)
		return "Resolve";
	if (strcmp(b, "silence_1h") == 0)
		return "Silence 1h";
	return NULL;
}

/* Whether button b still makes sense in state. */
static bool button_fits(const char *b, const char *state)
{
	if (strcmp(state, "resolved") == 0)
		return false;
	if (strcmp(state, "acknowledged") == 0)
		return strcmp(b, "ack") != 0;
	return true;
}

static void add_buttons(cJSON *blocks, const cJSON *m, long long incident, const char *state)
{
	cJSON *actions = NULL, *els = NULL;
	const cJSON *it;
	char value[32];

	snprintf(value, sizeof(value), "%lld", incident);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(m, "buttons"))
	{
		const char *label = cJSON_IsString(it) ? button_label(it->valuestring) : NULL;
		cJSON *btn, *txt;
		if (label == NULL || !button_fits(it->valuestring, state))
			continue;
		if (actions == NULL) {
			actions = cJSON_CreateObject();
			els = cJSON_CreateArray();
			cJSON_AddStringToObject(actions, "type", "actions");
			cJSON_AddStringToObject(actions, "block_id", "nightshift_actions");
			cJSON_AddItemToObject(actions, "elements", els);
		}
		btn = cJSON_CreateObject();
		txt = cJSON_CreateObject();
		cJSON_AddStringToObject(btn, "type", "button");
		cJSON_AddStringToObject(txt, "type", "plain_text");
		cJSON_AddStringToObject(txt, "text", label);
		cJSON_AddItemToObject(btn, "text", txt);
		cJSON_AddStringToObject(btn, "action_id", it->valuestring);
		cJSON_AddStringToObject(btn, "value", value);
		if (strcmp(it->valuestring, "ack") == 0)
			cJSON_AddStringToObject(btn, "style", "primary");
		cJSON_AddItemToArray(els, btn);
	}
	if (actions != NULL)
		cJSON_AddItemToArray(blocks, actions);
}

static const char *state_badge(const char *state)
{
	if (strcmp(state, "resolved") == 0)
		return "\xE2\x9C\x85 *Resolved*";
	if (strcmp(state, "acknowledged") == 0)
		return "\xF0\x9F\x91\x8D *Acknowledged*";
	if (strcmp(state, "escalated") == 0)
		return "\xF0\x9F\x9A\xA8 *Escalated* \xE2\x80\x94 needs a human";
	if (strcmp(state, "noise") == 0)
		return "\xF0\x9F\x92\xA4 *Noise*";
	if (strcmp(state, "auto_fixed") == 0)
		return "\xF0\x9F\x94\xA7 *Fixed automatically*";
	if (strcmp(state, "investigating") == 0)
		return "\xF0\x9F\x94\x8E *Investigating*";
	return NULL;
}

cJSON *slack_blocks_object(const cJSON *m, const char *header_state)
{
	cJSON *out = cJSON_CreateObject(), *blocks = cJSON_CreateArray();
	const char *state = header_state ? header_state : str(m, "state");
	const cJSON *it, *cmd = cJSON_GetObjectItemCaseSensitive(m, "command");
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(m, "incident");
	bool first = header_state != NULL ||
		     cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "thread_start"));
	long long incident = cJSON_IsNumber(inc) ? (long long)inc->valuedouble : 0;
	struct buf b, fb;

	buf_init(&b, 0);
	buf_init(&fb, 0);
	/* The fallback (notifications, screen readers): headline, then the text's first line. */
	buf_printf(&fb, "%s", str(m, "headline"));
	if (*str(m, "text")) {
		size_t n = strcspn(str(m, "text"), "\n");
		buf_printf(&fb, " \xE2\x80\x94 %.*s", (int)(n > 300 ? 300 : n), str(m, "text"));
	}
	if (first) {
		buf_puts(&b, "*");
		slack_escape(&b, str(m, "headline"));
		buf_puts(&b, "*");
		add_section(blocks, &b);
		if (state_badge(state) != NULL && header_state != NULL)
			add_context(blocks, state_badge(state));
	}
	/* An escalated report names its targets: the core wrote them, they stay mentions. */
	if (*str(m, "mentions")) {
		buf_puts(&b, "\xF0\x9F\x94\x94 ");
		escape_keep_mentions(&b, str(m, "mentions"));
		add_section(blocks, &b);
	}
	/* Replies the core wrote about people ("Acknowledged by <@U…>") keep the mention. */
	if (strcmp(str(m, "kind"), "human") == 0)
		escape_keep_mentions(&b, str(m, "text"));
	else
		slack_escape(&b, str(m, "text"));
	add_section(blocks, &b);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(m, "bullets"))
	{
		if (!cJSON_IsString(it))
			continue;
		buf_puts(&b, b.len ? "\n\xE2\x80\xA2 " : "\xE2\x80\xA2 ");
		slack_escape(&b, it->valuestring);
	}
	add_section(blocks, &b);
	if (cJSON_IsString(cmd) && cmd->valuestring[0]) {
		buf_puts(&b, "```");
		slack_escape(&b, cmd->valuestring);
		buf_puts(&b, "```");
		add_section(blocks, &b);
	}
	add_buttons(blocks, m, incident, state);
	cJSON_AddStringToObject(out, "text", fb.data ? fb.data : "nightshift");
	cJSON_AddItemToObject(out, "blocks", blocks);
	buf_release(&b);
	buf_release(&fb);
	return out;
}

char *slack_blocks_render(const cJSON *m, const char *header_state)
{
	cJSON *o = slack_blocks_object(m, header_state);
	char *json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (json == NULL)
		fatal("event=oom what=slack_blocks");
	return json;
}
