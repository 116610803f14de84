/*
 * engine/engine.h - the run engine: the C API that HTTP routes (and, next,
 * the worker protocol) call. It owns run state transitions: trigger,
 * delays, TTLs, idempotency, cancel, replay, reschedule, tags, metadata,
 * batches. It never sees HTTP; all durable state goes through the store.
 */
#ifndef TD_ENGINE_H
#define TD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

#include "store/store.h"
#include "util/err.h"

typedef struct engine engine;

#define ENGINE_MAX_TAGS 10
#define ENGINE_TAG_MAX_LEN 128
#define ENGINE_DEFAULT_IDEMPOTENCY_TTL_MS (30LL * 24 * 3600 * 1000)
#define ENGINE_DEV_DEFAULT_TTL_MS (10LL * 60 * 1000)

/* Everything a trigger may carry; strings are borrowed for the call. */
typedef struct trigger_opts {
    const char *task;
    const char *payload;
    const char *payload_type;
    const char *queue;
    const char *concurrency_key;
    const char *delay; /* duration or ISO date, NULL = none */
    const char *ttl;   /* "10m" or seconds as text; NULL = default */
    int64_t ttl_ms;    /* parsed ttl (0 = explicitly none) */
    const char *idempotency_key;
    const char *idempotency_key_user; /* idempotencyKeyOptions.key */
    int64_t idempotency_ttl_ms;       /* 0 = default */
    const char **tags;
    size_t n_tags;
    const char *metadata;
    const char *metadata_type;
    int64_t priority_ms;
    const char *machine;
    int64_t max_attempts; /* 0 = task default */
    int64_t max_duration_s;
    bool test;
    const char *parent_run_id;
    bool resume_parent;
    const char *lock_to_version;
    const char *one_time_token;   /* sha256 of a one-time-use JWT */
    const char *batch_id;         /* friendly id of the batch the run belongs to */
    int64_t batch_index;          /* the item's index in that batch */
    const char *trigger_function; /* trigger, triggerAndWait, batchTrigger... */
    const char *trace_id;
    const char *span_id;
    const char *schedule_id; /* friendly id of the schedule whose tick this is */
    int64_t created_at;      /* 0 = now (a schedule's run is dated at its tick) */
} trigger_opts;

typedef struct trigger_result {
    char run_id[64]; /* friendly id */
    bool is_cached;
} trigger_result;

/* Creates an engine over st; timers run on loop. Caller frees with engine_free. */
engine *engine_new(store *st, uv_loop_t *loop);
void engine_free(engine *en);

/* fn is told of every run the engine writes (r borrowed for the call), in
 * write order, before the write is committed: realtime buffers the change
 * and publishes it once the commit is durable. */
void engine_set_change_hook(engine *en, void (*fn)(void *ud, const store_run *r), void *ud);

/* Starts the timer that fires delayed runs and expires TTLs (also catches
 * up on timers that came due while triggerd was down). */
int engine_start(engine *en);

/* Processes every due timer at `now` and re-arms the timer. */
int engine_tick(engine *en, int64_t now);

/* ---- runs ------------------------------------------------------------- */

int engine_trigger(engine *en, const store_env *env, const trigger_opts *o, int64_t now,
                   trigger_result *res, err_t *e);

/* Loads a run of env by friendly id. Caller clears *r. */
int engine_run_get(engine *en, const store_env *env, const char *run_id, store_run *r, err_t *e);

/* Cancels a non-final run (a final run is left as it is). */
int engine_run_cancel(engine *en, const store_env *env, const char *run_id, int64_t now, err_t *e);

/* Triggers a new run with the same task, payload and options. */
int engine_run_replay(engine *en, const store_env *env, const char *run_id, int64_t now,
                      trigger_result *res, err_t *e);

/* Moves a DELAYED run to fire at `at`. */
int engine_run_reschedule(engine *en, const store_env *env, const char *run_id, int64_t at,
                          int64_t now, err_t *e);

/* Adds tags (dedup, blanks dropped); *added is the count of new ones. */
int engine_run_add_tags(engine *en, const store_env *env, const char *run_id, const char **tags,
                        size_t n, int64_t now, size_t *added, err_t *e);

/* Applies a metadata change set (borrowed), FlushedRunMetadata {metadata?,
 * operations?, parentOperations?, rootOperations?}: the operations when they
 * are an array, else metadata as a full replacement; parent and root
 * operations go to those runs, or to the run itself when it has none.
 * *out is the run's new metadata object (new reference, caller decrefs). */
int engine_run_update_metadata(engine *en, const store_env *env, const char *run_id,
                               json_t *changes, int64_t now, json_t **out, err_t *e);

/* Clears an idempotency key for task so the next trigger makes a new run. */
int engine_idempotency_reset(engine *en, const store_env *env, const char *key, const char *task,
                             err_t *e);

/* ---- batches ---------------------------------------------------------- */

typedef struct batch_create_opts {
    int64_t run_count;
    const char *idempotency_key;
    const char *parent_run_id;
    bool resume_parent;
    const char *one_time_token;
    const char *version; /* "v3" (two-phase) or "v2" (one-shot) */
} batch_create_opts;

typedef struct batch_create_result {
    char batch_id[64];
    bool is_cached;
    int64_t run_count;
} batch_create_result;

int engine_batch_create(engine *en, const store_env *env, const batch_create_opts *o, int64_t now,
                        batch_create_result *res, err_t *e);

/* One item of a batch: its index (for dedup) and its trigger options. */
typedef struct batch_item {
    int64_t index;
    trigger_opts opts;
} batch_item;

typedef struct batch_add_result {
    int64_t accepted;     /* new items in this call */
    int64_t deduplicated; /* items whose index was already taken */
    int64_t enqueued;     /* items the batch holds in all */
    int64_t expected;     /* the batch's run count */
    bool sealed;          /* every item has arrived */
} batch_add_result;

/* Adds items to batch_id, skipping indexes it already has, and seals the
 * batch once it holds all of them. An item whose trigger fails is recorded
 * in the batch's errors and counts as accepted. items[i].opts is modified
 * (batch and parent links). */
int engine_batch_add(engine *en, const store_env *env, const char *batch_id, batch_item *items,
                     size_t n, int64_t now, batch_add_result *res, err_t *e);

int engine_batch_get(engine *en, const store_env *env, const char *batch_id, store_batch *b,
                     err_t *e);
/* The batch and its finished runs in item order (unfinished ones left
 * out, as the platform's batch results do). Caller clears *b, each run and
 * frees *runs. */
int engine_batch_results(engine *en, const store_env *env, const char *batch_id, store_batch *b,
                         store_run **runs, size_t *n, err_t *e);

/* ---- waitpoint tokens -------------------------------------------------- */

typedef struct token_opts {
    const char *idempotency_key;
    int64_t idempotency_ttl_ms; /* 0 = default */
    int64_t timeout_at;         /* ms epoch, 0 = never */
    const char **tags;
    size_t n_tags;
} token_opts;

/* Creates a token waitpoint (or returns the one holding the idempotency
 * key: *cached). id receives the friendly id. */
int engine_token_create(engine *en, const store_env *env, const token_opts *o, int64_t now,
                        char id[64], bool *cached, err_t *e);

/* Completes a waitpoint with output (JSON text, may be NULL). Completing
 * an already completed waitpoint is a no-op. env NULL: any environment. */
int engine_waitpoint_complete(engine *en, const store_env *env, const char *id, const char *output,
                              int64_t now, err_t *e);

/* Loads a waitpoint by friendly id (env NULL: any env). Caller clears *w. */
int engine_waitpoint_get(engine *en, const store_env *env, const char *id, store_waitpoint *w,
                         err_t *e);

/* ---- workers and execution (the worker protocol, docs/dev-protocol.md) -- */

#define ENGINE_DEFAULT_HEARTBEAT_MS (60LL * 1000)
/* PENDING_EXECUTING stalls before the run fails with TASK_RUN_DEQUEUED_MAX_RETRIES
 * (the platform's run queue default maxAttempts) */
#define ENGINE_MAX_NACKS 12
/* the platform's RUN_ENGINE_RETRY_WARM_START_THRESHOLD_MS default */
#define ENGINE_DEFAULT_RETRY_WARM_START_MS (30LL * 1000)
#define ENGINE_DEFAULT_ENV_CONCURRENCY 100

/* Tunables; 0 fields take the defaults. */
typedef struct engine_limits {
    int64_t heartbeat_timeout_ms; /* stall deadline of a snapshot after its last heartbeat */
    int64_t env_concurrency;      /* runs of one environment executing at once */
    /* a retry due sooner than this goes on in the worker that failed
     * (RETRY_IMMEDIATELY); later ones are queued (RETRY_QUEUED). 0 = the
     * platform's default (30 s), negative = always queued */
    int64_t retry_warm_start_ms;
} engine_limits;

void engine_set_limits(engine *en, const engine_limits *l);

typedef struct worker_info {
    char id[64];
    char version[32];
    char content_hash[160];
} worker_info;

/* Registers a background worker from its BackgroundWorkerMetadata (borrowed
 * jansson value): tasks, queues and their limits. A worker with the same
 * content hash as the env's latest is returned as it is. Runs parked in
 * PENDING_VERSION whose task it has are queued again. `origin` (borrowed,
 * may be NULL) is the server's URL, for the messages of a refused
 * declarative schedule. */
int engine_worker_register(engine *en, const store_env *env, json_t *metadata, const char *origin,
                           int64_t now, worker_info *out, err_t *e);
/* The same for a deployment's worker: always a new worker, with the
 * deployment's version `as_version` (borrowed; NULL = as above). */
int engine_worker_register_as(engine *en, const store_env *env, json_t *metadata,
                              const char *origin, const char *as_version, int64_t now,
                              worker_info *out, err_t *e);

/* A run taken by dequeue, with what the worker needs to run it. */
/* What attempt start tells the worker beside the run. */
typedef struct attempt_info {
    char *task_file_path; /* malloc'd */
    char *export_name;    /* malloc'd or NULL */
    char worker_version[32];
} attempt_info;

typedef struct dequeued_run {
    store_run run; /* the run after the transition (caller clears) */
    char worker_version[32];
    /* with start: the attempt is started too (run is EXECUTING, ai filled,
     * caller clears it); dequeued_snapshot is the PENDING_EXECUTING snapshot
     * the run passed through (never stored: no one can start it again) */
    bool started;
    attempt_info ai;
    char dequeued_snapshot[64];
} dequeued_run;

/* Takes up to max queued runs of env for worker_id (its latest worker when
 * NULL), honouring environment, queue and concurrency-key limits; each moves
 * to DEQUEUED with a PENDING_EXECUTING snapshot, or with start straight on
 * to its attempt started (one write, as dequeue then attempt start would
 * leave it). *out is malloc'd. */
int engine_dequeue(engine *en, const store_env *env, const char *worker_id, size_t max, bool start,
                   int64_t now, dequeued_run **out, size_t *n, err_t *e);
/* The same for a deployed version's worker process: only runs that worker
 * executes itself (unlocked, or locked to its version), on the machine
 * presets mf lets through; runs locked to another version wait for that
 * version's processes. Never starts the attempts. */
#define MACHINE_SET_MAX 8
typedef struct machine_filter {
    char only[32];                       /* take only runs on this machine preset, or */
    char except[MACHINE_SET_MAX][32];    /* (only "") any preset but these */
    size_t n_except;
} machine_filter;
int engine_dequeue_own(engine *en, const store_env *env, const char *worker_id, size_t max,
                       const machine_filter *mf, int64_t now, dequeued_run **out, size_t *n,
                       err_t *e);

void attempt_info_clear(attempt_info *a);

/* Starts the next attempt of run_id from its latest snapshot snapshot_id. */
int engine_attempt_start(engine *en, const store_env *env, const char *run_id,
                         const char *snapshot_id, int64_t now, store_run *out, attempt_info *ai,
                         err_t *e);

int engine_heartbeat(engine *en, const store_env *env, const char *run_id, const char *snapshot_id,
                     int64_t now, err_t *e);

typedef enum attempt_status {
    ATTEMPT_RUN_FINISHED,
    ATTEMPT_RETRY_QUEUED,
    ATTEMPT_RETRY_IMMEDIATELY,
    ATTEMPT_RUN_PENDING_CANCEL,
} attempt_status;

/* Completes the current attempt with a TaskRunExecutionResult (borrowed). */
int engine_attempt_complete(engine *en, const store_env *env, const char *run_id,
                            const char *snapshot_id, json_t *completion, int64_t now,
                            attempt_status *status, store_run *out, err_t *e);

/* Blocks run_id until `until` (wait.for / wait.until). *wp receives the
 * DATETIME waitpoint's friendly id. */
int engine_wait_duration(engine *en, const store_env *env, const char *run_id, int64_t until,
                         const char *idempotency_key, int64_t idempotency_ttl_ms, int64_t now,
                         char wp[64], int64_t *wait_until, err_t *e);

/* Blocks run_id on a token waitpoint (wait.forToken). */
int engine_wait_token(engine *en, const store_env *env, const char *run_id,
                      const char *waitpoint_id, int64_t now, err_t *e);

/* Cancels the listed runs at once (the dev CLI exited). */
int engine_disconnect(engine *en, const store_env *env, const char **run_ids, size_t n, int64_t now,
                      int64_t *cancelled, err_t *e);

/* ---- environment variables -------------------------------------------- */

/* Sets a variable (names: [A-Za-z_][A-Za-z0-9_]*, not TRIGGER_-reserved). */
int engine_env_var_set(engine *en, const store_env *env, const char *name, const char *value,
                       bool is_secret, bool only_new, err_t *e);
int engine_env_var_delete(engine *en, const store_env *env, const char *name, err_t *e);
int engine_env_var_each(engine *en, const store_env *env,
                        void (*fn)(void *ud, const store_env_var *v), void *ud);
/* The name a variable has in a run's process.env: the platform renames
 * OTEL_RESOURCE_ATTRIBUTES to CUSTOM_OTEL_RESOURCE_ATTRIBUTES
 * (resolveVariablesForEnvironment), so it does not replace the resource
 * attributes of the worker's own telemetry. Borrowed from name or static. */
const char *engine_env_var_run_name(const char *name);

/* Records a log line or span of a run (from OTLP). */
int engine_event_add(engine *en, const char *run_id, const store_event *ev);

/* ---- realtime streams (streams.c) --------------------------------------- */

/* Loads the run a stream write on run_id targets: "self", "parent" or
 * "root" (root is the run itself when it has none). Caller clears *out. */
int engine_stream_target(engine *en, const store_env *env, const char *run_id, const char *target,
                         store_run *out, err_t *e);
/* True once the run completed (streams refuse writes to it). */
bool engine_run_completed(const store_run *r);
/* Adds key to the run's realtimeStreams list (once) and saves the run. */
int engine_stream_register(engine *en, store_run *r, const char *key, err_t *e);
/* Creates the input-stream waitpoint of (run_id, stream) (a token waitpoint
 * with o) and remembers it for the next record sent; when a record after
 * after_seq (-1: any) is already there, completes it with that record. */
int engine_input_wait(engine *en, const store_env *env, const char *run_id, const char *stream,
                      const token_opts *o, int64_t after_seq, int64_t now, char id[64],
                      bool *cached, err_t *e);
/* A record (JSON text) was sent to (run_id, stream): completes its pending
 * input-stream waitpoint, if any. */
int engine_input_sent(engine *en, const store_env *env, const char *run_id, const char *stream,
                      const char *data, int64_t now, err_t *e);

#endif
