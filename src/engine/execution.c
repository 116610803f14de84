/*
 * engine/execution.c - the run lifecycle past the queue, as the worker
 * protocol drives it (docs/dev-protocol.md): attempt start, heartbeats,
 * attempt completion with the retry decision, disconnect, and the
 * stalled-snapshot rules (docs/engine.md). Dequeue is in dequeue.c.
 *
 * Every state change gets a new execution snapshot id: workers poll the
 * latest snapshot and act only when its id changes.
 */
#include "engine/internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/retry.h"
#include "engine/status.h"
#include "util/id.h"

void engine_set_limits(engine *en, const engine_limits *l)
{
    en->limits = *l;
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
    if (engine_run_finished(r)) {
        store_run_clear(r);
        return err_set(e, ERR_INVALID, "Run is already finished");
    }
    return 0;
}

void engine_attempt_begin(engine *en, store_run *r, const store_worker *w, json_t *task,
                          int64_t now, attempt_info *ai)
{
    ai->task_file_path =
        engine_strdup(task ? json_string_value(json_object_get(task, "filePath")) : "");
    if (!ai->task_file_path)
        ai->task_file_path = engine_strdup("");
    ai->export_name = engine_strdup(json_string_value(json_object_get(task, "exportName")));
    snprintf(ai->worker_version, sizeof ai->worker_version, "%s", w->version);
    r->attempt_count++;
    r->status = RUN_EXECUTING;
    if (!r->started_at)
        r->started_at = now;
    free(r->version);
    r->version = engine_strdup(w->version);
    engine_snapshot(en, r, "EXECUTING", "Attempt created, starting execution", NULL, now);
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
    if ((strcmp(r.snapshot_status, "PENDING_EXECUTING") != 0 && !engine_run_between_attempts(&r)) ||
        !r.worker_id) {
        rc = err_set(e, ERR_INVALID, "Run cannot start an attempt now");
        goto out;
    }
    if ((rc = store_worker_get(en->st, env->id, r.worker_id, &w))) {
        err_set(e, rc, "Worker not found");
        goto out;
    }
    tasks = engine_worker_tasks(en, &w);
    engine_attempt_begin(en, &r, &w, engine_find_task(tasks, r.task), now, ai);
    if ((rc = engine_save(en, &r))) {
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
        r.heartbeat_deadline = now + engine_heartbeat_ms(en);
        rc = store_run_update(en->st, &r) /* not a change anyone sees */;
        if (rc)
            err_set(e, rc, "Something went wrong");
        else
            engine_arm(en, r.heartbeat_deadline);
    }
    store_run_clear(&r);
    return rc;
}

static const char *error_code(json_t *err)
{
    const char *type = json_string_value(json_object_get(err, "type"));
    if (type && strcmp(type, "INTERNAL_ERROR") == 0)
        return json_string_value(json_object_get(err, "code"));
    return NULL;
}

/* The final status of an attempt failing with INTERNAL_ERROR code without a
 * retry (the platform's runStatusFromError): a process the task's code or
 * its machine killed (out of memory, a crash, a non-zero exit) is CRASHED. */
static run_status failed_status(const char *code)
{
    static const char *const crashed[] = {
        "TASK_PROCESS_OOM_KILLED", "TASK_PROCESS_MAYBE_OOM_KILLED", "TASK_PROCESS_SIGSEGV",
        "DISK_SPACE_EXCEEDED", "OUTDATED_SDK_VERSION", "HANDLE_ERROR_ERROR", "TASK_RUN_CRASHED",
        "TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE",
    };
    for (size_t i = 0; code && i < sizeof crashed / sizeof *crashed; i++)
        if (strcmp(code, crashed[i]) == 0)
            return RUN_CRASHED;
    return RUN_COMPLETED_WITH_ERRORS;
}

static int64_t warm_start_ms(engine *en)
{
    int64_t t = en->limits.retry_warm_start_ms;
    return t > 0 ? t : t < 0 ? INT64_MIN : ENGINE_DEFAULT_RETRY_WARM_START_MS;
}

/* A retry due soon goes on where it ran (the platform's RETRY_IMMEDIATELY):
 * the worker keeps the run and its queue slot, waits the delay itself and
 * starts the next attempt on this new EXECUTING snapshot. Until it does,
 * the run is RETRYING_AFTER_FAILURE: no attempt is open, so neither a
 * completion nor a wait is taken (engine_run_executing), and a worker that
 * vanishes meanwhile stalls like any executing one. */
static int retry_in_place(engine *en, store_run *r, int64_t now)
{
    int rc = engine_drop_blockers(en, r); /* the over attempt's waits are void */
    if (rc)
        return rc;
    free(r->pending_waitpoints);
    r->pending_waitpoints = NULL;
    r->status = RUN_RETRYING_AFTER_FAILURE;
    engine_snapshot(en, r, "EXECUTING", "Attempt failed with a short delay, starting a new attempt",
                    NULL, now);
    return engine_save(en, r);
}

/* The out-of-memory retry of r's attempt (engine/retry.c) with its task's
 * retry settings from the worker it ran on: the delay, *machine (a copy is
 * the caller's to take with engine_strdup before the next call), or -1. */
static int64_t oom_retry_delay(engine *en, const store_run *r, const char **machine)
{
    static char name[32];
    store_worker w = {0};
    int64_t delay = -1;
    if (r->worker_id && store_worker_get(en->st, r->env_id, r->worker_id, &w) == 0) {
        json_t *tasks = engine_worker_tasks(en, &w);
        json_t *task = engine_find_task(tasks, r->task);
        uint32_t rnd;
        id_random_bytes((unsigned char *)&rnd, sizeof rnd);
        const char *m = NULL;
        delay = engine_oom_retry(json_object_get(task, "retry"), r->machine, r->attempt_count,
                                 rnd / 4294967296.0, &m);
        if (delay >= 0)
            snprintf(name, sizeof name, "%s", m);
        json_decref(tasks);
    }
    store_worker_clear(&w);
    *machine = name;
    return delay;
}

int engine_attempt_complete(engine *en, const store_env *env, const char *run_id,
                            const char *snapshot_id, json_t *completion, int64_t now,
                            attempt_status *status, store_run *out, err_t *e)
{
    store_run r = {0};
    int rc = load_current(en, env, run_id, snapshot_id, &r, e);
    if (rc)
        return rc;
    /* only a started attempt completes (docs/engine.md): a QUEUED snapshot
     * (a retry waiting for its time) or a PENDING_EXECUTING one (never
     * started) has no attempt, and completing it would finish a run that
     * never ran this attempt */
    if (!engine_run_executing(&r) && !engine_run_pending_cancel(&r)) {
        store_run_clear(&r);
        return err_set(e, ERR_INVALID, "Run has no started attempt to complete");
    }
    engine_run_take_completion(en, &r, completion, now);
    *status = ATTEMPT_RUN_FINISHED;
    if (engine_run_pending_cancel(&r)) {
        /* canceled while it ran: whatever the attempt says, it stays
         * CANCELED, and the worker lets go */
        rc = engine_finish(en, &r, RUN_CANCELED, NULL, NULL, NULL, now);
        goto out;
    }
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
    bool canceled = code && strcmp(code, "TASK_RUN_CANCELLED") == 0;
    if (canceled) {
        rc = engine_finish(en, &r, RUN_CANCELED, err_text, NULL, NULL, now);
    } else if (code && strcmp(code, "MAX_DURATION_EXCEEDED") == 0) {
        rc = engine_finish(en, &r, RUN_TIMED_OUT, err_text, NULL, NULL, now);
    } else if (engine_error_is_oom(err)) {
        /* not the ordinary retry: again on a larger machine, if the task says which */
        const char *machine = NULL;
        int64_t delay = oom_retry_delay(en, &r, &machine);
        if (delay >= 0) {
            free(r.error);
            r.error = err_text;
            err_text = NULL;
            free(r.machine);
            r.machine = engine_strdup(machine);
            rc = engine_requeue(en, &r, now + delay,
                                "Run was requeued on a larger machine after running out of memory",
                                now);
            *status = ATTEMPT_RETRY_QUEUED;
        } else {
            rc = engine_finish(en, &r, failed_status(code), err_text, NULL, NULL, now);
        }
    } else if (json_is_object(retry) &&
               !json_is_true(json_object_get(completion, "skippedRetrying")) &&
               (r.max_attempts <= 0 || r.attempt_count < r.max_attempts)) {
        json_t *ts = json_object_get(retry, "timestamp");
        /* a timestamp outside what an int64 holds (or not a number) means now */
        double tsv = json_is_number(ts) ? json_number_value(ts) : 0;
        int64_t at = tsv > 0 && tsv < 9e15 ? (int64_t)tsv : now;
        free(r.error);
        r.error = err_text;
        err_text = NULL;
        if (at - now < warm_start_ms(en)) {
            rc = retry_in_place(en, &r, now);
            *status = ATTEMPT_RETRY_IMMEDIATELY;
        } else {
            rc = engine_requeue(en, &r, at, "Run was requeued for a retry", now);
            *status = ATTEMPT_RETRY_QUEUED;
        }
    } else {
        rc = engine_finish(en, &r, failed_status(code), err_text, NULL, NULL, now);
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

/* ---- disconnect, stalls ------------------------------------------------ */

int engine_disconnect(engine *en, const store_env *env, const char **run_ids, size_t n, int64_t now,
                      int64_t *cancelled, err_t *e)
{
    *cancelled = 0;
    for (size_t i = 0; i < n; i++) {
        store_run r = {0};
        if (store_run_get(en->st, env->id, run_ids[i], &r) != 0)
            continue;
        int rc = 0;
        if (!engine_run_finished(&r)) {
            /* the worker is gone: nothing will let go of the run but us */
            bool was_canceled = engine_run_pending_cancel(&r);
            rc = engine_cancel(en, &r, "Dev session ended (CLI exited)", now);
            if (rc == 0)
                rc = engine_finish(en, &r, RUN_CANCELED, NULL, NULL, NULL, now);
            *cancelled += !was_canceled;
        }
        store_run_clear(&r);
        if (rc)
            return err_set(e, rc, "Something went wrong");
    }
    return 0;
}

/* A retry the engine itself decides (a stalled attempt outside dev) comes
 * 250 ms later, as the platform's. */
#define STALL_RETRY_DELAY_MS 250

/* j as compact JSON text (j is consumed); aborts when out of memory. */
static char *json_dumps_checked(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        abort();
    return s;
}

static int handle_stall(engine *en, store_run *r, int64_t now)
{
    const char *s = r->snapshot_status ? r->snapshot_status : "";
    if (strcmp(s, "PENDING_EXECUTING") == 0) {
        /* the platform nacks the message back to its queue, and fails the
         * run once the queue's attempts are used up (run-queue nackMessage,
         * maxAttempts 12): a run no worker ever starts does not loop forever */
        if (++r->nack_count < ENGINE_MAX_NACKS)
            return engine_requeue(en, r, 0,
                                  "Run was requeued because it was not started in time", now);
        char *err = json_dumps_checked(
            json_pack("{s:s,s:s,s:s}", "type", "INTERNAL_ERROR", "code",
                      "TASK_RUN_DEQUEUED_MAX_RETRIES", "message",
                      "Trying to create an attempt failed multiple times, exceeding how many "
                      "times we retry."));
        int rc = engine_finish(en, r, RUN_SYSTEM_FAILURE, err, NULL, NULL, now);
        free(err);
        return rc;
    }
    if (strcmp(s, "PENDING_CANCEL") == 0)
        return engine_finish(en, r, RUN_CANCELED, NULL, NULL, NULL, now);
    if (strcmp(s, "EXECUTING") != 0 && strcmp(s, "EXECUTING_WITH_WAITPOINTS") != 0) {
        r->heartbeat_deadline = 0; /* nothing to watch */
        return engine_save(en, r);
    }
    bool waiting = strcmp(s, "EXECUTING_WITH_WAITPOINTS") == 0;
    bool dev = engine_env_is_dev(en, r->env_id);
    char msg[400];
    snprintf(msg, sizeof msg,
             "Run timed out after %llds due to missing heartbeats (sent every 30s). %s",
             (long long)(engine_heartbeat_ms(en) / 1000),
             dev ? "Check if your `trigger.dev dev` CLI is still running, or if CPU-heavy work is "
                   "blocking the main thread."
                 : "This typically happens when CPU-heavy work blocks the main thread.");
    json_t *ej = json_pack("{s:s,s:s,s:s}", "type", "INTERNAL_ERROR", "code",
                           waiting ? "TASK_RUN_STALLED_EXECUTING_WITH_WAITPOINTS"
                                   : "TASK_RUN_STALLED_EXECUTING",
                           "message", msg);
    char *err = json_dumps(ej, JSON_COMPACT);
    json_decref(ej);
    int rc;
    /* dev runs are not retried: the CLI that ran them has almost always quit */
    if (!dev && (r->max_attempts <= 0 || r->attempt_count < r->max_attempts)) {
        free(r->error);
        r->error = err;
        err = NULL;
        rc = engine_requeue(en, r, now + STALL_RETRY_DELAY_MS,
                            "Run was requeued after its heartbeat stalled", now);
    } else {
        rc = engine_finish(en, r, RUN_COMPLETED_WITH_ERRORS, err, NULL, NULL, now);
    }
    free(err);
    return rc;
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
