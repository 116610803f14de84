/*
 * store/queues.c - the SQL of the queues API (spec/api.md 6.7): queue rows
 * by id or name, a page of them in name order, pause and override, and the
 * queued / running counts read from the runs' indexes (runs_unit,
 * runs_active). Dequeue reads the same rows through store_queue_limits.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "util/err.h"

#define QUEUE_COLS "name, friendly_id, concurrency_limit, paused, override_limit, overridden_at"

static char *dup_col(db_stmt *s, int i)
{
    const unsigned char *t = db_column_text(s, i);
    if (!t)
        return NULL;
    char *d = strdup((const char *)t);
    if (!d)
        abort();
    return d;
}

static void read_queue(db_stmt *s, store_queue *q)
{
    q->name = dup_col(s, 0);
    q->friendly_id = dup_col(s, 1);
    q->limit = db_column_int64(s, 2);
    q->paused = db_column_int64(s, 3);
    q->override = db_column_int64(s, 4);
    q->overridden_at = db_column_int64(s, 5);
}

void store_queue_clear(store_queue *q)
{
    free(q->name);
    free(q->friendly_id);
    memset(q, 0, sizeof *q);
}

int store_queue_get(store *st, const char *env_id, bool by_id, const char *key, store_queue *q)
{
    db_stmt *s =
        store__stmt(st, by_id ? "SELECT " QUEUE_COLS " FROM queues WHERE env_id=? AND friendly_id=?"
                              : "SELECT " QUEUE_COLS " FROM queues WHERE env_id=? AND name=?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, env_id);
    store__bind_text(s, 2, key);
    int rc = db_step(s);
    if (rc == DB_ROW)
        read_queue(s, q);
    db_reset(s);
    if (rc == DB_ROW)
        return 0;
    return rc == DB_DONE ? ERR_NOT_FOUND : store__fail(st, "queue");
}

int store_queue_list(store *st, const char *env_id, int64_t offset, int64_t limit,
                     store_queue **out, size_t *n, int64_t *total)
{
    *out = NULL;
    *n = 0;
    db_stmt *s = store__stmt(st, "SELECT COUNT(*) FROM queues WHERE env_id=?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, env_id);
    int rc = db_step(s);
    *total = rc == DB_ROW ? db_column_int64(s, 0) : 0;
    db_reset(s);
    if (rc != DB_ROW)
        return store__fail(st, "queue count");
    /* the platform's orderableName: a task queue sorts by its task id */
    s = store__stmt(st, "SELECT " QUEUE_COLS " FROM queues WHERE env_id=? ORDER BY CASE WHEN"
                        " substr(name,1,5)='task/' THEN substr(name,6) ELSE name END, name"
                        " LIMIT ? OFFSET ?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, env_id);
    db_bind_int64(s, 2, limit);
    db_bind_int64(s, 3, offset);
    store_queue *q = NULL;
    size_t cnt = 0, cap = 0;
    while ((rc = db_step(s)) == DB_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            q = realloc(q, cap * sizeof *q);
            if (!q)
                abort();
        }
        read_queue(s, &q[cnt++]);
    }
    db_reset(s);
    if (rc != DB_DONE) {
        for (size_t i = 0; i < cnt; i++)
            store_queue_clear(&q[i]);
        free(q);
        return store__fail(st, "queue list");
    }
    *out = q;
    *n = cnt;
    return 0;
}

int store_queue_set_paused(store *st, const char *env_id, const char *name, int64_t paused)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *s = store__stmt(st, "UPDATE queues SET paused=? WHERE env_id=? AND name=?");
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, paused);
    store__bind_text(s, 2, env_id);
    store__bind_text(s, 3, name);
    return store__exec_write(st, s);
}

int store_queue_set_override(store *st, const char *env_id, const char *name, int64_t override,
                             int64_t overridden_at)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *s = store__stmt(st, "UPDATE queues SET override_limit=?, overridden_at=?"
                                      " WHERE env_id=? AND name=?");
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, overridden_at ? override : -1);
    db_bind_int64(s, 2, overridden_at);
    store__bind_text(s, 3, env_id);
    store__bind_text(s, 4, name);
    return store__exec_write(st, s);
}

static int count(store *st, const char *sql, const char *env_id, const char *name, int64_t *out)
{
    db_stmt *s = store__stmt(st, sql);
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, env_id);
    store__bind_text(s, 2, name);
    int rc = db_step(s);
    *out = rc == DB_ROW ? db_column_int64(s, 0) : 0;
    db_reset(s);
    return rc == DB_ROW ? 0 : store__fail(st, "queue counts");
}

int store_queue_counts(store *st, const char *env_id, const char *name, int64_t *queued,
                       int64_t *running)
{
    int rc = count(st, "SELECT COUNT(*) FROM runs WHERE env_id=? AND status=1 AND queue=?", env_id,
                   name, queued);
    if (rc == 0)
        rc = count(st,
                   "SELECT COUNT(*) FROM runs WHERE env_id=? AND snapshot_status IN"
                   " ('PENDING_EXECUTING','EXECUTING','PENDING_CANCEL') AND queue=?",
                   env_id, name, running);
    return rc;
}
