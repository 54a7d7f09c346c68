/*
 * This file contains the SQLite store of store.h: connection set-up, the
 * schema and its migrations, and transaction helpers. The schema is the
 * incident memory of DESIGN.md; later migrations append to `migrations`.
 */
#include "store.h"

#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmts[STORE_MAX_STMTS];
	const char *sql[STORE_MAX_STMTS]; /* what each slot was prepared from */
};

/* Migration N brings user_version from N-1 to N. Never edit a shipped one. */
static const char *const migrations[] = {
	/* 1: the foundation — alerts, incidents, their members, threads, outbox. */
	"CREATE TABLE incidents ("
	"  id INTEGER PRIMARY KEY,"
	"  fingerprint TEXT NOT NULL,"
	"  alertname TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  environment TEXT NOT NULL,"
	"  severity TEXT NOT NULL,"
	"  cluster TEXT NOT NULL DEFAULT '',"
	"  namespace TEXT NOT NULL DEFAULT '',"
	"  workload TEXT NOT NULL DEFAULT '',"
	"  summary TEXT NOT NULL DEFAULT '',"
	"  group_key TEXT NOT NULL DEFAULT '',"
	"  state TEXT NOT NULL CHECK (state IN ('open','investigating','noise','auto_fixed',"
	"    'escalated','acknowledged','resolved')),"
	"  verdict TEXT CHECK (verdict IN ('noise','real','auto_fixed','escalated')),"
	"  verdict_reason TEXT,"
	"  root_cause TEXT,"
	"  confidence TEXT,"
	"  flapping INTEGER NOT NULL DEFAULT 0,"
	"  reopen_count INTEGER NOT NULL DEFAULT 0,"
	"  alert_count INTEGER NOT NULL DEFAULT 0,"
	"  opened_at INTEGER NOT NULL,"
	"  last_seen_at INTEGER NOT NULL,"
	"  resolved_at INTEGER,"
	"  resolved_by TEXT"
	");"
	"CREATE INDEX incidents_by_fingerprint ON incidents(fingerprint, id);"
	"CREATE INDEX incidents_by_state ON incidents(state);"
	"CREATE TABLE alerts ("
	"  id INTEGER PRIMARY KEY,"
	"  received_at INTEGER NOT NULL,"
	"  source TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN ('firing','resolved')),"
	"  alertname TEXT NOT NULL,"
	"  severity TEXT NOT NULL,"
	"  environment TEXT NOT NULL,"
	"  cluster TEXT NOT NULL,"
	"  namespace TEXT NOT NULL,"
	"  workload TEXT NOT NULL,"
	"  summary TEXT NOT NULL,"
	"  labels TEXT NOT NULL,"
	"  annotations TEXT NOT NULL,"
	"  starts_at INTEGER,"
	"  ends_at INTEGER,"
	"  source_fingerprint TEXT NOT NULL,"
	"  fingerprint TEXT NOT NULL,"
	"  group_key TEXT NOT NULL,"
	"  generator_url TEXT NOT NULL,"
	"  incident_id INTEGER REFERENCES incidents(id),"
	"  raw TEXT NOT NULL"
	");"
	"CREATE INDEX alerts_by_incident ON alerts(incident_id);"
	"CREATE TABLE incident_members ("
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
	"  member_key TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  last_seen_at INTEGER NOT NULL,"
	"  PRIMARY KEY (incident_id, member_key)"
	") WITHOUT ROWID;"
	"CREATE TABLE threads ("
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
	"  channel TEXT NOT NULL,"
	"  thread_ref TEXT,"
	"  header_ref TEXT,"
	"  PRIMARY KEY (incident_id, channel)"
	") WITHOUT ROWID;"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  incident_id INTEGER REFERENCES incidents(id),"
	"  channel TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','sent','failed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_at INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  sent_at INTEGER,"
	"  remote_ref TEXT,"
	"  error TEXT"
	");"
	"CREATE INDEX outbox_pending ON outbox(channel, state, id);",

	/* 2: investigations and the audit trail of their tool calls. */
	"CREATE TABLE investigations ("
	"  id INTEGER PRIMARY KEY,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
	"  alert_id INTEGER REFERENCES alerts(id),"
	"  state TEXT NOT NULL CHECK (state IN ('pending','running','done','failed')),"
	"  mode TEXT NOT NULL DEFAULT 'rules',"
	"  playbooks TEXT,"
	"  verdict TEXT CHECK (verdict IN ('noise','real')),"
	"  category TEXT,"
	"  confidence TEXT CHECK (confidence IN ('low','medium','high')),"
	"  report TEXT,"
	"  steps INTEGER NOT NULL DEFAULT 0,"
	"  tokens INTEGER NOT NULL DEFAULT 0,"
	"  duration_ms INTEGER,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  finished_at INTEGER,"
	"  error TEXT"
	");"
	"CREATE INDEX investigations_by_state ON investigations(state, id);"
	"CREATE INDEX investigations_by_incident ON investigations(incident_id);"
	"CREATE TABLE tool_calls ("
	"  id INTEGER PRIMARY KEY,"
	"  investigation_id INTEGER NOT NULL REFERENCES investigations(id),"
	"  seq INTEGER NOT NULL,"
	"  tool TEXT NOT NULL,"
	"  args TEXT NOT NULL,"
	"  ok INTEGER NOT NULL,"
	"  duration_ms INTEGER NOT NULL,"
	"  excerpt TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX tool_calls_by_investigation ON tool_calls(investigation_id, seq);",

	/*
	 * 3: follow-up questions asked in an incident's thread (bot/followup.h), a
	 * durable queue like investigations; their tool calls go to tool_calls,
	 * which is rebuilt so a row belongs to an investigation OR a follow-up.
	 */
	"CREATE TABLE followups ("
	"  id INTEGER PRIMARY KEY,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
	"  user TEXT NOT NULL,"
	"  question TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('pending','running','done','failed')),"
	"  intent TEXT,"
	"  answer TEXT,"
	"  steps INTEGER NOT NULL DEFAULT 0,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  answered_at INTEGER,"
	"  error TEXT"
	");"
	"CREATE INDEX followups_by_state ON followups(state, id);"
	"CREATE INDEX followups_by_incident ON followups(incident_id);"
	"CREATE TABLE tool_calls_v3 ("
	"  id INTEGER PRIMARY KEY,"
	"  investigation_id INTEGER REFERENCES investigations(id),"
	"  followup_id INTEGER REFERENCES followups(id),"
	"  seq INTEGER NOT NULL,"
	"  tool TEXT NOT NULL,"
	"  args TEXT NOT NULL,"
	"  ok INTEGER NOT NULL,"
	"  duration_ms INTEGER NOT NULL,"
	"  excerpt TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  CHECK ((investigation_id IS NULL) <> (followup_id IS NULL))"
	");"
	"INSERT INTO tool_calls_v3 (id, investigation_id, seq, tool, args, ok, duration_ms,"
	"  excerpt, created_at)"
	"  SELECT id, investigation_id, seq, tool, args, ok, duration_ms, excerpt, created_at"
	"  FROM tool_calls;"
	"DROP TABLE tool_calls;"
	"ALTER TABLE tool_calls_v3 RENAME TO tool_calls;"
	"CREATE INDEX tool_calls_by_investigation ON tool_calls(investigation_id, seq);"
	"CREATE INDEX tool_calls_by_followup ON tool_calls(followup_id, seq);",
	/* 4: two-way channels — inbound dedup, the inbox, what humans said or clicked. */
	"CREATE TABLE seen_events ("
	"  key TEXT PRIMARY KEY," /* 'env:<envelope id>', 'ev:<event id>', 'msg:<channel>:<ts>' */
	"  channel TEXT NOT NULL,"
	"  received_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE inbox ("
	"  id INTEGER PRIMARY KEY,"
	"  channel TEXT NOT NULL,"
	"  envelope_id TEXT NOT NULL,"
	"  payload TEXT NOT NULL," /* the envelope as received: processed again after a crash */
	"  received_at INTEGER NOT NULL,"
	"  processed_at INTEGER"
	");"
	"CREATE INDEX inbox_unprocessed ON inbox(channel, processed_at, id);"
	"CREATE TABLE human_events ("
	"  id INTEGER PRIMARY KEY,"
	"  incident_id INTEGER REFERENCES incidents(id),"
	"  channel TEXT NOT NULL,"
	"  user TEXT NOT NULL,"
	"  kind TEXT NOT NULL," /* message, mention, reaction, action, command */
	"  action TEXT," /* ack, resolve, silence_1h, or NULL */
	"  text TEXT NOT NULL DEFAULT '',"
	"  ref TEXT NOT NULL DEFAULT ''," /* where it came from, e.g. '<channel>:<ts>' */
	"  allowed INTEGER NOT NULL,"
	"  result TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX human_events_by_incident ON human_events(incident_id, id);"
	"ALTER TABLE incidents ADD COLUMN acknowledged_by TEXT;"
	"ALTER TABLE incidents ADD COLUMN silenced_until INTEGER;"
	"CREATE INDEX outbox_by_incident ON outbox(incident_id, channel, id);",
	/* 5: escalations — who is being nagged about an incident, and when next. */
	"CREATE TABLE escalations ("
	"  incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),"
	"  environment TEXT NOT NULL,"
	"  targets TEXT NOT NULL DEFAULT ''," /* space-separated user ids mentioned */
	"  level INTEGER NOT NULL DEFAULT 0," /* widening steps taken */
	"  nags INTEGER NOT NULL DEFAULT 0,"
	"  interval_ms INTEGER NOT NULL," /* 0 = no nags */
	"  max_nags INTEGER NOT NULL DEFAULT 0," /* 0 = no cap */
	"  widen_after INTEGER NOT NULL DEFAULT 0," /* nags before <!here>; 0 = never */
	"  ack_timeout_ms INTEGER NOT NULL DEFAULT 0," /* acked and untouched: again; 0 = off */
	"  quiet_from INTEGER NOT NULL DEFAULT -1," /* quiet hours (minutes of the day); -1 none */
	"  quiet_to INTEGER NOT NULL DEFAULT -1,"
	"  quiet_tz INTEGER NOT NULL DEFAULT 0," /* minutes east of UTC */
	"  next_nag_at INTEGER," /* NULL = nothing scheduled; when acked: the ack timeout */
	"  started_at INTEGER NOT NULL,"
	"  last_nag_at INTEGER,"
	"  last_alert_count INTEGER NOT NULL DEFAULT 0," /* at the last message, for 'what changed' */
	"  last_firing INTEGER NOT NULL DEFAULT 0,"
	"  acked_by TEXT,"
	"  acked_at INTEGER,"
	"  snoozed_until INTEGER,"
	"  state TEXT NOT NULL," /* active, acked, resolved, stopped */
	"  updated_at INTEGER NOT NULL"
	");"
	"CREATE INDEX escalations_due ON escalations(state, next_nag_at);",
	/* 6: quiet hours in a named time zone (DST follows the tz database); NULL: quiet_tz … */
	"ALTER TABLE escalations ADD COLUMN quiet_zone TEXT;"
	/* … and the dead man's switch a stored heartbeat belongs to (watchdog.group_by value,
	 * '' for the one switch); NULL for every other alert. */
	"ALTER TABLE alerts ADD COLUMN heartbeat TEXT;"
	"UPDATE alerts SET heartbeat = '' WHERE incident_id IS NULL AND alertname = 'Watchdog'"
	"  AND status = 'firing';"
	"CREATE INDEX alerts_by_heartbeat ON alerts(heartbeat, id) WHERE heartbeat IS NOT NULL;",
	/*
	 * 7: nags with a fresh look at the pods. A nag of an incident with a
	 * Kubernetes target is a followups row of kind 'nag' (its question is the
	 * nag's text) that a worker completes with the pod line; the escalation
	 * keeps the summary of the last look, to say what changed since.
	 */
	("ALTER TABLE followups ADD COLUMN kind TEXT NOT NULL DEFAULT 'question';"
	 "ALTER TABLE escalations ADD COLUMN last_pods TEXT;"),
};

_Static_assert(ARRAY_LEN(migrations) == STORE_SCHEMA_VERSION,
	       "one migration per schema version");

static int set_pragmas(sqlite3 *db, bool read_only)
{
	const char *rw = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;";
	sqlite3_busy_timeout(db, 5000);
	if (read_only)
		return sqlite3_exec(db, "PRAGMA foreign_keys=ON;", NULL, NULL, NULL);
	return sqlite3_exec(db, rw, NULL, NULL, NULL);
}

static int migrate(struct store *s, char *err, size_t errlen)
{
	int version = store_schema_version(s);
	int target = (int)ARRAY_LEN(migrations);

	if (version > target) {
		snprintf(err, errlen, "database schema version %d is newer than this nightshift (%d)",
			 version, target);
		return -1;
	}
	for (int v = version; v < target; v++) {
		char *msg = NULL;
		char pragma[64];
		if (store_begin(s) < 0) {
			snprintf(err, errlen, "cannot begin migration: %s", sqlite3_errmsg(s->db));
			return -1;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d;", v + 1);
		if (sqlite3_exec(s->db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(s->db, pragma, NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "migration %d failed: %s", v + 1, msg ? msg : "?");
			sqlite3_free(msg);
			store_rollback(s);
			return -1;
		}
		if (store_commit(s) < 0) {
			snprintf(err, errlen, "cannot commit migration %d", v + 1);
			return -1;
		}
		log_info("event=migrated schema_version=%d", v + 1);
	}
	return 0;
}

struct store *store_open(const char *path, bool read_only, char *err, size_t errlen)
{
	struct store *s = xcalloc(1, sizeof(*s));
	int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	if (set_pragmas(s->db, read_only) != SQLITE_OK) {
		snprintf(err, errlen, "cannot set up %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (!read_only && migrate(s, err, errlen) < 0)
		goto fail;
	if (read_only && store_schema_version(s) != STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s has schema version %d, expected %d (run the bot once)",
			 path, store_schema_version(s), STORE_SCHEMA_VERSION);
		goto fail;
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < STORE_MAX_STMTS; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close(s->db);
	free(s);
}

sqlite3 *store_db(struct store *s)
{
	return s->db;
}

int store_schema_version(struct store *s)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int store_exec(struct store *s, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("event=sql_error sql=\"%.40s\" message=\"%s\"", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int store_begin(struct store *s)
{
	return store_exec(s, "BEGIN IMMEDIATE");
}

int store_commit(struct store *s)
{
	return store_exec(s, "COMMIT");
}

void store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		(void)store_exec(s, "ROLLBACK");
}

static int run_slot(struct store *s, int slot, const char *sql)
{
	sqlite3_stmt *st = store_stmt(s, slot, sql);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	if (st)
		sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("event=sql_error sql=\"%s\" message=\"%s\"", sql, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

int store_savepoint(struct store *s)
{
	return run_slot(s, STORE_MAX_STMTS - 3, "SAVEPOINT job");
}

int store_release(struct store *s)
{
	return run_slot(s, STORE_MAX_STMTS - 2, "RELEASE job");
}

int store_rollback_to(struct store *s)
{
	return run_slot(s, STORE_MAX_STMTS - 1, "ROLLBACK TO job");
}

sqlite3_stmt *store_stmt(struct store *s, int slot, const char *sql)
{
	sqlite3_stmt *st;
	if (slot < 0 || slot >= STORE_MAX_STMTS)
		fatal("event=bad_stmt_slot slot=%d", slot);
	st = s->stmts[slot];
	/* Two files that picked the same slot would run each other's SQL. */
	if (st != NULL && s->sql[slot] != sql && strcmp(s->sql[slot], sql) != 0)
		fatal("event=stmt_slot_clash slot=%d first=\"%.60s\" second=\"%.60s\"", slot,
		      s->sql[slot], sql);
	if (st == NULL) {
		if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
		    SQLITE_OK) {
			log_warnx("event=sql_prepare_failed slot=%d message=\"%s\"", slot,
				  sqlite3_errmsg(s->db));
			return NULL;
		}
		s->stmts[slot] = st;
		s->sql[slot] = sql;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

int store_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, idx);
	return sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT);
}

const char *store_col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? (const char *)t : "";
}
