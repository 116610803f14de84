/*
 * api/schedules.c - schedules ([25]-[32], spec/api.md section 6.5): create
 * (an upsert by deduplicationKey), list (offset pages), retrieve, update,
 * delete, activate, deactivate, and the time zone list. Shapes follow the
 * real routes of v4.5 (apps/webapp/app/routes/api.v1.schedules*.ts),
 * including which of them omit nextRun for an inactive schedule.
 */
#include <ctype.h>
#include <math.h>
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

/* JS Number(text), as z.coerce.number() calls it: surrounding white space
 * ignored, "" is 0, decimal with an exponent, 0x/0o/0b integers,
 * Infinity; anything else NaN. */
static double js_number(const char *v)
{
    while (isspace((unsigned char)*v))
        v++;
    size_t n = strlen(v);
    while (n && isspace((unsigned char)v[n - 1]))
        n--;
    char buf[64];
    if (n >= sizeof buf)
        return NAN;
    memcpy(buf, v, n);
    buf[n] = 0;
    if (!n)
        return 0;
    if (n > 2 && buf[0] == '0' && strchr("xXoObB", buf[1])) {
        int base = tolower((unsigned char)buf[1]) == 'x' ? 16 : tolower((unsigned char)buf[1]) == 'o' ? 8 : 2;
        double d = 0;
        for (const char *p = buf + 2; *p; p++) {
            int dg = isdigit((unsigned char)*p) ? *p - '0'
                     : isxdigit((unsigned char)*p) ? tolower((unsigned char)*p) - 'a' + 10
                                                   : 99;
            if (dg >= base)
                return NAN;
            d = d * base + dg;
        }
        return d;
    }
    const char *p = buf;
    bool neg = *p == '-';
    if (*p == '+' || *p == '-')
        p++;
    if (strcmp(p, "Infinity") == 0)
        return neg ? -INFINITY : INFINITY;
    /* digits [. digits] [e [sign] digits], at least one digit before the e */
    const char *q = p;
    size_t digits = 0;
    while (isdigit((unsigned char)*q))
        q++, digits++;
    if (*q == '.')
        for (q++; isdigit((unsigned char)*q); q++)
            digits++;
    if (!digits)
        return NAN;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!isdigit((unsigned char)*q))
            return NAN;
        while (isdigit((unsigned char)*q))
            q++;
    }
    if (*q)
        return NAN;
    return strtod(buf, NULL);
}

/* page / perPage: z.coerce.number().int().positive().optional(), with
 * zod's issues appended to issues (the route's 400 lists them). */
static void positive_int(const char *name, const char *v, double *out, json_t *issues)
{
    if (!v)
        return;
    double d = js_number(v);
    if (isnan(d)) {
        json_array_append_new(issues, json_pack("{s:s,s:s,s:s,s:[s],s:s}", "code", "invalid_type",
                                                "expected", "number", "received", "nan", "path",
                                                name, "message", "Expected number, received nan"));
        return;
    }
    if (!isfinite(d) || d != floor(d))
        json_array_append_new(issues,
                              json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "code", "invalid_type",
                                        "expected", "integer", "received", "float", "message",
                                        "Expected integer, received float", "path", name));
    if (!(d > 0))
        json_array_append_new(
            issues, json_pack("{s:s,s:i,s:s,s:b,s:b,s:s,s:[s]}", "code", "too_small", "minimum", 0,
                              "type", "number", "inclusive", 0, "exact", 0, "message",
                              "Number must be greater than 0", "path", name));
    *out = d;
}

/* a page number as JSON: an integer, or a double past int64's exact range */
static json_t *json_page(double d)
{
    return d < 9007199254740992.0 ? json_integer((json_int_t)d) : json_real(d);
}

static void reply_list(http_ctx *c, json_t *data, double page, int64_t total_pages, int64_t count)
{
    http_reply_json(c, 200,
                    json_pack("{s:o,s:{s:o,s:I,s:I}}", "data", data, "pagination", "currentPage",
                              json_page(page), "totalPages", (json_int_t)total_pages, "count",
                              (json_int_t)count));
}

void api_schedules_list(http_ctx *c)
{
    double page = 1, per = 20;
    json_t *issues = json_array();
    positive_int("page", http_query(c, "page"), &page, issues);
    positive_int("perPage", http_query(c, "perPage"), &per, issues);
    if (json_array_size(issues)) {
        http_reply_json(c, 400, json_pack("{s:s,s:o}", "error", "Invalid request parameters",
                                          "issues", issues));
        return;
    }
    json_decref(issues);
    int64_t per_page = per > 100 ? 100 : (int64_t)per;
    /* ScheduleListPresenter: an environment without a current worker lists
     * nothing, on one page, whatever its schedules */
    store_worker w = {0};
    int rc = store_worker_latest(c->app->st, c->auth.env->id, &w);
    store_worker_clear(&w);
    if (rc == ERR_NOT_FOUND) {
        reply_list(c, json_array(), 1, 1, 0);
        return;
    }
    store_schedule *v = NULL;
    size_t n = 0;
    int64_t total = 0;
    /* a page past any possible row reads nothing (and keeps the offset in
     * range) */
    double offset = (page - 1) * (double)per_page;
    if (rc == 0 && offset < 1e15)
        rc = store_schedule_list(c->app->st, c->auth.env->project_id, c->auth.env->id,
                                 (int64_t)offset, per_page, &v, &n, &total);
    else if (rc == 0)
        rc = store_schedule_list(c->app->st, c->auth.env->project_id, c->auth.env->id, 0, 0, &v,
                                 &n, &total);
    if (rc != 0) {
        http_reply_error(c, 500, "Something went wrong, please try again.");
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(data, present(c, &v[i], NEXT_ALWAYS, true));
        store_schedule_clear(&v[i]);
    }
    free(v);
    reply_list(c, data, page, (total + per_page - 1) / per_page, total);
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
