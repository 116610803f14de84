/*
 * trigger.h - libtrigger, a C client for the Trigger.dev v4 HTTP API (the
 * server half is triggerd; the wire format is /work/shared/spec/api.md).
 *
 * Shape, as in libuv: opaque handles, plain structs for results, every
 * fallible call returns an int (TRIGGER_OK or a negative trigger_error) and
 * writes its result through an out-parameter. Strings passed in are borrowed
 * for the duration of the call only. Results the library allocates have one
 * matching _free function, named next to the call that returns them.
 *
 * A trigger_client is not thread-safe: use one per thread (they are cheap).
 * Calls block, and retry like the official SDK (see trigger_retry).
 */
#ifndef TRIGGER_H
#define TRIGGER_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TRIGGER_EXTERN __attribute__((visibility("default")))
#else
#define TRIGGER_EXTERN
#endif

/* Sent as x-trigger-api-version; selects the current run-status vocabulary
 * (QUEUED, DELAYED, EXECUTING, COMPLETED, ...; spec/api.md 4). */
#define TRIGGER_API_VERSION "2025-07-16"
/* Sent as trigger-version: the official SDK release whose wire behaviour
 * this library follows. */
#define TRIGGER_SDK_COMPAT_VERSION "4.5.0"
#define TRIGGER_DEFAULT_API_URL "https://api.trigger.dev"

/* Room for any id the server hands out (run_, batch_, waitpoint_ + body). */
#define TRIGGER_ID_MAX 64

/* ---- errors ---------------------------------------------------------- */

/* Every fallible call returns TRIGGER_OK or one of these. HTTP failures map
 * by status, as the official SDK's error classes do (spec/api.md 5); the
 * server's {"error"} text is then in trigger_client_last_error(). */
typedef enum trigger_error {
    TRIGGER_OK = 0,
    TRIGGER_EBADREQ = -1,        /* 400 and other 4xx, or an invalid argument */
    TRIGGER_EAUTH = -2,          /* 401: missing, wrong or revoked key */
    TRIGGER_EFORBIDDEN = -3,     /* 403 */
    TRIGGER_ENOTFOUND = -4,      /* 404 */
    TRIGGER_ECONFLICT = -5,      /* 409, after retries */
    TRIGGER_EUNPROCESSABLE = -6, /* 422: the server refused the content */
    TRIGGER_ERATELIMIT = -7,     /* 429, after retries */
    TRIGGER_ESERVER = -8,        /* 5xx after retries, or a reply we cannot parse */
    TRIGGER_ENETWORK = -9,       /* no HTTP answer (connect, TLS, timeout), after retries */
    TRIGGER_ENOMEM = -10,
    TRIGGER_ECANCELED = -11, /* the run was cancelled while the task waited */
} trigger_error;

/* A static English name for a trigger_error ("not found"); never NULL. */
TRIGGER_EXTERN const char *trigger_strerror(int err);

/* ---- client ---------------------------------------------------------- */

typedef struct trigger_client trigger_client;

/* Creates a client. base_url NULL means $TRIGGER_API_URL, else
 * TRIGGER_DEFAULT_API_URL; secret_key NULL means $TRIGGER_SECRET_KEY. Both
 * strings are copied. Also reads $TRIGGER_PREVIEW_BRANCH (sent as
 * x-trigger-branch). Returns NULL when there is no key or memory runs out.
 * Free with trigger_client_free. */
TRIGGER_EXTERN trigger_client *trigger_client_new(const char *base_url, const char *secret_key);
TRIGGER_EXTERN void trigger_client_free(trigger_client *c);

/* The message of the last failed call on c: the server's {"error"} string,
 * "<status> <body>" for a non-JSON reply, or a local reason (network,
 * argument). "" after a success. Borrowed: valid until the next call on c. */
TRIGGER_EXTERN const char *trigger_client_last_error(const trigger_client *c);
/* The HTTP status of the last response c received: 0 before any, and
 * after a request that got none (network error). */
TRIGGER_EXTERN int trigger_client_last_status(const trigger_client *c);

/* Retry policy (spec/api.md 1.3). A request is retried on network errors,
 * on x-should-retry: true, and on 408, 409, 429 and 5xx unless the reply
 * says x-should-retry: false. The wait after failed attempt n (1-based)
 * is min(max_timeout_ms, r * min_timeout_ms * factor^(n-1)), with r = 1,
 * or random in [1, 2) if randomize. On 429 the client instead waits until
 * x-ratelimit-reset (unix epoch ms) plus up to ratelimit_jitter_ms, when
 * that lies in the future (at most 60 s). The batch-items stream uses the
 * same policy with factor 2 and randomize on, and on 429 also honours
 * Retry-After. Every retry of one call reuses its
 * x-trigger-request-idempotency-key, so the server can deduplicate it. */
typedef struct trigger_retry {
    int max_attempts;             /* including the first; 1 disables retries (5) */
    unsigned min_timeout_ms;      /* 1000 */
    unsigned max_timeout_ms;      /* 30000 */
    double factor;                /* 1.6 */
    bool randomize;               /* false */
    unsigned ratelimit_jitter_ms; /* 1000 */
} trigger_retry;

/* Fills r with the official SDK's defaults (the values in the comments). */
TRIGGER_EXTERN void trigger_retry_default(trigger_retry *r);
/* Replaces c's policy with a copy of *r (tests shrink the delays this way).
 * TRIGGER_EBADREQ if max_attempts < 1, factor < 1 or min > max. */
TRIGGER_EXTERN int trigger_client_set_retry(trigger_client *c, const trigger_retry *r);
/* Per-attempt timeout for the whole HTTP exchange, in ms (default 60000;
 * 0 means none). */
TRIGGER_EXTERN void trigger_client_set_timeout(trigger_client *c, long timeout_ms);

/* ---- triggering ------------------------------------------------------ */

/* Options of one run (spec/api.md 6.1). Zero-initialise and set what you
 * need: NULL strings and 0 numbers are not sent. All pointers are borrowed. */
typedef struct trigger_options {
    const char *queue;               /* queue name */
    const char *concurrency_key;     /* per-key concurrency inside the queue */
    const char *delay;               /* "30s", "1h30m", "2d" or an ISO 8601 date */
    const char *ttl;                 /* "10m": expire if not started by then */
    const char *idempotency_key;     /* same key + task returns the same run */
    const char *idempotency_key_ttl; /* "60s", "10m", "24h", "7d" (server default 30d) */
    const char *const *tags;         /* NULL-terminated; at most 10, each <= 128 chars */
    const char *metadata_json;       /* a JSON object as text */
    int priority;                    /* seconds of head start in the queue */
    const char *machine;             /* "micro", "small-1x", ... "large-2x" */
    int max_attempts;
    int max_duration; /* seconds of compute before the run is TIMED_OUT */
    bool test;        /* mark as a test run */
} trigger_options;

/* What a trigger returns; a plain value, nothing to free. */
typedef struct trigger_handle {
    char id[TRIGGER_ID_MAX]; /* "run_..." */
    bool is_cached;          /* true when an idempotency key matched an existing run */
} trigger_handle;

/* Triggers task_id with payload_json (JSON text, or NULL for no payload;
 * invalid JSON is refused locally with TRIGGER_EBADREQ). opts may be NULL.
 * On TRIGGER_OK, *out holds the run id. */
TRIGGER_EXTERN int trigger_task(trigger_client *c, const char *task_id, const char *payload_json,
                                const trigger_options *opts, trigger_handle *out);

/* One item of a batch: borrowed pointers, opts may be NULL. */
typedef struct trigger_batch_item {
    const char *task_id;
    const char *payload_json;
    const trigger_options *opts;
} trigger_batch_item;

/* Batch-wide options; may be NULL. */
typedef struct trigger_batch_options {
    const char *idempotency_key; /* same key returns the same batch (is_cached) */
} trigger_batch_options;

/* A batch as the server reports it. Free with trigger_batch_free. */
typedef struct trigger_batch {
    char *id;          /* "batch_..." */
    char *status;      /* PENDING, PROCESSING, COMPLETED, PARTIAL_FAILED, ABORTED */
    bool is_cached;    /* set by trigger_batch_trigger only */
    size_t run_count;  /* runs the batch was created for */
    size_t runs_count; /* entries in run_ids (run_count once all items are created) */
    char **run_ids;
} trigger_batch;

/* Triggers items[0..n) as one batch, the way the v4 SDK does: create the
 * batch (POST /api/v3/batches), stream the items as NDJSON (POST
 * /api/v3/batches/{id}/items, resent whole until the server reports it
 * sealed), then retrieve it for the run ids. On TRIGGER_OK *out is a new
 * batch the caller frees with trigger_batch_free. */
TRIGGER_EXTERN int trigger_batch_trigger(trigger_client *c, const trigger_batch_item *items,
                                         size_t n, const trigger_batch_options *opts,
                                         trigger_batch **out);
/* GET /api/v2/batches/{id}. Caller frees *out with trigger_batch_free. */
TRIGGER_EXTERN int trigger_batch_retrieve(trigger_client *c, const char *batch_id,
                                          trigger_batch **out);
TRIGGER_EXTERN void trigger_batch_free(trigger_batch *b);

/* ---- runs ------------------------------------------------------------ */

/* One run. Strings are owned by the struct and NULL when the server did
 * not send the field. */
typedef struct trigger_run {
    char *id;
    char *status; /* QUEUED, DELAYED, EXECUTING, WAITING, COMPLETED, CANCELED, FAILED, ... */
    char *task_identifier;
    char *created_at; /* ISO 8601 */
    char *updated_at;
    char *delayed_until;
    char *idempotency_key;
    char **tags; /* sorted by the server */
    size_t tags_count;
    char *payload_json;  /* retrieve only */
    char *output_json;   /* retrieve only, once COMPLETED */
    char *metadata_json; /* a JSON object as text */
    char *error_message; /* error.message of a failed run */
    int attempt_count;   /* retrieve only */
    bool is_test;
} trigger_run;

/* GET /api/v3/runs/{id}. Caller frees *out with trigger_run_free. Note the
 * server marks a missing run's 404 as retryable, so with the default policy
 * TRIGGER_ENOTFOUND comes after all retries, as with the official SDK. */
TRIGGER_EXTERN int trigger_runs_retrieve(trigger_client *c, const char *run_id, trigger_run **out);
TRIGGER_EXTERN void trigger_run_free(trigger_run *r);

/* Filters for trigger_runs_list; zero/NULL fields are not sent. Borrowed. */
typedef struct trigger_list_filter {
    const char *status; /* comma list, e.g. "QUEUED,DELAYED" */
    const char *task;   /* comma list of task identifiers */
    const char *tag;    /* comma list; a run matches if it has any */
    int limit;          /* page size 1..100 (server default 25) */
    const char *cursor; /* next_cursor of the previous page */
} trigger_list_filter;

/* One page of runs, newest first. Free with trigger_run_page_free. */
typedef struct trigger_run_page {
    trigger_run *runs; /* count entries; no payload, output or attempt count */
    size_t count;
    char *next_cursor; /* NULL on the last page */
} trigger_run_page;

/* GET /api/v1/runs. f may be NULL. Caller frees *out. */
TRIGGER_EXTERN int trigger_runs_list(trigger_client *c, const trigger_list_filter *f,
                                     trigger_run_page **out);
TRIGGER_EXTERN void trigger_run_page_free(trigger_run_page *p);

/* POST /api/v2/runs/{id}/cancel. Canceling a finished run succeeds. */
TRIGGER_EXTERN int trigger_runs_cancel(trigger_client *c, const char *run_id);
/* POST /api/v1/runs/{id}/replay: a new run with the same task and payload;
 * its id goes to *out (is_cached false). */
TRIGGER_EXTERN int trigger_runs_replay(trigger_client *c, const char *run_id, trigger_handle *out);
/* POST /api/v1/runs/{id}/reschedule with a new delay (duration or ISO
 * date); only DELAYED runs can be rescheduled. out may be NULL; otherwise
 * *out is the updated run, freed with trigger_run_free. */
TRIGGER_EXTERN int trigger_runs_reschedule(trigger_client *c, const char *run_id, const char *delay,
                                           trigger_run **out);

/* ---- wait tokens (spec/api.md 6.8) ------------------------------------ */

/* Options for trigger_token_create; may be NULL. Borrowed. */
typedef struct trigger_token_options {
    const char *idempotency_key;
    const char *idempotency_key_ttl;
    const char *timeout;     /* "1h" or an ISO date; the token then TIMED_OUT */
    const char *const *tags; /* NULL-terminated; at most 10 */
} trigger_token_options;

/* A waitpoint token. Owned strings, NULL when absent. */
typedef struct trigger_token {
    char *id;                  /* "waitpoint_..." */
    char *url;                 /* callback URL: POST JSON to it to complete without a key */
    char *status;              /* WAITING, COMPLETED, TIMED_OUT (retrieve only) */
    bool is_cached;            /* create only */
    char *public_access_token; /* create only: a JWT with write:waitpoints:<id> */
    char *output_json;         /* retrieve only, once completed: the stored JSON text */
    bool output_is_error;
    char *idempotency_key;
    char *created_at;
    char *completed_at;
    char *timeout_at;
    char **tags;
    size_t tags_count;
} trigger_token;

/* POST /api/v1/waitpoints/tokens. Caller frees *out with trigger_token_free. */
TRIGGER_EXTERN int trigger_token_create(trigger_client *c, const trigger_token_options *opts,
                                        trigger_token **out);
/* POST /api/v1/waitpoints/tokens/{id}/complete with {data}; data_json is
 * JSON text or NULL (no data). Completing twice succeeds. */
TRIGGER_EXTERN int trigger_token_complete(trigger_client *c, const char *token_id,
                                          const char *data_json);
/* GET /api/v1/waitpoints/tokens/{id}. Caller frees *out. */
TRIGGER_EXTERN int trigger_token_retrieve(trigger_client *c, const char *token_id,
                                          trigger_token **out);
TRIGGER_EXTERN void trigger_token_free(trigger_token *t);

/* ---- worker: serving C functions as tasks ------------------------------ */

/* A worker registers C functions as tasks with triggerd and runs the runs
 * triggerd hands it, over the protocol `trigger.dev dev` speaks
 * (docs/dev-protocol.md): dequeue, attempt start, heartbeats, attempt
 * complete with the retry decision, waits and child runs. */
typedef struct trigger_worker trigger_worker;

/* The running attempt, handed to a task function. Borrowed: valid until the
 * function returns. */
typedef struct trigger_ctx trigger_ctx;

/* A task. payload_json is the run's payload (JSON text, "null" when none).
 * Return TRIGGER_OK and set *output_json to a malloc'd JSON text (or leave
 * it NULL) on success; return anything else to fail the attempt, with a
 * message set by trigger_ctx_fail (else a generic one). */
typedef int (*trigger_task_fn)(trigger_ctx *ctx, const char *payload_json, char **output_json,
                               void *user_data);

/* Per-task settings, as a task's options in the TypeScript SDK. Zero means
 * the SDK's default (retry: 3 attempts, 1 s doubling to 60 s, randomized). */
typedef struct trigger_task_config {
    int max_attempts;
    unsigned min_timeout_ms;
    unsigned max_timeout_ms;
    double factor;
    bool no_randomize;
    const char *queue;     /* a shared queue name; NULL: the task's own */
    int concurrency_limit; /* of the task's queue; 0 = unlimited */
    int max_duration;      /* seconds */
} trigger_task_config;

/* Creates a worker for the environment of secret_key (NULL: env vars as
 * trigger_client_new). project_ref NULL means $TRIGGER_PROJECT_REF, else
 * the server is asked. Free with trigger_worker_free. */
TRIGGER_EXTERN trigger_worker *trigger_worker_new(const char *base_url, const char *secret_key,
                                                  const char *project_ref);
TRIGGER_EXTERN void trigger_worker_free(trigger_worker *w);

/* Adds a task before trigger_worker_run. cfg may be NULL. */
TRIGGER_EXTERN int trigger_worker_add_task(trigger_worker *w, const char *task_id,
                                           trigger_task_fn fn, void *user_data,
                                           const trigger_task_config *cfg);

/* How many runs execute at once (threads; default 4) and how long an idle
 * thread pauses between asks for work when the server cannot hold its ask
 * open (default 100 ms). triggerd holds an idle thread's dequeue for up to
 * a second and answers it the moment a run is ready, so against triggerd
 * the interval only paces retries after errors. A parent waiting on a child
 * run holds its thread, so keep concurrency above the nesting depth. */
TRIGGER_EXTERN void trigger_worker_set_concurrency(trigger_worker *w, int threads);
TRIGGER_EXTERN void trigger_worker_set_poll_interval(trigger_worker *w, unsigned ms);
/* How often executing runs are heartbeated (default 20 s; it must stay
 * below the server's stall timeout, 60 s unless --heartbeat-timeout). */
TRIGGER_EXTERN void trigger_worker_set_heartbeat_interval(trigger_worker *w, unsigned ms);

/* Registers the tasks and serves runs until trigger_worker_stop is called
 * (from a task, another thread or a signal handler) or, when max_runs > 0,
 * until that many runs have finished here. */
TRIGGER_EXTERN int trigger_worker_run(trigger_worker *w, long max_runs);
TRIGGER_EXTERN void trigger_worker_stop(trigger_worker *w);
/* The registered worker version (after trigger_worker_run started). */
TRIGGER_EXTERN const char *trigger_worker_version(const trigger_worker *w);

/* ---- inside a task ---- */

TRIGGER_EXTERN const char *trigger_ctx_run_id(const trigger_ctx *ctx);
TRIGGER_EXTERN int trigger_ctx_attempt(const trigger_ctx *ctx);
TRIGGER_EXTERN const char *trigger_ctx_task_id(const trigger_ctx *ctx);
/* Sets the failure message of this attempt (copied). */
TRIGGER_EXTERN void trigger_ctx_fail(trigger_ctx *ctx, const char *message);
/* Marks the failure as final: no retry (AbortTaskRunError in the SDK). */
TRIGGER_EXTERN void trigger_ctx_no_retry(trigger_ctx *ctx);

/* wait.for: suspends this run for ms (server-side, durable). Returns
 * TRIGGER_ECANCELED if the run was cancelled meanwhile. */
TRIGGER_EXTERN int trigger_wait_for(trigger_ctx *ctx, long long ms);

/* triggerAndWait: triggers a child run and waits for it. On TRIGGER_OK,
 * *ok tells whether the child succeeded and *output_json (malloc'd, may be
 * NULL) holds its output, or its error as JSON when it failed. */
TRIGGER_EXTERN int trigger_trigger_and_wait(trigger_ctx *ctx, const char *task_id,
                                            const char *payload_json, bool *ok, char **output_json);

#ifdef __cplusplus
}
#endif

#endif /* TRIGGER_H */
