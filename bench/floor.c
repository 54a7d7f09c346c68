/*
 * This file contains the memory floor of the benchmark (bench/run.sh): a
 * program that does nothing but load the libraries nightshift links, start
 * libcurl and an lws context the way the bot does, and print its resident
 * set. Whatever nightshift's idle RSS is above this is nightshift's own.
 */
#include <curl/curl.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	size_t n = strlen(key);

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			sscanf(line + n + 1, "%ld", &kb);
	fclose(f);
	return kb;
}

int main(void)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	long loaded = status_kb("VmRSS");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	ctx = lws_create_context(&info);
	printf("FLOOR loaded_kb=%ld started_kb=%ld anon_kb=%ld\n", loaded, status_kb("VmRSS"),
	       status_kb("RssAnon"));
	lws_context_destroy(ctx);
	curl_global_cleanup();
	return 0;
}
