/*
 * This file contains decide_apply() of decide.h. Statement slots 45..49 of
 * the store's cache are this file's.
 */
#include "decide.h"

#include "config.h"
#include "esc_clock.h"
#include "escalation.h"
#include "investigate.h"
#include "outbox.h"
#include "render.h"
#include "store.h"
#include "triage.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_STATE = 45, ST_UPDATE };

const char *decision_name(enum decision d)
{
	static const char *names[] = {"dismiss", "escalate", "record_only"};
	return (unsigned)d < ARRAY_LEN(names) ? names[d] : "unknown";
}

int decide_apply(struct store *s, const struct config *cfg, int64_t incident_id,
		 const struct report *r, const char *const *channels, size_t n_channels,
		 int64_t now_ms, enum decision *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = store_stmt(s, ST_STATE, "SELECT state FROM incidents WHERE id = ?");
	char state[16] = "";
	bool noise = strcmp(r->verdict, "noise") == 0;
	const char *next_state, *verdict;
	struct incident_view v;
	const char *note = NULL;
	char *body;
	int rc;

	if (st == NULL)
		return snprintf(err, errlen, "cannot read incident"), -1;
	sqlite3_bind_int64(st, 1, incident_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		strlcpy0(state, store_col_text(st, 0), sizeof(state));
	sqlite3_reset(st);
	if (state[0] == '\0')
		return snprintf(err, errlen, "incident %lld not found", (long long)incident_id), -1;

	if (strcmp(state, "open") != 0 && strcmp(state, "investigating") != 0) {
		/* Resolved (or handled by a human) meanwhile: keep its state, record the report. */
		*out = DECIDE_RECORD_ONLY;
		next_state = state;
		verdict = NULL;
		note = strcmp(state, "resolved") == 0 ? "the incident resolved while it was being "
							"investigated"
						      : NULL;
	} else if (noise) {
		*out = DECIDE_DISMISS;
		next_state = "noise";
		verdict = "noise";
	} else {
		*out = DECIDE_ESCALATE;
		next_state = "escalated";
		verdict = "real";
	}
	st = store_stmt(s, ST_UPDATE,
			"UPDATE incidents SET state = ?, verdict = coalesce(?, verdict),"
			" verdict_reason = CASE WHEN ? IS NULL THEN verdict_reason ELSE ? END,"
			" root_cause = ?, confidence = ?, last_seen_at = max(last_seen_at, ?)"
			" WHERE id = ?");
	if (st == NULL)
		return snprintf(err, errlen, "cannot update incident"), -1;
	store_bind_text(st, 1, next_state);
	store_bind_text(st, 2, verdict);
	store_bind_text(st, 3, verdict);
	store_bind_text(st, 4, r->root_cause);
	store_bind_text(st, 5, r->root_cause);
	store_bind_text(st, 6, r->confidence);
	sqlite3_bind_int64(st, 7, now_ms);
	sqlite3_bind_int64(st, 8, incident_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return snprintf(err, errlen, "%s", sqlite3_errmsg(store_db(s))), -1;
	if (n_channels == 0)
		return 0;
	if (triage_load_view(s, incident_id, &v) < 0)
		return snprintf(err, errlen, "incident %lld vanished", (long long)incident_id), -1;
	body = render_report(&v, r, note);
	if (*out == DECIDE_ESCALATE) {
		/* The escalation: the targets are mentioned, the nags scheduled, in this transaction. */
		char mentions[600];
		cJSON *m = cJSON_Parse(body);
		escalation_mentions(cfg, v.environment, mentions, sizeof(mentions));
		if (m != NULL && mentions[0]) {
			cJSON_AddStringToObject(m, "mentions", mentions);
			free(body);
			body = cJSON_PrintUnformatted(m);
		}
		cJSON_Delete(m);
		if (escalation_start(s, cfg, incident_id, v.environment, esc_now_ms(), err,
				     errlen) < 0) {
			triage_view_release(s);
			free(body);
			return -1;
		}
	}
	triage_view_release(s);
	rc = outbox_enqueue(s, incident_id, MSG_REPORT, body, channels, n_channels, now_ms, err,
			    errlen);
	free(body);
	if (rc == 0 && *out == DECIDE_ESCALATE)
		rc = escalation_start_dms(s, cfg, incident_id, channels, n_channels, now_ms, err,
					  errlen);
	return rc;
}
