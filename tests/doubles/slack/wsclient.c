/*
 * This file contains wsclient, the small Socket Mode client slackdouble's
 * self-test drives it with (a test tool, not part of the double):
 *
 *   wsclient --url ws://127.0.0.1:P/link/?ticket=T [--no-ack] [--ack-payload JSON]
 *            [--max-frames N] [--exit-on-disconnect] [--ack-fragment-bytes N]
 *            [--timeout S]
 *
 * It connects with NO Sec-WebSocket-Protocol (like Slack's SDKs; platform-
 * notes §1 #7: ccinfo.protocol = NULL, local_protocol_name picks our
 * callback), prints each received text message as one line on stdout,
 * reassembling fragments, and acks every envelope with {"envelope_id":…}
 * unless --no-ack. Status lines go to stderr, prefixed "# ". lws answers
 * server pings by itself. Exit: 0 done (N frames, or a disconnect with
 * --exit-on-disconnect), 2 connect/upgrade failed, 3 timeout, 4 the server
 * closed or dropped the connection first, 64 usage.
 *
 * Build: see tests/doubles/README.md.
 */
#include <libwebsockets.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MSG (1024 * 1024)

struct ack {
	struct ack *next;
	char *text;
	size_t len, off;
};

static struct {
	const char *ack_payload;
	bool no_ack, exit_on_disconnect;
	long max_frames, frag, timeout_s;
	long frames;
	char *rx;
	size_t rx_len;
	bool rx_overflow;
	struct ack *q_head, *q_tail;
	bool done;       /* stop after the queued acks: close with 1000 */
	bool finished;   /* the loop may end */
	int rc;
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul;
	struct timespec start;
} g = {.max_frames = -1, .timeout_s = 20, .rc = 4};

static double elapsed_s(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - g.start.tv_sec) + (double)(now.tv_nsec - g.start.tv_nsec) / 1e9;
}

static void tick(lws_sorted_usec_list_t *sul)
{
	if (elapsed_s() > (double)g.timeout_s) {
		fprintf(stderr, "# timeout after %lds\n", g.timeout_s);
		g.rc = 3;
		g.finished = true;
		return;
	}
	lws_sul_schedule(g.ctx, 0, sul, tick, 100 * LWS_US_PER_MS);
}

static void queue_ack(struct lws *wsi, const char *envelope_id)
{
	cJSON *j = cJSON_CreateObject();
	struct ack *a;
	char *s;

	cJSON_AddStringToObject(j, "envelope_id", envelope_id);
	if (g.ack_payload) {
		cJSON *p = cJSON_Parse(g.ack_payload);
		cJSON_AddItemToObject(j, "payload", p ? p : cJSON_CreateString(g.ack_payload));
	}
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (s == NULL)
		return;
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		cJSON_free(s);
		return;
	}
	a->len = strlen(s);
	a->text = s;
	if (g.q_tail)
		g.q_tail->next = a;
	else
		g.q_head = a;
	g.q_tail = a;
	lws_callback_on_writable(wsi);
}

static void on_message(struct lws *wsi)
{
	cJSON *j = cJSON_ParseWithLength(g.rx ? g.rx : "", g.rx_len);
	const char *type = j ? cJSON_GetStringValue(cJSON_GetObjectItem(j, "type")) : NULL;
	const char *env = j ? cJSON_GetStringValue(cJSON_GetObjectItem(j, "envelope_id")) : NULL;

	/* One line per message: escape the (unexpected) raw newlines. */
	for (size_t i = 0; i < g.rx_len; i++) {
		if (g.rx[i] == '\n')
			fputs("\\n", stdout);
		else
			fputc(g.rx[i], stdout);
	}
	fputc('\n', stdout);
	fflush(stdout);
	g.frames++;
	if (env && !g.no_ack)
		queue_ack(wsi, env);
	if ((g.max_frames > 0 && g.frames >= g.max_frames) ||
	    (g.exit_on_disconnect && type && strcmp(type, "disconnect") == 0)) {
		g.done = true;
		lws_callback_on_writable(wsi);
	}
	cJSON_Delete(j);
}

static int on_writeable(struct lws *wsi)
{
	struct ack *a = g.q_head;
	if (a != NULL) {
		size_t n = g.frag > 0 && a->len - a->off > (size_t)g.frag ? (size_t)g.frag
									   : a->len - a->off;
		bool start = a->off == 0, fin = a->off + n == a->len;
		unsigned char *buf = malloc(LWS_PRE + n + 1);
		if (buf == NULL)
			return -1;
		memcpy(buf + LWS_PRE, a->text + a->off, n);
		if (lws_write(wsi, buf + LWS_PRE, n,
			      (enum lws_write_protocol)lws_write_ws_flags(LWS_WRITE_TEXT, start, fin)) <
		    (int)n) {
			free(buf);
			return -1;
		}
		free(buf);
		a->off += n;
		if (fin) {
			g.q_head = a->next;
			if (g.q_head == NULL)
				g.q_tail = NULL;
			cJSON_free(a->text);
			free(a);
		}
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (g.done) {
		g.rc = 0;
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
		return -1;
	}
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fprintf(stderr, "# connect failed: %s\n", in ? (const char *)in : "(no detail)");
		g.rc = 2;
		g.finished = true;
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		fprintf(stderr, "# connected\n");
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_is_first_fragment(wsi)) {
			g.rx_len = 0;
			g.rx_overflow = false;
		}
		if (g.rx_len + len > MAX_MSG) {
			g.rx_overflow = true;
		} else if (len) {
			memcpy(g.rx + g.rx_len, in, len);
			g.rx_len += len;
		}
		if (lws_is_final_fragment(wsi) && !lws_frame_is_binary(wsi)) {
			if (g.rx_overflow)
				fprintf(stderr, "# message over %d bytes dropped\n", MAX_MSG);
			else
				on_message(wsi);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		fprintf(stderr, "# peer close code=%d\n",
			len >= 2 ? ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1]
				 : 0);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		fprintf(stderr, "# closed\n");
		g.finished = true;
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{"sd-client", callback, 0, 4096, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void usage(void)
{
	fprintf(stderr, "usage: wsclient --url ws://HOST:PORT/PATH [--no-ack] [--ack-payload JSON]\n"
			"       [--max-frames N] [--exit-on-disconnect] [--ack-fragment-bytes N]\n"
			"       [--timeout S]\n");
	exit(64);
}

static long num_arg(const char *v)
{
	char *end;
	long n;
	if (v == NULL)
		usage();
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < 0 || end == v)
		usage();
	return n;
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_client_connect_info cc;
	const char *url = NULL, *proto, *addr, *path;
	char urlbuf[2048], pathbuf[2100];
	int port;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--url") == 0 && v)
			url = argv[++i];
		else if (strcmp(a, "--no-ack") == 0)
			g.no_ack = true;
		else if (strcmp(a, "--exit-on-disconnect") == 0)
			g.exit_on_disconnect = true;
		else if (strcmp(a, "--ack-payload") == 0 && v)
			g.ack_payload = argv[++i];
		else if (strcmp(a, "--max-frames") == 0)
			g.max_frames = num_arg(v), i++;
		else if (strcmp(a, "--ack-fragment-bytes") == 0)
			g.frag = num_arg(v), i++;
		else if (strcmp(a, "--timeout") == 0)
			g.timeout_s = num_arg(v), i++;
		else
			usage();
	}
	if (url == NULL || strlen(url) >= sizeof(urlbuf))
		usage();
	memcpy(urlbuf, url, strlen(url) + 1);
	if (lws_parse_uri(urlbuf, &proto, &addr, &port, &path) || strcmp(proto, "ws") != 0) {
		fprintf(stderr, "wsclient: need a ws:// URL\n");
		return 64;
	}
	snprintf(pathbuf, sizeof(pathbuf), "/%s", path); /* lws_parse_uri drops the '/' (#12) */
	g.rx = malloc(MAX_MSG);
	if (g.rx == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(LLL_ERR, NULL);
	clock_gettime(CLOCK_MONOTONIC, &g.start);

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	g.ctx = lws_create_context(&info);
	if (g.ctx == NULL)
		return 1;
	memset(&cc, 0, sizeof(cc));
	cc.context = g.ctx;
	cc.address = addr;
	cc.port = port;
	cc.path = pathbuf;
	cc.host = addr;
	cc.origin = addr;
	cc.protocol = NULL; /* no Sec-WebSocket-Protocol, as Slack clients */
	cc.local_protocol_name = "sd-client";
	if (lws_client_connect_via_info(&cc) == NULL) {
		fprintf(stderr, "# connect failed: could not start\n");
		g.rc = 2;
		g.finished = true;
	}
	lws_sul_schedule(g.ctx, 0, &g.sul, tick, 100 * LWS_US_PER_MS);
	while (!g.finished && lws_service(g.ctx, 0) >= 0)
		;
	lws_sul_cancel(&g.sul);
	lws_context_destroy(g.ctx);
	while (g.q_head) {
		struct ack *a = g.q_head;
		g.q_head = a->next;
		cJSON_free(a->text);
		free(a);
	}
	free(g.rx);
	return g.rc;
}
