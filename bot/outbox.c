/*
 * This file contains the outbox rows of outbox.h. Statement slots 20..29 of
 * the store's cache belong to this file.
 */
#include "outbox.h"

#include "store.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	ST_ENQUEUE = 20,
	ST_DUE,
	ST_SENT,
	ST_RETRY,
	ST_FAILED,
	ST_PENDING,
	ST_THREAD,
};

int outbox_enqueue(struct store *s, int64_t incident_id, const char *kind, const char *body,
		   const char *const *channels, size_t n, int64_t now_ms, char *err,
		   size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = store_stmt(s, ST_ENQUEUE,
					      "INSERT INTO outbox (incident_id, channel, kind, body,"
					      " created_at) VALUES (?,?,?,?,?)");
		if (st == NULL)
			return snprintf(err, errlen, "cannot prepare outbox insert"), -1;
		if (incident_id)
			sqlite3_bind_int64(st, 1, incident_id);
		store_bind_text(st, 2, channels[i]);
		store_bind_text(st, 3, kind);
		sqlite3_bind_text(st, 4, body, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, now_ms);
		if (sqlite3_step(st) != SQLITE_DONE) {
			snprintf(err, errlen, "outbox insert: %s", sqlite3_errmsg(store_db(s)));
			return -1;
		}
	}
	return 0;
}

int outbox_enqueue_header(struct store *s, int64_t incident_id, const char *channel,
			  const char *state, int64_t now_ms, char *err, size_t errlen)
{
	cJSON *o = cJSON_CreateObject();
	char *body;
	int rc;

	cJSON_AddStringToObject(o, "state", state);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	rc = outbox_enqueue(s, incident_id, OUTBOX_HEADER, body, &channel, 1, now_ms, err, errlen);
	free(body);
	return rc;
}

int outbox_due(struct store *s, const char *channel, int64_t now_ms, int64_t after_id,
	       struct outbox_item *items, size_t max)
{
	sqlite3_stmt *st = store_stmt(s, ST_DUE,
				      "SELECT id, coalesce(incident_id, 0), kind, body, attempts"
				      " FROM outbox WHERE channel = ? AND state = 'pending'"
				      " AND next_attempt_at <= ? AND id > ? ORDER BY id LIMIT ?");
	size_t n = 0;
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, channel);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int64(st, 3, after_id);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct outbox_item *it = &items[n++];
		it->id = sqlite3_column_int64(st, 0);
		it->incident_id = sqlite3_column_int64(st, 1);
		strlcpy0(it->channel, channel, sizeof(it->channel));
		strlcpy0(it->kind, store_col_text(st, 2), sizeof(it->kind));
		it->body = xstrdup(store_col_text(st, 3));
		it->attempts = sqlite3_column_int(st, 4);
	}
	sqlite3_reset(st);
	return (int)n;
}

void outbox_item_release(struct outbox_item *it)
{
	if (it == NULL)
		return;
	free(it->body);
	it->body = NULL;
}

static int step(struct store *s, sqlite3_stmt *st)
{
	(void)s;
	return st != NULL && sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

int outbox_mark_sent(struct store *s, int64_t id, const char *remote_ref, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, ST_SENT,
				      "UPDATE outbox SET state = 'sent', sent_at = ?, remote_ref = ?,"
				      " attempts = attempts + 1, error = NULL WHERE id = ?");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now_ms);
	store_bind_text(st, 2, remote_ref);
	sqlite3_bind_int64(st, 3, id);
	return step(s, st);
}

int outbox_mark_retry(struct store *s, int64_t id, int64_t next_attempt_ms, const char *error)
{
	sqlite3_stmt *st = store_stmt(s, ST_RETRY,
				      "UPDATE outbox SET attempts = attempts + 1,"
				      " next_attempt_at = ?, error = ? WHERE id = ?");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, next_attempt_ms);
	store_bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, id);
	return step(s, st);
}

int outbox_mark_failed(struct store *s, int64_t id, const char *error)
{
	sqlite3_stmt *st = store_stmt(s, ST_FAILED,
				      "UPDATE outbox SET state = 'failed', attempts = attempts + 1,"
				      " error = ? WHERE id = ?");
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, error);
	sqlite3_bind_int64(st, 2, id);
	return step(s, st);
}

int64_t outbox_pending_count(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, ST_PENDING,
				      "SELECT count(*) FROM outbox WHERE state = 'pending'");
	int64_t n = -1;
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return n;
}

int outbox_set_thread(struct store *s, int64_t incident_id, const char *channel,
		      const char *thread_ref)
{
	sqlite3_stmt *st = store_stmt(s, ST_THREAD,
				      "INSERT INTO threads (incident_id, channel, thread_ref, header_ref)"
				      " VALUES (?1, ?2, ?3, ?3) ON CONFLICT (incident_id, channel)"
				      " DO UPDATE SET thread_ref = excluded.thread_ref,"
				      " header_ref = excluded.header_ref");
	if (st == NULL || incident_id <= 0)
		return st == NULL ? -1 : 0;
	sqlite3_bind_int64(st, 1, incident_id);
	store_bind_text(st, 2, channel);
	store_bind_text(st, 3, thread_ref);
	return step(s, st);
}
