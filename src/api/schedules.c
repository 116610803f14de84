/*
 * api/schedules.c - schedules ([25]-[32], spec/api.md section 6.5): create
 * (an upsert by deduplicationKey), list (offset pages), retrieve, update,
 * delete, activate, deactivate, and the time zone list. Shapes follow the
 * real routes of v4.5 (apps/webapp/app/routes/api.v1.schedules*.ts),
 * including which of them omit nextRun for an inactive schedule.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "engine/cron.h"
#include "engine/schedules.h"
#include "util/timefmt.h"

typedef enum { NEXT_ALWAYS, NEXT_IF_ACTIVE } next_mode;

/* A ScheduleObject (new reference). in_list: the list route, which shows a
 * missing externalId as null. */
static json_t *present(http_ctx *c, const store_schedule *s, next_mode mode, bool in_list)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(s->friendly_id));
    json_object_set_new(o, "type", json_string(s->type));
    json_object_set_new(o, "task", json_string(s->task));
    json_object_set_new(o, "active", json_boolean(s->active));
    json_object_set_new(o, "generator",
                        json_pack("{s:s,s:s,s:s}", "type", "CRON", "expression", s->cron,
                                  "description", s->description));
    json_object_set_new(o, "timezone", json_string(s->timezone));
    if (s->external_id)
        json_object_set_new(o, "externalId", json_string(s->external_id));
    else if (in_list)
        json_object_set_new(o, "externalId", json_null());
    if (s->user_dedup)
        json_object_set_new(o, "deduplicationKey", json_string(s->dedup_key));
    json_object_set_new(o, "environments", engine_schedule_environments(c->app->en, s));
    if (mode == NEXT_ALWAYS || s->active) {
        int64_t at = engine_schedule_next_run(c->app->en, s, c->now);
        if (at) {
            char iso[32];
            time_format_iso(at, iso);
            json_object_set_new(o, "nextRun", json_string(iso));
        }
    }
    return o;
}

/* zod's issue for a field that is missing or not a string */
static json_t *issue(const char *field, json_t *v)
{
    const char *got = !v                   ? "undefined"
                      : json_is_null(v)    ? "null"
                      : json_is_number(v)  ? "number"
                      : json_is_boolean(v) ? "boolean"
                      : json_is_array(v)   ? "array"
                      : json_is_object(v)  ? "object"
                                           : "string";
    return json_pack("{s:s,s:s,s:s,s:[s],s:s}", "code", "invalid_type", "expected", "string",
                     "received", got, "path", field, "message",
                     v ? "Expected string, received " : "Required");
}

/* CreateScheduleOptions / UpdateScheduleOptions: replies 400 and returns
 * false when the body does not fit. */
static bool parse_body(http_ctx *c, json_t *body, bool create, schedule_upsert_opts *o)
{
    static const char *required[] = {"task", "cron", "deduplicationKey"};
    static const char *optional[] = {"externalId", "timezone"};
    json_t *issues = json_array();
    if (!json_is_object(body)) {
        json_array_append_new(issues, json_pack("{s:s,s:s,s:s,s:[],s:s}", "code", "invalid_type",
                                                "expected", "object", "received", "other", "path",
                                                "message", "Expected object"));
    } else {
        for (size_t i = 0; i < (create ? 3u : 2u); i++) {
            json_t *v = json_object_get(body, required[i]);
            if (!json_is_string(v)) {
                json_t *is = issue(required[i], v);
                if (v) {
                    const char *got = json_string_value(json_object_get(is, "received"));
                    json_object_set_new(
                        is, "message",
                        json_string(http_sprintf(c, "Expected string, received %s", got)));
                }
                json_array_append_new(issues, is);
            }
        }
        for (size_t i = 0; i < 2; i++) {
            json_t *v = json_object_get(body, optional[i]);
            if (v && !json_is_string(v)) {
                json_t *is = issue(optional[i], v);
                const char *got = json_string_value(json_object_get(is, "received"));
                json_object_set_new(
                    is, "message",
                    json_string(http_sprintf(c, "Expected string, received %s", got)));
                json_array_append_new(issues, is);
            }
        }
    }
    if (json_array_size(issues)) {
        http_reply_json(c, 400,
                        json_pack("{s:s,s:o}", "error", "Invalid request body", "issues", issues));
        return false;
    }
    json_decref(issues);
    o->task = json_string_value(json_object_get(body, "task"));
    o->cron = json_string_value(json_object_get(body, "cron"));
    o->dedup_key = create ? json_string_value(json_object_get(body, "deduplicationKey")) : NULL;
    o->external_id = json_string_value(json_object_get(body, "externalId"));
    o->timezone = json_string_value(json_object_get(body, "timezone"));
    o->origin = http_origin(c);
    return true;
}

/* A service error of the upsert: 422 with its message, else 500. */
static void reply_upsert_err(http_ctx *c, const err_t *e)
{
    if (e->code == ERR_UNPROCESSABLE || e->code == ERR_INVALID)
        http_reply_error(c, 422, e->msg);
    else
        http_reply_error(c, 500, "Something went wrong, please try again.");
}

void api_schedules_create(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    schedule_upsert_opts o = {0};
    if (!parse_body(c, body, true, &o))
        return;
    store_schedule s;
    err_t e = {0};
    if (engine_schedule_upsert(c->app->en, c->auth.env, &o, c->now, &s, &e) != 0) {
        reply_upsert_err(c, &e);
        return;
    }
    http_reply_json(c, 200, present(c, &s, NEXT_ALWAYS, false));
    store_schedule_clear(&s);
}

void api_schedules_update(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    schedule_upsert_opts o = {0};
    if (!parse_body(c, body, false, &o))
        return;
    o.friendly_id = http_param(c, 0);
    store_schedule s;
    err_t e = {0};
    if (engine_schedule_upsert(c->app->en, c->auth.env, &o, c->now, &s, &e) != 0) {
        reply_upsert_err(c, &e);
        return;
    }
    http_reply_json(c, 200, present(c, &s, NEXT_ALWAYS, false));
    store_schedule_clear(&s);
}

/* page / perPage: z.coerce.number().int().positive() */
static bool positive_int(const char *v, int64_t *out)
{
    if (!v)
        return true;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d < 1 || d != (double)(int64_t)d)
        return false;
    *out = (int64_t)d;
    return true;
}

void api_schedules_list(http_ctx *c)
{
    int64_t page = 1, per_page = 20;
    if (!positive_int(http_query(c, "page"), &page) ||
        !positive_int(http_query(c, "perPage"), &per_page)) {
        http_reply_json(c, 400,
                        json_pack("{s:s,s:[]}", "error", "Invalid request parameters", "issues"));
        return;
    }
    if (per_page > 100)
        per_page = 100;
    store_schedule *v = NULL;
    size_t n = 0;
    int64_t total = 0;
    if (store_schedule_list(c->app->st, c->auth.env->project_id, c->auth.env->id,
                            (page - 1) * per_page, per_page, &v, &n, &total) != 0) {
        http_reply_error(c, 500, "Something went wrong, please try again.");
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(data, present(c, &v[i], NEXT_ALWAYS, true));
        store_schedule_clear(&v[i]);
    }
    free(v);
    http_reply_json(c, 200,
                    json_pack("{s:o,s:{s:I,s:I,s:I}}", "data", data, "pagination", "currentPage",
                              (json_int_t)page, "totalPages",
                              (json_int_t)((total + per_page - 1) / per_page), "count",
                              (json_int_t)total));
}

void api_schedules_retrieve(http_ctx *c)
{
    store_schedule s;
    err_t e = {0};
    if (engine_schedule_get(c->app->en, c->auth.env, http_param(c, 0), &s, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, present(c, &s, NEXT_IF_ACTIVE, false));
    store_schedule_clear(&s);
}

void api_schedules_delete(http_ctx *c)
{
    char fid[64];
    err_t e = {0};
    if (engine_schedule_delete(c->app->en, c->auth.env, http_param(c, 0), fid, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s}", "id", fid));
}

static void set_active(http_ctx *c, bool active)
{
    store_schedule s;
    err_t e = {0};
    if (engine_schedule_set_active(c->app->en, c->auth.env, http_param(c, 0), active, c->now, &s,
                                   &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, present(c, &s, NEXT_IF_ACTIVE, false));
    store_schedule_clear(&s);
}

void api_schedules_activate(http_ctx *c)
{
    set_active(c, true);
}

void api_schedules_deactivate(http_ctx *c)
{
    set_active(c, false);
}

static void add_zone(void *ud, const char *tz)
{
    json_array_append_new(ud, json_string(tz));
}

/* getTimezones(): Intl.supportedValuesOf("timeZone") sorted, UTC first
 * unless excludeUtc=true. No auth. */
void api_timezones(http_ctx *c)
{
    const char *ex = http_query(c, "excludeUtc");
    json_t *arr = json_array();
    if (!(ex && strcmp(ex, "true") == 0))
        json_array_append_new(arr, json_string("UTC"));
    cron_zones_each(add_zone, arr);
    http_reply_json(c, 200, json_pack("{s:o}", "timezones", arr));
}
