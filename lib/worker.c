/*
 * lib/worker.c - serving C functions as tasks (the worker half of
 * libtrigger), over the protocol of `trigger.dev dev` (docs/dev-protocol.md):
 * register the task manifest, then each thread loops dequeue -> attempt
 * start -> run the function -> attempt complete. Against triggerd the
 * dequeue also starts the attempt ("startAttempts") and the completion also
 * takes the thread's next run ("dequeue"), triggerd's extensions, so a busy
 * thread makes one round trip a run. The worker decides
 * retries as the TypeScript SDK does (engine-facts.md: delay =
 * min(max, r * min * factor^(attempt-1)), r in [1, 2) when randomized) and
 * sends them with the completion. Waits block the calling thread and poll
 * the run's latest snapshot until triggerd continues it.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "trigger.h"

#define MAX_TASKS 64
#define HEARTBEAT_EVERY_MS 20000 /* well inside the server's 60 s stall timeout */
/* how long triggerd may hold an empty dequeue open ("waitMs", a triggerd
 * extension): a run that becomes ready meanwhile is answered at once; it
 * also bounds how long trigger_worker_stop waits for an idle thread */
#define DEQUEUE_WAIT_MS 1000

typedef struct task_def {
    char *id;
    trigger_task_fn fn;
    void *ud;
    trigger_task_config cfg;
} task_def;

/* One executing run, visible to the heartbeat thread. */
typedef struct slot {
    pthread_mutex_t mu;
    char run_id[TRIGGER_ID_MAX];
    char snapshot_id[TRIGGER_ID_MAX];
    bool busy;
} slot;

struct trigger_worker {
    char *base_url;
    char *secret_key;
    char *project_ref;
    task_def tasks[MAX_TASKS];
    size_t n_tasks;
    int threads;
    unsigned poll_ms;
    unsigned heartbeat_ms;
    char worker_id[TRIGGER_ID_MAX];
    char version[64];
    volatile int stop;
    long max_runs;
    long done_runs;
    pthread_mutex_t mu;
    slot *slots;
};

struct trigger_ctx {
    trigger_worker *w;
    trigger_client *c;
    slot *slot;
    const task_def *task;
    char run_id[TRIGGER_ID_MAX];
    int attempt;
    char *fail_msg;
    bool no_retry;
    bool canceled;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

trigger_worker *trigger_worker_new(const char *base_url, const char *secret_key,
                                   const char *project_ref)
{
    trigger_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    const char *url = base_url ? base_url : getenv("TRIGGER_API_URL");
    const char *key = secret_key ? secret_key : getenv("TRIGGER_SECRET_KEY");
    const char *ref = project_ref ? project_ref : getenv("TRIGGER_PROJECT_REF");
    w->base_url = strdup(url ? url : TRIGGER_DEFAULT_API_URL);
    w->secret_key = dup_or_null(key);
    w->project_ref = dup_or_null(ref);
    w->threads = 4;
    w->poll_ms = 100;
    w->heartbeat_ms = HEARTBEAT_EVERY_MS;
    pthread_mutex_init(&w->mu, NULL);
    if (!w->base_url || !w->secret_key) {
        trigger_worker_free(w);
        return NULL;
    }
    return w;
}

void trigger_worker_free(trigger_worker *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_tasks; i++)
        free(w->tasks[i].id);
    free(w->base_url);
    free(w->secret_key);
    free(w->project_ref);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int trigger_worker_add_task(trigger_worker *w, const char *task_id, trigger_task_fn fn,
                            void *user_data, const trigger_task_config *cfg)
{
    if (!task_id || !fn || w->n_tasks == MAX_TASKS)
        return TRIGGER_EBADREQ;
    task_def *t = &w->tasks[w->n_tasks];
    t->id = strdup(task_id);
    if (!t->id)
        return TRIGGER_ENOMEM;
    t->fn = fn;
    t->ud = user_data;
    if (cfg)
        t->cfg = *cfg;
    if (t->cfg.max_attempts <= 0)
        t->cfg.max_attempts = 3;
    if (!t->cfg.min_timeout_ms)
        t->cfg.min_timeout_ms = 1000;
    if (!t->cfg.max_timeout_ms)
        t->cfg.max_timeout_ms = 60000;
    if (t->cfg.factor < 1)
        t->cfg.factor = 2;
    w->n_tasks++;
    return TRIGGER_OK;
}

void trigger_worker_set_concurrency(trigger_worker *w, int threads)
{
    w->threads = threads > 0 ? threads : 1;
}

void trigger_worker_set_poll_interval(trigger_worker *w, unsigned ms)
{
    w->poll_ms = ms ? ms : 1;
}

void trigger_worker_set_heartbeat_interval(trigger_worker *w, unsigned ms)
{
    w->heartbeat_ms = ms ? ms : HEARTBEAT_EVERY_MS;
}

void trigger_worker_stop(trigger_worker *w)
{
    w->stop = 1;
}

const char *trigger_worker_version(const trigger_worker *w)
{
    return w->version;
}

/* ---- small request helpers -------------------------------------------- */

static int post_json(trigger_client *c, const char *path, json_t *body, json_t **out)
{
    trigger__call call = {.method = "POST", .path = path, .json = body};
    trigger__reply r = {0};
    int rc = trigger__request(c, &call, &r);
    if (rc == TRIGGER_OK && out) {
        *out = r.json;
        r.json = NULL;
    }
    trigger__reply_clear(&r);
    return rc;
}

static int get_json(trigger_client *c, const char *path, json_t **out)
{
    trigger__call call = {.method = "GET", .path = path};
    trigger__reply r = {0};
    int rc = trigger__request(c, &call, &r);
    if (rc == TRIGGER_OK) {
        *out = r.json;
        r.json = NULL;
    }
    trigger__reply_clear(&r);
    return rc;
}

/* ---- registration ----------------------------------------------------- */

static json_t *manifest(trigger_worker *w, char hash[32])
{
    json_t *tasks = json_array(), *queues = json_array();
    for (size_t i = 0; i < w->n_tasks; i++) {
        const task_def *t = &w->tasks[i];
        json_t *o = json_pack("{s:s,s:s,s:s,s:{s:i,s:i,s:i,s:f,s:b}}", "id", t->id, "filePath",
                              "libtrigger", "exportName", t->id, "retry", "maxAttempts",
                              t->cfg.max_attempts, "minTimeoutInMs", t->cfg.min_timeout_ms,
                              "maxTimeoutInMs", t->cfg.max_timeout_ms, "factor", t->cfg.factor,
                              "randomize", !t->cfg.no_randomize);
        if (t->cfg.max_duration > 0)
            json_object_set_new(o, "maxDuration", json_integer(t->cfg.max_duration));
        if (t->cfg.queue) {
            json_object_set_new(o, "queue", json_pack("{s:s}", "name", t->cfg.queue));
            if (t->cfg.concurrency_limit > 0)
                json_array_append_new(queues,
                                      json_pack("{s:s,s:i}", "name", t->cfg.queue,
                                                "concurrencyLimit", t->cfg.concurrency_limit));
        } else if (t->cfg.concurrency_limit > 0) {
            json_object_set_new(o, "queue",
                                json_pack("{s:i}", "concurrencyLimit", t->cfg.concurrency_limit));
        }
        json_array_append_new(tasks, o);
    }
    /* a content hash over the manifest, so an unchanged worker is reused */
    char *text = json_dumps(tasks, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned long long h = 1469598103934665603ULL;
    for (const char *p = text; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    free(text);
    snprintf(hash, 32, "%016llx", h);
    return json_pack("{s:b,s:{s:s,s:s,s:s,s:o,s:o},s:s}", "localOnly", 1, "metadata",
                     "packageVersion", "libtrigger-0.1.0", "contentHash", hash, "cliPackageVersion",
                     "libtrigger-0.1.0", "tasks", tasks, "queues", queues, "engine", "V2");
}

static int register_worker(trigger_worker *w, trigger_client *c)
{
    if (!w->project_ref) {
        json_t *me = NULL;
        int rc = get_json(c, "/api/v2/whoami", &me);
        const char *ref = json_string_value(json_object_get(me, "projectRef"));
        if (rc == TRIGGER_OK && ref)
            w->project_ref = strdup(ref);
        json_decref(me);
        if (!w->project_ref)
            return rc ? rc : TRIGGER_EBADREQ;
    }
    char hash[32], path[256];
    json_t *body = manifest(w, hash);
    snprintf(path, sizeof path, "/api/v1/projects/%s/background-workers", w->project_ref);
    json_t *res = NULL;
    int rc = post_json(c, path, body, &res);
    json_decref(body);
    if (rc == TRIGGER_OK) {
        snprintf(w->worker_id, sizeof w->worker_id, "%s",
                 json_string_value(json_object_get(res, "id")) ?: "");
        snprintf(w->version, sizeof w->version, "%s",
                 json_string_value(json_object_get(res, "version")) ?: "");
    }
    json_decref(res);
    return rc;
}

/* ---- inside a task ---------------------------------------------------- */

const char *trigger_ctx_run_id(const trigger_ctx *ctx)
{
    return ctx->run_id;
}

int trigger_ctx_attempt(const trigger_ctx *ctx)
{
    return ctx->attempt;
}

const char *trigger_ctx_task_id(const trigger_ctx *ctx)
{
    return ctx->task->id;
}

void trigger_ctx_fail(trigger_ctx *ctx, const char *message)
{
    free(ctx->fail_msg);
    ctx->fail_msg = dup_or_null(message);
}

void trigger_ctx_no_retry(trigger_ctx *ctx)
{
    ctx->no_retry = true;
}

static void set_snapshot(slot *s, const char *snap)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->snapshot_id, sizeof s->snapshot_id, "%s", snap);
    pthread_mutex_unlock(&s->mu);
}

/* Polls the run's latest snapshot until it is EXECUTING again with a
 * completed waitpoint that match() accepts; *found gets it (new ref). */
static int await_waitpoint(trigger_ctx *ctx, bool (*match)(json_t *, const char *), const char *key,
                           json_t **found)
{
    char path[256];
    snprintf(path, sizeof path, "/engine/v1/dev/runs/%s/snapshots/latest", ctx->run_id);
    unsigned wait = 20;
    for (;;) {
        json_t *res = NULL;
        int rc = get_json(ctx->c, path, &res);
        if (rc != TRIGGER_OK)
            return rc;
        json_t *ex = json_object_get(res, "execution");
        json_t *snap = json_object_get(ex, "snapshot");
        const char *st = json_string_value(json_object_get(snap, "executionStatus"));
        const char *sid = json_string_value(json_object_get(snap, "friendlyId"));
        if (sid)
            set_snapshot(ctx->slot, sid);
        if (st && (strcmp(st, "PENDING_CANCEL") == 0 || strcmp(st, "FINISHED") == 0)) {
            ctx->canceled = true;
            json_decref(res);
            return TRIGGER_ECANCELED;
        }
        if (st && strcmp(st, "EXECUTING") == 0) {
            size_t i;
            json_t *cw;
            json_array_foreach(json_object_get(ex, "completedWaitpoints"), i, cw)
            {
                if (match(cw, key)) {
                    *found = json_incref(cw);
                    json_decref(res);
                    return TRIGGER_OK;
                }
            }
        }
        json_decref(res);
        nap(wait);
        if (wait < 500)
            wait *= 2;
    }
}

static bool by_friendly_id(json_t *cw, const char *id)
{
    const char *f = json_string_value(json_object_get(cw, "friendlyId"));
    return f && strcmp(f, id) == 0;
}

static bool by_child_run(json_t *cw, const char *run)
{
    const char *f =
        json_string_value(json_object_get(json_object_get(cw, "completedByTaskRun"), "friendlyId"));
    return f && strcmp(f, run) == 0;
}

int trigger_wait_for(trigger_ctx *ctx, long long ms)
{
    char path[256], date[40];
    time_t secs = (time_t)((now_ms() + ms) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(date + strlen(date), sizeof date - strlen(date), ".%03lldZ", (now_ms() + ms) % 1000);
    snprintf(path, sizeof path, "/engine/v1/runs/%s/wait/duration", ctx->run_id);
    json_t *body = json_pack("{s:s}", "date", date), *res = NULL;
    int rc = post_json(ctx->c, path, body, &res);
    json_decref(body);
    char wp[TRIGGER_ID_MAX] = "";
    snprintf(wp, sizeof wp, "%s",
             json_string_value(json_object_get(json_object_get(res, "waitpoint"), "id")) ?: "");
    json_decref(res);
    if (rc != TRIGGER_OK)
        return rc;
    json_t *cw = NULL;
    rc = await_waitpoint(ctx, by_friendly_id, wp, &cw);
    json_decref(cw);
    return rc;
}

int trigger_trigger_and_wait(trigger_ctx *ctx, const char *task_id, const char *payload_json,
                             bool *ok, char **output_json)
{
    *ok = false;
    *output_json = NULL;
    char path[512];
    snprintf(path, sizeof path, "/api/v1/tasks/%s/trigger", task_id);
    json_t *body =
        json_pack("{s:s,s:{s:s,s:b,s:s,s:s}}", "payload", payload_json ? payload_json : "null",
                  "options", "parentRunId", ctx->run_id, "resumeParentOnCompletion", 1,
                  "lockToVersion", ctx->w->version, "payloadType", "application/json");
    json_t *res = NULL;
    int rc = post_json(ctx->c, path, body, &res);
    json_decref(body);
    char child[TRIGGER_ID_MAX] = "";
    snprintf(child, sizeof child, "%s", json_string_value(json_object_get(res, "id")) ?: "");
    json_decref(res);
    if (rc != TRIGGER_OK)
        return rc;
    json_t *cw = NULL;
    rc = await_waitpoint(ctx, by_child_run, child, &cw);
    if (rc == TRIGGER_OK) {
        *ok = !json_is_true(json_object_get(cw, "outputIsError"));
        *output_json = dup_or_null(json_string_value(json_object_get(cw, "output")));
    }
    json_decref(cw);
    return rc;
}

/* ---- the run loop ----------------------------------------------------- */

static const task_def *find_task(trigger_worker *w, const char *id)
{
    for (size_t i = 0; i < w->n_tasks; i++)
        if (strcmp(w->tasks[i].id, id) == 0)
            return &w->tasks[i];
    return NULL;
}

/* The retry delay after failed attempt n, or -1 when there is none left. */
static long long retry_delay(const trigger_task_config *cfg, int attempt, unsigned *seed)
{
    if (attempt >= cfg->max_attempts)
        return -1;
    double r = cfg->no_randomize ? 1.0 : 1.0 + (double)rand_r(seed) / ((double)RAND_MAX + 1.0);
    double ms = r * cfg->min_timeout_ms * pow(cfg->factor, attempt - 1);
    if (ms > cfg->max_timeout_ms)
        ms = cfg->max_timeout_ms;
    return llround(ms);
}

static json_t *completion(trigger_ctx *ctx, int rc, char *output, long long dur, unsigned *seed)
{
    if (ctx->canceled)
        return json_pack("{s:s,s:b,s:{s:s,s:s}}", "id", ctx->run_id, "ok", 0, "error", "type",
                         "INTERNAL_ERROR", "code", "TASK_RUN_CANCELLED");
    if (rc == TRIGGER_OK) {
        json_t *o = json_pack("{s:b,s:s,s:s,s:{s:I}}", "ok", 1, "id", ctx->run_id, "outputType",
                              "application/json", "usage", "durationMs", (json_int_t)dur);
        if (output)
            json_object_set_new(o, "output", json_string(output));
        return o;
    }
    json_t *o = json_pack("{s:b,s:s,s:{s:s,s:s,s:s,s:s},s:b,s:{s:I}}", "ok", 0, "id", ctx->run_id,
                          "error", "type", "BUILT_IN_ERROR", "name", "Error", "message",
                          ctx->fail_msg ? ctx->fail_msg : "Task failed", "stackTrace", "",
                          "skippedRetrying", ctx->no_retry, "usage", "durationMs", (json_int_t)dur);
    long long delay = ctx->no_retry ? -1 : retry_delay(&ctx->task->cfg, ctx->attempt, seed);
    if (delay >= 0)
        json_object_set_new(o, "retry",
                            json_pack("{s:I,s:I}", "timestamp", (json_int_t)(now_ms() + delay),
                                      "delay", (json_int_t)delay));
    return o;
}

/* Starts an attempt of run_id at snapshot snap, unless msg already carries
 * one (triggerd's "startAttempts"); the start answer (new ref) or NULL. */
static json_t *start_attempt(trigger_client *c, json_t *msg, const char *run_id, const char *snap)
{
    json_t *start = json_incref(json_object_get(msg, "attempt"));
    if (json_is_object(json_object_get(start, "execution")))
        return start;
    json_decref(start);
    start = NULL;
    char path[512];
    snprintf(path, sizeof path, "/engine/v1/dev/runs/%s/snapshots/%s/attempts/start", run_id, snap);
    json_t *empty = json_object();
    int rc = post_json(c, path, empty, &start);
    json_decref(empty);
    if (rc != TRIGGER_OK) {
        json_decref(start);
        return NULL; /* triggerd requeues a run that is not started in time */
    }
    return start;
}

/* Runs the dequeued run msg, its attempts one after another while the
 * server answers a failure with RETRY_IMMEDIATELY (the run stays here: wait
 * the retry's delay, start the next attempt on the snapshot it gave). With
 * next, the last completion also asks for the next run (triggerd's
 * "dequeue" extension) and its answer is returned (a new reference, or
 * NULL), so the caller goes on without a dequeue. */
static json_t *execute(trigger_worker *w, trigger_client *c, slot *sl, json_t *msg,
                       unsigned *seed, json_t *next)
{
    json_t *run = json_object_get(msg, "run");
    const char *run_id = json_string_value(json_object_get(run, "friendlyId"));
    const char *snap0 =
        json_string_value(json_object_get(json_object_get(msg, "snapshot"), "friendlyId"));
    if (!run_id || !snap0)
        return NULL;
    char snap[128], path[512];
    snprintf(snap, sizeof snap, "%s", snap0);
    json_t *res = NULL;
    for (json_t *m = msg;; m = NULL) {
        json_t *start = start_attempt(c, m, run_id, snap);
        if (!start)
            break;
        json_t *ex = json_object_get(start, "execution");
        const char *task_id =
            json_string_value(json_object_get(json_object_get(ex, "task"), "id"));
        const char *payload =
            json_string_value(json_object_get(json_object_get(ex, "run"), "payload"));
        trigger_ctx ctx = {.w = w, .c = c, .slot = sl};
        snprintf(ctx.run_id, sizeof ctx.run_id, "%s", run_id);
        ctx.attempt =
            (int)json_integer_value(json_object_get(json_object_get(ex, "attempt"), "number"));
        ctx.task = task_id ? find_task(w, task_id) : NULL;
        pthread_mutex_lock(&sl->mu);
        snprintf(sl->run_id, sizeof sl->run_id, "%s", run_id);
        snprintf(sl->snapshot_id, sizeof sl->snapshot_id, "%s",
                 json_string_value(json_object_get(json_object_get(start, "snapshot"), "friendlyId"))
                     ?: "");
        sl->busy = true;
        pthread_mutex_unlock(&sl->mu);
        char *output = NULL;
        long long t0 = now_ms();
        int rc;
        if (ctx.task) {
            rc = ctx.task->fn(&ctx, payload && *payload ? payload : "null", &output, ctx.task->ud);
        } else {
            static const task_def missing = {.id = "unknown", .cfg = {.max_attempts = 1}};
            ctx.task = &missing;
            trigger_ctx_fail(&ctx, "Could not find task");
            rc = TRIGGER_EBADREQ;
        }
        json_t *comp = completion(&ctx, rc, output, now_ms() - t0, seed);
        free(output);
        free(ctx.fail_msg);
        long long delay = json_integer_value(json_object_get(json_object_get(comp, "retry"), "delay"));
        pthread_mutex_lock(&sl->mu);
        snprintf(path, sizeof path, "/engine/v1/dev/runs/%s/snapshots/%s/attempts/complete",
                 run_id, sl->snapshot_id);
        pthread_mutex_unlock(&sl->mu);
        json_t *body = json_pack("{s:o}", "completion", comp);
        pthread_mutex_lock(&w->mu);
        bool last = w->stop || (w->max_runs > 0 && w->done_runs + 1 >= w->max_runs);
        pthread_mutex_unlock(&w->mu);
        if (next && !last)
            json_object_set(body, "dequeue", next);
        json_decref(res);
        res = NULL;
        if (post_json(c, path, body, &res) != TRIGGER_OK) {
            json_decref(res);
            res = NULL;
        }
        json_decref(body);
        json_decref(start);
        json_t *result = json_object_get(res, "result");
        const char *status = json_string_value(json_object_get(result, "attemptStatus"));
        const char *again =
            json_string_value(json_object_get(json_object_get(result, "snapshot"), "friendlyId"));
        if (!status || strcmp(status, "RETRY_IMMEDIATELY") != 0 || !again)
            break;
        /* the run stays on this slot: keep its new snapshot alive meanwhile */
        pthread_mutex_lock(&sl->mu);
        snprintf(sl->snapshot_id, sizeof sl->snapshot_id, "%s", again);
        pthread_mutex_unlock(&sl->mu);
        snprintf(snap, sizeof snap, "%s", again);
        nap(delay > 0 && delay < 3600000 ? (unsigned)delay : 0);
    }
    pthread_mutex_lock(&sl->mu);
    sl->busy = false;
    pthread_mutex_unlock(&sl->mu);
    pthread_mutex_lock(&w->mu);
    w->done_runs++;
    if (w->max_runs > 0 && w->done_runs >= w->max_runs)
        w->stop = 1;
    pthread_mutex_unlock(&w->mu);
    if (!json_object_get(res, "dequeuedMessages")) {
        json_decref(res);
        return NULL;
    }
    return res;
}

typedef struct thread_arg {
    trigger_worker *w;
    slot *slot;
    unsigned seed;
} thread_arg;

static void *serve(void *p)
{
    thread_arg *a = p;
    trigger_worker *w = a->w;
    trigger_client *c = trigger_client_new(w->base_url, w->secret_key);
    if (!c)
        return NULL;
    json_t *body = json_pack("{s:s,s:[],s:i,s:i,s:b}", "currentWorker", w->worker_id, "oldWorkers",
                             "maxRuns", 1, "waitMs", DEQUEUE_WAIT_MS, "startAttempts", 1);
    json_t *next =
        json_pack("{s:s,s:i,s:b}", "currentWorker", w->worker_id, "maxRuns", 1, "startAttempts", 1);
    json_t *res = NULL; /* runs handed out with the last completion */
    while (!w->stop || res) {
        long long asked = now_ms();
        bool held = !res;
        if (!res && post_json(c, "/engine/v1/dev/dequeue", body, &res) != TRIGGER_OK) {
            res = NULL;
            nap(w->poll_ms * 5);
            continue;
        }
        json_t *msgs = json_object_get(res, "dequeuedMessages"), *m, *after = NULL;
        size_t i, n = json_array_size(msgs);
        json_array_foreach(msgs, i, m)
        {
            /* the last run's completion takes the next one in the same call */
            json_t *r = execute(w, c, a->slot, m, &a->seed, i + 1 == n ? next : NULL);
            if (r) {
                json_decref(after);
                after = r;
            }
        }
        /* an empty answer that came back early was not held (a server
         * without waitMs): pause, so this never spins */
        if (held && n == 0 && now_ms() - asked < DEQUEUE_WAIT_MS / 2)
            nap(w->poll_ms);
        json_decref(res);
        res = NULL;
        if (json_array_size(json_object_get(after, "dequeuedMessages")))
            res = after;
        else
            json_decref(after);
    }
    json_decref(next);
    json_decref(body);
    trigger_client_free(c);
    return NULL;
}

/* Keeps every executing run's snapshot alive (the server fails a run whose
 * heartbeats stop). */
static void *heartbeats(void *p)
{
    trigger_worker *w = p;
    trigger_client *c = trigger_client_new(w->base_url, w->secret_key);
    long long next = now_ms() + w->heartbeat_ms;
    while (c && !w->stop) {
        nap(w->heartbeat_ms < 500 ? w->heartbeat_ms / 5 + 1 : 100);
        if (now_ms() < next)
            continue;
        next = now_ms() + w->heartbeat_ms;
        for (int i = 0; i < w->threads; i++) {
            char path[512] = "";
            pthread_mutex_lock(&w->slots[i].mu);
            if (w->slots[i].busy)
                snprintf(path, sizeof path, "/engine/v1/dev/runs/%s/snapshots/%s/heartbeat",
                         w->slots[i].run_id, w->slots[i].snapshot_id);
            pthread_mutex_unlock(&w->slots[i].mu);
            if (path[0]) {
                json_t *hb = json_pack("{s:i,s:i}", "cpu", 0, "memory", 0);
                post_json(c, path, hb, NULL);
                json_decref(hb);
            }
        }
    }
    trigger_client_free(c);
    return NULL;
}

int trigger_worker_run(trigger_worker *w, long max_runs)
{
    trigger_client *c = trigger_client_new(w->base_url, w->secret_key);
    if (!c)
        return TRIGGER_ENOMEM;
    int rc = register_worker(w, c);
    trigger_client_free(c);
    if (rc != TRIGGER_OK)
        return rc;
    w->max_runs = max_runs;
    w->stop = 0;
    w->slots = calloc((size_t)w->threads, sizeof *w->slots);
    pthread_t *th = calloc((size_t)w->threads + 1, sizeof *th);
    thread_arg *args = calloc((size_t)w->threads, sizeof *args);
    if (!w->slots || !th || !args) {
        free(w->slots);
        free(th);
        free(args);
        return TRIGGER_ENOMEM;
    }
    for (int i = 0; i < w->threads; i++) {
        pthread_mutex_init(&w->slots[i].mu, NULL);
        args[i] = (thread_arg){w, &w->slots[i], (unsigned)(now_ms() ^ (i * 7919))};
        pthread_create(&th[i], NULL, serve, &args[i]);
    }
    pthread_create(&th[w->threads], NULL, heartbeats, w);
    for (int i = 0; i <= w->threads; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < w->threads; i++)
        pthread_mutex_destroy(&w->slots[i].mu);
    free(w->slots);
    w->slots = NULL;
    free(th);
    free(args);
    return TRIGGER_OK;
}
