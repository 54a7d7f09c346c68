/*
 * This file contains the investigation worker pool. Investigations are rows
 * of the `investigations` table (written by triage in the alert's own
 * transaction), so the queue is durable: a restart resumes pending and
 * interrupted ones, and a busy pool only delays, never drops.
 *
 * DESIGN: the loop thread calls workers_dispatch() to hand pending rows to
 * idle workers; each worker has its own SQLite connection and Kubernetes
 * clients, claims its row (state running), runs a fresh investigation
 * (investigate.h) with blocking calls, then stores the tool calls, the report
 * and the decision (decide.h) with its thread message in one transaction.
 * It hands back only a small result through a queue and the wake callback;
 * the loop drains it in workers_drain(). Workers never touch channels,
 * timers or lws.
 *
 * Follow-up questions (bot/followup.h) are rows of the `followups` table and
 * go through the same pool the same way (followup_run_one), and so do the
 * nags that look at the pods (rows of kind 'nag'); when both kinds wait,
 * they take turns, investigations first.
 */
#ifndef NIGHTSHIFT_WORKERS_H
#define NIGHTSHIFT_WORKERS_H

#include "decide.h"
#include "playbook.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct k8s_client;
struct store;

#define WORKERS_MAX_ATTEMPTS 3 /* an investigation that kills its worker this often fails */

/* A playbook set shared by reference between the loop and the workers. */
struct shared_playbooks {
	int refs;
	struct playbook_set set;
};

/* Loads dir; NULL with every error ("file:line: message" lines) in err. */
struct shared_playbooks *shared_playbooks_load(const char *dir, char *err, size_t errlen);
struct shared_playbooks *shared_playbooks_ref(struct shared_playbooks *p);
void shared_playbooks_unref(struct shared_playbooks *p); /* NULL-safe */

/* What the loop learns of a finished investigation (or follow-up question). */
struct investigation_result {
	int64_t id, incident_id;
	bool followup;            /* a follow-up question (bot/followup.h): id is the followup's */
	char intent[16];          /* the follow-up's intent */
	int status;               /* 0 done, -1 failed, 1 skipped (not pending any more) */
	enum decision decision;
	char verdict[8], category[24], confidence[8];
	int steps;
	int64_t duration_ms;
	char error[200];
};

struct workers;

/*
 * Starts cfg->workers threads on db_path (takes references to cfg and pb).
 * wake(arg) is called from a worker when results wait for workers_drain().
 */
struct workers *workers_start(const char *db_path, struct config *cfg,
			      struct shared_playbooks *pb, void (*wake)(void *), void *wake_arg,
			      char *err, size_t errlen);
/*
 * Loop thread: hands pending investigations and follow-up questions to idle
 * workers; returns how many. When both wait, they alternate (investigations
 * first), so neither starves the other.
 */
size_t workers_dispatch(struct workers *w, struct store *loop_store);
/* Loop thread: calls cb for every finished investigation; returns how many. */
size_t workers_drain(struct workers *w,
		     void (*cb)(void *arg, const struct investigation_result *r), void *arg);
/* Investigations and follow-ups handed out and not yet drained. */
size_t workers_busy(struct workers *w);
/* Next investigations use cfg and pb (references taken). */
void workers_set_config(struct workers *w, struct config *cfg, struct shared_playbooks *pb);
/* Stops the pool: waits up to grace_ms for running investigations. NULL-safe. */
void workers_stop(struct workers *w, int grace_ms);

/*
 * Runs investigation id to completion on store (claim, investigate, decide).
 * Used by the workers and by tests. clients: per cfg->clusters, may be NULL.
 */
void workers_run_one(struct store *store, const struct config *cfg,
		     const struct playbook_set *pb, struct k8s_client **clients, int64_t id,
		     struct investigation_result *res);

#endif
