/*
 * This file contains the kubeconfig reader declared in k8s.h: it loads the
 * file with libyaml, picks the given context (or current-context), and
 * resolves its cluster (server, certificate-authority[-data]) and user
 * (token, tokenFile, client-certificate[-data], client-key[-data]).
 * insecure-skip-tls-verify, exec plugins and auth providers are refused with
 * a reason: nightshift never talks to an unverified API server and never runs
 * programs named in a file. Messages name keys and entries, never values.
 */
#include "k8s.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "log.h"
#include "util.h"

#define KUBECONFIG_MAX (1024 * 1024)

/* Reads path whole (at most max bytes) into an owned string; NULL with errno. */
static char *read_all(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	char *data;
	ssize_t r;

	if (fd < 0)
		return NULL;
	data = xmalloc(max + 1);
	while (got <= max && (r = read(fd, data + got, max + 1 - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || got + (size_t)r > max) {
			int e = r < 0 ? errno : EFBIG;
			close(fd);
			free(data);
			errno = e;
			return NULL;
		}
		got += (size_t)r;
	}
	close(fd);
	data[got] = '\0';
	*len = got;
	return data;
}

/* Decodes base64 (whitespace ignored) into an owned buffer; NULL when invalid. */
static char *base64_decode(const char *s, size_t *outlen)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n / 4 * 3 + 4);
	unsigned int acc = 0;
	int bits = 0, pad = 0;

	for (const char *p = s; *p; p++) {
		const char *set = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *hit;

		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		hit = strchr(set, *p);
		if (hit == NULL || pad > 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned int)(hit - set);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (o == 0 || pad > 2 || bits >= 6) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* The value node of key in mapping n, or NULL. */
static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *n, const char *key)
{
	if (n == NULL || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

/* The non-empty scalar at key of mapping n, or NULL. */
static const char *map_str(yaml_document_t *d, yaml_node_t *n, const char *key)
{
	yaml_node_t *v = map_get(d, n, key);

	if (v == NULL || v->type != YAML_SCALAR_NODE || v->data.scalar.length == 0 ||
	    strlen((const char *)v->data.scalar.value) != v->data.scalar.length)
		return NULL;
	return (const char *)v->data.scalar.value;
}

/* In list (e.g. "contexts"), the `field` mapping of the entry named name, or NULL. */
static yaml_node_t *named(yaml_document_t *d, yaml_node_t *root, const char *list,
			  const char *name, const char *field)
{
	yaml_node_t *l = map_get(d, root, list);

	if (l == NULL || l->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *i = l->data.sequence.items.start; i < l->data.sequence.items.top;
	     i++) {
		yaml_node_t *e = yaml_document_get_node(d, *i);
		const char *nm = map_str(d, e, "name");
		if (nm != NULL && strcmp(nm, name) == 0)
			return map_get(d, e, field);
	}
	return NULL;
}

/* path made relative to dir unless absolute (owned). */
static char *resolve(const char *dir, const char *path)
{
	return path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", dir, path);
}

/* A *-data key: decoded into *data; -1 with err when not base64. */
static int data_key(yaml_document_t *d, yaml_node_t *n, const char *key, char **data, size_t *len,
		    char *err, size_t errlen)
{
	const char *v = map_str(d, n, key);

	if (v == NULL)
		return 0;
	*data = base64_decode(v, len);
	if (*data == NULL) {
		snprintf(err, errlen, "%s is not valid base64", key);
		return -1;
	}
	return 0;
}

/* The cluster entry: server and CA; insecure-skip-tls-verify refused. */
static int load_cluster(yaml_document_t *d, yaml_node_t *cl, const char *name, const char *dir,
			struct k8s_kubeconfig *out, char *err, size_t errlen)
{
	const char *server = map_str(d, cl, "server"), *insecure, *ca;
	char why[300];

	insecure = map_str(d, cl, "insecure-skip-tls-verify");
	if (insecure != NULL && strcmp(insecure, "false") != 0) {
		snprintf(err, errlen,
			 "cluster \"%.64s\" sets insecure-skip-tls-verify, which nightshift refuses "
			 "(give it certificate-authority or certificate-authority-data)",
			 name);
		return -1;
	}
	if (map_str(d, cl, "proxy-url") != NULL) {
		snprintf(err, errlen, "cluster \"%.64s\": proxy-url is not supported", name);
		return -1;
	}
	if (server == NULL) {
		snprintf(err, errlen, "cluster \"%.64s\" has no server", name);
		return -1;
	}
	if (k8s_check_server(server, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "cluster \"%.64s\": %s", name, why);
		return -1;
	}
	out->server = xstrdup(server);
	if ((ca = map_str(d, cl, "certificate-authority")) != NULL)
		out->ca_file = resolve(dir, ca);
	return data_key(d, cl, "certificate-authority-data", &out->ca_data, &out->ca_len, err,
			errlen);
}

/* The user entry: token, tokenFile, client certificate and key; plugins refused. */
static int load_user(yaml_document_t *d, yaml_node_t *u, const char *name, const char *dir,
		     struct k8s_kubeconfig *out, char *err, size_t errlen)
{
	const char *v;

	if (map_get(d, u, "exec") != NULL || map_get(d, u, "auth-provider") != NULL) {
		snprintf(err, errlen,
			 "user \"%.64s\" uses an exec or auth-provider plugin, which nightshift "
			 "does not run (use a service-account token: token or tokenFile)",
			 name);
		return -1;
	}
	if ((v = map_str(d, u, "token")) != NULL)
		out->token = xstrdup(v);
	if ((v = map_str(d, u, "tokenFile")) != NULL)
		out->token_file = resolve(dir, v);
	if ((v = map_str(d, u, "client-certificate")) != NULL)
		out->cert_file = resolve(dir, v);
	if ((v = map_str(d, u, "client-key")) != NULL)
		out->key_file = resolve(dir, v);
	if (data_key(d, u, "client-certificate-data", &out->cert_data, &out->cert_len, err,
		     errlen) != 0 ||
	    data_key(d, u, "client-key-data", &out->key_data, &out->key_len, err, errlen) != 0)
		return -1;
	if ((out->cert_file || out->cert_data) != (out->key_file || out->key_data)) {
		snprintf(err, errlen, "user \"%.64s\" has a client certificate without its key "
				      "or a key without its certificate", name);
		return -1;
	}
	return 0;
}

/* Resolves the context in the loaded document. */
static int resolve_context(yaml_document_t *d, const char *context, const char *dir,
			   struct k8s_kubeconfig *out, char *err, size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(d), *ctx, *cl, *u = NULL;
	const char *cname, *cluster, *user;

	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "not a kubeconfig (expected a mapping)");
		return -1;
	}
	cname = context != NULL ? context : map_str(d, root, "current-context");
	if (cname == NULL) {
		snprintf(err, errlen, "no context given and no current-context set");
		return -1;
	}
	ctx = named(d, root, "contexts", cname, "context");
	if (ctx == NULL) {
		snprintf(err, errlen, "no context named \"%.64s\"", cname);
		return -1;
	}
	cluster = map_str(d, ctx, "cluster");
	user = map_str(d, ctx, "user");
	cl = cluster ? named(d, root, "clusters", cluster, "cluster") : NULL;
	if (cl == NULL) {
		snprintf(err, errlen, "context \"%.64s\": no cluster named \"%.64s\"", cname,
			 cluster ? cluster : "");
		return -1;
	}
	if (user != NULL && (u = named(d, root, "users", user, "user")) == NULL) {
		snprintf(err, errlen, "context \"%.64s\": no user named \"%.64s\"", cname, user);
		return -1;
	}
	if (load_cluster(d, cl, cluster, dir, out, err, errlen) != 0)
		return -1;
	return u != NULL ? load_user(d, u, user, dir, out, err, errlen) : 0;
}

int k8s_kubeconfig_load(const char *path, const char *context, struct k8s_kubeconfig *out,
			char *err, size_t errlen)
{
	char why[400], ebuf[128], *dir, *slash;
	yaml_parser_t parser;
	yaml_document_t doc;
	size_t len = 0;
	char *text;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	text = read_all(path, KUBECONFIG_MAX, &len);
	if (text == NULL) {
		snprintf(err, errlen, "cannot read kubeconfig %.200s: %s", path,
			 errno == EFBIG ? "larger than 1 MiB"
					: strerror_r(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else {
		slash[slash == dir] = '\0';
	}
	if (!yaml_parser_initialize(&parser))
		fatal("event=oom what=yaml_parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "kubeconfig %.200s:%d: YAML syntax error: %s", path,
			 (int)parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "cannot parse");
	} else {
		rc = resolve_context(&doc, context, dir, out, why, sizeof(why));
		if (rc != 0)
			snprintf(err, errlen, "kubeconfig %.200s: %s", path, why);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	explicit_bzero(text, len);
	free(text);
	free(dir);
	if (rc != 0)
		k8s_kubeconfig_free(out);
	return rc;
}

void k8s_kubeconfig_free(struct k8s_kubeconfig *kc)
{
	free(kc->server);
	free(kc->ca_file);
	free(kc->ca_data);
	if (kc->token != NULL)
		explicit_bzero(kc->token, strlen(kc->token));
	free(kc->token);
	free(kc->token_file);
	free(kc->cert_file);
	free(kc->key_file);
	free(kc->cert_data);
	if (kc->key_data != NULL)
		explicit_bzero(kc->key_data, kc->key_len);
	free(kc->key_data);
	memset(kc, 0, sizeof(*kc));
}
