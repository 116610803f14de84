/*
 * api/envvars.c - environment variables (spec/api.md 6.6) under
 * /api/v1/projects/{ref}/envvars/{slug}[/{name}], with a secret key of that
 * environment or a personal access token; and the flat list the dev CLI
 * reads, where the built-in variables a task process needs come first.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/* The environment the path names, checked against the caller's key. */
static const store_env *target_env(http_ctx *c)
{
    store_project p = {0};
    if (store_project_get(c->app->st, &p) != 0 || strcmp(p.ref, http_param(c, 0)) != 0) {
        if (c->auth.kind == AUTH_SECRET)
            http_reply_error(c, 400, "Invalid project ref for this API key");
        else
            http_reply_error(c, 404, "Project not found");
        return NULL;
    }
    const char *slug = http_param(c, 1);
    const store_env *env = auth_env_by_slug(c->app->au, slug);
    if (!env) {
        http_reply_error(c, 400, "Invalid environment slug");
        return NULL;
    }
    if (c->auth.kind == AUTH_SECRET && strcmp(env->id, c->auth.env->id) != 0) {
        http_reply_error(c, 400, "Invalid environment slug for this API key");
        return NULL;
    }
    return env;
}

static void add_var(void *ud, const store_env_var *v)
{
    json_array_append_new(ud, json_pack("{s:s,s:s,s:b}", "name", v->name, "value",
                                        v->is_secret ? "<redacted>" : v->value, "isSecret",
                                        v->is_secret));
}

void api_envvars_list(http_ctx *c)
{
    const store_env *env = target_env(c);
    if (!env)
        return;
    json_t *arr = json_array();
    engine_env_var_each(c->app->en, env, add_var, arr);
    http_reply_json(c, 200, arr);
}

typedef struct find_var {
    const char *name;
    json_t *found;
} find_var;

static void match_var(void *ud, const store_env_var *v)
{
    find_var *f = ud;
    if (!f->found && strcmp(v->name, f->name) == 0)
        f->found = json_pack("{s:s,s:s,s:b}", "name", v->name, "value",
                             v->is_secret ? "<redacted>" : v->value, "isSecret", v->is_secret);
}

void api_envvars_get(http_ctx *c)
{
    const store_env *env = target_env(c);
    if (!env)
        return;
    find_var f = {http_param(c, 2), NULL};
    engine_env_var_each(c->app->en, env, match_var, &f);
    if (!f.found)
        http_reply_error(c, 404, "Environment variable not found");
    else
        http_reply_json(c, 200, f.found);
}

static void reply_result(http_ctx *c, int rc, const err_t *e)
{
    if (rc && e->code == ERR_INVALID)
        http_reply_json(
            c, 400,
            json_pack("{s:s,s:[{s:s}]}", "error", e->msg, "variableErrors", "message", e->msg));
    else if (rc)
        http_reply_err(c, e);
    else
        http_reply_json(c, 200, json_pack("{s:b}", "success", 1));
}

void api_envvars_create(http_ctx *c)
{
    const store_env *env = target_env(c);
    json_t *body = env ? http_json(c) : NULL;
    if (!body)
        return;
    json_t *name = json_object_get(body, "name"), *value = json_object_get(body, "value");
    if (!json_is_string(name) || !json_is_string(value)) {
        http_reply_json(c, 400,
                        json_pack("{s:s,s:[]}", "error", "Invalid request body", "variableErrors"));
        return;
    }
    err_t e = {0};
    int rc = engine_env_var_set(c->app->en, env, json_string_value(name), json_string_value(value),
                                json_is_true(json_object_get(body, "isSecret")), false, &e);
    reply_result(c, rc, &e);
}

void api_envvars_update(http_ctx *c)
{
    const store_env *env = target_env(c);
    json_t *body = env ? http_json(c) : NULL;
    if (!body)
        return;
    json_t *value = json_object_get(body, "value");
    find_var f = {http_param(c, 2), NULL};
    engine_env_var_each(c->app->en, env, match_var, &f);
    if (!f.found) {
        http_reply_error(c, 404, "Environment variable not found");
        return;
    }
    bool secret = json_is_true(json_object_get(f.found, "isSecret"));
    json_decref(f.found);
    if (!json_is_string(value)) {
        http_reply_error(c, 400, "Invalid request body");
        return;
    }
    err_t e = {0};
    int rc = engine_env_var_set(c->app->en, env, http_param(c, 2), json_string_value(value), secret,
                                false, &e);
    reply_result(c, rc, &e);
}

void api_envvars_delete(http_ctx *c)
{
    const store_env *env = target_env(c);
    if (!env)
        return;
    err_t e = {0};
    int rc = engine_env_var_delete(c->app->en, env, http_param(c, 2), &e);
    reply_result(c, rc, &e);
}

void api_envvars_import(http_ctx *c)
{
    const store_env *env = target_env(c);
    json_t *body = env ? http_json(c) : NULL;
    if (!body)
        return;
    json_t *vars = json_object_get(body, "variables");
    if (!json_is_object(vars)) {
        http_reply_error(c, 400, "Invalid body");
        return;
    }
    bool override = json_is_true(json_object_get(body, "override"));
    bool secret = json_is_true(json_object_get(body, "isSecret"));
    const char *k;
    json_t *v;
    err_t e = {0};
    int rc = 0;
    json_object_foreach(vars, k, v)
    {
        if (!json_is_string(v)) {
            http_reply_error(c, 400, "Invalid body");
            return;
        }
        if ((rc = engine_env_var_set(c->app->en, env, k, json_string_value(v), secret, !override,
                                     &e)))
            break;
    }
    reply_result(c, rc, &e);
}

static void add_flat(void *ud, const store_env_var *v)
{
    json_object_set_new(ud, engine_env_var_run_name(v->name), json_string(v->value));
}

/* GET /api/v1/projects/{ref}/envvars: the dev CLI's {variables: {...}}. */
void api_envvars_all(http_ctx *c)
{
    store_project p = {0};
    if (store_project_get(c->app->st, &p) != 0 || strcmp(p.ref, http_param(c, 0)) != 0) {
        http_reply_error(c, 404, "Project not found");
        return;
    }
    const char *o = http_origin(c);
    const char *otel = http_sprintf(c, "%s/otel", o);
    json_t *vars = json_object();
    engine_env_var_each(c->app->en, c->auth.env, add_flat, vars);
    /* the OTLP endpoint matters most: without it every run log is lost */
    json_t *builtin = json_pack("{s:s,s:s,s:s,s:s,s:s}", "TRIGGER_OTEL_EXPORTER_OTLP_ENDPOINT",
                                otel, "OTEL_EXPORTER_OTLP_ENDPOINT", otel, "TRIGGER_API_URL", o,
                                "TRIGGER_STREAM_URL", o, "TRIGGER_REALTIME_STREAM_VERSION", "v1");
    json_object_update(vars, builtin);
    json_decref(builtin);
    http_reply_json(c, 200, json_pack("{s:o}", "variables", vars));
}
