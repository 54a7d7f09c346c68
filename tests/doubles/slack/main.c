/*
 * This file contains slackdouble's entry point: the command line, the lws
 * context with one loopback vhost (HTTP first, the Socket Mode protocol
 * marked "default" for upgrades that name no subprotocol — platform-notes
 * §1 #6), the 20 ms tick that drives redelivery, pings and delayed replies,
 * and a clean stop on SIGTERM/SIGINT.
 */
#include "sd.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t got_stop;

static void on_signal(int sig)
{
	(void)sig;
	got_stop = 1;
}

struct sd *sd_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void lws_log_emit(int level, const char *line)
{
	size_t n = strcspn(line, "\n");
	if (level & LLL_ERR)
		log_error("event=lws message=\"%.*s\"", (int)n, line);
	else
		log_warnx("event=lws message=\"%.*s\"", (int)n, line);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: slackdouble --listen 127.0.0.1:PORT [options]\n"
		"  --listen HOST:PORT      loopback address; PORT 0 picks a free port\n"
		"  --ready-file F          write the bound port to F once listening\n"
		"  --log FILE.jsonl        append every record as one JSON line\n"
		"  --app-token T           app-level token (default xapp-test)\n"
		"  --bot-token T           bot token (default xoxb-test)\n"
		"  --channels C1,C2        channels that exist (default C1,C2,C3,C0123)\n"
		"  --ack-timeout-ms N      redeliver unacked envelopes after N ms (default 3000)\n"
		"  --max-retries N         redeliveries per envelope (default 3)\n"
		"  --ping-ms N             server ping interval, 0 = off (default 5000)\n"
		"  --pacing-ms N           429 chat.postMessage faster than 1/N ms per channel\n"
		"  --max-connections N     sockets before too_many_websockets (default 10)\n"
		"  --connection-time S     hello approximate_connection_time (default 3600)\n"
		"  --echo-bot-messages     echo chat.postMessage as message events\n"
		"  --verbose               debug logging on stderr\n");
}

/* Parses a decimal int in [lo, hi]; -1 when it is not one. */
static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;
	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* "127.0.0.1:0", "localhost:8080", "[::1]:0" -> host, port; loopback only. */
static int parse_listen(const char *s, struct sd_config *cfg)
{
	const char *colon = strrchr(s, ':');
	struct in_addr a4;
	size_t hl;

	if (colon == NULL || parse_int(colon + 1, 0, 65535, &cfg->port) < 0)
		return -1;
	hl = (size_t)(colon - s);
	if (hl > 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(cfg->host))
		return -1;
	memcpy(cfg->host, s, hl);
	cfg->host[hl] = '\0';
	if (strcmp(cfg->host, "localhost") == 0)
		strlcpy0(cfg->host, "127.0.0.1", sizeof(cfg->host));
	if (strcmp(cfg->host, "::1") == 0)
		return 0;
	if (inet_pton(AF_INET, cfg->host, &a4) != 1)
		return -1;
	return (ntohl(a4.s_addr) >> 24) == 127 ? 0 : -1;
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	struct sd *d = lws_container_of(sul, struct sd, tick);
	int64_t mono = mono_ms();

	env_tick(d, mono);
	sm_tick(d, mono);
	http_tick(d, mono);
	lws_sul_schedule(d->ctx, 0, &d->tick, tick_cb, SD_TICK_MS * LWS_US_PER_MS);
}

static void write_ready_file(const char *path, int port)
{
	char tmp[4096];
	FILE *f;
	if (path == NULL)
		return;
	/* Written whole then renamed, so a poller never reads a half-written port. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		fatal("event=ready_file_path_too_long");
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
		fatal("event=ready_file_failed path=%s", path);
}

static int parse_args(int argc, char **argv, struct sd_config *cfg)
{
	bool have_listen = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int *num = NULL;
		int lo = 0, hi = 1000000000;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--echo-bot-messages") == 0) {
			cfg->echo_bot_messages = true;
			continue;
		} else if (strcmp(a, "--verbose") == 0) {
			log_set_level(LOG_DEBUG);
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "slackdouble: %s needs a value (or is unknown)\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--listen") == 0) {
			if (parse_listen(v, cfg) < 0) {
				fprintf(stderr, "slackdouble: --listen %s: need a loopback HOST:PORT\n",
					v);
				return -1;
			}
			have_listen = true;
		} else if (strcmp(a, "--ready-file") == 0) {
			cfg->ready_file = v;
		} else if (strcmp(a, "--log") == 0) {
			cfg->log_file = v;
		} else if (strcmp(a, "--app-token") == 0) {
			cfg->app_token = v;
		} else if (strcmp(a, "--bot-token") == 0) {
			cfg->bot_token = v;
		} else if (strcmp(a, "--channels") == 0) {
			free(cfg->channels);
			cfg->channels = xstrdup(v);
		} else if (strcmp(a, "--ack-timeout-ms") == 0) {
			num = &cfg->ack_timeout_ms;
			lo = 1;
		} else if (strcmp(a, "--max-retries") == 0) {
			num = &cfg->max_retries;
			hi = 100;
		} else if (strcmp(a, "--ping-ms") == 0) {
			num = &cfg->ping_interval_ms;
		} else if (strcmp(a, "--pacing-ms") == 0) {
			num = &cfg->pacing_ms;
		} else if (strcmp(a, "--max-connections") == 0) {
			num = &cfg->max_connections;
			lo = 1;
			hi = SD_MAX_CONNS - 1;
		} else if (strcmp(a, "--connection-time") == 0) {
			num = &cfg->connection_time_s;
		} else {
			fprintf(stderr, "slackdouble: unknown option %s\n", a);
			return -1;
		}
		if (num != NULL && parse_int(v, lo, hi, num) < 0) {
			fprintf(stderr, "slackdouble: %s %s: need an integer in [%d, %d]\n", a, v, lo,
				hi);
			return -1;
		}
	}
	if (!have_listen) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct lws_protocol_vhost_options pvo_default = {NULL, NULL, "default", "1"};
	static const struct lws_protocol_vhost_options pvo = {NULL, &pvo_default,
							      "slack-socket-mode", ""};
	struct lws_protocols protos[3];
	struct lws_context_creation_info info;
	struct sigaction sa;
	struct sd *d = xcalloc(1, sizeof(*d));
	int rc = 1;

	d->cfg.app_token = "xapp-test";
	d->cfg.bot_token = "xoxb-test";
	d->cfg.ack_timeout_ms = 3000;
	d->cfg.max_retries = 3;
	d->cfg.ping_interval_ms = 5000;
	d->cfg.max_connections = 10;
	d->cfg.connection_time_s = 3600;
	d->cfg.channels = xstrdup("C1,C2,C3,C0123");
	if (parse_args(argc, argv, &d->cfg) < 0) {
		free(d->cfg.channels);
		free(d);
		return 2;
	}
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	slack_init(d);
	d->fail_rules = cJSON_CreateArray();
	if (record_open(d) < 0)
		goto out;

	protos[0] = sd_http_protocol;
	protos[1] = sd_ws_protocol;
	memset(&protos[2], 0, sizeof(protos[2]));

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.user = d;
	info.max_http_header_data = 16384;
	d->ctx = lws_create_context(&info);
	if (d->ctx == NULL) {
		log_error("event=lws_context_failed");
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.vhost_name = "slackdouble";
	info.protocols = protos;
	info.pvo = &pvo;
	info.port = d->cfg.port;
	info.iface = d->cfg.host;
	if (strchr(d->cfg.host, ':') == NULL) /* else lws binds every interface (pitfall 1) */
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.keepalive_timeout = 65;
	info.timeout_secs = 30;
	d->vh = lws_create_vhost(d->ctx, &info);
	if (d->vh == NULL) {
		log_error("event=listen_failed address=%s:%d", d->cfg.host, d->cfg.port);
		goto out;
	}
	d->port = lws_get_vhost_listen_port(d->vh);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lws_sul_schedule(d->ctx, 0, &d->tick, tick_cb, SD_TICK_MS * LWS_US_PER_MS);
	log_info("event=listening address=%s:%d", d->cfg.host, d->port);
	write_ready_file(d->cfg.ready_file, d->port);

	while (!got_stop && lws_service(d->ctx, 0) >= 0)
		;
	log_info("event=stopping");
	d->stopping = true;
	rc = 0;
out:
	if (d->ctx) {
		lws_sul_cancel(&d->tick);
		lws_context_destroy(d->ctx); /* closes sockets: CLOSED callbacks free conns */
	}
	http_shutdown(d);
	sm_shutdown(d);
	env_reset(d);
	record_close(d);
	slack_free(d);
	cJSON_Delete(d->fail_rules);
	free(d->cfg.channels);
	free(d);
	return rc;
}
