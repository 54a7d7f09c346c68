/*
 * This file contains the store writer thread of writer.h: a queue under a
 * mutex, a condition variable to wake the thread, a group commit per wake,
 * and a done list handed back to the loop thread.
 */
#include "writer.h"

#include "channel.h"
#include "config.h"
#include "fingerprint.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct writer_job *queue_head, *queue_tail; /* guarded by lock */
	struct writer_job *done_head, *done_tail;   /* guarded by lock */
	struct config *cfg;                          /* guarded by lock; a reference */
	bool stopping;                               /* guarded by lock */
	size_t in_flight;                            /* guarded by lock */
	struct store *store;                         /* writer thread only */
	pthread_t checkpointer;                      /* see checkpoint_main */
	pthread_cond_t stop_cond;                    /* wakes the checkpointer to stop */
	struct store *checkpoint_store;              /* checkpointer thread only */
	struct fingerprinter *fp;                    /* read-only */
	void (*wake)(void *);
	void *wake_arg;
};

static void run_batch(struct writer *w, struct writer_job *batch, struct config *cfg)
{
	const char *channels[16];
	size_t n_channels = channels_enabled(cfg, channels, ARRAY_LEN(channels));
	struct writer_env env = {.store = w->store, .cfg = cfg, .fp = w->fp, .now_ms = now_ms()};
	struct writer_job *j;
	int rc;

	env.channels = channels;
	env.n_channels = n_channels;

	rc = store_begin(w->store);
	for (j = batch; j != NULL; j = j->next) {
		if (rc < 0) {
			j->status = -1;
			snprintf(j->error, sizeof(j->error), "store unavailable");
			continue;
		}
		store_savepoint(w->store);
		j->status = j->run(j, &env, j->error, sizeof(j->error));
		if (j->status < 0)
			store_rollback_to(w->store);
		store_release(w->store);
	}
	if (rc == 0 && store_commit(w->store) < 0) {
		store_rollback(w->store);
		for (j = batch; j != NULL; j = j->next) {
			j->status = -1;
			snprintf(j->error, sizeof(j->error), "store commit failed");
		}
	}
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	pthread_setname_np(pthread_self(), "ns-writer"); /* for top -H, ps -L, gdb */

	for (;;) {
		struct writer_job *batch, *last;
		struct config *cfg;
		size_t n = 1;

		pthread_mutex_lock(&w->lock);
		while (w->queue_head == NULL && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->queue_head == NULL) { /* stopping and nothing left */
			pthread_mutex_unlock(&w->lock);
			break;
		}
		batch = last = w->queue_head;
		while (last->next != NULL && n < WRITER_MAX_BATCH) {
			last = last->next;
			n++;
		}
		w->queue_head = last->next;
		if (w->queue_head == NULL)
			w->queue_tail = NULL;
		last->next = NULL;
		cfg = config_ref(w->cfg);
		pthread_mutex_unlock(&w->lock);

		run_batch(w, batch, cfg);
		config_unref(cfg);

		pthread_mutex_lock(&w->lock);
		if (w->done_tail)
			w->done_tail->next = batch;
		else
			w->done_head = batch;
		w->done_tail = last;
		pthread_mutex_unlock(&w->lock);
		w->wake(w->wake_arg);
	}
	return NULL;
}

/*
 * Checkpoints the WAL once a second on a connection of its own. The writer's
 * connection has auto-checkpoints off, so the fsyncs of a checkpoint never
 * sit inside an alert's commit (they were the p99 of the intake).
 */
static void *checkpoint_main(void *arg)
{
	struct writer *w = arg;
	struct timespec until;

	pthread_setname_np(pthread_self(), "ns-checkpoint");

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&w->stop_cond, &w->lock, &until);
		if (w->stopping)
			break;
		pthread_mutex_unlock(&w->lock);
		(void)store_exec(w->checkpoint_store, "PRAGMA wal_checkpoint(PASSIVE)");
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct writer *writer_start(const char *db_path, struct config *cfg, void (*wake)(void *),
			    void *wake_arg, char *err, size_t errlen)
{
	struct writer *w = xcalloc(1, sizeof(*w));

	w->store = store_open(db_path, false, err, errlen);
	if (w->store == NULL) {
		free(w);
		return NULL;
	}
	w->checkpoint_store = store_open(db_path, false, err, errlen);
	if (w->checkpoint_store == NULL) {
		store_close(w->store);
		free(w);
		return NULL;
	}
	(void)store_exec(w->store, "PRAGMA wal_autocheckpoint=0");
	w->fp = fingerprinter_new();
	w->cfg = config_ref(cfg);
	w->wake = wake;
	w->wake_arg = wake_arg;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->stop_cond, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		snprintf(err, errlen, "cannot start the store writer thread");
		store_close(w->store);
		store_close(w->checkpoint_store);
		fingerprinter_free(w->fp);
		config_unref(w->cfg);
		free(w);
		return NULL;
	}
	if (pthread_create(&w->checkpointer, NULL, checkpoint_main, w) != 0)
		fatal("event=thread_failed what=checkpointer");
	return w;
}

const struct fingerprinter *writer_fingerprinter(const struct writer *w)
{
	return w->fp;
}

void writer_submit(struct writer *w, struct writer_job *job)
{
	job->next = NULL;
	job->status = 0;
	job->error[0] = '\0';
	pthread_mutex_lock(&w->lock);
	if (w->queue_tail)
		w->queue_tail->next = job;
	else
		w->queue_head = job;
	w->queue_tail = job;
	w->in_flight++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

size_t writer_drain(struct writer *w)
{
	struct writer_job *j, *next;
	size_t n = 0;

	pthread_mutex_lock(&w->lock);
	j = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	for (; j != NULL; j = next) {
		next = j->next; /* done() may free j */
		j->done(j);
		n++;
	}
	pthread_mutex_lock(&w->lock);
	w->in_flight -= n;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void writer_set_config(struct writer *w, struct config *cfg)
{
	struct config *old;
	pthread_mutex_lock(&w->lock);
	old = w->cfg;
	w->cfg = config_ref(cfg);
	pthread_mutex_unlock(&w->lock);
	config_unref(old);
}

size_t writer_in_flight(struct writer *w)
{
	size_t n;
	pthread_mutex_lock(&w->lock);
	n = w->in_flight;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void writer_stop(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_cond_signal(&w->stop_cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_join(w->checkpointer, NULL);
	writer_drain(w);
	(void)store_exec(w->store, "PRAGMA wal_checkpoint(TRUNCATE)");
	store_close(w->store);
	store_close(w->checkpoint_store);
	fingerprinter_free(w->fp);
	config_unref(w->cfg);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->stop_cond);
	free(w);
}
