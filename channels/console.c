/*
 * This file contains the console channel: each incident is a thread of lines
 * on stdout, every line prefixed with "#<incident id> " so threads stay
 * readable when they interleave. Used by the demo and for local runs.
 *
 *   #12 ━━ 🔴 production · critical · KubePodCrashLooping · prod/api
 *   #12 ┃ Received: Pod prod/api-7f9c is crash looping
 *   #12 ┃  • firing since 2026-11-22T23:11:15Z via alertmanager
 *   #12 ┃  [Acknowledge] [Resolve] [Silence 1h]
 *
 * A direct message (outbox kind "dm") is one line "#12 ✉ DM to U…: …";
 * header updates are Slack's own rows and never reach the console.
 */
#include "channel.h"

#include "config.h"
#include "log.h"
#include "outbox.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *console_stream;

void console_set_stream(void *file)
{
	console_stream = file;
}

struct console {
	bool color;
};

static bool console_enabled(const struct config *cfg)
{
	return cfg->console.enabled;
}

static int console_start(struct channel *ch, const struct config *cfg, char *err, size_t errlen)
{
	struct console *c = xcalloc(1, sizeof(*c));
	(void)err;
	(void)errlen;
	if (console_stream == NULL)
		console_stream = stdout;
	c->color = cfg->console.color && isatty(fileno(console_stream));
	ch->priv = c;
	return 0;
}

static const char *str_field(const cJSON *m, const char *key)
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
	return b;
}

/* Writes one line; embedded newlines continue with the same prefix. */
static void line(struct buf *out, long long id, const char *bar, const char *text)
{
	const char *p = text;
	do {
		size_t n = strcspn(p, "\n");
		buf_printf(out, "#%lld %s %.*s\n", id, bar, (int)n, p);
		p += n;
		if (*p == '\n')
			p++;
	} while (*p);
}

/* Appends the lines of message m of incident id: headline, text, bullets, command, buttons. */
static void message_lines(struct buf *out, const cJSON *m, long long id, const struct console *c)
{
	const char *bold = c->color ? "\033[1m" : "", *reset = c->color ? "\033[0m" : "";
	const cJSON *it;

	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "thread_start")))
		buf_printf(out, "#%lld \xE2\x94\x81\xE2\x94\x81 %s%s%s\n", id, bold,
			   str_field(m, "headline"), reset);
	line(out, id, "\xE2\x94\x83", str_field(m, "text"));
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(m, "bullets"))
	{
		if (cJSON_IsString(it))
			buf_printf(out, "#%lld \xE2\x94\x83  \xE2\x80\xA2 %s\n", id, it->valuestring);
	}
	it = cJSON_GetObjectItemCaseSensitive(m, "command");
	if (cJSON_IsString(it))
		buf_printf(out, "#%lld \xE2\x94\x83  $ %s\n", id, it->valuestring);
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "buttons")) > 0) {
		buf_printf(out, "#%lld \xE2\x94\x83 ", id);
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(m, "buttons"))
		{
			if (cJSON_IsString(it))
				buf_printf(out, " [%s]", button_label(it->valuestring));
		}
		buf_puts(out, "\n");
	}
}

static enum channel_send_result console_send(struct channel *ch, const struct outbox_item *item,
					     char *remote_ref, size_t reflen, char *err,
					     size_t errlen)
{
	cJSON *m = cJSON_Parse(item->body);
	struct buf out;
	long long id = (long long)item->incident_id;

	if (m == NULL) {
		snprintf(err, errlen, "outbox body is not JSON");
		return CHANNEL_FAILED;
	}
	buf_init(&out, 0);
	if (strcmp(item->kind, "dm") == 0)
		buf_printf(&out, "#%lld \xE2\x9C\x89 DM to %s: %s: %s\n", id, str_field(m, "user"),
			   str_field(m, "text"), str_field(m, "headline"));
	else if (strcmp(item->kind, "header") != 0)
		message_lines(&out, m, id, ch->priv);
	cJSON_Delete(m);
	if (out.len > 0) {
		fwrite(out.data, 1, out.len, console_stream);
		fflush(console_stream);
	}
	buf_release(&out);
	snprintf(remote_ref, reflen, "console-%lld", id);
	return CHANNEL_SENT;
}

static bool console_health(struct channel *ch, char *out, size_t outlen)
{
	(void)ch;
	snprintf(out, outlen, "ok");
	return true;
}

static void console_stop(struct channel *ch)
{
	free(ch->priv);
	ch->priv = NULL;
}

const struct channel_ops console_channel = {
	.name = "console",
	.enabled = console_enabled,
	.start = console_start,
	.send = console_send,
	.health = console_health,
	.stop = console_stop,
};
