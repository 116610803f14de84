/*
 * dash/runs.c - run endpoints of the dashboard that the public API lacks:
 * bulk cancel / replay of every run matching the Runs page's filter (an
 * engine bulk action, engine/bulk.h: the server walks the set, not the
 * browser) and its progress, and the keys of a run's realtime output
 * streams (the page reads each through the public stream route).
 */
#include <string.h>

#include "api/api.h"
#include "dash/dash.h"
#include "engine/bulk.h"
#include "util/timefmt.h"

static json_t *bulk_json(const engine_bulk_status *s)
{
    char at[32], fin[32];
    time_format_iso(s->created_at, at);
    if (s->finished_at)
        time_format_iso(s->finished_at, fin);
    return json_pack("{s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:s,s:s?}", "id", s->id, "action",
                     s->action == ENGINE_BULK_CANCEL ? "cancel" : "replay", "done", s->done,
                     "matched", (json_int_t)s->matched, "succeeded", (json_int_t)s->succeeded,
                     "skipped", (json_int_t)s->skipped, "failed", (json_int_t)s->failed,
                     "createdAt", at, "finishedAt", s->finished_at ? fin : NULL);
}

/* POST /dashboard/api/env/{env}/bulk?filter[...]=... {"action":"cancel"|"replay"} */
void dash_bulk_start(http_ctx *c)
{
    if (!dash_guard(c))
        return;
    const store_env *env = dash_env(c, 0);
    if (!env)
        return;
    json_t *body = http_json(c);
    if (!body)
        return;
    const char *a = json_string_value(json_object_get(body, "action"));
    engine_bulk_action action;
    if (a && !strcmp(a, "cancel"))
        action = ENGINE_BULK_CANCEL;
    else if (a && !strcmp(a, "replay"))
        action = ENGINE_BULK_REPLAY;
    else {
        http_reply_error(c, 400, "action must be cancel or replay");
        return;
    }
    store_run_filter f;
    if (!api_runs_filter(c, &f))
        return;
    char id[40];
    err_t e = {0};
    if (engine_bulk_start(c->app->en, env, &f, action, c->now, id, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    engine_bulk_status s;
    engine_bulk_get(c->app->en, env, id, &s);
    http_reply_json(c, 202, bulk_json(&s));
}

/* GET /dashboard/api/env/{env}/bulk/{id} */
void dash_bulk_get(http_ctx *c)
{
    if (!dash_guard(c))
        return;
    const store_env *env = dash_env(c, 0);
    if (!env)
        return;
    engine_bulk_status s;
    if (engine_bulk_get(c->app->en, env, http_param(c, 1), &s) != 0) {
        http_reply_error(c, 404, "No such bulk action");
        return;
    }
    http_add_header(c, "cache-control", "no-store");
    http_reply_json(c, 200, bulk_json(&s));
}

/* GET /dashboard/api/env/{env}/runs/{runId}/streams: the keys of the run's
 * output streams, in the order they were created. */
void dash_run_streams(http_ctx *c)
{
    if (!dash_guard(c))
        return;
    const store_env *env = dash_env(c, 0);
    if (!env)
        return;
    store_run r = {0};
    err_t e = {0};
    if (engine_run_get(c->app->en, env, http_param(c, 1), &r, &e) != 0) {
        http_reply_error(c, 404, "Not found");
        return;
    }
    json_t *keys = jsontext_loads(r.realtime_streams ? r.realtime_streams : "[]", 0, NULL);
    if (!json_is_array(keys)) {
        json_decref(keys);
        keys = json_array();
    }
    store_run_clear(&r);
    http_add_header(c, "cache-control", "no-store");
    http_reply_json(c, 200, json_pack("{s:o}", "data", keys));
}
