/*
 * This file contains the tool contract for investigations. A tool is a name,
 * a description and JSON-schema parameters (what an LLM sees), a kind (read
 * or action), and a run function; the registry looks tools up by name and
 * refuses duplicates at start-up. Adding a tool is one file plus one registry
 * line. Only the guard (bot/guard) may run an action tool.
 *
 * Threads: run() is called on an investigation worker with that worker's own
 * context; it may block (with the timeout it is given) and must not touch
 * channels, timers or lws.
 */
#ifndef NIGHTSHIFT_TOOL_H
#define NIGHTSHIFT_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct buf;
struct tool_ctx; /* the investigation's context: cluster access, store, deadline */

enum tool_kind { TOOL_READ = 0, TOOL_ACTION };

struct tool {
	const char *name;        /* e.g. "k8s_pods" */
	const char *description; /* one or two sentences for humans and the LLM */
	const char *parameters;  /* JSON Schema of the arguments object */
	enum tool_kind kind;
	/*
	 * Runs with args (borrowed JSON object) and appends a short, capped text
	 * result to out. Returns 0, or -1 with a reason in err: a failed tool is
	 * evidence for the investigation, never a crash.
	 */
	int (*run)(struct tool_ctx *ctx, const struct cJSON *args, struct buf *out, char *err,
		   size_t errlen);
};

#endif
