/*
 * store/schedules.c - the SQL of schedules and schedule_instances (the
 * schedules migration); the index on next_at is the whole timer: the engine
 * asks it for the earliest tick and arms one libuv timer for it.
 */
#include "store/schedules.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "util/err.h"

#define ST(f)                                                                                      \
    {                                                                                              \
#f, COL_TEXT, offsetof(store_schedule, f)                                                  \
    }
#define SI(f)                                                                                      \
    {                                                                                              \
#f, COL_INT, offsetof(store_schedule, f)                                                   \
    }
static const col sched_cols[] = {
    SI(seq),       ST(id),         ST(friendly_id), ST(project_id), ST(type),
    ST(task),      ST(cron),       ST(description), ST(timezone),   ST(external_id),
    ST(dedup_key), SI(user_dedup), SI(active),      SI(created_at), SI(updated_at),
};
static const row_type SCHED_ROW = ROW_TYPE(store_schedule, sched_cols, "schedule");

#define IT(f)                                                                                      \
    {                                                                                              \
#f, COL_TEXT, offsetof(store_schedule_instance, f)                                         \
    }
#define II(f)                                                                                      \
    {                                                                                              \
#f, COL_INT, offsetof(store_schedule_instance, f)                                          \
    }
static const col inst_cols[] = {
    II(seq), IT(schedule_id), IT(env_id), II(next_at), II(last_at), II(created_at),
};
static const row_type INST_ROW = ROW_TYPE(store_schedule_instance, inst_cols, "schedule instance");

static table_sql *sched_sql(void)
{
    static table_sql t;
    if (!t.select[0])
        store__build_sql(&t, "schedules", sched_cols, NCOLS(sched_cols));
    return &t;
}

static table_sql *inst_sql(void)
{
    static table_sql t;
    if (!t.select[0])
        store__build_sql(&t, "schedule_instances", inst_cols, NCOLS(inst_cols));
    return &t;
}

/* "<select> <tail>" built once into buf */
static const char *with_tail(char *buf, size_t cap, const char *select, const char *tail)
{
    if (!buf[0])
        snprintf(buf, cap, "%.4095s %s", select, tail);
    return buf;
}

void store_schedule_clear(store_schedule *s)
{
    store__clear_row(s, &SCHED_ROW);
}

void store_schedule_instance_clear(store_schedule_instance *i)
{
    store__clear_row(i, &INST_ROW);
}

int store_schedule_insert(store *st, store_schedule *s)
{
    int rc = store__insert_row(st, sched_sql()->insert, &SCHED_ROW, s);
    if (rc && store__conflict(st))
        return ERR_CONFLICT;
    return rc;
}

int store_schedule_update(store *st, const store_schedule *s)
{
    return store__update_row(st, sched_sql()->update, &SCHED_ROW, s);
}

static int exec1(store *st, const char *sql, const char *a, const char *b)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *q = store__stmt(st, sql);
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, a);
    if (b)
        store__bind_text(q, 2, b);
    return store__exec_write(st, q);
}

int store_schedule_delete(store *st, const char *id)
{
    int rc = exec1(st, "DELETE FROM schedule_instances WHERE schedule_id=?", id, NULL);
    return rc ? rc : exec1(st, "DELETE FROM schedules WHERE id=?", id, NULL);
}

int store_schedule_get(store *st, const char *project_id, const char *key, store_schedule *s)
{
    static char by_fid[4200], by_dedup[4200];
    bool friendly = strncmp(key, "sched_", 6) == 0;
    const char *sql = friendly ? with_tail(by_fid, sizeof by_fid, sched_sql()->select,
                                           "WHERE project_id=? AND friendly_id=?")
                               : with_tail(by_dedup, sizeof by_dedup, sched_sql()->select,
                                           "WHERE project_id=? AND dedup_key=?");
    db_stmt *q = store__stmt(st, sql);
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, project_id);
    store__bind_text(q, 2, key);
    return store__read_one(st, q, &SCHED_ROW, s);
}

int store_schedule_by_id(store *st, const char *id, store_schedule *s)
{
    static char buf[4200];
    db_stmt *q =
        store__stmt(st, with_tail(buf, sizeof buf, sched_sql()->select, "WHERE id=?"));
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, id);
    return store__read_one(st, q, &SCHED_ROW, s);
}

int store_schedule_list(store *st, const char *project_id, const char *env_id, int64_t offset,
                        int64_t limit, store_schedule **out, size_t *n, int64_t *total)
{
    static char buf[4400];
    static const char *count_sql =
        "SELECT COUNT(*) FROM schedules s WHERE s.project_id=? AND EXISTS (SELECT 1 FROM"
        " schedule_instances i WHERE i.schedule_id=s.id AND i.env_id=?)";
    db_stmt *q = store__stmt(st, count_sql);
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, project_id);
    store__bind_text(q, 2, env_id);
    *total = db_step(q) == DB_ROW ? db_column_int64(q, 0) : 0;
    db_reset(q);
    q = store__stmt(st,
                    with_tail(buf, sizeof buf, sched_sql()->select,
                              "WHERE project_id=? AND EXISTS (SELECT 1 FROM schedule_instances i"
                              " WHERE i.schedule_id=schedules.id AND i.env_id=?)"
                              " ORDER BY created_at DESC, seq DESC LIMIT ? OFFSET ?"));
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, project_id);
    store__bind_text(q, 2, env_id);
    db_bind_int64(q, 3, limit);
    db_bind_int64(q, 4, offset);
    return store__read_rows(st, q, &SCHED_ROW, (void **)out, n);
}

int store_schedule_declarative(store *st, const char *project_id, store_schedule **out, size_t *n)
{
    static char buf[4200];
    db_stmt *q =
        store__stmt(st, with_tail(buf, sizeof buf, sched_sql()->select,
                                  "WHERE project_id=? AND type='DECLARATIVE' ORDER BY seq"));
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, project_id);
    return store__read_rows(st, q, &SCHED_ROW, (void **)out, n);
}

int store_instance_insert(store *st, store_schedule_instance *i)
{
    return store__insert_row(st, inst_sql()->insert, &INST_ROW, i);
}

int store_instance_update(store *st, const store_schedule_instance *i)
{
    return store__update_row(st, inst_sql()->update, &INST_ROW, i);
}

int store_instance_delete(store *st, const char *schedule_id, const char *env_id)
{
    return exec1(st, "DELETE FROM schedule_instances WHERE schedule_id=? AND env_id=?", schedule_id,
                 env_id);
}

int store_instances_of(store *st, const char *schedule_id, store_schedule_instance **out, size_t *n)
{
    static char buf[4200];
    db_stmt *q = store__stmt(
        st, with_tail(buf, sizeof buf, inst_sql()->select, "WHERE schedule_id=? ORDER BY seq"));
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, schedule_id);
    return store__read_rows(st, q, &INST_ROW, (void **)out, n);
}

int store_instance_due(store *st, int64_t now, size_t max, store_schedule_instance **out, size_t *n)
{
    static char buf[4200];
    db_stmt *q =
        store__stmt(st, with_tail(buf, sizeof buf, inst_sql()->select,
                                  "WHERE next_at>0 AND next_at<=? ORDER BY next_at, seq LIMIT ?"));
    if (!q)
        return ERR_STORE;
    db_bind_int64(q, 1, now);
    db_bind_int64(q, 2, (int64_t)max);
    return store__read_rows(st, q, &INST_ROW, (void **)out, n);
}

int store_instance_next_due(store *st, int64_t *at)
{
    *at = 0;
    db_stmt *q =
        store__stmt(st, "SELECT MIN(next_at) FROM schedule_instances WHERE next_at>0");
    if (!q)
        return ERR_STORE;
    if (db_step(q) == DB_ROW)
        *at = db_column_int64(q, 0);
    db_reset(q);
    return 0;
}

int store_instance_advance(store *st, int64_t seq, int64_t expect, int64_t next_at, int64_t last_at,
                           bool *won)
{
    *won = false;
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *q = store__stmt(st, "UPDATE schedule_instances SET next_at=?, last_at=?"
                                      " WHERE seq=? AND next_at=?");
    if (!q)
        return ERR_STORE;
    db_bind_int64(q, 1, next_at);
    db_bind_int64(q, 2, last_at);
    db_bind_int64(q, 3, seq);
    db_bind_int64(q, 4, expect);
    if (store__exec_write(st, q))
        return ERR_STORE;
    *won = store__changes(st) == 1;
    return 0;
}
