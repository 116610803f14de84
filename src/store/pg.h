/*
 * store/pg.h - the PostgreSQL backend of the store's statement layer
 * (store/db.h): one libpq connection the event loop uses, a second one for
 * the durability barrier of the thread pool, SQL rewritten from SQLite's
 * dialect, and migrations under an advisory lock (docs/store.md).
 */
#ifndef TD_STORE_PG_H
#define TD_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

typedef struct store_pg store_pg;

/* Connects to url and migrates the schema. sync_full: durable commits;
 * deferred_sync: COMMIT returns before the WAL flush, pg_sync() waits for
 * it. NULL on failure (reason on stderr); free with pg_close. */
store_pg *pg_open(const char *url, bool sync_full, bool deferred_sync);
void pg_close(store_pg *pg);

/* A statement for sql (SQLite dialect, static storage when cached: it is
 * prepared once per connection under a name). NULL on failure. */
pgq *pg_prepare(store_pg *pg, const char *sql, bool cached);

/* Releases the lock a new node holds from migrating through its first
 * commit (bootstrap). */
void pg_setup_done(store_pg *pg);

int pg_begin(store_pg *pg);
/* Ends the transaction; nonzero when it did not commit (it is then gone). */
int pg_commit(store_pg *pg);
void pg_rollback(store_pg *pg);
/* Makes every transaction committed so far durable; thread-safe against
 * the loop's use of pg (it has its own connection). 0 or ERR_STORE. */
int pg_sync(store_pg *pg);

/* The open transaction wrote something (ran more than SELECTs). */
bool pg_wrote(store_pg *pg);
int64_t pg_changes(store_pg *pg);
int64_t pg_last_rowid(store_pg *pg);
bool pg_conflict(store_pg *pg);
const char *pg_errmsg(store_pg *pg);

/* A number that changes when another connection announced a change of the
 * keyring (pg_notify_data in its transaction) or after a reconnect. */
int pg_data_version(store_pg *pg, int64_t *version);
int pg_notify_data(store_pg *pg);

/* Inside a write transaction: tells the other nodes, at its commit, that
 * runs of env_id changed (NOTIFY triggerd_runs). */
int pg_notify_runs(store_pg *pg, const char *env_id);
/* The env ids other nodes announced run changes of since the last call
 * (caller frees *envs); returns 1 when every env must be looked at (too
 * many, or notifications may have been missed over a reconnect). */
int pg_run_notes(store_pg *pg, char (**envs)[32], size_t *n);
/* The same for stream records: key "<run id>\t<stream>" (a backslash-free
 * literal), and the keys other nodes announced (1: every stream). */
int pg_notify_stream(store_pg *pg, const char *key);
int pg_stream_notes(store_pg *pg, char (**keys)[200], size_t *n);

#endif
