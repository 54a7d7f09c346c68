/*
 * This file contains the Slack channel's inbound half: every Socket Mode
 * text frame is parsed here (hostile input: not JSON, wrong types, missing
 * fields, unknown types are logged and skipped, never trusted), hello and
 * disconnect go to slack_socket.c, and each envelope becomes one
 * channel-neutral human event (bot/human.h). Exactly once: the envelope is
 * first recorded with its dedup keys — envelope id, event id, and channel:ts
 * for messages (a mention arrives both as app_mention and as message) — and
 * its payload (the inbox); once that commits it is acked, and only then
 * handed to the core, whose transaction marks it processed. A redelivery or
 * a copy on a second connection is seen and only acked again; an envelope
 * recorded but not processed (a crash) is processed at the next start.
 */
#include "slack.h"

#include "human.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define ID_MAX	 64   /* ids longer than this are not Slack's */
#define TEXT_MAX 4000 /* what is kept of a message */

static const char *jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static const cJSON *jobj(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsObject(v) ? v : NULL;
}

/* A plausible id: 1..ID_MAX printable characters without spaces or quotes. */
static bool id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > ID_MAX)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\')
			return false;
	return true;
}

static const char *id_or_null(const char *s)
{
	return id_ok(s) ? s : NULL;
}

static int ignore(struct slack_inbound *in, const char *why)
{
	in->kind = NULL;
	in->ignore_why = why;
	return 0;
}

/* The bot's own message (by user id or bot id), or another bot's: not a human. */
static bool is_own(const cJSON *ev, const char *bot_user_id, const char *bot_id)
{
	const char *user = jstr(ev, "user"), *bot = jstr(ev, "bot_id");
	if (bot != NULL)
		return true; /* bot_id equal to ours, or another bot */
	if (bot_id && *bot_id && jstr(jobj(ev, "bot_profile"), "id") &&
	    strcmp(jstr(jobj(ev, "bot_profile"), "id"), bot_id) == 0)
		return true;
	return user && bot_user_id && *bot_user_id && strcmp(user, bot_user_id) == 0;
}

static int parse_event(const cJSON *payload, const char *bot_user_id, const char *bot_id,
		       struct slack_inbound *in)
{
	const cJSON *ev = jobj(payload, "event");
	const char *type, *subtype;

	in->event_id = id_or_null(jstr(payload, "event_id"));
	if (ev == NULL)
		return ignore(in, "no event (e.g. app_rate_limited)");
	type = jstr(ev, "type");
	if (type == NULL)
		return ignore(in, "event without type");
	if (strcmp(type, "message") == 0 || strcmp(type, "app_mention") == 0) {
		subtype = jstr(ev, "subtype");
		if (subtype && strcmp(subtype, "file_share") != 0 &&
		    strcmp(subtype, "thread_broadcast") != 0)
			return ignore(in, "message subtype (edit, join, bot …)");
		if (is_own(ev, bot_user_id, bot_id))
			return ignore(in, "a bot's own message");
		in->user = id_or_null(jstr(ev, "user"));
		in->channel = id_or_null(jstr(ev, "channel"));
		in->ts = id_or_null(jstr(ev, "ts"));
		in->thread_ts = id_or_null(jstr(ev, "thread_ts"));
		in->text = jstr(ev, "text");
		if (in->user == NULL || in->channel == NULL || in->ts == NULL)
			return ignore(in, "message without user, channel or ts");
		in->kind = strcmp(type, "message") == 0 ? "message" : "mention";
		return 0;
	}
	if (strcmp(type, "reaction_added") == 0) {
		const cJSON *item = jobj(ev, "item");
		const char *iu = jstr(ev, "item_user");
		in->user = id_or_null(jstr(ev, "user"));
		in->text = jstr(ev, "reaction");
		in->channel = id_or_null(jstr(item, "channel"));
		in->ts = id_or_null(jstr(item, "ts"));
		if (in->user == NULL || in->ts == NULL || in->text == NULL)
			return ignore(in, "reaction without user, item or name");
		if (bot_user_id && *bot_user_id && strcmp(in->user, bot_user_id) == 0)
			return ignore(in, "the bot's own reaction");
		if (iu && bot_user_id && *bot_user_id && strcmp(iu, bot_user_id) != 0)
			return ignore(in, "a reaction on someone else's message");
		in->kind = "reaction";
		return 0;
	}
	return ignore(in, "event type not handled");
}

/* ack / resolve / silence_1h, or NULL. */
static const char *action_name(const char *s, size_t n)
{
	if (n == 3 && strncmp(s, "ack", 3) == 0)
		return "ack";
	if (n == 7 && strncmp(s, "resolve", 7) == 0)
		return "resolve";
	if ((n == 7 && strncmp(s, "silence", 7) == 0) ||
	    (n == 10 && strncmp(s, "silence_1h", 10) == 0))
		return "silence_1h";
	return NULL;
}

static int parse_interactive(const cJSON *p, struct slack_inbound *in)
{
	const cJSON *actions = cJSON_GetObjectItemCaseSensitive(p, "actions"), *a;
	const char *type = jstr(p, "type"), *id, *value;

	if (type == NULL || strcmp(type, "block_actions") != 0)
		return ignore(in, "interactive type not handled");
	in->user = id_or_null(jstr(jobj(p, "user"), "id"));
	in->channel = id_or_null(jstr(jobj(p, "channel"), "id"));
	in->ts = id_or_null(jstr(jobj(p, "message"), "ts"));
	if (in->ts == NULL)
		in->ts = id_or_null(jstr(jobj(p, "container"), "message_ts"));
	in->thread_ts = id_or_null(jstr(jobj(p, "message"), "thread_ts"));
	a = cJSON_IsArray(actions) ? cJSON_GetArrayItem(actions, 0) : NULL;
	id = jstr(a, "action_id");
	value = jstr(a, "value");
	if (in->user == NULL || id == NULL)
		return ignore(in, "block_actions without user or action");
	in->action = id ? action_name(id, strlen(id)) : NULL;
	if (in->action == NULL)
		return ignore(in, "unknown action_id");
	strlcpy0(in->claim_buf, value ? value : "", sizeof(in->claim_buf));
	in->claimed_incident = in->claim_buf;
	in->text = id;
	in->kind = "action";
	return 0;
}

static int parse_slash(const cJSON *p, struct slack_inbound *in)
{
	const char *text = jstr(p, "text"), *cmd = jstr(p, "command");
	size_t n;

	in->user = id_or_null(jstr(p, "user_id"));
	in->channel = id_or_null(jstr(p, "channel_id"));
	in->text = text ? text : "";
	if (in->user == NULL || cmd == NULL)
		return ignore(in, "slash command without user or command");
	in->kind = "command";
	/* "/nightshift ack 42": a first word that is an action, then the incident. */
	while (*in->text == ' ')
		in->text++;
	n = strcspn(in->text, " ");
	in->action = action_name(in->text, n);
	if (in->action != NULL) {
		const char *rest = in->text + n;
		while (*rest == ' ' || *rest == '#')
			rest++;
		strlcpy0(in->claim_buf, rest, sizeof(in->claim_buf));
		in->claim_buf[strcspn(in->claim_buf, " ")] = '\0';
		in->claimed_incident = in->claim_buf;
	}
	return 0;
}

int slack_parse_envelope(const cJSON *env, const char *bot_user_id, const char *bot_id,
			 struct slack_inbound *in)
{
	const cJSON *payload;

	memset(in, 0, sizeof(*in));
	in->envelope_id = jstr(env, "envelope_id");
	in->type = jstr(env, "type");
	if (!id_ok(in->envelope_id) || in->type == NULL)
		return -1;
	payload = jobj(env, "payload");
	if (payload == NULL)
		return ignore(in, "no payload");
	if (strcmp(in->type, "events_api") == 0)
		return parse_event(payload, bot_user_id, bot_id, in);
	if (strcmp(in->type, "interactive") == 0)
		return parse_interactive(payload, in);
	if (strcmp(in->type, "slash_commands") == 0)
		return parse_slash(payload, in);
	return ignore(in, "envelope type not handled");
}

/* ---- handing envelopes to the core ---- */

/* What an envelope turned into, for the log line when the core is done. */
struct pending_event {
	struct slack *s;
	char envelope_id[ID_MAX + 1];
	char kind[16];
};

static void event_done(void *arg, int result, const char *note)
{
	struct pending_event *p = arg;

	if (result < 0)
		log_error("event=slack_envelope_failed envelope=%s error=\"%s\" hint=\"kept in the "
			  "inbox, processed again at the next start\"",
			  p->envelope_id, note ? note : "");
	else
		log_info("event=slack_envelope envelope=%s kind=%s result=%s note=\"%s\"",
			 p->envelope_id, p->kind, human_result_name(result), note ? note : "");
	free(p);
}

/* The incident a message ts belongs to: a thread root, or any message the bot posted. */
static int64_t incident_of_message(struct slack *s, const char *channel, const char *ts)
{
	sqlite3_stmt *st = NULL;
	char ref[160];
	int64_t id = slack_incident_of_ts(s, ts);

	if (id != 0 || channel == NULL || ts == NULL)
		return id;
	snprintf(ref, sizeof(ref), "%s:%s", channel, ts);
	if (sqlite3_prepare_v2(store_db(s->ch->env->store),
			       "SELECT incident_id FROM outbox WHERE channel = 'slack' AND"
			       " remote_ref = ? AND incident_id IS NOT NULL LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	store_bind_text(st, 1, ref);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

/* True when text mentions the bot ("<@UBOT>"). */
static bool mentions_bot(const struct slack *s, const char *text)
{
	char tag[ID_MAX + 4];

	if (text == NULL || s->bot_user_id[0] == '\0')
		return false;
	snprintf(tag, sizeof(tag), "<@%s>", s->bot_user_id);
	return strstr(text, tag) != NULL;
}

void slack_process(struct slack *s, const char *text, int64_t inbox_id)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithOpts(text, &end, 1);
	struct slack_inbound in;
	struct human_event ev;
	struct pending_event *p;
	char label[48], buf[TEXT_MAX + 1], ref[160];

	if (j == NULL || slack_parse_envelope(j, s->bot_user_id, s->bot_id, &in) < 0) {
		cJSON_Delete(j);
		return; /* recorded envelopes were parsed once already: not reached */
	}
	memset(&ev, 0, sizeof(ev));
	ev.channel = "slack";
	ev.inbox_id = inbox_id;
	if (in.kind != NULL) {
		if (strcmp(in.kind, "message") == 0 || strcmp(in.kind, "mention") == 0)
			ev.incident_id = slack_incident_of_ts(s, in.thread_ts);
		else if (strcmp(in.kind, "reaction") == 0)
			ev.incident_id = incident_of_message(s, in.channel, in.ts);
		if (strcmp(in.kind, "message") == 0 && ev.incident_id == 0 &&
		    mentions_bot(s, in.text))
			in.kind = "mention"; /* the copy of an app_mention that came first */
		else if (strcmp(in.kind, "message") == 0 && ev.incident_id == 0)
			in.kind = NULL, in.ignore_why = "not in a thread the bot opened";
		else if (strcmp(in.kind, "reaction") == 0 && ev.incident_id == 0)
			in.kind = NULL, in.ignore_why = "not on the bot's messages";
	}
	ev.kind = in.kind;
	ev.user = in.user;
	snprintf(label, sizeof(label), "<@%s>", in.user ? in.user : "?");
	ev.user_label = label;
	ev.action = in.action;
	ev.claimed_incident = in.claimed_incident;
	strlcpy0(buf, in.text ? in.text : "", sizeof(buf));
	ev.text = buf;
	/* A mention in a thread the bot did not open is answered in that thread. */
	snprintf(ref, sizeof(ref), "%s:%s", in.channel ? in.channel : "",
		 in.kind && strcmp(in.kind, "mention") == 0 && ev.incident_id == 0 && in.thread_ts
			 ? in.thread_ts
			 : (in.ts ? in.ts : in.envelope_id));
	ev.ref = ref;
	ev.allowed = slack_user_allowed(s, in.user);
	if (in.kind == NULL)
		log_debug("event=slack_envelope_ignored envelope=%s reason=\"%s\"", in.envelope_id,
			  in.ignore_why ? in.ignore_why : "");
	p = xcalloc(1, sizeof(*p));
	p->s = s;
	strlcpy0(p->envelope_id, in.envelope_id, sizeof(p->envelope_id));
	strlcpy0(p->kind, in.kind ? in.kind : "ignored", sizeof(p->kind));
	s->ch->env->human_event(s->ch->env->daemon, &ev, event_done, p);
	cJSON_Delete(j);
}

/* An envelope between its arrival and its ack. */
struct pending_ack {
	struct slack *s;
	int conn_id;
	char envelope_id[ID_MAX + 1];
	char *text; /* owned: the frame, processed once it is recorded */
};

static void recorded(void *arg, int result, int64_t inbox_id)
{
	struct pending_ack *p = arg;

	if (result < 0) {
		/* Not recorded: no ack, so Slack delivers it again. */
		log_error("event=slack_envelope_not_recorded envelope=%s", p->envelope_id);
	} else {
		slack_sm_ack(p->s, p->conn_id, p->envelope_id);
		if (result == 0) {
			p->s->duplicates++;
			log_info("event=slack_envelope envelope=%s result=duplicate",
				 p->envelope_id);
		} else {
			slack_process(p->s, p->text, inbox_id);
		}
	}
	free(p->text);
	free(p);
}

/* Records the envelope (keys + payload), acks it, then hands it to the core. */
static void envelope(struct slack *s, struct slack_conn *c, const cJSON *j, const char *text)
{
	struct slack_inbound in;
	struct pending_ack *p;
	const char *keys[HUMAN_MAX_KEYS + 1] = {0};
	char k_env[80], k_ev[80], k_msg[160];
	size_t nk = 0;

	if (slack_parse_envelope(j, s->bot_user_id, s->bot_id, &in) < 0) {
		s->malformed++;
		log_warnx("event=slack_frame_skipped connection=%d reason=\"envelope without a "
			  "usable envelope_id or type\"",
			  c->id);
		return;
	}
	s->envelopes++;
	snprintf(k_env, sizeof(k_env), "env:%s", in.envelope_id);
	keys[nk++] = k_env;
	if (in.event_id) {
		snprintf(k_ev, sizeof(k_ev), "ev:%s", in.event_id);
		keys[nk++] = k_ev;
	}
	if (in.kind && (strcmp(in.kind, "message") == 0 || strcmp(in.kind, "mention") == 0)) {
		snprintf(k_msg, sizeof(k_msg), "msg:%s:%s", in.channel, in.ts);
		keys[nk++] = k_msg;
	}
	p = xcalloc(1, sizeof(*p));
	p->s = s;
	p->conn_id = c->id;
	strlcpy0(p->envelope_id, in.envelope_id, sizeof(p->envelope_id));
	p->text = xstrdup(text);
	s->ch->env->record_inbound(s->ch->env->daemon, "slack", keys, in.envelope_id, text,
				   recorded, p);
}

void slack_on_frame(struct slack *s, struct slack_conn *c, const char *text, size_t len)
{
	const char *end = NULL, *type;
	cJSON *j = len > 0 ? cJSON_ParseWithOpts(text, &end, 1) : NULL;

	if (j == NULL || !cJSON_IsObject(j)) {
		s->malformed++;
		log_warnx("event=slack_frame_skipped connection=%d reason=\"not a JSON object\" "
			  "bytes=%zu",
			  c->id, len);
		cJSON_Delete(j);
		return;
	}
	type = jstr(j, "type");
	if (type && strcmp(type, "hello") == 0) {
		slack_sm_hello(s, c);
	} else if (type && strcmp(type, "disconnect") == 0) {
		const char *reason = jstr(j, "reason");
		slack_sm_disconnect(s, c, id_ok(reason) ? reason : "unknown");
	} else if (type && (strcmp(type, "events_api") == 0 || strcmp(type, "interactive") == 0 ||
			    strcmp(type, "slash_commands") == 0)) {
		envelope(s, c, j, text);
	} else if (id_ok(jstr(j, "envelope_id"))) {
		/* An envelope of a type we do not know: ack it so Slack stops resending. */
		s->malformed++;
		log_warnx(
		    "event=slack_frame_skipped connection=%d reason=\"unknown envelope type\"",
		    c->id);
		slack_sm_ack(s, c->id, jstr(j, "envelope_id"));
	} else {
		s->malformed++;
		log_warnx("event=slack_frame_skipped connection=%d reason=\"unknown frame type\"",
			  c->id);
	}
	cJSON_Delete(j);
}
