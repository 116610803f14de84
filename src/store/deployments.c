/*
 * store/deployments.c - the SQL of deployments and deployment_promotions
 * (migration 19). A promotion row per environment names its current
 * deployment; runs lock to that deployment's version when triggered.
 */
#include "store/deployments.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "util/err.h"

#define DT(f)                                                                                      \
    {                                                                                              \
#f, COL_TEXT, offsetof(store_deployment, f)                                                \
    }
#define DI(f)                                                                                      \
    {                                                                                              \
#f, COL_INT, offsetof(store_deployment, f)                                                 \
    }
static const col dep_cols[] = {
    DI(seq),       DT(id),           DT(friendly_id),   DT(env_id),     DT(short_code),
    DT(version),   DT(status),       DT(content_hash),  DT(artifact_key), DT(config_path),
    DT(worker_id), DT(error),        DT(git),           DT(runtime),    DT(triggered_via),
    DI(skip_promotion), DI(created_at), DI(updated_at), DI(built_at),   DI(deployed_at),
};
static const row_type DEP_ROW = ROW_TYPE(store_deployment, dep_cols, "deployment");

static table_sql *dep_sql(void)
{
    static table_sql t;
    if (!t.select[0])
        store__build_sql(&t, "deployments", dep_cols, NCOLS(dep_cols));
    return &t;
}

/* "<select> <tail>" built once into buf */
static const char *with_tail(char *buf, size_t cap, const char *tail)
{
    if (!buf[0])
        snprintf(buf, cap, "%.4095s %s", dep_sql()->select, tail);
    return buf;
}

void store_deployment_clear(store_deployment *d)
{
    store__clear_row(d, &DEP_ROW);
}

int store_deployment_insert(store *st, store_deployment *d)
{
    return store__insert_row(st, dep_sql()->insert, &DEP_ROW, d);
}

int store_deployment_update(store *st, const store_deployment *d)
{
    return store__update_row(st, dep_sql()->update, &DEP_ROW, d);
}

static int one2(store *st, const char *sql, const char *a, const char *b, store_deployment *d)
{
    db_stmt *q = store__stmt(st, sql);
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, a);
    if (b)
        store__bind_text(q, 2, b);
    return store__read_one(st, q, &DEP_ROW, d);
}

int store_deployment_get(store *st, const char *env_id, const char *friendly_id,
                         store_deployment *d)
{
    static char buf[4200];
    return one2(st, with_tail(buf, sizeof buf, "WHERE env_id=? AND friendly_id=?"), env_id,
                friendly_id, d);
}

int store_deployment_by_fid(store *st, const char *friendly_id, store_deployment *d)
{
    static char buf[4200];
    return one2(st, with_tail(buf, sizeof buf, "WHERE friendly_id=?"), friendly_id, NULL, d);
}

int store_deployment_by_version(store *st, const char *env_id, const char *version,
                                store_deployment *d)
{
    static char buf[4200];
    return one2(st, with_tail(buf, sizeof buf, "WHERE env_id=? AND version=?"), env_id, version,
                d);
}

int store_deployment_latest(store *st, const char *env_id, store_deployment *d)
{
    static char buf[4200];
    return one2(st, with_tail(buf, sizeof buf, "WHERE env_id=? ORDER BY seq DESC LIMIT 1"), env_id,
                NULL, d);
}

int store_deployment_list(store *st, const char *env_id, const char *status, int64_t before_seq,
                          int64_t from, int64_t to, int64_t limit, store_deployment **out,
                          size_t *n)
{
    static char buf[4400];
    db_stmt *q =
        store__stmt(st, with_tail(buf, sizeof buf,
                                  "WHERE env_id=?1 AND (CAST(?2 AS TEXT) IS NULL OR status=?2)"
                                  " AND (?3=0 OR seq<?3) AND (?4=0 OR created_at>=?4)"
                                  " AND (?5=0 OR created_at<=?5)"
                                  " ORDER BY seq DESC LIMIT ?6"));
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, env_id);
    store__bind_text(q, 2, status);
    db_bind_int64(q, 3, before_seq);
    db_bind_int64(q, 4, from);
    db_bind_int64(q, 5, to);
    db_bind_int64(q, 6, limit);
    return store__read_rows(st, q, &DEP_ROW, (void **)out, n);
}

int store_deployment_count_version_prefix(store *st, const char *env_id, const char *prefix,
                                          int64_t *count)
{
    db_stmt *q = store__stmt(
        st, "SELECT COUNT(*) FROM deployments WHERE env_id=? AND substr(version,1,length(?))=?");
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, env_id);
    store__bind_text(q, 2, prefix);
    store__bind_text(q, 3, prefix);
    int rc = db_step(q);
    *count = rc == DB_ROW ? db_column_int64(q, 0) : 0;
    db_reset(q);
    return rc == DB_ROW ? 0 : store__fail(st, "count deployments");
}

int store_deployment_unfinished(store *st, store_deployment **out, size_t *n)
{
    static char buf[4200];
    db_stmt *q = store__stmt(
        st, with_tail(buf, sizeof buf,
                      "WHERE status IN ('PENDING','BUILDING','DEPLOYING') ORDER BY seq"));
    if (!q)
        return ERR_STORE;
    return store__read_rows(st, q, &DEP_ROW, (void **)out, n);
}

int store_deployment_promoted_all(store *st, store_deployment **out, size_t *n)
{
    static char buf[4300];
    db_stmt *q = store__stmt(
        st, with_tail(buf, sizeof buf,
                      "WHERE friendly_id IN (SELECT deployment_id FROM deployment_promotions)"
                      " ORDER BY seq"));
    if (!q)
        return ERR_STORE;
    return store__read_rows(st, q, &DEP_ROW, (void **)out, n);
}

int store_deployment_unpromoted(store *st, store_deployment **out, size_t *n)
{
    static char buf[4300];
    db_stmt *q = store__stmt(
        st, with_tail(buf, sizeof buf,
                      "WHERE status='DEPLOYED' AND friendly_id NOT IN"
                      " (SELECT deployment_id FROM deployment_promotions) ORDER BY seq DESC"));
    if (!q)
        return ERR_STORE;
    return store__read_rows(st, q, &DEP_ROW, (void **)out, n);
}

int store_promotion_get(store *st, const char *env_id, char *fid, size_t cap)
{
    db_stmt *q =
        store__stmt(st, "SELECT deployment_id FROM deployment_promotions WHERE env_id=?");
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, env_id);
    fid[0] = 0;
    int rc = db_step(q);
    if (rc == DB_ROW)
        snprintf(fid, cap, "%s", (const char *)db_column_text(q, 0));
    db_reset(q);
    return rc == DB_ROW || rc == DB_DONE ? 0 : store__fail(st, "promotion");
}

int store_promotion_set(store *st, const char *env_id, const char *deployment_fid, int64_t now)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *q = store__stmt(st, "INSERT INTO deployment_promotions(env_id, deployment_id,"
                                      " promoted_at) VALUES(?,?,?) ON CONFLICT(env_id) DO UPDATE"
                                      " SET deployment_id=excluded.deployment_id,"
                                      " promoted_at=excluded.promoted_at");
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, env_id);
    store__bind_text(q, 2, deployment_fid);
    db_bind_int64(q, 3, now);
    return store__exec_write(st, q);
}

int store_runs_locked_open(store *st, const char *env_id, const char *version, int64_t below,
                           bool *any)
{
    db_stmt *q = store__stmt(st, "SELECT EXISTS(SELECT 1 FROM runs WHERE env_id=? AND"
                                      " lock_to_version=? AND status<?)");
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, env_id);
    store__bind_text(q, 2, version);
    db_bind_int64(q, 3, below);
    int rc = db_step(q);
    *any = rc == DB_ROW && db_column_int64(q, 0) != 0;
    db_reset(q);
    return rc == DB_ROW ? 0 : store__fail(st, "runs locked open");
}
