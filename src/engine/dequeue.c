/*
 * engine/dequeue.c - which queued runs a worker's poll takes, and with which
 * worker version they run.
 *
 * Scheduling is per unit: the queued runs of one queue and concurrency key.
 * A poll visits the ready units round-robin (starting where the previous
 * poll stopped) and takes one run per unit per round, so a unit at its
 * concurrency limit costs the others one check, never their turn. Limits:
 * the environment's concurrency, the queue's limit, and for keyed runs the
 * same limit per key (queue-concurrency.mdx). A paused queue's limit is 0
 * and an override replaces its declared limit (engine/queue.c).
 *
 * A run locked to a worker version (triggerAndWait children take their
 * parent's) runs on the worker of that version, whichever worker polled:
 * the dev CLI keeps older workers alive for exactly this.
 */
#include "engine/internal.h"
#include "engine/schedules.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/queue.h"
#include "engine/status.h"

/* Units visited by one poll at most; the next poll goes on from there. */
#define MAX_UNITS_PER_POLL 256

/* Concurrency held in an environment: run counts per queue and per
 * (queue, concurrency key). */
typedef struct held {
    char **queues, **keys;
    size_t n;
} held;

static size_t count_held(const held *h, const char *queue, const char *key)
{
    size_t c = 0;
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->queues[i], queue) == 0 &&
            (!key || (h->keys[i] && strcmp(h->keys[i], key) == 0)))
            c++;
    return c;
}

static void hold(held *h, const char *queue, const char *key)
{
    h->queues = realloc(h->queues, (h->n + 1) * sizeof *h->queues);
    h->keys = realloc(h->keys, (h->n + 1) * sizeof *h->keys);
    if (!h->queues || !h->keys)
        abort();
    h->queues[h->n] = engine_strdup(queue);
    h->keys[h->n] = engine_strdup(key);
    h->n++;
}

static void held_free(held *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->queues[i]);
        free(h->keys[i]);
    }
    free(h->queues);
    free(h->keys);
}

/* The workers one poll has looked at: the polling one and those of locked
 * versions, with their parsed task manifests. */
typedef struct worker_set {
    store_worker w[8];
    json_t *tasks[8];
    size_t n;
} worker_set;

static void workers_free(worker_set *ws)
{
    for (size_t i = 0; i < ws->n; i++) {
        store_worker_clear(&ws->w[i]);
        json_decref(ws->tasks[i]);
    }
}

static size_t add_worker(engine *en, worker_set *ws, store_worker *w)
{
    ws->w[ws->n] = *w;
    ws->tasks[ws->n] = engine_worker_tasks(en, w);
    memset(w, 0, sizeof *w);
    return ws->n++;
}

/* The worker a run executes on: its locked version's, else the poller's
 * (index 0). -1 when no worker of that version exists. */
static int worker_for(engine *en, const char *env_id, worker_set *ws, const store_run *r)
{
    if (!r->lock_to_version || strcmp(r->lock_to_version, ws->w[0].version) == 0)
        return 0;
    for (size_t i = 1; i < ws->n; i++)
        if (strcmp(ws->w[i].version, r->lock_to_version) == 0)
            return (int)i;
    if (ws->n == sizeof ws->w / sizeof ws->w[0])
        return -1; /* enough versions for one poll; the next poll takes it */
    store_worker w = {0};
    if (store_worker_by_version(en->st, env_id, r->lock_to_version, &w) != 0) {
        store_worker_clear(&w);
        return -1;
    }
    return (int)add_worker(en, ws, &w);
}

json_t *engine_worker_tasks(engine *en, const store_worker *w)
{
    const size_t n = sizeof en->wtasks / sizeof en->wtasks[0];
    for (size_t i = 0; w->id && i < n; i++)
        if (en->wtasks[i].id && strcmp(en->wtasks[i].id, w->id) == 0)
            return json_incref(en->wtasks[i].tasks);
    json_t *tasks = json_loads(w->tasks ? w->tasks : "[]", 0, NULL);
    if (!tasks || !w->id)
        return tasks;
    size_t k = en->wtasks_next++ % n;
    free(en->wtasks[k].id);
    json_decref(en->wtasks[k].tasks);
    en->wtasks[k].id = engine_strdup(w->id);
    en->wtasks[k].tasks = json_incref(tasks);
    return tasks;
}

/* The task resource named task in a worker's manifest (borrowed), or NULL. */
json_t *engine_find_task(json_t *tasks, const char *task)
{
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        if (id && strcmp(id, task) == 0)
            return t;
    }
    return NULL;
}

/* Settles what the run executes with: attempts, duration and machine from
 * the run's options, else the task's. */
static void resolve_from_task(store_run *r, json_t *task)
{
    json_t *retry = json_object_get(task, "retry");
    if (r->max_attempts <= 0) {
        json_t *ma = json_object_get(retry, "maxAttempts");
        r->max_attempts = json_is_integer(ma) ? json_integer_value(ma) : 3;
    }
    if (r->max_duration_s <= 0) {
        json_t *md = json_object_get(task, "maxDuration");
        if (json_is_number(md))
            r->max_duration_s = (int64_t)json_number_value(md);
    }
    if (!r->machine) {
        const char *preset =
            json_string_value(json_object_get(json_object_get(task, "machine"), "preset"));
        r->machine = engine_strdup(preset ? preset : "small-1x");
    }
}

/* The limit applied to queue now (a paused queue's is 0: its runs stay
 * queued), -1 for none. */
static int64_t limit_of(const store_queue_limit_t *l, size_t n, const char *queue)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, queue) == 0)
            return queue_effective_limit(&l[i]);
    return -1;
}

/* One poll's state. */
typedef struct dq_poll {
    engine *en;
    const store_env *env;
    int64_t now;
    worker_set ws;
    held h;
    store_queue_limit_t *limits;
    size_t n_limits;
    int64_t env_limit;
    dequeued_run *out;
    size_t n, max;
    bool strict; /* only runs the polling worker's own version executes */
    const machine_filter *mf;
    bool start; /* start the attempts too */
} dq_poll;

static bool machine_ok(const machine_filter *mf, const char *machine)
{
    if (!mf)
        return true;
    if (mf->only[0])
        return strcmp(mf->only, machine) == 0;
    for (size_t i = 0; i < mf->n_except; i++)
        if (strcmp(mf->except[i], machine) == 0)
            return false;
    return true;
}

static bool unit_full(const dq_poll *p, const store_unit *u)
{
    int64_t limit = limit_of(p->limits, p->n_limits, u->queue);
    return limit >= 0 && count_held(&p->h, u->queue, u->ckey) >= (size_t)limit;
}

/* Tries to take r. *taken tells; a run that cannot be taken now is left
 * queued, or parked in PENDING_VERSION when its worker lacks the task. */
static int take(dq_poll *p, store_run *r, bool *taken)
{
    *taken = false;
    int wi = worker_for(p->en, p->env->id, &p->ws, r);
    if (wi < 0 || (wi > 0 && p->strict))
        return 0;
    json_t *task = engine_find_task(p->ws.tasks[wi], r->task);
    if (!task) { /* no worker has this task yet: PENDING_VERSION */
        r->status = RUN_PENDING_VERSION;
        r->updated_at = p->now;
        return engine_save(p->en, r);
    }
    /* a run triggered without a queue runs on its task's queue */
    const char *tq = json_string_value(json_object_get(json_object_get(task, "queue"), "name"));
    if (tq && r->queue && strncmp(r->queue, "task/", 5) == 0 && strcmp(r->queue, tq)) {
        free(r->queue);
        r->queue = engine_strdup(tq);
        store_unit u = {r->queue, r->concurrency_key};
        if (unit_full(p, &u))
            return 0;
    }
    resolve_from_task(r, task);
    if (!machine_ok(p->mf, r->machine))
        return 0; /* another pool's (r is this poll's copy, not saved) */
    r->status = RUN_DEQUEUED;
    r->expire_at = 0; /* started in time: the TTL no longer applies */
    free(r->worker_id);
    r->worker_id = engine_strdup(p->ws.w[wi].friendly_id);
    engine_snapshot(p->en, r, "PENDING_EXECUTING", "Run was dequeued for execution", NULL, p->now);
    dequeued_run *d = &p->out[p->n];
    if (p->start) { /* as an attempt start right after would, in the same write */
        snprintf(d->dequeued_snapshot, sizeof d->dequeued_snapshot, "%s", r->snapshot_id);
        engine_attempt_begin(p->en, r, &p->ws.w[wi], task, p->now, &d->ai);
        d->started = true;
    }
    int rc = engine_save(p->en, r);
    if (rc) {
        attempt_info_clear(&d->ai);
        d->started = false;
        return rc;
    }
    hold(&p->h, r->queue, r->concurrency_key);
    d->run = *r;
    snprintf(d->worker_version, sizeof d->worker_version, "%s", p->ws.w[wi].version);
    memset(r, 0, sizeof *r);
    p->n++;
    *taken = true;
    return 0;
}

/* A unit's candidates, read on its first turn. */
typedef struct unit_cands {
    store_run *runs;
    size_t n, next;
    bool loaded, done;
} unit_cands;

/* Round-robin over units[first..first+count) (mod n_units). */
static int rounds(dq_poll *p, store_unit *units, size_t n_units, size_t first, size_t count)
{
    unit_cands *c = calloc(count ? count : 1, sizeof *c);
    if (!c)
        abort();
    int rc = 0;
    bool progress = true;
    while (rc == 0 && progress && p->n < p->max && (int64_t)p->h.n < p->env_limit) {
        progress = false;
        for (size_t k = 0; k < count && rc == 0; k++) {
            if (p->n >= p->max || (int64_t)p->h.n >= p->env_limit)
                break;
            store_unit *u = &units[(first + k) % n_units];
            unit_cands *uc = &c[k];
            if (uc->done || unit_full(p, u)) {
                uc->done = true;
                continue;
            }
            if (!uc->loaded) {
                uc->loaded = true;
                rc = store_unit_candidates(p->en->st, p->env->id, u, p->now, p->max - p->n,
                                           &uc->runs, &uc->n);
            }
            bool taken = false;
            while (rc == 0 && !taken && uc->next < uc->n)
                rc = take(p, &uc->runs[uc->next++], &taken);
            if (uc->next >= uc->n)
                uc->done = true;
            progress = progress || taken;
        }
    }
    for (size_t k = 0; k < count; k++) {
        for (size_t i = 0; i < c[k].n; i++)
            store_run_clear(&c[k].runs[i]);
        free(c[k].runs);
    }
    free(c);
    return rc;
}

static int dequeue(engine *en, const store_env *env, const char *worker_id, size_t max,
                   bool strict, const machine_filter *mf, bool start, int64_t now,
                   dequeued_run **out, size_t *n, err_t *e);

int engine_dequeue(engine *en, const store_env *env, const char *worker_id, size_t max, bool start,
                   int64_t now, dequeued_run **out, size_t *n, err_t *e)
{
    return dequeue(en, env, worker_id, max, false, NULL, start, now, out, n, e);
}

int engine_dequeue_own(engine *en, const store_env *env, const char *worker_id, size_t max,
                       const machine_filter *mf, int64_t now, dequeued_run **out, size_t *n,
                       err_t *e)
{
    return dequeue(en, env, worker_id, max, true, mf, false, now, out, n, e);
}

static int dequeue_in(engine *en, const store_env *env, const char *worker_id, size_t max,
                      bool strict, const machine_filter *mf, bool start, int64_t now,
                      dequeued_run **out, size_t *n, err_t *e)
{
    engine_dev_seen(en, env->id, now);
    *out = NULL;
    *n = 0;
    dq_poll p = {.en = en, .env = env, .now = now, .max = max, .strict = strict, .mf = mf,
                 .start = start};
    p.env_limit = en->limits.env_concurrency > 0 ? en->limits.env_concurrency
                                                 : ENGINE_DEFAULT_ENV_CONCURRENCY;
    store_worker w = {0};
    int rc = worker_id ? store_worker_get(en->st, env->id, worker_id, &w)
                       : store_worker_latest(en->st, env->id, &w);
    if (rc == ERR_NOT_FOUND && worker_id) /* an unknown worker id: the env's latest */
        rc = store_worker_latest(en->st, env->id, &w);
    if (rc == ERR_NOT_FOUND) {
        store_worker_clear(&w);
        return 0; /* nothing can run before a worker registered */
    }
    if (rc) {
        store_worker_clear(&w);
        return err_set(e, rc, "Something went wrong");
    }
    add_worker(en, &p.ws, &w);
    /* runs whose waits are over go on before new runs take the slots (the
     * platform re-enqueues them with their first queue time, ahead of runs
     * triggered since); they are not handed out: their worker has them */
    if ((rc = engine_resume_waiting(en, env->id, now))) {
        workers_free(&p.ws);
        return err_set(e, rc, "Something went wrong");
    }
    store_unit *units = NULL;
    size_t n_units = 0;
    p.out = calloc(max ? max : 1, sizeof *p.out);
    if (!p.out)
        abort();
    if ((rc = store_run_active(en->st, env->id, &p.h.queues, &p.h.keys, &p.h.n)) ||
        (rc = store_queue_limits(en->st, env->id, &p.limits, &p.n_limits)) ||
        (rc = store_ready_units(en->st, env->id, &units, &n_units)))
        goto out;
    if (n_units && max) {
        size_t first = en->rr_cursor % n_units;
        size_t count = n_units < MAX_UNITS_PER_POLL ? n_units : MAX_UNITS_PER_POLL;
        rc = rounds(&p, units, n_units, first, count);
        en->rr_cursor = first + 1;
        if (count < n_units)
            en->rr_cursor = first + count;
    }
out:
    if (rc) {
        for (size_t i = 0; i < p.n; i++) {
            store_run_clear(&p.out[i].run);
            attempt_info_clear(&p.out[i].ai);
        }
        free(p.out);
        err_set(e, rc, "Something went wrong");
    } else {
        *out = p.out;
        *n = p.n;
    }
    store_units_free(units, n_units);
    store_queue_limits_free(p.limits, p.n_limits);
    held_free(&p.h);
    workers_free(&p.ws);
    return rc;
}

/* On a shared database the poll's reads and its claims are one
 * transaction, serialized with the other nodes' (store_claim_begin). */
static int dequeue(engine *en, const store_env *env, const char *worker_id, size_t max,
                   bool strict, const machine_filter *mf, bool start, int64_t now,
                   dequeued_run **out, size_t *n, err_t *e)
{
    *out = NULL;
    *n = 0;
    int rc = store_claim_begin(en->st);
    if (rc)
        return err_set(e, rc, "Something went wrong");
    rc = dequeue_in(en, env, worker_id, max, strict, mf, start, now, out, n, e);
    store_claim_end(en->st);
    return rc;
}
