/*
 * This file contains the Kubernetes API client declared in k8s.h: building a
 * client from a configured cluster (in-cluster service account, explicit
 * server + token + CA, or a kubeconfig context resolved by k8s_kubeconfig.c),
 * blocking GETs on the client's own libcurl easy handle, and the mapping of
 * failures to one-line reasons ("403 Forbidden: …", "timeout after N ms",
 * "malformed JSON from the API server", curl's connection message).
 *
 * Tokens read from a file (the service account's projected token, token_file,
 * a kubeconfig tokenFile) are re-read when the file changes and once more on
 * a 401. Tokens are never logged and are wiped when replaced or freed.
 *
 * Threads: a client belongs to one worker thread; curl_global_init() must
 * have run before any thread starts.
 */
#include "k8s.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define SA_DIR		"/var/run/secrets/kubernetes.io/serviceaccount"
#define JSON_CAP	(8u << 20)
#define TOKEN_MAX	(64 * 1024)
#define CONNECT_MAX_MS	3000
#define DEFAULT_TIMEOUT 10000

struct k8s_client {
	CURL *curl;
	char *name;	      /* the cluster's name, for messages */
	char *base;	      /* "https://host:port[/prefix]", no trailing '/' */
	bool loopback;	      /* host is loopback: no proxy */
	char *token;	      /* NULL = no Authorization header; wiped when replaced */
	char *token_file;     /* re-read when it changes; NULL = a fixed token */
	struct stat token_st; /* of the file when last read */
	char *ca_file;
	char *ca_data;
	size_t ca_len;
	char *cert_file, *key_file, *cert_data, *key_data;
	size_t cert_len, key_len;
	char errbuf[CURL_ERROR_SIZE];
};

/* Frees s after overwriting its n bytes (n = strlen when 0). NULL-safe. */
static void wipe_free(char *s, size_t n)
{
	if (s == NULL)
		return;
	explicit_bzero(s, n ? n : strlen(s));
	free(s);
}

/* Replaces control characters of s with spaces, in place; returns s. */
static char *one_line(char *s)
{
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

/* k8s_check_server, also returning the host (owned) when host is not NULL. */
static int check_server(const char *url, char **host, char *err, size_t errlen)
{
	char *scheme = NULL, *h = NULL, *part = NULL;
	CURLU *u = curl_url();
	int rc = -1;

	if (u == NULL)
		fatal("event=oom what=curl_url");
	if (strlen(url) > 2048 || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
		snprintf(err, errlen, "\"%.100s\" is not a URL like https://host:port", url);
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		snprintf(err, errlen, "\"%.100s\": only https:// URLs are allowed", url);
		goto out;
	}
	if (strcmp(scheme, "http") == 0 && !host_is_loopback(h)) {
		snprintf(err, errlen,
			 "\"%.100s\": plain http:// is allowed only for loopback addresses "
			 "(127.0.0.1, ::1, localhost); use https://",
			 url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK) {
		snprintf(err, errlen, "the server URL must not contain a user name or password");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		snprintf(err, errlen, "\"%.100s\": the server URL must not have a query or fragment",
			 url);
		goto out;
	}
	if (host != NULL)
		*host = xstrdup(h);
	rc = 0;
out:
	curl_free(part);
	curl_free(scheme);
	curl_free(h);
	curl_url_cleanup(u);
	return rc;
}

int k8s_check_server(const char *url, char *err, size_t errlen)
{
	return check_server(url, NULL, err, errlen);
}

/* Reads a token file (at most 64 KiB, trailing whitespace dropped) into an owned string. */
static char *read_token(const char *path, struct stat *st, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *data, ebuf[128];
	size_t got = 0;
	ssize_t r = 0;

	if (fd < 0 || fstat(fd, st) != 0) {
		snprintf(err, errlen, "cannot read the token file %.200s: %s", path,
			 strerror_r(errno, ebuf, sizeof(ebuf)));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	data = xmalloc(TOKEN_MAX + 1);
	while (got < TOKEN_MAX && ((r = read(fd, data + got, TOKEN_MAX - got)) > 0 ||
				   (r < 0 && errno == EINTR)))
		got += r > 0 ? (size_t)r : 0;
	close(fd);
	while (got > 0 && isspace((unsigned char)data[got - 1]))
		got--;
	data[got] = '\0';
	if (r < 0 || got == 0 || got >= TOKEN_MAX || strlen(data) != got) {
		snprintf(err, errlen, "the token file %.200s is %s", path,
			 r < 0 ? "unreadable" : got == 0 ? "empty" : "not a token");
		wipe_free(data, TOKEN_MAX + 1);
		return NULL;
	}
	return data;
}

/*
 * Re-reads the token file when it changed (or always when force). Returns 1
 * when the token changed, 0 when not, -1 with err when it cannot be read.
 */
static int token_refresh(struct k8s_client *c, bool force, char *err, size_t errlen)
{
	struct stat st;
	char *t;
	int changed;

	if (c->token_file == NULL)
		return 0;
	if (!force && c->token != NULL && stat(c->token_file, &st) == 0 &&
	    st.st_ino == c->token_st.st_ino && st.st_size == c->token_st.st_size &&
	    st.st_mtim.tv_sec == c->token_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == c->token_st.st_mtim.tv_nsec)
		return 0;
	t = read_token(c->token_file, &st, err, errlen);
	if (t == NULL)
		return -1;
	c->token_st = st;
	changed = c->token == NULL || strcmp(c->token, t) != 0;
	wipe_free(c->token, 0);
	c->token = t;
	if (changed)
		log_debug("event=k8s_token_read cluster=%s", c->name);
	return changed;
}

/* in_cluster: the service account of the pod we run in. */
static int setup_in_cluster(struct k8s_client *c, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *sa;

	if (str_empty(host) || str_empty(port)) {
		snprintf(err, errlen,
			 "cluster %s: not running inside a Kubernetes pod "
			 "(KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not set)",
			 c->name);
		return -1;
	}
	if (strspn(host, "0123456789abcdefABCDEF.:-_") != strlen(host) &&
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
		strlen(host)) {
		snprintf(err, errlen, "cluster %s: KUBERNETES_SERVICE_HOST is not a host", c->name);
		return -1;
	}
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5) {
		snprintf(err, errlen, "cluster %s: KUBERNETES_SERVICE_PORT is not a port", c->name);
		return -1;
	}
	c->base = strchr(host, ':') ? xasprintf("https://[%s]:%s", host, port)
				    : xasprintf("https://%s:%s", host, port);
	/* Relocating the service-account folder is for tests only (see README.md). */
	sa = getenv("NIGHTSHIFT_SERVICEACCOUNT_DIR");
	if (str_empty(sa))
		sa = SA_DIR;
	c->token_file = xasprintf("%s/token", sa);
	c->ca_file = xasprintf("%s/ca.crt", sa);
	return 0;
}

/* kubeconfig: the fields of one context move into the client. */
static int setup_kubeconfig(struct k8s_client *c, const struct k8s_cluster *cl, char *err,
			    size_t errlen)
{
	struct k8s_kubeconfig kc = {0};
	char why[512];

	if (k8s_kubeconfig_load(cl->kubeconfig, cl->context, &kc, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "cluster %s: %s", c->name, why);
		k8s_kubeconfig_free(&kc);
		return -1;
	}
	c->base = kc.server, kc.server = NULL;
	c->ca_file = kc.ca_file, kc.ca_file = NULL;
	c->ca_data = kc.ca_data, kc.ca_data = NULL;
	c->ca_len = kc.ca_len;
	c->token = kc.token, kc.token = NULL;
	c->token_file = kc.token_file, kc.token_file = NULL;
	c->cert_file = kc.cert_file, kc.cert_file = NULL;
	c->key_file = kc.key_file, kc.key_file = NULL;
	c->cert_data = kc.cert_data, kc.cert_data = NULL;
	c->cert_len = kc.cert_len;
	c->key_data = kc.key_data, kc.key_data = NULL;
	c->key_len = kc.key_len;
	k8s_kubeconfig_free(&kc);
	return 0;
}

struct k8s_client *k8s_client_new(const struct k8s_cluster *cl, char *err, size_t errlen)
{
	struct k8s_client *c = xcalloc(1, sizeof(*c));
	char why[512], *host = NULL;
	int rc;

	c->name = xstrdup(str_empty(cl->name) ? "default" : cl->name);
	if (cl->in_cluster) {
		rc = setup_in_cluster(c, err, errlen);
	} else if (cl->server != NULL) {
		c->base = xstrdup(cl->server);
		c->ca_file = xstrdup(cl->ca_file);
		if (cl->token.file != NULL)
			c->token_file = xstrdup(cl->token.file);
		else if (cl->token.value != NULL)
			c->token = xstrdup(cl->token.value);
		rc = 0;
	} else if (cl->kubeconfig != NULL) {
		rc = setup_kubeconfig(c, cl, err, errlen);
	} else {
		snprintf(err, errlen, "cluster %s: none of in_cluster, server, kubeconfig is set",
			 c->name);
		rc = -1;
	}
	if (rc == 0 && check_server(c->base, &host, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "cluster %s: %s", c->name, why);
		rc = -1;
	}
	if (rc == 0) {
		size_t n = strlen(c->base);
		while (n > 0 && c->base[n - 1] == '/')
			c->base[--n] = '\0';
		c->loopback = host_is_loopback(host);
		c->curl = curl_easy_init();
		if (c->curl == NULL) {
			snprintf(err, errlen, "cluster %s: cannot create a libcurl handle", c->name);
			rc = -1;
		}
	}
	if (rc == 0 && token_refresh(c, true, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "cluster %s: %s", c->name, why);
		rc = -1;
	}
	free(host);
	if (rc != 0) {
		k8s_client_free(c);
		return NULL;
	}
	return c;
}

void k8s_client_free(struct k8s_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c->name);
	free(c->base);
	wipe_free(c->token, 0);
	free(c->token_file);
	free(c->ca_file);
	free(c->ca_data);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_data);
	wipe_free(c->key_data, c->key_len);
	free(c);
}

/* Where the body goes: at most cap bytes, over set when more came. */
struct sink {
	struct buf *b;
	size_t cap;
	bool over;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb, room = s->cap - s->b->len;

	if (n > room) {
		buf_append(s->b, p, room);
		s->over = true;
		return 0; /* stops the transfer */
	}
	buf_append(s->b, p, n);
	return n;
}

/* The usual phrase of an HTTP status, for answers without a Status object. */
static const char *status_phrase(long code)
{
	static const struct {
		long code;
		const char *text;
	} t[] = {
	    {400, "Bad Request"},	   {401, "Unauthorized"},	  {403, "Forbidden"},
	    {404, "Not Found"},		   {405, "Method Not Allowed"},	  {406, "Not Acceptable"},
	    {409, "Conflict"},		   {410, "Gone"},		  {413, "Too Large"},
	    {422, "Unprocessable Entity"}, {429, "Too Many Requests"},	  {500, "Internal Error"},
	    {502, "Bad Gateway"},	   {503, "Service Unavailable"}, {504, "Gateway Timeout"},
	};
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		if (t[i].code == code)
			return t[i].text;
	return code >= 300 && code < 400 ? "Redirect" : "Error";
}

/* err = "<code> <Reason>: <message>" from a Status answer, or the status and the body's start. */
static void status_error(long code, const struct buf *body, char *err, size_t errlen)
{
	cJSON *j = body->len ? cJSON_ParseWithLength(body->data, body->len) : NULL;
	const char *msg = k8s_str(j, "message"), *reason = k8s_str(j, "reason");
	char text[256] = "";

	if (msg == NULL && body->len > 0) {
		strlcpy0(text, body->data, sizeof(text));
		text[strcspn(text, "\r\n")] = '\0';
		msg = text;
	}
	if (str_empty(reason))
		reason = status_phrase(code);
	if (str_empty(msg))
		snprintf(err, errlen, "%ld %s", code, reason);
	else
		snprintf(err, errlen, "%ld %s: %s", code, reason, msg);
	one_line(err);
	cJSON_Delete(j);
}

/* One GET of base+path into s; *code gets the HTTP status. Returns the curl result. */
static CURLcode perform(struct k8s_client *c, const char *path, int timeout_ms, struct sink *s,
			long *code)
{
	struct curl_slist *h = NULL;
	char *auth = NULL, *url = xasprintf("%s%s", c->base, path);
	CURLcode rc;

	curl_easy_reset(c->curl);
	c->errbuf[0] = '\0';
	h = curl_slist_append(h, "Accept: application/json");
	if (c->token != NULL) {
		auth = xasprintf("Authorization: Bearer %s", c->token);
		h = curl_slist_append(h, auth);
		wipe_free(auth, 0);
	}
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout_ms < CONNECT_MAX_MS ? timeout_ms : CONNECT_MAX_MS));
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "nightshift");
	curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, s);
	if (c->loopback)
		curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "*");
	if (c->ca_file != NULL)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
	if (c->ca_data != NULL) {
		struct curl_blob b = {c->ca_data, c->ca_len, CURL_BLOB_COPY};
		curl_easy_setopt(c->curl, CURLOPT_CAINFO_BLOB, &b);
	}
	if (c->cert_file != NULL)
		curl_easy_setopt(c->curl, CURLOPT_SSLCERT, c->cert_file);
	if (c->cert_data != NULL) {
		struct curl_blob b = {c->cert_data, c->cert_len, CURL_BLOB_COPY};
		curl_easy_setopt(c->curl, CURLOPT_SSLCERT_BLOB, &b);
	}
	if (c->key_file != NULL)
		curl_easy_setopt(c->curl, CURLOPT_SSLKEY, c->key_file);
	if (c->key_data != NULL) {
		struct curl_blob b = {c->key_data, c->key_len, CURL_BLOB_COPY};
		curl_easy_setopt(c->curl, CURLOPT_SSLKEY_BLOB, &b);
	}
	rc = curl_easy_perform(c->curl);
	*code = 0;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(h);
	free(url);
	return rc;
}

/*
 * GETs path into body (at most cap bytes; *over set when cut). Returns 0 on
 * 2xx, -1 with err otherwise. A 401 re-reads the token file and retries once
 * when the token changed.
 */
static int request(struct k8s_client *c, const char *path, int timeout_ms, size_t cap,
		   struct buf *body, bool *over, char *err, size_t errlen)
{
	int64_t start = mono_ms();
	long code = 0;

	if (timeout_ms <= 0)
		timeout_ms = DEFAULT_TIMEOUT;
	if (path == NULL || path[0] != '/' || strpbrk(path, " \r\n\t") != NULL) {
		snprintf(err, errlen, "bad API path");
		return -1;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		struct sink s = {body, cap, false};
		CURLcode rc;

		if (token_refresh(c, false, err, errlen) < 0)
			return -1;
		buf_reset(body);
		rc = perform(c, path, timeout_ms, &s, &code);
		*over = s.over;
		log_debug("event=k8s_get cluster=%s path=\"%.200s\" status=%ld curl=%d ms=%lld",
			  c->name, path, code, (int)rc, (long long)(mono_ms() - start));
		if (rc == CURLE_OPERATION_TIMEDOUT) {
			snprintf(err, errlen, "timeout after %d ms", timeout_ms);
			return -1;
		}
		if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && s.over)) {
			snprintf(err, errlen, "cannot reach the API server of %s: %s", c->name,
				 c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
			one_line(err);
			return -1;
		}
		if (code >= 200 && code < 300)
			return 0;
		if (code != 401 || attempt > 0 || token_refresh(c, true, err, errlen) != 1)
			break;
	}
	status_error(code, body, err, errlen);
	return -1;
}

int k8s_get_json(struct k8s_client *c, const char *path, int timeout_ms, struct cJSON **out,
		 char *err, size_t errlen)
{
	struct buf body;
	bool over = false;
	int rc;

	*out = NULL;
	buf_init(&body, 0);
	rc = request(c, path, timeout_ms, JSON_CAP, &body, &over, err, errlen);
	if (rc == 0 && over) {
		snprintf(err, errlen, "answer from the API server larger than %u MiB",
			 JSON_CAP >> 20);
		rc = -1;
	}
	if (rc == 0) {
		*out = body.len ? cJSON_ParseWithLength(body.data, body.len) : NULL;
		if (*out == NULL || !(cJSON_IsObject(*out) || cJSON_IsArray(*out))) {
			cJSON_Delete(*out);
			*out = NULL;
			snprintf(err, errlen, "malformed JSON from the API server");
			rc = -1;
		}
	}
	buf_release(&body);
	return rc;
}

int k8s_get_text(struct k8s_client *c, const char *path, int timeout_ms, size_t cap,
		 struct buf *out, char *err, size_t errlen)
{
	struct buf body;
	bool over = false;
	int rc;

	buf_init(&body, 0);
	rc = request(c, path, timeout_ms, cap, &body, &over, err, errlen);
	if (rc == 0 && body.len > 0) {
		size_t n = body.len;
		if (out->cap && out->len + n > out->cap)
			n = out->cap > out->len ? out->cap - out->len : 0;
		buf_append(out, body.data, n);
	}
	buf_release(&body);
	return rc;
}

void k8s_query_escape(struct buf *out, const char *s)
{
	char *e = curl_easy_escape(NULL, s, (int)strnlen(s, 1 << 20));

	if (e == NULL)
		fatal("event=oom what=curl_easy_escape");
	buf_puts(out, e);
	curl_free(e);
}

struct k8s_client *k8s_client_for(const struct config *cfg, struct k8s_client **clients,
				   const char *cluster, const char **why)
{
	const struct k8s_cluster *k = config_cluster_for(cfg, cluster);
	static _Thread_local char reason[512];
	size_t idx;

	if (k == NULL) {
		snprintf(reason, sizeof(reason),
			 cfg->n_clusters ? "no cluster named \"%s\" is configured"
					 : "no Kubernetes cluster is configured%s",
			 cfg->n_clusters ? cluster : "");
		*why = reason;
		return NULL;
	}
	idx = (size_t)(k - cfg->clusters);
	if (clients == NULL) {
		*why = "no Kubernetes client on this thread";
		return NULL;
	}
	if (clients[idx] == NULL) {
		char err[256];
		clients[idx] = k8s_client_new(k, err, sizeof(err));
		if (clients[idx] == NULL) {
			snprintf(reason, sizeof(reason), "cluster %s: %s", k->name, err);
			*why = reason;
			return NULL;
		}
	}
	return clients[idx];
}
