/*
 * engine/internal.h - what the engine's own files share; not for callers.
 */
#ifndef TD_ENGINE_INTERNAL_H
#define TD_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "util/jsontext.h"

struct engine {
    store *st;
    uv_loop_t *loop;
    uv_timer_t timer;
    bool timer_started;
    int64_t armed_at;  /* when the timer fires next, 0 = not armed */
    int64_t purged_at; /* last purge of expired request-dedup hashes */
    engine_limits limits;
    store_env *envs; /* every environment, loaded when one is not found */
    size_t n_envs;
    size_t rr_cursor; /* where the next dequeue starts among the ready units */
    void (*on_change)(void *ud, const store_run *r);
    void *on_change_ud;
    struct cron_zones *zones; /* time zones of schedules (engine/cron.c) */
    struct {
        char env_id[32];
        int64_t at;
        int64_t shared_at; /* last written to the database (store_shared) */
    } dev_seen[64]; /* last poll of each dev CLI: dev schedules fire only while it polls */
    size_t n_dev_seen;
    int64_t started_at;
    struct {
        char *id;      /* a worker's id (workers never change once registered) */
        json_t *tasks; /* its parsed manifest */
    } wtasks[8];       /* parsed manifests of recent workers, so a dequeue or an
                        * attempt start does not parse the manifest again */
    size_t wtasks_next;
    struct engine_bulk *bulk; /* bulk actions (engine/bulk.c), NULL until one starts */
};

/* Writes a run back / inserts a new one, stamped with the next change
 * number, and tells the change hook. The only way the engine writes runs. */
int engine_save(engine *en, store_run *r);
int engine_insert(engine *en, store_run *r);

/* ---- the core of state transitions (core.c, docs/engine.md) ---------- */

/* Sets r's latest snapshot: a new id, status, description, completed
 * waitpoints (JSON array text, NULL = none) and its stall deadline. */
void engine_snapshot(engine *en, store_run *r, const char *status, const char *desc,
                     const char *waitpoints, int64_t now);

/* A finished run never changes: final status and no worker holding it. */
bool engine_run_finished(const store_run *r);
/* An attempt is running (EXECUTING or EXECUTING_WITH_WAITPOINTS). */
bool engine_run_executing(const store_run *r);
/* after a RETRY_IMMEDIATELY: the worker holds the run, no attempt is open */
bool engine_run_between_attempts(const store_run *r);
/* Drops the blockers of a run whose waits are void (an attempt that is over). */
int engine_drop_blockers(engine *en, const store_run *r);
/* Blocked on waitpoints: the only state a waitpoint may continue. */
bool engine_run_blocked(const store_run *r);
/* Canceled while a worker holds it; the worker has not let go yet. */
bool engine_run_pending_cancel(const store_run *r);

/* Ends a run in a final status with its error (JSON text) or output, a
 * FINISHED snapshot, then settles it: the waiting parent's result, its
 * batch, its idempotency key (released on failure). A no-op on a finished
 * run; on a PENDING_CANCEL run it only lets go of the worker. Saves r. */
int engine_finish(engine *en, store_run *r, int status, const char *error, const char *output,
                  const char *output_type, int64_t now);

/* Cancels r and its non-final children: at once when no worker holds it,
 * else status CANCELED and a PENDING_CANCEL snapshot for the worker. A
 * no-op on a finished or already canceled run. Saves r. */
int engine_cancel(engine *en, store_run *r, const char *reason, int64_t now);

/* A TaskRunError {type: STRING_ERROR, raw} as JSON text (malloc'd). */
char *engine_string_error(const char *raw);

/* Completes the RUN waitpoints of a finished run (a parent waits on it;
 * a batch item that hit its idempotency key has one of its own) with its
 * output or error, the ones still pending. */
int engine_settle_waitpoint(engine *en, const store_run *r, int64_t now);

/* Puts r back in the queue for another attempt no earlier than at: its
 * waits are void, its worker let go. Saves r. */
int engine_requeue(engine *en, store_run *r, int64_t at, const char *why, int64_t now);

/* Blocks an executing run on a waitpoint (EXECUTING_WITH_WAITPOINTS).
 * ERR_INVALID when r is not executing. Saves r. */
int engine_block_run(engine *en, store_run *r, const char *waitpoint_fid, int64_t now);

/* A blocked run whose last blocker completed goes on: a new EXECUTING
 * snapshot hands it every waitpoint completed meanwhile. A blocked run gave
 * its queue slot back, so it first takes one again: when its queue or
 * environment is full it waits in QUEUED_EXECUTING (the completed
 * waitpoints kept) until engine_resume_waiting gives it one. Not saved. */
int engine_continue(engine *en, store_run *r, int64_t now);

/* A slot of env was given back (or a poll looks for work): the runs in
 * QUEUED_EXECUTING that now fit go on, oldest first, saved. */
int engine_resume_waiting(engine *en, const char *env_id, int64_t now);

/* Puts a run in the queue at `now`: PENDING, queue order from its
 * priority, and its TTL deadline. Not saved. */
void engine_enqueue(engine *en, const store_env *env, store_run *r, int64_t now);

/* The environment with id (borrowed; NULL if none). */
const store_env *engine_env(engine *en, const char *env_id);
bool engine_env_is_dev(engine *en, const char *env_id);

int64_t engine_heartbeat_ms(engine *en);

/* ---- shared between feature files ------------------------------------- */

/* A waitpoint just completed: continue the runs it blocked. */
int engine_waitpoint_done(engine *en, store_waitpoint *w, int64_t now);

/* Makes the run of a trigger that was refused (a batch item that fails
 * validation) in SYSTEM_FAILURE with reason, so a parent waiting on the
 * batch gets a result for its index, as the platform does. */
int engine_trigger_failed(engine *en, const store_env *env, const trigger_opts *o,
                          const char *reason, int64_t now, trigger_result *res);

/* After a trigger that resumes its parent: the child's RUN waitpoint, and
 * the parent blocked on it (unless the child is a batch item). */
int engine_block_parent(engine *en, const store_run *child, int64_t batch_index, int64_t now);

/* A batchTriggerAndWait item whose idempotency key names an existing run:
 * a RUN waitpoint of that run for this batch and index (the SDK resolves a
 * batch item by batch id and index), completed at once when the run is over
 * and else when it finishes; the batch counts the run as one of its own. */
int engine_batch_item_wait_existing(engine *en, const store_run *child, const char *parent_id,
                                    const char *batch_fid, int64_t batch_index, int64_t now);

/* A parent that waits on a whole batch is blocked by the batch's waitpoint. */
int engine_batch_wait(engine *en, const store_env *env, const char *batch_fid,
                      const char *parent_id, int64_t now);

/* Checks whether every run of a batch has finished and, if a parent waits
 * on it, completes the batch's waitpoint. */
int engine_batch_check_done(engine *en, const char *batch_fid, int64_t now);

/* Processes stalled snapshots (heartbeat deadlines). */
int engine_stalls_tick(engine *en, int64_t now);

/* Makes sure the timer fires no later than `at` (ms epoch). */
void engine_arm(engine *en, int64_t at);

/* What an attempt's completion (borrowed) reports besides its outcome,
 * applied to r in memory (the caller saves r): the attempt's compute time
 * (usage.durationMs, added to the run's) and the metadata changes the SDK
 * flushed as the task returned (runmeta.c; a parent or root they change is
 * saved here). Changes that do not apply are dropped, as the real server
 * drops them: they never fail the completion. */
void engine_run_take_completion(engine *en, store_run *r, json_t *completion, int64_t now);

/* Times out due waitpoints (timers.c calls it on every tick). */
int engine_waitpoints_tick(engine *en, int64_t now);

/* The task resource named task in a worker's manifest (borrowed from
 * tasks), or NULL. */
json_t *engine_find_task(json_t *tasks, const char *task);
/* Starts the next attempt of r (PENDING_EXECUTING on worker w, task its
 * manifest entry or NULL) in memory: EXECUTING, attempt count, version, the
 * EXECUTING snapshot; fills ai. The caller saves r. */
void engine_attempt_begin(engine *en, store_run *r, const store_worker *w, json_t *task,
                          int64_t now, attempt_info *ai);
/* w's parsed task manifest (a new reference; NULL if it does not parse),
 * from a small cache by worker id. */
json_t *engine_worker_tasks(engine *en, const store_worker *w);

/* strdup that aborts on out-of-memory (NULL stays NULL). */
char *engine_strdup(const char *s);

/* The platform's version numbers, YYYYMMDD.N (UTC day of now): count(st,
 * env_id, "YYYYMMDD.", &n) says how many of the day's versions exist, and
 * out gets the next one. Workers and deployments number alike. */
int engine_day_version(engine *en, const store_env *env, int64_t now,
                       int (*count)(store *st, const char *env_id, const char *prefix,
                                    int64_t *n),
                       char out[32]);

#endif
