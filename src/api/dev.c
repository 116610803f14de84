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
#include "engine/status.h"
#include "util/id.h"
#include "util/timefmt.h"

static void set_iso(json_t *o, const char *k, int64_t ms)
{
    char buf[32];
    time_format_iso(ms, buf);
    json_object_set_new(o, k, json_string(buf));
}

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

void api_dev_config(http_ctx *c)
{
    http_reply_json(c, 200,
                    json_pack("{s:s,s:i,s:i,s:i,s:s}", "environmentId", c->auth.env->id,
                              "dequeueIntervalWithRun", 250, "dequeueIntervalWithoutRun", 1000,
                              "maxConcurrentRuns", 25, "engineUrl", http_origin(c)));
}

/* Presence is only the server's "dev CLI connected" state; one event and a
 * close is enough (the client reconnects). */
void api_dev_presence(http_ctx *c)
{
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
    if (engine_worker_register(c->app->en, c->auth.env, md, c->now, &wi, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
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

void api_dev_dequeue(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    const char *worker = json_string_value(json_object_get(body, "currentWorker"));
    dequeued_run *runs = NULL;
    size_t n = 0;
    err_t e = {0};
    /* "maxRuns" is a triggerd extension for workers that run one at a time
     * per poller (libtrigger); the CLI does not send it */
    json_t *mr = json_object_get(body, "maxRuns");
    size_t max = json_is_integer(mr) && json_integer_value(mr) > 0 && json_integer_value(mr) < 10
                     ? (size_t)json_integer_value(mr)
                     : 10;
    if (engine_dequeue(c->app->en, c->auth.env, worker, max, c->now, &runs, &n, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
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
    http_reply_json(c, 200, json_pack("{s:o}", "dequeuedMessages", msgs));
}

/* A W3C traceparent for the attempt span. */
static const char *traceparent(http_ctx *c)
{
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
                            "traceContext", "traceparent", traceparent(c));
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
