/*
 * This file contains the HTTP server's protocol: POST /alerts (source
 * detected from the body), /alerts/{alertmanager,signoz,grafana,uptime-kuma,
 * generic}, GET /healthz and GET /metrics. An alert is answered 202 only
 * after the store writer committed it; every bad request gets a JSON error
 * and changes nothing.
 *
 * Threads: loop thread only.
 */
#ifndef NIGHTSHIFT_WEBHOOK_H
#define NIGHTSHIFT_WEBHOOK_H

#include <libwebsockets.h>

/* The lws protocol entry for the HTTP server. */
extern const struct lws_protocols webhook_protocol;

/* Bytes a request needs beyond its body cap (headers are limited separately). */
#define WEBHOOK_MAX_HEADER_BYTES 16384

#endif
