/*
 * This file contains label and field selectors as the API server reads them.
 * Labels: "a=b", "a==b", "a!=b", "a in (x,y)", "a notin (x,y)", "a" (exists),
 * "!a" (absent), comma-separated (AND). Fields: "path=v", "path==v",
 * "path!=v", comma-separated, with the per-resource field list of the real
 * server (anything else is 400 "field label not supported"). A missing field
 * compares as "", booleans as "true"/"false".
 */
#include "simcluster.h"

#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REQS   32
#define MAX_VALUES 16

enum op { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_ABSENT };

struct requirement {
	char *key;   /* label key, or the field's JSON path */
	enum op op;
	char *values[MAX_VALUES];
	size_t n_values;
	bool field;  /* compare a field, not a label */
	bool boolean; /* the field is a bool (false when absent) */
};

struct selector {
	struct requirement reqs[MAX_REQS];
	size_t n;
};

void selector_free(struct selector *sel)
{
	if (sel == NULL)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->reqs[i].key);
		for (size_t k = 0; k < sel->reqs[i].n_values; k++)
			free(sel->reqs[i].values[k]);
	}
	free(sel);
}

static char *trimmed(const char *p, size_t n)
{
	while (n && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	return xstrndup(p, n);
}

static bool valid_label_part(const char *s, bool value)
{
	if (*s == '\0')
		return value;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_./", *s))
			return false;
	return true;
}

/* Parses one label requirement text into q. */
static int parse_label_req(const char *t, struct requirement *q, char *err, size_t errlen)
{
	const char *op;
	while (isspace((unsigned char)*t))
		t++;
	if (*t == '!') {
		q->op = OP_ABSENT;
		q->key = trimmed(t + 1, strlen(t + 1));
		goto check_key;
	}
	if ((op = strstr(t, "!=")) != NULL) {
		q->op = OP_NE;
	} else if ((op = strchr(t, '=')) != NULL) {
		q->op = OP_EQ;
	} else {
		const char *sp = t;
		while (*sp && !isspace((unsigned char)*sp))
			sp++;
		q->key = xstrndup(t, (size_t)(sp - t));
		while (isspace((unsigned char)*sp))
			sp++;
		if (*sp == '\0') {
			q->op = OP_EXISTS;
			goto check_key;
		}
		if (str_has_prefix(sp, "notin")) {
			q->op = OP_NOTIN;
			sp += 5;
		} else if (str_has_prefix(sp, "in")) {
			q->op = OP_IN;
			sp += 2;
		} else {
			snprintf(err, errlen, "unable to parse requirement: \"%.80s\"", t);
			return -1;
		}
		while (isspace((unsigned char)*sp))
			sp++;
		if (*sp != '(' || sp[strlen(sp) - 1] != ')') {
			snprintf(err, errlen, "unable to parse requirement: expected '(' in \"%.80s\"",
				 t);
			return -1;
		}
		for (const char *v = sp + 1; v < sp + strlen(sp) - 1;) {
			const char *c = strchr(v, ',');
			const char *e = (c && c < sp + strlen(sp) - 1) ? c : sp + strlen(sp) - 1;
			if (q->n_values == MAX_VALUES) {
				snprintf(err, errlen, "too many values in \"%.80s\"", t);
				return -1;
			}
			q->values[q->n_values++] = trimmed(v, (size_t)(e - v));
			v = e + 1;
		}
		goto check_key;
	}
	q->key = trimmed(t, (size_t)(op - t));
	op += (q->op == OP_NE || op[1] == '=') ? 2 : 1;
	q->values[q->n_values++] = trimmed(op, strlen(op));
	if (!valid_label_part(q->values[0], true)) {
		snprintf(err, errlen, "invalid label value: \"%.80s\"", q->values[0]);
		return -1;
	}
check_key:
	if (*q->key == '\0' || !valid_label_part(q->key, false)) {
		snprintf(err, errlen, "invalid label key \"%.80s\"", q->key);
		return -1;
	}
	return 0;
}

struct selector *selector_parse_labels(const char *s, char *err, size_t errlen)
{
	struct selector *sel = xcalloc(1, sizeof(*sel));
	const char *p = s;

	if (strlen(s) > 4096) {
		snprintf(err, errlen, "labelSelector too long");
		free(sel);
		return NULL;
	}
	while (*p) {
		int depth = 0;
		const char *e = p;
		char *t;
		while (*e && (*e != ',' || depth > 0)) {
			depth += *e == '(' ? 1 : *e == ')' ? -1 : 0;
			e++;
		}
		if (sel->n == MAX_REQS) {
			snprintf(err, errlen, "too many requirements in labelSelector");
			selector_free(sel);
			return NULL;
		}
		t = trimmed(p, (size_t)(e - p));
		if (*t != '\0' &&
		    parse_label_req(t, &sel->reqs[sel->n++], err, errlen) < 0) {
			free(t);
			selector_free(sel);
			return NULL;
		}
		free(t);
		p = *e ? e + 1 : e;
	}
	return sel;
}

/* ---- fields ---- */

struct field_map {
	enum res_id res;
	const char *label;   /* as written in the selector */
	const char *path;    /* where it is in the object (as served) */
	bool boolean;
};

static const struct field_map fields[] = {
	{RES_PODS, "spec.nodeName", "spec.nodeName", false},
	{RES_PODS, "spec.restartPolicy", "spec.restartPolicy", false},
	{RES_PODS, "spec.schedulerName", "spec.schedulerName", false},
	{RES_PODS, "spec.serviceAccountName", "spec.serviceAccountName", false},
	{RES_PODS, "spec.hostNetwork", "spec.hostNetwork", true},
	{RES_PODS, "status.phase", "status.phase", false},
	{RES_PODS, "status.podIP", "status.podIP", false},
	{RES_PODS, "status.nominatedNodeName", "status.nominatedNodeName", false},
	{RES_EVENTS, "involvedObject.kind", "involvedObject.kind", false},
	{RES_EVENTS, "involvedObject.namespace", "involvedObject.namespace", false},
	{RES_EVENTS, "involvedObject.name", "involvedObject.name", false},
	{RES_EVENTS, "involvedObject.uid", "involvedObject.uid", false},
	{RES_EVENTS, "involvedObject.apiVersion", "involvedObject.apiVersion", false},
	{RES_EVENTS, "involvedObject.resourceVersion", "involvedObject.resourceVersion", false},
	{RES_EVENTS, "involvedObject.fieldPath", "involvedObject.fieldPath", false},
	{RES_EVENTS, "reason", "reason", false},
	{RES_EVENTS, "reportingComponent", "reportingComponent", false},
	{RES_EVENTS, "source", "source.component", false},
	{RES_EVENTS, "type", "type", false},
	{RES_EVENTS_V1, "regarding.kind", "regarding.kind", false},
	{RES_EVENTS_V1, "regarding.namespace", "regarding.namespace", false},
	{RES_EVENTS_V1, "regarding.name", "regarding.name", false},
	{RES_EVENTS_V1, "regarding.uid", "regarding.uid", false},
	{RES_EVENTS_V1, "regarding.apiVersion", "regarding.apiVersion", false},
	{RES_EVENTS_V1, "regarding.resourceVersion", "regarding.resourceVersion", false},
	{RES_EVENTS_V1, "regarding.fieldPath", "regarding.fieldPath", false},
	{RES_EVENTS_V1, "involvedObject.kind", "regarding.kind", false},
	{RES_EVENTS_V1, "involvedObject.namespace", "regarding.namespace", false},
	{RES_EVENTS_V1, "involvedObject.name", "regarding.name", false},
	{RES_EVENTS_V1, "involvedObject.uid", "regarding.uid", false},
	{RES_EVENTS_V1, "reason", "reason", false},
	{RES_EVENTS_V1, "reportingController", "reportingController", false},
	{RES_EVENTS_V1, "type", "type", false},
	{RES_NODES, "spec.unschedulable", "spec.unschedulable", true},
	{RES_NAMESPACES, "status.phase", "status.phase", false},
};

static const struct field_map *field_of(const struct resource *r, const char *label)
{
	static const struct field_map meta[] = {
		{RES_COUNT, "metadata.name", "metadata.name", false},
		{RES_COUNT, "metadata.namespace", "metadata.namespace", false},
	};
	for (size_t i = 0; i < ARRAY_LEN(meta); i++)
		if (strcmp(meta[i].label, label) == 0)
			return &meta[i];
	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		if (fields[i].res == r->id && strcmp(fields[i].label, label) == 0)
			return &fields[i];
	return NULL;
}

/* Copies a field selector term up to an unescaped ',' into out, unescaping. */
static const char *field_term(const char *p, struct buf *out)
{
	for (; *p && *p != ','; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			if (*p != ',' && *p != '=' && *p != '\\' && *p != '!')
				buf_append(out, "\\", 1);
		}
		buf_append(out, p, 1);
	}
	return p;
}

struct selector *selector_parse_fields(const struct resource *r, const char *s, char *err,
				       size_t errlen)
{
	struct selector *sel = xcalloc(1, sizeof(*sel));
	const char *p = s;

	while (*p) {
		struct buf t;
		struct requirement *q;
		const struct field_map *f;
		char *op, *key;

		buf_init(&t, 4096);
		p = field_term(p, &t);
		p = *p ? p + 1 : p;
		if (t.len == 0) {
			buf_release(&t);
			continue;
		}
		if (sel->n == MAX_REQS) {
			snprintf(err, errlen, "too many requirements in fieldSelector");
			buf_release(&t);
			selector_free(sel);
			return NULL;
		}
		q = &sel->reqs[sel->n++];
		q->field = true;
		if ((op = strstr(t.data, "!=")) != NULL) {
			q->op = OP_NE;
			key = trimmed(t.data, (size_t)(op - t.data));
			op += 2;
		} else if ((op = strchr(t.data, '=')) != NULL) {
			q->op = OP_EQ;
			key = trimmed(t.data, (size_t)(op - t.data));
			op += op[1] == '=' ? 2 : 1;
		} else {
			snprintf(err, errlen, "invalid selector: '%.80s'; can't understand '%.80s'", s,
				 t.data);
			buf_release(&t);
			selector_free(sel);
			return NULL;
		}
		f = field_of(r, key);
		if (f == NULL) {
			snprintf(err, errlen, "field label not supported: %.80s", key);
			free(key);
			buf_release(&t);
			selector_free(sel);
			return NULL;
		}
		free(key);
		q->key = xstrdup(f->path);
		q->boolean = f->boolean;
		q->values[q->n_values++] = xstrdup(op);
		buf_release(&t);
	}
	return sel;
}

/* The compared text of a requirement's subject in obj; NULL when absent. */
static const char *subject(const struct requirement *q, const cJSON *obj, char *tmp, size_t n)
{
	const cJSON *v;
	if (!q->field) {
		v = cJSON_GetObjectItemCaseSensitive(sim_get(obj, "metadata.labels"), q->key);
		return cJSON_GetStringValue(v);
	}
	v = sim_get(obj, q->key);
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsBool(v) || (v == NULL && q->boolean))
		return cJSON_IsTrue(v) ? "true" : "false";
	if (cJSON_IsNumber(v)) {
		snprintf(tmp, n, "%lld", (long long)v->valuedouble);
		return tmp;
	}
	return "";
}

bool selector_match(const struct selector *sel, const cJSON *obj)
{
	for (size_t i = 0; i < sel->n; i++) {
		const struct requirement *q = &sel->reqs[i];
		char tmp[32];
		const char *have = subject(q, obj, tmp, sizeof(tmp));
		bool in = false;
		for (size_t k = 0; have && k < q->n_values; k++)
			in = in || strcmp(have, q->values[k]) == 0;
		switch (q->op) {
		case OP_EQ:
		case OP_IN:
			if (!in)
				return false;
			break;
		case OP_NE:
		case OP_NOTIN:
			if (in)
				return false;
			break;
		case OP_EXISTS:
			if (have == NULL)
				return false;
			break;
		case OP_ABSENT:
			if (have != NULL)
				return false;
			break;
		}
	}
	return true;
}
