/*
 * Unit tests of the renderer and the console channel: what a phone-sized
 * message contains, how the console lays a thread out, caps on hostile
 * lengths, side rows (a DM, a header update), and the channel registry.
 */
#include "harness.h"

#include "alert.h"
#include "channel.h"
#include "config.h"
#include "outbox.h"
#include "render.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct incident_view view(void)
{
	struct incident_view v = {
		.id = 12,
		.alertname = "KubePodCrashLooping",
		.environment = "production",
		.severity = "critical",
		.state = "open",
		.cluster = "prod-eu-1",
		.namespace = "prod",
		.workload = "api",
		.summary = "Pod prod/api is crash looping",
		.verdict_reason = "",
		.alert_count = 1,
		.opened_at_ms = 1000,
		.resolved_at_ms = 0,
	};
	return v;
}

/* What the console prints for an outbox row of kind with body (owned: free). */
static char *console_render_kind(const char *kind, const char *body, long long incident)
{
	struct channel ch = {.ops = &console_channel};
	struct outbox_item item = {.id = 1, .incident_id = incident, .body = (char *)body};
	struct config cfg;
	char ref[64], err[128];
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);

	memset(&cfg, 0, sizeof(cfg));
	strlcpy0(item.kind, kind, sizeof(item.kind));
	console_set_stream(mem);
	CHECK_INT(console_channel.start(&ch, &cfg, err, sizeof(err)), 0);
	CHECK_INT(console_channel.send(&ch, &item, ref, sizeof(ref), err, sizeof(err)),
		  CHANNEL_SENT);
	console_channel.stop(&ch);
	fclose(mem);
	console_set_stream(stdout);
	return out;
}

static char *console_render(const char *body, long long incident)
{
	return console_render_kind("received", body, incident);
}

static void test_received_message(void)
{
	struct incident_view v = view();
	struct alert a;
	cJSON *m;
	char *body, *out;

	alert_init(&a);
	a.source = SOURCE_ALERTMANAGER;
	a.summary = xstrdup("Pod prod/api-7f9c is crash looping");
	a.description = xstrdup("");
	a.generator_url = xstrdup("");
	a.starts_at_ms = 1795000000000LL;
	kv_list_set(&a.annotations, "runbook_url", "https://runbooks.example/X");
	body = render_message(MSG_RECEIVED, &v, &a);
	m = cJSON_Parse(body);
	CHECK(m != NULL);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(m, "kind")), "received");
	CHECK_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(m, "headline")),
		       "production \xC2\xB7 critical \xC2\xB7 KubePodCrashLooping \xC2\xB7 "
		       "prod-eu-1:prod/api");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(m, "text")),
		  "Received: Pod prod/api-7f9c is crash looping");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(m, "thread_start")));
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(m, "buttons")), 3);
	out = console_render(body, 12);
	CHECK_CONTAINS(out, "#12 \xE2\x94\x81\xE2\x94\x81 \xF0\x9F\x94\xB4 production");
	CHECK_CONTAINS(out, "#12 \xE2\x94\x83 Received: Pod prod/api-7f9c is crash looping\n");
	CHECK_CONTAINS(out, "runbook: https://runbooks.example/X");
	CHECK_CONTAINS(out, "[Acknowledge] [Resolve] [Silence 1h]");
	/* Every line belongs to the thread. */
	for (char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		CHECK(strncmp(line, "#12 ", 4) == 0);
	free(out);
	free(body);
	cJSON_Delete(m);
	alert_free(&a);
}

static void test_resolved_and_noise(void)
{
	struct incident_view v = view();
	char *body, *out;

	v.state = "resolved";
	v.alert_count = 2;
	v.resolved_at_ms = v.opened_at_ms + 125000;
	body = render_message(MSG_RESOLVED, &v, NULL);
	out = console_render(body, 12);
	CHECK_CONTAINS(out, "Resolved at source after 2 min (2 alerts)");
	CHECK(strstr(out, "\xE2\x94\x81\xE2\x94\x81") == NULL); /* a reply, not a new thread */
	CHECK(strstr(out, "[Acknowledge]") == NULL);
	free(out);
	free(body);

	v.state = "noise";
	v.verdict_reason = "test tenants";
	body = render_message(MSG_NOISE, &v, NULL);
	out = console_render(body, 13);
	CHECK_CONTAINS(out, "#13 \xE2\x94\x83 Dismissed as noise: test tenants");
	free(out);
	free(body);
}

static void test_hostile_lengths_are_capped(void)
{
	struct incident_view v = view();
	struct alert a;
	char *huge = xmalloc(100001), *body;
	cJSON *m;

	memset(huge, 'x', 100000);
	huge[100000] = '\0';
	alert_init(&a);
	a.summary = xstrdup(huge);
	a.description = xstrdup("line one\nline two\x01\x02");
	a.generator_url = xstrdup("");
	v.alertname = huge;
	body = render_message(MSG_RECEIVED, &v, &a);
	m = cJSON_Parse(body);
	CHECK(m != NULL);
	CHECK(strlen(body) < 2000);
	CHECK(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(m, "text"))) < 400);
	CHECK_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(m, "text")), "\xE2\x80\xA6");
	cJSON_Delete(m);
	free(body);
	free(huge);
	alert_free(&a);
}
/* A DM is one line naming the user; a header row prints nothing (and is sent). */
static void test_side_rows(void)
{
	char *out = console_render_kind(OUTBOX_DM,
					"{\"kind\":\"dm\",\"user\":\"U0CTO\",\"text\":\"Needs a "
					"human\",\"headline\":\"production \xC2\xB7 Boom\"}",
					7);
	CHECK_STR(out, "#7 \xE2\x9C\x89 DM to U0CTO: Needs a human: production \xC2\xB7 Boom\n");
	free(out);
	out = console_render_kind(OUTBOX_HEADER, "{\"state\":\"resolved\"}", 7);
	CHECK_STR(out ? out : "", "");
	free(out);
}

static void test_registry(void)
{
	size_t n;
	const struct channel_ops *const *reg = channel_registry(&n);
	CHECK(n >= 1);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			CHECK(strcmp(reg[i]->name, reg[j]->name) != 0);
	CHECK(channel_lookup("console") == &console_channel);
	CHECK(channel_lookup("nope") == NULL);
}

static void test_bad_body_fails_cleanly(void)
{
	struct channel ch = {.ops = &console_channel};
	struct outbox_item item = {.id = 1, .incident_id = 1, .body = "not json"};
	struct config cfg;
	char ref[64], err[128];
	memset(&cfg, 0, sizeof(cfg));
	console_channel.start(&ch, &cfg, err, sizeof(err));
	CHECK_INT(console_channel.send(&ch, &item, ref, sizeof(ref), err, sizeof(err)),
		  CHANNEL_FAILED);
	CHECK_CONTAINS(err, "not JSON");
	console_channel.stop(&ch);
}

int main(void)
{
	RUN(test_received_message);
	RUN(test_resolved_and_noise);
	RUN(test_hostile_lengths_are_capped);
	RUN(test_side_rows);
	RUN(test_registry);
	RUN(test_bad_body_fails_cleanly);
	return harness_done();
}
