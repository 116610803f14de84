/*
 * engine/queue.h - queues: the order in which queued runs are taken, the
 * limit dequeue applies to a queue, and the queues API the routes and the
 * dashboard share (list, retrieve, pause / resume, override / reset).
 *
 * Priority is a time offset (runs/priority.mdx): a run triggered with
 * priority N seconds is taken as if it had been queued N seconds earlier,
 * so it overtakes runs queued less than N seconds before it.
 */
#ifndef TD_ENGINE_QUEUE_H
#define TD_ENGINE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

/* The dequeue key of a run queued at queued_at_ms with priority_ms. Lower
 * keys are taken first. */
int64_t queue_order_key(int64_t queued_at_ms, int64_t priority_ms);

/* Converts the API's `priority` (seconds, any number) to ms, clamped to
 * [0, 30 days]; negative and non-finite values become 0. */
int64_t queue_priority_ms(double priority_s);

/* The limit dequeue applies to a queue now: 0 while it is paused (a paused
 * queue keeps its runs QUEUED), else its override, else its declared limit
 * (-1: none, the environment's limit applies). */
int64_t queue_effective_limit(const store_queue_limit_t *l);

/* How the API names a queue (RetrieveQueueParam): its queue_ id, a task's
 * own queue by task id ("task/<id>" in the store), or a custom queue. */
typedef enum { QUEUE_REF_ID, QUEUE_REF_TASK, QUEUE_REF_CUSTOM } queue_ref_type;

typedef struct queue_ref {
    queue_ref_type type;
    const char *key; /* borrowed */
} queue_ref;

/* A queue as the API shows it: the row and its run counts. */
typedef struct engine_queue {
    store_queue q;
    int64_t queued;  /* runs waiting in it */
    int64_t running; /* runs holding its concurrency */
} engine_queue;

void engine_queue_clear(engine_queue *q);
void engine_queues_free(engine_queue *q, size_t n);

/* Page page (1-based) of env's queues, per_page of them, in name order;
 * *total counts every queue. Caller frees with engine_queues_free. */
int engine_queue_list(engine *en, const store_env *env, int64_t page, int64_t per_page,
                      engine_queue **out, size_t *n, int64_t *total, err_t *e);
/* One queue; ERR_NOT_FOUND when env has none by that name or id. Caller
 * clears *out. */
int engine_queue_get(engine *en, const store_env *env, const queue_ref *ref, engine_queue *out,
                     err_t *e);
/* Pauses (no run of the queue is dequeued until resumed) or resumes it;
 * *out is the queue after. Idempotent. */
int engine_queue_pause(engine *en, const store_env *env, const queue_ref *ref, bool paused,
                       engine_queue *out, err_t *e);
/* Overrides the queue's limit with limit (0..the environment's limit,
 * else ERR_INVALID) until reset; the declared limit is kept. */
int engine_queue_override(engine *en, const store_env *env, const queue_ref *ref, int64_t limit,
                          int64_t now, engine_queue *out, err_t *e);
/* The limit of a percent override: percent (0, 100] of the environment's
 * limit, floored, at least 1 (the platform's materializePercentLimit). */
int64_t engine_queue_percent_limit(const engine *en, double percent);
/* Drops the override (ERR_INVALID "Queue is not overridden" when none). */
int engine_queue_reset(engine *en, const store_env *env, const queue_ref *ref, engine_queue *out,
                       err_t *e);

#endif
