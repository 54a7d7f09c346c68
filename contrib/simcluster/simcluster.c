/*
 * This file contains simcluster's main: the command line, the loopback-only
 * libwebsockets HTTP server, and the life of one request (read headers and
 * query, collect the body up to 1 MiB, apply failure rules with their delay
 * on an lws_sul timer, hand the request to sim_handle(), record mutations,
 * write the answer in 64 KiB pieces).
 *
 *   simcluster --listen 127.0.0.1:PORT --scenario FILE.json [--scenario …]
 *              [--mutations FILE.jsonl] [--ready-file F] [--read-only]
 *              [--token FILE] [--tls-cert FILE --tls-key FILE]
 *              [--log-level debug|info|warn|error]
 *
 * --token FILE makes every API request need "Authorization: Bearer <the
 * file's content>" (401 otherwise); the file is read on every request so a
 * test can rotate it. --tls-cert/--tls-key serve https instead of http.
 *
 * lws 4.1.6 pitfalls handled (platform-notes §1): an IPv4 iface binds every
 * interface unless IPv6 is disabled; a POST without Content-Length never
 * completes (answered at once); chunked bodies are not decoded (411);
 * writeable callbacks may come unasked (resp_ready guard).
 */
#include "simcluster.h"

#include "log.h"
#include "util.h"

#include <libwebsockets.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK          65536
#define BODY_TIMEOUT_S 30

struct session {
	struct lws *wsi;
	char method[8];
	char *path;
	char *accept;
	char *authorization;
	char *content_type;
	struct buf query;
	struct sim_request rq;
	struct buf body;
	bool awaiting_body;
	bool discard;      /* the answer is known; drop the body */
	bool resp_ready;
	bool headers_sent;
	bool close_after;
	bool canned;       /* a failure rule gave the answer */
	bool sul_armed;
	struct sim_response resp;
	size_t sent;
	int64_t started_ms;
	lws_sorted_usec_list_t sul;
};

static struct lws_context *volatile g_ctx;
static volatile sig_atomic_t g_stop;
static const char *g_token_file; /* --token: the bearer token required, re-read per request */
static unsigned char g_wbuf[LWS_PRE + CHUNK];

static struct sim *sim_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void session_reset(struct session *s)
{
	if (s->sul_armed)
		lws_sul_cancel(&s->sul);
	free(s->path);
	free(s->accept);
	free(s->authorization);
	free(s->content_type);
	buf_release(&s->query);
	buf_release(&s->body);
	for (size_t i = 0; i < s->rq.n_args; i++) {
		free(s->rq.args[i].name);
		free(s->rq.args[i].value);
	}
	free(s->resp.body);
	memset(s, 0, sizeof(*s));
}

static bool is_mutating(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 ||
	       strcmp(m, "DELETE") == 0;
}

static void ready(struct session *s)
{
	s->resp_ready = true;
	if (!s->awaiting_body)
		lws_callback_on_writable(s->wsi);
}

/* Answers with a Status at once (before the body, which is then dropped). */
static void early_status(struct session *s, int code, const char *reason, const char *msg)
{
	free(s->resp.body);
	memset(&s->resp, 0, sizeof(s->resp));
	sim_status(&s->resp, code, reason, msg, NULL, NULL, NULL);
	s->discard = true;
	ready(s);
}

/* Produces the answer (the API's, or the canned one) and records mutations. */
static void finish(struct session *s)
{
	struct sim *sim = sim_of(s->wsi);
	if (!s->canned)
		sim_handle(sim, &s->rq, &s->resp);
	if (s->resp.body == NULL)
		s->resp.body = xstrdup("");
	if (s->resp.content_type == NULL)
		s->resp.content_type = "application/json";
	if (is_mutating(s->method) && !str_has_prefix(s->path, "/_sim/"))
		sim_record(sim, &s->rq, s->resp.status);
	ready(s);
}

static void delay_done(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul);
	s->sul_armed = false;
	finish(s);
}

/*
 * With --token: true when the request carries "Authorization: Bearer T" and T
 * is the token file's current content (trailing whitespace dropped). The file
 * is read on every request, so rotating it takes effect at once. /_sim/ and
 * the health paths stay open (test control, probe targets).
 */
static bool authorized(const struct session *s)
{
	char tok[4096];
	size_t n;
	FILE *f;

	if (g_token_file == NULL || str_has_prefix(s->path, "/_sim/") ||
	    strcmp(s->path, "/healthz") == 0 || strcmp(s->path, "/readyz") == 0 ||
	    strcmp(s->path, "/livez") == 0)
		return true;
	f = fopen(g_token_file, "r");
	if (f == NULL) {
		log_warn("event=token_file_unreadable file=%s", g_token_file);
		return false;
	}
	n = fread(tok, 1, sizeof(tok) - 1, f);
	fclose(f);
	tok[n] = '\0';
	while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' ' ||
			 tok[n - 1] == '\t'))
		tok[--n] = '\0';
	return n > 0 && str_has_prefix(s->authorization, "Bearer ") &&
	       strcmp(s->authorization + 7, tok) == 0;
}

static void dispatch(struct session *s)
{
	struct sim *sim = sim_of(s->wsi);
	long delay = 0;

	s->rq.body = s->body.data ? s->body.data : "";
	s->rq.body_len = s->body.len;
	if (!authorized(s)) {
		/* What the API server answers a missing or wrong bearer token. */
		sim_status(&s->resp, 401, "Unauthorized", "Unauthorized", NULL, NULL, NULL);
		s->canned = true;
		finish(s);
		return;
	}
	if (!str_has_prefix(s->path, "/_sim/") &&
	    sim_apply_rules(sim, s->method, s->path, s->rq.query, &s->resp, &delay)) {
		s->canned = s->resp.status != 0;
		if (delay > 0) {
			s->sul_armed = true;
			lws_sul_schedule(lws_get_context(s->wsi), 0, &s->sul, delay_done,
					 (lws_usec_t)delay * LWS_US_PER_MS);
			return;
		}
	}
	finish(s);
}

static const char *method_of(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes tok;
		const char *name;
	} methods[] = {
		{WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
		{WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"},
		{WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
		{WSI_TOKEN_HEAD_URI, "HEAD"},
	};
	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (lws_hdr_total_length(wsi, methods[i].tok) > 0)
			return methods[i].name;
	return "?";
}

/* Copies header h (NULL if absent, "" if over max). */
static char *header(struct lws *wsi, enum lws_token_indexes h, int max)
{
	int n = lws_hdr_total_length(wsi, h);
	char *v;
	if (n <= 0)
		return xstrdup("");
	if (n > max)
		return xstrdup("");
	v = xmalloc((size_t)n + 1);
	if (lws_hdr_copy(wsi, v, n + 1, h) < 0)
		v[0] = '\0';
	return v;
}

/* Reads the (already url-decoded) query fragments; -1 when too long. */
static int read_query(struct session *s)
{
	static char frag[SIM_MAX_QUERY + 1];
	int total = lws_hdr_total_length(s->wsi, WSI_TOKEN_HTTP_URI_ARGS);

	buf_init(&s->query, SIM_MAX_QUERY + 1);
	s->rq.query = "";
	if (total <= 0)
		return 0;
	if (total > SIM_MAX_QUERY)
		return -1;
	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(s->wsi, frag, (int)sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS,
					      i);
		char *eq;
		if (n < 0)
			break;
		if (s->query.len)
			buf_puts(&s->query, "&");
		buf_puts(&s->query, frag);
		if (s->rq.n_args == SIM_MAX_ARGS)
			continue;
		eq = strchr(frag, '=');
		s->rq.args[s->rq.n_args].name = eq ? xstrndup(frag, (size_t)(eq - frag)) : xstrdup(frag);
		s->rq.args[s->rq.n_args].value = xstrdup(eq ? eq + 1 : "");
		s->rq.n_args++;
	}
	s->rq.query = s->query.data ? s->query.data : "";
	return 0;
}

static void on_request(struct session *s, const char *in)
{
	char cl[32], *end;
	long long content_length = -1;

	s->started_ms = mono_ms();
	strlcpy0(s->method, method_of(s->wsi), sizeof(s->method));
	s->path = xstrdup(in && *in ? in : "/");
	s->accept = header(s->wsi, WSI_TOKEN_HTTP_ACCEPT, 4096);
	s->authorization = header(s->wsi, WSI_TOKEN_HTTP_AUTHORIZATION, 8192);
	s->content_type = header(s->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, 1024);
	s->rq.method = s->method;
	s->rq.path = s->path;
	s->rq.accept = s->accept;
	s->rq.content_type = s->content_type;
	s->rq.body = "";
	buf_init(&s->body, SIM_MAX_BODY);
	if (lws_hdr_total_length(s->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
		if (lws_hdr_copy(s->wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) < 0)
			content_length = -2;
		else {
			content_length = strtoll(cl, &end, 10);
			if (end == cl || *end != '\0' || content_length < 0)
				content_length = -2;
		}
	}
	if (content_length > 0 || (content_length == 0 && strcmp(s->method, "POST") == 0)) {
		s->awaiting_body = true;
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_HTTP_CONTENT, BODY_TIMEOUT_S);
	}
	if (read_query(s) < 0) {
		early_status(s, 414, "RequestURITooLong", "the query string is over 8 KiB");
		return;
	}
	if (lws_hdr_total_length(s->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		s->close_after = true;
		s->awaiting_body = false;
		early_status(s, 411, "LengthRequired", "chunked bodies are not supported; send Content-Length");
		return;
	}
	if (content_length == -2) {
		s->close_after = true;
		s->awaiting_body = false;
		early_status(s, 400, "BadRequest", "bad Content-Length");
		return;
	}
	if (content_length > SIM_MAX_BODY) {
		s->close_after = true;
		s->awaiting_body = false;
		early_status(s, 413, "RequestEntityTooLarge", "the request body is over 1 MiB");
		return;
	}
	if (!s->awaiting_body)
		dispatch(s);
}

static int write_response(struct session *s)
{
	unsigned char *start = g_wbuf + LWS_PRE, *p = start, *end = start + CHUNK;
	struct lws *wsi = s->wsi;
	bool close_after;
	size_t left, n;

	if (!s->headers_sent) {
		if (lws_add_http_common_headers(s->wsi, (unsigned int)s->resp.status,
						s->resp.content_type, s->resp.body_len, &p, end) ||
		    (s->resp.status == 429 &&
		     lws_add_http_header_by_name(s->wsi, (const unsigned char *)"retry-after:",
						 (const unsigned char *)"1", 1, &p, end)) ||
		    (s->close_after &&
		     lws_add_http_header_by_token(s->wsi, WSI_TOKEN_CONNECTION,
						  (const unsigned char *)"close", 5, &p, end)) ||
		    lws_finalize_write_http_header(s->wsi, start, &p, end))
			return -1;
		s->headers_sent = true;
		log_info("event=request method=%s path=%s status=%d bytes=%zu ms=%lld", s->method,
			 s->path, s->resp.status, s->resp.body_len,
			 (long long)(mono_ms() - s->started_ms));
	}
	left = s->resp.body_len - s->sent;
	n = left > CHUNK ? CHUNK : left;
	if (n > 0) {
		memcpy(start, s->resp.body + s->sent, n);
		if (lws_write(s->wsi, start, n, n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
		    (int)n)
			return -1;
		s->sent += n;
	}
	if (s->sent < s->resp.body_len) {
		lws_callback_on_writable(s->wsi);
		return 0;
	}
	/*
	 * Free the request now: after a completed transaction lws 4.1 hands this
	 * connection a fresh, zeroed session without CLOSED_HTTP for the old one.
	 */
	close_after = s->close_after;
	session_reset(s);
	if (close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	struct session *s = user;

	if (s == NULL)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		session_reset(s);
		s->wsi = wsi;
		on_request(s, in);
		return 0;

	case LWS_CALLBACK_HTTP_BODY:
		if (s->discard)
			return 0;
		if (buf_append(&s->body, in, len) < 0) {
			s->close_after = true;
			early_status(s, 413, "RequestEntityTooLarge", "the request body is over 1 MiB");
		}
		return 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		if (!s->awaiting_body)
			return 0;
		s->awaiting_body = false;
		if (s->resp_ready)
			lws_callback_on_writable(wsi);
		else
			dispatch(s);
		return 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!s->resp_ready)
			return 0; /* unasked writeable */
		return write_response(s);

	case LWS_CALLBACK_CLOSED_HTTP:
		session_reset(s);
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{"http", http_callback, sizeof(struct session), 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- main ---- */

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
	if (g_ctx)
		lws_cancel_service(g_ctx);
}

static void lws_emit(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	log_warnx("event=lws level=%d msg=\"%.*s\"", level, (int)n, line);
}

/* Splits HOST:PORT / [::1]:PORT and checks the host is loopback. */
static int parse_listen(const char *s, char *host, size_t hostlen, int *port, bool *v6)
{
	const char *colon;
	char *end;
	long p;
	unsigned char addr[16];

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':' || (size_t)(rb - s) >= hostlen)
			return -1;
		snprintf(host, hostlen, "%.*s", (int)(rb - s - 1), s + 1);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= hostlen)
			return -1;
		snprintf(host, hostlen, "%.*s", (int)(colon - s), s);
	}
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	if (strcmp(host, "localhost") == 0)
		strlcpy0(host, "127.0.0.1", hostlen);
	if (inet_pton(AF_INET, host, addr) == 1) {
		*v6 = false;
		return addr[0] == 127 ? 0 : -2;
	}
	if (inet_pton(AF_INET6, host, addr) == 1) {
		*v6 = true;
		return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr) ? 0 : -2;
	}
	return -2;
}

static int write_ready_file(const char *file, int port)
{
	char *tmp = xasprintf("%s.tmp", file);
	FILE *f = fopen(tmp, "w");
	int rc = -1;
	if (f != NULL) {
		fprintf(f, "%d\n", port);
		if (fclose(f) == 0 && rename(tmp, file) == 0)
			rc = 0;
	}
	free(tmp);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: simcluster --listen 127.0.0.1:PORT --scenario FILE.json [--scenario FILE.json …]\n"
		     "                  [--mutations FILE.jsonl] [--ready-file FILE] [--read-only]\n"
		     "                  [--token FILE] [--tls-cert FILE --tls-key FILE]\n"
		     "                  [--log-level debug|info|warn|error]\n"
		     "A Kubernetes API server double on loopback; see contrib/simcluster/README.md.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},   {"scenario", required_argument, NULL, 's'},
		{"mutations", required_argument, NULL, 'm'}, {"ready-file", required_argument, NULL, 'r'},
		{"read-only", no_argument, NULL, 'R'},      {"log-level", required_argument, NULL, 'L'},
		{"token", required_argument, NULL, 't'},    {"tls-cert", required_argument, NULL, 'c'},
		{"tls-key", required_argument, NULL, 'k'},  {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *listen_s = NULL, *mutations = NULL, *ready_file = NULL;
	const char *tls_cert = NULL, *tls_key = NULL;
	const char *scenarios[128]; /* tests/scenarios alone holds over 20 */
	size_t n_scen = 0;
	struct lws_context_creation_info info;
	struct sim sim;
	struct sigaction sa;
	char host[64], err[512];
	int c, port = 0, rc;
	bool v6 = false, read_only = false;
	enum log_level level;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_s = optarg; break;
		case 's':
			if (n_scen == ARRAY_LEN(scenarios)) {
				fprintf(stderr, "simcluster: at most %zu --scenario files\n", n_scen);
				return 2;
			}
			scenarios[n_scen++] = optarg;
			break;
		case 'm': mutations = optarg; break;
		case 'r': ready_file = optarg; break;
		case 'R': read_only = true; break;
		case 't': g_token_file = optarg; break;
		case 'c': tls_cert = optarg; break;
		case 'k': tls_key = optarg; break;
		case 'L':
			if (log_level_parse(optarg, &level) < 0) {
				usage(stderr);
				return 2;
			}
			log_set_level(level);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (listen_s == NULL || n_scen == 0 || optind != argc || (tls_cert == NULL) != (tls_key == NULL)) {
		usage(stderr);
		return 2;
	}
	rc = parse_listen(listen_s, host, sizeof(host), &port, &v6);
	if (rc == -1) {
		log_error("event=bad_listen listen=\"%s\" want=HOST:PORT", listen_s);
		return 2;
	}
	if (rc == -2) {
		log_error("event=refused listen=\"%s\" reason=\"not a loopback address\"", listen_s);
		return 2;
	}
	sim_init(&sim);
	sim.read_only = read_only;
	for (size_t i = 0; i < n_scen; i++) {
		if (sim_load_file(&sim, scenarios[i], err, sizeof(err)) < 0) {
			log_error("event=scenario_invalid file=%s error=\"%s\"", scenarios[i], err);
			sim_release(&sim);
			return 2;
		}
	}
	sim_finish_load(&sim);
	if (mutations) {
		sim.mutations_fd = open(mutations, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (sim.mutations_fd < 0) {
			log_warn("event=mutations_open_failed file=%s", mutations);
			sim_release(&sim);
			return 2;
		}
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = host;
	info.protocols = protocols;
	info.user = &sim;
	info.max_http_header_data = 16384;
	info.keepalive_timeout = 30;
	info.timeout_secs = 30;
	info.options = v6 ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6;
	if (tls_cert != NULL) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = tls_cert;
		info.ssl_private_key_filepath = tls_key;
		/* HTTP/1.1 only: over h2, lws 4.1 never ends the stream of an empty body. */
		info.alpn = "http/1.1";
	}
	g_ctx = lws_create_context(&info);
	if (g_ctx == NULL) {
		log_error("event=listen_failed listen=%s", listen_s);
		if (sim.mutations_fd >= 0)
			close(sim.mutations_fd);
		sim_release(&sim);
		return 1;
	}
	port = lws_get_vhost_listen_port(lws_get_vhost_by_name(g_ctx, "default"));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		size_t counts[RES_COUNT];
		for (int i = 0; i < RES_COUNT; i++)
			counts[i] = (size_t)cJSON_GetArraySize(sim.store[i]);
		log_info("event=listening host=%s port=%d tls=%s token=%s scenarios=%zu read_only=%s namespaces=%zu "
			 "nodes=%zu pods=%zu events=%zu deployments=%zu replicasets=%zu jobs=%zu "
			 "pvcs=%zu failure_rules=%zu",
			 host, port, tls_cert ? "true" : "false", g_token_file ? "required" : "none",
			 n_scen, read_only ? "true" : "false", counts[RES_NAMESPACES],
			 counts[RES_NODES], counts[RES_PODS], counts[RES_EVENTS],
			 counts[RES_DEPLOYMENTS], counts[RES_REPLICASETS], counts[RES_JOBS],
			 counts[RES_PVCS], sim.n_rules);
	}
	if (ready_file && write_ready_file(ready_file, port) < 0)
		log_warn("event=ready_file_failed file=%s", ready_file);

	while (!g_stop && lws_service(g_ctx, 0) >= 0)
		;
	log_info("event=stopping mutations=%d", cJSON_GetArraySize(sim.mutations));
	lws_context_destroy(g_ctx);
	g_ctx = NULL;
	if (sim.mutations_fd >= 0)
		close(sim.mutations_fd);
	sim_release(&sim);
	return 0;
}
