/*
 * This file contains the running bot of daemon.h: set-up and tear-down in
 * order, the lws service loop, the 200 ms housekeeping tick (signals, the
 * shutdown deadline, outbox retries), the outbox sender and /healthz.
 */
#include "daemon.h"

#include "config.h"
#include "esc_clock.h"
#include "escalation.h"
#include "http_client.h"
#include "human.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "util.h"
#include "version.h"
#include "webhook.h"
#include "workers.h"
#include "writer.h"

#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_US (200 * LWS_US_PER_MS)
#define OUTBOX_BATCH 64
#define STOP_GRACE_MS 10000
#define RETRY_BASE_MS 2000

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
}

struct daemon *daemon_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void lws_log_emit(int level, const char *line)
{
	size_t n = strcspn(line, "\n");
	if (level & LLL_ERR)
		log_error("event=lws message=\"%.*s\"", (int)n, line);
	else
		log_warnx("event=lws message=\"%.*s\"", (int)n, line);
}

/* ---- the outbox sender ---- */

struct mark {
	int64_t id;
	int64_t incident_id;
	size_t channel;
	enum channel_send_result result;
	char ref[96];
	char thread_ref[64]; /* SENT and it opened the thread: recorded in threads */
	char error[160];
	char header_state[24]; /* SENT: an OUTBOX_HEADER row to queue, "" none */
	bool late;           /* reported by channel_env.delivered, not by send() */
};

struct mark_job {
	struct writer_job base;
	struct daemon *d;
	struct mark marks[DAEMON_MAX_CHANNELS * OUTBOX_BATCH];
	size_t n;
	bool full; /* some channel had a whole batch: more may be waiting */
};

static int retry_delay_ms(int attempts)
{
	int shift = attempts < 6 ? attempts : 6;
	return RETRY_BASE_MS << shift; /* 2 s … ~2 min */
}

static int mark_job_run(struct writer_job *wj, const struct writer_env *env, char *err,
			size_t errlen)
{
	struct mark_job *job = (struct mark_job *)wj;
	for (size_t i = 0; i < job->n; i++) {
		struct mark *m = &job->marks[i];
		int rc = 0;
		switch (m->result) {
		case CHANNEL_SENT:
			rc = outbox_mark_sent(env->store, m->id, m->ref, env->now_ms);
			if (rc == 0 && m->thread_ref[0])
				rc = outbox_set_thread(env->store, m->incident_id,
						       job->d->channels[m->channel].ops->name,
						       m->thread_ref);
			if (rc == 0 && m->header_state[0])
				rc = outbox_enqueue_header(env->store, m->incident_id,
							   job->d->channels[m->channel].ops->name,
							   m->header_state, env->now_ms, err, errlen);
			break;
		case CHANNEL_RETRY:
			rc = outbox_mark_retry(env->store, m->id, env->now_ms + retry_delay_ms(0),
					       m->error);
			break;
		case CHANNEL_FAILED:
			rc = outbox_mark_failed(env->store, m->id, m->error);
			break;
		case CHANNEL_PENDING:
			break;
		}
		if (rc < 0)
			return snprintf(err, errlen, "cannot mark outbox row %lld", (long long)m->id),
			       -1;
	}
	return 0;
}

static void mark_job_done(struct writer_job *wj)
{
	struct mark_job *job = (struct mark_job *)wj;
	struct daemon *d = job->d;
	bool again = job->full || d->outbox_again;

	for (size_t i = 0; i < job->n; i++) {
		struct mark *m = &job->marks[i];
		if (m->late && job->base.status < 0) {
			/* Not written: keep the result for the next job. */
			if (d->n_late == d->alloc_late) {
				d->alloc_late = d->alloc_late ? d->alloc_late * 2 : 64;
				d->late = xrealloc(d->late, d->alloc_late * sizeof(*d->late));
			}
			d->late[d->n_late++] = *m;
			again = true;
			continue;
		}
		if (m->header_state[0] && job->base.status >= 0)
			again = true; /* its header row is due now */
		if (m->result == CHANNEL_SENT)
			d->metrics.outbox_sent++;
		else if (m->result == CHANNEL_FAILED)
			d->metrics.outbox_failed++;
		if (!m->late && (m->result == CHANNEL_RETRY || job->base.status < 0)) {
			/* Hand it out again once it is due. */
			if (d->outbox_cursor[m->channel] >= m->id)
				d->outbox_cursor[m->channel] = m->id - 1;
			d->metrics.outbox_retried++;
		}
	}
	d->outbox_busy = false;
	d->outbox_again = false;
	free(job);
	if (again)
		daemon_kick_outbox(d);
}

static void pump_cb(lws_sorted_usec_list_t *sul)
{
	struct daemon *d = lws_container_of(sul, struct daemon, pump);
	struct mark_job *job;
	struct outbox_item items[OUTBOX_BATCH];
	int64_t now = now_ms();

	if (d->outbox_busy) {
		d->outbox_again = true;
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->d = d;
	/* Results of pending sends first: room for a full batch per channel stays. */
	{
		size_t room = ARRAY_LEN(job->marks) - d->n_channels * OUTBOX_BATCH, k = 0;
		for (; k < d->n_late && k < room; k++)
			job->marks[job->n++] = d->late[k];
		if (k > 0) {
			memmove(d->late, d->late + k, (d->n_late - k) * sizeof(*d->late));
			d->n_late -= k;
		}
		if (d->n_late > 0)
			job->full = true;
	}
	for (size_t c = 0; c < d->n_channels; c++) {
		struct channel *ch = &d->channels[c];
		int n = outbox_due(d->store, ch->ops->name, now, d->outbox_cursor[c], items,
				   OUTBOX_BATCH);
		if (n == OUTBOX_BATCH)
			job->full = true;
		for (int i = 0; i < n; i++) {
			struct mark *m = &job->marks[job->n++];
			m->id = items[i].id;
			m->channel = c;
			m->result = ch->ops->send(ch, &items[i], m->ref, sizeof(m->ref), m->error,
						  sizeof(m->error));
			if (m->result == CHANNEL_RETRY || m->result == CHANNEL_FAILED)
				log_warnx("incident=%lld event=delivery_%s channel=%s outbox=%lld "
					  "error=\"%s\"",
					  (long long)items[i].incident_id,
					  m->result == CHANNEL_RETRY ? "retry" : "failed",
					  ch->ops->name, (long long)m->id, m->error);
			if (items[i].id > d->outbox_cursor[c])
				d->outbox_cursor[c] = items[i].id;
			outbox_item_release(&items[i]);
		}
	}
	if (job->n == 0) {
		free(job);
		return;
	}
	job->base.run = mark_job_run;
	job->base.done = mark_job_done;
	d->outbox_busy = true;
	writer_submit(d->writer, &job->base);
}

void daemon_kick_outbox(struct daemon *d)
{
	lws_sul_schedule(d->ctx, 0, &d->pump, pump_cb, 1);
}

/* channel_env.delivered: keeps the result for the next mark job. */
static void channel_delivered(void *arg, const struct channel_delivery *dl)
{
	struct daemon *d = arg;
	struct mark *m;
	size_t c;

	for (c = 0; c < d->n_channels; c++)
		if (strcmp(d->channels[c].ops->name, dl->channel) == 0)
			break;
	if (c == d->n_channels) {
		log_warnx("event=delivered_unknown_channel channel=%s", dl->channel);
		return;
	}
	if (d->n_late == d->alloc_late) {
		d->alloc_late = d->alloc_late ? d->alloc_late * 2 : 64;
		d->late = xrealloc(d->late, d->alloc_late * sizeof(*d->late));
	}
	m = &d->late[d->n_late++];
	memset(m, 0, sizeof(*m));
	m->id = dl->outbox_id;
	m->incident_id = dl->incident_id;
	m->result = dl->result;
	m->late = true;
	strlcpy0(m->ref, dl->remote_ref ? dl->remote_ref : "", sizeof(m->ref));
	strlcpy0(m->thread_ref, dl->thread_ref ? dl->thread_ref : "", sizeof(m->thread_ref));
	strlcpy0(m->error, dl->error ? dl->error : "", sizeof(m->error));
	strlcpy0(m->header_state, dl->header_state ? dl->header_state : "",
		 sizeof(m->header_state));
	m->channel = c;
	daemon_kick_outbox(d);
}

/* ---- human events (channel_env.human_event) ---- */

struct human_job {
	struct writer_job base;
	struct daemon *d;
	struct human_event ev; /* strings below are owned copies */
	char *strs[8];
	void (*done)(void *arg, int result, const char *note);
	void *arg;
	int result;
	char note[128];
};

static const char *keep(struct human_job *j, size_t i, const char *s)
{
	j->strs[i] = xstrdup(s);
	return j->strs[i];
}

static int human_job_run(struct writer_job *wj, const struct writer_env *env, char *err,
			 size_t errlen)
{
	struct human_job *j = (struct human_job *)wj;
	j->result = human_event_apply(env->store, env->cfg, &j->ev, env->channels, env->n_channels,
				      env->now_ms, j->note, sizeof(j->note), err, errlen);
	return j->result < 0 ? -1 : 0;
}

static void human_job_done(struct writer_job *wj)
{
	struct human_job *j = (struct human_job *)wj;
	int result = j->base.status < 0 ? -1 : j->result;

	if (j->done)
		j->done(j->arg, result, j->base.status < 0 ? j->base.error : j->note);
	if (result == HUMAN_STORED || result == HUMAN_REFUSED)
		daemon_kick_outbox(j->d);
	for (size_t i = 0; i < ARRAY_LEN(j->strs); i++)
		free(j->strs[i]);
	free(j);
}

static void channel_human_event(void *arg, const struct human_event *ev,
				void (*done)(void *arg, int result, const char *note), void *done_arg)
{
	struct daemon *d = arg;
	struct human_job *j = xcalloc(1, sizeof(*j));
	size_t k = 0;

	j->d = d;
	j->done = done;
	j->arg = done_arg;
	j->ev = *ev;
	j->ev.channel = keep(j, k++, ev->channel);
	j->ev.kind = keep(j, k++, ev->kind);
	j->ev.claimed_incident = keep(j, k++, ev->claimed_incident);
	j->ev.user = keep(j, k++, ev->user);
	j->ev.user_label = keep(j, k++, ev->user_label);
	j->ev.action = keep(j, k++, ev->action);
	j->ev.text = keep(j, k++, ev->text);
	j->ev.ref = keep(j, k++, ev->ref);
	j->base.run = human_job_run;
	j->base.done = human_job_done;
	writer_submit(d->writer, &j->base);
}

/* ---- escalations: the nag timer ---- */

struct esc_job {
	struct writer_job base;
	struct daemon *d;
	int handled;
	int64_t next_due;
};

static int esc_job_run(struct writer_job *wj, const struct writer_env *env, char *err,
		       size_t errlen)
{
	struct esc_job *j = (struct esc_job *)wj;
	j->handled = escalation_run_due(env->store, env->cfg, env->channels, env->n_channels,
					esc_now_ms(), err, errlen);
	if (j->handled < 0)
		return -1;
	j->next_due = escalation_next_due(env->store);
	return 0;
}

static void nag_cb(lws_sorted_usec_list_t *sul);

static void esc_job_done(struct writer_job *wj)
{
	struct esc_job *j = (struct esc_job *)wj;
	struct daemon *d = j->d;

	d->esc_busy = false;
	if (j->base.status < 0) {
		log_error("event=escalation_failed error=\"%s\"", j->base.error);
		d->esc_next_due = esc_now_ms() + 5000; /* try again */
	} else {
		/* A schedule hinted while the job ran is kept by escalation_hint_take(). */
		d->esc_next_due = j->next_due;
		if (j->handled > 0)
			daemon_kick_outbox(d);
	}
	free(j);
}

/*
 * The nag timer (loop thread): once a second it compares the escalation
 * clock with the next due nag (from the store, lowered by hints when a new
 * escalation starts) and, when due, runs one writer job for the due nags.
 */
static void nag_cb(lws_sorted_usec_list_t *sul)
{
	struct daemon *d = lws_container_of(sul, struct daemon, nag);
	int64_t hinted = escalation_hint_take();

	if (hinted < d->esc_next_due)
		d->esc_next_due = hinted;
	if (!d->esc_busy && !d->stopping && esc_now_ms() >= d->esc_next_due) {
		struct esc_job *j = xcalloc(1, sizeof(*j));
		j->d = d;
		j->base.run = esc_job_run;
		j->base.done = esc_job_done;
		d->esc_busy = true;
		writer_submit(d->writer, &j->base);
	}
	lws_sul_schedule(d->ctx, 0, &d->nag, nag_cb, LWS_US_PER_SEC);
}

/* ---- investigations ---- */

static void investigation_done(void *arg, const struct investigation_result *r)
{
	(void)arg;
	if (r->status == 1)
		return; /* not pending any more: someone else had it */
	if (r->followup) {
		if (r->status < 0)
			log_error("incident=%lld event=followup_failed followup=%lld intent=%s "
				  "error=\"%s\"",
				  (long long)r->incident_id, (long long)r->id, r->intent, r->error);
		else
			log_info("incident=%lld event=answered followup=%lld intent=%s steps=%d "
				 "duration_ms=%lld",
				 (long long)r->incident_id, (long long)r->id, r->intent, r->steps,
				 (long long)r->duration_ms);
		return;
	}
	if (r->status < 0)
		log_error("incident=%lld event=investigation_failed investigation=%lld error=\"%s\"",
			  (long long)r->incident_id, (long long)r->id, r->error);
	else
		log_info("incident=%lld event=investigated investigation=%lld verdict=%s category=%s "
			 "confidence=%s decision=%s steps=%d duration_ms=%lld",
			 (long long)r->incident_id, (long long)r->id, r->verdict, r->category,
			 r->confidence, decision_name(r->decision), r->steps,
			 (long long)r->duration_ms);
}

void daemon_dispatch(struct daemon *d)
{
	if (d->workers != NULL && !d->stopping)
		workers_dispatch(d->workers, d->store);
}

/* ---- health ---- */

int daemon_healthz(struct daemon *d, struct buf *out)
{
	char states[DAEMON_MAX_CHANNELS][160];
	bool store_ok = store_exec(d->store, "SELECT 1") == 0;
	bool healthy = store_ok && !d->stopping;
	int64_t pending = outbox_pending_count(d->store);

	for (size_t i = 0; i < d->n_channels; i++)
		if (!d->channels[i].ops->health(&d->channels[i], states[i], sizeof(states[i])))
			healthy = false;
	buf_printf(out,
		   "{\"status\":\"%s\",\"version\":\"%s\",\"store\":\"%s\","
		   "\"outbox_pending\":%lld,\"investigations\":{\"workers\":%zu,\"busy\":%zu},"
		   "\"channels\":{",
		   healthy ? "ok" : "degraded", NIGHTSHIFT_VERSION, store_ok ? "ok" : "error",
		   (long long)pending, d->cfg->workers, d->workers ? workers_busy(d->workers) : 0);
	for (size_t i = 0; i < d->n_channels; i++) {
		buf_printf(out, "%s\"%s\":", i ? "," : "", d->channels[i].ops->name);
		buf_json_string(out, states[i]);
	}
	buf_puts(out, "}");
	if (d->cfg->watchdog.enabled) {
		int64_t last = 0;
		int found = watch_last_heartbeat(d->store, NULL, &last, NULL, 0);
		bool armed = found > 0 || d->cfg->watchdog.configured;
		int64_t since = found > 0 ? last : d->metrics.started_ms;
		buf_puts(out, ",\"watchdog\":{\"alertname\":");
		buf_json_string(out, d->cfg->watchdog.alertname);
		buf_printf(out, ",\"armed\":%s,\"last_seen\":%lld,\"silent\":%s}",
			   armed ? "true" : "false", (long long)(found > 0 ? last / 1000 : 0),
			   armed && now_ms() - since >= d->cfg->watchdog.timeout_s * 1000 ? "true"
											     : "false");
	}
	if (d->cfg->heartbeat.url != NULL) {
		const struct metrics *m = &d->metrics;
		buf_printf(out,
			   ",\"heartbeat\":{\"ok\":%llu,\"failed\":%llu,\"consecutive_failures\":%llu,"
			   "\"last_success\":%lld,\"last_error\":",
			   (unsigned long long)m->heartbeat_ok, (unsigned long long)m->heartbeat_failed,
			   (unsigned long long)m->heartbeat_consecutive_failures,
			   (long long)(m->heartbeat_last_success_ms / 1000));
		buf_json_string(out, m->heartbeat_last_error);
		buf_puts(out, "}");
	}
	buf_puts(out, "}");
	return healthy ? 200 : 503;
}

/* ---- inbound envelopes (channel_env.record_inbound) ---- */

struct record_job {
	struct writer_job base;
	char channel[32];
	char *keys[HUMAN_MAX_KEYS + 1]; /* owned, NULL-terminated */
	char *envelope_id, *payload;    /* owned */
	void (*done)(void *arg, int result, int64_t inbox_id);
	void *arg;
	int result;
	int64_t inbox_id;
};

static int record_job_run(struct writer_job *wj, const struct writer_env *env, char *err,
			  size_t errlen)
{
	struct record_job *j = (struct record_job *)wj;
	j->result = human_record(env->store, j->channel, (const char *const *)j->keys,
				 j->envelope_id, j->payload, env->now_ms, &j->inbox_id, err, errlen);
	return j->result < 0 ? -1 : 0;
}

static void record_job_done(struct writer_job *wj)
{
	struct record_job *j = (struct record_job *)wj;
	if (j->done)
		j->done(j->arg, j->base.status < 0 ? -1 : j->result, j->inbox_id);
	for (size_t i = 0; i < ARRAY_LEN(j->keys); i++)
		free(j->keys[i]);
	free(j->envelope_id);
	free(j->payload);
	free(j);
}

static void channel_record_inbound(void *arg, const char *channel, const char *const *keys,
				   const char *envelope_id, const char *payload,
				   void (*done)(void *arg, int result, int64_t inbox_id),
				   void *done_arg)
{
	struct daemon *d = arg;
	struct record_job *j = xcalloc(1, sizeof(*j));

	strlcpy0(j->channel, channel, sizeof(j->channel));
	for (size_t i = 0; i < HUMAN_MAX_KEYS && keys[i]; i++)
		j->keys[i] = xstrdup(keys[i]);
	j->envelope_id = xstrdup(envelope_id);
	j->payload = xstrdup(payload);
	j->done = done;
	j->arg = done_arg;
	j->base.run = record_job_run;
	j->base.done = record_job_done;
	writer_submit(d->writer, &j->base);
}

/* ---- the loop ---- */

static void reload(struct daemon *d)
{
	char err[4096];
	struct config *next = config_load(d->cfg->path, err, sizeof(err));
	struct shared_playbooks *pb = NULL;

	if (next != NULL) {
		pb = shared_playbooks_load(next->playbooks_dir, err, sizeof(err));
		if (pb == NULL) {
			config_unref(next);
			next = NULL;
		}
	}
	if (next == NULL) {
		/* One log line: newlines become "; ", quotes become apostrophes. */
		for (char *p = err; *p; p++)
			if (*p == '\n')
				*p = ';';
			else if (*p == '"')
				*p = '\'';
		log_error("event=reload_failed path=%s errors=\"%s\"", d->cfg->path, err);
		return;
	}
	if (strcmp(next->listen_host, d->cfg->listen_host) != 0 ||
	    next->listen_port != d->cfg->listen_port ||
	    strcmp(next->storage_path, d->cfg->storage_path) != 0)
		log_warnx("event=reload_partial reason=\"listen and storage.path change only on "
			  "restart\"");
	{
		enum log_level lvl;
		if (log_level_parse(next->log_level, &lvl) == 0)
			log_set_level(lvl);
	}
	writer_set_config(d->writer, next);
	workers_set_config(d->workers, next, pb);
	shared_playbooks_unref(d->playbooks);
	d->playbooks = pb;
	config_unref(d->cfg);
	d->cfg = next;
	log_info("event=reloaded path=%s", next->path);
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	struct daemon *d = lws_container_of(sul, struct daemon, tick);
	static int ticks;

	if (got_hup) {
		got_hup = 0;
		reload(d);
	}
	if (got_stop && !d->stopping) {
		d->stopping = true;
		d->stop_deadline_ms = mono_ms() + STOP_GRACE_MS;
		log_info("event=stopping in_flight=%zu", writer_in_flight(d->writer));
	}
	if (++ticks % 5 == 0) { /* once a second: retries that came due, investigations left */
		daemon_kick_outbox(d);
		daemon_dispatch(d);
		watch_tick(d); /* silence check, own heartbeat when due */
	}
	lws_sul_schedule(d->ctx, 0, &d->tick, tick_cb, TICK_US);
}

static int loop_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
		struct daemon *d = daemon_of(wsi);
		if (d && d->writer)
			writer_drain(d->writer);
		if (d && d->http)
			http_client_drain(d->http);
		if (d && d->workers && workers_drain(d->workers, investigation_done, d) > 0) {
			daemon_kick_outbox(d);
			daemon_dispatch(d);
		}
		return 0;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{.name = "http", .callback = NULL}, /* replaced by webhook_protocol at start */
	{.name = "nightshift-loop", .callback = loop_callback},
	{.name = NULL},
};

static void wake_loop(void *arg)
{
	struct daemon *d = arg;
	lws_cancel_service(d->ctx);
}

static int start_channels(struct daemon *d)
{
	size_t n;
	const struct channel_ops *const *reg = channel_registry(&n);

	d->channel_env.ctx = d->ctx;
	d->channel_env.http = d->http;
	d->channel_env.store = d->store;
	d->channel_env.daemon = d;
	d->channel_env.delivered = channel_delivered;
	d->channel_env.human_event = channel_human_event;
	d->channel_env.record_inbound = channel_record_inbound;
	for (size_t i = 0; i < n && d->n_channels < DAEMON_MAX_CHANNELS; i++) {
		char err[256];
		struct channel *ch = &d->channels[d->n_channels];
		if (!reg[i]->enabled(d->cfg))
			continue;
		ch->ops = reg[i];
		ch->env = &d->channel_env;
		if (reg[i]->start(ch, d->cfg, err, sizeof(err)) < 0) {
			log_error("event=channel_start_failed channel=%s error=\"%s\"", reg[i]->name,
				  err);
			return -1;
		}
		d->n_channels++;
		log_info("event=channel_started channel=%s", reg[i]->name);
	}
	return 0;
}

/* The numeric address lws should bind for host (a name is resolved once). */
static int numeric_host(const char *host, char *out, size_t outlen)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || res == NULL) {
		log_error("event=listen_failed host=%s error=\"%s\"", host, gai_strerror(rc));
		return -1;
	}
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, out, (socklen_t)outlen, NULL, 0,
			 NI_NUMERICHOST);
	freeaddrinfo(res);
	return rc == 0 ? 0 : -1;
}

static void write_ready_file(const char *path, int port)
{
	FILE *f;
	if (path == NULL)
		return;
	f = fopen(path, "w");
	if (f == NULL) {
		log_warn("event=ready_file_failed path=%s", path);
		return;
	}
	fprintf(f, "%d\n", port);
	fclose(f);
}

int daemon_run(struct config *cfg, const char *ready_file)
{
	struct daemon *d = xcalloc(1, sizeof(*d));
	struct lws_context_creation_info info;
	struct lws_protocols protos[3];
	struct lws_vhost *vh;
	struct sigaction sa;
	char err[512], iface[NI_MAXHOST];
	int rc = 1;
	enum log_level lvl;

	memcpy(protos, protocols, sizeof(protos));
	protos[0] = webhook_protocol;
	d->cfg = config_ref(cfg);
	metrics_init(&d->metrics);
	if (log_level_parse(cfg->log_level, &lvl) == 0)
		log_set_level(lvl);
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

	d->store = store_open(cfg->storage_path, false, err, sizeof(err));
	if (d->store == NULL) {
		log_error("event=store_open_failed path=%s error=\"%s\"", cfg->storage_path, err);
		goto out;
	}
	d->playbooks = shared_playbooks_load(cfg->playbooks_dir, err, sizeof(err));
	if (d->playbooks == NULL) {
		for (char *p = err; *p; p++)
			if (*p == '\n')
				*p = ';';
			else if (*p == '"')
				*p = '\'';
		log_error("event=playbooks_failed dir=%s errors=\"%s\"", cfg->playbooks_dir, err);
		goto out;
	}
	/* Investigations a crash interrupted run again (their attempts are counted). */
	(void)store_exec(d->store,
			 "UPDATE investigations SET state = 'pending' WHERE state = 'running'");
	/* So do follow-up questions: a restart still answers them. */
	(void)store_exec(d->store, "UPDATE followups SET state = 'pending' WHERE state = 'running'");

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = d;
	info.max_http_header_data = WEBHOOK_MAX_HEADER_BYTES;
	d->ctx = lws_create_context(&info);
	if (d->ctx == NULL) {
		log_error("event=lws_context_failed");
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.vhost_name = "nightshift";
	info.protocols = protos;
	info.port = cfg->listen_port == 0 ? CONTEXT_PORT_NO_LISTEN_SERVER : cfg->listen_port;
	if (cfg->listen_port == 0)
		info.port = 0;
	if (numeric_host(strcmp(cfg->listen_host, "localhost") == 0 ? "127.0.0.1" : cfg->listen_host,
			 iface, sizeof(iface)) < 0)
		goto out;
	info.iface = iface;
	if (strchr(iface, ':') == NULL) /* lws binds every interface unless told (pitfall 1) */
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.keepalive_timeout = 65;
	info.timeout_secs = 30;
	vh = lws_create_vhost(d->ctx, &info);
	if (vh == NULL) {
		log_error("event=listen_failed address=%s:%d", cfg->listen_host, cfg->listen_port);
		goto out;
	}
	d->bound_port = lws_get_vhost_listen_port(vh);

	esc_clock_set_file(cfg->test_clock_file); /* before the threads start */
	d->writer = writer_start(cfg->storage_path, cfg, wake_loop, d, err, sizeof(err));
	if (d->writer == NULL) {
		log_error("event=writer_start_failed error=\"%s\"", err);
		goto out;
	}

	d->http = http_client_start(wake_loop, d, err, sizeof(err));
	if (d->http == NULL) {
		log_error("event=http_client_start_failed error=\"%s\"", err);
		goto out;
	}
	if (start_channels(d) < 0)
		goto out;

	d->workers = workers_start(cfg->storage_path, cfg, d->playbooks, wake_loop, d, err,
				   sizeof(err));
	if (d->workers == NULL) {
		log_error("event=workers_start_failed error=\"%s\"", err);
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lws_sul_schedule(d->ctx, 0, &d->tick, tick_cb, TICK_US);
	d->esc_next_due = 0; /* escalations left by a previous run: overdue nags fire once now */
	lws_sul_schedule(d->ctx, 0, &d->nag, nag_cb, LWS_US_PER_SEC / 2);
	daemon_kick_outbox(d); /* whatever a previous run left pending */
	daemon_dispatch(d);
	log_info("event=listening address=%s:%d version=%s store=%s", cfg->listen_host,
		 d->bound_port, NIGHTSHIFT_VERSION, cfg->storage_path);
	write_ready_file(ready_file, d->bound_port);

	while (lws_service(d->ctx, 0) >= 0) {
		if (got_stop && !d->stopping)
			tick_cb(&d->tick);
		if (d->stopping && (writer_in_flight(d->writer) == 0 ||
				    mono_ms() > d->stop_deadline_ms)) {
			/* Give the last answers a moment to leave. */
			int64_t until = mono_ms() + 200;
			while (mono_ms() < until && lws_service(d->ctx, 0) >= 0)
				;
			break;
		}
	}
	rc = 0;
out:
	workers_stop(d->workers, 2000);
	writer_stop(d->writer); /* commits anything still queued */
	http_client_stop(d->http); /* requests in flight are dropped: their rows stay pending */
	/* Channels stop while the context lives: they cancel their timers and detach sockets. */
	for (size_t i = 0; i < d->n_channels; i++)
		d->channels[i].ops->stop(&d->channels[i]);
	if (d->ctx) {
		lws_sul_cancel(&d->tick);
		lws_sul_cancel(&d->pump);
		lws_sul_cancel(&d->nag);
		lws_context_destroy(d->ctx);
	}
	free(d->late);
	store_close(d->store);
	shared_playbooks_unref(d->playbooks);
	config_unref(d->cfg);
	log_info("event=stopped code=%d", rc);
	free(d);
	return rc;
}
