/*
 * This file contains the decision after an investigation: deterministic,
 * code and config only, never an LLM's choice. noise → the incident is
 * dismissed with a one-line reason; real → the report goes to the thread and
 * the incident is escalated (a later wave adds nags, mentions and guarded
 * fixes per environment). An incident that resolved while it was being
 * investigated keeps its state; the report is posted for the record.
 *
 * Threads: runs on the worker that investigated, inside its transaction.
 */
#ifndef NIGHTSHIFT_DECIDE_H
#define NIGHTSHIFT_DECIDE_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct report;
struct store;

/* What decide_apply did, for the log. */
enum decision { DECIDE_DISMISS = 0, DECIDE_ESCALATE, DECIDE_RECORD_ONLY };
const char *decision_name(enum decision d);

/*
 * Applies report to incident_id: incident state, verdict, root cause and
 * confidence, and the thread message for channels[0..n). 0 or -1 with err.
 */
int decide_apply(struct store *s, const struct config *cfg, int64_t incident_id,
		 const struct report *report, const char *const *channels, size_t n_channels,
		 int64_t now_ms, enum decision *out, char *err, size_t errlen);

#endif
