/*
 * store/db.h - the statement layer every store file speaks: SQLite's
 * statement API (step, bind, column, reset) over two backends. A statement
 * is an SQLite statement or a PostgreSQL one (store/pg.c); the calls below
 * are inline tests of which, so the SQLite path costs a predictable branch.
 *
 * SQL is written once, in SQLite's dialect; pg.c rewrites it for PostgreSQL
 * when it first prepares it (placeholders, INSERT OR IGNORE/REPLACE,
 * json_each, ...), see docs/store.md. Porting a store function written with
 * sqlite3_* calls is the mechanical rename in scripts/store-port.sed.
 */
#ifndef TD_STORE_DB_H
#define TD_STORE_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct pgq pgq;

/* One prepared statement: exactly one of lt and pq is set. */
typedef struct db_stmt {
    sqlite3_stmt *lt;
    pgq *pq;
} db_stmt;

#define DB_ROW SQLITE_ROW
#define DB_DONE SQLITE_DONE
#define DB_NULL SQLITE_NULL
#define DB_ERROR SQLITE_ERROR

/* ---- the PostgreSQL side (pg.c) ---------------------------------------- */

int pgq_step(pgq *q);
void pgq_reset(pgq *q);
void pgq_clear_bindings(pgq *q);
void pgq_bind_int64(pgq *q, int i, int64_t v);
/* v borrowed until the statement is reset (SQLITE_STATIC); n < 0: NUL-terminated */
void pgq_bind_text(pgq *q, int i, const char *v, int n);
void pgq_bind_blob(pgq *q, int i, const void *v, int n);
void pgq_bind_null(pgq *q, int i);
int64_t pgq_column_int64(pgq *q, int i);
const unsigned char *pgq_column_text(pgq *q, int i);
const void *pgq_column_blob(pgq *q, int i);
int pgq_column_bytes(pgq *q, int i);
int pgq_column_type(pgq *q, int i);
void pgq_free(pgq *q);

/* ---- the calls the store files make ------------------------------------ */

static inline int db_step(db_stmt *s)
{
    return s->lt ? sqlite3_step(s->lt) : pgq_step(s->pq);
}
static inline void db_reset(db_stmt *s)
{
    if (s->lt)
        sqlite3_reset(s->lt);
    else
        pgq_reset(s->pq);
}
static inline void db_clear_bindings(db_stmt *s)
{
    if (s->lt)
        sqlite3_clear_bindings(s->lt);
    else
        pgq_clear_bindings(s->pq);
}
static inline void db_bind_int64(db_stmt *s, int i, int64_t v)
{
    if (s->lt)
        sqlite3_bind_int64(s->lt, i, v);
    else
        pgq_bind_int64(s->pq, i, v);
}
/* text borrowed until the step (SQLITE_STATIC); n < 0: NUL-terminated */
static inline void db_bind_text(db_stmt *s, int i, const char *v, int n)
{
    if (s->lt)
        sqlite3_bind_text(s->lt, i, v, n, SQLITE_STATIC);
    else
        pgq_bind_text(s->pq, i, v, n);
}
static inline void db_bind_blob(db_stmt *s, int i, const void *v, int n)
{
    if (s->lt)
        sqlite3_bind_blob(s->lt, i, v, n, SQLITE_STATIC);
    else
        pgq_bind_blob(s->pq, i, v, n);
}
static inline void db_bind_null(db_stmt *s, int i)
{
    if (s->lt)
        sqlite3_bind_null(s->lt, i);
    else
        pgq_bind_null(s->pq, i);
}
static inline int64_t db_column_int64(db_stmt *s, int i)
{
    return s->lt ? sqlite3_column_int64(s->lt, i) : pgq_column_int64(s->pq, i);
}
static inline int db_column_int(db_stmt *s, int i)
{
    return (int)db_column_int64(s, i);
}
static inline const unsigned char *db_column_text(db_stmt *s, int i)
{
    return s->lt ? sqlite3_column_text(s->lt, i) : pgq_column_text(s->pq, i);
}
static inline const void *db_column_blob(db_stmt *s, int i)
{
    return s->lt ? sqlite3_column_blob(s->lt, i) : pgq_column_blob(s->pq, i);
}
static inline int db_column_bytes(db_stmt *s, int i)
{
    return s->lt ? sqlite3_column_bytes(s->lt, i) : pgq_column_bytes(s->pq, i);
}
static inline int db_column_type(db_stmt *s, int i)
{
    return s->lt ? sqlite3_column_type(s->lt, i) : pgq_column_type(s->pq, i);
}

#endif
