/*
 * api/trace.c - a run's trace and its spans (spec/api.md [23], [24]):
 * GET /api/v1/runs/{id}/trace as {trace: {traceId, rootSpan}} with nested
 * children (the SDK's RetrieveRunTraceResponseBody), or, when the latest
 * SDK asks for a page (page[size], retrieveRunTracePage), as flat spans;
 * GET /api/v1/runs/{id}/spans/{spanId} as RetrieveSpanDetailResponseBody.
 * The tree is engine_run_trace's (engine/trace.h).
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "engine/status.h"
#include "engine/trace.h"
#include "util/timefmt.h"

#define TRACE_PAGE_MAX 10000

/* The run of path param 0 the caller may read; replies 404 / 403 otherwise. */
static bool load_run(http_ctx *c, store_run *r)
{
    err_t e = {0};
    if (engine_run_get(c->app->en, c->auth.env, http_param(c, 0), r, &e) != 0) {
        http_add_header(c, "x-should-retry", "true");
        http_reply_error(c, 404, "Not found");
        return false;
    }
    if (!api_can_read_run(c, r)) {
        store_run_clear(r);
        return false;
    }
    return true;
}

static json_t *iso(int64_t ms)
{
    char at[32];
    time_format_iso(ms, at);
    return json_string(at);
}

/* A JSON text column (object or array) as a value, or NULL when absent or
 * not of that kind. */
static json_t *parsed(const char *text, bool array)
{
    json_t *v = text ? jsontext_loads(text, 0, NULL) : NULL;
    if (v && (array ? !json_is_array(v) : !json_is_object(v))) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* The common fields of a span (the SpanDetailedSummary data). */
static json_t *span_data(const trace_span *s)
{
    json_t *d = json_pack("{s:s,s:o,s:f,s:b,s:b,s:b,s:s}", "message", s->message, "startTime",
                          iso(s->start_ms), "duration", (double)s->duration_ns / 1e6, "isError",
                          s->is_error, "isPartial", s->is_partial, "isCancelled", s->is_cancelled,
                          "level", s->level);
    json_t *ev = parsed(s->events, true);
    if (ev)
        json_object_set_new(d, "events", ev);
    json_t *props = parsed(s->properties, false);
    json_object_set_new(d, "properties", props ? props : json_object());
    return d;
}

/* What the run's span carries beyond an OTLP span: the task, its worker
 * version, queue, machine and (JSON) output. */
static void root_data(json_t *d, const store_run *r)
{
    json_object_set_new(d, "taskSlug", json_string(r->task));
    if (r->version)
        json_object_set_new(d, "workerVersion", json_string(r->version));
    if (r->queue)
        json_object_set_new(d, "queueName", json_string(r->queue));
    if (r->machine)
        json_object_set_new(d, "machinePreset", json_string(r->machine));
    if (r->output && r->output_type && strcmp(r->output_type, "application/json") == 0) {
        json_t *out = jsontext_loads(r->output, JSON_DECODE_ANY, NULL);
        if (out)
            json_object_set_new(d, "output", out);
    }
}

/* The nested tree of t: every span's object made first, then each hung in
 * its parent's children, in t's (start) order. */
json_t *api_present_trace(const struct engine_trace *t, const store_run *r)
{
    json_t **obj = calloc(t->n, sizeof *obj);
    if (!obj)
        abort();
    for (size_t i = 0; i < t->n; i++) {
        const trace_span *s = &t->spans[i];
        json_t *d = span_data(s);
        if (i == 0)
            root_data(d, r);
        obj[i] = json_pack("{s:s,s:s,s:o,s:[]}", "id", s->id, "runId", r->friendly_id, "data", d,
                           "children");
        if (i > 0)
            json_object_set_new(obj[i], "parentId", json_string(t->spans[s->parent].id));
    }
    for (size_t i = 1; i < t->n; i++)
        json_array_append(json_object_get(obj[t->spans[i].parent], "children"), obj[i]);
    json_t *root = json_incref(obj[0]);
    for (size_t i = 0; i < t->n; i++)
        json_decref(obj[i]);
    free(obj);
    return root;
}

/* RetrieveRunTracePageResponseBody: spans after the cursor, flat. */
static void reply_page(http_ctx *c, const engine_trace *t, const store_run *r, const char *size,
                       const char *after)
{
    char *end;
    long limit = strtol(size, &end, 10);
    long from = after ? strtol(after, &end, 10) : 0;
    if (limit < 1 || *end || (after && (from < 0 || !*after))) {
        http_reply_json(c, 400,
                        json_pack("{s:s,s:[{s:s,s:[s]}]}", "error", "Query Error", "details",
                                  "message", "Expected a positive integer", "path",
                                  limit < 1 ? "page[size]" : "page[after]"));
        return;
    }
    if (limit > TRACE_PAGE_MAX)
        limit = TRACE_PAGE_MAX;
    json_t *data = json_array();
    size_t i = (size_t)from;
    for (; i < t->n && json_array_size(data) < (size_t)limit; i++) {
        const trace_span *s = &t->spans[i];
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:o,s:f,s:b,s:b,s:b,s:s}", "id", s->id, "runId", r->friendly_id,
                      "message", s->message, "startTime", iso(s->start_ms), "duration",
                      (double)s->duration_ns / 1e6, "isError", s->is_error, "isPartial",
                      s->is_partial, "isCancelled", s->is_cancelled, "level", s->level);
        if (i > 0)
            json_object_set_new(o, "parentId", json_string(t->spans[s->parent].id));
        json_array_append_new(data, o);
    }
    json_t *pagination = json_object();
    if (i < t->n)
        json_object_set_new(pagination, "next", json_string(http_sprintf(c, "%zu", i)));
    http_reply_json(
        c, 200,
        json_pack("{s:o,s:[],s:o}", "data", data, "attemptFailures", "pagination", pagination));
}

/* The run of the path and its trace; false once the error is answered. */
static bool load_trace(http_ctx *c, store_run *r, engine_trace *t)
{
    if (!load_run(c, r))
        return false;
    err_t e = {0};
    if (engine_run_trace(c->app->en, r, c->now, t, &e) != 0) {
        http_reply_err(c, &e);
        store_run_clear(r);
        return false;
    }
    return true;
}

void api_run_trace(http_ctx *c)
{
    store_run r = {0};
    engine_trace t;
    if (!load_trace(c, &r, &t))
        return;
    const char *size = http_query(c, "page[size]");
    if (size)
        reply_page(c, &t, &r, size, http_query(c, "page[after]"));
    else
        http_reply_json(c, 200,
                        json_pack("{s:{s:s,s:o}}", "trace", "traceId", t.trace_id, "rootSpan",
                                  api_present_trace(&t, &r)));
    engine_trace_clear(&t);
    store_run_clear(&r);
}

void api_run_span(http_ctx *c)
{
    store_run r = {0};
    engine_trace t;
    if (!load_trace(c, &r, &t))
        return;
    long i = engine_trace_find(&t, http_param(c, 1));
    if (i < 0) {
        http_reply_error(c, 404, "Span not found");
    } else {
        const trace_span *s = &t.spans[i];
        json_t *o =
            json_pack("{s:s,s:o,s:s,s:s,s:b,s:b,s:b,s:s,s:o,s:f}", "spanId", s->id, "parentId",
                      i ? json_string(t.spans[s->parent].id) : json_null(), "runId", r.friendly_id,
                      "message", s->message, "isError", s->is_error, "isPartial", s->is_partial,
                      "isCancelled", s->is_cancelled, "level", s->level, "startTime",
                      iso(s->start_ms), "durationMs", (double)s->duration_ns / 1e6);
        json_t *props = parsed(s->properties, false);
        if (props && json_object_size(props))
            json_object_set_new(o, "properties", props);
        else
            json_decref(props);
        json_t *ev = parsed(s->events, true);
        if (ev)
            json_object_set_new(o, "events", ev);
        http_reply_json(c, 200, o);
    }
    engine_trace_clear(&t);
    store_run_clear(&r);
}
