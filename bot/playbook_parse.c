/*
 * This file contains the playbook loader of playbook.h: it lists a
 * directory's *.md files, splits each into its YAML header (between the
 * first two "---" lines) and Markdown body, walks the header with the
 * table-driven walker of config_yaml.c, validates it strictly (unknown keys,
 * names, ids, patterns, when/unless sources, enums) and reports every error
 * of every file in one pass as "file:line: message", sorted by file then
 * line. It also frees what it loaded. Matching and templates are in
 * playbook.c.
 */
#include "playbook.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_yaml.h"
#include "regex.h"
#include "util.h"

#define PLAYBOOK_MAX_BYTES (256 * 1024)
#define PLAYBOOK_MAX_FILES 512
#define ID_MAX 64

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define GROUP_CHARS  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

/* A when/unless source naming a step, checked once the whole header is read. */
struct source_ref {
	char *source; /* owned */
	char *path;   /* owned: "findings[0].when", for the message */
	int line;
};

/* The state of one file's parse; key parsers get &pl->l and cast back. */
struct pb_loader {
	struct loader l; /* must be first */
	struct source_ref *refs;
	size_t n_refs, alloc_refs;
	int name_line;	/* where name was given, 0 if not */
	int match_line; /* where match was given, 0 if not */
	bool match_empty; /* match was given as {} or nothing */
	int root_line;	/* the header's first key */
};

/* One error of the whole load: sorted by path, then line, then order. */
struct load_error {
	char *path; /* owned */
	int line;
	size_t seq;
	char *msg; /* owned: "path:line: message" */
};

struct error_list {
	struct load_error *items;
	size_t n, alloc;
};

/* One "key: pattern" entry of a mapping, compiled. */
struct pattern_entry {
	char *key;	  /* owned */
	char *pattern;	  /* owned */
	struct regex *re; /* owned */
	int line;
};

static struct pb_loader *pbl(struct loader *l)
{
	return (struct pb_loader *)(void *)l;
}

/* True when s is 1..max characters, all from allowed. */
static bool name_ok(const char *s, const char *allowed, size_t max)
{
	size_t n = strlen(s);
	return n > 0 && n <= max && strspn(s, allowed) == n;
}

/* Frees the entries of a parse_patterns() result. */
static void patterns_free(struct pattern_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].pattern);
		regex_free(e[i].re);
	}
	free(e);
}

/*
 * Parses mapping n of what: pattern into *out (owned) and returns how many
 * compiled; each bad entry is reported and left out. *empty is set for {}.
 */
static size_t parse_patterns(struct loader *l, const char *path, yaml_node_t *n, const char *what,
			     struct pattern_entry **out, bool *empty)
{
	size_t len, count = 0;
	char msg[256];

	*out = NULL;
	*empty = true;
	if (cfg_is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE) {
		cfg_errorf(l, cfg_line(n), "%s: expected a mapping of %s: pattern, got %s", path,
			   what, cfg_node_kind(n));
		*empty = false;
		return 0;
	}
	len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	*empty = len == 0;
	if (len == 0)
		return 0;
	*out = xcalloc(len, sizeof(**out));
	for (size_t i = 0; i < len; i++) {
		yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
		const char *key = cfg_pair_key(l, n, p, path), *pattern;
		yaml_node_t *v = cfg_node(l, p->value);
		struct regex *re;
		char where[320];

		if (key == NULL)
			continue;
		snprintf(where, sizeof(where), "%s.%.64s", path, key);
		pattern = cfg_scalar(l, where, v, "a regular expression string");
		if (pattern == NULL)
			continue;
		re = regex_new_interpreted(pattern, msg, sizeof(msg));
		if (re == NULL) {
			cfg_errorf(l, cfg_line(v), "%s: bad regex \"%.100s\": %s", where, pattern,
				   msg);
			continue;
		}
		(*out)[count].key = xstrdup(key);
		(*out)[count].pattern = xstrdup(pattern);
		(*out)[count].re = re;
		(*out)[count].line = cfg_line(cfg_node(l, p->key));
		count++;
	}
	return count;
}

/* name: [a-z0-9-]+, at most 64 characters. */
static void set_name(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		     void *field)
{
	const char *s = cfg_scalar(l, path, n, "a string");

	(void)k;
	if (s == NULL)
		return;
	pbl(l)->name_line = cfg_line(n);
	if (!name_ok(s, LOWER_DIGITS "-", ID_MAX)) {
		cfg_errorf(l, cfg_line(n),
			   "%s: \"%.64s\" is not a valid playbook name (use 1 to 64 lowercase "
			   "letters, digits and -)",
			   path, s);
		return;
	}
	*(char **)field = xstrdup(s);
}

/* Step and finding ids: [a-z0-9_]+, at most 64 characters. */
static void set_id(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		   void *field)
{
	const char *s = cfg_scalar(l, path, n, "a string");

	(void)k;
	if (s == NULL)
		return;
	if (!name_ok(s, LOWER_DIGITS "_", ID_MAX)) {
		cfg_errorf(l, cfg_line(n),
			   "%s: \"%.64s\" is not a valid id (use 1 to 64 lowercase letters, digits "
			   "and _)",
			   path, s);
		return;
	}
	*(char **)field = xstrdup(s);
}

/* priority: an int in [k->min, k->max]. */
static void set_priority(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field)
{
	size_t v = (size_t)-1;

	cfg_set_size(l, k, path, n, &v);
	if (v != (size_t)-1)
		*(int *)field = (int)v;
}

/* match: label -> pattern into a struct matcher_set. */
static void set_match(struct loader *l, const struct key_spec *k, const char *path,
		      yaml_node_t *n, void *field)
{
	struct matcher_set *set = field;
	struct pattern_entry *e;
	bool empty;
	size_t count = parse_patterns(l, path, n, "label", &e, &empty);

	(void)k;
	pbl(l)->match_line = cfg_line(n);
	pbl(l)->match_empty = empty;
	set->n = count;
	set->items = count ? xcalloc(count, sizeof(*set->items)) : NULL;
	for (size_t i = 0; i < count; i++) {
		set->items[i].label = e[i].key;
		set->items[i].re = e[i].re;
		e[i].key = NULL;
		e[i].re = NULL;
	}
	patterns_free(e, count);
}

/* True when pattern defines the named group name ((?<n>, (?'n' or (?P<n>). */
static bool has_named_group(const char *pattern, const char *name)
{
	static const char *const forms[][2] = {{"(?<", ">"}, {"(?'", "'"}, {"(?P<", ">"}};
	char needle[ID_MAX + 8];

	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		snprintf(needle, sizeof(needle), "%s%s%s", forms[i][0], name, forms[i][1]);
		if (strstr(pattern, needle) != NULL)
			return true;
	}
	return false;
}

/* capture: variable -> pattern containing (?<variable>…), into the step. */
static void set_capture(struct loader *l, const struct key_spec *k, const char *path,
			yaml_node_t *n, void *field)
{
	struct pb_step *step = field;
	struct pattern_entry *e;
	bool empty;
	size_t count = parse_patterns(l, path, n, "variable", &e, &empty);

	(void)k;
	step->captures = count ? xcalloc(count, sizeof(*step->captures)) : NULL;
	for (size_t i = 0; i < count; i++) {
		if (!name_ok(e[i].key, GROUP_CHARS, ID_MAX) ||
		    strchr("0123456789", e[i].key[0]) != NULL) {
			cfg_errorf(l, e[i].line,
				   "%s: \"%.64s\" is not a valid variable name (letters, digits and "
				   "_, not starting with a digit)",
				   path, e[i].key);
			continue;
		}
		if (!has_named_group(e[i].pattern, e[i].key)) {
			cfg_errorf(l, e[i].line,
				   "%s.%s: the pattern must contain the named group (?<%s>...) "
				   "that sets the variable",
				   path, e[i].key, e[i].key);
			continue;
		}
		step->captures[step->n_captures].name = e[i].key;
		step->captures[step->n_captures].re = e[i].re;
		step->n_captures++;
		e[i].key = NULL;
		e[i].re = NULL;
	}
	patterns_free(e, count);
}

/* args: a mapping of name -> scalar, kept as text. */
static void set_args(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		     void *field)
{
	struct kv_list *args = field;

	(void)k;
	if (cfg_is_null(n))
		return;
	if (n->type != YAML_MAPPING_NODE) {
		cfg_errorf(l, cfg_line(n), "%s: expected a mapping of name: value, got %s", path,
			   cfg_node_kind(n));
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		const char *key = cfg_pair_key(l, n, p, path), *value;
		char where[320];

		if (key == NULL)
			continue;
		snprintf(where, sizeof(where), "%s.%.64s", path, key);
		value = cfg_scalar(l, where, cfg_node(l, p->value), "a string or number");
		if (value != NULL)
			kv_list_set(args, key, value);
	}
}

/* expect (verify steps): a pattern the output must match. */
static void set_expect(struct loader *l, const struct key_spec *k, const char *path,
		       yaml_node_t *n, void *field)
{
	struct pb_step *step = field;
	const char *s = cfg_scalar(l, path, n, "a regular expression string");
	char msg[256];

	(void)k;
	if (s == NULL)
		return;
	step->expect_re = regex_new_interpreted(s, msg, sizeof(msg));
	if (step->expect_re == NULL) {
		cfg_errorf(l, cfg_line(n), "%s: bad regex \"%.100s\": %s", path, s, msg);
		return;
	}
	step->expect = xstrdup(s);
}

/* Records that source (a step id) must exist once the whole header is read. */
static void add_ref(struct pb_loader *pl, const char *path, const char *source, int line)
{
	if (pl->n_refs == pl->alloc_refs) {
		pl->alloc_refs = pl->alloc_refs ? pl->alloc_refs * 2 : 8;
		pl->refs = xrealloc(pl->refs, pl->alloc_refs * sizeof(*pl->refs));
	}
	pl->refs[pl->n_refs].source = xstrdup(source);
	pl->refs[pl->n_refs].path = xstrdup(path);
	pl->refs[pl->n_refs].line = line;
	pl->n_refs++;
}

/* when / unless: source -> pattern; returns the conditions (owned) and their count. */
static struct pb_condition *parse_conditions(struct loader *l, const char *path, yaml_node_t *n,
					     size_t *n_out, bool *empty)
{
	struct pattern_entry *e;
	size_t count = parse_patterns(l, path, n, "source", &e, empty);
	struct pb_condition *c = count ? xcalloc(count, sizeof(*c)) : NULL;

	*n_out = 0;
	for (size_t i = 0; i < count; i++) {
		const char *src = e[i].key;

		if (str_has_prefix(src, "alert.")) {
			if (!name_ok(src + 6, GROUP_CHARS, ID_MAX)) {
				cfg_errorf(l, e[i].line,
					   "%s: \"%.64s\" needs a label name after \"alert.\" "
					   "(letters, digits and _)",
					   path, src);
				continue;
			}
		} else if (strcmp(src, "history") != 0) {
			add_ref(pbl(l), path, src, e[i].line);
		}
		c[*n_out].source = e[i].key;
		c[*n_out].re = e[i].re;
		(*n_out)++;
		e[i].key = NULL;
		e[i].re = NULL;
	}
	patterns_free(e, count);
	return c;
}

static void set_when(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		     void *field)
{
	struct pb_finding *f = field;
	bool empty;

	(void)k;
	f->when = parse_conditions(l, path, n, &f->n_when, &empty);
	if (empty)
		cfg_errorf(l, cfg_line(n),
			   "%s: must list at least one source: pattern (a finding without "
			   "conditions would always be concluded)",
			   path);
}

static void set_unless(struct loader *l, const struct key_spec *k, const char *path,
		       yaml_node_t *n, void *field)
{
	struct pb_finding *f = field;
	bool empty;

	(void)k;
	f->unless = parse_conditions(l, path, n, &f->n_unless, &empty);
}

/* A string that must be one of allowed[0..n). */
static void set_enum(struct loader *l, const char *path, yaml_node_t *n, void *field,
		     const char *const *allowed, size_t count)
{
	const char *s = cfg_scalar(l, path, n, "a string");
	struct buf b;

	if (s == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(s, allowed[i]) == 0) {
			*(char **)field = xstrdup(s);
			return;
		}
	}
	buf_init(&b, 0);
	for (size_t i = 0; i < count; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", allowed[i]);
	cfg_errorf(l, cfg_line(n), "%s: \"%.64s\" is not allowed (allowed: %s)", path, s, b.data);
	buf_release(&b);
}

static void set_verdict(struct loader *l, const struct key_spec *k, const char *path,
			yaml_node_t *n, void *field)
{
	static const char *const allowed[] = {"real", "noise"};
	(void)k;
	set_enum(l, path, n, field, allowed, ARRAY_LEN(allowed));
}

static void set_category(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field)
{
	static const char *const allowed[] = {
	    "oom_killed",     "crash_config", "image_pull",      "probe_failure", "unschedulable",
	    "node_not_ready", "pvc_full",     "bad_deploy",      "cert_expiry",   "dependency_down",
	    "job_failed",     "transient",    "unknown",
	};
	(void)k;
	set_enum(l, path, n, field, allowed, ARRAY_LEN(allowed));
}

static void set_confidence(struct loader *l, const struct key_spec *k, const char *path,
			   yaml_node_t *n, void *field)
{
	static const char *const allowed[] = {"low", "medium", "high"};
	(void)k;
	set_enum(l, path, n, field, allowed, ARRAY_LEN(allowed));
}

static void set_action_type(struct loader *l, const struct key_spec *k, const char *path,
			    yaml_node_t *n, void *field)
{
	static const char *const allowed[] = {"restart_deployment", "delete_pod"};
	(void)k;
	set_enum(l, path, n, field, allowed, ARRAY_LEN(allowed));
}

/* evidence: a list of non-empty strings. */
static void set_evidence(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field)
{
	struct pb_finding *f = field;
	size_t len;

	(void)k;
	if (cfg_is_null(n))
		return;
	if (n->type != YAML_SEQUENCE_NODE) {
		cfg_errorf(l, cfg_line(n), "%s: expected a list of strings, got %s", path,
			   cfg_node_kind(n));
		return;
	}
	len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	f->evidence = len ? xcalloc(len, sizeof(*f->evidence)) : NULL;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *item = cfg_node(l, n->data.sequence.items.start[i]);
		char where[320];
		const char *s;

		snprintf(where, sizeof(where), "%s[%zu]", path, i);
		s = cfg_scalar(l, where, item, "a string");
		if (s != NULL)
			f->evidence[f->n_evidence++] = xstrdup(s);
	}
}

#define STEP(f)	   offsetof(struct pb_step, f)
#define FINDING(f) offsetof(struct pb_finding, f)
#define PB(f)	   offsetof(struct playbook, f)

/* clang-format off */
static const struct key_spec step_keys[] = {
	{.name = "id", .fn = set_id, .offset = STEP(id), .required = true},
	{.name = "tool", .fn = cfg_set_string, .offset = STEP(tool), .required = true},
	{.name = "args", .fn = set_args, .offset = STEP(args)},
	{.name = "capture", .fn = set_capture},
	{0},
};

static const struct key_spec verify_keys[] = {
	{.name = "id", .fn = set_id, .offset = STEP(id), .required = true},
	{.name = "tool", .fn = cfg_set_string, .offset = STEP(tool), .required = true},
	{.name = "args", .fn = set_args, .offset = STEP(args)},
	{.name = "capture", .fn = set_capture},
	{.name = "expect", .fn = set_expect},
	{0},
};

static const struct key_spec action_keys[] = {
	{.name = "type", .fn = set_action_type, .offset = FINDING(action_type), .required = true},
	{.name = "target", .fn = cfg_set_string, .offset = FINDING(action_target), .required = true},
	{0},
};

static const struct key_spec finding_keys[] = {
	{.name = "id", .fn = set_id, .offset = FINDING(id), .required = true},
	{.name = "when", .fn = set_when, .required = true},
	{.name = "unless", .fn = set_unless},
	{.name = "verdict", .fn = set_verdict, .offset = FINDING(verdict), .required = true},
	{.name = "category", .fn = set_category, .offset = FINDING(category), .required = true},
	{.name = "confidence", .fn = set_confidence, .offset = FINDING(confidence),
	 .required = true},
	{.name = "root_cause", .fn = cfg_set_string, .offset = FINDING(root_cause),
	 .required = true},
	{.name = "evidence", .fn = set_evidence},
	{.name = "recommended_command", .fn = cfg_set_string,
	 .offset = FINDING(recommended_command)},
	{.name = "proposed_action", .fn = cfg_set_section, .sub = action_keys},
	{0},
};
/* clang-format on */

static void set_steps(struct loader *l, const struct key_spec *k, const char *path,
		      yaml_node_t *n, void *field)
{
	struct playbook *pb = field;

	(void)k;
	pb->steps = cfg_parse_list(l, step_keys, path, n, sizeof(struct pb_step), STEP(line),
				   &pb->n_steps);
}

static void set_verify(struct loader *l, const struct key_spec *k, const char *path,
		       yaml_node_t *n, void *field)
{
	struct playbook *pb = field;

	(void)k;
	pb->verify = cfg_parse_list(l, verify_keys, path, n, sizeof(struct pb_step), STEP(line),
				    &pb->n_verify);
}

static void set_findings(struct loader *l, const struct key_spec *k, const char *path,
			 yaml_node_t *n, void *field)
{
	struct playbook *pb = field;

	(void)k;
	pb->findings = cfg_parse_list(l, finding_keys, path, n, sizeof(struct pb_finding),
				      FINDING(line), &pb->n_findings);
}

/* clang-format off */
static const struct key_spec top_keys[] = {
	{.name = "name", .fn = set_name, .offset = PB(name), .required = true},
	{.name = "description", .fn = cfg_set_string, .offset = PB(description), .required = true},
	{.name = "priority", .fn = set_priority, .offset = PB(priority), .min = 0, .max = 1000},
	{.name = "match", .fn = set_match, .offset = PB(match)},
	{.name = "fallback", .fn = cfg_set_bool, .offset = PB(fallback)},
	{.name = "steps", .fn = set_steps},
	{.name = "findings", .fn = set_findings},
	{.name = "verify", .fn = set_verify},
	{0},
};
/* clang-format on */

/* Step i of steps followed by verify. */
static const struct pb_step *step_at(const struct playbook *pb, size_t i)
{
	return i < pb->n_steps ? &pb->steps[i] : &pb->verify[i - pb->n_steps];
}

/* True when id is the id of one of the (non-verify) steps. */
static bool is_step(const struct playbook *pb, const char *id)
{
	for (size_t i = 0; i < pb->n_steps; i++)
		if (pb->steps[i].id && strcmp(pb->steps[i].id, id) == 0)
			return true;
	return false;
}

/* Checks what needs the whole header: match, unique ids, when/unless sources. */
static void check_playbook(struct pb_loader *pl, const struct playbook *pb)
{
	struct loader *l = &pl->l;
	struct buf ids;

	if (!pb->fallback && pl->match_line == 0)
		cfg_errorf(l, pl->root_line,
			   "top level: missing required key \"match\" (or set fallback: true)");
	else if (!pb->fallback && pl->match_empty)
		cfg_errorf(l, pl->match_line,
			   "match: must list at least one label: pattern (or set fallback: true)");
	/* Step ids are unique in the playbook, across steps and verify. */
	for (size_t i = 0; i < pb->n_steps + pb->n_verify; i++) {
		const struct pb_step *s = step_at(pb, i);
		for (size_t j = 0; s->id && j < i; j++) {
			const struct pb_step *first = step_at(pb, j);
			if (first->id && strcmp(first->id, s->id) == 0) {
				cfg_errorf(l, s->line,
					   "%s[%zu]: duplicate step id \"%s\" (first at line %d)",
					   i < pb->n_steps ? "steps" : "verify",
					   i < pb->n_steps ? i : i - pb->n_steps, s->id,
					   first->line);
				break;
			}
		}
	}
	for (size_t i = 0; i < pb->n_findings; i++) {
		const struct pb_finding *f = &pb->findings[i];
		for (size_t j = 0; f->id && j < i; j++) {
			if (pb->findings[j].id && strcmp(pb->findings[j].id, f->id) == 0) {
				cfg_errorf(l, f->line,
					   "findings[%zu]: duplicate finding id \"%s\" (first at "
					   "line %d)",
					   i, f->id, pb->findings[j].line);
				break;
			}
		}
	}
	buf_init(&ids, 0);
	for (size_t i = 0; i < pb->n_steps; i++)
		if (pb->steps[i].id && ids.len < 512)
			buf_printf(&ids, "%s%s", ids.len ? ", " : "", pb->steps[i].id);
	for (size_t i = 0; i < pl->n_refs; i++) {
		const struct source_ref *r = &pl->refs[i];
		if (!is_step(pb, r->source))
			cfg_errorf(l, r->line,
				   "%s: unknown source \"%.64s\" (use a step id of this playbook%s%s%s, "
				   "\"history\" or \"alert.LABEL\")",
				   r->path, r->source, ids.len ? " (" : "", ids.len ? ids.data : "",
				   ids.len ? ")" : "");
	}
	buf_release(&ids);
}

/* Frees one step's members. */
static void step_free(struct pb_step *s)
{
	free(s->id);
	free(s->tool);
	kv_list_free(&s->args);
	for (size_t i = 0; i < s->n_captures; i++) {
		free(s->captures[i].name);
		regex_free(s->captures[i].re);
	}
	free(s->captures);
	free(s->expect);
	regex_free(s->expect_re);
}

static void conditions_free(struct pb_condition *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].source);
		regex_free(c[i].re);
	}
	free(c);
}

/* Frees pb's members, not pb. */
static void playbook_free(struct playbook *pb)
{
	free(pb->name);
	free(pb->description);
	free(pb->path);
	for (size_t i = 0; i < pb->match.n; i++) {
		free(pb->match.items[i].label);
		regex_free(pb->match.items[i].re);
	}
	free(pb->match.items);
	for (size_t i = 0; i < pb->n_steps; i++)
		step_free(&pb->steps[i]);
	free(pb->steps);
	for (size_t i = 0; i < pb->n_verify; i++)
		step_free(&pb->verify[i]);
	free(pb->verify);
	for (size_t i = 0; i < pb->n_findings; i++) {
		struct pb_finding *f = &pb->findings[i];
		free(f->id);
		conditions_free(f->when, f->n_when);
		conditions_free(f->unless, f->n_unless);
		free(f->verdict);
		free(f->category);
		free(f->confidence);
		free(f->root_cause);
		for (size_t j = 0; j < f->n_evidence; j++)
			free(f->evidence[j]);
		free(f->evidence);
		free(f->recommended_command);
		free(f->action_type);
		free(f->action_target);
	}
	free(pb->findings);
	free(pb->body);
}

void playbook_set_release(struct playbook_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		playbook_free(&s->items[i]);
	free(s->items);
	free(s->runbook);
	s->items = NULL;
	s->n = 0;
	s->runbook = NULL;
}

/* Moves l's errors (all about path) into list. */
static void take_errors(struct error_list *list, struct loader *l, const char *path)
{
	for (size_t i = 0; i < l->n_errs; i++) {
		if (list->n == list->alloc) {
			list->alloc = list->alloc ? list->alloc * 2 : 16;
			list->items = xrealloc(list->items, list->alloc * sizeof(*list->items));
		}
		list->items[list->n] = (struct load_error){
		    .path = xstrdup(path),
		    .line = l->errs[i].line,
		    .seq = list->n,
		    .msg = l->errs[i].msg,
		};
		list->n++;
	}
	free(l->errs);
	l->errs = NULL;
	l->n_errs = l->alloc_errs = 0;
}

/* Records one error about path at line. */
static void add_error(struct error_list *list, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_error(struct error_list *list, const char *path, int line, const char *fmt, ...)
{
	struct loader l = {.file = path};
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg_errorf(&l, line, "%s", msg);
	take_errors(list, &l, path);
}

static int error_cmp(const void *a, const void *b)
{
	const struct load_error *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the errors, writes them one per line into err and frees them. */
static void report_errors(struct error_list *list, char *err, size_t errlen)
{
	struct buf b;

	buf_init(&b, 0);
	qsort(list->items, list->n, sizeof(*list->items), error_cmp);
	for (size_t i = 0; i < list->n; i++) {
		buf_printf(&b, "%s%s", i ? "\n" : "", list->items[i].msg);
		free(list->items[i].msg);
		free(list->items[i].path);
	}
	if (err != NULL)
		strlcpy0(err, b.data ? b.data : "", errlen);
	buf_release(&b);
	free(list->items);
	list->items = NULL;
	list->n = list->alloc = 0;
}

/* Line (1-based) of byte offset off in text. */
static int line_of(const char *text, size_t off)
{
	int line = 1;
	for (size_t i = 0; i < off; i++)
		line += text[i] == '\n';
	return line;
}

/* Length of the line at p (up to the '\n' or end), without a trailing '\r'. */
static size_t line_len(const char *p, const char *end, const char **next)
{
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);

	*next = eol ? eol + 1 : end;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n;
}

/*
 * Splits text into its header and body: the header is text[0..*yaml_len),
 * the opening "---" line included so that libyaml's lines are the file's;
 * *body follows the closing "---" line. Returns 0, or -1 after reporting.
 */
static int split_header(struct loader *l, const char *text, size_t len, size_t *yaml_len,
			const char **body)
{
	const char *end = text + len, *p, *next;

	if (line_len(text, end, &next) != 3 || strncmp(text, "---", 3) != 0) {
		cfg_errorf(l, 1,
			   "a playbook must start with a \"---\" line, then its YAML header, then "
			   "another \"---\" line (see playbooks/README.md)");
		return -1;
	}
	for (p = next; p < end; p = next) {
		size_t n = line_len(p, end, &next);
		while (n > 3 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 3 && strncmp(p, "---", 3) == 0) {
			*yaml_len = (size_t)(p - text);
			*body = next;
			return 0;
		}
	}
	cfg_errorf(l, 1, "the YAML header has no closing \"---\" line");
	return -1;
}

/* The first line after the opening "---" that is neither blank nor a comment (2 if none). */
static int first_content_line(const char *text, size_t len)
{
	const char *end = text + len, *p, *next;
	int line = 2;

	line_len(text, end, &next);
	for (p = next; p < end; p = next, line++) {
		size_t n = line_len(p, end, &next);
		size_t sp = 0;
		while (sp < n && (p[sp] == ' ' || p[sp] == '\t'))
			sp++;
		if (sp < n && p[sp] != '#')
			return line;
	}
	return 2;
}

/* Parses one playbook file into pb; its errors go to list; *name_line: where name is (or 1). */
static void load_file(const char *path, struct playbook *pb, struct error_list *list,
		      int *name_line)
{
	struct pb_loader pl = {.l = {.file = path}};
	const char *body = NULL;
	size_t len = 0, yaml_len = 0;
	struct stat st;
	char ebuf[128];
	char *text = NULL;

	memset(pb, 0, sizeof(*pb));
	pb->path = xstrdup(path);
	pb->priority = 50;
	if (stat(path, &st) != 0)
		cfg_errorf(&pl.l, 1, "cannot read the playbook: %s",
			   strerror_r(errno, ebuf, sizeof(ebuf)));
	else if (!S_ISREG(st.st_mode))
		cfg_errorf(&pl.l, 1, "cannot read the playbook: not a regular file");
	else if ((text = cfg_read_file(path, PLAYBOOK_MAX_BYTES, &len)) == NULL)
		cfg_errorf(&pl.l, 1, "cannot read the playbook: %s",
			   errno == EFBIG ? "larger than 256 KiB"
					  : strerror_r(errno, ebuf, sizeof(ebuf)));
	else if (strlen(text) != len)
		cfg_errorf(&pl.l, line_of(text, strlen(text)), "contains a NUL byte");
	else if (split_header(&pl.l, text, len, &yaml_len, &body) == 0) {
		pl.root_line = first_content_line(text, yaml_len);
		cfg_parse_text(&pl.l, text, yaml_len, top_keys, pb);
		pb->body = xstrdup(body);
		if (!pl.l.syntax_error)
			check_playbook(&pl, pb);
	}
	for (size_t i = 0; i < pl.n_refs; i++) {
		free(pl.refs[i].source);
		free(pl.refs[i].path);
	}
	free(pl.refs);
	free(text);
	take_errors(list, &pl.l, path);
	*name_line = pl.name_line > 0 ? pl.name_line : 1;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int playbook_cmp(const void *a, const void *b)
{
	const struct playbook *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The *.md names of dir to load (sorted, owned) and their count; -1 when dir cannot be read. */
static char **list_dir(const char *dir, size_t *count, struct error_list *list)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *e;
	char ebuf[128];

	*count = 0;
	if (d == NULL) {
		add_error(list, dir, 0, "cannot read the playbooks directory: %s",
			  strerror_r(errno, ebuf, sizeof(ebuf)));
		return NULL;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len <= 3 || strcmp(e->d_name + len - 3, ".md") != 0 || e->d_name[0] == '.' ||
		    strcmp(e->d_name, "README.md") == 0 || strcmp(e->d_name, "RUNBOOK.md") == 0)
			continue;
		if (n == PLAYBOOK_MAX_FILES) {
			add_error(list, dir, 0, "more than %d playbooks", PLAYBOOK_MAX_FILES);
			break;
		}
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			names = xrealloc(names, alloc * sizeof(*names));
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	*count = n;
	return names;
}

/* Reads dir/RUNBOOK.md into s->runbook; a missing file is fine. */
static void load_runbook(const char *dir, const char *sep, struct playbook_set *s,
			 struct error_list *list)
{
	char *path = xasprintf("%s%sRUNBOOK.md", dir, sep);
	char ebuf[128];
	size_t len;

	s->runbook = cfg_read_file(path, PLAYBOOK_MAX_BYTES, &len);
	if (s->runbook == NULL && errno != ENOENT)
		add_error(list, path, 1, "cannot read the runbook: %s",
			  errno == EFBIG ? "larger than 256 KiB"
					 : strerror_r(errno, ebuf, sizeof(ebuf)));
	else if (s->runbook != NULL && strlen(s->runbook) != len)
		add_error(list, path, line_of(s->runbook, strlen(s->runbook)),
			  "contains a NUL byte");
	free(path);
}

int playbook_set_load(const char *dir, struct playbook_set *out, char *err, size_t errlen)
{
	struct error_list list = {0};
	const char *sep;
	int *name_lines;
	size_t n_names;
	char **names;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	sep = dir[0] != '\0' && dir[strlen(dir) - 1] == '/' ? "" : "/";
	names = list_dir(dir, &n_names, &list);
	if (names != NULL || list.n == 0)
		load_runbook(dir, sep, out, &list);
	out->items = n_names ? xcalloc(n_names, sizeof(*out->items)) : NULL;
	name_lines = n_names ? xcalloc(n_names, sizeof(*name_lines)) : NULL;
	for (size_t i = 0; i < n_names; i++) {
		char *path = xasprintf("%s%s%s", dir, sep, names[i]);
		load_file(path, &out->items[i], &list, &name_lines[i]);
		out->n++;
		free(path);
	}
	/* Names are unique across the set: a duplicate names both files. */
	for (size_t i = 0; i < out->n; i++) {
		const struct playbook *pb = &out->items[i];
		for (size_t j = 0; pb->name && j < i; j++) {
			if (out->items[j].name && strcmp(out->items[j].name, pb->name) == 0) {
				add_error(&list, pb->path, name_lines[i],
					  "duplicate playbook name \"%s\": %s:%d has it too",
					  pb->name, out->items[j].path, name_lines[j]);
				break;
			}
		}
	}
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	free(name_lines);
	if (list.n > 0) {
		report_errors(&list, err, errlen);
		playbook_set_release(out);
		return -1;
	}
	if (out->n > 1)
		qsort(out->items, out->n, sizeof(*out->items), playbook_cmp);
	return 0;
}
