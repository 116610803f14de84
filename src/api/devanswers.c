/*
 * api/devanswers.c - the run loop's answers as JSON text (devanswers.h).
 * Every member is written in the order the CLI's and libtrigger's readers
 * were first given it when these answers were jansson trees; optional
 * members are left out, never null (the CLI's zod schemas).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/devanswers.h"
#include "engine/status.h"
#include "util/id.h"
#include "util/timefmt.h"

/* cpu and memory as jansson writes those reals (what the answers had when
 * they were trees; the CLI's zod schema reads numbers) */
static const struct {
    const char *name;
    const char *cpu, *memory;
} presets[] = {
    {"micro", "0.25", "0.25"},   {"small-1x", "0.5", "0.5"},  {"small-2x", "1.0", "1.0"},
    {"medium-1x", "1.0", "2.0"}, {"medium-2x", "2.0", "4.0"}, {"large-1x", "4.0", "8.0"},
    {"large-2x", "8.0", "16.0"},
};

static void w_machine(jsonw *w, const char *name)
{
    size_t i = 1; /* small-1x */
    for (size_t k = 0; name && k < sizeof presets / sizeof *presets; k++)
        if (strcmp(presets[k].name, name) == 0)
            i = k;
    jsonw_obj(w);
    jsonw_kstr(w, "name", presets[i].name);
    jsonw_key(w, "cpu");
    jsonw_raw(w, presets[i].cpu, strlen(presets[i].cpu));
    jsonw_key(w, "memory");
    jsonw_raw(w, presets[i].memory, strlen(presets[i].memory));
    jsonw_kint(w, "centsPerMs", 0);
    jsonw_obj_end(w);
}

static void w_iso(jsonw *w, const char *k, int64_t ms)
{
    char buf[32];
    time_format_iso(ms, buf);
    jsonw_kstr(w, k, buf);
}

/* The writer forms of the two above, for the run loop's answers. */
void devanswers_snapshot(jsonw *w, const store_run *r, const char *id, const char *status,
                         const char *desc)
{
    jsonw_obj(w);
    jsonw_kstr(w, "id", id);
    jsonw_kstr(w, "friendlyId", id);
    jsonw_kstr(w, "executionStatus", status);
    jsonw_kstr(w, "description", desc ? desc : "");
    w_iso(w, "createdAt", r->snapshot_at);
    jsonw_obj_end(w);
}

void devanswers_base_run(jsonw *w, const store_run *r)
{
    jsonw_obj(w);
    jsonw_kstr(w, "id", r->friendly_id);
    jsonw_kstr(w, "friendlyId", r->friendly_id);
    jsonw_kstr(w, "status", status_db_name((run_status)r->status));
    if (r->attempt_count > 0)
        jsonw_kint(w, "attemptNumber", r->attempt_count);
    jsonw_obj_end(w);
}

static void w_message(jsonw *w, http_ctx *c, const store_project *p, dequeued_run *d)
{
    const store_run *r = &d->run;
    jsonw_obj(w);
    jsonw_kstr(w, "version", "1");
    jsonw_key(w, "snapshot");
    if (d->started) /* the message shows the dequeue's own snapshot */
        devanswers_snapshot(w, r, d->dequeued_snapshot, "PENDING_EXECUTING",
                            "Run was dequeued for execution");
    else
        devanswers_snapshot(w, r, r->snapshot_id, r->snapshot_status, r->snapshot_desc);
    jsonw_key(w, "completedWaitpoints");
    jsonw_arr(w);
    jsonw_arr_end(w);
    jsonw_key(w, "backgroundWorker");
    jsonw_obj(w);
    jsonw_kstr(w, "id", r->worker_id);
    jsonw_kstr(w, "friendlyId", r->worker_id);
    jsonw_kstr(w, "version", d->worker_version);
    jsonw_obj_end(w);
    jsonw_key(w, "deployment");
    jsonw_obj(w);
    jsonw_obj_end(w);
    jsonw_key(w, "run");
    jsonw_obj(w);
    jsonw_kstr(w, "id", r->friendly_id);
    jsonw_kstr(w, "friendlyId", r->friendly_id);
    jsonw_kbool(w, "isTest", r->is_test != 0);
    jsonw_key(w, "machine");
    w_machine(w, r->machine);
    jsonw_kint(w, "attemptNumber", d->started ? r->attempt_count : r->attempt_count + 1);
    jsonw_kstr(w, "masterQueue", "main");
    jsonw_key(w, "traceContext");
    jsonw_obj(w);
    jsonw_obj_end(w);
    jsonw_obj_end(w);
    jsonw_key(w, "environment");
    jsonw_obj(w);
    jsonw_kstr(w, "id", c->auth.env->id);
    jsonw_kstr(w, "type", c->auth.env->type);
    jsonw_obj_end(w);
    jsonw_key(w, "organization");
    jsonw_obj(w);
    jsonw_kstr(w, "id", p->org_id);
    jsonw_obj_end(w);
    jsonw_key(w, "project");
    jsonw_obj(w);
    jsonw_kstr(w, "id", p->id);
    jsonw_obj_end(w);
    w_iso(w, "dequeuedAt", c->now);
    if (d->started) {
        jsonw_key(w, "attempt");
        devanswers_start(w, c, p, r, &d->ai);
    }
    jsonw_obj_end(w);
}

void devanswers_dequeued(jsonw *w, http_ctx *c, dequeued_run *runs, size_t n, bool single)
{
    store_project p = {0};
    if (n)
        store_project_get(c->app->st, &p);
    if (!single)
        jsonw_arr(w);
    for (size_t i = 0; i < n; i++) {
        if (!single || i == 0)
            w_message(w, c, &p, &runs[i]);
        store_run_clear(&runs[i].run);
        attempt_info_clear(&runs[i].ai);
    }
    if (!single)
        jsonw_arr_end(w);
    free(runs);
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

/* A stored JSON text (tags, metadata) as the value it holds when it is of
 * the type wanted (is), else fallback (NULL: nothing, key included). */
static void w_stored(jsonw *w, const char *k, const char *text, int (*is)(const json_t *),
                     const char *fallback)
{
    json_t *v = text ? jsontext_loads(text, 0, NULL) : NULL;
    if (v && is(v))
        jsonw_kvalue(w, k, v);
    else if (fallback) {
        jsonw_key(w, k);
        jsonw_raw(w, fallback, strlen(fallback));
    }
    json_decref(v);
}

static int is_array(const json_t *v)
{
    return json_is_array(v);
}

static int is_object(const json_t *v)
{
    return json_is_object(v);
}

static void w_execution(jsonw *w, http_ctx *c, const store_project *p, const store_run *r,
                        const attempt_info *ai)
{
    const store_env *env = c->auth.env;
    jsonw_obj(w);
    jsonw_key(w, "attempt");
    jsonw_obj(w);
    jsonw_kint(w, "number", r->attempt_count);
    w_iso(w, "startedAt", c->now);
    jsonw_obj_end(w);
    jsonw_key(w, "run");
    jsonw_obj(w);
    jsonw_kstr(w, "id", r->friendly_id);
    jsonw_kstr(w, "payload", r->payload ? r->payload : "");
    jsonw_kstr(w, "payloadType", r->payload_type ? r->payload_type : "application/json");
    w_stored(w, "tags", r->tags ? r->tags : "[]", is_array, "[]");
    jsonw_kbool(w, "isTest", r->is_test != 0);
    jsonw_key(w, "traceContext");
    jsonw_obj(w);
    jsonw_kstr(w, "traceparent", traceparent(c, r));
    jsonw_obj_end(w);
    w_iso(w, "createdAt", r->created_at);
    w_iso(w, "startedAt", r->started_at);
    if (r->max_attempts > 0)
        jsonw_kint(w, "maxAttempts", r->max_attempts);
    if (r->max_duration_s > 0)
        jsonw_kint(w, "maxDuration", r->max_duration_s);
    jsonw_kstr(w, "version", ai->worker_version);
    /* the task-side input stream manager refuses .on/.once/.wait unless the
     * run says "v2"; it reads only this field, and output streams still pick
     * v1 from the create answer (api/streams.c) */
    jsonw_kstr(w, "realtimeStreamsVersion", "v2");
    if (r->idempotency_key)
        jsonw_kstr(w, "idempotencyKey", r->idempotency_key);
    if (r->metadata && (!r->metadata_type || strcmp(r->metadata_type, "application/json") == 0))
        w_stored(w, "metadata", r->metadata, is_object, NULL);
    if (r->parent_id)
        jsonw_kstr(w, "parentTaskRunId", r->parent_id);
    if (r->root_id)
        jsonw_kstr(w, "rootTaskRunId", r->root_id);
    jsonw_obj_end(w);
    jsonw_key(w, "task");
    jsonw_obj(w);
    jsonw_kstr(w, "id", r->task);
    jsonw_kstr(w, "filePath", ai->task_file_path);
    if (ai->export_name)
        jsonw_kstr(w, "exportName", ai->export_name);
    jsonw_obj_end(w);
    jsonw_key(w, "queue");
    jsonw_obj(w);
    jsonw_kstr(w, "id", r->queue);
    jsonw_kstr(w, "name", r->queue);
    jsonw_obj_end(w);
    jsonw_key(w, "environment");
    jsonw_obj(w);
    jsonw_kstr(w, "id", env->id);
    jsonw_kstr(w, "slug", env->slug);
    jsonw_kstr(w, "type", env->type);
    jsonw_obj_end(w);
    jsonw_key(w, "organization");
    jsonw_obj(w);
    jsonw_kstr(w, "id", p->org_id);
    jsonw_kstr(w, "slug", p->org_slug);
    jsonw_kstr(w, "name", p->org_title);
    jsonw_obj_end(w);
    jsonw_key(w, "project");
    jsonw_obj(w);
    jsonw_kstr(w, "id", p->id);
    jsonw_kstr(w, "ref", p->ref);
    jsonw_kstr(w, "slug", p->slug);
    jsonw_kstr(w, "name", p->name);
    jsonw_obj_end(w);
    jsonw_key(w, "machine");
    w_machine(w, r->machine);
    if (r->batch_id) {
        jsonw_key(w, "batch");
        jsonw_obj(w);
        jsonw_kstr(w, "id", r->batch_id);
        jsonw_obj_end(w);
    }
    jsonw_obj_end(w);
}

static void put_var(void *ud, const store_env_var *v)
{
    json_object_set_new(ud, engine_env_var_run_name(v->name), json_string(v->value));
}

/* The attempt start answer for r, just started. */
void devanswers_start(jsonw *w, http_ctx *c, const store_project *p, const store_run *r,
                      const attempt_info *ai)
{
    /* The environment's variables, then the platform's own over them: the CLI
     * (4.8) builds the run's process.env from these (dev-protocol 3.2), not
     * from the variables it fetched when the worker started. A tree: a
     * later name replaces an earlier one in its place. */
    json_t *env = json_object();
    engine_env_var_each(c->app->en, c->auth.env, put_var, env);
    json_object_set_new(env, "TRIGGER_OTEL_EXPORTER_OTLP_ENDPOINT",
                        json_string(http_sprintf(c, "%s/otel", http_origin(c))));
    json_object_set_new(env, "TRIGGER_RUN_ID", json_string(r->id));
    if (strcmp(c->auth.env->type, "DEVELOPMENT") != 0) {
        /* a deployed worker's task process has no CLI to set these */
        json_object_set_new(env, "TRIGGER_API_URL", json_string(http_origin(c)));
        json_object_set_new(env, "TRIGGER_SECRET_KEY", json_string(auth_env_key(c->auth.env)));
    }
    jsonw_obj(w);
    jsonw_key(w, "run");
    devanswers_base_run(w, r);
    jsonw_key(w, "snapshot");
    devanswers_snapshot(w, r, r->snapshot_id, r->snapshot_status, r->snapshot_desc);
    jsonw_key(w, "execution");
    w_execution(w, c, p, r, ai);
    jsonw_kvalue(w, "envVars", env);
    jsonw_obj_end(w);
    json_decref(env);
}
