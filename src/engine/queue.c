/*
 * engine/queue.c - dequeue ordering, a queue's effective limit, and the
 * queues API (see queue.h). The API's semantics follow the platform's
 * PauseQueueService and concurrency system: pause and override live on the
 * queue row, so they survive restarts and worker re-registrations.
 */
#include "engine/queue.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

#define MAX_PRIORITY_MS (30LL * 24 * 3600 * 1000)

int64_t queue_order_key(int64_t queued_at_ms, int64_t priority_ms)
{
    return queued_at_ms - priority_ms;
}

int64_t queue_priority_ms(double priority_s)
{
    if (!isfinite(priority_s) || priority_s <= 0)
        return 0;
    double ms = priority_s * 1000.0;
    if (ms > (double)MAX_PRIORITY_MS)
        return MAX_PRIORITY_MS;
    return (int64_t)ms;
}

int64_t queue_effective_limit(const store_queue_limit_t *l)
{
    if (l->paused)
        return 0;
    return l->override >= 0 ? l->override : l->limit;
}

/* ---- the queues API ---------------------------------------------------- */

void engine_queue_clear(engine_queue *q)
{
    store_queue_clear(&q->q);
    memset(q, 0, sizeof *q);
}

void engine_queues_free(engine_queue *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        engine_queue_clear(&q[i]);
    free(q);
}

static int env_limit(const engine *en)
{
    return en->limits.env_concurrency > 0 ? (int)en->limits.env_concurrency
                                          : ENGINE_DEFAULT_ENV_CONCURRENCY;
}

/* Loads the queue ref names, with its counts. */
static int load(engine *en, const store_env *env, const queue_ref *ref, engine_queue *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (ref->type == QUEUE_REF_TASK) {
        /* a task's own queue; a "task/" prefix given with the id is dropped */
        const char *id = strncmp(ref->key, "task/", 5) == 0 ? ref->key + 5 : ref->key;
        size_t len = strlen(id) + 6;
        char *name = malloc(len);
        if (!name)
            abort();
        snprintf(name, len, "task/%s", id);
        rc = store_queue_get(en->st, env->id, false, name, &out->q);
        free(name);
    } else {
        rc = store_queue_get(en->st, env->id, ref->type == QUEUE_REF_ID, ref->key, &out->q);
    }
    if (rc == 0)
        rc = store_queue_counts(en->st, env->id, out->q.name, &out->queued, &out->running);
    if (rc) {
        engine_queue_clear(out);
        return err_set(e, rc, rc == ERR_NOT_FOUND ? "queue-not-found" : "Something went wrong");
    }
    return 0;
}

int engine_queue_list(engine *en, const store_env *env, int64_t page, int64_t per_page,
                      engine_queue **out, size_t *n, int64_t *total, err_t *e)
{
    *out = NULL;
    *n = 0;
    store_queue *rows = NULL;
    size_t cnt = 0;
    int rc = store_queue_list(en->st, env->id, (page - 1) * per_page, per_page, &rows, &cnt, total);
    if (rc)
        return err_set(e, rc, "Something went wrong, please try again.");
    engine_queue *q = calloc(cnt ? cnt : 1, sizeof *q);
    if (!q)
        abort();
    for (size_t i = 0; i < cnt; i++) {
        q[i].q = rows[i];
        if (rc == 0)
            rc = store_queue_counts(en->st, env->id, q[i].q.name, &q[i].queued, &q[i].running);
    }
    free(rows);
    if (rc) {
        engine_queues_free(q, cnt);
        return err_set(e, rc, "Something went wrong, please try again.");
    }
    *out = q;
    *n = cnt;
    return 0;
}

int64_t engine_queue_percent_limit(const engine *en, double percent)
{
    int64_t max = env_limit(en);
    int64_t l = (int64_t)floor((double)max * percent / 100.0);
    return l < 1 ? 1 : l > max ? max : l;
}

int engine_queue_get(engine *en, const store_env *env, const queue_ref *ref, engine_queue *out,
                     err_t *e)
{
    return load(en, env, ref, out, e);
}

int engine_queue_pause(engine *en, const store_env *env, const queue_ref *ref, bool paused,
                       engine_queue *out, err_t *e)
{
    int rc = load(en, env, ref, out, e);
    if (rc)
        return rc;
    if (out->q.paused != paused) {
        rc = store_queue_set_paused(en->st, env->id, out->q.name, paused);
        if (rc) {
            engine_queue_clear(out);
            return err_set(e, rc, "unknown-error");
        }
        out->q.paused = paused;
    }
    return 0;
}

int engine_queue_override(engine *en, const store_env *env, const queue_ref *ref, int64_t limit,
                          int64_t now, engine_queue *out, err_t *e)
{
    int rc = load(en, env, ref, out, e);
    if (rc)
        return rc;
    if (limit < 0 || limit > env_limit(en)) {
        engine_queue_clear(out);
        if (limit < 0)
            return err_set(e, ERR_INVALID, "Concurrency limit must be a non-negative number");
        return err_set(e, ERR_INVALID,
                       "Concurrency limit (%lld) cannot exceed the environment limit (%d)",
                       (long long)limit, env_limit(en));
    }
    rc = store_queue_set_override(en->st, env->id, out->q.name, limit, now);
    if (rc) {
        engine_queue_clear(out);
        return err_set(e, rc, "Failed to update queue concurrency limit");
    }
    out->q.override = limit;
    out->q.overridden_at = now;
    return 0;
}

int engine_queue_reset(engine *en, const store_env *env, const queue_ref *ref, engine_queue *out,
                       err_t *e)
{
    int rc = load(en, env, ref, out, e);
    if (rc)
        return rc;
    if (!out->q.overridden_at) {
        engine_queue_clear(out);
        return err_set(e, ERR_INVALID, "Queue is not overridden");
    }
    rc = store_queue_set_override(en->st, env->id, out->q.name, -1, 0);
    if (rc) {
        engine_queue_clear(out);
        return err_set(e, rc, "Failed to update queue concurrency limit");
    }
    out->q.override = -1;
    out->q.overridden_at = 0;
    return 0;
}
