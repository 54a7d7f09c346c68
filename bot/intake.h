/*
 * This file contains the payload parsers: a webhook body (Alertmanager v4,
 * SigNoz, Grafana unified alerting, Uptime Kuma, generic JSON) becomes an
 * array of canonical alerts. Pure functions with no I/O and no globals: safe
 * from any thread, and the target of the libFuzzer harness.
 *
 * Bad input is normal input: the body is checked for valid UTF-8, nesting
 * depth, trailing garbage, and a known shape; each alert of a batch is
 * validated on its own, so one bad alert does not drop its valid neighbours.
 */
#ifndef NIGHTSHIFT_INTAKE_H
#define NIGHTSHIFT_INTAKE_H

#include "alert.h"

#include <stdbool.h>
#include <stddef.h>

#define INTAKE_MAX_DEPTH 64 /* deeper JSON is refused with 400 */

enum intake_format {
	INTAKE_AUTO = 0,     /* POST /alerts: detect from the body */
	INTAKE_ALERTMANAGER, /* also SigNoz (detected by its ruleId label) */
	INTAKE_GRAFANA,
	INTAKE_UPTIME_KUMA,
	INTAKE_GENERIC
};

struct intake_reject {
	size_t index;    /* position in the payload's alert list */
	char error[160]; /* why it was skipped */
};

struct intake_result {
	struct alert *alerts; /* owned; n valid alerts */
	size_t n;
	struct intake_reject *rejects; /* owned; alerts skipped as invalid */
	size_t n_rejects;
	bool test_message;   /* e.g. Uptime Kuma's "Testing": accept, store nothing */
	int http_status;     /* on failure: 400 (not JSON / bad UTF-8 / too deep) or 422 */
	char error[256];     /* on failure: a short message for the JSON error body */
};

/*
 * Parses body[0..len) as format. Returns 0 with out->alerts filled (n may be
 * 0 only when test_message is set), or -1 with http_status and error set.
 * out is always initialised; release it with intake_result_release().
 */
int intake_parse(const char *body, size_t len, enum intake_format format,
		 struct intake_result *out);
void intake_result_release(struct intake_result *r);

/* "alertmanager", "grafana", "uptime-kuma", "generic" → format; -1 if unknown. */
int intake_format_from_path(const char *suffix, enum intake_format *out);

#endif
