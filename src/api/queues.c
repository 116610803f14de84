/*
 * api/queues.c - the queues API (spec/api.md 6.7, [39]-[43]): list,
 * retrieve, pause / resume, concurrency override / reset. The shapes are
 * the v4.5 webapp's QueueItem (toQueueItem); the engine (engine/queue.c)
 * does the work, and dequeue honours pauses and overrides.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "engine/queue.h"
#include "util/timefmt.h"

#define QUEUES_PER_PAGE 25
#define QUEUES_MAX_PER_PAGE 100
#define QUEUE_OVERRIDE_MAX 100000

json_t *api_present_queue(const engine_queue *q)
{
    const store_queue *r = &q->q;
    bool task = strncmp(r->name, "task/", 5) == 0;
    int64_t current = r->overridden_at ? r->override : r->limit;
    json_t *cur = current >= 0 ? json_integer(current) : json_null();
    json_t *over = json_null(), *at = json_null(), *base = json_null();
    if (r->overridden_at) {
        char iso[32];
        time_format_iso(r->overridden_at, iso);
        at = json_string(iso);
        over = json_integer(r->override);
        base = r->limit >= 0 ? json_integer(r->limit) : json_null();
    }
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:b,s:O,s:{s:o,s:o,s:o,s:o,s:n},s:b}", "id",
                     r->friendly_id, "name", task ? r->name + 5 : r->name, "type",
                     task ? "task" : "custom", "running", (json_int_t)q->running, "queued",
                     (json_int_t)q->queued, "paused", (int)r->paused, "concurrencyLimit", cur,
                     "concurrency", "current", cur, "base", base, "override", over, "overriddenAt",
                     at, "overriddenBy", "releaseConcurrencyOnWaitpoint", 1);
}

/* The queue a request names: path param 0 decoded once by the router, its
 * "%2F" turned back into "/" (the SDK escapes slashes twice), as type
 * ("id" by default, "task", "custom"). False for another type. */
static bool queue_ref_of(http_ctx *c, const char *type, queue_ref *ref)
{
    const char *raw = http_param(c, 0);
    size_t len = strlen(raw);
    char *key = http_sprintf(c, "%s", raw), *w = key;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '%' && raw[i + 1] == '2' && (raw[i + 2] == 'F' || raw[i + 2] == 'f')) {
            *w++ = '/';
            i += 2;
        } else {
            *w++ = raw[i];
        }
    }
    *w = 0;
    ref->key = key;
    if (!type || strcmp(type, "id") == 0)
        ref->type = QUEUE_REF_ID;
    else if (strcmp(type, "task") == 0)
        ref->type = QUEUE_REF_TASK;
    else if (strcmp(type, "custom") == 0)
        ref->type = QUEUE_REF_CUSTOM;
    else
        return false;
    return true;
}

/* A zod enum failure as fromZodError words it. */
static const char *enum_error(http_ctx *c, const char *expected, const char *path, json_t *got)
{
    if (!got)
        return http_sprintf(c, "Validation error: Required at \"%s\"", path);
    if (!json_is_string(got))
        return http_sprintf(c, "Validation error: Expected %s, received %s at \"%s\"", expected,
                            json_is_number(got)    ? "number"
                            : json_is_boolean(got) ? "boolean"
                            : json_is_null(got)    ? "null"
                            : json_is_array(got)   ? "array"
                                                   : "object",
                            path);
    return http_sprintf(
        c, "Validation error: Invalid enum value. Expected %s, received '%s' at \"%s\"", expected,
        json_string_value(got), path);
}

/* The body's type (default "id"); replies 400 and returns false when bad. */
static bool body_ref(http_ctx *c, json_t *body, queue_ref *ref)
{
    if (!json_is_object(body)) {
        http_reply_error(c, 400, "Validation error: Expected object, received array");
        return false;
    }
    json_t *t = json_object_get(body, "type");
    if (t && !json_is_string(t)) {
        http_reply_error(c, 400, enum_error(c, "'task' | 'custom' | 'id'", "type", t));
        return false;
    }
    if (!queue_ref_of(c, t ? json_string_value(t) : NULL, ref)) {
        http_reply_error(c, 400, enum_error(c, "'task' | 'custom' | 'id'", "type", t));
        return false;
    }
    return true;
}

static void reply_queue(http_ctx *c, engine_queue *q)
{
    http_reply_json(c, 200, api_present_queue(q));
    engine_queue_clear(q);
}

/* A page query value: a positive integer (z.coerce.number().int().positive()). */
static bool page_value(const char *v, int64_t *out)
{
    if (!v)
        return true;
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !isfinite(d) || d != floor(d) || d <= 0)
        return false;
    *out = d > 1e15 ? (int64_t)1e15 : (int64_t)d;
    return true;
}

void api_queues_list(http_ctx *c)
{
    int64_t page = 1, per = QUEUES_PER_PAGE;
    const char *bad = !page_value(http_query(c, "page"), &page)     ? "page"
                      : !page_value(http_query(c, "perPage"), &per) ? "perPage"
                                                                    : NULL;
    if (bad) {
        http_reply_json(c, 400,
                        json_pack("{s:s,s:[{s:s,s:[s]}]}", "error", "Query Error", "details",
                                  "message", "Expected a positive integer", "path", bad));
        return;
    }
    if (per > QUEUES_MAX_PER_PAGE)
        per = QUEUES_MAX_PER_PAGE;
    engine_queue *q = NULL;
    size_t n = 0;
    int64_t total = 0;
    err_t e = {0};
    if (page > (int64_t)1e12) /* past any row: an empty page, the offset kept in range */
        page = (int64_t)1e12;
    if (engine_queue_list(c->app->en, c->auth.env, page, per, &q, &n, &total, &e) != 0) {
        http_reply_error(c, 500, "Something went wrong, please try again.");
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, api_present_queue(&q[i]));
    engine_queues_free(q, n);
    http_reply_json(c, 200,
                    json_pack("{s:o,s:{s:I,s:I,s:I}}", "data", data, "pagination", "currentPage",
                              (json_int_t)page, "totalPages", (json_int_t)((total + per - 1) / per),
                              "count", (json_int_t)total));
}

void api_queues_retrieve(http_ctx *c)
{
    if (c->auth.kind != AUTH_SECRET) {
        scope_res res = {"queues", NULL};
        if (!http_authorize(c, "read", &res, 1))
            return;
    }
    queue_ref ref;
    const char *type = http_query(c, "type");
    if (!queue_ref_of(c, type, &ref)) {
        http_reply_json(c, 400,
                        json_pack("{s:s,s:[{s:s,s:[s]}]}", "error", "Query Error", "details",
                                  "message",
                                  http_sprintf(c,
                                               "Invalid enum value. Expected 'task' | 'custom' |"
                                               " 'id', received '%s'",
                                               type),
                                  "path", "type"));
        return;
    }
    engine_queue q;
    err_t e = {0};
    if (engine_queue_get(c->app->en, c->auth.env, &ref, &q, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    reply_queue(c, &q);
}

void api_queues_pause(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    queue_ref ref;
    if (!body_ref(c, body, &ref))
        return;
    json_t *action = json_object_get(body, "action");
    const char *a = json_string_value(action);
    if (!a || (strcmp(a, "pause") && strcmp(a, "resume"))) {
        http_reply_error(c, 400, enum_error(c, "'pause' | 'resume'", "action", action));
        return;
    }
    bool pause = strcmp(a, "pause") == 0;
    engine_queue q;
    err_t e = {0};
    if (engine_queue_pause(c->app->en, c->auth.env, &ref, pause, &q, &e) != 0) {
        if (e.code == ERR_NOT_FOUND)
            http_reply_error(c, 404, "queue-not-found");
        else
            http_reply_error(c, 400, "unknown-error");
        return;
    }
    if (!pause) /* the queue's runs go to a waiting dequeue at once */
        api_devhold_wake(c->app, c->auth.env->id);
    reply_queue(c, &q);
}

/* The override's absolute limit from {concurrencyLimit} or {percent}
 * (exactly one); replies 400 and returns false when bad. */
static bool override_limit(http_ctx *c, json_t *body, int64_t *limit)
{
    json_t *l = json_object_get(body, "concurrencyLimit");
    json_t *p = json_object_get(body, "percent");
    const char *msg = NULL;
    if (l && (!json_is_number(l) || json_number_value(l) != floor(json_number_value(l))))
        msg = json_is_number(l) ? "Expected integer, received float"
                                : "Expected number, received non-number";
    else if (l && json_number_value(l) < 0)
        msg = "Number must be greater than or equal to 0";
    else if (l && json_number_value(l) > QUEUE_OVERRIDE_MAX)
        msg = "Number must be less than or equal to 100000";
    if (msg) {
        http_reply_error(c, 400,
                         http_sprintf(c, "Validation error: %s at \"concurrencyLimit\"", msg));
        return false;
    }
    if (p && (!json_is_number(p) || !(json_number_value(p) > 0) || json_number_value(p) > 100)) {
        http_reply_error(c, 400,
                         json_is_number(p)
                             ? (json_number_value(p) > 100
                                    ? "Validation error: Number must be less than or equal to 100"
                                      " at \"percent\""
                                    : "Validation error: Number must be greater than 0 at"
                                      " \"percent\"")
                             : "Validation error: Expected number at \"percent\"");
        return false;
    }
    if (!l == !p) {
        http_reply_error(
            c, 400, "Validation error: Provide exactly one of `concurrencyLimit` or `percent`");
        return false;
    }
    *limit = l ? (int64_t)json_number_value(l)
               : engine_queue_percent_limit(c->app->en, json_number_value(p));
    return true;
}

void api_queues_override(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    queue_ref ref;
    int64_t limit = 0;
    if (!body_ref(c, body, &ref) || !override_limit(c, body, &limit))
        return;
    engine_queue q;
    err_t e = {0};
    if (engine_queue_override(c->app->en, c->auth.env, &ref, limit, c->now, &q, &e) != 0) {
        if (e.code == ERR_NOT_FOUND)
            http_reply_error(c, 404, "Queue not found");
        else
            http_reply_err(c, &e);
        return;
    }
    api_devhold_wake(c->app, c->auth.env->id); /* a raised limit frees slots */
    reply_queue(c, &q);
}

void api_queues_reset(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    queue_ref ref;
    if (!body_ref(c, body, &ref))
        return;
    engine_queue q;
    err_t e = {0};
    if (engine_queue_reset(c->app->en, c->auth.env, &ref, &q, &e) != 0) {
        if (e.code == ERR_NOT_FOUND)
            http_reply_error(c, 404, "Queue not found");
        else
            http_reply_err(c, &e);
        return;
    }
    api_devhold_wake(c->app, c->auth.env->id);
    reply_queue(c, &q);
}
