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
};

/* Sets r's latest snapshot: a new id, status, description, completed
 * waitpoints (JSON array text, NULL = none) and its stall deadline. */
void engine_snapshot(engine *en, store_run *r, const char *status, const char *desc,
                     const char *waitpoints, int64_t now);

/* Ends a run in a final status with its error (JSON text) or output, a
 * FINISHED snapshot, and completes the waitpoint of a parent waiting on it. */
int engine_finish(engine *en, store_run *r, int status, const char *error, const char *output,
                  const char *output_type, int64_t now);

/* A waitpoint just completed: continue the runs it blocked. */
int engine_waitpoint_done(engine *en, store_waitpoint *w, int64_t now);

/* After a trigger that resumes its parent: the child's RUN waitpoint, and
 * the parent blocked on it (unless the child is a batch item). */
int engine_block_parent(engine *en, const store_run *child, int64_t batch_index, int64_t now);

/* A parent that waits on a whole batch is blocked by the batch's waitpoint. */
int engine_batch_wait(engine *en, const store_env *env, const char *batch_fid,
                      const char *parent_id, int64_t now);

/* Checks whether every run of a batch has finished and, if a parent waits
 * on it, completes the batch's waitpoint. */
int engine_batch_check_done(engine *en, const char *batch_fid, int64_t now);

/* Blocks a run on a waitpoint (EXECUTING_WITH_WAITPOINTS). */
int engine_block_run(engine *en, store_run *r, const char *waitpoint_fid, int64_t now);

/* Processes stalled snapshots (heartbeat deadlines). */
int engine_stalls_tick(engine *en, int64_t now);

/* Makes sure the timer fires no later than `at` (ms epoch). */
void engine_arm(engine *en, int64_t at);

/* Puts a run in the queue at `now`: PENDING (or PENDING_VERSION), queue
 * order from its priority, and its TTL deadline. */
void engine_enqueue(engine *en, const store_env *env, store_run *r, int64_t now);

/* What an attempt's completion (borrowed) reports besides its outcome,
 * applied to r in memory (the caller saves r): the attempt's compute time
 * (usage.durationMs, added to the run's) and the metadata changes the SDK
 * flushed as the task returned (runmeta.c; a parent or root they change is
 * saved here). Changes that do not apply are dropped, as the real server
 * drops them: they never fail the completion. */
void engine_run_take_completion(engine *en, store_run *r, json_t *completion, int64_t now);

/* Times out due waitpoints (timers.c calls it on every tick). */
int engine_waitpoints_tick(engine *en, int64_t now);

/* strdup that aborts on out-of-memory (NULL stays NULL). */
char *engine_strdup(const char *s);

#endif
