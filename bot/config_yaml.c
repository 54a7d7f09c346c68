/*
 * This file contains the generic half of the config loader: reading the file,
 * libyaml parsing with syntax errors mapped to lines, a table-driven walker
 * over mappings and lists, scalar parsers (strings, booleans, decimal
 * integers, durations), *_env / *_file secret resolution and error
 * collection. It knows nothing about which keys exist; config.c holds the
 * tables.
 */
#include "config_yaml.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define SECRET_MAX_BYTES (64 * 1024)

void cfg_errorf(struct loader *l, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->n_errs == l->alloc_errs) {
		l->alloc_errs = l->alloc_errs ? l->alloc_errs * 2 : 8;
		l->errs = xrealloc(l->errs, l->alloc_errs * sizeof(*l->errs));
	}
	l->errs[l->n_errs].line = line;
	l->errs[l->n_errs].seq = l->n_errs;
	l->errs[l->n_errs].msg = line > 0 ? xasprintf("%s:%d: %s", l->file, line, msg)
					  : xasprintf("%s: %s", l->file, msg);
	l->n_errs++;
}

static int error_cmp(const void *a, const void *b)
{
	const struct cfg_error *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void cfg_report(struct loader *l, char *err, size_t errlen)
{
	struct buf b;

	buf_init(&b, 0);
	qsort(l->errs, l->n_errs, sizeof(*l->errs), error_cmp);
	for (size_t i = 0; i < l->n_errs; i++)
		buf_printf(&b, "%s%s", i ? "\n" : "", l->errs[i].msg);
	if (err != NULL)
		strlcpy0(err, b.data ? b.data : "", errlen);
	buf_release(&b);
	cfg_errors_free(l);
}

void cfg_errors_free(struct loader *l)
{
	for (size_t i = 0; i < l->n_errs; i++)
		free(l->errs[i].msg);
	free(l->errs);
	l->errs = NULL;
	l->n_errs = l->alloc_errs = 0;
}

int cfg_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

yaml_node_t *cfg_node(struct loader *l, int index)
{
	return yaml_document_get_node(l->doc, index);
}

bool cfg_is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* What n is, for "expected X, got Y" messages. */
static const char *node_kind(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	return cfg_is_null(n) ? "nothing" : "a string";
}

const char *cfg_node_kind(const yaml_node_t *n)
{
	return node_kind(n);
}

const char *cfg_scalar(struct loader *l, const char *path, const yaml_node_t *n, const char *want)
{
	if (n->type != YAML_SCALAR_NODE || cfg_is_null(n)) {
		cfg_errorf(l, cfg_line(n), "%s: expected %s, got %s", path, want, node_kind(n));
		return NULL;
	}
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
		cfg_errorf(l, cfg_line(n), "%s: contains a NUL character", path);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

const char *cfg_pair_key(struct loader *l, const yaml_node_t *map, const yaml_node_pair_t *p,
			 const char *where)
{
	const yaml_node_t *k = cfg_node(l, p->key);
	const char *name = (const char *)k->data.scalar.value;

	if (k->type != YAML_SCALAR_NODE || cfg_is_null(k) ||
	    strlen(name) != k->data.scalar.length) {
		cfg_errorf(l, cfg_line(k), "keys in %s must be plain names, got %s", where,
			   node_kind(k));
		return NULL;
	}
	for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
		const yaml_node_t *qk = cfg_node(l, q->key);
		if (qk->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)qk->data.scalar.value, name) == 0) {
			cfg_errorf(l, cfg_line(k),
				   "duplicate key \"%.64s\" in %s (first at line %d)", name, where,
				   cfg_line(qk));
			return NULL;
		}
	}
	return name;
}

/* Reports an unknown key, listing the allowed ones; an inline secret gets its own message. */
static void unknown_key(struct loader *l, const struct key_spec *keys, const char *where,
			const char *name, int line)
{
	struct buf b;
	char env[128];

	snprintf(env, sizeof(env), "%s_env", name);
	for (const struct key_spec *k = keys; k->name; k++) {
		if (strcmp(k->name, env) == 0) {
			cfg_errorf(
			    l, line,
			    "inline secret \"%.64s\" in %s is not allowed: put the name of an "
			    "environment variable in %s_env, or the path of a file in %s_file",
			    name, where, name, name);
			return;
		}
	}
	buf_init(&b, 0);
	for (const struct key_spec *k = keys; k->name; k++)
		buf_printf(&b, "%s%s", k == keys ? "" : ", ", k->name);
	cfg_errorf(l, line, "unknown key \"%.64s\" in %s (allowed: %s)", name, where,
		   b.data ? b.data : "none");
	buf_release(&b);
}

void cfg_parse_map(struct loader *l, const struct key_spec *keys, const char *prefix,
		   yaml_node_t *n, void *base)
{
	const char *where = prefix[0] ? prefix : "top level";
	uint64_t seen = 0; /* bit i: keys[i] was given (required checks, first 64 keys) */
	yaml_node_pair_t *p = NULL, *end = NULL;

	if (n->type != YAML_MAPPING_NODE && !cfg_is_null(n)) {
		cfg_errorf(l, cfg_line(n), "%s: expected a mapping (key: value lines), got %s",
			   where, node_kind(n));
		return;
	}
	if (n->type == YAML_MAPPING_NODE) {
		p = n->data.mapping.pairs.start;
		end = n->data.mapping.pairs.top;
	}
	for (; p != end; p++) {
		const char *name = cfg_pair_key(l, n, p, where);
		const struct key_spec *k;
		char path[256];

		if (name == NULL)
			continue;
		for (k = keys; k->name && strcmp(k->name, name) != 0; k++)
			;
		if (k->name == NULL) {
			unknown_key(l, keys, where, name, cfg_line(cfg_node(l, p->key)));
			continue;
		}
		if (k - keys < 64)
			seen |= (uint64_t)1 << (k - keys);
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", name);
		k->fn(l, k, path, cfg_node(l, p->value), (char *)base + k->offset);
	}
	for (const struct key_spec *k = keys; k->name && k - keys < 64; k++)
		if (k->required && !(seen & ((uint64_t)1 << (k - keys))))
			cfg_errorf(l, cfg_line(n), "%s: missing required key \"%s\"", where,
				   k->name);
}

void *cfg_parse_list(struct loader *l, const struct key_spec *keys, const char *path,
		     yaml_node_t *n, size_t size, size_t line_off, size_t *count)
{
	char *arr;
	size_t len;

	*count = 0;
	if (cfg_is_null(n))
		return NULL;
	if (n->type != YAML_SEQUENCE_NODE) {
		cfg_errorf(l, cfg_line(n), "%s: expected a list (\"- \" entries), got %s", path,
			   node_kind(n));
		return NULL;
	}
	len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (len == 0)
		return NULL;
	arr = xcalloc(len, size);
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *item = cfg_node(l, n->data.sequence.items.start[i]);
		char *elem = arr + i * size;
		char where[256];
		int line = cfg_line(item);

		memcpy(elem + line_off, &line, sizeof(line));
		snprintf(where, sizeof(where), "%s[%zu]", path, i);
		cfg_parse_map(l, keys, where, item, elem);
	}
	*count = len;
	return arr;
}

void cfg_set_string(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		    void *field)
{
	const char *s = cfg_scalar(l, path, n, "a string");
	char **out = field;

	(void)k;
	if (s == NULL)
		return;
	if (s[0] == '\0') {
		cfg_errorf(l, cfg_line(n), "%s: must not be empty", path);
		return;
	}
	free(*out);
	*out = xstrdup(s);
}

void cfg_set_bool(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		  void *field)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	const char *s = cfg_scalar(l, path, n, "true or false");
	bool *out = field;

	(void)k;
	if (s == NULL)
		return;
	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*out = strcasecmp(s, yes[i]) == 0;
			return;
		}
	}
	cfg_errorf(l, cfg_line(n), "%s: expected true or false (or yes/no, on/off), got \"%.64s\"",
		   path, s);
}

/* Parses a plain decimal integer (optional '-', digits only). */
static bool parse_decimal(const char *s, long long *out)
{
	const char *p = s + (s[0] == '-');
	char *end;

	if (*p == '\0')
		return false;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0';
}

void cfg_set_size(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		  void *field)
{
	const char *s = cfg_scalar(l, path, n, "an integer");
	long long v;

	if (s == NULL)
		return;
	if (!parse_decimal(s, &v) || v < k->min || v > k->max) {
		cfg_errorf(l, cfg_line(n),
			   "%s: expected a decimal integer from %lld to %lld, got \"%.64s\"", path,
			   (long long)k->min, (long long)k->max, s);
		return;
	}
	*(size_t *)field = (size_t)v;
}

void cfg_set_duration(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		      void *field)
{
	const char *s = cfg_scalar(l, path, n, "a duration");
	char lo[32], hi[32];
	int64_t v;

	if (s == NULL)
		return;
	if (parse_duration(s, &v) != 0) {
		cfg_errorf(l, cfg_line(n),
			   "%s: bad duration \"%.64s\" (use numbers with units s, m, h, d, e.g. "
			   "\"90s\", \"30m\", \"1h30m\")",
			   path, s);
		return;
	}
	if (v < k->min || v > k->max) {
		format_duration(k->min, lo, sizeof(lo));
		format_duration(k->max, hi, sizeof(hi));
		cfg_errorf(l, cfg_line(n), "%s: \"%.64s\" is out of range (%s to %s)", path, s, lo,
			   hi);
		return;
	}
	*(int64_t *)field = v;
}

void cfg_set_section(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		     void *field)
{
	cfg_parse_map(l, k->sub, path, n, field);
}

/* True when the other half of a secret (env/file) is already set; reports it. */
static bool secret_both(struct loader *l, const char *path, const struct secret *sec,
			yaml_node_t *n)
{
	size_t n_path = strlen(path);
	size_t base =
	    n_path >= 5 && strcmp(path + n_path - 5, "_file") == 0 ? n_path - 5 : n_path - 4;

	if (sec->env == NULL && sec->file == NULL)
		return false;
	cfg_errorf(l, cfg_line(n), "%s: set either %.*s_env or %.*s_file, not both", path,
		   (int)base, path, (int)base, path);
	return true;
}

void cfg_set_secret_env(struct loader *l, const struct key_spec *k, const char *path,
			yaml_node_t *n, void *field)
{
	const char *s = cfg_scalar(l, path, n, "an environment variable name");
	struct secret *sec = field;
	const char *v;

	(void)k;
	if (s == NULL || secret_both(l, path, sec, n))
		return;
	/* The value is not echoed: it may be the token itself, pasted in the wrong key. */
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_') ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
		strlen(s)) {
		cfg_errorf(
		    l, cfg_line(n),
		    "%s: must be the name of an environment variable (letters, digits and _), "
		    "not the secret itself",
		    path);
		return;
	}
	sec->env = xstrdup(s);
	v = getenv(s);
	if (v == NULL || v[0] == '\0')
		cfg_errorf(l, cfg_line(n), "%s: environment variable %s is %s", path, s,
			   v ? "empty" : "not set");
	else
		sec->value = xstrdup(v);
}

void cfg_set_secret_file(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field)
{
	const char *s = cfg_scalar(l, path, n, "a file path");
	struct secret *sec = field;
	char ebuf[128];
	size_t len;
	char *data;

	(void)k;
	if (s == NULL || secret_both(l, path, sec, n))
		return;
	sec->file = xstrdup(s);
	data = cfg_read_file(s, SECRET_MAX_BYTES, &len);
	if (data == NULL && errno == EFBIG) {
		cfg_errorf(l, cfg_line(n), "%s: \"%s\" is larger than 64 KiB", path, s);
		return;
	}
	if (data == NULL) {
		cfg_errorf(l, cfg_line(n), "%s: cannot read \"%s\": %s", path, s,
			   strerror_r(errno, ebuf, sizeof(ebuf)));
		return;
	}
	if (len > 0 && data[len - 1] == '\n') {
		data[--len] = '\0';
		if (len > 0 && data[len - 1] == '\r') /* CRLF counts as one newline */
			data[--len] = '\0';
	}
	if (len == 0 || strlen(data) != len)
		cfg_errorf(l, cfg_line(n), "%s: \"%s\" is %s", path, s,
			   len ? "not text (it contains a NUL byte)" : "empty");
	else
		sec->value = xstrdup(data);
	explicit_bzero(data, len);
	free(data);
}

/* Line (1-based) of byte offset off in text. */
static int offset_line(const char *text, size_t len, size_t off)
{
	int line = 1;
	for (size_t i = 0; i < off && i < len; i++)
		line += text[i] == '\n';
	return line;
}

/* Reports the parser's error with its line. */
static void syntax_error(struct loader *l, const yaml_parser_t *p, const char *text, size_t len)
{
	int line = (int)p->problem_mark.line + 1;

	l->syntax_error = true;
	if (p->error == YAML_READER_ERROR)
		line = offset_line(text, len, p->problem_offset);
	else if (p->error == YAML_MEMORY_ERROR)
		line = 0;
	if (p->context != NULL && (int)p->context_mark.line + 1 != line)
		cfg_errorf(l, line, "YAML syntax error: %s (%s at line %d)", p->problem, p->context,
			   (int)p->context_mark.line + 1);
	else if (p->context != NULL)
		cfg_errorf(l, line, "YAML syntax error: %s (%s)", p->problem, p->context);
	else
		cfg_errorf(l, line, "YAML syntax error: %s",
			   p->problem ? p->problem : "cannot parse");
}

void cfg_parse_text(struct loader *l, const char *text, size_t len, const struct key_spec *keys,
		    void *base)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;

	if (!yaml_parser_initialize(&parser)) {
		cfg_errorf(l, 0, "cannot initialise the YAML parser");
		return;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(l, &parser, text, len);
		yaml_parser_delete(&parser);
		return;
	}
	l->doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL && !cfg_is_null(root) && root->type != YAML_MAPPING_NODE)
		cfg_errorf(l, cfg_line(root),
			   "the top level must be a mapping (key: value lines), "
			   "got %s",
			   node_kind(root));
	else if (root != NULL)
		cfg_parse_map(l, keys, "", root, base);
	if (root != NULL) {
		if (!yaml_parser_load(&parser, &extra)) {
			syntax_error(l, &parser, text, len);
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);
			if (r2 != NULL)
				cfg_errorf(
				    l, (int)extra.start_mark.line + 1,
				    "only one YAML document is allowed (remove this \"---\")");
			yaml_document_delete(&extra);
		}
	}
	l->doc = NULL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

char *cfg_read_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	char *data;

	if (fd < 0)
		return NULL;
	data = xmalloc(max + 2);
	for (;;) {
		ssize_t r = read(fd, data + got, max + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			free(data);
			errno = e;
			return NULL;
		}
		got += (size_t)r;
		if (r == 0 || got > max)
			break;
	}
	close(fd);
	if (got > max) {
		explicit_bzero(data, got);
		free(data);
		errno = EFBIG;
		return NULL;
	}
	data[got] = '\0';
	*len = got;
	return data;
}
