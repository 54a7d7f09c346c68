/*
 * This file contains "watching the watchers" (README): the dead man's switch
 * and nightshift's own heartbeat.
 *
 * Dead man's switch: the always-firing heartbeat alert (watchdog.alertname,
 * Alertmanager's Watchdog by default, or whatever matches watchdog.match)
 * never opens an incident. With watchdog.group_by (e.g. cluster, one
 * Alertmanager each) every value of that label is a switch of its own, armed
 * once its first heartbeat arrived, with its own silence incident. Triage stores
 * it without one and prunes the older ones, so the newest firing row in
 * alerts is when the pipeline last spoke; it survives a restart. Once a
 * second the loop submits a writer job that, inside the writer's
 * transaction, compares that time with watchdog.timeout and, on silence,
 * triages a synthetic critical MonitoringPipelineSilent alert like any other
 * (incident, thread, investigation by playbooks/monitoring-silent.md). At
 * most one per silence: an incident of it opened after the last heartbeat
 * means it was raised already (a restart neither doubles nor loses it). The
 * next firing heartbeat resolves it at source, in the same transaction.
 *
 * Armed: with a watchdog section, from start-up (silence counts from the
 * start when no heartbeat was ever seen); without one, only once a first
 * heartbeat has arrived, so a bot without a Watchdog route stays quiet.
 *
 * Heartbeat: every heartbeat.interval the loop starts a GET/POST of
 * heartbeat.url on the HTTP client thread (at most one in flight); results
 * land in the metrics (/healthz, /metrics); failures are logged rate-limited
 * and are never fatal. The URL may carry a push token: only its host is logged.
 */
#ifndef NIGHTSHIFT_WATCH_H
#define NIGHTSHIFT_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WATCH_SILENT_ALERTNAME "MonitoringPipelineSilent"

struct alert;
struct config;
struct daemon;
struct store;
struct triage_ctx;
struct triage_outcome;

/* Loop-thread state of the daemon (struct daemon.watch). */
struct watch_state {
	bool check_busy;	    /* a silence check job is in flight */
	int64_t check_next_mono_ms; /* when the next silence check is due */
	bool hb_in_flight;	    /* a heartbeat request is in flight */
	int64_t hb_next_mono_ms;    /* when the next heartbeat is due */
	int64_t hb_last_log_mono;   /* rate limit of failure logs */
	uint64_t hb_unlogged;	    /* failures not logged since */
};

#define WATCH_KEY_MAX	   128 /* a switch's key (a label value) is cut to this */
#define WATCH_MAX_SWITCHES 64  /* switches checked (one per watchdog.group_by value) */

/*
 * The switch heartbeat hb belongs to: the value of its watchdog.group_by
 * label ("" without group_by, or when hb lacks the label).
 */
void watch_key(const struct config *c, const struct alert *hb, char *out, size_t outlen);

/*
 * When the newest firing heartbeat of switch key (NULL: of any switch)
 * arrived (*at_ms) and from which source (alert_source_name). 1 found, 0
 * never, -1 on a store error.
 */
int watch_last_heartbeat(struct store *s, const char *key, int64_t *at_ms, char *source,
			 size_t srclen);

/*
 * Writer thread, from triage: heartbeat hb was stored as alert_id; marks it
 * as its switch's and, when firing, prunes that switch's older ones. 0 or -1.
 */
int watch_heartbeat_stored(struct triage_ctx *ctx, const struct alert *hb, int64_t alert_id,
			   char *err, size_t errlen);

/*
 * Writer thread, from triage: heartbeat hb (firing) arrived; resolves an open
 * silence incident, with "the monitoring pipeline is back". *incident is set
 * to it (0 when none). 0 or -1 with err.
 */
int watch_pipeline_back(struct triage_ctx *ctx, const struct alert *hb, int64_t *incident,
			char *err, size_t errlen);

/*
 * Writer thread: raises the silence alert when the heartbeat has been silent
 * longer than the timeout and it was not raised yet for this silence.
 * started_ms: when this process started (the silence start when a configured
 * watchdog never saw a heartbeat). out->action is TRIAGE_OPENED (or JOINED,
 * REOPENED) when raised; out is zeroed and *raised false otherwise.
 */
int watch_check(struct triage_ctx *ctx, int64_t started_ms, bool *raised,
		struct triage_outcome *out, char *err, size_t errlen);

/*
 * Loop thread, from the daemon's once-a-second tick: the silence check (every
 * timeout/20, between 1 s and 30 s) and the heartbeat, each when due.
 */
void watch_tick(struct daemon *d);

#endif
