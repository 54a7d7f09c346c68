/*
 * This file contains what the payload parsers share and nothing outside
 * bot/intake*.c should use: the caps on hostile input, the result builders
 * (fail, reject, push, the per-alert batch loop), the capped label and
 * annotation readers, and intake_finish(), which derives the canonical
 * fields (name, severity, summary, cluster, namespace, workload …) from the
 * labels once a source parser has filled them. Pure, no globals.
 */
#ifndef NIGHTSHIFT_INTAKE_INTERNAL_H
#define NIGHTSHIFT_INTAKE_INTERNAL_H

#include "intake.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define INTAKE_MAX_ALERTS      1000	   /* per payload; the rest are rejected */
#define INTAKE_MAX_LABELS      256	   /* per alert; more rejects the alert */
#define INTAKE_MAX_LABEL_NAME  256	   /* bytes */
#define INTAKE_MAX_LABEL_VALUE (16 * 1024) /* bytes; longer rejects the alert */
#define INTAKE_MAX_ANNOTATIONS 256	   /* per alert; the rest are dropped */
#define INTAKE_MAX_ANNOTATION  (64 * 1024) /* bytes; longer values are truncated */
#define INTAKE_MAX_SUMMARY     300	   /* characters of the one-line summary */

/*
 * Parses one element of a batch into a (already alert_init'ed, owned by the
 * caller). Returns 0, or -1 with the reason in err.
 */
typedef int (*intake_one_fn)(const cJSON *item, const void *ctx, struct alert *a, char *err,
			     size_t errlen);

/* Sets out's http_status and error; returns -1. */
int intake_fail(struct intake_result *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends a reject for the alert at position index. */
void intake_reject(struct intake_result *out, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends *a to out->alerts, taking its members (a is left zeroed). */
void intake_push(struct intake_result *out, struct alert *a);

/*
 * Runs one() on every element of items (an array) or on items itself (any
 * other node), at most INTAKE_MAX_ALERTS times, collecting alerts and rejects.
 * Returns 0, or -1 with 422 when nothing valid came out of a non-empty batch
 * (the first reject's reason) or when the array is empty.
 */
int intake_batch(const cJSON *items, intake_one_fn one, const void *ctx, struct intake_result *out);

/* The string value of obj[key] (case-sensitive), or NULL if absent or not a string. */
const char *intake_str(const cJSON *obj, const char *key);
/* Length of the longest prefix of s of at most max bytes ending on a UTF-8 boundary. */
size_t intake_clip(const char *s, size_t max);

/* Sets label key=value (replacing) within the caps; -1 with the reason in err. */
int intake_label_set(struct kv_list *l, const char *key, const char *value, char *err,
		     size_t errlen);
/* Reads a JSON object of string values into l (first duplicate wins); -1 with err. */
int intake_labels_from_json(const cJSON *obj, struct kv_list *l, char *err, size_t errlen);
/* Sets an annotation unless present, truncating the value to the cap. */
void intake_annotation_add(struct kv_list *l, const char *key, const char *value);
/* Reads the string values of a JSON object (others skipped) into l, within the caps. */
void intake_annotations_from_json(const cJSON *obj, struct kv_list *l);
/* Parses a timestamp string with parse_time_ms(); 0 when absent or unparsable. */
int64_t intake_time(const char *s);
/* Sets a->source_fingerprint to sha256_hex of the sorted "k=v\n" labels. */
void intake_hash_labels(struct alert *a);

/*
 * Completes a parsed alert: name from the alertname label, severity
 * (labels severity|priority, annotations severity, else def), summary and
 * description, cluster/namespace/workload, raw (printed from item when not
 * set), and "" for every string left NULL except environment.
 * fallback_summary (may be NULL) is used when the annotations have none.
 */
void intake_finish(struct alert *a, const cJSON *item, const char *fallback_summary,
		   enum severity def);

/* The source parsers; root has already passed the body checks. */
int intake_parse_alerts(const cJSON *root, enum intake_format format, struct intake_result *out);
int intake_parse_kuma(const cJSON *root, struct intake_result *out);
int intake_parse_generic(const cJSON *root, struct intake_result *out);

#endif
