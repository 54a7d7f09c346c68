/*
 * This file contains the fake workspace: which channels exist, the messages
 * in each (as cJSON objects in post order), reactions, DMs opened by
 * conversations.open, single-use Socket Mode tickets, and the ts clock that
 * hands out strictly increasing "1712345678.000100"-style timestamps.
 * slack_messages_view() renders a channel the way a person would read it:
 * top-level messages in ts order, each with its thread replies.
 */
#include "sd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_channels(struct sd *d, const char *list)
{
	const char *p = list;
	while (p != NULL && *p) {
		size_t n = strcspn(p, ", ");
		if (n > 0 && n < 64) {
			char id[64];
			memcpy(id, p, n);
			id[n] = '\0';
			slack_add_channel(d, id);
		}
		p += n;
		p += strspn(p, ", ");
	}
}

void slack_init(struct sd *d)
{
	d->channels = cJSON_CreateObject();
	d->dms = cJSON_CreateObject();
	d->tickets = cJSON_CreateObject();
	d->pacing = cJSON_CreateObject();
	d->response_urls = cJSON_CreateObject();
	add_channels(d, d->cfg.channels);
}

void slack_free(struct sd *d)
{
	cJSON_Delete(d->channels);
	cJSON_Delete(d->dms);
	cJSON_Delete(d->tickets);
	cJSON_Delete(d->pacing);
	cJSON_Delete(d->response_urls);
	d->channels = d->dms = d->tickets = d->pacing = d->response_urls = NULL;
}

void slack_reset(struct sd *d)
{
	int64_t last = d->last_ts_us; /* ts stay increasing across resets */
	unsigned dm = d->next_dm;
	slack_free(d);
	slack_init(d);
	d->last_ts_us = last;
	d->next_dm = dm;
}

/* Parses "secs.micros" into microseconds; -1 when it is not one. */
static int64_t ts_us(const char *ts)
{
	long long sec = 0, frac = 0;
	int digits = 0;
	const char *p = ts;
	if (p == NULL || *p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9' && sec < 100000000000LL)
		sec = sec * 10 + (*p++ - '0');
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9' && digits < 6) {
			frac = frac * 10 + (*p++ - '0');
			digits++;
		}
		while (digits++ < 6)
			frac *= 10;
	}
	if (*p != '\0')
		return -1;
	return (int64_t)sec * 1000000 + frac;
}

void slack_next_ts(struct sd *d, char out[24])
{
	int64_t us = now_ms() * 1000;
	if (us <= d->last_ts_us)
		us = d->last_ts_us + 100;
	d->last_ts_us = us;
	snprintf(out, 24, "%lld.%06lld", (long long)(us / 1000000), (long long)(us % 1000000));
}

bool slack_channel_exists(struct sd *d, const char *id)
{
	return id != NULL && cJSON_GetObjectItemCaseSensitive(d->channels, id) != NULL;
}

void slack_add_channel(struct sd *d, const char *id)
{
	if (!slack_channel_exists(d, id))
		cJSON_AddItemToObject(d->channels, id, cJSON_CreateArray());
}

cJSON *slack_channel_messages(struct sd *d, const char *id)
{
	return id ? cJSON_GetObjectItemCaseSensitive(d->channels, id) : NULL;
}

cJSON *slack_find_message(struct sd *d, const char *channel, const char *ts)
{
	cJSON *m;
	cJSON *msgs = slack_channel_messages(d, channel);
	if (msgs == NULL || ts == NULL)
		return NULL;
	cJSON_ArrayForEach(m, msgs)
	{
		const char *mts = jstr(m, "ts");
		if (mts != NULL && strcmp(mts, ts) == 0)
			return m;
	}
	return NULL;
}

cJSON *slack_store_message(struct sd *d, const char *channel, cJSON *msg)
{
	int64_t us = ts_us(jstr(msg, "ts"));
	if (us > d->last_ts_us) /* an injected ts from the future: keep ours above it */
		d->last_ts_us = us;
	slack_add_channel(d, channel);
	cJSON_AddItemToArray(slack_channel_messages(d, channel), msg);
	return msg;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *slack_open_dm(struct sd *d, const char *users_csv, bool *existed)
{
	char *ids[8];
	size_t n = 0;
	struct buf key;
	const char *p = users_csv;
	const cJSON *found;
	char id[24];

	while (*p && n < ARRAY_LEN(ids)) {
		size_t len = strcspn(p, ",");
		if (len > 0)
			ids[n++] = xstrndup(p, len);
		p += len;
		if (*p == ',')
			p++;
	}
	qsort(ids, n, sizeof(ids[0]), cmp_str);
	buf_init(&key, 4096);
	for (size_t i = 0; i < n; i++) {
		buf_printf(&key, "%s%s", i ? "," : "", ids[i]);
		free(ids[i]);
	}
	found = cJSON_GetObjectItemCaseSensitive(d->dms, key.data ? key.data : "");
	*existed = found != NULL;
	if (found == NULL) {
		snprintf(id, sizeof(id), "D%08u", ++d->next_dm);
		found = cJSON_AddStringToObject(d->dms, key.data ? key.data : "", id);
		slack_add_channel(d, id);
	}
	buf_release(&key);
	return found->valuestring;
}

void slack_new_ticket(struct sd *d, char out[37])
{
	cJSON *t = cJSON_CreateObject();
	make_uuid(out);
	cJSON_AddNumberToObject(t, "created_ms", (double)now_ms());
	cJSON_AddBoolToObject(t, "used", false);
	cJSON_AddItemToObject(d->tickets, out, t);
}

int slack_use_ticket(struct sd *d, const char *ticket)
{
	cJSON *t = ticket ? cJSON_GetObjectItemCaseSensitive(d->tickets, ticket) : NULL;
	if (t == NULL || jbool(t, "used", true))
		return 0;
	cJSON_ReplaceItemInObjectCaseSensitive(t, "used", cJSON_CreateTrue());
	return 1;
}

/* ---- the human view ---- */

static int cmp_ts(const void *a, const void *b)
{
	int64_t x = ts_us(jstr(*(cJSON *const *)a, "ts"));
	int64_t y = ts_us(jstr(*(cJSON *const *)b, "ts"));
	return x < y ? -1 : x > y;
}

static bool is_reply(const cJSON *m)
{
	const char *ts = jstr(m, "ts"), *th = jstr(m, "thread_ts");
	return th != NULL && (ts == NULL || strcmp(ts, th) != 0);
}

static cJSON *view_channel(struct sd *d, const char *channel)
{
	cJSON *msgs = slack_channel_messages(d, channel);
	int n = cJSON_GetArraySize(msgs), k = 0;
	cJSON **sorted = xcalloc((size_t)n + 1, sizeof(*sorted));
	cJSON *top = cJSON_CreateArray();
	cJSON *m;

	cJSON_ArrayForEach(m, msgs) sorted[k++] = m;
	qsort(sorted, (size_t)n, sizeof(*sorted), cmp_ts);
	/* Top-level messages first, then each reply under its root. */
	for (int i = 0; i < n; i++) {
		if (is_reply(sorted[i]) &&
		    slack_find_message(d, channel, jstr(sorted[i], "thread_ts")) != NULL)
			continue;
		cJSON *copy = cJSON_Duplicate(sorted[i], 1);
		if (is_reply(sorted[i]))
			cJSON_AddBoolToObject(copy, "orphan_reply", true);
		cJSON_AddItemToArray(top, copy);
	}
	for (int i = 0; i < n; i++) {
		const cJSON *parent;
		const char *root_ts;
		cJSON *t, *replies, *copy;
		bool not_parent = false;

		if (!is_reply(sorted[i]))
			continue;
		parent = slack_find_message(d, channel, jstr(sorted[i], "thread_ts"));
		if (parent == NULL)
			continue;
		if (is_reply(parent)) { /* thread_ts named a reply, not the root */
			not_parent = true;
			root_ts = jstr(parent, "thread_ts");
		} else {
			root_ts = jstr(parent, "ts");
		}
		copy = cJSON_Duplicate(sorted[i], 1);
		if (not_parent)
			cJSON_AddBoolToObject(copy, "thread_ts_not_parent", true);
		cJSON_ArrayForEach(t, top)
		{
			if (strcmp(jstr(t, "ts") ? jstr(t, "ts") : "", root_ts) == 0)
				break;
		}
		if (t == NULL) { /* the reply's reply chain ends in nothing */
			cJSON_AddBoolToObject(copy, "orphan_reply", true);
			cJSON_AddItemToArray(top, copy);
			continue;
		}
		replies = cJSON_GetObjectItemCaseSensitive(t, "replies");
		if (replies == NULL)
			replies = cJSON_AddArrayToObject(t, "replies");
		cJSON_AddItemToArray(replies, copy);
	}
	cJSON_ArrayForEach(m, top)
	{
		cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "replies");
		if (r != NULL)
			cJSON_AddNumberToObject(m, "reply_count", cJSON_GetArraySize(r));
	}
	free(sorted);
	return top;
}

cJSON *slack_messages_view(struct sd *d, const char *channel)
{
	cJSON *out = cJSON_CreateObject();
	const cJSON *c;
	if (channel != NULL) {
		cJSON_AddStringToObject(out, "channel", channel);
		cJSON_AddBoolToObject(out, "exists", slack_channel_exists(d, channel));
		cJSON_AddItemToObject(out, "messages", slack_channel_exists(d, channel)
							       ? view_channel(d, channel)
							       : cJSON_CreateArray());
		return out;
	}
	cJSON *all = cJSON_AddObjectToObject(out, "channels");
	cJSON_ArrayForEach(c, d->channels) cJSON_AddItemToObject(all, c->string,
								 view_channel(d, c->string));
	return out;
}
