/*
 * This file contains the API layer of simcluster: the resource registry, the
 * discovery documents kubectl reads before anything else (/version, /api,
 * /apis, /api/v1, /apis/GROUP/VERSION), the routing of resource paths
 * (cluster-wide, namespaced, one object, subresources), list and get with
 * label and field selectors, limit, Table output, and Status errors. It is
 * pure: a request in, a response out, no sockets.
 */
#include "simcluster.h"

#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERBS_RW "[\"create\",\"delete\",\"deletecollection\",\"get\",\"list\",\"patch\",\"update\",\"watch\"]"
#define VERBS_NODES "[\"create\",\"delete\",\"deletecollection\",\"get\",\"list\",\"patch\",\"update\",\"watch\"]"

static const struct resource registry[] = {
	{RES_NAMESPACES, "", "v1", "namespaces", "namespace", "Namespace", false, "[\"ns\"]", false,
	 "namespaces"},
	{RES_NODES, "", "v1", "nodes", "node", "Node", false, "[\"no\"]", false, "nodes"},
	{RES_PODS, "", "v1", "pods", "pod", "Pod", true, "[\"po\"]", true, "pods"},
	{RES_EVENTS, "", "v1", "events", "event", "Event", true, "[\"ev\"]", false, "events"},
	{RES_PVCS, "", "v1", "persistentvolumeclaims", "persistentvolumeclaim",
	 "PersistentVolumeClaim", true, "[\"pvc\"]", false, "persistentvolumeclaims"},
	{RES_DEPLOYMENTS, "apps", "v1", "deployments", "deployment", "Deployment", true,
	 "[\"deploy\"]", true, "deployments"},
	{RES_REPLICASETS, "apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, "[\"rs\"]",
	 true, "replicasets"},
	{RES_JOBS, "batch", "v1", "jobs", "job", "Job", true, NULL, true, "jobs"},
	{RES_EVENTS_V1, "events.k8s.io", "v1", "events", "event", "Event", true, "[\"ev\"]", false,
	 NULL},
};

static const char *groups[][2] = {
	{"apps", "v1"},
	{"batch", "v1"},
	{"events.k8s.io", "v1"},
};

const struct resource *sim_resources(size_t *n)
{
	*n = ARRAY_LEN(registry);
	return registry;
}

const struct resource *sim_resource_by_store(enum res_id id)
{
	for (size_t i = 0; i < ARRAY_LEN(registry); i++)
		if (registry[i].id == id)
			return &registry[i];
	return NULL;
}

const char *sim_api_version(const struct resource *r)
{
	static char gv[ARRAY_LEN(registry)][48];
	size_t i = (size_t)(r - registry);
	if (i >= ARRAY_LEN(registry))
		return "v1";
	if (gv[i][0] == '\0')
		snprintf(gv[i], sizeof(gv[i]), "%s%s%s", r->group, *r->group ? "/" : "", r->version);
	return gv[i];
}

void sim_qualified(const struct resource *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s%s", r->plural, *r->group ? "." : "", r->group);
}

const char *sim_arg(const struct sim_request *rq, const char *name)
{
	for (size_t i = 0; i < rq->n_args; i++)
		if (strcmp(rq->args[i].name, name) == 0)
			return rq->args[i].value;
	return NULL;
}

/* ---- responses ---- */

void sim_json_response(struct sim_response *rs, int code, const cJSON *obj)
{
	free(rs->body);
	rs->status = code;
	rs->content_type = "application/json";
	rs->body = cJSON_PrintUnformatted(obj);
	if (rs->body == NULL)
		fatal("event=oom what=json_print");
	rs->body_len = strlen(rs->body);
}

void sim_status(struct sim_response *rs, int code, const char *reason, const char *message,
		const char *name, const char *group, const char *kind)
{
	cJSON *st = cJSON_CreateObject(), *details;
	cJSON_AddStringToObject(st, "kind", "Status");
	cJSON_AddStringToObject(st, "apiVersion", "v1");
	cJSON_AddObjectToObject(st, "metadata");
	cJSON_AddStringToObject(st, "status", "Failure");
	cJSON_AddStringToObject(st, "message", message);
	cJSON_AddStringToObject(st, "reason", reason);
	details = cJSON_AddObjectToObject(st, "details");
	if (name)
		cJSON_AddStringToObject(details, "name", name);
	if (group && *group)
		cJSON_AddStringToObject(details, "group", group);
	if (kind)
		cJSON_AddStringToObject(details, "kind", kind);
	cJSON_AddNumberToObject(st, "code", code);
	sim_json_response(rs, code, st);
	cJSON_Delete(st);
}

static void not_found_path(struct sim_response *rs)
{
	sim_status(rs, 404, "NotFound", "the server could not find the requested resource", NULL,
		   NULL, NULL);
}

static void not_found(struct sim_response *rs, const struct resource *r, const char *name)
{
	char q[64], *msg;
	sim_qualified(r, q, sizeof(q));
	msg = xasprintf("%s \"%s\" not found", q, name);
	sim_status(rs, 404, "NotFound", msg, name, r->group, r->plural);
	free(msg);
}

static void bad_request(struct sim_response *rs, const char *msg)
{
	sim_status(rs, 400, "BadRequest", msg, NULL, NULL, NULL);
}

/* ---- discovery ---- */

static void add_resource_entry(cJSON *list, const struct resource *r, const char *sub,
			       const char *verbs)
{
	cJSON *e = cJSON_CreateObject();
	char *name = sub ? xasprintf("%s/%s", r->plural, sub) : xstrdup(r->plural);
	cJSON_AddStringToObject(e, "name", name);
	cJSON_AddStringToObject(e, "singularName", sub ? "" : r->singular);
	cJSON_AddBoolToObject(e, "namespaced", r->namespaced);
	cJSON_AddStringToObject(e, "kind", r->kind);
	cJSON_AddItemToObject(e, "verbs", cJSON_Parse(verbs));
	if (!sub && r->short_names)
		cJSON_AddItemToObject(e, "shortNames", cJSON_Parse(r->short_names));
	if (!sub && r->category_all)
		cJSON_AddItemToObject(e, "categories", cJSON_Parse("[\"all\"]"));
	if (!sub)
		cJSON_AddStringToObject(e, "storageVersionHash", "c0ffee00000=");
	cJSON_AddItemToArray(list, e);
	free(name);
}

static void discovery_resources(const char *group, const char *version,
				struct sim_response *rs)
{
	cJSON *doc = cJSON_CreateObject(), *list;
	char gv[64];
	bool any = false;

	snprintf(gv, sizeof(gv), "%s%s%s", group, *group ? "/" : "", version);
	cJSON_AddStringToObject(doc, "kind", "APIResourceList");
	cJSON_AddStringToObject(doc, "apiVersion", "v1");
	cJSON_AddStringToObject(doc, "groupVersion", gv);
	list = cJSON_AddArrayToObject(doc, "resources");
	for (size_t i = 0; i < ARRAY_LEN(registry); i++) {
		const struct resource *r = &registry[i];
		if (strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0)
			continue;
		any = true;
		add_resource_entry(list, r, NULL, r->id == RES_NODES ? VERBS_NODES : VERBS_RW);
		if (r->id == RES_PODS) {
			add_resource_entry(list, r, "log", "[\"get\"]");
			add_resource_entry(list, r, "status", "[\"get\",\"patch\",\"update\"]");
		}
		if (r->id == RES_DEPLOYMENTS || r->id == RES_REPLICASETS || r->id == RES_JOBS)
			add_resource_entry(list, r, "status", "[\"get\",\"patch\",\"update\"]");
		if (r->id == RES_DEPLOYMENTS || r->id == RES_REPLICASETS) {
			cJSON *e;
			add_resource_entry(list, r, "scale", "[\"get\",\"patch\",\"update\"]");
			e = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1);
			cJSON_AddStringToObject(e, "group", "autoscaling");
			cJSON_AddStringToObject(e, "version", "v1");
			cJSON_ReplaceItemInObjectCaseSensitive(e, "kind", cJSON_CreateString("Scale"));
		}
	}
	if (any)
		sim_json_response(rs, 200, doc);
	else
		not_found_path(rs);
	cJSON_Delete(doc);
}

static void discovery(const char *path, struct sim_response *rs)
{
	cJSON *doc = cJSON_CreateObject();

	if (strcmp(path, "/version") == 0) {
		cJSON_AddStringToObject(doc, "major", "1");
		cJSON_AddStringToObject(doc, "minor", "30");
		cJSON_AddStringToObject(doc, "gitVersion", "v1.30.0-simcluster");
		cJSON_AddStringToObject(doc, "gitCommit", "0000000000000000000000000000000000000000");
		cJSON_AddStringToObject(doc, "gitTreeState", "clean");
		cJSON_AddStringToObject(doc, "buildDate", "2024-04-17T00:00:00Z");
		cJSON_AddStringToObject(doc, "goVersion", "go1.22.2");
		cJSON_AddStringToObject(doc, "compiler", "gc");
		cJSON_AddStringToObject(doc, "platform", "linux/amd64");
	} else if (strcmp(path, "/api") == 0) {
		cJSON *cidrs, *c;
		cJSON_AddStringToObject(doc, "kind", "APIVersions");
		cJSON_AddItemToObject(doc, "versions", cJSON_Parse("[\"v1\"]"));
		cidrs = cJSON_AddArrayToObject(doc, "serverAddressByClientCIDRs");
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "clientCIDR", "0.0.0.0/0");
		cJSON_AddStringToObject(c, "serverAddress", "127.0.0.1:6443");
		cJSON_AddItemToArray(cidrs, c);
	} else if (strcmp(path, "/apis") == 0) {
		cJSON *list;
		cJSON_AddStringToObject(doc, "kind", "APIGroupList");
		cJSON_AddStringToObject(doc, "apiVersion", "v1");
		list = cJSON_AddArrayToObject(doc, "groups");
		for (size_t i = 0; i < ARRAY_LEN(groups); i++) {
			cJSON *g = cJSON_CreateObject(), *v = cJSON_CreateObject(), *vs;
			char gv[64];
			snprintf(gv, sizeof(gv), "%s/%s", groups[i][0], groups[i][1]);
			cJSON_AddStringToObject(g, "name", groups[i][0]);
			cJSON_AddStringToObject(v, "groupVersion", gv);
			cJSON_AddStringToObject(v, "version", groups[i][1]);
			vs = cJSON_AddArrayToObject(g, "versions");
			cJSON_AddItemToArray(vs, cJSON_Duplicate(v, 1));
			cJSON_AddItemToObject(g, "preferredVersion", v);
			cJSON_AddItemToArray(list, g);
		}
	}
	sim_json_response(rs, 200, doc);
	cJSON_Delete(doc);
}

/* ---- objects ---- */

cJSON *sim_with_kind(const struct resource *r, const cJSON *obj)
{
	cJSON *out = cJSON_CreateObject(), *c;
	cJSON_AddStringToObject(out, "kind", r->kind);
	cJSON_AddStringToObject(out, "apiVersion", sim_api_version(r));
	cJSON_ArrayForEach(c, obj)
		cJSON_AddItemToObject(out, c->string, cJSON_Duplicate(c, 1));
	return out;
}

/* A core v1 Event as events.k8s.io/v1 shows it. */
static cJSON *event_v1(const cJSON *ev)
{
	cJSON *o = cJSON_CreateObject(), *series;
	const char *t;
	double count = cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "count"));

	cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(sim_get(ev, "metadata"), 1));
	t = sim_str(ev, "eventTime");
	if (t == NULL)
		t = sim_str(ev, "firstTimestamp");
	if (t)
		cJSON_AddStringToObject(o, "eventTime", t);
	else
		cJSON_AddNullToObject(o, "eventTime");
	if (count > 1 && sim_str(ev, "lastTimestamp")) {
		series = cJSON_AddObjectToObject(o, "series");
		cJSON_AddNumberToObject(series, "count", count);
		cJSON_AddStringToObject(series, "lastObservedTime", sim_str(ev, "lastTimestamp"));
	}
	cJSON_AddStringToObject(o, "reportingController",
				sim_str(ev, "reportingComponent") ? sim_str(ev, "reportingComponent") : "");
	cJSON_AddStringToObject(o, "reportingInstance",
				sim_str(ev, "reportingInstance") ? sim_str(ev, "reportingInstance") : "");
	cJSON_AddStringToObject(o, "action", sim_str(ev, "action") ? sim_str(ev, "action") : "");
	cJSON_AddStringToObject(o, "reason", sim_str(ev, "reason") ? sim_str(ev, "reason") : "");
	cJSON_AddItemToObject(o, "regarding", cJSON_Duplicate(sim_get(ev, "involvedObject"), 1));
	cJSON_AddStringToObject(o, "note", sim_str(ev, "message") ? sim_str(ev, "message") : "");
	cJSON_AddStringToObject(o, "type", sim_str(ev, "type") ? sim_str(ev, "type") : "Normal");
	cJSON_AddItemToObject(o, "deprecatedSource", cJSON_Duplicate(sim_get(ev, "source"), 1));
	if (sim_str(ev, "firstTimestamp"))
		cJSON_AddStringToObject(o, "deprecatedFirstTimestamp", sim_str(ev, "firstTimestamp"));
	if (sim_str(ev, "lastTimestamp"))
		cJSON_AddStringToObject(o, "deprecatedLastTimestamp", sim_str(ev, "lastTimestamp"));
	cJSON_AddNumberToObject(o, "deprecatedCount", count);
	return o;
}

static cJSON *view_of(const struct resource *r, const cJSON *o)
{
	return r->id == RES_EVENTS_V1 ? event_v1(o) : cJSON_Duplicate(o, 1);
}

static enum res_id store_of(const struct resource *r)
{
	return r->id == RES_EVENTS_V1 ? RES_EVENTS : r->id;
}

static void list_objects(struct sim *sim, const struct sim_request *rq, const struct resource *r,
			 const char *ns, struct sim_response *rs)
{
	char err[256], rv[24];
	struct selector *ls = NULL, *fs = NULL;
	const char *lsel = sim_arg(rq, "labelSelector"), *fsel = sim_arg(rq, "fieldSelector");
	const char *limit_s = sim_arg(rq, "limit");
	long limit = 0;
	cJSON *items = cJSON_CreateArray(), *o, *doc;

	if (sim_arg(rq, "watch") && strcmp(sim_arg(rq, "watch"), "true") == 0) {
		sim_status(rs, 405, "MethodNotAllowed", "watch is not supported by simcluster", NULL,
			   NULL, NULL);
		cJSON_Delete(items);
		return;
	}
	if (limit_s && *limit_s) {
		char *end;
		limit = strtol(limit_s, &end, 10);
		if (*end != '\0' || limit < 0) {
			bad_request(rs, "limit must be a non-negative integer");
			cJSON_Delete(items);
			return;
		}
	}
	if (lsel && *lsel && (ls = selector_parse_labels(lsel, err, sizeof(err))) == NULL) {
		bad_request(rs, err);
		cJSON_Delete(items);
		return;
	}
	if (fsel && *fsel && (fs = selector_parse_fields(r, fsel, err, sizeof(err))) == NULL) {
		bad_request(rs, err);
		selector_free(ls);
		cJSON_Delete(items);
		return;
	}
	cJSON_ArrayForEach(o, sim->store[store_of(r)])
	{
		const char *ons = sim_str(o, "metadata.namespace");
		cJSON *v;
		if (ns && (ons == NULL || strcmp(ns, ons) != 0))
			continue;
		v = view_of(r, o);
		if ((ls && !selector_match(ls, v)) || (fs && !selector_match(fs, v))) {
			cJSON_Delete(v);
			continue;
		}
		cJSON_AddItemToArray(items, v);
		if (limit > 0 && cJSON_GetArraySize(items) >= limit)
			break; /* we never hand out a continue token: the rest is dropped */
	}
	selector_free(ls);
	selector_free(fs);
	snprintf(rv, sizeof(rv), "%llu", (unsigned long long)sim->rv);
	if (table_wanted(rq->accept)) {
		doc = table_build(r, items, rv, now_ms());
		cJSON_Delete(items);
	} else {
		char kind[64];
		doc = cJSON_CreateObject();
		snprintf(kind, sizeof(kind), "%sList", r->kind);
		cJSON_AddStringToObject(doc, "kind", kind);
		cJSON_AddStringToObject(doc, "apiVersion", sim_api_version(r));
		cJSON_AddStringToObject(cJSON_AddObjectToObject(doc, "metadata"), "resourceVersion",
					rv);
		cJSON_AddItemToObject(doc, "items", items);
	}
	sim_json_response(rs, 200, doc);
	cJSON_Delete(doc);
}

static void get_object(struct sim *sim, const struct sim_request *rq, const struct resource *r,
		       const char *ns, const char *name, struct sim_response *rs)
{
	cJSON *o = sim_find(sim, store_of(r), ns, name), *v, *doc;

	if (o == NULL) {
		not_found(rs, r, name);
		return;
	}
	v = view_of(r, o);
	if (table_wanted(rq->accept)) {
		cJSON *items = cJSON_CreateArray();
		cJSON_AddItemToArray(items, v);
		doc = table_build(r, items, sim_str(o, "metadata.resourceVersion"), now_ms());
		cJSON_Delete(items);
	} else {
		doc = sim_with_kind(r, v);
		cJSON_Delete(v);
	}
	sim_json_response(rs, 200, doc);
	cJSON_Delete(doc);
}

/* ---- routing ---- */

#define MAX_SEGS 8

/* Splits path into at most MAX_SEGS segments (in buf); returns the count or -1. */
static int split_path(const char *path, char *buf, size_t buflen, char *segs[MAX_SEGS])
{
	int n = 0;
	char *p;
	if (strlen(path) >= buflen)
		return -1;
	strlcpy0(buf, path, buflen);
	for (p = buf; *p;) {
		while (*p == '/')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (n == MAX_SEGS)
			return -1;
		segs[n++] = p;
		while (*p && *p != '/')
			p++;
	}
	return n;
}

static const struct resource *find_resource(const char *group, const char *version,
					    const char *plural)
{
	for (size_t i = 0; i < ARRAY_LEN(registry); i++)
		if (strcmp(registry[i].group, group) == 0 &&
		    strcmp(registry[i].version, version) == 0 &&
		    strcmp(registry[i].plural, plural) == 0)
			return &registry[i];
	return NULL;
}

static bool is_mutating(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 ||
	       strcmp(m, "DELETE") == 0;
}

void sim_handle(struct sim *sim, const struct sim_request *rq, struct sim_response *rs)
{
	char buf[1024];
	char *segs[MAX_SEGS];
	const char *group, *version, *ns = NULL, *name = NULL, *sub = NULL;
	const struct resource *r;
	int n = split_path(rq->path, buf, sizeof(buf), segs), i;

	if (str_has_prefix(rq->path, "/_sim/")) {
		sim_control(sim, rq, rs);
		return;
	}
	if (strcmp(rq->path, "/healthz") == 0 || strcmp(rq->path, "/readyz") == 0 ||
	    strcmp(rq->path, "/livez") == 0) {
		rs->status = 200;
		rs->content_type = "text/plain; charset=utf-8";
		rs->body = xstrdup("ok");
		rs->body_len = 2;
		return;
	}
	if (n < 0) {
		not_found_path(rs);
		return;
	}
	if (strcmp(rq->method, "GET") == 0 &&
	    (strcmp(rq->path, "/version") == 0 || strcmp(rq->path, "/api") == 0 ||
	     strcmp(rq->path, "/apis") == 0)) {
		discovery(rq->path, rs);
		return;
	}
	if (n >= 2 && strcmp(segs[0], "api") == 0) {
		group = "";
		version = segs[1];
		i = 2;
	} else if (n >= 3 && strcmp(segs[0], "apis") == 0) {
		group = segs[1];
		version = segs[2];
		i = 3;
	} else {
		not_found_path(rs);
		return;
	}
	if (i == n) {
		if (strcmp(rq->method, "GET") == 0)
			discovery_resources(group, version, rs);
		else
			sim_mutate(sim, rq, NULL, NULL, NULL, NULL, rs);
		return;
	}
	if (strcmp(segs[i], "namespaces") == 0 && n - i >= 3) {
		ns = segs[i + 1];
		i += 2;
	}
	r = find_resource(group, version, segs[i]);
	if (r == NULL || n - i > 3 || (ns && !r->namespaced)) {
		not_found_path(rs);
		return;
	}
	name = n - i >= 2 ? segs[i + 1] : NULL;
	sub = n - i == 3 ? segs[i + 2] : NULL;
	if (is_mutating(rq->method)) {
		sim_mutate(sim, rq, r, ns, name, sub, rs);
		return;
	}
	if (strcmp(rq->method, "GET") != 0) {
		sim_status(rs, 405, "MethodNotAllowed",
			   "the server does not allow this method on the requested resource", NULL,
			   NULL, NULL);
		return;
	}
	if (r->namespaced && name && ns == NULL) {
		not_found_path(rs); /* /api/v1/pods/NAME is not a path */
		return;
	}
	if (sub) {
		if (r->id == RES_PODS && strcmp(sub, "log") == 0)
			sim_pod_log(sim, rq, ns, name, rs);
		else if (strcmp(sub, "status") == 0)
			get_object(sim, rq, r, ns, name, rs);
		else
			not_found_path(rs);
		return;
	}
	if (name)
		get_object(sim, rq, r, ns, name, rs);
	else
		list_objects(sim, rq, r, ns, rs);
}
