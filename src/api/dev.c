/*
 * api/dev.c - the routes `trigger.dev dev` speaks (docs/dev-protocol.md):
 * CLI bootstrap (whoami, project env, config, env vars, presence), worker
 * registration, and the run loop (dequeue, attempts, heartbeats, snapshots,
 * disconnect). Shapes follow the CLI's zod schemas: optional fields are
 * left out, never null.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/devpush.h"
#include "realtime/realtime.h"
#include "engine/schedules.h"
#include "engine/status.h"
#include "util/id.h"
#include "util/timefmt.h"

static void set_iso(json_t *o, const char *k, int64_t ms)
{
    char buf[32];
    time_format_iso(ms, buf);
    json_object_set_new(o, k, json_string(buf));
}

static void holds_release(devhold *dh, const char *env_id);

/* The project must be ours: 404 {"error":"Project not found"} otherwise. */
static bool project_ok(http_ctx *c, store_project *p)
{
    if (store_project_get(c->app->st, p) == 0 && strcmp(p->ref, http_param(c, 0)) == 0)
        return true;
    http_reply_error(c, 404, "Project not found");
    return false;
}

void api_platform_notifications(http_ctx *c)
{
    http_reply_json(c, 200, json_pack("{s:n}", "notification"));
}

/* GET /api/v1/projects/{ref}/{env}: the env's key and where to reach us. */
void api_project_env(http_ctx *c)
{
    store_project p = {0};
    if (!project_ok(c, &p))
        return;
    const store_env *env = auth_env_by_slug(c->app->au, http_param(c, 1));
    if (!env) {
        http_reply_error(c, 404, "Environment not found");
        return;
    }
    http_reply_json(c, 200,
                    json_pack("{s:s,s:s,s:s,s:s}", "apiKey", env->api_key, "name", p.name, "apiUrl",
                              http_origin(c), "projectId", p.id));
}

/* GET /engine/v1/dev/push (triggerd's own): the push channel's counters. */
void api_dev_push_stats(http_ctx *c)
{
    devpush_stats st;
    devpush_stats_get(c->app->push, &st);
    http_reply_json(c, 200,
                    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:I}", "sockets",
                              (json_int_t)st.sockets, "connected", (json_int_t)st.connected,
                              "connects", (json_int_t)st.connects, "authFailures",
                              (json_int_t)st.auth_failures, "notifies", (json_int_t)st.notifies,
                              "received", (json_int_t)st.received, "pingTimeouts",
                              (json_int_t)st.ping_timeouts, "subscriptions",
                              (json_int_t)st.subscriptions, "listening",
                              devpush_env_listening(c->app->push, c->auth.env->id),
                              "workloadConnects", (json_int_t)st.workload_connects));
}

/* The dequeue intervals are the CLI's sleeps between dequeues (after runs,
 * after none). A CLI on the push channel has its empty dequeues held open
 * (see "held dequeues"), so it asks again at once after runs and soon
 * after an empty answer, which comes at most every HOLD_CLI_MS; a CLI
 * without the channel polls every 100 ms, a request triggerd answers
 * from an index seek. */
void api_dev_config(http_ctx *c)
{
    http_reply_json(c, 200,
                    json_pack("{s:s,s:i,s:i,s:i,s:s}", "environmentId", c->auth.env->id,
                              "dequeueIntervalWithRun", 0, "dequeueIntervalWithoutRun", 100,
                              "maxConcurrentRuns", 25, "engineUrl", http_origin(c)));
}

/* Presence is only the server's "dev CLI connected" state; one event and a
 * close is enough (the client reconnects, every 3 s: the eventsource
 * package's default). Each connection counts as the CLI seen, as the
 * platform's presence key, so a CLI at its run limit (which stops
 * dequeuing) still gets its schedules. */
void api_dev_presence(http_ctx *c)
{
    engine_dev_seen(c->app->en, c->auth.env->id, c->now);
    char now[32];
    time_format_iso(c->now, now);
    const char *body = http_sprintf(
        c, "event: start\ndata: Started %s\n\nevent: time\ndata: %s\n\n", c->auth.env->id, now);
    http_add_header(c, "cache-control", "no-cache");
    http_reply_raw(c, 200, "text/event-stream", body, strlen(body));
}

void api_background_workers(http_ctx *c)
{
    store_project p = {0};
    if (!project_ok(c, &p))
        return;
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *md = json_object_get(body, "metadata");
    if (!json_is_boolean(json_object_get(body, "localOnly")) || !json_is_object(md) ||
        !json_is_string(json_object_get(md, "packageVersion"))) {
        http_reply_json(c, 400, json_pack("{s:s,s:[]}", "error", "Invalid body", "issues"));
        return;
    }
    worker_info wi;
    err_t e = {0};
    if (engine_worker_register(c->app->en, c->auth.env, md, http_origin(c), c->now, &wi, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    holds_release(c->app->holds, c->auth.env->id); /* their next dequeue names this worker */
    http_reply_json(c, 200,
                    json_pack("{s:s,s:s,s:s}", "id", wi.id, "version", wi.version, "contentHash",
                              wi.content_hash));
}

/* ---- run loop --------------------------------------------------------- */

static const struct {
    const char *name;
    double cpu, memory;
} presets[] = {
    {"micro", 0.25, 0.25}, {"small-1x", 0.5, 0.5}, {"small-2x", 1, 1},  {"medium-1x", 1, 2},
    {"medium-2x", 2, 4},   {"large-1x", 4, 8},     {"large-2x", 8, 16},
};

static json_t *machine_json(const char *name)
{
    size_t i = 1; /* small-1x */
    for (size_t k = 0; name && k < sizeof presets / sizeof *presets; k++)
        if (strcmp(presets[k].name, name) == 0)
            i = k;
    return json_pack("{s:s,s:f,s:f,s:i}", "name", presets[i].name, "cpu", presets[i].cpu, "memory",
                     presets[i].memory, "centsPerMs", 0);
}

static json_t *snapshot_json(const store_run *r)
{
    json_t *s = json_pack("{s:s,s:s,s:s,s:s}", "id", r->snapshot_id, "friendlyId", r->snapshot_id,
                          "executionStatus", r->snapshot_status, "description",
                          r->snapshot_desc ? r->snapshot_desc : "");
    set_iso(s, "createdAt", r->snapshot_at);
    return s;
}

static json_t *base_run_json(const store_run *r)
{
    json_t *o = json_pack("{s:s,s:s,s:s}", "id", r->friendly_id, "friendlyId", r->friendly_id,
                          "status", status_db_name((run_status)r->status));
    if (r->attempt_count > 0)
        json_object_set_new(o, "attemptNumber", json_integer(r->attempt_count));
    return o;
}

/* Answers c with runs[0..n) (consumed) as DevDequeueResponseBody, or, for
 * a warm start (single), the one DequeuedMessage (503 when none: the
 * controller's client treats that as "no run", the supervisor restarts it). */
static void reply_dequeued_as(http_ctx *c, dequeued_run *runs, size_t n, bool single);

static void reply_dequeued(http_ctx *c, dequeued_run *runs, size_t n)
{
    reply_dequeued_as(c, runs, n, false);
}

static void reply_dequeued_as(http_ctx *c, dequeued_run *runs, size_t n, bool single)
{
    store_project p = {0};
    store_project_get(c->app->st, &p);
    json_t *msgs = json_array();
    for (size_t i = 0; i < n; i++) {
        store_run *r = &runs[i].run;
        json_t *m = json_pack(
            "{s:s,s:o,s:[],s:{s:s,s:s,s:s},s:{},s:{s:s,s:s,s:b,s:o,s:I,s:s,s:{}},s:{s:s,s:s},"
            "s:{s:s},s:{s:s}}",
            "version", "1", "snapshot", snapshot_json(r), "completedWaitpoints", "backgroundWorker",
            "id", r->worker_id, "friendlyId", r->worker_id, "version", runs[i].worker_version,
            "deployment", "run", "id", r->friendly_id, "friendlyId", r->friendly_id, "isTest",
            r->is_test != 0, "machine", machine_json(r->machine), "attemptNumber",
            (json_int_t)(r->attempt_count + 1), "masterQueue", "main", "traceContext",
            "environment", "id", c->auth.env->id, "type", c->auth.env->type, "organization", "id",
            p.org_id, "project", "id", p.id);
        set_iso(m, "dequeuedAt", c->now);
        json_array_append_new(msgs, m);
        store_run_clear(r);
    }
    free(runs);
    if (!single) {
        http_reply_json(c, 200, json_pack("{s:o}", "dequeuedMessages", msgs));
    } else if (json_array_size(msgs)) {
        http_reply_json(c, 200, json_incref(json_array_get(msgs, 0)));
        json_decref(msgs);
    } else {
        json_decref(msgs);
        http_reply_error(c, 503, "No run");
    }
}

/* ---- held dequeues ------------------------------------------------------
 * An empty dequeue is held open (a long-poll) and answered as soon as a run
 * of its environment is ready, or empty at its deadline, when the caller
 * awaits the call: a CLI listening on the push channel (its #dequeueRuns
 * awaits the POST before it sleeps), or a caller that asks with "waitMs"
 * (a triggerd extension; libtrigger's worker). Anything written in the
 * environment wakes its holds (a trigger, a delay or a retry coming due, a
 * run finishing and freeing a slot); a 100 ms recheck covers runs whose
 * retry time passes without a write. A worker registering in the env ends
 * its holds empty, so the next dequeue names the new worker. */

#define HOLD_CLI_MS 10000
#define HOLD_MAX_MS 30000
#define HOLD_RECHECK_MS 100

typedef struct hold {
    devhold *dh;
    http_ctx *c;
    char *worker;
    size_t max;
    int64_t deadline;
    bool woken;
    bool own; /* a deployed worker's warm start: its own version's runs, one */
    machine_filter mf; /* and the machine presets its pool runs */
    struct hold *prev, *next;
} hold;

struct devhold {
    app *a;
    hold *list;
    uv_timer_t recheck, wake;
    int closing; /* handles still closing after api_devhold_free */
};

static void hold_unlink(hold *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        h->dh->list = h->next;
    if (h->next)
        h->next->prev = h->prev;
    if (!h->dh->list)
        uv_timer_stop(&h->dh->recheck);
}

static void hold_gone(void *ud)
{
    hold *h = ud;
    hold_unlink(h);
    free(h->worker);
    free(h);
}

/* Ends h: with runs[0..n), or empty. */
static void hold_end(hold *h, dequeued_run *runs, size_t n)
{
    http_ctx *c = h->c;
    bool own = h->own;
    http_unpark(c);
    hold_gone(h);
    c->now = time_now_ms();
    reply_dequeued_as(c, runs, n, own);
}

/* Tries h again; answers it when runs came or its time is up. */
static void hold_try(hold *h, int64_t now)
{
    h->woken = false;
    dequeued_run *runs = NULL;
    size_t n = 0;
    err_t e = {0};
    http_ctx *c = h->c;
    int rc = h->own
                 ? engine_dequeue_own(c->app->en, c->auth.env, h->worker, 1, &h->mf, now, &runs, &n,
                                      &e)
                 : engine_dequeue(c->app->en, c->auth.env, h->worker, h->max, now, &runs, &n, &e);
    if (rc != 0) {
        http_unpark(c);
        hold_gone(h);
        http_reply_err(c, &e);
        return;
    }
    if (n || now >= h->deadline)
        hold_end(h, runs, n);
    else
        free(runs);
}

static void on_recheck(uv_timer_t *t)
{
    devhold *dh = t->data;
    int64_t now = time_now_ms();
    for (hold *h = dh->list, *next; h; h = next) {
        next = h->next;
        hold_try(h, now);
    }
}

static void on_wake(uv_timer_t *t)
{
    devhold *dh = t->data;
    int64_t now = time_now_ms();
    for (hold *h = dh->list, *next; h; h = next) {
        next = h->next;
        if (h->woken)
            hold_try(h, now);
    }
}

static bool hold_want(void *ud, const store_run *r)
{
    devhold *dh = ud;
    for (hold *h = dh->list; h; h = h->next)
        if (r->env_id && strcmp(h->c->auth.env->id, r->env_id) == 0)
            return true;
    return false;
}

static void hold_seen(void *ud, const store_run *v)
{
    devhold *dh = ud;
    bool any = false;
    for (hold *h = dh->list; h; h = h->next)
        if (v->env_id && strcmp(h->c->auth.env->id, v->env_id) == 0)
            any = h->woken = true;
    if (any) /* after this batch is delivered, once per batch */
        uv_timer_start(&dh->wake, on_wake, 0, 0);
}

void api_devhold_wake(app *a, const char *env_id)
{
    devhold *dh = a->holds;
    bool any = false;
    for (hold *h = dh ? dh->list : NULL; h; h = h->next)
        if (strcmp(h->c->auth.env->id, env_id) == 0)
            any = h->woken = true;
    if (any)
        uv_timer_start(&dh->wake, on_wake, 0, 0);
}

/* Ends every hold of env empty. */
static void holds_release(devhold *dh, const char *env_id)
{
    for (hold *h = dh ? dh->list : NULL, *next; h; h = next) {
        next = h->next;
        if (!env_id || strcmp(h->c->auth.env->id, env_id) == 0)
            hold_end(h, NULL, 0);
    }
}

int api_devhold_new(app *a)
{
    devhold *dh = calloc(1, sizeof *dh);
    if (!dh)
        return -1;
    dh->a = a;
    realtime_watcher w = {hold_want, hold_seen, dh};
    if (!a->rt || realtime_watch(a->rt, &w) != 0) {
        free(dh);
        return -1;
    }
    uv_timer_init(a->loop, &dh->recheck);
    uv_timer_init(a->loop, &dh->wake);
    dh->recheck.data = dh->wake.data = dh;
    a->holds = dh;
    return 0;
}

static void on_hold_handle_closed(uv_handle_t *hd)
{
    devhold *dh = hd->data;
    if (--dh->closing == 0)
        free(dh);
}

void api_devhold_free(app *a)
{
    devhold *dh = a->holds;
    if (!dh)
        return;
    holds_release(dh, NULL);
    if (a->rt)
        realtime_unwatch(a->rt, dh);
    a->holds = NULL;
    dh->closing = 2;
    uv_close((uv_handle_t *)&dh->recheck, on_hold_handle_closed);
    uv_close((uv_handle_t *)&dh->wake, on_hold_handle_closed);
}

static hold *hold_start(http_ctx *c, const char *worker, size_t max, int64_t ms)
{
    devhold *dh = c->app->holds;
    hold *h = calloc(1, sizeof *h);
    if (!h)
        abort();
    h->dh = dh;
    h->c = c;
    h->worker = worker ? strdup(worker) : NULL;
    h->max = max;
    h->deadline = c->now + ms;
    if (!dh->list)
        uv_timer_start(&dh->recheck, on_recheck, HOLD_RECHECK_MS, HOLD_RECHECK_MS);
    h->next = dh->list;
    if (dh->list)
        dh->list->prev = h;
    dh->list = h;
    http_park(c, hold_gone, h);
    return h;
}

#define HOLD_WARM_MS 60000 /* beyond the warm-start client's own 20 s re-poll */

void api_dev_hold_one(http_ctx *c, const char *worker, const machine_filter *mf)
{
    dequeued_run *runs = NULL;
    size_t n = 0;
    err_t e = {0};
    if (engine_dequeue_own(c->app->en, c->auth.env, worker, 1, mf, c->now, &runs, &n, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    if (n == 0 && c->app->holds) {
        free(runs);
        hold *h = hold_start(c, worker, 1, HOLD_WARM_MS);
        h->own = true;
        h->mf = *mf;
        return;
    }
    reply_dequeued_as(c, runs, n, true);
}

void api_dev_dequeue(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    const char *worker = json_string_value(json_object_get(body, "currentWorker"));
    dequeued_run *runs = NULL;
    size_t n = 0;
    err_t e = {0};
    /* "maxRuns" and "waitMs" are triggerd extensions for workers that run
     * one at a time per poller (libtrigger); the CLI sends neither */
    json_t *mr = json_object_get(body, "maxRuns");
    size_t max = json_is_integer(mr) && json_integer_value(mr) > 0 && json_integer_value(mr) < 10
                     ? (size_t)json_integer_value(mr)
                     : 10;
    json_t *wm = json_object_get(body, "waitMs");
    int64_t wait = json_is_integer(wm) && json_integer_value(wm) > 0
                       ? (json_integer_value(wm) < HOLD_MAX_MS ? json_integer_value(wm)
                                                                : HOLD_MAX_MS)
                       : 0;
    if (!wait && devpush_env_listening(c->app->push, c->auth.env->id))
        wait = HOLD_CLI_MS;
    if (engine_dequeue(c->app->en, c->auth.env, worker, max, c->now, &runs, &n, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    if (n == 0 && wait > 0 && c->app->holds) {
        free(runs);
        hold_start(c, worker, max, wait);
        return;
    }
    reply_dequeued(c, runs, n);
}

/* The W3C traceparent of an attempt: its spans are children of the run's
 * span (the root of the run's trace); a run from before runs had one gets
 * a random parent. */
static const char *traceparent(http_ctx *c, const store_run *r)
{
    if (r->trace_id && strlen(r->trace_id) == 32 && r->span_id && strlen(r->span_id) == 16)
        return http_sprintf(c, "00-%s-%s-01", r->trace_id, r->span_id);
    unsigned char b[24];
    id_random_bytes(b, sizeof b);
    char hex[49];
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return http_sprintf(c, "00-%.32s-%.16s-01", hex, hex + 32);
}

static json_t *execution_json(http_ctx *c, const store_run *r, const attempt_info *ai)
{
    store_project p = {0};
    store_project_get(c->app->st, &p);
    const store_env *env = c->auth.env;
    json_t *tags = jsontext_loads(r->tags ? r->tags : "[]", 0, NULL);
    json_t *run = json_pack("{s:s,s:s,s:s,s:o,s:b,s:{s:s}}", "id", r->friendly_id, "payload",
                            r->payload ? r->payload : "", "payloadType",
                            r->payload_type ? r->payload_type : "application/json", "tags",
                            json_is_array(tags) ? tags : json_array(), "isTest", r->is_test != 0,
                            "traceContext", "traceparent", traceparent(c, r));
    set_iso(run, "createdAt", r->created_at);
    set_iso(run, "startedAt", r->started_at);
    if (r->max_attempts > 0)
        json_object_set_new(run, "maxAttempts", json_integer(r->max_attempts));
    if (r->max_duration_s > 0)
        json_object_set_new(run, "maxDuration", json_integer(r->max_duration_s));
    json_object_set_new(run, "version", json_string(ai->worker_version));
    /* the task-side input stream manager refuses .on/.once/.wait unless the
     * run says "v2"; it reads only this field, and output streams still pick
     * v1 from the create answer (api/streams.c) */
    json_object_set_new(run, "realtimeStreamsVersion", json_string("v2"));
    if (r->idempotency_key)
        json_object_set_new(run, "idempotencyKey", json_string(r->idempotency_key));
    if (r->metadata && (!r->metadata_type || strcmp(r->metadata_type, "application/json") == 0)) {
        json_t *md = jsontext_loads(r->metadata, 0, NULL);
        if (json_is_object(md))
            json_object_set_new(run, "metadata", md);
        else
            json_decref(md);
    }
    if (r->parent_id)
        json_object_set_new(run, "parentTaskRunId", json_string(r->parent_id));
    if (r->root_id)
        json_object_set_new(run, "rootTaskRunId", json_string(r->root_id));
    json_t *task = json_pack("{s:s,s:s}", "id", r->task, "filePath", ai->task_file_path);
    if (ai->export_name)
        json_object_set_new(task, "exportName", json_string(ai->export_name));
    json_t *attempt = json_pack("{s:I}", "number", (json_int_t)r->attempt_count);
    set_iso(attempt, "startedAt", c->now);
    json_t *ex = json_pack("{s:o,s:o,s:o,s:{s:s,s:s},s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},"
                           "s:{s:s,s:s,s:s,s:s},s:o}",
                           "attempt", attempt, "run", run, "task", task, "queue", "id", r->queue,
                           "name", r->queue, "environment", "id", env->id, "slug", env->slug,
                           "type", env->type, "organization", "id", p.org_id, "slug", p.org_slug,
                           "name", p.org_title, "project", "id", p.id, "ref", p.ref, "slug", p.slug,
                           "name", p.name, "machine", machine_json(r->machine));
    if (r->batch_id)
        json_object_set_new(ex, "batch", json_pack("{s:s}", "id", r->batch_id));
    return ex;
}

static void put_var(void *ud, const store_env_var *v)
{
    json_object_set_new(ud, engine_env_var_run_name(v->name), json_string(v->value));
}

void api_attempt_start(http_ctx *c)
{
    store_run r = {0};
    attempt_info ai;
    err_t e = {0};
    if (engine_attempt_start(c->app->en, c->auth.env, http_param(c, 0), http_param(c, 1), c->now,
                             &r, &ai, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    /* The environment's variables, then the platform's own over them: the CLI
     * (4.8) builds the run's process.env from these (dev-protocol 3.2), not
     * from the variables it fetched when the worker started. */
    json_t *env = json_object();
    engine_env_var_each(c->app->en, c->auth.env, put_var, env);
    json_object_set_new(env, "TRIGGER_OTEL_EXPORTER_OTLP_ENDPOINT",
                        json_string(http_sprintf(c, "%s/otel", http_origin(c))));
    json_object_set_new(env, "TRIGGER_RUN_ID", json_string(r.id));
    if (strcmp(c->auth.env->type, "DEVELOPMENT") != 0) {
        /* a deployed worker's task process has no CLI to set these */
        json_object_set_new(env, "TRIGGER_API_URL", json_string(http_origin(c)));
        json_object_set_new(env, "TRIGGER_SECRET_KEY", json_string(auth_env_key(c->auth.env)));
    }
    http_reply_json(c, 200,
                    json_pack("{s:o,s:o,s:o,s:o}", "run", base_run_json(&r), "snapshot",
                              snapshot_json(&r), "execution", execution_json(c, &r, &ai), "envVars",
                              env));
    attempt_info_clear(&ai);
    store_run_clear(&r);
}

void api_attempt_complete(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *completion = json_object_get(body, "completion");
    if (!json_is_object(completion)) {
        http_reply_error(c, 400, "completion is required");
        return;
    }
    store_run r = {0};
    attempt_status st;
    err_t e = {0};
    if (engine_attempt_complete(c->app->en, c->auth.env, http_param(c, 0), http_param(c, 1),
                                completion, c->now, &st, &r, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    static const char *const names[] = {"RUN_FINISHED", "RETRY_QUEUED", "RUN_PENDING_CANCEL"};
    http_reply_json(c, 200,
                    json_pack("{s:{s:s,s:o,s:o}}", "result", "attemptStatus", names[st], "snapshot",
                              snapshot_json(&r), "run", base_run_json(&r)));
    store_run_clear(&r);
}

void api_heartbeat(http_ctx *c)
{
    err_t e = {0};
    if (engine_heartbeat(c->app->en, c->auth.env, http_param(c, 0), http_param(c, 1), c->now, &e) !=
        0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:b}", "ok", 1));
}

json_t *api_execution_data(const store_run *r)
{
    json_t *cw = jsontext_loads(r->snapshot_waitpoints ? r->snapshot_waitpoints : "[]", 0, NULL);
    return json_pack("{s:s,s:o,s:o,s:o}", "version", "1", "snapshot", snapshot_json(r), "run",
                     base_run_json(r), "completedWaitpoints", json_is_array(cw) ? cw : json_array());
}

void api_snapshot_latest(http_ctx *c)
{
    store_run r = {0};
    err_t e = {0};
    if (engine_run_get(c->app->en, c->auth.env, http_param(c, 0), &r, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    if (!r.snapshot_id) {
        store_run_clear(&r);
        http_reply_error(c, 404, "No execution snapshot yet");
        return;
    }
    json_t *cw = jsontext_loads(r.snapshot_waitpoints ? r.snapshot_waitpoints : "[]", 0, NULL);
    http_reply_json(c, 200,
                    json_pack("{s:{s:s,s:o,s:o,s:o}}", "execution", "version", "1", "snapshot",
                              snapshot_json(&r), "run", base_run_json(&r), "completedWaitpoints",
                              json_is_array(cw) ? cw : json_array()));
    store_run_clear(&r);
}

void api_debug_log(http_ctx *c)
{
    /* the CLI logs every run:notify it receives (devSupervisor) */
    h2o_iovec_t b = http_body(c);
    json_t *body = b.len ? jsontext_loadb(b.base, b.len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(body, "message"));
    if (msg && strcmp(msg, "run:notify received by runner") == 0)
        devpush_count_received(c->app->push);
    json_decref(body);
    http_reply_raw(c, 204, NULL, "", 0);
}

void api_dev_disconnect(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *ids = json_object_get(body, "runFriendlyIds");
    size_t n = json_array_size(ids);
    if (n > 500) {
        http_reply_error(c, 400, "Too many runs");
        return;
    }
    const char **v = h2o_mem_alloc_pool(&c->req->pool, (n ? n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (json_is_string(json_array_get(ids, i)))
            v[k++] = json_string_value(json_array_get(ids, i));
    int64_t cancelled = 0;
    err_t e = {0};
    if (engine_disconnect(c->app->en, c->auth.env, v, k, c->now, &cancelled, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:I}", "cancelled", (json_int_t)cancelled));
}

/* ---- in-task waits ---------------------------------------------------- */

void api_wait_duration(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *d = json_object_get(body, "date");
    int64_t until;
    if (!json_is_string(d) || time_parse_iso(json_string_value(d), &until) != 0) {
        http_reply_error(c, 400, "date must be an ISO date");
        return;
    }
    int64_t ttl = 0;
    const char *ik = json_string_value(json_object_get(body, "idempotencyKey"));
    const char *ikttl = json_string_value(json_object_get(body, "idempotencyKeyTTL"));
    if (ikttl && dur_parse(ikttl, &ttl) != 0) {
        http_reply_error(c, 400, "Invalid idempotencyKeyTTL");
        return;
    }
    char wp[64];
    int64_t wait_until;
    err_t e = {0};
    if (engine_wait_duration(c->app->en, c->auth.env, http_param(c, 0), until, ik, ttl, c->now, wp,
                             &wait_until, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    json_t *o = json_pack("{s:{s:s}}", "waitpoint", "id", wp);
    set_iso(o, "waitUntil", wait_until);
    http_reply_json(c, 200, o);
}

void api_wait_token(http_ctx *c)
{
    err_t e = {0};
    if (engine_wait_token(c->app->en, c->auth.env, http_param(c, 0), http_param(c, 1), c->now,
                          &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:b}", "success", 1));
}
