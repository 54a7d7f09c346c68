/*
 * This file contains the two tools that read nightshift's own memory rather
 * than a cluster: `history` (past incidents of this alert's fingerprint —
 * every investigation runs it first) and `playbook` (a playbook's guidance by
 * name; names only, never paths). Statement slots 30..39 are this file's.
 */
#include "alert.h"
#include "playbook.h"
#include "store.h"
#include "tool.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

enum { ST_HISTORY_COUNTS = 30, ST_HISTORY_LAST };

static int history_run(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st;
	long long total = 0, noise = 0, real = 0;
	char age[32];

	(void)args;
	if (ctx->store == NULL)
		return snprintf(err, errlen, "no incident memory available"), -1;
	st = store_stmt(ctx->store, ST_HISTORY_COUNTS,
			"SELECT count(*), coalesce(sum(verdict = 'noise'), 0),"
			" coalesce(sum(verdict IN ('real', 'escalated', 'auto_fixed')), 0)"
			" FROM incidents WHERE fingerprint = ? AND id <> ?");
	if (st == NULL)
		return snprintf(err, errlen, "history query failed"), -1;
	store_bind_text(st, 1, ctx->alert->fingerprint);
	sqlite3_bind_int64(st, 2, ctx->incident_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		total = sqlite3_column_int64(st, 0);
		noise = sqlite3_column_int64(st, 1);
		real = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	buf_printf(out, "history incidents=%lld noise=%lld real=%lld", total, noise, real);
	if (total == 0) {
		buf_puts(out, "\n");
		return 0;
	}
	st = store_stmt(ctx->store, ST_HISTORY_LAST,
			"SELECT opened_at, coalesce(verdict, state), coalesce(root_cause, '')"
			" FROM incidents WHERE fingerprint = ? AND id <> ? ORDER BY id DESC LIMIT 1");
	if (st == NULL)
		return snprintf(err, errlen, "history query failed"), -1;
	store_bind_text(st, 1, ctx->alert->fingerprint);
	sqlite3_bind_int64(st, 2, ctx->incident_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		char cause[301];
		format_duration((ctx->now_ms - sqlite3_column_int64(st, 0)) / 1000, age, sizeof(age));
		strlcpy0(cause, store_col_text(st, 2), sizeof(cause));
		for (char *p = cause; *p; p++)
			if (*p == '"' || *p == '\n')
				*p = *p == '"' ? '\'' : ' ';
		buf_printf(out, " last_age=%s last_verdict=%s last_root_cause=\"%s\"", age,
			   store_col_text(st, 1), cause);
	}
	sqlite3_reset(st);
	buf_puts(out, "\n");
	return 0;
}

const struct tool history_tool = {
	.name = "history",
	.description = "Past incidents of this alert's fingerprint: how many, how many were "
		       "noise or real, and the last root cause. Run it first.",
	.parameters = "{\"type\":\"object\",\"properties\":{}}",
	.kind = TOOL_READ,
	.run = history_run,
};

static int playbook_run(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
			size_t errlen)
{
	const char *name = tool_arg(args, "name");
	const struct playbook *pb;

	if (name == NULL)
		return snprintf(err, errlen, "missing argument name"), -1;
	pb = ctx->playbooks ? playbook_find(ctx->playbooks, name) : NULL;
	if (pb == NULL)
		return snprintf(err, errlen, "no playbook named \"%.64s\"", name), -1;
	buf_printf(out, "playbook name=%s loaded=true steps=%zu\n%s\n", pb->name, pb->n_steps,
		   pb->description);
	/* The guidance, as much as fits: the rest of the output cap is for it. */
	if (pb->body != NULL)
		(void)buf_append(out, pb->body,
				 strlen(pb->body) < 8192 ? strlen(pb->body) : 8192);
	return 0;
}

const struct tool playbook_tool = {
	.name = "playbook",
	.description = "Load another playbook by name (names only) for its steps and guidance.",
	.parameters = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},"
		      "\"required\":[\"name\"]}",
	.kind = TOOL_READ,
	.run = playbook_run,
};
