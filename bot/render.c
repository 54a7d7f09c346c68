/*
 * This file contains the message renderer of render.h. Every string that
 * came from an alert is cut to a phone-sized length here, once, so no
 * channel has to.
 */
#include "render.h"

#include "alert.h"
#include "followup.h"
#include "investigate.h"
#include "log.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX 280   /* one or two lines on a phone */
#define BULLET_MAX 160

/* Copies s up to max bytes at a UTF-8 boundary, first line only, adding "…" when cut. */
static void clip(char *out, size_t outlen, const char *s, size_t max)
{
	size_t n = 0, len;
	bool cut = false;

	if (s == NULL)
		s = "";
	while (*s == ' ' || *s == '\n' || *s == '\t')
		s++;
	len = strcspn(s, "\r\n");
	if (s[len] != '\0')
		cut = true;
	if (max > outlen - 4)
		max = outlen - 4;
	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--; /* do not split a UTF-8 sequence */
		cut = true;
	}
	memcpy(out, s, len);
	n = len;
	while (n > 0 && out[n - 1] == ' ')
		n--;
	if (cut && n > 0)
		memcpy(out + n, "\xe2\x80\xa6", 3), n += 3; /* … */
	out[n] = '\0';
}

static const char *severity_mark(const char *sev)
{
	if (strcmp(sev, "critical") == 0)
		return "\xF0\x9F\x94\xB4"; /* red circle */
	if (strcmp(sev, "warning") == 0)
		return "\xF0\x9F\x9F\xA0"; /* orange circle */
	return "\xF0\x9F\x94\xB5";         /* blue circle */
}

/* "cluster:namespace/workload" with whatever parts are known. */
static void target(const struct incident_view *inc, char *out, size_t outlen)
{
	struct buf b;
	buf_init(&b, 0);
	if (!str_empty(inc->cluster))
		buf_printf(&b, "%s:", inc->cluster);
	if (!str_empty(inc->namespace))
		buf_printf(&b, "%s%s", inc->namespace, str_empty(inc->workload) ? "" : "/");
	if (!str_empty(inc->workload))
		buf_puts(&b, inc->workload);
	clip(out, outlen, b.data ? b.data : "", 120);
	buf_release(&b);
}

char *render_headline(const struct incident_view *inc)
{
	char tgt[160], name[160];
	clip(name, sizeof(name), inc->alertname, 120);
	target(inc, tgt, sizeof(tgt));
	return xasprintf("%s %s \xC2\xB7 %s \xC2\xB7 %s%s%s", severity_mark(inc->severity),
			 inc->environment, inc->severity, name, tgt[0] ? " \xC2\xB7 " : "", tgt);
}

static void add_bullet(cJSON *bullets, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_bullet(cJSON *bullets, const char *fmt, ...)
{
	char raw[1024], clipped[BULLET_MAX + 8];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	clip(clipped, sizeof(clipped), raw, BULLET_MAX);
	cJSON_AddItemToArray(bullets, cJSON_CreateString(clipped));
}

static void received_body(const struct incident_view *inc, const struct alert *a, struct buf *text,
			  cJSON *bullets)
{
	char clipped[TEXT_MAX + 8], when[32];
	const char *summary = a && !str_empty(a->summary) ? a->summary : inc->summary;

	clip(clipped, sizeof(clipped), str_empty(summary) ? inc->alertname : summary, TEXT_MAX);
	buf_printf(text, "Received: %s", clipped);
	if (a == NULL)
		return;
	format_time(a->starts_at_ms ? a->starts_at_ms : inc->opened_at_ms, when, sizeof(when));
	add_bullet(bullets, "firing since %s via %s", when, alert_source_name(a->source));
	if (!str_empty(a->description) && strcmp(a->description, summary ? summary : "") != 0)
		add_bullet(bullets, "%s", a->description);
	{
		const char *runbook = kv_list_get(&a->annotations, "runbook_url");
		if (!str_empty(runbook))
			add_bullet(bullets, "runbook: %s", runbook);
		else if (!str_empty(a->generator_url))
			add_bullet(bullets, "source: %s", a->generator_url);
	}
}

/* Fills the keys every message has; takes text and the arrays. */
static char *finish(cJSON *m, const char *kind, const struct incident_view *inc, char *headline,
		    struct buf *text, cJSON *bullets, cJSON *buttons, const char *command,
		    bool thread_start)
{
	char *out;
	cJSON_AddStringToObject(m, "kind", kind);
	cJSON_AddNumberToObject(m, "incident", (double)inc->id);
	cJSON_AddStringToObject(m, "headline", headline);
	cJSON_AddStringToObject(m, "text", text->data ? text->data : "");
	cJSON_AddItemToObject(m, "bullets", bullets);
	if (command)
		cJSON_AddStringToObject(m, "command", command);
	else
		cJSON_AddNullToObject(m, "command");
	cJSON_AddItemToObject(m, "buttons", buttons);
	cJSON_AddStringToObject(m, "state", inc->state);
	cJSON_AddStringToObject(m, "severity", inc->severity);
	cJSON_AddStringToObject(m, "environment", inc->environment);
	cJSON_AddBoolToObject(m, "thread_start", thread_start);
	out = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	buf_release(text);
	free(headline);
	if (out == NULL)
		fatal("event=oom what=render");
	return out;
}

static void add_buttons(cJSON *buttons)
{
	cJSON_AddItemToArray(buttons, cJSON_CreateString("ack"));
	cJSON_AddItemToArray(buttons, cJSON_CreateString("resolve"));
	cJSON_AddItemToArray(buttons, cJSON_CreateString("silence_1h"));
}

char *render_report(const struct incident_view *inc, const struct report *r, const char *note)
{
	cJSON *m = cJSON_CreateObject();
	cJSON *bullets = cJSON_CreateArray();
	cJSON *buttons = cJSON_CreateArray();
	char cause[TEXT_MAX + 8], command[512];
	bool noise = strcmp(r->verdict, "noise") == 0;
	struct buf text;

	buf_init(&text, 0);
	clip(cause, sizeof(cause), r->root_cause, TEXT_MAX);
	if (noise) {
		/* A dismissal is one line: nobody needs to act on it. */
		buf_printf(&text, "\xF0\x9F\x92\xA4 Dismissed as noise (%s, %s confidence): %s",
			   r->category, r->confidence, cause);
		return finish(m, MSG_REPORT, inc, render_headline(inc), &text, bullets, buttons,
			      NULL, false);
	}
	buf_printf(&text, "\xF0\x9F\x94\x8E Real problem \xC2\xB7 %s \xC2\xB7 %s confidence\n%s",
		   r->category, r->confidence, cause);
	for (size_t i = 0; i < r->n_evidence && i < 5; i++)
		add_bullet(bullets, "%s", r->evidence[i]);
	if (r->action_type[0])
		add_bullet(bullets, "proposed fix: %s %s", r->action_type,
			   r->action_target ? r->action_target : "");
	if (!str_empty(note))
		add_bullet(bullets, "%s", note);
	if (strcmp(inc->state, "resolved") != 0)
		add_buttons(buttons);
	if (r->recommended_command)
		clip(command, sizeof(command), r->recommended_command, 400);
	return finish(m, MSG_REPORT, inc, render_headline(inc), &text, bullets, buttons,
		      r->recommended_command ? command : NULL, false);
}

char *render_followup(const struct incident_view *inc, const char *user, const char *question,
		      const struct followup_answer *a)
{
	cJSON *m = cJSON_CreateObject();
	cJSON *bullets = cJSON_CreateArray();
	cJSON *buttons = cJSON_CreateArray();
	char who[64], asked[128], lead[TEXT_MAX + 8], command[512];
	struct buf text;

	buf_init(&text, 0);
	clip(who, sizeof(who), str_empty(user) ? "someone" : user, 40);
	clip(asked, sizeof(asked), question, 100);
	clip(lead, sizeof(lead), a->text, TEXT_MAX);
	buf_printf(&text, "\xE2\x86\xAA %s asked: %s\n%s", who, asked, lead);
	for (size_t i = 0; i < a->n_bullets && i < FOLLOWUP_MAX_BULLETS; i++)
		add_bullet(bullets, "%s", a->bullets[i]);
	if (a->command)
		clip(command, sizeof(command), a->command, 400);
	return finish(m, MSG_ANSWER, inc, render_headline(inc), &text, bullets, buttons,
		      a->command ? command : NULL, false);
}

char *render_message(const char *kind, const struct incident_view *inc, const struct alert *a)
{
	cJSON *m = cJSON_CreateObject();
	cJSON *bullets = cJSON_CreateArray();
	cJSON *buttons = cJSON_CreateArray();
	char *headline = render_headline(inc);
	char dur[32];
	struct buf text;
	bool thread_start = false;

	buf_init(&text, 0);
	if (strcmp(kind, MSG_RECEIVED) == 0) {
		thread_start = true;
		received_body(inc, a, &text, bullets);
	} else if (strcmp(kind, MSG_NOISE) == 0) {
		char reason[TEXT_MAX + 8];
		thread_start = true;
		clip(reason, sizeof(reason), inc->verdict_reason, 160);
		buf_printf(&text, "Dismissed as noise: %s", reason);
	} else if (strcmp(kind, MSG_RESOLVED) == 0) {
		format_duration((inc->resolved_at_ms - inc->opened_at_ms) / 1000, dur, sizeof(dur));
		buf_printf(&text, "\xE2\x9C\x85 Resolved at source after %s (%lld alert%s)", dur,
			   (long long)inc->alert_count, inc->alert_count == 1 ? "" : "s");
	} else if (strcmp(kind, MSG_REOPENED) == 0) {
		buf_printf(&text, "Reopened: fired again within the flap window (flapping, reopen #%lld)",
			   (long long)inc->reopen_count);
	} else {
		log_warnx("incident=%lld event=render_unknown_kind kind=%s", (long long)inc->id, kind);
		buf_printf(&text, "%s", kind);
	}
	if (!str_empty(inc->note))
		add_bullet(bullets, "%s", inc->note);
	if (strcmp(kind, MSG_RECEIVED) == 0 || strcmp(kind, MSG_REOPENED) == 0)
		add_buttons(buttons);
	return finish(m, kind, inc, headline, &text, bullets, buttons, NULL, thread_start);
}
