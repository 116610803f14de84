/*
 * engine/execution.c - the run lifecycle past the queue, as the worker
 * protocol drives it (docs/dev-protocol.md): dequeue with environment,
 * queue and concurrency-key limits, attempt start, heartbeats, attempt
 * completion with the retry decision, cancel of executing runs, and the
 * stalled-snapshot rules.
 *
 * Every state change gets a new execution snapshot id: workers poll the
 * latest snapshot and act only when its id changes.
 */
#include "engine/internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/status.h"
#include "util/id.h"

void engine_set_limits(engine *en, const engine_limits *l)
{
    en->limits = *l;
}

static int64_t heartbeat_ms(engine *en)
{
    return en->limits.heartbeat_timeout_ms > 0 ? en->limits.heartbeat_timeout_ms
                                               : ENGINE_DEFAULT_HEARTBEAT_MS;
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

int engine_finish(engine *en, store_run *r, int status, const char *error, const char *output,
                  const char *output_type, int64_t now)
{
    r->status = status;
    r->completed_at = now;
    r->expire_at = 0;
    r->delay_until = 0;
    free(r->error);
    r->error = engine_strdup(error);
    if (output || output_type) {
        free(r->output);
        free(r->output_type);
        r->output = engine_strdup(output);
        r->output_type = engine_strdup(output_type ? output_type : "application/json");
    }
    engine_snapshot(en, r, "FINISHED", "Run has finished", NULL, now);
    int rc = store_run_update(en->st, r);
    if (rc)
        return rc;
    /* a parent waiting on this run (triggerAndWait) gets its result */
    store_waitpoint w = {0};
    rc = store_waitpoint_by_run(en->st, r->friendly_id, &w);
    if (rc == ERR_NOT_FOUND)
        rc = 0;
    else if (rc == 0 && strcmp(w.status, "PENDING") == 0) {
        bool ok = status == RUN_COMPLETED_SUCCESSFULLY;
        free(w.status);
        w.status = engine_strdup("COMPLETED");
        free(w.output);
        free(w.output_type);
        w.output = engine_strdup(ok         ? r->output
                                 : r->error ? r->error
                                            : "{\"type\":\"STRING_ERROR\",\"raw\":\"Run failed\"}");
        w.output_type = engine_strdup(ok && r->output_type ? r->output_type : "application/json");
        w.output_is_error = !ok;
        w.completed_at = now;
        w.updated_at = now;
        rc = store_waitpoint_update(en->st, &w);
        if (rc == 0)
            rc = engine_waitpoint_done(en, &w, now);
    }
    store_waitpoint_clear(&w);
    if (rc == 0 && r->batch_id)
        rc = engine_batch_check_done(en, r->batch_id, now);
    return rc;
}

/* ---- dequeue ---------------------------------------------------------- */

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

/* The task resource named task in a worker's manifest (borrowed from
 * tasks), or NULL. */
static json_t *find_task(json_t *tasks, const char *task)
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

/* How many queued runs to look at for max takes: enough to skip past runs
 * held back by queue limits without reading the whole queue each poll. */
static size_t candidates_for(size_t max)
{
    size_t n = max * 8 + 8;
    return n > 256 ? 256 : n;
}

int engine_dequeue(engine *en, const store_env *env, const char *worker_id, size_t max, int64_t now,
                   dequeued_run **out, size_t *n, err_t *e)
{
    *out = NULL;
    *n = 0;
    store_worker w = {0};
    int rc = worker_id ? store_worker_get(en->st, env->id, worker_id, &w)
                       : store_worker_latest(en->st, env->id, &w);
    if (rc == ERR_NOT_FOUND)
        return 0; /* nothing can run before a worker registered */
    if (rc)
        return err_set(e, rc, "Something went wrong");
    json_t *tasks = json_loads(w.tasks, 0, NULL);
    held h = {0};
    store_run *cands = NULL;
    size_t nc = 0;
    int64_t env_limit = en->limits.env_concurrency > 0 ? en->limits.env_concurrency
                                                       : ENGINE_DEFAULT_ENV_CONCURRENCY;
    if ((rc = store_run_active(en->st, env->id, &h.queues, &h.keys, &h.n)) ||
        (rc = store_run_candidates(en->st, env->id, now, candidates_for(max), &cands, &nc)))
        goto out;
    dequeued_run *res = calloc(max ? max : 1, sizeof *res);
    if (!res)
        abort();
    for (size_t i = 0; i < nc; i++) {
        store_run *r = &cands[i];
        bool take = *n < max && (int64_t)h.n < env_limit;
        /* runs locked to another version wait for that worker */
        if (take && r->lock_to_version && strcmp(r->lock_to_version, w.version) != 0)
            take = false;
        json_t *task = take ? find_task(tasks, r->task) : NULL;
        if (take && !task) { /* no worker has this task yet: PENDING_VERSION */
            r->status = RUN_PENDING_VERSION;
            r->updated_at = now;
            if ((rc = store_run_update(en->st, r)))
                break;
            take = false;
        }
        if (take) {
            /* a run triggered without a queue runs on its task's queue */
            const char *tq =
                json_string_value(json_object_get(json_object_get(task, "queue"), "name"));
            if (tq && r->queue && strncmp(r->queue, "task/", 5) == 0 && strcmp(r->queue, tq)) {
                free(r->queue);
                r->queue = engine_strdup(tq);
            }
            int64_t limit = -1;
            if ((rc = store_queue_limit(en->st, env->id, r->queue, &limit)))
                break;
            if (limit >= 0 && count_held(&h, r->queue, r->concurrency_key) >= (size_t)limit)
                take = false;
        }
        if (!take) {
            store_run_clear(r);
            continue;
        }
        resolve_from_task(r, task);
        r->status = RUN_DEQUEUED;
        r->expire_at = 0; /* started in time: the TTL no longer applies */
        free(r->worker_id);
        r->worker_id = engine_strdup(w.friendly_id);
        engine_snapshot(en, r, "PENDING_EXECUTING", "Run was dequeued for execution", NULL, now);
        if ((rc = store_run_update(en->st, r)))
            break;
        hold(&h, r->queue, r->concurrency_key);
        res[*n].run = *r;
        snprintf(res[*n].worker_version, sizeof res[*n].worker_version, "%s", w.version);
        memset(r, 0, sizeof *r);
        (*n)++;
    }
    for (size_t i = 0; i < nc; i++)
        store_run_clear(&cands[i]);
    if (rc) {
        for (size_t i = 0; i < *n; i++)
            store_run_clear(&res[i].run);
        free(res);
        *n = 0;
        err_set(e, rc, "Something went wrong");
    } else {
        *out = res;
    }
out:
    free(cands);
    held_free(&h);
    json_decref(tasks);
    store_worker_clear(&w);
    return rc;
}

/* ---- attempts --------------------------------------------------------- */

void attempt_info_clear(attempt_info *a)
{
    free(a->task_file_path);
    free(a->export_name);
    memset(a, 0, sizeof *a);
}

/* Loads a run and checks the caller's snapshot is its latest. */
static int load_current(engine *en, const store_env *env, const char *run_id,
                        const char *snapshot_id, store_run *r, err_t *e)
{
    int rc = engine_run_get(en, env, run_id, r, e);
    if (rc)
        return rc;
    if (!r->snapshot_id || strcmp(r->snapshot_id, snapshot_id) != 0) {
        store_run_clear(r);
        return err_set(e, ERR_INVALID, "Snapshot ID doesn't match the latest snapshot");
    }
    if (status_is_final((run_status)r->status)) {
        store_run_clear(r);
        return err_set(e, ERR_INVALID, "Run is already finished");
    }
    return 0;
}

int engine_attempt_start(engine *en, const store_env *env, const char *run_id,
                         const char *snapshot_id, int64_t now, store_run *out, attempt_info *ai,
                         err_t *e)
{
    memset(ai, 0, sizeof *ai);
    store_run r = {0};
    int rc = load_current(en, env, run_id, snapshot_id, &r, e);
    if (rc)
        return rc;
    store_worker w = {0};
    json_t *tasks = NULL;
    if (strcmp(r.snapshot_status, "PENDING_CANCEL") == 0 || !r.worker_id) {
        rc = err_set(e, ERR_INVALID, "Run cannot start an attempt now");
        goto out;
    }
    if ((rc = store_worker_get(en->st, env->id, r.worker_id, &w))) {
        err_set(e, rc, "Worker not found");
        goto out;
    }
    tasks = json_loads(w.tasks, 0, NULL);
    json_t *task = find_task(tasks, r.task);
    ai->task_file_path =
        engine_strdup(task ? json_string_value(json_object_get(task, "filePath")) : "");
    if (!ai->task_file_path)
        ai->task_file_path = engine_strdup("");
    ai->export_name = engine_strdup(json_string_value(json_object_get(task, "exportName")));
    snprintf(ai->worker_version, sizeof ai->worker_version, "%s", w.version);
    r.attempt_count++;
    r.status = RUN_EXECUTING;
    if (!r.started_at)
        r.started_at = now;
    free(r.version);
    r.version = engine_strdup(w.version);
    engine_snapshot(en, &r, "EXECUTING", "Attempt created, starting execution", NULL, now);
    if ((rc = store_run_update(en->st, &r))) {
        err_set(e, rc, "Something went wrong");
        goto out;
    }
    *out = r;
    memset(&r, 0, sizeof r);
out:
    json_decref(tasks);
    store_worker_clear(&w);
    store_run_clear(&r);
    if (rc)
        attempt_info_clear(ai);
    return rc;
}

int engine_heartbeat(engine *en, const store_env *env, const char *run_id, const char *snapshot_id,
                     int64_t now, err_t *e)
{
    store_run r = {0};
    int rc = engine_run_get(en, env, run_id, &r, e);
    if (rc)
        return rc;
    /* a heartbeat for an older snapshot extends nothing, but is not an error */
    if (r.snapshot_id && strcmp(r.snapshot_id, snapshot_id) == 0 && r.heartbeat_deadline) {
        r.heartbeat_deadline = now + heartbeat_ms(en);
        rc = store_run_update(en->st, &r);
        if (rc)
            err_set(e, rc, "Something went wrong");
        else
            engine_arm(en, r.heartbeat_deadline);
    }
    store_run_clear(&r);
    return rc;
}

/* Requeues a run for another attempt no earlier than at. */
static void requeue(engine *en, store_run *r, int64_t at, const char *why, int64_t now)
{
    r->status = RUN_PENDING;
    r->available_at = at;
    engine_snapshot(en, r, "QUEUED", why, NULL, now);
    if (at > now)
        engine_arm(en, at); /* nothing fires then, but dequeue polls pick it up */
}

static const char *error_code(json_t *err)
{
    const char *type = json_string_value(json_object_get(err, "type"));
    if (type && strcmp(type, "INTERNAL_ERROR") == 0)
        return json_string_value(json_object_get(err, "code"));
    return NULL;
}

int engine_attempt_complete(engine *en, const store_env *env, const char *run_id,
                            const char *snapshot_id, json_t *completion, int64_t now,
                            attempt_status *status, store_run *out, err_t *e)
{
    store_run r = {0};
    int rc = load_current(en, env, run_id, snapshot_id, &r, e);
    if (rc)
        return rc;
    engine_run_take_completion(en, &r, completion, now);
    *status = ATTEMPT_RUN_FINISHED;
    if (json_is_true(json_object_get(completion, "ok"))) {
        json_t *output = json_object_get(completion, "output");
        const char *otype = json_string_value(json_object_get(completion, "outputType"));
        rc = engine_finish(en, &r, RUN_COMPLETED_SUCCESSFULLY, NULL,
                           json_is_string(output) ? json_string_value(output) : NULL,
                           otype ? otype : "application/json", now);
        goto out;
    }
    json_t *err = json_object_get(completion, "error");
    char *err_text = err ? jsontext_dumps(err, JSON_COMPACT) : NULL;
    const char *code = error_code(err);
    json_t *retry = json_object_get(completion, "retry");
    bool canceled = strcmp(r.snapshot_status, "PENDING_CANCEL") == 0 ||
                    (code && strcmp(code, "TASK_RUN_CANCELLED") == 0);
    if (canceled) {
        rc = engine_finish(en, &r, RUN_CANCELED, err_text, NULL, NULL, now);
    } else if (code && strcmp(code, "MAX_DURATION_EXCEEDED") == 0) {
        rc = engine_finish(en, &r, RUN_TIMED_OUT, err_text, NULL, NULL, now);
    } else if (json_is_object(retry) &&
               !json_is_true(json_object_get(completion, "skippedRetrying")) &&
               (r.max_attempts <= 0 || r.attempt_count < r.max_attempts)) {
        json_t *ts = json_object_get(retry, "timestamp");
        int64_t at = json_is_number(ts) ? (int64_t)json_number_value(ts) : now;
        free(r.error);
        r.error = err_text;
        err_text = NULL;
        requeue(en, &r, at, "Run was requeued for a retry", now);
        rc = store_run_update(en->st, &r);
        *status = ATTEMPT_RETRY_QUEUED;
    } else {
        rc = engine_finish(en, &r, RUN_COMPLETED_WITH_ERRORS, err_text, NULL, NULL, now);
    }
    free(err_text);
out:
    if (rc) {
        err_set(e, rc, "Something went wrong");
        store_run_clear(&r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---- cancel, disconnect, stalls --------------------------------------- */

int engine_disconnect(engine *en, const store_env *env, const char **run_ids, size_t n, int64_t now,
                      int64_t *cancelled, err_t *e)
{
    *cancelled = 0;
    for (size_t i = 0; i < n; i++) {
        store_run r = {0};
        if (store_run_get(en->st, env->id, run_ids[i], &r) != 0)
            continue;
        int rc = 0;
        if (!status_is_final((run_status)r.status)) {
            rc = engine_finish(en, &r, RUN_CANCELED,
                               "{\"type\":\"STRING_ERROR\",\"raw\":\"Dev session ended (CLI "
                               "exited)\"}",
                               NULL, NULL, now);
            (*cancelled)++;
        }
        store_run_clear(&r);
        if (rc)
            return err_set(e, rc, "Something went wrong");
    }
    return 0;
}

/* Backoff for an attempt the engine itself fails (a stall): the default
 * retry settings (engine-facts.md): 1 s doubling, at most 60 s. */
static int64_t stall_backoff(int64_t attempt)
{
    int64_t ms = 1000;
    for (int64_t i = 1; i < attempt && ms < 60000; i++)
        ms *= 2;
    return ms > 60000 ? 60000 : ms;
}

static int handle_stall(engine *en, store_run *r, int64_t now)
{
    const char *s = r->snapshot_status ? r->snapshot_status : "";
    if (strcmp(s, "PENDING_EXECUTING") == 0) {
        requeue(en, r, 0, "Run was requeued because it was not started in time", now);
        return store_run_update(en->st, r);
    }
    if (strcmp(s, "PENDING_CANCEL") == 0)
        return engine_finish(en, r, RUN_CANCELED, NULL, NULL, NULL, now);
    const char *code = strcmp(s, "EXECUTING_WITH_WAITPOINTS") == 0
                           ? "TASK_RUN_STALLED_EXECUTING_WITH_WAITPOINTS"
                           : "TASK_RUN_STALLED_EXECUTING";
    char err[160];
    snprintf(err, sizeof err, "{\"type\":\"INTERNAL_ERROR\",\"code\":\"%s\"}", code);
    if (r->max_attempts <= 0 || r->attempt_count < r->max_attempts) {
        free(r->error);
        r->error = engine_strdup(err);
        requeue(en, r, now + stall_backoff(r->attempt_count),
                "Run was requeued after its heartbeat stalled", now);
        return store_run_update(en->st, r);
    }
    return engine_finish(en, r, RUN_COMPLETED_WITH_ERRORS, err, NULL, NULL, now);
}

int engine_stalls_tick(engine *en, int64_t now)
{
    for (;;) {
        store_run *runs = NULL;
        size_t n = 0;
        int rc = store_run_stalled(en->st, now, 128, &runs, &n);
        if (rc)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (rc == 0)
                rc = handle_stall(en, &runs[i], now);
            store_run_clear(&runs[i]);
        }
        free(runs);
        if (rc)
            return rc;
        if (n < 128)
            return 0;
    }
}

int engine_event_add(engine *en, const char *run_id, const store_event *ev)
{
    return store_event_insert(en->st, run_id, ev);
}
