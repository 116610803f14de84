/*
 * dash/routes.c - the dashboard's routes: the page, its embedded assets,
 * and the data endpoints. /dashboard/api/env/{env}/<public API path> runs
 * the public API's own handler for that path (api/api.c's table) as the
 * environment's secret key would: the dashboard reads and writes through
 * the same engine functions as the SDK, with no query of its own. The few
 * endpoints the public API lacks (the session, keys, tasks, live changes)
 * are here and stay as thin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/login.h"
#include "dash/assets.h"
#include "dash/dash.h"
#include "http/router.h"
#include "util/timefmt.h"

#define NOAUTH ROUTE_NOAUTH
#define EXEMPT ROUTE_RL_EXEMPT

static const char *const env_slugs[] = {"dev", "stg", "prod"};

const store_env *dash_env(http_ctx *c, size_t i)
{
    const char *slug = http_param(c, i);
    const store_env *env = slug ? auth_env_by_slug(c->app->au, slug) : NULL;
    if (!env)
        http_reply_error(c, 404, "No such environment");
    return env;
}

static const dash_asset *asset(const char *name)
{
    for (size_t i = 0; i < dash_assets_count; i++)
        if (!strcmp(dash_assets[i].name, name))
            return &dash_assets[i];
    return NULL;
}

static void serve_asset(http_ctx *c, const dash_asset *a, const char *cache)
{
    http_add_header(c, "etag", a->etag);
    http_add_header(c, "cache-control", cache);
    http_add_header(c, "x-content-type-options", "nosniff");
    const char *inm = http_header(c, "if-none-match");
    if (inm && !strcmp(inm, a->etag)) {
        http_reply_raw(c, 304, NULL, "", 0);
        return;
    }
    http_reply_raw(c, 200, a->type, a->data, a->len);
}

/* GET /: the page, or the login when there is no session. */
static void index_page(http_ctx *c)
{
    if (!dash_session(c)) {
        http_add_header(c, "location", "/login");
        http_add_header(c, "cache-control", "no-store");
        http_reply_raw(c, 302, "text/plain; charset=utf-8", "", 0);
        return;
    }
    http_add_header(c, "x-frame-options", "DENY");
    http_add_header(c, "content-security-policy",
                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    serve_asset(c, asset("index.html"), "no-store");
}

static void redirect(http_ctx *c, const char *to)
{
    http_add_header(c, "location", to);
    http_add_header(c, "cache-control", "no-store");
    http_reply_raw(c, 302, "text/plain; charset=utf-8", "", 0);
}

/* The platform's dashboard URLs the CLI prints (dashboardUrl is our
 * origin): /projects/v3/{ref}[/runs[/{runId}]][?envSlug=] lead to the
 * page that shows the same thing; anything else there to the runs. */
static void cli_link(http_ctx *c)
{
    if (!dash_session(c)) {
        redirect(c, "/login");
        return;
    }
    const char *rest = c->n_params > 1 ? http_param(c, 1) : "";
    const char *slug = http_query(c, "envSlug");
    if (!slug || !auth_env_by_slug(c->app->au, slug))
        slug = "dev";
    const char *run = strncmp(rest, "runs/", 5) == 0 ? rest + 5 : NULL;
    if (run && *run && !strchr(run, '/')) {
        store_run r = {0};
        if (store_run_get(c->app->st, NULL, run, &r) == 0) {
            const store_env *e = auth_env_by_id(c->app->au, r.env_id);
            if (e)
                slug = e->slug;
            store_run_clear(&r);
            redirect(c, http_sprintf(c, "/#/%s/run/%s", slug, run));
            return;
        }
    }
    redirect(c, http_sprintf(c, "/#/%s/runs", slug));
}

/* GET /dashboard/assets/{name}: code and styles (no data; the login page
 * needs the styles). */
static void assets_get(http_ctx *c)
{
    const dash_asset *a = asset(http_param(c, 0));
    if (!a || !strcmp(a->name, "index.html")) {
        http_reply_error(c, 404, "Not found");
        return;
    }
    serve_asset(c, a, "no-cache");
}

/* True when this build's public API has method+path (features other
 * branches add: the page leaves out what is not there). */
static bool has_route(http_ctx *c, const char *method, const char *path)
{
    const http_route *rt;
    const char *params[HTTP_MAX_PARAMS];
    size_t np;
    return router_match(api_routes, api_routes_count, &c->req->pool, method, strlen(method), path,
                        strlen(path), &rt, params, &np, NULL, 0) == ROUTER_MATCH;
}

/* GET /dashboard/api/session: what the page needs to start. */
static void session_get(http_ctx *c)
{
    if (!dash_guard(c))
        return;
    store_project p = {0};
    store_project_get(c->app->st, &p);
    json_t *envs = json_array();
    for (size_t i = 0; i < 3; i++) {
        const store_env *e = auth_env_by_slug(c->app->au, env_slugs[i]);
        if (e)
            json_array_append_new(
                envs, json_pack("{s:s,s:s,s:s}", "slug", e->slug, "type", e->type, "id", e->id));
    }
    http_add_header(c, "cache-control", "no-store");
    http_reply_json(c, 200,
                    json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:b,s:b,s:b}}", "csrf", dash_session(c),
                              "project", "ref", p.ref, "name", p.name, "org", p.org_title, "envs",
                              envs, "features", "queues", has_route(c, "GET", "/api/v1/queues"),
                              "trace", has_route(c, "GET", "/api/v1/runs/x/trace"), "deployments",
                              has_route(c, "GET", "/api/v1/deployments")));
}

/* GET /dashboard/api/keys: every environment's secret key (the PAT that
 * logged in can read them from the public API too). */
static void keys_get(http_ctx *c)
{
    if (!dash_guard(c))
        return;
    json_t *arr = json_array();
    for (size_t i = 0; i < 3; i++) {
        const store_env *e = auth_env_by_slug(c->app->au, env_slugs[i]);
        if (e)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "slug", e->slug, "type", e->type,
                                                 "apiKey", auth_env_key(e)));
    }
    http_add_header(c, "cache-control", "no-store");
    http_reply_json(c, 200, json_pack("{s:o}", "data", arr));
}

/* POST /dashboard/api/env/{env}/rotate-key: as `triggerd rotate-key`. */
static void key_rotate(http_ctx *c)
{
    if (!dash_guard(c))
        return;
    const store_env *env = dash_env(c, 0);
    if (!env)
        return;
    char key[64];
    int rc = auth_rotate(c->app->au, env->id, c->now, c->app->cfg.key_grace_ms, key);
    if (rc) {
        http_reply_error(c, 500, "Rotation failed");
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s,s:s}", "slug", env->slug, "apiKey", key));
}

/* GET /dashboard/api/env/{env}/tasks: the tasks of the current worker. */
static void tasks_get(http_ctx *c)
{
    if (!dash_guard(c))
        return;
    const store_env *env = dash_env(c, 0);
    if (!env)
        return;
    store_worker w = {0};
    int rc = store_worker_latest(c->app->st, env->id, &w);
    if (rc == ERR_NOT_FOUND) {
        http_reply_json(c, 200, json_pack("{s:n,s:[]}", "worker", "data"));
        return;
    }
    if (rc) {
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    json_t *tasks = jsontext_loads(w.tasks ? w.tasks : "[]", 0, NULL);
    if (!json_is_array(tasks)) {
        json_decref(tasks);
        tasks = json_array();
    }
    char at[32];
    time_format_iso(w.created_at, at);
    http_reply_json(c, 200,
                    json_pack("{s:{s:s,s:s,s:s},s:o}", "worker", "id", w.friendly_id, "version",
                              w.version ? w.version : "", "createdAt", at, "data", tasks));
    store_worker_clear(&w);
}

static json_t *iso_or_null(int64_t ms)
{
    if (!ms)
        return json_null();
    char at[32];
    time_format_iso(ms, at);
    return json_string(at);
}

/* GET /dashboard/api/env/{env}/runs/{runId}/waitpoints: what the run waits
 * on (the public API has no route for it). */
static void run_waitpoints(http_ctx *c)
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
    char **ids = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (store_run_blockers(c->app->st, r.friendly_id, &ids, &n) != 0) {
        json_decref(arr);
        store_run_clear(&r);
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        store_waitpoint w = {0};
        if (engine_waitpoint_get(c->app->en, env, ids[i], &w, &e) == 0)
            json_array_append_new(
                arr, json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:s?,s:s?,s:s?}", "id", w.friendly_id,
                               "type", w.type, "status", w.status, "createdAt",
                               iso_or_null(w.created_at), "timeoutAt", iso_or_null(w.timeout_at),
                               "completedAfter", iso_or_null(w.completed_after), "completedByRun",
                               w.completed_by_run, "batchId", w.batch_id, "idempotencyKey",
                               w.user_idempotency_key ? w.idempotency_key : NULL));
        store_waitpoint_clear(&w);
        free(ids[i]);
    }
    free(ids);
    store_run_clear(&r);
    http_reply_json(c, 200, json_pack("{s:o}", "data", arr));
}

/* /dashboard/api/env/{env}/{path}: the public API's handler for /{path},
 * authenticated as the environment's secret key. Only routes a secret key
 * may call are reachable; CORS headers are dropped (the dashboard is one
 * origin). */
static void forward(http_ctx *c)
{
    if (!dash_guard(c))
        return;
    const store_env *env = dash_env(c, 0);
    if (!env)
        return;
    h2o_req_t *r = c->req;
    size_t plen = r->query_at != SIZE_MAX ? r->query_at : r->path.len;
    const char *p = r->path.base, *end = p + plen;
    const char *rest = p + strlen("/dashboard/api/env/");
    rest = memchr(rest, '/', (size_t)(end - rest));
    if (!rest) {
        http_reply_error(c, 404, "Not found");
        return;
    }
    const http_route *rt = NULL;
    const char *params[HTTP_MAX_PARAMS];
    size_t np = 0;
    router_result m =
        router_match(api_routes, api_routes_count, &r->pool, r->method.base, r->method.len, rest,
                     (size_t)(end - rest), &rt, params, &np, NULL, 0);
    if (m != ROUTER_MATCH || !(rt->flags & ROUTE_SECRET)) {
        http_reply_error(c, m == ROUTER_NO_METHOD ? 405 : 404,
                         m == ROUTER_NO_METHOD ? "Method not allowed" : "Not found");
        return;
    }
    if (rt->max_body && http_body(c).len > rt->max_body) {
        http_reply_error(c, 413, "Request body too large");
        return;
    }
    http_route *copy = h2o_mem_alloc_pool(&r->pool, sizeof *copy);
    *copy = *rt;
    copy->flags &= ~(unsigned)ROUTE_CORS;
    c->route = copy;
    memcpy(c->params, params, np * sizeof *params);
    c->n_params = np;
    c->auth.kind = AUTH_SECRET;
    c->auth.env = env;
    http_add_header(c, "cache-control", "no-store");
    copy->fn(c);
}

#define FWD(method)                                                                                \
    {                                                                                              \
        method, "/dashboard/api/env/:env/*", forward, NOAUTH | EXEMPT | ROUTE_CHUNKED, 0           \
    }

const http_route dash_routes[] = {
    {"GET", "/", index_page, NOAUTH, 0},
    {"GET", "/login", dash_login_page, NOAUTH, 0},
    {"POST", "/login", dash_login, NOAUTH, 4 * 1024},
    {"POST", "/logout", dash_logout, NOAUTH, 1024},
    {"GET", "/dashboard/assets/:name", assets_get, NOAUTH, 0},
    {"GET", "/projects/v3/:ref", cli_link, NOAUTH, 0},
    {"GET", "/projects/v3/:ref/*", cli_link, NOAUTH, 0},
    {"GET", "/dashboard/api/session", session_get, NOAUTH, 0},
    {"GET", "/dashboard/api/keys", keys_get, NOAUTH, 0},
    {"POST", "/dashboard/api/env/:env/rotate-key", key_rotate, NOAUTH, 1024},
    {"GET", "/dashboard/api/env/:env/tasks", tasks_get, NOAUTH, 0},
    {"GET", "/dashboard/api/env/:env/live", dash_live, NOAUTH | EXEMPT, 0},
    {"GET", "/dashboard/api/env/:env/runs/:runId/waitpoints", run_waitpoints, NOAUTH, 0},
    {"GET", "/dashboard/api/env/:env/runs/:runId/streams", dash_run_streams, NOAUTH, 0},
    {"POST", "/dashboard/api/env/:env/bulk", dash_bulk_start, NOAUTH, 4 * 1024},
    {"GET", "/dashboard/api/env/:env/bulk/:id", dash_bulk_get, NOAUTH, 0},
    FWD("GET"),
    FWD("POST"),
    FWD("PUT"),
    FWD("PATCH"),
    FWD("DELETE"),
};

const size_t dash_routes_count = sizeof(dash_routes) / sizeof(dash_routes[0]);
