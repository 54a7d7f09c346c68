/*
 * This file contains the HTTP server of webhook.h on libwebsockets 4.1.
 *
 * A request's life: LWS_CALLBACK_HTTP routes it and checks method, token,
 * Content-Length and Transfer-Encoding; HTTP_BODY collects the body up to
 * the cap; BODY_COMPLETION parses it (intake.h) and submits an intake job to
 * the store writer; the job's done() — after COMMIT — queues the 202 and asks
 * for HTTP_WRITEABLE, where every response is written. A connection that
 * closes while its job is in flight orphans the job (job->session = NULL):
 * the alerts are still committed, only the answer has nowhere to go.
 *
 * Pitfalls of lws 4.1.6 handled here (platform-notes §1): POST without
 * Content-Length never completes (answered 411 at once), chunked bodies are
 * not decoded (411), writeable callbacks may come unasked (resp_ready guard).
 */
#include "webhook.h"

#include "config.h"
#include "daemon.h"
#include "intake.h"
#include "log.h"
#include "metrics.h"
#include "triage.h"
#include "util.h"
#include "writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_TIMEOUT_S 30 /* a stalled body is dropped after this */

enum route { ROUTE_NONE = 0, ROUTE_ALERTS, ROUTE_HEALTHZ, ROUTE_METRICS };

struct intake_job;

struct session {
	struct lws *wsi;
	enum route route;
	enum intake_format format;
	struct buf body;          /* the request body, capped */
	bool discard;             /* read and drop the body: the answer is already known */
	bool awaiting_body;       /* a body is still coming: answer after it */
	bool resp_ready;
	bool close_after;         /* answer with Connection: close and drop the connection */
	int status;
	char *resp;               /* owned response body */
	const char *content_type;
	struct intake_job *job;   /* in flight at the writer, or NULL */
	int64_t started_ms;
};

struct intake_job {
	struct writer_job base;   /* first: the writer sees only this */
	struct session *session;  /* NULL once the connection closed */
	struct daemon *d;
	struct intake_result parsed;
	struct triage_outcome *outcomes; /* owned; parsed.n of them */
	struct config *cfg;       /* referenced: the alerts were triage_prepare()d with it */
	bool posted;              /* enqueued outbox messages */
	bool opened;              /* queued an investigation */
};

static void respond(struct session *s, int status, const char *content_type, char *body)
{
	free(s->resp);
	s->status = status;
	s->content_type = content_type;
	s->resp = body;
	s->resp_ready = true;
	if (!s->awaiting_body)
		lws_callback_on_writable(s->wsi);
}

static void respond_error(struct session *s, int status, const char *msg)
{
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "{\"error\":");
	buf_json_string(&b, msg);
	buf_puts(&b, "}");
	respond(s, status, "application/json", buf_detach(&b));
	log_info("event=webhook_refused status=%d reason=\"%s\"", status, msg);
}

/* ---- the intake job: runs on the writer thread, answers on the loop thread ---- */

static int intake_job_run(struct writer_job *wj, const struct writer_env *env, char *err,
			  size_t errlen)
{
	struct intake_job *job = (struct intake_job *)wj;
	struct triage_ctx ctx = triage_ctx_of(env);

	ctx.prepared = env->cfg == job->cfg; /* else a reload came in between */
	for (size_t i = 0; i < job->parsed.n; i++) {
		if (triage_alert(&ctx, &job->parsed.alerts[i], &job->outcomes[i], err, errlen) < 0)
			return -1;
		switch (job->outcomes[i].action) {
		case TRIAGE_OPENED:
			job->opened = true;
			job->posted = true;
			break;
		case TRIAGE_DISMISSED:
		case TRIAGE_REOPENED:
		case TRIAGE_RESOLVED:
			job->posted = true;
			break;
		case TRIAGE_HEARTBEAT: /* its return may have resolved the silence incident */
			job->posted = job->outcomes[i].incident_id != 0;
			break;
		default:
			break;
		}
	}
	return 0;
}

static void log_outcomes(const struct intake_job *job)
{
	for (size_t i = 0; i < job->parsed.n; i++) {
		const struct alert *a = &job->parsed.alerts[i];
		const struct triage_outcome *o = &job->outcomes[i];
		if (o->action == TRIAGE_JOINED || o->action == TRIAGE_IGNORED ||
		    o->action == TRIAGE_MEMBER_RESOLVED || o->action == TRIAGE_HEARTBEAT)
			log_debug("incident=%lld event=%s alert=%lld alertname=\"%s\"",
				  (long long)o->incident_id, triage_action_name(o->action),
				  (long long)o->alert_id, a->name);
		else
			log_info("incident=%lld event=%s alertname=\"%s\" environment=%s severity=%s "
				 "source=%s",
				 (long long)o->incident_id, triage_action_name(o->action), a->name,
				 a->environment ? a->environment : "", severity_name(a->severity),
				 alert_source_name(a->source));
	}
}

static char *accepted_body(const struct intake_job *job)
{
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "{\"status\":\"accepted\",\"accepted\":%zu,\"incidents\":[", job->parsed.n);
	for (size_t i = 0, shown = 0; i < job->parsed.n; i++) {
		int64_t id = job->outcomes[i].incident_id;
		bool seen = id == 0;
		for (size_t k = 0; k < i && !seen; k++)
			seen = job->outcomes[k].incident_id == id;
		if (!seen)
			buf_printf(&b, "%s%lld", shown++ ? "," : "", (long long)id);
	}
	buf_puts(&b, "],\"rejected\":[");
	for (size_t i = 0; i < job->parsed.n_rejects; i++) {
		buf_printf(&b, "%s{\"index\":%zu,\"error\":", i ? "," : "",
			   job->parsed.rejects[i].index);
		buf_json_string(&b, job->parsed.rejects[i].error);
		buf_puts(&b, "}");
	}
	buf_puts(&b, "]}");
	return buf_detach(&b);
}

static void intake_job_free(struct intake_job *job)
{
	intake_result_release(&job->parsed);
	config_unref(job->cfg);
	free(job->outcomes);
	free(job);
}

static void intake_job_done(struct writer_job *wj)
{
	struct intake_job *job = (struct intake_job *)wj;
	struct daemon *d = job->d;

	if (job->base.status == 0) {
		for (size_t i = 0; i < job->parsed.n; i++)
			d->metrics.alerts[job->parsed.alerts[i].source]
					 [job->parsed.alerts[i].status == ALERT_RESOLVED]++;
		log_outcomes(job);
		if (job->posted)
			daemon_kick_outbox(d);
		if (job->opened)
			daemon_dispatch(d);
	} else {
		log_error("event=intake_store_failed alerts=%zu error=\"%s\"", job->parsed.n,
			  job->base.error);
	}
	if (job->session != NULL) {
		struct session *s = job->session;
		s->job = NULL;
		if (job->base.status == 0)
			respond(s, 202, "application/json", accepted_body(job));
		else
			respond_error(s, 503, "alerts could not be stored; retry");
	}
	intake_job_free(job);
}

/* ---- request handling ---- */

static enum route route_of(const char *path, enum intake_format *format)
{
	if (strcmp(path, "/healthz") == 0)
		return ROUTE_HEALTHZ;
	if (strcmp(path, "/metrics") == 0)
		return ROUTE_METRICS;
	if (strcmp(path, "/alerts") == 0 || strcmp(path, "/alerts/") == 0) {
		*format = INTAKE_AUTO;
		return ROUTE_ALERTS;
	}
	if (str_has_prefix(path, "/alerts/") && intake_format_from_path(path + 8, format) == 0)
		return ROUTE_ALERTS;
	return ROUTE_NONE;
}

static const char *method_of(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes tok;
		const char *name;
	} methods[] = {
		{WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
		{WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"},
		{WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
		{WSI_TOKEN_HEAD_URI, "HEAD"},
	};
	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (lws_hdr_total_length(wsi, methods[i].tok) > 0)
			return methods[i].name;
	return "?";
}

static bool token_ok(struct lws *wsi, const struct config *cfg)
{
	char auth[1024];
	const char *presented;

	if (cfg->webhook_token.value == NULL)
		return true;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) >= (int)sizeof(auth) ||
	    lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
		return false;
	if (strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	presented = auth + 7;
	while (*presented == ' ')
		presented++;
	return secret_equal(presented, cfg->webhook_token.value);
}

/* Routes and checks a new request. Returns 0 to continue, -1 to close. */
static int on_request(struct session *s, const char *path)
{
	struct daemon *d = daemon_of(s->wsi);
	const char *method = method_of(s->wsi);
	bool is_body_method = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
	int cl_len = lws_hdr_total_length(s->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	long long content_length = -1;

	s->started_ms = mono_ms();
	s->route = route_of(path, &s->format);
	if (cl_len > 0) {
		char cl[32];
		char *end;
		if (cl_len >= (int)sizeof(cl) ||
		    lws_hdr_copy(s->wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) < 0)
			content_length = -2;
		else {
			content_length = strtoll(cl, &end, 10);
			if (end == cl || *end != '\0' || content_length < 0)
				content_length = -2;
		}
	}
	/* A body we will not read must still be drained, or closing resets the socket. */
	s->discard = true;
	if (lws_hdr_total_length(s->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		s->close_after = true;
		respond_error(s, 411, "chunked bodies are not supported; send Content-Length");
		return 0;
	}
	if (content_length > (long long)d->cfg->webhook_max_body * 4 || content_length == -2)
		s->close_after = true; /* not worth draining */
	else if (content_length > 0 && is_body_method) {
		s->awaiting_body = true;
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_HTTP_CONTENT, BODY_TIMEOUT_S);
	}
	if (s->route == ROUTE_NONE) {
		respond_error(s, 404, "no such path (try POST /alerts, GET /healthz, GET /metrics)");
		return 0;
	}
	if (s->route != ROUTE_ALERTS) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
			respond_error(s, 405, "method not allowed (use GET)");
			return 0;
		}
		if (s->route == ROUTE_HEALTHZ) {
			struct buf b;
			int code;
			buf_init(&b, 0);
			code = daemon_healthz(d, &b);
			respond(s, code, "application/json", buf_detach(&b));
		} else {
			struct buf b;
			buf_init(&b, 0);
			metrics_render(&d->metrics, d->store, &b);
			for (size_t i = 0; i < d->n_channels; i++)
				if (d->channels[i].ops->metrics != NULL)
					d->channels[i].ops->metrics(&d->channels[i], &b);
			respond(s, 200, "text/plain; version=0.0.4", buf_detach(&b));
		}
		return 0;
	}
	/* Grafana's webhook contact point may be set to PUT; nothing else sends PUT. */
	if (strcmp(method, "POST") != 0 && !(strcmp(method, "PUT") == 0 && s->format == INTAKE_GRAFANA)) {
		respond_error(s, 405, "method not allowed (use POST)");
		return 0;
	}
	if (d->stopping) {
		s->close_after = true;
		respond_error(s, 503, "shutting down; retry");
		return 0;
	}
	if (!token_ok(s->wsi, d->cfg)) {
		respond_error(s, 401, "missing or wrong bearer token");
		return 0;
	}
	if (content_length == -2) {
		respond_error(s, 400, "bad Content-Length");
		return 0;
	}
	if (content_length < 0) {
		s->close_after = true;
		respond_error(s, 411, "Content-Length required");
		return 0;
	}
	if ((size_t)content_length > d->cfg->webhook_max_body) {
		char msg[96];
		snprintf(msg, sizeof(msg), "body of %lld bytes is over the limit of %zu",
			 content_length, d->cfg->webhook_max_body);
		respond_error(s, 413, msg);
		return 0;
	}
	s->discard = false;
	buf_init(&s->body, d->cfg->webhook_max_body);
	return 0;
}

static void on_body_complete(struct session *s)
{
	struct daemon *d = daemon_of(s->wsi);
	struct intake_job *job;
	int rc;

	lws_set_timeout(s->wsi, NO_PENDING_TIMEOUT, 0);
	s->awaiting_body = false;
	if (s->discard || s->resp_ready) {
		if (s->resp_ready)
			lws_callback_on_writable(s->wsi);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	rc = intake_parse(s->body.data ? s->body.data : "", s->body.len, s->format, &job->parsed);
	/*
	 * The body is not needed past here, and must go now: lws zeroes the
	 * session data when a keep-alive transaction completes, so anything
	 * still held in it after the response is lost.
	 */
	buf_release(&s->body);
	if (rc < 0) {
		respond_error(s, job->parsed.http_status, job->parsed.error);
		intake_job_free(job);
		return;
	}
	if (job->parsed.test_message) {
		respond(s, 200, "application/json", xstrdup("{\"status\":\"test\"}"));
		log_info("event=webhook_test_message");
		intake_job_free(job);
		return;
	}
	job->base.run = intake_job_run;
	job->base.done = intake_job_done;
	job->session = s;
	job->d = d;
	job->outcomes = xcalloc(job->parsed.n ? job->parsed.n : 1, sizeof(*job->outcomes));
	/* Environment and fingerprint here: the loop thread has time, the writer has not. */
	job->cfg = config_ref(d->cfg);
	for (size_t i = 0; i < job->parsed.n; i++)
		triage_prepare(job->cfg, writer_fingerprinter(d->writer), &job->parsed.alerts[i]);
	s->job = job;
	writer_submit(d->writer, &job->base);
}

static int write_response(struct session *s)
{
	struct daemon *d = daemon_of(s->wsi);
	size_t len = s->resp ? strlen(s->resp) : 0;
	unsigned char *buf = xmalloc(LWS_PRE + 1024 + len);
	unsigned char *start = buf + LWS_PRE, *p = start, *end = start + 1024;
	int rc = 0;

	s->resp_ready = false;
	if (lws_add_http_common_headers(s->wsi, (unsigned int)s->status, s->content_type, len, &p,
					end) ||
	    (s->close_after &&
	     lws_add_http_header_by_token(s->wsi, WSI_TOKEN_CONNECTION, (unsigned char *)"close",
					  5, &p, end)) ||
	    lws_finalize_http_header(s->wsi, &p, end)) {
		free(buf);
		return -1;
	}
	/* Headers and body in one write: one send() per response, not two. */
	if (len) {
		memcpy(p, s->resp, len);
		p += len;
	}
	if (lws_write(s->wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != (int)(p - start))
		rc = -1;
	if (s->route == ROUTE_ALERTS || s->status >= 400)
		metrics_response(&d->metrics, s->status, (double)(mono_ms() - s->started_ms) / 1000.0);
	free(buf);
	free(s->resp);
	s->resp = NULL;
	if (rc < 0 || s->close_after)
		return -1;
	return lws_http_transaction_completed(s->wsi) ? -1 : 0;
}

static void session_reset(struct session *s)
{
	buf_release(&s->body);
	free(s->resp);
	s->resp = NULL;
	if (s->job) /* committed later all the same; nobody to answer */
		s->job->session = NULL;
	s->job = NULL;
	s->resp_ready = false;
}

static int webhook_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			    void *in, size_t len)
{
	struct session *s = user;

	if (s == NULL) /* e.g. CLOSED_HTTP of a connection that never made a request */
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		session_reset(s);
		memset(s, 0, sizeof(*s));
		s->wsi = wsi;
		return on_request(s, in ? (const char *)in : "/");

	case LWS_CALLBACK_HTTP_BODY:
		if (s->discard)
			return 0;
		if (buf_append(&s->body, in, len) < 0) {
			s->discard = true;
			buf_release(&s->body);
			respond_error(s, 413, "body over the limit");
		}
		return 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		on_body_complete(s);
		return 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!s->resp_ready)
			return 0; /* unasked writeable */
		return write_response(s);

	case LWS_CALLBACK_CLOSED_HTTP:
		session_reset(s);
		return 0;

	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* Sent to every protocol; the daemon's own protocol drains the queues. */
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols webhook_protocol = {
	.name = "http",
	.callback = webhook_callback,
	.per_session_data_size = sizeof(struct session),
	.rx_buffer_size = 0,
};
