/*
 * This file contains the worker pool of workers.h and the life of one
 * investigation row: claim (pending → running, the incident → investigating),
 * investigate, then store tool calls, report and decision in one
 * transaction. Statement slots 50..59 of a worker's store are this file's.
 */
#include "workers.h"

#include "channel.h"
#include "config.h"
#include "followup.h"
#include "investigate.h"
#include "k8s.h"
#include "log.h"
#include "store.h"
#include "triage.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ST_CLAIM_READ = 50, ST_CLAIM, ST_INCIDENT_INVESTIGATING, ST_TOOL_CALL, ST_DONE, ST_FAILED,
       ST_PENDING, ST_PENDING_FOLLOWUPS };

#define QUEUE_MAX 64

struct shared_playbooks *shared_playbooks_load(const char *dir, char *err, size_t errlen)
{
	struct shared_playbooks *p = xcalloc(1, sizeof(*p));
	if (playbook_set_load(dir, &p->set, err, errlen) < 0) {
		playbook_set_release(&p->set);
		free(p);
		return NULL;
	}
	p->refs = 1;
	return p;
}

struct shared_playbooks *shared_playbooks_ref(struct shared_playbooks *p)
{
	if (p)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

void shared_playbooks_unref(struct shared_playbooks *p)
{
	if (p && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		playbook_set_release(&p->set);
		free(p);
	}
}

/* ---- one investigation ---- */

static int exec1(struct store *s, const char *what, sqlite3_stmt *st, char *err, size_t errlen)
{
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(store_db(s)));
		return -1;
	}
	return 0;
}

/* pending → running. Returns 1 claimed, 0 not pending any more, -1 error. */
static int claim(struct store *s, int64_t id, int64_t *incident, int64_t *alert_id,
		 int *attempts, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char state[16] = "";

	if (store_begin(s) < 0)
		return snprintf(err, errlen, "store busy"), -1;
	st = store_stmt(s, ST_CLAIM_READ,
			"SELECT incident_id, coalesce(alert_id, 0), state, attempts"
			" FROM investigations WHERE id = ?");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*incident = sqlite3_column_int64(st, 0);
		*alert_id = sqlite3_column_int64(st, 1);
		strlcpy0(state, store_col_text(st, 2), sizeof(state));
		*attempts = sqlite3_column_int(st, 3);
	}
	sqlite3_reset(st);
	if (strcmp(state, "pending") != 0) {
		store_commit(s);
		return 0;
	}
	st = store_stmt(s, ST_CLAIM,
			"UPDATE investigations SET state = 'running', attempts = attempts + 1,"
			" started_at = ? WHERE id = ?");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, now_ms());
	sqlite3_bind_int64(st, 2, id);
	if (exec1(s, "claim", st, err, errlen) < 0)
		goto fail;
	st = store_stmt(s, ST_INCIDENT_INVESTIGATING,
			"UPDATE incidents SET state = 'investigating' WHERE id = ? AND state = 'open'");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, *incident);
	if (exec1(s, "incident state", st, err, errlen) < 0)
		goto fail;
	if (store_commit(s) < 0)
		goto fail;
	return 1;
fail:
	if (err[0] == '\0')
		snprintf(err, errlen, "claim failed");
	store_rollback(s);
	return -1;
}

static int finish(struct store *s, const struct config *cfg, int64_t id, int64_t incident,
		  const struct report *r, const struct tool_calls *calls,
		  struct investigation_result *res, char *err, size_t errlen)
{
	const char *channels[16];
	size_t n_channels = channels_enabled(cfg, channels, ARRAY_LEN(channels));
	int64_t now = now_ms();
	char *json = report_to_json(r);
	sqlite3_stmt *st;
	int rc = -1;

	if (store_begin(s) < 0) {
		snprintf(err, errlen, "store busy");
		free(json);
		return -1;
	}
	if (tool_calls_store(s, false, id, calls, now, err, errlen) < 0)
		goto out;
	st = store_stmt(s, ST_DONE,
			"UPDATE investigations SET state = 'done', mode = ?, playbooks = ?,"
			" verdict = ?, category = ?, confidence = ?, report = ?, steps = ?,"
			" duration_ms = ?, finished_at = ?, error = NULL WHERE id = ?");
	if (st == NULL)
		goto out;
	store_bind_text(st, 1, r->mode);
	store_bind_text(st, 2, r->playbooks);
	store_bind_text(st, 3, r->verdict);
	store_bind_text(st, 4, r->category);
	store_bind_text(st, 5, r->confidence);
	store_bind_text(st, 6, json);
	sqlite3_bind_int(st, 7, r->steps);
	sqlite3_bind_int64(st, 8, r->duration_ms);
	sqlite3_bind_int64(st, 9, now);
	sqlite3_bind_int64(st, 10, id);
	if (exec1(s, "report", st, err, errlen) < 0)
		goto out;
	if (decide_apply(s, cfg, incident, r, channels, n_channels, now, &res->decision, err,
			 errlen) < 0)
		goto out;
	rc = store_commit(s);
out:
	if (rc < 0)
		store_rollback(s);
	free(json);
	return rc;
}

/* A report for an investigation that could not run: escalate, say why. */
static void failure_report(struct report *r, const char *why)
{
	memset(r, 0, sizeof(*r));
	strlcpy0(r->verdict, "real", sizeof(r->verdict));
	strlcpy0(r->category, "unknown", sizeof(r->category));
	strlcpy0(r->confidence, "low", sizeof(r->confidence));
	strlcpy0(r->mode, "rules", sizeof(r->mode));
	r->root_cause = xasprintf("The investigation could not run (%s); a human should look", why);
	r->playbooks = xstrdup("");
}

void workers_run_one(struct store *store, const struct config *cfg,
		     const struct playbook_set *pb, struct k8s_client **clients, int64_t id,
		     struct investigation_result *res)
{
	int64_t incident = 0, alert_id = 0;
	int attempts = 0, claimed;
	struct alert a;
	struct report r;
	struct tool_calls calls = {0};

	memset(res, 0, sizeof(*res));
	res->id = id;
	claimed = claim(store, id, &incident, &alert_id, &attempts, res->error,
			sizeof(res->error));
	res->incident_id = incident;
	if (claimed <= 0) {
		res->status = claimed == 0 ? 1 : -1;
		return;
	}
	if (attempts >= WORKERS_MAX_ATTEMPTS) {
		failure_report(&r, "it was interrupted too often");
	} else if (triage_load_alert(store, alert_id, &a) < 0) {
		failure_report(&r, "its alert is missing from the store");
	} else {
		struct investigate_env env = {.cfg = cfg, .store = store, .playbooks = pb,
					      .clients = clients, .now_ms = now_ms(),
					      .incident_id = incident};
		investigate_run(&env, &a, &r, &calls);
		alert_free(&a);
	}
	if (finish(store, cfg, id, incident, &r, &calls, res, res->error, sizeof(res->error)) < 0)
		res->status = -1;
	strlcpy0(res->verdict, r.verdict, sizeof(res->verdict));
	strlcpy0(res->category, r.category, sizeof(res->category));
	strlcpy0(res->confidence, r.confidence, sizeof(res->confidence));
	res->steps = r.steps;
	res->duration_ms = r.duration_ms;
	report_release(&r);
	tool_calls_release(&calls);
}

/* ---- the pool ---- */

/* One unit of work: an investigation or a follow-up question, by row id. */
struct job {
	bool followup;
	int64_t id;
};

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job queue[QUEUE_MAX]; /* guarded: handed out, not yet taken */
	size_t queue_n;
	struct job in_flight[QUEUE_MAX]; /* guarded: handed out and not yet drained */
	size_t in_flight_n;
	bool followup_turn;          /* guarded: when both wait, whose turn is next */
	struct investigation_result *done; /* guarded */
	size_t done_n, done_alloc;
	size_t idle;                 /* guarded */
	bool stopping;               /* guarded */
	size_t running_threads;      /* guarded */
	struct config *cfg;          /* guarded; a reference */
	struct shared_playbooks *pb; /* guarded; a reference */
	char *db_path;
	pthread_t *threads;
	size_t n_threads;
	void (*wake)(void *);
	void *wake_arg;
};

static void clients_free(struct k8s_client **clients, size_t n)
{
	for (size_t i = 0; i < n; i++)
		k8s_client_free(clients[i]);
	free(clients);
}

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	char err[256];
	struct store *store = store_open(w->db_path, false, err, sizeof(err));
	struct k8s_client **clients = NULL;
	struct config *clients_cfg = NULL; /* a reference: clients borrow from it */
	size_t n_clients = 0;

	pthread_setname_np(pthread_self(), "ns-worker");

	if (store == NULL)
		log_error("event=worker_store_failed error=\"%s\"", err);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct investigation_result res;
		struct config *cfg;
		struct shared_playbooks *pb;
		struct job job;

		while (w->queue_n == 0 && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stopping)
			break;
		job = w->queue[0];
		memmove(w->queue, w->queue + 1, --w->queue_n * sizeof(*w->queue));
		w->idle--;
		cfg = config_ref(w->cfg);
		pb = shared_playbooks_ref(w->pb);
		pthread_mutex_unlock(&w->lock);

		if (clients_cfg != cfg) { /* a reload may have changed the clusters */
			clients_free(clients, n_clients);
			config_unref(clients_cfg);
			clients_cfg = config_ref(cfg);
			n_clients = cfg->n_clusters;
			clients = xcalloc(n_clients ? n_clients : 1, sizeof(*clients));
		}
		if (store != NULL && job.followup) {
			struct followup_result fr;
			followup_run_one(store, cfg, &pb->set, clients, job.id, &fr);
			memset(&res, 0, sizeof(res));
			res.id = fr.id;
			res.incident_id = fr.incident_id;
			res.followup = true;
			res.status = fr.status;
			strlcpy0(res.intent, fr.nag ? "nag" : followup_intent_name(fr.intent),
				 sizeof(res.intent));
			res.steps = fr.steps;
			res.duration_ms = fr.duration_ms;
			strlcpy0(res.error, fr.error, sizeof(res.error));
		} else if (store != NULL) {
			workers_run_one(store, cfg, &pb->set, clients, job.id, &res);
		} else {
			memset(&res, 0, sizeof(res));
			res.id = job.id;
			res.followup = job.followup;
			res.status = -1;
			snprintf(res.error, sizeof(res.error), "worker has no store");
		}
		shared_playbooks_unref(pb);

		pthread_mutex_lock(&w->lock);
		if (w->done_n == w->done_alloc) {
			w->done_alloc = w->done_alloc ? 2 * w->done_alloc : 8;
			w->done = xrealloc(w->done, w->done_alloc * sizeof(*w->done));
		}
		w->done[w->done_n++] = res;
		w->idle++;
		pthread_mutex_unlock(&w->lock);
		config_unref(cfg);
		w->wake(w->wake_arg);
		pthread_mutex_lock(&w->lock);
	}
	w->running_threads--;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	clients_free(clients, n_clients);
	config_unref(clients_cfg);
	store_close(store);
	return NULL;
}

struct workers *workers_start(const char *db_path, struct config *cfg,
			      struct shared_playbooks *pb, void (*wake)(void *), void *wake_arg,
			      char *err, size_t errlen)
{
	struct workers *w = xcalloc(1, sizeof(*w));

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->cfg = config_ref(cfg);
	w->pb = shared_playbooks_ref(pb);
	w->db_path = xstrdup(db_path);
	w->wake = wake;
	w->wake_arg = wake_arg;
	w->n_threads = cfg->workers;
	w->threads = xcalloc(w->n_threads, sizeof(*w->threads));
	for (size_t i = 0; i < w->n_threads; i++) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&w->threads[i], &attr, worker_main, w) != 0) {
			pthread_attr_destroy(&attr);
			snprintf(err, errlen, "cannot start worker %zu", i);
			workers_stop(w, 0);
			return NULL;
		}
		pthread_attr_destroy(&attr);
		pthread_mutex_lock(&w->lock);
		w->running_threads++;
		w->idle++;
		pthread_mutex_unlock(&w->lock);
	}
	return w;
}

static bool in_flight(struct workers *w, bool followup, int64_t id)
{
	for (size_t i = 0; i < w->in_flight_n; i++)
		if (w->in_flight[i].id == id && w->in_flight[i].followup == followup)
			return true;
	return false;
}

/* Up to max pending ids of one kind that are not handed out yet, oldest first. */
static size_t pending_ids(struct workers *w, sqlite3_stmt *st, bool followup, size_t max,
			  int64_t *out)
{
	size_t n = 0;
	if (st == NULL)
		return 0;
	/* Rows already handed out are still 'pending' until their worker claims them. */
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(max + QUEUE_MAX));
	pthread_mutex_lock(&w->lock);
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (!in_flight(w, followup, id))
			out[n++] = id;
	}
	pthread_mutex_unlock(&w->lock);
	sqlite3_reset(st);
	return n;
}

size_t workers_dispatch(struct workers *w, struct store *loop_store)
{
	int64_t inv[QUEUE_MAX], fup[QUEUE_MAX];
	size_t free_slots, started = 0, n_inv, n_fup, i = 0, f = 0;

	pthread_mutex_lock(&w->lock);
	free_slots = w->idle > w->queue_n ? w->idle - w->queue_n : 0;
	if (free_slots > QUEUE_MAX - w->in_flight_n)
		free_slots = QUEUE_MAX - w->in_flight_n;
	pthread_mutex_unlock(&w->lock);
	if (free_slots == 0)
		return 0;
	n_inv = pending_ids(w, store_stmt(loop_store, ST_PENDING,
					  "SELECT id FROM investigations WHERE state = 'pending'"
					  " ORDER BY id LIMIT ?"),
			    false, free_slots, inv);
	n_fup = pending_ids(w, store_stmt(loop_store, ST_PENDING_FOLLOWUPS,
					  "SELECT id FROM followups WHERE state = 'pending'"
					  " ORDER BY id LIMIT ?"),
			    true, free_slots, fup);
	pthread_mutex_lock(&w->lock);
	while (started < free_slots && w->in_flight_n < QUEUE_MAX && (i < n_inv || f < n_fup)) {
		/* Investigations first; when both wait, take turns so neither starves. */
		bool both = i < n_inv && f < n_fup;
		bool take_followup = f < n_fup && (i >= n_inv || w->followup_turn);
		struct job job = {take_followup, take_followup ? fup[f++] : inv[i++]};
		if (both)
			w->followup_turn = !take_followup;
		w->queue[w->queue_n++] = job;
		w->in_flight[w->in_flight_n++] = job;
		started++;
	}
	if (started)
		pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return started;
}

size_t workers_drain(struct workers *w,
		     void (*cb)(void *arg, const struct investigation_result *r), void *arg)
{
	struct investigation_result *done;
	size_t n;

	pthread_mutex_lock(&w->lock);
	done = w->done;
	n = w->done_n;
	w->done = NULL;
	w->done_n = w->done_alloc = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < w->in_flight_n; k++) {
			if (w->in_flight[k].id == done[i].id &&
			    w->in_flight[k].followup == done[i].followup) {
				w->in_flight[k] = w->in_flight[--w->in_flight_n];
				break;
			}
		}
	}
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < n; i++)
		cb(arg, &done[i]);
	free(done);
	return n;
}

size_t workers_busy(struct workers *w)
{
	size_t n;
	pthread_mutex_lock(&w->lock);
	n = w->in_flight_n;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void workers_set_config(struct workers *w, struct config *cfg, struct shared_playbooks *pb)
{
	struct config *old_cfg;
	struct shared_playbooks *old_pb;

	pthread_mutex_lock(&w->lock);
	old_cfg = w->cfg;
	old_pb = w->pb;
	w->cfg = config_ref(cfg);
	w->pb = shared_playbooks_ref(pb);
	pthread_mutex_unlock(&w->lock);
	config_unref(old_cfg);
	shared_playbooks_unref(old_pb);
}

void workers_stop(struct workers *w, int grace_ms)
{
	struct timespec until;
	bool all_stopped;

	if (w == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += grace_ms / 1000;
	until.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	while (w->running_threads > 0)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
			break;
	all_stopped = w->running_threads == 0;
	pthread_mutex_unlock(&w->lock);
	if (!all_stopped) {
		/* A worker is inside a tool call; its row stays 'running' and is resumed next start. */
		log_warnx("event=workers_stop_timeout running=%zu", w->running_threads);
		return; /* the threads still use w: leave it to the process exit */
	}
	config_unref(w->cfg);
	shared_playbooks_unref(w->pb);
	free(w->done);
	free(w->db_path);
	free(w->threads);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}
