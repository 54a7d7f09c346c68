/*
 * This file contains the configuration model: one YAML file (libyaml), read
 * whole at start-up and on SIGHUP. Every error names file:line and what is
 * allowed, all errors are reported in one pass, unknown keys are errors.
 * Secrets are never inline: *_env names an environment variable, *_file a
 * file; config_load() resolves them into the *_value fields.
 *
 * A struct config is immutable once loaded; the running bot shares it across
 * threads by reference count (config_ref / config_unref).
 */
#ifndef NIGHTSHIFT_CONFIG_H
#define NIGHTSHIFT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quiet.h"

struct regex;

/* One "label: pattern" condition; a rule matches when all of its matchers do. */
struct matcher {
	char *label;         /* owned; label name, e.g. "namespace" or "alertname" */
	struct regex *re;    /* owned */
};

struct matcher_set {
	struct matcher *items; /* owned */
	size_t n;
};

/* A list of Slack user ids (U… / W…). */
struct slack_user_list {
	char **ids; /* owned */
	size_t n;
};

struct environment {
	char *name;              /* owned, e.g. "production" */
	struct matcher_set match; /* empty = matches everything (the default) */
	/* Escalation (README "Escalation"): nags every nag_interval_s while unacknowledged. */
	bool nag_interval_set;   /* false: the default (production 10 min, others none) */
	int64_t nag_interval_s;  /* 0 = none: the report is the one message */
	size_t max_nags;         /* 0 = no cap */
	struct slack_user_list targets; /* mentioned on escalation; empty = channels.slack.escalation_users */
	size_t widen_after;      /* after this many nags, nags mention the channel (<!here>); 0 = never */
	struct slack_user_list widen_to; /* reached one more per widen_after nags (mention + DM) */
	int64_t ack_timeout_s;   /* acknowledged but untouched this long: escalated again; 0 = off */
	bool quiet_set;          /* quiet_hours: no nags for non-critical severities … */
	struct quiet_hours quiet; /* … in this window of local time */
	struct regex *ack_words; /* owned or NULL: the top-level ack_words */
	int line;
};

struct noise_rule {
	char *reason;            /* owned; shown in the dismissal */
	struct matcher_set match;
	int line;
};

/* A secret given as *_env or *_file; value resolved by config_load(). */
struct secret {
	char *env;    /* owned or NULL */
	char *file;   /* owned or NULL */
	char *value;  /* owned or NULL when neither is set; never logged */
};

struct channel_console_config {
	bool enabled;
	bool color; /* ANSI colours when stdout is a terminal */
};

/* channels.slack (see README "Connect Slack in five minutes"). */
struct channel_slack_config {
	bool enabled;
	char *api_url;          /* owned; ends with '/'; https://slack.com/api/ by default */
	struct secret app_token; /* xapp-…: apps.connections.open (Socket Mode) */
	struct secret bot_token; /* xoxb-…: every other Web API call */
	char *channel;          /* owned; the channel id incidents are posted in */
	struct slack_user_list allowed_users;    /* may act (ack, resolve, …); empty = anyone */
	struct slack_user_list escalation_users; /* DM'd on escalation */
	size_t post_interval_ms; /* pacing of chat.postMessage per channel; 1000 by default */
};

/* True when id is in the list. */
bool config_slack_user_in(const struct slack_user_list *u, const char *id);

/* One Kubernetes cluster the read tools may query (see tools/README.md). */
struct k8s_cluster {
	char *name;        /* owned; matched against the alert's cluster label */
	bool in_cluster;   /* service account of the pod nightshift runs in */
	char *server;      /* owned or NULL: https://host:port (http:// only on loopback) */
	struct secret token;
	char *ca_file;     /* owned or NULL */
	char *kubeconfig;  /* owned or NULL: a kubeconfig file … */
	char *context;     /* owned or NULL: … and its context (default: current-context) */
	int line;
};

/* watchdog: the dead man's switch (README "Watching the watchers"). */
struct watchdog_config {
	bool configured;   /* the section is present: armed from start-up */
	bool enabled;      /* false: heartbeat alerts are ordinary alerts, no switch */
	char *alertname;   /* owned; "Watchdog" by default (also the name messages use) */
	struct matcher_set match; /* when set, the heartbeat is what matches it, not alertname */
	char *group_by;    /* owned or NULL: one switch per value of this label (else one) */
	int64_t timeout_s; /* silence longer than this raises the alarm; 600 by default */
	char *environment; /* owned; of the synthetic alert; "production" by default */
};

/* heartbeat: nightshift's own "I am alive" call. */
struct heartbeat_config {
	char *url;          /* owned or NULL (off); may hold a push token: never logged */
	char *method;       /* owned; "GET" (default) or "POST" */
	int64_t interval_s; /* 60 by default */
	struct secret token; /* optional bearer token */
};

struct config {
	char *path;                 /* owned; the file it came from */
	int refs;                   /* see config_ref() */

	char *listen_host;          /* owned; "127.0.0.1" by default */
	int listen_port;            /* 8788 by default */
	char *log_level;            /* owned; "info" by default */

	char *storage_path;         /* owned; "nightshift.db" by default */

	struct secret webhook_token;
	size_t webhook_max_body;    /* 1 MiB by default */

	struct environment *environments; /* owned, ordered; first match wins */
	size_t n_environments;
	char *default_environment;  /* owned; the entry without match, or "default" */

	struct noise_rule *noise;   /* owned, ordered */
	size_t n_noise;

	char **fingerprint_labels;  /* owned; identifying labels */
	size_t n_fingerprint_labels;

	int64_t flap_window_s;      /* reopen a resolved incident within this; 1800 default */

	struct channel_console_config console;
	struct channel_slack_config slack;

	/* Investigations (worker pool, budgets) and where playbooks live. */
	size_t workers;             /* 2 by default */
	size_t step_budget;         /* tool calls per investigation; 20 by default */
	int64_t deadline_s;         /* wall time per investigation; 120 by default */
	int64_t tool_timeout_s;     /* per tool call; 10 by default */
	char *playbooks_dir;        /* owned; "playbooks" by default */

	struct k8s_cluster *clusters; /* owned; the kubernetes section */
	size_t n_clusters;
	char *default_cluster;      /* owned or NULL: for alerts without a cluster label */

	struct watchdog_config watchdog;
	struct heartbeat_config heartbeat;
	/* ack_words: what a whole message must match to acknowledge (NULL: the defaults). */
	struct regex *ack_words;    /* owned or NULL */

	/* testing.clock_file (tests only; needs NIGHTSHIFT_ALLOW_TEST_CLOCK=1): see esc_clock.h. */
	char *test_clock_file;      /* owned or NULL */
};

/*
 * Reads and validates path. On success returns an owned config (refs = 1).
 * On failure returns NULL and writes every error, one per line, as
 * "file:line: message", into err (truncated to errlen).
 */
struct regex;
struct config *config_load(const char *path, char *err, size_t errlen);

/* Reference counting: the loop, the intake thread and workers each hold one. Thread-safe. */
struct config *config_ref(struct config *c);
void config_unref(struct config *c); /* frees at zero; NULL-safe */

/* Environment name for a label set (first matching rule, else the default). Borrowed. */
struct kv_list;
const char *config_environment_for(const struct config *c, const struct kv_list *labels);
/* The escalation targets of environment (its targets, else channels.slack.escalation_users). */
const struct slack_user_list *config_targets(const struct config *c, const char *environment);
/* The nag interval (seconds, 0 = none) and the nag cap (0 = none) of environment name. */
int64_t config_nag_interval_s(const struct config *c, const char *environment);
size_t config_max_nags(const struct config *c, const char *environment);
size_t config_widen_after(const struct config *c, const char *environment);
/* The further targets of environment, one more per widening (empty list: none). */
const struct slack_user_list *config_widen_to(const struct config *c, const char *environment);
int64_t config_ack_timeout_s(const struct config *c, const char *environment);
/* quiet_hours of environment, or NULL when it has none. Borrowed. */
const struct quiet_hours *config_quiet_hours(const struct config *c, const char *environment);
/* The ack_words of environment (its own, else the top-level ones; NULL: the defaults). */
const struct regex *config_ack_words(const struct config *c, const char *environment);
/* The first noise rule matching labels, or NULL. Borrowed. */
const struct noise_rule *config_noise_for(const struct config *c, const struct kv_list *labels);
/* True when every matcher in s matches (a missing label is matched as ""). */
bool matcher_set_matches(const struct matcher_set *s, const struct kv_list *labels);

/*
 * The cluster named by an alert's cluster label; for an alert without one,
 * default_cluster or else the first. NULL when none fits (an unknown name
 * never falls back to another cluster).
 */
const struct k8s_cluster *config_cluster_for(const struct config *c, const char *cluster_label);

/* True when a (firing or resolved) is a watchdog heartbeat (watchdog.match, else alertname). */
struct alert;
bool config_is_heartbeat(const struct config *c, const struct alert *a);

/* True when host is a loopback address or name (127.0.0.0/8, ::1, localhost). */
bool host_is_loopback(const char *host);

#endif
