/*
 * This file contains failure scripting (POST /_control/fail): rules such as
 * {"method":"chat.postMessage","status":429,"retry_after":2,"times":1},
 * {"ok_false":"channel_not_found"}, {"delay_ms":4000} or {"drop":true}, each
 * used up by the next `times` calls of that method ("*" matches any method;
 * "socket_mode.connect" matches WebSocket upgrades; times <= 0 never runs out).
 */
#include "sd.h"

#include <stdlib.h>
#include <string.h>

cJSON *fail_body(const char *error)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "ok", false);
	cJSON_AddStringToObject(j, "error", error);
	return j;
}

static void set_field(cJSON *obj, const char *key, cJSON *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	cJSON_AddItemToObject(obj, key, v);
}

int fail_add(struct sd *d, const cJSON *rule, const char **err)
{
	const char *m = jstr(rule, "method");
	long long status = jint(rule, "status", 0);
	cJSON *copy;

	if (str_empty(m)) {
		*err = "method (a Web API method, \"socket_mode.connect\" or \"*\") is required";
		return -1;
	}
	if (status != 0 && (status < 100 || status > 599)) {
		*err = "status must be an HTTP status";
		return -1;
	}
	if (status == 0 && jstr(rule, "ok_false") == NULL && !jbool(rule, "drop", false) &&
	    jint(rule, "delay_ms", 0) <= 0) {
		*err = "one of status, ok_false, drop, delay_ms is required";
		return -1;
	}
	if (jint(rule, "delay_ms", 0) < 0 || jint(rule, "delay_ms", 0) > 600000 ||
	    jint(rule, "retry_after", 0) < 0) {
		*err = "delay_ms must be 0..600000 and retry_after >= 0";
		return -1;
	}
	copy = cJSON_Duplicate(rule, 1);
	set_field(copy, "remaining", cJSON_CreateNumber((double)jint(rule, "times", 1)));
	cJSON_AddItemToArray(d->fail_rules, copy);
	return 0;
}

cJSON *fail_take(struct sd *d, const char *method)
{
	cJSON *rule;
	cJSON_ArrayForEach(rule, d->fail_rules)
	{
		const char *m = jstr(rule, "method");
		long long left = jint(rule, "remaining", 1);
		if (m == NULL || (strcmp(m, method) != 0 && strcmp(m, "*") != 0))
			continue;
		if (left <= 0) /* times <= 0: until /_control/fail {"clear":true} or reset */
			return cJSON_Duplicate(rule, 1);
		if (left == 1)
			return cJSON_DetachItemViaPointer(d->fail_rules, rule);
		set_field(rule, "remaining", cJSON_CreateNumber((double)(left - 1)));
		return cJSON_Duplicate(rule, 1);
	}
	return NULL;
}

/* Applies a scripted failure; true when it decided the answer. */
bool fail_apply(const cJSON *rule, struct reply *r, cJSON **body)
{
	long long status = jint(rule, "status", 0);
	const char *okf = jstr(rule, "ok_false");
	r->delay_ms = (int)jint(rule, "delay_ms", 0);
	r->retry_after = (int)jint(rule, "retry_after", 0);
	if (jbool(rule, "drop", false)) {
		r->drop = true;
		return true;
	}
	if (status == 429) {
		r->status = 429;
		if (r->retry_after <= 0 && cJSON_GetObjectItemCaseSensitive(rule, "retry_after") == NULL)
			r->retry_after = 1;
		*body = fail_body(okf ? okf : "ratelimited");
		return true;
	}
	if (status != 0 && status != 200) {
		r->status = (int)status;
		r->content_type = "text/plain";
		r->body = xstrdup(jstr(rule, "body") ? jstr(rule, "body")
						     : "slackdouble: scripted HTTP error\n");
		return true;
	}
	if (okf != NULL) {
		*body = fail_body(okf);
		return true;
	}
	return false; /* delay only: answer normally, later */
}
