/*
 * This file contains the SQLite store: opening a database with the pragmas
 * every connection needs (WAL, synchronous=FULL, busy timeout, foreign keys),
 * schema migrations by PRAGMA user_version, write transactions (always
 * BEGIN IMMEDIATE), and a per-connection cache of prepared statements.
 *
 * Threads: one struct store per thread (the loop, the intake writer, each
 * worker); a store is never shared.
 */
#ifndef NIGHTSHIFT_STORE_H
#define NIGHTSHIFT_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 7
#define STORE_MAX_STMTS 64

struct store;

/*
 * Opens (creating if needed) the database at path and migrates it to
 * STORE_SCHEMA_VERSION; read_only opens an existing file without migrating.
 * Returns an owned store (store_close) or NULL with a message in err.
 */
struct store *store_open(const char *path, bool read_only, char *err, size_t errlen);
void store_close(struct store *s); /* NULL-safe */
sqlite3 *store_db(struct store *s);

/* Schema version of the open database (PRAGMA user_version). */
int store_schema_version(struct store *s);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. 0 or -1 (logged). */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/*
 * Returns the cached statement for slot (0..STORE_MAX_STMTS-4; the last three
 * are the savepoint's), preparing sql
 * on first use; reset and with bindings cleared. Owned by the store. A slot
 * must always be used with the same sql. NULL on a prepare error (logged).
 */
sqlite3_stmt *store_stmt(struct store *s, int slot, const char *sql);

/* SAVEPOINT / RELEASE / ROLLBACK TO one fixed savepoint (prepared once). 0 or -1. */
int store_savepoint(struct store *s);
int store_release(struct store *s);
int store_rollback_to(struct store *s);

/* Runs sql (no results) and logs errors; 0 or -1. */
int store_exec(struct store *s, const char *sql);

/* Binds a NUL-terminated string (NULL binds SQL NULL), copying it. */
int store_bind_text(sqlite3_stmt *st, int idx, const char *v);
/* Returns column text or "" (never NULL). */
const char *store_col_text(sqlite3_stmt *st, int col);

#endif
