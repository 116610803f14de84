/*
 * store/store.h - the durable store: the only interface that speaks to the
 * database. The engine and bootstrap call it; SQL lives behind it
 * (sqlite.c and its sibling files, in SQLite's dialect, run on SQLite or
 * on PostgreSQL through store/db.h; docs/store.md).
 *
 * Writes join one open transaction that store_commit() ends; the HTTP layer
 * calls store_commit() once per event-loop turn and answers no request
 * before that commit is durable (group commit).
 */
#ifndef TD_STORE_H
#define TD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* ---- many nodes on one database (PostgreSQL; docs/store.md) ----------- */

/* True when other processes serve the same database (PostgreSQL): timers
 * must look at the database now and then, not only at their own hints. */
bool store_shared(const store *st);
/* Starts the turn's write transaction now, before the reads of a claim (a
 * dequeue, a timer scan), so they see every other node's commits and no
 * other node claims alongside (PostgreSQL; a no-op on SQLite, which has one
 * writer). */
int store_claim_begin(store *st);
/* Ends the transaction a claim began when the claim wrote nothing (an
 * empty poll, a timer scan with nothing due), so it holds the nodes' write
 * lock no longer and the turn has nothing to make durable. A no-op on
 * SQLite and when anything was written. */
void store_claim_end(store *st);
/* A record was appended to (run_id, stream) in this transaction: the other
 * nodes' readers are told at its commit (PostgreSQL; a no-op on SQLite). */
void store_stream_noted(store *st, const char *run_id, const char *stream);
/* The "<run id>\t<stream>" keys other nodes appended to since the last call
 * (caller frees *keys); 1 when every stream must be looked at. */
int store_stream_notes(store *st, char (**keys)[200], size_t *n);
/* The env ids other nodes changed runs of since the last call (caller
 * frees *envs); returns 1 when every env must be looked at. Always 0 and
 * none on SQLite. */
int store_run_notes(store *st, char (**envs)[32], size_t *n);

/* ---- tenancy ---------------------------------------------------------- */

typedef struct store_env {
    char id[32]; /* cuid; the JWT `sub` */
    char project_id[32];
    char project_ref[32];
    char org_id[32];
    char slug[16]; /* dev, stg, prod */
    char type[16]; /* DEVELOPMENT, STAGING, PRODUCTION */
    char api_key[64];
} store_env;

typedef struct store_project {
    char id[32];
    char ref[32];
    char name[64];
    char slug[64];
    char org_id[32];
    char org_slug[64];
    char org_title[64];
} store_project;

/* A run row. Text fields are owned by the struct (store_run_clear frees them);
 * NULL means SQL NULL. Times are ms since epoch, 0 meaning unset. */
typedef struct store_run {
    int64_t seq;
    char *id;          /* internal cuid */
    char *friendly_id; /* run_<id> */
    char *env_id;
    char *task;
    int64_t status; /* run_status */
    char *payload;
    char *payload_type;
    char *metadata;
    char *metadata_type;
    char *output;
    char *output_type;
    char *error; /* JSON text of the TaskRunError */
    char *queue;
    char *concurrency_key;
    char *idempotency_key;      /* the (hashed) key the SDK sent */
    char *idempotency_key_user; /* the user's key, shown by retrieve */
    int64_t idempotency_expires_at;
    char *tags; /* JSON array text, sorted */
    int64_t priority_ms;
    int64_t queue_ts; /* dequeue order: queued_at - priority_ms */
    char *machine;
    int64_t max_attempts;
    int64_t max_duration_s;
    int64_t is_test;
    char *ttl; /* as given, e.g. "10m" */
    int64_t ttl_ms;
    int64_t delay_until;
    int64_t expire_at; /* when a queued run expires (TTL), 0 = never */
    int64_t created_at;
    int64_t updated_at;
    int64_t queued_at;
    int64_t started_at;
    int64_t completed_at;
    int64_t expired_at;
    char *parent_id; /* friendly ids */
    char *root_id;
    char *batch_id;
    int64_t depth;
    char *trigger_function;
    char *lock_to_version;
    char *version;
    char *one_time_token;
    int64_t attempt_count;
    char *seed_metadata;
    char *seed_metadata_type;
    int64_t resume_parent;
    char *realtime_streams; /* JSON array text */
    char *trace_id;
    char *span_id;
    /* execution (worker protocol): the latest execution snapshot */
    char *snapshot_id;     /* snapshot_<cuid>, a new one for every state change */
    char *snapshot_status; /* QUEUED, PENDING_EXECUTING, EXECUTING, ... */
    char *snapshot_desc;
    int64_t snapshot_at;
    char *snapshot_waitpoints;  /* JSON array: completed waitpoints handed to the worker */
    char *pending_waitpoints;   /* JSON array: completed while the run is still blocked */
    char *worker_id;            /* friendly id of the worker the run is locked to */
    int64_t heartbeat_deadline; /* stall deadline of the current snapshot, 0 = none */
    int64_t available_at;       /* not dequeued before this (retry backoff), 0 = now */
    int64_t usage_ms; /* compute time: the attempts' usage.durationMs, summed */
    int64_t change_seq;         /* store-wide order of run changes (realtime offsets) */
    int64_t nack_count; /* PENDING_EXECUTING stalls so far (engine_requeue after a nack) */
    char *schedule_id;          /* friendly id of the schedule that made the run */
} store_run;

void store_run_clear(store_run *r);

/* ---- batches ---------------------------------------------------------- */

typedef struct store_batch {
    int64_t seq;
    char *id;          /* internal cuid */
    char *friendly_id; /* batch_<id> */
    char *env_id;
    char *status; /* PENDING, PROCESSING, COMPLETED, ... */
    int64_t run_count;
    int64_t items_accepted;
    char *idempotency_key;
    int64_t created_at;
    int64_t updated_at;
    int64_t completed_at;
    int64_t sealed;
    char *parent_run_id;
    int64_t resume_parent;
    char *one_time_token;
    char *errors;  /* JSON array text */
    char *version; /* "v3" streaming, "v2" one-shot */
} store_batch;

void store_batch_clear(store_batch *b);

#define STORE_FILTER_MAX 32

/* ---- waitpoints ------------------------------------------------------ */

typedef struct store_waitpoint {
    int64_t seq;
    char *id;          /* internal cuid (the callback HMAC is over it) */
    char *friendly_id; /* waitpoint_<id> */
    char *env_id;
    char *type;   /* MANUAL (tokens), DATETIME, RUN, BATCH */
    char *status; /* PENDING, COMPLETED */
    char *idempotency_key;
    int64_t user_idempotency_key;
    int64_t idempotency_expires_at;
    char *inactive_idempotency_key;
    char *output;
    char *output_type;
    int64_t output_is_error;
    int64_t timeout_at;
    int64_t completed_at;
    int64_t completed_after;
    int64_t created_at;
    int64_t updated_at;
    char *tags;             /* JSON array text */
    char *completed_by_run; /* RUN waitpoints: the child run */
    char *resume_run;       /* the run to continue when it completes (RUN, BATCH) */
    char *batch_id;         /* batch item RUN waitpoints and BATCH waitpoints */
    int64_t batch_index;
} store_waitpoint;

void store_waitpoint_clear(store_waitpoint *w);

typedef struct store_waitpoint_filter {
    const char *env_id;
    const char *type;
    const char *statuses[4]; /* WAITING, COMPLETED, TIMED_OUT (API names) */
    size_t n_status;
    const char *idempotency_key;
    const char *tags[STORE_FILTER_MAX];
    size_t n_tag;
    int64_t created_from, created_to;
    int64_t after_seq, before_seq;
    int limit;
} store_waitpoint_filter;

/* ---- list queries ----------------------------------------------------- */

typedef struct store_run_filter {
    const char *env_ids[8]; /* one or more environments (project-scoped list) */
    size_t n_env;
    int64_t statuses[STORE_FILTER_MAX];
    size_t n_status;
    const char *tasks[STORE_FILTER_MAX];
    size_t n_task;
    const char *versions[STORE_FILTER_MAX];
    size_t n_version;
    const char *tags[STORE_FILTER_MAX];
    size_t n_tag;
    const char *batch_ids[STORE_FILTER_MAX]; /* friendly */
    size_t n_batch;
    const char *queues[STORE_FILTER_MAX];
    size_t n_queue;
    const char *machines[STORE_FILTER_MAX];
    size_t n_machine;
    const char *schedule_ids[STORE_FILTER_MAX]; /* friendly */
    size_t n_schedule;
    int is_test;          /* -1 any, 0, 1 */
    int64_t created_from; /* 0 = unbounded */
    int64_t created_to;
    int64_t after_seq;  /* page[after]: older than this seq, 0 = none */
    int64_t before_seq; /* page[before]: newer than this seq, 0 = none */
    int limit;
} store_run_filter;

/* ---- lifecycle -------------------------------------------------------- */

typedef struct store_options {
    const char *path; /* SQLite file */
    bool sync_full;   /* durable commits (default) vs synchronous=NORMAL */
    bool deferred_sync; /* with sync_full: commits return before the disk
                         * flush, which store_sync() does (group commit) */
    const char *database_url; /* postgres://... selects PostgreSQL (store/pg.c);
                               * NULL or "": the SQLite file at path */
} store_options;

/* Opens (creating and migrating) the store. Returns NULL on failure and
 * writes a reason to stderr. Caller frees with store_close. */
store *store_open(const store_options *opt);
void store_close(store *st);

/* True while writes wait for store_commit(). */
bool store_dirty(const store *st);

/* Commits the open transaction, if any, durably. Returns 0 or ERR_STORE
 * (the transaction is then rolled back). */
int store_commit(store *st);

/* With deferred_sync: makes every transaction committed so far durable
 * (fdatasync of the WAL). Safe to call from another thread while the owner
 * keeps writing; returns 0 or ERR_IO. Without deferred_sync: 0, nothing to do. */
int store_sync(store *st);
bool store_defers_sync(const store *st);

/* Rolls back the open transaction, if any. */
void store_rollback(store *st);

/* A number that changes whenever another connection (another process, such
 * as `triggerd rotate-key`) commits to the database; our own commits leave
 * it alone (SQLite's PRAGMA data_version). Cheap: no disk read. */
int store_data_version(store *st, int64_t *version);

/* ---- many nodes on one database (PostgreSQL; docs/store.md) ----------- */

/* True when other processes serve the same database (PostgreSQL): timers
 * must look at the database now and then, not only at their own hints. */
bool store_shared(const store *st);
/* Starts the turn's write transaction now, before the reads of a claim (a
 * dequeue, a timer scan), so they see every other node's commits and no
 * other node claims alongside (PostgreSQL; a no-op on SQLite, which has one
 * writer). */
int store_claim_begin(store *st);
/* Ends the transaction a claim began when the claim wrote nothing (an
 * empty poll, a timer scan with nothing due), so it holds the nodes' write
 * lock no longer and the turn has nothing to make durable. A no-op on
 * SQLite and when anything was written. */
void store_claim_end(store *st);
/* A record was appended to (run_id, stream) in this transaction: the other
 * nodes' readers are told at its commit (PostgreSQL; a no-op on SQLite). */
void store_stream_noted(store *st, const char *run_id, const char *stream);
/* The "<run id>\t<stream>" keys other nodes appended to since the last call
 * (caller frees *keys); 1 when every stream must be looked at. */
int store_stream_notes(store *st, char (**keys)[200], size_t *n);
/* The env ids other nodes changed runs of since the last call (caller
 * frees *envs); returns 1 when every env must be looked at. Always 0 and
 * none on SQLite. */
int store_run_notes(store *st, char (**envs)[32], size_t *n);

/* ---- tenancy ---------------------------------------------------------- */

/* Number of environments; 0 means a fresh data dir. */
int store_env_count(store *st, int64_t *count);
int store_env_insert(store *st, const store_env *env);
/* Loads every environment into a malloc'd array (caller frees). */
int store_env_list(store *st, store_env **envs, size_t *n);
/* True when key is some environment's current root key. */
bool store_env_key_exists(store *st, const char *key);
int store_env_set_key(store *st, const char *env_id, const char *new_key, const char *old_key,
                      int64_t old_expires_at);
/* Finds the env whose rotated-out key is key and still in its grace window. */
int store_revoked_key_env(store *st, const char *key, int64_t now, char env_id[32]);
/* Every unexpired rotated-out key of env (for JWT verification), malloc'd
 * array of 64-byte strings. */
int store_revoked_keys_of(store *st, const char *env_id, int64_t now, char (**keys)[64], size_t *n);
int store_project_insert(store *st, const store_project *p);
int store_project_get(store *st, store_project *p);

/* The newest migration recorded in the database (schema_migrations), which
 * may be above store_migrations_count when a newer triggerd migrated it. */
int store_schema_version(store *st, int64_t *version);
int store_pat_insert(store *st, const char *token, int64_t now);
int store_pat_list(store *st, char (**tokens)[64], size_t *n);
int store_setting_get(store *st, const char *key, char **value);
int store_setting_set(store *st, const char *key, const char *value);

/* ---- runs ------------------------------------------------------------- */

/* The next number of the store-wide run change order (monotonic across
 * restarts); the engine stamps it on every run it writes. */
int64_t store_next_change_seq(store *st);
/* The newest change number handed out so far (no query on SQLite; on
 * PostgreSQL the database's, as other nodes hand numbers out too). */
int64_t store_change_seq_head(store *st);
/* Runs of env changed after change_seq since, in change order, at most max.
 * Caller clears. */
int store_run_changed_since(store *st, const char *env_id, int64_t since, size_t max,
                            store_run **runs, size_t *n);
/* Inserts r (r->seq is set). */
int store_run_insert(store *st, store_run *r);
/* Writes every column of r back. */
int store_run_update(store *st, const store_run *r);
/* Indexes tags (the run's JSON array text, as saved) for the runs list's tag
 * filter; an insert indexes the run's tags itself, this is for tags added
 * later (tags are never removed). */
int store_run_tags_add(store *st, int64_t seq, const char *tags);
/* Loads a run by friendly id within env (env_id NULL: any env).
 * ERR_NOT_FOUND if absent. Caller clears *r. */
int store_run_get(store *st, const char *env_id, const char *friendly_id, store_run *r);
/* Finds the live run that holds an idempotency key for task in env. */
int store_run_by_idempotency(store *st, const char *env_id, const char *task, const char *key,
                             store_run *r);
/* Every run with the key for task in env, for reset; returns count cleared. */
int store_run_clear_idempotency(store *st, const char *env_id, const char *task, const char *key,
                                int64_t *cleared);
bool store_run_otu_used(store *st, const char *token_hash);
/* Lists runs newest first. Returns a malloc'd array of runs (caller clears
 * each and frees), *n, and whether there are more in each direction. */
int store_run_list(store *st, const store_run_filter *f, store_run **runs, size_t *n,
                   bool *has_more);
/* Children of a run (parent_id == friendly id), oldest first, at most max. */
int store_run_children(store *st, const char *friendly_id, size_t max, store_run **runs, size_t *n);
/* Counts the runs of a batch (friendly id) whose status is one of statuses. */
int store_batch_count_runs(store *st, const char *batch_fid, const int64_t *statuses, size_t n,
                           int64_t *count);
/* Runs of a batch in item order (friendly ids, malloc'd strings). */
int store_batch_run_ids(store *st, const char *batch_id, char ***ids, size_t *n);

/* Due timers: DELAYED runs with delay_until <= now, and queued runs with
 * expire_at <= now. Up to max runs, caller clears. */
int store_run_due(store *st, int64_t now, size_t max, store_run **runs, size_t *n);
/* The earliest future timer (delay_until or expire_at), 0 if none. */
int store_run_next_due(store *st, int64_t *at);

/* ---- batches ---------------------------------------------------------- */

int store_batch_insert(store *st, store_batch *b);
int store_batch_update(store *st, const store_batch *b);
int store_batch_get(store *st, const char *env_id, const char *friendly_id, store_batch *b);
int store_batch_by_idempotency(store *st, const char *env_id, const char *key, store_batch *b);
bool store_batch_otu_used(store *st, const char *token_hash);
/* Records item idx of a batch; *dup is set when it was already there. */
int store_batch_item_add(store *st, const char *batch_id, int64_t idx, const char *run_id,
                         bool *dup);
/* Sets the run id of a recorded item. */
int store_batch_item_set_run(store *st, const char *batch_id, int64_t idx, const char *run_id);

/* ---- waitpoints ------------------------------------------------------ */

int store_waitpoint_insert(store *st, store_waitpoint *w);
int store_waitpoint_update(store *st, const store_waitpoint *w);
/* By friendly id within env (env_id NULL: any env). Caller clears *w. */
int store_waitpoint_get(store *st, const char *env_id, const char *friendly_id, store_waitpoint *w);
int store_waitpoint_by_idempotency(store *st, const char *env_id, const char *key,
                                   store_waitpoint *w);
/* Newest first, like store_run_list. */
int store_waitpoint_list(store *st, const store_waitpoint_filter *f, store_waitpoint **ws,
                         size_t *n, bool *has_more);
/* PENDING waitpoints whose timeout_at <= now, at most max. */
int store_waitpoint_due(store *st, int64_t now, size_t max, store_waitpoint **ws, size_t *n);
/* The earliest pending timeout, 0 if none. */
int store_waitpoint_next_due(store *st, int64_t *at);

/* Finds the RUN waitpoint of a child run (ERR_NOT_FOUND if none). */
int store_waitpoint_by_run(store *st, const char *run_fid, store_waitpoint *w);
/* One PENDING RUN waitpoint completed by run_fid, or ERR_NOT_FOUND. */
int store_waitpoint_pending_by_run(store *st, const char *run_fid, store_waitpoint *w);
/* The BATCH waitpoint of a batch (friendly id). */
int store_waitpoint_of_batch(store *st, const char *batch_fid, store_waitpoint *w);

/* ---- execution -------------------------------------------------------- */

typedef struct store_worker {
    int64_t seq;
    char *id;
    char *friendly_id;
    char *env_id;
    char *version;
    char *content_hash;
    char *tasks; /* JSON array of the manifest's TaskResource objects */
    int64_t created_at;
} store_worker;

void store_worker_clear(store_worker *w);
int store_worker_insert(store *st, store_worker *w);
/* The latest worker of env (ERR_NOT_FOUND if none). */
int store_worker_latest(store *st, const char *env_id, store_worker *w);
int store_worker_get(store *st, const char *env_id, const char *friendly_id, store_worker *w);
/* The triggerSource of the newest task named task in any worker, old ones
 * included, of any environment of project (CheckScheduleService's
 * backgroundWorkerTask lookup), into src ("" when the task has none).
 * ERR_NOT_FOUND when no worker ever had it. */
int store_task_source(store *st, const char *project_id, const char *task, char *src, size_t len);
/* Workers of env created on the day prefix ("20251125."), newest first: for versions. */
int store_worker_count_version_prefix(store *st, const char *env_id, const char *prefix,
                                      int64_t *count);

/* Sets a queue's concurrency limit (-1 = none). */
int store_queue_upsert(store *st, const char *env_id, const char *name, const char *friendly_id,
                       int64_t limit);
/* What dequeue needs of a queue: its declared limit, pause and override. */
typedef struct store_queue_limit_t {
    char *name;
    int64_t limit;    /* declared; -1: none */
    int64_t paused;   /* 1: paused (queues API) */
    int64_t override; /* -1: not overridden */
} store_queue_limit_t;

/* A queue's limits (l->name left NULL); an unknown queue reads as
 * unlimited, not paused, not overridden. */
int store_queue_limit(store *st, const char *env_id, const char *name, store_queue_limit_t *l);

/* A dequeue unit: the queued runs of one queue and concurrency key (NULL:
 * none) of an environment. Dequeue visits units in turn. */
typedef struct store_unit {
    char *queue;
    char *ckey;
} store_unit;

/* Every unit of env that holds queued runs, in (queue, key) order (the
 * unit without a key first); free with store_units_free. */
int store_ready_units(store *st, const char *env_id, store_unit **units, size_t *n);
void store_units_free(store_unit *u, size_t n);
/* Queued runs of one unit that may be taken at now (available), in queue
 * order, at most max. Caller clears. */
int store_unit_candidates(store *st, const char *env_id, const store_unit *u, int64_t now,
                          size_t max, store_run **runs, size_t *n);

/* Every declared queue of env with its limit; free with store_queue_limits_free. */
int store_queue_limits(store *st, const char *env_id, store_queue_limit_t **limits, size_t *n);
void store_queue_limits_free(store_queue_limit_t *l, size_t n);

/* A queue row of the queues API (store/queues.c); store_queue_clear frees
 * its strings. */
typedef struct store_queue {
    char *name;            /* "task/<id>" for a task's own queue */
    char *friendly_id;     /* queue_<id> */
    int64_t limit;         /* declared by the worker; -1: none */
    int64_t paused;        /* 1: no dequeue */
    int64_t override;      /* the overriding limit; -1: none */
    int64_t overridden_at; /* ms; 0: not overridden */
} store_queue;

void store_queue_clear(store_queue *q);
/* The queue of env by friendly id (by_id) or by name; ERR_NOT_FOUND. */
int store_queue_get(store *st, const char *env_id, bool by_id, const char *key, store_queue *q);
/* A page of env's queues in name order (offset, at most limit); *total
 * counts them all. Caller clears each and frees *out. */
int store_queue_list(store *st, const char *env_id, int64_t offset, int64_t limit,
                     store_queue **out, size_t *n, int64_t *total);
/* Sets paused (0/1), or the override (-1 and 0 clear it), of a queue. */
int store_queue_set_paused(store *st, const char *env_id, const char *name, int64_t paused);
int store_queue_set_override(store *st, const char *env_id, const char *name, int64_t override,
                             int64_t overridden_at);
/* Runs of a queue of env waiting in it (QUEUED) and holding its
 * concurrency (PENDING_EXECUTING, EXECUTING, PENDING_CANCEL snapshots). */
int store_queue_counts(store *st, const char *env_id, const char *name, int64_t *queued,
                       int64_t *running);
/* The newest worker of env with version (ERR_NOT_FOUND if none). */
int store_worker_by_version(store *st, const char *env_id, const char *version, store_worker *w);
/* Removes every blocker of a run (its waits are void: requeued or finished). */
int store_blockers_clear(store *st, const char *run_fid);
/* Runs of env holding concurrency (snapshot PENDING_EXECUTING, EXECUTING or
 * PENDING_CANCEL): queue and concurrency key of each, as two malloc'd
 * arrays of malloc'd strings (key may be NULL). */
int store_run_active(store *st, const char *env_id, char ***queues, char ***keys, size_t *n);
/* Runs of env whose waits are over and that wait for a slot (snapshot
 * QUEUED_EXECUTING), in queue order, at most max. Caller clears. */
int store_run_resuming(store *st, const char *env_id, size_t max, store_run **runs, size_t *n);
/* Runs of env in PENDING_VERSION. Caller clears. */
int store_run_pending_version(store *st, const char *env_id, store_run **runs, size_t *n);
/* Runs whose heartbeat deadline has passed. Caller clears. */
int store_run_stalled(store *st, int64_t now, size_t max, store_run **runs, size_t *n);
/* The earliest heartbeat deadline, 0 if none. */
int store_run_next_stall(store *st, int64_t *at);

int store_blocker_add(store *st, const char *run_fid, const char *waitpoint_fid);
/* Removes a blocker; *left is how many the run still has. */
int store_blocker_remove(store *st, const char *run_fid, const char *waitpoint_fid, int64_t *left);
/* The runs blocked by a waitpoint (malloc'd array of malloc'd friendly ids). */
int store_blocked_runs(store *st, const char *waitpoint_fid, char ***runs, size_t *n);
/* The waitpoints a run is blocked by (malloc'd array of malloc'd friendly ids). */
int store_run_blockers(store *st, const char *run_fid, char ***waitpoints, size_t *n);

/* A run's OTLP event: a log record or a span (level "trace"). */
typedef struct store_event {
    int64_t time_ms;
    const char *level;
    const char *message;
    const char *span_id;
    const char *trace_id;
    const char *attributes;  /* JSON object text */
    const char *parent_id;   /* the enclosing span; NULL: none */
    int64_t duration_ns;     /* spans: end - start */
    int64_t is_error;        /* an ERROR log, a span with status ERROR */
    int64_t is_partial;      /* a span still open (its full one follows) */
    const char *span_events; /* spans: JSON array text of its events, or NULL */
} store_event;

int store_event_insert(store *st, const char *run_fid, const store_event *ev);
/* Calls fn for each event of a run, oldest first. */
int store_event_each(store *st, const char *run_fid, void (*fn)(void *ud, const store_event *ev),
                     void *ud);

/* ---- environment variables ------------------------------------------- */

typedef struct store_env_var {
    const char *name;
    const char *value;
    bool is_secret;
} store_env_var;

/* Upserts a variable; with only_new an existing one is left as it is. */
int store_env_var_set(store *st, const char *env_id, const store_env_var *v, bool only_new);
/* ERR_NOT_FOUND if absent. */
int store_env_var_delete(store *st, const char *env_id, const char *name);
/* Calls fn for every variable of env (name order); fn's strings are borrowed. */
int store_env_var_each(store *st, const char *env_id,
                       void (*fn)(void *ud, const store_env_var *v), void *ud);

/* ---- request dedup ---------------------------------------------------- */

/* Looks up a request-idempotency hash; *entity is malloc'd or NULL. */
int store_request_get(store *st, const char *hash, int64_t now, char **entity);
int store_request_put(store *st, const char *hash, const char *entity, int64_t expires_at);
/* Drops request hashes past their expiry. */
int store_request_purge(store *st, int64_t now);

/* ---- CLI login and project details ----------------------------------- */

/* Authorization codes of the CLI's login flow (api/cli.c, auth/login.c).
 * Insert also drops expired codes. */
int store_auth_code_insert(store *st, const char *code, int64_t now, int64_t expires_at);
/* ERR_NOT_FOUND when the code is unknown or expired at now; otherwise
 * *token is the approving access token (malloc'd, caller frees) or NULL
 * while the code waits for approval. */
int store_auth_code_get(store *st, const char *code, int64_t now, char **token);
/* Approves a pending, unexpired code with token; ERR_NOT_FOUND otherwise. */
int store_auth_code_approve(store *st, const char *code, const char *token, int64_t now);
int store_auth_code_delete(store *st, const char *code);
/* One-time login links (`triggerd login-link`). Insert also drops expired
 * links; use marks an unused, unexpired link used, ERR_NOT_FOUND otherwise. */
int store_login_link_insert(store *st, const char *secret, int64_t now, int64_t expires_at);
int store_login_link_use(store *st, const char *secret, int64_t now);
/* When the project was created and first initialized by `trigger.dev init`
 * (ms, 0 if never). ERR_NOT_FOUND for an unknown ref. */
int store_project_times(store *st, const char *ref, int64_t *created_at, int64_t *initialized_at);
/* Records the first `init` of the project (later calls keep the first time). */
int store_project_set_initialized(store *st, const char *ref, int64_t now);

/* ---- realtime stream records (store/streams.c) -------------------------- */

/* One record of a stream; strings borrowed for the callback. */
typedef struct store_stream_rec {
    int64_t seq; /* from 0, per (run, stream) */
    int64_t created_at;
    const char *data; /* the record as its JSON text */
    size_t len;
} store_stream_rec;

/* Appends a record (data[0..len), any bytes) numbered after the stream's
 * last; client_id/chunk (NULL/-1 when none) note a v1 writer's chunk index.
 * *seq receives its number. */
int store_stream_append(store *st, const char *run_id, const char *stream, const char *data,
                        size_t len, const char *client_id, int64_t chunk, int64_t now,
                        int64_t *seq);
/* Calls fn for the records with after < seq <= upto (upto < 0: no bound), in
 * order, at most max. */
int store_stream_each(store *st, const char *run_id, const char *stream, int64_t after,
                      int64_t upto, size_t max, void (*fn)(void *ud, const store_stream_rec *r),
                      void *ud);
/* The last seq of a stream, -1 when it has none. */
int store_stream_last_seq(store *st, const char *run_id, const char *stream, int64_t *seq);
/* The highest chunk index client_id wrote to the stream, -1 when none. */
int store_stream_last_chunk(store *st, const char *run_id, const char *stream,
                            const char *client_id, int64_t *chunk);
/* The pending input-stream waitpoint of (run, stream): set (replacing),
 * get (ERR_NOT_FOUND when none; id receives it) and delete. */
int store_input_wait_set(store *st, const char *run_id, const char *stream, const char *wp_id);
int store_input_wait_get(store *st, const char *run_id, const char *stream, char id[64]);
int store_input_wait_delete(store *st, const char *run_id, const char *stream);

/* ---- S2 streams (store/s2.c) --------------------------------------------- */

/* A stream's position: the tail (next seq), the last record's timestamp and
 * the trim point. All zero for a stream never written. */
typedef struct store_s2_tail {
    int64_t next_seq, last_ts, trim_seq;
    bool exists;
} store_s2_tail;

/* One stored record; blobs borrowed for the callback. */
typedef struct store_s2_rec {
    int64_t seq, ts;
    const void *headers; /* protobuf Header messages, back to back */
    size_t headers_len;
    const void *body;
    size_t body_len;
} store_s2_rec;

int store_s2_tail_get(store *st, const char *name, store_s2_tail *out);
/* Creates the stream if new (tail 0) and sets its tail and last timestamp. */
int store_s2_tail_set(store *st, const char *name, int64_t next_seq, int64_t last_ts,
                      int64_t now);
int store_s2_insert(store *st, const char *name, int64_t seq, int64_t ts, const void *headers,
                    size_t hlen, const void *body, size_t blen);
/* Raises the trim point to trim_seq (never lowers it) and deletes the
 * records below the new point. */
int store_s2_trim(store *st, const char *name, int64_t trim_seq);
/* Calls fn for records with seq >= from, in order, at most max. */
int store_s2_each(store *st, const char *name, int64_t from, size_t max,
                  void (*fn)(void *ud, const store_s2_rec *r), void *ud);

#endif
