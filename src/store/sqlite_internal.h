/*
 * store/sqlite_internal.h - the SQLite helpers sqlite.c shares with the
 * store's other files (streams.c), so each area's SQL can live in its own
 * file while the connection and statement cache stay in sqlite.c.
 */
#ifndef TD_STORE_SQLITE_INTERNAL_H
#define TD_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store/store.h"

/* A cached prepared statement for a SQL string with static storage. */
sqlite3_stmt *store__stmt(store *st, const char *sql);
/* Logs the SQLite error and returns ERR_STORE. */
int store__fail(store *st, const char *what);
/* Opens the turn's write transaction if none is open. */
int store__begin_write(store *st);
/* Steps and resets a write statement. */
int store__exec_write(store *st, sqlite3_stmt *s);
/* Binds text (static lifetime for the statement's step) or NULL. */
void store__bind_text(sqlite3_stmt *s, int i, const char *v);
sqlite3 *store__db(store *st);

#endif
