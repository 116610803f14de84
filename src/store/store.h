/*
 * store/store.h - the durable store: the only interface that speaks to the
 * database. The engine and bootstrap call it; SQL lives behind it
 * (sqlite.c today; a PostgreSQL backend fills the same functions later).
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
    char *type;        /* MANUAL (tokens), DATETIME, RUN, BATCH */
    char *status;      /* PENDING, COMPLETED */
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
    char *tags; /* JSON array text */
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
    bool sync_full;   /* synchronous=FULL (default) vs NORMAL */
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

/* Rolls back the open transaction, if any. */
void store_rollback(store *st);

/* ---- tenancy ---------------------------------------------------------- */

/* Number of environments; 0 means a fresh data dir. */
int store_env_count(store *st, int64_t *count);
int store_env_insert(store *st, const store_env *env);
/* Loads every environment into a malloc'd array (caller frees). */
int store_env_list(store *st, store_env **envs, size_t *n);
int store_env_set_key(store *st, const char *env_id, const char *new_key, const char *old_key,
                      int64_t old_expires_at);
/* Finds the env whose rotated-out key is key and still in its grace window. */
int store_revoked_key_env(store *st, const char *key, int64_t now, char env_id[32]);
/* Every unexpired rotated-out key of env (for JWT verification), malloc'd
 * array of 64-byte strings. */
int store_revoked_keys_of(store *st, const char *env_id, int64_t now, char (**keys)[64], size_t *n);
int store_project_insert(store *st, const store_project *p);
int store_project_get(store *st, store_project *p);
int store_pat_insert(store *st, const char *token, int64_t now);
int store_pat_list(store *st, char (**tokens)[64], size_t *n);
int store_setting_get(store *st, const char *key, char **value);
int store_setting_set(store *st, const char *key, const char *value);

/* ---- runs ------------------------------------------------------------- */

/* Inserts r (r->seq is set). */
int store_run_insert(store *st, store_run *r);
/* Writes every column of r back. */
int store_run_update(store *st, const store_run *r);
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
int store_waitpoint_get(store *st, const char *env_id, const char *friendly_id,
                        store_waitpoint *w);
int store_waitpoint_by_idempotency(store *st, const char *env_id, const char *key,
                                   store_waitpoint *w);
/* Newest first, like store_run_list. */
int store_waitpoint_list(store *st, const store_waitpoint_filter *f, store_waitpoint **ws,
                         size_t *n, bool *has_more);
/* PENDING waitpoints whose timeout_at <= now, at most max. */
int store_waitpoint_due(store *st, int64_t now, size_t max, store_waitpoint **ws, size_t *n);
/* The earliest pending timeout, 0 if none. */
int store_waitpoint_next_due(store *st, int64_t *at);

/* ---- request dedup ---------------------------------------------------- */

/* Looks up a request-idempotency hash; *entity is malloc'd or NULL. */
int store_request_get(store *st, const char *hash, int64_t now, char **entity);
int store_request_put(store *st, const char *hash, const char *entity, int64_t expires_at);
/* Drops request hashes past their expiry. */
int store_request_purge(store *st, int64_t now);

#endif
