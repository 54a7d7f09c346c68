/*
 * This file contains the mention routing of mention.h: finding an incident
 * reference in free text, and the list of open incidents that answers a
 * mention naming none. Statements are prepared per call (mentions are rare;
 * no slot of the cache).
 */
#include "mention.h"

#include "command.h"
#include "store.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LIST_MAX 10 /* open incidents listed; more are counted */
#define OPEN_STATES "('open', 'investigating', 'escalated', 'acknowledged')"

/* Digits at p as an incident id (> 0), with *end after them; 0 when none or too long. */
static int64_t number_at(const char *p, const char **end)
{
	int64_t v = 0;
	const char *q = p;

	while (isdigit((unsigned char)*q) && q - p < 15)
		v = v * 10 + (*q++ - '0');
	if (q == p || isdigit((unsigned char)*q) || isalpha((unsigned char)*q))
		return 0;
	*end = q;
	return v;
}

/* A word boundary before p (start of text, or not a letter or digit). */
static bool word_start(const char *text, const char *p)
{
	return p == text || !isalnum((unsigned char)p[-1]);
}

/* "#42" or "incident 42" / "incident #42" anywhere: the id and its span [*b, *e). */
static int64_t named_reference(const char *text, const char **b, const char **e)
{
	for (const char *p = text; *p; p++) {
		const char *q = p;
		int64_t id;

		if (!word_start(text, p) && *p != '#')
			continue;
		if (strncasecmp(q, "incident", 8) == 0) {
			q += 8;
			while (*q == ' ')
				q++;
			if (q == p + 8 && *q != '#')
				continue;
		}
		if (*q == '#')
			q++;
		if (q == p)
			continue;
		id = number_at(q, e);
		if (id > 0) {
			*b = p;
			return id;
		}
	}
	return 0;
}

/* A bare number ending text that follows a command ("ack 42", "silence 2h 42"). */
static int64_t trailing_reference(const char *text, const struct regex *ack_words,
				  const char **b, const char **e)
{
	const char *end = text + strlen(text), *p;
	char head[300];
	struct command cmd;
	int64_t id;

	while (end > text && isspace((unsigned char)end[-1]))
		end--;
	p = end;
	while (p > text && isdigit((unsigned char)p[-1]))
		p--;
	if (p == end || p == text || !isspace((unsigned char)p[-1]) ||
	    (size_t)(p - text) >= sizeof(head) || (id = number_at(p, e)) == 0)
		return 0;
	memcpy(head, text, (size_t)(p - text));
	head[p - text] = '\0';
	command_parse(head, ack_words, &cmd);
	if (cmd.kind == CMD_NONE || cmd.kind == CMD_BAD)
		return 0;
	*b = p;
	return id;
}

/* 1 when incident id exists, 0 when not, -1 on error. */
static int incident_exists(struct store *s, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(store_db(s), "SELECT 1 FROM incidents WHERE id = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * The open incidents: returns how many there are (-1 on error), *only the id
 * when exactly one, and their list (newest first) appended to b.
 */
static int64_t open_incidents(struct store *s, int64_t now_ms, int64_t *only, struct buf *b)
{
	sqlite3_stmt *st;
	int64_t n = 0;

	if (sqlite3_prepare_v2(store_db(s),
			       "SELECT id, environment, alertname, opened_at,"
			       " (SELECT count(*) FROM incidents WHERE state IN " OPEN_STATES ")"
			       " FROM incidents WHERE state IN " OPEN_STATES
			       " ORDER BY id DESC LIMIT ?",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, LIST_MAX);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char age[32];
		int64_t open_s = (now_ms - sqlite3_column_int64(st, 3)) / 1000;

		n = sqlite3_column_int64(st, 4);
		*only = sqlite3_column_int64(st, 0);
		command_format_duration(open_s < 60 ? 60 : open_s / 60 * 60, age, sizeof(age));
		buf_printf(b, "\n\xE2\x80\xA2 #%lld %s \xC2\xB7 %s \xC2\xB7 open %s",
			   (long long)*only, store_col_text(st, 1), store_col_text(st, 2), age);
	}
	sqlite3_finalize(st);
	if (n > LIST_MAX)
		buf_printf(b, "\n\xE2\x80\xA2 \xE2\x80\xA6 and %lld more", (long long)(n - LIST_MAX));
	return n;
}

/* rest = text without [b, e). */
static void cut(const char *text, const char *b, const char *e, char *rest, size_t restlen)
{
	snprintf(rest, restlen, "%.*s%s", (int)(b - text), text, e);
}

int64_t mention_route(struct store *s, const struct regex *ack_words, const char *text,
		      int64_t now_ms, char *rest, size_t restlen, char *reply, size_t replylen)
{
	const char *b = NULL, *e = NULL;
	int64_t id, n, only = 0;
	struct buf list;
	int known = 0;

	text = text ? text : "";
	strlcpy0(rest, text, restlen);
	reply[0] = '\0';
	id = named_reference(text, &b, &e);
	if (id == 0)
		id = trailing_reference(text, ack_words, &b, &e);
	if (id > 0 && (known = incident_exists(s, id)) != 0) {
		if (known < 0)
			return -1;
		cut(text, b, e, rest, restlen);
		return id;
	}
	buf_init(&list, 0);
	n = open_incidents(s, now_ms, &only, &list);
	if (n == 1 && id == 0) {
		buf_release(&list);
		return only;
	}
	if (n >= 0) {
		if (id > 0)
			snprintf(reply, replylen, "I know no incident #%lld. ", (long long)id);
		if (n == 0)
			snprintf(reply + strlen(reply), replylen - strlen(reply),
				 "No incident is open right now.");
		else
			snprintf(reply + strlen(reply), replylen - strlen(reply),
				 "Which incident? %lld %s open:%s\nName one: `@nightshift #42 what "
				 "changed?` or `@nightshift ack 42` \xE2\x80\x94 or reply in its "
				 "thread.",
				 (long long)n, n == 1 ? "is" : "are", list.data ? list.data : "");
	}
	buf_release(&list);
	return n < 0 ? -1 : 0;
}
