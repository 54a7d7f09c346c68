/*
 * This file contains the configuration model declared in config.h: the key
 * tables (which keys exist, where each one lands in struct config), the
 * parsers and checks specific to nightshift's keys (listen, environments,
 * noise, the token required off loopback), label matchers and the reference
 * count. The generic YAML walking and secret resolution live in config_yaml.c.
 *
 * Adding a key is one line in the right table below (plus its field and
 * default); adding a channel is one line in channel_keys and its own table.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alert.h"
#include "config_yaml.h"
#include "k8s.h"
#include "log.h"
#include "regex.h"
#include "util.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

/* clang-format off */
static const char *const default_fingerprint_labels[] = {
	"alertname", "cluster", "namespace", "service", "job", "deployment", "statefulset",
	"daemonset", "job_name", "cronjob", "pod", "container", "persistentvolumeclaim", "node",
	"instance", "monitor",
};
/* clang-format on */

/* True when s is a plausible host name (letters, digits, '-', '.', '_'). */
static bool host_name_ok(const char *s)
{
	bool digits_and_dots = true;
	struct in_addr a4;

	if (s[0] == '\0' || strlen(s) > 253)
		return false;
	for (const char *p = s; *p; p++) {
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_'))
			return false;
		digits_and_dots &= isdigit((unsigned char)*p) || *p == '.';
	}
	/* "127.1" and "10.0.0.256" look like addresses: insist on a real one. */
	return !digits_and_dots || inet_pton(AF_INET, s, &a4) == 1;
}

/* listen: "host:port" or "[v6]:port", port 0..65535; remembers its line. */
static void set_listen(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		       void *field)
{
	const char *s = cfg_scalar(l, path, n, "a string \"host:port\"");
	struct config *c = field;
	struct in6_addr a6;
	const char *port, *end;
	char *host;
	long v = 0;

	(void)k;
	if (s == NULL)
		return;
	if (s[0] == '[') {
		end = strchr(s, ']');
		host = end ? xstrndup(s + 1, (size_t)(end - s - 1)) : NULL;
		port = end && end[1] == ':' ? end + 2 : NULL;
		if (host != NULL && inet_pton(AF_INET6, host, &a6) != 1)
			port = NULL;
	} else {
		end = strrchr(s, ':');
		host = end ? xstrndup(s, (size_t)(end - s)) : NULL;
		port = end && host_name_ok(host) ? end + 1 : NULL;
	}
	if (port != NULL && port[0] != '\0' && strlen(port) <= 5 &&
	    strspn(port, "0123456789") == strlen(port))
		v = strtol(port, NULL, 10);
	else
		port = NULL;
	if (port == NULL || v > 65535) {
		cfg_errorf(
		    l, cfg_line(n),
		    "%s: \"%.100s\" is not host:port with a port from 0 to 65535 (e.g. "
		    "\"127.0.0.1:8788\", \"[::1]:8788\", \"0.0.0.0:8788\"; IPv6 in brackets)",
		    path, s);
		free(host);
		return;
	}
	free(c->listen_host);
	c->listen_host = host;
	c->listen_port = (int)v;
	l->listen_line = cfg_line(n);
}

/* log_level: one of the names log_level_parse() accepts. */
static void set_log_level(struct loader *l, const struct key_spec *k, const char *path,
			  yaml_node_t *n, void *field)
{
	const char *s = cfg_scalar(l, path, n, "a string");
	enum log_level level;

	if (s == NULL)
		return;
	if (log_level_parse(s, &level) != 0) {
		cfg_errorf(l, cfg_line(n),
			   "%s: \"%.64s\" is not a log level (allowed: debug, info, warn, error)",
			   path, s);
		return;
	}
	cfg_set_string(l, k, path, n, field);
}

/* match: a mapping of label -> PCRE2 pattern, compiled into a struct matcher_set. */
static void set_matchers(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field)
{
	struct matcher_set *set = field;
	char msg[256];

	(void)k;
	if (cfg_is_null(n))
		return;
	if (n->type != YAML_MAPPING_NODE) {
		cfg_errorf(l, cfg_line(n), "%s: expected a mapping of label: pattern, got %s", path,
			   n->type == YAML_SEQUENCE_NODE ? "a list" : "a string");
		return;
	}
	set->n = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	set->items = set->n ? xcalloc(set->n, sizeof(*set->items)) : NULL;
	for (size_t i = 0; i < set->n; i++) {
		yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
		const char *label = cfg_pair_key(l, n, p, path), *pattern;
		yaml_node_t *v = cfg_node(l, p->value);
		char where[256];

		if (label == NULL)
			continue;
		snprintf(where, sizeof(where), "%s.%s", path, label);
		set->items[i].label = xstrdup(label);
		pattern = cfg_scalar(l, where, v, "a regular expression string");
		if (pattern == NULL)
			continue;
		set->items[i].re = regex_new(pattern, msg, sizeof(msg));
		if (set->items[i].re == NULL)
			cfg_errorf(l, cfg_line(v), "%s: bad regex \"%.100s\": %s", where, pattern,
				   msg);
	}
}

/* environments[].name: [a-z0-9_-]+. */
static void set_env_name(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field)
{
	const char *s = cfg_scalar(l, path, n, "a string");

	if (s == NULL)
		return;
	if (s[0] == '\0' || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(s)) {
		cfg_errorf(
		    l, cfg_line(n),
		    "%s: \"%.64s\" is not a valid name (use lowercase letters, digits, _ and -)",
		    path, s);
		return;
	}
	cfg_set_string(l, k, path, n, field);
}

#define ENV_NAG_OFFSET offsetof(struct environment, nag_interval_s)

/* environments[].nag_interval: a duration, or "none" (one message, no nags). */
static void set_nag_interval(struct loader *l, const struct key_spec *k, const char *path,
			     yaml_node_t *n, void *field)
{
	struct environment *e = (struct environment *)((char *)field - ENV_NAG_OFFSET);
	const char *s = n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;

	if (s != NULL && (strcmp(s, "none") == 0 || strcmp(s, "off") == 0)) {
		e->nag_interval_set = true;
		e->nag_interval_s = 0;
		return;
	}
	e->nag_interval_s = -1;
	cfg_set_duration(l, k, path, n, field);
	if (e->nag_interval_s >= 0)
		e->nag_interval_set = true;
	else
		e->nag_interval_s = 0;
}

/* environments[].quiet_hours: "22:00-07:00" in UTC, or with " UTC", " +02:00" or a zone name. */
static void set_quiet_hours(struct loader *l, const struct key_spec *k, const char *path,
			    yaml_node_t *n, void *field)
{
	struct environment *e = field;
	const char *s = cfg_scalar(l, path, n, "a time range");
	char why[160];

	(void)k;
	if (s == NULL)
		return;
	if (quiet_parse(s, &e->quiet, why, sizeof(why)) < 0) {
		cfg_errorf(l, cfg_line(n),
			   "%s: bad time range \"%.64s\": %s (use \"HH:MM-HH:MM\" in UTC, optionally "
			   "followed by \" UTC\", an offset like \" +02:00\" or a time zone like \" "
			   "Europe/Berlin\")",
			   path, s, why);
		return;
	}
	e->quiet_set = true;
}

/* ack_words (top-level or per environment): a non-empty list of PCRE2 patterns, one regex. */
static void set_ack_words(struct loader *l, const struct key_spec *k, const char *path,
			  yaml_node_t *n, void *field)
{
	struct regex **ack_words = field;
	struct buf pat;
	char msg[160];
	size_t len;

	(void)k;
	if (n->type != YAML_SEQUENCE_NODE ||
	    (len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)) == 0) {
		cfg_errorf(l, cfg_line(n), "%s: expected a non-empty list of patterns", path);
		return;
	}
	buf_init(&pat, 0);
	buf_puts(&pat, "(?i)^\\s*(?:");
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *item = cfg_node(l, n->data.sequence.items.start[i]);
		const char *s = cfg_scalar(l, path, item, "a pattern");
		struct regex *one;
		if (s == NULL)
			continue;
		one = regex_new_interpreted(s, msg, sizeof(msg));
		if (one == NULL || s[0] == '\0') {
			cfg_errorf(l, cfg_line(item), "%s: bad pattern \"%.64s\": %s", path, s,
				   one ? "empty" : msg);
			regex_free(one);
			continue;
		}
		regex_free(one);
		buf_printf(&pat, "%s(?:%s)", i ? "|" : "", s);
	}
	buf_puts(&pat, ")[.!]?\\s*$");
	regex_free(*ack_words);
	*ack_words = regex_new(pat.data, msg, sizeof(msg));
	if (*ack_words == NULL)
		cfg_errorf(l, cfg_line(n), "%s: %s", path, msg);
	buf_release(&pat);
}

/* testing.clock_file: refused unless the environment says this is a test. */
static void set_test_clock(struct loader *l, const struct key_spec *k, const char *path,
			   yaml_node_t *n, void *field)
{
	const char *allow = getenv("NIGHTSHIFT_ALLOW_TEST_CLOCK");

	if (allow == NULL || strcmp(allow, "1") != 0) {
		cfg_errorf(l, cfg_line(n),
			   "%s: a test-only setting (it moves the escalation clock); it is refused "
			   "unless NIGHTSHIFT_ALLOW_TEST_CLOCK=1 is set in the environment",
			   path);
		return;
	}
	cfg_set_string(l, k, path, n, field);
}

/* fingerprint.labels: a non-empty list of distinct label names, replacing the defaults. */
static void set_fingerprint_labels(struct loader *l, const struct key_spec *k, const char *path,
				   yaml_node_t *n, void *field)
{
	struct config *c = field;
	size_t len;
	char **labels;

	(void)k;
	if (n->type != YAML_SEQUENCE_NODE && !cfg_is_null(n)) {
		cfg_errorf(l, cfg_line(n), "%s: expected a list of label names, got a %s", path,
			   n->type == YAML_MAPPING_NODE ? "mapping" : "string");
		return;
	}
	len = cfg_is_null(n) ? 0
			     : (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (len == 0) {
		cfg_errorf(l, cfg_line(n),
			   "%s: must list at least one label (remove the key for the defaults)",
			   path);
		return;
	}
	labels = xcalloc(len, sizeof(*labels));
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *item = cfg_node(l, n->data.sequence.items.start[i]);
		const char *s = cfg_scalar(l, path, item, "a label name");
		size_t j = 0;

		if (s != NULL && s[0] == '\0')
			cfg_errorf(l, cfg_line(item), "%s: label names must not be empty", path);
		if (s == NULL || s[0] == '\0')
			continue;
		while (j < i && !(labels[j] && strcmp(labels[j], s) == 0))
			j++;
		if (j < i)
			cfg_errorf(l, cfg_line(item), "%s: label \"%.64s\" is listed twice", path,
				   s);
		else
			labels[i] = xstrdup(s);
	}
	for (size_t i = 0; i < c->n_fingerprint_labels; i++)
		free(c->fingerprint_labels[i]);
	free(c->fingerprint_labels);
	c->fingerprint_labels = labels;
	c->n_fingerprint_labels = len;
}

/* channels: when present, only the channels listed in it are enabled. */
static void set_channels(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field)
{
	struct config *c = field;

	c->console.enabled = false;
	cfg_parse_map(l, k->sub, path, n, field);
}

/* channels.console: listed means enabled unless enabled: false. */
static void set_console(struct loader *l, const struct key_spec *k, const char *path,
			yaml_node_t *n, void *field)
{
	((struct channel_console_config *)field)->enabled = true;
	cfg_parse_map(l, k->sub, path, n, field);
}

/*
 * The key tables. Each entry: the key, its parser, the offset of its field in
 * the struct being filled (struct config unless noted), a range for numbers
 * and durations, and the nested table for sections.
 */
#define CFG(f)	   offsetof(struct config, f)
#define ENV(f)	   offsetof(struct environment, f)
#define NOISE(f)   offsetof(struct noise_rule, f)
#define CONSOLE(f) offsetof(struct channel_console_config, f)

/* clang-format off */
static const struct key_spec storage_keys[] = {
	{.name = "path", .fn = cfg_set_string, .offset = CFG(storage_path)},
	{0},
};

static const struct key_spec webhook_keys[] = {
	{.name = "token_env", .fn = cfg_set_secret_env, .offset = CFG(webhook_token)},
	{.name = "token_file", .fn = cfg_set_secret_file, .offset = CFG(webhook_token)},
	{.name = "max_body_bytes", .fn = cfg_set_size, .offset = CFG(webhook_max_body),
	 .min = 1024, .max = 64 << 20},
	{0},
};

/* Per environment (struct environment); a later per-environment setting is one line here. */
static const struct key_spec environment_keys[] = {
	{.name = "name", .fn = set_env_name, .offset = ENV(name)},
	{.name = "match", .fn = set_matchers, .offset = ENV(match)},
	{.name = "nag_interval", .fn = set_nag_interval, .offset = ENV(nag_interval_s), .min = 10,
	 .max = 7 * 86400},
	{.name = "max_nags", .fn = cfg_set_size, .offset = ENV(max_nags), .min = 1, .max = 1000},
	{.name = "targets", .fn = config_set_users, .offset = ENV(targets)},
	{.name = "widen_after", .fn = cfg_set_size, .offset = ENV(widen_after), .min = 1,
	 .max = 1000},
	{.name = "widen_to", .fn = config_set_users, .offset = ENV(widen_to)},
	{.name = "ack_timeout", .fn = cfg_set_duration, .offset = ENV(ack_timeout_s), .min = 60,
	 .max = 7 * 86400},
	{.name = "quiet_hours", .fn = set_quiet_hours},
	{.name = "ack_words", .fn = set_ack_words, .offset = ENV(ack_words)},
	{0},
};

static const struct key_spec testing_keys[] = {
	{.name = "clock_file", .fn = set_test_clock, .offset = CFG(test_clock_file)},
	{0},
};

static const struct key_spec noise_keys[] = {
	{.name = "reason", .fn = cfg_set_string, .offset = NOISE(reason)},
	{.name = "match", .fn = set_matchers, .offset = NOISE(match)},
	{0},
};

static const struct key_spec fingerprint_keys[] = {
	{.name = "labels", .fn = set_fingerprint_labels},
	{0},
};

static const struct key_spec triage_keys[] = {
	{.name = "flap_window", .fn = cfg_set_duration, .offset = CFG(flap_window_s),
	 .min = 1, .max = 30 * 86400},
	{0},
};

static const struct key_spec console_keys[] = {
	{.name = "enabled", .fn = cfg_set_bool, .offset = CONSOLE(enabled)},
	{.name = "color", .fn = cfg_set_bool, .offset = CONSOLE(color)},
	{0},
};

static const struct key_spec investigations_keys[] = {
	{.name = "workers", .fn = cfg_set_size, .offset = CFG(workers), .min = 1, .max = 64},
	{.name = "step_budget", .fn = cfg_set_size, .offset = CFG(step_budget), .min = 1, .max = 200},
	{.name = "deadline", .fn = cfg_set_duration, .offset = CFG(deadline_s), .min = 1,
	 .max = 3600},
	{.name = "tool_timeout", .fn = cfg_set_duration, .offset = CFG(tool_timeout_s), .min = 1,
	 .max = 600},
	{0},
};

static const struct key_spec playbooks_keys[] = {
	{.name = "dir", .fn = cfg_set_string, .offset = CFG(playbooks_dir)},
	{0},
};

/* One line per channel; each one's section is its own table. */
static const struct key_spec channel_keys[] = {
	{.name = "console", .fn = set_console, .offset = CFG(console), .sub = console_keys},
	{.name = "slack", .fn = config_set_slack, .offset = CFG(slack), .sub = config_slack_keys},
	{0},
};
/* clang-format on */

/* environments: ordered rules; names unique; the one without match is last (the default). */
static void set_environments(struct loader *l, const struct key_spec *k, const char *path,
			     yaml_node_t *n, void *field)
{
	struct config *c = field;
	const struct environment *dflt = NULL;

	(void)k;
	c->environments = cfg_parse_list(l, environment_keys, path, n, sizeof(struct environment),
					 offsetof(struct environment, line), &c->n_environments);
	for (size_t i = 0; i < c->n_environments; i++) {
		const struct environment *e = &c->environments[i];
		if (e->name == NULL) {
			cfg_errorf(l, e->line, "%s[%zu]: missing required key \"name\"", path, i);
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			if (c->environments[j].name &&
			    strcmp(c->environments[j].name, e->name) == 0) {
				cfg_errorf(l, e->line,
					   "%s[%zu]: duplicate name \"%s\" (first at line %d)",
					   path, i, e->name, c->environments[j].line);
				break;
			}
		}
		if (e->widen_to.n > 0 && e->widen_after == 0)
			cfg_errorf(l, e->line,
				   "%s[%zu]: widen_to needs widen_after (how many nags before each "
				   "widening)",
				   path, i);
		if (e->match.n > 0)
			continue;
		if (dflt != NULL) {
			cfg_errorf(
			    l, e->line,
			    "%s[%zu]: only one environment may omit match (the default), and "
			    "\"%s\" at line %d already does",
			    path, i, dflt->name, dflt->line);
			continue;
		}
		dflt = e;
		if (i + 1 != c->n_environments)
			cfg_errorf(
			    l, e->line,
			    "%s[%zu]: \"%s\" has no match, so it is the default and must be the "
			    "last entry (rules are tried in order and it matches everything)",
			    path, i, e->name);
	}
	if (dflt != NULL) {
		free(c->default_environment);
		c->default_environment = xstrdup(dflt->name);
	}
}

/* noise: ordered rules, each with a reason and a non-empty match. */
static void set_noise(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		      void *field)
{
	struct config *c = field;

	(void)k;
	c->noise = cfg_parse_list(l, noise_keys, path, n, sizeof(struct noise_rule),
				  offsetof(struct noise_rule, line), &c->n_noise);
	for (size_t i = 0; i < c->n_noise; i++) {
		if (c->noise[i].reason == NULL)
			cfg_errorf(l, c->noise[i].line, "%s[%zu]: missing required key \"reason\"",
				   path, i);
		if (c->noise[i].match.n == 0)
			cfg_errorf(l, c->noise[i].line,
				   "%s[%zu]: \"match\" is required and must not be empty (a rule "
				   "without conditions would drop every alert)",
				   path, i);
	}
}

/*
 * kubernetes.clusters[].server: http(s)://host[:port][/path], plain http only
 * for a loopback host (tests, the demo's simulated cluster).
 */
static void set_k8s_server(struct loader *l, const struct key_spec *k, const char *path,
			   yaml_node_t *n, void *field)
{
	const char *s = cfg_scalar(l, path, n, "a URL \"https://host:port\"");
	char why[256];

	if (s == NULL)
		return;
	if (k8s_check_server(s, why, sizeof(why)) != 0) {
		cfg_errorf(l, cfg_line(n), "%s: %s", path, why);
		return;
	}
	cfg_set_string(l, k, path, n, field);
}

/* kubernetes.clusters[].ca_file and .kubeconfig: a readable file. */
static void set_k8s_file(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field)
{
	const char *s = cfg_scalar(l, path, n, "a file path");
	char ebuf[128];

	if (s == NULL)
		return;
	if (s[0] != '\0' && access(s, R_OK) != 0) {
		cfg_errorf(l, cfg_line(n), "%s: cannot read \"%.200s\": %s", path, s,
			   strerror_r(errno, ebuf, sizeof(ebuf)));
		return;
	}
	cfg_set_string(l, k, path, n, field);
}

#define K8S(f) offsetof(struct k8s_cluster, f)

/* clang-format off */
static const struct key_spec k8s_cluster_keys[] = {
	{.name = "name", .fn = cfg_set_string, .offset = K8S(name)},
	{.name = "in_cluster", .fn = cfg_set_bool, .offset = K8S(in_cluster)},
	{.name = "server", .fn = set_k8s_server, .offset = K8S(server)},
	{.name = "token_env", .fn = cfg_set_secret_env, .offset = K8S(token)},
	{.name = "token_file", .fn = cfg_set_secret_file, .offset = K8S(token)},
	{.name = "ca_file", .fn = set_k8s_file, .offset = K8S(ca_file)},
	{.name = "kubeconfig", .fn = set_k8s_file, .offset = K8S(kubeconfig)},
	{.name = "context", .fn = cfg_set_string, .offset = K8S(context)},
	{0},
};
/* clang-format on */

/* Checks one cluster: exactly one way to reach it, and only the keys that way uses. */
static void check_k8s_cluster(struct loader *l, const char *path, size_t i,
			      const struct k8s_cluster *k)
{
	int ways = (int)k->in_cluster + (k->server != NULL) + (k->kubeconfig != NULL);
	bool token = k->token.env != NULL || k->token.file != NULL;

	if (ways != 1)
		cfg_errorf(l, k->line,
			   "%s[%zu]: set exactly one of in_cluster: true, server or kubeconfig "
			   "(%s)",
			   path, i, ways ? "several are set" : "none is set");
	if (ways == 1 && k->server == NULL && (token || k->ca_file != NULL))
		cfg_errorf(l, k->line,
			   "%s[%zu]: token_env, token_file and ca_file go with server only (%s "
			   "brings its own)",
			   path, i, k->in_cluster ? "in_cluster" : "the kubeconfig");
	if (ways == 1 && k->kubeconfig == NULL && k->context != NULL)
		cfg_errorf(l, k->line, "%s[%zu]: context goes with kubeconfig only", path, i);
}

/* kubernetes.clusters: a list of clusters with unique names. */
static void set_k8s_clusters(struct loader *l, const struct key_spec *k, const char *path,
			     yaml_node_t *n, void *field)
{
	struct config *c = field;

	(void)k;
	c->clusters = cfg_parse_list(l, k8s_cluster_keys, path, n, sizeof(struct k8s_cluster),
				     offsetof(struct k8s_cluster, line), &c->n_clusters);
	for (size_t i = 0; i < c->n_clusters; i++) {
		const struct k8s_cluster *e = &c->clusters[i];

		check_k8s_cluster(l, path, i, e);
		if (e->name == NULL) {
			cfg_errorf(l, e->line, "%s[%zu]: missing required key \"name\"", path, i);
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			if (c->clusters[j].name && strcmp(c->clusters[j].name, e->name) == 0) {
				cfg_errorf(l, e->line,
					   "%s[%zu]: duplicate name \"%.64s\" (first at line %d)",
					   path, i, e->name, c->clusters[j].line);
				break;
			}
		}
	}
}

/* clang-format off */
static const struct key_spec kubernetes_keys[] = {
	{.name = "default_cluster", .fn = cfg_set_string, .offset = CFG(default_cluster)},
	{.name = "clusters", .fn = set_k8s_clusters},
	{0},
};
/* clang-format on */

/* kubernetes: the clusters the read tools may query; default_cluster must name one. */
static void set_kubernetes(struct loader *l, const struct key_spec *k, const char *path,
			   yaml_node_t *n, void *field)
{
	struct config *c = field;
	int line = cfg_line(n);
	size_t i;

	cfg_parse_map(l, k->sub, path, n, field);
	if (c->default_cluster == NULL || n->type != YAML_MAPPING_NODE)
		return;
	for (i = 0; i < c->n_clusters; i++)
		if (c->clusters[i].name && strcmp(c->clusters[i].name, c->default_cluster) == 0)
			return;
	/* The line of the default_cluster value, for the message. */
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *key = cfg_node(l, p->key);
		if (key->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)key->data.scalar.value, "default_cluster") == 0)
			line = cfg_line(cfg_node(l, p->value));
	}
	cfg_errorf(l, line,
		   "%s.default_cluster: \"%.64s\" is not the name of a cluster in %s.clusters",
		   path, c->default_cluster, path);
}

/*
 * A Prometheus name: letters, digits and _ (and : for an alert name, colon
 * true), not starting with a digit, at most 128 bytes; what names it in errors.
 */
static void set_prom_name(struct loader *l, const struct key_spec *k, const char *path,
			  yaml_node_t *n, void *field, bool colon, const char *what)
{
	const char *s = cfg_scalar(l, path, n, what);
	size_t len = s ? strlen(s) : 0;

	if (s == NULL)
		return;
	if (len == 0 || len > 128 || isdigit((unsigned char)s[0]) ||
	    strspn(s, colon ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:"
			    : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
		len) {
		cfg_errorf(l, cfg_line(n), "%s: \"%.64s\" is not %s (letters, digits, _%s, e.g. %s)",
			   path, s, what, colon ? " and :" : "",
			   colon ? "\"Watchdog\"" : "\"cluster\"");
		return;
	}
	cfg_set_string(l, k, path, n, field);
}

/* watchdog.alertname: a Prometheus alert name ([a-zA-Z_:][a-zA-Z0-9_:]*). */
static void set_alertname(struct loader *l, const struct key_spec *k, const char *path,
			  yaml_node_t *n, void *field)
{
	set_prom_name(l, k, path, n, field, true, "an alert name");
}

/* watchdog.group_by: a label name ([a-zA-Z_][a-zA-Z0-9_]*). */
static void set_label_name(struct loader *l, const struct key_spec *k, const char *path,
			   yaml_node_t *n, void *field)
{
	set_prom_name(l, k, path, n, field, false, "a label name");
}

/*
 * heartbeat.url: https://…, or http:// on a loopback host; a query is allowed
 * (Uptime Kuma push URLs carry ?status=up), user:password is not. The URL may
 * hold a push token, so the message quotes only its scheme and host.
 */
static void set_heartbeat_url(struct loader *l, const struct key_spec *k, const char *path,
			      yaml_node_t *n, void *field)
{
	const char *s = cfg_scalar(l, path, n, "a URL \"https://host/path\"");
	char *scheme = NULL, *host = NULL, *user = NULL;
	CURLU *u;
	const char *why = NULL;

	if (s == NULL)
		return;
	u = curl_url();
	if (u == NULL)
		fatal("event=oom what=curl_url");
	if (strlen(s) > 2048 || curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		why = "is not a URL like https://host/path";
	else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		why = "only https:// URLs are allowed";
	else if (strcmp(scheme, "http") == 0 && !host_is_loopback(host))
		why = "plain http:// is allowed only for loopback addresses (127.0.0.1, ::1, "
		      "localhost); use https://";
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		why = "must not contain a user name or password (use token_env or token_file)";
	if (why != NULL)
		cfg_errorf(l, cfg_line(n), "%s: the URL %s", path, why);
	else
		cfg_set_string(l, k, path, n, field);
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
}

/* heartbeat.method: GET or POST. */
static void set_heartbeat_method(struct loader *l, const struct key_spec *k, const char *path,
				 yaml_node_t *n, void *field)
{
	const char *s = cfg_scalar(l, path, n, "GET or POST");

	if (s == NULL)
		return;
	if (strcmp(s, "GET") != 0 && strcmp(s, "POST") != 0) {
		cfg_errorf(l, cfg_line(n), "%s: \"%.32s\" is not allowed (GET or POST)", path, s);
		return;
	}
	cfg_set_string(l, k, path, n, field);
}

#define WD(f) offsetof(struct watchdog_config, f)
#define HB(f) offsetof(struct heartbeat_config, f)

/* clang-format off */
static const struct key_spec watchdog_keys[] = {
	{.name = "enabled", .fn = cfg_set_bool, .offset = WD(enabled)},
	{.name = "alertname", .fn = set_alertname, .offset = WD(alertname)},
	{.name = "timeout", .fn = cfg_set_duration, .offset = WD(timeout_s), .min = 1,
	 .max = 7 * 86400},
	{.name = "environment", .fn = set_env_name, .offset = WD(environment)},
	{.name = "match", .fn = set_matchers, .offset = WD(match)},
	{.name = "group_by", .fn = set_label_name, .offset = WD(group_by)},
	{0},
};

static const struct key_spec heartbeat_keys[] = {
	{.name = "url", .fn = set_heartbeat_url, .offset = HB(url), .required = true},
	{.name = "method", .fn = set_heartbeat_method, .offset = HB(method)},
	{.name = "interval", .fn = cfg_set_duration, .offset = HB(interval_s), .min = 1,
	 .max = 86400},
	{.name = "token_env", .fn = cfg_set_secret_env, .offset = HB(token)},
	{.name = "token_file", .fn = cfg_set_secret_file, .offset = HB(token)},
	{0},
};
/* clang-format on */

/* watchdog: present means configured (armed from start-up) and enabled unless enabled: false. */
static void set_watchdog(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field)
{
	struct watchdog_config *w = field;

	w->configured = true;
	w->enabled = true;
	cfg_parse_map(l, k->sub, path, n, field);
}

/* heartbeat: a mapping with at least url. */
static void set_heartbeat(struct loader *l, const struct key_spec *k, const char *path,
			  yaml_node_t *n, void *field)
{
	if (cfg_is_null(n)) {
		cfg_errorf(l, cfg_line(n), "%s: expected a mapping with at least url", path);
		return;
	}
	cfg_parse_map(l, k->sub, path, n, field);
}

/* clang-format off */
static const struct key_spec top_keys[] = {
	{.name = "listen", .fn = set_listen},
	{.name = "log_level", .fn = set_log_level, .offset = CFG(log_level)},
	{.name = "storage", .fn = cfg_set_section, .sub = storage_keys},
	{.name = "webhook", .fn = cfg_set_section, .sub = webhook_keys},
	{.name = "environments", .fn = set_environments},
	{.name = "noise", .fn = set_noise},
	{.name = "fingerprint", .fn = cfg_set_section, .sub = fingerprint_keys},
	{.name = "triage", .fn = cfg_set_section, .sub = triage_keys},
	{.name = "channels", .fn = set_channels, .sub = channel_keys},
	{.name = "investigations", .fn = cfg_set_section, .sub = investigations_keys},
	{.name = "playbooks", .fn = cfg_set_section, .sub = playbooks_keys},
	{.name = "kubernetes", .fn = set_kubernetes, .sub = kubernetes_keys},
	{.name = "watchdog", .fn = set_watchdog, .offset = CFG(watchdog), .sub = watchdog_keys},
	{.name = "heartbeat", .fn = set_heartbeat, .offset = CFG(heartbeat), .sub = heartbeat_keys},
	{.name = "testing", .fn = cfg_set_section, .sub = testing_keys},
	{.name = "ack_words", .fn = set_ack_words, .offset = CFG(ack_words)},
	{0},
};
/* clang-format on */

/* A config holding only the defaults. */
static struct config *config_defaults(const char *path)
{
	struct config *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(path);
	c->refs = 1;
	c->listen_host = xstrdup("127.0.0.1");
	c->listen_port = 8788;
	c->log_level = xstrdup("info");
	c->storage_path = xstrdup("nightshift.db");
	c->webhook_max_body = 1024 * 1024;
	c->default_environment = xstrdup("default");
	c->n_fingerprint_labels = ARRAY_LEN(default_fingerprint_labels);
	c->fingerprint_labels = xcalloc(c->n_fingerprint_labels, sizeof(char *));
	for (size_t i = 0; i < c->n_fingerprint_labels; i++)
		c->fingerprint_labels[i] = xstrdup(default_fingerprint_labels[i]);
	c->flap_window_s = 1800;
	c->console.enabled = true;
	config_slack_defaults(&c->slack);
	c->workers = 2;
	c->step_budget = 20;
	c->deadline_s = 120;
	c->tool_timeout_s = 10;
	c->playbooks_dir = xstrdup("playbooks");
	c->watchdog.enabled = true; /* armed once a first heartbeat has arrived (see watch.h) */
	c->watchdog.alertname = xstrdup("Watchdog");
	c->watchdog.timeout_s = 600;
	c->watchdog.environment = xstrdup("production");
	c->heartbeat.method = xstrdup("GET");
	c->heartbeat.interval_s = 60;
	return c;
}

/* Frees the matchers of s, not s itself. */
static void matcher_set_free(struct matcher_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->items[i].label);
		regex_free(s->items[i].re);
	}
	free(s->items);
}

/* Frees the ids of u, not u itself. */
static void user_list_free(struct slack_user_list *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->ids[i]);
	free(u->ids);
}

/* Frees c and everything it owns; the secret is wiped first. */
static void config_free(struct config *c)
{
	free(c->path);
	free(c->listen_host);
	free(c->log_level);
	free(c->storage_path);
	free(c->webhook_token.env);
	free(c->webhook_token.file);
	if (c->webhook_token.value != NULL)
		explicit_bzero(c->webhook_token.value, strlen(c->webhook_token.value));
	free(c->webhook_token.value);
	for (size_t i = 0; i < c->n_environments; i++) {
		free(c->environments[i].name);
		matcher_set_free(&c->environments[i].match);
		user_list_free(&c->environments[i].targets);
		user_list_free(&c->environments[i].widen_to);
		regex_free(c->environments[i].ack_words);
	}
	free(c->environments);
	free(c->default_environment);
	for (size_t i = 0; i < c->n_noise; i++) {
		free(c->noise[i].reason);
		matcher_set_free(&c->noise[i].match);
	}
	free(c->noise);
	for (size_t i = 0; i < c->n_fingerprint_labels; i++)
		free(c->fingerprint_labels[i]);
	free(c->fingerprint_labels);
	free(c->playbooks_dir);
	config_slack_free(&c->slack);
	for (size_t i = 0; i < c->n_clusters; i++) {
		struct k8s_cluster *k = &c->clusters[i];
		free(k->name);
		free(k->server);
		free(k->token.env);
		free(k->token.file);
		if (k->token.value != NULL)
			explicit_bzero(k->token.value, strlen(k->token.value));
		free(k->token.value);
		free(k->ca_file);
		free(k->kubeconfig);
		free(k->context);
	}
	free(c->clusters);
	free(c->default_cluster);
	free(c->watchdog.alertname);
	free(c->watchdog.environment);
	matcher_set_free(&c->watchdog.match);
	free(c->watchdog.group_by);
	free(c->heartbeat.url);
	free(c->heartbeat.method);
	free(c->heartbeat.token.env);
	free(c->heartbeat.token.file);
	if (c->heartbeat.token.value != NULL)
		explicit_bzero(c->heartbeat.token.value, strlen(c->heartbeat.token.value));
	free(c->heartbeat.token.value);
	free(c->test_clock_file);
	regex_free(c->ack_words);
	free(c);
}

struct config *config_load(const char *path, char *err, size_t errlen)
{
	struct loader l = {.file = path};
	struct config *c = config_defaults(path);
	char ebuf[128];
	size_t len;
	char *text;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	text = cfg_read_file(path, CONFIG_MAX_BYTES, &len);
	if (text == NULL)
		cfg_errorf(&l, 0, "cannot read the configuration: %s",
			   errno == EFBIG ? "larger than 1 MiB"
					  : strerror_r(errno, ebuf, sizeof(ebuf)));
	else
		cfg_parse_text(&l, text, len, top_keys, c);
	free(text);
	if (!host_is_loopback(c->listen_host) && c->webhook_token.env == NULL &&
	    c->webhook_token.file == NULL)
		cfg_errorf(&l, l.listen_line,
			   "listen: %s is not a loopback address, so webhook.token_env or "
			   "webhook.token_file is required (anyone who can reach the port could "
			   "post alerts)",
			   c->listen_host);
	if (l.n_errs > 0) {
		cfg_report(&l, err, errlen);
		config_free(c);
		return NULL;
	}
	return c;
}

struct config *config_ref(struct config *c)
{
	if (c != NULL)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void config_unref(struct config *c)
{
	if (c != NULL && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(c);
}

bool matcher_set_matches(const struct matcher_set *s, const struct kv_list *labels)
{
	for (size_t i = 0; i < s->n; i++) {
		const char *v = labels ? kv_list_get(labels, s->items[i].label) : NULL;
		if (s->items[i].re == NULL || !regex_matches(s->items[i].re, v ? v : ""))
			return false;
	}
	return true;
}

const char *config_environment_for(const struct config *c, const struct kv_list *labels)
{
	for (size_t i = 0; i < c->n_environments; i++)
		if (matcher_set_matches(&c->environments[i].match, labels))
			return c->environments[i].name;
	return c->default_environment;
}

static const struct environment *env_named(const struct config *c, const char *name)
{
	for (size_t i = 0; name && i < c->n_environments; i++)
		if (c->environments[i].name && strcmp(c->environments[i].name, name) == 0)
			return &c->environments[i];
	return NULL;
}

int64_t config_nag_interval_s(const struct config *c, const char *environment)
{
	const struct environment *e = env_named(c, environment);

	if (e != NULL && e->nag_interval_set)
		return e->nag_interval_s;
	return environment && strcmp(environment, "production") == 0 ? 600 : 0;
}

size_t config_max_nags(const struct config *c, const char *environment)
{
	const struct environment *e = env_named(c, environment);
	return e ? e->max_nags : 0;
}

const struct slack_user_list *config_targets(const struct config *c, const char *environment)
{
	const struct environment *e = env_named(c, environment);
	return e && e->targets.n > 0 ? &e->targets : &c->slack.escalation_users;
}

size_t config_widen_after(const struct config *c, const char *environment)
{
	const struct environment *e = env_named(c, environment);
	return e ? e->widen_after : 0;
}

const struct slack_user_list *config_widen_to(const struct config *c, const char *environment)
{
	static const struct slack_user_list none;
	const struct environment *e = env_named(c, environment);
	return e ? &e->widen_to : &none;
}

int64_t config_ack_timeout_s(const struct config *c, const char *environment)
{
	const struct environment *e = env_named(c, environment);
	return e ? e->ack_timeout_s : 0;
}

const struct quiet_hours *config_quiet_hours(const struct config *c, const char *environment)
{
	const struct environment *e = env_named(c, environment);
	return e && e->quiet_set ? &e->quiet : NULL;
}

const struct regex *config_ack_words(const struct config *c, const char *environment)
{
	const struct environment *e = env_named(c, environment);
	return e && e->ack_words ? e->ack_words : c->ack_words;
}

const struct noise_rule *config_noise_for(const struct config *c, const struct kv_list *labels)
{
	for (size_t i = 0; i < c->n_noise; i++)
		if (matcher_set_matches(&c->noise[i].match, labels))
			return &c->noise[i];
	return NULL;
}

const struct k8s_cluster *config_cluster_for(const struct config *c, const char *cluster_label)
{
	if (c->n_clusters == 0)
		return NULL;
	if (cluster_label != NULL && *cluster_label != '\0') {
		/* A cluster we do not know is not silently another one. */
		for (size_t i = 0; i < c->n_clusters; i++)
			if (strcmp(c->clusters[i].name, cluster_label) == 0)
				return &c->clusters[i];
		return NULL;
	}
	if (c->default_cluster != NULL)
		for (size_t i = 0; i < c->n_clusters; i++)
			if (strcmp(c->clusters[i].name, c->default_cluster) == 0)
				return &c->clusters[i];
	return &c->clusters[0];
}

bool config_is_heartbeat(const struct config *c, const struct alert *a)
{
	if (!c->watchdog.enabled)
		return false;
	if (c->watchdog.match.n > 0)
		return matcher_set_matches(&c->watchdog.match, &a->labels);
	return a->name != NULL && strcmp(a->name, c->watchdog.alertname) == 0;
}

bool host_is_loopback(const char *host)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	if (host == NULL)
		return false;
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, host, n);
	buf[n] = '\0';
	if (strcasecmp(buf, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, buf, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}
