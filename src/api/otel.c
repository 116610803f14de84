/*
 * api/otel.c - OTLP/HTTP JSON from task processes (docs/dev-protocol.md
 * 4.5): log records and spans are kept per run, found by their
 * "$metadata.ctx.run.id" attribute, and read back through
 * GET /api/v1/runs/{id}/events and as the run's trace (api/trace.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/id.h"
#include "util/timefmt.h"

/* The value of an OTLP AnyValue as JSON (borrowed parts copied). */
static json_t *any_value(json_t *v)
{
    json_t *x;
    if ((x = json_object_get(v, "stringValue")))
        return json_incref(x);
    if ((x = json_object_get(v, "boolValue")))
        return json_incref(x);
    if ((x = json_object_get(v, "intValue"))) {
        if (json_is_string(x))
            return json_integer(strtoll(json_string_value(x), NULL, 10));
        return json_incref(x);
    }
    if ((x = json_object_get(v, "doubleValue")))
        return json_incref(x);
    return json_null();
}

/* Flattens an OTLP attribute list into an object; *run gets the run id,
 * *partial whether the span is a partial one and *partial_id the id of the
 * span it stands for ("$span.span_id"). */
static json_t *attributes(json_t *list, const char **run, bool *partial, const char **partial_id)
{
    json_t *o = json_object();
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        const char *k = json_string_value(json_object_get(a, "key"));
        if (!k)
            continue;
        json_t *v = any_value(json_object_get(a, "value"));
        if (strcmp(k, "$metadata.ctx.run.id") == 0 && json_is_string(v))
            *run = json_string_value(json_object_get(json_object_get(a, "value"), "stringValue"));
        if (partial && strcmp(k, "$span.partial") == 0 && json_is_true(v))
            *partial = true;
        if (partial_id && strcmp(k, "$span.span_id") == 0 && json_is_string(v))
            *partial_id =
                json_string_value(json_object_get(json_object_get(a, "value"), "stringValue"));
        if (k[0] != '$')
            json_object_set_new(o, k, v);
        else
            json_decref(v);
    }
    return o;
}

static int64_t nanos(json_t *v)
{
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    if (json_is_number(v))
        return (int64_t)json_number_value(v);
    return 0;
}

static int64_t nanos_to_ms(json_t *v)
{
    return nanos(v) / 1000000;
}

/* A span's OTLP events as the platform keeps them (spanEventsToEventEvents):
 * [{name, time, properties}], as JSON text in pool memory, or NULL. */
static const char *span_events(http_ctx *c, json_t *list)
{
    if (!json_array_size(list))
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(list, i, ev)
    {
        char at[32];
        time_format_iso(nanos_to_ms(json_object_get(ev, "timeUnixNano")), at);
        const char *run = NULL;
        json_t *props = attributes(json_object_get(ev, "attributes"), &run, NULL, NULL);
        const char *name = json_string_value(json_object_get(ev, "name"));
        json_array_append_new(out, json_pack("{s:s,s:s,s:o}", "name", name ? name : "", "time", at,
                                             "properties", props));
    }
    char *t = jsontext_dumps(out, JSON_COMPACT);
    json_decref(out);
    const char *r = http_sprintf(c, "%s", t ? t : "[]");
    free(t);
    return r;
}

/* A new 16-hex-digit span id in pool memory (a log record gets its own,
 * under the span it was written in, as otlpTransform does). */
static const char *new_span_id(http_ctx *c)
{
    unsigned char b[8];
    id_random_bytes(b, sizeof b);
    char *hex = http_sprintf(c, "%016d", 0);
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return hex;
}

/* The event level of a log record, from its OTLP severityNumber as the real
 * server does (otlpTransform logLevelToEventLevel): TRACE 1-4, DEBUG 5-8,
 * INFO 9-12, WARN 13-16, ERROR 17-24 (FATAL too), INFO when absent. The
 * SDK's severityText ("log", "Log", ...) is not a level. */
static const char *severity_level(json_t *num)
{
    json_int_t n = json_is_integer(num) ? json_integer_value(num) : 0;
    if (json_is_string(num))
        n = strtoll(json_string_value(num), NULL, 10);
    if (n >= 1 && n <= 4)
        return "TRACE";
    if (n >= 5 && n <= 8)
        return "DEBUG";
    if (n >= 13 && n <= 16)
        return "WARN";
    if (n >= 17 && n <= 24)
        return "ERROR";
    return "INFO";
}

/* Stores ev (its time, message and attributes filled here) for run. */
static void add_event(http_ctx *c, const char *run, int64_t ms, const char *msg, json_t *rec,
                      json_t *attrs, store_event *ev)
{
    char *at = jsontext_dumps(attrs, JSON_COMPACT);
    ev->time_ms = ms ? ms : c->now;
    ev->message = msg ? msg : "";
    ev->trace_id = json_string_value(json_object_get(rec, "traceId"));
    ev->attributes = at;
    engine_event_add(c->app->en, run, ev);
    free(at);
}

void api_otel_logs(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    size_t i, j, k;
    json_t *rl, *sl, *rec;
    json_array_foreach(json_object_get(body, "resourceLogs"), i, rl)
    {
        json_array_foreach(json_object_get(rl, "scopeLogs"), j, sl)
        {
            json_array_foreach(json_object_get(sl, "logRecords"), k, rec)
            {
                const char *run = NULL;
                json_t *attrs = attributes(json_object_get(rec, "attributes"), &run, NULL, NULL);
                json_t *b = json_object_get(rec, "body");
                const char *msg = json_string_value(json_object_get(b, "stringValue"));
                const char *text = json_string_value(json_object_get(rec, "severityText"));
                if (!msg)
                    msg = http_sprintf(c, "%s log", text ? text : "");
                const char *level = severity_level(json_object_get(rec, "severityNumber"));
                store_event ev = {
                    .level = level,
                    .span_id = new_span_id(c),
                    .parent_id = json_string_value(json_object_get(rec, "spanId")),
                    .is_error = strcmp(level, "ERROR") == 0,
                };
                if (run)
                    add_event(c, run, nanos_to_ms(json_object_get(rec, "timeUnixNano")), msg, rec,
                              attrs, &ev);
                json_decref(attrs);
            }
        }
    }
    http_reply_json(c, 200, json_object());
}

void api_otel_traces(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    size_t i, j, k;
    json_t *rs, *ss, *span;
    json_array_foreach(json_object_get(body, "resourceSpans"), i, rs)
    {
        json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss)
        {
            json_array_foreach(json_object_get(ss, "spans"), k, span)
            {
                const char *run = NULL, *partial_id = NULL;
                bool partial = false;
                json_t *attrs =
                    attributes(json_object_get(span, "attributes"), &run, &partial, &partial_id);
                const char *id = json_string_value(json_object_get(span, "spanId"));
                int64_t start = nanos(json_object_get(span, "startTimeUnixNano"));
                int64_t end = nanos(json_object_get(span, "endTimeUnixNano"));
                /* status.code 2 is ERROR (a number, or the enum's name) */
                json_t *code = json_object_get(json_object_get(span, "status"), "code");
                bool error = json_integer_value(code) == 2 ||
                             (json_is_string(code) &&
                              strcmp(json_string_value(code), "STATUS_CODE_ERROR") == 0);
                const char *parent = json_string_value(json_object_get(span, "parentSpanId"));
                store_event ev = {
                    .level = "trace",
                    .span_id = partial && partial_id ? partial_id : id,
                    .parent_id = parent && *parent ? parent : NULL,
                    .duration_ns = partial || end < start ? 0 : end - start,
                    .is_error = error,
                    .is_partial = partial,
                    .span_events = span_events(c, json_object_get(span, "events")),
                };
                if (run)
                    add_event(c, run, start / 1000000,
                              json_string_value(json_object_get(span, "name")), span, attrs, &ev);
                json_decref(attrs);
            }
        }
    }
    http_reply_json(c, 200, json_object());
}

void api_otel_metrics(http_ctx *c)
{
    http_reply_json(c, 200, json_object());
}

typedef struct events_ctx {
    json_t *arr;
    const char *run;
} events_ctx;

static void event_cb(void *ud, const store_event *ev)
{
    events_ctx *x = ud;
    if (ev->is_partial) /* getRunEvents: isPartial false */
        return;
    char at[32];
    time_format_iso(ev->time_ms, at);
    /* Spans are stored as "trace"; log levels upper case (rows written before
     * the severityNumber mapping hold the SDK's lower-case severityText). */
    bool span = ev->level && strcmp(ev->level, "trace") == 0;
    char level[16];
    snprintf(level, sizeof level, "%s", ev->level && *ev->level ? ev->level : "INFO");
    for (char *p = level; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    if (strcmp(level, "LOG") == 0)
        snprintf(level, sizeof level, "INFO");
    json_t *attrs = ev->attributes ? jsontext_loads(ev->attributes, 0, NULL) : NULL;
    json_t *o = json_pack("{s:s,s:s,s:s,s:{},s:s,s:i,s:b,s:b,s:b,s:s,s:[],s:s}", "spanId",
                          ev->span_id ? ev->span_id : "", "runId", x->run, "message",
                          ev->message ? ev->message : "", "style", "startTime", at, "duration", 0,
                          "isError", strcmp(level, "ERROR") == 0, "isPartial", 0, "isCancelled", 0,
                          "level", level, "events", "kind", span ? "SPAN" : "LOG");
    if (json_is_object(attrs))
        json_object_set_new(o, "properties", attrs);
    else
        json_decref(attrs);
    json_array_append_new(x->arr, o);
}

void api_run_events(http_ctx *c)
{
    store_run r = {0};
    err_t e = {0};
    if (engine_run_get(c->app->en, c->auth.env, http_param(c, 0), &r, &e) != 0) {
        http_add_header(c, "x-should-retry", "true");
        http_reply_error(c, 404, "Not found");
        return;
    }
    scope_res res[2] = {{"runs", r.friendly_id}, {"tasks", r.task}};
    bool ok = c->auth.kind == AUTH_SECRET || http_authorize(c, "read", res, 2);
    if (ok) {
        events_ctx x = {json_array(), r.friendly_id};
        store_event_each(c->app->st, r.friendly_id, event_cb, &x);
        http_reply_json(c, 200, json_pack("{s:o}", "events", x.arr));
    }
    store_run_clear(&r);
}
