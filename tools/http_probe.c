/*
 * This file contains the http_probe tool: one GET of an http(s) URL with the
 * call's timeout, at most 3 redirects (http and https only), reporting the
 * status, the latency and, for https, the days until the server
 * certificate's expiry (CURLOPT_CERTINFO's "Expire date"). A target that
 * fails (refused, TLS error, timeout) is a finding, written as error="…",
 * not a failed tool; a bad url argument is. A certificate that fails
 * verification (expired, self-signed, private CA) is still read, by a second
 * handshake-only connection, so its tls_days_left is reported next to the error.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tool.h"
#include "util.h"

#define BODY_MAX    (1024 * 1024)
#define URL_MAX	    2048
#define CONNECT_MAX 3000
#define DAY_MS	    (86400 * 1000LL)

/* Counts the body and stops after BODY_MAX bytes (the status is known by then). */
static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
	size_t *seen = ud, n = size * nmemb;

	(void)p;
	*seen += n;
	return *seen > BODY_MAX ? 0 : n;
}

/* Days from now until the leaf certificate's "Expire date", or INT64_MIN when unknown. */
static int64_t tls_days_left(CURL *h, int64_t now)
{
	struct curl_certinfo *ci = NULL;
	struct tm tm;
	int64_t diff;

	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL ||
	    ci->num_of_certs < 1)
		return INT64_MIN;
	for (struct curl_slist *s = ci->certinfo[0]; s != NULL; s = s->next) {
		const char *v;
		if (strncasecmp(s->data, "Expire date:", 12) != 0)
			continue;
		/* OpenSSL prints "Jan  1 00:00:00 2030 GMT". */
		memset(&tm, 0, sizeof(tm));
		v = strptime(s->data + 12, " %b %d %H:%M:%S %Y", &tm);
		if (v == NULL)
			return INT64_MIN;
		diff = (int64_t)timegm(&tm) * 1000 - now;
		return diff >= 0 ? diff / DAY_MS : -((-diff + DAY_MS - 1) / DAY_MS);
	}
	return INT64_MIN;
}

/*
 * Days left on a certificate the probe refused (expired, self-signed, private
 * CA): a second connection that only does the TLS handshake, without
 * verification, to read the leaf's expiry date. Nothing is sent over it and
 * the probe still reports the verification error. INT64_MIN when unknown.
 */
static int64_t unverified_days_left(const char *url, long timeout, int64_t now)
{
	CURL *h = curl_easy_init();
	int64_t days = INT64_MIN;

	if (h == NULL)
		return days;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < CONNECT_MAX ? timeout : CONNECT_MAX);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	if (curl_easy_perform(h) == CURLE_OK)
		days = tls_days_left(h, now);
	curl_easy_cleanup(h);
	return days;
}

/* True when url is http:// or https:// with no spaces or control characters. */
static bool url_ok(const char *url)
{
	if (strlen(url) > URL_MAX ||
	    !(strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0))
		return false;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* timeout_ms argument: a number or digits; 0 when absent; -1 when bad. */
static long timeout_arg(const cJSON *args)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, "timeout_ms");
	char *end;
	long t;

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v))
		return v->valuedouble >= 1 && v->valuedouble <= 600000 ? (long)v->valuedouble : -1;
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) > 7)
		return -1;
	t = strtol(v->valuestring, &end, 10);
	return *end == '\0' && t >= 1 ? t : -1;
}

/* Appends s with '"' as '\'' and control characters as spaces, at most 200 bytes. */
static void put_clean(struct buf *out, const char *s)
{
	for (size_t i = 0; s[i] && i < 200; i++) {
		char ch = s[i];
		buf_append(out, ch == '"' ? "'" : ((unsigned char)ch < 0x20 ? " " : &ch), 1);
	}
}

static int run_probe(struct tool_ctx *ctx, const cJSON *args, struct buf *out, char *err,
		     size_t errlen)
{
	const char *url = tool_arg(args, "url");
	long timeout = timeout_arg(args), code = 0;
	char errbuf[CURL_ERROR_SIZE] = "";
	int64_t start, days;
	size_t seen = 0;
	CURLcode rc;
	CURL *h;

	if (url == NULL || url[0] == '\0') {
		snprintf(err, errlen, "missing argument url");
		return -1;
	}
	if (!url_ok(url)) {
		snprintf(err, errlen, "url must be an http:// or https:// URL");
		return -1;
	}
	if (timeout < 0) {
		snprintf(err, errlen, "timeout_ms must be a number of milliseconds");
		return -1;
	}
	if (timeout == 0 || (ctx->timeout_ms > 0 && timeout > ctx->timeout_ms))
		timeout = ctx->timeout_ms > 0 ? ctx->timeout_ms : 10000;
	h = curl_easy_init();
	if (h == NULL) {
		snprintf(err, errlen, "cannot create a libcurl handle");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < CONNECT_MAX ? timeout : CONNECT_MAX);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "nightshift-probe");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &seen);
	start = mono_ms();
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	buf_puts(out, "probe url=");
	put_clean(out, url);
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && seen > BODY_MAX)) {
		buf_printf(out, " status=%ld latency_ms=%lld", code, (long long)(mono_ms() - start));
		days = tls_days_left(h, ctx->now_ms > 0 ? ctx->now_ms : now_ms());
		if (days != INT64_MIN)
			buf_printf(out, " tls_days_left=%lld", (long long)days);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		buf_printf(out, " error=\"timeout after %ld ms\"", timeout);
	} else {
		buf_puts(out, " error=\"");
		put_clean(out, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		buf_puts(out, "\"");
		if (rc == CURLE_PEER_FAILED_VERIFICATION) {
			days = unverified_days_left(url, timeout, ctx->now_ms > 0 ? ctx->now_ms : now_ms());
			if (days != INT64_MIN)
				buf_printf(out, " tls_days_left=%lld", (long long)days);
		}
	}
	buf_puts(out, "\n");
	curl_easy_cleanup(h);
	return 0;
}

/* clang-format off */
const struct tool http_probe_tool = {
	.name = "http_probe",
	.description = "GETs an http(s) URL once (at most 3 redirects) and reports the status, "
		"the latency and the days until the TLS certificate expires.",
	.parameters = "{\"type\":\"object\",\"properties\":{"
		"\"url\":{\"type\":\"string\"},"
		"\"timeout_ms\":{\"type\":\"string\",\"description\":\"default: the call's budget\"}},"
		"\"required\":[\"url\"]}",
	.kind = TOOL_READ,
	.run = run_probe,
};
/* clang-format on */
