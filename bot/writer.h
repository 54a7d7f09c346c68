/*
 * This file contains the store writer: one thread that owns the daemon's
 * write connection and commits jobs in groups. Whatever jobs are queued when
 * it wakes (the webhook requests that completed meanwhile, outbox delivery
 * marks) run in ONE transaction, each inside its own savepoint so a failing
 * job does not undo its neighbours; after COMMIT their done() callbacks run
 * on the loop thread. That is how an alert is durable (synchronous=FULL)
 * before its 2xx and the intake still keeps up: the busier it is, the more
 * requests share one fsync.
 *
 * DESIGN: the loop thread never waits on SQLite writes. It submits a job and
 * goes on; the writer wakes the loop with the wake callback (which calls
 * lws_cancel_service) and the loop runs writer_drain() from its
 * EVENT_WAIT_CANCELLED handler. A job is owned by its submitter: the writer
 * borrows it between writer_submit() and done().
 */
#ifndef NIGHTSHIFT_WRITER_H
#define NIGHTSHIFT_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct fingerprinter;

#define WRITER_MAX_BATCH 1024 /* jobs per transaction */

/* What a job sees while it runs (writer thread). */
struct writer_env {
	struct store *store;
	const struct config *cfg;
	const struct fingerprinter *fp;
	int64_t now_ms;
	const char *const *channels; /* enabled channels, for outbox rows */
	size_t n_channels;
};

struct writer_job {
	/* Writer thread, inside the transaction: 0, or -1 with err (the savepoint is undone). */
	int (*run)(struct writer_job *job, const struct writer_env *env, char *err,
		   size_t errlen);
	/* Loop thread, after the commit (or its failure): status and error are final. */
	void (*done)(struct writer_job *job);
	int status;       /* 0 committed, -1 failed */
	char error[160];
	struct writer_job *next; /* the writer's queue link */
};

struct writer;

/*
 * Opens its own connection to db_path and starts the thread. cfg is
 * referenced (config_ref). wake(arg) is called from the writer thread when
 * finished jobs are waiting for writer_drain(). NULL with err on failure.
 */
struct writer *writer_start(const char *db_path, struct config *cfg, void (*wake)(void *),
			    void *wake_arg, char *err, size_t errlen);
/* The writer's fingerprinter: read-only, so any thread may use it. */
const struct fingerprinter *writer_fingerprinter(const struct writer *w);
/* Queues job (any thread). */
void writer_submit(struct writer *w, struct writer_job *job);
/* Runs done() of every finished job (loop thread). Returns how many. */
size_t writer_drain(struct writer *w);
/* Switches to cfg for the next batches (takes a reference). */
void writer_set_config(struct writer *w, struct config *cfg);
/* Jobs submitted but not yet drained. */
size_t writer_in_flight(struct writer *w);
/* Commits what is queued, stops the thread, drains the last jobs. NULL-safe. */
void writer_stop(struct writer *w);

#endif
