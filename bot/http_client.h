/*
 * This file contains the HTTP client thread: one thread that owns a libcurl
 * multi handle and runs the requests the loop thread starts (Slack Web API,
 * apps.connections.open, later Google Chat), so the loop never blocks on the
 * network (platform-notes §2, "Option B").
 *
 * DESIGN: requests go in under a mutex and curl_multi_wakeup(); finished ones
 * go to a done-queue and the thread calls wake(arg), which the daemon maps to
 * lws_cancel_service(). The loop thread runs http_client_drain() from its one
 * EVENT_WAIT_CANCELLED handler, and each request's done() runs there, on the
 * loop thread. Nothing here logs a header: bearer tokens stay out of logs.
 */
#ifndef NIGHTSHIFT_HTTP_CLIENT_H
#define NIGHTSHIFT_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_CLIENT_MAX_BODY (1024 * 1024) /* response bodies beyond this fail */

struct http_response {
	int status;	  /* HTTP status, 0 when no response came (see error) */
	const char *body; /* NUL-terminated, "" when empty; valid during done() only */
	size_t body_len;
	int retry_after_s; /* Retry-After in seconds, -1 when absent */
	const char *error; /* transport error text, "" on a response */
	int64_t elapsed_ms;
};

struct http_request {
	const char *method;	  /* "GET" or "POST" */
	const char *url;	  /* copied */
	const char *content_type; /* copied; NULL for none */
	const char *bearer;	  /* copied; Authorization: Bearer …, never logged */
	const char *body;	  /* copied; NULL for none */
	size_t body_len;
	long timeout_ms; /* whole request; 0 means 10 s */
	/* Loop thread, from http_client_drain(): the result (borrowed). */
	void (*done)(void *arg, const struct http_response *r);
	void *arg;
};

struct http_client;

/*
 * Starts the thread. wake(arg) is called from it when finished requests are
 * waiting for http_client_drain(). Returns an owned client (http_client_stop)
 * or NULL with err. curl_global_init() must have run.
 */
struct http_client *http_client_start(void (*wake)(void *), void *wake_arg, char *err,
				      size_t errlen);
/* Queues rq (everything copied). Any thread; done() later runs on the loop thread. */
void http_client_submit(struct http_client *c, const struct http_request *rq);
/* Runs done() of every finished request (loop thread). Returns how many. */
size_t http_client_drain(struct http_client *c);
/* Requests submitted whose done() has not run yet. */
size_t http_client_in_flight(struct http_client *c);
/* Stops the thread; requests not finished are dropped without done(). NULL-safe. */
void http_client_stop(struct http_client *c);

#endif
