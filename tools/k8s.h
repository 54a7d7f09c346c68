/*
 * This file contains the Kubernetes API client used by the read tools: one
 * client per cluster per worker thread (a libcurl easy handle, the cluster's
 * address, CA and token; an in-cluster or file token is re-read when the
 * file changes, as projected tokens rotate). Plain http:// is refused except
 * for loopback addresses (tests, the demo's simulated cluster).
 *
 * The format functions turn API objects into the text lines documented in
 * tools/README.md; they are pure and unit-tested on real-shaped JSON.
 */
#ifndef NIGHTSHIFT_K8S_H
#define NIGHTSHIFT_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct cJSON;
struct k8s_cluster;
struct tool_ctx;

struct config;
struct k8s_client;

/* Returns an owned client (k8s_client_free) or NULL with a reason in err. */
struct k8s_client *k8s_client_new(const struct k8s_cluster *cluster, char *err, size_t errlen);
/*
 * The client for the cluster an alert names (its `cluster` label; "" for the
 * default), created on first use in clients[] (one slot per configured
 * cluster, owned by the calling thread). NULL with the reason in *why (a
 * thread-local string) when no cluster fits or the client cannot be made.
 */
struct k8s_client *k8s_client_for(const struct config *cfg, struct k8s_client **clients,
				   const char *cluster, const char **why);
void k8s_client_free(struct k8s_client *c);

/*
 * GETs path (which includes its encoded query) and parses the JSON answer
 * into *out (owned; cJSON_Delete). Returns 0 on 2xx, -1 otherwise with err
 * like "403 Forbidden: pods is forbidden: …", "timeout after 5000 ms",
 * "malformed JSON from the API server".
 */
int k8s_get_json(struct k8s_client *c, const char *path, int timeout_ms, struct cJSON **out,
		 char *err, size_t errlen);
/* Like k8s_get_json for text answers (pod logs), keeping at most cap bytes. */
int k8s_get_text(struct k8s_client *c, const char *path, int timeout_ms, size_t cap,
		 struct buf *out, char *err, size_t errlen);

/* Appends s URL-encoded for a query value. */
void k8s_query_escape(struct buf *out, const char *s);

/* Text formats of tools/README.md; now_ms gives ages. Each appends to out. */
void k8s_format_pod(const struct cJSON *pod, int64_t now_ms, struct buf *out);
void k8s_format_event(const struct cJSON *event, int64_t now_ms, struct buf *out);
void k8s_format_deployment(const struct cJSON *deployment, int64_t now_ms, struct buf *out);
void k8s_format_node(const struct cJSON *node, int64_t now_ms, struct buf *out);
void k8s_format_pvc(const struct cJSON *pvc, int64_t now_ms, struct buf *out);
/* Keeps error-like lines and the last lines of a log, as k8s_logs shows them. */
void k8s_filter_logs(const char *text, size_t len, size_t cap, struct buf *out);

/* ---- Additions by the k8s tools (tools/k8s_*.c) ---- */

/*
 * 0 when url is http(s)://host[:port][/path] usable as an API server (plain
 * http only for a loopback host; no user, query or fragment), else -1 with
 * the reason in err. Used by the config loader and for kubeconfig servers.
 */
int k8s_check_server(const char *url, char *err, size_t errlen);

/* What one kubeconfig context resolves to (k8s_kubeconfig.c); all owned or NULL. */
struct k8s_kubeconfig {
	char *server;
	char *ca_file;             /* certificate-authority (made absolute) */
	char *ca_data;             /* certificate-authority-data, decoded PEM */
	size_t ca_len;
	char *token;               /* user token (wiped on free) */
	char *token_file;          /* user tokenFile (made absolute) */
	char *cert_file, *key_file; /* client-certificate / client-key */
	char *cert_data, *key_data; /* …-data, decoded PEM (key wiped on free) */
	size_t cert_len, key_len;
};

/*
 * Reads the kubeconfig at path and resolves context (NULL: current-context).
 * Returns 0, or -1 with err (e.g. insecure-skip-tls-verify and exec plugins
 * are refused). Relative file paths are relative to the kubeconfig's folder.
 * Never puts a credential in err.
 */
int k8s_kubeconfig_load(const char *path, const char *context, struct k8s_kubeconfig *out,
			char *err, size_t errlen);
void k8s_kubeconfig_free(struct k8s_kubeconfig *kc); /* frees the fields, not kc */

/* The item at a dotted path ("status.phase") of obj, or NULL. */
const struct cJSON *k8s_get(const struct cJSON *obj, const char *dotted);
/* The string at a dotted path, or NULL when absent or not a string. */
const char *k8s_str(const struct cJSON *obj, const char *dotted);

/* Compact age: "45s", "12m", "3h", "2d" (negative counts as 0). */
void k8s_format_age(int64_t seconds, char *out, size_t outlen);
/* When an event last happened, in ms since the epoch (0 when unknown). */
int64_t k8s_event_time_ms(const struct cJSON *event);
/* True when the pod's Ready condition is True. */
bool k8s_pod_ready(const struct cJSON *pod);
/* Health rank for sorting: 0 failed/pending, 1 not ready, 2 restarted, 3 healthy, 4 done. */
int k8s_pod_rank(const struct cJSON *pod);
/* The rollout-history line of one ReplicaSet. */
void k8s_format_replicaset(const struct cJSON *rs, bool current, int64_t now_ms, struct buf *out);
/* The job line (its pods are formatted separately with k8s_format_pod). */
void k8s_format_job(const struct cJSON *job, int64_t now_ms, struct buf *out);
/*
 * k8s_filter_logs that also counts: *lines = lines in text, *kept = distinct
 * error-like lines written (either pointer may be NULL).
 */
void k8s_filter_logs_counted(const char *text, size_t len, size_t cap, struct buf *out,
			     size_t *lines, size_t *kept);

/*
 * Shared by the tool files (k8s_read*.c). Each writes a one-line reason into
 * err (without "error: ", which the engine adds) and returns -1 on failure.
 */
/* ctx->k8s, or NULL with ctx->k8s_error in err. */
struct k8s_client *k8s_tool_client(struct tool_ctx *ctx, char *err, size_t errlen);
/*
 * The string argument name: required → missing is an error; kind is one of
 * 'n' (DNS-1123 label: namespaces, container names), 's' (DNS-1123
 * subdomain: object names), 'k' (a Kind: letters), 'q' (free text for a
 * query value: printable, at most 512 bytes). *out is NULL when optional and
 * absent.
 */
int k8s_tool_arg(const struct cJSON *args, const char *name, bool required, char kind,
		 const char **out, char *err, size_t errlen);
/* k8s_get_json on ctx's client with ctx's timeout. */
int k8s_tool_get(struct tool_ctx *ctx, const char *path, struct cJSON **out, char *err,
		 size_t errlen);
/*
 * Appends pod lines for the pods of items (a JSON array), unhealthy first, at
 * most max and within the output cap; returns how many; *not_ready counts
 * pods not ready (Pending, Failed, Unknown or a Running pod not Ready).
 */
size_t k8s_tool_pod_lines(const struct cJSON *items, size_t max, int64_t now_ms, struct buf *out,
			  size_t *not_ready);
/* Appends line to out if it fits under TOOL_OUTPUT_CAP minus reserve; false when not. */
bool k8s_tool_append(struct buf *out, const struct buf *line, size_t reserve);

#endif
