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
#include "api/devanswers.h"
#include "api/devpush.h"
#include "realtime/realtime.h"
#include "engine/schedules.h"
#include "engine/status.h"
#include "util/id.h"
#include "util/jsonw.h"
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
static void reply_dequeued_as(http_ctx *c, dequeued_run *runs, size_t n, bool single)
{
    jsonw w = {0};
    if (single && n == 0) {
        free(runs);
        http_reply_error(c, 503, "No run");
        return;
    }
    if (!single) {
        jsonw_obj(&w);
        jsonw_key(&w, "dequeuedMessages");
    }
    devanswers_dequeued(&w, c, runs, n, single);
    if (!single)
        jsonw_obj_end(&w);
    http_reply_jsonw(c, 200, &w);
}

static void reply_dequeued(http_ctx *c, dequeued_run *runs, size_t n)
{
    reply_dequeued_as(c, runs, n, false);
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
    bool start; /* "startAttempts" */
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
/* Tries h again; answers it when runs came or its time is up. Returns
 * whether h is still held with nothing for it. */
static bool hold_try(hold *h, int64_t now)
{
    h->woken = false;
    dequeued_run *runs = NULL;
    size_t n = 0;
    err_t e = {0};
    http_ctx *c = h->c;
    int rc = h->own
                 ? engine_dequeue_own(c->app->en, c->auth.env, h->worker, 1, &h->mf, now, &runs, &n,
                                      &e)
                 : engine_dequeue(c->app->en, c->auth.env, h->worker, h->max, h->start, now, &runs,
                                  &n, &e);
    if (rc != 0) {
        http_unpark(c);
        hold_gone(h);
        http_reply_err(c, &e);
        return false;
    }
    if (n || now >= h->deadline) {
        hold_end(h, runs, n);
        return false;
    }
    free(runs);
    return true;
}

/* The (env, worker) pairs a pass over the holds found nothing for: the
 * other holds of that pair would find nothing either (one run woke eight
 * idle worker threads, and one of them took it), so they wait on. */
typedef struct dry_set {
    char env[8][32];
    char worker[8][64];
    size_t n;
} dry_set;

static bool dry_has(const dry_set *d, const hold *h)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->env[i], h->c->auth.env->id) == 0 &&
            strcmp(d->worker[i], h->worker ? h->worker : "") == 0)
            return true;
    return false;
}

/* Tries every hold (only the woken ones with only_woken), at most one
 * empty dequeue per (env, worker). */
static void holds_try(devhold *dh, bool only_woken)
{
    int64_t now = time_now_ms();
    dry_set dry = {.n = 0};
    for (hold *h = dh->list, *next; h; h = next) {
        next = h->next;
        if (only_woken && !h->woken)
            continue;
        if (dry_has(&dry, h)) {
            h->woken = false;
            if (now >= h->deadline)
                hold_end(h, NULL, 0);
            continue;
        }
        char env[32], worker[64];
        snprintf(env, sizeof env, "%s", h->c->auth.env->id);
        snprintf(worker, sizeof worker, "%s", h->worker ? h->worker : "");
        if (hold_try(h, now) && dry.n < sizeof dry.env / sizeof dry.env[0]) {
            memcpy(dry.env[dry.n], env, sizeof env);
            memcpy(dry.worker[dry.n], worker, sizeof worker);
            dry.n++;
        }
    }
}

static void on_recheck(uv_timer_t *t)
{
    holds_try(t->data, false);
}

static void on_wake(uv_timer_t *t)
{
    holds_try(t->data, true);
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

static hold *hold_start(http_ctx *c, const char *worker, size_t max, bool start, int64_t ms)
{
    devhold *dh = c->app->holds;
    hold *h = calloc(1, sizeof *h);
    if (!h)
        abort();
    h->dh = dh;
    h->c = c;
    h->worker = worker ? strdup(worker) : NULL;
    h->max = max;
    h->start = start;
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
        hold *h = hold_start(c, worker, 1, false, HOLD_WARM_MS);
        h->own = true;
        h->mf = *mf;
        return;
    }
    reply_dequeued_as(c, runs, n, true);
}

/* A dequeue body's "maxRuns" (triggerd's extension): 1..9, else 10. */
static size_t max_runs(json_t *body)
{
    json_t *mr = json_object_get(body, "maxRuns");
    return json_is_integer(mr) && json_integer_value(mr) > 0 && json_integer_value(mr) < 10
               ? (size_t)json_integer_value(mr)
               : 10;
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
    size_t max = max_runs(body);
    bool start = json_is_true(json_object_get(body, "startAttempts"));
    /* libtrigger's dequeues (they carry triggerd's extensions) are answered
     * before the fsync: a lost dequeue only hands the run out again. The
     * CLI's wait for it: the CLI subscribes to a run right after its dequeue,
     * and an answer ahead of the change's durable notify would have that
     * notify (of a snapshot the CLI already has) reach the new subscription */
    c->lazy_durable = start || json_object_get(body, "waitMs") || json_object_get(body, "maxRuns");
    json_t *wm = json_object_get(body, "waitMs");
    int64_t wait = json_is_integer(wm) && json_integer_value(wm) > 0
                       ? (json_integer_value(wm) < HOLD_MAX_MS ? json_integer_value(wm)
                                                                : HOLD_MAX_MS)
                       : 0;
    if (!wait && devpush_env_listening(c->app->push, c->auth.env->id))
        wait = HOLD_CLI_MS;
    if (engine_dequeue(c->app->en, c->auth.env, worker, max, start, c->now, &runs, &n, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    if (n == 0 && wait > 0 && c->app->holds) {
        free(runs);
        hold_start(c, worker, max, start, wait);
        return;
    }
    reply_dequeued(c, runs, n);
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
    store_project p = {0};
    store_project_get(c->app->st, &p);
    jsonw w = {0};
    devanswers_start(&w, c, &p, &r, &ai);
    http_reply_jsonw(c, 200, &w);
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
    static const char *const names[] = {"RUN_FINISHED", "RETRY_QUEUED", "RETRY_IMMEDIATELY",
                                        "RUN_PENDING_CANCEL"};
    jsonw w = {0};
    jsonw_obj(&w);
    jsonw_key(&w, "result");
    jsonw_obj(&w);
    jsonw_kstr(&w, "attemptStatus", names[st]);
    jsonw_key(&w, "snapshot");
    devanswers_snapshot(&w, &r, r.snapshot_id, r.snapshot_status, r.snapshot_desc);
    jsonw_key(&w, "run");
    devanswers_base_run(&w, &r);
    jsonw_obj_end(&w);
    store_run_clear(&r);
    /* "dequeue" (triggerd's extension, libtrigger's worker): the body of a
     * dequeue to run right after the completion, answered in
     * "dequeuedMessages" (empty when none could be taken, also when the
     * dequeue failed: the completion stands either way); one round trip
     * from one run to the next. None with RETRY_IMMEDIATELY: the worker
     * goes on with this run. */
    json_t *dq = json_object_get(body, "dequeue");
    if (json_is_object(dq) && st != ATTEMPT_RETRY_IMMEDIATELY) { /* that worker keeps this run */
        const char *worker = json_string_value(json_object_get(dq, "currentWorker"));
        dequeued_run *runs = NULL;
        size_t n = 0;
        err_t de = {0};
        if (engine_dequeue(c->app->en, c->auth.env, worker, max_runs(dq),
                           json_is_true(json_object_get(dq, "startAttempts")), c->now, &runs, &n,
                           &de) != 0) {
            runs = NULL;
            n = 0;
        }
        jsonw_key(&w, "dequeuedMessages");
        devanswers_dequeued(&w, c, runs, n, false);
    }
    jsonw_obj_end(&w);
    http_reply_jsonw(c, 200, &w);
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
