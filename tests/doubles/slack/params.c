/*
 * This file contains request-parameter helpers: url-decoding of query strings
 * and application/x-www-form-urlencoded bodies into cJSON objects of strings,
 * body parsing by Content-Type, random uuids, and small cJSON accessors.
 */
#include "sd.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes s[0..n) ('+' is a space, %XX a byte) into a new string. */
static char *urldecode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
			   hexval((unsigned char)s[i + 2]) >= 0) {
			out[o++] = (char)(hexval((unsigned char)s[i + 1]) * 16 +
					  hexval((unsigned char)s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

cJSON *params_parse_form(const char *s, size_t len)
{
	cJSON *obj = cJSON_CreateObject();
	size_t i = 0;

	while (s != NULL && i < len) {
		size_t start = i, eq = (size_t)-1;
		char *k, *v;
		while (i < len && s[i] != '&') {
			if (s[i] == '=' && eq == (size_t)-1)
				eq = i;
			i++;
		}
		if (i > start) {
			if (eq == (size_t)-1) {
				k = urldecode(s + start, i - start);
				v = xstrdup("");
			} else {
				k = urldecode(s + start, eq - start);
				v = urldecode(s + eq + 1, i - eq - 1);
			}
			cJSON_DeleteItemFromObjectCaseSensitive(obj, k);
			cJSON_AddStringToObject(obj, k, v);
			free(k);
			free(v);
		}
		i++; /* the '&' */
	}
	return obj;
}

cJSON *params_parse_body(const char *ctype, const char *body, size_t len, const char **err)
{
	cJSON *j;
	*err = NULL;
	if (len == 0)
		return cJSON_CreateObject();
	if (ctype != NULL && strncasecmp(ctype, "application/json", 16) == 0) {
		j = cJSON_ParseWithLength(body, len);
		if (j == NULL || !cJSON_IsObject(j)) {
			cJSON_Delete(j);
			*err = "invalid_json";
			return NULL;
		}
		return j;
	}
	/* Form, or no/odd Content-Type: Slack reads those as form fields too. */
	return params_parse_form(body, len);
}

void make_uuid(char out[37])
{
	unsigned char b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n <= 0) {
			/* Cannot happen on Linux >= 3.17 for 16 bytes; fall back anyway. */
			for (; got < sizeof(b); got++)
				b[got] = (unsigned char)random();
			break;
		}
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
}

const char *jstr(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

long long jint(const cJSON *obj, const char *key, long long dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsNumber(v))
		return (long long)v->valuedouble;
	if (cJSON_IsString(v) && v->valuestring[0] != '\0') {
		char *end;
		long long n = strtoll(v->valuestring, &end, 10);
		if (*end == '\0')
			return n;
	}
	return dflt;
}

bool jbool(const cJSON *obj, const char *key, bool dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	if (cJSON_IsString(v))
		return strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "1") == 0;
	if (cJSON_IsNumber(v))
		return v->valuedouble != 0;
	return dflt;
}

char *json_print(const cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	char *out;
	if (s == NULL)
		return xstrdup("null");
	out = xstrdup(s);
	cJSON_free(s);
	return out;
}
