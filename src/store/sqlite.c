/*
 * store/sqlite.c - the embedded store: one SQLite file in WAL mode.
 *
 * Writes open a transaction lazily (BEGIN IMMEDIATE) and stay in it until
 * store_commit(), so every request served in one event-loop turn shares one
 * fsync. Rows of runs and batches are mapped to their C structs through
 * column tables (name, kind, offset), so a new column is one line here and
 * one in a migration.
 */
#include "store/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/migrations.h"
#include "store/pg.h"
#include "store/sqlite_internal.h"
#include "util/err.h"

/* slots for the distinct static SQL strings the store prepares (about 120
 * today; every feature adds some): a full cache aborts, so keep it roomy */
#define STMT_CACHE 1024
/* slots for the partial UPDATEs of update_row (one per table and set of
 * changed columns; a run's transitions use a few dozen) */
#define DIFF_CACHE 512

#define RT(f)                                                                                      \
    {                                                                                              \
#f, COL_TEXT, offsetof(store_run, f)                                                       \
    }
#define RI(f)                                                                                      \
    {                                                                                              \
#f, COL_INT, offsetof(store_run, f)                                                        \
    }
static const col run_cols[] = {
    RI(seq),
    RT(id),
    RT(friendly_id),
    RT(env_id),
    RT(task),
    RI(status),
    RT(payload),
    RT(payload_type),
    RT(metadata),
    RT(metadata_type),
    RT(output),
    RT(output_type),
    RT(error),
    RT(queue),
    RT(concurrency_key),
    RT(idempotency_key),
    RT(idempotency_key_user),
    RI(idempotency_expires_at),
    RT(tags),
    RI(priority_ms),
    RI(queue_ts),
    RT(machine),
    RI(max_attempts),
    RI(max_duration_s),
    RI(is_test),
    RT(ttl),
    RI(ttl_ms),
    RI(delay_until),
    RI(expire_at),
    RI(created_at),
    RI(updated_at),
    RI(queued_at),
    RI(started_at),
    RI(completed_at),
    RI(expired_at),
    RT(parent_id),
    RT(root_id),
    RT(batch_id),
    RI(depth),
    RT(trigger_function),
    RT(lock_to_version),
    RT(version),
    RT(one_time_token),
    RI(attempt_count),
    RT(seed_metadata),
    RT(seed_metadata_type),
    RI(resume_parent),
    RT(realtime_streams),
    RT(trace_id),
    RT(span_id),
    RT(snapshot_id),
    RT(snapshot_status),
    RT(snapshot_desc),
    RI(snapshot_at),
    RT(snapshot_waitpoints),
    RT(pending_waitpoints),
    RT(worker_id),
    RI(heartbeat_deadline),
    RI(available_at),
    RI(usage_ms),
    RI(change_seq),
    RI(nack_count),
    RT(schedule_id),
};
#define BT(f)                                                                                      \
    {                                                                                              \
#f, COL_TEXT, offsetof(store_batch, f)                                                     \
    }
#define BI(f)                                                                                      \
    {                                                                                              \
#f, COL_INT, offsetof(store_batch, f)                                                      \
    }
static const col batch_cols[] = {
    BI(seq),
    BT(id),
    BT(friendly_id),
    BT(env_id),
    BT(status),
    BI(run_count),
    BI(items_accepted),
    BT(idempotency_key),
    BI(created_at),
    BI(updated_at),
    BI(completed_at),
    BI(sealed),
    BT(parent_run_id),
    BI(resume_parent),
    BT(one_time_token),
    BT(errors),
    BT(version),
};
#define WT(f)                                                                                      \
    {                                                                                              \
#f, COL_TEXT, offsetof(store_waitpoint, f)                                                 \
    }
#define WI(f)                                                                                      \
    {                                                                                              \
#f, COL_INT, offsetof(store_waitpoint, f)                                                  \
    }
static const col waitpoint_cols[] = {
    WI(seq),
    WT(id),
    WT(friendly_id),
    WT(env_id),
    WT(type),
    WT(status),
    WT(idempotency_key),
    WI(user_idempotency_key),
    WI(idempotency_expires_at),
    WT(inactive_idempotency_key),
    WT(output),
    WT(output_type),
    WI(output_is_error),
    WI(timeout_at),
    WI(completed_at),
    WI(completed_after),
    WI(created_at),
    WI(updated_at),
    WT(tags),
    WT(completed_by_run),
    WT(resume_run),
    WT(batch_id),
    WI(batch_index),
};
#define KT(f)                                                                                      \
    {                                                                                              \
#f, COL_TEXT, offsetof(store_worker, f)                                                    \
    }
#define KI(f)                                                                                      \
    {                                                                                              \
#f, COL_INT, offsetof(store_worker, f)                                                     \
    }
static const col worker_cols[] = {
    KI(seq),     KT(id),           KT(friendly_id), KT(env_id),
    KT(version), KT(content_hash), KT(tasks),       KI(created_at),
};

struct store {
    sqlite3 *db;  /* NULL on PostgreSQL */
    store_pg *pg; /* NULL on SQLite */
    bool in_tx;
    bool deferred_sync;
    char *wal_path;
    int wal_fd; /* opened after the first commit created the WAL */
    table_sql runs;
    table_sql batches;
    table_sql waitpoints;
    table_sql workers;
    int64_t change_seq; /* the last change number handed out (runs.change_seq) */
    /* PostgreSQL: the counter is td_counters' row, read by the transaction's
     * first change (under the nodes' write lock) and written at its commit;
     * the envs whose runs it changed are notified then */
    bool seq_loaded;
    char notify[8][32];
    int n_notify; /* > 8: too many, the envs of the overflow go unnamed */
    char snotify[8][200]; /* "<run id>\t<stream>" appended to, likewise */
    int n_snotify;
    struct {
        const char *sql;
        db_stmt st;
    } cache[STMT_CACHE];
    /* update_row writes only the columns that changed: the current row is
     * read by its table's reader, and each set of changed columns has its own
     * UPDATE (an index whose columns are not set is not rewritten) */
    struct {
        const char *update_sql; /* the table's full UPDATE (static), the key */
        sqlite3_stmt *st;       /* SELECT every column but seq WHERE seq=? */
    } readers[16];
    struct {
        const char *update_sql;
        uint64_t mask[2]; /* changed columns, bit i = column i */
        sqlite3_stmt *st;
    } diffs[DIFF_CACHE];
};

static bool listed(const char *const *names, const char *name)
{
    for (; names && *names; names++)
        if (!strcmp(*names, name))
            return true;
    return false;
}

/* The statements of a table. The update leaves out the columns `fixed`
 * names (NULL-terminated, may be NULL): ones no row changes after its
 * insert, so SQLite does not rewrite the index entries built on them at
 * every update. Its parameters are numbered like the insert's, so one
 * bind_row serves both. */
static void build_sql_fixed(table_sql *t, const char *table, const col *cols, size_t n,
                            const char *const *fixed)
{
    char names[1536] = "", qs[512] = "", sets[2048] = "";
    for (size_t i = 1; i < n; i++) { /* column 0 is seq, assigned by SQLite */
        strcat(names, i > 1 ? "," : "");
        strcat(names, cols[i].name);
        strcat(qs, i > 1 ? ",?" : "?");
        if (listed(fixed, cols[i].name))
            continue;
        size_t l = strlen(sets);
        snprintf(sets + l, sizeof sets - l, "%s%s=?%zu", l ? "," : "", cols[i].name, i);
    }
    snprintf(t->select, sizeof t->select, "SELECT seq,%s FROM %s", names, table);
    snprintf(t->insert, sizeof t->insert, "INSERT INTO %s(%s) VALUES(%s)", table, names, qs);
    snprintf(t->update, sizeof t->update, "UPDATE %s SET %s WHERE seq=?%zu", table, sets, n);
}

static void build_sql(table_sql *t, const char *table, const col *cols, size_t n)
{
    build_sql_fixed(t, table, cols, n, NULL);
}

/* Run columns set once, at trigger (engine/runs.c). */
static const char *const run_fixed[] = {"id", "friendly_id", "env_id", "task", NULL};

/* Returns a cached prepared statement for a SQL string with static storage
 * (cached by pointer), reset and with bindings cleared. */
static db_stmt *stmt(store *st, const char *sql)
{
    size_t h = ((uintptr_t)sql >> 3) % STMT_CACHE;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        size_t k = (h + i) % STMT_CACHE;
        if (st->cache[k].sql == sql) {
            db_reset(&st->cache[k].st);
            db_clear_bindings(&st->cache[k].st);
            return &st->cache[k].st;
        }
        if (!st->cache[k].sql) {
            db_stmt s = {0};
            if (st->pg) {
                if (!(s.pq = pg_prepare(st->pg, sql, true)))
                    return NULL;
            } else if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s.lt,
                                          NULL) != SQLITE_OK) {
                fprintf(stderr, "store: prepare failed: %s\n  %s\n", sqlite3_errmsg(st->db), sql);
                return NULL;
            }
            st->cache[k].sql = sql;
            st->cache[k].st = s;
            return &st->cache[k].st;
        }
    }
    fprintf(stderr, "store: statement cache full\n");
    abort();
}

static bool exists(store *st, const char *sql, const char *v);

static int fail(store *st, const char *what)
{
    fprintf(stderr, "store: %s: %s\n", what, st->pg ? pg_errmsg(st->pg) : sqlite3_errmsg(st->db));
    return ERR_STORE;
}

/* Runs a statement without results from the statement cache (BEGIN and
 * COMMIT run once or more a loop turn; sqlite3_exec would prepare them each
 * time). Returns the SQLite result. */
static int exec_cached(store *st, const char *sql)
{
    db_stmt *s = stmt(st, sql);
    if (!s)
        return SQLITE_ERROR;
    int rc = db_step(s);
    db_reset(s);
    return rc == DB_DONE ? SQLITE_OK : rc;
}

static int begin_write(store *st)
{
    if (st->in_tx)
        return 0;
    if (st->pg ? pg_begin(st->pg) != 0 : exec_cached(st, "BEGIN IMMEDIATE") != SQLITE_OK)
        return fail(st, "begin");
    st->in_tx = true;
    return 0;
}

static int exec_write(store *st, db_stmt *s)
{
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE && rc != DB_ROW)
        return fail(st, "write");
    return 0;
}

static void bind_text(db_stmt *s, int i, const char *v)
{
    if (v)
        db_bind_text(s, i, v, -1);
    else
        db_bind_null(s, i);
}

static char *col_dup(db_stmt *s, int i)
{
    if (db_column_type(s, i) == DB_NULL)
        return NULL;
    const char *t = (const char *)db_column_text(s, i);
    int n = db_column_bytes(s, i);
    char *r = malloc((size_t)n + 1);
    if (!r)
        abort();
    memcpy(r, t, (size_t)n);
    r[n] = 0;
    return r;
}

static void bind_row(db_stmt *s, const void *row, const col *cols, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        const char *p = (const char *)row + cols[i].off;
        if (cols[i].kind == COL_TEXT)
            bind_text(s, (int)i, *(char *const *)p);
        else
            db_bind_int64(s, (int)i, *(const int64_t *)p);
    }
}

static void read_row(db_stmt *s, void *row, const col *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *p = (char *)row + cols[i].off;
        if (cols[i].kind == COL_TEXT)
            *(char **)p = col_dup(s, (int)i);
        else
            *(int64_t *)p = db_column_int64(s, (int)i);
    }
}

static void clear_row(void *row, const col *cols, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cols[i].kind == COL_TEXT) {
            char **p = (char **)((char *)row + cols[i].off);
            free(*p);
            *p = NULL;
        }
}

void store_run_clear(store_run *r)
{
    clear_row(r, run_cols, NCOLS(run_cols));
}

void store_batch_clear(store_batch *b)
{
    clear_row(b, batch_cols, NCOLS(batch_cols));
}

void store_worker_clear(store_worker *w)
{
    clear_row(w, worker_cols, NCOLS(worker_cols));
}

void store_waitpoint_clear(store_waitpoint *w)
{
    clear_row(w, waitpoint_cols, NCOLS(waitpoint_cols));
}

static const row_type RUN_ROW = ROW_TYPE(store_run, run_cols, "run");
static const row_type BATCH_ROW = ROW_TYPE(store_batch, batch_cols, "batch");
static const row_type WAITPOINT_ROW = ROW_TYPE(store_waitpoint, waitpoint_cols, "waitpoint");
static const row_type WORKER_ROW = ROW_TYPE(store_worker, worker_cols, "worker");

/* INSERTs row with the table's generated SQL and sets its seq. */
static int insert_row(store *st, const char *sql, const row_type *t, void *row)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_row(s, row, t->cols, t->ncols);
    if (exec_write(st, s))
        return ERR_STORE;
    /* seq is every row's first field */
    *(int64_t *)row = st->pg ? pg_last_rowid(st->pg) : sqlite3_last_insert_rowid(st->db);
    return 0;
}

/* The table name of a generated "UPDATE t SET ..." into buf. */
static void update_table(const char *update_sql, char *buf, size_t cap)
{
    const char *a = update_sql + strlen("UPDATE "), *b = strchr(a, ' ');
    snprintf(buf, cap, "%.*s", (int)(b ? b - a : 0), a);
}

/* The SELECT of every column of t but seq, WHERE seq=?, of update_sql's table. */
static sqlite3_stmt *row_reader(store *st, const char *update_sql, const row_type *t)
{
    size_t n = sizeof st->readers / sizeof st->readers[0], i;
    for (i = 0; i < n && st->readers[i].update_sql; i++)
        if (st->readers[i].update_sql == update_sql) {
            sqlite3_reset(st->readers[i].st);
            return st->readers[i].st;
        }
    if (i == n)
        return NULL;
    char table[64], sql[4096];
    update_table(update_sql, table, sizeof table);
    size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    for (size_t k = 1; k < t->ncols && len < sizeof sql; k++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s", k > 1 ? "," : "",
                                t->cols[k].name);
    if (len + strlen(table) + 32 >= sizeof sql)
        return NULL;
    snprintf(sql + len, sizeof sql - len, " FROM %s WHERE seq=?", table);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "store: prepare failed: %s\n  %s\n", sqlite3_errmsg(st->db), sql);
        return NULL;
    }
    st->readers[i].update_sql = update_sql;
    st->readers[i].st = s;
    return s;
}

/* Which columns of row differ from the stored row (reader on it). */
static void changed_cols(sqlite3_stmt *cur, const row_type *t, const void *row, uint64_t mask[2])
{
    mask[0] = mask[1] = 0;
    for (size_t i = 1; i < t->ncols; i++) {
        const char *p = (const char *)row + t->cols[i].off;
        int type = sqlite3_column_type(cur, (int)i - 1);
        bool diff;
        if (t->cols[i].kind == COL_TEXT) {
            const char *v = *(char *const *)p;
            diff = v ? type != SQLITE_TEXT ||
                           strcmp((const char *)sqlite3_column_text(cur, (int)i - 1), v) != 0
                     : type != SQLITE_NULL;
        } else {
            diff = type != SQLITE_INTEGER ||
                   sqlite3_column_int64(cur, (int)i - 1) != *(const int64_t *)p;
        }
        if (diff)
            mask[i / 64] |= 1ull << (i % 64);
    }
}

/* The UPDATE of update_sql's table setting exactly the columns of mask. */
static sqlite3_stmt *diff_update(store *st, const char *update_sql, const row_type *t,
                                 const uint64_t mask[2])
{
    size_t h = (((uintptr_t)update_sql >> 3) ^ mask[0] * 0x9E3779B97F4A7C15ull ^ mask[1]) %
               DIFF_CACHE;
    for (size_t i = 0; i < DIFF_CACHE; i++) {
        size_t k = (h + i) % DIFF_CACHE;
        if (st->diffs[k].update_sql == update_sql && st->diffs[k].mask[0] == mask[0] &&
            st->diffs[k].mask[1] == mask[1]) {
            sqlite3_reset(st->diffs[k].st);
            sqlite3_clear_bindings(st->diffs[k].st);
            return st->diffs[k].st;
        }
        if (st->diffs[k].update_sql)
            continue;
        char table[64], sql[4096];
        update_table(update_sql, table, sizeof table);
        size_t len = (size_t)snprintf(sql, sizeof sql, "UPDATE %s SET ", table);
        bool first = true;
        for (size_t c = 1; c < t->ncols && len < sizeof sql; c++)
            if (mask[c / 64] & (1ull << (c % 64))) {
                len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s=?", first ? "" : ",",
                                        t->cols[c].name);
                first = false;
            }
        if (len + 16 >= sizeof sql)
            return NULL;
        snprintf(sql + len, sizeof sql - len, " WHERE seq=?");
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
            fprintf(stderr, "store: prepare failed: %s\n  %s\n", sqlite3_errmsg(st->db), sql);
            return NULL;
        }
        st->diffs[k].update_sql = update_sql;
        st->diffs[k].mask[0] = mask[0];
        st->diffs[k].mask[1] = mask[1];
        st->diffs[k].st = s;
        return s;
    }
    return NULL; /* cache full: the caller writes every column */
}

/* Writes row back (WHERE seq): only the columns that differ from the stored
 * row, so indexes on unchanged columns are not rewritten; every column when
 * the row cannot be compared. */
static int update_row(store *st, const char *sql, const row_type *t, const void *row)
{
    if (begin_write(st))
        return ERR_STORE;
    int64_t seq = *(const int64_t *)row;
    /* SQLite only: PostgreSQL writes the whole row (its MVCC rewrites the
     * tuple anyway) */
    sqlite3_stmt *cur = !st->pg && t->ncols <= 128 ? row_reader(st, sql, t) : NULL;
    if (cur) {
        sqlite3_bind_int64(cur, 1, seq);
        int rc = sqlite3_step(cur);
        if (rc == SQLITE_ROW) {
            uint64_t mask[2];
            changed_cols(cur, t, row, mask);
            sqlite3_reset(cur);
            if (!mask[0] && !mask[1])
                return 0;
            sqlite3_stmt *raw = diff_update(st, sql, t, mask);
            if (raw) {
                db_stmt ds = {.lt = raw};
                int k = 1;
                for (size_t i = 1; i < t->ncols; i++) {
                    if (!(mask[i / 64] & (1ull << (i % 64))))
                        continue;
                    const char *p = (const char *)row + t->cols[i].off;
                    if (t->cols[i].kind == COL_TEXT)
                        bind_text(&ds, k++, *(char *const *)p);
                    else
                        db_bind_int64(&ds, k++, *(const int64_t *)p);
                }
                db_bind_int64(&ds, k, seq);
                return exec_write(st, &ds);
            }
        } else {
            sqlite3_reset(cur);
            if (rc != SQLITE_DONE)
                return fail(st, "read before update");
        }
    }
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_row(s, row, t->cols, t->ncols);
    db_bind_int64(s, (int)t->ncols, seq);
    return exec_write(st, s);
}

/* Makes room for element n of a growing array (capacity *cap, elements of
 * size bytes), doubling; aborts on out-of-memory. Returns the array. */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return arr;
    *cap = *cap ? *cap * 2 : 16;
    arr = realloc(arr, *cap * size);
    if (!arr)
        abort();
    return arr;
}

/* Reads every row of a SELECT into a malloc'd array of t rows. */
static int read_rows(store *st, db_stmt *s, const row_type *t, void **out, size_t *n)
{
    size_t cap = 0, cnt = 0;
    char *rows = NULL;
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        rows = grow(rows, &cap, cnt, t->size);
        memset(rows + cnt * t->size, 0, t->size);
        read_row(s, rows + cnt * t->size, t->cols, t->ncols);
        cnt++;
    }
    if (rc != DB_DONE) {
        for (size_t i = 0; i < cnt; i++)
            clear_row(rows + i * t->size, t->cols, t->ncols);
        free(rows);
        return fail(st, t->what);
    }
    *out = rows;
    *n = cnt;
    return 0;
}

/* Steps a SELECT and reads its first row; ERR_NOT_FOUND if none. */
static int read_one(store *st, db_stmt *s, const row_type *t, void *row)
{
    int rc = db_step(s);
    if (rc == DB_ROW)
        read_row(s, row, t->cols, t->ncols);
    db_reset(s);
    if (rc == DB_ROW)
        return 0;
    return rc == DB_DONE ? ERR_NOT_FOUND : fail(st, t->what);
}

/* ---- lifecycle -------------------------------------------------------- */

static int migrate(store *st)
{
    if (sqlite3_exec(st->db,
                     "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return fail(st, "migrations table");
    sqlite3_stmt *s = NULL;
    int64_t have = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT COALESCE(MAX(version),0) FROM schema_migrations", -1, &s,
                           NULL) != SQLITE_OK)
        return fail(st, "migrations version");
    if (sqlite3_step(s) == SQLITE_ROW)
        have = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    for (size_t v = (size_t)have; v < store_migrations_count; v++) {
        char rec[96];
        snprintf(rec, sizeof rec, "INSERT INTO schema_migrations VALUES(%zu)", v + 1);
        if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(st->db, store_migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(st->db, rec, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            int rc = fail(st, "migration");
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return 0;
}

/* Opens the SQLite file of opt and migrates it. */
static int open_sqlite(store *st, const store_options *opt)
{
    if (asprintf(&st->wal_path, "%s-wal", opt->path) < 0)
        return ERR_STORE;
    if (sqlite3_open_v2(opt->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "store: cannot open %s: %s\n", opt->path, sqlite3_errmsg(st->db));
        return ERR_STORE;
    }
    sqlite3_busy_timeout(st->db, 5000);
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=OFF;"
             "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16000;",
             opt->sync_full && !st->deferred_sync ? "FULL" : "NORMAL");
    if (sqlite3_exec(st->db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
        return fail(st, "pragmas");
    return migrate(st);
}

store *store_open(const store_options *opt)
{
    store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->wal_fd = -1;
    st->deferred_sync = opt->sync_full && opt->deferred_sync;
    if (opt->database_url && opt->database_url[0]) {
        st->pg = pg_open(opt->database_url, opt->sync_full, st->deferred_sync);
        if (!st->pg)
            goto fail;
    } else if (open_sqlite(st, opt) != 0) {
        goto fail;
    }
    /* the runs' UPDATE leaves out the columns set once (SQLite: their index
     * entries are not rewritten; PostgreSQL gets every column, as it cannot
     * type a parameter the statement does not use) */
    if (st->pg)
        build_sql(&st->runs, "runs", run_cols, NCOLS(run_cols));
    else
        build_sql_fixed(&st->runs, "runs", run_cols, NCOLS(run_cols), run_fixed);
    build_sql(&st->batches, "batches", batch_cols, NCOLS(batch_cols));
    build_sql(&st->waitpoints, "waitpoints", waitpoint_cols, NCOLS(waitpoint_cols));
    build_sql(&st->workers, "workers", worker_cols, NCOLS(worker_cols));
    {
        db_stmt *s = stmt(st, "SELECT COALESCE(MAX(change_seq),0) FROM runs");
        if (!s || db_step(s) != DB_ROW) {
            fail(st, "change counter");
            goto fail;
        }
        st->change_seq = db_column_int64(s, 0);
        db_reset(s);
    }
    return st;
fail:
    store_close(st);
    return NULL;
}

void store_close(store *st)
{
    if (!st)
        return;
    if (st->in_tx)
        store_rollback(st);
    for (size_t i = 0; i < STMT_CACHE; i++) {
        if (st->cache[i].st.lt)
            sqlite3_finalize(st->cache[i].st.lt);
        if (st->cache[i].st.pq)
            pgq_free(st->cache[i].st.pq);
    }
    for (size_t i = 0; i < sizeof st->readers / sizeof st->readers[0]; i++)
        sqlite3_finalize(st->readers[i].st);
    for (size_t i = 0; i < DIFF_CACHE; i++)
        sqlite3_finalize(st->diffs[i].st);
    if (st->db)
        sqlite3_close(st->db);
    pg_close(st->pg);
    if (st->wal_fd >= 0)
        close(st->wal_fd);
    free(st->wal_path);
    free(st);
}

bool store_defers_sync(const store *st)
{
    return st->deferred_sync;
}

/* With synchronous=NORMAL a WAL commit is written but not flushed; one
 * fdatasync of the WAL afterwards makes it as durable as FULL would have,
 * and covers every commit made before it. PostgreSQL: the same with
 * synchronous_commit=off and one durable commit on a second connection
 * (pg_sync). */
int store_sync(store *st)
{
    if (st->pg)
        return st->deferred_sync ? pg_sync(st->pg) : 0;
    if (!st->deferred_sync || st->wal_fd < 0)
        return 0;
    return fdatasync(st->wal_fd) == 0 ? 0 : ERR_IO;
}

bool store_dirty(const store *st)
{
    return st->in_tx;
}

/* Before the COMMIT of a PostgreSQL transaction that changed runs: the
 * counter's new value, and a notification per env for the other nodes. */
static void pg_before_commit(store *st)
{
    if (st->seq_loaded) {
        db_stmt *s = stmt(st, "UPDATE td_counters SET v=? WHERE k='change_seq'");
        if (s) {
            db_bind_int64(s, 1, st->change_seq);
            db_step(s);
            db_reset(s);
        }
    }
    for (int i = 0; i < st->n_notify && i < 8; i++)
        pg_notify_runs(st->pg, st->notify[i]);
    for (int i = 0; i < st->n_snotify && i < 8; i++)
        pg_notify_stream(st->pg, st->snotify[i]);
    if (st->n_snotify > 8)
        pg_notify_stream(st->pg, "*");
    if (st->n_notify > 8)
        pg_notify_runs(st->pg, "*");
}

static void pg_tx_done(store *st)
{
    st->seq_loaded = false;
    st->n_notify = 0;
    st->n_snotify = 0;
}

int store_commit(store *st)
{
    if (st->pg) {
        int rc = 0;
        if (st->in_tx) {
            pg_before_commit(st);
            pg_tx_done(st);
            st->in_tx = false;
            rc = pg_commit(st->pg) == 0 ? 0 : ERR_STORE; /* a failed COMMIT rolls back */
        }
        pg_setup_done(st->pg);
        return rc;
    }
    if (!st->in_tx)
        return 0;
    int rc = exec_cached(st, "COMMIT");
    if (rc != SQLITE_OK) {
        fail(st, "commit");
        store_rollback(st);
        return ERR_STORE;
    }
    st->in_tx = false;
    if (st->deferred_sync && st->wal_fd < 0)
        st->wal_fd = open(st->wal_path, O_RDONLY | O_CLOEXEC);
    return 0;
}

void store_rollback(store *st)
{
    if (!st->in_tx)
        return;
    if (st->pg) {
        pg_rollback(st->pg);
        pg_tx_done(st);
    } else
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->in_tx = false;
}

/* ---- tenancy ---------------------------------------------------------- */

static void copy_col(db_stmt *s, int i, char *dst, size_t cap)
{
    const char *t = (const char *)db_column_text(s, i);
    snprintf(dst, cap, "%s", t ? t : "");
}

int store_env_count(store *st, int64_t *count)
{
    db_stmt *s = stmt(st, "SELECT COUNT(*) FROM envs");
    if (!s || db_step(s) != DB_ROW)
        return fail(st, "env count");
    *count = db_column_int64(s, 0);
    db_reset(s);
    return 0;
}

int store_env_insert(store *st, const store_env *e)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s =
        stmt(st, "INSERT INTO envs(id,project_id,slug,type,api_key) VALUES(?,?,?,?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, e->id);
    bind_text(s, 2, e->project_id);
    bind_text(s, 3, e->slug);
    bind_text(s, 4, e->type);
    bind_text(s, 5, e->api_key);
    return exec_write(st, s);
}

int store_env_list(store *st, store_env **envs, size_t *n)
{
    db_stmt *s =
        stmt(st, "SELECT e.id,e.project_id,p.ref,p.org_id,e.slug,e.type,e.api_key"
                 " FROM envs e JOIN projects p ON p.id=e.project_id ORDER BY e.rowid");
    if (!s)
        return ERR_STORE;
    size_t cap = 8, cnt = 0;
    store_env *out = calloc(cap, sizeof *out);
    if (!out)
        abort();
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        if (cnt == cap) {
            cap *= 2;
            out = realloc(out, cap * sizeof *out);
            if (!out)
                abort();
        }
        store_env *e = &out[cnt++];
        memset(e, 0, sizeof *e);
        copy_col(s, 0, e->id, sizeof e->id);
        copy_col(s, 1, e->project_id, sizeof e->project_id);
        copy_col(s, 2, e->project_ref, sizeof e->project_ref);
        copy_col(s, 3, e->org_id, sizeof e->org_id);
        copy_col(s, 4, e->slug, sizeof e->slug);
        copy_col(s, 5, e->type, sizeof e->type);
        copy_col(s, 6, e->api_key, sizeof e->api_key);
    }
    db_reset(s);
    if (rc != DB_DONE) {
        free(out);
        return fail(st, "env list");
    }
    *envs = out;
    *n = cnt;
    return 0;
}

int store_data_version(store *st, int64_t *version)
{
    if (st->pg)
        return pg_data_version(st->pg, version);
    db_stmt *s = stmt(st, "PRAGMA data_version");
    if (!s)
        return ERR_STORE;
    int rc = db_step(s);
    if (rc == DB_ROW)
        *version = db_column_int64(s, 0);
    db_reset(s);
    return rc == DB_ROW ? 0 : fail(st, "data_version");
}

bool store_env_key_exists(store *st, const char *key)
{
    return exists(st, "SELECT 1 FROM envs WHERE api_key=?", key);
}

int store_env_set_key(store *st, const char *env_id, const char *new_key, const char *old_key,
                      int64_t old_expires_at)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "UPDATE envs SET api_key=? WHERE id=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, new_key);
    bind_text(s, 2, env_id);
    if (exec_write(st, s))
        return ERR_STORE;
    if (st->pg && pg_notify_data(st->pg)) /* other nodes reload their keyring */
        return fail(st, "notify");
    s = stmt(st, "INSERT OR REPLACE INTO revoked_keys(api_key,env_id,expires_at) VALUES(?,?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, old_key);
    bind_text(s, 2, env_id);
    db_bind_int64(s, 3, old_expires_at);
    return exec_write(st, s);
}

int store_revoked_key_env(store *st, const char *key, int64_t now, char env_id[32])
{
    db_stmt *s = stmt(st, "SELECT env_id FROM revoked_keys WHERE api_key=? AND expires_at>?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, key);
    db_bind_int64(s, 2, now);
    int rc = db_step(s);
    if (rc == DB_ROW)
        copy_col(s, 0, env_id, 32);
    db_reset(s);
    return rc == DB_ROW ? 0 : ERR_NOT_FOUND;
}

int store_revoked_keys_of(store *st, const char *env_id, int64_t now, char (**keys)[64], size_t *n)
{
    db_stmt *s = stmt(st, "SELECT api_key FROM revoked_keys WHERE env_id=? AND expires_at>?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    db_bind_int64(s, 2, now);
    size_t cnt = 0;
    char(*out)[64] = NULL;
    while (db_step(s) == DB_ROW) {
        out = realloc(out, (cnt + 1) * sizeof *out);
        if (!out)
            abort();
        copy_col(s, 0, out[cnt++], 64);
    }
    db_reset(s);
    *keys = out;
    *n = cnt;
    return 0;
}

int store_project_insert(store *st, const store_project *p)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "INSERT INTO orgs(id,slug,title) VALUES(?,?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, p->org_id);
    bind_text(s, 2, p->org_slug);
    bind_text(s, 3, p->org_title);
    if (exec_write(st, s))
        return ERR_STORE;
    s = stmt(st, "INSERT INTO projects(id,org_id,ref,name,slug) VALUES(?,?,?,?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, p->id);
    bind_text(s, 2, p->org_id);
    bind_text(s, 3, p->ref);
    bind_text(s, 4, p->name);
    bind_text(s, 5, p->slug);
    return exec_write(st, s);
}

int store_project_get(store *st, store_project *p)
{
    db_stmt *s = stmt(st, "SELECT p.id,p.ref,p.name,p.slug,o.id,o.slug,o.title FROM projects p"
                               " JOIN orgs o ON o.id=p.org_id ORDER BY p.rowid LIMIT 1");
    if (!s)
        return ERR_STORE;
    int rc = db_step(s);
    if (rc == DB_ROW) {
        copy_col(s, 0, p->id, sizeof p->id);
        copy_col(s, 1, p->ref, sizeof p->ref);
        copy_col(s, 2, p->name, sizeof p->name);
        copy_col(s, 3, p->slug, sizeof p->slug);
        copy_col(s, 4, p->org_id, sizeof p->org_id);
        copy_col(s, 5, p->org_slug, sizeof p->org_slug);
        copy_col(s, 6, p->org_title, sizeof p->org_title);
    }
    db_reset(s);
    return rc == DB_ROW ? 0 : ERR_NOT_FOUND;
}

int store_schema_version(store *st, int64_t *version)
{
    db_stmt *s = stmt(st, "SELECT COALESCE(MAX(version),0) FROM schema_migrations");
    if (!s)
        return ERR_STORE;
    int rc = db_step(s);
    if (rc == DB_ROW)
        *version = db_column_int64(s, 0);
    db_reset(s);
    return rc == DB_ROW ? 0 : fail(st, "schema version");
}

int store_pat_insert(store *st, const char *token, int64_t now)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "INSERT INTO access_tokens(token,created_at) VALUES(?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, token);
    db_bind_int64(s, 2, now);
    return exec_write(st, s);
}

int store_pat_list(store *st, char (**tokens)[64], size_t *n)
{
    db_stmt *s = stmt(st, "SELECT token FROM access_tokens ORDER BY created_at");
    if (!s)
        return ERR_STORE;
    size_t cnt = 0;
    char(*out)[64] = NULL;
    while (db_step(s) == DB_ROW) {
        out = realloc(out, (cnt + 1) * sizeof *out);
        if (!out)
            abort();
        copy_col(s, 0, out[cnt++], 64);
    }
    db_reset(s);
    *tokens = out;
    *n = cnt;
    return 0;
}

int store_setting_get(store *st, const char *key, char **value)
{
    db_stmt *s = stmt(st, "SELECT value FROM settings WHERE key=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, key);
    int rc = db_step(s);
    *value = rc == DB_ROW ? col_dup(s, 0) : NULL;
    db_reset(s);
    return rc == DB_ROW ? 0 : ERR_NOT_FOUND;
}

int store_setting_set(store *st, const char *key, const char *value)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "INSERT OR REPLACE INTO settings(key,value) VALUES(?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, key);
    bind_text(s, 2, value);
    return exec_write(st, s);
}

/* ---- runs ------------------------------------------------------------- */

/* PostgreSQL: the counter as the database has it (other nodes count too). */
static int64_t pg_seq_read(store *st)
{
    db_stmt *s = stmt(st, "SELECT v FROM td_counters WHERE k='change_seq'");
    int64_t v = st->change_seq;
    if (s && db_step(s) == DB_ROW)
        v = db_column_int64(s, 0);
    if (s)
        db_reset(s);
    return v;
}

int64_t store_next_change_seq(store *st)
{
    if (st->pg && !st->seq_loaded && begin_write(st) == 0) {
        /* a failed read fails the transaction, so a number it hands out
         * meanwhile is never committed */
        st->change_seq = pg_seq_read(st);
        st->seq_loaded = true;
    }
    return ++st->change_seq;
}

int64_t store_change_seq_head(store *st)
{
    if (st->pg && !st->seq_loaded)
        return pg_seq_read(st);
    return st->change_seq;
}

/* PostgreSQL: remembers that runs of env changed, for the commit's notification. */
static void note_env(store *st, const char *env_id)
{
    if (!st->pg || !env_id)
        return;
    for (int i = 0; i < st->n_notify && i < 8; i++)
        if (strcmp(st->notify[i], env_id) == 0)
            return;
    if (st->n_notify < 8 && strlen(env_id) < sizeof st->notify[0])
        snprintf(st->notify[st->n_notify], sizeof st->notify[0], "%s", env_id);
    st->n_notify++;
}

int store_run_insert(store *st, store_run *r)
{
    note_env(st, r->env_id);
    return insert_row(st, st->runs.insert, &RUN_ROW, r);
}

int store_run_update(store *st, const store_run *r)
{
    note_env(st, r->env_id);
    return update_row(st, st->runs.update, &RUN_ROW, r);
}

bool store_shared(const store *st)
{
    return st->pg != NULL;
}

int store_claim_begin(store *st)
{
    return st->pg ? begin_write(st) : 0;
}

void store_claim_end(store *st)
{
    if (st->pg && st->in_tx && !st->seq_loaded && !pg_wrote(st->pg))
        store_commit(st);
}

void store_stream_noted(store *st, const char *run_id, const char *stream)
{
    if (!st->pg)
        return;
    char key[200];
    int k = snprintf(key, sizeof key, "%s\t%s", run_id, stream);
    if (k < 0 || (size_t)k >= sizeof key || strchr(key, '\\')) {
        st->n_snotify = 9; /* unnameable: every stream */
        return;
    }
    for (int i = 0; i < st->n_snotify && i < 8; i++)
        if (strcmp(st->snotify[i], key) == 0)
            return;
    if (st->n_snotify < 8)
        memcpy(st->snotify[st->n_snotify], key, sizeof key);
    st->n_snotify++;
}

int store_stream_notes(store *st, char (**keys)[200], size_t *n)
{
    *keys = NULL;
    *n = 0;
    return st->pg ? pg_stream_notes(st->pg, keys, n) : 0;
}

int store_run_notes(store *st, char (**envs)[32], size_t *n)
{
    *envs = NULL;
    *n = 0;
    return st->pg ? pg_run_notes(st->pg, envs, n) : 0;
}

/* Steps a run SELECT and reads its first row. */
static int read_one_run(store *st, db_stmt *s, store_run *r)
{
    return read_one(st, s, &RUN_ROW, r);
}

int store_run_get(store *st, const char *env_id, const char *friendly_id, store_run *r)
{
    static char sql_env[4400], sql_any[4400];
    if (!sql_env[0]) {
        snprintf(sql_env, sizeof sql_env, "%s WHERE friendly_id=? AND env_id=?", st->runs.select);
        snprintf(sql_any, sizeof sql_any, "%s WHERE friendly_id=?", st->runs.select);
    }
    db_stmt *s = stmt(st, env_id ? sql_env : sql_any);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, friendly_id);
    if (env_id)
        bind_text(s, 2, env_id);
    return read_one_run(st, s, r);
}

int store_run_by_idempotency(store *st, const char *env_id, const char *task, const char *key,
                             store_run *r)
{
    if (st->pg && begin_write(st)) /* a claim across nodes (store_claim_begin) */
        return ERR_STORE;
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql,
                 "%s WHERE env_id=? AND task=? AND idempotency_key=? ORDER BY seq DESC LIMIT 1",
                 st->runs.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, task);
    bind_text(s, 3, key);
    return read_one_run(st, s, r);
}

int store_run_clear_idempotency(store *st, const char *env_id, const char *task, const char *key,
                                int64_t *cleared)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "UPDATE runs SET idempotency_key=NULL, idempotency_expires_at=0"
                               " WHERE env_id=? AND task=? AND idempotency_key=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, task);
    bind_text(s, 3, key);
    if (exec_write(st, s))
        return ERR_STORE;
    *cleared = store__changes(st);
    return 0;
}

static bool exists(store *st, const char *sql, const char *v)
{
    db_stmt *s = stmt(st, sql);
    if (!s)
        return false;
    bind_text(s, 1, v);
    bool r = db_step(s) == DB_ROW;
    db_reset(s);
    return r;
}

bool store_run_otu_used(store *st, const char *token_hash)
{
    return exists(st, "SELECT 1 FROM runs WHERE one_time_token=?", token_hash);
}

/* Reads every row of a run SELECT into a growing array. */
static int read_runs(store *st, db_stmt *s, store_run **runs, size_t *n)
{
    return read_rows(st, s, &RUN_ROW, (void **)runs, n);
}

/* Appends " AND col IN (?,?,..)" for n values. */
static void sql_in(char *sql, size_t cap, const char *colname, size_t n)
{
    if (!n)
        return;
    size_t len = strlen(sql);
    len += (size_t)snprintf(sql + len, cap - len, " AND %s IN (", colname);
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(sql + len, cap - len, i ? ",?" : "?");
    snprintf(sql + len, cap - len, ")");
}

/* A seq below which no run created at or after t can be, or 0 when there
 * is none to prune by. A run is stored as it is triggered and dated then,
 * so created_at grows with seq, except a schedule's run, dated at its tick
 * (overrideCreatedAt), which may be earlier. A binary search over the
 * primary key among the other runs finds the last one created before t;
 * no run before it is newer than t (a schedule's run stored before it was
 * dated no later than it was stored). Without this bound the list's
 * created_at filter cannot stop early: it walks seq down from the newest
 * run, so a window with no run in it ("last hour" of a quiet
 * environment) read every run (1 s at 1,000,000). The list keeps its
 * created_at condition: the bound only prunes. */
static int64_t seq_created_from(store *st, int64_t t)
{
    static const char *first = "SELECT seq, created_at FROM runs"
                               " WHERE seq>=? AND schedule_id IS NULL ORDER BY seq LIMIT 1";
    int64_t lo = 1, hi = 0, last_old = 0;
    db_stmt *s = stmt(st, "SELECT MAX(seq) FROM runs");
    if (!s)
        return 0;
    if (db_step(s) == DB_ROW)
        hi = db_column_int64(s, 0);
    db_reset(s);
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (!(s = stmt(st, first)))
            return 0;
        db_bind_int64(s, 1, mid);
        int64_t seq = 0, at = 0;
        bool row = db_step(s) == DB_ROW;
        if (row) {
            seq = db_column_int64(s, 0);
            at = db_column_int64(s, 1);
        }
        db_reset(s);
        if (row && at < t) {
            last_old = seq;
            lo = seq + 1;
        } else {
            hi = mid - 1;
        }
    }
    return last_old ? last_old + 1 : 0;
}

int store_run_list(store *st, const store_run_filter *f, store_run **runs, size_t *n,
                   bool *has_more)
{
    char sql[8192];
    /* one tag: the page is read from run_tags (migration 20) newest first,
     * each entry joined to its run, so a common tag stops after a page and
     * a rare one reads only its own entries */
    bool by_tag = f->n_tag == 1;
    if (by_tag) {
        size_t sl = strlen(st->runs.select) - strlen(" FROM runs");
        /* CROSS JOIN makes SQLite read run_tags first; PostgreSQL has no
         * CROSS JOIN ... ON and plans the join itself */
        snprintf(sql, sizeof sql,
                 "%.*s FROM run_tags %s runs ON runs.seq=run_tags.run_seq WHERE run_tags.tag=?",
                 (int)sl, st->runs.select, st->pg ? "JOIN" : "CROSS JOIN");
    } else {
        snprintf(sql, sizeof sql, "%s WHERE 1", st->runs.select);
    }
    sql_in(sql, sizeof sql, "env_id", f->n_env);
    sql_in(sql, sizeof sql, "status", f->n_status);
    sql_in(sql, sizeof sql, "task", f->n_task);
    sql_in(sql, sizeof sql, "version", f->n_version);
    sql_in(sql, sizeof sql, "batch_id", f->n_batch);
    sql_in(sql, sizeof sql, "queue", f->n_queue);
    sql_in(sql, sizeof sql, "machine", f->n_machine);
    sql_in(sql, sizeof sql, "schedule_id", f->n_schedule);
    size_t len = strlen(sql);
    if (f->n_tag > 1) { /* any of the tags */
        len += (size_t)snprintf(sql + len, sizeof sql - len,
                                " AND seq IN (SELECT run_seq FROM run_tags WHERE tag IN (");
        for (size_t i = 0; i < f->n_tag; i++)
            len += (size_t)snprintf(sql + len, sizeof sql - len, i ? ",?" : "?");
        len += (size_t)snprintf(sql + len, sizeof sql - len, "))");
    }
    if (f->is_test >= 0)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND is_test=%d", f->is_test);
    const char *seq = by_tag ? "run_tags.run_seq" : "seq";
    if (f->created_from) {
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND created_at>=%lld",
                                (long long)f->created_from);
        int64_t floor = seq_created_from(st, f->created_from);
        if (floor > 0)
            len += (size_t)snprintf(sql + len, sizeof sql - len, " AND %s>=%lld", seq,
                                    (long long)floor);
    }
    if (f->created_to)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND created_at<=%lld",
                                (long long)f->created_to);
    /* page[before] wins over page[after], as in the real presenter */
    bool backward = f->before_seq > 0;
    if (f->after_seq > 0 && !backward)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND %s<%lld", seq,
                                (long long)f->after_seq);
    if (backward)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND %s>%lld", seq,
                                (long long)f->before_seq);
    snprintf(sql + len, sizeof sql - len, " ORDER BY %s %s LIMIT %d", seq,
             backward ? "ASC" : "DESC", f->limit + 1);

    db_stmt *s = NULL;
    if (store__prepare(st, sql, &s) != 0)
        return fail(st, "run list prepare");
    int i = 1;
    if (by_tag)
        bind_text(s, i++, f->tags[0]);
    for (size_t k = 0; k < f->n_env; k++)
        bind_text(s, i++, f->env_ids[k]);
    for (size_t k = 0; k < f->n_status; k++)
        db_bind_int64(s, i++, f->statuses[k]);
#define BIND_ALL(arr, cnt)                                                                         \
    for (size_t k = 0; k < f->cnt; k++)                                                            \
        bind_text(s, i++, f->arr[k]);
    BIND_ALL(tasks, n_task)
    BIND_ALL(versions, n_version)
    BIND_ALL(batch_ids, n_batch)
    BIND_ALL(queues, n_queue)
    BIND_ALL(machines, n_machine)
    BIND_ALL(schedule_ids, n_schedule)
    if (!by_tag)
        BIND_ALL(tags, n_tag)
#undef BIND_ALL
    int rc = read_runs(st, s, runs, n);
    store__finalize(s);
    if (rc)
        return rc;
    *has_more = *n > (size_t)f->limit;
    if (*has_more) {
        store_run_clear(&(*runs)[*n - 1]);
        (*n)--;
    }
    if (backward) { /* present newest first, like forward pages */
        for (size_t a = 0, b = *n ? *n - 1 : 0; a < b; a++, b--) {
            store_run t = (*runs)[a];
            (*runs)[a] = (*runs)[b];
            (*runs)[b] = t;
        }
    }
    return 0;
}

int store_run_changed_since(store *st, const char *env_id, int64_t since, size_t max,
                            store_run **runs, size_t *n)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql,
                 "%s WHERE env_id=? AND change_seq>? ORDER BY change_seq LIMIT ?",
                 st->runs.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    db_bind_int64(s, 2, since);
    db_bind_int64(s, 3, (int64_t)max);
    int rc = read_runs(st, s, runs, n);
    db_reset(s);
    return rc;
}

int store_run_children(store *st, const char *friendly_id, size_t max, store_run **runs, size_t *n)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql, "%s WHERE parent_id=? ORDER BY seq LIMIT ?", st->runs.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, friendly_id);
    db_bind_int64(s, 2, (int64_t)max);
    int rc = read_runs(st, s, runs, n);
    db_reset(s);
    return rc;
}

int store_batch_count_runs(store *st, const char *batch_fid, const int64_t *statuses, size_t n,
                           int64_t *count)
{
    /* the batch's own runs, and the existing runs its items' idempotency
     * keys named (batch_items.run_id) */
    char sql[512] = "SELECT COUNT(*) FROM runs WHERE (batch_id=?1 OR friendly_id IN"
                    " (SELECT i.run_id FROM batch_items i JOIN batches b ON b.id=i.batch_id"
                    " WHERE b.friendly_id=?1))";
    sql_in(sql, sizeof sql, "status", n);
    db_stmt *s = NULL;
    if (store__prepare(st, sql, &s) != 0)
        return fail(st, "batch count prepare");
    bind_text(s, 1, batch_fid);
    for (size_t i = 0; i < n; i++)
        db_bind_int64(s, (int)i + 2, statuses[i]);
    int rc = db_step(s);
    *count = rc == DB_ROW ? db_column_int64(s, 0) : 0;
    store__finalize(s);
    return rc == DB_ROW ? 0 : fail(st, "batch count");
}

int store_batch_run_ids(store *st, const char *batch_id, char ***ids, size_t *n)
{
    db_stmt *s = stmt(st, "SELECT run_id FROM batch_items WHERE batch_id=? AND run_id IS NOT"
                               " NULL ORDER BY idx");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, batch_id);
    size_t cap = 0, cnt = 0;
    char **out = NULL;
    while (db_step(s) == DB_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            out = realloc(out, cap * sizeof *out);
            if (!out)
                abort();
        }
        out[cnt++] = col_dup(s, 0);
    }
    db_reset(s);
    *ids = out;
    *n = cnt;
    return 0;
}

int store_run_due(store *st, int64_t now, size_t max, store_run **runs, size_t *n)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql,
                 "%s WHERE seq IN (SELECT seq FROM runs WHERE status=0 AND delay_until<=?1"
                 " UNION SELECT seq FROM runs WHERE expire_at>0 AND expire_at<=?1) LIMIT ?2",
                 st->runs.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, now);
    db_bind_int64(s, 2, (int64_t)max);
    int rc = read_runs(st, s, runs, n);
    db_reset(s);
    return rc;
}

int store_run_next_due(store *st, int64_t *at)
{
    db_stmt *s = stmt(st, "SELECT MIN(t) FROM (SELECT MIN(delay_until) t FROM runs WHERE"
                               " status=0 UNION ALL SELECT MIN(expire_at) FROM runs WHERE"
                               " expire_at>0)");
    if (!s)
        return ERR_STORE;
    int rc = db_step(s);
    *at = rc == DB_ROW ? db_column_int64(s, 0) : 0;
    db_reset(s);
    return rc == DB_ROW ? 0 : fail(st, "next due");
}

/* ---- batches ---------------------------------------------------------- */

int store_batch_insert(store *st, store_batch *b)
{
    return insert_row(st, st->batches.insert, &BATCH_ROW, b);
}

int store_batch_update(store *st, const store_batch *b)
{
    return update_row(st, st->batches.update, &BATCH_ROW, b);
}

static int read_one_batch(store *st, db_stmt *s, store_batch *b)
{
    return read_one(st, s, &BATCH_ROW, b);
}

int store_batch_get(store *st, const char *env_id, const char *friendly_id, store_batch *b)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql, "%s WHERE friendly_id=? AND env_id=?", st->batches.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, friendly_id);
    bind_text(s, 2, env_id);
    return read_one_batch(st, s, b);
}

int store_batch_by_idempotency(store *st, const char *env_id, const char *key, store_batch *b)
{
    if (st->pg && begin_write(st)) /* a claim across nodes (store_claim_begin) */
        return ERR_STORE;
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql,
                 "%s WHERE env_id=? AND idempotency_key=? ORDER BY seq DESC LIMIT 1",
                 st->batches.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, key);
    return read_one_batch(st, s, b);
}

bool store_batch_otu_used(store *st, const char *token_hash)
{
    return exists(st, "SELECT 1 FROM batches WHERE one_time_token=?", token_hash);
}

int store_batch_item_add(store *st, const char *batch_id, int64_t idx, const char *run_id,
                         bool *dup)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s =
        stmt(st, "INSERT OR IGNORE INTO batch_items(batch_id,idx,run_id) VALUES(?,?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, batch_id);
    db_bind_int64(s, 2, idx);
    bind_text(s, 3, run_id);
    if (exec_write(st, s))
        return ERR_STORE;
    *dup = store__changes(st) == 0;
    return 0;
}

int store_batch_item_set_run(store *st, const char *batch_id, int64_t idx, const char *run_id)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "UPDATE batch_items SET run_id=? WHERE batch_id=? AND idx=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, run_id);
    bind_text(s, 2, batch_id);
    db_bind_int64(s, 3, idx);
    return exec_write(st, s);
}

/* ---- request dedup ---------------------------------------------------- */

int store_request_get(store *st, const char *hash, int64_t now, char **entity)
{
    if (st->pg && begin_write(st)) /* a claim across nodes (store_claim_begin) */
        return ERR_STORE;
    db_stmt *s = stmt(st, "SELECT entity FROM request_keys WHERE hash=? AND expires_at>?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, hash);
    db_bind_int64(s, 2, now);
    int rc = db_step(s);
    *entity = rc == DB_ROW ? col_dup(s, 0) : NULL;
    db_reset(s);
    return 0;
}

int store_request_put(store *st, const char *hash, const char *entity, int64_t expires_at)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s =
        stmt(st, "INSERT OR REPLACE INTO request_keys(hash,entity,expires_at) VALUES(?,?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, hash);
    bind_text(s, 2, entity);
    db_bind_int64(s, 3, expires_at);
    return exec_write(st, s);
}

int store_request_purge(store *st, int64_t now)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "DELETE FROM request_keys WHERE expires_at<=?");
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, now);
    return exec_write(st, s);
}

/* ---- waitpoints ------------------------------------------------------- */

int store_waitpoint_insert(store *st, store_waitpoint *w)
{
    return insert_row(st, st->waitpoints.insert, &WAITPOINT_ROW, w);
}

int store_waitpoint_update(store *st, const store_waitpoint *w)
{
    return update_row(st, st->waitpoints.update, &WAITPOINT_ROW, w);
}

/* Reads every row of a waitpoint SELECT. */
static int read_waitpoints(store *st, db_stmt *s, store_waitpoint **out, size_t *n)
{
    return read_rows(st, s, &WAITPOINT_ROW, (void **)out, n);
}

static int read_one_waitpoint(store *st, db_stmt *s, store_waitpoint *w)
{
    return read_one(st, s, &WAITPOINT_ROW, w);
}

int store_waitpoint_get(store *st, const char *env_id, const char *friendly_id, store_waitpoint *w)
{
    static char sql_env[4400], sql_any[4400];
    if (!sql_env[0]) {
        snprintf(sql_env, sizeof sql_env, "%s WHERE friendly_id=? AND env_id=?",
                 st->waitpoints.select);
        snprintf(sql_any, sizeof sql_any, "%s WHERE friendly_id=?", st->waitpoints.select);
    }
    db_stmt *s = stmt(st, env_id ? sql_env : sql_any);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, friendly_id);
    if (env_id)
        bind_text(s, 2, env_id);
    return read_one_waitpoint(st, s, w);
}

int store_waitpoint_by_idempotency(store *st, const char *env_id, const char *key,
                                   store_waitpoint *w)
{
    if (st->pg && begin_write(st)) /* a claim across nodes (store_claim_begin) */
        return ERR_STORE;
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql,
                 "%s WHERE env_id=? AND idempotency_key=? ORDER BY seq DESC LIMIT 1",
                 st->waitpoints.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, key);
    return read_one_waitpoint(st, s, w);
}

int store_waitpoint_list(store *st, const store_waitpoint_filter *f, store_waitpoint **ws,
                         size_t *n, bool *has_more)
{
    char sql[8192];
    size_t len = (size_t)snprintf(sql, sizeof sql, "%s WHERE env_id=?", st->waitpoints.select);
    if (f->type)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND type=?");
    if (f->n_status) {
        /* API statuses: WAITING = PENDING; TIMED_OUT = COMPLETED with an error output */
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND (0");
        for (size_t i = 0; i < f->n_status; i++) {
            const char *cond = strcmp(f->statuses[i], "WAITING") == 0 ? "status='PENDING'"
                               : strcmp(f->statuses[i], "TIMED_OUT") == 0
                                   ? "(status='COMPLETED' AND output_is_error=1)"
                                   : "(status='COMPLETED' AND output_is_error=0)";
            len += (size_t)snprintf(sql + len, sizeof sql - len, " OR %s", cond);
        }
        len += (size_t)snprintf(sql + len, sizeof sql - len, ")");
    }
    if (f->idempotency_key)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND idempotency_key=?");
    if (f->n_tag) {
        len += (size_t)snprintf(sql + len, sizeof sql - len,
                                " AND EXISTS (SELECT 1 FROM json_each(waitpoints.tags) WHERE"
                                " value IN (");
        for (size_t i = 0; i < f->n_tag; i++)
            len += (size_t)snprintf(sql + len, sizeof sql - len, i ? ",?" : "?");
        len += (size_t)snprintf(sql + len, sizeof sql - len, "))");
    }
    if (f->created_from)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND created_at>=%lld",
                                (long long)f->created_from);
    if (f->created_to)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND created_at<=%lld",
                                (long long)f->created_to);
    bool backward = f->before_seq > 0;
    if (backward)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND seq>%lld",
                                (long long)f->before_seq);
    else if (f->after_seq > 0)
        len +=
            (size_t)snprintf(sql + len, sizeof sql - len, " AND seq<%lld", (long long)f->after_seq);
    snprintf(sql + len, sizeof sql - len, " ORDER BY seq %s LIMIT %d", backward ? "ASC" : "DESC",
             f->limit + 1);
    db_stmt *s = NULL;
    if (store__prepare(st, sql, &s) != 0)
        return fail(st, "waitpoint list prepare");
    int i = 1;
    bind_text(s, i++, f->env_id);
    if (f->type)
        bind_text(s, i++, f->type);
    if (f->idempotency_key)
        bind_text(s, i++, f->idempotency_key);
    for (size_t k = 0; k < f->n_tag; k++)
        bind_text(s, i++, f->tags[k]);
    int rc = read_waitpoints(st, s, ws, n);
    store__finalize(s);
    if (rc)
        return rc;
    *has_more = *n > (size_t)f->limit;
    if (*has_more)
        store_waitpoint_clear(&(*ws)[--(*n)]);
    if (backward)
        for (size_t a = 0, b = *n ? *n - 1 : 0; a < b; a++, b--) {
            store_waitpoint t = (*ws)[a];
            (*ws)[a] = (*ws)[b];
            (*ws)[b] = t;
        }
    return 0;
}

int store_waitpoint_due(store *st, int64_t now, size_t max, store_waitpoint **ws, size_t *n)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql,
                 "%s WHERE status='PENDING' AND timeout_at>0 AND timeout_at<=? LIMIT ?",
                 st->waitpoints.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, now);
    db_bind_int64(s, 2, (int64_t)max);
    int rc = read_waitpoints(st, s, ws, n);
    db_reset(s);
    return rc;
}

int store_waitpoint_next_due(store *st, int64_t *at)
{
    db_stmt *s = stmt(st, "SELECT MIN(timeout_at) FROM waitpoints WHERE status='PENDING'"
                               " AND timeout_at>0");
    if (!s)
        return ERR_STORE;
    int rc = db_step(s);
    *at = rc == DB_ROW ? db_column_int64(s, 0) : 0;
    db_reset(s);
    return rc == DB_ROW ? 0 : fail(st, "waitpoint next due");
}

int store_waitpoint_pending_by_run(store *st, const char *run_fid, store_waitpoint *w)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql,
                 "%s WHERE completed_by_run=? AND type='RUN' AND status='PENDING' LIMIT 1",
                 st->waitpoints.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, run_fid);
    return read_one_waitpoint(st, s, w);
}

int store_waitpoint_by_run(store *st, const char *run_fid, store_waitpoint *w)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql, "%s WHERE completed_by_run=? AND type='RUN' LIMIT 1",
                 st->waitpoints.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, run_fid);
    return read_one_waitpoint(st, s, w);
}

int store_waitpoint_of_batch(store *st, const char *batch_fid, store_waitpoint *w)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql, "%s WHERE batch_id=? AND type='BATCH' LIMIT 1",
                 st->waitpoints.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, batch_fid);
    return read_one_waitpoint(st, s, w);
}

/* ---- execution -------------------------------------------------------- */

int store_worker_insert(store *st, store_worker *w)
{
    return insert_row(st, st->workers.insert, &WORKER_ROW, w);
}

static int read_one_worker(store *st, db_stmt *s, store_worker *w)
{
    return read_one(st, s, &WORKER_ROW, w);
}

int store_worker_latest(store *st, const char *env_id, store_worker *w)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql, "%s WHERE env_id=? ORDER BY seq DESC LIMIT 1",
                 st->workers.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    return read_one_worker(st, s, w);
}

int store_task_source(store *st, const char *project_id, const char *task, char *src, size_t len)
{
    db_stmt *s = stmt(st, "SELECT json_extract(t.value,'$.triggerSource') FROM workers w"
                               " JOIN envs e ON e.id=w.env_id, json_each(w.tasks) t"
                               " WHERE e.project_id=? AND json_extract(t.value,'$.id')=?"
                               " ORDER BY w.created_at DESC, w.seq DESC LIMIT 1");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, project_id);
    bind_text(s, 2, task);
    int rc = db_step(s);
    if (rc == DB_ROW) {
        const unsigned char *v = db_column_text(s, 0);
        snprintf(src, len, "%s", v ? (const char *)v : "");
    }
    db_reset(s);
    return rc == DB_ROW ? 0 : rc == DB_DONE ? ERR_NOT_FOUND : ERR_STORE;
}

int store_worker_get(store *st, const char *env_id, const char *friendly_id, store_worker *w)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql, "%s WHERE env_id=? AND friendly_id=?", st->workers.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, friendly_id);
    return read_one_worker(st, s, w);
}

int store_worker_count_version_prefix(store *st, const char *env_id, const char *prefix,
                                      int64_t *count)
{
    db_stmt *s =
        stmt(st, "SELECT COUNT(*) FROM workers WHERE env_id=? AND substr(version,1,?)=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    db_bind_int64(s, 2, (int64_t)strlen(prefix));
    bind_text(s, 3, prefix);
    int rc = db_step(s);
    *count = rc == DB_ROW ? db_column_int64(s, 0) : 0;
    db_reset(s);
    return rc == DB_ROW ? 0 : fail(st, "worker versions");
}

int store_queue_upsert(store *st, const char *env_id, const char *name, const char *friendly_id,
                       int64_t limit)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "INSERT INTO queues(env_id,name,friendly_id,concurrency_limit)"
                               " VALUES(?,?,?,?) ON CONFLICT(env_id,name) DO UPDATE SET"
                               " concurrency_limit=excluded.concurrency_limit");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, name);
    bind_text(s, 3, friendly_id);
    db_bind_int64(s, 4, limit);
    return exec_write(st, s);
}

int store_queue_limit(store *st, const char *env_id, const char *name, store_queue_limit_t *l)
{
    db_stmt *s = stmt(st, "SELECT concurrency_limit, paused, override_limit FROM queues"
                               " WHERE env_id=? AND name=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, name);
    int rc = db_step(s);
    bool row = rc == DB_ROW;
    *l = (store_queue_limit_t){
        .limit = row ? db_column_int64(s, 0) : -1,
        .paused = row ? db_column_int64(s, 1) : 0,
        .override = row ? db_column_int64(s, 2) : -1,
    };
    db_reset(s);
    return row || rc == DB_DONE ? 0 : fail(st, "queue limit");
}

/* Appends a unit (strings copied). */
static void add_unit(store_unit **u, size_t *cap, size_t *n, const char *queue, const char *key)
{
    *u = grow(*u, cap, *n, sizeof **u);
    (*u)[*n].queue = strdup(queue);
    (*u)[*n].ckey = key ? strdup(key) : NULL;
    if (!(*u)[*n].queue || (key && !(*u)[*n].ckey))
        abort();
    (*n)++;
}

/* The units are derived from runs_unit rather than kept in a table: each
 * step of these recursive queries is one seek to the next distinct queue
 * (or key of a queue), so finding them costs a seek per unit and no write
 * at all when runs are queued or taken. */
int store_ready_units(store *st, const char *env_id, store_unit **units, size_t *n)
{
    db_stmt *qs = stmt(st, "WITH RECURSIVE q(name) AS (SELECT MIN(queue) FROM runs"
                                " WHERE env_id=?1 AND status=1 UNION ALL SELECT (SELECT MIN(queue)"
                                " FROM runs WHERE env_id=?1 AND status=1 AND queue>q.name) FROM q"
                                " WHERE q.name IS NOT NULL) SELECT name FROM q WHERE name IS NOT NULL");
    if (!qs)
        return ERR_STORE;
    bind_text(qs, 1, env_id);
    char **queues = NULL;
    size_t nq = 0, qcap = 0, cap = 0, cnt = 0;
    store_unit *u = NULL;
    int rc;
    while ((rc = db_step(qs)) == DB_ROW) {
        queues = grow(queues, &qcap, nq, sizeof *queues);
        queues[nq++] = col_dup(qs, 0);
    }
    db_reset(qs);
    if (rc != DB_DONE)
        rc = fail(st, "ready queues");
    else
        rc = 0;
    for (size_t i = 0; i < nq && rc == 0; i++) {
        /* the unit of runs without a key first, then each key in order */
        db_stmt *s = stmt(st, "SELECT EXISTS(SELECT 1 FROM runs WHERE env_id=?1 AND status=1"
                                   " AND queue=?2 AND concurrency_key IS NULL)");
        if (!s) {
            rc = ERR_STORE;
            break;
        }
        bind_text(s, 1, env_id);
        bind_text(s, 2, queues[i]);
        int step = db_step(s);
        bool unkeyed = step == DB_ROW && db_column_int(s, 0);
        db_reset(s);
        if (step != DB_ROW) {
            rc = fail(st, "ready units");
            break;
        }
        if (unkeyed)
            add_unit(&u, &cap, &cnt, queues[i], NULL);
        s = stmt(st, "WITH RECURSIVE k(v) AS (SELECT MIN(concurrency_key) FROM runs WHERE"
                     " env_id=?1 AND status=1 AND queue=?2 UNION ALL SELECT (SELECT"
                     " MIN(concurrency_key) FROM runs WHERE env_id=?1 AND status=1 AND queue=?2"
                     " AND concurrency_key>k.v) FROM k WHERE k.v IS NOT NULL) SELECT v FROM k"
                     " WHERE v IS NOT NULL");
        if (!s) {
            rc = ERR_STORE;
            break;
        }
        bind_text(s, 1, env_id);
        bind_text(s, 2, queues[i]);
        while ((step = db_step(s)) == DB_ROW)
            add_unit(&u, &cap, &cnt, queues[i], (const char *)db_column_text(s, 0));
        db_reset(s);
        if (step != DB_DONE)
            rc = fail(st, "ready units");
    }
    for (size_t i = 0; i < nq; i++)
        free(queues[i]);
    free(queues);
    if (rc) {
        store_units_free(u, cnt);
        return rc;
    }
    *units = u;
    *n = cnt;
    return 0;
}

void store_units_free(store_unit *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(u[i].queue);
        free(u[i].ckey);
    }
    free(u);
}

int store_unit_candidates(store *st, const char *env_id, const store_unit *u, int64_t now,
                          size_t max, store_run **runs, size_t *n)
{
    static char keyed[4400], unkeyed[4400];
    if (!keyed[0]) {
        snprintf(keyed, sizeof keyed,
                 "%s WHERE env_id=?1 AND status=1 AND queue=?2 AND concurrency_key=?3 AND"
                 " COALESCE(available_at,0)<=?4 ORDER BY queue_ts LIMIT ?5",
                 st->runs.select);
        snprintf(unkeyed, sizeof unkeyed,
                 "%s WHERE env_id=?1 AND status=1 AND queue=?2 AND concurrency_key IS NULL AND"
                 " COALESCE(available_at,0)<=?4 ORDER BY queue_ts LIMIT ?5",
                 st->runs.select);
    }
    db_stmt *s = stmt(st, u->ckey ? keyed : unkeyed);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, u->queue);
    if (u->ckey)
        bind_text(s, 3, u->ckey);
    db_bind_int64(s, 4, now);
    db_bind_int64(s, 5, (int64_t)max);
    int rc = read_runs(st, s, runs, n);
    db_reset(s);
    return rc;
}

int store_queue_limits(store *st, const char *env_id, store_queue_limit_t **limits, size_t *n)
{
    db_stmt *s = stmt(st, "SELECT name, concurrency_limit, paused, override_limit FROM queues"
                               " WHERE env_id=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    size_t cap = 0, cnt = 0;
    store_queue_limit_t *l = NULL;
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        l = grow(l, &cap, cnt, sizeof *l);
        l[cnt].name = col_dup(s, 0);
        l[cnt].limit = db_column_int64(s, 1);
        l[cnt].paused = db_column_int64(s, 2);
        l[cnt].override = db_column_int64(s, 3);
        cnt++;
    }
    db_reset(s);
    *limits = l;
    *n = cnt;
    return rc == DB_DONE ? 0 : fail(st, "queue limits");
}

void store_queue_limits_free(store_queue_limit_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i].name);
    free(l);
}

int store_worker_by_version(store *st, const char *env_id, const char *version, store_worker *w)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql, "%s WHERE env_id=? AND version=? ORDER BY seq DESC LIMIT 1",
                 st->workers.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, version);
    return read_one_worker(st, s, w);
}

int store_blockers_clear(store *st, const char *run_fid)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "DELETE FROM run_blockers WHERE run_id=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, run_fid);
    return exec_write(st, s);
}

int store_run_active(store *st, const char *env_id, char ***queues, char ***keys, size_t *n)
{
    db_stmt *s = stmt(st, "SELECT queue, concurrency_key FROM runs WHERE env_id=? AND"
                               " snapshot_status IN ('PENDING_EXECUTING','EXECUTING',"
                               "'PENDING_CANCEL')");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    size_t cap = 0, cnt = 0;
    char **q = NULL, **k = NULL;
    while (db_step(s) == DB_ROW) {
        size_t kcap = cap;
        q = grow(q, &cap, cnt, sizeof *q);
        k = grow(k, &kcap, cnt, sizeof *k);
        q[cnt] = col_dup(s, 0);
        k[cnt] = col_dup(s, 1);
        cnt++;
    }
    db_reset(s);
    *queues = q;
    *keys = k;
    *n = cnt;
    return 0;
}

int store_run_resuming(store *st, const char *env_id, size_t max, store_run **runs, size_t *n)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql,
                 "%s WHERE env_id=? AND snapshot_status='QUEUED_EXECUTING' ORDER BY queue_ts LIMIT ?",
                 st->runs.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    db_bind_int64(s, 2, (int64_t)max);
    int rc = read_runs(st, s, runs, n);
    db_reset(s);
    return rc;
}

int store_run_pending_version(store *st, const char *env_id, store_run **runs, size_t *n)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql, "%s WHERE env_id=? AND status=2", st->runs.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    int rc = read_runs(st, s, runs, n);
    db_reset(s);
    return rc;
}

int store_run_stalled(store *st, int64_t now, size_t max, store_run **runs, size_t *n)
{
    static char sql[4400];
    if (!sql[0])
        snprintf(sql, sizeof sql, "%s WHERE heartbeat_deadline>0 AND heartbeat_deadline<=? LIMIT ?",
                 st->runs.select);
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, now);
    db_bind_int64(s, 2, (int64_t)max);
    int rc = read_runs(st, s, runs, n);
    db_reset(s);
    return rc;
}

int store_run_next_stall(store *st, int64_t *at)
{
    db_stmt *s =
        stmt(st, "SELECT MIN(heartbeat_deadline) FROM runs WHERE heartbeat_deadline>0");
    if (!s)
        return ERR_STORE;
    int rc = db_step(s);
    *at = rc == DB_ROW ? db_column_int64(s, 0) : 0;
    db_reset(s);
    return rc == DB_ROW ? 0 : fail(st, "next stall");
}

int store_blocker_add(store *st, const char *run_fid, const char *waitpoint_fid)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s =
        stmt(st, "INSERT OR IGNORE INTO run_blockers(run_id,waitpoint_id) VALUES(?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, run_fid);
    bind_text(s, 2, waitpoint_fid);
    return exec_write(st, s);
}

int store_blocker_remove(store *st, const char *run_fid, const char *waitpoint_fid, int64_t *left)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "DELETE FROM run_blockers WHERE run_id=? AND waitpoint_id=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, run_fid);
    bind_text(s, 2, waitpoint_fid);
    if (exec_write(st, s))
        return ERR_STORE;
    s = stmt(st, "SELECT COUNT(*) FROM run_blockers WHERE run_id=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, run_fid);
    int rc = db_step(s);
    *left = rc == DB_ROW ? db_column_int64(s, 0) : 0;
    db_reset(s);
    return rc == DB_ROW ? 0 : fail(st, "blocker count");
}

/* The first column of sql's rows for key, as malloc'd strings. */
static int text_column(store *st, const char *sql, const char *key, char ***out_, size_t *n)
{
    db_stmt *s = stmt(st, sql);
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, key);
    size_t cnt = 0;
    char **out = NULL;
    while (db_step(s) == DB_ROW) {
        out = realloc(out, (cnt + 1) * sizeof *out);
        if (!out)
            abort();
        out[cnt++] = col_dup(s, 0);
    }
    db_reset(s);
    *out_ = out;
    *n = cnt;
    return 0;
}

int store_blocked_runs(store *st, const char *waitpoint_fid, char ***runs, size_t *n)
{
    return text_column(st, "SELECT run_id FROM run_blockers WHERE waitpoint_id=?", waitpoint_fid,
                       runs, n);
}

int store_run_blockers(store *st, const char *run_fid, char ***waitpoints, size_t *n)
{
    return text_column(st, "SELECT waitpoint_id FROM run_blockers WHERE run_id=?", run_fid,
                       waitpoints, n);
}

int store_event_insert(store *st, const char *run_fid, const store_event *ev)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "INSERT INTO run_events(run_id,time_ms,level,message,span_id,"
                               "trace_id,attributes,parent_id,duration_ns,is_error,is_partial,"
                               "span_events) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, run_fid);
    db_bind_int64(s, 2, ev->time_ms);
    bind_text(s, 3, ev->level);
    bind_text(s, 4, ev->message);
    bind_text(s, 5, ev->span_id);
    bind_text(s, 6, ev->trace_id);
    bind_text(s, 7, ev->attributes);
    bind_text(s, 8, ev->parent_id);
    db_bind_int64(s, 9, ev->duration_ns);
    db_bind_int64(s, 10, ev->is_error);
    db_bind_int64(s, 11, ev->is_partial);
    bind_text(s, 12, ev->span_events);
    return exec_write(st, s);
}

int store_run_tags_add(store *st, int64_t seq, const char *tags)
{
    if (!tags)
        return 0;
    if (begin_write(st))
        return ERR_STORE;
    /* tags: the engine's own JSON array text */
    db_stmt *s = stmt(st, "INSERT OR IGNORE INTO run_tags SELECT value, ? FROM json_each(?)");
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, seq);
    bind_text(s, 2, tags);
    return exec_write(st, s);
}

int store_event_each(store *st, const char *run_fid, void (*fn)(void *ud, const store_event *ev),
                     void *ud)
{
    db_stmt *s = stmt(st, "SELECT time_ms,level,message,span_id,trace_id,attributes,"
                               "parent_id,duration_ns,is_error,is_partial,span_events FROM"
                               " run_events WHERE run_id=? ORDER BY seq");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, run_fid);
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        store_event ev = {
            .time_ms = db_column_int64(s, 0),
            .level = (const char *)db_column_text(s, 1),
            .message = (const char *)db_column_text(s, 2),
            .span_id = (const char *)db_column_text(s, 3),
            .trace_id = (const char *)db_column_text(s, 4),
            .attributes = (const char *)db_column_text(s, 5),
            .parent_id = (const char *)db_column_text(s, 6),
            .duration_ns = db_column_int64(s, 7),
            .is_error = db_column_int64(s, 8),
            .is_partial = db_column_int64(s, 9),
            .span_events = (const char *)db_column_text(s, 10),
        };
        fn(ud, &ev);
    }
    db_reset(s);
    return rc == DB_DONE ? 0 : fail(st, "events");
}

/* ---- environment variables -------------------------------------------- */

int store_env_var_set(store *st, const char *env_id, const store_env_var *v, bool only_new)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = only_new
                          ? stmt(st, "INSERT OR IGNORE INTO env_vars(env_id,name,value,is_secret)"
                                     " VALUES(?,?,?,?)")
                          : stmt(st, "INSERT OR REPLACE INTO env_vars(env_id,name,value,is_secret)"
                                     " VALUES(?,?,?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, v->name);
    bind_text(s, 3, v->value);
    db_bind_int64(s, 4, v->is_secret);
    return exec_write(st, s);
}

int store_env_var_delete(store *st, const char *env_id, const char *name)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = stmt(st, "DELETE FROM env_vars WHERE env_id=? AND name=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    bind_text(s, 2, name);
    if (exec_write(st, s))
        return ERR_STORE;
    return store__changes(st) ? 0 : ERR_NOT_FOUND;
}

int store_env_var_each(store *st, const char *env_id, void (*fn)(void *ud, const store_env_var *v),
                       void *ud)
{
    db_stmt *s =
        stmt(st, "SELECT name,value,is_secret FROM env_vars WHERE env_id=? ORDER BY name");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, env_id);
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        store_env_var v = {(const char *)db_column_text(s, 0),
                           (const char *)db_column_text(s, 1), db_column_int(s, 2) != 0};
        fn(ud, &v);
    }
    db_reset(s);
    return rc == DB_DONE ? 0 : fail(st, "env vars");
}

/* ---- CLI login and project details ------------------------------------ */

/* These run a few times per login or `init`, so they prepare their statement
 * per call instead of taking a slot in the statement cache. */
static db_stmt *prepare_once(store *st, const char *sql)
{
    db_stmt *s = NULL;
    if (store__prepare(st, sql, &s) != 0) {
        fail(st, "prepare");
        return NULL;
    }
    return s;
}

/* Steps a write statement once and finalizes it; *changes (if not NULL) gets
 * the rows it changed. */
static int write_once(store *st, db_stmt *s, int *changes)
{
    int rc = db_step(s);
    store__finalize(s);
    if (rc != DB_DONE)
        return fail(st, "write");
    if (changes)
        *changes = store__changes(st);
    return 0;
}

int store_auth_code_insert(store *st, const char *code, int64_t now, int64_t expires_at)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = prepare_once(st, "DELETE FROM authorization_codes WHERE expires_at<=?");
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, now);
    if (write_once(st, s, NULL))
        return ERR_STORE;
    s = prepare_once(st, "INSERT INTO authorization_codes(code,created_at,expires_at)"
                         " VALUES(?,?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, code);
    db_bind_int64(s, 2, now);
    db_bind_int64(s, 3, expires_at);
    return write_once(st, s, NULL);
}

int store_auth_code_get(store *st, const char *code, int64_t now, char **token)
{
    *token = NULL;
    db_stmt *s =
        prepare_once(st, "SELECT token FROM authorization_codes WHERE code=? AND expires_at>?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, code);
    db_bind_int64(s, 2, now);
    int rc = db_step(s);
    if (rc == DB_ROW)
        *token = col_dup(s, 0);
    store__finalize(s);
    if (rc == DB_ROW)
        return 0;
    return rc == DB_DONE ? ERR_NOT_FOUND : fail(st, "authorization code");
}

int store_auth_code_approve(store *st, const char *code, const char *token, int64_t now)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = prepare_once(st, "UPDATE authorization_codes SET token=?"
                                       " WHERE code=? AND expires_at>? AND token IS NULL");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, token);
    bind_text(s, 2, code);
    db_bind_int64(s, 3, now);
    int changed = 0;
    if (write_once(st, s, &changed))
        return ERR_STORE;
    return changed ? 0 : ERR_NOT_FOUND;
}

int store_auth_code_delete(store *st, const char *code)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = prepare_once(st, "DELETE FROM authorization_codes WHERE code=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, code);
    return write_once(st, s, NULL);
}

int store_login_link_insert(store *st, const char *secret, int64_t now, int64_t expires_at)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = prepare_once(st, "DELETE FROM login_links WHERE expires_at<=?");
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, now);
    if (write_once(st, s, NULL))
        return ERR_STORE;
    s = prepare_once(st, "INSERT INTO login_links(secret,created_at,expires_at) VALUES(?,?,?)");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, secret);
    db_bind_int64(s, 2, now);
    db_bind_int64(s, 3, expires_at);
    return write_once(st, s, NULL);
}

int store_login_link_use(store *st, const char *secret, int64_t now)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = prepare_once(st, "UPDATE login_links SET used_at=?"
                                       " WHERE secret=? AND used_at IS NULL AND expires_at>?");
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, now);
    bind_text(s, 2, secret);
    db_bind_int64(s, 3, now);
    int changed = 0;
    if (write_once(st, s, &changed))
        return ERR_STORE;
    return changed ? 0 : ERR_NOT_FOUND;
}

int store_project_times(store *st, const char *ref, int64_t *created_at, int64_t *initialized_at)
{
    /* Projects made before migration 6 have no created_at: the first access
     * token was minted in the same bootstrap transaction. */
    db_stmt *s = prepare_once(
        st, "SELECT COALESCE(created_at,(SELECT MIN(created_at) FROM access_tokens),0),"
            " COALESCE(initialized_at,0) FROM projects WHERE ref=?");
    if (!s)
        return ERR_STORE;
    bind_text(s, 1, ref);
    int rc = db_step(s);
    if (rc == DB_ROW) {
        *created_at = db_column_int64(s, 0);
        *initialized_at = db_column_int64(s, 1);
    }
    store__finalize(s);
    if (rc == DB_ROW)
        return 0;
    return rc == DB_DONE ? ERR_NOT_FOUND : fail(st, "project times");
}

int store_project_set_initialized(store *st, const char *ref, int64_t now)
{
    if (begin_write(st))
        return ERR_STORE;
    db_stmt *s = prepare_once(
        st, "UPDATE projects SET initialized_at=? WHERE ref=? AND initialized_at IS NULL");
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, now);
    bind_text(s, 2, ref);
    return write_once(st, s, NULL);
}

/* ---- for the store's other files (sqlite_internal.h) -------------------- */

db_stmt *store__stmt(store *st, const char *sql)
{
    return stmt(st, sql);
}
int store__fail(store *st, const char *what)
{
    return fail(st, what);
}
int store__begin_write(store *st)
{
    return begin_write(st);
}
int store__exec_write(store *st, db_stmt *s)
{
    return exec_write(st, s);
}
void store__bind_text(db_stmt *s, int i, const char *v)
{
    bind_text(s, i, v);
}
sqlite3 *store__db(store *st)
{
    return st->db;
}
int store__prepare(store *st, const char *sql, db_stmt **out)
{
    db_stmt *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    if (st->pg ? !(s->pq = pg_prepare(st->pg, sql, false))
               : sqlite3_prepare_v2(st->db, sql, -1, &s->lt, NULL) != SQLITE_OK) {
        free(s);
        *out = NULL;
        return ERR_STORE;
    }
    *out = s;
    return 0;
}
void store__finalize(db_stmt *s)
{
    if (!s)
        return;
    if (s->lt)
        sqlite3_finalize(s->lt);
    if (s->pq)
        pgq_free(s->pq);
    free(s);
}
int64_t store__changes(store *st)
{
    return st->pg ? pg_changes(st->pg) : sqlite3_changes(st->db);
}
bool store__conflict(store *st)
{
    return st->pg ? pg_conflict(st->pg)
                  : sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE;
}

/* ---- the row helpers other store files share (sqlite_internal.h) ------ */

void store__build_sql(table_sql *t, const char *table, const col *cols, size_t n)
{
    build_sql(t, table, cols, n);
}

int store__insert_row(store *st, const char *sql, const row_type *t, void *row)
{
    return insert_row(st, sql, t, row);
}

int store__update_row(store *st, const char *sql, const row_type *t, const void *row)
{
    return update_row(st, sql, t, row);
}

int store__read_rows(store *st, db_stmt *s, const row_type *t, void **out, size_t *n)
{
    return read_rows(st, s, t, out, n);
}

int store__read_one(store *st, db_stmt *s, const row_type *t, void *row)
{
    return read_one(st, s, t, row);
}

void store__clear_row(void *row, const row_type *t)
{
    clear_row(row, t->cols, t->ncols);
}
