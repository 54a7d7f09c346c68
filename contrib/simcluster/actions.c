/*
 * This file contains what changes the simulated cluster: the two mutations
 * nightshift may make (PATCH a deployment with a merge or strategic-merge
 * patch; DELETE a pod, honouring preconditions.uid), 403 for everything
 * under --read-only, 405 for any other mutation; the mutation record
 * (memory + JSON lines file); failure-injection rules; and the /_sim/
 * control endpoints tests use (mutations, failures).
 */
#include "simcluster.h"

#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SA_USER "system:serviceaccount:nightshift:nightshift"

static void method_not_allowed(struct sim_response *rs)
{
	sim_status(rs, 405, "MethodNotAllowed",
		   "the server does not allow this method on the requested resource", NULL, NULL,
		   NULL);
}

static const char *verb_of(const char *method, const char *name)
{
	if (strcmp(method, "DELETE") == 0)
		return name ? "delete" : "deletecollection";
	if (strcmp(method, "PATCH") == 0)
		return "patch";
	if (strcmp(method, "PUT") == 0)
		return "update";
	return "create";
}

static void forbidden(const struct sim_request *rq, const struct resource *r, const char *ns,
		      const char *name, struct sim_response *rs)
{
	char q[64], where[160] = "", *msg;
	const char *plural = r ? r->plural : "", *group = r ? r->group : "";

	if (r)
		sim_qualified(r, q, sizeof(q));
	else
		strlcpy0(q, "resources", sizeof(q));
	if (ns)
		snprintf(where, sizeof(where), " in the namespace \"%s\"", ns);
	else
		strlcpy0(where, " at the cluster scope", sizeof(where));
	msg = xasprintf("%s%s%s%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group "
			"\"%s\"%s",
			q, name ? " \"" : "", name ? name : "", name ? "\"" : "", SA_USER,
			verb_of(rq->method, name), plural, group, where);
	sim_status(rs, 403, "Forbidden", msg, name, group, plural);
	free(msg);
}

static cJSON *parse_body(const struct sim_request *rq, struct sim_response *rs)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithOpts(rq->body, &end, 1);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		sim_status(rs, 400, "BadRequest", "the request body is not a JSON object", NULL, NULL,
			   NULL);
		return NULL;
	}
	return j;
}

static bool dry_run(const struct sim_request *rq)
{
	const char *d = sim_arg(rq, "dryRun");
	return d && strcmp(d, "All") == 0;
}

static void conflict(struct sim_response *rs, const struct resource *r, const char *name,
		     const char *what, const char *want, const char *have)
{
	char q[64], *msg;
	sim_qualified(r, q, sizeof(q));
	msg = xasprintf("Operation cannot be fulfilled on %s \"%s\": Precondition failed: %s in "
			"precondition: %s, %s in object meta: %s",
			q, name, what, want, what, have ? have : "");
	sim_status(rs, 409, "Conflict", msg, name, r->group, r->plural);
	free(msg);
}

static void delete_pod(struct sim *sim, const struct sim_request *rq, const struct resource *r,
		       const char *ns, const char *name, struct sim_response *rs)
{
	cJSON *pod = sim_find(sim, RES_PODS, ns, name), *opts = NULL, *out, *meta;
	const char *want_uid = NULL, *want_rv = NULL;
	double grace;
	char stamp[32], rv[24];

	if (pod == NULL) {
		char *msg = xasprintf("pods \"%s\" not found", name);
		sim_status(rs, 404, "NotFound", msg, name, "", "pods");
		free(msg);
		return;
	}
	grace = cJSON_GetNumberValue(sim_get(pod, "spec.terminationGracePeriodSeconds"));
	if (rq->body_len > 0) {
		if ((opts = parse_body(rq, rs)) == NULL)
			return;
		want_uid = sim_str(opts, "preconditions.uid");
		want_rv = sim_str(opts, "preconditions.resourceVersion");
		if (cJSON_IsNumber(sim_get(opts, "gracePeriodSeconds")))
			grace = cJSON_GetNumberValue(sim_get(opts, "gracePeriodSeconds"));
	}
	if (sim_arg(rq, "gracePeriodSeconds"))
		grace = strtod(sim_arg(rq, "gracePeriodSeconds"), NULL);
	if (want_uid && strcmp(want_uid, sim_str(pod, "metadata.uid")) != 0) {
		conflict(rs, r, name, "UID", want_uid, sim_str(pod, "metadata.uid"));
		cJSON_Delete(opts);
		return;
	}
	if (want_rv && strcmp(want_rv, sim_str(pod, "metadata.resourceVersion")) != 0) {
		conflict(rs, r, name, "ResourceVersion", want_rv,
			 sim_str(pod, "metadata.resourceVersion"));
		cJSON_Delete(opts);
		return;
	}
	cJSON_Delete(opts);
	if (!(grace >= 0 && grace < 1e6))
		grace = 30;
	out = sim_with_kind(r, pod);
	meta = cJSON_GetObjectItemCaseSensitive(out, "metadata");
	format_time(now_ms() + (int64_t)grace * 1000, stamp, sizeof(stamp));
	cJSON_DeleteItemFromObjectCaseSensitive(meta, "deletionTimestamp");
	cJSON_DeleteItemFromObjectCaseSensitive(meta, "deletionGracePeriodSeconds");
	cJSON_AddStringToObject(meta, "deletionTimestamp", stamp);
	cJSON_AddNumberToObject(meta, "deletionGracePeriodSeconds", grace);
	if (!dry_run(rq)) {
		sim_next_rv(sim, rv, sizeof(rv));
		cJSON_ReplaceItemInObjectCaseSensitive(meta, "resourceVersion", cJSON_CreateString(rv));
		/* gone at once: a later list (kubectl delete --wait) sees no pod */
		cJSON_Delete(cJSON_DetachItemViaPointer(sim->store[RES_PODS], pod));
		log_info("event=pod_deleted namespace=%s pod=%s grace=%g", ns, name, grace);
	}
	sim_json_response(rs, 200, out);
	cJSON_Delete(out);
}

/* RFC 7386 merge of patch into target; "$…" strategic-merge directives are ignored. */
static void merge_patch(cJSON *target, const cJSON *patch)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, patch)
	{
		cJSON *t = cJSON_GetObjectItemCaseSensitive(target, p->string);
		if (p->string[0] == '$')
			continue;
		if (cJSON_IsNull(p)) {
			cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
		} else if (cJSON_IsObject(p) && cJSON_IsObject(t)) {
			merge_patch(t, p);
		} else {
			cJSON *copy = cJSON_Duplicate(p, 1);
			if (cJSON_IsObject(copy)) { /* nulls inside a new object are dropped */
				cJSON *empty = cJSON_CreateObject();
				merge_patch(empty, copy);
				cJSON_Delete(copy);
				copy = empty;
			}
			if (t)
				cJSON_ReplaceItemInObjectCaseSensitive(target, p->string, copy);
			else
				cJSON_AddItemToObject(target, p->string, copy);
		}
	}
}

static void patch_deployment(struct sim *sim, const struct sim_request *rq,
			     const struct resource *r, const char *ns, const char *name,
			     struct sim_response *rs)
{
	cJSON *dep = sim_find(sim, RES_DEPLOYMENTS, ns, name), *patch, *next, *meta, *out;
	const char *ct = rq->content_type;
	static const char *keep[] = {"name", "namespace", "uid", "creationTimestamp",
				     "resourceVersion", "generation"};
	char rv[24];
	double gen;

	if (!str_has_prefix(ct, "application/merge-patch+json") &&
	    !str_has_prefix(ct, "application/strategic-merge-patch+json")) {
		char *msg = xasprintf("the body of the request was in an unknown format - accepted "
				      "media types include: application/merge-patch+json, "
				      "application/strategic-merge-patch+json (simcluster: got \"%s\")",
				      ct);
		sim_status(rs, 415, "UnsupportedMediaType", msg, NULL, NULL, NULL);
		free(msg);
		return;
	}
	if (dep == NULL) {
		char *msg = xasprintf("deployments.apps \"%s\" not found", name);
		sim_status(rs, 404, "NotFound", msg, name, "apps", "deployments");
		free(msg);
		return;
	}
	if ((patch = parse_body(rq, rs)) == NULL)
		return;
	next = cJSON_Duplicate(dep, 1);
	merge_patch(next, patch);
	cJSON_Delete(patch);
	meta = cJSON_GetObjectItemCaseSensitive(next, "metadata");
	if (!cJSON_IsObject(meta)) {
		cJSON_DeleteItemFromObjectCaseSensitive(next, "metadata");
		meta = cJSON_AddObjectToObject(next, "metadata");
	}
	for (size_t i = 0; i < ARRAY_LEN(keep); i++) {
		const cJSON *old = sim_get(dep, "metadata");
		cJSON_DeleteItemFromObjectCaseSensitive(meta, keep[i]);
		if (cJSON_GetObjectItemCaseSensitive(old, keep[i]))
			cJSON_AddItemToObject(
				meta, keep[i],
				cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(old, keep[i]), 1));
	}
	gen = cJSON_GetNumberValue(sim_get(dep, "metadata.generation"));
	if (!cJSON_Compare(sim_get(dep, "spec"), sim_get(next, "spec"), 1))
		cJSON_ReplaceItemInObjectCaseSensitive(meta, "generation", cJSON_CreateNumber(gen + 1));
	if (!dry_run(rq)) {
		sim_next_rv(sim, rv, sizeof(rv));
		cJSON_ReplaceItemInObjectCaseSensitive(meta, "resourceVersion", cJSON_CreateString(rv));
		cJSON_ReplaceItemViaPointer(sim->store[RES_DEPLOYMENTS], dep, next);
		dep = next;
		log_info("event=deployment_patched namespace=%s deployment=%s generation=%g", ns, name,
			 cJSON_GetNumberValue(sim_get(dep, "metadata.generation")));
	}
	out = sim_with_kind(r, next);
	sim_json_response(rs, 200, out);
	cJSON_Delete(out);
	if (dep != next)
		cJSON_Delete(next);
}

void sim_mutate(struct sim *sim, const struct sim_request *rq, const struct resource *r,
		const char *ns, const char *name, const char *sub, struct sim_response *rs)
{
	if (sim->read_only) {
		forbidden(rq, r, ns, name, rs);
		return;
	}
	if (r && name && !sub && r->id == RES_PODS && ns && strcmp(rq->method, "DELETE") == 0)
		delete_pod(sim, rq, r, ns, name, rs);
	else if (r && name && !sub && r->id == RES_DEPLOYMENTS && ns &&
		 strcmp(rq->method, "PATCH") == 0)
		patch_deployment(sim, rq, r, ns, name, rs);
	else
		method_not_allowed(rs);
}

/* ---- the mutation record ---- */

void sim_record(struct sim *sim, const struct sim_request *rq, int status)
{
	cJSON *m = cJSON_CreateObject();
	char stamp[32], full[40];
	int64_t t = now_ms();
	char *line;

	format_time(t, stamp, sizeof(stamp));
	snprintf(full, sizeof(full), "%.19s.%03dZ", stamp, (int)(t % 1000));
	cJSON_AddStringToObject(m, "time", full);
	cJSON_AddStringToObject(m, "method", rq->method);
	cJSON_AddStringToObject(m, "path", rq->path);
	cJSON_AddStringToObject(m, "query", rq->query);
	cJSON_AddStringToObject(m, "content_type", rq->content_type);
	cJSON_AddStringToObject(m, "body", rq->body);
	cJSON_AddNumberToObject(m, "status", status);
	line = cJSON_PrintUnformatted(m);
	if (sim->mutations_fd >= 0 && line) {
		size_t n = strlen(line);
		line[n] = '\n'; /* one write per record; the NUL is restored below */
		if (write(sim->mutations_fd, line, n + 1) != (ssize_t)(n + 1))
			log_warn("event=mutations_write_failed");
		line[n] = '\0';
	}
	log_info("event=mutation method=%s path=%s status=%d", rq->method, rq->path, status);
	free(line);
	cJSON_AddItemToArray(sim->mutations, m);
}

/* ---- failure injection ---- */

static long num_field(const cJSON *j, const char *key, long def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	return cJSON_IsNumber(v) ? (long)v->valuedouble : def;
}

static pcre2_code *compile(const char *re, char *err, size_t errlen)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
	if (c == NULL) {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "failure rule: bad regex \"%s\" at %zu: %s", re, (size_t)off,
			 (const char *)msg);
	}
	return c;
}

/* True when re matches s; the match limit bounds a pathological pattern. */
static bool matches(const pcre2_code *re, const char *s)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	int rc;
	pcre2_set_match_limit(mc, 100000);
	rc = pcre2_match(re, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, 0, md, mc);
	pcre2_match_context_free(mc);
	pcre2_match_data_free(md);
	return rc >= 0;
}

int sim_rule_parse(const cJSON *j, struct failure_rule *r, char *err, size_t errlen)
{
	const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "path"));
	const char *query = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "query"));
	const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "body"));

	memset(r, 0, sizeof(*r));
	if (!cJSON_IsObject(j) || path == NULL) {
		snprintf(err, errlen, "a failure rule needs \"path\" (a regex)");
		return -1;
	}
	if ((r->path_re = compile(path, err, errlen)) == NULL)
		return -1;
	if (query && (r->query_re = compile(query, err, errlen)) == NULL) {
		pcre2_code_free(r->path_re);
		r->path_re = NULL;
		return -1;
	}
	r->path_src = xstrdup(path);
	r->method = xstrdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "method")));
	r->body = xstrdup(body);
	r->content_type =
		xstrdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "content_type")));
	r->status = (int)num_field(j, "status", 0);
	r->delay_ms = num_field(j, "delay_ms", 0);
	r->times = num_field(j, "times", -1);
	r->body_repeat = num_field(j, "body_repeat", 1);
	if ((r->status != 0 && (r->status < 100 || r->status > 599)) || r->delay_ms < 0 ||
	    r->delay_ms > 600000 || r->times < -1 || r->times == 0 || r->body_repeat < 1 ||
	    (body && (double)strlen(body) * (double)r->body_repeat > SIM_MAX_INJECT)) {
		snprintf(err, errlen,
			 "failure rule for \"%s\": status 100-599 or 0, delay_ms 0-600000, times -1 "
			 "or >= 1, body_repeat >= 1 and body x body_repeat <= %d bytes",
			 path, SIM_MAX_INJECT);
		sim_rule_release(r);
		return -1;
	}
	return 0;
}

static const char *reason_of(int code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "Conflict";
	case 410: return "Expired";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return "Unknown";
	}
}

bool sim_apply_rules(struct sim *sim, const char *method, const char *path, const char *query,
		     struct sim_response *rs, long *delay_ms)
{
	for (size_t i = 0; i < sim->n_rules; i++) {
		struct failure_rule *r = &sim->rules[i];
		if (r->times == 0 || (r->method && strcmp(r->method, "*") != 0 &&
				      strcasecmp(r->method, method) != 0))
			continue;
		if (!matches(r->path_re, path) || (r->query_re && !matches(r->query_re, query)))
			continue;
		if (r->times > 0)
			r->times--;
		*delay_ms = r->delay_ms;
		rs->status = r->status;
		if (r->status != 0 && r->body == NULL) {
			char *msg = xasprintf("injected failure (simcluster rule \"%s\")", r->path_src);
			sim_status(rs, r->status, reason_of(r->status), msg, NULL, NULL, NULL);
			free(msg);
		} else if (r->status != 0) {
			size_t n = strlen(r->body);
			rs->content_type = r->content_type ? r->content_type : "application/json";
			rs->body_len = n * (size_t)r->body_repeat;
			rs->body = xmalloc(rs->body_len + 1);
			for (long k = 0; k < r->body_repeat; k++)
				memcpy(rs->body + (size_t)k * n, r->body, n);
			rs->body[rs->body_len] = '\0';
		}
		log_info("event=failure_injected method=%s path=%s rule=\"%s\" status=%d delay_ms=%ld",
			 method, path, r->path_src, r->status, r->delay_ms);
		return true;
	}
	return false;
}

/* ---- /_sim/ ---- */

static void add_rules(struct sim *sim, const struct sim_request *rq, struct sim_response *rs)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithOpts(rq->body, &end, 1), *list, *res;
	const cJSON *e;
	char err[256];
	size_t added = 0;

	if (!cJSON_IsObject(j) && !cJSON_IsArray(j)) {
		cJSON_Delete(j);
		sim_status(rs, 400, "BadRequest", "expected a rule object or an array of rules", NULL,
			   NULL, NULL);
		return;
	}
	list = cJSON_IsArray(j) ? j : NULL;
	if (list == NULL) {
		list = cJSON_CreateArray();
		cJSON_AddItemReferenceToArray(list, j);
	}
	cJSON_ArrayForEach(e, list)
	{
		struct failure_rule r;
		if (sim_rule_parse(e, &r, err, sizeof(err)) < 0) {
			sim_status(rs, 400, "BadRequest", err, NULL, NULL, NULL);
			goto out;
		}
		sim->rules = xrealloc(sim->rules, (sim->n_rules + 1) * sizeof(*sim->rules));
		sim->rules[sim->n_rules++] = r;
		added++;
	}
	res = cJSON_CreateObject();
	cJSON_AddNumberToObject(res, "added", (double)added);
	cJSON_AddNumberToObject(res, "rules", (double)sim->n_rules);
	sim_json_response(rs, 200, res);
	cJSON_Delete(res);
out:
	if (list != j)
		cJSON_Delete(list);
	cJSON_Delete(j);
}

void sim_control(struct sim *sim, const struct sim_request *rq, struct sim_response *rs)
{
	bool get = strcmp(rq->method, "GET") == 0, del = strcmp(rq->method, "DELETE") == 0;
	cJSON *doc;

	if (strcmp(rq->path, "/_sim/mutations") == 0 && (get || del)) {
		if (del) {
			cJSON_Delete(sim->mutations);
			sim->mutations = cJSON_CreateArray();
		}
		doc = cJSON_CreateObject();
		cJSON_AddNumberToObject(doc, "count", cJSON_GetArraySize(sim->mutations));
		cJSON_AddItemToObject(doc, "items", cJSON_Duplicate(sim->mutations, 1));
		sim_json_response(rs, 200, doc);
		cJSON_Delete(doc);
	} else if (strcmp(rq->path, "/_sim/failures") == 0 && strcmp(rq->method, "POST") == 0) {
		add_rules(sim, rq, rs);
	} else if (strcmp(rq->path, "/_sim/failures") == 0 && (get || del)) {
		cJSON *list;
		if (del) {
			for (size_t i = 0; i < sim->n_rules; i++)
				sim_rule_release(&sim->rules[i]);
			sim->n_rules = 0;
		}
		doc = cJSON_CreateObject();
		list = cJSON_AddArrayToObject(doc, "rules");
		for (size_t i = 0; i < sim->n_rules; i++) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "method", sim->rules[i].method ? sim->rules[i].method : "*");
			cJSON_AddStringToObject(e, "path", sim->rules[i].path_src);
			cJSON_AddNumberToObject(e, "status", sim->rules[i].status);
			cJSON_AddNumberToObject(e, "delay_ms", (double)sim->rules[i].delay_ms);
			cJSON_AddNumberToObject(e, "times", (double)sim->rules[i].times);
			cJSON_AddItemToArray(list, e);
		}
		sim_json_response(rs, 200, doc);
		cJSON_Delete(doc);
	} else {
		sim_status(rs, 404, "NotFound",
			   "no such control path (GET|DELETE /_sim/mutations, GET|POST|DELETE "
			   "/_sim/failures)",
			   NULL, NULL, NULL);
	}
}
