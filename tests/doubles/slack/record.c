/*
 * This file contains the recording: every API call, WebSocket frame in and
 * out, connection open/close and pong becomes one JSON object
 * {seq, at_ms, kind, ...}. They are kept in memory (the newest SD_MAX_LOG)
 * for GET /_control/log and, with --log, appended to a JSONL file as they
 * happen (flushed per line, so a test can tail it).
 */
#include "sd.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int record_open(struct sd *d)
{
	d->log = cJSON_CreateArray();
	if (d->cfg.log_file == NULL)
		return 0;
	d->log_fp = fopen(d->cfg.log_file, "a");
	if (d->log_fp == NULL) {
		log_warn("event=log_open_failed path=%s", d->cfg.log_file);
		return -1;
	}
	return 0;
}

void record_add(struct sd *d, const char *kind, cJSON *entry)
{
	cJSON *head = cJSON_CreateObject();
	cJSON *it;

	/* seq, at_ms and kind first, for people reading the JSONL file. */
	cJSON_AddNumberToObject(head, "seq", (double)++d->seq);
	cJSON_AddNumberToObject(head, "at_ms", (double)now_ms());
	cJSON_AddStringToObject(head, "kind", kind);
	while ((it = entry->child) != NULL) {
		cJSON_DetachItemViaPointer(entry, it);
		if (cJSON_GetObjectItemCaseSensitive(head, it->string) != NULL)
			cJSON_Delete(it);
		else
			cJSON_AddItemToObject(head, it->string, it); /* keeps it->string */
	}
	cJSON_Delete(entry);
	if (d->log_fp != NULL) {
		char *line = json_print(head);
		fprintf(d->log_fp, "%s\n", line);
		fflush(d->log_fp);
		free(line);
	}
	cJSON_AddItemToArray(d->log, head);
	if (++d->log_n > SD_MAX_LOG) {
		cJSON_DeleteItemFromArray(d->log, 0);
		d->log_n--;
		d->log_dropped++;
	}
}

cJSON *record_query(struct sd *d, int64_t since, const char *kind, const char *method)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *e;
	cJSON_ArrayForEach(e, d->log)
	{
		if (jint(e, "seq", 0) <= since)
			continue;
		if (kind != NULL && (jstr(e, "kind") == NULL || strcmp(jstr(e, "kind"), kind) != 0))
			continue;
		if (method != NULL &&
		    (jstr(e, "method") == NULL || strcmp(jstr(e, "method"), method) != 0))
			continue;
		cJSON_AddItemToArray(out, cJSON_Duplicate(e, 1));
	}
	return out;
}

void record_reset(struct sd *d)
{
	cJSON_Delete(d->log);
	d->log = cJSON_CreateArray();
	d->log_n = 0;
	d->log_dropped = 0; /* seq keeps counting: "since" cursors stay valid */
}

void record_close(struct sd *d)
{
	cJSON_Delete(d->log);
	d->log = NULL;
	if (d->log_fp)
		fclose(d->log_fp);
	d->log_fp = NULL;
}
