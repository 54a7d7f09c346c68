/*
 * This file contains the scenario loader: it reads scenario files (JSON, see
 * README.md), expands ${now±duration} templates in every string, keeps the
 * objects per resource the way list responses carry them (no kind), merges
 * several files, and fills in what a real cluster would have set: uids,
 * resourceVersions, creationTimestamps, namespaces, owner reference uids,
 * event names and counts, pod conditions. Objects are kept sorted by
 * namespace and name, the order etcd lists them in.
 */
#include "simcluster.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_init(struct sim *sim)
{
	memset(sim, 0, sizeof(*sim));
	for (size_t i = 0; i < RES_COUNT; i++)
		sim->store[i] = cJSON_CreateArray();
	sim->logs = cJSON_CreateArray();
	sim->mutations = cJSON_CreateArray();
	sim->mutations_fd = -1;
	sim->rv = 1000;
	sim->loaded_ms = now_ms();
}

void sim_rule_release(struct failure_rule *r)
{
	free(r->method);
	free(r->path_src);
	free(r->body);
	free(r->content_type);
	pcre2_code_free(r->path_re);
	pcre2_code_free(r->query_re);
	memset(r, 0, sizeof(*r));
}

void sim_release(struct sim *sim)
{
	for (size_t i = 0; i < RES_COUNT; i++)
		cJSON_Delete(sim->store[i]);
	cJSON_Delete(sim->logs);
	cJSON_Delete(sim->mutations);
	for (size_t i = 0; i < sim->n_rules; i++)
		sim_rule_release(&sim->rules[i]);
	free(sim->rules);
	memset(sim, 0, sizeof(*sim));
}

void sim_next_rv(struct sim *sim, char *out, size_t outlen)
{
	snprintf(out, outlen, "%llu", (unsigned long long)++sim->rv);
}

/* ---- small JSON helpers ---- */

const cJSON *sim_get(const cJSON *obj, const char *path)
{
	char key[128];
	const char *p = path;

	while (obj != NULL && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		obj = cJSON_GetObjectItemCaseSensitive(obj, key);
		p += n + (dot ? 1 : 0);
	}
	return obj;
}

const char *sim_str(const cJSON *obj, const char *path)
{
	return cJSON_GetStringValue(sim_get(obj, path));
}

int64_t sim_time(const cJSON *obj, const char *path)
{
	int64_t ms;
	const char *s = sim_str(obj, path);
	if (s == NULL || parse_time_ms(s, &ms) < 0 || ms == 0)
		return -1;
	return ms;
}

/* The object at key in parent, created empty when absent (or not an object). */
static cJSON *obj_child(cJSON *parent, const char *key)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(parent, key);
	if (!cJSON_IsObject(c)) {
		cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
		c = cJSON_AddObjectToObject(parent, key);
	}
	return c;
}

static void set_default_str(cJSON *obj, const char *key, const char *value)
{
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj, key)) && value != NULL) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
		cJSON_AddStringToObject(obj, key, value);
	}
}

static void set_default_num(cJSON *obj, const char *key, double value)
{
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(obj, key))) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
		cJSON_AddNumberToObject(obj, key, value);
	}
}

cJSON *sim_find(struct sim *sim, enum res_id id, const char *ns, const char *name)
{
	cJSON *o;
	if (name == NULL)
		return NULL;
	cJSON_ArrayForEach(o, sim->store[id])
	{
		const char *n = sim_str(o, "metadata.name");
		const char *s = sim_str(o, "metadata.namespace");
		if (n && strcmp(n, name) == 0 && (ns == NULL || (s && strcmp(s, ns) == 0)))
			return o;
	}
	return NULL;
}

/* ---- ${now} templates ---- */

char *sim_expand_time(const char *s, int64_t now, char *err, size_t errlen)
{
	struct buf b;
	const char *p = s;

	buf_init(&b, SIM_MAX_BODY);
	while (*p) {
		const char *start = strstr(p, "${now");
		const char *close;
		int64_t secs = 0;
		char stamp[32];

		if (start == NULL) {
			buf_puts(&b, p);
			break;
		}
		buf_append(&b, p, (size_t)(start - p));
		close = strchr(start, '}');
		if (close == NULL) {
			snprintf(err, errlen, "unterminated ${now…} in \"%.60s\"", s);
			buf_release(&b);
			return NULL;
		}
		if (close - start > 5) {
			char dur[32];
			size_t n = (size_t)(close - start - 6);
			char sign = start[5];
			if ((sign != '-' && sign != '+') || n == 0 || n >= sizeof(dur)) {
				snprintf(err, errlen, "bad time template \"%.*s\"",
					 (int)(close - start + 1), start);
				buf_release(&b);
				return NULL;
			}
			memcpy(dur, start + 6, n);
			dur[n] = '\0';
			if (parse_duration(dur, &secs) < 0) {
				snprintf(err, errlen, "bad duration \"%s\" in a time template", dur);
				buf_release(&b);
				return NULL;
			}
			if (sign == '-')
				secs = -secs;
		}
		format_time(now + secs * 1000, stamp, sizeof(stamp));
		if (buf_puts(&b, stamp) < 0) {
			snprintf(err, errlen, "string too long after templating");
			buf_release(&b);
			return NULL;
		}
		p = close + 1;
	}
	return buf_detach(&b);
}

/* Expands templates in every string value below j. */
static int expand_tree(cJSON *j, int64_t now, char *err, size_t errlen)
{
	cJSON *c;
	if (cJSON_IsString(j) && strstr(j->valuestring, "${now") != NULL) {
		char *v = sim_expand_time(j->valuestring, now, err, errlen);
		if (v == NULL)
			return -1;
		cJSON_SetValuestring(j, v);
		free(v);
		return 0;
	}
	cJSON_ArrayForEach(c, j)
	{
		if (expand_tree(c, now, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* ---- loading ---- */

static char *read_file(const char *file, char *err, size_t errlen)
{
	FILE *f = fopen(file, "rb");
	struct buf b;
	char chunk[65536];
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", file, strerror(errno));
		return NULL;
	}
	buf_init(&b, SIM_MAX_FILE);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, n) < 0) {
			snprintf(err, errlen, "%s is over %d bytes", file, SIM_MAX_FILE);
			fclose(f);
			buf_release(&b);
			return NULL;
		}
	}
	fclose(f);
	return buf_detach(&b);
}

/* Turns a log given as one text into an array of lines (in place). */
static int normalize_lines(cJSON *entry, const char *key, char *err, size_t errlen)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, key), *arr, *c;
	if (v == NULL)
		return 0;
	if (cJSON_IsArray(v)) {
		cJSON_ArrayForEach(c, v)
		{
			if (!cJSON_IsString(c)) {
				snprintf(err, errlen, "logs: %s lines must be strings", key);
				return -1;
			}
		}
		return 0;
	}
	if (!cJSON_IsString(v)) {
		snprintf(err, errlen, "logs: %s must be a string or an array of lines", key);
		return -1;
	}
	arr = cJSON_CreateArray();
	for (const char *p = v->valuestring; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, n);
		cJSON_AddItemToArray(arr, cJSON_CreateString(line));
		free(line);
		p += n + (nl ? 1 : 0);
	}
	cJSON_ReplaceItemInObjectCaseSensitive(entry, key, arr);
	return 0;
}

static int load_rules(struct sim *sim, const cJSON *list, char *err, size_t errlen)
{
	const cJSON *j;
	cJSON_ArrayForEach(j, list)
	{
		struct failure_rule r;
		if (sim_rule_parse(j, &r, err, errlen) < 0)
			return -1;
		sim->rules = xrealloc(sim->rules, (sim->n_rules + 1) * sizeof(*sim->rules));
		sim->rules[sim->n_rules++] = r;
	}
	return 0;
}

/* Moves the objects of one list into the store; 0 or -1 with err. */
static int load_objects(struct sim *sim, const struct resource *r, cJSON *list, const char *file,
			char *err, size_t errlen)
{
	cJSON *o;
	while ((o = cJSON_DetachItemFromArray(list, 0)) != NULL) {
		const char *name = sim_str(o, "metadata.name");
		cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
		const char *ns;

		if (r->id == RES_EVENTS && cJSON_IsObject(o) && name == NULL) {
			/* named later, the way the kubelet names events */
			cJSON_AddItemToArray(sim->store[r->id], o);
			continue;
		}
		if (!cJSON_IsObject(o) || name == NULL || *name == '\0') {
			snprintf(err, errlen, "%s: an object in \"%s\" has no metadata.name", file,
				 r->key);
			cJSON_Delete(o);
			return -1;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(o, "kind");
		cJSON_DeleteItemFromObjectCaseSensitive(o, "apiVersion");
		if (r->namespaced)
			set_default_str(meta, "namespace", "default");
		else
			cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
		ns = r->namespaced ? sim_str(o, "metadata.namespace") : NULL;
		if (sim_find(sim, r->id, ns, name) != NULL) {
			if (r->namespaced) {
				snprintf(err, errlen, "%s: %s %s/%s is defined twice", file, r->plural,
					 ns, name);
				cJSON_Delete(o);
				return -1;
			}
			/* cluster-scoped (nodes, namespaces): merged scenarios share them */
			log_info("event=scenario_duplicate resource=%s name=%s file=%s kept=first",
				 r->plural, name, file);
			cJSON_Delete(o);
			continue;
		}
		cJSON_AddItemToArray(sim->store[r->id], o);
	}
	return 0;
}

static bool is_free_key(const char *k)
{
	return k[0] == '_' || strcmp(k, "name") == 0 || strcmp(k, "description") == 0 ||
	       strcmp(k, "alerts") == 0 || strcmp(k, "alert") == 0;
}

int sim_load_file(struct sim *sim, const char *file, char *err, size_t errlen)
{
	char *text = read_file(file, err, errlen);
	const char *end = NULL;
	cJSON *root, *item;
	size_t nres;
	const struct resource *res = sim_resources(&nres);
	int rc = -1;

	if (text == NULL)
		return -1;
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!cJSON_IsObject(root)) {
		size_t off = end ? (size_t)(end - text) : 0;
		snprintf(err, errlen, "%s: not a JSON object (error near byte %zu)", file, off);
		goto out;
	}
	if (expand_tree(root, sim->loaded_ms, err, errlen) < 0)
		goto out;
	cJSON_ArrayForEach(item, root)
	{
		const char *k = item->string;
		bool known = false;
		if (is_free_key(k))
			continue;
		if (!cJSON_IsArray(item)) {
			snprintf(err, errlen, "%s: \"%s\" must be an array", file, k);
			goto out;
		}
		for (size_t i = 0; i < nres && !known; i++) {
			if (res[i].key != NULL && strcmp(res[i].key, k) == 0) {
				if (load_objects(sim, &res[i], item, file, err, errlen) < 0)
					goto out;
				known = true;
			}
		}
		if (known)
			continue;
		if (strcmp(k, "logs") == 0) {
			cJSON *e;
			while ((e = cJSON_DetachItemFromArray(item, 0)) != NULL) {
				cJSON_AddItemToArray(sim->logs, e);
				if (!cJSON_IsObject(e) || sim_str(e, "pod") == NULL) {
					snprintf(err, errlen, "%s: a logs entry needs \"pod\"", file);
					goto out;
				}
				set_default_str(e, "namespace", "default");
				if (normalize_lines(e, "current", err, errlen) < 0 ||
				    normalize_lines(e, "previous", err, errlen) < 0)
					goto out;
			}
		} else if (strcmp(k, "failures") == 0) {
			if (load_rules(sim, item, err, errlen) < 0)
				goto out;
		} else {
			snprintf(err, errlen, "%s: unknown key \"%s\"", file, k);
			goto out;
		}
	}
	rc = 0;
out:
	cJSON_Delete(root);
	free(text);
	return rc;
}

/* ---- defaults ---- */

static void make_uid(const char *kind, const char *ns, const char *name, char out[37])
{
	char hex[65];
	char *key = xasprintf("%s/%s/%s", kind, ns ? ns : "", name);
	sha256_hex(key, strlen(key), hex);
	free(key);
	snprintf(out, 37, "%.8s-%.4s-4%.3s-a%.3s-%.12s", hex, hex + 8, hex + 12, hex + 15,
		 hex + 18);
}

static const struct resource *resource_of_kind(const char *kind)
{
	size_t n;
	const struct resource *res = sim_resources(&n);
	for (size_t i = 0; kind && i < n; i++)
		if (res[i].id != RES_EVENTS_V1 && strcmp(res[i].kind, kind) == 0)
			return &res[i];
	return NULL;
}

static void fill_owner_refs(struct sim *sim, cJSON *o, const char *ns)
{
	cJSON *ref;
	cJSON_ArrayForEach(ref, sim_get(o, "metadata.ownerReferences"))
	{
		const struct resource *r = resource_of_kind(sim_str(ref, "kind"));
		cJSON *owner = r ? sim_find(sim, r->id, r->namespaced ? ns : NULL,
					    sim_str(ref, "name"))
				 : NULL;
		if (r)
			set_default_str(ref, "apiVersion", sim_api_version(r));
		if (owner)
			set_default_str(ref, "uid", sim_str(owner, "metadata.uid"));
		if (!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(ref, "controller")))
			cJSON_AddBoolToObject(ref, "controller", true);
		if (!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(ref, "blockOwnerDeletion")))
			cJSON_AddBoolToObject(ref, "blockOwnerDeletion", true);
	}
}

static const char *event_component(const char *kind, const char *reason)
{
	if (reason && (strcmp(reason, "FailedScheduling") == 0 || strcmp(reason, "Scheduled") == 0))
		return "default-scheduler";
	if (kind == NULL || strcmp(kind, "Pod") == 0)
		return "kubelet";
	if (strcmp(kind, "Deployment") == 0)
		return "deployment-controller";
	if (strcmp(kind, "ReplicaSet") == 0)
		return "replicaset-controller";
	if (strcmp(kind, "Job") == 0)
		return "job-controller";
	if (strcmp(kind, "Node") == 0)
		return "node-controller";
	if (strcmp(kind, "PersistentVolumeClaim") == 0)
		return "persistentvolume-controller";
	return "kubelet";
}

/* Names an unnamed event as the kubelet does: <object>.<hex of UnixNano>. */
static void name_event(struct sim *sim, cJSON *ev, size_t index)
{
	cJSON *meta = obj_child(ev, "metadata");
	const char *obj = sim_str(ev, "involvedObject.name");
	int64_t t = sim_time(ev, "firstTimestamp");
	char *name;

	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(meta, "name")))
		return;
	if (t < 0)
		t = sim_time(ev, "lastTimestamp");
	if (t < 0)
		t = sim->loaded_ms;
	name = xasprintf("%s.%llx", obj ? obj : "event",
			 (unsigned long long)(t * 1000000LL + (int64_t)index));
	cJSON_AddStringToObject(meta, "name", name);
	free(name);
}

static void fill_event(struct sim *sim, cJSON *ev)
{
	cJSON *meta = obj_child(ev, "metadata");
	cJSON *io = obj_child(ev, "involvedObject");
	cJSON *src;
	const char *kind = sim_str(io, "kind");
	const char *ns = sim_str(meta, "namespace");
	const struct resource *r = resource_of_kind(kind);
	const char *first = sim_str(ev, "firstTimestamp");
	const char *last = sim_str(ev, "lastTimestamp");
	char stamp[32];

	set_default_str(io, "namespace", r && !r->namespaced ? NULL : ns);
	if (r) {
		cJSON *target = sim_find(sim, r->id, r->namespaced ? ns : NULL, sim_str(io, "name"));
		set_default_str(io, "apiVersion", sim_api_version(r));
		if (target) {
			set_default_str(io, "uid", sim_str(target, "metadata.uid"));
			set_default_str(io, "resourceVersion",
					sim_str(target, "metadata.resourceVersion"));
		}
	}
	format_time(sim->loaded_ms, stamp, sizeof(stamp));
	if (first == NULL)
		first = last ? last : stamp;
	set_default_str(ev, "firstTimestamp", first);
	set_default_str(ev, "lastTimestamp", sim_str(ev, "firstTimestamp"));
	set_default_str(ev, "type", "Normal");
	set_default_num(ev, "count", 1);
	if (!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(ev, "eventTime")) &&
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ev, "eventTime")))
		cJSON_AddNullToObject(ev, "eventTime");
	src = obj_child(ev, "source");
	set_default_str(src, "component", event_component(kind, sim_str(ev, "reason")));
	if (kind && strcmp(kind, "Pod") == 0 && strcmp(sim_str(src, "component"), "kubelet") == 0) {
		cJSON *pod = sim_find(sim, RES_PODS, ns, sim_str(io, "name"));
		set_default_str(src, "host", sim_str(pod, "spec.nodeName"));
	}
	set_default_str(ev, "reportingComponent", sim_str(src, "component"));
	set_default_str(ev, "reportingInstance", sim_str(src, "host") ? sim_str(src, "host") : "");
}

static bool all_ready(const cJSON *pod)
{
	const cJSON *cs;
	const cJSON *list = sim_get(pod, "status.containerStatuses");
	if (cJSON_GetArraySize(list) == 0)
		return false;
	cJSON_ArrayForEach(cs, list)
	{
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cs, "ready")))
			return false;
	}
	return true;
}

static void add_condition(cJSON *list, const char *type, bool status, const char *t)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", status ? "True" : "False");
	cJSON_AddNullToObject(c, "lastProbeTime");
	cJSON_AddStringToObject(c, "lastTransitionTime", t);
	if (!status && strcmp(type, "PodScheduled") != 0)
		cJSON_AddStringToObject(c, "reason", "ContainersNotReady");
	cJSON_AddItemToArray(list, c);
}

/* imageID and containerID as containerd reports them (stable made-up digests). */
static void fill_ids(const cJSON *pod, cJSON *cs)
{
	const char *image = sim_str(cs, "image");
	char hex[65], *key, *id;

	if (image && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cs, "imageID"))) {
		const char *colon = strrchr(image, ':');
		size_t n = colon && !strchr(colon, '/') ? (size_t)(colon - image) : strlen(image);
		sha256_hex(image, strlen(image), hex);
		id = xasprintf("%.*s@sha256:%s", (int)n, image, hex);
		cJSON_AddStringToObject(cs, "imageID", id);
		free(id);
	}
	if (sim_get(cs, "state.running") || sim_get(cs, "state.terminated") ||
	    sim_get(cs, "lastState.terminated")) {
		key = xasprintf("%s/%s/%s/%d", sim_str(pod, "metadata.namespace"),
				sim_str(pod, "metadata.name"), sim_str(cs, "name") ? sim_str(cs, "name") : "",
				(int)cJSON_GetNumberValue(cJSON_GetObjectItem(cs, "restartCount")));
		sha256_hex(key, strlen(key), hex);
		free(key);
		id = xasprintf("containerd://%s", hex);
		set_default_str(cs, "containerID", id);
		free(id);
	}
}

static void fill_pod(cJSON *pod)
{
	cJSON *spec = obj_child(pod, "spec");
	cJSON *status = obj_child(pod, "status");
	cJSON *cs, *c;
	const char *created = sim_str(pod, "metadata.creationTimestamp");

	set_default_str(spec, "restartPolicy", "Always");
	set_default_str(spec, "schedulerName", "default-scheduler");
	set_default_str(spec, "serviceAccountName", "default");
	set_default_str(spec, "dnsPolicy", "ClusterFirst");
	set_default_num(spec, "terminationGracePeriodSeconds", 30);
	set_default_str(status, "phase", "Running");
	set_default_str(status, "qosClass", "Burstable");
	if (sim_str(spec, "nodeName") && !cJSON_IsString(cJSON_GetObjectItem(status, "startTime")))
		set_default_str(status, "startTime", created);
	cJSON_ArrayForEach(cs, cJSON_GetObjectItemCaseSensitive(status, "containerStatuses"))
	{
		const char *name = sim_str(cs, "name");
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers"))
		{
			if (name && sim_str(c, "name") && strcmp(name, sim_str(c, "name")) == 0)
				set_default_str(cs, "image", sim_str(c, "image"));
		}
		set_default_num(cs, "restartCount", 0);
		fill_ids(pod, cs);
		if (!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(cs, "ready")))
			cJSON_AddBoolToObject(cs, "ready", sim_get(cs, "state.running") != NULL);
		if (!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(cs, "started")))
			cJSON_AddBoolToObject(cs, "started", sim_get(cs, "state.running") != NULL);
		obj_child(cs, "lastState");
		obj_child(cs, "state");
	}
	if (cJSON_GetObjectItemCaseSensitive(status, "conditions") == NULL) {
		cJSON *list = cJSON_AddArrayToObject(status, "conditions");
		bool ready = all_ready(pod), scheduled = sim_str(spec, "nodeName") != NULL;
		if (scheduled) {
			add_condition(list, "Initialized", true, created);
			add_condition(list, "Ready", ready, created);
			add_condition(list, "ContainersReady", ready, created);
		}
		add_condition(list, "PodScheduled", scheduled, created);
	}
}

static int cmp_objects(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	const char *nx = sim_str(x, "metadata.namespace"), *ny = sim_str(y, "metadata.namespace");
	const char *mx = sim_str(x, "metadata.name"), *my = sim_str(y, "metadata.name");
	int c = strcmp(nx ? nx : "", ny ? ny : "");
	return c ? c : strcmp(mx ? mx : "", my ? my : "");
}

static void sort_store(cJSON *arr)
{
	size_t n = (size_t)cJSON_GetArraySize(arr);
	cJSON **v = xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = cJSON_DetachItemFromArray(arr, 0);
	qsort(v, n, sizeof(*v), cmp_objects);
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, v[i]);
	free(v);
}

static void ensure_namespace(struct sim *sim, const char *ns)
{
	cJSON *o, *meta;
	if (ns == NULL || sim_find(sim, RES_NAMESPACES, NULL, ns) != NULL)
		return;
	o = cJSON_CreateObject();
	meta = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(meta, "name", ns);
	cJSON_AddItemToArray(sim->store[RES_NAMESPACES], o);
}

void sim_finish_load(struct sim *sim)
{
	char stamp[32], rv[24];
	cJSON *o;
	size_t i = 0;

	cJSON_ArrayForEach(o, sim->store[RES_EVENTS])
		name_event(sim, o, i++);
	for (int id = 0; id < RES_COUNT; id++)
		cJSON_ArrayForEach(o, sim->store[id])
			ensure_namespace(sim, sim_str(o, "metadata.namespace"));
	format_time(sim->loaded_ms - 24 * 3600 * 1000LL, stamp, sizeof(stamp));
	for (int id = 0; id < RES_COUNT; id++) {
		const struct resource *r = sim_resource_by_store((enum res_id)id);
		sort_store(sim->store[id]);
		cJSON_ArrayForEach(o, sim->store[id])
		{
			cJSON *meta = obj_child(o, "metadata");
			char uid[37];
			make_uid(r->kind, sim_str(meta, "namespace"), sim_str(meta, "name"), uid);
			set_default_str(meta, "uid", uid);
			sim_next_rv(sim, rv, sizeof(rv));
			set_default_str(meta, "resourceVersion", rv);
			set_default_str(meta, "creationTimestamp",
					id == RES_EVENTS && sim_str(o, "firstTimestamp")
						? sim_str(o, "firstTimestamp")
						: stamp);
			if (id == RES_DEPLOYMENTS || id == RES_REPLICASETS || id == RES_JOBS) {
				set_default_num(meta, "generation", 1);
				set_default_num(obj_child(o, "status"), "observedGeneration",
						cJSON_GetNumberValue(cJSON_GetObjectItem(meta, "generation")));
			}
			if (id == RES_NAMESPACES) {
				set_default_str(obj_child(o, "status"), "phase", "Active");
				set_default_str(obj_child(meta, "labels"),
						"kubernetes.io/metadata.name", sim_str(meta, "name"));
			}
		}
	}
	/* cross references need every uid first */
	for (int id = 0; id < RES_COUNT; id++)
		cJSON_ArrayForEach(o, sim->store[id])
			fill_owner_refs(sim, o, sim_str(o, "metadata.namespace"));
	cJSON_ArrayForEach(o, sim->store[RES_PODS])
		fill_pod(o);
	cJSON_ArrayForEach(o, sim->store[RES_EVENTS])
		fill_event(sim, o);
}
