/*
 * This file contains the HTTP side of slackdouble on libwebsockets 4.1:
 * routing (/api/<method>, /_control/<route>, /_response/<id>), collecting
 * the body up to SD_MAX_BODY, dispatching to webapi.c or control.c, and
 * writing the reply — at once, after a scripted delay (the 20 ms tick wakes
 * it), or not at all (a scripted drop closes the connection). It also gates
 * WebSocket upgrades: only /link/ with an unused ticket may upgrade.
 *
 * lws 4.1.6 pitfalls handled as in channels/webhook.c (platform-notes §1):
 * a POST without Content-Length never completes (dispatched at once with an
 * empty body), chunked bodies are not decoded (411), writeable callbacks may
 * come unasked (resp_ready guard).
 */
#include "sd.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_TIMEOUT_S 30

enum route { R_NONE = 0, R_API, R_CONTROL, R_RESPONSE_URL };

struct hsess {
	struct lws *wsi;
	struct hsess *next_delayed; /* in sd.delayed while a delayed reply waits */
	bool delayed;
	enum route route;
	char method[8];
	char path[512];
	char ctype[256];
	char *auth; /* owned, or NULL when there was no Authorization header */
	cJSON *query;
	struct buf body;
	bool awaiting_body; /* the body is still coming: dispatch after it */
	bool discard;       /* read and drop the body: the answer is known */
	bool resp_ready;
	bool close_after;
	struct reply rep;
	int64_t due_mono;
};

void reply_json(struct reply *r, int status, cJSON *body)
{
	free(r->body);
	r->status = status;
	r->body = json_print(body);
	r->content_type = "application/json; charset=utf-8";
	cJSON_Delete(body);
}

void reply_error(struct reply *r, int status, const char *error)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "ok", false);
	cJSON_AddStringToObject(j, "error", error);
	reply_json(r, status, j);
}

static void unlink_delayed(struct sd *d, struct hsess *s)
{
	for (struct hsess **pp = &d->delayed; *pp; pp = &(*pp)->next_delayed) {
		if (*pp == s) {
			*pp = s->next_delayed;
			break;
		}
	}
	s->delayed = false;
	s->next_delayed = NULL;
}

static void session_reset(struct sd *d, struct hsess *s)
{
	if (s->delayed)
		unlink_delayed(d, s);
	buf_release(&s->body);
	free(s->auth);
	s->auth = NULL;
	cJSON_Delete(s->query);
	s->query = NULL;
	free(s->rep.body);
	memset(&s->rep, 0, sizeof(s->rep));
	s->resp_ready = false;
}

/* Marks the reply ready and asks for a writeable callback (now or when due). */
static void ready(struct sd *d, struct hsess *s)
{
	s->resp_ready = true;
	if (s->awaiting_body)
		return; /* after the body */
	if (s->rep.delay_ms > 0) {
		s->due_mono = mono_ms() + s->rep.delay_ms;
		s->rep.delay_ms = 0;
		s->delayed = true;
		s->next_delayed = d->delayed;
		d->delayed = s;
		return;
	}
	lws_callback_on_writable(s->wsi);
}

static void respond_error(struct sd *d, struct hsess *s, int status, const char *msg)
{
	reply_error(&s->rep, status, msg);
	ready(d, s);
}

void http_tick(struct sd *d, int64_t mono)
{
	struct hsess **pp = &d->delayed;
	while (*pp) {
		struct hsess *s = *pp;
		if (s->due_mono <= mono) {
			*pp = s->next_delayed;
			s->delayed = false;
			s->next_delayed = NULL;
			lws_callback_on_writable(s->wsi);
		} else {
			pp = &s->next_delayed;
		}
	}
}

void http_shutdown(struct sd *d)
{
	d->delayed = NULL; /* the sessions themselves went with the context */
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

/* Copies a header into out; "" when absent, -1 when longer than out. */
static int header(struct lws *wsi, enum lws_token_indexes tok, char *out, size_t outlen)
{
	int n = lws_hdr_total_length(wsi, tok);
	out[0] = '\0';
	if (n <= 0)
		return 0;
	if ((size_t)n >= outlen || lws_hdr_copy(wsi, out, (int)outlen, tok) < 0)
		return -1;
	return 0;
}

/* The query arguments (lws has url-decoded them already) as an object. */
static cJSON *query_of(struct lws *wsi)
{
	cJSON *q = cJSON_CreateObject();
	char frag[4096];
	for (int i = 0; i < 64; i++) {
		char *eq;
		if (lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			break;
		eq = strchr(frag, '=');
		if (eq)
			*eq++ = '\0';
		cJSON_DeleteItemFromObjectCaseSensitive(q, frag);
		cJSON_AddStringToObject(q, frag, eq ? eq : "");
	}
	return q;
}

static void dispatch(struct sd *d, struct hsess *s)
{
	struct request rq = {
		.http_method = s->method,
		.path = s->path,
		.content_type = s->ctype[0] ? s->ctype : NULL,
		.authorization = s->auth,
		.query = s->query,
		.body = s->body.data ? s->body.data : "",
		.body_len = s->body.len,
	};
	if (s->route == R_API) {
		const char *m = s->path + 5;
		bool sane = strlen(m) < 64 && strspn(m, "abcdefghijklmnopqrstuvwxyz"
							"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._") ==
						  strlen(m);
		webapi_handle(d, &rq, sane ? m : "?", &s->rep);
	} else if (s->route == R_CONTROL) {
		control_handle(d, &rq, s->path + 10, &s->rep);
	} else {
		control_handle(d, &rq, s->path + 1, &s->rep); /* "_response/<id>" */
	}
	buf_release(&s->body);
	ready(d, s);
}

/* Routes and checks a new request. */
static void on_request(struct sd *d, struct hsess *s, const char *path)
{
	struct lws *wsi = s->wsi;
	int cl_len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	long long content_length = -1;
	char auth[2048];
	bool body_method;

	strlcpy0(s->method, method_of(wsi), sizeof(s->method));
	body_method = strcmp(s->method, "GET") != 0 && strcmp(s->method, "HEAD") != 0;
	s->query = query_of(wsi);
	if (cl_len > 0) {
		char cl[32], *end;
		if (header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl)) < 0)
			content_length = -2;
		else {
			content_length = strtoll(cl, &end, 10);
			if (end == cl || *end != '\0' || content_length < 0)
				content_length = -2;
		}
	}
	s->discard = true;
	if (content_length > 0 && body_method) {
		s->awaiting_body = true;
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, BODY_TIMEOUT_S);
	} else if (content_length == 0 && body_method) {
		s->awaiting_body = true; /* Content-Length: 0 still gets BODY_COMPLETION */
	}
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		s->close_after = true;
		s->awaiting_body = false;
		respond_error(d, s, 411, "chunked bodies are not supported; send Content-Length");
		return;
	}
	if (content_length == -2 || content_length > SD_MAX_BODY) {
		s->close_after = true;
		s->awaiting_body = false;
		respond_error(d, s, content_length == -2 ? 400 : 413, "bad or too large body");
		return;
	}
	if (strlen(path) >= sizeof(s->path) ||
	    header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, s->ctype, sizeof(s->ctype)) < 0 ||
	    header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)) < 0) {
		respond_error(d, s, 431, "path or header too long");
		return;
	}
	strlcpy0(s->path, path, sizeof(s->path));
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
		s->auth = xstrdup(auth);
	if (str_has_prefix(path, "/api/"))
		s->route = R_API;
	else if (str_has_prefix(path, "/_control/"))
		s->route = R_CONTROL;
	else if (str_has_prefix(path, "/_response/"))
		s->route = R_RESPONSE_URL;
	if (s->route == R_NONE) {
		respond_error(d, s, str_has_prefix(path, "/link") ? 400 : 404,
			      str_has_prefix(path, "/link") ? "websocket_upgrade_required"
							    : "no_such_path");
		return;
	}
	s->discard = false;
	buf_init(&s->body, SD_MAX_BODY);
	if (!s->awaiting_body)
		dispatch(d, s); /* GET, or a POST without Content-Length (pitfall 2) */
}

static int write_reply(struct hsess *s)
{
	size_t len = s->rep.body ? strlen(s->rep.body) : 0;
	unsigned char *buf;
	unsigned char *start, *p, *end;
	int rc = 0;

	s->resp_ready = false;
	if (s->rep.drop)
		return -1; /* close with no answer */
	buf = xmalloc(LWS_PRE + 1024 + len);
	start = buf + LWS_PRE;
	p = start;
	end = start + 1024;
	if (lws_add_http_common_headers(s->wsi, (unsigned int)s->rep.status,
					s->rep.content_type ? s->rep.content_type : "text/plain",
					len, &p, end))
		rc = -1;
	if (rc == 0 && s->rep.retry_after > 0) {
		char ra[24];
		int n = snprintf(ra, sizeof(ra), "%d", s->rep.retry_after);
		if (lws_add_http_header_by_name(s->wsi, (const unsigned char *)"retry-after:",
						(const unsigned char *)ra, n, &p, end))
			rc = -1;
	}
	if (rc == 0 && s->close_after &&
	    lws_add_http_header_by_token(s->wsi, WSI_TOKEN_CONNECTION,
					 (const unsigned char *)"close", 5, &p, end))
		rc = -1;
	if (rc == 0 && lws_finalize_write_http_header(s->wsi, start, &p, end))
		rc = -1;
	if (rc == 0 && len) {
		memcpy(p, s->rep.body, len);
		if (lws_write(s->wsi, p, len, LWS_WRITE_HTTP_FINAL) != (int)len)
			rc = -1;
	}
	free(buf);
	free(s->rep.body);
	s->rep.body = NULL;
	if (rc < 0 || s->close_after)
		return -1;
	return lws_http_transaction_completed(s->wsi) ? -1 : 0;
}

int http_confirm_upgrade(struct sd *d, struct lws *wsi)
{
	char uri[256], arg[128];
	const char *ticket = NULL, *why = NULL;
	cJSON *rule = fail_take(d, "socket_mode.connect");
	cJSON *rec = cJSON_CreateObject();
	int rc = 0;

	if (header(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri)) < 0)
		uri[0] = '\0';
	if (strcmp(uri, "/link/") == 0 || strcmp(uri, "/link") == 0)
		ticket = lws_get_urlarg_by_name(wsi, "ticket=", arg, sizeof(arg));
	cJSON_AddStringToObject(rec, "path", uri);
	cJSON_AddStringToObject(rec, "ticket", ticket ? ticket : "");
	if (rule != NULL) {
		why = "scripted";
		if (jbool(rule, "drop", false)) {
			rc = -1;
		} else {
			int st = (int)jint(rule, "status", 503);
			lws_return_http_status(wsi, (unsigned int)(st >= 100 ? st : 503), NULL);
			cJSON_AddNumberToObject(rec, "status", st >= 100 ? st : 503);
			rc = 1;
		}
	} else if (ticket == NULL) {
		why = uri[0] && str_has_prefix(uri, "/link") ? "missing_ticket" : "not_found";
	} else if (!slack_use_ticket(d, ticket)) {
		why = "invalid_or_used_ticket";
	}
	if (why != NULL && rc == 0) {
		lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, NULL);
		cJSON_AddNumberToObject(rec, "status", 401);
		rc = 1;
	}
	cJSON_Delete(rule);
	if (why == NULL) {
		cJSON_Delete(rec); /* ESTABLISHED records ws_open */
		return 0;
	}
	cJSON_AddStringToObject(rec, "reason", why);
	record_add(d, "ws_refused", rec);
	return rc;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	struct hsess *s = user;
	struct sd *d = sd_of(wsi);

	if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE)
		return in && strcmp((const char *)in, "websocket") == 0
			       ? http_confirm_upgrade(d, wsi)
			       : -1;
	if (s == NULL)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		session_reset(d, s);
		memset(s, 0, sizeof(*s));
		s->wsi = wsi;
		on_request(d, s, in ? (const char *)in : "/");
		return 0;

	case LWS_CALLBACK_HTTP_BODY:
		if (s->discard)
			return 0;
		if (buf_append(&s->body, in, len) < 0) {
			s->discard = true;
			buf_release(&s->body);
			reply_error(&s->rep, 413, "body over the limit");
			s->resp_ready = true;
		}
		return 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		s->awaiting_body = false;
		if (s->resp_ready) /* answered before the body ended */
			ready(d, s);
		else if (!s->discard)
			dispatch(d, s);
		return 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!s->resp_ready || s->delayed)
			return 0; /* unasked writeable */
		return write_reply(s);

	case LWS_CALLBACK_CLOSED_HTTP:
		session_reset(d, s);
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols sd_http_protocol = {
	.name = "http",
	.callback = http_callback,
	.per_session_data_size = sizeof(struct hsess),
	.rx_buffer_size = 0,
};
