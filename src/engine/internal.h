/*
 * engine/internal.h - what the engine's own files share; not for callers.
 */
#ifndef TD_ENGINE_INTERNAL_H
#define TD_ENGINE_INTERNAL_H

#include "engine/engine.h"

struct engine {
    store *st;
    uv_loop_t *loop;
    uv_timer_t timer;
    bool timer_started;
    int64_t armed_at;  /* when the timer fires next, 0 = not armed */
    int64_t purged_at; /* last purge of expired request-dedup hashes */
};

/* Makes sure the timer fires no later than `at` (ms epoch). */
void engine_arm(engine *en, int64_t at);

/* Puts a run in the queue at `now`: PENDING (or PENDING_VERSION), queue
 * order from its priority, and its TTL deadline. */
void engine_enqueue(engine *en, const store_env *env, store_run *r, int64_t now);

/* Times out due waitpoints (timers.c calls it on every tick). */
int engine_waitpoints_tick(engine *en, int64_t now);

/* strdup that aborts on out-of-memory (NULL stays NULL). */
char *engine_strdup(const char *s);

#endif
