/*
 * This file contains the unit tests for playbooks (bot/playbook.c,
 * bot/playbook_parse.c): a full playbook parsed into every field, the
 * runbook and skipped files, priority order, matching and fallbacks, name
 * lookup, templates, findings and captures, and every validation error with
 * its exact file:line. Fixtures are under tests/fixtures/playbooks/; run
 * from the repository root. Oversized and odd files go to a mkdtemp dir.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "playbook.h"
#include "regex.h"
#include "util.h"

#define FIXTURES "tests/fixtures/playbooks"

static char err[32768];

/* Loads FIXTURES/name into s; returns playbook_set_load's result; err holds the errors. */
static int load(const char *name, struct playbook_set *s)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/%s", FIXTURES, name);
	strlcpy0(err, "X", sizeof(err));
	return playbook_set_load(dir, s, err, sizeof(err));
}

/* True when some line of err is exactly "<FIXTURES>/<file>:<line>: " followed by text containing msg. */
static int err_has(const char *file, int line, const char *msg)
{
	char prefix[256];
	const char *p = err;

	snprintf(prefix, sizeof(prefix), "%s/%s:%d: ", FIXTURES, file, line);
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

#define CHECK_ERR(file, line, msg)                                                                 \
	do {                                                                                       \
		if (!err_has((file), (line), (msg))) {                                             \
			harness_current_failed++;                                                  \
			fprintf(stderr,                                                            \
				"FAIL %s (%s:%d): no error %s:%d containing \"%s\"\n  errors "     \
				"were:\n%s\n",                                                     \
				harness_current, __FILE__, __LINE__, (file), (line), (msg), err);  \
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

/* Position of needle in err, or -1. */
static long err_pos(const char *needle)
{
	const char *p = strstr(err, needle);
	return p ? p - err : -1;
}

/* A template_lookup / source_lookup over a kv_list. */
static const char *kv_lookup(void *arg, const char *name)
{
	return kv_list_get(arg, name);
}

static const struct playbook *find(const struct playbook_set *s, const char *name)
{
	const struct playbook *pb = playbook_find(s, name);
	CHECK(pb != NULL);
	return pb;
}

static void test_full_playbook(void)
{
	struct playbook_set s;
	const struct playbook *pb;
	const struct pb_step *st;
	const struct pb_finding *f;

	CHECK_INT(load("good", &s), 0);
	CHECK_STR(err, "");
	pb = find(&s, "pod-crashloop");
	if (pb == NULL) {
		playbook_set_release(&s);
		return;
	}
	CHECK_STR(pb->description, "A pod restarts again and again");
	CHECK_STR(pb->path, FIXTURES "/good/pod-crashloop.md");
	CHECK_INT(pb->priority, 50);
	CHECK(!pb->fallback);
	CHECK_INT(pb->match.n, 2);
	CHECK_STR(pb->match.items[0].label, "alertname");
	CHECK_STR(regex_pattern(pb->match.items[0].re), "^(KubePodCrashLooping|KubeContainerWaiting)$");
	CHECK_STR(pb->match.items[1].label, "namespace");
	CHECK_STR(regex_pattern(pb->match.items[1].re), ".+");
	CHECK_STR(pb->body, "# Pod crash looping\n\nGuidance for people and the LLM.\n");

	CHECK_INT(pb->n_steps, 3);
	st = &pb->steps[0];
	CHECK_STR(st->id, "pod");
	CHECK_STR(st->tool, "k8s_pod");
	CHECK_INT(st->line, 10);
	CHECK_INT(st->args.n, 4);
	CHECK_STR(kv_list_get(&st->args, "namespace"), "{{namespace}}");
	CHECK_STR(kv_list_get(&st->args, "name"), "{{ pod }}");
	CHECK_STR(kv_list_get(&st->args, "tail"), "200");      /* scalars kept as text */
	CHECK_STR(kv_list_get(&st->args, "previous"), "true");
	CHECK_INT(st->n_captures, 1);
	CHECK_STR(st->captures[0].name, "deployment");
	CHECK_STR(regex_pattern(st->captures[0].re),
		  "owner=ReplicaSet/(?<deployment>[a-z0-9.-]+)-[a-z0-9]+\\b");
	CHECK(st->expect == NULL && st->expect_re == NULL);
	CHECK_STR(pb->steps[1].id, "logs");
	CHECK_INT(pb->steps[1].line, 15);
	CHECK_STR(kv_list_get(&pb->steps[1].args, "pod"), "{{pod}}");
	CHECK_INT(pb->steps[1].n_captures, 0);
	CHECK_STR(pb->steps[2].tool, "playbook");
	CHECK_STR(kv_list_get(&pb->steps[2].args, "name"), "oom-tuning");

	CHECK_INT(pb->n_findings, 2);
	f = &pb->findings[0];
	CHECK_STR(f->id, "oom");
	CHECK_INT(f->line, 24);
	CHECK_INT(f->n_when, 2);
	CHECK_STR(f->when[0].source, "pod");
	CHECK_STR(regex_pattern(f->when[0].re), "last_terminated=OOMKilled.*limit=(?<limit>\\S+)");
	CHECK_STR(f->when[1].source, "alert.namespace");
	CHECK_INT(f->n_unless, 1);
	CHECK_STR(f->unless[0].source, "pod");
	CHECK_STR(regex_pattern(f->unless[0].re), "ready=true");
	CHECK_STR(f->verdict, "real");
	CHECK_STR(f->category, "oom_killed");
	CHECK_STR(f->confidence, "high");
	CHECK_STR(f->root_cause,
		  "Container {{container}} is OOMKilled: its memory limit {{limit}} is too low");
	CHECK_INT(f->n_evidence, 2);
	CHECK_STR(f->evidence[0], "k8s_pod: {{pod}} last terminated OOMKilled");
	CHECK_STR(f->evidence[1], "history: seen {{count}} times");
	CHECK_STR(f->recommended_command, "kubectl -n {{namespace}} describe pod {{pod}}");
	CHECK_STR(f->action_type, "restart_deployment");
	CHECK_STR(f->action_target, "{{namespace}}/{{deployment}}");
	f = &pb->findings[1];
	CHECK_STR(f->id, "flaky");
	CHECK_INT(f->line, 39);
	CHECK_STR(f->when[0].source, "history");
	CHECK_STR(f->verdict, "noise");
	CHECK_STR(f->category, "transient");
	CHECK_STR(f->confidence, "low");
	CHECK_INT(f->n_evidence, 0);
	CHECK(f->recommended_command == NULL && f->action_type == NULL && f->action_target == NULL);

	CHECK_INT(pb->n_verify, 1);
	st = &pb->verify[0];
	CHECK_STR(st->id, "pod_after");
	CHECK_STR(st->tool, "k8s_pods");
	CHECK_INT(st->line, 49);
	CHECK_STR(kv_list_get(&st->args, "selector"), "app={{app}}");
	CHECK_STR(st->expect, "ready=true");
	CHECK(st->expect_re != NULL && regex_matches(st->expect_re, "x ready=true"));
	playbook_set_release(&s);
	CHECK(s.items == NULL && s.n == 0 && s.runbook == NULL);
}

static void test_set_order_runbook_defaults(void)
{
	struct playbook_set s;
	const struct playbook *pb;

	CHECK_INT(load("good", &s), 0);
	/* README.md, RUNBOOK.md, notes.txt and .draft.md are not playbooks. */
	CHECK_INT(s.n, 4);
	if (s.n == 4) {
		CHECK_STR(s.items[0].name, "oom-tuning");    /* 10 */
		CHECK_STR(s.items[1].name, "crash-extra");   /* 50 (default), name before … */
		CHECK_STR(s.items[2].name, "pod-crashloop"); /* … 50 */
		CHECK_STR(s.items[3].name, "generic");       /* 1000 */
	}
	CHECK_STR(s.runbook, "# Core runbook\nLook before you leap.\n");
	pb = find(&s, "crash-extra");
	if (pb) {
		CHECK_INT(pb->priority, 50);
		CHECK_INT(pb->n_steps, 0);
		CHECK_INT(pb->n_findings, 0);
		CHECK_STR(pb->body, "");
	}
	pb = find(&s, "generic");
	if (pb) {
		CHECK(pb->fallback);
		CHECK_INT(pb->match.n, 0);
		CHECK_STR(pb->body, "Look around.\n");
	}
	pb = find(&s, "oom-tuning");
	if (pb)
		CHECK_STR(pb->steps[0].tool, "k8s_top");
	playbook_set_release(&s);

	/* No RUNBOOK.md is fine; a directory that does not exist is not. */
	CHECK_INT(load("bad-dup", &s), -1);
	CHECK(s.runbook == NULL);
	CHECK_INT(load("no-such-dir", &s), -1);
	CHECK_STR(err, FIXTURES "/no-such-dir: cannot read the playbooks directory: No such file or "
			   "directory");
	CHECK(s.n == 0 && s.items == NULL);
	playbook_set_release(&s);
}

/* Labels from up to three pairs. */
static void labels3(struct kv_list *l, const char *k1, const char *v1, const char *k2,
		    const char *v2, const char *k3, const char *v3)
{
	kv_list_free(l);
	if (k1)
		kv_list_set(l, k1, v1);
	if (k2)
		kv_list_set(l, k2, v2);
	if (k3)
		kv_list_set(l, k3, v3);
}

static void test_match(void)
{
	struct playbook_set s;
	const struct playbook *out[8];
	struct kv_list labels = {0};
	size_t n;

	CHECK_INT(load("good", &s), 0);

	/* By alertname and label, in priority order; the fallback is left out. */
	labels3(&labels, "alertname", "KubePodCrashLooping", "namespace", "prod-web", NULL, NULL);
	n = playbook_match(&s, &labels, out, 8);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(out[0]->name, "oom-tuning");
		CHECK_STR(out[1]->name, "crash-extra");
		CHECK_STR(out[2]->name, "pod-crashloop");
	}
	/* max bounds the count, keeping the first by priority. */
	n = playbook_match(&s, &labels, out, 1);
	CHECK_INT(n, 1);
	CHECK_STR(out[0]->name, "oom-tuning");
	CHECK_INT(playbook_match(&s, &labels, out, 0), 0);

	/* A label that fails one matcher drops that playbook only. */
	labels3(&labels, "alertname", "KubePodCrashLooping", "namespace", "staging", NULL, NULL);
	n = playbook_match(&s, &labels, out, 8);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(out[0]->name, "crash-extra");
		CHECK_STR(out[1]->name, "pod-crashloop");
	}
	/* A missing label matches as "": namespace ".+" fails. */
	labels3(&labels, "alertname", "KubeContainerWaiting", NULL, NULL, NULL, NULL);
	n = playbook_match(&s, &labels, out, 8);
	CHECK_INT(n, 1);
	CHECK_STR(out[0]->name, "generic");
	labels3(&labels, "alertname", "KubeContainerWaiting", "namespace", "a", NULL, NULL);
	n = playbook_match(&s, &labels, out, 8);
	CHECK_INT(n, 1);
	CHECK_STR(out[0]->name, "pod-crashloop");

	/* Nothing else matches: the fallback. */
	labels3(&labels, "alertname", "DiskFull", "namespace", "prod-web", NULL, NULL);
	n = playbook_match(&s, &labels, out, 8);
	CHECK_INT(n, 1);
	CHECK_STR(out[0]->name, "generic");
	CHECK_INT(playbook_match(&s, NULL, out, 8), 1);
	kv_list_free(&labels);
	playbook_set_release(&s);
}

static void test_find_names_only(void)
{
	struct playbook_set s;

	CHECK_INT(load("good", &s), 0);
	CHECK(playbook_find(&s, "pod-crashloop") != NULL);
	CHECK(playbook_find(&s, "pod-crashloop") == &s.items[2]);
	CHECK(playbook_find(&s, "pod") == NULL);
	CHECK(playbook_find(&s, "pod-crashloop.md") == NULL);
	CHECK(playbook_find(&s, "POD-CRASHLOOP") == NULL);
	CHECK(playbook_find(&s, "./pod-crashloop") == NULL);
	CHECK(playbook_find(&s, "../good/pod-crashloop") == NULL);
	CHECK(playbook_find(&s, "good/pod-crashloop") == NULL);
	CHECK(playbook_find(&s, "/etc/passwd") == NULL);
	CHECK(playbook_find(&s, "..") == NULL);
	CHECK(playbook_find(&s, "README") == NULL);
	CHECK(playbook_find(&s, "RUNBOOK") == NULL);
	CHECK(playbook_find(&s, "") == NULL);
	CHECK(playbook_find(&s, NULL) == NULL);
	CHECK(playbook_find(NULL, "generic") == NULL);
	playbook_set_release(&s);
}

/* Expands tmpl over vars; *missing starts false. Owned result. */
static char *expand(const char *tmpl, struct kv_list *vars, bool *missing)
{
	*missing = false;
	return template_expand(tmpl, kv_lookup, vars, missing);
}

static void test_template(void)
{
	struct kv_list vars = {0};
	bool missing;
	char *out, *big;
	size_t n;

	kv_list_set(&vars, "namespace", "prod");
	kv_list_set(&vars, "pod", "web-1");
	kv_list_set(&vars, "evil", "{{namespace}} }} {{");
	kv_list_set(&vars, "alert.team", "sre");

	out = expand("kubectl -n {{namespace}} describe pod {{pod}}", &vars, &missing);
	CHECK_STR(out, "kubectl -n prod describe pod web-1");
	CHECK(!missing);
	free(out);
	/* Spaces (and tabs) inside the braces. */
	out = expand("{{ namespace }}/{{\tpod  }}{{alert.team}}", &vars, &missing);
	CHECK_STR(out, "prod/web-1sre");
	CHECK(!missing);
	free(out);
	/* A missing variable is "" and flagged; the others are still expanded. */
	out = expand("{{namespace}}/{{deployment}}!", &vars, &missing);
	CHECK_STR(out, "prod/!");
	CHECK(missing);
	free(out);
	/* *missing is only ever set, never cleared; NULL is allowed. */
	missing = true;
	out = template_expand("{{pod}}", kv_lookup, &vars, &missing);
	CHECK(missing);
	free(out);
	out = template_expand("{{nothing}}x", kv_lookup, &vars, NULL);
	CHECK_STR(out, "x");
	free(out);
	/* Unclosed and non-name braces are literal. */
	out = expand("a {{ namespace", &vars, &missing);
	CHECK_STR(out, "a {{ namespace");
	CHECK(!missing);
	free(out);
	out = expand("{{}} {{ }} {{a b}} {pod} }}{{pod}}", &vars, &missing);
	CHECK_STR(out, "{{}} {{ }} {{a b}} {pod} }}web-1");
	CHECK(!missing);
	free(out);
	out = expand("{{{{pod}}", &vars, &missing);
	CHECK_STR(out, "{{web-1");
	free(out);
	/* A closing brace too far away (over 128 characters of name) is not a reference. */
	big = xmalloc(300);
	memcpy(big, "{{", 2);
	memset(big + 2, 'a', 200);
	memcpy(big + 202, "}}", 3);
	out = expand(big, &vars, &missing);
	CHECK_STR(out, big);
	CHECK(!missing);
	free(out);
	free(big);
	/* Values are never expanded again. */
	out = expand("[{{evil}}]", &vars, &missing);
	CHECK_STR(out, "[{{namespace}} }} {{]");
	CHECK(!missing);
	free(out);
	/* No lookup and no template. */
	missing = false;
	out = template_expand("a{{pod}}b", NULL, NULL, &missing);
	CHECK_STR(out, "ab");
	CHECK(missing);
	free(out);
	out = template_expand(NULL, kv_lookup, &vars, NULL);
	CHECK_STR(out, "");
	free(out);

	/* The cap: 4 KiB, cut before a character that does not fit whole. */
	big = xmalloc(5000);
	memset(big, 'x', 4094);
	memcpy(big + 4094, "\xc3\xa9\xc3\xa9", 4); /* é é: the first one ends at 4096 */
	big[4098] = '\0';
	kv_list_set(&vars, "big", big);
	out = expand("{{big}}", &vars, &missing);
	CHECK_INT(strlen(out), 4096);
	CHECK(memcmp(out, big, 4096) == 0);
	free(out);
	out = expand("x{{big}}", &vars, &missing);
	n = strlen(out);
	CHECK_INT(n, 4095); /* "x" + 4094 x's; é would end at byte 4097 */
	CHECK(utf8_valid(out, n));
	free(out);
	out = expand("{{big}}{{big}}{{big}}", &vars, &missing);
	CHECK_INT(strlen(out), 4096);
	free(out);
	memset(big, 'y', 4999);
	big[4999] = '\0';
	out = expand(big, &vars, &missing);
	CHECK_INT(strlen(out), 4096);
	free(out);
	free(big);
	kv_list_free(&vars);
}

static void test_findings(void)
{
	struct playbook_set s;
	const struct playbook *pb;
	struct kv_list src = {0}, caps = {0};
	const struct pb_finding *oom, *flaky;

	CHECK_INT(load("good", &s), 0);
	pb = find(&s, "pod-crashloop");
	if (pb == NULL || pb->n_findings != 2) {
		playbook_set_release(&s);
		return;
	}
	oom = &pb->findings[0];
	flaky = &pb->findings[1];

	/* Every `when` matches, the `unless` does not: the named groups are captured. */
	kv_list_set(&src, "pod", "phase=Running last_terminated=OOMKilled exit=137 limit=256Mi ready=false");
	kv_list_set(&src, "alert.namespace", "prod-web");
	kv_list_set(&caps, "limit", "old");
	CHECK(finding_matches(oom, kv_lookup, &src, &caps));
	CHECK_STR(kv_list_get(&caps, "limit"), "256Mi");
	CHECK_INT(caps.n, 1);
	/* captures may be NULL. */
	CHECK(finding_matches(oom, kv_lookup, &src, NULL));

	/* One `when` fails: no match, nothing captured. */
	kv_list_free(&caps);
	kv_list_set(&src, "alert.namespace", "staging");
	CHECK(!finding_matches(oom, kv_lookup, &src, &caps));
	CHECK_INT(caps.n, 0);
	/* A missing `when` source fails. */
	kv_list_free(&src);
	kv_list_set(&src, "pod", "last_terminated=OOMKilled limit=1Gi");
	CHECK(!finding_matches(oom, kv_lookup, &src, &caps));
	CHECK_INT(caps.n, 0);
	/* The `unless` matches: no match. */
	kv_list_set(&src, "alert.namespace", "prod-a");
	kv_list_set(&src, "pod", "last_terminated=OOMKilled limit=1Gi ready=true");
	CHECK(!finding_matches(oom, kv_lookup, &src, &caps));
	CHECK_INT(caps.n, 0);
	kv_list_set(&src, "pod", "last_terminated=OOMKilled limit=1Gi");
	CHECK(finding_matches(oom, kv_lookup, &src, &caps));
	CHECK_STR(kv_list_get(&caps, "limit"), "1Gi");

	/* A missing `unless` source (logs) passes; when it is there and matches, it blocks. */
	kv_list_free(&caps);
	kv_list_free(&src);
	kv_list_set(&src, "history", "count=3 resolved_within=12m");
	CHECK(finding_matches(flaky, kv_lookup, &src, &caps));
	CHECK_STR(kv_list_get(&caps, "minutes"), "12");
	kv_list_set(&src, "logs", "all good");
	CHECK(finding_matches(flaky, kv_lookup, &src, &caps));
	kv_list_set(&src, "logs", "goroutine panic: boom");
	CHECK(!finding_matches(flaky, kv_lookup, &src, &caps));
	CHECK(!finding_matches(flaky, NULL, NULL, &caps));
	kv_list_free(&caps);
	kv_list_free(&src);
	playbook_set_release(&s);
}

static void test_step_capture(void)
{
	struct playbook_set s;
	const struct playbook *pb;
	struct kv_list vars = {0};
	struct pb_capture cap;
	struct pb_step step = {0};
	char msg[128];

	CHECK_INT(load("good", &s), 0);
	pb = find(&s, "pod-crashloop");
	if (pb != NULL) {
		step_capture(&pb->steps[0], "name=web-7d9f8c6b5-x2x9z owner=ReplicaSet/web-7d9f8c6b5 node=n1",
			     &vars);
		CHECK_STR(kv_list_get(&vars, "deployment"), "web");
		CHECK_INT(vars.n, 1);
		/* No match adds nothing and keeps what was there. */
		step_capture(&pb->steps[0], "owner=StatefulSet/db", &vars);
		CHECK_STR(kv_list_get(&vars, "deployment"), "web");
		step_capture(&pb->steps[0], NULL, &vars);
		step_capture(&pb->steps[1], "no captures at all", &vars);
		CHECK_INT(vars.n, 1);
	}
	kv_list_free(&vars);
	playbook_set_release(&s);

	/* Every named group the match set is added; an unset optional group is not. */
	cap.name = "b";
	cap.re = regex_new("(?<a>x)?(?<b>y+)(?<c>z)", msg, sizeof(msg));
	CHECK(cap.re != NULL);
	step.captures = &cap;
	step.n_captures = 1;
	step_capture(&step, "--yyz--", &vars);
	CHECK_STR(kv_list_get(&vars, "b"), "yy");
	CHECK_STR(kv_list_get(&vars, "c"), "z");
	CHECK(kv_list_get(&vars, "a") == NULL);
	CHECK_INT(vars.n, 2);
	regex_free(cap.re);
	kv_list_free(&vars);
}

/* Collects "name=value;" pairs (regex_named_groups callback). */
static void collect(void *arg, const char *name, const char *value)
{
	struct buf *b = arg;
	buf_printf(b, "%s=%s;", name, value);
}

static void test_regex_named_groups(void)
{
	char msg[128];
	struct regex *re = regex_new("v=(?<v>\\d+)(?<unit>[a-z]+)?", msg, sizeof(msg));
	struct buf b;

	CHECK(re != NULL);
	if (re == NULL)
		return;
	buf_init(&b, 0);
	/* The first match only; an unset group is not reported. */
	CHECK_INT(regex_named_groups(re, "a v=12 v=13s", collect, &b), 1);
	CHECK_STR(b.data, "v=12;");
	buf_reset(&b);
	CHECK_INT(regex_named_groups(re, "v=5ms", collect, &b), 1);
	CHECK_STR(b.data, "unit=ms;v=5;"); /* name-table order */
	buf_reset(&b);
	CHECK_INT(regex_named_groups(re, "nothing", collect, &b), 0);
	CHECK_INT(regex_named_groups(re, NULL, collect, &b), 0);
	CHECK_INT(b.len, 0);
	regex_free(re);
	/* A pattern without named groups matches without calls. */
	re = regex_new("x", msg, sizeof(msg));
	CHECK_INT(regex_named_groups(re, "x", collect, &b), 1);
	CHECK_INT(b.len, 0);
	regex_free(re);
	buf_release(&b);
}

static void test_errors_header_two_files(void)
{
	struct playbook_set s;

	CHECK_INT(load("bad-header", &s), -1);
	CHECK(s.n == 0 && s.items == NULL);
	/* Three files' errors in one pass, sorted by file. */
	CHECK_INT(err_lines(), 3);
	CHECK_ERR("bad-header/a-noheader.md", 1, "a playbook must start with a \"---\" line");
	CHECK_ERR("bad-header/b-unclosed.md", 1, "the YAML header has no closing \"---\" line");
	CHECK_ERR("bad-header/c-yaml.md", 4,
		  "YAML syntax error: mapping values are not allowed in this context");
	CHECK(err_pos("a-noheader.md:1:") < err_pos("b-unclosed.md:1:"));
	CHECK(err_pos("b-unclosed.md:1:") < err_pos("c-yaml.md:4:"));
	CHECK(err_pos("a-noheader.md:1:") == (long)strlen(FIXTURES "/bad-header/"));
	playbook_set_release(&s);
}

static void test_errors_duplicate_name(void)
{
	struct playbook_set s;

	CHECK_INT(load("bad-dup", &s), -1);
	CHECK_INT(err_lines(), 1);
	CHECK_ERR("bad-dup/two.md", 3,
		  "duplicate playbook name \"same\": " FIXTURES "/bad-dup/one.md:2 has it too");
	playbook_set_release(&s);
}

static void test_errors_top_level(void)
{
	struct playbook_set s;

	CHECK_INT(load("bad-top", &s), -1);
	CHECK_INT(err_lines(), 7);
	CHECK_ERR("bad-top/top.md", 2, "name: \"Bad_Name\" is not a valid playbook name");
	CHECK_ERR("bad-top/top.md", 2, "top level: missing required key \"description\"");
	CHECK_ERR("bad-top/top.md", 3,
		  "priority: expected a decimal integer from 0 to 1000, got \"2000\"");
	CHECK_ERR("bad-top/top.md", 4, "fallback: expected true or false");
	CHECK_ERR("bad-top/top.md", 6,
		  "match.alertname: bad regex \"([unclosed\": missing terminating ] for character "
		  "class at offset 10");
	CHECK_ERR("bad-top/top.md", 7,
		  "unknown key \"colour\" in top level (allowed: name, description, priority, "
		  "match, fallback, steps, findings, verify)");
	CHECK_ERR("bad-top/top.md", 8, "steps: expected a list (\"- \" entries), got a mapping");
	/* Sorted by line within the file. */
	CHECK(err_pos("top.md:3:") < err_pos("top.md:4:"));
	CHECK(err_pos("top.md:7:") < err_pos("top.md:8:"));
	playbook_set_release(&s);
}

static void test_errors_match(void)
{
	struct playbook_set s;

	/* fallback.md has neither match nor an error. */
	CHECK_INT(load("bad-nomatch", &s), -1);
	CHECK_INT(err_lines(), 2);
	CHECK_ERR("bad-nomatch/empty.md", 4,
		  "match: must list at least one label: pattern (or set fallback: true)");
	CHECK_ERR("bad-nomatch/nomatch.md", 2,
		  "top level: missing required key \"match\" (or set fallback: true)");
	playbook_set_release(&s);
}

static void test_errors_steps(void)
{
	struct playbook_set s;
	const char *f = "bad-steps/steps.md";

	CHECK_INT(load("bad-steps", &s), -1);
	CHECK_INT(err_lines(), 9);
	CHECK_ERR(f, 6, "steps[0].id: \"Pod\" is not a valid id");
	CHECK_ERR(f, 10, "steps[1].args.pod: expected a string or number, got a list");
	CHECK_ERR(f, 11, "steps[2]: duplicate step id \"logs\" (first at line 8)");
	CHECK_ERR(f, 12, "steps[2].tool: must not be empty");
	CHECK_ERR(f, 16,
		  "steps[3].capture.deployment: the pattern must contain the named group "
		  "(?<deployment>...)");
	CHECK_ERR(f, 17, "unknown key \"expect\" in steps[3] (allowed: id, tool, args, capture)");
	CHECK_ERR(f, 18, "steps[4]: missing required key \"id\"");
	CHECK_ERR(f, 20, "verify[0]: duplicate step id \"cap\" (first at line 13)");
	CHECK_ERR(f, 22,
		  "verify[0].expect: bad regex \"(unclosed\": missing closing parenthesis at "
		  "offset 9");
	playbook_set_release(&s);
}

static void test_errors_findings(void)
{
	struct playbook_set s;
	const char *f = "bad-findings/findings.md";

	CHECK_INT(load("bad-findings", &s), -1);
	CHECK_INT(err_lines(), 13);
	CHECK_ERR(f, 10,
		  "findings[0].when: unknown source \"nosuch\" (use a step id of this playbook "
		  "(pod), \"history\" or \"alert.LABEL\")");
	CHECK_ERR(f, 10, "findings[0].when: \"alert.\" needs a label name after \"alert.\"");
	CHECK_ERR(f, 11, "findings[0].unless: unknown source \"pods\"");
	CHECK_ERR(f, 12, "findings[0].verdict: \"maybe\" is not allowed (allowed: real, noise)");
	CHECK_ERR(f, 13,
		  "findings[0].category: \"weird\" is not allowed (allowed: oom_killed, "
		  "crash_config, image_pull, probe_failure, unschedulable, node_not_ready, "
		  "pvc_full, bad_deploy, cert_expiry, dependency_down, job_failed, transient, "
		  "unknown)");
	CHECK_ERR(f, 14,
		  "findings[0].confidence: \"certain\" is not allowed (allowed: low, medium, high)");
	CHECK_ERR(f, 16,
		  "findings[0].proposed_action.type: \"scale_up\" is not allowed (allowed: "
		  "restart_deployment, delete_pod)");
	CHECK_ERR(f, 17, "findings[1]: duplicate finding id \"a\" (first at line 9)");
	CHECK_ERR(f, 18, "findings[1].when: must list at least one source: pattern");
	CHECK_ERR(f, 23, "findings[1].evidence: expected a list of strings, got a string");
	CHECK_ERR(f, 24, "findings[1].proposed_action: missing required key \"target\"");
	CHECK_ERR(f, 25, "findings[2]: missing required key \"when\"");
	CHECK_ERR(f, 25, "findings[2]: missing required key \"root_cause\"");
	playbook_set_release(&s);
}

/* Writes text (len bytes) as dir/name. */
static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (fp == NULL) {
		perror(path);
		exit(2);
	}
	fwrite(text, 1, len, fp);
	fclose(fp);
}

static void test_errors_files(void)
{
	char dir[] = "/tmp/nightshift-pb-XXXXXX";
	struct playbook_set s;
	char path[512], *big;
	const char ok[] = "---\nname: ok\ndescription: fine\nfallback: true\n---\n";
	const char nul[] = "---\nname: nul\ndescription: x\nfallback: true\n---\nbody\n\0more\n";
	const size_t max = 256 * 1024;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	/* Exactly 256 KiB is allowed; one byte more is refused. */
	big = xmalloc(max + 2);
	memset(big, '#', max + 1);
	memcpy(big, ok, strlen(ok));
	write_file(dir, "big.md", big, max);
	write_file(dir, "RUNBOOK.md", "runbook\r\n", 9);
	CHECK_INT(playbook_set_load(dir, &s, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_INT(s.n, 1);
	CHECK_STR(s.runbook, "runbook\r\n");
	if (s.n == 1)
		CHECK_INT(strlen(s.items[0].body), max - strlen(ok));
	playbook_set_release(&s);
	write_file(dir, "big.md", big, max + 1);
	free(big);
	/* NUL bytes, an empty header, a directory named *.md, CRLF line ends. */
	write_file(dir, "nul.md", nul, sizeof(nul) - 1);
	write_file(dir, "empty.md", "---\n---\n", 8);
	write_file(dir, "crlf.md", "---\r\nname: crlf\r\ndescription: d\r\nfallback: true\r\n---\r\nB\r\n",
		   57);
	snprintf(path, sizeof(path), "%s/dir.md", dir);
	mkdir(path, 0700);
	/* A tiny err buffer is filled as far as it goes. */
	CHECK_INT(playbook_set_load(dir, &s, err, 8), -1);
	CHECK_INT(strlen(err), 7);
	CHECK_INT(playbook_set_load(dir, &s, err, sizeof(err)), -1);
	snprintf(path, sizeof(path), "%s/big.md:1: cannot read the playbook: larger than 256 KiB",
		 dir);
	CHECK_CONTAINS(err, path);
	snprintf(path, sizeof(path), "%s/dir.md:1: cannot read the playbook: not a regular file",
		 dir);
	CHECK_CONTAINS(err, path);
	snprintf(path, sizeof(path), "%s/empty.md:2: top level: missing required key \"name\"",
		 dir);
	CHECK_CONTAINS(err, path);
	snprintf(path, sizeof(path), "%s/nul.md:7: contains a NUL byte", dir);
	CHECK_CONTAINS(err, path);
	CHECK(strstr(err, "crlf.md") == NULL);
	CHECK_INT(err_lines(), 6); /* big, dir, empty: name, description, match, nul */
	CHECK(s.n == 0 && s.runbook == NULL);
	playbook_set_release(&s);

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
	RUN(test_full_playbook);
	RUN(test_set_order_runbook_defaults);
	RUN(test_match);
	RUN(test_find_names_only);
	RUN(test_template);
	RUN(test_findings);
	RUN(test_step_capture);
	RUN(test_regex_named_groups);
	RUN(test_errors_header_two_files);
	RUN(test_errors_duplicate_name);
	RUN(test_errors_top_level);
	RUN(test_errors_match);
	RUN(test_errors_steps);
	RUN(test_errors_findings);
	RUN(test_errors_files);
	return harness_done();
}
