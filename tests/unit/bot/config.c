/*
 * This file contains the unit tests for the YAML config loader (bot/config.c):
 * defaults, a full file, every error kind with its exact line, secrets from
 * the environment and from files, rule matching, reference counting and the
 * shipped example file. Config files are written into a mkdtemp directory.
 */
#include "harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "config.h"

static char tmpdir[64];
static char cfg_path[128];
static char err[8192];

/* Writes text to name inside tmpdir; returns its path in a static buffer (copy it to keep it). */
static const char *write_file(const char *name, const char *text, size_t len)
{
	static char path[192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fwrite(text, 1, len, f);
	fclose(f);
	return path;
}

/* Loads text as nightshift.yaml; err holds the errors. */
static struct config *load(const char *text)
{
	write_file("nightshift.yaml", text, strlen(text));
	err[0] = 'X';
	err[1] = '\0';
	return config_load(cfg_path, err, sizeof(err));
}

/* Loads text expecting failure: checks NULL is returned and err is filled. */
#define LOAD_FAILS(text)                                                                           \
	do {                                                                                       \
		struct config *c_ = load(text);                                                    \
		CHECK(c_ == NULL);                                                                 \
		CHECK(err[0] != '\0' && strcmp(err, "X") != 0);                                    \
		config_unref(c_);                                                                  \
	} while (0)

/* True when some line of err starts with "<cfg_path>:<line>: " and contains msg. */
static int err_has(int line, const char *msg)
{
	char prefix[256];
	const char *p = err;

	snprintf(prefix, sizeof(prefix), "%s:%d: ", cfg_path, line);
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		const char *hit = strstr(p, msg);
		if (strncmp(p, prefix, strlen(prefix)) == 0 && hit && hit < p + n)
			return 1;
		p += n + (eol != NULL);
	}
	return 0;
}

/* err has an error at line whose text contains msg. */
#define CHECK_ERR(line, msg)                                                                       \
	do {                                                                                       \
		if (!err_has((line), (msg))) {                                                     \
			harness_current_failed++;                                                  \
			fprintf(stderr,                                                            \
				"FAIL %s (%s:%d): no error at line %d containing \"%s\"\n",        \
				harness_current, __FILE__, __LINE__, (line), (msg));               \
			fprintf(stderr, "  errors were:\n%s\n", err);                              \
		}                                                                                  \
	} while (0)

/* Number of lines (errors) in err. */
static int err_lines(void)
{
	int n = err[0] ? 1 : 0;
	for (const char *p = err; *p; p++)
		n += *p == '\n';
	return n;
}

static void labels_set(struct kv_list *l, const char *k1, const char *v1, const char *k2,
		       const char *v2)
{
	kv_list_free(l);
	if (k1)
		kv_list_set(l, k1, v1);
	if (k2)
		kv_list_set(l, k2, v2);
}

static void test_defaults(void)
{
	struct config *c = load("# nothing but a comment\n");

	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(err, "");
	CHECK_STR(c->path, cfg_path);
	CHECK_INT(c->refs, 1);
	CHECK_STR(c->listen_host, "127.0.0.1");
	CHECK_INT(c->listen_port, 8788);
	CHECK_STR(c->log_level, "info");
	CHECK_STR(c->storage_path, "nightshift.db");
	CHECK(c->webhook_token.env == NULL && c->webhook_token.file == NULL);
	CHECK(c->webhook_token.value == NULL);
	CHECK_INT(c->webhook_max_body, 1048576);
	CHECK_INT(c->n_environments, 0);
	CHECK_STR(c->default_environment, "default");
	CHECK_INT(c->n_noise, 0);
	CHECK_INT(c->n_fingerprint_labels, 16);
	CHECK_STR(c->fingerprint_labels[0], "alertname");
	CHECK_STR(c->fingerprint_labels[13], "node");
	CHECK_STR(c->fingerprint_labels[15], "monitor");
	CHECK_INT(c->flap_window_s, 1800);
	CHECK(c->console.enabled);
	CHECK(!c->console.color);
	config_unref(c);

	/* A truly empty file and empty sections are defaults too. */
	c = load("");
	CHECK(c != NULL);
	config_unref(c);
	c = load("storage:\nwebhook:\ntriage: {}\n");
	CHECK(c != NULL);
	if (c)
		CHECK_STR(c->storage_path, "nightshift.db");
	config_unref(c);
}

static void test_full_valid(void)
{
	struct config *c;
	const char *tok = write_file("token", "s3cret-token\n", 13);
	char text[2048];

	snprintf(text, sizeof(text),
		 "listen: \"[::1]:9000\"\n"
		 "log_level: debug\n"
		 "storage:\n"
		 "  path: /var/lib/nightshift/state.db\n"
		 "webhook:\n"
		 "  token_file: %s\n"
		 "  max_body_bytes: 2048\n"
		 "environments:\n"
		 "  - name: production\n"
		 "    match:\n"
		 "      cluster: ^prod\n"
		 "      namespace: \".\"\n"
		 "  - name: staging\n"
		 "    match: {namespace: ^staging}\n"
		 "  - name: dev\n"
		 "noise:\n"
		 "  - reason: test tenants\n"
		 "    match:\n"
		 "      namespace: ^tenant-test-\n"
		 "fingerprint:\n"
		 "  labels: [alertname, cluster]\n"
		 "triage:\n"
		 "  flap_window: 1h30m\n"
		 "channels:\n"
		 "  console:\n"
		 "    enabled: yes\n"
		 "    color: On\n",
		 tok);
	c = load(text);
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK_STR(c->listen_host, "::1");
	CHECK_INT(c->listen_port, 9000);
	CHECK_STR(c->log_level, "debug");
	CHECK_STR(c->storage_path, "/var/lib/nightshift/state.db");
	CHECK_STR(c->webhook_token.value, "s3cret-token");
	CHECK(c->webhook_token.env == NULL);
	CHECK_INT(c->webhook_max_body, 2048);
	CHECK_INT(c->n_environments, 3);
	CHECK_STR(c->environments[0].name, "production");
	CHECK_INT(c->environments[0].line, 9);
	CHECK_INT(c->environments[0].match.n, 2);
	CHECK_STR(c->environments[0].match.items[0].label, "cluster");
	CHECK_STR(c->environments[2].name, "dev");
	CHECK_INT(c->environments[2].match.n, 0);
	CHECK_STR(c->default_environment, "dev");
	CHECK_INT(c->n_noise, 1);
	CHECK_STR(c->noise[0].reason, "test tenants");
	CHECK_INT(c->noise[0].line, 17);
	CHECK_INT(c->n_fingerprint_labels, 2);
	CHECK_STR(c->fingerprint_labels[1], "cluster");
	CHECK_INT(c->flap_window_s, 5400);
	CHECK(c->console.enabled);
	CHECK(c->console.color);
	config_unref(c);
}

static void test_unknown_keys(void)
{
	LOAD_FAILS("# comment\n"
		   "log_level: info\n"
		   "\n"
		   "storage:\n"
		   "  path: x.db\n"
		   "\n"
		   "listne: 0.0.0.0:80\n");
	CHECK_ERR(7, "unknown key \"listne\" in top level (allowed: listen, log_level, storage, "
		     "webhook, environments, noise, fingerprint, triage, channels, investigations, "
		     "playbooks, kubernetes, watchdog, heartbeat, testing, ack_words)");
	CHECK_INT(err_lines(), 1);

	LOAD_FAILS("webhook:\n  max_body_bytes: 4096\n  tokn_env: X\n");
	CHECK_ERR(3, "unknown key \"tokn_env\" in webhook (allowed: token_env, token_file, "
		     "max_body_bytes)");

	LOAD_FAILS("environments:\n  - name: a\n    matches: {x: y}\n");
	CHECK_ERR(3, "unknown key \"matches\" in environments[0] (allowed: name, match, nag_interval, "
		     "max_nags, targets, widen_after, widen_to, ack_timeout, quiet_hours, ack_words)");

	LOAD_FAILS("channels:\n  console: {}\n  teams:\n    enabled: true\n");
	CHECK_ERR(3, "unknown key \"teams\" in channels (allowed: console, slack)");

	LOAD_FAILS("channels:\n  console:\n    colour: true\n");
	CHECK_ERR(3, "unknown key \"colour\" in channels.console (allowed: enabled, color)");
}

static void test_multiple_errors(void)
{
	LOAD_FAILS("log_level: loud\n"
		   "storage:\n"
		   "  path: [a, b]\n"
		   "triage:\n"
		   "  flap_window: soon\n"
		   "bogus: 1\n");
	CHECK_ERR(1, "log_level: \"loud\" is not a log level (allowed: debug, info, warn, error)");
	CHECK_ERR(3, "storage.path: expected a string, got a list");
	CHECK_ERR(5, "triage.flap_window: bad duration \"soon\"");
	CHECK_ERR(6, "unknown key \"bogus\" in top level");
	CHECK_INT(err_lines(), 4);
	/* Sorted by line. */
	CHECK(strstr(err, ":1: ") < strstr(err, ":3: "));
	CHECK(strstr(err, ":5: ") < strstr(err, ":6: "));

	/* Cross-key checks run last but are still reported in line order. */
	LOAD_FAILS("listen: 0.0.0.0:8788\nbogus: 1\n");
	CHECK_ERR(1, "is not a loopback address");
	CHECK_ERR(2, "unknown key \"bogus\"");
	CHECK(strstr(err, ":1: ") != NULL && strstr(err, ":1: ") < strstr(err, ":2: "));

	/* A too-small buffer gets a truncated, terminated report. */
	{
		char small[16];
		write_file("nightshift.yaml", "bogus: 1\n", 9);
		CHECK(config_load(cfg_path, small, sizeof(small)) == NULL);
		CHECK_INT(strlen(small), 15);
		CHECK(config_load(cfg_path, NULL, 0) == NULL);
	}
}

static void test_duplicate_key(void)
{
	LOAD_FAILS("log_level: info\nlisten: 127.0.0.1:1\nlog_level: debug\n");
	CHECK_ERR(3, "duplicate key \"log_level\" in top level (first at line 1)");
	LOAD_FAILS("noise:\n  - reason: r\n    match:\n      a: x\n      a: y\n");
	CHECK_ERR(5, "duplicate key \"a\" in noise[0].match (first at line 4)");
}

static void test_inline_secret(void)
{
	LOAD_FAILS("webhook:\n  token: hunter2-very-secret\n");
	CHECK_ERR(2, "inline secret \"token\" in webhook is not allowed: put the name of an "
		     "environment variable in token_env, or the path of a file in token_file");
	CHECK(strstr(err, "hunter2") == NULL);

	/* A token pasted into token_env is refused without echoing it. */
	LOAD_FAILS("webhook:\n  token_env: \"hunter2/very+secret==\"\n");
	CHECK_ERR(2, "webhook.token_env: must be the name of an environment variable");
	CHECK(strstr(err, "hunter2") == NULL);
}

static void test_token_required(void)
{
	struct config *c;

	LOAD_FAILS("log_level: info\nlisten: 0.0.0.0:8788\n");
	CHECK_ERR(2, "listen: 0.0.0.0 is not a loopback address, so webhook.token_env or "
		     "webhook.token_file is required");
	LOAD_FAILS("listen: \"[::]:8788\"\n");
	CHECK_ERR(1, "listen: :: is not a loopback address");
	LOAD_FAILS("listen: nightshift.example.com:443\n");
	CHECK_ERR(1, "is not a loopback address");

	setenv("NS_TEST_TOKEN", "tok-123", 1);
	c = load("listen: 0.0.0.0:8788\nwebhook:\n  token_env: NS_TEST_TOKEN\n");
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->listen_host, "0.0.0.0");
		CHECK_STR(c->webhook_token.value, "tok-123");
	}
	config_unref(c);

	c = load("listen: localhost:8788\n");
	CHECK(c != NULL);
	config_unref(c);
	c = load("listen: 127.0.0.2:0\n");
	CHECK(c != NULL);
	if (c)
		CHECK_INT(c->listen_port, 0);
	config_unref(c);
	unsetenv("NS_TEST_TOKEN");
}

static void test_token_env(void)
{
	struct config *c;

	setenv("NS_TEST_TOKEN", "from-env", 1);
	c = load("webhook:\n  token_env: NS_TEST_TOKEN\n");
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->webhook_token.env, "NS_TEST_TOKEN");
		CHECK_STR(c->webhook_token.value, "from-env");
	}
	config_unref(c);

	setenv("NS_TEST_TOKEN", "", 1);
	LOAD_FAILS("webhook:\n\n  token_env: NS_TEST_TOKEN\n");
	CHECK_ERR(3, "webhook.token_env: environment variable NS_TEST_TOKEN is empty");

	unsetenv("NS_TEST_TOKEN");
	LOAD_FAILS("webhook:\n  token_env: NS_TEST_TOKEN\n");
	CHECK_ERR(2, "webhook.token_env: environment variable NS_TEST_TOKEN is not set");
}

static void test_token_file(void)
{
	struct config *c;
	char text[512], path[256], *big;

	snprintf(path, sizeof(path), "%s", write_file("tok2", "line1\n\n", 7));
	snprintf(text, sizeof(text), "webhook:\n  token_file: %s\n", path);
	c = load(text);
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->webhook_token.file, path);
		CHECK_STR(c->webhook_token.value, "line1\n"); /* only one newline stripped */
	}
	config_unref(c);

	snprintf(path, sizeof(path), "%s/no-such-token", tmpdir);
	snprintf(text, sizeof(text), "log_level: info\nwebhook:\n  token_file: %s\n", path);
	LOAD_FAILS(text);
	snprintf(text, sizeof(text),
		 "webhook.token_file: cannot read \"%s\": No such file or directory", path);
	CHECK_ERR(3, text);

	write_file("empty-token", "\n", 1);
	snprintf(text, sizeof(text), "webhook:\n  token_file: %s/empty-token\n", tmpdir);
	LOAD_FAILS(text);
	CHECK_ERR(2, "is empty");

	big = malloc(64 * 1024 + 1);
	memset(big, 'a', 64 * 1024 + 1);
	write_file("big-token", big, 64 * 1024 + 1);
	snprintf(text, sizeof(text), "webhook:\n  token_file: %s/big-token\n", tmpdir);
	LOAD_FAILS(text);
	CHECK_ERR(2, "is larger than 64 KiB");
	write_file("big-token", big, 64 * 1024); /* exactly 64 KiB is fine */
	c = load(text);
	CHECK(c != NULL);
	if (c)
		CHECK_INT(strlen(c->webhook_token.value), 64 * 1024);
	config_unref(c);
	free(big);

	setenv("NS_TEST_TOKEN", "x", 1);
	snprintf(text, sizeof(text),
		 "webhook:\n  token_env: NS_TEST_TOKEN\n  token_file: %s/big-token\n", tmpdir);
	LOAD_FAILS(text);
	CHECK_ERR(3, "webhook.token_file: set either webhook.token_env or webhook.token_file, "
		     "not both");
	unsetenv("NS_TEST_TOKEN");
}

static void test_environments(void)
{
	struct kv_list labels = {0};
	struct config *c = load("environments:\n"
				"  - name: production\n"
				"    match:\n"
				"      cluster: ^prod\n"
				"  - name: staging\n"
				"    match:\n"
				"      namespace: ^staging\n"
				"      cluster: \"\"\n"
				"  - name: dev\n");
	CHECK(c != NULL);
	if (c == NULL)
		return;
	labels_set(&labels, "cluster", "prod-eu-1", "namespace", "staging-x");
	CHECK_STR(config_environment_for(c, &labels), "production");
	labels_set(&labels, "cluster", "eu-prod", "namespace", "staging-x");
	CHECK_STR(config_environment_for(c, &labels), "staging");
	labels_set(&labels, "namespace", "staging-x", NULL, NULL); /* no cluster: matched as "" */
	CHECK_STR(config_environment_for(c, &labels), "staging");
	labels_set(&labels, "namespace", "default", NULL, NULL);
	CHECK_STR(config_environment_for(c, &labels), "dev");
	CHECK_STR(config_environment_for(c, NULL), "dev");
	config_unref(c);

	/* Without a default entry, unmatched alerts get "default". */
	c = load("environments:\n  - name: production\n    match: {cluster: ^prod}\n");
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(config_environment_for(c, &labels), "default");
		CHECK_STR(c->default_environment, "default");
		/* cluster is missing: matched as "", which ^prod does not match. */
		struct matcher_set s = c->environments[0].match;
		CHECK(!matcher_set_matches(&s, &labels));
	}
	config_unref(c);
	kv_list_free(&labels);

	LOAD_FAILS("environments:\n  - name: dev\n  - name: production\n    match: {cluster: x}\n");
	CHECK_ERR(2, "environments[0]: \"dev\" has no match, so it is the default and must be the "
		     "last entry");
	LOAD_FAILS("environments:\n  - name: a\n  - name: b\n");
	CHECK_ERR(2, "environments[0]: \"a\" has no match");
	CHECK_ERR(3, "environments[1]: only one environment may omit match (the default), and "
		     "\"a\" at line 2 already does");
	LOAD_FAILS(
	    "environments:\n  - name: a\n    match: {x: y}\n  - name: a\n    match: {x: z}\n");
	CHECK_ERR(4, "environments[1]: duplicate name \"a\" (first at line 2)");
	LOAD_FAILS("environments:\n  - name: Prod env\n    match: {x: y}\n");
	CHECK_ERR(2, "environments[0].name: \"Prod env\" is not a valid name (use lowercase "
		     "letters, digits, _ and -)");
	LOAD_FAILS("environments:\n  - match: {x: y}\n");
	CHECK_ERR(2, "environments[0]: missing required key \"name\"");
	LOAD_FAILS("environments:\n  name: a\n");
	CHECK_ERR(2, "environments: expected a list (\"- \" entries), got a mapping");
}

static void test_missing_label_matches_empty(void)
{
	struct kv_list labels = {0};
	struct config *c = load("noise:\n  - reason: no team\n    match: {team: \"^$\"}\n");

	CHECK(c != NULL);
	if (c == NULL)
		return;
	labels_set(&labels, "alertname", "X", NULL, NULL);
	CHECK(config_noise_for(c, &labels) == &c->noise[0]);
	labels_set(&labels, "team", "sre", NULL, NULL);
	CHECK(config_noise_for(c, &labels) == NULL);
	kv_list_free(&labels);
	config_unref(c);
}

static void test_noise(void)
{
	struct kv_list labels = {0};
	const struct noise_rule *r;
	struct config *c = load("noise:\n"
				"  - reason: tenant tests\n"
				"    match:\n"
				"      namespace: ^tenant-test-\n"
				"  - reason: heartbeat\n"
				"    match: {alertname: ^Watchdog$}\n");
	CHECK(c != NULL);
	if (c == NULL)
		return;
	labels_set(&labels, "namespace", "tenant-test-42", "alertname", "KubePodCrashLooping");
	r = config_noise_for(c, &labels);
	CHECK(r != NULL);
	if (r)
		CHECK_STR(r->reason, "tenant tests");
	labels_set(&labels, "namespace", "payments", "alertname", "Watchdog");
	r = config_noise_for(c, &labels);
	CHECK(r != NULL);
	if (r)
		CHECK_STR(r->reason, "heartbeat");
	labels_set(&labels, "namespace", "tenant-prod-1", "alertname", "WatchdogX");
	CHECK(config_noise_for(c, &labels) == NULL);
	kv_list_free(&labels);
	config_unref(c);

	LOAD_FAILS("noise:\n  - reason: everything\n  - reason: empty\n    match: {}\n"
		   "  - match: {a: b}\n");
	CHECK_ERR(2, "noise[0]: \"match\" is required and must not be empty");
	CHECK_ERR(3, "noise[1]: \"match\" is required and must not be empty");
	CHECK_ERR(5, "noise[2]: missing required key \"reason\"");
}

static void test_bad_regex(void)
{
	LOAD_FAILS("environments:\n"
		   "  - name: production\n"
		   "    match:\n"
		   "      cluster: \"^(prod\"\n");
	CHECK_ERR(4, "environments[0].match.cluster: bad regex \"^(prod\": missing closing "
		     "parenthesis at offset 6");
	LOAD_FAILS("noise:\n  - reason: r\n    match:\n      a: [x]\n");
	CHECK_ERR(4, "noise[0].match.a: expected a regular expression string, got a list");
}

static void test_bad_duration(void)
{
	struct config *c;

	LOAD_FAILS("triage:\n  flap_window: 30x\n");
	CHECK_ERR(2, "triage.flap_window: bad duration \"30x\" (use numbers with units s, m, h, d, "
		     "e.g. \"90s\", \"30m\", \"1h30m\")");
	LOAD_FAILS("triage:\n  flap_window: 0s\n");
	CHECK_ERR(2, "triage.flap_window: \"0s\" is out of range");
	LOAD_FAILS("triage:\n  flap_window: 30\n");
	CHECK_ERR(2, "bad duration \"30\"");
	c = load("triage:\n  flap_window: 90s\n");
	CHECK(c != NULL);
	if (c)
		CHECK_INT(c->flap_window_s, 90);
	config_unref(c);
}

static void test_watchdog(void)
{
	struct config *c = load("log_level: info\n");

	/* Absent: recognised, armed only after a first heartbeat (not configured). */
	CHECK(c != NULL);
	if (c) {
		CHECK(c->watchdog.enabled);
		CHECK(!c->watchdog.configured);
		CHECK_STR(c->watchdog.alertname, "Watchdog");
		CHECK_INT(c->watchdog.timeout_s, 600);
		CHECK_STR(c->watchdog.environment, "production");
	}
	config_unref(c);
	c = load("watchdog:\n  alertname: DeadMansSwitch\n  timeout: 2s\n  environment: prod\n");
	CHECK(c != NULL);
	if (c) {
		CHECK(c->watchdog.enabled);
		CHECK(c->watchdog.configured);
		CHECK_STR(c->watchdog.alertname, "DeadMansSwitch");
		CHECK_INT(c->watchdog.timeout_s, 2);
		CHECK_STR(c->watchdog.environment, "prod");
	}
	config_unref(c);
	c = load("watchdog: {enabled: false}\n");
	CHECK(c != NULL);
	if (c)
		CHECK(!c->watchdog.enabled);
	config_unref(c);
	c = load("watchdog:\n");
	CHECK(c != NULL && c->watchdog.configured && c->watchdog.enabled);
	config_unref(c);

	LOAD_FAILS("log_level: info\nwatchdog:\n  timeout: 10\n  alertname: \"bad name\"\n"
		   "  enabeld: true\n  environment: Prod!\n");
	CHECK_ERR(3, "watchdog.timeout: bad duration \"10\"");
	CHECK_ERR(4, "watchdog.alertname: \"bad name\" is not an alert name");
	CHECK_ERR(5, "unknown key \"enabeld\" in watchdog (allowed: enabled, alertname, timeout, "
		     "environment, match, group_by)");
	CHECK_ERR(6, "watchdog.environment: \"Prod!\" is not a valid name");
	LOAD_FAILS("watchdog:\n  group_by: bad-label\n  match: {cluster: \"(\"}\n");
	CHECK_ERR(2, "watchdog.group_by: \"bad-label\" is not a label name");
	CHECK_ERR(3, "watchdog.match.cluster: bad regex");
	LOAD_FAILS("watchdog:\n  timeout: 0s\n");
	CHECK_ERR(2, "watchdog.timeout: \"0s\" is out of range");
	LOAD_FAILS("watchdog: [Watchdog]\n");
	CHECK(err_lines() >= 1);
}

static void test_heartbeat(void)
{
	struct config *c = load("log_level: info\n");

	CHECK(c != NULL);
	if (c) {
		CHECK(c->heartbeat.url == NULL);
		CHECK_STR(c->heartbeat.method, "GET");
		CHECK_INT(c->heartbeat.interval_s, 60);
	}
	config_unref(c);
	setenv("NS_UNIT_HB_TOKEN", "hb-unit-secret", 1);
	c = load("heartbeat:\n  url: https://status.example.com/api/push/abc?status=up&msg=OK\n"
		 "  method: POST\n  interval: 30s\n  token_env: NS_UNIT_HB_TOKEN\n");
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->heartbeat.url, "https://status.example.com/api/push/abc?status=up&msg=OK");
		CHECK_STR(c->heartbeat.method, "POST");
		CHECK_INT(c->heartbeat.interval_s, 30);
		CHECK_STR(c->heartbeat.token.value, "hb-unit-secret");
	}
	config_unref(c);
	c = load("heartbeat: {url: \"http://127.0.0.1:9/ping\"}\n");
	CHECK(c != NULL);
	config_unref(c);

	LOAD_FAILS("log_level: info\nheartbeat:\n  url: http://status.example.com/ping\n"
		   "  method: PUT\n  interval: 0s\n  token_env: NS_UNIT_HB_UNSET_VAR\n"
		   "  timeout: 5s\n");
	CHECK_ERR(3, "heartbeat.url: the URL plain http:// is allowed only for loopback");
	CHECK_ERR(4, "heartbeat.method: \"PUT\" is not allowed (GET or POST)");
	CHECK_ERR(5, "heartbeat.interval: \"0s\" is out of range");
	CHECK_ERR(6, "NS_UNIT_HB_UNSET_VAR");
	CHECK_ERR(7, "unknown key \"timeout\" in heartbeat");
	LOAD_FAILS("heartbeat:\n  method: GET\n");
	CHECK_ERR(2, "heartbeat: missing required key \"url\"");
	LOAD_FAILS("heartbeat:\n  url: ftp://example.com/x\n");
	CHECK_ERR(2, "heartbeat.url: the URL only https:// URLs are allowed");
	LOAD_FAILS("heartbeat:\n  url: https://user:pw@example.com/x\n");
	CHECK_ERR(2, "must not contain a user name or password");
	CHECK(strstr(err, "pw@") == NULL); /* the URL is not echoed */
	LOAD_FAILS("heartbeat:\n  url: not a url\n");
	CHECK_ERR(2, "heartbeat.url: the URL is not a URL");
	LOAD_FAILS("heartbeat:\n");
	CHECK_ERR(1, "heartbeat: expected a mapping with at least url");
}

static void test_bad_listen(void)
{
	/* clang-format off */
	static const char *const bad[] = {
		"listen: 127.0.0.1:70000\n",
		"listen: 127.0.0.1:123456\n",
		"listen: 127.0.0.1:-1\n",
		"listen: 127.0.0.1:8o\n",
		"listen: 127.0.0.1\n",
		"listen: \"127.0.0.1:\"\n",
		"listen: \"::1:8788\"\n",      /* IPv6 without brackets */
		"listen: \"[::1]\"\n",
		"listen: \"[nope]:80\"\n",
		"listen: 127.1:80\n",          /* looks like an address, is not one */
		"listen: ho st:80\n",
	};
	/* clang-format on */
	struct config *c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		LOAD_FAILS(bad[i]);
		CHECK_ERR(1, "listen: \"");
		CHECK_CONTAINS(err, "is not host:port with a port from 0 to 65535");
	}
	LOAD_FAILS("log_level: info\nlisten: 127.0.0.1:65536\n");
	CHECK_ERR(2, "listen: \"127.0.0.1:65536\" is not host:port with a port from 0 to 65535");
	LOAD_FAILS("listen:\n  - 127.0.0.1:80\n");
	CHECK_ERR(2, "listen: expected a string \"host:port\", got a list");

	c = load("listen: 127.0.0.1:65535\n");
	CHECK(c != NULL);
	if (c)
		CHECK_INT(c->listen_port, 65535);
	config_unref(c);
}

static void test_types(void)
{
	struct config *c;

	LOAD_FAILS("storage: nightshift.db\n");
	CHECK_ERR(1, "storage: expected a mapping (key: value lines), got a string");
	LOAD_FAILS("log_level:\n");
	CHECK_ERR(1, "log_level: expected a string, got nothing");
	LOAD_FAILS("storage:\n  path: \"\"\n");
	CHECK_ERR(2, "storage.path: must not be empty");
	LOAD_FAILS("channels:\n  console:\n    enabled: maybe\n");
	CHECK_ERR(3, "channels.console.enabled: expected true or false (or yes/no, on/off), got "
		     "\"maybe\"");
	LOAD_FAILS("webhook:\n  max_body_bytes: 1M\n");
	CHECK_ERR(2, "webhook.max_body_bytes: expected a decimal integer from 1024 to 67108864, "
		     "got \"1M\"");
	LOAD_FAILS("webhook:\n  max_body_bytes: 1023\n");
	CHECK_ERR(2, "got \"1023\"");
	LOAD_FAILS("webhook:\n  max_body_bytes: 0x400\n");
	CHECK_ERR(2, "got \"0x400\"");
	LOAD_FAILS("webhook:\n  max_body_bytes: 99999999999999999999999\n");
	CHECK_ERR(2, "webhook.max_body_bytes: expected a decimal integer");
	LOAD_FAILS("- a\n- b\n");
	CHECK_ERR(1, "the top level must be a mapping (key: value lines), got a list");
	LOAD_FAILS("fingerprint:\n  labels: []\n");
	CHECK_ERR(2, "fingerprint.labels: must list at least one label");
	LOAD_FAILS("fingerprint:\n  labels: [a, b, a]\n");
	CHECK_ERR(2, "fingerprint.labels: label \"a\" is listed twice");
	LOAD_FAILS("fingerprint:\n  labels: alertname\n");
	CHECK_ERR(2, "fingerprint.labels: expected a list of label names, got a string");

	c = load("webhook:\n  max_body_bytes: 67108864\nchannels:\n  console:\n    color: NO\n");
	CHECK(c != NULL);
	if (c) {
		CHECK_INT(c->webhook_max_body, 67108864);
		CHECK(!c->console.color);
	}
	config_unref(c);
}

static void test_syntax_error(void)
{
	LOAD_FAILS("log_level: info\nstorage:\n  path: x\n\tbad: tab\n");
	CHECK_ERR(4, "YAML syntax error: found a tab character that violates indentation");
	LOAD_FAILS("log_level: info\nenvironments:\n  - name: a\n    match: {cluster: \"x\"\n"
		   "  - name: b\n");
	CHECK_ERR(5, "YAML syntax error: did not find expected ',' or '}' (while parsing a flow "
		     "mapping at line 4)");
	LOAD_FAILS("log_level: info\n---\nlog_level: debug\n");
	CHECK_ERR(2, "only one YAML document is allowed");
	LOAD_FAILS("listen: \xff\n");
	CHECK_ERR(1, "YAML syntax error: invalid leading UTF-8 octet");
}

static void test_channels(void)
{
	struct config *c;

	c = load("log_level: warn\n");
	CHECK(c && c->console.enabled);
	config_unref(c);
	c = load("channels:\n  console: {}\n");
	CHECK(c && c->console.enabled && !c->console.color);
	config_unref(c);
	c = load("channels:\n  console:\n");
	CHECK(c && c->console.enabled);
	config_unref(c);
	c = load("channels:\n  console:\n    enabled: off\n");
	CHECK(c && !c->console.enabled);
	config_unref(c);
	c = load("channels: {}\n");
	CHECK(c && !c->console.enabled);
	config_unref(c);
}

static void test_slack(void)
{
	struct config *c;

	setenv("NS_TEST_XAPP", "xapp-1-test", 1);
	setenv("NS_TEST_XOXB", "xoxb-test", 1);
	c = load("channels:\n"
		 "  slack:\n"
		 "    app_token_env: NS_TEST_XAPP\n"
		 "    bot_token_env: NS_TEST_XOXB\n"
		 "    channel: C0123ABC\n"
		 "    api_url: http://127.0.0.1:9/api\n"
		 "    allowed_users: [U1ABC, W2DEF]\n"
		 "    escalation_users: [U1ABC]\n");
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(c->slack.enabled && !c->console.enabled);
		CHECK_STR(c->slack.api_url, "http://127.0.0.1:9/api/");
		CHECK_STR(c->slack.app_token.value, "xapp-1-test");
		CHECK_STR(c->slack.bot_token.value, "xoxb-test");
		CHECK_STR(c->slack.channel, "C0123ABC");
		CHECK_INT(c->slack.allowed_users.n, 2);
		CHECK(config_slack_user_in(&c->slack.allowed_users, "W2DEF"));
		CHECK(!config_slack_user_in(&c->slack.allowed_users, "U9"));
		CHECK_INT(c->slack.escalation_users.n, 1);
		CHECK_INT(c->slack.post_interval_ms, 1000);
	}
	config_unref(c);
	c = load("log_level: info\n");
	CHECK(c && !c->slack.enabled);
	CHECK(c && strcmp(c->slack.api_url, "https://slack.com/api/") == 0);
	config_unref(c);
	c = load("channels:\n  slack:\n    enabled: false\n");
	CHECK(c && !c->slack.enabled);
	config_unref(c);

	LOAD_FAILS("channels:\n  slack:\n    channel: C1\n");
	CHECK_ERR(3, "app_token_env or app_token_file is required");
	CHECK_ERR(3, "bot_token_env or bot_token_file is required");
	LOAD_FAILS("channels:\n"
		   "  slack:\n"
		   "    app_token_env: NS_TEST_XOXB\n"
		   "    bot_token_env: NS_TEST_XAPP\n"
		   "    channel: '#incidents'\n"
		   "    api_url: http://slack.example.com/api/\n"
		   "    allowed_users: [jane, U1, U1]\n"
		   "    tokn: x\n");
	CHECK_ERR(3, "does not start with xapp-");
	CHECK_ERR(3, "does not start with xoxb-");
	CHECK_ERR(5, "is not a Slack channel id");
	CHECK_ERR(6, "plain http:// is allowed only for loopback");
	CHECK_ERR(7, "\"jane\" is not a Slack user id");
	CHECK_ERR(7, "listed twice");
	CHECK_ERR(8, "tokn");
	CHECK(strstr(err, "xapp-1-test") == NULL && strstr(err, "xoxb-test") == NULL);
	unsetenv("NS_TEST_XAPP");
	unsetenv("NS_TEST_XOXB");
}

static void test_unreadable_config(void)
{
	char path[192], want[256];

	snprintf(path, sizeof(path), "%s/missing.yaml", tmpdir);
	CHECK(config_load(path, err, sizeof(err)) == NULL);
	snprintf(want, sizeof(want), "%s: cannot read the configuration: No such file or directory",
		 path);
	CHECK_STR(err, want);
}

static void test_refcount(void)
{
	struct config *c = load("");

	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK(config_ref(c) == c);
	CHECK_INT(c->refs, 2);
	config_unref(c);
	CHECK_INT(c->refs, 1);
	config_unref(c); /* freed: ASan reports a leak or double free if this is wrong */
	config_unref(NULL);
	CHECK(config_ref(NULL) == NULL);
}

static void test_host_is_loopback(void)
{
	CHECK(host_is_loopback("127.0.0.1"));
	CHECK(host_is_loopback("127.255.3.4"));
	CHECK(host_is_loopback("::1"));
	CHECK(host_is_loopback("[::1]"));
	CHECK(host_is_loopback("localhost"));
	CHECK(host_is_loopback("LocalHost"));
	CHECK(host_is_loopback("0:0:0:0:0:0:0:1"));
	CHECK(!host_is_loopback("0.0.0.0"));
	CHECK(!host_is_loopback("::"));
	CHECK(!host_is_loopback("[::]"));
	CHECK(!host_is_loopback("128.0.0.1"));
	CHECK(!host_is_loopback("10.0.0.1"));
	CHECK(!host_is_loopback("localhost.example.com"));
	CHECK(!host_is_loopback("example.com"));
	CHECK(!host_is_loopback(""));
	CHECK(!host_is_loopback(NULL));
}

static void test_example_file(void)
{
	static const char *const candidates[] = {
	    "contrib/nightshift.example.yaml",
	    "../contrib/nightshift.example.yaml",
	    "../../contrib/nightshift.example.yaml",
	    "../../../contrib/nightshift.example.yaml",
	};
	struct kv_list labels = {0};
	struct config *c = NULL;
	const char *path = NULL;

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]) && !path; i++)
		if (access(candidates[i], R_OK) == 0)
			path = candidates[i];
	CHECK(path != NULL);
	if (path == NULL)
		return;
	c = config_load(path, err, sizeof(err));
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK_INT(c->n_environments, 3);
	CHECK_STR(c->default_environment, "dev");
	labels_set(&labels, "cluster", "prod-us-east-1", NULL, NULL);
	CHECK_STR(config_environment_for(c, &labels), "production");
	labels_set(&labels, "cluster", "eks-2", "namespace", "staging-api");
	CHECK_STR(config_environment_for(c, &labels), "staging");
	labels_set(&labels, "namespace", "tenant-test-7", NULL, NULL);
	CHECK(config_noise_for(c, &labels) != NULL);
	CHECK_INT(c->n_fingerprint_labels, 16);
	CHECK_INT(c->flap_window_s, 1800);
	CHECK(c->console.enabled);
	kv_list_free(&labels);
	config_unref(c);
}

/* Removes tmpdir and everything in it. */
static void cleanup(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(tmpdir);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nightshift-config-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(cfg_path, sizeof(cfg_path), "%s/nightshift.yaml", tmpdir);
	unsetenv("NS_TEST_TOKEN");

	RUN(test_defaults);
	RUN(test_full_valid);
	RUN(test_unknown_keys);
	RUN(test_multiple_errors);
	RUN(test_duplicate_key);
	RUN(test_inline_secret);
	RUN(test_token_required);
	RUN(test_token_env);
	RUN(test_token_file);
	RUN(test_environments);
	RUN(test_missing_label_matches_empty);
	RUN(test_noise);
	RUN(test_bad_regex);
	RUN(test_bad_duration);
	RUN(test_watchdog);
	RUN(test_heartbeat);
	RUN(test_bad_listen);
	RUN(test_types);
	RUN(test_syntax_error);
	RUN(test_channels);
	RUN(test_slack);
	RUN(test_unreadable_config);
	RUN(test_refcount);
	RUN(test_host_is_loopback);
	RUN(test_example_file);
	cleanup();
	return harness_done();
}
