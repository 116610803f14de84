/*
 * store/pg_sql.h - SQLite-dialect SQL rewritten for PostgreSQL (pg_sql.c).
 */
#ifndef TD_STORE_PG_SQL_H
#define TD_STORE_PG_SQL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pg_sql_info {
    int nparams;        /* highest $N */
    bool returning_seq; /* " RETURNING seq" was added: the insert's rowid */
    bool savepoint;     /* run under a savepoint: its unique conflicts are handled */
} pg_sql_info;

/* The PostgreSQL text of a statement (malloc'd, caller frees). */
char *pg_sql_rewrite(const char *lite, pg_sql_info *info);
/* The PostgreSQL text of migration `version` (1-based) given in SQLite's DDL. */
char *pg_sql_ddl(const char *lite, size_t version);

#endif
