/*
 * This file contains the process's counters and their Prometheus text
 * rendering for GET /metrics. Loop thread only: no locking.
 */
#ifndef NIGHTSHIFT_METRICS_H
#define NIGHTSHIFT_METRICS_H

#include "alert.h"

#include <stdbool.h>
#include <stdint.h>

struct buf;
struct store;

#define METRICS_BUCKETS 12

struct metrics {
	uint64_t alerts[SOURCE_COUNT][2]; /* [source][firing=0, resolved=1] */
	struct {
		int code;
		uint64_t n;
	} responses[16];
	uint64_t duration_bucket[METRICS_BUCKETS]; /* cumulative at render time */
	double duration_sum;
	uint64_t duration_count;
	uint64_t outbox_sent, outbox_failed, outbox_retried;
	int64_t started_ms;
	/* nightshift's own heartbeat (watch.c) */
	bool heartbeat_configured;
	uint64_t heartbeat_ok, heartbeat_failed, heartbeat_consecutive_failures;
	int64_t heartbeat_last_success_ms; /* 0: never */
	char heartbeat_last_error[128];    /* "" after a success; never the URL */
};

void metrics_init(struct metrics *m);
void metrics_response(struct metrics *m, int code, double seconds);
/* Appends the Prometheus text exposition; incident counts come from store. */
void metrics_render(const struct metrics *m, struct store *store, struct buf *out);

#endif
