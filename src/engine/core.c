/*
 * engine/core.c - the core of run state transitions, which every feature
 * file (runs, execution, dequeue, waitpoints, batches, timers) calls: take
 * a snapshot, enqueue and requeue, block a run, decide whether it may
 * continue, cancel, and finish. docs/engine.md is the state machine these
 * functions implement; a transition it does not list is refused here.
 *
 * The one rule that keeps runs from being lost or run twice: a run finishes
 * once (engine_finish is a no-op on a finished run), and everything that
 * follows a final status (the waiting parent's result, the batch, the
 * idempotency key, the children of a canceled run) happens in settle(),
 * called exactly when the status becomes final.
 */
#include "engine/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/queue.h"
#include "engine/status.h"
#include "util/id.h"

void engine_set_change_hook(engine *en, void (*fn)(void *ud, const store_run *r), void *ud)
{
    en->on_change = fn;
    en->on_change_ud = ud;
}

/* Every run write of the engine goes through here, so realtime hears of
 * each change once (it publishes after the commit is durable). */
int engine_save(engine *en, store_run *r)
{
    r->change_seq = store_next_change_seq(en->st);
    int rc = store_run_update(en->st, r);
    if (rc == 0 && en->on_change)
        en->on_change(en->on_change_ud, r);
    return rc;
}

int engine_insert(engine *en, store_run *r)
{
    r->change_seq = store_next_change_seq(en->st);
    int rc = store_run_insert(en->st, r);
    if (rc == 0 && en->on_change)
        en->on_change(en->on_change_ud, r);
    return rc;
}

static bool snap_is(const store_run *r, const char *s)
{
    return r->snapshot_status && strcmp(r->snapshot_status, s) == 0;
}

/* A worker's run holds a slot of its queue and environment in these
 * snapshots (store_run_active counts the same ones); a blocked run gives
 * its slot back while it waits, and a run whose waits are over takes one
 * again before it goes on (QUEUED_EXECUTING until it has one). */
static bool holds_slot(const store_run *r)
{
    return snap_is(r, "PENDING_EXECUTING") || snap_is(r, "EXECUTING") ||
           snap_is(r, "PENDING_CANCEL");
}

static int64_t heartbeat_ms(engine *en)
{
    return en->limits.heartbeat_timeout_ms > 0 ? en->limits.heartbeat_timeout_ms
                                               : ENGINE_DEFAULT_HEARTBEAT_MS;
}

int64_t engine_heartbeat_ms(engine *en)
{
    return heartbeat_ms(en);
}

void engine_snapshot(engine *en, store_run *r, const char *status, const char *desc,
                     const char *waitpoints, int64_t now)
{
    char cuid[ID_CUID_LEN + 1], fid[64];
    id_cuid(cuid);
    id_friendly(fid, sizeof fid, "snapshot_", cuid);
    free(r->snapshot_id);
    free(r->snapshot_status);
    free(r->snapshot_desc);
    free(r->snapshot_waitpoints);
    r->snapshot_id = engine_strdup(fid);
    r->snapshot_status = engine_strdup(status);
    r->snapshot_desc = engine_strdup(desc);
    r->snapshot_waitpoints = engine_strdup(waitpoints ? waitpoints : "[]");
    r->snapshot_at = now;
    r->updated_at = now;
    /* the statuses a worker must keep alive (engine-facts.md, heartbeats) */
    bool watched = strcmp(status, "PENDING_EXECUTING") == 0 || strcmp(status, "EXECUTING") == 0 ||
                   strcmp(status, "EXECUTING_WITH_WAITPOINTS") == 0 ||
                   strcmp(status, "PENDING_CANCEL") == 0;
    r->heartbeat_deadline = watched ? now + heartbeat_ms(en) : 0;
    if (watched)
        engine_arm(en, r->heartbeat_deadline);
}

bool engine_run_finished(const store_run *r)
{
    if (snap_is(r, "FINISHED"))
        return true;
    return status_is_final((run_status)r->status) && !snap_is(r, "PENDING_CANCEL");
}

bool engine_run_executing(const store_run *r)
{
    return !status_is_final((run_status)r->status) && !engine_run_between_attempts(r) &&
           (snap_is(r, "EXECUTING") || snap_is(r, "EXECUTING_WITH_WAITPOINTS"));
}

bool engine_run_between_attempts(const store_run *r)
{
    return r->status == RUN_RETRYING_AFTER_FAILURE && snap_is(r, "EXECUTING");
}

bool engine_run_blocked(const store_run *r)
{
    return !status_is_final((run_status)r->status) && snap_is(r, "EXECUTING_WITH_WAITPOINTS");
}

bool engine_run_pending_cancel(const store_run *r)
{
    return snap_is(r, "PENDING_CANCEL");
}

void engine_enqueue(engine *en, const store_env *env, store_run *r, int64_t now)
{
    (void)env;
    r->status = RUN_PENDING;
    r->queued_at = now;
    r->queue_ts = queue_order_key(now, r->priority_ms);
    r->delay_until = 0;
    if (r->ttl_ms > 0) {
        r->expire_at = now + r->ttl_ms;
        engine_arm(en, r->expire_at);
    } else {
        r->expire_at = 0;
    }
}

char *engine_string_error(const char *raw)
{
    json_t *ej = json_pack("{s:s,s:s}", "type", "STRING_ERROR", "raw", raw ? raw : "");
    char *s = ej ? json_dumps(ej, JSON_COMPACT) : NULL;
    json_decref(ej);
    if (!s)
        abort();
    return s;
}

/* Drops the blockers of a run whose waits are void. Blockers exist only
 * while the run is blocked (engine_block_run adds them with that snapshot,
 * every way out of it drops or completes them), so other runs cost no
 * write. */
int engine_drop_blockers(engine *en, const store_run *r)
{
    if (!snap_is(r, "EXECUTING_WITH_WAITPOINTS"))
        return 0;
    return store_blockers_clear(en->st, r->friendly_id);
}

int engine_requeue(engine *en, store_run *r, int64_t at, const char *why, int64_t now)
{
    /* the waits of the attempt that is over are void: a new attempt starts clean */
    int rc = engine_drop_blockers(en, r);
    if (rc)
        return rc;
    bool held = holds_slot(r);
    free(r->pending_waitpoints);
    r->pending_waitpoints = NULL;
    r->status = RUN_PENDING;
    r->available_at = at;
    free(r->worker_id);
    r->worker_id = NULL;
    engine_snapshot(en, r, "QUEUED", why, NULL, now);
    if (at > now)
        engine_arm(en, at); /* nothing fires then, but dequeue polls pick it up */
    rc = engine_save(en, r);
    return rc == 0 && held ? engine_resume_waiting(en, r->env_id, now) : rc;
}

int engine_block_run(engine *en, store_run *r, const char *waitpoint_fid, int64_t now)
{
    if (!engine_run_executing(r))
        return ERR_INVALID;
    int rc = store_blocker_add(en->st, r->friendly_id, waitpoint_fid);
    if (rc)
        return rc;
    bool held = holds_slot(r);
    if (!snap_is(r, "EXECUTING_WITH_WAITPOINTS"))
        engine_snapshot(en, r, "EXECUTING_WITH_WAITPOINTS", "Run is blocked by waitpoints", NULL,
                        now);
    rc = engine_save(en, r);
    /* the slot it gave back goes to a run that waits for one */
    return rc == 0 && held ? engine_resume_waiting(en, r->env_id, now) : rc;
}

/* ---- concurrency slots ------------------------------------------------ */

static int64_t env_limit(engine *en)
{
    return en->limits.env_concurrency > 0 ? en->limits.env_concurrency
                                          : ENGINE_DEFAULT_ENV_CONCURRENCY;
}

/* The slots held in one environment, and what limits them. */
typedef struct slots {
    char **queues, **keys; /* queue and concurrency key of each held slot */
    size_t n;
    int64_t env_limit;
} slots;

static int slots_load(engine *en, const char *env_id, slots *s)
{
    memset(s, 0, sizeof *s);
    s->env_limit = env_limit(en);
    return store_run_active(en->st, env_id, &s->queues, &s->keys, &s->n);
}

static void slots_free(slots *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->queues[i]);
        free(s->keys[i]);
    }
    free(s->queues);
    free(s->keys);
}

/* Whether r, which holds no slot, may take one: its environment, its queue
 * and (keyed runs) its key are under their limits, as at dequeue. */
static int slot_free(engine *en, const slots *s, const store_run *r, bool *ok)
{
    *ok = false;
    if ((int64_t)s->n >= s->env_limit)
        return 0;
    store_queue_limit_t ql = {.limit = -1, .override = -1};
    int rc = r->queue ? store_queue_limit(en->st, r->env_id, r->queue, &ql) : 0;
    int64_t limit = queue_effective_limit(&ql);
    if (rc || limit < 0) {
        *ok = rc == 0;
        return rc;
    }
    size_t held = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->queues[i] && strcmp(s->queues[i], r->queue) == 0 &&
            (!r->concurrency_key || (s->keys[i] && strcmp(s->keys[i], r->concurrency_key) == 0)))
            held++;
    *ok = held < (size_t)limit;
    return 0;
}

/* The run goes on: a new EXECUTING snapshot hands it every waitpoint
 * completed meanwhile. */
static void go_on(engine *en, store_run *r, int64_t now)
{
    const char *pending = r->pending_waitpoints ? r->pending_waitpoints : "[]";
    char *list = engine_strdup(pending);
    engine_snapshot(en, r, "EXECUTING", "Run was continued, whilst still executing.", list, now);
    free(list);
    free(r->pending_waitpoints);
    r->pending_waitpoints = NULL;
    r->status = RUN_EXECUTING;
}

int engine_continue(engine *en, store_run *r, int64_t now)
{
    if (!holds_slot(r)) {
        slots s;
        bool ok = false;
        int rc = slots_load(en, r->env_id, &s);
        if (rc == 0)
            rc = slot_free(en, &s, r, &ok);
        slots_free(&s);
        if (rc)
            return rc;
        if (!ok) {
            /* the platform's reacquire-or-requeue: it waits in its queue
             * for a slot, and its worker (which keeps the process) ignores
             * this snapshot until the EXECUTING one comes */
            engine_snapshot(en, r, "QUEUED_EXECUTING",
                            "Run can continue, but is waiting for concurrency",
                            r->pending_waitpoints, now);
            return 0;
        }
    }
    go_on(en, r, now);
    return 0;
}

int engine_resume_waiting(engine *en, const char *env_id, int64_t now)
{
    store_run *runs = NULL;
    size_t n = 0;
    int rc = store_run_resuming(en->st, env_id, 256, &runs, &n);
    if (rc || n == 0) {
        free(runs);
        return rc;
    }
    slots s;
    rc = slots_load(en, env_id, &s);
    /* oldest first (queue order): each one taken counts for the next */
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        if (rc == 0 && (int64_t)s.n < s.env_limit && (rc = slot_free(en, &s, &runs[i], &ok)) == 0 &&
            ok) {
            go_on(en, &runs[i], now);
            if ((rc = engine_save(en, &runs[i])) == 0) {
                s.queues = realloc(s.queues, (s.n + 1) * sizeof *s.queues);
                s.keys = realloc(s.keys, (s.n + 1) * sizeof *s.keys);
                if (!s.queues || !s.keys)
                    abort();
                s.queues[s.n] = engine_strdup(runs[i].queue ? runs[i].queue : "");
                s.keys[s.n] = engine_strdup(runs[i].concurrency_key);
                s.n++;
            }
        }
        store_run_clear(&runs[i]);
    }
    free(runs);
    slots_free(&s);
    return rc;
}

/* ---- finishing --------------------------------------------------------- */

/* The statuses that release an idempotency key (idempotency.mdx, "Failed
 * runs and idempotency"): every failure; success and cancel keep it. */
static bool releases_key(int status)
{
    return status == RUN_COMPLETED_WITH_ERRORS || status == RUN_SYSTEM_FAILURE ||
           status == RUN_CRASHED || status == RUN_TIMED_OUT || status == RUN_EXPIRED ||
           status == RUN_INTERRUPTED;
}

/* Completes w, a pending RUN waitpoint of the final run r, with its output
 * or error; the parent waiting on it hears of it. w stays the caller's. */
static int settle_one_waitpoint(engine *en, const store_run *r, store_waitpoint *w, int64_t now)
{
    bool ok = r->status == RUN_COMPLETED_SUCCESSFULLY;
    free(w->status);
    w->status = engine_strdup("COMPLETED");
    free(w->output);
    free(w->output_type);
    w->output = engine_strdup(ok         ? r->output
                              : r->error ? r->error
                                         : "{\"type\":\"STRING_ERROR\",\"raw\":\"Run failed\"}");
    w->output_type = engine_strdup(ok && r->output_type ? r->output_type : "application/json");
    w->output_is_error = !ok;
    w->completed_at = now;
    w->updated_at = now;
    int rc = store_waitpoint_update(en->st, w);
    return rc ? rc : engine_waitpoint_done(en, w, now);
}

int engine_settle_waitpoint(engine *en, const store_run *r, int64_t now)
{
    for (;;) {
        store_waitpoint w = {0};
        int rc = store_waitpoint_pending_by_run(en->st, r->friendly_id, &w);
        if (rc == ERR_NOT_FOUND)
            return 0;
        if (rc == 0)
            rc = settle_one_waitpoint(en, r, &w, now);
        /* an item of another batch (an idempotency hit): that batch may be done */
        if (rc == 0 && w.batch_id && (!r->batch_id || strcmp(w.batch_id, r->batch_id) != 0))
            rc = engine_batch_check_done(en, w.batch_id, now);
        store_waitpoint_clear(&w);
        if (rc)
            return rc;
    }
}

static int cancel_children(engine *en, const store_run *r, int64_t now);

/* What follows a run's final status, once: its waiting parent resumes, its
 * batch may be done, a canceled run's children are canceled. */
static int settle(engine *en, const store_run *r, int64_t now)
{
    int rc = engine_settle_waitpoint(en, r, now);
    if (rc == 0 && r->batch_id)
        rc = engine_batch_check_done(en, r->batch_id, now);
    if (rc == 0 && r->status == RUN_CANCELED)
        rc = cancel_children(en, r, now);
    return rc;
}

/* Sets a final status with its error or output (the fields; not saved). */
static void set_final(store_run *r, int status, const char *error, const char *output,
                      const char *output_type, int64_t now)
{
    r->status = status;
    r->completed_at = now;
    r->expire_at = 0;
    r->delay_until = 0;
    r->available_at = 0;
    free(r->error);
    r->error = engine_strdup(error);
    if (output || output_type) {
        free(r->output);
        free(r->output_type);
        r->output = engine_strdup(output);
        r->output_type = engine_strdup(output_type ? output_type : "application/json");
    }
    free(r->pending_waitpoints);
    r->pending_waitpoints = NULL;
    if (releases_key(status) && r->idempotency_key)
        r->idempotency_key = (free(r->idempotency_key), NULL);
}

int engine_finish(engine *en, store_run *r, int status, const char *error, const char *output,
                  const char *output_type, int64_t now)
{
    if (engine_run_finished(r))
        return 0; /* a finished run never changes */
    int rc = engine_drop_blockers(en, r);
    if (rc)
        return rc;
    bool held = holds_slot(r);
    if (engine_run_pending_cancel(r)) {
        /* the worker let go of a canceled run: it was settled at the cancel */
        engine_snapshot(en, r, "FINISHED", "Run was cancelled", NULL, now);
        rc = engine_save(en, r);
        return rc ? rc : engine_resume_waiting(en, r->env_id, now);
    }
    set_final(r, status, error, output, output_type, now);
    engine_snapshot(en, r, "FINISHED", "Run has finished", NULL, now);
    if ((rc = engine_save(en, r)))
        return rc;
    /* a run waiting for the slot it held goes on before the runs settle()
     * continues, as it waited longer */
    if (held && (rc = engine_resume_waiting(en, r->env_id, now)))
        return rc;
    return settle(en, r, now);
}

int engine_cancel(engine *en, store_run *r, const char *reason, int64_t now)
{
    if (engine_run_finished(r) || engine_run_pending_cancel(r))
        return 0;
    char *err = engine_string_error(reason);
    int rc;
    bool held = engine_run_executing(r) || engine_run_between_attempts(r) ||
                snap_is(r, "PENDING_EXECUTING");
    if (!held) {
        rc = engine_finish(en, r, RUN_CANCELED, err, NULL, NULL, now);
        goto out;
    }
    /* a worker holds it: the run is CANCELED at once (as the platform shows
     * it), and PENDING_CANCEL tells the worker to stop and let go */
    if ((rc = engine_drop_blockers(en, r)))
        goto out;
    set_final(r, RUN_CANCELED, err, NULL, NULL, now);
    engine_snapshot(en, r, "PENDING_CANCEL", "Run was cancelled", NULL, now);
    if ((rc = engine_save(en, r)) == 0)
        rc = settle(en, r, now);
out:
    free(err);
    return rc;
}

/* "Any in-progress child runs are also canceled" (runs.mdx); recursion is
 * bounded by the run depth limit. */
static int cancel_children(engine *en, const store_run *r, int64_t now)
{
    store_run *kids = NULL;
    size_t n = 0;
    int rc = store_run_children(en->st, r->friendly_id, 100000, &kids, &n);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = engine_cancel(en, &kids[i], "Canceled by parent run", now);
        store_run_clear(&kids[i]);
    }
    free(kids);
    return rc;
}

/* ---- environments ------------------------------------------------------ */

const store_env *engine_env(engine *en, const char *env_id)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < en->n_envs; i++)
            if (strcmp(en->envs[i].id, env_id) == 0)
                return &en->envs[i];
        /* not known yet (created since the last load): load them again */
        free(en->envs);
        en->envs = NULL;
        en->n_envs = 0;
        if (store_env_list(en->st, &en->envs, &en->n_envs) != 0)
            return NULL;
    }
    return NULL;
}

bool engine_env_is_dev(engine *en, const char *env_id)
{
    const store_env *env = engine_env(en, env_id);
    return env && strcmp(env->type, "DEVELOPMENT") == 0;
}
