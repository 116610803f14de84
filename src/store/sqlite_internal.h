/*
 * store/sqlite_internal.h - the SQLite helpers sqlite.c shares with the
 * store's other files (streams.c), so each area's SQL can live in its own
 * file while the connection and statement cache stay in sqlite.c.
 */
#ifndef TD_STORE_SQLITE_INTERNAL_H
#define TD_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store/db.h"

#include "store/store.h"

/* A column of a table mapped onto a C struct: its name, kind and offset. */
typedef enum { COL_TEXT, COL_INT } col_kind;

typedef struct col {
    const char *name;
    col_kind kind;
    size_t off;
} col;

#define NCOLS(a) (sizeof(a) / sizeof(a[0]))

/* A table's row type: its columns (column 0 is the INTEGER PRIMARY KEY seq,
 * the struct's first field), its struct size and what to call it in logs. */
typedef struct row_type {
    const col *cols;
    size_t ncols;
    size_t size;
    const char *what;
} row_type;

#define ROW_TYPE(T, cols_, what_)                                                                  \
    {                                                                                              \
        cols_, NCOLS(cols_), sizeof(T), what_                                                      \
    }

/* SQL generated once from a column table. */
typedef struct table_sql {
    char select[4096]; /* "SELECT seq,cols FROM t" */
    char insert[4096];
    char update[4096]; /* every column, WHERE seq=? */
} table_sql;

void store__build_sql(table_sql *t, const char *table, const col *cols, size_t n);
/* INSERTs row with t's generated SQL and sets its seq. */
int store__insert_row(store *st, const char *sql, const row_type *t, void *row);
/* Writes every column of row back (WHERE seq). */
int store__update_row(store *st, const char *sql, const row_type *t, const void *row);
/* Reads every row of a SELECT into a malloc'd array of t rows. */
int store__read_rows(store *st, db_stmt *s, const row_type *t, void **out, size_t *n);
/* Steps a SELECT and reads its first row; ERR_NOT_FOUND if none. */
int store__read_one(store *st, db_stmt *s, const row_type *t, void *row);
void store__clear_row(void *row, const row_type *t);

/* A cached prepared statement for a SQL string with static storage. */
db_stmt *store__stmt(store *st, const char *sql);
/* Logs the SQLite error and returns ERR_STORE. */
int store__fail(store *st, const char *what);
/* Opens the turn's write transaction if none is open. */
int store__begin_write(store *st);
/* Steps and resets a write statement. */
int store__exec_write(store *st, db_stmt *s);
/* Binds text (static lifetime for the statement's step) or NULL. */
void store__bind_text(db_stmt *s, int i, const char *v);
sqlite3 *store__db(store *st);
/* A statement prepared for one use (dynamic SQL); free with store__finalize. */
int store__prepare(store *st, const char *sql, db_stmt **out);
void store__finalize(db_stmt *s);
/* Rows the last write changed. */
int64_t store__changes(store *st);
/* True when the last failed write broke a unique constraint. */
bool store__conflict(store *st);

#endif
