/*
 * This file contains the unit tests of escalation.h: which messages and
 * reactions acknowledge (hostile text included), the nag schedule over a
 * store at chosen times (an overdue nag fires once, the cap, what changed),
 * acks and resolves stopping it, the per-environment config and its
 * defaults, the test clock, and widening (level, targets reached, DMs).
 */
#include "harness.h"

#include "command.h"
#include "config.h"
#include "esc_clock.h"
#include "escalation.h"
#include "quiet.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/ns-esc-XXXXXX";
static const char *const channels[] = {"console"};

static struct config *load_cfg(const char *yaml, char *err, size_t errlen)
{
	char path[256];
	FILE *f;
	snprintf(path, sizeof(path), "%s/cfg.yaml", tmpdir);
	f = fopen(path, "w");
	fputs(yaml, f);
	fclose(f);
	return config_load(path, err, errlen);
}

static long long scalar(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The text of the last outbox row (the message JSON). */
static void last_body(struct store *s, char *out, size_t outlen)
{
	sqlite3_stmt *st;
	out[0] = '\0';
	if (sqlite3_prepare_v2(store_db(s), "SELECT body FROM outbox ORDER BY id DESC LIMIT 1", -1,
			       &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		strlcpy0(out, (const char *)sqlite3_column_text(st, 0), outlen);
	sqlite3_finalize(st);
}

static void test_ack_words(void)
{
	char *big = xcalloc(1, 100 * 1024 + 1);

	CHECK(escalation_ack_text("ack"));
	CHECK(escalation_ack_text("ACK"));
	CHECK(escalation_ack_text("  Acked.  "));
	CHECK(escalation_ack_text("on it!"));
	CHECK(escalation_ack_text("On It"));
	CHECK(escalation_ack_text("looking\n"));
	/* "ack" inside a longer sentence is not an ack. */
	CHECK(!escalation_ack_text("I will ack this after lunch"));
	CHECK(!escalation_ack_text("ack?"));
	CHECK(!escalation_ack_text("don't ack"));
	CHECK(!escalation_ack_text("looking at it"));
	CHECK(!escalation_ack_text("hacked"));
	CHECK(!escalation_ack_text("ack ack"));
	CHECK(!escalation_ack_text(""));
	CHECK(!escalation_ack_text(NULL));
	CHECK(!escalation_ack_text("on  it"));
	/* Control characters and invalid UTF-8 are not acks (and nothing breaks). */
	CHECK(!escalation_ack_text("ack\x01"));
	CHECK(!escalation_ack_text("\x1b[31mack"));
	CHECK(!escalation_ack_text("a\xffk"));
	CHECK(!escalation_ack_text("ack\xc3"));
	CHECK(!escalation_ack_text("\xc3\xa1\x63k"));
	/* 100 KB: of spaces around "ack" it still is one; of letters it is not. */
	memset(big, ' ', 100 * 1024);
	memcpy(big + 50 * 1024, "ack", 3);
	CHECK(escalation_ack_text(big));
	memset(big, 'a', 100 * 1024);
	CHECK(!escalation_ack_text(big));
	free(big);
	CHECK(escalation_ack_reaction("eyes"));
	CHECK(escalation_ack_reaction("white_check_mark"));
	CHECK(!escalation_ack_reaction("thumbsup"));
	CHECK(!escalation_ack_reaction("eyes_"));
	CHECK(!escalation_ack_reaction(NULL));
}

static enum command_kind kind_of(const char *text)
{
	struct command c;
	command_parse(text, NULL, &c);
	return c.kind;
}

static void test_commands(void)
{
	struct command c;
	char *big = xcalloc(1, 100 * 1024 + 1);

	CHECK_INT(kind_of("ack"), CMD_ACK);
	CHECK_INT(kind_of("<@UBOT> on it"), CMD_ACK);
	CHECK_INT(kind_of("resolve"), CMD_RESOLVE);
	CHECK_INT(kind_of("Resolve."), CMD_RESOLVE);
	CHECK_INT(kind_of("unsilence"), CMD_UNSILENCE);
	CHECK_INT(kind_of("noise"), CMD_NOISE);
	CHECK_INT(kind_of("real"), CMD_REAL);
	CHECK_INT(kind_of("  status\n"), CMD_STATUS);
	CHECK_INT(kind_of("<@UBOT> help"), CMD_HELP);
	command_parse("silence 2h", NULL, &c);
	CHECK_INT(c.kind, CMD_SILENCE);
	CHECK_INT(c.seconds, 7200);
	command_parse("silence", NULL, &c);
	CHECK_INT(c.seconds, 3600);
	command_parse("snooze 30m", NULL, &c);
	CHECK_INT(c.kind, CMD_SNOOZE);
	CHECK_INT(c.seconds, 1800);
	command_parse("silence forever", NULL, &c);
	CHECK_INT(c.kind, CMD_BAD);
	CHECK_STR(c.error, "silence needs a duration like 2h (at most 7d)");
	command_parse("silence 8d", NULL, &c);
	CHECK_INT(c.kind, CMD_BAD);
	command_parse("snooze 2d", NULL, &c);
	CHECK_INT(c.kind, CMD_BAD);
	command_parse("snooze -5m", NULL, &c);
	CHECK_INT(c.kind, CMD_BAD);
	/* Sentences are questions, never commands. */
	CHECK_INT(kind_of("please resolve this"), CMD_NONE);
	CHECK_INT(kind_of("resolve this please"), CMD_NONE);
	CHECK_INT(kind_of("I will ack this after lunch"), CMD_NONE);
	CHECK_INT(kind_of("silence the pager for 2h"), CMD_NONE);
	CHECK_INT(kind_of("what changed?"), CMD_NONE);
	CHECK_INT(kind_of("is this noise?"), CMD_NONE);
	CHECK_INT(kind_of(""), CMD_NONE);
	CHECK_INT(kind_of(NULL), CMD_NONE);
	/* Hostile text. */
	CHECK_INT(kind_of("resolve\x01"), CMD_NONE);
	CHECK_INT(kind_of("\x1b[2Jresolve"), CMD_NONE);
	CHECK_INT(kind_of("res\xffolve"), CMD_NONE);
	CHECK_INT(kind_of("silence 2h\xc3"), CMD_BAD);
	CHECK_INT(kind_of("<@"), CMD_NONE);
	CHECK_INT(kind_of("<@UBOT"), CMD_NONE);
	memset(big, ' ', 100 * 1024);
	memcpy(big + 50 * 1024, "resolve", 7);
	CHECK_INT(kind_of(big), CMD_NONE); /* over 256 bytes: never a command */
	memset(big, 'x', 100 * 1024);
	CHECK_INT(kind_of(big), CMD_NONE);
	free(big);
	{
		char err[2048] = "";
		struct config *cfg = load_cfg(
		    "ack_words: [\"on it\", \"mine\", \"taking (it|this)\"]\n", err, sizeof(err));
		CHECK(cfg != NULL && cfg->ack_words != NULL);
		if (cfg) {
			command_parse("Taking this!", cfg->ack_words, &c);
			CHECK_INT(c.kind, CMD_ACK);
			command_parse("  MINE ", cfg->ack_words, &c);
			CHECK_INT(c.kind, CMD_ACK);
			command_parse("ack", cfg->ack_words,
				      &c); /* the list replaces the defaults */
			CHECK_INT(c.kind, CMD_NONE);
			command_parse("it is mine now", cfg->ack_words, &c);
			CHECK_INT(c.kind, CMD_NONE);
			command_parse("mine\xff", cfg->ack_words, &c);
			CHECK_INT(c.kind, CMD_NONE);
		}
		config_unref(cfg);
		cfg = load_cfg("ack_words: [\"(unclosed\"]\n", err, sizeof(err));
		CHECK(cfg == NULL);
		CHECK_CONTAINS(err, "cfg.yaml:1: ack_words: bad pattern \"(unclosed\"");
		config_unref(cfg);
	}
	CHECK_STR(command_name(CMD_SILENCE), "silence");
	CHECK(command_name(CMD_NONE) == NULL);
	CHECK(command_name(CMD_BAD) == NULL);
	{
		char d[32];
		command_format_duration(5400, d, sizeof(d));
		CHECK_STR(d, "1h30m");
		command_format_duration(7 * 86400, d, sizeof(d));
		CHECK_STR(d, "7d");
	}
}

static void test_config(void)
{
	char err[2048] = "";
	struct config *c = load_cfg("environments:\n"
				    "  - name: production\n    match: {namespace: \"^prod\"}\n"
				    "  - name: staging\n    match: {namespace: \"^stg\"}\n"
				    "    nag_interval: 30m\n    max_nags: 3\n"
				    "  - name: dev\n    nag_interval: none\n",
				    err, sizeof(err));
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK_INT(config_nag_interval_s(c, "production"), 600);
	CHECK_INT(config_max_nags(c, "production"), 0);
	CHECK_INT(config_nag_interval_s(c, "staging"), 1800);
	CHECK_INT(config_max_nags(c, "staging"), 3);
	CHECK_INT(config_nag_interval_s(c, "dev"), 0);
	CHECK_INT(config_nag_interval_s(c, "elsewhere"), 0);
	config_unref(c);

	setenv("NS_ESC_APP", "xapp-1-test", 1);
	setenv("NS_ESC_BOT", "xoxb-test", 1);
	c = load_cfg("environments:\n"
		     "  - name: production\n    match: {namespace: \"^prod\"}\n"
		     "    targets: [U9ONCALL, W2LEAD]\n"
		     "  - name: dev\n"
		     "channels:\n  slack:\n    channel: C1\n    app_token_env: NS_ESC_APP\n    "
		     "bot_token_env: NS_ESC_BOT\n"
		     "    escalation_users: [U1ADMIN]\n",
		     err, sizeof(err));
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s\n", err);
	} else {
		char m[128];
		escalation_mentions(c, "production", m, sizeof(m));
		CHECK_STR(m, "<@U9ONCALL> <@W2LEAD>");
		escalation_mentions(c, "dev", m, sizeof(m));
		CHECK_STR(m, "<@U1ADMIN>");
	}
	config_unref(c);
	c = load_cfg("environments:\n  - name: dev\n    targets: [alice]\n", err, sizeof(err));
	CHECK(c == NULL);
	CHECK_CONTAINS(err,
		       "cfg.yaml:3: environments[0].targets: \"alice\" is not a Slack user id");
	config_unref(c);

	c = load_cfg("environments:\n  - name: dev\n    nag_interval: soon\n    max_nags: 0\n", err,
		     sizeof(err));
	CHECK(c == NULL);
	CHECK_CONTAINS(err, "cfg.yaml:3: environments[0].nag_interval: bad duration");
	CHECK_CONTAINS(err, "cfg.yaml:4: environments[0].max_nags");
	config_unref(c);

	unsetenv("NIGHTSHIFT_ALLOW_TEST_CLOCK");
	c = load_cfg("testing:\n  clock_file: /tmp/x\n", err, sizeof(err));
	CHECK(c == NULL);
	CHECK_CONTAINS(err, "cfg.yaml:2: testing.clock_file: a test-only setting");
	config_unref(c);
	setenv("NIGHTSHIFT_ALLOW_TEST_CLOCK", "1", 1);
	c = load_cfg("testing:\n  clock_file: /tmp/x\n", err, sizeof(err));
	CHECK(c != NULL);
	if (c)
		CHECK_STR(c->test_clock_file, "/tmp/x");
	config_unref(c);
	unsetenv("NIGHTSHIFT_ALLOW_TEST_CLOCK");
}

static void test_clock(void)
{
	char path[300];
	FILE *f;
	int64_t a, b;

	snprintf(path, sizeof(path), "%s/clock", tmpdir);
	esc_clock_set_file(path);
	a = esc_now_ms(); /* no file yet: the wall clock */
	CHECK(llabs((long long)(a - now_ms())) < 1000);
	f = fopen(path, "w");
	fputs("3600000\n", f);
	fclose(f);
	b = esc_now_ms();
	CHECK(b - now_ms() > 3590000 && b - now_ms() < 3610000);
	f = fopen(path, "w");
	fputs("garbage", f);
	fclose(f);
	CHECK(llabs((long long)(esc_now_ms() - now_ms())) < 1000);
	esc_clock_set_file(NULL);
	CHECK(llabs((long long)(esc_now_ms() - now_ms())) < 1000);
}

/* An incident escalated at t0 in environment env. */
static int64_t escalated_incident(struct store *s, const struct config *c, const char *env,
				  int64_t t0)
{
	char sql[512], err[256] = "";
	snprintf(
	    sql, sizeof(sql),
	    "INSERT INTO incidents (fingerprint, alertname, source, environment, severity, state,"
	    " opened_at, last_seen_at, alert_count) VALUES ('fp', 'Boom', 'alertmanager', '%s', "
	    "'critical',"
	    " 'escalated', %lld, %lld, 1)",
	    env, (long long)t0, (long long)t0);
	CHECK_INT(store_exec(s, sql), 0);
	int64_t id = sqlite3_last_insert_rowid(store_db(s));
	CHECK_INT(escalation_start(s, c, id, env, t0, err, sizeof(err)), 0);
	return id;
}

static int run_due(struct store *s, const struct config *c, int64_t now)
{
	char err[256] = "";
	int n = escalation_run_due(s, c, channels, 1, now, err, sizeof(err));
	if (n < 0)
		fprintf(stderr, "run_due: %s\n", err);
	return n;
}

static void test_schedule(void)
{
	char err[2048] = "", body[4096];
	struct config *c = load_cfg("environments:\n"
				    "  - name: production\n    match: {namespace: \"^prod\"}\n"
				    "  - name: staging\n    match: {namespace: \"^stg\"}\n"
				    "    max_nags: 2\n    nag_interval: 5m\n"
				    "  - name: dev\n"
				    "channels:\n  console: {}\n",
				    err, sizeof(err));
	struct store *s = store_open(":memory:", false, err, sizeof(err));
	const int64_t t0 = 1000000000000LL, MIN = 60000;
	int64_t prod, stg, dev, open_ms = 0;

	CHECK(c != NULL && s != NULL);
	if (c == NULL || s == NULL)
		return;
	CHECK_INT(store_schema_version(s), STORE_SCHEMA_VERSION);
	prod = escalated_incident(s, c, "production", t0);
	stg = escalated_incident(s, c, "staging", t0);
	dev = escalated_incident(s, c, "dev", t0);
	CHECK_INT(escalation_next_due(s), t0 + 5 * MIN);
	CHECK_INT(scalar(s, "SELECT count(*) FROM escalations WHERE next_nag_at IS NULL"), 1);
	(void)dev;
	CHECK_INT(run_due(s, c, t0 + 4 * MIN), 0);
	CHECK_INT(run_due(s, c, t0 + 5 * MIN), 1); /* staging */
	last_body(s, body, sizeof(body));
	CHECK_CONTAINS(body, "Still unacknowledged \xE2\x80\x94 nag #1, open 5 min.");
	CHECK_INT(run_due(s, c, t0 + 10 * MIN), 2); /* production, staging (its last) */
	last_body(s, body, sizeof(body));
	CHECK_CONTAINS(body, "nag #2, open 10 min");
	CHECK_CONTAINS(body, "Last nag (max_nags reached).");
	CHECK_INT(scalar(s, "SELECT count(*) FROM escalations WHERE next_nag_at IS NOT NULL"), 1);
	/* Overdue by hours (a restart): one nag, then one interval from now. */
	CHECK_INT(run_due(s, c, t0 + 200 * MIN), 1);
	CHECK_INT(run_due(s, c, t0 + 200 * MIN), 0);
	{
		char q[128];
		snprintf(q, sizeof(q), "SELECT nags FROM escalations WHERE incident_id = %lld",
			 (long long)prod);
		CHECK_INT(scalar(s, q), 2);
	}
	CHECK_INT(escalation_next_due(s), t0 + 210 * MIN);
	/* An ack stops it; a second one finds nothing active. */
	CHECK_INT(escalation_acked(s, prod, "U1", t0 + 205 * MIN, &open_ms), 1);
	CHECK_INT(open_ms, 205 * MIN);
	CHECK_INT(escalation_acked(s, prod, "U1", t0 + 206 * MIN, &open_ms), 0);
	CHECK_INT(run_due(s, c, t0 + 300 * MIN), 0);
	CHECK_INT(escalation_next_due(s), INT64_MAX);
	CHECK_INT(escalation_stop(s, stg, "resolved", t0), 1);
	CHECK_INT(escalation_stop(s, stg, "resolved", t0), 0);
	store_close(s);
	config_unref(c);
}

/* The incident resolved meanwhile: the due run stops it (and says so only for the source). */
static void test_resolved_meanwhile(void)
{
	char err[2048] = "", body[4096];
	struct config *c = load_cfg("environments:\n  - name: production\n", err, sizeof(err));
	struct store *s = store_open(":memory:", false, err, sizeof(err));
	const int64_t t0 = 1000000000000LL;
	int64_t id;

	CHECK(c != NULL && s != NULL);
	if (c == NULL || s == NULL)
		return;
	id = escalated_incident(s, c, "production", t0);
	CHECK_INT(store_exec(s, "UPDATE incidents SET state = 'resolved', resolved_by = 'source'"),
		  0);
	CHECK_INT(run_due(s, c, t0 + 600000), 1);
	last_body(s, body, sizeof(body));
	CHECK_CONTAINS(body, "Resolved at source \xE2\x80\x94 stopping nags");
	{
		char q[128];
		snprintf(q, sizeof(q),
			 "SELECT state = 'resolved' FROM escalations WHERE incident_id = %lld",
			 (long long)id);
		CHECK_INT(scalar(s, q), 1);
	}
	store_close(s);
	config_unref(c);
}

/* quiet_parse(s) must succeed; the window it gives. */
static struct quiet_hours quiet(const char *s)
{
	struct quiet_hours q;
	char why[160] = "";

	if (quiet_parse(s, &q, why, sizeof(why)) < 0) {
		CHECK_STR(why, "");
		q.from = q.to = -1;
	}
	return q;
}

/* Seconds since the epoch of a UTC date and time (timegm: no time zone involved). */
static int64_t utc_ms(int y, int mon, int d, int h, int min)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h,
			.tm_min = min};
	return (int64_t)timegm(&tm) * 1000;
}

static void test_quiet_parse(void)
{
	struct quiet_hours q;
	char why[160];

	q = quiet("22:00-07:00");
	CHECK_INT(q.from, 22 * 60);
	CHECK_INT(q.to, 7 * 60);
	CHECK_INT(q.offset, 0);
	CHECK_STR(q.zone, "");
	q = quiet("22:00-07:00 UTC");
	CHECK_STR(q.zone, "");
	CHECK_INT(quiet("22:30-06:15 +02:00").offset, 120);
	CHECK_INT(quiet("09:00-17:00 -05:30").offset, -330);
	CHECK_STR(quiet("22:00-07:00 Europe/Berlin").zone, "Europe/Berlin");
	CHECK_STR(quiet("08:00-09:00 America/New_York").zone, "America/New_York");
	CHECK_INT(quiet_parse("25:00-07:00", &q, why, sizeof(why)), -1);
	CHECK_INT(quiet_parse("22:00-22:00", &q, why, sizeof(why)), -1);
	CHECK_INT(quiet_parse("22:00 07:00", &q, why, sizeof(why)), -1);
	CHECK_INT(quiet_parse("", &q, why, sizeof(why)), -1);
	CHECK_INT(quiet_parse("22:00-07:00Europe/Berlin", &q, why, sizeof(why)), -1);
	CHECK_INT(quiet_parse("22:00-07:00 +2", &q, why, sizeof(why)), -1);
	CHECK_INT(quiet_parse("22:00-07:00 Europe/Atlantis", &q, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "unknown time zone \"Europe/Atlantis\"");
	CHECK_INT(quiet_parse("22:00-07:00 ../../etc/passwd", &q, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "is not a time zone name");
	CHECK_INT(quiet_parse("22:00-07:00 Europe/", &q, why, sizeof(why)), -1);
	CHECK(!quiet_zone_exists("Europe")); /* a directory, not a zone */
	CHECK(!quiet_zone_exists("/etc/localtime"));
	CHECK(quiet_zone_exists("UTC"));
}

static void test_quiet_until(void)
{
	/* 2001-09-09 01:46:40 UTC */
	const int64_t t0 = 1000000000000LL, MIN = 60000;
	const int64_t midnight = t0 / 86400000 * 86400000;
	struct quiet_hours night = quiet("22:00-07:00"), day = quiet("09:00-17:00");
	struct quiet_hours east = quiet("01:00-05:00 +02:00");
	struct quiet_hours berlin = quiet("22:00-07:00 Europe/Berlin");
	struct quiet_hours ny = quiet("22:00-07:00 America/New_York");
	struct quiet_hours ny_day = quiet("09:00-17:00 America/New_York");

	/* 01:46 UTC is inside 22:00-07:00 (ends 07:00), outside 09:00-17:00. */
	CHECK_INT(quiet_until(&night, t0), midnight + 7 * 60 * MIN);
	CHECK_INT(quiet_until(&day, t0), 0);
	/* In UTC+02:00 it is 03:46: inside 01:00-05:00 local, which ends at 03:00 UTC. */
	CHECK_INT(quiet_until(&east, t0), midnight + 3 * 60 * MIN);

	/* Berlin in winter (CET, UTC+1): 23:30 local, quiet until 07:00 local = 06:00 UTC. */
	CHECK_INT(quiet_until(&berlin, utc_ms(2026, 1, 15, 22, 30)), utc_ms(2026, 1, 16, 6, 0));
	/* In summer (CEST, UTC+2): 07:00 local is 05:00 UTC; 20:59 UTC = 22:59 local. */
	CHECK_INT(quiet_until(&berlin, utc_ms(2026, 7, 15, 20, 59)), utc_ms(2026, 7, 16, 5, 0));
	/* 21:30 UTC in winter is 22:30 local (quiet); 20:30 UTC is 21:30 (not). */
	CHECK_INT(quiet_until(&berlin, utc_ms(2026, 1, 15, 20, 30)), 0);
	/* In summer 19:59 UTC is 21:59 local: not yet quiet; 05:00 UTC = 07:00: over. */
	CHECK_INT(quiet_until(&berlin, utc_ms(2026, 7, 15, 19, 59)), 0);
	CHECK_INT(quiet_until(&berlin, utc_ms(2026, 7, 16, 5, 0)), 0);
	/* After midnight of the wrapped window: 02:10 local (winter) still ends 07:00 local. */
	CHECK_INT(quiet_until(&berlin, utc_ms(2026, 1, 16, 1, 10)), utc_ms(2026, 1, 16, 6, 0));
	/* The spring switch night (29 March 2026, 02:00 CET -> 03:00 CEST): begun at 22:30
	 * CET, it ends at 07:00 CEST = 05:00 UTC, not the 06:00 a fixed +01:00 gives. */
	CHECK_INT(quiet_until(&berlin, utc_ms(2026, 3, 28, 21, 30)), utc_ms(2026, 3, 29, 5, 0));
	CHECK_INT(quiet_until(&(struct quiet_hours){.from = 22 * 60, .to = 7 * 60, .offset = 60},
			      utc_ms(2026, 3, 28, 21, 30)),
		  utc_ms(2026, 3, 29, 6, 0));
	/* The autumn switch night (25 October 2026, 03:00 CEST -> 02:00 CET): 06:00 UTC. */
	CHECK_INT(quiet_until(&berlin, utc_ms(2026, 10, 24, 20, 30)), utc_ms(2026, 10, 25, 6, 0));
	/* New York (EST UTC-5, EDT UTC-4): winter 03:00 UTC = 22:00 EST, until 12:00 UTC. */
	CHECK_INT(quiet_until(&ny, utc_ms(2026, 1, 15, 3, 0)), utc_ms(2026, 1, 15, 12, 0));
	/* Summer: 07:00 EDT = 11:00 UTC. */
	CHECK_INT(quiet_until(&ny, utc_ms(2026, 7, 15, 3, 0)), utc_ms(2026, 7, 15, 11, 0));
	/* Its spring switch (8 March 2026, 02:00 EST -> 03:00 EDT). */
	CHECK_INT(quiet_until(&ny, utc_ms(2026, 3, 8, 4, 0)), utc_ms(2026, 3, 8, 11, 0));
	/* A day window: 13:00 UTC is 09:00 EDT in summer (quiet until 21:00 UTC) … */
	CHECK_INT(quiet_until(&ny_day, utc_ms(2026, 7, 15, 13, 0)), utc_ms(2026, 7, 15, 21, 0));
	/* … but 08:00 EST in winter: not quiet. */
	CHECK_INT(quiet_until(&ny_day, utc_ms(2026, 1, 15, 13, 0)), 0);
	/* The process's own TZ is left as it was. */
	CHECK(getenv("TZ") == NULL || strcmp(getenv("TZ"), ":Europe/Berlin") != 0);
}

static void test_quiet_hours(void)
{
	char err[2048] = "", body[4096];
	struct config *c;
	struct store *s;
	/* 2001-09-09 01:46:40 UTC */
	const int64_t t0 = 1000000000000LL, MIN = 60000;
	const int64_t midnight = t0 / 86400000 * 86400000;
	int64_t warn, crit;

	c = load_cfg("environments:\n  - name: production\n    quiet_hours: \"22:00-07:00\"\n", err,
		     sizeof(err));
	s = store_open(":memory:", false, err, sizeof(err));
	CHECK(c != NULL && s != NULL);
	if (c == NULL || s == NULL)
		return;
	warn = escalated_incident(s, c, "production", t0 - 10 * MIN);
	crit = escalated_incident(s, c, "production", t0 - 10 * MIN);
	{
		char q[128];
		snprintf(q, sizeof(q), "UPDATE incidents SET severity = 'warning' WHERE id = %lld",
			 (long long)warn);
		CHECK_INT(store_exec(s, q), 0);
	}
	/* Both due at t0 (01:46 UTC, quiet): only the critical one nags. */
	CHECK_INT(run_due(s, c, t0), 2);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox"), 1);
	last_body(s, body, sizeof(body));
	CHECK_CONTAINS(body, "nag #1");
	{
		char q[160];
		snprintf(q, sizeof(q),
			 "SELECT next_nag_at FROM escalations WHERE incident_id = %lld",
			 (long long)warn);
		CHECK_INT(scalar(s, q), midnight + 7 * 60 * MIN);
	}
	/* At 07:00 the held one nags once. */
	CHECK_INT(run_due(s, c, midnight + 7 * 60 * MIN), 2);
	CHECK_INT(scalar(s, "SELECT sum(nags) FROM escalations"), 3);
	(void)crit;
	store_close(s);
	config_unref(c);
}

/*
 * An escalation in a zone keeps the zone in its row: a restart with a config
 * that no longer has quiet hours holds the warning nag the same way.
 */
static void test_quiet_zone_row(void)
{
	char err[2048] = "", path[300];
	struct config *c, *plain;
	struct store *s;
	const int64_t MIN = 60000, t0 = utc_ms(2026, 3, 28, 21, 30); /* 22:30 CET */
	int64_t id;

	snprintf(path, sizeof(path), "%s/zone.db", tmpdir);
	c = load_cfg("environments:\n  - name: production\n"
		     "    quiet_hours: \"22:00-07:00 Europe/Berlin\"\n",
		     err, sizeof(err));
	s = store_open(path, false, err, sizeof(err));
	CHECK(c != NULL && s != NULL);
	if (c == NULL || s == NULL)
		return;
	id = escalated_incident(s, c, "production", t0 - 10 * MIN);
	CHECK_INT(store_exec(s, "UPDATE incidents SET severity = 'warning'"), 0);
	CHECK_INT(scalar(s, "SELECT count(*) FROM escalations WHERE quiet_zone = 'Europe/Berlin'"),
		  1);
	store_close(s);
	config_unref(c);
	/* The restart: another config, the same file. */
	plain = load_cfg("environments:\n  - name: production\n", err, sizeof(err));
	s = store_open(path, false, err, sizeof(err));
	CHECK(plain != NULL && s != NULL);
	if (plain == NULL || s == NULL)
		return;
	CHECK_INT(run_due(s, plain, t0), 1);
	CHECK_INT(scalar(s, "SELECT count(*) FROM outbox"), 0);
	/* Held until 07:00 CEST, the morning after the switch (05:00 UTC). */
	CHECK_INT(scalar(s, "SELECT next_nag_at FROM escalations"), utc_ms(2026, 3, 29, 5, 0));
	CHECK_INT(run_due(s, plain, utc_ms(2026, 3, 29, 5, 0)), 1);
	CHECK_INT(scalar(s, "SELECT nags FROM escalations"), 1);
	(void)id;
	store_close(s);
	config_unref(plain);
	/* An unknown zone is a config error naming file:line. */
	c = load_cfg("environments:\n  - name: production\n    quiet_hours: \"22:00-07:00 "
		     "Mars/Olympus\"\n",
		     err, sizeof(err));
	CHECK(c == NULL);
	CHECK_CONTAINS(err, "cfg.yaml:3: environments[0].quiet_hours: bad time range");
	CHECK_CONTAINS(err, "unknown time zone \"Mars/Olympus\"");
	config_unref(c);
}

/* ack_words per environment replace the top-level ones for that environment only. */
static void test_ack_words_per_environment(void)
{
	char err[2048] = "";
	struct config *c = load_cfg("ack_words: [\"mine\"]\n"
				    "environments:\n  - name: production\n"
				    "    match: {namespace: \"^prod\"}\n"
				    "    ack_words: [\"got it\", \"on it\"]\n"
				    "  - name: staging\n",
				    err, sizeof(err));
	const struct regex *prod, *stg;

	CHECK(c != NULL);
	if (c == NULL) {
		CHECK_STR(err, "");
		return;
	}
	prod = config_ack_words(c, "production");
	stg = config_ack_words(c, "staging");
	CHECK(prod != NULL && prod != c->ack_words);
	CHECK(stg == c->ack_words);
	CHECK(config_ack_words(c, "unknown") == c->ack_words);
	CHECK(escalation_ack_text_re(prod, "Got it!"));
	CHECK(!escalation_ack_text_re(prod, "mine"));
	CHECK(escalation_ack_text_re(stg, "mine"));
	CHECK(!escalation_ack_text_re(stg, "got it"));
	config_unref(c);
	c = load_cfg("environments:\n  - name: production\n    ack_words: []\n", err,
		     sizeof(err));
	CHECK(c == NULL);
	CHECK_CONTAINS(err, "cfg.yaml:3: environments[0].ack_words: expected a non-empty list");
	config_unref(c);
}

static void test_level(void)
{
	/* widen_after 0: never; otherwise one more level every widen_after nags. */
	CHECK_INT(escalation_level(50, 0, 2), 0);
	CHECK_INT(escalation_level(1, 2, 2), 0);
	CHECK_INT(escalation_level(2, 2, 2), 0);
	CHECK_INT(escalation_level(3, 2, 2), 1);
	CHECK_INT(escalation_level(4, 2, 2), 1);
	CHECK_INT(escalation_level(5, 2, 2), 2);
	/* At most one level per further target ... */
	CHECK_INT(escalation_level(99, 2, 2), 2);
	CHECK_INT(escalation_level(4, 1, 3), 3);
	/* ... and 1 (the channel) without any. */
	CHECK_INT(escalation_level(2, 1, 0), 1);
	CHECK_INT(escalation_level(99, 1, 0), 1);
	CHECK_INT(escalation_level(0, 1, 2), 0);
}

/* count(*) of the outbox rows matching where. */
static long long rows(struct store *s, const char *where)
{
	char q[256];
	snprintf(q, sizeof(q), "SELECT count(*) FROM outbox WHERE %s", where);
	return scalar(s, q);
}

/* Runs the nags due at now (one) and checks that the last message contains want. */
static void nag_says(struct store *s, const struct config *c, int64_t now, const char *want)
{
	char body[4096];
	CHECK_INT(run_due(s, c, now), 1);
	last_body(s, body, sizeof(body));
	CHECK_CONTAINS(body, want);
}

/* Checks that yaml is refused with an error containing want. */
static void config_refused(const char *yaml, const char *want)
{
	char err[2048] = "";
	struct config *c = load_cfg(yaml, err, sizeof(err));
	CHECK(c == NULL);
	CHECK_CONTAINS(err, want);
	config_unref(c);
}

static void test_widen(void)
{
	char err[2048] = "";
	struct config *c = load_cfg("environments:\n"
				    "  - name: production\n    targets: [U1ONCALL]\n"
				    "    widen_after: 2\n    widen_to: [U2SECOND, U3CTO]\n",
				    err, sizeof(err));
	struct store *s = store_open(":memory:", false, err, sizeof(err));
	const int64_t t0 = 1000000000000LL, MIN = 60000;
	int64_t id, open_ms;

	CHECK(c != NULL && s != NULL);
	if (c == NULL || s == NULL)
		return;
	id = escalated_incident(s, c, "production", t0);
	/* Nags 1 and 2: the targets only. */
	CHECK_INT(run_due(s, c, t0 + 10 * MIN), 1);
	nag_says(s, c, t0 + 20 * MIN,
		 "\"\xE2\x8F\xB0 <@U1ONCALL> Still unacknowledged \xE2\x80\x94 nag #2");
	CHECK_INT(rows(s, "kind = 'dm'"), 0);
	CHECK_INT(scalar(s, "SELECT level FROM escalations"), 0);
	/* Nag 3: level 1, the channel and the second target; one DM to it, before the nag. */
	nag_says(s, c, t0 + 30 * MIN,
		 "<!here> \xE2\x8F\xB0 <@U1ONCALL> <@U2SECOND> Still unacknowledged \xE2\x80\x94 nag #3");
	CHECK_INT(rows(s, "kind = 'dm'"), 1);
	CHECK_INT(rows(s, "kind = 'dm' AND json_extract(body, '$.user') = 'U2SECOND' AND"
			  " json_extract(body, '$.text') LIKE '%unacknowledged after 2 nags'"),
		  1);
	CHECK_INT(scalar(s, "SELECT level = 1 AND targets = 'U1ONCALL U2SECOND' FROM escalations"),
		  1);
	/* Nag 4: the same level, no new DM. Nag 5: the third target. */
	CHECK_INT(run_due(s, c, t0 + 40 * MIN), 1);
	CHECK_INT(rows(s, "kind = 'dm'"), 1);
	nag_says(s, c, t0 + 50 * MIN, "<!here> \xE2\x8F\xB0 <@U1ONCALL> <@U2SECOND> <@U3CTO> Still");
	CHECK_INT(rows(s, "kind = 'dm' AND json_extract(body, '$.user') = 'U3CTO'"), 1);
	CHECK_INT(scalar(s, "SELECT level FROM escalations"), 2);
	/* No one is left: later nags widen no further. */
	CHECK_INT(run_due(s, c, t0 + 60 * MIN), 1);
	CHECK_INT(run_due(s, c, t0 + 70 * MIN), 1);
	CHECK_INT(rows(s, "kind = 'dm'"), 2);
	CHECK_INT(scalar(s, "SELECT level FROM escalations"), 2);
	/* An ack stops it all. */
	CHECK_INT(escalation_acked(s, id, "U3CTO", t0 + 71 * MIN, &open_ms), 1);
	CHECK_INT(run_due(s, c, t0 + 200 * MIN), 0);
	CHECK_INT(rows(s, "kind = 'dm'"), 2);
	store_close(s);
	config_unref(c);

	/* widen_to without widen_after is an error at the environment's line. */
	config_refused("environments:\n  - name: dev\n    widen_to: [U2SECOND]\n",
		       "cfg.yaml:2: environments[0]: widen_to needs widen_after");
	config_refused("environments:\n  - name: dev\n    widen_after: 2\n    widen_to: [bob]\n",
		       "cfg.yaml:4: environments[0].widen_to: \"bob\" is not a Slack user id");
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	RUN(test_ack_words);
	RUN(test_commands);
	RUN(test_config);
	RUN(test_clock);
	RUN(test_schedule);
	RUN(test_resolved_meanwhile);
	RUN(test_quiet_parse);
	RUN(test_quiet_until);
	RUN(test_quiet_hours);
	RUN(test_quiet_zone_row);
	RUN(test_ack_words_per_environment);
	RUN(test_level);
	RUN(test_widen);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			return 1;
	}
	return harness_done();
}
