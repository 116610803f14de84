/*
 * store/pg.c - the PostgreSQL backend of the store's statement layer
 * (store/db.h), on libpq.
 *
 * The event loop owns one connection: statements are prepared once per
 * connection under a name and run synchronously, like SQLite's; writes join
 * one transaction that store_commit() ends once per loop turn. With
 * deferred sync that COMMIT runs with synchronous_commit=off and returns
 * before the WAL flush; pg_sync(), on the thread pool, then runs one tiny
 * durable write on a second connection, whose flush covers every
 * commit before it: the same group commit the SQLite store does with
 * fdatasync (docs/store.md). A lost connection is reconnected on the next
 * statement (at most every RECONNECT_MS, failing fast meanwhile); a read
 * outside a transaction is retried once on the new connection, a
 * transaction that lost its connection fails until it is ended.
 */
#include "store/pg.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/migrations.h"
#include "store/pg_sql.h"
#include "util/err.h"

#define RECONNECT_MS 200
#define BYTEA_OID 17
#define TEXTOID 25
#define MIGRATION_LOCK 0x74726764 /* "trgd": the advisory lock of migrations */
#define DATA_CHANNEL "triggerd_data"
/* Run changes: a writing transaction notifies the env ids whose runs it
 * changed; every node LISTENs and wakes its subscribers and held dequeues. */
#define RUNS_CHANNEL "triggerd_runs"
/* Every write transaction of every node takes this advisory lock first
 * (docs/store.md, "Many nodes"): the nodes' write transactions run one at a
 * time, so a claim (dequeue, a due timer) reads what the other nodes
 * committed, and change numbers are handed out in commit order. */
#define WRITE_LOCK 0x74726477 /* "trdw" */
#define MAX_NOTES 32
/* Stream records: "<run id>\t<stream>" of the streams a transaction appended to. */
#define STREAMS_CHANNEL "triggerd_streams"
#define MAX_SNOTES 16
/* The durable transaction of pg_sync. It must write WAL of its own:
 * PostgreSQL flushes at COMMIT only a transaction that did (an xid alone is
 * not enough). One row per connection, so nodes do not contend. */
#define SYNC_BARRIER                                                                               \
    "INSERT INTO sync_barrier(pid,n) VALUES(pg_backend_pid(),1)"                                   \
    " ON CONFLICT(pid) DO UPDATE SET n=sync_barrier.n+1"

struct store_pg {
    PGconn *conn; /* the loop's */
    PGconn *sync; /* pg_sync's, on the thread pool */
    pthread_mutex_t sync_mu;
    char *url;
    bool durable;  /* synchronous_commit on the loop's connection */
    unsigned gen;  /* connection generation: statements prepared in it are valid */
    unsigned next_name;
    bool in_tx;
    bool tx_lost; /* the connection of the open transaction went away */
    /* Inside a transaction the connection is in pipeline mode: BEGIN and the
     * writes whose result nobody reads are sent without waiting, and their
     * results are read (drained) by the next statement that needs one, by
     * store__changes, or by COMMIT. */
    bool pipe;
    int npending;   /* sent in the pipeline, results not read yet */
    bool tx_failed; /* a drained result was an error: the transaction is lost */
    bool wrote;     /* the transaction ran a statement other than a SELECT */
    int64_t changes, last_rowid;
    char sqlstate[6];
    char err[512];
    int64_t data_version;
    char notes[MAX_NOTES][32]; /* env ids other nodes announced run changes of */
    int n_notes;
    bool notes_all; /* more than MAX_NOTES, or a reconnect: every env */
    char snotes[MAX_SNOTES][200]; /* streams other nodes appended to */
    int n_snotes;
    bool snotes_all;
    int64_t last_connect_ms;
    bool setup_locked; /* holds MIGRATION_LOCK until the first commit (bootstrap) */
    /* what pg_sync needs to know that its flush covers the loop's commits
     * (same server incarnation, no reconnect among the commits it answers for) */
    int64_t loop_inc;                /* postmaster start (µs) of the loop's server */
    _Atomic int64_t commits;         /* successful COMMITs of the loop */
    _Atomic int64_t last_commit_inc; /* loop_inc at the latest of them */
    _Atomic int64_t epoch;           /* reconnects of the loop's connection */
    int64_t hist_epoch[2], hist_commits[2]; /* at the end of the last two flushes */
    int64_t sync_inc; /* postmaster start of the sync connection's server */
};

struct pgq {
    store_pg *pg;
    char *sql; /* PostgreSQL text */
    pg_sql_info info;
    bool cached;     /* prepared under name, once per connection */
    bool deferrable; /* a write whose result the store needs not wait for */
    char name[16];
    unsigned gen;
    int cap;      /* parameter slots */
    Oid *types;   /* 0 (inferred) for the parameters the text uses, text for gaps */
    const char **vals;
    int *lens, *fmts;
    char (*num)[24];
    PGresult *res;
    int row;
    bool executed;
    int ncols;
    unsigned char **blob; /* unescaped bytea of the current row, per column */
    size_t *bloblen;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs ("already exists, skipping") are not news */
}

static void set_err(store_pg *pg, const char *msg, const char *state)
{
    snprintf(pg->err, sizeof pg->err, "%s", msg ? msg : "unknown error");
    size_t n = strlen(pg->err);
    while (n && (pg->err[n - 1] == '\n' || pg->err[n - 1] == ' '))
        pg->err[--n] = 0;
    snprintf(pg->sqlstate, sizeof pg->sqlstate, "%s", state ? state : "");
}

static void set_res_err(store_pg *pg, PGresult *r)
{
    set_err(pg, r ? PQresultErrorMessage(r) : PQerrorMessage(pg->conn),
            r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "08006");
}

/* Runs a command without results; 0 or -1 (error recorded). */
static int exec_cmd(store_pg *pg, PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        set_res_err(pg, r);
    PQclear(r);
    return ok ? 0 : -1;
}

static PGconn *connect_url(const char *url)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {url, "3", "triggerd", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c)
        PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

/* When the server of connection c started (µs): a restart loses the
 * commits it had not flushed, so a flush only vouches for its own server. */
static int64_t incarnation(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT (EXTRACT(EPOCH FROM pg_postmaster_start_time())*1000000)"
                            "::bigint");
    int64_t v = PQresultStatus(r) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

/* The loop connection's session: commit mode and the keyring channel. */
static int setup_session(store_pg *pg)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SET synchronous_commit TO %s; LISTEN " DATA_CHANNEL "; LISTEN " RUNS_CHANNEL "; LISTEN " STREAMS_CHANNEL,
             pg->durable ? "on" : "off");
    pg->loop_inc = incarnation(pg->conn);
    return exec_cmd(pg, pg->conn, sql);
}

/* Makes sure the loop's connection is up: reconnects a lost one (at most
 * every RECONNECT_MS). A transaction open on a lost connection is gone. */
static int ensure_conn(store_pg *pg)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
        return 0;
    if (pg->in_tx)
        pg->tx_lost = true;
    pg->pipe = false; /* a new connection starts outside pipeline mode */
    pg->npending = 0;
    int64_t now = now_ms();
    if (pg->last_connect_ms && now - pg->last_connect_ms < RECONNECT_MS) {
        set_err(pg, "database connection lost (reconnecting)", "08006");
        return -1;
    }
    pg->last_connect_ms = now;
    if (pg->conn)
        PQreset(pg->conn);
    else
        pg->conn = connect_url(pg->url);
    if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
        set_err(pg, pg->conn ? PQerrorMessage(pg->conn) : "out of memory", "08006");
        return -1;
    }
    atomic_fetch_add(&pg->epoch, 1);
    pg->gen++;          /* named statements are per connection */
    pg->setup_locked = false; /* session locks end with their connection */
    pg->data_version++; /* keyring notifications may have been missed */
    pg->notes_all = true; /* and run changes */
    pg->snotes_all = true;
    if (setup_session(pg))
        return -1;
    fprintf(stderr, "store: connected to PostgreSQL\n");
    return 0;
}

/* ---- statements ------------------------------------------------------- */

pgq *pg_prepare(store_pg *pg, const char *sql, bool cached)
{
    pgq *q = calloc(1, sizeof *q);
    if (!q)
        abort();
    q->pg = pg;
    q->sql = pg_sql_rewrite(sql, &q->info);
    q->cached = cached;
    q->deferrable = !q->info.returning_seq && !q->info.savepoint &&
                    (strncmp(q->sql, "INSERT", 6) == 0 || strncmp(q->sql, "UPDATE", 6) == 0 ||
                     strncmp(q->sql, "DELETE", 6) == 0);
    snprintf(q->name, sizeof q->name, "s%u", ++pg->next_name);
    q->cap = q->info.nparams > 0 ? q->info.nparams : 1;
    q->vals = calloc((size_t)q->cap, sizeof *q->vals);
    q->lens = calloc((size_t)q->cap, sizeof *q->lens);
    q->fmts = calloc((size_t)q->cap, sizeof *q->fmts);
    q->num = calloc((size_t)q->cap, sizeof *q->num);
    q->types = calloc((size_t)q->cap, sizeof *q->types);
    if (!q->vals || !q->lens || !q->fmts || !q->num || !q->types)
        abort();
    /* SQLite lets ?3 go unused (a statement shared by two bindings);
     * PostgreSQL must be told the type of a parameter it never sees */
    for (int i = 0; i < q->cap; i++)
        q->types[i] = TEXTOID;
    for (const char *p = q->sql; (p = strchr(p, '$'));) {
        int n = atoi(++p);
        if (n >= 1 && n <= q->cap)
            q->types[n - 1] = 0;
    }
    return q;
}

static void free_blobs(pgq *q)
{
    if (!q->blob)
        return;
    for (int i = 0; i < q->ncols; i++) {
        if (q->blob[i])
            PQfreemem(q->blob[i]);
        q->blob[i] = NULL;
    }
}

void pgq_reset(pgq *q)
{
    free_blobs(q);
    free(q->blob);
    free(q->bloblen);
    q->blob = NULL;
    q->bloblen = NULL;
    PQclear(q->res);
    q->res = NULL;
    q->executed = false;
    q->row = 0;
    q->ncols = 0;
}

void pgq_clear_bindings(pgq *q)
{
    for (int i = 0; i < q->cap; i++) {
        q->vals[i] = NULL;
        q->lens[i] = 0;
        q->fmts[i] = 0;
    }
}

void pgq_free(pgq *q)
{
    if (!q)
        return;
    pgq_reset(q);
    free(q->sql);
    free(q->vals);
    free(q->lens);
    free(q->fmts);
    free(q->num);
    free(q->types);
    free(q);
}

void pgq_bind_int64(pgq *q, int i, int64_t v)
{
    if (i < 1 || i > q->cap)
        return;
    snprintf(q->num[i - 1], sizeof q->num[i - 1], "%lld", (long long)v);
    q->vals[i - 1] = q->num[i - 1];
    q->lens[i - 1] = 0;
    q->fmts[i - 1] = 0;
}

void pgq_bind_text(pgq *q, int i, const char *v, int n)
{
    if (i < 1 || i > q->cap)
        return;
    q->vals[i - 1] = v;
    /* with a length the bytes go as they are (binary format: text's is its bytes) */
    q->lens[i - 1] = n < 0 ? 0 : n;
    q->fmts[i - 1] = n < 0 ? 0 : 1;
}

void pgq_bind_blob(pgq *q, int i, const void *v, int n)
{
    if (i < 1 || i > q->cap)
        return;
    q->vals[i - 1] = v ? v : "";
    q->lens[i - 1] = n;
    q->fmts[i - 1] = 1;
}

void pgq_bind_null(pgq *q, int i)
{
    if (i < 1 || i > q->cap)
        return;
    q->vals[i - 1] = NULL;
}

/* ---- the pipeline of a transaction ------------------------------------ */

static bool ok_status(PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}


static bool conn_bad(store_pg *pg)
{
    if (PQstatus(pg->conn) != CONNECTION_BAD)
        return false;
    pg->tx_lost = true;
    set_err(pg, "database connection lost in a transaction", "08006");
    return true;
}

/* Notes the result of a query sent without waiting; an error ends the
 * transaction (the server skips the rest of the pipeline). */
static void absorb(store_pg *pg, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        const char *t = PQcmdTuples(r); /* empty for BEGIN, SAVEPOINT, ...: not a write */
        if (t && *t && strncmp(PQcmdStatus(r), "SELECT", 6) != 0) /* the write lock's */
            pg->changes = strtoll(t, NULL, 10);
    } else if (!pg->tx_failed) {
        pg->tx_failed = true;
        if (st != PGRES_PIPELINE_ABORTED) {
            set_res_err(pg, r);
            fprintf(stderr, "store: pg: a pipelined write failed: %s\n", pg->err);
        }
    }
}

/* Reads the next query's result (and its terminating NULL); NULL when the
 * connection is gone. */
static PGresult *next_result(store_pg *pg)
{
    PGresult *r = PQgetResult(pg->conn);
    if (!r) {
        conn_bad(pg);
        return NULL;
    }
    if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
        PQclear(PQgetResult(pg->conn));
    return r;
}

/* Sends what is queued and reads the results of the first n pending
 * queries. 0, or -1 when the connection went away. */
static int drain(store_pg *pg, int n)
{
    if (pg->npending == 0)
        return 0;
    if (!PQsendFlushRequest(pg->conn) || PQflush(pg->conn) != 0)
        return conn_bad(pg), -1;
    for (; n > 0; n--) {
        PGresult *r = next_result(pg);
        if (!r)
            return -1;
        pg->npending--;
        absorb(pg, r);
        PQclear(r);
    }
    return 0;
}

/* Sends a Sync and reads everything up to it; leaves pipeline mode. */
static int sync_pipeline(store_pg *pg)
{
    if (!PQpipelineSync(pg->conn))
        return conn_bad(pg), -1;
    for (;;) {
        PGresult *r = PQgetResult(pg->conn);
        if (!r) {
            if (conn_bad(pg))
                return -1;
            continue; /* the NULL after a query's results */
        }
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_PIPELINE_SYNC) {
            pg->npending--;
            absorb(pg, r);
        }
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC)
            break;
    }
    pg->npending = 0;
    PQexitPipelineMode(pg->conn);
    pg->pipe = false;
    return 0;
}

/* Queues a command (no parameters) in the pipeline without waiting. */
static int pipe_cmd(store_pg *pg, const char *sql)
{
    if (!PQsendQueryParams(pg->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
        return conn_bad(pg), -1;
    pg->npending++;
    return 0;
}

/* Sends q: in the pipeline its prepare (when new on this connection) goes
 * without waiting too. */
static int send_q(pgq *q)
{
    store_pg *pg = q->pg;
    int n = q->info.nparams;
    if (!q->cached)
        return PQsendQueryParams(pg->conn, q->sql, n, q->types, q->vals, q->lens, q->fmts, 0);
    if (q->gen != pg->gen) {
        if (!PQsendPrepare(pg->conn, q->name, q->sql, n, q->types))
            return 0;
        pg->npending++;
        q->gen = pg->gen;
    }
    return PQsendQueryPrepared(pg->conn, q->name, n, q->vals, q->lens, q->fmts, 0);
}

/* Runs q inside the transaction's pipeline: deferred (*deferred set, NULL
 * returned) or waited for (its result). NULL with the error recorded. */
static PGresult *run_in_pipe(pgq *q, bool *deferred)
{
    store_pg *pg = q->pg;
    if (pg->tx_failed) {
        set_err(pg, "an earlier statement of the transaction failed", "25P02");
        return NULL;
    }
    if (strncmp(q->sql, "SELECT", 6) != 0)
        pg->wrote = true;
    bool sp = q->info.savepoint;
    if (sp && pipe_cmd(pg, "SAVEPOINT td"))
        return NULL;
    if (!send_q(q))
        return conn_bad(pg), NULL;
    pg->npending++;
    if (q->deferrable) {
        *deferred = true;
        return NULL;
    }
    if (drain(pg, pg->npending - 1))
        return NULL;
    PGresult *r = next_result(pg);
    if (!r)
        return NULL;
    pg->npending--;
    if (ok_status(r)) {
        if (sp && pipe_cmd(pg, "RELEASE SAVEPOINT td")) {
            PQclear(r);
            return NULL;
        }
        return r;
    }
    if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED)
        set_err(pg, "an earlier statement of the transaction failed", "25P02");
    else
        set_res_err(pg, r);
    PQclear(r);
    if (sp && strcmp(pg->sqlstate, "25P02") != 0) {
        /* a conflict the store handles: end the pipeline's error state and
         * undo the statement alone, the transaction goes on */
        char state[6];
        memcpy(state, pg->sqlstate, sizeof state);
        if (sync_pipeline(pg) || exec_cmd(pg, pg->conn, "ROLLBACK TO SAVEPOINT td") ||
            !PQenterPipelineMode(pg->conn)) {
            pg->tx_failed = true;
            return NULL;
        }
        pg->pipe = true;
        pg->tx_failed = false;
        memcpy(pg->sqlstate, state, sizeof state);
    } else {
        pg->tx_failed = true;
    }
    if (strcmp(pg->sqlstate, "23505") != 0)
        fprintf(stderr, "store: pg: %s\n  %s\n", pg->err, q->sql);
    return NULL;
}

/* Runs q once on the current connection, outside a transaction. */
static PGresult *exec_once(pgq *q)
{
    store_pg *pg = q->pg;
    int n = q->info.nparams;
    if (!q->cached)
        return PQexecParams(pg->conn, q->sql, n, q->types, q->vals, q->lens, q->fmts, 0);
    if (q->gen != pg->gen) {
        PGresult *r = PQprepare(pg->conn, q->name, q->sql, n, q->types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return r;
        PQclear(r);
        q->gen = pg->gen;
    }
    return PQexecPrepared(pg->conn, q->name, n, q->vals, q->lens, q->fmts, 0);
}

/* Runs q: in the transaction's pipeline, or alone (reconnecting if needed,
 * and retrying a read once when the connection drops under it). NULL (error
 * recorded, or *deferred) or a successful result. */
static PGresult *run(pgq *q, bool *deferred)
{
    store_pg *pg = q->pg;
    *deferred = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (ensure_conn(pg))
            return NULL;
        if (pg->tx_lost) {
            set_err(pg, "database connection lost in a transaction", "08006");
            return NULL;
        }
        if (pg->pipe)
            return run_in_pipe(q, deferred);
        PGresult *r = exec_once(q);
        if (ok_status(r))
            return r;
        set_res_err(pg, r);
        PQclear(r);
        if (PQstatus(pg->conn) == CONNECTION_BAD) {
            if (pg->in_tx) {
                pg->tx_lost = true;
                return NULL;
            }
            pg->last_connect_ms = 0; /* reconnect now, then retry */
            continue;
        }
        fprintf(stderr, "store: pg: %s\n  %s\n", pg->err, q->sql);
        return NULL;
    }
    return NULL;
}

int pgq_step(pgq *q)
{
    if (q->executed) {
        if (!q->res)
            return DB_DONE;
        free_blobs(q);
        return ++q->row < PQntuples(q->res) ? DB_ROW : DB_DONE;
    }
    q->executed = true;
    bool deferred;
    PGresult *r = run(q, &deferred);
    if (deferred)
        return DB_DONE; /* its changes are read when someone asks (pg_changes) */
    if (!r)
        return DB_ERROR;
    const char *tuples = PQcmdTuples(r);
    q->pg->changes = tuples && *tuples ? strtoll(tuples, NULL, 10) : 0;
    if (PQresultStatus(r) == PGRES_COMMAND_OK || q->info.returning_seq) {
        if (q->info.returning_seq && PQntuples(r) > 0)
            q->pg->last_rowid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return DB_DONE;
    }
    q->res = r;
    q->row = 0;
    q->ncols = PQnfields(r);
    q->blob = calloc((size_t)(q->ncols ? q->ncols : 1), sizeof *q->blob);
    q->bloblen = calloc((size_t)(q->ncols ? q->ncols : 1), sizeof *q->bloblen);
    if (!q->blob || !q->bloblen)
        abort();
    return PQntuples(r) > 0 ? DB_ROW : DB_DONE;
}

static bool has_value(pgq *q, int i)
{
    return q->res && q->row < PQntuples(q->res) && i >= 0 && i < q->ncols &&
           !PQgetisnull(q->res, q->row, i);
}

/* The bytes of a bytea column, unescaped once per row. */
static const unsigned char *bytea(pgq *q, int i)
{
    if (!q->blob[i]) {
        q->blob[i] = PQunescapeBytea((const unsigned char *)PQgetvalue(q->res, q->row, i),
                                     &q->bloblen[i]);
        if (!q->blob[i])
            abort();
    }
    return q->blob[i];
}

int64_t pgq_column_int64(pgq *q, int i)
{
    if (!has_value(q, i))
        return 0;
    const char *v = PQgetvalue(q->res, q->row, i);
    if (v[0] == 't' || v[0] == 'f') /* booleans, as SQLite's 1 and 0 */
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

const unsigned char *pgq_column_text(pgq *q, int i)
{
    if (!has_value(q, i))
        return NULL;
    if (PQftype(q->res, i) == BYTEA_OID)
        return bytea(q, i);
    return (const unsigned char *)PQgetvalue(q->res, q->row, i);
}

const void *pgq_column_blob(pgq *q, int i)
{
    return pgq_column_text(q, i);
}

int pgq_column_bytes(pgq *q, int i)
{
    if (!has_value(q, i))
        return 0;
    if (PQftype(q->res, i) == BYTEA_OID) {
        bytea(q, i);
        return (int)q->bloblen[i];
    }
    return PQgetlength(q->res, q->row, i);
}

int pgq_column_type(pgq *q, int i)
{
    return has_value(q, i) ? SQLITE_TEXT : DB_NULL;
}

/* ---- transactions ----------------------------------------------------- */

int pg_begin(store_pg *pg)
{
    if (ensure_conn(pg))
        return -1;
    if (!PQenterPipelineMode(pg->conn)) {
        set_err(pg, PQerrorMessage(pg->conn), "08006");
        return -1;
    }
    pg->pipe = true;
    pg->npending = 0;
    pg->tx_failed = false;
    pg->tx_lost = false;
    pg->wrote = false;
    if (pipe_cmd(pg, "BEGIN")) /* answered with the turn's first read */
        return -1;
    char lock[64];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d)", WRITE_LOCK);
    if (pipe_cmd(pg, lock))
        return -1;
    pg->in_tx = true;
    return 0;
}

int pg_commit(store_pg *pg)
{
    pg->in_tx = false;
    int rc = -1;
    if (!pg->tx_lost && pg->pipe && pipe_cmd(pg, "COMMIT") == 0) {
        /* the COMMIT's own result decides: read it as the last one */
        if (drain(pg, pg->npending - 1) == 0) {
            PGresult *r = next_result(pg);
            if (r) {
                pg->npending--;
                /* COMMIT of a transaction a failed statement aborted answers ROLLBACK */
                if (PQresultStatus(r) == PGRES_COMMAND_OK &&
                    strcmp(PQcmdStatus(r), "COMMIT") == 0 && !pg->tx_failed)
                    rc = 0;
                else if (PQresultStatus(r) == PGRES_FATAL_ERROR)
                    set_res_err(pg, r);
                else if (!pg->tx_failed)
                    set_err(pg, "transaction rolled back after an error", "25P02");
                PQclear(r);
            }
        }
    } else if (!pg->tx_lost && !pg->pipe) {
        set_err(pg, "no transaction", "25P01");
    }
    if (pg->pipe && !pg->tx_lost && PQstatus(pg->conn) == CONNECTION_OK)
        sync_pipeline(pg);
    if (rc && !pg->tx_lost && PQstatus(pg->conn) == CONNECTION_OK)
        PQclear(PQexec(pg->conn, "ROLLBACK")); /* an aborted block stays open */
    if (rc)
        fprintf(stderr, "store: commit: %s\n", pg->tx_lost ? "database connection lost in a"
                                                             " transaction" : pg->err);
    pg->tx_lost = false;
    pg->tx_failed = false;
    if (rc == 0) {
        atomic_store(&pg->last_commit_inc, pg->loop_inc);
        atomic_fetch_add(&pg->commits, 1);
    }
    return rc;
}

void pg_rollback(store_pg *pg)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK) {
        if (pg->pipe)
            sync_pipeline(pg);
        exec_cmd(pg, pg->conn, "ROLLBACK");
    }
    pg->pipe = false;
    pg->npending = 0;
    pg->in_tx = false;
    pg->tx_lost = false;
    pg->tx_failed = false;
}

/* A transaction that wrote WAL commits with a WAL flush (synchronous_commit
 * on), and the flush covers every commit record written before it: those
 * the loop made with synchronous_commit off included, as long as they went
 * to the same server incarnation. So the flush fails (its responses become
 * 500s) when the server restarted or the loop reconnected since the commits
 * it covers: those may be lost, and nothing lost is acknowledged. */
static bool sync_connected(store_pg *pg)
{
    if (pg->sync && PQstatus(pg->sync) == CONNECTION_OK)
        return true;
    if (pg->sync)
        PQreset(pg->sync);
    else
        pg->sync = connect_url(pg->url);
    if (!pg->sync || PQstatus(pg->sync) != CONNECTION_OK)
        return false;
    PQclear(PQexec(pg->sync, "SET synchronous_commit TO on"));
    pg->sync_inc = incarnation(pg->sync);
    return true;
}

int pg_sync(store_pg *pg)
{
    pthread_mutex_lock(&pg->sync_mu);
    /* The responses this flush answers for belong to commits made after the
     * previous flush began, which is after the one before it ended: that
     * end is the baseline no reconnect may have happened since. */
    int64_t base_epoch = pg->hist_epoch[0], base_commits = pg->hist_commits[0];
    bool synced = false;
    for (int attempt = 0; attempt < 2 && !synced; attempt++) {
        if (!sync_connected(pg))
            break;
        PGresult *r = PQexec(pg->sync, SYNC_BARRIER);
        synced = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    int64_t epoch = atomic_load(&pg->epoch), commits = atomic_load(&pg->commits);
    int64_t inc = atomic_load(&pg->last_commit_inc);
    bool ok = synced && epoch == base_epoch && (commits == base_commits || inc == pg->sync_inc);
    pg->hist_epoch[0] = pg->hist_epoch[1];
    pg->hist_commits[0] = pg->hist_commits[1];
    pg->hist_epoch[1] = epoch;
    pg->hist_commits[1] = commits;
    pthread_mutex_unlock(&pg->sync_mu);
    return ok ? 0 : ERR_STORE;
}

int64_t pg_changes(store_pg *pg)
{
    if (pg->pipe && pg->npending)
        drain(pg, pg->npending); /* the last write was deferred */
    return pg->changes;
}

int64_t pg_last_rowid(store_pg *pg)
{
    return pg->last_rowid;
}

bool pg_conflict(store_pg *pg)
{
    return strcmp(pg->sqlstate, "23505") == 0;
}

const char *pg_errmsg(store_pg *pg)
{
    return pg->err;
}

/* ---- keyring changes -------------------------------------------------- */

/* Reads the notifications that arrived (no wait): the keyring channel's
 * bump data_version, the runs channel's are kept for pg_run_notes. Our own
 * backend's are news to nobody. */
static void consume(store_pg *pg)
{
    if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK || pg->pipe || !PQconsumeInput(pg->conn))
        return;
    PGnotify *n;
    int self = PQbackendPID(pg->conn);
    while ((n = PQnotifies(pg->conn))) {
        if (n->be_pid == self) {
        } else if (strcmp(n->relname, DATA_CHANNEL) == 0) {
            pg->data_version++;
        } else if (strcmp(n->relname, STREAMS_CHANNEL) == 0) {
            int i = 0;
            while (i < pg->n_snotes && strcmp(pg->snotes[i], n->extra) != 0)
                i++;
            if (i == pg->n_snotes &&
                (pg->n_snotes == MAX_SNOTES || strlen(n->extra) >= sizeof pg->snotes[0]))
                pg->snotes_all = true;
            else if (i == pg->n_snotes)
                snprintf(pg->snotes[pg->n_snotes++], sizeof pg->snotes[0], "%s", n->extra);
        } else if (strcmp(n->extra, "*") == 0) {
            pg->notes_all = true;
        } else if (!pg->notes_all) {
            int i = 0;
            while (i < pg->n_notes && strcmp(pg->notes[i], n->extra) != 0)
                i++;
            if (i == pg->n_notes && (pg->n_notes == MAX_NOTES || strlen(n->extra) >= 32))
                pg->notes_all = true;
            else if (i == pg->n_notes)
                snprintf(pg->notes[pg->n_notes++], 32, "%s", n->extra);
        }
        PQfreemem(n);
    }
}

int pg_data_version(store_pg *pg, int64_t *version)
{
    consume(pg);
    *version = pg->data_version;
    return 0;
}

bool pg_wrote(store_pg *pg)
{
    return pg->in_tx && pg->wrote;
}

int pg_notify_data(store_pg *pg)
{
    if (ensure_conn(pg))
        return -1;
    pg->wrote = true;
    return pg->pipe ? pipe_cmd(pg, "NOTIFY " DATA_CHANNEL) : exec_cmd(pg, pg->conn, "NOTIFY " DATA_CHANNEL);
}

int pg_notify_runs(store_pg *pg, const char *env_id)
{
    char sql[96];
    for (const char *c = env_id; *c; c++)
        if (*c == '\'' || *c == '\\' || (unsigned char)*c < ' ')
            return -1; /* ids are [a-z0-9_]: nothing to quote */
    snprintf(sql, sizeof sql, "NOTIFY " RUNS_CHANNEL ", '%.40s'", env_id);
    if (!pg->pipe)
        return -1; /* only inside the writing transaction */
    return pipe_cmd(pg, sql);
}

int pg_notify_stream(store_pg *pg, const char *key)
{
    if (!pg->pipe || strlen(key) >= 200)
        return -1;
    char sql[320];
    size_t k = 0;
    for (const char *c = key; *c && k < sizeof sql - 8; c++) { /* a literal: '' for ' */
        if (*c == '\'')
            sql[k++] = '\'';
        sql[k++] = *c;
    }
    sql[k] = 0;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "NOTIFY " STREAMS_CHANNEL ", '%s'", sql);
    return pipe_cmd(pg, cmd);
}

int pg_stream_notes(store_pg *pg, char (**keys)[200], size_t *n)
{
    consume(pg);
    *keys = NULL;
    *n = 0;
    if (pg->snotes_all) {
        pg->snotes_all = false;
        pg->n_snotes = 0;
        return 1;
    }
    if (!pg->n_snotes)
        return 0;
    *keys = malloc((size_t)pg->n_snotes * sizeof **keys);
    if (!*keys)
        abort();
    memcpy(*keys, pg->snotes, (size_t)pg->n_snotes * sizeof **keys);
    *n = (size_t)pg->n_snotes;
    pg->n_snotes = 0;
    return 0;
}

int pg_run_notes(store_pg *pg, char (**envs)[32], size_t *n)
{
    consume(pg);
    *envs = NULL;
    *n = 0;
    if (pg->notes_all) {
        pg->notes_all = false;
        pg->n_notes = 0;
        return 1;
    }
    if (!pg->n_notes)
        return 0;
    *envs = malloc((size_t)pg->n_notes * sizeof **envs);
    if (!*envs)
        abort();
    memcpy(*envs, pg->notes, (size_t)pg->n_notes * sizeof **envs);
    *n = (size_t)pg->n_notes;
    pg->n_notes = 0;
    return 0;
}

/* ---- open and migrate ------------------------------------------------- */

/* Applies the migrations this database lacks, one transaction each, under
 * an advisory lock so nodes starting together apply each exactly once. */
static int migrate(store_pg *pg)
{
    char lock[96], unlock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%d)", MIGRATION_LOCK);
    snprintf(unlock, sizeof unlock, "SELECT pg_advisory_unlock(%d)", MIGRATION_LOCK);
    if (exec_cmd(pg, pg->conn, lock))
        return -1;
    int rc = -1;
    if (exec_cmd(pg, pg->conn,
                 "CREATE TABLE IF NOT EXISTS schema_migrations(version BIGINT PRIMARY KEY)"))
        goto out;
    PGresult *r = PQexec(pg->conn, "SELECT COALESCE(MAX(version),0) FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_res_err(pg, r);
        PQclear(r);
        goto out;
    }
    size_t have = (size_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    for (size_t v = have; v < store_migrations_count; v++) {
        char *ddl = pg_sql_ddl(store_migrations[v], v + 1);
        char rec[96];
        snprintf(rec, sizeof rec, "INSERT INTO schema_migrations VALUES(%zu)", v + 1);
        int bad = exec_cmd(pg, pg->conn, "BEGIN") || exec_cmd(pg, pg->conn, ddl) ||
                  exec_cmd(pg, pg->conn, rec) || exec_cmd(pg, pg->conn, "COMMIT");
        if (bad) {
            fprintf(stderr, "store: pg: migration %zu: %s\n", v + 1, pg->err);
            PQclear(PQexec(pg->conn, "ROLLBACK"));
        }
        free(ddl);
        if (bad)
            goto out;
    }
    /* the change counter of many nodes (store_next_change_seq): a row, not a
     * sequence, so it moves with the transaction that hands numbers out */
    if (exec_cmd(pg, pg->conn, "CREATE TABLE IF NOT EXISTS td_counters(k TEXT PRIMARY KEY,"
                               " v BIGINT NOT NULL)") ||
        exec_cmd(pg, pg->conn, "INSERT INTO td_counters SELECT 'change_seq',"
                               " COALESCE(MAX(change_seq),0) FROM runs ON CONFLICT DO NOTHING"))
        goto out;
    rc = 0;
out:
    if (rc)
        exec_cmd(pg, pg->conn, unlock);
    else
        pg->setup_locked = true; /* pg_setup_done() releases it */
    return rc;
}

/* Nodes starting together: each holds the lock of migrations through its
 * first transaction, so only the first bootstraps an empty database and
 * the others find its project. */
void pg_setup_done(store_pg *pg)
{
    if (!pg->setup_locked || !pg->conn || PQstatus(pg->conn) != CONNECTION_OK)
        return;
    char unlock[96];
    snprintf(unlock, sizeof unlock, "SELECT pg_advisory_unlock(%d)", MIGRATION_LOCK);
    exec_cmd(pg, pg->conn, unlock);
    pg->setup_locked = false;
}

store_pg *pg_open(const char *url, bool sync_full, bool deferred_sync)
{
    store_pg *pg = calloc(1, sizeof *pg);
    if (!pg)
        return NULL;
    pthread_mutex_init(&pg->sync_mu, NULL);
    pg->url = strdup(url);
    pg->durable = sync_full && !deferred_sync;
    pg->conn = connect_url(url);
    if (!pg->url || !pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
        fprintf(stderr, "store: cannot connect to PostgreSQL: %s\n",
                pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        goto fail;
    }
    pg->gen = 1;
    if (migrate(pg) || setup_session(pg)) {
        fprintf(stderr, "store: pg: %s\n", pg->err);
        goto fail;
    }
    return pg;
fail:
    pg_close(pg);
    return NULL;
}

void pg_close(store_pg *pg)
{
    if (!pg)
        return;
    if (pg->conn)
        PQfinish(pg->conn);
    if (pg->sync)
        PQfinish(pg->sync);
    pthread_mutex_destroy(&pg->sync_mu);
    free(pg->url);
    free(pg);
}
