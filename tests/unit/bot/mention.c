/*
 * This file contains the unit tests of mention.h: which incident a mention
 * outside a thread is about ("#42", "incident 42", a command's trailing
 * number, the only open incident), what is left for the command parser, and
 * the list that answers a mention naming none.
 */
#include "harness.h"

#include "mention.h"
#include "store.h"

#include <stdlib.h>

static const int64_t NOW = 1800000000000LL, MIN = 60000;

/* An incident opened minutes_ago in state. */
static void incident(struct store *s, const char *name, const char *state, int minutes_ago)
{
	char sql[400];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO incidents (fingerprint, alertname, source, environment, severity,"
		 " state, opened_at, last_seen_at, alert_count) VALUES ('fp', '%s', 'alertmanager',"
		 " 'production', 'warning', '%s', %lld, %lld, 1)",
		 name, state, (long long)(NOW - minutes_ago * MIN), (long long)NOW);
	CHECK_INT(store_exec(s, sql), 0);
}

/* mention_route over s; rest and reply into the given buffers. */
static int64_t route(struct store *s, const char *text, char *rest, char *reply)
{
	return mention_route(s, NULL, text, NOW, rest, 256, reply, 2048);
}

static void test_references(void)
{
	char err[256] = "", rest[256], reply[2048];
	struct store *s = store_open(":memory:", false, err, sizeof(err));

	CHECK(s != NULL);
	if (s == NULL)
		return;
	incident(s, "Boom", "escalated", 40);	 /* 1 */
	incident(s, "Bang", "acknowledged", 5);	 /* 2 */
	incident(s, "Old", "resolved", 600);	 /* 3 */
	CHECK_INT(route(s, "<@UBOT> what changed in #1?", rest, reply), 1);
	CHECK_STR(rest, "<@UBOT> what changed in ?");
	CHECK_INT(route(s, "<@UBOT> logs of incident 2 please", rest, reply), 2);
	CHECK_INT(route(s, "<@UBOT> Incident #3 again?", rest, reply), 3); /* resolved: still its */
	CHECK_INT(route(s, "<@UBOT> ack 2", rest, reply), 2);
	CHECK_STR(rest, "<@UBOT> ack ");
	CHECK_INT(route(s, "<@UBOT> silence 2h 1", rest, reply), 1);
	CHECK_STR(rest, "<@UBOT> silence 2h ");
	CHECK_INT(route(s, "<@UBOT> resolve #2", rest, reply), 2);
	/* Numbers that are not references: the list instead. */
	CHECK_INT(route(s, "<@UBOT> errors in the last 2", rest, reply), 0);
	CHECK_STR(rest, "<@UBOT> errors in the last 2");
	CHECK_CONTAINS(reply, "Which incident? 2 are open:");
	CHECK_INT(route(s, "<@UBOT> incidents 2", rest, reply), 0);
	CHECK_INT(route(s, "<@UBOT> #2abc", rest, reply), 0);
	CHECK_INT(route(s, "<@UBOT> see <#C123|general>", rest, reply), 0);
	CHECK_INT(route(s, "<@UBOT> ack 99999999999999999999", rest, reply), 0);
	/* The list: newest first, id, environment, alert, age; closed ones left out. */
	CHECK_INT(route(s, "<@UBOT> hi", rest, reply), 0);
	CHECK_CONTAINS(reply, "\n\xE2\x80\xA2 #2 production \xC2\xB7 Bang \xC2\xB7 open 5m\n"
			      "\xE2\x80\xA2 #1 production \xC2\xB7 Boom \xC2\xB7 open 40m\n");
	CHECK(strstr(reply, "Old") == NULL);
	CHECK_CONTAINS(reply, "`@nightshift ack 42`");
	/* An unknown number says so. */
	CHECK_INT(route(s, "<@UBOT> status #77", rest, reply), 0);
	CHECK_CONTAINS(reply, "I know no incident #77. Which incident?");
	/* One open: a mention naming none is about it. */
	CHECK_INT(store_exec(s, "UPDATE incidents SET state = 'resolved' WHERE id = 2"), 0);
	CHECK_INT(route(s, "<@UBOT> is it still happening?", rest, reply), 1);
	CHECK_STR(reply, "");
	/* None open. */
	CHECK_INT(store_exec(s, "UPDATE incidents SET state = 'resolved'"), 0);
	CHECK_INT(route(s, "<@UBOT> anything?", rest, reply), 0);
	CHECK_STR(reply, "No incident is open right now.");
	CHECK_INT(route(s, NULL, rest, reply), 0);
	store_close(s);
}

static void test_long_list(void)
{
	char err[256] = "", rest[256], reply[2048];
	struct store *s = store_open(":memory:", false, err, sizeof(err));

	CHECK(s != NULL);
	if (s == NULL)
		return;
	for (int i = 0; i < 13; i++)
		incident(s, "Many", "open", i);
	CHECK_INT(route(s, "<@UBOT> hi", rest, reply), 0);
	CHECK_CONTAINS(reply, "Which incident? 13 are open:");
	CHECK_CONTAINS(reply, "#13 production");
	CHECK_CONTAINS(reply, "#4 production");
	CHECK(strstr(reply, "#3 production") == NULL);
	CHECK_CONTAINS(reply, "\xE2\x80\xA6 and 3 more");
	store_close(s);
}

int main(void)
{
	RUN(test_references);
	RUN(test_long_list);
	return harness_done();
}
