/*
 * This file contains the answers of the follow-up intents (followup.h):
 * pure compose functions that turn the stored facts and the read tools'
 * text outputs into a short answer for a phone (what changed, logs,
 * status, history, root cause, help), and the helpers that read those
 * outputs line by line. No I/O: the fresh context in followup.c calls the
 * tools and hands their text here.
 */
#include "followup_internal.h"

#include "k8s.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- answers ---- */

void followup_answer_release(struct followup_answer *a)
{
	if (a == NULL)
		return;
	free(a->text);
	for (size_t i = 0; i < a->n_bullets; i++)
		free(a->bullets[i]);
	free(a->command);
	memset(a, 0, sizeof(*a));
}

char *followup_answer_text(const struct followup_answer *a)
{
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%s\n", a->text ? a->text : "");
	for (size_t i = 0; i < a->n_bullets; i++)
		buf_printf(&b, "  \xE2\x80\xA2 %s\n", a->bullets[i]);
	if (a->command)
		buf_printf(&b, "  $ %s\n", a->command);
	return buf_detach(&b);
}

static void set_text(struct followup_answer *a, char *text)
{
	free(a->text);
	a->text = text;
}

static void add_bullet(struct followup_answer *a, char *line)
{
	if (line == NULL)
		return;
	if (a->n_bullets < FOLLOWUP_MAX_BULLETS)
		a->bullets[a->n_bullets++] = line;
	else
		free(line);
}

static void set_command(struct followup_answer *a, char *cmd)
{
	free(a->command);
	a->command = cmd;
}

/* ---- tool output lines ---- */

bool followup_line_value(const char *line, const char *key, char *out, size_t outlen)
{
	const char *p = line, *end = line + strcspn(line, "\n");
	size_t kl = strlen(key);

	while (p < end) {
		const char *k = p, *v, *ve;
		while (p < end && *p != ' ' && *p != '=')
			p++;
		if (p >= end || *p == ' ') { /* a bare word */
			while (p < end && *p == ' ')
				p++;
			continue;
		}
		/* p at '=' */
		v = p + 1;
		if (v < end && *v == '"') {
			v++;
			ve = v;
			while (ve < end && *ve != '"')
				ve++;
			p = ve < end ? ve + 1 : ve;
		} else {
			ve = v;
			while (ve < end && *ve != ' ')
				ve++;
			p = ve;
		}
		if ((size_t)(v - 1 - k - (v[-1] == '"')) == kl && strncmp(k, key, kl) == 0 &&
		    k + kl < end && k[kl] == '=') {
			size_t n = (size_t)(ve - v);
			if (outlen == 0)
				return true;
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
		while (p < end && *p == ' ')
			p++;
	}
	if (outlen)
		out[0] = '\0';
	return false;
}

/* The next line of *p (without its newline) into line; false at the end. */
bool followup_next_line(const char **p, char *line, size_t len)
{
	size_t n;
	if (*p == NULL || **p == '\0')
		return false;
	n = strcspn(*p, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(line, *p, n);
	line[n] = '\0';
	*p += strcspn(*p, "\n");
	if (**p == '\n')
		(*p)++;
	return true;
}

bool followup_tool_failed(const char *out)
{
	return out == NULL || str_has_prefix(out, "error:");
}

/* "error: timeout after 5000 ms" → "timeout after 5000 ms" (first line, ≤ 120 bytes). */
static char *tool_reason(const char *out)
{
	const char *r = out ? out : "error: not run (step budget or deadline reached)";
	if (str_has_prefix(r, "error: "))
		r += 7;
	return xasprintf("%.*s", (int)(strcspn(r, "\n") < 120 ? strcspn(r, "\n") : 120), r);
}

static int64_t age_seconds(const char *age)
{
	int64_t s;
	return age != NULL && age[0] && parse_duration(age, &s) == 0 ? s : -1;
}

/* "registry/app:1.2" after "registry/app:1.3" → "…:1.2" (same repository). */
static void short_image(const char *img, const char *other, char *out, size_t outlen)
{
	const char *c1 = strrchr(img, ':'), *c2 = other ? strrchr(other, ':') : NULL;
	if (c1 && c2 && c1 - img == c2 - other && strncmp(img, other, (size_t)(c1 - img)) == 0 &&
	    strchr(c1, '/') == NULL)
		snprintf(out, outlen, "\xE2\x80\xA6%s", c1);
	else
		snprintf(out, outlen, "%s", img);
}

/* The stored finding as bullets (at most max), and its command when a has none. */
static void add_stored(const struct followup_facts *f, struct followup_answer *a, size_t max)
{
	size_t added = 0;
	if (!str_empty(f->root_cause) && added < max) {
		add_bullet(a, xasprintf("from the investigation: %s", f->root_cause));
		added++;
	}
	for (size_t i = 0; i < f->n_evidence && added < max; i++, added++)
		add_bullet(a, xstrdup(f->evidence[i]));
	if (added == 0)
		add_bullet(a, xstrdup(f->investigation_state && strcmp(f->investigation_state, "done")
					      ? "the investigation has not finished yet"
					      : "no stored evidence for this incident"));
	if (a->command == NULL && !str_empty(f->command))
		set_command(a, xstrdup(f->command));
}

/* "namespace/deployment" or "namespace/pod" or the alert name, for sentences. */
static const char *target_name(const struct followup_facts *f)
{
	return !str_empty(f->deployment) ? f->deployment
	       : !str_empty(f->pod)      ? f->pod
					 : f->alertname;
}

/* ---- compose: what changed ---- */

struct rev {
	char revision[24], replicaset[256], age[24], image[512], replicas[16], ready[16],
	    current[8], cause[512];
};

static void parse_rev(const char *line, struct rev *r)
{
	followup_line_value(line, "revision", r->revision, sizeof(r->revision));
	followup_line_value(line, "replicaset", r->replicaset, sizeof(r->replicaset));
	followup_line_value(line, "age", r->age, sizeof(r->age));
	followup_line_value(line, "image", r->image, sizeof(r->image));
	followup_line_value(line, "replicas", r->replicas, sizeof(r->replicas));
	followup_line_value(line, "ready", r->ready, sizeof(r->ready));
	followup_line_value(line, "current", r->current, sizeof(r->current));
	followup_line_value(line, "change_cause", r->cause, sizeof(r->cause));
}

/* Warning events whose object names the target, as bullets (at most max). */
static void add_warning_events(const struct followup_facts *f, const char *events,
			       struct followup_answer *a, size_t max)
{
	const char *p = events;
	char line[LINE_MAX_LEN], type[32], reason[64], object[256], count[16], age[24],
	    msg[512];
	const char *name = !str_empty(f->deployment) ? f->deployment : f->pod;
	size_t added = 0;

	while (added < max && followup_next_line(&p, line, sizeof(line))) {
		if (!str_has_prefix(line, "event ") ||
		    !followup_line_value(line, "type", type, sizeof(type)) ||
		    strcmp(type, "Warning") != 0)
			continue;
		followup_line_value(line, "object", object, sizeof(object));
		if (!str_empty(name) && strstr(object, name) == NULL)
			continue;
		followup_line_value(line, "reason", reason, sizeof(reason));
		followup_line_value(line, "count", count, sizeof(count));
		followup_line_value(line, "age", age, sizeof(age));
		followup_line_value(line, "message", msg, sizeof(msg));
		add_bullet(a, xasprintf("%s%s%s %s%s%s%s: %s", reason,
					count[0] && strcmp(count, "1") ? " \xC3\x97" : "",
					count[0] && strcmp(count, "1") ? count : "", object,
					age[0] ? " (" : "", age, age[0] ? " ago)" : "", msg));
		added++;
	}
}

void followup_compose_what_changed(const struct followup_facts *f, const char *rollout,
				   const char *events, struct followup_answer *a)
{
	const char *p = rollout;
	char line[LINE_MAX_LEN], prev_img[512];
	struct rev r[2];
	size_t n = 0;

	a->intent = FU_WHAT_CHANGED;
	memset(r, 0, sizeof(r));
	if (str_empty(f->namespace) || str_empty(f->deployment)) {
		set_text(a, xasprintf("I cannot tell which deployment this incident is about (%s); "
				      "from the investigation:",
				      str_empty(f->namespace) ? "no namespace label"
							       : "no deployment or pod label"));
		add_stored(f, a, 4);
		return;
	}
	if (followup_tool_failed(rollout)) {
		char *why = tool_reason(rollout);
		set_text(a, xasprintf("Could not read the rollout history of %s/%s (%s); from the "
				      "investigation:",
				      f->namespace, f->deployment, why));
		free(why);
		add_stored(f, a, 4);
		return;
	}
	while (n < 2 && followup_next_line(&p, line, sizeof(line)))
		if (str_has_prefix(line, "revision="))
			parse_rev(line, &r[n++]);
	if (n == 0) {
		set_text(a, xasprintf("%s has no ReplicaSets in %s: nothing was rolled out.",
				      f->deployment, f->namespace));
	} else if (n == 1) {
		set_text(a, xasprintf("%s rev %s (%s, %s ago) is its only revision: no deploy "
				      "replaced anything.",
				      f->deployment, r[0].revision, r[0].image, r[0].age));
	} else {
		short_image(r[1].image, r[0].image, prev_img, sizeof(prev_img));
		set_text(a, xasprintf("%s rev %s (%s, %s ago) replaced rev %s (%s, %s ago)",
				      f->deployment, r[0].revision, r[0].image, r[0].age,
				      r[1].revision, prev_img, r[1].age));
	}
	if (n > 0) {
		if (r[0].cause[0])
			add_bullet(a, xasprintf("change cause: %s", r[0].cause));
		add_bullet(a, xasprintf("rev %s: %s/%s ready%s", r[0].revision, r[0].ready,
					r[0].replicas,
					strcmp(r[0].current, "true") == 0
						? ""
						: " (not current: rolled back?)"));
	}
	if (followup_tool_failed(events)) {
		char *why = tool_reason(events);
		add_bullet(a, xasprintf("events: could not read them (%s)", why));
		free(why);
	} else {
		size_t before = a->n_bullets;
		add_warning_events(f, events, a, 3);
		if (a->n_bullets == before)
			add_bullet(a, xasprintf("no warning events for %s", f->deployment));
	}
	set_command(a, xasprintf("kubectl -n %s rollout history deployment/%s", f->namespace,
				 f->deployment));
}

/* ---- compose: logs ---- */

void followup_compose_logs(const struct followup_facts *f, const char *pod, const char *logs,
			   struct followup_answer *a)
{
	const char *p = logs;
	char line[LINE_MAX_LEN], container[64] = "", previous[8] = "", lines[16] = "",
				       kept[16] = "";
	const char *tail_start = NULL;
	size_t shown = 0;

	a->intent = FU_LOGS;
	if (str_empty(f->namespace) || str_empty(pod)) {
		set_text(a, xasprintf("I cannot tell which pod's logs to read (%s); from the "
				      "investigation:",
				      str_empty(f->namespace) ? "no namespace label" : "no pod found"));
		add_stored(f, a, 4);
		return;
	}
	if (followup_tool_failed(logs)) {
		char *why = tool_reason(logs);
		set_text(a, xasprintf("Could not read the logs of %s (%s); from the investigation:",
				      pod, why));
		free(why);
		add_stored(f, a, 4);
		set_command(a, xasprintf("kubectl -n %s logs %s --tail=100", f->namespace, pod));
		return;
	}
	if (followup_next_line(&p, line, sizeof(line)) && str_has_prefix(line, "logs ")) {
		followup_line_value(line, "container", container, sizeof(container));
		followup_line_value(line, "previous", previous, sizeof(previous));
		followup_line_value(line, "lines", lines, sizeof(lines));
		followup_line_value(line, "kept", kept, sizeof(kept));
	} else {
		p = logs;
	}
	tail_start = strstr(p, "--- last lines ---");
	/* The error-like lines first; without any, the last lines. */
	while (shown < 6 && (tail_start == NULL || p < tail_start) &&
	       followup_next_line(&p, line, sizeof(line))) {
		if (line[0] == '\0')
			continue;
		add_bullet(a, xstrdup(line));
		shown++;
	}
	if (shown == 0 && tail_start != NULL) {
		const char *q = tail_start;
		size_t total = 0, skip;
		followup_next_line(&q, line, sizeof(line)); /* the marker */
		for (const char *t = q; followup_next_line(&t, line, sizeof(line));)
			total++;
		skip = total > 6 ? total - 6 : 0;
		while (followup_next_line(&q, line, sizeof(line))) {
			if (skip > 0) {
				skip--;
				continue;
			}
			add_bullet(a, xstrdup(line[0] ? line : " "));
			shown++;
		}
	}
	set_text(a, xasprintf("Logs of %s%s%s%s: %s error-like line%s of %s%s", pod,
			      container[0] ? " (" : "", container,
			      container[0] ? (strcmp(previous, "true") == 0 ? ", previous instance)"
									: ")")
					   : "",
			      kept[0] ? kept : "0", strcmp(kept, "1") == 0 ? "" : "s",
			      lines[0] ? lines : "?",
			      shown == 0 ? " (the log is empty)"
			      : strcmp(kept[0] ? kept : "0", "0") == 0 ? "; the last lines:"
								       : ":"));
	set_command(a, xasprintf("kubectl -n %s logs %s%s%s%s --tail=100", f->namespace, pod,
				 container[0] ? " -c " : "", container,
				 strcmp(previous, "true") == 0 ? " --previous" : ""));
}

/* ---- compose: status ---- */

struct pod_state {
	char name[256], ready[8], restarts[16], phase[32], owner[300];
	char reason[64];        /* a container's waiting/terminated reason */
	char last[64], last_age[24], exit_code[16];
	int64_t fresh_s;        /* the most recent of its age and its last termination */
};

/* True when owner is ReplicaSet/<deployment>-<hash>. */
bool followup_owned_by_deployment(const char *owner, const char *deployment)
{
	size_t n = strlen(deployment);
	const char *rest;
	if (!str_has_prefix(owner, "ReplicaSet/"))
		return false;
	rest = owner + 11;
	return strncmp(rest, deployment, n) == 0 && rest[n] == '-' && rest[n + 1] &&
	       strchr(rest + n + 1, '-') == NULL;
}

static void incident_bullet(const struct followup_facts *f, int64_t now_ms,
			    struct followup_answer *a)
{
	char dur[32];
	if (strcmp(f->state ? f->state : "", "resolved") == 0 && f->resolved_at_ms > 0) {
		format_duration((now_ms - f->resolved_at_ms) / 1000, dur, sizeof(dur));
		add_bullet(a, xasprintf("incident #%lld resolved at source %s ago (%lld alert%s)",
					(long long)f->incident_id, dur, (long long)f->alert_count,
					f->alert_count == 1 ? "" : "s"));
	} else {
		format_duration((now_ms - f->opened_at_ms) / 1000, dur, sizeof(dur));
		add_bullet(a, xasprintf("incident #%lld %s, %lld alert%s, open %s",
					(long long)f->incident_id, f->state ? f->state : "?",
					(long long)f->alert_count, f->alert_count == 1 ? "" : "s",
					dur));
	}
}

/* The pods of f's target in a k8s_pods / k8s_pod output, into *out (owned); how many. */
static size_t parse_pods(const struct followup_facts *f, const char *pods, struct pod_state **out)
{
	struct pod_state *v = NULL, *cur = NULL;
	size_t n = 0, alloc = 0;
	const char *p = pods;
	char line[LINE_MAX_LEN], age[24];

	while (followup_next_line(&p, line, sizeof(line))) {
		if (str_has_prefix(line, "pod ")) {
			char owner[300], name[256];
			followup_line_value(line, "owner", owner, sizeof(owner));
			followup_line_value(line, "name", name, sizeof(name));
			cur = NULL;
			if (!str_empty(f->deployment) ? !followup_owned_by_deployment(owner, f->deployment)
			    : !str_empty(f->pod)      ? strcmp(name, f->pod) != 0
						      : false)
				continue;
			if (n == alloc) {
				alloc = alloc ? 2 * alloc : 8;
				v = xrealloc(v, alloc * sizeof(*v));
			}
			cur = &v[n++];
			memset(cur, 0, sizeof(*cur));
			strlcpy0(cur->name, name, sizeof(cur->name));
			strlcpy0(cur->owner, owner, sizeof(cur->owner));
			followup_line_value(line, "ready", cur->ready, sizeof(cur->ready));
			followup_line_value(line, "restarts", cur->restarts, sizeof(cur->restarts));
			followup_line_value(line, "phase", cur->phase, sizeof(cur->phase));
			followup_line_value(line, "age", age, sizeof(age));
			cur->fresh_s = age_seconds(age);
			if (!followup_line_value(line, "reason", cur->reason, sizeof(cur->reason)))
				cur->reason[0] = '\0';
		} else if (str_has_prefix(line, "container ") && cur != NULL) {
			char reason[64], last[64], last_age[24];
			if (followup_line_value(line, "reason", reason, sizeof(reason)) &&
			    cur->reason[0] == '\0')
				strlcpy0(cur->reason, reason, sizeof(cur->reason));
			if (followup_line_value(line, "last_terminated", last, sizeof(last)) &&
			    cur->last[0] == '\0') {
				strlcpy0(cur->last, last, sizeof(cur->last));
				followup_line_value(line, "exit_code", cur->exit_code,
						    sizeof(cur->exit_code));
				if (followup_line_value(line, "last_finished_age", last_age,
							sizeof(last_age))) {
					int64_t s = age_seconds(last_age);
					strlcpy0(cur->last_age, last_age, sizeof(cur->last_age));
					if (s >= 0 && (cur->fresh_s < 0 || s < cur->fresh_s))
						cur->fresh_s = s;
				}
			}
		}
	}
	*out = v;
	return n;
}

void followup_compose_status(const struct followup_facts *f, const char *pods, int64_t now_ms,
			     struct followup_answer *a)
{
	struct pod_state *v = NULL;
	size_t n, ready = 0;
	long long restarts = 0;
	const char *common = NULL;
	bool mixed = false;
	int64_t fresh = -1;
	char age[24];
	const char *who = target_name(f);

	a->intent = FU_STATUS;
	if (followup_tool_failed(pods)) {
		char *why = tool_reason(pods);
		set_text(a, xasprintf("Could not look at the pods of %s now (%s).", who, why));
		free(why);
		incident_bullet(f, now_ms, a);
		add_stored(f, a, 3);
		return;
	}
	n = parse_pods(f, pods, &v);
	for (size_t i = 0; i < n; i++) {
		restarts += strtoll(v[i].restarts, NULL, 10);
		if (strcmp(v[i].ready, "true") == 0) {
			ready++;
			if (v[i].fresh_s >= 0 && (fresh < 0 || v[i].fresh_s < fresh))
				fresh = v[i].fresh_s;
			continue;
		}
		if (common == NULL)
			common = v[i].reason[0] ? v[i].reason : "not ready";
		else if (strcmp(common, v[i].reason[0] ? v[i].reason : "not ready") != 0)
			mixed = true;
	}
	if (n == 0) {
		set_text(a, xasprintf("No pods of %s found in %s now.", who,
				      f->namespace ? f->namespace : "?"));
	} else if (ready == n) {
		k8s_format_age(fresh, age, sizeof(age));
		set_text(a, fresh >= 0 ? xasprintf("Recovered: %zu/%zu pods ready since %s ago, %lld "
						   "restart%s in total.",
						   ready, n, age, restarts, restarts == 1 ? "" : "s")
				       : xasprintf("Recovered: %zu/%zu pods ready.", ready, n));
	} else {
		set_text(a, xasprintf("Still failing: %zu/%zu pods %s, %lld restart%s.", n - ready,
				      n, mixed ? "not ready" : common, restarts,
				      restarts == 1 ? "" : "s"));
	}
	incident_bullet(f, now_ms, a);
	for (size_t i = 0, shown = 0; i < n && shown < 3; i++) {
		if (strcmp(v[i].ready, "true") == 0)
			continue;
		{
			struct buf b;
			buf_init(&b, 0);
			buf_printf(&b, "%s: %s, %s restart%s", v[i].name,
				   v[i].reason[0] ? v[i].reason : v[i].phase, v[i].restarts,
				   strcmp(v[i].restarts, "1") ? "s" : "");
			if (v[i].last[0])
				buf_printf(&b, ", last %s", v[i].last);
			if (v[i].exit_code[0])
				buf_printf(&b, " (exit %s)", v[i].exit_code);
			if (v[i].last[0] && v[i].last_age[0])
				buf_printf(&b, " %s ago", v[i].last_age);
			add_bullet(a, buf_detach(&b));
		}
		shown++;
	}
	if (!str_empty(f->namespace))
		set_command(a, !str_empty(f->deployment)
				       ? xasprintf("kubectl -n %s rollout status deployment/%s",
						   f->namespace, f->deployment)
				       : xasprintf("kubectl -n %s get pod %s", f->namespace,
						   str_empty(f->pod) ? "" : f->pod));
	free(v);
}

/* ---- compose: the pod line of a nag ---- */

/* What one look at the pods saw, as kept on the escalation between two nags. */
struct pods_seen {
	bool known;
	long long ready, total, restarts; /* restarts: of the failing pod named */
	char pod[256], reason[64];        /* the failing pod named; "" when none */
};

/* "ready=2 total=3 pod=api-x restarts=14" (a stored summary) into *s. */
static void seen_parse(const char *summary, struct pods_seen *s)
{
	char v[32];

	memset(s, 0, sizeof(*s));
	if (str_empty(summary) || !followup_line_value(summary, "total", v, sizeof(v)))
		return;
	s->known = true;
	s->total = strtoll(v, NULL, 10);
	followup_line_value(summary, "ready", v, sizeof(v));
	s->ready = strtoll(v, NULL, 10);
	followup_line_value(summary, "restarts", v, sizeof(v));
	s->restarts = strtoll(v, NULL, 10);
	followup_line_value(summary, "pod", s->pod, sizeof(s->pod));
}

/* The n pods of v as seen now: the failing pod named is last's while it still fails. */
static void seen_now(const struct pod_state *v, size_t n, const struct pods_seen *last,
		     struct pods_seen *now)
{
	const struct pod_state *shown = NULL;

	memset(now, 0, sizeof(*now));
	now->known = true;
	now->total = (long long)n;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].ready, "true") == 0)
			now->ready++;
		else if (shown == NULL || strcmp(v[i].name, last->pod) == 0)
			shown = &v[i];
	}
	if (shown == NULL)
		return;
	strlcpy0(now->pod, shown->name, sizeof(now->pod));
	strlcpy0(now->reason, shown->reason[0] ? shown->reason
			      : shown->phase[0] ? shown->phase
						: "not ready",
		 sizeof(now->reason));
	now->restarts = strtoll(shown->restarts, NULL, 10);
}

/* "Pods: api-x CrashLoopBackOff (restarts 14, +3 since the last nag); 2/3 ready." */
static void failing_line(const struct pods_seen *last, const struct pods_seen *now, char *line,
			 size_t linelen)
{
	bool same = last->known && strcmp(last->pod, now->pod) == 0;
	bool counts = last->known && (last->ready != now->ready || last->total != now->total);
	long long more = same ? now->restarts - last->restarts : -1;
	char since[64] = "", was[64] = "";

	if (same && more == 0 && !counts) {
		snprintf(line, linelen,
			 "Pods unchanged since the last nag: %s %s (restarts %lld); %lld/%lld ready.",
			 now->pod, now->reason, now->restarts, now->ready, now->total);
		return;
	}
	if (more > 0)
		snprintf(since, sizeof(since), ", +%lld since the last nag", more);
	else if (more == 0)
		snprintf(since, sizeof(since), ", none since the last nag");
	if (counts)
		snprintf(was, sizeof(was), " (%lld/%lld at the last nag)", last->ready,
			 last->total);
	snprintf(line, linelen, "Pods: %s %s (restarts %lld%s); %lld/%lld ready%s.", now->pod,
		 now->reason, now->restarts, since, now->ready, now->total, was);
}

void followup_compose_nag_pods(const struct followup_facts *f, const char *pods,
			       const char *last_summary, char *line, size_t linelen, char *summary,
			       size_t sumlen)
{
	struct pod_state *v = NULL;
	struct pods_seen last, now;
	size_t n;

	summary[0] = '\0';
	seen_parse(last_summary, &last);
	if (followup_tool_failed(pods)) {
		char *why = tool_reason(pods);
		snprintf(line, linelen, "Pods: could not look (%s).", why);
		free(why);
		return;
	}
	n = parse_pods(f, pods, &v);
	seen_now(v, n, &last, &now);
	free(v);
	snprintf(summary, sumlen, "ready=%lld total=%lld%s%s restarts=%lld", now.ready, now.total,
		 now.pod[0] ? " pod=" : "", now.pod, now.restarts);
	if (now.total == 0)
		snprintf(line, linelen, "Pods: none of %s found in %s now.", target_name(f),
			 f->namespace ? f->namespace : "?");
	else if (now.ready == now.total && last.known && last.ready < last.total)
		snprintf(line, linelen,
			 "Pods recovering: %lld/%lld ready now (%lld/%lld at the last nag).",
			 now.ready, now.total, last.ready, last.total);
	else if (now.ready == now.total)
		snprintf(line, linelen, "Pods: %lld/%lld ready%s.", now.ready, now.total,
			 last.known ? ", as at the last nag" : "");
	else
		failing_line(&last, &now, line, linelen);
}

/* ---- compose: history, root cause, help ---- */

void followup_compose_history(const struct followup_facts *f, const char *history,
			      const char *past, struct followup_answer *a)
{
	char incidents[16] = "", noise[16] = "", real[16] = "", age[32] = "", verdict[32] = "",
	     cause[512] = "", line[LINE_MAX_LEN];
	const char *p = past;

	a->intent = FU_HISTORY;
	if (followup_tool_failed(history)) {
		char *why = tool_reason(history);
		set_text(a, xasprintf("Could not read the incident history (%s).", why));
		free(why);
		return;
	}
	followup_line_value(history, "incidents", incidents, sizeof(incidents));
	followup_line_value(history, "noise", noise, sizeof(noise));
	followup_line_value(history, "real", real, sizeof(real));
	followup_line_value(history, "last_age", age, sizeof(age));
	followup_line_value(history, "last_verdict", verdict, sizeof(verdict));
	followup_line_value(history, "last_root_cause", cause, sizeof(cause));
	if (incidents[0] == '\0' || strcmp(incidents, "0") == 0) {
		set_text(a, xasprintf("First time: no earlier incident of %s.", f->alertname));
		return;
	}
	set_text(a, xasprintf("Seen %s time%s before (%s noise, %s real); the last one %s ago, "
			      "%s%s%s",
			      incidents, strcmp(incidents, "1") ? "s" : "", noise[0] ? noise : "0",
			      real[0] ? real : "0", age[0] ? age : "?",
			      verdict[0] ? verdict : "no verdict", cause[0] ? ": " : ".", cause));
	while (followup_next_line(&p, line, sizeof(line)))
		if (line[0])
			add_bullet(a, xstrdup(line));
}

void followup_compose_root_cause(const struct followup_facts *f, struct followup_answer *a)
{
	a->intent = FU_ROOT_CAUSE;
	if (str_empty(f->root_cause)) {
		set_text(a, xstrdup(f->investigation_state && strcmp(f->investigation_state, "done")
					    ? "The investigation is still running; ask again in a "
					      "minute."
					    : "There is no root cause for this incident yet."));
		return;
	}
	if (f->category != NULL)
		set_text(a, xasprintf("Root cause (%s, %s confidence): %s", f->category,
				      f->confidence ? f->confidence : "?", f->root_cause));
	else
		set_text(a, xasprintf("Root cause: %s", f->root_cause));
	for (size_t i = 0; i < f->n_evidence && i < 5; i++)
		add_bullet(a, xstrdup(f->evidence[i]));
	if (!str_empty(f->command))
		set_command(a, xstrdup(f->command));
}

void followup_compose_help(const struct followup_facts *f, struct followup_answer *a)
{
	(void)f;
	a->intent = FU_HELP;
	set_text(a, xstrdup("I can answer these here:"));
	add_bullet(a, xstrdup("what changed? / last deploy: rollout history and warning events"));
	add_bullet(a, xstrdup("logs: the error lines of the failing pod"));
	add_bullet(a, xstrdup("status? / still broken?: a fresh look at the pods"));
	add_bullet(a, xstrdup("seen this before?: past incidents of this alert"));
	add_bullet(a, xstrdup("why? / root cause: what the investigation found"));
}
