/*
 * This file contains what investigations do with loaded playbooks (see
 * playbook.h): lookup by name, choosing the playbooks for an alert's labels,
 * {{variable}} templates and evaluating findings and step captures over tool
 * outputs. Loading, validation and freeing are in playbook_parse.c.
 */
#include "playbook.h"

#include <stdlib.h>
#include <string.h>

#include "regex.h"
#include "util.h"

#define TEMPLATE_MAX   4096 /* bytes of expanded text, at most */
#define VAR_NAME_MAX   128  /* characters between the braces, spaces included */
#define VAR_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

const struct playbook *playbook_find(const struct playbook_set *s, const char *name)
{
	if (s == NULL || name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
	    strstr(name, "..") != NULL)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->items[i].name, name) == 0)
			return &s->items[i];
	return NULL;
}

/* Fills out with the playbooks whose fallback flag is fallback and whose match matches. */
static size_t match_some(const struct playbook_set *s, const struct kv_list *labels,
			 bool fallback, const struct playbook **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n && n < max; i++)
		if (s->items[i].fallback == fallback &&
		    matcher_set_matches(&s->items[i].match, labels))
			out[n++] = &s->items[i];
	return n;
}

/* Fallback playbooks are used only when no other matches; an empty match matches all. */
size_t playbook_match(const struct playbook_set *s, const struct kv_list *labels,
		      const struct playbook **out, size_t max)
{
	size_t n;

	if (s == NULL || out == NULL || max == 0)
		return 0;
	n = match_some(s, labels, false, out, max);
	return n > 0 ? n : match_some(s, labels, true, out, max);
}

/*
 * If p starts a {{ name }} reference, copies the trimmed name into name
 * (VAR_NAME_MAX + 1 bytes) and returns the length of the reference; else 0.
 */
static size_t parse_ref(const char *p, char *name)
{
	const char *q = p + 2, *close = NULL, *a, *b;
	size_t n;

	for (size_t i = 0; i <= VAR_NAME_MAX && q[i] != '\0'; i++) {
		if (q[i] == '}' && q[i + 1] == '}') {
			close = q + i;
			break;
		}
	}
	if (close == NULL)
		return 0;
	for (a = q; a < close && (*a == ' ' || *a == '\t'); a++)
		;
	for (b = close; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
		;
	n = (size_t)(b - a);
	if (n == 0 || strspn(a, VAR_NAME_CHARS) < n)
		return 0;
	memcpy(name, a, n);
	name[n] = '\0';
	return (size_t)(close + 2 - p);
}

/* Appends n bytes of s to b, no more than TEMPLATE_MAX + 4 in all (the cut comes later). */
static void append_capped(struct buf *b, const char *s, size_t n)
{
	size_t room = TEMPLATE_MAX + 4 - b->len;

	buf_append(b, s, n < room ? n : room);
}

/* Values are inserted as text, never expanded again; *missing is only ever set to true (NULL ok). */
char *template_expand(const char *tmpl, template_lookup lookup, void *arg, bool *missing)
{
	char name[VAR_NAME_MAX + 1];
	const char *p = tmpl ? tmpl : "";
	struct buf b;
	char *out;

	buf_init(&b, 0);
	while (*p != '\0' && b.len <= TEMPLATE_MAX) {
		const char *open = strstr(p, "{{");
		size_t ref;

		if (open == NULL) {
			append_capped(&b, p, strlen(p));
			break;
		}
		append_capped(&b, p, (size_t)(open - p));
		ref = parse_ref(open, name);
		if (ref == 0) { /* not a reference: the braces are literal */
			append_capped(&b, open, 2);
			p = open + 2;
			continue;
		}
		{
			const char *v = lookup ? lookup(arg, name) : NULL;
			if (v == NULL && missing != NULL)
				*missing = true;
			if (v != NULL)
				append_capped(&b, v, strlen(v));
		}
		p = open + ref;
	}
	if (b.len > TEMPLATE_MAX) { /* cut before a character that does not fit whole */
		size_t cut = TEMPLATE_MAX;
		while (cut > 0 && ((unsigned char)b.data[cut] & 0xC0) == 0x80)
			cut--;
		b.len = cut;
		b.data[cut] = '\0';
	}
	out = buf_detach(&b);
	return out;
}

/* Adds one named group to a kv_list (regex_named_groups callback), cut to TEMPLATE_MAX bytes. */
static void add_group(void *arg, const char *name, const char *value)
{
	size_t n = strlen(value);
	char *cut;

	if (n <= TEMPLATE_MAX) {
		kv_list_set(arg, name, value);
		return;
	}
	n = TEMPLATE_MAX;
	while (n > 0 && ((unsigned char)value[n] & 0xC0) == 0x80)
		n--;
	cut = xstrndup(value, n);
	kv_list_set(arg, name, cut);
	free(cut);
}

/* True when c matches its source's output; a missing source or a matching error is *absent. */
static int condition_match(const struct pb_condition *c, source_lookup lookup, void *arg)
{
	const char *out = lookup ? lookup(arg, c->source) : NULL;

	if (out == NULL)
		return -2;
	return regex_match(c->re, out, strlen(out));
}

/*
 * A matching error (a limit hit) fails a `when` and counts as a match for an
 * `unless`: either way the finding is not concluded on an unknown.
 */
bool finding_matches(const struct pb_finding *f, source_lookup lookup, void *arg,
		     struct kv_list *captures)
{
	for (size_t i = 0; i < f->n_when; i++)
		if (condition_match(&f->when[i], lookup, arg) != 1)
			return false;
	for (size_t i = 0; i < f->n_unless; i++) {
		int rc = condition_match(&f->unless[i], lookup, arg);
		if (rc == 1 || rc == -1)
			return false;
	}
	for (size_t i = 0; captures != NULL && i < f->n_when; i++)
		(void)regex_named_groups(f->when[i].re, lookup(arg, f->when[i].source), add_group,
					 captures);
	return true;
}

void step_capture(const struct pb_step *step, const char *output, struct kv_list *vars)
{
	for (size_t i = 0; i < step->n_captures; i++)
		(void)regex_named_groups(step->captures[i].re, output ? output : "", add_group,
					 vars);
}
