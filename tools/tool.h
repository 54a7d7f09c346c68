/*
 * This file contains the tool contract for investigations. A tool is a name,
 * a description and JSON-schema parameters (what an LLM sees), a kind (read
 * or action), and a run function; the registry (tools/registry.c) looks
 * tools up by name and refuses duplicates. Adding a tool is one file plus one
 * registry line. Output formats are documented in tools/README.md. Only the
 * guard (a later wave) may run an action tool.
 *
 * Threads: run() is called on an investigation worker with that worker's
 * own context; it may block up to ctx->timeout_ms and must not touch
 * channels, timers or lws.
 */
#ifndef NIGHTSHIFT_TOOL_H
#define NIGHTSHIFT_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alert;
struct buf;
struct cJSON;
struct config;
struct k8s_client;
struct playbook_set;
struct store;

#define TOOL_OUTPUT_CAP (16 * 1024)

enum tool_kind { TOOL_READ = 0, TOOL_ACTION };

/* What a tool call may use; everything borrowed from the investigation. */
struct tool_ctx {
	const struct config *cfg;
	struct store *store;              /* the worker's own connection */
	const struct alert *alert;        /* the alert under investigation */
	int64_t incident_id;              /* its incident (0 in replay of a new one) */
	const struct playbook_set *playbooks;
	struct k8s_client *k8s;           /* NULL when no cluster fits the alert */
	const char *k8s_error;            /* why k8s is NULL ("no cluster named …") */
	int timeout_ms;                   /* this call's budget */
	int64_t now_ms;                   /* wall clock, for ages */
};

struct tool {
	const char *name;        /* e.g. "k8s_pods" */
	const char *description; /* one or two sentences for humans and the LLM */
	const char *parameters;  /* JSON Schema of the arguments object */
	enum tool_kind kind;
	/*
	 * Runs with args (a borrowed JSON object of strings) and appends its
	 * text output to out (capped at TOOL_OUTPUT_CAP). Returns 0, or -1 with
	 * a one-line reason in err: a failed tool is evidence, never a crash.
	 */
	int (*run)(struct tool_ctx *ctx, const struct cJSON *args, struct buf *out, char *err,
		   size_t errlen);
};

/* All tools; *n set to their count. */
const struct tool *const *tool_registry(size_t *n);
/* The tool named name, or NULL. */
const struct tool *tool_lookup(const char *name);

/* A string argument of args, or NULL when absent or not a string. */
const char *tool_arg(const struct cJSON *args, const char *name);

#endif
