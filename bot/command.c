/*
 * This file contains the thread command parser of command.h.
 */
#include "command.h"

#include "escalation.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define COMMAND_MAX 256 /* longer messages are never commands */

const char command_help[] =
    "Commands in this thread: ack \xC2\xB7 resolve \xC2\xB7 silence 2h \xC2\xB7 unsilence "
    "\xC2\xB7 snooze 30m \xC2\xB7 noise \xC2\xB7 real \xC2\xB7 status \xC2\xB7 help. "
    "Anything else is a question, answered here.";

const char *command_name(enum command_kind k)
{
	static const char *names[] = {NULL,	"ack",	 "resolve", "silence", "unsilence",
				      "snooze", "noise", "real",    "status",  "help"};
	return (unsigned)k < ARRAY_LEN(names) ? names[k] : NULL;
}

void command_format_duration(int64_t seconds, char *out, size_t outlen)
{
	static const struct {
		int64_t s;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t used = 0;

	out[0] = '\0';
	if (seconds <= 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(units) && seconds > 0; i++) {
		int n;
		if (seconds < units[i].s)
			continue;
		n = snprintf(out + used, outlen - used, "%lld%c", (long long)(seconds / units[i].s),
			     units[i].unit);
		if (n < 0 || (size_t)n >= outlen - used)
			return;
		used += (size_t)n;
		seconds %= units[i].s;
	}
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void command_parse(const char *text, const struct regex *ack_words, struct command *out)
{
	static const struct {
		const char *word;
		enum command_kind kind;
		int64_t dflt; /* seconds for commands taking a duration, else -1 */
		int64_t max;
	} words[] = {
	    {"resolve", CMD_RESOLVE, -1, 0},
	    {"silence", CMD_SILENCE, 3600, COMMAND_SILENCE_MAX_S},
	    {"unsilence", CMD_UNSILENCE, -1, 0},
	    {"snooze", CMD_SNOOZE, 1800, COMMAND_SNOOZE_MAX_S},
	    {"noise", CMD_NOISE, -1, 0},
	    {"real", CMD_REAL, -1, 0},
	    {"status", CMD_STATUS, -1, 0},
	    {"help", CMD_HELP, -1, 0},
	};
	char buf[COMMAND_MAX + 1], *p, *word, *arg, *end;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (text == NULL || (len = strlen(text)) > COMMAND_MAX)
		return;
	memcpy(buf, text, len + 1);
	p = buf;
	/* Leading mentions of the bot (or anyone): "<@U123> status". */
	for (;;) {
		while (is_space(*p))
			p++;
		if (p[0] == '<' && p[1] == '@' && strchr(p, '>') != NULL)
			p = strchr(p, '>') + 1;
		else
			break;
	}
	if (escalation_ack_text_re(ack_words, p)) {
		out->kind = CMD_ACK;
		return;
	}
	end = p + strlen(p);
	while (end > p && is_space(end[-1]))
		*--end = '\0';
	if (end > p && (end[-1] == '.' || end[-1] == '!'))
		*--end = '\0';
	word = p;
	while (*p && !is_space(*p))
		p++;
	if (*p)
		*p++ = '\0';
	while (is_space(*p))
		p++;
	arg = p;
	for (size_t i = 0; i < ARRAY_LEN(words); i++) {
		int64_t v;
		if (strcasecmp(word, words[i].word) != 0)
			continue;
		if (*arg == '\0') {
			out->kind = words[i].kind;
			out->seconds = words[i].dflt > 0 ? words[i].dflt : 0;
			return;
		}
		if (words[i].dflt < 0 || strpbrk(arg, " \t\r\n") != NULL)
			return; /* "resolve this please": a sentence, so a question */
		if (parse_duration(arg, &v) != 0 || v <= 0 || v > words[i].max) {
			char hi[32];
			command_format_duration(words[i].max, hi, sizeof(hi));
			out->kind = CMD_BAD;
			snprintf(out->error, sizeof(out->error),
				 "%s needs a duration like %s (at most %s)", words[i].word,
				 words[i].kind == CMD_SILENCE ? "2h" : "30m", hi);
			return;
		}
		out->kind = words[i].kind;
		out->seconds = v;
		return;
	}
}
