/*
 * store/sessions.c - the SQL of sessions and session_runs (migration 11), and
 * of session channels' waitpoints and part-id claims (migration 15).
 */
#include "store/sessions.h"

#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "util/err.h"

#define ST(f)                                                                                      \
    {                                                                                              \
#f, COL_TEXT, offsetof(store_session, f)                                                   \
    }
#define SI(f)                                                                                      \
    {                                                                                              \
#f, COL_INT, offsetof(store_session, f)                                                    \
    }
static const col session_cols[] = {
    SI(seq),
    ST(id),
    ST(friendly_id),
    ST(env_id),
    ST(external_id),
    ST(type),
    ST(task),
    ST(trigger_config),
    ST(tags),
    ST(metadata),
    ST(current_run_id),
    SI(current_run_version),
    SI(closed_at),
    ST(closed_reason),
    SI(expires_at),
    SI(created_at),
    SI(updated_at),
};
static const row_type SESSION_ROW = ROW_TYPE(store_session, session_cols, "session");

static table_sql *sql(void)
{
    static table_sql t;
    if (!t.select[0])
        store__build_sql(&t, "sessions", session_cols, NCOLS(session_cols));
    return &t;
}

void store_session_clear(store_session *s)
{
    store__clear_row(s, &SESSION_ROW);
}

/* ERR_CONFLICT for a unique-constraint failure of the last write. */
static int write_result(store *st, int rc)
{
    if (rc && store__conflict(st))
        return ERR_CONFLICT;
    return rc;
}

int store_session_insert(store *st, store_session *s)
{
    return write_result(st, store__insert_row(st, sql()->insert, &SESSION_ROW, s));
}

int store_session_update(store *st, const store_session *s)
{
    return write_result(st, store__update_row(st, sql()->update, &SESSION_ROW, s));
}

int store_session_get(store *st, const char *env_id, const char *key, store_session *s)
{
    static char by_friendly[4200], by_external[4200];
    if (!by_friendly[0]) {
        snprintf(by_friendly, sizeof by_friendly, "%.4095s WHERE env_id=? AND friendly_id=?",
                 sql()->select);
        snprintf(by_external, sizeof by_external, "%.4095s WHERE env_id=? AND external_id=?",
                 sql()->select);
    }
    bool friendly = strncmp(key, "session_", 8) == 0;
    db_stmt *q = store__stmt(st, friendly ? by_friendly : by_external);
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, env_id);
    store__bind_text(q, 2, key);
    return store__read_one(st, q, &SESSION_ROW, s);
}

int store_session_claim(store *st, const char *session_id, int64_t version, const char *expect_run,
                        const char *run_id, int64_t now, bool *won)
{
    *won = false;
    if (store__begin_write(st))
        return ERR_STORE;
    static const char *any = "UPDATE sessions SET current_run_id=?,"
                             " current_run_version=current_run_version+1, updated_at=?"
                             " WHERE id=? AND current_run_version=?";
    static const char *exact = "UPDATE sessions SET current_run_id=?,"
                               " current_run_version=current_run_version+1, updated_at=?"
                               " WHERE id=? AND current_run_version=? AND current_run_id=?";
    db_stmt *q = store__stmt(st, expect_run ? exact : any);
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, run_id);
    db_bind_int64(q, 2, now);
    store__bind_text(q, 3, session_id);
    db_bind_int64(q, 4, version);
    if (expect_run)
        store__bind_text(q, 5, expect_run);
    if (store__exec_write(st, q))
        return ERR_STORE;
    *won = store__changes(st) == 1;
    return 0;
}

int store_session_run_add(store *st, const char *session_id, const char *run_id, const char *reason,
                          int64_t now)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *q = store__stmt(st, "INSERT OR IGNORE INTO session_runs(run_id,session_id,"
                                      "reason,triggered_at) VALUES(?,?,?,?)");
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, run_id);
    store__bind_text(q, 2, session_id);
    store__bind_text(q, 3, reason);
    db_bind_int64(q, 4, now);
    return store__exec_write(st, q);
}

int store_session_runs_each(store *st, const char *session_id,
                            void (*fn)(void *ud, const char *run_id, const char *reason,
                                       int64_t at),
                            void *ud)
{
    db_stmt *q = store__stmt(st, "SELECT run_id,reason,triggered_at FROM session_runs"
                                      " WHERE session_id=? ORDER BY triggered_at, rowid");
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, session_id);
    int rc;
    while ((rc = db_step(q)) == DB_ROW)
        fn(ud, (const char *)db_column_text(q, 0), (const char *)db_column_text(q, 1),
           db_column_int64(q, 2));
    db_reset(q);
    return rc == DB_DONE ? 0 : store__fail(st, "session runs");
}

/* Appends " AND col IN (?,...)" for n values. */
static size_t add_in(char *buf, size_t len, size_t cap, const char *col, size_t n)
{
    if (!n)
        return len;
    len += (size_t)snprintf(buf + len, cap - len, " AND %s IN (", col);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, i ? ",?" : "?");
    return len + (size_t)snprintf(buf + len, cap - len, ")");
}

int store_session_list(store *st, const store_session_filter *f, store_session **out, size_t *n,
                       bool *has_more)
{
    char q[8192];
    size_t cap = sizeof q;
    size_t len = (size_t)snprintf(q, cap, "%s WHERE env_id=?", sql()->select);
    len = add_in(q, len, cap, "type", f->n_type);
    len = add_in(q, len, cap, "task", f->n_task);
    if (f->n_tag) {
        len += (size_t)snprintf(q + len, cap - len,
                                " AND EXISTS (SELECT 1 FROM json_each(sessions.tags) WHERE"
                                " value IN (");
        for (size_t i = 0; i < f->n_tag; i++)
            len += (size_t)snprintf(q + len, cap - len, i ? ",?" : "?");
        len += (size_t)snprintf(q + len, cap - len, "))");
    }
    if (f->external_id)
        len += (size_t)snprintf(q + len, cap - len, " AND external_id=?");
    if (f->statuses && f->statuses != (SESSION_ACTIVE | SESSION_CLOSED | SESSION_EXPIRED)) {
        /* CLOSED wins over EXPIRED, as the platform derives the status */
        len += (size_t)snprintf(q + len, cap - len, " AND (0");
        if (f->statuses & SESSION_CLOSED)
            len += (size_t)snprintf(q + len, cap - len, " OR closed_at>0");
        if (f->statuses & SESSION_EXPIRED)
            len += (size_t)snprintf(q + len, cap - len,
                                    " OR (closed_at=0 AND expires_at>0 AND expires_at<%lld)",
                                    (long long)f->now);
        if (f->statuses & SESSION_ACTIVE)
            len += (size_t)snprintf(q + len, cap - len,
                                    " OR (closed_at=0 AND (expires_at=0 OR expires_at>=%lld))",
                                    (long long)f->now);
        len += (size_t)snprintf(q + len, cap - len, ")");
    }
    if (f->created_from)
        len += (size_t)snprintf(q + len, cap - len, " AND created_at>=%lld",
                                (long long)f->created_from);
    if (f->created_to)
        len +=
            (size_t)snprintf(q + len, cap - len, " AND created_at<=%lld", (long long)f->created_to);
    bool backward = f->before_seq > 0;
    if (backward)
        len += (size_t)snprintf(q + len, cap - len, " AND seq>%lld", (long long)f->before_seq);
    else if (f->after_seq > 0)
        len += (size_t)snprintf(q + len, cap - len, " AND seq<%lld", (long long)f->after_seq);
    snprintf(q + len, cap - len, " ORDER BY seq %s LIMIT %d", backward ? "ASC" : "DESC",
             f->limit + 1);
    db_stmt *s = NULL;
    if (store__prepare(st, q, &s) != 0)
        return store__fail(st, "session list prepare");
    int i = 1;
    store__bind_text(s, i++, f->env_id);
    for (size_t k = 0; k < f->n_type; k++)
        store__bind_text(s, i++, f->types[k]);
    for (size_t k = 0; k < f->n_task; k++)
        store__bind_text(s, i++, f->tasks[k]);
    for (size_t k = 0; k < f->n_tag; k++)
        store__bind_text(s, i++, f->tags[k]);
    if (f->external_id)
        store__bind_text(s, i++, f->external_id);
    int rc = store__read_rows(st, s, &SESSION_ROW, (void **)out, n);
    store__finalize(s);
    if (rc)
        return rc;
    *has_more = *n > (size_t)f->limit;
    if (*has_more)
        store_session_clear(&(*out)[--(*n)]);
    if (backward)
        for (size_t a = 0, b = *n ? *n - 1 : 0; a < b; a++, b--) {
            store_session t = (*out)[a];
            (*out)[a] = (*out)[b];
            (*out)[b] = t;
        }
    return 0;
}

/* ---- session channels --------------------------------------------------- */

int store_session_wait_add(store *st, const char *env_id, const char *key, const char *io,
                           const char *wp_id, int64_t expires_at)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *q =
        store__stmt(st, "INSERT OR REPLACE INTO session_waits(env_id,skey,io,waitpoint_id,"
                        "expires_at) VALUES(?,?,?,?,?)");
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, env_id);
    store__bind_text(q, 2, key);
    store__bind_text(q, 3, io);
    store__bind_text(q, 4, wp_id);
    db_bind_int64(q, 5, expires_at);
    return store__exec_write(st, q);
}

int store_session_wait_drain(store *st, const char *env_id, const char *key, const char *io,
                             int64_t now, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    db_stmt *q = store__stmt(st, "SELECT waitpoint_id,expires_at FROM session_waits"
                                      " WHERE env_id=? AND skey=? AND io=?");
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, env_id);
    store__bind_text(q, 2, key);
    store__bind_text(q, 3, io);
    size_t cap = 0;
    int rc;
    while ((rc = db_step(q)) == DB_ROW) {
        if (db_column_int64(q, 1) < now)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            char **grown = realloc(*ids, cap * sizeof **ids);
            if (!grown)
                abort();
            *ids = grown;
        }
        (*ids)[(*n)++] = strdup((const char *)db_column_text(q, 0));
    }
    db_reset(q);
    if (rc != DB_DONE)
        return store__fail(st, "session waits");
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *d =
        store__stmt(st, "DELETE FROM session_waits WHERE env_id=? AND skey=? AND io=?");
    if (!d)
        return ERR_STORE;
    store__bind_text(d, 1, env_id);
    store__bind_text(d, 2, key);
    store__bind_text(d, 3, io);
    return store__exec_write(st, d);
}

int store_session_wait_remove(store *st, const char *env_id, const char *key, const char *io,
                              const char *wp_id)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *d = store__stmt(st, "DELETE FROM session_waits WHERE env_id=? AND skey=?"
                                      " AND io=? AND waitpoint_id=?");
    if (!d)
        return ERR_STORE;
    store__bind_text(d, 1, env_id);
    store__bind_text(d, 2, key);
    store__bind_text(d, 3, io);
    store__bind_text(d, 4, wp_id);
    return store__exec_write(st, d);
}

int store_session_part_claim(store *st, const char *dkey, int64_t now, int64_t expires_at,
                             bool *claimed)
{
    *claimed = false;
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *p = store__stmt(st, "DELETE FROM session_parts WHERE expires_at<?");
    if (!p)
        return ERR_STORE;
    db_bind_int64(p, 1, now);
    if (store__exec_write(st, p))
        return ERR_STORE;
    db_stmt *q =
        store__stmt(st, "INSERT OR IGNORE INTO session_parts(dkey,expires_at) VALUES(?,?)");
    if (!q)
        return ERR_STORE;
    store__bind_text(q, 1, dkey);
    db_bind_int64(q, 2, expires_at);
    if (store__exec_write(st, q))
        return ERR_STORE;
    *claimed = store__changes(st) > 0;
    return 0;
}

int store_session_part_release(store *st, const char *dkey)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *d = store__stmt(st, "DELETE FROM session_parts WHERE dkey=?");
    if (!d)
        return ERR_STORE;
    store__bind_text(d, 1, dkey);
    return store__exec_write(st, d);
}
