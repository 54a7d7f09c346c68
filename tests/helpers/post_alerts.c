/*
 * This file contains post_alerts, a load helper for the benchmarks: it
 * POSTs N Alertmanager webhook bodies, one alert each with a distinct name
 * (PREFIX1, PREFIX2, …), one after another over one keep-alive connection,
 * and prints "NAME SEND_US STATUS DONE_US" per request: the wall-clock
 * microseconds just before the request was sent and when its answer had
 * arrived, so a benchmark can match each alert with what a test double
 * recorded later.
 *
 *   post_alerts URL TOKEN N PREFIX
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

int main(int argc, char **argv)
{
	struct curl_slist *h = NULL;
	char auth[512], body[1024];
	CURL *c;
	long n;

	if (argc != 5 || (n = strtol(argv[3], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: post_alerts URL TOKEN N PREFIX\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	for (long i = 1; i <= n; i++) {
		struct timeval tv, done;
		long status = 0;
		snprintf(
		    body, sizeof(body),
		    "{\"receiver\":\"bench\",\"status\":\"firing\",\"version\":\"4\","
		    "\"groupKey\":\"{}:{alertname=\\\"%s%ld\\\"}\",\"alerts\":[{\"status\":"
		    "\"firing\",\"labels\":{\"alertname\":\"%s%ld\",\"namespace\":\"prod-bench\","
		    "\"severity\":\"critical\"},\"annotations\":{\"summary\":\"bench %ld\"},"
		    "\"startsAt\":\"2026-11-25T12:00:00Z\",\"endsAt\":\"0001-01-01T00:00:00Z\"}]}",
		    argv[4], i, argv[4], i, i);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		gettimeofday(&tv, NULL);
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		gettimeofday(&done, NULL);
		printf("%s%ld %lld %ld %lld\n", argv[4], i,
		       (long long)tv.tv_sec * 1000000 + tv.tv_usec, status,
		       (long long)done.tv_sec * 1000000 + done.tv_usec);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return 0;
}
