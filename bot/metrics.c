/*
 * This file contains the counters of metrics.h and the text exposition
 * format (version 0.0.4) that Prometheus scrapes.
 */
#include "metrics.h"

#include "store.h"
#include "util.h"

#include <string.h>

static const double bucket_le[METRICS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
						  0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->started_ms = now_ms();
}

void metrics_response(struct metrics *m, int code, double seconds)
{
	size_t i;
	for (i = 0; i < ARRAY_LEN(m->responses); i++) {
		if (m->responses[i].code == code || m->responses[i].code == 0) {
			m->responses[i].code = code;
			m->responses[i].n++;
			break;
		}
	}
	for (i = 0; i < METRICS_BUCKETS; i++) {
		if (seconds <= bucket_le[i]) {
			m->duration_bucket[i]++;
			break;
		}
	}
	m->duration_sum += seconds;
	m->duration_count++;
}

void metrics_render(const struct metrics *m, struct store *store, struct buf *out)
{
	static const char *states[] = {"open",      "investigating", "noise",   "auto_fixed",
				       "escalated", "acknowledged",  "resolved"};
	uint64_t cumulative = 0;

	buf_puts(out, "# HELP nightshift_alerts_received_total Alerts accepted and stored, by source "
		      "and status.\n# TYPE nightshift_alerts_received_total counter\n");
	for (int s = 0; s < SOURCE_COUNT; s++)
		for (int st = 0; st < 2; st++)
			buf_printf(out,
				   "nightshift_alerts_received_total{source=\"%s\",status=\"%s\"} "
				   "%llu\n",
				   alert_source_name((enum alert_source)s),
				   st ? "resolved" : "firing", (unsigned long long)m->alerts[s][st]);

	buf_puts(out, "# HELP nightshift_webhook_responses_total Webhook responses by HTTP status."
		      "\n# TYPE nightshift_webhook_responses_total counter\n");
	for (size_t i = 0; i < ARRAY_LEN(m->responses) && m->responses[i].code; i++)
		buf_printf(out, "nightshift_webhook_responses_total{code=\"%d\"} %llu\n",
			   m->responses[i].code, (unsigned long long)m->responses[i].n);

	buf_puts(out, "# HELP nightshift_webhook_request_duration_seconds Time from request to "
		      "response, storage included.\n"
		      "# TYPE nightshift_webhook_request_duration_seconds histogram\n");
	for (int i = 0; i < METRICS_BUCKETS; i++) {
		cumulative += m->duration_bucket[i];
		buf_printf(out, "nightshift_webhook_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			   bucket_le[i], (unsigned long long)cumulative);
	}
	buf_printf(out,
		   "nightshift_webhook_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		   "nightshift_webhook_request_duration_seconds_sum %.6f\n"
		   "nightshift_webhook_request_duration_seconds_count %llu\n",
		   (unsigned long long)m->duration_count, m->duration_sum,
		   (unsigned long long)m->duration_count);

	buf_puts(out, "# HELP nightshift_incidents Incidents by state.\n"
		      "# TYPE nightshift_incidents gauge\n");
	for (size_t i = 0; i < ARRAY_LEN(states); i++) {
		sqlite3_stmt *st = store_stmt(store, 42,
					      "SELECT count(*) FROM incidents WHERE state = ?");
		long long n = -1;
		if (st) {
			store_bind_text(st, 1, states[i]);
			if (sqlite3_step(st) == SQLITE_ROW)
				n = sqlite3_column_int64(st, 0);
			sqlite3_reset(st);
		}
		if (n >= 0)
			buf_printf(out, "nightshift_incidents{state=\"%s\"} %lld\n", states[i], n);
	}

	buf_printf(out,
		   "# HELP nightshift_outbox_messages_total Chat messages by delivery result.\n"
		   "# TYPE nightshift_outbox_messages_total counter\n"
		   "nightshift_outbox_messages_total{result=\"sent\"} %llu\n"
		   "nightshift_outbox_messages_total{result=\"retried\"} %llu\n"
		   "nightshift_outbox_messages_total{result=\"failed\"} %llu\n",
		   (unsigned long long)m->outbox_sent, (unsigned long long)m->outbox_retried,
		   (unsigned long long)m->outbox_failed);
	buf_printf(out,
		   "# HELP nightshift_process_resident_memory_bytes Resident memory size.\n"
		   "# TYPE nightshift_process_resident_memory_bytes gauge\n"
		   "nightshift_process_resident_memory_bytes %ld\n"
		   "# HELP nightshift_process_start_time_seconds Start time since the epoch.\n"
		   "# TYPE nightshift_process_start_time_seconds gauge\n"
		   "nightshift_process_start_time_seconds %lld\n",
		   process_rss_bytes(), (long long)(m->started_ms / 1000));
	if (m->heartbeat_configured)
		buf_printf(out,
			   "# HELP nightshift_heartbeat_total Calls of heartbeat.url by result.\n"
			   "# TYPE nightshift_heartbeat_total counter\n"
			   "nightshift_heartbeat_total{result=\"ok\"} %llu\n"
			   "nightshift_heartbeat_total{result=\"failed\"} %llu\n"
			   "# HELP nightshift_heartbeat_consecutive_failures Failed heartbeat calls "
			   "since the last success.\n"
			   "# TYPE nightshift_heartbeat_consecutive_failures gauge\n"
			   "nightshift_heartbeat_consecutive_failures %llu\n"
			   "# HELP nightshift_heartbeat_last_success_seconds Time of the last "
			   "successful heartbeat call since the epoch (0: none yet).\n"
			   "# TYPE nightshift_heartbeat_last_success_seconds gauge\n"
			   "nightshift_heartbeat_last_success_seconds %lld\n",
			   (unsigned long long)m->heartbeat_ok,
			   (unsigned long long)m->heartbeat_failed,
			   (unsigned long long)m->heartbeat_consecutive_failures,
			   (long long)(m->heartbeat_last_success_ms / 1000));
}
