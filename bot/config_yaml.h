/*
 * This file contains the private interface between config.c and
 * config_yaml.c: a table-driven walker over a libyaml document that fills C
 * structs and collects every error as "file:line: message". Only the
 * loaders (config.c, playbook_parse.c) include it.
 */
#ifndef NIGHTSHIFT_CONFIG_YAML_H
#define NIGHTSHIFT_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

struct cfg_error {
	int line;   /* 1-based; 0 for errors about the whole file */
	size_t seq; /* report order among errors on the same line */
	char *msg;  /* owned; already "file:line: message" */
};

/* The state of one config_load() call. */
struct loader {
	const char *file;	/* as given to config_load(); prefixes every error */
	yaml_document_t *doc;	/* the document being walked */
	struct cfg_error *errs; /* owned */
	size_t n_errs, alloc_errs;
	int listen_line; /* where listen was set, 0 if defaulted */
	bool syntax_error; /* cfg_parse_text met a YAML syntax error */
};

struct key_spec;
/* Parses value node n for key k (full dotted name in path) into field. */
typedef void (*key_fn)(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		       void *field);

/* One allowed key of a mapping; tables end with an all-zero entry. */
struct key_spec {
	const char *name;
	key_fn fn;
	size_t offset;		    /* of the field within the struct being filled */
	int64_t min, max;	    /* range for integers and durations (seconds) */
	const struct key_spec *sub; /* nested keys, for cfg_set_section and the like */
	bool required;		    /* cfg_parse_map reports the key when it is absent */
};

/* Records an error at line (1-based; 0 = the whole file). */
void cfg_errorf(struct loader *l, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sorts the errors by line and writes them one per line into err; frees them. */
void cfg_report(struct loader *l, char *err, size_t errlen);
void cfg_errors_free(struct loader *l);

int cfg_line(const yaml_node_t *n);		    /* 1-based start line */
yaml_node_t *cfg_node(struct loader *l, int index); /* node by libyaml index */
bool cfg_is_null(const yaml_node_t *n);		    /* "", "~", null as a plain scalar */
const char *cfg_node_kind(const yaml_node_t *n);    /* "a list", "a mapping", "a string", "nothing" */
/* The scalar value of n, or NULL after reporting "path: expected <want>, got a list". */
const char *cfg_scalar(struct loader *l, const char *path, const yaml_node_t *n, const char *want);
/* The key of pair p as a string, or NULL after reporting a non-string or repeated key. */
const char *cfg_pair_key(struct loader *l, const yaml_node_t *map, const yaml_node_pair_t *p,
			 const char *where);

/*
 * Walks mapping n (null = empty) with keys, filling base; prefix is the dotted
 * path or "". Keys marked required that n lacks are reported at n's line.
 */
void cfg_parse_map(struct loader *l, const struct key_spec *keys, const char *prefix,
		   yaml_node_t *n, void *base);
/*
 * Walks list n (null = empty) of mappings with keys into a new array of
 * *count elements of size bytes; each element's int at line_off gets its line.
 */
void *cfg_parse_list(struct loader *l, const struct key_spec *keys, const char *path,
		     yaml_node_t *n, size_t size, size_t line_off, size_t *count);

/* Generic key parsers: char * (non-empty), bool, size_t and int64_t seconds in [min, max]. */
void cfg_set_string(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		    void *field);
void cfg_set_bool(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		  void *field);
void cfg_set_size(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		  void *field);
void cfg_set_duration(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		      void *field);
/*
 * Secrets, into a struct secret: *_env names an environment variable (unset
 * or empty is an error), *_file a file of at most 64 KiB (one trailing newline
 * stripped). Resolved at once; setting both is an error; values never printed.
 */
void cfg_set_secret_env(struct loader *l, const struct key_spec *k, const char *path,
			yaml_node_t *n, void *field);
void cfg_set_secret_file(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field);
/* A nested mapping: walks n with k->sub into field. */
void cfg_set_section(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		     void *field);

/*
 * Parses text as exactly one YAML document and walks its root mapping with
 * keys into base. Syntax errors are reported with their line.
 */
void cfg_parse_text(struct loader *l, const char *text, size_t len, const struct key_spec *keys,
		    void *base);

/*
 * Reads path whole into an owned NUL-terminated string. Returns NULL with
 * errno set on failure, EFBIG when the file is larger than max bytes.
 */
char *cfg_read_file(const char *path, size_t max, size_t *len);

/* channels.slack (config_slack.c): its key table, parser, defaults and free. */
struct channel_slack_config;
extern const struct key_spec config_slack_keys[];
void config_set_slack(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		      void *field);
void config_slack_defaults(struct channel_slack_config *s);
void config_slack_free(struct channel_slack_config *s);
/* A list of distinct Slack user ids (U… or W…) into a struct slack_user_list. */
void config_set_users(struct loader *l, const struct key_spec *k, const char *path,
		      yaml_node_t *n, void *field);

#endif
