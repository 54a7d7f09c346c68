/*
 * This file contains the inbox and human events of human.h: dedup keys, the
 * inbox rows, the human_events row, the button actions and the thread reply
 * each one causes.
 * Statement slots 12..19 of the writer's store are this file's.
 */
#include "human.h"

#include "esc_clock.h"
#include "command.h"
#include "config.h"
#include "escalation.h"
#include "followup.h"
#include "mention.h"

#include "outbox.h"
#include "render.h"
#include "store.h"
#include "triage.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slots 32..41 of the writer's statement cache (see store_stmt). */
enum {
	ST_SEEN = 32,
	ST_INSERT,
	ST_STATE,
	ST_ACK,
	ST_RESOLVE,
	ST_SILENCE,
	ST_INBOX,
	ST_PROCESSED,
	ST_PRUNE_SEEN,
	ST_PRUNE_INBOX,
};

#define KEEP_MS	    (7LL * 86400 * 1000) /* dedup keys and processed envelopes kept a week */
#define PRUNE_EVERY 256			 /* records between two prunes */

const char *human_result_name(int r)
{
	static const char *names[] = {"stored", "duplicate", "refused", "ignored"};
	return r >= 0 && (size_t)r < ARRAY_LEN(names) ? names[r] : "error";
}

/* 1 when key is new (now recorded), 0 when seen before, -1 on error. */
static int record_key(struct store *s, const char *key, const char *channel, int64_t now)
{
	sqlite3_stmt *st =
	    store_stmt(s, ST_SEEN,
		       "INSERT OR IGNORE INTO seen_events (key, channel, received_at)"
		       " VALUES (?,?,?)");
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, channel);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -1;
	return sqlite3_changes(store_db(s)) > 0 ? 1 : 0;
}

/* The incident's state and environment (env: ENV_MAX); 0, or -1 when there is no such incident. */
#define ENV_MAX 64
static int incident_state(struct store *s, int64_t id, char *out, size_t outlen, char *env)
{
	sqlite3_stmt *st =
	    store_stmt(s, ST_STATE, "SELECT state, environment FROM incidents WHERE id = ?");
	int rc = -1;
	if (st == NULL || id <= 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		strlcpy0(out, store_col_text(st, 0), outlen);
		strlcpy0(env, store_col_text(st, 1), ENV_MAX);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

/* A decimal incident id in s ("42", "#42", "incident:42"), or 0. */
static int64_t parse_incident(const char *s)
{
	int64_t v = 0;
	if (s == NULL)
		return 0;
	while (*s && (*s < '0' || *s > '9'))
		s++;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > INT64_MAX / 10 - 10)
			return 0;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* A short reply's message JSON (kind "human"): what every one carries. Returns owned. */
static cJSON *reply_message(const char *text)
{
	cJSON *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "kind", "human");
	cJSON_AddStringToObject(m, "text", text);
	cJSON_AddItemToObject(m, "bullets", cJSON_CreateArray());
	cJSON_AddNullToObject(m, "command");
	cJSON_AddItemToObject(m, "buttons", cJSON_CreateArray());
	cJSON_AddBoolToObject(m, "thread_start", false);
	return m;
}

/* Queues m (taken) about incident id (0: none) for channels[0..n). 0 or -1 with err. */
static int enqueue_message(struct store *s, int64_t id, cJSON *m, const char *const *channels,
			   size_t n, int64_t now, char *err, size_t errlen)
{
	char *body = cJSON_PrintUnformatted(m);
	int rc;

	cJSON_Delete(m);
	rc = outbox_enqueue(s, id, "human", body, channels, n, now, err, errlen);
	free(body);
	return rc;
}

int human_reply(struct store *s, int64_t id, const char *text, const char *const *channels,
		size_t n, int64_t now, char *err, size_t errlen)
{
	struct incident_view v;
	cJSON *m;
	char *headline;

	if (triage_load_view(s, id, &v) < 0)
		return snprintf(err, errlen, "incident %lld vanished", (long long)id), -1;
	headline = render_headline(&v);
	m = reply_message(text);
	cJSON_AddNumberToObject(m, "incident", (double)id);
	cJSON_AddStringToObject(m, "headline", headline);
	cJSON_AddStringToObject(m, "state", v.state);
	cJSON_AddStringToObject(m, "severity", v.severity);
	cJSON_AddStringToObject(m, "environment", v.environment);
	triage_view_release(s);
	free(headline);
	return enqueue_message(s, id, m, channels, n, now, err, errlen);
}

/* A reply about no incident, threaded under ev's message (reply_to: its ref), on its channel. */
static int reply_under(struct store *s, const struct human_event *ev, const char *text,
		       int64_t now, char *err, size_t errlen)
{
	const char *only[1] = {ev->channel};
	cJSON *m = reply_message(text);

	cJSON_AddStringToObject(m, "headline", "nightshift"); /* for the notification */
	cJSON_AddStringToObject(m, "reply_to", ev->ref ? ev->ref : "");
	return enqueue_message(s, 0, m, only, 1, now, err, errlen);
}

static int exec_update(struct store *s, int slot, const char *sql, int64_t id, const char *user,
		       int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, slot, sql);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	store_bind_text(st, 2, user);
	sqlite3_bind_int64(st, 3, id);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

/* Carries out an allowed action; writes what happened into note and the reply text. */
/* Runs sql with ?1 = id, ?2 and ?3 = a and b (NULL-able). 0 or -1. */
static int exec_sql(struct store *s, const char *sql, int64_t id, const char *a, const char *b)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (a)
		store_bind_text(st, 2, a);
	if (b)
		store_bind_text(st, 3, b);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

static int act(struct store *s, const struct human_event *ev, const char *action, int64_t seconds,
	       int64_t id, const char *state, const char *who, int64_t now, char *note,
	       size_t notelen, char *text, size_t textlen)
{
	int64_t enow = esc_now_ms();

	text[0] = '\0';
	if (strcmp(action, "ack") == 0) {
		int64_t open_ms = 0;
		int esc;
		if (strcmp(state, "resolved") == 0 || strcmp(state, "acknowledged") == 0) {
			snprintf(note, notelen, "already %s", state);
			return 0;
		}
		esc = escalation_acked(s, id, ev->user, esc_now_ms(), &open_ms);
		if (esc < 0)
			return -1;
		snprintf(note, notelen, "acknowledged");
		if (esc > 0)
			snprintf(text, textlen,
				 "\xF0\x9F\x91\x8D Acknowledged by %s after %lld min \xE2\x80\x94 "
				 "nags stopped",
				 who, (long long)(open_ms / 60000));
		else
			snprintf(text, textlen, "\xF0\x9F\x91\x8D Acknowledged by %s", who);
		return exec_update(
		    s, ST_ACK,
		    "UPDATE incidents SET state = 'acknowledged', acknowledged_by = ?2,"
		    " last_seen_at = max(last_seen_at, ?1) WHERE id = ?3",
		    id, ev->user, now);
	}
	if (strcmp(action, "resolve") == 0) {
		if (strcmp(state, "resolved") == 0) {
			snprintf(note, notelen, "already resolved");
			return 0;
		}
		if (escalation_stop(s, id, "resolved", esc_now_ms()) < 0)
			return -1;
		snprintf(note, notelen, "resolved");
		snprintf(text, textlen, "\xE2\x9C\x85 Resolved by %s", who);
		return exec_update(s, ST_RESOLVE,
				   "UPDATE incidents SET state = 'resolved', resolved_at = ?1,"
				   " resolved_by = ?2 WHERE id = ?3",
				   id, ev->user, now);
	}
	if (strcmp(action, "silence_1h") == 0 || strcmp(action, "silence") == 0) {
		int64_t until = enow + (seconds > 0 ? seconds : 3600) * 1000;
		char d[32];
		sqlite3_stmt *st;
		if (escalation_snooze(s, id, until, enow) < 0)
			return -1;
		command_format_duration(seconds > 0 ? seconds : 3600, d, sizeof(d));
		snprintf(note, notelen, "silenced");
		snprintf(text, textlen,
			 "\xF0\x9F\x94\x95 Silenced for %s by %s: new alerts join quietly, no nags "
			 "until it expires",
			 d, who);
		st = store_stmt(s, ST_SILENCE,
				"UPDATE incidents SET silenced_until = ?1,"
				" acknowledged_by = coalesce(acknowledged_by, ?2) WHERE id = ?3");
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, until);
		store_bind_text(st, 2, ev->user);
		sqlite3_bind_int64(st, 3, id);
		return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	}
	if (strcmp(action, "unsilence") == 0) {
		if (escalation_unsnooze(s, id, enow) < 0)
			return -1;
		snprintf(note, notelen, "unsilenced");
		snprintf(text, textlen, "\xF0\x9F\x94\x94 Unsilenced by %s", who);
		return exec_sql(s, "UPDATE incidents SET silenced_until = NULL WHERE id = ?1", id,
				NULL, NULL);
	}
	if (strcmp(action, "snooze") == 0) {
		char d[32];
		int rc = escalation_snooze(s, id, enow + seconds * 1000, enow);
		if (rc < 0)
			return -1;
		command_format_duration(seconds, d, sizeof(d));
		snprintf(note, notelen, rc ? "snoozed" : "nothing to snooze");
		if (rc)
			snprintf(text, textlen,
				 "\xF0\x9F\x98\xB4 Nags snoozed for %s by %s (not acknowledged)", d,
				 who);
		else
			snprintf(text, textlen, "Nothing to snooze: no nags are scheduled for #%lld",
				 (long long)id);
		return 0;
	}
	if (strcmp(action, "noise") == 0 || strcmp(action, "real") == 0) {
		bool noise = strcmp(action, "noise") == 0;
		char reason[128];
		if (noise && escalation_stop(s, id, "stopped", enow) < 0)
			return -1;
		snprintf(reason, sizeof(reason), "marked %s by %s", action, ev->user);
		snprintf(note, notelen, "verdict %s", action);
		snprintf(text, textlen,
			 "\xF0\x9F\x8F\xB7 Marked as %s by %s \xE2\x80\x94 remembered for the next "
			 "alerts like this one%s",
			 noise ? "noise" : "a real problem", who, noise ? "; nags stopped" : "");
		return exec_sql(s, "UPDATE incidents SET verdict = ?2, verdict_reason = ?3 WHERE id = ?1",
				id, action, reason);
	}
	if (strcmp(action, "status") == 0) {
		char esc[200];
		struct incident_view v;
		escalation_status(s, id, enow, esc, sizeof(esc));
		if (triage_load_view(s, id, &v) < 0)
			return -1;
		snprintf(note, notelen, "status");
		snprintf(text, textlen, "\xF0\x9F\x93\x8B #%lld is %s \xC2\xB7 %lld alert%s \xC2\xB7 %s",
			 (long long)id, v.state, (long long)v.alert_count,
			 v.alert_count == 1 ? "" : "s", esc);
		triage_view_release(s);
		return 0;
	}
	if (strcmp(action, "help") == 0) {
		snprintf(note, notelen, "help");
		snprintf(text, textlen, "%s", command_help);
		return 0;
	}
	snprintf(note, notelen, "unknown action");
	return 0;
}

/* Writer thread only (the one caller of human_record). */
static unsigned records_since_prune;

int human_record(struct store *s, const char *channel, const char *const *keys,
		 const char *envelope_id, const char *payload, int64_t now_ms, int64_t *inbox_id,
		 char *err, size_t errlen)
{
	bool is_new = true;
	sqlite3_stmt *st;

	*inbox_id = 0;
	if (++records_since_prune >= PRUNE_EVERY) {
		/* Slack redelivers for minutes; a week covers that and any restart. */
		records_since_prune = 0;
		st = store_stmt(s, ST_PRUNE_SEEN, "DELETE FROM seen_events WHERE received_at < ?");
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, now_ms - KEEP_MS);
			(void)sqlite3_step(st);
		}
		st = store_stmt(
		    s, ST_PRUNE_INBOX,
		    "DELETE FROM inbox WHERE processed_at IS NOT NULL AND processed_at < ?");
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, now_ms - KEEP_MS);
			(void)sqlite3_step(st);
		}
	}
	for (size_t i = 0; i < HUMAN_MAX_KEYS && keys[i]; i++) {
		int rc = record_key(s, keys[i], channel, now_ms);
		if (rc < 0)
			return snprintf(err, errlen, "seen_events: %s",
					sqlite3_errmsg(store_db(s))),
			       -1;
		if (rc == 0)
			is_new = false; /* keep recording the others: a later copy has them all */
	}
	if (!is_new)
		return 0;
	st = store_stmt(s, ST_INBOX,
			"INSERT INTO inbox (channel, envelope_id, payload, received_at)"
			" VALUES (?,?,?,?)");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare inbox insert"), -1;
	store_bind_text(st, 1, channel);
	store_bind_text(st, 2, envelope_id);
	sqlite3_bind_text(st, 3, payload, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_ms);
	if (sqlite3_step(st) != SQLITE_DONE)
		return snprintf(err, errlen, "inbox: %s", sqlite3_errmsg(store_db(s))), -1;
	*inbox_id = sqlite3_last_insert_rowid(store_db(s));
	return 1;
}

int human_event_apply(struct store *s, const struct config *cfg, const struct human_event *ev,
		      const char *const *channels,
		      size_t n_channels, int64_t now_ms, char *note, size_t notelen, char *err,
		      size_t errlen)
{
	char state[32] = "", text[2048] = "", env[ENV_MAX] = "", routed[512];
	const char *who = ev->user_label ? ev->user_label : ev->user, *cmd_text = ev->text;
	int64_t id = ev->incident_id;
	int result = HUMAN_STORED;
	const char *action = ev->action;
	struct command cmd = {0};
	bool text_kind, only_me = false, which = false;
	sqlite3_stmt *st;

	note[0] = '\0';
	if (ev->inbox_id > 0) {
		st = store_stmt(s, ST_PROCESSED, "UPDATE inbox SET processed_at = ? WHERE id = ?");
		if (st == NULL)
			return snprintf(err, errlen, "cannot prepare inbox update"), -1;
		sqlite3_bind_int64(st, 1, now_ms);
		sqlite3_bind_int64(st, 2, ev->inbox_id);
		if (sqlite3_step(st) != SQLITE_DONE)
			return snprintf(err, errlen, "inbox: %s", sqlite3_errmsg(store_db(s))), -1;
	}
	if (ev->kind == NULL)
		return HUMAN_IGNORED;
	if (id == 0)
		id = parse_incident(ev->claimed_incident);
	if (id == 0 && action == NULL && strcmp(ev->kind, "mention") == 0) {
		/* A mention outside a thread: the incident it names, or the only open one. */
		id = mention_route(s, cfg ? cfg->ack_words : NULL, ev->text, now_ms, routed,
				   sizeof(routed), text, sizeof(text));
		if (id < 0)
			return snprintf(err, errlen, "mention: %s", sqlite3_errmsg(store_db(s))), -1;
		cmd_text = routed;
		which = id == 0 && text[0] != '\0';
		if (which)
			snprintf(note, notelen, "which incident");
	}
	if (id != 0 && incident_state(s, id, state, sizeof(state), env) < 0) {
		snprintf(note, notelen, "unknown incident %.20s",
			 ev->claimed_incident ? ev->claimed_incident : "");
		id = 0;
	}
	/*
	 * Free text in an incident's thread: a command when the whole message is one
	 * (README "Commands in the thread"), else a question for the follow-up
	 * engine. Reactions :eyes: and :white_check_mark: acknowledge.
	 */
	text_kind = strcmp(ev->kind, "message") == 0 || strcmp(ev->kind, "mention") == 0;
	if (action == NULL && id != 0 && text_kind) {
		command_parse(cmd_text, cfg ? config_ack_words(cfg, env) : NULL, &cmd);
		action = command_name(cmd.kind);
	}
	if (action == NULL && id != 0 && strcmp(ev->kind, "reaction") == 0 &&
	    escalation_ack_reaction(ev->text))
		action = "ack";
	if (action != NULL && id != 0) {
		bool harmless = strcmp(action, "status") == 0 || strcmp(action, "help") == 0;
		if (!ev->allowed && !harmless) {
			result = HUMAN_REFUSED;
			snprintf(note, notelen, "not allowed");
			snprintf(text, sizeof(text),
				 "\xE2\x9B\x94 Sorry %s, you are not allowed to %s incidents from "
				 "chat. Ask an admin to add you to allowed_users.",
				 who,
				 strncmp(action, "silence", 7) == 0 ? "silence"
				 : strcmp(action, "noise") == 0 || strcmp(action, "real") == 0
				     ? "judge"
				     : action);
		} else if (act(s, ev, action, cmd.seconds, id, state, who, now_ms, note, notelen,
			       text, sizeof(text)) < 0) {
			return snprintf(err, errlen, "action: %s", sqlite3_errmsg(store_db(s))), -1;
		}
		only_me = harmless;
	} else if (action != NULL && note[0] == '\0') {
		snprintf(note, notelen, "no incident");
	} else if (id != 0 && text_kind && cmd.kind == CMD_BAD) {
		snprintf(note, notelen, "bad command");
		snprintf(text, sizeof(text), "\xE2\x9A\xA0\xEF\xB8\x8F %s: %s", who, cmd.error);
		only_me = true;
	} else if (id != 0 && text_kind) {
		/* A question: answered in the thread by the worker pool (bot/followup.h). */
		char why[200];
		const char *q = ev->text ? ev->text : "";
		while (*q == ' ' || (q[0] == '<' && q[1] == '@' && strchr(q, '>')))
			q = *q == ' ' ? q + 1 : strchr(q, '>') + 1;
		if (followup_check(ev->user, q, why, sizeof(why)) < 0) {
			snprintf(note, notelen, "question refused");
			snprintf(text, sizeof(text), "\xE2\x9A\xA0\xEF\xB8\x8F %s: %s", who, why);
			only_me = true;
		} else {
			int64_t fid = followup_request(s, id, ev->user, q, now_ms, err, errlen);
			if (fid < 0)
				return -1;
			snprintf(note, notelen, "question %lld", (long long)fid);
		}
	}
	/* A reply that is not an ack (nor a schedule command) postpones the next nag. */
	if (id != 0 && text_kind &&
	    !(action != NULL && result != HUMAN_REFUSED &&
	      (strcmp(action, "ack") == 0 || strcmp(action, "resolve") == 0 ||
	       strcmp(action, "snooze") == 0 || strncmp(action, "silence", 7) == 0 ||
	       strcmp(action, "unsilence") == 0)) &&
	    escalation_touched(s, id, esc_now_ms()) < 0)
		return snprintf(err, errlen, "escalations: %s", sqlite3_errmsg(store_db(s))), -1;
	st = store_stmt(s, ST_INSERT,
			"INSERT INTO human_events (incident_id, channel, user, kind, action, text,"
			" ref, allowed, result, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)");
	if (st == NULL)
		return snprintf(err, errlen, "cannot prepare human_events insert"), -1;
	if (id != 0)
		sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, ev->channel);
	store_bind_text(st, 3, ev->user ? ev->user : "");
	store_bind_text(st, 4, ev->kind);
	store_bind_text(st, 5, id != 0 ? action : ev->action);
	store_bind_text(st, 6, ev->text ? ev->text : "");
	store_bind_text(st, 7, ev->ref ? ev->ref : "");
	sqlite3_bind_int(st, 8, ev->allowed);
	store_bind_text(st, 9, note[0] ? note : human_result_name(result));
	sqlite3_bind_int64(st, 10, now_ms);
	if (sqlite3_step(st) != SQLITE_DONE)
		return snprintf(err, errlen, "human_events: %s", sqlite3_errmsg(store_db(s))), -1;
	if (which)
		return reply_under(s, ev, text, now_ms, err, errlen) < 0 ? -1 : result;
	if (text[0] != '\0') {
		/* A refusal is for the one who clicked; an action's outcome is for everyone. */
		const char *only[1] = {ev->channel};
		bool mine = result == HUMAN_REFUSED || only_me;
		if (human_reply(s, id, text, mine ? only : channels, mine ? 1 : n_channels, now_ms,
				err, errlen) < 0)
			return -1;
	}
	return result;
}
