/*
 * This file contains playbooks: Markdown files whose YAML front matter says
 * which alerts they match, which read tools to call (steps, with arguments
 * templated from the alert's labels and earlier captures), and which
 * findings to conclude (PCRE2 over the steps' outputs). The format is
 * documented in playbooks/README.md.
 *
 * A playbook_set is loaded once (start-up, SIGHUP) and is read-only after:
 * investigations on any worker thread share it.
 */
#ifndef NIGHTSHIFT_PLAYBOOK_H
#define NIGHTSHIFT_PLAYBOOK_H

#include "alert.h"
#include "config.h"

#include <stdbool.h>
#include <stddef.h>

struct regex;

struct pb_capture {
	char *name;       /* owned; the variable the named group of re sets */
	struct regex *re; /* owned; must contain (?<name>…) */
};

struct pb_step {
	char *id;            /* owned */
	char *tool;          /* owned; a tool name, or "playbook" */
	struct kv_list args; /* templates, owned */
	struct pb_capture *captures; /* owned */
	size_t n_captures;
	char *expect;        /* owned or NULL (verify steps): pattern the output must match */
	struct regex *expect_re; /* owned or NULL */
	int line;
};

/* One condition: the pattern must (when) or must not (unless) match source's output. */
struct pb_condition {
	char *source;     /* owned: a step id, "alert.LABEL", or "history" */
	struct regex *re; /* owned */
};

struct pb_finding {
	char *id; /* owned */
	struct pb_condition *when, *unless; /* owned */
	size_t n_when, n_unless;
	char *verdict;             /* owned: "real" | "noise" */
	char *category;            /* owned: see playbooks/README.md */
	char *confidence;          /* owned: "low" | "medium" | "high" */
	char *root_cause;          /* owned template */
	char **evidence;           /* owned templates */
	size_t n_evidence;
	char *recommended_command; /* owned template or NULL */
	char *action_type;         /* owned: "restart_deployment" | "delete_pod" or NULL */
	char *action_target;       /* owned template or NULL */
	int line;
};

struct playbook {
	char *name;        /* owned, [a-z0-9-]+ */
	char *description; /* owned */
	char *path;        /* owned: the file it came from */
	int priority;      /* lower first; default 50 */
	bool fallback;     /* used only when nothing else matches */
	struct matcher_set match;
	struct pb_step *steps; /* owned */
	size_t n_steps;
	struct pb_finding *findings; /* owned */
	size_t n_findings;
	struct pb_step *verify; /* owned */
	size_t n_verify;
	char *body;        /* owned: the Markdown guidance after the header */
};

struct playbook_set {
	struct playbook *items; /* owned, sorted by priority then name */
	size_t n;
	char *runbook;          /* owned: RUNBOOK.md's text, or NULL */
};

/*
 * Loads every *.md of dir except README.md and RUNBOOK.md (read into
 * ->runbook). Returns 0, or -1 with every error as "file:line: message"
 * lines in err. out is always initialised; release with playbook_set_release.
 */
int playbook_set_load(const char *dir, struct playbook_set *out, char *err, size_t errlen);
void playbook_set_release(struct playbook_set *s);

/* The playbook named name (names only, never paths), or NULL. */
const struct playbook *playbook_find(const struct playbook_set *s, const char *name);

/*
 * Fills out[0..max) with the playbooks whose match matches labels, by
 * priority; when none does, with the fallback playbooks. Returns the count.
 */
size_t playbook_match(const struct playbook_set *s, const struct kv_list *labels,
		      const struct playbook **out, size_t max);

/*
 * Variables for templates: looked up by name, first in vars, then in
 * labels. lookup returns NULL when a name has no value.
 */
typedef const char *(*template_lookup)(void *arg, const char *name);

/*
 * Expands {{name}} in tmpl. Returns an owned string (free()); *missing is
 * set when a variable had no value (it is replaced by ""). Text only: the
 * result is never parsed again. Output capped at 4 KiB.
 */
char *template_expand(const char *tmpl, template_lookup lookup, void *arg, bool *missing);

/* The output a condition reads: a step's output, "alert.LABEL", "history"; NULL if none. */
typedef const char *(*source_lookup)(void *arg, const char *source);

/*
 * Evaluates f: every `when` matches its source's output and no `unless`
 * does (a missing source fails `when` and passes `unless`). On a match,
 * the named groups of the `when` patterns are added to captures. Returns
 * true on a match.
 */
bool finding_matches(const struct pb_finding *f, source_lookup lookup, void *arg,
		     struct kv_list *captures);

/* Runs a step's captures over output, adding the named groups to vars. */
void step_capture(const struct pb_step *step, const char *output, struct kv_list *vars);

#endif
