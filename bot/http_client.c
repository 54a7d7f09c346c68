/*
 * This file contains the HTTP client thread of http_client.h: a curl multi
 * loop (perform, info_read, poll) fed by a mutex-protected queue and
 * curl_multi_wakeup(), and a done-queue drained on the loop thread.
 */
#include "http_client.h"

#include "log.h"
#include "util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct job {
	struct job *next;
	struct job *a_prev, *a_next; /* the client thread's list of running jobs */
	CURL *easy;
	struct curl_slist *headers;
	char *url, *body;
	size_t body_len;
	long timeout_ms;
	bool get;
	void (*done)(void *arg, const struct http_response *r);
	void *arg;
	struct buf resp;
	int retry_after_s;
	int status;
	char error[CURL_ERROR_SIZE];
	int64_t started_ms;
	int64_t elapsed_ms;
};

struct http_client {
	pthread_t thread;
	pthread_mutex_t mu;
	CURLM *multi;
	struct job *in_head, *in_tail;	   /* guarded by mu */
	struct job *done_head, *done_tail; /* guarded by mu */
	struct job *active;		   /* client thread only (and after it joined) */
	size_t in_flight;		   /* guarded by mu */
	bool stop;			   /* guarded by mu */
	void (*wake)(void *);
	void *wake_arg;
};

static void job_free(struct job *j)
{
	if (j == NULL)
		return;
	if (j->easy)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->headers);
	free(j->url);
	free(j->body);
	buf_release(&j->resp);
	free(j);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	return buf_append(&j->resp, p, size * n) == 0 ? size * n : 0; /* over the cap: fail */
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n;
	if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		char tmp[32];
		size_t k = len - 12 < sizeof(tmp) - 1 ? len - 12 : sizeof(tmp) - 1;
		char *end;
		long v;
		memcpy(tmp, p + 12, k);
		tmp[k] = '\0';
		v = strtol(tmp, &end, 10);
		if (end != tmp && v >= 0 && v < 86400)
			j->retry_after_s = (int)v;
	}
	return len;
}

/* Builds the easy handle of j (client thread). */
static void job_prepare(struct job *j)
{
	CURL *e = curl_easy_init();
	if (e == NULL)
		fatal("event=oom what=curl_easy_init");
	j->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, j->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 j->timeout_ms < 5000 ? j->timeout_ms : 5000L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "nightshift");
	curl_easy_setopt(e, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->error);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
	if (!j->get) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body ? j->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
	}
	j->started_ms = mono_ms();
}

static void *client_main(void *arg)
{
	struct http_client *c = arg;

	pthread_setname_np(pthread_self(), "ns-http");

	for (;;) {
		struct job *take, *j;
		CURLMsg *msg;
		int running = 0, left = 0;
		bool finished = false;

		pthread_mutex_lock(&c->mu);
		if (c->stop) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		take = c->in_head;
		c->in_head = c->in_tail = NULL;
		pthread_mutex_unlock(&c->mu);
		while ((j = take) != NULL) {
			take = j->next;
			j->next = NULL;
			job_prepare(j);
			curl_multi_add_handle(c->multi, j->easy);
			j->a_next = c->active;
			if (c->active)
				c->active->a_prev = j;
			c->active = j;
		}
		curl_multi_perform(c->multi, &running);
		while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
			long status = 0;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
			if (msg->data.result == CURLE_OK) {
				curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
						  &status);
				j->error[0] = '\0';
			} else if (j->error[0] == '\0') {
				strlcpy0(j->error, curl_easy_strerror(msg->data.result),
					 sizeof(j->error));
			}
			j->status = (int)status;
			j->elapsed_ms = mono_ms() - j->started_ms;
			curl_multi_remove_handle(c->multi, msg->easy_handle);
			curl_easy_cleanup(j->easy);
			j->easy = NULL;
			if (j->a_prev)
				j->a_prev->a_next = j->a_next;
			else
				c->active = j->a_next;
			if (j->a_next)
				j->a_next->a_prev = j->a_prev;
			pthread_mutex_lock(&c->mu);
			if (c->done_tail)
				c->done_tail->next = j;
			else
				c->done_head = j;
			c->done_tail = j;
			pthread_mutex_unlock(&c->mu);
			finished = true;
		}
		if (finished)
			c->wake(c->wake_arg);
		curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

struct http_client *http_client_start(void (*wake)(void *), void *wake_arg, char *err,
				      size_t errlen)
{
	struct http_client *c = xcalloc(1, sizeof(*c));

	c->wake = wake;
	c->wake_arg = wake_arg;
	pthread_mutex_init(&c->mu, NULL);
	c->multi = curl_multi_init();
	if (c->multi == NULL) {
		snprintf(err, errlen, "curl_multi_init failed");
		goto fail;
	}
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
	if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
		snprintf(err, errlen, "cannot start the HTTP client thread");
		goto fail;
	}
	return c;
fail:
	if (c->multi)
		curl_multi_cleanup(c->multi);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return NULL;
}

void http_client_submit(struct http_client *c, const struct http_request *rq)
{
	struct job *j = xcalloc(1, sizeof(*j));
	char *h;

	j->url = xstrdup(rq->url);
	j->get = strcmp(rq->method, "GET") == 0;
	if (rq->body != NULL) {
		j->body = xmalloc(rq->body_len + 1);
		memcpy(j->body, rq->body, rq->body_len);
		j->body[rq->body_len] = '\0';
		j->body_len = rq->body_len;
	}
	j->timeout_ms = rq->timeout_ms > 0 ? rq->timeout_ms : 10000;
	j->done = rq->done;
	j->arg = rq->arg;
	j->retry_after_s = -1;
	buf_init(&j->resp, HTTP_CLIENT_MAX_BODY);
	if (rq->content_type) {
		h = xasprintf("Content-Type: %s", rq->content_type);
		j->headers = curl_slist_append(j->headers, h);
		free(h);
	}
	if (rq->bearer) {
		h = xasprintf("Authorization: Bearer %s", rq->bearer);
		j->headers = curl_slist_append(j->headers, h);
		explicit_bzero(h, strlen(h));
		free(h);
	}
	j->headers = curl_slist_append(j->headers, "Expect:");
	pthread_mutex_lock(&c->mu);
	if (c->in_tail)
		c->in_tail->next = j;
	else
		c->in_head = j;
	c->in_tail = j;
	c->in_flight++;
	pthread_mutex_unlock(&c->mu);
	curl_multi_wakeup(c->multi);
}

size_t http_client_drain(struct http_client *c)
{
	struct job *list, *j;
	size_t n = 0;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	list = c->done_head;
	c->done_head = c->done_tail = NULL;
	pthread_mutex_unlock(&c->mu);
	while ((j = list) != NULL) {
		struct http_response r = {
		    .status = j->status,
		    .body = j->resp.data ? j->resp.data : "",
		    .body_len = j->resp.len,
		    .retry_after_s = j->retry_after_s,
		    .error = j->error,
		    .elapsed_ms = j->elapsed_ms,
		};
		list = j->next;
		pthread_mutex_lock(&c->mu);
		c->in_flight--;
		pthread_mutex_unlock(&c->mu);
		if (j->done)
			j->done(j->arg, &r);
		job_free(j);
		n++;
	}
	return n;
}

size_t http_client_in_flight(struct http_client *c)
{
	size_t n;
	pthread_mutex_lock(&c->mu);
	n = c->in_flight;
	pthread_mutex_unlock(&c->mu);
	return n;
}

static void free_list(struct job *j)
{
	while (j != NULL) {
		struct job *next = j->next;
		job_free(j);
		j = next;
	}
}

void http_client_stop(struct http_client *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_mutex_unlock(&c->mu);
	curl_multi_wakeup(c->multi);
	pthread_join(c->thread, NULL);
	/* Requests still inside the multi handle. */
	while (c->active != NULL) {
		struct job *j = c->active;
		c->active = j->a_next;
		curl_multi_remove_handle(c->multi, j->easy);
		job_free(j);
	}
	free_list(c->in_head);
	free_list(c->done_head);
	curl_multi_cleanup(c->multi);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
