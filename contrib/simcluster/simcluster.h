/*
 * This file contains the shared declarations of simcluster, a Kubernetes API
 * server double: the resource registry, the in-memory cluster (objects held
 * as cJSON, the way the real API serialises them), the request/response pair
 * the HTTP layer hands to the API layer, and the entry points of each part:
 *   scenario.c   load scenario files, ${now-…} templating, metadata defaults
 *   api.c        routing, discovery, list/get, Status errors
 *   actions.c    pod logs, PATCH deployment, DELETE pod, failure rules
 *   selectors.c  labelSelector and fieldSelector matching
 *   table.c      meta.k8s.io/v1 Table rendering (what `kubectl get` prints)
 *   simcluster.c CLI, libwebsockets server, mutation log
 * Everything runs on the lws service thread; nothing here is thread-safe.
 */
#ifndef SIMCLUSTER_H
#define SIMCLUSTER_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_BODY   (1024 * 1024)  /* request bodies and scenario strings */
#define SIM_MAX_QUERY  8192           /* the whole query string */
#define SIM_MAX_ARGS   32             /* query parameters kept */
#define SIM_MAX_FILE   (16 * 1024 * 1024) /* one scenario file */
#define SIM_MAX_INJECT (64 * 1024 * 1024) /* an injected body after body_repeat */

/* Where a resource's objects are kept; events.k8s.io events are a view of RES_EVENTS. */
enum res_id {
	RES_NAMESPACES = 0,
	RES_NODES,
	RES_PODS,
	RES_EVENTS,
	RES_PVCS,
	RES_DEPLOYMENTS,
	RES_REPLICASETS,
	RES_JOBS,
	RES_COUNT,
	RES_EVENTS_V1 = RES_COUNT, /* only in the registry, never a store */
};

struct resource {
	enum res_id id;
	const char *group;      /* "" for the core group */
	const char *version;
	const char *plural;
	const char *singular;
	const char *kind;
	bool namespaced;
	const char *short_names; /* JSON array text, or NULL */
	bool category_all;       /* in `kubectl get all` */
	const char *key;         /* the scenario file's list name */
};

/* The registry, in discovery order; n is set to its length. */
const struct resource *sim_resources(size_t *n);
const struct resource *sim_resource_by_store(enum res_id id);
/* "v1" or "apps/v1" for a resource (static storage per resource). */
const char *sim_api_version(const struct resource *r);

/* One failure-injection rule (scenario "failures", or POST /_sim/failures). */
struct failure_rule {
	char *method;       /* NULL or "*" = any */
	char *path_src;     /* the regex as written */
	pcre2_code *path_re;  /* PCRE2 over the path (no query) */
	pcre2_code *query_re; /* optional PCRE2 over the query string, or NULL */
	int status;         /* 0 = no canned answer (delay only) */
	char *body;         /* NULL = a Status object for status */
	char *content_type; /* NULL = application/json */
	long body_repeat;   /* the body is sent this many times (>= 1) */
	long delay_ms;
	long times;         /* requests left; -1 = forever */
};

struct sim {
	cJSON *store[RES_COUNT]; /* arrays of objects (no kind/apiVersion, as in lists) */
	cJSON *logs;             /* array of {namespace,pod,container,current[],previous[]} */
	struct failure_rule *rules;
	size_t n_rules;
	cJSON *mutations;        /* array of recorded mutating requests */
	int mutations_fd;        /* --mutations, or -1 */
	bool read_only;
	uint64_t rv;             /* the cluster's resourceVersion counter */
	int64_t loaded_ms;       /* "now" of the ${now} templates */
};

struct sim_arg {
	char *name;
	char *value;
};

struct sim_request {
	const char *method;       /* "GET", "PATCH", … */
	const char *path;         /* decoded path, no query */
	const char *query;        /* raw-ish query text for the record ("" if none) */
	struct sim_arg args[SIM_MAX_ARGS];
	size_t n_args;
	const char *accept;       /* "" if none */
	const char *content_type; /* "" if none */
	const char *body;         /* NUL-terminated, may be "" */
	size_t body_len;
};

struct sim_response {
	int status;
	const char *content_type; /* static string */
	char *body;               /* owned */
	size_t body_len;
};

/* ---- scenario.c ---- */
void sim_init(struct sim *sim);
void sim_release(struct sim *sim);
/* Loads one scenario file into sim (several files merge). 0, or -1 with err set. */
int sim_load_file(struct sim *sim, const char *file, char *err, size_t errlen);
/* Fills defaults and cross references after all files are loaded. */
void sim_finish_load(struct sim *sim);
/* Replaces every ${now}, ${now-90s}, ${now+1d} … in s; returns an owned string. */
char *sim_expand_time(const char *s, int64_t now, char *err, size_t errlen);
/* Parses one failure rule object into r; 0, or -1 with err set. */
int sim_rule_parse(const cJSON *j, struct failure_rule *r, char *err, size_t errlen);
void sim_rule_release(struct failure_rule *r);
/* Next resourceVersion as a string into out (>= 24 bytes). */
void sim_next_rv(struct sim *sim, char *out, size_t outlen);
/* Finds an object by namespace (NULL for cluster scope) and name. */
cJSON *sim_find(struct sim *sim, enum res_id id, const char *ns, const char *name);
/* String at a dotted path ("metadata.name"), or NULL. */
const char *sim_str(const cJSON *obj, const char *path);
const cJSON *sim_get(const cJSON *obj, const char *path);
/* Parses an RFC 3339 value at path to ms; -1 when absent or bad. */
int64_t sim_time(const cJSON *obj, const char *path);

/* ---- api.c ---- */
void sim_handle(struct sim *sim, const struct sim_request *rq, struct sim_response *rs);
const char *sim_arg(const struct sim_request *rq, const char *name);
/* Sets rs to a Status failure. kind is the plural (details.kind), name may be NULL. */
void sim_status(struct sim_response *rs, int code, const char *reason, const char *message,
		const char *name, const char *group, const char *kind);
void sim_json_response(struct sim_response *rs, int code, const cJSON *obj);
/* `pods "x" not found` style qualified resource: "pods" or "deployments.apps". */
void sim_qualified(const struct resource *r, char *out, size_t outlen);
/* A copy of obj as a single GET answers it (with kind and apiVersion first). */
cJSON *sim_with_kind(const struct resource *r, const cJSON *obj);

/* ---- actions.c ---- */
void sim_pod_log(struct sim *sim, const struct sim_request *rq, const char *ns,
		 const char *name, struct sim_response *rs);
void sim_mutate(struct sim *sim, const struct sim_request *rq, const struct resource *r,
		const char *ns, const char *name, const char *sub, struct sim_response *rs);
/*
 * Applies the first failure rule that matches (and counts it down). Returns
 * false when none does. Otherwise *delay_ms is the delay before answering and
 * rs holds the canned answer, or rs->status == 0 when the rule only delays.
 */
bool sim_apply_rules(struct sim *sim, const char *method, const char *path, const char *query,
		     struct sim_response *rs, long *delay_ms);
/* GET/POST/DELETE /_sim/…: mutations, failures, reset. */
void sim_control(struct sim *sim, const struct sim_request *rq, struct sim_response *rs);
/* Appends one mutation record (memory and --mutations file). */
void sim_record(struct sim *sim, const struct sim_request *rq, int status);

/* ---- selectors.c ---- */
struct selector;
/* Parses a labelSelector / fieldSelector; NULL with err set on a syntax error. */
struct selector *selector_parse_labels(const char *s, char *err, size_t errlen);
struct selector *selector_parse_fields(const struct resource *r, const char *s, char *err,
				       size_t errlen);
bool selector_match(const struct selector *sel, const cJSON *obj);
void selector_free(struct selector *sel);

/* ---- table.c ---- */
/* True when the Accept header asks for a meta.k8s.io Table. */
bool table_wanted(const char *accept);
/* Builds a Table of items (array of objects of resource r) at time now. */
cJSON *table_build(const struct resource *r, const cJSON *items, const char *rv, int64_t now);
/* Kubernetes' HumanDuration of a span in ms ("5m", "2d3h", …). */
void table_age(int64_t span_ms, char *out, size_t outlen);

#endif
