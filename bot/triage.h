/*
 * This file contains triage: a canonical alert becomes a stored alert row and
 * a change to an incident — opened, joined, resolved, reopened (flapping) or
 * dismissed as noise by a config rule — with the chat messages that change
 * causes written to the outbox in the same transaction.
 *
 * Threads: runs on whichever thread owns the store it is given (the intake
 * writer in the daemon, the main thread in `replay`); the caller brackets
 * calls with store_begin()/store_commit().
 */
#ifndef NIGHTSHIFT_TRIAGE_H
#define NIGHTSHIFT_TRIAGE_H

#include "alert.h"

#include <stdbool.h>
#include <stdint.h>

struct store;
struct config;
struct fingerprinter;

enum triage_action {
	TRIAGE_OPENED = 0,   /* a new incident: needs an investigation */
	TRIAGE_JOINED,       /* joined an open incident: no new thread, no new investigation */
	TRIAGE_DISMISSED,    /* a new incident dismissed by a noise rule */
	TRIAGE_REOPENED,     /* fired again within the flap window: same incident, flapping */
	TRIAGE_MEMBER_RESOLVED, /* one alert resolved, others of the incident still fire */
	TRIAGE_RESOLVED,     /* the incident's last firing alert resolved */
	TRIAGE_IGNORED,      /* a resolve for no open incident: stored, nothing else */
	TRIAGE_HEARTBEAT,    /* the watchdog's heartbeat alert: recorded, no incident (watch.h);
				incident_id is set when its return resolved the silence incident */
};

const char *triage_action_name(enum triage_action a);

struct triage_ctx {
	struct store *store;              /* borrowed; a transaction is open */
	const struct config *cfg;         /* borrowed */
	const struct fingerprinter *fp;   /* borrowed */
	int64_t now_ms;
	bool dry_run;                     /* replay: decide, write nothing */
	const char *const *channels;      /* enabled channel names, for the outbox */
	size_t n_channels;
	const char *environment;          /* set: the alert's environment (synthetic alerts) */
	const char *resolve_note;         /* set: a line added to the "resolved" post */
	bool prepared;                    /* the alerts went through triage_prepare() with cfg */
	const char *fingerprint_salt;     /* set (synthetic alerts): hashed into the fingerprint */
};

struct triage_outcome {
	enum triage_action action;
	int64_t alert_id;     /* 0 in dry_run */
	int64_t incident_id;  /* 0 when none (ignored, or a new one in dry_run) */
	const char *noise_reason; /* borrowed from cfg when dismissed */
};

struct writer_env;
/* A context for triage inside a store writer job: env's store, config, clock and channels. */
struct triage_ctx triage_ctx_of(const struct writer_env *env);

/*
 * Sets a->environment and a->fingerprint from cfg: the pure part of
 * triage_alert(), which the webhook runs on the loop thread so that the
 * store writer (the intake's bottleneck) does only the SQL. Thread-safe.
 */
void triage_prepare(const struct config *cfg, const struct fingerprinter *fp, struct alert *a);

/*
 * Stores a (setting a->environment and a->fingerprint unless ctx->prepared)
 * and applies it to its incident. Returns 0, or -1 on a store error (message
 * in err); on -1 the caller rolls the transaction back.
 */
int triage_alert(struct triage_ctx *ctx, struct alert *a, struct triage_outcome *out, char *err,
		 size_t errlen);

struct incident_view;

/*
 * Loads incident id's view for rendering. Its strings live in the store's
 * statement cache until the next call on the same store. 0 or -1.
 */
int triage_load_view(struct store *s, int64_t id, struct incident_view *v);
/* Ends the use of the strings of the last triage_load_view() on s. */
void triage_view_release(struct store *s);

/* Rebuilds a stored alert (labels, annotations, our fingerprint …) into a (alert_free). 0 or -1. */
int triage_load_alert(struct store *s, int64_t alert_id, struct alert *a);

#endif
